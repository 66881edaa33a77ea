/*
 * test_env_file: the git_env_file parser: names, comments, quotes, export, CRLF, a later
 * name replacing an earlier one, and every error with its FILE:LINE (all reported, in order).
 */
#include <stdlib.h>

#include "env_file.h"
#include "tap.h"

static char joined[4096];

static const char *join(const struct errlist *errs)
{
    size_t len = 0;
    joined[0] = '\0';
    for (size_t i = 0; i < errs->n && len < sizeof joined; i++)
        len += (size_t)snprintf(joined + len, sizeof joined - len, "%s\n", errs->msg[i]);
    return joined;
}

int main(void)
{
    struct str_list l = {0};
    struct errlist errs = {0};
    const char good[] = "# database\n"
                        "DB_HOST=127.0.0.1\n"
                        "\n"
                        "   # indented comment\n"
                        "DB_PASS=\"s3cret # not a comment\"\n"
                        "export APP_ENV=production\r\n"
                        "EMPTY=\n"
                        "SQ='a \"b\"'\n"
                        "_X1=a=b\n"
                        "DB_HOST=db.local\n"
                        "LAST=no newline";
    is_int(env_file_parse(good, sizeof good - 1, "app.env", &l, &errs), 0, "good file: ok");
    is_int(errs.n, 0, "good file: no errors");
    is_int(l.n, 7, "good file: 7 names (DB_HOST replaced, not added)");
    if (l.n == 7) {
        is_str(l.v[0], "DB_HOST=db.local", "a later value replaces an earlier one, in place");
        is_str(l.v[1], "DB_PASS=s3cret # not a comment", "double quotes removed, '#' kept");
        is_str(l.v[2], "APP_ENV=production", "export prefix and CR dropped");
        is_str(l.v[3], "EMPTY=", "an empty value");
        is_str(l.v[4], "SQ=a \"b\"", "single quotes removed, inner quotes kept");
        is_str(l.v[5], "_X1=a=b", "'=' in the value kept");
        is_str(l.v[6], "LAST=no newline", "a last line without newline");
    }
    env_file_clear(&l);
    ok(l.n == 0 && l.v == NULL, "clear empties the list");

    const char bad[] = "OK=1\n"
                       "no equals\n"
                       "1BAD=x\n"
                       "BAD-NAME=x\n"
                       "Q=\"open\n"
                       "=x\n"
                       "N=a\0b\n"
                       "Q2='\n";
    is_int(env_file_parse(bad, sizeof bad - 1, "/etc/wharf/site.env", &l, &errs), -1,
           "bad file: -1");
    is_str(join(&errs),
           "/etc/wharf/site.env:2: expected '=' after no\n"
           "/etc/wharf/site.env:3: expected NAME=VALUE (NAME: a letter or '_', then letters, "
           "digits or '_')\n"
           "/etc/wharf/site.env:4: expected '=' after BAD\n"
           "/etc/wharf/site.env:5: unterminated \" quote in the value of Q\n"
           "/etc/wharf/site.env:6: expected NAME=VALUE (NAME: a letter or '_', then letters, "
           "digits or '_')\n"
           "/etc/wharf/site.env:7: a NUL byte\n"
           "/etc/wharf/site.env:8: unterminated ' quote in the value of Q2\n",
           "bad file: every error with FILE:LINE, in order");
    is_int(l.n, 1, "bad file: the good line is kept");
    env_file_clear(&l);
    errlist_dispose(&errs);
    struct errlist e2 = {0};
    is_int(env_file_parse("", 0, "empty.env", &l, &e2), 0, "an empty file is fine");
    is_int(env_file_parse("export\n", 7, "x.env", &l, &e2), -1, "'export' alone is an error");
    errlist_dispose(&e2);
    env_file_clear(&l);
    return done_testing();
}
