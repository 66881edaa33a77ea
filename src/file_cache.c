/*
 * file_cache: see include/file_cache.h. One mutex guards the hash chains, the LRU list, the
 * byte count and every refcount; it is held only for pointer updates, never for I/O,
 * compression or MHD calls (responses are destroyed after the lock is dropped).
 */
#include "file_cache.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct file_cache {
    pthread_mutex_t lock;
    struct file_entry **buckets;
    size_t n_buckets; /* power of two */
    size_t n_entries;
    uint64_t bytes, max_bytes;
    uint64_t hits, misses;                  /* file_cache_get answers (file_cache_counts) */
    struct file_entry *lru_head, *lru_tail; /* head = most recently used */
};

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct file_cache *file_cache_new(uint64_t max_bytes)
{
    struct file_cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->n_buckets = 256;
    c->buckets = xcalloc(c->n_buckets, sizeof *c->buckets);
    c->max_bytes = max_bytes;
    return c;
}

static void entry_destroy(struct file_entry *e)
{
    /* a response owns its bytes and frees them with its last reference: a connection may
     * still be sending it */
    if (e->resp)
        MHD_destroy_response(e->resp);
    else
        free(e->data);
    for (int i = 0; i < CODING_N; i++) {
        if (e->enc[i].resp)
            MHD_destroy_response(e->enc[i].resp);
        else
            free(e->enc[i].data);
    }
    free(e->key_);
    free(e);
}

static void lru_unlink(struct file_cache *c, struct file_entry *e)
{
    if (e->lprev_)
        e->lprev_->lnext_ = e->lnext_;
    else
        c->lru_head = e->lnext_;
    if (e->lnext_)
        e->lnext_->lprev_ = e->lprev_;
    else
        c->lru_tail = e->lprev_;
    e->lprev_ = e->lnext_ = NULL;
}

static void lru_push_front(struct file_cache *c, struct file_entry *e)
{
    e->lprev_ = NULL;
    e->lnext_ = c->lru_head;
    if (c->lru_head)
        c->lru_head->lprev_ = e;
    c->lru_head = e;
    if (!c->lru_tail)
        c->lru_tail = e;
}

/* Remove e from the table and list; returns true if the caller must destroy it. Lock held. */
static bool unlink_entry(struct file_cache *c, struct file_entry *e)
{
    struct file_entry **pp = &c->buckets[hash_key(e->key_) & (c->n_buckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext_;
    if (*pp)
        *pp = e->hnext_;
    lru_unlink(c, e);
    c->n_entries--;
    c->bytes -= e->mem_;
    e->linked_ = false;
    return --e->refs_ == 0; /* the cache's own reference */
}

static void grow(struct file_cache *c)
{
    size_t n = c->n_buckets * 2;
    struct file_entry **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct file_entry *e = c->buckets[i];
        while (e) {
            struct file_entry *next = e->hnext_;
            size_t j = hash_key(e->key_) & (n - 1);
            e->hnext_ = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = n;
}

static bool same_identity(const struct file_entry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino && e->size == (uint64_t)st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

struct file_entry *file_cache_get(struct file_cache *c, const char *key, const struct stat *st)
{
    struct file_entry *found = NULL, *stale = NULL;
    uint64_t h = hash_key(key);
    pthread_mutex_lock(&c->lock);
    struct file_entry *e = c->buckets[h & (c->n_buckets - 1)];
    while (e && strcmp(e->key_, key) != 0)
        e = e->hnext_;
    if (e && same_identity(e, st)) {
        e->refs_++;
        lru_unlink(c, e);
        lru_push_front(c, e);
        found = e;
    } else if (e && unlink_entry(c, e)) {
        stale = e;
    }
    if (found) /* counted under the lock the lookup takes anyway */
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    if (stale)
        entry_destroy(stale);
    return found;
}

struct file_entry *file_entry_new(const char *key, const struct stat *st)
{
    struct file_entry *e = xcalloc(1, sizeof *e);
    e->key_ = xstrdup(key);
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = (uint64_t)st->st_size;
    e->mtime = st->st_mtim;
    e->file_coding = -1;
    e->refs_ = 1; /* the caller's */
    return e;
}

static size_t entry_mem(const struct file_entry *e)
{
    size_t n = sizeof *e + strlen(e->key_) + (e->data ? e->size : 0);
    for (int i = 0; i < CODING_N; i++)
        n += e->enc[i].len;
    return n;
}

struct file_entry *file_cache_put(struct file_cache *c, struct file_entry *e)
{
    struct file_entry *victims = NULL;
    e->mem_ = entry_mem(e);
    e->cache_ = c;
    if (e->mem_ > c->max_bytes)
        return e; /* too big for the budget: serve once, uncached */
    pthread_mutex_lock(&c->lock);
    size_t i = hash_key(e->key_) & (c->n_buckets - 1);
    for (struct file_entry *old = c->buckets[i]; old; old = old->hnext_) {
        if (strcmp(old->key_, e->key_) == 0) {
            if (unlink_entry(c, old)) {
                old->hnext_ = victims;
                victims = old;
            }
            break;
        }
    }
    while (c->bytes + e->mem_ > c->max_bytes && c->lru_tail) {
        struct file_entry *v = c->lru_tail;
        if (unlink_entry(c, v)) {
            v->hnext_ = victims;
            victims = v;
        }
    }
    if (c->n_entries + 1 > c->n_buckets)
        grow(c);
    i = hash_key(e->key_) & (c->n_buckets - 1);
    e->hnext_ = c->buckets[i];
    c->buckets[i] = e;
    lru_push_front(c, e);
    c->n_entries++;
    c->bytes += e->mem_;
    e->linked_ = true;
    e->refs_++; /* the cache's reference, besides the caller's */
    pthread_mutex_unlock(&c->lock);
    while (victims) {
        struct file_entry *next = victims->hnext_;
        entry_destroy(victims);
        victims = next;
    }
    return e;
}

void file_cache_attach(struct file_entry *e, enum coding c, char *data, size_t len,
                       struct MHD_Response *resp)
{
    bool lost = false;
    struct file_variant *v = &e->enc[c];
    pthread_mutex_t *l = &e->cache_->lock;
    pthread_mutex_lock(l);
    if (v->resp || v->useless) {
        lost = true;
    } else {
        v->data = data;
        v->len = len;
        v->resp = resp;
        if (e->linked_) {
            e->cache_->bytes += len;
            e->mem_ += len;
        }
    }
    pthread_mutex_unlock(l);
    if (lost)
        MHD_destroy_response(resp); /* frees data */
}

struct MHD_Response *file_entry_variant(struct file_entry *e, enum coding c, bool *useless)
{
    pthread_mutex_lock(&e->cache_->lock);
    struct MHD_Response *r = e->enc[c].resp;
    *useless = e->enc[c].useless;
    pthread_mutex_unlock(&e->cache_->lock);
    return r;
}

void file_cache_mark_useless(struct file_entry *e, enum coding c)
{
    pthread_mutex_lock(&e->cache_->lock);
    e->enc[c].useless = true;
    pthread_mutex_unlock(&e->cache_->lock);
}

void file_entry_ref(struct file_entry *e)
{
    pthread_mutex_lock(&e->cache_->lock);
    e->refs_++;
    pthread_mutex_unlock(&e->cache_->lock);
}

void file_entry_release(struct file_entry *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->cache_->lock);
    bool last = --e->refs_ == 0;
    pthread_mutex_unlock(&e->cache_->lock);
    if (last)
        entry_destroy(e);
}

void file_cache_stats(struct file_cache *c, uint64_t *bytes, size_t *entries)
{
    pthread_mutex_lock(&c->lock);
    *bytes = c->bytes;
    *entries = c->n_entries;
    pthread_mutex_unlock(&c->lock);
}

void file_cache_counts(struct file_cache *c, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}

void file_cache_free(struct file_cache *c)
{
    if (!c)
        return;
    while (c->lru_head) {
        struct file_entry *e = c->lru_head;
        if (unlink_entry(c, e))
            entry_destroy(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
