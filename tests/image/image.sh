#!/usr/bin/env bash
# image.sh: the container image test (./build.sh test-image; slow, so not in `make check`).
# Without a registry and without a container runtime: a Debian bookworm base made with
# debootstrap from the machine's own Debian mirror and imported into buildah (kept as the
# image $BASE_IMAGE, so later runs skip this), both targets of the Containerfile built FROM it
# with `buildah build --isolation chroot`, then wharf and php-fpm run from those images with
# `buildah run --isolation chroot` on the host network (loopback ports), the configuration and
# the volumes bind-mounted in, and tested from outside: the welcome page, a PHP page through
# the php-fpm image, a git deploy (webhook) into the mounted volume, /readyz and /metrics, logs
# on stdout/stderr, and nothing written outside the volumes. Needs root, buildah, debootstrap.
# Prints TAP; every process it starts is stopped by PID (lib.sh), its containers removed.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/git-lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (buildah, debootstrap)"
command -v buildah >/dev/null || skip_all "buildah is not installed"
command -v openssl >/dev/null || skip_all "openssl is not installed"

BASE_IMAGE=${WHARF_IMAGE_BASE:-localhost/wharf-test-base:bookworm}
IMAGE=localhost/wharf:test
FPM_IMAGE=localhost/wharf-php-fpm:test
CACHE="$SRCDIR/tests/cache"
UID_IMG=10001
SECRET=image-test-secret
# buildah's default ulimits cannot be applied on these machines
printf '[containers]\ndefault_ulimits = []\n' >"$T/containers.conf"
export CONTAINERS_CONF="$T/containers.conf"
CTRS=()
# php-fpm in a `buildah run` container: its master (uid 10001, the images' only user) gets
# SIGQUIT, the image's STOPSIGNAL, so it stops its workers; killing the buildah process alone
# leaves the master's workers behind
stop_fpm_master() {
    local m
    m=$(pgrep -u "$UID_IMG" -f 'php-fpm: master process' -n) || return 0
    kill -QUIT "$m" 2>/dev/null
    wait_until 10000 sh -c "! kill -0 $m 2>/dev/null"
}
cleanup_ctrs() { # before lib.sh's cleanup, which removes $T (and containers.conf with it)
    local c p
    stop_fpm_master
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for c in "${CTRS[@]}"; do buildah rm "$c" >/dev/null 2>&1; done
}
trap 'cleanup_ctrs; cleanup' EXIT

# debian_mirror: the Debian archive this machine's apt uses (not the security archive)
debian_mirror() {
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        2>/dev/null | sed -n -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([a-z]*:[^ ]*\) .*/\2/p' \
        -e 's/^URIs: *\([^ ]*\).*/\1/p' | grep -v security | head -1)
    echo "${m:-http://deb.debian.org/debian}"
}

# ---- the Debian base, made once --------------------------------------------------------------
secs() { echo $(($(date +%s) - $1)); }
t0=$(date +%s)
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    ok 0 "Debian base image $BASE_IMAGE (kept from an earlier run)"
else
    command -v debootstrap >/dev/null || skip_all "debootstrap is not installed"
    mkdir -p "$CACHE"
    rootfs="$CACHE/bookworm-rootfs"
    rm -rf "$rootfs"
    mirror=$(debian_mirror)
    echo "# debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$T/debootstrap.log" 2>&1 ||
        { tail -20 "$T/debootstrap.log" | sed 's/^/# /'; bail "debootstrap failed"; }
    c=$(buildah from scratch) && CTRS+=("$c") && m=$(buildah mount "$c") &&
        tar -C "$rootfs" -cf - . | tar -C "$m" -xpf - && buildah unmount "$c" >/dev/null &&
        buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            --cmd /bin/bash "$c" &&
        buildah commit -q "$c" "$BASE_IMAGE" >/dev/null
    ok $? "Debian base image $BASE_IMAGE from a debootstrap tree ($(secs "$t0") s)"
    rm -rf "$rootfs"
fi

# ---- build both targets ------------------------------------------------------------------------
build() { # build LOG ARGS...: buildah build of the Containerfile FROM the local base
    local log=$1
    shift
    buildah build --isolation chroot --layers --build-arg BASE="$BASE_IMAGE" \
        -f "$SRCDIR/Containerfile" "$@" "$SRCDIR" >"$log" 2>&1 ||
        { tail -30 "$log" | sed 's/^/# /'; return 1; }
}
t0=$(date +%s)
build "$T/build-wharf.log" -t "$IMAGE"
ok $? "buildah build: the wharf image (default target) ($(secs "$t0") s)"
t0=$(date +%s)
build "$T/build-fpm.log" --target php-fpm -t "$FPM_IMAGE"
ok $? "buildah build --target php-fpm: the php-fpm image ($(secs "$t0") s)"
buildah inspect --type image "$IMAGE" >/dev/null 2>&1 || bail "no wharf image"
buildah inspect --type image "$FPM_IMAGE" >/dev/null 2>&1 || bail "no php-fpm image"

cfg() { buildah inspect --type image --format "$2" "$1"; }
is "$(cfg "$IMAGE" '{{.OCIv1.Config.User}}')" "$UID_IMG:$UID_IMG" "wharf image runs as uid $UID_IMG (non-root, numeric for runAsNonRoot)"
is "$(cfg "$FPM_IMAGE" '{{.OCIv1.Config.User}}')" "$UID_IMG:$UID_IMG" "php-fpm image runs as the same uid"
is "$(cfg "$IMAGE" '{{range $k, $v := .OCIv1.Config.ExposedPorts}}{{$k}} {{end}}')" "8080/tcp 9180/tcp " "wharf image exposes 8080 and 9180"
is "$(cfg "$IMAGE" '{{range $k, $v := .OCIv1.Config.Volumes}}{{$k}} {{end}}')" "/tmp /var/lib/wharf " "wharf image volumes: /tmp and /var/lib/wharf"
is "$(cfg "$IMAGE" '{{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.Cmd}}')" \
    "[/usr/bin/wharf] [--config /etc/wharf/wharf.ini]" "wharf image starts wharf with /etc/wharf/wharf.ini"

c=$(buildah from --pull-never "$IMAGE") && CTRS+=("$c")
out=$(buildah run --isolation chroot --network host "$c" -- /usr/bin/wharf --config /etc/wharf/wharf.ini --test 2>&1)
rc=$?
ok $rc "the image's own /etc/wharf/wharf.ini passes wharf --test"
[ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
like "$(buildah run --isolation chroot --network host "$c" -- cat /etc/wharf/wharf.ini)" \
    'error_log = -' "the image's wharf.ini logs to standard error"

# ---- the volumes, the repository, the configuration -------------------------------------------
mkdir -p "$T/lib" "$T/tmp" "$T/fpm-tmp"
chown "$UID_IMG:$UID_IMG" "$T/lib" "$T/tmp" "$T/fpm-tmp"
chmod 1777 "$T/tmp" "$T/fpm-tmp"
new_remote remote
put remote index.html "v1"
put remote info.php '<?php
printf("php %s uid=%s opcache=%s file=%s\n", PHP_MAJOR_VERSION . "." . PHP_MINOR_VERSION,
    function_exists("posix_geteuid") ? posix_geteuid() : "?",
    (function_exists("opcache_get_status") && opcache_get_status(false) !== false) ? "on" : "off",
    __FILE__);'
push remote "c1"
SHA1=$SHA
# the repository is a volume of its own, owned by the image's user like the others (and still
# pushed to from here, as root)
git config --global --add safe.directory '*'
chown -R "$UID_IMG:$UID_IMG" "$T/remote.git"

PORT=$(free_port)
ADMIN=$(free_port)
FPM=$(free_port)
cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
admin_listen = 127.0.0.1:$ADMIN
error_log = -
error_log_format = json
temp_dir = /tmp

[site welcome]
root = /usr/share/wharf/www
access_log = -
access_log_format = json

[site app]
hosts = app.test
root = /var/lib/wharf/app
git_repo = /srv/repo.git
git_interval = 0
git_hook = /_hook
git_secret = $SECRET
fastcgi = 127.0.0.1:$FPM
access_log = -
access_log_format = json
INI

# run_in IMAGE OUT ERR OPTIONS... -- CMD...: a working container of IMAGE, CMD run in it with
# buildah run OPTIONS (host network) in the background; sets RUN_PID (buildah's) and RUN_CTR
run_in() {
    local img=$1 out=$2 err=$3 opts=()
    shift 3
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    RUN_CTR=$(buildah from --pull-never "$img") || bail "buildah from $img failed"
    CTRS+=("$RUN_CTR")
    # buildah 1.28 loses a -v bind over the image's VOLUME /var/lib/wharf when /tmp (a VOLUME
    # too) is bound as well: every volume is bound explicitly here, so the working container
    # drops the declarations (the image keeps them)
    buildah config --volume /tmp- --volume /var/lib/wharf- "$RUN_CTR" || bail "buildah config failed"
    buildah run --isolation chroot --network host "${opts[@]}" "$RUN_CTR" "$@" >"$out" 2>"$err" &
    RUN_PID=$!
    PIDS+=("$RUN_PID")
}
# ---- php-fpm, then wharf --------------------------------------------------------------------
run_in "$FPM_IMAGE" "$T/fpm.out" "$T/fpm.err" --env PHP_FPM_LISTEN="127.0.0.1:$FPM" \
    -v "$T/lib:/var/lib/wharf" -v "$T/fpm-tmp:/tmp" -- \
    /usr/sbin/php-fpm8.2 --nodaemonize --force-stderr --fpm-config /etc/php/8.2/fpm/php-fpm.conf
FPM_PID=$RUN_PID
fpm_up() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=1).close()' "$FPM" 2>/dev/null; }
wait_until 30000 fpm_up
ok $? "php-fpm (php-fpm image) listens on 127.0.0.1:$FPM"

touch "$T/marker"
sleep 1 # mtime granularity for the read-only check below
run_in "$IMAGE" "$T/wharf.out" "$T/wharf.err" \
    -v "$T/wharf.ini:/etc/wharf/wharf.ini:ro" -v "$T/lib:/var/lib/wharf" -v "$T/tmp:/tmp" \
    -v "$T/remote.git:/srv/repo.git:ro" -- /usr/bin/wharf --config /etc/wharf/wharf.ini
WHARF_CTR=$RUN_CTR
WHARF_PID=$RUN_PID
wait_for_http "$(URL /)" 30
ok $? "wharf (wharf image) answers on 127.0.0.1:$PORT"

# ---- the welcome page, health, metrics ---------------------------------------------------------
is "$(status /)" 200 "welcome page: 200"
like "$(body /)" '<title>Welcome to wharf' "welcome page: the image's /usr/share/wharf/www"
AURL() { echo "http://127.0.0.1:$ADMIN$1"; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$(AURL /readyz)")" = 200 ]; }
wait_until 30000 ready
ok $? "/readyz on admin_listen: 200 once the first deploy is live"
like "$(curl -s "$(AURL /livez)")" '"live":true' "/livez on admin_listen: live"
M=$(curl -s "$(AURL /metrics)")
like "$M" '^wharf_build_info\{version="[^"]+",libmicrohttpd="[^"]+"\} 1' "/metrics: wharf_build_info"
like "$M" 'wharf_http_requests_total\{site="welcome",method="GET",code="2xx"\} [1-9]' "/metrics: counts the welcome page requests"

# ---- a git deploy into the mounted volume, PHP through php-fpm ------------------------------
app() { curl -s -H 'Host: app.test' "$(URL "$1")"; }
app_is() { [ "$(app "$1")" = "$2" ]; }
wait_until 30000 app_is / v1
is "$(app /)" v1 "git deploy at start: commit c1 is live"
rel1=$(ls "$T/lib/.app.wharf/releases" 2>/dev/null | head -1)
like "$rel1" "^[0-9]{6}-[0-9]{8}T[0-9]{6}Z-${SHA1:0:12}\$" "the release is in the mounted volume (/var/lib/wharf/.app.wharf/releases/$rel1)"
is "$(stat -c %u "$T/lib/.app.wharf/releases/$rel1" 2>/dev/null)" "$UID_IMG" "the release is owned by uid $UID_IMG"
P=$(app /info.php)
like "$P" "^php 8\.2 uid=$UID_IMG opcache=on file=/var/lib/wharf/\.app\.wharf/releases/$rel1/info\.php\$" \
    "PHP page through the php-fpm image: uid $UID_IMG, OPcache on, the same path in both containers"

put remote index.html "v2"
push remote "c2"
SHA2=$SHA
chown -R "$UID_IMG:$UID_IMG" "$T/remote.git"
printf '{"ref":"refs/heads/main","before":"%s","after":"%s","repository":{"full_name":"e2e/site","default_branch":"main"}}' \
    "$SHA1" "$SHA2" >"$T/push.json"
sig=$(openssl dgst -sha256 -hmac "$SECRET" -r <"$T/push.json" | cut -c1-64)
code=$(curl -s -o "$T/hook.out" -w '%{http_code}' -X POST -H 'Host: app.test' \
    -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
    -H "X-Hub-Signature-256: sha256=$sig" --data-binary @"$T/push.json" "$(URL /_hook)")
like "$code" '^20[02]$' "signed push webhook accepted ($code)"
wait_until 30000 app_is / v2
is "$(app /)" v2 "after the webhook, commit c2 is live"
like "$(app /info.php)" "file=/var/lib/wharf/\.app\.wharf/releases/[0-9]{6}-[0-9]{8}T[0-9]{6}Z-${SHA2:0:12}/info\.php\$" \
    "PHP runs the new release's file"

# ---- logs on stdout / stderr ---------------------------------------------------------------
wait_grep "$T/wharf.out" '"status":200' 5
ok $? "access log (JSON) on standard output"
like "$(cat "$T/wharf.err")" '"message":"wharf [^"]* ready' "error log (JSON) on standard error"

# ---- stop; nothing written outside the volumes -----------------------------------------------
stop_pid "$WHARF_PID"
stop_fpm_master
stop_pid "$FPM_PID"
! pgrep -u "$UID_IMG" -f 'php-fpm' >/dev/null
ok $? "php-fpm stopped by SIGQUIT (the image's STOPSIGNAL), its workers with it"
wait_until 10000 eval '! curl -s -o /dev/null --max-time 1 "$(URL /)"'
ok $? "wharf stopped with its buildah run process"
mnt=$(buildah mount "$WHARF_CTR")
written=$(cd "$mnt" && find . -xdev -newer "$T/marker" ! -path ./tmp ! -path ./var/lib/wharf \
    ! -path ./srv/repo.git ! -path ./srv ! -path ./etc/wharf/wharf.ini ! -path ./etc/hosts \
    ! -path ./etc/resolv.conf ! -path ./etc/hostname ! -path ./run ! -path ./run/.containerenv \
    ! -path . ! -path ./etc 2>/dev/null | head -5)
buildah unmount "$WHARF_CTR" >/dev/null 2>&1
is "$written" "" "wharf wrote nothing outside its volumes (a read-only root filesystem works)"
