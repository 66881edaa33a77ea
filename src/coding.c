/* coding: content codings and their negotiation. See coding.h. */
#include "coding.h"

#include <string.h>

#include "http_token.h"
#include "util.h"

static const char *const names[CODING_N] = {"gzip", "br", "zstd"};
static const char *const suffixes[CODING_N] = {".gz", ".br", ".zst"};
/* equal weights: the first of this order wins */
static const enum coding preference[CODING_N] = {CODING_ZSTD, CODING_BR, CODING_GZIP};

const char *coding_name(enum coding c)
{
    return c < CODING_N ? names[c] : "identity";
}

const char *coding_suffix(enum coding c)
{
    return c < CODING_N ? suffixes[c] : "";
}

static bool name_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && ascii_ncasecmp(s, want, n) == 0;
}

enum coding coding_of(const char *name, size_t len)
{
    for (int c = 0; c < CODING_N; c++)
        if (name_is(name, len, names[c]))
            return (enum coding)c;
    return name_is(name, len, "x-gzip") ? CODING_GZIP : CODING_N;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Weight of one element s[0..n) (0..1000; malformed = 0); *name, *name_len the coding. */
static int element_weight(const char *s, size_t n, const char **name, size_t *name_len)
{
    size_t i = 0;
    while (i < n && http_is_tchar(s[i]))
        i++;
    *name = s;
    *name_len = i;
    while (i < n && is_ows(s[i]))
        i++;
    if (i == n)
        return 1000;
    if (s[i] != ';') /* note: RFC 9110 allows only the weight parameter here */
        return 0;
    i++;
    while (i < n && is_ows(s[i]))
        i++;
    if (n - i < 2 || (s[i] != 'q' && s[i] != 'Q') || s[i + 1] != '=')
        return 0;
    i += 2;
    size_t qs = i;
    while (i < n && !is_ows(s[i]))
        i++;
    int q = http_parse_qvalue(s + qs, i - qs);
    while (i < n && is_ows(s[i]))
        i++;
    return (q < 0 || i != n) ? 0 : q;
}

size_t coding_negotiate(const char *accept_encoding, unsigned allowed, enum coding out[CODING_N])
{
    int q[CODING_N] = {-1, -1, -1}, star = -1; /* -1 = not listed */
    const char *p = accept_encoding;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && is_ows(*p)) {
            p++;
            n--;
        }
        while (n && is_ows(p[n - 1]))
            n--;
        const char *name;
        size_t name_len;
        int w = element_weight(p, n, &name, &name_len);
        enum coding c = coding_of(name, name_len);
        if (c < CODING_N)
            q[c] = q[c] < 0 ? w : (w < q[c] ? w : q[c]); /* listed twice: the lower weight */
        else if (name_is(name, name_len, "*"))
            star = w;
        p = end ? end + 1 : NULL;
    }
    size_t k = 0;
    for (int c = 0; c < CODING_N; c++) {
        if (q[c] < 0)
            q[c] = star < 0 ? 0 : star;
    }
    /* best first: by weight, ties by preference (a stable insertion over preference order) */
    for (int i = 0; i < CODING_N; i++) {
        enum coding c = preference[i];
        if (!(allowed & CODING_BIT(c)) || q[c] <= 0)
            continue;
        size_t j = k++;
        while (j > 0 && q[out[j - 1]] < q[c]) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = c;
    }
    return k;
}
