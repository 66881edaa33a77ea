/* redirect: the redirect and redirect_host values, matching and the Location built. */
#include <stdlib.h>
#include <string.h>

#include "redirect.h"
#include "tap.h"

#include <stdio.h>

#define okf(cond, ...)                                                                             \
    do {                                                                                           \
        char n_[300];                                                                              \
        snprintf(n_, sizeof n_, __VA_ARGS__);                                                      \
        ok(cond, n_);                                                                              \
    } while (0)
#define is_strf(got, want, ...)                                                                    \
    do {                                                                                           \
        char n_[300];                                                                              \
        snprintf(n_, sizeof n_, __VA_ARGS__);                                                      \
        is_str(got, want, n_);                                                                     \
    } while (0)

static const struct {
    const char *rule, *path, *query, *want; /* want NULL = no rule matches */
} loc_cases[] = {
    {"/old /new", "/old", NULL, "/new"},
    {"/old /new", "/old/a/b", "x=1&y", "/new/a/b?x=1&y"},
    {"/old/ /new/", "/old/a", NULL, "/new/a"},
    {"/old/ /new/", "/old", NULL, "/new/"},
    {"/old /new", "/older", NULL, NULL},
    {"/old /new?from=old", "/old/a", "x=1", "/new/a?from=old"},
    {"/blog https://blog.example.org", "/blog/2024/post", NULL,
     "https://blog.example.org/2024/post"},
    {"/ https://example.org/", "/a/b", "q", "https://example.org/a/b?q"},
    {"/ https://example.org", "/", NULL, "https://example.org/"},
    {"/sp /new", "/sp/a b/\xc3\xa9", NULL, "/new/a%20b/%C3%A9"},
    {"=/wp-login.php /login", "/wp-login.php", "r=1", "/login?r=1"},
    {"=/wp-login.php /login", "/wp-login.php/x", NULL, NULL},
    {"*.asp /index.php", "/a/b.asp", NULL, "/index.php"},
};

static const char *const bad[] = {
    "",
    "/old",
    "/old /new 303",
    "/old /new 301 extra",
    "old /new",
    "/a/../b /new",
    "/old //evil.example",
    "/old ftp://x",
    "/old https://",
    "/old https:///path",
    "/old /new#frag",
    "/old /new 30",
    "/old /new abc",
    "=old /new",
};

int main(void)
{
    for (size_t i = 0; i < sizeof loc_cases / sizeof loc_cases[0]; i++) {
        struct redirect_rules rules = {0};
        struct redirect_rule r;
        const char *why = redirect_parse(loc_cases[i].rule, &r);
        okf(why == NULL, "parses '%s'", loc_cases[i].rule);
        if (why)
            continue;
        rules.v = malloc(sizeof r);
        rules.v[0] = r;
        rules.n = 1;
        const struct redirect_rule *m = redirect_find(&rules, loc_cases[i].path);
        if (!loc_cases[i].want) {
            okf(m == NULL, "'%s' does not match %s", loc_cases[i].rule, loc_cases[i].path);
        } else {
            struct buf b;
            buf_init(&b, 4096);
            const char *q = loc_cases[i].query;
            ok(m && redirect_location(m, loc_cases[i].path, q, q ? strlen(q) : 0, &b) == 0,
               "Location built");
            is_strf(b.data ? b.data : "", loc_cases[i].want, "'%s' on %s", loc_cases[i].rule,
                    loc_cases[i].path);
            buf_dispose(&b);
        }
        redirect_rules_free(&rules);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct redirect_rule r;
        okf(redirect_parse(bad[i], &r) != NULL && r.to == NULL, "refused: '%s'", bad[i]);
    }

    struct redirect_rule r;
    ok(redirect_parse("/a /b", &r) == NULL && r.status == 302, "302 by default");
    free(r.to);
    path_match_free(&r.from);
    ok(redirect_parse("/a /b 308", &r) == NULL && r.status == 308, "308 given");
    free(r.to);
    path_match_free(&r.from);

    /* first match in file order wins */
    struct redirect_rules two = {calloc(2, sizeof(struct redirect_rule)), 2};
    redirect_parse("/a /first", &two.v[0]);
    redirect_parse("/a/b /second", &two.v[1]);
    const struct redirect_rule *m = redirect_find(&two, "/a/b/c");
    is_str(m ? m->to : "", "/first", "the first matching rule wins");
    redirect_rules_free(&two);
    ok(two.n == 0 && two.v == NULL, "freed rules are empty");

    struct redirect_host h = {0};
    ok(redirect_host_parse("www", &h) == NULL && h.mode == REDIRECT_HOST_WWW && h.status == 302,
       "www");
    ok(redirect_host_parse("APEX 301", &h) == NULL && h.mode == REDIRECT_HOST_APEX &&
           h.status == 301,
       "apex 301");
    ok(redirect_host_parse("off", &h) == NULL && h.mode == REDIRECT_HOST_OFF, "off");
    ok(redirect_host_parse("wwww", &h) != NULL, "wwww refused");
    ok(redirect_host_parse("www 200", &h) != NULL, "www 200 refused");
    ok(redirect_host_parse("www 301 x", &h) != NULL, "three words refused");

    char *hosts[] = {"example.org", "www.example.org", "other.net", "www.lonely.net"};
    char out[300];
    ok(redirect_host_has_pair(hosts, 4), "a pair is there");
    ok(!redirect_host_has_pair(hosts + 2, 2), "no pair: other.net and www.lonely.net");
    ok(redirect_host_target(REDIRECT_HOST_WWW, "Example.ORG:8080", hosts, 4, out, sizeof out),
       "apex -> www");
    is_str(out, "www.example.org:8080", "port kept, lower case");
    ok(!redirect_host_target(REDIRECT_HOST_WWW, "www.example.org", hosts, 4, out, sizeof out),
       "www stays under www");
    ok(!redirect_host_target(REDIRECT_HOST_WWW, "other.net", hosts, 4, out, sizeof out),
       "no www.other.net in hosts: served as it is");
    ok(!redirect_host_target(REDIRECT_HOST_WWW, "evil.example", hosts, 4, out, sizeof out),
       "a Host outside hosts is never a target");
    ok(redirect_host_target(REDIRECT_HOST_APEX, "www.example.org", hosts, 4, out, sizeof out),
       "www -> apex");
    is_str(out, "example.org", "apex");
    ok(!redirect_host_target(REDIRECT_HOST_APEX, "www.lonely.net", hosts, 4, out, sizeof out),
       "no lonely.net in hosts: served as it is");
    ok(!redirect_host_target(REDIRECT_HOST_APEX, "[::1]:80", hosts, 4, out, sizeof out),
       "IPv6 literal");
    ok(!redirect_host_target(REDIRECT_HOST_APEX, NULL, hosts, 4, out, sizeof out), "no Host");
    ok(!redirect_host_target(REDIRECT_HOST_OFF, "example.org", hosts, 4, out, sizeof out), "off");
    return done_testing();
}
