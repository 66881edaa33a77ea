/*
 * http_front: the listen sockets and the libmicrohttpd daemons (one per listen address and
 * worker, run by the worker threads, see worker.h), the per-connection and per-request
 * context (request.h), the request-head check, virtual-host selection, routing, dispatch to
 * a handler (handler.h) and local redirects, the access-log line.
 * Handlers answer through response.h (response_queue(), response_error()) so every response
 * is counted for the access log and carries the same server headers; none of them includes
 * this header.
 */
#ifndef WHARF_HTTP_FRONT_H
#define WHARF_HTTP_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define HTTP_FRONT_MAX_REDIRECTS 5 /* local redirects followed (request.h: r->redirect) */

struct site_table;

/** Open every listen address (or take the socket systemd passed for it), and read the TLS
 *  certificate and key: everything that may need root, before the privilege drop. Returns 0,
 *  or -1 with a message per failure in errs (a busy port, a passed socket matching no
 *  address). */
int http_front_listen(const struct config *cfg, struct errlist *errs);
/** Start serving cfg on the sockets of http_front_listen (called here if it was not), with
 *  the sites' runtimes (both must outlive the server). Returns 0, or -1 with a message per
 *  failure in errs. */
int http_front_start(const struct config *cfg, struct site_table *sites, struct errlist *errs);
/** Graceful stop, first step (main thread; returns at once): every worker stops accepting
 *  (MHD_quiesce_daemon on its own thread), closes its idle keep-alive connections, and from
 *  now on every response closes its connection (lifecycle_draining()). */
void http_front_drain(void);
/** Connections still open (as of each worker's last loop turn); 0 once drained. */
unsigned http_front_open_connections(void);
/** Stop accepting, close every connection and join the worker threads. */
void http_front_stop(void);
/** Publish t as the sites' runtime (a reload); returns the one it replaces. Requests choose
 *  their site from t from now on; those already dispatched keep the runtime they pinned, and a
 *  worker may still read the old table until its current loop turn ends (worker_epoch). The
 *  [server] settings stay those given to http_front_start. Main thread. */
struct site_table *http_front_swap(struct site_table *t);
/** A reload: the limits of s take effect at once (any thread): max_connections_per_ip for the
 *  next connections accepted, max_uri_length and max_header_size for the next request heads,
 *  header_timeout and idle_timeout for the next sweeps (conn_watch.h) and as MHD's
 *  inactivity timeout of the next connections. MHD's own memory limit, which bounds a request
 *  head too, stays the one each daemon started with (a raised max_header_size applies to the
 *  listeners opened from now on). Also called by http_front_start. */
void http_front_set_limits(const struct server_conf *s);
/** A reload, before anything is switched: bind the listen and tls_listen addresses of c that
 *  are not open yet, and read every certificate again (tls_store.h); a busy port or a bad
 *  certificate is an error in errs, and nothing changes. 0 or -1. */
int http_front_listen_prepare(const struct config *c, struct errlist *errs);
/** ... then switch: the new certificates are served from the next handshake, the prepared
 *  sockets get their daemons on every worker, and the open
 *  listeners s no longer names stop accepting (their open connections finish; each worker
 *  stops them once empty). Addresses s keeps keep their sockets. s must stay alive (the
 *  running configuration). */
void http_front_listen_commit(const struct server_conf *s);
/** ... or give the prepared sockets back (the reload failed later). */
void http_front_listen_abort(void);
/** The port actually bound by the first listener (for ":0" in tests). */
uint16_t http_front_port(void);

/** Listen sockets still accepting (*configured: how many were bound at start). Any thread
 *  while the front runs. */
unsigned http_front_listeners_open(size_t *configured);

/** Once a second (main thread): log the summaries of rate-limited libmicrohttpd messages. */
void http_front_tick(void);

/** Counters since start, for a metrics endpoint. Thread-safe. */
struct http_front_stats {
    uint64_t heads_refused;           /* request heads answered 400/501/505 by http_head_check */
    uint64_t mhd_log_lines;           /* warnings libmicrohttpd wanted to log */
    uint64_t mhd_log_suppressed;      /* ... of which left out by the rate limit */
    uint64_t refused_max_connections; /* connections MHD closed at once: max_connections */
};
void http_front_get_stats(struct http_front_stats *st);

#endif
