#!/usr/bin/env bash
# limit_req = PATH RATE [burst=N]: a flood on /wp-login.php from one client gets burst+1
# answers, then 429 with Retry-After, counted in wharf_rate_limited_total{site}; other paths
# of the same client and the same path from another client (127.0.0.2, or another address
# named by a trusted proxy) are not limited; the count is exact across worker threads and
# over concurrent connections. Malformed values are config errors with FILE:LINE.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www"
printf '<?php echo "login";\n' >"$T/www/wp-login.php"
printf 'home\n' >"$T/www/index.html"
start_fpm rate "$T/fpm.sock"
PORT=$(free_port)
APORT=$(free_port)
# 2r/m: one token per 30 s, so no token comes back while the test runs, however slow the
# machine: exactly burst+1 = 3 requests of a flood are answered
cat >"$T/rate.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
admin_listen = 127.0.0.1:$APORT
workers = 2
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
limit_req = =/wp-login.php 2r/m burst=2
INI
start_wharf_ini "$T/rate.ini"
A="http://127.0.0.1:$APORT"
codes() { # codes N URL [curl args]: the N statuses, one per line, over separate connections
    local n=$1 u=$2 i
    shift 2
    for ((i = 0; i < n; i++)); do
        curl -s -o /dev/null -w '%{http_code}\n' "$@" "$u"
    done
}
count() { grep -c "^$1\$" || true; } # count CODE < statuses
metric() { curl -s "$A/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

is "$(metric 'wharf_rate_limited_total{site="a"}')" 0 "the counter exists at 0"
out=$(codes 10 "$(URL /wp-login.php)")
is "$(count 200 <<<"$out")" 3 "a flood of 10: burst+1 = 3 answered"
is "$(count 429 <<<"$out")" 7 "... and 7 refused with 429"
h=$(headers /wp-login.php)
like "$h" '^HTTP/1.1 429' "still limited"
ra=$(header_value Retry-After <<<"$h")
ok "$([ "${ra:-0}" -ge 1 ] && [ "${ra:-0}" -le 30 ]; echo $?)" "Retry-After is 1..30 s (got '$ra')"
is "$(status /index.html)" 200 "another path of the same client is not limited"
is "$(status /wp-login.php?x=1)" 429 "the query does not make another path"
out=$(codes 3 "$(URL /wp-login.php)" --interface 127.0.0.2)
is "$(count 200 <<<"$out")" 3 "another client (127.0.0.2) has its own bucket"
is "$(metric 'wharf_rate_limited_total{site="a"}')" 9 "wharf_rate_limited_total counts every 429"

# exact across workers and concurrent connections: 40 requests at once from a fresh client
out=$(for i in $(seq 8); do codes 5 "$(URL /wp-login.php)" -H 'Connection: close' \
    --interface 127.0.0.3 & done; wait)
is "$(count 200 <<<"$out")" 3 "40 concurrent requests over 2 workers: exactly 3 answered"
is "$(count 429 <<<"$out")" 37 "... 37 refused"

# behind a trusted proxy: each forwarded client has its own bucket
stop_pid "$WPID"
PORT=$(free_port)
cat >"$T/proxy.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
trusted_proxies = 127.0.0.1
limit_req = /wp-login.php 2r/m
INI
start_wharf_ini "$T/proxy.ini"
out=$(codes 3 "$(URL /wp-login.php)" -H 'X-Forwarded-For: 198.51.100.1')
is "$(tr '\n' ' ' <<<"$out")" "200 429 429 " "no burst: one, then 429"
out=$(codes 2 "$(URL /wp-login.php)" -H 'X-Forwarded-For: 198.51.100.2')
is "$(tr '\n' ' ' <<<"$out")" "200 429 " "another forwarded client: its own bucket"

# a reload keeps the buckets of an unchanged rule, and starts a changed one afresh
reloads() { grep -c 'configuration reloaded' "$T/wharf.err"; }
hup() {
    local want=$(($(reloads) + 1))
    kill -HUP "$WPID"
    wait_until 20000 eval '[ $(reloads) -ge '"$want"' ]'
}
printf 'index = index.html\n' >>"$T/proxy.ini"
hup
ok $? "reloaded with the rule unchanged"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 198.51.100.1' "$(URL /wp-login.php)")" \
    429 "after the reload the client is still limited (the bucket was kept)"
sed -i 's|^limit_req = .*|limit_req = /wp-login.php 3r/m|' "$T/proxy.ini"
hup
ok $? "reloaded with another rate"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 198.51.100.1' "$(URL /wp-login.php)")" \
    200 "a changed rule starts with fresh buckets"

cat >"$T/bad.ini" <<INI
[site a]
root = $T/www
limit_req = /x 10r/x
limit_req = /x 0r/s
limit_req = /x 10r/s burst=abc
limit_req = /x
limit_req = x 10r/s
limit_req = /x 10r/s burst=1 extra
INI
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: limit_req: expected a rate like 10r/s, 60r/m or 100r/h.*got '10r/x'" \
    "an unknown unit"
like "$out" "bad.ini:4: limit_req: expected a rate.*got '0r/s'" "a zero rate"
like "$out" "bad.ini:5: limit_req: expected burst=N.*got 'burst=abc'" "a bad burst"
like "$out" "bad.ini:6: limit_req: expected a rate.*got ''" "no rate"
like "$out" "bad.ini:7: limit_req: expected .*got 'x'" "a path that is not a pattern"
like "$out" "bad.ini:8: limit_req: expected burst=N.*got 'extra'" "a word after the burst"
finish
