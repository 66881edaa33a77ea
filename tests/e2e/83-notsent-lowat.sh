#!/usr/bin/env bash
# [server] tcp_notsent_lowat (src/http_front.c, set_notsent_lowat): set on every listen socket,
# inherited by the connections accepted from it. Seen from outside through `ss`: a client that
# asks for a 10 MiB file and reads nothing leaves the server's socket with at most the low-water
# mark plus one segment unsent (default 16k), or megabytes with tcp_notsent_lowat = 0 (the
# kernel's default). Covered: a socket wharf binds, one passed by systemd-socket-activate, a
# reload that changes the value on a listener it keeps, a whole body still arriving intact, and
# a tls_listen socket, which keeps the kernel's default (its worker encrypts every record and is
# the limit there).
. "$(dirname "$0")/lib.sh"

command -v ss >/dev/null || skip_all "ss (iproute2) is not installed"
command -v systemd-socket-activate >/dev/null || skip_all "systemd-socket-activate is not installed"
command -v openssl >/dev/null || skip_all "openssl is not installed"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || bail "openssl could not make a certificate"
mkdir -p "$T/www"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$T/www/10m.bin"

# unsent PORT [tls]: the most bytes the server holds unsent on one connection whose client
# reads nothing (its receive buffer is 64 KiB, so the rest of the 10 MiB waits on the server's
# side), sampled every 0.1 s for 1.5 s after the request (a busy machine may be slow to fill it)
unsent() {
    python3 - "$1" "${2:-}" <<'EOF'
import re, socket, ssl, subprocess, sys, time
port = int(sys.argv[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", port))
if sys.argv[2] == "tls":
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = ctx.wrap_socket(s, server_hostname="localhost")
s.sendall(b"GET /10m.bin HTTP/1.1\r\nHost: x\r\n\r\n")
me = s.getsockname()[1]
most, seen = 0, False
for _ in range(15):
    time.sleep(0.1)
    out = subprocess.run(["ss", "-tniH", "state", "established",
                          "( sport = :%d and dport = :%d )" % (port, me)],
                         capture_output=True, text=True).stdout
    seen = seen or bool(out.strip())
    m = re.search(r"notsent:(\d+)", out)
    most = max(most, int(m.group(1)) if m else 0)
print(most if seen else "no-socket")
EOF
}

write_ini() { # write_ini [VALUE]: tcp_notsent_lowat = VALUE, or the default
    {
        printf '[server]\nlisten = 127.0.0.1:%s\n' "$PORT"
        [ -z "${1:-}" ] || printf 'tcp_notsent_lowat = %s\n' "$1"
        printf '[site s]\nroot = %s\n' "$T/www"
    } >"$T/wharf.ini"
}

# ---- the default, on a socket wharf binds ---------------------------------------------------
PORT=$(free_port)
write_ini
start_wharf_ini "$T/wharf.ini"
n=$(unsent "$PORT")
ok $([[ $n =~ ^[0-9]+$ ]] && ((n < 256 * 1024)) && echo 0 || echo 1) \
    "default (16k): a client that reads nothing leaves little unsent on the server ($n bytes)"
is "$(curl -s --max-time 20 "$(URL /10m.bin)" | cmp - "$T/www/10m.bin" && echo same)" same \
    "the 10 MiB body arrives whole and intact"

# ---- a reload to 0, then to 64k, on the listener it keeps -----------------------------------
reloads() { grep -c 'configuration reloaded' "$T/wharf.err"; }
write_ini 0
kill -HUP "$WPID"
wait_until 5000 eval '[ "$(reloads)" -ge 1 ]'
ok $? "a reload with tcp_notsent_lowat = 0 is taken"
unlike "$(cat "$T/wharf.err")" "tcp_notsent_lowat changed" "... live, not at the next restart"
n=$(unsent "$PORT")
ok $([[ $n =~ ^[0-9]+$ ]] && ((n > 1024 * 1024)) && echo 0 || echo 1) \
    "after it, a new connection queues megabytes unsent, as the kernel does by default ($n bytes)"
write_ini 64k
kill -HUP "$WPID"
wait_until 5000 eval '[ "$(reloads)" -ge 2 ]'
n=$(unsent "$PORT")
ok $([[ $n =~ ^[0-9]+$ ]] && ((n < 256 * 1024)) && echo 0 || echo 1) \
    "a reload to 64k: a new connection keeps little unsent again ($n bytes)"
stop_pid "$WPID"

# ---- a tls_listen socket keeps the kernel's default ------------------------------------------
PORT=$(free_port)
TPORT=$(free_port)
write_ini 16k
sed -i "2a tls_listen = 127.0.0.1:$TPORT\ntls_cert = $T/cert.pem\ntls_key = $T/key.pem" "$T/wharf.ini"
start_wharf_ini "$T/wharf.ini"
wait_until 5000 eval 'curl -sk -o /dev/null "https://127.0.0.1:$TPORT/"' || bail "the TLS listener did not answer"
n=$(unsent "$TPORT" tls)
ok $([[ $n =~ ^[0-9]+$ ]] && ((n > 1024 * 1024)) && echo 0 || echo 1) \
    "tls_listen keeps the kernel's default: megabytes unsent ($n bytes)"
n=$(unsent "$PORT")
ok $([[ $n =~ ^[0-9]+$ ]] && ((n < 256 * 1024)) && echo 0 || echo 1) \
    "... while the plain listener beside it has tcp_notsent_lowat = 16k ($n bytes)"
is "$(curl -sk --max-time 20 "https://127.0.0.1:$TPORT/10m.bin" | cmp - "$T/www/10m.bin" && echo same)" same \
    "the 10 MiB body arrives whole over TLS"
stop_pid "$WPID"

# ---- 0 from the start -------------------------------------------------------------------------
PORT=$(free_port)
write_ini 0
start_wharf_ini "$T/wharf.ini"
n=$(unsent "$PORT")
ok $([[ $n =~ ^[0-9]+$ ]] && ((n > 1024 * 1024)) && echo 0 || echo 1) \
    "tcp_notsent_lowat = 0: the kernel's default, megabytes unsent ($n bytes)"
stop_pid "$WPID"

# ---- a socket passed by the service manager -------------------------------------------------
PORT=$(free_port)
write_ini
systemd-socket-activate -l "127.0.0.1:$PORT" "$WHARF" --config "$T/wharf.ini" 2>>"$T/wharf.err" &
WPID=$!
PIDS+=("$WPID")
listening() { grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }
wait_until 5000 listening "$PORT" || bail "systemd-socket-activate did not listen"
curl -s --max-time 20 -o /dev/null "$(URL /)" # starts wharf
n=$(unsent "$PORT")
ok $([[ $n =~ ^[0-9]+$ ]] && ((n < 256 * 1024)) && echo 0 || echo 1) \
    "a socket passed by systemd-socket-activate gets the default too ($n bytes)"
stop_pid "$WPID"

# ---- bad values -------------------------------------------------------------------------------
for v in 32m lots -1; do
    write_ini "$v"
    out=$("$WHARF" --config "$T/wharf.ini" --test 2>&1)
    ok $([ $? -ne 0 ] && echo 0 || echo 1) "tcp_notsent_lowat = $v is refused"
    like "$out" "wharf.ini:3: .*tcp_notsent_lowat" "... at its line, naming the key"
done
