/*
 * fcgi_pool: the FastCGI thread. One thread, one epoll set, owning every backend connection of
 * every site: bounded pools of kept-alive connections per upstream (one request in flight per
 * connection, request id 1: php-fpm does not multiplex, DESIGN-NOTES 3), a FIFO of waiting
 * requests per site, load balancing, passive health (an upstream that fails to connect is
 * skipped for FCGI_POOL_DOWN_MS), failover while nothing was sent, and every timeout.
 * The MHD side talks to it only through fcgi_pool_submit()/fcgi_pool_kick(); it talks back only
 * by filling the request's shared fields and resuming the MHD connection.
 */
#ifndef WHARF_FCGI_POOL_H
#define WHARF_FCGI_POOL_H

#include "config.h"
#include "fcgi_request.h"

#define FCGI_POOL_DOWN_MS 10000      /* skip an upstream this long after it failed */
#define FCGI_POOL_QUEUE_MAX 4096     /* waiting requests per site, then 503 at once */
#define FCGI_POOL_IDLE_MS 30000      /* an idle kept connection is closed after this */
#define FCGI_POOL_WATCH_AFTER_MS 200 /* watch the client of a request waiting this long */
#define FCGI_POOL_STALL_MS                                                                         \
    100 /* a request with no answer byte after this may be queued                                  \
         * in php-fpm behind a child we keep: release it */

/** A pool for the site's upstreams (addresses resolved now; NULL with errors on failure). */
struct fcgi_pool *fcgi_pool_new(const char *site_name, const struct fcgi_site_conf *conf,
                                const struct upstream_addr *ups, size_t n_ups,
                                struct errlist *errs);
/** Start the FastCGI thread (once, after the pools exist). */
int fcgi_pool_start(void);
/** Fail every queued and running request (their MHD connections are resumed), stop the
 *  thread and free the pools. Call before MHD_stop_daemon (no suspended connection may remain). */
void fcgi_pool_stop(void);

/** Hand a complete request (head records and body ready) to the thread. Takes a reference. */
void fcgi_pool_submit(struct fcgi_req *q);
/** Tell the thread about the client side (FCGI_KICK_ABORT, FCGI_KICK_DRAINED). Thread-safe. */
void fcgi_pool_kick(struct fcgi_req *q, unsigned flags);

#endif
