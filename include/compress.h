/*
 * compress: a whole buffer into one content coding (gzip with zlib, br with libbrotlienc,
 * zstd with libzstd), for the static variants kept in the file cache. Pure: no I/O.
 */
#ifndef WHARF_COMPRESS_H
#define WHARF_COMPRESS_H

#include <stddef.h>

#include "buf.h"
#include "coding.h"

#define COMPRESS_GZIP_LEVEL 6 /* zlib 1..9 */
#define COMPRESS_BR_QUALITY 5 /* brotli 0..11: about gzip -6's speed, and smaller */
#define COMPRESS_ZSTD_LEVEL 6 /* zstd 1..19 */

/** in[0..len) in coding c, appended to out (empty). 0, or -1 on a library error or when the
 *  result would not fit out's max (a variant that is not smaller is useless); out is then
 *  empty. */
int compress_buffer(enum coding c, const void *in, size_t len, struct buf *out);

#endif
