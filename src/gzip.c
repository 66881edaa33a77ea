/*
 * gzip: decides whether a client takes gzip (RFC 9110 12.5.3) and compresses a whole buffer into
 * one gzip member. Negotiation is pure and strict: an element whose weight does not parse counts
 * as q=0, so a malformed header can only cost compression, never send gzip to a client that did
 * not ask for it. An explicit "gzip;q=0" (or "x-gzip;q=0") beats any "*". Compression leaves
 * out exactly as it was on failure; it does no I/O.
 */
#include "gzip.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "util.h"
#include "http_token.h"

#define GZIP_CHUNK 16384

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Weight of one list element s[0..n): 0..1000, with anything malformed as 0. name/name_len get
 * the coding (empty if the element does not even start with a token). */
static int parse_element(const char *s, size_t n, const char **name, size_t *name_len)
{
    size_t i = 0, qs;

    while (i < n && http_is_tchar(s[i]))
        i++;
    *name = s;
    *name_len = i;
    while (i < n && is_ows(s[i]))
        i++;
    if (i == n)
        return 1000;
    /* note: RFC 9110 allows only the weight parameter here; anything else is malformed. */
    if (s[i] != ';')
        return 0;
    i++;
    while (i < n && is_ows(s[i]))
        i++;
    if (n - i < 2 || (s[i] != 'q' && s[i] != 'Q') || s[i + 1] != '=')
        return 0;
    i += 2;
    qs = i;
    while (i < n && !is_ows(s[i]))
        i++;
    int q = http_parse_qvalue(s + qs, i - qs);
    while (i < n && is_ows(s[i]))
        i++;
    return (q < 0 || i != n) ? 0 : q;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && ascii_ncasecmp(name, want, len) == 0;
}

bool gzip_accepted(const char *accept_encoding)
{
    int gzip_q = -1, star_q = -1; /* -1 = not listed */
    bool gzip_refused = false;
    const char *p = accept_encoding;

    if (!p)
        return false;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *name;
        size_t name_len;

        while (n && is_ows(*p)) {
            p++;
            n--;
        }
        if (n) {
            int q = parse_element(p, n, &name, &name_len);
            if (name_is(name, name_len, "gzip") || name_is(name, name_len, "x-gzip")) {
                gzip_refused |= q == 0;
                gzip_q = q > gzip_q ? q : gzip_q;
            } else if (name_is(name, name_len, "*")) {
                star_q = q > star_q ? q : star_q;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (gzip_q >= 0)
        return !gzip_refused;
    return star_q > 0;
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
