/*
 * acme: see include/acme.h. The thread owns the jobs (one per tls = auto site, copied from the
 * configuration); acme_start() replaces the list at a reload and keeps the state (failures,
 * next attempt, account created) of the jobs that did not change. A job is due at start when
 * it has no certificate, else when acme_plan_renew_at() says; after a failure it waits
 * acme_plan_retry_ms(). Nothing here blocks a request or start-up: the front reads challenge
 * files, tls_store serves whatever certificate is on disk (or a temporary one).
 */
#include "acme.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme_plan.h"
#include "buf.h"
#include "log.h"
#include "proc.h"
#include "tls_store.h"

#define UACME_TIMEOUT_MS (5 * 60 * 1000) /* one uacme run, all challenges included */
#define CAPTURE_MAX 16384

struct acme_job {
    char *name; /* the site's, for messages */
    struct str_list hosts;
    char *dir, *ca, *roots, *email;
    uint64_t retry_ms;
    /* state, the thread's (and acme_start's under the lock) */
    bool account_ok;   /* `uacme new` succeeded (or the account existed) */
    unsigned failures; /* consecutive failed attempts */
    time_t due;        /* next attempt, seconds since the epoch; 0 = decide from the file */
    struct acme_job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct acme_job *jobs;   /* under lock; replaced by acme_start */
static struct acme_job *doomed; /* replaced jobs, freed by the thread when not running them */
static struct acme_job *running_job;
static bool stopping, running;
static pthread_t thread;
static char self_exe[PATH_MAX]; /* wharf's binary: uacme's hook and the namespace wrapper */

static void job_free(struct acme_job *j)
{
    free(j->name);
    for (size_t i = 0; i < j->hosts.n; i++)
        free(j->hosts.v[i]);
    free(j->hosts.v);
    free(j->dir);
    free(j->ca);
    free(j->roots);
    free(j->email);
    free(j);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_job(const struct acme_job *a, const struct acme_job *b)
{
    if (a->hosts.n != b->hosts.n || !same_str(a->dir, b->dir) || !same_str(a->ca, b->ca) ||
        !same_str(a->roots, b->roots) || !same_str(a->email, b->email))
        return false;
    for (size_t i = 0; i < a->hosts.n; i++)
        if (strcmp(a->hosts.v[i], b->hosts.v[i]) != 0)
            return false;
    return true;
}

static struct acme_job *job_new(const struct site_conf *s)
{
    struct acme_job *j = xcalloc(1, sizeof *j);
    const struct tls_site_conf *t = &s->tls;
    j->name = xstrdup(s->name);
    j->hosts.v = xmalloc(s->hosts.n * sizeof *j->hosts.v);
    for (size_t i = 0; i < s->hosts.n; i++)
        j->hosts.v[i] = xstrdup(s->hosts.v[i]);
    j->hosts.n = s->hosts.n;
    j->dir = xstrdup(t->acme_dir);
    j->ca = xstrdup(t->acme_ca);
    j->roots = t->acme_ca_roots ? xstrdup(t->acme_ca_roots) : NULL;
    j->email = t->acme_email ? xstrdup(t->acme_email) : NULL;
    j->retry_ms = t->acme_retry_ms;
    return j;
}

/* ---- one attempt ------------------------------------------------------------------------ */

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* uacme with the job's common options and then `tail` (NULL-terminated). */
static int run_uacme(const struct acme_job *j, const char *const *tail, struct buf *capture)
{
    const char *argv[64];
    size_t n = 0;
    if (j->roots) {
        argv[n++] = self_exe;
        argv[n++] = ACME_EXEC_FLAG;
        argv[n++] = j->roots;
    }
    argv[n++] = "uacme";
    argv[n++] = "-c";
    argv[n++] = j->dir;
    argv[n++] = "-a";
    argv[n++] = j->ca;
    argv[n++] = "-y";
    argv[n++] = "-o"; /* no OCSP request: wharf decides when to renew */
    for (size_t i = 0; tail[i] && n < 63; i++)
        argv[n++] = tail[i];
    argv[n] = NULL;
    char *env_dir = xasprintf(ACME_HOOK_ENV "=%s/challenges", j->dir);
    char *env[] = {env_dir, NULL};
    struct proc_opts o = {
        .env_add = env,
        .timeout_ms = UACME_TIMEOUT_MS,
        .log_tag = "acme: uacme",
        .capture = capture,
    };
    int rc = proc_run((char *const *)argv, &o);
    free(env_dir);
    return rc;
}

/* One attempt for j: the account if needed, then the certificate. 0 on success. */
static int attempt(struct acme_job *j)
{
    char *chal = xasprintf("%s/challenges", j->dir);
    int rc = mkdir_p(chal, 0755);
    free(chal);
    if (rc != 0) {
        log_error("acme", 0, "site %s: cannot create %s/challenges: %s", j->name, j->dir,
                  strerror(errno));
        return -1;
    }
    if (!j->account_ok) {
        struct buf out;
        buf_init(&out, CAPTURE_MAX);
        const char *tail[] = {"new", j->email, NULL};
        rc = run_uacme(j, tail, &out);
        /* note: uacme 1.7 exits 2 for "new" when the account exists: that is success here */
        if (rc == 0 || (out.data && memmem(out.data, out.len, "lready exists", 13)))
            j->account_ok = true;
        buf_dispose(&out);
        if (!j->account_ok) {
            log_error("acme", 0, "site %s: creating the ACME account at %s failed (%d)", j->name,
                      j->ca, rc);
            return -1;
        }
    }
    const char *tail[40] = {"-h", self_exe, "-t", "EC", "-f", "issue"};
    size_t n = 6;
    for (size_t i = 0; i < j->hosts.n && n < 39; i++)
        tail[n++] = j->hosts.v[i];
    tail[n] = NULL;
    log_info("acme", 0, "site %s: requesting a certificate for %s from %s", j->name, j->hosts.v[0],
             j->ca);
    rc = run_uacme(j, tail, NULL);
    if (rc != 0) {
        log_error("acme", 0, "site %s: no certificate this time (uacme exit %d)", j->name, rc);
        return -1;
    }
    return 0;
}

/* When j is next due, from its certificate file: now when there is none, or when it does not
 * name every host (hosts were added to the site). */
static time_t due_from_file(const struct acme_job *j, time_t now)
{
    char *path = tls_store_acme_cert_path(j->dir, j->hosts.v[0]);
    int64_t nb, na;
    bool covers = false;
    int rc = tls_store_cert_times(path, &j->hosts, &nb, &na, &covers);
    free(path);
    if (rc != 0 || !covers)
        return now;
    int64_t at = acme_plan_renew_at(nb, na);
    return at < now ? now : (time_t)at;
}

static void *on_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        while (doomed) {
            struct acme_job *d = doomed;
            doomed = d->next;
            job_free(d);
        }
        time_t now = time(NULL), soonest = now + 3600;
        struct acme_job *due = NULL;
        for (struct acme_job *j = jobs; j; j = j->next) {
            if (j->due == 0)
                j->due = due_from_file(j, now);
            if (j->due <= now && !due)
                due = j;
            else if (j->due < soonest)
                soonest = j->due;
        }
        if (!due) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += soonest > now ? soonest - now : 1;
            pthread_cond_timedwait(&wake, &lock, &ts);
            continue;
        }
        running_job = due;
        pthread_mutex_unlock(&lock);
        int rc = attempt(due);
        if (rc == 0)
            tls_store_refresh(); /* serve it now, not at the next tick */
        pthread_mutex_lock(&lock);
        running_job = NULL;
        now = time(NULL);
        if (rc == 0) {
            due->failures = 0;
            due->due = due_from_file(due, now);
            if (due->due <= now) /* a certificate already due: not a busy loop */
                due->due = now + (time_t)(due->retry_ms / 1000);
            log_info("acme", 0, "site %s: certificate obtained; next renewal in %lld s", due->name,
                     (long long)(due->due - now));
        } else {
            due->failures++;
            uint64_t wait = acme_plan_retry_ms(due->retry_ms, due->failures);
            due->due = now + (time_t)((wait + 999) / 1000);
            log_warn("acme", 0, "site %s: attempt %u failed; next in %llu s", due->name,
                     due->failures, (unsigned long long)((wait + 999) / 1000));
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int acme_start(const struct config *cfg)
{
    struct acme_job *list = NULL, **tail = &list;
    for (size_t i = 0; i < cfg->n_sites; i++) {
        if (cfg->sites[i].tls.mode != TLS_AUTO)
            continue;
        *tail = job_new(&cfg->sites[i]);
        tail = &(*tail)->next;
    }
    if (!self_exe[0]) {
        ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
        self_exe[n > 0 ? n : 0] = '\0';
    }
    pthread_mutex_lock(&lock);
    /* an unchanged job keeps its state (and the account it made) */
    for (struct acme_job *j = list; j; j = j->next) {
        for (struct acme_job *o = jobs; o; o = o->next) {
            if (same_job(j, o)) {
                j->account_ok = o->account_ok;
                /* a reload is the operator's: a job in backoff tries again at once */
                j->due = o->failures ? 0 : o->due;
                break;
            }
        }
    }
    struct acme_job *old = jobs;
    jobs = list;
    while (old) { /* the thread may be running one of them: it frees them */
        struct acme_job *next = old->next;
        old->next = doomed;
        doomed = old;
        old = next;
    }
    stopping = false;
    pthread_cond_signal(&wake);
    bool start = jobs && !running;
    pthread_mutex_unlock(&lock);
    if (!start)
        return 0;
    if (pthread_create(&thread, NULL, on_thread, NULL) != 0) {
        log_error("acme", 0, "cannot start the ACME thread");
        return -1;
    }
    running = true;
    return 0;
}

static void free_list(struct acme_job **l)
{
    while (*l) {
        struct acme_job *j = *l;
        *l = j->next;
        job_free(j);
    }
}

void acme_stop(void)
{
    if (running) {
        proc_cancel_all(); /* a uacme in progress ends now */
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&lock);
        pthread_join(thread, NULL);
        running = false;
    }
    free_list(&jobs);
    free_list(&doomed);
}

/* ---- challenges --------------------------------------------------------------------------- */

ssize_t acme_challenge_read(const struct site_conf *site, const char *token, char *out, size_t n)
{
    if (site->tls.mode != TLS_AUTO || !acme_plan_token_ok(token, strlen(token)))
        return -1;
    char *path = xasprintf("%s/challenges/%s", site->tls.acme_dir, token);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, out, n);
    close(fd);
    return got > 0 ? got : -1;
}

int acme_hook_main(int argc, char **argv)
{
    const char *dir = getenv(ACME_HOOK_ENV);
    if (argc != 6 || !dir)
        return 2;
    const char *method = argv[1], *type = argv[2], *token = argv[4], *auth = argv[5];
    if (strcmp(type, "http-01") != 0)
        return 1; /* declined: uacme tries the next challenge type */
    if (!acme_plan_token_ok(token, strlen(token)) || strlen(auth) >= ACME_CHALLENGE_MAX)
        return 2;
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, token);
    if (strcmp(method, "begin") != 0) { /* done or failed */
        unlink(path);
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, token);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "wharf acme hook: %s: %s\n", tmp, strerror(errno));
        return 2;
    }
    size_t len = strlen(auth);
    bool ok = write(fd, auth, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "wharf acme hook: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 2;
    }
    return 0;
}

/* "N N 1" into a /proc/self map file. */
static int write_map(const char *file, const char *text)
{
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

int acme_exec_main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: wharf " ACME_EXEC_FLAG " ROOTS COMMAND [ARGS...]\n");
        return 2;
    }
    const char *roots = argv[2];
    char map[64];
    uid_t uid = geteuid();
    gid_t gid = getegid();
    /* opened before the mount: the roots file may itself be under /etc/ssl/certs */
    int in = open(roots, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        fprintf(stderr, "wharf: acme_ca_roots '%s': %s\n", roots, strerror(errno));
        return 2;
    }
    if (unshare(uid == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        fprintf(stderr, "wharf: acme_ca_roots needs a private mount namespace: %s\n",
                strerror(errno));
        return 2;
    }
    if (uid != 0) {
        snprintf(map, sizeof map, "%u %u 1", (unsigned)uid, (unsigned)uid);
        write_map("/proc/self/setgroups", "deny");
        if (write_map("/proc/self/uid_map", map) != 0)
            fprintf(stderr, "wharf: uid_map: %s\n", strerror(errno));
        snprintf(map, sizeof map, "%u %u 1", (unsigned)gid, (unsigned)gid);
        if (write_map("/proc/self/gid_map", map) != 0)
            fprintf(stderr, "wharf: gid_map: %s\n", strerror(errno));
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("wharf-acme-roots", "/etc/ssl/certs", "tmpfs", MS_NOSUID | MS_NODEV,
              "size=4m,mode=0755") != 0) {
        fprintf(stderr, "wharf: acme_ca_roots: cannot mount /etc/ssl/certs: %s\n", strerror(errno));
        return 2;
    }
    int out = open("/etc/ssl/certs/ca-certificates.crt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    char buf[8192];
    ssize_t n;
    while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            break;
    close(in);
    if (out < 0 || close(out) != 0) {
        fprintf(stderr, "wharf: acme_ca_roots: cannot copy: %s\n", strerror(errno));
        return 2;
    }
    execvp(argv[3], argv + 3);
    fprintf(stderr, "wharf: %s: %s\n", argv[3], strerror(errno));
    return 127;
}
