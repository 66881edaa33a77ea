#!/usr/bin/env bash
# Live reload (SIGHUP) and git sites: a git site that stays (same name, root, repo, branch)
# keeps its releases and deploy state (no new deploy, the same live release, its deploy count)
# and takes the new settings (hosts); a removed git site's worker stops (a later SIGUSR2
# deploys the kept site, never the removed one).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"

new_remote keep main
put keep index.html "k1"
push keep "k1"
new_remote gone main
put gone index.html "r1"
push gone "r1"
mkdir -p "$T/d"
printf 'default' >"$T/d/index.html"
PORT=$(free_port)
v1() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site keep]" "hosts = keep.test" "root = $T/keep-site" "git_repo = $T/keep.git" \
        "git_interval = 0" "git_status = /_status" \
        "[site gone]" "hosts = gone.test" "root = $T/gone-site" "git_repo = $T/gone.git" \
        "git_interval = 0" \
        "[site d]" "root = $T/d"
}
v2() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" \
        "[site keep]" "hosts = keep.test keep2.test" "root = $T/keep-site" \
        "git_repo = $T/keep.git" "git_interval = 0" "git_status = /_status" "git_keep = 3" \
        "[site d]" "root = $T/d"
}
v1 >"$T/w.ini"
start_wharf_ini "$T/w.ini"
wait_until 20000 body_is /index.html "k1" -H 'Host: keep.test'
ok $? "v1: the kept site's first deploy is live"
wait_until 20000 body_is /index.html "r1" -H 'Host: gone.test'
ok $? "v1: the other git site's first deploy is live"
wait_until 5000 eval '[ "$(sj deploying -H "Host: keep.test")" = false ]'
rel_keep=$(releases "$T/keep-site")
rel_gone=$(releases "$T/gone-site")
deploys=$(sj deploys -H 'Host: keep.test')
is "$deploys" "1" "v1: one deploy of the kept site"

v2 >"$T/w.ini"
kill -HUP "$WPID"
wait_grep "$T/wharf.err" 'configuration reloaded' 10
ok $? "SIGHUP with v2: reloaded"
is "$(body /index.html -H 'Host: keep2.test')" "k1" "v2: the new host reaches the kept git site's live release"
is "$(body /index.html -H 'Host: gone.test')" "default" "v2: the removed git site is gone"
is "$(sj deploys -H 'Host: keep2.test')" "$deploys" "v2: the kept site's deploy state carried over (same deploy count, no new deploy)"
is "$(releases "$T/keep-site")" "$rel_keep" "v2: ... and the same releases"
wait_grep "$T/wharf.err" "previous configuration's sites are stopped" 10
ok $? "the old sites (the removed git site's state) are stopped"

put keep index.html "k2"
push keep "k2"
put gone index.html "r2"
push gone "r2"
kill -USR2 "$WPID"
wait_until 20000 body_is /index.html "k2" -H 'Host: keep.test'
ok $? "SIGUSR2 after the reload deploys the kept site (its worker state lives on)"
is "$(sj deploys -H 'Host: keep.test')" "$((deploys + 1))" "... counted with its earlier deploy"
holds_for 2000 eval '[ "$(releases "$T/gone-site")" = "$rel_gone" ]'
ok $? "the removed site is never deployed again"

kill -TERM "$WPID"
wait "$WPID"
is "$?" "0" "SIGTERM: wharf exits 0"
unlike "$(cat "$T/wharf.err")" 'still held' "... with no pin left on any site"
finish
