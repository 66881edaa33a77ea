/* htpasswd: user:hash lines. See htpasswd.h. */
#include "htpasswd.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *check_line(const char *s, size_t n, size_t *colon)
{
    if (n > HTPASSWD_MAX_LINE)
        return "line too long";
    if (memchr(s, '\0', n))
        return "NUL byte in line";
    const char *c = memchr(s, ':', n);
    if (!c)
        return "no ':' between user and hash";
    if (c == s)
        return "empty user name";
    if ((size_t)(c - s) + 1 == n)
        return "empty hash";
    for (const char *p = s; p < s + n; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "control character in line";
    *colon = (size_t)(c - s);
    return NULL;
}

static int by_user_line(const void *a, const void *b)
{
    const struct htpasswd_entry *x = a, *y = b;
    int c = strcmp(x->user, y->user);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

size_t htpasswd_parse(const char *text, size_t len, struct htpasswd *out, htpasswd_warn_cb warn,
                      void *ctx)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    unsigned line = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        line++;
        if (n && p[n - 1] == '\r')
            n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        size_t colon;
        const char *why;
        if (n == 0 || p[0] == '#') {
            /* blank or comment */
        } else if ((why = check_line(p, n, &colon)) != NULL) {
            if (warn)
                warn(ctx, line, why);
        } else if (out->n == HTPASSWD_MAX_USERS) {
            if (warn)
                warn(ctx, line, "too many users; the rest are ignored");
            break;
        } else {
            if (out->n == cap) {
                cap = cap ? cap * 2 : 16;
                out->v = xrealloc(out->v, cap * sizeof *out->v);
            }
            out->v[out->n++] =
                (struct htpasswd_entry){.user = xstrndup(p, colon),
                                        .hash = xstrndup(p + colon + 1, n - colon - 1),
                                        .line = line};
        }
        p = nl ? nl + 1 : end;
    }
    /* sorted by user (then line) for htpasswd_find; of a repeated user the first line stays */
    qsort(out->v, out->n, sizeof *out->v, by_user_line);
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (kept && strcmp(out->v[kept - 1].user, out->v[i].user) == 0) {
            if (warn)
                warn(ctx, out->v[i].line, "user given again; the first line counts");
            free(out->v[i].user);
            free(out->v[i].hash);
            continue;
        }
        out->v[kept++] = out->v[i];
    }
    out->n = kept;
    return out->n;
}

static int by_user(const void *key, const void *e)
{
    return strcmp(key, ((const struct htpasswd_entry *)e)->user);
}

const struct htpasswd_entry *htpasswd_find(const struct htpasswd *h, const char *user)
{
    return h->n ? bsearch(user, h->v, h->n, sizeof *h->v, by_user) : NULL;
}

void htpasswd_dispose(struct htpasswd *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].user);
        free(h->v[i].hash);
    }
    free(h->v);
    memset(h, 0, sizeof *h);
}
