#!/usr/bin/env bash
# git_peers: three replicas on 127.0.0.2, .3 and .4, one port, no polling (git_interval = 0),
# each listing all three (as a headless Service's name lists every pod). A push webhook to one
# replica reaches the other two through the fan-out: all three serve the new commit within a
# bound. A peer notification is never passed on; a forged one (wrong secret), a replayed one
# (dated outside the window), an undated one and a git_notify body are refused and deploy
# nothing; git_peers without git_hook is a config error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"
command -v openssl >/dev/null || skip_all "openssl is not installed"

new_remote app main
put app index.html "c1"
push app "c1"
printf 's3cret\n' >"$T/secret"
hmac256() { openssl dgst -sha256 -hmac "$1" -r <"$2" | cut -c1-64; } # hmac256 SECRET FILE
printf '{"ref":"refs/heads/main"}' >"$T/push.json"

PORT=$(free_port)
P=$PORT
declare -a W
for i in 2 3 4; do
    printf '%s\n' "[server]" "listen = 127.0.0.$i:$P" \
        "[site app]" "root = $T/r$i/site" "git_repo = $T/app.git" "git_interval = 0" \
        "git_hook = /_hook" "git_secret_file = $T/secret" "git_status = /_status" \
        "git_peers = 127.0.0.2:$P 127.0.0.3:$P" "  127.0.0.4:$P" >"$T/w$i.ini"
    mkdir -p "$T/r$i"
    "$WHARF" --config "$T/w$i.ini" 2>>"$T/wharf$i.err" &
    W[i]=$!
    PIDS+=("${W[i]}")
done
# serves N WANT: replica 127.0.0.N's index.html is WANT
serves() { [ "$(curl -s "http://127.0.0.$1:$P/index.html")" = "$2" ]; }
all_serve() { serves 2 "$1" && serves 3 "$1" && serves 4 "$1"; }
# hook N FILE [headers]: POST FILE to replica N's /_hook; prints the status code
hook() {
    local n=$1 f=$2
    shift 2
    curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary @"$f" "$@" "http://127.0.0.$n:$P/_hook"
}

wait_until 30000 all_serve "c1"
ok $? "three replicas on one port, each its own releases: all serve c1"

put app index.html "c2"
push app "c2"
t0=$(now_ms)
is "$(hook 2 "$T/push.json" -H 'X-GitHub-Event: push' \
    -H "X-Hub-Signature-256: sha256=$(hmac256 s3cret "$T/push.json")")" "202" \
    "a signed push webhook to 127.0.0.2: 202"
wait_until 20000 all_serve "c2"
ok $? "all three serve c2 (two of them only told by the fan-out: they never poll)"
echo "# all three on c2 $(($(now_ms) - t0)) ms after the webhook"
like "$(cat "$T/wharf2.err")" "telling 3 peer\(s\) of the push" "127.0.0.2 told the three addresses"
like "$(cat "$T/wharf3.err")" "a peer was pushed to \(refs/heads/main\): deploy queued" "127.0.0.3 deployed on the peer notification"
unlike "$(cat "$T/wharf3.err" "$T/wharf4.err")" "telling .* peer" "... and no peer passed it on"

# a forged peer notification: refused, nothing deployed
put app index.html "c3"
push app "c3"
# peer_body FILE SENT: a peer notification's body as wharf sends it, dated SENT (Unix seconds)
peer_body() { printf '{"event":"peer","ref":"refs/heads/main","from":"x","sent":%s}' "$2" >"$1"; }
peer_body "$T/peer.json" "$(date +%s)"
is "$(hook 3 "$T/peer.json" -H 'X-Wharf-Event: peer' \
    -H "X-Wharf-Signature-256: sha256=$(hmac256 wrong "$T/peer.json")")" "403" \
    "a peer notification signed with another secret: 403"
is "$(hook 3 "$T/peer.json" -H 'X-Wharf-Event: deploy' \
    -H "X-Wharf-Signature-256: sha256=$(hmac256 s3cret "$T/peer.json")")" "403" \
    "a signed wharf event that is not \"peer\": 403"
# a replay: a notification captured an hour ago, its signature still good
peer_body "$T/old.json" "$(($(date +%s) - 3600))"
is "$(hook 3 "$T/old.json" -H 'X-Wharf-Event: peer' \
    -H "X-Wharf-Signature-256: sha256=$(hmac256 s3cret "$T/old.json")")" "403" \
    "a correctly signed peer notification sent an hour ago (a replay): 403"
peer_body "$T/ahead.json" "$(($(date +%s) + 3600))"
is "$(hook 3 "$T/ahead.json" -H 'X-Wharf-Event: peer' \
    -H "X-Wharf-Signature-256: sha256=$(hmac256 s3cret "$T/ahead.json")")" "403" \
    "... one dated an hour ahead: 403"
# the body the fan-out sent before it was dated, and a git_notify event (same secret by default)
printf '{"ref":"refs/heads/main","from":"x"}' >"$T/undated.json"
is "$(hook 3 "$T/undated.json" -H 'X-Wharf-Event: peer' \
    -H "X-Wharf-Signature-256: sha256=$(hmac256 s3cret "$T/undated.json")")" "403" \
    "an undated peer body: 403"
printf '{"time":"2026-01-01T00:00:00Z","event":"deploy","site":"app","result":"ok"}' >"$T/ev.json"
is "$(hook 3 "$T/ev.json" -H 'X-Wharf-Event: peer' \
    -H "X-Wharf-Signature-256: sha256=$(hmac256 s3cret "$T/ev.json")")" "403" \
    "a signed git_notify event replayed as a peer notification: 403"
like "$(cat "$T/wharf3.err")" "refused a wharf event: stale peer notification" \
    "the replay is logged as stale"
holds_for 2000 serves 3 "c2"
ok $? "... and 127.0.0.3 still serves c2"
peer_body "$T/peer.json" "$(date +%s)"
is "$(hook 3 "$T/peer.json" -H 'X-Wharf-Event: peer' \
    -H "X-Wharf-Signature-256: sha256=$(hmac256 s3cret "$T/peer.json")")" "202" \
    "a fresh peer notification signed with the secret: 202"
wait_until 20000 serves 3 "c3"
ok $? "... and 127.0.0.3 deploys c3"
holds_for 1500 serves 2 "c2"
ok $? "... alone: it passed nothing on (127.0.0.2 still serves c2)"

printf '%s\n' "[site s]" "root = $T/s/site" "git_repo = $T/app.git" "git_secret = x" \
    "git_peers = wharf-pods:8080" >"$T/bad.ini"
mkdir -p "$T/s"
like "$("$WHARF" --test --config "$T/bad.ini" 2>&1)" "git_peers needs git_hook" \
    "git_peers without git_hook is a config error"
printf '%s\n' "[site s]" "root = $T/s/site" "git_repo = $T/app.git" "git_secret = x" \
    "git_hook = /_h" "git_peers = wharf-pods" >"$T/bad.ini"
like "$("$WHARF" --test --config "$T/bad.ini" 2>&1)" "bad.ini:6: .*git_peers" \
    "git_peers without a port is refused at its line"

for i in 2 3 4; do
    kill -TERM "${W[i]}"
    wait "${W[i]}"
    is "$?" "0" "127.0.0.$i: SIGTERM, exit 0"
done
finish
