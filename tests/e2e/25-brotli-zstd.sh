#!/usr/bin/env bash
# compress = zstd br gzip: static files in the coding the client's Accept-Encoding weights
# pick (zstd, then br, then gzip on equal weights), made once and cached, each with its own
# ETag (304 on it) and Vary: Accept-Encoding; precompressed FILE.zst and FILE.br beside FILE
# are sent as they are; ranges stay identity; gzip = on alone still means gzip only; a
# coding wharf does not know is a config error with FILE:LINE. PHP output too: a complete
# response compressed whole, a streamed one (flush()) piece by piece, in the coding chosen.
. "$(dirname "$0")/lib.sh"

command -v zstd >/dev/null || skip_all "zstd is not installed"
W=$T/www
mkdir -p "$W"
for i in $(seq 600); do echo "line $i: the quick brown fox jumps over the lazy dog"; done >"$W/page.html"
cp "$W/page.html" "$W/pre.css"
zstd -q -1 -c "$W/pre.css" >"$W/pre.css.zst"
printf 'not really brotli, but these exact bytes\n' >"$W/pre.css.br"
touch -d '2020-01-02 03:04:05 UTC' "$W/pre.css"
cat >"$W/page.php" <<'PHP'
<?php header('Content-Type: text/html'); for ($i = 1; $i <= 600; $i++) echo "php line $i: the quick brown fox\n";
PHP
cat >"$W/stream.php" <<'PHP'
<?php header('Content-Type: text/plain');
for ($i = 1; $i <= 300; $i++) echo "first part $i: jumps over the lazy dog\n";
flush(); usleep(200000);
for ($i = 1; $i <= 300; $i++) echo "second part $i: jumps over the lazy dog\n";
PHP
start_fpm bz "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/c.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
compress = zstd br gzip
INI
start_wharf_ini "$T/c.ini"
ae() { headers "$2" -H "Accept-Encoding: $1"; } # ae ACCEPT-ENCODING PATH: response headers
enc() { ae "$1" "$2" | header_value Content-Encoding; }
orig=$(sha <"$W/page.html")

is "$(enc 'gzip, deflate, br, zstd' /page.html)" zstd "equal weights: zstd"
is "$(body /page.html -H 'Accept-Encoding: zstd' | zstd -dc | sha)" "$orig" "zstd decodes to the file"
h=$(ae zstd /page.html)
like "$(header_value ETag <<<"$h")" '-zst"$' "the zstd variant has its own ETag"
is "$(header_value Vary <<<"$h")" "Accept-Encoding" "Vary: Accept-Encoding"
n=$(body /page.html -H 'Accept-Encoding: zstd' | wc -c)
ok "$([ "$n" -lt "$(wc -c <"$W/page.html")" ]; echo $?)" "the zstd body is smaller ($n bytes)"
is "$(enc 'gzip, deflate, br' /page.html)" br "no zstd: br"
is "$(curl -s --compressed -H 'Accept-Encoding: br' "$(URL /page.html)" | sha)" "$orig" \
    "br decodes to the file (curl's decoder)"
like "$(ae br /page.html | header_value ETag)" '-br"$' "the br variant has its own ETag"
is "$(enc gzip /page.html)" gzip "gzip only: gzip"
is "$(enc 'br;q=0.5, gzip' /page.html)" gzip "a higher weight beats the preference"
is "$(enc '*, zstd;q=0' /page.html)" br "an explicit zstd;q=0 beats *"
is "$(enc identity /page.html)" "" "identity: no coding"
etag=$(ae zstd /page.html | header_value ETag)
h=$(headers /page.html -H 'Accept-Encoding: zstd' -H "If-None-Match: $etag")
like "$h" '^HTTP/1.1 304' "If-None-Match with the zstd ETag: 304"
is "$(header_value Content-Encoding <<<"$h")" "" "... without Content-Encoding"
is "$(body /page.html -H 'Accept-Encoding: zstd' | zstd -dc | sha)" "$orig" \
    "the cached variant is the same"
is "$(headers /page.html -H 'Accept-Encoding: zstd' -r 0-9 | header_value Content-Encoding)" "" \
    "a range stays identity"
is "$(body /page.html -H 'Accept-Encoding: zstd' -r 0-9)" "line 1: th" "... with the right bytes"

# precompressed siblings: their exact bytes
is "$(body /pre.css -H 'Accept-Encoding: zstd, br' | sha)" "$(sha <"$W/pre.css.zst")" \
    "FILE.zst is sent as it is"
like "$(ae zstd /pre.css | header_value ETag)" '-zsts"$' "... with the file's own ETag"
is "$(body /pre.css -H 'Accept-Encoding: br' | sha)" "$(sha <"$W/pre.css.br")" \
    "FILE.br is sent as it is"
is "$(ae br /pre.css | header_value Content-Encoding)" br "... as br"
is "$(body /pre.css.br -H 'Accept-Encoding: br' | sha)" "$(sha <"$W/pre.css.br")" \
    "FILE.br asked for directly is itself"
is "$(headers /pre.css.br -H 'Accept-Encoding: br' | header_value Content-Encoding)" "" \
    "... without Content-Encoding"

# PHP output
for p in /page.php /stream.php; do
    plain=$(body "$p" | sha)
    is "$(enc 'gzip, br, zstd' "$p")" zstd "PHP $p: zstd"
    is "$(body "$p" -H 'Accept-Encoding: zstd' | zstd -dc | sha)" "$plain" "PHP $p: zstd decodes"
    is "$(enc 'gzip, br' "$p")" br "PHP $p: br"
    is "$(curl -s --compressed -H 'Accept-Encoding: br' "$(URL "$p")" | sha)" "$plain" \
        "PHP $p: br decodes"
    is "$(body "$p" -H 'Accept-Encoding: gzip' | gunz | sha)" "$plain" "PHP $p: gzip decodes"
    is "$(ae zstd "$p" | header_value Vary)" "Accept-Encoding" "PHP $p: Vary"
done
like "$(ae zstd /stream.php | tr '\n' ' ')" 'Transfer-Encoding: chunked' \
    "the streamed response is compressed as it goes (chunked)"

# gzip = on alone: gzip only, as before
stop_pid "$WPID"
PORT=$(free_port)
cat >"$T/g.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
gzip = on
INI
start_wharf_ini "$T/g.ini"
is "$(enc 'gzip, br, zstd' /page.html)" gzip "gzip = on alone: gzip, whatever else is accepted"
is "$(enc 'br, zstd' /page.html)" "" "... and nothing else"
is "$(enc 'br, zstd' /page.php)" "" "... for PHP output too"
is "$(enc 'br, zstd, gzip' /page.php)" gzip "PHP output: gzip"

cat >"$T/bad.ini" <<INI
[site a]
root = $T/www
compress = zstd deflate
compress =
INI
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: compress: expected content codings: zstd, br, gzip \\(or off\\), got 'deflate'" \
    "an unknown coding is a config error with its line"
like "$out" "bad.ini:4: compress: expected content codings" "an empty value too"
finish
