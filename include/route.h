/*
 * route: the method rules for a path that is neither a git endpoint nor a script. Pure.
 * http_front asks, in order: a git webhook/status path (git_http_owns), a hidden or denied
 * path, a script (fcgi_request_route, which has to look at the file system, so it cannot live
 * here), and only then route_decide() for static content: GET/HEAD, OPTIONS, 405 or 501.
 */
#ifndef WHARF_ROUTE_H
#define WHARF_ROUTE_H

#include <stdbool.h>

#include "config.h"

enum route_kind {
    ROUTE_STATIC = 0,      /* GET or HEAD of a file, directory or listing */
    ROUTE_OPTIONS,         /* OPTIONS: 204 with Allow */
    ROUTE_BAD_METHOD,      /* 405 with Allow */
    ROUTE_NOT_IMPLEMENTED, /* 501: a method no handler knows (not a token we accept) */
};

/** Methods a static resource allows, for the Allow header. */
#define ROUTE_STATIC_ALLOW "GET, HEAD, OPTIONS"

/** Methods a script path allows, for the Allow header of its 405 (everything but TRACE is
 *  passed to the script; these are the ones worth naming). */
#define ROUTE_SCRIPT_ALLOW "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

/** True for a method refused on every path, scripts included: TRACE (RFC 9110 9.3.8) echoes
 *  the request, cookies and credentials included, back to the sender; nginx refuses it too. */
bool route_method_refused(const char *method);

/** Decide the handler. method is the request method as received (case-sensitive, RFC 9110). */
enum route_kind route_decide(const struct site_conf *site, const char *method, const char *path);

#endif
