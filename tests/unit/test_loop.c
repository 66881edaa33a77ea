/* Unit tests for loop: watches on pipes and eventfds, removal during dispatch, timers on a fake
 * clock (order, cancel, re-arm, from inside callbacks, many), and the cross-thread wake. */
#include "loop.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tap.h"

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

/* ---- watches ---- */

struct hits {
    int n;
    uint32_t events;
    int fd;
};

static void on_readable(struct loop *l, uint32_t events, void *ctx)
{
    (void)l;
    struct hits *h = ctx;
    h->n++;
    h->events = events;
    char b[64];
    ssize_t r = read(h->fd, b, sizeof b);
    (void)r;
}

static void test_watch_pipe(void)
{
    struct loop *l = loop_new();
    int p[2];
    ok(pipe(p) == 0, "pipe");
    struct hits h = {.fd = p[0]};
    struct loop_watch *w = loop_watch_add(l, p[0], EPOLLIN, on_readable, &h);
    ok(w != NULL, "watch added");
    is_int(loop_run_once(l, 0), 0, "nothing ready: no events");
    is_int(h.n, 0, "handler not called");
    ok(write(p[1], "x", 1) == 1, "write");
    is_int(loop_run_once(l, 1000), 1, "one event");
    is_int(h.n, 1, "handler called once");
    ok(h.events & EPOLLIN, "with EPOLLIN");
    is_int(loop_watch_events(w), EPOLLIN, "events kept");
    ok(loop_watch_add(l, p[0], EPOLLIN, on_readable, &h) == NULL, "same fd twice: refused");
    /* modify: watch for nothing but hang-up, then the data stays unseen */
    is_int(loop_watch_modify(l, w, EPOLLRDHUP), 0, "modify");
    ok(write(p[1], "y", 1) == 1, "write");
    is_int(loop_run_once(l, 0), 0, "not watching EPOLLIN: no event");
    is_int(loop_watch_modify(l, w, EPOLLIN), 0, "modify back");
    is_int(loop_run_once(l, 0), 1, "the data is seen again");
    is_int(h.n, 2, "handler called");
    loop_watch_remove(l, w);
    ok(write(p[1], "z", 1) == 1, "write");
    is_int(loop_run_once(l, 0), 0, "removed: no event");
    is_int(h.n, 2, "handler not called after remove");
    loop_watch_remove(l, NULL); /* a no-op */
    close(p[0]);
    close(p[1]);
    loop_free(l);
}

/* Two ready fds; whichever handler runs first removes the other watch (and closes its fd, then
 * reuses the number for a new watch): the other must not be called in the same batch. */
struct pair {
    struct loop *l;
    struct loop_watch *w[2];
    int fd[2];
    int calls[2];
    int stale_calls; /* calls of a replacement watch's handler (must stay 0 this turn) */
    struct loop_watch *replacement;
};

static void on_replacement(struct loop *l, uint32_t events, void *ctx)
{
    (void)l;
    (void)events;
    struct pair *p = ctx;
    p->stale_calls++;
}

static void on_pair(struct loop *l, uint32_t events, void *ctx, int me)
{
    (void)events;
    struct pair *p = ctx;
    p->calls[me]++;
    int other = 1 - me;
    if (p->w[other]) {
        loop_watch_remove(l, p->w[other]);
        p->w[other] = NULL;
        close(p->fd[other]);
        /* the same fd number, now a fresh eventfd that is not readable */
        int fd = eventfd(0, EFD_NONBLOCK);
        p->fd[other] = fd;
        p->replacement = loop_watch_add(l, fd, EPOLLIN, on_replacement, p);
    }
}

static void on_pair0(struct loop *l, uint32_t e, void *c)
{
    on_pair(l, e, c, 0);
}

static void on_pair1(struct loop *l, uint32_t e, void *c)
{
    on_pair(l, e, c, 1);
}

static void test_remove_during_dispatch(void)
{
    struct loop *l = loop_new();
    struct pair p = {.l = l};
    for (int i = 0; i < 2; i++) {
        p.fd[i] = eventfd(1, EFD_NONBLOCK); /* readable at once */
        p.w[i] = loop_watch_add(l, p.fd[i], EPOLLIN, i ? on_pair1 : on_pair0, &p);
    }
    int n = loop_run_once(l, 1000);
    is_int(n, 2, "two events fetched in one batch");
    is_int(p.calls[0] + p.calls[1], 1, "the removed watch's event was skipped");
    is_int(p.stale_calls, 0, "a new watch on the reused fd got no stale event");
    ok(p.replacement != NULL, "replacement watch added inside the handler");
    /* the survivor stays readable (level-triggered), the replacement not */
    loop_run_once(l, 0);
    is_int(p.calls[0] + p.calls[1], 2, "the survivor is still served next turn");
    is_int(p.stale_calls, 0, "the replacement still quiet");
    uint64_t one = 1;
    for (int i = 0; i < 2; i++)
        if (!p.w[i])
            ok(write(p.fd[i], &one, sizeof one) == 8, "replacement made readable");
    loop_run_once(l, 0);
    is_int(p.stale_calls, 1, "the replacement gets its own events");
    for (int i = 0; i < 2; i++)
        close(p.fd[i]);
    loop_free(l);
}

/* A handler that removes its own watch. */
static void on_self_remove(struct loop *l, uint32_t events, void *ctx)
{
    (void)events;
    struct loop_watch **w = ctx;
    loop_watch_remove(l, *w);
    loop_watch_remove(l, *w); /* twice: a no-op */
}

static void test_remove_self(void)
{
    struct loop *l = loop_new();
    int fd = eventfd(1, EFD_NONBLOCK);
    struct loop_watch *w = NULL;
    w = loop_watch_add(l, fd, EPOLLIN, on_self_remove, &w);
    is_int(loop_run_once(l, 0), 1, "event dispatched");
    is_int(loop_run_once(l, 0), 0, "removed itself: no more events");
    close(fd);
    loop_free(l);
}

/* ---- timers ---- */

static int fired[64], n_fired;

static void on_record(struct loop *l, struct loop_timer *t, void *ctx)
{
    (void)l;
    (void)t;
    fired[n_fired++] = (int)(intptr_t)ctx;
}

static void test_timer_order(void)
{
    struct loop *l = loop_new();
    fake_now = 1000;
    loop_set_clock(l, fake_clock, NULL);
    is_int(loop_now_ms(l), 1000, "injected clock read");
    struct loop_timer t[5];
    int after[5] = {50, 10, 30, 20, 40};
    for (int i = 0; i < 5; i++) {
        loop_timer_init(&t[i], on_record, (void *)(intptr_t)after[i]);
        ok(!loop_timer_is_armed(&t[i]), "a new timer is not armed");
        loop_timer_arm(l, &t[i], (uint64_t)after[i]);
    }
    is_int(loop_timer_count(l), 5, "five armed");
    n_fired = 0;
    fake_now = 1009;
    loop_run_once(l, 0);
    is_int(n_fired, 0, "none due yet");
    fake_now = 1030;
    loop_run_once(l, 0);
    is_int(n_fired, 3, "three due at +30 (due == now fires)");
    is_int(fired[0], 10, "earliest first");
    is_int(fired[1], 20, "then the next");
    is_int(fired[2], 30, "then the third");
    ok(!loop_timer_is_armed(&t[1]), "a fired timer is disarmed");
    fake_now = 5000;
    loop_run_once(l, 0);
    is_int(n_fired, 5, "all fired");
    is_int(fired[3], 40, "in order");
    is_int(fired[4], 50, "in order");
    is_int(loop_timer_count(l), 0, "none left");
    loop_free(l);
}

static void test_timer_cancel_rearm(void)
{
    struct loop *l = loop_new();
    fake_now = 0;
    loop_set_clock(l, fake_clock, NULL);
    struct loop_timer a, b, c;
    loop_timer_init(&a, on_record, (void *)1);
    loop_timer_init(&b, on_record, (void *)2);
    loop_timer_init(&c, on_record, (void *)3);
    loop_timer_arm(l, &a, 10);
    loop_timer_arm(l, &b, 20);
    loop_timer_arm(l, &c, 30);
    loop_timer_cancel(l, &b);
    loop_timer_cancel(l, &b); /* twice: a no-op */
    ok(!loop_timer_is_armed(&b), "cancelled");
    loop_timer_arm(l, &a, 40); /* re-arm later */
    loop_timer_arm(l, &c, 5);  /* re-arm earlier */
    is_int(loop_timer_count(l), 2, "a re-arm does not add a timer");
    n_fired = 0;
    fake_now = 25;
    loop_run_once(l, 0);
    is_int(n_fired, 1, "only the re-armed-earlier one by 25");
    is_int(fired[0], 3, "c");
    fake_now = 100;
    loop_run_once(l, 0);
    is_int(n_fired, 2, "then a; b never");
    is_int(fired[1], 1, "a");
    loop_timer_arm_at(l, &b, 150);
    is_int(b.due_ms, 150, "armed at an absolute time");
    loop_timer_cancel(l, &b);
    is_int(loop_timer_count(l), 0, "cancelled at once");
    loop_free(l);
}

/* Callbacks that cancel another due timer, re-arm themselves at "now", and re-arm later. */
struct chain {
    struct loop_timer *victim;
    int self_rearms;
};

static void on_cancel_other(struct loop *l, struct loop_timer *t, void *ctx)
{
    (void)t;
    struct chain *ch = ctx;
    fired[n_fired++] = 100;
    loop_timer_cancel(l, ch->victim);
}

static void on_rearm_now(struct loop *l, struct loop_timer *t, void *ctx)
{
    struct chain *ch = ctx;
    fired[n_fired++] = 200;
    if (ch->self_rearms-- > 0)
        loop_timer_arm(l, t, 0); /* at "now": must wait for the next turn */
}

static void test_timer_callbacks(void)
{
    struct loop *l = loop_new();
    fake_now = 0;
    loop_set_clock(l, fake_clock, NULL);
    struct loop_timer killer, victim, spinner;
    struct chain ch = {.victim = &victim, .self_rearms = 3};
    loop_timer_init(&killer, on_cancel_other, &ch);
    loop_timer_init(&victim, on_record, (void *)7);
    loop_timer_init(&spinner, on_rearm_now, &ch);
    loop_timer_arm(l, &killer, 5);
    loop_timer_arm(l, &victim, 6); /* due in the same turn, after killer */
    loop_timer_arm(l, &spinner, 10);
    n_fired = 0;
    fake_now = 10;
    loop_run_once(l, 0);
    is_int(n_fired, 2, "killer and spinner fired, victim not");
    is_int(fired[0], 100, "killer first");
    is_int(fired[1], 200, "spinner once this turn");
    ok(!loop_timer_is_armed(&victim), "victim cancelled from inside a callback");
    ok(loop_timer_is_armed(&spinner), "spinner re-armed itself");
    loop_run_once(l, 0);
    is_int(n_fired, 2, "same ms: the re-armed timer waits for the clock to move");
    fake_now = 11;
    loop_run_once(l, 0);
    is_int(n_fired, 3, "one fire per turn");
    fake_now = 100;
    loop_run_once(l, 0);
    loop_run_once(l, 0);
    is_int(n_fired, 4, "a late turn fires it once, however late");
    fake_now = 101;
    loop_run_once(l, 0);
    is_int(n_fired, 5, "until it stops re-arming");
    ok(!loop_timer_is_armed(&spinner), "spinner done");
    loop_free(l);
}

/* A timer callback that removes a watch whose event is in the same batch is fine too, and a
 * watch handler may arm a timer due now: it fires in the same turn. */
static struct loop_timer arm_from_handler;
static void on_arm_timer(struct loop *l, uint32_t events, void *ctx)
{
    (void)events;
    (void)ctx;
    loop_timer_arm(l, &arm_from_handler, 0);
}

static void test_timer_from_handler(void)
{
    struct loop *l = loop_new();
    fake_now = 500;
    loop_set_clock(l, fake_clock, NULL);
    int fd = eventfd(1, EFD_NONBLOCK);
    struct loop_watch *w = loop_watch_add(l, fd, EPOLLIN, on_arm_timer, NULL);
    loop_timer_init(&arm_from_handler, on_record, (void *)9);
    n_fired = 0;
    loop_run_once(l, 0);
    is_int(n_fired, 1, "a timer armed by a handler for now fires in the same turn");
    loop_watch_remove(l, w);
    close(fd);
    loop_free(l);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t seen[4096];
static size_t n_seen;
static bool order_ok;
static void on_many(struct loop *l, struct loop_timer *t, void *ctx)
{
    (void)ctx;
    if (n_seen && seen[n_seen - 1] > t->due_ms)
        order_ok = false;
    if (t->due_ms > loop_now_ms(l))
        order_ok = false;
    seen[n_seen++] = t->due_ms;
}

static void test_many_timers(void)
{
    struct loop *l = loop_new();
    fake_now = 0;
    loop_set_clock(l, fake_clock, NULL);
    enum { N = 4000 };
    struct loop_timer *t = calloc(N, sizeof *t);
    uint64_t want[N];
    size_t n_want = 0;
    srand(42);
    for (int i = 0; i < N; i++) {
        loop_timer_init(&t[i], on_many, NULL);
        loop_timer_arm(l, &t[i], (uint64_t)(rand() % 100000));
    }
    /* cancel a third, re-arm a third */
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            loop_timer_cancel(l, &t[i]);
        else if (i % 3 == 1)
            loop_timer_arm(l, &t[i], (uint64_t)(rand() % 100000));
    }
    for (int i = 0; i < N; i++)
        if (loop_timer_is_armed(&t[i]))
            want[n_want++] = t[i].due_ms;
    is_int(loop_timer_count(l), n_want, "count after cancels");
    qsort(want, n_want, sizeof want[0], cmp_u64);
    n_seen = 0;
    order_ok = true;
    for (fake_now = 0; fake_now <= 100000; fake_now += 997)
        loop_run_once(l, 0);
    loop_run_once(l, 0);
    ok(order_ok, "fired in due order, none early");
    is_int(n_seen, n_want, "every armed timer fired once");
    ok(memcmp(seen, want, n_want * sizeof want[0]) == 0, "exactly the armed due times");
    is_int(loop_timer_count(l), 0, "heap empty");
    free(t);
    loop_free(l);
}

/* The wait ends at the next timer (real clock). */
static void test_wait_bounded_by_timer(void)
{
    struct loop *l = loop_new();
    struct loop_timer t;
    loop_timer_init(&t, on_record, (void *)5);
    loop_timer_arm(l, &t, 30);
    n_fired = 0;
    uint64_t t0 = loop_now_ms(l);
    for (int i = 0; i < 100 && !n_fired; i++)
        loop_run_once(l, -1); /* would block forever without the timer */
    is_int(n_fired, 1, "the timer ended the wait and fired");
    ok(loop_now_ms(l) >= t0 + 30, "not before its time");
    loop_free(l);
}

/* ---- wake ---- */

static int woken;
static void on_woken(struct loop *l, void *ctx)
{
    (void)l;
    woken += *(int *)ctx;
}

static void *waker(void *arg)
{
    struct loop *l = arg;
    ok(!loop_in_own_thread(l), "another thread is not the loop's");
    loop_wake(l);
    return NULL;
}

static void test_wake(void)
{
    struct loop *l = loop_new();
    int inc = 1;
    loop_set_wake(l, on_woken, &inc);
    ok(!loop_in_own_thread(l), "unbound: no thread is the loop's");
    loop_bind(l);
    ok(loop_in_own_thread(l), "bound to this thread");
    pthread_t th;
    pthread_create(&th, NULL, waker, l);
    for (int i = 0; i < 100 && !woken; i++)
        loop_run_once(l, 5000); /* returns when woken */
    pthread_join(th, NULL);
    is_int(woken, 1, "the wake callback ran");
    loop_wake(l);
    loop_wake(l);
    loop_run_once(l, 1000);
    is_int(woken, 2, "two wakes before a turn: one call");
    is_int(loop_run_once(l, 0), 0, "the eventfd was reset");
    loop_free(l);
}

int main(void)
{
    test_watch_pipe();
    test_remove_during_dispatch();
    test_remove_self();
    test_timer_order();
    test_timer_cancel_rearm();
    test_timer_callbacks();
    test_timer_from_handler();
    test_many_timers();
    test_wait_bounded_by_timer();
    test_wake();
    return done_testing();
}
