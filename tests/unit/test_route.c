#include "route.h"
#include "tap.h"

int main(void)
{
    struct site_conf site = {0};
    is_int(route_decide(&site, "GET", "/"), ROUTE_STATIC, "GET is static");
    is_int(route_decide(&site, "HEAD", "/a.txt"), ROUTE_STATIC, "HEAD is static");
    is_int(route_decide(&site, "OPTIONS", "/"), ROUTE_OPTIONS, "OPTIONS answered with Allow");
    is_int(route_decide(&site, "POST", "/a.txt"), ROUTE_BAD_METHOD, "POST on static is 405");
    is_int(route_decide(&site, "DELETE", "/a.txt"), ROUTE_BAD_METHOD, "DELETE on static is 405");
    is_int(route_decide(&site, "PROPFIND", "/"), ROUTE_BAD_METHOD, "WebDAV method is 405");
    is_int(route_decide(&site, "get", "/"), ROUTE_NOT_IMPLEMENTED, "methods are case-sensitive");
    is_int(route_decide(&site, "BREW", "/"), ROUTE_NOT_IMPLEMENTED, "unknown method is 501");
    is_int(route_decide(&site, "TRACE", "/"), ROUTE_BAD_METHOD, "TRACE on static is 405");
    ok(route_method_refused("TRACE"), "TRACE is refused on every path, scripts included");
    ok(!route_method_refused("POST") && !route_method_refused("trace"),
       "other methods (and lowercase trace, a different method) are not");
    return done_testing();
}
