#!/usr/bin/env bash
# bench/rules.sh - what the request rules cost a request they do not apply to (issue 13): the
# 1 KiB static file on a site with 50 header, redirect and IP rules plus a rate limit on another
# path, against the same binary serving the same site without rules. Interleaved rounds (bare,
# rules; rules, bare; ...), medians, and the rules/bare ratio (target: at least 0.97). Prints a
# Markdown table and writes it to bench/results/rules.md; every wrk output goes to
# bench/results/rules.log. Needs a quiet machine for meaningful figures.
#
# Environment:
#   WHARF=src/wharf     the binary (both sides)
#   ROUNDS=5 DURATION=8 interleaved rounds and seconds per wrk run (a 1 s warm-up precedes each)
#   CONNS=64            wrk connections (wrk -t2)
#   KEEP_TMP=1          keep the temp dir (docroot, INIs, wharf's output)
#
# The rules (in the "rules" site; none of them matches /1k.bin, so the figure is what matching
# costs a request that no rule is for): 17 `header` rules, 17 `redirect` rules and 16 `deny_ip`
# rules on their own path prefixes, and `limit_req = =/wp-login.php 10r/s burst=20`.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
WHARF=${WHARF:-$TOP_DIR/src/wharf}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
RESULTS=$BENCH_DIR/results

log() { printf '[rules %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $WHARF ]] || die "no $WHARF: build first (./build.sh)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ ]] ||
    die "ROUNDS/DURATION/CONNS: whole numbers"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wharf-rules.XXXXXX")
FRONT_PID=
cleanup() {
    [[ -n $FRONT_PID ]] && kill "$FRONT_PID" 2>/dev/null
    wait 2>/dev/null
    [[ -n ${KEEP_TMP:-} ]] && log "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$RESULTS"
: >"$RESULTS/rules.log"

python3 "$BENCH_DIR/mkdocroot.py" "$TMP/www" >/dev/null || die "mkdocroot.py failed"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# bare.ini: the site alone; rules.ini: the same site and the 50 rules + the rate limit
printf '[server]\nlisten = 127.0.0.1:%s\n[site bench]\nroot = %s\n' "$PORT" "$TMP/www" >"$TMP/bare.ini"
{
    cat "$TMP/bare.ini"
    for i in $(seq 1 17); do printf 'header = /h%d/ X-Rule-%d: value %d\n' "$i" "$i" "$i"; done
    for i in $(seq 1 17); do printf 'redirect = /old%d/ /new%d/ 301\n' "$i" "$i"; done
    for i in $(seq 1 16); do printf 'deny_ip = /private%d/ 10.%d.0.0/16 2001:db8:%x::/48\n' "$i" "$i" "$i"; done
    printf 'limit_req = =/wp-login.php 10r/s burst=20\n'
} >"$TMP/rules.ini"
"$WHARF" --test --config "$TMP/rules.ini" >"$TMP/check.out" 2>&1 ||
    die "wharf rejects rules.ini: $(cat "$TMP/check.out")"

# run SIDE -> "req/s p99_ms cpu_us_per_req"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {
    local side=$1 out t0 t1 i url="http://127.0.0.1:$PORT/1k.bin"
    "$WHARF" --config "$TMP/$side.ini" >>"$TMP/front.log" 2>&1 &
    FRONT_PID=$!
    for ((i = 0; i < 100; i++)); do
        curl -fs -o /dev/null "$url" && break
        sleep 0.05
    done
    if [[ $side == rules ]]; then # the rules are live: a redirect answers, the file does not
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/old17/x") == 301 ]] ||
            die "rules.ini: /old17/x is not redirected"
    fi
    wrk -t2 -c"$CONNS" -d1s "$url" >/dev/null 2>&1 # warm-up
    t0=$(cpu_ticks "$FRONT_PID")
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$url" 2>&1)
    t1=$(cpu_ticks "$FRONT_PID")
    kill "$FRONT_PID"
    wait "$FRONT_PID" 2>/dev/null
    FRONT_PID=
    printf '### %s\n%s\n' "$side" "$out" >>"$RESULTS/rules.log"
    python3 - "$out" "$t0" "$t1" "$(getconf CLK_TCK)" <<'EOF'
import re, sys
out = sys.argv[1]
t0, t1, hz = map(float, sys.argv[2:])
if re.search(r"Non-2xx or 3xx responses", out):
    sys.exit("non-2xx responses")
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
reqs = int(re.search(r"(\d+) requests in", out).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{rps:.0f} {p99:.2f} {(t1 - t0) / hz / reqs * 1e6:.2f}")
EOF
}

declare -A vals
for ((r = 1; r <= ROUNDS; r++)); do
    order="bare rules"
    ((r % 2 == 0)) && order="rules bare" # neither side always runs second
    for side in $order; do
        read -r rps p99 cpu < <(run "$side") || die "$side failed (see $RESULTS/rules.log)"
        [[ -n ${rps:-} ]] || die "$side: no result (see $RESULTS/rules.log)"
        log "round $r $side: $rps req/s, p99 $p99 ms, $cpu µs CPU/req"
        vals[${side}_rps]+=" $rps"
        vals[${side}_p99]+=" $p99"
        vals[${side}_cpu]+=" $cpu"
    done
done
{
    printf '%s, 1 KiB file, %s rounds interleaved, wrk -t2 -c%s -d%ss, %s CPUs, load at the end %s\n\n' \
        "$(git -C "$TOP_DIR" describe --always --dirty 2>/dev/null || echo wharf)" "$ROUNDS" \
        "$CONNS" "$DURATION" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    python3 - "${vals[bare_rps]}" "${vals[rules_rps]}" "${vals[bare_p99]}" "${vals[rules_p99]}" \
        "${vals[bare_cpu]}" "${vals[rules_cpu]}" <<'EOF'
import statistics, sys
br, rr, bp, rp, bc, rc = (statistics.median(map(float, a.split())) for a in sys.argv[1:])
print("| site | req/s (median) | p99 ms | CPU µs/req |\n|---|---|---|---|")
print(f"| no rules | {br:.0f} | {bp:.2f} | {bc:.2f} |")
print(f"| 50 rules + limit_req elsewhere | {rr:.0f} | {rp:.2f} | {rc:.2f} |")
print(f"| **ratio rules/none** | **{rr / br:.3f}** (target ≥ 0.97) | {rp / bp:.3f} | {rc / bc:.3f} |")
EOF
} | tee "$RESULTS/rules.md"
