#!/usr/bin/env bash
# [site NAME] redirect = FROM TO [STATUS] and redirect_host = www|apex [STATUS]: answered by
# wharf itself, after path normalisation and deny, before any file or script is looked at.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www/new" "$T/www/private"
printf 'new\n' >"$T/www/new/a.txt"
printf 'kept\n' >"$T/www/kept.txt"
PORT=$(free_port)
cat >"$T/r.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
[site a]
hosts = example.org www.example.org other.net
root = $T/www
deny = /private
redirect = /old /new
redirect = =/wp-login.php /login 301
redirect = /blog https://blog.example.net/ 308
redirect = *.asp /index.html 307
redirect = /private /elsewhere
redirect = /old/first /never
redirect_host = www 301
EOF
start_wharf_ini "$T/r.ini"
W=(-H "Host: www.example.org")
loc() { headers "$1" "${@:2}" | header_value Location; }
is "$(status /old/a.txt "${W[@]}")" 302 "redirect: 302 by default"
is "$(loc '/old/a.txt?x=1&y=%20' "${W[@]}")" "/new/a.txt?x=1&y=%20" "redirect: a prefix keeps the rest of the path and the query"
is "$(loc /old "${W[@]}")" "/new" "redirect: the prefix itself"
is "$(loc /old/first/x "${W[@]}")" "/new/first/x" "redirect: the first matching rule wins"
is "$(loc '/%6Fld/b%20c.txt' "${W[@]}")" "/new/b%20c.txt" "redirect: matched after percent-decoding, the rest encoded again"
is "$(loc /x/../old/y "${W[@]}")" "/new/y" "redirect: matched after dot-segment resolution"
is "$(status /older "${W[@]}")" 404 "redirect: whole segments only (/older is not /old)"
is "$(status /wp-login.php "${W[@]}")" 301 "redirect: exact form, its status"
is "$(loc '/wp-login.php?redirect_to=x' "${W[@]}")" "/login?redirect_to=x" "redirect: exact form keeps the query"
is "$(status /wp-login.php/x "${W[@]}")" 404 "redirect: exact form matches only that path"
is "$(status /blog/2024/post "${W[@]}")" 308 "redirect: 308"
is "$(loc /blog/2024/post "${W[@]}")" "https://blog.example.net/2024/post" "redirect: to another site, the rest kept"
is "$(loc /shop/cart.asp "${W[@]}")" "/index.html" "redirect: glob form goes to TO itself"
is "$(status /shop/cart.asp "${W[@]}")" 307 "redirect: 307"
is "$(status /private/x "${W[@]}")" 403 "redirect: deny comes first"
is "$(status /old/a.txt -X POST "${W[@]}" -d x=1)" 302 "redirect: any method"
is "$(body /kept.txt "${W[@]}")" "kept" "redirect: other paths are served"
like "$(body /old/a.txt "${W[@]}")" "302" "redirect: a small body names the status"
# redirect_host = www: the apex goes to www, with the target as sent; other hosts stay
is "$(status /kept.txt -H 'Host: example.org')" 301 "redirect_host: apex redirected with its status"
is "$(loc '/kept.txt?a=%41' -H "Host: Example.ORG:$PORT")" "http://www.example.org:$PORT/kept.txt?a=%41" "redirect_host: to www, port, path and query kept"
is "$(loc /old/a.txt -H 'Host: example.org')" "http://www.example.org/old/a.txt" "redirect_host: before the path rules"
is "$(status /kept.txt -H 'Host: other.net')" 200 "redirect_host: a host without its www. form is served"
is "$(status /kept.txt -H 'Host: unknown.test')" 200 "redirect_host: an unknown Host is never a redirect target"
# apex
new_port
sed -e "s/127.0.0.1:[0-9]*/127.0.0.1:$PORT/" -e 's/^redirect_host = www 301/redirect_host = apex/' "$T/r.ini" >"$T/apex.ini"
restart_with "$T/apex.ini"
is "$(loc /kept.txt "${W[@]}")" "http://example.org/kept.txt" "redirect_host = apex: www goes to the apex"
is "$(status /kept.txt "${W[@]}")" 302 "redirect_host: 302 by default"
is "$(status /kept.txt -H 'Host: example.org')" 200 "redirect_host = apex: the apex is served"
# a reload (SIGHUP) brings new rules and drops old ones, for the next request
sed -e 's|^redirect = /old /new$|redirect = /kept.txt /new/a.txt 301|' "$T/apex.ini" >"$T/apex2.ini"
cp "$T/apex2.ini" "$T/apex.ini"
kill -HUP "$WPID"
wait_until 10000 status_is /kept.txt 301 -H 'Host: example.org'
ok $? "reload: a new redirect rule takes effect"
is "$(status /old/a.txt -H 'Host: example.org')" 404 "reload: a removed rule is gone"

# malformed values are config errors at their lines
cat >"$T/bad.ini" <<EOF
[site a]
root = $T/www
redirect = /old
redirect = /old /new 303
redirect = old /new
redirect = /old //evil.example
redirect = /a/../b /new
redirect_host = wwww
EOF
out=$("$WHARF" --config "$T/bad.ini" --test 2>&1)
like "$out" "bad.ini:3: redirect: expected FROM TO \[STATUS\]: a path pattern and a target, got '/old'" "redirect: one word is a config error"
like "$out" "bad.ini:4: redirect: expected a redirect status is 301, 302, 307 or 308" "redirect: 303 is a config error"
like "$out" "bad.ini:5: redirect: .*path pattern starts with '/'" "redirect: a relative FROM"
like "$out" "bad.ini:6: redirect: .*not '//host'" "redirect: a scheme-relative TO"
like "$out" "bad.ini:7: redirect: .*normalised" "redirect: a FROM with '..'"
like "$out" "bad.ini:8: redirect_host: expected www, apex or off" "redirect_host: a bad word"
cat >"$T/bad2.ini" <<EOF
[site a]
root = $T/www
hosts = example.org
redirect_host = www
EOF
out=$("$WHARF" --config "$T/bad2.ini" --test 2>&1)
like "$out" "bad2.ini:4: \[site a\]: redirect_host needs a name and its www. form in hosts" "redirect_host: hosts without a www pair"
finish
