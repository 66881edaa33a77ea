/*
 * env_file: see include/env_file.h. Pure.
 */
#include "env_file.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static void put(struct str_list *out, const char *name, size_t name_len, const char *val,
                size_t val_len)
{
    char *e = xasprintf("%.*s=%.*s", (int)name_len, name, (int)val_len, val);
    for (size_t i = 0; i < out->n; i++) {
        if (strncmp(out->v[i], e, name_len + 1) == 0) {
            free(out->v[i]);
            out->v[i] = e;
            return;
        }
    }
    out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    out->v[out->n++] = e;
}

void env_file_clear(struct str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int env_file_parse(const char *text, size_t len, const char *filename, struct str_list *out,
                   struct errlist *errs)
{
    size_t before = errs->n;
    const char *fn = filename ? filename : "(env file)";
    unsigned line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        line++;
        if (n && s[n - 1] == '\r')
            n--;
        if (memchr(s, '\0', n)) {
            errlist_add(errs, "%s:%u: a NUL byte", fn, line);
            continue;
        }
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n || s[i] == '#')
            continue;
        if (n - i > 7 && strncmp(s + i, "export", 6) == 0 &&
            (s[i + 6] == ' ' || s[i + 6] == '\t')) {
            i += 7;
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
        }
        size_t name = i;
        if (i == n || !is_name_start(s[i])) {
            errlist_add(errs,
                        "%s:%u: expected NAME=VALUE (NAME: a letter or '_', then letters, "
                        "digits or '_')",
                        fn, line);
            continue;
        }
        while (i < n && is_name_char(s[i]))
            i++;
        size_t name_len = i - name;
        if (i == n || s[i] != '=') {
            errlist_add(errs, "%s:%u: expected '=' after %.*s", fn, line, (int)name_len, s + name);
            continue;
        }
        const char *val = s + i + 1;
        size_t val_len = n - i - 1;
        if (val_len && (val[0] == '"' || val[0] == '\'')) {
            if (val_len < 2 || val[val_len - 1] != val[0]) {
                errlist_add(errs, "%s:%u: unterminated %c quote in the value of %.*s", fn, line,
                            val[0], (int)name_len, s + name);
                continue;
            }
            val++;
            val_len -= 2;
        }
        put(out, s + name, name_len, val, val_len);
    }
    return errs->n == before ? 0 : -1;
}
