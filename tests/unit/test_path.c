#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "tap.h"

/* sizeof keeps embedded NULs in the raw input */
#define N(raw, st, want)                                                                           \
    {                                                                                              \
        raw, sizeof(raw) - 1, st, want                                                             \
    }

static const struct {
    const char *raw;
    size_t raw_len;
    enum path_status st;
    const char *want; /* "" for errors: out is emptied */
} norm_cases[] = {
    /* plain paths, slashes and dot segments */
    N("/", PATH_OK, "/"),
    N("/index.html", PATH_OK, "/index.html"),
    N("/a/b/c", PATH_OK, "/a/b/c"),
    N("/a/b/", PATH_OK, "/a/b/"),
    N("////a", PATH_OK, "/a"),
    N("/a//b///c//", PATH_OK, "/a/b/c/"),
    N("/a/./b/../c/", PATH_OK, "/a/c/"),
    N("/a/b/..", PATH_OK, "/a/"),
    N("/a/b/.", PATH_OK, "/a/b/"),
    N("/a/b/../", PATH_OK, "/a/"),
    N("/a/./", PATH_OK, "/a/"),
    N("/.", PATH_OK, "/"),
    N("/..", PATH_OK, "/"),
    N("/../", PATH_OK, "/"),
    N("/../../etc/passwd", PATH_OK, "/etc/passwd"),
    N("/a/../../../b", PATH_OK, "/b"),
    N("/a/b/../../..", PATH_OK, "/"),
    N("/./././", PATH_OK, "/"),
    N("/...", PATH_OK, "/..."),
    N("/....//", PATH_OK, "/..../"),
    N("/.a/..b/c..", PATH_OK, "/.a/..b/c.."),
    N("/..;/x", PATH_OK, "/..;/x"),
    N("/a/..;/..;/", PATH_OK, "/a/..;/..;/"),
    N("//h/a", PATH_OK, "/h/a"),
    /* percent-decoding, decoded exactly once */
    N("/%41%62c", PATH_OK, "/Abc"),
    N("/a%20b", PATH_OK, "/a b"),
    N("/%25", PATH_OK, "/%"),
    N("/a%3fb%23c", PATH_OK, "/a?b#c"),
    N("/%252e%252e/x", PATH_OK, "/%2e%2e/x"),
    N("/%252e%252e%252fetc", PATH_OK, "/%2e%2e%2fetc"),
    N("/%25%32%65", PATH_OK, "/%2e"),
    /* encoded dots and slashes cannot escape */
    N("/%2e", PATH_OK, "/"),
    N("/%2e%2e", PATH_OK, "/"),
    N("/%2e%2e/etc/passwd", PATH_OK, "/etc/passwd"),
    N("/%2E%2E/%2e%2E/x", PATH_OK, "/x"),
    N("/a/.%2e/b", PATH_OK, "/b"),
    N("/a/%2e./b", PATH_OK, "/b"),
    N("/a/%2e/b", PATH_OK, "/a/b"),
    N("/a/%2e%2e", PATH_OK, "/"),
    N("/a/..%2fb", PATH_OK, "/b"),
    N("/a/..%2Fb", PATH_OK, "/b"),
    N("/a/%2f..", PATH_OK, "/"),
    N("/a/%2F../b", PATH_OK, "/b"),
    N("/a%2f..%2f..%2fetc", PATH_OK, "/etc"),
    N("/%2e%2e%2f%2e%2e%2fetc%2fpasswd", PATH_OK, "/etc/passwd"),
    N("/a/b/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/shadow", PATH_OK, "/etc/shadow"),
    N("/a/.%2E/.%2e/..%2F../etc", PATH_OK, "/etc"),
    N("/a/%2e%2e%2f", PATH_OK, "/"),
    N("/%2f%2f%2fa", PATH_OK, "/a"),
    N("/a/b%2f", PATH_OK, "/a/b/"),
    N("/.%2e./x", PATH_OK, "/.../x"),
    N("/%2e%2e%2e", PATH_OK, "/..."),
    /* backslash is an ordinary byte, raw or encoded */
    N("/..\\..\\etc", PATH_OK, "/..\\..\\etc"),
    N("/..%5c..%5cetc", PATH_OK, "/..\\..\\etc"),
    N("/..%5C..%5Cetc", PATH_OK, "/..\\..\\etc"),
    N("/a\\b", PATH_OK, "/a\\b"),
    N("/a/..\\", PATH_OK, "/a/..\\"),
    /* UTF-8: valid passes through, anything invalid or overlong is refused */
    N("/%c3%a9t%C3%A9", PATH_OK, "/\xc3\xa9t\xc3\xa9"),
    N("/\xc3\xa9", PATH_OK, "/\xc3\xa9"),
    N("/%e2%82%ac", PATH_OK, "/\xe2\x82\xac"),
    N("/%f0%9f%98%80", PATH_OK, "/\xf0\x9f\x98\x80"),
    N("/%f4%8f%bf%bf", PATH_OK, "/\xf4\x8f\xbf\xbf"),
    N("/%ef%bf%bd", PATH_OK, "/\xef\xbf\xbd"),
    N("/%c0%ae%c0%ae/etc", PATH_BAD_REQUEST, ""),
    N("/%c0%af", PATH_BAD_REQUEST, ""),
    N("/%c1%81", PATH_BAD_REQUEST, ""),
    N("/%e0%80%ae", PATH_BAD_REQUEST, ""),
    N("/%e0%9f%bf", PATH_BAD_REQUEST, ""),
    N("/%f0%80%80%ae", PATH_BAD_REQUEST, ""),
    N("/%f0%8f%bf%bf", PATH_BAD_REQUEST, ""),
    N("/%ed%a0%80", PATH_BAD_REQUEST, ""),
    N("/%ed%bf%bf", PATH_BAD_REQUEST, ""),
    N("/%f4%90%80%80", PATH_BAD_REQUEST, ""),
    N("/%f5%80%80%80", PATH_BAD_REQUEST, ""),
    N("/%ff", PATH_BAD_REQUEST, ""),
    N("/%fe", PATH_BAD_REQUEST, ""),
    N("/%80", PATH_BAD_REQUEST, ""),
    N("/%c3", PATH_BAD_REQUEST, ""),
    N("/%c3/a", PATH_BAD_REQUEST, ""),
    N("/%e2%82", PATH_BAD_REQUEST, ""),
    N("/%c3%c3%a9", PATH_BAD_REQUEST, ""),
    N("/\xc0\xae\xc0\xae/", PATH_BAD_REQUEST, ""),
    N("/\xe0\x80\xae", PATH_BAD_REQUEST, ""),
    /* malformed escapes */
    N("/%zz", PATH_BAD_REQUEST, ""),
    N("/%4", PATH_BAD_REQUEST, ""),
    N("/%", PATH_BAD_REQUEST, ""),
    N("/a%", PATH_BAD_REQUEST, ""),
    N("/%g0", PATH_BAD_REQUEST, ""),
    N("/%0g", PATH_BAD_REQUEST, ""),
    N("/%%41", PATH_BAD_REQUEST, ""),
    N("/%u002e%u002e/x", PATH_BAD_REQUEST, ""),
    N("/% 41", PATH_BAD_REQUEST, ""),
    /* NUL and control bytes, raw or encoded */
    N("/a\0b", PATH_BAD_REQUEST, ""),
    N("/\0", PATH_BAD_REQUEST, ""),
    N("/a%00b", PATH_BAD_REQUEST, ""),
    N("/%00", PATH_BAD_REQUEST, ""),
    N("/x/..%00/", PATH_BAD_REQUEST, ""),
    N("/index.php%00.jpg", PATH_BAD_REQUEST, ""),
    N("/a%0a", PATH_BAD_REQUEST, ""),
    N("/a%0d%0aSet-Cookie:x", PATH_BAD_REQUEST, ""),
    N("/a\tb", PATH_BAD_REQUEST, ""),
    N("/a\nb", PATH_BAD_REQUEST, ""),
    N("/%1f", PATH_BAD_REQUEST, ""),
    N("/%7f", PATH_BAD_REQUEST, ""),
    N("/\x7f", PATH_BAD_REQUEST, ""),
    N("/%20", PATH_OK, "/ "),
    N("/~%7e", PATH_OK, "/~~"),
    /* not an origin-form path */
    N("", PATH_BAD_REQUEST, ""),
    N("a/b", PATH_BAD_REQUEST, ""),
    N("%2fa", PATH_BAD_REQUEST, ""),
    N(".", PATH_BAD_REQUEST, ""),
    N("..", PATH_BAD_REQUEST, ""),
    N("../etc", PATH_BAD_REQUEST, ""),
    N("\\..\\x", PATH_BAD_REQUEST, ""),
    N("*", PATH_BAD_REQUEST, ""),
};

static void test_norm_table(void)
{
    char out[128], name[256];
    size_t len;

    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        const char *raw = norm_cases[i].raw;
        size_t raw_len = norm_cases[i].raw_len;

        /* poison, so an error that leaves stale bytes behind shows up */
        memset(out, 'X', sizeof out);
        len = 12345;
        snprintf(name, sizeof name, "normalize #%zu status", i);
        is_int(path_normalize(raw, raw_len, out, sizeof out, &len), norm_cases[i].st, name);
        snprintf(name, sizeof name, "normalize #%zu output", i);
        is_str(out, norm_cases[i].want, name);
        snprintf(name, sizeof name, "normalize #%zu length", i);
        is_int(len, strlen(norm_cases[i].want), name);
    }
    is_int(path_normalize(NULL, 0, out, sizeof out, &len), PATH_BAD_REQUEST, "NULL raw");
}

static void test_norm_cap(void)
{
    char out[16];
    size_t len;

    memset(out, 'X', sizeof out);
    is_int(path_normalize("/abc", 4, out, 5, &len), PATH_OK, "exact fit");
    is_str(out, "/abc", "exact fit output");
    is_int(len, 4, "exact fit length");
    memset(out, 'X', sizeof out);
    is_int(path_normalize("/abc", 4, out, 4, &len), PATH_TOO_LONG, "one byte short");
    is_str(out, "", "too long empties out");
    is_int(len, 0, "too long length 0");
    ok(out[4] == 'X' && out[15] == 'X', "too long writes nothing past out_cap");
    is_int(path_normalize("/abc/", 5, out, 6, &len), PATH_OK, "trailing slash fits");
    is_str(out, "/abc/", "trailing slash output");
    is_int(path_normalize("/abc/", 5, out, 5, &len), PATH_TOO_LONG, "trailing slash needs a byte");
    is_int(path_normalize("/abc/.", 6, out, 5, &len), PATH_TOO_LONG, "trailing dot needs slash");
    is_int(path_normalize("/abc/..", 7, out, 2, &len), PATH_OK, "popped spill fits");
    is_str(out, "/", "popped spill output");
    is_int(path_normalize("/a/bbbbbbbbbb/../c", 18, out, 5, &len), PATH_OK,
           "long intermediate segment popped");
    is_str(out, "/a/c", "long intermediate output");
    is_int(path_normalize("/a/bbbbbbbbbb/x/../../c/", 24, out, 6, &len), PATH_OK,
           "two spilled segments popped");
    is_str(out, "/a/c/", "two spilled segments output");
    is_int(path_normalize("/a/bbbbbbbbbb/x/../c", 20, out, 6, &len), PATH_TOO_LONG,
           "one spilled segment left");
    is_int(path_normalize("/%41%42%43", 10, out, 5, &len), PATH_OK, "cap counts decoded bytes");
    is_str(out, "/ABC", "decoded fit output");
    is_int(path_normalize("/", 1, out, 2, &len), PATH_OK, "root in two bytes");
    is_str(out, "/", "root output");
    out[0] = 'X';
    is_int(path_normalize("/", 1, out, 1, &len), PATH_TOO_LONG, "root in one byte");
    is_int(out[0], '\0', "one-byte out emptied");
    is_int(path_normalize("/", 1, NULL, 0, &len), PATH_TOO_LONG, "zero cap");
    is_int(path_normalize("/%zz", 4, NULL, 0, &len), PATH_BAD_REQUEST, "bad beats zero cap");
    is_int(path_normalize("/aaaaaa/%00", 11, out, 3, &len), PATH_BAD_REQUEST, "bad beats too long");
    is_int(path_normalize("/aaaaaa/%c3", 11, out, 3, &len), PATH_BAD_REQUEST,
           "truncated UTF-8 beats too long");
}

static void test_split(void)
{
    struct path_target t;
    const char *raw;

#define SPLIT(s) path_split_target((raw = (s)), strlen(s), &t)
    is_int(SPLIT("/a/b?x=1"), PATH_OK, "origin-form with query");
    is_mem(t.path, t.path_len, "/a/b", 4, "origin path");
    ok(t.path == raw, "path points into the input");
    is_mem(t.query, t.query_len, "x=1", 3, "origin query");
    ok(t.authority == NULL && t.authority_len == 0, "origin-form has no authority");

    is_int(SPLIT("/a"), PATH_OK, "no query");
    ok(t.query == NULL && t.query_len == 0, "absent query is NULL");
    is_int(SPLIT("/a?"), PATH_OK, "empty query");
    ok(t.query != NULL && t.query_len == 0, "empty query is non-NULL, length 0");
    is_int(SPLIT("/a#frag"), PATH_OK, "fragment");
    is_mem(t.path, t.path_len, "/a", 2, "fragment dropped from path");
    ok(t.query == NULL, "fragment is not a query");
    is_int(SPLIT("/a?x#f?g"), PATH_OK, "query and fragment");
    is_mem(t.query, t.query_len, "x", 1, "fragment dropped from query");
    is_int(SPLIT("/a?x?y"), PATH_OK, "second '?'");
    is_mem(t.query, t.query_len, "x?y", 3, "query keeps later '?'");
    is_int(SPLIT("//h/a"), PATH_OK, "double slash is origin-form");
    is_mem(t.path, t.path_len, "//h/a", 5, "double slash path");
    ok(t.authority == NULL, "double slash has no authority");
    is_int(path_split_target("/a\0b?c", 6, &t), PATH_OK, "split does not judge bytes");
    is_mem(t.path, t.path_len, "/a\0b", 4, "NUL left for normalize");

    is_int(SPLIT("http://example.com/a/b?q"), PATH_OK, "absolute-form");
    is_mem(t.authority, t.authority_len, "example.com", 11, "absolute authority");
    is_mem(t.path, t.path_len, "/a/b", 4, "absolute path");
    is_mem(t.query, t.query_len, "q", 1, "absolute query");
    is_int(SPLIT("HTTPS://Example.com:8443/x"), PATH_OK, "https, upper-case scheme");
    is_mem(t.authority, t.authority_len, "Example.com:8443", 16, "authority with port");
    is_mem(t.path, t.path_len, "/x", 2, "https path");
    is_int(SPLIT("HtTp://h"), PATH_OK, "empty path");
    is_mem(t.path, t.path_len, "/", 1, "empty path means /");
    is_mem(t.authority, t.authority_len, "h", 1, "authority to the end");
    ok(t.query == NULL, "empty path, no query");
    is_int(SPLIT("http://h?q=1"), PATH_OK, "empty path with query");
    is_mem(t.path, t.path_len, "/", 1, "empty path with query means /");
    is_mem(t.authority, t.authority_len, "h", 1, "authority ends at '?'");
    is_mem(t.query, t.query_len, "q=1", 3, "query after authority");
    is_int(SPLIT("http://h:80#x/y"), PATH_OK, "fragment after authority");
    is_mem(t.authority, t.authority_len, "h:80", 4, "authority ends at '#'");
    is_mem(t.path, t.path_len, "/", 1, "fragment-only path means /");
    is_int(SPLIT("http://[::1]:8080/a"), PATH_OK, "IPv6 authority");
    is_mem(t.authority, t.authority_len, "[::1]:8080", 10, "IPv6 authority text");

    is_int(SPLIT(""), PATH_BAD_REQUEST, "empty target");
    ok(t.path == NULL && t.query == NULL && t.authority == NULL, "failure zeroes *t");
    is_int(SPLIT("*"), PATH_BAD_REQUEST, "asterisk-form");
    is_int(SPLIT("a/b"), PATH_BAD_REQUEST, "relative");
    is_int(SPLIT("../a"), PATH_BAD_REQUEST, "relative dot-dot");
    is_int(SPLIT("#x"), PATH_BAD_REQUEST, "fragment only");
    is_int(SPLIT("?x"), PATH_BAD_REQUEST, "query only");
    is_int(SPLIT("http:///a"), PATH_BAD_REQUEST, "empty authority");
    is_int(SPLIT("http://"), PATH_BAD_REQUEST, "scheme only");
    is_int(SPLIT("http://?x"), PATH_BAD_REQUEST, "empty authority before query");
    is_int(SPLIT("http://user:pw@h/a"), PATH_BAD_REQUEST, "userinfo");
    is_int(SPLIT("http:/a"), PATH_BAD_REQUEST, "one slash after scheme");
    is_int(SPLIT("http:"), PATH_BAD_REQUEST, "truncated scheme");
    is_int(SPLIT("ftp://h/a"), PATH_BAD_REQUEST, "other scheme");
    is_int(SPLIT("httpx://h/a"), PATH_BAD_REQUEST, "scheme prefix only");
    is_int(SPLIT("example.com:80"), PATH_BAD_REQUEST, "authority-form");
    is_int(path_split_target(NULL, 0, &t), PATH_BAD_REQUEST, "NULL target");
#undef SPLIT
}

static void test_hidden_and_extension(void)
{
    const char *s;

    ok(!path_has_hidden_segment("/"), "root not hidden");
    ok(!path_has_hidden_segment("/a/b.c"), "plain not hidden");
    ok(!path_has_hidden_segment("/a./b"), "trailing dot not hidden");
    ok(path_has_hidden_segment("/.git/config"), ".git hidden");
    ok(path_has_hidden_segment("/a/.env"), ".env hidden");
    ok(path_has_hidden_segment("/a/.htaccess/"), "hidden directory");
    ok(path_has_hidden_segment("/..\\..\\etc"), "backslash traversal caught");
    ok(path_has_hidden_segment("/.../x"), "three dots hidden");
    ok(path_has_hidden_segment(".x"), "leading segment without slash");
    ok(!path_has_hidden_segment(NULL), "NULL not hidden");

    is_str(path_extension("/index.html"), ".html", "simple extension");
    is_str(path_extension("/x.tar.gz"), ".gz", "last extension only");
    is_str(path_extension("/a/B.HTML"), ".HTML", "case kept");
    is_str(path_extension("/a.b/c"), NULL, "dot in directory only");
    is_str(path_extension("/.hidden"), NULL, "dotfile has no extension");
    is_str(path_extension("/..gz"), NULL, "leading dots skipped");
    is_str(path_extension("/.a.b"), ".b", "dotfile with extension");
    is_str(path_extension("/a."), NULL, "final dot");
    is_str(path_extension("/a..b"), ".b", "double dot inside");
    is_str(path_extension("/a.b/"), NULL, "directory");
    is_str(path_extension("/"), NULL, "root");
    is_str(path_extension("x.c"), ".c", "no slash");
    is_str(path_extension(NULL), NULL, "NULL");
    s = "/d/f.txt";
    ok(path_extension(s) == s + 4, "extension points into the path");
}

/* ---- property check against an independent reference model ------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* Decode by code point, not by lead-byte table, so it does not share the module's logic. */
static bool ref_utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], k;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < k)
            return false;
        for (unsigned j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Whole-string model: decode, validate, split on '/', push and pop a segment stack. */
static enum path_status ref_normalize(const char *raw, size_t raw_len, char *out, size_t *out_len)
{
    unsigned char dec[256];
    size_t n = 0, o = 0, nseg = 0, segs[128], lens[128];
    bool trailing = false;

    if (raw_len == 0 || raw[0] != '/')
        return PATH_BAD_REQUEST;
    for (size_t i = 0; i < raw_len; i++) {
        if (raw[i] == '%') {
            unsigned v;
            char hex[3] = {0};

            if (i + 2 >= raw_len || !strchr("0123456789abcdefABCDEF", raw[i + 1]) ||
                !strchr("0123456789abcdefABCDEF", raw[i + 2]) || !raw[i + 1] || !raw[i + 2])
                return PATH_BAD_REQUEST;
            memcpy(hex, raw + i + 1, 2);
            sscanf(hex, "%x", &v);
            dec[n++] = (unsigned char)v;
            i += 2;
        } else {
            dec[n++] = (unsigned char)raw[i];
        }
    }
    for (size_t i = 0; i < n; i++)
        if (dec[i] < 0x20 || dec[i] == 0x7f)
            return PATH_BAD_REQUEST;
    if (!ref_utf8_ok(dec, n))
        return PATH_BAD_REQUEST;
    for (size_t i = 1; i <= n;) {
        size_t j = i;

        while (j < n && dec[j] != '/')
            j++;
        trailing = false;
        if (j - i == 0 || (j - i == 1 && dec[i] == '.')) {
            trailing = true;
        } else if (j - i == 2 && dec[i] == '.' && dec[i + 1] == '.') {
            trailing = true;
            if (nseg)
                nseg--;
        } else {
            segs[nseg] = i;
            lens[nseg++] = j - i;
        }
        i = j + 1;
    }
    out[o++] = '/';
    for (size_t k = 0; k < nseg; k++) {
        memcpy(out + o, dec + segs[k], lens[k]);
        o += lens[k];
        if (k + 1 < nseg || trailing)
            out[o++] = '/';
    }
    out[o] = '\0';
    *out_len = o;
    return PATH_OK;
}

/* The header's invariants for a PATH_OK result. */
static bool invariants_hold(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/' || strlen(p) != len || strstr(p, "//"))
        return false;
    if (!ref_utf8_ok((const unsigned char *)p, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    for (const char *s = p + 1; *s;) {
        size_t n = strcspn(s, "/");

        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
        if (*s == '/')
            s++;
    }
    return true;
}

static void show(const char *what, const char *raw, size_t len)
{
    printf("#   %s: '", what);
    for (size_t i = 0; i < len; i++)
        printf(raw[i] >= 0x20 && raw[i] < 0x7f ? "%c" : "\\x%02x", (unsigned char)raw[i]);
    printf("'\n");
}

static void test_property(void)
{
    static const char alphabet[] = "/.%2efc5a\\0"; /* sizeof includes a raw NUL */
    /* whole escapes from the same alphabet, so that random strings are often well-formed;
     * "" stands for one random byte of the alphabet */
    static const char *const pieces[] = {
        "",    "",    "",       "",    "/",     "/",      "..",     "%2e", "%2E", "%2f",
        "%2F", "%5c", "%2e%2e", "%25", "%252e", "%c5%a5", "%c0%ae", "%00", "a",   "\\",
    };
    int runs = 5000, n_ok = 0, n_bad = 0, n_long = 0, bad_inv = 0, bad_ref = 0, bad_cap = 0;
    int bad_idem = 0, dotdot = 0;

    for (int r = 0; r < runs; r++) {
        char raw[40], out[64], ref[128], out2[64];
        size_t raw_len = rng() % 32, len = 0, ref_len = 0, len2 = 0;
        enum path_status st, ref_st;

        for (size_t i = 0; i < raw_len;) {
            const char *tok = pieces[rng() % (sizeof pieces / sizeof pieces[0])];
            size_t n = strlen(tok);

            if (!*tok || i + n > raw_len) {
                raw[i++] = alphabet[rng() % sizeof alphabet];
            } else {
                memcpy(raw + i, tok, n);
                i += n;
            }
        }
        if (raw_len && rng() % 10)
            raw[0] = '/';
        st = path_normalize(raw, raw_len, out, sizeof out, &len);
        ref_st = ref_normalize(raw, raw_len, ref, &ref_len);
        if (st != ref_st || (st == PATH_OK && (len != ref_len || memcmp(out, ref, len)))) {
            if (!bad_ref++) {
                show("model mismatch on", raw, raw_len);
                printf("#   got %d '%s', model %d '%s'\n", st, out, ref_st, ref);
            }
        }
        if (st != PATH_OK) {
            n_bad += st == PATH_BAD_REQUEST;
            n_long += st == PATH_TOO_LONG;
            if (len != 0 || out[0] != '\0')
                bad_inv++;
            continue;
        }
        n_ok++;
        for (size_t i = 0; i + 1 < raw_len; i++) {
            if (raw[i] == '.' && raw[i + 1] == '.') {
                dotdot++;
                break;
            }
        }
        if (!invariants_hold(out, len) && !bad_inv++)
            show("invariant broken by", raw, raw_len);
        /* the result needs exactly len + 1 bytes, however long the way there was */
        if (path_normalize(raw, raw_len, out2, len + 1, &len2) != PATH_OK || len2 != len ||
            memcmp(out2, out, len) ||
            path_normalize(raw, raw_len, out2, len, &len2) != PATH_TOO_LONG) {
            if (!bad_cap++)
                show("cap not exact for", raw, raw_len);
        }
        /* without '%' left there is nothing to decode again, so it must be a fixed point */
        if (!memchr(out, '%', len) &&
            (path_normalize(out, len, out2, sizeof out2, &len2) != PATH_OK || len2 != len ||
             memcmp(out2, out, len))) {
            if (!bad_idem++)
                show("not idempotent for", raw, raw_len);
        }
    }
    printf("# %d ok, %d bad request, %d with \"..\"\n", n_ok, n_bad, dotdot);
    is_int(bad_inv, 0, "property: every result is an error or meets the invariants");
    is_int(bad_ref, 0, "property: agrees with the reference model");
    is_int(bad_cap, 0, "property: out_cap of len + 1 fits and len does not");
    is_int(bad_idem, 0, "property: a result without '%' is a fixed point");
    is_int(n_long, 0, "property: nothing from 31 raw bytes is too long for 64");
    ok(n_ok > runs / 5 && n_bad > runs / 5, "property: the generator hits both outcomes");
    ok(dotdot > 100, "property: many accepted inputs contained \"..\"");
}

int main(void)
{
    test_norm_table();
    test_norm_cap();
    test_split();
    test_hidden_and_extension();
    test_property();
    /* path_has_prefix: whole segments only, a trailing slash on the prefix is ignored */
    ok(path_has_prefix("/app", "/app"), "prefix: the prefix itself");
    ok(path_has_prefix("/app/x/y", "/app"), "prefix: a path below it");
    ok(path_has_prefix("/app/", "/app/"), "prefix: trailing slash on both");
    ok(path_has_prefix("/app/x", "/app/"), "prefix: trailing slash on the prefix is ignored");
    ok(!path_has_prefix("/apple", "/app"), "prefix: not a partial segment");
    ok(!path_has_prefix("/ap", "/app"), "prefix: not a shorter path");
    ok(path_has_prefix("/anything", "/"), "prefix: \"/\" covers everything");
    ok(!path_has_prefix("/static2/x", "/static"), "prefix: /static does not cover /static2");
    return done_testing();
}
