#!/usr/bin/env bash
# bench/tls.sh - the TLS listener (issue 13): the 1 KiB file over HTTPS with keep-alive, wharf
# against nginx (and h2o when installed) with the same certificate and key (ECDSA P-256,
# generated in the temp dir), interleaved rounds, medians, and wharf/nginx (target: within
# 10 %, i.e. at least 0.90). Prints a Markdown table and writes it to bench/results/tls.md;
# every wrk output goes to bench/results/tls.log. Needs a quiet machine for meaningful figures.
#
# Environment:
#   WHARF=src/wharf NGINX=nginx H2O=h2o   binaries (H2O=0 leaves h2o out; so does its absence)
#   ROUNDS=3 DURATION=8   interleaved rounds and seconds per wrk run (a 1 s warm-up, which also
#                         makes the handshakes, precedes each run)
#   CONNS=64              wrk connections (wrk -t2); each does one handshake and then keeps
#                         its connection, so this measures the record layer, not handshakes
#   KEEP_TMP=1            keep the temp dir
#
# Each server runs with the worker count of the static scenarios in bench/run.sh: wharf one
# worker per CPU, nginx 2 workers, h2o 2 threads; all negotiate TLS 1.3 with wrk (OpenSSL).
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
WHARF=${WHARF:-$TOP_DIR/src/wharf}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
H2O=${H2O-$(command -v h2o || true)}
[[ $H2O == 0 ]] && H2O=
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
RESULTS=$BENCH_DIR/results

log() { printf '[tls %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $WHARF ]] || die "no $WHARF: build first (./build.sh)"
[[ -x $NGINX ]] || die "no nginx (apt-get install nginx-light)"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v openssl >/dev/null || die "openssl is not installed"
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ ]] ||
    die "ROUNDS/DURATION/CONNS: whole numbers"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wharf-tls.XXXXXX")
FRONT_PID=
cleanup() {
    [[ -n $FRONT_PID ]] && kill "$FRONT_PID" 2>/dev/null
    wait 2>/dev/null
    [[ -n ${KEEP_TMP:-} ]] && log "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$RESULTS"
: >"$RESULTS/tls.log"

python3 "$BENCH_DIR/mkdocroot.py" "$TMP/www" >/dev/null || die "mkdocroot.py failed"
chmod 755 "$TMP" # nginx's workers (nobody when run as root) read the docroot
chmod -R a+rX "$TMP/www"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$TMP/openssl.out" 2>&1 ||
    die "openssl req failed: $(tail -n 2 "$TMP/openssl.out")"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/nginx"

printf '[server]\ntls_listen = 127.0.0.1:%s\ntls_cert = %s\ntls_key = %s\n[site bench]\nroot = %s\n' \
    "$PORT" "$TMP/cert.pem" "$TMP/key.pem" "$TMP/www" >"$TMP/wharf.ini"
"$WHARF" --test --config "$TMP/wharf.ini" >"$TMP/check.out" 2>&1 ||
    die "wharf rejects its INI: $(cat "$TMP/check.out")"

# nginx: bench/nginx.conf.in's server, with ssl on the listener (no access log, as wharf's default)
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 10000; }
http {
    types { application/octet-stream bin; text/html html; }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 60s;
    keepalive_requests 100000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT ssl backlog=4096;
        server_name localhost;
        ssl_certificate $TMP/cert.pem;
        ssl_certificate_key $TMP/key.pem;
        root $TMP/www;
        location / { }
    }
}
EOF
"$NGINX" -t -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/t.out" 2>&1 ||
    die "nginx rejects its config: $(tail -n 2 "$TMP/nginx/t.out")"

SIDES="wharf nginx"
if [[ -n $H2O ]]; then
    cat >"$TMP/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $PORT
  ssl:
    certificate-file: $TMP/cert.pem
    key-file: $TMP/key.pem
num-threads: 2
max-connections: 20000
error-log: $TMP/h2o-error.log
hosts:
  default:
    paths:
      /:
        file.dir: $TMP/www
EOF
    if "$H2O" -t -c "$TMP/h2o.conf" >"$TMP/h2o-t.out" 2>&1; then
        SIDES+=" h2o"
    else
        log "h2o left out: it rejects its config ($(tail -n 1 "$TMP/h2o-t.out"))"
    fi
fi

start() {
    case $1 in
    wharf) "$WHARF" --config "$TMP/wharf.ini" >>"$TMP/wharf.out" 2>&1 </dev/null & ;;
    nginx) "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >>"$TMP/nginx/out" 2>&1 </dev/null & ;;
    h2o) "$H2O" -c "$TMP/h2o.conf" >>"$TMP/h2o.out" 2>&1 </dev/null & ;;
    esac
    FRONT_PID=$!
}

# CPU of the server and its children (nginx's workers): /proc/PID/stat utime+stime+cutime+cstime
# counts children only once reaped, so sum the live process tree instead
cpu_ticks() {
    local p sum=0
    for p in $1 $(pgrep -P "$1"); do
        [[ -r /proc/$p/stat ]] && sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$sum"
}

# run SIDE -> "req/s p99_ms cpu_us_per_req"
run() {
    local side=$1 out t0 t1 i url="https://127.0.0.1:$PORT/1k.bin"
    start "$side"
    for ((i = 0; i < 100; i++)); do
        curl -fsk -o /dev/null "$url" && break
        sleep 0.05
    done
    curl -fsk -o /dev/null "$url" || die "$side does not answer $url"
    wrk -t2 -c"$CONNS" -d1s "$url" >/dev/null 2>&1 # warm-up (and the handshakes)
    t0=$(cpu_ticks "$FRONT_PID")
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$url" 2>&1)
    t1=$(cpu_ticks "$FRONT_PID")
    kill "$FRONT_PID"
    wait "$FRONT_PID" 2>/dev/null
    FRONT_PID=
    for ((i = 0; i < 100; i++)); do # the port is free again before the next server binds it
        curl -fsk -o /dev/null --max-time 1 "$url" 2>/dev/null || break
        sleep 0.05
    done
    printf '### %s\n%s\n' "$side" "$out" >>"$RESULTS/tls.log"
    python3 - "$out" "$t0" "$t1" "$(getconf CLK_TCK)" <<'EOF'
import re, sys
out = sys.argv[1]
t0, t1, hz = map(float, sys.argv[2:])
if re.search(r"Non-2xx or 3xx responses", out) or re.search(r"Socket errors", out):
    sys.exit("errors in the wrk run")
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
reqs = int(re.search(r"(\d+) requests in", out).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{rps:.0f} {p99:.2f} {(t1 - t0) / hz / reqs * 1e6:.2f}")
EOF
}

declare -A vals
read -r -a sides <<<"$SIDES"
for ((r = 1; r <= ROUNDS; r++)); do
    # rotate the order each round: no server always runs first or last
    order=("${sides[@]:$(((r - 1) % ${#sides[@]}))}" "${sides[@]:0:$(((r - 1) % ${#sides[@]}))}")
    for side in "${order[@]}"; do
        read -r rps p99 cpu < <(run "$side") || die "$side failed (see $RESULTS/tls.log)"
        [[ -n ${rps:-} ]] || die "$side: no result (see $RESULTS/tls.log)"
        log "round $r $side: $rps req/s, p99 $p99 ms, $cpu µs CPU/req"
        vals[${side}]+=" $rps,$p99,$cpu"
    done
done
{
    printf '%s; 1 KiB file over TLS, keep-alive, %s rounds interleaved, wrk -t2 -c%s -d%ss, %s CPUs, load at the end %s\n\n' \
        "$(git -C "$TOP_DIR" describe --always --dirty 2>/dev/null || echo wharf)" "$ROUNDS" \
        "$CONNS" "$DURATION" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    args=()
    for side in "${sides[@]}"; do args+=("$side=${vals[$side]}"); done
    python3 - "${args[@]}" <<'EOF'
import statistics, sys
rows = {}
for a in sys.argv[1:]:
    name, runs = a.split("=", 1)
    cols = list(zip(*(tuple(map(float, r.split(","))) for r in runs.split())))
    rows[name] = [statistics.median(c) for c in cols]
ng = rows["nginx"]
print("| server | req/s (median) | p99 ms | CPU µs/req | req/s vs nginx |\n|---|---|---|---|---|")
for name, (rps, p99, cpu) in rows.items():
    mark = " (target ≥ 0.90)" if name == "wharf" else ""
    print(f"| {name} | {rps:.0f} | {p99:.2f} | {cpu:.2f} | {rps / ng[0]:.3f}{mark} |")
EOF
} | tee "$RESULTS/tls.md"
