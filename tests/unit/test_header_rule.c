/* header_rule: header and cache_control values, and the error_page rules (error_page.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_page.h"
#include "header_rule.h"
#include "tap.h"

#define okf(cond, ...)                                                                             \
    do {                                                                                           \
        char n_[300];                                                                              \
        snprintf(n_, sizeof n_, __VA_ARGS__);                                                      \
        ok(cond, n_);                                                                              \
    } while (0)

static const struct {
    const char *text;
    enum header_rule_op op;
    const char *name, *value;
} good[] = {
    {"/ X-Frame-Options: DENY", HEADER_RULE_ADD, "X-Frame-Options", "DENY"},
    {"/static =Cache-Control: public, max-age=60", HEADER_RULE_SET, "Cache-Control",
     "public, max-age=60"},
    {"*.php -X-Powered-By", HEADER_RULE_DEL, "X-Powered-By", NULL},
    {"=/a   X-A:b  ", HEADER_RULE_ADD, "X-A", "b"},
    {"/ Content-Security-Policy: default-src 'self';img-src *", HEADER_RULE_ADD,
     "Content-Security-Policy", "default-src 'self';img-src *"},
};

static const char *const bad[] = {
    "",
    "/",
    "X-A: b",
    "/ X-A",
    "/ X-A:",
    "/ X-A:   ",
    "/ X A: b",
    "/ -X-A: b",
    "/ Content-Length: 5",
    "/ =transfer-encoding: chunked",
    "/ -Connection",
    "/ X-A: b\x01",
    "/../x X-A: b",
    "/ :b",
};

static const struct {
    const char *text, *value;
    long long max_age;
} cache_good[] = {
    {"/assets max-age=31536000, immutable", "max-age=31536000, immutable", 31536000},
    {"*.css public,max-age=60", "public,max-age=60", 60},
    {"/ no-store", "no-store", -1},
    {"/ private=\"Set-Cookie\", max-age=0", "private=\"Set-Cookie\", max-age=0", 0},
};

static const char *const cache_bad[] = {
    "/",         "/ max-age=abc", "/ max-age=",
    "/ public,", "/ a b",         "max-age=1",
    "/ ,public", "/ x=\"open",    "/ max-age=99999999999999",
};

int main(void)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct header_rule r;
        const char *why = header_rule_parse(good[i].text, &r);
        okf(why == NULL, "parses '%s'", good[i].text);
        if (why)
            continue;
        okf(r.op == good[i].op && strcmp(r.name, good[i].name) == 0 &&
                (good[i].value ? r.value && strcmp(r.value, good[i].value) == 0 : !r.value),
            "'%s': op, name and value", good[i].text);
        struct header_rules l = {malloc(sizeof r), 1};
        l.v[0] = r;
        header_rules_free(&l);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct header_rule r;
        okf(header_rule_parse(bad[i], &r) != NULL && !r.name && !r.value && !r.where.pattern,
            "refused: '%s'", bad[i]);
    }
    for (size_t i = 0; i < sizeof cache_good / sizeof cache_good[0]; i++) {
        struct cache_rule c;
        const char *why = header_rule_parse_cache(cache_good[i].text, &c);
        okf(why == NULL && strcmp(c.value, cache_good[i].value) == 0 &&
                c.max_age == cache_good[i].max_age,
            "cache_control '%s'", cache_good[i].text);
        if (!why) {
            struct cache_rules l = {malloc(sizeof c), 1};
            l.v[0] = c;
            ok(header_rule_find_cache(&l, "/assets/x") ==
                   (strncmp(c.where.pattern, "/as", 3) == 0 || strcmp(c.where.pattern, "/") == 0
                        ? &l.v[0]
                        : NULL),
               "cache rule matched by its pattern");
            cache_rules_free(&l);
        }
    }
    {
        struct header_rules h = {calloc(1, sizeof *h.v), 0};
        struct cache_rules cr = {calloc(1, sizeof *cr.v), 0};
        ok(!header_rules_match(&h, &cr, "/a"), "no rules: nothing matches");
        ok(header_rule_parse("/img X-A: 1", &h.v[0]) == NULL, "a header rule on /img");
        h.n = 1;
        ok(header_rules_match(&h, &cr, "/img/a.png"), "a header rule's path matches");
        ok(!header_rules_match(&h, &cr, "/1k.bin"), "another path matches no rule");
        ok(header_rule_parse_cache("*.css max-age=60", &cr.v[0]) == NULL, "a cache rule on *.css");
        cr.n = 1;
        ok(header_rules_match(&h, &cr, "/s/x.css"), "a cache rule's path matches");
        ok(!header_rules_match(&h, &cr, "/s/x.js"), "neither matches another path");
        header_rules_free(&h);
        cache_rules_free(&cr);
    }
    for (size_t i = 0; i < sizeof cache_bad / sizeof cache_bad[0]; i++) {
        struct cache_rule c;
        okf(header_rule_parse_cache(cache_bad[i], &c) != NULL && !c.value,
            "cache_control refused: '%s'", cache_bad[i]);
    }
    size_t n = 0;
    for (const struct header_default *d = header_rule_security; d->name; d++)
        n++;
    ok(n == 4, "four security headers");

    /* error_page */
    struct error_page_rules ep = {0};
    unsigned dup;
    ok(error_page_parse("404 /errors/404.html", 3, &ep, &dup) == NULL && ep.n == 1, "404");
    ok(error_page_parse("500 502 503  504 /errors/5xx.php", 4, &ep, &dup) == NULL && ep.n == 5,
       "four 5xx");
    is_str(error_page_find(&ep, 503), "/errors/5xx.php", "503 found");
    ok(error_page_find(&ep, 403) == NULL, "403 has none");
    ok(error_page_parse("404 /other.html", 9, &ep, &dup) != NULL && dup == 3 && ep.n == 5,
       "404 twice: the first line named");
    static const char *const ep_bad[] = {
        "404",         "/x.html",        "200 /x.html", "600 /x.html",     "404 x.html",
        "404 /a/../x", "404 /x%20.html", "404 /x?y",    "404 /x.html 500", "40 /x.html",
        "4044 /x.html"};
    for (size_t i = 0; i < sizeof ep_bad / sizeof ep_bad[0]; i++)
        okf(error_page_parse(ep_bad[i], 10, &ep, &dup) != NULL && ep.n == 5,
            "error_page refused: '%s'", ep_bad[i]);
    error_page_rules_free(&ep);
    ok(ep.n == 0, "freed");
    return done_testing();
}
