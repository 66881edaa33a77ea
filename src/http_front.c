/*
 * http_front: see include/http_front.h.
 *
 * Per request: MHD calls on_uri() once the request line is in (we allocate the request and
 * keep the raw target, which MHD's decoded `url` loses), then on_request() once the head is
 * complete (we check the head, pick the site, normalise the path, route, and hand the request
 * to one handler's start function: static content is answered in that same call and never
 * suspends); every later call goes to r->handler, and a local redirect a handler leaves in
 * r->redirect is followed here. Then on_completed() (the handler's on_completed, access log,
 * free). Per connection, the context handlers may read (struct request_conn: its worker's
 * FastCGI engine, our address) is filled in on_connection(). Listen sockets are created
 * here, not by MHD, so "host:port", "[v6]:port" and ":port" all work and a busy port is
 * reported with the address before any thread starts.
 */

#include "http_front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "access_log.h"
#include "access_rules.h"
#include "buf.h"
#include "cidr.h"
#include "conn_watch.h"
#include "dev.h"
#include "dev_console.h"
#include "dev_watch.h"
#include "error_page.h"
#include "live_reload.h"
#include "fcgi_pool.h"
#include "fcgi_request.h"
#include "fcgi_sendfile.h"
#include "git_http.h"
#include "gate.h"
#include "git_worker.h"
#include "handler.h"
#include "http_head.h"
#include "ip_limit.h"
#include "log.h"
#include "log_limit.h"
#include "metrics.h"
#include "path.h"
#include "redirect.h"
#include "release.h"
#include "response.h"
#include "route.h"
#include "service.h"
#include "site.h"
#include "static_file.h"
#include "tls_store.h"
#include "acme.h"
#include "acme_plan.h"
#include "util.h"
#include "worker.h"

#define MAX_LISTEN WORKER_MAX_DAEMONS
_Static_assert(METRICS_MAX_WORKERS == WORKER_MAX, "a counter slot per worker");

static const struct config *cfg;
static bool started;
static uint16_t first_port;
static struct ip_limit *per_ip; /* max_connections_per_ip across every daemon (0 = off) */
/* the [server] limits a reload changes at once (http_front_set_limits), read per request or
 * connection; the other [server] settings stay cfg's */
static _Atomic size_t max_uri_bytes, max_header_bytes;
static _Atomic unsigned idle_timeout_s;   /* MHD's inactivity timeout for new connections */
static _Atomic bool idle_timeout_changed; /* ... which may differ from its daemon's */
/* the runtime of every site (site.h); a reload publishes another (http_front_swap). Read once
 * per use; a request pins the site it picked, and nothing keeps the table pointer beyond the
 * callback that read it (worker.h: worker_epoch) */
static struct site_table *_Atomic sites;
static _Atomic uint64_t next_request_id = 1;
static _Atomic uint64_t n_mhd_lines, n_heads_refused; /* for http_front_get_stats */
static _Atomic uint64_t n_refused_limit;              /* ... MHD at max_connections */
static size_t n_listeners;                            /* listen sockets bound at start */

/* Per worker, what its daemons' connections get (NOTIFY_CONNECTION's closure). */
struct front_worker {
    unsigned index;                 /* the worker's, for its own counters (metrics.h) */
    struct conn_watch_set *watches; /* the worker's slowloris watches */
    struct fcgi_engine *engine;     /* where its connections' PHP requests go */
};
static struct front_worker front_workers[WORKER_MAX];

/* ---- MHD callbacks -------------------------------------------------------------------- */

/* Development mode's terminal (dev_console.h): on, and whether it takes colour. */
static bool dev_console_on, dev_console_color, dev_reload_on;

static void dev_request_line(struct request *r, unsigned status, uint64_t duration_us)
{
    struct dev_console_entry e = {
        .time_ms = r->wall_ms,
        .method = r->method[0] ? r->method : "-",
        .target = r->target,
        .status = status,
        .duration_us = duration_us,
        .php_us = r->php_us,
        .stderr_text = r->dev_stderr,
        .stderr_len = r->dev_stderr_len,
    };
    struct buf b;
    buf_init(&b, 0);
    if (dev_console_format(&b, &e, dev_console_color) == 0)
        log_write_raw(b.data, b.len);
    buf_dispose(&b);
    free(r->dev_stderr);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct request *r = xmalloc(sizeof *r);
    memset(r, 0, offsetof(struct request, target_inline));
    r->is_tls = cls != NULL; /* the TLS daemons pass a non-NULL cls */
    r->id = atomic_fetch_add_explicit(&next_request_id, 1, memory_order_relaxed);
    r->start_us = clock_us();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    r->wall_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    size_t n = strlen(uri);
    if (n > atomic_load_explicit(&max_uri_bytes, memory_order_relaxed)) {
        r->early_status = MHD_HTTP_URI_TOO_LONG;
        n = 64; /* enough for the access log */
    }
    r->target = n < sizeof r->target_inline ? r->target_inline : xmalloc(n + 1);
    memcpy(r->target, uri, n);
    r->target[n] = '\0';
    r->target_len = n;
    r->raw_uri = uri;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->conn = ci ? ci->socket_context : NULL;
    r->watch = r->conn ? r->conn->watch : NULL;
    if (r->conn)
        metrics_add(&metrics_worker(r->conn->worker)->requests_started, 1);
    conn_watch_reading_head(r->watch);
    return r;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
#ifdef MHD_HAVE_NOTIFY_REQUEST_STARTED
    /* the first bytes of a request, its line not yet whole: header_timeout counts from here
     * (without the patch, from the end of the request line: a trickled line is cut only by
     * conn_watch's idle_timeout + header_timeout) */
    if (code == MHD_CONNECTION_NOTIFY_REQUEST_STARTED) {
        const struct request_conn *conn = *socket_context;
        if (conn)
            conn_watch_reading_head(conn->watch);
        return;
    }
#endif
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        per_ip ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const struct front_worker *fw = cls;
        struct request_conn *conn = xcalloc(1, sizeof *conn);
        conn->fd = ci ? ci->connect_fd : -1;
        /* owned by its daemon: a reload that removes the listener closes them (worker.c) */
        const union MHD_ConnectionInfo *di = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
        conn->watch =
            ci ? conn_watch_add_to(fw->watches, ci->connect_fd, di ? di->daemon : NULL) : NULL;
        /* note: MHD's CONNECTION_TIMEOUT is its daemon's, fixed when it started; after a
         * reload changed idle_timeout each new connection gets the current one */
        if (atomic_load_explicit(&idle_timeout_changed, memory_order_relaxed))
            MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
                                      atomic_load_explicit(&idle_timeout_s, memory_order_relaxed));
        conn->engine = fw->engine;
        conn->worker = fw->index;
        *socket_context = conn;
        metrics_add(&metrics_worker(fw->index)->conns_opened, 1);
        if (ai)
            ip_limit_add(per_ip, ai->client_addr);
        return;
    }
    if (ai)
        ip_limit_remove(per_ip, ai->client_addr);
    struct request_conn *conn = *socket_context;
    metrics_add(&metrics_worker(((const struct front_worker *)cls)->index)->conns_closed, 1);
    if (conn) {
        conn_watch_remove(conn->watch);
        free(conn);
    }
    *socket_context = NULL;
}

/* MHD's accept policy: the per-address limit, counted across every daemon. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    if (ip_limit_admit(per_ip, addr))
        return MHD_YES;
    metrics_add(&metrics_worker(((const struct front_worker *)cls)->index)->refused_ip, 1);
    return MHD_NO;
}

/* ---- the request head check (http_head) ----------------------------------------------- */

#define HEAD_FIELDS_INLINE 32

struct field_list {
    struct http_head_field *v;
    size_t n, cap;
};

static enum MHD_Result collect_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    struct field_list *l = cls;
    if (l->n == l->cap)
        return MHD_NO; /* counted beforehand; cannot happen */
    l->v[l->n++] = (struct http_head_field){key, key_size, value ? value : "", value_size};
    return MHD_YES;
}

/*
 * Hand http_head_check() the head as MHD left it. note: MHD 0.9.75 splits the head in place
 * in its read buffer: the method starts the head, and MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE
 * is the distance from it to the end of the empty line; the target (raw_uri, from on_uri),
 * the version and every field name and value are pointers into that same region, with the
 * separators overwritten by NULs (SP after the method and before the version, ':' and each
 * CR LF). So the bytes between consecutive strings show what the strings hide: a raw NUL in a
 * value or target (the string stops early, bytes remain), an extra space, or a folded line
 * (MHD appends it to the field *name*, which it moves out of the region). The region stays
 * allocated in the connection's pool while the access handler runs. Where the evidence is
 * not available (a target cut for 414, an odd header size) only the strings are checked.
 */
static unsigned check_head(struct MHD_Connection *c, struct request *r, const char *method,
                           const char *version, const char **why)
{
    struct http_head_field inline_fields[HEAD_FIELDS_INLINE];
    struct field_list l = {inline_fields, 0, HEAD_FIELDS_INLINE};
    int n = MHD_get_connection_values_n(c, MHD_HEADER_KIND, NULL, NULL);
    if (n > HEAD_FIELDS_INLINE) {
        l.v = xmalloc((size_t)n * sizeof *l.v);
        l.cap = (size_t)n;
    }
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_field, &l);
    struct http_head h = {
        .method = method,
        .method_len = strlen(method),
        .target = r->target,
        .target_len = r->target_len,
        .version = version,
        .version_len = strlen(version),
        .fields = l.v,
        .n_fields = l.n,
    };
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size <= atomic_load_explicit(&max_header_bytes, memory_order_relaxed)) {
        h.raw = method;
        h.raw_len = ci->header_size;
        if (r->early_status != MHD_HTTP_URI_TOO_LONG) /* else the copy is cut short */
            h.target_at = r->raw_uri;
    }
    unsigned status = http_head_check(&h, why);
    if (l.v != inline_fields)
        free(l.v);
    return status;
}

static void free_gate_conf(struct request *r)
{
    if (r->gate_conf) {
        free(r->gate_conf->root);
        free(r->gate_conf->fcgi.root);
        free(r->gate_conf);
        r->gate_conf = NULL;
    }
}

/*
 * A health check of the git worker (gate.h) carries this process's token; with a release name
 * it is served from that release: r->site becomes a copy of site whose root (and fastcgi_root)
 * are the release's (the copy shares everything else with site, which r pins). A header whose token
 * does not match is ignored (an ordinary request, served from the live root). 0, or an HTTP status.
 */
static unsigned gate_setup(struct MHD_Connection *c, struct request *r, struct site *rt)
{
    free_gate_conf(r);
    r->gate = false;
    if (!rt->git) /* only a git site has releases to check: no header lookup for the others */
        return 0;
    r->gate = gate_token_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, GATE_TOKEN_HEADER));
    const char *release = MHD_lookup_connection_value(c, MHD_HEADER_KIND, GATE_RELEASE_HEADER);
    if (!r->gate || !release)
        return 0;
    char *dir = rt->git ? git_worker_release_root(rt->git, release) : NULL;
    if (!dir)
        return MHD_HTTP_NOT_FOUND;
    r->gate_conf = xmalloc(sizeof *r->gate_conf);
    *r->gate_conf = *rt->conf;
    r->gate_conf->root = dir;
    /* php-fpm that sees the code elsewhere (fastcgi_root) gets the release under that path */
    r->gate_conf->fcgi.root = rt->conf->fcgi.root
                                  ? release_backend_dir(rt->conf->fcgi.root, rt->conf->root,
                                                        release, rt->conf->git.subdir)
                                  : NULL;
    r->site = r->gate_conf;
    return 0;
}

/* GET /.well-known/acme-challenge/TOKEN of a tls = auto site: the key authorization the
 * uacme hook wrote (acme.h), as text; 404 for any other token. */
static enum MHD_Result acme_answer(struct MHD_Connection *c, struct request *r,
                                   const struct site_conf *site, const char *path)
{
    const char *token = acme_plan_challenge_token(path);
    char text[ACME_CHALLENGE_MAX];
    ssize_t n = token ? acme_challenge_read(site, token, text, sizeof text) : -1;
    if (n < 0)
        return response_error(c, r, MHD_HTTP_NOT_FOUND, NULL, NULL, NULL);
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, text, (size_t)n);
    return response_send_buf(c, r, MHD_HTTP_OK, &b, "application/octet-stream", "no-store", NULL,
                             NULL);
}

static _Atomic unsigned https_port; /* the first tls_listen's port, for https_redirect */

/* https_redirect: 308 (the method and body are kept, RFC 9110 15.4.9) to the same host and
 * target on the HTTPS port. */
static enum MHD_Result https_redirect(struct MHD_Connection *c, struct request *r, const char *host,
                                      const struct path_target *t)
{
    const char *h = host && *host ? host : r->site->hosts.n ? r->site->hosts.v[0] : NULL;
    if (!h)
        return response_error(c, r, MHD_HTTP_BAD_REQUEST, "A Host is needed for https.", NULL,
                              NULL);
    size_t hl = strlen(h);
    const char *colon = h[0] == '[' ? strchr(h, ']') : h;
    colon = colon ? strchr(colon, ':') : NULL;
    if (colon)
        hl = (size_t)(colon - h);
    unsigned port = atomic_load_explicit(&https_port, memory_order_relaxed);
    struct buf loc;
    buf_init(&loc, 0);
    buf_append(&loc, "https://", 8);
    buf_append(&loc, h, hl);
    if (port && port != 443)
        buf_printf(&loc, ":%u", port);
    buf_append(&loc, t->path, t->path_len);
    if (t->query) {
        buf_putc(&loc, '?');
        buf_append(&loc, t->query, t->query_len);
    }
    enum MHD_Result ret =
        response_error(c, r, MHD_HTTP_PERMANENT_REDIRECT, NULL, MHD_HTTP_HEADER_LOCATION, loc.data);
    buf_dispose(&loc);
    return ret;
}

/*
 * The site's redirects (redirect.h) for r: the host redirect (www/apex) first, then the first
 * redirect rule matching the normalised path. true when r was answered (*ret says how).
 */
static bool answer_redirect(struct MHD_Connection *c, struct request *r,
                            const struct site_conf *site, const char *host,
                            const struct path_target *t, const char *path, enum MHD_Result *ret)
{
    char to_host[300];
    unsigned status;
    struct buf loc;
    buf_init(&loc, 8192 + 512);
    if (redirect_host_target(site->redirect_host.mode, host, site->hosts.v, site->hosts.n, to_host,
                             sizeof to_host)) {
        /* the target as the client sent it (its path still percent-encoded) */
        status = site->redirect_host.status;
        buf_printf(&loc, "%s://%s", r->is_tls ? "https" : "http", to_host);
        buf_append(&loc, t->path, t->path_len);
        if (t->query) {
            buf_putc(&loc, '?');
            buf_append(&loc, t->query, t->query_len);
        }
    } else {
        const struct redirect_rule *rule = redirect_find(&site->redirects, path);
        if (!rule) {
            buf_dispose(&loc);
            return false;
        }
        status = rule->status;
        if (redirect_location(rule, path, t->query, t->query_len, &loc) != 0) {
            buf_dispose(&loc);
            *ret = response_error(c, r, MHD_HTTP_URI_TOO_LONG, NULL, NULL, NULL);
            return true;
        }
    }
    char *location = buf_steal(&loc, NULL);
    struct buf body;
    buf_init(&body, 4096);
    const char *type = error_page_render(&body, status, NULL, false);
    *ret = response_send_buf(c, r, status, &body, type, NULL, MHD_HTTP_HEADER_LOCATION, location);
    free(location);
    return true;
}

/* A request refused before routing (r->early_status): answered, and logged, by its Host's site
 * (the cut target's absolute form is not looked at). */
static enum MHD_Result answer_early_status(struct MHD_Connection *c, struct request *r,
                                           const char *host)
{
    if (!r->rt) {
        r->rt = site_for_host(sites, host);
        site_pin(r->rt);
        r->site = r->rt->conf;
    }
    return response_error(c, r, r->early_status, NULL, NULL, NULL);
}

/* Pin the site host names on r (r->rt, r->site), and set up a release check (gate_setup).
 * 0, or an HTTP status. */
static unsigned enter_site(struct MHD_Connection *c, struct request *r, const char *host)
{
    struct site *rt = site_for_host(atomic_load_explicit(&sites, memory_order_acquire), host);
    if (rt != r->rt) { /* a local redirect may land on another site (absolute-form before) */
        site_unpin(r->rt);
        site_pin(rt);
        r->rt = rt;
    }
    r->site = rt->conf;
    return gate_setup(c, r, rt);
}

/* What the server answers itself, before any of the site's own rules: the development
 * console's reload events, an ACME challenge, the move to https, git over HTTP. true when r
 * was answered or handed on (*ret says how). */
static bool answer_before_rules(struct MHD_Connection *c, struct request *r,
                                const struct site_conf *site, const char *host,
                                const struct path_target *t, const char *path, enum MHD_Result *ret)
{
    if (dev_reload_on && strcmp(path, LIVE_RELOAD_PATH) == 0) { /* development mode only */
        *ret = dev_watch_events_start(c, r);
        return true;
    }
    /* note: before the hidden-path rule (".well-known") and never redirected to https: the
     * CA asks over plain HTTP (RFC 8555 8.3) */
    bool challenge = strncmp(path, ACME_PLAN_PREFIX, sizeof ACME_PLAN_PREFIX - 1) == 0;
    if (challenge && site->tls.mode == TLS_AUTO) {
        *ret = acme_answer(c, r, site, path);
        return true;
    }
    /* the git worker's health checks (r->gate) come over plain HTTP and are never moved */
    if (!challenge && !r->is_tls && !r->gate && site->tls.https_redirect) {
        *ret = https_redirect(c, r, host, t);
        return true;
    }
    if (site->git.repo && git_http_owns(site, path)) {
        *ret = git_http_start(c, r, path);
        return true;
    }
    return false;
}

/* r->rule_path: the path response_queue matches the header rules on, kept only when one
 * applies. */
static void set_rule_path(struct request *r, const struct site_conf *site, const char *path)
{
    if (!site->response_rules && !r->rule_path)
        return;
    free(r->rule_path); /* a local redirect's earlier path, maybe on another site */
    /* note: only when a rule applies: a path no rule names keeps the shared cached
     * responses and costs no allocation (docs/benchmarks.md, issue 13) */
    bool applies = site->response_rules && (site->security_headers ||
                                            header_rules_match(&site->headers, &site->cache, path));
    r->rule_path = applies ? xstrdup(path) : NULL;
}

/* 404 for a hidden path, 403 under a deny prefix (the site's, then its preset's), else 0. */
static unsigned denied_status(const struct site_conf *site, const char *path)
{
    if (path_has_hidden_segment(path))
        return MHD_HTTP_NOT_FOUND;
    for (size_t i = 0; i < site->deny.n; i++)
        if (path_has_prefix(path, site->deny.v[i]))
            return MHD_HTTP_FORBIDDEN;
    const struct preset *preset = site->fcgi.preset; /* the application's private directories */
    for (size_t i = 0; preset && i < preset->deny.n; i++)
        if (path_has_prefix(path, preset->deny.v[i]))
            return MHD_HTTP_FORBIDDEN;
    return 0;
}

/* The site's rules that may answer r before a handler does, in order: hidden paths and deny
 * prefixes (the site's, then its preset's), redirects, access rules, a first deploy under
 * way. true when r was answered (*ret says how). */
static bool answer_site_rules(struct MHD_Connection *c, struct request *r,
                              const struct site_conf *site, const char *host,
                              const struct path_target *t, const char *path, enum MHD_Result *ret)
{
    unsigned denied = denied_status(site, path);
    if (denied) {
        *ret = response_error(c, r, denied, NULL, NULL, NULL);
        return true;
    }
    /* the redirects (an error page's own request is never redirected) */
    if ((site->redirects.n || site->redirect_host.mode) && !r->error_status &&
        answer_redirect(c, r, site, host, t, path, ret))
        return true;
    /* allow_ip/deny_ip, limit_req, auth_basic: for the client's own request, not again for
     * a local redirect an application asked for */
    if (access_rules_any(&site->access) && !r->redirects && access_check(c, r, path, ret))
        return true;
    if (r->rt->git && !r->gate_conf && !git_worker_is_live(r->rt->git)) {
        *ret = response_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
                              "The site is being deployed for the first time.",
                              MHD_HTTP_HEADER_RETRY_AFTER, "5");
        return true;
    }
    return false;
}

/* The handler for path: a script of the site's preset goes to FastCGI, the rest is static. */
static enum MHD_Result start_handler(struct MHD_Connection *c, struct request *r,
                                     const struct site_conf *site, const char *method,
                                     const char *path, const struct path_target *t)
{
    bool is_source = false;
    char *script, *path_info;
    if (site->fcgi.preset &&
        fcgi_request_route(r->rt, site, path, &script, &path_info, &is_source)) {
        if (route_method_refused(method)) {
            free(script); /* path_info is in the same block */
            return response_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, MHD_HTTP_HEADER_ALLOW,
                                  ROUTE_SCRIPT_ALLOW);
        }
        return fcgi_request_start(c, r, path, t->query, t->query_len, script, path_info);
    }
    if (is_source) /* a script that does not run is never shown as source */
        return response_error(c, r, MHD_HTTP_NOT_FOUND, NULL, NULL, NULL);

    switch (route_decide(site, method, path)) {
    case ROUTE_STATIC:
        return static_file_serve(c, r, site, path, t->query, t->query_len);
    case ROUTE_OPTIONS:
        return static_file_options(c, r);
    case ROUTE_BAD_METHOD:
        return response_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, MHD_HTTP_HEADER_ALLOW,
                              ROUTE_STATIC_ALLOW);
    case ROUTE_NOT_IMPLEMENTED:
        break;
    }
    return response_error(c, r, MHD_HTTP_NOT_IMPLEMENTED, NULL, NULL, NULL);
}

/* r's target cannot be routed: the client's fault (status, detail), unless a local redirect
 * made it, which is the application's: 500, and the error log says what it asked for. */
static enum MHD_Result bad_target(struct MHD_Connection *c, struct request *r, unsigned status,
                                  const char *detail)
{
    if (!r->redirects)
        return response_error(c, r, status, detail, NULL, NULL);
    log_error("http", r->id, "local redirect to an invalid target (%u): %.200s", status, r->target);
    return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
}

/*
 * Route r and hand it to the handler that answers it: its start function takes r (sets
 * r->handler and its own state) and makes the first call; the answers given here are the
 * error handler's. Called once per request, and once more per local redirect followed.
 */
static enum MHD_Result dispatch(struct MHD_Connection *c, struct request *r, const char *method)
{
    enum MHD_Result ret;
    r->handler = &handler_error; /* until a handler takes it */
    /* one valid Host at most: http_head_check() has seen to it */
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (r->early_status)
        return answer_early_status(c, r, host);
    struct path_target t;
    if (path_split_target(r->target, r->target_len, &t) != PATH_OK)
        return bad_target(c, r, MHD_HTTP_BAD_REQUEST, "Malformed request target.");
    char authority[HTTP_HEAD_AUTHORITY_MAX + 1];
    if (t.authority) {
        /* absolute-form: the target's authority wins over Host (RFC 9112 3.2.2);
         * http_head_check() has seen to its syntax and length */
        if (t.authority_len >= sizeof authority)
            return bad_target(c, r, MHD_HTTP_BAD_REQUEST, "Malformed request target.");
        copy_str(authority, t.authority_len + 1, t.authority);
        host = authority;
    }
    unsigned gate_status = enter_site(c, r, host);
    if (gate_status)
        return response_error(c, r, gate_status, "No such release to check.", NULL, NULL);
    const struct site_conf *site = r->site;

    char path[4096];
    size_t path_len;
    switch (path_normalize(t.path, t.path_len, path, sizeof path, &path_len)) {
    case PATH_OK:
        break;
    case PATH_TOO_LONG:
        return bad_target(c, r, MHD_HTTP_URI_TOO_LONG, NULL);
    default:
        return bad_target(c, r, MHD_HTTP_BAD_REQUEST, "Malformed request path.");
    }
    if (answer_before_rules(c, r, site, host, &t, path, &ret))
        return ret;
    set_rule_path(r, site, path);
    r->error_pages_ok = true;
    if (answer_site_rules(c, r, site, host, &t, path, &ret))
        return ret;
    return start_handler(c, r, site, method, path, &t);
}

static bool has_body(struct MHD_Connection *c)
{
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (cl && strcmp(cl, "0") != 0) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* r's handler is done with it: its on_completed frees its state (and may set r->bytes). */
static void end_handler(struct request *r, enum MHD_RequestTerminationCode toe)
{
    const struct handler *h = r->handler;
    if (h && h->on_completed)
        h->on_completed(r, toe);
    r->handler = NULL;
    r->handler_state = NULL;
}

/*
 * A handler asked for a local redirect (RFC 3875 6.2.2: a CGI Location that is a local path)
 * by leaving the target in r->redirect and returning. It is done with r; the new target is
 * answered as a GET (HEAD stays HEAD) without the old body, through the normal routing, at
 * most HTTP_FRONT_MAX_REDIRECTS times; then 500.
 */
static enum MHD_Result follow_redirects(struct MHD_Connection *c, struct request *r,
                                        enum MHD_Result ret)
{
    while (r->redirect || r->sendfile) {
        if (r->sendfile) { /* X-Sendfile: the handler is done; the file answers r */
            end_handler(r, MHD_REQUEST_TERMINATED_COMPLETED_OK);
            ret = fcgi_sendfile_serve(c, r);
            continue;
        }
        char *target = r->redirect;
        r->redirect = NULL;
        end_handler(r, MHD_REQUEST_TERMINATED_COMPLETED_OK);
        if (++r->redirects > HTTP_FRONT_MAX_REDIRECTS) {
            log_error("http", r->id, "more than %u local redirects; last to %s",
                      HTTP_FRONT_MAX_REDIRECTS, target);
            free(target);
            r->handler = &handler_error;
            return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
        }
        if (r->target != r->target_inline)
            free(r->target);
        r->target = target;
        r->target_len = strlen(target);
        r->has_body = false; /* the new request is a GET without the old body */
        copy_str(r->method, sizeof r->method, r->is_head ? "HEAD" : "GET");
        ret = dispatch(c, r, r->method);
    }
    return ret;
}

/*
 * MHD calls this once when the head is in, then for each piece of body, then once more with
 * no data; a suspended request is called again once resumed. note: a response queued in the
 * first call makes MHD discard the rest of the request and close the connection (0.9.75,
 * MHD_queue_response "early" path), so a request without a body is dispatched on the second
 * call to keep the connection alive. One with a body is dispatched at once: a handler that
 * wants the body reads it (later calls go to r->handler), and answering one nobody wants at
 * once and closing beats reading an upload we would throw away.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct request *r = *con_cls;
    if (!r)
        return MHD_NO;    /* cannot happen: on_uri always runs first */
    if (r->access_wait) { /* resumed after a password check (access.h) */
        enum MHD_Result ret;
        if (!access_resume(c, r, &ret))
            return ret;
        ret = dispatch(c, r, r->method);
        /* a body that arrived meanwhile goes to the handler now routed, as its next call */
        if (ret == MHD_YES && *upload_data_size && r->handler && r->handler->on_request)
            ret = r->handler->on_request(c, r, upload_data, upload_data_size);
        return follow_redirects(c, r, ret);
    }
    if (r->handler)
        return follow_redirects(c, r, r->handler->on_request(c, r, upload_data, upload_data_size));
    if (!r->head_seen) {
        r->head_seen = true;
        conn_watch_busy(r->watch);
        copy_str(r->method, sizeof r->method, method);
        copy_str(r->protocol, sizeof r->protocol, version);
        r->is_head = strcmp(method, "HEAD") == 0;
        /* before the body is read and before any handler: a head that breaks RFC 9110/9112
         * is answered now, and a response queued in this first call makes MHD close the
         * connection, so nothing after this head (a smuggled request) is ever read */
        const char *why;
        unsigned status = check_head(c, r, method, version, &why);
        /* note: MHD's own bound is its daemon's memory limit, fixed when it started; a reload
         * may have lowered max_header_size below it */
        const union MHD_ConnectionInfo *hi =
            status ? NULL : MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (hi && hi->header_size > atomic_load_explicit(&max_header_bytes, memory_order_relaxed)) {
            status = MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
            why = "request head larger than max_header_size";
        }
        if (status) {
            r->handler = &handler_error;
            r->rt = site_for_host(atomic_load_explicit(&sites, memory_order_acquire),
                                  NULL); /* logged by the default site: the Host
                                                   itself may be the problem */
            site_pin(r->rt);
            r->site = r->rt->conf;
            atomic_fetch_add_explicit(&n_heads_refused, 1, memory_order_relaxed);
            log_msg(LOG_DEBUG, "http", r->id, "request head refused (%u): %s", status, why);
            return response_error(c, r, status, why, MHD_HTTP_HEADER_CONNECTION, "close");
        }
        r->has_body = has_body(c);
        if (!r->has_body)
            return MHD_YES;
    }
    return follow_redirects(c, r, dispatch(c, r, method));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (r->watch && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        conn_watch_idle(r->watch);
    struct access_log *log = r->rt ? r->rt->log : NULL;
    enum access_log_style style = r->rt ? r->rt->conf->access_log_format : 0;
    bool handled = r->handler != NULL; /* dispatched, or its head refused */
    enum metrics_handler mh = metrics_handler_of(handled ? r->handler->name : NULL);
    end_handler(r, toe);
    uint64_t duration_us = clock_us() - r->start_us;
    unsigned status = r->status ? r->status : 499;
    uint64_t bytes = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->bytes : 0;
    if (r->conn) { /* counted by the worker running the connection: its own slots */
        metrics_add(&metrics_worker(r->conn->worker)->requests_done, 1);
        if (handled && r->rt)
            metrics_request_done(r->rt->stats, r->conn->worker, metrics_method_of(r->method),
                                 status, mh, duration_us, bytes);
    }
    if (log && handled) {
        char addr[CIDR_TEXT_MAX] = "-";
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (r->real_ip[0]) { /* the client a trusted proxy named (access.h) */
            copy_str(addr, sizeof addr, r->real_ip);
        } else if (ci && ci->client_addr) {
            unsigned port;
            cidr_format_sockaddr(ci->client_addr, addr, sizeof addr, &port);
        }
        struct access_entry e = {
            .remote_addr = addr,
            .time_ms = r->wall_ms,
            .site = r->rt->conf->name,
            .request_id = r->id,
            .method = r->method,
            .target = r->error_target ? r->error_target : r->target,
            .protocol = r->protocol,
            .status = status,
            .bytes = bytes,
            .referer = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_REFERER),
            .user_agent =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT),
            .upstream = r->upstream,
            .remote_user = r->remote_user,
            .duration_us = duration_us,
        };
        access_log_write(log, style, &e);
    }
    if (dev_console_on) /* development mode: one human line, PHP's stderr under it */
        dev_request_line(r, status, duration_us);
    access_request_done(r);
    free(r->remote_user);
    site_unpin(r->rt); /* the request no longer uses its site (site.h) */
    if (r->target != r->target_inline)
        free(r->target);
    free(r->redirect); /* NULL: followed before the access handler returned */
    free(r->rule_path);
    free(r->error_target);
    fcgi_sendfile_free(r->sendfile); /* NULL: served before the access handler returned */
    free_gate_conf(r);
    free(r);
}

/* note: MHD logs one warning per connection it loses ("Connection socket is closed when
 * reading request ..."), so a slowloris flood cut by conn_watch wrote ~1.5 MB a minute. Each
 * kind of message (MHD's format string) gets MHD_LOG_BURST lines per MHD_LOG_WINDOW_MS; the
 * rest are counted and summed up in one line when the window is over (http_front_tick). */
#define MHD_LOG_WINDOW_MS 10000
#define MHD_LOG_BURST 5

static pthread_mutex_t mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_limit mhd_log_limit = {.window_ms = MHD_LOG_WINDOW_MS, .burst = MHD_LOG_BURST};

static void log_summary(const struct log_limit_summary *s)
{
    log_warn("mhd", 0, "%llu more message%s like this in %u s were not logged: %s",
             (unsigned long long)s->suppressed, s->suppressed == 1 ? "" : "s",
             (unsigned)(s->window_ms / 1000), s->sample);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    /* we return MHD_NO on purpose when a waiting client has gone (already logged) */
    if (strstr(msg, "Application reported internal error")) {
        log_msg(LOG_DEBUG, "mhd", 0, "%s", msg);
        return;
    }
    atomic_fetch_add_explicit(&n_mhd_lines, 1, memory_order_relaxed);
    if (strstr(fmt, "connection limit")) /* "Server reached connection limit. Closing ..." */
        atomic_fetch_add_explicit(&n_refused_limit, 1, memory_order_relaxed);
    struct log_limit_summary ended;
    pthread_mutex_lock(&mhd_log_lock);
    bool admit = log_limit_admit(&mhd_log_limit, fmt, msg, clock_ms(), &ended);
    if (ended.suppressed)
        log_summary(&ended); /* before the line that opens the next window */
    pthread_mutex_unlock(&mhd_log_lock);
    if (admit)
        log_warn("mhd", 0, "%s", msg);
}

void http_front_tick(void)
{
    struct log_limit_summary s;
    pthread_mutex_lock(&mhd_log_lock);
    while (log_limit_flush(&mhd_log_limit, clock_ms(), &s))
        log_summary(&s);
    pthread_mutex_unlock(&mhd_log_lock);
}

void http_front_get_stats(struct http_front_stats *st)
{
    st->heads_refused = atomic_load_explicit(&n_heads_refused, memory_order_relaxed);
    st->mhd_log_lines = atomic_load_explicit(&n_mhd_lines, memory_order_relaxed);
    st->refused_max_connections = atomic_load_explicit(&n_refused_limit, memory_order_relaxed);
    pthread_mutex_lock(&mhd_log_lock);
    st->mhd_log_suppressed = mhd_log_limit.total_suppressed;
    pthread_mutex_unlock(&mhd_log_lock);
}

/* ---- listeners ------------------------------------------------------------------------ */

static int bind_one(const struct sockaddr *sa, socklen_t len, const char *text,
                    struct errlist *errs)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        errlist_add(errs, "cannot listen on %s: %s", text, strerror(errno));
        return -1;
    }
    int on = 1, off = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
                   IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr) ? &off
                                                                                          : &on,
                   sizeof on);
    if (bind(fd, sa, len) != 0 || listen(fd, 4096) != 0) {
        errlist_add(errs, "cannot listen on %s: %s", text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * [server] tcp_notsent_lowat on a listen socket; the connections accepted from it inherit it
 * (one call per listener, none per connection). A socket with at most this much unsent data
 * queued hands each piece of a large body to TCP inside wharf's own sendfile() or write(),
 * instead of queueing megabytes that go out later from the context of the client's ACKs: on a
 * shared machine that is the client's CPU, and a receiver fed in bursts keeps its window
 * small (docs/benchmarks.md, change 11). 0: the kernel's default (no limit unless
 * net.ipv4.tcp_notsent_lowat says otherwise). Plain listeners only: on a TLS one the worker
 * encrypts every record and is the limit itself, and taking on the sending cost 14 % there.
 */
static void set_notsent_lowat(int fd, uint64_t bytes)
{
#ifdef TCP_NOTSENT_LOWAT
    int v = (int)bytes;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) != 0 && bytes)
        log_warn("http", 0, "tcp_notsent_lowat: %s; the kernel's default applies", strerror(errno));
#else
    (void)fd;
    (void)bytes;
#endif
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static unsigned cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/*
 * workers = 0: one event loop per CPU; half as many (at least one) when a site runs PHP. Then
 * php-fpm's children need the cores, and fewer loops gather more FastCGI events per wake-up:
 * on 2 CPUs one worker used 12 % less CPU per PHP request at the same req/s, and still served
 * 1 KiB files faster than nginx with two (docs/benchmarks.md).
 */
static unsigned default_workers(void)
{
    unsigned n = cpu_count();
    for (size_t i = 0; i < cfg->n_sites; i++)
        if (cfg->sites[i].fcgi.n_upstreams || cfg->sites[i].fcgi.spawn)
            return n / 2 ? n / 2 : 1;
    return n;
}

/* The TLS daemons' certificates: tls_store.h, chosen per handshake by server name. */
static int load_tls(struct errlist *errs)
{
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS) ||
        !MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK))
        return errlist_add(errs, "this libmicrohttpd was built without TLS (or its certificate "
                                 "callback)");
    struct tls_set *set = tls_store_build(cfg, errs);
    if (!set)
        return -1;
    tls_store_publish(set);
    return 0;
}

/* The URI callback's cls on TLS daemons: anything not NULL (on_uri sets r->is_tls from it). */
static char tls_marker;

/* One daemon for worker `worker` on listen socket fd (shared: MHD gets its own dup), into *out.
 * Given to the worker directly before it runs, posted to it (post) once it does. */
static int start_daemon(unsigned worker, int fd, unsigned conn_limit, struct errlist *errs,
                        const char *text, bool tls, bool post, struct MHD_Daemon **out)
{
    unsigned timeout_s = atomic_load_explicit(&idle_timeout_s, memory_order_relaxed);
    /* external epoll mode: the worker's loop runs it (worker.h) */
    unsigned flags =
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0);
    int own_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own_fd < 0)
        return errlist_add(errs, "cannot listen on %s: %s", text, strerror(errno));
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL}, /* first, or MHD warns */
        /* TLS daemons ask the store for a certificate at each handshake (SNI); others repeat
         * a harmless option instead */
        {tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_CONNECTION_TIMEOUT, tls ? 0 : timeout_s,
         tls ? (void *)tls_store_retrieve : NULL},
        {MHD_OPTION_LISTEN_SOCKET, own_fd, NULL},
        /* note: in 0.9.75 strict mode (1) only adds two answers we do worse than wharf:
         * a space inside the target closes without any response, and a missing Host gets
         * MHD's 400 with its status line and headers sent twice. Its third check (space
         * before a colon) is, by a bug, active only at -1. With 0 all three heads reach
         * http_head_check(), which answers them cleanly (docs/http-validation.md). */
        {MHD_OPTION_STRICT_FOR_CLIENT, 0, NULL},
        /* note: without its own threads MHD cannot know that SIGPIPE is ignored (we do it in
         * http_front_start) and would never use sendfile(): 10 MiB files ran at a third of
         * the speed */
        {MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, conn_limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
         (intptr_t)atomic_load_explicit(&max_header_bytes, memory_order_relaxed), NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, tls ? (void *)&tls_marker : NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, &front_workers[worker]},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d = MHD_start_daemon(flags, 0, on_accept, &front_workers[worker], on_request,
                                            NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d) {
        close(own_fd);
        return errlist_add(errs, "cannot start the HTTP server on %s", text);
    }
    *out = d;
    if (post) {
        worker_post_daemon(worker, d, WORKER_POST_ADD, conn_limit);
        return 0;
    }
    if (worker_add_daemon(worker, d, conn_limit) != 0) {
        MHD_stop_daemon(d);
        *out = NULL;
        return errlist_add(errs, "cannot add the HTTP server on %s to worker %u", text, worker);
    }
    return 0;
}

/* Raise the soft fd limit toward the hard one: each connection costs one descriptor. */
static void raise_fd_limit(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t need = (rlim_t)want + 64;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        log_warn("http", 0, "max_connections %u needs %llu descriptors, the limit is %llu", want,
                 (unsigned long long)need, (unsigned long long)rl.rlim_cur);
}

/* A socket passed by the service manager with address sa, taken out of passed[] (-1 when
 * none). */
static int take_passed(int *passed, size_t n, const struct sockaddr *sa)
{
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (passed[i] < 0 || getsockname(passed[i], (struct sockaddr *)&ss, &len) != 0)
            continue;
        if (service_same_addr((struct sockaddr *)&ss, sa)) {
            int fd = passed[i];
            passed[i] = -1;
            return fd;
        }
    }
    return -1;
}

/* Bind every address of la (one dual-stack socket for ":port") into fds; a socket the service
 * manager passed for an address is used as it is (socket activation; passed may be NULL). */
static void bind_addr(const struct listen_addr *la, int *fds, size_t *n_fds, int *passed,
                      size_t n_passed, struct errlist *errs)
{
    char port[8];
    snprintf(port, sizeof port, "%u", la->port);
    struct addrinfo hints = {.ai_family = la->host ? AF_UNSPEC : AF_INET6,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(la->host, port, &hints, &res);
    if (gai != 0 && !la->host) { /* no IPv6 at all: all IPv4 addresses then */
        hints.ai_family = AF_INET;
        gai = getaddrinfo(NULL, port, &hints, &res);
    }
    if (gai != 0) {
        errlist_add(errs, "cannot listen on %s: %s", la->text, gai_strerror(gai));
        return;
    }
    for (struct addrinfo *ai = res; ai && *n_fds < MAX_LISTEN; ai = ai->ai_next) {
        int fd = passed ? take_passed(passed, n_passed, ai->ai_addr) : -1;
        if (fd < 0)
            fd = bind_one(ai->ai_addr, ai->ai_addrlen, la->text, errs);
        if (fd >= 0)
            fds[(*n_fds)++] = fd;
        if (!la->host)
            break; /* one dual-stack socket covers every address */
    }
    freeaddrinfo(res);
}

/*
 * The listen sockets, for a reload to tell which stay (same host, port and TLS: kept, with
 * their daemons), which are new and which go. One per bound socket (an address may resolve
 * to several). Main thread.
 */
struct lsock {
    char *host; /* NULL = all addresses */
    uint16_t port;
    bool tls;
    char *text;
    struct MHD_Daemon *d[WORKER_MAX]; /* one per worker */
};
static struct lsock lsocks[MAX_LISTEN];
static size_t n_lsocks;
static unsigned n_workers_run, per_daemon_limit;

static void lsock_add(const struct listen_addr *la, bool tls, struct MHD_Daemon **d)
{
    struct lsock *l = &lsocks[n_lsocks++];
    *l = (struct lsock){la->host ? xstrdup(la->host) : NULL, la->port, tls, xstrdup(la->text), {0}};
    memcpy(l->d, d, sizeof l->d);
}

static bool same_key(const struct lsock *l, const struct listen_addr *la, bool tls)
{
    return l->port == la->port && l->tls == tls &&
           (l->host == la->host || (l->host && la->host && strcmp(l->host, la->host) == 0));
}

/* The listen sockets, open from http_front_listen() until the daemons have their own. */
static int lfds[MAX_LISTEN];
static const struct listen_addr *llas[MAX_LISTEN];
static bool ltls[MAX_LISTEN];
static size_t n_lfds;

static void close_listeners(void)
{
    for (size_t i = 0; i < n_lfds; i++)
        close(lfds[i]);
    n_lfds = 0;
}

int http_front_listen(const struct config *config, struct errlist *errs)
{
    cfg = config;
    int passed[SERVICE_MAX_FDS];
    const char *why;
    int n_passed = service_listen_fds(passed, SERVICE_MAX_FDS, &why);
    if (n_passed < 0)
        return errlist_add(errs, "sockets passed by the service manager: %s", why);
    size_t n_all = cfg->server.n_listen + cfg->server.n_tls_listen;
    for (size_t i = 0; i < n_all; i++) {
        bool is_tls = i >= cfg->server.n_listen;
        const struct listen_addr *la =
            is_tls ? &cfg->server.tls_listen[i - cfg->server.n_listen] : &cfg->server.listen[i];
        size_t before = n_lfds;
        bind_addr(la, lfds, &n_lfds, passed, (size_t)n_passed, errs);
        for (size_t j = before; j < n_lfds; j++) {
            llas[j] = la;
            ltls[j] = is_tls;
            if (!is_tls)
                set_notsent_lowat(lfds[j], cfg->server.notsent_lowat);
        }
    }
    for (int i = 0; i < n_passed; i++) {
        if (passed[i] < 0)
            continue;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        char text[160] = "(unknown address)";
        if (getsockname(passed[i], (struct sockaddr *)&ss, &len) == 0)
            service_format_addr((struct sockaddr *)&ss, text, sizeof text);
        errlist_add(errs,
                    "the socket passed by the service manager on %s (fd %d) matches no listen or "
                    "tls_listen address",
                    text, passed[i]);
        close(passed[i]);
    }
    if (!errs->n && cfg->server.n_tls_listen && load_tls(errs) != 0)
        errlist_add(errs, "TLS is not available");
    if (errs->n) {
        close_listeners();
        return -1;
    }
    return 0;
}

int http_front_start(const struct config *config, struct site_table *site_table,
                     struct errlist *errs)
{
    dev_console_on = config->server.dev;
    dev_console_color = dev_console_on && dev_use_color(2);
    dev_reload_on = config->server.dev_reload;
    cfg = config;
    atomic_store(&sites, site_table);
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-send is an error return, not a signal */
    atomic_store(&idle_timeout_changed, false);
    http_front_set_limits(&cfg->server);
    atomic_store(&idle_timeout_changed, false); /* the daemons start with these */
    if (!n_lfds && http_front_listen(config, errs) != 0)
        return -1;
    raise_fd_limit(cfg->server.max_connections);
    unsigned n_workers = cfg->server.workers ? cfg->server.workers : default_workers();
    unsigned per_daemon = cfg->server.max_connections / (unsigned)(n_lfds * n_workers);
    if (per_daemon < 1)
        per_daemon = 1;
    first_port = bound_port(lfds[0]);
    gate_set_listener(lfds[0]); /* the git worker's health checks (gate.h) go there */
    n_listeners = n_lfds;
    /* note: always counted, so that a reload can set a limit (ip_limit.h) */
    per_ip = ip_limit_new(cfg->server.max_connections_per_ip);
    started = true;
    /* note: fill first by default only up to 2 workers: connections opened at once (a
     * benchmark's) stay on one worker, which on a bigger machine would leave cores idle */
    enum worker_accept wa = cfg->server.worker_accept;
    bool fill = wa == WORKER_ACCEPT_FILL || (wa == WORKER_ACCEPT_AUTO && n_workers <= 2);
#ifndef MHD_HAVE_SET_ACCEPTING
    fill = false; /* another libmicrohttpd than ours cannot pause a daemon (patch 0009) */
#endif
    int rc = worker_create(n_workers, fill, errs);
    for (unsigned w = 0; rc == 0 && w < n_workers; w++) /* read by the workers' daemons */
        front_workers[w] = (struct front_worker){w, worker_conn_watches(w), worker_engine(w)};
    n_workers_run = n_workers;
    per_daemon_limit = per_daemon;
    for (size_t i = 0; rc == 0 && i < n_lfds; i++) {
        struct MHD_Daemon *d[WORKER_MAX] = {0};
        for (unsigned w = 0; rc == 0 && w < n_workers; w++)
            rc = start_daemon(w, lfds[i], per_daemon, errs, llas[i]->text, ltls[i], false, &d[w]);
        if (rc == 0)
            lsock_add(llas[i], ltls[i], d);
    }
    for (size_t i = 0; rc == 0 && i < n_lfds; i++)
        log_info("http", 0, "listening on %s (port %u%s, %u worker%s%s)", llas[i]->text,
                 bound_port(lfds[i]), ltls[i] ? ", TLS" : "", n_workers, n_workers == 1 ? "" : "s",
                 n_workers == 1 ? ""
                 : fill         ? ", filled in order"
                                : ", accepting alike");
    close_listeners(); /* every daemon has its own descriptor of the socket */
    if (rc == 0)
        rc = worker_start(errs);
    if (rc != 0) {
        http_front_stop();
        return -1;
    }
    return 0;
}

void http_front_drain(void)
{
    if (started)
        worker_drain();
}

unsigned http_front_open_connections(void)
{
    return started ? worker_open_connections() : 0;
}

uint16_t http_front_port(void)
{
    return first_port;
}

unsigned http_front_listeners_open(size_t *configured)
{
    *configured = n_listeners;
    if (!started || !worker_count())
        return 0;
    /* every worker has a daemon on every socket: worker 0's tell which sockets are open */
    struct MHD_Daemon *ds[WORKER_MAX_DAEMONS];
    size_t n = worker_daemons(ds, n_listeners <= WORKER_MAX_DAEMONS ? n_listeners : 0);
    unsigned open = 0;
    for (size_t i = 0; i < n; i++) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(ds[i], MHD_DAEMON_INFO_LISTEN_FD);
        open += di && di->listen_fd != MHD_INVALID_SOCKET;
    }
    return open;
}

void http_front_stop(void)
{
    close_listeners(); /* opened by http_front_listen, not yet given to daemons */
    if (!started)
        return;
    started = false;
    worker_stop();         /* nobody runs MHD or the engines from here on */
    worker_quiesce_rest(); /* no new connections (a drain did it already on each worker) */
    struct MHD_Daemon *ds[WORKER_MAX * WORKER_MAX_DAEMONS];
    size_t n = worker_daemons(ds, sizeof ds / sizeof ds[0]);
    /* every suspended connection must be resumed before MHD_stop_daemon (docs/design-notes.md,
     * pitfall 8): failing what the engines and queues still hold resumes them; one more pass lets
     * MHD send those clients their 502/503 (best effort: a slow reader is simply closed) */
    fcgi_pool_stop();
    access_stop(); /* the same for requests waiting for a password check */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            MHD_run(ds[i]);
    for (size_t i = 0; i < n; i++)
        MHD_stop_daemon(ds[i]);
    fcgi_engine_free_all();
    worker_free();
    tls_store_stop();
    ip_limit_free(per_ip);
    per_ip = NULL;
    atomic_store(&sites, NULL);
    http_front_listen_abort();
    for (size_t i = 0; i < n_lsocks; i++) {
        free(lsocks[i].host);
        free(lsocks[i].text);
    }
    n_lsocks = 0;
}

/* ---- listeners on reload ----------------------------------------------------------------- */

/* Sockets bound by http_front_listen_prepare, waiting for the commit. */
static struct {
    int fd;
    const struct listen_addr *la; /* the new configuration's (it outlives the commit) */
    bool tls;
} pending[MAX_LISTEN];
static size_t n_pending;
/* the new configuration's certificates, read by prepare; NULL = no TLS listener */
static struct tls_set *pending_set;

void http_front_listen_abort(void)
{
    for (size_t i = 0; i < n_pending; i++)
        close(pending[i].fd);
    n_pending = 0;
    tls_store_discard(pending_set);
    pending_set = NULL;
}

int http_front_listen_prepare(const struct config *c, struct errlist *errs)
{
    const struct server_conf *s = &c->server;
    size_t before = errs->n;
    n_pending = 0;
    size_t n_all = s->n_listen + s->n_tls_listen;
    for (size_t i = 0; i < n_all; i++) {
        bool is_tls = i >= s->n_listen;
        const struct listen_addr *la = is_tls ? &s->tls_listen[i - s->n_listen] : &s->listen[i];
        bool kept = false;
        for (size_t j = 0; j < n_lsocks && !kept; j++)
            kept = lsocks[j].d[0] && same_key(&lsocks[j], la, is_tls);
        if (kept)
            continue;
        int fds[MAX_LISTEN];
        size_t n = 0;
        bind_addr(la, fds, &n, NULL, 0, errs);
        for (size_t j = 0; j < n; j++) {
            if (n_pending < MAX_LISTEN && n_lsocks + n_pending < MAX_LISTEN) {
                if (!is_tls)
                    set_notsent_lowat(fds[j], s->notsent_lowat);
                pending[n_pending++] = (typeof(pending[0])){fds[j], la, is_tls};
            } else {
                close(fds[j]);
                errlist_add(errs, "cannot listen on %s: more than %d listen sockets", la->text,
                            MAX_LISTEN);
            }
        }
    }
    if (s->n_tls_listen && errs->n == before) { /* read again: they may have been replaced */
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
            errlist_add(errs, "this libmicrohttpd was built without TLS");
        else
            pending_set = tls_store_build(c, errs);
    }
    if (errs->n != before) {
        http_front_listen_abort();
        return -1;
    }
    return 0;
}

/* A listener a reload keeps: a changed tcp_notsent_lowat holds for the connections it accepts
 * from now (its daemons share one socket). */
static void keep_listener(const struct lsock *l, const struct server_conf *s)
{
    const union MHD_DaemonInfo *di =
        l->d[0] && !l->tls ? MHD_get_daemon_info(l->d[0], MHD_DAEMON_INFO_LISTEN_FD) : NULL;
    if (di)
        set_notsent_lowat(di->listen_fd, s->notsent_lowat);
}

void http_front_listen_commit(const struct server_conf *s)
{
    if (pending_set) {
        /* note: new handshakes get the new certificates at once; those in progress finish
         * with the set they started with (tls_store.h): no daemon is replaced */
        tls_store_publish(pending_set);
        pending_set = NULL;
    }
    /* removed: every worker stops accepting on them, and stops them once they are empty */
    for (size_t j = 0; j < n_lsocks;) {
        struct lsock *l = &lsocks[j];
        bool stays = false;
        for (size_t i = 0; i < s->n_listen && !stays; i++)
            stays = same_key(l, &s->listen[i], false);
        for (size_t i = 0; i < s->n_tls_listen && !stays; i++)
            stays = same_key(l, &s->tls_listen[i], true);
        if (stays) {
            keep_listener(l, s);
            j++;
            continue;
        }
        for (unsigned w = 0; w < n_workers_run; w++)
            if (l->d[w])
                worker_post_daemon(w, l->d[w], WORKER_POST_REMOVE, 0);
        log_info("http", 0, "no longer listening on %s%s (its open connections finish)", l->text,
                 l->tls ? " (TLS)" : "");
        free(l->host);
        free(l->text);
        *l = lsocks[--n_lsocks];
    }
    for (size_t i = 0; i < n_pending; i++) {
        struct errlist errs = {0};
        struct MHD_Daemon *d[WORKER_MAX] = {0};
        int rc = 0;
        for (unsigned w = 0; rc == 0 && w < n_workers_run; w++)
            rc = start_daemon(w, pending[i].fd, per_daemon_limit, &errs, pending[i].la->text,
                              pending[i].tls, true, &d[w]);
        if (rc == 0) {
            lsock_add(pending[i].la, pending[i].tls, d);
            log_info("http", 0, "listening on %s (port %u%s)", pending[i].la->text,
                     bound_port(pending[i].fd), pending[i].tls ? ", TLS" : "");
        } else {
            for (unsigned w = 0; w < n_workers_run; w++)
                if (d[w])
                    worker_post_daemon(w, d[w], WORKER_POST_REMOVE, 0); /* added, then removed */
            for (size_t k = 0; k < errs.n; k++)
                log_error("http", 0, "%s", errs.msg[k]);
        }
        errlist_dispose(&errs);
        close(pending[i].fd); /* every daemon has its own descriptor of the socket */
    }
    n_pending = 0;
    http_front_listen_abort();              /* an unchanged certificate read again */
    for (size_t j = 0; j < n_lsocks; j++) { /* the gate's checks (gate.h): a plain listener */
        const union MHD_DaemonInfo *di =
            lsocks[j].tls || !lsocks[j].d[0]
                ? NULL
                : MHD_get_daemon_info(lsocks[j].d[0], MHD_DAEMON_INFO_LISTEN_FD);
        if (di) {
            gate_set_listener(di->listen_fd);
            break;
        }
    }
}

void http_front_set_limits(const struct server_conf *s)
{
    unsigned idle_s = (unsigned)((s->idle_timeout_ms + 999) / 1000);
    if (idle_s != atomic_exchange(&idle_timeout_s, idle_s))
        atomic_store(&idle_timeout_changed, true);
    atomic_store(&max_uri_bytes, s->max_uri_bytes);
    atomic_store(&https_port, s->n_tls_listen ? s->tls_listen[0].port : 0);
    atomic_store(&max_header_bytes, s->max_header_bytes);
    conn_watch_configure(s->header_timeout_ms, s->idle_timeout_ms);
    ip_limit_set_max(per_ip, s->max_connections_per_ip);
}

struct site_table *http_front_swap(struct site_table *t)
{
    return atomic_exchange_explicit(&sites, t, memory_order_acq_rel);
}
