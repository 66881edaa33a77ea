# lib.sh: the end-to-end harness, sourced by tests/e2e/NN-*.sh. Each test gets a temp dir and a
# free loopback port, starts the real wharf binary ($WHARF) with flags or a generated INI,
# waits for readiness by probing (never a fixed sleep), talks to it with curl or python3, and
# prints TAP. Every process it starts is recorded and killed by PID on exit.
set -u

WHARF=${WHARF:-$(cd "$(dirname "$0")/../.." && pwd)/src/wharf}
SRCDIR=${WHARF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/wharf-e2e.XXXXXX")
PIDS=()
TAP_N=0
TAP_FAILED=0

cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    echo "1..$TAP_N"
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

ok() { # ok CONDITION-STATUS NAME  (pass "$?" style: 0 = pass)
    TAP_N=$((TAP_N + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $TAP_N - $2"
    else
        echo "not ok $TAP_N - $2"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

is() { # is GOT WANT NAME
    TAP_N=$((TAP_N + 1))
    if [ "$1" = "$2" ]; then
        echo "ok $TAP_N - $3"
    else
        echo "not ok $TAP_N - $3"
        printf '#   got:  %s\n#   want: %s\n' "$(printf %s "$1" | head -c 600)" "$(printf %s "$2" | head -c 600)"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

like() { # like GOT REGEX NAME
    TAP_N=$((TAP_N + 1))
    if printf '%s' "$1" | grep -Eq -- "$2"; then
        echo "ok $TAP_N - $3"
    else
        echo "not ok $TAP_N - $3"
        printf '#   got:  %s\n#   want match: %s\n' "$(printf %s "$1" | head -c 600)" "$2"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

unlike() { # unlike GOT REGEX NAME
    TAP_N=$((TAP_N + 1))
    if printf '%s' "$1" | grep -Eq -- "$2"; then
        echo "not ok $TAP_N - $3"
        printf '#   got:  %s\n#   must not match: %s\n' "$(printf %s "$1" | head -c 600)" "$2"
        TAP_FAILED=$((TAP_FAILED + 1))
    else
        echo "ok $TAP_N - $3"
    fi
}

bail() {
    echo "Bail out! $*"
    exit 1
}

skip_all() { # missing tool: skip (CI turns skips into failures)
    echo "1..0 # SKIP $*"
    trap - EXIT
    rm -rf "$T"
    exit 0
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_http URL [SECONDS]: poll until the server answers anything.
wait_for_http() {
    local url=$1 secs=${2:-10} i
    for ((i = 0; i < secs * 20; i++)); do
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.05
    done
    return 1
}

# start_wharf ARGS...: start wharf on a fresh port ($PORT), stderr to $T/wharf.err; sets WPID.
start_wharf() {
    PORT=$(free_port)
    "$WHARF" --listen "127.0.0.1:$PORT" "$@" 2>>"$T/wharf.err" &
    WPID=$!
    PIDS+=("$WPID")
    wait_for_http "http://127.0.0.1:$PORT/" 10 || {
        cat "$T/wharf.err" >&2
        bail "wharf did not start: $*"
    }
}

# start_wharf_ini FILE: as start_wharf, with a config file whose listen line uses $PORT.
start_wharf_ini() {
    "$WHARF" --config "$1" 2>>"$T/wharf.err" &
    WPID=$!
    PIDS+=("$WPID")
    wait_for_http "http://127.0.0.1:$PORT/" 10 || {
        cat "$T/wharf.err" >&2
        bail "wharf did not start with $1"
    }
}

stop_pid() { # stop_pid PID: SIGTERM and wait
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

URL() { echo "http://127.0.0.1:$PORT$1"; }

# status URL [curl args]: the HTTP status code only
status() {
    local u=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --path-as-is "$@" "$(URL "$u")"
}

# headers URL [curl args]: response headers (CRs stripped), body discarded
headers() {
    local u=$1
    shift
    curl -s -D - -o /dev/null --path-as-is "$@" "$(URL "$u")" | tr -d '\r'
}

body() {
    local u=$1
    shift
    curl -s --path-as-is "$@" "$(URL "$u")"
}

# header_value NAME < headers
header_value() {
    grep -i "^$1:" | head -1 | sed 's/^[^:]*: *//'
}

raw() { # raw 'REQUEST-BYTES (with \r\n escapes)': prints the response's status line
    python3 -c '
import socket, sys
port = int(sys.argv[1]); req = sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(req)
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
        if b"\r\n\r\n" in out and sys.argv[3] == "head": break
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
' "$PORT" "$1" "${2:-all}"
}

finish() {
    exit $((TAP_FAILED > 0))
}

# ---- small helpers the tests share ------------------------------------------------------------

sha() { sha256sum | cut -d' ' -f1; }        # sha < DATA: hex SHA-256 of stdin
fsha() { sha256sum <"$1" | cut -d' ' -f1; } # fsha FILE: hex SHA-256 of FILE
code() { head -1 | cut -d' ' -f2; }         # code < RESPONSE: the status of its status line
# gunz < GZIP: the decompressed bytes (nothing when the input is not gzip)
gunz() { python3 -c 'import gzip, sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))' 2>/dev/null; }
# nbytes URL [curl args]: body bytes received (the shell would drop trailing newlines)
nbytes() {
    local u=$1
    shift
    curl -s --path-as-is -o /dev/null -w '%{size_download}' "$@" "$(URL "$u")"
}
# within VALUE LO HI: LO <= VALUE < HI (decimals allowed)
within() { awk -v t="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(t >= lo && t < hi) }'; }
new_port() { PORT=$(free_port); } # a fresh $PORT for the next generated INI
restart_with() { # restart_with INI: stop the running wharf (if any), start with INI
    [ -n "${WPID:-}" ] && stop_pid "$WPID"
    start_wharf_ini "$1"
}

# ---- php-fpm --------------------------------------------------------------------------------

# find_fpm: print the php-fpm binary (php-fpm or php-fpmX.Y in PATH or /usr/sbin), or nothing.
find_fpm() {
    local p
    for p in php-fpm $(ls /usr/sbin/php-fpm* /usr/local/sbin/php-fpm* 2>/dev/null | sort -r); do
        command -v "$p" 2>/dev/null && return 0
    done
    return 1
}

# start_fpm NAME LISTEN [EXTRA-POOL-LINES]: a private php-fpm (pm = static, 4 children) listening
# on LISTEN (a unix socket path or 127.0.0.1:PORT), its files in $T/fpm-NAME/; sets FPM_PID.
# Extra lines (e.g. "security.limit_extensions = .php .jpg" or "pm.max_children = 2") go into
# the pool section and override the defaults. Skips the whole test when php-fpm is missing.
start_fpm() {
    local name=$1 listen=$2 extra=${3:-} bin dir i
    bin=$(find_fpm) || skip_all "php-fpm is not installed"
    dir="$T/fpm-$name"
    mkdir -p "$dir"
    {
        printf '[global]\npid = %s/fpm.pid\nerror_log = %s/fpm.log\ndaemonize = no\n' "$dir" "$dir"
        printf '[%s]\nlisten = %s\n' "$name" "$listen"
        printf 'pm = static\ncatch_workers_output = yes\ndecorate_workers_output = no\n'
        printf 'clear_env = no\n'
        if ! printf '%s\n' "$extra" | grep -q '^pm.max_children'; then
            printf 'pm.max_children = 4\n'
        fi
        printf '%s\n' "$extra"
    } >"$dir/fpm.conf"
    local root_flag=()
    [ "$(id -u)" -eq 0 ] && root_flag=(--allow-to-run-as-root)
    "$bin" --nodaemonize --fpm-config "$dir/fpm.conf" "${root_flag[@]}" 2>>"$dir/fpm.log" &
    FPM_PID=$!
    PIDS+=("$FPM_PID")
    for ((i = 0; i < 200; i++)); do
        if [ "${listen#/}" != "$listen" ]; then
            [ -S "$listen" ] && return 0
        else
            python3 -c 'import socket,sys; h,p=sys.argv[1].rsplit(":",1); socket.create_connection((h,int(p)),timeout=1).close()' "$listen" 2>/dev/null && return 0
        fi
        kill -0 "$FPM_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$dir/fpm.log" >&2
    bail "php-fpm $name did not start on $listen"
}

# ---- bounded polling ------------------------------------------------------------------------

now_ms() { date +%s%3N; }

# wait_until MS CMD...: run CMD until it succeeds or MS milliseconds have passed
wait_until() {
    local end=$(($(now_ms) + $1))
    shift
    while :; do
        "$@" && return 0
        [ "$(now_ms)" -ge "$end" ] && return 1
        sleep 0.05
    done
}

# holds_for MS CMD...: CMD keeps succeeding for MS milliseconds (a bounded negative check)
holds_for() {
    local end=$(($(now_ms) + $1))
    shift
    while [ "$(now_ms)" -lt "$end" ]; do
        "$@" || return 1
        sleep 0.1
    done
    "$@"
}

body_is() { [ "$(body "$1" "${@:3}")" = "$2" ]; }     # body_is PATH WANT [curl args]
status_is() { [ "$(status "$1" "${@:3}")" = "$2" ]; } # status_is PATH CODE [curl args]
has_line() { grep -Pq -- "$2" "$1" 2>/dev/null; }     # has_line FILE PCRE
# wait_grep FILE PCRE [SECONDS]: FILE gets a line matching PCRE within SECONDS (default 5)
wait_grep() { wait_until $((${3:-5} * 1000)) has_line "$1" "$2"; }
# wait_file FILE [SECONDS]: FILE exists within SECONDS (default 5)
wait_file() { wait_until $((${2:-5} * 1000)) test -e "$1"; }
