/*
 * sites: the one place that creates and destroys the sites' runtimes (site.h). Start-up
 * order: the php-fpm that "fastcgi = spawn" sites share (wharf runs one, sized by the first
 * such site), every site's FastCGI pool, every site's access log, every git site's deploy
 * state; each phase runs only when the ones before it reported no error, and each error names
 * its site. Teardown is the reverse. The git worker thread, the access-log writer and the
 * HTTP workers are started and stopped by main around these calls.
 */
#ifndef WHARF_SITES_H
#define WHARF_SITES_H

#include "config.h"
#include "site.h"

/** Build the runtime of every site of cfg (which must outlive it). NULL with the errors added
 *  to errs on failure (whatever was made is undone). Main thread. */
struct site_table *sites_start(const struct config *cfg, struct errlist *errs);
/** A reload: build the runtime of every site of cfg like sites_start, but take over from old
 *  (the running table) what did not change: the FastCGI pool of an unchanged upstream
 *  (reload_same_upstreams), a git site's deploy state (reload_same_git), the spawned php-fpm.
 *  Those stay old's until sites_commit. NULL with errors in errs on failure: old is untouched.
 *  Main thread. */
struct site_table *sites_reload(const struct config *cfg, const struct site_table *old,
                                struct errlist *errs);
/** t (from sites_reload(.., old, ..)) is about to be published: it owns from now on what it
 *  took over; old's other pools are retired (their idle connections close) and its other git
 *  sites stop deploying. Main thread. */
void sites_commit(struct site_table *t, struct site_table *old);
/** Nothing uses t any more (no pins, its own pools have no connection left): sites_stop may
 *  run once every worker has also finished a loop turn since t was unpublished. */
bool sites_unused(const struct site_table *t);
/** Destroy what sites_start or sites_reload made and still owns: git states, pools, php-fpm,
 *  the table. Only once nothing
 *  uses it (no pins: the HTTP front is stopped, or never started). NULL is ok. Main thread. */
void sites_stop(struct site_table *t);

#endif
