/*
 * path: the one place where a request-target is percent-decoded (exactly once) and turned
 * into a path that cannot leave the site root. Owns target splitting, decoding, the UTF-8
 * and control-byte checks and "."/".."/"//" resolution; it never touches the file system
 * (symlinks and the docroot join belong to the static handler).
 * path_normalize makes one pass straight into the caller's buffer. A segment that does not
 * fit is counted, not stored, so a later ".." can still pop it: PATH_TOO_LONG then means
 * exactly "the normalised result does not fit", whatever the intermediate length was.
 * Backslash is an ordinary byte on Linux and is never treated as a separator.
 */
#include "path.h"

#include <string.h>

#include "util.h"

/* Incremental UTF-8 check (RFC 3629 table 3-7): the lead byte fixes how many continuation
 * bytes follow and narrows the range of the first, which is what rules out overlong forms
 * (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points over U+10FFFF. */
struct utf8_check {
    unsigned need;        /* continuation bytes still expected */
    unsigned char lo, hi; /* allowed range of the next continuation byte */
};

static bool utf8_step(struct utf8_check *u, unsigned char c)
{
    if (u->need) {
        if (c < u->lo || c > u->hi)
            return false;
        u->need--;
        u->lo = 0x80;
        u->hi = 0xbf;
        return true;
    }
    if (c < 0x80)
        return true;
    u->lo = 0x80;
    u->hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        u->need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        u->need = 2;
        if (c == 0xe0)
            u->lo = 0xa0;
        else if (c == 0xed)
            u->hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        u->need = 3;
        if (c == 0xf0)
            u->lo = 0x90;
        else if (c == 0xf4)
            u->hi = 0x8f;
    } else {
        return false;
    }
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* out[0..len) is always "/" followed by complete "seg/" units, then the stored bytes of
 * the current segment. Once something spills, nothing more is stored until enough ".."
 * have popped the spilled segments again. */
struct norm {
    char *out;
    size_t lim;       /* usable bytes; out[lim] stays free for the NUL */
    size_t len;       /* bytes of out in use */
    size_t seg;       /* start of the current segment in out, just after a '/' */
    size_t seg_len;   /* decoded length of the current segment, stored or not */
    bool seg_dots;    /* the current segment is all '.' so far */
    bool seg_spilled; /* the current segment did not fit and is not stored */
    size_t spilled;   /* complete segments above out[0..seg) that did not fit */
};

static void put_byte(struct norm *n, char c)
{
    n->seg_len++;
    if (c != '.')
        n->seg_dots = false;
    if (n->spilled || n->seg_spilled)
        return;
    if (n->len < n->lim) {
        n->out[n->len++] = c;
        return;
    }
    n->seg_spilled = true;
    n->len = n->seg;
}

static void pop_segment(struct norm *n)
{
    size_t i;

    if (n->spilled) {
        n->spilled--;
        return;
    }
    if (n->seg <= 1)
        return;     /* ".." at the root is clamped, as Go's path.Clean does */
    i = n->seg - 1; /* the '/' that ends the previous segment */
    while (n->out[i - 1] != '/')
        i--;
    n->seg = n->len = i;
}

static void end_segment(struct norm *n, bool last)
{
    bool dots = n->seg_dots && n->seg_len <= 2; /* "", "." or ".." */

    if (dots) {
        n->len = n->seg;
        if (n->seg_len == 2)
            pop_segment(n);
    } else if (n->spilled || n->seg_spilled) {
        n->spilled++;
    } else if (!last) {
        if (n->len < n->lim) {
            n->out[n->len++] = '/';
            n->seg = n->len;
        } else {
            n->len = n->seg; /* "seg/" is the unit that fits or spills */
            n->spilled++;
        }
    }
    n->seg_len = 0;
    n->seg_dots = true;
    n->seg_spilled = false;
}

enum path_status path_normalize(const char *raw, size_t raw_len, char *out, size_t out_cap,
                                size_t *out_len)
{
    char tiny[2]; /* lets a too-small out still be checked for PATH_BAD_REQUEST */
    bool fits = out_cap >= 2;
    struct norm n = {.out = fits ? out : tiny, .lim = (fits ? out_cap : sizeof tiny) - 1};
    struct utf8_check u = {0};
    enum path_status st = PATH_BAD_REQUEST;

    *out_len = 0;
    if (!raw || raw_len == 0 || raw[0] != '/')
        goto fail;
    n.out[0] = '/';
    n.len = n.seg = 1;
    n.seg_dots = true;
    for (size_t i = 1; i < raw_len; i++) {
        unsigned char c = (unsigned char)raw[i];

        if (c == '%') {
            int hi, lo;

            if (raw_len - i < 3)
                goto fail;
            hi = hex_value((unsigned char)raw[i + 1]);
            lo = hex_value((unsigned char)raw[i + 2]);
            if (hi < 0 || lo < 0)
                goto fail;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        /* NUL would truncate the path in open(); CR/LF would split log lines and headers */
        if (c < 0x20 || c == 0x7f || !utf8_step(&u, c))
            goto fail;
        if (c == '/')
            end_segment(&n, false);
        else
            put_byte(&n, (char)c);
    }
    if (u.need)
        goto fail;
    end_segment(&n, true);
    if (n.spilled || !fits) {
        st = PATH_TOO_LONG;
        goto fail;
    }
    out[n.len] = '\0';
    *out_len = n.len;
    return PATH_OK;
fail:
    if (out_cap)
        out[0] = '\0';
    return st;
}

static size_t scheme_len(const char *raw, size_t raw_len)
{
    if (raw_len >= 7 && ascii_ncasecmp(raw, "http://", 7) == 0)
        return 7;
    if (raw_len >= 8 && ascii_ncasecmp(raw, "https://", 8) == 0)
        return 8;
    return 0;
}

enum path_status path_split_target(const char *raw, size_t raw_len, struct path_target *t)
{
    const char *end, *p, *q, *hash, *path_end;

    memset(t, 0, sizeof *t);
    if (!raw)
        return PATH_BAD_REQUEST;
    /* note: clients must not send a fragment (RFC 9112 3.2), but some do; drop it */
    hash = memchr(raw, '#', raw_len);
    if (hash)
        raw_len = (size_t)(hash - raw);
    if (raw_len == 0)
        return PATH_BAD_REQUEST;
    end = raw + raw_len;
    p = raw;
    if (raw[0] != '/') {
        size_t skip = scheme_len(raw, raw_len);
        const char *auth = raw + skip;

        if (!skip)
            return PATH_BAD_REQUEST;
        p = auth;
        while (p < end && *p != '/' && *p != '?')
            p++;
        /* note: RFC 9110 4.2.4 says to treat userinfo in an http(s) URI as an error */
        if (p == auth || memchr(auth, '@', (size_t)(p - auth)))
            return PATH_BAD_REQUEST;
        t->authority = auth;
        t->authority_len = (size_t)(p - auth);
    }
    q = memchr(p, '?', (size_t)(end - p));
    path_end = q ? q : end;
    if (path_end == p) {
        t->path = "/"; /* RFC 9112 3.2.2: an empty path in absolute-form means "/" */
        t->path_len = 1;
    } else {
        t->path = p;
        t->path_len = (size_t)(path_end - p);
    }
    if (q) {
        t->query = q + 1;
        t->query_len = (size_t)(end - q - 1);
    }
    return PATH_OK;
}

bool path_has_hidden_segment(const char *norm)
{
    if (!norm)
        return false;
    return norm[0] == '.' || strstr(norm, "/.") != NULL;
}

const char *path_extension(const char *norm)
{
    const char *seg, *dot;

    if (!norm)
        return NULL;
    seg = strrchr(norm, '/');
    seg = seg ? seg + 1 : norm;
    while (*seg == '.')
        seg++; /* a dotfile's name is not its extension */
    dot = strrchr(seg, '.');
    if (!dot || dot[1] == '\0')
        return NULL;
    return dot;
}

bool path_has_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n && prefix[n - 1] == '/')
        n--;
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}
