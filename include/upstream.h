/*
 * upstream: the bookkeeping of one FastCGI site's upstreams, shared by every worker's engine.
 * It owns, per upstream, the connections open (in all, per engine, busy, idle per engine), the
 * bound on them (fastcgi_max_conns, an even share of it per engine, the fit to what php-fpm
 * was seen to take), passive health (mark-down for UPSTREAM_DOWN_MS), balancing
 * (round_robin, random, ip_hash, least_conn), failover (the upstreams a request tried) and
 * the wait queues (a FIFO per home engine; an engine serves another's oldest request once it
 * waited UPSTREAM_STEAL_MS longer than its own oldest).
 *
 * Pure: no I/O, no clock (a call that needs the time takes `now`, in ms), no locks, no
 * allocation after upstream_init. Lock rule: the caller holds the lock that guards the
 * struct upstream (fcgi_pool's pool lock) around every call, except the functions marked
 * "any thread, no lock" (atomics: passive health, a connection's answer flag, the queue
 * length hint) and the failover ones, which touch only the request.
 *
 * Requests and connections are opaque: each embeds a struct upstream_req or upstream_conn that
 * this module links into its queues, idle stacks and busy lists; the owner gets its struct
 * back with container_of. Engines are indexes (< UPSTREAM_MAX_ENGINES); upstreams are the
 * site's `fastcgi` addresses in order (upstream i is srv[i]).
 */
#ifndef WHARF_UPSTREAM_H
#define WHARF_UPSTREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define UPSTREAM_MAX_ENGINES 64
#define UPSTREAM_DOWN_MS 10000  /* skip an upstream this long after it failed */
#define UPSTREAM_QUEUE_MAX 4096 /* waiting requests per site, then overload (503) at once */
/* a request with no answer byte after this may sit in php-fpm's listen queue behind a child
 * that a kept idle connection pins: then no connection to its upstream is kept idle */
#define UPSTREAM_STALL_MS 100
/* serve another engine's waiting request first when it waited this much longer than ours */
#define UPSTREAM_STEAL_MS 10
#define UPSTREAM_MAX_TRIED 32 /* upstreams beyond this are never marked tried */

struct upstream_server;

/* A connection as the pool sees it, embedded in the engine's connection. */
struct upstream_conn {
    struct upstream_server *srv;
    unsigned engine; /* the engine that opened it (it never changes hands) */
    enum { UPSTREAM_CONN_OUT, UPSTREAM_CONN_BUSY, UPSTREAM_CONN_IDLE } where;
    struct upstream_conn *next_idle;             /* its engine's idle stack */
    struct upstream_conn *busy_prev, *busy_next; /* the upstream's busy list */
    uint64_t since_ms;     /* when it became idle, or got its request (connecting included) */
    _Atomic bool answered; /* a byte came back for the current request (set without the lock) */
};

/* A request as the pool sees it, embedded in the request. */
struct upstream_req {
    unsigned home;        /* its home engine (whose queue it waits in); set before dispatch */
    uint32_t hash;        /* ip_hash key; set before dispatch */
    unsigned tried;       /* bit per upstream (index < UPSTREAM_MAX_TRIED) already tried */
    unsigned attempts;    /* commits made for it */
    bool queued;          /* in its home's wait queue */
    uint64_t queued_ms;   /* when it was queued */
    uint64_t deadline_ms; /* queued_ms + fastcgi_queue_timeout */
    struct upstream_req *q_next;
};

/* One upstream address. Fields are read under the lock (tests and the engine may look). */
struct upstream_server {
    unsigned index;
    unsigned n_conns; /* open, in every engine: connecting, busy or idle */
    unsigned n_conns_of[UPSTREAM_MAX_ENGINES];
    unsigned n_busy;
    unsigned n_idle;
    struct upstream_conn *idle[UPSTREAM_MAX_ENGINES]; /* idle connections per engine, stacks */
    struct upstream_conn *busy;                       /* connections carrying a request */
    _Atomic uint64_t down_until_ms;                   /* passive health: skipped until then */
    unsigned fit;    /* connections php-fpm was seen to take at once (below max_conns); 0 = none */
    uint64_t fit_ms; /* when fit last shrank or grew */
};

struct upstream {
    const struct fcgi_site_conf *conf; /* lb, max_conns, keep_conns, queue_timeout_ms */
    struct upstream_server *srv;
    size_t n_srv;
    unsigned rr;                               /* round robin: advanced by commits only */
    uint32_t rand_state[UPSTREAM_MAX_ENGINES]; /* random: xorshift, one per engine */
    struct {
        struct upstream_req *head, *tail;
    } queue[UPSTREAM_MAX_ENGINES]; /* waiting requests by home engine, oldest first */
    _Atomic size_t q_len;          /* all queues */
};

/* What a request gets (upstream_plan, upstream_dispatch, upstream_serve). */
enum upstream_plan {
    UPSTREAM_IDLE,   /* an idle connection of this engine: choice->conn (once committed) */
    UPSTREAM_OPEN,   /* room for a new connection to choice->srv (counted once committed) */
    UPSTREAM_WAIT,   /* no room for this engine now; choice->poke names engines with room */
    UPSTREAM_QUEUED, /* upstream_dispatch: it waits in its home's queue */
    UPSTREAM_FULL,   /* upstream_dispatch: it should wait, but the queues are full (overload) */
    UPSTREAM_NONE,   /* every upstream was tried */
};

struct upstream_choice {
    struct upstream_server *srv;
    struct upstream_conn *conn; /* UPSTREAM_IDLE, once committed: the connection to reuse */
    uint64_t poke; /* bit per engine: has room where this one had none (wake it to serve) */
};

/** u for conf's site with n upstreams (conf outlives u). Allocates the servers once. */
void upstream_init(struct upstream *u, const struct fcgi_site_conf *conf, size_t n);
/** Free what upstream_init allocated (nothing may be linked any more). */
void upstream_dispose(struct upstream *u);

/** Changes no count (only the random state). Among the upstreams r has not tried, starting
 *  where the balancing method says (least_conn: fewest busy), the first with room for
 *  engine: healthy ones first, then those marked down. ch->poke gets the engines that have
 *  room on an upstream this engine had none on. */
enum upstream_plan upstream_plan(struct upstream *u, const struct upstream_req *r, unsigned engine,
                                 unsigned n_engines, uint64_t now, struct upstream_choice *ch);
/** Make an UPSTREAM_IDLE or UPSTREAM_OPEN plan on s happen: counts r's attempt, advances the
 *  round robin, and returns the idle connection taken off engine's stack (now busy), or NULL
 *  when a new connection is counted (then upstream_conn_opened, or upstream_give_back). */
struct upstream_conn *upstream_commit(struct upstream *u, struct upstream_server *s,
                                      struct upstream_req *r, unsigned engine, uint64_t now);
/** Plan and commit, or queue r at its home (deadline now + queue_timeout): one call per
 *  dispatch. Returns UPSTREAM_IDLE/OPEN (committed), UPSTREAM_QUEUED, UPSTREAM_FULL or
 *  UPSTREAM_NONE. */
enum upstream_plan upstream_dispatch(struct upstream *u, struct upstream_req *r, unsigned engine,
                                     unsigned n_engines, uint64_t now, struct upstream_choice *ch);
/** Undo a commit that did not go ahead: conn (taken idle) goes back on engine's idle stack,
 *  or (NULL) the counted new connection is uncounted. */
void upstream_give_back(struct upstream *u, struct upstream_server *s, unsigned engine,
                        struct upstream_conn *conn);

/** The queued request engine should serve next: its home queue's oldest, unless another
 *  engine's oldest waited UPSTREAM_STEAL_MS longer (or engine has none). NULL: none. */
struct upstream_req *upstream_next(const struct upstream *u, unsigned engine, unsigned n_engines);
/** For queued r (upstream_next): plan; unless UPSTREAM_WAIT (r stays queued), take r out of
 *  the queue and commit when there is an upstream (UPSTREAM_IDLE/OPEN) or not (NONE). */
enum upstream_plan upstream_serve(struct upstream *u, struct upstream_req *r, unsigned engine,
                                  unsigned n_engines, uint64_t now, struct upstream_choice *ch);
/** Take r out of its queue; false if it was not queued (someone took it). */
bool upstream_unqueue(struct upstream *u, struct upstream_req *r);
/** The head of home's queue, taken out, if its queue deadline passed; else NULL, and *next
 *  lowered to that head's deadline (if any; *next = 0 means none yet). */
struct upstream_req *upstream_expire(struct upstream *u, unsigned home, uint64_t now,
                                     uint64_t *next);
/** The head of home's queue, taken out (shutdown); NULL when empty. */
struct upstream_req *upstream_pop(struct upstream *u, unsigned home);
/** How many requests wait, all queues. Any thread, no lock: a hint. */
size_t upstream_waiting(struct upstream *u);

/** c, a new connection of engine to s (counted by upstream_commit), is busy from now. */
void upstream_conn_opened(struct upstream_server *s, struct upstream_conn *c, unsigned engine,
                          uint64_t now);
/** c's request is over. Kept (true: c is on its engine's idle stack since now) when keep, fewer
 *  than keep_conns of s are idle, and no other request on s has waited UPSTREAM_STALL_MS for
 *  its first byte; false: the caller closes c (upstream_conn_closed). */
bool upstream_conn_done(struct upstream *u, struct upstream_conn *c, bool keep, uint64_t now);
/** c is closed: off its list, uncounted. */
void upstream_conn_closed(struct upstream_conn *c);
/** Does a request on s, other than on `except`, wait UPSTREAM_STALL_MS or more for its first
 *  byte (it may sit in php-fpm's listen queue behind a child an idle connection pins)? */
bool upstream_stalled(const struct upstream_server *s, const struct upstream_conn *except,
                      uint64_t now);
/** A byte came back for c's request. Any thread, no lock. */
void upstream_conn_answered(struct upstream_conn *c);

/** `waiting` connections wait in s's listen queue: fit s to those php-fpm took (its open
 *  connections minus those, at least 1) when that is lower. True when s had no fit before
 *  (the caller logs s->fit). */
bool upstream_fit(struct upstream_server *s, unsigned waiting, uint64_t now);
/** Let every fit of u grow back by one a second (gone at max_conns). */
void upstream_regrow(struct upstream *u, uint64_t now);
/** The connections s may have open at once: max_conns, or its fit when lower. */
unsigned upstream_bound(const struct upstream *u, const struct upstream_server *s);

/** Passive health. Any thread, no lock. upstream_mark_down (re)starts s's down period and
 *  says whether one began now (s was up): callers log once per period, not per request. */
bool upstream_mark_down(struct upstream_server *s, uint64_t now);
void upstream_mark_up(struct upstream_server *s);
bool upstream_is_down(const struct upstream_server *s, uint64_t now);

/** Failover: r tried s (it failed, or may hang); whether it did. These four read only r and
 *  u's fixed part (its upstreams): the engine serving r needs no lock for them. */
void upstream_mark_tried(struct upstream_req *r, const struct upstream_server *s);
bool upstream_tried(const struct upstream_req *r, const struct upstream_server *s);
/** Is there an upstream other than `except` that r has not tried? */
bool upstream_other_untried(const struct upstream *u, const struct upstream_req *r,
                            const struct upstream_server *except);
/** May r, whose connection failed before any answer, be dispatched again (attempts left)? */
bool upstream_may_retry(const struct upstream *u, const struct upstream_req *r);

#endif
