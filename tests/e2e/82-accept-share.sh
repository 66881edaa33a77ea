#!/usr/bin/env bash
# Which worker accepts (src/accept_share.c, libmicrohttpd patch 0009), through /livez on the
# admin listener, with two workers ([server] worker_accept = auto, which fills with two):
# - fill first: connections that come to an idle server all go to worker 0, and worker 1
#   does not accept meanwhile;
# - near its connection limit, worker 0 lets worker 1 accept: every connection is served,
#   none waits for a worker that cannot take it;
# - while worker 0 is stuck in long work (listings of 100,000 files, made in its loop), a new
#   connection is taken and answered by worker 1, before that work is done;
# - worker_accept = spread: every worker accepts, as before.
# Skipped when built with --with-libmicrohttpd=system (patch 0009 is not in: every worker
# accepts, as before).
. "$(dirname "$0")/lib.sh"

[ "${WHARF_MHD:-bundled}" = bundled ] || skip_all "built with --with-libmicrohttpd=$WHARF_MHD"

W=$T/www
mkdir -p "$W/big"
echo small >"$W/small.txt"
python3 - "$W/big" <<'EOF'
import os, sys
d = sys.argv[1]
for i in range(100000):
    os.close(os.open(os.path.join(d, "file-with-a-fairly-long-name-%06d.txt" % i), os.O_CREAT | os.O_WRONLY, 0o644))
EOF

APORT=$(free_port)
write_ini() { # write_ini MAX_CONNECTIONS [WORKER_ACCEPT]
    PORT=$(free_port)
    cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
admin_listen = 127.0.0.1:$APORT
workers = 2
worker_accept = ${2:-auto}
max_connections = $1
[site s]
root = $W
browse = on
INI
}

# livez_field WORKER FIELD: that worker's field in /livez
livez_field() {
    curl -s "http://127.0.0.1:$APORT/livez" |
        python3 -c 'import json, sys; w = json.load(sys.stdin)["workers"][int(sys.argv[1])]; v = w[sys.argv[2]]; print(str(v).lower())' "$1" "$2"
}

# hold N PORT OUT: N kept-alive connections, each answers one request, held open until stdin closes;
# prints "answered K" to OUT once all answered (or failed)
hold() {
    python3 - "$1" "$2" "$3" <<'EOF' &
import socket, sys, time
n, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns, answered = [], 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    conns.append(s)
    time.sleep(0.01)
for s in conns:
    s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
for s in conns:
    try:
        data = b""
        while b"small\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        answered += data.startswith(b"HTTP/1.1 200") and b"small\n" in data
    except OSError:
        pass
with open(out, "w") as f:
    f.write("answered %d\n" % answered)
time.sleep(30)  # held until killed
EOF
    HOLD_PID=$!
    PIDS+=("$HOLD_PID")
}

# ---- fill first (auto, with 2 workers) ----------------------------------------------------
write_ini 1000
start_wharf_ini "$T/wharf.ini"
like "$(cat "$T/wharf.err")" "2 workers, filled in order" "the log says the workers are filled in order"
wait_until 3000 eval '[ "$(livez_field 1 accepting)" = false ]'
ok $? "an idle server: worker 1 does not accept (worker 0 has time to spare)"
hold 8 "$PORT" "$T/hold1"
wait_until 5000 [ -s "$T/hold1" ]
is "$(cat "$T/hold1")" "answered 8" "8 kept-alive connections opened one after another: all answered"
sleep 0.2 # each worker counts its connections every 50 ms
is "$(livez_field 0 connections)/$(livez_field 1 connections)" "8/0" \
    "all 8 are on worker 0, none on worker 1"
stop_pid "$HOLD_PID"
stop_pid "$WPID"

# ---- worker_accept = spread: every worker accepts, as before ------------------------------
write_ini 1000 spread
start_wharf_ini "$T/wharf.ini"
holds_for 300 eval '[ "$(livez_field 1 accepting)" = true ]'
ok $? "worker_accept = spread: worker 1 accepts on an idle server too"
like "$(cat "$T/wharf.err")" "2 workers, accepting alike" "... and the log says so"
stop_pid "$WPID"

# ---- near the connection limit ------------------------------------------------------------
# max_connections = 16 over two workers: 8 for each; worker 0 counts as busy from 7 (7/8)
write_ini 16
start_wharf_ini "$T/wharf.ini"
wait_until 3000 eval '[ "$(livez_field 1 accepting)" = false ]'
ok $? "max_connections = 16, idle: worker 1 does not accept yet"
hold 14 "$PORT" "$T/hold2"
wait_until 8000 [ -s "$T/hold2" ]
is "$(cat "$T/hold2" 2>/dev/null)" "answered 14" "14 connections with room for 8 per worker: all answered"
sleep 0.2
c0=$(livez_field 0 connections) c1=$(livez_field 1 connections)
ok $((c0 >= 7 && c0 <= 8 && c0 + c1 == 14 ? 0 : 1)) \
    "worker 0 filled up to its limit (7 or 8), worker 1 took the rest ($c0 and $c1)"
stop_pid "$HOLD_PID"
stop_pid "$WPID"

# ---- worker 0 stuck in long work ----------------------------------------------------------
write_ini 1000
start_wharf_ini "$T/wharf.ini"
wait_until 3000 eval '[ "$(livez_field 1 accepting)" = false ]'
ok $? "idle again: worker 1 does not accept before the long work"
# three kept-alive connections, opened while the server is idle (so on worker 0), then each
# asks at once for a listing of 100,000 files, which worker 0 builds in its loop; 80 ms later a
# new connection asks for a small file
python3 - "$PORT" "$T" <<'EOF' >"$T/stuck.out" 2>&1
import socket, subprocess, sys, time
port, t = int(sys.argv[1]), sys.argv[2]
conns = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(3)]
time.sleep(0.2)
for s in conns:
    s.sendall(b"GET /big/ HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.08)
t0 = time.monotonic()
small = subprocess.run(["curl", "-s", "--max-time", "30", "http://127.0.0.1:%d/small.txt" % port],
                       capture_output=True).stdout
t_small = time.monotonic()
# each listing: read the head, then the body to its end (chunked: the last chunk)
first_done, whole = None, 0
for s in conns:
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n") and not (b"Content-Length" in data and data.count(b"</html>")):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    done = time.monotonic()
    first_done = done if first_done is None else min(first_done, done)
    whole += b"file-with-a-fairly-long-name-099999.txt" in data
print("small", small.decode().strip())
print("small_ms", int((t_small - t0) * 1000))
print("first_listing_ms", int((first_done - t0) * 1000))
print("whole", whole)
EOF
field() { awk -v k="$1" '$1 == k { print $2 }' "$T/stuck.out"; }
is "$(field small)" "small" "a request while worker 0 builds three listings is answered"
ok "$([ -n "$(field small_ms)" ] && [ "$(field small_ms)" -lt "$(field first_listing_ms)" ] && echo 0 || echo 1)" \
    "... by worker 1, before worker 0 is done ($(field small_ms) ms; the first listing was whole after $(field first_listing_ms) ms)"
is "$(field whole)" 3 "the three listings are whole"

finish
