/*
 * site: see include/site.h. The table and the pins; the parts are made and destroyed by
 * sites.c. The root cache lives here because it is per-site state that outlives requests.
 */
#include "site.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "release.h"
#include "util.h"

struct site_table *site_table_new(const struct config *cfg)
{
    struct site_table *t = xcalloc(1, sizeof *t);
    t->cfg = cfg;
    t->n = cfg->n_sites;
    t->v = xcalloc(t->n ? t->n : 1, sizeof *t->v);
    for (size_t i = 0; i < t->n; i++) {
        struct site *s = &t->v[i];
        assert(cfg->sites[i].pos == i);
        s->conf = &cfg->sites[i];
        s->stats = metrics_site_get(s->conf->name);
        atomic_init(&s->pins, 0);
        pthread_mutex_init(&s->root.lock, NULL);
    }
    return t;
}

void site_table_free(struct site_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        assert(!t->v[i].pool && !t->v[i].git && !t->v[i].log);
        pthread_mutex_destroy(&t->v[i].root.lock);
    }
    free(t->v);
    free(t);
}

unsigned site_table_pins(const struct site_table *t)
{
    unsigned n = 0;
    for (size_t i = 0; t && i < t->n; i++)
        n += atomic_load(&t->v[i].pins);
    return n;
}

struct site *site_of(const struct site_table *t, const struct site_conf *conf)
{
    assert(conf && conf->pos < t->n && t->v[conf->pos].conf == conf);
    return &t->v[conf->pos];
}

struct site *site_for_host(const struct site_table *t, const char *host)
{
    const struct site_conf *conf = config_site_for_host(t->cfg, host);
    return conf ? site_of(t, conf) : NULL;
}

void site_pin(struct site *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->pins, 1, memory_order_relaxed);
}

void site_unpin(struct site *s)
{
    if (!s)
        return;
    unsigned before = atomic_fetch_sub_explicit(&s->pins, 1, memory_order_release);
    assert(before > 0);
    (void)before;
}

/*
 * realpath() walks every component, so it is redone only when the root symlink points
 * elsewhere (a deploy switched it, maybe from another process: wharf --rollback); one
 * readlink() per call tells. A root that is a plain directory (it cannot be swapped for a
 * symlink atomically, rename(2) refuses) is resolved again once a second instead, which saves
 * that syscall on most sites and still follows a switched symlink higher up its path
 * (root = /srv/current/public) within a second.
 */
#define PLAIN_ROOT_RECHECK_MS 1000

void site_resolved_root(struct site *s, char *out, size_t n)
{
    struct site_root_cache *rc = &s->root;
    const char *root = s->conf->root;
    uint64_t now = clock_ms();
    pthread_mutex_lock(&rc->lock);
    bool hit = rc->real[0] && rc->plain && now - rc->checked_ms < PLAIN_ROOT_RECHECK_MS;
    if (hit)
        copy_str(out, n, rc->real);
    pthread_mutex_unlock(&rc->lock);
    if (hit)
        return;
    char link[PATH_MAX];
    ssize_t len = readlink(root, link, sizeof link - 1);
    bool plain = len < 0 && errno == EINVAL; /* exists, not a symlink */
    link[len > 0 ? len : 0] = '\0';
    pthread_mutex_lock(&rc->lock);
    /* a plain root is resolved afresh each time: a symlink higher up (/srv/current/public)
     * may have been switched */
    hit = !plain && rc->real[0] && strcmp(rc->link, link) == 0;
    if (hit) {
        copy_str(out, n, rc->real);
        rc->plain = plain;
        rc->checked_ms = now;
    }
    pthread_mutex_unlock(&rc->lock);
    if (hit)
        return;
    char *real = realpath(root, NULL);
    snprintf(out, n, "%s", real ? real : root);
    if (real) {
        pthread_mutex_lock(&rc->lock);
        snprintf(rc->link, sizeof rc->link, "%s", link);
        snprintf(rc->real, sizeof rc->real, "%s", real);
        rc->plain = plain;
        rc->checked_ms = now;
        pthread_mutex_unlock(&rc->lock);
    }
    free(real);
}

void site_backend_root(struct site *s, char *out, size_t n)
{
    const struct site_conf *c = s->conf;
    char link[PATH_MAX];
    ssize_t len = s->git ? readlink(c->root, link, sizeof link - 1) : -1;
    if (len <= 0 || link[0] == '/') {
        copy_str(out, n, c->fcgi.root);
        return;
    }
    link[len] = '\0';
    char *p = release_backend_path(c->fcgi.root, link);
    copy_str(out, n, p);
    free(p);
}
