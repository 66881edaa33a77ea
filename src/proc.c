/*
 * proc: see include/proc.h. The child starts with every signal unblocked and default
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

int proc_run(char *const argv[], const struct proc_opts *o)
{
    int pipefd[2] = {-1, -1};
    int rc = -1, devnull = -1;
    pid_t pid = -1;
    char **env = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    struct buf pending;
    buf_init(&pending, 0);

    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    if (o->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigfillset(&dfl);
    sigdelset(&dfl, SIGKILL);
    sigdelset(&dfl, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    env = merged_env(o->env_add);
    int err = posix_spawnp(&pid, argv[0], &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (err != 0) {
        log_error(o->log_tag ? o->log_tag : "proc", 0, "cannot run %s: %s", argv[0], strerror(err));
        goto out;
    }

    uint64_t deadline = o->timeout_ms ? clock_ms() + o->timeout_ms : 0;
    bool timed_out = false;
    for (;;) {
        int wait_ms = 200; /* wake regularly to notice proc_cancel_all() */
        if (atomic_load(&cancelled)) {
            timed_out = true;
            break;
        }
        if (deadline) {
            uint64_t now = clock_ms();
            if (now >= deadline) {
                timed_out = true;
                break;
            }
            if (deadline - now < (uint64_t)wait_ms)
                wait_ms = (int)(deadline - now);
        }
        struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            continue;
        char chunk[4096];
        ssize_t got = read(pipefd[0], chunk, sizeof chunk);
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
    if (timed_out) {
        kill(-pid, SIGKILL);
        if (atomic_load(&cancelled))
            log_warn(o->log_tag ? o->log_tag : "proc", 0, "%s stopped: wharf is shutting down",
                     argv[0]);
        else
            log_error(o->log_tag ? o->log_tag : "proc", 0, "%s timed out after %llu s; killed",
                      argv[0], (unsigned long long)(o->timeout_ms / 1000));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        rc = -2;
    else if (WIFEXITED(status))
        rc = WEXITSTATUS(status);
    else
        rc = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
    if (devnull >= 0)
        close(devnull);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    free(env);
    buf_dispose(&pending);
    return rc;
}
