/*
 * privileges: who wharf runs as. Started as root with [server] user (or --user), wharf opens
 * what needs root (listen sockets below 1024, TLS keys, its log files), then drops to that user
 * and group for good before any thread or child process exists, so every thread, php-fpm
 * (spawned) and git run unprivileged. What it does not do: chroot, capabilities, or keeping a
 * privileged helper (a reopened log or a new release is made as the user).
 */
#ifndef WHARF_PRIVILEGES_H
#define WHARF_PRIVILEGES_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

struct privileges {
    bool drop;        /* a switch is due: running as root and user names another account */
    const char *user; /* the configured name (the config's string) */
    uid_t uid;
    gid_t gid;
};

/**
 * Look up cfg's user and group (names, or numbers). Errors go to errs as "FILE:LINE: user
 * 'x': ...": an unknown user or group, or a group without a user, or a user other than the
 * current one while not running as root. With no user, p->drop is false.
 */
int privileges_resolve(const struct config *cfg, struct privileges *p, struct errlist *errs);

/**
 * Become p's user for good: setgroups (the user's supplementary groups, initgroups), setgid,
 * setuid; then verify that the real and effective ids are the target and that setuid(0) fails.
 * Call before any thread is started. Returns 0, or -1 with the reason in errs.
 */
int privileges_drop(const struct privileges *p, struct errlist *errs);

/** A log file (path, or NULL / "-" for stderr) opened as root before the drop: create it if
 *  missing and give it to p's user, so the user can reopen it after a rotation. No-op when no
 *  drop is due. */
void privileges_own_file(const struct privileges *p, const char *path);

/** Warn (log_warn) when running as root without user while a listener is not on loopback. */
void privileges_warn_root(const struct config *cfg);

#endif
