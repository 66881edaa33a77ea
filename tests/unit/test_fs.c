/* fs: what fs_open_beneath opens under each follow_symlinks policy, on a real directory tree. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "tap.h"

static char top[] = "/tmp/wharf-test-fs.XXXXXX";
static char root[256];

static void put_file(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", top, rel);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static void mk(const char *kind, const char *rel, const char *target)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", top, rel);
    if (kind[0] == 'd')
        mkdir(p, 0755);
    else if (kind[0] == 'l')
        symlink(target, p);
    else
        mkfifo(p, 0644);
}

/* The result of opening rel under policy, with also as the second allowed area (a git site's
 * shared directory; NULL = none): the first bytes of a file, "<dir>", or "-ERRNO". */
static const char *open_shared(const char *rel, enum follow_symlinks policy, const char *also)
{
    static char out[64];
    struct stat st;
    int fd = fs_open_beneath(root, rel, policy, also, &st);
    if (fd < 0) {
        snprintf(out, sizeof out, "-%s",
                 fd == -ENOENT   ? "ENOENT"
                 : fd == -EINVAL ? "EINVAL"
                                 : "other");
        return out;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return "<dir>";
    }
    ssize_t n = read(fd, out, sizeof out - 1);
    out[n < 0 ? 0 : n] = '\0';
    close(fd);
    return out;
}

static const char *open_as(const char *rel, enum follow_symlinks policy)
{
    return open_shared(rel, policy, NULL);
}

int main(void)
{
    if (!mkdtemp(top))
        return 99;
    snprintf(root, sizeof root, "%s/root", top);
    mk("d", "root", NULL);
    mk("d", "root/sub", NULL);
    mk("d", "root/.git", NULL);
    mk("d", "outside", NULL);
    put_file("root/a.txt", "A");
    put_file("root/sub/b.txt", "B");
    put_file("root/.git/config", "SECRET-GIT");
    put_file("outside/secret", "SECRET-OUT");
    mk("l", "root/in", "a.txt");              /* stays inside */
    mk("l", "root/subdir", "sub");            /* a directory link inside */
    mk("l", "root/out", "../outside/secret"); /* escapes the root */
    mk("l", "root/hid", ".git/config");       /* inside, but hidden */
    mk("l", "root/abs", "/etc/hostname");     /* absolute, outside */
    mk("l", "root/dangling", "nowhere");
    mk("f", "root/fifo", NULL);

    /* plain files and directories, any policy */
    is_str(open_as("/a.txt", FOLLOW_OFF), "A", "a file opens");
    is_str(open_as("/sub/b.txt", FOLLOW_INSIDE), "B", "a nested file opens");
    is_str(open_as("/", FOLLOW_OFF), "<dir>", "the root itself is a directory");
    is_str(open_as("/sub/", FOLLOW_OFF), "<dir>", "a directory with a trailing slash");
    is_str(open_as("/missing", FOLLOW_INSIDE), "-ENOENT", "a missing file is ENOENT");
    is_str(open_as("/fifo", FOLLOW_ON), "-EINVAL", "a FIFO is never opened");

    /* off: every symlink is invisible */
    is_str(open_as("/in", FOLLOW_OFF), "-ENOENT", "off: a link inside is not followed");
    is_str(open_as("/subdir/b.txt", FOLLOW_OFF), "-ENOENT", "off: nor a directory link");
    is_str(open_as("/out", FOLLOW_OFF), "-ENOENT", "off: nor one outside");

    /* inside: follow when the real path stays inside the root and is not hidden */
    is_str(open_as("/in", FOLLOW_INSIDE), "A", "inside: a link inside is followed");
    is_str(open_as("/subdir/b.txt", FOLLOW_INSIDE), "B", "inside: through a directory link");
    is_str(open_as("/out", FOLLOW_INSIDE), "-ENOENT", "inside: a link out of the root is not");
    is_str(open_as("/abs", FOLLOW_INSIDE), "-ENOENT", "inside: nor an absolute one");
    is_str(open_as("/hid", FOLLOW_INSIDE), "-ENOENT", "inside: nor one into .git/");
    is_str(open_as("/dangling", FOLLOW_INSIDE), "-ENOENT", "inside: a dangling link is ENOENT");

    /* on: anywhere, but never into a hidden part of the root */
    is_str(open_as("/out", FOLLOW_ON), "SECRET-OUT", "on: a link out of the root is followed");
    is_str(open_as("/in", FOLLOW_ON), "A", "on: a link inside too");
    is_str(open_as("/hid", FOLLOW_ON), "-ENOENT", "on: still not into .git/");

    /* a root that is itself a symlink (the deploy layout: root -> releases/N) */
    char link_root[300];
    snprintf(link_root, sizeof link_root, "%s/current", top);
    symlink("root", link_root);
    struct stat st;
    int fd = fs_open_beneath(link_root, "/in", FOLLOW_INSIDE, NULL, &st);
    ok(fd >= 0, "inside: judged against the real root when the root is a symlink");
    if (fd >= 0)
        close(fd);
    fd = fs_open_beneath(link_root, "/out", FOLLOW_INSIDE, NULL, &st);
    ok(fd < 0, "and an escape is still refused");

    /* a git site's shared directory: followed under the root's rules (the also argument) */
    mk("d", "state", NULL);
    mk("d", "state/shared", NULL);
    mk("d", "state/shared/up", NULL);
    put_file("state/shared/up/p.jpg", "PHOTO");
    put_file("state/shared/.env", "SHARED-SECRET");
    put_file("state/repo", "STATE-FILE");
    mk("l", "state/shared/up/passwd", "../../../outside/secret");
    mk("l", "state/shared/up/env", "../.env");
    mk("l", "state/shared/up/repo", "../../repo");
    mk("l", "root/up", "../state/shared/up");
    char also[300];
    snprintf(also, sizeof also, "%s/state/shared", top);
    is_str(open_shared("/up/p.jpg", FOLLOW_INSIDE, also), "PHOTO",
           "shared: a file through a link into the shared directory is opened");
    is_str(open_shared("/up/p.jpg", FOLLOW_INSIDE, NULL), "-ENOENT",
           "shared: not without the shared directory (a link out of the root)");
    is_str(open_shared("/up/passwd", FOLLOW_INSIDE, also), "-ENOENT",
           "shared: a link planted in it leading out is not followed");
    is_str(open_shared("/up/env", FOLLOW_INSIDE, also), "-ENOENT",
           "shared: nor one to a dotfile of the shared directory");
    is_str(open_shared("/up/repo", FOLLOW_INSIDE, also), "-ENOENT",
           "shared: nor one into the state directory beside it");
    is_str(open_shared("/up/env", FOLLOW_ON, also), "-ENOENT",
           "shared, on: a dotfile of the shared directory stays hidden");
    is_str(open_shared("/up/p.jpg", FOLLOW_OFF, also), "-ENOENT",
           "shared, off: no link is followed");

    /* fs_read_all */
    char p[512], buf[8];
    snprintf(p, sizeof p, "%s/root/a.txt", top);
    fd = open(p, O_RDONLY);
    is_int(fs_read_all(fd, buf, 1), 0, "read_all reads what the file has");
    is_int(fs_read_all(fd, buf, 4), -EIO, "read_all reports a file shorter than expected");
    close(fd);

    /* fs_mkdir_p */
    struct stat ds;
    umask(022);
    snprintf(p, sizeof p, "%s/made/a/b", top);
    is_int(fs_mkdir_p(p, 0700), 0, "mkdir_p makes the missing parents and the directory");
    ok(stat(p, &ds) == 0 && S_ISDIR(ds.st_mode) && (ds.st_mode & 0777) == 0700,
       "...the last one with the mode asked for");
    snprintf(p, sizeof p, "%s/made/a", top);
    ok(stat(p, &ds) == 0 && (ds.st_mode & 0777) == 0755, "...parents 0755");
    is_int(fs_mkdir_p(p, 0700), 0, "mkdir_p of an existing directory is fine");
    snprintf(p, sizeof p, "%s/root/a.txt/x", top);
    is_int(fs_mkdir_p(p, 0700), -1, "mkdir_p below a file fails");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0)
        return 99;
    return done_testing();
}
