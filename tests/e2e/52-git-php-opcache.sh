#!/usr/bin/env bash
# Git deploy + FastCGI: DOCUMENT_ROOT and SCRIPT_FILENAME carry the live release's real path
# (not the root symlink), so php-fpm's OPcache with validate_timestamps = 0 runs the new code
# right after a deploy switches the root: a PHP file that changes between two commits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

FPM=$(find_fpm) || skip_all "php-fpm is not installed"
"$FPM" -m 2>/dev/null | grep -qi '^Zend OPcache$' || skip_all "OPcache is not available in $FPM"
unset DOCUMENT_ROOT SCRIPT_FILENAME 2>/dev/null # php-fpm imports its environment (clear_env = no)

new_remote remote
put remote index.php '<?php echo "code v1";'
put remote marker.txt "1"
put remote oc.php '<?php echo json_encode(["on" => function_exists("opcache_get_status") && opcache_get_status(false) !== false, "validate" => ini_get("opcache.validate_timestamps")]);'
put remote cached.php '<?php echo opcache_is_script_cached($_SERVER["DOCUMENT_ROOT"] . "/index.php") ? "cached" : "not cached";'
put remote env.php '<?php echo $_SERVER["DOCUMENT_ROOT"], "|", $_SERVER["SCRIPT_FILENAME"];'
push remote "c1"

# file_update_protection = 0: OPcache caches the freshly checked-out files at once (by default it
# skips files younger than 2 s), so a stale cache entry would really be hit after the switch.
start_fpm opc "$T/fpm.sock" 'php_admin_value[opcache.enable] = 1
php_admin_value[opcache.validate_timestamps] = 0
php_admin_value[opcache.file_update_protection] = 0'
PORT=$(free_port)
cat >"$T/php.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site php]
root = $T/site
git_repo = $T/remote.git
git_interval = 0
fastcgi = unix:$T/fpm.sock
EOF
start_wharf_ini "$T/php.ini"

wait_until 10000 body_is /marker.txt "1"
is "$(body /index.php)" "code v1" "first deploy: the PHP page runs"
is "$(body /oc.php)" '{"on":true,"validate":"0"}' "php-fpm runs with OPcache on (opcache_get_status() !== false) and validate_timestamps = 0"
body /index.php >/dev/null
is "$(body /cached.php)" "cached" "index.php of the first release is in OPcache (so stale code would show)"
REL1=$(realpath "$T/site")
is "$(body /env.php)" "$REL1|$REL1/env.php" "DOCUMENT_ROOT and SCRIPT_FILENAME are the release's real path"
ok $([ "$REL1" != "$T/site" ] && echo 0 || echo 1) "the release's real path is not the root symlink's path"

put remote index.php '<?php echo "code v2";'
put remote marker.txt "2"
push remote "c2"
kill -USR2 "$WPID"
wait_until 10000 body_is /marker.txt "2"
is "$(body /marker.txt)" "2" "second deploy (SIGUSR2): the static marker changed"
is "$(body /index.php)" "code v2" "second deploy: the new PHP output appears right after the switch (OPcache, validate_timestamps = 0)"
REL2=$(realpath "$T/site")
ok $([ "$REL2" != "$REL1" ] && echo 0 || echo 1) "second deploy: a new release directory"
is "$(body /env.php)" "$REL2|$REL2/env.php" "second deploy: DOCUMENT_ROOT and SCRIPT_FILENAME name the new release"

finish
