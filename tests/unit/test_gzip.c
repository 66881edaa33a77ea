#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip.h"
#include "tap.h"

static void test_accepted(void)
{
    static const struct {
        const char *header;
        bool want;
    } cases[] = {
        {"gzip", true},
        {"GZIP", true},
        {"x-gzip", true},
        {"X-Gzip;Q=1", true},
        {"gzip, deflate, br", true},
        {"deflate, gzip;q=1.0, *;q=0.5", true},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
        {"  gzip  ", true},
        {"\tgzip\t;\tq=0.5\t", true},
        {"gzip ; q=0.001", true},
        {"gzip;q=1.", true},
        {"gzip;q=1.000", true},
        {"gzip;q=0.", false}, /* "0." is 0 */
        {",, ,gzip,,", true}, /* empty list elements are legal */
        {"*", true},
        {"*;q=0.5", true},
        {"br, *;q=0.5", true},
        {"*;q=0.5, gzip;q=0", false},
        {"gzip;q=0, *;q=0.5", false},
        {"gzip;q=0", false},
        {"gzip;q=0.000", false},
        {"gzip;q=0.5, gzip;q=0", false}, /* an explicit refusal wins */
        {"x-gzip;q=0, *", false},
        {"*;q=0", false},
        {"identity", false},
        {"identity;q=1, *;q=0", false},
        {"deflate, br", false},
        {"", false},
        {" ", false},
        {",", false},
        {"gzipx", false},
        {"gzi", false},
        {"agzip", false},
        {"gzip2, x-gzipper", false},
        /* malformed weights: the element counts as q=0 */
        {"gzip;q=2", false},
        {"gzip;q=1.5", false},
        {"gzip;q=1.001", false},
        {"gzip;q=0.5000", false},
        {"gzip;q=.5", false},
        {"gzip;q=", false},
        {"gzip;q", false},
        {"gzip;", false},
        {"gzip;q=0.5x", false},
        {"gzip;q=0.5;level=1", false},
        {"gzip;level=1", false},
        {"gzip;q = 0.5", false},
        {"gzip;q=-1", false},
        {"gzip q=1", false},
        {"\"gzip\"", false},
        {"*;q=abc", false},
        {"gzip;q=0.5x, *", false},   /* malformed gzip is still a listed refusal */
        {"deflate;q=x, gzip", true}, /* a bad element elsewhere does not matter */
    };
    ok(!gzip_accepted(NULL), "NULL header refuses");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "Accept-Encoding '%s' -> %s", cases[i].header,
                 cases[i].want ? "gzip" : "identity");
        is_int(gzip_accepted(cases[i].header), cases[i].want, name);
    }
}

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

int main(void)
{
    test_accepted();
    test_compress();
    return done_testing();
}
