/*
 * fcgi_request: one HTTP request proxied to a FastCGI backend, seen from both sides.
 *
 * The MHD side (a worker thread, inside the access handler or the content reader) decides
 * that a path runs a script, buffers the request body (memory, then an unlinked temp file: a
 * slow uploader never holds a php-fpm child, and chunked uploads get a CONTENT_LENGTH),
 * encodes BEGIN_REQUEST + PARAMS, suspends the connection and hands the request to the same
 * thread's FastCGI engine (fcgi_pool_submit). The engine serving it (usually that same
 * thread's) sends, reads, parses the CGI head and appends body bytes; whenever the MHD side
 * waits for something it resumes the connection, exactly once per suspend (the `mhd_waiting`
 * flag under `lock`).
 *
 * As a handler (handler.h), its per-request state (struct fcgi_http, in fcgi_request.c) holds
 * the script, PATH_INFO, DOCUMENT_URI, the query and the fcgi_req below; it does not call
 * into the front: a CGI local redirect is left in r->redirect for the front to follow.
 *
 * Ownership: refcounted. The MHD request holds one reference until NOTIFY_COMPLETED, the pool
 * one while the request is queued or on a connection, a streaming response one until MHD frees
 * it. Fields are grouped by who may touch them.
 */
#ifndef WHARF_FCGI_REQUEST_H
#define WHARF_FCGI_REQUEST_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "cgi_response.h"
#include "config.h"
#include "fcgi_record.h"
#include "request.h"

struct loop_watch;

#define FCGI_OUT_HIGH_WATER (256u * 1024) /* stop reading the backend above this */
#define FCGI_OUT_LOW_WATER (64u * 1024)   /* and start again below this */
#define FCGI_GZIP_IN (16u * 1024)         /* raw bytes compressed per content-reader call */
#define FCGI_GZIP_LEVEL 6                 /* zlib level for PHP responses (as for files) */

struct fcgi_pool;
struct fcgi_conn;
struct site;

enum fcgi_fail {
    FCGI_OK = 0,
    FCGI_FAIL_CONNECT,     /* 502: no backend could be reached */
    FCGI_FAIL_TIMEOUT,     /* 504: the backend stopped answering */
    FCGI_FAIL_OVERLOAD,    /* 503: no free connection within the queue timeout, or the backend
                            *      answered FCGI_OVERLOADED */
    FCGI_FAIL_PROTOCOL,    /* 502: malformed records or CGI head, or a truncated response */
    FCGI_FAIL_CLIENT_GONE, /* the client closed its connection while waiting: no answer */
};

/* What the MHD side asks the engine to do (bits of kick_flags). */
enum {
    FCGI_KICK_SUBMIT = 1,  /* start this request */
    FCGI_KICK_ABORT = 2,   /* the client is gone: drop it, never reuse its connection */
    FCGI_KICK_DRAINED = 4, /* the client consumed output: read from the backend again */
};

struct fcgi_req {
    _Atomic int refs;
    uint64_t id;       /* the HTTP request's id, for logs */
    struct site *site; /* pinned for q's whole life: pool is its pool (site.h) */
    struct fcgi_pool *pool;

    /* ---- written by the MHD side before submit, read-only afterwards ---- */
    struct buf head_records; /* BEGIN_REQUEST + PARAMS records, complete */
    struct buf body_mem;     /* request body, when it fits in memory */
    int body_fd;             /* request body beyond memory (unlinked file); -1 = none */
    uint64_t body_len;       /* bytes of request body */
    uint32_t client_hash;    /* for ip_hash */
    int client_fd;           /* the HTTP connection's socket (owned by MHD)  */
    bool is_head;
    bool is_safe; /* GET or HEAD: may be retried on another upstream after a read timeout */

    /* ---- MHD side only ---- */
    struct MHD_Connection *conn;
    bool body_too_large; /* past fastcgi_max_body: answer 413 at the end */
    bool streamed;       /* answered by a content reader (not one buffer) */
    uint64_t body_sent;  /* body bytes the content reader gave MHD (compressed if gzip) */
    bool body_failed;    /* could not be buffered (temp_dir): answer 500 at the end */

    /* ---- the thread that submitted it (its MHD connection's) ---- */
    struct fcgi_engine *home;
    struct fcgi_req *home_prev, *home_next; /* home's requests waiting for a head */
    bool in_home_list;
    uint64_t submitted_ms;
    struct loop_watch *client_watch; /* note: MHD cannot see a suspended client leave, so the
                                      * home engine watches its socket for EPOLLRDHUP until the
                                      * MHD side has the connection back; NULL = not watched */

    /* ---- the engine serving it (handed over under the pool lock) ---- */
    struct fcgi_conn *fc;    /* connection carrying it, NULL while queued */
    struct fcgi_req *q_next; /* pool wait queue (pool lock) */
    bool queued;             /* in the pool's wait queue (pool lock) */
    uint64_t queued_ms;      /* when it was queued (pool lock) */
    uint64_t deadline_ms;    /* queue, connect, send or read deadline */
    unsigned attempts;       /* connection attempts made */
    unsigned tried_mask;     /* upstreams already tried (bit per upstream < 32) */
    bool got_response_bytes; /* anything received: no retry after this */
    bool timeout_retried;    /* already retried once after a read timeout */
    struct cgi_head_parser head_parser;
    uint64_t stderr_logged; /* bytes of STDERR logged (capped) */
    struct buf stderr_line; /* partial STDERR line */

    /* ---- shared, under lock ---- */
    pthread_mutex_t lock;
    bool mhd_waiting;           /* the MHD side suspended and wants a resume */
    bool head_done;             /* head_parser.head is complete and final */
    bool ended;                 /* END_REQUEST seen, or failed: no more output */
    bool stream_error;          /* the body broke after the head was sent */
    bool aborted;               /* the client is gone */
    bool reading_paused;        /* the engine stopped reading: out is over high water */
    bool in_pool;               /* the pool (queue or an engine) still holds it */
    struct fcgi_engine *engine; /* serving it; NULL while queued (also under the pool lock) */
    enum fcgi_fail fail;
    struct buf out; /* response body bytes not yet given to MHD */
    size_t out_off; /* bytes of out already given */
    unsigned kick_flags;
    bool in_kick_list;
    struct fcgi_req *kick_next;
};

/** Take and drop references; the last release frees everything. Thread-safe. */
void fcgi_req_ref(struct fcgi_req *q);
void fcgi_req_release(struct fcgi_req *q);

/** Resume the MHD connection if the MHD side is waiting. Call with q->lock held. */
void fcgi_req_wake_locked(struct fcgi_req *q);

/* ---- MHD side: routing and the handler, called from http_front ---- */

/** Where request bodies beyond memory go (temp_dir, else $TMPDIR, else /tmp). Once, at start. */
void fcgi_request_setup(const struct server_conf *server);

/** Whether (the site of runtime rt, normalised path) runs a script (never for a site without a
 *  FastCGI pool); if so fills script/path_info (caller frees) and returns true. Also answers
 *  *is_source: a path ending in the FastCGI extension that does not run (it must not be served
 *  as a static file). Touches the file system. */
bool fcgi_request_route(const struct site *rt, const char *path, char **script_name,
                        char **path_info, bool *is_source);

/** Start: take r (handler.h) for the script fcgi_request_route found: path is the normalised
 *  path (DOCUMENT_URI), query the raw query (query_len bytes; NULL = none); script and
 *  path_info are taken (freed with the request). Reads the body as it comes, then submits
 *  to the engine of r's connection; a local redirect in the answer is handed back to the
 *  front through r->redirect. */
enum MHD_Result fcgi_request_start(struct MHD_Connection *c, struct request *r, const char *path,
                                   const char *query, size_t query_len, char *script,
                                   char *path_info);

#endif
