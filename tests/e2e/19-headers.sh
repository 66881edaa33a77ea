#!/usr/bin/env bash
# [site NAME] header = PATH [=|-]Name[: value], cache_control = PATH VALUE and
# security_headers = on: on static files (cached and not), wharf's own errors, redirects and
# PHP responses (real php-fpm); PHP's own headers win over the security defaults; a cached
# file's shared response never carries one request's headers.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www/assets" "$T/www/big"
printf 'small\n' >"$T/www/assets/a.css"
printf 'index\n' >"$T/www/index.html"
for i in $(seq 200); do echo "<p>line $i of a page that compresses well</p>"; done >"$T/www/page.html"
head -c 600000 /dev/zero | tr '\0' 'x' >"$T/www/big/b.txt" # beyond file_cache_max_file
cat >"$T/www/app.php" <<'EOF'
<?php header('X-Frame-Options: DENY'); header('X-From-App: app'); header('X-Powered-By: PHP');
echo 'app';
EOF
start_fpm a "$T/fpm.sock"
PORT=$(free_port)
cat >"$T/h.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site a]
hosts = a.test
root = $T/www
gzip = on
fastcgi = unix:$T/fpm.sock
redirect = /old /new
header = / X-Site: wharf
header = /assets X-Asset: yes
header = /assets X-Asset: twice
header = *.php =X-From-App: rule
header = *.php -X-Powered-By
header = / -Server
header = =/index.html Link: </assets/a.css>; rel=preload
cache_control = /assets max-age=3600, public
cache_control = / no-cache
security_headers = on
[site b]
hosts = b.test
root = $T/www
gzip = on
EOF
start_wharf_ini "$T/h.ini"
A=(-H "Host: a.test")
h=$(headers /assets/a.css "${A[@]}")
is "$(header_value X-Site <<<"$h")" "wharf" "header: a prefix rule on a static file"
is "$(grep -ic '^X-Asset:' <<<"$h")" 2 "header: two add rules give two lines"
is "$(header_value Cache-Control <<<"$h")" "max-age=3600, public" "cache_control: the first matching rule"
exp=$(header_value Expires <<<"$h")
now=$(date +%s)
ok "$( [ -n "$exp" ] && t=$(date -d "$exp" +%s) && within $((t - now)) 3500 3700; echo $?)" "cache_control: Expires is now + max-age"
is "$(header_value X-Content-Type-Options <<<"$h")" "nosniff" "security_headers: nosniff"
is "$(header_value X-Frame-Options <<<"$h")" "SAMEORIGIN" "security_headers: a frame policy"
like "$(header_value Referrer-Policy <<<"$h")" "strict-origin" "security_headers: a referrer policy"
like "$(header_value Permissions-Policy <<<"$h")" "camera=\(\)" "security_headers: a permissions policy"
is "$(header_value Server <<<"$h")" "" "header: -Server removes wharf's own Server header"
like "$(header_value Content-Type <<<"$h")" "^text/css" "header: the file's own headers stay"
is "$(header_value Link < <(headers /index.html "${A[@]}"))" "</assets/a.css>; rel=preload" "header: an exact rule, a value with ';' and '<'"
is "$(header_value Link < <(headers /assets/a.css "${A[@]}"))" "" "header: an exact rule matches only its path"
# conditional request: 304 carries Cache-Control too
etag=$(header_value ETag <<<"$h")
h304=$(headers /assets/a.css "${A[@]}" -H "If-None-Match: $etag")
like "$(head -1 <<<"$h304")" " 304" "cache_control: the 304"
is "$(header_value Cache-Control <<<"$h304")" "max-age=3600, public" "cache_control: on the 304 as on the 200"
# a range: 206
is "$(header_value Cache-Control < <(headers /assets/a.css "${A[@]}" -r 0-1))" "max-age=3600, public" "cache_control: on a 206"
# large file (sent from the file, not the cache)
hb=$(headers /big/b.txt "${A[@]}")
is "$(header_value X-Site <<<"$hb")" "wharf" "header: on a file sent with sendfile"
is "$(header_value Cache-Control <<<"$hb")" "no-cache" "cache_control: the catch-all rule, no Expires without max-age"
is "$(header_value Expires <<<"$hb")" "" "cache_control: no max-age, no Expires"
# errors and redirects get the header rules, not cache_control
h404=$(headers /missing "${A[@]}")
is "$(header_value X-Site <<<"$h404")" "wharf" "header: on wharf's 404"
is "$(header_value X-Content-Type-Options <<<"$h404")" "nosniff" "security_headers: on a 404"
is "$(header_value Cache-Control <<<"$h404")" "no-store" "cache_control: never on an error"
is "$(header_value X-Site < <(headers /old/x "${A[@]}"))" "wharf" "header: on a redirect"
# PHP: the application's headers win over the security defaults; rules apply; no cache_control
hp=$(headers /app.php "${A[@]}")
is "$(body /app.php "${A[@]}")" "app" "PHP runs"
is "$(header_value X-Frame-Options <<<"$hp")" "DENY" "security_headers: PHP's own X-Frame-Options wins"
is "$(grep -ic '^X-Frame-Options:' <<<"$hp")" 1 "security_headers: and is not doubled"
is "$(header_value X-Content-Type-Options <<<"$hp")" "nosniff" "security_headers: added where PHP said nothing"
is "$(header_value X-From-App <<<"$hp")" "rule" "header: =Name replaces PHP's header"
is "$(grep -ic '^X-From-App:' <<<"$hp")" 1 "header: =Name leaves one line"
is "$(header_value X-Powered-By <<<"$hp")" "" "header: -Name removes PHP's header"
is "$(header_value Cache-Control <<<"$hp")" "" "cache_control: static responses only"
# the cached file's shared response is untouched: site b (same root, no rules) gets it bare
for i in 1 2; do headers /assets/a.css "${A[@]}" >/dev/null; done
hbare=$(headers /assets/a.css -H "Host: b.test")
is "$(header_value X-Site <<<"$hbare")" "" "a site without rules: no header from another site's rules"
is "$(header_value X-Content-Type-Options <<<"$hbare")" "" "a site without rules: no security headers"
like "$(header_value Server <<<"$hbare")" "^wharf/" "a site without rules: Server still there"
is "$(body /assets/a.css -H "Host: b.test")" "small" "a site without rules: the body"
is "$(body /assets/a.css "${A[@]}")" "small" "a site with rules: the same cached body"
for i in 1 2; do # the second is the cached gzip variant
    hz=$(headers /page.html "${A[@]}" -H 'Accept-Encoding: gzip')
    is "$(header_value Content-Encoding <<<"$hz")/$(header_value X-Site <<<"$hz")" "gzip/wharf" "gzip variant ($i) gets the rules"
    is "$(curl -s -H "Host: a.test" -H 'Accept-Encoding: gzip' "$(URL /page.html)" | gunz | fsha /dev/stdin)" "$(fsha "$T/www/page.html")" "gzip variant ($i): body intact"
done
is "$(header_value X-Site < <(headers /page.html -H "Host: b.test" -H 'Accept-Encoding: gzip'))" "" "the shared gzip variant: no header from site a"

# malformed values are config errors at their lines
cat >"$T/bad.ini" <<EOF
[site a]
root = $T/www
header = / X-A
header = / Content-Length: 1
header = X-A: b
cache_control = /assets max-age=soon
cache_control = /assets
security_headers = maybe
header = / -X-A: b
EOF
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: header: expected PATH Name: value" "header: no value is a config error"
like "$out" "bad.ini:4: header: expected a header that frames the response" "header: Content-Length is refused"
like "$out" "bad.ini:5: header: expected a path pattern starts with" "header: no path pattern"
like "$out" "bad.ini:6: cache_control: expected max-age=SECONDS" "cache_control: a bad max-age"
like "$out" "bad.ini:7: cache_control: expected Cache-Control directives" "cache_control: no directives"
like "$out" "bad.ini:8: security_headers: expected" "security_headers: not a bool"
like "$out" "bad.ini:9: header: expected -Name removes a header and takes no value" "header: -Name with a value"
finish
