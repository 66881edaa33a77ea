#!/usr/bin/env bash
# The bundled libmicrohttpd's patches (third_party/patches/), through the real binary:
# 0002: an idle kept-alive connection holds no pool page once idle for 0.5-1 s (RSS per idle connection, measured by
#       bench/idle_conns.py: 16.8 KB with Debian's 0.9.75, under 1 KB patched; limit 4 KB), and a
#       reused connection still works: pipelined requests, then a large request head after
#       small ones on the same connection (the dropped pages read as zeros again);
# 0003: a large file goes out in sendfile() calls of more than 128 KiB (strace counts them);
# 0004: a request suspended while php-fpm works keeps its socket in the epoll set (strace: no
#       epoll_ctl on the client's socket after its first request, and no read that finds
#       EAGAIN after each answer), and what the client does meanwhile is not lost: a request
#       sent on the same connection while the first waits is answered next, and a client that
#       hangs up while its request waits has its socket closed once the answer comes;
# 0002 again: the pool is no longer zeroed between requests, so a request's headers must never
#       show up in the next one's on the same connection (PHP prints every header it got);
# 0005: resumed connections are found without walking every suspended one: 100 clients whose
#       PHP requests finish in a shuffled order (resumed in another order than suspended) all
#       get their own answers, three times each on their kept-alive connections;
# 0004 + 0005 together: 60 hostile clients (pipelining, hanging up while suspended) get only
#       right answers, and no connection is left open afterwards;
# 0008: a response whose head and body went out in one write is finished in that turn (strace:
#       no loop turn between the requests that only polls and finds nothing);
# 0006: the Date header, now formatted once a second per thread, is the current second on
#       every response and moves on with the clock; the activity update, now skipped within
#       a millisecond, still keeps 20 busy connections open past idle_timeout while an idle one
#       is closed on time;
# 0007: a request whose Content-Length is not a number (400) or too large for 64 bits (413)
#       gets one response: one head, then the body its Content-Length counts (it was two heads).
# Skipped when built with --with-libmicrohttpd=system (the patches are not in).
. "$(dirname "$0")/lib.sh"

[ "${WHARF_MHD:-bundled}" = bundled ] || skip_all "built with --with-libmicrohttpd=$WHARF_MHD"
command -v python3 >/dev/null || skip_all "python3 missing"
command -v strace >/dev/null || skip_all "strace missing"

W=$T/www
mkdir -p "$W"
head -c 1024 /dev/urandom >"$W/1k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$W/10m.bin"
printf 'small\n' >"$W/a.txt"
printf 'second\n' >"$W/b.txt"

# The Python clients below share this one: an HTTP/1.1 connection, Content-Length bodies.
cat >"$T/h1.py" <<'EOF'
import socket

def request(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, extra)).encode()

class Conn:
    def __init__(self, port, timeout=20):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb")

    def send(self, path, extra=""):
        self.s.sendall(request(path, extra))

    def read(self):
        """(status, body) of the next response"""
        status = self.f.readline().split()[1].decode()
        self.headers = {}  # of this response, names in lower case
        while True:
            line = self.f.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            self.headers[k.strip().lower()] = v.strip()
        n = int(self.headers.get("content-length", 0))
        return status, self.f.read(n).decode()

    def get(self, path, extra=""):
        self.send(path, extra)
        return self.read()

    def close(self):
        self.s.close()
EOF

# traced_wharf OUT EVENTS URL WHARF-ARGS...: wharf as strace's child (tracing a child needs no
# privilege), its EVENTS system calls written to OUT, once URL answers. Sets SPID (strace) and
# TPID (wharf, stopped by its own PID).
traced_wharf() {
    local out=$1 events=$2 url=$3
    shift 3
    strace -f -qq -e trace="$events" -o "$out" "$WHARF" "$@" 2>>"$T/wharf.err" &
    SPID=$!
    PIDS+=("$SPID")
    wait_for_http "$url" 20 || bail "wharf under strace did not start ($url)"
    TPID=$(awk '{print $1}' /proc/$SPID/task/*/children)
    [ -n "$TPID" ] || bail "no wharf process under strace"
    PIDS+=("$TPID")
}

start_wharf --root "$W"

# ---- 0002: idle connections ------------------------------------------------------------
N=400
python3 "$SRCDIR/bench/idle_conns.py" --port "$PORT" --pid "$WPID" --count $N --path /1k.bin \
    --settle 3 --timeout 60 >"$T/idle.json" 2>"$T/idle.err"
read -r okn kb < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["still_open"], r["kb_per_conn"])' "$T/idle.json")
is "$okn" "$N" "$N idle kept-alive connections answered and held open"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 4.0 else 1)' "$kb"
ok $? "an idle kept-alive connection costs at most 4 KB of RSS (measured: $kb KB; 16.8 unpatched)"

# Reused connections: three pipelined requests in one write, then (same connection) a request
# whose head is 9 KiB (it grows the read buffer into dropped pages) after the small ones, then a small one again.
python3 - "$PORT" "$T" >"$T/reuse.out" 2>&1 <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from h1 import Conn, request
c = Conn(int(sys.argv[1]))
c.s.sendall(request("/a.txt") + request("/b.txt") + request("/a.txt"))
got = [c.read() for _ in range(3)]
print("pipelined", " ".join("%s:%s" % (st, b.strip()) for st, b in got))
big = "".join("X-Pad-%d: %s\r\n" % (i, "p" * 100) for i in range(80))  # ~9 KiB: more than the 8 KiB read buffer
st, b = c.get("/b.txt", big)
print("large-head", st, b.strip())
st, b = c.get("/a.txt")
print("after", st, b.strip())
EOF
out=$(cat "$T/reuse.out")
like "$out" "pipelined 200:small 200:second 200:small" "three pipelined requests on one connection: three right answers"
like "$out" "large-head 200 second" "a 9 KiB request head after small requests on the same connection is served"
like "$out" "after 200 small" "and the connection still serves the next request"
stop_pid "$WPID"

# ---- 0003: sendfile chunks -------------------------------------------------------------
PORT2=$(free_port)
traced_wharf "$T/strace.out" sendfile "http://127.0.0.1:$PORT2/" --root "$W" --listen "127.0.0.1:$PORT2"
WPID2=$TPID
want=$(sha256sum <"$W/10m.bin" | cut -d' ' -f1)
for i in 1 2 3; do
    got=$(curl -s --max-time 60 "http://127.0.0.1:$PORT2/10m.bin" | sha256sum | cut -d' ' -f1)
    is "$got" "$want" "10 MiB file, download $i, byte-identical"
done
stop_pid "$WPID2"
wait "$SPID" 2>/dev/null
calls=$(grep -c 'sendfile(' "$T/strace.out")
max=$(grep -o '= [0-9]*$' "$T/strace.out" | awk '$2 > m { m = $2 } END { print m + 0 }')
ok "$([ "$max" -gt 131072 ] && echo 0 || echo 1)" \
    "a sendfile() call sent more than 128 KiB (largest: $max bytes, $calls calls for 30 MiB; unpatched: at most 131072, 240 calls)"

# ---- 0004: suspended connections stay in the epoll set ---------------------------------
P=$T/php
mkdir -p "$P"
printf '<?php echo "hello ", $_SERVER["REQUEST_URI"], "\\n";\n' >"$P/hello.php"
printf '<?php usleep(400000); echo "slow\\n";\n' >"$P/slow.php"
start_fpm m81 "$T/fpm.sock"
PORT=$(free_port)
APORT=$(free_port)
cat >"$T/php.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
admin_listen = 127.0.0.1:$APORT
workers = 1
[site php]
root = $P
fastcgi = unix:$T/fpm.sock
EOF
traced_wharf "$T/strace4.out" epoll_ctl,recvfrom,close,epoll_wait "http://127.0.0.1:$PORT/hello.php" \
    --config "$T/php.ini"
WPID4=$TPID

# 20 PHP requests on one kept-alive connection, 20 ms apart (as a browser's: each one after the
# last answer, never already waiting when the answer goes out)
python3 - "$PORT" "$T" >"$T/seq.out" 2>&1 <<'EOF'
import sys, time
sys.path.insert(0, sys.argv[2])
from h1 import Conn
c = Conn(int(sys.argv[1]))
for i in range(1, 21):
    print(c.get("/hello.php?n=%d" % i)[1].strip())
    time.sleep(0.02)
EOF
out=$(cat "$T/seq.out")
is "$(printf '%s\n' "$out" | grep -c '^hello /hello.php?n=')" 20 "20 PHP requests on one connection: 20 answers"
like "$out" "n=20" "the last one answered too"
sleep 0.2
# the client's socket: the one the requests were read from
cfd=$(grep -m1 -o 'recvfrom([0-9]*, "GET /hello.php?n=1 ' "$T/strace4.out" | grep -o '[0-9]*' | head -1)
# epoll_ctl calls on that socket from the first request's read to the last one's
ctl=$(awk -v fd="${cfd:-none}" 'index($0, "recvfrom(" fd ", \"GET /hello.php?n=1 ") { on = 1 }
    on && index($0, "EPOLL_CTL_") && index($0, ", " fd ", ") { n++ }
    index($0, "recvfrom(" fd ", \"GET /hello.php?n=20 ") { on = 0 } END { print n + 0 }' "$T/strace4.out")
ok "$([ -n "$cfd" ] && [ "$ctl" = 0 ] && echo 0 || echo 1)" \
    "20 suspended and resumed requests: no epoll_ctl on the client's socket (fd ${cfd:-?}: $ctl calls; unpatched: 38)"
eagain=$(awk -v fd="${cfd:-none}" 'index($0, "recvfrom(" fd ", \"GET /hello.php?n=1 ") { on = 1 }
    on && index($0, "recvfrom(" fd ", ") && index($0, "EAGAIN") { n++ }
    index($0, "recvfrom(" fd ", \"GET /hello.php?n=20 ") { on = 0 } END { print n + 0 }' "$T/strace4.out")
ok "$([ -n "$cfd" ] && [ "$eagain" -le 1 ] && echo 0 || echo 1)" \
    "no read that only finds EAGAIN after each answer ($eagain on the client's socket; unpatched: 19)"
# 0008: a response sent whole in one write is finished in the same turn, so the worker's loop
# spends no turn only on that: no poll of the loop's epoll set with a zero timeout that finds
# nothing, between the first request and the last (without the patch one per request; the
# loop's set is the one whose epoll_wait reported php-fpm's answer)
loopfd=$(awk '/epoll_wait\(/ { fd = $0; sub(/.*epoll_wait\(/, "", fd); sub(/,.*/, "", fd) }
    /recvfrom\([0-9]+, "\\1\\6/ { print fd; exit }' "$T/strace4.out")
idle_polls=$(awk -v fd="${cfd:-none}" -v ep="${loopfd:-none}" '
    index($0, "recvfrom(" fd ", \"GET /hello.php?n=1 ") { on = 1 }
    on && index($0, "epoll_wait(" ep ", [], ") && / 0\) += 0$/ { n++ }
    index($0, "recvfrom(" fd ", \"GET /hello.php?n=20 ") { on = 0 } END { print n + 0 }' "$T/strace4.out")
ok "$([ -n "$cfd" ] && [ -n "$loopfd" ] && [ "$idle_polls" -le 3 ] && echo 0 || echo 1)" \
    "0008: each answer is finished in the turn it is sent ($idle_polls idle zero-timeout polls of the loop (fd ${loopfd:-?}) over 19 requests; unpatched: about 1 per request)"

# a request sent while the first one is suspended, on the same connection, is answered after it
python3 - "$PORT" "$T" >"$T/during.out" 2>&1 <<'EOF'
import sys, time
sys.path.insert(0, sys.argv[2])
from h1 import Conn
c = Conn(int(sys.argv[1]))
c.send("/slow.php")
time.sleep(0.15)  # slow.php sleeps 0.4 s: the connection is suspended now
c.send("/hello.php?second")
st, b = c.read()
print("first", st, b.strip())
st, b = c.read()
print("second", st, b.strip())
EOF
out=$(cat "$T/during.out")
like "$out" "first 200 slow" "a request that waits for php-fpm is answered"
like "$out" "second 200 hello /hello.php[?]second" "a request sent on its connection while it waited is answered next"

# a client that hangs up while its request waits: its socket is closed once the answer comes
python3 - "$PORT" "$T" >"$T/hangup.out" 2>&1 <<'EOF'
import sys, time
sys.path.insert(0, sys.argv[2])
from h1 import Conn
c = Conn(int(sys.argv[1]))
c.send("/slow.php?hangup")
time.sleep(0.1)
c.close()
EOF
sleep 1
hfd=$(grep -m1 -o 'recvfrom([0-9]*, "GET /slow.php?hangup ' "$T/strace4.out" | grep -o '[0-9]*' | head -1)
closed=$(awk -v fd="${hfd:-none}" 'index($0, "recvfrom(" fd ", \"GET /slow.php?hangup") { seen = 1 }
    seen && index($0, "close(" fd ")") { c = 1 } END { print c + 0 }' "$T/strace4.out")
ok "$([ -n "$hfd" ] && [ "$closed" = 1 ] && echo 0 || echo 1)" \
    "a client that hung up while its request waited: its socket (fd ${hfd:-?}) is closed"
is "$(body /hello.php?after)" "hello /hello.php?after" "wharf serves on after that"

# ---- 0002: nothing of one request shows up in the next on the same connection --------------
printf '<?php foreach ($_SERVER as $k => $v) if (strncmp($k, "HTTP_", 5) == 0) echo "$k=$v\n";\n' \
    >"$P/headers.php"
python3 - "$PORT" "$T" >"$T/stale.out" 2>&1 <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from h1 import Conn
secret = "s3cr3t-" + "q" * 3000
c = Conn(int(sys.argv[1]))
st1, b1 = c.get("/headers.php?first", "X-Secret: %s\r\nX-Other: %s\r\n" % (secret, "o" * 2000))
st2, b2 = c.get("/headers.php?second")
st3, b3 = c.get("/a.txt/../headers.php?third", "X-Short: 1\r\n")
print("first", st1, "has-secret" if secret in b1 else "no-secret")
print("second", st2, "LEAK" if ("s3cr3t" in b2 or "qqqq" in b2 or "oooo" in b2) else "clean", len(b2))
print("third", st3, "LEAK" if ("s3cr3t" in b3 or "qqqq" in b3 or "oooo" in b3) else "clean", len(b3))
EOF
out=$(cat "$T/stale.out")
like "$out" "first 200 has-secret" "a request with 5 KB of headers reaches PHP"
like "$out" "second 200 clean" "the next request on the same connection carries none of them"
like "$out" "third [0-9]+ clean" "nor the one after"

# ---- 0005: many suspended, resumed in a shuffled order -------------------------------------
printf '<?php usleep(mt_rand(0, 30000)); echo "id ", $_GET["id"], "\n";\n' >"$P/shuffle.php"
python3 - "$PORT" "$T" >"$T/shuffle.out" 2>&1 <<'EOF'
import sys, threading
sys.path.insert(0, sys.argv[2])
from h1 import Conn
port = int(sys.argv[1])
wrong, answered = [], [0]
lock = threading.Lock()
def client(n):
    try:
        c = Conn(port, timeout=60)
        for k in range(3):
            status, body = c.get("/shuffle.php?id=%d-%d" % (n, k))
            with lock:
                if status != "200" or body.strip() != "id %d-%d" % (n, k):
                    wrong.append((n, k, status, body))
                else:
                    answered[0] += 1
        c.close()
    except Exception as e:
        with lock:
            wrong.append((n, "error", str(e)))
threads = [threading.Thread(target=client, args=(n,)) for n in range(100)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("answered", answered[0], "wrong", len(wrong), wrong[:3])
EOF
like "$(cat "$T/shuffle.out")" "answered 300 wrong 0" \
    "100 clients x 3 PHP requests finishing in a shuffled order: 300 right answers ($(head -c 200 "$T/shuffle.out"))"
is "$(body /hello.php?last)" "hello /hello.php?last" "and wharf serves on"

# ---- 0004 + 0005 under hostile clients -----------------------------------------------------
# 60 clients for 6 s: kept-alive requests that wait for php-fpm, some pipelined while waiting,
# some abandoned while suspended; every answer that is read must be right, and afterwards no
# connection may be left open (a suspended one lost would stay forever).
python3 - "$PORT" "$T" >"$T/hostile.out" 2>&1 <<'EOF'
import random, sys, threading, time
sys.path.insert(0, sys.argv[2])
from h1 import Conn
port, stop = int(sys.argv[1]), time.time() + 6
counts = {"right": 0, "wrong": 0, "abandoned": 0, "error": 0}
lock = threading.Lock()
def note(k):
    with lock:
        counts[k] += 1
def client(seed):
    rnd = random.Random(seed)
    while time.time() < stop:
        try:
            c = Conn(port, timeout=30)
            for i in range(rnd.randint(1, 4)):
                tag = "%d-%d-%d" % (seed, i, rnd.randint(0, 1 << 30))
                c.send("/shuffle.php?id=" + tag)
                mode = rnd.random()
                if mode < 0.2:  # gone while the request waits for php-fpm
                    time.sleep(rnd.random() * 0.02)
                    note("abandoned")
                    break
                tags = [tag]
                if mode < 0.35:  # a second request while the first is suspended
                    tags.append(tag + "-p")
                    c.send("/shuffle.php?id=" + tags[1])
                for t in tags:
                    st, body = c.read()
                    note("right" if st == "200" and body.strip() == "id " + t else "wrong")
            c.close()
        except Exception:
            note("error")
threads = [threading.Thread(target=client, args=(n,)) for n in range(60)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("right %(right)d wrong %(wrong)d abandoned %(abandoned)d error %(error)d" % counts)
EOF
out=$(cat "$T/hostile.out")
like "$out" "right [1-9][0-9]* wrong 0 abandoned [1-9][0-9]* error 0" \
    "60 hostile clients for 6 s (pipelining and hanging up while suspended): every answer read is right ($out)"
open_conns() { curl -s --max-time 5 "http://127.0.0.1:$APORT/status" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["connections"]["open"])' 2>/dev/null; }
wait_until 10000 test "$(open_conns)" = 0
ok $? "afterwards no client connection is left open (open: $(open_conns))"
stop_pid "$WPID4"
wait "$SPID" 2>/dev/null

# ---- 0006: the Date string once a second, the activity update once a millisecond -----------
# A static server with idle_timeout = 2s, for both checks.
PORT=$(free_port)
cat >"$T/timeout.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
idle_timeout = 2s

[site main]
root = $W
EOF
start_wharf_ini "$T/timeout.ini"

# One kept-alive connection, a request every 0.1 s for 2.6 s: each Date is the second the answer
# was read in (a cached string that did not move on would fall behind), and the values go up
# one second at a time.
python3 - "$PORT" "$T" >"$T/date.out" 2>&1 <<'EOF'
import email.utils, sys, time
sys.path.insert(0, sys.argv[2])
from h1 import Conn
c, seen, bad = Conn(int(sys.argv[1])), [], []
end = time.time() + 2.6
while time.time() < end:
    before = time.time()
    status, _ = c.get("/a.txt")
    after = time.time()
    d = email.utils.parsedate_to_datetime(c.headers.get("date", "")).timestamp()
    # time(), which libmicrohttpd reads, is the kernel's coarse clock: up to a tick (<= 10 ms)
    # behind the one Python reads, so just after a second begins it may still say the last one
    if status != "200" or not int(before - 0.05) <= d <= int(after):
        bad.append((status, c.headers.get("date"), before, after))
    if not seen or seen[-1] != d:
        seen.append(d)
    time.sleep(0.1)
steps = {b - a for a, b in zip(seen, seen[1:])}
print("bad", len(bad), bad[:2], "seconds", len(seen), "steps", sorted(steps))
EOF
like "$(cat "$T/date.out")" "^bad 0 \[\] seconds [3-9] steps \[1.0\]$" \
    "0006: Date is the current second on every response and moves on one second at a time ($(cat "$T/date.out"))"

# 20 connections busy every 0.25 s for 3.5 s stay open (every answer on the
# connection it was asked on), and an idle one opened with them is closed after about 2 s.
python3 - "$PORT" "$T" >"$T/timeout.out" 2>&1 <<'EOF'
import socket, sys, threading, time
sys.path.insert(0, sys.argv[2])
from h1 import Conn
port, results, lock = int(sys.argv[1]), [], threading.Lock()
idle = socket.create_connection(("127.0.0.1", port), timeout=10)
opened = time.time()
def busy():
    ok = 0
    try:
        c = Conn(port, timeout=10)
        for _ in range(14):
            status, body = c.get("/a.txt")
            ok += status == "200" and body == "small\n"
            time.sleep(0.25)
    except Exception:
        pass
    with lock:
        results.append(ok)
threads = [threading.Thread(target=busy) for _ in range(20)]
for t in threads:
    t.start()
closed_after = "never"
try:
    if idle.recv(1) == b"":
        closed_after = "%.1f" % (time.time() - opened)
except OSError:
    closed_after = "%.1f" % (time.time() - opened)
for t in threads:
    t.join()
print("answered", sum(results), "of", 20 * 14, "idle closed after", closed_after)
EOF
out=$(cat "$T/timeout.out")
like "$out" "^answered 280 of 280 " \
    "0006: 20 connections busy every 0.25 s keep their connection past idle_timeout = 2s ($out)"
after=$(sed -n 's/.*idle closed after //p' "$T/timeout.out")
python3 -c "import sys; sys.exit(0 if 1.5 <= float('${after/never/99}') < 5 else 1)"
ok $? "0006: meanwhile an idle connection is closed after ~2 s (after $after s)"

# ---- 0007: a bad Content-Length is answered once ------------------------------------------
bad_cl() { # VALUE -> "STATUS heads=N body_ok=yes|no closed=yes|no" for a POST with that Content-Length
    python3 - "$PORT" "$1" <<'EOF'
import re, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: %s\r\n\r\n" % sys.argv[2]).encode())
data = b""
closed = "no"
try:
    while True:
        d = s.recv(65536)
        if not d:
            closed = "yes"
            break
        data += d
except socket.timeout:
    pass
head, _, body = data.partition(b"\r\n\r\n")
m = re.search(rb"\r\nContent-Length: (\d+)", head)
status = head.split(b" ")[1].decode() if head.startswith(b"HTTP/1.1 ") else "none"
body_ok = "yes" if m and len(body) == int(m.group(1)) and not body.startswith(b"HTTP/") else "no"
print(status, "heads=%d" % data.count(b"HTTP/1.1 "), "body_ok=" + body_ok, "closed=" + closed)
EOF
}
is "$(bad_cl 99999999999999999999)" "413 heads=1 body_ok=yes closed=yes" \
    "0007: Content-Length beyond 64 bits: one 413 response, its body as long as it says, then closed"
is "$(bad_cl -1)" "400 heads=1 body_ok=yes closed=yes" \
    "0007: Content-Length -1: one 400 response, its body as long as it says, then closed"
is "$(bad_cl 12abc)" "400 heads=1 body_ok=yes closed=yes" \
    "0007: Content-Length 12abc: one 400 response, then closed"
is "$(curl -s "http://127.0.0.1:$PORT/a.txt")" "small" "and wharf serves on"
