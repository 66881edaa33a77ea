#!/usr/bin/env bash
# [site NAME] deny = PREFIX ...: paths under a prefix are refused with 403, static or script.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www/private/sub" "$T/www/data" "$T/www/pub"
printf 'secret\n' >"$T/www/private/a.txt"
printf 'secret\n' >"$T/www/private/sub/b.txt"
printf 'page source\n' >"$T/www/data/page.txt"
printf 'public\n' >"$T/www/privateer.txt"
printf 'public\n' >"$T/www/pub/c.txt"
PORT=$(free_port)
cat >"$T/deny.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site a]
root = $T/www
browse = on
deny = /private /data/
EOF
start_wharf_ini "$T/deny.ini"
is "$(status /private/a.txt)" 403 "deny: a file under a denied prefix is 403"
is "$(status /private/sub/b.txt)" 403 "deny: nested paths too"
is "$(status /private)" 403 "deny: the prefix itself is 403 (no redirect that reveals it)"
is "$(status /private/)" 403 "deny: the directory listing too"
is "$(status /data/page.txt)" 403 "deny: a prefix written with a trailing slash works"
is "$(status /%70rivate/a.txt)" 403 "deny: applies after percent-decoding"
is "$(status /pub/../private/a.txt)" 403 "deny: applies after dot-segment resolution"
is "$(status /privateer.txt)" 200 "deny: matches whole segments (/privateer.txt is served)"
is "$(body /pub/c.txt)" "public" "deny: other paths are served"
unlike "$(body /private/a.txt)" "secret" "deny: the body never has the file"
cat >"$T/bad.ini" <<EOF
[site a]
root = $T/www
deny = private
EOF
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: deny: expected URL paths starting with '/', got 'private'" "deny: a relative prefix is a config error"
finish
