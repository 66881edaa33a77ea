#!/usr/bin/env bash
# Live reload (SIGHUP) of the [server] limits: they take the new values at once, without a
# restart. After a reload that lowers them: the (N+1)th connection from 127.0.0.1 is refused
# (max_connections_per_ip, set from 0 = off), a slow head is cut sooner (header_timeout), an
# idle connection is closed sooner (idle_timeout), a URI and a head that passed before get 414
# and 431 (max_uri_length, max_header_size). A listener the reload removes: its idle
# keep-alive connection is closed within about a second, and one with a request under way
# gets "Connection: close" on that response and is closed. The keys that still need a restart
# are the only ones the reload warns about.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/d"
printf 'default' >"$T/d/index.html"
truncate -s 256M "$T/d/big.bin" # sparse: a download that a client which stops reading stalls
PORT=$(free_port)
PORT2=$(free_port)
v1() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "listen = 127.0.0.1:$PORT2" \
        "[site d]" "root = $T/d"
}
v2() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "max_connections_per_ip = 3" \
        "header_timeout = 2s" "idle_timeout = 2s" "max_uri_length = 1k" "max_header_size = 4k" \
        "error_log_format = json" "workers = 3" "shutdown_timeout = 1s" "[site d]" "root = $T/d"
}
v1 >"$T/w.ini"
start_wharf_ini "$T/w.ini"

long_uri="/$(head -c 2000 /dev/zero | tr '\0' a)"
big_header="X-Big: $(head -c 6000 /dev/zero | tr '\0' b)"
is "$(status "$long_uri")" "404" "before: a 2000-byte URI passes (404: no such file)"
is "$(status / -H "$big_header")" "200" "before: a 6 KB head passes"

# The removed listener's connections, across the reload (python: exact socket states).
# A: one response, then idle. B: one response, then the head of a second request, not
# finished. Then the reload (v2 drops PORT2); then B finishes its head.
cat >"$T/removed.py" <<'PY'
import os, re, signal, socket, sys, time
port2, pid, err, ini, v2 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < n:
        body += s.recv(65536)
    return head.decode("latin-1")

def closed_within(s, secs):
    s.settimeout(secs)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

def reloads():
    return open(err).read().count("configuration reloaded")

req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
a = socket.create_connection(("127.0.0.1", port2))
b = socket.create_connection(("127.0.0.1", port2))
for s in (a, b):
    s.sendall(req)
    print("before", "keepalive" if "close" not in response(s).lower() else "close")
b.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the rest of its head after the reload
time.sleep(0.3)
n = reloads()
open(ini, "w").write(v2)
os.kill(pid, signal.SIGHUP)
end = time.time() + 10
while reloads() == n and time.time() < end:
    time.sleep(0.05)
t0 = time.time()
print("idle_closed", "yes" if closed_within(a, 3) else "no")
print("idle_ms", int((time.time() - t0) * 1000))
# every worker takes the reload's removal at its next turn; "reloaded" in the log and a's close
# (maybe on the other worker) do not prove b's worker had its turn yet: give it one
time.sleep(0.2)
b.sendall(b"\r\n")
head = response(b)
print("busy_response", "none" if head is None else head.split("\r\n")[0].split(" ")[1])
print("busy_close", "yes" if head and re.search(r"(?im)^connection: *close", head) else "no")
print("busy_closed", "yes" if closed_within(b, 3) else "no")
PY
out=$(python3 "$T/removed.py" "$PORT2" "$WPID" "$T/wharf.err" "$T/w.ini" "$(v2)")
printf '%s\n' "$out" | sed 's/^/# /'
val() { printf '%s\n' "$out" | awk -v k="$1" '$1 == k { print $2; exit }'; }
is "$(printf '%s\n' "$out" | grep -c '^before keepalive')" "2" "before: both connections are kept alive"
is "$(val idle_closed)" "yes" "removed listener: its idle keep-alive connection is closed"
ok "$(within "$(val idle_ms)" 0 2500 && echo 0 || echo 1)" "... within about a second ($(val idle_ms) ms)"
is "$(val busy_response)" "200" "removed listener: a request under way is answered"
is "$(val busy_close)" "yes" "... with Connection: close"
is "$(val busy_closed)" "yes" "... and its connection is closed"
wait_until 5000 eval '! curl -s -o /dev/null --max-time 1 http://127.0.0.1:$PORT2/'
ok $? "the removed listener refuses new connections"

is "$(status "$long_uri")" "414" "max_uri_length lowered: the same URI gets 414 at once"
is "$(status / -H "$big_header")" "431" "max_header_size lowered: the same head gets 431 at once"
for k in max_connections_per_ip header_timeout idle_timeout max_uri_length max_header_size error_log_format shutdown_timeout; do
    ! grep -q "\[server\] $k changed" "$T/wharf.err"
    ok $? "no restart warning for $k"
done
grep -q '\[server\] workers changed: it takes effect at the next restart' "$T/wharf.err"
ok $? "workers still warns that it needs a restart"
wait_grep "$T/wharf.err" '^\{.*"message"' 5
ok $? "error_log_format = json: the next lines are JSON"

# header_timeout 2s: a head trickled one field every 0.5 s is cut (30 s before the reload);
# idle_timeout 2s: a connection idle after its response is closed (60 s before)
cat >"$T/timeouts.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
t0 = time.time()
cut = False
while time.time() - t0 < 10:
    try:
        s.sendall(b"X-Slow: 1\r\n")
        s.settimeout(0.5)
        if s.recv(1) == b"":
            cut = True
            break
    except socket.timeout:
        continue
    except OSError:
        cut = True
        break
print("slow_cut", "yes" if cut else "no", int((time.time() - t0) * 1000))
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(1)
s.recv(65536)
t0 = time.time()
s.settimeout(10)
try:
    gone = s.recv(65536) == b""
except (socket.timeout, OSError) as e:
    gone = not isinstance(e, socket.timeout)
print("idle_gone", "yes" if gone else "no", int((time.time() - t0) * 1000))
PY
out=$(python3 "$T/timeouts.py" "$PORT")
printf '%s\n' "$out" | sed 's/^/# /'
set -- $(printf '%s\n' "$out" | grep '^slow_cut')
is "$2" "yes" "header_timeout lowered: a trickled head is cut within 10 s"
ok "$(within "$3" 1500 6000 && echo 0 || echo 1)" "... after about 2 s ($3 ms)"
set -- $(printf '%s\n' "$out" | grep '^idle_gone')
is "$2" "yes" "idle_timeout lowered: an idle connection is closed within 10 s"
ok "$(within "$3" 1000 6000 && echo 0 || echo 1)" "... after about 2 s ($3 ms)"

# max_connections_per_ip 3 (off before the reload): three kept-alive connections from
# 127.0.0.1 are served, the fourth is closed without an answer
cat >"$T/perip.py" <<'PY'
import socket, sys
port = int(sys.argv[1])
def ask(s):
    s.settimeout(5)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(65536)
    except OSError:
        return "refused"
    return data.split(b" ")[1].decode() if data else "refused"
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
print(" ".join(ask(s) for s in conns))
PY
is "$(python3 "$T/perip.py" "$PORT")" "200 200 200 refused" \
    "max_connections_per_ip set by the reload: the 4th connection from 127.0.0.1 is refused"
is "$(status /)" "200" "... and one is admitted again once they closed"

kill -0 "$WPID"
ok $? "wharf still runs"

# shutdown_timeout 1s (30 s before the reload): a download whose client stopped reading keeps
# the drain waiting; SIGTERM ends it after about 1 s
python3 - "$PORT" >"$T/stall.out" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
print(len(s.recv(4096)), flush=True)
time.sleep(30)
PY
STALL=$!
PIDS+=("$STALL")
wait_until 5000 test -s "$T/stall.out"
ok $? "a download is under way"
t0=$(now_ms)
kill -TERM "$WPID"
wait_until 8000 eval '! kill -0 $WPID 2>/dev/null'
ok $? "shutdown_timeout lowered: SIGTERM ends the stalled download's drain within 8 s"
ok "$(within $(($(now_ms) - t0)) 0 4000 && echo 0 || echo 1)" "... after about 1 s ($(($(now_ms) - t0)) ms)"
grep -q 'shutdown_timeout (1000 ms) reached' "$T/wharf.err"
ok $? "the log names the reloaded shutdown_timeout"
