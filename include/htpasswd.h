/*
 * htpasswd: the text of an htpasswd file -> users and their password hashes. Pure: no I/O
 * (basic_auth reads the file), no crypto (basic_auth checks passwords with libcrypt).
 *
 * A line is "user:hash"; blank lines and lines starting with '#' are skipped. The user may
 * not be empty nor contain ':'. The hash is kept as written; which hashes libcrypt accepts
 * (bcrypt "$2y$", sha512-crypt "$6$", yescrypt "$y$", ...) is basic_auth's business. The
 * first line of a user wins, as in Apache.
 */
#ifndef WHARF_HTPASSWD_H
#define WHARF_HTPASSWD_H

#include <stddef.h>

#define HTPASSWD_MAX_USERS 100000
#define HTPASSWD_MAX_LINE 1024

struct htpasswd_entry {
    char *user;
    char *hash;
    unsigned line;
};

struct htpasswd {
    struct htpasswd_entry *v;
    size_t n;
};

/** Called for each line that is skipped as malformed (1-based line, static reason). */
typedef void (*htpasswd_warn_cb)(void *ctx, unsigned line, const char *why);

/** Parses text[0..len) into *out (zeroed first). Malformed lines are reported through warn
 *  (may be NULL) and skipped. Returns the number of entries. */
size_t htpasswd_parse(const char *text, size_t len, struct htpasswd *out, htpasswd_warn_cb warn,
                      void *ctx);

/** The entry of user, or NULL. */
const struct htpasswd_entry *htpasswd_find(const struct htpasswd *h, const char *user);

void htpasswd_dispose(struct htpasswd *h);

#endif
