#!/usr/bin/env bash
# git_revision_file: three wharf processes on loopback stand for three replicas (each its own
# root and releases), all reading one revision file, as pods would read a mounted ConfigMap.
# They deploy the commit the file names, not the branch's head; when the file changes, all of
# them serve the new commit within a bound (two by polling, one by a signed webhook or SIGUSR2:
# its secret comes from git_secret_file, as from a mounted Secret); a ref name (a tag)
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

printf 's3cret\n' >"$T/secret" # a final newline, as an editor leaves it
hmac256() { openssl dgst -sha256 -hmac "$1" -r <"$2" | cut -c1-64; } # hmac256 SECRET FILE
printf '{"ref":"refs/heads/main"}' >"$T/push.json"

PIN=$T/pin/revision
mkdir -p "$T/pin"
printf '%s\n' "${C1:0:12}" >"$PIN"

declare -a P W
for i in 1 2 3; do
    new_port
    P[i]=$PORT
    # replica 3 never polls: a webhook or SIGUSR2 makes it re-read the file
    extra=("git_interval = 1s")
    [ "$i" = 3 ] && extra=("git_interval = 0" "git_hook = /_hook" "git_secret_file = $T/secret")
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site app]" "root = $T/r$i/site" "git_repo = $T/app.git" "git_branch = main" \
        "git_revision_file = $PIN" "git_status = /_status" "${extra[@]}" >"$T/w$i.ini"
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
# hook3 [SECRET]: POST a push event to replica 3 signed with SECRET (default the file's);
# prints the status code
hook3() {
    on 3
    curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H 'X-GitHub-Event: push' \
        -H "X-Hub-Signature-256: sha256=$(hmac256 "${1:-s3cret}" "$T/push.json")" \
        --data-binary @"$T/push.json" "$(URL /_hook)"
}

wait_until 30000 all_serve "c1"
ok $? "an abbreviated commit id: all three replicas serve c1, not the branch's head (c4)"
on 1
is "$(sj live_commit)" "$C1" "replica 1's status names the pinned commit in full"

printf '%s\n' "$C2" >"$PIN.new" && mv "$PIN.new" "$PIN"
is "$(hook3 $'s3cret\n')" "403" "a webhook signed with the file's newline as part of the secret: 403"
is "$(hook3)" "202" "a webhook signed with the secret read from git_secret_file: 202"
t0=$(now_ms)
wait_until 15000 all_serve "c2"
ok $? "the file names c2 (full id): all three serve c2 (two by polling, one by the webhook)"
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

# git_secret_file's errors are config errors at the key's line
printf '%s\n' "[site s]" "root = $T/s/site" "git_repo = $T/app.git" "git_hook = /_h" \
    "git_secret_file = $T/nosuch" >"$T/bad.ini"
mkdir -p "$T/s"
out=$("$WHARF" --test --config "$T/bad.ini" 2>&1)
ok $((!$?)) "a missing git_secret_file fails wharf --test"
like "$out" "bad.ini:5: git_secret_file '$T/nosuch': No such file or directory" "... at its line, naming it"
: >"$T/empty"
sed -i "s|$T/nosuch|$T/empty|" "$T/bad.ini"
like "$("$WHARF" --test --config "$T/bad.ini" 2>&1)" "bad.ini:5: git_secret_file '$T/empty': empty" \
    "an empty git_secret_file is refused"
printf '%s\n' "git_secret = x" >>"$T/bad.ini"
like "$("$WHARF" --test --config "$T/bad.ini" 2>&1)" "git_secret and git_secret_file: give one" \
    "git_secret and git_secret_file together are refused"

for i in 1 2 3; do
    kill -TERM "${W[i]}"
    wait "${W[i]}"
    is "$?" "0" "replica $i: SIGTERM, exit 0"
done
finish
