/*
 * path_match: the URL-path patterns of per-path rules (redirect, header, cache_control,
 * auth_basic, allow/deny_ip, limit_req, ...). Pure: no I/O, no locks.
 *
 * A pattern is written the way nginx's `location` and Caddy's path matcher users know:
 *   /admin        prefix, segment-wise: "/admin" and "/admin/x", not "/administrator"
 *                 (a trailing slash is ignored: "/admin/" is the same rule);
 *   =/wp-login.php  exactly this path;
 *   *.php, /wp-*.php  a glob (fnmatch without FNM_PATHNAME: '*' also crosses '/'),
 *                 matched against the whole path.
 * Patterns are matched against the request path after percent-decoding and dot-segment
 * resolution (path_normalize), so a prefix or exact pattern must itself be normalised: no
 * "." or ".." segment, no "//", no %-escape. Matching is case-sensitive, as paths are.
 */
#ifndef WHARF_PATH_MATCH_H
#define WHARF_PATH_MATCH_H

#include <stdbool.h>
#include <stddef.h>

enum path_match_kind {
    PATH_MATCH_PREFIX,
    PATH_MATCH_EXACT,
    PATH_MATCH_GLOB,
};

struct path_match {
    enum path_match_kind kind;
    char *pattern; /* owned; without the '=' of an exact pattern or a prefix's final '/' */
};

/**
 * Parses the pattern in text[0..len) into *out. Returns NULL on success, or a static message
 * naming what is wrong ("a path pattern starts with '/', '=/' or a glob", ...) for a config
 * error; *out is then zeroed. Allocation failure also returns a message.
 */
const char *path_match_parse(const char *text, size_t len, struct path_match *out);

/** Whether the normalised request path matches. */
bool path_match(const struct path_match *m, const char *norm_path);

/** Frees the pattern; *m is zeroed and may be freed again. */
void path_match_free(struct path_match *m);

#endif
