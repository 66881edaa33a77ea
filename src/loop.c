/*
 * loop: see include/loop.h.
 *
 * Watches are heap objects whose address is the epoll event's data.ptr. A removed watch loses
 * its handler at once and goes on a dead list freed at the end of the batch, so an event the
 * kernel already returned for it finds a watch without a handler and is skipped (the classic
 * stale-event problem, solved without tags or tombstone kinds in the owners' structs).
 *
 * Timers are a binary min-heap of pointers ordered by due_ms (equal ones in no set order); each
 * timer keeps its slot so a cancel or re-arm sifts it from where it is.
 */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util.h"

#define EVENTS_PER_WAIT 64

struct loop_watch {
    int fd;
    uint32_t events;
    loop_watch_cb handler; /* NULL once removed */
    void *ctx;
    struct loop_watch *prev, *next; /* the loop's live watches, then its dead list (next) */
};

struct loop {
    int ep;
    uint64_t now_ms;
    loop_clock_cb clock;
    void *clock_ctx;
    /* timers */
    struct loop_timer **heap;
    size_t n_timers, cap_timers;
    bool firing; /* inside the timer phase of a turn */
    /* watches */
    struct loop_watch *live, *dead;
    /* waking */
    int wake_fd;
    struct loop_watch *wake_watch;
    loop_wake_cb wake_cb;
    void *wake_ctx;
    pthread_t owner;
    _Atomic bool has_owner;
};

static uint64_t default_clock(void *ctx)
{
    (void)ctx;
    return clock_ms();
}

static void on_wake(struct loop *l, uint32_t events, void *ctx)
{
    (void)events;
    (void)ctx;
    uint64_t v;
    ssize_t r = read(l->wake_fd, &v, sizeof v); /* one read resets an eventfd */
    (void)r;
    if (l->wake_cb)
        l->wake_cb(l, l->wake_ctx);
}

struct loop *loop_new(void)
{
    struct loop *l = xcalloc(1, sizeof *l);
    l->clock = default_clock;
    l->wake_fd = -1;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    if (l->ep < 0)
        goto fail;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0)
        goto fail;
    l->wake_watch = loop_watch_add(l, l->wake_fd, EPOLLIN, on_wake, NULL);
    if (!l->wake_watch)
        goto fail;
    l->now_ms = l->clock(l->clock_ctx);
    return l;
fail : {
    int saved = errno;
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    if (l->ep >= 0)
        close(l->ep);
    free(l);
    errno = saved;
    return NULL;
}
}

static void free_dead(struct loop *l)
{
    while (l->dead) {
        struct loop_watch *w = l->dead;
        l->dead = w->next;
        free(w);
    }
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    while (l->live) /* the owners' fds stay open */
        loop_watch_remove(l, l->live);
    free_dead(l);
    close(l->wake_fd);
    close(l->ep);
    free(l->heap); /* timers still armed are not touched: their owners may be gone */
    free(l);
}

void loop_set_clock(struct loop *l, loop_clock_cb clock, void *ctx)
{
    l->clock = clock ? clock : default_clock;
    l->clock_ctx = ctx;
    loop_update_time(l);
}

uint64_t loop_now_ms(const struct loop *l)
{
    return l->now_ms;
}

void loop_update_time(struct loop *l)
{
    l->now_ms = l->clock(l->clock_ctx);
}

/* ---- watches ------------------------------------------------------------------------------- */

struct loop_watch *loop_watch_add(struct loop *l, int fd, uint32_t events, loop_watch_cb handler,
                                  void *ctx)
{
    struct loop_watch *w = xcalloc(1, sizeof *w);
    w->fd = fd;
    w->events = events;
    w->handler = handler;
    w->ctx = ctx;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        int saved = errno;
        free(w);
        errno = saved;
        return NULL;
    }
    w->next = l->live;
    if (l->live)
        l->live->prev = w;
    l->live = w;
    return w;
}

int loop_watch_modify(struct loop *l, struct loop_watch *w, uint32_t events)
{
    if (w->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, w->fd, &ev) != 0)
        return -1;
    w->events = events;
    return 0;
}

uint32_t loop_watch_events(const struct loop_watch *w)
{
    return w->events;
}

void loop_watch_remove(struct loop *l, struct loop_watch *w)
{
    if (!w || !w->handler)
        return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, w->fd, NULL);
    w->handler = NULL; /* an event already fetched in this batch is skipped */
    if (w->prev)
        w->prev->next = w->next;
    else
        l->live = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = l->dead;
    l->dead = w;
}

/* ---- timers: a binary min-heap ----------------------------------------------------------- */

static bool before(const struct loop_timer *a, const struct loop_timer *b)
{
    return a->due_ms < b->due_ms;
}

static void place(struct loop *l, struct loop_timer *t, size_t i)
{
    l->heap[i] = t;
    t->slot = i;
}

static void sift_up(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, l->heap[parent]))
            break;
        place(l, l->heap[parent], i);
        i = parent;
    }
    place(l, t, i);
}

static void sift_down(struct loop *l, size_t i)
{
    struct loop_timer *t = l->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= l->n_timers)
            break;
        if (child + 1 < l->n_timers && before(l->heap[child + 1], l->heap[child]))
            child++;
        if (!before(l->heap[child], t))
            break;
        place(l, l->heap[child], i);
        i = child;
    }
    place(l, t, i);
}

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *ctx)
{
    t->due_ms = 0;
    t->slot = LOOP_TIMER_IDLE;
    t->cb = cb;
    t->ctx = ctx;
}

void loop_timer_arm_at(struct loop *l, struct loop_timer *t, uint64_t due_ms)
{
    if (l->firing && due_ms <= l->now_ms)
        due_ms = l->now_ms + 1; /* at most once per turn (see loop.h) */
    if (t->slot != LOOP_TIMER_IDLE) {
        uint64_t was = t->due_ms;
        t->due_ms = due_ms;
        if (due_ms < was)
            sift_up(l, t->slot);
        else
            sift_down(l, t->slot);
        return;
    }
    if (l->n_timers == l->cap_timers) {
        l->cap_timers = l->cap_timers ? 2 * l->cap_timers : 16;
        l->heap = xrealloc(l->heap, l->cap_timers * sizeof *l->heap);
    }
    t->due_ms = due_ms;
    place(l, t, l->n_timers++);
    sift_up(l, t->slot);
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t after_ms)
{
    loop_timer_arm_at(l, t, l->now_ms + after_ms);
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    size_t i = t->slot;
    if (i == LOOP_TIMER_IDLE)
        return;
    t->slot = LOOP_TIMER_IDLE;
    struct loop_timer *last = l->heap[--l->n_timers];
    if (i == l->n_timers)
        return; /* it was the last one */
    place(l, last, i);
    if (i > 0 && before(last, l->heap[(i - 1) / 2]))
        sift_up(l, i);
    else
        sift_down(l, i);
}

bool loop_timer_is_armed(const struct loop_timer *t)
{
    return t->slot != LOOP_TIMER_IDLE;
}

size_t loop_timer_count(const struct loop *l)
{
    return l->n_timers;
}

static void fire_timers(struct loop *l)
{
    l->firing = true;
    while (l->n_timers && l->heap[0]->due_ms <= l->now_ms) {
        struct loop_timer *t = l->heap[0];
        loop_timer_cancel(l, t);
        t->cb(l, t, t->ctx);
    }
    l->firing = false;
}

/* ---- waking -------------------------------------------------------------------------------- */

void loop_set_wake(struct loop *l, loop_wake_cb cb, void *ctx)
{
    l->wake_cb = cb;
    l->wake_ctx = ctx;
}

void loop_wake(struct loop *l)
{
    uint64_t one = 1;
    ssize_t w = write(l->wake_fd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is full, so it is readable anyway */
}

void loop_bind(struct loop *l)
{
    l->owner = pthread_self();
    atomic_store_explicit(&l->has_owner, true, memory_order_release);
}

bool loop_in_own_thread(const struct loop *l)
{
    return atomic_load_explicit(&l->has_owner, memory_order_acquire) &&
           pthread_equal(l->owner, pthread_self());
}

/* ---- one turn ------------------------------------------------------------------------------ */

int loop_run_once(struct loop *l, int max_wait_ms)
{
    int timeout = max_wait_ms;
    if (l->n_timers) {
        uint64_t now = l->clock(l->clock_ctx), due = l->heap[0]->due_ms;
        uint64_t left = due > now ? due - now : 0;
        if (left > 24 * 3600 * 1000)
            left = 24 * 3600 * 1000; /* an int either way */
        if (timeout < 0 || left < (uint64_t)timeout)
            timeout = (int)left;
    }
    struct epoll_event evs[EVENTS_PER_WAIT];
    int n = epoll_wait(l->ep, evs, EVENTS_PER_WAIT, timeout);
    int saved = errno;
    loop_update_time(l);
    for (int i = 0; i < n; i++) {
        struct loop_watch *w = evs[i].data.ptr;
        if (w->handler) /* NULL: removed earlier in this batch */
            w->handler(l, evs[i].events, w->ctx);
    }
    free_dead(l);
    fire_timers(l);
    free_dead(l); /* watches the timers removed */
    if (n < 0) {
        errno = saved;
        return saved == EINTR ? 0 : -1;
    }
    return n;
}
