#!/usr/bin/env bash
# Small files are sent from one in-memory response shared by every connection. Its bytes must
# live as long as any connection still sends them, even when the cache entry holding them is
# replaced meanwhile: a directory's index file ("/") makes a new entry on every request, and
# the bytes of the one it replaced used to be freed while other connections were sending them
# (the client got the file's first 8 bytes overwritten by malloc's free-list pointer, ~1 in
# 300 requests with a few concurrent clients). Many concurrent one-request connections, every
# body compared with the file.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www"
printf 'shared-body-check' >"$T/www/index.html"
start_wharf --root "$T/www"
out=$(python3 - "$PORT" <<'PY'
import socket, sys, threading, time
port = int(sys.argv[1])
want = b"shared-body-check"
counts = {"ok": 0, "bad": 0}
sample = []
lock = threading.Lock()
def run(path, until):
    while time.time() < until:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
        good = data.startswith(b"HTTP/1.1 200") and data.partition(b"\r\n\r\n")[2] == want
        with lock:
            counts["ok" if good else "bad"] += 1
            if not good and len(sample) < 1:
                sample.append(data[-40:])
until = time.time() + 3
ts = [threading.Thread(target=run, args=(p, until)) for p in (b"/", b"/", b"/index.html", b"/")]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(counts["ok"], counts["bad"], sample)
PY
)
read -r good bad rest <<<"$out"
ok $([ "${good:-0}" -gt 1000 ]; echo $?) "many requests were made ($good)"
is "$bad" 0 "every body is the file's exact bytes, while cache entries are replaced (${rest})"
finish
