#!/usr/bin/env bash
# [site NAME] error_page = STATUS... URI: wharf's own error responses show a static page or a
# PHP script (real php-fpm; it gets REDIRECT_STATUS), and the client still gets the original
# status. An error page that fails itself gives the built-in page with the first status; the
# application's own error responses are passed through untouched.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www/errors" "$T/www/private"
printf 'custom not found\n' >"$T/www/errors/404.html"
printf 'secret\n' >"$T/www/private/a.txt"
cat >"$T/www/errors/5xx.php" <<'EOF'
<?php echo 'custom error ', $_SERVER['REDIRECT_STATUS'] ?? '?', ' for ', $_SERVER['REQUEST_URI'];
EOF
cat >"$T/www/slow.php" <<'EOF'
<?php sleep(5); echo 'late';
EOF
cat >"$T/www/code.php" <<'EOF'
<?php http_response_code((int)$_GET['c']); echo 'app says ', (int)$_GET['c'];
EOF
printf '<?php echo "upload";\n' >"$T/www/up.php"
start_fpm a "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/e.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
fastcgi_read_timeout = 1s
fastcgi_max_body = 1k
deny = /private
error_page = 404 /errors/404.html
error_page = 413 500 502 503 504 /errors/5xx.php
error_page = 403 /errors/missing.html
access_log = $T/a.log
header = / X-Site: wharf
header = /errors X-Page: yes
security_headers = on
EOF
start_wharf_ini "$T/e.ini"
is "$(status /nothing/here)" 404 "error_page: the client gets the original 404"
is "$(body /nothing/here)" "custom not found" "error_page: a static page's body"
like "$(headers /nothing/here | header_value Content-Type)" "^text/html" "error_page: the page's type"
is "$(status /nothing/here -I)" 404 "error_page: HEAD keeps the 404"
etag=$(headers /errors/404.html | header_value ETag)
is "$(status /nothing/here -H "If-None-Match: $etag")" 404 "error_page: a validator of the page never turns it into 304"
is "$(body /nothing/here -H 'Range: bytes=0-2')" "custom not found" "error_page: nor a range into 206"
hp=$(headers /nothing/here)
is "$(header_value X-Site <<<"$hp")/$(header_value X-Page <<<"$hp")" "wharf/yes" "error_page: the page's response gets the header rules of the page's path"
is "$(header_value X-Content-Type-Options <<<"$hp")" "nosniff" "error_page: and the security headers"
is "$(header_value X-Site < <(headers /slow.php))" "wharf" "error_page: a PHP page too"
is "$(status /errors/404.html)" 200 "error_page: the page itself is an ordinary file"
is "$(status /.hidden)" 404 "error_page: hidden paths' 404 too"
is "$(body /.hidden)" "custom not found" "error_page: hidden paths' 404 body"
# a PHP error page: REDIRECT_STATUS is the original status
is "$(status /slow.php)" 504 "error_page: a read timeout is still 504"
is "$(body /slow.php)" "custom error 504 for /slow.php" "error_page: a PHP page gets REDIRECT_STATUS and the original URI"
is "$(status /up.php -X POST --data-binary @<(head -c 4000 /dev/zero))" 413 "error_page: 413 with a body not read"
like "$(body /up.php -X POST --data-binary @<(head -c 4000 /dev/zero))" "custom error 413" "error_page: 413's page"
wait_grep "$T/a.log" '"GET /nothing/here HTTP/1.1" 404 17 ' || true
ok "$(has_line "$T/a.log" '"GET /nothing/here HTTP/1.1" 404 17 '; echo $?)" "error_page: the access log has the original target, status and the page's size"
# the application's own errors are its own
is "$(status '/code.php?c=404')" 404 "error_page: PHP's own 404 status"
is "$(body '/code.php?c=404')" "app says 404" "error_page: PHP's own 404 body is not replaced"
# an error page that fails: the built-in page, the first status
is "$(status /private/a.txt)" 403 "error_page: a missing page keeps the first status"
like "$(body /private/a.txt)" "403 Forbidden" "error_page: and falls back to the built-in page"
unlike "$(body /private/a.txt)" "secret" "error_page: never the denied file"

# a page on a stopped backend: the built-in page, with the original status
new_port
cat >"$T/dead.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/nobody.sock
error_page = 502 /errors/5xx.php
EOF
restart_with "$T/dead.ini"
is "$(status /code.php)" 502 "error_page: a PHP page whose backend is down: still 502"
like "$(body /code.php)" "502 Bad Gateway" "error_page: built-in page when the page fails too"

cat >"$T/bad.ini" <<EOF
[site a]
root = $T/www
error_page = 404
error_page = 200 /x.html
error_page = 404 errors/x.html
error_page = 404 /a.html
error_page = 500 404 /b.html
EOF
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: error_page: expected STATUS... URI" "error_page: no URI"
like "$out" "bad.ini:4: error_page: expected STATUS... URI: statuses 400 to 599" "error_page: 200"
like "$out" "bad.ini:5: error_page: expected STATUS... URI" "error_page: a relative URI"
like "$out" "bad.ini:7: error_page: a status that already has an error page \(line 6\)" "error_page: a status given twice"
finish
