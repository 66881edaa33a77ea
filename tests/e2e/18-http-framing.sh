#!/usr/bin/env bash
# Request framing and head validation, end to end: every case of tests/fixtures/http-heads.txt
# (smuggling with Content-Length and Transfer-Encoding, duplicate lengths, whitespace before a
# colon, folded lines, unknown transfer codings, NUL/CR/controls, Host, request-line errors,
# and valid controls that must keep working) is sent over a raw socket to a static file and to
# a PHP script on a real php-fpm. Each answer is checked for its status, for whether the
# connection is closed (or still serves a probe request) and, except where libmicrohttpd
# answers by itself, that exactly the expected number of responses came back: a smuggled
# second request that gets answered fails its case.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www"
printf 'hello\n' >"$T/www/hello.txt"
cat >"$T/www/x.php" <<'PHP'
<?php echo 'php:', $_SERVER['REQUEST_METHOD'], ':', file_get_contents('php://input');
PHP
start_fpm p "$T/fpm.sock"
start_wharf --root "$T/www" --php "unix:$T/fpm.sock" --access-log "$T/access.log"

python3 - "$PORT" "$SRCDIR/tests/fixtures/http-heads.txt" >"$T/results" <<'PY'
import re, socket, sys, time

port, corpus = int(sys.argv[1]), sys.argv[2]
PATHS = (("static", "/hello.txt"), ("php", "/x.php"))
MANY = "".join("X-Field-%d: value %d\r\n" % (i, i) for i in range(100))
COOKIE = "; ".join("c%d=%s" % (i, "v" * 60) for i in range(60))


def parse(buf, is_head):
    """Complete responses in buf (1xx skipped) and the bytes left over."""
    out, i = [], 0
    while True:
        j = buf.find(b"\r\n\r\n", i)
        if j < 0:
            break
        lines = buf[i:j].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0] + " ")
        if not m:
            break
        status, hdrs, pos = int(m.group(1)), {}, j + 4
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        if 100 <= status < 200:
            i = pos
            continue
        if is_head or status in (204, 304):
            end = pos
        elif "transfer-encoding" in hdrs:
            end = pos
            while True:
                k = buf.find(b"\r\n", end)
                if k < 0:
                    return out, buf[i:]
                size = int(buf[end:k].split(b";")[0], 16)
                end = k + 2 + size + 2
                if size == 0:
                    break
            if end > len(buf):
                break
        elif "content-length" in hdrs:
            end = pos + int(hdrs["content-length"][0])
        else:
            end = len(buf)
        if end > len(buf):
            break
        out.append((status, hdrs, buf[pos:end]))
        i = end
    return out, buf[i:]


def run(raw, want_status, want_close, want_n, mhd_own):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    is_head = raw.startswith(b"HEAD ")
    buf, closed, deadline = b"", False, time.time() + 5
    while time.time() < deadline:
        if not want_close and len(parse(buf, is_head)[0]) >= want_n:
            break
        try:
            s.settimeout(max(0.05, deadline - time.time()))
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not d:
            closed = True
            break
        buf += d
    resps, rest = parse(buf, is_head)
    got = "%d responses, first %s, %s" % (
        len(resps), resps[0][0] if resps else "-", "closed" if closed else "open")
    if want_status == 0:
        s.close()
        return (buf == b"" and closed), got + ", %d bytes" % len(buf)
    if not resps or resps[0][0] != want_status:
        s.close()
        return False, got + ", head %r" % buf[:80]
    if want_close:
        if not closed:
            s.close()
            return False, got + ": the connection stays open"
        if not mhd_own:
            if len(resps) != want_n or rest:
                return False, got + ", %d stray bytes %r" % (len(rest), rest[:60])
            if want_status >= 400 and "close" not in ",".join(resps[0][1].get("connection", [])):
                return False, got + ": no Connection: close"
        s.close()
        return True, got
    # kept open: nothing more may arrive, and a probe request on it is served
    if closed or len(resps) != want_n or rest:
        s.close()
        return False, got + ", %d stray bytes" % len(rest)
    s.settimeout(0.3)
    try:
        extra = s.recv(65536)
    except socket.timeout:
        extra = b""
    if extra:
        s.close()
        return False, got + ", then unexpected %r" % extra[:60]
    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    s.settimeout(5)
    buf = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    probe = parse(buf, False)[0]
    if not probe or probe[0][0] != 200:
        return False, got + ", but the probe got %r" % buf[:60]
    return True, got + ", probe served"


def expectation(tok):
    m = re.fullmatch(r"(\d+)([ck])(?:x(\d+))?(\*)?", tok)
    if not m:
        raise SystemExit("bad expectation %r" % tok)
    return int(m.group(1)), m.group(2) == "c", int(m.group(3) or 1), bool(m.group(4))


for line in open(corpus, encoding="latin-1"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    parts = line.split(" ", 3)
    exps = {"static": expectation(parts[0]), "php": expectation(parts[1])}
    name, template = parts[2], parts[3]
    for kind, path in PATHS:
        text = (template.replace("{PATH}", path).replace("{HOST}", "localhost")
                .replace("{MANY}", MANY).replace("{COOKIE}", COOKIE))
        raw = text.encode("latin-1").decode("unicode_escape").encode("latin-1")
        st, close, n, own = exps[kind]
        good, got = run(raw, st, close, n, own)
        label = "%s %s: %d%s%s%s" % (kind, name, st, " close" if close else " keep-alive",
                                      " x%d" % n if n > 1 else "", " (libmicrohttpd's own)" if own else "")
        print("%d|%s|%s" % (0 if good else 1, label, got))
PY
n=0
while IFS='|' read -r rc name got; do
    ok "$rc" "$name"
    [ "$rc" -eq 0 ] || echo "#   got: $got"
    n=$((n + 1))
done <"$T/results"
ok $((n >= 200 ? 0 : 1)) "the corpus has at least 100 heads, each run against both paths ($n runs)"

# refused heads are in the access log with their status
logged_400() { grep -q '"G@T /x.php HTTP/1.1" 400 ' "$T/access.log"; }
wait_until 3000 logged_400
ok $? "a refused head is in the access log with its status"

# the server survived all of it and still serves both kinds of path
is "$(body /hello.txt)" "hello" "static still served after the corpus"
is "$(body /x.php)" "php:GET:" "PHP still served after the corpus"
kill -0 "$WPID" 2>/dev/null
ok $? "wharf is still running"
finish
