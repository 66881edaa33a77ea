#!/usr/bin/env bash
# Live reload (development mode, --watch on by default): inotify on the project, recursively,
# new directories included, vendor/ node_modules/ .git/ and --watch-ignore names left out; an
# EventSource endpoint told of each change within 500 ms ("css" for stylesheets only, else
# "reload"); the script injected before </body> in HTML, static and PHP, with Content-Length,
# ETag, 304 and gzip right; nothing of it without development mode or with --no-watch.
. "$(dirname "$0")/lib.sh"

find_fpm >/dev/null || skip_all "php-fpm is not installed"
P="$T/proj"
mkdir -p "$P/css" "$P/vendor/pkg" "$P/node_modules/x" "$P/.git" "$P/cache"
printf '<?php echo "front";\n' >"$P/index.php"
cat >"$P/page.html" <<'HTML'
<!DOCTYPE html>
<html><head><title>t</title><link rel="stylesheet" href="/css/site.css"></head>
<body><p>static page, long enough to be worth compressing: lorem ipsum dolor sit amet,
consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna.</p>
</body></html>
HTML
printf '<?php header("ETag: \\"app-1\\""); ?><!DOCTYPE html>\n<html><body><h1>php page</h1></body></html>\n' >"$P/page.php"
printf 'body { color: red }\n' >"$P/css/site.css"
printf 'plain\n' >"$P/notes.txt"
printf '<?php header("Content-Type: application/json"); echo json_encode(["a" => 1]);\n' >"$P/api.php"
printf '<?php header("Content-Encoding: gzip"); echo "\\x1f\\x8b";\n' >"$P/enc.php"

PORT=$(free_port)
(cd "$P" && exec "$WHARF" --listen "127.0.0.1:$PORT" --gzip --watch-ignore cache 2>"$T/dev.err") &
WPID=$!
PIDS+=("$WPID")
wait_for_http "$(URL /)" 20 || bail "wharf dev did not start: $(cat "$T/dev.err")"

# es ACTION... : connect to the endpoint, wait for its first bytes, then run the action (a shell
# command) and print the first event's data and how long it took in ms, or "none" after 2 s
es() {
    python3 - "$PORT" "$1" <<'PY'
import socket, subprocess, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /__wharf/livereload HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
buf = b""
while b"wharf live reload" not in buf:
    d = s.recv(4096)
    if not d: print("closed"); sys.exit()
    buf += d
head = buf.split(b"\r\n\r\n", 1)[0].decode()
t0 = time.monotonic()
subprocess.run(sys.argv[2], shell=True, check=True)
s.settimeout(2)
buf = b""
try:
    while b"data: " not in buf or not buf.split(b"data: ", 1)[1].count(b"\n"):
        d = s.recv(4096)
        if not d: break
        buf += d
except socket.timeout:
    pass
if b"data: " in buf:
    ev = buf.split(b"data: ", 1)[1].split(b"\n", 1)[0].decode()
    print(ev, int((time.monotonic() - t0) * 1000), "event-stream" in head)
else:
    print("none")
PY
}
read -r ev ms typed <<<"$(es "echo 'body { color: blue }' >'$P/css/site.css'")"
is "$ev" css "a changed stylesheet: event 'css' (swap in place)"
ok $([ -n "$ms" ] && [ "$ms" -lt 500 ]; echo $?) "...reached the EventSource client within 500 ms ($ms ms)"
is "$typed" True "...on a text/event-stream response"
read -r ev ms _ <<<"$(es "echo '<?php echo 2;' >'$P/index.php'")"
is "$ev" reload "a changed PHP file: event 'reload'"
ok $([ -n "$ms" ] && [ "$ms" -lt 500 ]; echo $?) "...within 500 ms ($ms ms)"
read -r ev _ <<<"$(es "mkdir -p '$P/src/deep'")"
is "$ev" reload "a new directory: reload"
read -r ev ms _ <<<"$(es "echo x >'$P/src/deep/new.php'")"
is "$ev" reload "a file in a directory created after start: watched too (recursive)"
read -r ev _ <<<"$(es "echo x >'$P/vendor/pkg/a.php'; echo x >'$P/node_modules/x/a.js'; echo x >'$P/.git/HEAD'; echo x >'$P/cache/c.php'")"
is "$ev" none "vendor/, node_modules/, .git/ and --watch-ignore cache are not watched"
read -r ev _ <<<"$(es "mkdir -p '$P/src/vendor'; echo x >'$P/src/vendor/b.php'")"
is "$ev" none "...nor a vendor/ made later, anywhere"

# ---- injection -------------------------------------------------------------------------------
SCRIPT_RE='<script>/\* wharf dev: live reload \*/.*EventSource\(./__wharf/livereload.\).*</script></body>'
body /page.html >"$T/page.out"
headers /page.html >"$T/page.h"
like "$(tr -d '\n' <"$T/page.out")" "$SCRIPT_RE" "static HTML: the script right before </body>"
is "$(header_value Content-Length <"$T/page.h")" "$(wc -c <"$T/page.out" | tr -d ' ')" \
    "static HTML: Content-Length counts the script"
is "$(wc -c <"$T/page.out" | tr -d ' ')" \
    "$(($(wc -c <"$P/page.html") + $(grep -o '<script>.*</script>' "$T/page.out" | wc -c) - 1))" \
    "static HTML: the file's bytes plus the script, nothing else"
check_html() {
    python3 -c '
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.stack = []
    def handle_starttag(s, t, a):
        if t not in ("meta", "link", "br", "img", "input"): s.stack.append(t)
    def handle_endtag(s, t):
        assert s.stack and s.stack[-1] == t, (s.stack, t); s.stack.pop()
p = P(); p.feed(open(sys.argv[1]).read()); p.close(); assert not p.stack, p.stack' "$1"
}
check_html "$T/page.out"
ok $? "static HTML: still well-formed"
ETAG=$(header_value ETag <"$T/page.h")
like "$ETAG" '^"[^"]+-lr"$' "static HTML: an ETag of its own (-lr)"
is "$(status /page.html -H "If-None-Match: $ETAG")" 304 "static HTML: 304 on that ETag"
is "$(curl -sI "$(URL /page.html)" | tr -d '\r' | header_value Content-Length)" \
    "$(header_value Content-Length <"$T/page.h")" "static HTML: HEAD announces the same length"
curl -s -H 'Accept-Encoding: gzip' -D "$T/gz.h" -o "$T/gz.out" "$(URL /page.html)"
tr -d '\r' <"$T/gz.h" >"$T/gz.h2"
is "$(header_value Content-Encoding <"$T/gz.h2")" gzip "gzip: compressed after injection"
is "$(gunz <"$T/gz.out" | sha)" "$(sha <"$T/page.out")" "gzip: the same injected page"
is "$(header_value Content-Length <"$T/gz.h2")" "$(wc -c <"$T/gz.out" | tr -d ' ')" \
    "gzip: Content-Length is the compressed length"
like "$(header_value ETag <"$T/gz.h2")" '-lr-gz"$' "gzip: its own ETag"

body /page.php >"$T/php.out"
headers /page.php >"$T/php.h"
like "$(tr -d '\n' <"$T/php.out")" "<h1>php page</h1>$SCRIPT_RE" "PHP HTML: the script before </body>"
is "$(header_value Content-Length <"$T/php.h")" "$(wc -c <"$T/php.out" | tr -d ' ')" \
    "PHP HTML: Content-Length counts the script"
is "$(header_value ETag <"$T/php.h")" '"app-1-lr"' "PHP HTML: the application's ETag, marked -lr"
check_html "$T/php.out"
ok $? "PHP HTML: still well-formed"
is "$(body /css/site.css)" "body { color: blue }" "CSS untouched"
is "$(body /notes.txt)" "plain" "text untouched"
is "$(body /api.php)" '{"a":1}' "PHP JSON untouched"
is "$(body /enc.php | od -An -tx1 | tr -d ' \n')" "1f8b" "PHP HTML the application encoded: untouched"
stop_pid "$WPID"

# ---- Ctrl+C with a browser listening: stops at once ---------------------------------------
PORT=$(free_port)
(cd "$P" && exec "$WHARF" --listen "127.0.0.1:$PORT" 2>"$T/dev2.err") &
WPID=$!
PIDS+=("$WPID")
wait_for_http "$(URL /)" 20 || bail "wharf dev did not start again"
curl -sN --max-time 30 "$(URL /__wharf/livereload)" >"$T/stream.out" &
CPID=$!
PIDS+=("$CPID")
wait_until 5000 grep -qs "live reload" "$T/stream.out"
t0=$(now_ms)
kill -INT "$WPID"
wait "$WPID"
t=$(($(now_ms) - t0))
ok $([ "$t" -lt 5000 ]; echo $?) "SIGINT with an event stream open: stopped in $t ms (not the drain timeout)"
wait "$CPID"

# ---- off: --no-watch, and outside development mode -------------------------------------------
PORT=$(free_port)
(cd "$P" && exec "$WHARF" --listen "127.0.0.1:$PORT" --no-watch 2>"$T/dev3.err") &
WPID=$!
PIDS+=("$WPID")
wait_for_http "$(URL /)" 20 || bail "wharf dev --no-watch did not start"
is "$(sha < <(body /page.html))" "$(fsha "$P/page.html")" "--no-watch: HTML as it is"
is "$(status /__wharf/livereload)" 404 "--no-watch: no endpoint"
stop_pid "$WPID"
start_wharf --root "$P" --php
is "$(sha < <(body /page.html))" "$(fsha "$P/page.html")" "production: HTML as it is"
unlike "$(body /page.php)" "livereload" "production: PHP HTML as it is"
is "$(status /__wharf/livereload)" 404 "production: no endpoint"
stop_pid "$WPID"
finish
