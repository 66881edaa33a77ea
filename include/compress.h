/*
 * compress: content codings (gzip with zlib, br with libbrotlienc, zstd with libzstd), of a
 * whole buffer (the static variants kept in the file cache, a complete PHP response) or of a
 * stream piece by piece (a PHP response while it arrives), with gzip_stream's flush
 * semantics. Pure: no I/O.
 */
#ifndef WHARF_COMPRESS_H
#define WHARF_COMPRESS_H

#include <stddef.h>

#include "buf.h"
#include "coding.h"
#include "gzip.h"

#define COMPRESS_GZIP_LEVEL 6 /* zlib 1..9 */
#define COMPRESS_BR_QUALITY 5 /* brotli 0..11: about gzip -6's speed, and smaller */
#define COMPRESS_ZSTD_LEVEL 6 /* zstd 1..19 */

/** in[0..len) in coding c, appended to out (empty). 0, or -1 on a library error or when the
 *  result would not fit out's max (a variant that is not smaller is useless); out is then
 *  empty. */
int compress_buffer(enum coding c, const void *in, size_t len, struct buf *out);

struct compress_stream;

/** A stream in coding c (levels as above); NULL on a library failure. */
struct compress_stream *compress_stream_new(enum coding c);
/** As gzip_stream_write (gzip.h): compress in[0..len) and append the output to out; after
 *  GZIP_FLUSH_SYNC everything given so far can be decoded from the output, after
 *  GZIP_FLUSH_FINISH the stream is complete. 0, or -1 on a library error, out's cap or a write
 *  after FINISH. */
int compress_stream_write(struct compress_stream *z, const void *in, size_t len,
                          enum gzip_flush flush, struct buf *out);
/** Free z (NULL is a no-op). */
void compress_stream_free(struct compress_stream *z);

#endif
