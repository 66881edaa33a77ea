/*
 * privileges: see include/privileges.h. The order is the classic one (setgroups, then setgid
 * while still root, then setuid), and the result is checked rather than trusted: a setuid that
 * left a saved uid of 0 would let any bug climb back, so setuid(0) must fail afterwards.
 */
#include "privileges.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *where(const struct config *cfg, unsigned line, char *buf, size_t n)
{
    if (line == 0)
        return "command line";
    snprintf(buf, n, "%s:%u", cfg->filename ? cfg->filename : "(config)", line);
    return buf;
}

/* A decimal id, or -1. */
static long number(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || end == s || *end || v < 0 || v > 0x7fffffffL ? -1 : v;
}

int privileges_resolve(const struct config *cfg, struct privileges *p, struct errlist *errs)
{
    const struct server_conf *s = &cfg->server;
    char at[320];
    memset(p, 0, sizeof *p);
    if (!s->user) {
        if (s->group)
            return errlist_add(errs, "%s: group needs user",
                               where(cfg, s->group_line, at, sizeof at));
        return 0;
    }
    p->user = s->user;
    struct passwd *pw = getpwnam(s->user);
    long id = number(s->user);
    if (!pw && id >= 0)
        pw = getpwuid((uid_t)id);
    if (!pw)
        return errlist_add(errs, "%s: user '%s': no such user",
                           where(cfg, s->user_line, at, sizeof at), s->user);
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    if (s->group) {
        struct group *gr = getgrnam(s->group);
        long gid = number(s->group);
        if (gr)
            p->gid = gr->gr_gid;
        else if (gid >= 0)
            p->gid = (gid_t)gid;
        else
            return errlist_add(errs, "%s: group '%s': no such group",
                               where(cfg, s->group_line, at, sizeof at), s->group);
    }
    if (geteuid() != 0) {
        if (p->uid != geteuid() || p->gid != getegid())
            return errlist_add(errs,
                               "%s: user '%s': wharf runs as uid %ld, not root, and cannot switch "
                               "to uid %ld gid %ld (start it as root, or remove user)",
                               where(cfg, s->user_line, at, sizeof at), s->user, (long)geteuid(),
                               (long)p->uid, (long)p->gid);
        return 0; /* already that user */
    }
    p->drop = p->uid != 0 || p->gid != 0;
    return 0;
}

int privileges_drop(const struct privileges *p, struct errlist *errs)
{
    if (!p->drop)
        return 0;
    struct passwd *pw = getpwuid(p->uid);
    int rc = pw ? initgroups(pw->pw_name, p->gid) : setgroups(1, &p->gid);
    if (rc != 0)
        return errlist_add(errs, "user '%s': setgroups: %s", p->user, strerror(errno));
    if (setgid(p->gid) != 0)
        return errlist_add(errs, "user '%s': setgid(%ld): %s", p->user, (long)p->gid,
                           strerror(errno));
    if (setuid(p->uid) != 0)
        return errlist_add(errs, "user '%s': setuid(%ld): %s", p->user, (long)p->uid,
                           strerror(errno));
    if (getuid() != p->uid || geteuid() != p->uid || getgid() != p->gid || getegid() != p->gid)
        return errlist_add(errs, "user '%s': the switch did not take (uid %ld/%ld, gid %ld/%ld)",
                           p->user, (long)getuid(), (long)geteuid(), (long)getgid(),
                           (long)getegid());
    if (p->uid != 0 && setuid(0) == 0)
        return errlist_add(errs, "user '%s': root could be regained after the switch", p->user);
    log_info("main", 0, "running as user %s (uid %ld, gid %ld)", p->user, (long)p->uid,
             (long)p->gid);
    return 0;
}

void privileges_own_file(const struct privileges *p, const char *path)
{
    if (!p->drop || !path || strcmp(path, "-") == 0)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return; /* the open after the drop reports it */
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && fchown(fd, p->uid, p->gid) != 0)
        log_warn("main", 0, "%s: cannot give it to user %s: %s", path, p->user, strerror(errno));
    close(fd);
}

static bool is_loopback(const char *host)
{
    return host && (strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
                    strcmp(host, "[::1]") == 0 || ascii_casecmp(host, "localhost") == 0);
}

void privileges_warn_root(const struct config *cfg)
{
    const struct server_conf *s = &cfg->server;
    if (geteuid() != 0 || s->user)
        return;
    size_t n = s->n_listen + s->n_tls_listen;
    for (size_t i = 0; i < n; i++) {
        const struct listen_addr *la =
            i < s->n_listen ? &s->listen[i] : &s->tls_listen[i - s->n_listen];
        if (!is_loopback(la->host)) {
            log_warn("main", 0,
                     "running as root and listening on %s: set [server] user (e.g. www-data) "
                     "so that wharf drops root once its listeners are open",
                     la->text);
            return;
        }
    }
}
