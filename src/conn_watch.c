/*
 * conn_watch: see include/conn_watch.h. Invariant: a record is unlinked under its set's lock
 * before MHD closes its fd (MHD notifies CLOSED first), and the sweep calls shutdown() only
 * under the same lock, so it can never hit a reused descriptor. (A worker's set is also only
 * touched by the worker's thread while it runs: its MHD callbacks and its sweep timer.)
 */
#include "conn_watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "util.h"

enum phase { PHASE_WAITING, PHASE_HEAD, PHASE_BUSY, PHASE_KILLED };

struct conn_watch {
    int fd;
    _Atomic int phase;
    _Atomic uint64_t since_ms;
    _Atomic bool closing; /* its listener was removed: close after the current response */
    const void *owner;    /* conn_watch_add_to's, for conn_watch_close_owner */
    struct conn_watch_set *set;
    struct conn_watch *prev, *next;
};

struct conn_watch_set {
    pthread_mutex_t lock;
    struct conn_watch *head;
};

static struct conn_watch_set global_set = {PTHREAD_MUTEX_INITIALIZER, NULL};
/* set at start, and again by a reload while the workers sweep */
static _Atomic uint64_t header_ms = 30000, idle_ms = 60000;

void conn_watch_configure(uint64_t header_timeout_ms, uint64_t idle_timeout_ms)
{
    atomic_store_explicit(&header_ms, header_timeout_ms, memory_order_relaxed);
    atomic_store_explicit(&idle_ms, idle_timeout_ms, memory_order_relaxed);
}

uint64_t conn_watch_idle_timeout_ms(void)
{
    return atomic_load_explicit(&idle_ms, memory_order_relaxed);
}

struct conn_watch_set *conn_watch_set_new(void)
{
    struct conn_watch_set *set = xcalloc(1, sizeof *set);
    pthread_mutex_init(&set->lock, NULL);
    return set;
}

void conn_watch_set_free(struct conn_watch_set *set)
{
    if (!set)
        return;
    pthread_mutex_destroy(&set->lock);
    free(set);
}

struct conn_watch *conn_watch_add_to(struct conn_watch_set *set, int fd, const void *owner)
{
    struct conn_watch *w = xcalloc(1, sizeof *w);
    w->fd = fd;
    w->owner = owner;
    w->set = set;
    atomic_store(&w->phase, PHASE_WAITING);
    atomic_store(&w->since_ms, clock_ms());
    pthread_mutex_lock(&set->lock);
    w->next = set->head;
    if (set->head)
        set->head->prev = w;
    set->head = w;
    pthread_mutex_unlock(&set->lock);
    return w;
}

struct conn_watch *conn_watch_add(int fd)
{
    return conn_watch_add_to(&global_set, fd, NULL);
}

void conn_watch_remove(struct conn_watch *w)
{
    if (!w)
        return;
    struct conn_watch_set *set = w->set;
    pthread_mutex_lock(&set->lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        set->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&set->lock);
    free(w);
}

static void set_phase(struct conn_watch *w, enum phase p)
{
    if (!w)
        return;
    atomic_store_explicit(&w->since_ms, clock_ms(), memory_order_relaxed);
    atomic_store_explicit(&w->phase, p, memory_order_release);
}

void conn_watch_reading_head(struct conn_watch *w)
{
    /* the deadline counts from the request's first byte: a second call (its line complete
     * after MHD said it had begun) keeps it */
    if (w && atomic_load_explicit(&w->phase, memory_order_relaxed) != PHASE_HEAD)
        set_phase(w, PHASE_HEAD);
}

void conn_watch_busy(struct conn_watch *w)
{
    set_phase(w, PHASE_BUSY);
}

void conn_watch_idle(struct conn_watch *w)
{
    set_phase(w, PHASE_WAITING);
}

unsigned conn_watch_sweep_set(struct conn_watch_set *set, uint64_t now)
{
    unsigned killed = 0;
    uint64_t head_limit = atomic_load_explicit(&header_ms, memory_order_relaxed);
    uint64_t idle_limit = atomic_load_explicit(&idle_ms, memory_order_relaxed);
    pthread_mutex_lock(&set->lock);
    for (struct conn_watch *w = set->head; w; w = w->next) {
        int p = atomic_load_explicit(&w->phase, memory_order_acquire);
        uint64_t since = atomic_load_explicit(&w->since_ms, memory_order_relaxed);
        /* An idle keep-alive connection is MHD's to time out (idle_timeout); one that is
         * still "waiting" well past that is trickling its request line. */
        uint64_t limit = p == PHASE_HEAD      ? head_limit
                         : p == PHASE_WAITING ? idle_limit + head_limit
                                              : 0;
        if (limit && now > since && now - since > limit) {
            shutdown(w->fd, SHUT_RDWR);
            atomic_store(&w->phase, PHASE_KILLED);
            killed++;
        }
    }
    pthread_mutex_unlock(&set->lock);
    return killed;
}

/* Lock held. Shut w down if it waits for a request, silently, for the grace at least. */
static bool close_if_waiting(struct conn_watch *w, uint64_t now_ms)
{
    if (atomic_load_explicit(&w->phase, memory_order_acquire) != PHASE_WAITING)
        return false;
    /* note: a connection just accepted, or just done with a response, gets a moment for its
     * request to arrive; one whose request is already here but not read by MHD yet (bytes
     * pending) is served, then closed by its Connection: close */
    uint64_t since = atomic_load_explicit(&w->since_ms, memory_order_relaxed);
    if (now_ms < since + CONN_WATCH_DRAIN_GRACE_MS)
        return false;
    int pending = 0;
    if (ioctl(w->fd, FIONREAD, &pending) == 0 && pending > 0)
        return false;
    shutdown(w->fd, SHUT_RDWR);
    atomic_store(&w->phase, PHASE_KILLED);
    return true;
}

unsigned conn_watch_close_waiting(struct conn_watch_set *set, uint64_t now_ms)
{
    unsigned closed = 0;
    pthread_mutex_lock(&set->lock);
    for (struct conn_watch *w = set->head; w; w = w->next)
        closed += close_if_waiting(w, now_ms);
    pthread_mutex_unlock(&set->lock);
    return closed;
}

unsigned conn_watch_close_owner(struct conn_watch_set *set, const void *owner, uint64_t now_ms)
{
    unsigned closed = 0;
    pthread_mutex_lock(&set->lock);
    for (struct conn_watch *w = set->head; w; w = w->next) {
        if (w->owner != owner)
            continue;
        atomic_store_explicit(&w->closing, true, memory_order_relaxed);
        closed += close_if_waiting(w, now_ms);
    }
    pthread_mutex_unlock(&set->lock);
    return closed;
}

bool conn_watch_closing(const struct conn_watch *w)
{
    return w && atomic_load_explicit(&w->closing, memory_order_relaxed);
}

unsigned conn_watch_sweep(void)
{
    return conn_watch_sweep_set(&global_set, clock_ms());
}
