#!/usr/bin/env bash
# bench/ab.sh - one wharf against another, interleaved in one run: the binary built from an
# older commit (OLD_REV) and this tree's (NEW). For refactors that must not cost anything.
# Prints a Markdown table (medians over the rounds of req/s, p99, front CPU per request, and
# the new/old ratios) and writes it to bench/results/ab.md; every wrk output goes to
# bench/results/ab.log.
#
# Environment:
#   OLD_REV=a2ee6c1  the commit to compare with (built once in a temp worktree); default: the
#                    last commit before the request core was reshaped (issue 9: site runtime,
#                    event loop, handlers, FastCGI split); issue 8 complete
#   NEW=src/wharf    the binary under test (built from this tree)
#   OLD_BIN=PATH     an already built old binary instead of building OLD_REV (e.g. this tree
#                    configured --with-libmicrohttpd=system, to measure the bundled one's patches)
#   ROUNDS=3 DURATION=5   interleaved rounds (old, new; new, old; old, new; ...: neither side
#                    always runs second) and seconds per wrk run
#   CONNS=64         wrk connections (wrk -t2)
#   WRK_CPU=1        run wrk pinned to that CPU with one thread (taskset; the issue 14 set-up)
#   PATHS="/1k.bin /hello.php /table.php"   the scenarios (a subset to look closer)
#   FCGI_CONNS=4     php-fpm's pm.max_children = fastcgi_max_conns = fastcgi_keep_conns
#   PHP_FPM=php-fpm8.2   KEEP_TMP=1 keeps the temp dir
#   COUNTERS=1       also count, with `perf stat -p`, the front end's system calls over the
#                    measured run (raw_syscalls:sys_enter) and its heap allocations over a
#                    2 s run after it (uprobes on libc's malloc, calloc and realloc of an
#                    existing block, not realloc(NULL), which glibc turns into malloc; added for
#                    the run and removed after; a uprobe hit costs a trap, so not in the timed
#                    run), per request: figures that a shared, noisy machine does not move.
#                    Needs perf and root (or perf_event_paranoid <= -1); 0 leaves them out.
#
# Scenarios: the 1 KiB static file (1k.bin), hello.php and table.php (the 50-row page), each on
# the same docroot as bench/run.sh. Each run starts the front end fresh; PHP runs share one
# private php-fpm (static pool, OPcache on), and only one front end talks to it at a time, so
# kept connections never pin a child of the other. Front CPU per request is the front end's
# user+system time over the measured run (/proc/PID/stat) divided by the requests wrk counted.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
OLD_REV=${OLD_REV:-a2ee6c1}
NEW=${NEW:-$TOP_DIR/src/wharf}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
PATHS=${PATHS:-/1k.bin /hello.php /table.php}
WRK_CPU=${WRK_CPU:-}
WRK=(wrk -t2)
[[ -z $WRK_CPU || $WRK_CPU =~ ^[0-9]+$ ]] || { echo "WRK_CPU must be a CPU number" >&2; exit 1; }
[[ -n $WRK_CPU ]] && WRK=(taskset -c "$WRK_CPU" wrk -t1)
COUNTERS=${COUNTERS:-1}
FCGI_CONNS=${FCGI_CONNS:-4}
PHP_FPM=${PHP_FPM:-$(command -v php-fpm8.2 || command -v php-fpm || echo php-fpm8.2)}
RESULTS=$BENCH_DIR/results

log() { printf '[ab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $NEW ]] || die "no $NEW: build first (./build.sh)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v "$PHP_FPM" >/dev/null || die "no php-fpm ($PHP_FPM)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ ]] || die "ROUNDS/DURATION: whole numbers"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wharf-ab.XXXXXX")
FPM_PID= FRONT_PID=
PROBES_ADDED=()
cleanup() {
    local p
    for p in "${PROBES_ADDED[@]}"; do perf probe -q -d "probe_libc:$p" 2>/dev/null; done
    [[ -n $FRONT_PID ]] && kill "$FRONT_PID" 2>/dev/null
    [[ -n $FPM_PID ]] && kill "$FPM_PID" 2>/dev/null
    wait 2>/dev/null
    git -C "$TOP_DIR" worktree remove --force "$TMP/old-src" 2>/dev/null
    [[ -n ${KEEP_TMP:-} ]] && log "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$RESULTS"
: >"$RESULTS/ab.log"

# ---- counters: system calls and allocations per request (perf, software events only: a VM
# without hardware counters gives no instruction count)
EVENTS=
if [[ $COUNTERS == 1 ]]; then
    if ! command -v perf >/dev/null || ! perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
        log "perf cannot count system calls here: COUNTERS left out"
        COUNTERS=0
    else
        EVENTS=raw_syscalls:sys_enter
        LIBC=$(ldd "$NEW" | awk '$1 ~ /^libc\.so/ {print $3}')
        # realloc(NULL, n) is malloc(n) inside glibc, and the malloc uprobe sees it: count only
        # the reallocs of an existing block (probe realloc_grow, filtered on its pointer), or
        # every buffer's first allocation would be counted twice
        for p in malloc calloc 'realloc_grow=realloc oldmem=%di:u64'; do
            name=${p%%=*}
            if ! perf list 2>/dev/null | grep -q "probe_libc:$name "; then
                perf probe -q -x "$LIBC" --add "$p" 2>/dev/null && PROBES_ADDED+=("$name")
            fi
            if [[ $name == realloc_grow ]]; then
                perf stat -e "probe_libc:$name" --filter 'oldmem != 0' true >/dev/null 2>&1 &&
                    EVENTS+=",probe_libc:$name --filter oldmem!=0"
            else
                perf stat -e "probe_libc:$name" true >/dev/null 2>&1 && EVENTS+=",probe_libc:$name"
            fi
        done
        [[ $EVENTS == *malloc* ]] || log "no uprobe on malloc: allocations left out"
    fi
fi

# ---- the old binary, built from OLD_REV in a detached worktree
NEW_DESC=$(git -C "$TOP_DIR" describe --always --dirty 2>/dev/null || echo "this tree")
if [[ -n ${OLD_BIN:-} ]]; then
    [[ -x $OLD_BIN ]] || die "OLD_BIN $OLD_BIN is not an executable"
    OLD_SHA=$OLD_BIN
    OLD=$OLD_BIN
else
    OLD_SHA=$(git -C "$TOP_DIR" rev-parse --short "$OLD_REV^{commit}") || die "unknown OLD_REV $OLD_REV"
    log "building $OLD_SHA"
    git -C "$TOP_DIR" worktree add --detach --quiet "$TMP/old-src" "$OLD_SHA" || die "git worktree add"
    (cd "$TMP/old-src" && autoreconf -fi && ./configure --quiet && make -j"$(nproc)") \
        >"$TMP/old-build.log" 2>&1 || { tail -n 30 "$TMP/old-build.log" >&2; die "building $OLD_SHA failed"; }
    OLD=$TMP/old-src/src/wharf
fi

# ---- docroot and php-fpm
python3 "$BENCH_DIR/mkdocroot.py" "$TMP/www" >/dev/null || die "mkdocroot.py failed"
FPM_SOCK=$TMP/fpm.sock
{
    printf '[global]\npid = %s\nerror_log = %s\ndaemonize = no\n' "$TMP/fpm.pid" "$TMP/fpm.log"
    printf '[ab]\nlisten = %s\nlisten.mode = 0666\n' "$FPM_SOCK"
    printf 'pm = static\npm.max_children = %s\npm.max_requests = 0\n' "$FCGI_CONNS"
    printf 'php_admin_value[opcache.enable] = 1\n'
} >"$TMP/fpm.conf"
root_flag=()
[[ $(id -u) -eq 0 ]] && root_flag=(--allow-to-run-as-root)
"$PHP_FPM" --nodaemonize --fpm-config "$TMP/fpm.conf" "${root_flag[@]}" >"$TMP/fpm.out" 2>&1 &
FPM_PID=$!
for ((i = 0; i < 100; i++)); do [[ -S $FPM_SOCK ]] && break; sleep 0.05; done
[[ -S $FPM_SOCK ]] || die "php-fpm did not start ($TMP/fpm.out)"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site ab]
root = $TMP/www
fastcgi = unix:$FPM_SOCK
fastcgi_max_conns = $FCGI_CONNS
fastcgi_keep_conns = $FCGI_CONNS
EOF

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run BIN PATH -> "req/s p99_ms cpu_us_per_req syscalls_per_req allocs_per_req" (the last two
# "nan" without COUNTERS)
run() {
    local bin=$1 path=$2 out t0 t1 i perf=()
    "$bin" --config "$TMP/wharf.ini" >>"$TMP/front.log" 2>&1 &
    FRONT_PID=$!
    for ((i = 0; i < 100; i++)); do
        curl -fs -o /dev/null "http://127.0.0.1:$PORT$path" && break
        sleep 0.05
    done
    "${WRK[@]}" -c"$CONNS" -d1s "http://127.0.0.1:$PORT$path" >/dev/null 2>&1 # warm-up
    : >"$TMP/perf.csv"
    : >"$TMP/perf-alloc.csv"
    [[ $COUNTERS == 1 ]] &&
        perf=(perf stat -x, -o "$TMP/perf.csv" -e raw_syscalls:sys_enter -p "$FRONT_PID" --)
    t0=$(cpu_ticks "$FRONT_PID")
    out=$("${perf[@]}" "${WRK[@]}" -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT$path" 2>&1)
    t1=$(cpu_ticks "$FRONT_PID")
    # allocations in a run of their own: a uprobe hit costs a trap, which would show in the CPU
    if [[ $COUNTERS == 1 && $EVENTS == *probe_libc* ]]; then
        local e ev alloc_ev=()
        IFS=, read -r -a ev <<<"${EVENTS#raw_syscalls:sys_enter,}"
        for e in "${ev[@]}"; do # "probe_libc:X" or "probe_libc:X --filter EXPR"
            read -r -a e <<<"$e"
            alloc_ev+=(-e "${e[0]}" "${e[@]:1}")
        done
        perf stat -x, -o "$TMP/perf-alloc.csv" "${alloc_ev[@]}" -p "$FRONT_PID" -- \
            "${WRK[@]}" -c"$CONNS" -d2s "http://127.0.0.1:$PORT$path" >"$TMP/wrk-alloc.out" 2>&1
    fi
    kill "$FRONT_PID"
    wait "$FRONT_PID" 2>/dev/null
    FRONT_PID=
    printf '### %s %s\n%s\n' "$bin" "$path" "$out" >>"$RESULTS/ab.log"
    printf '%s\n' "$out" >"$TMP/wrk.out"
    cat "$TMP/perf.csv" "$TMP/perf-alloc.csv" >>"$RESULTS/ab.log"
    python3 - "$TMP/wrk.out" "$TMP/perf.csv" "$TMP/wrk-alloc.out" "$TMP/perf-alloc.csv" \
        "$t0" "$t1" "$(getconf CLK_TCK)" <<'EOF'
import os, re, sys
out = open(sys.argv[1]).read()
def counts(path):
    c = {}
    for line in open(path):
        f = line.strip().split(",")
        if len(f) > 2 and f[0].isdigit():
            c[f[2]] = int(f[0])
    return c
sysc = counts(sys.argv[2]).get("raw_syscalls:sys_enter")
allocs = list(counts(sys.argv[4]).values())
if allocs:
    m = re.search(r"(\d+) requests in", open(sys.argv[3]).read())
    allocs = f"{sum(allocs) / int(m.group(1)):.2f}" if m else "nan"
else:
    allocs = "nan"
t0, t1, hz = map(float, sys.argv[5:])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
reqs = int(re.search(r"(\d+) requests in", out).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
if bad:
    sys.exit("non-2xx responses: " + bad.group(1))
sysc = f"{sysc / reqs:.2f}" if sysc is not None else "nan"
print(f"{rps:.0f} {p99:.2f} {(t1 - t0) / hz / reqs * 1e6:.2f} {sysc} {allocs}")
EOF
}

declare -A vals
printf '| scenario | old %s req/s | new req/s | new/old | old p99 ms | new p99 ms | old CPU µs/req | new CPU µs/req | CPU new/old | old syscalls/req | new syscalls/req | old allocs/req | new allocs/req |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n' \
    "$OLD_SHA" >"$TMP/table.md"
for path in $PATHS; do
    for k in old_rps new_rps old_p99 new_p99 old_cpu new_cpu old_sys new_sys old_mem new_mem; do vals[$k]=; done
    for ((r = 1; r <= ROUNDS; r++)); do
        order="old new"
        ((r % 2 == 0)) && order="new old" # neither side always runs second
        for side in $order; do
            bin=$OLD
            [[ $side == new ]] && bin=$NEW
            read -r rps p99 cpu sysc allocs < <(run "$bin" "$path") ||
                die "$side $path failed (see $RESULTS/ab.log)"
            [[ -n ${rps:-} ]] || die "$side $path: no result (see $RESULTS/ab.log)"
            log "$path round $r $side: $rps req/s, p99 $p99 ms, $cpu µs CPU/req, $sysc syscalls/req, $allocs allocs/req"
            vals[${side}_rps]+=" $rps"
            vals[${side}_p99]+=" $p99"
            vals[${side}_cpu]+=" $cpu"
            vals[${side}_sys]+=" $sysc"
            vals[${side}_mem]+=" $allocs"
        done
    done
    # medians: one disturbed run (the machine is shared) does not move them
    python3 - "$path" "${vals[old_rps]}" "${vals[new_rps]}" "${vals[old_p99]}" \
        "${vals[new_p99]}" "${vals[old_cpu]}" "${vals[new_cpu]}" "${vals[old_sys]}" \
        "${vals[new_sys]}" "${vals[old_mem]}" "${vals[new_mem]}" >>"$TMP/table.md" <<'EOF'
import math, statistics, sys
path = sys.argv[1]
o, nw, op, np_, oc, nc, os_, ns, om, nm = (statistics.median(map(float, a.split())) for a in sys.argv[2:])
f = lambda v: "–" if math.isnan(v) else f"{v:.2f}"
print(f"| {path} | {o:.0f} | {nw:.0f} | {nw / o:.3f} | {op:.2f} | {np_:.2f} | {oc:.2f} | {nc:.2f} | {nc / oc:.3f} | {f(os_)} | {f(ns)} | {f(om)} | {f(nm)} |")
EOF
done
{
    printf 'old: %s, new: %s; %s rounds interleaved, %s -c%s -d%ss, php-fpm static %s children (OPcache), %s CPUs, load at the end %s\n\n' \
        "$OLD_SHA" "$NEW_DESC" "$ROUNDS" "${WRK[*]}" "$CONNS" "$DURATION" "$FCGI_CONNS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    cat "$TMP/table.md"
} | tee "$RESULTS/ab.md"
