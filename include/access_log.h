/*
 * access_log: one line per request, in one of three formats (access_log_format in [site]):
 *   timed_combined (the default): the Combined Log Format plus the duration in seconds,
 *     127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a.gif HTTP/1.1" 200 2326 "ref" "ua" 0.001
 *   combined: exactly the NCSA/Apache combined format, for goaccess, awstats and friends,
 *     127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a.gif HTTP/1.1" 200 2326 "ref" "ua"
 *   json: one object per line (docs/configuration.md lists the fields).
 * The formatter is pure. The writer buffers lines in memory and a background thread writes
 * them, so a request never waits on the disk; access_log_reopen_all() (SIGUSR1) reopens every
 * file for logrotate.
 */
#ifndef WHARF_ACCESS_LOG_H
#define WHARF_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

enum access_log_style {
    ACCESS_LOG_TIMED_COMBINED, /* combined + duration; \" and \\ escapes; 0 bytes is "0" */
    ACCESS_LOG_COMBINED,       /* NCSA combined; nginx's \xHH escapes only; 0 bytes is "-" */
    ACCESS_LOG_JSON,
};

struct access_entry {
    const char *remote_addr; /* textual address */
    const char *remote_user; /* NULL = "-" (text formats only) */
    int64_t time_ms;         /* wall clock at request start, ms since the epoch */
    const char *site;        /* site name (json only) */
    uint64_t request_id;     /* as in the error log (json only) */
    const char *method;
    const char *target;   /* raw request-target */
    const char *protocol; /* "HTTP/1.1" */
    unsigned status;
    uint64_t bytes;         /* body bytes sent */
    const char *referer;    /* NULL = "-" (null in json) */
    const char *user_agent; /* NULL = "-" (null in json) */
    const char *upstream;   /* FastCGI upstream that served it, as configured; NULL = none
                             * (json only) */
    uint64_t duration_us;
};

/** Append one formatted line (with '\n') to b; on failure (b's cap) -1 and b as it was.
 *  Text formats escape control bytes, bytes >= 0x7F, '"' and '\' (and spaces in unquoted
 *  fields) so a client cannot forge a line or a field; json escapes strings as JSON with each
 *  byte of invalid UTF-8 as \u00XX (buf_append_json). Allocates only if b must grow. */
int access_log_format(struct buf *b, enum access_log_style style, const struct access_entry *e);

struct access_log;

/** Open (create/append) path, or "-" for stdout. NULL and *why set on failure. Logs with the
 *  same path share one object, counted: each successful open needs one access_log_close(). */
struct access_log *access_log_open(const char *path, const char **why);
/** Drop one reference from access_log_open(); the last one flushes the log's lines, closes
 *  its file and frees it (so a reload that no longer names a file lets it go). l must no
 *  longer be written to by its caller. NULL is ok. */
void access_log_close(struct access_log *l);
/** Queue one line in style; never blocks on I/O. Drops lines (and counts them) past a 4 MiB
 *  backlog. */
void access_log_write(struct access_log *l, enum access_log_style style,
                      const struct access_entry *e);
/** Start the writer thread (once, after all logs are open). */
int access_log_start(void);
/** Reopen every open log file (SIGUSR1). Thread-safe. */
void access_log_reopen_all(void);
/** Flush everything, stop the writer thread and close all files still open. */
void access_log_shutdown(void);

#endif
