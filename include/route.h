/*
 * route: (site, method, normalised path) -> what handles the request. Pure. Today the only
 * handler is static content; the FastCGI and webhook handlers of later issues become new
 * kinds here, so http_front never grows a chain of special cases.
 */
#ifndef WHARF_ROUTE_H
#define WHARF_ROUTE_H

#include "config.h"

enum route_kind {
    ROUTE_STATIC = 0,      /* GET or HEAD of a file, directory or listing */
    ROUTE_OPTIONS,         /* OPTIONS: 204 with Allow */
    ROUTE_BAD_METHOD,      /* 405 with Allow */
    ROUTE_NOT_IMPLEMENTED, /* 501: a method no handler knows (not a token we accept) */
};

/** Methods a static resource allows, for the Allow header. */
#define ROUTE_STATIC_ALLOW "GET, HEAD, OPTIONS"

/** Decide the handler. method is the request method as received (case-sensitive, RFC 9110). */
enum route_kind route_decide(const struct site_conf *site, const char *method, const char *path);

#endif
