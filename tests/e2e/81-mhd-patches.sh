#!/usr/bin/env bash
# The bundled libmicrohttpd's patches (third_party/patches/), through the real binary:
# 0002: an idle kept-alive connection holds no pool page once idle for 0.5-1 s (RSS per idle connection, measured by
#       bench/idle_conns.py: 16.8 KB with Debian's 0.9.75, under 1 KB patched; limit 4 KB), and a
#       reused connection still works: pipelined requests, then a large request head after
#       small ones on the same connection (the dropped pages read as zeros again);
# 0003: a large file goes out in sendfile() calls of more than 128 KiB (strace counts them).
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
python3 - "$PORT" >"$T/reuse.out" 2>&1 <<'EOF'
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=20)
f = s.makefile("rb")

def read_resp():
    status = f.readline().split()[1].decode()
    n = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        if k.lower() == "content-length":
            n = int(v)
    return status, f.read(n)

req = lambda p, extra="": ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (p, extra)).encode()
s.sendall(req("/a.txt") + req("/b.txt") + req("/a.txt"))
got = [read_resp() for _ in range(3)]
print("pipelined", " ".join("%s:%s" % (st, b.decode().strip()) for st, b in got))
big = "".join("X-Pad-%d: %s\r\n" % (i, "p" * 100) for i in range(80))  # ~9 KiB: more than the 8 KiB read buffer
s.sendall(req("/b.txt", big))
st, b = read_resp()
print("large-head", st, b.decode().strip())
s.sendall(req("/a.txt"))
st, b = read_resp()
print("after", st, b.decode().strip())
EOF
out=$(cat "$T/reuse.out")
like "$out" "pipelined 200:small 200:second 200:small" "three pipelined requests on one connection: three right answers"
like "$out" "large-head 200 second" "a 9 KiB request head after small requests on the same connection is served"
like "$out" "after 200 small" "and the connection still serves the next request"
stop_pid "$WPID"

# ---- 0003: sendfile chunks -------------------------------------------------------------
# wharf runs as strace's child (tracing a child needs no privilege); stopped by its own PID.
PORT2=$(free_port)
strace -f -qq -e trace=sendfile -o "$T/strace.out" "$WHARF" --root "$W" \
    --listen "127.0.0.1:$PORT2" 2>>"$T/wharf.err" &
SPID=$!
PIDS+=("$SPID")
wait_for_http "http://127.0.0.1:$PORT2/" 20 || bail "wharf under strace did not start"
WPID2=$(awk '{print $1}' /proc/$SPID/task/*/children)
[ -n "$WPID2" ] || bail "no wharf process under strace"
PIDS+=("$WPID2")
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
