#!/usr/bin/env bash
# gzip: on-the-fly compression (negotiation with q-values, Vary, a distinct ETag, 304 on it),
# what is never compressed (binary types, tiny bodies, ranges), precompressed FILE.gz (used
# when fresh, ignored when older), large files, freshness after edits, and gzip off.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 missing"
command -v gzip >/dev/null || skip_all "gzip missing"

W=$T/www
mkdir -p "$W"
GZ=(-H 'Accept-Encoding: gzip')

# compressible text: n lines of varied but repetitive prose
text() { python3 -c '
import sys
n = int(sys.argv[1]); out = []; total = 0; i = 0
while total < n:
    out.append("line %d: the quick brown fox jumps over the lazy dog, %s\n" % (i, "abcdefghij"[i % 10] * (i % 37)))
    total += len(out[-1]); i += 1
sys.stdout.write("".join(out)[:n])' "$1"; }

# ---- fixtures --------------------------------------------------------------------------
text 20000 >"$W/page.html"
text 5000 >"$W/app.js"
text 5000 >"$W/style.css"
text 5000 >"$W/data.json"
{ echo '<svg xmlns="http://www.w3.org/2000/svg">'; text 5000 | sed 's/.*/<!-- & -->/'; echo '</svg>'; } >"$W/pic.svg"
text $((2 * 1024 * 1024)) >"$W/big.txt"
text 100 >"$W/tiny.txt"
for ext in png jpg zip woff2 gz; do text 20000 >"$W/bin.$ext"; done # compressible bytes, binary types

# precompressed sibling, same mtime: its exact bytes must be sent
text 8000 >"$W/pre.css"
gzip -1 -c "$W/pre.css" >"$W/pre.css.gz" # level 1 and with a name header: unlike wharf's own
touch -d '2020-01-02 03:04:05 UTC' "$W/pre.css" "$W/pre.css.gz"
# a newer sibling is fine too
text 8000 >"$W/pre2.js"
gzip -9 -c "$W/pre2.js" >"$W/pre2.js.gz"
touch -d '2020-01-02 03:04:05 UTC' "$W/pre2.js"
touch -d '2021-01-02 03:04:05 UTC' "$W/pre2.js.gz"
# a large FILE with a large FILE.gz (well over the in-memory limit)
python3 -c '
import random, sys
r = random.Random(7)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
out, n = [], 0
while n < 2 * 1024 * 1024:
    w = "%s%d " % (r.choice(words), r.randrange(100000))
    out.append(w); n += len(w)
sys.stdout.write("".join(out)[:2 * 1024 * 1024])' >"$W/bigpre.txt"
gzip -1 -c "$W/bigpre.txt" >"$W/bigpre.txt.gz"
touch -d '2020-01-02 03:04:05 UTC' "$W/bigpre.txt" "$W/bigpre.txt.gz"
# a sibling that is requested by its own name before FILE is
text 7000 >"$W/rev.css"
gzip -1 -c "$W/rev.css" >"$W/rev.css.gz"
touch -d '2020-01-02 03:04:05 UTC' "$W/rev.css" "$W/rev.css.gz"
# an older sibling holds an outdated version: it must be ignored
text 9000 >"$W/stale.css"
printf 'old version\n' | gzip -c >"$W/stale.css.gz"
touch -d '2021-01-02 03:04:05 UTC' "$W/stale.css"
touch -d '2020-01-02 03:04:05 UTC' "$W/stale.css.gz"

# files edited in place later
text 6000 >"$W/edit.html"
touch -d '2020-01-02 03:04:05 UTC' "$W/edit.html"
text $((2 * 1024 * 1024)) >"$W/edit-big.txt"
touch -d '2020-01-02 03:04:05 UTC' "$W/edit-big.txt"

start_wharf --root "$W" --gzip

# ---- on-the-fly gzip --------------------------------------------------------------------
hz=$(headers /page.html "${GZ[@]}")
hi=$(headers /page.html)
is "$(printf %s "$hz" | code)" 200 "GET with Accept-Encoding: gzip is 200"
is "$(printf %s "$hz" | header_value Content-Encoding)" gzip "a 20 KB html file is sent with Content-Encoding: gzip"
is "$(body /page.html "${GZ[@]}" | gunz | sha)" "$(fsha "$W/page.html")" \
    "the gzip body decompresses to the identical bytes"
is "$(printf %s "$hz" | header_value Content-Length)" "$(nbytes /page.html "${GZ[@]}")" \
    "the gzip response's Content-Length is the compressed length"
ok "$([ "$(nbytes /page.html "${GZ[@]}")" -lt 20000 ]; echo $?)" "the gzip body is smaller than the file"
is "$(printf %s "$hz" | header_value Content-Type)" "text/html; charset=utf-8" \
    "the gzip response keeps Content-Type text/html; charset=utf-8"
like "$(printf %s "$hz" | grep -i '^vary:' | tr '[:upper:]' '[:lower:]')" 'accept-encoding' "the gzip variant has Vary: Accept-Encoding"
like "$(printf %s "$hi" | grep -i '^vary:' | tr '[:upper:]' '[:lower:]')" 'accept-encoding' "the identity variant has Vary: Accept-Encoding"
is "$(printf %s "$hi" | header_value Content-Encoding)" "" "without Accept-Encoding there is no Content-Encoding"
is "$(body /page.html | sha)" "$(fsha "$W/page.html")" "without Accept-Encoding the body is the file"
EZ=$(printf %s "$hz" | header_value ETag)
EI=$(printf %s "$hi" | header_value ETag)
like "$EZ" '^(W/)?"[!#-~]+"$' "the gzip variant has an ETag"
like "$EI" '^"[!#-~]+"$' "the identity variant has an ETag"
ok "$([ "$EZ" != "$EI" ]; echo $?)" "the gzip ETag differs from the identity ETag"
is "$(headers /page.html "${GZ[@]}" | header_value ETag)" "$EZ" "the gzip ETag is stable across requests"
is "$(body /page.html "${GZ[@]}" | sha)" "$(body /page.html "${GZ[@]}" | sha)" \
    "two gzip responses of the same file are byte-identical"

h=$(headers /page.html "${GZ[@]}" -H "If-None-Match: $EZ")
is "$(printf %s "$h" | code)" 304 "If-None-Match with the gzip ETag (and gzip accepted) is 304"
is "$(printf %s "$h" | header_value ETag)" "$EZ" "... and the 304 carries the gzip ETag"
is "$(printf %s "$h" | header_value Content-Length)" "$(printf %s "$hz" | header_value Content-Length)" \
    "... and the gzip 200's Content-Length, not 0 (RFC 9110 8.6)"
is "$(status /page.html "${GZ[@]}" -H "If-None-Match: $EI")" 200 \
    "If-None-Match with the identity ETag does not match the gzip variant (200)"
is "$(status /page.html -H "If-None-Match: $EI")" 304 \
    "If-None-Match with the identity ETag, no gzip accepted, is 304"
is "$(status /page.html -H "If-None-Match: $EZ")" 200 \
    "If-None-Match with the gzip ETag, no gzip accepted, is 200"

hh=$(headers /page.html -I "${GZ[@]}")
is "$(printf %s "$hh" | header_value Content-Encoding)" gzip "HEAD with gzip accepted has Content-Encoding: gzip"
is "$(printf %s "$hh" | header_value Content-Length)" "$(nbytes /page.html "${GZ[@]}")" \
    "HEAD with gzip accepted has the compressed Content-Length"
is "$(printf %s "$hh" | header_value ETag)" "$EZ" "HEAD with gzip accepted has the gzip ETag"

for f in app.js style.css data.json pic.svg; do
    is "$(headers "/$f" "${GZ[@]}" | header_value Content-Encoding)" gzip "$f is gzipped"
    is "$(body "/$f" "${GZ[@]}" | gunz | sha)" "$(fsha "$W/$f")" "$f decompresses to the identical bytes"
done

# ---- negotiation -----------------------------------------------------------------------
# ae_case ACCEPT-ENCODING WANT(gzip|identity)
ae_case() {
    local ae=$1 want=$2 ce got
    ce=$(headers /page.html -H "Accept-Encoding: $ae" | header_value Content-Encoding)
    if [ "$want" = gzip ]; then
        got=$(body /page.html -H "Accept-Encoding: $ae" | gunz | sha)
    else
        got=$(body /page.html -H "Accept-Encoding: $ae" | sha)
    fi
    is "${ce:-identity} $got" "$want $(fsha "$W/page.html")" "Accept-Encoding: '$ae' gives $want"
}
ae_case 'gzip;q=0' identity
ae_case 'gzip; q=0.000' identity
ae_case 'identity' identity
ae_case '*' gzip
ae_case 'br' identity
ae_case 'deflate, gzip;q=0.5' gzip
ae_case 'gzip;q=0, *' identity
ae_case '*;q=0' identity
ae_case 'GZIP' gzip
ae_case 'gzip, deflate, br' gzip
ae_case 'br;q=1.0, gzip;q=0.8, *;q=0.1' gzip

# ---- never compressed ------------------------------------------------------------------
for f in bin.png bin.jpg bin.zip bin.woff2 bin.gz; do
    h=$(headers "/$f" "${GZ[@]}")
    is "$(printf %s "$h" | header_value Content-Encoding)" "" "$f is never gzipped"
    is "$(body "/$f" "${GZ[@]}" | sha)" "$(fsha "$W/$f")" "$f is sent as it is"
done
is "$(headers /tiny.txt "${GZ[@]}" | header_value Content-Encoding)" "" "a 100-byte text file is not gzipped"
is "$(body /tiny.txt "${GZ[@]}" | sha)" "$(fsha "$W/tiny.txt")" "... and is sent as it is"

h=$(headers /page.html "${GZ[@]}" -H 'Range: bytes=100-199')
is "$(printf %s "$h" | code)" 206 "Range with gzip accepted is 206"
is "$(printf %s "$h" | header_value Content-Encoding)" "" "... without Content-Encoding (ranges are never compressed)"
is "$(printf %s "$h" | header_value Content-Range)" "bytes 100-199/20000" "... with Content-Range of the identity body"
is "$(body /page.html "${GZ[@]}" -H 'Range: bytes=100-199' | sha)" \
    "$(tail -c +101 "$W/page.html" | head -c 100 | sha)" "... and the exact identity bytes"
h=$(headers /big.txt "${GZ[@]}" -H 'Range: bytes=-50')
is "$(printf %s "$h" | code) $(printf %s "$h" | header_value Content-Encoding)" "206 " \
    "Range on a large text file with gzip accepted is an identity 206"

# ---- precompressed FILE.gz ------------------------------------------------------------
h=$(headers /pre.css "${GZ[@]}")
is "$(printf %s "$h" | header_value Content-Encoding)" gzip "pre.css with pre.css.gz beside it is sent gzipped"
is "$(body /pre.css "${GZ[@]}" | sha)" "$(fsha "$W/pre.css.gz")" "... and the body is exactly pre.css.gz"
is "$(printf %s "$h" | header_value Content-Length)" "$(stat -c %s "$W/pre.css.gz")" \
    "... with Content-Length of pre.css.gz"
is "$(printf %s "$h" | header_value Content-Type)" "text/css; charset=utf-8" \
    "... with the Content-Type of pre.css, not of a .gz"
like "$(printf %s "$h" | grep -i '^vary:' | tr '[:upper:]' '[:lower:]')" 'accept-encoding' "... with Vary: Accept-Encoding"
EP=$(printf %s "$h" | header_value ETag)
ok "$([ -n "$EP" ] && [ "$EP" != "$(headers /pre.css | header_value ETag)" ]; echo $?)" \
    "... with an ETag different from the identity one"
is "$(status /pre.css "${GZ[@]}" -H "If-None-Match: $EP")" 304 "If-None-Match with the precompressed ETag is 304"
is "$(headers /pre.css | header_value Content-Encoding)" "" "pre.css without gzip accepted is identity"
is "$(body /pre.css | sha)" "$(fsha "$W/pre.css")" "... with the bytes of pre.css"
h=$(headers /bigpre.txt "${GZ[@]}")
is "$(printf %s "$h" | header_value Content-Encoding)" gzip "a 2 MiB FILE with FILE.gz is sent gzipped"
is "$(printf %s "$h" | header_value Content-Length)" "$(stat -c %s "$W/bigpre.txt.gz")" \
    "... with the Content-Length of its $(stat -c %s "$W/bigpre.txt.gz")-byte FILE.gz"
is "$(body /bigpre.txt "${GZ[@]}" | sha)" "$(fsha "$W/bigpre.txt.gz")" "... and exactly the bytes of FILE.gz"
is "$(body /pre2.js "${GZ[@]}" | sha)" "$(fsha "$W/pre2.js.gz")" "a FILE.gz newer than FILE is served (its exact bytes)"
is "$(body /pre.css.gz | sha)" "$(fsha "$W/pre.css.gz")" "FILE.gz itself is still served as it is"
h=$(headers /pre.css.gz "${GZ[@]}")
is "$(printf %s "$h" | header_value Content-Encoding)" "" \
    "FILE.gz requested by name (gzip accepted) has no Content-Encoding"
is "$(printf %s "$h" | header_value Content-Type)" "application/gzip" \
    "FILE.gz requested by name (gzip accepted) is application/gzip"
h=$(headers /pre.css.gz)
is "$(printf %s "$h" | header_value Content-Encoding)" "" \
    "FILE.gz requested by name (no Accept-Encoding) has no Content-Encoding"
is "$(printf %s "$h" | header_value Content-Type)" "application/gzip" \
    "FILE.gz requested by name (no Accept-Encoding) is application/gzip"

is "$(body /rev.css.gz | sha)" "$(fsha "$W/rev.css.gz")" "GET /rev.css.gz by name serves its bytes"
: >"$T/rev.out"
h=$(curl -s --path-as-is -D - -o "$T/rev.out" -w '%{http_code}' "${GZ[@]}" "$(URL /rev.css)" | tr -d '\r')
is "$(printf %s "$h" | tail -1)" 200 "after FILE.gz was requested by name, FILE with gzip accepted is 200"
is "$(printf %s "$h" | header_value Content-Encoding)" gzip "... with Content-Encoding: gzip"
is "$(fsha "$T/rev.out")" "$(fsha "$W/rev.css.gz")" "... and exactly the bytes of FILE.gz"

h=$(headers /stale.css "${GZ[@]}")
is "$(printf %s "$h" | header_value Content-Encoding)" gzip "stale.css (with an older stale.css.gz) is gzipped on the fly"
ok "$([ "$(body /stale.css "${GZ[@]}" | sha)" != "$(fsha "$W/stale.css.gz")" ]; echo $?)" \
    "an older FILE.gz is not served"
is "$(body /stale.css "${GZ[@]}" | gunz | sha)" "$(fsha "$W/stale.css")" \
    "... the gzip body decompresses to the current FILE"

# ---- large file ----------------------------------------------------------------------
h=$(headers /big.txt "${GZ[@]}")
is "$(printf %s "$h" | header_value Content-Encoding)" gzip "a 2 MiB text file is gzipped"
is "$(body /big.txt "${GZ[@]}" | gunz | sha)" "$(fsha "$W/big.txt")" "... and decompresses to the identical bytes"
is "$(body /big.txt "${GZ[@]}" | gunz | sha)" "$(fsha "$W/big.txt")" "... again on a second request"
is "$(printf %s "$h" | header_value Content-Length)" "$(nbytes /big.txt "${GZ[@]}")" "... with the compressed Content-Length"
EBZ=$(printf %s "$h" | header_value ETag)
EBI=$(headers /big.txt | header_value ETag)
ok "$([ -n "$EBZ" ] && [ "$EBZ" != "$EBI" ]; echo $?)" "... with an ETag different from the identity one"
is "$(status /big.txt "${GZ[@]}" -H "If-None-Match: $EBZ")" 304 "If-None-Match with the large file's gzip ETag is 304"
is "$(body /big.txt | sha)" "$(fsha "$W/big.txt")" "the large file without gzip accepted is the file"
like "$(headers /big.txt | grep -i '^vary:' | tr '[:upper:]' '[:lower:]')" 'accept-encoding' "the large file's identity variant has Vary: Accept-Encoding"

# ---- edits ----------------------------------------------------------------------------
is "$(body /edit.html "${GZ[@]}" | gunz | sha)" "$(fsha "$W/edit.html")" "edit.html: first version gzipped"
e1=$(headers /edit.html "${GZ[@]}" | header_value ETag)
printf 'EDITED!' | dd of="$W/edit.html" bs=1 seek=500 conv=notrunc status=none
is "$(body /edit.html "${GZ[@]}" | gunz | sha)" "$(fsha "$W/edit.html")" "a file edited in place is gzipped fresh"
e2=$(headers /edit.html "${GZ[@]}" | header_value ETag)
ok "$([ -n "$e2" ] && [ "$e2" != "$e1" ]; echo $?)" "... with a new gzip ETag"
is "$(body /edit-big.txt "${GZ[@]}" | gunz | sha)" "$(fsha "$W/edit-big.txt")" "edit-big.txt: first version gzipped"
printf 'EDITED!' | dd of="$W/edit-big.txt" bs=1 seek=100000 conv=notrunc status=none
is "$(body /edit-big.txt "${GZ[@]}" | gunz | sha)" "$(fsha "$W/edit-big.txt")" "a large file edited in place is gzipped fresh"
# FILE edited after FILE.gz: the sibling becomes stale
printf 'pre.css changed' | dd of="$W/pre.css" bs=1 seek=10 conv=notrunc status=none
is "$(body /pre.css "${GZ[@]}" | gunz | sha)" "$(fsha "$W/pre.css")" \
    "once FILE is edited after FILE.gz, the response matches the new FILE"

stop_pid "$WPID"

# ---- gzip off ------------------------------------------------------------------------
start_wharf --root "$W"
for f in page.html big.txt app.js pre.css; do
    is "$(headers "/$f" "${GZ[@]}" | header_value Content-Encoding)" "" "gzip off: $f is not compressed"
    is "$(body "/$f" "${GZ[@]}" | sha)" "$(fsha "$W/$f")" "gzip off: $f is sent as it is"
done
stop_pid "$WPID"

# ---- gzip = on / off in the config file ------------------------------------------------
gz_ini() { # gz_ini VALUE: a config on a fresh $PORT with gzip = VALUE
    PORT=$(free_port)
    printf '[server]\nlisten = 127.0.0.1:%s\n\n[site main]\nroot = %s\ngzip = %s\n' \
        "$PORT" "$W" "$1" >"$T/gz-$1.ini"
    start_wharf_ini "$T/gz-$1.ini"
}
gz_ini on
is "$(headers /page.html "${GZ[@]}" | header_value Content-Encoding)" gzip "gzip = on in [site]: page.html is gzipped"
is "$(body /page.html "${GZ[@]}" | gunz | sha)" "$(fsha "$W/page.html")" "... and decompresses to the identical bytes"
stop_pid "$WPID"
gz_ini off
is "$(headers /page.html "${GZ[@]}" | header_value Content-Encoding)" "" "gzip = off in [site]: nothing is gzipped"
is "$(body /page.html "${GZ[@]}" | sha)" "$(fsha "$W/page.html")" "gzip = off: the body is the file"

finish
