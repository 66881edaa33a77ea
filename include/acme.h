/*
 * acme: automatic HTTPS for the sites with tls = auto. One thread runs Debian's uacme (an
 * RFC 8555 client in C on GnuTLS) through proc.h, as the git worker runs git: `uacme new`
 * once per account, then `uacme issue HOST...` when a site has no certificate or a third of
 * its certificate's lifetime is left (acme_plan.h), retried with a doubling backoff after a
 * failure. uacme's challenge hook is wharf itself (acme_hook_main): it writes the HTTP-01 key
 * authorization to ACME_DIR/challenges/TOKEN, which the front serves on every listener
 * (acme_challenge_read). A new certificate reaches the TLS listeners through
 * tls_store_refresh(); start-up never waits for it (tls_store serves a temporary self-signed
 * one meanwhile). acme_ca_roots: uacme (libcurl) has no option for a CA file, so it runs in a
 * private mount namespace where /etc/ssl/certs holds only those roots (acme_exec_main).
 */
#ifndef WHARF_ACME_H
#define WHARF_ACME_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

#define ACME_HOOK_ENV "WHARF_ACME_CHALLENGES" /* the hook's directory, for uacme's children */
#define ACME_EXEC_FLAG "--acme-exec"          /* argv[1] of the namespace wrapper */
#define ACME_CHALLENGE_MAX 512                /* a key authorization is ~87 bytes */

/** Start the thread for cfg's tls = auto sites (none: nothing). What it needs is copied.
 *  0, or -1 when the thread cannot start (logged). Call again after acme_stop() at a reload. */
int acme_start(const struct config *cfg);

/** Stop the thread; a uacme in progress is killed (proc_cancel_all is the caller's). */
void acme_stop(void);

/** The key authorization for token of site (its acme_dir), into out (n bytes): its length, or
 *  -1 when there is none. Any thread. */
ssize_t acme_challenge_read(const struct site_conf *site, const char *token, char *out, size_t n);

/** uacme's hook: argv = PROGRAM METHOD TYPE IDENT TOKEN AUTH, directory from ACME_HOOK_ENV.
 *  Returns the exit status (0 accepts an http-01 challenge; others are declined). */
int acme_hook_main(int argc, char **argv);

/** The namespace wrapper: argv = PROGRAM --acme-exec ROOTS COMMAND ARGS...; returns only on
 *  failure (exit status). */
int acme_exec_main(int argc, char **argv);

#endif
