/*
 * http_head: every rule of docs/http-validation.md, each through the same in-place split that
 * libmicrohttpd does (mhd_sim.h), so the layout evidence is exercised as in production.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "mhd_sim.h"
#include "tap.h"

/* Check raw (n bytes) as wharf would see it from MHD. -1: MHD rejects it itself. */
static int check_n(const char *raw, size_t n, const char **why)
{
    char *buf = malloc(n + 1);
    struct mhd_sim s;
    int st;

    memcpy(buf, raw, n);
    buf[n] = '\0';
    st = mhd_sim_split(buf, n, &s) == 0 ? (int)http_head_check(&s.h, why) : -1;
    mhd_sim_free(&s);
    free(buf);
    return st;
}

#define CHECK_HEAD(lit, why) check_n(lit, sizeof lit - 1, why)

static void expect(const char *raw, size_t n, int want, const char *name)
{
    const char *why = NULL;
    int got = check_n(raw, n, &why);
    char label[256];
    snprintf(label, sizeof label, "%s -> %d", name, want);
    is_int(got, want, label);
    if (got != want && why)
        printf("#   why: %s\n", why);
}

#define EXPECT(lit, want, name) expect(lit, sizeof lit - 1, want, name)

/* The same head without the layout evidence: what the parsed strings alone would allow. */
static int strings_only(const char *raw, size_t n)
{
    char *buf = malloc(n + 1);
    struct mhd_sim s;
    const char *why;
    int st = -1;

    memcpy(buf, raw, n);
    if (mhd_sim_split(buf, n, &s) == 0) {
        s.h.raw = NULL;
        s.h.target_at = NULL;
        st = (int)http_head_check(&s.h, &why);
    }
    mhd_sim_free(&s);
    free(buf);
    return st;
}

#define H "Host: a.example\r\n"

int main(void)
{
    const char *why = NULL;

    /* valid heads */
    EXPECT("GET / HTTP/1.1\r\n" H "\r\n", 0, "plain GET");
    EXPECT("GET / HTTP/1.0\r\n\r\n", 0, "HTTP/1.0 needs no Host");
    EXPECT("GET / HTTP/1.1\nHost: a\n\n", 0, "bare LF line ends (RFC 9112 2.2 MAY)");
    EXPECT("GET / HTTP/1.1\r\nHost: a\n\r\n", 0, "mixed line ends");
    EXPECT("\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, "an empty line before the request line");
    EXPECT("POST /x.php HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\n", 0, "Content-Length");
    EXPECT("POST /x.php HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n", 0, "chunked");
    EXPECT("POST /x.php HTTP/1.1\r\n" H "Transfer-Encoding: Chunked\r\n\r\n", 0,
           "coding names are case-insensitive");
    EXPECT("GET http://a.example/x?y HTTP/1.1\r\n" H "\r\n", 0, "absolute-form");
    EXPECT("OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, "asterisk-form");
    EXPECT("GET / HTTP/1.1\r\nHost: a.example\t \r\nX: a \r\n\r\n", 0, "trailing OWS");
    EXPECT("GET / HTTP/1.1\r\nHost:a.example\r\nX:\r\n\r\n", 0, "no OWS, empty value");
    EXPECT("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, "IPv6 literal Host with port");
    EXPECT("GET / HTTP/1.1\r\nHost: \r\n\r\n", 400, "empty Host (as nginx)");
    EXPECT("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:80\r\n\r\n", 0, "punycode Host");
    EXPECT("GET / HTTP/1.1\r\n" H "Cookie: a=b; c=d\r\nX: \x01\x7f\xff\r\n\r\n", 0,
           "controls other than CR/LF/NUL and obs-text in values (as nginx)");
    EXPECT("M-SEARCH * HTTP/1.1\r\n" H "\r\n", 0, "a method that is a token");

    /* smuggling and framing */
    EXPECT("POST /x.php HTTP/1.1\r\n" H "Content-Length: 49\r\nTransfer-Encoding: chunked\r\n\r\n",
           400, "Content-Length and Transfer-Encoding");
    EXPECT("POST /x.php HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
           400, "Transfer-Encoding and Content-Length, other order");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
           "two different Content-Lengths");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400,
           "two equal Content-Lengths (nginx: duplicate)");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length : 44\r\n\r\n", 400,
           "whitespace before the colon");
    CHECK_HEAD("POST / HTTP/1.1\r\n" H "Content-Length : 44\r\n\r\n", &why);
    ok(why && strstr(why, "colon"), "... and the reason says so");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length\t: 44\r\n\r\n", 400, "tab before the colon");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length:\r\n 44\r\n\r\n", 400, "obs-fold");
    CHECK_HEAD("POST / HTTP/1.1\r\n" H "Content-Length:\r\n 44\r\n\r\n", &why);
    ok(why && strstr(why, "folding"), "... and the reason says so");
    EXPECT("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n" H "\r\n", 400, "obs-fold with a tab");
    EXPECT("GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n c\r\n\r\n", 400, "obs-fold over three lines");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n\r\n", 501, "identity");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501,
           "gzip, chunked");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n", 501, "gzip alone");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked \r\n\r\n", 501,
           "chunked with trailing whitespace (MHD would not frame it)");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n", 400,
           "chunked twice");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
           "\r\n",
           400, "two Transfer-Encoding fields");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: \r\n\r\n", 400, "empty Transfer-Encoding");
    EXPECT("POST / HTTP/1.1\r\n" H "Transfer-Encoding: ch@nked\r\n\r\n", 400,
           "Transfer-Encoding not a token");
    EXPECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
           "Transfer-Encoding in HTTP/1.0");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length: gzip\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
           "a 400 beats a 501");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", 400, "Content-Length +5");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", 400, "Content-Length list");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length: \r\n\r\n", 400, "empty Content-Length");
    EXPECT("POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", 400, "hex Content-Length");

    /* NUL, CR and field names */
    EXPECT("GET / HTTP/1.1\r\nHost: good.example\0.evil\r\n\r\n", 400, "NUL inside a Host value");
    static const char nul_host[] = "GET / HTTP/1.1\r\nHost: good.example\0.evil\r\n\r\n";
    ok(strings_only(nul_host, sizeof nul_host - 1) == 0,
       "... which only the layout evidence reveals");
    EXPECT("GET / HTTP/1.1\r\nX: a\0\r\n" H "\r\n", 400, "NUL then CRLF");
    EXPECT("GET / HTTP/1.1\r\nX: a\0\0\r\n" H "\r\n", 400, "two NULs then CRLF");
    EXPECT("GET / HTTP/1.1\r\n" H "X: a\0\r\n\r\n", 400, "NUL in the last field");
    EXPECT("GET /a\0.php HTTP/1.1\r\n" H "\r\n", 400, "NUL in the target");
    EXPECT("GET / HTTP/1.1\r\nX: a\rb\r\n" H "\r\n", 400, "bare CR in a value");
    EXPECT("GET / HTTP/1.1\r\nX\rY: a\r\n" H "\r\n", 400, "bare CR in a name");
    EXPECT("GET / HTTP/1.1\r\n" H "X: a\r\r\n\r\n", 400, "CR CR LF");
    EXPECT("GET / HTTP/1.1\r\n" H ": empty\r\n\r\n", 400, "empty field name");
    EXPECT("GET / HTTP/1.1\r\n" H "X\x01Y: a\r\n\r\n", 400, "control byte in a name");
    EXPECT("GET / HTTP/1.1\r\n" H "X(Y): a\r\n\r\n", 400, "separator in a name");
    EXPECT("GET / HTTP/1.1\r\n" H "\xc3\xa9: a\r\n\r\n", 400, "non-ASCII name");
    EXPECT("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "first field line starts with a space");

    /* Host */
    EXPECT("GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host");
    EXPECT("GET http://a.example/ HTTP/1.1\r\n\r\n", 400, "absolute-form still needs Host");
    EXPECT("GET / HTTP/1.1\r\n" H H "\r\n", 400, "two Host fields");
    EXPECT("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, "two Host fields in HTTP/1.0");
    EXPECT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "slash in Host");
    EXPECT("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "space in Host");
    EXPECT("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, "bad port");
    EXPECT("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, "userinfo in Host");
    EXPECT("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "unterminated IP literal");
    EXPECT("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400, "bad percent-encoding in Host");
    /* Expect (RFC 9110 10.1.1): 100-continue only */
    EXPECT("POST / HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n", 0,
           "Expect: 100-continue");
    EXPECT("POST / HTTP/1.1\r\n" H "Expect: 100-Continue , \r\n\r\n", 0, "any case, empty member");
    EXPECT("GET / HTTP/1.1\r\n" H "Expect: \r\n\r\n", 0, "an empty Expect asks nothing");
    EXPECT("GET / HTTP/1.1\r\n" H "Expect: something\r\n\r\n", 417, "an unknown expectation");
    EXPECT("GET / HTTP/1.1\r\n" H "Expect: 100-continue, x=1\r\n\r\n", 417,
           "100-continue and more");
    EXPECT("GET / HTTP/1.1\r\n" H "Expect: 100-continue\r\nExpect: 101\r\n\r\n", 417,
           "a second Expect field");
    EXPECT("GET / HTTP/1.1\r\nExpect: x\r\n\r\n", 400, "a 400 comes before the 417");
    /* absolute-form: the target's authority picks the site (RFC 9112 3.2.2), so it is a Host */
    EXPECT("GET http://b.example:8080/x?q HTTP/1.1\r\n" H "\r\n", 0, "absolute-form");
    EXPECT("GET HTTPS://[::1]:443 HTTP/1.1\r\n" H "\r\n", 0, "absolute-form, IP literal, no path");
    EXPECT("GET http://b:8x/ HTTP/1.1\r\n" H "\r\n", 400, "absolute-form with a bad port");
    EXPECT("GET http://b\\c/ HTTP/1.1\r\n" H "\r\n", 400, "absolute-form with a backslash");
    EXPECT("GET http://a%zz/ HTTP/1.1\r\n" H "\r\n", 400, "absolute-form, bad percent");
    EXPECT("GET http://u@b/ HTTP/1.1\r\n" H "\r\n", 400, "absolute-form with userinfo");
    EXPECT("GET http:///x HTTP/1.1\r\n" H "\r\n", 400, "absolute-form without a host");
    EXPECT("GET http://?x HTTP/1.1\r\n" H "\r\n", 400, "absolute-form, empty host, query");
    {
        char req[600];
        snprintf(req, sizeof req, "GET http://%0260d/ HTTP/1.1\r\n" H "\r\n", 0);
        expect(req, strlen(req), 400, "absolute-form host longer than HTTP_HEAD_AUTHORITY_MAX");
        snprintf(req, sizeof req, "GET http://%0253d:65535/ HTTP/1.1\r\n" H "\r\n", 0);
        expect(req, strlen(req), 0, "absolute-form, a 253-byte name and a port");
    }
    EXPECT("GET ftp://a/x HTTP/1.1\r\n" H "\r\n", 0, "other schemes are the router's (400 there)");

    /* request line */
    EXPECT("G@T / HTTP/1.1\r\n" H "\r\n", 400, "method G@T is not a token");
    EXPECT("GET  / HTTP/1.1\r\n" H "\r\n", 400, "two spaces after the method");
    EXPECT("GET /  HTTP/1.1\r\n" H "\r\n", 400, "two spaces before the version");
    EXPECT("GET /a b HTTP/1.1\r\n" H "\r\n", 400, "space in the target");
    EXPECT("GET /a\tb HTTP/1.1\r\n" H "\r\n", 400, "tab in the target");
    EXPECT("GET /a\x7f HTTP/1.1\r\n" H "\r\n", 400, "DEL in the target");
    EXPECT("GET\t/ HTTP/1.1\r\n" H "\r\n", -1, "tab as separator: MHD finds no space (its own)");

    /* evidence with the original separators (a parser that does not overwrite them) */
    {
        static const char raw[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        struct http_head_field f = {raw + 16, 4, raw + 22, 1};
        struct http_head h = {.method = raw,
                              .method_len = 3,
                              .target = raw + 4,
                              .target_len = 1,
                              .version = raw + 6,
                              .version_len = 8,
                              .fields = &f,
                              .n_fields = 1,
                              .raw = raw,
                              .raw_len = sizeof raw - 1,
                              .target_at = raw + 4};
        is_int(http_head_check(&h, &why), 0, "original separators are accepted");
        h.raw_len--;
        is_int(http_head_check(&h, &why), 400, "a head missing its last LF is not");
        h.raw_len++;
        char moved[] = "Host";
        f.name = moved;
        is_int(http_head_check(&h, &why), 400, "a name outside the buffer is folding evidence");
        f.name = raw + 16;
        f.value = raw + 16;
        is_int(http_head_check(&h, &why), 400, "a value before its name is refused");
    }

    /* Host syntax directly */
    ok(http_head_host_ok("example.com", 11), "host: name");
    ok(http_head_host_ok("example.com:", 12), "host: empty port");
    ok(http_head_host_ok("[v1.x]", 6), "host: IPvFuture");
    ok(!http_head_host_ok("[]", 2), "host: empty brackets");
    ok(!http_head_host_ok("[::1]x", 6), "host: junk after the literal");
    ok(!http_head_host_ok("a%4", 3), "host: short percent-encoding");
    return done_testing();
}
