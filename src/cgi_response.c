/*
 * cgi_response: finds the end of the CGI head in STDOUT and parses it. Two phases: while
 * bytes arrive, a per-byte scan only tracks line ends, refuses NUL, lone CR and oversize
 * heads, and copies the head into a capped buffer; at the blank line the buffered head is
 * parsed once, in place (names and values become NUL-terminated slices of that buffer).
 * Every check in the scan depends only on the byte position, never on chunk boundaries, so
 * any split of the input gives the same result (the fuzzer checks exactly that).
 * Nothing is decided about the response here beyond what the head says; mapping an error
 * to 502 is the caller's job.
 */
#include "cgi_response.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "http_token.h"

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool same_str(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

void cgi_head_init(struct cgi_head_parser *p)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->raw, CGI_RESPONSE_MAX_HEAD);
    p->state = CGI_HEAD_NEED_MORE;
    p->line_no = 1;
}

static void head_free(struct cgi_head_parser *p)
{
    if (p->head.headers != p->head_inline)
        free(p->head.headers);
    memset(&p->head, 0, sizeof p->head);
}

void cgi_head_dispose(struct cgi_head_parser *p)
{
    buf_dispose(&p->raw);
    head_free(p);
}

__attribute__((format(printf, 2, 3))) static int fail(struct cgi_head_parser *p, const char *fmt,
                                                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    head_free(p);
    p->state = CGI_HEAD_ERROR;
    return -1;
}

/* ---- the parse, once the whole head is in p->raw ------------------------------------ */

static int on_status(struct cgi_head_parser *p, char *v, unsigned line)
{
    struct cgi_head *h = &p->head;
    char *reason = NULL;
    unsigned code;

    if (!is_digit(v[0]) || !is_digit(v[1]) || !is_digit(v[2]))
        goto bad;
    code = (unsigned)(v[0] - '0') * 100 + (unsigned)(v[1] - '0') * 10 + (unsigned)(v[2] - '0');
    if (code < 100 || code > 599)
        goto bad;
    /* note: a 1xx is an interim response, never the final one: sent as the answer, the client
     * would take the next response on the connection for this request's */
    if (code < 200)
        return fail(p, "line %u: Status %u is an interim (1xx) status", line, code);
    if (v[3] != '\0') {
        if (!is_ws(v[3]))
            goto bad;
        reason = v + 4;
        while (is_ws(*reason))
            reason++;
        if (*reason == '\0')
            reason = NULL;
    }
    if (h->status != 0) {
        if (h->status != code || !same_str(h->status_reason, reason))
            return fail(p, "line %u: second Status with a different value", line);
        return 0;
    }
    h->status = code;
    h->status_reason = reason;
    return 0;
bad:
    return fail(p, "line %u: Status is not a code 100-599 and an optional reason", line);
}

static int on_content_length(struct cgi_head_parser *p, const char *v, unsigned line)
{
    struct cgi_head *h = &p->head;
    uint64_t n = 0;

    if (*v == '\0')
        return fail(p, "line %u: empty Content-Length", line);
    for (const char *c = v; *c; c++) {
        unsigned d = (unsigned)(*c - '0');

        if (!is_digit((unsigned char)*c))
            return fail(p, "line %u: Content-Length is not a number", line);
        if (n > (UINT64_MAX - d) / 10)
            return fail(p, "line %u: Content-Length overflows", line);
        n = n * 10 + d;
    }
    if (h->has_content_length && h->content_length != n)
        return fail(p, "line %u: second Content-Length with a different value", line);
    h->has_content_length = true;
    h->content_length = n;
    return 0;
}

/* One header line [s, eol), already free of NUL, CR and LF. */
static int header_line(struct cgi_head_parser *p, char *s, char *eol, unsigned line)
{
    struct cgi_head *h = &p->head;
    char *colon = memchr(s, ':', (size_t)(eol - s)), *v, *ve;

    if (!colon)
        return fail(p, "line %u: no ':' in header line", line);
    if (colon == s)
        return fail(p, "line %u: empty header name", line);
    for (const char *c = s; c < colon; c++)
        if (!http_is_tchar((unsigned char)*c))
            return fail(p, "line %u: bad character in header name", line);
    *colon = '\0';
    v = colon + 1;
    ve = eol;
    while (v < ve && is_ws(*v))
        v++;
    while (ve > v && is_ws(ve[-1]))
        ve--;
    *ve = '\0';

    if (ascii_casecmp(s, "Status") == 0)
        return on_status(p, v, line);
    if (ascii_casecmp(s, "Content-Length") == 0 && on_content_length(p, v, line) != 0)
        return -1;
    if (ascii_casecmp(s, "Location") == 0) {
        if (h->location && strcmp(h->location, v) != 0)
            return fail(p, "line %u: second Location with a different value", line);
        h->location = v;
    }
    h->headers[h->n_headers++] = (struct cgi_head_header){s, v};
    return 0;
}

static int parse(struct cgi_head_parser *p)
{
    char *s = p->raw.data, *end = s + p->raw.len;
    size_t lines = 0;

    /* the scan guarantees raw ends with the blank line's LF */
    for (const char *c = s; c < end; c++)
        lines += *c == '\n';
    p->head.headers =
        lines <= CGI_HEAD_INLINE ? p->head_inline : xcalloc(lines, sizeof *p->head.headers);
    for (unsigned line = 1;; line++) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *eol = nl > s && nl[-1] == '\r' ? nl - 1 : nl;

        if (eol == s)
            return 0;
        *eol = '\0';
        if (header_line(p, s, eol, line) != 0)
            return -1;
        s = nl + 1;
    }
}

/* ---- the scan -------------------------------------------------------------------------- */

enum cgi_head_status cgi_head_feed(struct cgi_head_parser *p, const char *data, size_t len,
                                   size_t *consumed)
{
    bool end = false;
    size_t i;

    *consumed = 0;
    if (p->state != CGI_HEAD_NEED_MORE)
        return p->state;
    for (i = 0; i < len && !end; i++) {
        char c = data[i];

        if (p->raw.len + i >= CGI_RESPONSE_MAX_HEAD) {
            fail(p, "response head over %u bytes", CGI_RESPONSE_MAX_HEAD);
            return p->state;
        }
        if (p->cr && c != '\n') {
            fail(p, "line %u: CR not followed by LF", p->line_no);
            return p->state;
        }
        if (c == '\n') {
            end = p->line_len == 0;
            p->line_len = 0;
            p->cr = false;
            p->line_no++;
        } else if (c == '\r') {
            p->cr = true;
        } else if (c == '\0') {
            fail(p, "line %u: NUL byte", p->line_no);
            return p->state;
        } else {
            p->line_len++;
        }
    }
    /* cannot fail: the scan above stopped at the cap */
    if (buf_append(&p->raw, data, i) != 0) {
        fail(p, "response head over %u bytes", CGI_RESPONSE_MAX_HEAD);
        return p->state;
    }
    if (!end) {
        *consumed = len;
        return CGI_HEAD_NEED_MORE;
    }
    if (parse(p) != 0)
        return p->state;
    p->state = CGI_HEAD_DONE;
    *consumed = i;
    return CGI_HEAD_DONE;
}

const char *cgi_head_error(const struct cgi_head_parser *p)
{
    return p->state == CGI_HEAD_ERROR ? p->why : "";
}

/* RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://" */
static bool is_absolute_url(const char *s)
{
    if (!is_alpha((unsigned char)*s))
        return false;
    while (is_alpha((unsigned char)*s) || is_digit((unsigned char)*s) || *s == '+' || *s == '-' ||
           *s == '.')
        s++;
    return strncmp(s, "://", 3) == 0;
}

unsigned cgi_head_effective_status(const struct cgi_head *h)
{
    if (h->status)
        return h->status;
    if (h->location && is_absolute_url(h->location))
        return 302;
    return 200;
}

bool cgi_head_is_local_redirect(const struct cgi_head *h)
{
    const char *l = h->location;

    return h->status == 0 && l && l[0] == '/' && l[1] != '/';
}

const char *cgi_head_value(const struct cgi_head *h, const char *name)
{
    for (size_t i = 0; i < h->n_headers; i++)
        if (ascii_casecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    return NULL;
}
