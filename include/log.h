/*
 * log: the error log. The only code that writes diagnostics to stderr or the error_log file.
 * One line per message: "2026-11-22T19:30:00.123Z [error] static #42: message", or with
 * error_log_format = json {"time":"...","level":"error","module":"static","request_id":42,
 * "message":"..."}, written with a single write() so lines from several threads never
 * interleave. log_reopen() (SIGUSR1) reopens the file for logrotate. Thread-safe.
 */
#ifndef WHARF_LOG_H
#define WHARF_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum log_format {
    LOG_FORMAT_TEXT = 0, /* the line above */
    LOG_FORMAT_JSON,     /* one object per line: time, level, module, request_id, message */
};

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
};

/** Log to path (append, created 0644); NULL = stderr. Returns 0, or -1 with *why set. */
int log_open(const char *path, const char **why);
/** Reopen the current file; stderr needs nothing. */
void log_reopen(void);
/** Messages above this level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);
/** Text (the default) or JSON lines from now on. Thread-safe. */
void log_set_format(enum log_format format);
/** Append one line (with '\n') to b: the time (ms since the epoch, UTC, RFC 3339 with
 *  milliseconds; "-" when not representable), the level, module, req_id (0 = none) and msg.
 *  Text turns CR and LF in msg into spaces; JSON escapes it (buf_append_json: invalid UTF-8
 *  bytes as \u00XX). Pure. -1 (b as it was) past b's cap. */
int log_format_line(struct buf *b, enum log_format format, int64_t time_ms, enum log_level level,
                    const char *module, uint64_t req_id, const char *msg, size_t msg_len);
/** Write text (whole lines, already formatted) as it is, with a single write(): development
 *  mode's request lines (dev_console.h). Thread-safe. */
void log_write_raw(const char *text, size_t len);
/** Write one line. module is a short tag ("static", "config"); req_id 0 = not request-bound. */
void log_msg(enum log_level level, const char *module, uint64_t req_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_MSG_MAX 2048 /* a longer message is cut to LOG_MSG_MAX - 1 bytes */

#define log_error(mod, id, ...) log_msg(LOG_ERROR, mod, id, __VA_ARGS__)
#define log_warn(mod, id, ...) log_msg(LOG_WARN, mod, id, __VA_ARGS__)
#define log_info(mod, id, ...) log_msg(LOG_INFO, mod, id, __VA_ARGS__)

#endif
