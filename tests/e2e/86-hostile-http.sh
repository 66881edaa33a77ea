#!/usr/bin/env bash
# Hostile clients against a static site and a PHP site on a real php-fpm, beyond the head
# corpus of 18-http-framing: what reaches PHP from an absolute-form target (the origin form
# as REQUEST_URI, the target's authority as HTTP_HOST and SERVER_NAME, as nginx gives them,
# since that authority picked the site and the Host field is to be ignored: RFC 9112 3.2.2);
# a Cookie header of many cookies, well under max_header_size, reaches PHP whole (libmicrohttpd
# patch 0012: it split the header into its pool, and 82 cookies of 60 bytes got 431).
. "$(dirname "$0")/lib.sh"

unset HTTP_HOST SERVER_NAME REQUEST_URI 2>/dev/null # php-fpm imports its environment
mkdir -p "$T/www"
printf 'hello\n' >"$T/www/hello.txt"
cat >"$T/www/env.php" <<'PHP'
<?php foreach (['REQUEST_URI', 'HTTP_HOST', 'SERVER_NAME', 'QUERY_STRING', 'SCRIPT_NAME'] as $k)
    echo $k, '=', $_SERVER[$k] ?? '(unset)', "\n";
PHP
cat >"$T/www/cookie.php" <<'PHP'
<?php echo strlen($_SERVER['HTTP_COOKIE'] ?? ''), ' ', md5($_SERVER['HTTP_COOKIE'] ?? '');
PHP
start_fpm p "$T/fpm.sock"
start_wharf --root "$T/www" --php "unix:$T/fpm.sock"

# resp_body 'REQUEST': the body of the (single, Connection: close) response
resp_body() { raw "$1" | tr -d '\r' | sed '1,/^$/d'; }

# ---- absolute-form targets reach PHP as nginx passes them ---------------------------------
got=$(resp_body 'GET http://other.example:8080/env.php?a=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
is "$got" "REQUEST_URI=/env.php?a=1
HTTP_HOST=other.example:8080
SERVER_NAME=other.example
QUERY_STRING=a=1
SCRIPT_NAME=/env.php" "absolute-form: REQUEST_URI is the origin form, the authority is the host"
got=$(resp_body 'GET HTTPS://other.example/env.php HTTP/1.0\r\n\r\n')
is "$(printf '%s\n' "$got" | head -3)" "REQUEST_URI=/env.php
HTTP_HOST=(unset)
SERVER_NAME=other.example" "absolute-form over HTTP/1.0 without Host: SERVER_NAME from the target"
got=$(resp_body 'GET /env.php?a=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
is "$(printf '%s\n' "$got" | head -3)" "REQUEST_URI=/env.php?a=1
HTTP_HOST=localhost
SERVER_NAME=localhost" "origin-form: REQUEST_URI and Host as received"

# ---- many cookies (libmicrohttpd patch 0012) ------------------------------------------------
if [ "${WHARF_MHD:-bundled}" = bundled ]; then
    # cookie_jar N LEN: N cookies with values of LEN bytes, as one Cookie value
    cookie_jar() { python3 -c 'import sys; n, l = map(int, sys.argv[1:]); print("; ".join("c%d=%s" % (i, "v" * l) for i in range(n)))' "$@"; }
    for spec in "82 60" "200 40" "1000 1"; do
        jar=$(cookie_jar $spec)
        want="${#jar} $(printf %s "$jar" | md5sum | cut -d' ' -f1)"
        is "$(body /cookie.php -H "Cookie: $jar")" "$want" \
            "a Cookie of $(echo $spec | cut -d' ' -f1) cookies (${#jar} bytes) reaches PHP whole"
        is "$(status /hello.txt -H "Cookie: $jar")" 200 "... and does not stop a static file (${#jar} bytes)"
    done
    jar=$(cookie_jar 3000 4)
    is "$(status /hello.txt -H "Cookie: $jar")" 431 "a head over max_header_size is still 431 (${#jar}-byte Cookie)"
fi

finish
