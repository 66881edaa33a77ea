#!/usr/bin/env bash
# bench/reload.sh - live reload under load: RELOADS SIGHUPs in a row, alternating two
# configurations A and B that differ in sites (onlya.test exists only in A, onlyb.test only in
# B), in site s's root, FastCGI params and upstream (A: php-fpm "one" on TCP, B: php-fpm "two"
# on a unix socket) and in listeners (both listen on the port the clients use; A also on a
# second port, B on a third), while bench/reload_load.py's clients (keep-alive) check every
# response. Reports failed requests (refused, cut, non-200; target 0) and responses from a mixed
# configuration (target 0), how long each reload took to be logged, and whether the extra
# listeners followed (the one of the running configuration answers, the other refuses).
#
# Environment: RELOADS=20 GAP=0.5 (seconds between a reload being done and the next SIGHUP)
#   THREADS=8 (client threads) WORKERS=2 WHARF=src/wharf KEEP_TMP=1
# Exit status 1 when a request failed, a response was mixed or a reload was not done.
set -uo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
RELOADS=${RELOADS:-20}
GAP=${GAP:-0.5}
THREADS=${THREADS:-8}
WORKERS=${WORKERS:-2}
WHARF=${WHARF:-$TOP_DIR/src/wharf}
T=$(mktemp -d /tmp/wharf-reload-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
FPM=$(command -v php-fpm || ls /usr/sbin/php-fpm* 2>/dev/null | sort -r | head -1)
[ -x "$FPM" ] || { echo "php-fpm is not installed" >&2; exit 1; }

for v in A B; do
    mkdir -p "$T/root$v" "$T/only$v"
    printf '%s' "$v" >"$T/root$v/v.txt"
    printf '%s\n' "<?php echo getenv('VER') ?: \$_SERVER['VER'], ' ', basename(\$_SERVER['DOCUMENT_ROOT']), ' ', getenv('POOL');" >"$T/root$v/v.php"
    printf 'only %s' "$v" >"$T/only$v/index.html"
done
mkdir -p "$T/default"
printf 'default' >"$T/default/index.html"
FPM1_PORT=$(free_port)
start_fpm() { # NAME LISTEN
    mkdir -p "$T/fpm-$1"
    printf '[global]\npid = %s/fpm.pid\nerror_log = %s/fpm.log\ndaemonize = no\n[%s]\nlisten = %s\npm = static\npm.max_children = 4\nenv[POOL] = %s\n' \
        "$T/fpm-$1" "$T/fpm-$1" "$1" "$2" "$1" >"$T/fpm-$1/fpm.conf"
    local root=()
    [ "$(id -u)" -eq 0 ] && root=(--allow-to-run-as-root)
    "$FPM" --nodaemonize --fpm-config "$T/fpm-$1/fpm.conf" "${root[@]}" 2>>"$T/fpm-$1/fpm.log" &
    PIDS+=($!)
}
start_fpm one "127.0.0.1:$FPM1_PORT"
start_fpm two "$T/fpm2.sock"
PORT=$(free_port)
PORT_A=$(free_port)
PORT_B=$(free_port)
conf() { # A|B
    local up
    [ "$1" = A ] && up="127.0.0.1:$FPM1_PORT" || up="unix:$T/fpm2.sock"
    local extra=$PORT_A
    [ "$1" = B ] && extra=$PORT_B
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "listen = 127.0.0.1:$extra" "workers = $WORKERS" \
        "[site s]" "hosts = s.test" "root = $T/root$1" "fastcgi = $up" "fastcgi_env = VER=$1" \
        "[site only$1]" "hosts = only$(echo "$1" | tr AB ab).test" "root = $T/only$1" \
        "[site default]" "root = $T/default"
}
for ((i = 0; i < 100; i++)); do
    [ -S "$T/fpm2.sock" ] && python3 -c "import socket; socket.create_connection(('127.0.0.1', $FPM1_PORT), 1).close()" 2>/dev/null && break
    sleep 0.05
done
conf A >"$T/w.ini"
"$WHARF" --config "$T/w.ini" 2>"$T/wharf.err" &
WPID=$!
PIDS+=("$WPID")
for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" && break
    sleep 0.05
done
done_count() { grep -c 'configuration reloaded\|reload refused' "$T/wharf.err"; }

DURATION=$(python3 -c "print(int($RELOADS * ($GAP + 0.3) + 6))")
python3 "$BENCH_DIR/reload_load.py" "$PORT" "$DURATION" "$THREADS" >"$T/load.json" &
LOAD=$!
sleep 2 # load before the first reload
times=()
listeners_ok=0
answers() { curl -s -o /dev/null --max-time 2 -H 'Host: s.test' "http://127.0.0.1:$1/v.txt"; }
for ((n = 1; n <= RELOADS; n++)); do
    [ $((n % 2)) = 1 ] && v=B || v=A
    conf "$v" >"$T/w.ini"
    t0=$(date +%s%3N)
    kill -HUP "$WPID"
    for ((i = 0; i < 200; i++)); do
        [ "$(done_count)" -ge "$n" ] && break
        sleep 0.01
    done
    times+=($(($(date +%s%3N) - t0)))
    sleep "$GAP"
    # the running configuration's extra port answers, the other one refuses (curl exit 7)
    if [ "$v" = B ]; then on=$PORT_B off=$PORT_A; else on=$PORT_A off=$PORT_B; fi
    answers "$on" && { answers "$off"; [ $? = 7 ]; } && listeners_ok=$((listeners_ok + 1))
done
wait "$LOAD"
reloaded=$(grep -c 'configuration reloaded' "$T/wharf.err")
refused=$(grep -c 'reload refused' "$T/wharf.err")
stopped=$(grep -c "previous configuration's sites are stopped" "$T/wharf.err")
kill -TERM "$WPID"
wait "$WPID"
rc=$?
python3 - "$T/load.json" "$RELOADS" "$reloaded" "$refused" "$stopped" "$rc" "$listeners_ok" "${times[*]}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
reloads, reloaded, refused, stopped, rc, lok = map(int, sys.argv[2:8])
times = sorted(int(x) for x in sys.argv[8].split())
print("| reloads (SIGHUP) | done | refused | old tables stopped | listeners followed | requests | failed | mixed | SIGHUP to logged, median / max (ms) | exit |")
print("|---|---|---|---|---|---|---|---|---|---|")
print("| %d | %d | %d | %d | %d | %d | **%d** | **%d** | %d / %d | %d |" % (
    reloads, reloaded, refused, stopped, lok, d["requests"], d["failed"], d["mixed"],
    times[len(times) // 2], times[-1], rc))
print()
print("responses by body:", json.dumps(d["by_body"], sort_keys=True))
if d["samples"]:
    print("samples:", json.dumps(d["samples"]))
sys.exit(0 if d["failed"] == 0 and d["mixed"] == 0 and reloaded == reloads and rc == 0
         and lok == reloads else 1)
PY
