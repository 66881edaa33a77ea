/*
 * fcgi_pool: FastCGI connection pools and the engines that drive them.
 *
 * A pool (one per FastCGI site) bounds the connections per upstream across the whole process
 * (one request in flight per connection, request id 1: php-fpm does not multiplex,
 * docs/design-notes.md §3): fastcgi_max_conns open at once, of which at most fastcgi_keep_conns
 * stay open while idle (an idle one pins a php-fpm child), and for a unix socket no more than
 * php-fpm was seen to accept (its listen queue). It keeps FIFOs of waiting requests,
 * balances, and skips an upstream that failed to connect, or left a GET unanswered past the
 * read timeout, for UPSTREAM_DOWN_MS. Its counts, balancing, health and queues are a struct
 * upstream (upstream.h, no I/O) under the pool's own mutex.
 *
 * An engine belongs to one worker thread (see worker.h) and lives in that thread's epoll set
 * next to its MHD daemons: it owns the connections it opened and does all their I/O (the
 * FastCGI protocol on each is an fcgi_exchange, fcgi_exchange.h). A request
 * is started by the engine of the thread whose MHD connection asked for it, right after MHD's
 * callbacks return, so the usual PHP request never changes threads: no hand-off to another
 * thread on the way to php-fpm, none on the way back. When this engine has no free connection,
 * the request waits in the pool's queue and whichever engine frees a connection first takes it
 * (answering a foreign MHD connection is thread-safe: the request's lock and MHD_resume).
 */
#ifndef WHARF_FCGI_POOL_H
#define WHARF_FCGI_POOL_H

#include <stdint.h>

#include "config.h"
#include "fcgi_req.h"
#include "metrics.h"

struct loop;

/* (the pool's own limits, UPSTREAM_DOWN_MS, UPSTREAM_QUEUE_MAX, UPSTREAM_STALL_MS,
 * UPSTREAM_STEAL_MS, UPSTREAM_MAX_ENGINES, are in upstream.h) */
#define FCGI_POOL_IDLE_MS 30000      /* an idle kept connection is closed after this */
#define FCGI_POOL_WATCH_AFTER_MS 200 /* watch the client of a request waiting this long */
#define FCGI_POOL_TICK_MS 100        /* engines check pinned children and fits this often */
/* a request with no answer byte after this makes its engine ask the kernel how many
 * connections wait in the unix upstream's listen queue (see fit_upstream) */
#define FCGI_POOL_PROBE_MS 20

struct fcgi_engine;

/* What the MHD side asks the engine to do (bits of fcgi_pool_kick's flags). */
enum {
    FCGI_KICK_SUBMIT = 1,  /* start this request */
    FCGI_KICK_ABORT = 2,   /* the client is gone: drop it, never reuse its connection */
    FCGI_KICK_DRAINED = 4, /* the client consumed output: read from the backend again */
};

/** A pool for the site's upstreams (addresses resolved now; NULL with errors on failure). */
struct fcgi_pool *fcgi_pool_new(const char *site_name, const struct fcgi_site_conf *conf,
                                const struct upstream_addr *ups, size_t n_ups,
                                struct errlist *errs);

/** An engine whose sockets are watched by loop (its worker's). NULL on failure. */
struct fcgi_engine *fcgi_engine_new(struct loop *loop);
/** After each loop turn and MHD_run(): start submitted requests, serve the queues, enforce
 *  deadlines. (The engine's sockets have their own handlers in the loop.) */
void fcgi_engine_run(struct fcgi_engine *e);
/** Wake e's thread from any thread (its epoll_wait returns). */
void fcgi_engine_wake(struct fcgi_engine *e);

/** Shutdown, once every worker thread has stopped: fail every request still queued or running
 *  (their MHD connections are resumed). Call before MHD_stop_daemon. */
void fcgi_pool_stop(void);
/** After MHD_stop_daemon: free the engines (the pools belong to the sites, see site.h). */
void fcgi_engine_free_all(void);
/** A reload replaced p (its site is gone or has other upstreams): no new request comes to it;
 *  its idle connections are closed by their engines within FCGI_POOL_TICK_MS, and a busy one
 *  after its request. Any thread; NULL is ok. */
void fcgi_pool_retire(struct fcgi_pool *p);
/** No connection open and no request queued: p may be freed once no request can reach it. */
bool fcgi_pool_unused(struct fcgi_pool *p);
/** Free p, which no request and no engine uses any more (the site's runtime is gone or was
 *  never served: sites_stop). NULL is ok. */
void fcgi_pool_free(struct fcgi_pool *p);

/* ---- figures, for the admin listener (any thread) ---- */

#define FCGI_FAIL_KINDS FCGI_FAIL_CLIENT_GONE /* enum fcgi_fail values counted: 1..PROTOCOL */

struct fcgi_upstream_stats {
    const char *name; /* as configured ("127.0.0.1:9000", "unix:/run/php.sock"); the pool's */
    unsigned busy;    /* connections carrying a request (connecting included) */
    unsigned idle;    /* kept open without a request */
    unsigned open;    /* all of them */
    bool down;        /* marked down (passive health: skipped for UPSTREAM_DOWN_MS) */
    uint64_t failures[FCGI_FAIL_KINDS]; /* attempts that failed on it, by enum fcgi_fail */
};
struct fcgi_pool_stats {
    size_t queued;                       /* requests waiting for a connection now */
    struct metrics_histogram queue_wait; /* time spent waiting, by the requests that left */
    uint64_t failures[FCGI_FAIL_KINDS];  /* requests answered with an error, by enum fcgi_fail */
    struct fcgi_upstream_stats *upstreams;
    size_t n_upstreams;
};
/** A snapshot of p (takes the pool lock once). Free with fcgi_pool_stats_dispose; the names
 *  point into p. */
void fcgi_pool_get_stats(struct fcgi_pool *p, struct fcgi_pool_stats *st);
void fcgi_pool_stats_dispose(struct fcgi_pool_stats *st);
/** How many of p's upstreams are not marked down (*n gets how many there are). No lock. */
unsigned fcgi_pool_upstreams_up(struct fcgi_pool *p, size_t *n);

/* ---- the MHD side (fcgi_request.c), on a worker thread ---- */

/** Hand a complete request (head records and body ready) to e, the engine of the calling
 *  worker thread (the one running q's MHD connection; request_conn.engine). A NULL e, or a
 *  shutdown under way, fails q at once (503). */
void fcgi_pool_submit(struct fcgi_engine *e, struct fcgi_req *q);
/** Tell the request's engine about the client side (FCGI_KICK_ABORT, FCGI_KICK_DRAINED). */
void fcgi_pool_kick(struct fcgi_req *q, unsigned flags);
/** The MHD side has its connection back (a head or a failure came, or it completed): stop
 *  watching the client socket. Idempotent; on the thread that submitted q. */
void fcgi_pool_reclaim(struct fcgi_req *q);

#endif
