/*
 * accept_share: which worker threads take new connections. Fill first: worker 0 always
 * accepts, and worker i only while every worker before it is busy, so light traffic and a
 * burst that arrives at an idle server stay on one thread (no wake-ups or cache misses on the
 * others, and no thread of ours left sharing a CPU with someone else's busy one), while a
 * saturated worker spills new connections to the next. Used with [server] worker_accept = fill
 * (auto: with 2 workers or fewer). Pure: worker.c publishes each worker's facts and applies the
 * answer (docs/architecture.md, "Accepting").
 */
#ifndef WHARF_ACCEPT_SHARE_H
#define WHARF_ACCEPT_SHARE_H

#include <stdbool.h>
#include <stdint.h>

/* A wait of the loop this long or longer means the worker had time to spare. */
#define ACCEPT_SHARE_IDLE_GAP_MS 3
/* A worker that has not had such a wait for this long is busy (saturated, or in a long turn). */
#define ACCEPT_SHARE_BUSY_MS 50

/* What one worker publishes (each field read on its own; a decision may see them mixed). */
struct accept_share_view {
    uint64_t waiting_since; /* when its loop's current wait began; 0: not waiting */
    uint64_t idle_ms;       /* when it last ended a wait of ACCEPT_SHARE_IDLE_GAP_MS or more */
    bool near_limit;        /* one of its listeners holds 7/8 of its connection limit or more */
};

/** A worker is busy: near a connection limit, or neither in a wait that has lasted
 *  ACCEPT_SHARE_IDLE_GAP_MS nor done with one in the last ACCEPT_SHARE_BUSY_MS. (A wait that
 *  has just begun does not count: a saturated loop waits too, briefly, between its turns.) */
bool accept_share_busy(const struct accept_share_view *v, uint64_t now_ms);
/** Should worker `self` accept? Yes for worker 0, else when every worker before it is busy
 *  (views holds at least `self` entries). */
bool accept_share_accepts(const struct accept_share_view *views, unsigned self, uint64_t now_ms);
/** Near the limit: conns at least 7/8 of limit (limit 0: no limit known, never). */
bool accept_share_near_limit(unsigned conns, unsigned limit);

#endif
