#!/usr/bin/env bash
# Limits: max_uri_length (414), max_header_size (431 or 400), header_timeout (slowloris),
# idle_timeout (keep-alive), max_connections_per_ip and max_connections, sane defaults, and
# malformed requests (4xx/501, never a crash: the server answers afterwards).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www"
printf 'hello inside\n' >"$T/www/hello.txt"

# h.py: the socket-level clients. Every outcome is printed as text; nothing here asserts.
cat >"$T/h.py" <<'PY'
import select, socket, sys, threading, time

def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)

def read_response(s, timeout=5.0):
    """One response: (status or None, body bytes); status "closed"/"reset"/"timeout"."""
    s.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return ("closed" if not buf else "partial", b"")
            buf += d
    except socket.timeout:
        return ("timeout", b"")
    except (ConnectionResetError, BrokenPipeError):
        return ("reset" if not buf else "partial", b"")
    head, body = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n")[0].split(b" ")[1].decode()
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    try:
        while len(body) < n:
            d = s.recv(65536)
            if not d:
                break
            body += d
    except OSError:
        pass
    return (status, body)

def get(port, path="/hello.txt", extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n" + extra + b"\r\n"

def cmd_send(port, expr):
    """send the bytes of a Python expression, print the status (or closed/reset/timeout)"""
    req = eval(expr)
    if isinstance(req, str):
        req = req.encode("latin-1")
    s = connect(port)
    try:
        s.sendall(req)
    except (ConnectionResetError, BrokenPipeError):
        pass
    print(read_response(s)[0])

def normal_ok(port):
    try:
        s = connect(port)
        s.sendall(get(port, extra=b"Connection: close\r\n"))
        st, body = read_response(s, 3)
        s.close()
        return st == "200" and body == b"hello inside\n"
    except OSError:
        return False

def cmd_slowloris(port):
    """request line, then one header byte per 0.5 s; meanwhile normal clients keep asking"""
    stop = threading.Event()
    results = []
    def normal():
        while not stop.is_set():
            results.append(normal_ok(port))
            time.sleep(0.25)
    t = threading.Thread(target=normal)
    s = connect(port)
    start = time.monotonic()
    s.sendall(b"GET /hello.txt HTTP/1.1\r\n")
    t.start()
    trickle = b"Host: localhost\r\nX-Slow: " + b"a" * 1000
    got = b""
    cut = None
    i = 0
    while time.monotonic() - start < 10:
        r, _, _ = select.select([s], [], [], 0.5)
        if r:
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if not d:
                cut = time.monotonic() - start
                break
            got += d
            continue
        try:
            s.send(trickle[i:i + 1])
            i += 1
        except OSError:
            cut = time.monotonic() - start
            break
    stop.set()
    t.join()
    first = got.split(b"\r\n")[0].decode("latin-1") if got else "-"
    print("cut=%s first=%s normal_ok=%d normal_total=%d" % (
        "%.2f" % cut if cut is not None else "never", first.replace(" ", "_"),
        sum(results), len(results)))

def cmd_idle(port):
    """a keep-alive request, then silence: seconds until the server closes"""
    s = connect(port)
    s.sendall(get(port))
    st, body = read_response(s)
    t0 = time.monotonic()
    s.settimeout(10)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        print("status=%s closed_after=never" % st)
        return
    except OSError:
        pass
    print("status=%s closed_after=%.2f" % (st, time.monotonic() - t0))

def cmd_active(port, n, gap):
    """n requests on one connection, gap seconds apart: the statuses"""
    s = connect(port)
    out = []
    for i in range(int(n)):
        if i:
            time.sleep(float(gap))
        try:
            s.sendall(get(port))
            out.append(read_response(s)[0])
        except OSError:
            out.append("reset")
    print(" ".join(out))

def cmd_limit(port):
    """two keep-alive connections, then a third; then the two again; then one after closing one"""
    c1, c2 = connect(port), connect(port)
    res = {}
    for name, c in (("c1", c1), ("c2", c2)):
        c.sendall(get(port))
        res[name + "a"] = read_response(c)[0]
    try:
        c3 = connect(port)
        try:
            c3.sendall(get(port))
        except OSError:
            pass
        res["c3"] = read_response(c3, 2)[0]
        c3.close()
    except ConnectionRefusedError:
        res["c3"] = "refused"
    except OSError:
        res["c3"] = "reset"
    for name, c in (("c1", c1), ("c2", c2)):
        try:
            c.sendall(get(port))
            res[name + "b"] = read_response(c)[0]
        except OSError:
            res[name + "b"] = "reset"
    c1.close()
    res["c4"] = "never"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            c4 = connect(port)
            c4.sendall(get(port))
            st = read_response(c4, 1)[0]
            c4.close()
        except OSError:
            st = "reset"
        if st == "200":
            res["c4"] = st
            break
        time.sleep(0.1)
    print(" ".join("%s=%s" % kv for kv in sorted(res.items())))

def cmd_flood(port, n):
    """n connections trickle their heads until the server cuts them; prints how many were cut"""
    socks = [connect(port) for _ in range(int(n))]
    for s in socks:
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    live, start = list(socks), time.monotonic()
    while live and time.monotonic() - start < 10:
        for s in list(live):
            try:
                s.send(b"a")
            except OSError:
                live.remove(s)
        time.sleep(0.3)
    print("cut=%d" % (len(socks) - len(live)))

cmd = sys.argv[1]
port = int(sys.argv[2])
{"flood": cmd_flood, "send": cmd_send, "slowloris": cmd_slowloris, "idle": cmd_idle, "active": cmd_active,
 "limit": cmd_limit}[cmd](port, *sys.argv[3:])
PY
h() { python3 "$T/h.py" "$@"; }
send() { h send "$PORT" "$1"; } # send PYTHON-EXPR: the response status
alive() { # alive NAME: the server still answers GET /hello.txt with 200 and the right body
    is "$(body /hello.txt)" "hello inside" "the server still serves after $1"
}
val() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# ---- configured limits ----------------------------------------------------------------------------
PORT=$(free_port)
cat >"$T/limits.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
max_uri_length = 1k
max_header_size = 8k
header_timeout = 2s
idle_timeout = 2s

[site main]
root = $T/www
EOF
start_wharf_ini "$T/limits.ini"
LIM_PID=$WPID

# URI length (1k = 1024 bytes)
is "$(send '"GET /" + "a/" * 450 + "x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" 404 \
    "max_uri_length = 1k: a 902-byte URI is processed (404, not 414)"
is "$(send '"GET /" + "a" * 2000 + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" 414 \
    "max_uri_length = 1k: a 2001-byte URI is 414"
is "$(send '"GET /hello.txt?" + "q" * 1100 + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" 414 \
    "max_uri_length = 1k: the query string counts too (414)"
alive "414"

# request head size (8k)
is "$(send '"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + "p" * 2000 + "\r\nConnection: close\r\n\r\n"')" 200 \
    "max_header_size = 8k: a 2 KB header is served (200)"
like "$(send '"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "b" * 10000 + "\r\nConnection: close\r\n\r\n"')" \
    '^(431|400)$' "max_header_size = 8k: one 10 KB header is 431 (or 400)"
alive "an oversized header"
like "$(send '"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n" + "".join("X-H%d: %s\r\n" % (i, "v" * 50) for i in range(200)) + "Connection: close\r\n\r\n"')" \
    '^(431|400)$' "max_header_size = 8k: 200 headers of 60 bytes (12 KB) are 431 (or 400)"
alive "too many headers"

# slowloris: header_timeout = 2s
out=$(h slowloris "$PORT")
cut=$(val "$out" cut)
like "$cut" '^[0-9]' "slowloris: the trickling client is disconnected ($out)"
python3 -c "import sys; sys.exit(0 if 1.5 <= float('${cut/never/99}') < 5 else 1)"
ok $? "slowloris: cut off after header_timeout = 2s, in under 5 s (cut=$cut)"
unlike "$(val "$out" first)" '^HTTP/1\.[01]_2' "slowloris: the trickling client never gets a 2xx"
n_ok=$(val "$out" normal_ok)
n_all=$(val "$out" normal_total)
ok $((n_all >= 4 && n_ok == n_all ? 0 : 1)) "slowloris: a normal client keeps being served meanwhile ($n_ok/$n_all)"

# a slowloris flood does not flood the error log: libmicrohttpd's one warning per cut
# connection is limited to 5 lines per kind per 10 s, and the rest summed up in one line
before=$(wc -l <"$T/wharf.err")
out=$(h flood "$PORT" 40)
is "$out" "cut=40" "slowloris flood: all 40 trickling connections are cut"
mhd_lines() { tail -n +"$((before + 1))" "$T/wharf.err" | grep -c 'mhd: Connection socket is closed'; }
n_lines=$(mhd_lines)
ok $((n_lines <= 5 ? 0 : 1)) "slowloris flood: at most 5 libmicrohttpd lines for 40 cut connections ($n_lines)"
summary_seen() { tail -n +"$((before + 1))" "$T/wharf.err" | grep -Eq 'mhd: [0-9]+ more messages like this in 10 s were not logged: Connection socket is closed'; }
wait_until 15000 summary_seen
ok $? "slowloris flood: one summary line counts the lines left out"

# idle keep-alive: idle_timeout = 2s
out=$(h idle "$PORT")
is "$(val "$out" status)" 200 "idle_timeout: the keep-alive request is served"
after=$(val "$out" closed_after)
python3 -c "import sys; sys.exit(0 if 1.5 <= float('${after/never/99}') < 5 else 1)"
ok $? "idle_timeout = 2s: an idle keep-alive connection is closed after ~2 s (closed_after=$after)"
is "$(h active "$PORT" 4 1.0)" "200 200 200 200" \
    "idle_timeout = 2s: a connection busy every 1 s stays open past 2 s (4 requests, 3 s)"

# malformed requests: 4xx/501, never a crash
# note: libmicrohttpd 0.9.75 closes a connection whose request line has no target without
# answering (it has no hook to answer it); nginx would send 400. Either way nothing is served.
like "$(send '"HELLO\r\n\r\n"')" '^(4[0-9][0-9]|closed)$' "malformed: a garbage request line is 4xx or closed"
alive "a garbage request line"
like "$(send '"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + "\x00" * 40 + "\r\n\r\n"')" '^(4[0-9][0-9]|closed|reset)$' \
    "malformed: a TLS ClientHello on the plain port gets 4xx or is closed"
alive "a TLS ClientHello"
is "$(send '"GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n"')" 400 "malformed: HTTP/1.1 without Host is 400"
alive "a request without Host"
is "$(send '"G@T /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" 400 \
    "malformed: a method that is not a token (G@T) is 400 (RFC 9110 9.1), not 501"
alive "a bad method token"
like "$(send '"BREW /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" '^(405|501)$' \
    "malformed: an unknown but valid method (BREW) is 405 or 501"
like "$(send '"GET /hello.txt FOO/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" '^(4[0-9][0-9]|505)$' \
    "malformed: a bad protocol name is 4xx or 505"
like "$(send '"GET /hello.txt HTTP/9.9\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" '^(4[0-9][0-9]|505)$' \
    "malformed: HTTP/9.9 is 4xx or 505"
like "$(send '"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nNo colon here\r\nConnection: close\r\n\r\n"')" '^4[0-9][0-9]$' \
    "malformed: a header line without a colon is 4xx"
like "$(send '"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"')" '^4[0-9][0-9]$' \
    "malformed: two Host headers are 4xx"
like "$(send '"GET\r\n\r\n"')" '^(4[0-9][0-9]|closed)$' "malformed: a request line with only a method is 4xx or closed"
alive "all malformed requests"
kill -0 "$LIM_PID" 2>/dev/null
ok $? "the server process is still running after the malformed requests"

# ---- max_connections_per_ip = 2 ----------------------------------------------------------------
PORT=$(free_port)
cat >"$T/perip.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
max_connections_per_ip = 2

[site main]
root = $T/www
EOF
start_wharf_ini "$T/perip.ini"
out=$(h limit "$PORT")
is "$(val "$out" c1a)/$(val "$out" c2a)" "200/200" "max_connections_per_ip = 2: two connections are served ($out)"
like "$(val "$out" c3)" '^(refused|closed|reset|503|429)$' "max_connections_per_ip = 2: the third concurrent connection is refused or closed"
is "$(val "$out" c1b)/$(val "$out" c2b)" "200/200" "max_connections_per_ip = 2: the first two stay open and keep being served"
is "$(val "$out" c4)" 200 "max_connections_per_ip = 2: after one closes, a new connection is served"

# ---- max_connections = 2 ------------------------------------------------------------------------
PORT=$(free_port)
cat >"$T/maxconn.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
max_connections = 2

[site main]
root = $T/www
EOF
start_wharf_ini "$T/maxconn.ini"
out=$(h limit "$PORT")
is "$(val "$out" c1a)/$(val "$out" c2a)" "200/200" "max_connections = 2: two connections are served ($out)"
like "$(val "$out" c3)" '^(refused|closed|reset|503|429|timeout)$' \
    "max_connections = 2: the third concurrent connection is not served (refused, closed or held back)"
is "$(val "$out" c1b)/$(val "$out" c2b)" "200/200" "max_connections = 2: the first two stay open and keep being served"
is "$(val "$out" c4)" 200 "max_connections = 2: after one closes, a new connection is served"

# ---- sane defaults (no limit keys at all) ---------------------------------------------------------
start_wharf --root "$T/www"
is "$(send '"GET /" + "a" * 100000 + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"')" 414 \
    "defaults: a 100 KB URI is 414"
like "$(send '"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "b" * 100000 + "\r\nConnection: close\r\n\r\n"')" \
    '^(431|400)$' "defaults: a 100 KB header is 431 (or 400)"
is "$(send '"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + "p" * 4000 + "\r\nConnection: close\r\n\r\n"')" 200 \
    "defaults: a 4 KB header is served"
alive "oversized requests with default limits"
finish
