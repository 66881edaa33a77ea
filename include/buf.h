/*
 * buf: a growable byte buffer with a hard ceiling (curl's dynbuf "toobig"). Every buffer
 * fed from the network or from files has a cap, and hitting it is an error the caller
 * turns into a clean response, never an abort. Pure: no I/O.
 */
#ifndef WHARF_BUF_H
#define WHARF_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len; /* bytes used, excluding the terminator */
    size_t cap; /* bytes allocated */
    size_t max; /* ceiling for len; 0 = SIZE_MAX */
};

/** Start empty with a ceiling of max bytes (0 = unlimited). Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/** Free the storage; b can be reused after buf_init. */
void buf_dispose(struct buf *b);
/** Forget the contents, keep the storage. */
void buf_reset(struct buf *b);
/** Cut the contents back to their first len bytes (len <= b->len): undoes a partial append. */
void buf_truncate(struct buf *b, size_t len);
/** Append; -1 (and b unchanged) if the result would exceed the ceiling. */
int buf_append(struct buf *b, const void *p, size_t n);
/** Make room for n more bytes now (one allocation instead of several doublings); -1 past max. */
int buf_reserve(struct buf *b, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/** Append s with & < > " ' replaced by HTML entities. */
int buf_append_html(struct buf *b, const char *s, size_t n);
/** Append s with JSON string escaping (no surrounding quotes): " and \ and \n \r \t by their
 *  short escapes, other control bytes and DEL as \u00XX. Valid UTF-8 is copied as it is; each
 *  byte of invalid UTF-8 becomes \u00XX (its Latin-1 reading), so the result is always valid
 *  JSON in UTF-8 and the byte can still be told. */
int buf_append_json(struct buf *b, const char *s, size_t n);
/** Length of the well-formed UTF-8 sequence at the start of s (1..4; RFC 3629: no overlong
 *  forms, surrogates or code points past U+10FFFF), 0 when s does not start with one. */
size_t buf_utf8_len(const char *s, size_t n);
/** Append s percent-encoding everything but unreserved characters and '/'. */
int buf_append_url(struct buf *b, const char *s, size_t n);
/**
 * Read from the front of b, the consumer's position in *off: copy up to max unread bytes into
 * dst and return how many. Drained, b is reset (*off = 0); otherwise once *off passes
 * compact_above the unread rest moves to the front, so a buffer read as it fills never grows
 * without bound.
 */
size_t buf_take(struct buf *b, size_t *off, void *dst, size_t max, size_t compact_above);
/** Hand the storage to the caller (NUL-terminated, caller frees); b becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
