/*
 * http_head: wharf's own check of a request head, run before any handler and before the body
 * is read. Pure. libmicrohttpd 0.9.75 frames and parses the head leniently (Transfer-Encoding
 * beats Content-Length, the first of two Content-Lengths wins, "Content-Length :" and folded
 * lines are kept as odd names, a NUL cuts a value short); this module rejects everything RFC
 * 9110/9112 says must be rejected, so a second request can never hide inside the first.
 *
 * It sees the head two ways: as the strings the parser reported (method, target, version,
 * fields), and, optionally, as the bytes the parser split in place. The second view catches
 * what the first has lost: the separators between the strings must be exactly what a
 * well-formed head has there, so a raw NUL inside a value, an obs-fold continuation line or
 * a second space in the request line all show up as unexpected bytes between two strings.
 * docs/http-validation.md lists every rule with its status.
 */
#ifndef WHARF_HTTP_HEAD_H
#define WHARF_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

struct http_head_field {
    const char *name; /* as the parser reported it (not NUL-terminated here) */
    size_t name_len;
    const char *value; /* leading whitespace already skipped, trailing whitespace kept */
    size_t value_len;
};

struct http_head {
    const char *method;
    size_t method_len;
    const char *target; /* the request-target as received (a copy is fine) */
    size_t target_len;
    const char *version;
    size_t version_len;
    const struct http_head_field *fields; /* in the order received */
    size_t n_fields;
    /* Evidence, all optional: the head as it sits in the buffer the parser split in place,
     * from the first byte of the method to the end of the empty line. method, version and
     * every field must then point into it; target_at is where the target sits in it (NULL
     * when unknown). Separators may be the original bytes (SP, ':', CR LF) or the NULs an
     * in-place parser wrote over them. raw = NULL: only the strings are checked. */
    const char *raw;
    size_t raw_len;
    const char *target_at;
};

/** Check h. Returns 0 when the head may be served, else the status to answer with (400, or
 *  501 for a transfer coding wharf does not implement; 505 for an HTTP major version other
 *  than 1; 417 for an Expect other than 100-continue) and sets *why to a static sentence for
 *  the error page and the log. Every non-zero answer must close the connection: the framing of
 *  what follows is unknown. */
unsigned http_head_check(const struct http_head *h, const char **why);

/** The longest authority an absolute-form target may have: a DNS name (253) and a port. */
#define HTTP_HEAD_AUTHORITY_MAX 259

/** RFC 9110 7.2 / RFC 3986 3.2.2: s[0..n) is a valid Host value (uri-host [":" port]). */
bool http_head_host_ok(const char *s, size_t n);

#endif
