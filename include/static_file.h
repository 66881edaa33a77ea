/*
 * static_file: GET and HEAD of files and directories below a site root: index files, the
 * directory listing, ETag/Last-Modified/304/412, single ranges (206/416), precompressed
 * FILE.gz and on-the-fly gzip, all from the in-memory file cache when the file is small.
 * Never suspends a connection and never blocks on anything but the local disk. A handler
 * (handler.h) that answers in its start call and keeps no per-request state.
 */
#ifndef WHARF_STATIC_FILE_H
#define WHARF_STATIC_FILE_H

#include <microhttpd.h>

#include "config.h"
#include "mime.h"
#include "request.h"

/** Set up the caches from the server config; mime must outlive the server. */
void static_file_init(const struct server_conf *conf, const struct mime_table *mime);
/** Drop the caches (after the HTTP front is stopped). */
void static_file_shutdown(void);

/* One cache's figures (static_file_cache_stats). */
struct static_file_cache_stats {
    uint64_t hits, misses; /* lookups */
    uint64_t bytes;        /* bodies held */
    size_t entries;
};
/** The small-file cache (file: bodies and gzip variants of files <= file_cache_max_file) and
 *  the gzip cache (gzip variants of larger files). Zeros before static_file_init. Any thread
 *  (not during static_file_shutdown). */
void static_file_cache_stats(struct static_file_cache_stats *file,
                             struct static_file_cache_stats *gzip);

/** Start: take r (handler.h) and answer a GET or HEAD for the normalised path (query is the
 *  raw query or NULL). */
enum MHD_Result static_file_serve(struct MHD_Connection *c, struct request *r,
                                  const struct site_conf *site, const char *path, const char *query,
                                  size_t query_len);
/** Start: take r and answer OPTIONS for a static path (204, Allow: ROUTE_STATIC_ALLOW). */
enum MHD_Result static_file_options(struct MHD_Connection *c, struct request *r);

#endif
