/*
 * request: the per-request context every handler shares. Created by http_front when MHD has
 * read the request line, freed after MHD reports the request complete (and after the access
 * log line is queued). Handlers record the status and body size here when they queue a
 * response; nothing else about a request is global or thread-local (docs/design-notes.md,
 * pitfall 15).
 */
#ifndef WHARF_REQUEST_H
#define WHARF_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

struct site_conf;
struct site;
struct conn_watch;
struct fcgi_engine;
struct fcgi_req;
struct buf;

/* What the front keeps per connection (MHD's socket context): filled when MHD accepts it,
 * freed when MHD closes it; every request on the connection points to it. */
struct request_conn {
    int fd;                        /* the client socket (MHD owns it); -1 = unknown */
    struct conn_watch *watch;      /* the slowloris watch, may be NULL */
    struct fcgi_engine *engine;    /* FastCGI engine of the worker running the connection */
    struct sockaddr_storage local; /* our end (request_local_addr) */
    socklen_t local_len;           /* 0 = not asked yet */
};

#define REQUEST_TARGET_INLINE 200

struct request {
    uint64_t id;       /* process-unique, for logs */
    uint64_t start_us; /* monotonic, for the duration */
    time_t start_wall; /* for the access log timestamp */
    char *target;      /* raw request-target as received; points to inline or heap */
    size_t target_len;
    const char *raw_uri;   /* MHD's copy, valid until the head is processed */
    unsigned early_status; /* set before the handler runs (414 from the URI length) */
    unsigned status;       /* 0 until a response is queued */
    uint64_t bytes;        /* body bytes of the queued response (0 for HEAD) */
    bool is_head;
    bool is_tls;          /* arrived on a tls_listen address (HTTPS=on for FastCGI) */
    bool has_body;        /* Content-Length > 0 or Transfer-Encoding */
    bool handled_by_fcgi; /* every handler call goes to fcgi_request_handle */
    bool head_seen;       /* the access handler saw the complete head */
    bool handled;         /* a response has been chosen (dispatched) */
    char method[16];      /* copied: MHD's strings are gone at completion */
    char protocol[12];
    const struct site_conf *site; /* = rt->conf */
    struct site *rt; /* the site's runtime, pinned from dispatch to on_completed (site.h) */
    struct conn_watch *watch;  /* the connection's slowloris watch, may be NULL */
    struct request_conn *conn; /* the connection's context, may be NULL */
    /* FastCGI requests only (heap strings, freed with the request) */
    char *path;           /* decoded, normalised path (DOCUMENT_URI) */
    char *query;          /* raw query without '?'; NULL = none */
    char *fcgi_script;    /* SCRIPT_NAME */
    char *fcgi_path_info; /* PATH_INFO, "" = none */
    struct fcgi_req *fcgi;
    int fcgi_state;
    unsigned redirects; /* local redirects followed */
    /* git webhook / status requests */
    bool handled_by_git; /* every handler call goes to git_http_handle */
    int hook_state;      /* 0 new, 1 reading the body, 2 answered */
    bool hook_too_large;
    struct buf *hook_body;
    char target_inline[REQUEST_TARGET_INLINE];
};

/** The server's address of r's connection (SERVER_ADDR/PORT), asked once per connection.
 *  NULL when unknown. On the thread running r's connection. */
const struct sockaddr *request_local_addr(struct request *r);

#endif
