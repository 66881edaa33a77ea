/*
 * log: see include/log.h. The file descriptor is swapped under a mutex on reopen; writers
 * take the same mutex only to write the line, and format outside of it (log_format_line is
 * pure: no clock, no I/O, unit-tested).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = 2;
static char *log_path;
static enum log_level log_max = LOG_INFO;
static _Atomic int log_fmt = LOG_FORMAT_TEXT;

static const char *level_name[] = {"error", "warn", "info", "debug"};

static int open_log_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

int log_open(const char *path, const char **why)
{
    int fd = 2;
    if (path) {
        fd = open_log_file(path);
        if (fd < 0) {
            *why = strerror(errno);
            return -1;
        }
    }
    pthread_mutex_lock(&log_lock);
    if (log_fd != 2)
        close(log_fd);
    log_fd = fd;
    free(log_path);
    log_path = path ? xstrdup(path) : NULL;
    pthread_mutex_unlock(&log_lock);
    return 0;
}

void log_reopen(void)
{
    pthread_mutex_lock(&log_lock);
    if (log_path) {
        int fd = open_log_file(log_path);
        if (fd >= 0) {
            close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&log_lock);
}

void log_set_level(enum log_level level)
{
    log_max = level;
}

void log_set_format(enum log_format format)
{
    atomic_store_explicit(&log_fmt, (int)format, memory_order_relaxed);
}

/*
 * msg for the text format. note: messages carry text others control (a client's, an
 * application's STDERR): CR and LF become spaces, so an entry is one line, and the other
 * control bytes (C0 but TAB, DEL, C1 in UTF-8) are written as \xHH, so that printing the log
 * in a terminal runs no escape sequence (Apache's CVE-2003-0020).
 */
static int append_text(struct buf *b, const char *msg, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0; /* bytes before i that need no escape, copied at once */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        bool c1 = c == 0xC2 && i + 1 < n && (unsigned char)msg[i + 1] >= 0x80 &&
                  (unsigned char)msg[i + 1] <= 0x9F;
        if ((c >= 0x20 && c != 0x7F && !c1) || c == '\t') {
            run++;
            continue;
        }
        if (buf_append(b, msg + i - run, run) != 0)
            return -1;
        run = 0;
        if (c == '\n' || c == '\r') {
            if (buf_putc(b, ' ') != 0)
                return -1;
            continue;
        }
        for (int k = 0; k < (c1 ? 2 : 1); k++) {
            unsigned char e = (unsigned char)msg[i + (size_t)k];
            char esc[4] = {'\\', 'x', hex[e >> 4], hex[e & 15]};
            if (buf_append(b, esc, 4) != 0)
                return -1;
        }
        i += c1;
    }
    return buf_append(b, msg + n - run, run);
}

int log_format_line(struct buf *b, enum log_format format, int64_t time_ms, enum log_level level,
                    const char *module, uint64_t req_id, const char *msg, size_t msg_len)
{
    size_t start = b->len;
    time_t t = (time_t)(time_ms / 1000);
    struct tm tm;
    char stamp[64] = "-";
    int rc;

    if (time_ms >= 0 && gmtime_r(&t, &tm) && tm.tm_year + 1900 <= 9999)
        snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)(time_ms % 1000));
    if (format == LOG_FORMAT_JSON) {
        rc = buf_printf(b, "{\"time\":\"%s\",\"level\":\"%s\",\"module\":\"", stamp,
                        level_name[level]) != 0 ||
             buf_append_json(b, module, strlen(module)) != 0 ||
             (req_id ? buf_printf(b, "\",\"request_id\":%llu,\"message\":\"",
                                  (unsigned long long)req_id)
                     : buf_puts(b, "\",\"request_id\":null,\"message\":\"")) != 0 ||
             buf_append_json(b, msg, msg_len) != 0 || buf_puts(b, "\"}\n") != 0;
    } else {
        rc = buf_printf(b, "%s [%s] %s", stamp, level_name[level], module) != 0 ||
             (req_id && buf_printf(b, " #%llu", (unsigned long long)req_id) != 0) ||
             buf_puts(b, ": ") != 0;
        rc = rc || append_text(b, msg, msg_len) != 0 || buf_putc(b, '\n') != 0;
    }
    if (rc) {
        buf_truncate(b, start);
        return -1;
    }
    return 0;
}

void log_write_raw(const char *text, size_t len)
{
    pthread_mutex_lock(&log_lock);
    ssize_t w;
    do
        w = write(log_fd, text, len);
    while (w < 0 && errno == EINTR);
    pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *module, uint64_t req_id, const char *fmt, ...)
{
    if (level > log_max)
        return;
    char msg[LOG_MSG_MAX];
    struct timeval tv;
    struct buf line;
    va_list ap;

    gettimeofday(&tv, NULL);
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t msg_len = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    buf_init(&line, 0);
    buf_reserve(&line, 160 + msg_len + msg_len / 8); /* one allocation for most lines */
    if (log_format_line(&line,
                        (enum log_format)atomic_load_explicit(&log_fmt, memory_order_relaxed),
                        (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, level, module, req_id, msg,
                        msg_len) == 0) {
        pthread_mutex_lock(&log_lock);
        ssize_t w;
        do
            w = write(log_fd, line.data, line.len);
        while (w < 0 && errno == EINTR);
        pthread_mutex_unlock(&log_lock);
    }
    buf_dispose(&line);
}
