#include <stdlib.h>
#include <string.h>

#include "dir_listing.h"
#include "tap.h"

#define T0 ((time_t)1706702400) /* Wed, 31 Jan 2024 12:00:00 GMT */

static const char head_docs[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
    "<title>Index of /docs/</title>\n"
    "<style>\n"
    "body{font:15px/1.5 system-ui,sans-serif;max-width:56em;margin:0 auto;padding:1em}\n"
    "h1{font-size:1.3em;overflow-wrap:anywhere}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{padding:.3em .6em;text-align:left;border-bottom:1px solid #ddd}\n"
    "td+td,th+th{text-align:right;white-space:nowrap}\n"
    "a{overflow-wrap:anywhere}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>Index of /docs/</h1>\n"
    "<table>\n"
    "<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n";

static void test_human_size(void)
{
    static const struct {
        uint64_t n;
        const char *want;
    } cases[] = {
        {0, "0 B"},
        {1, "1 B"},
        {512, "512 B"},
        {1023, "1023 B"},
        {1024, "1.0 KiB"},
        {1536, "1.5 KiB"},
        {1075, "1.0 KiB"}, /* 1.0498 rounds down */
        {1076, "1.1 KiB"}, /* 1.0508 rounds up */
        {10 * 1024 * 1024, "10.0 MiB"},
        {1048575, "1.0 MiB"}, /* not "1024.0 KiB" */
        {1048524, "1023.9 KiB"},
        {(uint64_t)1 << 30, "1.0 GiB"},
        {(uint64_t)5 << 40, "5.0 TiB"},
        {(uint64_t)3 << 50, "3.0 PiB"},
        {UINT64_MAX, "16.0 EiB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[16], name[64];
        memset(out, 'x', sizeof out);
        dir_listing_human_size(cases[i].n, out);
        snprintf(name, sizeof name, "human size %s", cases[i].want);
        is_str(out, cases[i].want, name);
    }
}

static void test_sort(void)
{
    struct dir_entry e[] = {
        {"b", false, 1, T0},        {"Z", false, 1, T0}, {"sub", true, 0, T0}, {"a", true, 0, T0},
        {"\xc3\xa9", false, 1, T0}, {"a", false, 1, T0}, {"B", true, 0, T0},
    };
    char got[64] = "";
    dir_listing_sort(e, 7);
    for (size_t i = 0; i < 7; i++) {
        strcat(got, e[i].name);
        strcat(got, e[i].is_dir ? "/ " : " ");
    }
    is_str(got, "B/ a/ sub/ Z a b \xc3\xa9 ",
           "dirs first, then byte order (uppercase first, UTF-8 last)");
    dir_listing_sort(e, 0);
    dir_listing_sort(NULL, 0);
    ok(1, "sorting nothing is fine");
}

static void test_html_whole(void)
{
    struct dir_entry e[] = {
        {"sub", true, 999, T0},
        {"a.txt", false, 1536, T0 + 59},
        {".hidden", false, 3, T0},
    };
    struct buf b;
    buf_init(&b, 0);
    is_int(dir_listing_html(&b, "/docs/", e, 3), 0, "html ok");
    char want[4096];
    snprintf(want, sizeof want, "%s%s", head_docs,
             "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n"
             "<tr><td><a href=\"sub/\">sub/</a></td><td>-</td><td>2024-01-31 12:00</td></tr>\n"
             "<tr><td><a href=\"a.txt\">a.txt</a></td><td>1.5 KiB</td>"
             "<td>2024-01-31 12:00</td></tr>\n"
             "</table>\n</body>\n</html>\n");
    is_str(b.data, want, "whole html page for a tiny listing");
    ok(!strstr(b.data, "hidden"), "dotfile not in html");
    buf_dispose(&b);
}

static void test_html_root_and_empty(void)
{
    struct buf b;
    buf_init(&b, 0);
    is_int(dir_listing_html(&b, "/", NULL, 0), 0, "empty root listing ok");
    ok(strstr(b.data, "<title>Index of /</title>") != NULL, "root title");
    ok(strstr(b.data, "<h1>Index of /</h1>") != NULL, "root h1");
    ok(strstr(b.data, "../") == NULL, "no parent link at /");
    ok(strstr(b.data, "<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n</table>\n") != NULL,
       "table has only the header row");
    buf_dispose(&b);
}

static void test_html_escaping(void)
{
    struct dir_entry e[] = {
        {"<script>alert(1)", false, 0, T0},
        {"a&b", false, 1023, T0},
        {"\"q\"", false, (uint64_t)1 << 30, T0},
        {"sp ace", true, 0, T0},
        {"%", false, 10 * 1024 * 1024, T0},
        {"caf\xc3\xa9 \xe6\x97\xa5", false, 1024, T0},
        {"it's", false, 1, T0},
        {"javascript:alert(1)", false, 1, T0},
        {".", true, 0, T0},
        {"..", true, 0, T0},
        {".git", true, 0, T0},
        {"", false, 0, T0},
        {"x/y", false, 0, T0},
    };
    struct buf b;
    buf_init(&b, 0);
    is_int(dir_listing_html(&b, "/<b>&\"/", e, sizeof e / sizeof e[0]), 0, "html with odd names");
    ok(strstr(b.data, "<title>Index of /&lt;b&gt;&amp;&quot;/</title>") != NULL,
       "url path escaped in title");
    ok(strstr(b.data, "<h1>Index of /&lt;b&gt;&amp;&quot;/</h1>") != NULL,
       "url path escaped in h1");
    ok(strstr(b.data, "<script") == NULL, "no raw <script");
    ok(strstr(b.data, "<tr><td><a href=\"%3Cscript%3Ealert%281%29\">"
                      "&lt;script&gt;alert(1)</a></td><td>0 B</td>") != NULL,
       "<script> name escaped in href and text");
    ok(strstr(b.data, "<a href=\"a%26b\">a&amp;b</a></td><td>1023 B</td>") != NULL, "a&b");
    ok(strstr(b.data, "<a href=\"%22q%22\">&quot;q&quot;</a></td><td>1.0 GiB</td>") != NULL,
       "\"q\"");
    ok(strstr(b.data, "<a href=\"sp%20ace/\">sp ace/</a></td><td>-</td>") != NULL,
       "directory with a space");
    ok(strstr(b.data, "<a href=\"%25\">%</a></td><td>10.0 MiB</td>") != NULL, "percent sign");
    ok(strstr(b.data, "<a href=\"caf%C3%A9%20%E6%97%A5\">caf\xc3\xa9 \xe6\x97\xa5</a></td>"
                      "<td>1.0 KiB</td>") != NULL,
       "UTF-8 name: encoded href, raw text");
    ok(strstr(b.data, "<a href=\"it%27s\">it&#39;s</a>") != NULL, "apostrophe");
    ok(strstr(b.data, "<a href=\"javascript%3Aalert%281%29\">") != NULL,
       "a scheme-like name stays a relative href");
    ok(strstr(b.data, "href=\"./\"") == NULL && strstr(b.data, ".git") == NULL,
       "dot entries hidden");
    ok(strstr(b.data, "href=\"\"") == NULL && strstr(b.data, "x/y") == NULL,
       "empty names and names with a slash skipped");
    int rows = 0;
    for (const char *p = b.data; (p = strstr(p, "<tr><td>")); p++)
        rows++;
    is_int(rows, 9, "parent row plus eight listed entries");
    buf_dispose(&b);
}

static void test_html_cap(void)
{
    struct dir_entry e[] = {{"a.txt", false, 1, T0}};
    struct buf b;
    buf_init(&b, 100);
    is_int(dir_listing_html(&b, "/docs/", e, 1), -1, "html fails cleanly on the cap");
    buf_dispose(&b);
    /* A cap that fits everything but the last row must fail too. */
    buf_init(&b, 0);
    dir_listing_html(&b, "/docs/", e, 1);
    size_t full = b.len;
    buf_dispose(&b);
    buf_init(&b, full);
    is_int(dir_listing_html(&b, "/docs/", e, 1), 0, "exact cap is enough");
    buf_dispose(&b);
    buf_init(&b, full - 1);
    is_int(dir_listing_html(&b, "/docs/", e, 1), -1, "one byte short fails");
    buf_dispose(&b);
}

static void test_json(void)
{
    struct dir_entry e[] = {
        {"d", true, 77, T0},           {"a", false, 12, T0},
        {".env", false, 5, T0},        {"q\"\\\n", false, 0, T0},
        {"caf\xc3\xa9", false, 1, T0}, {"bad\xff\xc3(", false, 2, T0},
        {"old", false, 3, (time_t)-1},
    };
    struct buf b;
    buf_init(&b, 0);
    is_int(dir_listing_json(&b, "/x/", e, 2), 0, "json ok");
    is_str(b.data,
           "{\"path\":\"/x/\",\"entries\":["
           "{\"name\":\"d\",\"type\":\"directory\",\"mtime\":\"Wed, 31 Jan 2024 12:00:00 GMT\"},"
           "{\"name\":\"a\",\"type\":\"file\",\"size\":12,"
           "\"mtime\":\"Wed, 31 Jan 2024 12:00:00 GMT\"}]}",
           "whole json");
    buf_reset(&b);
    is_int(dir_listing_json(&b, "/", NULL, 0), 0, "empty json ok");
    is_str(b.data, "{\"path\":\"/\",\"entries\":[]}", "empty json");
    buf_reset(&b);
    is_int(dir_listing_json(&b, "/\"\xfe/", e + 2, 5), 0, "json with odd names");
    is_str(b.data,
           "{\"path\":\"/\\\"\\ufffd/\",\"entries\":["
           "{\"name\":\"q\\\"\\\\\\n\",\"type\":\"file\",\"size\":0,"
           "\"mtime\":\"Wed, 31 Jan 2024 12:00:00 GMT\"},"
           "{\"name\":\"caf\xc3\xa9\",\"type\":\"file\",\"size\":1,"
           "\"mtime\":\"Wed, 31 Jan 2024 12:00:00 GMT\"},"
           "{\"name\":\"bad\\ufffd\\ufffd(\",\"type\":\"file\",\"size\":2,"
           "\"mtime\":\"Wed, 31 Jan 2024 12:00:00 GMT\"},"
           "{\"name\":\"old\",\"type\":\"file\",\"size\":3,"
           "\"mtime\":\"Wed, 31 Dec 1969 23:59:59 GMT\"}]}",
           "json: escapes, dotfile hidden, invalid UTF-8 replaced, first entry has no comma");
    buf_reset(&b);
    struct dir_entry far[] = {{"far", false, 1, (time_t)400000000000LL}};
    is_int(dir_listing_json(&b, "/", far, 1), 0, "json with a date past year 9999");
    is_str(b.data,
           "{\"path\":\"/\",\"entries\":[{\"name\":\"far\",\"type\":\"file\",\"size\":1,"
           "\"mtime\":\"Fri, 31 Dec 9999 23:59:59 GMT\"}]}",
           "year > 9999 is clamped by http_date");
    buf_reset(&b);
    is_int(dir_listing_html(&b, "/", far, 1), 0, "html with a date past year 9999");
    ok(strstr(b.data, "<td>1 B</td><td>-</td></tr>") != NULL, "html shows '-' for it");
    buf_dispose(&b);
    buf_init(&b, 30);
    is_int(dir_listing_json(&b, "/x/", e, 2), -1, "json fails cleanly on the cap");
    buf_dispose(&b);
}

static void test_utf8_edges(void)
{
    /* Overlong, surrogate, beyond U+10FFFF and truncated sequences are all invalid. */
    struct dir_entry e[] = {
        {"\xc0\xaf", false, 0, T0},         {"\xed\xa0\x80", false, 0, T0},
        {"\xf4\x90\x80\x80", false, 0, T0}, {"\xe6\x97", false, 0, T0},
        {"\xf0\x9f\x98\x80", false, 0, T0},
    };
    struct buf b;
    buf_init(&b, 0);
    dir_listing_json(&b, "/", e, 5);
    ok(strstr(b.data, "\"name\":\"\\ufffd\\ufffd\"") != NULL, "overlong rejected");
    ok(strstr(b.data, "\"name\":\"\\ufffd\\ufffd\\ufffd\"") != NULL, "surrogate rejected");
    ok(strstr(b.data, "\"name\":\"\\ufffd\\ufffd\\ufffd\\ufffd\"") != NULL, "> U+10FFFF rejected");
    ok(strstr(b.data, "\"name\":\"\\ufffd\\ufffd\",\"type\":\"file\",\"size\":0,"
                      "\"mtime\":\"Wed, 31 Jan 2024 12:00:00 GMT\"},{\"name\":\"\xf0") != NULL,
       "truncated sequence rejected");
    ok(strstr(b.data, "\"name\":\"\xf0\x9f\x98\x80\"") != NULL, "4-byte emoji kept");
    buf_dispose(&b);
}

int main(void)
{
    test_human_size();
    test_sort();
    test_html_whole();
    test_html_root_and_empty();
    test_html_escaping();
    test_html_cap();
    test_json();
    test_utf8_edges();
    return done_testing();
}
