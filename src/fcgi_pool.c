/*
 * fcgi_pool: see include/fcgi_pool.h.
 *
 * Everything below runs in the FastCGI thread except fcgi_pool_submit()/fcgi_pool_kick(),
 * which only push onto the kick list and write the eventfd. A request is always in exactly
 * one place: the kick list (new), a pool's wait queue, or on a connection (fc). A connection
 * is connecting, sending, receiving or idle; an idle one is watched for EOF (php-fpm closes
 * kept connections when a child exits) and dropped then.
 *
 * Notes:
 * - Every flush that empties the socket buffer refills it at once (encoding the next STDIN
 *   chunk), so an upload never stalls waiting for an EPOLLOUT that will not come.
 * - The MHD side is woken once per read batch, so a response whose head and END_REQUEST
 *   arrive together is answered with one buffer response (Content-Length, no chunking).
 * - A request is retried on another connection only when nothing came back for it.
 */
#include "fcgi_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define STDIN_CHUNK (32u * 1024) /* request body bytes encoded per STDIN record batch */
#define RECV_BUF (64u * 1024)
#define STDERR_LOG_MAX (64u * 1024) /* per request; the rest is counted, not logged */
#define STDERR_LINE_MAX 2000

enum conn_state { CS_CONNECTING, CS_SENDING, CS_RECEIVING, CS_IDLE };

struct fcgi_backend {
    struct fcgi_pool *pool;
    char *name;
    struct sockaddr_storage sa;
    socklen_t salen;
    unsigned n_conns; /* open: connecting, busy or idle */
    unsigned n_busy;
    struct fcgi_conn *idle; /* idle connections, a stack */
    uint64_t down_until_ms; /* passive health: skipped until then */
};

struct fcgi_pool {
    char *site;
    const struct fcgi_site_conf *conf;
    struct fcgi_backend *be;
    size_t n_be;
    unsigned rr;
    struct fcgi_req *q_head, *q_tail;
    size_t q_len;
    struct fcgi_pool *next;
};

struct fcgi_conn {
    int kind; /* FCGI_WATCH_CONN: first, see struct fcgi_watch */
    int fd;
    struct fcgi_backend *be;
    enum conn_state st;
    struct fcgi_req *req;
    bool reused;       /* served a request before: it may have been closed meanwhile */
    uint32_t events;   /* current epoll mask */
    size_t head_off;   /* bytes of req->head_records sent */
    uint64_t body_off; /* request body bytes encoded so far */
    struct buf chunk;  /* encoded STDIN records being sent */
    size_t chunk_off;
    bool stdin_done; /* the empty STDIN record is encoded */
    struct fcgi_dec dec;
    struct fcgi_conn *next_idle;
    struct fcgi_conn *prev, *next; /* all connections */
    uint64_t since_ms;             /* when it became idle, or got its request */
};

static struct fcgi_pool *pools;
static struct fcgi_conn *conns;
static struct fcgi_conn *dead_conns;    /* closed, freed after the current epoll batch */
static struct fcgi_watch *dead_watches; /* likewise */
static int ep = -1, kick_fd = -1;
static pthread_t thread;
static bool thread_started;
static volatile bool stopping;
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fcgi_req *kick_head;
static uint8_t recv_buf[RECV_BUF];
static uint32_t rand_state = 2463534242u;

static void dispatch(struct fcgi_req *q);
static void conn_close(struct fcgi_conn *c);

/* ---- setup ---------------------------------------------------------------------------- */

static int resolve(const struct upstream_addr *u, struct fcgi_backend *b, struct errlist *errs,
                   const char *site)
{
    memset(&b->sa, 0, sizeof b->sa);
    if (u->path) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&b->sa;
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof sun->sun_path, "%s", u->path);
        b->salen = sizeof *sun;
        return 0;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", u->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0 || !res)
        return errlist_add(errs, "[site %s]: fastcgi '%s': %s", site, u->text, gai_strerror(rc));
    memcpy(&b->sa, res->ai_addr, res->ai_addrlen);
    b->salen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

struct fcgi_pool *fcgi_pool_new(const char *site_name, const struct fcgi_site_conf *conf,
                                const struct upstream_addr *ups, size_t n_ups, struct errlist *errs)
{
    struct fcgi_pool *p = xcalloc(1, sizeof *p);
    p->site = xstrdup(site_name);
    p->conf = conf;
    p->be = xcalloc(n_ups, sizeof *p->be);
    p->n_be = n_ups;
    size_t before = errs->n;
    for (size_t i = 0; i < n_ups; i++) {
        p->be[i].pool = p;
        p->be[i].name = xstrdup(ups[i].text);
        resolve(&ups[i], &p->be[i], errs, site_name);
    }
    p->next = pools;
    pools = p;
    return errs->n == before ? p : NULL;
}

/* ---- request state changes -------------------------------------------------------------- */

static void set_events(struct fcgi_conn *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void log_stderr(struct fcgi_req *q, const uint8_t *data, size_t len);
static void unwatch_client(struct fcgi_req *q);

static void watch_client(struct fcgi_req *q)
{
    if (q->client_watch || q->client_fd < 0)
        return;
    struct fcgi_watch *w = xcalloc(1, sizeof *w);
    w->kind = FCGI_WATCH_CLIENT;
    w->q = q;
    struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = w};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, q->client_fd, &ev) == 0)
        q->client_watch = w;
    else
        free(w);
}

/* Before the MHD side gets the connection back (and may close or reuse its fd). */
static void unwatch_client(struct fcgi_req *q)
{
    struct fcgi_watch *w = q->client_watch;
    if (!w)
        return;
    epoll_ctl(ep, EPOLL_CTL_DEL, q->client_fd, NULL);
    q->client_watch = NULL;
    w->q = NULL; /* an event already fetched in this batch may still name it */
    w->next = dead_watches;
    dead_watches = w;
}

/* The pool lets go of q: it ended (ok or failed). Drops the pool's reference. */
static void release_from_pool(struct fcgi_req *q)
{
    if (q->stderr_line.len)
        log_stderr(q, (const uint8_t *)"\n", 1); /* a last line without its newline */
    unwatch_client(q);
    pthread_mutex_lock(&q->lock);
    q->ended = true;
    q->in_pool = false;
    fcgi_req_wake_locked(q);
    pthread_mutex_unlock(&q->lock);
    fcgi_req_release(q);
}

static const char *fail_name[] = {
    [FCGI_OK] = "ok",
    [FCGI_FAIL_CONNECT] = "cannot connect",
    [FCGI_FAIL_TIMEOUT] = "timeout",
    [FCGI_FAIL_OVERLOAD] = "overloaded",
    [FCGI_FAIL_PROTOCOL] = "bad response",
    [FCGI_FAIL_CLIENT_GONE] = "client gone",
};

/* End q with an error. Before the head reached the client this becomes an error status;
 * after it, the response is cut short (the client sees a truncated body, never a lie). */
static void fail_req(struct fcgi_req *q, enum fcgi_fail why, const char *detail)
{
    log_error("fcgi", q->id, "[site %s] %s: %s", q->pool->site, fail_name[why], detail);
    pthread_mutex_lock(&q->lock);
    if (q->head_done)
        q->stream_error = true;
    else
        q->fail = why;
    pthread_mutex_unlock(&q->lock);
    release_from_pool(q);
}

/* Does another connection to c's upstream wait for an answer that has not begun? */
static bool sibling_stalled(const struct fcgi_conn *c)
{
    uint64_t now = clock_ms();
    for (const struct fcgi_conn *o = conns; o; o = o->next)
        if (o != c && o->be == c->be && o->req && o->st != CS_IDLE && !o->req->got_response_bytes &&
            now - o->since_ms >= FCGI_POOL_STALL_MS)
            return true;
    return false;
}

/* Take q off its connection; keep the connection for the next request if it is clean. */
static void detach(struct fcgi_conn *c, bool keep)
{
    struct fcgi_req *q = c->req;
    c->req = NULL;
    if (q)
        q->fc = NULL;
    c->be->n_busy--;
    buf_reset(&c->chunk);
    if (keep && sibling_stalled(c)) {
        /* note: a kept connection pins its php-fpm child. A sibling still waiting for its first
         * byte may sit in php-fpm's listen queue behind exactly this child (more connections
         * than pm.max_children): let the child go rather than keep it. */
        keep = false;
    }
    if (!keep) {
        conn_close(c);
        return;
    }
    c->st = CS_IDLE;
    c->since_ms = clock_ms();
    c->reused = true;
    c->next_idle = c->be->idle;
    c->be->idle = c;
    set_events(c, EPOLLIN | EPOLLRDHUP);
    /* a freed connection serves the oldest waiting request first */
    struct fcgi_pool *p = c->be->pool;
    if (p->q_head) {
        struct fcgi_req *w = p->q_head;
        p->q_head = w->q_next;
        if (!p->q_head)
            p->q_tail = NULL;
        p->q_len--;
        w->q_next = NULL;
        dispatch(w);
    }
}

static void conn_close(struct fcgi_conn *c)
{
    if (c->st == CS_IDLE) {
        struct fcgi_conn **pp = &c->be->idle;
        while (*pp && *pp != c)
            pp = &(*pp)->next_idle;
        if (*pp)
            *pp = c->next_idle;
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->be->n_conns--;
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    buf_dispose(&c->chunk);
    /* an event for c may already be fetched in this epoll batch: free it after the batch */
    c->kind = 0;
    c->next = dead_conns;
    dead_conns = c;
}

static void free_dead(void)
{
    while (dead_conns) {
        struct fcgi_conn *c = dead_conns;
        dead_conns = c->next;
        free(c);
    }
    while (dead_watches) {
        struct fcgi_watch *w = dead_watches;
        dead_watches = w->next;
        free(w);
    }
}

/* Something went wrong on c while it carried q. Retry elsewhere if nothing came back. */
static void conn_failed(struct fcgi_conn *c, enum fcgi_fail why, const char *detail)
{
    struct fcgi_req *q = c->req;
    bool was_connecting = c->st == CS_CONNECTING, was_reused = c->reused;
    struct fcgi_backend *b = c->be;
    detach(c, false);
    if (!q)
        return;
    if (was_connecting) {
        b->down_until_ms = clock_ms() + FCGI_POOL_DOWN_MS;
        log_warn("fcgi", q->id, "[site %s] upstream %s: %s; skipping it for %u s", q->pool->site,
                 b->name, detail, FCGI_POOL_DOWN_MS / 1000);
    }
    bool retry = !q->got_response_bytes && !q->aborted && (was_connecting || was_reused) &&
                 q->attempts < q->pool->n_be + 2;
    if (retry) {
        dispatch(q);
        return;
    }
    fail_req(q, why, detail);
}

/* ---- sending ------------------------------------------------------------------------------ */

/* Encode the next piece of request body (or the end of STDIN) into c->chunk. */
static int refill(struct fcgi_conn *c)
{
    struct fcgi_req *q = c->req;
    static uint8_t tmp[STDIN_CHUNK];
    buf_reset(&c->chunk);
    c->chunk_off = 0;
    if (c->body_off < q->body_len) {
        size_t n = q->body_len - c->body_off < STDIN_CHUNK ? (size_t)(q->body_len - c->body_off)
                                                           : STDIN_CHUNK;
        const void *src;
        if (q->body_fd >= 0) {
            ssize_t got = pread(q->body_fd, tmp, n, (off_t)c->body_off);
            if (got <= 0)
                return -1;
            n = (size_t)got;
            src = tmp;
        } else {
            src = q->body_mem.data + c->body_off;
        }
        c->body_off += n;
        return fcgi_record_stream(&c->chunk, FCGI_STDIN, 1, src, n);
    }
    c->stdin_done = true;
    return fcgi_record_stream(&c->chunk, FCGI_STDIN, 1, NULL, 0);
}

static void start_receiving(struct fcgi_conn *c)
{
    c->st = CS_RECEIVING;
    c->req->deadline_ms = clock_ms() + c->req->pool->conf->read_timeout_ms;
    set_events(c, EPOLLIN | EPOLLRDHUP);
}

static void conn_send(struct fcgi_conn *c)
{
    struct fcgi_req *q = c->req;
    bool progress = false;
    for (;;) {
        const char *data;
        size_t len;
        if (c->head_off < q->head_records.len) {
            data = q->head_records.data + c->head_off;
            len = q->head_records.len - c->head_off;
        } else if (c->chunk_off < c->chunk.len) {
            data = c->chunk.data + c->chunk_off;
            len = c->chunk.len - c->chunk_off;
        } else if (!c->stdin_done && q->body_len > 0) {
            if (refill(c) != 0) {
                conn_failed(c, FCGI_FAIL_PROTOCOL, "cannot read the buffered request body");
                return;
            }
            continue;
        } else {
            start_receiving(c);
            return;
        }
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (progress)
                    q->deadline_ms = clock_ms() + q->pool->conf->send_timeout_ms;
                set_events(c, EPOLLOUT | EPOLLRDHUP);
                return;
            }
            conn_failed(c, FCGI_FAIL_CONNECT, strerror(errno));
            return;
        }
        progress = true;
        if (c->head_off < q->head_records.len)
            c->head_off += (size_t)n;
        else
            c->chunk_off += (size_t)n;
    }
}

/* Put q on c and start sending. */
static void assign(struct fcgi_conn *c, struct fcgi_req *q)
{
    c->req = q;
    q->fc = c;
    c->head_off = 0;
    c->body_off = 0;
    c->chunk_off = 0;
    buf_reset(&c->chunk);
    c->stdin_done = q->body_len == 0; /* the empty STDIN record is in head_records then */
    fcgi_dec_init(&c->dec, 1);
    c->be->n_busy++;
    c->st = CS_SENDING;
    c->since_ms = clock_ms();
    q->deadline_ms = clock_ms() + q->pool->conf->send_timeout_ms;
    conn_send(c);
}

static struct fcgi_conn *conn_open(struct fcgi_backend *b, struct fcgi_req *q)
{
    int fd = socket(b->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (b->sa.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    struct fcgi_conn *c = xcalloc(1, sizeof *c);
    c->kind = FCGI_WATCH_CONN;
    c->fd = fd;
    c->be = b;
    buf_init(&c->chunk, 0);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    b->n_conns++;
    b->n_busy++;
    c->req = q;
    q->fc = c;
    c->st = CS_CONNECTING;
    c->since_ms = clock_ms();
    c->events = EPOLLOUT | EPOLLRDHUP;
    struct epoll_event ev = {.events = c->events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    q->deadline_ms = clock_ms() + q->pool->conf->connect_timeout_ms;
    return c;
}

/* ---- choosing a connection ----------------------------------------------------------------- */

static bool has_room(const struct fcgi_backend *b, unsigned max)
{
    return b->idle || b->n_conns < max;
}

/* Upstreams not yet tried for q; those up first. Among them, by the balancing method, the first
 * with room. *any_left says whether an untried upstream exists at all. */
static struct fcgi_backend *pick(struct fcgi_pool *p, struct fcgi_req *q, bool *any_left)
{
    unsigned max = p->conf->max_conns;
    uint64_t now = clock_ms();
    size_t n = p->n_be, start = 0;
    *any_left = false;
    switch (p->conf->lb) {
    case FCGI_LB_ROUND_ROBIN:
        start = p->rr++ % n;
        break;
    case FCGI_LB_RANDOM:
        rand_state ^= rand_state << 13;
        rand_state ^= rand_state >> 17;
        rand_state ^= rand_state << 5;
        start = rand_state % n;
        break;
    case FCGI_LB_IP_HASH:
        start = q->client_hash % n;
        break;
    case FCGI_LB_LEAST_CONN:
        start = 0;
        break;
    }
    for (int pass = 0; pass < 2; pass++) { /* pass 0: healthy only; pass 1: down ones too */
        struct fcgi_backend *best = NULL;
        for (size_t k = 0; k < n; k++) {
            size_t i = (start + k) % n;
            struct fcgi_backend *b = &p->be[i];
            if (i < 32 && (q->tried_mask & (1u << i)))
                continue;
            *any_left = true;
            if (pass == 0 && b->down_until_ms > now)
                continue;
            if (!has_room(b, max))
                continue;
            if (p->conf->lb != FCGI_LB_LEAST_CONN)
                return b;
            if (!best || b->n_busy < best->n_busy)
                best = b;
        }
        if (best)
            return best;
    }
    return NULL;
}

static void dispatch(struct fcgi_req *q)
{
    struct fcgi_pool *p = q->pool;
    for (;;) {
        bool any_left;
        struct fcgi_backend *b = pick(p, q, &any_left);
        if (!b) {
            if (!any_left) {
                fail_req(q, FCGI_FAIL_CONNECT, "no upstream could be reached");
                return;
            }
            if (p->q_len >= FCGI_POOL_QUEUE_MAX) {
                fail_req(q, FCGI_FAIL_OVERLOAD, "wait queue full");
                return;
            }
            q->deadline_ms = clock_ms() + p->conf->queue_timeout_ms;
            q->q_next = NULL;
            if (p->q_tail)
                p->q_tail->q_next = q;
            else
                p->q_head = q;
            p->q_tail = q;
            p->q_len++;
            return;
        }
        q->attempts++;
        if (b->idle) {
            struct fcgi_conn *c = b->idle;
            b->idle = c->next_idle;
            c->next_idle = NULL;
            assign(c, q);
            return;
        }
        size_t idx = (size_t)(b - p->be);
        struct fcgi_conn *c = conn_open(b, q);
        if (!c) {
            if (idx < 32)
                q->tried_mask |= 1u << idx;
            continue;
        }
        int rc = connect(c->fd, (struct sockaddr *)&b->sa, b->salen);
        if (rc == 0) {
            c->be->n_busy--; /* assign() counts it again */
            assign(c, q);
            return;
        }
        if (errno == EINPROGRESS)
            return; /* EPOLLOUT tells the outcome */
        /* refused at once (typical for unix sockets): mark and try the next upstream */
        if (idx < 32)
            q->tried_mask |= 1u << idx;
        char detail[128];
        snprintf(detail, sizeof detail, "connect: %s", strerror(errno));
        conn_failed(c, FCGI_FAIL_CONNECT, detail);
        return;
    }
}

/* ---- receiving ------------------------------------------------------------------------------ */

static void log_stderr(struct fcgi_req *q, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        bool eol = data[i] == '\n';
        if (!eol && q->stderr_line.len < STDERR_LINE_MAX)
            buf_putc(&q->stderr_line, (char)data[i]);
        if (eol || (len == 0)) {
            if (q->stderr_logged < STDERR_LOG_MAX && q->stderr_line.len)
                log_warn("fcgi", q->id, "[site %s] stderr: %s", q->pool->site, q->stderr_line.data);
            q->stderr_logged += q->stderr_line.len + 1;
            buf_reset(&q->stderr_line);
        }
    }
}

/* STDOUT bytes: first the CGI head, then the body (appended for the MHD side). */
static int on_stdout(struct fcgi_req *q, const uint8_t *data, size_t len, bool *head_now)
{
    if (!*head_now && !q->head_done) {
        size_t used = 0;
        switch (cgi_head_feed(&q->head_parser, (const char *)data, len, &used)) {
        case CGI_HEAD_NEED_MORE:
            return 0;
        case CGI_HEAD_ERROR:
            return -1;
        case CGI_HEAD_DONE:
            *head_now = true;
            data += used;
            len -= used;
            break;
        }
    }
    if (len && !q->is_head && !q->aborted) {
        pthread_mutex_lock(&q->lock);
        buf_append(&q->out, data, len);
        pthread_mutex_unlock(&q->lock);
    }
    return 0;
}

static void conn_recv(struct fcgi_conn *c)
{
    struct fcgi_req *q = c->req;
    bool head_now = false, ended = false, broken = false;
    const char *why = NULL;
    enum fcgi_fail fail = FCGI_FAIL_PROTOCOL;

    for (;;) {
        ssize_t n = recv(c->fd, recv_buf, sizeof recv_buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            broken = true;
            why = n == 0 ? "upstream closed the connection" : strerror(errno);
            break;
        }
        q->deadline_ms = clock_ms() + q->pool->conf->read_timeout_ms;
        q->got_response_bytes = true; /* the backend answered something: never send it again */
        size_t off = 0;
        while (off < (size_t)n && !broken && !ended) {
            struct fcgi_dec_event ev;
            size_t used = 0;
            enum fcgi_dec_status st =
                fcgi_dec_feed(&c->dec, recv_buf + off, (size_t)n - off, &used, &ev);
            off += used;
            if (st == FCGI_DEC_NEED_MORE)
                break;
            if (st == FCGI_DEC_ERROR) {
                broken = true;
                why = fcgi_dec_error(&c->dec);
                break;
            }
            switch (ev.type) {
            case FCGI_STDOUT:
                if (on_stdout(q, ev.data, ev.len, &head_now) != 0) {
                    broken = true;
                    why = cgi_head_error(&q->head_parser);
                }
                break;
            case FCGI_STDERR:
                log_stderr(q, ev.data, ev.len);
                break;
            case FCGI_END_REQUEST:
                ended = true;
                if (ev.protocol_status == FCGI_OVERLOADED) {
                    broken = true;
                    fail = FCGI_FAIL_OVERLOAD;
                    why = "upstream overloaded";
                } else if (ev.protocol_status != FCGI_REQUEST_COMPLETE) {
                    broken = true;
                    why = "upstream refused the request";
                } else if (!head_now && !q->head_done) {
                    broken = true;
                    why = "response ended before its header was complete";
                }
                break;
            default:
                break; /* management records: nothing to do */
            }
        }
        if (broken || ended)
            break;
        pthread_mutex_lock(&q->lock);
        bool full = q->out.len - q->out_off > FCGI_OUT_HIGH_WATER;
        if (full)
            q->reading_paused = true;
        pthread_mutex_unlock(&q->lock);
        if (full) {
            set_events(c, EPOLLRDHUP);
            break;
        }
    }

    /* One wake-up per batch. When the end came too, release_from_pool() wakes the MHD side
     * with `ended` already set, so it answers with one complete buffer response. */
    if (head_now && !broken) {
        q->head_handed = true;
        unwatch_client(q); /* the MHD side takes the connection back now */
    }
    pthread_mutex_lock(&q->lock);
    if (head_now && !broken)
        q->head_done = true;
    if (q->head_done && !ended && !broken && (head_now || q->out.len > q->out_off))
        fcgi_req_wake_locked(q);
    pthread_mutex_unlock(&q->lock);

    if (broken) {
        if (!q->got_response_bytes) {
            conn_failed(c, fail, why); /* nothing came back: another connection may do */
        } else {
            detach(c, false);
            fail_req(q, fail, why);
        }
        return;
    }
    if (ended) {
        detach(c, true);
        release_from_pool(q);
    }
}

/* ---- events and timeouts ---------------------------------------------------------------- */

static void conn_event(struct fcgi_conn *c, uint32_t events)
{
    switch (c->st) {
    case CS_IDLE:
        conn_close(c); /* readable or hung up while idle: the child went away */
        return;
    case CS_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            char detail[128];
            size_t idx = (size_t)(c->be - c->be->pool->be);
            if (idx < 32)
                c->req->tried_mask |= 1u << idx;
            snprintf(detail, sizeof detail, "connect: %s", strerror(err));
            conn_failed(c, FCGI_FAIL_CONNECT, detail);
            return;
        }
        c->be->down_until_ms = 0;
        c->st = CS_SENDING;
        c->be->n_busy--; /* assign() counts it again */
        assign(c, c->req);
        return;
    }
    case CS_SENDING:
        if (events & (EPOLLERR | EPOLLHUP)) {
            conn_failed(c, FCGI_FAIL_CONNECT, "connection reset while sending");
            return;
        }
        conn_send(c);
        return;
    case CS_RECEIVING:
        conn_recv(c);
        return;
    }
}

/* Requests that wait for a while get their client's socket watched; quick ones never pay the
 * two epoll_ctl calls. */
static void watch_waiting_clients(uint64_t now)
{
    static uint64_t last_scan;
    if (now - last_scan < FCGI_POOL_WATCH_AFTER_MS / 2)
        return;
    last_scan = now;
    for (struct fcgi_pool *p = pools; p; p = p->next)
        for (struct fcgi_req *q = p->q_head; q; q = q->q_next)
            if (!q->client_watch && now - q->submitted_ms >= FCGI_POOL_WATCH_AFTER_MS)
                watch_client(q);
    for (struct fcgi_conn *c = conns; c; c = c->next) {
        struct fcgi_req *q = c->req;
        if (q && !q->client_watch && !q->head_handed &&
            now - q->submitted_ms >= FCGI_POOL_WATCH_AFTER_MS)
            watch_client(q);
    }
}

static void check_deadlines(void)
{
    uint64_t now = clock_ms();
    watch_waiting_clients(now);
    for (struct fcgi_pool *p = pools; p; p = p->next) {
        while (p->q_head && p->q_head->deadline_ms <= now) {
            struct fcgi_req *q = p->q_head;
            p->q_head = q->q_next;
            if (!p->q_head)
                p->q_tail = NULL;
            p->q_len--;
            fail_req(q, FCGI_FAIL_OVERLOAD, "no free upstream connection within the queue timeout");
        }
    }
    struct fcgi_conn *c = conns;
    while (c) {
        struct fcgi_conn *next = c->next;
        if (c->st == CS_IDLE && now - c->since_ms > FCGI_POOL_IDLE_MS) {
            conn_close(c); /* give the pinned php-fpm child back */
        } else if (c->req && c->req->deadline_ms <= now) {
            if (c->st == CS_CONNECTING) {
                size_t idx = (size_t)(c->be - c->be->pool->be);
                if (idx < 32)
                    c->req->tried_mask |= 1u << idx;
                conn_failed(c, FCGI_FAIL_CONNECT, "connect timed out");
            } else if (!c->req->reading_paused) {
                struct fcgi_req *q = c->req;
                detach(c, false);
                fail_req(q, FCGI_FAIL_TIMEOUT,
                         c->st == CS_SENDING ? "send timed out" : "read timed out");
            }
        }
        c = next;
    }
}

/* Connections that closed leave room for new ones: start waiting requests on them (a freed
 * idle connection takes the oldest one at once, in detach()). */
static void serve_queues(void)
{
    for (struct fcgi_pool *p = pools; p; p = p->next) {
        while (p->q_head) {
            bool room = false;
            for (size_t i = 0; i < p->n_be && !room; i++)
                room = has_room(&p->be[i], p->conf->max_conns);
            if (!room)
                break;
            struct fcgi_req *q = p->q_head;
            p->q_head = q->q_next;
            if (!p->q_head)
                p->q_tail = NULL;
            p->q_len--;
            q->q_next = NULL;
            size_t before = p->q_len;
            dispatch(q);
            if (p->q_len > before)
                break; /* it went back to the queue: no upstream would take it now */
        }
    }
}

static void remove_from_queue(struct fcgi_req *q)
{
    struct fcgi_pool *p = q->pool;
    struct fcgi_req **pp = &p->q_head, *prev = NULL;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->q_next;
    }
    if (!*pp)
        return;
    *pp = q->q_next;
    if (p->q_tail == q)
        p->q_tail = prev;
    p->q_len--;
    q->q_next = NULL;
}

static void handle_kicks(void)
{
    uint64_t v;
    ssize_t r = read(kick_fd, &v, sizeof v); /* one read resets an eventfd */
    (void)r;
    pthread_mutex_lock(&kick_lock);
    struct fcgi_req *list = kick_head;
    kick_head = NULL;
    pthread_mutex_unlock(&kick_lock);
    while (list) {
        struct fcgi_req *q = list;
        pthread_mutex_lock(&q->lock);
        list = q->kick_next;
        q->kick_next = NULL;
        q->in_kick_list = false;
        unsigned flags = q->kick_flags;
        q->kick_flags = 0;
        bool resume_reading = (flags & FCGI_KICK_DRAINED) && q->reading_paused &&
                              q->out.len - q->out_off < FCGI_OUT_LOW_WATER;
        if (resume_reading)
            q->reading_paused = false;
        pthread_mutex_unlock(&q->lock);

        if (flags & FCGI_KICK_SUBMIT) {
            if (flags & FCGI_KICK_ABORT) {
                release_from_pool(q);
            } else {
                q->submitted_ms = clock_ms();
                dispatch(q);
            }
        } else if (flags & FCGI_KICK_ABORT) {
            if (q->fc) {
                detach(q->fc, false); /* never reuse a connection mid-response */
                release_from_pool(q);
            } else if (q->in_pool) {
                remove_from_queue(q);
                release_from_pool(q);
            }
        } else if (resume_reading && q->fc) {
            q->deadline_ms = clock_ms() + q->pool->conf->read_timeout_ms;
            set_events(q->fc, EPOLLIN | EPOLLRDHUP);
            conn_recv(q->fc);
        }
        fcgi_req_release(q); /* the kick's reference */
    }
}

/* The client closed its connection while its request waited for a head: drop the request and
 * its backend connection (never reused mid-response), and hand the connection back to MHD. */
static void client_gone(struct fcgi_req *q)
{
    log_info("fcgi", q->id, "[site %s] the client went away before the response", q->pool->site);
    pthread_mutex_lock(&q->lock);
    q->fail = FCGI_FAIL_CLIENT_GONE;
    q->aborted = true;
    pthread_mutex_unlock(&q->lock);
    if (q->fc)
        detach(q->fc, false);
    else
        remove_from_queue(q);
    release_from_pool(q);
}

static void *on_thread(void *arg)
{
    struct epoll_event evs[64];
    while (!stopping) {
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) {
                handle_kicks();
                continue;
            }
            if (*(int *)evs[i].data.ptr == FCGI_WATCH_CLIENT) {
                struct fcgi_req *q = ((struct fcgi_watch *)evs[i].data.ptr)->q;
                if (q) /* NULL: something earlier in this batch already let it go */
                    client_gone(q);
                continue;
            }
            if (*(int *)evs[i].data.ptr == FCGI_WATCH_CONN) /* 0: closed in this batch */
                conn_event(evs[i].data.ptr, evs[i].events);
        }
        check_deadlines();
        serve_queues();
        free_dead();
    }
    return NULL;
}

/* ---- the MHD side's entry points ------------------------------------------------------------ */

void fcgi_pool_kick(struct fcgi_req *q, unsigned flags)
{
    bool add;
    pthread_mutex_lock(&q->lock);
    q->kick_flags |= flags;
    add = !q->in_kick_list;
    q->in_kick_list = true;
    pthread_mutex_unlock(&q->lock);
    if (!add)
        return;
    fcgi_req_ref(q);
    pthread_mutex_lock(&kick_lock);
    bool first = kick_head == NULL;
    q->kick_next = kick_head;
    kick_head = q;
    pthread_mutex_unlock(&kick_lock);
    if (first) { /* the thread drains the whole list per wake-up: one signal is enough */
        uint64_t one = 1;
        ssize_t w = write(kick_fd, &one, sizeof one);
        (void)w;
    }
}

void fcgi_pool_submit(struct fcgi_req *q)
{
    fcgi_req_ref(q); /* the pool's */
    pthread_mutex_lock(&q->lock);
    q->in_pool = true;
    pthread_mutex_unlock(&q->lock);
    fcgi_pool_kick(q, FCGI_KICK_SUBMIT);
}

int fcgi_pool_start(void)
{
    if (thread_started || !pools)
        return 0;
    ep = epoll_create1(EPOLL_CLOEXEC);
    kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep < 0 || kick_fd < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, kick_fd, &ev);
    if (pthread_create(&thread, NULL, on_thread, NULL) != 0)
        return -1;
    thread_started = true;
    return 0;
}

void fcgi_pool_stop(void)
{
    if (thread_started) {
        stopping = true;
        pthread_join(thread, NULL);
        thread_started = false;
        handle_kicks(); /* requests submitted meanwhile: fail below */
    }
    while (conns) {
        struct fcgi_conn *c = conns;
        struct fcgi_req *q = c->req;
        if (q) {
            detach(c, false);
            fail_req(q, FCGI_FAIL_CONNECT, "server shutting down");
        } else {
            conn_close(c);
        }
    }
    while (pools) {
        struct fcgi_pool *p = pools;
        pools = p->next;
        while (p->q_head) {
            struct fcgi_req *q = p->q_head;
            p->q_head = q->q_next;
            fail_req(q, FCGI_FAIL_OVERLOAD, "server shutting down");
        }
        for (size_t i = 0; i < p->n_be; i++)
            free(p->be[i].name);
        free(p->be);
        free(p->site);
        free(p);
    }
    free_dead();
    if (ep >= 0)
        close(ep);
    if (kick_fd >= 0)
        close(kick_fd);
    ep = kick_fd = -1;
}
