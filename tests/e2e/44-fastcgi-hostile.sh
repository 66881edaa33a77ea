#!/usr/bin/env bash
# A hostile or broken FastCGI backend must never put a client's keep-alive connection out of
# step, nor give one request another's output: a 1xx Status (an interim response, never an
# answer: 502), a backend that sends a second answer after its END_REQUEST (in the same write
# or later: its connection is never reused, and the late records are refused as another
# request's), a response head too large for the connection's buffer (502, not a silent close; X-Sendfile
# answers too), a
# local redirect to a target that cannot be routed (500: the application's fault, not the client's),
# STDERR with terminal escapes (written to the error log as \xHH), a backend that answers a POST
# before reading its body and closes (its answer; the POST is not sent again); and PHP's own
# framing headers: a Content-Length shorter or longer than the body, its own
# Transfer-Encoding, hop-by-hop headers, repeated Set-Cookie. Each request that follows a fault
# goes over the same client connection and the same pooled backend connection
# (fastcgi_max_conns = 1) and must get its own answer.
# Backends: real php-fpm and tests/fcgi_fake/raw_fake.py.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 missing"
FAKE_DIR="$SRCDIR/tests/fcgi_fake"
W=$T/www
mkdir -p "$W"
: >"$W/raw.php"

# PHP scripts with odd output
printf '%s\n' "<?php header('HTTP/1.1 101 Switching Protocols'); echo 'switched';" >"$W/s101.php"
printf '%s\n' "<?php header('Status: 103 Early Hints'); echo 'hints';" >"$W/s103.php"
printf '%s\n' "<?php echo 'ok ', \$_GET['t'] ?? '';" >"$W/ok.php"
# local redirects (a Location path without a Status; PHP sends none for 200) to targets that cannot be routed
printf '%s\n' "<?php header(\"Location: /a\\x01b\", true, 200); echo 'not sent';" >"$W/loc-ctl.php"
printf '%s\n' "<?php header('Location: /' . str_repeat('d', 5000), true, 200); echo 'not sent';" >"$W/loc-long.php"
# what a client sends can reach PHP's error_log() as it is (here the query): a terminal escape
printf '%s\n' "<?php error_log('esc-test ' . \$_GET['m']); echo 'logged';" >"$W/log.php"
printf '%s\n' "<?php header('X-Big: ' . str_repeat('b', (int)\$_GET['kb'] * 1024)); echo 'big';" >"$W/big.php"
# X-Sendfile with a large application header that the file's answer keeps (Set-Cookie)
mkdir -p "$T/files" && printf 'file' >"$T/files/f.txt"
printf '%s\n' "<?php header('X-Sendfile: $T/files/f.txt'); header('Set-Cookie: big=' . str_repeat('c', (int)\$_GET['kb'] * 1024)); echo 'not sent';" >"$W/sf.php"
# the application announces 5 bytes and sends 10, in one piece or streamed
printf '%s\n' "<?php header('Content-Length: 5'); echo '0123456789';" >"$W/cl-short.php"
cat >"$W/cl-short-flush.php" <<'EOF'
<?php header('Content-Length: 5'); while (ob_get_level()) ob_end_flush();
echo '01234'; flush(); usleep(200000); echo '56789';
EOF
# announces 50 bytes, sends 10
cat >"$W/cl-long-flush.php" <<'EOF'
<?php header('Content-Length: 50'); while (ob_get_level()) ob_end_flush();
echo '01234'; flush(); usleep(200000); echo '56789';
EOF
cat >"$W/te.php" <<'EOF'
<?php header('Transfer-Encoding: chunked'); while (ob_get_level()) ob_end_flush();
echo 'first '; flush(); usleep(100000); echo 'second';
EOF
cat >"$W/hop.php" <<'EOF'
<?php header('Connection: close'); header('Keep-Alive: timeout=1'); header('Upgrade: h2c');
header('Trailer: X-T'); header('X-Kept: yes'); echo 'hop';
EOF
printf '%s\n' "<?php for (\$i = 0; \$i < 20; \$i++) header(\"Set-Cookie: c\$i=\$i\", false); echo 'cookies';" \
    >"$W/cookies.php"

start_fpm a "$T/fpm.sock"
python3 "$FAKE_DIR/raw_fake.py" "$T/raw.sock" 2>>"$T/raw.log" &
PIDS+=($!)
wait_file "$T/raw.sock" 5 || bail "raw_fake did not start"

PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site php]
root = $W
fastcgi = unix:$T/fpm.sock
fastcgi_max_conns = 1
fastcgi_sendfile = $T/files

[site raw]
hosts = raw.test
root = $W
fastcgi = unix:$T/raw.sock
fastcgi_max_conns = 1
fastcgi_read_timeout = 2s
EOF
start_wharf_ini "$T/wharf.ini"

# over1 HOST TARGET...: the targets as GETs one after another over one client connection, each
# sent once the previous answer is read. One line per answer: "STATUS BODY FRAMING" (FRAMING:
# cl=N, chunked, close or none; the body without newlines, "page" and no length for wharf's
# error page; "+cut" when the body ended early, "+extra" when bytes came that
# no request asked for); "gone" once the server closed the connection. A 1xx is taken as the
# answer it claims to be (with no body). Each answer's headers go to $T/seq.N.
cat >"$T/seq.py" <<'PY'
import socket, sys
port, host, targets, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3:], sys.argv[0].rsplit("/", 1)[0]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
buf = b""
def fill():
    global buf
    d = s.recv(65536)
    if not d:
        raise EOFError
    buf += d
def line():
    global buf
    while b"\r\n" not in buf:
        fill()
    l, buf = buf.split(b"\r\n", 1)
    return l
def take(n):
    global buf
    while len(buf) < n:
        fill()
    out, buf = buf[:n], buf[n:]
    return out
for i, t in enumerate(targets):
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (t, host)).encode())
        status = line().split()[1].decode()
        heads = []
        while True:
            l = line()
            if not l:
                break
            heads.append(l.decode("latin-1"))
    except (EOFError, OSError):
        print("gone")
        break
    open("%s/seq.%d" % (tmp, i + 1), "w").write("\n".join(heads) + "\n")
    h = {}
    for l in heads:
        k, v = l.split(":", 1)
        h.setdefault(k.strip().lower(), []).append(v.strip())
    body, framing, cut = b"", "none", False
    try:
        if status[0] == "1" or status in ("204", "304"):
            pass
        elif "chunked" in ",".join(h.get("transfer-encoding", [])):
            framing = "chunked"
            while True:
                n = int(line().split(b";")[0], 16)
                if n == 0:
                    line()
                    break
                body += take(n)
                take(2)
        elif "content-length" in h:
            n = int(h["content-length"][0])
            framing = "cl=%d" % n
            body = take(n)
        else:
            framing = "close"
            try:
                while True:
                    fill()
            except EOFError:
                body, buf = buf, b""
    except (EOFError, OSError, socket.timeout):
        body, buf, cut = buf, b"", True
    shown = body.decode("latin-1").replace(" ", "_").replace("\n", "") or "-"
    if body.startswith(b"<!DOCTYPE html>"):  # wharf's error page
        shown, framing = "page", framing.split("=")[0]
    print("%s %s %s%s" % (status, shown, framing, "+cut" if cut else ""))
    if cut or framing == "close":
        break
# anything more on the connection was never asked for
s.settimeout(0.3)
try:
    if buf or s.recv(65536):
        print("+extra")
except (socket.timeout, OSError):
    pass
PY
over1() { python3 "$T/seq.py" "$PORT" "$@" | tr '\n' '|'; }

# ---- a 1xx Status is no answer: 502, and the next request on the connection gets its own ------
is "$(over1 localhost /ok.php?t=1)" "200 ok_1 cl=4|" "(control) php-fpm answers"
is "$(over1 localhost /s101.php /ok.php?t=2)" "502 page cl|200 ok_2 cl=4|" \
    "PHP's 'HTTP/1.1 101': 502 (a 101 would make the client take the next answer for this one)"
is "$(over1 localhost /s103.php /ok.php?t=3)" "502 page cl|200 ok_3 cl=4|" \
    "PHP's 'Status: 103 Early Hints' as its final status: 502, then the next answer in step"
for code in 100 101 199; do
    is "$(over1 raw.test "/raw.php?mode=status&code=$code" /raw.php?mode=ok)" "502 page cl|200 raw_ok cl=7|" \
        "raw backend Status: $code -> 502, then the next answer in step"
done
is "$(over1 raw.test "/raw.php?mode=status&code=200" "/raw.php?mode=status&code=599")" \
    "200 status_body cl=12|599 status_body cl=12|" "(control) Status 200 and 599 pass"
like "$(cat "$T/wharf.err")" "interim \(1xx\) status" "the error log says why"

# ---- a second answer after END_REQUEST: never read as the next request's ----------------------
is "$(over1 raw.test /raw.php?mode=afterend /raw.php?mode=ok)" "200 good cl=5|200 raw_ok cl=7|" \
    "a second answer in the same write after END_REQUEST: dropped, the next request gets its own"
wait_grep "$T/raw.log" 'conn [0-9]+ afterend: (peer closed|.*Broken pipe|.*reset)' 3
ok $? "...and that backend connection was closed, not reused"
like "$(cat "$T/wharf.err")" "sent data after END_REQUEST; connection closed" "...which the error log says"
# the second answer comes 100 ms late, when the connection may already carry the next request
out=$(over1 raw.test /raw.php?mode=late /raw.php?mode=ok)
like "$out" "^200 good cl=5\|(200 raw_ok cl=7|502 page cl)\|$" \
    "a second answer 100 ms after END_REQUEST: the next request gets its own answer or a 502 ($out)"
unlike "$out" "LEAKED" "...never the late answer of the request before"
is "$(over1 raw.test /raw.php?mode=ok)" "200 raw_ok cl=7|" "the site answers after the late answer"

# ---- a backend that answers before reading the whole body, and closes ------------------------------
head -c $((8 * 1024 * 1024)) /dev/zero >"$T/8m.bin"
is "$(over1 raw.test /raw.php?mode=ok)" "200 raw_ok cl=7|" "(control) the raw backend's connection is kept"
got=$(curl -s -o "$T/early.body" -w '%{http_code}' --max-time 10 -H 'Host: raw.test' \
    --data-binary @"$T/8m.bin" "$(URL /raw.php?mode=earlyclose)")
is "$got $(cat "$T/early.body")" "413 too big" \
    "an 8 MiB POST the backend answers (413) and closes on before reading it: its answer (was 502)"
is "$(grep -c 'earlyclose: request id' "$T/raw.log")" 1 "...and the POST was sent once (was twice: retried as if the kept connection had died)"
is "$(over1 raw.test /raw.php?mode=ok)" "200 raw_ok cl=7|" "the site answers after it"

# ---- a response head larger than what the request left of the connection's buffer ------------
# (max_header_size, 16 KiB by default): libmicrohttpd closed the connection without a word
is "$(over1 localhost "/big.php?kb=4" /ok.php?t=a)" "200 big cl=3|200 ok_a cl=4|" "(control) PHP sends a 4 KiB header"
is "$(over1 localhost "/big.php?kb=20" /ok.php?t=b)" "502 page cl|200 ok_b cl=4|" \
    "PHP sends a 20 KiB header: 502 (was an empty reply), the connection stays in step"
is "$(over1 raw.test "/raw.php?mode=bighead&kb=16" /raw.php?mode=ok)" "502 page cl|200 raw_ok cl=7|" \
    "a raw backend's 16 KiB header: 502, the next answer in step"
is "$(over1 raw.test "/raw.php?mode=bighead&kb=60" /raw.php?mode=ok)" "502 page cl|200 raw_ok cl=7|" \
    "a 60 KiB header (under the 64 KiB head limit): 502"
like "$(cat "$T/wharf.err")" "the response head \([0-9]+ bytes\) does not fit the [0-9]+ bytes the request left" \
    "the error log says why"
is "$(over1 localhost "/sf.php?kb=2" /ok.php?t=s)" "200 file cl=4|200 ok_s cl=4|" \
    "(control) X-Sendfile with a 2 KiB Set-Cookie: the file"
is "$(over1 localhost "/sf.php?kb=20" /ok.php?t=u)" "502 page cl|200 ok_u cl=4|" \
    "X-Sendfile with a 20 KiB Set-Cookie kept for the file: 502 (was an empty reply), in step"
unlike "$(cat "$T/wharf.err")" "failed to create response header" "libmicrohttpd never had to give up on a head"

# ---- a local redirect to a target that cannot be routed is the application's fault: 500 -------
is "$(over1 localhost /loc-ctl.php /ok.php?t=d)" "500 page cl|200 ok_d cl=4|" \
    "a local redirect to a path with a control byte: 500 (was 400, blaming the client)"
is "$(over1 localhost /loc-long.php /ok.php?t=e)" "500 page cl|200 ok_e cl=4|" \
    "a local redirect to a 5000-byte path: 500 (was 414)"
like "$(cat "$T/wharf.err")" "local redirect to an invalid target \(400\): /a\\\\x01b" \
    "the error log names the target"
is "$(status '/a%01b')" 400 "(control) the same path from a client is still 400"

# ---- STDERR into the error log: no control byte reaches a terminal that shows the log ----------
is "$(over1 localhost '/log.php?m=%1B%5B2J%1B%5B31mred%07%7Fend' /ok.php?t=c)" "200 logged cl=6|200 ok_c cl=4|" \
    "a PHP error_log() line with ESC, BEL and DEL in it: 200"
wait_grep "$T/wharf.err" 'esc-test ' 3
line=$(grep -a 'esc-test ' "$T/wharf.err")
like "$line" 'esc-test \\x1B\[2J\\x1B\[31mred\\x07\\x7Fend' "...written to the error log as \\xHH ($line)"
is "$(printf '%s' "$line" | tr -d '\n' | LC_ALL=C grep -c '[[:cntrl:]]')" 0 "...with no control byte left in the line"

# ---- PHP's framing headers ---------------------------------------------------------------------
is "$(over1 localhost /cl-short.php /ok.php?t=4)" "200 0123456789 cl=10|200 ok_4 cl=4|" \
    "Content-Length: 5 with a 10-byte body, complete at once: the real length, the next answer in step"
is "$(over1 localhost /cl-short-flush.php /ok.php?t=5)" "200 01234 cl=5|200 ok_5 cl=4|" \
    "Content-Length: 5 with a 10-byte streamed body: cut to 5, the next answer in step"
is "$(over1 localhost /cl-long-flush.php /ok.php?t=6)" "200 0123456789 cl=50+cut|" \
    "Content-Length: 50 with 10 streamed bytes: the connection is closed after them"
is "$(over1 localhost /ok.php?t=7)" "200 ok_7 cl=4|" "php-fpm still answers after the short body"
is "$(over1 localhost /te.php /ok.php?t=8)" "200 first_second chunked|200 ok_8 cl=4|" \
    "PHP's Transfer-Encoding: chunked: one chunked framing of PHP's bytes, not two"
is "$(grep -ci '^Transfer-Encoding:' "$T/seq.1")" 1 "...one Transfer-Encoding line"
is "$(over1 localhost /hop.php /ok.php?t=9)" "200 hop cl=3|200 ok_9 cl=4|" \
    "PHP's Connection: close, Keep-Alive, Upgrade, Trailer: the connection stays open"
is "$(grep -ciE '^(Connection|Keep-Alive|Upgrade|Trailer):' "$T/seq.1")/$(header_value X-Kept <"$T/seq.1")" \
    "0/yes" "...those hop-by-hop headers are not forwarded, the others are"
is "$(over1 localhost /cookies.php)" "200 cookies cl=7|" "20 Set-Cookie headers: 200"
is "$(grep -i '^Set-Cookie:' "$T/seq.1" | sed 's/^[^:]*: *//' | tr '\n' ' ')" \
    "$(for i in $(seq 0 19); do printf 'c%d=%d ' "$i" "$i"; done)" "...all 20 kept, in order"

finish
