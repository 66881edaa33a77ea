/*
 * git_worker: see include/git_worker.h.
 *
 * Invariants:
 * - The root symlink only ever points at a complete release: releases are built under a
 *   ".tmp" name, renamed when complete, and the symlink is replaced by rename() of a new link.
 *   A kill -9 at any moment leaves either the old or the new release live; leftovers named
 *   ".tmp" are removed by the next deploy.
 * - The live release (and, for rollback, the one before it) is never pruned.
 * - `.git` is never inside a release: the checkout uses the cache as --git-dir with the release
 *   as --work-tree (submodules leave `.git` link files, which are hidden paths anyway).
 * - git runs non-interactively (GIT_TERMINAL_PROMPT=0, ssh in batch mode) with a timeout.
 */
#include "git_worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "util.h"

#define HISTORY 10      /* deploy durations kept for the status */
#define RETRY_MS 30000  /* after a failed deploy with git_interval 0, try again */
#define DEBOUNCE_MS 250 /* a requested deploy waits this long for more pushes */
#define MIN_GAP_MS                                                                                 \
    1000 /* between two requested deploys of one site: a burst of                                  \
          * pushes becomes at most two deploys a second */

struct gsite {
    const struct site_conf *site;
    char *root;     /* the symlink path, without trailing slashes */
    char *state;    /* /srv/.site.wharf */
    char *cache;    /* state/repo.git */
    char *releases; /* state/releases */
    char *lock_path;
    char *branch;          /* configured, or detected from the remote */
    char tag[96];          /* "git [site NAME]" for the log */
    uint64_t next_ms;      /* next poll; 0 = now */
    bool requested;        /* a deploy was asked for (webhook, signal) */
    uint64_t requested_ms; /* when the oldest pending request came */
    uint64_t started_ms;   /* when the last deploy started */
    _Atomic bool live;
    /* status, under status_lock */
    char live_commit[41];
    char live_release[128];
    int64_t live_commit_time; /* commit time (unix seconds), 0 = unknown */
    int64_t last_attempt;     /* wall clock */
    int64_t last_success;
    char last_error[256];
    bool deploying;
    unsigned n_deploys, n_failures;
    uint64_t durations_ms[HISTORY];
    unsigned n_durations;
};

static struct gsite *sites;
static size_t n_sites;
static pthread_t thread;
static bool running;
static bool stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* requested, next_ms, stopping */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- helpers ------------------------------------------------------------------------------- */

static char *strip_slashes(const char *p)
{
    char *s = xstrdup(p);
    for (size_t n = strlen(s); n > 1 && s[n - 1] == '/'; n--)
        s[n - 1] = '\0';
    return s;
}

static void gsite_init(struct gsite *g, const struct site_conf *site)
{
    memset(g, 0, sizeof *g);
    g->site = site;
    g->root = strip_slashes(site->root);
    char *slash = strrchr(g->root, '/');
    const char *base = slash ? slash + 1 : g->root;
    g->state = slash ? xasprintf("%.*s/.%s.wharf", (int)(slash - g->root), g->root, base)
                     : xasprintf(".%s.wharf", base);
    if (slash == g->root) { /* a root directly under "/" */
        free(g->state);
        g->state = xasprintf("/.%s.wharf", base);
    }
    g->cache = xasprintf("%s/repo.git", g->state);
    g->releases = xasprintf("%s/releases", g->state);
    g->lock_path = xasprintf("%s/lock", g->state);
    g->branch = site->git.branch ? xstrdup(site->git.branch) : NULL;
    snprintf(g->tag, sizeof g->tag, "git [site %s]", site->name);
}

static void gsite_dispose(struct gsite *g)
{
    free(g->root);
    free(g->state);
    free(g->cache);
    free(g->releases);
    free(g->lock_path);
    free(g->branch);
}

static int mkdir_p(const char *path)
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
    int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The environment every git command gets (env has room for one more entry). */
static void git_env(const struct gsite *g, char *env[5], char *buf, size_t n)
{
    const struct git_site_conf *c = &g->site->git;
    int k = 0;
    env[k++] = "GIT_TERMINAL_PROMPT=0";
    env[k++] = "GIT_ASKPASS=/bin/false";
    /* ssh: batch mode, our key, and the configured host key policy */
    const char *policy = "-o StrictHostKeyChecking=yes";
    char kh[PATH_MAX + 64] = "";
    if (c->known_hosts && strcmp(c->known_hosts, "accept-new") == 0)
        policy = "-o StrictHostKeyChecking=accept-new";
    else if (c->known_hosts && strcmp(c->known_hosts, "strict") != 0)
        snprintf(kh, sizeof kh, " -o UserKnownHostsFile='%s'", c->known_hosts);
    char key[PATH_MAX + 32] = "";
    if (c->key)
        snprintf(key, sizeof key, " -i '%s' -o IdentitiesOnly=yes", c->key);
    snprintf(buf, n, "GIT_SSH_COMMAND=ssh -o BatchMode=yes %s%s%s", policy, kh, key);
    env[k++] = buf;
    env[k] = NULL;
}

/* Run git with args (and one extra environment entry, or NULL); its output is logged under the
 * site's tag. */
static int git_with(struct gsite *g, struct buf *capture, const char *cwd, char *const args[],
                    char *extra_env)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = "git";
    for (size_t i = 0; args[i] && n < ARRAY_LEN(argv) - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *env[5], ssh[PATH_MAX * 2 + 200];
    git_env(g, env, ssh, sizeof ssh);
    env[3] = extra_env;
    env[4] = NULL;
    struct proc_opts o = {
        .cwd = cwd,
        .env_add = env,
        .timeout_ms = g->site->git.timeout_ms,
        .log_tag = g->tag,
        .capture = capture,
        .quiet = capture != NULL,
    };
    return proc_run(argv, &o);
}

static int git(struct gsite *g, struct buf *capture, const char *cwd, char *const args[])
{
    return git_with(g, capture, cwd, args, NULL);
}

static void set_error(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static void trim(struct buf *b)
{
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
                      b->data[b->len - 1] == ' '))
        b->data[--b->len] = '\0';
}

/* The release the root points at ("NAME" under releases/), or "" if none. */
static void current_release(const struct gsite *g, char *name, size_t n)
{
    char target[PATH_MAX];
    name[0] = '\0';
    ssize_t len = readlink(g->root, target, sizeof target - 1);
    if (len <= 0)
        return;
    target[len] = '\0';
    const char *p = strstr(target, "/releases/");
    if (!p)
        return;
    p += strlen("/releases/");
    size_t m = strcspn(p, "/");
    snprintf(name, n, "%.*s", (int)m, p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Complete releases, oldest first (names start with a UTC timestamp). Caller frees. */
static char **list_releases(const struct gsite *g, size_t *count)
{
    char **v = NULL;
    size_t n = 0;
    DIR *d = opendir(g->releases);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0))
            continue;
        v = xrealloc(v, (n + 1) * sizeof *v);
        v[n++] = xstrdup(de->d_name);
    }
    if (d)
        closedir(d);
    qsort(v, n, sizeof *v, cmp_str);
    *count = n;
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* One more than the highest release number on disk (complete or not). */
static unsigned next_seq(const struct gsite *g)
{
    unsigned max = 0;
    DIR *d = opendir(g->releases);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char *end;
        unsigned long n = strtoul(de->d_name, &end, 10);
        if (end != de->d_name && *end == '-' && n > max && n < 999999)
            max = (unsigned)n;
    }
    if (d)
        closedir(d);
    return max + 1;
}

/* Remove unfinished builds (a crash or kill -9 mid-deploy leaves them). */
static void remove_tmp_releases(const struct gsite *g)
{
    DIR *d = opendir(g->releases);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
            char *p = xasprintf("%s/%s", g->releases, de->d_name);
            rm_rf(p);
            free(p);
        }
    }
    if (d)
        closedir(d);
}

/* Keep the newest git_keep releases plus the live one and the one before it. */
static void prune(const struct gsite *g)
{
    char live[128];
    current_release(g, live, sizeof live);
    size_t n;
    char **v = list_releases(g, &n);
    size_t live_idx = n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], live) == 0)
            live_idx = i;
    size_t keep = g->site->git.keep + 1; /* + the live one */
    for (size_t i = 0; i + keep < n; i++) {
        if (i == live_idx || i + 1 == live_idx)
            continue;
        char *p = xasprintf("%s/%s", g->releases, v[i]);
        log_info(g->tag, 0, "removing old release %s", v[i]);
        rm_rf(p);
        free(p);
    }
    free_list(v, n);
}

/* Point the root at releases/NAME (plus the subdir) in one atomic step. */
static int switch_to(const struct gsite *g, const char *name, char *err, size_t errn)
{
    const char *state_base = strrchr(g->state, '/') ? strrchr(g->state, '/') + 1 : g->state;
    const char *sub = g->site->git.subdir;
    char *target = sub ? xasprintf("%s/releases/%s/%s", state_base, name, sub)
                       : xasprintf("%s/releases/%s", state_base, name);
    char *tmp = xasprintf("%s.wharf-swap.%ld", g->root, (long)getpid());
    int rc = -1;
    unlink(tmp);
    if (symlink(target, tmp) != 0) {
        set_error(err, errn, "symlink %s: %s", tmp, strerror(errno));
    } else if (rename(tmp, g->root) != 0) {
        set_error(err, errn, "switching %s: %s", g->root, strerror(errno));
        unlink(tmp);
    } else {
        rc = 0;
    }
    free(target);
    free(tmp);
    return rc;
}

static void record_live(struct gsite *g, const char *release, const char *commit, int64_t ctime)
{
    pthread_mutex_lock(&status_lock);
    snprintf(g->live_release, sizeof g->live_release, "%s", release);
    snprintf(g->live_commit, sizeof g->live_commit, "%s", commit);
    g->live_commit_time = ctime;
    pthread_mutex_unlock(&status_lock);
    atomic_store(&g->live, true);
}

/* At start: is a release already live (from an earlier run)? */
static void load_live(struct gsite *g)
{
    char name[128];
    current_release(g, name, sizeof name);
    struct stat st;
    if (!name[0] || stat(g->root, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    const char *dash = strrchr(name, '-');
    record_live(g, name, dash ? dash + 1 : "", 0);
}

/* ---- one deploy ---------------------------------------------------------------------------- */

static int detect_branch(struct gsite *g, char *err, size_t errn)
{
    if (g->branch)
        return 0;
    struct buf out;
    buf_init(&out, 64 * 1024);
    char *args[] = {"ls-remote", "--symref", "--", g->site->git.repo, "HEAD", NULL};
    int rc = git(g, &out, NULL, args);
    const char *p = rc == 0 && out.data ? strstr(out.data, "ref: refs/heads/") : NULL;
    if (p) {
        p += strlen("ref: refs/heads/");
        size_t n = strcspn(p, "\t \n");
        char *b = xstrndup(p, n);
        pthread_mutex_lock(&status_lock); /* readers: status and webhooks */
        g->branch = b;
        pthread_mutex_unlock(&status_lock);
        log_info(g->tag, 0, "the remote's default branch is %s", g->branch);
    } else {
        set_error(err, errn, "cannot read the remote's default branch (git ls-remote %s)",
                  rc == -2 ? "timed out" : "failed");
    }
    buf_dispose(&out);
    return g->branch ? 0 : -1;
}

static int fetch(struct gsite *g, char *sha, char *err, size_t errn)
{
    struct stat st;
    if (stat(g->cache, &st) != 0) {
        char *args[] = {"init", "--quiet", "--bare", g->cache, NULL};
        if (git(g, NULL, NULL, args) != 0) {
            set_error(err, errn, "git init %s failed", g->cache);
            return -1;
        }
    }
    if (detect_branch(g, err, errn) != 0)
        return -1;
    char *refspec = xasprintf("+refs/heads/%s:refs/remotes/origin/%s", g->branch, g->branch);
    char depth[32];
    char *args[16];
    size_t n = 0;
    args[n++] = "-C";
    args[n++] = g->cache;
    args[n++] = "fetch";
    args[n++] = "--quiet";
    args[n++] = "--no-tags";
    args[n++] = "--prune";
    if (g->site->git.depth) {
        snprintf(depth, sizeof depth, "--depth=%u", g->site->git.depth);
        args[n++] = depth;
    }
    args[n++] = "--";
    args[n++] = g->site->git.repo;
    args[n++] = refspec;
    args[n] = NULL;
    int rc = git(g, NULL, NULL, args);
    free(refspec);
    if (rc != 0) {
        set_error(err, errn, "git fetch of %s branch %s %s", g->site->git.repo, g->branch,
                  rc == -2 ? "timed out" : "failed");
        return -1;
    }
    struct buf out;
    buf_init(&out, 256);
    char *ref = xasprintf("refs/remotes/origin/%s^{commit}", g->branch);
    char *rp[] = {"-C", g->cache, "rev-parse", "--verify", "--quiet", ref, NULL};
    rc = git(g, &out, NULL, rp);
    free(ref);
    trim(&out);
    if (rc != 0 || out.len != 40) {
        set_error(err, errn, "branch %s not found in %s", g->branch, g->site->git.repo);
        buf_dispose(&out);
        return -1;
    }
    memcpy(sha, out.data, 41);
    buf_dispose(&out);
    return 0;
}

static int64_t commit_time(struct gsite *g, const char *sha)
{
    struct buf out;
    buf_init(&out, 64);
    char *args[] = {"-C", g->cache, "log", "-1", "--format=%ct", (char *)sha, "--", NULL};
    int64_t t = 0;
    if (git(g, &out, NULL, args) == 0 && out.data)
        t = strtoll(out.data, NULL, 10);
    buf_dispose(&out);
    return t;
}

static int checkout(struct gsite *g, const char *sha, const char *dir, char *err, size_t errn)
{
    char *wt = xasprintf("--work-tree=%s", dir);
    char *gd = xasprintf("--git-dir=%s", g->cache);
    /* a private index per release: the cache's own index is never shared between builds */
    char *index = xasprintf("GIT_INDEX_FILE=%s.index", dir);
    char *args[] = {gd, wt, "checkout", "--quiet", "--force", (char *)sha, "--", ".", NULL};
    int rc = git_with(g, NULL, NULL, args, index);
    if (rc == 0 && g->site->git.submodules) {
        char *sm[] = {gd, wt, "submodule", "--quiet", "update", "--init", "--recursive", NULL};
        rc = git_with(g, NULL, dir, sm, index);
    }
    char *idx_path = xasprintf("%s.index", dir);
    unlink(idx_path);
    free(idx_path);
    if (rc != 0)
        set_error(err, errn, "checkout of %.12s %s", sha, rc == -2 ? "timed out" : "failed");
    free(wt);
    free(gd);
    free(index);
    return rc == 0 ? 0 : -1;
}

static int run_then(struct gsite *g, const char *sha, const char *dir, char *err, size_t errn)
{
    const char *cmd = g->site->git.then;
    if (!cmd)
        return 0;
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    char *commit = xasprintf("WHARF_COMMIT=%s", sha);
    char *release = xasprintf("WHARF_RELEASE=%s", dir);
    char *env[] = {commit, release, NULL};
    char tag[128];
    snprintf(tag, sizeof tag, "git_then [site %s]", g->site->name);
    struct proc_opts o = {
        .cwd = dir,
        .env_add = env,
        .timeout_ms = g->site->git.then_timeout_ms,
        .log_tag = tag,
    };
    log_info(g->tag, 0, "running git_then in %s: %s", dir, cmd);
    int rc = proc_run(argv, &o);
    free(commit);
    free(release);
    if (rc != 0)
        set_error(err, errn, "git_then %s (%s%d)", rc == -2 ? "timed out" : "failed",
                  rc > 128 ? "signal " : "exit status ", rc > 128 ? rc - 128 : rc);
    return rc == 0 ? 0 : -1;
}

static int lock_state(const struct gsite *g, bool wait)
{
    if (mkdir_p(g->state) != 0)
        return -1;
    int fd = open(g->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -2;
    }
    return fd;
}

/* Fetch, build and switch. Returns 0 (deployed), 1 (already current), -1 (failed, err set). */
static int deploy(struct gsite *g, char *err, size_t errn)
{
    char sha[41], live[128], name[128];
    int rc = -1;
    char *tmp_dir = NULL, *final_dir = NULL;
    if (mkdir_p(g->releases) != 0) {
        set_error(err, errn, "cannot create %s: %s", g->releases, strerror(errno));
        return -1;
    }
    remove_tmp_releases(g);
    if (fetch(g, sha, err, errn) != 0)
        return -1;
    current_release(g, live, sizeof live);
    const char *live_sha = strrchr(live, '-');
    struct stat st;
    /* after a rollback, the commit rolled back from is not redeployed until the branch moves */
    char *skip_path = xasprintf("%s/rolled-back", g->state), skip[64] = "";
    FILE *f = fopen(skip_path, "r");
    if (f) {
        if (!fgets(skip, sizeof skip, f))
            skip[0] = '\0';
        fclose(f);
        skip[strcspn(skip, "\n")] = '\0';
    }
    if (skip[0] && strncmp(sha, skip, strlen(skip)) == 0) {
        free(skip_path);
        return 1;
    }
    unlink(skip_path);
    free(skip_path);
    if (live_sha && strncmp(live_sha + 1, sha, 12) == 0 && stat(g->root, &st) == 0) {
        record_live(g, live, sha, commit_time(g, sha));
        return 1; /* already live: nothing to do */
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    /* NNNNNN-TIME-SHA: the sequence number keeps names in deploy order, whatever the clock
     * or the commit ids, so pruning and rollback can sort by name */
    snprintf(name, sizeof name, "%06u-%04d%02d%02dT%02d%02d%02dZ-%.12s", next_seq(g),
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sha);
    final_dir = xasprintf("%s/%s", g->releases, name);
    tmp_dir = xasprintf("%s.tmp", final_dir);
    log_info(g->tag, 0, "deploying %.12s (branch %s)", sha, g->branch);
    if (mkdir(tmp_dir, 0755) != 0) {
        set_error(err, errn, "cannot create %s: %s", tmp_dir, strerror(errno));
        goto out;
    }
    if (checkout(g, sha, tmp_dir, err, errn) != 0 || run_then(g, sha, tmp_dir, err, errn) != 0)
        goto out;
    if (g->site->git.subdir) {
        char *sub = xasprintf("%s/%s", tmp_dir, g->site->git.subdir);
        bool ok = stat(sub, &st) == 0 && S_ISDIR(st.st_mode);
        free(sub);
        if (!ok) {
            set_error(err, errn, "git_subdir '%s' is not a directory in %.12s", g->site->git.subdir,
                      sha);
            goto out;
        }
    }
    if (rename(tmp_dir, final_dir) != 0) {
        set_error(err, errn, "cannot rename %s: %s", tmp_dir, strerror(errno));
        goto out;
    }
    if (switch_to(g, name, err, errn) != 0) {
        rm_rf(final_dir);
        goto out;
    }
    record_live(g, name, sha, commit_time(g, sha));
    log_info(g->tag, 0, "live: %.12s in %s", sha, name);
    prune(g);
    rc = 0;
out:
    if (rc != 0 && tmp_dir)
        rm_rf(tmp_dir);
    free(tmp_dir);
    free(final_dir);
    return rc;
}

/* Switch back to the newest kept release older than the live one. */
static int rollback(struct gsite *g, char *err, size_t errn)
{
    char live[128];
    current_release(g, live, sizeof live);
    size_t n;
    char **v = list_releases(g, &n);
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], live) < 0)
            prev = v[i];
    int rc = -1;
    if (!prev) {
        set_error(err, errn, "no release older than %s is kept", live[0] ? live : "(none)");
    } else if (switch_to(g, prev, err, errn) == 0) {
        const char *from = strrchr(live, '-');
        char *skip_path = xasprintf("%s/rolled-back", g->state);
        FILE *f = fopen(skip_path, "w");
        if (f) {
            fprintf(f, "%s\n", from ? from + 1 : "");
            fclose(f);
        }
        free(skip_path);
        const char *dash = strrchr(prev, '-');
        record_live(g, prev, dash ? dash + 1 : "", 0);
        log_info(g->tag, 0, "rolled back from %s to %s", live, prev);
        rc = 0;
    }
    free_list(v, n);
    return rc;
}

static void run_one(struct gsite *g)
{
    char err[256] = "";
    uint64_t t0 = clock_ms();
    pthread_mutex_lock(&status_lock);
    g->deploying = true;
    g->last_attempt = time(NULL);
    pthread_mutex_unlock(&status_lock);
    int fd = lock_state(g, false);
    int rc;
    if (fd == -2) {
        rc = -1;
        snprintf(err, sizeof err, "another deploy (wharf --deploy?) holds %s", g->lock_path);
    } else if (fd < 0) {
        rc = -1;
        snprintf(err, sizeof err, "cannot create %s: %s", g->state, strerror(errno));
    } else {
        rc = deploy(g, err, sizeof err);
        close(fd);
    }
    uint64_t ms = clock_ms() - t0;
    pthread_mutex_lock(&status_lock);
    g->deploying = false;
    if (rc >= 0) {
        g->last_error[0] = '\0';
    }
    if (rc == 0) {
        g->last_success = time(NULL);
        g->n_deploys++;
        g->durations_ms[g->n_durations++ % HISTORY] = ms;
    } else if (rc < 0) {
        g->n_failures++;
        snprintf(g->last_error, sizeof g->last_error, "%s", err);
    }
    pthread_mutex_unlock(&status_lock);
    if (rc < 0)
        log_error(g->tag, 0, "deploy failed after %llu ms: %s; the live release stays",
                  (unsigned long long)ms, err);
}

/* ---- the thread --------------------------------------------------------------------------- */

static void *on_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        uint64_t now = clock_ms(), soonest = UINT64_MAX;
        struct gsite *due = NULL;
        for (size_t i = 0; i < n_sites && !due; i++) {
            struct gsite *g = &sites[i];
            uint64_t at = g->next_ms;
            if (g->requested) {
                uint64_t req_at = g->requested_ms + DEBOUNCE_MS;
                if (g->started_ms && g->started_ms + MIN_GAP_MS > req_at)
                    req_at = g->started_ms + MIN_GAP_MS;
                if (req_at < at)
                    at = req_at;
            }
            if (at <= now)
                due = g;
            else if (at < soonest)
                soonest = at;
        }
        if (!due) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t wait_ms = soonest == UINT64_MAX ? 3600000 : soonest - now;
            ts.tv_sec += (time_t)(wait_ms / 1000);
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&wake, &lock, &ts);
            continue;
        }
        /* requests arriving while this deploy runs set `requested` again: bursts coalesce
         * into at most one more deploy */
        due->requested = false;
        due->started_ms = now;
        pthread_mutex_unlock(&lock);
        run_one(due);
        pthread_mutex_lock(&lock);
        uint64_t interval = due->site->git.interval_ms;
        bool ok = atomic_load(&due->live);
        due->next_ms = clock_ms() + (interval ? interval : ok ? UINT64_MAX / 2 : RETRY_MS);
        if (!interval && ok && due->last_error[0])
            due->next_ms = clock_ms() + RETRY_MS;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int git_worker_start(const struct config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_sites; i++)
        n += cfg->sites[i].git.repo != NULL;
    if (!n)
        return 0;
    sites = xcalloc(n, sizeof *sites);
    for (size_t i = 0; i < cfg->n_sites; i++) {
        if (!cfg->sites[i].git.repo)
            continue;
        struct gsite *g = &sites[n_sites++];
        gsite_init(g, &cfg->sites[i]);
        load_live(g);
        g->next_ms = 0; /* deploy (or confirm) at start */
    }
    stopping = false;
    if (pthread_create(&thread, NULL, on_thread, NULL) != 0)
        return -1;
    running = true;
    return 0;
}

void git_worker_stop(void)
{
    if (running) {
        proc_cancel_all(); /* a fetch or build in progress ends now */
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&lock);
        pthread_join(thread, NULL);
        running = false;
    }
    for (size_t i = 0; i < n_sites; i++)
        gsite_dispose(&sites[i]);
    free(sites);
    sites = NULL;
    n_sites = 0;
}

static struct gsite *find(const struct site_conf *site)
{
    for (size_t i = 0; i < n_sites; i++)
        if (sites[i].site == site)
            return &sites[i];
    return NULL;
}

void git_worker_request(const struct site_conf *site)
{
    pthread_mutex_lock(&lock);
    struct gsite *g = find(site);
    if (g && !g->requested) {
        g->requested = true;
        g->requested_ms = clock_ms();
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
}

void git_worker_request_all(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_sites; i++) {
        if (!sites[i].requested)
            sites[i].requested_ms = clock_ms();
        sites[i].requested = true;
    }
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void git_worker_branch(const struct site_conf *site, char *out, size_t n)
{
    struct gsite *g = find(site);
    pthread_mutex_lock(&status_lock);
    snprintf(out, n, "%s", g && g->branch ? g->branch : "");
    pthread_mutex_unlock(&status_lock);
}

bool git_worker_is_live(const struct site_conf *site)
{
    struct gsite *g = find(site);
    return !g || atomic_load(&g->live);
}

static void json_time(struct buf *out, const char *key, int64_t t)
{
    if (!t) {
        buf_printf(out, ",\"%s\":null", key);
        return;
    }
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    buf_printf(out, ",\"%s\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", key, tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void git_worker_status_json(const struct site_conf *site, struct buf *out)
{
    struct gsite *g = find(site);
    if (!g) {
        buf_puts(out, "{}");
        return;
    }
    pthread_mutex_lock(&status_lock);
    buf_puts(out, "{\"site\":\"");
    buf_append_json(out, site->name, strlen(site->name));
    buf_puts(out, "\",\"branch\":");
    if (g->branch) {
        buf_putc(out, '"');
        buf_append_json(out, g->branch, strlen(g->branch));
        buf_putc(out, '"');
    } else {
        buf_puts(out, "null");
    }
    buf_printf(out, ",\"live\":%s,\"live_commit\":", atomic_load(&g->live) ? "true" : "false");
    if (g->live_commit[0])
        buf_printf(out, "\"%s\"", g->live_commit);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"live_release\":");
    if (g->live_release[0]) {
        buf_putc(out, '"');
        buf_append_json(out, g->live_release, strlen(g->live_release));
        buf_putc(out, '"');
    } else {
        buf_puts(out, "null");
    }
    json_time(out, "live_commit_time", g->live_commit_time);
    json_time(out, "last_attempt", g->last_attempt);
    json_time(out, "last_success", g->last_success);
    buf_puts(out, ",\"last_error\":");
    if (g->last_error[0]) {
        buf_putc(out, '"');
        buf_append_json(out, g->last_error, strlen(g->last_error));
        buf_putc(out, '"');
    } else {
        buf_puts(out, "null");
    }
    buf_printf(out, ",\"deploying\":%s,\"deploys\":%u,\"failures\":%u,\"durations_ms\":[",
               g->deploying ? "true" : "false", g->n_deploys, g->n_failures);
    unsigned n = g->n_durations < HISTORY ? g->n_durations : HISTORY;
    for (unsigned i = 0; i < n; i++) {
        unsigned idx = (g->n_durations - n + i) % HISTORY;
        buf_printf(out, "%s%llu", i ? "," : "", (unsigned long long)g->durations_ms[idx]);
    }
    buf_puts(out, "]}");
    pthread_mutex_unlock(&status_lock);
}

int git_deploy_once(const struct site_conf *site, bool do_rollback)
{
    struct gsite g;
    gsite_init(&g, site);
    char err[256] = "";
    int rc = -1;
    int fd = lock_state(&g, true); /* waits for a deploy running in the server */
    if (fd < 0) {
        snprintf(err, sizeof err, "cannot lock %s: %s", g.lock_path, strerror(errno));
    } else {
        rc = do_rollback ? rollback(&g, err, sizeof err) : deploy(&g, err, sizeof err);
        close(fd);
    }
    if (rc < 0)
        log_error(g.tag, 0, "%s failed: %s", do_rollback ? "rollback" : "deploy", err);
    else if (rc == 1)
        log_info(g.tag, 0, "already up to date");
    gsite_dispose(&g);
    return rc < 0 ? -1 : 0;
}
