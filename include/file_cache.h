/*
 * file_cache: ready-to-send representations of files, kept in memory and shared by all MHD
 * worker threads (an MHD_Response is refcounted and may be queued on many connections at once).
 * Small files are answered from memory in one sendmsg() instead of header + sendfile
 * (docs/design-notes.md §1: +19 % req/s against nginx); compressed variants (gzip, br, zstd) are
 * compressed once.
 *
 * An entry is valid only while the file's identity (device, inode, size, mtime) matches the
 * stat() the caller just made, so edits show up at once. Bounded by bytes, least recently
 * used entries are evicted first. Entries are refcounted: a lookup returns a reference that
 * the caller releases after queueing; eviction never frees an entry in use.
 */
#ifndef WHARF_FILE_CACHE_H
#define WHARF_FILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "coding.h"
#include "conditional.h"
#include "http_date.h"

struct MHD_Response;

struct file_entry {
    /* identity, copied from the stat() that filled the entry */
    dev_t dev;
    ino_t ino;
    uint64_t size; /* bytes of the file on disk */
    struct timespec mtime;
    /* representation metadata */
    const char *content_type; /* owned by the mime table */
    int file_coding;          /* a precompressed FILE.gz/.br/.zst: its body is already in this
                               * coding (enum coding); -1 = an ordinary file */
    char etag[ETAG_MAX];
    char last_modified[HTTP_DATE_LEN + 1];
    /* bodies; the fields below are written once, under the cache lock */
    char *data;                /* identity bytes, NULL when not held in memory; owned by resp
                                * when there is one (a connection may still send it after
                                * the entry is gone), else by the entry */
    struct MHD_Response *resp; /* full 200 response over data, or NULL */
    struct file_variant {
        char *data; /* the identity bytes in this coding, NULL if not made (owned by resp, the
                     * same way) */
        size_t len;
        struct MHD_Response *resp; /* full 200 response in this coding, or NULL */
        char etag[ETAG_MAX];
        bool useless; /* compression did not pay off: never retry */
    } enc[CODING_N];
    /* private */
    char *key_;
    size_t mem_;
    unsigned refs_;
    struct file_entry *hnext_, *lprev_, *lnext_;
    struct file_cache *cache_; /* set by file_cache_put, never changes */
    bool linked_;              /* in the table and LRU list */
};

struct file_cache;

/** A cache holding at most max_bytes of bodies. max_bytes 0 makes every put a no-op. */
struct file_cache *file_cache_new(uint64_t max_bytes);
void file_cache_free(struct file_cache *c);

/** Look key up; returns a referenced entry if its identity matches st, else NULL (and drops
 *  a stale entry). Thread-safe. */
struct file_entry *file_cache_get(struct file_cache *c, const char *key, const struct stat *st);

/** A fresh entry referenced once by the caller for key with identity from st (not yet in any
 * cache). */
struct file_entry *file_entry_new(const char *key, const struct stat *st);

/**
 * Insert e (replacing an older entry for the same key); the caller keeps its reference and
 * must put every new entry before using or releasing it. If e does not fit the budget it is not
 * cached but still returned referenced (it is freed on its last release). Thread-safe.
 */
struct file_entry *file_cache_put(struct file_cache *c, struct file_entry *e);

/**
 * Attach the body of e in coding c and its response, which owns data (frees it with its last
 * reference); if another thread attached one first, destroys resp (and so data) and keeps the
 * existing one. Thread-safe.
 */
void file_cache_attach(struct file_entry *e, enum coding c, char *data, size_t len,
                       struct MHD_Response *resp);
/** The attached response in coding c (valid while the caller holds e) or NULL; *useless tells
 *  whether compression was found not to pay off. Thread-safe. */
struct MHD_Response *file_entry_variant(struct file_entry *e, enum coding c, bool *useless);
/** Mark that coding c does not pay off for this entry. */
void file_cache_mark_useless(struct file_entry *e, enum coding c);
/** Take one more reference on an entry the caller already holds. Thread-safe. */
void file_entry_ref(struct file_entry *e);
/** Drop a reference; frees the entry (and its MHD responses) on the last one. Thread-safe. */
void file_entry_release(struct file_entry *e);

/** Bytes held and entries, for tests and status. */
void file_cache_stats(struct file_cache *c, uint64_t *bytes, size_t *entries);
/** Lookups (file_cache_get) that found a valid entry, and those that did not. */
void file_cache_counts(struct file_cache *c, uint64_t *hits, uint64_t *misses);

#endif
