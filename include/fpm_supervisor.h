/*
 * fpm_supervisor: local development mode ("fastcgi = spawn", or --php alone). wharf writes a
 * php-fpm configuration into a private temporary directory, starts php-fpm on a unix socket
 * there (posix_spawn: safe in a threaded process), restarts it with backoff when it dies, and
 * stops it (and removes the directory) on exit. php-fpm's own log goes to wharf's stderr.
 */
#ifndef WHARF_FPM_SUPERVISOR_H
#define WHARF_FPM_SUPERVISOR_H

#include "config.h"

struct fpm_supervisor;

/** Start php-fpm: binary, or (NULL) the one fpm_supervisor_find() finds, with `children`
 *  static workers, and wait until its socket accepts connections. dev: PHP's messages reach
 *  wharf only as each request's FastCGI stderr (shown under its line), not a second time
 *  through php-fpm's log. NULL with errors on failure. */
struct fpm_supervisor *fpm_supervisor_start(unsigned children, const char *binary, bool dev,
                                            struct errlist *errs);
/** php-fpm, else the newest php-fpmX.Y, in PATH then /usr/sbin and /usr/local/sbin; with name,
 *  exactly that name (e.g. "php-fpm8.2"). The path (caller frees), or NULL. */
char *fpm_supervisor_find(const char *name);
/** Every php-fpm* in those directories, "php-fpm8.2 php-fpm8.4" (sorted, each name once);
 *  "" when none. Caller frees. */
char *fpm_supervisor_installed(void);
/** The socket address to give the FastCGI pools ("unix:/tmp/wharf-fpm.XXXXXX/php-fpm.sock"). */
const struct upstream_addr *fpm_supervisor_upstream(const struct fpm_supervisor *s);
/** Reap and restart a dead php-fpm (with backoff). Call about once a second from one thread. */
void fpm_supervisor_poll(struct fpm_supervisor *s);
/** How many times php-fpm was restarted after it died. Any thread. */
unsigned fpm_supervisor_restarts(const struct fpm_supervisor *s);
/** Stop php-fpm (SIGQUIT, then SIGKILL after 5 s), remove the directory, free s. NULL is ok. */
void fpm_supervisor_stop(struct fpm_supervisor *s);

#endif
