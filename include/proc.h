/*
 * proc: run a command to completion from a threaded process, in its own process group: a
 * timeout or a stop kills the command and everything it started. A small guard process (a fork
 * of wharf that only makes system calls, then posix_spawn of the command) leads the group and
 * waits for the command; it has PR_SET_PDEATHSIG, so when wharf dies, even by kill -9, the
 * guard kills the whole group at once: no git or build command outlives a killed deploy.
 * (Processes that leave the group with setsid(), or that the command leaves running after it
 * exits, are not followed.) stdin is /dev/null; stdout and stderr go through a pipe: each line
 * is logged with a tag, and stdout can also be captured (capped). The command gets no other
 * file descriptor of wharf. Used by the git worker for git and the build command.
 */
#ifndef WHARF_PROC_H
#define WHARF_PROC_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct proc_opts {
    const char *cwd;      /* NULL = unchanged */
    char *const *env_add; /* extra "NAME=VALUE" entries, NULL-terminated; may be NULL */
    uint64_t timeout_ms;  /* 0 = none */
    const char *log_tag;  /* each output line is logged as "<tag>: line" */
    struct buf *capture;  /* stdout (and stderr) bytes, up to its cap; may be NULL */
    bool quiet;           /* log output lines at debug level only */
};

/** Run argv[0] (looked up in PATH) with argv. Returns the exit status (0..255), 128+signal if
 *  it was killed (127 if it could not be executed), or a negative errno: -ETIMEDOUT when it ran
 *  out of time or wharf is stopping (it was killed), -ENOENT when it is not in PATH, another
 *  when it could not be started. The death signal that protects the command is tied to the calling
 *  thread: call it from a thread that lives until it returns (any caller does: it blocks). */
int proc_run(char *const argv[], const struct proc_opts *o);

/** Kill every running and future command (shutdown): proc_run returns -ETIMEDOUT at once. */
void proc_cancel_all(void);

#endif
