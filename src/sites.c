/*
 * sites: see include/sites.h. Depends on every part's module (access_log, fcgi_pool,
 * git_worker, fpm_supervisor); only main depends on it, so the request code, which only sees
 * site.h, stays out of any module cycle.
 */
#include "sites.h"

#include "access.h"
#include "access_log.h"
#include "fcgi_pool.h"
#include "fpm_supervisor.h"
#include "git_worker.h"
#include "log.h"
#include "reload.h"

/* The runtime in old (a reload's running table) of the site named like c; NULL = none. */
static struct site *old_site(const struct site_table *old, const struct site_conf *c)
{
    const struct site_conf *oc = old ? reload_find_site(old->cfg, c->name) : NULL;
    return oc ? site_of(old, oc) : NULL;
}

static void start_fpm(struct site_table *t, const struct site_table *old, struct errlist *errs)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].conf->fcgi.spawn) {
            if (old && old->fpm) { /* the running php-fpm serves on (its size stays) */
                t->fpm = old->fpm;
                return;
            }
            t->fpm =
                fpm_supervisor_start(t->v[i].conf->fcgi.max_conns, t->v[i].conf->fcgi.spawn_binary,
                                     t->cfg->server.dev, errs);
            t->owns_fpm = t->fpm != NULL;
            return;
        }
    }
}

static void start_pools(struct site_table *t, const struct site_table *old, struct errlist *errs)
{
    const struct upstream_addr *spawned = t->fpm ? fpm_supervisor_upstream(t->fpm) : NULL;
    for (size_t i = 0; i < t->n; i++) {
        struct site *s = &t->v[i];
        const struct site_conf *c = s->conf;
        struct site *o = old_site(old, c);
        if (o && o->pool && reload_same_upstreams(o->conf, c)) {
            s->pool = o->pool; /* kept, with its connections: sites_commit hands it over */
            continue;
        }
        if (c->fcgi.n_upstreams)
            s->pool =
                fcgi_pool_new(c->name, &c->fcgi, c->fcgi.upstreams, c->fcgi.n_upstreams, errs);
        else if (c->fcgi.spawn && spawned)
            s->pool = fcgi_pool_new(c->name, &c->fcgi, spawned, 1, errs);
        s->owns_pool = s->pool != NULL;
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

struct site_table *sites_reload(const struct config *cfg, const struct site_table *old,
                                struct errlist *errs)
{
    struct site_table *t = site_table_new(cfg);
    size_t before = errs->n;
    start_fpm(t, old, errs);
    if (errs->n == before)
        start_pools(t, old, errs);
    if (errs->n == before)
        open_logs(t, errs);
    for (size_t i = 0; i < t->n && errs->n == before; i++) {
        const struct site_conf *c = t->v[i].conf;
        const struct site *o = old_site(old, c); /* an unchanged limit keeps its buckets */
        t->v[i].access = access_new(&c->access, c->name, o ? o->access : NULL,
                                    o ? &o->conf->access : NULL, errs);
    }
    if (errs->n != before) {
        sites_stop(t);
        return NULL;
    }
    for (size_t i = 0; i < t->n; i++) {
        struct site *s = &t->v[i];
        if (!s->conf->git.repo)
            continue;
        struct site *o = old_site(old, s->conf);
        if (o && o->git && reload_same_git(o->conf, s->conf)) {
            s->git = o->git; /* releases and deploy state kept: sites_commit hands it over */
        } else {
            s->git = git_worker_add(s->conf, old == NULL);
            s->owns_git = true;
        }
    }
    return t;
}

struct site_table *sites_start(const struct config *cfg, struct errlist *errs)
{
    return sites_reload(cfg, NULL, errs);
}

void sites_commit(struct site_table *t, struct site_table *old)
{
    if (t->fpm && !t->owns_fpm) {
        t->owns_fpm = true;
        old->owns_fpm = false;
    }
    for (size_t i = 0; i < t->n; i++) {
        struct site *s = &t->v[i];
        struct site *o = old_site(old, s->conf);
        if (s->pool && !s->owns_pool) {
            s->owns_pool = true;
            o->owns_pool = false;
        }
        if (s->git && !s->owns_git) {
            git_worker_rebind(s->git, s->conf);
            s->owns_git = true;
            o->owns_git = false;
        }
    }
    for (size_t i = 0; i < old->n; i++) {
        struct site *o = &old->v[i];
        if (o->owns_pool)
            fcgi_pool_retire(o->pool);
        if (o->owns_git)
            git_worker_detach(o->git); /* no more deploys; freed by sites_stop */
    }
}

bool sites_unused(const struct site_table *t)
{
    if (site_table_pins(t))
        return false;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].owns_pool && !fcgi_pool_unused(t->v[i].pool))
            return false;
    return true;
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
        if (s->owns_git)
            git_worker_remove(s->git);
        s->git = NULL;
        access_log_close(s->log); /* the last site using the file closes it */
        s->log = NULL;
        if (s->owns_pool)
            fcgi_pool_free(s->pool);
        s->pool = NULL;
        s->owns_git = s->owns_pool = false;
        access_free(s->access);
        s->access = NULL;
    }
    if (t->owns_fpm)
        fpm_supervisor_stop(t->fpm);
    t->fpm = NULL;
    site_table_free(t);
}
