/*
 * metrics: the request counters, kept per worker thread and merged when scraped.
 *
 * Hot path rule: a worker only ever writes its own slots (a relaxed load and store of its own
 * _Atomic counter, no read-modify-write, no lock), and each worker's slots sit on cache lines
 * of their own, so two workers never write the same line. A scrape (the admin thread) reads
 * every worker's slots with relaxed loads and adds them up: a total may miss an increment in
 * flight, never count one twice, and never goes down.
 *
 * Per-site counters are kept by site *name* in a registry that lives as long as the process:
 * a site's runtime (site.h) holds its entry, found once when the runtime is made, so a
 * configuration reload that builds new runtimes continues the same series, and a site that a
 * reload removes keeps its last values (Prometheus expects counters not to reset).
 *
 * The per-worker slot of a site is allocated by that worker on its first request there (so
 * a site costs memory only on the workers that served it) and published with a release
 * store; a scrape sees either nothing (zero) or the whole slot.
 */
#ifndef WHARF_METRICS_H
#define WHARF_METRICS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_WORKERS 64 /* = WORKER_MAX (worker.h) */

/* Method classes (label method): the usual methods by name, anything else "other". */
enum metrics_method {
    METRICS_GET,
    METRICS_HEAD,
    METRICS_POST,
    METRICS_PUT,
    METRICS_DELETE,
    METRICS_PATCH,
    METRICS_OPTIONS,
    METRICS_OTHER,
    METRICS_N_METHODS
};
/* Handlers (label handler), as struct handler's name. */
enum metrics_handler {
    METRICS_STATIC,
    METRICS_FASTCGI,
    METRICS_GIT,
    METRICS_ERROR,
    METRICS_N_HANDLERS
};
#define METRICS_N_CODES 5 /* 1xx .. 5xx */
/* Bucket bounds of every duration histogram, in seconds (metrics_bounds_s). */
#define METRICS_N_BUCKETS 14

extern const char *const metrics_method_names[METRICS_N_METHODS];
extern const char *const metrics_handler_names[METRICS_N_HANDLERS];
extern const double metrics_bounds_s[METRICS_N_BUCKETS];

/** The method class of a method name. */
enum metrics_method metrics_method_of(const char *method);
/** The handler of a handler name ("static", "fastcgi", "git"; anything else "error"). */
enum metrics_handler metrics_handler_of(const char *name);
/** The histogram bucket of a duration: i with bounds[i-1] < us/1e6 <= bounds[i], or
 *  METRICS_N_BUCKETS above the last bound. */
unsigned metrics_bucket(uint64_t us);

/* A histogram's raw counts (not cumulative), as prom_histogram wants them. */
struct metrics_histogram {
    uint64_t counts[METRICS_N_BUCKETS + 1];
    uint64_t sum_us;
};

/* Requests an access rule refused (access.h), by rule kind. */
enum metrics_access {
    METRICS_ACCESS_IP,   /* 403 by allow_ip/deny_ip */
    METRICS_ACCESS_RATE, /* 429 by limit_req */
    METRICS_ACCESS_AUTH, /* 401 by auth_basic (credentials missing or wrong) */
    METRICS_N_ACCESS,
};

/* One worker's counters of one site. */
struct metrics_site_slot {
    alignas(64) _Atomic uint64_t requests[METRICS_N_METHODS][METRICS_N_CODES];
    _Atomic uint64_t duration[METRICS_N_HANDLERS][METRICS_N_BUCKETS + 1];
    _Atomic uint64_t duration_sum_us[METRICS_N_HANDLERS];
    _Atomic uint64_t bytes;                    /* response body bytes sent */
    _Atomic uint64_t access[METRICS_N_ACCESS]; /* refused by an access rule, by kind */
};

struct metrics_site {
    char *name;
    struct metrics_site_slot *_Atomic slot[METRICS_MAX_WORKERS];
    struct metrics_site *next; /* the registry's list, oldest first */
};

/* One worker's connection counters (gauges are differences of two of them). */
struct metrics_worker {
    alignas(64) _Atomic uint64_t conns_opened;
    _Atomic uint64_t conns_closed;
    _Atomic uint64_t requests_started; /* the request line was read */
    _Atomic uint64_t requests_done;    /* ... and the request completed (or was cut off) */
    _Atomic uint64_t refused_ip;       /* refused by max_connections_per_ip */
};

/** The registry's entry for site name, made on first use. Never freed. Thread-safe (a mutex:
 *  for runtimes being made, never on a request). */
struct metrics_site *metrics_site_get(const char *name);
/** Call fn for every registered site, in registration order. Thread-safe. */
void metrics_site_each(void (*fn)(struct metrics_site *s, void *ctx), void *ctx);

/** A request of site s completed on worker `worker` (its own thread: single writer). */
void metrics_request_done(struct metrics_site *s, unsigned worker, enum metrics_method m,
                          unsigned status, enum metrics_handler h, uint64_t duration_us,
                          uint64_t bytes);

/** A request of site s was refused by an access rule (worker's own thread: single writer). */
void metrics_access_refused(struct metrics_site *s, unsigned worker, enum metrics_access k);

/* The merged counters of a site (metrics_site_sum). */
struct metrics_site_totals {
    uint64_t requests[METRICS_N_METHODS][METRICS_N_CODES];
    struct metrics_histogram duration[METRICS_N_HANDLERS];
    uint64_t bytes;
    uint64_t access[METRICS_N_ACCESS];
};
/** Add up every worker's counters of s. Any thread. */
void metrics_site_sum(const struct metrics_site *s, struct metrics_site_totals *t);

/** Worker i's connection counters (written only by worker i). */
struct metrics_worker *metrics_worker(unsigned i);
/** Add up every worker's connection counters. Any thread. */
void metrics_worker_sum(struct metrics_worker *out_plain);

/** A relaxed increment by a counter's only writer (no lock, no locked instruction). */
static inline void metrics_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

#endif
