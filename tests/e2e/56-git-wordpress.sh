#!/usr/bin/env bash
# The real WordPress (Debian's package) deployed by git push: its tree (without wp-config.php)
# is committed to a bare repository that is a site's git_repo, with `fastcgi_preset = wordpress`
# (shared: wp-content/uploads, and wp-config.php when the commit has none). Over HTTP, through
# the release: WordPress's setup-config.php writes wp-config.php through the release's link into
# shared/, install.php installs it, and an image uploaded through the REST API lands in
# shared/wp-content/uploads. Then, with `git_check = /` added by a reload: two more deploys
# (push webhooks) and a `wharf --rollback` keep the site installed and the image byte-identical;
# a commit whose theme has a PHP fatal error is refused by the gate while the old release keeps
# serving every request.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"
. "$(dirname "$0")/wp-lib.sh"

wp_start_db
start_fpm wpgit "$T/fpm.sock" 'pm.max_children = 6
php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on'

# ---- the repository: WordPress as Debian ships it, without its wp-config.php ----------------------
new_remote blog main
W="$T/blog.work"
cp -rL "$SRC/." "$W/" || bail "copying $SRC failed"
rm -f "$W/wp-config.php"
rm -rf "$W/wp-content/uploads"
[ -f "$W/wp-config-sample.php" ] || bail "wp-config-sample.php is missing from the tree"
THEME=wp-content/themes/twentytwentythree
[ -f "$W/$THEME/theme.json" ] || bail "the twentytwentythree theme is missing from the tree"
[ -f "$W/$THEME/functions.php" ] || printf '<?php\n' >"$W/$THEME/functions.php"
put blog wharf-release.txt r1
push blog "WordPress r1"
SHA1=$SHA

SECRET=wp-hook-secret
new_port
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site blog]
root = $T/blog
fastcgi = unix:$T/fpm.sock
fastcgi_preset = wordpress
fastcgi_except = /wp-content/uploads
git_repo = $T/blog.git
git_interval = 1h
git_keep = 5
git_hook = /_hook
git_secret = $SECRET
git_status = /_status
EOF
start_wharf_ini "$T/wharf.ini"
STATE=$(state_of "$T/blog")
wait_until 60000 eval '[ "$(body /wharf-release.txt)" = r1 ]'
is "$(body /wharf-release.txt)" r1 "the first deploy is live"
ok $([ -L "$T/blog/wp-config.php" ] && [ ! -e "$T/blog/wp-config.php" ] && echo 0 || echo 1) \
    "wp-config.php (not in the commit) is a link into shared/ with nothing behind it yet"
ok $([ -d "$STATE/shared/wp-content/uploads" ] && [ -L "$T/blog/wp-content/uploads" ] && echo 0 || echo 1) \
    "wp-content/uploads is a link to shared/wp-content/uploads"

# ---- setup-config.php writes wp-config.php through the link; install.php installs ------------------
is "$(req pre /)" 302 "GET / before the setup: 302"
like "$(hdr pre Location)" '/wp-admin/setup-config\.php$' "GET / redirects to wp-admin/setup-config.php"
is "$(req setup '/wp-admin/setup-config.php?step=2' --data-urlencode dbname=wp --data-urlencode uname=wp \
    --data-urlencode pwd=wp-db-pass --data-urlencode "dbhost=localhost:$DBSOCK" --data-urlencode prefix=wp_ \
    --data-urlencode language= --data-urlencode submit=Submit)" 200 "POST setup-config.php?step=2 is 200"
has setup 'All right, sparky!'
ok $? "setup-config.php wrote wp-config.php (All right, sparky!)"
ok $([ -f "$STATE/shared/wp-config.php" ] && [ ! -L "$STATE/shared/wp-config.php" ] && echo 0 || echo 1) \
    "wp-config.php is a file in shared/"
grep -q "define( 'DB_NAME', 'wp' );" "$STATE/shared/wp-config.php"
ok $? "shared/wp-config.php has the database settings"
# test hygiene, as 45 does: no requests to wordpress.org, no wp-cron loopback; the home URL from
# the request's Host (the health check's Host is the site's, without the test's port)
python3 - "$STATE/shared/wp-config.php" <<'EOF' || bail "cannot edit wp-config.php"
import sys
p = sys.argv[1]
s = open(p).read()
add = ("define('WP_HTTP_BLOCK_EXTERNAL', true);\ndefine('AUTOMATIC_UPDATER_DISABLED', true);\n"
       "define('DISABLE_WP_CRON', true);\n"
       "define('WP_HOME', 'http://' . ($_SERVER['HTTP_HOST'] ?? 'localhost'));\n"
       "define('WP_SITEURL', WP_HOME);\n")
s = s.replace("<?php", "<?php\n" + add, 1)
open(p, "w").write(s)
EOF
ADMIN_PASS='Wharf-git-Pass-4b1d'
is "$(req inst '/wp-admin/install.php?step=2' --data-urlencode 'weblog_title=Wharf Git WP' \
    --data-urlencode user_name=admin --data-urlencode "admin_password=$ADMIN_PASS" \
    --data-urlencode "admin_password2=$ADMIN_PASS" --data-urlencode pw_weak=1 \
    --data-urlencode admin_email=admin@example.invalid --data-urlencode blog_public=0 \
    --data-urlencode 'Submit=Install WordPress' --data-urlencode language=)" 200 "POST install.php?step=2 is 200"
has inst '<h1>Success!</h1>'
ok $? "the install says Success!"
is "$(CJAR="$T/anon.txt" req home /)" 200 "GET / after the install is 200"
has home 'Hello world!'
ok $? "GET / lists the Hello world! post"

# ---- an image uploaded through WordPress (REST, cookie + nonce) ------------------------------------
is "$(req login /wp-login.php --data-urlencode log=admin --data-urlencode "pwd=$ADMIN_PASS" \
    --data-urlencode 'wp-submit=Log In' --data-urlencode testcookie=1 -b 'wordpress_test_cookie=WP%20Cookie%20check')" 302 \
    "log in: 302"
is "$(req dash /wp-admin/)" 200 "GET wp-admin/ logged in is 200"
RNONCE=$(grep -o '"nonce":"[0-9a-f]*"' "$T/resp/dash.body" | head -1 | sed 's/.*:"//; s/"$//')
like "$RNONCE" '^[0-9a-f]{10}$' "wp-admin/ hands its scripts a REST nonce"
wp_png "$T/red.png"
is "$(req media /wp-json/wp/v2/media -H "X-WP-Nonce: $RNONCE" -H 'Content-Type: image/png' \
    -H 'Content-Disposition: attachment; filename="deploy dot.png"' --data-binary "@$T/red.png")" 201 \
    "POST /wp-json/wp/v2/media (a PNG) is 201"
MEDIA=$(json media 'd["source_url"]')
MPATH=/${MEDIA#http*://*/}
like "$MPATH" '^/wp-content/uploads/[0-9]{4}/[0-9]{2}/deploy-dot\.png$' "the upload's URL is under wp-content/uploads/"
WANT=$(sha <"$T/red.png")
image_ok() { [ "$(curl -s "$(URL "$MPATH")" | sha)" = "$WANT" ]; }
ok $(image_ok && echo 0 || echo 1) "the uploaded image is served byte-identical"
ok $([ -f "$STATE/shared$MPATH" ] && echo 0 || echo 1) "the image is stored in shared/wp-content/uploads"

# ---- the health gate on (a reload), two more deploys, a rollback --------------------------------------
echo 'git_check = /' >>"$T/wharf.ini"
kill -HUP "$WPID"
wait_grep "$T/wharf.err" "configuration reloaded" 15 || bail "the reload did not happen"
deploy_release() { # deploy_release N: commit wharf-release.txt = rN, push, webhook, wait until live
    put blog wharf-release.txt "r$1"
    push blog "r$1"
    [ "$(push_hook)" = 202 ] || bail "the push webhook was not accepted"
    wait_until 90000 eval "[ \"\$(body /wharf-release.txt)\" = r$1 ]"
}
for n in 2 3; do
    deploy_release $n
    is "$(body /wharf-release.txt)" "r$n" "r$n is live (push webhook)"
    like "$(cat "$T/wharf.err")" "git_check passed on ${SHA:0:12} before the switch" "r$n passed the gate (GET /)"
    ok $(image_ok && echo 0 || echo 1) "after r$n: the image is byte-identical"
    is "$(CJAR="$T/anon.txt" req "home$n" /)" 200 "after r$n: GET / is 200 (still installed: wp-config.php kept)"
    ok $([ -L "$T/blog/wp-config.php" ] && [ -L "$T/blog/wp-content/uploads" ] && echo 0 || echo 1) \
        "after r$n: the release links wp-config.php and the uploads"
done
SHA3=$SHA
"$WHARF" --config "$T/wharf.ini" --rollback blog >>"$T/cli.out" 2>&1
is "$?" 0 "wharf --rollback blog: exit status 0"
is "$(body /wharf-release.txt)" r2 "after the rollback: r2 is live"
ok $(image_ok && echo 0 || echo 1) "after the rollback: the image is byte-identical"
is "$(CJAR="$T/anon.txt" req homerb /)" 200 "after the rollback: GET / is 200"
has homerb 'Hello world!'
ok $? "after the rollback: the posts are there"

# ---- a theme with a PHP fatal error is refused by the gate; r2 keeps serving ----------------------------
printf '%s\n' 'undefined_wharf_theme_function();' >>"$W/$THEME/functions.php"
put blog wharf-release.txt r4
push blog "r4: a fatal theme"
SHA4=$SHA
: >"$T/during.txt"
( for i in $(seq 1 2000); do
    printf '%s %s\n' "$(body /wharf-release.txt)" "$(status /)" >>"$T/during.txt"
    [ -e "$T/stop-during" ] && break
done ) &
LOOP=$!
PIDS+=("$LOOP")
wait_until 10000 eval '[ "$(grep -c . "$T/during.txt")" -ge 2 ]'
is "$(push_hook)" 202 "the push webhook of the fatal theme is accepted"
wait_until 90000 eval '[[ "$(sj last_error)" == *"${SHA4:0:12}"* ]]'
touch "$T/stop-during"
wait "$LOOP" 2>/dev/null
ERR=$(sj last_error)
like "$ERR" "git_check refused ${SHA4:0:12} before the switch" "the fatal theme is refused by the gate"
like "$ERR" "GET /: status 500" "the reason: GET / answered 500"
like "$ERR" "undefined_wharf_theme_function" "the reason names the fatal error (php-fpm's stderr)"
N=$(grep -c . "$T/during.txt")
BAD=$(grep -vc '^r2 200$' "$T/during.txt")
ok $([ "$N" -ge 3 ] && [ "$BAD" -eq 0 ] && echo 0 || echo 1) \
    "during the attempt every request got r2 and GET / was 200 ($N pairs, $BAD others)"
is "$(body /wharf-release.txt)" r2 "r2 stays live"
ok $(image_ok && echo 0 || echo 1) "the image is still byte-identical"
ok $(releases "$T/blog" | grep -q "${SHA4:0:12}" && echo 1 || echo 0) "the refused release was removed"

# ---- what must never be served --------------------------------------------------------------------
is "$(CJAR="$T/anon.txt" req cfg /wp-config.php)" 403 "GET /wp-config.php is 403 (the preset's deny)"
has cfg wp-db-pass
ok $((!$?)) "GET /wp-config.php never shows the database password"
finish
