#!/usr/bin/env bash
# Small files answered from memory stay intact under concurrency: the index file of "/" (each
# request re-reads it and replaces its cache entry) and a file asked for directly, from two
# worker threads and eight keep-alive clients, every body checked. A replaced entry used to
# free its bytes while another connection was still sending its response (garbage bodies of
# the right length).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www" "$T/other"
printf 'index d' >"$T/www/index.html"
printf 'index o' >"$T/other/index.html"
printf 'a small file' >"$T/www/f.txt"
PORT=$(free_port)
printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "workers = 2" "[site o]" "hosts = o.test" \
    "root = $T/other" "[site d]" "root = $T/www" >"$T/w.ini"
start_wharf_ini "$T/w.ini"

out=$(python3 - "$PORT" <<'PY'
import http.client, sys, threading, time
port = int(sys.argv[1])
want = {("d.test", "/"): b"index d", ("o.test", "/"): b"index o", ("d.test", "/f.txt"): b"a small file"}
keys = list(want)
bad, total, lock = [], [0], threading.Lock()
def client(i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    end = time.time() + 3
    n = 0
    while time.time() < end:
        host, path = keys[(n + i) % 3]
        n += 1
        conn.request("GET", path, headers={"Host": host})
        r = conn.getresponse()
        body = r.read()
        with lock:
            total[0] += 1
            if r.status != 200 or body != want[(host, path)]:
                bad.append((host, path, r.status, body[:20]))
ts = [threading.Thread(target=client, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print(total[0], len(bad), bad[:3])
PY
)
read -r total nbad rest <<<"$out"
ok $([ "$total" -gt 1000 ] && echo 0 || echo 1) "many requests were made ($total)"
is "$nbad" "0" "every body is the file's (bad: $rest)"
finish
