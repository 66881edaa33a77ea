/*
 * cgi_env: builds the CGI/1.1 variables for one request and hands them to a callback. Owns
 * the header -> HTTP_* mapping and its safety rules: a client must never be able to set a
 * variable the server sets (httpoxy's HTTP_PROXY, or HTTP_X_A via "X_A"/"X.A", which PHP
 * folds onto the same $_SERVER key as "X-A"), and every HTTP_* name is emitted once.
 * Repeated headers are grouped by sorting an index (stack-allocated for usual requests), not
 * by comparing every pair, so a request with thousands of tiny headers stays O(n log n).
 * Strings are borrowed from the request for the duration of the call; nothing is kept.
 */
#include "cgi_env.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"
#include "http_token.h"

#define HEADERS_ON_STACK 32
#define NAME_ON_STACK 128
#define JOIN_ON_STACK 512

/* Variables we set ourselves; config env may not touch them (nor any HTTP_*). */
static const char *const reserved[] = {
    "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_NAME",     "SERVER_ADDR",    "SERVER_PORT",
    "SERVER_PROTOCOL",   "REQUEST_METHOD",  "REQUEST_URI",     "QUERY_STRING",   "DOCUMENT_URI",
    "DOCUMENT_ROOT",     "SCRIPT_NAME",     "SCRIPT_FILENAME", "PATH_INFO",      "PATH_TRANSLATED",
    "REMOTE_ADDR",       "REMOTE_PORT",     "CONTENT_TYPE",    "CONTENT_LENGTH", "HTTPS",
    "REDIRECT_STATUS",   "REQUEST_SCHEME",  "REMOTE_USER",     "AUTH_TYPE",
};

static const char *str(const char *s)
{
    return s ? s : "";
}

/* a + b with one '/' dropped at the seam; on the stack unless long. */
struct joined {
    char *p;
    char stack[JOIN_ON_STACK];
};

static const char *join_paths(struct joined *j, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > 0 && a[la - 1] == '/' && b[0] == '/')
        la--;
    j->p = la + lb < sizeof j->stack ? j->stack : xmalloc(la + lb + 1);
    memcpy(j->p, a, la);
    memcpy(j->p + la, b, lb);
    j->p[la + lb] = '\0';
    return j->p;
}

static void joined_dispose(struct joined *j)
{
    if (j->p && j->p != j->stack)
        free(j->p);
    j->p = NULL;
}

/* ---- request headers ------------------------------------------------------------------ */

struct hslot {
    const struct cgi_header *h;
    size_t pos; /* index in r->headers: ties keep arrival order */
};

static int cmp_slot(const void *a, const void *b)
{
    const struct hslot *x = a, *y = b;
    int c = ascii_casecmp(x->h->name, y->h->name);

    if (c != 0)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool header_kept(const struct cgi_header *h)
{
    const char *n = h->name;

    if (!n || !*n || !h->value)
        return false;
    for (const char *c = n; *c; c++)
        if (!http_is_tchar((unsigned char)*c) || *c == '_' || *c == '.')
            return false;
    /* note: "Proxy" -> HTTP_PROXY, which many HTTP clients take as their proxy (httpoxy) */
    if (ascii_casecmp(n, "Proxy") == 0 || ascii_casecmp(n, "Content-Type") == 0 ||
        ascii_casecmp(n, "Content-Length") == 0)
        return false;
    return strpbrk(h->value, "\r\n") == NULL;
}

/* Emit one HTTP_* param from the n slots (same name) starting at s. */
static int emit_header(const struct hslot *s, size_t n, cgi_param_cb cb, void *ctx)
{
    const char *name = s[0].h->name, *value = s[0].h->value;
    size_t nlen = strlen(name), vlen = strlen(value);
    char stack[NAME_ON_STACK];
    char *env = 5 + nlen <= sizeof stack ? stack : xmalloc(5 + nlen);
    struct buf join;
    int rc;

    buf_init(&join, 0);
    memcpy(env, "HTTP_", 5);
    for (size_t i = 0; i < nlen; i++) {
        char c = name[i];
        env[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    if (n > 1) {
        /* note: Cookie is the one header whose repeats join with "; " (RFC 9113 8.2.3) */
        const char *sep = ascii_casecmp(name, "Cookie") == 0 ? "; " : ", ";
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                (void)buf_puts(&join, sep);
            (void)buf_puts(&join, s[i].h->value);
        }
        value = join.data;
        vlen = join.len;
    }
    rc = cb(ctx, env, 5 + nlen, value, vlen) != 0 ? -1 : 0;
    buf_dispose(&join);
    if (env != stack)
        free(env);
    return rc;
}

static int emit_headers(const struct cgi_request *r, cgi_param_cb cb, void *ctx)
{
    struct hslot stack_slot[HEADERS_ON_STACK];
    size_t stack_rank[HEADERS_ON_STACK];
    struct hslot *slot = stack_slot;
    size_t *rank = stack_rank; /* header index -> its slot; SIZE_MAX = dropped */
    void *heap = NULL;
    size_t n = 0;
    int rc = -1;

    if (r->n_headers > HEADERS_ON_STACK) {
        heap = xmalloc(r->n_headers * (sizeof *slot + sizeof *rank));
        slot = heap;
        rank = (size_t *)(slot + r->n_headers);
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        rank[i] = SIZE_MAX;
        if (header_kept(&r->headers[i]))
            slot[n++] = (struct hslot){&r->headers[i], i};
    }
    if (n > 1)
        qsort(slot, n, sizeof *slot, cmp_slot);
    for (size_t k = 0; k < n; k++)
        rank[slot[k].pos] = k;

    /* A name is emitted where it first appears, with all its values joined. */
    for (size_t i = 0; i < r->n_headers; i++) {
        size_t k = rank[i], end = k + 1;

        if (k == SIZE_MAX)
            continue;
        if (k > 0 && ascii_casecmp(slot[k - 1].h->name, slot[k].h->name) == 0)
            continue;
        while (end < n && ascii_casecmp(slot[k].h->name, slot[end].h->name) == 0)
            end++;
        if (emit_header(slot + k, end - k, cb, ctx) != 0)
            goto out;
    }
    rc = 0;
out:
    free(heap);
    return rc;
}

/* ---- config env ----------------------------------------------------------------------- */

bool cgi_env_is_reserved(const char *name, size_t nlen)
{
    if (nlen >= 5 && memcmp(name, "HTTP_", 5) == 0)
        return true;
    for (size_t i = 0; i < ARRAY_LEN(reserved); i++)
        if (strlen(reserved[i]) == nlen && memcmp(reserved[i], name, nlen) == 0)
            return true;
    return false;
}

/* Does an entry after env[l].v[i] set the same name? (config-sized lists: quadratic is fine) */
static bool env_overridden(const struct cgi_request *r, size_t l, size_t i, const char *name,
                           size_t nlen)
{
    for (size_t ll = l; ll < CGI_ENV_LISTS; ll++) {
        for (size_t j = ll == l ? i + 1 : 0; j < r->env[ll].n; j++) {
            const char *e = r->env[ll].v[j];
            if (strncmp(e, name, nlen) == 0 && e[nlen] == '=')
                return true;
        }
    }
    return false;
}

static int emit_env(const struct cgi_request *r, cgi_param_cb cb, void *ctx)
{
    for (size_t l = 0; l < CGI_ENV_LISTS; l++) {
        for (size_t i = 0; i < r->env[l].n; i++) {
            const char *e = r->env[l].v[i], *eq = strchr(e, '=');
            size_t nlen;

            if (!eq || eq == e)
                continue;
            nlen = (size_t)(eq - e);
            if (cgi_env_is_reserved(e, nlen) || env_overridden(r, l, i, e, nlen))
                continue;
            if (cb(ctx, e, nlen, eq + 1, strlen(eq + 1)) != 0)
                return -1;
        }
    }
    return 0;
}

/* ---- the whole set -------------------------------------------------------------------- */

struct param {
    const char *name;
    const char *value;
};

int cgi_env_build(const struct cgi_request *r, cgi_param_cb cb, void *ctx)
{
    char server_port[24], remote_port[24], content_length[24], redirect_status[24];
    struct joined script_filename, path_translated;
    struct param p[ARRAY_LEN(reserved)]; /* every fixed param is reserved, so this fits */
    size_t n = 0;
    bool has_path_info = r->path_info && r->path_info[0];
    int rc = -1;

    script_filename.p = path_translated.p = NULL;
    u64_to_dec(server_port, r->server_port); /* not snprintf: this runs per PHP request */
    u64_to_dec(remote_port, r->remote_port);
    u64_to_dec(content_length, r->content_length);
    u64_to_dec(redirect_status, r->redirect_status);

    p[n++] = (struct param){"GATEWAY_INTERFACE", "CGI/1.1"};
    p[n++] = (struct param){"SERVER_SOFTWARE", str(r->server_software)};
    p[n++] = (struct param){"SERVER_NAME", str(r->server_name)};
    p[n++] = (struct param){"SERVER_ADDR", str(r->server_addr)};
    p[n++] = (struct param){"SERVER_PORT", server_port};
    p[n++] = (struct param){"SERVER_PROTOCOL", str(r->server_protocol)};
    p[n++] = (struct param){"REQUEST_SCHEME", r->https ? "https" : "http"};
    p[n++] = (struct param){"REQUEST_METHOD", str(r->method)};
    p[n++] = (struct param){"REQUEST_URI", str(r->request_uri)};
    p[n++] = (struct param){"QUERY_STRING", str(r->query)};
    p[n++] = (struct param){"DOCUMENT_URI", str(r->document_uri)};
    p[n++] = (struct param){"DOCUMENT_ROOT", str(r->document_root)};
    p[n++] = (struct param){"SCRIPT_NAME", str(r->script_name)};
    /* note: php-fpm opens SCRIPT_FILENAME; without it every request is "No input file" */
    p[n++] = (struct param){"SCRIPT_FILENAME",
                            r->script_filename ? r->script_filename
                                               : join_paths(&script_filename, str(r->document_root),
                                                            str(r->script_name))};
    if (has_path_info) {
        p[n++] = (struct param){"PATH_INFO", r->path_info};
        p[n++] = (struct param){"PATH_TRANSLATED",
                                join_paths(&path_translated, str(r->document_root), r->path_info)};
    }
    p[n++] = (struct param){"REMOTE_ADDR", str(r->remote_addr)};
    p[n++] = (struct param){"REMOTE_PORT", remote_port};
    if (r->remote_user && !strpbrk(r->remote_user, "\r\n")) { /* RFC 3875 4.1.1, 4.1.11 */
        p[n++] = (struct param){"AUTH_TYPE", "Basic"};
        p[n++] = (struct param){"REMOTE_USER", r->remote_user};
    }
    if (r->content_type && !strpbrk(r->content_type, "\r\n"))
        p[n++] = (struct param){"CONTENT_TYPE", r->content_type};
    if (r->has_body)
        p[n++] = (struct param){"CONTENT_LENGTH", content_length};
    if (r->https)
        p[n++] = (struct param){"HTTPS", "on"};
    if (r->redirect_status)
        p[n++] = (struct param){"REDIRECT_STATUS", redirect_status};
    assert(n <= ARRAY_LEN(p));

    for (size_t i = 0; i < n; i++)
        if (cb(ctx, p[i].name, strlen(p[i].name), p[i].value, strlen(p[i].value)) != 0)
            goto out;
    if (emit_headers(r, cb, ctx) != 0 || emit_env(r, cb, ctx) != 0)
        goto out;
    rc = 0;
out:
    joined_dispose(&script_filename);
    joined_dispose(&path_translated);
    return rc;
}

/* ---- script / PATH_INFO split --------------------------------------------------------- */

bool cgi_split_script(const char *path, size_t path_len, const char *split, size_t *script_len)
{
    size_t sl = split ? strlen(split) : 0;

    *script_len = path_len;
    if (sl == 0 || sl > path_len)
        return false;
    for (size_t i = 0; i + sl <= path_len; i++) {
        size_t end = i + sl;

        if (memcmp(path + i, split, sl) == 0 && (end == path_len || path[end] == '/')) {
            *script_len = end;
            return true;
        }
    }
    return false;
}
