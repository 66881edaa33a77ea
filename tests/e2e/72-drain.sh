#!/usr/bin/env bash
# Graceful stop: on SIGTERM wharf stops accepting at once, lets a slow PHP request and a large
# download to a slow client finish, answers a keep-alive connection's request in flight with
# "Connection: close" and closes it, closes idle keep-alive connections, and exits 0. A request
# longer than shutdown_timeout is cut and wharf exits after about that long; a second SIGTERM
# stops at once; a php-fpm wharf spawned gets SIGQUIT only after the drain and is waited for.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www"
printf 'x' >"$T/www/x"
# slow.php marks that it runs (so SIGTERM surely finds it in flight), then takes 2 s
cat >"$T/www/slow.php" <<PHP
<?php touch("$T/running-" . \$_GET['n']); sleep(2); echo "slow done ", \$_GET['n'];
PHP
cat >"$T/www/hang.php" <<PHP
<?php touch("$T/running-hang"); sleep(25); echo "too late";
PHP
head -c 8000000 /dev/urandom >"$T/www/big.bin"
BIG_SHA=$(fsha "$T/www/big.bin")
start_fpm drain "$T/fpm.sock"

write_ini() { # write_ini SHUTDOWN_TIMEOUT
    ADMIN=$(free_port)
    cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
admin_listen = 127.0.0.1:$ADMIN
shutdown_timeout = $1
file_cache = 0
[site default]
root = $T/www
fastcgi = unix:$T/fpm.sock
INI
}

# A keep-alive client: one quick request, then one to slow.php?n=ka on the same connection.
# Prints the second response's head and body, and "EOF" when the server closed afterwards.
cat >"$T/keepalive.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=20)
def response():
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        if not d:
            raise SystemExit("closed before a response")
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(body) < n:
        body += s.recv(65536)
    return head.decode(), body.decode()
s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
h1, _ = response()
print("FIRST-CLOSE" if "connection: close" in h1.lower() else "FIRST-KEEP")
sys.stdout.flush()
s.sendall(b"GET /slow.php?n=ka HTTP/1.1\r\nHost: a\r\n\r\n")
h2, b2 = response()
print(h2.replace("\r\n", "\n"))
print("BODY:" + b2)
try:
    print("EOF" if s.recv(1) == b"" else "DATA")
except OSError as e:
    print("EOF" if isinstance(e, ConnectionResetError) else "ERR %s" % e)
PY

# An idle keep-alive connection: prints how long after SIGTERM (the file $T/sigterm) the server
# closed it.
cat >"$T/idle.py" <<'PY'
import os, socket, sys, time
port, mark = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
s.recv(65536)
print("READY", flush=True)
try:
    while s.recv(65536):
        pass
except OSError:
    pass
print("CLOSED %d" % int((time.time() - os.path.getmtime(mark)) * 1000) if os.path.exists(mark) else "CLOSED-EARLY")
PY

# A slow reader with a small receive buffer (the kernel's buffers cannot hold the file, so most
# of it is still to be sent at SIGTERM): writes the body of PATH to OUT, about 2 MB/s.
cat >"$T/slowread.py" <<'PY'
import socket, sys, time
port, path, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.settimeout(30)
s.connect(("127.0.0.1", port))
s.sendall(("GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % path).encode())
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    if not data:
        open(out + ".started", "w").close()  # the response has begun: SIGTERM may come
    data += d
    time.sleep(0.03)
head, _, body = data.partition(b"\r\n\r\n")
open(out, "wb").write(body)
PY

refused() { ! curl -s -o /dev/null --max-time 1 "$(URL /x)"; [ "$(curl -s -o /dev/null -w '%{exitcode}' --max-time 1 "$(URL /x)")" = 7 ]; }

# ---- 1. a drain with work in flight --------------------------------------------------------
new_port
write_ini 20s
start_wharf_ini "$T/wharf.ini"
curl -s --max-time 20 -o "$T/slow.out" "$(URL '/slow.php?n=1')" &
C_SLOW=$!
python3 "$T/slowread.py" "$PORT" /big.bin "$T/big.out" &
C_BIG=$!
python3 "$T/keepalive.py" "$PORT" >"$T/ka.out" 2>&1 &
C_KA=$!
python3 "$T/idle.py" "$PORT" "$T/sigterm" >"$T/idle.out" 2>&1 &
C_IDLE=$!
wait_until 5000 test -e "$T/running-1" -a -e "$T/running-ka" -a -e "$T/big.out.started" &&
    wait_grep "$T/idle.out" READY 5 || bail "the requests did not start"
touch "$T/sigterm"
kill -TERM "$WPID"
t0=$(now_ms)
wait_until 1500 refused
ok $? "after SIGTERM a new connection is refused at once (listeners closed)"
ok $(kill -0 "$WPID" 2>/dev/null; echo $?) "...while wharf is still running, draining"
wait "$C_SLOW"
is "$(cat "$T/slow.out")" "slow done 1" "a PHP request in flight finishes (2 s sleep)"
wait "$C_BIG"
is "$(fsha "$T/big.out")" "$BIG_SHA" "a large download to a slow client finishes whole"
wait "$C_KA"
ka=$(cat "$T/ka.out")
like "$ka" '^FIRST-KEEP' "keep-alive: the response before SIGTERM kept the connection"
like "$ka" 'HTTP/1.1 200' "keep-alive: the request in flight on it is answered"
like "$ka" '[Cc]onnection: close' "keep-alive: ...with Connection: close"
like "$ka" 'BODY:slow done ka' "keep-alive: ...and its whole body"
like "$ka" 'EOF$' "keep-alive: then wharf closes the connection"
wait "$C_IDLE"
idle=$(cat "$T/idle.out")
like "$idle" 'CLOSED [0-9]+' "an idle keep-alive connection is closed by the drain"
ms=$(echo "$idle" | sed -n 's/^CLOSED \([0-9]*\)$/\1/p')
ok $((${ms:-99999} < 2500 ? 0 : 1)) "...within a second or two, not after idle_timeout (${ms:-?} ms)"
wait_until 10000 sh -c "! kill -0 $WPID 2>/dev/null"
wait "$WPID"
is "$?" 0 "wharf exits 0 after the drain"
t1=$(now_ms)
ok $(((t1 - t0) < 15000 ? 0 : 1)) "...as soon as the work is done, well before shutdown_timeout ($((t1 - t0)) ms)"
like "$(cat "$T/wharf.err")" 'drained in [0-9]+ ms' "the error log says the drain ended"

# ---- 2. shutdown_timeout bounds the wait ------------------------------------------------------
rm -f "$T/running-hang"
new_port
write_ini 2s
start_wharf_ini "$T/wharf.ini"
curl -s --max-time 30 -o "$T/hang.out" -w '%{http_code}' "$(URL /hang.php)" >"$T/hang.code" &
C_HANG=$!
wait_file "$T/running-hang" 5 || bail "hang.php did not start"
t0=$(now_ms)
kill -TERM "$WPID"
wait_until 10000 sh -c "! kill -0 $WPID 2>/dev/null"
wait "$WPID"
rc=$?
t1=$(now_ms)
is "$rc" 0 "shutdown_timeout reached: wharf still exits 0"
ok $(((t1 - t0) >= 1800 && (t1 - t0) < 6000 ? 0 : 1)) "...after about shutdown_timeout = 2s ($((t1 - t0)) ms)"
wait "$C_HANG"
unlike "$(cat "$T/hang.out")" 'too late' "the request longer than shutdown_timeout is cut"
like "$(cat "$T/wharf.err")" 'shutdown_timeout \(2000 ms\) reached: closing 1 connection' \
    "the error log names the timeout and what was cut"

# ---- 3. a second SIGTERM stops at once ----------------------------------------------------------
rm -f "$T/running-hang"
new_port
write_ini 30s
start_wharf_ini "$T/wharf.ini"
curl -s --max-time 30 -o /dev/null "$(URL /hang.php)" &
C_HANG=$!
wait_file "$T/running-hang" 5 || bail "hang.php did not start"
ready() { curl -s -o "$T/readyz.out" -w '%{http_code}' --max-time 2 "http://127.0.0.1:$ADMIN/readyz"; }
is "$(ready)" 200 "readiness: /readyz is 200 while serving"
kill -TERM "$WPID"
wait_until 1500 refused
ok $(kill -0 "$WPID" 2>/dev/null; echo $?) "first SIGTERM: wharf waits for the request (shutdown_timeout 30s)"
is "$(ready)" 503 "readiness: /readyz is 503 while draining (the admin listener still answers)"
like "$(cat "$T/readyz.out")" '"phase":"draining"' "readiness: ...and says it is draining"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$ADMIN/livez")" 200 \
    "liveness: /livez stays 200 while draining (the loops still turn)"
t0=$(now_ms)
kill -TERM "$WPID"
wait_until 5000 sh -c "! kill -0 $WPID 2>/dev/null"
wait "$WPID"
rc=$?
t1=$(now_ms)
is "$rc" 0 "second SIGTERM: exit 0"
ok $(((t1 - t0) < 5000 ? 0 : 1)) "...at once, not after shutdown_timeout 30s ($((t1 - t0)) ms)"
wait "$C_HANG"

# ---- 4. spawned php-fpm: drained first, then SIGQUIT and waited for ------------------------------
rm -f "$T"/running-*
start_wharf --root "$T/www" --php
master=$(pgrep -P "$WPID" | head -1)
ok $([ -n "$master" ]; echo $?) "spawn: php-fpm runs as wharf's child"
curl -s --max-time 20 -o "$T/slow2.out" "$(URL '/slow.php?n=2')" &
C_SLOW=$!
wait_file "$T/running-2" 5 || bail "slow.php did not start under spawned php-fpm"
kill -TERM "$WPID"
wait "$C_SLOW"
is "$(cat "$T/slow2.out")" "slow done 2" "spawn: the PHP request in flight finishes before php-fpm is stopped"
wait_until 10000 sh -c "! kill -0 $WPID 2>/dev/null"
wait "$WPID"
is "$?" 0 "spawn: wharf exits 0"
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
ok $(gone "$master"; echo $?) "spawn: php-fpm is gone when wharf has exited"
like "$(cat "$T/wharf.err")" "fpm: php-fpm \\(pid $master\\) stopped gracefully" "spawn: php-fpm was stopped gracefully (SIGQUIT, waited for)"

finish
