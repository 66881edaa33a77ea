/*
 * access_log: the line formatters (pure; timed_combined, combined, json) and the buffered writer
 * behind them. A line is formatted straight into the log's pending buffer, under its lock: no
 * allocation per request (the buffer grows to its high-water mark and stays).
 * Request threads only append to an in-memory buffer under a short per-log mutex; one writer
 * thread swaps that buffer out and write()s it with no request-visible lock held, so a slow
 * disk costs memory (capped at ACCESS_LOG_MAX_BACKLOG, then lines are dropped and counted), never
 * latency. Lock order is list_lock, pass_lock, io_lock, lock; list_lock is never held together
 * with io_lock or lock.
 * Logs live on a list (prepend under list_lock), one object per path, counted by the sites
 * that use it: access_log_close() by the last one unlinks the log, waits for the writer's (or
 * a reopen's) walk of the list to end (pass_lock, taken before the walk reads the head), then
 * flushes and closes it. So a walk never meets a freed log, and a file no site uses any more
 * after a reload is not kept open. Nothing here may be called from a signal
 * handler: main.c turns SIGUSR1 into a call to access_log_reopen_all() from a normal thread.
 */
#include "access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define ACCESS_LOG_MAX_BACKLOG (4u << 20) /* bytes queued per log before lines are dropped */
#define ACCESS_LOG_KICK_BYTES (64u << 10) /* wake the writer early past this much */
#define ACCESS_LOG_INTERVAL_MS 100        /* the writer's flush period */
#define ACCESS_LOG_SPARE_KEEP (1u << 20)  /* the writer's spare buffer is freed above this */

struct access_log {
    struct access_log *next; /* guarded by list_lock */
    char *path;
    bool is_stdout;
    unsigned refs; /* access_log_open()s not yet closed; guarded by list_lock */

    pthread_mutex_t lock; /* guards fd, pending and dropped; held only for memcpy-sized work */
    int fd;
    struct buf pending; /* formatted lines not yet taken by the writer */
    uint64_t dropped;   /* lines lost to the backlog cap since the last report */

    pthread_mutex_t io_lock; /* held while writing; orders the writer thread against reopen */
    struct buf out;          /* the writer's spare buffer, empty between writes */
    bool write_failing;      /* last write failed: report only the first error of a burst */
};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pass_lock = PTHREAD_MUTEX_INITIALIZER; /* held by a walk of the list */
static pthread_cond_t wake; /* CLOCK_MONOTONIC, created by the first access_log_start() */
static bool wake_ready, running, stopping, kicked;
static pthread_t writer;
static struct access_log *logs;

/* ---- formatter ---------------------------------------------------------------------------- */

/* Escape s as one field of a text line: printable ASCII stays, every other byte becomes \xHH.
 * nginx escapes '"' and '\' as \x22 and \x5C too, so a parser never needs to know a backslash
 * rule (combined); the timed_combined format keeps its Apache-style \" and \\ as before. In
 * unquoted fields (address, user) a space is escaped too, so every field stays one
 * whitespace-separated word for log parsers. NULL and "" are "-". */
static int put_field(struct buf *b, const char *s, bool quoted, bool hex_quotes)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start = 0, i;

    if (!s || !*s)
        return buf_putc(b, '-');
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && (quoted || c != ' '))
            continue;
        if (buf_append(b, s + start, i - start) != 0)
            return -1;
        if ((c == '"' || c == '\\') && !hex_quotes ? buf_append(b, (char[]){'\\', (char)c}, 2)
                                                   : buf_append(b, esc, 4))
            return -1;
        start = i + 1;
    }
    return buf_append(b, s + start, i - start);
}

/* UTC broken-down time of t_ms, false when it has no four-digit year. */
static bool utc_of(int64_t t_ms, struct tm *tm)
{
    time_t t = (time_t)(t_ms / 1000);

    return t_ms >= 0 && gmtime_r(&t, tm) && tm->tm_year + 1900 <= 9999;
}

/* The numbers of a line are written without printf: a line is formatted for every request,
 * and vfprintf was 5 % of wharf's CPU on a 1 KiB file with the log on (docs/benchmarks.md). */
static int put_u64(struct buf *b, uint64_t v)
{
    char d[24];
    return buf_append(b, d, u64_to_dec(d, v));
}

/* v (below 10^width) as exactly width digits, zero-padded */
static int put_digits(struct buf *b, unsigned v, unsigned width)
{
    char d[8];
    for (unsigned i = width; i-- > 0; v /= 10)
        d[i] = (char)('0' + v % 10);
    return buf_append(b, d, width);
}

static int put_clf_time(struct buf *b, int64_t t_ms)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (!utc_of(t_ms, &tm))
        return buf_puts(b, "[-]");
    /* [dd/Mon/yyyy:hh:mm:ss +0000] */
    return buf_putc(b, '[') != 0 || put_digits(b, (unsigned)tm.tm_mday % 100, 2) != 0 ||
                   buf_putc(b, '/') != 0 || buf_puts(b, months[tm.tm_mon]) != 0 ||
                   buf_putc(b, '/') != 0 ||
                   put_digits(b, (unsigned)(tm.tm_year + 1900) % 10000, 4) != 0 ||
                   buf_putc(b, ':') != 0 || put_digits(b, (unsigned)tm.tm_hour % 100, 2) != 0 ||
                   buf_putc(b, ':') != 0 || put_digits(b, (unsigned)tm.tm_min % 100, 2) != 0 ||
                   buf_putc(b, ':') != 0 || put_digits(b, (unsigned)tm.tm_sec % 100, 2) != 0 ||
                   buf_puts(b, " +0000]") != 0
               ? -1
               : 0;
}

/* The shared head of both combined formats, up to the user agent's closing quote. */
static int put_combined(struct buf *b, const struct access_entry *e, bool nginx)
{
    if (put_field(b, e->remote_addr, false, nginx) != 0 || buf_puts(b, " - ") != 0 ||
        put_field(b, e->remote_user, false, nginx) != 0 || buf_putc(b, ' ') != 0 ||
        put_clf_time(b, e->time_ms) != 0 || buf_puts(b, " \"") != 0 ||
        put_field(b, e->method, true, nginx) != 0 || buf_putc(b, ' ') != 0 ||
        put_field(b, e->target, true, nginx) != 0 || buf_putc(b, ' ') != 0 ||
        put_field(b, e->protocol, true, nginx) != 0 || buf_puts(b, "\" ") != 0 ||
        put_u64(b, e->status) != 0 || buf_putc(b, ' ') != 0)
        return -1;
    /* note: timed_combined prints bytes as a number even when 0 (nginx $body_bytes_sent);
     * combined is Apache's %b, "-" for no body, which is what its parsers expect */
    if (nginx && e->bytes == 0 ? buf_putc(b, '-') : put_u64(b, e->bytes))
        return -1;
    return buf_puts(b, " \"") != 0 || put_field(b, e->referer, true, nginx) != 0 ||
                   buf_puts(b, "\" \"") != 0 || put_field(b, e->user_agent, true, nginx) != 0 ||
                   buf_putc(b, '"') != 0
               ? -1
               : 0;
}

/* ,"name": then a JSON string, or null for NULL. */
static int put_json_str(struct buf *b, const char *name, const char *s)
{
    if (buf_puts(b, ",\"") != 0 || buf_puts(b, name) != 0 || buf_puts(b, "\":") != 0)
        return -1;
    if (!s)
        return buf_puts(b, "null");
    return buf_putc(b, '"') != 0 || buf_append_json(b, s, strlen(s)) != 0 || buf_putc(b, '"') != 0
               ? -1
               : 0;
}

static int put_json(struct buf *b, const struct access_entry *e)
{
    struct tm tm;
    int rc;

    if (utc_of(e->time_ms, &tm))
        rc = buf_printf(b, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\"", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        (unsigned)(e->time_ms % 1000));
    else
        rc = buf_puts(b, "{\"time\":null");
    return rc != 0 || put_json_str(b, "site", e->site) != 0 ||
                   put_json_str(b, "client", e->remote_addr) != 0 ||
                   put_json_str(b, "method", e->method) != 0 ||
                   put_json_str(b, "path", e->target) != 0 ||
                   put_json_str(b, "protocol", e->protocol) != 0 ||
                   buf_printf(b,
                              ",\"status\":%u,\"bytes\":%" PRIu64 ",\"duration\":%" PRIu64 ".%06u",
                              e->status, e->bytes, e->duration_us / 1000000,
                              (unsigned)(e->duration_us % 1000000)) != 0 ||
                   put_json_str(b, "upstream", e->upstream) != 0 ||
                   buf_printf(b, ",\"request_id\":%" PRIu64, e->request_id) != 0 ||
                   put_json_str(b, "referer", e->referer) != 0 ||
                   put_json_str(b, "user_agent", e->user_agent) != 0 || buf_puts(b, "}\n") != 0
               ? -1
               : 0;
}

int access_log_format(struct buf *b, enum access_log_style style, const struct access_entry *e)
{
    size_t start = b->len;
    int rc;

    if (style == ACCESS_LOG_JSON) {
        rc = put_json(b, e);
    } else if (style == ACCESS_LOG_COMBINED) {
        rc = put_combined(b, e, true) != 0 || buf_putc(b, '\n') != 0 ? -1 : 0;
    } else {
        /* Milliseconds, rounded to nearest: $request_time precision in nginx. */
        uint64_t ms = e->duration_us / 1000 + (e->duration_us % 1000 >= 500);
        rc = put_combined(b, e, false) != 0 || buf_putc(b, ' ') != 0 ||
                     put_u64(b, ms / 1000) != 0 || buf_putc(b, '.') != 0 ||
                     put_digits(b, (unsigned)(ms % 1000), 3) != 0 || buf_putc(b, '\n') != 0
                 ? -1
                 : 0;
    }
    if (rc != 0) {
        buf_truncate(b, start); /* never leave half a line in a log */
    }
    return rc;
}

/* ---- writer ------------------------------------------------------------------------------- */

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* Returns 0, or -1 with errno set; the bytes not written are lost. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write l->out to fd and empty it. Caller holds l->io_lock. */
static void write_out(struct access_log *l, int fd)
{
    if (l->out.len == 0)
        return;
    if (write_all(fd, l->out.data, l->out.len) != 0) {
        if (!l->write_failing)
            log_error("access_log", 0, "%s: write failed, dropping %zu bytes: %s", l->path,
                      l->out.len, strerror(errno));
        l->write_failing = true;
    } else {
        l->write_failing = false;
    }
    if (l->out.cap > ACCESS_LOG_SPARE_KEEP) {
        /* A burst left a big spare; give it back rather than keep it for good. */
        buf_dispose(&l->out);
        buf_init(&l->out, ACCESS_LOG_MAX_BACKLOG);
    } else {
        buf_reset(&l->out);
    }
}

/* Swap pending out (l->out is empty: io_lock held) and return the fd to write it to. Caller
 * holds io_lock and lock. */
static int take_pending(struct access_log *l, uint64_t *dropped)
{
    struct buf t = l->pending;

    l->pending = l->out;
    l->out = t;
    *dropped = l->dropped;
    l->dropped = 0;
    return l->fd;
}

static void report_dropped(const struct access_log *l, uint64_t dropped)
{
    if (dropped)
        log_warn("access_log", 0, "%s: backlog over %u bytes, dropped %" PRIu64 " lines", l->path,
                 ACCESS_LOG_MAX_BACKLOG, dropped);
}

static void flush_log(struct access_log *l)
{
    uint64_t dropped;
    int fd;

    pthread_mutex_lock(&l->io_lock);
    pthread_mutex_lock(&l->lock);
    fd = take_pending(l, &dropped);
    pthread_mutex_unlock(&l->lock);
    write_out(l, fd);
    pthread_mutex_unlock(&l->io_lock);
    report_dropped(l, dropped);
}

static void *on_writer(void *arg)
{
    pthread_mutex_lock(&list_lock);
    while (!stopping) {
        struct access_log *head;

        if (!kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += ACCESS_LOG_INTERVAL_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&wake, &list_lock, &ts);
        }
        kicked = false;
        pthread_mutex_lock(&pass_lock);
        head = logs;
        pthread_mutex_unlock(&list_lock);
        for (struct access_log *l = head; l; l = l->next)
            flush_log(l);
        pthread_mutex_unlock(&pass_lock);
        pthread_mutex_lock(&list_lock);
    }
    pthread_mutex_unlock(&list_lock);
    return NULL;
}

struct access_log *access_log_open(const char *path, const char **why)
{
    struct access_log *l;
    int fd;

    pthread_mutex_lock(&list_lock);
    for (l = logs; l; l = l->next) {
        if (strcmp(l->path, path) == 0) {
            l->refs++;
            goto out;
        }
    }
    /* note: decide by name, not by fd: with stdout closed, open() itself may return 1. */
    bool is_stdout = strcmp(path, "-") == 0;
    fd = is_stdout ? STDOUT_FILENO : open_file(path);
    if (fd < 0) {
        if (why)
            *why = strerror(errno);
        goto out; /* l is NULL here */
    }
    l = xcalloc(1, sizeof *l);
    l->path = xstrdup(path);
    l->is_stdout = is_stdout;
    l->fd = fd;
    l->refs = 1;
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->io_lock, NULL);
    buf_init(&l->pending, ACCESS_LOG_MAX_BACKLOG);
    buf_init(&l->out, ACCESS_LOG_MAX_BACKLOG);
    l->next = logs;
    logs = l;
out:
    pthread_mutex_unlock(&list_lock);
    return l;
}

void access_log_write(struct access_log *l, enum access_log_style style,
                      const struct access_entry *e)
{
    bool kick = false;

    pthread_mutex_lock(&l->lock);
    size_t before = l->pending.len;
    if (access_log_format(&l->pending, style, e) != 0)
        l->dropped++;
    else
        kick = before < ACCESS_LOG_KICK_BYTES && l->pending.len >= ACCESS_LOG_KICK_BYTES;
    pthread_mutex_unlock(&l->lock);
    if (kick) {
        pthread_mutex_lock(&list_lock);
        kicked = true;
        if (running)
            pthread_cond_signal(&wake);
        pthread_mutex_unlock(&list_lock);
    }
}

int access_log_start(void)
{
    int rc = 0;

    pthread_mutex_lock(&list_lock);
    if (running)
        goto out;
    if (!wake_ready) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&wake, &attr);
        pthread_condattr_destroy(&attr);
        wake_ready = true;
    }
    /* Signals belong to the main thread; the writer must never be picked to run a handler. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    stopping = false;
    rc = pthread_create(&writer, NULL, on_writer, NULL) == 0 ? 0 : -1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    running = rc == 0;
out:
    pthread_mutex_unlock(&list_lock);
    return rc;
}

void access_log_reopen_all(void)
{
    struct access_log *head;

    pthread_mutex_lock(&list_lock);
    pthread_mutex_lock(&pass_lock);
    head = logs;
    pthread_mutex_unlock(&list_lock);
    for (struct access_log *l = head; l; l = l->next) {
        uint64_t dropped;
        int fd, old;

        if (l->is_stdout)
            continue;
        fd = open_file(l->path);
        if (fd < 0) {
            log_error("access_log", 0, "%s: reopen failed, keeping the old file: %s", l->path,
                      strerror(errno));
            continue;
        }
        /* Lines queued before the reopen still go to the old (rotated) file; only then is it
         * closed, so no line is lost and none lands in the wrong file. */
        pthread_mutex_lock(&l->io_lock);
        pthread_mutex_lock(&l->lock);
        old = take_pending(l, &dropped);
        l->fd = fd;
        pthread_mutex_unlock(&l->lock);
        write_out(l, old);
        close(old);
        pthread_mutex_unlock(&l->io_lock);
        report_dropped(l, dropped);
    }
    pthread_mutex_unlock(&pass_lock);
}

/* Write what l still holds, close its file and free it. l is on no list. */
static void free_log(struct access_log *l)
{
    flush_log(l);
    if (!l->is_stdout)
        close(l->fd);
    pthread_mutex_destroy(&l->lock);
    pthread_mutex_destroy(&l->io_lock);
    buf_dispose(&l->pending);
    buf_dispose(&l->out);
    free(l->path);
    free(l);
}

void access_log_close(struct access_log *l)
{
    struct access_log **pp;

    if (!l)
        return;
    pthread_mutex_lock(&list_lock);
    if (--l->refs > 0) {
        pthread_mutex_unlock(&list_lock);
        return;
    }
    for (pp = &logs; *pp != l; pp = &(*pp)->next)
        ;
    *pp = l->next;
    pthread_mutex_unlock(&list_lock);
    /* A walk that read the head before the unlink may still reach l: wait for it to end. */
    pthread_mutex_lock(&pass_lock);
    pthread_mutex_unlock(&pass_lock);
    free_log(l);
}

void access_log_shutdown(void)
{
    struct access_log *head, *next;
    bool was_running;

    pthread_mutex_lock(&list_lock);
    was_running = running;
    stopping = true;
    if (running)
        pthread_cond_signal(&wake);
    pthread_mutex_unlock(&list_lock);
    if (was_running)
        pthread_join(writer, NULL);

    pthread_mutex_lock(&list_lock);
    head = logs;
    logs = NULL;
    running = stopping = kicked = false;
    pthread_mutex_unlock(&list_lock);
    for (struct access_log *l = head; l; l = next) {
        next = l->next;
        free_log(l);
    }
}
