#!/usr/bin/env bash
# Live reload (SIGHUP): a good configuration takes effect for the next request (root, virtual
# hosts, FastCGI params and upstreams, access logs, new and removed sites) while a request
# already running finishes on the configuration it started with, and an unchanged upstream
# keeps its kept-alive php-fpm connection; a bad one (syntax, unknown key, missing root) is
# refused with FILE:LINE errors and the running configuration keeps serving. Listeners: one
# added by a reload answers, one removed stops accepting while its request in flight finishes,
# a busy port refuses the reload.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/a1" "$T/a2" "$T/b" "$T/c" "$T/d" "$T/r"
printf 'a one' >"$T/a1/x.txt"
printf 'a two' >"$T/a2/x.txt"
for d in a1 a2; do
    printf '%s\n' "<?php echo getenv('GEN') ?: \$_SERVER['GEN'], ' ', basename(\$_SERVER['DOCUMENT_ROOT']), ' ', getmypid();" >"$T/$d/v.php"
    printf '%s\n' "<?php touch('$T/slow.started'); sleep(2); echo \$_SERVER['GEN'], ' ', basename(\$_SERVER['DOCUMENT_ROOT']);" >"$T/$d/slow.php"
done
printf '%s\n' "<?php echo getmypid();" >"$T/b/pid.php"
printf 'site c' >"$T/c/index.html"
printf 'default' >"$T/d/index.html"
printf 'site r' >"$T/r/index.html"

FPM1_PORT=$(free_port)
start_fpm one "127.0.0.1:$FPM1_PORT"
FPM1=$FPM_PID
FPM2_PORT=$(free_port)
start_fpm two "127.0.0.1:$FPM2_PORT"
FPM2=$FPM_PID
PORT=$(free_port)

# v1: site a on php-fpm one (GEN=one, root a1, log a1.log), site b on php-fpm two (its own
# pool: kept across reloads), site r; v2: a on php-fpm two (GEN=two, root a2, log a2.log), b
# unchanged, r gone, c new. (b is not on php-fpm one: an idle connection is closed while a
# request to the same address stalls, and the slow request below would look stalled.)
v1() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site a]" "hosts = a.test" "root = $T/a1" "fastcgi = 127.0.0.1:$FPM1_PORT" \
        "fastcgi_env = GEN=one" "access_log = $T/a1.log" \
        "[site b]" "hosts = b.test" "root = $T/b" "fastcgi = 127.0.0.1:$FPM2_PORT" \
        "fastcgi_keep_conns = 1" "access_log = $T/b.log" \
        "[site r]" "hosts = r.test" "root = $T/r" \
        "[site d]" "root = $T/d"
}
v2() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site a]" "hosts = a.test alias.test" "root = $T/a2" "fastcgi = 127.0.0.1:$FPM2_PORT" \
        "fastcgi_env = GEN=two" "access_log = $T/a2.log" \
        "[site b]" "hosts = b.test" "root = $T/b" "fastcgi = 127.0.0.1:$FPM2_PORT" \
        "fastcgi_keep_conns = 1" "access_log = $T/b.log" \
        "[site c]" "hosts = c.test" "root = $T/c" \
        "[site d]" "root = $T/d"
}
v1 >"$T/w.ini"
start_wharf_ini "$T/w.ini"
reloads() { grep -c 'configuration reloaded' "$T/wharf.err"; }
refusals() { grep -c 'reload refused' "$T/wharf.err"; }
# hup: signal, then wait for the Nth outcome line (reloaded or refused)
hup() {
    local want=$(($(reloads) + $(refusals) + 1))
    kill -HUP "$WPID"
    wait_until 10000 eval '[ $(($(reloads) + $(refusals))) -ge '"$want"' ]'
}
# the local ports of wharf's connections to a php-fpm port (TCP)
conns_to() { ss -Htn state established "( dport = :$1 )" | awk '{print $3}' | sort | tr '\n' ' '; }

is "$(body /x.txt -H 'Host: a.test')" "a one" "v1: site a serves root a1"
v=$(body /v.php -H 'Host: a.test')
like "$v" '^one a1 [0-9]+$' "v1: PHP sees GEN=one and DOCUMENT_ROOT a1"
pid_a1=${v##* }
is "$(pgrep -P "$FPM1" | grep -cx "$pid_a1")" "1" "v1: ... from a child of php-fpm one"
b_pid=$(body /pid.php -H 'Host: b.test')
is "$(body /pid.php -H 'Host: b.test')" "$b_pid" "site b's kept connection: the same php-fpm child twice"
b_conns=$(conns_to "$FPM2_PORT")
is "$(echo $b_conns | wc -w)" "1" "site b keeps one connection to php-fpm two"
is "$(body / -H 'Host: r.test')" "site r" "v1: site r is served"
is "$(body / -H 'Host: c.test')" "default" "v1: c.test falls to the default site"

# a slow request on v1, in flight across the reload
curl -s --max-time 20 -H 'Host: a.test' "$(URL /slow.php)" >"$T/slow.out" &
SLOW=$!
wait_file "$T/slow.started" 10
ok $? "the slow request runs in php-fpm before the reload"

v2 >"$T/w.ini"
hup
ok $? "SIGHUP with v2: the reload finishes"
is "$(reloads)" "1" "... and is logged as done"
is "$(body /x.txt -H 'Host: a.test')" "a two" "v2: site a serves its new root at once"
v=$(body /v.php -H 'Host: a.test')
like "$v" '^two a2 [0-9]+$' "v2: PHP sees GEN=two and DOCUMENT_ROOT a2"
pid_a2=${v##* }
is "$(pgrep -P "$FPM2" | grep -cx "$pid_a2")" "1" "v2: site a's PHP runs on php-fpm two (the new upstream)"
is "$(body /x.txt -H 'Host: alias.test')" "a two" "v2: the new virtual host alias.test reaches site a"
is "$(body / -H 'Host: c.test')" "site c" "v2: the new site c is served"
is "$(body / -H 'Host: r.test')" "default" "v2: the removed site r is gone (its host falls to the default)"
is "$(body /pid.php -H 'Host: b.test')" "$b_pid" "v2: site b (unchanged upstream) is answered by the same php-fpm child"
is "$(conns_to "$FPM2_PORT" | grep -c "$b_conns")" "1" "... over the same kept-alive connection (same local port)"

wait "$SLOW"
is "$(cat "$T/slow.out")" "one a1" "the request started before the reload finished with v1's GEN and root"
wait_until 5000 eval '[ -z "$(conns_to "$FPM1_PORT")" ]'
is "$(conns_to "$FPM1_PORT")" "" "site a's old pool closed its connection to php-fpm one after the slow request"
wait_grep "$T/a1.log" '"GET /slow\.php HTTP/1\.1" 200 ' 5
ok $? "the in-flight request is logged in v1's access log"
wait_grep "$T/a2.log" '"GET /v\.php HTTP/1\.1" 200 ' 5
ok $? "v2's requests go to v2's access log"
is "$(grep -c 'x\.txt' "$T/a1.log")" "1" "... and not to v1's"
wait_grep "$T/wharf.err" "previous configuration's sites are stopped" 10
ok $? "the old sites are stopped once their requests are done"

# bad reloads: each refused with FILE:LINE, v2 keeps serving
{ v2; echo "this is not ini"; } >"$T/w.ini"
hup
n=$(wc -l <"$T/w.ini")
like "$(cat "$T/wharf.err")" "$T/w.ini:$n: " "a syntax error is logged with FILE:LINE"
is "$(refusals)" "1" "... and the reload is refused"
{ v2; echo "rooot = /x"; } >"$T/w.ini"
hup
n=$(wc -l <"$T/w.ini")
like "$(grep "w.ini:$n:" "$T/wharf.err")" "rooot" "an unknown key is logged with FILE:LINE"
{ v2 | sed "s|root = $T/c|root = $T/missing|"; } >"$T/w.ini"
hup
line=$(grep -n "missing" "$T/w.ini" | cut -d: -f1)
like "$(grep "w.ini:$line:" "$T/wharf.err")" "missing" "a missing root is logged with FILE:LINE"
is "$(refusals)" "3" "three bad reloads refused"
is "$(reloads)" "1" "... none applied"
is "$(body / -H 'Host: c.test')" "site c" "v2 still serves site c"
is "$(body /v.php -H 'Host: a.test' | cut -d' ' -f1-2)" "two a2" "... and site a with its PHP"

# listeners: back to v1 with a second port; then v2 without it while a request runs on it
P2=$(free_port)
{ v1 | sed "s|^listen = .*|&\nlisten = 127.0.0.1:$P2|"; } >"$T/w.ini"
hup
is "$(reloads)" "2" "back to v1, with a second listener"
is "$(curl -s -H 'Host: r.test' "http://127.0.0.1:$P2/")" "site r" "the listener a reload added answers (v1's site r)"
is "$(body / -H 'Host: r.test')" "site r" "the kept listener answers too"
is "$(body /v.php -H 'Host: a.test' | cut -d' ' -f1-2)" "one a1" "... and site a is on php-fpm one again"
rm -f "$T/slow.started"
curl -s --max-time 20 -H 'Host: a.test' "http://127.0.0.1:$P2/slow.php" >"$T/slow2.out" &
SLOW2=$!
wait_file "$T/slow.started" 10
v2 >"$T/w.ini"
hup
is "$(reloads)" "3" "v2 again: the second listener is gone from the configuration"
refused() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$P2/"; [ $? = 7 ]; }
wait_until 5000 refused
ok $? "the listener a reload removed refuses new connections"
like "$(cat "$T/wharf.err")" "no longer listening on 127.0.0.1:$P2" "... and says so"
is "$(body / -H 'Host: c.test')" "site c" "the kept listener serves v2"
wait "$SLOW2"
is "$(cat "$T/slow2.out")" "one a1" "the request running on the removed listener finished, with v1's values"
{ v2 | sed "s|^listen = .*|&\nlisten = 127.0.0.1:$FPM1_PORT|"; } >"$T/w.ini"
hup
is "$(refusals)" "4" "a listener on a busy port: the reload is refused"
like "$(cat "$T/wharf.err")" "cannot listen on 127.0.0.1:$FPM1_PORT" "... naming the address"
is "$(body / -H 'Host: c.test')" "site c" "... and v2 keeps serving"

kill -TERM "$WPID"
wait "$WPID"
is "$?" "0" "SIGTERM after reloads: wharf exits 0"
unlike "$(cat "$T/wharf.err")" 'still held' "... with no pin left on any site"
finish
