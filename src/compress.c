/* compress: whole buffers into gzip, br or zstd. See compress.h. */
#include "compress.h"

#include <brotli/encode.h>
#include <stdlib.h>
#include <zstd.h>

#include "util.h"

/* The most out may take: its max, or what the codec can need at worst. */
static size_t room(const struct buf *out, size_t bound)
{
    return out->max && out->max < bound ? out->max : bound;
}

int compress_buffer(enum coding c, const void *in, size_t len, struct buf *out)
{
    if (c == CODING_GZIP)
        return gzip_compress(in, len, COMPRESS_GZIP_LEVEL, out);
    size_t cap = c == CODING_BR ? room(out, BrotliEncoderMaxCompressedSize(len) + 64)
                                : room(out, ZSTD_compressBound(len));
    if (cap == 0 || buf_reserve(out, cap) != 0)
        return -1;
    size_t n = cap;
    bool ok;
    if (c == CODING_BR) {
        ok = BrotliEncoderCompress(COMPRESS_BR_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                                   len, in, &n, (uint8_t *)out->data) == BROTLI_TRUE;
    } else {
        n = ZSTD_compress(out->data, cap, in, len, COMPRESS_ZSTD_LEVEL);
        ok = !ZSTD_isError(n);
    }
    if (!ok || (out->max && n >= out->max)) {
        buf_reset(out);
        return -1;
    }
    out->len = n;
    out->data[n] = '\0';
    return 0;
}

/* ---- streams ---------------------------------------------------------------------------- */

struct compress_stream {
    enum coding c;
    struct gzip_stream *gz;
    BrotliEncoderState *br;
    ZSTD_CCtx *zs;
    bool finished;
};

struct compress_stream *compress_stream_new(enum coding c)
{
    struct compress_stream *z = xcalloc(1, sizeof *z);
    z->c = c;
    bool ok = false;
    if (c == CODING_GZIP) {
        z->gz = gzip_stream_new(COMPRESS_GZIP_LEVEL);
        ok = z->gz != NULL;
    } else if (c == CODING_BR) {
        z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        ok = z->br && BrotliEncoderSetParameter(z->br, BROTLI_PARAM_QUALITY, COMPRESS_BR_QUALITY);
    } else if (c == CODING_ZSTD) {
        z->zs = ZSTD_createCCtx();
        ok = z->zs && !ZSTD_isError(ZSTD_CCtx_setParameter(z->zs, ZSTD_c_compressionLevel,
                                                           COMPRESS_ZSTD_LEVEL));
    }
    if (!ok) {
        compress_stream_free(z);
        return NULL;
    }
    return z;
}

static int write_br(struct compress_stream *z, const uint8_t *in, size_t len, enum gzip_flush flush,
                    struct buf *out)
{
    BrotliEncoderOperation op = flush == GZIP_FLUSH_FINISH ? BROTLI_OPERATION_FINISH
                                : flush == GZIP_FLUSH_SYNC ? BROTLI_OPERATION_FLUSH
                                                           : BROTLI_OPERATION_PROCESS;
    size_t avail_in = len, avail_out = 0;
    const uint8_t *next_in = in;
    for (;;) {
        if (!BrotliEncoderCompressStream(z->br, op, &avail_in, &next_in, &avail_out, NULL, NULL))
            return -1;
        size_t n = 0;
        const uint8_t *o = BrotliEncoderTakeOutput(z->br, &n);
        if (n && buf_append(out, o, n) != 0)
            return -1;
        if (avail_in || BrotliEncoderHasMoreOutput(z->br))
            continue;
        if (op == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(z->br))
            continue;
        return 0;
    }
}

static int write_zstd(struct compress_stream *z, const void *in, size_t len, enum gzip_flush flush,
                      struct buf *out)
{
    ZSTD_EndDirective mode = flush == GZIP_FLUSH_FINISH ? ZSTD_e_end
                             : flush == GZIP_FLUSH_SYNC ? ZSTD_e_flush
                                                        : ZSTD_e_continue;
    ZSTD_inBuffer ib = {in, len, 0};
    char chunk[16384];
    for (;;) {
        ZSTD_outBuffer ob = {chunk, sizeof chunk, 0};
        size_t left = ZSTD_compressStream2(z->zs, &ob, &ib, mode);
        if (ZSTD_isError(left))
            return -1;
        if (ob.pos && buf_append(out, chunk, ob.pos) != 0)
            return -1;
        /* done when the input is used up and, when flushing or ending, nothing is left */
        if (ib.pos == ib.size && (mode == ZSTD_e_continue || left == 0))
            return 0;
    }
}

int compress_stream_write(struct compress_stream *z, const void *in, size_t len,
                          enum gzip_flush flush, struct buf *out)
{
    if (z->finished)
        return -1;
    int rc = z->c == CODING_GZIP ? gzip_stream_write(z->gz, in, len, flush, out)
             : z->c == CODING_BR ? write_br(z, in ? in : (const void *)"", len, flush, out)
                                 : write_zstd(z, in ? in : (const void *)"", len, flush, out);
    if (rc == 0 && flush == GZIP_FLUSH_FINISH)
        z->finished = true;
    return rc;
}

void compress_stream_free(struct compress_stream *z)
{
    if (!z)
        return;
    gzip_stream_free(z->gz);
    if (z->br)
        BrotliEncoderDestroyInstance(z->br);
    ZSTD_freeCCtx(z->zs);
    free(z);
}
