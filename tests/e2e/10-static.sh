#!/usr/bin/env bash
# Static files: bodies byte-exact (small from memory, large by sendfile), freshness after an
# in-place edit, empty files, odd names, Content-Type table, the entity headers, HEAD, methods
# other than GET/HEAD, and the error pages.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 missing"

W=$T/www
mkdir -p "$W"

httpdate() { LC_ALL=C date -u -r "$1" '+%a, %d %b %Y %H:%M:%S GMT'; }
# headers without Date (which may tick between two requests), sorted
stable_headers() { grep -vi '^date:' | grep -v '^$' | sort; }

# ---- fixtures --------------------------------------------------------------------------
head -c 10000 /dev/urandom >"$W/small.bin"             # < 64 KiB: served from memory
head -c 65536 /dev/urandom >"$W/edge64k.bin"           # exactly the in-memory limit
head -c 65537 /dev/urandom >"$W/edge64k1.bin"          # one byte over it
head -c $((5 * 1024 * 1024 + 7)) /dev/urandom >"$W/large.bin" # several MiB: sendfile
: >"$W/empty.txt"
: >"$W/empty.bin"
printf 'space\n' >"$W/with space.txt"
printf 'utf8\n' >"$W/héllo wörld.txt"
printf 'plus\n' >"$W/a+b.txt"
for ext in html css js json svg png woff2 wasm txt xyzzy; do
    printf 'type %s\n' "$ext" >"$W/type.$ext"
done
printf 'version one, 25 bytes!!\n' >"$W/edit.txt"
touch -d '2020-01-02 03:04:05 UTC' "$W/edit.txt"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$W/edit-large.bin"
touch -d '2020-01-02 03:04:05 UTC' "$W/edit-large.bin"

start_wharf --root "$W"

# ---- bodies ----------------------------------------------------------------------------
for f in small.bin edge64k.bin edge64k1.bin large.bin; do
    size=$(stat -c %s "$W/$f")
    is "$(status "/$f")" 200 "GET /$f ($size bytes) is 200"
    is "$(body "/$f" | sha)" "$(fsha "$W/$f")" "GET /$f body is byte-identical (sha256)"
    is "$(headers "/$f" | header_value Content-Length)" "$size" \
        "GET /$f has Content-Length: $size"
done
# the second request of a small file comes from the memory cache: still identical
is "$(body /small.bin | sha)" "$(fsha "$W/small.bin")" "a repeated GET of a cached small file is byte-identical"
is "$(body /large.bin | sha)" "$(fsha "$W/large.bin")" "a repeated GET of a large file is byte-identical"

# ---- entity headers --------------------------------------------------------------------
h=$(headers /small.bin)
like "$(printf %s "$h" | header_value Date)" \
    '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$' \
    "Date is an IMF-fixdate"
date_ok=$(printf %s "$h" | header_value Date | python3 -c '
import sys, time, email.utils
d = email.utils.parsedate_to_datetime(sys.stdin.read().strip()).timestamp()
print("yes" if abs(d - time.time()) < 120 else "no: %s" % d)')
is "$date_ok" yes "Date is the current time"
is "$(printf %s "$h" | header_value Last-Modified)" "$(httpdate "$W/small.bin")" \
    "Last-Modified is the file's mtime as an IMF-fixdate"
etag_small=$(printf %s "$h" | header_value ETag)
like "$etag_small" '^"[!#-~]+"$' "ETag is a strong quoted entity-tag"
is "$(headers /small.bin | header_value ETag)" "$etag_small" "ETag is stable across requests"
etag_large=$(headers /large.bin | header_value ETag)
like "$etag_large" '^"[!#-~]+"$' "a large file has a strong ETag too"
ok "$([ "$etag_large" != "$etag_small" ]; echo $?)" "different files have different ETags"
is "$(headers /large.bin | header_value Last-Modified)" "$(httpdate "$W/large.bin")" \
    "a large file's Last-Modified is its mtime"

# ---- HEAD --------------------------------------------------------------------------------
for f in small.bin large.bin type.html empty.txt; do
    g=$(headers "/$f" | stable_headers)
    hd=$(headers "/$f" -I | stable_headers)
    is "$hd" "$g" "HEAD /$f has the same headers as GET (Date aside)"
done
is "$(headers /large.bin -I | header_value Content-Length)" "$(stat -c %s "$W/large.bin")" \
    "HEAD of a large file has the full Content-Length"
hb=$(raw 'HEAD /small.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | python3 -c '
import sys
d = sys.stdin.buffer.read()
print(len(d.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in d else "no head")')
is "$hb" 0 "HEAD sends no body bytes (raw socket)"
hb=$(raw 'HEAD /large.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | python3 -c '
import sys
d = sys.stdin.buffer.read()
print(len(d.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in d else "no head")')
is "$hb" 0 "HEAD of a large file sends no body bytes (raw socket)"

# ---- freshness after an in-place edit --------------------------------------------------
b1=$(body /edit.txt)
e1=$(headers /edit.txt | header_value ETag)
is "$b1" "version one, 25 bytes!!" "edit.txt: first version served"
is "$(body /edit.txt)" "version one, 25 bytes!!" "edit.txt: first version served again (now cached)"
# same size, same inode, new contents and mtime
printf 'VERSION TWO, 25 bytes!!\n' | dd of="$W/edit.txt" conv=notrunc status=none
is "$(body /edit.txt)" "VERSION TWO, 25 bytes!!" "a small file edited in place (same size) is served fresh"
e2=$(headers /edit.txt | header_value ETag)
ok "$([ -n "$e2" ] && [ "$e2" != "$e1" ]; echo $?)" "an in-place edit gives a new ETag"
is "$(headers /edit.txt | header_value Last-Modified)" "$(httpdate "$W/edit.txt")" \
    "an in-place edit gives the new Last-Modified"
# different size, same inode
printf 'three\n' >"$W/edit.txt"
is "$(body /edit.txt)" "three" "a small file truncated and rewritten in place is served fresh"
is "$(headers /edit.txt | header_value Content-Length)" 6 "... with the new Content-Length"
ok "$(e3=$(headers /edit.txt | header_value ETag); [ -n "$e3" ] && [ "$e3" != "$e2" ] && [ "$e3" != "$e1" ]; echo $?)" \
    "... and yet another ETag"
# large file, edited in place
l1=$(headers /edit-large.bin | header_value ETag)
is "$(body /edit-large.bin | sha)" "$(fsha "$W/edit-large.bin")" "edit-large.bin: first version served"
head -c 4096 /dev/urandom | dd of="$W/edit-large.bin" bs=4096 seek=100 conv=notrunc status=none
is "$(body /edit-large.bin | sha)" "$(fsha "$W/edit-large.bin")" "a large file edited in place is served fresh"
l2=$(headers /edit-large.bin | header_value ETag)
ok "$([ -n "$l2" ] && [ "$l2" != "$l1" ]; echo $?)" "a large file edited in place gets a new ETag"

# ---- empty files -------------------------------------------------------------------------
for f in empty.txt empty.bin; do
    is "$(status "/$f")" 200 "GET /$f (0 bytes) is 200"
    is "$(headers "/$f" | header_value Content-Length)" 0 "GET /$f has Content-Length: 0"
    is "$(body "/$f" | wc -c | tr -d ' ')" 0 "GET /$f has an empty body"
    like "$(headers "/$f" | header_value ETag)" '^"[!#-~]+"$' "GET /$f still has an ETag"
done

# ---- names -------------------------------------------------------------------------------
is "$(body '/with%20space.txt')" space "a name with a space, percent-encoded, is served"
is "$(body '/h%C3%A9llo%20w%C3%B6rld.txt')" utf8 "a UTF-8 name, percent-encoded, is served"
is "$(body '/a+b.txt')" plus "'+' in a path is a literal plus, not a space"
is "$(body '/a%2Bb.txt')" plus "'%2B' in a path decodes to '+'"
is "$(status '/h%C3%A9llo%20w%C3%B6rld.tx')" 404 "a near miss of the UTF-8 name is 404"

# ---- Content-Type ------------------------------------------------------------------------
ctype() { headers "/type.$1" | header_value Content-Type; }
is "$(ctype html)" "text/html; charset=utf-8" ".html is text/html; charset=utf-8"
is "$(ctype css)" "text/css; charset=utf-8" ".css is text/css; charset=utf-8"
like "$(ctype js)" '^(text|application)/javascript; charset=utf-8$' \
    ".js is JavaScript with charset=utf-8"
like "$(ctype json)" '^application/json(; charset=utf-8)?$' ".json is application/json"
like "$(ctype svg)" '^image/svg\+xml(; charset=utf-8)?$' ".svg is image/svg+xml"
is "$(ctype png)" "image/png" ".png is image/png (no charset)"
is "$(ctype woff2)" "font/woff2" ".woff2 is font/woff2"
is "$(ctype wasm)" "application/wasm" ".wasm is application/wasm"
is "$(ctype txt)" "text/plain; charset=utf-8" ".txt is text/plain; charset=utf-8"
is "$(ctype xyzzy)" "application/octet-stream" "an unknown extension is application/octet-stream"
is "$(headers /large.bin | header_value Content-Type)" "application/octet-stream" \
    ".bin is application/octet-stream"
# beyond the built-in web types, the system table is used when present
if grep -Eq '^application/vnd\.oasis\.opendocument\.text[[:space:]]+odt' /etc/mime.types 2>/dev/null; then
    printf 'odt\n' >"$W/doc.odt"
    is "$(headers /doc.odt | header_value Content-Type)" \
        "application/vnd.oasis.opendocument.text" ".odt is typed from /etc/mime.types"
fi

# ---- methods -----------------------------------------------------------------------------
for m in POST PUT DELETE; do
    args=(-X "$m")
    [ "$m" = DELETE ] || args+=(--data-binary x)
    h=$(headers /small.bin "${args[@]}")
    is "$(printf %s "$h" | head -1 | cut -d' ' -f2)" 405 "$m on a static file is 405"
    allow=$(printf %s "$h" | header_value Allow)
    like "$allow" '(^|[ ,])GET([ ,]|$)' "$m 405 has Allow with GET"
    like "$allow" '(^|[ ,])HEAD([ ,]|$)' "$m 405 has Allow with HEAD"
    unlike "$allow" "(^|[ ,])$m([ ,]|\$)" "$m 405's Allow does not list $m"
done
is "$(body /small.bin | sha)" "$(fsha "$W/small.bin")" "the file is still served after PUT/DELETE"

# ---- error pages -------------------------------------------------------------------------
eh=$(headers /no/such/file.txt)
eb=$(body /no/such/file.txt)
is "$(printf %s "$eh" | head -1 | cut -d' ' -f2)" 404 "a missing file is 404"
is "$(printf %s "$eh" | header_value Content-Type)" "text/html; charset=utf-8" \
    "the 404 page is text/html; charset=utf-8"
like "$eb" '404' "the 404 page names the status"
like "$eb" 'Not Found' "the 404 page has the reason phrase"
like "$eb" '^<!DOCTYPE html>' "the 404 page is an HTML document"
ok "$([ "${#eb}" -lt 4096 ]; echo $?)" "the 404 page is small (< 4 KiB, got ${#eb})"
is "$(printf %s "$eh" | header_value Content-Length)" \
    "$(curl -s -o /dev/null -w '%{size_download}' "$(URL /no/such/file.txt)")" \
    "the 404 page's Content-Length matches its body"
unlike "$eb" "$T|/www" "the 404 page reveals no server path"
eb405=$(body /small.bin -X DELETE)
like "$eb405" '405' "the 405 page names the status"
like "$eb405" '^<!DOCTYPE html>' "the 405 page is an HTML document like the 404 page"
unlike "$eb405" "$T" "the 405 page reveals no server path"
jh=$(headers /no/such/file.txt -H 'Accept: application/json')
like "$(printf %s "$jh" | header_value Content-Type)" '^application/json(; charset=utf-8)?$' \
    "with Accept: application/json the 404 is application/json"
jcheck=$(body /no/such/file.txt -H 'Accept: application/json' | python3 -c '
import json, sys
d = json.load(sys.stdin)
vals = list(d.values()) if isinstance(d, dict) else []
print("yes" if (404 in vals or "404" in vals) else "no: %r" % d)' 2>&1)
is "$jcheck" yes "the JSON 404 parses and carries the status 404"
unlike "$(body /no/such/file.txt -H 'Accept: application/json')" "$T" \
    "the JSON 404 reveals no server path"
is "$(status /no/such/file.txt -H 'Accept: text/html')" 404 "a missing file is 404 with Accept: text/html too"

finish
