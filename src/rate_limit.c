/* rate_limit: per-client token buckets (GCRA) in sharded hash tables. See rate_limit.h. */
#include "rate_limit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SHARDS 16
#define NIL UINT32_MAX

struct entry {
    uint8_t addr[16];
    uint64_t tat;  /* ns: when the bucket is full again */
    uint32_t next; /* in the same chain; NIL = last */
};

struct shard {
    pthread_mutex_t lock;
    struct entry *v; /* v[0..n) in use, grown up to cap */
    size_t n, alloc;
    uint32_t *heads; /* chains by hash; n_heads entries */
};

struct rate_limit {
    uint64_t interval_ns, burst_ns;
    size_t cap;     /* entries per shard */
    size_t n_heads; /* per shard, a power of two */
    uint64_t seed;  /* per table, so the chains cannot be predicted from outside */
    _Atomic unsigned refs;
    struct shard shards[SHARDS];
};

/* note: not a cryptographic hash, and need not be one: a chain is at most one shard (cap
 * entries) long, so a flood of colliding addresses costs bounded work; the seed only spreads
 * honest traffic. FNV-1a over the address, then a 64-bit finaliser (splitmix64's). */
static uint64_t hash_addr(const struct rate_limit *rl, const uint8_t a[16])
{
    uint64_t h = 1469598103934665603u ^ rl->seed;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 1099511628211u;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    return h ^ (h >> 31);
}

struct rate_limit *rate_limit_new(uint64_t interval_ns, unsigned burst, size_t max_clients)
{
    struct rate_limit *rl = xcalloc(1, sizeof *rl);
    atomic_init(&rl->refs, 1);
    rl->interval_ns = interval_ns ? interval_ns : 1;
    rl->burst_ns = (uint64_t)burst * rl->interval_ns;
    rl->cap = max_clients / SHARDS ? max_clients / SHARDS : 1;
    rl->n_heads = 16;
    while (rl->n_heads < rl->cap)
        rl->n_heads *= 2;
    rl->seed = ((uint64_t)(uintptr_t)rl << 16) ^ clock_us();
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&rl->shards[i].lock, NULL);
        rl->shards[i].heads = NULL; /* allocated with the shard's first client */
    }
    return rl;
}

struct rate_limit *rate_limit_ref(struct rate_limit *rl)
{
    atomic_fetch_add_explicit(&rl->refs, 1, memory_order_relaxed);
    return rl;
}

void rate_limit_free(struct rate_limit *rl)
{
    if (!rl || atomic_fetch_sub_explicit(&rl->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_destroy(&rl->shards[i].lock);
        free(rl->shards[i].v);
        free(rl->shards[i].heads);
    }
    free(rl);
}

static void chain_rebuild(struct rate_limit *rl, struct shard *s)
{
    for (size_t i = 0; i < rl->n_heads; i++)
        s->heads[i] = NIL;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t *head = &s->heads[(hash_addr(rl, s->v[i].addr) >> 8) & (rl->n_heads - 1)];
        s->v[i].next = *head;
        *head = (uint32_t)i;
    }
}

/* Drop the full buckets (tat <= now) of a full shard; if none, the one nearest to full. */
static void make_room(struct rate_limit *rl, struct shard *s, uint64_t now)
{
    size_t kept = 0, nearest = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].tat < s->v[nearest].tat)
            nearest = i;
        if (s->v[i].tat > now)
            s->v[kept++] = s->v[i];
    }
    if (kept == s->n) {
        s->v[nearest] = s->v[s->n - 1];
        kept = s->n - 1;
    }
    s->n = kept;
    chain_rebuild(rl, s);
}

uint64_t rate_limit_take(struct rate_limit *rl, const uint8_t addr[16], uint64_t now)
{
    uint64_t h = hash_addr(rl, addr);
    struct shard *s = &rl->shards[h % SHARDS];
    size_t slot = (size_t)(h >> 8) & (rl->n_heads - 1);
    uint64_t wait = 0;

    pthread_mutex_lock(&s->lock);
    if (!s->heads) {
        s->heads = xmalloc(rl->n_heads * sizeof *s->heads);
        for (size_t i = 0; i < rl->n_heads; i++)
            s->heads[i] = NIL;
    }
    struct entry *e = NULL;
    for (uint32_t i = s->heads[slot]; i != NIL; i = s->v[i].next)
        if (memcmp(s->v[i].addr, addr, 16) == 0) {
            e = &s->v[i];
            break;
        }
    uint64_t tat = e && e->tat > now ? e->tat : now;
    if (tat - now > rl->burst_ns) {
        wait = tat - now - rl->burst_ns;
        goto out;
    }
    if (!e) {
        if (s->n == rl->cap) {
            make_room(rl, s, now);
            slot = (size_t)(h >> 8) & (rl->n_heads - 1);
        }
        if (s->n == s->alloc) {
            s->alloc = s->alloc ? s->alloc * 2 : 16;
            if (s->alloc > rl->cap)
                s->alloc = rl->cap;
            s->v = xrealloc(s->v, s->alloc * sizeof *s->v);
        }
        e = &s->v[s->n];
        memcpy(e->addr, addr, 16);
        e->next = s->heads[slot];
        s->heads[slot] = (uint32_t)s->n++;
    }
    e->tat = tat + rl->interval_ns;
out:
    pthread_mutex_unlock(&s->lock);
    return wait;
}

size_t rate_limit_clients(struct rate_limit *rl)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].lock);
        n += rl->shards[i].n;
        pthread_mutex_unlock(&rl->shards[i].lock);
    }
    return n;
}
