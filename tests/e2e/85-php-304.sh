#!/usr/bin/env bash
# A 304 from PHP (libmicrohttpd patch 0011, fcgi_request.c response_not_modified): no body, no
# "Content-Length: 0" (RFC 9110 8.6: a 304's Content-Length may only be the 200's), no chunked
# encoding, and the connection stays open for the next request; the application's own
# Content-Length is kept; its headers (ETag, Cache-Control) pass; the access log counts 0
# bytes. Also with gzip on (a 304 is never compressed) and for a 304 that PHP flushes before it
# ends (the streamed path). Skipped when built with --with-libmicrohttpd=system (the patch is
# not in: such a 304 says Content-Length: 0, as before).
. "$(dirname "$0")/lib.sh"

[ "${WHARF_MHD:-bundled}" = bundled ] || skip_all "built with --with-libmicrohttpd=$WHARF_MHD"
W=$T/www
mkdir -p "$W"
cat >"$W/nm.php" <<'EOF'
<?php http_response_code(304); header('ETag: "v1"'); header('Cache-Control: max-age=60');
EOF
cat >"$W/nm-len.php" <<'EOF'
<?php http_response_code(304); header('ETag: "v1"'); header('Content-Length: 1234');
EOF
cat >"$W/nm-late.php" <<'EOF'
<?php http_response_code(304); header('ETag: "v2"'); flush(); usleep(300000);
EOF
cat >"$W/page.php" <<'EOF'
<?php echo str_repeat("page ", 100);
EOF

start_fpm nm "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site s]
root = $W
gzip = on
access_log = $T/access.log
fastcgi = unix:$T/fpm.sock
EOF
start_wharf_ini "$T/wharf.ini"

# exchange PATH...: the requests one after another on one kept-alive connection; prints, per
# response, "STATUS cl=<Content-Length or -> te=<Transfer-Encoding or -> body=<bytes>", then
# "same-connection" if every response came on it
exchange() {
    python3 - "$PORT" "$@" <<'EOF'
import socket, sys
port, paths = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
f = s.makefile("rb")
for p in paths:
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode())
    status = f.readline().split()[1].decode()
    head = {}
    while True:
        line = f.readline().strip()
        if not line:
            break
        k, v = line.decode().split(":", 1)
        head[k.lower()] = v.strip()
    body = b""
    if status != "304" and "content-length" in head:
        body = f.read(int(head["content-length"]))
    print(status, "cl=" + head.get("content-length", "-"), "te=" + head.get("transfer-encoding", "-"),
          "etag=" + head.get("etag", "-"), "body=%d" % len(body))
s.settimeout(0.3)
try:
    extra = s.recv(100)  # nothing more may come: a 304 has no body
    print("extra bytes: %r" % extra if extra else "closed")
except socket.timeout:
    print("same-connection")
EOF
}

out=$(exchange /nm.php /page.php /nm.php)
lines() { printf '%s\n' "$out" | sed -n "$1p"; }
is "$(lines 1)" '304 cl=- te=- etag="v1" body=0' "a 304 from PHP: no Content-Length, no chunked encoding, its ETag"
is "$(lines 2)" '200 cl=500 te=- etag=- body=500' "... and the connection goes on: the next request on it is answered"
is "$(lines 3)" '304 cl=- te=- etag="v1" body=0' "... and so is a 304 after it"
is "$(lines 4)" same-connection "... on the same connection, with no stray bytes after the 304s"

h=$(curl -si "$(URL /nm.php)" | tr -d '\r')
like "$h" "Cache-Control: max-age=60" "the application's other headers pass"
unlike "$h" "Content-Encoding|Vary: Accept-Encoding" "a 304 is never compressed"

out=$(exchange /nm-len.php)
is "$(lines 1)" '304 cl=1234 te=- etag="v1" body=0' "the application's own Content-Length (the 200's) is kept"

out=$(exchange /nm-late.php /page.php)
is "$(lines 1)" '304 cl=- te=- etag="v2" body=0' "a 304 PHP flushed before its end (streamed): the same"
is "$(lines 2)" '200 cl=500 te=- etag=- body=500' "... and the connection goes on after it"

wait_until 3000 eval '[ "$(grep -c "GET /nm.php" "$T/access.log")" -ge 3 ]'
like "$(grep 'GET /nm.php' "$T/access.log" | head -1)" '" 304 0 ' "the access log counts 0 bytes for a 304"
