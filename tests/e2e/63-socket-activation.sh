#!/usr/bin/env bash
# Socket activation and sd_notify, through Debian's systemd-socket-activate (it passes sockets
# the way systemd does: LISTEN_FDS, LISTEN_PID, fds from 3). The passed socket is the listener
# (wharf could not bind the port itself: it is taken), matched to listen by address; a
# configured address that was not passed is bound as usual; a passed socket that matches no
# address is an error naming it. With NOTIFY_SOCKET set wharf sends READY=1 once it serves and
# STOPPING=1 on SIGTERM (the test reads the datagrams as systemd would), and php-fpm spawned
# by wharf does not get NOTIFY_SOCKET (it would claim readiness on wharf's behalf).
. "$(dirname "$0")/lib.sh"

command -v systemd-socket-activate >/dev/null || skip_all "systemd-socket-activate is not installed"
mkdir -p "$T/www"
printf 'activated' >"$T/www/index.html"
printf '<?php echo getenv("NOTIFY_SOCKET") === false ? "no-notify" : "notify:" . getenv("NOTIFY_SOCKET"), " ", getenv("LISTEN_FDS") === false ? "no-listen-fds" : "listen-fds";\n' >"$T/www/env.php"

# notify.py SOCKET OUT: a NOTIFY_SOCKET listener writing each datagram's lines to OUT
cat >"$T/notify.py" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1) # the sender's pid, as systemd sees it
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        out.write("pid=%d %s\n" % (pid, msg.decode().replace("\n", " ")))
        out.flush()
PY
python3 "$T/notify.py" "$T/notify.sock" "$T/notify.log" &
PIDS+=($!)
wait_file "$T/notify.sock" 5 || bail "the notify listener did not start"

# ---- the passed socket is the listener ---------------------------------------------------------
PORT=$(free_port)
PORT2=$(free_port)
cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
listen = 127.0.0.1:$PORT2
[site default]
root = $T/www
fastcgi = spawn
INI
systemd-socket-activate -l "127.0.0.1:$PORT" -E NOTIFY_SOCKET="$T/notify.sock" \
    "$WHARF" --config "$T/wharf.ini" 2>>"$T/wharf.err" &
WPID=$!
PIDS+=("$WPID")
listening() { grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }
wait_until 5000 listening "$PORT" || bail "systemd-socket-activate did not listen"
# systemd-socket-activate starts wharf on the first connection: the kernel queues it meanwhile
is "$(curl -s --max-time 20 "$(URL /)")" "activated" "the first connection, queued before wharf ran, is served"
is "$(body /)" "activated" "wharf serves on the socket passed by the service manager"
like "$(cat "$T/wharf.err")" "listening on 127.0.0.1:$PORT " "the passed socket is used for listen = 127.0.0.1:$PORT"
is "$(curl -s --max-time 5 "http://127.0.0.1:$PORT2/")" "activated" "a configured address that was not passed is bound by wharf"
wait_grep "$T/notify.log" "^pid=$WPID READY=1" 5
ok $? "sd_notify: READY=1 from wharf once it serves"
is "$(grep -c 'READY=1' "$T/notify.log")" 1 "...and from nobody else (php-fpm would send its own)"
is "$(body /env.php)" "no-notify no-listen-fds" "php-fpm spawned by wharf inherits neither NOTIFY_SOCKET nor LISTEN_FDS"
kill -TERM "$WPID"
wait_grep "$T/notify.log" "^pid=$WPID STOPPING=1" 5
ok $? "sd_notify: STOPPING=1 on SIGTERM"
wait "$WPID"
is "$?" 0 "wharf exits 0"
grep -n '' "$T/notify.log" | sed 's/^/# /'

# ---- a passed socket that matches no address ------------------------------------------------
PORT3=$(free_port)
cat >"$T/other.ini" <<INI
[server]
listen = 127.0.0.1:$PORT2
[site default]
root = $T/www
INI
systemd-socket-activate -l "127.0.0.1:$PORT3" "$WHARF" --config "$T/other.ini" 2>"$T/other.err" &
SPID=$!
PIDS+=("$SPID")
# a connection starts it (once systemd-socket-activate listens)
connects() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()' "$1" 2>/dev/null; }
wait_until 5000 connects "$PORT3"
wait_until 10000 sh -c "! kill -0 $SPID 2>/dev/null" || kill "$SPID"
wait "$SPID"
is "$?" 1 "a passed socket that matches no listen address: wharf refuses to start"
like "$(cat "$T/other.err")" "socket passed by the service manager on 127.0.0.1:$PORT3 \(fd 3\) matches no listen or tls_listen address" \
    "...naming the socket's address"

finish
