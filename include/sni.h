/*
 * sni: server name -> certificate slot, for the TLS certificate callback (tls_store.h). Names
 * are the sites' hosts: exact names, and "*.example.com" wildcards that match one more label
 * (RFC 6125 6.4.3: "a.example.com", not "example.com" nor "a.b.example.com"). Matching is
 * ASCII case-insensitive and ignores one trailing dot. An exact name wins over a wildcard; the
 * first slot added for a name wins. Pure: no I/O, no locks; a table is immutable once built
 * and may then be read from any thread.
 */
#ifndef WHARF_SNI_H
#define WHARF_SNI_H

#include <stddef.h>

#define SNI_NAME_MAX 253 /* longer names never match (RFC 1035 2.3.4) */

struct sni_entry {
    char *name; /* lower case, no trailing dot; "*.example.com" for a wildcard */
    unsigned slot;
};

struct sni_table {
    struct sni_entry *v; /* sorted by name once sni_finish() ran */
    size_t n;
};

/** Add name -> slot (copied). A name already present keeps its first slot. */
void sni_add(struct sni_table *t, const char *name, unsigned slot);

/** Sort the table for lookups; call after the last sni_add(). */
void sni_finish(struct sni_table *t);

/** The slot of name (len bytes, not NUL-terminated), or -1 when nothing matches. */
int sni_lookup(const struct sni_table *t, const char *name, size_t len);

/** Free the entries; the table is empty afterwards. */
void sni_dispose(struct sni_table *t);

#endif
