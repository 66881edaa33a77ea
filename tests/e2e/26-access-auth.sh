#!/usr/bin/env bash
# auth_basic = PATH htpasswd-file [realm]: 401 with WWW-Authenticate without credentials or
# with wrong ones (unknown user too); hashes made by htpasswd (bcrypt) and mkpasswd
# (sha512-crypt, yescrypt) are accepted; a POST body reaches PHP after the check; the file is
# read again when it changes; and slow bcrypt checks never stall the worker: with one worker
# thread, a public file is served while expensive checks are still running. Malformed values
# are config errors with FILE:LINE.
. "$(dirname "$0")/lib.sh"

command -v htpasswd >/dev/null || skip_all "htpasswd (apache2-utils) is not installed"
command -v mkpasswd >/dev/null || skip_all "mkpasswd (whois) is not installed"
mkdir -p "$T/www/admin" "$T/www/pub"
printf 'admin page\n' >"$T/www/admin/a.txt"
printf 'public\n' >"$T/www/pub/p.txt"
printf '<?php echo strlen(file_get_contents("php://input")), " ", $_SERVER["REMOTE_USER"] ?? "-", " ", $_SERVER["AUTH_TYPE"] ?? "-";\n' \
    >"$T/www/admin/post.php"
htpasswd -cbB -C 5 "$T/htpasswd" alice secret 2>/dev/null
printf 'bob:%s\n' "$(mkpasswd -m sha-512 hunter2)" >>"$T/htpasswd"
printf 'carol:%s\n' "$(mkpasswd -m yescrypt 'correct horse')" >>"$T/htpasswd"
htpasswd -bB -C 14 "$T/htpasswd" slow slowpass 2>/dev/null
start_fpm auth "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/auth.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
workers = 1
[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
access_log = $T/access.log
auth_basic = /admin $T/htpasswd "Admin area"
INI
start_wharf_ini "$T/auth.ini"

h=$(headers /admin/a.txt)
like "$h" '^HTTP/1.1 401' "no credentials: 401"
is "$(header_value WWW-Authenticate <<<"$h")" 'Basic realm="Admin area", charset="UTF-8"' \
    "WWW-Authenticate names the realm"
is "$(body /admin/a.txt -u alice:secret)" "admin page" "bcrypt (htpasswd -B): right password"
is "$(status /admin/a.txt -u alice:Secret)" 401 "bcrypt: wrong password"
is "$(status /admin/a.txt -u nobody:secret)" 401 "an unknown user"
is "$(body /admin/post.php -u bob:hunter2)" "0 bob Basic" \
    "sha512-crypt (mkpasswd): right password; REMOTE_USER set after the pool's check"
is "$(status /admin/a.txt -u bob:hunter3)" 401 "sha512-crypt: wrong password"
is "$(status /admin/a.txt -u 'carol:correct horse')" 200 "yescrypt (mkpasswd): right password"
is "$(status /admin/a.txt -H 'Authorization: Basic !!!')" 401 "a malformed header"
is "$(status /admin/a.txt -u alice:secret)" 200 "the same credentials again (remembered)"
is "$(status /pub/p.txt)" 200 "other paths need nothing"
is "$(status /%61dmin/a.txt)" 401 "the rule matches the decoded path"
head -c 200000 /dev/zero | tr '\0' x >"$T/body"
is "$(curl -s -u alice:secret --data-binary @"$T/body" "$(URL /admin/post.php)")" \
    "200000 alice Basic" "a POST body reaches PHP after the check, with REMOTE_USER and AUTH_TYPE"
is "$(curl -s -u alice:secret "$(URL /admin/post.php)")" "0 alice Basic" \
    "REMOTE_USER of remembered credentials too"
ok "$(wait_grep "$T/access.log" '^127\.0\.0\.1 - alice \[.*"POST /admin/post.php'; echo $?)" \
    "the access log names the user"
is "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/body" "$(URL /admin/post.php)")" \
    401 "a POST without credentials: 401"

# the file changes: a new user can log in within a few seconds, a removed one cannot
htpasswd -bB -C 5 "$T/htpasswd" dave newpass 2>/dev/null
ok "$(wait_until 10000 status_is /admin/a.txt 200 -u dave:newpass; echo $?)" \
    "a user added to the file is accepted without a restart"
htpasswd -D "$T/htpasswd" alice 2>/dev/null
ok "$(wait_until 10000 status_is /admin/a.txt 401 -u alice:secret; echo $?)" \
    "a removed user is refused (even though remembered)"

# slow checks run off the event loop: 4 bcrypt-14 checks (two pool threads, so at least two
# rounds of a costly hash) are under way while the only worker serves a public file
for i in 1 2 3 4; do
    curl -s -o "$T/slow.$i" -w '%{http_code}' -u slow:wrongpass "$(URL /admin/a.txt)" \
        >"$T/slow.$i.code" &
    SLOW+=($!)
done
sleep 0.2
is "$(status /pub/p.txt)" 200 "a public file is served while the checks run"
running=0
for p in "${SLOW[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
ok "$([ "$running" -ge 1 ]; echo $?)" "... before they are all done ($running still running)"
wait "${SLOW[@]}"
is "$(cat "$T"/slow.*.code | tr -d '\n')" "401401401401" "the slow checks all end in 401"

# a stop while checks are queued and running (shutdown_timeout = 0: nothing waits for them):
# every suspended request is resumed before the daemons stop (MHD aborts the process when one
# is still suspended), queued checks end in 503, and wharf exits 0
stop_pid "$WPID"
new_port
sed -e "s/^listen = .*/listen = 127.0.0.1:$PORT/" -e 's/^workers = 1/workers = 1\nshutdown_timeout = 0/' \
    "$T/auth.ini" >"$T/stop.ini"
start_wharf_ini "$T/stop.ini"
STOPPERS=()
for i in 1 2 3 4 5 6; do
    curl -s -o /dev/null -w '%{http_code}' -u slow:wrongpass "$(URL /admin/a.txt)" \
        >"$T/stop.$i.code" &
    STOPPERS+=($!)
done
# the checks are under way once the pool's threads burn CPU (bcrypt-14: about a second each)
wait_until 5000 bash -c "[ \$(ps -L -o pcpu= -p $WPID | awk '\$1 > 20' | wc -l) -ge 1 ]"
kill -TERM "$WPID"
wait "$WPID"
is "$?" 0 "a stop with password checks queued and running exits 0"
unlike "$(cat "$T/wharf.err")" "suspended|MHD_stop_daemon|Aborted" "... without MHD's panic"
wait "${STOPPERS[@]}"
codes=$(cat "$T"/stop.*.code | tr -d '\n')
like "$codes" "503" "a check still queued at the stop is answered 503 ($codes)"
unlike "$codes" "200" "... and none is let through"

cat >"$T/bad.ini" <<INI
[site a]
root = $T/www
auth_basic = /admin
auth_basic = admin $T/htpasswd
auth_basic = /x $T/no-such-file
auth_basic = /y $T/htpasswd bad\\realm
INI
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: auth_basic: expected an htpasswd file after the path" "no file"
like "$out" "bad.ini:4: auth_basic: expected .*got 'admin'" "a path that is not a pattern"
like "$out" "bad.ini:5: auth_basic: htpasswd file '.*no-such-file': No such file" \
    "a missing file is a config error with its line"
like "$out" "bad.ini:6: auth_basic: expected a realm without" "a realm with a backslash"
finish
