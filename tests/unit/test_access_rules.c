/* access_rules: IP rule order (first match wins; allow_ip means only these), rule lookup. */
#include <stdlib.h>
#include <string.h>

#include "access_rules.h"
#include "tap.h"

static struct ip_rule rule(const char *path, bool allow, const char *net)
{
    struct ip_rule r = {.allow = allow};
    path_match_parse(path, strlen(path), &r.path);
    r.nets.v = calloc(1, sizeof *r.nets.v);
    cidr_parse(net, strlen(net), &r.nets.v[0]);
    r.nets.n = 1;
    return r;
}

static bool allowed(const struct access_conf *a, const char *path, const char *addr)
{
    uint8_t x[16];
    cidr_parse_addr(addr, strlen(addr), x);
    return access_rules_ip_allowed(a, path, x);
}

int main(void)
{
    struct ip_rule v[4] = {
        rule("/admin", false, "10.0.0.13"), /* nginx: deny one, allow the net, deny all */
        rule("/admin", true, "10.0.0.0/8"),
        rule("=/status", true, "127.0.0.1"),
        rule("*.bak", false, "::/0"),
    };
    struct access_conf a = {.ip = v, .n_ip = 4};
    ok(access_rules_any(&a), "rules: any");
    struct access_conf none = {0};
    ok(!access_rules_any(&none), "no rules: none");

    ok(!allowed(&a, "/admin/x", "10.0.0.13"), "first match wins: the deny before the allow");
    ok(allowed(&a, "/admin/x", "10.0.0.14"), "then the allow");
    ok(!allowed(&a, "/admin", "192.0.2.1"), "allow_ip on the path: everyone else refused");
    ok(allowed(&a, "/public", "192.0.2.1"), "no rule for the path: let through");
    ok(allowed(&a, "/status", "127.0.0.1"), "exact path allowed for 127.0.0.1");
    ok(!allowed(&a, "/status", "127.0.0.2"), "... and only for it");
    ok(allowed(&a, "/status/x", "127.0.0.2"), "the exact rule does not cover /status/x");
    ok(!allowed(&a, "/a/b.bak", "2001:db8::1"), "glob deny ::/0 refuses IPv6");
    ok(!allowed(&a, "/a/b.bak", "192.0.2.1"), "... and IPv4 (mapped)");

    struct rate_rule rr[2] = {0};
    path_match_parse("=/wp-login.php", 14, &rr[0].path);
    path_match_parse("/", 1, &rr[1].path);
    struct access_conf b = {.rate = rr, .n_rate = 2};
    is_int(access_rules_rate(&b, "/wp-login.php"), 0, "first matching limit_req");
    is_int(access_rules_rate(&b, "/x"), 1, "then the catch-all");
    struct access_conf c = {.rate = rr, .n_rate = 1};
    is_int(access_rules_rate(&c, "/x"), -1, "no rule");
    is_int(access_rules_auth(&c, "/x"), -1, "no auth rule");

    for (size_t i = 0; i < 4; i++) {
        path_match_free(&v[i].path);
        free(v[i].nets.v);
    }
    path_match_free(&rr[0].path);
    path_match_free(&rr[1].path);
    return done_testing();
}
