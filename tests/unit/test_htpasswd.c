/* htpasswd: user:hash lines, comments, malformed lines reported, the first line of a user wins. */
#include <string.h>

#include "htpasswd.h"
#include "tap.h"

static unsigned warned[16], n_warned;

static void on_warn(void *ctx, unsigned line, const char *why)
{
    (void)ctx;
    (void)why;
    if (n_warned < 16)
        warned[n_warned++] = line;
}

int main(void)
{
    const char *text = "# comment\n"
                       "alice:$2y$10$abcdefghijklmnopqrstuuIqtt4ZbJm5Ch1KpG4Pj1Rk2Ju6wf6W\r\n"
                       "\n"
                       "nocolon\n"
                       ":emptyuser\n"
                       "bob:\n"
                       "bob:$6$salt$hash  \n"
                       "alice:$6$second$line\n"
                       "carol:$y$j9T$x$y";
    struct htpasswd h;
    is_int(htpasswd_parse(text, strlen(text), &h, on_warn, NULL), 3, "three users");
    const struct htpasswd_entry *e = htpasswd_find(&h, "alice");
    ok(e && strncmp(e->hash, "$2y$10$", 7) == 0, "alice: the first line's hash, CR dropped");
    ok(e && e->line == 2, "alice: line 2");
    e = htpasswd_find(&h, "bob");
    ok(e && strcmp(e->hash, "$6$salt$hash") == 0, "bob: trailing blanks dropped");
    e = htpasswd_find(&h, "carol");
    ok(e && strcmp(e->hash, "$y$j9T$x$y") == 0, "last line without a newline");
    ok(!htpasswd_find(&h, "dave") && !htpasswd_find(&h, ""), "unknown users");
    is_int(n_warned, 4, "four lines reported");
    ok(n_warned == 4 && warned[0] == 4 && warned[1] == 5 && warned[2] == 6,
       "no ':', empty user, empty hash (lines 4, 5, 6)");
    ok(n_warned == 4 && warned[3] == 8, "alice again (line 8)");
    htpasswd_dispose(&h);
    is_int(htpasswd_parse("", 0, &h, NULL, NULL), 0, "empty file");
    htpasswd_dispose(&h);
    return done_testing();
}
