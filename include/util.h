/*
 * util: allocation that aborts on out-of-memory (h2o and lighttpd do the same: an
 * allocation failure in a server is not a recoverable per-request condition), error
 * collection for load-time code, and clocks. Keep this file tiny.
 */
#ifndef WHARF_UTIL_H
#define WHARF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/** printf into a fresh heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** A list of error messages collected at load time ("file:line: message"). */
struct errlist {
    char **msg;
    size_t n;
};

/** Append a formatted message; always returns -1 so callers can `return errlist_add(...)`. */
int errlist_add(struct errlist *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void errlist_dispose(struct errlist *e);

/** Monotonic clock in milliseconds / microseconds. */
uint64_t clock_ms(void);
/** v in decimal into out (at least 21 bytes), NUL-terminated; returns the length. */
size_t u64_to_dec(char *out, uint64_t v);
/** Copy the string src into out (n > 0 bytes), cut to fit; returns the length copied. */
size_t copy_str(char *out, size_t n, const char *src);
/** a then b into out (n bytes), NUL-terminated; false (out unspecified) when they do not fit.
 *  For paths built per request: snprintf("%s%s") showed up in the 1 KiB profile. */
bool join2(char *out, size_t n, const char *a, const char *b);
uint64_t clock_us(void);

/** ASCII case-insensitive compare of the first n bytes; no locale. */
int ascii_ncasecmp(const char *a, const char *b, size_t n);
int ascii_casecmp(const char *a, const char *b);

#endif
