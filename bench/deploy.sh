#!/usr/bin/env bash
# bench/deploy.sh - deploy under load: wrk against a git-deployed site while DEPLOYS webhook
# deploys happen. Reports failed and mixed-version responses (target: 0) and push-to-live
# latency with the webhook (target: under 2 s for a small repo without git_then). Prints a
# Markdown table and writes it to bench/results/deploy.md (deploy-gate.md with GATE=1); raw wrk
# output and per-deploy rows go to bench/results/deploy.log (deploy-gate.log). Runs in well under 2 minutes.
#
# Setup (in a temp dir): a bare remote and a working clone; DEPLOYS+1 commits of a ~20-file site
# (nested dirs, a few KiB of css/js, a 100 KiB file) where every file embeds its version "vN";
# version 1 is pushed before wharf starts, the others are pushed one at a time during the load.
# wharf: [site s] root = TMP/site, git_repo = TMP/remote.git, git_interval = 0,
# git_hook = /_deploy, git_secret, git_status = /_status, access_log off, 127.0.0.1:free port.
# Load: wrk -t$WRK_THREADS -c$WRK_CONNS on /index.html for the whole phase, and
# bench/deploy_load.py's checker threads (keep-alive http.client) that match every body
# against the sha256 of each version's file. A baseline phase (same load, no deploys) runs
# first. Details: bench/deploy_load.py.
#
# Environment:
#   DEPLOYS=10      deploys under load
#   GAP=1           seconds between one deploy being live and the next push (wharf runs at most
#                   one requested deploy per second and debounces webhooks by 250 ms)
#   BASELINE=5      seconds of the same load without deploys first (0 = skip)
#   GATE=0          1 = the health gate on: git_check = /data/version.json (a static file of the
#                   new release, asked before the switch; the checks after it stop at the first
#                   pass); php = git_check = /health.php through php-fpm (fastcgi = spawn; every
#                   version carries a health.php); its own time per deploy is read from wharf's
#                   log and reported apart; results go to bench/results/deploy-gate.md
#                   (deploy-gate-php.md) and .log
#   WRK_THREADS=2 WRK_CONNS=64 CHECKERS=3
#   WHARF=src/wharf KEEP_TMP=1 (keep the temp dir: repos, releases, config, wharf.err)
# Exit status 1 when a deploy never went live or any request failed.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
RESULTS_DIR=$BENCH_DIR/results

DEPLOYS=${DEPLOYS:-10}
GAP=${GAP:-1}
BASELINE=${BASELINE:-5}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-64}
CHECKERS=${CHECKERS:-3}
GATE=${GATE:-0}
NAME=deploy
[[ $GATE == 1 ]] && NAME=deploy-gate
[[ $GATE == php ]] && NAME=deploy-gate-php
WHARF=${WHARF:-$TOP_DIR/src/wharf}
SECRET="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

log() { printf '[deploy %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $DEPLOYS =~ ^[1-9][0-9]*$ ]] || die "DEPLOYS must be a positive integer"
for c in wrk git python3 curl; do
    command -v "$c" >/dev/null || die "$c is not installed (apt-get install -y $c)"
done
[[ -x $WHARF ]] || die "wharf binary $WHARF not found; build it: make -j2 src/wharf"

TMP=
WPID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $WPID ]]; then
        kill -TERM "$WPID" 2>/dev/null
        wait "$WPID" 2>/dev/null
    fi
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ -n ${KEEP_TMP:-} ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

TMP=$(mktemp -d /tmp/wharf-deploy-bench.XXXXXX) || die "mktemp failed"
export GIT_CONFIG_GLOBAL="$TMP/gitconfig" GIT_CONFIG_NOSYSTEM=1
: >"$GIT_CONFIG_GLOBAL"

# ------------------------------------------------------------------ repositories and commits
log "creating the remote and $((DEPLOYS + 1)) versions of the site"
git -c init.defaultBranch=main init -q --bare "$TMP/remote.git" || die "git init --bare failed"
git -c init.defaultBranch=main init -q "$TMP/work" || die "git init failed"
git -C "$TMP/work" config user.name "wharf bench"
git -C "$TMP/work" config user.email "bench@example.invalid"
git -C "$TMP/work" remote add origin "$TMP/remote.git"
: >"$TMP/commits"
for ((n = 1; n <= DEPLOYS + 1; n++)); do
    python3 "$BENCH_DIR/deploy_load.py" site "$TMP/work" "$n" || die "writing version $n failed"
    [[ $GATE == php ]] && printf '<?php\nheader("Content-Type: text/plain");\necho "ok v%s\\n";\n' "$n" \
        >"$TMP/work/health.php"
    { git -C "$TMP/work" add -A && git -C "$TMP/work" commit -q -m "v$n"; } || die "commit v$n failed"
    echo "$n $(git -C "$TMP/work" rev-parse HEAD)" >>"$TMP/commits"
done
git -C "$TMP/work" push -q origin "$(awk '$1 == 1 {print $2}' "$TMP/commits"):refs/heads/main" ||
    die "pushing v1 failed"
log "site: $(git -C "$TMP/work" ls-files | wc -l) files, $(du -sk --exclude=.git "$TMP/work" | cut -f1) KiB"

# ------------------------------------------------------------------------------ wharf
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site s]
root = $TMP/site
access_log = off
git_repo = $TMP/remote.git
git_interval = 0
git_hook = /_deploy
git_secret = $SECRET
git_status = /_status
EOF
[[ $GATE == 1 ]] && echo "git_check = /data/version.json" >>"$TMP/wharf.ini"
[[ $GATE == php ]] && printf '%s\n' "fastcgi = spawn" "git_check = /health.php" >>"$TMP/wharf.ini"
"$WHARF" --config "$TMP/wharf.ini" --test >"$TMP/test.out" 2>&1 || {
    cat "$TMP/test.out" >&2
    die "wharf --test refused the configuration"
}
"$WHARF" --config "$TMP/wharf.ini" 2>>"$TMP/wharf.err" &
WPID=$!
log "wharf pid $WPID on 127.0.0.1:$PORT; waiting for v1 to go live"
for ((i = 0; i < 400; i++)); do
    curl -s --max-time 1 "http://127.0.0.1:$PORT/data/version.json" 2>/dev/null | grep -q '"v1"' && break
    kill -0 "$WPID" 2>/dev/null || { cat "$TMP/wharf.err" >&2; die "wharf exited"; }
    sleep 0.05
done
((i < 400)) || { cat "$TMP/wharf.err" >&2; die "v1 did not go live within 20 s"; }

# ---------------------------------------------------------------------------- measure
mkdir -p "$RESULTS_DIR"
python3 "$BENCH_DIR/deploy_load.py" run --port "$PORT" --work "$TMP/work" --commits "$TMP/commits" \
    --secret "$SECRET" --hook /_deploy --status /_status --wrk-threads "$WRK_THREADS" \
    --wrk-conns "$WRK_CONNS" --checkers "$CHECKERS" --baseline "$BASELINE" --gap "$GAP" \
    --log "$RESULTS_DIR/$NAME.log" >"$TMP/report.md"
rc=$?
{
    echo "# Deploy under load"
    echo
    echo "wharf $("$WHARF" --version 2>/dev/null | awk '{print $2}'), $(nproc) CPUs, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ)." \
        "$DEPLOYS webhook deploys of a $(git -C "$TMP/work" ls-files | wc -l)-file site (no git_then);" \
        "wrk -t$WRK_THREADS -c$WRK_CONNS on /index.html." \
        "Health gate: $(case $GATE in 1) echo 'on (git_check = /data/version.json, a static file)' ;;
            php) echo 'on (git_check = /health.php through php-fpm, fastcgi = spawn)' ;; *) echo off ;; esac)." \
        "The machine was shared with other jobs (builds and tests on its $(nproc) CPUs)."
    echo
    cat "$TMP/report.md"
    if [[ $GATE != 0 ]]; then
        # "git_check passed on SHA before the switch (N ms)": the gate's own time, per deploy
        gate=$(sed -n 's/.*git_check passed on [0-9a-f]* before the switch (\([0-9]*\) ms).*/\1/p' \
            "$TMP/wharf.err" | tail -n "$DEPLOYS" | sort -n)
        if [[ -n $gate ]]; then
            n=$(wc -l <<<"$gate")
            echo
            echo "The gate's own time before each switch (wharf's log, $n deploys):" \
                "min $(head -1 <<<"$gate") ms, median $(sed -n "$(((n + 1) / 2))p" <<<"$gate") ms," \
                "max $(tail -1 <<<"$gate") ms; it is part of the push-to-live time above."
        fi
    fi
} >"$RESULTS_DIR/$NAME.md"
{
    echo
    echo "wharf error log:"
    sed 's/^/  /' "$TMP/wharf.err"
} >>"$RESULTS_DIR/$NAME.log"
cat "$RESULTS_DIR/$NAME.md"
log "written: $RESULTS_DIR/$NAME.md, $RESULTS_DIR/$NAME.log"
kill -0 "$WPID" 2>/dev/null || { log "wharf is no longer running"; rc=1; }
((rc == 0)) || log "FAILED: a deploy never went live, or requests failed (see above and $NAME.log)"
exit "$rc"
