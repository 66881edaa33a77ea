/*
 * log_limit: a per-message-kind rate limit for log lines that a client can trigger at will
 * (libmicrohttpd logs one warning per connection it loses, so a slowloris flood cut every
 * second wrote 1.5 MB of log a minute). Each kind (the caller's key: a format string) may log
 * `burst` lines per window; the rest are counted, and once the window is over one summary
 * line per kind says how many were left out. Pure: the caller passes the clock and holds any
 * lock.
 */
#ifndef WHARF_LOG_LIMIT_H
#define WHARF_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define LOG_LIMIT_KINDS 16 /* distinct keys tracked; later ones share the last slot */
#define LOG_LIMIT_SAMPLE 120

struct log_limit_kind {
    const void *key;               /* NULL = free slot */
    uint64_t window_start_ms;      /* when this kind's current window began */
    unsigned logged;               /* lines let through in the current window */
    uint64_t suppressed;           /* lines left out in the current window */
    char sample[LOG_LIMIT_SAMPLE]; /* the last line left out, for the summary */
};

struct log_limit {
    uint64_t window_ms;
    unsigned burst;
    uint64_t total_suppressed; /* over the whole life; for a metrics endpoint */
    struct log_limit_kind kinds[LOG_LIMIT_KINDS];
};

/** Start empty: at most burst lines per kind per window_ms. */
void log_limit_init(struct log_limit *l, uint64_t window_ms, unsigned burst);

/** Report of a window that ended with lines left out. */
struct log_limit_summary {
    uint64_t suppressed;
    uint64_t window_ms;
    const char *sample; /* valid until the next call on l */
};

/** A line of kind key (text msg) at now_ms: true = log it. When this call ends an earlier
 *  window of the same kind that left lines out, *ended gets its summary (suppressed > 0),
 *  which the caller logs first; otherwise ended->suppressed = 0. */
bool log_limit_admit(struct log_limit *l, const void *key, const char *msg, uint64_t now_ms,
                     struct log_limit_summary *ended);

/** The next kind whose window is over and left lines out (its count is reset): true and
 *  *out filled, or false when there is none. Call until false, e.g. once a second. */
bool log_limit_flush(struct log_limit *l, uint64_t now_ms, struct log_limit_summary *out);

#endif
