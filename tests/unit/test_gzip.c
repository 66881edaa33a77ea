#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "coding.h"
#include "gzip.h"
#include "tap.h"

/* Inflate a gzip member with zlib; -1 on any error or trailing garbage. */
static int gunzip(const char *in, size_t len, struct buf *out)
{
    z_stream zs;
    unsigned char chunk[4096];
    int zrc;

    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        zrc = inflate(&zs, Z_NO_FLUSH);
        if (zrc != Z_OK && zrc != Z_STREAM_END)
            break;
        buf_append(out, chunk, sizeof chunk - zs.avail_out);
    } while (zrc != Z_STREAM_END);
    inflateEnd(&zs);
    return zrc == Z_STREAM_END && zs.avail_in == 0 ? 0 : -1;
}

static void round_trip(const char *in, size_t len, int level, const char *what)
{
    struct buf z, back;
    char name[128];

    buf_init(&z, 0);
    buf_init(&back, 0);
    snprintf(name, sizeof name, "%s: compress", what);
    is_int(gzip_compress(in, len, level, &z), 0, name);
    snprintf(name, sizeof name, "%s: gzip magic and deflate method", what);
    ok(z.len >= 18 && memcmp(z.data, "\x1f\x8b\x08", 3) == 0, name);
    snprintf(name, sizeof name, "%s: inflates", what);
    is_int(gunzip(z.data, z.len, &back), 0, name);
    snprintf(name, sizeof name, "%s: round trip", what);
    is_mem(back.data ? back.data : "", back.len, in, len, name);
    buf_dispose(&z);
    buf_dispose(&back);
}

static void test_compress(void)
{
    size_t big_len = 100 * 1024;
    char *big = malloc(big_len);
    for (size_t i = 0, line = 0; i < big_len; line++) {
        char tmp[80];
        int n = snprintf(tmp, sizeof tmp, "line %zu: the quick brown fox jumps over the lazy dog\n",
                         line);
        for (int k = 0; k < n && i < big_len; k++)
            big[i++] = tmp[k];
    }

    round_trip("", 0, 6, "empty input");
    round_trip("x", 1, 6, "one byte");
    round_trip(big, big_len, 6, "100 KiB of text");
    round_trip(big, big_len, 1, "100 KiB at level 1");
    round_trip(big, big_len, 9, "100 KiB at level 9");

    /* Incompressible input larger than one internal chunk. */
    unsigned char *rnd = malloc(50000);
    unsigned x = 12345;
    for (size_t i = 0; i < 50000; i++) {
        x = x * 1103515245u + 12345u;
        rnd[i] = (unsigned char)(x >> 16);
    }
    round_trip((const char *)rnd, 50000, 6, "50 KB of noise");
    free(rnd);

    struct buf z;
    buf_init(&z, 0);
    gzip_compress(big, big_len, 6, &z);
    ok(z.len < big_len / 10, "repetitive text compresses well");
    size_t full = z.len;
    buf_dispose(&z);

    /* Appends after existing content, which stays. */
    struct buf pre, back;
    buf_init(&pre, 0);
    buf_init(&back, 0);
    buf_puts(&pre, "HEAD");
    is_int(gzip_compress("abc", 3, 6, &pre), 0, "compress after existing content");
    ok(memcmp(pre.data, "HEAD", 4) == 0, "existing content kept");
    is_int(gunzip(pre.data + 4, pre.len - 4, &back), 0, "appended member inflates");
    is_str(back.data, "abc", "appended member round trips");
    buf_dispose(&pre);
    buf_dispose(&back);

    /* The cap: fails with -1 and leaves the buffer as it was. */
    buf_init(&z, 100);
    buf_puts(&z, "keep");
    is_int(gzip_compress(big, big_len, 6, &z), -1, "cap too small for the output fails");
    is_int(z.len, 4, "failed compress leaves the length as it was");
    is_str(z.data, "keep", "failed compress leaves the contents as they were");
    buf_dispose(&z);

    buf_init(&z, 10);
    is_int(gzip_compress("", 0, 6, &z), -1, "cap smaller than an empty member (20 bytes) fails");
    is_int(z.len, 0, "nothing left behind");
    buf_dispose(&z);

    buf_init(&z, full);
    is_int(gzip_compress(big, big_len, 6, &z), 0, "cap exactly the output size is enough");
    buf_dispose(&z);
    buf_init(&z, full - 1);
    is_int(gzip_compress(big, big_len, 6, &z), -1, "one byte short fails");
    is_int(z.len, 0, "and leaves it empty");
    buf_dispose(&z);

    buf_init(&z, 0);
    is_int(gzip_compress("abc", 3, 0, &z), -1, "level 0 rejected");
    is_int(gzip_compress("abc", 3, 10, &z), -1, "level 10 rejected");
    is_int(gzip_compress("abc", 3, -1, &z), -1, "level -1 rejected");
    is_int(z.len, 0, "rejected levels write nothing");
    buf_dispose(&z);
    free(big);
}

/* Inflate a gzip prefix (a member not finished yet): everything it can give; -1 on error. */
static int gunzip_prefix(const char *in, size_t len, struct buf *out)
{
    z_stream zs;
    unsigned char chunk[4096];
    int zrc = Z_OK;

    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    while (zrc == Z_OK) {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        zrc = inflate(&zs, Z_SYNC_FLUSH);
        buf_append(out, chunk, sizeof chunk - zs.avail_out);
        if (zrc == Z_OK && zs.avail_in == 0 && zs.avail_out > 0)
            break;
    }
    inflateEnd(&zs);
    return (zrc == Z_OK || zrc == Z_STREAM_END || zrc == Z_BUF_ERROR) && zs.avail_in == 0 ? 0 : -1;
}

static void test_stream(void)
{
    struct buf z, back;
    size_t text_len = 200 * 1024;
    char *text = malloc(text_len);
    for (size_t i = 0; i < text_len; i++)
        text[i] = "<p>Hello, world. Lorem ipsum dolor sit amet.</p>\n"[i % 50];

    ok(gzip_stream_new(0) == NULL && gzip_stream_new(10) == NULL, "stream: bad levels refused");
    gzip_stream_free(NULL);

    /* pieces of odd sizes, no flush, then FINISH: one member that round trips */
    struct gzip_stream *g = gzip_stream_new(6);
    buf_init(&z, 0);
    buf_init(&back, 0);
    int rc = 0;
    for (size_t off = 0, piece = 1; off < text_len; off += piece, piece = piece * 3 + 7) {
        size_t n = piece < text_len - off ? piece : text_len - off;
        rc |= gzip_stream_write(g, text + off, n, GZIP_FLUSH_NONE, &z);
    }
    rc |= gzip_stream_write(g, NULL, 0, GZIP_FLUSH_FINISH, &z);
    is_int(rc, 0, "stream: pieces then FINISH succeed");
    is_int(gunzip(z.data, z.len, &back), 0, "stream: the output is one complete gzip member");
    is_mem(back.data ? back.data : "", back.len, text, text_len, "stream: round trip");
    ok(z.len < text_len / 20, "stream: repetitive text compresses well");
    is_int(gzip_stream_write(g, "x", 1, GZIP_FLUSH_NONE, &z), -1,
           "stream: a write after FINISH fails");
    gzip_stream_free(g);
    buf_dispose(&z);
    buf_dispose(&back);

    /* SYNC: everything written so far decompresses from the output so far (flush() in PHP) */
    g = gzip_stream_new(6);
    buf_init(&z, 0);
    buf_init(&back, 0);
    is_int(gzip_stream_write(g, "first part|", 11, GZIP_FLUSH_SYNC, &z), 0, "stream: SYNC write");
    ok(z.len > 10, "stream: SYNC produced output at once");
    is_int(gunzip_prefix(z.data, z.len, &back), 0, "stream: the output so far inflates");
    is_str(back.data, "first part|", "stream: ...to exactly what was written");
    is_int(gzip_stream_write(g, NULL, 0, GZIP_FLUSH_SYNC, &z), 0,
           "stream: a SYNC with nothing new is harmless");
    size_t before = z.len;
    is_int(gzip_stream_write(g, text, text_len, GZIP_FLUSH_SYNC, &z), 0,
           "stream: a large SYNC write (output over many chunks)");
    buf_reset(&back);
    is_int(gunzip_prefix(z.data, z.len, &back), 0, "stream: the output so far inflates again");
    is_int(back.len, 11 + text_len, "stream: ...to everything written");
    ok(z.len > before, "stream: and grew");
    is_int(gzip_stream_write(g, "end", 3, GZIP_FLUSH_FINISH, &z), 0, "stream: FINISH with data");
    buf_reset(&back);
    is_int(gunzip(z.data, z.len, &back), 0, "stream: complete member after FINISH");
    is_int(back.len, 11 + text_len + 3, "stream: every byte is in it");
    ok(back.len >= 3 && memcmp(back.data + back.len - 3, "end", 3) == 0, "stream: in order");
    gzip_stream_free(g);
    buf_dispose(&z);
    buf_dispose(&back);

    /* an empty stream is still a valid member */
    g = gzip_stream_new(1);
    buf_init(&z, 0);
    buf_init(&back, 0);
    is_int(gzip_stream_write(g, NULL, 0, GZIP_FLUSH_FINISH, &z), 0, "stream: empty FINISH");
    is_int(gunzip(z.data, z.len, &back), 0, "stream: empty member inflates");
    is_int(back.len, 0, "stream: to nothing");
    gzip_stream_free(g);
    buf_dispose(&z);
    buf_dispose(&back);

    /* out's cap is an error, not an overrun */
    g = gzip_stream_new(6);
    buf_init(&z, 64);
    rc = gzip_stream_write(g, text, text_len, GZIP_FLUSH_FINISH, &z);
    is_int(rc, -1, "stream: output past the buffer's cap fails");
    ok(z.len <= 64, "stream: and stays within the cap");
    gzip_stream_free(g);
    buf_dispose(&z);
    free(text);
}

static void test_choose(void)
{
    static const struct {
        unsigned status;
        bool head;
        const char *type, *encoding;
        bool range, has_len;
        uint64_t len;
        const char *accept;
        enum gzip_choice want;
        const char *what;
    } cases[] = {
        {200, false, "text/html; charset=UTF-8", NULL, false, false, 0, "gzip, br", GZIP_COMPRESS,
         "PHP's default text/html, length unknown"},
        {200, false, "application/javascript", NULL, false, true, 93000, "gzip", GZIP_COMPRESS,
         "JavaScript with a Content-Length"},
        {404, false, "text/html", NULL, false, false, 0, "gzip", GZIP_COMPRESS, "an error page"},
        {200, false, "application/json", NULL, false, true, 255, "gzip", GZIP_VARY,
         "a body known to be under 256 bytes"},
        {200, false, "application/json", NULL, false, true, 256, "gzip", GZIP_COMPRESS,
         "a body of exactly 256 bytes"},
        {200, false, "image/png", NULL, false, false, 0, "gzip", GZIP_IDENTITY, "image/png"},
        {200, false, NULL, NULL, false, false, 0, "gzip", GZIP_IDENTITY, "no Content-Type"},
        {200, false, "text/html", "gzip", false, false, 0, "gzip", GZIP_IDENTITY,
         "the application compressed it already"},
        {200, false, "text/html", "identity", false, false, 0, "gzip", GZIP_IDENTITY,
         "any Content-Encoding from the application"},
        {206, false, "text/plain", NULL, true, true, 1000, "gzip", GZIP_IDENTITY, "a 206"},
        {200, false, "text/plain", NULL, true, true, 1000, "gzip", GZIP_IDENTITY,
         "a Content-Range"},
        {204, false, "text/html", NULL, false, false, 0, "gzip", GZIP_IDENTITY, "204"},
        {304, false, "text/html", NULL, false, false, 0, "gzip", GZIP_VARY, "304: Vary only"},
        {200, true, "text/html", NULL, false, false, 0, "gzip", GZIP_VARY, "HEAD: Vary only"},
        {200, false, "text/html", NULL, false, false, 0, NULL, GZIP_VARY, "no Accept-Encoding"},
        {200, false, "text/html", NULL, false, false, 0, "gzip;q=0", GZIP_VARY, "gzip;q=0"},
        {200, false, "text/html", NULL, false, false, 0, "br", GZIP_VARY, "only br"},
        {200, false, "text/html", NULL, false, false, 0, "*;q=0.1", GZIP_COMPRESS, "*"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gzip_response r = {
            .status = cases[i].status,
            .is_head = cases[i].head,
            .content_type = cases[i].type,
            .content_encoding = cases[i].encoding,
            .has_content_range = cases[i].range,
            .has_length = cases[i].has_len,
            .length = cases[i].len,
        };
        char name[128];
        snprintf(name, sizeof name, "choose: %s -> %d", cases[i].what, (int)cases[i].want);
        enum coding out[CODING_N];
        bool taken = coding_negotiate(cases[i].accept, CODING_BIT(CODING_GZIP), out) > 0;
        is_int(gzip_choose(&r, taken), cases[i].want, name);
    }
}

static void test_vary_etag(void)
{
    ok(!gzip_vary_has_accept_encoding(NULL), "vary: NULL");
    ok(!gzip_vary_has_accept_encoding(""), "vary: empty");
    ok(!gzip_vary_has_accept_encoding("Cookie"), "vary: Cookie");
    ok(!gzip_vary_has_accept_encoding("Accept-Encodings, Accept"), "vary: lookalikes");
    ok(gzip_vary_has_accept_encoding("accept-encoding"), "vary: lower case");
    ok(gzip_vary_has_accept_encoding("Cookie,Accept-Encoding"), "vary: second, no space");
    ok(gzip_vary_has_accept_encoding(" Cookie , ACCEPT-ENCODING "), "vary: with spaces");
    ok(gzip_vary_has_accept_encoding("*"), "vary: *");

    char out[32];
    is_str(gzip_weak_etag("\"abc\"", out, sizeof out), "W/\"abc\"", "etag: strong becomes weak");
    is_str(gzip_weak_etag("W/\"abc\"", out, sizeof out), "W/\"abc\"", "etag: weak stays");
    ok(gzip_weak_etag("\"0123456789012345678901234567890\"", out, sizeof out) == NULL,
       "etag: too long for out -> NULL");
}

int main(void)
{
    test_compress();
    test_stream();
    test_choose();
    test_vary_etag();
    return done_testing();
}
