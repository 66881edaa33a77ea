/*
 * loop: one thread's event loop (lighttpd's fdevent, redis's ae, h2o's explicit context).
 *
 * A loop holds an epoll set, the watches in it (an fd, the events wanted, a handler and its
 * context), its timers (a binary heap ordered by due time in ms: arm, re-arm and cancel are
 * O(log n)), and an eventfd that any thread may write to wake it (loop_wake). The loop is
 * passed explicitly to whoever needs it; nothing finds it through a thread-local.
 *
 * One turn (loop_run_once): wait (bounded by the nearest timer and the caller's limit), read
 * the clock once (loop_now_ms), call the handlers of the ready watches, free the watches they
 * removed, then fire the timers that are due, oldest due first.
 *
 * Notes:
 * - A watch removed during a turn (by any handler or timer) gets no more events, even one the
 *   kernel already returned in the same batch: it is only freed when the batch is over.
 * - A timer fires at most once per turn: one armed from a timer callback for now or earlier
 *   fires in the next turn (at least 1 ms later), so a callback that re-arms itself at "now"
 *   cannot spin the loop.
 * - Everything but loop_wake and loop_in_own_thread belongs to the loop's thread.
 */
#ifndef WHARF_LOOP_H
#define WHARF_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_watch;
struct loop_timer;

/** A watched fd is ready: events are epoll's (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR...). */
typedef void (*loop_watch_cb)(struct loop *l, uint32_t events, void *ctx);
/** A timer is due (it is disarmed when called; it may re-arm itself). */
typedef void (*loop_timer_cb)(struct loop *l, struct loop_timer *t, void *ctx);
/** Someone called loop_wake (several wakes before the loop ran may give one call). */
typedef void (*loop_wake_cb)(struct loop *l, void *ctx);
/** The loop's clock, for tests (the default is util's clock_ms, CLOCK_MONOTONIC). */
typedef uint64_t (*loop_clock_cb)(void *ctx);

/* A timer lives in its owner's memory (no allocation); the fields are the loop's. */
struct loop_timer {
    uint64_t due_ms;
    size_t slot; /* index in the heap; LOOP_TIMER_IDLE when not armed */
    loop_timer_cb cb;
    void *ctx;
};
#define LOOP_TIMER_IDLE ((size_t)-1)

/** A loop with its epoll set and wake eventfd; NULL (errno set) on failure. */
struct loop *loop_new(void);
/** Free l (its watches too; the fds stay open: they are their owners'; armed timers are
 *  forgotten, not touched). NULL is a no-op. */
void loop_free(struct loop *l);
/** Use clock(ctx) for the loop's time from now on (tests inject a fake clock). */
void loop_set_clock(struct loop *l, loop_clock_cb clock, void *ctx);

/** The time of the current turn (ms), read once after the wait. */
uint64_t loop_now_ms(const struct loop *l);
/** Read the clock again (after a long step inside a turn, or outside any turn). */
void loop_update_time(struct loop *l);

/** Watch fd for events (EPOLL* bits); handler(l, events, ctx) when ready. NULL on failure. */
struct loop_watch *loop_watch_add(struct loop *l, int fd, uint32_t events, loop_watch_cb handler,
                                  void *ctx);
/** Change the events watched (no system call when they are the same). 0 or -1. */
int loop_watch_modify(struct loop *l, struct loop_watch *w, uint32_t events);
/** The events w watches now. */
uint32_t loop_watch_events(const struct loop_watch *w);
/** Stop watching (before the fd is closed). Safe from any handler or timer of this loop, even
 *  for a watch with an event pending in the current batch. w may be NULL. */
void loop_watch_remove(struct loop *l, struct loop_watch *w);

/** Set up t (not armed) to call cb(l, t, ctx). */
void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *ctx);
/** Arm (or re-arm) t for the loop time due_ms. */
void loop_timer_arm_at(struct loop *l, struct loop_timer *t, uint64_t due_ms);
/** Arm (or re-arm) t for after_ms after the current turn's time. */
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t after_ms);
/** Disarm t (no-op when not armed). Safe from any callback, t's own included. */
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
/** Whether t is armed. */
bool loop_timer_is_armed(const struct loop_timer *t);
/** Armed timers. */
size_t loop_timer_count(const struct loop *l);

/** Call cb(l, ctx) in l's thread after loop_wake. */
void loop_set_wake(struct loop *l, loop_wake_cb cb, void *ctx);
/** Wake l from any thread (its wait returns). */
void loop_wake(struct loop *l);
/** The calling thread is l's own (the one that called loop_bind). Any thread. */
bool loop_in_own_thread(const struct loop *l);
/** The calling thread runs l from now on. */
void loop_bind(struct loop *l);

/** One turn: wait at most max_wait_ms (-1: until an event or a timer), dispatch, fire timers.
 *  Returns the number of fd events fetched, or -1 when the wait failed (not EINTR). */
int loop_run_once(struct loop *l, int max_wait_ms);

#endif
