/*
 * log: the error log. The only code that writes diagnostics to stderr or the error_log file.
 * One line per message: "2026-11-22T19:30:00.123Z [error] static #42: message", written with a
 * single write() so lines from several threads never interleave. log_reopen() (SIGUSR1) reopens
 * the file for logrotate. Thread-safe.
 */
#ifndef WHARF_LOG_H
#define WHARF_LOG_H

#include <stdint.h>

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
/** Write one line. module is a short tag ("static", "config"); req_id 0 = not request-bound. */
void log_msg(enum log_level level, const char *module, uint64_t req_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_error(mod, id, ...) log_msg(LOG_ERROR, mod, id, __VA_ARGS__)
#define log_warn(mod, id, ...) log_msg(LOG_WARN, mod, id, __VA_ARGS__)
#define log_info(mod, id, ...) log_msg(LOG_INFO, mod, id, __VA_ARGS__)

#endif
