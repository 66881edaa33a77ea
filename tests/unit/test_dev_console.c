/*
 * test_dev_console: development mode's request line (exact bytes, with and without colour),
 * the PHP stderr lines under it with FILE:LINE found and highlighted, escaping of control
 * bytes from the client and from PHP, and the error page.
 */
#include <stdlib.h>
#include <time.h>

#include "dev_console.h"
#include "tap.h"

static char *fmt(const struct dev_console_entry *e, bool color)
{
    struct buf b;
    buf_init(&b, 0);
    if (dev_console_format(&b, e, color) != 0)
        return NULL;
    size_t n;
    return buf_steal(&b, &n);
}

static void loc(const char *line, const char *want, const char *name)
{
    size_t at, len;
    char got[200] = "(none)";
    if (dev_console_find_location(line, strlen(line), &at, &len))
        snprintf(got, sizeof got, "%.*s", (int)len, line + at);
    is_str(got, want, name);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    int64_t t = 1764936000123; /* 2025-12-05T12:00:00.123Z */
    struct dev_console_entry e = {t, "GET", "/a?b=1", 200, 1234, 0, NULL, 0};
    char *s = fmt(&e, false);
    is_str(s, "12:00:00 GET    /a?b=1 200 1.2 ms\n", "static request, no colour");
    free(s);

    const char err[] = "PHP Fatal error:  Uncaught Error: nope() in /srv/app/index.php:3\n"
                       "PHP Warning:  Undefined variable $x in /srv/a b.php on line 12";
    e = (struct dev_console_entry){t, "POST", "/form", 500, 45000, 41500, err, sizeof err - 1};
    s = fmt(&e, false);
    is_str(s,
           "12:00:00 POST   /form 500 45 ms (php 41 ms)\n"
           "    | PHP Fatal error:  Uncaught Error: nope() in /srv/app/index.php:3\n"
           "    | PHP Warning:  Undefined variable $x in /srv/a b.php on line 12\n",
           "FastCGI request: PHP time, stderr lines under it");
    free(s);
    s = fmt(&e, true);
    is_str(s,
           "\033[2m12:00:00\033[0m \033[1mPOST  \033[0m /form \033[1;31m500\033[0m \033[2m45 ms "
           "(php 41 ms)\033[0m\n"
           "    \033[2m|\033[0m PHP Fatal error:  Uncaught Error: nope() in "
           "\033[1;35m/srv/app/index.php:3\033[0m\n"
           "    \033[2m|\033[0m PHP Warning:  Undefined variable $x in /srv/a "
           "\033[1;35mb.php on line 12\033[0m\n",
           "colour: status red, file:line highlighted");
    free(s);
    e = (struct dev_console_entry){t, "GET", "/x", 404, 12000000, 0, NULL, 0};
    s = fmt(&e, true);
    ok(s && strstr(s, "\033[33m404\033[0m") && strstr(s, "12.0 s"), "404 yellow, seconds");
    free(s);
    e.status = 302;
    s = fmt(&e, true);
    ok(s && strstr(s, "\033[36m302"), "302 cyan");
    free(s);

    const char evil_err[] = "boom \033[2J\rgone";
    e = (struct dev_console_entry){t, "GET",    "/\033]0;pwned\007", 200, 1,
                                   0, evil_err, sizeof evil_err - 1};
    s = fmt(&e, false);
    is_str(s, "12:00:00 GET    /\\x1B]0;pwned\\x07 200 0.0 ms\n    | boom \\x1B[2J\\x0Dgone\n",
           "control bytes from the client and PHP are escaped");
    free(s);

    loc("in /x/y.php:42", "/x/y.php:42", "location: FILE:LINE");
    loc("thrown in /x/y.php on line 7", "/x/y.php on line 7", "location: in FILE on line N");
    loc("(/x/y.php:9)", "/x/y.php:9", "location: in parentheses");
    loc("no location here.php", "(none)", "location: .php without a line");
    loc("see .php:3", "(none)", "location: no name before .php");
    loc("/a.phpx:3", "(none)", "location: .phpx is not .php");

    struct buf b;
    buf_init(&b, 0);
    const char page_err[] = "PHP Fatal error:  <b>x</b> in /s/i.php:3";
    ok(dev_console_error_page(&b, "GET", "/p?<q>", page_err, sizeof page_err - 1) == 0,
       "error page renders");
    ok(strstr(b.data, "<pre>PHP Fatal error:  &lt;b&gt;x&lt;/b&gt; in <mark>/s/i.php:3</mark>\n"
                      "</pre>") != NULL,
       "error page: stderr escaped, location marked");
    ok(strstr(b.data, "GET /p?&lt;q&gt;") != NULL, "error page: the request, escaped");
    ok(strncmp(b.data, "<!DOCTYPE html>", 15) == 0 && strstr(b.data, "</body></html>\n"),
       "error page: a whole HTML document");
    buf_dispose(&b);
    buf_init(&b, 100);
    is_int(dev_console_error_page(&b, "GET", "/", page_err, sizeof page_err - 1), -1,
           "error page: -1 at the cap");
    is_int(b.len, 0, "...and the buffer as it was");
    buf_dispose(&b);
    return done_testing();
}
