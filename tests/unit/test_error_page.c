#include <stdlib.h>
#include <string.h>

#include "error_page.h"
#include "tap.h"

static void test_reasons(void)
{
    static const struct {
        unsigned status;
        const char *want;
    } cases[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {205, "Reset Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {305, "Use Proxy"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {418, "I'm a teapot"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {425, "Too Early"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {451, "Unavailable For Legal Reasons"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {507, "Insufficient Storage"},
        {511, "Network Authentication Required"},
        {0, "Error"},
        {306, "Error"},
        {419, "Error"},
        {599, "Error"},
        {999, "Error"},
        {4294967295u, "Error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "reason %u", cases[i].status);
        is_str(error_page_reason(cases[i].status), cases[i].want, name);
    }
}

static void test_wants_json(void)
{
    static const struct {
        const char *accept;
        bool want;
    } cases[] = {
        {"", false},
        {"*/*", false},
        {"application/json", true},
        {"APPLICATION/JSON", true},
        {"Application/Json;Q=0.5", true},
        {"application/json; charset=utf-8", true},
        {"application/json;charset=\"utf-8\"", true},
        {"text/html", false},
        {"application/json, text/html", true}, /* a tie goes to JSON */
        {"text/html, application/json", true},
        {"text/html, application/json;q=0.9", false},
        {"text/html;q=0.5, application/json;q=0.6", true},
        {"text/html;q=0.5, application/json;q=0.5", true},
        {"application/json;q=0", false},
        {"application/json;q=0, text/html;q=0", false},
        {"text/html;q=0, application/json;q=0.001", true},
        /* a browser */
        {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
        {"application/json, text/plain, */*", true}, /* axios */
        /* html at q=1 via the catch-all */
        {"application/json;q=0.5, */*", false},
        {"application/json;q=0.5, */*;q=0.1", true},
        {"application/json;q=0.5, text/*", false},
        /* text/(any) outranks the catch-all */
        {"application/json;q=0.5, text/*;q=0.4, */*", true},
        /* exact outranks text/(any) */
        {"application/json;q=0.5, text/html;q=0.4, text/*", true},
        {"application/json;q=0.5, text/html;q=0.6, text/html;q=0.1", false},
        {"application/json;q=0.3, application/json;q=0.6, text/html;q=0.5", true},
        {"application/*", false},
        {"application/problem+json", false},
        {"application/jsonx", false},
        {"xapplication/json", false},
        {"application/json/x", false},
        {"text/json", false},
        {" \t application/json \t ", true},
        {",,application/json,,", true},
        {"application/json;q=0.5;ext=1, text/html;q=0.4", true},          /* accept-ext after q */
        {"application/json;foo=\"a,b\";q=0.5, text/html;q=0.4", true},    /* quoted comma */
        {"application/json;foo=\"a\\\"b\";q=0.5, text/html;q=0.4", true}, /* escaped quote */
        {"text/html;foo=\"x,application/json\"", false},
        {"application/json;;q=0.5", true}, /* empty parameter */
        /* malformed elements count as q=0 */
        {"application/json;q=abc", false},
        {"application/json;q=\"0.5\"", false},
        {"application/json;q=1.5", false},
        {"application/json;q=0.5000", false},
        {"application/json;q", false},
        {"application/json;q=", false},
        {"application/json;=1", false},
        {"application/json;foo=\"unterminated", false},
        {"application/json junk", false},
        {"application /json", false},
        {"application", false},
        {"/json", false},
        {"application/", false},
        {"application/json;q=0.9, text/html;q=bad", true}, /* bad html counts as 0 */
        {"text/html;q=bad, application/json;q=0.1", true},
        {"garbage, application/json", true},
        {"application/json, */*;q=x", true},
    };
    ok(!error_page_wants_json(NULL), "NULL Accept -> html");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "Accept '%s' -> %s", cases[i].accept,
                 cases[i].want ? "json" : "html");
        is_int(error_page_wants_json(cases[i].accept), cases[i].want, name);
    }
}

static const char page_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n";
static const char page_style[] =
    "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;"
    "padding:0 1em;color:#222}h1{font-size:1.5em}address{color:#777}</style>\n"
    "</head>\n"
    "<body>\n";

static void test_render(void)
{
    struct buf b;
    char want[2048];
    const char *ct;

    buf_init(&b, 0);
    ct = error_page_render(&b, 404, "No such file.", false);
    is_str(ct, "text/html; charset=utf-8", "html content type");
    snprintf(want, sizeof want,
             "%s<title>404 Not Found</title>\n%s"
             "<h1>404 Not Found</h1><p>No such file.</p><hr><address>wharf</address>\n"
             "</body>\n</html>\n",
             page_head, page_style);
    is_str(b.data, want, "whole 404 page with detail");

    buf_reset(&b);
    error_page_render(&b, 502, NULL, false);
    snprintf(want, sizeof want,
             "%s<title>502 Bad Gateway</title>\n%s"
             "<h1>502 Bad Gateway</h1><hr><address>wharf</address>\n</body>\n</html>\n",
             page_head, page_style);
    is_str(b.data, want, "whole 502 page without detail");

    buf_reset(&b);
    error_page_render(&b, 502, "", false);
    is_str(b.data, want, "empty detail is no detail");

    buf_reset(&b);
    error_page_render(&b, 418, "<script>alert('x')</script> & \"q\"", false);
    ok(strstr(b.data, "<title>418 I&#39;m a teapot</title>") != NULL, "reason escaped in title");
    ok(strstr(b.data, "<h1>418 I&#39;m a teapot</h1><p>&lt;script&gt;alert(&#39;x&#39;)"
                      "&lt;/script&gt; &amp; &quot;q&quot;</p>") != NULL,
       "detail escaped in html");
    ok(strstr(b.data, "<script") == NULL, "no raw markup from detail");

    buf_reset(&b);
    error_page_render(&b, 799, NULL, false);
    ok(strstr(b.data, "<title>799 Error</title>") != NULL, "unknown status renders as Error");

    buf_reset(&b);
    ct = error_page_render(&b, 404, NULL, true);
    is_str(ct, "application/json", "json content type");
    is_str(b.data, "{\"status\":404,\"error\":\"Not Found\"}", "json without detail");

    buf_reset(&b);
    error_page_render(&b, 404, "", true);
    is_str(b.data, "{\"status\":404,\"error\":\"Not Found\"}", "json with empty detail");

    buf_reset(&b);
    error_page_render(&b, 503, "backend \"a\" down\n\\", true);
    is_str(b.data,
           "{\"status\":503,\"error\":\"Service Unavailable\","
           "\"detail\":\"backend \\\"a\\\" down\\n\\\\\"}",
           "json with escaped detail");

    buf_reset(&b);
    buf_puts(&b, "prefix:");
    error_page_render(&b, 400, "x", true);
    is_str(b.data, "prefix:{\"status\":400,\"error\":\"Bad Request\",\"detail\":\"x\"}",
           "appends after existing content");
    buf_dispose(&b);

    buf_init(&b, 40);
    buf_puts(&b, "keep");
    ct = error_page_render(&b, 404, "detail", false);
    ok(ct == NULL, "html over the cap returns NULL");
    is_str(b.data, "keep", "and leaves the buffer as it was");
    ct = error_page_render(&b, 404, "a long detail that does not fit", true);
    ok(ct == NULL, "json over the cap returns NULL");
    is_int(b.len, 4, "and leaves the length as it was");
    buf_dispose(&b);

    buf_init(&b, 34);
    ct = error_page_render(&b, 404, NULL, true);
    is_str(ct, "application/json", "json exactly at the cap fits");
    buf_dispose(&b);
    buf_init(&b, 33);
    ct = error_page_render(&b, 404, NULL, true);
    ok(ct == NULL, "json one byte over the cap fails");
    is_int(b.len, 0, "and leaves nothing behind");
    buf_dispose(&b);
}

int main(void)
{
    test_reasons();
    test_wants_json();
    test_render();
    return done_testing();
}
