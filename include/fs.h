/*
 * fs: open a normalised request path below a site root without ever leaving it. The fast path
 * is one openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); only when that meets a symlink does
 * the follow_symlinks policy decide, by resolving the real path and checking it is inside the
 * real root and has no hidden segment. FIFOs, sockets and devices are never opened for reading.
 */
#ifndef WHARF_FS_H
#define WHARF_FS_H

#include <sys/stat.h>

#include "config.h"

/**
 * Open root + rel (rel is a normalised path from path_normalize, starting with '/').
 * On success returns an fd (O_RDONLY, O_CLOEXEC) of a regular file or directory and fills *st;
 * the caller owns the fd. On failure returns -errno: -ENOENT (missing, or hidden by policy:
 * a symlink that may not be followed), -EACCES (permission), -EISDIR never, -EINVAL for a
 * special file. also: a second directory links may lead into under the same rules as the root
 * (a git site's shared directory, see fs.c); NULL = none.
 */
int fs_open_beneath(const char *root, const char *rel, enum follow_symlinks policy,
                    const char *also, struct stat *st);

/** Read exactly len bytes at offset 0 into buf; 0 or -errno (-EIO if the file shrank). */
int fs_read_all(int fd, void *buf, size_t len);

/** mkdir -p: the missing parents of path with mode 0755, path itself with mode (an existing
 *  one is left as it is). 0, or -1 with errno. */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
