#!/usr/bin/env bash
# TLS listeners: [server] tls_listen, tls_cert, tls_key; HTTPS=on reaches PHP over TLS only,
# and REQUEST_SCHEME says https there, http elsewhere.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || skip_all "openssl is not installed"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null || bail "cannot make a certificate"
mkdir -p "$T/www"
printf 'secure\n' >"$T/www/a.txt"
printf '<?php echo "https=", $_SERVER["HTTPS"] ?? "(unset)";\n' >"$T/www/env.php"
printf '<?php echo "scheme=", $_SERVER["REQUEST_SCHEME"] ?? "(unset)";\n' >"$T/www/scheme.php"
start_fpm tls "$T/fpm.sock"

PORT=$(free_port)
TLS_PORT=$(free_port)
cat >"$T/tls.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
tls_listen = 127.0.0.1:$TLS_PORT
tls_cert = $T/cert.pem
tls_key = $T/key.pem

[site a]
root = $T/www
fastcgi = unix:$T/fpm.sock
EOF
"$WHARF" --config "$T/tls.ini" --test >/dev/null 2>&1
ok $? "--test accepts tls_listen with tls_cert and tls_key"
start_wharf_ini "$T/tls.ini"
S="https://127.0.0.1:$TLS_PORT"

is "$(curl -s --cacert "$T/cert.pem" --resolve "localhost:$TLS_PORT:127.0.0.1" \
    "https://localhost:$TLS_PORT/a.txt")" "secure" "a static file over TLS, verified against the certificate"
is "$(curl -sk "$S/env.php")" "https=on" "PHP over TLS sees HTTPS=on"
is "$(body /env.php)" "https=(unset)" "PHP over plain HTTP has no HTTPS param"
is "$(curl -sk "$S/scheme.php")" "scheme=https" "PHP over TLS sees REQUEST_SCHEME=https"
is "$(body /scheme.php)" "scheme=http" "PHP over plain HTTP sees REQUEST_SCHEME=http"
is "$(curl -sk -o /dev/null -w '%{http_code}' "$S/missing")" "404" "errors over TLS too"
# (400 with the bundled libmicrohttpd, patch 0010 and e2e 84; another one closes without a word)
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TLS_PORT/a.txt")" \
    "$([ "${WHARF_MHD:-bundled}" = bundled ] && echo 400 || echo 000)" \
    "plain HTTP on the TLS port gets no file: a 400 that says why"
is "$(curl -sk "$S/a.txt")" "secure" "the TLS listener still serves after a plain-HTTP attempt"
is "$(curl -sk -o /dev/null -w '%{http_version}' "$S/a.txt")" "1.1" "HTTP/1.1 over TLS"
stop_pid "$WPID"

# configuration errors
# tls_ini NAME CERT [KEY]: $T/NAME.ini with a TLS listener on CERT (and KEY), the key lines first
# (the messages below name their line numbers), then a plain listener and a site
tls_ini() {
    {
        printf '[server]\ntls_listen = 127.0.0.1:%s\ntls_cert = %s\n' "$TLS_PORT" "$2"
        [ -n "${3:-}" ] && printf 'tls_key = %s\n' "$3"
        printf 'listen = 127.0.0.1:%s\n[site a]\nroot = %s\n' "$PORT" "$T/www"
    } >"$T/$1.ini"
}
tls_ini nokey "$T/cert.pem"
out=$("$WHARF" --config "$T/nokey.ini" --test 2>&1)
ok $((! $?)) "--test refuses tls_listen without tls_key"
like "$out" "nokey.ini:2: tls_listen needs tls_cert and tls_key" "the message names the file and line"
tls_ini missing "$T/nope.pem" "$T/key.pem"
out=$("$WHARF" --config "$T/missing.ini" --test 2>&1)
ok $((! $?)) "--test refuses an unreadable tls_cert"
like "$out" "missing.ini:3: tls_cert '.*nope.pem': No such file or directory" "the message names the certificate"
tls_ini missingkey "$T/cert.pem" "$T/nope.key"
like "$("$WHARF" --config "$T/missingkey.ini" --test 2>&1)" \
    "missingkey.ini:4: tls_key '.*nope.key': No such file or directory" \
    "an unreadable tls_key is reported at its own line"
printf 'not a certificate\n' >"$T/bad.pem"
tls_ini bad "$T/bad.pem" "$T/key.pem"
out=$(timeout 10 "$WHARF" --config "$T/bad.ini" 2>&1)
rc=$?
ok $([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; echo $?) "a malformed certificate stops wharf at start (exit $rc)"
like "$out" "\\[server\\]: tls_cert '$T/bad.pem'" "and names the certificate it could not parse"
finish
