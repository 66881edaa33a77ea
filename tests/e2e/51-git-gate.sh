#!/usr/bin/env bash
# The health gate of git deploys (git_check): before the switch, the check path is asked of
# the new release through the site's own pipeline (PHP through php-fpm with DOCUMENT_ROOT in
# the release); a failing check keeps the old release live (every request during the attempt
# gets the old content) and says why (status, body prefix, php-fpm's stderr) in the status
# JSON and the log. After the switch the check runs against the live site; when it fails
# git_check_retries times in a row, wharf rolls back by itself and polling does not deploy the
# commit again. A forged check header from outside never reaches a release. Bounded polls only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

start_fpm gate "$T/fpm.sock" 'php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on'

# index.php?check=1 is the health check: 204 while the release holds "ok", else 503 with a body
good_php() {
    cat <<EOF
<?php
if (isset(\$_GET['check'])) {
    error_log('check docroot=' . \$_SERVER['DOCUMENT_ROOT'] . ' script=' . \$_SERVER['SCRIPT_FILENAME']);
    if (!file_exists(__DIR__ . '/ok')) {
        error_log('health: the ok file is missing');
        http_response_code(503);
        echo "ok file missing in $1";
        exit;
    }
    http_response_code(204);
    exit;
}
echo "$1";
EOF
}

new_remote app main
put app index.php "$(good_php v1)"
put app ok "1"
push app "v1"
SHA1=$SHA

new_port
APORT=$(free_port)
SECRET=gate-hook-secret
cat >"$T/main.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
admin_listen = 127.0.0.1:$APORT

[site app]
root = $T/site
fastcgi = unix:$T/fpm.sock
git_repo = $T/app.git
git_interval = 1s
git_keep = 3
git_status = /_status
git_hook = /_hook
git_secret = $SECRET
git_after = test ! -f after.sh || sh after.sh
git_check = /index.php?check=1 204
git_check_timeout = 10s
git_check_retries = 3
git_check_interval = 300ms
EOF
start_wharf_ini "$T/main.ini"
STATE=$(state_of "$T/site")
wait_until 20000 body_is /index.php "v1"
is "$(body /index.php)" "v1" "first deploy: the gate passed and v1 is live"
REL1=$(basename "$(readlink "$T/site")")
like "$(cat "$T/wharf.err")" "git_check passed on ${SHA1:0:12} before the switch" \
    "first deploy: the log says the check passed before the switch"
like "$(cat "$T/wharf.err")" "stderr: PHP message: check docroot=$STATE/releases/$REL1 script=$STATE/releases/$REL1/index.php" \
    "the check ran PHP with DOCUMENT_ROOT and SCRIPT_FILENAME in the new release"

# ==== a commit whose PHP is fatal is refused; the old release keeps serving =====================
put app index.php '<?php
undefined_gate_function();
echo "v2";'
: >"$T/during.txt"
# requests from before the push until after the refusal (bounded: 1000 at most)
( for i in $(seq 1 1000); do body /index.php >>"$T/during.txt"; echo >>"$T/during.txt"; \
    [ -e "$T/stop-during" ] && break; sleep 0.02; done ) &
LOOP=$!
PIDS+=("$LOOP")
wait_until 10000 eval '[ "$(grep -c . "$T/during.txt")" -ge 3 ]'
push app "v2 fatal"
SHA2=$SHA
wait_until 20000 eval '[[ "$(sj last_error)" == *"${SHA2:0:12}"* ]]'
sleep 0.2
touch "$T/stop-during"
wait "$LOOP" 2>/dev/null
ERR=$(sj last_error)
like "$ERR" "git_check refused ${SHA2:0:12} before the switch" "fatal commit: refused by the gate"
like "$ERR" "status 500, expected 204" "fatal commit: last_error has the status"
like "$ERR" "body: \"\"" "fatal commit: last_error has the body prefix (empty: display_errors is off)"
like "$ERR" "PHP Fatal error: +Uncaught Error: Call to undefined function undefined_gate_function" \
    "fatal commit: last_error has php-fpm's stderr line"
like "$(cat "$T/wharf.err")" "deploy failed .*git_check refused ${SHA2:0:12}.*PHP Fatal error" \
    "fatal commit: the error log says why"
is "$(body /index.php)" "v1" "fatal commit: v1 stays live"
N=$(grep -c . "$T/during.txt")
BAD=$(grep -vc '^v1$' "$T/during.txt")
ok $([ "$N" -ge 5 ] && [ "$BAD" -eq 0 ] && echo 0 || echo 1) \
    "fatal commit: every request during the attempt got v1 ($N requests, $BAD others)"
ok $(releases "$T/site" | grep -q "${SHA2:0:12}" && echo 1 || echo 0) \
    "fatal commit: its release was removed"
like "$(sj history)" "\"result\": *\"failed\"" "fatal commit: the history records the failed deploy"
metric() { curl -s "http://127.0.0.1:$APORT/metrics" | grep -E "^wharf_git_check_failures_total\{.*stage=\"$1\"" | awk '{print $2}'; }
is "$(metric before_switch)" 1 "fatal commit: wharf_git_check_failures_total{stage=before_switch} counts it"

# ==== a refused commit is not built again by polls; asked for again, it is tried again ==========
wait_grep "$T/wharf.err" "${SHA2:0:12} was refused by git_check: not tried again" 10
ok $(holds_for 3500 eval '[ "$(metric before_switch)" = 1 ]' && echo 0 || echo 1) \
    "refused commit: the next polls (git_interval = 1s) do not build it again"
is "$(grep -c "deploying ${SHA2:0:12}" "$T/wharf.err")" 1 "refused commit: built once"
is "$(grep -c "${SHA2:0:12} was refused by git_check" "$T/wharf.err")" 1 \
    "refused commit: the polls that leave it alone log it once"
like "$(sj last_error)" "not tried again until the branch moves.*git_check refused ${SHA2:0:12} .*PHP Fatal error" \
    "refused commit: last_error still says why"
like "$(cat "$STATE/refused" 2>/dev/null | head -1)" "^$SHA2\$" "refused commit: recorded in the state directory"
kill -USR2 "$WPID"
wait_until 20000 eval '[ "$(metric before_switch)" = 2 ]'
is "$(metric before_switch)" 2 "SIGUSR2: the refused commit is tried again (and refused again)"
is "$(grep -c "deploying ${SHA2:0:12}" "$T/wharf.err")" 2 "SIGUSR2: built a second time"
is "$(body /index.php)" "v1" "SIGUSR2: v1 stays live"
ok $(holds_for 2500 eval '[ "$(metric before_switch)" = 2 ]' && echo 0 || echo 1) \
    "after SIGUSR2: the polls leave it alone again"
is "$(push_hook)" 202 "a push webhook for the same commit is accepted"
wait_until 20000 eval '[ "$(metric before_switch)" = 3 ]'
is "$(metric before_switch)" 3 "push webhook: the refused commit is tried again"
is "$(body /index.php)" "v1" "push webhook: v1 stays live"

# ==== a commit that passes before the switch and fails live is rolled back by itself =============
put app index.php "$(good_php v3)"
put app after.sh 'rm -f ok'
push app "v3 fails live"
SHA3=$SHA
wait_until 30000 eval '[[ "$(sj last_error)" == *"rolled back"* ]]'
ERR=$(sj last_error)
like "$ERR" "git_check failed 3 times in a row on the live ${SHA3:0:12}; rolled back to ${SHA1:0:12}" \
    "live failure: rolled back to v1 after 3 failed checks"
like "$ERR" "status 503, expected 204; body: \"ok file missing in v3\"" \
    "live failure: last_error has the status and the body prefix"
like "$ERR" "stderr: .*health: the ok file is missing" "live failure: last_error has the PHP stderr"
is "$(body /index.php)" "v1" "live failure: v1 is live again"
like "$(cat "$STATE/rolled-back" 2>/dev/null)" "${SHA3:0:12}" "live failure: the commit is on the rolled-back list"
like "$(sj history)" "\"event\": *\"rollback\"" "live failure: the history records the rollback"
is "$(metric after_switch)" 1 "live failure: wharf_git_check_failures_total{stage=after_switch} is 1"
ok $(holds_for 3000 body_is /index.php "v1" && echo 0 || echo 1) \
    "live failure: the next polls (git_interval = 1s) do not deploy it again"
like "$(sj last_error)" "git_check failed 3 times in a row on the live ${SHA3:0:12}; rolled back" \
    "live failure: after those polls, last_error still says why (not cleared by a poll)"
REL3=$(releases "$T/site" | grep "${SHA3:0:12}" | head -1)

# ==== a forged check header from outside never reaches a release =================================
[ -n "$REL3" ] || bail "the release of v3 is gone (git_keep = 3 should keep it)"
is "$(body /index.php -H "X-Wharf-Check: 0000000000000000000000000000000000000000000000000" \
    -H "X-Wharf-Check-Release: $REL3")" "v1" "forged token: served from the live root, not the release"
is "$(body /index.php -H "X-Wharf-Check: " -H "X-Wharf-Check-Release: $REL3")" "v1" \
    "empty token: served from the live root"
is "$(status /index.php -H "X-Wharf-Check: x" -H "X-Wharf-Check-Release: ../../../etc")" 200 \
    "forged token with a path as release: an ordinary request"

# ==== the branch moves on: a good commit goes live ==============================================
put app index.php "$(good_php v4)"
put app hdr.php '<?php echo isset($_SERVER["HTTP_X_WHARF_CHECK"]) || isset($_SERVER["HTTP_X_WHARF_CHECK_RELEASE"]) ? "leaked" : "clean";'
rm -f "$T/app.work/after.sh"
push app "v4"
wait_until 20000 body_is /index.php "v4"
is "$(body /index.php)" "v4" "a good commit after the rollback goes live"
wait_until 10000 eval '[ "$(sj last_error)" = null ]'
is "$(sj last_error)" null "and last_error is cleared"
is "$(body /hdr.php -H "X-Wharf-Check: forged" -H "X-Wharf-Check-Release: x")" "clean" \
    "the check headers are never passed to FastCGI"

# ==== a reload that moves the listener: the checks follow it ===================================
OLDPORT=$PORT
new_port
sed -i "s|^listen = 127.0.0.1:$OLDPORT|listen = 127.0.0.1:$PORT|" "$T/main.ini"
kill -HUP "$WPID"
wait_grep "$T/wharf.err" "no longer listening on 127.0.0.1:$OLDPORT" 10
wait_until 10000 body_is /index.php "v4"
put app index.php "$(good_php v5)"
push app "v5"
wait_until 20000 body_is /index.php "v5"
is "$(body /index.php)" "v5" "after a reload to another port, the gate asks the new listener"

# ==== https_redirect: the gate's own requests (plain HTTP) are never redirected ==================
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
    -keyout "$T/tls.key" -out "$T/tls.pem" 2>/dev/null || bail "cannot make a certificate"
TPORT=$(free_port)
sed -i "s|^admin_listen = .*|&\ntls_listen = 127.0.0.1:$TPORT\ntls_cert = $T/tls.pem\ntls_key = $T/tls.key|" \
    "$T/main.ini"
printf 'https_redirect = on\n' >>"$T/main.ini"
kill -HUP "$WPID"
wait_grep "$T/wharf.err" "listening on 127.0.0.1:$TPORT" 10
is "$(status /index.php)" 308 "https_redirect: a plain request is redirected"
put app index.php "$(good_php v6)"
push app "v6"
https_v6() { [ "$(curl -sk "https://127.0.0.1:$TPORT/index.php")" = v6 ]; }
wait_until 20000 https_v6
ok $? "https_redirect: a new commit still passes its gate (checks over plain HTTP are answered)"
finish
