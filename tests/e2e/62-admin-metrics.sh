#!/usr/bin/env bash
# The admin listener ([server] admin_listen): /metrics parsed by the real Prometheus parser
# (python3-prometheus-client) with counts checked against the requests this test makes (static
# GETs and HEADs, a 404, PHP on a real php-fpm, a dead upstream's failures by kind, a wait in
# wharf's FastCGI queue, idle keep-alive connections, connections refused by
# max_connections_per_ip, a git site's deploys and live commit, php-fpm restarts); /readyz 503
# naming what is not ready (a git site before its first deploy, a FastCGI site whose only
# upstream is marked down) and 200 once ready; /livez; /status JSON; 404 and 405 on the admin
# listener; the admin paths are not served on the public listener; admin_listen errors name
# FILE:LINE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

# Debian's python3-prometheus-client is installed for the system's python3, which may not be
# the first python3 in PATH
PROMPY=
for py in python3 /usr/bin/python3; do
    "$py" -c 'import prometheus_client.parser' 2>/dev/null && PROMPY=$py && break
done
[ -n "$PROMPY" ] || skip_all "python3-prometheus-client is not installed"
find_fpm >/dev/null || skip_all "php-fpm is not installed"
PROMQ="$PROMPY $SRCDIR/tests/e2e/promq.py"

W=$T/www
mkdir -p "$W" "$T/blogroot"
head -c 1024 /dev/urandom >"$W/1k.bin"
printf '<?php echo "hello\\n";\n' >"$W/hello.php"
# 2 s: the second request must still find the first running after a loaded machine's metric
# polls (each one a python3 start), or it never waits in the queue
printf '<?php usleep(2000000); echo "slow\\n";\n' >"$W/slow.php"
start_fpm a "$T/a.sock"
new_remote blog # no commit yet: the first deploy fails until one is pushed

PORT=$(free_port)
APORT=$(free_port)
DEAD_PORT=$(free_port) # nothing listens there: connect() is refused
cat >"$T/w.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
admin_listen = 127.0.0.1:$APORT
workers = 2

[site main]
root = $W

[site php]
hosts = php.test
root = $W
fastcgi = unix:$T/a.sock
fastcgi_max_conns = 1

[site dead]
hosts = dead.test
root = $W
fastcgi = 127.0.0.1:$DEAD_PORT

[site blog]
hosts = blog.test
root = $T/blogroot/site
git_repo = $T/blog.git
git_interval = 0
EOF
start_wharf_ini "$T/w.ini"
A="http://127.0.0.1:$APORT"
m() { $PROMQ "$A/metrics" "$1"; }              # m 'NAME{labels}': the value
grew() { [ "$(($(m "$1") - $2))" -eq "$3" ]; } # grew QUERY BEFORE N: exactly N more
mq() { [ "$(m "$1")" "$2" "$3" ]; }            # mq QUERY OP VALUE: test's comparison, now
astatus() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
ready_json() { curl -s "$A/readyz"; }
names() { # names JSON CHECK: the sites of the not-ready entries of that check
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join(sorted(e["site"] or "-" for e in d["not_ready"] if e["check"]==sys.argv[2])))' "$1" "$2"
}

# ---- the page parses, and says what it is ----
like "$($PROMQ "$A/metrics" --check)" '^ok [0-9]+ [0-9]+$' \
    "/metrics parses with prometheus_client, Content-Type text/plain; version=0.0.4"
is "$(m 'wharf_build_info')" 1 "wharf_build_info is 1"
like "$(curl -s "$A/metrics" | grep '^wharf_build_info')" 'version="[0-9.]+' "build info has the version"
is "$(astatus "$A/livez")" 200 "/livez: 200"
like "$(curl -s "$A/livez")" '"live":true' "/livez: every worker loop turns"

# ---- readiness before the git site's first deploy ----
wait_until 10000 mq 'wharf_git_deploys_total{site="blog",result="failed"}' -ge 1
ok $? "the git site's failed first deploy is counted"
is "$(astatus "$A/readyz")" 503 "/readyz: 503 before the git site's first deploy"
is "$(names "$(ready_json)" git)" blog "/readyz names the git site that has no live release"
is "$(m 'wharf_git_live_info{site="blog"}')" 0 "no live commit yet: no wharf_git_live_info"

# ---- the admin paths are not on the public listener ----
is "$(status /metrics)" 404 "public listener: /metrics is 404"
unlike "$(body /metrics)" 'wharf_build_info' "public listener: no metrics page"
is "$(status /readyz)" 404 "public listener: /readyz is 404"
is "$(astatus "$A/nope")" 404 "admin listener: another path is 404"
is "$(astatus -X POST "$A/metrics")" 405 "admin listener: POST is 405"
like "$(curl -s -D - -o /dev/null -X DELETE "$A/readyz" | tr -d '\r')" 'Allow: GET, HEAD' \
    "405 says Allow: GET, HEAD"
is "$(astatus -I "$A/metrics")" 200 "admin listener: HEAD is 200"

# ---- static requests, by site, method and status class; bytes ----
Q2='wharf_http_requests_total{site="main",method="GET",code="2xx"}'
QB='wharf_http_response_bytes_total{site="main"}'
QH='wharf_http_requests_total{site="main",method="HEAD",code="2xx"}'
Q4='wharf_http_requests_total{site="main",method="GET",code="4xx"}'
QD='wharf_http_request_duration_seconds_count{site="main",handler="static"}'
g0=$(m "$Q2") b0=$(m "$QB") h0=$(m "$QH") n0=$(m "$Q4") d0=$(m "$QD")
for i in 1 2 3 4 5 6 7; do
    curl -s -o /dev/null "$(URL /1k.bin)"
done
wait_until 5000 grew "$Q2" "$g0" 7
ok $? "7 GETs of a static file: the 2xx GET counter of the site grew by exactly 7"
is "$(($(m "$QB") - b0))" 7168 "response bytes grew by 7 x 1024"
curl -s -o /dev/null -I "$(URL /1k.bin)"
curl -s -o /dev/null "$(URL /missing)"
wait_until 5000 grew "$Q4" "$n0" 1
ok $? "a 404: the 4xx counter grew by 1"
is "$(($(m "$QH") - h0))" 1 "a HEAD: counted under method HEAD"
is "$(($(m "$QD") - d0))" 9 "the static duration histogram counted all 9"
holds_for 300 grew "$Q2" "$g0" 7
ok $? "the 2xx counter stays at +7 (nothing counted twice)"

# ---- PHP on a real php-fpm ----
QF='wharf_http_request_duration_seconds_count{site="php",handler="fastcgi"}'
f0=$(m "$QF")
for i in 1 2 3; do
    [ "$(body /hello.php -H 'Host: php.test')" = hello ] || echo "# php request $i failed"
done
wait_until 5000 grew "$QF" "$f0" 3
ok $? "3 PHP requests: the fastcgi duration histogram count grew by 3"
like "$(curl -s "$A/metrics" | grep '^wharf_http_request_duration_seconds_bucket{site="php",handler="fastcgi",le="+Inf"}')" \
    ' [0-9]+$' "the histogram has its +Inf bucket"
is "$(m 'wharf_fastcgi_upstream_down{site="php"}')" 0 "the php upstream is not marked down"

# ---- the git site's first deploy: ready ----
put blog index.html "blog v1"
push blog "v1"
kill -USR2 "$WPID"
wait_until 15000 mq "wharf_git_live_info{site=\"blog\",commit=\"$SHA\"}" = 1
ok $? "after the deploy: wharf_git_live_info{site,commit} is 1 for the pushed commit"
is "$(m 'wharf_git_deploys_total{site="blog",result="deployed"}')" 1 "one deploy counted as deployed"
like "$(m 'wharf_git_last_deploy_timestamp_seconds{site="blog"}')" '^1[0-9]{9}$' \
    "last deploy time is a Unix time"
is "$(astatus "$A/readyz")" 200 "/readyz: 200 once every site is ready"
like "$(ready_json)" '^\{"ready":true,"phase":"serving","not_ready":\[\]\}$' "/readyz JSON when ready"

# ---- a wait in wharf's FastCGI queue (fastcgi_max_conns = 1) ----
# note: with 2 workers and fastcgi_max_conns = 1 one engine has no room of its own, so a
# request that lands there passes through the queue too, for ~0 ms: count the long waits
QW='wharf_fastcgi_queue_wait_seconds_count{site="php"}'
QS='wharf_fastcgi_queue_wait_seconds_bucket{site="php",le="0.25"}'
long_waits() { echo $(($(m "$QW") - $(m "$QS"))); }
w0=$(long_waits)
curl -s -o "$T/s1" -H 'Host: php.test' "$(URL /slow.php)" &
S1=$!
wait_until 5000 mq 'wharf_fastcgi_upstream_busy_connections{site="php"}' = 1
ok $? "a slow request: 1 busy connection to the upstream"
curl -s -o "$T/s2" -H 'Host: php.test' "$(URL /slow.php)" &
S2=$!
wait_until 5000 mq 'wharf_fastcgi_queue_length{site="php"}' = 1
ok $? "a second one waits in the queue: queue length 1"
wait $S1 $S2
is "$(cat "$T/s1" "$T/s2" | tr '\n' ' ')" "slow slow " "both slow requests answered"
is "$(($(long_waits) - w0))" 1 \
    "the queue-wait histogram counted one wait above 0.25 s (the second request's, up to 2 s)"
sum=$(m 'wharf_fastcgi_queue_wait_seconds_sum{site="php"}')
within "$sum" 0.25 30
ok $? "the waits' sum (${sum}s) holds the first request's time"

# ---- a dead upstream: failures by kind, marked down, not ready ----
is "$(status /hello.php -H 'Host: dead.test')" 502 "a dead upstream: 502"
wait_until 5000 mq 'wharf_fastcgi_request_failures_total{site="dead",kind="connect"}' = 1
ok $? "the failed request is counted by kind (connect)"
is "$(m 'wharf_fastcgi_upstream_failures_total{site="dead",kind="connect"}')" 1 \
    "the upstream's connect failure is counted"
is "$(m 'wharf_fastcgi_upstream_failures_total{site="dead",kind="timeout"}')" 0 "no timeout counted"
is "$(m 'wharf_fastcgi_upstream_down{site="dead"}')" 1 "the upstream is marked down"
is "$(astatus "$A/readyz")" 503 "/readyz: 503 while the only upstream of a FastCGI site is down"
is "$(names "$(ready_json)" fastcgi)" dead "/readyz names the FastCGI site"
is "$(m 'wharf_http_requests_total{site="dead",method="GET",code="5xx"}')" 1 \
    "the 502 is a 5xx of that site"

# ---- connections: open and idle ----
printf '%s\n' 'import socket, sys, time' \
    's = socket.create_connection(("127.0.0.1", int(sys.argv[1])))' \
    's.sendall(b"GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n")' \
    'got = b""' \
    'while len(got) < 1024:' \
    '    got += s.recv(65536)' \
    'print("answered", flush=True)' \
    'time.sleep(float(sys.argv[2]))' >"$T/keep.py"
python3 "$T/keep.py" "$PORT" 4 >"$T/idle.out" 2>&1 &
IDLE=$!
PIDS+=("$IDLE")
wait_until 5000 grep -q answered "$T/idle.out"
wait_until 3000 mq 'wharf_http_idle_connections' -ge 1
ok $? "a kept-alive connection after its response counts as idle"
test "$(m 'wharf_http_connections')" -ge 1
ok $? "... and as open"
kill "$IDLE" 2>/dev/null
wait "$IDLE" 2>/dev/null

# ---- /status: the same facts as JSON ----
curl -s "$A/status" >"$T/status.json"
printf '%s\n' 'import json, sys' \
    'd = json.load(open(sys.argv[1]))' \
    'sites = {s["name"]: s for s in d["sites"]}' \
    'assert d["phase"] == "serving", d["phase"]' \
    'assert sites["main"]["requests"]["2xx"] >= 8, sites["main"]' \
    'assert sites["dead"]["fastcgi"]["upstreams"][0]["down"] is True' \
    'assert sites["dead"]["fastcgi"]["upstreams"][0]["failures"]["connect"] == 1' \
    'assert sites["blog"]["git"]["live"] is True' \
    'assert d["caches"]["file"]["hits"] >= 6, d["caches"]' >"$T/status.py"
python3 "$T/status.py" "$T/status.json"
ok $? "/status JSON: sites' requests, upstream health and failures, git state, cache hits"
test "$(m 'wharf_file_cache_hits_total{cache="file"}')" -ge 6
ok $? "file cache hits counted (7 GETs of one small file)"
test "$(m 'wharf_file_cache_misses_total{cache="file"}')" -ge 1
ok $? "file cache misses counted"
like "$($PROMQ "$A/metrics" --check)" '^ok ' "the whole page still parses after all that traffic"

# ---- connections refused by max_connections_per_ip ----
stop_pid "$WPID"
new_port
APORT=$(free_port)
A="http://127.0.0.1:$APORT"
printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "admin_listen = 127.0.0.1:$APORT" \
    "max_connections_per_ip = 2" "[site main]" "root = $W" >"$T/limit.ini"
start_wharf_ini "$T/limit.ini"
python3 "$T/keep.py" "$PORT" 5 >"$T/hold1.out" 2>&1 &
PIDS+=($!)
python3 "$T/keep.py" "$PORT" 5 >"$T/hold2.out" 2>&1 &
PIDS+=($!)
wait_until 5000 grep -q answered "$T/hold1.out"
wait_until 5000 grep -q answered "$T/hold2.out"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(URL /1k.bin)")" 000 \
    "a third connection from the same address is refused"
wait_until 3000 mq 'wharf_http_connections_refused_total{limit="max_connections_per_ip"}' -ge 1
ok $? "... and counted under limit=max_connections_per_ip"
stop_pid "$WPID"

# ---- restarts of the php-fpm wharf runs (fastcgi = spawn) ----
new_port
APORT=$(free_port)
A="http://127.0.0.1:$APORT"
printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "admin_listen = 127.0.0.1:$APORT" \
    "[site main]" "root = $W" "fastcgi = spawn" >"$T/spawn.ini"
start_wharf_ini "$T/spawn.ini"
is "$(body /hello.php)" hello "spawn: wharf's php-fpm answers"
is "$(m 'wharf_php_fpm_restarts_total')" 0 "spawn: no restart yet"
master=$(pgrep -P "$WPID" | head -1)
[ -n "$master" ] && kill -9 "$master"
wait_until 15000 mq 'wharf_php_fpm_restarts_total' = 1
ok $? "a killed php-fpm is restarted and counted once"
stop_pid "$WPID"

# ---- configuration errors name FILE:LINE ----
printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "admin_listen = 127.0.0.1:$PORT" >"$T/same.ini"
out=$("$WHARF" -t -c "$T/same.ini" 2>&1)
like "$out" "same.ini:3: admin_listen: '127.0.0.1:$PORT' is also a listen" \
    "admin_listen on a public listen address is refused at its line"
printf '%s\n' "[server]" "admin_listen = nowhere" >"$T/bad.ini"
out=$("$WHARF" -t -c "$T/bad.ini" 2>&1)
like "$out" "bad.ini:2: admin_listen: expected" "a bad admin_listen value is an error at its line"
finish
