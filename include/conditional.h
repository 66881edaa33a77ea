/*
 * conditional: ETags and the conditional request headers of RFC 9110 section 13, evaluated in
 * the order the RFC gives (If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since)
 * plus If-Range. Pure.
 */
#ifndef WHARF_CONDITIONAL_H
#define WHARF_CONDITIONAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define ETAG_MAX 64

/** Strong validator from file identity: "\"<mtime-hex>-<size-hex>[suffix]\"" e.g. suffix
 *  "-gz" for the gzip variant. Returns the length written (< ETAG_MAX). */
int etag_make(char out[ETAG_MAX], int64_t mtime_sec, long mtime_nsec, uint64_t size,
              const char *suffix);

struct cond_headers {
    const char *if_match; /* NULL when absent */
    const char *if_none_match;
    const char *if_modified_since;
    const char *if_unmodified_since;
};

enum cond_result {
    COND_PROCEED = 0,         /* serve normally */
    COND_NOT_MODIFIED,        /* 304 (GET/HEAD only) */
    COND_PRECONDITION_FAILED, /* 412 */
};

/** Evaluate per RFC 9110 13.2.2. If-None-Match, when present, makes If-Modified-Since be
 *  ignored; weak comparison for If-None-Match, strong for If-Match; "*" matches any. */
enum cond_result cond_evaluate(const struct cond_headers *h, const char *etag, time_t mtime,
                               bool is_get_or_head);

/** If-Range: true if the Range header may be honoured (strong ETag match, or an HTTP date
 *  equal to mtime). A NULL if_range is true. */
bool cond_if_range(const char *if_range, const char *etag, time_t mtime);

#endif
