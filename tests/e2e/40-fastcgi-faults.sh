#!/usr/bin/env bash
# FastCGI faults: read and send timeouts (504), a backend that never answers (504), malformed and
# truncated records (502, never retried once the backend answered), a 70 KiB response head (502),
# a 1 MiB stderr flood (200; logged with the request id, capped), pool full past the queue timeout
# (503), static files at full speed while every php-fpm child is busy or unreachable, a client
# that goes away (the backend connection is closed, the slot freed), and back-pressure: a slow
# client reading a 50 MiB response keeps wharf's memory small.
# Backends: real php-fpm, tests/fcgi_fake/responder.c (libfcgi; $RESPONDER, else built here with
# cc -lfcgi) and tests/fcgi_fake/raw_fake.py.
. "$(dirname "$0")/lib.sh"

FAKE_DIR="$SRCDIR/tests/fcgi_fake"
find_fpm >/dev/null || skip_all "php-fpm is not installed"
if [ -z "${RESPONDER:-}" ]; then
    command -v cc >/dev/null || skip_all "no C compiler (cc) to build the FastCGI responder"
    printf '#include <fcgiapp.h>\n' | cc -E -x c - >/dev/null 2>&1 ||
        skip_all "libfcgi is not installed (fcgiapp.h; Debian: libfcgi-dev)"
    cc -O1 -o "$T/responder" "$FAKE_DIR/responder.c" -lfcgi 2>"$T/cc.err" || {
        cat "$T/cc.err" >&2
        bail "tests/fcgi_fake/responder.c does not build"
    }
    RESPONDER=$T/responder
fi
[ -x "$RESPONDER" ] || bail "responder $RESPONDER is not executable"

# ---- fixtures ----------------------------------------------------------------------------------
W=$T/www
mkdir -p "$W"
# sleep.php?s=SECONDS[&id=NAME]: marks its start with the file started-NAME, then sleeps.
cat >"$W/sleep.php" <<'PHP'
<?php
if (isset($_GET['id'])) touch(__DIR__ . '/started-' . basename($_GET['id']));
usleep((int)(1e6 * (float)($_GET['s'] ?? 1)));
echo "slept ", $_GET['s'] ?? 1, "\n";
PHP
cat >"$W/log.php" <<'PHP'
<?php
error_log('php-error-log ' . $_GET['tag']);
echo "logged\n";
PHP
: >"$W/fake.php" # scripts of the fake backends: they only need to exist for routing
: >"$W/raw.php"
head -c 262144 /dev/urandom >"$W/static.bin"
STATIC_SHA=$(sha256sum <"$W/static.bin" | cut -d' ' -f1)

# ---- backends ----------------------------------------------------------------------------------
start_fpm p "$T/p.sock" "pm.max_children = 6"
start_fpm busy "$T/busy.sock" "pm.max_children = 2"

wait_socket() { # wait_socket PATH PID
    local i
    for ((i = 0; i < 200; i++)); do
        [ -S "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.05
    done
    bail "no socket $1"
}
"$RESPONDER" "$T/fake.sock" 8 2>>"$T/responder.log" &
PIDS+=($!)
wait_socket "$T/fake.sock" $!
python3 "$FAKE_DIR/raw_fake.py" "$T/raw.sock" 2>>"$T/raw.log" &
PIDS+=($!)
wait_socket "$T/raw.sock" $!
BH_PORT=$(free_port) # unreachable: connect() hangs (SYN dropped)
python3 "$FAKE_DIR/raw_fake.py" --blackhole "127.0.0.1:$BH_PORT" >"$T/bh.out" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
    grep -q ready "$T/bh.out" && break
    sleep 0.05
done

PORT=$(free_port)
cat >"$T/wharf.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT

[site fake]
root = $W
fastcgi = unix:$T/fake.sock
fastcgi_read_timeout = 1s

[site fakeslow]
hosts = fakeslow.test
root = $W
fastcgi = unix:$T/fake.sock
fastcgi_read_timeout = 30s
fastcgi_max_conns = 1
fastcgi_queue_timeout = 5s

[site fakegone]
hosts = fakegone.test
root = $W
fastcgi = unix:$T/fake.sock
fastcgi_read_timeout = 20s
fastcgi_max_conns = 1
fastcgi_queue_timeout = 2s

[site raw]
hosts = raw.test
root = $W
fastcgi = unix:$T/raw.sock
fastcgi_read_timeout = 2s

[site rawsend]
hosts = rawsend.test
root = $W
fastcgi = unix:$T/raw.sock
fastcgi_send_timeout = 1s
fastcgi_read_timeout = 30s

[site rt]
hosts = rt.test
root = $W
fastcgi = unix:$T/p.sock
fastcgi_read_timeout = 1s

[site one]
hosts = one.test
root = $W
fastcgi = unix:$T/p.sock
fastcgi_max_conns = 1
fastcgi_queue_timeout = 1s

[site gone]
hosts = gone.test
root = $W
fastcgi = unix:$T/p.sock
fastcgi_max_conns = 1
fastcgi_queue_timeout = 10s

[site busy]
hosts = busy.test
root = $W
fastcgi = unix:$T/busy.sock
fastcgi_max_conns = 2
fastcgi_queue_timeout = 30s

[site hung]
hosts = hung.test
root = $W
fastcgi = 127.0.0.1:$BH_PORT
fastcgi_connect_timeout = 2s
EOF
start_wharf_ini "$T/wharf.ini"

# get HOST TARGET [CURL-ARGS]: sets ST (status), TM (seconds), RC (curl's exit status); the
# body is in $T/body.
get() {
    local host=$1 u=$2 out
    shift 2
    out=$(curl -s -o "$T/body" -w '%{http_code} %{time_total}' --path-as-is --max-time "${MAXT:-15}" \
        -H "Host: $host" "$@" "$(URL "$u")")
    RC=$?
    ST=${out% *}
    TM=${out#* }
}
# bg_get NAME HOST TARGET: curl in the background; when it is done, "STATUS TIME" is in
# $T/bg-NAME.st and the body in $T/bg-NAME.body.
bg_get() {
    (curl -s -o "$T/bg-$1.body" -w '%{http_code} %{time_total}' --max-time 40 -H "Host: $2" \
        "$(URL "$3")" >"$T/bg-$1.tmp" 2>/dev/null
    mv "$T/bg-$1.tmp" "$T/bg-$1.st") &
    BGPID=$!
    PIDS+=("$BGPID")
}
b1() { head -c 200 "$T/body" | tr '\n' ' ' | sed 's/ *$//'; } # the body on one line (for TAP)
bg_result() { echo "$(cut -d' ' -f1 "$T/bg-$1.st" 2>/dev/null) $(head -c 200 "$T/bg-$1.body" 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$WPID/status"; }

# ---- the backends work ---------------------------------------------------------------------------
get fake.test /fake.php
is "$ST $(b1)" "200 hello" "responder: /fake.php -> 200 hello (control)"
get raw.test /raw.php?mode=ok
is "$ST $(b1)" "200 raw ok" "raw_fake: mode=ok -> 200 'raw ok' (control)"
get rt.test "/sleep.php?s=0"
is "$ST $(b1)" "200 slept 0" "php-fpm: /sleep.php?s=0 -> 200 (control)"

# ---- every php-fpm child busy: static files still at full speed ------------------------------------
# 8 parallel 3 s requests on a pool of 2 children (fastcgi_max_conns = 2): 2 run, 6 queue.
for i in 1 2 3 4 5 6 7 8; do
    bg_get "busy$i" busy.test "/sleep.php?s=3&id=busy$i"
done
busy_started() { find "$W" -name 'started-busy*' | wc -l; }
for ((i = 0; i < 100; i++)); do
    [ "$(busy_started)" -ge 2 ] && break
    sleep 0.05
done
is "$(busy_started)" 2 "busy pool: 2 of the 8 slow requests run (pm.max_children = 2), 6 wait"
slow_static=0 bad_static=0 times=""
for i in 1 2 3 4 5; do
    t=$(curl -s -o "$T/static.out" -w '%{time_total}' --max-time 5 -H 'Host: busy.test' "$(URL /static.bin)")
    times="$times $t"
    within "$t" 0 0.2 || slow_static=$((slow_static + 1))
    [ "$(sha256sum <"$T/static.out" | cut -d' ' -f1)" = "$STATIC_SHA" ] || bad_static=$((bad_static + 1))
done
is "$slow_static" 0 "all php-fpm children busy: 5 static requests (256 KiB) each under 200 ms (got:$times)"
is "$bad_static" 0 "all php-fpm children busy: the static bodies are intact (sha256)"
is "$(busy_started)" 2 "the static requests ran while both children were still busy"

# ---- the upstream is unreachable (connect hangs): static files still at full speed ----------------
for i in 1 2 3 4; do
    bg_get "hung$i" hung.test /sleep.php?s=0
done
HUNG_LAST=$BGPID
slow_static=0 times=""
for i in 1 2 3 4 5; do
    t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 5 -H 'Host: hung.test' "$(URL /static.bin)")
    times="$times $t"
    within "$t" 0 0.2 || slow_static=$((slow_static + 1))
done
is "$slow_static" 0 "PHP requests stuck connecting: 5 static requests each under 200 ms (got:$times)"
kill -0 "$HUNG_LAST" 2>/dev/null
ok $? "the static requests ran while the PHP requests were still connecting"
for i in 1 2 3 4; do
    wait_file "$T/bg-hung$i.st" 10
done
hung=""
for i in 1 2 3 4; do
    hung="$hung $(cut -d' ' -f1 "$T/bg-hung$i.st" 2>/dev/null)"
done
is "$hung" " 502 502 502 502" "unreachable upstream (connect hangs): 502 after fastcgi_connect_timeout"
hung_t=$(cut -d' ' -f2 "$T/bg-hung1.st" 2>/dev/null)
within "${hung_t:-0}" 1.8 6
ok $? "unreachable upstream: the 502 comes after the 2 s connect timeout, not before (took ${hung_t:-?} s)"

# ---- read timeout -------------------------------------------------------------------------------
get rt.test "/sleep.php?s=3"
is "$ST" 504 "fastcgi_read_timeout = 1s, script sleeps 3 s -> 504"
within "$TM" 0.9 2.0
ok $? "read timeout: the 504 comes after ~1 s (took $TM s)"
get rt.test "/sleep.php?s=0"
is "$ST $(b1)" "200 slept 0" "after a read timeout the site still answers"

get fake.test "/fake.php?mode=hang&tag=t1"
is "$ST" 504 "a backend that never answers -> 504"
within "$TM" 0.9 2.0
ok $? "never answers: 504 after the 1 s read timeout (took $TM s)"
wait_grep "$T/responder.log" 'hang \[mode=hang&tag=t1\]: peer closed' 3
ok $? "after the read timeout wharf closed that backend connection"

get fake.test "/fake.php?mode=trickle"
is "$ST $(b1)" "200 trickle-done" "a response trickled 1 byte / 50 ms for 2 s passes a 1 s read timeout (it is per read)"
within "$TM" 1.5 10
ok $? "the trickle really took longer than the read timeout (took $TM s)"

get fake.test "/fake.php?mode=hangbody"
if [ "$ST" = 504 ]; then
    ok 0 "head + 'partial', then silence: 504"
else
    is "$ST $RC $(b1)" "200 18 partial" \
        "head + 'partial', then silence: the head was already sent, so the body is cut short and the connection closed (curl exit 18)"
fi
within "$TM" 0.9 2.0
ok $? "head + 'partial', then silence: ends after the 1 s read timeout (took $TM s)"

# a backend that stops reading the request body: fastcgi_send_timeout
head -c $((8 * 1024 * 1024)) /dev/zero >"$T/8m.bin"
get rawsend.test "/raw.php?mode=noread" --data-binary @"$T/8m.bin" -H 'Content-Type: application/octet-stream'
is "$ST" 504 "fastcgi_send_timeout = 1s, the backend never reads an 8 MiB body -> 504"
within "$TM" 0.9 3.0
ok $? "send timeout: the 504 comes after ~1 s (took $TM s)"

# ---- malformed responses --------------------------------------------------------------------------
get fake.test "/fake.php?mode=headers&n=4"
is "$ST $(b1)" "200 headers ok" "responder: 4 KiB of response head (4 x 1 KiB headers) -> 200 (control)"
big=$(curl -s -D - -o /dev/null "$(URL "/fake.php?mode=headers&n=4")" | tr -d '\r' | header_value X-Big-03)
is "${#big}" 1012 "the 1 KiB headers arrive whole (control)"
get fake.test "/fake.php?mode=bigheaders"
is "$ST" 502 "70 KiB of response headers -> 502"
get fake.test /fake.php
is "$ST $(b1)" "200 hello" "after the 70 KiB head the site still answers"

# Each malformed kind comes right after a good request, so it arrives on a kept-alive connection:
# the backend has answered (badly), so the request must not be sent again (it is a POST).
for kind in badversion otherid midrecord endfirst truncatedhead badhead; do
    get raw.test /raw.php?mode=ok
    get raw.test "/raw.php?mode=$kind" -d "x=1"
    is "$ST" 502 "raw_fake $kind -> 502"
done
counts=""
for kind in badversion otherid midrecord endfirst truncatedhead badhead; do
    counts="$counts $kind=$(grep -c " $kind: request id" "$T/raw.log")"
done
is "$counts" " badversion=1 otherid=1 midrecord=1 endfirst=1 truncatedhead=1 badhead=1" \
    "a POST that got a malformed answer is not sent again (the backend saw each once)"
for kind in truncated truncatedlate; do
    get raw.test /raw.php?mode=ok
    get raw.test "/raw.php?mode=$kind"
    if [ "$ST" = 502 ]; then
        ok 0 "raw_fake $kind (head + 100 of a body, no END_REQUEST) -> 502"
    else
        is "$ST $RC $(wc -c <"$T/body")" "200 18 100" \
            "raw_fake $kind: the head was already sent, so the body is cut short and the connection closed (curl exit 18)"
    fi
done
get raw.test /raw.php?mode=ok
get raw.test /raw.php?mode=overloaded
is "$ST" 503 "END_REQUEST with FCGI_OVERLOADED -> 503"
get raw.test /raw.php?mode=ok
is "$ST $(b1)" "200 raw ok" "after the malformed responses the site still answers"

# ---- STDERR -> error log, with the request id, capped ---------------------------------------------
log0=$(wc -c <"$T/wharf.err")
get fake.test "/fake.php?mode=stderr&tag=T1"
is "$ST $(b1)" "200 stderr done" "1 MiB on FCGI_STDERR: the response is still 200"
get fake.test "/fake.php?mode=stderr&tag=T2"
is "$ST $(b1)" "200 stderr done" "a second stderr flood: 200"
wait_grep "$T/wharf.err" 'stderr-flood T2 ' 3
first=$(grep 'stderr-flood T1 line 00000 ' "$T/wharf.err")
like "$first" "#[0-9]+:.*stderr-flood T1 line 00000 x{36}$" "the first stderr line is in the error log, whole, with the request id '#N'"
ids1=$(grep 'stderr-flood T1 ' "$T/wharf.err" | grep -oE '#[0-9]+:' | sort -u)
ids2=$(grep 'stderr-flood T2 ' "$T/wharf.err" | grep -oE '#[0-9]+:' | sort -u)
is "$(printf '%s\n' "$ids1" | wc -l)" 1 "every stderr line of one request carries the same request id ($ids1)"
[ -n "$ids1" ] && [ -n "$ids2" ] && [ "$ids1" != "$ids2" ]
ok $? "two requests' stderr lines carry different request ids ($ids1 vs $ids2)"
logged=$(($(wc -c <"$T/wharf.err") - log0))
within "$logged" 1 524288
ok $? "2 x 1 MiB of stderr is capped in the error log (grew by $logged bytes, under 512 KiB)"
get rt.test "/log.php?tag=E1"
is "$ST $(b1)" "200 logged" "php error_log(): 200"
wait_grep "$T/wharf.err" 'php-error-log E1' 3
like "$(grep 'php-error-log E1' "$T/wharf.err")" "#[0-9]+:.*php-error-log E1" "php error_log() reaches the error log with the request id"

# ---- pool full past the queue timeout -> 503 -------------------------------------------------------
bg_get full one.test "/sleep.php?s=2&id=full"
wait_file "$W/started-full" 5
get one.test "/sleep.php?s=0"
is "$ST" 503 "fastcgi_max_conns = 1 held by a slow request: the next one gets 503"
within "$TM" 0.9 1.9
ok $? "503 after the 1 s fastcgi_queue_timeout (took $TM s)"
wait_file "$T/bg-full.st" 5
is "$(bg_result full)" "200 slept 2" "the request holding the connection completes (200)"

# ---- client gone ---------------------------------------------------------------------------------
# php-fpm: the client of a 2 s script disappears once the script runs; with fastcgi_max_conns = 1
# the next request must not wait longer than the abandoned script (nor for a timeout).
bg_get gone gone.test "/sleep.php?s=2&id=gone"
GONE_PID=$BGPID
wait_file "$W/started-gone" 5
kill "$GONE_PID" 2>/dev/null
wait "$GONE_PID" 2>/dev/null
get gone.test "/sleep.php?s=0"
is "$ST $(b1)" "200 slept 0" "client gone mid-request: the next request works (fastcgi_max_conns = 1)"
within "$TM" 0 2.5
ok $? "client gone: the next request waits at most for the abandoned script (took $TM s)"

# responder: a request that never answers; its client goes away after 0.5 s. The backend
# connection must be closed (not kept until the 20 s read timeout), freeing the only slot.
MAXT=0.5 get fakegone.test "/fake.php?mode=hang&tag=gone"
is "$RC" 28 "client of a never-answering request gives up after 0.5 s"
wait_grep "$T/responder.log" 'hang \[mode=hang&tag=gone\]: peer closed' 3
ok $? "client gone: wharf closes (or aborts) the backend connection within 3 s"
MAXT=5 get fakegone.test /fake.php
is "$ST $(b1)" "200 hello" "client gone: the slot is free for the next request (fastcgi_max_conns = 1, queue timeout 2 s)"

# ---- a 50 MiB response; a slow client; back-pressure -------------------------------------------------
BIG=$((50 * 1024 * 1024))
WANT_SHA=$(python3 -c 'import hashlib,sys; n=int(sys.argv[1]); p=bytes(range(251)); print(hashlib.sha256((p*(n//251+1))[:n]).hexdigest())' "$BIG")
got=$(curl -s --max-time 20 -H 'Host: fakeslow.test' "$(URL /fake.php?mode=big)" | sha256sum | cut -d' ' -f1)
is "$got" "$WANT_SHA" "a 50 MiB response streams through intact (sha256)"

cat >"$T/slow.py" <<'PY'
import socket, sys, time
port, host, target, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("127.0.0.1", port))
s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, host)).encode())
buf, body, t0, max_rss, last = b"", None, time.time(), rss(), 0.0
while time.time() - t0 < 3.0:
    d = s.recv(16384)
    if not d:
        break
    if body is None:
        buf += d
        if b"\r\n\r\n" in buf:
            head, body = buf.split(b"\r\n\r\n", 1)
            status = head.split()[1].decode()
            body = bytearray(body)
    else:
        body += d
    got = len(body or buf)
    pause = t0 + got / 1048576.0 - time.time()   # ~1 MiB/s
    if pause > 0:
        time.sleep(pause)
    if time.time() - last > 0.1:
        max_rss, last = max(max_rss, rss()), time.time()
max_rss = max(max_rss, rss())
p = bytes(range(251))
n = len(body or b"")
same = bytes(body or b"") == (p * (n // 251 + 1))[:n]
print(status if body is not None else "none", n, "intact" if same else "corrupt", max_rss)
s.close()
PY
rss0=$(rss_kb)
read -r sst sn sintact srss < <(python3 "$T/slow.py" "$PORT" fakeslow.test /fake.php?mode=big "$WPID")
is "$sst $sintact" "200 intact" "slow client (~1 MiB/s for 3 s) on a 50 MiB response: 200, bytes intact"
within "${sn:-0}" 1048576 8388608
ok $? "the slow client read between 1 and 8 MiB in 3 s (read ${sn:-0} bytes)"
within "${srss:-999999}" 0 65536
ok $? "back-pressure: wharf's VmRSS stays under 64 MiB while a 50 MiB response waits for a slow client (max ${srss:-?} kB, before ${rss0} kB)"
wait_grep "$T/responder.log" 'big \[mode=big\]: write failed' 5
ok $? "slow client closed mid-body: the backend connection is closed (the responder's write fails)"
MAXT=5 get fakeslow.test /fake.php
is "$ST $(b1)" "200 hello" "after the abandoned 50 MiB response the only slot (fastcgi_max_conns = 1) serves again"

# ---- the 8 queued requests on the busy pool all complete ------------------------------------------------
for i in 1 2 3 4 5 6 7 8; do
    wait_file "$T/bg-busy$i.st" 20
done
busy=""
for i in 1 2 3 4 5 6 7 8; do
    busy="$busy|$(bg_result "busy$i")"
done
is "$busy" "|200 slept 3|200 slept 3|200 slept 3|200 slept 3|200 slept 3|200 slept 3|200 slept 3|200 slept 3" \
    "8 parallel 3 s requests on 2 children (fastcgi_max_conns = 2, queue timeout 30 s): all 200"

finish
