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
/** Destroy what sites_start made: git states, pools, php-fpm, the table. Only once nothing
 *  uses it (no pins: the HTTP front is stopped, or never started). NULL is ok. Main thread. */
void sites_stop(struct site_table *t);

#endif
