/*
 * fs: see include/fs.h. Symlink policy:
 *   off    - RESOLVE_NO_SYMLINKS: any symlink on the way is "not found".
 *   inside - the real path must stay under the real root and contain no dot segment, so a
 *            link cannot reach outside the site nor into .git/ or a dotfile.
 *   on     - follow anywhere, but a target inside the root still may not be hidden.
 * A git site's shared directory (git_shared, "also" below) counts as inside for the first two
 * rules: a link into it is followed when its real path is under the real shared directory
 * with no dot segment below it, exactly as for the root, so shared uploads are served and a
 * link planted inside them (to /etc, to the state directory, to a shared .env) is not.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "path.h"
#include "util.h"

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

static int finish_open(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

/* Is real (an absolute, resolved path) root_real itself or below it, and if so is the part
 * below it free of hidden segments? */
static bool inside_and_visible(const char *real, const char *root_real, bool *inside)
{
    size_t n = strlen(root_real);
    if (n == 1 && root_real[0] == '/')
        n = 0; /* root is "/" */
    *inside = strncmp(real, root_real, n) == 0 && (real[n] == '/' || real[n] == '\0');
    if (!*inside)
        return false;
    return !path_has_hidden_segment(real[n] ? real + n : "/");
}

static int open_resolved(const char *root, const char *rel, enum follow_symlinks policy,
                         const char *also, struct stat *st)
{
    char *full = xasprintf("%s%s", root, rel);
    char *real = realpath(full, NULL);
    int real_errno = errno; /* realpath() may change errno even when it succeeds */
    char *root_real = realpath(root, NULL);
    char *also_real = NULL;
    int rc = -ENOENT;
    if (!real || !root_real) {
        rc = !real && real_errno ? -real_errno : -ENOENT;
        goto out;
    }
    bool inside;
    bool visible = inside_and_visible(real, root_real, &inside);
    if (!inside && also) {
        also_real = realpath(also, NULL);
        if (also_real) {
            free(root_real); /* from here on, the shared directory is the area checked */
            root_real = also_real;
            also_real = NULL;
            visible = inside_and_visible(real, root_real, &inside);
        }
    }
    if (inside ? !visible : policy != FOLLOW_ON)
        goto out;
    int fd = open(real, OPEN_FLAGS | O_NOFOLLOW);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (inside) {
        /* a link swapped between realpath() and open(): check what was really opened */
        char link[64], opened[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, opened, sizeof opened - 1);
        bool still_inside;
        if (n > 0) {
            opened[n] = '\0';
            if (!inside_and_visible(opened, root_real, &still_inside)) {
                close(fd);
                goto out;
            }
        }
    }
    rc = finish_open(fd, st);
out:
    free(full);
    free(real);
    free(root_real);
    free(also_real);
    return rc;
}

int fs_open_beneath(const char *root, const char *rel, enum follow_symlinks policy,
                    const char *also, struct stat *st)
{
    const char *relative = rel[0] == '/' ? rel + 1 : rel;
    if (relative[0] == '\0')
        relative = ".";
#ifdef HAVE_LINUX_OPENAT2_H
    int dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    struct open_how how = {
        .flags = OPEN_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, dirfd, relative, &how, sizeof how);
    int e = fd < 0 ? errno : 0;
    close(dirfd);
    if (fd >= 0)
        return finish_open(fd, st);
    if (e != ELOOP && e != ENOSYS && e != EXDEV)
        return -e;
    if (policy == FOLLOW_OFF && e != ENOSYS)
        return -ENOENT;
#endif
    if (policy == FOLLOW_OFF) {
        /* no openat2: refuse if any component is a symlink */
        char *full = xasprintf("%s%s", root, rel);
        char *real = realpath(full, NULL);
        char *root_real = realpath(root, NULL);
        size_t n = root_real ? strlen(root_real) : 0;
        size_t rel_len = strlen(rel);
        while (rel_len > 0 && rel[rel_len - 1] == '/')
            rel_len--; /* realpath() drops a directory's trailing slash */
        bool same = real && root_real && strncmp(real, root_real, n) == 0 &&
                    strlen(real + n) == rel_len && strncmp(real + n, rel, rel_len) == 0;
        int rc = -ENOENT;
        if (same) {
            int fd2 = open(real, OPEN_FLAGS | O_NOFOLLOW);
            rc = fd2 < 0 ? -errno : finish_open(fd2, st);
        }
        free(full);
        free(real);
        free(root_real);
        return rc;
    }
    return open_resolved(root, rel, policy, also, st);
}

int fs_read_all(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        got += (size_t)n;
    }
    return 0;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, mode) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}
