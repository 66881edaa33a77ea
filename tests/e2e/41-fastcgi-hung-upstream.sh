#!/usr/bin/env bash
# A hung upstream (php-fpm stopped with SIGSTOP: connections are accepted by the kernel, nothing
# answers) against a healthy one: a GET or HEAD that got nothing back within
# fastcgi_read_timeout is retried once on the other upstream, and the hung one is skipped for a
# while; a POST is never sent twice (504); nor is a GET whose response had begun (the client
# gets the truncated response, the script ran once); with no other upstream the GET gets 504.
. "$(dirname "$0")/lib.sh"

W=$T/www
mkdir -p "$W"
printf '<?php echo getenv("FPM_POOL"), "\\n";\n' >"$W/pool.php"
cat >"$W/post.php" <<'PHP'
<?php file_put_contents(__DIR__ . '/posted', getenv('FPM_POOL') . "\n", FILE_APPEND);
echo getenv('FPM_POOL'), "\n";
PHP
# begun.php: answers its head and a first line at once, then stays silent for 3 s
cat >"$W/begun.php" <<'PHP'
<?php while (ob_get_level()) ob_end_flush();
file_put_contents(__DIR__ . '/begun', getenv('FPM_POOL') . "\n", FILE_APPEND);
echo "first line\n";
flush();
sleep(3);
echo "never seen\n";
PHP
start_fpm a "$T/a.sock" "$(printf 'env[FPM_POOL] = a\npm.max_children = 6')"
FPM_A=$FPM_PID
start_fpm b "$T/b.sock" "$(printf 'env[FPM_POOL] = b\npm.max_children = 6')"

children_of() {
    local d
    for d in /proc/[0-9]*; do
        [ "$(awk '/^PPid:/ { print $2 }' "$d/status" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
    done
}
KIDS_A=$(children_of "$FPM_A")
STOPPED=
# stopped processes do not die of SIGTERM: let them run again before lib.sh's cleanup
resume_a() {
    # shellcheck disable=SC2086 # one pid per word
    [ -n "$STOPPED" ] && kill -CONT "$FPM_A" $KIDS_A 2>/dev/null
    STOPPED=
}
trap 'resume_a; cleanup' EXIT

PORT=$(free_port)
site() { # site NAME UPSTREAMS
    printf '[site %s]\nhosts = %s.test\nroot = %s\nfastcgi = %s\nfastcgi_read_timeout = 1s\n' \
        "$1" "$1" "$W" "$2"
}
{
    printf '[server]\nlisten = 127.0.0.1:%s\n' "$PORT"
    site get "unix:$T/a.sock unix:$T/b.sock"
    site head "unix:$T/a.sock unix:$T/b.sock"
    site post "unix:$T/a.sock unix:$T/b.sock"
    site begun "unix:$T/a.sock unix:$T/b.sock"
    site only "unix:$T/a.sock"
} >"$T/wharf.ini"
start_wharf_ini "$T/wharf.ini"

req() { # req HOST PATH [curl args]: "STATUS TIME BODY"
    local h=$1 p=$2
    shift 2
    curl -s -w '\n%{http_code} %{time_total}' --max-time 15 -H "Host: $h.test" "$@" "$(URL "$p")" |
        awk '{ lines[NR] = $0 } END { printf "%s", lines[NR]; for (i = 1; i < NR; i++) printf " %s", lines[i]; print "" }'
}
within() { awk -v t="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(t >= lo && t < hi) }'; }

is "$(req get /pool.php | cut -d' ' -f1,3)" "200 a" "(control) round robin starts with pool a"
is "$(req get /pool.php | cut -d' ' -f1,3)" "200 b" "(control) then pool b"

# shellcheck disable=SC2086
kill -STOP "$FPM_A" $KIDS_A
STOPPED=1

read -r st t b < <(req get /pool.php)
is "$st $b" "200 b" "GET whose upstream hangs: retried on the other upstream after the read timeout"
within "$t" 0.9 5
ok $? "...after fastcgi_read_timeout (1 s), not before and not much later (took $t s)"
like "$(cat "$T/wharf.err")" "a\.sock: no answer within fastcgi_read_timeout; retrying the GET" \
    "the retry is logged, naming the hung upstream"
slow=0
for i in 1 2 3 4 5 6; do
    read -r st t b < <(req get /pool.php)
    [ "$st $b" = "200 b" ] || slow=$((slow + 10))
    within "$t" 0 0.5 || slow=$((slow + 1))
done
is "$slow" 0 "then the hung upstream is skipped: 6 GETs answered by pool b at once"

read -r st t b < <(req head /pool.php -I)
is "$st" 200 "HEAD whose upstream hangs: retried on the other upstream (200)"

read -r st t b < <(req post /post.php -d x=1)
is "$st" 504 "POST whose upstream hangs: 504, never sent to a second upstream"
within "$t" 0.9 5
ok $? "...after the read timeout (took $t s)"
is "$(cat "$W/posted" 2>/dev/null)" "" "the POST did not run on pool b"

read -r st t b < <(req only /pool.php)
is "$st" 504 "GET on a site whose only upstream hangs: 504"

resume_a
# begun.php on pool a answers at once, then is silent past the timeout: not retried
out=$(curl -s -w '\n%{http_code}' --max-time 15 -H 'Host: begun.test' "$(URL /begun.php)")
like "$out" "^first line" "a GET whose response had begun gets what came (not retried)"
unlike "$out" "never seen" "...cut short at the read timeout"
is "$(wc -l <"$W/begun" | tr -d ' ')" 1 "...and the script ran once"
finish
