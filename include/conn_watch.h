/*
 * conn_watch: a header deadline that libmicrohttpd lacks. MHD's connection timeout is an
 * inactivity timeout, so a client that trickles one header byte every few seconds (slowloris)
 * would hold its slot forever. Every connection gets a watch record in a set (one per worker,
 * or the global one); the request callbacks move it between phases with lock-free stores, and
 * a sweep (a worker's loop timer, once a second) shuts down the socket of any connection stuck
 * reading a request head for longer than header_timeout. The set's lock is taken per
 * connection, never per request.
 */
#ifndef WHARF_CONN_WATCH_H
#define WHARF_CONN_WATCH_H

#include <stdbool.h>
#include <stdint.h>

struct conn_watch;
struct conn_watch_set;

/** Set the deadlines (ms) used by the sweep: at start, and again by a reload (atomically; the
 *  next sweep uses them). */
void conn_watch_configure(uint64_t header_timeout_ms, uint64_t idle_timeout_ms);
/** The idle deadline last configured (ms). */
uint64_t conn_watch_idle_timeout_ms(void);
/** An empty set of watches (a worker's). */
struct conn_watch_set *conn_watch_set_new(void);
/** Free an empty set. NULL is a no-op. */
void conn_watch_set_free(struct conn_watch_set *set);
/** A new connection on socket fd: returns its watch in set (phase: waiting for a request).
 *  owner (may be NULL) tags it for conn_watch_close_owner (its MHD daemon). */
struct conn_watch *conn_watch_add_to(struct conn_watch_set *set, int fd, const void *owner);
/** As conn_watch_add_to, in the global set. */
struct conn_watch *conn_watch_add(int fd);
/** The connection is closing: forget it (before MHD closes the fd). w may be NULL. */
void conn_watch_remove(struct conn_watch *w);
/** A request began (its first bytes, or its whole line, arrived): the head must be complete
 *  within header_timeout of the first call; a second call for the same head keeps the deadline. */
void conn_watch_reading_head(struct conn_watch *w);
/** Head complete: a handler owns the request; no deadline from us. */
void conn_watch_busy(struct conn_watch *w);
/** Response complete: back to waiting for the next request. */
void conn_watch_idle(struct conn_watch *w);
/** Shut down the set's connections past their deadline at now_ms (clock_ms's clock); returns
 *  how many. */
unsigned conn_watch_sweep_set(struct conn_watch_set *set, uint64_t now_ms);
#define CONN_WATCH_DRAIN_GRACE_MS 250 /* a waiting connection's request may still be on the way */
/** Draining: shut down the set's connections that have waited for a request for at least
 *  CONN_WATCH_DRAIN_GRACE_MS with no byte pending (idle keep-alive, or new and silent) at
 *  now_ms (clock_ms's clock); returns how many. */
unsigned conn_watch_close_waiting(struct conn_watch_set *set, uint64_t now_ms);
/** The listener of owner's connections was removed by a reload: mark every one of them in set
 *  as closing (conn_watch_closing) and shut down those waiting, as conn_watch_close_waiting
 *  does; returns how many were shut down. */
unsigned conn_watch_close_owner(struct conn_watch_set *set, const void *owner, uint64_t now_ms);
/** Must w's connection close after its current response (conn_watch_close_owner)? NULL =
 *  false. */
bool conn_watch_closing(const struct conn_watch *w);
/** As conn_watch_sweep_set on the global set, now. */
unsigned conn_watch_sweep(void);

#endif
