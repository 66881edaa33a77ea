#!/usr/bin/env bash
# Command line and configuration: --version/--help, the default root (the current directory),
# the ADDR forms, flags over the file, failing at once on a busy port or a bad flag, and
# --test reporting every configuration error as FILE:LINE: message. A bad configuration never
# starts a server.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www/sub" "$T/other/sub" "$T/cwd"
printf 'www marker\n' >"$T/www/marker.txt"
printf 'other marker\n' >"$T/other/marker.txt"
printf 'in sub\n' >"$T/other/sub/file.txt"
printf 'in sub\n' >"$T/www/sub/file.txt"
printf 'cwd marker %s\n' "$$" >"$T/cwd/marker.txt"

skip_one() {
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N # SKIP $*"
}

# launch URL ARGS...: start wharf with exactly ARGS (no implicit --listen), wait for URL.
launch() {
    local url=$1
    shift
    "$WHARF" "$@" 2>>"$T/launch.err" &
    LPID=$!
    PIDS+=("$LPID")
    wait_for_http "$url" 10
}

# run_bounded OUTFILE ERRFILE ARGS...: run wharf in the foreground (at most 10 s); sets RC.
run_bounded() {
    local out=$1 err=$2
    shift 2
    timeout 10 "$WHARF" "$@" >"$out" 2>"$err"
    RC=$?
}

listening() { # listening PORT: 0 if something accepts connections on 127.0.0.1:PORT
    python3 -c 'import socket,sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

# ---- --version, --help ----------------------------------------------------------------------
VERSION=$(sed -n 's/^AC_INIT(\[wharf\], *\[\([^]]*\)\].*/\1/p' "$SRCDIR/configure.ac")
run_bounded "$T/v.out" "$T/v.err" --version
is "$RC" 0 "--version exits 0"
is "$(cat "$T/v.out")" "wharf $VERSION" "--version prints 'wharf VERSION' (VERSION from configure.ac: $VERSION)"
run_bounded "$T/v2.out" "$T/v2.err" -V
is "$(cat "$T/v2.out")" "wharf $VERSION" "-V prints the version too"
run_bounded "$T/h.out" "$T/h.err" --help
is "$RC" 0 "--help exits 0"
like "$(head -1 "$T/h.out")" '^Usage: wharf' "--help prints usage on stdout"
for flag in --config --listen --root --browse --gzip --access-log --test --version --help; do
    like "$(cat "$T/h.out")" "(^|[ ,])$flag([ =]|$)" "--help documents $flag"
done
is "$(cat "$T/h.err")" "" "--help writes nothing on stderr"

# ---- bad flags fail at once, naming the flag ------------------------------------------------
run_bounded "$T/b.out" "$T/b.err" --bogus-flag --root "$T/www"
ok $((RC != 0 && RC != 124 ? 0 : 1)) "an unknown flag exits non-zero at once (rc $RC)"
like "$(cat "$T/b.err")" '--bogus-flag' "an unknown flag is named in the message"
run_bounded "$T/b.out" "$T/b.err" --root "$T/www" --listen
ok $((RC != 0 && RC != 124 ? 0 : 1)) "--listen without a value exits non-zero (rc $RC)"
like "$(cat "$T/b.err")" '--listen' "--listen without a value is named in the message"
run_bounded "$T/b.out" "$T/b.err" --root "$T/www" stray-argument
ok $((RC != 0 && RC != 124 ? 0 : 1)) "a stray argument exits non-zero (rc $RC)"
like "$(cat "$T/b.err")" 'stray-argument' "a stray argument is named in the message"
run_bounded "$T/b.out" "$T/b.err" --listen 127.0.0.1:99999 --root "$T/www"
ok $((RC != 0 && RC != 124 ? 0 : 1)) "--listen 127.0.0.1:99999 (port out of range) exits non-zero (rc $RC)"
like "$(cat "$T/b.err")" '127\.0\.0\.1:99999' "--listen with a bad port names the address"
run_bounded "$T/b.out" "$T/b.err" --listen nonsense --root "$T/www"
ok $((RC != 0 && RC != 124 ? 0 : 1)) "--listen nonsense exits non-zero (rc $RC)"
like "$(cat "$T/b.err")" 'nonsense' "--listen nonsense names the address"
run_bounded "$T/b.out" "$T/b.err" --config "$T/no-such.ini"
ok $((RC != 0 && RC != 124 ? 0 : 1)) "--config with a missing file exits non-zero (rc $RC)"
like "$(cat "$T/b.err")" "$T/no-such\\.ini" "--config with a missing file names the file"

# ---- a busy port fails at once, naming the address --------------------------------------------
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$T/busy.port" &
PIDS+=("$!")
for ((i = 0; i < 100; i++)); do [ -s "$T/busy.port" ] && break; sleep 0.05; done
BUSY=$(cat "$T/busy.port")
start=$(date +%s%N)
run_bounded "$T/busy.out" "$T/busy.err" --listen "127.0.0.1:$BUSY" --root "$T/www"
ms=$((($(date +%s%N) - start) / 1000000))
ok $((RC != 0 && RC != 124 ? 0 : 1)) "a busy port: wharf exits non-zero (rc $RC)"
ok $((ms < 3000 ? 0 : 1)) "a busy port: wharf fails at once (${ms} ms)"
like "$(cat "$T/busy.err")" "127\\.0\\.0\\.1:$BUSY" "a busy port: the message names the address"
P=$(free_port)
printf '[server]\nlisten = 127.0.0.1:%s 127.0.0.1:%s\n[site s]\nroot = %s\n' "$P" "$BUSY" "$T/www" >"$T/busy.ini"
run_bounded "$T/busy.out" "$T/busy.err" --config "$T/busy.ini"
ok $((RC != 0 && RC != 124 ? 0 : 1)) "a busy port among two listen addresses: wharf exits non-zero (rc $RC)"
like "$(cat "$T/busy.err")" "127\\.0\\.0\\.1:$BUSY" "a busy port from the config file: the message names the address"
listening "$P"
ok $((1 - $?)) "a busy port among two listen addresses: the free one is not left listening"

# ---- the default root is the current directory; --root; short flags ------------------------
P=$(free_port)
(cd "$T/cwd" && exec "$WHARF" --listen "127.0.0.1:$P" 2>>"$T/launch.err") &
PIDS+=("$!")
wait_for_http "http://127.0.0.1:$P/" 10 || bail "wharf did not start in $T/cwd"
is "$(curl -s "http://127.0.0.1:$P/marker.txt")" "cwd marker $$" "without --root (and no config) the current directory is served"

P=$(free_port)
launch "http://127.0.0.1:$P/" --listen "127.0.0.1:$P" --root "$T/www" || bail "wharf --root did not start"
is "$(curl -s "http://127.0.0.1:$P/marker.txt")" "www marker" "--root DIR serves DIR"

P=$(free_port)
launch "http://127.0.0.1:$P/" -l "127.0.0.1:$P" -r "$T/other" || bail "wharf -l -r did not start"
is "$(curl -s "http://127.0.0.1:$P/marker.txt")" "other marker" "-l ADDR -r DIR work like --listen/--root"

# ---- ADDR forms: host:port, :port, [v6]:port ------------------------------------------------------
P=$(free_port)
if launch "http://127.0.0.1:$P/" --listen ":$P" --root "$T/www"; then
    is "$(curl -s "http://127.0.0.1:$P/marker.txt")" "www marker" "--listen :PORT serves on 127.0.0.1"
    if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
        is "$(curl -s -g "http://[::1]:$P/marker.txt")" "www marker" "--listen :PORT serves on [::1] too (all addresses)"
    else
        skip_one "no IPv6 loopback"
    fi
else
    ok 1 "--listen :PORT starts"
fi
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
    P=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
    launch "http://[::1]:$P/" --listen "[::1]:$P" --root "$T/www"
    ok $? "--listen [::1]:PORT starts"
    is "$(curl -s -g "http://[::1]:$P/marker.txt")" "www marker" "--listen [::1]:PORT serves on the IPv6 loopback"
    listening "$P"
    ok $((1 - $?)) "--listen [::1]:PORT does not listen on 127.0.0.1"
else
    skip_one "no IPv6 loopback"
    skip_one "no IPv6 loopback"
    skip_one "no IPv6 loopback"
fi

# ---- command-line flags override the config file --------------------------------------------
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
cat >"$T/base.ini" <<EOF
[server]
listen = 127.0.0.1:$P1

[site main]
root = $T/www
browse = off
access_log = off
EOF
launch "http://127.0.0.1:$P2/" --config "$T/base.ini" --listen "127.0.0.1:$P2" --root "$T/other" \
    --browse --access-log "$T/override.log" || bail "wharf with overrides did not start"
is "$(curl -s "http://127.0.0.1:$P2/marker.txt")" "other marker" "--root overrides the config's root"
listening "$P1"
ok $((1 - $?)) "--listen replaces the config's listen address (nothing on the config's port)"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/sub/")" 200 "--browse overrides browse = off"
for ((i = 0; i < 100; i++)); do grep -q 'GET /sub/ ' "$T/override.log" 2>/dev/null && break; sleep 0.05; done
like "$(cat "$T/override.log" 2>/dev/null)" '"GET /sub/ HTTP/1\.1" 200 ' "--access-log FILE overrides access_log = off"
# the same file without overrides, as the control
launch "http://127.0.0.1:$P1/" --config "$T/base.ini" || bail "wharf --config base.ini did not start"
is "$(curl -s "http://127.0.0.1:$P1/marker.txt")" "www marker" "without flags the config's root is served"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P1/sub/")" 403 "without flags browse = off holds (403)"

# ---- --test: a valid file -------------------------------------------------------------------
P=$(free_port)
cat >"$T/good.ini" <<EOF
; a semicolon comment
# a hash comment
[server]
; comment inside a section
# another
listen = 127.0.0.1:$P
max_header_size = 16k
max_uri_length = 4k
idle_timeout = 30s
header_timeout = 10s
max_connections = 100
max_connections_per_ip = 10

# between sections
[site main]
hosts = main.example
root = $T/www
browse = on
gzip = off
follow_symlinks = inside

[site fallback]
root = $T/other
EOF
run_bounded "$T/t.out" "$T/t.err" --test --config "$T/good.ini"
is "$RC" 0 "--test on a valid file (with ';' and '#' comments) exits 0"
is "$(cat "$T/t.err")" "" "--test on a valid file prints no error"
listening "$P"
ok $((1 - $?)) "--test does not start a server"
launch "http://127.0.0.1:$P/" --config "$T/good.ini"
ok $? "the valid file with ';' and '#' comments starts a server"
is "$(curl -s -H 'Host: main.example' "http://127.0.0.1:$P/marker.txt")" "www marker" "... which serves [site main] for its host"
is "$(curl -s "http://127.0.0.1:$P/marker.txt")" "other marker" "... and [site fallback] for other hosts"
run_bounded "$T/t.out" "$T/t.err" --test --root "$T/www"
is "$RC" 0 "--test without a config file (flags only) exits 0"
run_bounded "$T/t.out" "$T/t.err" --test --root "$T/does-not-exist"
ok $((RC != 0 && RC != 124 ? 0 : 1)) "--test --root with a missing directory exits non-zero (rc $RC)"
like "$(cat "$T/t.err")" "does-not-exist" "--test --root with a missing directory names it"

# ---- --test: each kind of error, as FILE:LINE: message ----------------------------------------
GOODSITE="[site main]
root = $T/www"
# bad NAME LINE REGEX WHAT: write stdin to $T/NAME.ini, run --test, expect FILE:LINE: ... REGEX
bad() {
    local f="$T/$1.ini" out
    cat >"$f"
    run_bounded "$T/$1.out" "$T/$1.err" --test --config "$f"
    out=$(cat "$T/$1.out" "$T/$1.err")
    ok $((RC != 0 && RC != 124 ? 0 : 1)) "--test: $4: exits non-zero (rc $RC)"
    like "$out" "^$f:$2: .*$3" "--test: $4: reported as $1.ini:$2: message naming it"
}
bad unknown-section 5 'sever' "unknown section [sever]" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE
[sever]
EOF
bad unknown-key 3 'lisen' "unknown key in [server]" <<EOF
[server]
listen = 127.0.0.1:$P
lisen = 127.0.0.1:$P
$GOODSITE
EOF
bad unknown-site-key 5 'roots' "unknown key in [site]" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE
roots = $T/www
EOF
bad bad-bool 5 'browse' "bad boolean (browse = maybe)" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE
browse = maybe
EOF
bad bad-address 2 '300\.1\.2\.3' "bad address (listen = 300.1.2.3:80)" <<EOF
[server]
listen = 300.1.2.3:80
$GOODSITE
EOF
bad no-port 2 'localhost' "address without a port (listen = localhost)" <<EOF
[server]
listen = localhost
$GOODSITE
EOF
bad port-range 3 '65536' "port out of range (listen = 127.0.0.1:65536)" <<EOF
[server]

listen = 127.0.0.1:65536
$GOODSITE
EOF
bad port-zero 2 '127\.0\.0\.1:0' "port 0 is out of range" <<EOF
[server]
listen = 127.0.0.1:0
$GOODSITE
EOF
bad bad-size 3 'max_header_size' "bad size (max_header_size = 12q)" <<EOF
[server]
listen = 127.0.0.1:$P
max_header_size = 12q
$GOODSITE
EOF
bad bad-duration 3 'idle_timeout' "bad duration (idle_timeout = soon)" <<EOF
[server]
listen = 127.0.0.1:$P
idle_timeout = soon
$GOODSITE
EOF
bad bad-number 3 'max_connections' "bad number (max_connections = lots)" <<EOF
[server]
listen = 127.0.0.1:$P
max_connections = lots
$GOODSITE
EOF
bad bad-enum 5 'follow_symlinks' "bad value (follow_symlinks = sometimes)" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE
follow_symlinks = sometimes
EOF
bad missing-root '(6|7)' 'root' "a site without root" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE

[site noroot]
hosts = noroot.example
EOF
bad root-not-found 7 'no-such-dir' "a root that does not exist" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE

[site gone]
root = $T/no-such-dir
hosts = gone.example
EOF
bad duplicate-host 10 'dup\.example' "the same host in two sites" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE

[site one]
root = $T/www
hosts = dup.example
[site two]
hosts = other.example dup.example
root = $T/other
EOF
bad duplicate-host-case 10 'dup\.example' "the same host in two sites, in different case" <<EOF
[server]
listen = 127.0.0.1:$P
$GOODSITE

[site one]
root = $T/www
hosts = dup.example
[site two]
hosts = DUP.Example
root = $T/other
EOF

# every error of one file is listed, not only the first
P=$(free_port)
cat >"$T/many.ini" <<EOF
; line 1: a file with one error of each kind
[server]
listen = 127.0.0.1:$P
listen = 127.0.0.1:65536
max_header_size = 12q
idle_timeout = soon
bogus_key = 1
[sever]
[site a]
hosts = a.example
root = $T/www
browse = maybe
[site b]
hosts = a.example
root = $T/other
[site c]
hosts = c.example
EOF
run_bounded "$T/many.out" "$T/many.err" --test --config "$T/many.ini"
ok $((RC != 0 && RC != 124 ? 0 : 1)) "--test: a file with many errors exits non-zero (rc $RC)"
many=$(cat "$T/many.out" "$T/many.err")
for want in '4:.*65536' '5:.*max_header_size' '6:.*idle_timeout' '7:.*bogus_key' '8:.*sever' \
    '12:.*browse' '14:.*a\.example' '16:.*root'; do
    like "$many" "^$T/many\\.ini:$want" "--test lists every error: many.ini:${want%%:*} ($want)"
done

# ---- a bad configuration never starts a server ------------------------------------------------
for f in many bad-bool missing-root root-not-found duplicate-host; do
    P=$(free_port)
    sed "0,/^listen = 127\\.0\\.0\\.1:[0-9]*\$/s//listen = 127.0.0.1:$P/" "$T/$f.ini" >"$T/run-$f.ini"
    grep -q "127.0.0.1:$P" "$T/run-$f.ini" || printf '[server]\nlisten = 127.0.0.1:%s\n' "$P" >>"$T/run-$f.ini"
    "$WHARF" --config "$T/run-$f.ini" >"$T/run-$f.out" 2>"$T/run-$f.err" &
    bpid=$!
    PIDS+=("$bpid")
    listened=0
    for ((i = 0; i < 100; i++)); do
        listening "$P" && listened=1
        kill -0 "$bpid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$bpid" 2>/dev/null; then
        ok 1 "bad config $f.ini: wharf exits (it is still running after 5 s)"
    else
        wait "$bpid"
        rc=$?
        ok $((rc != 0 ? 0 : 1)) "bad config $f.ini: wharf exits non-zero without --test (rc $rc)"
    fi
    ok "$listened" "bad config $f.ini: nothing ever listens on its port"
    like "$(cat "$T/run-$f.err")" "$T/run-$f\\.ini:[0-9]+: " "bad config $f.ini: the errors are printed as FILE:LINE: message"
done
finish
