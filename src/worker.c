/*
 * worker: see include/worker.h.
 *
 * A turn of a worker: the loop waits (bounded by MHD's own timeout and the loop's timers) and
 * calls the handlers of what is ready: the engine's php-fpm sockets and watched clients, so a
 * response that arrived resumes its MHD connection before MHD runs; then MHD_run on every
 * daemon; then the engine starts the requests MHD's callbacks submitted and serves its queues.
 * The engine's deadlines are timers of the loop (fired at the end of its turn, after the
 * handlers).
 */
#include "worker.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "accept_share.h"
#include "conn_watch.h"
#include "fcgi_pool.h"
#include "log.h"
#include "loop.h"
#include "stat_memo.h"

#define SWEEP_MS 1000    /* conn_watch's header deadline is looked at this often */
#define SHARE_TICK_MS 50 /* a worker counts its connections and looks at who accepts */

struct worker {
    pthread_t thread;
    bool started;
    struct loop *loop;
    struct fcgi_engine *engine;
    struct conn_watch_set *watches; /* its daemons' connections (conn_watch.h) */
    struct loop_timer sweep;
    struct MHD_Daemon *daemons[WORKER_MAX_DAEMONS];
    struct loop_watch *daemon_watch[WORKER_MAX_DAEMONS]; /* its epoll fd in the loop */
    bool draining[WORKER_MAX_DAEMONS]; /* a reload removed it: its connections are closed as a
                                        * drain does, and it is stopped once empty */
    size_t n_daemons;
    _Atomic uint64_t beat_ms; /* loop time of its last turn (worker_heartbeat_ms) */
    _Atomic uint64_t turns;   /* loop turns finished (worker_epoch) */
    /* daemons a reload adds or removes, posted by the main thread (worker_post_daemon) */
    pthread_mutex_t post_lock;
    struct daemon_post *posts;
    _Atomic bool posts_pending;  /* peeked once a turn without the lock */
    bool quiesced;               /* its daemons accept no more (their listen fds are closed) */
    _Atomic unsigned open_conns; /* while draining: its daemons' connections, each turn */
    /* accepting (accept_share.h): what the others read of this worker, and its own state */
    unsigned daemon_limit[WORKER_MAX_DAEMONS]; /* each daemon's connection limit */
    _Atomic uint64_t waiting_since;            /* its loop's wait began (ms); 0: not waiting */
    _Atomic uint64_t idle_ms;                  /* it last ended a wait of IDLE_GAP_MS or more */
    _Atomic bool near_limit;                   /* at its last share tick */
    _Atomic unsigned conns;                    /* its daemons' connections, at its last tick */
    _Atomic bool accepting;                    /* its daemons take new connections */
    struct loop_timer share_tick;
    bool share_due; /* the tick fired: share_count after this turn's MHD_run */
};

struct daemon_post {
    struct MHD_Daemon *d;
    enum worker_post what;
    unsigned conn_limit;
    struct daemon_post *next;
};

static struct worker workers[WORKER_MAX];
static unsigned n_workers;
static _Atomic bool stopping;
static _Atomic bool draining;
static bool fill; /* accept_share's fill first; else every worker accepts (set at creation) */

/* Stop accepting: each daemon's dup of the listen socket leaves MHD's epoll set and is closed
 * (quiesced, MHD gives the fd back). Once every daemon's dup is closed the socket is gone and
 * new connections are refused by the kernel. On the worker's thread, or after it stopped. */
static void quiesce(struct worker *w)
{
    if (w->quiesced)
        return;
    w->quiesced = true;
    for (size_t i = 0; i < w->n_daemons; i++) {
        /* note: MHD_quiesce_daemon gives the listen fd again on a second call; a daemon a
         * reload removed was quiesced then, and its fd closed (and maybe reused) */
        if (w->draining[i])
            continue;
        MHD_socket fd = MHD_quiesce_daemon(w->daemons[i]);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
}

/* One turn of a draining worker: no accept, idle keep-alive connections closed (those busy
 * get "Connection: close" with their response), and the count main waits on. */
static void drain_turn(struct worker *w)
{
    quiesce(w);
    conn_watch_close_waiting(w->watches, clock_ms());
    unsigned n = 0;
    for (size_t i = 0; i < w->n_daemons; i++) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(w->daemons[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        n += di ? di->num_connections : 0;
    }
    atomic_store(&w->open_conns, n);
}

/* Once a second: cut the connections of this worker that did not send a request head in time.
 * On the worker's thread, between two MHD_run calls: MHD cannot close those fds meanwhile. */
static void on_sweep(struct loop *l, struct loop_timer *t, void *ctx)
{
    struct worker *w = ctx;
    unsigned killed = conn_watch_sweep_set(w->watches, loop_now_ms(l));
    if (killed)
        log_info("http", 0, "closed %u connection%s that did not send a request head in time",
                 killed, killed == 1 ? "" : "s");
    loop_timer_arm(l, t, SWEEP_MS);
}

/* Make w's daemons take new connections, or leave them in the kernel's listen queue for a
 * worker before it (patch 0009: the listen socket leaves the daemon's epoll set). */
static void set_accepting(struct worker *w, bool on)
{
    if (atomic_load_explicit(&w->accepting, memory_order_relaxed) == on)
        return;
    atomic_store_explicit(&w->accepting, on, memory_order_relaxed);
#ifdef MHD_HAVE_SET_ACCEPTING
    for (size_t i = 0; i < w->n_daemons; i++)
        MHD_set_accepting(w->daemons[i], on ? MHD_YES : MHD_NO);
#endif
}

/* Fill first (accept_share.h): worker 0 always accepts, worker i while every one before it is
 * busy. Each turn (a few relaxed loads) and each share tick. */
static void share_decide(struct worker *w, uint64_t now)
{
    unsigned self = (unsigned)(w - workers);
    if (self == 0 || !fill)
        return;
    struct accept_share_view views[WORKER_MAX];
    for (unsigned j = 0; j < self; j++) {
        views[j].waiting_since =
            atomic_load_explicit(&workers[j].waiting_since, memory_order_relaxed);
        views[j].idle_ms = atomic_load_explicit(&workers[j].idle_ms, memory_order_relaxed);
        views[j].near_limit = atomic_load_explicit(&workers[j].near_limit, memory_order_relaxed);
    }
    set_accepting(w, accept_share_accepts(views, self, now));
}

/* Count this worker's connections (for near_limit, and /livez) and decide again, so that a
 * paused worker that sleeps still takes over when the ones before it fill. After MHD_run, as
 * drain_turn (asking MHD for the count frees the connections it closed, with their callbacks). */
static void share_count(struct worker *w)
{
    w->share_due = false;
    unsigned total = 0;
    bool near = false;
    for (size_t i = 0; i < w->n_daemons; i++) {
        if (w->draining[i])
            continue;
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(w->daemons[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        unsigned n = di ? di->num_connections : 0;
        total += n;
        near = near || accept_share_near_limit(n, w->daemon_limit[i]);
    }
    atomic_store_explicit(&w->conns, total, memory_order_relaxed);
    atomic_store_explicit(&w->near_limit, near, memory_order_relaxed);
    share_decide(w, loop_now_ms(w->loop));
}

/* Every SHARE_TICK_MS: share_count at the end of this turn. */
static void on_share_tick(struct loop *l, struct loop_timer *t, void *ctx)
{
    struct worker *w = ctx;
    w->share_due = true;
    loop_timer_arm(l, t, SHARE_TICK_MS);
}

int worker_create(unsigned n, bool fill_first, struct errlist *errs)
{
    fill = fill_first;
    if (n > WORKER_MAX)
        n = WORKER_MAX;
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->loop = loop_new();
        if (!w->loop)
            return errlist_add(errs, "cannot create the event loop of worker %u: %s", i,
                               strerror(errno));
        n_workers = i + 1;
        pthread_mutex_init(&w->post_lock, NULL);
        w->watches = conn_watch_set_new();
        loop_timer_init(&w->sweep, on_sweep, w);
        loop_timer_arm(w->loop, &w->sweep, SWEEP_MS);
        atomic_store(&w->accepting, true);
        loop_timer_init(&w->share_tick, on_share_tick, w);
        loop_timer_arm(w->loop, &w->share_tick, SHARE_TICK_MS);
        w->engine = fcgi_engine_new(w->loop);
        if (!w->engine)
            return errlist_add(errs, "cannot create the FastCGI engine of worker %u", i);
    }
    return 0;
}

/* MHD's epoll set is ready. note: MHD is run after every turn whatever woke the loop (a
 * connection resumed by an engine wakes it through the loop's eventfd, not MHD's set, and
 * MHD_get_timeout asks for a run after each wait), and after the engine's handlers, so the
 * watch only has to end the wait. */
static void on_mhd_ready(struct loop *l, uint32_t events, void *ctx)
{
    (void)l;
    (void)events;
    (void)ctx;
}

int worker_add_daemon(unsigned i, struct MHD_Daemon *d, unsigned conn_limit)
{
    struct worker *w = &workers[i];
    if (w->n_daemons >= WORKER_MAX_DAEMONS)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    struct loop_watch *lw =
        di ? loop_watch_add(w->loop, di->epoll_fd, EPOLLIN, on_mhd_ready, d) : NULL;
    if (!lw)
        return -1;
    w->daemon_watch[w->n_daemons] = lw;
    w->daemon_limit[w->n_daemons] = conn_limit;
#ifdef MHD_HAVE_SET_ACCEPTING
    if (!atomic_load_explicit(&w->accepting, memory_order_relaxed))
        MHD_set_accepting(d, MHD_NO);
#endif
    w->draining[w->n_daemons] = false;
    w->daemons[w->n_daemons++] = d;
    return 0;
}

/* Forget daemon j of w and stop it (its connections are gone, or the server stops). */
static void drop_daemon(struct worker *w, size_t j)
{
    loop_watch_remove(w->loop, w->daemon_watch[j]);
    MHD_stop_daemon(w->daemons[j]);
    w->n_daemons--;
    w->daemons[j] = w->daemons[w->n_daemons];
    w->daemon_watch[j] = w->daemon_watch[w->n_daemons];
    w->daemon_limit[j] = w->daemon_limit[w->n_daemons];
    w->draining[j] = w->draining[w->n_daemons];
}

/* The posted daemons: on w's thread (or after it stopped). A removed one stops accepting now
 * (its listen socket is closed) and is run until its last connection is gone. */
static void take_posts(struct worker *w)
{
    pthread_mutex_lock(&w->post_lock);
    struct daemon_post *p = w->posts;
    w->posts = NULL;
    atomic_store(&w->posts_pending, false);
    pthread_mutex_unlock(&w->post_lock);
    while (p) {
        struct daemon_post *next = p->next;
        if (p->what == WORKER_POST_ADD) {
            if (worker_add_daemon((unsigned)(w - workers), p->d, p->conn_limit) != 0) {
                log_error("http", 0, "worker %u: no room for another listener",
                          (unsigned)(w - workers));
                MHD_stop_daemon(p->d);
            }
        } else {
            for (size_t j = 0; j < w->n_daemons; j++) {
                if (w->daemons[j] == p->d && !w->draining[j]) {
                    MHD_socket fd = w->quiesced ? MHD_INVALID_SOCKET : MHD_quiesce_daemon(p->d);
                    if (fd != MHD_INVALID_SOCKET)
                        close(fd); /* (a drain quiesced every daemon already) */
                    w->draining[j] = true;
                    /* mark its connections now, before this turn's MHD_run answers a request
                     * that just arrived (reap_drained repeats it every turn for new ones) */
                    conn_watch_close_owner(w->watches, p->d, clock_ms());
                }
            }
        }
        free(p);
        p = next;
    }
}

/* The daemons of removed listeners: close their idle connections and mark their busy ones to
 * close after their response, as a drain does; stop each once its connections are all gone. */
static void reap_drained(struct worker *w)
{
    uint64_t now = 0;
    for (size_t j = 0; j < w->n_daemons; j++)
        if (w->draining[j])
            conn_watch_close_owner(w->watches, w->daemons[j], now ? now : (now = clock_ms()));
    for (size_t j = 0; j < w->n_daemons;) {
        const union MHD_DaemonInfo *di =
            w->draining[j] ? MHD_get_daemon_info(w->daemons[j], MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
                           : NULL;
        if (di && di->num_connections == 0)
            drop_daemon(w, j);
        else
            j++;
    }
}

void worker_post_daemon(unsigned i, struct MHD_Daemon *d, enum worker_post what,
                        unsigned conn_limit)
{
    struct worker *w = &workers[i];
    struct daemon_post *p = xmalloc(sizeof *p);
    *p = (struct daemon_post){d, what, conn_limit, NULL};
    pthread_mutex_lock(&w->post_lock);
    struct daemon_post **tail = &w->posts; /* in order: an add before a later remove */
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    atomic_store(&w->posts_pending, true);
    pthread_mutex_unlock(&w->post_lock);
    loop_wake(w->loop);
}

/* The loop's wait, with what accept_share reads of it: a wait that may block (nonzero
 * timeout) is published while it lasts, and one that lasted IDLE_GAP_MS or more as idle time.
 * Then this worker decides whether it accepts, before its daemons run. */
static void wait_turn(struct worker *w, int timeout)
{
    uint64_t before = loop_now_ms(w->loop);
    if (timeout != 0)
        atomic_store_explicit(&w->waiting_since, before ? before : 1, memory_order_relaxed);
    loop_run_once(w->loop, timeout);
    uint64_t after = loop_now_ms(w->loop);
    if (timeout != 0)
        atomic_store_explicit(&w->waiting_since, 0, memory_order_relaxed);
    if (after >= before + ACCEPT_SHARE_IDLE_GAP_MS)
        atomic_store_explicit(&w->idle_ms, after, memory_order_relaxed);
    share_decide(w, after);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    loop_bind(w->loop);
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        if (atomic_load_explicit(&w->posts_pending, memory_order_acquire))
            take_posts(w);
        int timeout = -1; /* the loop's own timers bound the wait too */
        for (size_t i = 0; i < w->n_daemons; i++) {
            MHD_UNSIGNED_LONG_LONG t;
            if (MHD_get_timeout(w->daemons[i], &t) == MHD_YES &&
                (timeout < 0 || t < (unsigned)timeout))
                timeout = t > INT_MAX ? INT_MAX : (int)t;
        }
        wait_turn(w, timeout);
        stat_memo_turn(); /* the requests of this turn share a stat() per path */
        for (size_t i = 0; i < w->n_daemons; i++)
            MHD_run(w->daemons[i]);
        loop_update_time(w->loop); /* MHD_run may have taken a while */
        atomic_store_explicit(&w->beat_ms, loop_now_ms(w->loop), memory_order_relaxed);
        fcgi_engine_run(w->engine);
        reap_drained(w);
        if (w->share_due)
            share_count(w);
        if (atomic_load_explicit(&draining, memory_order_relaxed))
            drain_turn(w);
        atomic_fetch_add_explicit(&w->turns, 1, memory_order_release);
    }
    stat_memo_off();
    return NULL;
}

int worker_start(struct errlist *errs)
{
    atomic_store(&stopping, false);
    atomic_store(&draining, false);
    for (unsigned i = 0; i < n_workers; i++)
        atomic_store(&workers[i].open_conns, 1); /* unknown until its first draining turn */
    for (unsigned i = 0; i < n_workers; i++) {
        atomic_store(&workers[i].beat_ms, clock_ms());
        atomic_store(&workers[i].idle_ms, clock_ms());
        int rc = pthread_create(&workers[i].thread, NULL, run, &workers[i]);
        if (rc != 0)
            return errlist_add(errs, "cannot start worker thread %u: %s", i, strerror(rc));
        workers[i].started = true;
    }
    return 0;
}

void worker_stop(void)
{
    atomic_store(&stopping, true);
    for (unsigned i = 0; i < n_workers; i++)
        if (workers[i].started)
            loop_wake(workers[i].loop);
    for (unsigned i = 0; i < n_workers; i++) {
        if (workers[i].started)
            pthread_join(workers[i].thread, NULL);
        workers[i].started = false;
        take_posts(&workers[i]); /* a daemon posted too late still gets stopped */
    }
}

void worker_epoch_take(struct worker_epoch *ep)
{
    ep->n = n_workers;
    for (unsigned i = 0; i < n_workers; i++) {
        ep->turns[i] = atomic_load_explicit(&workers[i].turns, memory_order_acquire);
        if (workers[i].started)
            loop_wake(workers[i].loop); /* a turn soon, even on an idle worker */
    }
}

bool worker_epoch_passed(const struct worker_epoch *ep)
{
    for (unsigned i = 0; i < ep->n && i < n_workers; i++)
        if (workers[i].started &&
            atomic_load_explicit(&workers[i].turns, memory_order_acquire) == ep->turns[i])
            return false;
    return true;
}

void worker_drain(void)
{
    atomic_store(&draining, true);
    for (unsigned i = 0; i < n_workers; i++)
        if (workers[i].started)
            loop_wake(workers[i].loop);
}

unsigned worker_open_connections(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < n_workers; i++)
        n += atomic_load(&workers[i].open_conns);
    return n;
}

void worker_quiesce_rest(void)
{
    for (unsigned i = 0; i < n_workers; i++)
        quiesce(&workers[i]);
}

struct conn_watch_set *worker_conn_watches(unsigned i)
{
    return workers[i].watches;
}

struct fcgi_engine *worker_engine(unsigned i)
{
    return workers[i].engine;
}

size_t worker_daemons(struct MHD_Daemon **out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < n_workers; i++)
        for (size_t j = 0; j < workers[i].n_daemons && n < max; j++)
            out[n++] = workers[i].daemons[j];
    return n;
}

unsigned worker_count(void)
{
    return n_workers;
}

unsigned worker_connections(unsigned i)
{
    return i < n_workers ? atomic_load_explicit(&workers[i].conns, memory_order_relaxed) : 0;
}

bool worker_accepting(unsigned i)
{
    return i < n_workers && atomic_load_explicit(&workers[i].accepting, memory_order_relaxed);
}

uint64_t worker_heartbeat_ms(unsigned i)
{
    return i < n_workers ? atomic_load_explicit(&workers[i].beat_ms, memory_order_relaxed) : 0;
}

void worker_free(void)
{
    for (unsigned i = 0; i < n_workers; i++) {
        loop_timer_cancel(workers[i].loop, &workers[i].sweep);
        loop_free(workers[i].loop);
        workers[i].loop = NULL;
        conn_watch_set_free(workers[i].watches); /* empty: MHD_stop_daemon closed them all */
        workers[i].watches = NULL;
        workers[i].n_daemons = 0;
        pthread_mutex_destroy(&workers[i].post_lock);
        workers[i].quiesced = false;
    }
    n_workers = 0;
}
