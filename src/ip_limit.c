/*
 * ip_limit: see include/ip_limit.h. A chained hash table of (address, count), an entry freed
 * when its count drops to zero, so the table holds only addresses with open connections.
 * IPv4 addresses are keyed as IPv4-mapped IPv6, so a dual-stack socket counts them alike.
 */
#include "ip_limit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BUCKETS 1024 /* a power of two */

struct entry {
    uint8_t addr[16];
    unsigned count;
    struct entry *next;
};

struct ip_limit {
    _Atomic unsigned max; /* 0 = unlimited (still counted, for a later ip_limit_set_max) */
    pthread_mutex_t lock;
    struct entry *bucket[BUCKETS];
};

struct ip_limit *ip_limit_new(unsigned max)
{
    struct ip_limit *l = xcalloc(1, sizeof *l);
    atomic_init(&l->max, max);
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void ip_limit_set_max(struct ip_limit *l, unsigned max)
{
    if (l)
        atomic_store_explicit(&l->max, max, memory_order_relaxed);
}

/* The 16-byte key of sa; false for addresses that are not counted (unix sockets). */
static bool key_of(const struct sockaddr *sa, uint8_t key[16])
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(key, mapped, 12);
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

static unsigned hash_of(const uint8_t key[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    return h & (BUCKETS - 1);
}

/* Lock held. The entry's link, or the NULL link at the end of its chain. */
static struct entry **find(struct ip_limit *l, const uint8_t key[16])
{
    struct entry **pp = &l->bucket[hash_of(key)];
    while (*pp && memcmp((*pp)->addr, key, 16) != 0)
        pp = &(*pp)->next;
    return pp;
}

unsigned ip_limit_count(struct ip_limit *l, const struct sockaddr *sa)
{
    uint8_t key[16];
    if (!l || !key_of(sa, key))
        return 0;
    pthread_mutex_lock(&l->lock);
    struct entry *e = *find(l, key);
    unsigned n = e ? e->count : 0;
    pthread_mutex_unlock(&l->lock);
    return n;
}

bool ip_limit_admit(struct ip_limit *l, const struct sockaddr *sa)
{
    if (!l)
        return true;
    unsigned max = atomic_load_explicit(&l->max, memory_order_relaxed);
    return max == 0 || ip_limit_count(l, sa) < max;
}

void ip_limit_add(struct ip_limit *l, const struct sockaddr *sa)
{
    uint8_t key[16];
    if (!l || !key_of(sa, key))
        return;
    pthread_mutex_lock(&l->lock);
    struct entry **pp = find(l, key);
    if (!*pp) {
        *pp = xcalloc(1, sizeof **pp);
        memcpy((*pp)->addr, key, 16);
    }
    (*pp)->count++;
    pthread_mutex_unlock(&l->lock);
}

void ip_limit_remove(struct ip_limit *l, const struct sockaddr *sa)
{
    uint8_t key[16];
    if (!l || !key_of(sa, key))
        return;
    pthread_mutex_lock(&l->lock);
    struct entry **pp = find(l, key);
    struct entry *e = *pp;
    if (e && --e->count == 0) {
        *pp = e->next;
        free(e);
    }
    pthread_mutex_unlock(&l->lock);
}

void ip_limit_free(struct ip_limit *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        while (l->bucket[i]) {
            struct entry *e = l->bucket[i];
            l->bucket[i] = e->next;
            free(e);
        }
    pthread_mutex_destroy(&l->lock);
    free(l);
}
