/*
 * test_upstream: the FastCGI pool's decisions with a fake clock (`now` is a plain variable),
 * requests and connections as bare embedded structs, engines as indexes.
 */
#include "upstream.h"

#include <string.h>

#include "tap.h"

static uint64_t now = 1000000;

static struct fcgi_site_conf conf_of(enum fcgi_lb lb, unsigned max_conns, unsigned keep_conns)
{
    struct fcgi_site_conf c;
    memset(&c, 0, sizeof c);
    c.lb = lb;
    c.max_conns = max_conns;
    c.keep_conns = keep_conns;
    c.queue_timeout_ms = 5000;
    return c;
}

/* Dispatch r from engine e; on UPSTREAM_OPEN the new connection is *c (now busy). Returns the
 * upstream's index, or -1 (the plan is in *pl). */
static int start(struct upstream *u, struct upstream_req *r, unsigned e, unsigned n_engines,
                 struct upstream_conn *c, enum upstream_plan *pl)
{
    struct upstream_choice ch;
    r->home = e;
    *pl = upstream_dispatch(u, r, e, n_engines, now, &ch);
    if (*pl == UPSTREAM_OPEN && c)
        upstream_conn_opened(ch.srv, c, e, now);
    return ch.srv && (*pl == UPSTREAM_OPEN || *pl == UPSTREAM_IDLE) ? (int)ch.srv->index : -1;
}

/* Plan only (nothing committed): the upstream's index, or -1. */
static int plan_index(struct upstream *u, const struct upstream_req *r, unsigned e,
                      unsigned n_engines, uint64_t *poke)
{
    struct upstream_choice ch;
    enum upstream_plan pl = upstream_plan(u, r, e, n_engines, now, &ch);
    if (poke)
        *poke = ch.poke;
    return pl == UPSTREAM_OPEN || pl == UPSTREAM_IDLE ? (int)ch.srv->index : -1;
}

static void test_round_robin(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 10, 4);
    struct upstream u;
    upstream_init(&u, &cf, 3);
    struct upstream_req r[8] = {0};
    enum upstream_plan pl;
    is_int(plan_index(&u, &r[0], 0, 1, NULL), 0, "round_robin: the first plan is upstream 0");
    is_int(plan_index(&u, &r[0], 0, 1, NULL), 0, "round_robin: planning alone does not advance");
    int got[4];
    for (int i = 0; i < 4; i++)
        got[i] = start(&u, &r[i], 0, 1, NULL, &pl);
    ok(got[0] == 0 && got[1] == 1 && got[2] == 2 && got[3] == 0,
       "round_robin: each commit moves to the next upstream (0 1 2 0)");
    is_int(u.srv[0].n_conns + u.srv[1].n_conns + u.srv[2].n_conns, 4,
           "round_robin: every OPEN counted one connection");
    is_int(r[3].attempts, 1, "a commit counts the request's attempt");
    upstream_dispose(&u);
}

static void test_random(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_RANDOM, 100, 4);
    struct upstream u, v;
    upstream_init(&u, &cf, 3);
    upstream_init(&v, &cf, 3);
    struct upstream_req r = {0};
    int seen[3] = {0}, same = 1;
    for (int i = 0; i < 60; i++) {
        int a = plan_index(&u, &r, 0, 2, NULL), b = plan_index(&v, &r, 0, 2, NULL);
        if (a >= 0)
            seen[a]++;
        same &= a == b;
    }
    ok(seen[0] && seen[1] && seen[2], "random: 60 plans reach every upstream");
    ok(seen[0] < 60 && seen[1] < 60 && seen[2] < 60, "random: not always the same one");
    ok(same, "random: reproducible from the engine's seed (no clock, no global state)");
    struct upstream w;
    upstream_dispose(&v);
    upstream_init(&v, &cf, 3);
    upstream_init(&w, &cf, 3);
    for (int i = 0; i < 10; i++)
        (void)plan_index(&v, &r, 0, 2, NULL); /* engine 0 plans on v only */
    int own = 1, differs = 0;
    for (int i = 0; i < 10; i++) {
        int a = plan_index(&v, &r, 1, 2, NULL), b = plan_index(&w, &r, 1, 2, NULL);
        own &= a == b;
        differs |= a != plan_index(&w, &r, 0, 2, NULL);
    }
    ok(own, "random: each engine has its own state (engine 0's plans do not move engine 1's)");
    ok(differs, "random: ... and its own sequence");
    upstream_dispose(&w);
    upstream_dispose(&u);
    upstream_dispose(&v);
}

static void test_ip_hash(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_IP_HASH, 10, 4);
    struct upstream u;
    upstream_init(&u, &cf, 3);
    struct upstream_req r = {.hash = 7}, s = {.hash = 7};
    enum upstream_plan pl;
    is_int(start(&u, &r, 0, 1, NULL, &pl), 1, "ip_hash: hash 7 of 3 upstreams is upstream 1");
    is_int(start(&u, &s, 0, 1, NULL, &pl), 1, "ip_hash: the same client gets the same upstream");
    upstream_mark_tried(&s, &u.srv[1]);
    is_int(plan_index(&u, &s, 0, 1, NULL), 2, "ip_hash: once it was tried, the next one");
    upstream_dispose(&u);
}

static void test_least_conn(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_LEAST_CONN, 10, 4);
    struct upstream u;
    upstream_init(&u, &cf, 3);
    struct upstream_req r[8] = {0};
    struct upstream_conn c[8];
    memset(c, 0, sizeof c);
    enum upstream_plan pl;
    is_int(start(&u, &r[0], 0, 1, &c[0], &pl), 0, "least_conn: all equal: the first");
    is_int(start(&u, &r[1], 0, 1, &c[1], &pl), 1, "least_conn: then one with fewer busy");
    is_int(start(&u, &r[2], 0, 1, &c[2], &pl), 2, "least_conn: then the last idle one");
    /* a second connection to upstream 2 (0 and 1 tried), then both of its connections idle */
    upstream_mark_tried(&r[3], &u.srv[0]);
    upstream_mark_tried(&r[3], &u.srv[1]);
    is_int(start(&u, &r[3], 0, 1, &c[3], &pl), 2, "least_conn: the untried one");
    ok(upstream_conn_done(&u, &c[2], true, now), "a finished connection is kept idle");
    ok(upstream_conn_done(&u, &c[3], true, now), "... two of them");
    ok(u.srv[2].n_busy == 0 && u.srv[2].n_conns == 2, "upstream 2: 2 open, none busy");
    is_int(start(&u, &r[4], 0, 1, &c[4], &pl), 2,
           "least_conn: by busy count (0 and 1 have 1 open, busy; 2 has 2 open, idle)");
    is_int(pl, UPSTREAM_IDLE, "... reusing its idle connection");
    is_int(start(&u, &r[5], 0, 1, &c[5], &pl), 0, "least_conn: ties go to the first in order");
    upstream_dispose(&u);
}

static void test_failover(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 10, 4);
    struct upstream u;
    upstream_init(&u, &cf, 3);
    struct upstream_req r = {0};
    upstream_mark_tried(&r, &u.srv[0]);
    ok(upstream_tried(&r, &u.srv[0]) && !upstream_tried(&r, &u.srv[1]), "tried mask per upstream");
    is_int(plan_index(&u, &r, 0, 1, NULL), 1, "failover: a tried upstream is skipped");
    ok(upstream_other_untried(&u, &r, &u.srv[1]), "another untried upstream exists (2)");
    upstream_mark_tried(&r, &u.srv[2]);
    ok(!upstream_other_untried(&u, &r, &u.srv[1]), "... none but the hung one is left");
    upstream_mark_tried(&r, &u.srv[1]);
    struct upstream_choice ch;
    is_int(upstream_plan(&u, &r, 0, 1, now, &ch), UPSTREAM_NONE, "every upstream tried: NONE");
    is_int(upstream_dispatch(&u, &r, 0, 1, now, &ch), UPSTREAM_NONE,
           "... and dispatch does not queue it");
    is_int(upstream_waiting(&u), 0, "... the queue stays empty");
    r.attempts = 4;
    ok(upstream_may_retry(&u, &r), "a retry is allowed below upstreams + 2 attempts");
    r.attempts = 5;
    ok(!upstream_may_retry(&u, &r), "... not at upstreams + 2");
    upstream_dispose(&u);
}

static void test_health(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 10, 4);
    struct upstream u;
    upstream_init(&u, &cf, 2);
    struct upstream_req r = {0};
    ok(upstream_mark_down(&u.srv[0], now), "marking an up upstream down begins a down period");
    ok(upstream_is_down(&u.srv[0], now), "marked down");
    ok(!upstream_mark_down(&u.srv[0], now), "marking it again while it is down: no new period");
    is_int(plan_index(&u, &r, 0, 1, NULL), 1, "pass 0: a down upstream is skipped");
    now += UPSTREAM_DOWN_MS - 1;
    is_int(plan_index(&u, &r, 0, 1, NULL), 1, "... until UPSTREAM_DOWN_MS have passed");
    now += 1;
    is_int(plan_index(&u, &r, 0, 1, NULL), 0, "after UPSTREAM_DOWN_MS it is used again");
    ok(upstream_mark_down(&u.srv[0], now), "once its period is over, marking it down begins a new one");
    upstream_mark_down(&u.srv[1], now);
    is_int(plan_index(&u, &r, 0, 1, NULL), 0, "pass 1: all down: a down one rather than none");
    upstream_mark_tried(&r, &u.srv[0]);
    is_int(plan_index(&u, &r, 0, 1, NULL), 1, "pass 1 skips tried ones too");
    upstream_mark_up(&u.srv[1]);
    struct upstream_req s = {0};
    is_int(plan_index(&u, &s, 0, 1, NULL), 1, "a connect that worked marks it up at once");
    upstream_dispose(&u);
}

static void test_share(void)
{
    /* max 5, 2 engines: each may open ceil(5/2) = 3 for its own requests */
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 5, 4);
    struct upstream u;
    upstream_init(&u, &cf, 1);
    struct upstream_req r[8] = {0};
    struct upstream_conn c[8];
    memset(c, 0, sizeof c);
    enum upstream_plan pl;
    int opened = 0;
    for (int i = 0; i < 3; i++)
        opened += start(&u, &r[i], 0, 2, &c[i], &pl) == 0 && pl == UPSTREAM_OPEN;
    is_int(opened, 3, "share: engine 0 opens 3 = ceil(5/2)");
    uint64_t poke = 0;
    is_int(plan_index(&u, &r[3], 0, 2, &poke), -1, "share: a 4th of engine 0 has no room");
    is_int(poke, 1u << 1, "... the poke mask names engine 1, which has room");
    opened = 0;
    for (int i = 3; i < 5; i++)
        opened += start(&u, &r[i], 1, 2, &c[i], &pl) == 0 && pl == UPSTREAM_OPEN;
    is_int(opened, 2, "engine 1 opens the 2 left of max_conns");
    is_int(plan_index(&u, &r[5], 1, 2, &poke), -1, "max_conns reached: no room for engine 1");
    is_int(poke, 0, "... and nobody to poke");
    is_int(u.srv[0].n_conns, 5, "5 connections open");
    ok(u.srv[0].n_conns_of[0] == 3 && u.srv[0].n_conns_of[1] == 2, "... 3 of engine 0, 2 of 1");
    /* an idle connection of its own is always room */
    ok(upstream_conn_done(&u, &c[0], true, now), "engine 0's connection goes idle");
    is_int(plan_index(&u, &r[5], 1, 2, &poke), -1, "engine 1 cannot use engine 0's idle one");
    is_int(poke, 1u << 0, "... but pokes engine 0, which can");
    struct upstream_choice ch;
    r[5].home = 1;
    is_int(upstream_dispatch(&u, &r[5], 0, 2, now, &ch), UPSTREAM_IDLE,
           "engine 0 at its share still reuses its idle connection");
    ok(ch.conn == &c[0], "... that very connection");
    upstream_conn_closed(&c[1]);
    is_int(u.srv[0].n_conns, 4, "a closed connection is uncounted");
    is_int(plan_index(&u, &r[6], 1, 2, NULL), 0, "... which makes room again");
    upstream_dispose(&u);
}

static void test_idle(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 10, 1);
    struct upstream u;
    upstream_init(&u, &cf, 1);
    struct upstream_req r[6] = {0};
    struct upstream_conn c[6];
    memset(c, 0, sizeof c);
    enum upstream_plan pl;
    start(&u, &r[0], 0, 1, &c[0], &pl);
    start(&u, &r[1], 0, 1, &c[1], &pl);
    now += 5;
    ok(upstream_conn_done(&u, &c[0], true, now), "keep: the first idle one (keep_conns 1)");
    is_int(c[0].since_ms, now, "... idle since now");
    ok(!upstream_conn_done(&u, &c[1], true, now), "keep_conns reached: the next is not kept");
    upstream_conn_closed(&c[1]);
    is_int(u.srv[0].n_conns, 1, "one connection left open");
    start(&u, &r[2], 0, 1, NULL, &pl);
    is_int(pl, UPSTREAM_IDLE, "the idle connection is preferred to a new one");
    is_int(u.srv[0].n_conns, 1, "... no new one counted");
    ok(u.srv[0].n_idle == 0 && u.srv[0].n_busy == 1, "... it is busy again");
    ok(!upstream_conn_done(&u, &c[0], false, now), "keep=false: closed");
    upstream_conn_closed(&c[0]);
    is_int(u.srv[0].n_conns, 0, "all closed");

    /* a sibling waiting UPSTREAM_STALL_MS for its first byte: do not pin another child */
    start(&u, &r[3], 0, 1, &c[3], &pl);
    start(&u, &r[4], 0, 1, &c[4], &pl);
    now += UPSTREAM_STALL_MS - 1;
    ok(!upstream_stalled(&u.srv[0], &c[3], now), "not stalled before UPSTREAM_STALL_MS");
    now += 1;
    ok(upstream_stalled(&u.srv[0], &c[3], now), "stalled at UPSTREAM_STALL_MS without an answer");
    ok(!upstream_conn_done(&u, &c[3], true, now), "... so a finished sibling is not kept");
    upstream_conn_closed(&c[3]);
    upstream_conn_answered(&c[4]);
    ok(!upstream_stalled(&u.srv[0], NULL, now), "an answered request is not stalled");
    ok(upstream_conn_done(&u, &c[4], true, now), "... and its connection is kept");

    /* give back a commit whose request went away */
    struct upstream_choice ch;
    r[5].home = 0;
    is_int(upstream_dispatch(&u, &r[5], 0, 1, now, &ch), UPSTREAM_IDLE, "commit the idle one");
    upstream_give_back(&u, ch.srv, 0, ch.conn);
    ok(u.srv[0].n_idle == 1 && u.srv[0].n_busy == 0 && u.srv[0].idle[0] == &c[4],
       "give back: idle again");
    struct upstream_req t = {0};
    is_int(upstream_dispatch(&u, &t, 0, 1, now, &ch), UPSTREAM_IDLE, "commit the idle one again");
    is_int(upstream_dispatch(&u, &t, 0, 1, now, &ch), UPSTREAM_OPEN, "then a new one");
    upstream_give_back(&u, ch.srv, 0, NULL);
    is_int(u.srv[0].n_conns, 1, "give back a new one: uncounted");
    upstream_dispose(&u);
}

static void test_queue(void)
{
    /* one upstream, max 2, two engines (1 each) */
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 2, 2);
    struct upstream u;
    upstream_init(&u, &cf, 1);
    struct upstream_req busy[2] = {0}, a = {0}, b = {0}, x = {0};
    struct upstream_conn c[2];
    memset(c, 0, sizeof c);
    enum upstream_plan pl;
    start(&u, &busy[0], 0, 2, &c[0], &pl);
    start(&u, &busy[1], 1, 2, &c[1], &pl);
    struct upstream_choice ch;
    a.home = b.home = 0;
    x.home = 1;
    is_int(upstream_dispatch(&u, &a, 0, 2, now, &ch), UPSTREAM_QUEUED, "no room: queued");
    ok(a.queued && a.deadline_ms == now + cf.queue_timeout_ms, "... until queue_timeout");
    now += 1;
    is_int(upstream_dispatch(&u, &b, 0, 2, now, &ch), UPSTREAM_QUEUED, "a second one queued");
    now += 1;
    is_int(upstream_dispatch(&u, &x, 1, 2, now, &ch), UPSTREAM_QUEUED, "engine 1's queued");
    is_int(upstream_waiting(&u), 3, "3 waiting");
    ok(upstream_next(&u, 0, 2) == &a, "FIFO: engine 0 serves its oldest first");
    ok(upstream_next(&u, 1, 2) == &x, "engine 1 serves its own (a waited only 2 ms longer)");
    is_int(upstream_serve(&u, &a, 0, 2, now, &ch), UPSTREAM_WAIT, "still no room: it waits");
    ok(a.queued && upstream_waiting(&u) == 3, "... and stays queued");
    ok(upstream_conn_done(&u, &c[0], true, now), "engine 0's connection comes free");
    is_int(upstream_serve(&u, &a, 0, 2, now, &ch), UPSTREAM_IDLE, "now it is served, idle");
    ok(!a.queued && ch.conn == &c[0], "... out of the queue, on that connection");
    ok(upstream_next(&u, 0, 2) == &b, "FIFO: then the next of engine 0");
    ok(!upstream_unqueue(&u, &a), "unqueue of one no longer queued: false");
    ok(upstream_unqueue(&u, &b) && upstream_waiting(&u) == 1, "an aborted one is unqueued");
    ok(upstream_next(&u, 0, 2) == &x, "engine 0 with none of its own takes engine 1's");
    upstream_dispose(&u);
}

static void test_steal(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 1, 1);
    struct upstream u;
    upstream_init(&u, &cf, 1);
    struct upstream_req busy = {0}, theirs = {0}, mine = {0}, mine2 = {0};
    struct upstream_conn c;
    memset(&c, 0, sizeof c);
    enum upstream_plan pl;
    struct upstream_choice ch;
    start(&u, &busy, 0, 2, &c, &pl);
    theirs.home = 1;
    mine.home = mine2.home = 0;
    upstream_dispatch(&u, &theirs, 1, 2, now, &ch);
    now += UPSTREAM_STEAL_MS;
    upstream_dispatch(&u, &mine, 0, 2, now, &ch);
    ok(upstream_next(&u, 0, 2) == &mine, "another's waited UPSTREAM_STEAL_MS longer: ours first");
    upstream_unqueue(&u, &mine);
    now += 1;
    upstream_dispatch(&u, &mine2, 0, 2, now, &ch);
    ok(upstream_next(&u, 0, 2) == &theirs,
       "another's waited more than UPSTREAM_STEAL_MS longer: it is stolen");
    ok(upstream_next(&u, 1, 2) == &theirs, "its home serves it too");
    upstream_dispose(&u);
}

static void test_full_and_expiry(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 1, 1);
    struct upstream u;
    upstream_init(&u, &cf, 1);
    static struct upstream_req r[UPSTREAM_QUEUE_MAX + 2];
    struct upstream_conn c;
    memset(&c, 0, sizeof c);
    enum upstream_plan pl;
    struct upstream_choice ch;
    start(&u, &r[0], 0, 1, &c, &pl);
    uint64_t t0 = now;
    unsigned queued = 0;
    for (unsigned i = 1; i <= UPSTREAM_QUEUE_MAX; i++)
        queued += upstream_dispatch(&u, &r[i], 0, 1, now + (i == 2), &ch) == UPSTREAM_QUEUED;
    is_int(queued, UPSTREAM_QUEUE_MAX, "UPSTREAM_QUEUE_MAX requests queue");
    is_int(upstream_dispatch(&u, &r[UPSTREAM_QUEUE_MAX + 1], 0, 1, now, &ch), UPSTREAM_FULL,
           "one more: the queue is full (overload)");
    ok(!r[UPSTREAM_QUEUE_MAX + 1].queued, "... and it is not queued");

    uint64_t next = 0;
    now = t0 + cf.queue_timeout_ms - 1;
    ok(upstream_expire(&u, 0, now, &next) == NULL, "before queue_timeout: nothing expires");
    is_int(next, t0 + cf.queue_timeout_ms, "... the next deadline is the head's");
    now += 1;
    next = 0;
    ok(upstream_expire(&u, 0, now, &next) == &r[1], "at queue_timeout the head expires");
    ok(upstream_expire(&u, 0, now, &next) == NULL, "the next (queued 1 ms later) not yet");
    is_int(next, t0 + 1 + cf.queue_timeout_ms, "... its deadline is next");
    is_int(upstream_waiting(&u), UPSTREAM_QUEUE_MAX - 1, "one left the queue");
    is_int(upstream_dispatch(&u, &r[UPSTREAM_QUEUE_MAX + 1], 0, 1, now, &ch), UPSTREAM_QUEUED,
           "below the maximum again: queued");
    unsigned popped = 0;
    while (upstream_pop(&u, 0))
        popped++;
    is_int(popped, UPSTREAM_QUEUE_MAX, "pop empties the queue (shutdown)");
    is_int(upstream_waiting(&u), 0, "nothing waits");
    upstream_dispose(&u);
}

static void test_fit(void)
{
    struct fcgi_site_conf cf = conf_of(FCGI_LB_ROUND_ROBIN, 8, 8);
    struct upstream u;
    upstream_init(&u, &cf, 1);
    struct upstream_req r[10] = {0};
    struct upstream_conn c[10];
    memset(c, 0, sizeof c);
    enum upstream_plan pl;
    for (int i = 0; i < 6; i++)
        start(&u, &r[i], 0, 1, &c[i], &pl);
    is_int(upstream_bound(&u, &u.srv[0]), 8, "no fit: the bound is max_conns");
    ok(upstream_fit(&u.srv[0], 2, now), "2 of 6 wait in the listen queue: first fit");
    is_int(u.srv[0].fit, 4, "... fitted to the 4 php-fpm took");
    is_int(upstream_bound(&u, &u.srv[0]), 4, "fit lowers the bound below max_conns");
    is_int(plan_index(&u, &r[6], 0, 1, NULL), -1, "6 open, bound 4: no room");
    ok(!upstream_fit(&u.srv[0], 1, now), "a later fit is not the first");
    is_int(u.srv[0].fit, 4, "... and never raises it (5 took)");
    ok(!upstream_fit(&u.srv[0], 6, now), "all waiting: fit at least 1");
    is_int(u.srv[0].fit, 1, "... 1");
    now += 999;
    upstream_regrow(&u, now);
    is_int(u.srv[0].fit, 1, "no regrowth within a second");
    now += 1;
    upstream_regrow(&u, now);
    is_int(u.srv[0].fit, 2, "it grows back by one a second");
    u.srv[0].fit = 7;
    now += 1000;
    upstream_regrow(&u, now);
    is_int(u.srv[0].fit, 0, "at max_conns the fit is gone");
    for (int i = 0; i < 4; i++)
        upstream_conn_closed(&c[i]);
    upstream_fit(&u.srv[0], 1, now);
    is_int(plan_index(&u, &r[6], 0, 1, NULL), -1, "2 open, fitted to 1: no room");
    upstream_dispose(&u);
}

int main(void)
{
    test_round_robin();
    test_random();
    test_ip_hash();
    test_least_conn();
    test_failover();
    test_health();
    test_share();
    test_idle();
    test_queue();
    test_steal();
    test_full_and_expiry();
    test_fit();
    return done_testing();
}
