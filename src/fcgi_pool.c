/*
 * fcgi_pool: see include/fcgi_pool.h.
 *
 * Threads: an engine's functions run on its worker thread; fcgi_pool_submit/kick/reclaim on
 * the MHD side (also a worker thread, maybe another engine's). A request is in exactly one
 * place: an engine's kick list (new), the pool's wait queue, or on a connection (fc) of the
 * engine in q->engine. A connection belongs to the engine that opened it for its whole life;
 * it is connecting, sending, receiving or idle. An idle one is watched for EOF (php-fpm closes
 * kept connections when a child exits) and dropped then.
 *
 * Locks: pool->lock guards the pool's counts, idle stacks, busy lists and queue; q->lock the
 * request's shared fields. The order is pool, then request. The kick list has its own lock.
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen_queue.h"
#include "log.h"
#include "loop.h"
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
    unsigned index;
    /* under pool->lock */
    unsigned n_conns; /* open, in every engine: connecting, busy or idle */
    unsigned n_conns_of[FCGI_MAX_ENGINES];
    unsigned n_busy;
    unsigned n_idle;
    struct fcgi_conn *idle[FCGI_MAX_ENGINES]; /* idle connections per engine, stacks */
    struct fcgi_conn *busy;                   /* connections carrying a request */
    _Atomic uint64_t down_until_ms;           /* passive health: skipped until then */
    unsigned fit;    /* pool lock: connections php-fpm was seen to take at once (below
                      * fastcgi_max_conns, unix sockets); 0 = none seen */
    uint64_t fit_ms; /* pool lock: when fit last shrank or grew */
    struct fcgi_backend *same_addr; /* ring of the backends (of every pool) with this address;
                                     * itself when alone. Fixed once the pools are made */
};

struct fcgi_pool {
    pthread_mutex_t lock;
    char *site;
    const struct fcgi_site_conf *conf;
    struct fcgi_backend *be;
    size_t n_be;
    unsigned rr;
    struct {
        struct fcgi_req *head, *tail;
    } queue[FCGI_MAX_ENGINES]; /* waiting requests by home engine, oldest first */
    _Atomic size_t q_len;      /* all queues; read without the lock as a hint */
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
    bool reused;       /* served a request before: it may have been closed meanwhile */
    bool is_tcp;       /* re-arm TCP_QUICKACK after reads */
    size_t head_off;   /* bytes of req->head_records sent */
    uint64_t body_off; /* request body bytes encoded so far */
    struct buf chunk;  /* encoded STDIN records being sent */
    size_t chunk_off;
    bool stdin_done; /* the empty STDIN record is encoded */
    struct fcgi_dec dec;
    struct fcgi_conn *next_idle;             /* pool lock */
    struct fcgi_conn *busy_prev, *busy_next; /* pool lock */
    struct fcgi_conn *prev, *next;           /* the engine's connections */
    uint64_t since_ms;                       /* when it became idle, or got its request */
    _Atomic bool answered;                   /* a byte came back for the current request */
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
    uint32_t rand_state;
    uint8_t recv_buf[RECV_BUF];
    uint8_t stdin_buf[STDIN_CHUNK];
};

static struct fcgi_pool *pools;
static struct fcgi_engine *engines[FCGI_MAX_ENGINES];
static unsigned n_engines;
static _Atomic bool stopping;

/* The engine's clock is its loop's, read once per loop turn: deadlines are in whole
 * milliseconds, and a PHP request used to read the clock a dozen times. */
static uint64_t now_ms(const struct fcgi_engine *e)
{
    return loop_now_ms(e->loop);
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
    p->conf = conf;
    p->be = xcalloc(n_ups, sizeof *p->be);
    p->n_be = n_ups;
    size_t before = errs->n;
    for (size_t i = 0; i < n_ups; i++) {
        p->be[i].pool = p;
        p->be[i].index = (unsigned)i;
        p->be[i].name = xstrdup(ups[i].text);
        p->be[i].same_addr = &p->be[i];
        if (resolve(&ups[i], &p->be[i], errs, site_name) == 0)
            link_same_addr(&p->be[i]);
    }
    if (errs->n != before) {
        fcgi_pool_free(p);
        return NULL;
    }
    p->next = pools;
    pools = p;
    return p;
}

/* ---- small helpers ---------------------------------------------------------------------- */

static void mark_tried(struct fcgi_req *q, const struct fcgi_backend *b)
{
    if (b->index < 32)
        q->tried_mask |= 1u << b->index;
}

static bool tried(const struct fcgi_req *q, const struct fcgi_backend *b)
{
    return b->index < 32 && (q->tried_mask & (1u << b->index));
}

static void set_events(struct fcgi_conn *c, uint32_t events)
{
    loop_watch_modify(c->engine->loop, c->watch, events);
}

/* Pool lock held. */
static void busy_link(struct fcgi_backend *b, struct fcgi_conn *c)
{
    c->busy_prev = NULL;
    c->busy_next = b->busy;
    if (b->busy)
        b->busy->busy_prev = c;
    b->busy = c;
    b->n_busy++;
}

static void busy_unlink(struct fcgi_backend *b, struct fcgi_conn *c)
{
    if (c->busy_prev)
        c->busy_prev->busy_next = c->busy_next;
    else
        b->busy = c->busy_next;
    if (c->busy_next)
        c->busy_next->busy_prev = c->busy_prev;
    c->busy_prev = c->busy_next = NULL;
    b->n_busy--;
}

static void idle_unlink(struct fcgi_backend *b, struct fcgi_conn *c)
{
    struct fcgi_conn **pp = &b->idle[c->engine->index];
    while (*pp && *pp != c)
        pp = &(*pp)->next_idle;
    if (*pp) {
        *pp = c->next_idle;
        b->n_idle--;
    }
    c->next_idle = NULL;
}

/* Wake engine e, unless it is the caller's: that one looks at its kick list before it sleeps. */
static void signal_engine(struct fcgi_engine *e)
{
    if (!loop_in_own_thread(e->loop))
        fcgi_engine_wake(e);
}

void fcgi_pool_resumed(struct fcgi_req *q)
{
    /* note: MHD_resume_connection() only flags the connection; a daemon without an internal
     * thread processes it at its next MHD_run(). The home worker runs its daemons after every
     * wake-up, so waking it is enough; on its own thread that happens anyway this iteration. */
    if (q->home && !loop_in_own_thread(q->home->loop))
        fcgi_engine_wake(q->home);
}

void fcgi_engine_wake(struct fcgi_engine *e)
{
    loop_wake(e->loop);
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

static void log_stderr(struct fcgi_req *q, const uint8_t *data, size_t len);

/* The pool lets go of q: it ended (ok or failed). Drops the pool's reference. Any thread. */
static void release_from_pool(struct fcgi_req *q)
{
    if (q->stderr_line.len)
        log_stderr(q, (const uint8_t *)"\n", 1); /* a last line without its newline */
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

/* Pool lock held. Does another connection to c's upstream wait for an answer that has not
 * begun? */
static bool stalled_on(const struct fcgi_backend *b, const struct fcgi_conn *c, uint64_t now)
{
    for (const struct fcgi_conn *o = b->busy; o; o = o->busy_next)
        if (o != c && !atomic_load_explicit(&o->answered, memory_order_relaxed) &&
            now - o->since_ms >= FCGI_POOL_STALL_MS)
            return true;
    return false;
}

static bool sibling_stalled(const struct fcgi_conn *c, uint64_t now)
{
    return stalled_on(c->be, c, now);
}

/* Take q off its connection; keep the connection for the next request if it is clean. A kept
 * connection goes on its engine's idle stack; the engine serves the queue from it afterwards
 * (fcgi_engine_run), so the oldest waiting request goes first. */
static void detach(struct fcgi_conn *c, bool keep)
{
    struct fcgi_req *q = c->req;
    struct fcgi_backend *b = c->be;
    c->req = NULL;
    if (q)
        q->fc = NULL;
    buf_reset(&c->chunk);
    uint64_t now = now_ms(c->engine);
    pthread_mutex_lock(&b->pool->lock);
    busy_unlink(b, c);
    /* note: a kept connection pins its php-fpm child. So at most fastcgi_keep_conns are kept
     * idle (fastcgi_max_conns bounds requests in flight, not children pinned between
     * requests), and none while a sibling waits for its first byte: it may sit in php-fpm's
     * listen queue behind exactly this child (more connections than pm.max_children). */
    if (keep && b->n_idle < b->pool->conf->keep_conns && !sibling_stalled(c, now)) {
        c->st = CS_IDLE;
        c->since_ms = now;
        c->reused = true;
        c->next_idle = b->idle[c->engine->index];
        b->idle[c->engine->index] = c;
        b->n_idle++;
    } else {
        keep = false;
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
    if (c->st == CS_IDLE)
        idle_unlink(b, c);
    else if (c->req)
        busy_unlink(b, c);
    b->n_conns--;
    b->n_conns_of[e->index]--;
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
    buf_dispose(&c->chunk);
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
    if (!q)
        return;
    if (was_connecting) {
        atomic_store(&b->down_until_ms, now_ms(e) + FCGI_POOL_DOWN_MS);
        log_warn("fcgi", q->id, "[site %s] upstream %s: %s; skipping it for %u s", q->pool->site,
                 b->name, detail, FCGI_POOL_DOWN_MS / 1000);
    }
    bool retry = !q->got_response_bytes && !q->aborted && (was_connecting || was_reused) &&
                 q->attempts < q->pool->n_be + 2;
    if (retry) {
        dispatch(e, q);
        return;
    }
    fail_req(q, why, detail);
}

/* ---- sending ------------------------------------------------------------------------------ */

/* Encode the next piece of request body (or the end of STDIN) into c->chunk. */
static int refill(struct fcgi_conn *c)
{
    struct fcgi_req *q = c->req;
    buf_reset(&c->chunk);
    c->chunk_off = 0;
    if (c->body_off < q->body_len) {
        size_t n = q->body_len - c->body_off < STDIN_CHUNK ? (size_t)(q->body_len - c->body_off)
                                                           : STDIN_CHUNK;
        const void *src;
        if (q->body_fd >= 0) {
            ssize_t got = pread(q->body_fd, c->engine->stdin_buf, n, (off_t)c->body_off);
            if (got <= 0)
                return -1;
            n = (size_t)got;
            src = c->engine->stdin_buf;
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
    set_deadline(c, c->req->pool->conf->read_timeout_ms);
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
                    set_deadline(c, q->pool->conf->send_timeout_ms);
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

/* Put q on c (already counted busy) and start sending. */
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
    buf_init(&c->chunk, 0);
    c->next = e->conns;
    if (e->conns)
        e->conns->prev = c;
    e->conns = c;
    c->req = q;
    q->fc = c;
    c->st = CS_CONNECTING;
    c->since_ms = now_ms(e);
    pthread_mutex_lock(&b->pool->lock);
    busy_link(b, c);
    pthread_mutex_unlock(&b->pool->lock);
    set_deadline(c, q->pool->conf->connect_timeout_ms);
    return c;
}

/* ---- choosing a connection ----------------------------------------------------------------- */

/* How a request goes on, decided under the pool lock. */
enum plan {
    PLAN_IDLE,        /* an idle connection of this engine: *cp */
    PLAN_OPEN,        /* room for a new connection to *bp */
    PLAN_WAIT,        /* no room now: queue (and wake the engines in *poke, which have idle
                       * connections this engine cannot use) */
    PLAN_NO_UPSTREAM, /* every upstream was tried */
};

/* Pool lock held. Can engine i start a request on b now? Up to fastcgi_max_conns (or what
 * php-fpm was seen to take, b->fit) connections in all, and of them an even share per engine
 * for its own requests, so each worker mostly serves its own clients (beyond it, engines serve
 * each other's queues). */
static bool has_room(const struct fcgi_backend *b, unsigned i)
{
    unsigned max = b->pool->conf->max_conns, n = n_engines ? n_engines : 1;
    if (b->fit && b->fit < max)
        max = b->fit;
    return b->idle[i] || (b->n_conns < max && b->n_conns_of[i] < (max + n - 1) / n);
}

/* Pool lock held; changes nothing. Among upstreams not yet tried for q (those up first), by
 * the balancing method, the first with room for engine e. */
static enum plan plan(struct fcgi_engine *e, struct fcgi_pool *p, struct fcgi_req *q,
                      struct fcgi_backend **bp, uint64_t *poke)
{
    uint64_t now = now_ms(e);
    size_t n = p->n_be, start = 0;
    bool any_left = false;
    switch (p->conf->lb) {
    case FCGI_LB_ROUND_ROBIN:
        start = p->rr % n;
        break;
    case FCGI_LB_RANDOM:
        e->rand_state ^= e->rand_state << 13;
        e->rand_state ^= e->rand_state >> 17;
        e->rand_state ^= e->rand_state << 5;
        start = e->rand_state % n;
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
            struct fcgi_backend *b = &p->be[(start + k) % n];
            if (tried(q, b))
                continue;
            any_left = true;
            if (pass == 0 && atomic_load_explicit(&b->down_until_ms, memory_order_relaxed) > now)
                continue;
            if (!has_room(b, e->index)) {
                for (unsigned i = 0; i < n_engines; i++) /* who could take it instead */
                    if (i != e->index && has_room(b, i))
                        *poke |= 1ull << i;
                continue;
            }
            if (p->conf->lb != FCGI_LB_LEAST_CONN) {
                *bp = b;
                return b->idle[e->index] ? PLAN_IDLE : PLAN_OPEN;
            }
            if (!best || b->n_busy < best->n_busy)
                best = b;
        }
        if (best) {
            *bp = best;
            return best->idle[e->index] ? PLAN_IDLE : PLAN_OPEN;
        }
    }
    return any_left ? PLAN_WAIT : PLAN_NO_UPSTREAM;
}

/* Pool lock held: make a PLAN_IDLE or PLAN_OPEN for q on b happen in the counts. Returns the
 * idle connection to use, or NULL for a new one. */
static struct fcgi_conn *commit(struct fcgi_engine *e, struct fcgi_backend *b, struct fcgi_req *q)
{
    if (b->pool->conf->lb == FCGI_LB_ROUND_ROBIN)
        b->pool->rr++;
    q->attempts++;
    struct fcgi_conn *c = b->idle[e->index];
    if (c) {
        b->idle[e->index] = c->next_idle;
        c->next_idle = NULL;
        b->n_idle--;
        c->since_ms = now_ms(e);
        atomic_store_explicit(&c->answered, false, memory_order_relaxed);
        busy_link(b, c);
        return c;
    }
    b->n_conns++;
    b->n_conns_of[e->index]++;
    return NULL;
}

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
        b->n_conns--;
        b->n_conns_of[e->index]--;
        pthread_mutex_unlock(&b->pool->lock);
        mark_tried(q, b);
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
    mark_tried(q, b);
    char detail[128];
    snprintf(detail, sizeof detail, "connect: %s", strerror(errno));
    conn_failed(c, FCGI_FAIL_CONNECT, detail);
}

/* Find q a connection on engine e, or queue it. */
static void dispatch(struct fcgi_engine *e, struct fcgi_req *q)
{
    struct fcgi_pool *p = q->pool;
    if (atomic_load(&stopping)) {
        fail_req(q, FCGI_FAIL_CONNECT, "server shutting down");
        return;
    }
    struct fcgi_backend *b = NULL;
    struct fcgi_conn *c = NULL;
    uint64_t poke = 0, deadline = 0;
    pthread_mutex_lock(&p->lock);
    enum plan pl = plan(e, p, q, &b, &poke);
    bool full = false;
    if (pl == PLAN_IDLE || pl == PLAN_OPEN) {
        c = commit(e, b, q);
    } else if (pl == PLAN_WAIT && p->q_len >= FCGI_POOL_QUEUE_MAX) {
        full = true;
    } else if (pl == PLAN_WAIT) {
        q->queued_ms = now_ms(e);
        q->deadline_ms = q->queued_ms + p->conf->queue_timeout_ms;
        deadline = q->deadline_ms;
        q->q_next = NULL;
        q->queued = true;
        unsigned h = q->home->index;
        if (p->queue[h].tail)
            p->queue[h].tail->q_next = q;
        else
            p->queue[h].head = q;
        p->queue[h].tail = q;
        p->q_len++;
        pthread_mutex_lock(&q->lock);
        q->engine = NULL; /* whoever takes it from the queue serves it */
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&p->lock);

    switch (pl) {
    case PLAN_IDLE:
    case PLAN_OPEN:
        start_on(e, q, b, c);
        return;
    case PLAN_WAIT:
        if (full) {
            fail_req(q, FCGI_FAIL_OVERLOAD, "wait queue full");
        } else {
            /* whoever serves it, this engine sees that it does not wait too long */
            if (!loop_timer_is_armed(&e->queue_timer) || e->queue_timer.due_ms > deadline)
                loop_timer_arm_at(e->loop, &e->queue_timer, deadline);
            poke_engines(poke);
        }
        return;
    case PLAN_NO_UPSTREAM:
        fail_req(q, FCGI_FAIL_CONNECT, "no upstream could be reached");
        return;
    }
}

/* Pool lock held: take q out of the wait queue. */
static void unqueue_locked(struct fcgi_pool *p, struct fcgi_req *q)
{
    unsigned h = q->home->index;
    struct fcgi_req **pp = &p->queue[h].head, *prev = NULL;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->q_next;
    }
    if (!*pp)
        return;
    *pp = q->q_next;
    if (p->queue[h].tail == q)
        p->queue[h].tail = prev;
    p->q_len--;
    q->q_next = NULL;
    q->queued = false;
}

/* The client of a queued request left: drop it, unless an engine has just taken it (that
 * engine then sees `aborted`, or gets the kick). Any thread. */
static void abort_queued(struct fcgi_req *q)
{
    struct fcgi_pool *p = q->pool;
    pthread_mutex_lock(&p->lock);
    bool was = q->queued;
    if (was)
        unqueue_locked(p, q);
    pthread_mutex_unlock(&p->lock);
    if (was)
        release_from_pool(q);
}

/* Pool lock held. The request engine e should serve next: the oldest of its own, unless
 * another engine's oldest has waited FCGI_POOL_STEAL_MS longer (or e has none waiting). */
static struct fcgi_req *next_to_serve(struct fcgi_engine *e, struct fcgi_pool *p)
{
    struct fcgi_req *own = p->queue[e->index].head, *other = NULL;
    for (unsigned i = 0; i < n_engines; i++) {
        struct fcgi_req *h = p->queue[i].head;
        if (i != e->index && h && (!other || h->queued_ms < other->queued_ms))
            other = h;
    }
    if (own && (!other || other->queued_ms + FCGI_POOL_STEAL_MS >= own->queued_ms))
        return own;
    return other;
}

/* Engine e has room (a connection came free or closed, or another engine woke it): start the
 * oldest waiting requests that it can serve. */
static void serve_queue(struct fcgi_engine *e, struct fcgi_pool *p)
{
    while (atomic_load_explicit(&p->q_len, memory_order_relaxed) && !atomic_load(&stopping)) {
        struct fcgi_backend *b = NULL;
        struct fcgi_conn *c = NULL;
        uint64_t poke = 0;
        pthread_mutex_lock(&p->lock);
        struct fcgi_req *q = next_to_serve(e, p);
        if (!q) {
            pthread_mutex_unlock(&p->lock);
            return;
        }
        pthread_mutex_lock(&q->lock); /* claim it: the MHD side reads q->engine to kick */
        bool aborted = q->aborted;
        pthread_mutex_unlock(&q->lock);
        enum plan pl = aborted ? PLAN_NO_UPSTREAM : plan(e, p, q, &b, &poke);
        if (pl == PLAN_WAIT) {
            pthread_mutex_unlock(&p->lock);
            return; /* no room here; the engines in `poke` will serve it */
        }
        unqueue_locked(p, q);
        if (pl != PLAN_NO_UPSTREAM)
            c = commit(e, b, q);
        pthread_mutex_lock(&q->lock);
        q->engine = e;
        aborted = q->aborted;
        pthread_mutex_unlock(&q->lock);
        pthread_mutex_unlock(&p->lock);
        if (aborted) {
            if (pl != PLAN_NO_UPSTREAM) { /* give the room back */
                pthread_mutex_lock(&p->lock);
                if (c) {
                    busy_unlink(b, c);
                    c->next_idle = b->idle[e->index];
                    b->idle[e->index] = c;
                    b->n_idle++;
                } else {
                    b->n_conns--;
                    b->n_conns_of[e->index]--;
                }
                pthread_mutex_unlock(&p->lock);
            }
            release_from_pool(q);
        } else if (pl == PLAN_NO_UPSTREAM) {
            fail_req(q, FCGI_FAIL_CONNECT, "no upstream could be reached");
        } else {
            start_on(e, q, b, c);
        }
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
    /* note: consuming a php-fpm child's last bytes wakes it when it already sleeps in read()
     * on this socket (unix_write_space; it finds nothing and sleeps again). When requests wait,
     * the first read only peeks: if it holds the whole rest of the response, the connection
     * gets its next request first and the bytes are consumed after, while the child is awake
     * with work. One wake-up per request instead of two. */
    bool peek = atomic_load_explicit(&q->pool->q_len, memory_order_relaxed) > 0;
    size_t peeked = 0;

    for (;;) {
        ssize_t n = recv(c->fd, recv_buf, RECV_BUF, peek ? MSG_PEEK : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            broken = true;
            why = n == 0 ? "upstream closed the connection" : strerror(errno);
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
        atomic_store_explicit(&c->answered, true, memory_order_relaxed);
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
        detach(c, true); /* or closed: a close discards what was only peeked */
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
            mark_tried(c->req, c->be);
            snprintf(detail, sizeof detail, "connect: %s", strerror(err));
            conn_failed(c, FCGI_FAIL_CONNECT, detail);
            return;
        }
        atomic_store(&c->be->down_until_ms, 0);
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
        fcgi_req_wake_locked(q);
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
    if (!q->is_safe || q->got_response_bytes || q->aborted || q->timeout_retried)
        return false;
    for (size_t i = 0; i < q->pool->n_be; i++)
        if (&q->pool->be[i] != hung && !tried(q, &q->pool->be[i]))
            return true;
    return false;
}

/* note: php-fpm's children take connections from its listen queue one at a time and keep
 * them (FCGI_KEEP_CONN), so with more connections than pm.max_children the extra ones wait
 * there behind children that kept connections hold, and FCGI_GET_VALUES does not say how
 * many children there are. For a unix socket the kernel tells how many connections wait in
 * that queue (listen_queue_unix): when a request has waited FCGI_POOL_PROBE_MS for its first
 * byte (the queue is asked, so a slow script costs a look, nothing more), the upstream's
 * connections are fitted to those php-fpm took (b->fit), and further
 * requests wait in wharf's queue (in order, with fastcgi_queue_timeout) instead. The fit grows
 * back by one a second, so more children are found when php-fpm gets them. */
static void fit_upstream(struct fcgi_backend *b, uint64_t now)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&b->sa;
    int waiting = listen_queue_unix(sun->sun_path);
    if (waiting <= 0)
        return;
    pthread_mutex_lock(&b->pool->lock);
    unsigned took = b->n_conns > (unsigned)waiting ? b->n_conns - (unsigned)waiting : 1;
    if (!b->fit || took < b->fit) {
        if (!b->fit)
            log_info("fcgi", 0,
                     "[site %s] upstream %s: %d connections wait in its listen queue; "
                     "using %u (raise pm.max_children, or set fastcgi_max_conns to it)",
                     b->pool->site, b->name, waiting, took);
        b->fit = took;
    }
    b->fit_ms = now;
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
            atomic_load_explicit(&c->answered, memory_order_relaxed) ||
            now - c->since_ms < FCGI_POOL_PROBE_MS)
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
        for (size_t i = 0; i < p->n_be; i++) {
            struct fcgi_backend *b = &p->be[i];
            if (b->fit && now - b->fit_ms >= 1000) {
                b->fit = b->fit + 1 >= p->conf->max_conns ? 0 : b->fit + 1;
                b->fit_ms = now;
            }
        }
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
        bool stalled = b->n_busy && stalled_on(b, c, now);
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
        uint64_t due = c->since_ms + FCGI_POOL_IDLE_MS + 1;
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
        mark_tried(q, c->be);
        conn_failed(c, FCGI_FAIL_CONNECT, "connect timed out");
        return;
    }
    bool sending = c->st == CS_SENDING;
    struct fcgi_backend *b = c->be;
    bool again = !sending && may_retry_hung(q, b);
    detach(c, false); /* never reused: its child may still answer */
    if (again) {
        q->timeout_retried = true;
        mark_tried(q, b);
        atomic_store(&b->down_until_ms, now + FCGI_POOL_DOWN_MS);
        log_warn("fcgi", q->id,
                 "[site %s] upstream %s: no answer within fastcgi_read_timeout; "
                 "retrying the %s on another upstream, skipping this one for %u s",
                 q->pool->site, b->name, q->is_head ? "HEAD" : "GET", FCGI_POOL_DOWN_MS / 1000);
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
        if (!atomic_load_explicit(&p->q_len, memory_order_relaxed))
            continue;
        for (unsigned i = 0; i < n_engines; i++) {
            for (;;) {
                pthread_mutex_lock(&p->lock);
                struct fcgi_req *q = p->queue[i].head;
                if (q && q->deadline_ms <= now) {
                    unqueue_locked(p, q);
                } else {
                    if (q && (!next || q->deadline_ms < next))
                        next = q->deadline_ms;
                    q = NULL;
                }
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
    uint64_t next = expire_queues(loop_now_ms(l));
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
    while (c) {
        struct fcgi_conn *next = c->next;
        if (c->st == CS_IDLE && idle_pins_waiter(c, now))
            conn_close(c);
        c = next;
    }
    refit(e, now);
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
    if (n_engines >= FCGI_MAX_ENGINES)
        return NULL;
    struct fcgi_engine *e = xcalloc(1, sizeof *e);
    e->loop = loop;
    e->index = n_engines;
    e->rand_state = 2463534242u + 7919u * n_engines;
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
    for (struct fcgi_pool *p = pools; p; p = p->next)
        serve_queue(e, p);
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
        for (unsigned i = 0; i < FCGI_MAX_ENGINES; i++) {
            for (;;) {
                pthread_mutex_lock(&p->lock);
                struct fcgi_req *q = p->queue[i].head;
                if (q)
                    unqueue_locked(p, q);
                pthread_mutex_unlock(&p->lock);
                if (!q)
                    break;
                fail_req(q, FCGI_FAIL_OVERLOAD, "server shutting down");
            }
        }
    }
}

void fcgi_pool_free(struct fcgi_pool *p)
{
    if (!p)
        return;
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
    free(p->be);
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
