#!/usr/bin/env bash
# FastCGI output: gzip of PHP responses (a complete page in one go, a streamed page with
# flush() reaching the browser before the end, HTTP/1.0, Vary merged with the application's,
# a weak ETag) and what is never touched (the application's own Content-Encoding, image/png,
# tiny bodies, gzip off, clients that do not accept gzip, HEAD); the access log's byte count
# for streamed and complete PHP responses (what was really sent, compressed or not); one
# Server header, the application's when it sets one; the application's own reason phrase in
# the status line (libmicrohttpd patch 0017), unless it is not a valid one.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 missing"

W=$T/www
mkdir -p "$W"
GZ=(-H 'Accept-Encoding: gzip, deflate, br')
# raw URL [curl args]: the body bytes as received (no decoding), to stdout
raw_body() {
    local u=$1
    shift
    curl -s --path-as-is "$@" "$(URL "$u")"
}
# fetch URL [curl args]: one request; headers in $T/f.h (CRs stripped), raw body in $T/f.b,
# and prints the body bytes received
fetch() {
    local u=$1
    shift
    curl -s --path-as-is -D "$T/f.h0" -o "$T/f.b" -w '%{size_download}' "$@" "$(URL "$u")"
    tr -d '\r' <"$T/f.h0" >"$T/f.h"
}

# ---- the application --------------------------------------------------------------------------
# a WordPress-sized page: ~48 kB of HTML, produced in pieces as a template engine does
cat >"$W/page.php" <<'EOF'
<?php
echo "<!DOCTYPE html>\n<html><head><title>Blog</title></head><body>\n";
for ($i = 0; $i < 530; $i++)
    printf("<article id=\"post-%d\"><h2>Post %d</h2><p>Lorem ipsum dolor sit amet, %s.</p></article>\n",
        $i, $i, str_repeat(chr(97 + $i % 26), $i % 13));
echo "</body></html>\n";
EOF
# load-scripts.php: ~91 kB of JavaScript with an explicit Content-Length, as WordPress sends it
cat >"$W/scripts.php" <<'EOF'
<?php
$js = '';
for ($i = 0; $i < 1400; $i++)
    $js .= sprintf("function f%d(a, b) { return a + b * %d; /* %s */ }\n", $i, $i, str_repeat('x', $i % 17));
header('Content-Type: application/javascript; charset=UTF-8');
header('Content-Length: ' . strlen($js));
header('ETag: "scripts-1"');
echo $js;
EOF
# streamed: the first part is flushed, the second waits for a marker file (bounded)
cat >"$W/stream.php" <<'EOF'
<?php
while (ob_get_level()) ob_end_flush();
echo "<html><body>\n", str_repeat("<p>first part of the page, sent at once</p>\n", 60), "FIRST-PART-END\n";
flush();
$marker = $_GET['marker'] ?? '';
for ($i = 0; $i < 200 && $marker !== '' && !file_exists($marker); $i++)
    usleep(50000);
echo str_repeat("<p>second part, after the marker</p>\n", 60), "SECOND-PART-END\n</body></html>\n";
EOF
# 4 MiB in flushed 32 KiB pieces: past the 256 KiB high-water mark many times over
cat >"$W/big.php" <<'EOF'
<?php
while (ob_get_level()) ob_end_flush();
header('Content-Type: text/plain');
for ($i = 0; $i < 128; $i++) {
    $piece = '';
    for ($j = 0; strlen($piece) < 32768; $j++)
        $piece .= sprintf("%d.%d %s\n", $i, $j, md5("$i-$j"));
    echo substr($piece, 0, 32768);
    flush();
}
EOF
cat >"$W/vary.php" <<'EOF'
<?php header('Vary: Cookie'); echo str_repeat("<p>varies by cookie</p>\n", 100);
EOF
cat >"$W/vary-ae.php" <<'EOF'
<?php header('Vary: accept-encoding'); echo str_repeat("<p>varies already</p>\n", 100);
EOF
cat >"$W/encoded.php" <<'EOF'
<?php header('Content-Encoding: gzip'); header('Content-Type: text/plain');
echo gzencode(str_repeat("compressed by the application\n", 200), 9);
EOF
cat >"$W/png.php" <<'EOF'
<?php header('Content-Type: image/png'); echo str_repeat("not really a png, but compressible\n", 200);
EOF
cat >"$W/tiny.php" <<'EOF'
<?php echo "<p>tiny</p>";
EOF
cat >"$W/len.php" <<'EOF'
<?php $b = str_repeat("abcdefgh", (int)($_GET['n'] ?? 10)); header('Content-Length: ' . strlen($b)); echo $b;
EOF

start_fpm out "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site gz]
hosts = gz.test
root = $W
gzip = on
access_log = $T/gz.log
fastcgi = unix:$T/fpm.sock

[site plain]
root = $W
access_log = $T/plain.log
fastcgi = unix:$T/fpm.sock
EOF
start_wharf_ini "$T/wharf.ini"
G=(-H 'Host: gz.test')

# ---- a complete page: compressed, same bytes, Vary, no Content-Length mismatch ------------------
ident=$(raw_body /page.php "${G[@]}" | sha)
ilen=$(nbytes /page.php "${G[@]}")
ok "$([ "$ilen" -gt 45000 ]; echo $?)" "page.php is a ~48 kB page ($ilen bytes)"
zlen=$(fetch /page.php "${G[@]}" "${GZ[@]}")
h=$(cat "$T/f.h")
is "$(printf '%s\n' "$h" | header_value Content-Encoding)" "gzip" "page.php: Content-Encoding: gzip"
is "$(printf '%s\n' "$h" | header_value Vary)" "Accept-Encoding" "page.php: Vary: Accept-Encoding"
cl=$(printf '%s\n' "$h" | header_value Content-Length)
ok "$([ -z "$cl" ] || [ "$cl" = "$zlen" ]; echo $?)" "page.php: Content-Length absent or the compressed size (got '${cl}', $zlen bytes)"
ok "$([ "$zlen" -lt $((ilen / 4)) ]; echo $?)" "page.php: compressed well ($zlen of $ilen bytes)"
is "$(gunz <"$T/f.b" | sha)" "$ident" "page.php: decompresses to the identity body"
curl -s --compressed -o "$T/page.out" "${G[@]}" "$(URL /page.php)"
is "$?" "0" "page.php: curl --compressed reads it without error"
is "$(sha <"$T/page.out")" "$ident" "page.php: ...and gets the identity body"

# JavaScript with the application's Content-Length and a strong ETag
ident=$(raw_body /scripts.php "${G[@]}" | sha)
zlen=$(fetch /scripts.php "${G[@]}" "${GZ[@]}")
h=$(cat "$T/f.h")
is "$(printf '%s\n' "$h" | header_value Content-Encoding)" "gzip" "scripts.php (91 kB JS): Content-Encoding: gzip"
cl=$(printf '%s\n' "$h" | header_value Content-Length)
ok "$([ -z "$cl" ] || [ "$cl" = "$zlen" ]; echo $?)" \
    "scripts.php: the application's Content-Length (identity size) is not sent (got '${cl}', $zlen bytes)"
is "$(printf '%s\n' "$h" | header_value ETag)" 'W/"scripts-1"' "scripts.php: the strong ETag becomes weak"
is "$(gunz <"$T/f.b" | sha)" "$ident" "scripts.php: decompresses to the identity body"
h=$(headers /scripts.php "${G[@]}")
is "$(printf '%s\n' "$h" | header_value ETag)" '"scripts-1"' "scripts.php identity: the ETag as the application set it"
like "$(printf '%s\n' "$h" | header_value Content-Length)" '^[0-9]{5}$' "scripts.php identity: the application's Content-Length"
is "$(printf '%s\n' "$h" | header_value Vary)" "Accept-Encoding" "scripts.php identity: Vary too (caches must not mix them)"

# ---- a streamed page: compressed, flushed part first, correct in the end ------------------------
rm -f "$T/go"
curl -s -N --compressed -D "$T/stream.h" -o "$T/stream.out" "${G[@]}" "$(URL "/stream.php?marker=$T/go")" &
CPID=$!
PIDS+=("$CPID")
wait_until 10000 grep -q FIRST-PART-END "$T/stream.out"
ok $? "stream.php: the flushed first part arrives (decompressed) before the script ends"
ok "$(! grep -q SECOND-PART-END "$T/stream.out"; echo $?)" "stream.php: ...and the second part has not (the script is waiting)"
touch "$T/go"
wait "$CPID"
is "$?" "0" "stream.php: curl --compressed finishes without error"
is "$(tr -d '\r' <"$T/stream.h" | header_value Content-Encoding)" "gzip" "stream.php: Content-Encoding: gzip"
is "$(tr -d '\r' <"$T/stream.h" | header_value Vary)" "Accept-Encoding" "stream.php: Vary: Accept-Encoding"
is "$(sha <"$T/stream.out")" "$(raw_body /stream.php "${G[@]}" | sha)" "stream.php: the whole body is right"
# the same over HTTP/1.0: no chunked encoding, the end of the body is the connection's close
rm -f "$T/go10"
curl -s -N --compressed --http1.0 -D "$T/s10.h" -o "$T/s10.out" "${G[@]}" "$(URL "/stream.php?marker=$T/go10")" &
CPID=$!
PIDS+=("$CPID")
wait_until 10000 grep -q FIRST-PART-END "$T/s10.out"
ok $? "HTTP/1.0 stream: the flushed first part arrives"
touch "$T/go10"
wait "$CPID"
is "$?" "0" "HTTP/1.0 stream: curl --compressed finishes without error"
h=$(tr -d '\r' <"$T/s10.h")
is "$(printf '%s\n' "$h" | header_value Content-Encoding)" "gzip" "HTTP/1.0 stream: Content-Encoding: gzip"
is "$(printf '%s\n' "$h" | grep -ciE '^(Content-Length|Transfer-Encoding):')" "0" "HTTP/1.0 stream: neither Content-Length nor chunked"
is "$(sha <"$T/s10.out")" "$(raw_body /stream.php "${G[@]}" | sha)" "HTTP/1.0 stream: the whole body is right"

# a large streamed body, read slowly: every byte arrives, compressed
ident=$(raw_body /big.php "${G[@]}" | sha)
is "$(raw_body /big.php "${G[@]}" | wc -c)" "4194304" "big.php: 4 MiB identity"
curl -s --limit-rate 1M -D "$T/big.h" -o "$T/big.gz" "${G[@]}" "${GZ[@]}" "$(URL /big.php)"
is "$?" "0" "big.php: a slow client reads the compressed stream to its end"
is "$(tr -d '\r' <"$T/big.h" | header_value Content-Encoding)" "gzip" "big.php: Content-Encoding: gzip"
is "$(gunz <"$T/big.gz" | sha)" "$ident" "big.php: decompresses to the identity body"

# ---- Vary merged with the application's -------------------------------------------------------
h=$(headers /vary.php "${G[@]}" "${GZ[@]}")
is "$(printf '%s\n' "$h" | grep -i '^Vary:' | sed 's/^[^:]*: *//' | tr '\n' '|')" "Cookie, Accept-Encoding|" \
    "vary.php: one Vary line, the application's Cookie plus Accept-Encoding"
h=$(headers /vary-ae.php "${G[@]}" "${GZ[@]}")
is "$(printf '%s\n' "$h" | grep -i '^Vary:' | sed 's/^[^:]*: *//' | tr '\n' '|')" "accept-encoding|" \
    "vary-ae.php: an application Vary that names accept-encoding is not repeated"
is "$(printf '%s\n' "$h" | header_value Content-Encoding)" "gzip" "vary-ae.php: still compressed"

# ---- never touched -------------------------------------------------------------------------------
want=$(curl -s "${G[@]}" "$(URL /encoded.php)" | sha)
h=$(headers /encoded.php "${G[@]}" "${GZ[@]}")
is "$(printf '%s\n' "$h" | grep -ci '^Content-Encoding:')" "1" "encoded.php: the application's Content-Encoding, once"
is "$(raw_body /encoded.php "${G[@]}" "${GZ[@]}" | sha)" "$want" "encoded.php: the application's bytes untouched"
is "$(raw_body /encoded.php "${G[@]}" "${GZ[@]}" | gunz | head -c 29)" "compressed by the application" "encoded.php: compressed once, not twice"
h=$(headers /png.php "${G[@]}" "${GZ[@]}")
is "$(printf '%s\n' "$h" | grep -ciE '^(Content-Encoding|Vary):')" "0" "png.php (image/png): no Content-Encoding, no Vary"
is "$(nbytes /png.php "${G[@]}" "${GZ[@]}")" "7000" "png.php: the body as it was"
h=$(headers /tiny.php "${G[@]}" "${GZ[@]}")
is "$(printf '%s\n' "$h" | grep -ci '^Content-Encoding:')" "0" "tiny.php (11 bytes): not compressed"
is "$(printf '%s\n' "$h" | header_value Vary)" "Accept-Encoding" "tiny.php: Vary all the same"
is "$(body /tiny.php "${G[@]}" "${GZ[@]}")" "<p>tiny</p>" "tiny.php: the body"
for ae in '' 'gzip;q=0' 'br' 'identity'; do
    args=("${G[@]}")
    [ -n "$ae" ] && args+=(-H "Accept-Encoding: $ae")
    h=$(headers /page.php "${args[@]}")
    is "$(printf '%s\n' "$h" | grep -ci '^Content-Encoding:')" "0" "page.php with Accept-Encoding '${ae:-(none)}': not compressed"
done
h=$(headers /page.php "${G[@]}" "${GZ[@]}" -I)
is "$(printf '%s\n' "$h" | grep -ci '^Content-Encoding:')" "0" "page.php HEAD: not compressed"
h=$(headers /page.php "${GZ[@]}")
is "$(printf '%s\n' "$h" | grep -ciE '^(Content-Encoding|Vary):')" "0" "page.php with gzip off: no Content-Encoding, no Vary"
is "$(nbytes /page.php "${GZ[@]}")" "$ilen" "page.php with gzip off: the identity body"

# ---- the access log counts what was really sent ------------------------------------------------
log_line() { # log_line FILE REGEX: wait for a line, print the last matching one
    wait_until 5000 grep -qE "$2" "$1" && grep -E "$2" "$1" | tail -1
}
bytes_of() { awk '{print $10}'; }
# streamed, identity (gzip off): the body has no Content-Length, so the bytes come from the stream
rm -f "$T/go2"
curl -s -o "$T/s2.out" "$(URL "/stream.php?marker=$T/go2&log=1")" &
CPID=$!
PIDS+=("$CPID")
wait_until 10000 grep -qs FIRST-PART-END "$T/s2.out"
touch "$T/go2"
wait "$CPID"
got=$(stat -c %s "$T/s2.out")
line=$(log_line "$T/plain.log" '"GET /stream\.php\?marker=[^ ]*&log=1 HTTP/1\.1" 200 ')
is "$(printf '%s\n' "$line" | bytes_of)" "$got" "access log: a streamed PHP response logs the $got bytes sent (was 0)"
# streamed and compressed: the compressed bytes (curl counts the bytes received, not decoded)
rm -f "$T/go3"
curl -s -N --compressed -o "$T/s3.out" -w '%{size_download}' "${G[@]}" \
    "$(URL "/stream.php?marker=$T/go3&log=2")" >"$T/s3.size" &
CPID=$!
PIDS+=("$CPID")
wait_until 10000 grep -qs FIRST-PART-END "$T/s3.out"
touch "$T/go3"
wait "$CPID"
got=$(cat "$T/s3.size")
line=$(log_line "$T/gz.log" '"GET /stream\.php\?marker=[^ ]*&log=2 HTTP/1\.1" 200 ')
is "$(printf '%s\n' "$line" | bytes_of)" "$got" "access log: a streamed gzip response logs the $got compressed bytes sent"
ok "$([ "$got" -lt "$(stat -c %s "$T/s3.out")" ]; echo $?)" "  (fewer than the $(stat -c %s "$T/s3.out") decoded bytes)"
# a complete (buffered) response, identity and gzip
got=$(nbytes '/len.php?n=1000&log=3')
line=$(log_line "$T/plain.log" '"GET /len\.php\?n=1000&log=3 HTTP/1\.1" 200 ')
is "$(printf '%s\n' "$line" | bytes_of)" "$got" "access log: a complete PHP response logs its $got bytes"
got=$(nbytes '/page.php?log=4' "${G[@]}" "${GZ[@]}")
line=$(log_line "$T/gz.log" '"GET /page\.php\?log=4 HTTP/1\.1" 200 ')
is "$(printf '%s\n' "$line" | bytes_of)" "$got" "access log: a compressed PHP page logs the $got bytes sent"
curl -s -I -o /dev/null "$(URL '/page.php?log=5')"
line=$(log_line "$T/plain.log" '"HEAD /page\.php\?log=5 HTTP/1\.1" 200 ')
like "$(printf '%s\n' "$line" | bytes_of)" '^(0|-)$' "access log: HEAD of a PHP page logs no body bytes"

# ---- Server: one line, the application's when it sets one -----------------------------------
printf '<?php header("Server: app/2"); echo "s";\n' >"$W/server.php"
fetch /server.php >/dev/null
is "$(grep -ci '^Server:' "$T/f.h")/$(header_value Server <"$T/f.h")" "1/app/2" \
    "an application's Server header replaces wharf's (one Server line, as with nginx)"
fetch /page.php >/dev/null
like "$(grep -ci '^Server:' "$T/f.h")/$(header_value Server <"$T/f.h")" "^1/wharf/" \
    "without one, wharf's own Server header"

# ---- the status line: the application's own reason phrase, as nginx passes it -----------------
printf '<?php header("HTTP/1.1 418 I%sm a teapot"); echo "t";\n' "'" >"$W/teapot.php"
printf '<?php header("Status: 404 Page Gone"); echo "g";\n' >"$W/gone.php"
printf '<?php header("Status: 404 " . str_repeat("x", 65)); echo "l";\n' >"$W/long.php"
printf '<?php header("Status: 451"); echo "n";\n' >"$W/bare.php"
printf '<?php echo "d";\n' >"$W/plain200.php"
status_line() { curl -s -o /dev/null -D - "$(URL "$1")" | head -1 | tr -d '\r'; }
if [ "${WHARF_MHD:-bundled}" = bundled ]; then
    is "$(status_line /teapot.php)" "HTTP/1.1 418 I'm a teapot" \
        "Status 418 with its phrase: passed on (was '418 Non-Standard Status')"
    is "$(status_line /gone.php)" "HTTP/1.1 404 Page Gone" "a phrase of the application's own for a known code"
fi
is "$(status_line /long.php)" "HTTP/1.1 404 Not Found" "a phrase over 64 bytes: the standard one"
is "$(status_line /bare.php)" "HTTP/1.1 451 Unavailable For Legal Reasons" "no phrase: the standard one"
is "$(status_line /plain200.php)" "HTTP/1.1 200 OK" "no Status at all: 200 OK"

finish
