#!/usr/bin/env bash
# FastCGI load balancing and failover over two real php-fpm pools (a: unix socket, b: TCP):
# round_robin, random, ip_hash and least_conn spread requests as named; a refused, missing or
# unreachable upstream gives 502 when it is the only one, and otherwise the next upstream serves
# the request; a failed upstream is skipped for a while (passive health) and used again once it
# is back after the down period.
. "$(dirname "$0")/lib.sh"

find_fpm >/dev/null || skip_all "php-fpm is not installed"

W=$T/www
mkdir -p "$W"
# pid.php: the name of the pool that ran it (env[FPM_POOL] in the pool's config)
printf '<?php echo getenv("FPM_POOL"), "\\n";\n' >"$W/pid.php"
# slow.php?id=NAME&s=SECONDS: writes its pool's name to started-NAME, sleeps, prints the name
cat >"$W/slow.php" <<'PHP'
<?php
file_put_contents(__DIR__ . '/started-' . basename($_GET['id']), getenv('FPM_POOL'));
usleep((int)(1e6 * (float)($_GET['s'] ?? 2)));
echo getenv('FPM_POOL'), "\n";
PHP
printf 'static\n' >"$W/static.txt"

PB=$(free_port)
# Every kept-alive connection holds a php-fpm child, and 5 sites share these pools: 12 children
# each, so no request waits for a child.
POOL_A=$(printf 'env[FPM_POOL] = a\npm.max_children = 12')
POOL_B=$(printf 'env[FPM_POOL] = b\npm.max_children = 12')
start_fpm a "$T/a.sock" "$POOL_A"
FPM_A=$FPM_PID
start_fpm b "127.0.0.1:$PB" "$POOL_B"

BH_PORT=$(free_port) # unreachable: connect() hangs (the SYN is dropped)
python3 "$SRCDIR/tests/fcgi_fake/raw_fake.py" --blackhole "127.0.0.1:$BH_PORT" >"$T/bh.out" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
    grep -q ready "$T/bh.out" && break
    sleep 0.05
done
grep -q ready "$T/bh.out" || bail "blackhole listener did not start"
DEAD_PORT=$(free_port) # nothing listens: connect() is refused

PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site rr]
root = $W
fastcgi = unix:$T/a.sock 127.0.0.1:$PB
fastcgi_lb = round_robin

[site rnd]
hosts = rnd.test
root = $W
fastcgi = unix:$T/a.sock 127.0.0.1:$PB
fastcgi_lb = random

[site ih]
hosts = ih.test
root = $W
fastcgi = unix:$T/a.sock 127.0.0.1:$PB
fastcgi_lb = ip_hash

[site lc]
hosts = lc.test
root = $W
fastcgi = unix:$T/a.sock 127.0.0.1:$PB
fastcgi_lb = least_conn

[site bh]
hosts = bh.test
root = $W
fastcgi = 127.0.0.1:$BH_PORT 127.0.0.1:$PB
fastcgi_lb = round_robin
fastcgi_connect_timeout = 1s

[site onlya]
hosts = onlya.test
root = $W
fastcgi = unix:$T/a.sock

[site deadunix]
hosts = deadunix.test
root = $W
fastcgi = unix:$T/nobody.sock

[site deadtcp]
hosts = deadtcp.test
root = $W
fastcgi = 127.0.0.1:$DEAD_PORT

[site bhonly]
hosts = bhonly.test
root = $W
fastcgi = 127.0.0.1:$BH_PORT
fastcgi_connect_timeout = 1s
EOF
start_wharf_ini "$T/wharf.ini"

# pools HOST N [CURL-ARGS]: N sequential /pid.php requests; prints the answers, one per line
# ("ERR:STATUS" for a failure).
pools() {
    local host=$1 n=$2 i out st
    shift 2
    for ((i = 0; i < n; i++)); do
        out=$(curl -s -w '\n%{http_code}' --max-time 10 -H "Host: $host" "$@" "$(URL /pid.php)")
        st=${out##*$'\n'}
        if [ "$st" = 200 ]; then echo "${out%%$'\n'*}"; else echo "ERR:$st"; fi
    done
}
tally() { sort | uniq -c | awk '{ printf "%s%s=%s", sep, $2, $1; sep = " " }'; } # "a=10 b=10"

# ---- balancing -----------------------------------------------------------------------------------
is "$(pools onlya.test 1)" "a" "pool a answers through a unix socket (control)"
is "$(pools rr 20 | tally)" "a=10 b=10" "round_robin: 20 sequential requests, 10 on each pool"
rnd=$(pools rnd.test 40 | tally)
like "$rnd" "^a=[0-9]+ b=[0-9]+$" "random: 40 requests use both pools, no errors ($rnd)"

like "$(pools ih.test 10 | tally)" "^(a|b)=10$" "ip_hash: 10 requests from 127.0.0.1 all go to the same pool"
ih_all=""
for ip in 1 2 3 4 5 6 7 8; do
    one=$(pools ih.test 5 --interface "127.0.0.$ip" | sort -u | paste -sd,)
    case "$one" in *,*) one="127.0.0.$ip:mixed($one)" ;; esac
    ih_all="$ih_all $one"
done
unlike "$ih_all" "mixed|ERR" "ip_hash: each of 127.0.0.1..8 keeps its pool over 5 requests ($ih_all)"
like "$ih_all" "a .*b|b .*a" "ip_hash: different client addresses are spread over both pools"

# least_conn: a slow request occupies one pool; the next requests go to the other one
(curl -s --max-time 20 -H 'Host: lc.test' "$(URL '/slow.php?id=lc&s=2')" >"$T/lc.out") &
LC_PID=$!
PIDS+=("$LC_PID")
wait_until 5000 test -s "$W/started-lc"
busy_pool=$(cat "$W/started-lc" 2>/dev/null)
other=$([ "$busy_pool" = a ] && echo b || echo a)
is "$(pools lc.test 5 | tr '\n' ' ')" "$other $other $other $other $other " \
    "least_conn: while pool $busy_pool runs a slow script, 5 requests go to pool $other"
wait "$LC_PID"
is "$(cat "$T/lc.out")" "$busy_pool" "least_conn: the slow request itself completes on pool $busy_pool"

# ---- upstreams that cannot be reached --------------------------------------------------------------
for site in deadunix deadtcp; do
    for n in 1 2; do
        out=$(curl -s -w '\n%{http_code} %{time_total}' --max-time 10 -H "Host: $site.test" "$(URL /pid.php)")
        last=${out##*$'\n'}
        is "${last% *}" 502 "$site (missing socket / refused port) as the only upstream -> 502 (request $n)"
        within "${last#* }" 0 1
        ok $? "$site: the 502 is immediate (took ${last#* } s)"
    done
done
unlike "$out" "$T|nobody.sock|$DEAD_PORT" "the 502 page names no socket path or upstream address"
# a dead only upstream under load: every request gets its own error line, but the warning that
# marks it down comes once per down period (it came twice per request: a log flood)
log0=$(wc -l <"$T/wharf.err")
codes=$(for n in $(seq 1 20); do
    curl -s -o /dev/null -w '%{http_code} ' --max-time 10 -H 'Host: deadunix.test' "$(URL /pid.php)"
done)
is "$(echo $codes | tr ' ' '\n' | sort | uniq -c | awk '{print $2 "x" $1}')" "502x20" \
    "20 more requests to the dead only upstream: 20 x 502"
n_down=$(tail -n +"$((log0 + 1))" "$T/wharf.err" | grep -c "nobody.sock")
is "$n_down" 0 "within its down period the dead upstream is not warned about again (lines naming it: $n_down, not 20)"
n_err=$(tail -n +"$((log0 + 1))" "$T/wharf.err" | grep -c "deadunix.*cannot connect")
is "$n_err" 20 "each failed request has its one error line ($n_err)"
out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 -H 'Host: bhonly.test' "$(URL /pid.php)")
is "${out% *}" 502 "an unreachable upstream (connect hangs) as the only upstream -> 502"
within "${out#* }" 0.9 3
ok $? "unreachable: the 502 comes after the 1 s connect timeout (took ${out#* } s)"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bhonly.test' "$(URL /static.txt)")" 200 \
    "static files of that site are served meanwhile"

# unreachable + healthy: the first request pays the connect timeout once, then the unreachable
# upstream is skipped (passive health), so no later request is slow
slow=0 answers=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    out=$(curl -s -w '\n%{http_code} %{time_total}' --max-time 10 -H 'Host: bh.test' "$(URL /pid.php)")
    last=${out##*$'\n'}
    answers="$answers ${last% *}:${out%%$'\n'*}"
    within "${last#* }" 0 0.5 || slow=$((slow + 1))
done
is "$answers" " 200:b 200:b 200:b 200:b 200:b 200:b 200:b 200:b 200:b 200:b" \
    "unreachable first upstream: every request is answered by the other pool (failover)"
is "$slow" 1 "passive health: only 1 of 10 requests waits for the unreachable upstream's connect timeout"

# ---- a pool dies ---------------------------------------------------------------------------------
children_of() {
    local d
    for d in /proc/[0-9]*; do
        [ "$(awk '/^PPid:/ { print $2 }' "$d/status" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
    done
}
kids=$(children_of "$FPM_A")
{
    # shellcheck disable=SC2086 # one pid per word
    kill -9 "$FPM_A" $kids
    wait "$FPM_A"
} 2>/dev/null
for ((i = 0; i < 100; i++)); do
    alive=0
    for k in $kids; do kill -0 "$k" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.05
done
is "$alive" 0 "pool a: master and children killed (kill -9)"
[ -S "$T/a.sock" ]
ok $? "pool a's socket file is left behind (connect is refused, not 'no such file')"

log0=$(wc -l <"$T/wharf.err")
is "$(pools rr 40 | tally)" "b=40" "round_robin with pool a dead: 40 sequential requests, all answered by pool b"
n_log=$(tail -n +"$((log0 + 1))" "$T/wharf.err" | grep -c "a\.sock")
is "$n_log" 1 "passive health: the dead pool is tried once, then skipped (error-log lines naming it: $n_log, not 40)"
is "$(pools onlya.test 2 | tr '\n' ' ')" "ERR:502 ERR:502 " "the dead pool as the only upstream -> 502"
is "$(pools lc.test 5 | tally)" "b=5" "least_conn with pool a dead: all requests answered by pool b"
ih_dead=""
for ip in 1 2 3 4 5 6 7 8; do
    ih_dead="$ih_dead$(pools ih.test 1 --interface "127.0.0.$ip")"
done
is "$ih_dead" "bbbbbbbb" "ip_hash with pool a dead: clients of pool a fail over to pool b"

# ---- the pool comes back ---------------------------------------------------------------------------
# wharf skips a failed upstream for 10 s; after that the restarted pool gets requests again.
rm -f "$T/a.sock"
start_fpm a "$T/a.sock" "$POOL_A"
restart=$(date +%s.%N)
got_a=0 errors=0
for ((i = 0; i < 150; i++)); do
    r=$(pools rr 1)
    case "$r" in
    a) got_a=1 && break ;;
    b) ;;
    *) errors=$((errors + 1)) ;;
    esac
    sleep 0.1
done
back=$(awk -v a="$restart" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
is "$got_a" 1 "after the down period the restarted pool a serves requests again (after $back s)"
is "$errors" 0 "no request failed while pool a was down or coming back"
is "$(pools rr 10 | tally)" "a=5 b=5" "round_robin over both pools again once pool a is back"

finish
