/*
 * dev_tls: see include/dev_tls.h. ECDSA P-256 keys (quick to make, accepted everywhere),
 * SHA-256 signatures. The CA lives 10 years; the server certificate 397 days, under the
 * 398-day limit browsers enforce even for private CAs, and is made again at every start, so
 * it always names the current --name. Files are written to a temporary name and renamed, so
 * two projects starting at once never read half a CA; the first rename wins and the loser
 * reads the winner's.
 */
#include "dev_tls.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

#define CA_DAYS 3650
#define CERT_DAYS 397
#define DAY 86400

static char *data_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        return xasprintf("%s/wharf", xdg);
    return home && home[0] ? xasprintf("%s/.local/share/wharf", home) : NULL;
}

/* Write data to path through path.tmp.PID and rename; keep an existing path when `keep`. */
static int write_file(const char *path, const gnutls_datum_t *d, mode_t mode, bool keep)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int rc = -1;
    if (fd >= 0) {
        rc = write(fd, d->data, d->size) == (ssize_t)d->size && fsync(fd) == 0 ? 0 : -1;
        rc = close(fd) == 0 ? rc : -1;
    }
    if (rc == 0)
        rc = keep ? link(tmp, path) : rename(tmp, path); /* link: fails if another won */
    if (rc != 0 && keep && errno == EEXIST)
        rc = 0;
    unlink(tmp);
    free(tmp);
    return rc;
}

static int read_datum(const char *path, gnutls_datum_t *d)
{
    return gnutls_load_file(path, d) == 0 ? 0 : -1;
}

static int new_key(gnutls_x509_privkey_t *key)
{
    if (gnutls_x509_privkey_init(key) < 0)
        return -1;
    return gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0
               ? -1
               : 0;
}

/* version, a random serial, validity from a day ago (clocks differ) for days. */
static int base_crt(gnutls_x509_crt_t crt, unsigned days)
{
    unsigned char serial[16];
    if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial) < 0)
        return -1;
    serial[0] &= 0x7f; /* a positive INTEGER */
    time_t now = time(NULL);
    return gnutls_x509_crt_set_version(crt, 3) < 0 ||
                   gnutls_x509_crt_set_serial(crt, serial, sizeof serial) < 0 ||
                   gnutls_x509_crt_set_activation_time(crt, now - DAY) < 0 ||
                   gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * DAY) < 0
               ? -1
               : 0;
}

static int sign(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t key);

static int make_ca(struct dev_tls *t, const char *ca_key_path, struct errlist *errs)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t pem_crt = {NULL, 0}, pem_key = {NULL, 0};
    int rc = -1;
    char cn[256], host[128] = "localhost";
    const char *user = getenv("USER");
    gethostname(host, sizeof host - 1);
    snprintf(cn, sizeof cn, "wharf development CA (%s@%s)", user ? user : "user", host);
    if (new_key(&key) != 0 || gnutls_x509_crt_init(&crt) < 0 || base_crt(crt, CA_DAYS) != 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)) < 0 ||
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "wharf", 5) < 0 ||
        gnutls_x509_crt_set_key(crt, key) < 0 ||
        gnutls_x509_crt_set_basic_constraints(crt, 1, 0) < 0 ||
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0) {
        errlist_add(errs, "--https: cannot make the development CA");
        goto out;
    }
    unsigned char kid[64];
    size_t kid_len = sizeof kid;
    if (gnutls_x509_crt_get_key_id(crt, 0, kid, &kid_len) == 0)
        gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len);
    if (sign(crt, crt, key) != 0 ||
        gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem_crt) < 0 ||
        gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pem_key) < 0) {
        errlist_add(errs, "--https: cannot sign the development CA");
        goto out;
    }
    /* the key first: a CA certificate without its key would be reused and fail */
    if (write_file(ca_key_path, &pem_key, 0600, true) != 0 ||
        write_file(t->ca_cert, &pem_crt, 0644, true) != 0) {
        errlist_add(errs, "--https: cannot write %s: %s", t->ca_cert, strerror(errno));
        goto out;
    }
    t->ca_new = true;
    rc = 0;
out:
    gnutls_free(pem_crt.data);
    gnutls_free(pem_key.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    return rc;
}

/* Sign crt as issuer with key (GnuTLS signs through its abstract key type). */
static int sign(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t key)
{
    gnutls_privkey_t pk;
    if (gnutls_privkey_init(&pk) < 0)
        return -1;
    int rc = gnutls_privkey_import_x509(pk, key, 0) < 0 ||
                     gnutls_x509_crt_privkey_sign(crt, issuer, pk, GNUTLS_DIG_SHA256, 0) < 0
                 ? -1
                 : 0;
    gnutls_privkey_deinit(pk);
    return rc;
}

static int add_san(gnutls_x509_crt_t crt, const char *name, const char *ip)
{
    if (ip) {
        unsigned char a[16];
        int v6 = strchr(ip, ':') != NULL;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, a) != 1)
            return -1;
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, v6 ? 16 : 4,
                                                    GNUTLS_FSAN_APPEND);
    }
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
}

static int make_cert(struct dev_tls *t, const char *ca_key_path, const char *name,
                     struct errlist *errs)
{
    gnutls_x509_privkey_t key = NULL, ca_key = NULL;
    gnutls_x509_crt_t crt = NULL, ca = NULL;
    gnutls_datum_t d = {NULL, 0}, pem_crt = {NULL, 0}, pem_key = {NULL, 0};
    int rc = -1;
    if (read_datum(t->ca_cert, &d) != 0 || gnutls_x509_crt_init(&ca) < 0 ||
        gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM) < 0) {
        errlist_add(errs, "--https: cannot read the CA certificate %s", t->ca_cert);
        goto out;
    }
    gnutls_free(d.data);
    d.data = NULL;
    if (read_datum(ca_key_path, &d) != 0 || gnutls_x509_privkey_init(&ca_key) < 0 ||
        gnutls_x509_privkey_import(ca_key, &d, GNUTLS_X509_FMT_PEM) < 0) {
        errlist_add(errs, "--https: cannot read the CA key %s", ca_key_path);
        goto out;
    }
    char *named = name ? xasprintf("%s.localhost", name) : NULL;
    const char *cn = named ? named : "localhost";
    bool ok =
        new_key(&key) == 0 && gnutls_x509_crt_init(&crt) >= 0 && base_crt(crt, CERT_DAYS) == 0 &&
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)) >= 0 &&
        gnutls_x509_crt_set_key(crt, key) >= 0 &&
        gnutls_x509_crt_set_basic_constraints(crt, 0, -1) >= 0 &&
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) >= 0 &&
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) >= 0 &&
        add_san(crt, "localhost", NULL) >= 0 && add_san(crt, "*.localhost", NULL) >= 0 &&
        (!named || add_san(crt, named, NULL) >= 0) && add_san(crt, NULL, "127.0.0.1") >= 0 &&
        add_san(crt, NULL, "::1") >= 0;
    free(named);
    unsigned char kid[64];
    size_t kid_len = sizeof kid;
    if (ok && gnutls_x509_crt_get_subject_key_id(ca, kid, &kid_len, NULL) >= 0)
        gnutls_x509_crt_set_authority_key_id(crt, kid, kid_len);
    if (!ok || sign(crt, ca, ca_key) != 0) {
        errlist_add(errs, "--https: cannot issue the server certificate");
        goto out;
    }
    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem_crt) < 0 ||
        gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pem_key) < 0 ||
        write_file(t->key, &pem_key, 0600, false) != 0 ||
        write_file(t->cert, &pem_crt, 0644, false) != 0) {
        errlist_add(errs, "--https: cannot write %s: %s", t->cert, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    gnutls_free(d.data);
    gnutls_free(pem_crt.data);
    gnutls_free(pem_key.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (ca)
        gnutls_x509_crt_deinit(ca);
    if (key)
        gnutls_x509_privkey_deinit(key);
    if (ca_key)
        gnutls_x509_privkey_deinit(ca_key);
    return rc;
}

bool dev_tls_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63 || name[0] == '-' || name[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return false;
    return true;
}

int dev_tls_prepare(struct dev_tls *t, const char *name, struct errlist *errs)
{
    memset(t, 0, sizeof *t);
    t->dir = data_dir();
    if (!t->dir)
        return errlist_add(errs, "--https: neither XDG_DATA_HOME nor HOME is set");
    if (fs_mkdir_p(t->dir, 0700) != 0)
        return errlist_add(errs, "--https: cannot create %s: %s", t->dir, strerror(errno));
    t->ca_cert = xasprintf("%s/ca.pem", t->dir);
    /* one pair per name: two projects starting at once never mix their key and certificate */
    t->cert = xasprintf("%s/%s%slocalhost.pem", t->dir, name ? name : "", name ? "." : "");
    t->key = xasprintf("%s/%s%slocalhost-key.pem", t->dir, name ? name : "", name ? "." : "");
    char *ca_key = xasprintf("%s/ca-key.pem", t->dir);
    int rc = 0;
    if (access(t->ca_cert, R_OK) != 0 || access(ca_key, R_OK) != 0)
        rc = make_ca(t, ca_key, errs);
    if (rc == 0)
        rc = make_cert(t, ca_key, name, errs);
    free(ca_key);
    return rc;
}

void dev_tls_dispose(struct dev_tls *t)
{
    free(t->dir);
    free(t->ca_cert);
    free(t->cert);
    free(t->key);
    memset(t, 0, sizeof *t);
}

void dev_tls_trust_help(const struct dev_tls *t, FILE *out)
{
    fprintf(out,
            "   wharf made a development CA: %s\n"
            "   wharf never installs it. To trust it (once):\n"
            "     browsers (NSS: Chromium, Firefox with its profile's directory):\n"
            "       certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n 'wharf development CA' -i %s\n"
            "     the system (curl, PHP, ...):\n"
            "       sudo cp %s /usr/local/share/ca-certificates/wharf-development-ca.crt\n"
            "       sudo update-ca-certificates\n\n",
            t->ca_cert, t->ca_cert, t->ca_cert);
}
