/* gzip: Accept-Encoding negotiation, the choice for a response made elsewhere (FastCGI), and
 * gzip compression with zlib, of a whole buffer or incrementally. Pure: no I/O. */
#ifndef WHARF_GZIP_H
#define WHARF_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/** Compress in[0..len) into out as a complete gzip member (RFC 1952) at the given zlib
 *  level (1-9). Returns 0, or -1 on zlib error or when out's cap is hit. */
int gzip_compress(const void *in, size_t len, int level, struct buf *out);

#define GZIP_MIN_BYTES 256 /* smaller bodies are sent as they are: gzip gains nothing */

/* What gzip_choose() needs to know about a response that was not made here. */
struct gzip_response {
    unsigned status;
    bool is_head;
    const char *content_type;     /* NULL = none */
    const char *content_encoding; /* NULL = none */
    bool has_content_range;
    bool has_length; /* the body size is known in advance... */
    uint64_t length; /* ...and is this many bytes */
};

enum gzip_choice {
    GZIP_IDENTITY, /* not a compressible representation: leave the response alone */
    GZIP_VARY,     /* compressible, but not this time (client, HEAD, 304, tiny): add Vary only */
    GZIP_COMPRESS, /* compress it, add Content-Encoding: gzip and Vary */
};

/**
 * Whether to compress a response, accepted saying whether the client takes a coding the site
 * compresses in (coding_negotiate's answer to its Accept-Encoding):
 * the type must be compressible (mime_is_compressible), the response must carry no
 * Content-Encoding, no Content-Range and not be a 206 or a 204 (otherwise GZIP_IDENTITY);
 * it is compressed only when accepted, the method is not HEAD,
 * the status has a body (not 1xx, 204, 304) and the body is not known to be under
 * GZIP_MIN_BYTES (otherwise GZIP_VARY: the answer still depends on Accept-Encoding).
 */
enum gzip_choice gzip_choose(const struct gzip_response *r, bool accepted);

/** Whether a Vary field value already lists "*" or Accept-Encoding (case-insensitive). */
bool gzip_vary_has_accept_encoding(const char *vary);

/**
 * The ETag to send with a compressed body, in out (n bytes): a strong validator of the
 * identity body becomes weak (W/"x"), since the bytes differ; a weak one stays. Returns out,
 * or NULL if it does not fit.
 */
const char *gzip_weak_etag(const char *etag, char *out, size_t n);

/* ---- incremental compression ---- */

struct gzip_stream;

enum gzip_flush {
    GZIP_FLUSH_NONE,   /* zlib may keep input back for a better ratio */
    GZIP_FLUSH_SYNC,   /* everything given so far can be decompressed from the output */
    GZIP_FLUSH_FINISH, /* end the member: trailer written; no more writes */
};

/** A new gzip member being compressed at level 1-9; NULL on a bad level or zlib failure. */
struct gzip_stream *gzip_stream_new(int level);
/** Compress in[0..len) and append what zlib produces to out (flush as above; in may be NULL
 *  when len is 0). Returns 0, or -1 on zlib error, out's cap, or a write after FINISH (out
 *  may then hold part of the output). */
int gzip_stream_write(struct gzip_stream *z, const void *in, size_t len, enum gzip_flush flush,
                      struct buf *out);
/** Free z (NULL is a no-op). */
void gzip_stream_free(struct gzip_stream *z);

#endif
