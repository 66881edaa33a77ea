/*
 * gzip: decides whether a client takes gzip (RFC 9110 12.5.3), whether a response made elsewhere
 * (a FastCGI application's) should be compressed, and compresses: a whole buffer into one gzip
 * member, or a stream piece by piece (a gzip_stream, for bodies that arrive while being sent).
 * Negotiation is pure and strict: an element whose weight does not parse counts as q=0, so a
 * malformed header can only cost compression, never send gzip to a client that did not ask for
 * it. An explicit "gzip;q=0" (or "x-gzip;q=0") beats any "*". Whole-buffer compression leaves
 * out exactly as it was on failure. Nothing here does I/O.
 */
#include "gzip.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mime.h"
#include "util.h"

#define GZIP_CHUNK 16384

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && ascii_ncasecmp(name, want, len) == 0;
}

int gzip_compress(const void *in, size_t len, int level, struct buf *out)
{
    z_stream zs;
    unsigned char chunk[GZIP_CHUNK];
    const unsigned char *next = in;
    size_t left = len, start_len = out->len;
    int rc = -1, zrc;

    if (level < 1 || level > 9)
        return -1;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16 asks zlib for the gzip header and trailer instead of zlib's own. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    do {
        /* avail_in is a uInt: feed inputs over 4 GiB in slices. */
        if (zs.avail_in == 0 && left > 0) {
            zs.next_in = (Bytef *)next;
            zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
            next += zs.avail_in;
            left -= zs.avail_in;
        }
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        zrc = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        /* With fresh output space and input or a finish pending, deflate always progresses,
         * so Z_BUF_ERROR cannot loop here; it is treated as failure to be safe. */
        if (zrc != Z_OK && zrc != Z_STREAM_END)
            goto out;
        if (buf_append(out, chunk, sizeof chunk - zs.avail_out) != 0)
            goto out;
    } while (zrc != Z_STREAM_END);
    rc = 0;
out:
    deflateEnd(&zs);
    if (rc != 0 && out->data) {
        out->len = start_len;
        out->data[start_len] = '\0';
    }
    return rc;
}

/* ---- a response made elsewhere ------------------------------------------------------------- */

enum gzip_choice gzip_choose(const struct gzip_response *r, bool accepted)
{
    /* note: a Content-Encoding already set (even "identity") is the application's business */
    if (!mime_is_compressible(r->content_type) || r->content_encoding || r->has_content_range ||
        r->status == 206 || r->status == 204)
        return GZIP_IDENTITY;
    if (r->is_head || r->status < 200 || r->status == 304 ||
        (r->has_length && r->length < GZIP_MIN_BYTES) || !accepted)
        return GZIP_VARY;
    return GZIP_COMPRESS;
}

bool gzip_vary_has_accept_encoding(const char *vary)
{
    const char *p = vary;

    while (p && *p) {
        size_t n = strcspn(p, ",");
        const char *e = p + n;
        while (p < e && is_ows(*p))
            p++;
        while (e > p && is_ows(e[-1]))
            e--;
        if (name_is(p, (size_t)(e - p), "*") || name_is(p, (size_t)(e - p), "accept-encoding"))
            return true;
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return false;
}

const char *gzip_weak_etag(const char *etag, char *out, size_t n)
{
    bool weak = strncmp(etag, "W/", 2) == 0;
    int len = snprintf(out, n, "%s%s", weak ? "" : "W/", etag);
    return len >= 0 && (size_t)len < n ? out : NULL;
}

/* ---- incremental compression ------------------------------------------------------------- */

struct gzip_stream {
    z_stream zs;
    bool finished;
};

struct gzip_stream *gzip_stream_new(int level)
{
    if (level < 1 || level > 9)
        return NULL;
    struct gzip_stream *z = xcalloc(1, sizeof *z);
    /* windowBits 15 + 16: the gzip header and trailer instead of zlib's own */
    if (deflateInit2(&z->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

int gzip_stream_write(struct gzip_stream *z, const void *in, size_t len, enum gzip_flush flush,
                      struct buf *out)
{
    static const int zflush[] = {
        [GZIP_FLUSH_NONE] = Z_NO_FLUSH,
        [GZIP_FLUSH_SYNC] = Z_SYNC_FLUSH,
        [GZIP_FLUSH_FINISH] = Z_FINISH,
    };
    const unsigned char *next = in;
    size_t left = len;

    if (z->finished)
        return -1;
    for (;;) {
        if (z->zs.avail_in == 0 && left > 0) {
            z->zs.next_in = (Bytef *)next;
            z->zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
            next += z->zs.avail_in;
            left -= z->zs.avail_in;
        }
        size_t cap_left = out->max - out->len;
        if (cap_left == 0 || buf_reserve(out, cap_left < GZIP_CHUNK ? cap_left : GZIP_CHUNK) != 0)
            return -1;
        size_t room = out->cap - out->len - 1; /* buf keeps a NUL after len */
        room = room < cap_left ? room : cap_left;
        z->zs.next_out = (Bytef *)out->data + out->len;
        z->zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        int rc = deflate(&z->zs, left ? Z_NO_FLUSH : zflush[flush]);
        out->len += room - z->zs.avail_out;
        out->data[out->len] = '\0';
        if (rc == Z_STREAM_END) {
            z->finished = true;
            return 0;
        }
        /* note: Z_BUF_ERROR only says no progress was possible (a flush with nothing new) */
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return -1;
        /* done when all input is in and zlib did not fill the space (it has no more to say) */
        if (left == 0 && z->zs.avail_in == 0 && z->zs.avail_out > 0 && flush != GZIP_FLUSH_FINISH)
            return 0;
        if (rc == Z_BUF_ERROR && z->zs.avail_out > 0)
            return flush == GZIP_FLUSH_FINISH ? -1 : 0;
    }
}

void gzip_stream_free(struct gzip_stream *z)
{
    if (!z)
        return;
    deflateEnd(&z->zs);
    free(z);
}
