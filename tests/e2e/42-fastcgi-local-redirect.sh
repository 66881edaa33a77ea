#!/usr/bin/env bash
# CGI local redirects (RFC 3875 6.2.2: a Location that is a local path, without a Status): the
# server answers the new path itself, as a GET through the normal routing, without the old
# body, at most HTTP_FRONT_MAX_REDIRECTS (5) times in a row; past that the request gets 500
# and the error log says why. The access log has one line per client request, under the
# target the last hop had.
. "$(dirname "$0")/lib.sh"

W="$T/www"
mkdir -p "$W"
printf 'plain text' >"$W/x.txt"
# PHP sends no Status for 200: header('Location', true, 200) is a local redirect
printf '%s\n' "<?php header('Location: /show.php?from=post', true, 200); echo 'not sent';" \
    >"$W/post.php"
printf '%s\n' "<?php echo \$_SERVER['REQUEST_METHOD'], ' ', \$_SERVER['QUERY_STRING'], ' [',
    file_get_contents('php://input'), ']';" >"$W/show.php"
printf '%s\n' "<?php header('Location: /x.txt', true, 200);" >"$W/to-static.php"
# each run leaves a mark: a loop runs the script once, then once per redirect followed
printf '%s\n' "<?php file_put_contents('$T/loop.count', 'x', FILE_APPEND);" \
    "header('Location: /loop.php', true, 200);" >"$W/loop.php"
start_fpm a "$T/fpm.sock"
PORT=$(free_port)
printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
    "[site a]" "root = $W" "fastcgi = unix:$T/fpm.sock" "access_log = $T/a.log" >"$T/w.ini"
start_wharf_ini "$T/w.ini"

is "$(body /to-static.php)" "plain text" "a local redirect to a static file serves the file"
is "$(body /post.php -d 'a=1')" "GET from=post []" \
    "a POST redirected locally becomes a GET with the new query and without the old body"
is "$(status /post.php -I)" "200" "HEAD of a local redirect: 200"

is "$(status /loop.php)" "500" "a redirect loop ends in 500"
is "$(wc -c <"$T/loop.count")" "6" \
    "... after the script ran once and once per redirect followed (5)"
wait_grep "$T/wharf.err" 'more than 5 local redirects; last to /loop\.php' 5
ok $? "... and the error log names the limit and the last target"
is "$(status /x.txt)" "200" "the server still answers"

wait_grep "$T/a.log" '"GET /loop\.php HTTP/1\.1" 500 ' 5
ok $? "the loop is logged once, with its 500"
wait_grep "$T/a.log" '"GET /x\.txt HTTP/1\.1" 200 10 ' 5
ok $? "the redirect to a file is logged under its new target with the file's size"
wait_grep "$T/a.log" '"GET /show\.php\?from=post HTTP/1\.1" 200 ' 5
ok $? "the POST is logged as the GET it became"
finish
