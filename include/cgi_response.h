/*
 * cgi_response: an incremental parser for the CGI response head (RFC 3875 6) that a
 * FastCGI application writes at the start of its STDOUT stream. Pure: no I/O. Feed it
 * STDOUT bytes as they arrive; it stops at the blank line and says where the body starts.
 */
#ifndef WHARF_CGI_RESPONSE_H
#define WHARF_CGI_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Longest head accepted, counting line ends and the blank line: more is the backend's bug. */
#define CGI_RESPONSE_MAX_HEAD 65536

struct cgi_head_header {
    char *name;  /* as sent (any case), a non-empty RFC 9110 token */
    char *value; /* without surrounding SP/HTAB; may be "" */
};

/* The parsed head. Strings point into the parser and live until cgi_head_dispose. */
struct cgi_head {
    unsigned status;      /* from Status:, 200-599; 0 = no Status header */
    char *status_reason;  /* "Not Found"; NULL = none given */
    const char *location; /* value of Location:; NULL = none */
    bool has_content_length;
    uint64_t content_length;         /* bytes; valid if has_content_length */
    struct cgi_head_header *headers; /* every header but Status, in order, with repeats
                                      * (Set-Cookie); Location and Content-Length included */
    size_t n_headers;
};

/** The value of the first header named name (any case), or NULL. */
const char *cgi_head_value(const struct cgi_head *h, const char *name);

enum cgi_head_status {
    CGI_HEAD_NEED_MORE,
    CGI_HEAD_DONE,
    CGI_HEAD_ERROR,
};

#define CGI_HEAD_INLINE 12 /* lines (blank line included) whose headers need no allocation */

/* Transparent so it can live inside a request; touch only head, via the functions below. */
struct cgi_head_parser {
    struct buf raw;       /* head bytes so far, capped at CGI_RESPONSE_MAX_HEAD */
    struct cgi_head head; /* valid once cgi_head_feed returned DONE */
    enum cgi_head_status state;
    size_t line_len;  /* bytes in the current line, not counting a CR */
    unsigned line_no; /* 1-based, for error messages */
    bool cr;          /* the previous byte was a CR */
    char why[80];     /* the error, once state is ERROR */
    /* head.headers of a head of at most CGI_HEAD_INLINE lines: no allocation per response */
    struct cgi_head_header head_inline[CGI_HEAD_INLINE];
};

/** Prepare an empty parser. Allocates nothing. */
void cgi_head_init(struct cgi_head_parser *p);

/** Free everything the parser holds, including p->head's strings. p may be re-inited. */
void cgi_head_dispose(struct cgi_head_parser *p);

/**
 * Feed the next len bytes of STDOUT. The head may be split anywhere (also inside "\r\n\r\n")
 * and lines may end in "\r\n" or a bare "\n"; an immediate blank line is an empty head.
 * Returns NEED_MORE (all len bytes taken, *consumed = len), DONE (p->head is filled and the
 * body starts at data + *consumed) or ERROR (see cgi_head_error; *consumed = 0). Errors:
 * a head over CGI_RESPONSE_MAX_HEAD bytes, a NUL byte, a CR not followed by LF, a line
 * without ':', an empty or non-token header name (so also obsolete line folding), a Status
 * that is not three digits 100-599 optionally followed by whitespace and a reason, a 1xx
 * Status (an interim response cannot answer the request), a
 * Content-Length that is not all digits or overflows 64 bits, and repeats of Status,
 * Location or Content-Length with a different value. After DONE or ERROR, further calls
 * return the same status and consume nothing. The result does not depend on how the input
 * was split.
 */
enum cgi_head_status cgi_head_feed(struct cgi_head_parser *p, const char *data, size_t len,
                                   size_t *consumed);

/** Why the head was refused ("line 3: no ':' in header line"); "" unless state is ERROR. */
const char *cgi_head_error(const struct cgi_head_parser *p);

/**
 * The status to send: Status if given, else 302 if Location is absolute (scheme "://"),
 * else 200 (RFC 3875 6.2.3, 6.2.4).
 */
unsigned cgi_head_effective_status(const struct cgi_head *h);

/**
 * True for a local redirect (RFC 3875 6.2.2): Location starts with '/' but not "//", and
 * there is no Status. The server should then serve that path instead of this response.
 */
bool cgi_head_is_local_redirect(const struct cgi_head *h);

#endif
