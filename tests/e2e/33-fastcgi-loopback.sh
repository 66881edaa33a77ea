#!/usr/bin/env bash
# Pages that call their own site over HTTP (WordPress's Site Health, WP-Cron, REST calls to
# itself): fastcgi_max_conns bounds requests in flight per upstream, and by default it leaves
# room for the inner requests while outer ones wait for them, so nothing deadlocks until a
# timeout. fastcgi_keep_conns bounds only the idle connections kept between requests (each
# pins a php-fpm child): the rest are closed after their request. With fewer php-fpm children
# than fastcgi_max_conns, requests wait in php-fpm's own queue, never a second behind a child
# pinned by an idle kept connection.
. "$(dirname "$0")/lib.sh"

W=$T/www
mkdir -p "$W"
# outer.php?n=N: N concurrent GETs of inner.php on this same server; prints how many said ok
cat >"$W/outer.php" <<'PHP'
<?php
$n = (int)($_GET['n'] ?? 3);
$port = (int)$_SERVER['SERVER_PORT'];
$socks = [];
for ($i = 0; $i < $n; $i++) {
    $s = stream_socket_client("tcp://127.0.0.1:$port", $errno, $err, 5);
    if (!$s) continue;
    fwrite($s, "GET /inner.php?i=$i HTTP/1.0\r\nHost: {$_SERVER['HTTP_HOST']}\r\n\r\n");
    stream_set_blocking($s, false);
    $socks[$i] = $s;
}
$got = array_fill_keys(array_keys($socks), '');
$deadline = microtime(true) + 8;
while ($socks && microtime(true) < $deadline) {
    $r = array_values($socks);
    $w = $e = null;
    if (!stream_select($r, $w, $e, 0, 200000)) continue;
    foreach ($socks as $i => $s) {
        if (!in_array($s, $r, true)) continue;
        $d = fread($s, 8192);
        if ($d === '' || $d === false) {
            if (feof($s)) { fclose($s); unset($socks[$i]); }
            continue;
        }
        $got[$i] .= $d;
    }
}
$ok = 0;
foreach ($got as $g) $ok += str_contains($g, "inner ok");
echo "ok=$ok\n";
PHP
cat >"$W/inner.php" <<'PHP'
<?php usleep(100000); echo "inner ok\n";
PHP
# pid.php?us=N: sleeps, then names the child that ran it
printf '<?php usleep((int)($_GET["us"] ?? 0)); echo getmypid(), "\\n";\n' >"$W/pid.php"
# barrier.php?i=I&n=N: arrives, then waits (up to 10 s) until N requests have arrived: prints
# "together" when they all ran at the same time, "alone" when the others never came
mkdir -p "$T/barrier"
cat >"$W/barrier.php" <<PHP
<?php touch("$T/barrier/" . (int)\$_GET["i"]);
for (\$t = 0; \$t < 500; \$t++) {
    if (count(glob("$T/barrier/*")) >= (int)\$_GET["n"]) { echo "together\n"; exit; }
    usleep(20000);
}
echo "alone\n";
PHP

start_fpm big "$T/big.sock" "pm.max_children = 24"
start_fpm small "$T/small.sock" "pm.max_children = 2"
PORT=$(free_port)
cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
workers = 2
[site app]
root = $W
fastcgi = unix:$T/big.sock
[site small]
hosts = small.test
root = $W
fastcgi = unix:$T/small.sock
[site other]
hosts = other.test
root = $W
fastcgi = unix:$T/small.sock
INI
start_wharf_ini "$T/wharf.ini"

# ---- six pages at once, each calling the site three times (Site Health's pattern) ----------
t0=$(now_ms)
CURLS=()
for i in 1 2 3 4 5 6; do
    curl -s --max-time 20 "$(URL "/outer.php?n=3&c=$i")" >"$T/outer.$i" &
    CURLS+=($!)
done
wait "${CURLS[@]}"
t1=$(now_ms)
is "$(cat "$T"/outer.* | sort | uniq -c | tr -s ' ')" " 6 ok=3" \
    "6 concurrent pages each making 3 loopback requests: all 18 inner requests answered"
ok $(((t1 - t0) < 4000 ? 0 : 1)) "...in $((t1 - t0)) ms, well before any timeout (the old cap of 4 deadlocked them)"

# ---- keep_conns bounds the idle connections, not the concurrency ----------------------------
# 12 parallel requests run at once (fastcgi_max_conns 16 by default): each waits until all 12
# have arrived in PHP, which only happens when none waits for another's connection (a load-proof
# check: no clock involved). Afterwards at most fastcgi_keep_conns (4) connections stay open.
CURLS=()
for i in $(seq 1 12); do
    curl -s --max-time 20 -o "$T/barrier.$i" "$(URL "/barrier.php?n=12&i=$i")" &
    CURLS+=($!)
done
wait "${CURLS[@]}"
is "$(cat "$T"/barrier.* | sort | uniq -c | tr -s ' ')" " 12 together" \
    "12 parallel requests run concurrently (each saw all 12 arrive; a cap of 4 would leave them alone)"
# 12 parallel 30 ms requests (none waits long enough to count as stalled): 12 connections
# open, and when they end at most fastcgi_keep_conns (4) of them stay open
python3 - "$PORT" <<'PY'
import http.client, sys, threading
def one(i):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    c.request("GET", "/pid.php?us=30000&k=%d" % i)
    c.getresponse().read()
ts = [threading.Thread(target=one, args=(i,)) for i in range(12)]
for t in ts: t.start()
for t in ts: t.join()
PY
fpm_conns() { ss -x 2>/dev/null | grep -cF "$T/big.sock"; } # php-fpm's end of each connection
kept_ok() { [ "$(fpm_conns)" -le 4 ]; }
wait_until 2000 kept_ok
ok $? "afterwards at most fastcgi_keep_conns (4) connections to php-fpm stay open ($(fpm_conns))"
ok $(($(fpm_conns) >= 1 ? 0 : 1)) "...and some do ($(fpm_conns))"

# ---- fewer children than fastcgi_max_conns: nobody waits long behind a pinned child ---------
# php-fpm has 2 children; wharf allows 16 requests in flight and keeps up to 2 idle connections
# per worker. Bursts from new clients on both workers: requests beyond the children wait in
# php-fpm's listen queue; an idle kept connection holding a child is let go within a tick.
worst=$(python3 - "$PORT" <<'PY'
import http.client, sys, threading, time
port = int(sys.argv[1])
worst = [0.0]
bad = []
lock = threading.Lock()
def one(us):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t = time.monotonic()
    try:
        c.request("GET", "/pid.php?us=%d" % us, headers={"Host": "small.test"})
        r = c.getresponse(); r.read()
        status = r.status
    except Exception as e:
        status = type(e).__name__
    d = time.monotonic() - t
    with lock:
        worst[0] = max(worst[0], d - us / 1e6)
        if status != 200: bad.append(str(status))
for burst in range(8):
    ts = [threading.Thread(target=one, args=(20000,)) for _ in range(3)]
    for t in ts: t.start()
    for t in ts: t.join()
    time.sleep(0.05)
print("%d %s" % (worst[0] * 1000, ",".join(map(str, bad)) or "-"))
PY
)
is "${worst#* }" "-" "bursts of 3 on 2 children: every request answered 200"
ok $((${worst% *} < 1000 ? 0 : 1)) "...none waited a second or more beyond its own run time (worst ${worst% *} ms)"

# ---- wharf learns how many connections php-fpm takes (unix socket: its listen queue) ---------
# Site "other" (same 2-child php-fpm as "small", a pool of its own that has not met it yet):
# 10 parallel 400 ms requests: the first wave fills php-fpm's listen queue; wharf
# sees it there and fits the upstream to the 2 connections php-fpm took, so a second wave
# waits in wharf's own queue (FIFO, fastcgi_queue_timeout), not in php-fpm's
backlog() { ss -lx 2>/dev/null | grep -F "$T/small.sock" | awk '{ print $3 }'; } # listen queue
wave() {
    python3 - "$PORT" <<'PY'
import http.client, sys, threading
bad = []
def one():
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
        c.request("GET", "/pid.php?us=400000", headers={"Host": "other.test"})
        r = c.getresponse(); r.read()
        if r.status != 200: bad.append(r.status)
    except Exception as e:
        bad.append(type(e).__name__)
ts = [threading.Thread(target=one) for _ in range(10)]
for t in ts: t.start()
for t in ts: t.join()
print(",".join(map(str, bad)) or "-")
PY
}
max_backlog() { # max_backlog MS PID: the longest php-fpm listen queue seen over MS, or
    # while PID (the wave) still runs: a wave slow to start on a busy machine is still seen
    local end=$(($(now_ms) + $1)) m=0 b
    while [ "$(now_ms)" -lt "$end" ] || kill -0 "$2" 2>/dev/null; do
        b=$(backlog)
        [ "${b:-0}" -gt "$m" ] && m=$b
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
    done
    echo "$m"
}
wave >"$T/wave1" &
W1=$!
first=$(max_backlog 600 "$W1")
wait "$W1"
is "$(cat "$T/wave1")" "-" "first wave of 10 on 2 children: all answered 200"
ok $((first >= 4 ? 0 : 1)) "(control) the first wave queued in php-fpm's listen queue (up to $first)"
like "$(cat "$T/wharf.err")" "site other\] upstream unix:$T/small.sock: [0-9]+ connections wait in its listen queue; using [0-9]+" \
    "wharf logs that the upstream takes fewer connections than fastcgi_max_conns"
wave >"$T/wave2" &
W2=$!
second=$(max_backlog 1000 "$W2")
wait "$W2"
is "$(cat "$T/wave2")" "-" "second wave: all answered 200"
ok $((second <= 2 ? 0 : 1)) "the second wave waits in wharf's queue, not php-fpm's (its listen queue peaked at $second)"

# ---- two sites on one php-fpm pool: one site's idle connections pin both children -----------
python3 - "$PORT" <<'PY'
import http.client, sys, threading
def one():
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    c.request("GET", "/pid.php?us=50000", headers={"Host": "small.test"})
    c.getresponse().read()
ts = [threading.Thread(target=one) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
PY
out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 -H 'Host: other.test' "$(URL /pid.php)")
is "${out% *}" 200 "another site on the same php-fpm pool is answered while the first keeps connections"
ok "$(awk -v t="${out#* }" 'BEGIN { exit !(t < 1) }'; echo $?)" \
    "...within a second: the idle kept connections pinning both children are let go (${out#* } s)"
finish
