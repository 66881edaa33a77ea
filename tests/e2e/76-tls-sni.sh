#!/usr/bin/env bash
# SNI: tls_cert/tls_key in [site NAME] share one TLS listener with the [server] default; the
# certificate is chosen by server name (gnutls-cli --sni-hostname, openssl -servername);
# certificate files replaced on disk are served without a reload or a dropped connection;
# https_redirect (308, never for the ACME challenge path); bad values are config errors.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || skip_all "openssl is not installed"
command -v gnutls-cli >/dev/null || skip_all "gnutls-cli is not installed (gnutls-bin)"
mkcert() { # mkcert NAME CN: $T/NAME.pem and $T/NAME.key, self-signed for CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
        -addext "subjectAltName=DNS:$2" -days 2 -keyout "$T/$1.key" -out "$T/$1.pem" \
        2>/dev/null || bail "cannot make a certificate for $2"
}
mkcert def default.test
mkcert a a.test
mkcert b b.test
mkcert a2 a.test
mkdir -p "$T/a" "$T/b" "$T/d"
printf 'site a\n' >"$T/a/x.txt"
printf 'site b\n' >"$T/b/x.txt"
printf 'default\n' >"$T/d/x.txt"

PORT=$(free_port)
TLS_PORT=$(free_port)
cat >"$T/sni.ini" <<EOF
[server]
listen = 127.0.0.1:$PORT
tls_listen = 127.0.0.1:$TLS_PORT
tls_cert = $T/def.pem
tls_key = $T/def.key

[site a]
hosts = a.test www.a.test
root = $T/a
tls_cert = $T/a.pem
tls_key = $T/a.key
https_redirect = on
hsts = 8760h
hsts_subdomains = on

[site c]
hosts = c.test
root = $T/a

[site b]
hosts = b.test
root = $T/b
tls_cert = $T/b.pem
tls_key = $T/b.key

[site d]
root = $T/d
EOF
"$WHARF" --config "$T/sni.ini" --test >/dev/null 2>&1
ok $? "--test accepts tls_cert and tls_key in sites"
start_wharf_ini "$T/sni.ini"

# the subject CN served for a server name (none: no SNI), and the certificate's fingerprint
cn_for() {
    openssl s_client -connect "127.0.0.1:$TLS_PORT" ${1:+-servername "$1"} </dev/null 2>/dev/null |
        openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}
fp_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
served_fp() {
    openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$1" </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
is "$(cn_for a.test)" "a.test" "SNI a.test gets site a's certificate"
is "$(cn_for WWW.A.TEST)" "a.test" "... as does its other host, in any case"
is "$(cn_for b.test)" "b.test" "SNI b.test gets site b's certificate"
is "$(cn_for other.test)" "default.test" "an unknown name gets [server]'s certificate"
is "$(cn_for "")" "default.test" "no SNI at all: [server]'s certificate"
out=$(gnutls-cli --port "$TLS_PORT" --sni-hostname b.test --x509cafile "$T/b.pem" \
    --verify-hostname b.test 127.0.0.1 </dev/null 2>&1)
like "$out" "Handshake was completed" "gnutls-cli --sni-hostname b.test verifies against b's certificate"
is "$(curl -s --cacert "$T/a.pem" --resolve "a.test:$TLS_PORT:127.0.0.1" \
    "https://a.test:$TLS_PORT/x.txt")" "site a" "curl verifies a.test and gets site a's file"
is "$(curl -s --cacert "$T/b.pem" --resolve "b.test:$TLS_PORT:127.0.0.1" \
    "https://b.test:$TLS_PORT/x.txt")" "site b" "curl verifies b.test and gets site b's file"

# https_redirect: plain HTTP to site a goes to https with the same target; not the challenge
loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: a.test:8080' \
    "http://127.0.0.1:$PORT/x.txt?q=1")
is "$loc" "308 https://a.test:$TLS_PORT/x.txt?q=1" "https_redirect: 308 to https, port and query kept"
is "$(status /.well-known/acme-challenge/abc -H 'Host: a.test')" "404" \
    "https_redirect: not for the ACME challenge path"
is "$(body /x.txt -H 'Host: b.test')" "site b" "a site without https_redirect serves plain HTTP"
is "$(curl -sk -o /dev/null -w '%{http_code}' --resolve "a.test:$TLS_PORT:127.0.0.1" \
    "https://a.test:$TLS_PORT/x.txt")" "200" "no redirect on HTTPS itself"

# hsts: on every HTTPS response of site a, never on plain HTTP, never leaking to site c that
# serves the same (cached) file
hsts_of() { # hsts_of HOST PATH [https]: the Strict-Transport-Security value, or (none)
    local url="http://127.0.0.1:$PORT$2" v
    [ "${3:-}" = https ] && url="https://$1:$TLS_PORT$2"
    v=$(curl -sk -D - -o /dev/null -H "Host: $1" --resolve "$1:$TLS_PORT:127.0.0.1" "$url" |
        tr -d '\r' | sed -n 's/^[Ss]trict-[Tt]ransport-[Ss]ecurity: //p')
    echo "${v:-(none)}"
}
want="max-age=31536000; includeSubDomains"
is "$(hsts_of a.test /x.txt https)" "$want" "hsts: a static file over HTTPS"
is "$(hsts_of a.test /x.txt https)" "$want" "hsts: ... again, from the file cache"
is "$(hsts_of c.test /x.txt https)" "(none)" "hsts: another site serving the same cached file has none"
is "$(hsts_of a.test /missing https)" "$want" "hsts: on an error page too"
is "$(hsts_of a.test /x.txt)" "(none)" "hsts: never over plain HTTP (the redirect)"
is "$(hsts_of c.test /x.txt)" "(none)" "hsts: not on the shared response over plain HTTP"
is "$(curl -sk -H 'Accept-Encoding: gzip' --resolve "c.test:$TLS_PORT:127.0.0.1" \
    "https://c.test:$TLS_PORT/x.txt")" "site a" "the shared response still serves its body"

# replaced on disk: picked up without SIGHUP; a connection opened before keeps working
mkfifo "$T/in"
openssl s_client -quiet -connect "127.0.0.1:$TLS_PORT" -servername a.test <"$T/in" \
    >"$T/old.out" 2>/dev/null &
PIDS+=($!)
exec 3>"$T/in"
printf 'GET /x.txt HTTP/1.1\r\nHost: a.test\r\n\r\n' >&3
wait_grep "$T/old.out" "^site a" 10
ok $? "a connection opened before the change is served"
new_fp=$(fp_of "$T/a2.pem")
cp "$T/a2.key" "$T/a.new.key"
cp "$T/a2.pem" "$T/a.new.pem"
mv "$T/a.new.key" "$T/a.key"
mv "$T/a.new.pem" "$T/a.pem"
fp_is_new() { [ "$(served_fp a.test)" = "$new_fp" ]; }
wait_until 10000 fp_is_new
ok $? "a certificate replaced on disk is served without a reload"
is "$(served_fp b.test)" "$(fp_of "$T/b.pem")" "... and the other sites keep theirs"
printf 'GET /x.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n' >&3
two_answers() { [ "$(grep -c '^site a' "$T/old.out")" -ge 2 ]; }
wait_until 10000 two_answers
ok $? "the connection opened before the change still gets its answers"
exec 3>&-
grep -q "certificate files changed" "$T/wharf.err"
ok $? "the switch is logged"
# a broken replacement is refused and the running certificate kept
printf 'not a certificate\n' >"$T/a.pem"
wait_grep "$T/wharf.err" "tls_cert '$T/a.pem'.*still serving the previous" 10
ok $? "a broken file is logged, naming it"
is "$(served_fp a.test)" "$new_fp" "... and the previous certificate is still served"

# config errors, with their lines
bad() { # bad NAME EXTRA-SITE-LINES REGEX DESCRIPTION
    printf '[server]\nlisten = 127.0.0.1:%s\ntls_listen = 127.0.0.1:%s\n[site x]\nroot = %s\n%b' \
        "$PORT" "$TLS_PORT" "$T/a" "$2" >"$T/$1.ini"
    like "$("$WHARF" --config "$T/$1.ini" --test 2>&1)" "$3" "$4"
}
bad nokey "hosts = x.test\\ntls_cert = $T/b.pem\\n" \
    "nokey.ini:7: \\[site x\\]: tls_cert and tls_key go together" \
    "tls_cert without tls_key is an error at its line"
bad auto_cert "hosts = x.test\\ntls = auto\\ntls_cert = $T/b.pem\\ntls_key = $T/b.key\\n" \
    "auto_cert.ini:7: \\[site x\\]: tls = auto and tls_cert: give one" "tls = auto with tls_cert"
bad auto_nohosts 'tls = auto\n' "auto_nohosts.ini:6: \\[site x\\]: tls = auto needs hosts" \
    "tls = auto without hosts"
bad missingkey "hosts = x.test\\ntls_cert = $T/b.pem\\nhttps_redirect = on\\ntls_key = $T/gone.key\\n" \
    "missingkey.ini:9: \\[site x\\]: tls_key '$T/gone.key': No such file" \
    "an unreadable tls_key is an error at its own line, not tls_cert's"
bad missingroots "hosts = x.test\\ntls = auto\\nacme_email = a@x.test\\nacme_ca_roots = $T/gone.pem\\n" \
    "missingroots.ini:9: \\[site x\\]: acme_ca_roots '$T/gone.pem': No such file" \
    "an unreadable acme_ca_roots is an error at its own line"
bad badtls 'tls = on\n' "badtls.ini:6: .*tls.*off or auto" "tls = on is not a value"
bad badca 'hosts = x.test\ntls = auto\nacme_ca = ftp://x\n' "badca.ini:8: .*acme_ca" \
    "acme_ca must be an http(s) URL"
bad badretry 'acme_retry = 0\n' "badretry.ini:6: .*acme_retry" "acme_retry below 1s"
bad badhsts 'hsts = forever\n' "badhsts.ini:6: .*hsts.*duration" "hsts must be a duration"
printf '[server]\nlisten = 127.0.0.1:%s\n[site x]\nroot = %s\nhosts = x.test\ntls = auto\n' \
    "$PORT" "$T/a" >"$T/notls.ini"
like "$("$WHARF" --config "$T/notls.ini" --test 2>&1)" "need a tls_listen" \
    "tls = auto needs a tls_listen"
printf '[server]\nlisten = 127.0.0.1:%s\ntls_listen = 127.0.0.1:%s\n[site x]\nroot = %s\nhosts = x.test\ntls_cert = %s\ntls_key = %s\n' \
    "$(free_port)" "$(free_port)" "$T/a" "$T/b.pem" "$T/def.key" >"$T/mismatch.ini"
out=$(timeout 10 "$WHARF" --config "$T/mismatch.ini" 2>&1)
like "$out" "\\[site x\\]: tls_key '$T/def.key' does not belong to tls_cert" \
    "a key that is not the certificate's stops the start, naming both"
finish
