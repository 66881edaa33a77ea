#!/usr/bin/env bash
# Live reload (SIGHUP) and TLS: a tls_listen added by a reload serves HTTPS; certificate files
# rewritten in place (a renewal) are served after the next reload, on the same socket, while a
# connection opened before keeps working; a missing key refuses the reload.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || skip_all "openssl is not installed"
for n in one two; do
    openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=$n.test" -days 2 \
        -keyout "$T/$n.key" -out "$T/$n.crt" 2>/dev/null || bail "cannot make a certificate"
done
mkdir -p "$T/www"
printf 'secure' >"$T/www/a.txt"
PORT=$(free_port)
TLS_PORT=$(free_port)
plain() { printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "[site a]" "root = $T/www"; }
with_tls() {
    printf '%s\n' "[server]" "listen = 127.0.0.1:$PORT" "tls_listen = 127.0.0.1:$TLS_PORT" \
        "tls_cert = $T/cert.pem" "tls_key = $T/key.pem" "[site a]" "root = $T/www"
}
plain >"$T/w.ini"
start_wharf_ini "$T/w.ini"
done_count() { grep -c 'configuration reloaded\|reload refused' "$T/wharf.err"; }
hup() {
    local want=$(($(done_count) + 1))
    kill -HUP "$WPID"
    wait_until 10000 eval '[ "$(done_count)" -ge '"$want"' ]'
}
# served_cn: the CN of the certificate the TLS listener presents
served_cn() {
    python3 - "$TLS_PORT" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
    with ctx.wrap_socket(s) as t:
        der = t.getpeercert(binary_form=True)
import subprocess
out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der,
                     capture_output=True).stdout.decode()
print(out.strip().split("CN")[-1].lstrip(" =").strip())
PY
}

cp "$T/one.crt" "$T/cert.pem"
cp "$T/one.key" "$T/key.pem"
with_tls >"$T/w.ini"
hup
is "$(grep -c 'configuration reloaded' "$T/wharf.err")" "1" "a reload adds a TLS listener"
is "$(curl -sk "https://127.0.0.1:$TLS_PORT/a.txt")" "secure" "... which serves HTTPS"
is "$(served_cn)" "one.test" "... with the certificate of the files"

# a kept-alive TLS connection opened before the renewal, used again after it
mkfifo "$T/cmd"
cat >"$T/kept.py" <<'PY'
import http.client, ssl, sys
ctx = ssl._create_unverified_context()
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=10)
for line in sys.stdin:
    c.request("GET", "/a.txt")
    r = c.getresponse()
    print(r.status, r.read().decode(), flush=True)
PY
python3 "$T/kept.py" "$TLS_PORT" <"$T/cmd" >"$T/kept.out" 2>&1 &
KEPT=$!
PIDS+=("$KEPT")
exec 9>"$T/cmd"
echo go >&9
wait_until 5000 eval '[ "$(wc -l <"$T/kept.out")" -ge 1 ]'

cp "$T/two.crt" "$T/cert.pem" # renewed in place: same paths, new files
cp "$T/two.key" "$T/key.pem"
hup
is "$(grep -c 'configuration reloaded' "$T/wharf.err")" "2" "SIGHUP after the certificate files were rewritten"
is "$(served_cn)" "two.test" "the new certificate is served on the same address"
is "$(curl -sk "https://127.0.0.1:$TLS_PORT/a.txt")" "secure" "... over HTTPS as before"
echo go >&9
wait_until 5000 eval '[ "$(wc -l <"$T/kept.out")" -ge 2 ]'
is "$(cat "$T/kept.out" | tr '\n' ' ')" "200 secure 200 secure " "a TLS connection opened before the switch is still served"
exec 9>&-
wait "$KEPT"

rm "$T/key.pem"
hup
is "$(grep -c 'reload refused' "$T/wharf.err")" "1" "a missing key file: the reload is refused"
like "$(cat "$T/wharf.err")" "tls_key '$T/key.pem'" "... naming the file"
is "$(served_cn)" "two.test" "... and the running certificate keeps being served"

kill -TERM "$WPID"
wait "$WPID"
is "$?" "0" "SIGTERM: wharf exits 0"
finish
