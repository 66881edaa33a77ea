#!/usr/bin/env bash
# bench/run.sh - compare wharf with nginx, h2o and lighttpd on static content and, through one
# php-fpm pool, on PHP (h2o and lighttpd when installed or installable, and a FastCGI-direct
# ceiling). Prints a Markdown table and writes it to bench/results/latest.md; every wrk
# output and idle-test result goes to bench/results/latest.log.
#
# Environment:
#   ROUNDS=3        interleaved rounds per scenario (wharf, nginx, [h2o, direct,] wharf, ...)
#   DURATION=8      seconds per wrk run (a 1 s warm-up precedes each run)
#   SCENARIOS="1 2 3 4 5 6 7 8 9 10 11 12"   subset to run; "static" = 1-6 and 11,
#                   "php" = 7-10 and 12
#   IDLE_CONNS=5000 connections for the idle keep-alive RSS test (scenario 6)
#   WHARF=src/wharf NGINX=nginx PHP_FPM=php-fpm8.2 H2O=h2o LIGHTTPD=lighttpd   binaries
#                   (H2O=0 / LIGHTTPD=0: leave that server out; unset: use it from PATH, or
#                   apt-get install it when running as root)
#   FCGI_CONNS=4    php-fpm's pm.max_children = wharf's fastcgi_max_conns and keep_conns =
#                   nginx's 2 workers x upstream keepalive 2 = fcgi_load's connections
#   PHP_RAMP=2      seconds the slow.php load runs before the static measurement (scenario 9)
#   KEEP_TMP=1      keep the temp dir (docroot, configs, server logs)
#   WRK_CPU=1       wrk runs pinned to that CPU (taskset) with one thread unless WRK_THREADS
#                   says otherwise: the set-up of issue 14, and the default; WRK_CPU=none: not
#                   pinned, wrk -t2 (the tables before change 10 in docs/benchmarks.md)
#   WRK_THREADS=1   wrk's threads (scenarios 1-8, 11 and 12)
#   GZIP_STATIC=1   also put a precompressed page.html.gz (gzip -6) in the docroot and turn on
#                   nginx's gzip_static (wharf serves FILE.gz itself); default: both compress
#
# Scenarios: 1) 1 KiB file, 64 conns  2) 100 KiB file, 64 conns  3) 10 MiB file, 16 conns
# 4) 1 KiB file, 1000 keep-alive conns  5) gzip of a 100 KiB HTML page, 64 conns
# 6) RSS with IDLE_CONNS idle keep-alive connections
# 7) hello.php, 64 conns  8) table.php (~5 KiB HTML table), 64 conns: wharf, nginx, h2o and
#    "direct" (bench/fcgi_load.c: FCGI_CONNS kept-alive FastCGI connections straight to php-fpm,
#    no HTTP front end = the ceiling); front server and php-fpm CPU-s per 1000 requests
# 11) 1 KiB file, 64 conns, access log on  12) hello.php, 64 conns, access log on (each
#    server's own default line format and buffering, to a file in the temp dir, removed after
#    each run; wharf: timed_combined, nginx/lighttpd/h2o: combined)
# 9) static 1 KiB file at 64 conns (wrk -t1), first alone, then while 200 connections hammer
#    slow.php (usleep 200 ms; 4 children = 20 req/s, so ~200 requests always queued)
# 10) flush.php (60 kB in 12 flushed pieces), 16 conns, through php-fpm on 127.0.0.1:PORT
#    (TCP: each flush is a small segment, and a delayed ACK stalls the next one): wharf, nginx
# Each server is started fresh for every run (so VmHWM is that run's peak) on 127.0.0.1
# with its own config; the system nginx/h2o/lighttpd services are never touched. Each runs
# its own defaults where they matter: h2o 2 threads, lighttpd its one process (1.4's
# default; server.stat-cache-engine "simple", i.e. a file is stat()ed at most once a
# second), nginx 2 workers without open_file_cache, wharf one worker per CPU (static) or
# per two CPUs (a site with PHP). PHP runs also get a
# fresh private php-fpm (pm = static, FCGI_CONNS children, OPcache on, unix socket in the temp
# dir) and exactly one front end at a time: kept FastCGI connections pin php-fpm children, so
# two keep-alive clients must never share a pool (docs/design-notes.md §2, problem 7).
# Deploy under load (git webhooks, mixed-version check, push-to-live latency): bench/deploy.sh.
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(dirname "$BENCH_DIR")
RESULTS_DIR=$BENCH_DIR/results

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
DURATION=${DURATION%s}
SCENARIOS=${SCENARIOS:-1 2 3 4 5 6 7 8 9 10 11 12}
IDLE_CONNS=${IDLE_CONNS:-5000}
WHARF=${WHARF:-$TOP_DIR/src/wharf}
FCGI_CONNS=${FCGI_CONNS:-4}
PHP_RAMP=${PHP_RAMP:-2}
WRK_CPU=${WRK_CPU:-$( (($(nproc) > 1)) && echo 1 || echo none)}
[[ $WRK_CPU == none ]] && WRK_CPU=
WRK_THREADS=${WRK_THREADS:-$([[ -n $WRK_CPU ]] && echo 1 || echo 2)}
WRK=(wrk)
[[ -n $WRK_CPU ]] && WRK=(taskset -c "$WRK_CPU" wrk)
SERVERS=(wharf nginx)    # + h2o and lighttpd when available (ensure_deps)
PHP_FRONTS=(wharf nginx) # + h2o and lighttpd when available (setup_php)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be whole seconds (e.g. 8 or 8s)"
[[ $IDLE_CONNS =~ ^[1-9][0-9]*$ ]] || die "IDLE_CONNS must be a positive integer"
[[ $FCGI_CONNS =~ ^[1-9][0-9]*$ ]] || die "FCGI_CONNS must be a positive integer"
[[ $PHP_RAMP =~ ^[0-9]+$ ]] || die "PHP_RAMP must be whole seconds"
[[ -z $WRK_CPU || $WRK_CPU =~ ^[0-9]+$ ]] || die "WRK_CPU must be a CPU number (e.g. 1) or none"
[[ -z $WRK_CPU || $WRK_CPU -lt $(nproc) ]] || die "WRK_CPU=$WRK_CPU: this machine has $(nproc) CPUs"
[[ $WRK_THREADS =~ ^[1-9][0-9]*$ ]] || die "WRK_THREADS must be a positive integer"

# "static" and "php" stand for their scenario numbers; check every name before starting
expanded=
for s in $SCENARIOS; do
    case $s in
    static) expanded+=" 1 2 3 4 5 6 11" ;;
    php) expanded+=" 7 8 9 10 12" ;;
    [1-9] | 1[012]) expanded+=" $s" ;;
    *) die "unknown scenario '$s' (use 1-12, static or php)" ;;
    esac
done
SCENARIOS=${expanded# }
NEED_PHP=
[[ " $SCENARIOS " == *" "[789]" "* || " $SCENARIOS " == *" 1"[02]" "* ]] && NEED_PHP=1

# ---------------------------------------------------------------- dependencies
ensure_deps() {
    local pkgs=()
    command -v wrk >/dev/null || pkgs+=(wrk)
    command -v python3 >/dev/null || pkgs+=(python3)
    command -v curl >/dev/null || pkgs+=(curl)
    command -v gzip >/dev/null || pkgs+=(gzip)
    if [[ -z ${NGINX:-} ]]; then
        NGINX=$(command -v nginx || true)
        [[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
        [[ -z $NGINX ]] && pkgs+=(nginx-light)
    fi
    if [[ -n $NEED_PHP ]]; then
        [[ -z ${PHP_FPM:-} ]] && PHP_FPM=$(find_fpm)
        [[ -z $PHP_FPM ]] && pkgs+=(php-fpm)
        command -v cc >/dev/null || pkgs+=(gcc libc6-dev)
        [[ -f /usr/include/fastcgi.h ]] || pkgs+=(libfcgi-dev)
    fi
    if ((${#pkgs[@]})); then
        [[ $(id -u) -eq 0 ]] || die "missing ${pkgs[*]}; install them (apt-get install -y ${pkgs[*]})"
        log "installing ${pkgs[*]}"
        apt-get update >&2 || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >&2 || die "apt-get install failed"
        if [[ -z ${NGINX:-} ]]; then
            NGINX=$(command -v nginx || echo /usr/sbin/nginx)
        fi
        [[ -n $NEED_PHP && -z ${PHP_FPM:-} ]] && PHP_FPM=$(find_fpm)
    fi
    [[ -x $NGINX ]] || die "nginx not found at $NGINX"
    [[ -x $WHARF ]] || die "wharf binary $WHARF not found; build it: make -j2 src/wharf"
    [[ -n $NEED_PHP ]] && { [[ -n $PHP_FPM && -x $PHP_FPM ]] || die "php-fpm not found (set PHP_FPM)"; }
    ensure_h2o
    ensure_lighttpd
}

# php-fpm or php-fpmX.Y in PATH or /usr/sbin (newest first)
find_fpm() {
    local p
    for p in php-fpm $(ls /usr/sbin/php-fpm* /usr/local/sbin/php-fpm* 2>/dev/null | sort -r); do
        command -v "$p" 2>/dev/null && return 0
    done
    return 0
}

# h2o is optional: H2O=0 leaves it out; otherwise use it from PATH or install Debian's package
# (as root). Debian's policy-rc.d normally stops the package from starting its service; if one
# was started anyway, it is stopped by PID (only processes that appeared with the install).
H2O_NOTE=
ensure_h2o() {
    if [[ ${H2O:-} == 0 ]]; then
        H2O='' H2O_NOTE="h2o left out (H2O=0)"
        return 0
    fi
    [[ -z ${H2O:-} ]] && H2O=$(command -v h2o || true)
    if [[ -z $H2O && $(id -u) -eq 0 ]]; then
        local before after pid
        before=" $(pgrep -x h2o | tr '\n' ' ') "
        log "installing h2o (optional third front end)"
        if DEBIAN_FRONTEND=noninteractive apt-get install -y h2o >&2 ||
            { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y h2o >&2; }; then
            H2O=$(command -v h2o || true)
            after=$(pgrep -x h2o || true)
            for pid in $after; do
                if [[ $before != *" $pid "* ]]; then
                    log "stopping the h2o service process $pid that the package started"
                    kill -TERM "$pid" 2>/dev/null
                    H2O_NOTE="the h2o package started a service (pid $pid); it was stopped by PID"
                fi
            done
        fi
    fi
    if [[ -z $H2O || ! -x $H2O ]]; then
        H2O='' H2O_NOTE="h2o left out: not installed and not installable here"
        log "$H2O_NOTE"
    fi
    return 0
}

# lighttpd is optional as h2o is: LIGHTTPD=0 leaves it out; otherwise from PATH or /usr/sbin,
# or Debian's package (as root; a service it started is stopped by PID)
LIGHTTPD_NOTE=
ensure_lighttpd() {
    if [[ ${LIGHTTPD:-} == 0 ]]; then
        LIGHTTPD='' LIGHTTPD_NOTE="lighttpd left out (LIGHTTPD=0)"
        return 0
    fi
    [[ -z ${LIGHTTPD:-} ]] && LIGHTTPD=$(command -v lighttpd || true)
    [[ -z $LIGHTTPD && -x /usr/sbin/lighttpd ]] && LIGHTTPD=/usr/sbin/lighttpd
    if [[ -z $LIGHTTPD && $(id -u) -eq 0 ]]; then
        local before after pid
        before=" $(pgrep -x lighttpd | tr '\n' ' ') "
        log "installing lighttpd (optional front end)"
        if DEBIAN_FRONTEND=noninteractive apt-get install -y lighttpd >&2 ||
            { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y lighttpd >&2; }; then
            LIGHTTPD=$(command -v lighttpd || echo /usr/sbin/lighttpd)
            after=$(pgrep -x lighttpd || true)
            for pid in $after; do
                if [[ $before != *" $pid "* ]]; then
                    log "stopping the lighttpd service process $pid that the package started"
                    kill -TERM "$pid" 2>/dev/null
                    LIGHTTPD_NOTE="the lighttpd package started a service (pid $pid); it was stopped by PID"
                fi
            done
        fi
    fi
    if [[ -z $LIGHTTPD || ! -x $LIGHTTPD ]]; then
        LIGHTTPD='' LIGHTTPD_NOTE="lighttpd left out: not installed and not installable here"
        log "$LIGHTTPD_NOTE"
    fi
    return 0
}

raise_fd_limit() {
    local hard want=20000
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < want)); then
        ulimit -Hn "$want" 2>/dev/null && hard=$want
    fi
    [[ $hard == unlimited ]] && hard=$want
    ((hard > want)) && hard=$want
    ulimit -Sn "$hard" 2>/dev/null || true
    (($(ulimit -Sn) >= 2100)) || die "open-file limit $(ulimit -Sn) too low for 1000 connections"
    (($(ulimit -Sn) >= IDLE_CONNS + 100)) ||
        log "warning: open-file limit $(ulimit -Sn) is below IDLE_CONNS=$IDLE_CONNS + 100"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# nginx.conf.in -> OUT with the PHP includes HTTP_INC and SERVER_INC; LOG "log" turns the
# access log on
gen_nginx() { # out http_inc server_inc [log]
    local access='access_log off;'
    [[ ${4:-} == log ]] && access="access_log $ACCESS_DIR/nginx-access.log combined;"
    sed -e "s|@TMP@|$TMP|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@ROOT@|$DOCROOT|g" \
        -e "s|@GZIP_STATIC@|$NGINX_GZIP_STATIC|g" -e "s|@PHP_HTTP@|$2|g" \
        -e "s|@PHP_SERVER@|$3|g" -e "s|@ACCESS_LOG@|$access|g" \
        "$BENCH_DIR/nginx.conf.in" >"$1"
    "$NGINX" -t -q -e "$TMP/nginx-error.log" -p "$TMP/" -c "$1" || die "nginx config test failed ($1)"
}

# h2o.conf and h2o-log.conf: 2 threads (as many as wharf's workers), file handler, gzip on the
# fly for text (compress: ON, the counterpart of nginx's gzip on), .php through php-fpm's socket
# (connected per request: h2o 2.2's FastCGI pool has no upper bound, and kept connections beyond
# pm.max_children would pin children as nginx's do). h2o connects to php-fpm only on demand,
# so the static scenarios use the same file.
gen_h2o() {
    local log
    for log in '' -log; do
        {
            printf 'listen:\n  host: 127.0.0.1\n  port: %s\n' "$H2O_PORT"
            printf 'num-threads: 2\nmax-connections: 20000\nerror-log: %s\n' "$TMP/h2o-error.log"
            [[ -n $log ]] && printf 'access-log: %s\n' "$ACCESS_DIR/h2o-access.log"
            printf 'hosts:\n  default:\n    paths:\n      /:\n        file.dir: %s\n' "$DOCROOT"
            printf '        compress: ON\n'
            printf '        file.custom-handler:\n          extension: .php\n'
            printf '          fastcgi.connect:\n            port: %s\n            type: unix\n' "$FPM_SOCK"
        } >"$TMP/h2o$log.conf"
        if ! "$H2O" -t -c "$TMP/h2o$log.conf" >>"$TMP/h2o.out" 2>&1; then
            tail -n 5 "$TMP/h2o.out" >&2
            H2O_NOTE="h2o left out: it rejects its configuration ($(tail -n 1 "$TMP/h2o.out"))"
            log "$H2O_NOTE"
            H2O=
            return 0
        fi
    done
}

# lighttpd.conf and lighttpd-log.conf: lighttpd 1.4's defaults (one process, stat cache
# "simple"), keep-alive without a request limit (as nginx's keepalive_requests 100000),
# mod_deflate for text/html with a cache directory (compressed once, as wharf does), .php
# through php-fpm's socket (lighttpd 1.4 connects per request)
gen_lighttpd() {
    local log
    mkdir -p "$TMP/lighttpd-deflate"
    for log in '' -log; do
        {
            printf 'server.document-root = "%s"\nserver.bind = "127.0.0.1"\nserver.port = %s\n' \
                "$DOCROOT" "$LIGHTTPD_PORT"
            printf 'server.errorlog = "%s"\n' "$TMP/lighttpd-error.log"
            printf 'server.max-fds = 20000\nserver.max-connections = 10000\n'
            printf 'server.max-keep-alive-requests = 100000\nserver.max-keep-alive-idle = 60\n'
            printf 'server.modules += ("mod_deflate", "mod_fastcgi"%s)\n' \
                "$([[ -n $log ]] && echo ', "mod_accesslog"')"
            printf 'mimetype.assign = (".html" => "text/html", ".txt" => "text/plain", ".bin" => "application/octet-stream")\n'
            printf 'deflate.mimetypes = ("text/html")\ndeflate.allowed-encodings = ("gzip")\n'
            printf 'deflate.cache-dir = "%s"\n' "$TMP/lighttpd-deflate"
            printf 'fastcgi.server = (".php" => (("socket" => "%s")))\n' "$FPM_SOCK"
            [[ -n $log ]] && printf 'accesslog.filename = "%s"\n' "$ACCESS_DIR/lighttpd-access.log"
        } >"$TMP/lighttpd$log.conf"
        if ! "$LIGHTTPD" -tt -f "$TMP/lighttpd$log.conf" >>"$TMP/lighttpd.out" 2>&1; then
            tail -n 5 "$TMP/lighttpd.out" >&2
            LIGHTTPD_NOTE="lighttpd left out: it rejects its configuration ($(tail -n 1 "$TMP/lighttpd.out"))"
            log "$LIGHTTPD_NOTE"
            LIGHTTPD=
            return 0
        fi
    done
}

# ------------------------------------------------------------------ processes
SERVER_PID=
CHILD_PID=
BG_PID=
FPM_PID=
TMP=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $CHILD_PID ]] && kill "$CHILD_PID" 2>/dev/null
    [[ -n $BG_PID ]] && kill "$BG_PID" 2>/dev/null
    [[ -n $SERVER_PID ]] && stop_server
    [[ -n $FPM_PID ]] && stop_fpm
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ -n ${KEEP_TMP:-} ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

port_of() {
    case $1 in
    wharf) echo "$WHARF_PORT" ;;
    nginx) echo "$NGINX_PORT" ;;
    h2o) echo "$H2O_PORT" ;;
    lighttpd) echo "$LIGHTTPD_PORT" ;;
    esac
}

# Starts one front end. MODE "php" = PHP through the php-fpm that start_fpm started: wharf with
# wharf-php.ini (setup_php), nginx with nginx-php.conf; h2o and lighttpd have one config for
# both. MODE "static-log" / "php-log": the same with the access log on ($ACCESS_DIR, emptied
# by stop_server).
start_server() { # name [static|php|static-log|php-log]
    local name=$1 mode=${2:-static} log_sfx=
    [[ $mode == *-log ]] && log_sfx=-log
    case $name in
    wharf)
        local args=(--root "$DOCROOT" --listen "127.0.0.1:$WHARF_PORT" --gzip)
        [[ $mode == php* ]] && args=("${WHARF_PHP_ARGS[@]}")
        [[ -n $log_sfx ]] && args+=(--access-log "$ACCESS_DIR/wharf-access.log")
        "$WHARF" "${args[@]}" >>"$TMP/wharf.log" 2>&1 </dev/null &
        ;;
    nginx)
        local conf=$TMP/nginx$log_sfx.conf
        [[ $mode == php* ]] && conf=$TMP/nginx-php$log_sfx.conf
        "$NGINX" -e "$TMP/nginx-error.log" -p "$TMP/" -c "$conf" \
            >>"$TMP/nginx.out" 2>&1 </dev/null &
        ;;
    h2o)
        "$H2O" -c "$TMP/h2o$log_sfx.conf" >>"$TMP/h2o.out" 2>&1 </dev/null &
        ;;
    lighttpd)
        "$LIGHTTPD" -D -f "$TMP/lighttpd$log_sfx.conf" >>"$TMP/lighttpd.out" 2>&1 </dev/null &
        ;;
    *) die "unknown server $name" ;;
    esac
    SERVER_PID=$!
    # wait until it answers 200
    local port code i
    port=$(port_of "$name")
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null
            SERVER_PID=
            tail -n 20 "$TMP/$name.log" "$TMP/$name-error.log" "$TMP/$name.out" 2>/dev/null >&2
            die "$name exited during start-up"
        fi
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/1k.bin" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    die "$name did not answer 200 on port $port within 10 s (last status '$code')"
}

stop_server() {
    local pid=$SERVER_PID i
    [[ -z $pid ]] && return 0
    SERVER_PID=
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not exit after SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null # nginx's master exits after its workers
    [[ -n ${ACCESS_DIR:-} ]] && rm -f "$ACCESS_DIR"/*.log # scenarios 11-12 write ~100 MB a run
    return 0
}

# A fresh private php-fpm for every PHP run (see the header): config written by setup_php.
start_fpm() {
    local root_flag=() i
    [[ $(id -u) -eq 0 ]] && root_flag=(--allow-to-run-as-root)
    rm -f "$FPM_SOCK"
    "$PHP_FPM" --nodaemonize --fpm-config "$TMP/fpm/fpm.conf" "${root_flag[@]}" \
        >>"$TMP/fpm/fpm.out" 2>&1 </dev/null &
    FPM_PID=$!
    for ((i = 0; i < 200; i++)); do
        [[ -S $FPM_SOCK ]] && return 0
        kill -0 "$FPM_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 20 "$TMP/fpm/fpm.log" "$TMP/fpm/fpm.out" 2>/dev/null >&2
    die "php-fpm did not create $FPM_SOCK"
}

stop_fpm() {
    local pid=$FPM_PID i
    [[ -z $pid ]] && return 0
    FPM_PID=
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "php-fpm $pid did not exit after SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null # the master exits after its children
    return 0
}

# Checks every file once per server: status 200 and exact size.
check_files() { # name
    local name=$1 port f code size want
    port=$(port_of "$name")
    for f in 1k.bin 100k.bin 10m.bin page.html; do
        read -r code size < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' \
            "http://127.0.0.1:$port/$f")
        want=$(stat -c %s "$DOCROOT/$f")
        [[ $code == 200 && $size == "$want" ]] ||
            die "$name: GET /$f gave status $code, $size bytes (want 200, $want)"
    done
}

# Verifies that the server answers gzip for page.html and that it decompresses to the file.
check_gzip() { # name
    local name=$1 port hdr body wire
    port=$(port_of "$name")
    hdr=$TMP/gz-$name.hdr body=$TMP/gz-$name.body
    curl -s -H 'Accept-Encoding: gzip' -D "$hdr" -o "$body" "http://127.0.0.1:$port/page.html"
    wire=$(stat -c %s "$body")
    if grep -qi '^content-encoding: *gzip' "$hdr" && gzip -dc "$body" | cmp -s - "$DOCROOT/page.html"; then
        add_note "gzip check: $name answered Content-Encoding: gzip, $wire bytes on the wire for 102400, decompresses to page.html"
    else
        add_note "gzip check FAILED: $name did not answer valid gzip for page.html ($wire bytes; $(tr -d '\r' <"$hdr" | grep -i '^content-encoding' || echo 'no Content-Encoding'))"
        log "WARNING: $name did not answer gzip"
    fi
}

# ------------------------------------------------------------------- results
NOTE_N=0
add_note() { NOTE_N=$((NOTE_N + 1)); printf 'note_%03d\t%s\n' "$NOTE_N" "$*" >>"$META"; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; } # scenario server round metric value

# parse wrk --latency output -> "rps p99_ms mib_per_s non2xx sockerr"
parse_wrk() {
    awk '
    function ms(v,   n) { n = v + 0
        if (v ~ /us$/) return n / 1000; if (v ~ /ms$/) return n
        if (v ~ /m$/) return n * 60000; if (v ~ /h$/) return n * 3600000
        if (v ~ /s$/) return n * 1000; return n }
    function mib(v,   n) { n = v + 0
        if (v ~ /GB$/) return n * 1024; if (v ~ /MB$/) return n
        if (v ~ /KB$/) return n / 1024; if (v ~ /TB$/) return n * 1048576
        return n / 1048576 }
    /Latency Distribution/ { ld = 1 }
    ld && $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /^Transfer\/sec:/ { tr = mib($2) }
    /Socket errors:/ { line = $0; gsub(/,/, "", line); split(line, a, " ")
                       se = a[4] + a[6] + a[8] + a[10] }
    /Non-2xx or 3xx responses:/ { n2 = $NF }
    END { if (rps == "") exit 1
          printf "%s %.3f %.2f %d %d\n", rps, p99, tr, n2 + 0, se + 0 }'
}

proc_stats() { python3 "$BENCH_DIR/proctree.py" "$1"; } # -> rss_kb hwm_kb cpu_s nprocs

# after a run with the access log on: its lines (the server's buffer may still hold a few), in
# the raw log and, in round 1, as a note; a server that wrote nothing is a failed check
check_access_log() { # scenario server round
    local lines
    lines=$(cat "$ACCESS_DIR"/*.log 2>/dev/null | wc -l)
    printf 'access log: %s lines\n' "$lines" >>"$RAWLOG"
    record "$1" "$2" "$3" log_lines "$lines"
    if ((lines == 0)); then
        add_note "$1 $2 round $3: access log check FAILED: no line written"
        log "WARNING: $2 wrote no access log line"
    elif [[ $3 == 1 ]]; then
        add_note "$1 $2: access log on, $lines lines written in the run (warm-up included)"
    fi
}

# one wrk measurement against a freshly started server
run_wrk() { # scenario server round conns path [header]
    local sc=$1 name=$2 rnd=$3 conns=$4 path=$5 header=${6:-}
    local port url out hargs=() rss hwm cpu0 cpu1 np rps p99 mbps n2 se err
    port=$(port_of "$name")
    url="http://127.0.0.1:$port$path"
    [[ -n $header ]] && hargs=(-H "$header")
    local mode=static
    [[ $sc == s11 ]] && mode=static-log
    start_server "$name" "$mode"
    [[ $sc == s5 && $rnd == 1 ]] && check_gzip "$name"
    "${WRK[@]}" -t"$WRK_THREADS" -c"$conns" -d1s "${hargs[@]}" "$url" >/dev/null 2>&1 # warm-up
    read -r rss hwm cpu0 np < <(proc_stats "$SERVER_PID")
    out=$TMP/wrk.out
    "${WRK[@]}" -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --latency "${hargs[@]}" "$url" >"$out" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID"
    CHILD_PID=
    read -r rss hwm cpu1 np < <(proc_stats "$SERVER_PID")
    {
        printf '\n=== %s %s round %s: -c%s %s %s (load %s)\n' "$sc" "$name" "$rnd" "$conns" "$path" \
            "$header" "$(cut -d' ' -f1-3 /proc/loadavg)"
        cat "$out"
        printf 'server: rss %s KB, peak %s KB, cpu %.2f s, %s processes\n' "$rss" "$hwm" \
            "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{print b-a}')" "$np"
    } >>"$RAWLOG"
    [[ $mode == *-log ]] && check_access_log "$sc" "$name" "$rnd"
    stop_server
    if ! read -r rps p99 mbps n2 se < <(parse_wrk <"$out"); then
        cat "$out" >&2
        add_note "$sc $name round $rnd: wrk produced no result"
        log "WARNING: wrk produced no result for $sc $name"
        return 0
    fi
    err=$((n2 + se))
    record "$sc" "$name" "$rnd" rps "$rps"
    record "$sc" "$name" "$rnd" p99_ms "$p99"
    record "$sc" "$name" "$rnd" mbps "$mbps"
    record "$sc" "$name" "$rnd" errors "$err"
    record "$sc" "$name" "$rnd" peak_rss_mib "$(awk -v k="$hwm" 'BEGIN{printf "%.2f", k/1024}')"
    awk -v r="$rps" -v d="$DURATION" -v a="$cpu0" -v b="$cpu1" \
        'BEGIN{ if (b - a > 0) printf "%.0f\n", r * d / (b - a); else print "nan" }' |
        { read -r v; [[ $v != nan ]] && record "$sc" "$name" "$rnd" req_per_cpu "$v"; }
    log "  $sc $name r$rnd: ${rps} req/s, p99 ${p99} ms, ${mbps} MiB/s, errors $err, peak $((hwm / 1024)) MiB"
    if ((err > 0)); then
        log "  WARNING: $name reported $err errors:"
        grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/      /' >&2
        add_note "$sc $name round $rnd: $(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')"
    fi
}

run_idle() { # server round
    local name=$1 rnd=$2 port json
    port=$(port_of "$name")
    start_server "$name"
    python3 "$BENCH_DIR/idle_conns.py" --port "$port" --pid "$SERVER_PID" \
        --count "$IDLE_CONNS" --path /1k.bin --settle 2.5 >"$TMP/idle.json" &
    CHILD_PID=$!
    wait "$CHILD_PID"
    CHILD_PID=
    json=$(cat "$TMP/idle.json")
    printf '\n=== s6 %s round %s: %s idle conns (load %s)\n%s\n' "$name" "$rnd" "$IDLE_CONNS" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" "$json" >>"$RAWLOG"
    stop_server
    [[ -n $json ]] || { add_note "s6 $name round $rnd: idle test failed"; return 0; }
    local metric value
    while read -r metric value; do
        record s6 "$name" "$rnd" "$metric" "$value"
    done < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("held", r["still_open"])
print("rss_before_mib", round(r["rss_before_kb"] / 1024, 2))
print("rss_with_mib", round(r["rss_with_kb"] / 1024, 2))
if r["kb_per_conn"] is not None: print("kb_per_conn", r["kb_per_conn"])
print("peak_rss_mib", round(r["hwm_kb"] / 1024, 2))
' "$json")
    local summary
    summary=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("{ok} opened, {failed} failed, {still_open} still open; RSS {rss_before_kb} -> {rss_with_kb} KB = {kb_per_conn} KB/conn; opening took {open_s} s; errors {errors}".format(**r))
' "$json")
    log "  s6 $name r$rnd: $summary"
    if python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["failed"] or r["still_open"] != r["ok"] else 1)' "$json"; then
        add_note "s6 $name round $rnd: $summary"
    fi
}

# ------------------------------------------------------------------------ PHP
# Configs for the PHP scenarios (php-fpm pool, nginx-php.conf, h2o.conf, wharf INI when
# FCGI_CONNS != 4) and the FastCGI-direct load client.
setup_php() {
    local root_flag=() opcache=1
    [[ $(id -u) -eq 0 ]] && root_flag=(--allow-to-run-as-root)
    mkdir -p "$TMP/fpm"
    FPM_SOCK=$TMP/fpm/php-fpm.sock
    FPM_TCP_PORT=$(free_port)
    if ! "$PHP_FPM" -m 2>/dev/null | grep -qx 'Zend OPcache'; then
        opcache=
        add_note "php-fpm has no Zend OPcache module: the PHP scenarios ran without opcache"
        log "WARNING: php-fpm has no Zend OPcache module"
    fi
    {
        printf '[global]\npid = %s\nerror_log = %s\ndaemonize = no\n' "$TMP/fpm/fpm.pid" "$TMP/fpm/fpm.log"
        printf '[bench]\nlisten = %s\nlisten.mode = 0666\n' "$FPM_SOCK"
        printf 'pm = static\npm.max_children = %s\npm.max_requests = 0\n' "$FCGI_CONNS"
        [[ -n $opcache ]] && printf 'php_admin_value[opcache.enable] = 1\n'
        # scenario 10: the same pool again on TCP
        printf '[benchtcp]\nlisten = 127.0.0.1:%s\n' "$FPM_TCP_PORT"
        printf 'pm = static\npm.max_children = %s\npm.max_requests = 0\n' "$FCGI_CONNS"
        [[ -n $opcache ]] && printf 'php_admin_value[opcache.enable] = 1\n'
    } >"$TMP/fpm/fpm.conf"
    "$PHP_FPM" -t --fpm-config "$TMP/fpm/fpm.conf" "${root_flag[@]}" >>"$TMP/fpm/fpm.out" 2>&1 ||
        { cat "$TMP/fpm/fpm.out" >&2; die "php-fpm config test failed ($TMP/fpm/fpm.conf)"; }

    # wharf: as many requests in flight and kept connections as php-fpm has children (its own
    # default, 16 in flight, would queue requests in php-fpm's backlog); the TCP pool for
    # scenario 10 is the site of Host tcp.bench
    {
        printf '[server]\nlisten = 127.0.0.1:%s\n' "$WHARF_PORT"
        printf '[site bench]\nroot = %s\ngzip = on\nfastcgi = unix:%s\n' "$DOCROOT" "$FPM_SOCK"
        printf 'fastcgi_max_conns = %s\nfastcgi_keep_conns = %s\n' "$FCGI_CONNS" "$FCGI_CONNS"
        printf '[site tcp]\nhosts = tcp.bench\nroot = %s\nfastcgi = 127.0.0.1:%s\n' "$DOCROOT" "$FPM_TCP_PORT"
        printf 'fastcgi_max_conns = %s\nfastcgi_keep_conns = %s\n' "$FCGI_CONNS" "$FCGI_CONNS"
    } >"$TMP/wharf-php.ini"
    WHARF_PHP_ARGS=(--config "$TMP/wharf-php.ini")
    "$WHARF" "${WHARF_PHP_ARGS[@]}" --test >>"$TMP/wharf.log" 2>&1 ||
        { tail -n 5 "$TMP/wharf.log" >&2; die "wharf rejects its PHP configuration"; }

    # nginx: upstream keep-alive, 2 workers x keepalive (FCGI_CONNS/2) = pm.max_children
    local fparams=/etc/nginx/fastcgi_params
    if [[ ! -f $fparams ]]; then
        fparams=$TMP/fastcgi_params
        printf 'fastcgi_param %s;\n' 'QUERY_STRING $query_string' 'REQUEST_METHOD $request_method' \
            'CONTENT_TYPE $content_type' 'CONTENT_LENGTH $content_length' \
            'SCRIPT_NAME $fastcgi_script_name' 'REQUEST_URI $request_uri' \
            'DOCUMENT_URI $document_uri' 'DOCUMENT_ROOT $document_root' \
            'SERVER_PROTOCOL $server_protocol' 'REQUEST_SCHEME $scheme' \
            'GATEWAY_INTERFACE CGI/1.1' 'SERVER_SOFTWARE nginx/$nginx_version' \
            'REMOTE_ADDR $remote_addr' 'REMOTE_PORT $remote_port' 'SERVER_ADDR $server_addr' \
            'SERVER_PORT $server_port' 'SERVER_NAME $server_name' 'REDIRECT_STATUS 200' >"$fparams"
    fi
    local ka=$((FCGI_CONNS / 2))
    ((ka < 1)) && ka=1
    {
        printf 'upstream backend {\n    server unix:%s;\n    keepalive %s;\n}\n' "$FPM_SOCK" "$ka"
        printf 'upstream backend_tcp {\n    server 127.0.0.1:%s;\n    keepalive %s;\n}\n' "$FPM_TCP_PORT" "$ka"
    } >"$TMP/nginx-php-http.conf"
    cat >"$TMP/nginx-php-server.conf" <<NGX
location ~ \\.php\$ {
    fastcgi_pass backend;
    fastcgi_keep_conn on;
    include $fparams;
    fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
}
location = /flush.php {
    fastcgi_pass backend_tcp;
    fastcgi_keep_conn on;
    include $fparams;
    fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
}
NGX
    gen_nginx "$TMP/nginx-php.conf" "$TMP/nginx-php-http.conf" "$TMP/nginx-php-server.conf"
    gen_nginx "$TMP/nginx-php-log.conf" "$TMP/nginx-php-http.conf" "$TMP/nginx-php-server.conf" log

    # h2o and lighttpd (their configs: gen_h2o, gen_lighttpd) connect per request
    [[ -n $H2O ]] && PHP_FRONTS+=(h2o)
    [[ -n $LIGHTTPD ]] && PHP_FRONTS+=(lighttpd)
    [[ -n $H2O_NOTE ]] && add_note "$H2O_NOTE"
    [[ -n $H2O ]] &&
        add_note "h2o: FastCGI connection per request (fastcgi.timeout.keepalive 0, the default; h2o 2.2's FastCGI socket pool has no size limit, so kept connections could pin every php-fpm child)"
    [[ -n $LIGHTTPD ]] && add_note "lighttpd: FastCGI connection per request (lighttpd 1.4 does not keep FastCGI connections)"

    FCGI_LOAD=$TMP/fcgi_load
    cc -O2 -Wall -pthread -o "$FCGI_LOAD" "$BENCH_DIR/fcgi_load.c" >&2 || die "cannot build fcgi_load.c"
}

# GET PATH from a front end (or php-fpm directly); body to FILE, prints "status bytes"
php_get() { # name path file
    local name=$1 path=$2 file=$3 port
    if [[ $name == direct ]]; then
        "$FCGI_LOAD" -s "$FPM_SOCK" -f "$DOCROOT$path" -u "$path" -r "$DOCROOT" -p >"$file.raw" 2>/dev/null
        # CGI head: up to the first empty line
        python3 -c '
import re, sys
raw = open(sys.argv[1], "rb").read()
head, _, body = raw.partition(b"\r\n\r\n")
m = re.search(rb"(?im)^Status:\s*(\d+)", head)
open(sys.argv[2], "wb").write(body)
print(m.group(1).decode() if m else 200, len(body))' "$file.raw" "$file"
    else
        port=$(port_of "$name")
        curl -s -m 5 -o "$file" -w '%{http_code} %{size_download}\n' "http://127.0.0.1:$port$path"
    fi
}

# Once per front end and the direct client: hello.php says exactly "Hello, world!",
# table.php is identical everywhere (a static copy of the source would differ), slow.php
# answers, opcache is on in that php-fpm. wharf or nginx failing is fatal; h2o or lighttpd is
# dropped.
check_php() {
    local name status size f problem ref=$TMP/php-check-direct-table fronts=(direct "${PHP_FRONTS[@]}")
    for name in "${fronts[@]}"; do
        start_fpm
        [[ $name != direct ]] && start_server "$name" php
        problem=
        f=$TMP/php-check-$name
        read -r status size < <(php_get "$name" /hello.php "$f-hello")
        [[ $status == 200 && $(cat "$f-hello") == 'Hello, world!' ]] ||
            problem+=" hello.php: $status, '$(head -c 60 "$f-hello")';"
        read -r status size < <(php_get "$name" /table.php "$f-table")
        if [[ $status != 200 ]] || ! grep -q '</table>' "$f-table"; then
            problem+=" table.php: $status, $size bytes;"
        elif [[ $name != direct ]] && ! cmp -s "$f-table" "$ref"; then
            problem+=" table.php differs from php-fpm's direct answer;"
        fi
        local tsize=$size
        read -r status size < <(php_get "$name" /slow.php "$f-slow")
        [[ $status == 200 && $(cat "$f-slow") == slept ]] || problem+=" slow.php: $status;"
        if [[ $name == wharf || $name == nginx ]]; then
            size=$(curl -s -m 5 -H 'Host: tcp.bench' -o /dev/null -w '%{http_code} %{size_download}' \
                "http://127.0.0.1:$(port_of "$name")/flush.php")
            [[ $size == "200 60000" ]] || problem+=" flush.php over TCP: $size;"
        fi
        read -r status size < <(php_get "$name" /opcache.php "$f-opcache")
        local opc
        opc=$(tr -d '\n' <"$f-opcache")
        [[ $opc == opcache=1 ]] || problem+=" opcache.php: '$opc';"
        [[ $name != direct ]] && stop_server
        stop_fpm
        if [[ -z $problem ]]; then
            if [[ $name == direct ]]; then
                add_note "php check: php-fpm direct (fcgi_load): hello.php 'Hello, world!', table.php $tsize bytes, slow.php, $opc"
            else
                add_note "php check: $name ran PHP: hello.php 200 'Hello, world!', table.php 200 $tsize bytes identical to php-fpm's direct answer, slow.php 200, $opc"
            fi
            continue
        fi
        if [[ $name == h2o || $name == lighttpd ]]; then
            add_note "$name left out of PHP: its PHP check failed:$problem"
            log "WARNING: $name PHP check failed:$problem; leaving it out of PHP"
            local keep=() f2
            for f2 in "${PHP_FRONTS[@]}"; do [[ $f2 != "$name" ]] && keep+=("$f2"); done
            PHP_FRONTS=("${keep[@]}")
        else
            die "$name PHP check failed:$problem"
        fi
    done
}

# connections waiting in php-fpm's listen backlog (Recv-Q of its listening socket)
fpm_backlog() { ss -xlH 2>/dev/null | awk -v s="$FPM_SOCK" '$5 == s { print $3; exit }'; }

# samples fpm_backlog halfway through the measured run of CHILD_PID into $TMP/backlog
sample_backlog() {
    : >"$TMP/backlog"
    sleep "$(awk -v d="$DURATION" 'BEGIN{print d / 2}')"
    kill -0 "$CHILD_PID" 2>/dev/null && fpm_backlog >"$TMP/backlog"
}

proc_cpu() { local _r _h c _n; read -r _r _h c _n < <(proc_stats "$1"); echo "$c"; }
per_1k() { awk -v c0="$1" -v c1="$2" -v r="$3" -v d="$DURATION" \
    'BEGIN{ if (r > 0) printf "%.4f\n", (c1 - c0) / (r * d) * 1000; else print "nan" }'; }

# scenarios 7 and 8: one front end (or fcgi_load) against a fresh php-fpm
run_php() { # scenario server round conns path [header]
    local sc=$1 name=$2 rnd=$3 conns=$4 path=$5 hdr=()
    [[ -n ${6:-} ]] && hdr=(-H "$6")
    local out=$TMP/wrk.out rss hwm c0='' c1='' np f0 f1 rps p99 mbps n2 se err fcpu='' pcpu url
    start_fpm
    if [[ $name == direct ]]; then
        local fl=("$FCGI_LOAD" -s "$FPM_SOCK" -f "$DOCROOT$path" -u "$path" -r "$DOCROOT" -c "$FCGI_CONNS")
        "${fl[@]}" -d 1 >/dev/null 2>&1 # warm-up
        f0=$(proc_cpu "$FPM_PID")
        "${fl[@]}" -d "$DURATION" >"$out" 2>&1 &
        CHILD_PID=$!
        sample_backlog
        wait "$CHILD_PID"
        CHILD_PID=
        f1=$(proc_cpu "$FPM_PID")
        hwm=
    else
        local mode=php
        [[ $sc == s12 ]] && mode=php-log
        start_server "$name" "$mode"
        url="http://127.0.0.1:$(port_of "$name")$path"
        "${WRK[@]}" -t"$WRK_THREADS" -c"$conns" -d1s "${hdr[@]}" "$url" >/dev/null 2>&1 # warm-up
        read -r rss hwm c0 np < <(proc_stats "$SERVER_PID")
        f0=$(proc_cpu "$FPM_PID")
        "${WRK[@]}" -t"$WRK_THREADS" -c"$conns" -d"${DURATION}s" --latency "${hdr[@]}" "$url" >"$out" 2>&1 &
        CHILD_PID=$!
        sample_backlog
        wait "$CHILD_PID"
        CHILD_PID=
        read -r rss hwm c1 np < <(proc_stats "$SERVER_PID")
        f1=$(proc_cpu "$FPM_PID")
        [[ $mode == *-log ]] && check_access_log "$sc" "$name" "$rnd"
        stop_server
    fi
    stop_fpm
    {
        printf '\n=== %s %s round %s: -c%s %s (load %s)\n' "$sc" "$name" "$rnd" \
            "$([[ $name == direct ]] && echo "$FCGI_CONNS fcgi" || echo "$conns")" "$path" \
            "$(cut -d' ' -f1-3 /proc/loadavg)"
        cat "$out"
        [[ -n $c0 ]] && printf 'server: rss %s KB, peak %s KB, cpu %.2f s, %s processes\n' "$rss" "$hwm" \
            "$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" "$np"
        printf 'php-fpm: cpu %.2f s, listen backlog mid-run %s\n' \
            "$(awk -v a="$f0" -v b="$f1" 'BEGIN{print b-a}')" "$(cat "$TMP/backlog")"
    } >>"$RAWLOG"
    if [[ $name == direct ]]; then
        if ! read -r rps p99 err < <(awk '$1=="rps"{r=$2} $1=="p99_ms"{p=$2} $1=="errors"{e=$2}
                END{ if (r == "") exit 1; print r, p, e }' "$out"); then
            cat "$out" >&2
            add_note "$sc direct round $rnd: fcgi_load produced no result"
            return 0
        fi
    else
        if ! read -r rps p99 mbps n2 se < <(parse_wrk <"$out"); then
            cat "$out" >&2
            add_note "$sc $name round $rnd: wrk produced no result"
            log "WARNING: wrk produced no result for $sc $name"
            return 0
        fi
        err=$((n2 + se))
        fcpu=$(per_1k "$c0" "$c1" "$rps")
    fi
    pcpu=$(per_1k "$f0" "$f1" "$rps")
    record "$sc" "$name" "$rnd" rps "$rps"
    record "$sc" "$name" "$rnd" p99_ms "$p99"
    record "$sc" "$name" "$rnd" errors "$err"
    [[ -n $fcpu && $fcpu != nan ]] && record "$sc" "$name" "$rnd" front_cpu_per_1k "$fcpu"
    [[ $pcpu != nan ]] && record "$sc" "$name" "$rnd" fpm_cpu_per_1k "$pcpu"
    local backlog
    backlog=$(cat "$TMP/backlog")
    [[ -n $backlog ]] && record "$sc" "$name" "$rnd" fpm_backlog "$backlog"
    [[ -n $hwm ]] && record "$sc" "$name" "$rnd" peak_rss_mib "$(awk -v k="$hwm" 'BEGIN{printf "%.2f", k/1024}')"
    log "  $sc $name r$rnd: ${rps} req/s, p99 ${p99} ms, errors $err, CPU-s per 1k req: front ${fcpu:--}, php-fpm $pcpu; php-fpm backlog ${backlog:-?}"
    if ((err > 0)); then
        log "  WARNING: $name reported $err errors"
        if [[ $name == direct ]]; then
            add_note "$sc direct round $rnd: $err fcgi_load errors"
        else
            grep -E 'Socket errors|Non-2xx' "$out" | sed 's/^/      /' >&2
            add_note "$sc $name round $rnd: $(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')"
        fi
    fi
}

# scenario 9: static 1 KiB at 64 conns alone, then while 200 conns keep slow.php queued
run_static_php() { # server round
    local name=$1 rnd=$2 port url slow alone=$TMP/wrk-alone.out during=$TMP/wrk-during.out bg=$TMP/wrk-slow.out
    local rss hwm np bgdur=$((DURATION + PHP_RAMP + 1))
    local a_rps a_p99 a_n2 a_se d_rps d_p99 d_n2 d_se s_rps s_n2 s_se
    start_fpm
    start_server "$name" php
    port=$(port_of "$name")
    url="http://127.0.0.1:$port/1k.bin"
    slow="http://127.0.0.1:$port/slow.php"
    wrk -t1 -c64 -d1s "$url" >/dev/null 2>&1 # warm-up
    wrk -t1 -c64 -d"${DURATION}s" --latency "$url" >"$alone" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID"
    CHILD_PID=
    # the slow load: wrk's timeout raised so that queued requests are not counted as errors
    wrk -t1 -c200 -d"${bgdur}s" --timeout 60s --latency "$slow" >"$bg" 2>&1 &
    BG_PID=$!
    sleep "$PHP_RAMP"
    wrk -t1 -c64 -d"${DURATION}s" --latency "$url" >"$during" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID"
    CHILD_PID=
    read -r rss hwm _ np < <(proc_stats "$SERVER_PID")
    wait "$BG_PID"
    BG_PID=
    # php-fpm first: h2o's graceful stop would otherwise wait ~10 s for the requests still
    # queued in php-fpm's backlog
    stop_fpm
    stop_server
    {
        printf '\n=== s9 %s round %s: static -c64 /1k.bin alone (load %s)\n' "$name" "$rnd" \
            "$(cut -d' ' -f1-3 /proc/loadavg)"
        cat "$alone"
        printf '=== s9 %s round %s: static -c64 /1k.bin during slow.php load\n' "$name" "$rnd"
        cat "$during"
        printf '=== s9 %s round %s: background -c200 /slow.php, %s s\n' "$name" "$rnd" "$bgdur"
        cat "$bg"
        printf 'server at the end of the slow phase: rss %s KB, peak %s KB, %s processes\n' "$rss" "$hwm" "$np"
    } >>"$RAWLOG"
    if ! read -r a_rps a_p99 _ a_n2 a_se < <(parse_wrk <"$alone") ||
        ! read -r d_rps d_p99 _ d_n2 d_se < <(parse_wrk <"$during") ||
        ! read -r s_rps _ _ s_n2 s_se < <(parse_wrk <"$bg"); then
        add_note "s9 $name round $rnd: wrk produced no result"
        log "WARNING: wrk produced no result for s9 $name"
        return 0
    fi
    local err=$((a_n2 + a_se + d_n2 + d_se)) s_ok
    s_ok=$(awk -v r="$s_rps" -v n="$s_n2" -v d="$bgdur" 'BEGIN{ v = r - n / d; printf "%.1f", v < 0 ? 0 : v }')
    record s9 "$name" "$rnd" rps_alone "$a_rps"
    record s9 "$name" "$rnd" p99_alone "$a_p99"
    record s9 "$name" "$rnd" rps_during "$d_rps"
    record s9 "$name" "$rnd" p99_during "$d_p99"
    record s9 "$name" "$rnd" errors "$err"
    record s9 "$name" "$rnd" slow_ok_rps "$s_ok"
    record s9 "$name" "$rnd" slow_errors "$((s_n2 + s_se))"
    record s9 "$name" "$rnd" rss_during_mib "$(awk -v k="$rss" 'BEGIN{printf "%.2f", k/1024}')"
    log "  s9 $name r$rnd: static alone ${a_rps} req/s p99 ${a_p99} ms; during slow PHP ${d_rps} req/s p99 ${d_p99} ms; errors $err; slow.php ${s_ok} ok/s, $((s_n2 + s_se)) errors"
    if ((err > 0)); then
        log "  WARNING: $name reported $err static errors"
        add_note "s9 $name round $rnd: static errors: $(grep -hE 'Socket errors|Non-2xx' "$alone" "$during" | tr -s ' ' | tr '\n' ';')"
    fi
    if ((s_n2 + s_se > 0)); then
        add_note "s9 $name round $rnd: slow.php load: $(grep -E 'Socket errors|Non-2xx' "$bg" | tr -s ' ' | tr '\n' ';')"
    fi
}

# ---------------------------------------------------------------------- main
ensure_deps
raise_fd_limit
mkdir -p "$RESULTS_DIR"
TMP=$(mktemp -d /tmp/wharf-bench.XXXXXX)
chmod 755 "$TMP" # nginx workers (nobody) must read the docroot
DOCROOT=$TMP/www
RESULTS=$TMP/results.tsv
META=$TMP/meta.tsv
RAWLOG=$RESULTS_DIR/latest.log
: >"$RESULTS"
: >"$META"
: >"$RAWLOG"

log "building docroot in $DOCROOT"
python3 "$BENCH_DIR/mkdocroot.py" "$DOCROOT" || die "mkdocroot failed"
if [[ -n ${GZIP_STATIC:-} ]]; then
    gzip -6 -n -k "$DOCROOT/page.html" || die "gzip failed"
    NGINX_GZIP_STATIC='gzip_static on;'
else
    NGINX_GZIP_STATIC=
fi
chmod -R a+rX "$DOCROOT"

ACCESS_DIR=$TMP/access
mkdir -p "$ACCESS_DIR"
chmod 777 "$ACCESS_DIR" # h2o and nginx workers may run as nobody
FPM_SOCK=$TMP/fpm/php-fpm.sock
WHARF_PORT=$(free_port)
NGINX_PORT=$(free_port)
H2O_PORT=$(free_port)
LIGHTTPD_PORT=$(free_port)
ports=" $WHARF_PORT "
for v in NGINX_PORT H2O_PORT LIGHTTPD_PORT; do
    while [[ $ports == *" ${!v} "* ]]; do printf -v "$v" '%s' "$(free_port)"; done
    ports+="${!v} "
done
: >"$TMP/empty.conf" # the PHP includes of the static nginx.conf
gen_nginx "$TMP/nginx.conf" "$TMP/empty.conf" "$TMP/empty.conf"
gen_nginx "$TMP/nginx-log.conf" "$TMP/empty.conf" "$TMP/empty.conf" log
[[ -n $H2O ]] && gen_h2o
[[ -n $H2O ]] && SERVERS+=(h2o)
[[ -n $H2O_NOTE ]] && add_note "$H2O_NOTE"
[[ -n $LIGHTTPD ]] && gen_lighttpd
[[ -n $LIGHTTPD ]] && SERVERS+=(lighttpd)
[[ -n $LIGHTTPD_NOTE ]] && add_note "$LIGHTTPD_NOTE"

{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
    printf 'load_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'wharf_version\t%s\n' "$("$WHARF" --version 2>&1 | head -n1)"
    printf 'nginx_version\t%s\n' "$("$NGINX" -v 2>&1 | head -n1)"
    printf 'wrk_version\t%s\n' "$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')"
    [[ -n $H2O ]] && printf 'h2o_version\t%s\n' "$("$H2O" --version 2>&1 | head -n1)"
    [[ -n $LIGHTTPD ]] && printf 'lighttpd_version\t%s\n' "$("$LIGHTTPD" -v 2>&1 | head -n1 | awk '{print $1}')"
    printf 'rounds\t%s\nduration\t%s\nidle_count\t%s\n' "$ROUNDS" "$DURATION" "$IDLE_CONNS"
    printf 'wrk_cmd\t%s\n' "${WRK[*]} -t$WRK_THREADS"
    if [[ -n $NEED_PHP ]]; then
        printf 'php_fpm_version\t%s\n' "$("$PHP_FPM" -v 2>&1 | head -n1 | awk '{print $1, $2}')"
        printf 'fcgi_conns\t%s\nphp_ramp\t%s\n' "$FCGI_CONNS" "$PHP_RAMP"
    fi
} >>"$META"
if [[ " $SCENARIOS " == *" 5 "* ]]; then
    if [[ -n ${GZIP_STATIC:-} ]]; then
        add_note "scenario 5 with GZIP_STATIC=1: page.html.gz (gzip -6) in the docroot, nginx gzip_static on"
    else
        add_note "scenario 5: nginx gzips page.html on every request (gzip on has no cache); wharf caches the compressed variant. GZIP_STATIC=1 gives nginx a precompressed page.html.gz (gzip_static on) for a like-for-like run"
    fi
fi

log "servers: ${SERVERS[*]} (wharf :$WHARF_PORT, nginx :$NGINX_PORT, h2o :$H2O_PORT, lighttpd :$LIGHTTPD_PORT); $ROUNDS rounds x ${DURATION}s; fd limit $(ulimit -Sn)"
for name in "${SERVERS[@]}"; do
    start_server "$name"
    check_files "$name"
    stop_server
done
log "every server answers 200 with the right sizes"
if [[ -n $NEED_PHP ]]; then
    setup_php
    check_php
    log "PHP front ends: ${PHP_FRONTS[*]} (+ direct); each runs PHP (bodies checked); php-fpm $FCGI_CONNS children, socket $FPM_SOCK"
    printf 'php_fronts\t%s\n' "${PHP_FRONTS[*]}" >>"$META"
fi

for s in $SCENARIOS; do
    case $s in
    1) log "scenario 1: 1 KiB file, 64 conns" ;;
    2) log "scenario 2: 100 KiB file, 64 conns" ;;
    3) log "scenario 3: 10 MiB file, 16 conns" ;;
    4) log "scenario 4: 1 KiB file, 1000 keep-alive conns" ;;
    5) log "scenario 5: gzip, 100 KiB HTML, 64 conns" ;;
    6) log "scenario 6: RSS with $IDLE_CONNS idle keep-alive conns" ;;
    7) log "scenario 7: hello.php, 64 conns (${PHP_FRONTS[*]}, direct)" ;;
    8) log "scenario 8: table.php, 64 conns (${PHP_FRONTS[*]}, direct)" ;;
    9) log "scenario 9: static 1 KiB, 64 conns, alone and under 200 conns of slow.php (${PHP_FRONTS[*]})" ;;
    10) log "scenario 10: flush.php (60 kB in 12 flushes) over TCP, 16 conns (wharf nginx)" ;;
    11) log "scenario 11: 1 KiB file, 64 conns, access log on" ;;
    12) log "scenario 12: hello.php, 64 conns, access log on (${PHP_FRONTS[*]})" ;;
    *) die "unknown scenario '$s'" ;;
    esac
    servers=("${SERVERS[@]}")
    case $s in
    7 | 8) servers=("${PHP_FRONTS[@]}" direct) ;;
    9 | 12) servers=("${PHP_FRONTS[@]}") ;;
    10) servers=(wharf nginx) ;;
    esac
    for ((r = 1; r <= ROUNDS; r++)); do
        for name in "${servers[@]}"; do
            case $s in
            1) run_wrk s1 "$name" "$r" 64 /1k.bin ;;
            2) run_wrk s2 "$name" "$r" 64 /100k.bin ;;
            3) run_wrk s3 "$name" "$r" 16 /10m.bin ;;
            4) run_wrk s4 "$name" "$r" 1000 /1k.bin ;;
            5) run_wrk s5 "$name" "$r" 64 /page.html 'Accept-Encoding: gzip' ;;
            6) run_idle "$name" "$r" ;;
            7) run_php s7 "$name" "$r" 64 /hello.php ;;
            8) run_php s8 "$name" "$r" 64 /table.php ;;
            9) run_static_php "$name" "$r" ;;
            10) run_php s10 "$name" "$r" 16 /flush.php 'Host: tcp.bench' ;;
            11) run_wrk s11 "$name" "$r" 64 /1k.bin ;;
            12) run_php s12 "$name" "$r" 64 /hello.php ;;
            esac
        done
    done
done

printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
python3 "$BENCH_DIR/report.py" "$RESULTS" "$META" >"$RESULTS_DIR/latest.md" || die "report failed"
cat "$RESULTS_DIR/latest.md"
log "table written to $RESULTS_DIR/latest.md, raw wrk output in $RAWLOG"
