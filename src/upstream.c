/*
 * upstream: see include/upstream.h. Every function runs under the caller's lock unless the
 * header says otherwise; nothing here blocks, reads a clock or allocates after init.
 */
#include "upstream.h"

#include <stdlib.h>

#include "util.h"

void upstream_init(struct upstream *u, const struct fcgi_site_conf *conf, size_t n)
{
    *u = (struct upstream){.conf = conf, .n_srv = n};
    u->srv = xcalloc(n ? n : 1, sizeof *u->srv);
    for (size_t i = 0; i < n; i++)
        u->srv[i].index = (unsigned)i;
    for (unsigned i = 0; i < UPSTREAM_MAX_ENGINES; i++)
        u->rand_state[i] = 2463534242u + 7919u * i;
}

void upstream_dispose(struct upstream *u)
{
    free(u->srv);
    u->srv = NULL;
    u->n_srv = 0;
}

/* ---- health and failover ------------------------------------------------------------------- */

bool upstream_mark_down(struct upstream_server *s, uint64_t now)
{
    return atomic_exchange(&s->down_until_ms, now + UPSTREAM_DOWN_MS) <= now;
}

void upstream_mark_up(struct upstream_server *s)
{
    atomic_store(&s->down_until_ms, 0);
}

bool upstream_is_down(const struct upstream_server *s, uint64_t now)
{
    return atomic_load_explicit(&s->down_until_ms, memory_order_relaxed) > now;
}

void upstream_mark_tried(struct upstream_req *r, const struct upstream_server *s)
{
    if (s->index < UPSTREAM_MAX_TRIED)
        r->tried |= 1u << s->index;
}

bool upstream_tried(const struct upstream_req *r, const struct upstream_server *s)
{
    return s->index < UPSTREAM_MAX_TRIED && (r->tried & (1u << s->index));
}

bool upstream_other_untried(const struct upstream *u, const struct upstream_req *r,
                            const struct upstream_server *except)
{
    for (size_t i = 0; i < u->n_srv; i++)
        if (&u->srv[i] != except && !upstream_tried(r, &u->srv[i]))
            return true;
    return false;
}

bool upstream_may_retry(const struct upstream *u, const struct upstream_req *r)
{
    return r->attempts < u->n_srv + 2;
}

/* ---- connections --------------------------------------------------------------------------- */

static void busy_link(struct upstream_server *s, struct upstream_conn *c)
{
    c->busy_prev = NULL;
    c->busy_next = s->busy;
    if (s->busy)
        s->busy->busy_prev = c;
    s->busy = c;
    s->n_busy++;
    c->where = UPSTREAM_CONN_BUSY;
}

static void busy_unlink(struct upstream_server *s, struct upstream_conn *c)
{
    if (c->busy_prev)
        c->busy_prev->busy_next = c->busy_next;
    else
        s->busy = c->busy_next;
    if (c->busy_next)
        c->busy_next->busy_prev = c->busy_prev;
    c->busy_prev = c->busy_next = NULL;
    s->n_busy--;
    c->where = UPSTREAM_CONN_OUT;
}

static void idle_push(struct upstream_server *s, struct upstream_conn *c)
{
    c->next_idle = s->idle[c->engine];
    s->idle[c->engine] = c;
    s->n_idle++;
    c->where = UPSTREAM_CONN_IDLE;
}

static void idle_unlink(struct upstream_server *s, struct upstream_conn *c)
{
    struct upstream_conn **pp = &s->idle[c->engine];
    while (*pp && *pp != c)
        pp = &(*pp)->next_idle;
    if (*pp) {
        *pp = c->next_idle;
        s->n_idle--;
    }
    c->next_idle = NULL;
    c->where = UPSTREAM_CONN_OUT;
}

void upstream_conn_opened(struct upstream_server *s, struct upstream_conn *c, unsigned engine,
                          uint64_t now)
{
    c->srv = s;
    c->engine = engine;
    c->since_ms = now;
    atomic_store_explicit(&c->answered, false, memory_order_relaxed);
    busy_link(s, c);
}

void upstream_conn_answered(struct upstream_conn *c)
{
    atomic_store_explicit(&c->answered, true, memory_order_relaxed);
}

bool upstream_stalled(const struct upstream_server *s, const struct upstream_conn *except,
                      uint64_t now)
{
    if (!s->n_busy)
        return false;
    for (const struct upstream_conn *o = s->busy; o; o = o->busy_next)
        if (o != except && !atomic_load_explicit(&o->answered, memory_order_relaxed) &&
            now - o->since_ms >= UPSTREAM_STALL_MS)
            return true;
    return false;
}

bool upstream_conn_done(struct upstream *u, struct upstream_conn *c, bool keep, uint64_t now)
{
    struct upstream_server *s = c->srv;
    if (c->where == UPSTREAM_CONN_BUSY)
        busy_unlink(s, c);
    /* note: a kept connection pins its php-fpm child. So at most fastcgi_keep_conns are kept
     * idle (fastcgi_max_conns bounds requests in flight, not children pinned between
     * requests), and none while a sibling waits for its first byte: it may sit in php-fpm's
     * listen queue behind exactly this child (more connections than pm.max_children). */
    if (!keep || s->n_idle >= u->conf->keep_conns || upstream_stalled(s, c, now))
        return false;
    c->since_ms = now;
    idle_push(s, c);
    return true;
}

void upstream_conn_closed(struct upstream_conn *c)
{
    struct upstream_server *s = c->srv;
    if (c->where == UPSTREAM_CONN_IDLE)
        idle_unlink(s, c);
    else if (c->where == UPSTREAM_CONN_BUSY)
        busy_unlink(s, c);
    s->n_conns--;
    s->n_conns_of[c->engine]--;
}

/* ---- fitting to php-fpm ---------------------------------------------------------------------- */

unsigned upstream_bound(const struct upstream *u, const struct upstream_server *s)
{
    unsigned max = u->conf->max_conns;
    return s->fit && s->fit < max ? s->fit : max;
}

bool upstream_fit(struct upstream_server *s, unsigned waiting, uint64_t now)
{
    unsigned took = s->n_conns > waiting ? s->n_conns - waiting : 1;
    bool first = !s->fit;
    if (!s->fit || took < s->fit)
        s->fit = took;
    s->fit_ms = now;
    return first;
}

void upstream_regrow(struct upstream *u, uint64_t now)
{
    for (size_t i = 0; i < u->n_srv; i++) {
        struct upstream_server *s = &u->srv[i];
        if (s->fit && now - s->fit_ms >= 1000) {
            s->fit = s->fit + 1 >= u->conf->max_conns ? 0 : s->fit + 1;
            s->fit_ms = now;
        }
    }
}

/* ---- balancing ------------------------------------------------------------------------------- */

/* Can engine i start a request on s now? Up to the bound in all, and of it an even share per
 * engine for its own requests, so each worker mostly serves its own clients (beyond it,
 * engines serve each other's queues). An idle connection of i's own always does. */
static bool has_room(const struct upstream *u, const struct upstream_server *s, unsigned i,
                     unsigned n_engines)
{
    unsigned max = upstream_bound(u, s), n = n_engines ? n_engines : 1;
    return s->idle[i] || (s->n_conns < max && s->n_conns_of[i] < (max + n - 1) / n);
}

static uint32_t xorshift(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

enum upstream_plan upstream_plan(struct upstream *u, const struct upstream_req *r, unsigned engine,
                                 unsigned n_engines, uint64_t now, struct upstream_choice *ch)
{
    size_t n = u->n_srv, start = 0;
    bool any_left = false;
    ch->srv = NULL;
    ch->conn = NULL;
    ch->poke = 0;
    switch (u->conf->lb) {
    case FCGI_LB_ROUND_ROBIN:
        start = u->rr % n;
        break;
    case FCGI_LB_RANDOM:
        start = xorshift(&u->rand_state[engine]) % n;
        break;
    case FCGI_LB_IP_HASH:
        start = r->hash % n;
        break;
    case FCGI_LB_LEAST_CONN:
        start = 0;
        break;
    }
    for (int pass = 0; pass < 2; pass++) { /* pass 0: healthy only; pass 1: down ones too */
        struct upstream_server *best = NULL;
        for (size_t k = 0; k < n; k++) {
            struct upstream_server *s = &u->srv[(start + k) % n];
            if (upstream_tried(r, s))
                continue;
            any_left = true;
            if (pass == 0 && upstream_is_down(s, now))
                continue;
            if (!has_room(u, s, engine, n_engines)) {
                for (unsigned i = 0; i < n_engines; i++) /* who could take it instead */
                    if (i != engine && has_room(u, s, i, n_engines))
                        ch->poke |= 1ull << i;
                continue;
            }
            if (u->conf->lb != FCGI_LB_LEAST_CONN) {
                ch->srv = s;
                return s->idle[engine] ? UPSTREAM_IDLE : UPSTREAM_OPEN;
            }
            if (!best || s->n_busy < best->n_busy)
                best = s;
        }
        if (best) {
            ch->srv = best;
            return best->idle[engine] ? UPSTREAM_IDLE : UPSTREAM_OPEN;
        }
    }
    return any_left ? UPSTREAM_WAIT : UPSTREAM_NONE;
}

struct upstream_conn *upstream_commit(struct upstream *u, struct upstream_server *s,
                                      struct upstream_req *r, unsigned engine, uint64_t now)
{
    if (u->conf->lb == FCGI_LB_ROUND_ROBIN)
        u->rr++;
    r->attempts++;
    struct upstream_conn *c = s->idle[engine];
    if (c) {
        s->idle[engine] = c->next_idle;
        c->next_idle = NULL;
        s->n_idle--;
        c->since_ms = now;
        atomic_store_explicit(&c->answered, false, memory_order_relaxed);
        busy_link(s, c);
        return c;
    }
    s->n_conns++;
    s->n_conns_of[engine]++;
    return NULL;
}

void upstream_give_back(struct upstream *u, struct upstream_server *s, unsigned engine,
                        struct upstream_conn *conn)
{
    (void)u;
    if (conn) {
        busy_unlink(s, conn);
        idle_push(s, conn);
    } else {
        s->n_conns--;
        s->n_conns_of[engine]--;
    }
}

/* ---- wait queues ----------------------------------------------------------------------------- */

static void enqueue(struct upstream *u, struct upstream_req *r, uint64_t now)
{
    r->queued_ms = now;
    r->deadline_ms = now + u->conf->queue_timeout_ms;
    r->q_next = NULL;
    r->queued = true;
    unsigned h = r->home;
    if (u->queue[h].tail)
        u->queue[h].tail->q_next = r;
    else
        u->queue[h].head = r;
    u->queue[h].tail = r;
    u->q_len++;
}

enum upstream_plan upstream_dispatch(struct upstream *u, struct upstream_req *r, unsigned engine,
                                     unsigned n_engines, uint64_t now, struct upstream_choice *ch)
{
    enum upstream_plan pl = upstream_plan(u, r, engine, n_engines, now, ch);
    if (pl == UPSTREAM_IDLE || pl == UPSTREAM_OPEN) {
        ch->conn = upstream_commit(u, ch->srv, r, engine, now);
        return pl;
    }
    if (pl != UPSTREAM_WAIT)
        return pl;
    if (u->q_len >= UPSTREAM_QUEUE_MAX)
        return UPSTREAM_FULL;
    enqueue(u, r, now);
    return UPSTREAM_QUEUED;
}

bool upstream_unqueue(struct upstream *u, struct upstream_req *r)
{
    unsigned h = r->home;
    struct upstream_req **pp = &u->queue[h].head, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->q_next;
    }
    if (!*pp)
        return false;
    *pp = r->q_next;
    if (u->queue[h].tail == r)
        u->queue[h].tail = prev;
    u->q_len--;
    r->q_next = NULL;
    r->queued = false;
    return true;
}

struct upstream_req *upstream_next(const struct upstream *u, unsigned engine, unsigned n_engines)
{
    struct upstream_req *own = u->queue[engine].head, *other = NULL;
    for (unsigned i = 0; i < n_engines; i++) {
        struct upstream_req *h = u->queue[i].head;
        if (i != engine && h && (!other || h->queued_ms < other->queued_ms))
            other = h;
    }
    if (own && (!other || other->queued_ms + UPSTREAM_STEAL_MS >= own->queued_ms))
        return own;
    return other;
}

enum upstream_plan upstream_serve(struct upstream *u, struct upstream_req *r, unsigned engine,
                                  unsigned n_engines, uint64_t now, struct upstream_choice *ch)
{
    enum upstream_plan pl = upstream_plan(u, r, engine, n_engines, now, ch);
    if (pl == UPSTREAM_WAIT)
        return pl;
    upstream_unqueue(u, r);
    if (pl != UPSTREAM_NONE)
        ch->conn = upstream_commit(u, ch->srv, r, engine, now);
    return pl;
}

struct upstream_req *upstream_expire(struct upstream *u, unsigned home, uint64_t now,
                                     uint64_t *next)
{
    struct upstream_req *r = u->queue[home].head;
    if (r && r->deadline_ms <= now) {
        upstream_unqueue(u, r);
        return r;
    }
    if (r && (!*next || r->deadline_ms < *next))
        *next = r->deadline_ms;
    return NULL;
}

struct upstream_req *upstream_pop(struct upstream *u, unsigned home)
{
    struct upstream_req *r = u->queue[home].head;
    if (r)
        upstream_unqueue(u, r);
    return r;
}

size_t upstream_waiting(struct upstream *u)
{
    return atomic_load_explicit(&u->q_len, memory_order_relaxed);
}
