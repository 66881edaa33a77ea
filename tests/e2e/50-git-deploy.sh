#!/usr/bin/env bash
# Git deploy: [site NAME] with git_repo. Real repositories in $T (a bare "remote" and a working
# clone that commits and pushes); wharf owns root (a symlink to the live release, created by the
# first deploy). Covered: the first deploy (503 + Retry-After until then), the status JSON, the
# remote's default branch when git_branch is unset, git_branch, file:// URLs with git_depth,
# git_subdir, .git never served, updates by polling (changed, added, deleted files), requests in
# flight and a deploy under load (never a 404, 5xx or a mix), an unreachable remote at start
# (other sites serve, the site recovers), git_then (success, failure, timeout), SIGUSR2,
# --deploy and --rollback beside a running server, git_keep, kill -9 mid-deploy, and root as an
# existing real directory (a config error). Every wait is a bounded poll.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

# ==== 1. first deploy, status, branches, subdir, .git, updates by polling =====================
new_remote remote main
put remote index.html "v1 index"
put remote old.txt "old file"
put remote keep.txt "keep v1"
put remote .env "SECRET=do-not-serve"
put remote sub/page.html "sub v1"
push remote "c1"
SHA1=$SHA
CT1=$(git -C "$T/remote.work" log -1 --format=%ct "$SHA1")

# a remote whose default branch is "trunk", with another branch "main" beside it
new_remote trunk trunk
put trunk who.txt "trunk branch"
push trunk "t1"
git -C "$T/trunk.work" checkout -q -b main
put trunk who.txt "main branch"
push trunk "m1"

# a file:// URL, a shallow fetch and a served subdirectory
new_remote subrepo main
put subrepo public/index.html "public v1"
put subrepo private.txt "outside the subdir"
push subrepo "s1"
put subrepo public/index.html "public v2"
push subrepo "s2"
put subrepo public/index.html "public v3"
push subrepo "s3"

mkdir -p "$T/static"
printf 'static site\n' >"$T/static/index.html"

ok $([ ! -e "$T/site" ] && echo 0 || echo 1) "root does not exist before the first start"

new_port
cat >"$T/main.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site main]
root = $T/site
git_repo = $T/remote.git
git_interval = 1s
git_status = /_status

[site trunk]
hosts = trunk.example
root = $T/trunk-site
git_repo = $T/trunk.git
git_interval = 0

[site trunk-main]
hosts = trunk-main.example
root = $T/trunk-main-site
git_repo = $T/trunk.git
git_branch = main
git_interval = 0

[site sub]
hosts = sub.example
root = $T/sub-site
git_repo = file://$T/subrepo.git
git_depth = 1
git_subdir = public
git_interval = 0
EOF
start_wharf_ini "$T/main.ini"

# The very first request may race with the first deploy: 503 (with Retry-After) or the content.
first=$(curl -s -D - -o "$T/first.body" --path-as-is "$(URL /index.html)" | tr -d '\r')
first_code=$(printf '%s\n' "$first" | head -1 | cut -d' ' -f2)
case "$first_code" in
503)
    like "$(printf '%s\n' "$first" | header_value Retry-After)" '^[1-9][0-9]*$' \
        "first deploy: a request before it is live is 503 with Retry-After: SECONDS"
    ;;
200)
    is "$(cat "$T/first.body")" "v1 index" "first deploy: the first request (already live) has the right body"
    ;;
*)
    is "$first_code" "503 or 200" "first deploy: the first request is 503 (not live yet) or 200"
    ;;
esac
wait_until 10000 body_is /index.html "v1 index"
is "$(status /index.html)" 200 "first deploy: 200 within 10 s"
is "$(body /index.html)" "v1 index" "first deploy: the committed content is served"
is "$(body /sub/page.html)" "sub v1" "first deploy: a file in a subdirectory is served"
ok $([ -L "$T/site" ] && echo 0 || echo 1) "first deploy: root is a symlink (switched by rename)"
REL=$(realpath "$T/site")
tree_of remote "$SHA1" "$T/expect1"
diff -r "$T/expect1" "$REL" >"$T/diff1" 2>&1
ok $? "first deploy: the live release holds exactly the commit's files"
is "$(find "$REL" -name .git | head -5)" "" "no .git (directory or file) inside the release"

# ---- the status JSON ----
hdr=$(headers /_status)
like "$(printf '%s\n' "$hdr" | head -1)" '^HTTP/1\.[01] 200' "status: GET git_status is 200"
like "$(printf '%s\n' "$hdr" | header_value Content-Type)" '^application/json' "status: Content-Type is application/json"
body /_status >"$T/status1.json"
python3 - "$T/status1.json" "$SHA1" "$CT1" >"$T/status1.check" 2>&1 <<'EOF'
import json, sys, datetime
d = json.load(open(sys.argv[1]))
sha, ct = sys.argv[2], int(sys.argv[3])
errs = []
lc = d.get("live_commit")
if not (isinstance(lc, str) and len(lc) >= 7 and sha.startswith(lc)):
    errs.append("live_commit %r is not %s" % (lc, sha))
t = d.get("live_commit_time", d.get("commit_time"))
if isinstance(t, str):
    try:
        t = int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    except ValueError:
        pass
if t != ct:
    errs.append("live_commit_time %r is not the commit time %d" % (t, ct))
if d.get("last_attempt") in (None, "", 0):
    errs.append("last_attempt is %r" % d.get("last_attempt"))
if "last_error" not in d or d["last_error"] is not None:
    errs.append("last_error is %r, not null" % d.get("last_error", "(absent)"))
if not (isinstance(d.get("deploys"), int) and d["deploys"] >= 1):
    errs.append("deploys is %r" % d.get("deploys"))
dur = [v for k, v in d.items() if "duration" in k]
if not dur or not (isinstance(dur[0], (int, float)) or
                   (isinstance(dur[0], list) and dur[0] and
                    all(isinstance(x, (int, float)) and x >= 0 for x in dur[0]))):
    errs.append("no deploy durations: %r" % dur)
print("; ".join(errs) if errs else "ok")
EOF
is "$(cat "$T/status1.check")" "ok" "status: live_commit, its time, last_attempt, last_error null, deploys >= 1, durations"
is "$(status /_status -H 'Host: trunk.example')" 404 "status is opt-in: a git site without git_status has no /_status"

# ---- branches, file://, depth, subdir ----
wait_until 10000 body_is /who.txt "trunk branch" -H 'Host: trunk.example'
is "$(body /who.txt -H 'Host: trunk.example')" "trunk branch" "git_branch unset: the remote's default branch (trunk, not main/master) is deployed"
wait_until 10000 body_is /who.txt "main branch" -H 'Host: trunk-main.example'
is "$(body /who.txt -H 'Host: trunk-main.example')" "main branch" "git_branch = main deploys that branch of the same remote"
wait_until 10000 body_is / "public v3" -H 'Host: sub.example'
is "$(body / -H 'Host: sub.example')" "public v3" "git_subdir = public (file:// URL, git_depth = 1): / serves public/index.html of the newest commit"
is "$(status /private.txt -H 'Host: sub.example')" 404 "git_subdir: a file outside the subdirectory is 404"
is "$(status /public/index.html -H 'Host: sub.example')" 404 "git_subdir: the subdirectory's name is not part of the URL"
is "$(git --git-dir="$T/.sub-site.wharf/repo.git" rev-parse --is-shallow-repository 2>&1)" true "git_depth = 1: the fetch cache is shallow"

# ---- repository internals are never served ----
for p in /.git/config /.git/HEAD /.git/ /%2egit/config /%2Egit/HEAD /.env /sub/../.git/config; do
    is "$(status "$p")" 404 "GET $p is 404"
done
unlike "$(body /.env)" 'do-not-serve' "the committed .env's content is never in a response"

# ---- update by polling: changed, added and deleted files ----
put remote index.html "v2 index"
put remote new.txt "added in v2"
rm "$T/remote.work/old.txt"
push remote "c2"
SHA2=$SHA
t0=$(now_ms)
wait_until 10000 body_is /index.html "v2 index"
is "$(body /index.html)" "v2 index" "update by polling (git_interval = 1s): the changed file is served within 10 s ($(($(now_ms) - t0)) ms)"
is "$(body /new.txt)" "added in v2" "update by polling: an added file appears"
is "$(status /old.txt)" 404 "update by polling: a deleted file becomes 404"
is "$(body /keep.txt)" "keep v1" "update by polling: an unchanged file is still served"
is "$(sj live_commit)" "$SHA2" "status: live_commit follows the new deploy"

# ---- requests in flight finish on the release they started on ----
# A slow reader takes 8 MiB in 64 KiB steps every 150 ms (~20 s: a loaded machine took over 6 s
# to push, fetch and switch 8 MiB); the switch happens meanwhile.
yes "big file, version A ...................................................." | head -c 8388608 >"$T/remote.work/big.txt"
put remote marker.txt "A"
push remote "bigA"
wait_until 10000 body_is /marker.txt "A"
is "$(body /marker.txt)" "A" "in flight: version A is live"
BIGA=$(sha256sum <"$T/remote.work/big.txt" | cut -c1-64)
python3 -c '
import socket, sys, time
port, out, started = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /big.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    if not data:
        open(started, "w").close()
    data += d
    time.sleep(0.15)
open(out, "wb").write(data.split(b"\r\n\r\n", 1)[1])
' "$PORT" "$T/big.body" "$T/big.started" &
SLOW_PID=$!
PIDS+=("$SLOW_PID")
wait_until 5000 test -e "$T/big.started"
ok $? "in flight: a slow download of A's 8 MiB file has started"
yes "big file, version B ...................................................." | head -c 8388608 >"$T/remote.work/big.txt"
put remote marker.txt "B"
push remote "bigB"
wait_until 18000 body_is /marker.txt "B"
is "$(body /marker.txt)" "B" "in flight: version B went live"
kill -0 "$SLOW_PID" 2>/dev/null
ok $? "in flight: the slow download was still running when B went live"
wait "$SLOW_PID"
is "$(sha256sum <"$T/big.body" | cut -c1-64)" "$BIGA" "in flight: the download that started on A finished with A's exact bytes"

# ---- deploy under load: every response is 200 with one complete expected body ----
page() { python3 -c 'import sys; v = sys.argv[1]; sys.stdout.write("".join("version %s line %05d\n" % (v, i) for i in range(6000)))' "$1"; }
EXPECT=""
for v in L0 L1 L2 L3; do
    page "$v" >"$T/page.$v"
    EXPECT="$EXPECT $(sha256sum <"$T/page.$v" | cut -c1-64)"
done
cp "$T/page.L0" "$T/remote.work/page.txt"
put remote marker.txt "L0"
push remote "L0"
wait_until 10000 body_is /marker.txt "L0"
is "$(body /marker.txt)" "L0" "under load: the starting version is live"
rm -f "$T/load.stop" "$T/load.log"
(
    n=0
    while [ "$n" -lt 3000 ]; do
        code=$(curl -s -o "$T/load.body" -w '%{http_code}' "$(URL /page.txt)")
        printf '%s %s\n' "$code" "$(sha256sum <"$T/load.body" | cut -c1-64)" >>"$T/load.log"
        n=$((n + 1))
        [ -e "$T/load.stop" ] && [ "$n" -ge 200 ] && break
    done
) &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
for v in L1 L2 L3; do
    cp "$T/page.$v" "$T/remote.work/page.txt"
    put remote marker.txt "$v"
    push remote "$v"
    wait_until 10000 body_is /marker.txt "$v"
done
touch "$T/load.stop"
wait "$LOAD_PID"
is "$(body /marker.txt)" "L3" "under load: three deploys went live"
n_req=$(wc -l <"$T/load.log")
ok $((n_req >= 200 ? 0 : 1)) "under load: at least 200 sequential requests ran ($n_req)"
is "$(awk '$1 != 200' "$T/load.log" | sort | uniq -c | head -5)" "" "under load: every response is 200 (no 404, no 5xx)"
bad=0
while read -r code sum; do
    case " $EXPECT " in *" $sum "*) ;; *) bad=$((bad + 1)) ;; esac
done <"$T/load.log"
is "$bad" 0 "under load: every body is exactly one version's page (no mix, no truncation)"
seen=$(awk '{print $2}' "$T/load.log" | sort -u | wc -l)
ok $((seen >= 2 ? 0 : 1)) "under load: the load saw the content change ($seen versions)"

# ==== 2. unreachable remote at start: other sites serve, the site recovers =====================
new_port
cat >"$T/late.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site late]
root = $T/late-site
git_repo = $T/late.git
git_interval = 1s
git_status = /_status

[site static]
hosts = static.example
root = $T/static
EOF
restart_with "$T/late.ini"
h=$(headers /index.html)
like "$(printf '%s\n' "$h" | head -1)" '^HTTP/1\.[01] 503' "unreachable remote at start: the site answers 503"
like "$(printf '%s\n' "$h" | header_value Retry-After)" '^[1-9][0-9]*$' "unreachable remote at start: 503 carries Retry-After: SECONDS"
is "$(status / -H 'Host: static.example')" 200 "unreachable remote at start: another site on the same wharf serves 200"
is "$(body / -H 'Host: static.example')" "static site" "unreachable remote at start: the other site's content"
wait_until 10000 eval '[ "$(sj last_error)" != null ] && [ "$(sj last_error)" != "(absent)" ]'
unlike "$(sj last_error)" '^(null|\(absent\)|\(not JSON\))$' "unreachable remote at start: status last_error says why"
is "$(sj live)" false "unreachable remote at start: status says not live"
new_remote late main
put late index.html "late v1"
push late "l1"
t0=$(now_ms)
wait_until 10000 body_is /index.html "late v1"
took=$(($(now_ms) - t0))
is "$(body /index.html)" "late v1" "unreachable remote at start: once the remote exists the site serves it"
ok $((took <= 5000 ? 0 : 1)) "unreachable remote at start: recovered within a few seconds with git_interval = 1s (${took} ms)"
is "$(body / -H 'Host: static.example')" "static site" "unreachable remote at start: the other site still serves"

# ==== 3. git_then: success, failure, timeout; SIGUSR2 ===========================================
new_remote then main
put then index.html "then v1"
put then build.sh 'printf "built %s" "$(cat index.html)" >built.txt'
push then "b1"
new_port
cat >"$T/then.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site then]
root = $T/then-site
git_repo = $T/then.git
git_interval = 0
git_then = sh build.sh
git_then_timeout = 2s
git_status = /_status
EOF
restart_with "$T/then.ini"
wait_until 10000 body_is /built.txt "built then v1"
is "$(body /built.txt)" "built then v1" "git_then on the first deploy: a file it creates is served"

put then index.html "then v2"
push then "b2"
kill -USR2 "$WPID"
wait_until 10000 body_is /index.html "then v2"
is "$(body /index.html)" "then v2" "SIGUSR2 triggers a deploy with git_interval = 0"
is "$(body /built.txt)" "built then v2" "git_then success: its output for the new commit is served"
is "$(sj last_error)" null "git_then success: status last_error is null"

put then index.html "then v3 (build fails)"
put then build.sh 'echo "build step broke" >&2; exit 1'
push then "b3-fail"
kill -USR2 "$WPID"
wait_until 10000 eval '[ "$(sj last_error)" != null ]'
like "$(sj last_error)" '.' "git_then failure (exit 1): status last_error is non-null"
unlike "$(sj last_error)" '^(null|\(absent\))$' "git_then failure (exit 1): last_error is a message"
is "$(body /index.html)" "then v2" "git_then failure: the old content stays live"
is "$(body /built.txt)" "built then v2" "git_then failure: the old build output stays live"
is "$(releases "$T/then-site" | grep -c '\.tmp$')" 0 "git_then failure: the failed .tmp release is removed"
wait_until 5000 grep -q 'build step broke' "$T/wharf.err"
ok $? "git_then failure: the command's output is logged"

put then index.html "then v3b"
put then build.sh 'printf "built %s" "$(cat index.html)" >built.txt'
push then "b3b"
kill -USR2 "$WPID"
wait_until 10000 body_is /index.html "then v3b"
is "$(body /index.html)" "then v3b" "git_then: a good deploy after the failure goes live"
is "$(sj last_error)" null "git_then: a good deploy clears status last_error"

put then index.html "then v4 (build hangs)"
put then build.sh 'sleep 30.017; printf late >built.txt'
push then "b4-timeout"
t0=$(now_ms)
kill -USR2 "$WPID"
wait_until 10000 eval '[ "$(sj last_error)" != null ]'
took=$(($(now_ms) - t0))
ok $((took < 9000 ? 0 : 1)) "git_then timeout (git_then_timeout = 2s, sleep 30): the deploy gives up in time (${took} ms)"
is "$(body /index.html)" "then v3b" "git_then timeout: the old content stays live"
unlike "$(sj last_error)" '^(null|\(absent\))$' "git_then timeout: status last_error is set"
is "$(releases "$T/then-site" | grep -c '\.tmp$')" 0 "git_then timeout: the .tmp release is removed"
wait_until 3000 eval '! pgrep -f "sleep 30.017" >/dev/null'
ok $? "git_then timeout: the timed-out command is killed (no 'sleep 30.017' left running)"

put then index.html "then v5"
put then build.sh 'printf "built %s" "$(cat index.html)" >built.txt'
push then "b5"
kill -USR2 "$WPID"
wait_until 10000 body_is /index.html "then v5"
is "$(body /index.html)" "then v5" "git_then timeout: the next deploy works"
is "$(body /built.txt)" "built then v5" "git_then timeout: the next deploy's git_then ran"
is "$(sj last_error)" null "after a good deploy status last_error is null again"

# a failing fetch (the remote is gone) leaves the live release and says why
mv "$T/then.git" "$T/then.git.away"
kill -USR2 "$WPID"
wait_until 10000 eval '[ "$(sj last_error)" != null ]'
unlike "$(sj last_error)" '^(null|\(absent\))$' "failing fetch (remote gone): status last_error is set"
is "$(body /index.html)" "then v5" "failing fetch: the live release stays"
wait_until 5000 grep -Eq 'then\.git.*(does not appear|not a git repository|Could not read)|(fetch|ls-remote).*then\.git' "$T/wharf.err"
ok $? "failing fetch: the log says why (names the remote and the failure)"
mv "$T/then.git.away" "$T/then.git"

# ==== 4. --deploy and --rollback beside a running server; git_keep = 1 ==========================
new_remote rb main
put rb index.html "rb v1"
push rb "r1"
RB1=$SHA
new_port
cat >"$T/rb.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site rb]
root = $T/rb-site
git_repo = $T/rb.git
git_interval = 0
git_keep = 1
EOF
restart_with "$T/rb.ini"
wait_until 10000 body_is / "rb v1"
is "$(body /)" "rb v1" "rb: the first commit is live"
put rb index.html "rb v2"
push rb "r2"
"$WHARF" --config "$T/rb.ini" --deploy rb >"$T/deploy.out" 2>"$T/deploy.err"
is "$?" 0 "--deploy SITE exits 0"
is "$(body /)" "rb v2" "--deploy SITE: the running server serves the new commit right away"
"$WHARF" --config "$T/rb.ini" --rollback rb >"$T/rollback.out" 2>"$T/rollback.err"
is "$?" 0 "--rollback SITE exits 0"
is "$(body /)" "rb v1" "--rollback SITE: the running server serves the previous content right away"
is "$(status /)" 200 "--rollback SITE: 200 after the switch"

# git_keep = 1: four deploys leave the live release plus at most one more
for v in 3 4 5 6; do
    put rb index.html "rb v$v"
    push rb "r$v"
    "$WHARF" --config "$T/rb.ini" --deploy rb >>"$T/deploy.out" 2>>"$T/deploy.err" || echo "deploy v$v failed" >>"$T/deploy.fail"
done
RB6=$SHA
ok $([ ! -e "$T/deploy.fail" ] && echo 0 || echo 1) "git_keep = 1: four --deploy runs succeed"
is "$(body /)" "rb v6" "git_keep = 1: the last deploy is live"
n_rel=$(releases "$T/rb-site" | wc -l)
ok $((n_rel <= 2 ? 0 : 1)) "git_keep = 1: after 4 deploys at most 2 release dirs are left (live + 1): $n_rel"
tree_of rb "$RB6" "$T/expect-rb6"
diff -r "$T/expect-rb6" "$(realpath "$T/rb-site")" >/dev/null 2>&1
ok $? "git_keep = 1: the live release is intact"

# rollback picks the release deployed before the live one, even when both were made in the same
# second (and whatever their commit ids): two commits whose ids sort the other way round
# r7's id is made to sort in the upper half (a salt retried, 1 in 2 each), so that an r8 sorting
# below it is found in a few tries too (an r7 of 0177... made it a 1-in-150 chance per try)
for ((j = 0; ; j++)); do
    [ "$j" -lt 100 ] || bail "could not make a commit id sorting above 8"
    put rb index.html "rb v7"
    put rb salt7.txt "$j"
    git -C "$T/rb.work" add -A
    git -C "$T/rb.work" commit -q -m "r7 $j"
    [[ "$(git -C "$T/rb.work" rev-parse HEAD)" > "8" ]] && break
    git -C "$T/rb.work" reset -q --hard HEAD~1
done
git -C "$T/rb.work" push -q origin "HEAD:refs/heads/main" 2>>"$T/git.err" || bail "git push to rb failed"
RB7=$(git -C "$T/rb.work" rev-parse HEAD)
i=0
while :; do
    put rb index.html "rb v8"
    put rb salt.txt "$i"
    git -C "$T/rb.work" add -A
    git -C "$T/rb.work" commit -q -m "r8 $i"
    [[ "$(git -C "$T/rb.work" rev-parse HEAD)" < "$RB7" ]] && break
    git -C "$T/rb.work" reset -q --hard HEAD~1
    i=$((i + 1))
    [ "$i" -lt 100 ] || bail "could not make a commit id sorting below $RB7"
done
# start right after a second begins, so both deploys likely share it
wait_until 1500 eval '[ "$(date +%N | cut -c1)" = 0 ]'
git -C "$T/rb.work" push -q origin "$RB7:refs/heads/main" 2>>"$T/git.err"
"$WHARF" --config "$T/rb.ini" --deploy rb >>"$T/deploy.out" 2>>"$T/deploy.err"
git -C "$T/rb.work" push -q origin "HEAD:refs/heads/main" 2>>"$T/git.err"
"$WHARF" --config "$T/rb.ini" --deploy rb >>"$T/deploy.out" 2>>"$T/deploy.err"
is "$(body /)" "rb v8" "rollback, same second: the newer commit is live"
"$WHARF" --config "$T/rb.ini" --rollback rb >"$T/rollback2.out" 2>"$T/rollback2.err"
is "$?" 0 "rollback, same second: --rollback exits 0"
is "$(body /)" "rb v7" "rollback, same second: the release deployed just before the live one comes back"

# ==== 5. kill -9 mid-deploy ====================================================================
new_remote k9 main
put k9 index.html "k9 v1"
put k9 build.sh 'true'
push k9 "k1"
K1=$SHA
new_port
cat >"$T/k9.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site k9]
root = $T/k9-site
git_repo = $T/k9.git
git_interval = 0
git_then = sh build.sh
EOF
restart_with "$T/k9.ini"
wait_until 10000 body_is / "k9 v1"
is "$(body /)" "k9 v1" "kill -9: the first commit is live"
put k9 index.html "k9 v2"
put k9 build.sh "touch '$T/k9.started'; sleep 3"
push k9 "k2"
kill -USR2 "$WPID"
wait_until 10000 test -e "$T/k9.started"
ok $? "kill -9: git_then of the second deploy is running"
disown "$WPID" # no "Killed" job notice from bash
kill -9 "$WPID"
wait_until 5000 eval '! kill -0 "$WPID" 2>/dev/null'
ok $? "kill -9: wharf is gone"
WPID=
tree_of k9 "$K1" "$T/expect-k1"
diff -r "$T/expect-k1" "$(realpath "$T/k9-site")" >/dev/null 2>&1
ok $? "kill -9 mid-deploy: root still points at the old release, intact"
K9REL="$(state_of "$T/k9-site")/releases"
unfinished() { find "$K9REL" -mindepth 2 -maxdepth 2 -name .wharf-building | wc -l; }
ok $([ "$(unfinished)" -ge 1 ] && echo 0 || echo 1) "kill -9 mid-deploy: an unfinished build (marked .wharf-building) was left behind (the kill hit mid-build)"
rm -f "$T/k9.started"
restart_with "$T/k9.ini"
is "$(status /)" 200 "kill -9 then restart: the old release is served at once (no 503)"
is "$(body /)" "k9 v1" "kill -9 then restart: the old content"
wait_until 10000 body_is / "k9 v2"
is "$(body /)" "k9 v2" "kill -9 then restart: the next deploy brings the new commit"
is "$(unfinished)" 0 "kill -9 then restart: the unfinished build is removed by the next deploy"
is "$(releases "$T/k9-site" | grep -c '\.tmp$')" 0 "kill -9 then restart: no .tmp is left either"

# ==== 6. root as an existing real directory is a config error ===================================
mkdir -p "$T/realroot"
printf 'x' >"$T/realroot/index.html"
cat >"$T/realroot.ini" <<EOF
[server]
listen = 127.0.0.1:$(free_port)

[site r]
root = $T/realroot
git_repo = $T/remote.git
EOF
timeout 10 "$WHARF" --config "$T/realroot.ini" --test >"$T/rr.out" 2>"$T/rr.err"
rc=$?
ok $((rc != 0 && rc != 124 ? 0 : 1)) "root as an existing real directory: wharf --test exits non-zero (rc $rc)"
like "$(cat "$T/rr.out" "$T/rr.err")" "$T/realroot" "root as an existing real directory: the message names the root"

finish
