/*
 * admin: the admin listener ([server] admin_listen), apart from the public listeners: its own
 * libmicrohttpd daemon per address, run by MHD's own internal thread (one small thread, never
 * a worker's loop: a scrape that takes a pool lock or formats a large page never delays a
 * request, and a stuck worker can still be reported). It answers GET and HEAD of
 *   /livez    200 while every worker's event loop turns (403/405/404 rules as below)
 *   /readyz   200 or 503, JSON naming what is not ready (health.h)
 *   /metrics  Prometheus text format 0.0.4 (prom.h; counters from metrics.h and the parts)
 *   /status   JSON of the same facts
 * and 404 for any other path, 405 (Allow: GET, HEAD) for any other method.
 */
#ifndef WHARF_ADMIN_H
#define WHARF_ADMIN_H

#include "config.h"

struct site_table;

/** Start serving cfg->server.admin_listen (nothing when it is empty) for the sites of table
 *  (both outlive the listener, or until admin_set_sites). 0, or -1 with errors in errs. */
int admin_start(const struct config *cfg, struct site_table *table, struct errlist *errs);
/** Report on table from now on (a reload's new sites): returns once no scrape reads the old
 *  table any more, so the caller may stop it afterwards. Main thread. */
void admin_set_sites(struct site_table *table);
/** Stop the admin listener (before the sites are stopped). Safe when never started. */
void admin_stop(void);

#endif
