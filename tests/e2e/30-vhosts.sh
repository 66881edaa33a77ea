#!/usr/bin/env bash
# Virtual hosts: [site NAME] with hosts = ..., the site without hosts is the default (wherever
# it is declared), Host matching is case-insensitive and ignores the port, an absolute-form
# request target picks the site by its authority, and several listeners all serve.
. "$(dirname "$0")/lib.sh"

for s in a b def; do
    mkdir -p "$T/$s"
    printf 'site %s\n' "$s" >"$T/$s/index.html"
    printf 'who: %s\n' "$s" >"$T/$s/who.txt"
done
printf 'only in a\n' >"$T/a/only-a.txt"

PORT=$(free_port)
PORT2=$(free_port)
while [ "$PORT2" = "$PORT" ]; do PORT2=$(free_port); done
# The default site is declared between the two named sites, so "first site" and "site without
# hosts" are different answers.
cat >"$T/vhosts.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT 127.0.0.1:$PORT2

[site a]
hosts = a.example www.a.example
root = $T/a

[site fallback]
root = $T/def

[site b]
hosts = b.example
root = $T/b
EOF
start_wharf_ini "$T/vhosts.ini"

# rget TARGET HOST-HEADER-LINES: raw GET; prints the body only
rget() {
    raw "GET $1 HTTP/1.1\r\n${2}Connection: close\r\n\r\n" | tr -d '\r' | sed '1,/^$/d'
}
rstatus() {
    raw "GET $1 HTTP/1.1\r\n${2}Connection: close\r\n\r\n" | head -1 | tr -d '\r' | cut -d' ' -f2
}

is "$(body /who.txt -H 'Host: a.example')" "who: a" "Host: a.example -> site a"
is "$(body /who.txt -H 'Host: www.a.example')" "who: a" "Host: www.a.example (second name in hosts) -> site a"
is "$(body /who.txt -H "Host: A.EXAMPLE:$PORT")" "who: a" "Host: A.EXAMPLE:port -> site a (case-insensitive, port ignored)"
is "$(body /who.txt -H 'Host: a.example:1')" "who: a" "Host: a.example:1 -> site a (any port is ignored)"
is "$(body /who.txt -H 'Host: Www.A.Example')" "who: a" "Host: Www.A.Example -> site a (mixed case)"
is "$(body /who.txt -H 'Host: b.example')" "who: b" "Host: b.example -> site b (declared after the default site)"
is "$(body /who.txt -H "Host: B.Example:$PORT")" "who: b" "Host: B.Example:port -> site b"
is "$(body /who.txt -H 'Host: unknown.example')" "who: def" "unknown Host -> the site without hosts (not the first site)"
is "$(body /who.txt -H 'Host: a.example.evil')" "who: def" "Host a.example.evil is not a.example -> default site"
is "$(body /who.txt -H 'Host: xa.example')" "who: def" "Host xa.example is not a.example -> default site"
is "$(body /who.txt)" "who: def" "Host 127.0.0.1:port -> default site"
is "$(body / -H 'Host: b.example')" "site b" "the index of site b is site b's"
is "$(raw 'GET /who.txt HTTP/1.0\r\n\r\n' | tr -d '\r' | sed '1,/^$/d')" "who: def" "HTTP/1.0 without Host -> default site"

# files belong to their site only
is "$(status /only-a.txt -H 'Host: a.example')" 200 "a file of site a is found through Host a.example"
is "$(status /only-a.txt -H 'Host: b.example')" 404 "a file of site a is 404 through Host b.example"
is "$(status /only-a.txt -H 'Host: other.example')" 404 "a file of site a is 404 through the default site"

# absolute-form request target: its authority picks the site (and wins over Host)
is "$(rget http://b.example/who.txt 'Host: b.example\r\n')" "who: b" "absolute-form http://b.example/who.txt -> site b"
is "$(rget http://b.example/who.txt 'Host: a.example\r\n')" "who: b" "absolute-form authority b.example wins over Host: a.example"
is "$(rget "http://A.EXAMPLE:$PORT/who.txt" 'Host: b.example\r\n')" "who: a" "absolute-form http://A.EXAMPLE:port/ -> site a"
is "$(rget http://nowhere.example/who.txt 'Host: a.example\r\n')" "who: def" "absolute-form with an unknown host -> default site"
is "$(rstatus http://b.example/only-a.txt 'Host: a.example\r\n')" 404 "absolute-form to site b does not see site a's files"
is "$(rget http://a.example 'Host: b.example\r\n')" "site a" "absolute-form without a path means / of that site"

# two listeners: both serve, with the same sites
is "$(curl -s -H 'Host: a.example' "http://127.0.0.1:$PORT2/who.txt")" "who: a" "second listener: Host a.example -> site a"
is "$(curl -s -H 'Host: b.example' "http://127.0.0.1:$PORT2/who.txt")" "who: b" "second listener: Host b.example -> site b"
is "$(curl -s "http://127.0.0.1:$PORT2/who.txt")" "who: def" "second listener: unknown Host -> default site"
is "$(curl -s -H 'Host: a.example' "http://127.0.0.1:$PORT/who.txt")" "who: a" "first listener still serves site a"

# listen given on an indented continuation line and a repeated key also add listeners
P3=$(free_port)
P4=$(free_port)
cat >"$T/cont.ini" <<EOF
[server]
listen = 127.0.0.1:$P3
    127.0.0.1:$P4

[site only]
root = $T/b
EOF
OLDPORT=$PORT
PORT=$P3
start_wharf_ini "$T/cont.ini"
is "$(curl -s "http://127.0.0.1:$P3/who.txt")" "who: b" "listen continued on an indented line: first address serves"
is "$(curl -s "http://127.0.0.1:$P4/who.txt")" "who: b" "listen continued on an indented line: second address serves"
is "$(curl -s -H 'Host: anything.example' "http://127.0.0.1:$P4/who.txt")" "who: b" "a single site without hosts answers every Host"
PORT=$OLDPORT
finish
