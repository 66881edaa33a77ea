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
#include <stddef.h>

#include "util.h"

struct conn_watch_set;
struct fcgi_engine;

#define WORKER_MAX 64
#define WORKER_MAX_DAEMONS 16 /* listen sockets (plain and TLS) per worker */

/** Create n workers (event loop and FastCGI engine each), not running yet. */
int worker_create(unsigned n, struct errlist *errs);
/** Give worker i a daemon to run (started with MHD_USE_EPOLL, no internal thread). */
int worker_add_daemon(unsigned i, struct MHD_Daemon *d);
/** Start every worker's thread. */
int worker_start(struct errlist *errs);
/** Stop and join every thread (their daemons and engines stay, for the shutdown). */
void worker_stop(void);
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
/** The daemons of every worker, for MHD_stop_daemon after worker_stop. */
size_t worker_daemons(struct MHD_Daemon **out, size_t max);
/** Free the loops and forget the workers (after fcgi_engine_free_all). */
void worker_free(void);

#endif
