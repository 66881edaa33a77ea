/*
 * error_page: reason phrases and the body of every error response wharf generates itself.
 * Pure. The page says only the status, its phrase and a caller-supplied detail (escaped), never
 * a path or an internal error, so it can be sent to anyone. Accept negotiation is deliberately
 * narrow: JSON only when application/json is named explicitly ("*" ranges never select it),
 * and a malformed element counts as q=0 rather than failing the whole header.
 */
#include "error_page.h"

#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "util.h"
#include "http_token.h"

/* Phrases follow RFC 9110 (413 "Content Too Large", 422 "Unprocessable Content"). */
static const struct {
    unsigned status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {418, "I'm a teapot"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
    {511, "Network Authentication Required"},
};

const char *error_page_reason(unsigned status)
{
    for (size_t i = 0; i < ARRAY_LEN(reasons); i++) {
        if (reasons[i].status == status)
            return reasons[i].reason;
    }
    return "Error";
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static size_t span_token(const char *s)
{
    size_t n = 0;
    while (http_is_tchar(s[n]))
        n++;
    return n;
}

/* quoted-string at s (which starts with '"'): its length including the quotes, or 0. */
static size_t span_quoted(const char *s)
{
    for (size_t i = 1; s[i]; i++) {
        if (s[i] == '"')
            return i + 1;
        if (s[i] == '\\' && s[i + 1])
            i++;
    }
    return 0;
}

struct media_range {
    const char *type, *subtype;
    size_t type_len, subtype_len;
    int q; /* thousandths; a malformed element gets 0 */
};

/* Parse one Accept element at *pp up to the ',' that ends it (or the end) and leave *pp after
 * that ','. RFC 9110 12.5.1: type "/" subtype *( OWS ";" OWS [ name "=" value ] ), where the
 * "q" parameter is the weight and anything after it is accept-ext (ignored). */
static void parse_range(const char **pp, struct media_range *r)
{
    const char *s = *pp;
    bool bad = false, seen_q = false;

    r->q = 1000;
    while (is_ows(*s))
        s++;
    r->type = s;
    r->type_len = span_token(s);
    s += r->type_len;
    if (*s == '/')
        s++;
    else
        bad = true;
    r->subtype = s;
    r->subtype_len = bad ? 0 : span_token(s);
    s += r->subtype_len;
    if (!r->type_len || !r->subtype_len)
        bad = true;
    while (!bad) {
        size_t n, v;

        while (is_ows(*s))
            s++;
        if (*s == ',' || !*s)
            break;
        if (*s != ';') {
            bad = true;
            break;
        }
        s++;
        while (is_ows(*s))
            s++;
        if (*s == ';' || *s == ',' || !*s)
            continue; /* an empty parameter is allowed */
        n = span_token(s);
        if (!n || s[n] != '=') {
            bad = true;
            break;
        }
        v = s[n + 1] == '"' ? span_quoted(s + n + 1) : span_token(s + n + 1);
        if (!v) {
            bad = true;
            break;
        }
        if (!seen_q && n == 1 && (*s == 'q' || *s == 'Q')) {
            seen_q = true;
            /* A quoted weight is not a qvalue; parse_qvalue rejects the quote. */
            r->q = http_parse_qvalue(s + 2, v);
            if (r->q < 0)
                bad = true;
        }
        s += n + 1 + v;
    }
    if (bad) {
        r->q = 0;
        /* note: a malformed element is skipped to the next raw ',', quotes or not. */
        while (*s && *s != ',')
            s++;
    }
    *pp = *s == ',' ? s + 1 : s;
}

static bool token_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && ascii_ncasecmp(s, want, n) == 0;
}

bool error_page_wants_json(const char *accept)
{
    int json_q = -1, html_q = 0;
    int html_rank = 0; /* 3 = text/html, 2 = text/(any), 1 = (any)/(any), 0 = no match */
    const char *p = accept;

    if (!p)
        return false;
    while (*p) {
        struct media_range r;
        int rank = 0;

        parse_range(&p, &r);
        if (token_is(r.type, r.type_len, "application") &&
            token_is(r.subtype, r.subtype_len, "json")) {
            json_q = r.q > json_q ? r.q : json_q;
            continue;
        }
        if (token_is(r.type, r.type_len, "text") && token_is(r.subtype, r.subtype_len, "html"))
            rank = 3;
        else if (token_is(r.type, r.type_len, "text") && token_is(r.subtype, r.subtype_len, "*"))
            rank = 2;
        else if (token_is(r.type, r.type_len, "*") && token_is(r.subtype, r.subtype_len, "*"))
            rank = 1;
        /* RFC 9110 12.5.1: the most specific range that matches text/html sets its weight. */
        if (rank > html_rank) {
            html_rank = rank;
            html_q = r.q;
        } else if (rank && rank == html_rank && r.q > html_q) {
            html_q = r.q;
        }
    }
    return json_q > 0 && json_q >= html_q;
}

static const char html_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n";
static const char html_style[] =
    "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;"
    "padding:0 1em;color:#222}h1{font-size:1.5em}address{color:#777}</style>\n"
    "</head>\n"
    "<body>\n";

static int render(struct buf *b, unsigned status, const char *reason, const char *detail, bool json)
{
    size_t dlen = detail ? strlen(detail) : 0;

    if (json) {
        if (buf_printf(b, "{\"status\":%u,\"error\":\"", status) != 0 ||
            buf_append_json(b, reason, strlen(reason)) != 0 || buf_putc(b, '"') != 0)
            return -1;
        if (dlen && (buf_puts(b, ",\"detail\":\"") != 0 || buf_append_json(b, detail, dlen) != 0 ||
                     buf_putc(b, '"') != 0))
            return -1;
        return buf_putc(b, '}');
    }
    /* Reason phrases are HTML-safe except 418's apostrophe, so all text goes through the
     * escaper. */
    if (buf_printf(b, "%s<title>%u ", html_head, status) != 0 ||
        buf_append_html(b, reason, strlen(reason)) != 0 ||
        buf_printf(b, "</title>\n%s<h1>%u ", html_style, status) != 0 ||
        buf_append_html(b, reason, strlen(reason)) != 0 || buf_puts(b, "</h1>") != 0)
        return -1;
    if (dlen && (buf_puts(b, "<p>") != 0 || buf_append_html(b, detail, dlen) != 0 ||
                 buf_puts(b, "</p>") != 0))
        return -1;
    return buf_puts(b, "<hr><address>wharf</address>\n</body>\n</html>\n");
}

const char *error_page_render(struct buf *b, unsigned status, const char *detail, bool json)
{
    size_t start = b->len;

    if (render(b, status, error_page_reason(status), detail, json) != 0) {
        buf_truncate(b, start);
        return NULL;
    }
    return json ? "application/json" : "text/html; charset=utf-8";
}

/* ---- error_page rules ---------------------------------------------------------------------- */

const char *error_page_parse(const char *text, unsigned line, struct error_page_rules *rules,
                             unsigned *dup_line)
{
    unsigned codes[200];
    size_t n_codes = 0;
    const char *uri = NULL;
    size_t uri_len = 0;
    *dup_line = 0;
    for (const char *p = text;;) {
        while (is_ows(*p))
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " \t");
        if (uri)
            return "STATUS... URI: the URI comes last";
        if (n == 3 && p[0] >= '4' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
            p[2] <= '9') {
            unsigned code = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
            if (n_codes == ARRAY_LEN(codes))
                return "STATUS... URI: at most 200 statuses";
            codes[n_codes++] = code;
        } else if (p[0] == '/') {
            uri = p;
            uri_len = n;
        } else {
            return "STATUS... URI: statuses 400 to 599, then a URL path ('/errors/404.html')";
        }
        p += n;
    }
    if (!n_codes || !uri)
        return "STATUS... URI: statuses 400 to 599, then a URL path ('/errors/404.html')";
    char norm[4096];
    size_t norm_len;
    if (memchr(uri, '%', uri_len) || memchr(uri, '?', uri_len) ||
        path_normalize(uri, uri_len, norm, sizeof norm, &norm_len) != PATH_OK ||
        norm_len != uri_len || memcmp(norm, uri, uri_len) != 0)
        return "an error page URI is a normalised path (no '.', '..', '//', '%' or '?')";
    for (size_t i = 0; i < n_codes; i++)
        for (size_t j = 0; j < rules->n; j++)
            if (rules->v[j].status == codes[i]) {
                *dup_line = rules->v[j].line;
                return "a status that already has an error page";
            }
    rules->v = xrealloc(rules->v, (rules->n + n_codes) * sizeof *rules->v);
    for (size_t i = 0; i < n_codes; i++)
        rules->v[rules->n++] = (struct error_page_rule){codes[i], xstrndup(uri, uri_len), line};
    return NULL;
}

const char *error_page_find(const struct error_page_rules *rules, unsigned status)
{
    for (size_t i = 0; i < rules->n; i++)
        if (rules->v[i].status == status)
            return rules->v[i].uri;
    return NULL;
}

void error_page_rules_free(struct error_page_rules *rules)
{
    for (size_t i = 0; i < rules->n; i++)
        free(rules->v[i].uri);
    free(rules->v);
    rules->v = NULL;
    rules->n = 0;
}
