/*
 * dev_tls: development mode's local HTTPS (--https). A certificate authority made once per
 * user under $XDG_DATA_HOME/wharf (else ~/.local/share/wharf), and at each start a server
 * certificate it signs for localhost, *.localhost, NAME.localhost (--name), 127.0.0.1 and ::1,
 * all with GnuTLS's own X.509 API. wharf never installs the CA anywhere: dev_tls_trust_help
 * prints the commands a person runs to trust it.
 */
#ifndef WHARF_DEV_TLS_H
#define WHARF_DEV_TLS_H

#include <stdbool.h>
#include <stdio.h>

#include "util.h"

struct dev_tls {
    char *dir;     /* $XDG_DATA_HOME/wharf */
    char *ca_cert; /* dir/ca.pem: the CA's certificate (what a browser is told to trust) */
    char *cert;    /* dir/[NAME.]localhost.pem: the server certificate */
    char *key;     /* dir/[NAME.]localhost-key.pem: its key (0600) */
    bool ca_new;   /* the CA was made by this start */
};

/** Make (or reuse) the CA, then issue the server certificate, covering name.localhost too
 *  when name is not NULL. 0, or -1 with errors. */
int dev_tls_prepare(struct dev_tls *t, const char *name, struct errlist *errs);
void dev_tls_dispose(struct dev_tls *t);
/** How to trust the CA: certutil for browsers (NSS), update-ca-certificates for the system. */
void dev_tls_trust_help(const struct dev_tls *t, FILE *out);
/** Whether name can be a DNS label of NAME.localhost: 1-63 of [a-z0-9-], no '-' at an end. */
bool dev_tls_name_ok(const char *name);

#endif
