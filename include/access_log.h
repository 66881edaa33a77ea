/*
 * access_log: one line per request in the Combined Log Format plus the request duration:
 *   127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a.gif HTTP/1.1" 200 2326 "ref" "ua" 0.001
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

struct access_entry {
    const char *remote_addr; /* textual address */
    const char *remote_user; /* NULL = "-" */
    time_t time;             /* wall clock at request start */
    const char *method;
    const char *target;   /* raw request-target */
    const char *protocol; /* "HTTP/1.1" */
    unsigned status;
    uint64_t bytes;         /* body bytes sent */
    const char *referer;    /* NULL = "-" */
    const char *user_agent; /* NULL = "-" */
    uint64_t duration_us;
};

/** Append one formatted line (with '\n') to b. Quotes, backslashes and control bytes inside
 *  quoted fields are escaped (\" \\ \xHH) so a client cannot forge log lines. */
int access_log_format(struct buf *b, const struct access_entry *e);

struct access_log;

/** Open (create/append) path, or "-" for stdout. NULL and *why set on failure. Logs with the
 *  same path share one object. */
struct access_log *access_log_open(const char *path, const char **why);
/** Queue one line; never blocks on I/O. Drops lines (and counts them) past a 4 MiB backlog. */
void access_log_write(struct access_log *l, const struct access_entry *e);
/** Start the writer thread (once, after all logs are open). */
int access_log_start(void);
/** Reopen every open log file (SIGUSR1). Thread-safe. */
void access_log_reopen_all(void);
/** Flush everything, stop the writer thread and close all files. */
void access_log_shutdown(void);

#endif
