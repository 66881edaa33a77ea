/*
 * request: the per-request context the front and the handlers share. Created by http_front
 * when MHD has read the request line, freed after MHD reports the request complete (after its
 * handler's on_completed and the access-log line). It holds what every request has (ids,
 * target, method, status and body size for the access log, the site it pinned, its
 * connection) and one handler with that handler's own state (handler.h); nothing about a
 * request is global or thread-local (docs/design-notes.md, pitfall 15).
 */
#ifndef WHARF_REQUEST_H
#define WHARF_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

struct site_conf;
struct site;
struct conn_watch;
struct fcgi_engine;
struct handler;
struct access_wait;

/* What the front keeps per connection (MHD's socket context): filled when MHD accepts it,
 * freed when MHD closes it; every request on the connection points to it. */
struct request_conn {
    int fd;                        /* the client socket (MHD owns it); -1 = unknown */
    struct conn_watch *watch;      /* the slowloris watch, may be NULL */
    struct fcgi_engine *engine;    /* FastCGI engine of the worker running the connection */
    unsigned worker;               /* that worker's index (its counters, metrics.h) */
    struct sockaddr_storage local; /* our end (request_local_addr) */
    socklen_t local_len;           /* 0 = not asked yet */
};

#define REQUEST_TARGET_INLINE 200

#define REQUEST_SENDFILE_KEEP_MAX 16

/* An X-Sendfile / X-Accel-Redirect the front is to serve (fcgi_sendfile.h). */
struct request_sendfile {
    char *target; /* the header's value */
    bool accel;   /* X-Accel-Redirect (a URI) rather than X-Sendfile (a path) */
    size_t n_keep;
    char *keep[REQUEST_SENDFILE_KEEP_MAX][2]; /* the application's headers kept: (name, value) */
};

struct request {
    uint64_t id;       /* process-unique, for logs */
    uint64_t start_us; /* monotonic, for the duration */
    int64_t wall_ms;   /* ms since the epoch at the start, for the access log */
    char *target;      /* raw request-target as received; points to inline or heap */
    size_t target_len;
    const char *raw_uri;   /* MHD's copy, valid until the head is processed */
    unsigned early_status; /* set before the handler runs (414 from the URI length) */
    unsigned status;       /* 0 until a response is queued */
    uint64_t bytes;        /* body bytes of the queued response (0 for HEAD) */
    bool is_head;
    bool is_tls;     /* arrived on a tls_listen address (HTTPS=on for FastCGI) */
    bool has_body;   /* Content-Length > 0 or Transfer-Encoding */
    bool head_seen;  /* the access handler saw the complete head */
    char method[16]; /* copied: MHD's strings are gone at completion */
    char protocol[12];
    const struct site_conf *site; /* = rt->conf */
    struct site *rt; /* the site's runtime, pinned from dispatch to on_completed (site.h) */
    struct conn_watch *watch;  /* the connection's slowloris watch, may be NULL */
    struct request_conn *conn; /* the connection's context, may be NULL */
    /* the handler answering it (handler.h): NULL until dispatch picks one */
    const struct handler *handler;
    void *handler_state; /* the handler's own, freed by its on_completed; NULL = none */
    char *redirect;      /* set by a handler: answer this local path instead (RFC 3875 6.2.2
                          * local redirect; heap, taken by the front); NULL = none */
    unsigned redirects;  /* local redirects followed */
    /* the FastCGI upstream that served it, for the access log: its configured address, owned
     * by the pool of the site r pins; set by the fastcgi handler's on_completed; NULL = none */
    const char *upstream;
    /* development mode (dev_console.h): the FastCGI request's STDERR lines (heap, freed at
     * completion; NULL = none) and php-fpm's time (0 = none), set by its on_completed */
    char *dev_stderr;
    size_t dev_stderr_len;
    uint64_t php_us;
    /* a health check of the git worker (gate.h): its token matched. gate_conf, when set, is
     * r->site with the root replaced by the release checked (heap, freed at completion) */
    bool gate;
    struct site_conf *gate_conf;
    /* the site's response rules (header_rule.h): the normalised path they match (heap; NULL =
     * none applies to it, or the path was never read); response_queue applies them, so a
     * handler never queues a response shared with other requests while it is set */
    char *rule_path;
    /* error_page: the status of the error this request is now showing a page for (the
     * client gets it whatever the page answers); 0 = none. error_pages_ok: dispatch read
     * the path, so response_error may turn to a page (the front follows r->redirect) */
    unsigned error_status;
    bool error_pages_ok;
    char *error_target; /* the original request-target while a page shows (REQUEST_URI, the
                         * access log); heap, NULL = none */
    /* X-Sendfile / X-Accel-Redirect (fcgi_sendfile.h): set by the fastcgi handler, served by
     * the front once the handler is done, like r->redirect; heap, NULL = none */
    struct request_sendfile *sendfile;
    /* the response being queued carries a backend's headers, of any size: response_queue
     * checks that its head fits what the request left of the connection's buffer */
    bool backend_head;
    /* access rules (access.h): the client's address when trusted_proxies named another one
     * than the socket's (for the rules, the access log and REMOTE_ADDR); "" = the socket's */
    char real_ip[46];
    bool access_passed;              /* the rules let it through (checked once per request) */
    struct access_wait *access_wait; /* suspended for a password check; NULL = not */
    char *remote_user; /* the user auth_basic verified (heap): REMOTE_USER, the access log */
    char target_inline[REQUEST_TARGET_INLINE];
};

/** The server's address of r's connection (SERVER_ADDR/PORT), asked once per connection.
 *  NULL when unknown. On the thread running r's connection. */
const struct sockaddr *request_local_addr(struct request *r);

/** Free the application headers sf keeps for the file's answer; sf->n_keep becomes 0. */
void request_sendfile_drop_kept(struct request_sendfile *sf);

#endif
