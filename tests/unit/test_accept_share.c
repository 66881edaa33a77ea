/* accept_share: fill first, spill to the next worker only when every one before it is busy. */
#include "accept_share.h"
#include "tap.h"

/* a worker that has been idle: in a wait since `since` */
static struct accept_share_view asleep(uint64_t since)
{
    return (struct accept_share_view){.waiting_since = since, .idle_ms = since, .near_limit = false};
}

/* a worker in a turn, whose last long wait ended at idle_ms */
static struct accept_share_view running(uint64_t idle_ms)
{
    return (struct accept_share_view){.waiting_since = 0, .idle_ms = idle_ms, .near_limit = false};
}

int main(void)
{
    uint64_t now = 100000;
    struct accept_share_view v[3];

    /* busy */
    v[0] = asleep(now - 5000);
    ok(!accept_share_busy(&v[0], now), "asleep for 5 s: not busy");
    v[0] = running(now - 1);
    ok(!accept_share_busy(&v[0], now), "running, idle 1 ms ago: not busy");
    v[0] = running(now - ACCEPT_SHARE_BUSY_MS + 1);
    ok(!accept_share_busy(&v[0], now), "running, idle just under BUSY_MS ago: not busy");
    v[0] = running(now - ACCEPT_SHARE_BUSY_MS);
    ok(accept_share_busy(&v[0], now), "running, no long wait for BUSY_MS: busy (saturated or stuck)");
    v[0] = running(now - 60000);
    ok(accept_share_busy(&v[0], now), "in one turn for a minute: busy");
    /* a saturated loop waits too, briefly: a wait that has just begun does not make it idle */
    v[0] = (struct accept_share_view){.waiting_since = now - 1, .idle_ms = now - 500};
    ok(accept_share_busy(&v[0], now), "a wait of 1 ms after 500 ms without a long one: still busy");
    v[0] = (struct accept_share_view){.waiting_since = now - ACCEPT_SHARE_IDLE_GAP_MS,
                                      .idle_ms = now - 500};
    ok(!accept_share_busy(&v[0], now), "a wait that has lasted IDLE_GAP_MS: not busy");
    v[0] = asleep(now - 5000);
    v[0].near_limit = true;
    ok(accept_share_busy(&v[0], now), "near its connection limit: busy, even asleep");
    /* the other thread's clock may be a millisecond ahead of the reader's */
    v[0] = running(now + 1);
    ok(!accept_share_busy(&v[0], now), "idle time a little ahead of now: not busy");

    /* who accepts */
    ok(accept_share_accepts(v, 0, now), "worker 0 always accepts");
    v[0] = asleep(now - 5000);
    ok(!accept_share_accepts(v, 1, now), "worker 1 waits while worker 0 is idle");
    v[0] = running(now - 1);
    ok(!accept_share_accepts(v, 1, now), "... and while worker 0 has spare time");
    v[0] = running(now - 200);
    ok(accept_share_accepts(v, 1, now), "worker 1 accepts once worker 0 is busy");
    v[1] = asleep(now - 5000);
    ok(!accept_share_accepts(v, 2, now), "worker 2 waits while worker 1 is idle");
    v[1] = running(now - 200);
    ok(accept_share_accepts(v, 2, now), "worker 2 accepts when workers 0 and 1 are busy");
    v[0] = asleep(now - 5000);
    ok(!accept_share_accepts(v, 2, now), "... not when worker 0 is idle again");
    v[0].near_limit = true;
    ok(accept_share_accepts(v, 2, now), "a worker near its limit counts as busy");

    /* near the limit */
    ok(!accept_share_near_limit(6, 8), "6 of 8: not near");
    ok(accept_share_near_limit(7, 8), "7 of 8: near (7/8)");
    ok(accept_share_near_limit(4375, 5000), "4375 of 5000: near");
    ok(!accept_share_near_limit(4374, 5000), "4374 of 5000: not near");
    ok(accept_share_near_limit(1, 1), "1 of 1: near");
    ok(!accept_share_near_limit(0, 1), "0 of 1: not near");
    ok(!accept_share_near_limit(100, 0), "no limit known: never near");
    return done_testing();
}
