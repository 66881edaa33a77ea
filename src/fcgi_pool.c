/*
 * fcgi_pool: see include/fcgi_pool.h.
 *
 * Threads: an engine's functions run on its worker thread; fcgi_pool_submit/kick/reclaim on
 * the MHD side (also a worker thread, maybe another engine's). A request is in exactly one
 * place: an engine's kick list (new), the pool's wait queue, or on a connection (fc) of the
 * engine in q->engine. A connection belongs to the engine that opened it for its whole life;
 * it is connecting, sending, receiving or idle. An idle one is watched for EOF (php-fpm closes
 * kept connections when a child exits) and dropped then. What goes over a connection (the
 * records, the CGI head, STDERR, END_REQUEST) is its fcgi_exchange's business: the engine
 * moves bytes between the socket and the exchange, and keeps time.
 *
 * Locks: pool->lock guards the pool's struct upstream (src/upstream.c: its counts, idle stacks,
 * busy lists and wait queues, which takes no lock itself; one lock round-trip per dispatch);
 * q->lock the request's shared fields (which are which: fcgi_req.h). The order is pool, then
 * request. The kick list has its own lock.
 *
 * The decisions (which upstream, reuse or open or queue, which queued request next, keep or
 * close, mark-down, fit) are upstream's; this file does what they say: sockets, the loop's
 * watches and timers, cross-thread kicks.
 *
 * Notes:
 * - Every flush that empties the socket buffer asks the exchange again at once (it encodes
 *   the next STDIN piece), so an upload never stalls waiting for an EPOLLOUT that will not
 *   come.
 * - The MHD side is woken once per read batch, so a response whose head and END_REQUEST
 *   arrive together is answered with one buffer response (Content-Length, no chunking).
 * - A request is retried on another connection only when nothing came back for it.
 */
#include "fcgi_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fcgi_exchange.h"
#include "gate.h"
#include "fcgi_req.h"
#include "listen_queue.h"
#include "live_reload.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "upstream.h"
#include "util.h"

#define RECV_BUF (64u * 1024)

enum conn_state { CS_CONNECTING, CS_SENDING, CS_RECEIVING, CS_IDLE };

/* An upstream's address; its counts and health are pool->up's (srv, the same index). */
struct fcgi_backend {
    struct fcgi_pool *pool;
    struct upstream_server *srv; /* pool lock (but for its health: upstream.h) */
    char *name;
    struct sockaddr_storage sa;
    socklen_t salen;
    struct fcgi_backend *same_addr; /* ring of the backends (of every pool) with this address;
                                     * itself when alone. Fixed once the pools are made */
    _Atomic uint64_t fails[FCGI_FAIL_KINDS]; /* attempts that failed on it, by enum fcgi_fail */
};

struct fcgi_pool {
    pthread_mutex_t lock;
    char *site;
    const struct fcgi_site_conf *conf; /* &settings */
    struct fcgi_site_conf settings;    /* the site's, without its pointers: the pool outlives the
                                        * configuration it was made from (a reload moves it) */
    _Atomic bool retired;              /* a reload replaced it: its idle connections close */
    struct fcgi_backend *be;
    size_t n_be;
    struct upstream up;                      /* lock: counts, balancing, health, wait queues */
    struct metrics_histogram queue_wait;     /* lock: time requests spent in the wait queue */
    _Atomic uint64_t fails[FCGI_FAIL_KINDS]; /* requests answered with an error, by kind */
    struct fcgi_pool *next;
};

struct fcgi_conn {
    int fd;
    struct loop_watch *watch; /* NULL once closed (the struct waits for free_dead) */
    struct loop_timer timer;  /* its request's deadline, or the idle expiry */
    struct fcgi_backend *be;
    struct fcgi_engine *engine;
    enum conn_state st;
    struct fcgi_req *req;
    bool reused;                   /* served a request before: it may have been closed meanwhile */
    bool is_tcp;                   /* re-arm TCP_QUICKACK after reads */
    bool send_cut;                 /* the backend closed before taking the whole request */
    struct fcgi_exchange x;        /* the FastCGI protocol of req on this connection */
    struct upstream_conn up;       /* pool lock: idle stack or busy list, since_ms, answered */
    struct fcgi_conn *prev, *next; /* the engine's connections */
};

struct fcgi_engine {
    unsigned index;
    struct loop *loop; /* its worker's: watches, clock, wake-ups */
    struct fcgi_conn *conns;
    struct fcgi_conn *dead_conns; /* closed, freed at the end of the turn (fcgi_engine_run) */
    pthread_mutex_t kick_lock;
    struct fcgi_req *_Atomic kick_head; /* changed under kick_lock; peeked without it */
    struct fcgi_req *waiting;           /* submitted here, the MHD side waits for the head */
    struct loop_timer tick;             /* every FCGI_POOL_TICK_MS: pinned children, fits */
    struct loop_timer watch_timer;      /* the client watch of e->watch_next is due */
    struct fcgi_req *watch_next;        /* oldest in `waiting` whose client was not looked at yet */
    struct loop_timer queue_timer;      /* the nearest queue deadline (of requests queued here) */
    uint8_t recv_buf[RECV_BUF];
    uint8_t stdin_buf[FCGI_EXCHANGE_STDIN_CHUNK]; /* its exchanges' pread scratch */
};

/* note: a reload adds and frees pools while the engines run; the list (and the same_addr rings,
 * which link backends across pools) is read under pools_lock by the engines and changed under
 * it, for writing, by the main thread only. */
static pthread_rwlock_t pools_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct fcgi_pool *pools;
static struct fcgi_engine *engines[UPSTREAM_MAX_ENGINES];
static unsigned n_engines;
static _Atomic bool stopping;

/* The engine's clock is its loop's, read once per loop turn: deadlines are in whole
 * milliseconds, and a PHP request used to read the clock a dozen times. */
static uint64_t now_ms(const struct fcgi_engine *e)
{
    return loop_now_ms(e->loop);
}

/* The request or connection a struct upstream_req / upstream_conn is embedded in. */
static struct fcgi_req *req_of(struct upstream_req *r)
{
    return r ? (struct fcgi_req *)((char *)r - offsetof(struct fcgi_req, up)) : NULL;
}

static struct fcgi_conn *conn_of(struct upstream_conn *c)
{
    return c ? (struct fcgi_conn *)((char *)c - offsetof(struct fcgi_conn, up)) : NULL;
}

static void dispatch(struct fcgi_engine *e, struct fcgi_req *q);
static void on_conn_event(struct loop *l, uint32_t events, void *ctx);
static void on_client_event(struct loop *l, uint32_t events, void *ctx);
static void on_conn_timer(struct loop *l, struct loop_timer *t, void *ctx);

/* c's timer must fire by due_ms. note: it is only ever moved earlier; when it fires early it
 * re-arms itself for the real deadline (on_conn_timer). A request moves its deadline on every
 * read, so this keeps the timer heap out of the per-request path. */
static void arm_by(struct fcgi_conn *c, uint64_t due_ms)
{
    if (!loop_timer_is_armed(&c->timer) || c->timer.due_ms > due_ms)
        loop_timer_arm_at(c->engine->loop, &c->timer, due_ms);
}

/* q (on c) must make progress within after_ms. */
static void set_deadline(struct fcgi_conn *c, uint64_t after_ms)
{
    struct fcgi_req *q = c->req;
    q->deadline_ms = loop_now_ms(c->engine->loop) + after_ms;
    arm_by(c, q->deadline_ms);
}

static void conn_close(struct fcgi_conn *c);
static void abort_queued(struct fcgi_req *q);

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

/* Put b into the ring of the earlier pools' backends with the same address. */
static void link_same_addr(struct fcgi_backend *b)
{
    for (struct fcgi_pool *p = pools; p; p = p->next) {
        for (size_t i = 0; i < p->n_be; i++) {
            struct fcgi_backend *o = &p->be[i];
            if (o->salen == b->salen && memcmp(&o->sa, &b->sa, b->salen) == 0) {
                b->same_addr = o->same_addr;
                o->same_addr = b;
                return;
            }
        }
    }
}

struct fcgi_pool *fcgi_pool_new(const char *site_name, const struct fcgi_site_conf *conf,
                                const struct upstream_addr *ups, size_t n_ups, struct errlist *errs)
{
    struct fcgi_pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->site = xstrdup(site_name);
    /* only the scalars are read (timeouts, limits, balancing): the rest would dangle */
    p->settings = (struct fcgi_site_conf){
        .lb = conf->lb,
        .max_conns = conf->max_conns,
        .keep_conns = conf->keep_conns,
        .queue_timeout_ms = conf->queue_timeout_ms,
        .connect_timeout_ms = conf->connect_timeout_ms,
        .read_timeout_ms = conf->read_timeout_ms,
        .send_timeout_ms = conf->send_timeout_ms,
        .max_body_bytes = conf->max_body_bytes,
        .body_buffer_bytes = conf->body_buffer_bytes,
    };
    p->conf = &p->settings;
    atomic_init(&p->retired, false);
    p->be = xcalloc(n_ups, sizeof *p->be);
    p->n_be = n_ups;
    upstream_init(&p->up, p->conf, n_ups);
    pthread_rwlock_wrlock(&pools_lock);
    size_t before = errs->n;
    for (size_t i = 0; i < n_ups; i++) {
        p->be[i].pool = p;
        p->be[i].srv = &p->up.srv[i];
        p->be[i].name = xstrdup(ups[i].text);
        p->be[i].same_addr = &p->be[i];
        if (resolve(&ups[i], &p->be[i], errs, site_name) == 0)
            link_same_addr(&p->be[i]);
    }
    if (errs->n == before) {
        p->next = pools;
        pools = p;
    }
    pthread_rwlock_unlock(&pools_lock);
    if (errs->n != before) {
        fcgi_pool_free(p);
        return NULL;
    }
    return p;
}

/* ---- small helpers ---------------------------------------------------------------------- */

static void set_events(struct fcgi_conn *c, uint32_t events)
{
    loop_watch_modify(c->engine->loop, c->watch, events);
}

/* Wake engine e, unless it is the caller's: that one looks at its kick list before it sleeps. */
static void signal_engine(struct fcgi_engine *e)
{
    if (!loop_in_own_thread(e->loop))
        fcgi_engine_wake(e);
}

void fcgi_engine_wake(struct fcgi_engine *e)
{
    loop_wake(e->loop);
}

/* Give the MHD side its turn, if it waits (suspended): resume its connection, exactly once per
 * suspend. q->lock held; any engine. */
static void wake_locked(struct fcgi_req *q)
{
    if (!q->mhd_waiting)
        return;
    q->mhd_waiting = false;
    MHD_resume_connection(q->conn);
    /* note: MHD_resume_connection() only flags the connection; a daemon without an internal
     * thread processes it at its next MHD_run(). The home worker runs its daemons after every
     * wake-up, so waking it is enough; on its own thread that happens anyway this iteration. */
    if (q->home && !loop_in_own_thread(q->home->loop))
        fcgi_engine_wake(q->home);
}

/* Put q (its flags already set, in_kick_list already claimed) on e's kick list. */
static void engine_push(struct fcgi_engine *e, struct fcgi_req *q)
{
    fcgi_req_ref(q); /* the kick's */
    pthread_mutex_lock(&e->kick_lock);
    bool first = e->kick_head == NULL;
    q->kick_next = e->kick_head;
    e->kick_head = q;
    pthread_mutex_unlock(&e->kick_lock);
    if (first) /* the engine drains the whole list per wake-up: one signal is enough */
        signal_engine(e);
}

/* ---- request state changes -------------------------------------------------------------- */

/* The pool lets go of q: it ended (ok or failed). Drops the pool's reference. Any thread. */
static void release_from_pool(struct fcgi_req *q)
{
    pthread_mutex_lock(&q->lock);
    q->ended = true;
    q->in_pool = false;
    wake_locked(q);
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
    if (why != FCGI_FAIL_CLIENT_GONE)
        atomic_fetch_add_explicit(&q->pool->fails[why], 1, memory_order_relaxed);
    log_error("fcgi", q->id, "[site %s] %s: %s", q->pool->site, fail_name[why], detail);
    pthread_mutex_lock(&q->lock);
    if (q->head_done)
        q->stream_error = true;
    else
        q->fail = why;
    pthread_mutex_unlock(&q->lock);
    release_from_pool(q);
}

/* Take q off its connection; keep the connection for the next request if it is clean. A kept
 * connection goes on its engine's idle stack; the engine serves the queue from it afterwards
 * (fcgi_engine_run), so the oldest waiting request goes first. */
static void detach(struct fcgi_conn *c, bool keep)
{
    struct fcgi_req *q = c->req;
    struct fcgi_backend *b = c->be;
    fcgi_exchange_finish(&c->x); /* its last STDERR line, if it had no newline */
    c->req = NULL;
    if (q)
        q->fc = NULL;
    uint64_t now = now_ms(c->engine);
    if (atomic_load_explicit(&b->pool->retired, memory_order_relaxed))
        keep = false; /* nobody will ask this pool again */
    pthread_mutex_lock(&b->pool->lock);
    keep = upstream_conn_done(&b->pool->up, &c->up, keep, now); /* at most keep_conns idle */
    if (keep) {
        c->st = CS_IDLE;
        c->reused = true;
    }
    pthread_mutex_unlock(&b->pool->lock);
    if (keep) {
        set_events(c, EPOLLIN | EPOLLRDHUP);
        /* give the pinned php-fpm child back after FCGI_POOL_IDLE_MS unused */
        arm_by(c, now + FCGI_POOL_IDLE_MS + 1);
    } else {
        conn_close(c);
    }
}

/* Close c (idle, or already detached from its request). */
static void conn_close(struct fcgi_conn *c)
{
    struct fcgi_engine *e = c->engine;
    struct fcgi_backend *b = c->be;
    pthread_mutex_lock(&b->pool->lock);
    upstream_conn_closed(&c->up);
    pthread_mutex_unlock(&b->pool->lock);
    loop_watch_remove(e->loop, c->watch); /* no more events, even one already fetched */
    c->watch = NULL;
    loop_timer_cancel(e->loop, &c->timer);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        e->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    fcgi_exchange_dispose(&c->x);
    /* the caller may still look at c (c->watch says it is closed): free it after the turn */
    c->next = e->dead_conns;
    e->dead_conns = c;
}

static void free_dead(struct fcgi_engine *e)
{
    while (e->dead_conns) {
        struct fcgi_conn *c = e->dead_conns;
        e->dead_conns = c->next;
        free(c);
    }
}

/* Something went wrong on c while it carried q. Retry elsewhere if nothing came back. */
static void conn_failed(struct fcgi_conn *c, enum fcgi_fail why, const char *detail)
{
    struct fcgi_req *q = c->req;
    struct fcgi_engine *e = c->engine;
    bool was_connecting = c->st == CS_CONNECTING, was_reused = c->reused;
    struct fcgi_backend *b = c->be;
    detach(c, false);
    if (why != FCGI_FAIL_CLIENT_GONE)
        atomic_fetch_add_explicit(&b->fails[why], 1, memory_order_relaxed);
    if (!q)
        return;
    /* note: once per down period; while it lasts every request still fails or retries with
     * its own error line, and a dead single backend would otherwise log twice per request */
    if (was_connecting && upstream_mark_down(b->srv, now_ms(e)))
        log_warn("fcgi", q->id,
                 "[site %s] upstream %s: %s; marked down for %u s (tried only when no other "
                 "upstream can take a request)",
                 q->pool->site, b->name, detail, UPSTREAM_DOWN_MS / 1000);
    bool retry = !q->got_response_bytes && !q->aborted && (was_connecting || was_reused) &&
                 upstream_may_retry(&q->pool->up, &q->up);
    if (retry) {
        dispatch(e, q);
        return;
    }
    fail_req(q, why, detail);
}

/* ---- the exchange's sink -------------------------------------------------------------------- */

/* What the exchange of a request gives back: body bytes go to the MHD side's buffer (unless
 * the client is gone), STDERR lines to the error log with the request id. */
static void on_body(void *ctx, const uint8_t *data, size_t len)
{
    struct fcgi_req *q = ctx;
    pthread_mutex_lock(&q->lock);
    if (!q->aborted)
        buf_append(&q->out, data, len);
    pthread_mutex_unlock(&q->lock);
}

static void on_stderr_line(void *ctx, const char *line)
{
    struct fcgi_req *q = ctx;
    if (q->dev) { /* shown under the request's line, and on its error page (dev_console.h) */
        pthread_mutex_lock(&q->lock);
        if (buf_puts(&q->dev_stderr, line) == 0)
            buf_putc(&q->dev_stderr, '\n');
        pthread_mutex_unlock(&q->lock);
        return;
    }
    log_warn("fcgi", q->id, "[site %s] stderr: %s", q->pool->site, line);
    if (q->gate)
        gate_note_stderr(line);
}

static const struct fcgi_exchange_sink req_sink = {.body = on_body, .stderr_line = on_stderr_line};

/* ---- sending ------------------------------------------------------------------------------ */

static void start_receiving(struct fcgi_conn *c)
{
    c->st = CS_RECEIVING;
    set_deadline(c, c->req->pool->conf->read_timeout_ms);
    set_events(c, EPOLLIN | EPOLLRDHUP);
}

static void conn_recv(struct fcgi_conn *c);

/*
 * Sending failed: the backend closed (or reset) the connection. note: a backend may answer
 * before it has read the whole request (a 413 of its own) and close; it saw the request, so
 * it is never sent again, and its answer, still readable, is what the client gets (the
 * connection is not kept: the request was cut). Only a backend that sent nothing, as php-fpm
 * closing a kept connection, may not have seen it (conn_failed retries).
 */
static void send_failed(struct fcgi_conn *c, const char *detail)
{
    uint8_t probe;
    if (recv(c->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
        c->send_cut = true;
        start_receiving(c);
        conn_recv(c);
        return;
    }
    conn_failed(c, FCGI_FAIL_CONNECT, detail);
}

static void conn_send(struct fcgi_conn *c)
{
    struct fcgi_req *q = c->req;
    bool progress = false;
    for (;;) {
        const uint8_t *data;
        size_t len;
        /* the next piece is encoded as soon as the last one is flushed: never a stall */
        if (fcgi_exchange_to_send(&c->x, &data, &len) != 0) {
            conn_failed(c, FCGI_FAIL_PROTOCOL, "cannot read the buffered request body");
            return;
        }
        if (!len) {
            start_receiving(c);
            return;
        }
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (progress)
                    set_deadline(c, q->pool->conf->send_timeout_ms);
                set_events(c, EPOLLOUT | EPOLLRDHUP);
                return;
            }
            send_failed(c, strerror(errno));
            return;
        }
        progress = true;
        fcgi_exchange_sent(&c->x, (size_t)n);
    }
}

/* Put q on c (already counted busy) and start sending. */
static void assign(struct fcgi_conn *c, struct fcgi_req *q)
{
    c->req = q;
    if (q->dev)
        q->sent_us = clock_us();
    q->fc = c;
    atomic_store_explicit(&q->upstream, c->be->name, memory_order_relaxed);
    struct fcgi_exchange_input in = {
        .params = q->params.data,
        .params_len = q->params.len,
        .body_mem = q->body_mem.data,
        .body_fd = q->body_fd,
        .body_len = q->body_len,
        .is_head = q->is_head,
        .head = &q->head_parser,
        .sink = &req_sink,
        .ctx = q,
    };
    fcgi_exchange_start(&c->x, &in);
    c->st = CS_SENDING;
    set_deadline(c, q->pool->conf->send_timeout_ms);
    conn_send(c);
}

/* A new connection to b for q (b->n_conns already counts it). NULL if no socket (or the
 * loop cannot watch it). */
static struct fcgi_conn *conn_open(struct fcgi_engine *e, struct fcgi_backend *b,
                                   struct fcgi_req *q)
{
    int fd = socket(b->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (b->sa.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    struct fcgi_conn *c = xcalloc(1, sizeof *c);
    loop_timer_init(&c->timer, on_conn_timer, c);
    c->watch = loop_watch_add(e->loop, fd, EPOLLOUT | EPOLLRDHUP, on_conn_event, c);
    if (!c->watch) {
        close(fd);
        free(c);
        return NULL;
    }
    c->is_tcp = b->sa.ss_family != AF_UNIX;
    c->fd = fd;
    c->be = b;
    c->engine = e;
    fcgi_exchange_init(&c->x, e->stdin_buf);
    c->next = e->conns;
    if (e->conns)
        e->conns->prev = c;
    e->conns = c;
    c->req = q;
    q->fc = c;
    atomic_store_explicit(&q->upstream, b->name, memory_order_relaxed);
    c->st = CS_CONNECTING;
    pthread_mutex_lock(&b->pool->lock);
    upstream_conn_opened(b->srv, &c->up, e->index, now_ms(e));
    pthread_mutex_unlock(&b->pool->lock);
    set_deadline(c, q->pool->conf->connect_timeout_ms);
    return c;
}

/* ---- choosing a connection ----------------------------------------------------------------- */

static void poke_engines(uint64_t mask)
{
    for (unsigned i = 0; i < n_engines; i++)
        if (mask & (1ull << i))
            fcgi_engine_wake(engines[i]);
}

/* Start q on connection c (idle) or on a new connection to b. */
static void start_on(struct fcgi_engine *e, struct fcgi_req *q, struct fcgi_backend *b,
                     struct fcgi_conn *c)
{
    if (c) {
        assign(c, q);
        return;
    }
    c = conn_open(e, b, q);
    if (!c) {
        pthread_mutex_lock(&b->pool->lock);
        upstream_give_back(&b->pool->up, b->srv, e->index, NULL);
        pthread_mutex_unlock(&b->pool->lock);
        upstream_mark_tried(&q->up, b->srv);
        dispatch(e, q);
        return;
    }
    if (connect(c->fd, (struct sockaddr *)&b->sa, b->salen) == 0) {
        assign(c, q);
        return;
    }
    if (errno == EINPROGRESS)
        return; /* EPOLLOUT tells the outcome */
    /* refused at once (typical for unix sockets): mark and try the next upstream */
    upstream_mark_tried(&q->up, b->srv);
    char detail[128];
    snprintf(detail, sizeof detail, "connect: %s", strerror(errno));
    conn_failed(c, FCGI_FAIL_CONNECT, detail);
}

/* q leaves p's wait queue at now (served or expired): its wait goes into the histogram.
 * Under p->lock, which the caller holds anyway. */
static void observe_wait(struct fcgi_pool *p, struct fcgi_req *q, uint64_t now)
{
    uint64_t us = now > q->up.queued_ms ? (now - q->up.queued_ms) * 1000 : 0;
    p->queue_wait.counts[metrics_bucket(us)]++;
    p->queue_wait.sum_us += us;
}

/* Find q a connection on engine e, or queue it. */
static void dispatch(struct fcgi_engine *e, struct fcgi_req *q)
{
    struct fcgi_pool *p = q->pool;
    if (atomic_load(&stopping)) {
        fail_req(q, FCGI_FAIL_CONNECT, "server shutting down");
        return;
    }
    struct upstream_choice ch;
    pthread_mutex_lock(&p->lock);
    q->up.home = q->home->index;
    q->up.hash = q->client_hash;
    enum upstream_plan pl = upstream_dispatch(&p->up, &q->up, e->index, n_engines, now_ms(e), &ch);
    if (pl == UPSTREAM_QUEUED) {
        pthread_mutex_lock(&q->lock);
        q->engine = NULL; /* whoever takes it from the queue serves it */
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&p->lock);

    switch (pl) {
    case UPSTREAM_IDLE:
    case UPSTREAM_OPEN:
        start_on(e, q, &p->be[ch.srv->index], conn_of(ch.conn));
        return;
    case UPSTREAM_QUEUED: {
        /* whoever serves it, this engine sees that it does not wait too long */
        uint64_t deadline = q->up.deadline_ms;
        if (!loop_timer_is_armed(&e->queue_timer) || e->queue_timer.due_ms > deadline)
            loop_timer_arm_at(e->loop, &e->queue_timer, deadline);
        poke_engines(ch.poke);
        return;
    }
    case UPSTREAM_FULL:
        fail_req(q, FCGI_FAIL_OVERLOAD, "wait queue full");
        return;
    case UPSTREAM_WAIT:
    case UPSTREAM_NONE:
        fail_req(q, FCGI_FAIL_CONNECT, "no upstream could be reached");
        return;
    }
}

/* The client of a queued request left: drop it, unless an engine has just taken it (that
 * engine then sees `aborted`, or gets the kick). Any thread. */
static void abort_queued(struct fcgi_req *q)
{
    struct fcgi_pool *p = q->pool;
    pthread_mutex_lock(&p->lock);
    bool was = upstream_unqueue(&p->up, &q->up);
    pthread_mutex_unlock(&p->lock);
    if (was)
        release_from_pool(q);
}

/* Engine e has room (a connection came free or closed, or another engine woke it): start the
 * oldest waiting requests that it can serve (its own first, see upstream_next). */
static void serve_queue(struct fcgi_engine *e, struct fcgi_pool *p)
{
    while (upstream_waiting(&p->up) && !atomic_load(&stopping)) {
        struct upstream_choice ch = {0};
        pthread_mutex_lock(&p->lock);
        struct fcgi_req *q = req_of(upstream_next(&p->up, e->index, n_engines));
        if (!q) {
            pthread_mutex_unlock(&p->lock);
            return;
        }
        pthread_mutex_lock(&q->lock); /* claim it: the MHD side reads q->engine to kick */
        bool aborted = q->aborted;
        pthread_mutex_unlock(&q->lock);
        enum upstream_plan pl = UPSTREAM_NONE;
        if (aborted)
            upstream_unqueue(&p->up, &q->up);
        else
            pl = upstream_serve(&p->up, &q->up, e->index, n_engines, now_ms(e), &ch);
        if (pl == UPSTREAM_WAIT) {
            pthread_mutex_unlock(&p->lock);
            return; /* no room here; the engines in ch.poke will serve it */
        }
        if (!aborted)
            observe_wait(p, q, now_ms(e));
        pthread_mutex_lock(&q->lock);
        q->engine = e;
        aborted = q->aborted;
        pthread_mutex_unlock(&q->lock);
        pthread_mutex_unlock(&p->lock);
        if (aborted) {
            if (pl != UPSTREAM_NONE) { /* give the room back */
                pthread_mutex_lock(&p->lock);
                upstream_give_back(&p->up, ch.srv, e->index, ch.conn);
                pthread_mutex_unlock(&p->lock);
            }
            release_from_pool(q);
        } else if (pl == UPSTREAM_NONE) {
            fail_req(q, FCGI_FAIL_CONNECT, "no upstream could be reached");
        } else {
            start_on(e, q, &p->be[ch.srv->index], conn_of(ch.conn));
        }
    }
}
/* ---- receiving ------------------------------------------------------------------------------ */

/* Drop n bytes that an earlier recv() only peeked at. */
static void consume(struct fcgi_conn *c, size_t n)
{
    while (n) {
        ssize_t got = recv(c->fd, c->engine->recv_buf, n < RECV_BUF ? n : RECV_BUF, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return; /* cannot happen (the bytes were there); the next read will notice */
        n -= (size_t)got;
    }
}

/* note: php-fpm writes each flush() as its own small segment and does not set TCP_NODELAY, so
 * Nagle holds its next piece until the previous one is acknowledged, and Linux delays that
 * ACK by ~40 ms once a connection leaves quick-ACK mode: a page flushed in 12 pieces took
 * 44 ms over a kept TCP connection (0.4 ms over a unix socket). The kernel clears
 * TCP_QUICKACK as it goes, so it is set again after every read that got data. */
static void quickack(int fd)
{
#ifdef TCP_QUICKACK
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)fd;
#endif
}

static void conn_recv(struct fcgi_conn *c)
{
    struct fcgi_req *q = c->req;
    struct fcgi_engine *e = c->engine;
    uint8_t *recv_buf = e->recv_buf;
    bool head_now = false, ended = false, broken = false;
    const char *why = NULL;
    enum fcgi_fail fail = FCGI_FAIL_PROTOCOL;
    enum fcgi_exchange_status st;
    /* note: consuming a php-fpm child's last bytes wakes it when it already sleeps in read()
     * on this socket (unix_write_space; it finds nothing and sleeps again). When requests wait,
     * the first read only peeks: if it holds the whole rest of the response, the connection
     * gets its next request first and the bytes are consumed after, while the child is awake
     * with work. One wake-up per request instead of two. */
    bool peek = upstream_waiting(&q->pool->up) > 0;
    size_t peeked = 0;

    for (;;) {
        ssize_t n = recv(c->fd, recv_buf, RECV_BUF, peek ? MSG_PEEK : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            broken = true; /* before END_REQUEST: a truncated response */
            why = strerror(errno);
            if (n == 0) {
                fcgi_exchange_eof(&c->x);
                why = fcgi_exchange_error(&c->x);
            }
            break;
        }
        if (peek) {
            peeked = (size_t)n;
            peek = false;
        }
        if (c->is_tcp)
            quickack(c->fd);
        set_deadline(c, q->pool->conf->read_timeout_ms);
        q->got_response_bytes = true; /* the backend answered something: never send it again */
        upstream_conn_answered(&c->up);
        st = fcgi_exchange_recv(&c->x, recv_buf, (size_t)n, &head_now);
        if (st == FCGI_EXCHANGE_END) {
            ended = true;
            break;
        }
        if (st != FCGI_EXCHANGE_MORE) {
            broken = true;
            fail = st == FCGI_EXCHANGE_OVERLOADED ? FCGI_FAIL_OVERLOAD : FCGI_FAIL_PROTOCOL;
            why = fcgi_exchange_error(&c->x);
            break;
        }
        if (peeked) { /* not the end yet: take the bytes and read on as usual */
            consume(c, peeked);
            peeked = 0;
        }
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
    pthread_mutex_lock(&q->lock);
    if (head_now && !broken)
        q->head_done = true;
    if (q->head_done && !ended && !broken && (head_now || q->out.len > q->out_off) &&
        !(q->dev_reload && !q->reading_paused &&
          live_reload_is_html(cgi_head_value(&q->head_parser.head, "Content-Type"))))
        wake_locked(q);
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
        if (q->dev)
            atomic_store_explicit(&q->php_us, clock_us() - q->sent_us, memory_order_relaxed);
        /* a backend that sent more after its END_REQUEST is out of step: never reused */
        bool clean = !fcgi_exchange_trailing(&c->x) && !c->send_cut;
        if (fcgi_exchange_trailing(&c->x))
            log_warn("fcgi", q->id,
                     "[site %s] upstream %s sent data after END_REQUEST; connection closed",
                     q->pool->site, c->be->name);
        detach(c, clean); /* or closed: a close discards what was only peeked */
        if (peeked) {
            serve_queue(e, q->pool); /* c (on top of the idle stack) takes the next request */
            if (c->watch)            /* still open (closed ones wait for free_dead) */
                consume(c, peeked);
        }
        release_from_pool(q);
    }
}

/* ---- events and timeouts ---------------------------------------------------------------- */

static void on_conn_event(struct loop *l, uint32_t events, void *ctx)
{
    (void)l;
    struct fcgi_conn *c = ctx;
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
            upstream_mark_tried(&c->req->up, c->be->srv);
            snprintf(detail, sizeof detail, "connect: %s", strerror(err));
            conn_failed(c, FCGI_FAIL_CONNECT, detail);
            return;
        }
        upstream_mark_up(c->be->srv);
        assign(c, c->req);
        return;
    }
    case CS_SENDING:
        if (events & (EPOLLERR | EPOLLHUP)) {
            send_failed(c, "connection reset while sending");
            return;
        }
        conn_send(c);
        return;
    case CS_RECEIVING:
        conn_recv(c);
        return;
    }
}

/* ---- the client of a waiting request (home engine only) ------------------------------------ */

static void watch_client(struct fcgi_engine *e, struct fcgi_req *q)
{
    if (q->client_watch || q->client_fd < 0)
        return;
    q->client_watch = loop_watch_add(e->loop, q->client_fd, EPOLLRDHUP, on_client_event, q);
}

static void unwatch_client(struct fcgi_req *q)
{
    if (!q->client_watch)
        return;
    /* an event already fetched in this batch is dropped by the loop */
    loop_watch_remove(q->home->loop, q->client_watch);
    q->client_watch = NULL;
}

void fcgi_pool_reclaim(struct fcgi_req *q)
{
    struct fcgi_engine *e = q->home;
    if (!e || !q->in_home_list)
        return;
    if (e->watch_next == q)
        e->watch_next = q->home_prev; /* the next newer one */
    unwatch_client(q);
    if (q->home_prev)
        q->home_prev->home_next = q->home_next;
    else
        e->waiting = q->home_next;
    if (q->home_next)
        q->home_next->home_prev = q->home_prev;
    q->home_prev = q->home_next = NULL;
    q->in_home_list = false;
    fcgi_req_release(q); /* the home list's */
}

/* The client closed its connection while its request waited for a head: drop the request and
 * its backend connection (never reused mid-response), and hand the connection back to MHD,
 * which closes it. */
static void client_gone(struct fcgi_req *q)
{
    unwatch_client(q);
    pthread_mutex_lock(&q->lock);
    bool pending = q->in_pool && !q->head_done;
    if (pending) {
        q->fail = FCGI_FAIL_CLIENT_GONE;
        q->aborted = true;
        wake_locked(q);
    }
    pthread_mutex_unlock(&q->lock);
    if (!pending)
        return;
    log_info("fcgi", q->id, "[site %s] the client went away before the response", q->pool->site);
    fcgi_pool_kick(q, FCGI_KICK_ABORT);
}

static void on_client_event(struct loop *l, uint32_t events, void *ctx)
{
    (void)l;
    (void)events;
    client_gone(ctx);
}

/* A request that waited FCGI_POOL_WATCH_AFTER_MS gets its client's socket watched; quick ones
 * never pay the two epoll_ctl calls. The engine's waiting list is in submit order, so one
 * timer walks it from e->watch_next (the oldest request not yet looked at), armed for that
 * one's time: no timer work per request. */
static void on_watch_timer(struct loop *l, struct loop_timer *t, void *ctx)
{
    struct fcgi_engine *e = ctx;
    uint64_t now = loop_now_ms(l);
    struct fcgi_req *q;
    while ((q = e->watch_next) && now - q->submitted_ms >= FCGI_POOL_WATCH_AFTER_MS) {
        watch_client(e, q);
        e->watch_next = q->home_prev; /* newer */
    }
    if (q)
        loop_timer_arm_at(l, t, q->submitted_ms + FCGI_POOL_WATCH_AFTER_MS);
}

/* A request whose upstream stayed silent past fastcgi_read_timeout: try it once on another
 * upstream (as nginx's fastcgi_next_upstream timeout does) when that cannot run it twice in a
 * way anyone sees: a GET or HEAD (safe, idempotent), nothing received for it (so nothing sent
 * to the client), the client still there, and an upstream left that was not tried. */
static bool may_retry_hung(const struct fcgi_req *q, const struct fcgi_backend *hung)
{
    return q->is_safe && !q->got_response_bytes && !q->aborted && !q->timeout_retried &&
           upstream_other_untried(&q->pool->up, &q->up, hung->srv);
}

/* note: php-fpm's children take connections from its listen queue one at a time and keep
 * them (FCGI_KEEP_CONN), so with more connections than pm.max_children the extra ones wait
 * there behind children that kept connections hold, and FCGI_GET_VALUES does not say how
 * many children there are. For a unix socket the kernel tells how many connections wait in
 * that queue (listen_queue_unix): when a request has waited FCGI_POOL_PROBE_MS for its first
 * byte (the queue is asked, so a slow script costs a look, nothing more), the upstream's
 * connections are fitted to those php-fpm took (upstream_fit), and further
 * requests wait in wharf's queue (in order, with fastcgi_queue_timeout) instead. The fit grows
 * back by one a second, so more children are found when php-fpm gets them. */
static void fit_upstream(struct fcgi_backend *b, uint64_t now)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&b->sa;
    int waiting = listen_queue_unix(sun->sun_path);
    if (waiting <= 0)
        return;
    pthread_mutex_lock(&b->pool->lock);
    if (upstream_fit(b->srv, (unsigned)waiting, now))
        log_info("fcgi", 0,
                 "[site %s] upstream %s: %d connections wait in its listen queue; "
                 "using %u (raise pm.max_children, or set fastcgi_max_conns to it)",
                 b->pool->site, b->name, waiting, b->srv->fit);
    pthread_mutex_unlock(&b->pool->lock);
}

/* Once a tick: fit the unix-socket upstreams of this engine's stalled requests, and let
 * every fit grow back by one a second. */
static void refit(struct fcgi_engine *e, uint64_t now)
{
    struct fcgi_backend *probe[8];
    size_t n = 0;
    for (struct fcgi_conn *c = e->conns; c; c = c->next) {
        if (c->is_tcp || !c->req || c->st == CS_IDLE || c->st == CS_CONNECTING ||
            atomic_load_explicit(&c->up.answered, memory_order_relaxed) ||
            now - c->up.since_ms < FCGI_POOL_PROBE_MS)
            continue;
        size_t k = 0;
        while (k < n && probe[k] != c->be)
            k++;
        if (k == n && n < ARRAY_LEN(probe))
            probe[n++] = c->be;
    }
    for (size_t k = 0; k < n; k++)
        fit_upstream(probe[k], now);
    for (struct fcgi_pool *p = pools; p; p = p->next) {
        pthread_mutex_lock(&p->lock);
        upstream_regrow(&p->up, now);
        pthread_mutex_unlock(&p->lock);
    }
}

/* Does idle connection c keep a php-fpm child from a request stalled on its upstream, sent
 * by this site's pool or by another site's with the same address (sites sharing one php-fpm
 * pool)? One pool lock at a time. */
static bool idle_pins_waiter(const struct fcgi_conn *c, uint64_t now)
{
    const struct fcgi_backend *b = c->be;
    do {
        pthread_mutex_lock(&b->pool->lock);
        bool stalled = upstream_stalled(b->srv, &c->up, now);
        pthread_mutex_unlock(&b->pool->lock);
        if (stalled)
            return true;
        b = b->same_addr;
    } while (b != c->be);
    return false;
}

/* A connection's timer: its request's deadline passed, or it was idle for FCGI_POOL_IDLE_MS. */
static void on_conn_timer(struct loop *l, struct loop_timer *t, void *ctx)
{
    (void)t;
    struct fcgi_conn *c = ctx;
    struct fcgi_engine *e = c->engine;
    uint64_t now = loop_now_ms(l);
    if (c->st == CS_IDLE) {
        uint64_t due = c->up.since_ms + FCGI_POOL_IDLE_MS + 1;
        if (due > now)
            loop_timer_arm_at(l, &c->timer, due); /* early: armed for an earlier deadline */
        else
            conn_close(c); /* give the pinned php-fpm child back */
        return;
    }
    struct fcgi_req *q = c->req;
    if (!q)
        return;
    if (q->deadline_ms > now) {
        loop_timer_arm_at(l, &c->timer, q->deadline_ms); /* moved since it was armed */
        return;
    }
    if (q->reading_paused) /* the kick that resumes reading sets a new deadline */
        return;
    if (c->st == CS_CONNECTING) {
        upstream_mark_tried(&q->up, c->be->srv);
        conn_failed(c, FCGI_FAIL_CONNECT, "connect timed out");
        return;
    }
    bool sending = c->st == CS_SENDING;
    struct fcgi_backend *b = c->be;
    bool again = !sending && may_retry_hung(q, b);
    detach(c, false); /* never reused: its child may still answer */
    atomic_fetch_add_explicit(&b->fails[FCGI_FAIL_TIMEOUT], 1, memory_order_relaxed);
    if (again) {
        q->timeout_retried = true;
        upstream_mark_tried(&q->up, b->srv);
        bool newly_down = upstream_mark_down(b->srv, now);
        log_warn("fcgi", q->id,
                 "[site %s] upstream %s: no answer within fastcgi_read_timeout; "
                 "retrying the %s on another upstream%s",
                 q->pool->site, b->name, q->is_head ? "HEAD" : "GET",
                 newly_down ? ", marking this one down" : "");
        dispatch(e, q);
    } else {
        fail_req(q, FCGI_FAIL_TIMEOUT, sending ? "send timed out" : "read timed out");
    }
}

/* Fail the requests at the head of the wait queues (every engine's: any engine may have
 * queued them) whose fastcgi_queue_timeout passed; the nearest deadline left, or 0. */
static uint64_t expire_queues(uint64_t now)
{
    uint64_t next = 0;
    for (struct fcgi_pool *p = pools; p; p = p->next) {
        if (!upstream_waiting(&p->up))
            continue;
        for (unsigned i = 0; i < n_engines; i++) {
            for (;;) {
                pthread_mutex_lock(&p->lock);
                struct fcgi_req *q = req_of(upstream_expire(&p->up, i, now, &next));
                if (q)
                    observe_wait(p, q, now);
                pthread_mutex_unlock(&p->lock);
                if (!q)
                    break;
                fail_req(q, FCGI_FAIL_OVERLOAD,
                         "no free upstream connection within the queue timeout");
            }
        }
    }
    return next;
}

/* The queue timer of an engine that queued requests: expire them, and stay armed while any
 * request waits (another engine may serve it first; then this only finds nothing to do). */
static void on_queue_timer(struct loop *l, struct loop_timer *t, void *ctx)
{
    (void)ctx;
    pthread_rwlock_rdlock(&pools_lock);
    uint64_t next = expire_queues(loop_now_ms(l));
    pthread_rwlock_unlock(&pools_lock);
    if (next)
        loop_timer_arm_at(l, t, next);
}

/* Every FCGI_POOL_TICK_MS. A request sitting in php-fpm's listen queue may wait for a child
 * that one of this engine's idle connections pins, and no request may end to release it:
 * look. Fit the unix upstreams of stalled requests, and let the fits grow back. The turn this
 * ends also serves the queues (fcgi_engine_run), whatever else happened. */
static void on_tick(struct loop *l, struct loop_timer *t, void *ctx)
{
    struct fcgi_engine *e = ctx;
    uint64_t now = loop_now_ms(l);
    struct fcgi_conn *c = e->conns;
    pthread_rwlock_rdlock(&pools_lock);
    while (c) {
        struct fcgi_conn *next = c->next;
        if (c->st == CS_IDLE &&
            (atomic_load_explicit(&c->be->pool->retired, memory_order_relaxed) ||
             idle_pins_waiter(c, now)))
            conn_close(c);
        c = next;
    }
    refit(e, now);
    pthread_rwlock_unlock(&pools_lock);
    loop_timer_arm(l, t, FCGI_POOL_TICK_MS);
}

/* ---- kicks ---------------------------------------------------------------------------------- */

static void handle_kick(struct fcgi_engine *e, struct fcgi_req *q)
{
    pthread_mutex_lock(&q->lock);
    q->kick_next = NULL;
    q->in_kick_list = false;
    struct fcgi_engine *owner = q->engine;
    unsigned flags = q->kick_flags;
    if (owner != e) {
        /* it moved (retried elsewhere, or queued) after the kick was sent: pass it on */
        bool push = owner != NULL && flags;
        if (push)
            q->in_kick_list = true;
        else
            q->kick_flags &= ~(unsigned)FCGI_KICK_ABORT; /* handled right below */
        pthread_mutex_unlock(&q->lock);
        if (push)
            engine_push(owner, q);
        else if (flags & FCGI_KICK_ABORT)
            abort_queued(q);
        return;
    }
    q->kick_flags = 0;
    bool resume_reading = (flags & FCGI_KICK_DRAINED) && q->reading_paused &&
                          q->out.len - q->out_off < FCGI_OUT_LOW_WATER;
    if (resume_reading)
        q->reading_paused = false;
    pthread_mutex_unlock(&q->lock);

    if (flags & FCGI_KICK_SUBMIT) {
        if (flags & FCGI_KICK_ABORT)
            release_from_pool(q);
        else
            dispatch(e, q);
    } else if (flags & FCGI_KICK_ABORT) {
        if (q->fc) {
            detach(q->fc, false); /* never reuse a connection mid-response */
            release_from_pool(q);
        }
    } else if (resume_reading && q->fc) {
        set_deadline(q->fc, q->pool->conf->read_timeout_ms);
        set_events(q->fc, EPOLLIN | EPOLLRDHUP);
        conn_recv(q->fc);
    }
}

static void handle_kicks(struct fcgi_engine *e)
{
    if (!atomic_load_explicit(&e->kick_head, memory_order_acquire))
        return; /* nothing: skip the lock (a push after this is signalled or seen next turn) */
    pthread_mutex_lock(&e->kick_lock);
    struct fcgi_req *list = e->kick_head;
    e->kick_head = NULL;
    pthread_mutex_unlock(&e->kick_lock);
    struct fcgi_req *fifo = NULL; /* pushed newest first: start the oldest first */
    while (list) {
        struct fcgi_req *q = list;
        list = q->kick_next;
        q->kick_next = fifo;
        fifo = q;
    }
    while (fifo) {
        struct fcgi_req *q = fifo;
        fifo = q->kick_next;
        handle_kick(e, q);
        fcgi_req_release(q); /* the kick's reference */
    }
}

/* ---- engines -------------------------------------------------------------------------------- */

struct fcgi_engine *fcgi_engine_new(struct loop *loop)
{
    if (n_engines >= UPSTREAM_MAX_ENGINES)
        return NULL;
    struct fcgi_engine *e = xcalloc(1, sizeof *e);
    e->loop = loop;
    e->index = n_engines;
    pthread_mutex_init(&e->kick_lock, NULL);
    /* a wake-up needs no callback: the kick list is drained in fcgi_engine_run, every turn */
    loop_timer_init(&e->tick, on_tick, e);
    loop_timer_arm(loop, &e->tick, FCGI_POOL_TICK_MS);
    loop_timer_init(&e->queue_timer, on_queue_timer, e);
    loop_timer_init(&e->watch_timer, on_watch_timer, e);
    engines[n_engines++] = e;
    return e;
}

void fcgi_engine_run(struct fcgi_engine *e)
{
    handle_kicks(e);
    pthread_rwlock_rdlock(&pools_lock);
    for (struct fcgi_pool *p = pools; p; p = p->next)
        serve_queue(e, p);
    pthread_rwlock_unlock(&pools_lock);
    free_dead(e);
}

/* ---- the MHD side's entry points ------------------------------------------------------------ */

void fcgi_pool_kick(struct fcgi_req *q, unsigned flags)
{
    pthread_mutex_lock(&q->lock);
    q->kick_flags |= flags;
    struct fcgi_engine *owner = q->engine;
    bool push = owner && !q->in_kick_list;
    if (push)
        q->in_kick_list = true;
    pthread_mutex_unlock(&q->lock);
    if (push)
        engine_push(owner, q);
    else if (!owner && (flags & FCGI_KICK_ABORT))
        abort_queued(q); /* queued: no engine has it */
}

void fcgi_pool_submit(struct fcgi_engine *e, struct fcgi_req *q)
{
    fcgi_req_ref(q);                    /* the pool's */
    if (!e || atomic_load(&stopping)) { /* the last MHD pass of a shutdown (main thread) */
        pthread_mutex_lock(&q->lock);
        q->in_pool = true;
        pthread_mutex_unlock(&q->lock);
        fail_req(q, FCGI_FAIL_OVERLOAD, "server shutting down");
        return;
    }
    fcgi_req_ref(q); /* the home list's */
    q->home = e;
    q->submitted_ms = now_ms(e);
    if (!e->watch_next) { /* every older one was looked at: q is next */
        e->watch_next = q;
        if (!loop_timer_is_armed(&e->watch_timer))
            loop_timer_arm(e->loop, &e->watch_timer, FCGI_POOL_WATCH_AFTER_MS);
    }
    q->in_home_list = true;
    q->home_prev = NULL;
    q->home_next = e->waiting;
    if (e->waiting)
        e->waiting->home_prev = q;
    e->waiting = q;
    pthread_mutex_lock(&q->lock);
    q->in_pool = true;
    q->engine = e;
    pthread_mutex_unlock(&q->lock);
    fcgi_pool_kick(q, FCGI_KICK_SUBMIT);
}

/* ---- shutdown ------------------------------------------------------------------------------- */

void fcgi_pool_stop(void)
{
    atomic_store(&stopping, true); /* dispatch() now fails what it is given */
    for (unsigned i = 0; i < n_engines; i++)
        loop_update_time(engines[i]->loop); /* no loop turns any more */
    bool again = true;
    while (again) { /* kicks may be passed on between engines */
        again = false;
        for (unsigned i = 0; i < n_engines; i++) {
            if (engines[i]->kick_head) {
                handle_kicks(engines[i]);
                again = true;
            }
        }
    }
    for (unsigned i = 0; i < n_engines; i++) {
        struct fcgi_engine *e = engines[i];
        while (e->conns) {
            struct fcgi_conn *c = e->conns;
            struct fcgi_req *q = c->req;
            if (q) {
                detach(c, false);
                fail_req(q, FCGI_FAIL_CONNECT, "server shutting down");
            } else {
                conn_close(c);
            }
        }
        free_dead(e);
    }
    for (struct fcgi_pool *p = pools; p; p = p->next) {
        for (unsigned i = 0; i < UPSTREAM_MAX_ENGINES; i++) {
            for (;;) {
                pthread_mutex_lock(&p->lock);
                struct fcgi_req *q = req_of(upstream_pop(&p->up, i));
                pthread_mutex_unlock(&p->lock);
                if (!q)
                    break;
                fail_req(q, FCGI_FAIL_OVERLOAD, "server shutting down");
            }
        }
    }
}

void fcgi_pool_retire(struct fcgi_pool *p)
{
    if (p)
        atomic_store(&p->retired, true);
}

bool fcgi_pool_unused(struct fcgi_pool *p)
{
    if (!p)
        return true;
    pthread_mutex_lock(&p->lock);
    bool unused = upstream_waiting(&p->up) == 0;
    for (size_t i = 0; unused && i < p->up.n_srv; i++)
        unused = p->up.srv[i].n_conns == 0;
    pthread_mutex_unlock(&p->lock);
    return unused;
}

void fcgi_pool_free(struct fcgi_pool *p)
{
    if (!p)
        return;
    pthread_rwlock_wrlock(&pools_lock);
    for (struct fcgi_pool **pp = &pools; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    for (size_t i = 0; i < p->n_be; i++) {
        struct fcgi_backend *b = &p->be[i], *o = b;
        while (o->same_addr != b) /* leave the ring of backends with this address */
            o = o->same_addr;
        o->same_addr = b->same_addr;
        free(b->name);
    }
    pthread_rwlock_unlock(&pools_lock);
    free(p->be);
    upstream_dispose(&p->up);
    free(p->site);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void fcgi_engine_free_all(void)
{
    for (unsigned i = 0; i < n_engines; i++) {
        struct fcgi_engine *e = engines[i];
        while (e->waiting) /* only after MHD_stop_daemon: nothing waits any more */
            fcgi_pool_reclaim(e->waiting);
        free_dead(e);
        loop_timer_cancel(e->loop, &e->tick);
        loop_timer_cancel(e->loop, &e->queue_timer);
        loop_timer_cancel(e->loop, &e->watch_timer);
        pthread_mutex_destroy(&e->kick_lock);
        free(e);
        engines[i] = NULL;
    }
    n_engines = 0;
    atomic_store(&stopping, false);
}

/* ---- figures for the admin listener ---------------------------------------------------------- */

void fcgi_pool_get_stats(struct fcgi_pool *p, struct fcgi_pool_stats *st)
{
    memset(st, 0, sizeof *st);
    st->n_upstreams = p->n_be;
    st->upstreams = xcalloc(p->n_be ? p->n_be : 1, sizeof *st->upstreams);
    uint64_t now = clock_ms();
    pthread_mutex_lock(&p->lock);
    st->queued = upstream_waiting(&p->up);
    st->queue_wait = p->queue_wait;
    for (size_t i = 0; i < p->n_be; i++) {
        struct fcgi_upstream_stats *u = &st->upstreams[i];
        const struct upstream_server *s = p->be[i].srv;
        u->name = p->be[i].name;
        u->busy = s->n_busy;
        u->idle = s->n_idle;
        u->open = s->n_conns;
        u->down = upstream_is_down(s, now);
    }
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->n_be; i++)
        for (unsigned k = 0; k < FCGI_FAIL_KINDS; k++)
            st->upstreams[i].failures[k] =
                atomic_load_explicit(&p->be[i].fails[k], memory_order_relaxed);
    for (unsigned k = 0; k < FCGI_FAIL_KINDS; k++)
        st->failures[k] = atomic_load_explicit(&p->fails[k], memory_order_relaxed);
}

void fcgi_pool_stats_dispose(struct fcgi_pool_stats *st)
{
    free(st->upstreams);
    st->upstreams = NULL;
}

unsigned fcgi_pool_upstreams_up(struct fcgi_pool *p, size_t *n)
{
    uint64_t now = clock_ms();
    unsigned up = 0;
    for (size_t i = 0; i < p->n_be; i++)
        up += !upstream_is_down(p->be[i].srv, now);
    *n = p->n_be;
    return up;
}
