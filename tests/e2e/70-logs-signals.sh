#!/usr/bin/env bash
# Logs and signals: the access log line (Combined Log Format + duration), one line per request,
# access_log = off, --access-log - (stdout), the error log (timestamps, request ids), SIGUSR1
# reopening both logs after rotation, and SIGTERM (exit 0, promptly, port free). Log lines are
# written by a background thread, so every check polls (bounded) instead of sleeping.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www" "$T/offcwd"
printf 'hello' >"$T/www/x" # exactly 5 bytes

CLF='^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
TS='^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d'
REQID='(#[0-9]+|req(uest)?[-_ ]?id[=: ]+[0-9A-Za-z]+)'
LONGNAME="toolong-$(printf 'a%.0s' {1..300})"

count() { grep -Pc -- "$2" "$1" 2>/dev/null || true; }

# wait_exit PID SECONDS: poll until PID is gone; then EXIT_RC is its status (124 = still running)
wait_exit() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$1" 2>/dev/null; then
        EXIT_RC=124
    else
        wait "$1"
        EXIT_RC=$?
    fi
}

port_free() { # port_free PORT: 0 if a listener can bind 127.0.0.1:PORT (SO_REUSEADDR, as servers do)
    python3 -c 'import socket,sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
except OSError:
    sys.exit(1)' "$1"
}

# ---- access log: the exact line ---------------------------------------------------------------
PORT=$(free_port)
cat >"$T/logs.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
error_log = $T/error.log

[site main]
root = $T/www
access_log = $T/access.log
EOF
start_wharf_ini "$T/logs.ini"
MAIN_PID=$WPID
MAIN_PORT=$PORT

is "$(body /x -A ua -e ref)" "hello" "GET /x is served (5 bytes)"
wait_grep "$T/access.log" '"GET /x HTTP/1\.1"'
ok $? "the access log line for GET /x appears (bounded poll)"
line=$(grep -F '"GET /x HTTP/1.1"' "$T/access.log")
is "$(printf '%s\n' "$line" | wc -l)" 1 "exactly one access log line for one request"
printf '%s\n' "$line" | grep -Pq "$CLF"'"GET /x HTTP/1\.1" 200 5 "ref" "ua" \d+\.\d{3}$'
ok $? "access log line is Combined Log Format + duration: $line"

# one line per request, also on one keep-alive connection
curl -s -o /dev/null -o /dev/null -o /dev/null -A ua2 \
    "$(URL '/x?n=1')" "$(URL '/x?n=2')" "$(URL '/x?n=3')"
wait_grep "$T/access.log" '"GET /x\?n=3 HTTP/1\.1"'
for n in 1 2 3; do
    is "$(count "$T/access.log" "$CLF\"GET /x\\?n=$n HTTP/1\\.1\" 200 5 \"-\" \"ua2\" \\d+\\.\\d{3}\$")" 1 \
        "keep-alive request $n of 3: exactly one line, with the raw target and '-' for no Referer"
done
curl -s -o /dev/null -A ua3 "$(URL /missing-file)"
wait_grep "$T/access.log" '"GET /missing-file HTTP/1\.1"'
like "$(grep -F '/missing-file' "$T/access.log")" '"GET /missing-file HTTP/1\.1" 404 [0-9]+ "-" "ua3" [0-9]+\.[0-9]{3}$' \
    "a 404 is logged with its status and body size"
curl -s -o /dev/null -I -A ua4 "$(URL /x)"
wait_grep "$T/access.log" '"HEAD /x HTTP/1\.1"'
like "$(grep -F '"HEAD /x' "$T/access.log")" '"HEAD /x HTTP/1\.1" 200 (0|-) "-" "ua4" [0-9]+\.[0-9]{3}$' \
    "HEAD is logged with no body bytes"

# ---- error log: timestamps and request ids --------------------------------------------------
wait_grep "$T/error.log" "$TS"
ok $? "error_log = FILE receives lines"
unlike "$(grep -Pv "$TS" "$T/error.log")" '.' "every error log line starts with a timestamp"
is "$(cat "$T/wharf.err")" "" "with error_log = FILE nothing goes to stderr"
is "$(status "/$LONGNAME")" 404 "a name longer than the file system allows is 404"
wait_grep "$T/error.log" "toolong-a"
ok $? "the failed open is written to the error log"
like "$(grep -F 'toolong-a' "$T/error.log")" "$REQID" "the request's error log line carries a request id"

# ---- SIGUSR1 reopens both logs (logrotate) ------------------------------------------------
mv "$T/access.log" "$T/access.log.1"
mv "$T/error.log" "$T/error.log.1"
kill -USR1 "$MAIN_PID"
reopened=1
for ((i = 0; i < 50; i++)); do
    curl -s -o /dev/null "$(URL "/x?probe=$i")"
    if wait_grep "$T/access.log" 'probe=' 1; then
        reopened=0
        break
    fi
done
ok $reopened "after mv + SIGUSR1 a new access.log is created at the original path"
curl -s -o /dev/null -A rot "$(URL '/x?after-rotate')"
wait_grep "$T/access.log" 'after-rotate'
ok $? "after SIGUSR1 a request's line lands in the new access.log"
is "$(count "$T/access.log.1" 'after-rotate')" 0 "... and not in the rotated file"
is "$(count "$T/access.log.1" '"GET /x HTTP/1\.1" 200 5 "ref" "ua"')" 1 "the rotated file keeps the lines from before"
status "/$LONGNAME-rot" >/dev/null
wait_grep "$T/error.log" "toolong-a+-rot"
ok $? "after mv + SIGUSR1 the error log is reopened: a new line lands in the new error.log"
is "$(count "$T/error.log.1" 'toolong-a+-rot')" 0 "... and not in the rotated error log"
is "$(count "$T/error.log.1" 'toolong-a+:')" 1 "the rotated error log keeps the lines from before"
kill -0 "$MAIN_PID" 2>/dev/null
ok $? "the server survives SIGUSR1"

# ---- SIGTERM: exits 0 promptly, no line lost, port free --------------------------------------
python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /x HTTP/1.1\r\nHost: localhost\r\nUser-Agent: idler\r\n\r\n")
s.recv(4096)
time.sleep(30)' "$MAIN_PORT" &
PIDS+=("$!")
wait_grep "$T/access.log" '"idler"'
curl -s -o /dev/null "$(URL '/x?last-before-term')"
t0=$(date +%s%N)
kill -TERM "$MAIN_PID"
wait_exit "$MAIN_PID" 5
ms=$((($(date +%s%N) - t0) / 1000000))
is "$EXIT_RC" 0 "SIGTERM (with an idle keep-alive connection open): wharf exits 0"
ok $((ms < 5000 ? 0 : 1)) "SIGTERM: wharf exits promptly (${ms} ms)"
port_free "$MAIN_PORT"
ok $? "SIGTERM: the port is free afterwards"
is "$(count "$T/access.log" 'last-before-term')" 1 "SIGTERM: the line of a request just before it is not lost"

# ---- access_log = off writes nothing ------------------------------------------------------------
PORT=$(free_port)
cat >"$T/off.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site main]
root = $T/www
access_log = off
EOF
(cd "$T/offcwd" && exec "$WHARF" --config "$T/off.ini" >"$T/off.stdout" 2>"$T/off.stderr") &
OFF_PID=$!
PIDS+=("$OFF_PID")
wait_for_http "$(URL /)" 10 || bail "wharf with access_log = off did not start"
is "$(body /x -A offua)" "hello" "access_log = off: requests are served"
status /missing >/dev/null
kill -TERM "$OFF_PID"
wait_exit "$OFF_PID" 5
is "$EXIT_RC" 0 "access_log = off: SIGTERM exits 0"
is "$(cat "$T/off.stdout")" "" "access_log = off: nothing on stdout"
unlike "$(cat "$T/off.stderr")" 'offua|GET /x' "access_log = off: no request line on stderr"
is "$(ls -A "$T/offcwd")" "" "access_log = off: no file is created (not even one named 'off')"

# ---- --access-log - writes to stdout --------------------------------------------------------------
PORT=$(free_port)
"$WHARF" --listen "127.0.0.1:$PORT" --root "$T/www" --access-log - >"$T/stdout.log" 2>"$T/stdout.err" &
OUT_PID=$!
PIDS+=("$OUT_PID")
wait_for_http "$(URL /)" 10 || bail "wharf --access-log - did not start"
is "$(body /x -A ua -e ref)" "hello" "--access-log -: GET /x is served"
wait_grep "$T/stdout.log" '"GET /x HTTP/1\.1"'
ok $? "--access-log -: the line appears on stdout"
is "$(count "$T/stdout.log" "$CLF"'"GET /x HTTP/1\.1" 200 5 "ref" "ua" \d+\.\d{3}$')" 1 \
    "--access-log -: exactly one Combined Log Format line for the request"
is "$(grep -Pvc "$CLF\"[A-Z]+ \\S+ HTTP/1\\.[01]\" \\d{3} \\d+ \".*\" \".*\" \\d+\\.\\d{3}\$" "$T/stdout.log")" 0 \
    "--access-log -: stdout carries access log lines only"
unlike "$(cat "$T/stdout.err")" '"GET /x' "--access-log -: the access log does not go to stderr"
kill -TERM "$OUT_PID"
wait_exit "$OUT_PID" 5
is "$EXIT_RC" 0 "--access-log -: SIGTERM exits 0"
finish
