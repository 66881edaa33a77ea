#!/usr/bin/env bash
# Development mode: `wharf` (or `wharf dev`) in a project directory with no --root and no
# configuration detects the application, spawns php-fpm, takes 8080 or the next free port and
# prints one banner; --dev-explain names the deciding file; --open runs xdg-open; .php-version
# picks php-fpmX.Y (stand-in binaries: only one PHP version is installable here).
. "$(dirname "$0")/lib.sh"

FPM=$(find_fpm) || skip_all "php-fpm is not installed"

# ---- detection on fixture trees (--dev-explain: no server) -----------------------------------
tree() { # tree NAME FILE...: a project directory holding FILEs (each with a line of PHP)
    local d="$T/$1" f
    shift
    mkdir -p "$d"
    for f in "$@"; do
        mkdir -p "$(dirname "$d/$f")"
        printf '<?php echo "%s ", $_SERVER["REQUEST_URI"];\n' "$f" >"$d/$f"
    done
}
tree laravel artisan public/index.php index.php
tree symfony bin/console public/index.php
tree wp-load wp-load.php wp-config.php index.php
tree wp-config wp-config.php index.php
tree php index.php
tree public-only public/index.php
tree console-only bin/console
tree static
echo "static page" >"$T/static/page.txt"
mkdir -p "$T/static/sub"

explain() { (cd "$T/$1" && "$WHARF" --dev-explain 2>&1); }
like "$(explain laravel)" $'app:      Laravel \\(decided by artisan\\)' "laravel: artisan decides"
like "$(explain laravel)" "root:     $T/laravel/public" "laravel: root public/"
like "$(explain laravel)" "preset:   laravel" "laravel: preset laravel"
like "$(explain symfony)" "Symfony \\(decided by bin/console\\)" "symfony: bin/console decides"
like "$(explain symfony)" "root:     $T/symfony/public" "symfony: root public/"
like "$(explain symfony)" "preset:   symfony" "symfony: preset symfony"
like "$(explain wp-load)" "WordPress \\(decided by wp-load.php\\)" "wordpress: wp-load.php decides"
like "$(explain wp-load)" "root:     $T/wp-load\$" "wordpress: root is the project"
like "$(explain wp-config)" "WordPress \\(decided by wp-config.php\\)" "wordpress: wp-config.php alone"
like "$(explain php)" "PHP \\(decided by index.php\\)" "plain PHP: index.php decides"
like "$(explain php)" "preset:   php" "plain PHP: preset php"
like "$(explain public-only)" "PHP \\(decided by public/index.php\\)" "public/index.php: PHP in public/"
like "$(explain console-only)" "app:      static files" "bin/console without public/index.php: static"
like "$(explain static)" "preset:   none \\(directory listings on\\)" "static: listings on"
like "$(explain laravel)" "php:      $FPM " "explain: names the php-fpm it will run"
like "$(cd "$T/laravel" && "$WHARF" dev --dev-explain 2>&1)" "Laravel" "'wharf dev' is the same mode"
out=$(cd "$T/laravel" && timeout 10 "$WHARF" --config "$T/none.ini" --https 2>&1)
is "$?" 2 "a development flag with --config: refused (exit 2)"
like "$out" "development mode .* works without --config" "...saying why"

# ---- a Laravel tree served: routed through public/index.php by php-fpm wharf started ---------
# (--no-watch: these pages are compared whole; 92-dev-live-reload tests the injected script)
dev_start() { # dev_start DIR ARGS...: wharf in DIR on a fresh $PORT, banner in $T/DIR.err
    local d=$1
    shift
    PORT=$(free_port)
    (cd "$T/$d" && exec "$WHARF" "$@" --no-watch --listen "127.0.0.1:$PORT" 2>"$T/$d.err") &
    WPID=$!
    PIDS+=("$WPID")
    wait_for_http "http://127.0.0.1:$PORT/" 20 || {
        cat "$T/$d.err" >&2
        bail "wharf did not start in $d"
    }
}
dev_start laravel
is "$(body /some/route)" "public/index.php /some/route" "laravel: a route runs public/index.php"
is "$(body /artisan)" "public/index.php /artisan" "laravel: artisan (outside public/) is a route, not a file"
like "$(cat "$T/laravel.err")" "detected  Laravel \\(artisan\\)" "banner: what was detected and why"
like "$(cat "$T/laravel.err")" "url       http://127.0.0.1:$PORT/" "banner: the URL"
like "$(cat "$T/laravel.err")" "php       PHP [0-9]+\\.[0-9]+\\.[0-9]+" "banner: the php-fpm version"
like "$(cat "$T/laravel.err")" "stop      Ctrl\\+C" "banner: how to stop"
unlike "$(cat "$T/laravel.err")" "\\[info\\]" "dev mode: no info log lines around the banner"
unlike "$(cat "$T/laravel.err")" $'\033' "banner: no colour when stderr is not a terminal"
stop_pid "$WPID"

dev_start laravel --preset php
is "$(status /some/route)" 404 "flags win: --preset php replaces the detected laravel preset"
stop_pid "$WPID"
dev_start laravel dev --root "$T/laravel"
is "$(body /index.php)" "index.php /index.php" "flags win: --root replaces the detected root"
stop_pid "$WPID"

dev_start symfony
is "$(body /x)" "public/index.php /x" "symfony: routed through public/index.php"
stop_pid "$WPID"
dev_start wp-load
is "$(body /2024/hello/)" "index.php /2024/hello/" "wordpress: pretty permalinks through index.php"
stop_pid "$WPID"
dev_start static
is "$(body /page.txt)" "static page" "static: files served"
like "$(body /)" "sub/" "static: directory listing on"
stop_pid "$WPID"

# ---- 8080 taken: the next free port, named in the banner -------------------------------------
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", 8080)); s.listen(1)
except OSError:
    pass  # already taken by someone else: the same case
open(sys.argv[1], "w").close()
time.sleep(60)' "$T/held" &
HOLDER=$!
PIDS+=("$HOLDER")
wait_file "$T/held" 10 || bail "could not hold 8080"
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "$@" >"%s/opened"\n' "$T" >"$T/bin/xdg-open"
chmod +x "$T/bin/xdg-open"
(cd "$T/static" && PATH="$T/bin:$PATH" exec "$WHARF" --open 2>"$T/auto.err") &
APID=$!
PIDS+=("$APID")
wait_grep "$T/auto.err" 'url +http://127\.0\.0\.1:[0-9]+/' 20 || bail "no banner: $(cat "$T/auto.err")"
AURL=$(grep -oP 'url +\Khttp://127\.0\.0\.1:[0-9]+/' "$T/auto.err")
ok $([ "$AURL" != "http://127.0.0.1:8080/" ]; echo $?) "8080 taken: another port ($AURL)"
is "$(curl -s --max-time 5 "${AURL}page.txt")" "static page" "...which serves the project"
wait_file "$T/opened" 10
is "$(cat "$T/opened" 2>/dev/null)" "$AURL" "--open: xdg-open is given the URL"
stop_pid "$APID"
stop_pid "$HOLDER"

# ---- .php-version: php-fpmX.Y in PATH, or a clear error listing what is installed -----------
# stand-ins: php-fpm7.9 notes that it ran and execs the real php-fpm; php-fpm9.1 is listed only
printf '#!/bin/sh\necho "$@" >>"%s/stand-in-ran"\nexec "%s" "$@"\n' "$T" "$FPM" >"$T/bin/php-fpm7.9"
printf '#!/bin/sh\nexit 1\n' >"$T/bin/php-fpm9.1"
chmod +x "$T/bin/php-fpm7.9" "$T/bin/php-fpm9.1"
echo "7.9" >"$T/php/.php-version"
out=$(cd "$T/php" && PATH="$T/bin:$PATH" "$WHARF" --dev-explain 2>&1)
like "$out" "php:      $T/bin/php-fpm7.9 \\(.php-version asks for 7.9\\)" \
    ".php-version 7.9: php-fpm7.9 from PATH"
PATH="$T/bin:$PATH" dev_start php
is "$(body /index.php)" "index.php /index.php" ".php-version 7.9: the site runs"
like "$(cat "$T/stand-in-ran" 2>/dev/null)" "--fpm-config" "...on the php-fpm7.9 stand-in"
like "$(cat "$T/php.err")" "php-fpm7.9, .php-version 7.9" "...and the banner says so"
stop_pid "$WPID"
# a static project with --php: the php-fpm its .php-version names (it was the default one)
mkdir -p "$T/static-php"
printf '%s\n' '<?php echo "hello from php";' >"$T/static-php/hello.php"
echo "7.9" >"$T/static-php/.php-version"
rm -f "$T/stand-in-ran"
out=$(cd "$T/static-php" && PATH="$T/bin:$PATH" "$WHARF" --dev-explain --php 2>&1)
like "$out" "app:      static files" "static project with --php: detected static"
like "$out" "php:      $T/bin/php-fpm7.9 \\(.php-version asks for 7.9; --php\\)" \
    "...--dev-explain: the php-fpm .php-version asks for, because of --php"
like "$out" "preset:   php \\(--php; detected none\\)" "...preset php, named as --php's"
unlike "$(cd "$T/static-php" && PATH="$T/bin:$PATH" "$WHARF" --dev-explain 2>&1)" "php:" \
    "...without --php a .php-version alone starts no php-fpm"
PATH="$T/bin:$PATH" dev_start static-php --php
is "$(body /hello.php)" "hello from php" "static project with --php: PHP runs"
like "$(cat "$T/stand-in-ran" 2>/dev/null)" "--fpm-config" "...on the php-fpm7.9 .php-version names"
stop_pid "$WPID"

# --dev-explain shows the final values under the override flags, and which flag set each
out=$(cd "$T/laravel" && "$WHARF" --dev-explain --root "$T/static" --preset php \
    --php 127.0.0.1:9 --listen 127.0.0.1:8099 --gzip --browse --access-log "$T/x.log" 2>&1)
like "$out" "root:     $T/static \\(--root; detected $T/laravel/public\\)" "explain: --root wins, named"
like "$out" "preset:   php \\(--preset; detected laravel\\)" "explain: --preset wins, named"
like "$out" "php:      127.0.0.1:9 \\(--php: a running php-fpm; none is started\\)" \
    "explain: --php ADDR, no php-fpm started"
unlike "$out" "version:" "...so no php-fpm version"
like "$out" "listen:   127.0.0.1:8099 \\(--listen\\)" "explain: --listen"
like "$out" "listings: on \\(--browse\\)" "explain: --browse"
like "$out" "gzip:     on \\(--gzip\\)" "explain: --gzip"
like "$out" "log:      $T/x.log \\(--access-log\\)" "explain: --access-log"
like "$(explain laravel)" "listen:   127.0.0.1:8080, else the next free port" \
    "explain without flags: the port search"

echo "7.3.1" >"$T/php/.php-version"
out=$(cd "$T/php" && PATH="$T/bin:$PATH" timeout 20 "$WHARF" 2>&1)
is "$?" 1 "a missing version: wharf exits 1"
installed=$( (ls "$T/bin"; ls /usr/sbin /usr/local/sbin $(echo "$PATH" | tr : ' ') 2>/dev/null) |
    grep '^php-fpm' | sort -u | tr '\n' ' ' | sed 's/ $//')
like "$out" "asks for PHP 7.3, but php-fpm7.3 is not installed" "...naming the version"
like "$out" "installed: $installed\$" "...and listing what is installed ($installed)"
echo "eight" >"$T/php/.php-version"
out=$(cd "$T/php" && timeout 20 "$WHARF" --dev-explain 2>&1)
like "$out" "$T/php/.php-version: expected a version such as 8.2" "a bad .php-version is an error"

finish
