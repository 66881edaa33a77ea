#!/usr/bin/env bash
# A replica killed (-9) during a deploy, and restarted on its own state (as a container
# restarted in its pod keeps its emptyDir), comes up on the same commit as the others: the
# other replica converges without it, and the restarted one is not ready (/readyz 503) while it
# still serves the release it had before the kill; it becomes ready only once its first deploy
# since the start has finished, on the new commit, so a balancer that follows readiness never
# sends a client back to the older commit. Two replicas on 127.0.0.2 and .3 (one port),
# git_peers between them, polling off. Replica .3's git_then holds its deploys of any commit
# but c1 until a file exists, so the kill and the restarted deploy are both caught inside it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"
command -v openssl >/dev/null || skip_all "openssl is not installed"

new_remote app main
put app index.html "c1"
push app "c1"
hmac256() { openssl dgst -sha256 -hmac "$1" -r <"$2" | cut -c1-64; } # hmac256 SECRET FILE
printf '{"ref":"refs/heads/main"}' >"$T/push.json"

P=$(free_port)
A2=$(free_port)
A3=$(free_port)
# the held deploy: at most 60 s, so nothing is left behind if the test dies
HOLD="[ \"\$(cat index.html)\" = c1 ] || { touch $T/held; i=0; while [ ! -e $T/go ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done; }"
ini() { # ini N ADMIN [git_then]
    printf '%s\n' "[server]" "listen = 127.0.0.$1:$P" "admin_listen = 127.0.0.1:$2" \
        "[site app]" "root = $T/r$1/site" "git_repo = $T/app.git" "git_interval = 0" \
        "git_hook = /_hook" "git_secret = s3cret" "git_status = /_status" \
        "git_peers = 127.0.0.2:$P 127.0.0.3:$P" ${3:+"git_then = $3"} >"$T/w$1.ini"
    mkdir -p "$T/r$1"
}
ini 2 "$A2"
ini 3 "$A3" "$HOLD"
start() { # start N: sets W[N]
    "$WHARF" --config "$T/w$1.ini" 2>>"$T/wharf$1.err" &
    W[$1]=$!
    PIDS+=("${W[$1]}")
}
declare -a W
start 2
start 3
serves() { [ "$(curl -s "http://127.0.0.$1:$P/index.html")" = "$2" ]; } # serves N WANT
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = 200 ]; }
wait_until 30000 serves 2 c1 && wait_until 30000 serves 3 c1
ok $? "two replicas serve c1"
wait_until 10000 ready "$A3"
ok $? "... and replica .3 is ready"

put app index.html "c2"
push app "c2"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: sha256=$(hmac256 s3cret "$T/push.json")" \
    --data-binary @"$T/push.json" "http://127.0.0.2:$P/_hook")" 202 "a push webhook to .2: 202"
wait_file "$T/held" 20
ok $? "replica .3, told by the fan-out, is deploying c2 (held in its git_then)"
kill -9 "${W[3]}"
wait "${W[3]}" 2>/dev/null
ok 0 "replica .3 killed with SIGKILL in the middle of its deploy"
wait_until 20000 serves 2 c2
ok $? "the other replica converges on c2 without it"

# restart .3 on the same state; its first deploy (c2 again) is held in git_then again
rm -f "$T/held"
start 3
wait_file "$T/held" 30
ok $? "restarted, replica .3 deploys c2 at once"
serves 3 c1
ok $? "... while it still serves the release it had (c1)"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A3/readyz")" 503 \
    "... and /readyz is 503 meanwhile: not ready on the older commit"
like "$(curl -s "http://127.0.0.1:$A3/readyz")" '"check":"git".*first deploy since the start' \
    "... naming the git check"
touch "$T/go"
wait_until 20000 serves 3 c2
ok $? "replica .3 comes up on the same commit as the other (c2)"
wait_until 10000 ready "$A3"
ok $? "... and only then is ready"
# never ready on c1 again: readiness and the commit move together
holds_for 1000 serves 3 c2
ok $? "... and keeps serving c2"
is "$(strays "$T/r3/site")" "" "no half-built release is left from the killed deploy"
live_ok "$T/r3/site"
ok $? "its live release is a complete one"

for i in 2 3; do
    kill -TERM "${W[i]}"
    wait "${W[i]}"
    is "$?" "0" "127.0.0.$i: SIGTERM, exit 0"
done
finish
