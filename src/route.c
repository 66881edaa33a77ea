/*
 * route: see include/route.h. Methods are case-sensitive tokens (RFC 9110 9.1): "get" is not
 * GET. Known methods that static content does not support get 405 with Allow; anything else
 * gets 501, as nginx and Apache do.
 */
#include "route.h"

#include <string.h>

static const char *const known_methods[] = {
    "POST",  "PUT",  "DELETE", "PATCH", "CONNECT", "TRACE",  "PROPFIND", "PROPPATCH",
    "MKCOL", "COPY", "MOVE",   "LOCK",  "UNLOCK",  "SEARCH", "REPORT",   "MKCALENDAR",
};

bool route_method_refused(const char *method)
{
    return strcmp(method, "TRACE") == 0;
}

enum route_kind route_decide(const struct site_conf *site, const char *method, const char *path)
{
    (void)site;
    (void)path;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return ROUTE_STATIC;
    if (strcmp(method, "OPTIONS") == 0)
        return ROUTE_OPTIONS;
    for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++)
        if (strcmp(method, known_methods[i]) == 0)
            return ROUTE_BAD_METHOD;
    return ROUTE_NOT_IMPLEMENTED;
}
