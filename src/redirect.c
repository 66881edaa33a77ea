/*
 * redirect: see include/redirect.h. Pure. Owns the syntax of the redirect and redirect_host
 * values and the Location they produce; the HTTP answer itself is http_front's.
 * Invariant: a Location never holds a byte outside printable ASCII: the rest of a request
 * path is percent-encoded again, the query is the client's raw one (already checked by
 * http_head), and TO was checked when the config was read.
 */
#include "redirect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* The next blank-separated word of *s as [*w, *w + return), or 0 at the end. */
static size_t next_word(const char **s, const char **w)
{
    const char *p = *s;
    while (is_ws(*p))
        p++;
    *w = p;
    while (*p && !is_ws(*p))
        p++;
    *s = p;
    return (size_t)(p - *w);
}

static const char *parse_status(const char *w, size_t n, unsigned *out)
{
    static const char *const allowed[] = {"301", "302", "307", "308"};
    for (size_t i = 0; n == 3 && i < ARRAY_LEN(allowed); i++)
        if (memcmp(w, allowed[i], 3) == 0) {
            *out = (unsigned)atoi(allowed[i]);
            return NULL;
        }
    return "a redirect status is 301, 302, 307 or 308";
}

/* TO: "/path" (not "//host") or an absolute http(s) URL with a host; printable ASCII. */
static const char *check_target(const char *to, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)to[i] <= ' ' || (unsigned char)to[i] >= 0x7f)
            return "a redirect target is printable ASCII without spaces";
    if (memchr(to, '#', n))
        return "a redirect target has no fragment ('#')";
    if (n >= 1 && to[0] == '/')
        return n >= 2 && to[1] == '/' ? "a redirect target is a path ('/new') or an http(s) URL, "
                                        "not '//host'"
                                      : NULL;
    size_t scheme = n >= 7 && ascii_ncasecmp(to, "http://", 7) == 0    ? 7
                    : n >= 8 && ascii_ncasecmp(to, "https://", 8) == 0 ? 8
                                                                       : 0;
    if (!scheme)
        return "a redirect target is a path ('/new') or an http(s) URL";
    if (scheme == n || to[scheme] == '/' || to[scheme] == '?')
        return "a redirect URL names a host";
    return NULL;
}

const char *redirect_parse(const char *text, struct redirect_rule *out)
{
    const char *from, *to, *code, *extra, *why;
    size_t from_n, to_n, code_n;
    memset(out, 0, sizeof *out);
    from_n = next_word(&text, &from);
    to_n = next_word(&text, &to);
    code_n = next_word(&text, &code);
    if (!from_n || !to_n)
        return "FROM TO [STATUS]: a path pattern and a target";
    if (next_word(&text, &extra))
        return "FROM TO [STATUS]: at most three words";
    out->status = REDIRECT_DEFAULT_STATUS;
    if (code_n && (why = parse_status(code, code_n, &out->status)) != NULL)
        return why;
    if ((why = check_target(to, to_n)) != NULL)
        return why;
    if ((why = path_match_parse(from, from_n, &out->from)) != NULL)
        return why;
    out->to = xstrndup(to, to_n);
    return NULL;
}

const char *redirect_host_parse(const char *text, struct redirect_host *out)
{
    const char *w, *code, *extra;
    size_t n = next_word(&text, &w), code_n = next_word(&text, &code);
    out->status = REDIRECT_DEFAULT_STATUS;
    out->mode = REDIRECT_HOST_OFF;
    if (next_word(&text, &extra))
        return "www, apex or off, and an optional status";
    if (n == 3 && ascii_ncasecmp(w, "www", 3) == 0)
        out->mode = REDIRECT_HOST_WWW;
    else if (n == 4 && ascii_ncasecmp(w, "apex", 4) == 0)
        out->mode = REDIRECT_HOST_APEX;
    else if (!(n == 3 && ascii_ncasecmp(w, "off", 3) == 0))
        return "www, apex or off, and an optional status";
    if (code_n)
        return parse_status(code, code_n, &out->status);
    return NULL;
}

void redirect_rules_free(struct redirect_rules *rules)
{
    for (size_t i = 0; i < rules->n; i++) {
        path_match_free(&rules->v[i].from);
        free(rules->v[i].to);
    }
    free(rules->v);
    rules->v = NULL;
    rules->n = 0;
}

const struct redirect_rule *redirect_find(const struct redirect_rules *rules, const char *path)
{
    for (size_t i = 0; i < rules->n; i++)
        if (path_match(&rules->v[i].from, path))
            return &rules->v[i];
    return NULL;
}

int redirect_location(const struct redirect_rule *rule, const char *path, const char *query,
                      size_t query_len, struct buf *b)
{
    const char *to = rule->to;
    size_t to_len = strlen(to);
    const char *to_query = strchr(to, '?');
    size_t to_path_len = to_query ? (size_t)(to_query - to) : to_len;
    int rc = 0;

    if (rule->from.kind != PATH_MATCH_PREFIX) {
        rc |= buf_append(b, to, to_len);
    } else {
        /* the rest after the prefix: "" or "/..." (patterns keep no final '/'; "/" is all) */
        const char *rest =
            path + (strcmp(rule->from.pattern, "/") == 0 ? 0 : strlen(rule->from.pattern));
        size_t keep = to_path_len;
        if (*rest == '/' && keep > 0 && to[keep - 1] == '/')
            keep--; /* "/new/" + "/a" is "/new/a" */
        rc |= buf_append(b, to, keep);
        rc |= buf_append_url(b, rest, strlen(rest));
        if (to_query)
            rc |= buf_append(b, to_query, to_len - to_path_len);
    }
    if (query && !to_query) {
        rc |= buf_putc(b, '?');
        rc |= buf_append(b, query, query_len);
    }
    return rc ? -1 : 0;
}

/* Whether name[0..n) is one of hosts. */
static bool has_host(char *const *hosts, size_t n_hosts, const char *name, size_t n)
{
    for (size_t i = 0; i < n_hosts; i++)
        if (strlen(hosts[i]) == n && ascii_ncasecmp(hosts[i], name, n) == 0)
            return true;
    return false;
}

bool redirect_host_target(enum redirect_host_mode mode, const char *host, char *const *hosts,
                          size_t n_hosts, char *out, size_t cap)
{
    if (mode == REDIRECT_HOST_OFF || !host || host[0] == '[')
        return false; /* an IPv6 literal has no www form */
    const char *colon = strchr(host, ':');
    size_t n = colon ? (size_t)(colon - host) : strlen(host);
    const char *port = colon ? colon : "";
    if (n && host[n - 1] == '.')
        n--; /* "example.org." is example.org */
    bool is_www = n > 4 && ascii_ncasecmp(host, "www.", 4) == 0;
    size_t len;
    if (mode == REDIRECT_HOST_WWW && !is_www) {
        char want[300];
        if (n + 4 >= sizeof want)
            return false;
        memcpy(want, "www.", 4);
        memcpy(want + 4, host, n);
        if (!has_host(hosts, n_hosts, want, n + 4))
            return false;
        len = (size_t)snprintf(out, cap, "%.*s%s", (int)(n + 4), want, port);
    } else if (mode == REDIRECT_HOST_APEX && is_www) {
        if (!has_host(hosts, n_hosts, host + 4, n - 4))
            return false;
        len = (size_t)snprintf(out, cap, "%.*s%s", (int)(n - 4), host + 4, port);
    } else {
        return false;
    }
    if (len >= cap)
        return false;
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return true;
}

bool redirect_host_has_pair(char *const *hosts, size_t n_hosts)
{
    for (size_t i = 0; i < n_hosts; i++)
        if (strncmp(hosts[i], "www.", 4) == 0 && hosts[i][4] &&
            has_host(hosts, n_hosts, hosts[i] + 4, strlen(hosts[i] + 4)))
            return true;
    return false;
}
