#!/usr/bin/env bash
# Development mode's terminal: one human line per request (method, path, status, duration, PHP
# time), PHP's stderr under the request that caused it, colour on a terminal only (tmux) and
# never with NO_COLOR, php-fpm crashes and restarts announced, and the error page that replaces
# an empty 500 from a PHP fatal error (development mode only).
. "$(dirname "$0")/lib.sh"

find_fpm >/dev/null || skip_all "php-fpm is not installed"
command -v tmux >/dev/null || skip_all "tmux is not installed"
mkdir -p "$T/app"
printf '<?php echo "home";\n' >"$T/app/index.php"
printf '<?php\nerror_log("about to fail");\nnope();\n' >"$T/app/fatal.php"
printf '<?php\nerror_log("a warning line");\necho "fine";\n' >"$T/app/warn.php"

# ---- the error page, and the request lines (stderr not a terminal: no colour) ---------------
PORT=$(free_port)
(cd "$T/app" && exec "$WHARF" --no-watch --listen "127.0.0.1:$PORT" 2>"$T/dev.err") &
WPID=$!
PIDS+=("$WPID")
wait_for_http "$(URL /)" 20 || bail "wharf dev did not start: $(cat "$T/dev.err")"
is "$(status /fatal.php)" 500 "a fatal error is still a 500"
headers /fatal.php >"$T/fatal.h"
is "$(header_value Content-Type <"$T/fatal.h")" "text/html; charset=utf-8" \
    "error page: HTML (one Content-Type, the application's dropped)"
is "$(grep -ci '^content-type:' "$T/fatal.h")" 1 "...exactly one Content-Type header"
body /fatal.php >"$T/fatal.html"
like "$(cat "$T/fatal.html")" "Call to undefined function nope\\(\\)" "error page: PHP's message"
like "$(cat "$T/fatal.html")" "<mark>$T/app/fatal.php:3</mark>" "error page: file and line marked"
like "$(cat "$T/fatal.html")" "about to fail" "error page: the request's earlier stderr lines too"
is "$(header_value Content-Length <"$T/fatal.h")" "$(wc -c <"$T/fatal.html" | tr -d ' ')" \
    "error page: Content-Length is the page's"
python3 -c '
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.stack = []
    def handle_starttag(s, t, a):
        if t not in ("meta", "br"): s.stack.append(t)
    def handle_endtag(s, t):
        assert s.stack and s.stack[-1] == t, (s.stack, t); s.stack.pop()
p = P(); p.feed(open(sys.argv[1]).read()); p.close(); assert not p.stack, p.stack' "$T/fatal.html"
ok $? "error page: well-formed HTML"
is "$(body /warn.php)" "fine" "a page that logs and succeeds keeps its body"
wait_grep "$T/dev.err" '^\d\d:\d\d:\d\d GET +/warn\.php 200 [0-9.]+ m?s \(php [0-9.]+ m?s\)$' 10
ok $? "request line: time, method, path, status, duration, PHP time"
grep -A1 -P 'GET +/warn\.php 200' "$T/dev.err" | tail -1 >"$T/under"
like "$(cat "$T/under")" '^    \| .*a warning line' "PHP's stderr line is shown under its request"
like "$(grep -A1 -P 'GET +/fatal\.php 500' "$T/dev.err" | tail -1)" '^    \| .*about to fail' \
    "...and the fatal error's under its own"
is "$(grep -c 'a warning line' "$T/dev.err")" 1 "...once (not again through php-fpm's log)"
is "$(grep -c $'\033' "$T/dev.err")" 0 "no colour when stderr is not a terminal"
curl -s -o /dev/null "$(URL "/missing.txt?q=%1b")"
wait_grep "$T/dev.err" '^\d\d:\d\d:\d\d GET +/missing\.txt\?q=%1b 404 [0-9.]+ m?s$' 10
ok $? "a static request's line: no PHP time; the target as sent"

# ---- php-fpm crash and restart, announced ---------------------------------------------------
master=$(pgrep -P "$WPID" | head -1)
kill -9 "$master"
wait_grep "$T/dev.err" 'php-fpm exited \(signal 9\)' 10
ok $? "a php-fpm crash is announced"
wait_grep "$T/dev.err" 'restarted .*php-fpm' 20
ok $? "...and its restart"
wait_until 20000 body_is /index.php home
ok $? "...after which PHP runs again"
stop_pid "$WPID"

# ---- production path: the same fatal error gives the empty 500, no request lines -----------
start_wharf --root "$T/app" --php
is "$(status /fatal.php)" 500 "production: 500"
is "$(nbytes /fatal.php)" 0 "production: the 500 stays empty (no stderr shown to clients)"
wait_grep "$T/wharf.err" 'stderr: .*Call to undefined function' 10
ok $? "production: PHP's stderr goes to the error log"
unlike "$(cat "$T/wharf.err")" 'GET +/fatal\.php 500' "production: no development request lines"
stop_pid "$WPID"

# ---- a terminal (tmux): the banner and a coloured request line; NO_COLOR ---------------------
SOCK="$T/tmux.sock"
tmux_run() { # tmux_run NAME ENV: wharf dev in a detached tmux window on a fresh $PORT
    PORT=$(free_port)
    tmux -S "$SOCK" new-session -d -s "$1" -x 200 -y 50 \
        "cd '$T/app' && env $2 '$WHARF' --listen 127.0.0.1:$PORT; sleep 30"
    wait_for_http "$(URL /)" 20 || bail "wharf in tmux did not start"
    TMUX_WHARF+=("$(pgrep -f -n -- "--listen 127.0.0.1:$PORT\$")")
}
TMUX_WHARF=()
capture() { tmux -S "$SOCK" capture-pane -p -e -t "$1"; }
tmux_run color ""
TMUX_SERVER=$(tmux -S "$SOCK" display -p '#{pid}')
PIDS+=("$TMUX_SERVER")
curl -s -o /dev/null "$(URL /index.php)"
wait_until 10000 sh -c "tmux -S '$SOCK' capture-pane -p -t color | grep -q 'GET .*/index.php'"
capture color >"$T/tty.txt"
like "$(cat "$T/tty.txt")" "detected  .*PHP.*\\(index\\.php\\)" "tmux: the banner says what was detected"
like "$(cat "$T/tty.txt")" "url       .*http://127\\.0\\.0\\.1:$PORT/" "tmux: ...and the URL"
like "$(cat "$T/tty.txt")" "stop      .*Ctrl\\+C" "tmux: ...and how to stop"
like "$(sed 's/\x1b\[[0-9;]*m//g' "$T/tty.txt")" '[0-9:]{8} GET +/index\.php 200 [0-9.]+ m?s \(php ' \
    "tmux: one request line"
like "$(grep 'index.php' "$T/tty.txt")" $'\033\\[32m200' "tmux: the status is coloured on a terminal"
tmux_run nocolor "NO_COLOR=1"
curl -s -o /dev/null "$(URL /index.php)"
wait_until 10000 sh -c "tmux -S '$SOCK' capture-pane -p -t nocolor | grep -q 'GET .*/index.php'"
capture nocolor >"$T/nocolor.txt"
like "$(cat "$T/nocolor.txt")" 'GET +/index\.php 200' "NO_COLOR: the request line"
is "$(grep -c $'\033' "$T/nocolor.txt")" 0 "NO_COLOR: no colour on a terminal"
# closing the terminal (tmux killed: SIGHUP) stops the development server and its php-fpm,
# as it stops php -S (a configured server reloads on SIGHUP instead)
tmux -S "$SOCK" kill-server
ok "$([ "${#TMUX_WHARF[@]}" -eq 2 ] && [ -n "${TMUX_WHARF[0]}" ] && [ -n "${TMUX_WHARF[1]}" ]; echo $?)" \
    "the two wharf processes in tmux were found (${TMUX_WHARF[*]})"
for p in "${TMUX_WHARF[@]}"; do
    ok "$(wait_until 15000 sh -c "! kill -0 $p 2>/dev/null"; echo $?)" \
        "a hangup (the terminal closed) stops development mode (pid $p)"
done

finish
