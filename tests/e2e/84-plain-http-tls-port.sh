#!/usr/bin/env bash
# A plain HTTP request sent to a tls_listen port (libmicrohttpd patch 0010): answered with a
# plain-text 400 that says why, as nginx and Caddy do, instead of an empty reply; the request
# is read first, so a request with a body gets the whole answer (no reset under it). Bytes that
# are neither HTTP nor TLS are closed on as before, and TLS still works on the same port, also
# when the client's first bytes come one at a time.
# Skipped when built with --with-libmicrohttpd=system (the patch is not in).
. "$(dirname "$0")/lib.sh"

[ "${WHARF_MHD:-bundled}" = bundled ] || skip_all "built with --with-libmicrohttpd=$WHARF_MHD"
command -v openssl >/dev/null || skip_all "openssl is not installed"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || bail "openssl could not make a certificate"
mkdir -p "$T/www"
printf 'secure hello' >"$T/www/index.html"

PORT=$(free_port)
TPORT=$(free_port)
cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
tls_listen = 127.0.0.1:$TPORT
tls_cert = $T/cert.pem
tls_key = $T/key.pem
[site s]
root = $T/www
INI
start_wharf_ini "$T/wharf.ini"
wait_until 5000 eval 'curl -sk -o /dev/null "https://127.0.0.1:$TPORT/"' || bail "the TLS listener did not answer"

# ---- plain HTTP to the TLS port ---------------------------------------------------------------
out=$(curl -si --max-time 5 "http://127.0.0.1:$TPORT/index.html")
like "$out" "^HTTP/1.1 400 Bad Request" "plain HTTP to the TLS port: 400, not an empty reply"
like "$out" "This port speaks HTTPS; the request was sent as plain HTTP" "... saying why, in plain text"
like "$out" "Connection: close" "... and closing the connection"
is "$(curl -s --max-time 5 "http://127.0.0.1:$TPORT/" | wc -c)" 60 "... with a body of the length its Content-Length gives"
wait_grep "$T/wharf.err" "plain HTTP request on a TLS port" 5
ok $? "the error log says what came"

# a POST with a 20 KB body: the whole answer arrives (the request is read before closing)
got=$(python3 - "$TPORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
body = b"x" * 20000
s.sendall(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print("eof", len(data.split(b"\r\n\r\n", 1)[-1]), data.split(b"\r\n", 1)[0].decode())
except ConnectionResetError:
    print("reset", len(data))
EOF
)
is "$got" "eof 60 HTTP/1.1 400 Bad Request" "a plain POST with a 20 KB body gets the whole 400, then an orderly close"

# ---- neither HTTP nor TLS -------------------------------------------------------------------
got=$(python3 - "$TPORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"\x00\x01\x02garbage\r\n\r\n")
try:
    print("closed, %d bytes" % len(s.recv(4096)))
except ConnectionResetError:
    print("closed, 0 bytes")
except socket.timeout:
    print("still open")
EOF
)
is "$got" "closed, 0 bytes" "bytes that are neither HTTP nor TLS: closed without an answer, as before"

# ---- TLS still works, also with its first bytes one at a time ------------------------------
is "$(curl -sk --max-time 5 "https://127.0.0.1:$TPORT/")" "secure hello" "HTTPS on the same port answers"
got=$(python3 - "$TPORT" <<'EOF'
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
first = True
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        data = out.read()
        if first:  # the ClientHello: 1 byte, then 2, then the rest, with pauses between
            for piece in (data[:1], data[1:3], data[3:]):
                s.sendall(piece)
                time.sleep(0.15)
            first = False
        elif data:
            s.sendall(data)
        chunk = s.recv(65536)
        if not chunk:
            print("closed during the handshake")
            sys.exit(0)
        inc.write(chunk)
tls.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
s.sendall(out.read())
reply = b""
while True:
    try:
        piece = tls.read(65536)
        if not piece:  # the server's close_notify
            break
        reply += piece
    except ssl.SSLWantReadError:
        chunk = s.recv(65536)
        if not chunk:
            break
        inc.write(chunk)
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        break
print(reply.split(b"\r\n", 1)[0].decode(), reply.split(b"\r\n\r\n", 1)[-1].decode())
EOF
)
is "$got" "HTTP/1.1 200 OK secure hello" "a TLS client whose ClientHello comes in pieces (1 byte, 2, the rest) is served"
is "$(curl -s --max-time 5 "http://127.0.0.1:$PORT/")" "secure hello" "the plain listener beside it is unchanged"
