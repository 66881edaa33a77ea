/*
 * fcgi_request: the MHD side of a proxied request (see include/fcgi_request.h).
 *
 * A handler (handler.h). States, in its per-request state (struct fcgi_http), driven by MHD's
 * calls to the access handler:
 *   FS_BODY    head seen; body pieces are buffered (memory, then an unlinked temp file)
 *   FS_WAIT    submitted, connection suspended until the head (or a failure) is in
 *   FS_DONE    a response is queued
 * Only existing scripts run: the script part of the path must be a regular file with the
 * preset's extension inside the root (fs_open_beneath applies the symlink policy), otherwise
 * the front controller (preset "try") or 404, without touching the backend.
 * Responses: a complete one (the backend ended before the head was handled) is one buffer
 * response; otherwise a content reader streams `out` as it fills. With the site's gzip or
 * compress on, a compressible response (gzip_choose) is compressed in the best coding the client
 * takes (coding_negotiate): a complete one in one go, a streamed one by a compress_stream in the
 * content reader, which takes at most FCGI_GZIP_IN raw bytes per call (the
 * back-pressure watermarks still count raw bytes) and flushes (Z_SYNC_FLUSH) whenever `out`
 * runs dry, so a PHP flush() reaches the client compressed but at once.
 */
#include "fcgi_request.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgi_env.h"
#include "cidr.h"
#include "dev_console.h"
#include "fcgi_exchange.h"
#include "fcgi_pool.h"
#include "fcgi_sendfile.h"
#include "fcgi_req.h"
#include "fs.h"
#include "gate.h"
#include "coding.h"
#include "compress.h"
#include "gzip.h"
#include "live_reload.h"
#include "handler.h"
#include "http_head.h"
#include "log.h"
#include "path.h"
#include "response.h"
#include "site.h"
#include "stat_memo.h"
#include "util.h"

#define MAX_HEADERS 256

enum { FS_BODY = 1, FS_WAIT, FS_DONE };

/* The handler's per-request state (r->handler_state); path and query share its allocation. */
struct fcgi_http {
    struct fcgi_req *q; /* the proxied request, ours until on_completed; NULL before begin() */
    int state;          /* FS_*; 0 before begin() */
    char *script;       /* SCRIPT_NAME (heap) */
    char *path_info;    /* PATH_INFO, inside script's block; "" = none */
    char *query;        /* raw query without '?', in this block; NULL = none */
    char path[];        /* decoded, normalised path (DOCUMENT_URI) */
};

static const char *temp_dir = "/tmp";
static bool dev_mode;    /* development mode: stderr kept per request, the empty-500 page */
static bool live_reload; /* and its live reload: the script goes into HTML pages */

void fcgi_request_setup(const struct server_conf *server)
{
    dev_mode = server->dev;
    live_reload = server->dev_reload;
    if (server->temp_dir)
        temp_dir = server->temp_dir;
    else if (getenv("TMPDIR"))
        temp_dir = getenv("TMPDIR");
}

/* ---- routing ----------------------------------------------------------------------------- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Is root + rel an existing regular file (under the site's symlink policy)? */
/*
 * Scripts found by the full check (fs_open_beneath: symlink policy, confinement) are
 * remembered by path and identity, so the next request for the same script costs one stat()
 * (shared by the requests of a worker loop turn: stat_memo.h): the same device and inode at the
 * same path is the same file that passed the check.
 */
#define SCRIPT_CACHE_SLOTS 256
static struct {
    char path[240];
    dev_t dev;
    ino_t ino;
} script_cache[SCRIPT_CACHE_SLOTS];
static pthread_mutex_t script_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t script_slot(const char *path)
{
    uint32_t h = 2166136261u;
    for (; *path; path++)
        h = (h ^ (unsigned char)*path) * 16777619u;
    return h % SCRIPT_CACHE_SLOTS;
}

static bool is_script(const struct site_conf *site, const char *rel)
{
    char full[PATH_MAX];
    struct stat st;
    bool known = false;
    size_t slot = 0;
    int n = snprintf(full, sizeof full, "%s%s", site->root, rel);
    bool cacheable = n > 0 && (size_t)n < sizeof script_cache[0].path;
    if (cacheable && stat_memo_stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
        slot = script_slot(full);
        pthread_mutex_lock(&script_cache_lock);
        known = strcmp(script_cache[slot].path, full) == 0 && script_cache[slot].dev == st.st_dev &&
                script_cache[slot].ino == st.st_ino;
        pthread_mutex_unlock(&script_cache_lock);
        if (known)
            return true;
    }
    int fd = fs_open_beneath(site->root, rel, site->follow_symlinks, site->git.shared_dir, &st);
    if (fd < 0)
        return false;
    close(fd);
    if (!S_ISREG(st.st_mode))
        return false;
    if (cacheable) {
        slot = script_slot(full);
        pthread_mutex_lock(&script_cache_lock);
        memcpy(script_cache[slot].path, full, (size_t)n + 1);
        script_cache[slot].dev = st.st_dev;
        script_cache[slot].ino = st.st_ino;
        pthread_mutex_unlock(&script_cache_lock);
    }
    return true;
}

static int kind_of(const struct site_conf *site, const char *rel)
{
    struct stat st;
    int fd = fs_open_beneath(site->root, rel, site->follow_symlinks, site->git.shared_dir, &st);
    if (fd < 0)
        return 0;
    close(fd);
    return S_ISDIR(st.st_mode) ? 'd' : 'f';
}

/* One block holds SCRIPT_NAME and, after its NUL, PATH_INFO: one allocation per routed request
 * instead of two (*path_info points into *script_name's block). */
static char *route_pair(const char *script, size_t script_len, const char *info, char **path_info)
{
    size_t info_len = strlen(info);
    char *block = xmalloc(script_len + 1 + info_len + 1);
    memcpy(block, script, script_len);
    block[script_len] = '\0';
    *path_info = block + script_len + 1;
    memcpy(*path_info, info, info_len + 1);
    return block;
}

bool fcgi_request_route(const struct site *rt, const struct site_conf *site, const char *path,
                        char **script_name, char **path_info, bool *is_source)
{
    const struct preset *p = site->fcgi.preset;
    size_t len = strlen(path);
    *is_source = false;
    if (!p || !rt->pool)
        return false;
    const char *split = p->split ? p->split : p->ext;
    bool in_scope = path_has_prefix(path, site->fcgi.path);
    for (size_t i = 0; in_scope && i < site->fcgi.except.n; i++)
        if (path_has_prefix(path, site->fcgi.except.v[i]))
            in_scope = false;

    size_t script_len;
    if (cgi_split_script(path, len, split, &script_len) && ends_with(path, script_len, p->ext)) {
        char *script = route_pair(path, script_len, path + script_len, path_info);
        if (in_scope && is_script(site, script)) {
            *script_name = script;
            return true;
        }
        free(script);
        if (ends_with(path, len, p->ext)) {
            *is_source = true; /* never served as a static file */
            goto fallback;
        }
    }
    if (!in_scope)
        return false;
    if (path[len - 1] == '/') {
        for (size_t i = 0; i < p->index.n; i++) {
            char *s = xasprintf("%s%s", path, p->index.v[i]);
            if (is_script(site, s)) {
                *script_name = s;
                *path_info = s + strlen(s); /* "": its terminator, in the same block */
                return true;
            }
            free(s);
        }
    }
    /* without a front controller, anything else is static content (or its 404): static_file
     * looks at the file system itself, so don't do it twice here */
    if (!p->try_script || kind_of(site, path))
        return false;
fallback:
    if (in_scope && p->try_script && is_script(site, p->try_script)) {
        *script_name = route_pair(p->try_script, strlen(p->try_script), "", path_info);
        *is_source = false;
        return true;
    }
    return false;
}

/* ---- request body ------------------------------------------------------------------------ */

static int open_temp(void)
{
    int fd = open(temp_dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char *tmpl = xasprintf("%s/wharf-body-XXXXXX", temp_dir);
    fd = mkstemp(tmpl);
    if (fd >= 0)
        unlink(tmpl);
    free(tmpl);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Keep n more body bytes: memory first, a temp file past the site's fastcgi_body_buffer. */
static int keep_body(struct fcgi_req *q, uint64_t mem_max, const char *data, size_t n)
{
    if (q->body_fd < 0 && q->body_mem.len + n <= mem_max &&
        buf_append(&q->body_mem, data, n) == 0) {
        q->body_len += n;
        return 0;
    }
    if (q->body_fd < 0) {
        q->body_fd = open_temp();
        if (q->body_fd < 0 || write_all(q->body_fd, q->body_mem.data, q->body_mem.len) != 0)
            return -1;
        buf_dispose(&q->body_mem);
    }
    if (write_all(q->body_fd, data, n) != 0)
        return -1;
    q->body_len += n;
    return 0;
}

/* ---- params -------------------------------------------------------------------------------- */

struct header_set {
    struct cgi_header v[MAX_HEADERS];
    size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    struct header_set *h = cls;
    if (h->n >= MAX_HEADERS || !value || strlen(value) != value_size)
        return MHD_YES; /* an embedded NUL: dropped, as cgi_env_build drops CR/LF */
    if (ascii_casecmp(key, GATE_TOKEN_HEADER) == 0 || ascii_casecmp(key, GATE_RELEASE_HEADER) == 0)
        return MHD_YES; /* the gate's token never reaches the application */
    h->v[h->n].name = key;
    h->v[h->n].value = value;
    h->n++;
    return MHD_YES;
}

static uint32_t hash_text(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/*
 * An absolute-form target ("GET http://host:8080/x?q", RFC 9112 3.2.2): the site was picked by
 * its authority and the Host field is to be ignored, so the script gets what nginx gives it:
 * the origin form ("/x?q") as REQUEST_URI and the authority as its host (HTTP_HOST and
 * SERVER_NAME). Returns the origin form (heap, the caller frees it) and copies the authority
 * into authority[cap]; NULL for any other target.
 */
static char *absolute_form(const char *target, char *authority, size_t cap)
{
    struct path_target t;
    if (target[0] == '/' || path_split_target(target, strlen(target), &t) != PATH_OK ||
        !t.authority || t.authority_len >= cap)
        return NULL;
    copy_str(authority, t.authority_len + 1, t.authority);
    char *origin = xmalloc(t.path_len + t.query_len + 2);
    memcpy(origin, t.path, t.path_len);
    size_t n = t.path_len;
    if (t.query) {
        origin[n++] = '?';
        memcpy(origin + n, t.query, t.query_len);
        n += t.query_len;
    }
    origin[n] = '\0';
    return origin;
}

/* The CGI params (name-value pairs, the PARAMS content) into q->params; fcgi_exchange encodes
 * the records on the connection. -1 when they exceed FCGI_REQ_PARAMS_MAX. */
static int build_params(struct MHD_Connection *c, struct request *r, const struct fcgi_http *h)
{
    struct fcgi_req *q = h->q;
    const struct site_conf *site = r->site;
    struct header_set hs = {.n = 0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header, &hs);
    const char *target = r->error_target ? r->error_target : r->target; /* error_page: the
                                                                         * original's */
    char authority[HTTP_HEAD_AUTHORITY_MAX + 1];
    char *origin = absolute_form(target, authority, sizeof authority);
    if (origin)
        for (size_t i = 0; i < hs.n; i++)
            if (ascii_casecmp(hs.v[i].name, MHD_HTTP_HEADER_HOST) == 0)
                hs.v[i].value = authority;

    char remote[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN];
    unsigned remote_port, local_port;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    cidr_format_sockaddr(ci ? ci->client_addr : NULL, remote, sizeof remote, &remote_port);
    if (r->real_ip[0]) /* the client a trusted proxy named (access.h); its port is unknown */
        copy_str(remote, sizeof remote, r->real_ip);
    q->client_hash = hash_text(remote);
    cidr_format_sockaddr(request_local_addr(r), local, sizeof local, &local_port);

    /* DOCUMENT_ROOT is the resolved root, so a symlink swapped by a deploy gives php-fpm's
     * opcache new paths (and new keys) at once */
    char docroot[PATH_MAX];
    if (r->gate_conf) /* a gate check of a release: its path, wharf's or the backend's */
        copy_str(docroot, sizeof docroot, site->fcgi.root ? site->fcgi.root : site->root);
    else if (site->fcgi.root)
        site_backend_root(r->rt, docroot, sizeof docroot);
    else
        site_resolved_root(r->rt, docroot, sizeof docroot);

    char server_name[256];
    const char *host =
        origin ? authority : MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (host) {
        size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
        copy_str(server_name, n + 1 < sizeof server_name ? n + 1 : sizeof server_name, host);
    } else {
        snprintf(server_name, sizeof server_name, "%s", site->hosts.n ? site->hosts.v[0] : local);
    }
    const struct preset *p = site->fcgi.preset;
    /* note: WordPress offers pretty permalinks only when SERVER_SOFTWARE names Apache, nginx
     * or IIS (wp-includes/vars.php); its preset says what wharf is compatible with */
    char software[128];
    if (p->server_software_comment)
        snprintf(software, sizeof software, "%s (%s)", WHARF_SERVER_HEADER,
                 p->server_software_comment);
    struct cgi_request cr = {
        .method = r->method,
        .request_uri = origin ? origin : target,
        .query = h->query,
        .script_name = h->script,
        .path_info = h->path_info,
        .document_root = docroot,
        .script_filename = NULL, /* document_root + script_name, joined by cgi_env */
        .document_uri = h->path,
        .server_name = server_name,
        .server_addr = local,
        .server_port = local_port,
        .server_protocol = r->protocol,
        .server_software = p->server_software_comment ? software : WHARF_SERVER_HEADER,
        .remote_addr = remote,
        .remote_user = r->remote_user,
        .remote_port = remote_port,
        .content_type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .content_length = q->body_len,
        /* a declared empty body ("Content-Length: 0") still gets CONTENT_LENGTH=0, as nginx does */
        .has_body = r->has_body ||
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH),
        .https = r->is_tls,
        /* an error page's script learns the status it stands for (error_page) */
        .redirect_status = r->error_status ? r->error_status : 200,
        .headers = hs.v,
        .n_headers = hs.n,
        .env = {{p->env.v, p->env.n}, {site->fcgi.env.v, site->fcgi.env.n}},
    };
    buf_reserve(&q->params, 2048); /* a typical request's params: one allocation, not five */
    int rc = cgi_env_build(&cr, fcgi_exchange_param, &q->params) ? -1 : 0;
    free(origin);
    return rc;
}

/* ---- responses ---------------------------------------------------------------------------- */

static const unsigned fail_status[] = {
    [FCGI_OK] = MHD_HTTP_OK,
    [FCGI_FAIL_CONNECT] = MHD_HTTP_BAD_GATEWAY,
    [FCGI_FAIL_TIMEOUT] = MHD_HTTP_GATEWAY_TIMEOUT,
    [FCGI_FAIL_OVERLOAD] = MHD_HTTP_SERVICE_UNAVAILABLE,
    [FCGI_FAIL_PROTOCOL] = MHD_HTTP_BAD_GATEWAY,
    [FCGI_FAIL_CLIENT_GONE] = MHD_HTTP_BAD_GATEWAY, /* not sent: the client is gone */
};

/* Take up to max bytes of q->out into dst (q->lock held); true when the engine, paused above
 * the high-water mark, should now read again. */
static bool take_out_locked(struct fcgi_req *q, char *dst, size_t max, size_t *n_out)
{
    *n_out = buf_take(&q->out, &q->out_off, dst, max, FCGI_OUT_HIGH_WATER);
    return q->reading_paused && q->out.len - q->out_off < FCGI_OUT_LOW_WATER;
}

/* MHD's content reader for a response still streaming from the backend. Called with MHD's
 * response mutex held, in the connection's MHD thread. */
static ssize_t on_read_body(void *cls, uint64_t pos, char *out, size_t max)
{
    struct fcgi_req *q = cls;
    ssize_t ret;
    bool drained = false;
    (void)pos;
    pthread_mutex_lock(&q->lock);
    if (q->out.len - q->out_off) {
        size_t n;
        drained = take_out_locked(q, out, max, &n);
        q->body_sent += n;
        ret = (ssize_t)n;
    } else if (q->ended) {
        ret =
            q->stream_error ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* nothing yet: park the connection; the engine resumes it on new bytes */
        q->mhd_waiting = true;
        MHD_suspend_connection(q->conn);
        ret = 0;
    }
    pthread_mutex_unlock(&q->lock);
    if (drained)
        fcgi_pool_kick(q, FCGI_KICK_DRAINED);
    return ret;
}

/* A streamed response being compressed: the content reader's own state (MHD thread only). */
struct gz_body {
    struct fcgi_req *q; /* a reference, released with the response */
    struct compress_stream *z;
    struct buf zout; /* compressed bytes not yet given to MHD */
    size_t zout_off; /* bytes of zout already given */
    bool finished;   /* the gzip trailer is in zout */
    char in[FCGI_GZIP_IN];
};

/* The content reader of a compressed stream. Invariant: it parks the connection only when every
 * raw byte taken so far has been flushed out of zlib, so nothing the application sent waits
 * in the compressor while the backend is silent. */
static ssize_t on_read_gzip(void *cls, uint64_t pos, char *out, size_t max)
{
    struct gz_body *g = cls;
    struct fcgi_req *q = g->q;
    (void)pos;
    for (;;) {
        /* zout only ever holds what one call compressed: drained before it grows again */
        size_t n = buf_take(&g->zout, &g->zout_off, out, max, SIZE_MAX);
        if (n) {
            q->body_sent += n;
            return (ssize_t)n;
        }
        if (g->finished)
            return MHD_CONTENT_READER_END_OF_STREAM;
        size_t took = 0;
        bool drained = false, parked = false;
        pthread_mutex_lock(&q->lock);
        if (q->out.len - q->out_off)
            drained = take_out_locked(q, g->in, sizeof g->in, &took);
        bool more = q->out.len - q->out_off > 0;
        bool ended = q->ended, broken = q->stream_error;
        if (!took && !ended) {
            q->mhd_waiting = true;
            MHD_suspend_connection(q->conn);
            parked = true;
        }
        pthread_mutex_unlock(&q->lock);
        if (drained)
            fcgi_pool_kick(q, FCGI_KICK_DRAINED);
        if (parked)
            return 0;
        if (!took && broken)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        enum gzip_flush flush = more               ? GZIP_FLUSH_NONE
                                : ended && !broken ? GZIP_FLUSH_FINISH
                                                   : GZIP_FLUSH_SYNC;
        if (compress_stream_write(g->z, g->in, took, flush, &g->zout) != 0) {
            log_error("fcgi", q->id, "compressing the response failed");
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        g->finished = flush == GZIP_FLUSH_FINISH;
    }
}

static void on_free_gzip(void *cls)
{
    struct gz_body *g = cls;
    compress_stream_free(g->z);
    buf_dispose(&g->zout);
    fcgi_req_release(g->q);
    free(g);
}

static void on_free_body(void *cls)
{
    fcgi_req_release(cls);
}

static bool skip_header(const char *name)
{
    static const char *const hop[] = {"Status",     "Content-Length", "Transfer-Encoding",
                                      "Connection", "Keep-Alive",     "Date",
                                      "Upgrade",    "Trailer",        "TE"};
    for (size_t i = 0; i < ARRAY_LEN(hop); i++)
        if (ascii_casecmp(name, hop[i]) == 0)
            return true;
    return fcgi_sendfile_is_header(name); /* never reaches the client, handled or not */
}

/* X-Sendfile / X-Accel-Redirect on a site with fastcgi_sendfile: the request for the front to
 * serve the file (fcgi_sendfile.h), with the application's headers that describe it; NULL
 * when the response is to be sent as it is. */
static struct request_sendfile *sendfile_of(struct request *r, const struct cgi_head *h)
{
    const char *target = NULL;
    bool accel = false;
    if (!r->site->fcgi.sendfile.n)
        return NULL; /* off: both headers are dropped (skip_header), the response is sent */
    for (size_t i = 0; i < h->n_headers && !target; i++)
        if (fcgi_sendfile_is_header(h->headers[i].name)) {
            target = h->headers[i].value;
            accel = ascii_casecmp(h->headers[i].name, "X-Accel-Redirect") == 0;
        }
    if (!target)
        return NULL;
    struct request_sendfile *sf = xcalloc(1, sizeof *sf);
    sf->target = xstrdup(target);
    sf->accel = accel;
    for (size_t i = 0; i < h->n_headers && sf->n_keep < REQUEST_SENDFILE_KEEP_MAX; i++)
        if (fcgi_sendfile_keeps(h->headers[i].name)) {
            sf->keep[sf->n_keep][0] = xstrdup(h->headers[i].name);
            sf->keep[sf->n_keep][1] = xstrdup(h->headers[i].value);
            sf->n_keep++;
        }
    return sf;
}

static const char *head_value(const struct cgi_head *h, const char *name)
{
    return cgi_head_value(h, name);
}

/* Whether to compress (GZIP_COMPRESS, in *coding: the best the client takes of the site's
 * codings, coding.h), only announce Vary (GZIP_VARY) or leave it alone. */
static enum gzip_choice gzip_choice_for(struct MHD_Connection *c, struct request *r,
                                        const struct cgi_head *h, unsigned status,
                                        enum coding *coding)
{
    unsigned codings = r->site->compress | (r->site->gzip ? CODING_BIT(CODING_GZIP) : 0);
    if (!codings)
        return GZIP_IDENTITY;
    struct gzip_response gr = {
        .status = status,
        .is_head = r->is_head,
        .content_type = head_value(h, "Content-Type"),
        .content_encoding = head_value(h, "Content-Encoding"),
        .has_content_range = head_value(h, "Content-Range") != NULL,
        .has_length = h->has_content_length,
        .length = h->content_length,
    };
    enum coding best[CODING_N];
    size_t n = coding_negotiate(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING), codings,
        best);
    *coding = n ? best[0] : CODING_GZIP;
    /* gzip_choose decides what may be compressed; whether the client takes a coding of ours
     * is coding_negotiate's answer */
    return gzip_choose(&gr, n > 0);
}

/* The application's headers, less hop-by-hop ones, plus what compression changes. */
static void add_app_headers(struct MHD_Response *resp, const struct cgi_head *h,
                            enum gzip_choice gz, bool compressed, enum coding coding,
                            const char *content_type, bool injected)
{
    bool vary_done = gz == GZIP_IDENTITY;
    for (size_t i = 0; i < h->n_headers; i++) {
        const char *name = h->headers[i].name, *value = h->headers[i].value;
        if (skip_header(name) ||
            (content_type && ascii_casecmp(name, MHD_HTTP_HEADER_CONTENT_TYPE) == 0))
            continue;
        char *merged = NULL;
        if (injected && ascii_casecmp(name, "ETag") == 0) { /* not the application's bytes */
            size_t n = strlen(value) + 8;
            if (!live_reload_etag(value, merged = xmalloc(n), n)) {
                free(merged);
                continue;
            }
            value = merged;
        }
        if (compressed && ascii_casecmp(name, "ETag") == 0) {
            char *was = merged;
            size_t n = strlen(value) + 3; /* "W/" and the NUL: always fits */
            value = gzip_weak_etag(value, merged = xmalloc(n), n);
            free(was);
        }
        if (!vary_done && ascii_casecmp(name, "Vary") == 0) {
            /* one Vary line: the application's list, with Accept-Encoding unless it is there */
            if (!gzip_vary_has_accept_encoding(value))
                value = merged = xasprintf("%s%sAccept-Encoding", value, *value ? ", " : "");
            vary_done = true;
        }
        MHD_add_response_header(resp, name, value);
        free(merged);
    }
    if (!vary_done)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (compressed)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, coding_name(coding));
    if (content_type) /* ours replaces the application's */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
}

/* A complete body compressed, or NULL to send it as it is (not smaller, or zlib failed). */
static char *compress_whole(enum coding coding, const char *body, size_t len, size_t *out_len)
{
    struct buf z;
    if (len < GZIP_MIN_BYTES)
        return NULL;
    buf_init(&z, len); /* a coding that is not smaller is useless */
    if (compress_buffer(coding, body, len, &z) != 0) {
        buf_dispose(&z);
        return NULL;
    }
    return buf_steal(&z, out_len);
}

/* Whether live reload's script goes into this response: HTML, not already encoded or a part. */
static bool reload_into(const struct cgi_head *h, unsigned status)
{
    return status >= 200 && status != 204 && status != 304 &&
           live_reload_is_html(head_value(h, "Content-Type")) &&
           !head_value(h, "Content-Encoding") && !head_value(h, "Content-Range");
}

/* Development mode: PHP died with an empty 500 (display_errors off, as php-fpm runs by
 * default) but said why on STDERR: the body becomes a page showing that. */
static bool dev_error_page(const struct request *r, struct fcgi_req *q, char **body,
                           size_t *body_len)
{
    struct buf page;
    buf_init(&page, 0);
    pthread_mutex_lock(&q->lock);
    bool have =
        q->dev_stderr.len > 0 && dev_console_error_page(&page, r->method, r->target,
                                                        q->dev_stderr.data, q->dev_stderr.len) == 0;
    pthread_mutex_unlock(&q->lock);
    if (!have) {
        buf_dispose(&page);
        return false;
    }
    free(*body);
    *body = buf_steal(&page, body_len);
    return true;
}

/* What queue_backend_response decides once, for the steps that build and send the response. */
struct backend_out {
    unsigned status;
    enum gzip_choice gz;
    enum coding coding; /* the one to compress with if gz is GZIP_COMPRESS */
    bool complete;      /* the backend ended cleanly: the whole body is in body */
    bool dev_page;      /* body is development mode's error page */
    bool inject;        /* live reload's script is in body (a HEAD: would be) */
    bool compressed;    /* the response carries Content-Encoding: coding */
    char *body;         /* complete only; ours until a response takes it */
    size_t body_len;
    uint64_t size; /* the length announced; MHD_SIZE_UNKNOWN = none */
};

/* The whole body when the backend has ended (o->complete), made development mode's error page
 * or given live reload's script where those apply. */
static void take_body(const struct request *r, struct fcgi_req *q, const struct cgi_head *h,
                      struct backend_out *o)
{
    pthread_mutex_lock(&q->lock);
    o->complete = q->ended && !q->stream_error;
    if (o->complete && q->out_off == 0) {
        o->body = buf_steal(&q->out, &o->body_len);
    } else if (o->complete) {
        o->body_len = q->out.len - q->out_off;
        o->body = xmalloc(o->body_len + 1);
        memcpy(o->body, q->out.data + q->out_off, o->body_len);
    }
    pthread_mutex_unlock(&q->lock);
    o->dev_page = q->dev && o->complete && !r->is_head && o->status == 500 && o->body_len == 0 &&
                  dev_error_page(r, q, &o->body, &o->body_len);
    /* development mode's live reload: the script into a whole HTML page (a page that streamed
     * past FCGI_OUT_HIGH_WATER before its end goes out as it is) */
    o->inject = q->dev_reload && o->complete && !o->dev_page && reload_into(h, o->status);
    if (o->inject && !r->is_head) {
        struct buf b;
        buf_init(&b, 0);
        live_reload_inject(&b, o->body, o->body_len);
        free(o->body);
        o->body = buf_steal(&b, &o->body_len);
    }
}

/* A complete answer to HEAD: the head a GET would get, no body. */
static struct MHD_Response *response_head_only(const struct cgi_head *h, struct backend_out *o)
{
    /* php-fpm sends no body for HEAD, so the empty buffer's length says nothing: announce
     * what a GET would, the application's Content-Length, else the length it did send, else
     * none. Content-Length: 0 would claim an empty page (RFC 9110 §8.6). MHD never reads
     * a HEAD response's body. */
    o->size = h->has_content_length ? h->content_length
              : o->body_len         ? o->body_len
                                    : MHD_SIZE_UNKNOWN;
    if (o->inject && o->size != MHD_SIZE_UNKNOWN) /* what the GET would send */
        o->size += strlen(live_reload_script);
    free(o->body);
    return response_bodiless(o->size);
}

/* A complete 304: no body, and the application's Content-Length if it gave one (the length
 * of the 200 it stands for), else none. Its empty buffer would be announced as
 * "Content-Length: 0", which tells a cache that updates its stored headers from a 304 that the
 * page is empty (RFC 9110 §8.6); an unknown size gets neither that nor chunked encoding
 * (libmicrohttpd patch 0011). */
static struct MHD_Response *response_not_modified(const struct cgi_head *h, struct backend_out *o)
{
#ifdef MHD_HAVE_UNSIZED_304
    o->size = h->has_content_length ? h->content_length : MHD_SIZE_UNKNOWN;
#else /* another libmicrohttpd would send an unsized 304 chunked: Content-Length: 0, as before */
    o->size = h->has_content_length ? h->content_length : 0;
#endif
    free(o->body);
    return response_bodiless(o->size);
}

/* A complete body: one buffer response with Content-Length (the fast path), compressed if
 * that was chosen and makes it smaller. On success the response owns o->body. */
static struct MHD_Response *response_whole(struct backend_out *o)
{
    size_t zlen;
    char *z =
        o->gz == GZIP_COMPRESS ? compress_whole(o->coding, o->body, o->body_len, &zlen) : NULL;
    if (z) {
        free(o->body);
        o->body = z;
        o->body_len = zlen;
        o->compressed = true;
    }
    o->size = o->body_len;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(o->size, o->body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(o->body);
    return resp;
}

/* The body still coming, compressed as it streams: the size changes, so chunked on HTTP/1.1,
 * the end of the connection on HTTP/1.0. The response holds a reference to q. */
static struct MHD_Response *response_gzip_stream(struct fcgi_req *q, struct backend_out *o)
{
    struct gz_body *g = xcalloc(1, sizeof *g);
    g->q = q;
    g->z = compress_stream_new(o->coding);
    buf_init(&g->zout, 0);
    o->size = MHD_SIZE_UNKNOWN;
    fcgi_req_ref(q);
    struct MHD_Response *resp =
        g->z ? MHD_create_response_from_callback(o->size, 32 * 1024, on_read_gzip, g, on_free_gzip)
             : NULL;
    if (!resp)
        on_free_gzip(g);
    o->compressed = true;
    q->streamed = true;
    return resp;
}

/* The body still coming, as it is: the application's Content-Length if it gave one. The
 * response holds a reference to q. */
static struct MHD_Response *response_stream(struct fcgi_req *q, const struct cgi_head *h,
                                            struct backend_out *o)
{
    o->size = h->has_content_length ? h->content_length : MHD_SIZE_UNKNOWN;
    fcgi_req_ref(q);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(o->size, 32 * 1024, on_read_body, q, on_free_body);
    if (!resp)
        fcgi_req_release(q);
    q->streamed = true;
    return resp;
}

/* wharf's and the application's headers onto resp, then queue it (and drop our reference). */
static enum MHD_Result decorate_and_queue(struct MHD_Connection *c, struct request *r,
                                          const struct cgi_head *h, struct MHD_Response *resp,
                                          const struct backend_out *o)
{
    if (r->is_head && o->size == MHD_SIZE_UNKNOWN)
        /* a length nobody knows: no Content-Length and no chunked head. MHD 0.9.75 would send
         * the chunked terminator "0\r\n\r\n" after a HEAD head, which the client reads as the
         * start of the next response; without chunking MHD closes the connection instead */
        MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    /* an application's own Server header replaces wharf's, as with nginx and FastCGI: Server
     * is not a list, so one line only (RFC 9110 §5.3) */
    if (!cgi_head_value(h, MHD_HTTP_HEADER_SERVER))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, WHARF_SERVER_HEADER);
    /* whatever type the application named, the development error page is HTML */
    add_app_headers(resp, h, o->gz, o->compressed, o->coding,
                    o->dev_page ? "text/html; charset=utf-8" : NULL, o->inject);
    if (o->status == h->status)
        response_set_reason(resp, h->status_reason); /* "Status: 418 I'm a teapot", as nginx */
    r->backend_head = true;
    enum MHD_Result ret =
        response_queue(c, r, o->status, resp, o->size == MHD_SIZE_UNKNOWN ? 0 : o->size);
    MHD_destroy_response(resp);
    return ret;
}

/* The head is in (q->lock not held): queue the response. */
static enum MHD_Result queue_backend_response(struct MHD_Connection *c, struct request *r,
                                              struct fcgi_req *q)
{
    /* the head no longer changes once head_done is set; only `out` needs the lock, and it is
     * not held across MHD calls (a content reader takes it) */
    const struct cgi_head *h = &q->head_parser.head;
    struct backend_out o = {.status = cgi_head_effective_status(h), .coding = CODING_GZIP};
    o.gz = gzip_choice_for(c, r, h, o.status, &o.coding);
    take_body(r, q, h, &o);

    struct MHD_Response *resp;
    if (o.complete && r->is_head)
        resp = response_head_only(h, &o);
    else if (o.complete && o.status == MHD_HTTP_NOT_MODIFIED)
        resp = response_not_modified(h, &o);
    else if (o.complete)
        resp = response_whole(&o);
    else if (o.gz == GZIP_COMPRESS)
        resp = response_gzip_stream(q, &o);
    else
        resp = response_stream(q, h, &o);
    if (!resp)
        return MHD_NO;
    return decorate_and_queue(c, r, h, resp, &o);
}

/* ---- the handler (handler.h) --------------------------------------------------------------- */

static enum MHD_Result begin(struct MHD_Connection *c, struct request *r, struct fcgi_http *h)
{
    const struct site_conf *site = r->site;
    struct fcgi_req *q = fcgi_req_new(r->rt, r->id, c);
    q->is_head = r->is_head;
    q->gate = r->gate;
    q->dev = dev_mode;
    q->dev_reload = live_reload;
    q->is_safe = r->is_head || strcmp(r->method, "GET") == 0;
    h->q = q;
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (r->has_body && cl && strtoull(cl, NULL, 10) > site->fcgi.max_body_bytes) {
        /* (a local redirect or an error page is a new request without the body) */
        h->state = FS_DONE;
        return response_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "Request body too large.", NULL,
                              NULL);
    }
    h->state = FS_BODY;
    return MHD_YES; /* not queueing now lets MHD answer "Expect: 100-continue" */
}

static enum MHD_Result submit(struct MHD_Connection *c, struct request *r, struct fcgi_http *h)
{
    struct fcgi_req *q = h->q;
    if (q->body_too_large) {
        h->state = FS_DONE;
        return response_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "Request body too large.", NULL,
                              NULL);
    }
    if (q->body_failed) {
        h->state = FS_DONE;
        return response_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, NULL);
    }
    if (build_params(c, r, h) != 0) {
        h->state = FS_DONE;
        return response_error(c, r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, NULL, NULL, NULL);
    }
    h->state = FS_WAIT;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    q->client_fd = ci ? ci->connect_fd : -1;
    pthread_mutex_lock(&q->lock);
    q->mhd_waiting = true;
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&q->lock);
    fcgi_pool_submit(r->conn ? r->conn->engine : NULL, q);
    return MHD_YES;
}

static enum MHD_Result on_request(struct MHD_Connection *c, struct request *r,
                                  const char *upload_data, size_t *upload_data_size)
{
    struct fcgi_http *h = r->handler_state;
    struct fcgi_req *q = h->q;
    switch (h->state) {
    case FS_BODY:
        if (*upload_data_size) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (q->body_too_large || q->body_failed)
                return MHD_YES; /* read and drop; 413 or 500 at the end */
            if (q->body_len + n > r->site->fcgi.max_body_bytes) {
                q->body_too_large = true;
                return MHD_YES;
            }
            if (keep_body(q, r->site->fcgi.body_buffer_bytes, upload_data, n) != 0) {
                /* note: MHD_NO here would reset the connection without any response */
                log_error("fcgi", r->id, "cannot buffer the request body in temp_dir %s: %s",
                          temp_dir, strerror(errno));
                q->body_failed = true;
            }
            return MHD_YES;
        }
        return submit(c, r, h);
    case FS_WAIT: {
        fcgi_pool_reclaim(q); /* ours again: stop watching the client for the engine */
        pthread_mutex_lock(&q->lock);
        bool head = q->head_done;
        enum fcgi_fail fail = q->fail;
        bool ended = q->ended;
        pthread_mutex_unlock(&q->lock);
        h->state = FS_DONE;
        if (!head) {
            if (fail == FCGI_FAIL_CLIENT_GONE)
                return MHD_NO; /* nobody to answer: MHD closes the connection */
            if (!ended && fail == FCGI_OK)
                fail = FCGI_FAIL_PROTOCOL; /* resumed with nothing: cannot happen */
            return response_error(c, r, fail_status[fail], NULL, NULL, NULL);
        }
        if (!r->error_status && (r->sendfile = sendfile_of(r, &q->head_parser.head)) != NULL)
            return MHD_YES; /* the front serves the file once we return; q is dropped first */
        if (cgi_head_is_local_redirect(&q->head_parser.head)) {
            /* the front answers the new target once we return; on_completed drops q first */
            r->redirect = xstrdup(q->head_parser.head.location);
            return MHD_YES;
        }
        return queue_backend_response(c, r, q);
    }
    default:
        *upload_data_size = 0;
        return MHD_YES;
    }
}

static void on_completed(struct request *r, enum MHD_RequestTerminationCode toe)
{
    struct fcgi_http *h = r->handler_state;
    struct fcgi_req *q = h->q;
    (void)toe;
    if (q) {
        /* a streamed body's length is what the content reader handed MHD, not the head's */
        if (q->streamed && !r->is_head && r->status != MHD_HTTP_NOT_MODIFIED)
            r->bytes = q->body_sent;
        /* owned by the site's pool, which lives as long as the site r pins past its log line */
        r->upstream = atomic_load_explicit(&q->upstream, memory_order_relaxed);
        fcgi_pool_reclaim(q);
        if (q->dev) { /* for the request's line in the terminal (http_front) */
            r->php_us = atomic_load_explicit(&q->php_us, memory_order_relaxed);
            pthread_mutex_lock(&q->lock);
            if (q->dev_stderr.len && !r->dev_stderr) {
                r->dev_stderr = buf_steal(&q->dev_stderr, &r->dev_stderr_len);
            } else if (q->dev_stderr.len) { /* a local redirect's second script: both */
                r->dev_stderr = xrealloc(r->dev_stderr, r->dev_stderr_len + q->dev_stderr.len);
                memcpy(r->dev_stderr + r->dev_stderr_len, q->dev_stderr.data, q->dev_stderr.len);
                r->dev_stderr_len += q->dev_stderr.len;
            }
            pthread_mutex_unlock(&q->lock);
        }
        pthread_mutex_lock(&q->lock);
        bool busy = q->in_pool;
        q->aborted = true;
        q->mhd_waiting = false;
        pthread_mutex_unlock(&q->lock);
        if (busy)
            fcgi_pool_kick(q, FCGI_KICK_ABORT);
        fcgi_req_release(q);
    }
    free(h->script); /* path_info is in the same block */
    free(h);
}

static const struct handler fcgi_request_handler = {"fastcgi", on_request, on_completed};

enum MHD_Result fcgi_request_start(struct MHD_Connection *c, struct request *r, const char *path,
                                   const char *query, size_t query_len, char *script,
                                   char *path_info)
{
    size_t path_len = strlen(path);
    struct fcgi_http *h = xmalloc(sizeof *h + path_len + 1 + (query ? query_len + 1 : 0));
    h->q = NULL;
    h->state = 0;
    h->script = script;
    h->path_info = path_info;
    memcpy(h->path, path, path_len + 1);
    h->query = NULL;
    if (query) {
        h->query = h->path + path_len + 1;
        memcpy(h->query, query, query_len);
        h->query[query_len] = '\0';
    }
    r->handler = &fcgi_request_handler;
    r->handler_state = h;
    enum MHD_Result ret = begin(c, r, h);
    if (ret == MHD_YES && !r->has_body && !r->status) {
        size_t none = 0; /* no body to wait for: submit right away */
        ret = on_request(c, r, NULL, &none);
    }
    return ret;
}
