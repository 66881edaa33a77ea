#!/usr/bin/env bash
# Half-closed and slow clients. A client that sends its requests and then shutdown(SHUT_WR)
# gets every answer whole (a small and a 3 MB static file, PHP, four pipelined requests) and
# its connection closed at once, not at idle_timeout; so is one that cuts its body short
# (libmicrohttpd patch 0014). A request line trickled one byte at a time is cut header_timeout
# after its first byte, on a fresh connection and on a kept-alive one (patch 0015). A chunk-size
# line of 100 KB of extensions gets 400 at once (patch 0016). Skipped when built with
# --with-libmicrohttpd=system (the patches are not in).
. "$(dirname "$0")/lib.sh"

[ "${WHARF_MHD:-bundled}" = bundled ] || skip_all "built with --with-libmicrohttpd=$WHARF_MHD"
W=$T/www
mkdir -p "$W"
printf 'hello half\n' >"$W/hello.txt"
head -c 3000000 /dev/urandom >"$W/big.bin"
printf '<?php echo "php ", $_SERVER["REQUEST_METHOD"], "\\n";\n' >"$W/hello.php"
printf '<?php usleep(1000000); echo "slept\\n";\n' >"$W/slow.php"

start_fpm hc "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
header_timeout = 2s
idle_timeout = 20s
[site s]
root = $W
fastcgi = unix:$T/fpm.sock
EOF
start_wharf_ini "$T/wharf.ini"

# c.py: the socket-level clients; every outcome is printed as text, nothing here asserts. Waits
# are bounded by socket timeouts (8 s: far below idle_timeout = 20s).
cat >"$T/c.py" <<'PY'
import hashlib, socket, sys, time

port = int(sys.argv[2])

def get(path):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"

def read_all(s, limit=8.0):
    """bytes until the server closes; how: closed, reset or timeout; seconds taken"""
    t0, buf = time.monotonic(), b""
    s.settimeout(limit)
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                return buf, "closed", time.monotonic() - t0
            buf += d
    except socket.timeout:
        return buf, "timeout", time.monotonic() - t0
    except OSError:
        return buf, "reset", time.monotonic() - t0

def responses(buf):
    """status:sha256-prefix-of-body for each Content-Length response in buf"""
    out = []
    while buf:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if not sep:
            out.append("partial")
            break
        lines = head.split(b"\r\n")
        n = 0
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        body, buf = rest[:n], rest[n:]
        st = lines[0].split(b" ")[1].decode() if len(rest) >= n else "partial"
        out.append("%s:%s" % (st, hashlib.sha256(body).hexdigest()[:16]))
    return " ".join(out) or "none"

def half_close(*paths):
    """the requests pipelined, then SHUT_WR: the answers and when the server closed"""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"".join(get(p) for p in paths))
    s.shutdown(socket.SHUT_WR)
    buf, how, took = read_all(s)
    print("%s %s %.2f" % (responses(buf), how, took))

def cut_body():
    """a POST whose body stops at 3 of 100 bytes, then SHUT_WR"""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /hello.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc")
    s.shutdown(socket.SHUT_WR)
    buf, how, took = read_all(s)
    print("%s %s %.2f" % (responses(buf), how, took))

def trickle(keep, gap):
    """(after one request on the connection if keep) a request line one byte per gap s:
    how it ended, seconds from its first byte, bytes sent"""
    s = socket.create_connection(("127.0.0.1", port))
    if keep == "keep":
        s.sendall(get("/hello.txt"))
        s.settimeout(5)
        if not s.recv(65536).startswith(b"HTTP/1.1 200"):
            print("first-request-failed 0 0")
            return
    line = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    s.settimeout(float(gap))
    t0, i = time.monotonic(), 0
    while time.monotonic() - t0 < 8:
        try:
            if i < len(line):
                s.send(line[i:i + 1])
                i += 1
            d = s.recv(65536)
            if not d:
                print("closed %.2f %d" % (time.monotonic() - t0, i))
                return
            print("answered(%s) %.2f %d" % (d.split(b" ")[1].decode(), time.monotonic() - t0, i))
            return
        except socket.timeout:
            pass
        except OSError:
            print("reset %.2f %d" % (time.monotonic() - t0, i))
            return
    print("never %.2f %d" % (time.monotonic() - t0, i))

def chunk_ext(n):
    """a chunked POST whose first chunk-size line is "5;" and n bytes of extension"""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    s.settimeout(8)
    try:
        s.sendall(b"POST /hello.php HTTP/1.1\r\nHost: localhost\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n5;" + b"x" * int(n))
    except OSError:
        pass
    buf, how, took = read_all(s)
    st = buf.split(b" ")[1].decode() if buf.startswith(b"HTTP/") else "none"
    print("%s %s %.2f" % (st, how, time.monotonic() - t0))

cmd = sys.argv[1]
{"half": half_close, "cut": cut_body, "trickle": trickle, "chunkext": chunk_ext}[cmd](*sys.argv[3:])
PY
c() { python3 "$T/c.py" "$1" "$PORT" "${@:2}"; }
# one: status:sha256[:16] of the body, as the client computes it
one() { printf '200:%s' "$(printf '%s' "$1" | sha | cut -c1-16)"; }
HELLO=$(one "$(cat "$W/hello.txt")
")
PHP=$(one "php GET
")
BIG=200:$(fsha "$W/big.bin" | cut -c1-16)

# ---- half-closed clients (patch 0014) ------------------------------------------------------
read -r got how took < <(c half /hello.txt)
is "$got $how" "$HELLO closed" "half-close after a static request: answered whole, then closed"
within "$took" 0 3
ok $? "... closed at once, not at idle_timeout = 20s (took $took s)"

read -r got how took < <(c half /big.bin)
is "$got $how" "$BIG closed" "half-close after a 3 MB file: all of it (sha256), then closed"
within "$took" 0 5
ok $? "... closed once it is sent (took $took s)"

read -r got how took < <(c half /hello.php)
is "$got $how" "$PHP closed" "half-close after a PHP request: answered whole, then closed"
within "$took" 0 3
ok $? "... closed at once (took $took s)"

read -r a b d e how took < <(c half /hello.txt /hello.php /big.bin /hello.txt)
is "$a $b $d $e $how" "$HELLO $PHP $BIG $HELLO closed" \
    "four requests pipelined before the FIN: all four answered whole, then closed"
within "$took" 0 5
ok $? "... closed after the last answer (took $took s)"

read -r got how took < <(c cut)
is "$how" "closed" "a body cut short (3 of 100 bytes), then the FIN: connection closed ($got)"
within "$took" 0 3
ok $? "... at once, not at idle_timeout (took $took s)"

# note: a PHP request still waiting 200 ms after its client's FIN is taken for abandoned (TCP
# cannot tell shutdown(SHUT_WR) from close()), as nginx takes it at once: see
# docs/architecture.md, "Half-closed clients"
read -r got how took < <(c half /slow.php)
is "$got $how" "none closed" "half-close before a 1 s script: dropped as a client gone (documented)"
wait_grep "$T/wharf.err" 'client went away' 5
ok $? "... and logged as such"
is "$(body /hello.txt)" "hello half" "the server still serves after the half-closed clients"

# ---- a trickled request line (patch 0015) --------------------------------------------------------
read -r how took sent < <(c trickle fresh 0.4)
is "$how" "closed" "request line trickled one byte per 0.4 s, fresh connection: cut ($sent bytes)"
within "$took" 1.5 4.5
ok $? "... header_timeout = 2s after its first byte, in under 4.5 s (took $took s)"

read -r how took sent < <(c trickle keep 0.4)
is "$how" "closed" "request line trickled after a first request (keep-alive): cut ($sent bytes)"
within "$took" 1.5 4.5
ok $? "... header_timeout = 2s after its first byte, in under 4.5 s (took $took s)"

read -r how took sent < <(c trickle keep 0.02)
is "$how" "answered(200)" "a head sent one byte per 20 ms (in header_timeout) is served ($took s)"

# ---- an endless chunk extension (patch 0016) ------------------------------------------------
read -r st how took < <(c chunkext 100000)
is "$st" "400" "a chunk-size line with 100 KB of extensions gets 400 ($how)"
within "$took" 0 3
ok $? "... at once, not at idle_timeout (took $took s)"
is "$(body /hello.txt)" "hello half" "the server still serves after the chunk extension"
finish
