#!/usr/bin/env bash
# allow_ip / deny_ip (first match in the order written; allow_ip present = everyone else is
# refused), 403 when refused, IPv4 clients matched as 127.0.0.1 and 127.0.0.2 (two loopback
# sources), and trusted_proxies with real_ip_header: the client a trusted proxy names in
# X-Forwarded-For or Forwarded is what the IP rules match, what the access log shows and what
# PHP sees as REMOTE_ADDR; an untrusted peer's header is ignored. Malformed values are
# config errors with FILE:LINE.
. "$(dirname "$0")/lib.sh"

unset REMOTE_ADDR 2>/dev/null
mkdir -p "$T/www/admin" "$T/www/pub"
printf 'admin\n' >"$T/www/admin/a.txt"
printf 'public\n' >"$T/www/pub/p.txt"
printf 'backup\n' >"$T/www/pub/x.bak"
printf 'status\n' >"$T/www/status"
printf '<?php echo $_SERVER["REMOTE_ADDR"];\n' >"$T/www/ip.php"
start_fpm ip "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/ip.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
access_log = $T/access.log
deny_ip = /admin 127.0.0.2
allow_ip = /admin 127.0.0.0/8 ::1
deny_ip = *.bak ::/0
allow_ip = =/status 10.9.9.9
INI
start_wharf_ini "$T/ip.ini"
from2() { curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$@"; }
curl -s -o /dev/null --interface 127.0.0.2 --max-time 5 "$(URL /pub/p.txt)" ||
    bail "cannot connect from 127.0.0.2"

is "$(status /admin/a.txt)" 200 "allow_ip: 127.0.0.1 is in 127.0.0.0/8"
is "$(from2 "$(URL /admin/a.txt)")" 403 "deny_ip written before the allow_ip wins for 127.0.0.2"
is "$(from2 "$(URL /pub/p.txt)")" 200 "127.0.0.2 reaches paths without rules"
is "$(status /pub/x.bak)" 403 "deny_ip glob with ::/0 refuses an IPv4 client"
is "$(status /pub/p.txt)" 200 "... only the glob's paths"
is "$(status /status)" 403 "allow_ip present: a client not listed is refused"
is "$(status /%61dmin/a.txt)" 200 "rules match the decoded path (allowed client)"
is "$(from2 "$(URL /%61dmin/a.txt)")" 403 "rules match the decoded path (refused client)"
is "$(from2 --path-as-is "$(URL /pub/../admin/a.txt)")" 403 "... and the dot-resolved path"
is "$(body /ip.php)" "127.0.0.1" "REMOTE_ADDR without trusted_proxies: the socket's"
is "$(body /ip.php -H 'X-Forwarded-For: 203.0.113.7')" "127.0.0.1" \
    "X-Forwarded-For is ignored without trusted_proxies"

# ---- behind a trusted proxy ------------------------------------------------------------------
stop_pid "$WPID"
PORT=$(free_port)
cat >"$T/proxy.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
access_log = $T/access2.log
trusted_proxies = 127.0.0.1
allow_ip = /admin 198.51.100.0/24
INI
start_wharf_ini "$T/proxy.ini"
xff() { curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: $1" "$(URL "$2")"; }
is "$(xff 198.51.100.9 /admin/a.txt)" 200 "the client named by the trusted proxy is allowed"
is "$(xff 203.0.113.1 /admin/a.txt)" 403 "another named client is refused"
is "$(xff '198.51.100.9, 203.0.113.1' /admin/a.txt)" 403 \
    "the rightmost untrusted hop counts, not a spoofed leftmost one"
is "$(status /admin/a.txt)" 403 "no header: the proxy itself, not allowed"
is "$(from2 -H 'X-Forwarded-For: 198.51.100.9' "$(URL /admin/a.txt)")" 403 \
    "an untrusted peer (127.0.0.2) cannot claim an address"
is "$(body /ip.php -H 'X-Forwarded-For: 203.0.113.7')" "203.0.113.7" "REMOTE_ADDR is the real client"
is "$(body /ip.php -H 'X-Forwarded-For: 2001:db8::7, 127.0.0.1')" "2001:db8::7" \
    "an IPv6 client behind two trusted hops"
is "$(curl -s --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.7' "$(URL /ip.php)")" \
    "127.0.0.2" "an untrusted peer's REMOTE_ADDR is its own"
curl -s -o /dev/null -H 'X-Forwarded-For: 192.0.2.44' "$(URL /pub/p.txt)"
ok "$(wait_grep "$T/access2.log" '^192\.0\.2\.44 .*"GET /pub/p.txt'; echo $?)" \
    "the access log shows the real client"

stop_pid "$WPID"
PORT=$(free_port)
cat >"$T/fwd.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
trusted_proxies = 127.0.0.0/8
real_ip_header = Forwarded
INI
start_wharf_ini "$T/fwd.ini"
is "$(body /ip.php -H 'Forwarded: for="[2001:db8:cafe::17]:4711";proto=https')" "2001:db8:cafe::17" \
    "real_ip_header = Forwarded: RFC 7239 for= with a quoted IPv6 and port"
is "$(body /ip.php -H 'Forwarded: for=192.0.2.60' -H 'Forwarded: for=127.0.0.9')" "192.0.2.60" \
    "several Forwarded lines are one list; trusted hops are skipped"
is "$(body /ip.php -H 'X-Forwarded-For: 203.0.113.7')" "127.0.0.1" \
    "with Forwarded chosen, X-Forwarded-For is ignored"

# ---- config errors ----------------------------------------------------------------------------
cat >"$T/bad.ini" <<INI
[site a]
root = $T/www
allow_ip = /admin 10.0.0.0/33
deny_ip = admin 10.0.0.1
allow_ip = /admin
trusted_proxies = 10.1.2.3/8
real_ip_header = X-Real-IP
deny_ip = /x 10.1
INI
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: allow_ip: expected an IPv4 prefix length of 0 to 32, got '10.0.0.0/33'" \
    "a prefix too long is a config error with its line"
like "$out" "bad.ini:4: deny_ip: expected .*, got 'admin'" "a path that is not a pattern"
like "$out" "bad.ini:5: allow_ip: expected .*at least one address" "a rule without addresses"
like "$out" "bad.ini:6: trusted_proxies: expected a network address without host bits" \
    "host bits set in a block"
like "$out" "bad.ini:7: real_ip_header: expected X-Forwarded-For or Forwarded, got 'X-Real-IP'" \
    "an unknown real_ip_header"
like "$out" "bad.ini:8: deny_ip: expected an IPv4 or IPv6 address" "a short IPv4 address"

# ---- a dual-stack listener: an IPv4 client is written as IPv4 --------------------------------
printf '<?php echo $_SERVER["REMOTE_ADDR"], " ", $_SERVER["SERVER_ADDR"];\n' >"$T/www/addrs.php"
PORT=$(free_port)
cat >"$T/dual.ini" <<INI
[server]
listen = :$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
access_log = $T/dual.log
INI
start_wharf_ini "$T/dual.ini"
is "$(body /addrs.php)" "127.0.0.1 127.0.0.1" \
    "dual-stack listener: REMOTE_ADDR and SERVER_ADDR of an IPv4 client are dotted quads (were ::ffff:127.0.0.1)"
wait_until 5000 grep -q "addrs.php" "$T/dual.log"
is "$(grep -m1 addrs.php "$T/dual.log" | cut -d' ' -f1)" "127.0.0.1" "... and so is the access log's client"
stop_pid "$WPID"
finish
