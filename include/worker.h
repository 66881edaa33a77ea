/*
 * worker: the event-loop threads. Each worker owns one loop (loop.h) watching its MHD daemons (one
 * per listen socket, in MHD's external epoll mode, all workers sharing the listen sockets)
 * and its FastCGI engine's sockets, and runs both from one loop: wait, let MHD do its part,
 * then let the engine start what MHD's callbacks submitted. A PHP request is therefore read,
 * sent to php-fpm, answered and written back by one thread, with no hand-off between threads
 * (docs/architecture.md, "Threads").
 */
#ifndef WHARF_WORKER_H
#define WHARF_WORKER_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct conn_watch_set;
struct fcgi_engine;

#define WORKER_MAX 64
#define WORKER_MAX_DAEMONS 16 /* listen sockets (plain and TLS) per worker */

/** Create n workers (event loop and FastCGI engine each), not running yet. fill_first: they
 *  take new connections in order (accept_share.h); else every one accepts, as it wakes. */
int worker_create(unsigned n, bool fill_first, struct errlist *errs);
/** Give worker i a daemon to run (started with MHD_USE_EPOLL, no internal thread) whose
 *  connection limit is conn_limit (accept_share.h: near it, the next worker accepts too). */
int worker_add_daemon(unsigned i, struct MHD_Daemon *d, unsigned conn_limit);
enum worker_post {
    WORKER_POST_ADD,    /* run a new daemon */
    WORKER_POST_REMOVE, /* its listener is gone: close its connections as a drain does (idle
                         * ones at once, busy ones after their response), then stop it */
};
/** A reload: give running worker i a new daemon, or make it stop accepting on one and stop it
 *  once its last connection is gone (enum worker_post). Done by the worker at its next turn
 *  (it is woken); any thread. */
void worker_post_daemon(unsigned i, struct MHD_Daemon *d, enum worker_post what,
                        unsigned conn_limit);
/** Start every worker's thread. */
int worker_start(struct errlist *errs);
/** Stop and join every thread (their daemons and engines stay, for the shutdown). */
void worker_stop(void);
/** A point in every worker's turns: worker_epoch_passed() tells when each running worker has
 *  finished a loop turn since (then none still uses a pointer it read before the epoch was
 *  taken: pointers read from shared state are not kept across turns). Main thread. */
struct worker_epoch {
    uint64_t turns[WORKER_MAX];
    unsigned n;
};
void worker_epoch_take(struct worker_epoch *ep);
bool worker_epoch_passed(const struct worker_epoch *ep);
/** Start draining (any thread; returns at once): at its next turn each worker quiesces its
 *  daemons (no accept; their listen fds closed), then every turn closes its connections that
 *  wait for a request and counts those still open. */
void worker_drain(void);
/** Connections open on every worker as of its last draining turn (before that turn, 1 per
 *  worker: unknown). */
unsigned worker_open_connections(void);
/** Quiesce the daemons of every worker not yet quiesced (after worker_stop, before
 *  MHD_stop_daemon): the listen fds are closed exactly once. */
void worker_quiesce_rest(void);
/** Worker i's set of connection watches (its daemons' NOTIFY_CONNECTION adds to it; the
 *  worker's loop sweeps it every second). */
struct conn_watch_set *worker_conn_watches(unsigned i);
/** Worker i's FastCGI engine: the requests its daemons' connections submit go to it (the front
 *  keeps it in each connection's request_conn). */
struct fcgi_engine *worker_engine(unsigned i);
/** The daemons of every worker (draining ones too), for MHD_stop_daemon after worker_stop. */
size_t worker_daemons(struct MHD_Daemon **out, size_t max);
/** Workers created (0 before http_front_start). */
unsigned worker_count(void);
/** The loop time (clock_ms) of worker i's last turn; a loop turns at least once a second (its
 *  sweep timer), so an old value means the loop is stuck. Any thread. */
uint64_t worker_heartbeat_ms(unsigned i);
/** Worker i's open connections, counted every 50 ms. Any thread. */
unsigned worker_connections(unsigned i);
/** Whether worker i takes new connections now (accept_share.h: fill first). Any thread. */
bool worker_accepting(unsigned i);
/** Free the loops and forget the workers (after fcgi_engine_free_all). */
void worker_free(void);

#endif
