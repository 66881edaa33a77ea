/*
 * proc: run a command to completion from a threaded process. posix_spawn (no fork of a process
 * holding locks in other threads), its own process group (a timeout kills the command and
 * everything it started), stdin from /dev/null, stdout and stderr through a pipe: each line is
 * logged with a tag, and stdout can also be captured (capped). Used by the git worker for git
 * and the build command.
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
 *  it was killed, -1 if it could not be started, -2 on timeout (it was killed). */
int proc_run(char *const argv[], const struct proc_opts *o);

/** Kill every running and future command (shutdown): proc_run returns -2 at once. */
void proc_cancel_all(void);

#endif
