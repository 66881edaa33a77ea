#!/usr/bin/env bash
# The real WordPress (Debian's package, 6.1.x) behind wharf with `fastcgi_preset = wordpress` and
# `gzip = on`, a real php-fpm and a private MariaDB (its own datadir and socket in the temp dir,
# no network). What WordPress users hit:
#  - the install flow over HTTP (wp-admin/install.php?step=2), login, wp-admin, a comment, REST
#    (GET, an authenticated POST, a media upload served back statically, a UTF-8 slug), Site
#    Health's loopback and Authorization-header checks, HEAD of a page;
#  - pretty permalinks out of the box: got_url_rewrite() is true (SERVER_SOFTWARE names nginx),
#    the install's own loopback probe enables them, /%postname%/ set through Settings → Permalinks
#    serves /hello-world/ (200) and WordPress's 404 for a missing slug;
#  - gzip of WordPress's HTML and of wp-admin/load-scripts.php's JavaScript;
#  - loopback requests (wp_remote_get of the site, Site Health's loopback test) from six
#    concurrent PHP requests, each answered quickly.
# WordPress and MariaDB come from wp-lib.sh.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/wp-lib.sh"

# A self-contained writable copy with our own wp-config.php (Debian's reads /etc/wordpress/).
WP="$T/wp"
cp -rL "$SRC" "$WP" || bail "copying $SRC failed"
[ -f "$WP/wp-content/themes/twentytwentythree/theme.json" ] || bail "the twentytwentythree theme is missing from the copy"
[ -s "$WP/wp-includes/js/underscore.min.js" ] || bail "wp-includes/js/underscore.min.js did not resolve"
WPVER=$(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" "$WP/wp-includes/version.php")
echo "# WordPress $WPVER (Debian package $VER)"

wp_start_db

cat >"$WP/wp-config.php" <<EOF
<?php
define('DB_NAME', 'wp');
define('DB_USER', 'wp');
define('DB_PASSWORD', 'wp-db-pass');
define('DB_HOST', 'localhost:$DBSOCK');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('AUTH_KEY', 'wharf-test-auth-key-0123456789abcdef');
define('SECURE_AUTH_KEY', 'wharf-test-secure-auth-key-0123456789');
define('LOGGED_IN_KEY', 'wharf-test-logged-in-key-0123456789ab');
define('NONCE_KEY', 'wharf-test-nonce-key-0123456789abcdef');
define('AUTH_SALT', 'wharf-test-auth-salt-0123456789abcdef');
define('SECURE_AUTH_SALT', 'wharf-test-secure-auth-salt-012345678');
define('LOGGED_IN_SALT', 'wharf-test-logged-in-salt-0123456789a');
define('NONCE_SALT', 'wharf-test-nonce-salt-0123456789abcdef');
\$table_prefix = 'wp_';
define('WP_DEBUG', false);
// No requests to wordpress.org (version checks, translations): only the site itself is reachable.
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
// wp-cron's own loopback on every page would add requests the counts below do not expect.
define('DISABLE_WP_CRON', true);
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
EOF

# A probe in the site: what WordPress itself decides (?what=rewrite), and the loopback requests
# plugins and Site Health make (?what=loopback): "HOME-STATUS SITE-HEALTH-STATUS MS".
cat >"$WP/wharf-probe.php" <<'EOF'
<?php
require __DIR__ . '/wp-load.php';
header('Content-Type: text/plain');
header('Cache-Control: no-store');
if (($_GET['what'] ?? '') === 'rewrite') {
    require_once ABSPATH . 'wp-admin/includes/misc.php'; // got_url_rewrite()
    echo got_url_rewrite() ? 'yes' : 'no', ' ', $_SERVER['SERVER_SOFTWARE'], "\n";
    exit;
}
$t = microtime(true);
$r = wp_remote_get(home_url('/'), array('timeout' => 10));
$home = is_wp_error($r) ? 'error:' . $r->get_error_code() : (string) wp_remote_retrieve_response_code($r);
require_once ABSPATH . 'wp-admin/includes/class-wp-site-health.php';
$h = WP_Site_Health::get_instance()->can_perform_loopback();
printf("%s %s %d\n", $home, $h->status, (int) round((microtime(true) - $t) * 1000));
EOF

start_fpm wp "$T/fpm.sock" "pm.max_children = 8"
PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site wp]
root = $WP
fastcgi = unix:$T/fpm.sock
fastcgi_preset = wordpress
gzip = on
browse = off
EOF
start_wharf_ini "$T/wharf.ini"
ORIGIN="http://127.0.0.1:$PORT"

opt() { sql wp -e "SELECT option_value FROM wp_options WHERE option_name='$1'"; }

# ---- install over HTTP --------------------------------------------------------------------------------
is "$(req pre /)" 302 "GET / before the install: 302"
like "$(hdr pre Location)" '/wp-admin/install\.php$' "GET / before the install redirects to wp-admin/install.php"
is "$(req inst1 /wp-admin/install.php)" 200 "GET wp-admin/install.php is 200"
has inst1 'name="weblog_title"' || has inst1 'name="language"'
ok $? "wp-admin/install.php shows the installer"
ADMIN_PASS='Wharf-test-Pass-9c4e'
is "$(req inst2 '/wp-admin/install.php?step=2' --data-urlencode 'weblog_title=Wharf WP' \
    --data-urlencode user_name=admin --data-urlencode "admin_password=$ADMIN_PASS" \
    --data-urlencode "admin_password2=$ADMIN_PASS" --data-urlencode pw_weak=1 \
    --data-urlencode admin_email=admin@example.invalid --data-urlencode blog_public=0 \
    --data-urlencode 'Submit=Install WordPress' --data-urlencode language=)" 200 \
    "POST wp-admin/install.php?step=2 is 200"
has inst2 '<h1>Success!</h1>'
ok $? "the install says Success!"
is "$(opt siteurl)" "$ORIGIN" "siteurl guessed from the request (HTTP_HOST, SCRIPT_NAME): $ORIGIN"
is "$(opt blogname)" "Wharf WP" "the blog name is stored"
# wp_install_maybe_enable_pretty_permalinks(): a loopback GET of the first post's pretty URL must
# carry WordPress's X-Pingback header, else WordPress falls back to ?p=1 URLs.
is "$(opt permalink_structure)" '/%year%/%monthnum%/%day%/%postname%/' \
    "the install's loopback probe enabled pretty permalinks (/%year%/%monthnum%/%day%/%postname%/)"

# ---- pretty permalinks ----------------------------------------------------------------------------------
is "$(req probe '/wharf-probe.php?what=rewrite')" 200 "GET the rewrite probe is 200"
like "$(rbody probe)" '^yes wharf/[^ ]+ \(nginx-compatible\)$' "WordPress's got_url_rewrite() is true (SERVER_SOFTWARE wharf/… (nginx-compatible))"
is "$(req home /)" 200 "GET / after the install is 200"
has home 'Hello world!'
ok $? "GET / lists the Hello world! post"
is "$(req p1 '/?p=1')" 301 "GET /?p=1 is 301 (redirect_canonical to the pretty URL)"
like "$(hdr p1 Location)" "^$ORIGIN/[0-9]{4}/[0-9]{2}/[0-9]{2}/hello-world/\$" "/?p=1 redirects to /YYYY/MM/DD/hello-world/"

# ---- login, wp-admin -----------------------------------------------------------------------------------
is "$(req loginform /wp-login.php)" 200 "GET wp-login.php is 200"
grep -q $'\twordpress_test_cookie\t' "$JAR"
ok $? "wp-login.php sets wordpress_test_cookie"
is "$(CJAR="$T/cookies-bad.txt" req badlogin /wp-login.php --data-urlencode log=admin --data-urlencode pwd=wrong \
    --data-urlencode testcookie=1 -b 'wordpress_test_cookie=WP%20Cookie%20check')" 200 "POST wp-login.php with a wrong password: 200 (the form again)"
has badlogin 'login_error'
ok $? "a wrong password shows WordPress's login error"
is "$(req login /wp-login.php --data-urlencode log=admin --data-urlencode "pwd=$ADMIN_PASS" \
    --data-urlencode 'wp-submit=Log In' --data-urlencode "redirect_to=$ORIGIN/wp-admin/" --data-urlencode testcookie=1)" 302 \
    "POST wp-login.php with the password is 302"
is "$(hdr login Location)" "$ORIGIN/wp-admin/" "login redirects to wp-admin/"
grep -q $'\twordpress_logged_in_[0-9a-f]*\tadmin%7C' "$JAR"
ok $? "login sets the wordpress_logged_in_ cookie for admin"
is "$(req dash /wp-admin/)" 200 "GET wp-admin/ with the cookies is 200"
like "$(title dash)" 'Dashboard' "wp-admin/ is the Dashboard"
is "$(CJAR="$T/cookies-anon.txt" req dashanon /wp-admin/)" 302 "GET wp-admin/ without cookies is 302"
like "$(hdr dashanon Location)" "^$ORIGIN/wp-login\\.php\\?redirect_to=" "wp-admin/ without cookies redirects to wp-login.php"

# ---- Settings → Permalinks: /%postname%/ ----------------------------------------------------------------
is "$(req permform /wp-admin/options-permalink.php)" 200 "GET wp-admin/options-permalink.php is 200"
has permform 'value="/%postname%/"'
ok $? "Settings → Permalinks offers /%postname%/"
has permform '/index.php/%postname%/'
ok $((!$?)) "Settings → Permalinks offers no /index.php/ structures (got_url_rewrite())"
NONCE=$(grep -o 'name="_wpnonce" value="[0-9a-f]*"' "$T/resp/permform.body" | head -1 | sed 's/.*value="//; s/"$//')
like "$NONCE" '^[0-9a-f]{10}$' "the permalink form carries a nonce"
is "$(req permsave /wp-admin/options-permalink.php --data-urlencode "_wpnonce=$NONCE" \
    --data-urlencode _wp_http_referer=/wp-admin/options-permalink.php --data-urlencode selection=custom \
    --data-urlencode 'permalink_structure=/%postname%/' --data-urlencode category_base= --data-urlencode tag_base=)" 302 \
    "POST options-permalink.php is 302"
like "$(hdr permsave Location)" 'options-permalink\.php\?settings-updated=true$' "the permalink change redirects to settings-updated"
is "$(opt permalink_structure)" '/%postname%/' "permalink_structure is /%postname%/"
# the browser follows the redirect; that page load flushes the rewrite rules
is "$(req permdone /wp-admin/options-permalink.php?settings-updated=true)" 200 "GET options-permalink.php?settings-updated=true is 200"
has permdone 'Permalink structure updated.'
ok $? "WordPress says the permalink structure is updated (no .htaccess to write)"

CJAR="$T/cookies-anon.txt"
export CJAR
is "$(req post /hello-world/)" 200 "GET /hello-world/ is 200"
like "$(title post)" '^<title>Hello world! (&#8211;|–) Wharf WP</title>$' "/hello-world/ is the post (its title)"
grep -q '<body class="[^"]*single-post' "$T/resp/post.body"
ok $? "/hello-world/ renders the single-post template"
like "$(hdr post X-Pingback)" "^$ORIGIN/xmlrpc\\.php\$" "/hello-world/ carries WordPress's X-Pingback header"
is "$(req headpost /hello-world/ -I)" 200 "HEAD /hello-world/ is 200"
like "$(hdr headpost X-Pingback)" "^$ORIGIN/xmlrpc\\.php\$" "HEAD /hello-world/ has the GET's headers (X-Pingback)"
unlike "$(hdr headpost Content-Length)" '^0$' "HEAD /hello-world/ does not claim an empty page (Content-Length: 0)"
is "$(req missing /no-such-post-4711/)" 404 "GET /no-such-post-4711/ is 404"
grep -q '<body class="[^"]*error404' "$T/resp/missing.body"
ok $? "the missing slug is WordPress's own 404 page (body class error404)"
is "$(req p1b '/?p=1')" 301 "GET /?p=1 is 301"
is "$(hdr p1b Location)" "$ORIGIN/hello-world/" "/?p=1 now redirects to /hello-world/"
is "$(req phpdirect /index.php/hello-world/)" 301 "GET /index.php/hello-world/ (PATH_INFO) is 301"
is "$(hdr phpdirect Location)" "$ORIGIN/hello-world/" "/index.php/hello-world/ redirects to /hello-world/"
unset CJAR

# ---- gzip ------------------------------------------------------------------------------------------------
AE=(-H 'Accept-Encoding: gzip')
for page in / /hello-world/; do
    n=gz$(printf %s "$page" | tr -c 'a-z0-9' _)
    is "$(CJAR="$T/cookies-anon.txt" req "$n" "$page" "${AE[@]}")" 200 "GET $page with Accept-Encoding: gzip is 200"
    is "$(hdr "$n" Content-Encoding)" gzip "GET $page: Content-Encoding: gzip"
    like "$(hdr "$n" Vary)" '(^|, *)Accept-Encoding($|,)' "GET $page: Vary: Accept-Encoding"
    like "$(hdr "$n" Content-Type)" '^text/html; charset=UTF-8$' "GET $page: text/html"
    CJAR="$T/cookies-anon.txt" req "$n-id" "$page" >/dev/null
    is "$(hdr "$n-id" Content-Encoding)" "" "GET $page without Accept-Encoding: no Content-Encoding"
    is "$(gunzip_sha "$n")" "$(sha <"$T/resp/$n-id.body")" "GET $page: the gzip body decompresses to the identity body"
    ok $(($(stat -c %s "$T/resp/$n.body") * 2 < $(stat -c %s "$T/resp/$n-id.body") ? 0 : 1)) \
        "GET $page: gzip is less than half the size ($(stat -c %s "$T/resp/$n.body") of $(stat -c %s "$T/resp/$n-id.body") bytes)"
done
LS='/wp-admin/load-scripts.php?c=0&load%5Bchunk_0%5D=jquery-core,jquery-migrate,utils,underscore&ver='"$WPVER"
is "$(req lsgz "$LS" "${AE[@]}")" 200 "GET wp-admin/load-scripts.php (jquery, utils, underscore) with gzip is 200"
like "$(hdr lsgz Content-Type)" '^application/javascript; charset=UTF-8$' "load-scripts.php is application/javascript"
is "$(hdr lsgz Content-Encoding)" gzip "load-scripts.php: Content-Encoding: gzip"
like "$(hdr lsgz Vary)" '(^|, *)Accept-Encoding($|,)' "load-scripts.php: Vary: Accept-Encoding"
is "$(req lsid "$LS")" 200 "GET load-scripts.php without Accept-Encoding is 200"
is "$(hdr lsid Content-Encoding)" "" "load-scripts.php without Accept-Encoding: no Content-Encoding"
ok $(($(stat -c %s "$T/resp/lsid.body") > 100000 ? 0 : 1)) "load-scripts.php sends the scripts ($(stat -c %s "$T/resp/lsid.body") bytes)"
has lsid 'jQuery'
ok $? "load-scripts.php's output has jQuery"
is "$(gunzip_sha lsgz)" "$(sha <"$T/resp/lsid.body")" "load-scripts.php: the gzip body decompresses to the identity body"
is "$(req css /wp-includes/css/dist/block-library/style.min.css "${AE[@]}")" 200 "GET a static stylesheet with gzip is 200"
is "$(hdr css Content-Encoding)" gzip "the static stylesheet is gzip'd"
is "$(gunzip_sha css)" "$(sha <"$WP/wp-includes/css/dist/block-library/style.min.css")" "the static stylesheet decompresses to the file"

# ---- a comment, REST ---------------------------------------------------------------------------------------
CMARK=wharfcomment5e2d
is "$(req comment /wp-comments-post.php --data-urlencode comment_post_ID=1 --data-urlencode comment_parent=0 \
    --data-urlencode "comment=A comment through wharf $CMARK")" 302 "POST wp-comments-post.php (logged in) is 302"
like "$(hdr comment Location)" "^$ORIGIN/hello-world/(\\?[^#]*)?#comment-[0-9]+\$" "the comment redirects to the post's #comment-N"
is "$(sql wp -e "SELECT comment_approved FROM wp_comments WHERE comment_content LIKE '%$CMARK'")" 1 "the comment is stored, approved"
is "$(CJAR="$T/cookies-anon.txt" req postc /hello-world/)" 200 "GET /hello-world/ after the comment is 200"
has postc "$CMARK"
ok $? "/hello-world/ shows the comment"

is "$(CJAR="$T/cookies-anon.txt" req rest /wp-json/)" 200 "GET /wp-json/ is 200"
like "$(hdr rest Content-Type)" '^application/json; charset=UTF-8$' "/wp-json/ is application/json"
is "$(json rest 'd["name"]')" "Wharf WP" "/wp-json/ names the site"
is "$(json rest 'd["url"]')" "$ORIGIN" "/wp-json/ gives the site's URL"
is "$(CJAR="$T/cookies-anon.txt" req restposts /wp-json/wp/v2/posts)" 200 "GET /wp-json/wp/v2/posts is 200"
is "$(json restposts '",".join(p["slug"] for p in d)')" "hello-world" "/wp-json/wp/v2/posts lists hello-world"
is "$(json restposts 'd[0]["link"]')" "$ORIGIN/hello-world/" "the REST post's link is the pretty URL"
# an authenticated REST POST: the cookie plus the nonce wp-admin hands to its scripts
RNONCE=$(grep -o '"nonce":"[0-9a-f]*"' "$T/resp/dash.body" | head -1 | sed 's/.*:"//; s/"$//')
like "$RNONCE" '^[0-9a-f]{10}$' "wp-admin/ hands its scripts a REST nonce"
is "$(req restnew /wp-json/wp/v2/posts -H "X-WP-Nonce: $RNONCE" -H 'Content-Type: application/json' \
    --data-binary '{"title":"Posted through REST","content":"rest body wharfrest77","status":"publish"}')" 201 \
    "POST /wp-json/wp/v2/posts (cookie + X-WP-Nonce, JSON body) is 201"
is "$(json restnew 'd["link"]')" "$ORIGIN/posted-through-rest/" "the new post's link is /posted-through-rest/"
is "$(CJAR="$T/cookies-anon.txt" req restpage /posted-through-rest/)" 200 "GET /posted-through-rest/ is 200"
has restpage wharfrest77
ok $? "/posted-through-rest/ shows the post made through REST"
# a media upload: a binary request body (a PNG made here), WordPress writes it to uploads/, GD
# makes no thumbnail of a 64x64 image, and wharf serves the file statically
wp_png "$T/red.png"
is "$(req media /wp-json/wp/v2/media -H "X-WP-Nonce: $RNONCE" -H 'Content-Type: image/png' \
    -H 'Content-Disposition: attachment; filename="red dot.png"' --data-binary "@$T/red.png")" 201 \
    "POST /wp-json/wp/v2/media (a PNG body) is 201"
MEDIA=$(json media 'd["source_url"]')
like "$MEDIA" "^$ORIGIN/wp-content/uploads/[0-9]{4}/[0-9]{2}/red-dot\\.png\$" "the upload's URL is under wp-content/uploads/"
is "$(req mediaget "${MEDIA#"$ORIGIN"}")" 200 "GET the uploaded file is 200"
is "$(hdr mediaget Content-Type)" image/png "the uploaded file is image/png"
is "$(sha <"$T/resp/mediaget.body")" "$(sha <"$T/red.png")" "the uploaded file is the posted bytes"
# a post whose slug is UTF-8 (lower case: without mbstring WordPress keeps a letter's case):
# WordPress matches the raw, percent-encoded REQUEST_URI
is "$(req uni /wp-json/wp/v2/posts -H "X-WP-Nonce: $RNONCE" -H 'Content-Type: application/json' \
    --data-binary '{"title":"привет мир","content":"unicode body wharfuni42","status":"publish"}')" 201 \
    "POST a post titled привет мир is 201"
UNI=$(json uni 'd["link"]')
is "${UNI#"$ORIGIN"}" '/%d0%bf%d1%80%d0%b8%d0%b2%d0%b5%d1%82-%d0%bc%d0%b8%d1%80/' "its link is the percent-encoded UTF-8 slug"
is "$(CJAR="$T/cookies-anon.txt" req uniget "${UNI#"$ORIGIN"}")" 200 "GET the UTF-8 slug (lower-case escapes) is 200"
has uniget wharfuni42
ok $? "the UTF-8 slug shows its post"
is "$(CJAR="$T/cookies-anon.txt" req uniget2 '/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82-%D0%BC%D0%B8%D1%80/')" 200 \
    "GET the UTF-8 slug with upper-case escapes (what browsers send) is 200"
has uniget2 wharfuni42
ok $? "the upper-case escapes show the same post"

# Site Health's own checks, as wp-admin/site-health.php runs them (REST, cookie + nonce)
is "$(req shloop /wp-json/wp-site-health/v1/tests/loopback-requests -H "X-WP-Nonce: $RNONCE")" 200 \
    "GET wp-site-health/v1/tests/loopback-requests is 200"
is "$(json shloop 'd["status"]')" good "Site Health: loopback requests good"
is "$(req shauth /wp-json/wp-site-health/v1/tests/authorization-header -H "X-WP-Nonce: $RNONCE" \
    -H 'Authorization: Basic dXNlcjpwd2Q=')" 200 "GET wp-site-health/v1/tests/authorization-header is 200"
is "$(json shauth 'd["status"]')" good "Site Health: the Authorization header reaches PHP (PHP_AUTH_USER/PW; Application Passwords)"
is "$(CJAR="$T/cookies-anon.txt" req restanon /wp-json/wp/v2/posts --data-binary '{"title":"x"}' -H 'Content-Type: application/json')" 401 \
    "an anonymous REST POST is WordPress's 401"

# ---- loopback requests: six concurrent PHP requests, each calling the site itself ----------------------------
# Each outer request holds a php-fpm child while its loopback needs another: 12 requests in
# flight for 8 children. fastcgi_max_conns bounds requests in flight (16 by default), so wharf
# does not hold the inner requests back behind the outer ones (with the old single bound of 4
# kept connections they waited in wharf's queue until WordPress's timeouts).
for i in 1 2 3 4 5 6; do
    curl -s --max-time 60 -o "$T/resp/loop$i.body" -w '%{http_code} %{time_total}' \
        "$(URL "/wharf-probe.php?what=loopback&n=$i")" >"$T/resp/loop$i.curl" &
done
loops_done() { # curl writes its -w line when it ends
    local i
    for i in 1 2 3 4 5 6; do [ -s "$T/resp/loop$i.curl" ] || return 1; done
}
wait_until 90000 loops_done
for i in 1 2 3 4 5 6; do
    got="$(cat "$T/resp/loop$i.curl") $(head -c 200 "$T/resp/loop$i.body" 2>/dev/null)"
    got=$(printf %s "$got" | head -1)
    printf '%s' "$got" | grep -Eq '^200 [0-9.]+ 200 good [0-9]+$'
    rc1=$?
    secs=$(cut -d' ' -f2 "$T/resp/loop$i.curl" 2>/dev/null)
    rc2=$(python3 -c 'import sys; print(0 if float(sys.argv[1]) < 8 else 1)' "${secs:-99}")
    ok $rc1 "concurrent loopback request $i: wp_remote_get(home_url('/')) 200 and Site Health's loopback test good"
    [ $rc1 -eq 0 ] || printf '#   got: %s\n' "$got"
    ok "$rc2" "concurrent loopback request $i took ${secs:-?} s (under 8 s: a stall waits for WordPress's 10 s timeouts)"
done

# ---- what must never be served -------------------------------------------------------------------------------
is "$(CJAR="$T/cookies-anon.txt" req cfg /wp-config.php)" 403 "GET /wp-config.php is 403 (the preset's deny)"
has cfg wp-db-pass
ok $((!$?)) "GET /wp-config.php never shows the database password"
grep -rlF -- "$ADMIN_PASS" "$T/resp" >/dev/null
ok $((!$?)) "the admin password appears in no response"
grep -i 'error' "$T/fpm-wp/fpm.log" | grep -v 'NOTICE' | head -5 | sed 's/^/# php-fpm: /'

finish
