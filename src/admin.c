/*
 * admin: see include/admin.h.
 *
 * Every answer is made from scratch on the admin thread: it reads the per-worker counters
 * (metrics.h: relaxed loads, no lock a worker takes), each FastCGI pool's figures (one lock
 * round-trip per pool, fcgi_pool_get_stats), the git states (their status lock) and the file
 * caches (their lock). The site table it reports on is read under table_lock, which a reload
 * takes to swap it (admin_set_sites), so a scrape never reads a table being stopped.
 * Nothing here is on a request's path.
 */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fcgi_pool.h"
#include "fpm_supervisor.h"
#include "git_worker.h"
#include "health.h"
#include "http_front.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "prom.h"
#include "site.h"
#include "static_file.h"
#include "util.h"
#include "worker.h"

#define ADMIN_MAX_DAEMONS 8
#define ADMIN_MAX_BYTES (16u << 20) /* a page never grows past this */
#define LIVEZ_STALL_MS 5000         /* a loop that did not turn this long is stuck */

static struct MHD_Daemon *daemons[ADMIN_MAX_DAEMONS];
static size_t n_daemons;
static const struct config *cfg;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct site_table *sites; /* under table_lock */
static time_t started_at;

/* ---- /livez ------------------------------------------------------------------------------ */

static unsigned livez(struct buf *out)
{
    uint64_t now = clock_ms();
    unsigned n = worker_count(), stuck = 0;
    buf_puts(out, "{\"live\":");
    struct buf w;
    buf_init(&w, 0);
    for (unsigned i = 0; i < n; i++) {
        uint64_t beat = worker_heartbeat_ms(i), age = now > beat ? now - beat : 0;
        stuck += age > LIVEZ_STALL_MS;
        buf_printf(&w, "%s{\"worker\":%u,\"last_turn_ms_ago\":%llu,\"connections\":%u,"
                       "\"accepting\":%s}",
                   i ? "," : "", i, (unsigned long long)age, worker_connections(i),
                   worker_accepting(i) ? "true" : "false");
    }
    bool live = n > 0 && stuck == 0;
    buf_printf(out, "%s,\"workers\":[%s]}\n", live ? "true" : "false", w.data ? w.data : "");
    buf_dispose(&w);
    return live ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
}

/* ---- /readyz ----------------------------------------------------------------------------- */

#define DETAIL_LEN 96

static unsigned readyz(struct buf *out)
{
    pthread_mutex_lock(&table_lock);
    size_t n_sites = sites ? sites->n : 0;
    struct health_check *c = xcalloc(2 * n_sites + 1, sizeof *c);
    char(*detail)[DETAIL_LEN] = xcalloc(2 * n_sites + 1, DETAIL_LEN);
    size_t n = 0;
    size_t configured;
    unsigned open = http_front_listeners_open(&configured);
    snprintf(detail[n], DETAIL_LEN, "%u of %zu listen sockets open", open, configured);
    c[n] = (struct health_check){"listeners", NULL, configured && open == configured, detail[n]};
    n++;
    for (size_t i = 0; i < n_sites; i++) {
        struct site *s = &sites->v[i];
        if (s->git) {
            bool live = git_worker_is_live(s->git);
            bool confirmed = git_worker_is_confirmed(s->git);
            c[n] = (struct health_check){
                "git", s->conf->name, live && confirmed,
                !live        ? "no live release yet (first deploy)"
                : !confirmed ? "first deploy since the start not finished (the live release is "
                               "from an earlier run and may be older than the branch)"
                             : NULL};
            n++;
        }
        if (s->pool) {
            size_t total;
            unsigned up = fcgi_pool_upstreams_up(s->pool, &total);
            snprintf(detail[n], DETAIL_LEN,
                     "%u of %zu FastCGI upstreams up (the others are "
                     "marked down after failures)",
                     up, total);
            c[n] = (struct health_check){"fastcgi", s->conf->name, up > 0, detail[n]};
            n++;
        }
    }
    bool ready = health_ready(lifecycle_get(), c, n, out);
    pthread_mutex_unlock(&table_lock);
    free(c);
    free(detail);
    return ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
}

/* ---- /metrics ---------------------------------------------------------------------------- */

static const char *const code_names[METRICS_N_CODES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
/* enum fcgi_fail, as the kind label */
static const char *const fail_kinds[FCGI_FAIL_KINDS] = {
    [FCGI_FAIL_CONNECT] = "connect",
    [FCGI_FAIL_TIMEOUT] = "timeout",
    [FCGI_FAIL_OVERLOAD] = "overload",
    [FCGI_FAIL_PROTOCOL] = "protocol",
};

static double seconds(uint64_t us)
{
    return (double)us / 1e6;
}

/* The merged counters of every registered site (sites a reload removed included). */
struct site_sums {
    size_t n;
    const char **name; /* the registry's, never freed */
    struct metrics_site_totals *t;
};

static void sum_site(struct metrics_site *s, void *ctx)
{
    struct site_sums *ss = ctx;
    ss->t = xrealloc(ss->t, (ss->n + 1) * sizeof *ss->t);
    ss->name = xrealloc(ss->name, (ss->n + 1) * sizeof *ss->name);
    ss->name[ss->n] = s->name;
    metrics_site_sum(s, &ss->t[ss->n]);
    ss->n++;
}

static void request_metrics(struct buf *b)
{
    struct site_sums *ss = xcalloc(1, sizeof *ss);
    metrics_site_each(sum_site, ss);
    prom_family(b, "wharf_http_requests_total", "counter",
                "HTTP requests completed, by site, method class and status class.");
    for (size_t i = 0; i < ss->n; i++)
        for (unsigned m = 0; m < METRICS_N_METHODS; m++)
            for (unsigned k = 0; k < METRICS_N_CODES; k++) {
                uint64_t v = ss->t[i].requests[m][k];
                if (!v)
                    continue;
                struct prom_label l[] = {{"site", ss->name[i]},
                                         {"method", metrics_method_names[m]},
                                         {"code", code_names[k]}};
                prom_u64(b, "wharf_http_requests_total", l, 3, v);
            }
    prom_family(b, "wharf_http_request_duration_seconds", "histogram",
                "Time from the request line to the end of the response, by site and handler.");
    for (size_t i = 0; i < ss->n; i++)
        for (unsigned h = 0; h < METRICS_N_HANDLERS; h++) {
            const struct metrics_histogram *d = &ss->t[i].duration[h];
            uint64_t count = 0;
            for (unsigned k = 0; k <= METRICS_N_BUCKETS; k++)
                count += d->counts[k];
            if (!count)
                continue;
            struct prom_label l[] = {{"site", ss->name[i]}, {"handler", metrics_handler_names[h]}};
            prom_histogram(b, "wharf_http_request_duration_seconds", l, 2, metrics_bounds_s,
                           d->counts, METRICS_N_BUCKETS, seconds(d->sum_us));
        }
    prom_family(b, "wharf_http_response_bytes_total", "counter",
                "Response body bytes sent (headers not included), by site.");
    for (size_t i = 0; i < ss->n; i++) {
        struct prom_label l[] = {{"site", ss->name[i]}};
        prom_u64(b, "wharf_http_response_bytes_total", l, 1, ss->t[i].bytes);
    }
    /* one family per rule kind: a dashboard graphs limit_req apart from the others */
    static const struct {
        const char *name, *help;
    } access_families[METRICS_N_ACCESS] = {
        [METRICS_ACCESS_IP] = {"wharf_ip_refused_total",
                               "Requests refused (403) by allow_ip/deny_ip, by site."},
        [METRICS_ACCESS_RATE] = {"wharf_rate_limited_total",
                                 "Requests refused (429) by limit_req, by site."},
        [METRICS_ACCESS_AUTH] = {"wharf_auth_failed_total",
                                 "Requests refused (401) by auth_basic, by site."},
    };
    for (unsigned k = 0; k < METRICS_N_ACCESS; k++) {
        prom_family(b, access_families[k].name, "counter", access_families[k].help);
        for (size_t i = 0; i < ss->n; i++) {
            struct prom_label l[] = {{"site", ss->name[i]}};
            prom_u64(b, access_families[k].name, l, 1, ss->t[i].access[k]);
        }
    }
    free(ss->t);
    free(ss->name);
    free(ss);
}

static void connection_metrics(struct buf *b)
{
    struct metrics_worker w;
    metrics_worker_sum(&w);
    uint64_t opened = atomic_load(&w.conns_opened), closed = atomic_load(&w.conns_closed);
    uint64_t started = atomic_load(&w.requests_started), done = atomic_load(&w.requests_done);
    uint64_t open = opened > closed ? opened - closed : 0;
    uint64_t active = started > done ? started - done : 0;
    struct http_front_stats fs;
    http_front_get_stats(&fs);
    prom_family(b, "wharf_http_connections", "gauge", "Client connections open now.");
    prom_u64(b, "wharf_http_connections", NULL, 0, open);
    prom_family(b, "wharf_http_idle_connections", "gauge",
                "Client connections open now without a request in progress (keep-alive).");
    prom_u64(b, "wharf_http_idle_connections", NULL, 0, open > active ? open - active : 0);
    prom_family(b, "wharf_http_connections_accepted_total", "counter",
                "Client connections accepted.");
    prom_u64(b, "wharf_http_connections_accepted_total", NULL, 0, opened);
    prom_family(b, "wharf_http_connections_refused_total", "counter",
                "Client connections refused by a limit.");
    struct prom_label ip[] = {{"limit", "max_connections_per_ip"}};
    prom_u64(b, "wharf_http_connections_refused_total", ip, 1, atomic_load(&w.refused_ip));
    struct prom_label mc[] = {{"limit", "max_connections"}};
    prom_u64(b, "wharf_http_connections_refused_total", mc, 1, fs.refused_max_connections);
    prom_family(b, "wharf_http_heads_refused_total", "counter",
                "Request heads refused as malformed (400, 501, 505) before routing.");
    prom_u64(b, "wharf_http_heads_refused_total", NULL, 0, fs.heads_refused);
    prom_family(b, "wharf_mhd_log_messages_total", "counter",
                "Warnings libmicrohttpd reported (rate-limited in the error log).");
    prom_u64(b, "wharf_mhd_log_messages_total", NULL, 0, fs.mhd_log_lines);
    prom_family(b, "wharf_mhd_log_suppressed_total", "counter",
                "libmicrohttpd warnings left out of the error log by the rate limit.");
    prom_u64(b, "wharf_mhd_log_suppressed_total", NULL, 0, fs.mhd_log_suppressed);
}

/* Per FastCGI site and upstream. The pools' snapshots are taken once, then written family by
 * family (the format wants each family's samples together). */
static void fastcgi_metrics(struct buf *b, struct site_table *t)
{
    size_t n = 0;
    struct fcgi_pool_stats *st = xcalloc(t->n ? t->n : 1, sizeof *st);
    const char **name = xcalloc(t->n ? t->n : 1, sizeof *name);
    for (size_t i = 0; i < t->n; i++) {
        if (!t->v[i].pool)
            continue;
        fcgi_pool_get_stats(t->v[i].pool, &st[n]);
        name[n++] = t->v[i].conf->name;
    }
    if (!n)
        goto out;
    static const char *const gauges[][2] = {
        {"wharf_fastcgi_upstream_busy_connections",
         "Connections to the upstream carrying a request (connecting included)."},
        {"wharf_fastcgi_upstream_idle_connections",
         "Connections to the upstream kept open without a request."},
        {"wharf_fastcgi_upstream_down",
         "1 while the upstream is marked down after a failure (skipped by the balancer)."},
    };
    for (unsigned g = 0; g < 3; g++) {
        prom_family(b, gauges[g][0], "gauge", gauges[g][1]);
        for (size_t i = 0; i < n; i++)
            for (size_t u = 0; u < st[i].n_upstreams; u++) {
                const struct fcgi_upstream_stats *us = &st[i].upstreams[u];
                struct prom_label l[] = {{"site", name[i]}, {"upstream", us->name}};
                prom_u64(b, gauges[g][0], l, 2,
                         g == 0   ? us->busy
                         : g == 1 ? us->idle
                                  : (uint64_t)us->down);
            }
    }
    prom_family(b, "wharf_fastcgi_upstream_failures_total", "counter",
                "Attempts that failed on the upstream, by kind (connect, timeout, protocol, "
                "overload); a failed attempt may be retried on another upstream.");
    for (size_t i = 0; i < n; i++)
        for (size_t u = 0; u < st[i].n_upstreams; u++)
            for (unsigned k = 1; k < FCGI_FAIL_KINDS; k++) {
                struct prom_label l[] = {{"site", name[i]},
                                         {"upstream", st[i].upstreams[u].name},
                                         {"kind", fail_kinds[k]}};
                prom_u64(b, "wharf_fastcgi_upstream_failures_total", l, 3,
                         st[i].upstreams[u].failures[k]);
            }
    prom_family(b, "wharf_fastcgi_request_failures_total", "counter",
                "FastCGI requests answered with an error (502, 503, 504), by kind.");
    for (size_t i = 0; i < n; i++)
        for (unsigned k = 1; k < FCGI_FAIL_KINDS; k++) {
            struct prom_label l[] = {{"site", name[i]}, {"kind", fail_kinds[k]}};
            prom_u64(b, "wharf_fastcgi_request_failures_total", l, 2, st[i].failures[k]);
        }
    prom_family(b, "wharf_fastcgi_queue_length", "gauge",
                "Requests waiting for a FastCGI connection now.");
    for (size_t i = 0; i < n; i++) {
        struct prom_label l[] = {{"site", name[i]}};
        prom_u64(b, "wharf_fastcgi_queue_length", l, 1, st[i].queued);
    }
    prom_family(b, "wharf_fastcgi_queue_wait_seconds", "histogram",
                "Time requests waited in the queue for a FastCGI connection (those that "
                "waited; served or timed out).");
    for (size_t i = 0; i < n; i++) {
        struct prom_label l[] = {{"site", name[i]}};
        prom_histogram(b, "wharf_fastcgi_queue_wait_seconds", l, 1, metrics_bounds_s,
                       st[i].queue_wait.counts, METRICS_N_BUCKETS,
                       seconds(st[i].queue_wait.sum_us));
    }
    for (size_t i = 0; i < n; i++)
        fcgi_pool_stats_dispose(&st[i]);
out:
    free(st);
    free(name);
    if (t->fpm) {
        prom_family(b, "wharf_php_fpm_restarts_total", "counter",
                    "Times the php-fpm wharf runs (fastcgi = spawn) was restarted after it died.");
        prom_u64(b, "wharf_php_fpm_restarts_total", NULL, 0, fpm_supervisor_restarts(t->fpm));
    }
}

static void git_metrics(struct buf *b, struct site_table *t)
{
    size_t n = 0;
    struct git_worker_stats *st = xcalloc(t->n ? t->n : 1, sizeof *st);
    const char **name = xcalloc(t->n ? t->n : 1, sizeof *name);
    for (size_t i = 0; i < t->n; i++) {
        if (!t->v[i].git)
            continue;
        git_worker_get_stats(t->v[i].git, &st[n]);
        name[n++] = t->v[i].conf->name;
    }
    if (n) {
        prom_family(b, "wharf_git_deploys_total", "counter",
                    "Deploys of the git site by result: deployed (a new release went live), "
                    "unchanged (the commit was live already), failed.");
        for (size_t i = 0; i < n; i++) {
            const char *res[] = {"deployed", "unchanged", "failed"};
            unsigned v[] = {st[i].deployed, st[i].unchanged, st[i].failed};
            for (unsigned k = 0; k < 3; k++) {
                struct prom_label l[] = {{"site", name[i]}, {"result", res[k]}};
                prom_u64(b, "wharf_git_deploys_total", l, 2, v[k]);
            }
        }
        prom_family(b, "wharf_git_check_failures_total", "counter",
                    "Deploys stopped by git_check: before_switch (refused, the old release "
                    "stayed live), after_switch (rolled back after failed live checks).");
        for (size_t i = 0; i < n; i++) {
            const char *stage[] = {"before_switch", "after_switch"};
            unsigned v[] = {st[i].gate_refused, st[i].gate_rollbacks};
            for (unsigned k = 0; k < 2; k++) {
                struct prom_label l[] = {{"site", name[i]}, {"stage", stage[k]}};
                prom_u64(b, "wharf_git_check_failures_total", l, 2, v[k]);
            }
        }
        prom_family(b, "wharf_git_last_deploy_duration_seconds", "gauge",
                    "Duration of the last deploy attempt that ended.");
        for (size_t i = 0; i < n; i++) {
            struct prom_label l[] = {{"site", name[i]}};
            prom_double(b, "wharf_git_last_deploy_duration_seconds", l, 1,
                        (double)st[i].last_duration_ms / 1e3);
        }
        prom_family(b, "wharf_git_last_deploy_timestamp_seconds", "gauge",
                    "Unix time the last deploy attempt started (0 = none yet).");
        for (size_t i = 0; i < n; i++) {
            struct prom_label l[] = {{"site", name[i]}};
            prom_u64(b, "wharf_git_last_deploy_timestamp_seconds", l, 1,
                     (uint64_t)(st[i].last_attempt > 0 ? st[i].last_attempt : 0));
        }
        prom_family(b, "wharf_git_last_success_timestamp_seconds", "gauge",
                    "Unix time a new release last went live (0 = none since start).");
        for (size_t i = 0; i < n; i++) {
            struct prom_label l[] = {{"site", name[i]}};
            prom_u64(b, "wharf_git_last_success_timestamp_seconds", l, 1,
                     (uint64_t)(st[i].last_success > 0 ? st[i].last_success : 0));
        }
        prom_family(b, "wharf_git_live_info", "gauge",
                    "The commit the site serves (1 per site with a live release).");
        for (size_t i = 0; i < n; i++) {
            if (!st[i].live)
                continue;
            struct prom_label l[] = {{"site", name[i]}, {"commit", st[i].live_commit}};
            prom_u64(b, "wharf_git_live_info", l, 2, 1);
        }
    }
    free(st);
    free(name);
}

static void cache_metrics(struct buf *b)
{
    struct static_file_cache_stats c[2];
    static_file_cache_stats(&c[0], &c[1]);
    const char *names[] = {"file", "gzip"};
    static const char *const fam[][3] = {
        {"wharf_file_cache_hits_total", "counter", "Lookups that found a valid entry."},
        {"wharf_file_cache_misses_total", "counter",
         "Lookups that found none (or a stale one): read from disk."},
        {"wharf_file_cache_bytes", "gauge", "Bytes of bodies held."},
        {"wharf_file_cache_entries", "gauge", "Entries held."},
    };
    for (unsigned f = 0; f < 4; f++) {
        prom_family(b, fam[f][0], fam[f][1], fam[f][2]);
        for (unsigned i = 0; i < 2; i++) {
            struct prom_label l[] = {{"cache", names[i]}};
            uint64_t v = f == 0   ? c[i].hits
                         : f == 1 ? c[i].misses
                         : f == 2 ? c[i].bytes
                                  : c[i].entries;
            prom_u64(b, fam[f][0], l, 1, v);
        }
    }
}

static unsigned metrics(struct buf *b)
{
    prom_family(b, "wharf_build_info", "gauge", "wharf's version (and libmicrohttpd's); 1.");
    struct prom_label bl[] = {{"version", PACKAGE_VERSION}, {"libmicrohttpd", MHD_get_version()}};
    prom_u64(b, "wharf_build_info", bl, 2, 1);
    prom_family(b, "wharf_start_time_seconds", "gauge", "Unix time wharf started.");
    prom_u64(b, "wharf_start_time_seconds", NULL, 0, (uint64_t)started_at);
    prom_family(b, "wharf_draining", "gauge", "1 from SIGTERM on (stopping), else 0.");
    prom_u64(b, "wharf_draining", NULL, 0, lifecycle_draining());
    request_metrics(b);
    connection_metrics(b);
    pthread_mutex_lock(&table_lock);
    if (sites) {
        fastcgi_metrics(b, sites);
        git_metrics(b, sites);
    }
    pthread_mutex_unlock(&table_lock);
    cache_metrics(b);
    return MHD_HTTP_OK;
}

/* ---- /status ----------------------------------------------------------------------------- */

static void json_str(struct buf *b, const char *s)
{
    buf_putc(b, '"');
    buf_append_json(b, s, strlen(s));
    buf_putc(b, '"');
}

static void status_site(struct buf *b, struct site *s, bool first)
{
    struct metrics_site_totals t;
    metrics_site_sum(s->stats, &t);
    buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
    json_str(b, s->conf->name);
    buf_puts(b, ",\"requests\":{");
    for (unsigned k = 0; k < METRICS_N_CODES; k++) {
        uint64_t v = 0;
        for (unsigned m = 0; m < METRICS_N_METHODS; m++)
            v += t.requests[m][k];
        buf_printf(b, "%s\"%s\":%llu", k ? "," : "", code_names[k], (unsigned long long)v);
    }
    buf_printf(b, "},\"response_bytes\":%llu", (unsigned long long)t.bytes);
    if (s->pool) {
        struct fcgi_pool_stats st;
        fcgi_pool_get_stats(s->pool, &st);
        buf_printf(b, ",\"fastcgi\":{\"queued\":%zu,\"upstreams\":[", st.queued);
        for (size_t u = 0; u < st.n_upstreams; u++) {
            const struct fcgi_upstream_stats *us = &st.upstreams[u];
            buf_puts(b, u ? ",{\"name\":" : "{\"name\":");
            json_str(b, us->name);
            buf_printf(b, ",\"busy\":%u,\"idle\":%u,\"down\":%s,\"failures\":{", us->busy, us->idle,
                       us->down ? "true" : "false");
            for (unsigned k = 1; k < FCGI_FAIL_KINDS; k++)
                buf_printf(b, "%s\"%s\":%llu", k > 1 ? "," : "", fail_kinds[k],
                           (unsigned long long)us->failures[k]);
            buf_puts(b, "}}");
        }
        buf_puts(b, "]}");
        fcgi_pool_stats_dispose(&st);
    }
    if (s->git) {
        buf_puts(b, ",\"git\":");
        git_worker_status_json(s->git, b);
    }
    buf_putc(b, '}');
}

static unsigned status(struct buf *b)
{
    struct metrics_worker w;
    metrics_worker_sum(&w);
    uint64_t opened = atomic_load(&w.conns_opened), closed = atomic_load(&w.conns_closed);
    uint64_t started = atomic_load(&w.requests_started), done = atomic_load(&w.requests_done);
    uint64_t open = opened > closed ? opened - closed : 0;
    uint64_t active = started > done ? started - done : 0;
    buf_puts(b, "{\"version\":");
    json_str(b, PACKAGE_VERSION);
    buf_puts(b, ",\"phase\":");
    json_str(b, health_phase_name(lifecycle_get()));
    buf_printf(b, ",\"started\":%lld,\"workers\":%u", (long long)started_at, worker_count());
    buf_printf(b,
               ",\"connections\":{\"open\":%llu,\"idle\":%llu,\"accepted\":%llu,"
               "\"refused_per_ip\":%llu}",
               (unsigned long long)open, (unsigned long long)(open > active ? open - active : 0),
               (unsigned long long)opened, (unsigned long long)atomic_load(&w.refused_ip));
    buf_puts(b, ",\"sites\":[");
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; sites && i < sites->n; i++)
        status_site(b, &sites->v[i], i == 0);
    if (sites && sites->fpm)
        buf_printf(b, "],\"php_fpm\":{\"restarts\":%u", fpm_supervisor_restarts(sites->fpm));
    else
        buf_puts(b, "],\"php_fpm\":{");
    pthread_mutex_unlock(&table_lock);
    struct static_file_cache_stats c[2];
    static_file_cache_stats(&c[0], &c[1]);
    buf_puts(b, "},\"caches\":{");
    for (unsigned i = 0; i < 2; i++)
        buf_printf(b, "%s\"%s\":{\"hits\":%llu,\"misses\":%llu,\"bytes\":%llu,\"entries\":%zu}",
                   i ? "," : "", i ? "gzip" : "file", (unsigned long long)c[i].hits,
                   (unsigned long long)c[i].misses, (unsigned long long)c[i].bytes, c[i].entries);
    buf_puts(b, "}}\n");
    return MHD_HTTP_OK;
}

/* ---- the daemon -------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, struct buf *b,
                             const char *type, const char *allow)
{
    size_t len;
    char *body = buf_steal(b, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body ? body : "", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    if (!*con_cls) { /* first call: the head only; answer on the next (keeps keep-alive) */
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body nobody reads */
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct buf b;
    buf_init(&b, ADMIN_MAX_BYTES);
    const char *json = "application/json";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        buf_puts(&b, "{\"error\":\"method not allowed\"}\n");
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, &b, json, "GET, HEAD");
    }
    unsigned st;
    const char *type = json;
    if (strcmp(url, "/livez") == 0) {
        st = livez(&b);
    } else if (strcmp(url, "/readyz") == 0) {
        st = readyz(&b);
    } else if (strcmp(url, "/metrics") == 0) {
        st = metrics(&b);
        type = PROM_CONTENT_TYPE;
    } else if (strcmp(url, "/status") == 0) {
        st = status(&b);
    } else {
        buf_puts(&b, "{\"error\":\"not found\",\"paths\":[\"/livez\",\"/readyz\",\"/metrics\","
                     "\"/status\"]}\n");
        st = MHD_HTTP_NOT_FOUND;
    }
    return reply(c, st, &b, type, NULL);
}

static void on_admin_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    log_msg(LOG_DEBUG, "admin", 0, "%s", msg);
}

/* Bind every address of la; the fds go to out. */
static int bind_admin(const struct listen_addr *la, int *out, size_t max, size_t *n,
                      struct errlist *errs)
{
    char port[8];
    snprintf(port, sizeof port, "%u", la->port);
    struct addrinfo hints = {.ai_family = la->host ? AF_UNSPEC : AF_INET6,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(la->host, port, &hints, &res);
    if (gai != 0 && !la->host) {
        hints.ai_family = AF_INET;
        gai = getaddrinfo(NULL, port, &hints, &res);
    }
    if (gai != 0)
        return errlist_add(errs, "cannot listen on admin address %s: %s", la->text,
                           gai_strerror(gai));
    int rc = 0;
    for (struct addrinfo *ai = res; ai && *n < max; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int on = 1, off = 0;
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
            if (ai->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, la->host ? &on : &off, sizeof on);
        }
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            rc = errlist_add(errs, "cannot listen on admin address %s: %s", la->text,
                             strerror(errno));
            if (fd >= 0)
                close(fd);
            break;
        }
        out[(*n)++] = fd;
        if (!la->host)
            break; /* one dual-stack socket */
    }
    freeaddrinfo(res);
    return rc;
}

int admin_start(const struct config *config, struct site_table *table, struct errlist *errs)
{
    cfg = config;
    admin_set_sites(table);
    started_at = time(NULL);
    const struct server_conf *s = &cfg->server;
    int fds[ADMIN_MAX_DAEMONS];
    const char *texts[ADMIN_MAX_DAEMONS];
    size_t n = 0;
    for (size_t i = 0; i < s->n_admin_listen; i++) {
        size_t before = n;
        if (bind_admin(&s->admin_listen[i], fds, ADMIN_MAX_DAEMONS, &n, errs) != 0)
            break;
        for (size_t j = before; j < n; j++)
            texts[j] = s->admin_listen[i].text;
    }
    for (size_t i = 0; i < n && !errs->n; i++) {
        struct MHD_Daemon *d =
            MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0,
                             NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_admin_log,
                             NULL, MHD_OPTION_LISTEN_SOCKET, fds[i], MHD_OPTION_CONNECTION_LIMIT,
                             64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
        if (!d) {
            errlist_add(errs, "cannot start the admin listener on %s", texts[i]);
            break;
        }
        fds[i] = -1; /* the daemon's now */
        daemons[n_daemons++] = d;
        log_info("admin", 0, "admin endpoints on %s (/livez /readyz /metrics /status)", texts[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (errs->n) {
        admin_stop();
        return -1;
    }
    return 0;
}

void admin_set_sites(struct site_table *table)
{
    pthread_mutex_lock(&table_lock);
    sites = table;
    pthread_mutex_unlock(&table_lock);
}

void admin_stop(void)
{
    for (size_t i = 0; i < n_daemons; i++)
        MHD_stop_daemon(daemons[i]);
    n_daemons = 0;
    admin_set_sites(NULL);
}
