#!/usr/bin/env bash
# git_revision_file: three wharf processes on loopback stand for three replicas (each its own
# root and releases), all reading one revision file, as pods would read a mounted ConfigMap.
# They deploy the commit the file names, not the branch's head; when the file changes, all of
# them serve the new commit within a bound (two by polling, one by SIGUSR2); a ref name (a tag)
# works too; an unknown commit, a bad line or a missing file is a deploy error naming the file,
# and the old release keeps serving.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

new_remote app main
put app index.html "c1"
push app "c1"
C1=$SHA
put app index.html "c2"
push app "c2"
C2=$SHA
put app index.html "c3"
push app "c3"
C3=$SHA
git -C "$T/app.work" tag v3 "$C3"
git -C "$T/app.work" push -q origin v3 2>>"$T/git.err"
put app index.html "c4 (the head)"
push app "c4"

PIN=$T/pin/revision
mkdir -p "$T/pin"
printf '%s\n' "${C1:0:12}" >"$PIN"

declare -a P W
for i in 1 2 3; do
    new_port
    P[i]=$PORT
    # replica 3 never polls: SIGUSR2 makes it re-read the file
    interval=1s
    [ "$i" = 3 ] && interval=0
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site app]" "root = $T/r$i/site" "git_repo = $T/app.git" "git_branch = main" \
        "git_revision_file = $PIN" "git_interval = $interval" "git_status = /_status" \
        >"$T/w$i.ini"
    mkdir -p "$T/r$i"
    "$WHARF" --test --config "$T/w$i.ini" >/dev/null 2>>"$T/test.err"
    ok $? "replica $i: the config passes wharf --test"
    "$WHARF" --config "$T/w$i.ini" 2>>"$T/wharf$i.err" &
    W[i]=$!
    PIDS+=("${W[i]}")
done
on() { PORT=${P[$1]}; } # on N: the next requests go to replica N

# all_serve WANT: every replica's index.html is WANT
all_serve() {
    local i
    for i in 1 2 3; do
        on "$i"
        [ "$(body /index.html)" = "$1" ] || return 1
    done
}
nudge3() { kill -USR2 "${W[3]}"; }

wait_until 30000 all_serve "c1"
ok $? "an abbreviated commit id: all three replicas serve c1, not the branch's head (c4)"
on 1
is "$(sj live_commit)" "$C1" "replica 1's status names the pinned commit in full"

printf '%s\n' "$C2" >"$PIN.new" && mv "$PIN.new" "$PIN"
nudge3
t0=$(now_ms)
wait_until 15000 all_serve "c2"
ok $? "the file names c2 (full id): all three serve c2 (two by polling, one by SIGUSR2)"
echo "# converged on c2 in $(($(now_ms) - t0)) ms"
is "$(grep -c 'deploying .* (named by '"$PIN"')' "$T/wharf1.err")" "2" \
    "replica 1 deployed twice, each time saying the file named the commit"

printf 'v3\n' >"$PIN"
nudge3
wait_until 15000 all_serve "c3"
ok $? "the file names the tag v3: all three serve c3"

# an unknown commit: refused, c3 keeps serving
printf 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef\n' >"$PIN"
nudge3
for i in 1 2 3; do
    wait_grep "$T/wharf$i.err" "commit deadbeefdeadbeefdeadbeefdeadbeefdeadbeef named by git_revision_file $PIN is not in" 15
    ok $? "replica $i: an unknown commit is a deploy error naming the file"
done
all_serve "c3"
ok $? "... and every replica still serves c3"
on 1
like "$(sj last_error)" "git_revision_file $PIN" "replica 1's status shows the error"

printf 'not a ref!\n' >"$PIN"
nudge3
wait_grep "$T/wharf3.err" "git_revision_file $PIN: not a commit id or a ref name" 15
ok $? "a line that is neither a commit id nor a ref name is refused"
printf 'nosuchtag\n' >"$PIN"
wait_grep "$T/wharf1.err" "ref 'nosuchtag' named by git_revision_file $PIN" 15
ok $? "an unknown ref is refused"
rm -f "$PIN"
nudge3
wait_grep "$T/wharf3.err" "git_revision_file $PIN: No such file or directory" 15
ok $? "a missing file is a deploy error naming it"
all_serve "c3"
ok $? "through all of it every replica serves c3"

printf '%s\n' "${C1:0:7}" >"$PIN"
nudge3
wait_until 15000 all_serve "c1"
ok $? "back to c1 (7 hex digits): all three serve it again"

for i in 1 2 3; do
    kill -TERM "${W[i]}"
    wait "${W[i]}"
    is "$?" "0" "replica $i: SIGTERM, exit 0"
done
finish
