/*
 * sites: see include/sites.h. Depends on every part's module (access_log, fcgi_pool,
 * git_worker, fpm_supervisor); only main depends on it, so the request code, which only sees
 * site.h, stays out of any module cycle.
 */
#include "sites.h"

#include "access_log.h"
#include "fcgi_pool.h"
#include "fpm_supervisor.h"
#include "git_worker.h"
#include "log.h"

static void start_fpm(struct site_table *t, struct errlist *errs)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].conf->fcgi.spawn) {
            t->fpm = fpm_supervisor_start(t->v[i].conf->fcgi.max_conns, errs);
            return;
        }
    }
}

static void start_pools(struct site_table *t, struct errlist *errs)
{
    const struct upstream_addr *spawned = t->fpm ? fpm_supervisor_upstream(t->fpm) : NULL;
    for (size_t i = 0; i < t->n; i++) {
        struct site *s = &t->v[i];
        const struct site_conf *c = s->conf;
        if (c->fcgi.n_upstreams)
            s->pool =
                fcgi_pool_new(c->name, &c->fcgi, c->fcgi.upstreams, c->fcgi.n_upstreams, errs);
        else if (c->fcgi.spawn && spawned)
            s->pool = fcgi_pool_new(c->name, &c->fcgi, spawned, 1, errs);
    }
}

static void open_logs(struct site_table *t, struct errlist *errs)
{
    for (size_t i = 0; i < t->n; i++) {
        struct site *s = &t->v[i];
        const char *why;
        if (!s->conf->access_log)
            continue;
        s->log = access_log_open(s->conf->access_log, &why);
        if (!s->log) {
            errlist_add(errs, "[site %s]: access_log '%s': %s", s->conf->name, s->conf->access_log,
                        why);
            continue;
        }
        /* sites may share a file (one object per path), but not mix formats in it */
        for (size_t j = 0; j < i; j++) {
            const struct site *o = &t->v[j];
            if (o->log == s->log && o->conf->access_log_format != s->conf->access_log_format) {
                errlist_add(errs,
                            "[site %s]: access_log '%s' is also [site %s]'s, in another "
                            "access_log_format; give each format its own file",
                            s->conf->name, s->conf->access_log, o->conf->name);
                break;
            }
        }
    }
}

struct site_table *sites_start(const struct config *cfg, struct errlist *errs)
{
    struct site_table *t = site_table_new(cfg);
    size_t before = errs->n;
    start_fpm(t, errs);
    if (errs->n == before)
        start_pools(t, errs);
    if (errs->n == before)
        open_logs(t, errs);
    if (errs->n != before) {
        sites_stop(t);
        return NULL;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].conf->git.repo)
            t->v[i].git = git_worker_add(t->v[i].conf);
    return t;
}

void sites_stop(struct site_table *t)
{
    if (!t)
        return;
    unsigned pins = site_table_pins(t);
    if (pins) /* a bug: something still points into these runtimes */
        log_error("site", 0, "%u pin%s still held when the sites stop", pins, pins == 1 ? "" : "s");
    for (size_t i = t->n; i-- > 0;) {
        struct site *s = &t->v[i];
        git_worker_remove(s->git);
        s->git = NULL;
        s->log = NULL; /* the file is access_log's: access_log_shutdown() closes it */
        fcgi_pool_free(s->pool);
        s->pool = NULL;
    }
    fpm_supervisor_stop(t->fpm);
    t->fpm = NULL;
    site_table_free(t);
}
