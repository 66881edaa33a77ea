#!/usr/bin/env bash
# build.sh: the two things a new user does on a fresh Debian 12 machine.
#   ./build.sh run    install what is missing, build, serve www/ on http://127.0.0.1:8080
#   ./build.sh test   install what is missing, build, run every test, print "N passed, N failed"
#   ./build.sh test-image  the container image test (slow: buildah, debootstrap; needs root):
#                     build the Containerfile's two targets, run them, test them from outside
# Extra arguments after "run" go to wharf (e.g. ./build.sh run --gzip --browse).
set -euo pipefail
cd "$(dirname "$0")"

# Build and runtime dependencies, and what the tests use (php-fpm, curl, python3, git, the real
# applications, goaccess to read the combined access log). WordPress itself is not installed
# (the package pulls in Apache): its e2e test fetches it with apt-get download; these are its
# other dependencies and a MariaDB the test runs privately (installing mariadb-server may start
# the system's own; the tests never use it). iproute2: `ss`, which e2e 83 reads sockets with.
PACKAGES=(build-essential autoconf automake libtool pkg-config
          libmicrohttpd-dev zlib1g-dev libinih-dev libfcgi-dev libgnutls28-dev libsystemd-dev
          libcurl4-gnutls-dev libcrypt-dev libbrotli-dev libzstd-dev systemd
          curl python3 python3-prometheus-client git php-fpm php-cli media-types dokuwiki openssl procps
          php-mysql php-gd libjs-underscore libjs-cropper php-getid3 mariadb-server mariadb-client
          goaccess python3-yaml tmux gnutls-bin apache2-utils whois zstd php-laravel-framework
          uacme pebble strace xz-utils patch iproute2)
# ./build.sh test-image: builds the Containerfile with buildah on a debootstrap-made Debian base
IMAGE_PACKAGES=(buildah debootstrap curl python3 git openssl)

install_deps() { # install_deps [PACKAGE...]: default PACKAGES
    local missing=() want=("$@")
    [ ${#want[@]} -gt 0 ] || want=("${PACKAGES[@]}")
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "build.sh: installing ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The Kubernetes manifests' test (e2e 74) validates them against the API's JSON schemas with
# kubernetes-models from npm (the schemas are bundled: no network at test time), pinned by
# tools/k8s-validate/package-lock.json. kubectl (kustomize v4 or later) renders them; Debian
# 12's kubernetes-client is too old for the overlay, so kubectl is not installed here.
install_node_tools() {
    [ -d tools/k8s-validate/node_modules/kubernetes-models ] && return 0
    if ! command -v npm >/dev/null; then
        local sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq nodejs npm >/dev/null
    fi
    echo "build.sh: installing tools/k8s-validate's npm packages" >&2
    (cd tools/k8s-validate && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

build() {
    [ -x configure ] || autoreconf -fi
    [ -f Makefile ] || ./configure --quiet
    make -j"$(nproc)" --no-print-directory
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
case "$cmd" in
run)
    install_deps
    build
    echo "build.sh: serving www/ (and www/demo.php through php-fpm) on http://127.0.0.1:8080 (Ctrl-C stops)" >&2
    exec ./src/wharf --root www --php "$@"
    ;;
test)
    install_deps
    install_node_tools
    build
    status=0
    make -j"$(nproc)" --no-print-directory check >/dev/null 2>&1 || status=$?
    make --no-print-directory check-summary || status=1
    exit $status
    ;;
test-image)
    install_deps "${IMAGE_PACKAGES[@]}"
    # TAP to the terminal and to tests/image/image.log; a missing plan, a bail-out or (with
    # WHARF_TEST_NO_SKIP=1) a skip counts as a failure
    log=tests/image/image.log
    status=0
    bash tests/image/image.sh 2>&1 | tee "$log" || status=1
    passed=$(grep -c '^ok ' "$log" || true)
    failed=$(grep -c '^not ok ' "$log" || true)
    if grep -q '^Bail out!' "$log" || ! grep -q '^1\.\.[0-9]' "$log"; then
        failed=$((failed + 1))
    elif grep -q '^1\.\.0 # SKIP' "$log" && [ "${WHARF_TEST_NO_SKIP:-0}" = 1 ]; then
        echo "skipped (counted as failed): tests/image/image.sh"
        failed=$((failed + 1))
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
    ;;
*)
    echo "usage: ./build.sh run [wharf options] | ./build.sh test | ./build.sh test-image" >&2
    exit 2
    ;;
esac
