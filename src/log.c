/*
 * log: see include/log.h. The file descriptor is swapped under a mutex on reopen; writers
 * take the same mutex only to read it, and format outside of it.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = 2;
static char *log_path;
static enum log_level log_max = LOG_INFO;

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

void log_msg(enum log_level level, const char *module, uint64_t req_id, const char *fmt, ...)
{
    if (level > log_max)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] %s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)tv.tv_usec / 1000, level_name[level], module);
    if (req_id)
        n += snprintf(line + n, sizeof line - (size_t)n, " #%llu", (unsigned long long)req_id);
    n += snprintf(line + n, sizeof line - (size_t)n, ": ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    /* note: messages can carry client-controlled text; keep each entry on one line */
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    pthread_mutex_lock(&log_lock);
    ssize_t w;
    do
        w = write(log_fd, line, len);
    while (w < 0 && errno == EINTR);
    pthread_mutex_unlock(&log_lock);
}
