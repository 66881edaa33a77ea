#!/usr/bin/env bash
# bench/run.sh - compare wharf with nginx on static content (see bench/README in the
# header below). Prints a Markdown table and writes it to bench/results/latest.md;
# every wrk output and idle-test result goes to bench/results/latest.log.
#
# Environment:
#   ROUNDS=3        interleaved rounds per scenario (wharf, nginx, wharf, nginx, ...)
#   DURATION=8      seconds per wrk run (a 1 s warm-up precedes each run)
#   SCENARIOS="1 2 3 4 5 6"   subset to run
#   IDLE_CONNS=5000 connections for the idle keep-alive RSS test (scenario 6)
#   WHARF=src/wharf NGINX=nginx   binaries
#   KEEP_TMP=1      keep the temp dir (docroot, configs, server logs)
#   GZIP_STATIC=1   also put a precompressed page.html.gz (gzip -6) in the docroot and turn on
#                   nginx's gzip_static (wharf serves FILE.gz itself); default: both compress
#
# Scenarios: 1) 1 KiB file, 64 conns  2) 100 KiB file, 64 conns  3) 10 MiB file, 16 conns
# 4) 1 KiB file, 1000 keep-alive conns  5) gzip of a 100 KiB HTML page, 64 conns
# 6) RSS with IDLE_CONNS idle keep-alive connections.
# Each server is started fresh for every run (so VmHWM is that run's peak) on 127.0.0.1
# with its own config; the system nginx service is never touched.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
RESULTS_DIR=$BENCH_DIR/results

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
DURATION=${DURATION%s}
SCENARIOS=${SCENARIOS:-1 2 3 4 5 6}
IDLE_CONNS=${IDLE_CONNS:-5000}
WHARF=${WHARF:-$TOP_DIR/src/wharf}
WRK_THREADS=2
SERVERS=(wharf nginx)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds (e.g. 8 or 8s)"
[[ $IDLE_CONNS =~ ^[1-9][0-9]*$ ]] || die "IDLE_CONNS must be a positive integer"

# ---------------------------------------------------------------- dependencies
ensure_deps() {
    local pkgs=()
    command -v wrk >/dev/null || pkgs+=(wrk)
    command -v python3 >/dev/null || pkgs+=(python3)
    command -v curl >/dev/null || pkgs+=(curl)
    command -v gzip >/dev/null || pkgs+=(gzip)
    if [[ -z ${NGINX:-} ]]; then
        NGINX=$(command -v nginx || true)
        [[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
        [[ -z $NGINX ]] && pkgs+=(nginx-light)
    fi
    if ((${#pkgs[@]})); then
        [[ $(id -u) -eq 0 ]] || die "missing ${pkgs[*]}; install them (apt-get install -y ${pkgs[*]})"
        log "installing ${pkgs[*]}"
        apt-get update >&2 || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2 || die "apt-get install failed"
        if [[ -z ${NGINX:-} ]]; then
            NGINX=$(command -v nginx || echo /usr/sbin/nginx)
        fi
    fi
    [[ -x $NGINX ]] || die "nginx not found at $NGINX"
    [[ -x $WHARF ]] || die "wharf binary $WHARF not found; build it: make -j2 src/wharf"
}

raise_fd_limit() {
    local hard want=20000
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < want)); then
        ulimit -Hn "$want" 2>/dev/null && hard=$want
    fi
    [[ $hard == unlimited ]] && hard=$want
    ((hard > want)) && hard=$want
    ulimit -Sn "$hard" 2>/dev/null || true
    (($(ulimit -Sn) >= 2100)) || die "open-file limit $(ulimit -Sn) too low for 1000 connections"
    (($(ulimit -Sn) >= IDLE_CONNS + 100)) ||
        log "warning: open-file limit $(ulimit -Sn) is below IDLE_CONNS=$IDLE_CONNS + 100"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ------------------------------------------------------------------ processes
SERVER_PID=
CHILD_PID=
TMP=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $CHILD_PID ]] && kill "$CHILD_PID" 2>/dev/null
    [[ -n $SERVER_PID ]] && stop_server
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ -n ${KEEP_TMP:-} ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

port_of() { if [[ $1 == wharf ]]; then echo "$WHARF_PORT"; else echo "$NGINX_PORT"; fi; }

start_server() { # name
    local name=$1
    if [[ $name == wharf ]]; then
        "$WHARF" --root "$DOCROOT" --listen "127.0.0.1:$WHARF_PORT" --gzip \
            >>"$TMP/wharf.log" 2>&1 </dev/null &
    else
        "$NGINX" -e "$TMP/nginx-error.log" -p "$TMP/" -c "$TMP/nginx.conf" \
            >>"$TMP/nginx.out" 2>&1 </dev/null &
    fi
    SERVER_PID=$!
    # wait until it answers 200
    local port code i
    port=$(port_of "$name")
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null
            SERVER_PID=
            tail -n 20 "$TMP/$name.log" "$TMP/nginx-error.log" "$TMP/nginx.out" 2>/dev/null >&2
            die "$name exited during start-up"
        fi
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/1k.bin" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    die "$name did not answer 200 on port $port within 10 s (last status '$code')"
}

stop_server() {
    local pid=$SERVER_PID i
    [[ -z $pid ]] && return 0
    SERVER_PID=
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not exit after SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null # nginx's master exits after its workers
    return 0
}

# Checks every file once per server: status 200 and exact size.
check_files() { # name
    local name=$1 port f code size want
    port=$(port_of "$name")
    for f in 1k.bin 100k.bin 10m.bin page.html; do
        read -r code size < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' \
            "http://127.0.0.1:$port/$f")
        want=$(stat -c %s "$DOCROOT/$f")
        [[ $code == 200 && $size == "$want" ]] ||
            die "$name: GET /$f gave status $code, $size bytes (want 200, $want)"
    done
}

# Verifies that the server answers gzip for page.html and that it decompresses to the file.
check_gzip() { # name
    local name=$1 port hdr body wire
    port=$(port_of "$name")
    hdr=$TMP/gz-$name.hdr body=$TMP/gz-$name.body
    curl -s -H 'Accept-Encoding: gzip' -D "$hdr" -o "$body" "http://127.0.0.1:$port/page.html"
    wire=$(stat -c %s "$body")
    if grep -qi '^content-encoding: *gzip' "$hdr" && gzip -dc "$body" | cmp -s - "$DOCROOT/page.html"; then
        add_note "gzip check: $name answered Content-Encoding: gzip, $wire bytes on the wire for 102400, decompresses to page.html"
    else
        add_note "gzip check FAILED: $name did not answer valid gzip for page.html ($wire bytes; $(tr -d '\r' <"$hdr" | grep -i '^content-encoding' || echo 'no Content-Encoding'))"
        log "WARNING: $name did not answer gzip"
    fi
}

# ------------------------------------------------------------------- results
NOTE_N=0
add_note() { NOTE_N=$((NOTE_N + 1)); printf 'note_%03d\t%s\n' "$NOTE_N" "$*" >>"$META"; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; } # scenario server round metric value

# parse wrk --latency output -> "rps p99_ms mib_per_s non2xx sockerr"
parse_wrk() {
    awk '
    function ms(v,   n) { n = v + 0
        if (v ~ /us$/) return n / 1000; if (v ~ /ms$/) return n
        if (v ~ /m$/) return n * 60000; if (v ~ /h$/) return n * 3600000
        if (v ~ /s$/) return n * 1000; return n }
    function mib(v,   n) { n = v + 0
        if (v ~ /GB$/) return n * 1024; if (v ~ /MB$/) return n
        if (v ~ /KB$/) return n / 1024; if (v ~ /TB$/) return n * 1048576
        return n / 1048576 }
    /Latency Distribution/ { ld = 1 }
    ld && $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /^Transfer\/sec:/ { tr = mib($2) }
    /Socket errors:/ { line = $0; gsub(/,/, "", line); split(line, a, " ")
                       se = a[4] + a[6] + a[8] + a[10] }
    /Non-2xx or 3xx responses:/ { n2 = $NF }
    END { if (rps == "") exit 1
          printf "%s %.3f %.2f %d %d\n", rps, p99, tr, n2 + 0, se + 0 }'
}

proc_stats() { python3 "$BENCH_DIR/proctree.py" "$1"; } # -> rss_kb hwm_kb cpu_s nprocs

# one wrk measurement against a freshly started server
run_wrk() { # scenario server round conns path [header]
    local sc=$1 name=$2 rnd=$3 conns=$4 path=$5 header=${6:-}
    local port url out hargs=() rss hwm cpu0 cpu1 np rps p99 mbps n2 se err
    port=$(port_of "$name")
    url="http://127.0.0.1:$port$path"
    [[ -n $header ]] && hargs=(-H "$header")
    start_server "$name"
    [[ $sc == s5 && $rnd == 1 ]] && check_gzip "$name"
    wrk -t"$WRK_THREADS" -c"$conns" -d1s "${hargs[@]}" "$url" >/dev/null 2>&1 # warm-up
    read -r rss hwm cpu0 np < <(proc_stats "$SERVER_PID")
    out=$TMP/wrk.out
    wrk -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --latency "${hargs[@]}" "$url" >"$out" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID"
    CHILD_PID=
    read -r rss hwm cpu1 np < <(proc_stats "$SERVER_PID")
    {
        printf '\n=== %s %s round %s: -c%s %s %s (load %s)\n' "$sc" "$name" "$rnd" "$conns" "$path" \
            "$header" "$(cut -d' ' -f1-3 /proc/loadavg)"
        cat "$out"
        printf 'server: rss %s KB, peak %s KB, cpu %.2f s, %s processes\n' "$rss" "$hwm" \
            "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{print b-a}')" "$np"
    } >>"$RAWLOG"
    stop_server
    if ! read -r rps p99 mbps n2 se < <(parse_wrk <"$out"); then
        cat "$out" >&2
        add_note "$sc $name round $rnd: wrk produced no result"
        log "WARNING: wrk produced no result for $sc $name"
        return 0
    fi
    err=$((n2 + se))
    record "$sc" "$name" "$rnd" rps "$rps"
    record "$sc" "$name" "$rnd" p99_ms "$p99"
    record "$sc" "$name" "$rnd" mbps "$mbps"
    record "$sc" "$name" "$rnd" errors "$err"
    record "$sc" "$name" "$rnd" peak_rss_mib "$(awk -v k="$hwm" 'BEGIN{printf "%.2f", k/1024}')"
    awk -v r="$rps" -v d="$DURATION" -v a="$cpu0" -v b="$cpu1" \
        'BEGIN{ if (b - a > 0) printf "%.0f\n", r * d / (b - a); else print "nan" }' |
        { read -r v; [[ $v != nan ]] && record "$sc" "$name" "$rnd" req_per_cpu "$v"; }
    log "  $sc $name r$rnd: ${rps} req/s, p99 ${p99} ms, ${mbps} MiB/s, errors $err, peak $((hwm / 1024)) MiB"
    if ((err > 0)); then
        log "  WARNING: $name reported $err errors:"
        grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/      /' >&2
        add_note "$sc $name round $rnd: $(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')"
    fi
}

run_idle() { # server round
    local name=$1 rnd=$2 port json
    port=$(port_of "$name")
    start_server "$name"
    python3 "$BENCH_DIR/idle_conns.py" --port "$port" --pid "$SERVER_PID" \
        --count "$IDLE_CONNS" --path /1k.bin >"$TMP/idle.json" &
    CHILD_PID=$!
    wait "$CHILD_PID"
    CHILD_PID=
    json=$(cat "$TMP/idle.json")
    printf '\n=== s6 %s round %s: %s idle conns (load %s)\n%s\n' "$name" "$rnd" "$IDLE_CONNS" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" "$json" >>"$RAWLOG"
    stop_server
    [[ -n $json ]] || { add_note "s6 $name round $rnd: idle test failed"; return 0; }
    local metric value
    while read -r metric value; do
        record s6 "$name" "$rnd" "$metric" "$value"
    done < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("held", r["still_open"])
print("rss_before_mib", round(r["rss_before_kb"] / 1024, 2))
print("rss_with_mib", round(r["rss_with_kb"] / 1024, 2))
if r["kb_per_conn"] is not None: print("kb_per_conn", r["kb_per_conn"])
print("peak_rss_mib", round(r["hwm_kb"] / 1024, 2))
' "$json")
    local summary
    summary=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("{ok} opened, {failed} failed, {still_open} still open; RSS {rss_before_kb} -> {rss_with_kb} KB = {kb_per_conn} KB/conn; opening took {open_s} s; errors {errors}".format(**r))
' "$json")
    log "  s6 $name r$rnd: $summary"
    if python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["failed"] or r["still_open"] != r["ok"] else 1)' "$json"; then
        add_note "s6 $name round $rnd: $summary"
    fi
}

# ---------------------------------------------------------------------- main
ensure_deps
raise_fd_limit
mkdir -p "$RESULTS_DIR"
TMP=$(mktemp -d /tmp/wharf-bench.XXXXXX)
chmod 755 "$TMP" # nginx workers (nobody) must read the docroot
DOCROOT=$TMP/www
RESULTS=$TMP/results.tsv
META=$TMP/meta.tsv
RAWLOG=$RESULTS_DIR/latest.log
: >"$RESULTS"
: >"$META"
: >"$RAWLOG"

log "building docroot in $DOCROOT"
python3 "$BENCH_DIR/mkdocroot.py" "$DOCROOT" || die "mkdocroot failed"
if [[ -n ${GZIP_STATIC:-} ]]; then
    gzip -6 -n -k "$DOCROOT/page.html" || die "gzip failed"
    NGINX_GZIP_STATIC='gzip_static on;'
else
    NGINX_GZIP_STATIC=
fi
chmod -R a+rX "$DOCROOT"

WHARF_PORT=$(free_port)
NGINX_PORT=$(free_port)
while [[ $NGINX_PORT == "$WHARF_PORT" ]]; do NGINX_PORT=$(free_port); done
sed -e "s|@TMP@|$TMP|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@ROOT@|$DOCROOT|g" \
    -e "s|@GZIP_STATIC@|$NGINX_GZIP_STATIC|g" \
    "$BENCH_DIR/nginx.conf.in" >"$TMP/nginx.conf"
"$NGINX" -t -q -e "$TMP/nginx-error.log" -p "$TMP/" -c "$TMP/nginx.conf" ||
    die "nginx config test failed ($TMP/nginx.conf)"

{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
    printf 'load_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'wharf_version\t%s\n' "$("$WHARF" --version 2>&1 | head -n1)"
    printf 'nginx_version\t%s\n' "$("$NGINX" -v 2>&1 | head -n1)"
    printf 'wrk_version\t%s\n' "$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
    printf 'rounds\t%s\nduration\t%s\nidle_count\t%s\n' "$ROUNDS" "$DURATION" "$IDLE_CONNS"
} >>"$META"
if [[ " $SCENARIOS " == *" 5 "* ]]; then
    if [[ -n ${GZIP_STATIC:-} ]]; then
        add_note "scenario 5 with GZIP_STATIC=1: page.html.gz (gzip -6) in the docroot, nginx gzip_static on"
    else
        add_note "scenario 5: nginx gzips page.html on every request (gzip on has no cache); wharf caches the compressed variant. GZIP_STATIC=1 gives nginx a precompressed page.html.gz (gzip_static on) for a like-for-like run"
    fi
fi

log "wharf on 127.0.0.1:$WHARF_PORT, nginx on 127.0.0.1:$NGINX_PORT; $ROUNDS rounds x ${DURATION}s; fd limit $(ulimit -Sn)"
for name in "${SERVERS[@]}"; do
    start_server "$name"
    check_files "$name"
    stop_server
done
log "both servers answer 200 with the right sizes"

for s in $SCENARIOS; do
    case $s in
    1) log "scenario 1: 1 KiB file, 64 conns" ;;
    2) log "scenario 2: 100 KiB file, 64 conns" ;;
    3) log "scenario 3: 10 MiB file, 16 conns" ;;
    4) log "scenario 4: 1 KiB file, 1000 keep-alive conns" ;;
    5) log "scenario 5: gzip, 100 KiB HTML, 64 conns" ;;
    6) log "scenario 6: RSS with $IDLE_CONNS idle keep-alive conns" ;;
    *) die "unknown scenario '$s'" ;;
    esac
    for ((r = 1; r <= ROUNDS; r++)); do
        for name in "${SERVERS[@]}"; do
            case $s in
            1) run_wrk s1 "$name" "$r" 64 /1k.bin ;;
            2) run_wrk s2 "$name" "$r" 64 /100k.bin ;;
            3) run_wrk s3 "$name" "$r" 16 /10m.bin ;;
            4) run_wrk s4 "$name" "$r" 1000 /1k.bin ;;
            5) run_wrk s5 "$name" "$r" 64 /page.html 'Accept-Encoding: gzip' ;;
            6) run_idle "$name" "$r" ;;
            esac
        done
    done
done

printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
python3 "$BENCH_DIR/report.py" "$RESULTS" "$META" >"$RESULTS_DIR/latest.md" || die "report failed"
cat "$RESULTS_DIR/latest.md"
log "table written to $RESULTS_DIR/latest.md, raw wrk output in $RAWLOG"
