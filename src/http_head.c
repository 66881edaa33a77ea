/*
 * http_head: see include/http_head.h. Two passes: first the layout evidence (are the bytes
 * between the reported strings exactly the separators of a well-formed head?), then the
 * strings themselves (RFC 9110 tokens, field values, Host, message framing). Every 400 is
 * decided before a 501, so a head that is both malformed and uses an unknown transfer coding
 * is a 400.
 *
 * note: an in-place parser that overwrites CR LF with NUL NUL makes NULs at the very end of
 * a field line look like a line end where bare LFs are involved: "a\0\n" is "a\r\n", and at
 * the end of the head "a\0\0\n\n" is "a\r\n\r\n". Those cases cannot be told apart (the
 * fuzz target checks that nothing else can hide); nothing follows such NULs, the value
 * simply ends before them.
 */
#include "http_head.h"

#include <stdint.h>
#include <string.h>

#include "http_token.h"

/* ---- layout evidence ------------------------------------------------------------------ */

/* Is [p, p + n) inside raw? Sets *off. Pointers are compared as integers: p may belong to
 * another object (a field name the parser moved out of its buffer). */
static bool in_raw(const struct http_head *h, const char *p, size_t n, size_t *off)
{
    uintptr_t base = (uintptr_t)h->raw, at = (uintptr_t)p;
    if (!p || at < base || at - base > h->raw_len || h->raw_len - (at - base) < n)
        return false;
    *off = (size_t)(at - base);
    return true;
}

/* One line end, in its original form or as an in-place parser leaves it (NULs). */
static bool is_line_end(const char *s, size_t n)
{
    if (n == 1)
        return s[0] == '\n' || s[0] == '\0';
    if (n == 2)
        return (s[0] == '\r' && s[1] == '\n') || (s[0] == '\0' && s[1] == '\0');
    return false;
}

static bool is_two_line_ends(const char *s, size_t n)
{
    for (size_t k = 1; k <= 2 && k < n; k++)
        if (is_line_end(s, k) && is_line_end(s + k, n - k))
            return true;
    return false;
}

/* A gap that should have been one line end (two at the end of the head): say why not. */
static const char *bad_gap(const char *s, size_t n)
{
    for (size_t k = 1; k <= 2 && k < n; k++)
        if (is_line_end(s, k) && (s[k] == ' ' || s[k] == '\t'))
            return "Obsolete line folding in a header field.";
    return "NUL or stray bytes in a header field.";
}

static const char *check_layout(const struct http_head *h)
{
    const char *raw = h->raw;
    size_t m_off, v_off, t_off, pos;

    if (!in_raw(h, h->method, h->method_len, &m_off) || m_off != 0 ||
        !in_raw(h, h->version, h->version_len, &v_off) || v_off <= h->method_len)
        return "Malformed request line.";
    if (h->target_at) {
        if (!in_raw(h, h->target_at, h->target_len, &t_off) || t_off <= h->method_len ||
            t_off + h->target_len > v_off)
            return "Malformed request line.";
        if (t_off != h->method_len + 1)
            return "More than one space after the method.";
        if (v_off != t_off + h->target_len + 1)
            return "NUL or stray bytes in the request target.";
    } else if (v_off < h->method_len + 3) {
        return "Malformed request line.";
    }
    if (raw[h->method_len] != ' ' && raw[h->method_len] != '\0')
        return "Malformed request line.";
    if (raw[v_off - 1] != ' ' && raw[v_off - 1] != '\0')
        return "Malformed request line.";

    pos = v_off + h->version_len;
    for (size_t i = 0; i < h->n_fields; i++) {
        const struct http_head_field *f = &h->fields[i];
        size_t n_off, val_off;

        /* note: libmicrohttpd glues an obs-fold continuation onto the field's *name* and
         * moves that name out of its read buffer */
        if (!in_raw(h, f->name, f->name_len, &n_off))
            return "Obsolete line folding in a header field.";
        if (n_off < pos)
            return "Malformed header field.";
        if (!is_line_end(raw + pos, n_off - pos))
            return n_off - pos == 0 ? "Malformed header field." : bad_gap(raw + pos, n_off - pos);
        if (!in_raw(h, f->value, f->value_len, &val_off) || val_off <= n_off + f->name_len)
            return "Malformed header field.";
        pos = n_off + f->name_len;
        if (raw[pos] != ':' && raw[pos] != '\0')
            return "Malformed header field.";
        for (pos++; pos < val_off; pos++)
            if (raw[pos] != ' ' && raw[pos] != '\t')
                return "NUL or stray bytes in a header field.";
        pos = val_off + f->value_len;
    }
    if (!is_two_line_ends(raw + pos, h->raw_len - pos))
        return h->raw_len - pos < 2 ? "Malformed request head."
                                    : bad_gap(raw + pos, h->raw_len - pos);
    return NULL;
}

/* ---- the strings ---------------------------------------------------------------------- */

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!http_is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

static bool name_is(const struct http_head_field *f, const char *name)
{
    size_t n = strlen(name);
    if (f->name_len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = f->name[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

static bool ci_equal(const char *s, size_t n, const char *lit)
{
    struct http_head_field f = {.name = s, .name_len = n};
    return name_is(&f, lit);
}

static void trim_ows(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bool is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved / sub-delims (reg-name characters besides pct-encoded) */
static bool is_regname_char(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c > 0 && strchr("-._~!$&'()*+,;=", c) != NULL;
}

bool http_head_host_ok(const char *s, size_t n)
{
    size_t i = 0;

    if (n && s[0] == '[') { /* IP-literal: IPv6address or IPvFuture, checked loosely */
        for (i = 1; i < n && s[i] != ']'; i++)
            if (!is_hex((unsigned char)s[i]) && s[i] != ':' && s[i] != '.' &&
                !is_regname_char((unsigned char)s[i]))
                return false;
        if (i == n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && s[i] != ':'; i++) {
            if (s[i] == '%') {
                if (n - i < 3 || !is_hex((unsigned char)s[i + 1]) ||
                    !is_hex((unsigned char)s[i + 2]))
                    return false;
                i += 2;
            } else if (!is_regname_char((unsigned char)s[i])) {
                return false;
            }
        }
    }
    if (i == n)
        return true;
    if (s[i] != ':')
        return false;
    for (i++; i < n; i++) /* port = *DIGIT */
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* RFC 9112 6.1: transfer-coding list. 0 = exactly one "chunked" and nothing else; 400 for a
 * malformed list or chunked applied twice; 501 for any coding other than chunked. */
static unsigned check_transfer_encoding(const char *v, size_t n, const char **why)
{
    unsigned n_chunked = 0, n_other = 0, n_elems = 0;
    size_t i = 0;

    while (i <= n) {
        size_t start = i, end;
        while (i < n && v[i] != ',')
            i++;
        end = i++;
        const char *e = v + start;
        size_t len = end - start;
        trim_ows(&e, &len);
        if (len == 0)
            continue; /* RFC 9110 5.6.1: empty list elements are ignored */
        n_elems++;
        size_t name_len = 0;
        while (name_len < len && e[name_len] != ';' && e[name_len] != ' ' && e[name_len] != '\t')
            name_len++;
        if (!is_token(e, name_len)) {
            *why = "Malformed Transfer-Encoding.";
            return 400;
        }
        if (ci_equal(e, name_len, "chunked") && name_len == len)
            n_chunked++;
        else
            n_other++;
    }
    if (n_elems == 0) {
        *why = "Malformed Transfer-Encoding.";
        return 400;
    }
    if (n_chunked > 1) { /* RFC 9112 6.1: a sender MUST NOT apply chunked more than once */
        *why = "Transfer-Encoding applies chunked more than once.";
        return 400;
    }
    if (n_other) {
        *why = "Transfer codings other than chunked are not implemented.";
        return 501;
    }
    return 0;
}

/* RFC 9110 10.1.1: Expect is a list whose only defined member is "100-continue" (any case;
 * libmicrohttpd answers it); empty members are ignored (RFC 9110 5.6.1) */
static bool expect_ok(const char *v, size_t n)
{
    size_t i = 0;

    while (i <= n) {
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        const char *e = v + start;
        size_t len = i++ - start;
        trim_ows(&e, &len);
        if (len && !ci_equal(e, len, "100-continue"))
            return false;
    }
    return true;
}

/* ---- the check, step by step --------------------------------------------------------- */

/* The fields that decide which site a request is for and where its body ends. Each is
 * counted as well as kept: a second copy is an error of its own. */
struct framing_fields {
    const struct http_head_field *host, *cl, *te;
    unsigned n_host, n_cl, n_te;
    const struct http_head_field *expect_other; /* an Expect naming more than 100-continue */
};

/* Version first: a 505 for HTTP/2+ wins over anything else wrong in the line. */
static unsigned check_request_line(const struct http_head *h, const char **why)
{
    const char *w;

    if (!h->version || h->version_len != 8 || memcmp(h->version, "HTTP/", 5) != 0 ||
        h->version[5] < '0' || h->version[5] > '9' || h->version[6] != '.' || h->version[7] < '0' ||
        h->version[7] > '9') {
        *why = "Malformed HTTP version.";
        return 400;
    }
    if (h->version[5] != '1') {
        *why = "Only HTTP/1.x is supported.";
        return 505;
    }
    if (!h->method || !is_token(h->method, h->method_len)) {
        *why = "Malformed request method.";
        return 400;
    }
    if (!h->target || h->target_len == 0) {
        *why = "Malformed request target.";
        return 400;
    }
    for (size_t i = 0; i < h->target_len; i++) {
        unsigned char c = (unsigned char)h->target[i];
        if (c <= 0x20 || c == 0x7f) { /* RFC 9112 3.2: no whitespace, no controls */
            *why = "Malformed request target.";
            return 400;
        }
    }
    if (h->raw && (w = check_layout(h)) != NULL) {
        *why = w;
        return 400;
    }
    return 0;
}

/* One field line's own syntax: a token for a name, no NUL, CR or LF in the value. */
static unsigned check_field(const struct http_head_field *f, const char **why)
{
    if (f->name_len == 0) {
        *why = "Empty header field name.";
        return 400;
    }
    if (!is_token(f->name, f->name_len)) {
        size_t n = f->name_len;
        while (n && (f->name[n - 1] == ' ' || f->name[n - 1] == '\t'))
            n--;
        /* RFC 9112 5.1: no whitespace between the field name and the colon */
        *why = n < f->name_len && is_token(f->name, n)
                   ? "Whitespace between a header field name and its colon."
                   : "Malformed header field name.";
        return 400;
    }
    for (size_t j = 0; j < f->value_len; j++) {
        char c = f->value[j];
        if (c == '\0' || c == '\r' || c == '\n') { /* RFC 9110 5.5: MUST reject */
            *why = c == '\r' ? "Bare CR in a header field." : "NUL or LF in a header field.";
            return 400;
        }
    }
    return 0;
}

/* Checks every field in order and notes Host, Content-Length and Transfer-Encoding in ff. */
static unsigned check_fields(const struct http_head *h, struct framing_fields *ff, const char **why)
{
    for (size_t i = 0; i < h->n_fields; i++) {
        const struct http_head_field *f = &h->fields[i];
        unsigned st = check_field(f, why);
        if (st)
            return st;
        if (name_is(f, "Host"))
            ff->host = f, ff->n_host++;
        else if (name_is(f, "Content-Length"))
            ff->cl = f, ff->n_cl++;
        else if (name_is(f, "Transfer-Encoding"))
            ff->te = f, ff->n_te++;
        else if (name_is(f, "Expect") && !expect_ok(f->value, f->value_len))
            ff->expect_other = f;
    }
    return 0;
}

/* The authority of an absolute-form target ("http://host:port/x"), which names the site
 * instead of Host (RFC 9112 3.2.2); NULL for any other form. */
static const char *target_authority(const struct http_head *h, size_t *len)
{
    size_t skip = h->target_len >= 7 && ci_equal(h->target, 7, "http://")    ? 7
                  : h->target_len >= 8 && ci_equal(h->target, 8, "https://") ? 8
                                                                             : 0;
    if (!skip)
        return NULL;
    const char *a = h->target + skip;
    size_t n = 0;
    while (skip + n < h->target_len && !memchr("/?#", a[n], 3))
        n++;
    *len = n;
    return a;
}

/* RFC 9112 3.2: exactly one valid Host in HTTP/1.1, and an absolute-form target's authority
 * as valid as a Host: it is what picks the site and what the application sees as its host */
static unsigned check_host(const struct http_head *h, const struct framing_fields *ff, bool is_1_0,
                           const char **why)
{
    size_t auth_len;
    const char *auth = target_authority(h, &auth_len);
    /* note: RFC 9110 4.2.4 says to treat userinfo in an http(s) URI as an error, and
     * http_head_host_ok refuses the '@' of one; an empty host is never valid for http(s) */
    if (auth && (auth_len == 0 || auth_len > HTTP_HEAD_AUTHORITY_MAX ||
                 !http_head_host_ok(auth, auth_len))) {
        *why = "Malformed host in the request target.";
        return 400;
    }
    if (ff->n_host > 1) {
        *why = "More than one Host header.";
        return 400;
    }
    if (!ff->host && !is_1_0) {
        *why = "Missing Host header.";
        return 400;
    }
    if (ff->host) {
        const char *v = ff->host->value;
        size_t n = ff->host->value_len;
        trim_ows(&v, &n);
        if (n == 0) { /* valid by the grammar, but never for an http(s) URI; nginx: 400 */
            *why = "Empty Host header.";
            return 400;
        }
        if (!http_head_host_ok(v, n)) {
            *why = "Malformed Host header.";
            return 400;
        }
    }
    return 0;
}

/* framing: RFC 9112 6.1-6.3, RFC 9110 8.6. Every 400 here comes before the one 501 check. */
static unsigned check_framing(const struct framing_fields *ff, bool is_1_0, const char **why)
{
    if (ff->n_cl > 1) {
        *why = "More than one Content-Length header.";
        return 400;
    }
    if (ff->cl) {
        const char *v = ff->cl->value;
        size_t n = ff->cl->value_len;
        trim_ows(&v, &n);
        bool digits = n > 0;
        for (size_t i = 0; i < n; i++)
            digits = digits && v[i] >= '0' && v[i] <= '9';
        if (!digits) {
            *why = "Malformed Content-Length.";
            return 400;
        }
    }
    if (ff->te) {
        if (ff->n_te > 1) {
            *why = "More than one Transfer-Encoding header.";
            return 400;
        }
        if (ff->cl) { /* the classic request-smuggling vector */
            *why = "Both Content-Length and Transfer-Encoding.";
            return 400;
        }
        if (is_1_0) { /* RFC 9112 6.1: faulty framing */
            *why = "Transfer-Encoding in an HTTP/1.0 request.";
            return 400;
        }
        unsigned st = check_transfer_encoding(ff->te->value, ff->te->value_len, why);
        if (st)
            return st;
        /* the framer (libmicrohttpd) recognises only the exact value; anything else
         * ("chunked " with trailing whitespace) would be read as a body without end */
        if (!ci_equal(ff->te->value, ff->te->value_len, "chunked")) {
            *why = "Transfer-Encoding other than exactly \"chunked\" is not implemented.";
            return 501;
        }
    }
    return 0;
}

unsigned http_head_check(const struct http_head *h, const char **why)
{
    struct framing_fields ff = {0};
    unsigned st;

    st = check_request_line(h, why);
    if (st)
        return st;
    bool is_1_0 = h->version[7] == '0';
    st = check_fields(h, &ff, why);
    if (st)
        return st;
    st = check_host(h, &ff, is_1_0, why);
    if (st)
        return st;
    st = check_framing(&ff, is_1_0, why);
    if (st)
        return st;
    if (ff.expect_other) { /* RFC 9110 10.1.1 MAY; Apache does, nginx ignores it */
        *why = "The only expectation supported is 100-continue.";
        return 417;
    }
    *why = NULL;
    return 0;
}
