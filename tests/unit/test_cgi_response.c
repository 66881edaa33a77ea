#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cgi_response.h"
#include "tap.h"
#include "util.h"

#define S(lit) (lit), sizeof(lit) - 1

/* One line per result, so a whole parse compares with one is_str. */
static char *describe(const struct cgi_head_parser *p, enum cgi_head_status st, size_t consumed)
{
    const struct cgi_head *h = &p->head;
    struct buf b;

    buf_init(&b, 0);
    if (st == CGI_HEAD_NEED_MORE) {
        buf_printf(&b, "NEED_MORE");
    } else if (st == CGI_HEAD_ERROR) {
        buf_printf(&b, "ERROR %s", cgi_head_error(p));
    } else {
        buf_printf(&b, "DONE @%zu status=%u", consumed, h->status);
        if (h->status_reason)
            buf_printf(&b, " reason='%s'", h->status_reason);
        if (h->location)
            buf_printf(&b, " location='%s'", h->location);
        if (h->has_content_length)
            buf_printf(&b, " length=%" PRIu64, h->content_length);
        buf_printf(&b, " eff=%u%s", cgi_head_effective_status(h),
                   cgi_head_is_local_redirect(h) ? " local" : "");
        for (size_t i = 0; i < h->n_headers; i++)
            buf_printf(&b, " [%s|%s]", h->headers[i].name, h->headers[i].value);
    }
    return buf_steal(&b, NULL);
}

/* Feed the input in pieces cut at cuts[0..ncuts) (ascending); describe the outcome. The
 * consumed offset reported is relative to the whole input. */
static char *run_cuts(const char *in, size_t len, const size_t *cuts, size_t ncuts)
{
    struct cgi_head_parser p;
    enum cgi_head_status st = CGI_HEAD_NEED_MORE;
    size_t start = 0, consumed = 0, at = 0;
    char *d;

    cgi_head_init(&p);
    for (size_t k = 0; k <= ncuts && st == CGI_HEAD_NEED_MORE; k++) {
        size_t stop = k < ncuts ? cuts[k] : len;

        st = cgi_head_feed(&p, in + start, stop - start, &consumed);
        at = start + consumed;
        start = stop;
    }
    d = describe(&p, st, at);
    cgi_head_dispose(&p);
    return d;
}

static char *run(const char *in, size_t len)
{
    return run_cuts(in, len, NULL, 0);
}

/* Whole, every 2-way split, every 3-way split (if short), byte by byte: all must agree. */
static void check_head(const char *in, size_t len, const char *want, const char *name)
{
    char *whole = run(in, len), *d, label[160];
    size_t cuts[2];
    int bad = 0;

    is_str(whole, want, name);
    for (size_t i = 0; i <= len; i++) {
        cuts[0] = i;
        d = run_cuts(in, len, cuts, 1);
        bad += strcmp(d, whole) != 0;
        free(d);
        if (len > 300)
            continue;
        for (size_t j = i; j <= len; j++) {
            cuts[1] = j;
            d = run_cuts(in, len, cuts, 2);
            bad += strcmp(d, whole) != 0;
            free(d);
        }
    }
    {
        struct cgi_head_parser p;
        enum cgi_head_status st = CGI_HEAD_NEED_MORE;
        size_t consumed = 0, i;

        cgi_head_init(&p);
        for (i = 0; i < len && st == CGI_HEAD_NEED_MORE; i++)
            st = cgi_head_feed(&p, in + i, 1, &consumed);
        d = describe(&p, st, i - 1 + consumed);
        bad += strcmp(d, whole) != 0;
        free(d);
        cgi_head_dispose(&p);
    }
    snprintf(label, sizeof label, "%s: same result for every split", name);
    is_int(bad, 0, label);
    free(whole);
}

static void test_php_heads(void)
{
    check_head(S("X-Powered-By: PHP/8.2.36\r\n"
                 "Set-Cookie: a=1; path=/\r\n"
                 "Set-Cookie: b=2; HttpOnly\r\n"
                 "Set-Cookie: c=3; Secure; SameSite=Lax\r\n"
                 "Content-type: text/html; charset=UTF-8\r\n"
                 "\r\n"
                 "<html>\r\n\r\n</html>"),
               "DONE @159 status=0 eff=200 [X-Powered-By|PHP/8.2.36] [Set-Cookie|a=1; path=/] "
               "[Set-Cookie|b=2; HttpOnly] [Set-Cookie|c=3; Secure; SameSite=Lax] "
               "[Content-type|text/html; charset=UTF-8]",
               "PHP head with 3 Set-Cookie");
    check_head(S("Status: 404 Not Found\r\n"
                 "X-Powered-By: PHP/8.2.36\r\n"
                 "Content-type: text/html; charset=UTF-8\r\n"
                 "\r\n"
                 "nope"),
               "DONE @91 status=404 reason='Not Found' eff=404 [X-Powered-By|PHP/8.2.36] "
               "[Content-type|text/html; charset=UTF-8]",
               "Status: 404 Not Found");
    check_head(S("Status: 302 Found\r\n"
                 "X-Powered-By: PHP/8.2.36\r\n"
                 "Location: https://example.org/login?next=%2F\r\n"
                 "Content-type: text/html; charset=UTF-8\r\n"
                 "\r\n"),
               "DONE @133 status=302 reason='Found' location='https://example.org/login?next=%2F' "
               "eff=302 [X-Powered-By|PHP/8.2.36] "
               "[Location|https://example.org/login?next=%2F] "
               "[Content-type|text/html; charset=UTF-8]",
               "PHP redirect, head ends with the input");
    check_head(S("Content-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"),
               "DONE @47 status=0 length=5 eff=200 [Content-Length|5] [Content-Type|text/plain]",
               "Content-Length");
}

static void test_newlines(void)
{
    check_head(S("Content-Type: text/plain\nX-A: 1\n\nbody\n\n"),
               "DONE @33 status=0 eff=200 [Content-Type|text/plain] [X-A|1]", "\\n-only head");
    check_head(S("A: 1\r\nB: 2\n\r\nbody"), "DONE @13 status=0 eff=200 [A|1] [B|2]",
               "mixed: \\r\\n then \\n then blank \\r\\n");
    check_head(S("A: 1\n\r\nbody"), "DONE @7 status=0 eff=200 [A|1]", "\\n then blank \\r\\n");
    check_head(S("\r\nbody"), "DONE @2 status=0 eff=200", "empty head (\\r\\n)");
    check_head(S("\nbody"), "DONE @1 status=0 eff=200", "empty head (\\n)");
    check_head(S("A: 1\r\n"), "NEED_MORE", "no blank line yet");
    check_head(S("A: 1\r\n\r"), "NEED_MORE", "blank line half there");
    check_head(S(""), "NEED_MORE", "nothing yet");
}

static void test_values(void)
{
    check_head(S("X:   a  b \t\r\nY:\r\nZ: \t \r\nW:\tv\r\nV:x\r\n\r\n"),
               "DONE @37 status=0 eff=200 [X|a  b] [Y|] [Z|] [W|v] [V|x]",
               "values trimmed of SP/HTAB; empty values kept");
    check_head(S("x-weird!#$%&'*+-.^_`|~9: ok\r\n\r\n"),
               "DONE @31 status=0 eff=200 [x-weird!#$%&'*+-.^_`|~9|ok]", "every tchar in a name");
    check_head(S("A: b: c\r\n\r\n"), "DONE @11 status=0 eff=200 [A|b: c]", "the first ':' splits");
    check_head(S("A: \xc3\xa9t\xc3\xa9\x01\r\n\r\n"),
               "DONE @13 status=0 eff=200 [A|\xc3\xa9t\xc3\xa9\x01]", "value bytes kept as is");
}

static void test_location(void)
{
    check_head(S("Location: /other?x=1\r\n\r\n"),
               "DONE @24 status=0 location='/other?x=1' eff=200 local [Location|/other?x=1]",
               "local redirect");
    check_head(S("Location: http://h/x\r\n\r\n"),
               "DONE @24 status=0 location='http://h/x' eff=302 [Location|http://h/x]",
               "absolute Location without Status: 302");
    check_head(S("Location: //evil/x\r\n\r\n"),
               "DONE @22 status=0 location='//evil/x' eff=200 [Location|//evil/x]",
               "'//' is neither local nor absolute");
    check_head(S("Location: x/y\r\n\r\n"),
               "DONE @17 status=0 location='x/y' eff=200 [Location|x/y]", "relative Location");
    check_head(S("Location: mailto:a@b\r\n\r\n"),
               "DONE @24 status=0 location='mailto:a@b' eff=200 [Location|mailto:a@b]",
               "scheme without '//' is not absolute here");
    check_head(S("Location: svn+ssh.x-1://h\r\n\r\n"),
               "DONE @29 status=0 location='svn+ssh.x-1://h' eff=302 [Location|svn+ssh.x-1://h]",
               "scheme with + . -");
    check_head(S("Location: 1http://h\r\n\r\n"),
               "DONE @23 status=0 location='1http://h' eff=200 [Location|1http://h]",
               "scheme must start with a letter");
    check_head(S("Location: ://h\r\n\r\n"),
               "DONE @18 status=0 location='://h' eff=200 [Location|://h]", "empty scheme");
    check_head(S("Status: 201 Created\r\nLocation: /new\r\n\r\n"),
               "DONE @39 status=201 reason='Created' location='/new' eff=201 [Location|/new]",
               "Status + local Location: not a local redirect");
    check_head(S("Location: /\r\n\r\n"),
               "DONE @15 status=0 location='/' eff=200 local [Location|/]", "Location: /");
    check_head(S("Location:\r\n\r\n"), "DONE @13 status=0 location='' eff=200 [Location|]",
               "empty Location");
    check_head(S("location: /a\r\nLOCATION: /a\r\n\r\n"),
               "DONE @30 status=0 location='/a' eff=200 local [location|/a] [LOCATION|/a]",
               "repeated identical Location");
}

static void test_status(void)
{
    static const struct {
        const char *value;
        const char *want; /* "code|reason" or NULL = error */
    } cases[] = {
        {"200", "200|"},
        {"200 OK", "200|OK"},
        {"404 Not Found", "404|Not Found"},
        {"  404   Not  Found  ", "404|Not  Found"},
        {"500\tInternal Error", "500|Internal Error"},
        {"599 x", "599|x"},
        {"099", NULL},
        {"600", NULL},
        {"99", NULL},
        {"2000", NULL},
        {"200OK", NULL},
        {"20", NULL},
        {"", NULL},
        {"abc", NULL},
        {"-200", NULL},
        {"2 00", NULL},
        {"+200", NULL},
        {"200.0", NULL},
    };
    char in[128], want[160], name[160];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *got;

        snprintf(in, sizeof in, "X: 1\r\nStatus: %s\r\n\r\n", cases[i].value);
        if (cases[i].want) {
            const char *bar = strchr(cases[i].want, '|');
            int code = atoi(cases[i].want);
            if (bar[1])
                snprintf(want, sizeof want, "DONE @%zu status=%d reason='%s' eff=%d [X|1]",
                         strlen(in), code, bar + 1, code);
            else
                snprintf(want, sizeof want, "DONE @%zu status=%d eff=%d [X|1]", strlen(in), code,
                         code);
        } else {
            snprintf(want, sizeof want,
                     "ERROR line 2: Status is not a code 100-599 and an optional reason");
        }
        snprintf(name, sizeof name, "Status: '%s'", cases[i].value);
        got = run(in, strlen(in));
        is_str(got, want, name);
        free(got);
    }
    for (unsigned code = 100; code < 200; code += 99) {
        snprintf(in, sizeof in, "X: 1\r\nStatus: %u Continue\r\n\r\n", code);
        snprintf(want, sizeof want, "ERROR line 2: Status %u is an interim (1xx) status", code);
        snprintf(name, sizeof name,
                 "Status %u: refused (the client would take the next "
                 "response for this one)",
                 code);
        char *got = run(in, strlen(in));
        is_str(got, want, name);
        free(got);
    }
    check_head(S("Status: 101 Switching Protocols\r\n\r\n"),
               "ERROR line 1: Status 101 is an interim (1xx) status", "Status 101: refused");
    check_head(S("status: 204\r\nSTATUS: 204\r\n\r\n"), "DONE @28 status=204 eff=204",
               "repeated identical Status (any case)");
    check_head(S("Status: 200 OK\r\nStatus: 200\r\n\r\n"),
               "ERROR line 2: second Status with a different value",
               "Status repeated with a different reason");
    check_head(S("Status: 200\r\nStatus: 404\r\n\r\n"),
               "ERROR line 2: second Status with a different value",
               "Status repeated with a different code");
}

static void test_content_length(void)
{
    static const struct {
        const char *value;
        const char *want; /* digits or an error message */
    } cases[] = {
        {"0", "0"},
        {"123", "123"},
        {"  123 ", "123"},
        {"007", "7"},
        {"18446744073709551615", "18446744073709551615"},
        {"18446744073709551616", "ERROR line 1: Content-Length overflows"},
        {"99999999999999999999", "ERROR line 1: Content-Length overflows"},
        {"", "ERROR line 1: empty Content-Length"},
        {"12a", "ERROR line 1: Content-Length is not a number"},
        {"-1", "ERROR line 1: Content-Length is not a number"},
        {"+5", "ERROR line 1: Content-Length is not a number"},
        {"1 2", "ERROR line 1: Content-Length is not a number"},
        {"0x10", "ERROR line 1: Content-Length is not a number"},
        {"5, 5", "ERROR line 1: Content-Length is not a number"},
    };
    char in[128], want[200], name[160];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *got;

        snprintf(in, sizeof in, "Content-Length: %s\r\n\r\n", cases[i].value);
        if (strncmp(cases[i].want, "ERROR", 5) == 0)
            snprintf(want, sizeof want, "%s", cases[i].want);
        else
            snprintf(want, sizeof want, "DONE @%zu status=0 length=%s eff=200 [Content-Length|%s]",
                     strlen(in), cases[i].want, cases[i].value[0] == ' ' ? "123" : cases[i].value);
        snprintf(name, sizeof name, "Content-Length: '%s'", cases[i].value);
        got = run(in, strlen(in));
        is_str(got, want, name);
        free(got);
    }
    check_head(S("Content-Length: 5\r\ncontent-length: 005\r\n\r\n"),
               "DONE @42 status=0 length=5 eff=200 [Content-Length|5] [content-length|005]",
               "repeated Content-Length with the same value");
    check_head(S("Content-Length: 5\r\nContent-Length: 6\r\n\r\n"),
               "ERROR line 2: second Content-Length with a different value",
               "two different Content-Lengths");
}

static void test_errors(void)
{
    check_head(S("X-A: 1\r\nno colon here\r\n\r\n"), "ERROR line 2: no ':' in header line",
               "line without ':'");
    check_head(S(": v\r\n\r\n"), "ERROR line 1: empty header name", "empty name");
    check_head(S("X A: v\r\n\r\n"), "ERROR line 1: bad character in header name", "space in name");
    check_head(S("Status : 200\r\n\r\n"), "ERROR line 1: bad character in header name",
               "space before ':'");
    check_head(S("X-A: 1\r\n folded\r\n\r\n"), "ERROR line 2: no ':' in header line",
               "obs-fold without ':'");
    check_head(S("X-A: 1\r\n\tB: folded\r\n\r\n"), "ERROR line 2: bad character in header name",
               "obs-fold with ':'");
    check_head(S("X(A): 1\r\n\r\n"), "ERROR line 1: bad character in header name", "'(' in name");
    check_head(S("X\xc3\xa4: 1\r\n\r\n"), "ERROR line 1: bad character in header name",
               "UTF-8 in name");
    check_head(S("X-A: 1\r\nX-B: a\0b\r\n\r\n"), "ERROR line 2: NUL byte", "NUL in a value");
    check_head(S("\0"), "ERROR line 1: NUL byte", "NUL first");
    check_head(S("X-A: 1\rX-B: 2\r\n\r\n"), "ERROR line 1: CR not followed by LF", "lone CR");
    check_head(S("X-A: 1\r\n\r\r\n"), "ERROR line 2: CR not followed by LF",
               "CR CR LF as the blank line");
    check_head(S("X-A: 1\r\r\n\r\n"), "ERROR line 1: CR not followed by LF", "CR CR LF");
    check_head(S("X-A: 1\r\nX-B: 2\r\nbroken\r\n"), "NEED_MORE",
               "syntax is judged only once the head is complete");
    check_head(S("broken\r\nX: 1\0\r\n\r\n"), "ERROR line 2: NUL byte",
               "a scan error comes before any syntax error");
}

static void test_limits(void)
{
    enum { MAX = CGI_RESPONSE_MAX_HEAD };
    char *in = malloc(MAX + 16), *got, want[64];
    size_t n;

    /* "X: aaaa...\r\n\r\n" of exactly MAX bytes */
    memcpy(in, "X: ", 3);
    memset(in + 3, 'a', MAX - 3 - 4);
    memcpy(in + MAX - 4, "\r\n\r\nBODY", 8);
    got = run(in, MAX + 4);
    snprintf(want, sizeof want, "DONE @%d status=0 eff=200", MAX);
    ok(strncmp(got, want, strlen(want)) == 0, "head of exactly 64 KiB is accepted");
    free(got);

    in[MAX - 2] = 'a'; /* now the blank line ends at byte MAX + 1 */
    memcpy(in + MAX - 1, "\r\n\r\n", 4);
    got = run(in, MAX + 3);
    is_str(got, "ERROR response head over 65536 bytes", "head of 64 KiB + 1 is refused");
    free(got);

    {
        size_t cuts[] = {1000, MAX - 1, MAX};
        got = run_cuts(in, MAX + 3, cuts, 3);
        is_str(got, "ERROR response head over 65536 bytes", "same when split at the cap");
        free(got);
    }

    /* A head that never ends: NEED_MORE up to the cap, then ERROR. */
    {
        struct cgi_head_parser p;
        size_t consumed = 99;
        enum cgi_head_status st;

        memset(in, 'b', MAX + 16);
        memcpy(in, "X: ", 3);
        cgi_head_init(&p);
        st = cgi_head_feed(&p, in, MAX, &consumed);
        is_int(st, CGI_HEAD_NEED_MORE, "64 KiB without an end: NEED_MORE");
        is_int(consumed, MAX, "... all consumed");
        st = cgi_head_feed(&p, in, 1, &consumed);
        is_int(st, CGI_HEAD_ERROR, "one more byte: ERROR");
        is_int(consumed, 0, "... consumed 0");
        is_str(cgi_head_error(&p), "response head over 65536 bytes", "... why");
        st = cgi_head_feed(&p, "\r\n\r\n", 4, &consumed);
        is_int(st, CGI_HEAD_ERROR, "ERROR sticks");
        cgi_head_dispose(&p);
    }

    /* many tiny headers: the array is sized by the line count */
    n = 0;
    while (n + 5 <= MAX - 2) {
        memcpy(in + n, "a:b\r\n", 5);
        n += 5;
    }
    memcpy(in + n, "\r\n", 2);
    {
        struct cgi_head_parser p;
        size_t consumed;

        cgi_head_init(&p);
        is_int(cgi_head_feed(&p, in, n + 2, &consumed), CGI_HEAD_DONE, "13107 headers: DONE");
        is_int(p.head.n_headers, n / 5, "... all of them");
        is_str(p.head.headers[n / 5 - 1].value, "b", "... last value");
        cgi_head_dispose(&p);
    }
    free(in);
}

static void test_api(void)
{
    struct cgi_head_parser p;
    size_t consumed = 99;
    const char *in = "Status: 200\r\nA: 1\r\n\r\nbody";

    cgi_head_init(&p);
    is_str(cgi_head_error(&p), "", "no error after init");
    is_int(cgi_head_feed(&p, in, 0, &consumed), CGI_HEAD_NEED_MORE, "empty feed: NEED_MORE");
    is_int(consumed, 0, "empty feed consumes 0");
    is_int(cgi_head_feed(&p, in, 10, &consumed), CGI_HEAD_NEED_MORE, "first part: NEED_MORE");
    is_int(consumed, 10, "first part consumed");
    is_int(cgi_head_feed(&p, in + 10, strlen(in) - 10, &consumed), CGI_HEAD_DONE, "DONE");
    is_int(consumed, 11, "body starts 11 bytes into the second part");
    is_str(in + 10 + consumed, "body", "... at 'body'");
    is_int(cgi_head_feed(&p, "more", 4, &consumed), CGI_HEAD_DONE, "DONE sticks");
    is_int(consumed, 0, "... consuming nothing");
    is_str(cgi_head_error(&p), "", "no error after DONE");
    is_int(p.head.n_headers, 1, "Status is not in headers");
    cgi_head_dispose(&p);
    cgi_head_dispose(&p);
    ok(p.head.headers == NULL && p.head.n_headers == 0, "dispose twice is safe");

    cgi_head_init(&p);
    is_int(cgi_head_feed(&p, "A\r\n\r\n", 5, &consumed), CGI_HEAD_ERROR, "reinit, then error");
    ok(p.head.headers == NULL && p.head.n_headers == 0 && p.head.status == 0,
       "head is empty after an error");
    cgi_head_dispose(&p);

    {
        struct cgi_head h = {0};
        is_int(cgi_head_effective_status(&h), 200, "empty head: 200");
        ok(!cgi_head_is_local_redirect(&h), "empty head: not a local redirect");
        h.location = "";
        ok(!cgi_head_is_local_redirect(&h), "empty Location: not a local redirect");
    }
}

/* Heads of up to CGI_HEAD_INLINE lines keep their header table in the parser (no allocation
 * per response); longer ones allocate it. Both read the same, and both dispose cleanly, also
 * after an error found past the table's setup. */
static const char *nm(int lines, const char *what)
{
    static char name[80];
    snprintf(name, sizeof name, "%d lines: %s", lines, what);
    return name;
}

static void test_inline_table(void)
{
    for (int lines = CGI_HEAD_INLINE - 1; lines <= CGI_HEAD_INLINE + 2; lines++) {
        struct cgi_head_parser p;
        struct buf in, want;
        size_t consumed = 0;

        buf_init(&in, 0);
        buf_init(&want, 0);
        for (int i = 1; i < lines; i++) { /* lines - 1 headers + the blank line */
            buf_printf(&in, "X-H%d: v%d\r\n", i, i);
            buf_printf(&want, "[X-H%d|v%d]", i, i);
        }
        buf_puts(&in, "\r\nbody");
        cgi_head_init(&p);
        is_int(cgi_head_feed(&p, in.data, in.len, &consumed), CGI_HEAD_DONE, nm(lines, "done"));
        is_int((int)p.head.n_headers, lines - 1, nm(lines, "every header"));
        struct buf got;
        buf_init(&got, 0);
        for (size_t i = 0; i < p.head.n_headers; i++)
            buf_printf(&got, "[%s|%s]", p.head.headers[i].name, p.head.headers[i].value);
        is_str(got.data ? got.data : "", want.data ? want.data : "", nm(lines, "in order"));
        ok((p.head.headers == p.head_inline) == (lines <= CGI_HEAD_INLINE),
           nm(lines, lines <= CGI_HEAD_INLINE ? "table inline" : "table allocated"));
        cgi_head_dispose(&p);
        ok(p.head.headers == NULL, nm(lines, "disposed"));

        /* the same head with a bad last line: the table is dropped with the error */
        buf_reset(&in);
        for (int i = 1; i < lines - 1; i++)
            buf_printf(&in, "X-H%d: v%d\r\n", i, i);
        buf_puts(&in, "Bad line\r\n\r\n");
        cgi_head_init(&p);
        is_int(cgi_head_feed(&p, in.data, in.len, &consumed), CGI_HEAD_ERROR,
               nm(lines, "last one bad: error"));
        ok(p.head.headers == NULL && p.head.n_headers == 0, nm(lines, "error: head empty"));
        cgi_head_dispose(&p);
        buf_dispose(&got);
        buf_dispose(&in);
        buf_dispose(&want);
    }
}

int main(void)
{
    test_php_heads();
    test_newlines();
    test_values();
    test_location();
    test_status();
    test_content_length();
    test_errors();
    test_limits();
    test_api();
    test_inline_table();
    return done_testing();
}
