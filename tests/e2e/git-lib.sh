# git-lib.sh: helpers for the git deploy tests, sourced after lib.sh. Repositories live in $T:
# a bare "remote" NAME.git and a working clone NAME.work that commits and pushes. No user or
# system git configuration leaks in (wharf's git inherits this environment too).
command -v git >/dev/null || skip_all "git is not installed"
export GIT_CONFIG_GLOBAL="$T/gitconfig" GIT_CONFIG_NOSYSTEM=1
: >"$GIT_CONFIG_GLOBAL"

# new_remote NAME [BRANCH]: a bare $T/NAME.git whose HEAD is BRANCH (default main) and its work
# clone $T/NAME.work
new_remote() {
    git -c init.defaultBranch="${2:-main}" init -q --bare "$T/$1.git"
    git -c init.defaultBranch="${2:-main}" init -q "$T/$1.work"
    git -C "$T/$1.work" config user.name "wharf e2e"
    git -C "$T/$1.work" config user.email "e2e@example.invalid"
    git -C "$T/$1.work" remote add origin "$T/$1.git"
}
# put NAME PATH CONTENT: write a file in the work clone
put() {
    mkdir -p "$(dirname "$T/$1.work/$2")"
    printf '%s' "$3" >"$T/$1.work/$2"
}
# push NAME MSG [BRANCH]: commit everything and push it to BRANCH (default: the work clone's
# current branch); sets SHA
push() {
    local w="$T/$1.work" br=${3:-}
    [ -n "$br" ] || br=$(git -C "$w" symbolic-ref --short HEAD)
    git -C "$w" add -A
    git -C "$w" commit -q --allow-empty -m "$2"
    git -C "$w" push -q origin "HEAD:refs/heads/$br" 2>>"$T/git.err" || bail "git push to $1 failed"
    SHA=$(git -C "$w" rev-parse HEAD)
}
# tree_of NAME SHA DIR: the commit's files, as git archive gives them
tree_of() {
    mkdir -p "$3"
    git -C "$T/$1.work" archive "$2" | tar -x -C "$3"
}
# sj KEY [curl args]: a field of the status JSON at /_status (strings bare, others as JSON;
# "(absent)", "(not JSON)" or "(not an object)" when there is no such field)
sj() {
    body /_status "${@:2}" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    print("(not JSON)"); sys.exit()
v = d.get(sys.argv[1], "(absent)") if isinstance(d, dict) else "(not an object)"
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}
# state_of ROOT: the site's state directory (releases/, repo.git, lock, rolled-back)
state_of() { echo "$(dirname "$1")/.$(basename "$1").wharf"; }
# entries ROOT: every entry of releases/ (of any type), one name a line
entries() { ls -A "$(state_of "$1")/releases" 2>/dev/null | sort; }
# is_release_name NAME: exactly NNNNNN-YYYYMMDDTHHMMSSZ-<12 hex>
is_release_name() { [[ "$1" =~ ^[0-9]{6}-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$ ]]; }
# releases ROOT: the directories in releases/ (complete and .tmp), one name a line
releases() {
    local d
    d="$(state_of "$1")/releases"
    [ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort
}
# strays ROOT: entries of releases/ that are not release directories (should be none)
strays() {
    local e d
    d="$(state_of "$1")/releases"
    entries "$1" | while read -r e; do
        if ! is_release_name "$e" || [ -L "$d/$e" ] || [ ! -d "$d/$e" ]; then echo "$e"; fi
    done
}
# live_ok ROOT: root is a symlink to a complete release (a real directory whose name is a
# release name, directly under releases/); prints why not on stdout otherwise
live_ok() {
    local t rel
    [ -L "$1" ] || { echo "root is not a symlink"; return 1; }
    t=$(readlink "$1")
    rel=${t##*/releases/}
    rel=${rel%%/*}
    is_release_name "$rel" || { echo "root points at '$t' (not a release name)"; return 1; }
    t="$(state_of "$1")/releases/$rel"
    [ ! -L "$t" ] && [ -d "$t" ] || { echo "root points at '$rel', not a real directory"; return 1; }
    [ -d "$1/" ] || { echo "root does not resolve to a directory"; return 1; }
}
# live_name ROOT: the release the root points at
live_name() { local t; t=$(readlink "$1"); t=${t##*/releases/}; echo "${t%%/*}"; }
# no_procs PATTERN: no process's command line matches PATTERN (pgrep -f)
no_procs() { ! pgrep -f "$1" >/dev/null; }
# push_hook [REF]: POST a GitHub push event for REF (default refs/heads/main) to /_hook, signed
# with $SECRET (the site's git_secret); prints the status code (202: a deploy is queued)
push_hook() {
    printf '{"ref":"%s","after":"%s"}' "${1:-refs/heads/main}" "${SHA:-}" >"$T/push-hook.json"
    curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$(openssl dgst -sha256 \
        -hmac "$SECRET" -r <"$T/push-hook.json" | cut -c1-64)" \
        --data-binary @"$T/push-hook.json" "$(URL /_hook)"
}
