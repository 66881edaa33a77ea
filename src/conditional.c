/*
 * conditional: entity tags and the preconditions of RFC 9110 13.1-13.2. Header values are
 * parsed strictly; a malformed one resolves to the answer that can never serve stale data
 * or overwrite blindly: a bad If-Match fails (412), a bad If-None-Match matches nothing
 * (full response), a bad date is ignored, a bad If-Range refuses the range (full 200).
 * Dates are compared at one-second precision, as Last-Modified carries no more. The
 * representation's Last-Modified is taken as a strong validator (see cond_if_range).
 */
#include "conditional.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http_date.h"

int etag_make(char out[ETAG_MAX], int64_t mtime_sec, long mtime_nsec, uint64_t size,
              const char *suffix)
{
    char nsec[24] = "";
    out[0] = '\0';
    if (!suffix)
        suffix = "";
    for (const char *p = suffix; *p; p++) {
        if (*p <= 0x20 || *p == '"' || *p == 0x7f)
            return -1; /* not etagc: the tag would no longer parse */
    }
    /* note: nanoseconds tell apart two writes within one second; omitted when the filesystem
     * has none, which keeps the nginx-style "<sec>-<size>" shape */
    if (mtime_nsec > 0 && mtime_nsec < 1000000000)
        snprintf(nsec, sizeof nsec, ".%lx", mtime_nsec);
    int n = snprintf(out, ETAG_MAX, "\"%" PRIx64 "%s-%" PRIx64 "%s\"", (uint64_t)mtime_sec, nsec,
                     size, suffix);
    if (n < 0 || n >= ETAG_MAX) {
        out[0] = '\0';
        return -1;
    }
    return n;
}

struct etag {
    bool weak;
    const char *opaque; /* between the quotes */
    size_t len;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* etagc = %x21 / %x23-7E / obs-text */
static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/* One entity-tag at *p; advances past it. */
static bool parse_etag(const char **p, struct etag *e)
{
    const char *s = *p;
    e->weak = false;
    if (s[0] == 'W' && s[1] == '/') { /* note: %s"W/", so "w/" is not weak, just invalid */
        e->weak = true;
        s += 2;
    }
    if (*s != '"')
        return false;
    const char *q = ++s;
    while (is_etagc((unsigned char)*q))
        q++;
    if (*q != '"')
        return false;
    e->opaque = s;
    e->len = (size_t)(q - s);
    *p = q + 1;
    return true;
}

static bool parse_own_etag(const char *s, struct etag *e)
{
    return s && parse_etag(&s, e) && *s == '\0';
}

static bool etag_eq(const struct etag *a, const struct etag *b, bool strong)
{
    if (strong && (a->weak || b->weak))
        return false;
    return a->len == b->len && memcmp(a->opaque, b->opaque, a->len) == 0;
}

enum list_match { LIST_NO_MATCH, LIST_MATCH, LIST_INVALID };

/* "*" / #entity-tag (RFC 9110 5.6.1.2: empty elements are allowed, at least one tag is not).
 * note: the whole list is validated even after a match, so garbage is never half-trusted. */
static enum list_match match_list(const char *v, const char *own, bool strong)
{
    struct etag mine = {0}, e;
    bool have_mine = parse_own_etag(own, &mine), matched = false, any = false;

    const char *p = v;
    while (is_ows(*p))
        p++;
    if (*p == '*') {
        p++;
        while (is_ows(*p))
            p++;
        /* note: "*" means "any current representation", and this one exists */
        return *p == '\0' ? LIST_MATCH : LIST_INVALID;
    }
    for (;;) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (!parse_etag(&p, &e))
            return LIST_INVALID;
        any = true;
        if (have_mine && etag_eq(&e, &mine, strong))
            matched = true;
        while (is_ows(*p))
            p++;
        if (*p != ',' && *p != '\0')
            return LIST_INVALID;
    }
    if (!any)
        return LIST_INVALID;
    return matched ? LIST_MATCH : LIST_NO_MATCH;
}

enum cond_result cond_evaluate(const struct cond_headers *h, const char *etag, time_t mtime,
                               bool is_get_or_head)
{
    time_t date;

    /* 13.2.2 step 1, else step 2 */
    if (h->if_match) {
        if (match_list(h->if_match, etag, true) != LIST_MATCH)
            return COND_PRECONDITION_FAILED;
    } else if (h->if_unmodified_since && http_date_parse(h->if_unmodified_since, &date)) {
        if (mtime > date)
            return COND_PRECONDITION_FAILED;
    }

    /* step 3, else step 4 */
    if (h->if_none_match) {
        if (match_list(h->if_none_match, etag, false) == LIST_MATCH)
            return is_get_or_head ? COND_NOT_MODIFIED : COND_PRECONDITION_FAILED;
    } else if (is_get_or_head && h->if_modified_since &&
               http_date_parse(h->if_modified_since, &date)) {
        if (mtime <= date)
            return COND_NOT_MODIFIED;
    }
    return COND_PROCEED;
}

/* note: RFC 9110 13.1.5 also wants a date validator to be strong (Last-Modified at least a
 * second before the response's Date); that needs a clock, so the caller owns that check. */
bool cond_if_range(const char *if_range, const char *etag, time_t mtime)
{
    if (!if_range)
        return true;

    struct etag theirs, mine = {0};
    const char *p = if_range;
    if (*p == '"' || (p[0] == 'W' && p[1] == '/')) {
        if (!parse_etag(&p, &theirs) || *p != '\0')
            return false;
        return parse_own_etag(etag, &mine) && etag_eq(&theirs, &mine, true);
    }

    time_t date;
    return http_date_parse(if_range, &date) && date == mtime;
}
