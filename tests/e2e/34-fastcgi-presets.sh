#!/usr/bin/env bash
# FastCGI presets: the front-controller presets laravel, symfony, wordpress and mediawiki send a
# request that is not an existing file or directory to /index.php with the original REQUEST_URI,
# while existing files are served and existing scripts run themselves (mediawiki also denies its
# code and cache directories; wordpress's SERVER_SOFTWARE allows pretty permalinks); a custom
# preset from a [server] presets_dir (ext = .phtml, env = APP_ENV=test); fastcgi_env; a missing or malformed
# preset is a config error naming the config file and the fastcgi_preset line (also in a site
# without fastcgi); --preset NAME on the command line; and
# `wharf --php` without an address spawns php-fpm and leaves none behind after SIGTERM.
. "$(dirname "$0")/lib.sh"

FRONTS="laravel symfony wordpress mediawiki"

# ---- apps -----------------------------------------------------------------------------------
for p in $FRONTS; do
    d="$T/$p"
    mkdir -p "$d/assets"
    cat >"$d/index.php" <<'EOF'
<?php echo 'URI=', $_SERVER['REQUEST_URI'], "\nSCRIPT=", $_SERVER['SCRIPT_NAME'], "\nGET=", json_encode($_GET),
    "\nMETHOD=", $_SERVER['REQUEST_METHOD'], "\nBODY=", file_get_contents('php://input');
EOF
    printf '<?php echo "other:", $_SERVER["SCRIPT_NAME"];\n' >"$d/other.php"
    printf '.app { color: blue }\n' >"$d/app.css"
    printf 'logo\n' >"$d/assets/logo.txt"
done
# MediaWiki's layout: entry points at the root, code and caches in directories never served
d="$T/mediawiki"
mkdir -p "$d/includes" "$d/cache" "$d/maintenance" "$d/vendor" "$d/images/deleted/a" "$d/images/a"
printf '<?php echo "code";\n' >"$d/includes/WebStart.php"
printf '<?php echo "maintenance";\n' >"$d/maintenance/update.php"
printf 'cached\n' >"$d/cache/l10n.cdb"
mkdir -p "$T/laravel/cache" && cp "$d/cache/l10n.cdb" "$T/laravel/cache/"
printf 'deleted\n' >"$d/images/deleted/a/old.png"
printf 'upload\n' >"$d/images/a/new.png"
printf '<?php echo "rest ", $_SERVER["SCRIPT_NAME"], " ", $_SERVER["PATH_INFO"] ?? "";\n' >"$d/rest.php"

# WordPress's test for URL rewriting (wp-includes/vars.php, got_url_rewrite()): the server
# software must name Apache, LiteSpeed, nginx or IIS 7+, else only /index.php/... permalinks
cat >"$T/wordpress/wp-check.php" <<'EOF'
<?php
$sw = $_SERVER['SERVER_SOFTWARE'];
$rewrites = str_contains($sw, 'Apache') || str_contains($sw, 'LiteSpeed') || str_contains($sw, 'nginx')
    || str_contains($sw, 'Microsoft-IIS/');
echo $sw, "\n", $rewrites ? 'pretty permalinks' : 'index.php permalinks only';
EOF
cp "$T/wordpress/wp-check.php" "$T/laravel/wp-check.php"
mkdir -p "$T/plain" "$T/phtml" "$T/mypresets"
cat >"$T/plain/env.php" <<'EOF'
<?php $v = $_GET['v'] ?? ''; echo array_key_exists($v, $_SERVER) ? $_SERVER[$v] : '(unset)';
EOF
cat >"$T/phtml/page.phtml" <<'EOF'
<?php echo 'APP_ENV=', $_SERVER['APP_ENV'] ?? '(unset)', ' SCRIPT=', $_SERVER['SCRIPT_NAME'], ' PATH_INFO=', $_SERVER['PATH_INFO'] ?? '';
EOF
printf '<?php echo "phtml index";\n' >"$T/phtml/index.phtml"
cat >"$T/mypresets/mine.ini" <<'EOF'
; a custom preset: .phtml scripts
ext = .phtml
split = .phtml
index = index.phtml
env = APP_ENV=test
EOF
printf 'ext = .php\nbogus = 1\n' >"$T/mypresets/bad.ini"

unset FOO BAZ DSN APP_ENV 2>/dev/null # php-fpm would import them into $_SERVER (clear_env = no)
start_fpm pre "$T/fpm.sock" "security.limit_extensions = .php .phtml"

PORT=$(free_port)
{
    printf '[server]\nlisten = 127.0.0.1:%s\n' "$PORT"
    printf '\n[site plain]\nroot = %s\nfastcgi = unix:%s\n' "$T/plain" "$T/fpm.sock"
    printf 'fastcgi_env = FOO=bar\nfastcgi_env = BAZ=qux\nfastcgi_env = DSN=a=b\n'
    for p in $FRONTS; do
        printf '\n[site %s]\nhosts = %s.test\nroot = %s\nfastcgi = unix:%s\nfastcgi_preset = %s\n' \
            "$p" "$p" "$T/$p" "$T/fpm.sock" "$p"
    done
} >"$T/main.ini"
start_wharf_ini "$T/main.ini"

# fc_body URI [METHOD BODY]: what the router prints for URI
fc_body() {
    printf 'URI=%s\nSCRIPT=/index.php\nGET=%s\nMETHOD=%s\nBODY=%s' "$1" "$2" "${3:-GET}" "${4:-}"
}

for p in $FRONTS; do
    H="Host: $p.test"
    is "$(status '/some/pretty/path?x=1' -H "$H")" "200" "$p: /some/pretty/path?x=1 -> 200"
    is "$(body '/some/pretty/path?x=1' -H "$H")" "$(fc_body '/some/pretty/path?x=1' '{"x":"1"}')" \
        "$p: /some/pretty/path?x=1 runs /index.php with REQUEST_URI /some/pretty/path?x=1 and \$_GET"
    is "$(body '/caf%C3%A9/a%20b?y=%20' -H "$H")" "$(fc_body '/caf%C3%A9/a%20b?y=%20' '{"y":" "}')" \
        "$p: REQUEST_URI stays raw (percent-encoded) through the front controller"
    is "$(body '/form/submit' -H "$H" -X POST --data-binary 'k=v' -H 'Content-Type: text/plain')" \
        "$(fc_body '/form/submit' '[]' POST 'k=v')" "$p: POST to a pretty URL reaches the front controller with its body"
    is "$(body / -H "$H")" "$(fc_body '/' '[]')" "$p: / runs index.php (REQUEST_URI /)"
    is "$(status /app.css -H "$H")" "200" "$p: existing /app.css -> 200"
    is "$(body /app.css -H "$H")" ".app { color: blue }" "$p: existing /app.css is served as the file"
    is "$(headers /app.css -H "$H" | header_value Content-Type | cut -d';' -f1)" "text/css" "$p: /app.css as text/css"
    is "$(body /assets/logo.txt -H "$H")" "logo" "$p: existing /assets/logo.txt served"
    is "$(body /other.php -H "$H")" "other:/other.php" "$p: existing /other.php runs itself"
    st=$(status /assets/ -H "$H")
    b=$(body /assets/ -H "$H")
    unlike "$b" '^URI=' "$p: an existing directory (/assets/) is not sent to the front controller"
    is "$st" "403" "$p: /assets/ (no index, no listing) -> 403"
    st=$(status /missing.php -H "$H")
    b=$(body /missing.php -H "$H")
    if [ "$st" = 404 ]; then
        unlike "$b" '^URI=' "$p: /missing.php -> 404 (not the front controller)"
    else
        is "$st $b" "200 $(fc_body '/missing.php' '[]')" "$p: /missing.php -> the front controller with REQUEST_URI /missing.php"
    fi
done

# ---- MediaWiki short URLs ----------------------------------------------------------------------
H="Host: mediawiki.test"
is "$(body '/wiki/Main_Page' -H "$H")" "$(fc_body '/wiki/Main_Page' '[]')" \
    "mediawiki: /wiki/Main_Page runs /index.php with REQUEST_URI /wiki/Main_Page (\$wgArticlePath = /wiki/\$1)"
is "$(body '/wiki/Caf%C3%A9?action=history' -H "$H")" "$(fc_body '/wiki/Caf%C3%A9?action=history' '{"action":"history"}')" \
    "mediawiki: /wiki/Caf%C3%A9?action=history keeps the raw REQUEST_URI and the query"
is "$(body '/rest.php/v1/page/Main_Page' -H "$H")" "rest /rest.php /v1/page/Main_Page" \
    "mediawiki: rest.php/v1/page/Main_Page runs rest.php with PATH_INFO"
for u in /includes/WebStart.php /maintenance/update.php /cache/l10n.cdb /images/deleted/a/old.png /vendor/; do
    is "$(status "$u" -H "$H")" "403" "mediawiki: $u is denied (403)"
done
is "$(body /images/a/new.png -H "$H")" "upload" "mediawiki: an upload under /images is served"
is "$(body /cache/l10n.cdb -H 'Host: laravel.test')" "cached" "laravel: the mediawiki preset's deny is its own (/cache served)"

# ---- WordPress pretty permalinks --------------------------------------------------------------
server=$(headers /wp-check.php -H "Host: wordpress.test" | header_value Server)
is "$(body /wp-check.php -H "Host: wordpress.test")" "$server (nginx-compatible)
pretty permalinks" "wordpress: SERVER_SOFTWARE is '$server (nginx-compatible)', so WordPress offers pretty permalinks"
is "$(body /wp-check.php -H "Host: laravel.test")" "$server
index.php permalinks only" "laravel: SERVER_SOFTWARE is the plain '$server' (the comment is the wordpress preset's)"

# ---- fastcgi_env ----------------------------------------------------------------------------
is "$(body '/env.php?v=FOO')" "bar" "fastcgi_env = FOO=bar reaches PHP"
is "$(body '/env.php?v=BAZ')" "qux" "fastcgi_env is repeatable (BAZ=qux)"
is "$(body '/env.php?v=DSN')" "a=b" "fastcgi_env value may contain '=' (DSN=a=b)"
is "$(body '/env.php?v=APP_ENV')" "(unset)" "a preset's env does not leak into other sites"
stop_pid "$WPID"

# ---- custom preset in a custom presets_dir --------------------------------------------------
PORT=$(free_port)
cat >"$T/custom.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
presets_dir = $T/mypresets

[site custom]
root = $T/phtml
fastcgi = unix:$T/fpm.sock
fastcgi_preset = mine
EOF
start_wharf_ini "$T/custom.ini"
is "$(body /page.phtml)" "APP_ENV=test SCRIPT=/page.phtml PATH_INFO=" "custom preset: .phtml runs, the preset's env APP_ENV=test reaches PHP"
is "$(body /page.phtml/x/y)" "APP_ENV=test SCRIPT=/page.phtml PATH_INFO=/x/y" "custom preset: split .phtml gives PATH_INFO /x/y"
is "$(body /)" "phtml index" "custom preset: index.phtml for /"
is "$(status /missing.phtml)" "404" "custom preset: /missing.phtml -> 404"
stop_pid "$WPID"

# ---- fastcgi_root: the document root as the backend sees it -----------------------------------
# php-fpm in another container sees the site under another path. Here that path is a symlink to
# the same directory, so php-fpm can run the script and we can see exactly what it was told.
ln -s "$T/plain" "$T/backend-view"
PORT=$(free_port)
cat >"$T/froot.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site froot]
root = $T/plain
fastcgi = unix:$T/fpm.sock
fastcgi_root = $T/backend-view
EOF
start_wharf_ini "$T/froot.ini"
is "$(body '/env.php?v=DOCUMENT_ROOT')" "$T/backend-view" "fastcgi_root: DOCUMENT_ROOT is the backend's path, as configured"
is "$(body '/env.php?v=SCRIPT_FILENAME')" "$T/backend-view/env.php" "fastcgi_root: SCRIPT_FILENAME is under the backend's path"
stop_pid "$WPID"

# ---- missing or malformed presets are config errors -----------------------------------------
# check_bad NAME PRESET: a config whose fastcgi_preset (line 9) names PRESET
check_bad() {
    local name=$1 preset=$2 conf="$T/$1.ini" port
    port=$(free_port)
    cat >"$conf" <<EOF
[server]
listen = 127.0.0.1:$port
presets_dir = $T/mypresets

[site x]
root = $T/plain
fastcgi = unix:$T/fpm.sock
; the next line is line 9
fastcgi_preset = $preset
EOF
    timeout 10 "$WHARF" --config "$conf" --test >"$T/$name.out" 2>&1
    local rc=$?
    ok "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; echo $?)" "$name: wharf --test exits non-zero (got $rc)"
    like "$(cat "$T/$name.out")" "$conf:9:.*fastcgi_preset" "$name: the error names $name.ini:9 (the fastcgi_preset line)"
    timeout 10 "$WHARF" --config "$conf" >"$T/$name.run" 2>&1
    rc=$?
    ok "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; echo $?)" "$name: wharf refuses to start (exit $rc)"
}
check_bad nosuch-preset nosuch
check_bad malformed-preset bad
like "$(cat "$T/malformed-preset.out")" "$T/mypresets/bad.ini:2:" "malformed-preset: the error also names the preset file and its bad line (bad.ini:2)"
check_bad traversal-preset ../mypresets/mine

# a fastcgi_preset naming no preset is an error even in a site without fastcgi (line 6 here)
port=$(free_port)
cat >"$T/nofcgi.ini" <<EOF
[server]
listen = 127.0.0.1:$port

[site x]
root = $T/plain
fastcgi_preset = nosuch
EOF
timeout 10 "$WHARF" --config "$T/nofcgi.ini" --test >"$T/nofcgi.out" 2>&1
rc=$?
is "$rc" "1" "fastcgi_preset = nosuch without fastcgi: wharf --test exits 1"
like "$(cat "$T/nofcgi.out")" "^$T/nofcgi.ini:6: fastcgi_preset: unknown preset 'nosuch'" \
    "fastcgi_preset = nosuch without fastcgi: the error names nofcgi.ini:6"
sed -i 's/^fastcgi_preset = nosuch$/fastcgi_preset = laravel/' "$T/nofcgi.ini"
timeout 10 "$WHARF" --config "$T/nofcgi.ini" --test >"$T/nofcgi.out" 2>&1
is "$?" "0" "fastcgi_preset = laravel without fastcgi: valid"

# ---- --preset NAME: a front controller from the command line --------------------------------
out=$(timeout 10 "$WHARF" --root "$T/laravel" --php "unix:$T/fpm.sock" --preset nosuch --test 2>&1)
is "$?" "1" "--preset nosuch: wharf --test exits 1"
like "$out" "^--preset: fastcgi_preset: unknown preset 'nosuch'" "--preset nosuch: the error names --preset"
out=$(timeout 10 "$WHARF" --root "$T/laravel" --preset laravel --test 2>&1)
is "$?" "1" "--preset without --php (no FastCGI): wharf --test exits 1"
like "$out" "^--preset: \\[site default\\] has no FastCGI backend" "--preset without --php: the error says why"
start_wharf --root "$T/laravel" --php "unix:$T/fpm.sock" --preset laravel
is "$(body '/some/pretty/path?x=1')" "$(fc_body '/some/pretty/path?x=1' '{"x":"1"}')" \
    "--preset laravel: /some/pretty/path?x=1 runs /index.php with the original REQUEST_URI"
is "$(body /other.php)" "other:/other.php" "--preset laravel: an existing script runs itself"
stop_pid "$WPID"
start_wharf --root "$T/laravel" --php "unix:$T/fpm.sock"
is "$(status '/some/pretty/path')" "404" "without --preset: --php uses the php preset (no front controller, 404)"
stop_pid "$WPID"

# ---- spawn mode: wharf --php starts php-fpm and stops it ------------------------------------
mkdir -p "$T/spawn"
printf '<?php echo "spawned ", PHP_SAPI;\n' >"$T/spawn/index.php"
printf '<?php echo "page ", $_SERVER["SCRIPT_NAME"];\n' >"$T/spawn/page.php"
start_wharf --root "$T/spawn" --php
is "$(body /page.php)" "page /page.php" "spawn: wharf --php (no address) serves a PHP page"
is "$(body /)" "spawned fpm-fcgi" "spawn: through php-fpm (PHP_SAPI fpm-fcgi)"
MASTER=
for c in $(pgrep -P "$WPID"); do
    case "$(cat "/proc/$c/comm" 2>/dev/null)" in php-fpm*) MASTER=$c ;; esac
done
ok "$([ -n "$MASTER" ]; echo $?)" "spawn: php-fpm master is a child of wharf (pid ${MASTER:-none})"
WORKERS=$( [ -n "$MASTER" ] && pgrep -P "$MASTER" | tr '\n' ' ')
ok "$([ -n "$WORKERS" ]; echo $?)" "spawn: the master has workers ($WORKERS)"
[ -n "$MASTER" ] && PIDS+=("$MASTER")
alive() { # alive PID: running (not gone, not a zombie)
    [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
stop_pid "$WPID"
left=
for ((i = 0; i < 100; i++)); do
    left=
    for pid in $MASTER $WORKERS; do alive "$pid" && left="$left $pid"; done
    [ -z "$left" ] && break
    sleep 0.05
done
is "$left" "" "spawn: after SIGTERM to wharf no php-fpm process it started remains"

finish
