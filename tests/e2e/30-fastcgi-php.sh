#!/usr/bin/env bash
# FastCGI with a real php-fpm, run once over a unix socket and once over 127.0.0.1 TCP: the
# CGI/1.1 params php-fpm expects (DOCUMENT_ROOT is the real path of a symlinked root, so a
# deploy that swaps the symlink gives new paths), header hygiene (Proxy, names with '_' or
# '.'), only existing scripts with the preset's extension run (the split-path hole is tested
# against a pool that would itself run .jpg), scripts are never served as source, missing
# scripts are 404 without touching the backend (php-fpm stopped), fastcgi_path and
# fastcgi_except, and the response side: status, Location, Set-Cookie, Content-Type,
# Content-Length, HEAD, methods, streaming of flushed output and a 20 MiB body.
. "$(dirname "$0")/lib.sh"

# php-fpm imports its environment into $_SERVER (clear_env = no): keep names we test unset.
unset HTTPS HTTP_PROXY http_proxy HTTP_X_UNDER HTTP_X_DOT HTTP_X_REAL 2>/dev/null

# ---- the document roots -----------------------------------------------------------------------
# $T/www is a symlink to the release directory $T/rel1 (a "git-deployed" root); rel2 is the
# next release.
for rel in rel1 rel2; do
    d="$T/$rel"
    mkdir -p "$d/dir" "$d/uploads" "$d/plain"
    cat >"$d/env.php" <<'EOF'
<?php $v = $_GET['v'] ?? ''; echo array_key_exists($v, $_SERVER) ? $_SERVER[$v] : '(unset)';
EOF
    cat >"$d/index.php" <<'EOF'
<?php echo 'index:', $_SERVER['PATH_INFO'] ?? '';
EOF
    printf '<?php echo "dir index";\n' >"$d/dir/index.php"
    printf 'plain text\n' >"$d/plain/readme.txt"
    # PHP code in an "image": the pool below has security.limit_extensions = .php .jpg, so
    # php-fpm itself would run it if wharf ever named it in SCRIPT_FILENAME
    printf '<?php echo "PWNED-", 6 * 7; ?>\n' >"$d/uploads/a.jpg"
    cat >"$d/code.php" <<'EOF'
<?php http_response_code((int)$_GET['c']); echo 'code ', (int)$_GET['c'];
EOF
    cat >"$d/loc.php" <<'EOF'
<?php header('Location: /x'); echo 'moved';
EOF
    cat >"$d/status.php" <<'EOF'
<?php header('Status: 403 Go Away'); echo 'status body';
EOF
    cat >"$d/cookies.php" <<'EOF'
<?php header('Set-Cookie: a=1', false); header('Set-Cookie: b=2; Path=/p', false);
header('Set-Cookie: c=3; HttpOnly', false); echo 'cookies';
EOF
    cat >"$d/ctype.php" <<'EOF'
<?php header('Content-Type: application/x-wharf-test; charset=utf-16'); echo 'ct';
EOF
    cat >"$d/clen.php" <<'EOF'
<?php header('Content-Length: 5'); echo 'hello';
EOF
    cat >"$d/hdr.php" <<'EOF'
<?php header('X-Wharf-Test: yes'); echo 'hdr';
EOF
    cat >"$d/method.php" <<'EOF'
<?php echo $_SERVER['REQUEST_METHOD'], ' ', $_SERVER['CONTENT_LENGTH'] ?? '-', ' ', file_get_contents('php://input');
EOF
    cat >"$d/stream.php" <<'EOF'
<?php echo "first\n"; @ob_flush(); flush(); sleep(1); echo "second\n";
EOF
    cat >"$d/big.php" <<'EOF'
<?php $b = str_repeat('0123456789abcdef', 65536); for ($i = 0; $i < 20; $i++) echo $b;
EOF
done
printf '<?php echo "release 1";\n' >"$T/rel1/release.php"
printf '<?php echo "release 2";\n' >"$T/rel2/release.php"
ln -s rel1 "$T/www"
REAL1=$(realpath "$T/rel1")
REAL2=$(realpath "$T/rel2")
BIG_SHA=$(python3 -c 'import hashlib; print(hashlib.sha256(b"0123456789abcdef" * 65536 * 20).hexdigest())')

# site app: only /app goes to FastCGI
mkdir -p "$T/appsite/app"
cp "$T/rel1/env.php" "$T/appsite/app/env.php"
printf '<?php echo "OUTSIDE-RAN";\n' >"$T/appsite/outside.php"
printf 'outside text\n' >"$T/appsite/outside.txt"
# site exc: /static is never FastCGI
mkdir -p "$T/excsite/static"
printf '<?php echo "STATIC-RAN";\n' >"$T/excsite/static/x.php"
printf 'body { color: red }\n' >"$T/excsite/static/style.css"
printf '<?php echo "run ok";\n' >"$T/excsite/run.php"

# e VAR [curl args]: $_SERVER[VAR] as PHP sees it, "(unset)" when absent
e() {
    local v=$1
    shift
    body "/env.php?v=$v" "$@"
}

# fcgi_direct LISTEN SCRIPT_FILENAME: ask php-fpm directly (no wharf) to run a file; prints
# its raw CGI output. Used as a control: the pool below really would run a .jpg.
fcgi_direct() {
    python3 - "$1" "$2" <<'EOF'
import socket, struct, sys
listen, script = sys.argv[1], sys.argv[2]
if listen.startswith("/"):
    s = socket.socket(socket.AF_UNIX); s.connect(listen)
else:
    h, p = listen.rsplit(":", 1); s = socket.create_connection((h, int(p)))
s.settimeout(5)
def rec(t, c): return struct.pack(">BBHHBx", 1, t, 1, len(c), 0) + c
def pair(k, v): return bytes([len(k), len(v)]) + k + v
params = b"".join(pair(k.encode(), v.encode()) for k, v in [
    ("SCRIPT_FILENAME", script), ("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", "/x"),
    ("REQUEST_URI", "/x"), ("QUERY_STRING", ""), ("GATEWAY_INTERFACE", "CGI/1.1")])
s.sendall(rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, params) + rec(4, b"") + rec(5, b""))
out = b""; data = b""
while True:
    d = s.recv(65536)
    if not d: break
    data += d
while len(data) >= 8:
    _, t, _, n, pad = struct.unpack(">BBHHB", data[:7])
    if t == 6: out += data[8:8 + n]
    data = data[8 + n + pad:]
sys.stdout.write(out.decode("latin-1"))
EOF
}

# after_head_len < RESPONSE: number of bytes after the head ("none" without a complete head)
after_head_len() {
    python3 -c 'import sys
d = sys.stdin.buffer.read()
print(len(d.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in d else "none")'
}

# stream_times PATH: "T_FIRST T_END" (seconds since the request was sent) and then the
# de-chunked body, read by python3 straight from the socket.
stream_times() {
    python3 - "$PORT" "$1" <<'EOF'
import socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
t0 = time.monotonic()
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode())
data = b""; t_first = None
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
    if t_first is None and b"first" in data.split(b"\r\n\r\n", 1)[-1] and b"\r\n\r\n" in data:
        t_first = time.monotonic() - t0
t_end = time.monotonic() - t0
head, _, body = data.partition(b"\r\n\r\n")
if b"transfer-encoding: chunked" in head.lower():
    out = b""
    while body:
        line, _, rest = body.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    body = out
print("%.3f %.3f" % (t_first if t_first is not None else 99, t_end))
sys.stdout.write(body.decode("latin-1"))
EOF
}

for TR in unix tcp; do
    if [ "$TR" = unix ]; then
        LISTEN="$T/fpm-$TR.sock"
        UP="unix:$LISTEN"
    else
        LISTEN="127.0.0.1:$(free_port)"
        UP=$LISTEN
    fi
    start_fpm "p$TR" "$LISTEN" "security.limit_extensions = .php .jpg"
    PORT=$(free_port)
    cat >"$T/$TR.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site main]
root = $T/www
fastcgi = $UP

[site app]
hosts = app.test
root = $T/appsite
fastcgi = $UP
fastcgi_path = /app

[site exc]
hosts = exc.test
root = $T/excsite
fastcgi = $UP
fastcgi_except = /static
EOF
    start_wharf_ini "$T/$TR.ini"
    P="[$TR]"

    # ---- CGI/1.1 params ---------------------------------------------------------------------
    is "$(e SCRIPT_FILENAME)" "$REAL1/env.php" "$P SCRIPT_FILENAME is the real root + the script"
    is "$(e SCRIPT_NAME)" "/env.php" "$P SCRIPT_NAME is the script's URL path"
    is "$(body '/env.php/a/b?v=SCRIPT_NAME')" "/env.php" "$P SCRIPT_NAME stops at the split (/env.php/a/b)"
    is "$(body '/env.php/a/b?v=PATH_INFO')" "/a/b" "$P PATH_INFO is what follows the script (/a/b)"
    is "$(body '/env.php/a/b?v=PATH_TRANSLATED')" "$REAL1/a/b" "$P PATH_TRANSLATED is DOCUMENT_ROOT + PATH_INFO"
    is "$(body '/env.php/a/b?v=SCRIPT_FILENAME')" "$REAL1/env.php" "$P SCRIPT_FILENAME excludes PATH_INFO"
    like "$(e PATH_INFO)" '^(|\(unset\))$' "$P PATH_INFO empty or unset without path info"
    is "$(body '/env.php?v=QUERY_STRING&x=a%20b&y')" "v=QUERY_STRING&x=a%20b&y" "$P QUERY_STRING is the raw query"
    is "$(body '/env.php/q?v=QUERY_STRING')" "v=QUERY_STRING" "$P QUERY_STRING with PATH_INFO"
    is "$(e REQUEST_METHOD)" "GET" "$P REQUEST_METHOD GET"
    is "$(body '/plain/../env%2Ephp?v=REQUEST_URI&x=%41')" "/plain/../env%2Ephp?v=REQUEST_URI&x=%41" \
        "$P REQUEST_URI is the raw request-target (not decoded, not normalised)"
    is "$(body '/env.php/p%20q?v=REQUEST_URI')" "/env.php/p%20q?v=REQUEST_URI" "$P REQUEST_URI raw with PATH_INFO"
    is "$(body '/plain/../env%2Ephp?v=DOCUMENT_URI')" "/env.php" "$P DOCUMENT_URI is the decoded, normalised path"
    is "$(body '/env%2Ephp/p%20q?v=PATH_INFO')" "/p q" "$P PATH_INFO is decoded"
    is "$(e DOCUMENT_ROOT)" "$REAL1" "$P DOCUMENT_ROOT is the resolved real path of the symlinked root"
    is "$(body "/app/env.php?v=SERVER_NAME" -H "Host: app.test:$PORT")" "app.test" "$P SERVER_NAME is the host name without port"
    is "$(e SERVER_ADDR)" "127.0.0.1" "$P SERVER_ADDR is the local address"
    is "$(e SERVER_PORT)" "$PORT" "$P SERVER_PORT is the local port"
    is "$(e SERVER_PROTOCOL)" "HTTP/1.1" "$P SERVER_PROTOCOL HTTP/1.1"
    is "$(e SERVER_PROTOCOL --http1.0)" "HTTP/1.0" "$P SERVER_PROTOCOL HTTP/1.0"
    sw=$(e SERVER_SOFTWARE)
    like "$sw" '^wharf' "$P SERVER_SOFTWARE names wharf"
    is "$sw" "$(headers /env.php?v=x | header_value Server)" "$P SERVER_SOFTWARE equals the Server header"
    is "$(e GATEWAY_INTERFACE)" "CGI/1.1" "$P GATEWAY_INTERFACE CGI/1.1"
    is "$(e REMOTE_ADDR)" "127.0.0.1" "$P REMOTE_ADDR is the client address"
    out=$(curl -s --path-as-is -w '\n%{local_port}' "$(URL '/env.php?v=REMOTE_PORT')")
    is "$(printf '%s\n' "$out" | head -1)" "$(printf '%s\n' "$out" | tail -1)" "$P REMOTE_PORT is the client's port"
    is "$(e CONTENT_TYPE --data-binary abc -H 'Content-Type: text/x-wharf')" "text/x-wharf" "$P CONTENT_TYPE from the request"
    is "$(e CONTENT_LENGTH --data-binary abcde -H 'Content-Type: text/plain')" "5" "$P CONTENT_LENGTH of a 5-byte body"
    like "$(e CONTENT_LENGTH)" '^(|0|\(unset\))$' "$P CONTENT_LENGTH empty, 0 or unset for a GET without body"
    like "$(e CONTENT_TYPE)" '^(|\(unset\))$' "$P CONTENT_TYPE empty or unset without one"
    like "$(e HTTPS -H 'HTTPS: on')" '^(|off|\(unset\))$' "$P HTTPS not on over plain HTTP (a client 'HTTPS: on' header does not set it)"
    is "$(e HTTP_HTTPS -H 'HTTPS: on')" "on" "$P ...that header arrives as HTTP_HTTPS"
    is "$(e REDIRECT_STATUS)" "200" "$P REDIRECT_STATUS 200"
    is "$(e HTTP_X_CUSTOM_THING -H 'X-Custom-Thing: hello there')" "hello there" "$P request header X-Custom-Thing -> HTTP_X_CUSTOM_THING"
    is "$(e HTTP_USER_AGENT -A 'wharf-e2e/1')" "wharf-e2e/1" "$P User-Agent -> HTTP_USER_AGENT"
    is "$(e HTTP_HOST)" "127.0.0.1:$PORT" "$P Host -> HTTP_HOST"
    is "$(e HTTP_PROXY -H 'Proxy: http://127.0.0.1:1/')" "(unset)" "$P Proxy header dropped (httpoxy): no HTTP_PROXY"
    is "$(e HTTP_X_UNDER -H 'X_Under: a')" "(unset)" "$P header name with '_' dropped"
    is "$(e HTTP_X_DOT -H 'X.Dot: b')" "(unset)" "$P header name with '.' dropped (no HTTP_X_DOT)"
    is "$(e HTTP_X.DOT -H 'X.Dot: b')" "(unset)" "$P header name with '.' dropped (no HTTP_X.DOT)"
    is "$(e HTTP_X_REAL -H 'X-Real: good' -H 'X_Real: bad')" "good" "$P X_Real cannot spoof X-Real's HTTP_X_REAL"

    # ---- DOCUMENT_ROOT follows a redeployed symlink ------------------------------------------
    is "$(body /release.php)" "release 1" "$P release 1 served before the deploy"
    ln -s rel2 "$T/www.new" && mv -T "$T/www.new" "$T/www"
    is "$(body /release.php)" "release 2" "$P after swapping the root symlink the new release runs at once"
    is "$(e DOCUMENT_ROOT)" "$REAL2" "$P DOCUMENT_ROOT is the new real path after the swap"
    is "$(e SCRIPT_FILENAME)" "$REAL2/env.php" "$P SCRIPT_FILENAME under the new real path after the swap"
    ln -s rel1 "$T/www.new" && mv -T "$T/www.new" "$T/www"
    is "$(body /release.php)" "release 1" "$P swapping back runs release 1 again"

    # ---- only existing scripts run ----------------------------------------------------------
    like "$(fcgi_direct "$LISTEN" "$REAL1/uploads/a.jpg")" 'PWNED-42' \
        "$P (control) this php-fpm pool runs uploads/a.jpg when asked directly"
    st=$(status /uploads/a.jpg/x.php)
    b=$(body /uploads/a.jpg/x.php)
    is "$st" "404" "$P /uploads/a.jpg/x.php is 404 (a.jpg is not a script, x.php does not exist)"
    unlike "$b" 'PWNED|<\?php' "$P /uploads/a.jpg/x.php neither runs nor shows a.jpg's PHP code"
    st=$(status /uploads/a.jpg)
    b=$(body /uploads/a.jpg)
    unlike "$b" 'PWNED-42' "$P /uploads/a.jpg never runs as PHP (pool allows .jpg)"
    if [ "$st" = 200 ]; then
        is "$b" "$(cat "$T/rel1/uploads/a.jpg")" "$P /uploads/a.jpg is served as the static file it is (200)"
        is "$(headers /uploads/a.jpg | header_value Content-Type)" "image/jpeg" "$P ...as image/jpeg"
    else
        like "$st" '^40[34]$' "$P /uploads/a.jpg refused (403/404)"
        unlike "$b" '<\?php' "$P ...without its content"
    fi
    is "$(status /uploads/a.jpg.php)" "404" "$P /uploads/a.jpg.php (missing) is 404"
    is "$(status /missing.php)" "404" "$P /missing.php is 404"
    is "$(status /missing.php/a/b)" "404" "$P /missing.php/a/b is 404"
    is "$(body /dir/)" "dir index" "$P /dir/ runs dir/index.php"
    is "$(body /)" "index:" "$P / runs index.php"
    is "$(body /index.php/a/b)" "index:/a/b" "$P /index.php/a/b runs index.php with PATH_INFO /a/b"
    is "$(body /plain/readme.txt)" "plain text" "$P a static file next to the scripts is served"

    # fastcgi_path = /app
    is "$(body /app/env.php?v=SCRIPT_NAME -H 'Host: app.test')" "/app/env.php" "$P fastcgi_path: /app/env.php runs"
    st=$(status /outside.php -H 'Host: app.test')
    b=$(body /outside.php -H 'Host: app.test')
    is "$st" "404" "$P fastcgi_path: /outside.php (outside /app) is 404"
    unlike "$b" 'OUTSIDE-RAN|<\?php' "$P fastcgi_path: /outside.php neither runs nor shows source"
    is "$(body /outside.txt -H 'Host: app.test')" "outside text" "$P fastcgi_path: static files outside /app still served"
    # fastcgi_except = /static
    st=$(status /static/x.php -H 'Host: exc.test')
    b=$(body /static/x.php -H 'Host: exc.test')
    is "$st" "404" "$P fastcgi_except: /static/x.php is 404"
    unlike "$b" 'STATIC-RAN|<\?php' "$P fastcgi_except: /static/x.php neither runs nor shows source"
    is "$(body /static/style.css -H 'Host: exc.test')" "body { color: red }" "$P fastcgi_except: /static/style.css served"
    is "$(body /run.php -H 'Host: exc.test')" "run ok" "$P fastcgi_except: /run.php outside /static runs"

    # ---- responses --------------------------------------------------------------------------
    h=$(headers /hdr.php)
    is "$(printf '%s\n' "$h" | header_value X-Wharf-Test)" "yes" "$P header() reaches the client"
    for c in 404 500 201; do
        is "$(status "/code.php?c=$c")" "$c" "$P http_response_code($c) -> $c"
        is "$(body "/code.php?c=$c")" "code $c" "$P http_response_code($c) keeps the script's body"
    done
    h=$(headers /loc.php)
    is "$(printf '%s\n' "$h" | head -1 | cut -d' ' -f2)" "302" "$P header('Location: /x') -> 302"
    like "$(printf '%s\n' "$h" | header_value Location)" "^(http://127\.0\.0\.1:$PORT)?/x$" "$P ...with Location /x"
    h=$(headers /status.php)
    is "$(printf '%s\n' "$h" | head -1 | cut -d' ' -f2)" "403" "$P Status: 403 Go Away -> 403"
    like "$(printf '%s\n' "$h" | head -1)" '^HTTP/1\.1 403 (Go Away|Forbidden)$' "$P Status line keeps a reason (the script's or the standard one)"
    is "$(body /status.php)" "status body" "$P Status response keeps its body"
    h=$(headers /cookies.php)
    is "$(printf '%s\n' "$h" | grep -ci '^Set-Cookie:')" "3" "$P three Set-Cookie headers stay three"
    is "$(printf '%s\n' "$h" | grep -i '^Set-Cookie:' | sed 's/^[^:]*: *//' | tr '\n' '|')" \
        "a=1|b=2; Path=/p|c=3; HttpOnly|" "$P Set-Cookie values in order"
    is "$(headers /ctype.php | header_value Content-Type)" "application/x-wharf-test; charset=utf-16" "$P custom Content-Type"
    h=$(headers /clen.php)
    is "$(printf '%s\n' "$h" | header_value Content-Length)" "5" "$P PHP's Content-Length: 5"
    is "$(printf '%s\n' "$h" | grep -ci '^Transfer-Encoding:')" "0" "$P ...and no Transfer-Encoding with it"
    is "$(body /clen.php)" "hello" "$P ...body hello"
    r=$(raw 'HEAD /hdr.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    is "$(printf '%s' "$r" | head -1 | tr -d '\r')" "HTTP/1.1 200 OK" "$P HEAD on a script: 200"
    is "$(printf '%s' "$r" | tr -d '\r' | header_value X-Wharf-Test)" "yes" "$P HEAD on a script: headers from the script"
    is "$(raw 'HEAD /hdr.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | after_head_len)" "0" "$P HEAD on a script: no body"
    r=$(raw 'HEAD /code.php?c=201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    is "$(printf '%s' "$r" | head -1 | tr -d '\r' | cut -d' ' -f2)" "201" "$P HEAD keeps the script's status (201)"
    is "$(raw 'HEAD /code.php?c=201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | after_head_len)" "0" "$P HEAD 201: no body"
    # php-fpm sends no body for HEAD: the head must not claim an empty page (RFC 9110 8.6)
    r=$(raw 'HEAD /clen.php HTTP/1.1\r\nHost: x\r\n\r\nGET /clen.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | tr -d '\r')
    is "$(printf '%s' "$r" | header_value Content-Length)" "5" "$P HEAD: the script's Content-Length: 5, as for GET"
    is "$(printf '%s\n' "$r" | grep -c '^HTTP/1.1 200 OK$') $(printf '%s' "$r" | tail -c 5)" "2 hello" \
        "$P HEAD then GET on one connection: two answers, only the GET's body"
    r=$(raw 'HEAD /hdr.php HTTP/1.1\r\nHost: x\r\n\r\nGET /clen.php HTTP/1.1\r\nHost: x\r\n\r\n')
    is "$(printf '%s' "$r" | tr -d '\r' | grep -ciE '^(Content-Length|Transfer-Encoding):')" "0" \
        "$P HEAD, length unknown: neither Content-Length (not 0) nor Transfer-Encoding"
    is "$(raw 'HEAD /hdr.php HTTP/1.1\r\nHost: x\r\n\r\nGET /clen.php HTTP/1.1\r\nHost: x\r\n\r\n' | after_head_len)" "0" \
        "$P HEAD, length unknown: nothing after the head (no chunk terminator, no second answer)"
    is "$(printf '%s' "$r" | tr -d '\r' | header_value Connection)" "close" "$P HEAD, length unknown: the connection closes (the end of the head ends it)"
    for m in POST PUT DELETE PATCH; do
        is "$(body /method.php -X "$m" --data-binary "b-$m" -H 'Content-Type: text/plain')" "$m $((${#m} + 2)) b-$m" \
            "$P $m reaches PHP: REQUEST_METHOD, CONTENT_LENGTH, body"
    done
    is "$(body /method.php -X DELETE)" "DELETE - " "$P DELETE without a body"

    # streaming: the part before flush() arrives a second before the end
    out=$(stream_times /stream.php)
    read -r t_first t_end <<<"$(printf '%s\n' "$out" | head -1)"
    is "$(printf '%s\n' "$out" | tail -n +2)" "$(printf 'first\nsecond')" "$P flushing script: whole body"
    ok "$(python3 -c "import sys; sys.exit(0 if $t_first < 0.6 else 1)"; echo $?)" "$P flushed part arrives before the script ends (first at ${t_first}s)"
    ok "$(python3 -c "import sys; sys.exit(0 if $t_end - $t_first >= 0.8 else 1)"; echo $?)" "$P ...about 1 s before the end (end at ${t_end}s)"

    # 20 MiB
    curl -s --path-as-is -o "$T/big.out" "$(URL /big.php)"
    is "$(stat -c %s "$T/big.out")" "20971520" "$P 20 MiB response: size"
    is "$(sha256sum <"$T/big.out" | cut -d' ' -f1)" "$BIG_SHA" "$P 20 MiB response: sha256"
    rm -f "$T/big.out"

    # ---- php-fpm stopped: missing scripts never touch it -------------------------------------
    stop_pid "$FPM_PID"
    is "$(status /missing.php)" "404" "$P /missing.php is 404 while php-fpm is stopped"
    is "$(status /uploads/a.jpg/x.php)" "404" "$P /uploads/a.jpg/x.php is 404 while php-fpm is stopped"
    st=$(status /env.php)
    b=$(body /env.php)
    like "$st" '^50[234]$' "$P (control) an existing script fails with 502/503/504 while php-fpm is stopped"
    unlike "$b" '<\?php|array_key_exists' "$P ...and its source is not shown"
    stop_pid "$WPID"
done


# ---- a symlink higher up the root's path (root = .../current/public) -----------------------
# The root itself is a plain directory here, so wharf resolves it again at most once a second:
# after `current` is switched, DOCUMENT_ROOT follows within that second.
for r in A B; do
    mkdir -p "$T/up$r/public"
    cp "$T/rel1/env.php" "$T/up$r/public/env.php"
done
ln -s upA "$T/current"
start_fpm up "$T/fpm-up.sock"
start_wharf --root "$T/current/public" --php "unix:$T/fpm-up.sock"
UPA=$(realpath "$T/upA/public")
UPB=$(realpath "$T/upB/public")
is "$(e DOCUMENT_ROOT)" "$UPA" "root under a symlinked directory: DOCUMENT_ROOT is its real path"
ln -s upB "$T/current.new" && mv -T "$T/current.new" "$T/current"
doc_is() { [ "$(e DOCUMENT_ROOT)" = "$1" ]; }
wait_until 3000 doc_is "$UPB"
ok $? "after the symlink above the root is switched, DOCUMENT_ROOT follows within a second ($(e DOCUMENT_ROOT))"
is "$(e SCRIPT_FILENAME)" "$UPB/env.php" "...and SCRIPT_FILENAME too"
stop_pid "$WPID"
stop_pid "$FPM_PID"

finish
