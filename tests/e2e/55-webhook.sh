#!/usr/bin/env bash
# Git deploy webhooks: POST to git_hook (git_interval = 0, so only webhooks deploy). GitHub and
# Gitea/Forgejo sign with X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>, Gitea
# also with X-Gitea-Signature (bare hex), GitLab sends X-Gitlab-Token. A missing, malformed or
# wrong signature is 403 and nothing runs; a body over the cap is 413; a valid push is 202 and
# deploys; pushes to other branches are acknowledged and ignored; a burst of pushes is
# coalesced. Deploys are counted with the status JSON's "deploys" and the log's "live:" lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

SECRET='It5-a-s3cret!'

# ---- helpers --------------------------------------------------------------------------------
live_lines() { grep -c 'site w\].*live:' "$T/wharf.err"; }
# payload FILE REF: a push payload as GitHub/Gitea/GitLab send it (the fields wharf may read)
payload() {
    printf '{"ref":"%s","before":"%s","after":"%s","repository":{"full_name":"e2e/site","default_branch":"main"},"pusher":{"name":"e2e"},"commits":[{"id":"%s","message":"x"}]}' \
        "$2" "$(printf '0%.0s' {1..40})" "$SHA" "$SHA" >"$1"
}
hmac256() { openssl dgst -sha256 -hmac "$1" -r <"$2" | cut -c1-64; } # hmac256 SECRET FILE
hmac1() { openssl dgst -sha1 -hmac "$1" -r <"$2" | cut -c1-40; }
# hook FILE [curl args]: POST FILE to /_hook; prints the status code (response body in $T/hook.out)
hook() {
    local f=$1
    shift
    curl -s -o "$T/hook.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary @"$f" "$@" "$(URL /_hook)"
}
gh() { hook "$1" -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$(hmac256 "$SECRET" "$1")"; }

# ---- the repository and the server ----------------------------------------------------------
new_remote remote
put remote index.html "v1"
push remote "c1"

PORT=$(free_port)
cat >"$T/hook.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site w]
root = $T/site
git_repo = $T/remote.git
git_interval = 0
git_hook = /_hook
git_secret = $SECRET
git_status = /_status
EOF
start_wharf_ini "$T/hook.ini"
wait_until 10000 body_is / "v1"
is "$(body /)" "v1" "the first deploy (at start) is live"
wait_until 5000 eval '[ "$(sj deploying)" = false ]'
D0=$(sj deploys)
like "$D0" '^[1-9][0-9]*$' "status: deploys counts the first deploy ($D0)"
A0=$(sj last_attempt)

# ---- bad signatures: 403, nothing runs --------------------------------------------------------
put remote index.html "v2"
push remote "c2"
payload "$T/p.json" refs/heads/main
printf '{"ref":"refs/heads/main","after":"%s"}' "$SHA" >"$T/other-body.json"
GOOD=$(hmac256 "$SECRET" "$T/p.json")
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push')" 403 "no signature header: 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H 'X-Hub-Signature-256: sha256=nothex')" 403 "malformed X-Hub-Signature-256 (sha256=nothex): 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=${GOOD:0:63}")" 403 "malformed X-Hub-Signature-256 (63 hex digits): 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: $GOOD")" 403 "malformed X-Hub-Signature-256 (no sha256= prefix): 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=${GOOD}00")" 403 "malformed X-Hub-Signature-256 (66 hex digits): 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H 'X-Hub-Signature-256: ')" 403 "empty X-Hub-Signature-256: 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$(hmac256 wrong-secret "$T/p.json")")" 403 "X-Hub-Signature-256 made with a wrong secret: 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H "X-Hub-Signature: sha1=$(hmac1 "$SECRET" "$T/p.json")")" 403 "X-Hub-Signature (SHA-1) only, correctly signed: 403"
is "$(hook "$T/p.json" -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$(hmac256 "$SECRET" "$T/other-body.json")")" 403 "X-Hub-Signature-256 of another body: 403"
is "$(hook "$T/p.json" -H 'X-Gitea-Event: push' -H "X-Gitea-Signature: sha256=$GOOD")" 403 "malformed X-Gitea-Signature (sha256= prefix; Gitea's is bare hex): 403"
is "$(hook "$T/p.json" -H 'X-Gitea-Event: push' -H "X-Gitea-Signature: $(hmac256 wrong-secret "$T/p.json")")" 403 "X-Gitea-Signature made with a wrong secret: 403"
is "$(hook "$T/p.json" -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: wrong-token')" 403 "X-Gitlab-Token wrong: 403"
is "$(hook "$T/p.json" -H 'X-Gitlab-Event: Push Hook' -H "X-Gitlab-Token: ${SECRET}x")" 403 "X-Gitlab-Token = secret plus one character: 403"
holds_for 1500 body_is / "v1"
ok $? "after the refused webhooks the content does not change (1.5 s)"
is "$(sj deploys)" "$D0" "after the refused webhooks no deploy ran (status deploys unchanged)"
is "$(sj last_attempt)" "$A0" "after the refused webhooks no deploy was attempted (status last_attempt unchanged)"

# ---- valid pushes: 202 and a deploy --------------------------------------------------------
t0=$(now_ms)
is "$(gh "$T/p.json")" 202 "GitHub: valid X-Hub-Signature-256 push: 202"
wait_until 2000 body_is / "v2"
took=$(($(now_ms) - t0))
is "$(body /)" "v2" "GitHub: the pushed commit is live within 2 s (${took} ms)"
is "$(sj live_commit)" "$SHA" "GitHub: status live_commit is the pushed commit"

put remote index.html "v3"
push remote "c3"
payload "$T/p3.json" refs/heads/main
t0=$(now_ms)
is "$(hook "$T/p3.json" -H 'X-Gitea-Event: push' -H "X-Gitea-Signature: $(hmac256 "$SECRET" "$T/p3.json")")" 202 "Gitea: bare-hex X-Gitea-Signature push: 202"
wait_until 2000 body_is / "v3"
is "$(body /)" "v3" "Gitea: the pushed commit is live within 2 s ($(($(now_ms) - t0)) ms)"

put remote index.html "v4"
push remote "c4"
payload "$T/p4.json" refs/heads/main
is "$(hook "$T/p4.json" -H 'X-Gitlab-Event: Push Hook' -H 'X-Gitlab-Token: not-the-secret')" 403 "GitLab: wrong X-Gitlab-Token: 403"
holds_for 1000 body_is / "v3"
ok $? "GitLab: after the wrong token the content does not change"
t0=$(now_ms)
is "$(hook "$T/p4.json" -H 'X-Gitlab-Event: Push Hook' -H "X-Gitlab-Token: $SECRET")" 202 "GitLab: X-Gitlab-Token = secret: 202"
wait_until 2000 body_is / "v4"
is "$(body /)" "v4" "GitLab: the pushed commit is live within 2 s ($(($(now_ms) - t0)) ms)"

# ---- a push to another branch is acknowledged and ignored ------------------------------------
wait_until 5000 eval '[ "$(sj deploying)" = false ]'
D1=$(sj deploys)
put remote index.html "v5"
push remote "c5"
git -C "$T/remote.work" push -q origin "HEAD:refs/heads/feature" 2>>"$T/git.err"
payload "$T/pf.json" refs/heads/feature
code=$(gh "$T/pf.json")
like "$code" '^2[0-9][0-9]$' "push to another branch (refs/heads/feature): acknowledged with 2xx ($code)"
holds_for 1500 body_is / "v4"
ok $? "push to another branch: the content does not change (1.5 s)"
is "$(sj deploys)" "$D1" "push to another branch: no deploy (status deploys unchanged)"
payload "$T/p5.json" refs/heads/main
is "$(gh "$T/p5.json")" 202 "a push to the deployed branch afterwards: 202"
wait_until 2000 body_is / "v5"
is "$(body /)" "v5" "a push to the deployed branch afterwards deploys"

# ---- 413 for a body over the cap ---------------------------------------------------------------
python3 -c 'import sys; sys.stdout.write("{\"ref\":\"refs/heads/main\",\"pad\":\"" + "x" * (2 * 1024 * 1024) + "\"}")' >"$T/big.json"
is "$(gh "$T/big.json")" 413 "a 2 MiB body (validly signed): 413"
is "$(gh "$T/big.json" -H 'Transfer-Encoding: chunked')" 413 "a 2 MiB chunked body without Content-Length (validly signed): 413"
is "$(status /)" 200 "the server still serves after the 413s"

# ---- a burst of pushes is coalesced -------------------------------------------------------------
wait_until 5000 eval '[ "$(sj deploying)" = false ]'
D2=$(sj deploys)
L2=$(live_lines)
BURST=()
for i in 0 1 2 3 4 5 6 7 8 9; do
    put remote index.html "burst $i"
    git -C "$T/remote.work" add -A
    git -C "$T/remote.work" commit -q -m "burst $i"
    BURST+=("$(git -C "$T/remote.work" rev-parse HEAD)")
    SHA=${BURST[$i]}
    payload "$T/burst$i.json" refs/heads/main
    hmac256 "$SECRET" "$T/burst$i.json" >"$T/burst$i.sig"
done
codes=""
t0=$(now_ms)
for i in 0 1 2 3 4 5 6 7 8 9; do
    git -C "$T/remote.work" push -q origin "${BURST[$i]}:refs/heads/main" 2>>"$T/git.err"
    codes="$codes$(hook "$T/burst$i.json" -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$(cat "$T/burst$i.sig")") "
done
burst_ms=$(($(now_ms) - t0))
is "$codes" "202 202 202 202 202 202 202 202 202 202 " "burst: ten pushes with valid webhooks ($burst_ms ms) are all 202"
wait_until 10000 body_is / "burst 9"
is "$(body /)" "burst 9" "burst: the last pushed commit goes live"
wait_until 5000 eval '[ "$(sj deploying)" = false ]'
dd=$(sj deploys)
holds_for 1500 eval '[ "$(sj deploys)" = "$dd" ]'
ok $? "burst: the deploy count settles (no more deploys for 1.5 s)"
# deploys are debounced and rate-limited to 2 a second: pushed within a second, the ten make
# at most two; a machine too busy to push them that fast earns two more per second it took
most=$((2 + 2 * (burst_ms / 1000)))
n=$(($(sj deploys) - D2))
ok $((n >= 1 && n <= most ? 0 : 1)) "burst: ten pushes in $burst_ms ms cause at most $most deploys (status deploys +$n)"
nl=$(($(live_lines) - L2))
ok $((nl >= 1 && nl <= most ? 0 : 1)) "burst: at most $most 'live:' lines in the log (+$nl)"

# ---- git_hook without git_secret is a config error ------------------------------------------------
cat >"$T/nosecret.ini" <<EOF
[server]
listen = 127.0.0.1:$(free_port)

[site w]
root = $T/site2
git_repo = $T/remote.git
git_hook = /_hook
EOF
timeout 10 "$WHARF" --config "$T/nosecret.ini" --test >"$T/ns.out" 2>"$T/ns.err"
rc=$?
ok $((rc != 0 && rc != 124 ? 0 : 1)) "git_hook without git_secret: wharf --test exits non-zero (rc $rc)"
like "$(cat "$T/ns.out" "$T/ns.err")" 'git_secret' "git_hook without git_secret: the message names git_secret"

finish
