/*
 * conn_watch: see include/conn_watch.h. Invariant: a record is unlinked under list_lock before
 * MHD closes its fd (MHD notifies CLOSED first), and the sweep calls shutdown() only under the
 * same lock, so it can never hit a reused descriptor.
 */
#include "conn_watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "util.h"

enum phase { PHASE_WAITING, PHASE_HEAD, PHASE_BUSY, PHASE_KILLED };

struct conn_watch {
    int fd;
    _Atomic int phase;
    _Atomic uint64_t since_ms;
    struct conn_watch *prev, *next;
};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn_watch *head;
static uint64_t header_ms = 30000, idle_ms = 60000;

void conn_watch_configure(uint64_t header_timeout_ms, uint64_t idle_timeout_ms)
{
    header_ms = header_timeout_ms;
    idle_ms = idle_timeout_ms;
}

struct conn_watch *conn_watch_add(int fd)
{
    struct conn_watch *w = xcalloc(1, sizeof *w);
    w->fd = fd;
    atomic_store(&w->phase, PHASE_WAITING);
    atomic_store(&w->since_ms, clock_ms());
    pthread_mutex_lock(&list_lock);
    w->next = head;
    if (head)
        head->prev = w;
    head = w;
    pthread_mutex_unlock(&list_lock);
    return w;
}

void conn_watch_remove(struct conn_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&list_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&list_lock);
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

unsigned conn_watch_sweep(void)
{
    uint64_t now = clock_ms();
    unsigned killed = 0;
    pthread_mutex_lock(&list_lock);
    for (struct conn_watch *w = head; w; w = w->next) {
        int p = atomic_load_explicit(&w->phase, memory_order_acquire);
        uint64_t since = atomic_load_explicit(&w->since_ms, memory_order_relaxed);
        /* An idle keep-alive connection is MHD's to time out (idle_timeout); one that is
         * still "waiting" well past that is trickling its request line. */
        uint64_t limit = p == PHASE_HEAD ? header_ms : p == PHASE_WAITING ? idle_ms + header_ms : 0;
        if (limit && now > since && now - since > limit) {
            shutdown(w->fd, SHUT_RDWR);
            atomic_store(&w->phase, PHASE_KILLED);
            killed++;
        }
    }
    pthread_mutex_unlock(&list_lock);
    return killed;
}
