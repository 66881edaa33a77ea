#!/usr/bin/env bash
# Hostile clients against a static site and a PHP site on a real php-fpm, beyond the head
# corpus of 18-http-framing: what reaches PHP from an absolute-form target (the origin form
# as REQUEST_URI, the target's authority as HTTP_HOST and SERVER_NAME, as nginx gives them,
# since that authority picked the site and the Host field is to be ignored: RFC 9112 3.2.2).
. "$(dirname "$0")/lib.sh"

unset HTTP_HOST SERVER_NAME REQUEST_URI 2>/dev/null # php-fpm imports its environment
mkdir -p "$T/www"
printf 'hello\n' >"$T/www/hello.txt"
cat >"$T/www/env.php" <<'PHP'
<?php foreach (['REQUEST_URI', 'HTTP_HOST', 'SERVER_NAME', 'QUERY_STRING', 'SCRIPT_NAME'] as $k)
    echo $k, '=', $_SERVER[$k] ?? '(unset)', "\n";
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

finish
