/*
 * tls_store: see include/tls_store.h. A set is built from specs (paths and names copied from
 * the configuration), so a refresh can build it again without the configuration. Slot 0..n-1
 * are the specs in order; `def` is the slot for a client that sends no name or one nobody
 * has. Notes: GnuTLS keeps the pointers the callback returns only for the handshake (the
 * session does not free them: retrieve_function2 without a deinit flag), hence the grace
 * period instead of reference counts, which would cost every handshake two atomics.
 */
#include "tls_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "buf.h"
#include "log.h"
#include "sni.h"

#define CHAIN_MAX 8        /* certificates in one PEM chain */
#define PEM_MAX (1u << 20) /* a certificate or key file larger than this is refused */
#define TEMP_DAYS 7        /* lifetime of a temporary self-signed certificate */

struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
}; /* all zero = missing */

struct cert_spec {
    char *label;     /* "[server]" or "[site NAME]", for messages */
    char *cert_path; /* NULL = a temporary certificate only */
    char *key_path;
    bool acme; /* missing files mean "not issued yet": a temporary one meanwhile */
    struct str_list hosts;
};

struct tls_cert {
    gnutls_pcert_st pcerts[CHAIN_MAX];
    unsigned n_pcerts;
    gnutls_privkey_t key;
    struct file_id cert_id, key_id;     /* of the files loaded; zero for a temporary one */
    struct file_id seen_cert, seen_key; /* last seen by refresh (its thread only) */
    bool temporary;
};

struct tls_set {
    size_t n;
    struct cert_spec *specs;
    struct tls_cert *certs;
    struct sni_table names;
    unsigned def;
    time_t retired_at;
    struct tls_set *next_retired;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* publish, refresh, retired */
static struct tls_set *_Atomic current;
static struct tls_set *retired;

/* ---- files -------------------------------------------------------------------------------- */

static void file_id_of(const char *path, struct file_id *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (path && stat(path, &st) == 0)
        *id = (struct file_id){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

static bool same_id(const struct file_id *a, const struct file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The whole file into d (gnutls_free-able: malloc'd), its identity into id. 0, or -1 with why. */
static int read_file(const char *path, gnutls_datum_t *d, struct file_id *id, const char **why)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        *why = strerror(errno);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0)
        *id = (struct file_id){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
    struct buf b;
    buf_init(&b, PEM_MAX);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = buf_append(&b, chunk, n);
    fclose(f);
    if (rc != 0 || b.len == 0) {
        *why = rc ? "larger than 1 MiB" : "empty";
        buf_dispose(&b);
        return -1;
    }
    size_t len = b.len;
    d->data = (unsigned char *)buf_steal(&b, NULL);
    d->size = (unsigned)len;
    return 0;
}

/* ---- certificates ------------------------------------------------------------------------- */

static void cert_dispose(struct tls_cert *c)
{
    for (unsigned i = 0; i < c->n_pcerts; i++)
        gnutls_pcert_deinit(&c->pcerts[i]);
    c->n_pcerts = 0;
    if (c->key)
        gnutls_privkey_deinit(c->key);
    c->key = NULL;
}

/* Whether key is the private half of the certificate's public key. */
static bool key_matches(gnutls_pcert_st *pc, gnutls_privkey_t key)
{
    gnutls_pubkey_t pub = NULL;
    unsigned char a[64], b[64];
    size_t na = sizeof a, nb = sizeof b;
    bool same =
        gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
        gnutls_pubkey_get_key_id(pub, 0, a, &na) == 0 &&
        gnutls_pubkey_get_key_id(pc->pubkey, 0, b, &nb) == 0 && na == nb && memcmp(a, b, na) == 0;
    if (pub)
        gnutls_pubkey_deinit(pub);
    return same;
}

/* The PEM chain and key of spec into c. 0, or -1 with errs (or, for an ACME spec whose files
 * do not exist yet, 1: nothing loaded, no error). */
static int cert_load(const struct cert_spec *s, struct tls_cert *c, struct errlist *errs)
{
    gnutls_datum_t cd = {NULL, 0}, kd = {NULL, 0};
    const char *why = NULL;
    int rc = -1, g;
    if (s->acme && (access(s->cert_path, F_OK) != 0 || access(s->key_path, F_OK) != 0))
        return 1;
    if (read_file(s->cert_path, &cd, &c->cert_id, &why) != 0) {
        errlist_add(errs, "%s: tls_cert '%s': %s", s->label, s->cert_path, why);
        goto out;
    }
    if (read_file(s->key_path, &kd, &c->key_id, &why) != 0) {
        errlist_add(errs, "%s: tls_key '%s': %s", s->label, s->key_path, why);
        goto out;
    }
    c->n_pcerts = CHAIN_MAX;
    g = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->n_pcerts, &cd, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || c->n_pcerts == 0) {
        c->n_pcerts = 0;
        errlist_add(errs, "%s: tls_cert '%s': %s", s->label, s->cert_path,
                    g < 0 ? gnutls_strerror(g) : "no certificate");
        goto out;
    }
    g = gnutls_privkey_init(&c->key);
    if (g == 0)
        g = gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0) {
        errlist_add(errs, "%s: tls_key '%s': %s", s->label, s->key_path, gnutls_strerror(g));
        goto out;
    }
    if (!key_matches(&c->pcerts[0], c->key)) {
        errlist_add(errs, "%s: tls_key '%s' does not belong to tls_cert '%s'", s->label,
                    s->key_path, s->cert_path);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        cert_dispose(c);
    gnutls_free(cd.data);
    if (kd.data) {
        gnutls_memset(kd.data, 0, kd.size); /* the private key leaves no copy behind */
        gnutls_free(kd.data);
    }
    return rc;
}

/* A self-signed certificate for hosts, valid TEMP_DAYS, with a new ECDSA P-256 key. */
static int cert_temporary(const struct cert_spec *s, struct tls_cert *c, struct errlist *errs)
{
    gnutls_x509_privkey_t xk = NULL;
    gnutls_x509_crt_t crt = NULL;
    unsigned char serial[16];
    time_t now = time(NULL);
    const char *cn = s->hosts.n ? s->hosts.v[0] : "localhost";
    int g = gnutls_x509_privkey_init(&xk);
    if (g == 0)
        g = gnutls_x509_privkey_generate(xk, GNUTLS_PK_ECDSA,
                                         GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (g == 0)
        g = gnutls_x509_crt_init(&crt);
    if (g == 0)
        g = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    serial[0] &= 0x7f; /* a positive INTEGER */
    if (g == 0)
        g = gnutls_x509_crt_set_version(crt, 3);
    if (g == 0)
        g = gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
    if (g == 0)
        g = gnutls_x509_crt_set_activation_time(crt, now - 3600);
    if (g == 0)
        g = gnutls_x509_crt_set_expiration_time(crt, now + TEMP_DAYS * 86400);
    if (g == 0)
        g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn));
    for (size_t i = 0; g == 0 && i < s->hosts.n; i++)
        g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, s->hosts.v[i],
                                                 strlen(s->hosts.v[i]), GNUTLS_FSAN_APPEND);
    if (g == 0)
        g = gnutls_x509_crt_set_key(crt, xk);
    if (g == 0)
        g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    if (g == 0)
        g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    if (g == 0)
        g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    if (g == 0)
        g = gnutls_x509_crt_sign2(crt, crt, xk, GNUTLS_DIG_SHA256, 0);
    if (g == 0)
        g = gnutls_pcert_import_x509(&c->pcerts[0], crt, 0);
    if (g == 0) {
        c->n_pcerts = 1;
        g = gnutls_privkey_init(&c->key);
    }
    if (g == 0)
        g = gnutls_privkey_import_x509(c->key, xk, GNUTLS_PRIVKEY_IMPORT_COPY);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (xk)
        gnutls_x509_privkey_deinit(xk);
    if (g < 0) {
        cert_dispose(c);
        return errlist_add(errs, "%s: cannot make a temporary certificate: %s", s->label,
                           gnutls_strerror(g));
    }
    c->temporary = true;
    return 0;
}

/* ---- sets --------------------------------------------------------------------------------- */

static void spec_dispose(struct cert_spec *s)
{
    free(s->label);
    free(s->cert_path);
    free(s->key_path);
    for (size_t i = 0; i < s->hosts.n; i++)
        free(s->hosts.v[i]);
    free(s->hosts.v);
}

static void set_free(struct tls_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        cert_dispose(&set->certs[i]);
        spec_dispose(&set->specs[i]);
    }
    free(set->certs);
    free(set->specs);
    sni_dispose(&set->names);
    free(set);
}

static void spec_add(struct tls_set *set, const char *label, const char *cert, const char *key,
                     bool acme, const struct str_list *hosts)
{
    set->specs = xrealloc(set->specs, (set->n + 1) * sizeof *set->specs);
    struct cert_spec *s = &set->specs[set->n++];
    *s = (struct cert_spec){
        xstrdup(label), cert ? xstrdup(cert) : NULL, key ? xstrdup(key) : NULL, acme, {NULL, 0}};
    if (hosts && hosts->n) {
        s->hosts.v = xmalloc(hosts->n * sizeof *s->hosts.v);
        for (size_t i = 0; i < hosts->n; i++)
            s->hosts.v[i] = xstrdup(hosts->v[i]);
        s->hosts.n = hosts->n;
    }
}

/* Load every spec of set; the names table and the default slot. 0, or -1 with errs. */
static int set_load(struct tls_set *set, struct errlist *errs)
{
    size_t before = errs->n;
    bool def_found = false;
    set->certs = xcalloc(set->n ? set->n : 1, sizeof *set->certs);
    for (size_t i = 0; i < set->n; i++) {
        const struct cert_spec *s = &set->specs[i];
        struct tls_cert *c = &set->certs[i];
        int rc = s->cert_path ? cert_load(s, c, errs) : 1;
        if (rc == 1)
            cert_temporary(s, c, errs);
        c->seen_cert = c->cert_id;
        c->seen_key = c->key_id;
        for (size_t h = 0; h < s->hosts.n; h++)
            sni_add(&set->names, s->hosts.v[h], (unsigned)i);
        if (!def_found && !s->hosts.n) { /* [server], or else the default site */
            set->def = (unsigned)i;
            def_found = true;
        }
    }
    sni_finish(&set->names);
    return errs->n == before ? 0 : -1;
}

char *tls_store_acme_cert_path(const char *dir, const char *host)
{
    return xasprintf("%s/%s/cert.pem", dir, host);
}

char *tls_store_acme_key_path(const char *dir, const char *host)
{
    return xasprintf("%s/private/%s/key.pem", dir, host);
}

struct tls_set *tls_store_build(const struct config *cfg, struct errlist *errs)
{
    struct tls_set *set = xcalloc(1, sizeof *set);
    const struct server_conf *srv = &cfg->server;
    if (srv->tls_cert && srv->tls_key)
        spec_add(set, "[server]", srv->tls_cert, srv->tls_key, false, NULL);
    for (size_t i = 0; i < cfg->n_sites; i++) {
        const struct site_conf *site = &cfg->sites[i];
        const struct tls_site_conf *t = &site->tls;
        char *label = xasprintf("[site %s]", site->name);
        if (t->mode == TLS_AUTO) {
            char *cp = tls_store_acme_cert_path(t->acme_dir, site->hosts.v[0]);
            char *kp = tls_store_acme_key_path(t->acme_dir, site->hosts.v[0]);
            spec_add(set, label, cp, kp, true, &site->hosts);
            free(cp);
            free(kp);
        } else if (t->cert && t->key) {
            spec_add(set, label, t->cert, t->key, false, &site->hosts);
        }
        free(label);
    }
    if (set_load(set, errs) != 0) {
        set_free(set);
        return NULL;
    }
    return set;
}

/* A new set with the specs of old, loaded again. */
static struct tls_set *set_rebuild(const struct tls_set *old, struct errlist *errs)
{
    struct tls_set *set = xcalloc(1, sizeof *set);
    for (size_t i = 0; i < old->n; i++) {
        const struct cert_spec *s = &old->specs[i];
        spec_add(set, s->label, s->cert_path, s->key_path, s->acme, &s->hosts);
    }
    if (set_load(set, errs) != 0) {
        set_free(set);
        return NULL;
    }
    return set;
}

static void publish_locked(struct tls_set *set)
{
    struct tls_set *old = atomic_exchange_explicit(&current, set, memory_order_acq_rel);
    time_t now = time(NULL);
    if (old) {
        old->retired_at = now;
        old->next_retired = retired;
        retired = old;
    }
    for (struct tls_set **p = &retired; *p;) {
        struct tls_set *r = *p;
        if (now - r->retired_at >= TLS_STORE_GRACE_S) {
            *p = r->next_retired;
            set_free(r);
        } else {
            p = &r->next_retired;
        }
    }
}

void tls_store_publish(struct tls_set *set)
{
    pthread_mutex_lock(&lock);
    publish_locked(set);
    pthread_mutex_unlock(&lock);
}

void tls_store_discard(struct tls_set *set)
{
    set_free(set);
}

int tls_store_refresh(void)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    struct tls_set *cur = atomic_load_explicit(&current, memory_order_acquire);
    bool changed = false;
    for (size_t i = 0; cur && i < cur->n; i++) {
        struct tls_cert *c = &cur->certs[i];
        struct file_id a, b;
        file_id_of(cur->specs[i].cert_path, &a);
        file_id_of(cur->specs[i].key_path, &b);
        if (!same_id(&a, &c->seen_cert) || !same_id(&b, &c->seen_key)) {
            changed = true;
            c->seen_cert = a;
            c->seen_key = b;
        }
    }
    if (changed) {
        struct errlist errs = {0};
        struct tls_set *set = set_rebuild(cur, &errs);
        for (size_t i = 0; i < errs.n; i++)
            log_error("tls", 0, "%s (still serving the previous certificate)", errs.msg[i]);
        errlist_dispose(&errs);
        if (set) {
            /* what this refresh saw stays seen: a failed file is not retried until it changes */
            publish_locked(set);
            log_info("tls", 0, "certificate files changed: serving the new certificates");
            rc = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int tls_store_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                       gnutls_pcert_st **pcert, unsigned int *pcert_length,
                       gnutls_privkey_t *privkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    const struct tls_set *set = atomic_load_explicit(&current, memory_order_acquire);
    if (!set || set->n == 0)
        return -1;
    char name[SNI_NAME_MAX + 2];
    size_t len = sizeof name;
    unsigned type = 0;
    int slot = -1;
    if (gnutls_server_name_get(session, name, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS)
        slot = sni_lookup(&set->names, name, len);
    const struct tls_cert *c = &set->certs[slot >= 0 ? (unsigned)slot : set->def];
    *pcert = (gnutls_pcert_st *)c->pcerts;
    *pcert_length = c->n_pcerts;
    *privkey = c->key;
    return 0;
}

void tls_store_stop(void)
{
    pthread_mutex_lock(&lock);
    set_free(atomic_exchange(&current, NULL));
    while (retired) {
        struct tls_set *r = retired;
        retired = r->next_retired;
        set_free(r);
    }
    pthread_mutex_unlock(&lock);
}

int tls_store_cert_times(const char *path, const struct str_list *hosts, int64_t *not_before,
                         int64_t *not_after, bool *covers)
{
    gnutls_datum_t d = {NULL, 0};
    struct file_id id;
    const char *why;
    gnutls_x509_crt_t crt = NULL;
    int rc = -1;
    if (read_file(path, &d, &id, &why) != 0)
        return -1;
    if (gnutls_x509_crt_init(&crt) == 0 &&
        gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0) {
        *not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
        *not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
        *covers = true;
        for (size_t i = 0; hosts && i < hosts->n; i++)
            *covers = *covers && gnutls_x509_crt_check_hostname(crt, hosts->v[i]);
        rc = 0;
    }
    if (crt)
        gnutls_x509_crt_deinit(crt);
    gnutls_free(d.data);
    return rc;
}
