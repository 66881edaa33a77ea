#!/usr/bin/env bash
# [site NAME] fastcgi_sendfile = DIR ...: a PHP response (real php-fpm) with X-Sendfile: /path
# or X-Accel-Redirect: /uri is answered with that file as a static response (ranges,
# conditional requests, sendfile for large files), only from under the allowed directories and
# with the static files' path safety; the headers never reach the client.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/private/files/sub" "$T/private/files/.git" "$T/outside" "$T/www/protected"
printf 'PDF-CONTENT-0123456789\n' >"$T/private/files/report.pdf"
printf 'hidden\n' >"$T/private/files/.git/config"
printf 'secret\n' >"$T/outside/secret.txt"
ln -s "$T/outside/secret.txt" "$T/private/files/link.txt"
head -c 3000000 /dev/urandom >"$T/private/files/big.bin"
printf 'protected doc\n' >"$T/www/protected/doc.txt"
printf 'public\n' >"$T/www/index.html"
cat >"$T/www/dl.php" <<'EOF'
<?php header('X-Sendfile: ' . $_GET['f']); header('Content-Type: application/pdf');
header('Content-Disposition: attachment; filename="r.pdf"'); header('Set-Cookie: dl=1');
header('X-Other: dropped'); echo 'php body';
EOF
cat >"$T/www/accel.php" <<'EOF'
<?php header('X-Accel-Redirect: ' . $_GET['u']); header('Content-Type: text/plain'); echo 'php body';
EOF
start_fpm a "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/s.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site a]
hosts = a.test
root = $T/www
deny = /protected
fastcgi = unix:$T/fpm.sock
fastcgi_sendfile = $T/private/files/ $T/www/protected
[site b]
hosts = b.test
root = $T/www
fastcgi = unix:$T/fpm.sock
EOF
start_wharf_ini "$T/s.ini"
A=(-H "Host: a.test")
F="$T/private/files"
h=$(headers "/dl.php?f=$F/report.pdf" "${A[@]}")
like "$(head -1 <<<"$h")" " 200" "X-Sendfile: 200"
is "$(body "/dl.php?f=$F/report.pdf" "${A[@]}")" "PDF-CONTENT-0123456789" "X-Sendfile: the file's body, not PHP's"
is "$(header_value X-Sendfile <<<"$h")" "" "X-Sendfile: never reaches the client"
is "$(header_value Content-Disposition <<<"$h")" 'attachment; filename="r.pdf"' "X-Sendfile: PHP's Content-Disposition kept"
is "$(header_value Content-Type <<<"$h")" "application/pdf" "X-Sendfile: PHP's Content-Type kept"
is "$(header_value Set-Cookie <<<"$h")" "dl=1" "X-Sendfile: PHP's Set-Cookie kept"
is "$(header_value X-Other <<<"$h")" "" "X-Sendfile: other application headers dropped (as nginx)"
is "$(header_value Content-Length <<<"$h")" "23" "X-Sendfile: the file's length"
etag=$(header_value ETag <<<"$h")
ok "$([ -n "$etag" ]; echo $?)" "X-Sendfile: an ETag"
is "$(status "/dl.php?f=$F/report.pdf" "${A[@]}" -H "If-None-Match: $etag")" 304 "X-Sendfile: conditional request, 304"
is "$(body "/dl.php?f=$F/report.pdf" "${A[@]}" -r 4-10)" "CONTENT" "X-Sendfile: a range"
is "$(status "/dl.php?f=$F/report.pdf" "${A[@]}" -r 4-10)" 206 "X-Sendfile: 206"
is "$(curl -s -H 'Host: a.test' "$(URL "/dl.php?f=$F/big.bin")" | sha)" "$(fsha "$F/big.bin")" "X-Sendfile: a 3 MB file (sendfile) intact"
# path safety
is "$(status "/dl.php?f=$T/outside/secret.txt" "${A[@]}")" 403 "X-Sendfile: outside every directory is 403"
is "$(status "/dl.php?f=$F/../../outside/secret.txt" "${A[@]}")" 404 "X-Sendfile: '..' is refused"
is "$(status "/dl.php?f=$F/link.txt" "${A[@]}")" 404 "X-Sendfile: a symlink out of the directory is refused (follow_symlinks = inside)"
is "$(status "/dl.php?f=$F/.git/config" "${A[@]}")" 404 "X-Sendfile: hidden segments are refused"
is "$(status "/dl.php?f=$F/sub" "${A[@]}")" 404 "X-Sendfile: a directory is refused"
is "$(status "/dl.php?f=$F/nothing" "${A[@]}")" 404 "X-Sendfile: a missing file is 404"
is "$(status "/dl.php?f=${F}x/report.pdf" "${A[@]}")" 403 "X-Sendfile: directories match whole segments"
is "$(status "/dl.php?f=relative/report.pdf" "${A[@]}")" 404 "X-Sendfile: a relative path is refused"
for u in "$T/outside/secret.txt" "$F/link.txt" "$F/.git/config"; do
    unlike "$(body "/dl.php?f=$u" "${A[@]}")" "secret|hidden|php body" "X-Sendfile: no byte of $u or of PHP's body"
done
# X-Accel-Redirect: a URI under the root, in an allowed directory
is "$(body '/accel.php?u=/protected/doc.txt' "${A[@]}")" "protected doc" "X-Accel-Redirect: a denied path served through PHP"
is "$(status /protected/doc.txt "${A[@]}")" 403 "X-Accel-Redirect: the same path is still denied to clients"
is "$(body '/accel.php?u=/protected/%64oc.txt' "${A[@]}")" "protected doc" "X-Accel-Redirect: a URI is percent-decoded"
is "$(status '/accel.php?u=/index.html' "${A[@]}")" 403 "X-Accel-Redirect: a file outside the directories is 403"
is "$(status '/accel.php?u=/protected/../../outside/secret.txt' "${A[@]}")" 403 "X-Accel-Redirect: dot segments cannot climb out of the root"
is "$(header_value X-Accel-Redirect < <(headers '/accel.php?u=/protected/doc.txt' "${A[@]}"))" "" "X-Accel-Redirect: never reaches the client"
# a site without fastcgi_sendfile: the header is dropped, PHP's response is sent
hb=$(headers "/dl.php?f=$F/report.pdf" -H "Host: b.test")
is "$(body "/dl.php?f=$F/report.pdf" -H "Host: b.test")" "php body" "no fastcgi_sendfile: PHP's own body"
is "$(header_value X-Sendfile <<<"$hb")" "" "no fastcgi_sendfile: the header is still dropped"

cat >"$T/bad.ini" <<EOF
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
fastcgi_sendfile = files /a/../b
[site b]
root = $T/www
fastcgi_sendfile = /srv/files
EOF
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:4: fastcgi_sendfile: expected absolute directories without '.' or '..' segments, got 'files'" "fastcgi_sendfile: a relative directory is a config error"
like "$out" "bad.ini:4: fastcgi_sendfile: expected .*, got '/a/../b'" "fastcgi_sendfile: '..' is a config error"
like "$out" "bad.ini:7: \[site b\]: fastcgi_sendfile needs fastcgi" "fastcgi_sendfile: needs fastcgi"
finish
