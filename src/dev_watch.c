/*
 * dev_watch: see include/dev_watch.h.
 *
 * The hub (lock, seq, the streams) is shared by the watcher thread and the MHD threads that
 * run the streams' connections. A stream has seen every change up to its `seen`; its reader
 * sends the newest event when seen < seq, else parks the connection (suspend, under the hub
 * lock), and publish() resumes the parked ones under the same lock, so a change can never
 * fall between "nothing new" and "parked". MHD frees a response (on_free) without holding a
 * lock of its own that resume takes, so on_free may take the hub lock.
 *
 * Notes: inotify has no recursive mode: each directory gets its own watch, and a directory
 * created later is added when its IN_CREATE arrives (files made in it before that are missed,
 * but the page reloads anyway). A full queue (IN_Q_OVERFLOW) is one more "reload".
 */
#include "dev_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "handler.h"
#include "live_reload.h"
#include "log.h"
#include "response.h"
#include "util.h"

#define WATCH_MASK                                                                                 \
    (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR |           \
     IN_EXCL_UNLINK)

struct stream {
    struct MHD_Connection *c;
    uint64_t seen; /* changes up to this one were sent */
    bool hello;    /* the retry line and the comment went out */
    bool parked;   /* suspended, waiting for publish() */
    struct stream *prev, *next;
};

static struct {
    pthread_mutex_t lock;
    uint64_t seq;        /* changes announced */
    const char *event;   /* the newest one's data ("css" or "reload") */
    bool closing;        /* every stream ends */
    struct stream *head; /* every open stream */
} hub = {PTHREAD_MUTEX_INITIALIZER, 0, "reload", false, NULL};

static struct {
    int fd, stop_fd;
    char *root;    /* the project */
    char **ignore; /* names never entered */
    size_t n_ignore;
    char **dirs; /* dirs[wd]: the watched directory, relative ("" = root) */
    size_t n_dirs;
    pthread_t thread;
    bool started;
} w = {-1, -1, NULL, NULL, 0, NULL, 0, 0, false};

static _Atomic unsigned long n_changes;

/* ---- the hub ------------------------------------------------------------------------------ */

static void publish(const char *event)
{
    pthread_mutex_lock(&hub.lock);
    hub.seq++;
    hub.event = event;
    for (struct stream *s = hub.head; s; s = s->next)
        if (s->parked) {
            s->parked = false;
            MHD_resume_connection(s->c);
        }
    pthread_mutex_unlock(&hub.lock);
    atomic_fetch_add(&n_changes, 1);
}

void dev_watch_close_streams(void)
{
    pthread_mutex_lock(&hub.lock);
    hub.closing = true;
    for (struct stream *s = hub.head; s; s = s->next)
        if (s->parked) {
            s->parked = false;
            MHD_resume_connection(s->c);
        }
    pthread_mutex_unlock(&hub.lock);
}

unsigned long dev_watch_changes(void)
{
    return atomic_load(&n_changes);
}

/* MHD's content reader, in the connection's thread with MHD's response mutex held. */
static ssize_t on_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct stream *s = cls;
    ssize_t ret = 0;
    (void)pos;
    pthread_mutex_lock(&hub.lock);
    if (hub.closing) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (!s->hello) { /* reconnect quickly after a restart of wharf */
        ret = snprintf(out, max, "retry: 500\n: wharf live reload\n\n");
        s->hello = true;
    } else if (s->seen < hub.seq) {
        ret = snprintf(out, max, "data: %s\n\n", hub.event);
        s->seen = hub.seq;
    } else {
        s->parked = true;
        MHD_suspend_connection(s->c);
    }
    pthread_mutex_unlock(&hub.lock);
    return ret < 0 || (size_t)ret >= max ? MHD_CONTENT_READER_END_WITH_ERROR : ret;
}

static void on_free(void *cls)
{
    struct stream *s = cls;
    pthread_mutex_lock(&hub.lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        hub.head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&hub.lock);
    free(s);
}

enum MHD_Result dev_watch_events_start(struct MHD_Connection *c, struct request *r)
{
    r->handler = &handler_error; /* no state: MHD drives the stream through the reader */
    if (strcmp(r->method, "GET") != 0)
        return response_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, MHD_HTTP_HEADER_ALLOW,
                              "GET");
    struct stream *s = xcalloc(1, sizeof *s);
    s->c = c;
    pthread_mutex_lock(&hub.lock);
    s->seen = hub.seq; /* only what changes from now on */
    s->next = hub.head;
    if (hub.head)
        hub.head->prev = s;
    hub.head = s;
    pthread_mutex_unlock(&hub.lock);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, on_read, s, on_free);
    if (!resp) {
        on_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, WHARF_SERVER_HEADER);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = response_queue(c, r, MHD_HTTP_OK, resp, 0);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- the watcher -------------------------------------------------------------------------- */

static bool ignored(const char *name)
{
    static const char *const always[] = {"vendor", "node_modules", ".git"};
    for (size_t i = 0; i < ARRAY_LEN(always); i++)
        if (strcmp(name, always[i]) == 0)
            return true;
    for (size_t i = 0; i < w.n_ignore; i++)
        if (strcmp(name, w.ignore[i]) == 0)
            return true;
    return false;
}

/* Watch rel (relative to the root, "" = the root) and every directory under it. */
static void add_tree(const char *rel, unsigned depth)
{
    char *full = rel[0] ? xasprintf("%s/%s", w.root, rel) : xstrdup(w.root);
    int wd = inotify_add_watch(w.fd, full, WATCH_MASK);
    if (wd < 0) {
        if (errno == ENOSPC)
            log_warn("dev", 0,
                     "--watch: no more inotify watches (fs.inotify.max_user_watches); "
                     "%s and below are not watched",
                     full);
        free(full);
        return;
    }
    if ((size_t)wd >= w.n_dirs) {
        size_t n = (size_t)wd + 64;
        w.dirs = xrealloc(w.dirs, n * sizeof *w.dirs);
        memset(w.dirs + w.n_dirs, 0, (n - w.n_dirs) * sizeof *w.dirs);
        w.n_dirs = n;
    }
    free(w.dirs[wd]);
    w.dirs[wd] = xstrdup(rel);
    DIR *d = depth < 64 ? opendir(full) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            ignored(de->d_name))
            continue;
        char *sub = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        add_tree(sub, depth + 1);
        free(sub);
    }
    if (d)
        closedir(d);
    free(full);
}

/* Editors' scratch files are not changes: ".x.swp", "x~", vim's "4913". */
static bool scratch(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n && name[n - 1] == '~') || strcmp(name, "4913") == 0;
}

/* Read what is queued; returns how many changes it held, *all_css when each was a .css file. */
static unsigned take_events(bool *all_css)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    unsigned n = 0;
    for (;;) {
        ssize_t len = read(w.fd, buf, sizeof buf);
        if (len <= 0)
            return n;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                *all_css = false;
                n++;
                continue;
            }
            if (ev->wd < 0 || (size_t)ev->wd >= w.n_dirs || !w.dirs[ev->wd] || !ev->len)
                continue;
            if ((ev->mask & IN_ISDIR) && ignored(ev->name))
                continue;
            const char *dir = w.dirs[ev->wd];
            char *rel = dir[0] ? xasprintf("%s/%s", dir, ev->name) : xstrdup(ev->name);
            if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
                add_tree(rel, 0);
                *all_css = false;
                n++;
            } else if (!(ev->mask & IN_ISDIR) && !scratch(ev->name) &&
                       !(ev->mask & IN_CREATE)) { /* its IN_CLOSE_WRITE follows */
                if (strcmp(live_reload_event(rel, strlen(rel)), "css") != 0)
                    *all_css = false;
                n++;
            } else if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_DELETE | IN_MOVED_FROM))) {
                *all_css = false;
                n++;
            }
            free(rel);
        }
    }
}

static void *run(void *arg)
{
    (void)arg;
    struct pollfd pfd[2] = {{w.fd, POLLIN, 0}, {w.stop_fd, POLLIN, 0}};
    unsigned pending = 0;
    bool all_css = true;
    for (;;) {
        /* a change waits until DEV_WATCH_QUIET_MS pass without another one */
        int rc = poll(pfd, 2, pending ? DEV_WATCH_QUIET_MS : -1);
        if (rc < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        if (rc > 0 && pfd[0].revents) {
            pending += take_events(&all_css);
            continue;
        }
        if (rc == 0 && pending) {
            publish(all_css ? "css" : "reload");
            pending = 0;
            all_css = true;
        }
    }
    return NULL;
}

int dev_watch_start(const char *dir, const struct str_list *ignore, struct errlist *errs)
{
    w.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    w.stop_fd = eventfd(0, EFD_CLOEXEC);
    if (w.fd < 0 || w.stop_fd < 0) {
        errlist_add(errs, "--watch: inotify: %s", strerror(errno));
        dev_watch_stop();
        return -1;
    }
    w.root = xstrdup(dir);
    for (size_t i = 0; ignore && i < ignore->n; i++) {
        w.ignore = xrealloc(w.ignore, (w.n_ignore + 1) * sizeof *w.ignore);
        w.ignore[w.n_ignore++] = xstrdup(ignore->v[i]);
    }
    add_tree("", 0);
    if (!w.n_dirs) {
        errlist_add(errs, "--watch: cannot watch %s: %s", dir, strerror(errno));
        dev_watch_stop();
        return -1;
    }
    if (pthread_create(&w.thread, NULL, run, NULL) != 0) {
        errlist_add(errs, "--watch: cannot start its thread");
        dev_watch_stop();
        return -1;
    }
    w.started = true;
    return 0;
}

void dev_watch_stop(void)
{
    if (w.started) {
        uint64_t one = 1;
        if (write(w.stop_fd, &one, sizeof one) < 0)
            log_warn("dev", 0, "--watch: cannot stop its thread: %s", strerror(errno));
        pthread_join(w.thread, NULL);
        w.started = false;
    }
    if (w.fd >= 0)
        close(w.fd);
    if (w.stop_fd >= 0)
        close(w.stop_fd);
    w.fd = w.stop_fd = -1;
    for (size_t i = 0; i < w.n_dirs; i++)
        free(w.dirs[i]);
    free(w.dirs);
    for (size_t i = 0; i < w.n_ignore; i++)
        free(w.ignore[i]);
    free(w.ignore);
    free(w.root);
    w.dirs = NULL;
    w.ignore = NULL;
    w.root = NULL;
    w.n_dirs = w.n_ignore = 0;
}
