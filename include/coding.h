/*
 * coding: the content codings wharf serves static files in (gzip, br, zstd), and the choice
 * among them from Accept-Encoding (RFC 9110 12.5.3). Pure: no I/O.
 *
 * A client's weights (q-values) decide; among codings of equal weight zstd is preferred,
 * then br, then gzip (smaller for the same CPU, in that order, and every client that sends
 * "zstd" or "br" also takes gzip). "*" gives its weight to every coding not listed; an
 * explicit "br;q=0" refuses br whatever "*" says; "x-gzip" is gzip. An element whose weight
 * does not parse counts as q=0, so a malformed header can only cost compression.
 */
#ifndef WHARF_CODING_H
#define WHARF_CODING_H

#include <stddef.h>

enum coding {
    CODING_GZIP,
    CODING_BR,
    CODING_ZSTD,
    CODING_N, /* the number of codings; as a value, identity */
};

#define CODING_BIT(c) (1u << (c))
#define CODING_ALL (CODING_BIT(CODING_GZIP) | CODING_BIT(CODING_BR) | CODING_BIT(CODING_ZSTD))

/**
 * The codings of the mask `allowed` the client takes, best first (weight, then zstd > br >
 * gzip), into out[0..return); those with weight 0 are left out. accept_encoding NULL = none.
 */
size_t coding_negotiate(const char *accept_encoding, unsigned allowed, enum coding out[CODING_N]);

/** "gzip", "br", "zstd" (Content-Encoding, config words). */
const char *coding_name(enum coding c);
/** ".gz", ".br", ".zst": the precompressed sibling FILE + suffix. */
const char *coding_suffix(enum coding c);
/** The coding named name[0..len) (case-insensitive; "x-gzip" too), or CODING_N. */
enum coding coding_of(const char *name, size_t len);

#endif
