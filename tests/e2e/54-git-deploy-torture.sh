#!/usr/bin/env bash
# Git deploy torture: kill -9 of wharf at random points of a deploy's fetch, checkout, build
# (git_then) and switch, then a restart and a rollback, over and over. A background monitor
# samples the root symlink every few milliseconds the whole time: it must always resolve to a
# complete release (a real directory named exactly NNNNNN-TIME-SHA12 whose git_then output
# matches its commit). After each kill: no process of the killed deploy is left, and the root
# is a complete release; after each restart: 200 with a consistent page at once, the branch's
# commit is deployed, and --rollback brings the previous commit back. The windows are widened
# with a 2 MB incompressible file per commit (fetch), 600 files (checkout) and a git_then that
# sleeps (build); the kill delay is random within each phase (the seed is printed; set
# TORTURE_SEED to replay a run). Each phase must have been hit at least once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

SEED=${TORTURE_SEED:-$(($(date +%s) % 32768))}
RANDOM=$SEED
echo "# seed $SEED (TORTURE_SEED=$SEED replays the kill delays)"
ROUNDS=4       # each phase is targeted this many times ...
MAX_KILLS=22   # ... and then again while one has not been hit, up to this many kills in all
TAG="wharf-torture-$$-$SEED"
ROOT="$T/site"
REL="$(dirname "$ROOT")/.site.wharf/releases"
mkdir -p "$T/m"

# ---- the repository: bulk files for checkout, a fresh 2 MB blob per commit for the fetch -----
new_remote t
mkdir -p "$T/t.work/bulk"
for i in $(seq 1 600); do printf 'file %s\n' "$i" >"$T/t.work/bulk/f$i.txt"; done
commit_version() { # commit_version N: version N (v.txt, index.html, blob.bin, build.sh); sets SHA
    put t v.txt "v$1"
    put t index.html "v$1"
    head -c 2000000 /dev/urandom >"$T/t.work/blob.bin"
    put t build.sh "touch '$T/m/build-start.$1'; sleep 0.3; printf 'built %s' \"\$(cat v.txt)\" >built.txt; touch '$T/m/build-done.$1'"
    push t "v$1"
    SHAS[$1]=$SHA
}

PORT=$(free_port)
cat >"$T/t.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site t]
root = $ROOT
git_repo = $T/t.git
git_interval = 0
git_keep = 0
git_then = sh build.sh
git_status = /_status
EOF
start() { # wharf with a tag in its environment: every process of its deploys inherits it
    export WHARF_TORTURE_TAG=$TAG
    start_wharf_ini "$T/t.ini"
    export -n WHARF_TORTURE_TAG
    unset WHARF_TORTURE_TAG
}
# leftovers: the processes (other than wharf itself) that carry the tag
leftovers() {
    python3 -c '
import os, sys
tag = ("WHARF_TORTURE_TAG=" + sys.argv[1]).encode()
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    try:
        env = open("/proc/%s/environ" % p, "rb").read().split(b"\0")
        cmd = open("/proc/%s/cmdline" % p, "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        continue
    if tag in env:
        print(p, cmd[:120])' "$TAG"
}
consistent() { # consistent BODY-OF-/ BODY-OF-/built.txt: a version and its own build output
    [[ "$1" =~ ^v[0-9]+$ ]] && [ "$2" = "built $1" ]
}

commit_version 0
start
wait_until 15000 body_is / "v0"
is "$(body /)" "v0" "the first commit is live"

# ---- the monitor: the root must resolve to a complete release at every sample ----------------
python3 - "$ROOT" "$T/monitor.bad" "$T/monitor.count" "$T/monitor.stop" <<'EOF' &
import os, re, stat, sys, time
root, bad, count, stop = sys.argv[1:]
name_re = re.compile(r"^[0-9]{6}-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$")
n = 0
with open(bad, "w") as out:
    while not os.path.exists(stop):
        n += 1
        why = None
        target = None
        try:
            target = os.readlink(root)
            real = os.path.realpath(root)
            name = os.path.basename(real)
            st = os.lstat(real)
            if not name_re.match(name):
                why = "root -> %s: not a release name" % target
            elif os.path.basename(os.path.dirname(real)) != "releases":
                why = "root -> %s: not directly under releases/" % target
            elif not stat.S_ISDIR(st.st_mode):
                why = "root -> %s: not a directory" % target
            else:
                try:
                    v = open(os.path.join(real, "v.txt")).read()
                    b = open(os.path.join(real, "built.txt")).read()
                    if b != "built " + v:
                        why = "root -> %s: v.txt %r but built.txt %r" % (name, v, b)
                except FileNotFoundError:
                    # the release was removed between the two reads (a prune after a switch)?
                    if os.path.realpath(root) == real and os.path.isdir(real):
                        why = "root -> %s: v.txt or built.txt missing" % name
        except FileNotFoundError as e:
            # the root moved on and its old release was pruned between readlink and lstat
            # (a switch then a prune): only a root still on a missing release is wrong
            try:
                still = os.readlink(root) == target and not os.path.isdir(os.path.realpath(root))
            except OSError:
                still = True
            if still:
                why = "root: %s" % e
        except OSError as e:
            why = "root: %s" % e
        if why:
            out.write(why + "\n")
            out.flush()
        time.sleep(0.003)
open(count, "w").write(str(n))
EOF
MON_PID=$!
PIDS+=("$MON_PID")

# ---- the loop ----------------------------------------------------------------------------------
declare -A HIT=([fetch]=0 [checkout]=0 [build]=0 [switch]=0 [done]=0)
declare -A DELAY_MAX=([fetch]=40 [checkout]=80 [build]=280 [switch]=12)
bad_live=0 bad_procs=0 bad_http=0 bad_rollback=0 bad_deploy=0 kills=0
plan=()
for ((r = 0; r < ROUNDS; r++)); do plan+=(fetch checkout build switch); done

kill_once() { # kill_once K PHASE: deploy version K, kill -9 wharf in PHASE, restart, roll back
    local k=$1 phase=$2 delay sha12 got why
    local trigger=$phase
    delay=$((RANDOM % (DELAY_MAX[$phase] + 1)))
    # the switch is a few milliseconds: half the time, aim at its middle (after the rename)
    [ "$phase" = switch ] && [ $((RANDOM % 2)) = 1 ] && trigger=renamed && delay=$((delay / 3))
    commit_version "$k"
    sha12=${SHAS[$k]:0:12}
    # the killer: waits for the phase to start, then for the random delay, then kill -9
    python3 - "$WPID" "$trigger" "$delay" "$TAG" "$REL" "$sha12" "$T/m" "$k" <<'EOF' &
import os, signal, sys, time, glob
pid, phase, delay, tag, rel, sha12, marks, k = sys.argv[1:]
tagb = ("WHARF_TORTURE_TAG=" + tag).encode()
def fetching():
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read()
            if b"fetch" in cmd and tagb in open("/proc/%s/environ" % p, "rb").read():
                return True
        except OSError:
            pass
    return False
started = {
    "fetch": fetching,
    # the build has its release name at once, marked unfinished until git_then is done
    "checkout": lambda: os.path.isdir(os.path.join(rel, "") ) and any(
        n.endswith(sha12) and os.path.exists(os.path.join(rel, n, ".wharf-building"))
        for n in os.listdir(rel)),
    "build": lambda: os.path.exists(os.path.join(marks, "build-start." + k)),
    # after git_then: its last command ran, or the build was renamed to its release name
    "switch": lambda: os.path.exists(os.path.join(marks, "build-done." + k)),
    "renamed": lambda: any(n.endswith(sha12) and not os.path.exists(
        os.path.join(rel, n, ".wharf-building")) for n in os.listdir(rel)),
}[phase]
end = time.monotonic() + 20
while time.monotonic() < end and not started():
    time.sleep(0.001)
time.sleep(int(delay) / 1000.0)
os.kill(int(pid), signal.SIGKILL)
EOF
    local kpid=$!
    disown "$WPID" 2>/dev/null # no "Killed" job notice from bash
    kill -USR2 "$WPID"
    wait "$kpid"
    wait_until 5000 eval '! kill -0 "$WPID" 2>/dev/null'
    kills=$((kills + 1))
    # which phase was hit (from what the deploy had done when it died)
    # (the switch: from git_then's end to the deploy's end: rename, root swap, status, prune)
    if [ "$(live_name "$ROOT" | grep -o '[0-9a-f]\{12\}$')" = "$sha12" ]; then
        if ls "$REL" | grep -q '\.del$' || ! grep -q "live: $sha12" "$T/wharf.err"; then
            got=switch
        else
            got=done
        fi
    elif [ -e "$T/m/build-done.$k" ]; then
        got=switch
    elif [ -e "$T/m/build-start.$k" ]; then
        got=build
    elif ls "$REL"/*"$sha12"/.wharf-building >/dev/null 2>&1; then
        got=checkout
    else
        got=fetch
    fi
    HIT[$got]=$((HIT[$got] + 1))
    echo "# kill $kills: version $k, aimed at $phase ($trigger +${delay} ms), hit $got"
    if ! why=$(live_ok "$ROOT"); then
        bad_live=$((bad_live + 1))
        echo "# after kill $kills: $why"
    fi
    if ! wait_until 5000 eval '[ -z "$(leftovers)" ]'; then
        bad_procs=$((bad_procs + 1))
        echo "# after kill $kills, left running: $(leftovers | tr '\n' ';')"
    fi
    start
    if [ "$(status /)" != 200 ] || ! consistent "$(body /)" "$(body /built.txt)"; then
        bad_http=$((bad_http + 1))
        echo "# after restart $kills: $(status /) '$(body / | head -c 80)' '$(body /built.txt | head -c 80)'"
    fi
    # the restarted wharf deploys the branch's commit; then roll back to the one before
    if ! wait_until 20000 eval '[ "$(sj live_commit)" = "${SHAS[$k]}" ] && [ "$(sj deploying)" = false ]'; then
        bad_deploy=$((bad_deploy + 1))
        echo "# after restart $kills: version $k not deployed: $(body /_status)"
    fi
    timeout 60 "$WHARF" --config "$T/t.ini" --rollback t >>"$T/rollback.out" 2>&1
    local rc=$?
    if [ "$rc" != 0 ] || ! live_ok "$ROOT" >/dev/null || [ "$(body /)" != "v$((k - 1))" ] ||
        ! consistent "$(body /)" "$(body /built.txt)"; then
        bad_rollback=$((bad_rollback + 1))
        echo "# rollback $kills: exit $rc, root $(live_name "$ROOT"), serves '$(body / | head -c 80)' (want v$((k - 1)))"
    fi
}

k=0
for phase in "${plan[@]}"; do
    k=$((k + 1))
    kill_once "$k" "$phase"
done
while [ "$kills" -lt "$MAX_KILLS" ]; do
    missing=
    for phase in fetch checkout build switch; do
        [ "${HIT[$phase]}" -eq 0 ] && missing=$phase && break
    done
    [ -n "$missing" ] || break
    k=$((k + 1))
    kill_once "$k" "$missing"
done
touch "$T/monitor.stop"
wait "$MON_PID"

echo "# phases hit: fetch ${HIT[fetch]}, checkout ${HIT[checkout]}, build ${HIT[build]}, switch ${HIT[switch]}, after the switch ${HIT[done]}"
for phase in fetch checkout build switch; do
    ok $((HIT[$phase] > 0 ? 0 : 1)) "a kill -9 hit the $phase phase (${HIT[$phase]} of $kills)"
done
is "$bad_live" 0 "after each of $kills kills the root is a complete release"
is "$bad_procs" 0 "after each kill no process of the killed deploy is left (within 5 s)"
is "$bad_http" 0 "after each restart: 200 and a consistent page at once"
is "$bad_deploy" 0 "after each restart the branch's commit is deployed"
is "$bad_rollback" 0 "after each restart --rollback brings the previous commit back (a complete release)"
samples=$(cat "$T/monitor.count" 2>/dev/null || echo 0)
ok $((samples >= 1000 ? 0 : 1)) "the monitor sampled the root throughout ($samples samples)"
is "$(sort "$T/monitor.bad" | uniq -c | head -5)" "" "the root resolved to a complete release at every sample"
is "$(strays "$ROOT" | tr '\n' ' ')" "" "no leftovers in releases/ at the end"
stop_pid "$WPID"
finish
