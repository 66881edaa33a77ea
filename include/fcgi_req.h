/*
 * fcgi_req: the one object a proxied PHP request shares between threads, and the rules for it.
 *
 * Two sides touch it. The MHD side (fcgi_request.c, on the worker thread running the request's
 * MHD connection) creates it, buffers the body, collects the params, submits it and later
 * builds the response from it. The engines (fcgi_pool.c, each on its own worker thread) carry
 * it to php-fpm: the home engine (the submitting thread's) watches its client, the serving
 * engine (usually the same one; another when the request waited in the pool's queue) drives
 * its FastCGI exchange (fcgi_exchange.c) and fills `out`. Which side may touch which field,
 * and under which lock, is written once, here, group by group in the struct below; code in
 * either file that touches a field outside its group's rule is a bug.
 *
 * Locks: q->lock guards the "shared" group only; the pool's mutex guards the queue links (see
 * fcgi_pool.c), taken before q->lock when both are held. No MHD call is made with q->lock held
 * except MHD_suspend_connection/MHD_resume_connection (which take no lock of ours).
 *
 * Ownership: refcounted. The MHD request holds one reference until NOTIFY_COMPLETED, the pool
 * one while the request is queued or on a connection, the home engine one while the request is
 * in its waiting list, a kick one while it is on an engine's kick list, and a streaming
 * response one until MHD frees it. The last release frees the object (and unpins its site).
 */
#ifndef WHARF_FCGI_REQ_H
#define WHARF_FCGI_REQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "cgi_response.h"
#include "upstream.h"

struct MHD_Connection;
struct fcgi_conn;
struct fcgi_engine;
struct fcgi_pool;
struct loop_watch;
struct site;

#define FCGI_REQ_PARAMS_MAX (256u * 1024) /* encoded params; headers are bounded by MHD anyway */
#define FCGI_OUT_HIGH_WATER (256u * 1024) /* the engine stops reading the backend above this */
#define FCGI_OUT_LOW_WATER (64u * 1024)   /* and starts again below this */

/* How a request ended without a response from the application; mapped to a status in one
 * place (fcgi_request.c's fail_status). */
enum fcgi_fail {
    FCGI_OK = 0,
    FCGI_FAIL_CONNECT,     /* 502: no backend could be reached */
    FCGI_FAIL_TIMEOUT,     /* 504: the backend stopped answering */
    FCGI_FAIL_OVERLOAD,    /* 503: no free connection within the queue timeout, or the backend
                            *      answered FCGI_OVERLOADED */
    FCGI_FAIL_PROTOCOL,    /* 502: malformed records or CGI head, or a truncated response */
    FCGI_FAIL_CLIENT_GONE, /* the client closed its connection while waiting: no answer */
};

struct fcgi_req {
    /* ---- fixed by fcgi_req_new: any thread reads them, nobody writes them ---- */
    _Atomic int refs;
    uint64_t id;                 /* the HTTP request's id, for logs */
    struct site *site;           /* pinned for q's whole life: pool is its pool (site.h) */
    struct fcgi_pool *pool;      /* site->pool */
    struct MHD_Connection *conn; /* resumed by the engines (under lock, see mhd_waiting) */

    /* ---- the request to send: written on the MHD side's thread up to fcgi_pool_submit
     * (home by the submit itself), read-only afterwards, by any thread (the kick list's lock
     * publishes them to the engine) ---- */
    struct buf params;    /* PARAMS content: name-value pairs (cgi_env), FCGI_REQ_PARAMS_MAX */
    struct buf body_mem;  /* request body, when it fits in memory */
    int body_fd;          /* request body beyond memory (unlinked file); -1 = none */
    uint64_t body_len;    /* bytes of request body */
    uint32_t client_hash; /* for ip_hash */
    int client_fd;        /* the HTTP connection's socket (owned by MHD) */
    bool is_head;
    bool gate;       /* a gate check (gate.h): stderr lines are also kept for it */
    bool dev;        /* development mode: stderr lines kept in dev_stderr, not logged */
    bool dev_reload; /* its live reload: an HTML response is handed over whole (if it fits
                      * under FCGI_OUT_HIGH_WATER) so the script can go in */
    bool is_safe;    /* GET or HEAD: may be retried on another upstream after a read timeout */
    struct fcgi_engine *home; /* the submitting thread's engine; NULL = never submitted */

    /* ---- MHD side only (the thread running its MHD connection); engines never look ---- */
    bool body_too_large; /* past fastcgi_max_body: answer 413 at the end */
    bool body_failed;    /* could not be buffered (temp_dir): answer 500 at the end */
    bool streamed;       /* answered by a content reader (not one buffer) */
    uint64_t body_sent;  /* body bytes the content reader gave MHD (compressed if gzip) */

    /* ---- home engine only (the thread that submitted it), until fcgi_pool_reclaim ---- */
    struct fcgi_req *home_prev, *home_next; /* home's requests waiting for a head */
    bool in_home_list;
    uint64_t submitted_ms;
    struct loop_watch *client_watch; /* note: MHD cannot see a suspended client leave, so the
                                      * home engine watches its socket for EPOLLRDHUP until the
                                      * MHD side has the connection back; NULL = not watched */

    /* ---- serving engine only: the one in `engine`; while queued (engine NULL), whoever holds
     * the pool lock (the queue fields are only ever touched under it) ---- */
    struct fcgi_conn *fc;    /* connection carrying it, NULL while queued */
    struct upstream_req up;  /* queue link (pool lock), upstreams tried, attempts (upstream.h) */
    uint64_t deadline_ms;    /* connect, send or read deadline */
    bool got_response_bytes; /* anything received: no retry after this */
    bool timeout_retried;    /* already retried once after a read timeout */
    uint64_t sent_us;        /* when it was last put on a connection (clock_us) */

    /* ---- written by the serving engine each time it puts q on a connection, read by the MHD
     * side after the request ends (for the access log): an atomic, no lock ---- */
    _Atomic uint64_t php_us;        /* the backend's time: put on a connection to END_REQUEST, in
                                     * development mode only; 0 = none */
    _Atomic(const char *) upstream; /* the backend's configured address ("unix:/run/php.sock",
                                     * "127.0.0.1:9000"), owned by the pool; NULL = none yet */

    /* ---- handed over: the serving engine's exchange fills it until it sets head_done (under
     * lock); from then on it is read-only, and the MHD side reads it without the lock ---- */
    struct cgi_head_parser head_parser;

    /* ---- shared: under `lock`, by either side. Two reads skip it: the serving engine reads
     * reading_paused without the lock (it alone writes it), and aborted as a hint (a stale
     * false costs at most a retry, which the abort kick then drops) ---- */
    pthread_mutex_t lock;
    bool mhd_waiting;           /* the MHD side suspended and wants a resume (fcgi_pool wakes) */
    bool head_done;             /* head_parser.head is complete and final */
    bool ended;                 /* END_REQUEST seen, or failed: no more output */
    bool stream_error;          /* the body broke after the head was sent */
    bool aborted;               /* the client is gone */
    bool reading_paused;        /* the engine stopped reading: out is over high water */
    bool in_pool;               /* the pool (queue or an engine) still holds it */
    struct fcgi_engine *engine; /* serving it; NULL while queued (also under the pool lock) */
    enum fcgi_fail fail;
    struct buf out;             /* response body bytes not yet given to MHD (engine appends) */
    struct buf dev_stderr;      /* dev: the STDERR lines, '\n' after each (engine appends) */
    size_t out_off;             /* bytes of out already given (MHD side takes) */
    unsigned kick_flags;        /* FCGI_KICK_* (fcgi_pool.h) not yet handled */
    bool in_kick_list;          /* on an engine's kick list (kick_next is that list's) */
    struct fcgi_req *kick_next; /* not q->lock: the engine's kick_lock while listed, then the
                                 * engine that took the list */
};

/** A new request of site (pinned until the last release) for MHD connection conn, holding one
 *  reference (the MHD side's). Aborts on out of memory. */
struct fcgi_req *fcgi_req_new(struct site *site, uint64_t id, struct MHD_Connection *conn);

/** Take and drop references; the last release frees everything. Thread-safe. NULL is ok for
 *  release. */
void fcgi_req_ref(struct fcgi_req *q);
void fcgi_req_release(struct fcgi_req *q);

#endif
