#include <pthread.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"

#define PER_THREAD 100000

static struct metrics_site *shared;

static void *hammer(void *arg)
{
    unsigned w = (unsigned)(size_t)arg;
    for (unsigned i = 0; i < PER_THREAD; i++)
        metrics_request_done(shared, w, METRICS_GET, 200, METRICS_STATIC, 100, 10);
    return NULL;
}

static void count(struct metrics_site *s, void *ctx)
{
    (void)s;
    (*(int *)ctx)++;
}

int main(void)
{
    is_int(metrics_bucket(0), 0, "0 us: first bucket");
    is_int(metrics_bucket(500), 0, "exactly the bound (0.5 ms) is in its bucket (le)");
    is_int(metrics_bucket(501), 1, "just above: the next bucket");
    is_int(metrics_bucket(10000000), METRICS_N_BUCKETS - 1, "10 s: the last bound");
    is_int(metrics_bucket(10000001), METRICS_N_BUCKETS, "above every bound: +Inf only");
    is_int(metrics_method_of("GET"), METRICS_GET, "GET");
    is_int(metrics_method_of("OPTIONS"), METRICS_OPTIONS, "OPTIONS");
    is_int(metrics_method_of("get"), METRICS_OTHER, "methods are case-sensitive: other");
    is_int(metrics_method_of("PROPFIND"), METRICS_OTHER, "unknown method: other");
    is_int(metrics_handler_of("fastcgi"), METRICS_FASTCGI, "fastcgi handler");
    is_int(metrics_handler_of(NULL), METRICS_ERROR, "no handler: error");

    struct metrics_site *a = metrics_site_get("a");
    ok(metrics_site_get("a") == a, "same name, same entry (a reload continues the series)");
    ok(metrics_site_get("b") != a, "another name, another entry");
    int n = 0;
    metrics_site_each(count, &n);
    is_int(n, 2, "the registry lists each site once");

    metrics_request_done(a, 0, METRICS_POST, 404, METRICS_ERROR, 2000, 5);
    metrics_request_done(a, 3, METRICS_POST, 404, METRICS_ERROR, 20000000, 7);
    metrics_request_done(a, 3, METRICS_GET, 499, METRICS_FASTCGI, 1, 0);
    metrics_request_done(a, 1, METRICS_GET, 0, METRICS_FASTCGI, 1, 0);
    struct metrics_site_totals t;
    metrics_site_sum(a, &t);
    is_int(t.requests[METRICS_POST][3], 2, "two workers' 4xx POSTs merged");
    is_int(t.requests[METRICS_GET][3], 1, "499 (client gone) counts as 4xx");
    is_int(t.requests[METRICS_GET][4], 1, "no status: counted as 5xx");
    is_int(t.bytes, 12, "bytes merged");
    is_int(t.duration[METRICS_ERROR].counts[metrics_bucket(2000)], 1, "2 ms in its bucket");
    is_int(t.duration[METRICS_ERROR].counts[METRICS_N_BUCKETS], 1, "20 s above every bound");
    is_int(t.duration[METRICS_ERROR].sum_us, 20002000, "duration sum");

    /* one writer per worker slot: no increment is lost while each thread writes its own */
    shared = metrics_site_get("hammered");
    pthread_t th[4];
    for (size_t i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, (void *)i);
    for (size_t i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    metrics_site_sum(shared, &t);
    is_int(t.requests[METRICS_GET][1], 4 * PER_THREAD, "4 workers: every increment counted");

    metrics_add(&metrics_worker(2)->conns_opened, 3);
    metrics_add(&metrics_worker(5)->conns_opened, 4);
    metrics_add(&metrics_worker(5)->conns_closed, 1);
    struct metrics_worker sum;
    metrics_worker_sum(&sum);
    is_int(sum.conns_opened - sum.conns_closed, 6, "open connections merged over workers");
    return done_testing();
}
