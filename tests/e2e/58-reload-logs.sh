#!/usr/bin/env bash
# A reload lets go of the access-log files no site names any more: once the old sites stop,
# their file is flushed and closed (no longer in /proc/PID/fd, not recreated by a SIGUSR1
# reopen), while a file the new configuration still uses (one shared by two sites, one of
# them removed) stays open and keeps getting lines, and the new file gets the new lines.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/a" "$T/b"
printf 'site a' >"$T/a/index.html"
printf 'site b' >"$T/b/index.html"
PORT=$(free_port)

# v1: a logs to A.log, b and gone share S.log; v2: a logs to B.log, gone is removed.
v1() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site a]" "hosts = a.test" "root = $T/a" "access_log = $T/A.log" \
        "[site b]" "hosts = b.test" "root = $T/b" "access_log = $T/S.log" \
        "[site gone]" "hosts = gone.test" "root = $T/b" "access_log = $T/S.log"
}
v2() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site a]" "hosts = a.test" "root = $T/a" "access_log = $T/B.log" \
        "[site b]" "hosts = b.test" "root = $T/b" "access_log = $T/S.log"
}
# open_in_wharf FILE: wharf has FILE open
open_in_wharf() {
    local f
    for f in /proc/"$WPID"/fd/*; do
        [ "$(readlink "$f")" = "$1" ] && return 0
    done
    return 1
}
lines() { [ -e "$1" ] && wc -l <"$1" || echo 0; }

v1 >"$T/w.ini"
start_wharf_ini "$T/w.ini"
is "$(body / -H 'Host: a.test')" "site a" "v1: site a"
wait_grep "$T/A.log" '"GET / HTTP/1.1" 200' 5
ok $? "v1: site a logs to A.log"
ok "$(open_in_wharf "$T/A.log"; echo $?)" "v1: A.log is open"
ok "$(open_in_wharf "$T/S.log"; echo $?)" "v1: S.log is open"

v2 >"$T/w.ini"
kill -HUP "$WPID"
wait_grep "$T/wharf.err" 'configuration reloaded' 10
ok $? "v2 reloaded"
is "$(body /v2-a -H 'Host: a.test' -o /dev/null -w '%{http_code}')" "404" "v2: a request to site a"
wait_grep "$T/B.log" '"GET /v2-a HTTP/1.1" 404' 5
ok $? "v2: site a's lines go to B.log"
wait_until 20000 eval '! open_in_wharf "$T/A.log"'
ok $? "A.log, which no site names any more, is closed once the old sites stop"
ok "$(open_in_wharf "$T/S.log"; echo $?)" "S.log, still site b's, stays open"
ok "$(open_in_wharf "$T/B.log"; echo $?)" "B.log is open"

# logrotate-style: rename A.log away and reopen every log: A.log is not recreated, and
# nothing new reaches the renamed file.
a_lines=$(lines "$T/A.log")
mv "$T/A.log" "$T/A.log.1"
kill -USR1 "$WPID"
wait_grep "$T/wharf.err" 'logs reopened' 10
ok $? "SIGUSR1: logs reopened"
body /after-a -H 'Host: a.test' >/dev/null
body /after-b -H 'Host: b.test' >/dev/null
wait_grep "$T/B.log" '"GET /after-a HTTP/1.1"' 5
ok $? "site a's line after the reopen is in B.log"
wait_grep "$T/S.log" '"GET /after-b HTTP/1.1"' 5
ok $? "site b's line after the reopen is in S.log (kept across the reload)"
ok "$([ ! -e "$T/A.log" ]; echo $?)" "A.log is not recreated by the reopen"
is "$(lines "$T/A.log.1")" "$a_lines" "the renamed A.log got nothing new"
finish
