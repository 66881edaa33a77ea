#!/usr/bin/env bash
# --php without an address: wharf starts php-fpm itself, restarts it when it dies, stops it.
. "$(dirname "$0")/lib.sh"

find_fpm >/dev/null || skip_all "php-fpm is not installed"
mkdir -p "$T/www"
printf '<?php echo "pid:", getmypid();\n' >"$T/www/pid.php"
# slow.php waits (up to 10 s) until 8 requests have arrived: "together PID" when they ran at once
mkdir -p "$T/arrived"
cat >"$T/www/slow.php" <<PHP
<?php touch("$T/arrived/" . (int)\$_GET["i"]);
for (\$t = 0; \$t < 500 && count(glob("$T/arrived/*")) < 8; \$t++) usleep(20000);
echo count(glob("$T/arrived/*")) >= 8 ? "together " : "alone ", getmypid(), "\n";
PHP
start_wharf --root "$T/www" --php

like "$(body /pid.php)" '^pid:[0-9]+$' "spawn: wharf's own php-fpm runs PHP"
master=$(pgrep -P "$WPID" | head -1)
ok $([ -n "$master" ]; echo $?) "spawn: php-fpm is a child of wharf"
old_children=$(pgrep -P "$master" | tr '\n' ' ')
ok $([ -n "$old_children" ]; echo $?) "spawn: php-fpm has workers"
is "$(echo "$old_children" | wc -w)" 8 "spawn: pm.max_children is 8 (CONFIG_FCGI_SPAWN_CHILDREN)"
# as many requests in flight as children: 8 parallel requests run at once (each waits in PHP
# until all 8 arrived: no clock involved, so a loaded machine cannot fail it)
CURLS=()
for i in 1 2 3 4 5 6 7 8; do
    curl -s --max-time 10 -o "$T/slow.$i" "$(URL "/slow.php?i=$i")" &
    CURLS+=($!)
done
wait "${CURLS[@]}"
is "$(cat "$T"/slow.* | sort -u | wc -l)" 8 "spawn: 8 parallel requests ran on 8 different children"
is "$(cat "$T"/slow.* | cut -d' ' -f1 | sort | uniq -c | tr -s ' ')" " 8 together" \
    "spawn: ...at once, fastcgi_max_conns follows pm.max_children (each saw all 8 arrive)"

kill -9 "$master"
recovered=1
for ((i = 0; i < 100; i++)); do
    new=$(pgrep -P "$WPID" | head -1)
    if [ -n "$new" ] && [ "$new" != "$master" ] && [[ "$(body /pid.php)" == pid:* ]]; then
        recovered=0
        break
    fi
    sleep 0.1
done
ok $recovered "supervision: a killed php-fpm is restarted and serves again within 10 s"
alive() { # alive PID: running and not a zombie (PID 1 here may never reap orphans)
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}
left=0
for ((i = 0; i < 20; i++)); do
    left=0
    for p in $old_children; do alive "$p" && left=$((left + 1)); done
    [ "$left" -eq 0 ] && break
    sleep 0.1
done
is "$left" "0" "supervision: the dead master's workers are gone (they held the old socket)"
grep -q "php-fpm exited (signal 9)" "$T/wharf.err"
ok $? "supervision: the error log says php-fpm died and is restarted"

new_master=$(pgrep -P "$WPID" | head -1)
stop_pid "$WPID"
alive "$new_master"
ok $((! $?)) "stop: php-fpm stops with wharf"
finish
