/* fcgi_sendfile: which allowed directory holds an X-Sendfile path or X-Accel-Redirect URI. */
#include <stdio.h>
#include <string.h>

#include "fcgi_sendfile.h"
#include "tap.h"

static char *dirs[] = {"/srv/files", "/var/www/site/private"};

static const struct {
    const char *value;
    bool accel;
    unsigned want; /* 0 = found */
    size_t dir;
    const char *rel;
} cases[] = {
    {"/srv/files/a.zip", false, 0, 0, "/a.zip"},
    {"/srv/files/sub/b c.pdf", false, 0, 0, "/sub/b c.pdf"},
    {"/var/www/site/private/x", false, 0, 1, "/x"},
    {"/srv/filesx/a.zip", false, 403, 0, NULL},
    {"/srv/files", false, 403, 0, NULL}, /* the directory itself is not under it */
    {"/srv/files/", false, 404, 0, NULL},
    {"/srv/files/../etc/passwd", false, 404, 0, NULL},
    {"/srv/files/./a", false, 404, 0, NULL},
    {"/srv/files//a", false, 404, 0, NULL},
    {"/srv/files/.git/config", false, 404, 0, NULL},
    {"/srv/files/a/.env", false, 404, 0, NULL},
    {"srv/files/a", false, 404, 0, NULL},
    {"/srv/files/a\x01", false, 404, 0, NULL},
    {"/etc/passwd", false, 403, 0, NULL},
    {"/private/x", true, 0, 1, "/x"},
    {"/private/%78%2Fy", true, 0, 1, "/x/y"},
    {"/private/../index.php", true, 403, 0, NULL},
    {"/../../../srv/files/a", true, 403, 0, NULL},
    {"/private/x?dl=1", true, 0, 1, "/x"},
    {"/private/.ht", true, 404, 0, NULL},
    {"http://evil/private/x", true, 404, 0, NULL},
    {"/private/%00", true, 404, 0, NULL},
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[256] = "", name[320];
        size_t dir = 99;
        unsigned got = fcgi_sendfile_resolve(dirs, 2, "/var/www/site/", cases[i].value,
                                             cases[i].accel, &dir, rel, sizeof rel);
        snprintf(name, sizeof name, "%s %s -> %u", cases[i].accel ? "accel" : "sendfile",
                 cases[i].value, cases[i].want);
        ok(got == cases[i].want && (got || (dir == cases[i].dir && strcmp(rel, cases[i].rel) == 0)),
           name);
    }
    ok(fcgi_sendfile_is_header("x-sendfile") && fcgi_sendfile_is_header("X-Accel-Redirect") &&
           !fcgi_sendfile_is_header("X-Sendfiles") && !fcgi_sendfile_is_header("Status"),
       "the two header names, any case");
    ok(fcgi_sendfile_keeps("content-disposition") && !fcgi_sendfile_keeps("X-Powered-By"),
       "kept headers");
    char *root[] = {"/"};
    char rel[64];
    size_t dir;
    ok(fcgi_sendfile_resolve(root, 1, "/", "/a/b", false, &dir, rel, sizeof rel) == 0 &&
           strcmp(rel, "/a/b") == 0,
       "the directory '/'");
    ok(fcgi_sendfile_resolve(dirs, 2, "/",
                             "/srv/files/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                             false, &dir, rel, sizeof rel) == 404,
       "a path longer than rel's room");
    return done_testing();
}
