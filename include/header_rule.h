/*
 * header_rule: the per-site response header rules. Pure: parsing and matching, no I/O, no
 * clock, no MHD. response_queue (response.c) applies them to every response of a request
 * whose path was read (normalised), whatever its status, as nginx's `add_header ... always`
 * and Caddy's `header` do:
 *   header = PATH Name: value     add a line (another one if the response has the name)
 *   header = PATH =Name: value    replace: every line of that name goes, this one is set
 *   header = PATH -Name           remove every line of that name
 *   cache_control = PATH VALUE    Cache-Control (and Expires when VALUE has max-age) on the
 *                                 static handler's 200, 206 and 304 responses
 *   security_headers = on         header_rule_security[] on every response that lacks them
 * Header rules apply in file order, all that match; of the cache_control rules the first
 * that matches wins. Framing headers (Content-Length, Transfer-Encoding, Connection, ...)
 * are MHD's and cannot be named.
 */
#ifndef WHARF_HEADER_RULE_H
#define WHARF_HEADER_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "path_match.h"

enum header_rule_op {
    HEADER_RULE_ADD,
    HEADER_RULE_SET,
    HEADER_RULE_DEL,
};

struct header_rule {
    struct path_match where;
    enum header_rule_op op;
    char *name;  /* owned */
    char *value; /* owned; NULL for HEADER_RULE_DEL */
};

struct header_rules {
    struct header_rule *v;
    size_t n;
};

struct cache_rule {
    struct path_match where;
    char *value;     /* owned: the Cache-Control value as written */
    int64_t max_age; /* s, for Expires; -1 = no max-age directive (no Expires) */
};

struct cache_rules {
    struct cache_rule *v;
    size_t n;
};

struct header_default {
    const char *name, *value;
};

/** What security_headers = on adds (NULL-terminated): nosniff, a referrer policy, a frame
 *  policy and a Permissions-Policy that turns off powerful features nobody asked for. */
extern const struct header_default header_rule_security[];

/** Parse "PATH [=|-]Name[: value]" into *out. NULL on success, else a static message for the
 *  config error (*out is then zeroed). */
const char *header_rule_parse(const char *text, struct header_rule *out);
/** Parse "PATH DIRECTIVES" (a Cache-Control value: comma-separated token[=value]). */
const char *header_rule_parse_cache(const char *text, struct cache_rule *out);
void header_rules_free(struct header_rules *rules);
void cache_rules_free(struct cache_rules *rules);
/** Whether a header or cache rule matches the normalised path (then the response needs headers
 *  of its own; without one, a shared cached response serves it as it is). */
bool header_rules_match(const struct header_rules *headers, const struct cache_rules *cache,
                        const char *path);
/** The first cache rule matching the normalised path, or NULL. */
const struct cache_rule *header_rule_find_cache(const struct cache_rules *rules, const char *path);

#endif
