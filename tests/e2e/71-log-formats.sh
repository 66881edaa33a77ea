#!/usr/bin/env bash
# Log formats, read by real consumers: access_log_format = combined fed to Debian's goaccess
# (every line parsed, none invalid, its status counts and bandwidth equal to what the clients
# got), access_log_format = json read with python3's json.loads (every field checked against
# the request made: status, bytes, method, path, upstream = the php-fpm socket for PHP and null
# for static), error_log_format = json (a PHP STDERR line and a 502 with level, module and the
# request id of their access-log line), --access-log-format, and the config errors. The mix:
# static, 404, PHP on a real php-fpm, HEAD, POST, a target and headers with quotes, backslashes,
# control and non-UTF-8 bytes, a long URL, one past max_uri_length, a refused head.
. "$(dirname "$0")/lib.sh"

command -v goaccess >/dev/null || skip_all "goaccess is not installed"

# pycheck SCRIPT ARGS...: run a python3 check script that prints "ok - NAME" / "not ok - NAME"
# lines (and notes); each becomes a TAP point. A script that dies is a failure.
pycheck() {
    local line rc
    python3 "$@" >"$T/pycheck.out" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok 0 "${line#ok - }" ;;
        "not ok - "*) ok 1 "${line#not ok - }" ;;
        *) echo "# $line" ;;
        esac
    done <"$T/pycheck.out"
    ok $rc "$(basename "$1") ran to its end"
}

mkdir -p "$T/www"
printf 'hello' >"$T/www/a.txt"
printf '<h1>index</h1>\n' >"$T/www/index.html"
printf '<?php echo "hi from php\\n";' >"$T/www/hello.php"
printf '<?php error_log("php-warn " . $_GET["t"]); echo "warned";' >"$T/www/warn.php"
start_fpm logs "$T/fpm.sock"

PORT=$(free_port)
cat >"$T/logs.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
error_log = $T/error.json
error_log_format = json

[site c]
root = $T/www
fastcgi = unix:$T/fpm.sock
access_log = $T/combined.log
access_log_format = combined

[site j]
hosts = j.test
root = $T/www
fastcgi = unix:$T/fpm.sock
access_log = $T/access.json
access_log_format = json

[site d]
hosts = d.test
root = $T/www
fastcgi = unix:$T/nothing.sock
fastcgi_connect_timeout = 2s
access_log = $T/access.json
access_log_format = json
EOF
start_wharf_ini "$T/logs.ini"
# start-up probes hit the default site (c): start from an empty combined log
wait_until 5000 test -s "$T/combined.log"
PROBE_LINES=$(wc -l <"$T/combined.log")

# Every request over a raw socket (hostile bytes go out as they are), one per connection;
# what each got (status, body bytes after de-chunking) goes to $T/made.json.
python3 - "$PORT" "$T/made.json" <<'EOF'
import json, socket, sys

port, out = int(sys.argv[1]), sys.argv[2]
UA_EVIL = b'evil" 200 0 "-" "x\x01\x1b[31m\xff\\ caf\xc3\xa9'
REQS = []
def add(host, method, target, headers=b"", body=b""):
    REQS.append((host, method, target, headers, body))

for host in (b"localhost", b"j.test"):
    add(host, b"GET", b"/")
    add(host, b"GET", b"/a.txt", b"Referer: http://ref.example/x?a=1\r\n")
    add(host, b"GET", b"/missing")
    add(host, b"GET", b"/hello.php")
    add(host, b"HEAD", b"/a.txt")
    add(host, b"POST", b"/hello.php", b"Content-Type: text/plain\r\n", b"posted body")
    add(host, b"GET", b'/q"x\\y?a="1"&b=\\', b"User-Agent: " + UA_EVIL + b"\r\nReferer: r\"\x7f\r\n")
    add(host, b"GET", b"/warn.php?t=T1" if host == b"j.test" else b"/warn.php?t=C1")
    add(host, b"GET", b"/long/" + b"a" * 3000)
add(b"localhost", b"GET", b"/ctl\x01\x02")            # refused head (400), logged by site c
add(b"localhost", b"GET", b"/huge/" + b"b" * 9000)     # 414, target cut in the log
add(b"d.test", b"GET", b"/hello.php")                  # 502: nothing listens there

def dechunk(b):
    out = b""
    while b:
        line, _, b = b.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            break
        out, b = out + b[:n], b[n + 2:]
    return out

made = []
for host, method, target, headers, body in REQS:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = method + b" " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n" + headers
    if body:
        req += b"Content-Length: %d\r\n" % len(body)
    s.sendall(req + b"\r\n" + body)
    resp = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        resp += d
    s.close()
    head, _, rest = resp.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    if b"transfer-encoding: chunked" in head.lower():
        rest = dechunk(rest)
    ua = UA_EVIL if b"User-Agent: " + UA_EVIL in headers else None
    made.append({"host": host.decode(), "method": method.decode(), "target": target.decode("latin-1"),
                 "status": status, "bytes": 0 if method == b"HEAD" else len(rest),
                 "ua": ua.decode("latin-1") if ua else None})
json.dump(made, open(out, "w"))
EOF
ok $? "the requests were made"
N_C=$(python3 -c 'import json,sys; print(sum(1 for m in json.load(open(sys.argv[1])) if m["host"] == "localhost"))' "$T/made.json")
N_J=$(python3 -c 'import json,sys; print(sum(1 for m in json.load(open(sys.argv[1])) if m["host"] != "localhost"))' "$T/made.json")
lines_at_least() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
wait_until 10000 lines_at_least "$T/combined.log" $((PROBE_LINES + N_C))
ok $? "combined log: a line for each of the $N_C requests to site c"
wait_until 10000 lines_at_least "$T/access.json" "$N_J"
ok $? "json log: a line for each of the $N_J requests to sites j and d"
wait_grep "$T/error.json" '502|cannot connect' 5

# ---- combined: goaccess reads every line ------------------------------------------------------
tail -n +$((PROBE_LINES + 1)) "$T/combined.log" >"$T/mix.log"
is "$(wc -l <"$T/mix.log")" "$N_C" "combined: exactly one line per request (no forged line)"
like "$(grep -c '"HEAD /a.txt HTTP/1.1" 200 - ' "$T/mix.log")" '^1$' "combined: HEAD has '-' for no body (%b)"
like "$(grep -F '"GET /q\x22x\x5Cy?a=\x221\x22&b=\x5C HTTP/1.1" 404 ' "$T/mix.log")" \
    '"r\\x22\\x7F" "evil\\x22 200 0 \\x22-\\x22 \\x22x\\x01\\x1B\[31m\\xFF\\x5C caf\\xC3\\xA9"$' \
    "combined: quotes, backslashes, control and high bytes as nginx's \\xHH"
goaccess "$T/mix.log" --no-global-config --log-format=COMBINED -o "$T/report.json" \
    >"$T/goaccess.out" 2>&1
ok $? "goaccess --log-format=COMBINED runs on the log"
cat >"$T/goaccess.py" <<'EOF'
import collections, json, sys
r = json.load(open(sys.argv[1]))
made = [m for m in json.load(open(sys.argv[2])) if m["host"] == "localhost"]
g = r["general"]
print("goaccess general: total %s valid %s failed %s bandwidth %s" %
      (g["total_requests"], g["valid_requests"], g["failed_requests"], g["bandwidth"]))
want = collections.Counter(m["status"] for m in made)
got = collections.Counter()
for group in r["status_codes"]["data"]:
    for item in group.get("items", []):
        got[int(item["data"][:3])] += item["hits"]["count"]
checks = [
    (g["total_requests"] == len(made), "goaccess: total requests = requests made (%d)" % len(made)),
    (g["valid_requests"] == len(made), "goaccess: every line valid"),
    (g["failed_requests"] == 0, "goaccess: no invalid line"),
    (got == want, "goaccess: status codes as the clients saw them %s" % dict(sorted(want.items()))),
    (g["bandwidth"] == sum(m["bytes"] for m in made), "goaccess: bandwidth = body bytes sent"),
]
for good, name in checks:
    print(("ok" if good else "not ok") + " - " + name)
if got != want:
    print("goaccess saw", dict(got))
EOF
pycheck "$T/goaccess.py" "$T/report.json" "$T/made.json"

# ---- json: every line parses, every field is the request's -------------------------------------
cat >"$T/access_json.py" <<'EOF'
import calendar, codecs, json, re, sys, time
# what the log must hold for a string: UTF-8 as text, each invalid byte as U+00XX
codecs.register_error("latin1", lambda e: (e.object[e.start:e.start + 1].decode("latin-1"), e.start + 1))
def text(s):
    return None if s is None else s.encode("latin-1").decode("utf-8", "latin1")

access, made, fpm, dead = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
made = [m for m in made if m["host"] != "localhost"]
raw = open(access, "rb").read().split(b"\n")
print(("ok" if raw[-1] == b"" else "not ok") + " - json: the file ends with a newline")
recs, bad = [], 0
for line in raw[:-1]:
    try:
        recs.append(json.loads(line))  # bytes: must be valid UTF-8 too
    except ValueError as e:
        bad += 1
        print("unparsable:", line[:200], e)
print(("ok" if bad == 0 and len(recs) == len(made) else "not ok") +
      " - json: %d lines, each parses with json.loads (%d did not)" % (len(recs), bad))
now = time.time()
fields = ["time", "site", "client", "method", "path", "protocol", "status", "bytes", "duration",
          "upstream", "request_id", "referer", "user_agent"]
problems = []
for m, r in zip(made, recs):
    want = {"site": "d" if m["host"] == "d.test" else "j", "client": "127.0.0.1",
            "method": m["method"], "path": m["target"], "protocol": "HTTP/1.1",
            "status": m["status"], "bytes": m["bytes"], "user_agent": text(m["ua"]),
            "upstream": dead if m["host"] == "d.test" else
                        fpm if m["target"].split("?")[0].endswith(".php") else None}
    for k, v in want.items():
        if r.get(k) != v:
            problems.append("%s %s: %s is %r, want %r" % (m["method"], m["target"][:40], k, r.get(k), v))
    if list(r.keys()) != fields:
        problems.append("%s: fields %s" % (m["target"][:40], list(r.keys())))
    t = r.get("time") or ""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) or \
       abs(calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) - now) > 300:
        problems.append("%s: time %r" % (m["target"][:40], t))
    if not isinstance(r.get("duration"), float) or not 0 <= r["duration"] < 30:
        problems.append("%s: duration %r" % (m["target"][:40], r.get("duration")))
    if not isinstance(r.get("request_id"), int) or r["request_id"] <= 0:
        problems.append("%s: request_id %r" % (m["target"][:40], r.get("request_id")))
for p in problems:
    print(p)
print(("ok" if not problems and len(recs) == len(made) else "not ok") +
      " - json: status, bytes, method, path, site, client, protocol, user agent, time, duration "
      "and id of every request as made")
php = [r for r in recs if r.get("upstream") == fpm]
print(("ok" if len(php) == 3 else "not ok") + " - json: the 3 PHP requests name the php-fpm socket")
print(("ok" if sum(r.get("upstream") is None for r in recs) == len(recs) - 4 else "not ok") +
      " - json: upstream is null for the static ones")
ids = [r.get("request_id") for r in recs]
print(("ok" if len(set(ids)) == len(ids) else "not ok") + " - json: request ids are unique")
for r in recs:
    if r.get("path", "").startswith("/warn.php"):
        open(sys.argv[5], "w").write("%d\n" % r["request_id"])
    if r.get("status") == 502:
        open(sys.argv[6], "w").write("%d\n" % r["request_id"])
EOF
pycheck "$T/access_json.py" "$T/access.json" "$T/made.json" "unix:$T/fpm.sock" "unix:$T/nothing.sock" \
    "$T/warn.id" "$T/502.id"

# ---- error log as json ------------------------------------------------------------------------
cat >"$T/error_json.py" <<'EOF'
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
warn_id, bad_id = int(open(sys.argv[2]).read()), int(open(sys.argv[3]).read())
recs = []
for line in lines:
    try:
        recs.append(json.loads(line))
    except ValueError:
        print("unparsable:", line[:200])
print(("ok" if len(recs) == len(lines) and recs else "not ok") +
      " - error log: all %d lines parse with json.loads" % len(lines))
keys = all(list(r) == ["time", "level", "module", "request_id", "message"] for r in recs)
print(("ok" if keys else "not ok") + " - error log: time, level, module, request_id, message")
print(("ok" if any(r["request_id"] is None and r["level"] == "info" and "ready" in r["message"]
                   for r in recs) else "not ok") +
      " - error log: start-up lines have request_id null")
stderr = [r for r in recs if "php-warn T1" in r["message"]]
print(("ok" if len(stderr) == 1 and stderr[0]["level"] == "warn" and stderr[0]["module"] == "fcgi"
       and stderr[0]["request_id"] == warn_id else "not ok") +
      " - error log: the PHP STDERR line, level warn, module fcgi, the access log's request id")
failed = [r for r in recs if r["level"] == "error" and r["request_id"] == bad_id]
print(("ok" if failed and failed[0]["module"] == "fcgi" and "cannot connect" in failed[0]["message"]
       else "not ok") + " - error log: the 502 as an error with its request id")
for r in stderr + failed:
    print(json.dumps(r))
EOF
pycheck "$T/error_json.py" "$T/error.json" "$T/warn.id" "$T/502.id"
stop_pid "$WPID"

# ---- --access-log-format on the command line; config errors ------------------------------------
start_wharf --root "$T/www" --access-log "$T/cli.log" --access-log-format json
is "$(body /a.txt -A cli-agent)" "hello" "--access-log-format json: served"
wait_grep "$T/cli.log" 'cli-agent'
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1], "rb")][-1]
sys.exit(not (r["site"] == "default" and r["path"] == "/a.txt" and r["bytes"] == 5 and r["user_agent"] == "cli-agent"))' "$T/cli.log"
ok $? "--access-log-format json: the line is JSON, for the default site"
stop_pid "$WPID"

out=$("$WHARF" --root "$T/www" --access-log-format xml --test 2>&1)
rc=$?
ok $((rc == 0)) "--access-log-format xml is refused"
like "$out" "--access-log-format: expected timed_combined, combined or json, got 'xml'" \
    "and the message says what is expected"
printf '[server]\nerror_log_format = yaml\n[site a]\nroot = %s\naccess_log_format = clf\n' \
    "$T/www" >"$T/bad.ini"
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:2: error_log_format: expected text or json, got 'yaml'" "bad error_log_format: FILE:LINE"
like "$out" "bad.ini:5: access_log_format: expected timed_combined, combined or json, got 'clf'" \
    "bad access_log_format: FILE:LINE"
PORT=$(free_port)
printf '[server]\nlisten = 127.0.0.1:%s\n[site a]\nroot = %s\naccess_log = %s\n[site b]\nhosts = b\nroot = %s\naccess_log = %s\naccess_log_format = json\n' \
    "$PORT" "$T/www" "$T/shared.log" "$T/www" "$T/shared.log" >"$T/mixed.ini"
out=$(timeout 10 "$WHARF" --config "$T/mixed.ini" 2>&1)
rc=$?
ok $((rc == 0 || rc == 124)) "two formats in one file: wharf does not start"
like "$out" "\[site b\]: access_log '.*shared.log' is also \[site a\]'s, in another access_log_format" \
    "and says which sites"

finish
