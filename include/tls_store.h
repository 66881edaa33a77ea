/*
 * tls_store: the certificates the TLS listeners serve, chosen per handshake by server name
 * (SNI) through GnuTLS's certificate-retrieve callback, which every TLS daemon is given
 * (MHD_OPTION_HTTPS_CERT_CALLBACK). The store holds one immutable set: the [server] default
 * and each site's own (tls_cert/tls_key, or what ACME put in acme_dir, or, until then, a
 * temporary self-signed one made here). A new set replaces the whole one atomically: at a
 * reload, and when a file of the set changes on disk (tls_store_refresh, from main's tick and
 * after an ACME issuance). Handshakes in progress keep the set they started with: a replaced
 * set is freed only TLS_STORE_GRACE_S later (longer than any handshake may last:
 * header_timeout is at most 10 minutes), so no connection is dropped.
 * Thread-safety: tls_store_retrieve runs on any worker; the rest on one thread at a time
 * (they take the store's lock).
 */
#ifndef WHARF_TLS_STORE_H
#define WHARF_TLS_STORE_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "config.h"
#include "util.h"

#define TLS_STORE_GRACE_S 900 /* a replaced set lives this long after its replacement */

struct tls_set;

/** A set for cfg: reads and parses every certificate and key (errors name the file, the site,
 *  and what is wrong, e.g. a key that does not match its certificate). NULL with errs. */
struct tls_set *tls_store_build(const struct config *cfg, struct errlist *errs);

/** Serve set from now on (the store owns it); the previous one is freed after the grace. */
void tls_store_publish(struct tls_set *set);

/** Free a set that was never published. */
void tls_store_discard(struct tls_set *set);

/** Whether a file of the served set changed (identity or mtime); if so, build the set again
 *  from the same configuration and serve it. A file that fails to load keeps the certificate
 *  served before (logged once per change). Returns 1 when a new set is served, else 0. */
int tls_store_refresh(void);

/** The GnuTLS retrieve callback (gnutls_certificate_retrieve_function2). */
int tls_store_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                       gnutls_pcert_st **pcert, unsigned int *pcert_length,
                       gnutls_privkey_t *privkey);

/** Free every set (shutdown, after the TLS daemons stopped). */
void tls_store_stop(void);

/** The validity of the certificate at path (its first one), and whether it is valid for every
 *  name in hosts (*covers; hosts may be NULL). 0, or -1 when unreadable. */
int tls_store_cert_times(const char *path, const struct str_list *hosts, int64_t *not_before,
                         int64_t *not_after, bool *covers);

/** The paths where ACME certificates of a site with first host `host` live in dir
 *  (uacme's layout: DIR/HOST/cert.pem and DIR/private/HOST/key.pem); heap strings. */
char *tls_store_acme_cert_path(const char *dir, const char *host);
char *tls_store_acme_key_path(const char *dir, const char *host);

#endif
