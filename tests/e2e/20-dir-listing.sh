#!/usr/bin/env bash
# Directories: the trailing-slash redirect (query kept), index files (default order and
# `index =`), listings with browse on (HTML: sorted, sizes, dates, escaped names, no dotfiles,
# working links; JSON on Accept: application/json) and 403/404 with browse off.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip_all "python3 missing"

W=$T/www
mkdir -p "$W"

# ---- fixtures --------------------------------------------------------------------------
mkdir -p "$W/dir" "$W/my dir" "$W/déjà"
printf 'in dir\n' >"$W/dir/file.txt"
printf 'in my dir\n' >"$W/my dir/file.txt"
printf 'in deja\n' >"$W/déjà/file.txt"

# index order: index.html index.htm default.html default.htm
mkdir -p "$W/i1" "$W/i2" "$W/i3" "$W/i4" "$W/i5"
for f in index.html index.htm default.html default.htm; do printf 'i1 %s\n' "$f" >"$W/i1/$f"; done
for f in index.htm default.html default.htm; do printf 'i2 %s\n' "$f" >"$W/i2/$f"; done
for f in default.html default.htm; do printf 'i3 %s\n' "$f" >"$W/i3/$f"; done
printf 'i4 default.htm\n' >"$W/i4/default.htm"
printf 'i5 home.html\n' >"$W/i5/home.html" # not a default index name
printf 'i5 start.html\n' >"$W/i5/start.html"

# the listed directory, files created out of order
L=$W/list
mkdir -p "$L/sub" "$L/.git"
for n in gamma.txt alpha.txt zeta.txt beta.txt; do printf '%s\n' "$n" >"$L/$n"; done
head -c 500 /dev/zero >"$L/sized.txt"
head -c $((3 * 1024 * 1024)) /dev/zero >"$L/big.bin"
printf 'x\n' >"$L/dated.txt"
touch -d '2020-01-02 03:04:05 UTC' "$L/dated.txt"
printf 'esc\n' >"$L/<b>&\"x\".txt"
printf 'sp\n' >"$L/with space.txt"
printf 'u\n' >"$L/héllo.txt"
printf 'hidden\n' >"$L/.hidden"
printf 'secret\n' >"$L/.git/config"
printf 'sub\n' >"$L/sub/inner.txt"
mkdir -p "$L/odd?dir" "$W/a?b" "$W/evil.com"
printf 'odd\n' >"$L/odd?dir/odd.txt"
VISIBLE='<b>&"x".txt alpha.txt beta.txt big.bin dated.txt gamma.txt héllo.txt odd?dir sized.txt sub with space.txt zeta.txt'

# ---- browse on (--browse) --------------------------------------------------------------
start_wharf --root "$W" --browse

# redirect to the slash form
h=$(headers /dir)
is "$(printf %s "$h" | code)" 301 "a directory without its trailing slash is 301"
like "$(printf %s "$h" | header_value Location)" '(^|[^/])/dir/$' "... with Location ending /dir/"
h=$(headers '/dir?x=1')
is "$(printf %s "$h" | code)" 301 "/dir?x=1 is 301"
like "$(printf %s "$h" | header_value Location)" '/dir/\?x=1$' "... with Location ending /dir/?x=1 (query kept)"
like "$(headers '/dir?x=1&y=%2F' | header_value Location)" '/dir/\?x=1&y=%2F$' \
    "a query with '&' and an escape is kept verbatim"
like "$(headers '/my%20dir' | header_value Location)" '/my%20dir/$' \
    "a directory with a space redirects to its percent-encoded slash form"
loc=$(headers '/d%C3%A9j%C3%A0' | header_value Location)
like "$loc" '^[!-~]+$' "a UTF-8 directory's Location is plain ASCII (percent-encoded)"
is "$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(urllib.parse.urlsplit(sys.argv[1]).path))' "$loc")" \
    "/déjà/" "a UTF-8 directory redirects to its slash form"
like "$(headers '/a%3Fb?q=1' | header_value Location)" '/a%3[Ff]b/\?q=1$' \
    "a directory named 'a?b' redirects to /a%3Fb/?q=1 (its '?' stays encoded)"
loc=$(headers '//evil.com' | header_value Location)
like "$loc" '/evil\.com/$' "//evil.com (a local directory) redirects to its slash form"
unlike "$loc" '^//' "... with a Location that is not protocol-relative (no open redirect)"
is "$(headers /dir -I | code)" 301 "HEAD of a directory without its slash is 301 too"
is "$(curl -s -L -o /dev/null -w '%{http_code} %{url_effective}' "$(URL '/my%20dir')")" \
    "200 $(URL '/my%20dir/')" "following that redirect lands in the directory (200)"
is "$(curl -s -L -o /dev/null -w '%{http_code} %{url_effective}' "$(URL '/dir?x=1')")" \
    "200 $(URL '/dir/?x=1')" "following /dir?x=1 ends at /dir/?x=1 with 200"

# index files, in the default order
is "$(body /i1/)" "i1 index.html" "index.html wins over index.htm, default.html, default.htm"
is "$(body /i2/)" "i2 index.htm" "without index.html, index.htm is served"
is "$(body /i3/)" "i3 default.html" "then default.html"
is "$(body /i4/)" "i4 default.htm" "then default.htm"
is "$(headers /i1/ | header_value Content-Type)" "text/html; charset=utf-8" \
    "an index file is served as text/html; charset=utf-8"
is "$(headers /i1/ | header_value Content-Length)" 14 "an index file has its Content-Length"
like "$(headers /i1/ | header_value ETag)" '^"[!#-~]+"$' "an index file has an ETag"
is "$(body /i1/index.htm)" "i1 index.htm" "the other index files stay reachable by name"
is "$(headers /i1 | code)" 301 "a directory with an index file still gets the slash redirect"

# listing
h=$(headers /list/)
b=$(body /list/)
is "$(printf %s "$h" | code)" 200 "a directory without an index file, browse on: 200 listing"
is "$(printf %s "$h" | header_value Content-Type)" "text/html; charset=utf-8" \
    "the listing is text/html; charset=utf-8"
is "$(body /i5/ | grep -c 'home.html')" 1 "a directory whose files are not index names is listed"

unlike "$b" '<b>&' "the raw name <b>& never appears in the HTML"
like "$b" '&lt;b&gt;&amp;(&quot;|&#34;|&#x22;|")x(&quot;|&#34;|&#x22;|")\.txt' \
    "the name <b>&\"x\".txt is HTML-escaped"
unlike "$b" '\.hidden|\.git' "dotfiles and dot-directories are not listed"

# Parse the HTML: link texts in document order and hrefs (resolved against /list/).
printf %s "$b" >"$T/list.html"
python3 - "$T/list.html" >"$T/links" <<'EOF'
import sys, html.parser, urllib.parse
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.href, self.text = [], None, ""
    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.href, self.text = dict(attrs).get("href", ""), ""
    def handle_data(self, d):
        if self.href is not None:
            self.text += d
    def handle_endtag(self, tag):
        if tag == "a" and self.href is not None:
            self.links.append((self.text.strip(), self.href))
            self.href = None
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
for text, href in p.links:
    print("%s\t%s" % (text, urllib.parse.urljoin("/list/", href)))
EOF
names=$(cut -f1 "$T/links" | grep -v '^\.\./\?$\|^Parent' | sed 's,/$,,')
is "$(printf '%s\n' "$names" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" "$VISIBLE" \
    "the listing links exactly the visible entries (no dotfiles)"
files=$(printf '%s\n' "$names" | grep -E '^(alpha|beta|gamma|zeta)\.txt$' | tr '\n' ' ')
is "$files" "alpha.txt beta.txt gamma.txt zeta.txt " "the listing is sorted by name"
is "$(grep -c '^<b>&"x".txt	/list/%3Cb%3E%26%22x%22\.txt$' "$T/links")" 1 \
    "the escaped name links to its percent-encoded href"
is "$(grep '^sub/\?	' "$T/links" | cut -f2)" "/list/sub/" "a subdirectory links with a trailing slash"

# every link works (no redirect, no 404)
bad=""
while IFS=$'\t' read -r _ href; do
    c=$(status "$href")
    [ "$c" = 200 ] || bad="$bad $href=$c"
done <"$T/links"
is "$bad" "" "every link in the listing answers 200"
is "$(body '/list/%3Cb%3E%26%22x%22.txt')" esc "the file with the odd name is served from its href"

# sizes and dates, found in the row of each file
row() { python3 -c '
import sys, re
h = open(sys.argv[1], encoding="utf-8").read()
for r in re.split(r"(?i)<tr[ >]|\n", h):
    if sys.argv[2] in r:
        print(re.sub(r"<[^>]*>", " ", r)); break' "$T/list.html" "$1"; }
like "$(row 'sized.txt')" '(^|[^0-9.])500([^0-9]|$)' "the listing shows the size of a 500-byte file"
like "$(row 'big.bin')" '3145728|3(\.0+)? ?(MiB|M|MB)([^a-z]|$)' "the listing shows the size of a 3 MiB file"
like "$(row 'dated.txt')" '2020-01-02|0?2[ -]Jan[ -]2020|Jan 0?2,? 2020' "the listing shows the file's date"

# JSON
h=$(headers /list/ -H 'Accept: application/json')
like "$(printf %s "$h" | header_value Content-Type)" '^application/json(; *charset=utf-8)?$' \
    "with Accept: application/json the listing is application/json"
body /list/ -H 'Accept: application/json' >"$T/list.json"
json=$(python3 - "$T/list.json" <<'EOF' 2>&1
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
if isinstance(d, dict):
    lists = [v for v in d.values() if isinstance(v, list)]
    if len(lists) != 1:
        print("want exactly one list of entries in %r" % list(d)); sys.exit()
    d = lists[0]
out = []
for e in d:
    name = e["name"].rstrip("/")
    extra = ""
    if name == "sized.txt":
        extra = "=500" if 500 in e.values() else "=size?%r" % e
    if name == "big.bin":
        extra = "=3145728" if 3145728 in e.values() else "=size?%r" % e
    out.append(name + extra)
print(" ".join(out))
EOF
)
jnames=$(printf '%s' "$json" | tr ' ' '\n' | sed 's/=.*//')
is "$(printf '%s\n' "$jnames" | grep -E '^(alpha|beta|gamma|zeta)\.txt$' | tr '\n' ' ')" \
    "alpha.txt beta.txt gamma.txt zeta.txt " "the JSON listing parses and is sorted by name"
like " $json " ' sized\.txt=500 ' "the JSON listing gives the size of sized.txt (500)"
like " $json " ' big\.bin=3145728 ' "the JSON listing gives the size of big.bin (3145728)"
is "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
if isinstance(d, dict):
    d = [v for v in d.values() if isinstance(v, list)][0]
print(" ".join(sorted(e["name"].rstrip("/") for e in d)))' "$T/list.json" 2>&1)" "$VISIBLE" \
    "the JSON listing has exactly the visible entries, names unmangled (no dotfiles)"

is "$(status /list/sub/)" 200 "a subdirectory is listed too"
like "$(body /list/sub/)" 'inner\.txt' "... with its file"

stop_pid "$WPID"

# ---- browse off (default) ---------------------------------------------------------------
start_wharf --root "$W"
c=$(status /list/)
like "$c" '^(403|404)$' "browse off: a directory without an index file is 403 or 404"
b=$(body /list/)
unlike "$b" 'alpha\.txt|zeta\.txt|sized\.txt' "browse off: the error page lists no file"
like "$(headers /list/ | header_value Content-Type)" '^text/html' "browse off: the error is an HTML page"
is "$(headers /list/ -H 'Accept: application/json' | header_value Content-Type | cut -d';' -f1)" \
    application/json "browse off with Accept: application/json: the error is JSON"
unlike "$(body /list/ -H 'Accept: application/json')" 'alpha\.txt' "... which lists no file"
is "$(body /i1/)" "i1 index.html" "browse off: index files are still served"
is "$(headers '/list?x=1' | code)" 301 "browse off: the slash redirect still applies"
like "$(headers '/list?x=1' | header_value Location)" '/list/\?x=1$' "... keeping the query"
stop_pid "$WPID"

# ---- config file: index = and browse = ------------------------------------------------
PORT=$(free_port)
cat >"$T/on.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site main]
root = $W
index = home.html start.html
browse = on
EOF
start_wharf_ini "$T/on.ini"
is "$(body /i5/)" "i5 home.html" "index = home.html start.html: home.html is served first"
rm "$W/i5/home.html"
is "$(body /i5/)" "i5 start.html" "index = home.html start.html: then start.html"
is "$(status /i1/)" 200 "with a custom index list, a directory with only default names is 200"
like "$(body /i1/)" 'href="index\.html"' "... and is listed (browse = on), index.html not served"
unlike "$(body /i1/)" '^i1 index\.html$' "... not served as its index.html"
is "$(status /list/)" 200 "browse = on lists directories"
stop_pid "$WPID"

PORT=$(free_port)
cat >"$T/off.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site main]
root = $W
browse = off
EOF
start_wharf_ini "$T/off.ini"
like "$(status /list/)" '^(403|404)$' "browse = off: a directory without an index file is 403 or 404"
is "$(body /i1/)" "i1 index.html" "browse = off: index.html is served (default index list)"

finish
