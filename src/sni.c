/*
 * sni: see include/sni.h. A sorted array and bsearch: a handful of names per server, looked up
 * once per TLS handshake, needs nothing cleverer. Duplicates are dropped at sni_add() so the
 * sorted order never has to break ties.
 */
#include "sni.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* name lower-cased into out (SNI_NAME_MAX + 1 bytes), one trailing dot dropped; 0 or -1. */
static int canon(const char *name, size_t len, char *out)
{
    if (len && name[len - 1] == '.')
        len--;
    if (len == 0 || len > SNI_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '\0')
            return -1;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[len] = '\0';
    return 0;
}

void sni_add(struct sni_table *t, const char *name, unsigned slot)
{
    char c[SNI_NAME_MAX + 1];
    if (canon(name, strlen(name), c) != 0)
        return;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].name, c) == 0)
            return;
    t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    t->v[t->n++] = (struct sni_entry){xstrdup(c), slot};
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct sni_entry *)a)->name, ((const struct sni_entry *)b)->name);
}

void sni_finish(struct sni_table *t)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, by_name);
}

static int find(const struct sni_table *t, const char *c)
{
    struct sni_entry key = {(char *)c, 0};
    const struct sni_entry *e = t->n ? bsearch(&key, t->v, t->n, sizeof *t->v, by_name) : NULL;
    return e ? (int)e->slot : -1;
}

int sni_lookup(const struct sni_table *t, const char *name, size_t len)
{
    char c[SNI_NAME_MAX + 3];
    if (canon(name, len, c + 2) != 0)
        return -1;
    int slot = find(t, c + 2);
    if (slot >= 0)
        return slot;
    /* "*.rest" for "label.rest": the first label replaced, never an empty one */
    const char *dot = strchr(c + 2, '.');
    if (!dot || dot == c + 2 || !dot[1])
        return -1;
    char *w = (char *)dot - 1;
    w[0] = '*';
    return find(t, w);
}

void sni_dispose(struct sni_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].name);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}
