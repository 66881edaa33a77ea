/*
 * header_rule: see include/header_rule.h. Pure. Owns the syntax of the header and
 * cache_control values and the security defaults; applying them to an MHD response is
 * response.c's. Invariant: a parsed name is an RFC 9110 token and a value holds no control
 * byte (no CR/LF: a rule can never split a response).
 */
#include "header_rule.h"

#include <stdlib.h>
#include <string.h>

#include "http_token.h"
#include "util.h"

const struct header_default header_rule_security[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "strict-origin-when-cross-origin"},
    {"X-Frame-Options", "SAMEORIGIN"},
    /* note: only features browsers know: an unknown one (interest-cohort) is a console
     * warning on every page */
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"},
    {NULL, NULL},
};

/* note: MHD writes these itself, or they are hop-by-hop (RFC 9110 7.6.1); a rule changing
 * them would break the framing of the response */
static const char *const framing[] = {"Content-Length",
                                      "Transfer-Encoding",
                                      "Connection",
                                      "Keep-Alive",
                                      "Upgrade",
                                      "Trailer",
                                      "TE",
                                      "Date",
                                      NULL};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* The pattern: the first word of text, parsed into *m; *rest points after it. */
static const char *parse_where(const char *text, struct path_match *m, const char **rest)
{
    while (is_ws(*text))
        text++;
    size_t n = strcspn(text, " \t");
    if (!n)
        return "a path pattern first";
    const char *why = path_match_parse(text, n, m);
    text += n;
    while (is_ws(*text))
        text++;
    *rest = text;
    return why;
}

static bool is_value(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return false;
    return true;
}

const char *header_rule_parse(const char *text, struct header_rule *out)
{
    const char *why, *p;
    memset(out, 0, sizeof *out);
    if ((why = parse_where(text, &out->where, &p)) != NULL)
        goto fail;
    out->op = *p == '=' ? HEADER_RULE_SET : *p == '-' ? HEADER_RULE_DEL : HEADER_RULE_ADD;
    if (out->op != HEADER_RULE_ADD)
        p++;
    size_t n = 0;
    while (p[n] && http_is_tchar((unsigned char)p[n]))
        n++;
    why = "PATH Name: value, PATH =Name: value or PATH -Name";
    if (!n)
        goto fail;
    for (size_t i = 0; framing[i]; i++)
        if (strlen(framing[i]) == n && ascii_ncasecmp(p, framing[i], n) == 0) {
            why = "a header that frames the response (Content-Length, Transfer-Encoding, "
                  "Connection, Date, ...) is wharf's own";
            goto fail;
        }
    out->name = xstrndup(p, n);
    p += n;
    if (out->op == HEADER_RULE_DEL) {
        while (is_ws(*p))
            p++;
        if (*p) {
            why = "-Name removes a header and takes no value";
            goto fail;
        }
        return NULL;
    }
    if (*p != ':')
        goto fail;
    p++;
    while (is_ws(*p))
        p++;
    size_t vlen = strlen(p);
    while (vlen && is_ws(p[vlen - 1]))
        vlen--;
    if (!vlen) {
        why = "a header value (remove a header with -Name)";
        goto fail;
    }
    out->value = xstrndup(p, vlen);
    if (!is_value(out->value)) {
        why = "a header value without control characters";
        goto fail;
    }
    return NULL;
fail:
    path_match_free(&out->where);
    free(out->name);
    free(out->value);
    memset(out, 0, sizeof *out);
    return why;
}

/* "max-age=N" at d[0..n): N, else -1. */
static int64_t max_age_of(const char *d, size_t n)
{
    if (n <= 8 || ascii_ncasecmp(d, "max-age=", 8) != 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 8; i < n; i++) {
        if (d[i] < '0' || d[i] > '9' || v > INT64_C(10000000000))
            return -2; /* a bad number */
        v = v * 10 + (d[i] - '0');
    }
    return v;
}

const char *header_rule_parse_cache(const char *text, struct cache_rule *out)
{
    const char *why, *p;
    memset(out, 0, sizeof *out);
    out->max_age = -1;
    if ((why = parse_where(text, &out->where, &p)) != NULL)
        goto fail;
    why = "Cache-Control directives: token or token=value, separated by commas (max-age=3600, "
          "public)";
    if (!*p)
        goto fail;
    /* directive (, directive)*: token [= token / quoted-string]; checked, kept as written */
    for (const char *d = p; *d;) {
        size_t n = 0;
        while (d[n] && http_is_tchar((unsigned char)d[n]))
            n++;
        if (!n)
            goto fail;
        if (d[n] == '=') {
            n++;
            if (d[n] == '"') {
                const char *close = strchr(d + n + 1, '"');
                if (!close)
                    goto fail;
                n = (size_t)(close - d) + 1;
            } else {
                size_t v = 0;
                while (d[n + v] && http_is_tchar((unsigned char)d[n + v]))
                    v++;
                if (!v)
                    goto fail;
                n += v;
            }
        }
        int64_t age = max_age_of(d, n);
        if (age == -2) {
            why = "max-age=SECONDS (0..10000000000)";
            goto fail;
        }
        if (age >= 0)
            out->max_age = age;
        d += n;
        while (is_ws(*d))
            d++;
        if (*d == ',') {
            d++;
            while (is_ws(*d))
                d++;
            if (!*d)
                goto fail;
        } else if (*d) {
            goto fail;
        }
    }
    out->value = xstrdup(p);
    return NULL;
fail:
    path_match_free(&out->where);
    memset(out, 0, sizeof *out);
    out->max_age = -1;
    return why;
}

void header_rules_free(struct header_rules *rules)
{
    for (size_t i = 0; i < rules->n; i++) {
        path_match_free(&rules->v[i].where);
        free(rules->v[i].name);
        free(rules->v[i].value);
    }
    free(rules->v);
    rules->v = NULL;
    rules->n = 0;
}

void cache_rules_free(struct cache_rules *rules)
{
    for (size_t i = 0; i < rules->n; i++) {
        path_match_free(&rules->v[i].where);
        free(rules->v[i].value);
    }
    free(rules->v);
    rules->v = NULL;
    rules->n = 0;
}

bool header_rules_match(const struct header_rules *headers, const struct cache_rules *cache,
                        const char *path)
{
    for (size_t i = 0; i < headers->n; i++)
        if (path_match(&headers->v[i].where, path))
            return true;
    return header_rule_find_cache(cache, path) != NULL;
}

const struct cache_rule *header_rule_find_cache(const struct cache_rules *rules, const char *path)
{
    for (size_t i = 0; i < rules->n; i++)
        if (path_match(&rules->v[i].where, path))
            return &rules->v[i];
    return NULL;
}
