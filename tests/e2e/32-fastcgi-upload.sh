#!/usr/bin/env bash
# FastCGI request bodies: urlencoded forms, raw bodies (0 B .. 6 MiB) and multipart uploads
# reach PHP intact (sha256 echoed back), chunked uploads get a CONTENT_LENGTH, bodies beyond
# the memory threshold go to an unlinked temp file, Expect: 100-continue works (and is not
# needed for a body that will be refused), fastcgi_max_body gives 413 with Content-Length and
# with chunked bodies without running the script, and a slow uploader does not hold the only
# php-fpm child (pm.max_children = 1): bodies are buffered before the backend is contacted.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www" "$T/bodytmp"
cat >"$T/www/raw.php" <<'EOF'
<?php $in = file_get_contents('php://input');
file_put_contents(__DIR__ . '/../hits.log', "raw\n", FILE_APPEND);
echo $_SERVER['CONTENT_LENGTH'] ?? '-', ' ', strlen($in), ' ', hash('sha256', $in);
EOF
cat >"$T/www/form.php" <<'EOF'
<?php echo json_encode($_POST), ' ', $_SERVER['CONTENT_TYPE'] ?? '-';
EOF
cat >"$T/www/upload.php" <<'EOF'
<?php $f = $_FILES['file'];
echo $f['error'], ' ', $f['name'], ' ', $f['size'], ' ', hash_file('sha256', $f['tmp_name']), ' ', $_POST['note'] ?? '-';
EOF
printf '<?php echo "fast";\n' >"$T/www/fast.php"
cat >"$T/www/hold.php" <<'EOF'
<?php touch(__DIR__ . '/../hold.started'); sleep(1); echo 'held';
EOF
: >"$T/hits.log"

: >"$T/b0"
head -c 1024 /dev/urandom >"$T/b1k"
head -c $((70 * 1024)) /dev/urandom >"$T/b70k"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$T/b5m"
head -c $((6 * 1024 * 1024)) /dev/urandom >"$T/b6m"
head -c $((6 * 1024 * 1024 + 1)) /dev/urandom >"$T/b6m1"
head -c $((7 * 1024 * 1024)) /dev/urandom >"$T/b7m"
size() { stat -c %s "$1"; }
hits() { wc -l <"$T/hits.log" | tr -d ' '; }

start_fpm up "$T/fpm.sock" "pm.max_children = 1"
start_fpm up2 "$T/fpm2.sock" "pm.max_children = 1" # its own: a kept connection pins a child
PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
temp_dir = $T/bodytmp

[site main]
root = $T/www
fastcgi = unix:$T/fpm.sock
fastcgi_max_body = 6m
; one kept connection for the one child: more would park a request in php-fpm's backlog
; behind a connection the child is pinned to
fastcgi_max_conns = 1

[site bigbuf]
hosts = bigbuf.test
root = $T/www
fastcgi = unix:$T/fpm2.sock
fastcgi_body_buffer = 1m
EOF
start_wharf_ini "$T/wharf.ini"

# post FILE [curl args]: raw octet-stream POST of FILE to /raw.php; prints the body
post() {
    local f=$1
    shift
    curl -s --path-as-is --max-time 20 --data-binary "@$f" -H 'Content-Type: application/octet-stream' \
        "$@" "$(URL /raw.php)"
}

# ---- forms and raw bodies ------------------------------------------------------------------
is "$(body /form.php -d 'a=1&b=hello+world&c=%26x')" \
    '{"a":"1","b":"hello world","c":"&x"} application/x-www-form-urlencoded' "urlencoded form -> \$_POST"
is "$(post "$T/b0")" "0 0 $(fsha "$T/b0")" "raw body 0 B: CONTENT_LENGTH 0 (Content-Length: 0 was declared), sha256"
for f in b1k b70k b5m b6m; do
    is "$(post "$T/$f")" "$(size "$T/$f") $(size "$T/$f") $(fsha "$T/$f")" \
        "raw body $f ($(size "$T/$f") B): CONTENT_LENGTH, length and sha256"
done
is "$(curl -s --max-time 10 -F "file=@$T/b70k;filename=data.bin;type=application/octet-stream" \
    -F 'note=hi there' "$(URL /upload.php)")" "0 data.bin $(size "$T/b70k") $(fsha "$T/b70k") hi there" \
    "multipart/form-data: \$_FILES size and sha256 of the tmp file, \$_POST field"

# ---- chunked -------------------------------------------------------------------------------
for f in b1k b70k b5m; do
    is "$(post "$T/$f" -H 'Transfer-Encoding: chunked')" "$(size "$T/$f") $(size "$T/$f") $(fsha "$T/$f")" \
        "chunked $f: CONTENT_LENGTH set to the real length, sha256"
done

# ---- Expect: 100-continue ------------------------------------------------------------------
out=$(post "$T/b70k" -H 'Expect: 100-continue' --expect100-timeout 5 -w ' %{time_total}')
is "${out% *}" "$(size "$T/b70k") $(size "$T/b70k") $(fsha "$T/b70k")" "Expect: 100-continue upload arrives intact"
ok "$(python3 -c "import sys; sys.exit(0 if ${out##* } < 2 else 1)"; echo $?)" \
    "Expect: 100-continue is answered at once (${out##* }s, curl would wait 5 s for nothing)"
# raw: the 100 comes before any body byte is sent
out=$(python3 - "$PORT" <<'EOF'
import socket, sys, hashlib
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
body = b"x" * 2048
s.sendall(b"POST /raw.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: 2048\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
got = b""
try:
    while b"\r\n\r\n" not in got:
        d = s.recv(4096)
        if not d: break
        got += d
except socket.timeout:
    pass
print(got.split(b"\r\n", 1)[0].decode("latin-1") or "(nothing)")
s.sendall(body)
rest = got.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in got else b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        rest += d
except socket.timeout:
    pass
print(rest.split(b"\r\n", 1)[0].decode("latin-1"))
print(rest.split(b"\r\n\r\n", 1)[-1].decode("latin-1"))
print("2048 2048 " + hashlib.sha256(body).hexdigest())
EOF
)
is "$(printf '%s\n' "$out" | sed -n 1p | tr -d '\r')" "HTTP/1.1 100 Continue" "Expect: 100-continue gets '100 Continue' before the body is sent"
is "$(printf '%s\n' "$out" | sed -n 2p | tr -d '\r')" "HTTP/1.1 200 OK" "...then the final 200"
is "$(printf '%s\n' "$out" | sed -n 3p)" "$(printf '%s\n' "$out" | sed -n 4p)" "...and PHP got the whole body"

# ---- fastcgi_max_body ----------------------------------------------------------------------
h0=$(hits)
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --data-binary "@$T/b7m" \
    -H 'Content-Type: application/octet-stream' "$(URL /raw.php)")" "413" "7 MiB body with Content-Length over fastcgi_max_body 6m -> 413"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --data-binary "@$T/b6m1" \
    -H 'Content-Type: application/octet-stream' "$(URL /raw.php)")" "413" "6 MiB + 1 B with Content-Length -> 413"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --data-binary "@$T/b7m" -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: application/octet-stream' "$(URL /raw.php)")" "413" "7 MiB chunked body over fastcgi_max_body -> 413"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --data-binary "@$T/b6m1" -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: application/octet-stream' "$(URL /raw.php)")" "413" "6 MiB + 1 B chunked -> 413"
is "$(hits)" "$h0" "the script never ran for a 413"
out=$(python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"POST /raw.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: 7340032\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
got = b""
try:
    while True:
        d = s.recv(4096)
        if not d: break
        got += d
        heads = [l for l in got.split(b"\r\n") if l.startswith(b"HTTP/1.1 ")]
        if heads and not heads[-1].startswith(b"HTTP/1.1 100"): break
except socket.timeout:
    pass
heads = [l for l in got.split(b"\r\n") if l.startswith(b"HTTP/1.1 ")]
print(heads[-1].decode("latin-1") if heads else "(nothing)")
EOF
)
is "$out" "HTTP/1.1 413 Content Too Large" "Expect: 100-continue with a too-large Content-Length gets 413 without sending the body"
is "$(post "$T/b1k")" "1024 1024 $(fsha "$T/b1k")" "uploads still work after the 413s"

# ---- bodies past the memory threshold go to an unlinked temp file ---------------------------
python3 - "$PORT" "$T" >"$T/tmpfile.out" 2>&1 <<'EOF' &
import socket, sys, os, time, hashlib
port, t = int(sys.argv[1]), sys.argv[2]
body = bytes(range(256)) * 800  # 200 KiB
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /raw.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
s.sendall(body[:150 * 1024])
open(t + "/tmpfile.sent", "w").close()
for _ in range(200):  # wait (bounded) for the test to look at the temp file
    if os.path.exists(t + "/tmpfile.go"): break
    time.sleep(0.025)
s.sendall(body[150 * 1024:])
got = b""
while True:
    d = s.recv(65536)
    if not d: break
    got += d
print(got.split(b"\r\n\r\n", 1)[-1].decode("latin-1"))
print("%d %d %s" % (len(body), len(body), hashlib.sha256(body).hexdigest()))
EOF
UPID=$!
PIDS+=("$UPID")
for ((i = 0; i < 200; i++)); do [ -e "$T/tmpfile.sent" ] && break; sleep 0.025; done
found=
for ((i = 0; i < 100; i++)); do
    found=$(find "/proc/$WPID/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -F "$T/bodytmp/")
    [ -n "$found" ] && break
    sleep 0.05
done
like "$found" "^$T/bodytmp/.*\(deleted\)" "a 150 KiB partial body sits in a temp file in temp_dir"
is "$(ls -A "$T/bodytmp")" "" "...that is unlinked (temp_dir stays empty)"
touch "$T/tmpfile.go"
wait "$UPID"
is "$(sed -n 1p "$T/tmpfile.out")" "$(sed -n 2p "$T/tmpfile.out")" "the 200 KiB body buffered on disk reaches PHP intact"
is "$(ls -A "$T/bodytmp")" "" "temp_dir is empty after the request"

# ---- the memory threshold: fastcgi_body_buffer (16 KiB by default) ---------------------------
# partial HOST KIB: send KIB of a 200 KiB body and hold the rest until $T/partial.go exists;
# prints PHP's answer and the expected one
partial() {
    rm -f "$T/partial.sent" "$T/partial.go"
    python3 - "$PORT" "$T" "$1" "$2" >"$T/partial.out" 2>&1 <<'PY' &
import socket, sys, os, time, hashlib
port, t, host, kib = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
body = bytes(range(256)) * 800  # 200 KiB
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /raw.php HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (host.encode(), len(body)))
s.sendall(body[:kib * 1024])
open(t + "/partial.sent", "w").close()
for _ in range(400):
    if os.path.exists(t + "/partial.go"): break
    time.sleep(0.025)
s.sendall(body[kib * 1024:])
got = b""
while True:
    d = s.recv(65536)
    if not d: break
    got += d
print(got.split(b"\r\n\r\n", 1)[-1].decode("latin-1"))
print("%d %d %s" % (len(body), len(body), hashlib.sha256(body).hexdigest()))
PY
    PPID_=$!
    PIDS+=("$PPID_")
    for ((i = 0; i < 200; i++)); do [ -e "$T/partial.sent" ] && break; sleep 0.025; done
}
body_file() { find "/proc/$WPID/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -qF "$T/bodytmp/"; }
partial x 20
wait_until 3000 body_file
ok $? "a 20 KiB partial body is past the default fastcgi_body_buffer (16k): it sits in a temp file"
touch "$T/partial.go"
wait "$PPID_"
is "$(sed -n 1p "$T/partial.out")" "$(sed -n 2p "$T/partial.out")" "...and reaches PHP intact"
partial bigbuf.test 150
holds_for 500 sh -c "! find /proc/$WPID/fd -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | grep -qF '$T/bodytmp/'"
ok $? "fastcgi_body_buffer = 1m: a 150 KiB partial body stays in memory (no temp file)"
touch "$T/partial.go"
wait "$PPID_"
is "$(sed -n 1p "$T/partial.out")" "$(sed -n 2p "$T/partial.out")" "...and reaches PHP intact"

# ---- a slow uploader does not hold the only php-fpm child ----------------------------------
# control: a script that runs for 1 s does hold the only child, and that is measurable
curl -s --max-time 5 -o "$T/hold.out" "$(URL /hold.php)" &
HPID=$!
PIDS+=("$HPID")
for ((i = 0; i < 200; i++)); do [ -e "$T/hold.started" ] && break; sleep 0.025; done
out=$(curl -s --max-time 5 -w ' %{time_total}' "$(URL /fast.php)")
wait "$HPID"
is "${out% *}" "fast" "(control) a request behind a 1 s script on the only child is answered"
ok "$(python3 -c "import sys; sys.exit(0 if ${out##* } >= 0.5 else 1)"; echo $?)" \
    "(control) ...but only after waiting for that child (${out##* }s): pm.max_children = 1 is in force"
python3 - "$PORT" "$T" >"$T/slow.out" 2>&1 <<'EOF' &
import socket, sys, time, hashlib
port, t = int(sys.argv[1]), sys.argv[2]
body = b"0123456789" * 20
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST /raw.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: 200\r\nConnection: close\r\n\r\n")
for i in range(20):  # 10 bytes every 100 ms: about 2 s
    s.sendall(body[i * 10:(i + 1) * 10])
    if i == 1:
        open(t + "/slow.started", "w").close()
    time.sleep(0.1)
got = b""
while True:
    d = s.recv(65536)
    if not d: break
    got += d
open(t + "/slow.done", "w").close()
print(got.split(b"\r\n\r\n", 1)[-1].decode("latin-1"))
print("200 200 " + hashlib.sha256(body).hexdigest())
EOF
SPID=$!
PIDS+=("$SPID")
for ((i = 0; i < 200; i++)); do [ -e "$T/slow.started" ] && break; sleep 0.025; done
ok "$([ -e "$T/slow.started" ]; echo $?)" "(setup) the slow upload has started"
out=$(curl -s --max-time 5 -w ' %{time_total}' "$(URL /fast.php)")
is "${out% *}" "fast" "during a slow upload, another PHP request is answered (pm.max_children = 1)"
ok "$(python3 -c "import sys; sys.exit(0 if ${out##* } < 1.0 else 1)"; echo $?)" \
    "...quickly (${out##* }s; waiting for the child would take ~2 s)"
ok "$([ ! -e "$T/slow.done" ]; echo $?)" "...while the slow upload is still in progress"
wait "$SPID"
is "$(sed -n 1p "$T/slow.out")" "$(sed -n 2p "$T/slow.out")" "the slow upload itself completes intact"

# ---- temp_dir that is missing or not a directory ---------------------------------------------
bad_ini() { # bad_ini TEMP_DIR
    printf '[server]\nlisten = 127.0.0.1:%s\ntemp_dir = %s\n[site main]\nroot = %s\nfastcgi = unix:%s\n' \
        "$(free_port)" "$1" "$T/www" "$T/fpm.sock" >"$T/bad.ini"
}
bad_ini "$T/no-such-dir"
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
is "$?" 1 "--test rejects a temp_dir that does not exist"
like "$out" "bad.ini:3: temp_dir '$T/no-such-dir': No such file or directory" "...naming the line and the reason"
bad_ini "$T/b1k"
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: temp_dir '$T/b1k': Not a directory" "--test rejects a temp_dir that is a file"
if [ "$(id -u)" -ne 0 ]; then
    mkdir -p "$T/ro" && chmod 555 "$T/ro"
    bad_ini "$T/ro"
    like "$("$WHARF" --config "$T/bad.ini" --test 2>&1)" "temp_dir '$T/ro': not writable" \
        "--test rejects a temp_dir that is not writable"
fi
# removed after start: a body past the memory threshold gets 500 and a log line, not a reset
stop_pid "$WPID"
mkdir -p "$T/tmp2"
PORT=$(free_port)
printf '[server]\nlisten = 127.0.0.1:%s\ntemp_dir = %s\n[site main]\nroot = %s\nfastcgi = unix:%s\n' \
    "$PORT" "$T/tmp2" "$T/www" "$T/fpm.sock" >"$T/tmp2.ini"
start_wharf_ini "$T/tmp2.ini"
rmdir "$T/tmp2"
h0=$(hits)
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --data-binary "@$T/b70k" \
    -H 'Content-Type: application/octet-stream' "$(URL /raw.php)")" 500 \
    "temp_dir gone after start: a 70 KiB POST gets 500 (not a reset connection)"
like "$(cat "$T/wharf.err")" "cannot buffer the request body in temp_dir $T/tmp2" "...and the error log says why"
is "$(hits)" "$h0" "...without running the script"
is "$(post "$T/b1k")" "1024 1024 $(fsha "$T/b1k")" "small bodies (in memory) still work"

finish
