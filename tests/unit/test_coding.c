/* coding: Accept-Encoding negotiation over gzip, br, zstd (weights, ties, "*", q=0). */
#include <brotli/decode.h>
#include <stdbool.h>
#include <string.h>
#include <zstd.h>

#include "buf.h"
#include "coding.h"
#include "compress.h"
#include "tap.h"

/* The negotiated list as text: "zstd br gzip", "" for none. */
static const char *pick(const char *ae, unsigned allowed)
{
    static char out[64];
    enum coding v[CODING_N];
    size_t n = coding_negotiate(ae, allowed, v);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, coding_name(v[i]));
    }
    return out;
}

#define ALL CODING_ALL
#define GZ CODING_BIT(CODING_GZIP)
#define BR CODING_BIT(CODING_BR)
#define ZS CODING_BIT(CODING_ZSTD)

/* the gzip-only view of the negotiation (what a site with gzip alone gets) */
static bool gzip_taken(const char *h)
{
    enum coding out[CODING_N];
    return coding_negotiate(h, CODING_BIT(CODING_GZIP), out) > 0;
}

static void test_gzip_only(void)
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
    ok(!gzip_taken(NULL), "NULL header refuses");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "Accept-Encoding '%s' -> %s", cases[i].header,
                 cases[i].want ? "gzip" : "identity");
        is_int(gzip_taken(cases[i].header), cases[i].want, name);
    }
}

int main(void)
{
    test_gzip_only();
    is_str(pick("gzip, deflate, br, zstd", ALL), "zstd br gzip", "equal weights: zstd, br, gzip");
    is_str(pick("gzip, deflate, br", ALL), "br gzip", "a browser without zstd");
    is_str(pick("gzip", ALL), "gzip", "gzip only");
    is_str(pick("br;q=0.5, gzip", ALL), "gzip br", "a higher weight beats the preference");
    is_str(pick("zstd;q=0.8, br;q=0.9, gzip;q=0.1", ALL), "br zstd gzip", "sorted by weight");
    is_str(pick("*", ALL), "zstd br gzip", "* takes everything");
    is_str(pick("*;q=0.5, gzip", ALL), "gzip zstd br", "* gives its weight to the unlisted");
    is_str(pick("*, br;q=0", ALL), "zstd gzip", "an explicit q=0 beats *");
    is_str(pick("br;q=0, *;q=0", ALL), "", "everything refused");
    is_str(pick("identity", ALL), "", "identity only");
    is_str(pick(NULL, ALL), "", "no header: identity");
    is_str(pick("", ALL), "", "empty header");
    is_str(pick("x-gzip", ALL), "gzip", "x-gzip is gzip");
    is_str(pick("BR, GZip", ALL), "br gzip", "names are case-insensitive");
    is_str(pick("br;q=1.5, gzip", ALL), "gzip", "a malformed weight counts as 0");
    is_str(pick("br;level=5, gzip", ALL), "gzip", "a parameter other than q: malformed");
    is_str(pick("br; q=0.5 , gzip ;q=0.4", ALL), "br gzip", "blanks around ';' and ','");
    is_str(pick("br, br;q=0", ALL), "", "listed twice: the lower weight");
    is_str(pick("gzip, br, zstd", GZ), "gzip", "the site serves gzip only");
    is_str(pick("gzip, br, zstd", BR | ZS), "zstd br", "the site serves br and zstd");
    is_str(pick("gzip", BR | ZS), "", "nothing in common");

    enum coding c = CODING_N;
    is_int(coding_of("zstd", 4), CODING_ZSTD, "coding_of zstd");
    is_int(coding_of("deflate", 7), CODING_N, "deflate is not served");
    is_str(coding_suffix(CODING_ZSTD), ".zst", "FILE.zst");
    is_str(coding_suffix(CODING_BR), ".br", "FILE.br");
    is_str(coding_name(c), "identity", "identity has a name");

    /* compress_buffer: the output is smaller and in the right format */
    char in[4096];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = "abcdefgh"[i % 8];
    struct buf out;
    buf_init(&out, sizeof in);
    ok(compress_buffer(CODING_ZSTD, in, sizeof in, &out) == 0 && out.len < 100 &&
           memcmp(out.data, "\x28\xb5\x2f\xfd", 4) == 0,
       "zstd: a frame with its magic number, much smaller");
    buf_dispose(&out);
    buf_init(&out, sizeof in);
    ok(compress_buffer(CODING_BR, in, sizeof in, &out) == 0 && out.len > 0 && out.len < 100,
       "br: much smaller");
    buf_dispose(&out);
    buf_init(&out, sizeof in);
    ok(compress_buffer(CODING_GZIP, in, sizeof in, &out) == 0 &&
           memcmp(out.data, "\x1f\x8b", 2) == 0,
       "gzip: a gzip member");
    buf_dispose(&out);
    buf_init(&out, 8); /* incompressible within 8 bytes */
    ok(compress_buffer(CODING_ZSTD, in, sizeof in, &out) != 0 && out.len == 0,
       "zstd: not smaller than the cap: refused, out empty");
    buf_dispose(&out);
    buf_init(&out, 8);
    ok(compress_buffer(CODING_BR, in, sizeof in, &out) != 0 && out.len == 0,
       "br: not smaller than the cap: refused, out empty");
    buf_dispose(&out);
    /* streams: what was given before a SYNC flush decodes from the output so far; FINISH
     * completes the stream */
    for (int k = 0; k < CODING_N; k++) {
        enum coding cd = (enum coding)k;
        char name[96];
        struct compress_stream *z = compress_stream_new(cd);
        struct buf zo;
        buf_init(&zo, 0);
        ok(z && compress_stream_write(z, in, 1000, GZIP_FLUSH_NONE, &zo) == 0 &&
               compress_stream_write(z, in + 1000, 1000, GZIP_FLUSH_SYNC, &zo) == 0,
           "stream: write, then flush");
        size_t flushed = zo.len;
        char dec[8192];
        size_t dn = sizeof dec;
        bool partial_ok = false;
        if (cd == CODING_BR) {
            BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
            const uint8_t *ni = (const uint8_t *)zo.data;
            size_t ai = zo.len, ao = sizeof dec;
            uint8_t *no = (uint8_t *)dec;
            BrotliDecoderResult rr = BrotliDecoderDecompressStream(d, &ai, &ni, &ao, &no, NULL);
            partial_ok = rr == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT && sizeof dec - ao == 2000 &&
                         memcmp(dec, in, 2000) == 0;
            BrotliDecoderDestroyInstance(d);
        } else if (cd == CODING_ZSTD) {
            ZSTD_DStream *d = ZSTD_createDStream();
            ZSTD_inBuffer ib = {zo.data, zo.len, 0};
            ZSTD_outBuffer ob = {dec, sizeof dec, 0};
            ZSTD_decompressStream(d, &ob, &ib);
            partial_ok = ob.pos == 2000 && memcmp(dec, in, 2000) == 0;
            ZSTD_freeDStream(d);
        } else {
            partial_ok = flushed > 10; /* gzip's flush is gzip_stream's, tested in test_gzip */
        }
        snprintf(name, sizeof name, "%s: the flushed part decodes to the input so far",
                 coding_name(cd));
        ok(partial_ok, name);
        ok(compress_stream_write(z, in + 2000, sizeof in - 2000, GZIP_FLUSH_FINISH, &zo) == 0,
           "finish");
        ok(compress_stream_write(z, "x", 1, GZIP_FLUSH_NONE, &zo) != 0, "no write after finish");
        dn = sizeof dec;
        bool whole_ok = false;
        if (cd == CODING_BR)
            whole_ok = BrotliDecoderDecompress(zo.len, (const uint8_t *)zo.data, &dn,
                                               (uint8_t *)dec) == BROTLI_DECODER_RESULT_SUCCESS &&
                       dn == sizeof in && memcmp(dec, in, sizeof in) == 0;
        else if (cd == CODING_ZSTD)
            whole_ok = ZSTD_decompress(dec, sizeof dec, zo.data, zo.len) == sizeof in &&
                       memcmp(dec, in, sizeof in) == 0;
        else
            whole_ok = zo.len > 18 && memcmp(zo.data, "\x1f\x8b", 2) == 0;
        snprintf(name, sizeof name, "%s: the finished stream decodes to the whole input",
                 coding_name(cd));
        ok(whole_ok, name);
        buf_dispose(&zo);
        compress_stream_free(z);
    }
    /* a whole br buffer decodes too */
    buf_init(&out, sizeof in);
    compress_buffer(CODING_BR, in, sizeof in, &out);
    char back[8192];
    size_t bn = sizeof back;
    ok(BrotliDecoderDecompress(out.len, (const uint8_t *)out.data, &bn, (uint8_t *)back) ==
               BROTLI_DECODER_RESULT_SUCCESS &&
           bn == sizeof in && memcmp(back, in, sizeof in) == 0,
       "br: compress_buffer's output decodes to the input");
    buf_dispose(&out);
    return done_testing();
}
