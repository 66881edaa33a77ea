/*
 * metrics: see include/metrics.h.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const metrics_method_names[METRICS_N_METHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
};
const char *const metrics_handler_names[METRICS_N_HANDLERS] = {"static", "fastcgi", "git", "error"};
/* from half a millisecond (a cached file) to 10 s (a slow script, a long download) */
const double metrics_bounds_s[METRICS_N_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const uint64_t bounds_us[METRICS_N_BUCKETS] = {500,     1000,    2500,    5000,    10000,
                                                      25000,   50000,   100000,  250000,  500000,
                                                      1000000, 2500000, 5000000, 10000000};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_site *head, **tail = &head;
static struct metrics_worker workers[METRICS_MAX_WORKERS];

enum metrics_method metrics_method_of(const char *m)
{
    for (unsigned i = 0; i < METRICS_OTHER; i++)
        if (strcmp(m, metrics_method_names[i]) == 0)
            return (enum metrics_method)i;
    return METRICS_OTHER;
}

enum metrics_handler metrics_handler_of(const char *name)
{
    for (unsigned i = 0; name && i < METRICS_ERROR; i++)
        if (strcmp(name, metrics_handler_names[i]) == 0)
            return (enum metrics_handler)i;
    return METRICS_ERROR;
}

unsigned metrics_bucket(uint64_t us)
{
    unsigned i = 0;
    while (i < METRICS_N_BUCKETS && us > bounds_us[i])
        i++;
    return i;
}

struct metrics_site *metrics_site_get(const char *name)
{
    pthread_mutex_lock(&lock);
    struct metrics_site *s = head;
    while (s && strcmp(s->name, name) != 0)
        s = s->next;
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->name = xstrdup(name);
        *tail = s;
        tail = &s->next;
    }
    pthread_mutex_unlock(&lock);
    return s;
}

void metrics_site_each(void (*fn)(struct metrics_site *s, void *ctx), void *ctx)
{
    /* held for the walk: only runtimes being made take it, never a request */
    pthread_mutex_lock(&lock);
    for (struct metrics_site *s = head; s; s = s->next)
        fn(s, ctx);
    pthread_mutex_unlock(&lock);
}

static struct metrics_site_slot *slot_of(struct metrics_site *s, unsigned worker)
{
    struct metrics_site_slot *w = atomic_load_explicit(&s->slot[worker], memory_order_relaxed);
    if (w)
        return w;
    w = aligned_alloc(64, sizeof *w); /* sizeof is a multiple of the alignment (64) */
    if (!w)
        abort();
    memset(w, 0, sizeof *w);
    atomic_store_explicit(&s->slot[worker], w, memory_order_release);
    return w;
}

void metrics_request_done(struct metrics_site *s, unsigned worker, enum metrics_method m,
                          unsigned status, enum metrics_handler h, uint64_t duration_us,
                          uint64_t bytes)
{
    if (!s || worker >= METRICS_MAX_WORKERS)
        return;
    struct metrics_site_slot *w = slot_of(s, worker);
    unsigned code = status >= 100 && status < 600 ? status / 100 - 1 : 4; /* odd ones: 5xx */
    metrics_add(&w->requests[m][code], 1);
    metrics_add(&w->duration[h][metrics_bucket(duration_us)], 1);
    metrics_add(&w->duration_sum_us[h], duration_us);
    metrics_add(&w->bytes, bytes);
}

void metrics_access_refused(struct metrics_site *s, unsigned worker, enum metrics_access k)
{
    if (!s || worker >= METRICS_MAX_WORKERS || k >= METRICS_N_ACCESS)
        return;
    metrics_add(&slot_of(s, worker)->access[k], 1);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void metrics_site_sum(const struct metrics_site *s, struct metrics_site_totals *t)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < METRICS_MAX_WORKERS; i++) {
        struct metrics_site_slot *w =
            atomic_load_explicit(&((struct metrics_site *)s)->slot[i], memory_order_acquire);
        if (!w)
            continue;
        for (unsigned m = 0; m < METRICS_N_METHODS; m++)
            for (unsigned c = 0; c < METRICS_N_CODES; c++)
                t->requests[m][c] += LOAD(w->requests[m][c]);
        for (unsigned h = 0; h < METRICS_N_HANDLERS; h++) {
            for (unsigned b = 0; b <= METRICS_N_BUCKETS; b++)
                t->duration[h].counts[b] += LOAD(w->duration[h][b]);
            t->duration[h].sum_us += LOAD(w->duration_sum_us[h]);
        }
        t->bytes += LOAD(w->bytes);
        for (unsigned k = 0; k < METRICS_N_ACCESS; k++)
            t->access[k] += LOAD(w->access[k]);
    }
}

struct metrics_worker *metrics_worker(unsigned i)
{
    return &workers[i < METRICS_MAX_WORKERS ? i : 0];
}

void metrics_worker_sum(struct metrics_worker *out)
{
    uint64_t opened = 0, closed = 0, started = 0, done = 0, refused = 0;
    for (unsigned i = 0; i < METRICS_MAX_WORKERS; i++) {
        opened += LOAD(workers[i].conns_opened);
        closed += LOAD(workers[i].conns_closed);
        started += LOAD(workers[i].requests_started);
        done += LOAD(workers[i].requests_done);
        refused += LOAD(workers[i].refused_ip);
    }
    atomic_init(&out->conns_opened, opened);
    atomic_init(&out->conns_closed, closed);
    atomic_init(&out->requests_started, started);
    atomic_init(&out->requests_done, done);
    atomic_init(&out->refused_ip, refused);
}
