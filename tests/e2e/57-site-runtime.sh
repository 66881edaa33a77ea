#!/usr/bin/env bash
# Each site's runtime (its access log, FastCGI pool, root) serves that site's requests only,
# whichever path a request takes (static, PHP, a local redirect, a head refused before any site
# is chosen, a client gone while PHP runs), and every request lets go of its site: at SIGTERM
# the runtimes are torn down with no pin left (wharf logs an error if one is).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/a" "$T/b"
printf 'static a' >"$T/a/x.txt"
printf 'static b' >"$T/b/index.html"
printf '%s\n' "<?php echo 'php a ', basename(\$_SERVER['DOCUMENT_ROOT']);" >"$T/a/index.php"
# a Location without Status is a CGI local redirect (PHP sends no Status for 200)
printf '%s\n' "<?php header('Location: /x.txt', true, 200);" >"$T/a/redir.php"
printf '%s\n' "<?php sleep(2); echo 'late';" >"$T/a/slow.php"
start_fpm a "$T/fpm.sock"
PORT=$(free_port)
printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
    "[site a]" "hosts = a.test" "root = $T/a" "fastcgi = unix:$T/fpm.sock" "access_log = $T/a.log" \
    "[site b]" "root = $T/b" "access_log = $T/b.log" >"$T/w.ini"
start_wharf_ini "$T/w.ini"

is "$(body / -H 'Host: b.test')" "static b" "the default site serves its static file"
is "$(body /index.php -H 'Host: a.test')" "php a a" "site a runs PHP with its own root"
is "$(body /redir.php -H 'Host: a.test')" "static a" "a local redirect is served by the same site"
is "$(raw 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n' head | head -1 | tr -d '\r')" \
    "HTTP/1.1 400 Bad Request" "a refused head (two Host fields) gets 400"
curl -s -o /dev/null --max-time 0.5 -H 'Host: a.test' "$(URL /slow.php)"
is "$?" "28" "a client gives up on a slow script (curl timeout)"
is "$(body /index.php -H 'Host: a.test')" "php a a" "site a still answers"

wait_grep "$T/a.log" '"GET /slow\.php HTTP/1\.1" 499 ' 10
ok $? "the abandoned request is logged by its site (499)"
wait_grep "$T/b.log" '"GET / HTTP/1\.1" 400 ' 5
ok $? "the refused head is logged by the default site"
a_lines() { grep -c 'index\.php\|x\.txt' "$T/a.log"; }
wait_until 5000 eval '[ "$(a_lines)" = 3 ]' # lines are written by a thread, every 100 ms
is "$(a_lines)" "3" "site a's log has its three requests (the redirect's under its new target)"
is "$(grep -c 'php' "$T/b.log")" "0" "site b's log has none of site a's requests"
is "$(grep -c '"GET / ' "$T/a.log")" "0" "site a's log has none of site b's requests"

kill -TERM "$WPID"
wait "$WPID"
is "$?" "0" "SIGTERM: wharf exits 0"
like "$(cat "$T/wharf.err")" 'stopped' "... after tearing the sites down"
unlike "$(cat "$T/wharf.err")" 'still held' "... with no pin left on any site"
finish
