#!/usr/bin/env bash
# The health gate (git_check) where php-fpm sees the code under another path (fastcgi_root):
# the check's DOCUMENT_ROOT and SCRIPT_FILENAME name the new release under that path, so a
# fatal commit is refused before the switch (not switched in and rolled back). And the gate of
# `wharf --deploy`: the command line serves its own checks on a private loopback port, whether
# a server runs or not; a fatal commit is refused there too, and a commit that fails only once
# live is rolled back by the command line itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

start_fpm gatecli "$T/fpm.sock" 'php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on'

# index.php?check=1: 204 while the release holds "ok" (the check logs the paths it was given)
good_php() {
    cat <<EOF
<?php
if (isset(\$_GET['check'])) {
    error_log('check docroot=' . \$_SERVER['DOCUMENT_ROOT'] . ' script=' . \$_SERVER['SCRIPT_FILENAME']);
    http_response_code(file_exists(__DIR__ . '/ok') ? 204 : 503);
    exit;
}
echo "$1";
EOF
}
FATAL='<?php
undefined_cli_gate_function();
echo "fatal";'

new_remote app main
put app index.php "$(good_php v1)"
put app ok "1"
put app env.php '<?php echo $_SERVER[$_GET["v"]];'
push app "v1"
SHA1=$SHA

# php-fpm "sees" the code under $T/view (a link to $T: the same files under another path)
ln -s "$T" "$T/view"
new_port
cat >"$T/main.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site app]
root = $T/site
fastcgi = unix:$T/fpm.sock
fastcgi_root = $T/view/site
git_repo = $T/app.git
git_interval = 1h
git_keep = 5
git_status = /_status
git_after = test ! -f after.sh || sh after.sh
git_check = /index.php?check=1 204
git_check_retries = 2
git_check_interval = 200ms
EOF
start_wharf_ini "$T/main.ini"
STATE=$(state_of "$T/site")
wait_until 20000 body_is /index.php "v1"
is "$(body /index.php)" "v1" "fastcgi_root: the first deploy passed the gate"
REL1=$(live_name "$T/site")
like "$(cat "$T/wharf.err")" "check docroot=$T/view/\.site\.wharf/releases/$REL1 script=$T/view/\.site\.wharf/releases/$REL1/index\.php" \
    "fastcgi_root: the check's DOCUMENT_ROOT and SCRIPT_FILENAME are the new release under fastcgi_root"
is "$(body '/env.php?v=DOCUMENT_ROOT')" "$T/view/.site.wharf/releases/$REL1" \
    "fastcgi_root: a live request's DOCUMENT_ROOT is the live release under fastcgi_root"
is "$(body '/env.php?v=SCRIPT_FILENAME')" "$T/view/.site.wharf/releases/$REL1/env.php" \
    "fastcgi_root: and so is its SCRIPT_FILENAME (php-fpm's caches never serve an older release)"

# ==== a fatal commit is refused before the switch (the check ran the new code) ===================
put app index.php "$FATAL"
push app "v2 fatal"
SHA2=$SHA
: >"$T/during.txt"
( for i in $(seq 1 1000); do body /index.php >>"$T/during.txt"; echo >>"$T/during.txt"; \
    [ -e "$T/stop-during" ] && break; sleep 0.02; done ) &
LOOP=$!
PIDS+=("$LOOP")
kill -USR2 "$WPID"
wait_until 30000 eval '[[ "$(sj last_error)" == *"${SHA2:0:12}"* ]]'
touch "$T/stop-during"
wait "$LOOP" 2>/dev/null
like "$(sj last_error)" "git_check refused ${SHA2:0:12} before the switch" \
    "fastcgi_root: the fatal commit is refused before the switch"
like "$(sj last_error)" "PHP Fatal error: +Uncaught Error: Call to undefined function undefined_cli_gate_function" \
    "fastcgi_root: the reason is the new release's fatal error"
unlike "$(cat "$T/wharf.err")" "rolled back" "fastcgi_root: it never went live (no rollback was needed)"
is "$(grep -vc '^v1$' "$T/during.txt")" 0 "fastcgi_root: every request during the attempt got v1"
is "$(live_name "$T/site")" "$REL1" "fastcgi_root: v1 stays live"

# ==== wharf --deploy runs the gate (a server is running; the command line serves its own) ======
: >"$T/cli.err"
"$WHARF" --config "$T/main.ini" --deploy app >>"$T/cli.out" 2>"$T/cli.err"
is "$?" 1 "--deploy of the fatal commit: exit status 1"
like "$(cat "$T/cli.err")" "git_check refused ${SHA2:0:12} before the switch.*PHP Fatal error" \
    "--deploy: the gate refused it, with php-fpm's reason"
like "$(cat "$T/cli.err")" "PHP Fatal error: .* in $T/.*releases/[0-9]{6}-[0-9TZ]{16}-${SHA2:0:12}/index\.php" \
    "--deploy: its check ran the new release's PHP"
unlike "$(cat "$T/cli.err")" "without the gate" "--deploy: no deploy without the gate"
is "$(live_name "$T/site")" "$REL1" "--deploy: v1 stays live"
is "$(body /index.php)" "v1" "--deploy: the server still serves v1"
like "$(tail -1 "$STATE/history")" "	deploy	cli	failed	$SHA2	" \
    "--deploy: the history records the refused deploy"

# ==== --deploy with no server running: a good commit passes the gate and goes live ===============
stop_pid "$WPID"
put app index.php "$(good_php v3)"
push app "v3"
SHA3=$SHA
"$WHARF" --config "$T/main.ini" --deploy app >>"$T/cli.out" 2>"$T/cli.err"
is "$?" 0 "--deploy (no server) of a good commit: exit status 0"
like "$(cat "$T/cli.err")" "git_check passed on ${SHA3:0:12} before the switch" \
    "--deploy (no server): the log says the check passed before the switch"
like "$(live_name "$T/site")" "${SHA3:0:12}\$" "--deploy (no server): v3 is live"
REL3=$(live_name "$T/site")
like "$(cat "$T/cli.err")" "check docroot=$T/view/\.site\.wharf/releases/$REL3 script=$T/view/\.site\.wharf/releases/$REL3/index\.php" \
    "--deploy (no server): the check's paths are the new release under fastcgi_root"

# ==== --deploy: a commit that fails only once live is rolled back by the command line ============
put app index.php "$(good_php v4)"
put app after.sh 'rm -f ok'
push app "v4 fails live"
SHA4=$SHA
"$WHARF" --config "$T/main.ini" --deploy app >>"$T/cli.out" 2>"$T/cli.err"
is "$?" 1 "--deploy of a commit that fails live: exit status 1"
like "$(cat "$T/cli.err")" "git_check failed 2 times in a row on the live ${SHA4:0:12}; rolled back to ${SHA3:0:12}" \
    "--deploy: the checks after the switch failed and it rolled back"
like "$(live_name "$T/site")" "${SHA3:0:12}\$" "--deploy: v3 is live again"
like "$(cat "$STATE/rolled-back" 2>/dev/null)" "${SHA4:0:12}" "--deploy: v4 is on the rolled-back list"

# the server, started again, serves v3 and leaves v4 alone
start_wharf_ini "$T/main.ini"
wait_until 20000 body_is /index.php "v3"
is "$(body /index.php)" "v3" "a server started after the command line serves v3"
is "$(body '/env.php?v=DOCUMENT_ROOT')" "$T/view/.site.wharf/releases/$REL3" \
    "fastcgi_root: DOCUMENT_ROOT follows the live release (v3's)"
ok $(holds_for 2000 body_is /index.php "v3" && echo 0 || echo 1) "and does not deploy v4 again"
finish
