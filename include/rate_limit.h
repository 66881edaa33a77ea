/*
 * rate_limit: one limit_req rule's per-client token buckets. Thread-safe (sharded locks:
 * every worker thread takes from the same buckets, so the limit is exact whichever worker
 * serves a client's connections); reads no clock (the caller passes now), so the tests
 * drive it with a fake one.
 *
 * Each bucket is kept as GCRA's "theoretical arrival time" (tat, one u64): a request at now
 * is admitted when tat - now <= burst * interval, and then tat = max(tat, now) + interval.
 * This is exactly a token bucket of burst + 1 tokens refilled one per interval, full at the
 * start. A bucket whose tat is in the past is full, the same as no bucket at all, so such
 * entries are dropped whenever found (no timer, and expiry changes no answer).
 *
 * Memory is bounded: at most max_clients buckets (split over the shards). A new client in a
 * full shard first drops the shard's full buckets; if none is full, the bucket nearest to
 * full (the smallest tat) is dropped: that client regains up to its burst early. The
 * alternative, refusing clients we have no room for, would let a flood from many addresses
 * lock everyone else out; this way an attacker needs max_clients addresses to help one of
 * them, and the limit still holds for everybody else.
 */
#ifndef WHARF_RATE_LIMIT_H
#define WHARF_RATE_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#define RATE_LIMIT_MAX_CLIENTS 65536 /* buckets per limit_req rule (~2 MiB at most) */

struct rate_limit;

/** A limit of one request per interval_ns with burst more at once, for at most max_clients
 *  clients; one reference, the caller's. */
struct rate_limit *rate_limit_new(uint64_t interval_ns, unsigned burst, size_t max_clients);
/** One more reference (a reload's new site runtime keeps the buckets of an unchanged rule).
 *  Returns rl. Thread-safe. */
struct rate_limit *rate_limit_ref(struct rate_limit *rl);
/** Drop a reference; the last frees rl. NULL is ok. */
void rate_limit_free(struct rate_limit *rl);

/**
 * One request of the client addr (16-byte form, cidr.h) at now_ns (monotonic): 0 when it is
 * admitted (and counted), else how long until one would be, in ns (> 0; nothing counted).
 * Thread-safe.
 */
uint64_t rate_limit_take(struct rate_limit *rl, const uint8_t addr[16], uint64_t now_ns);

/** Buckets held (for tests and metrics). Thread-safe. */
size_t rate_limit_clients(struct rate_limit *rl);

#endif
