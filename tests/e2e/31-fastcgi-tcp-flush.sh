#!/usr/bin/env bash
# PHP output flushed in small pieces over a kept TCP connection to php-fpm arrives without the
# ~40 ms delayed-ACK stall per piece: php-fpm writes each flush as a small segment without
# TCP_NODELAY (Nagle holds the next one until the previous is acknowledged), so wharf must
# acknowledge at once (TCP_QUICKACK after every read). A unix-socket upstream is the control.
. "$(dirname "$0")/lib.sh"

W=$T/www
mkdir -p "$W"
# flush.php: 60 kB in 12 flushed pieces of 5 kB
cat >"$W/flush.php" <<'PHP'
<?php
$piece = str_repeat("x", 4999) . "\n";
for ($i = 0; $i < 12; $i++) {
    echo $piece;
    flush();
}
PHP
PF=$(free_port)
start_fpm tcp "127.0.0.1:$PF"
start_fpm unix "$T/fpm.sock"

PORT=$(free_port)
cat >"$T/wharf.ini" <<INI
[server]
listen = 127.0.0.1:$PORT
[site tcp]
root = $W
fastcgi = 127.0.0.1:$PF
[site unix]
hosts = unix.test
root = $W
fastcgi = unix:$T/fpm.sock
INI
start_wharf_ini "$T/wharf.ini"

# median_ms HOST: the median time of 9 fetches of flush.php over one keep-alive connection
# (after 2 warm-ups, so php-fpm's kept connection and OPcache are ready), and the body length
median_ms() {
    python3 - "$PORT" "$1" <<'PY'
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
times, size = [], 0
for i in range(11):
    t = time.monotonic()
    c.request("GET", "/flush.php", headers={"Host": sys.argv[2]})
    r = c.getresponse()
    size = len(r.read())
    if i >= 2:
        times.append((time.monotonic() - t) * 1000)
times.sort()
print("%.1f %d" % (times[len(times) // 2], size))
PY
}
read -r unix_ms unix_size < <(median_ms unix.test)
is "$unix_size" 60000 "unix socket: flush.php sends 60 kB in 12 pieces"
ok "$(awk -v t="$unix_ms" 'BEGIN { exit !(t < 20) }'; echo $?)" "(control) unix socket: median $unix_ms ms"
read -r tcp_ms tcp_size < <(median_ms tcp.test)
is "$tcp_size" 60000 "TCP: flush.php sends 60 kB in 12 pieces"
# the stall costs 40 ms or more per page; the rest takes about 1 ms even on a busy machine
ok "$(awk -v t="$tcp_ms" 'BEGIN { exit !(t < 20) }'; echo $?)" \
    "TCP: no delayed-ACK stall between the pieces (median $tcp_ms ms, under 20 ms)"
finish
