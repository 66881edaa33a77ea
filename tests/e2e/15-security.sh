#!/usr/bin/env bash
# Path safety: percent-decoding once, NUL, "."/".." resolution, every traversal spelling we
# know, the symlink policy (follow_symlinks = inside|on|off), hidden dotfiles and dot
# directories, and the shape of error responses (small, HTML or JSON, no server paths).
. "$(dirname "$0")/lib.sh"

# ---- fixture: a docroot with a secret file OUTSIDE it -------------------------------------
SECRET="OUTSIDE-SECRET-$$-$RANDOM$RANDOM"
OUTDIR_SECRET="OUTDIR-SECRET-$$-$RANDOM$RANDOM"
DOT_SECRET="DOT-SECRET-$$-$RANDOM$RANDOM"
W=$T/www
mkdir -p "$W/sub" "$W/.git" "$W/.well-known" "$W/sub/.hidden" "$T/outside"
printf '%s\n' "$SECRET" >"$T/secret.txt"
printf '%s\n' "$OUTDIR_SECRET" >"$T/outside/out.txt"
printf 'index\n' >"$W/index.html"
printf 'hello inside\n' >"$W/hello.txt"
printf 'sub page\n' >"$W/sub/page.txt"
printf 'decoded once: A\n' >"$W/A.txt"
printf 'literal percent name\n' >"$W/%41.txt"
printf '%s env\n' "$DOT_SECRET" >"$W/.env"
printf '%s gitconfig\n' "$DOT_SECRET" >"$W/.git/config"
printf '%s githead\n' "$DOT_SECRET" >"$W/.git/HEAD"
printf '%s htaccess\n' "$DOT_SECRET" >"$W/sub/.htaccess"
printf '%s wellknown\n' "$DOT_SECRET" >"$W/.well-known/security.txt"
printf '%s nested\n' "$DOT_SECRET" >"$W/sub/.hidden/file.txt"
ln -s hello.txt "$W/link-in.txt"                 # inside -> inside file
ln -s ../hello.txt "$W/sub/link-up.txt"          # inside, through the parent directory
ln -s ../secret.txt "$W/link-out.txt"            # relative link to the outside file
ln -s "$T/secret.txt" "$W/link-out-abs.txt"      # absolute link to the outside file
ln -s .git/config "$W/link-git"                  # inside, but into a dot directory
ln -s ../outside "$W/outdir"                     # a directory link pointing outside
ln -s sub "$W/insidedir"                         # a directory link pointing inside

# rget TARGET [EXTRA-HEADER-LINES]: raw GET (byte-exact target), whole response on stdout
rget() { raw "GET $1 HTTP/1.1\r\nHost: localhost\r\n${2:-}Connection: close\r\n\r\n"; }
code_of() { printf '%s' "$1" | head -1 | tr -d '\r' | cut -d' ' -f2; }
body_of() { printf '%s' "$1" | tr -d '\r' | sed '1,/^$/d'; }
hdr_of() { printf '%s' "$1" | tr -d '\r' | sed '/^$/q' | header_value "$2"; }

start_wharf --root "$W"
P_DEFAULT=$PORT
PID_DEFAULT=$WPID

# ---- sanity: the fixture is served, "." and ".." resolve inside the root ---------------------
is "$(body /hello.txt)" "hello inside" "a plain file inside the root is served"
is "$(body /sub/../hello.txt)" "hello inside" "/sub/../hello.txt resolves to /hello.txt"
is "$(body /./sub/./page.txt)" "sub page" "/./sub/./page.txt resolves to /sub/page.txt"
is "$(body /sub/%2e%2e/hello.txt)" "hello inside" "/sub/%2e%2e/hello.txt (encoded dots) resolves inside the root"

# ---- percent-decoding happens exactly once ---------------------------------------------------
is "$(body /%41.txt)" "decoded once: A" "/%41.txt is decoded to /A.txt"
is "$(body /%2541.txt)" "literal percent name" "/%2541.txt is decoded once, to the file named '%41.txt'"
is "$(status /%252e%252e/hello.txt)" 404 "/%252e%252e/hello.txt names a directory literally called '%2e%2e' (404), not '..'"

# ---- traversal: no spelling reaches the secret outside the root -----------------------------
traversal=(
    '/../secret.txt'
    '/sub/../../secret.txt'
    '/./../secret.txt'
    '/%2e%2e/secret.txt'
    '/%2E%2E/secret.txt'
    '/.%2e/secret.txt'
    '/%2e./secret.txt'
    '/sub/%2e%2e/%2e%2e/secret.txt'
    '/..%2fsecret.txt'
    '/..%2Fsecret.txt'
    '/%2e%2e%2fsecret.txt'
    '/sub%2f..%2f..%2fsecret.txt'
    '/%2f..%2fsecret.txt'
    '/..%5csecret.txt'
    '/%5c..%5csecret.txt'
    '/sub%5c..%5c..%5csecret.txt'
    '/..\\secret.txt'
    '/\\..\\secret.txt'
    '/%252e%252e%252fsecret.txt'
    '/%252e%252e/secret.txt'
    '/..%252fsecret.txt'
    '/%c0%ae%c0%ae/secret.txt'
    '/%c0%ae%c0%ae%c0%afsecret.txt'
    '/%e0%80%ae%e0%80%ae/secret.txt'
    '/%u002e%u002e/secret.txt'
    '/..;/secret.txt'
    '/sub/..;/..;/secret.txt'
    '/.;/../secret.txt'
    '/;/../secret.txt'
    '/sub;/../../secret.txt'
    '//../secret.txt'
    '/sub//../../secret.txt'
    '/....//secret.txt'
    '/.../secret.txt'
    '/../secret.txt?x=1'
    '/../secret.txt#frag'
    "/$T/secret.txt"
    "//$T/secret.txt"
    '../secret.txt'
    'http://x/../secret.txt'
    'http://x/../../secret.txt'
    'http://x/%2e%2e/secret.txt'
    'http://x/..%2fsecret.txt'
    'http://localhost/sub/../../secret.txt'
)
for tgt in "${traversal[@]}"; do
    resp=$(rget "$tgt")
    like "$(code_of "$resp")" '^[345][0-9][0-9]$' "traversal 'GET $tgt' gets a non-2xx status"
    unlike "$resp" "$SECRET" "traversal 'GET $tgt' never returns the outside file"
    unlike "$resp" "$T" "traversal 'GET $tgt' does not reveal a server path"
done

# ---- NUL, raw or encoded: 400 -----------------------------------------------------------------
for tgt in '/a%00.txt' '/hello.txt%00.png' '/..%00/secret.txt' '/%00'; do
    is "$(code_of "$(rget "$tgt")")" 400 "NUL: 'GET $tgt' is 400"
done
is "$(code_of "$(raw 'GET /a\x00.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')")" \
    400 "NUL: a raw NUL byte in the request target is 400"
is "$(code_of "$(raw 'GET /hello.txt\x00 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')")" \
    400 "NUL: a raw NUL byte after an existing file name is 400"
is "$(body /hello.txt)" "hello inside" "the server still serves after NUL requests"

# ---- dotfiles and dot directories: 404, however spelled ---------------------------------------
dotfiles=(
    '/.env'
    '/./.env'
    '/sub/../.env'
    '/sub/..%2f.env'
    '/%2eenv'
    '/%2Eenv'
    '/.git/config'
    '/.git/HEAD'
    '/.git/'
    '/.git'
    '/%2egit/config'
    '/%2Egit/HEAD'
    '/.git%2fconfig'
    '/.git%2Fconfig'
    '/.git%5cconfig'
    '/sub/.htaccess'
    '/sub/%2ehtaccess'
    '/sub/./.htaccess'
    '/sub/.hidden/file.txt'
    '/sub/%2ehidden/file.txt'
    '/.well-known/security.txt'
    '/.well-known/'
    '/.git/../.env'
    '/.env?x=1'
    'http://localhost/.env'
    'http://localhost/.git/config'
)
for tgt in "${dotfiles[@]}"; do
    resp=$(rget "$tgt")
    is "$(code_of "$resp")" 404 "dotfile: 'GET $tgt' is 404"
    unlike "$resp" "$DOT_SECRET" "dotfile: 'GET $tgt' does not return hidden content"
done
resp=$(raw 'HEAD /.env HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
is "$(code_of "$resp")" 404 "dotfile: HEAD /.env is 404 too"

# ---- symlinks, default policy (inside) ----------------------------------------------------------
is "$(status /link-in.txt)" 200 "symlink (default inside): a link to a file inside the root is served"
is "$(body /link-in.txt)" "hello inside" "symlink (default inside): ... with the target's content"
is "$(body /sub/link-up.txt)" "hello inside" "symlink (default inside): ../hello.txt from a subdirectory is served"
is "$(body /insidedir/page.txt)" "sub page" "symlink (default inside): a directory link pointing inside is followed"
for tgt in /link-out.txt /link-out-abs.txt /outdir/out.txt /outdir/ /link-git; do
    resp=$(rget "$tgt")
    is "$(code_of "$resp")" 404 "symlink (default inside): 'GET $tgt' (resolves outside or into a dot dir) is 404"
    unlike "$resp" "$SECRET|$OUTDIR_SECRET|$DOT_SECRET" "symlink (default inside): 'GET $tgt' leaks nothing"
done

# ---- symlinks, explicit follow_symlinks = inside / on / off ---------------------------------
ini_site() { # ini_site FILE POLICY: a one-site config on a fresh $PORT
    PORT=$(free_port)
    cat >"$1" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site main]
root = $W
follow_symlinks = $2
EOF
}

ini_site "$T/inside.ini" inside
start_wharf_ini "$T/inside.ini"
is "$(status /link-in.txt)" 200 "follow_symlinks = inside: an inside link is served"
is "$(status /link-out.txt)" 404 "follow_symlinks = inside: a link to an outside file is 404"
is "$(status /outdir/out.txt)" 404 "follow_symlinks = inside: a directory link pointing outside is 404"

ini_site "$T/on.ini" on
start_wharf_ini "$T/on.ini"
is "$(body /link-out.txt)" "$SECRET" "follow_symlinks = on: a link to an outside file is served"
is "$(body /link-out-abs.txt)" "$SECRET" "follow_symlinks = on: an absolute link to an outside file is served"
is "$(body /outdir/out.txt)" "$OUTDIR_SECRET" "follow_symlinks = on: a directory link pointing outside is followed"
is "$(body /link-in.txt)" "hello inside" "follow_symlinks = on: an inside link is served"
resp=$(rget /link-git)
is "$(code_of "$resp")" 404 "follow_symlinks = on: a link into .git/ is still 404"
unlike "$resp" "$DOT_SECRET" "follow_symlinks = on: a link into .git/ leaks nothing"
resp=$(rget /../secret.txt)
unlike "$resp" "$SECRET" "follow_symlinks = on: /../secret.txt still never leaves the root"

ini_site "$T/off.ini" off
start_wharf_ini "$T/off.ini"
is "$(status /hello.txt)" 200 "follow_symlinks = off: a regular file is served"
is "$(status /link-in.txt)" 404 "follow_symlinks = off: even an inside link is 404"
is "$(status /sub/link-up.txt)" 404 "follow_symlinks = off: an inside link in a subdirectory is 404"
is "$(status /insidedir/page.txt)" 404 "follow_symlinks = off: a directory link pointing inside is 404"
is "$(status /link-out.txt)" 404 "follow_symlinks = off: a link to an outside file is 404"
is "$(status /outdir/out.txt)" 404 "follow_symlinks = off: a directory link pointing outside is 404"

# ---- error responses: small, consistent, HTML or JSON, no server paths ----------------------
PORT=$P_DEFAULT
resp404=$(rget /no-such-file.txt)
resp400=$(rget /a%00.txt)
is "$(code_of "$resp404")" 404 "error page: a missing file is 404"
like "$(hdr_of "$resp404" Content-Type)" '^text/html' "error page: 404 is HTML by default"
like "$(hdr_of "$resp400" Content-Type)" '^text/html' "error page: 400 is HTML by default (consistent with 404)"
like "$(body_of "$resp404")" '404' "error page: the 404 page names its status"
like "$(body_of "$resp400")" '400' "error page: the 400 page names its status"
n=$(body_of "$resp404" | wc -c)
ok "$((n > 0 && n <= 4096 ? 0 : 1))" "error page: the 404 page is small (0 < $n <= 4096 bytes)"
is "$(curl -s -o /dev/null -w '%{size_download}' "$(URL /no-such-file.txt)")" "$(hdr_of "$resp404" Content-Length)" \
    "error page: Content-Length matches the body"
for r in "$resp404" "$resp400"; do
    unlike "$r" "$T|/tmp/|\\.c:[0-9]|Traceback|backtrace|errno" \
        "error page $(code_of "$r"): no server path, source location or trace"
done
json404=$(rget /no-such-file.txt 'Accept: application/json\r\n')
is "$(code_of "$json404")" 404 "error page (JSON): status stays 404"
like "$(hdr_of "$json404" Content-Type)" '^application/json' "error page (JSON): Content-Type is application/json when asked"
body_of "$json404" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "404" in json.dumps(d)' 2>/dev/null
ok $? "error page (JSON): the body is valid JSON naming 404"
json400=$(rget /a%00.txt 'Accept: application/json\r\n')
body_of "$json400" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "400" in json.dumps(d)' 2>/dev/null
ok $? "error page (JSON): a 400 is valid JSON naming 400"
resp=$(rget /.git/config)
like "$(hdr_of "$resp" Content-Type)" '^text/html' "error page: the 404 for a dotfile is the same HTML error page"
is "$(body_of "$resp")" "$(body_of "$resp404")" "error page: a hidden file's 404 is indistinguishable from a missing file's"

kill -0 "$PID_DEFAULT" 2>/dev/null
ok $? "the server is still running after all of the above"
finish
