#!/usr/bin/env bash
# --https in development mode: a local CA made once under $XDG_DATA_HOME/wharf (never
# installed: wharf prints how to trust it), a certificate for localhost, *.localhost,
# NAME.localhost, 127.0.0.1 and ::1 verified against that CA with gnutls-cli --x509cafile;
# HTTPS beside HTTP; `--name shop` is https://shop.localhost:PORT; two projects side by side.
. "$(dirname "$0")/lib.sh"

command -v gnutls-cli >/dev/null || skip_all "gnutls-cli is not installed (gnutls-bin)"
command -v certtool >/dev/null || skip_all "certtool is not installed (gnutls-bin)"
export XDG_DATA_HOME="$T/data" HOME="$T/home"
mkdir -p "$T/home" "$T/shop" "$T/blog"
echo "shop page" >"$T/shop/index.html"
echo "blog page" >"$T/blog/index.html"

# dev_https DIR NAME: wharf dev --https --name NAME in $T/DIR; sets HP (its HTTPS port), WPID
dev_https() {
    local d=$1 name=$2
    PORT=$(free_port)
    (cd "$T/$d" && exec "$WHARF" --https --name "$name" --no-watch \
        --listen "127.0.0.1:$PORT" 2>"$T/$d.err") &
    WPID=$!
    PIDS+=("$WPID")
    wait_grep "$T/$d.err" "https +https://$name\\.localhost:[0-9]+/" 20 || {
        cat "$T/$d.err" >&2
        bail "wharf --https did not start in $d"
    }
    HP=$(grep -oP "https +https://$name\\.localhost:\\K[0-9]+" "$T/$d.err")
    wait_until 10000 curl -sk -o /dev/null "https://127.0.0.1:$HP/"
}
dev_https shop shop
SHOP_PID=$WPID SHOP_HP=$HP SHOP_PORT=$PORT
CA="$T/data/wharf/ca.pem"
ok $([ -s "$CA" ]; echo $?) "the CA is made under \$XDG_DATA_HOME/wharf"
is "$(stat -c %a "$T/data/wharf/ca-key.pem")" 600 "its key is private (0600)"
is "$(stat -c %a "$T/data/wharf")" 700 "...in a private directory"
like "$(cat "$T/shop.err")" "url +http://shop\\.localhost:$SHOP_PORT/" "banner: http://shop.localhost:PORT"
like "$(cat "$T/shop.err")" "certutil -d sql:\\\$HOME/.pki/nssdb -A -t C,, -n 'wharf development CA' -i $CA" \
    "banner: how to trust the CA in browsers (certutil)"
like "$(cat "$T/shop.err")" "update-ca-certificates" "...and in the system (update-ca-certificates)"
ok $([ ! -e "$T/home/.pki" ]; echo $?) "the CA is not installed silently (no NSS database made)"
certtool -i --infile "$CA" >"$T/ca.txt" 2>&1
like "$(cat "$T/ca.txt")" "Certificate Authority \\(CA\\): TRUE" "the CA is a CA"

gnutls_verify() { # gnutls_verify PORT HOSTNAME: gnutls-cli's verdict on the chain and name
    echo | timeout 20 gnutls-cli --x509cafile "$CA" -p "$1" --verify-hostname "$2" 127.0.0.1 2>&1 |
        grep -E 'Status:|Handshake was completed|could not verify'
}
like "$(gnutls_verify "$SHOP_HP" shop.localhost)" "The certificate is trusted" \
    "gnutls-cli --x509cafile: shop.localhost verifies against the CA"
like "$(gnutls_verify "$SHOP_HP" localhost)" "The certificate is trusted" "...localhost too"
# note: *.localhost is in the certificate as asked, but GnuTLS (like browsers) honours no
# wildcard right under a top-level name, hence NAME.localhost is named explicitly as well
like "$(certtool -i --infile "$T/data/wharf/shop.localhost.pem" 2>/dev/null)" "DNSname: \*\.localhost" \
    "the certificate names *.localhost"
like "$(gnutls_verify "$SHOP_HP" 127.0.0.1)" "The certificate is trusted" "...and 127.0.0.1"
unlike "$(gnutls_verify "$SHOP_HP" example.com)" "The certificate is trusted\\." \
    "...but not another name"
like "$(certtool -i --infile "$T/data/wharf/shop.localhost.pem" 2>/dev/null)" "IPAddress: ::1" \
    "the certificate names ::1"
is "$(curl -s --cacert "$CA" --resolve "shop.localhost:$SHOP_HP:127.0.0.1" \
    "https://shop.localhost:$SHOP_HP/index.html")" "shop page" "https://shop.localhost serves the shop (curl, verified)"
is "$(curl -s "http://127.0.0.1:$SHOP_PORT/index.html")" "shop page" "HTTP still served beside HTTPS"
fp1=$(certtool -i --infile "$CA" | grep -m1 -A1 'Fingerprint' | tail -1)

# ---- a second project beside it: the same CA, its own name and ports ------------------------
dev_https blog blog
BLOG_HP=$HP
ok $([ "$BLOG_HP" != "$SHOP_HP" ]; echo $?) "two projects: different HTTPS ports ($SHOP_HP, $BLOG_HP)"
is "$(certtool -i --infile "$CA" | grep -m1 -A1 'Fingerprint' | tail -1)" "$fp1" \
    "two projects: the CA is made once and reused"
unlike "$(cat "$T/blog.err")" "wharf made a development CA" "...and not announced as new again"
is "$(curl -s --cacert "$CA" --resolve "blog.localhost:$BLOG_HP:127.0.0.1" \
    "https://blog.localhost:$BLOG_HP/index.html")" "blog page" "https://blog.localhost serves the blog"
is "$(curl -s --cacert "$CA" --resolve "shop.localhost:$SHOP_HP:127.0.0.1" \
    "https://shop.localhost:$SHOP_HP/index.html")" "shop page" "...while the shop still serves the shop"
like "$(gnutls_verify "$BLOG_HP" blog.localhost)" "The certificate is trusted" \
    "gnutls-cli: blog.localhost verifies too"
stop_pid "$WPID"
stop_pid "$SHOP_PID"

out=$(cd "$T/shop" && timeout 10 "$WHARF" --https --name 'Bad_Name' 2>&1)
like "$out" "--name: expected a DNS label" "--name must be a DNS label"
finish
