/*
 * site: the runtime of one configured site, beside its immutable configuration. A
 * `struct site` holds what serving that site needs at run time: its access log, its FastCGI
 * pool, the cache of its resolved root (DOCUMENT_ROOT), its git deploy state; a
 * `struct site_table` holds one per `[site]` of a config, plus the php-fpm that wharf runs
 * for the `fastcgi = spawn` sites (one, shared by all of them, as before).
 *
 * A request reaches its site's runtime in O(1): site_for_host() picks the configured site and
 * returns its runtime (the table is indexed by site_conf.pos); the request keeps that
 * pointer, and the configuration through s->conf.
 *
 * Ownership and pinning (the rule the reload will rely on):
 * - Only sites.c creates and destroys runtimes (sites_start / sites_stop), on the main thread.
 *   The configuration a table was built from must outlive the table.
 * - Whoever uses a runtime beyond the current call pins it: a request from the moment its
 *   site is chosen (http_front's dispatch) until NOTIFY_COMPLETED, and a FastCGI request
 *   (struct fcgi_req, which can outlive its HTTP request on an engine) for its whole life,
 *   because it points into the site's pool. site_pin/site_unpin are atomic and never block;
 *   an unpin never destroys anything.
 * - A table is destroyed only when site_table_pins() is 0: at shutdown, after every
 *   connection is closed, and after a reload (SIGHUP), which publishes a new table
 *   (http_front_swap), keeps the old one until its pins drain (checked on the main thread each
 *   second), then stops it: in-flight requests keep the runtime they started with. note: a
 *   request pins after it read the table pointer, so the old table's pins only count once
 *   every worker has finished a loop turn since the swap (worker_epoch_passed).
 * - A reload hands the parts that did not change (an upstream's pool, a git site, the spawned
 *   php-fpm) from the old runtime to the new one: both point to the part until the old table
 *   is stopped, and only the owner (owns_*) destroys it.
 *
 * This module has no dependency on the parts' modules (it only holds pointers to them), so
 * the request code can include it without a module cycle; sites.c builds the parts.
 */
#ifndef WHARF_SITE_H
#define WHARF_SITE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct access_log;
struct fcgi_pool;
struct git_site;
struct fpm_supervisor;
struct metrics_site;
struct access;

/* The resolved root, for DOCUMENT_ROOT (see site_resolved_root). */
struct site_root_cache {
    pthread_mutex_t lock;
    char link[PATH_MAX]; /* readlink(root) when resolved; "" = root is not a symlink */
    char real[PATH_MAX]; /* "" = not resolved yet */
    bool plain;          /* the root was a directory, not a symlink, at checked_ms */
    uint64_t checked_ms;
};

struct site {
    const struct site_conf *conf; /* immutable; owned by the config the table was built from */
    _Atomic unsigned pins;        /* users beyond the current call: requests, FastCGI requests */
    struct access_log *log;       /* NULL = no access log (the file belongs to access_log.c,
                                   * shared by every site naming the same path) */
    struct fcgi_pool *pool;       /* NULL = no FastCGI */
    struct git_site *git;         /* NULL = not a git site */
    struct access *access;        /* its access rules' state (rate buckets, htpasswd files);
                                   * NULL = no such rule (access.h) */
    struct metrics_site *stats;   /* its request counters, kept by site name (metrics.h): a
                                   * reload's new runtime continues the same series */
    bool owns_pool, owns_git;     /* false: a newer table took them over (a reload kept the
                                   * upstream or the git site), or has not yet: sites.c */
    struct site_root_cache root;
};

struct site_table {
    const struct config *cfg;
    struct site *v; /* v[i] is the runtime of cfg->sites[i] */
    size_t n;
    struct fpm_supervisor *fpm; /* php-fpm for every "fastcgi = spawn" site; NULL = none */
    bool owns_fpm;
};

/** A table of bare runtimes for cfg (no parts yet: sites_start adds them). */
struct site_table *site_table_new(const struct config *cfg);
/** Free t and its runtimes (the parts must be gone: sites_stop). NULL is ok. */
void site_table_free(struct site_table *t);
/** Pins held on t's runtimes (0 = nothing in flight uses them). */
unsigned site_table_pins(const struct site_table *t);

/** The runtime of the site serving host (config_site_for_host: exact host, else the default
 *  site). Not pinned: the caller pins it if it keeps it. NULL only for a table without sites. */
struct site *site_for_host(const struct site_table *t, const char *host);
/** The runtime of conf, one of t->cfg's sites. O(1). */
struct site *site_of(const struct site_table *t, const struct site_conf *conf);

/** Pin s (NULL is ok). Thread-safe, never blocks. */
void site_pin(struct site *s);
/** Drop a pin (NULL is ok). Never frees: see the ownership rule above. */
void site_unpin(struct site *s);

/** The site's root with every symlink resolved (realpath), into out; the configured root when
 *  it cannot be resolved. Cached: redone when the root symlink points elsewhere (one
 *  readlink() per call tells), or once a second for a root that is a plain directory.
 *  Thread-safe. */
void site_resolved_root(struct site *s, char *out, size_t n);
/** The document root to send a backend that sees the code under fastcgi_root (set): for a
 *  git site, the live release under fastcgi_root's directory (the root symlink's relative
 *  target joined to it: release_backend_path), so php-fpm gets each release's own paths as it
 *  does without fastcgi_root (its realpath cache and OPcache never serve the release before);
 *  otherwise fastcgi_root itself. One readlink() per call. Thread-safe. */
void site_backend_root(struct site *s, char *out, size_t n);

#endif
