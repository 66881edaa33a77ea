/*
 * test_live_reload: where the script goes (the last </body>, any case; the end without one),
 * the exact bytes around it, the HTML test on Content-Type values, the ETag of the injected
 * representation, and the event a changed file sends.
 */
#include <stdlib.h>

#include "live_reload.h"
#include "tap.h"

static char *inject(const char *html)
{
    struct buf b;
    buf_init(&b, 0);
    if (live_reload_inject(&b, html, strlen(html)) != 0)
        return NULL;
    return buf_steal(&b, NULL);
}

static void etag(const char *in, const char *want, const char *name)
{
    char out[64];
    is_str(live_reload_etag(in, out, sizeof out) ? out : "(refused)", want, name);
}

int main(void)
{
    char want[4096];
    char *s = inject("<html><body><p>hi</p></body></html>");
    snprintf(want, sizeof want, "<html><body><p>hi</p>%s</body></html>", live_reload_script);
    is_str(s, want, "script goes right before </body>");
    free(s);
    s = inject("<BODY>x<script>'</body>'</script></BODY >\n");
    snprintf(want, sizeof want, "<BODY>x<script>'</body>'</script>%s</BODY >\n",
             live_reload_script);
    is_str(s, want, "the last </body>, upper case");
    free(s);
    s = inject("<p>fragment");
    snprintf(want, sizeof want, "<p>fragment%s", live_reload_script);
    is_str(s, want, "no </body>: at the end");
    free(s);
    s = inject("");
    is_str(s, live_reload_script, "empty body: just the script");
    free(s);
    is_int(live_reload_insert_at("</body", 6), 0, "</body at offset 0");
    is_int(live_reload_insert_at("</bod", 5), 5, "a cut tag is not a match");
    ok(strstr(live_reload_script, "'" LIVE_RELOAD_PATH "'") != NULL,
       "the script listens on the endpoint");
    ok(strncmp(live_reload_script, "<script>", 8) == 0 &&
           strcmp(live_reload_script + strlen(live_reload_script) - 9, "</script>") == 0,
       "one script element");
    struct buf small;
    buf_init(&small, 10);
    is_int(live_reload_inject(&small, "<body></body>", 13), -1, "-1 at the cap");
    is_int(small.len, 0, "...and the buffer as it was");
    buf_dispose(&small);

    ok(live_reload_is_html("text/html"), "text/html");
    ok(live_reload_is_html("Text/HTML; charset=UTF-8"), "Text/HTML; charset=UTF-8");
    ok(!live_reload_is_html("text/htmlx"), "text/htmlx is not HTML");
    ok(!live_reload_is_html("application/xhtml+xml"), "xhtml is left alone");
    ok(!live_reload_is_html("text/plain"), "text/plain");
    ok(!live_reload_is_html(NULL), "no type");

    etag("\"5f-1a2b\"", "\"5f-1a2b-lr\"", "strong ETag");
    etag("W/\"abc\"", "W/\"abc-lr\"", "weak ETag");
    etag("abc", "(refused)", "unquoted: refused");
    etag("\"", "(refused)", "a lone quote: refused");
    char tiny[8];
    ok(!live_reload_etag("\"123456\"", tiny, sizeof tiny), "does not fit: refused");

    is_str(live_reload_event("assets/site.css", 15), "css", ".css: swap the stylesheets");
    is_str(live_reload_event("a/STYLE.CSS", 11), "css", ".CSS too");
    is_str(live_reload_event("index.php", 9), "reload", "anything else: reload");
    is_str(live_reload_event("css", 3), "reload", "a file named css");
    return done_testing();
}
