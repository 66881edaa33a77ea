#!/usr/bin/env bash
# bench/replicas.sh - three wharf replicas on loopback behind a round-robin nginx, as pods behind
# a Service: how fast a push reaches all three through the git_peers fan-out, how long they
# disagree, what clients see meanwhile, and what a replica killed (-9) during a deploy does when
# it is restarted. Prints a Markdown report and writes it to bench/results/replicas.md (the
# per-round rows and the logs go to bench/results/replicas.log). A few minutes at most.
#
# Setup (in a temp dir): a bare remote and a clone with 1+ROUNDS+KILL_ROUNDS versions of the
# ~20-file site of bench/deploy_load.py (each file embeds its version); version 1 is pushed
# before the replicas start. Replicas: wharf on 127.0.0.2, .3 and .4 (one port, as pods have
# their own addresses), each with its own root and state directory (a pod's emptyDir), admin
# listener (/readyz) on 127.0.0.1, git_interval = 60s (polling only as the safety net),
# git_hook, git_secret, git_status, git_peers naming the three. Balancer: nginx (nginx-light),
# an upstream of the three with keepalive, round robin; a thread of bench/replicas_load.py
# probes /readyz and marks a replica that is not ready "down" (an nginx reload), as
# Kubernetes takes a pod that is not ready out of a Service's endpoints. Why nginx and not a
# Python balancer: it is what ingress-nginx runs, it balances per request over kept-alive
# upstream connections, and a Python balancer on this shared 2-core machine would be the
# bottleneck and add its own failures. Details of the measurement: bench/replicas_load.py.
#
# Environment:
#   ROUNDS=5 KILL_ROUNDS=3   fan-out rounds; kill-during-deploy rounds (replicas restarted with
#                            git_then = sleep 1 first, so the kill lands inside a deploy)
#   CLIENTS=8                client threads through nginx (keep-alive, sequential requests)
#   PROBE_MS=500             the endpoints' readiness probe period
#   WHARF=src/wharf NGINX=nginx KEEP_TMP=1
# Exit status 1 when a round did not converge, a client request failed, a client saw an older
# version after every replica had switched, or a restarted replica was ready on an older one.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
RESULTS_DIR=$BENCH_DIR/results
ROUNDS=${ROUNDS:-5}
KILL_ROUNDS=${KILL_ROUNDS:-3}
CLIENTS=${CLIENTS:-8}
PROBE_MS=${PROBE_MS:-500}
WHARF=${WHARF:-$TOP_DIR/src/wharf}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
SECRET="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

log() { printf '[replicas %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for c in git python3 curl; do
    command -v "$c" >/dev/null || die "$c is not installed (apt-get install -y $c)"
done
[[ -x $NGINX ]] || die "nginx not found (apt-get install -y nginx-light)"
[[ -x $WHARF ]] || die "wharf binary $WHARF not found; build it: make -j2 src/wharf"

TMP=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ -n ${KEEP_TMP:-} ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM
TMP=$(mktemp -d /tmp/wharf-replicas-bench.XXXXXX) || die "mktemp failed"
export GIT_CONFIG_GLOBAL="$TMP/gitconfig" GIT_CONFIG_NOSYSTEM=1
: >"$GIT_CONFIG_GLOBAL"

N=$((1 + ROUNDS + KILL_ROUNDS))
log "creating the remote and $N versions of the site"
git -c init.defaultBranch=main init -q --bare "$TMP/remote.git" || die "git init --bare failed"
git -c init.defaultBranch=main init -q "$TMP/work" || die "git init failed"
git -C "$TMP/work" config user.name "wharf bench"
git -C "$TMP/work" config user.email "bench@example.invalid"
git -C "$TMP/work" remote add origin "$TMP/remote.git"
: >"$TMP/commits"
for ((n = 1; n <= N; n++)); do
    python3 "$BENCH_DIR/deploy_load.py" site "$TMP/work" "$n" || die "writing version $n failed"
    { git -C "$TMP/work" add -A && git -C "$TMP/work" commit -q -m "v$n"; } || die "commit v$n failed"
    echo "$n $(git -C "$TMP/work" rev-parse HEAD)" >>"$TMP/commits"
done
git -C "$TMP/work" push -q origin "$(awk '$1 == 1 {print $2}' "$TMP/commits"):refs/heads/main" ||
    die "pushing v1 failed"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BAL=$(free_port)
ADMIN=()
for i in 2 3 4; do
    ADMIN[i]=$(free_port)
    mkdir -p "$TMP/r$i"
    for kind in w k; do
        {
            printf '%s\n' "[server]" "listen = 127.0.0.$i:$PORT" "admin_listen = 127.0.0.1:${ADMIN[i]}" \
                "[site s]" "root = $TMP/r$i/site" "access_log = off" "git_repo = $TMP/remote.git" \
                "git_interval = 60s" "git_hook = /_hook" "git_secret = $SECRET" "git_status = /_status" \
                "git_peers = 127.0.0.2:$PORT 127.0.0.3:$PORT 127.0.0.4:$PORT"
            [ "$kind" = k ] && echo "git_then = sleep 1"
        } >"$TMP/$kind$i.ini"
    done
    "$WHARF" --config "$TMP/w$i.ini" --test >"$TMP/test.out" 2>&1 ||
        { cat "$TMP/test.out" >&2; die "wharf --test refused $TMP/w$i.ini"; }
done
mkdir -p "$TMP/nginx-tmp"
cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx-tmp/body;
    proxy_temp_path $TMP/nginx-tmp/proxy;
    fastcgi_temp_path $TMP/nginx-tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx-tmp/uwsgi;
    scgi_temp_path $TMP/nginx-tmp/scgi;
    upstream replicas {
        include $TMP/upstream.conf;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$BAL;
        location / {
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
        }
    }
}
EOF

mkdir -p "$RESULTS_DIR"
log "3 replicas on 127.0.0.2-4:$PORT, nginx on 127.0.0.1:$BAL; $ROUNDS fan-out rounds, $KILL_ROUNDS kill rounds"
python3 "$BENCH_DIR/replicas_load.py" run --tmp "$TMP" --wharf "$WHARF" --nginx "$NGINX" \
    --commits "$TMP/commits" --work "$TMP/work" --secret "$SECRET" --port "$PORT" \
    --admin "${ADMIN[2]},${ADMIN[3]},${ADMIN[4]}" --balancer "$BAL" --rounds "$ROUNDS" \
    --kill-rounds "$KILL_ROUNDS" --clients "$CLIENTS" --probe-ms "$PROBE_MS" \
    >"$TMP/report.md" 2>"$TMP/rounds.log"
rc=$?
{
    echo "# Three replicas behind nginx"
    echo
    echo "wharf $("$WHARF" --version 2>/dev/null | awk '{print $2}'), $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(nproc) CPUs shared with other jobs, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)."
    echo
    cat "$TMP/report.md"
} >"$RESULTS_DIR/replicas.md"
{
    cat "$TMP/rounds.log"
    for i in 2 3 4; do
        echo
        echo "replica .$i error log:"
        sed 's/^/  /' "$TMP/wharf$i.err" 2>/dev/null
    done
    echo
    echo "nginx error log:"
    sed 's/^/  /' "$TMP/nginx-error.log" 2>/dev/null
} >"$RESULTS_DIR/replicas.log"
cat "$TMP/rounds.log" >&2
cat "$RESULTS_DIR/replicas.md"
log "written: $RESULTS_DIR/replicas.md, $RESULTS_DIR/replicas.log"
((rc == 0)) || log "FAILED: see above and replicas.log"
exit "$rc"
