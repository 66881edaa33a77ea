/* path_match: parsing the per-path rule patterns and matching normalised paths. */
#include <stdlib.h>
#include <string.h>

#include "path_match.h"
#include "tap.h"

static const struct {
    const char *pattern, *path;
    bool want;
} match_cases[] = {
    /* prefix, segment-wise */
    {"/admin", "/admin", true},
    {"/admin", "/admin/", true},
    {"/admin", "/admin/users/1", true},
    {"/admin", "/administrator", false},
    {"/admin", "/", false},
    {"/admin/", "/admin", true},
    {"/admin/", "/admin/x", true},
    {"/admin/", "/adminx", false},
    {"/", "/", true},
    {"/", "/anything/at/all", true},
    {"/Admin", "/admin", false},
    /* exact */
    {"=/wp-login.php", "/wp-login.php", true},
    {"=/wp-login.php", "/wp-login.php/x", false},
    {"=/wp-login.php", "/wp-login.phpx", false},
    {"=/", "/", true},
    {"=/", "/a", false},
    {"=/dir/", "/dir/", true},
    {"=/dir/", "/dir", false},
    /* globs: '*' crosses '/' */
    {"*.php", "/index.php", true},
    {"*.php", "/a/b/c.php", true},
    {"*.php", "/a/b/c.phps", false},
    {"/wp-*.php", "/wp-login.php", true},
    {"/wp-*.php", "/wp-admin/x.php", true},
    {"/wp-*.php", "/x/wp-login.php", false},
    {"/img/*.png", "/img/a/b.png", true},
    {"/file?.txt", "/file1.txt", true},
    {"/file?.txt", "/file12.txt", false},
    {"/[ab].css", "/a.css", true},
    {"/[ab].css", "/c.css", false},
};

static const struct {
    const char *pattern;
    bool ok;
} parse_cases[] = {
    {"/", true},       {"/a/b", true},   {"=/x", true},     {"*.php", true},
    {"*", true},       {"/a*", true},    {"", false},       {"admin", false},
    {"=admin", false}, {"=", false},     {"a*.php", false}, {"/a/../b", false},
    {"/a/./b", false}, {"/a//b", false}, {"/a%2Fb", false}, {"=/a/..", false},
};

int main(void)
{
    for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        struct path_match m;
        char name[256];
        const char *err =
            path_match_parse(match_cases[i].pattern, strlen(match_cases[i].pattern), &m);
        snprintf(name, sizeof name, "'%s' %s '%s'", match_cases[i].pattern,
                 match_cases[i].want ? "matches" : "does not match", match_cases[i].path);
        if (err) {
            ok(0, name);
            printf("#   parse error: %s\n", err);
            continue;
        }
        ok(path_match(&m, match_cases[i].path) == match_cases[i].want, name);
        path_match_free(&m);
    }
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        struct path_match m;
        char name[256];
        const char *err =
            path_match_parse(parse_cases[i].pattern, strlen(parse_cases[i].pattern), &m);
        snprintf(name, sizeof name, "'%s' is %s", parse_cases[i].pattern,
                 parse_cases[i].ok ? "a valid pattern" : "refused with a message");
        ok((err == NULL) == parse_cases[i].ok && (err || m.pattern), name);
        if (!err)
            path_match_free(&m);
        else
            ok(m.pattern == NULL && strlen(err) > 10, "a refused pattern leaves *out zeroed");
    }

    struct path_match m;
    ok(path_match_parse("/a/b/", 5, &m) == NULL && strcmp(m.pattern, "/a/b") == 0,
       "a prefix's final slash is dropped");
    path_match_free(&m);
    ok(path_match_parse("=/a", 3, &m) == NULL && m.kind == PATH_MATCH_EXACT &&
           strcmp(m.pattern, "/a") == 0,
       "an exact pattern is stored without its '='");
    path_match_free(&m);
    path_match_free(&m);
    ok(m.pattern == NULL, "freeing twice is safe");
    ok(path_match_parse("/a\0b", 4, &m) != NULL, "a NUL byte is refused");
    ok(path_match_parse("/abc", 2, &m) == NULL && strcmp(m.pattern, "/a") == 0,
       "only len bytes are read");
    path_match_free(&m);

    printf("1..%d\n", tap_n);
    return tap_failed != 0;
}
