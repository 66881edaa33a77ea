/* compress: whole buffers into gzip, br or zstd. See compress.h. */
#include "compress.h"

#include <brotli/encode.h>
#include <zstd.h>

#include "gzip.h"

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
