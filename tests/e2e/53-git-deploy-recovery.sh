#!/usr/bin/env bash
# Git deploy recovery: what a kill -9 (of wharf or of wharf --deploy) leaves behind, set up by
# hand where the kill would have to hit a tiny window, and what must follow. Only complete
# releases (a real directory named exactly NNNNNN-TIME-SHA12) count: a leftover NAME.tmp.index
# (a killed checkout's private index), NAME.tmp, a file or a symlink with a release's name is
# never a rollback target, never protected by a prune in place of the real previous release,
# and is removed at start and before each deploy. A root left on a non-release (by the bug this
# guards) is repaired at the next start even when the commit is on the do-not-redeploy list.
# Leftover git locks in the fetch cache, a half-made cache and a leftover swap symlink do not
# stop the next deploy. The processes of a deploy (git_then, git fetch and what they started)
# die with a killed wharf. Every wait is a bounded poll.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

now_name() { # now_name SEQ SHA [SUFFIX]: a release-like name for a leftover
    printf '%06d-%s-%s%s' "$1" "$(date -u +%Y%m%dT%H%M%SZ)" "${2:0:12}" "${3:-}"
}
site_ini() { # site_ini NAME [EXTRA-LINES]: $T/NAME.ini for [site NAME], root $T/NAME-site
    cat >"$T/$1.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site $1]
root = $T/$1-site
git_repo = $T/$1.git
git_interval = 0
${2:-}
EOF
}
# (bounded: a deploy lock held by a leftover process would make them wait for ever)
deploy() { timeout 60 "$WHARF" --config "$T/$1.ini" --deploy "$1" >>"$T/cli.out" 2>&1; }
rollback() { timeout 60 "$WHARF" --config "$T/$1.ini" --rollback "$1" >>"$T/cli.out" 2>&1; }
PORT=$(free_port)

# ==== 1. a killed checkout's NAME.tmp.index is not a release ===================================
new_remote s1
put s1 index.html "A"
push s1 A
A=$SHA
site_ini s1
deploy s1
is "$(cat "$T/s1-site/index.html" 2>/dev/null)" "A" "tmp.index: commit A is live"
put s1 index.html "B"
push s1 B
B=$SHA
# kill -9 during the checkout of B leaves its directory and its private index
R1="$(state_of "$T/s1-site")/releases"
mkdir "$R1/$(now_name 2 "$B" .tmp)"
printf 'half' >"$R1/$(now_name 2 "$B" .tmp)/index.html"
printf 'DIRC' >"$R1/$(now_name 2 "$B" .tmp.index)"
deploy s1
is "$(cat "$T/s1-site/index.html")" "B" "tmp.index: the next deploy brings B"
is "$(strays "$T/s1-site" | tr '\n' ' ')" "" "tmp.index: the deploy removed every leftover (NAME.tmp and NAME.tmp.index)"
rollback s1
is "$?" 0 "tmp.index: --rollback exits 0"
msg=$(live_ok "$T/s1-site")
ok $? "tmp.index: after --rollback the root is a complete release ${msg:+($msg)}"
is "$(cat "$T/s1-site/index.html" 2>/dev/null)" "A" "tmp.index: --rollback goes back to A (not to the leftover index file)"
start_wharf_ini "$T/s1.ini"
is "$(status /)" 200 "tmp.index: a server started after the rollback answers 200"
is "$(body /)" "A" "tmp.index: and serves A"
stop_pid "$WPID"
WPID=

# ==== 2. a root left on a non-release by that bug, B on the do-not-redeploy list ==============
# (the state an earlier wharf left: every request 503, and a restart did not help)
new_remote s2
put s2 index.html "A"
push s2 A
site_ini s2
deploy s2
put s2 index.html "B"
push s2 B
B2=$SHA
deploy s2
S2="$(state_of "$T/s2-site")"
leftover=$(now_name 2 "$B2" .tmp.index)
mv "$S2/releases/$(live_name "$T/s2-site")" "$S2/releases/$(now_name 3 "$B2")"
printf 'DIRC' >"$S2/releases/$leftover"
ln -sfn ".s2-site.wharf/releases/$leftover" "$T/s2-site"
printf '%s\n' "${B2:0:12}" >"$S2/rolled-back"
start_wharf_ini "$T/s2.ini"
wait_until 10000 eval '[ "$(status /)" = 200 ]'
is "$(status /)" 200 "bad state: a restart recovers (200, not 503 for ever)"
msg=$(live_ok "$T/s2-site")
ok $? "bad state: the root is a complete release again ${msg:+($msg)}"
like "$(body /)" '^(A|B)$' "bad state: a committed version is served"
wait_until 5000 eval '[ -z "$(strays "$T/s2-site")" ]'
is "$(strays "$T/s2-site" | tr '\n' ' ')" "" "bad state: the leftover index file is removed"
stop_pid "$WPID"
WPID=

# ==== 3. git_keep = 0: a prune keeps the real previous release =================================
new_remote s3
put s3 index.html "A"
push s3 A
site_ini s3 "git_keep = 0"
deploy s3
put s3 index.html "B"
push s3 B
B3=$SHA
R3="$(state_of "$T/s3-site")/releases"
printf 'DIRC' >"$R3/$(now_name 2 "$B3" .tmp.index)"
deploy s3
is "$(cat "$T/s3-site/index.html")" "B" "git_keep = 0: B is live"
is "$(entries "$T/s3-site" | wc -l)" 2 "git_keep = 0: two releases are left: the live one and the one before it"
rollback s3
is "$(cat "$T/s3-site/index.html" 2>/dev/null)" "A" "git_keep = 0: --rollback brings A back (the prune kept it)"
msg=$(live_ok "$T/s3-site")
ok $? "git_keep = 0: the root is a complete release ${msg:+($msg)}"

# ==== 4. rollback verifies its target ==========================================================
new_remote s4
for v in A B C; do
    put s4 index.html "$v"
    push s4 "$v"
    site_ini s4
    deploy s4
done
is "$(cat "$T/s4-site/index.html")" "C" "verify: C is live"
R4="$(state_of "$T/s4-site")/releases"
# entries named like releases, newer than B's and older than C's, that are not directories
prevdir=$(entries "$T/s4-site" | sed -n 2p)
ln -s "$prevdir" "$R4/000002-99999999T999998Z-eeeeeeeeeeee"
printf 'not a dir' >"$R4/000002-99999999T999999Z-ffffffffffff"
rollback s4
is "$(cat "$T/s4-site/index.html" 2>/dev/null)" "B" "verify: --rollback skips a file and a symlink named like releases, and goes to B"
is "$(live_name "$T/s4-site")" "$prevdir" "verify: the root names B's release directory itself"
is "$(strays "$T/s4-site" | tr '\n' ' ')" "" "verify: --rollback removed the entries that are not releases"

# ==== 5. leftovers in the fetch cache and beside the root ======================================
new_remote s5
put s5 index.html "A"
push s5 A
site_ini s5
deploy s5
put s5 index.html "B"
push s5 B
S5="$(state_of "$T/s5-site")"
# kill -9 during a fetch leaves git's ref lock; during the switch, the new symlink beside root
mkdir -p "$S5/repo.git/refs/remotes/origin"
: >"$S5/repo.git/refs/remotes/origin/main.lock"
ln -s ".s5-site.wharf/releases/nothing" "$T/s5-site.wharf-swap.4242"
deploy s5
is "$?" 0 "cache: --deploy succeeds despite a ref lock left by a killed fetch"
is "$(cat "$T/s5-site/index.html")" "B" "cache: B went live"
ok $([ ! -e "$S5/repo.git/refs/remotes/origin/main.lock" ] && echo 0 || echo 1) "cache: the stale lock is gone"
ok $([ ! -L "$T/s5-site.wharf-swap.4242" ] && echo 0 || echo 1) "swap: the leftover swap symlink beside root is gone"
# kill -9 during `git init` of the cache: a directory that is not a repository yet
rm -rf "$S5/repo.git"
mkdir "$S5/repo.git"
put s5 index.html "C"
push s5 C
deploy s5
is "$?" 0 "cache: --deploy succeeds after a half-made fetch cache"
is "$(cat "$T/s5-site/index.html")" "C" "cache: C went live"

# ==== 6. leftovers are removed at start, even when the deploy then fails =======================
new_remote s6
put s6 index.html "A"
push s6 A
A6=$SHA
site_ini s6
deploy s6
R6="$(state_of "$T/s6-site")/releases"
mkdir "$R6/$(now_name 2 "$A6" .tmp)"
printf 'DIRC' >"$R6/$(now_name 2 "$A6" .tmp.index)"
mv "$T/s6.git" "$T/s6.git.away" # the remote is unreachable: the start-up deploy fails
start_wharf_ini "$T/s6.ini"
wait_until 5000 eval '[ -z "$(strays "$T/s6-site")" ]'
is "$(strays "$T/s6-site" | tr '\n' ' ')" "" "start: leftovers are removed at start (the fetch fails)"
is "$(body /)" "A" "start: the live release is served"
stop_pid "$WPID"
WPID=
mv "$T/s6.git.away" "$T/s6.git"

# ==== 7. two rollbacks in a row are not undone by the next poll ================================
new_remote s9
for v in A B C; do
    put s9 index.html "$v"
    push s9 "$v"
    site_ini s9
    deploy s9
done
site_ini s9 "git_interval = 1s"
sed -i 's/^git_interval = 0$//' "$T/s9.ini"
start_wharf_ini "$T/s9.ini"
is "$(body /)" "C" "two rollbacks: C is live"
rollback s9
rollback s9
is "$(body /)" "A" "two rollbacks: A is live"
holds_for 2500 body_is / "A"
ok $? "two rollbacks: A stays live across polls (neither B nor C is deployed again)"
put s9 index.html "D"
push s9 D
wait_until 10000 body_is / "D"
is "$(body /)" "D" "two rollbacks: a new commit on the branch is deployed"
stop_pid "$WPID"
WPID=

# ==== 8. the processes of a deploy die with a killed wharf =====================================
# git_then: a slow build, kill -9 wharf while it runs
new_remote s7
put s7 index.html "A"
put s7 build.sh 'true'
push s7 A
site_ini s7 "git_then = sh build.sh"
start_wharf_ini "$T/s7.ini"
wait_until 10000 body_is / "A"
is "$(body /)" "A" "git_then kill: A is live"
put s7 index.html "B"
put s7 build.sh "touch '$T/s7.started'; sleep 30.4242; sleep 30.4243"
push s7 B
kill -USR2 "$WPID"
wait_until 10000 test -e "$T/s7.started"
ok $? "git_then kill: the slow git_then is running"
disown "$WPID" 2>/dev/null # no "Killed" job notice from bash
kill -9 "$WPID"
WPID=
wait_until 5000 no_procs "sleep 30.424"
ok $? "git_then kill: the git_then command is gone shortly after kill -9 of wharf"
put s7 index.html "C"
put s7 build.sh 'printf built >built.txt'
push s7 C
start_wharf_ini "$T/s7.ini"
wait_until 10000 body_is / "C"
is "$(body /)" "C" "git_then kill: a restarted wharf deploys the next commit"
is "$(body /built.txt)" "built" "git_then kill: with its git_then"
is "$(strays "$T/s7-site" | tr '\n' ' ')" "" "git_then kill: no leftovers"
stop_pid "$WPID"
WPID=

# the same with wharf --deploy (git_then runs from the main thread there)
put s7 index.html "D"
put s7 build.sh "touch '$T/s7.cli-started'; sleep 30.4244"
push s7 D
"$WHARF" --config "$T/s7.ini" --deploy s7 >>"$T/cli.out" 2>&1 &
CLI_PID=$!
PIDS+=("$CLI_PID")
wait_until 10000 test -e "$T/s7.cli-started"
ok $? "--deploy kill: its slow git_then is running"
kill -9 "$CLI_PID"
wait "$CLI_PID" 2>/dev/null
wait_until 5000 no_procs "sleep 30.4244"
ok $? "--deploy kill: the git_then command is gone shortly after kill -9 of wharf --deploy"
is "$(cat "$T/s7-site/index.html")" "C" "--deploy kill: the live release stays"
put s7 build.sh 'printf built >built.txt'
push s7 E
deploy s7
is "$?" 0 "--deploy kill: the next --deploy succeeds (the deploy lock is free)"
is "$(cat "$T/s7-site/index.html")" "D" "--deploy kill: and brings the branch's commit"

# git fetch: the remote (over ssh) hangs; kill -9 wharf during the fetch
mkdir -p "$T/bin"
cat >"$T/bin/ssh" <<EOF
#!/bin/sh
touch '$T/ssh.started'
exec sleep 30.5151
EOF
chmod +x "$T/bin/ssh"
cat >"$T/s8.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site s8]
root = $T/s8-site
git_repo = ssh://git.example.invalid/s8.git
git_branch = main
git_interval = 0
EOF
OLDPATH=$PATH
export PATH="$T/bin:$PATH"
start_wharf_ini "$T/s8.ini"
export PATH=$OLDPATH
wait_until 10000 test -e "$T/ssh.started"
ok $? "fetch kill: git fetch is talking to the (hanging) remote"
disown "$WPID" 2>/dev/null
kill -9 "$WPID"
WPID=
wait_until 5000 no_procs "sleep 30.5151"
ok $? "fetch kill: the remote's ssh is gone shortly after kill -9 of wharf"
wait_until 5000 no_procs "git.*fetch.*s8\.git"
ok $? "fetch kill: git fetch is gone too"

finish
