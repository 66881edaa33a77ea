#!/usr/bin/env bash
# FastCGI across worker threads: every worker runs its own FastCGI engine, but fastcgi_max_conns
# bounds the connections of the whole process, and a request accepted by one worker is served by
# another worker's connection when only that one is free. Also: a request whose client leaves
# while it waits in the queue never reaches php-fpm, and shutting down with requests still in
# flight and queued answers or closes every one of them once shutdown_timeout (1 s here) is
# over (tests/e2e/72-drain.sh covers the drain that comes first).
. "$(dirname "$0")/lib.sh"

W=$T/www
mkdir -p "$W"
# id.php?id=X: records that it ran for X, answers with X and the php-fpm child's pid
cat >"$W/id.php" <<'PHP'
<?php
$id = basename($_GET['id'] ?? 'none');
touch(__DIR__ . '/ran-' . $id);
usleep((int)($_GET['us'] ?? 2000));
echo "id=$id pid=", getmypid(), "\n";
PHP
start_fpm w "$T/fpm.sock" "pm.max_children = 2"

write_ini() { # write_ini MAX_CONNS
    PORT=$(free_port)
    cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
workers = 2
shutdown_timeout = 1s
[site app]
root = $W
fastcgi = unix:$T/fpm.sock
fastcgi_max_conns = $1
INI
}

# many keep-alive clients, spread over both workers by the kernel: every answer must be right
LOAD=$(cat <<'PY'
import http.client, sys, threading
port, conns, reqs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
good, pids, bad = [0], set(), []
lock = threading.Lock()
def client(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    for i in range(reqs):
        rid = "c%d-%d" % (n, i)
        try:
            c.request("GET", "/id.php?id=" + rid)
            r = c.getresponse()
            body = r.read().decode()
        except Exception as e:
            with lock: bad.append("%s: %s" % (rid, e))
            return
        with lock:
            if r.status == 200 and body.startswith("id=%s " % rid):
                good[0] += 1
                pids.add(body.split("pid=")[1].strip())
            else:
                bad.append("%s: %d %r" % (rid, r.status, body[:80]))
ts = [threading.Thread(target=client, args=(n,)) for n in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
print(good[0], len(pids), "; ".join(bad[:3]))
PY
)

write_ini 1
start_wharf_ini "$T/wharf.ini"
read -r good npids why < <(python3 -c "$LOAD" "$PORT" 16 10)
is "$good" 160 "max_conns 1, 2 workers, 16 keep-alive clients: all 160 answers right ${why:+($why)}"
is "$npids" 1 "max_conns 1 holds for the whole process: one php-fpm child served everything"
# one request at a time over 8 keep-alive connections (on both workers): whichever worker owns
# the php-fpm connection, the answer reaches the client's worker at once, not at its next tick
slow=$(python3 - "$PORT" <<'PY'
import http.client, sys, time
cs = [http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10) for _ in range(8)]
slow = 0
for r in range(5):
    for c in cs:
        t = time.time()
        c.request("GET", "/id.php?us=0&id=seq")
        c.getresponse().read()
        slow += time.time() - t > 0.08
print(slow)
PY
)
ok $((slow <= 2 ? 0 : 1)) "40 sequential requests across both workers: $slow of them took over 80 ms"
curl -s -o /dev/null "$(URL /id.php?us=1500000\&id=slow)" &
SLOW=$!
wait_until 2000 test -e "$W/ran-slow"
ok $? "a slow request holds the only connection"
# queued requests whose clients leave at once (watched after 200 ms of waiting): dropped,
# never sent to php-fpm
python3 - "$PORT" <<'PY'
import socket, sys
for i in range(1, 7):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(("GET /id.php?id=gone%d HTTP/1.1\r\nHost: x\r\n\r\n" % i).encode())
    s.close()
PY
wait "$SLOW"
is "$(body /id.php?id=after | cut -d' ' -f1)" "id=after" "after the slow one, the next request is served"
ran=$(ls "$W" | grep -c '^ran-gone' || true)
is "$ran" 0 "requests whose clients left while queued never ran"
like "$(cat "$T/wharf.err")" "client went away" "the dropped requests are logged"
stop_pid "$WPID"

write_ini 2
start_wharf_ini "$T/wharf.ini"
read -r good npids why < <(python3 -c "$LOAD" "$PORT" 16 10)
is "$good" 160 "max_conns 2, 2 workers: all 160 answers right ${why:+($why)}"
ok $((npids >= 1 && npids <= 2 ? 0 : 1)) "max_conns 2: at most two php-fpm children served ($npids)"

# shutdown with two requests running (3 s) and five queued: the drain waits shutdown_timeout
# (1 s), then the queued ones are answered 503 and wharf exits promptly
rm -f "$W"/ran-*
curl -s -o /dev/null "$(URL /id.php?us=3000000\&id=run1)" &
curl -s -o /dev/null "$(URL /id.php?us=3000000\&id=run2)" &
wait_until 2000 test -e "$W/ran-run1" -a -e "$W/ran-run2"
ok $? "two slow requests hold both connections"
CODES=$T/codes
: >"$CODES"
CURLS=()
for i in 1 2 3 4 5; do
    (curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$(URL /id.php?id=q$i)" >>"$CODES") &
    CURLS+=($!)
done
sleep 0.3
t0=$(now_ms)
kill "$WPID"
wait "$WPID"
rc=$?
t1=$(now_ms)
is "$rc" 0 "wharf exits with 0 on SIGTERM with requests in flight"
ok $(((t1 - t0) < 2700 ? 0 : 1)) "and after shutdown_timeout (1 s), not after the scripts ($((t1 - t0)) ms)"
for p in "${CURLS[@]}"; do wait "$p"; done
t2=$(now_ms)
ok $(((t2 - t0) < 6000 ? 0 : 1)) "every queued client was answered or closed promptly ($((t2 - t0)) ms)"
is "$(sort -u "$CODES" | tr '\n' ' ')" "503 " "queued requests are answered 503 at shutdown, never left hanging ($(tr '\n' ' ' <"$CODES"))"
ran=$(ls "$W" | grep -c '^ran-q' || true)
is "$ran" 0 "queued requests never ran after shutdown began"
finish
