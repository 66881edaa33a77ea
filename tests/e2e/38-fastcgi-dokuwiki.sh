#!/usr/bin/env bash
# A real PHP application through wharf and a real php-fpm: Debian's dokuwiki package, copied into
# the temp dir in Debian's layout (code = the web root; conf and data outside it, reached from
# the root only through symlinks that leave the root, as Debian's /usr/share/dokuwiki links into
# /etc and /var/lib). Pages, static assets, css.php/js.php, login with sectok, editing (also a
# request body over 64 KiB), logout, ACL for anonymous users, and that conf/, data/ and inc/ are
# never served as text.
. "$(dirname "$0")/lib.sh"

DW=/usr/share/dokuwiki
[ -f "$DW/doku.php" ] || skip_all "dokuwiki is not installed ($DW missing; apt-get install dokuwiki)"
[ -f /etc/dokuwiki/dokuwiki.php ] || skip_all "dokuwiki is not installed (/etc/dokuwiki/dokuwiki.php missing)"
command -v php >/dev/null || skip_all "php (CLI) is not installed"

# ---- a self-contained writable copy ------------------------------------------------------------
WIKI="$T/dokuwiki" # the web root
CONF="$T/conf"     # Debian: /etc/dokuwiki
DATA="$T/data"     # Debian: /var/lib/dokuwiki/data
# -L resolves Debian's lib/plugins and lib/tpl symlinks into /var/lib/dokuwiki/lib. lib/plugins/
# testing (DokuWiki's unit-test plugin, disabled) is root-only and not needed.
cp -aL "$DW" "$WIKI" 2>/dev/null
rm -rf "$WIKI/lib/plugins/testing"
for f in doku.php index.php lib/exe/css.php lib/exe/js.php lib/tpl/dokuwiki/main.php \
    lib/tpl/dokuwiki/images/logo.png lib/plugins/authplain/auth.php; do
    [ -f "$WIKI/$f" ] || bail "copy of $DW is incomplete: $f missing"
done
mkdir -p "$CONF" "$DATA" "$T/sessions" "$T/resp"
for f in /etc/dokuwiki/*; do # the symlinks (acl.auth.php, users.auth.php) are written below
    [ -L "$f" ] || cp -a "$f" "$CONF/"
done
for d in attic cache index locks log media media_attic media_meta meta pages tmp; do
    mkdir -p "$DATA/$d"
done
# Debian's inc/preload.php points DOKU_CONF at /etc/dokuwiki/; point it at the copy.
printf '<?php\nif (!defined("DOKU_CONF")) define("DOKU_CONF", "%s/");\n' "$CONF" >"$WIKI/inc/preload.php"
cat >"$CONF/local.php" <<EOF
<?php
\$conf['title'] = 'Wharf Test Wiki';
\$conf['savedir'] = '$DATA';
\$conf['useacl'] = 1;
\$conf['superuser'] = '@admin';
\$conf['dnslookups'] = 0;
\$conf['updatecheck'] = 0;
\$conf['send404'] = 1;
EOF
HASH=$(php -r 'echo password_hash("secret", PASSWORD_BCRYPT);')
case $HASH in '$2y$'*) ;; *) bail "php password_hash failed" ;; esac
printf '# users.auth.php\n# <?php exit()?>\n# Do not modify the lines above\ntester:%s:Wharf Tester:tester@example.invalid:user\n' \
    "$HASH" >"$CONF/users.auth.php"
printf '# acl.auth.php\n# <?php exit()?>\n*\t@ALL\t1\n*\t@user\t4\n' >"$CONF/acl.auth.php"
printf '====== Wharf start ======\n\nStart page marker startmark5c1e\n' >"$DATA/pages/start.txt"
# Symlinks out of the root, like Debian's: wharf (follow_symlinks = inside) must not follow them.
ln -s ../data "$WIKI/data"
ln -s ../conf "$WIKI/conf"

start_fpm wiki "$T/fpm.sock" "php_admin_value[session.save_path] = $T/sessions"
PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site wiki]
root = $WIKI
fastcgi = unix:$T/fpm.sock
fastcgi_preset = php
browse = off
EOF
start_wharf_ini "$T/wharf.ini"

# ---- helpers -------------------------------------------------------------------------------------
JAR="$T/cookies.txt"
# req NAME PATH [curl args]: body to $T/resp/NAME.body, headers (no CRs) to NAME.hdr; prints the
# status. Cookies: $CJAR if set, else $JAR.
req() {
    local name=$1 path=$2 jar=${CJAR:-$JAR}
    shift 2
    curl -s --path-as-is -c "$jar" -b "$jar" -D "$T/resp/$name.hdr" -o "$T/resp/$name.body" \
        -w '%{http_code}' "$@" "$(URL "$path")"
    sed -i 's/\r$//' "$T/resp/$name.hdr"
}
hdr() { header_value "$2" <"$T/resp/$1.hdr"; }
rbody() { cat "$T/resp/$1.body"; }
has() { grep -qF -- "$2" "$T/resp/$1.body"; } # has NAME FIXED-STRING

cat >"$T/form.py" <<'EOF'
# form.py FILE FORM-ID: the form's action, then its hidden inputs as NAME=VALUE lines
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(s, fid):
        super().__init__(); s.fid = fid; s.on = False; s.action = None; s.fields = []
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "form" and a.get("id") == s.fid:
            s.on = True; s.action = a.get("action")
        elif s.on and tag == "input" and a.get("type") == "hidden":
            s.fields.append((a.get("name"), a.get("value") or ""))
    def handle_endtag(s, tag):
        if tag == "form": s.on = False
p = P(sys.argv[2]); p.feed(open(sys.argv[1], encoding="utf-8").read())
if p.action is None: sys.exit(1)
print(p.action)
for n, v in p.fields: print(n + "=" + v)
EOF
# submit NAME FROM-NAME FORM-ID [curl args]: POST the form's hidden fields (form-urlencoded) plus
# the extra args to the form's action; prints the status (000 when the form is missing).
submit() {
    local name=$1 from=$2 fid=$3 action l args=()
    shift 3
    { read -r action && while IFS= read -r l; do args+=(--data-urlencode "$l"); done; } \
        < <(python3 "$T/form.py" "$T/resp/$from.body" "$fid")
    [ -n "${action:-}" ] || { printf 000; return; }
    req "$name" "$action" "${args[@]}" "$@"
}
field() { python3 "$T/form.py" "$T/resp/$1.body" "$2" | sed -n "s/^$3=//p" | head -1; }

ORIGIN="http://127.0.0.1:$PORT"

# ---- pages --------------------------------------------------------------------------------------
is "$(req root /)" 302 "GET / runs index.php, which redirects: 302"
is "$(hdr root Location)" "/doku.php?id=start" "GET / redirects to /doku.php?id=start (PHP's Status kept, not a local redirect)"
is "$(req home /doku.php)" 200 "GET /doku.php is 200"
is "$(hdr home Content-Type)" "text/html; charset=utf-8" "GET /doku.php is text/html; charset=utf-8"
like "$(rbody home)" '<title>start \[Wharf Test Wiki\]</title>' "GET /doku.php: the title names the wiki (conf/local.php read)"
has home startmark5c1e
ok $? "GET /doku.php renders data/pages/start.txt from the copy's savedir"
is "$(req start '/doku.php?id=start')" 200 "GET /doku.php?id=start is 200"
has start startmark5c1e
ok $? "GET /doku.php?id=start renders the start page"
is "$(req missing '/doku.php?id=no:such:page')" 404 "a wiki page that does not exist (send404 on): PHP's 404 passes through"
like "$(rbody missing)" 'This topic does not exist yet' "the missing page is DokuWiki's own page"

# ---- static assets and the asset dispatchers -----------------------------------------------------
is "$(req css '/lib/exe/css.php?t=dokuwiki')" 200 "GET lib/exe/css.php is 200"
like "$(hdr css Content-Type)" '^text/css(;|$)' "lib/exe/css.php is text/css"
like "$(head -c 200 "$T/resp/css.body")" '^@media screen\{' "lib/exe/css.php returns the compiled stylesheet"
is "$(req js '/lib/exe/js.php?t=dokuwiki')" 200 "GET lib/exe/js.php is 200"
like "$(hdr js Content-Type)" '^(application|text)/javascript(;|$)' "lib/exe/js.php is JavaScript"
like "$(head -c 100 "$T/resp/js.body")" "^var DOKU_BASE='/';" "lib/exe/js.php computes DOKU_BASE '/' from SCRIPT_NAME"
is "$(req logo /lib/tpl/dokuwiki/images/logo.png)" 200 "GET lib/tpl/dokuwiki/images/logo.png is 200"
is "$(hdr logo Content-Type)" "image/png" "logo.png is served as image/png"
ETAG=$(hdr logo ETag)
like "$ETAG" '^(W/)?"[^"]+"$' "logo.png has an ETag"
is "$(sha256sum <"$T/resp/logo.body" | cut -d' ' -f1)" "$(sha256sum <"$WIKI/lib/tpl/dokuwiki/images/logo.png" | cut -d' ' -f1)" \
    "logo.png body is the file, byte for byte"
is "$(req logo304 /lib/tpl/dokuwiki/images/logo.png -H "If-None-Match: $ETAG")" 304 "logo.png with If-None-Match: its ETag is 304"

# ---- what Apache's .htaccess files protect: data/, conf/, inc/ ----------------------------------
like "$(req datapage /data/pages/start.txt)" '^(403|404)$' "data/pages/start.txt (symlink out of the root) is 403/404"
has datapage startmark5c1e
ok $((!$?)) "data/pages/start.txt: the page source is not served"
like "$(req datadir /data/)" '^(403|404)$' "data/ is 403/404"
like "$(req users /conf/users.auth.php)" '^(403|404)$' "conf/users.auth.php (symlink out of the root) is 403/404, not run"
has users tester
ok $((!$?)) "conf/users.auth.php: no user line in the answer"
like "$(req localphp /conf/local.php)" '^(403|404)$' "conf/local.php is 403/404"
is "$(req preload /inc/preload.php)" 200 "inc/preload.php is run by PHP: 200"
is "$(rbody preload)" "" "inc/preload.php runs (empty output), its source is never sent"
is "$(req htaccess /.htaccess)" 404 "the copied /.htaccess is 404 (dot file)"

# ---- login ----------------------------------------------------------------------------------------
is "$(req loginform '/doku.php?id=start&do=login')" 200 "GET ?do=login is 200"
python3 "$T/form.py" "$T/resp/loginform.body" dw__login >/dev/null
ok $? "?do=login has the login form (dw__login)"
is "$(CJAR="$T/cookies-bad.txt" submit badlogin loginform dw__login --data-urlencode u=tester --data-urlencode p=wrong)" 403 \
    "POST login with a wrong password is 403"
has badlogin 'Sorry, username or password was wrong.'
ok $? "a wrong password says so"
is "$(submit login loginform dw__login --data-urlencode u=tester --data-urlencode p=secret)" 302 "POST login u/p/sectok is 302"
is "$(hdr login Location)" "$ORIGIN/doku.php?id=start" "after login DokuWiki redirects to the page (absolute URL from Host)"
grep -qE $'\tDW[0-9a-f]+\tdGVzdGVy' "$JAR" # the auth cookie: base64("tester")|...
ok $? "after login the auth cookie for tester is set"
is "$(req afterlogin '/doku.php?id=start')" 200 "the next page is 200"
has afterlogin 'Logged in as: <bdi>Wharf Tester</bdi> (<bdi>tester</bdi>)'
ok $? "the next page shows 'Logged in as: Wharf Tester (tester)'"
has afterlogin '&amp;do=logout&amp;sectok='
ok $? "the next page has the logout link"

# ---- edit -------------------------------------------------------------------------------------------
MARK=wharfmark7f3a91
is "$(req editform '/doku.php?id=playground:test&do=edit')" 200 "GET ?id=playground:test&do=edit is 200"
like "$(field editform dw__editform sectok)" '^[0-9a-f]{32}$' "the edit form carries a sectok"
grep -o '<textarea[^>]*>' "$T/resp/editform.body" | grep -q readonly
ok $((!$?)) "the edit form's textarea is writable for tester"
is "$(submit save editform dw__editform --data-urlencode "wikitext=Hello from wharf test $MARK" \
    --data-urlencode "summary=e2e" --data-urlencode "do[save]=1")" 302 "POST do[save] is 302"
is "$(hdr save Location)" "$ORIGIN/doku.php?id=playground:test" "after saving DokuWiki redirects to the page"
is "$(cat "$DATA/pages/playground/test.txt" 2>&1)" "Hello from wharf test $MARK" \
    "data/pages/playground/test.txt holds the posted wikitext"
is "$(req page '/doku.php?id=playground:test')" 200 "GET ?id=playground:test is 200"
has page "Hello from wharf test $MARK"
ok $? "GET ?id=playground:test shows the marker"

# a request body over 64 KiB (wharf buffers it in a temp file) arrives intact
python3 -c '
import sys
sys.stdout.write("\n".join("Line %04d of the big page, padded so that the request body exceeds 64 KiB." % i for i in range(3000)))' >"$T/big.txt"
is "$(req bigform '/doku.php?id=playground:big&do=edit')" 200 "GET ?id=playground:big&do=edit is 200"
is "$(submit bigsave bigform dw__editform --data-urlencode "wikitext@$T/big.txt" --data-urlencode "do[save]=1")" 302 \
    "POST do[save] with a 222 KB wikitext is 302"
is "$(sha256sum <"$DATA/pages/playground/big.txt" 2>&1 | cut -d' ' -f1)" "$(sha256sum <"$T/big.txt" | cut -d' ' -f1)" \
    "data/pages/playground/big.txt is the posted 222 KB text, byte for byte"

# ---- logout -----------------------------------------------------------------------------------------
LOGOUT=$(grep -oE 'href="[^"]*do=logout[^"]*"' "$T/resp/page.body" | head -1 | sed 's/^href="//; s/"$//; s/&amp;/\&/g')
like "$LOGOUT" '^/doku\.php\?id=playground:test&do=logout&sectok=[0-9a-f]{32}$' "the logout link carries the sectok"
is "$(req logout "$LOGOUT")" 302 "GET the logout link is 302"
is "$(hdr logout Location)" "$ORIGIN/doku.php?id=playground:test&do=login" "logout redirects to the login page"
is "$(req afterlogout '/doku.php?id=start')" 200 "after logout the start page is 200"
has afterlogout 'Logged in as'
ok $((!$?)) "after logout nobody is logged in"
has afterlogout '&amp;do=login&amp;sectok='
ok $? "after logout the page has the login link"
grep -qE $'\tDW[0-9a-f]+\t' "$JAR"
ok $((!$?)) "after logout the auth cookie is gone"

# anonymous users may read but not edit (acl.auth.php: @ALL 1)
is "$(req anonform '/doku.php?id=playground:test&do=edit')" 200 "anonymous ?do=edit is 200 (view source)"
grep -o '<textarea[^>]*>' "$T/resp/anonform.body" | grep -q 'readonly="readonly"'
ok $? "anonymous ?do=edit shows a read-only textarea"
submit anonsave editform dw__editform --data-urlencode "wikitext=anonymous change" --data-urlencode "do[save]=1" >/dev/null
is "$(cat "$DATA/pages/playground/test.txt" 2>&1)" "Hello from wharf test $MARK" \
    "an anonymous POST do[save] (stale sectok) does not change the page"

# ---- the password hash never left the server --------------------------------------------------------
grep -rlF -- "$HASH" "$T/resp" >/dev/null
ok $((!$?)) "the password hash appears in no response"

finish
