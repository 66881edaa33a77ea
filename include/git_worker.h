/*
 * git_worker: keeps every site with git_repo fresh, in one background thread. Each deploy
 * fetches into a bare cache, checks the commit out into a fresh release directory, runs the
 * build command there, and only when all of that worked switches the site's root (a symlink)
 * to the new release with one rename(). The old release keeps being served until then, and
 * after any failure. The worker never calls into the HTTP front: the front reads the root
 * symlink per request and the worker's status through the functions below.
 *
 * Layout, for root = /srv/site:
 *   /srv/site -> .site.wharf/releases/000042-20261122T194500Z-1a2b3c4d5e6f[/subdir]   (symlink)
 *   /srv/.site.wharf/repo.git       bare fetch cache
 *   /srv/.site.wharf/releases/      complete releases (real directories named exactly
 *                                   NNNNNN-TIME-SHA12, see release.h); NAME.tmp while being
 *                                   built; anything else there is a leftover and is removed
 *   /srv/.site.wharf/lock           flock: one deployer at a time (server or wharf --deploy)
 *   /srv/.site.wharf/rolled-back    the commits rolled back from, not deployed again
 */
#ifndef WHARF_GIT_WORKER_H
#define WHARF_GIT_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"

struct git_site; /* one site's deploy state (paths, schedule, status) */

/** Register site (it has git_repo) with the worker: its live release is read now, and its
 *  first deploy runs as soon as the thread runs. at_start: wharf is starting (not reloading),
 *  so the site is not confirmed (git_worker_is_confirmed) until that first deploy has finished.
 *  The site's runtime owns the result (site.h); main thread. */
struct git_site *git_worker_add(const struct site_conf *site, bool at_start);
/** A reload kept g (same site name, root, repo, branch and subdir): read the site's settings
 *  from site, the new configuration's, from now on (waits while g is being deployed). */
void git_worker_rebind(struct git_site *g, const struct site_conf *site);
/** Unregister g without freeing it (a reload removed or replaced its site, and requests on the
 *  old configuration may still read its state); waits while the thread is deploying it. NULL
 *  is ok. git_worker_remove frees it later. */
void git_worker_detach(struct git_site *g);
/** Unregister g and free it; waits while the thread is deploying it. NULL is ok. */
void git_worker_remove(struct git_site *g);
/** Start the thread when a site is registered (none: nothing starts). Start-up never waits
 *  for git: the first deploys run in the thread. */
int git_worker_start(void);
/** Stop the thread (a running git or build command is killed). The sites stay registered. */
void git_worker_stop(void);
/** Ask for a deploy of g soon; bursts coalesce into at most one more deploy. NULL is ok.
 *  Thread-safe. */
void git_worker_request(struct git_site *g);
/** Ask for a deploy of every registered site (SIGUSR2). */
void git_worker_request_all(void);
/** The branch deployed (configured or detected); "" while unknown. Thread-safe. */
void git_worker_branch(const struct git_site *g, char *out, size_t n);
/** Whether the site's root holds a release (false until its first deploy; true for NULL, a
 *  site without git). Thread-safe. */
bool git_worker_is_live(const struct git_site *g);
/** Whether the first deploy since wharf started has finished, whatever its outcome (true for
 *  NULL, and at once for a site a reload added). Until then a release left by an earlier run
 *  may be older than the branch: readiness waits for this (a restarted replica must not take
 *  traffic on an older commit than its peers). Thread-safe. */
bool git_worker_is_confirmed(const struct git_site *g);
/** The directory a health check of release name serves (releases/NAME, plus git_subdir),
 *  resolved; NULL when name is not a complete release of g. Caller frees. Thread-safe. */
char *git_worker_release_root(const struct git_site *g, const char *name);
/** Append the site's deploy status as JSON ("{}" for NULL). Thread-safe. */
void git_worker_status_json(const struct git_site *g, struct buf *out);

/* A git site's deploy counters and live release (git_worker_get_stats). */
struct git_worker_stats {
    bool live;                 /* the root holds a release */
    char live_commit[41];      /* "" = unknown */
    unsigned deployed;         /* deploys that switched to a new release */
    unsigned unchanged;        /* deploys that found the commit already live */
    unsigned failed;           /* deploys that failed (the live release stayed) */
    unsigned gate_refused;     /* of them, refused by git_check before the switch */
    unsigned gate_rollbacks;   /* rollbacks after git_check failed on the live release */
    uint64_t last_duration_ms; /* of the last deploy attempt that ended; 0 = none yet */
    int64_t last_attempt;      /* wall clock of the last attempt's start; 0 = none */
    int64_t last_success;      /* wall clock of the last switch; 0 = none */
};
/** Copy g's counters. Thread-safe. */
void git_worker_get_stats(const struct git_site *g, struct git_worker_stats *st);
/** One deploy (or a rollback to the previous kept release) of site from the command line,
 *  in this process; waits for a deploy that is running in a server. Both first remove what
 *  killed deploys left. 0 on success. */
int git_deploy_once(const struct site_conf *site, bool rollback);
/** git_deploy_once's deploy, on a registered site whose thread is not running (wharf --deploy
 *  of a site with git_check: main serves the checks, and the check after the switch sees the
 *  live release through g). 0 on success. */
int git_worker_deploy_here(struct git_site *g);

#endif
