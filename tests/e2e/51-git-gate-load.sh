#!/usr/bin/env bash
# Deploys under load with the health gate: ten commits of a PHP site are pushed and announced
# by signed push webhooks, one after another, while clients keep requesting it (keep-alive
# connections, sequential requests, each response naming its commit). The sixth commit's PHP
# is fatal: git_check refuses it before the switch. Asserted: no request fails (every answer
# is 200 with a known version), the broken commit is never served, each client sees versions
# only move forward, and every good commit goes live. The clients are few and the waits bounded
# and generous, so a loaded 2-core machine passes it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

start_fpm gateload "$T/fpm.sock" 'pm.max_children = 6
php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on'

BROKEN=6
LAST=10
version_php() { # version_php N: the page names its version (through an include, as apps do)
    printf '<?php\nrequire __DIR__ . "/lib/version.php";\necho "v" . WHARF_E2E_VERSION . "\\n";\n'
}
new_remote app main
put app index.php "$(version_php)"
put app lib/version.php "<?php const WHARF_E2E_VERSION = 1;"
push app "v1"

SECRET=load-hook-secret
new_port
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site app]
root = $T/site
fastcgi = unix:$T/fpm.sock
git_repo = $T/app.git
git_interval = 1h
git_keep = 3
git_hook = /_hook
git_secret = $SECRET
git_status = /_status
git_check = /index.php 200
EOF
start_wharf_ini "$T/wharf.ini"
wait_until 30000 body_is /index.php v1
is "$(body /index.php)" v1 "v1 is live"

# ---- the clients: 3 threads, one keep-alive connection each, until $T/stop exists ---------------
python3 - "$PORT" "$T/stop" "$T/load.json" <<'EOF' &
import http.client, json, os, sys, threading, time
port, stop, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
res = {"requests": 0, "failed": [], "versions": {}, "backwards": []}
def client(k):
    conn, last = None, 0
    deadline = time.monotonic() + 300  # bounded, whatever happens to the test
    while not os.path.exists(stop) and time.monotonic() < deadline:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/index.php")
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
            ok = r.status == 200 and body.startswith("v") and body[1:].strip().isdigit()
            if r.getheader("Connection", "").lower() == "close":
                conn.close(); conn = None
        except Exception as e:  # a refused, reset or cut connection is a failed request
            ok, body = False, "%s: %s" % (type(e).__name__, e)
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            res["requests"] += 1
            if not ok:
                res["failed"].append(body[:120])
                continue
            v = int(body[1:])
            res["versions"][str(v)] = res["versions"].get(str(v), 0) + 1
            if v < last:
                res["backwards"].append("client %d: v%d after v%d" % (k, v, last))
            last = max(last, v)
threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
for t in threads: t.start()
for t in threads: t.join()
json.dump(res, open(out, "w"))
EOF
LOAD=$!
PIDS+=("$LOAD")

# ---- ten deploys (v2..v10 after v1), v$BROKEN fatal --------------------------------------------
bad_deploys=0
for n in $(seq 2 $LAST); do
    if [ "$n" = "$BROKEN" ]; then
        put app lib/version.php "<?php const WHARF_E2E_VERSION = $n; undefined_load_gate_function();"
    else
        put app lib/version.php "<?php const WHARF_E2E_VERSION = $n;"
    fi
    push app "v$n"
    [ "$(push_hook)" = 202 ] || bail "the push webhook of v$n was not accepted"
    if [ "$n" = "$BROKEN" ]; then
        SHA_BROKEN=$SHA
        wait_until 60000 eval '[[ "$(sj last_error)" == *"git_check refused ${SHA_BROKEN:0:12}"* ]]' ||
            bad_deploys=$((bad_deploys + 1))
    else
        wait_until 60000 body_is /index.php "v$n" || { bad_deploys=$((bad_deploys + 1)); echo "# v$n did not go live"; }
    fi
done
touch "$T/stop"
wait_until 60000 test -s "$T/load.json" || bail "the clients did not report"
wait "$LOAD" 2>/dev/null
R() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/load.json" "$1"; }
echo "# $(R 'd["requests"]') requests; versions served: $(R '" ".join("v%s:%d" % (k, n) for k, n in sorted(d["versions"].items(), key=lambda x: int(x[0])))')"
is "$bad_deploys" 0 "every good commit went live and the broken one was refused"
ok $([ "$(R 'd["requests"]')" -ge 50 ] && echo 0 || echo 1) "the clients kept requesting throughout ($(R 'd["requests"]') requests)"
is "$(R 'len(d["failed"])')" 0 "no request failed (first failures: $(R 'd["failed"][:3]'))"
is "$(R 'd["versions"].get("'$BROKEN'", 0)')" 0 "the broken commit (v$BROKEN) was never served"
is "$(R 'len(d["backwards"])')" 0 "no client saw a version older than one it had seen ($(R 'd["backwards"][:3]'))"
is "$(R 'sum(1 for v in range(2, '$LAST' + 1) if v != '$BROKEN' and str(v) in d["versions"])')" "$((LAST - 2))" \
    "the clients saw every good version go live"
like "$(cat "$T/wharf.err")" "git_check refused ${SHA_BROKEN:0:12} before the switch.*undefined_load_gate_function" \
    "the log says why v$BROKEN was refused"
is "$(grep -c "deploying ${SHA_BROKEN:0:12}" "$T/wharf.err")" 1 "the refused commit was built once"
finish
