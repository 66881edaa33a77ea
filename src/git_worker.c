/*
 * git_worker: see include/git_worker.h.
 *
 * Invariants:
 * - A complete release is an entry of releases/ whose name is exactly a release name
 *   (NNNNNN-TIME-SHA12, see release.h: no .tmp, .index, .del or other suffix), that is a real
 *   directory (lstat: not a symlink, not a file) and that holds no BUILDING_MARK. Nothing else
 *   counts, anywhere: in the release list, for rollback, for prune, for "already live". This
 *   rule is enough because a build is made as NAME.tmp holding the mark, gets its release name
 *   by one rename() (so git_then works at the release's final path: what it writes down stays
 *   true), and becomes complete only by the unlink() of its mark once it is checked out,
 *   git_then has run and git_subdir is checked; a release loses its name by a rename() to
 *   NAME.del before it is removed. Each step is atomic, so a kill -9 never leaves a half-built
 *   or half-removed directory that counts as a release.
 * - The root symlink only ever points at a complete release: switch_to() checks its target,
 *   and the symlink is replaced by rename() of a new link. A kill -9 at any moment leaves
 *   either the old or the new release live.
 * - Everything else a killed deploy leaves (NAME.tmp, NAME with its mark, NAME.index, NAME.del,
 *   any other entry of releases/ that is not a complete release, git's *.lock files in the
 *   cache, a half-made cache, ROOT.wharf-swap.PID) is removed under the deploy lock before each
 * deploy and rollback; the first deploy runs at start. The entry the root points at is never
 *   removed, whatever it is; when it is not a complete release, the root is first switched to
 *   the newest complete one, and the do-not-redeploy list only holds while the root is on a
 *   complete release.
 * - The live release and the rollback target are never pruned.
 * - The processes of a deploy do not outlive it: proc_run() kills a command's process group on
 *   timeout or stop, and when wharf dies (see proc.h).
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

#include "deploy_event.h"
#include "env_file.h"
#include "fs.h"
#include "gate.h"
#include "log.h"
#include "notify.h"
#include "proc.h"
#include "release.h"
#include "shared_path.h"
#include "util.h"

#define HISTORY 10                      /* deploy durations kept for the status */
#define BUILDING_MARK ".wharf-building" /* in a release directory whose build is not finished */
#define RETRY_MS 30000                  /* after a failed deploy with git_interval 0, try again */
#define DEBOUNCE_MS 250                 /* a requested deploy waits this long for more pushes */
#define MIN_GAP_MS                                                                                 \
    1000 /* between two requested deploys of one site: a burst of                                  \
          * pushes becomes at most two deploys a second */

struct git_site {
    const struct site_conf *_Atomic site; /* the configuration's (a reload re-points it) */
    char *root;                           /* the symlink path, without trailing slashes */
    char *state;                          /* /srv/.site.wharf */
    char *cache;                          /* state/repo.git */
    char *releases;                       /* state/releases */
    char *lock_path;
    char *branch;          /* configured, or detected from the remote */
    char tag[96];          /* "git [site NAME]" for the log */
    uint64_t next_ms;      /* next poll; 0 = now */
    bool requested;        /* a deploy was asked for (webhook, signal) */
    uint64_t requested_ms; /* when the oldest pending request came */
    uint64_t started_ms;   /* when the last deploy started */
    const char *trigger;   /* who asked for the pending deploy: "webhook", "signal" */
    bool polled_once;      /* the start-up deploy ran: later unrequested ones are polls */
    _Atomic bool live;
    _Atomic bool confirmed; /* the first deploy since wharf started has finished (any outcome) */
    /* status, under status_lock */
    char live_commit[41];
    char live_release[128];
    int64_t live_commit_time; /* commit time (unix seconds), 0 = unknown */
    int64_t last_attempt;     /* wall clock */
    int64_t last_success;
    char last_error[1024]; /* a gate's reason holds a body prefix and stderr lines */
    char after_error[256]; /* git_after's failure after the last switch; "" = none */
    char held_sha[41];     /* the refused commit polls last left alone (logged once); deploy
                            * thread only */
    bool deploying;
    unsigned n_deploys, n_failures, n_unchanged;
    unsigned n_gate_refused, n_gate_rollbacks; /* git_check before / after the switch */
    uint64_t last_duration_ms;                 /* of the last attempt that ended */
    uint64_t durations_ms[HISTORY];
    unsigned n_durations;
    struct git_site *next; /* the worker's list, under lock */
};

static struct git_site *sites;     /* every registered site, under lock */
static struct git_site *in_deploy; /* the site run_one() works on, under lock; NULL = none */
static pthread_t thread;
static bool running;
static bool stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the list, requested, next_ms,
                                                          * in_deploy, stopping */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t deployed = PTHREAD_COND_INITIALIZER; /* in_deploy went back to NULL */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- helpers ------------------------------------------------------------------------------- */

static char *strip_slashes(const char *p)
{
    char *s = xstrdup(p);
    for (size_t n = strlen(s); n > 1 && s[n - 1] == '/'; n--)
        s[n - 1] = '\0';
    return s;
}

static void git_site_init(struct git_site *g, const struct site_conf *site)
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

static void git_site_dispose(struct git_site *g)
{
    free(g->root);
    free(g->state);
    free(g->cache);
    free(g->releases);
    free(g->lock_path);
    free(g->branch);
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
static void git_env(const struct git_site *g, char *env[5], char *buf, size_t n)
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
static int git_with(struct git_site *g, struct buf *capture, const char *cwd, char *const args[],
                    char *extra_env)
{
    char *argv[36];
    size_t n = 0;
    argv[n++] = "git";
    /* an automatic gc after a fetch stays in the deploy's process group (detached, it would
     * setsid() away from it and outlive a killed deploy) */
    argv[n++] = "-c";
    argv[n++] = "gc.autoDetach=false";
    argv[n++] = "-c";
    argv[n++] = "maintenance.autoDetach=false";
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

static int git(struct git_site *g, struct buf *capture, const char *cwd, char *const args[])
{
    return git_with(g, capture, cwd, args, NULL);
}

static void trim(struct buf *b)
{
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
                      b->data[b->len - 1] == ' '))
        b->data[--b->len] = '\0';
}

/* The release the root points at ("NAME" under releases/), or "" if none. */
static void current_release(const struct git_site *g, char *name, size_t n)
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

/* Whether releases/NAME is a complete release (the rule at the top of this file). */
static bool is_complete(const struct git_site *g, const char *name)
{
    if (!release_name_valid(name))
        return false;
    char *p = xasprintf("%s/%s", g->releases, name);
    char *mark = xasprintf("%s/" BUILDING_MARK, p);
    struct stat st;
    bool ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && lstat(mark, &st) != 0 && errno == ENOENT;
    free(mark);
    free(p);
    return ok;
}

/* Mark dir (a build) as unfinished: its BUILDING_MARK, made before dir gets a release name. */
static int mark_building(const char *dir)
{
    char *mark = xasprintf("%s/" BUILDING_MARK, dir);
    int fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    free(mark);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* The build in dir is finished: removing its mark is the one step that makes it complete. */
static int unmark_building(const char *dir)
{
    char *mark = xasprintf("%s/" BUILDING_MARK, dir);
    int rc = unlink(mark);
    free(mark);
    return rc;
}

/* Whether the root resolves to a complete release; live gets the entry it names ("" if none). */
static bool live_is_complete(const struct git_site *g, char *live, size_t n)
{
    struct stat st;
    current_release(g, live, n);
    return is_complete(g, live) && stat(g->root, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Complete releases, oldest first (names start with the deploy number). Caller frees. */
static char **list_releases(const struct git_site *g, size_t *count)
{
    char **v = NULL;
    size_t n = 0;
    DIR *d = opendir(g->releases);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!is_complete(g, de->d_name))
            continue;
        v = xrealloc(v, (n + 1) * sizeof *v);
        v[n++] = xstrdup(de->d_name);
    }
    if (d)
        closedir(d);
    if (n)
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

/* One more than the highest number any entry claims (complete or not), so a new release never
 * takes the name of a leftover. */
static unsigned next_seq(const struct git_site *g)
{
    unsigned max = 0;
    DIR *d = opendir(g->releases);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        unsigned n = release_name_seq(de->d_name);
        if (n > max)
            max = n;
    }
    if (d)
        closedir(d);
    return max + 1;
}

/* Remove a release: first out of the release namespace in one rename(), then the files, so a
 * kill -9 half-way leaves NAME.del (a leftover), never a half-removed release. */
static void remove_release(const struct git_site *g, const char *name)
{
    char *p = xasprintf("%s/%s", g->releases, name);
    char *del = xasprintf("%s.del", p);
    rm_rf(del);
    if (rename(p, del) == 0)
        rm_rf(del);
    else
        log_warn(g->tag, 0, "cannot remove release %s: %s", name, strerror(errno));
    free(p);
    free(del);
}

/* git's NAME.lock files (and tmp_* files) under dir: a git killed with its deploy leaves them,
 * and a stale ref lock fails every later fetch. Loose object directories are not walked. */
#define GIT_WALK_DEPTH 32 /* directory levels walked in the cache (refs/remotes/origin/a/b/...) */

static void remove_git_leftovers(const char *dir, int depth, bool in_objects)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *e = de->d_name;
        size_t len = strlen(e);
        if (strcmp(e, ".") == 0 || strcmp(e, "..") == 0)
            continue;
        if (in_objects && len == 2 && strspn(e, "0123456789abcdef") == 2)
            continue;
        char *p = xasprintf("%s/%s", dir, e);
        struct stat st;
        bool is_temp = (len > 5 && strcmp(e + len - 5, ".lock") == 0) || strncmp(e, "tmp_", 4) == 0;
        if (lstat(p, &st) != 0)
            ;
        else if (S_ISREG(st.st_mode) && is_temp)
            unlink(p);
        else if (S_ISDIR(st.st_mode) && depth > 0)
            remove_git_leftovers(p, depth - 1,
                                 depth == GIT_WALK_DEPTH && strcmp(e, "objects") == 0);
        free(p);
    }
    if (d)
        closedir(d);
}

/* ROOT.wharf-swap.PID symlinks beside the root: a switch killed between symlink() and rename(). */
static void remove_swap_links(const struct git_site *g)
{
    char *dir = xstrdup(g->root);
    char *slash = strrchr(dir, '/');
    char *prefix = xasprintf("%s.wharf-swap.", slash ? slash + 1 : dir);
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0'; /* "/site" -> "/", "/srv/site" -> "/srv" */
    else
        strcpy(dir, ".");
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode))
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    free(prefix);
    free(dir);
}

/* Remove what killed deploys leave (see the top of this file). Called with the deploy lock
 * held: no other deployer runs, so every temporary artefact is stale. live: the entry the root
 * points at, never removed. */
static void remove_leftovers(const struct git_site *g, const char *live)
{
    /* releases/: everything but complete releases and the live entry (names first: removing
     * while reading the directory may skip entries) */
    char **v = NULL;
    size_t n = 0;
    DIR *d = opendir(g->releases);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *e = de->d_name;
        if (strcmp(e, ".") == 0 || strcmp(e, "..") == 0 || strcmp(e, live) == 0 ||
            is_complete(g, e))
            continue;
        v = xrealloc(v, (n + 1) * sizeof *v);
        v[n++] = xstrdup(e);
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++) {
        char *p = xasprintf("%s/%s", g->releases, v[i]);
        log_info(g->tag, 0, "removing %s (left by an unfinished deploy)", v[i]);
        rm_rf(p);
        free(p);
    }
    free_list(v, n);
    /* the cache: a `git init` killed half-way (no HEAD: made again), stale locks */
    char *head = xasprintf("%s/HEAD", g->cache);
    char *gc_pid = xasprintf("%s/gc.pid", g->cache);
    char *tmp = xasprintf("%s.tmp", g->cache);
    struct stat st;
    if (lstat(g->cache, &st) == 0 && stat(head, &st) != 0) {
        log_info(g->tag, 0, "removing the unfinished fetch cache %s", g->cache);
        rm_rf(g->cache);
    }
    remove_git_leftovers(g->cache, GIT_WALK_DEPTH, false);
    unlink(gc_pid);
    rm_rf(tmp);
    free(head);
    free(gc_pid);
    free(tmp);
    remove_swap_links(g);
    char *skip_tmp = xasprintf("%s/rolled-back.tmp", g->state);
    unlink(skip_tmp);
    free(skip_tmp);
    char *refused_tmp = xasprintf("%s/refused.tmp", g->state);
    unlink(refused_tmp);
    free(refused_tmp);
}

/* Keep the live release, its rollback target and the newest git_keep others (release.h). */
static void prune(const struct git_site *g)
{
    char live[128];
    if (!live_is_complete(g, live, sizeof live))
        return; /* only after a switch: the live one is complete */
    size_t n;
    char **v = list_releases(g, &n);
    bool *drop = xcalloc(n ? n : 1, sizeof *drop);
    release_prune_plan(v, n, live, g->site->git.keep, drop);
    for (size_t i = 0; i < n; i++) {
        if (!drop[i] || strcmp(v[i], live) == 0)
            continue;
        log_info(g->tag, 0, "removing old release %s", v[i]);
        remove_release(g, v[i]);
    }
    free(drop);
    free_list(v, n);
}

/* Point the root at releases/NAME (plus the subdir) in one atomic step. */
static int switch_to(const struct git_site *g, const char *name, struct errlist *errs)
{
    const char *state_base = strrchr(g->state, '/') ? strrchr(g->state, '/') + 1 : g->state;
    const char *sub = g->site->git.subdir;
    char *target = sub ? xasprintf("%s/releases/%s/%s", state_base, name, sub)
                       : xasprintf("%s/releases/%s", state_base, name);
    char *tmp = xasprintf("%s.wharf-swap.%ld", g->root, (long)getpid());
    int rc = -1;
    unlink(tmp);
    if (!is_complete(g, name)) {
        errlist_add(errs, "%s is not a complete release; the root stays", name);
    } else if (symlink(target, tmp) != 0) {
        errlist_add(errs, "symlink %s: %s", tmp, strerror(errno));
    } else if (rename(tmp, g->root) != 0) {
        errlist_add(errs, "switching %s: %s", g->root, strerror(errno));
        unlink(tmp);
    } else {
        rc = 0;
    }
    free(target);
    free(tmp);
    return rc;
}

static void record_live(struct git_site *g, const char *release, const char *commit, int64_t ctime)
{
    pthread_mutex_lock(&status_lock);
    snprintf(g->live_release, sizeof g->live_release, "%s", release);
    snprintf(g->live_commit, sizeof g->live_commit, "%s", commit);
    g->live_commit_time = ctime;
    pthread_mutex_unlock(&status_lock);
    atomic_store(&g->live, true);
}

/* At start: is a release already live (from an earlier run)? */
static void load_live(struct git_site *g)
{
    char name[128];
    current_release(g, name, sizeof name);
    struct stat st;
    if (!name[0] || stat(g->root, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    const char *dash = strrchr(name, '-');
    record_live(g, name, dash ? dash + 1 : "", 0);
}

/* ---- git ----------------------------------------------------------------------------------- */

static int detect_branch(struct git_site *g, struct errlist *errs)
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
        errlist_add(errs, "cannot read the remote's default branch (git ls-remote %s)",
                    rc == -ETIMEDOUT ? "timed out" : "failed");
    }
    buf_dispose(&out);
    return g->branch ? 0 : -1;
}

/* git fetch REPO REFSPEC into the cache (with git_depth); 0, or git's result */
static int fetch_refspec(struct git_site *g, const char *refspec)
{
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
    args[n++] = (char *)refspec;
    args[n] = NULL;
    return git(g, NULL, NULL, args);
}

/* The commit expr names in the cache, into sha (41 bytes); 0, or -1 when it names none. */
static int rev_parse(struct git_site *g, const char *expr, char *sha)
{
    struct buf out;
    buf_init(&out, 256);
    char *ref = xasprintf("%s^{commit}", expr);
    char *rp[] = {"-C",      g->cache,           "rev-parse", "--verify",
                  "--quiet", "--end-of-options", ref,         NULL};
    int rc = git(g, &out, NULL, rp);
    free(ref);
    trim(&out);
    if (rc == 0 && out.len == 40)
        memcpy(sha, out.data, 41);
    else
        rc = -1;
    buf_dispose(&out);
    return rc;
}

/* git_revision_file: the commit it names (release.h's release_pin_parse), into sha. Re-read at
 * every deploy, so a kubelet's update of a mounted ConfigMap is seen at the next poll, webhook
 * or SIGUSR2. A commit id is looked up in what the branch fetch brought, then (a full id only)
 * fetched by itself; a ref name is fetched from the repository. */
static int resolve_pin(struct git_site *g, char *sha, struct errlist *errs)
{
    const char *file = g->site->git.revision_file;
    char text[RELEASE_PIN_MAX + 64];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (got < 0) {
        errlist_add(errs, "git_revision_file %s: %s", file, strerror(err));
        return -1;
    }
    text[got] = '\0';
    char pin[RELEASE_PIN_MAX + 1];
    const char *why = "too long";
    enum release_pin kind = (size_t)got == sizeof text - 1 || strlen(text) != (size_t)got
                                ? RELEASE_PIN_BAD
                                : release_pin_parse(text, pin, &why);
    if (kind == RELEASE_PIN_BAD) {
        errlist_add(errs, "git_revision_file %s: %s", file, got ? why : "empty");
        return -1;
    }
    if (kind == RELEASE_PIN_REF) {
        char *refspec = xasprintf("+%s:refs/wharf/pin", pin);
        int rc = fetch_refspec(g, refspec);
        free(refspec);
        if (rc != 0 || rev_parse(g, "refs/wharf/pin", sha) != 0) {
            errlist_add(errs, "ref '%s' named by git_revision_file %s: git fetch of %s %s", pin,
                        file, g->site->git.repo, rc == -ETIMEDOUT ? "timed out" : "failed");
            return -1;
        }
        return 0;
    }
    if (rev_parse(g, pin, sha) == 0)
        return 0;
    if (strlen(pin) == 40 && fetch_refspec(g, pin) == 0 && rev_parse(g, pin, sha) == 0)
        return 0; /* not on the branch (or beyond git_depth): the server gave it by id */
    errlist_add(errs, "commit %s named by git_revision_file %s is not in %s (branch %s)", pin, file,
                g->site->git.repo, g->branch);
    return -1;
}

static int fetch(struct git_site *g, char *sha, struct errlist *errs)
{
    struct stat st;
    if (stat(g->cache, &st) != 0) {
        /* made under another name and renamed: a killed `git init` leaves no half cache */
        char *tmp = xasprintf("%s.tmp", g->cache);
        char *args[] = {"init", "--quiet", "--bare", tmp, NULL};
        rm_rf(tmp);
        int rc = git(g, NULL, NULL, args) == 0 && rename(tmp, g->cache) == 0 ? 0 : -1;
        if (rc != 0) {
            errlist_add(errs, "git init %s failed", g->cache);
            rm_rf(tmp);
        }
        free(tmp);
        if (rc != 0)
            return -1;
    }
    if (detect_branch(g, errs) != 0)
        return -1;
    char *refspec = xasprintf("+refs/heads/%s:refs/remotes/origin/%s", g->branch, g->branch);
    int rc = fetch_refspec(g, refspec);
    free(refspec);
    if (rc != 0) {
        errlist_add(errs, "git fetch of %s branch %s %s", g->site->git.repo, g->branch,
                    rc == -ETIMEDOUT ? "timed out" : "failed");
        return -1;
    }
    char *ref = xasprintf("refs/remotes/origin/%s", g->branch);
    rc = rev_parse(g, ref, sha);
    free(ref);
    if (rc != 0) {
        errlist_add(errs, "branch %s not found in %s", g->branch, g->site->git.repo);
        return -1;
    }
    return g->site->git.revision_file ? resolve_pin(g, sha, errs) : 0;
}

static int64_t commit_time(struct git_site *g, const char *sha)
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

static int checkout(struct git_site *g, const char *sha, const char *dir, struct errlist *errs)
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
        errlist_add(errs, "checkout of %.12s %s", sha, rc == -ETIMEDOUT ? "timed out" : "failed");
    free(wt);
    free(gd);
    free(index);
    return rc == 0 ? 0 : -1;
}

/* The environment of git_then and git_after: the env file's NAME=VALUE lines, then WHARF_*
 * (which win). Read at each deploy, so a changed file needs no reload. Returns 0, or -1 with
 * FILE:LINE errors in errs (a deploy error). */
static int read_env_file(const struct git_site *g, struct str_list *out, struct errlist *errs)
{
    const char *path = g->site->git.env_file;
    if (!path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO never blocks */
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        errlist_add(errs, "git_env_file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > ENV_FILE_MAX_BYTES) {
        errlist_add(errs, "git_env_file %s: not a regular file of at most %d bytes", path,
                    ENV_FILE_MAX_BYTES);
        close(fd);
        return -1;
    }
    char *text = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int rc = env_file_parse(text, got, path, out, errs);
    free(text);
    return rc;
}

/* Run a deploy command (git_then in the release being built, git_after in the live one) with
 * the env file's variables, WHARF_COMMIT, WHARF_RELEASE and WHARF_SHARED. */
static int run_cmd(struct git_site *g, const char *what, const char *cmd, const char *sha,
                   const char *dir, const struct str_list *env_file, struct errlist *errs)
{
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    char *commit = xasprintf("WHARF_COMMIT=%s", sha);
    char *release = xasprintf("WHARF_RELEASE=%s", dir);
    char *shared = xasprintf("WHARF_SHARED=%s/shared", g->state);
    char **env = xcalloc(env_file->n + 4, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < env_file->n; i++)
        env[k++] = env_file->v[i];
    env[k++] = commit;
    env[k++] = release;
    env[k++] = shared;
    char tag[128];
    snprintf(tag, sizeof tag, "%s [site %s]", what, g->site->name);
    struct proc_opts o = {
        .cwd = dir,
        .env_add = env,
        .timeout_ms = g->site->git.then_timeout_ms,
        .log_tag = tag,
    };
    log_info(g->tag, 0, "running %s in %s: %s", what, dir, cmd);
    int rc = proc_run(argv, &o);
    free(commit);
    free(release);
    free(shared);
    free(env);
    if (rc != 0)
        errlist_add(errs, "%s %s (%s%d)", what, rc == -ETIMEDOUT ? "timed out" : "failed",
                    rc > 128 ? "signal " : "exit status ", rc > 128 ? rc - 128 : rc);
    return rc == 0 ? 0 : -1;
}

static int run_then(struct git_site *g, const char *sha, const char *dir,
                    const struct str_list *env_file, struct errlist *errs)
{
    const char *cmd = g->site->git.then;
    return cmd ? run_cmd(g, "git_then", cmd, sha, dir, env_file, errs) : 0;
}

/* ---- shared state -----------------------------------------------------------------------------
 * state/shared/PATH holds each git_shared path; every release gets PATH as a relative symlink
 * to it before git_then runs (docs/architecture.md). The first deploy seeds it from the
 * commit's copy (moved, not copied) or creates it; later deploys never write it: the commit's
 * copy is removed and replaced by the link. Prune and rollback never touch state/shared (rm_rf
 * does not follow links). */

/* The effective list: the site's git_shared (even "off"), else its preset's. */
static const struct str_list *shared_list(const struct site_conf *site)
{
    static const struct str_list none = {0};
    if (site->git.shared_line)
        return &site->git.shared;
    if (site->fcgi.preset)
        return &site->fcgi.preset->shared;
    return &none;
}

/* Make every directory above path (relative, under base) exist as a real directory: a symlink
 * or a file on the way is an error, so a committed link cannot lead a shared path out. */
static int real_parents(const char *base, const char *path, const char *what, struct errlist *errs)
{
    char *p = xasprintf("%s/%s", base, path);
    size_t skip = strlen(base) + 1;
    int rc = 0;
    for (char *s = p + skip; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        struct stat st;
        if (lstat(p, &st) != 0) {
            if (mkdir(p, 0755) != 0)
                rc = errlist_add(errs, "git_shared %s: cannot create %s: %s", path, p,
                                 strerror(errno));
        } else if (!S_ISDIR(st.st_mode)) {
            rc = errlist_add(errs, "git_shared %s: %s in %s is not a directory", path, p + skip,
                             what);
        }
        *s = '/';
    }
    free(p);
    return rc;
}

static int link_one(struct git_site *g, const char *dir, const char *store,
                    const struct shared_path *sp, struct errlist *errs)
{
    const char *path = sp->path;
    char *in_release = xasprintf("%s/%s", dir, path);
    char *in_store = xasprintf("%s/%s", store, path);
    char *target = NULL;
    int rc = -1;
    struct stat rs, ss;
    if (real_parents(dir, path, "the commit", errs) != 0 ||
        real_parents(store, path, "the shared directory", errs) != 0)
        goto out;
    bool in_commit = lstat(in_release, &rs) == 0;
    bool stored = lstat(in_store, &ss) == 0;
    if (stored && S_ISLNK(ss.st_mode)) {
        errlist_add(errs, "git_shared %s: %s is a symlink; only files and directories are kept",
                    path, in_store);
        goto out;
    }
    if (sp->optional && in_commit) {
        rc = 0; /* the commit's own copy wins */
        goto out;
    }
    if (!stored && in_commit && S_ISLNK(rs.st_mode)) {
        /* a link is no content to keep, and it may lead anywhere */
        errlist_add(errs, "git_shared %s is a symlink in the commit: nothing to seed from", path);
        goto out;
    } else if (!stored && in_commit) {
        if (rename(in_release, in_store) != 0) {
            errlist_add(errs, "git_shared %s: cannot move it to %s: %s", path, in_store,
                        strerror(errno));
            goto out;
        }
        log_info(g->tag, 0, "git_shared %s: seeded from the commit", path);
    } else if (!stored && !sp->optional) {
        int fd = -1;
        if (sp->is_file)
            fd = open(in_store, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (sp->is_file ? fd < 0 : mkdir(in_store, 0755) != 0) {
            errlist_add(errs, "git_shared %s: cannot create %s: %s", path, in_store,
                        strerror(errno));
            goto out;
        }
        if (fd >= 0)
            close(fd);
        log_info(g->tag, 0, "git_shared %s: created an empty %s", path,
                 sp->is_file ? "file" : "directory");
    } else if (in_commit) {
        rm_rf(in_release); /* the shared copy wins, always */
    }
    /* relative: releases/NAME.tmp/a/b/PATH -> ../../../../shared/a/b/PATH, valid after the
     * rename to NAME and wherever the state directory is moved */
    struct buf t;
    buf_init(&t, 0);
    for (unsigned i = 0; i < shared_path_depth(path) + 2; i++)
        buf_puts(&t, "../");
    buf_printf(&t, "shared/%s", path);
    target = buf_steal(&t, NULL);
    if (symlink(target, in_release) != 0) {
        errlist_add(errs, "git_shared %s: symlink: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(in_release);
    free(in_store);
    free(target);
    return rc;
}

static int link_shared(struct git_site *g, const char *dir, struct errlist *errs)
{
    const struct str_list *l = shared_list(g->site);
    if (l->n == 0)
        return 0;
    char *store = xasprintf("%s/shared", g->state);
    int rc = 0;
    if (mkdir(store, 0755) != 0 && errno != EEXIST)
        rc = errlist_add(errs, "cannot create %s: %s", store, strerror(errno));
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        struct shared_path sp;
        if (shared_path_parse(l->v[i], &sp) != 0) /* config.c checked it */
            rc = errlist_add(errs, "git_shared: bad path '%s'", l->v[i]);
        else
            rc = link_one(g, dir, store, &sp, errs);
    }
    free(store);
    return rc;
}

/* The deploy lock's fd, or -errno: -EWOULDBLOCK when another process holds it (and !wait). */
static int lock_state(const struct git_site *g, bool wait)
{
    if (fs_mkdir_p(g->state, 0755) != 0)
        return -errno;
    int fd = open(g->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* ---- the do-not-redeploy list ---------------------------------------------------------------
 * state/rolled-back holds the commits rolled back from (12 hex digits a line, newest last):
 * while the branch is on one of them, it is not deployed again, so a rollback (or two in a
 * row) is not undone by the next poll. A branch on any other commit empties the list. */

#define SKIP_MAX 64 /* commits remembered */

/* The list into buf (n bytes): "c1\nc2\n..."; "" if none. */
static void read_skip(const struct git_site *g, char *buf, size_t n)
{
    char *path = xasprintf("%s/rolled-back", g->state);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, buf, n - 1) : -1;
    buf[got > 0 ? got : 0] = '\0';
    if (fd >= 0)
        close(fd);
    free(path);
}

static bool skip_has(const char *list, const char *sha)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, "\n");
        if (len >= 7 && strncmp(sha, p, len) == 0)
            return true;
        p += len + (p[len] == '\n');
    }
    return false;
}

/* Add commit (12 hex digits) to the list; written whole under another name and renamed. */
static int add_skip(const struct git_site *g, const char *commit)
{
    char old[SKIP_MAX * (RELEASE_COMMIT_LEN + 1) + 1];
    read_skip(g, old, sizeof old);
    const char *keep = old;
    size_t lines = 0;
    for (const char *p = old; *p; p++)
        lines += *p == '\n';
    while (lines-- >= SKIP_MAX && strchr(keep, '\n'))
        keep = strchr(keep, '\n') + 1; /* the oldest go */
    char *path = xasprintf("%s/rolled-back", g->state);
    char *tmp = xasprintf("%s/rolled-back.tmp", g->state);
    FILE *f = fopen(tmp, "we");
    int rc = -1;
    if (f) {
        fprintf(f, "%s%.*s\n", keep, RELEASE_COMMIT_LEN, commit);
        rc = fclose(f) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    }
    if (rc != 0)
        unlink(tmp);
    free(path);
    free(tmp);
    return rc;
}

static void clear_skip(const struct git_site *g)
{
    char *path = xasprintf("%s/rolled-back", g->state);
    unlink(path);
    free(path);
}

/* ---- the refused commit -----------------------------------------------------------------------
 * state/refused: the commit git_check refused before the switch, the git_check value it failed
 * and why ("SHA\nCHECK\nREASON"). While the branch stays on that commit and git_check is
 * unchanged, polls and the start-up deploy do not build it again (the same failure, rebuilt every
 * git_interval, would only load the machine and flood the log and git_notify); a webhook push,
 * SIGUSR2 or wharf --deploy asks for it explicitly and tries it again. Any other commit is built
 * as usual, and clears the record. Written whole under another name and renamed. */

#define REFUSED_MAX 2048 /* bytes of the record read */

/* The reason recorded for sha under the current git_check, pointing into text (n bytes), or
 * NULL when the record is of another commit or check. text[0] == '\0' when there is none. */
static const char *refused_reason(const struct git_site *g, const char *sha, char *text, size_t n)
{
    char *path = xasprintf("%s/refused", g->state);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, text, n - 1) : -1;
    text[got > 0 ? got : 0] = '\0';
    if (fd >= 0)
        close(fd);
    free(path);
    const char *check = g->site->git.check;
    char *nl = strchr(text, '\n');
    if (!check || !nl || (size_t)(nl - text) != 40 || strncmp(text, sha, 40) != 0)
        return NULL;
    const char *c = nl + 1;
    size_t clen = strlen(check);
    if (strncmp(c, check, clen) != 0 || c[clen] != '\n')
        return NULL;
    return c + clen + 1;
}

static void write_refused(const struct git_site *g, const char *sha, const char *why)
{
    char *path = xasprintf("%s/refused", g->state);
    char *tmp = xasprintf("%s/refused.tmp", g->state);
    FILE *f = fopen(tmp, "we");
    bool ok = f && fprintf(f, "%s\n%s\n%s", sha, g->site->git.check, why) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        log_warn(g->tag, 0, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(path);
    free(tmp);
}

static void clear_refused(const struct git_site *g)
{
    char *path = xasprintf("%s/refused", g->state);
    unlink(path);
    free(path);
}

/* ---- one deploy ---------------------------------------------------------------------------- */

/* Under the deploy lock, before a deploy or a rollback: remove leftovers (never the entry the
 * root points at) and, with repair, switch a root that is not on a complete release to the
 * newest complete one. Returns whether the root is on a complete release; live gets its name. */
static bool recover(struct git_site *g, char *live, size_t n, bool repair)
{
    bool ok = live_is_complete(g, live, n);
    remove_leftovers(g, live);
    if (ok || !repair)
        return ok;
    size_t count;
    char **v = list_releases(g, &count);
    struct errlist errs = {0};
    if (count && switch_to(g, v[count - 1], &errs) == 0) {
        log_warn(g->tag, 0, "the root was on %s, not a complete release: now on %s",
                 live[0] ? live : "nothing", v[count - 1]);
        ok = live_is_complete(g, live, n);
        remove_leftovers(g, live); /* what it pointed at before */
    }
    free_list(v, count);
    errlist_dispose(&errs); /* a failed repair leaves the root as it was: the deploy says why */
    return ok;
}

/* What a deploy or rollback did, for the history and git_notify. */
struct deploy_info {
    char commit[41];       /* deployed or rolled back to; "" = unknown (the fetch failed) */
    char previous[41];     /* live before; "" = none */
    char after_error[256]; /* git_after failed (the release stays live); "" = no */
    char held[1024];       /* the branch's commit was refused earlier and not tried again:
                            * why (becomes last_error); "" = no */
    bool rolled_back_from; /* the branch is on a commit rolled back from: last_error (why)
                            * stays as it is */
};

static int rollback(struct git_site *g, struct deploy_info *info, struct errlist *errs);
static void report(const struct git_site *g, const char *event, const char *trigger, int rc,
                   const struct deploy_info *info, uint64_t ms, const char *why);

/* ---- the health gate (gate.h) -----------------------------------------------------------------
 * Before the switch, git_check is asked of the new release (served by this process from
 * releases/NAME); after it, of the live site, git_check_retries times git_check_interval
 * apart: when every one fails, the worker rolls back as wharf --rollback does. */

static bool is_stopping(void)
{
    pthread_mutex_lock(&lock);
    bool s = stopping;
    pthread_mutex_unlock(&lock);
    return s;
}

/* Sleep ms, waking early when the worker stops; false when it does. */
static bool pause_ms(uint64_t ms)
{
    uint64_t end = clock_ms() + ms;
    while (!is_stopping()) {
        uint64_t now = clock_ms();
        if (now >= end)
            return true;
        uint64_t left = end - now < 100 ? end - now : 100;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* The gate applies to every deploy of a site with git_check, the command line's included
 * (wharf --deploy serves the checks itself: main.c); a process with no listener to ask fails
 * the check, so no commit goes live unchecked. */
static bool gate_on(const struct git_site *g)
{
    return g->site->git.check != NULL;
}

/* The check of release name (sha) before the switch: 0, or -1 with the reason in errs. */
static int gate_before(struct git_site *g, const char *name, const char *sha, struct errlist *errs)
{
    struct buf why;
    buf_init(&why, 0);
    uint64_t t0 = clock_ms();
    bool passed = gate_check(g->site, name, &why);
    uint64_t ms = clock_ms() - t0;
    if (passed) {
        log_info(g->tag, 0, "git_check passed on %.12s before the switch (%llu ms)", sha,
                 (unsigned long long)ms);
    } else {
        pthread_mutex_lock(&status_lock);
        g->n_gate_refused++;
        pthread_mutex_unlock(&status_lock);
        errlist_add(errs, "git_check refused %.12s before the switch (%llu ms): %.*s", sha,
                    (unsigned long long)ms, (int)why.len, why.data ? why.data : "");
    }
    buf_dispose(&why);
    return passed ? 0 : -1;
}

/* The checks of the live site after the switch: true when one passed (or the worker stops);
 * false with the last reason in why when git_check_retries checks in a row failed. */
static bool gate_after(struct git_site *g, const char *sha, struct buf *why)
{
    unsigned tries = g->site->git.check_retries;
    for (unsigned i = 0; i < tries; i++) {
        if (i && !pause_ms(g->site->git.check_interval_ms))
            return true;
        buf_reset(why);
        if (gate_check(g->site, NULL, why)) {
            if (i)
                log_info(g->tag, 0, "git_check passed on the live %.12s at try %u of %u", sha,
                         i + 1, tries);
            return true;
        }
        log_warn(g->tag, 0, "git_check failed on the live %.12s (try %u of %u): %.*s", sha, i + 1,
                 tries, (int)why->len, why->data ? why->data : "");
    }
    return tries == 0;
}

/* Step 1 of a deploy, fetch: releases/ exists and what a killed deploy left is cleared
 * (recover), so *live_ok says whether live names a complete live release; then the branch's
 * commit is fetched into sha. info gets both commits for the deploy log and the status. */
static int fetch_target(struct git_site *g, char *sha, char *live, size_t live_cap, bool *live_ok,
                        struct deploy_info *info, struct errlist *errs)
{
    if (fs_mkdir_p(g->releases, 0755) != 0)
        return errlist_add(errs, "cannot create %s: %s", g->releases, strerror(errno));
    *live_ok = recover(g, live, live_cap, true);
    if (*live_ok)
        snprintf(info->previous, sizeof info->previous, "%s", release_name_commit(live));
    if (fetch(g, sha, errs) != 0)
        return -1;
    snprintf(info->commit, sizeof info->commit, "%s", sha);
    return 0;
}

/* Step 2, decide: whether sha needs a build. Not when it was rolled back from (until the branch
 * moves: info->rolled_back_from), when it is live already (live: NULL = no complete release is
 * live), or when git_check refused it and the deploy was not asked for again (info->held,
 * logged once). The skip and refused notes that no longer apply are cleared here. */
static bool wants_build(struct git_site *g, bool again, const char *sha, const char *live,
                        struct deploy_info *info)
{
    char skip[SKIP_MAX * (RELEASE_COMMIT_LEN + 1) + 1];
    read_skip(g, skip, sizeof skip);
    if (live && skip_has(skip, sha)) {
        if (strcmp(g->live_release, live) != 0) /* a rollback by wharf --rollback */
            record_live(g, live, release_name_commit(live), 0);
        info->rolled_back_from = true;
        return false; /* rolled back from: not deployed again until the branch moves */
    }
    if (skip[0])
        clear_skip(g);
    if (live && strncmp(release_name_commit(live), sha, RELEASE_COMMIT_LEN) == 0) {
        record_live(g, live, sha, commit_time(g, sha));
        return false; /* already live: nothing to do */
    }
    char refused[REFUSED_MAX];
    const char *reason = refused_reason(g, sha, refused, sizeof refused);
    if (reason && !again) {
        snprintf(info->held, sizeof info->held,
                 "not tried again until the branch moves or a deploy is asked for (webhook, "
                 "SIGUSR2, wharf --deploy): %s",
                 reason);
        if (strcmp(g->held_sha, sha) != 0) { /* once, not at every poll */
            log_info(g->tag, 0, "%.12s was refused by git_check: %s", sha, info->held);
            snprintf(g->held_sha, sizeof g->held_sha, "%s", sha);
        }
        return false;
    }
    g->held_sha[0] = '\0';
    if (refused[0])
        clear_refused(g); /* another commit, or asked for again */
    return true;
}

/* Step 3, build: sha becomes the complete release final_dir by the steps the rule at the top
 * makes safe against kill -9: made as tmp_dir holding the building mark, renamed to its final
 * path at once (so what git_then writes down, such as artisan config:cache, a Symfony container
 * or storage:link, names the real release), checked out, shared paths linked, git_then run,
 * git_subdir checked, and only then completed by removing the mark. *building is true while
 * final_dir is this deploy's unfinished build, which the caller removes on failure. */
static int build(struct git_site *g, const char *sha, const char *tmp_dir, const char *final_dir,
                 struct str_list *env, bool *building, struct errlist *errs)
{
    if (g->site->git.revision_file)
        log_info(g->tag, 0, "deploying %.12s (named by %s)", sha, g->site->git.revision_file);
    else
        log_info(g->tag, 0, "deploying %.12s (branch %s)", sha, g->branch);
    if (read_env_file(g, env, errs) != 0)
        return -1;
    if (mkdir(tmp_dir, 0755) != 0 || mark_building(tmp_dir) != 0)
        return errlist_add(errs, "cannot create %s: %s", tmp_dir, strerror(errno));
    if (rename(tmp_dir, final_dir) != 0)
        return errlist_add(errs, "cannot rename %s: %s", tmp_dir, strerror(errno));
    *building = true;
    if (checkout(g, sha, final_dir, errs) != 0 || link_shared(g, final_dir, errs) != 0 ||
        run_then(g, sha, final_dir, env, errs) != 0)
        return -1;
    if (g->site->git.subdir) {
        struct stat st;
        char *sub = xasprintf("%s/%s", final_dir, g->site->git.subdir);
        bool ok = stat(sub, &st) == 0 && S_ISDIR(st.st_mode);
        free(sub);
        if (!ok)
            return errlist_add(errs, "git_subdir '%s' is not a directory in %.12s",
                               g->site->git.subdir, sha);
    }
    /* the build is complete: from here on it is a release (the rule at the top) */
    if (unmark_building(final_dir) != 0)
        return errlist_add(errs, "cannot complete %s: %s", final_dir, strerror(errno));
    *building = false;
    return 0;
}

/* Step 4, gate and switch: with git_check (gated), the release is checked before anything
 * refers to it, and a refused one is removed with its commit noted as refused; then the root
 * symlink is swapped atomically (switch_to). A release that never went live is removed. */
static int gate_and_switch(struct git_site *g, const char *name, const char *sha, bool gated,
                           struct errlist *errs)
{
    if (gated && gate_before(g, name, sha, errs) != 0) {
        remove_release(g, name); /* never live: nothing refers to it */
        write_refused(g, sha, errs->msg[errs->n - 1]);
        return -1;
    }
    if (switch_to(g, name, errs) != 0) {
        remove_release(g, name);
        return -1;
    }
    return 0;
}

/* Step 5, record: the new live release in the status, the log line, then prune (never the live
 * release or the rollback target). */
static void record_switch(struct git_site *g, const char *name, const char *sha)
{
    record_live(g, name, sha, commit_time(g, sha));
    log_info(g->tag, 0, "live: %.12s in %s", sha, name);
    prune(g);
}

/* Step 6, git_after: the release is live whatever happens here, so a failure is reported
 * (info->after_error, the log), never rolled back. */
static void run_after(struct git_site *g, const char *sha, const char *dir,
                      const struct str_list *env, struct deploy_info *info)
{
    if (!g->site->git.after)
        return;
    struct errlist after = {0};
    if (run_cmd(g, "git_after", g->site->git.after, sha, dir, env, &after) != 0) {
        snprintf(info->after_error, sizeof info->after_error, "%s", after.msg[after.n - 1]);
        log_error(g->tag, 0, "%s; %.12s stays live", info->after_error, sha);
    }
    errlist_dispose(&after);
}

/* Step 7, the gate after the switch: 0 when the live sha passes git_check (gate_after); else
 * the site is rolled back (reported as a "gate" rollback) and -1 says why in errs. */
static int gate_live(struct git_site *g, const char *sha, struct errlist *errs)
{
    int rc = 0;
    struct buf why;
    buf_init(&why, 0);
    if (!gate_after(g, sha, &why)) {
        uint64_t t0 = clock_ms();
        struct deploy_info rb = {0};
        struct errlist rerrs = {0};
        int rrc = rollback(g, &rb, &rerrs);
        pthread_mutex_lock(&status_lock);
        g->n_gate_rollbacks++;
        pthread_mutex_unlock(&status_lock);
        const char *rwhy = rerrs.n ? rerrs.msg[rerrs.n - 1] : "unknown error";
        if (rrc == 0)
            errlist_add(errs,
                        "git_check failed %u times in a row on the live %.12s; rolled back "
                        "to %.12s: %.*s",
                        g->site->git.check_retries, sha, rb.commit, (int)why.len,
                        why.data ? why.data : "");
        else
            errlist_add(errs,
                        "git_check failed %u times in a row on the live %.12s, and the "
                        "rollback failed (%s): %.*s",
                        g->site->git.check_retries, sha, rwhy, (int)why.len,
                        why.data ? why.data : "");
        report(g, "rollback", "gate", rrc, &rb, clock_ms() - t0, rwhy);
        errlist_dispose(&rerrs);
        rc = -1;
    }
    buf_dispose(&why);
    return rc;
}

/* Fetch, build and switch. again: the deploy was asked for (webhook, SIGUSR2, wharf --deploy),
 * so a commit git_check refused is tried again. Returns 0, with *switched telling whether a new
 * release went live (false: the branch's commit is live already, was rolled back from, or was
 * refused and not asked for again: info->held), or -1 with the reason in errs. The steps run in
 * order, each only after the one before succeeded; what a failed build left is removed here. */
static int deploy(struct git_site *g, bool again, bool *switched, struct deploy_info *info,
                  struct errlist *errs)
{
    *switched = false;
    char sha[41], live[128], name[RELEASE_NAME_LEN + 1];
    int rc = -1;
    char *tmp_dir = NULL, *final_dir = NULL;
    bool building = false; /* final_dir is this deploy's unfinished build */
    struct str_list env = {0};
    bool live_ok = false;
    if (fetch_target(g, sha, live, sizeof live, &live_ok, info, errs) != 0)
        return -1;
    if (!wants_build(g, again, sha, live_ok ? live : NULL, info))
        return 0;
    /* the deploy number keeps names in deploy order, whatever the clock or the commit ids, so
     * pruning and rollback can sort by name */
    if (release_name_make(name, sizeof name, next_seq(g), (int64_t)time(NULL), sha) != 0)
        return errlist_add(errs, "no release number left in %s", g->releases);
    final_dir = xasprintf("%s/%s", g->releases, name);
    tmp_dir = xasprintf("%s.tmp", final_dir);
    if (build(g, sha, tmp_dir, final_dir, &env, &building, errs) != 0)
        goto out;
    bool gated = gate_on(g);
    if (gate_and_switch(g, name, sha, gated, errs) != 0)
        goto out;
    record_switch(g, name, sha);
    *switched = true;
    rc = 0;
    run_after(g, sha, final_dir, &env, info);
    if (gated && gate_live(g, sha, errs) != 0) {
        *switched = false;
        rc = -1;
    }
out:
    if (rc != 0 && tmp_dir)
        rm_rf(tmp_dir); /* (gone after the rename) */
    if (building)       /* a failed build under its release name: never complete, never live */
        remove_release(g, name);
    free(tmp_dir);
    free(final_dir);
    env_file_clear(&env);
    return rc;
}

/* Switch to the rollback target (release.h): the newest complete release older than the live
 * one, of another commit; the newest complete one when the root is not on a complete release.
 * The commit rolled back from goes on the do-not-redeploy list first, so a kill -9 at any
 * point leaves either no rollback or a complete one. */
static int rollback(struct git_site *g, struct deploy_info *info, struct errlist *errs)
{
    char live[128];
    bool live_ok = recover(g, live, sizeof live, false);
    size_t n;
    char **v = list_releases(g, &n);
    size_t t = release_rollback_target(v, n, live_ok ? live : "");
    int rc = -1;
    if (live_ok)
        snprintf(info->previous, sizeof info->previous, "%s", release_name_commit(live));
    if (t < n)
        snprintf(info->commit, sizeof info->commit, "%s", release_name_commit(v[t]));
    if (t == n) {
        errlist_add(errs, "no complete release older than %s (of another commit) is kept",
                    live[0] ? live : "(none)");
    } else if (live_ok && add_skip(g, release_name_commit(live)) != 0) {
        errlist_add(errs, "cannot write %s/rolled-back: %s", g->state, strerror(errno));
    } else if (switch_to(g, v[t], errs) == 0) {
        record_live(g, v[t], release_name_commit(v[t]), 0);
        log_info(g->tag, 0, "rolled back from %s to %s", live[0] ? live : "(none)", v[t]);
        rc = 0;
    }
    free_list(v, n);
    return rc;
}

/* ---- history and notifications --------------------------------------------------------------
 * state/history: one line per deploy that switched or failed and per rollback
 * (deploy_event.h), the newest DEPLOY_HISTORY_KEEP kept; written whole under another name and
 * renamed, under the deploy lock, by the server and the command line alike. */

#define HISTORY_FILE_MAX (64 * 1024)

static char *read_small(const char *path, size_t max)
{
    char *text = xmalloc(max + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, text, max) : -1;
    text[got > 0 ? got : 0] = '\0';
    if (fd >= 0)
        close(fd);
    return text;
}

static void add_history(const struct git_site *g, const struct deploy_event *ev)
{
    char *path = xasprintf("%s/history", g->state);
    char *tmp = xasprintf("%s/history.tmp", g->state);
    char *old = read_small(path, HISTORY_FILE_MAX);
    size_t lines = 0;
    for (const char *p = old; *p; p++)
        lines += *p == '\n';
    const char *keep = old;
    while (lines-- >= DEPLOY_HISTORY_KEEP && strchr(keep, '\n'))
        keep = strchr(keep, '\n') + 1;
    struct buf line;
    buf_init(&line, 0);
    deploy_event_line(ev, &line);
    FILE *f = fopen(tmp, "we");
    bool ok = f && fprintf(f, "%s%s", keep, line.data) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        log_warn(g->tag, 0, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    buf_dispose(&line);
    free(old);
    free(path);
    free(tmp);
}

/* Record one deploy attempt or rollback: the history file, the log, git_notify. */
static void report(const struct git_site *g, const char *event, const char *trigger, int rc,
                   const struct deploy_info *info, uint64_t ms, const char *why)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    struct deploy_event ev = {
        .event = event,
        .site = g->site->name,
        .result = rc != 0                          ? "failed"
                  : strcmp(event, "rollback") == 0 ? "rolled_back"
                                                   : "live",
        .trigger = trigger,
        .commit = info->commit,
        .previous = info->previous,
        .error = rc != 0 ? why : NULL,
        .after_error = info->after_error,
        .host = host,
        .time = (int64_t)time(NULL),
        .duration_ms = ms,
    };
    add_history(g, &ev);
    const struct git_site_conf *c = &g->site->git;
    if (c->notify.n) {
        struct buf body;
        buf_init(&body, 0);
        deploy_event_json(&ev, &body);
        notify_post(&c->notify, c->notify_secret ? c->notify_secret : c->secret, c->notify_ca,
                    event, body.data, body.len, 0, g->tag);
        buf_dispose(&body);
    }
}

static void run_one(struct git_site *g, const char *trigger)
{
    struct errlist errs = {0};
    struct deploy_info info = {0};
    uint64_t t0 = clock_ms();
    pthread_mutex_lock(&status_lock);
    g->deploying = true;
    g->last_attempt = time(NULL);
    pthread_mutex_unlock(&status_lock);
    int fd = lock_state(g, false);
    bool switched = false;
    int rc = -1;
    if (fd == -EWOULDBLOCK)
        errlist_add(&errs, "another deploy (wharf --deploy?) holds %s", g->lock_path);
    else if (fd < 0)
        errlist_add(&errs, "cannot create %s: %s", g->state, strerror(-fd));
    else
        rc = deploy(g, strcmp(trigger, "webhook") == 0 || strcmp(trigger, "signal") == 0, &switched,
                    &info, &errs);
    const char *why = errs.n ? errs.msg[errs.n - 1] : "unknown error";
    uint64_t ms = clock_ms() - t0;
    if (fd >= 0 && (switched || rc < 0))
        report(g, "deploy", trigger, rc, &info, ms, why);
    if (fd >= 0)
        close(fd);
    pthread_mutex_lock(&status_lock);
    g->deploying = false;
    g->last_duration_ms = ms;
    if (rc == 0 && !info.rolled_back_from) /* a held commit keeps saying why it is not live */
        snprintf(g->last_error, sizeof g->last_error, "%s", info.held);
    if (rc == 0 && !switched)
        g->n_unchanged++;
    if (switched) {
        g->last_success = time(NULL);
        g->n_deploys++;
        g->durations_ms[g->n_durations++ % HISTORY] = ms;
        snprintf(g->after_error, sizeof g->after_error, "%s", info.after_error);
    } else if (rc < 0) {
        g->n_failures++;
        snprintf(g->last_error, sizeof g->last_error, "%s", why);
    }
    pthread_mutex_unlock(&status_lock);
    if (rc < 0)
        log_error(g->tag, 0, "deploy failed after %llu ms: %s; the live release stays",
                  (unsigned long long)ms, why);
    errlist_dispose(&errs);
}

/* ---- the thread --------------------------------------------------------------------------- */

static void *on_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        uint64_t now = clock_ms(), soonest = UINT64_MAX;
        struct git_site *due = NULL;
        for (struct git_site *g = sites; g && !due; g = g->next) {
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
        const char *trigger = due->requested      ? (due->trigger ? due->trigger : "webhook")
                              : !due->polled_once ? "start"
                                                  : "poll";
        due->requested = false;
        due->trigger = NULL;
        due->polled_once = true;
        due->started_ms = now;
        in_deploy = due; /* git_worker_remove() waits for it */
        pthread_mutex_unlock(&lock);
        run_one(due, trigger);
        atomic_store(&due->confirmed, true);
        pthread_mutex_lock(&lock);
        in_deploy = NULL;
        pthread_cond_broadcast(&deployed);
        uint64_t interval = due->site->git.interval_ms;
        bool ok = atomic_load(&due->live);
        due->next_ms = clock_ms() + (interval ? interval : ok ? UINT64_MAX / 2 : RETRY_MS);
        if (!interval && ok && due->last_error[0])
            due->next_ms = clock_ms() + RETRY_MS;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

struct git_site *git_worker_add(const struct site_conf *site, bool at_start)
{
    struct git_site *g = xmalloc(sizeof *g);
    git_site_init(g, site);
    load_live(g);
    atomic_store(&g->confirmed, !at_start);
    g->next_ms = 0; /* deploy (or confirm) at start */
    pthread_mutex_lock(&lock);
    struct git_site **tail = &sites; /* in configuration order: the thread serves the first due */
    while (*tail)
        tail = &(*tail)->next;
    *tail = g;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    return g;
}

void git_worker_rebind(struct git_site *g, const struct site_conf *site)
{
    pthread_mutex_lock(&lock);
    while (in_deploy == g) /* the thread reads g->site while it deploys */
        pthread_cond_wait(&deployed, &lock);
    g->site = site;
    pthread_mutex_unlock(&lock);
}

void git_worker_detach(struct git_site *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&lock);
    for (struct git_site **p = &sites; *p; p = &(*p)->next) {
        if (*p == g) {
            *p = g->next;
            break;
        }
    }
    while (in_deploy == g)
        pthread_cond_wait(&deployed, &lock);
    pthread_mutex_unlock(&lock);
}

void git_worker_remove(struct git_site *g)
{
    if (!g)
        return;
    git_worker_detach(g);
    git_site_dispose(g);
    free(g);
}

int git_worker_start(void)
{
    pthread_mutex_lock(&lock);
    bool any = sites != NULL;
    stopping = false;
    pthread_mutex_unlock(&lock);
    if (!any || running)
        return 0;
    if (pthread_create(&thread, NULL, on_thread, NULL) != 0)
        return -1;
    running = true;
    return 0;
}

void git_worker_stop(void)
{
    if (!running)
        return;
    proc_cancel_all(); /* a fetch or build in progress ends now */
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    running = false;
    notify_stop();
}

void git_worker_request(struct git_site *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&lock);
    if (!g->requested) {
        g->requested = true;
        g->requested_ms = clock_ms();
        g->trigger = "webhook";
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
}

void git_worker_request_all(void)
{
    pthread_mutex_lock(&lock);
    for (struct git_site *g = sites; g; g = g->next) {
        if (!g->requested) {
            g->requested_ms = clock_ms();
            g->trigger = "signal";
        }
        g->requested = true;
    }
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void git_worker_branch(const struct git_site *g, char *out, size_t n)
{
    pthread_mutex_lock(&status_lock);
    snprintf(out, n, "%s", g && g->branch ? g->branch : "");
    pthread_mutex_unlock(&status_lock);
}

bool git_worker_is_live(const struct git_site *g)
{
    return !g || atomic_load(&g->live);
}

bool git_worker_is_confirmed(const struct git_site *g)
{
    return !g || atomic_load(&g->confirmed);
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

void git_worker_status_json(const struct git_site *g, struct buf *out)
{
    if (!g) {
        buf_puts(out, "{}");
        return;
    }
    const struct site_conf *site = g->site;
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
    buf_puts(out, ",\"after_error\":");
    if (g->after_error[0]) {
        buf_putc(out, '"');
        buf_append_json(out, g->after_error, strlen(g->after_error));
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
    buf_puts(out, "]");
    pthread_mutex_unlock(&status_lock);
    /* the history file holds the command line's deploys and rollbacks too (renamed whole, so
     * this never reads half a write) */
    char *path = xasprintf("%s/history", g->state);
    char *text = read_small(path, HISTORY_FILE_MAX);
    buf_puts(out, ",\"history\":");
    deploy_history_json(text, HISTORY, out);
    buf_puts(out, "}");
    free(text);
    free(path);
}

char *git_worker_release_root(const struct git_site *g, const char *name)
{
    if (!g || !is_complete(g, name))
        return NULL;
    const char *subdir = g->site->git.subdir;
    char *dir = subdir ? xasprintf("%s/%s/%s", g->releases, name, subdir)
                       : xasprintf("%s/%s", g->releases, name);
    char *real = realpath(dir, NULL);
    free(dir);
    struct stat st;
    if (real && (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))) {
        free(real);
        real = NULL;
    }
    return real;
}

void git_worker_get_stats(const struct git_site *g, struct git_worker_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!g)
        return;
    pthread_mutex_lock(&status_lock);
    st->live = atomic_load(&g->live);
    copy_str(st->live_commit, sizeof st->live_commit, g->live_commit);
    st->deployed = g->n_deploys;
    st->unchanged = g->n_unchanged;
    st->failed = g->n_failures;
    st->gate_refused = g->n_gate_refused;
    st->gate_rollbacks = g->n_gate_rollbacks;
    st->last_duration_ms = g->last_duration_ms;
    st->last_attempt = g->last_attempt;
    st->last_success = g->last_success;
    pthread_mutex_unlock(&status_lock);
}

/* A deploy or rollback from the command line, on g, in this thread; see git_deploy_once. */
static int deploy_here(struct git_site *g, bool do_rollback)
{
    struct errlist errs = {0};
    struct deploy_info info = {0};
    bool switched = true;
    int rc = -1;
    uint64_t t0 = clock_ms();
    int fd = lock_state(g, true); /* waits for a deploy running in the server */
    if (fd < 0) {
        errlist_add(&errs, "cannot lock %s: %s", g->lock_path, strerror(-fd));
    } else {
        rc = do_rollback ? rollback(g, &info, &errs) : deploy(g, true, &switched, &info, &errs);
        if (switched || rc < 0)
            report(g, do_rollback ? "rollback" : "deploy", "cli", rc, &info, clock_ms() - t0,
                   errs.n ? errs.msg[errs.n - 1] : "unknown error");
        close(fd);
    }
    notify_flush(2 * NOTIFY_TIMEOUT_MS); /* the events leave before the process does */
    notify_stop();
    if (rc < 0)
        log_error(g->tag, 0, "%s failed: %s", do_rollback ? "rollback" : "deploy",
                  errs.n ? errs.msg[errs.n - 1] : "unknown error");
    else if (!switched)
        log_info(g->tag, 0, "already up to date");
    errlist_dispose(&errs);
    return rc;
}

int git_deploy_once(const struct site_conf *site, bool do_rollback)
{
    struct git_site g;
    git_site_init(&g, site);
    int rc = deploy_here(&g, do_rollback);
    git_site_dispose(&g);
    return rc;
}

int git_worker_deploy_here(struct git_site *g)
{
    return g ? deploy_here(g, false) : -1;
}
