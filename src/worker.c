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
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conn_watch.h"
#include "fcgi_pool.h"
#include "log.h"
#include "loop.h"

#define SWEEP_MS 1000 /* conn_watch's header deadline is looked at this often */

struct worker {
    pthread_t thread;
    bool started;
    struct loop *loop;
    struct fcgi_engine *engine;
    struct conn_watch_set *watches; /* its daemons' connections (conn_watch.h) */
    struct loop_timer sweep;
    struct MHD_Daemon *daemons[WORKER_MAX_DAEMONS];
    size_t n_daemons;
    bool quiesced;               /* its daemons accept no more (their listen fds are closed) */
    _Atomic unsigned open_conns; /* while draining: its daemons' connections, each turn */
};

static struct worker workers[WORKER_MAX];
static unsigned n_workers;
static _Atomic bool stopping;
static _Atomic bool draining;

/* Stop accepting: each daemon's dup of the listen socket leaves MHD's epoll set and is closed
 * (quiesced, MHD gives the fd back). Once every daemon's dup is closed the socket is gone and
 * new connections are refused by the kernel. On the worker's thread, or after it stopped. */
static void quiesce(struct worker *w)
{
    if (w->quiesced)
        return;
    w->quiesced = true;
    for (size_t i = 0; i < w->n_daemons; i++) {
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

int worker_create(unsigned n, struct errlist *errs)
{
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
        w->watches = conn_watch_set_new();
        loop_timer_init(&w->sweep, on_sweep, w);
        loop_timer_arm(w->loop, &w->sweep, SWEEP_MS);
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

int worker_add_daemon(unsigned i, struct MHD_Daemon *d)
{
    struct worker *w = &workers[i];
    if (w->n_daemons >= WORKER_MAX_DAEMONS)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di || !loop_watch_add(w->loop, di->epoll_fd, EPOLLIN, on_mhd_ready, d))
        return -1;
    w->daemons[w->n_daemons++] = d;
    return 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    loop_bind(w->loop);
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        int timeout = -1; /* the loop's own timers bound the wait too */
        for (size_t i = 0; i < w->n_daemons; i++) {
            MHD_UNSIGNED_LONG_LONG t;
            if (MHD_get_timeout(w->daemons[i], &t) == MHD_YES &&
                (timeout < 0 || t < (unsigned)timeout))
                timeout = t > INT_MAX ? INT_MAX : (int)t;
        }
        loop_run_once(w->loop, timeout);
        for (size_t i = 0; i < w->n_daemons; i++)
            MHD_run(w->daemons[i]);
        loop_update_time(w->loop); /* MHD_run may have taken a while */
        fcgi_engine_run(w->engine);
        if (atomic_load_explicit(&draining, memory_order_relaxed))
            drain_turn(w);
    }
    return NULL;
}

int worker_start(struct errlist *errs)
{
    atomic_store(&stopping, false);
    atomic_store(&draining, false);
    for (unsigned i = 0; i < n_workers; i++)
        atomic_store(&workers[i].open_conns, 1); /* unknown until its first draining turn */
    for (unsigned i = 0; i < n_workers; i++) {
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
    }
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

void worker_free(void)
{
    for (unsigned i = 0; i < n_workers; i++) {
        loop_timer_cancel(workers[i].loop, &workers[i].sweep);
        loop_free(workers[i].loop);
        workers[i].loop = NULL;
        conn_watch_set_free(workers[i].watches); /* empty: MHD_stop_daemon closed them all */
        workers[i].watches = NULL;
        workers[i].n_daemons = 0;
        workers[i].quiesced = false;
    }
    n_workers = 0;
}
