#!/usr/bin/env bash
# Privileges: started as root with user = nobody, wharf opens its listener and log files, then
# drops for good before any thread or child exists: wharf, each of its threads, the php-fpm it
# spawns and that php-fpm's children all run as nobody; requests (static, PHP, an upload through
# a temp file) are still served; files made later belong to nobody; log files wharf created
# are given to nobody, so a reopen after rotation works. Config errors: unknown user or group,
# group without user, and a non-root wharf asked to become someone else. Started as root
# without user and listening beyond loopback, wharf warns and names the key.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (the test starts wharf as root and drops to nobody)"
getent passwd nobody >/dev/null || skip_all "no user nobody"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) is not installed"
find_fpm >/dev/null || skip_all "php-fpm is not installed"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)

chmod 755 "$T" # mktemp made it 0700: nobody must reach the document root
mkdir -p "$T/www" "$T/logs" "$T/bodytmp" "$T/roottmp"
chown nobody "$T/logs" "$T/bodytmp"
chmod 700 "$T/bodytmp"
chmod 755 "$T/roottmp" # root's: nobody cannot create files there
printf 'static ok' >"$T/www/index.html"
cat >"$T/www/raw.php" <<'PHP'
<?php $in = file_get_contents('php://input'); echo strlen($in), ' ', hash('sha256', $in);
PHP
printf '<?php echo "php ok";\n' >"$T/www/hello.php"
head -c 300000 /dev/urandom >"$T/upload.bin"
UP_SHA=$(fsha "$T/upload.bin")

write_ini() { # write_ini TEMP_DIR [EXTRA SERVER LINES]
    cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
user = nobody
error_log = $T/logs/error.log
temp_dir = $1
${2:-}
[site default]
root = $T/www
access_log = $T/logs/access.log
fastcgi = spawn
fastcgi_body_buffer = 0
INI
}

ids() { grep -E '^(Uid|Gid):' "$1" | awk '{print $2,$3,$4,$5}' | tr '\n' ' '; }
WANT="$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID "

# ---- configuration errors -------------------------------------------------------------------
new_port
cat >"$T/bad.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
user = no-such-user-wharf
[site default]
root = $T/www
INI
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
ok $([ $? -eq 1 ]; echo $?) "--test refuses an unknown user"
like "$out" "bad.ini:3: user 'no-such-user-wharf': no such user" "...naming FILE:LINE and the user"
sed -i 's/^user = .*/user = nobody\ngroup = no-such-group-wharf/' "$T/bad.ini"
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:4: group 'no-such-group-wharf': no such group" "an unknown group is an error at its line"
sed -i '/^user = /d' "$T/bad.ini"
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: group needs user" "group without user is an error"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$WHARF" --listen "127.0.0.1:$PORT" \
    --root "$T/www" --user www-data 2>&1)
rc=$?
is "$rc" 1 "not root, --user someone else: wharf refuses to start"
like "$out" "command line: user 'www-data': wharf runs as uid $NOBODY_UID, not root" \
    "...and says why"
out=$("$WHARF" --listen ":$PORT" --root "$T/www" --test 2>&1)
like "$out" "running as root and listening on :$PORT: set \[server\] user" \
    "root without user, listening beyond loopback: a warning naming the key"
out=$("$WHARF" --listen "127.0.0.1:$PORT" --root "$T/www" --test 2>&1)
unlike "$out" "set \[server\] user" "...none when every listener is on loopback"

# ---- the drop -----------------------------------------------------------------------------------
new_port
write_ini "$T/bodytmp"
start_wharf_ini "$T/wharf.ini"
is "$(body /)" "static ok" "a static file is served after the drop"
is "$(body /hello.php)" "php ok" "PHP is served by the spawned php-fpm"
is "$(ids /proc/$WPID/status)" "$WANT" "wharf's real, effective, saved and fs uid/gid are nobody's"
groups=$(awk '/^Groups:/ {$1=""; print}' /proc/$WPID/status)
unlike "$groups" '(^| )0( |$)' "...and root's group is not among its supplementary groups"
bad=0
n=0
for t in /proc/$WPID/task/*/status; do
    n=$((n + 1))
    [ "$(ids "$t")" = "$WANT" ] || bad=$((bad + 1))
done
ok $([ "$n" -ge 3 ] && [ "$bad" -eq 0 ]; echo $?) "every thread of wharf ($n) runs as nobody"
master=$(pgrep -P "$WPID" | head -1)
ok $([ -n "$master" ]; echo $?) "php-fpm is wharf's child"
is "$(ids /proc/$master/status)" "$WANT" "the php-fpm master runs as nobody"
kids=$(pgrep -P "$master")
bad=0
for k in $kids; do [ "$(ids /proc/$k/status)" = "$WANT" ] || bad=$((bad + 1)); done
ok $([ -n "$kids" ] && [ "$bad" -eq 0 ]; echo $?) "every php-fpm child runs as nobody ($(echo $kids | wc -w))"
is "$(curl -s --data-binary @"$T/upload.bin" "$(URL /raw.php)")" "300000 $UP_SHA" \
    "an upload through a temp file in temp_dir (owned by nobody) reaches PHP whole"
wait_file "$T/logs/access.log" 5
is "$(stat -c %U "$T/logs/error.log")" nobody "the error log wharf created is given to nobody"
is "$(stat -c %U "$T/logs/access.log")" nobody "the access log wharf created is given to nobody"
mv "$T/logs/access.log" "$T/logs/access.log.1"
mv "$T/logs/error.log" "$T/logs/error.log.1"
kill -USR1 "$WPID"
wait_file "$T/logs/access.log" 5
status / >/dev/null
wait_grep "$T/logs/access.log" 'GET / HTTP' 5
ok $? "after rotation, SIGUSR1: the access log is reopened (as nobody) and written"
is "$(stat -c %U "$T/logs/access.log")" nobody "...the new file belongs to nobody"
stop_pid "$WPID"

# a temp_dir that only root may write: wharf (as nobody) cannot put a body there
new_port
write_ini "$T/roottmp"
start_wharf_ini "$T/wharf.ini"
is "$(status /raw.php --data-binary @"$T/upload.bin")" 500 \
    "a temp_dir only root can write fails the upload: bodies are written as nobody"
stop_pid "$WPID"

# group: an explicit group instead of the user's primary one
new_port
write_ini "$T/bodytmp" "group = www-data"
start_wharf_ini "$T/wharf.ini"
WWW_GID=$(getent group www-data | cut -d: -f3)
is "$(grep -E '^Gid:' /proc/$WPID/status | awk '{print $2,$3,$4,$5}')" "$WWW_GID $WWW_GID $WWW_GID $WWW_GID" \
    "group = www-data: wharf's gids are www-data's"
stop_pid "$WPID"

# TLS key readable by root only, and a git site: the key is read before the drop; git runs
# as nobody and the releases it makes belong to nobody
if command -v openssl >/dev/null && command -v git >/dev/null; then
    . "$(dirname "$0")/git-lib.sh"
    printf '[safe]\n\tdirectory = *\n' >>"$GIT_CONFIG_GLOBAL" # nobody reads root's repo
    chmod 644 "$GIT_CONFIG_GLOBAL"
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 \
        -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || bail "cannot make a certificate"
    chmod 600 "$T/key.pem"
    new_remote site main
    put site index.html "from git"
    push site c1
    chmod -R a+rX "$T/site.git"
    mkdir -p "$T/gsite"
    chown nobody "$T/gsite"
    new_port
    TLS_PORT=$(free_port)
    cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
tls_listen = 127.0.0.1:$TLS_PORT
tls_cert = $T/cert.pem
tls_key = $T/key.pem
user = nobody
error_log = $T/logs/error.log
[site default]
root = $T/www
[site git]
hosts = git.test
root = $T/gsite/live
git_repo = $T/site.git
git_interval = 0
INI
    start_wharf_ini "$T/wharf.ini"
    is "$(curl -s --cacert "$T/cert.pem" "https://localhost:$TLS_PORT/")" "static ok" \
        "TLS with a key only root can read: read before the drop, served after it"
    wait_until 15000 body_is / "from git" -H "Host: git.test"
    ok $? "a git site is deployed by git running as nobody"
    rel=$(readlink -f "$T/gsite/live")
    is "$(stat -c %U "$rel")" nobody "the release directory belongs to nobody"
    is "$(stat -c %U "$rel/index.html")" nobody "...and its files"
    is "$(find "$T/gsite" -not -user nobody | wc -l)" 0 "nothing wharf made for the git site belongs to root"
    stop_pid "$WPID"
fi

finish
