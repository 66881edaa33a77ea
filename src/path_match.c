/* path_match: the URL-path patterns of per-path rules. See path_match.h. */
#include "path_match.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

static bool has_glob_char(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '[')
            return true;
    return false;
}

/* Whether p (starting with '/') is already what path_normalize makes of a request path. */
static bool is_normalised(const char *p, size_t len)
{
    char out[4096];
    size_t out_len;
    if (memchr(p, '%', len))
        return false; /* request paths are matched decoded: "%2e" would never match */
    if (path_normalize(p, len, out, sizeof out, &out_len) != PATH_OK)
        return false;
    return out_len == len && memcmp(out, p, len) == 0;
}

const char *path_match_parse(const char *text, size_t len, struct path_match *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return "an empty path pattern";
    if (memchr(text, '\0', len))
        return "a NUL byte in a path pattern";

    enum path_match_kind kind = PATH_MATCH_PREFIX;
    if (text[0] == '=') {
        kind = PATH_MATCH_EXACT;
        text++;
        len--;
        if (len == 0 || text[0] != '/')
            return "an exact path pattern is '=' followed by a path starting with '/'";
    } else if (has_glob_char(text, len)) {
        kind = PATH_MATCH_GLOB;
        if (text[0] != '/' && text[0] != '*')
            return "a glob path pattern starts with '/' or '*'";
    } else if (text[0] != '/') {
        return "a path pattern starts with '/' (prefix), '=/' (exact) or is a glob ('*.php')";
    }
    if (kind != PATH_MATCH_GLOB && !is_normalised(text, len))
        return "a path pattern must be normalised (no '.', '..' or empty segments, no "
               "%-escapes)";
    if (kind == PATH_MATCH_PREFIX && len > 1 && text[len - 1] == '/')
        len--; /* "/admin/" is the prefix "/admin" */

    out->pattern = strndup(text, len);
    if (!out->pattern)
        return "out of memory";
    out->kind = kind;
    return NULL;
}

bool path_match(const struct path_match *m, const char *norm_path)
{
    switch (m->kind) {
    case PATH_MATCH_PREFIX:
        return path_has_prefix(norm_path, m->pattern);
    case PATH_MATCH_EXACT:
        return strcmp(norm_path, m->pattern) == 0;
    case PATH_MATCH_GLOB:
        return fnmatch(m->pattern, norm_path, 0) == 0;
    }
    return false;
}

void path_match_free(struct path_match *m)
{
    free(m->pattern);
    m->pattern = NULL;
    m->kind = PATH_MATCH_PREFIX;
}
