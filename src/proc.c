/*
 * proc: see include/proc.h. Each command runs under a guard process (run_guard) that leads its
 * process group and kills that group when wharf dies, so a kill -9 of wharf mid-deploy leaves
 * no git or git_then running. The command starts with every signal unblocked and default
 * dispositions (wharf's threads block TERM/INT/USR1/USR2/HUP and ignore PIPE; a git or a build
 * command must not inherit that).
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LINE_MAX_LOGGED 1000

extern char **environ;

static _Atomic bool cancelled;

void proc_cancel_all(void)
{
    atomic_store(&cancelled, true);
}

static char **merged_env(char *const *add)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (add && add[m])
        m++;
    char **env = xcalloc(n + m + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t len = strcspn(add[j], "=");
            replaced = strncmp(environ[i], add[j], len) == 0 && environ[i][len] == '=';
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = add[j];
    env[k] = NULL;
    return env;
}

static void log_lines(struct buf *pending, const struct proc_opts *o, bool flush)
{
    char *start = pending->data, *nl;
    size_t left = pending->len;
    while (left && ((nl = memchr(start, '\n', left)) || flush)) {
        size_t n = nl ? (size_t)(nl - start) : left;
        if (n && start[n - 1] == '\r')
            n--;
        if (n)
            log_msg(o->quiet ? LOG_DEBUG : LOG_INFO, o->log_tag ? o->log_tag : "proc", 0, "%.*s",
                    (int)(n > LINE_MAX_LOGGED ? LINE_MAX_LOGGED : n), start);
        size_t used = nl ? (size_t)(nl - start) + 1 : left;
        start += used;
        left -= used;
    }
    memmove(pending->data, start, left);
    pending->len = left;
}

/* argv[0] looked up in PATH (the guard cannot: it may only make system calls); NULL if there
 * is no such program. Caller frees. */
static char *find_program(const char *name)
{
    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;; p++) {
        size_t len = strcspn(p, ":");
        char *cand = xasprintf("%.*s%s%s", (int)len, p, len ? "/" : "", name);
        if (access(cand, X_OK) == 0)
            return cand;
        free(cand);
        p += len;
        if (!*p)
            return NULL;
    }
}

/* Close every descriptor from fd up (system calls only: the guard uses it). */
static void close_from(int fd)
{
#ifdef HAVE_CLOSE_RANGE
    if (close_range((unsigned)fd, ~0U, 0) == 0)
        return;
#endif
    for (; fd < 65536; fd++)
        close(fd);
}

/* What the guard needs, all made before fork(). */
struct guard_plan {
    const char *path; /* the program, resolved */
    char *const *argv;
    char **env;
    const char *cwd;
    int in_fd, out_fd; /* /dev/null, the pipe's write end */
    pid_t parent;
    posix_spawnattr_t attr; /* the command: empty signal mask, default dispositions */
};

/* The guard: a fork of wharf (only system calls from here: other threads may hold locks) that
 * leads the command's process group, starts the command in it and waits for it. Its exit
 * status is the command's (128 + signal if the command was killed). When the thread that
 * forked it dies (kill -9 of wharf included: PR_SET_PDEATHSIG) or it is told to stop, it kills
 * the whole group, itself included, so nothing a deploy started outlives it. */
static _Noreturn void run_guard(struct guard_plan *g)
{
    sigset_t all, stop;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL); /* signals are taken with sigwaitinfo below */
    setpgid(0, 0);
#ifdef HAVE_SYS_PRCTL_H
    /* note: the death signal is tied to the thread that forked us, which waits in proc_run */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (getppid() != g->parent) /* wharf died before prctl */
        _exit(127);
    /* above 2 first (wharf may run with 0, 1 or 2 closed), then onto 0, 1, 2 without CLOEXEC */
    int in = fcntl(g->in_fd, F_DUPFD, 3), out = fcntl(g->out_fd, F_DUPFD, 3);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(127);
    close_from(3); /* wharf's sockets, files and the deploy lock stay with wharf */
    if (g->cwd && chdir(g->cwd) != 0)
        _exit(127);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGCHLD, &dfl, NULL); /* queued while blocked, even if wharf ignored it */
    pid_t cmd;
    if (posix_spawn(&cmd, g->path, NULL, &g->attr, g->argv, g->env) != 0)
        _exit(127);
    sigemptyset(&stop);
    sigaddset(&stop, SIGCHLD);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    for (;;) {
        int sig = sigwaitinfo(&stop, NULL);
        int status;
        if (sig == SIGCHLD) {
            if (waitpid(cmd, &status, WNOHANG) == cmd)
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        } else if (sig > 0) {
            kill(0, SIGKILL); /* the group: the command, what it started, and this guard */
            _exit(128 + SIGKILL);
        }
    }
}

/* The command's signal state (posix_spawn attributes): nothing blocked, every disposition the
 * default. wharf's threads block TERM/INT/USR1/USR2/HUP and ignore PIPE: a git or a build
 * command must not inherit that. */
static void set_command_signals(posix_spawnattr_t *attr)
{
    sigset_t none, dfl;
    sigemptyset(&none);
    sigfillset(&dfl);
    sigdelset(&dfl, SIGKILL);
    sigdelset(&dfl, SIGSTOP);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &dfl);
    posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

/* How long the next poll may wait: at most 200 ms, to notice proc_cancel_all(); -1 when the
 * deadline (0 = none) has passed or wharf is stopping. */
static int next_wait_ms(uint64_t deadline)
{
    int wait_ms = 200;
    if (atomic_load(&cancelled))
        return -1;
    if (deadline) {
        uint64_t now = clock_ms();
        if (now >= deadline)
            return -1;
        if (deadline - now < (uint64_t)wait_ms)
            wait_ms = (int)(deadline - now);
    }
    return wait_ms;
}

/* Log (and capture) what the command writes on fd until EOF. true when it ran out of time or
 * wharf is stopping first: the command is then still running. */
static bool relay_output(int fd, const struct proc_opts *o)
{
    uint64_t deadline = o->timeout_ms ? clock_ms() + o->timeout_ms : 0;
    bool timed_out = false;
    struct buf pending; /* the last line, until its end arrives */
    buf_init(&pending, 0);
    for (;;) {
        int wait_ms = next_wait_ms(deadline);
        if (wait_ms < 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            continue;
        char chunk[4096];
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* EOF: the command (and its children) closed the pipe */
        if (o->capture)
            buf_append(o->capture, chunk, (size_t)got); /* past the cap: dropped */
        buf_append(&pending, chunk, (size_t)got);
        log_lines(&pending, o, false);
    }
    log_lines(&pending, o, true);
    buf_dispose(&pending);
    return timed_out;
}

/* Kill the guard's group when it timed out, wait for the guard, and give proc_run's result. */
static int reap_guard(pid_t pid, bool timed_out, const char *name, const struct proc_opts *o)
{
    int status;
    if (timed_out) {
        kill(-pid, SIGKILL);
        if (atomic_load(&cancelled))
            log_warn(o->log_tag ? o->log_tag : "proc", 0, "%s stopped: wharf is shutting down",
                     name);
        else
            log_error(o->log_tag ? o->log_tag : "proc", 0, "%s timed out after %llu s; killed",
                      name, (unsigned long long)(o->timeout_ms / 1000));
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return -ETIMEDOUT;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int proc_run(char *const argv[], const struct proc_opts *o)
{
    int pipefd[2] = {-1, -1};
    int rc = -EIO, devnull = -1;
    pid_t pid = -1;
    char **env = NULL;
    char *path = NULL;
    bool attr_ready = false;
    struct guard_plan g = {.argv = argv, .cwd = o->cwd, .parent = getpid()};
    const char *tag = o->log_tag ? o->log_tag : "proc";

    path = find_program(argv[0]);
    if (!path) {
        log_error(tag, 0, "cannot run %s: not found in PATH", argv[0]);
        rc = -ENOENT;
        goto out;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = -errno;
        log_error(tag, 0, "cannot run %s: %s", argv[0], strerror(errno));
        goto out;
    }
    posix_spawnattr_init(&g.attr);
    attr_ready = true;
    set_command_signals(&g.attr);
    env = merged_env(o->env_add);
    g.path = path;
    g.env = env;
    g.in_fd = devnull;
    g.out_fd = pipefd[1];
    pid = fork();
    if (pid == 0)
        run_guard(&g);
    int fork_errno = errno;
    close(pipefd[1]);
    pipefd[1] = -1;
    if (pid < 0) {
        rc = -fork_errno;
        log_error(tag, 0, "cannot run %s: %s", argv[0], strerror(fork_errno));
        goto out;
    }
    /* the guard leads the group: make sure of it before a timeout may kill(-pid) */
    setpgid(pid, pid);
    bool timed_out = relay_output(pipefd[0], o);
    rc = reap_guard(pid, timed_out, argv[0], o);
out:
    if (attr_ready)
        posix_spawnattr_destroy(&g.attr);
    if (devnull >= 0)
        close(devnull);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    free(env);
    free(path);
    return rc;
}
