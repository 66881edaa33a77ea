/*
 * fpm_supervisor: see include/fpm_supervisor.h. The pool is pm = static with as many children
 * as the FastCGI pool has requests in flight (fastcgi_max_conns, CONFIG_FCGI_SPAWN_CHILDREN by
 * default), so every connection has a child and no request ever waits in php-fpm's backlog
 * (docs/design-notes.md §3).
 */
#include "fpm_supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define START_WAIT_MS 10000
#define BACKOFF_MAX_MS 30000

extern char **environ;

struct fpm_supervisor {
    char *binary;
    char *dir;
    char *conf;
    struct upstream_addr up;
    pid_t pid;
    uint64_t restart_at_ms; /* 0 = running (or not due) */
    uint64_t backoff_ms;
    uint64_t started_ms;
    _Atomic unsigned restarts; /* fpm_supervisor_restarts */
};

static bool executable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

static char *search_dirs(void)
{
    const char *path = getenv("PATH");
    return xasprintf("%s:/usr/sbin:/usr/local/sbin", path ? path : "/usr/bin:/bin");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each php-fpm* name in dir that is an executable file, passed to fn; stops when fn says. */
static bool each_fpm(const char *dir, bool (*fn)(const char *dir, const char *name, void *),
                     void *arg)
{
    DIR *dh = opendir(dir);
    if (!dh)
        return false;
    struct dirent *de;
    bool stop = false;
    while (!stop && (de = readdir(dh))) {
        if (strncmp(de->d_name, "php-fpm", 7) != 0)
            continue;
        char *q = xasprintf("%s/%s", dir, de->d_name);
        if (executable(q))
            stop = fn(dir, de->d_name, arg);
        free(q);
    }
    closedir(dh);
    return stop;
}

struct best {
    char *path;
};

static bool newer(const char *dir, const char *name, void *arg)
{
    struct best *b = arg;
    char *q = xasprintf("%s/%s", dir, name);
    if (name[7] && (!b->path || strcmp(q, b->path) > 0)) {
        free(b->path);
        b->path = q;
    } else {
        free(q);
    }
    return false;
}

char *fpm_supervisor_find(const char *name)
{
    char *dirs = search_dirs();
    char *found = NULL;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/%s", d, name ? name : "php-fpm");
        if (executable(p)) {
            found = p;
            break;
        }
        free(p);
        if (!name) { /* no plain php-fpm here: the newest php-fpmX.Y */
            struct best b = {NULL};
            each_fpm(d, newer, &b);
            found = b.path;
        }
    }
    free(dirs);
    return found;
}

struct names {
    char **v;
    size_t n;
};

static bool collect(const char *dir, const char *name, void *arg)
{
    (void)dir;
    struct names *l = arg;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return false;
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = xstrdup(name);
    return false;
}

char *fpm_supervisor_installed(void)
{
    char *dirs = search_dirs();
    struct names l = {NULL, 0};
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save))
        each_fpm(d, collect, &l);
    free(dirs);
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, cmp_str);
    size_t len = 1;
    for (size_t i = 0; i < l.n; i++)
        len += strlen(l.v[i]) + 1;
    char *out = xmalloc(len), *w = out;
    *w = '\0';
    for (size_t i = 0; i < l.n; i++) {
        w += sprintf(w, "%s%s", i ? " " : "", l.v[i]);
        free(l.v[i]);
    }
    free(l.v);
    return out;
}

static int write_conf(struct fpm_supervisor *s, unsigned children, bool dev)
{
    FILE *f = fopen(s->conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "; written by wharf for local development; removed when wharf stops\n"
            "[global]\n"
            "pid = %s/php-fpm.pid\n"
            /* note: not /proc/self/fd/2, which php-fpm reopens by path: after a privilege drop
             * that is a root-owned file, pipe or journal socket it may not open. Its messages
             * reach wharf's standard error through --force-stderr instead. */
            "error_log = %s/php-fpm.log\n"
            "log_level = warning\n"
            "daemonize = no\n"
            "\n"
            "[wharf]\n"
            "listen = %s\n"
            "listen.mode = 0600\n"
            "pm = static\n"
            "pm.max_children = %u\n"
            "catch_workers_output = %s\n"
            "decorate_workers_output = no\n"
            "clear_env = no\n"
            "security.limit_extensions = .php\n",
            s->dir, s->dir, s->up.path, children,
            /* note: a worker's copy of each PHP message ("PHP message: ...") goes to its
             * stderr, which php-fpm's master would print apart from its request */
            dev ? "no" : "yes");
    return fclose(f);
}

static int spawn(struct fpm_supervisor *s)
{
    char *argv[7];
    int n = 0;
    argv[n++] = s->binary;
    argv[n++] = "--nodaemonize";
    argv[n++] = "--force-stderr";
    argv[n++] = "--fpm-config";
    argv[n++] = s->conf;
    if (geteuid() == 0)
        argv[n++] = "--allow-to-run-as-root";
    argv[n] = NULL;
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none); /* wharf blocks its signals; php-fpm needs them */
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    /* note: php-fpm talks to systemd itself when NOTIFY_SOCKET is set (READY=1, as if it were
     * the service): that variable is wharf's alone */
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **env = xcalloc(n_env + 1, sizeof *env);
    for (size_t i = 0, j = 0; i < n_env; i++)
        if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
            env[j++] = environ[i];
    int rc = posix_spawn(&s->pid, s->binary, NULL, &attr, argv, env);
    free(env);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        s->pid = 0;
        return -1;
    }
    s->started_ms = clock_ms();
    return 0;
}

static bool socket_ready(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    bool ok = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    return ok;
}

static void remove_dir(struct fpm_supervisor *s)
{
    char *files[] = {s->conf, s->up.path, NULL};
    for (size_t i = 0; files[i]; i++)
        unlink(files[i]);
    const char *names[] = {"php-fpm.pid", "php-fpm.log"};
    for (size_t i = 0; i < 2; i++) {
        char *f = xasprintf("%s/%s", s->dir, names[i]);
        unlink(f);
        free(f);
    }
    rmdir(s->dir);
}

struct fpm_supervisor *fpm_supervisor_start(unsigned children, const char *binary, bool dev,
                                            struct errlist *errs)
{
    struct fpm_supervisor *s = xcalloc(1, sizeof *s);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    s->binary = binary ? xstrdup(binary) : fpm_supervisor_find(NULL);
    if (!s->binary) {
        errlist_add(errs, "--php: php-fpm not found (install php-fpm, or give --php ADDRESS "
                          "of a running php-fpm)");
        free(s);
        return NULL;
    }
    s->dir = xasprintf("%s/wharf-fpm.XXXXXX", tmp);
    if (!mkdtemp(s->dir)) {
        errlist_add(errs, "--php: cannot create a directory in %s: %s", tmp, strerror(errno));
        goto fail;
    }
    s->conf = xasprintf("%s/php-fpm.conf", s->dir);
    s->up.path = xasprintf("%s/php-fpm.sock", s->dir);
    s->up.text = xasprintf("unix:%s", s->up.path);
    if (write_conf(s, children, dev) != 0) {
        errlist_add(errs, "--php: cannot write %s: %s", s->conf, strerror(errno));
        goto fail;
    }
    if (spawn(s) != 0) {
        errlist_add(errs, "--php: cannot start %s: %s", s->binary, strerror(errno));
        goto fail;
    }
    for (uint64_t t0 = clock_ms(); clock_ms() - t0 < START_WAIT_MS;) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            errlist_add(errs, "--php: %s exited at start (status %d); see its messages above",
                        s->binary, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            goto fail;
        }
        if (socket_ready(s->up.path)) {
            log_info("fpm", 0, "started %s (pid %ld) on %s with %u children", s->binary,
                     (long)s->pid, s->up.text, children);
            s->backoff_ms = 1000;
            return s;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    errlist_add(errs, "--php: %s did not open %s within %u s", s->binary, s->up.path,
                START_WAIT_MS / 1000);
fail:
    fpm_supervisor_stop(s);
    return NULL;
}

const struct upstream_addr *fpm_supervisor_upstream(const struct fpm_supervisor *s)
{
    return &s->up;
}

void fpm_supervisor_poll(struct fpm_supervisor *s)
{
    if (!s)
        return;
    uint64_t now = clock_ms();
    if (s->pid > 0) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) != s->pid)
            return;
        /* its children outlive a killed master and keep the old socket: end the whole group
         * (posix_spawn made the master a group leader) before starting a new one */
        kill(-s->pid, SIGKILL);
        s->pid = 0;
        /* a php-fpm that lived a while gets a quick restart; one that keeps dying backs off */
        if (now - s->started_ms > 60000)
            s->backoff_ms = 1000;
        log_error("fpm", 0, "php-fpm exited (%s %d); restarting in %llu ms",
                  WIFSIGNALED(status) ? "signal" : "status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                  (unsigned long long)s->backoff_ms);
        s->restart_at_ms = now + s->backoff_ms;
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
        return;
    }
    if (s->restart_at_ms && now >= s->restart_at_ms) {
        s->restart_at_ms = 0;
        unlink(s->up.path);
        if (spawn(s) != 0) {
            log_error("fpm", 0, "cannot restart %s: %s", s->binary, strerror(errno));
            s->restart_at_ms = now + s->backoff_ms;
        } else {
            atomic_fetch_add(&s->restarts, 1);
            log_warn("fpm", 0, "restarted %s (pid %ld)", s->binary, (long)s->pid);
        }
    }
}

unsigned fpm_supervisor_restarts(const struct fpm_supervisor *s)
{
    return s ? atomic_load(&((struct fpm_supervisor *)s)->restarts) : 0;
}

void fpm_supervisor_stop(struct fpm_supervisor *s)
{
    if (!s)
        return;
    if (s->pid > 0) {
        /* SIGQUIT: php-fpm's graceful stop (its children finish their request first) */
        kill(s->pid, SIGQUIT);
        int status;
        uint64_t t0 = clock_ms();
        bool killed = false;
        while (waitpid(s->pid, &status, WNOHANG) == 0) {
            if (clock_ms() - t0 > 5000) {
                kill(-s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
                killed = true;
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (killed)
            log_warn("fpm", 0, "php-fpm (pid %ld) did not stop within 5 s of SIGQUIT: killed",
                     (long)s->pid);
        else
            log_info("fpm", 0, "php-fpm (pid %ld) stopped gracefully in %llu ms", (long)s->pid,
                     (unsigned long long)(clock_ms() - t0));
        kill(-s->pid, SIGKILL); /* stragglers of its process group, if any */
    }
    if (s->dir && s->conf)
        remove_dir(s);
    else if (s->dir)
        rmdir(s->dir);
    free(s->binary);
    free(s->dir);
    free(s->conf);
    config_upstream_dispose(&s->up);
    free(s);
}
