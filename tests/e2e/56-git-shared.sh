#!/usr/bin/env bash
# Git deploys of applications with state: git_shared (seeded from the commit, created empty,
# never overwritten, linked before git_then, kept by prune and rollback, served under the
# symlink policy, never a way out of the root), git_env_file (git_then and git_after get its
# variables; a parse error is a deploy error with FILE:LINE), git_after (runs after the switch;
# a failure is reported, not rolled back), git_notify (signed JSON events per deploy and
# rollback, over http and https, retried when the receiver fails), the status history (trigger,
# result, duration), and the presets' default shared paths. Every wait is a bounded poll.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/git-lib.sh"
command -v openssl >/dev/null || skip_all "openssl is not installed"

RECV="$WHARF_SRCDIR/tests/e2e/notify_receiver.py"
# receiver NAME FAIL_FIRST [https]: start a receiver; sets its port in ${NAME}_PORT
receiver() {
    local extra=()
    [ -n "${3:-}" ] && extra=("$T/cert.pem" "$T/key.pem")
    python3 "$RECV" "$T/$1.port" "$T/$1.log" nsecret "$2" "${extra[@]}" 2>>"$T/recv.err" &
    PIDS+=($!)
    wait_file "$T/$1.port" 10 || bail "receiver $1 did not start"
    printf -v "${1}_PORT" '%s' "$(cat "$T/$1.port")"
    : >>"$T/$1.log"
}
# events NAME: the receiver's log; ev NAME N FIELD: FIELD of the Nth request's body
ev() {
    python3 - "$T/$1.log" "$2" "$3" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n, field = int(sys.argv[2]), sys.argv[3]
if n > len(lines):
    print("(no request %d)" % n); sys.exit()
r = lines[n - 1]
v = r.get(field) if field in ("sig_ok", "event", "answered", "type", "path") else (r["body"] or {}).get(field, "(absent)")
print(v if isinstance(v, str) else json.dumps(v))
EOF
}
nlines() { [ -f "$1" ] && grep -c . "$1" || echo 0; }
at_least() { [ "$(nlines "$1")" -ge "$2" ]; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" \
    >/dev/null 2>&1 || bail "openssl could not make a certificate"
receiver plain 0
receiver flaky 2
receiver tls 0 https
# a receiver that accepts connections and never answers (each attempt runs into the timeout)
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$T/hang.port" &
PIDS+=($!)
wait_file "$T/hang.port" 10 || bail "the hanging receiver did not start"
HANG_PORT=$(cat "$T/hang.port")

# ==== 1. first deploy: seeding, creating, env file, git_then, git_after, notify ===============
new_remote app main
put app index.html "v1"
put app storage/skeleton.txt "skeleton v1"
put app .env "FROM_REPO=1"
put app public/index.html "public v1"
push app "c1"
SHA1=$SHA

printf '# secrets\nDB_PASS="p@ss word"\n\nexport APP_ENV=prod\n' >"$T/secrets.env"
cat >"$T/then.sh" <<'EOF'
set -e
# the shared paths are linked before the build runs
printf '%s|%s|%s|%s|%s\n' "$DB_PASS" "$APP_ENV" "$(cat storage/skeleton.txt)" \
    "$(test -L .env && cat .env)" "$WHARF_SHARED" >"$WHARF_RELEASE/then.txt"
EOF
printf 'echo "after $WHARF_COMMIT $DB_PASS" >>"%s/after.log"\n' "$T" >"$T/after.sh"
mkdir -p "$T/outside"

new_port
cat >"$T/main.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site app]
root = $T/site
git_repo = $T/app.git
git_interval = 0
git_keep = 1
git_status = /_status
git_shared = storage .env public/uploads conf/local.php?
git_env_file = $T/secrets.env
git_then = sh $T/then.sh
git_after = sh $T/after.sh
git_notify = http://127.0.0.1:$HANG_PORT/hang http://127.0.0.1:$plain_PORT/hook
    http://127.0.0.1:$flaky_PORT/flaky
    https://127.0.0.1:$tls_PORT/tls
git_notify_secret = nsecret
git_notify_ca = $T/cert.pem
EOF
start_wharf_ini "$T/main.ini"
STATE=$(state_of "$T/site")
wait_until 15000 body_is /index.html "v1"
is "$(body /index.html)" "v1" "first deploy: live"
REL1=$(realpath "$T/site")
ok $([ -L "$REL1/storage" ] && [ -L "$REL1/.env" ] && [ -L "$REL1/public/uploads" ] && echo 0 || echo 1) \
    "first deploy: storage, .env and public/uploads are links in the release"
is "$(readlink "$REL1/public/uploads")" "../../../shared/public/uploads" \
    "the links are relative (valid wherever the state directory goes)"
is "$(cat "$STATE/shared/storage/skeleton.txt")" "skeleton v1" "seeded: storage from the commit's skeleton"
is "$(cat "$STATE/shared/.env")" "FROM_REPO=1" "seeded: .env from the commit"
ok $([ -d "$STATE/shared/public/uploads" ] && [ -z "$(ls -A "$STATE/shared/public/uploads")" ] && echo 0 || echo 1) \
    "created: public/uploads as an empty directory (not in the commit)"
ok $([ -L "$REL1/conf/local.php" ] && [ ! -e "$STATE/shared/conf/local.php" ] && echo 0 || echo 1) \
    "optional conf/local.php?: linked, not created (the application writes it through the link)"
is "$(cat "$REL1/then.txt")" "p@ss word|prod|skeleton v1|FROM_REPO=1|$STATE/shared" \
    "git_then: the env file's variables and the shared paths, already linked"
wait_file "$T/after.log" 10
is "$(cat "$T/after.log")" "after $SHA1 p@ss word" "git_after: ran after the switch, with the env file"

# shared content is served under the default follow_symlinks policy
is "$(body /storage/skeleton.txt)" "skeleton v1" "a file in a shared directory is served"
head -c 70000 /dev/urandom >"$STATE/shared/public/uploads/photo.jpg"
UP=$(fsha "$STATE/shared/public/uploads/photo.jpg")
is "$(curl -s "$(URL /public/uploads/photo.jpg)" | sha)" "$UP" "an upload in the shared directory is served byte-identical"

# dotfiles and escapes
is "$(status /.env)" 404 ".env (a link into shared) is never served"
is "$(status /%2eenv)" 404 "/%2eenv is never served"
is "$(status /storage/../.env)" 404 "/storage/../.env is never served"
ln -s /etc/passwd "$STATE/shared/public/uploads/passwd"
ln -s ../../.env "$STATE/shared/public/uploads/env.txt"
ln -s "$STATE/repo.git/HEAD" "$STATE/shared/public/uploads/head.txt"
ln -s "$T/outside" "$STATE/shared/public/uploads/out"
printf 'outside\n' >"$T/outside/o.txt"
is "$(status /public/uploads/passwd)" 404 "a link planted in shared uploads to /etc/passwd is not followed"
is "$(status /public/uploads/env.txt)" 404 "a link planted in shared uploads to the shared .env is not followed"
is "$(status /public/uploads/head.txt)" 404 "a link planted in shared uploads into the state directory is not followed"
is "$(status /public/uploads/out/o.txt)" 404 "a link planted in shared uploads to another directory is not followed"
rm "$STATE/shared/public/uploads/"{passwd,env.txt,head.txt,out}

# notify: the receivers (the flaky one after two failures), none held back by the hanging one
wait_until 3000 at_least "$T/plain.log" 1
ok $? "notify: delivered within 3 s although another receiver never answers"
is "$(ev plain 1 sig_ok)" true "notify: the signature is HMAC-SHA256 of the body with git_notify_secret"
is "$(ev plain 1 event)" deploy "notify: X-Wharf-Event: deploy"
is "$(ev plain 1 type)" application/json "notify: Content-Type: application/json"
is "$(ev plain 1 site)" app "notify: site"
is "$(ev plain 1 result)" live "notify: result live"
is "$(ev plain 1 commit)" "$SHA1" "notify: commit"
is "$(ev plain 1 previous_commit)" null "notify: no previous commit on the first deploy"
is "$(ev plain 1 trigger)" start "notify: trigger start"
is "$(ev plain 1 host)" "$(hostname)" "notify: host"
like "$(ev plain 1 duration_ms)" '^[0-9]+$' "notify: duration_ms"
is "$(ev plain 1 error)" null "notify: no error"
wait_until 8000 at_least "$T/flaky.log" 3
is "$(ev flaky 1 answered)/$(ev flaky 2 answered)/$(ev flaky 3 answered)" "500/500/200" \
    "notify: a failing receiver is retried until it accepts"
is "$(ev flaky 3 commit)/$(ev flaky 3 sig_ok)" "$SHA1/true" "notify: the retried delivery is the same signed event"
wait_until 10000 at_least "$T/tls.log" 1
is "$(ev tls 1 commit)/$(ev tls 1 sig_ok)" "$SHA1/true" "notify: https with git_notify_ca (a self-signed receiver)"

# ==== 2. later deploys never overwrite shared state; the app writes through the links =========
put app storage/skeleton.txt "skeleton v2"
put app .env "FROM_REPO=2"
put app index.html "v2"
push app "c2"
SHA2=$SHA
printf 'written by the app\n' >"$T/site/storage/runtime.txt"
kill -USR2 "$WPID"
wait_until 15000 body_is /index.html "v2"
is "$(body /index.html)" "v2" "second deploy (SIGUSR2): live"
is "$(body /storage/skeleton.txt)" "skeleton v1" "second deploy: the shared copy is not overwritten by the commit's"
is "$(cat "$STATE/shared/.env")" "FROM_REPO=1" "second deploy: the shared .env is not overwritten"
is "$(cat "$T/site/storage/runtime.txt")" "written by the app" "second deploy: what the app wrote is still there"
is "$(curl -s "$(URL /public/uploads/photo.jpg)" | sha)" "$UP" "second deploy: the upload is byte-identical"
wait_until 10000 at_least "$T/plain.log" 2
is "$(ev plain 2 trigger)/$(ev plain 2 previous_commit)" "signal/$(echo "$SHA1" | cut -c1-12)" \
    "notify: second event, trigger signal, previous commit"

# ==== 3. a failing git_after: reported, no rollback (--deploy from the command line) ==========
printf 'echo "after failing"; exit 3\n' >"$T/after.sh"
put app index.html "v3"
push app "c3"
SHA3=$SHA
timeout 60 "$WHARF" --config "$T/main.ini" --deploy app >>"$T/cli.out" 2>&1
ok $? "third deploy (--deploy): exit status 0 although git_after failed"
is "$(body /index.html)" "v3" "third deploy: live, not rolled back"
wait_until 10000 at_least "$T/plain.log" 3
like "$(ev plain 3 after_error)" "git_after failed \\(exit status 3\\)" "notify: after_error says git_after failed"
is "$(ev plain 3 trigger)/$(ev plain 3 result)" "cli/live" "notify: trigger cli, result live"
is "$(curl -s "$(URL /public/uploads/photo.jpg)" | sha)" "$UP" "third deploy: the upload is byte-identical"
is "$(releases "$T/site" | wc -l)" 2 "prune (git_keep = 1) kept two releases: it never touched shared state"

# ==== 4. rollback keeps shared state =========================================================
timeout 60 "$WHARF" --config "$T/main.ini" --rollback app >>"$T/cli.out" 2>&1
ok $? "rollback: exit status 0"
is "$(body /index.html)" "v2" "rollback: v2 is live again"
is "$(curl -s "$(URL /public/uploads/photo.jpg)" | sha)" "$UP" "rollback: the upload is byte-identical"
is "$(cat "$T/site/storage/runtime.txt")" "written by the app" "rollback: the app's storage is kept"
wait_until 10000 at_least "$T/plain.log" 4
is "$(ev plain 4 event)/$(ev plain 4 result)/$(ev plain 4 commit)" \
    "rollback/rolled_back/$(echo "$SHA2" | cut -c1-12)" "notify: a rollback event"

# ==== 5. a committed link cannot lead a shared path out; a failed deploy is notified ==========
git -C "$T/app.work" rm -q -r public
ln -s "$T/outside" "$T/app.work/public"
put app index.html "v5"
push app "c5 (public is a link out)"
SHA5=$SHA
kill -USR2 "$WPID"
wait_until 15000 at_least "$T/plain.log" 5
is "$(ev plain 5 result)" failed "escape: the deploy failed"
like "$(ev plain 5 error)" "public in the commit is not a directory" "escape: the error says why"
is "$(ev plain 5 commit)" "$SHA5" "failed event: the commit"
is "$(body /index.html)" "v2" "escape: the live release stays"
is "$(ls -A "$T/outside")" "o.txt" "escape: nothing was created outside"

# ==== 6. an env file error is a deploy error with FILE:LINE ==================================
git -C "$T/app.work" rm -q public
put app public/index.html "public v6"
put app index.html "v6"
# a committed link at a shared path is simply replaced by the shared one
git -C "$T/app.work" rm -q -r storage
ln -s "$T/outside" "$T/app.work/storage"
push app "c6"
printf 'OK=1\nnot a line\n' >"$T/secrets.env"
kill -USR2 "$WPID"
wait_until 15000 at_least "$T/plain.log" 6
like "$(sj last_error)" "$T/secrets.env:2: expected '=' after not" "env file error: last_error names FILE:LINE"
is "$(body /index.html)" "v2" "env file error: the live release stays"

printf 'DB_PASS=fixed\n' >"$T/secrets.env"
printf 'exit 0\n' >"$T/after.sh"
kill -USR2 "$WPID"
wait_until 15000 body_is /index.html "v6"
is "$(body /index.html)" "v6" "env file fixed: the same commit deploys"
is "$(readlink "$(realpath "$T/site")/storage")" "../../shared/storage" \
    "a committed link at a shared path is replaced by the link to shared/"
is "$(body /storage/skeleton.txt)" "skeleton v1" "and the shared storage is served"
is "$(ls -A "$T/outside")" "o.txt" "nothing was written through the committed link"

# ==== 7. the status history ==================================================================
body /_status >"$T/status.json"
python3 - "$T/status.json" >"$T/history.check" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1])).get("history")
got = [(e["event"], e["trigger"], e["result"]) for e in h]
want = [("deploy", "signal", "live"), ("deploy", "signal", "failed"), ("deploy", "signal", "failed"),
        ("rollback", "cli", "rolled_back"), ("deploy", "cli", "live"),
        ("deploy", "signal", "live"), ("deploy", "start", "live")]
ok = got == want and all(isinstance(e["duration_ms"], int) for e in h) and h[3]["previous_commit"]
print("ok" if ok else "history %r" % got)
EOF
is "$(cat "$T/history.check")" ok "status: history of every attempt, newest first, with trigger, result and duration"

# ==== 8. presets' shared paths, and git_shared replacing them =================================
new_remote lara main
put lara public/index.html "laravel"
push lara "l1"
new_port
cat >"$T/preset.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site lara]
root = $T/lara
git_repo = $T/lara.git
git_interval = 0
fastcgi = unix:$T/none.sock
fastcgi_preset = laravel
git_subdir = public

[site own]
hosts = own.example
root = $T/own
git_repo = $T/lara.git
git_interval = 0
fastcgi = unix:$T/none.sock
fastcgi_preset = laravel
git_shared = cache/
EOF
restart_with "$T/preset.ini"
LS=$(state_of "$T/lara")
OS=$(state_of "$T/own")
wait_until 15000 body_is /index.html "laravel"
wait_until 15000 body_is /index.html "laravel" -H "Host: own.example"
ok $([ -d "$LS/shared/storage" ] && [ -f "$LS/shared/.env" ] && [ ! -s "$LS/shared/.env" ] && echo 0 || echo 1) \
    "preset laravel: storage (empty directory) and .env (empty file) are shared"
ok $([ -d "$OS/shared/cache" ] && [ ! -e "$OS/shared/storage" ] && [ ! -e "$OS/shared/.env" ] && echo 0 || echo 1) \
    "git_shared replaces the preset's list"

# ==== 9. config errors ======================================================================
printf '[site x]\nroot = %s/x\ngit_repo = %s/app.git\ngit_shared = ../up\n' "$T" "$T" >"$T/bad.ini"
"$WHARF" --config "$T/bad.ini" --test >"$T/bad.out" 2>&1
ok $([ $? -ne 0 ] && echo 0 || echo 1) "git_shared ../up: --test fails"
like "$(cat "$T/bad.out")" "bad.ini:4: git_shared: expected paths inside the release" "git_shared ../up: FILE:LINE"

finish
