#!/usr/bin/env bash
# Automatic HTTPS against Debian's pebble (Let's Encrypt's test CA) on loopback, with a real
# HTTP-01 validation of wharf's plain listener (pebble-challtestsrv answers pebble's DNS
# queries with 127.0.0.1): start-up does not wait (HTTP, and HTTPS with a temporary
# self-signed certificate, while the CA is unreachable); a failed challenge is retried with
# backoff; two tls = auto sites get their own certificates on one listener (SNI); a short
# certificate lifetime forces a renewal, served without a restart; a host added by a reload gets
# a certificate naming it at once.
. "$(dirname "$0")/lib.sh"

for t in pebble pebble-challtestsrv uacme openssl; do
    command -v $t >/dev/null || skip_all "$t is not installed"
done
unshare -rm true 2>/dev/null || skip_all "no unprivileged user namespaces (acme_ca_roots)"

# pebble's own HTTPS certificate, from a CA that only uacme (acme_ca_roots) trusts
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test-ca -days 2 \
    -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null || bail "cannot make a CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$T/pebble.key" -out "$T/pebble.csr" 2>/dev/null &&
    openssl x509 -req -in "$T/pebble.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -days 2 \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n') \
        -out "$T/pebble.pem" 2>/dev/null || bail "cannot make pebble's certificate"

PORT=$(free_port)
PORT2=$(free_port)  # where pebble validates: not wharf's at first
TLS_PORT=$(free_port)
ACME_PORT=$(free_port)
PM_PORT=$(free_port)
DNS_PORT=$(free_port)
CT_PORT=$(free_port)
LIFETIME=60 # seconds: renewed when a third is left (40 s after issuance)
cat >"$T/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT", "managementListenAddress": "127.0.0.1:$PM_PORT",
 "certificate": "$T/pebble.pem", "privateKey": "$T/pebble.key", "httpPort": $PORT2,
 "tlsPort": $(free_port), "ocspResponderURL": "", "externalAccountBindingRequired": false,
 "certificateValidityPeriod": $LIFETIME}}
EOF
mkdir -p "$T/a" "$T/b"
printf 'site a\n' >"$T/a/x.txt"
printf 'site b\n' >"$T/b/x.txt"
ini() { # ini LISTEN...: the configuration, plain listeners given
    cat >"$T/wharf.ini" <<EOF
[server]
listen = $*
tls_listen = 127.0.0.1:$TLS_PORT

[site a]
hosts = a.test
root = $T/a
tls = auto
acme_email = admin@a.test
acme_ca = https://127.0.0.1:$ACME_PORT/dir
acme_ca_roots = $T/ca.pem
acme_dir = $T/acme
acme_retry = 1s

[site b]
hosts = ${B_HOSTS:-b.test}
root = $T/b
tls = auto
acme_ca = https://127.0.0.1:$ACME_PORT/dir
acme_ca_roots = $T/ca.pem
acme_dir = $T/acme
acme_retry = 1s
EOF
}
ini "127.0.0.1:$PORT"
"$WHARF" --config "$T/wharf.ini" --test >/dev/null 2>&1
ok $? "--test accepts tls = auto with the acme_* keys"

# 1. the CA is not there yet: wharf starts at once, HTTPS with a temporary certificate
t0=$(now_ms)
start_wharf_ini "$T/wharf.ini"
within $(($(now_ms) - t0)) 0 10000
ok $? "start-up does not wait for a certificate"
is "$(body /x.txt -H 'Host: a.test')" "site a" "plain HTTP is served meanwhile"
subject_issuer() { # subject_issuer NAME: "subject|issuer" CNs of the certificate served for NAME
    openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$1" </dev/null 2>/dev/null |
        openssl x509 -noout -subject -issuer -nameopt multiline 2>/dev/null |
        awk '/commonName/ { sub(/.*= /, ""); printf "%s%s", sep, $0; sep = "|" }'
}
is "$(subject_issuer a.test)" "a.test|a.test" "HTTPS serves a temporary self-signed certificate for a.test"
is "$(curl -sk --resolve "a.test:$TLS_PORT:127.0.0.1" "https://a.test:$TLS_PORT/x.txt")" "site a" \
    "... and the site over it"
wait_grep "$T/wharf.err" "acme.*site a: attempt 1 failed" 30
ok $? "an attempt without a reachable CA fails and is logged"

# 2. the CA is up, but its validation reaches nothing (port 80 closed): retried, failing
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS_PORT" \
    -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$CT_PORT" \
    >"$T/challtestsrv.log" 2>&1 &
PIDS+=($!)
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
    pebble -config "$T/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$T/pebble.log" 2>&1 &
PIDS+=($!)
wait_grep "$T/pebble.log" "Listening on" 20 || bail "pebble did not start"
wait_grep "$T/pebble.log" "set INVALID by completed challenge" 60
ok $? "pebble's HTTP-01 validation fails while nothing listens where it asks"
wait_grep "$T/wharf.err" "acme: uacme: .*dial tcp 127.0.0.1:$PORT2: connect: connection refused" 30
ok $? "... and uacme's report of it reaches wharf's log"
wait_grep "$T/wharf.err" "acme.*site a: attempt [2-9] failed" 60
ok $? "... the failed challenge is logged and retried with backoff"
is "$(subject_issuer a.test)" "a.test|a.test" "the temporary certificate is still served"

# 3. the port is opened (a reload): the next attempt gets the certificate, without a restart
ini "127.0.0.1:$PORT 127.0.0.1:$PORT2"
kill -HUP "$WPID"
wait_grep "$T/wharf.err" "site a: certificate obtained" 90
ok $? "after the reload the challenge passes and a certificate is obtained"
wait_grep "$T/wharf.err" "site b: certificate obtained" 90
ok $? "the second tls = auto site gets its own"
curl -sk "https://127.0.0.1:$PM_PORT/roots/0" >"$T/root.pem"
curl -sk "https://127.0.0.1:$PM_PORT/intermediates/0" >"$T/inter.pem"
grep -q "BEGIN CERTIFICATE" "$T/root.pem" || bail "no root from pebble's management port"
from_pebble() { subject_issuer "$1" | grep -q "^$1|Pebble Intermediate"; }
wait_until 10000 from_pebble a.test
ok $? "a.test is served pebble's certificate (issuer: $(subject_issuer a.test | cut -d'|' -f2))"
wait_until 10000 from_pebble b.test
ok $? "b.test is served its own, on the same listener (SNI)"
is "$(curl -s --cacert "$T/root.pem" --resolve "a.test:$TLS_PORT:127.0.0.1" \
    "https://a.test:$TLS_PORT/x.txt")" "site a" "curl verifies a.test's chain up to pebble's root"
is "$(curl -s --cacert "$T/root.pem" --resolve "b.test:$TLS_PORT:127.0.0.1" \
    "https://b.test:$TLS_PORT/x.txt")" "site b" "... and b.test's"
ok $([ -s "$T/acme/private/key.pem" ] && [ -s "$T/acme/a.test/cert.pem" ] &&
    [ -s "$T/acme/private/a.test/key.pem" ]; echo $?) "acme_dir holds the account key, a.test's certificate and key"
ok $([ -z "$(ls -A "$T/acme/challenges")" ]; echo $?) "the challenge tokens are removed after use"
is "$(status /.well-known/acme-challenge/nosuchtoken -H 'Host: a.test')" "404" \
    "an unknown challenge token is 404"

# a host added to a site (a reload): its certificate no longer names every host: a new one
B_HOSTS="b.test www.b.test"
ini "127.0.0.1:$PORT 127.0.0.1:$PORT2"
kill -HUP "$WPID"
names_www() {
    openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername www.b.test </dev/null 2>/dev/null |
        openssl x509 -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:www.b.test"
}
wait_until 25000 names_www
ok $? "a host added to a tls = auto site gets a certificate naming it at once, not at the renewal"

# 4. renewal: when a third of the lifetime is left, a new certificate, served on the fly
serial() {
    openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$1" </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null
}
s1=$(serial a.test)
exec 3<>/dev/tcp/127.0.0.1/"$PORT" # a plain keep-alive connection across the renewal
renewed() { s=$(serial a.test); [ -n "$s" ] && [ "$s" != "$s1" ]; }
wait_until $(((LIFETIME + 30) * 1000)) renewed
ok $? "a.test's certificate is renewed before it expires ($s1 -> $(serial a.test))"
grep -q "site a: requesting a certificate" "$T/wharf.err"
from_pebble a.test
ok $? "... by pebble again"
printf 'GET /x.txt HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n' >&3
like "$(timeout 10 cat <&3)" "site b" "a connection open across the renewal is still served"
kill -0 "$WPID"
ok $? "wharf was never restarted"
finish
