#!/usr/bin/env bash
# Conditional requests (If-None-Match, If-Modified-Since, If-Match, If-Range) and byte ranges
# (single, suffix, open-ended, clamped, unsatisfiable, multiple) on small and large files.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 missing"

W=$T/www
mkdir -p "$W"

# slice FILE START LEN: sha256 of those bytes of FILE
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3" | sha; }

# Fixed old mtimes: Last-Modified is then deterministic and well before Date (a strong
# validator, RFC 9110 8.8.2.2).
head -c 1000 /dev/urandom >"$W/small.bin"
touch -d '2020-01-02 03:04:05 UTC' "$W/small.bin"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$W/large.bin"
touch -d '2020-01-02 03:04:05 UTC' "$W/large.bin"
printf 'text body\n' >"$W/page.txt"
touch -d '2020-01-02 03:04:05 UTC' "$W/page.txt"
: >"$W/empty.bin"

LM='Thu, 02 Jan 2020 03:04:05 GMT'
LATER='Fri, 03 Jan 2020 03:04:05 GMT'
OLDER='Wed, 01 Jan 2020 03:04:05 GMT'

start_wharf --root "$W"

h=$(headers /small.bin)
E=$(printf %s "$h" | header_value ETag)
is "$(printf %s "$h" | header_value Last-Modified)" "$LM" "Last-Modified is the file's mtime"
like "$E" '^"[!#-~]+"$' "the small file has a strong ETag"
EL=$(headers /large.bin | header_value ETag)
like "$EL" '^"[!#-~]+"$' "the large file has a strong ETag"
is "$(printf %s "$h" | header_value Accept-Ranges)" bytes "a 200 advertises Accept-Ranges: bytes"

# ---- If-None-Match ----------------------------------------------------------------------
h=$(headers /small.bin -H "If-None-Match: $E")
is "$(printf %s "$h" | code)" 304 "If-None-Match with the exact ETag is 304"
is "$(printf %s "$h" | header_value ETag)" "$E" "the 304 carries the ETag"
is "$(printf %s "$h" | header_value Content-Length)" "$(stat -c %s "$W/small.bin")" \
    "the 304's Content-Length is the 200's, not 0 (RFC 9110 8.6)"
is "$(body /small.bin -H "If-None-Match: $E" | wc -c | tr -d ' ')" 0 "the 304 has no body"
is "$(status /small.bin -H "If-None-Match: \"nope\", $E, \"other\"")" 304 \
    "If-None-Match with a list containing the ETag is 304"
is "$(status /small.bin -H "If-None-Match: W/$E")" 304 \
    "If-None-Match with the weak form W/ETag is 304 (weak comparison)"
is "$(status /small.bin -H 'If-None-Match: *')" 304 "If-None-Match: * on an existing file is 304"
is "$(status /small.bin -H 'If-None-Match: "nope"')" 200 "If-None-Match with another ETag is 200"
is "$(body /small.bin -H 'If-None-Match: "nope", "nope2"' | sha)" "$(fsha "$W/small.bin")" \
    "If-None-Match without a match gives the full body"
is "$(status /large.bin -H "If-None-Match: $EL")" 304 "If-None-Match on a large file is 304"
is "$(headers /large.bin -H "If-None-Match: $EL" | header_value Content-Length)" \
    "$(stat -c %s "$W/large.bin")" "a large file's 304 announces its length too"
is "$(status /large.bin -H "If-None-Match: $E")" 200 "another file's ETag does not match"
is "$(headers /small.bin -I -H "If-None-Match: $E" | code)" 304 "HEAD with a matching If-None-Match is 304"

# ---- If-Modified-Since ------------------------------------------------------------------
is "$(status /small.bin -H "If-Modified-Since: $LM")" 304 "If-Modified-Since equal to Last-Modified is 304"
is "$(status /small.bin -H "If-Modified-Since: $LATER")" 304 "If-Modified-Since later than Last-Modified is 304"
is "$(status /small.bin -H "If-Modified-Since: $OLDER")" 200 "If-Modified-Since older than Last-Modified is 200"
is "$(body /small.bin -H "If-Modified-Since: $OLDER" | sha)" "$(fsha "$W/small.bin")" \
    "... with the full body"
is "$(status /small.bin -H 'If-Modified-Since: not a date')" 200 "an unparsable If-Modified-Since is ignored (200)"
is "$(status /small.bin -H 'If-Modified-Since: Thu, 02 Jan 2020 03:04:05')" 200 \
    "an If-Modified-Since without GMT is ignored (200)"
is "$(status /large.bin -H "If-Modified-Since: $LM")" 304 "If-Modified-Since on a large file is 304"
is "$(headers /small.bin -H "If-Modified-Since: $LM" | header_value ETag)" "$E" \
    "the If-Modified-Since 304 carries the ETag"

# ---- If-None-Match wins over If-Modified-Since ------------------------------------------
is "$(status /small.bin -H 'If-None-Match: "nope"' -H "If-Modified-Since: $LM")" 200 \
    "a non-matching If-None-Match wins over a matching If-Modified-Since (200)"
is "$(status /small.bin -H "If-None-Match: $E" -H "If-Modified-Since: $OLDER")" 304 \
    "a matching If-None-Match wins over an older If-Modified-Since (304)"

# ---- If-Match ---------------------------------------------------------------------------
is "$(status /small.bin -H 'If-Match: "nope"')" 412 "If-Match with another ETag is 412"
is "$(status /small.bin -H "If-Match: W/$E")" 412 "If-Match with a weak ETag is 412 (strong comparison)"
is "$(status /small.bin -H "If-Match: $E")" 200 "If-Match with the current ETag is 200"
is "$(status /small.bin -H 'If-Match: *')" 200 "If-Match: * on an existing file is 200"
is "$(status /large.bin -H 'If-Match: "nope"')" 412 "If-Match mismatch on a large file is 412"

# ---- single ranges ----------------------------------------------------------------------
# range_check PATH RANGE WANT-START WANT-LEN SIZE NAME
range_check() {
    local p=$1 r=$2 s=$3 n=$4 size=$5 name=$6 hh
    hh=$(headers "$p" -H "Range: $r")
    is "$(printf %s "$hh" | code)" 206 "$name: 206"
    is "$(printf %s "$hh" | header_value Content-Range)" "bytes $s-$((s + n - 1))/$size" \
        "$name: Content-Range bytes $s-$((s + n - 1))/$size"
    is "$(printf %s "$hh" | header_value Content-Length)" "$n" "$name: Content-Length $n"
    is "$(body "$p" -H "Range: $r" | sha)" "$(slice "$W$p" "$s" "$n")" "$name: the exact bytes"
}
range_check /small.bin 'bytes=0-99' 0 100 1000 "Range bytes=0-99 (first bytes)"
range_check /small.bin 'bytes=-100' 900 100 1000 "Range bytes=-100 (suffix)"
range_check /small.bin 'bytes=990-' 990 10 1000 "Range bytes=990- (open-ended)"
range_check /small.bin 'bytes=995-5000' 995 5 1000 "Range bytes=995-5000 (end clamped to the size)"
range_check /small.bin 'bytes=0-0' 0 1 1000 "Range bytes=0-0 (one byte)"
range_check /small.bin 'bytes=-5000' 0 1000 1000 "Range bytes=-5000 (suffix longer than the file)"
range_check /large.bin 'bytes=1000000-2999999' 1000000 2000000 4194304 "Range on a large file"
range_check /large.bin 'bytes=-10' 4194294 10 4194304 "suffix Range on a large file"
range_check /large.bin 'bytes=4000000-' 4000000 194304 4194304 "open-ended Range on a large file"

hh=$(headers /page.txt -H 'Range: bytes=0-3')
is "$(printf %s "$hh" | header_value Content-Type)" "text/plain; charset=utf-8" \
    "a 206 has the file's Content-Type"
is "$(printf %s "$hh" | header_value ETag)" "$(headers /page.txt | header_value ETag)" \
    "a 206 has the file's ETag"
is "$(printf %s "$hh" | header_value Last-Modified)" "$LM" "a 206 has the file's Last-Modified"
is "$(body /page.txt -H 'Range: bytes=0-3')" "text" "Range bytes=0-3 of a text file is 'text'"

# ---- unsatisfiable ----------------------------------------------------------------------
for r in 'bytes=1000-' 'bytes=5000-6000' 'bytes=1000-1000'; do
    hh=$(headers /small.bin -H "Range: $r")
    is "$(printf %s "$hh" | code)" 416 "Range $r on a 1000-byte file is 416"
    is "$(printf %s "$hh" | header_value Content-Range)" 'bytes */1000' \
        "Range $r: Content-Range: bytes */1000"
done
hh=$(headers /large.bin -H 'Range: bytes=4194304-')
is "$(printf %s "$hh" | code)" 416 "Range starting at the size of a large file is 416"
is "$(printf %s "$hh" | header_value Content-Range)" 'bytes */4194304' \
    "... with Content-Range: bytes */4194304"
hh=$(headers /empty.bin -H 'Range: bytes=0-0')
is "$(printf %s "$hh" | code)" 416 "Range bytes=0-0 on an empty file is 416"
is "$(printf %s "$hh" | header_value Content-Range)" 'bytes */0' "... with Content-Range: bytes */0"

# ---- invalid Range headers are ignored --------------------------------------------------
is "$(status /small.bin -H 'Range: bytes=abc')" 200 "a malformed Range is ignored (200)"
is "$(body /small.bin -H 'Range: items=0-9' | sha)" "$(fsha "$W/small.bin")" \
    "a Range in another unit is ignored (full body)"
is "$(status /small.bin -H 'Range: bytes=9-3')" 200 "a Range with last < first is ignored (200)"

# ---- preconditions come before Range ----------------------------------------------------
is "$(status /small.bin -H "If-None-Match: $E" -H 'Range: bytes=0-9')" 304 \
    "a matching If-None-Match with a Range is 304"
is "$(status /small.bin -H 'If-Match: "nope"' -H 'Range: bytes=0-9')" 412 \
    "a failing If-Match with a Range is 412"

# ---- If-Range ---------------------------------------------------------------------------
hh=$(headers /small.bin -H "If-Range: $E" -H 'Range: bytes=10-19')
is "$(printf %s "$hh" | code)" 206 "If-Range with the current ETag honours the Range (206)"
is "$(printf %s "$hh" | header_value Content-Range)" 'bytes 10-19/1000' "... Content-Range bytes 10-19/1000"
is "$(body /small.bin -H "If-Range: $E" -H 'Range: bytes=10-19' | sha)" "$(slice "$W/small.bin" 10 10)" \
    "... with the exact bytes"
hh=$(headers /small.bin -H 'If-Range: "an-old-etag"' -H 'Range: bytes=10-19')
is "$(printf %s "$hh" | code)" 200 "If-Range with an old ETag ignores the Range (200)"
is "$(printf %s "$hh" | header_value Content-Range)" "" "... without Content-Range"
is "$(body /small.bin -H 'If-Range: "an-old-etag"' -H 'Range: bytes=10-19' | sha)" "$(fsha "$W/small.bin")" \
    "... and with the full body"
is "$(status /small.bin -H "If-Range: W/$E" -H 'Range: bytes=10-19')" 200 \
    "If-Range with a weak ETag ignores the Range (strong comparison, 200)"
is "$(status /small.bin -H "If-Range: $LM" -H 'Range: bytes=10-19')" 206 \
    "If-Range with the current Last-Modified honours the Range (206)"
is "$(status /small.bin -H "If-Range: $OLDER" -H 'Range: bytes=10-19')" 200 \
    "If-Range with another date ignores the Range (200)"
is "$(body /large.bin -H "If-Range: $EL" -H 'Range: bytes=100-199' | sha)" "$(slice "$W/large.bin" 100 100)" \
    "If-Range with the current ETag on a large file gives the range"
is "$(status /large.bin -H "If-Range: $E" -H 'Range: bytes=100-199')" 200 \
    "If-Range with another file's ETag on a large file is 200"

# After an edit, the old ETag no longer satisfies If-Range.
cp "$W/small.bin" "$W/changing.bin"
touch -d '2020-01-02 03:04:05 UTC' "$W/changing.bin"
Eold=$(headers /changing.bin | header_value ETag)
printf 'XXXXXXXXXX' | dd of="$W/changing.bin" bs=1 seek=10 conv=notrunc status=none
hh=$(headers /changing.bin -H "If-Range: $Eold" -H 'Range: bytes=10-19')
is "$(printf %s "$hh" | code)" 200 "If-Range with the ETag from before an edit is 200"
is "$(body /changing.bin -H "If-Range: $Eold" -H 'Range: bytes=10-19' | sha)" "$(fsha "$W/changing.bin")" \
    "... with the new full body"

# ---- multiple ranges: a full 200 or a correct multipart/byteranges 206 -----------------
# multi_check PATH RANGE SPANS(start:len,...) NAME
multi_check() {
    local p=$1 r=$2 spans=$3 name=$4 res
    curl -s --path-as-is -D "$T/mh" -o "$T/mb" -H "Range: $r" "$(URL "$p")"
    res=$(python3 - "$T/mh" "$T/mb" "$W$p" "$spans" <<'EOF'
import re, sys
hdr = open(sys.argv[1], "rb").read().decode("latin-1").replace("\r", "")
body = open(sys.argv[2], "rb").read()
data = open(sys.argv[3], "rb").read()
spans = [tuple(int(x) for x in s.split(":")) for s in sys.argv[4].split(",")]
status = hdr.split("\n", 1)[0].split(" ")[1]
h = {}
for line in hdr.split("\n")[1:]:
    if ":" in line:
        k, v = line.split(":", 1)
        h[k.strip().lower()] = v.strip()
if status == "200":
    print("ok" if body == data else "200 with a wrong body (%d bytes)" % len(body))
    sys.exit()
if status != "206":
    print("status " + status); sys.exit()
m = re.match(r'multipart/byteranges;\s*boundary="?([^";]+)"?', h.get("content-type", ""))
if not m:
    print("206 without multipart/byteranges: " + h.get("content-type", "")); sys.exit()
if "content-range" in h:
    print("multipart 206 must not have a top-level Content-Range"); sys.exit()
b = b"--" + m.group(1).encode()
parts = body.split(b)
if len(parts) < 3 or not parts[-1].startswith(b"--"):
    print("malformed multipart (no closing delimiter)"); sys.exit()
got = []
for part in parts[1:-1]:
    head, _, payload = part.partition(b"\r\n\r\n")
    if not payload.endswith(b"\r\n"):
        print("part not followed by CRLF"); sys.exit()
    payload = payload[:-2]
    cr = re.search(rb"(?im)^content-range:\s*bytes (\d+)-(\d+)/(\d+)\s*$", head)
    if not cr:
        print("part without Content-Range"); sys.exit()
    s, e, size = (int(x) for x in cr.groups())
    if size != len(data) or payload != data[s:e + 1]:
        print("part %d-%d has the wrong bytes" % (s, e)); sys.exit()
    got.append((s, e - s + 1))
print("ok" if got == spans else "parts %r, want %r" % (got, spans))
EOF
)
    is "$res" ok "$name: a full 200 or a correct 206 multipart/byteranges"
}
multi_check /small.bin 'bytes=0-9,20-29' '0:10,20:10' "Range with two ranges"
multi_check /small.bin 'bytes=0-0,-1' '0:1,999:1' "Range with a first byte and a suffix"
multi_check /large.bin 'bytes=0-99,2000000-2000099' '0:100,2000000:100' "two ranges on a large file"

finish
