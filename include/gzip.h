/* gzip: Accept-Encoding negotiation (pure) and whole-buffer gzip compression with zlib. */
#ifndef WHARF_GZIP_H
#define WHARF_GZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/** Whether the client accepts gzip: "gzip" or "x-gzip" or "*" with q > 0 (q-values parsed,
 *  "gzip;q=0" refuses even if "*" is accepted). NULL header -> false. */
bool gzip_accepted(const char *accept_encoding);
/** Compress in[0..len) into out as a complete gzip member (RFC 1952) at the given zlib
 *  level (1-9). Returns 0, or -1 on zlib error or when out's cap is hit. */
int gzip_compress(const void *in, size_t len, int level, struct buf *out);

#endif
