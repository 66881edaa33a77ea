/*
 * worker: see include/worker.h.
 *
 * The loop, per iteration: epoll_wait (bounded by MHD's own timeout and the engine's tick);
 * engine events (php-fpm sockets, kicks, client watches) first, so a response that arrived
 * resumes its MHD connection before MHD runs; then MHD_run on every daemon; then the engine
 * starts the requests MHD's callbacks submitted, serves its queues and checks deadlines.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fcgi_pool.h"

#define WORKER_TAG_MHD 1000 /* above every FCGI_WATCH_* kind */
#define EVENTS_PER_WAIT 64

struct mhd_tag {
    int kind; /* WORKER_TAG_MHD */
    struct MHD_Daemon *d;
};

struct worker {
    pthread_t thread;
    bool started;
    int ep;
    struct fcgi_engine *engine;
    struct mhd_tag daemons[WORKER_MAX_DAEMONS];
    size_t n_daemons;
};

static struct worker workers[WORKER_MAX];
static unsigned n_workers;
static _Atomic bool stopping;

int worker_create(unsigned n, struct errlist *errs)
{
    if (n > WORKER_MAX)
        n = WORKER_MAX;
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0)
            return errlist_add(errs, "epoll_create1: %s", strerror(errno));
        n_workers = i + 1;
        w->engine = fcgi_engine_new(w->ep);
        if (!w->engine)
            return errlist_add(errs, "cannot create the FastCGI engine of worker %u", i);
    }
    return 0;
}

int worker_add_daemon(unsigned i, struct MHD_Daemon *d)
{
    struct worker *w = &workers[i];
    if (w->n_daemons >= WORKER_MAX_DAEMONS)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di)
        return -1;
    struct mhd_tag *t = &w->daemons[w->n_daemons];
    t->kind = WORKER_TAG_MHD;
    t->d = d;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, di->epoll_fd, &ev) != 0)
        return -1;
    w->n_daemons++;
    return 0;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[EVENTS_PER_WAIT];
    fcgi_engine_bind(w->engine);
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        int timeout = FCGI_POOL_TICK_MS;
        for (size_t i = 0; i < w->n_daemons; i++) {
            MHD_UNSIGNED_LONG_LONG t;
            if (MHD_get_timeout(w->daemons[i].d, &t) == MHD_YES && t < (unsigned)timeout)
                timeout = (int)t;
        }
        int n = epoll_wait(w->ep, evs, EVENTS_PER_WAIT, timeout);
        fcgi_engine_begin(w->engine);
        for (int i = 0; i < n; i++)
            if (*(int *)evs[i].data.ptr != WORKER_TAG_MHD)
                fcgi_engine_event(w->engine, evs[i].data.ptr, evs[i].events);
        /* note: MHD asks to be run after every wait, whatever woke it (MHD_get_timeout) */
        for (size_t i = 0; i < w->n_daemons; i++)
            MHD_run(w->daemons[i].d);
        fcgi_engine_run(w->engine);
    }
    fcgi_engine_bind(NULL);
    return NULL;
}

int worker_start(struct errlist *errs)
{
    atomic_store(&stopping, false);
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
            fcgi_engine_wake(workers[i].engine);
    for (unsigned i = 0; i < n_workers; i++) {
        if (workers[i].started)
            pthread_join(workers[i].thread, NULL);
        workers[i].started = false;
    }
}

size_t worker_daemons(struct MHD_Daemon **out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < n_workers; i++)
        for (size_t j = 0; j < workers[i].n_daemons && n < max; j++)
            out[n++] = workers[i].daemons[j].d;
    return n;
}

void worker_free(void)
{
    for (unsigned i = 0; i < n_workers; i++) {
        close(workers[i].ep);
        workers[i].n_daemons = 0;
    }
    n_workers = 0;
}
