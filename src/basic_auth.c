/* basic_auth: htpasswd files and libcrypt checks off the event loop. See basic_auth.h. */
#include "basic_auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htpasswd.h"
#include "log.h"
#include "util.h"

#define FILE_MAX (16u << 20) /* an htpasswd file larger than this is refused */
#define DIGEST_LEN 32

struct cache_slot {
    uint8_t digest[DIGEST_LEN];
    uint64_t expires_ms; /* 0 = empty */
};

struct basic_auth {
    char *file;
    struct basic_auth *next; /* on the registry; guarded by registry_lock */
    uint64_t checked_ms;     /* last stat(); only basic_auth_refresh_all touches it */
    struct stat seen;        /* of the copy in users; written under lock, by refresh only */
    pthread_mutex_t lock;    /* the fields below */
    struct htpasswd users;
    const char *dummy_hash; /* points into users: the first usable hash; NULL = none */
    struct cache_slot cache[BASIC_AUTH_CACHE_SLOTS];
};

/* Every live basic_auth, for basic_auth_refresh_all (the checks never touch the file). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct basic_auth *registry;

/* ---- the file ------------------------------------------------------------------------- */

struct warn_ctx {
    const char *file;
};

static void on_bad_line(void *ctx, unsigned line, const char *why)
{
    log_warn("auth", 0, "%s:%u: %s; line ignored", ((struct warn_ctx *)ctx)->file, line, why);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Read and parse the file into *out; NULL or why. */
static const char *load(const char *file, struct htpasswd *out, struct stat *st)
{
    const char *why = NULL;
    char *text = NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strerror(errno);
    if (fstat(fd, st) != 0) {
        why = strerror(errno);
        goto out;
    }
    if (!S_ISREG(st->st_mode) || st->st_size > FILE_MAX) {
        why = "not a regular file of at most 16 MiB";
        goto out;
    }
    size_t len = (size_t)st->st_size, got = 0;
    text = xmalloc(len + 1);
    while (got < len) {
        ssize_t n = read(fd, text + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            why = n < 0 ? strerror(errno) : "file shrank while read";
            goto out;
        }
        got += (size_t)n;
    }
    struct warn_ctx w = {file};
    htpasswd_parse(text, len, out, on_bad_line, &w);
    /* keep only the hashes libcrypt can check */
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        int ck = crypt_checksalt(out->v[i].hash);
        if (ck == CRYPT_SALT_OK || ck == CRYPT_SALT_METHOD_LEGACY) {
            if (ck == CRYPT_SALT_METHOD_LEGACY)
                log_warn("auth", 0,
                         "%s:%u: user '%s' has a weak legacy hash; rehash it with "
                         "htpasswd -B",
                         file, out->v[i].line, out->v[i].user);
            out->v[kept++] = out->v[i];
            continue;
        }
        log_warn("auth", 0,
                 "%s:%u: user '%s': a hash libcrypt does not accept (use htpasswd -B "
                 "or mkpasswd); line ignored",
                 file, out->v[i].line, out->v[i].user);
        free(out->v[i].user);
        free(out->v[i].hash);
    }
    out->n = kept;
out:
    free(text);
    close(fd);
    return why;
}

/* Swap users in (a->lock taken here, only for the swap); the old copy goes to *old. */
static void install(struct basic_auth *a, struct htpasswd *users, const struct stat *st,
                    struct htpasswd *old)
{
    pthread_mutex_lock(&a->lock);
    *old = a->users;
    a->users = *users;
    a->seen = *st;
    a->dummy_hash = a->users.n ? a->users.v[0].hash : NULL;
    memset(a->cache, 0, sizeof a->cache); /* harmless either way: entries name their hash */
    pthread_mutex_unlock(&a->lock);
}

/* The stat() and the read run with no lock a check takes: a slow disk never holds a check. */
static void refresh(struct basic_auth *a, uint64_t now_ms)
{
    if (a->checked_ms && now_ms - a->checked_ms < 1000)
        return;
    a->checked_ms = now_ms;
    struct stat st;
    if (stat(a->file, &st) == 0 && same_file(&st, &a->seen))
        return;
    struct htpasswd users, old;
    const char *why = load(a->file, &users, &st);
    if (why) {
        log_warn("auth", 0, "%s: cannot be read again (%s); the last copy stays in use", a->file,
                 why);
        return;
    }
    log_info("auth", 0, "%s: read again, %zu user%s", a->file, users.n, users.n == 1 ? "" : "s");
    install(a, &users, &st, &old);
    htpasswd_dispose(&old);
}

void basic_auth_refresh_all(uint64_t now_ms)
{
    pthread_mutex_lock(&registry_lock);
    for (struct basic_auth *a = registry; a; a = a->next)
        refresh(a, now_ms);
    pthread_mutex_unlock(&registry_lock);
}

struct basic_auth *basic_auth_new(const char *file, const char **why)
{
    struct htpasswd users;
    struct stat st;
    *why = load(file, &users, &st);
    if (*why)
        return NULL;
    struct basic_auth *a = xcalloc(1, sizeof *a);
    struct htpasswd none;
    a->file = xstrdup(file);
    pthread_mutex_init(&a->lock, NULL);
    install(a, &users, &st, &none);
    htpasswd_dispose(&none);
    pthread_mutex_lock(&registry_lock);
    a->next = registry;
    registry = a;
    pthread_mutex_unlock(&registry_lock);
    return a;
}

void basic_auth_free(struct basic_auth *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&registry_lock); /* waits out a refresh_all that may be reading it */
    struct basic_auth **pp = &registry;
    while (*pp != a)
        pp = &(*pp)->next;
    *pp = a->next;
    pthread_mutex_unlock(&registry_lock);
    htpasswd_dispose(&a->users);
    pthread_mutex_destroy(&a->lock);
    free(a->file);
    free(a);
}

/* ---- the cache of verified credentials ---------------------------------------------------- */

static uint8_t cache_key[32];
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void make_cache_key(void)
{
    if (gnutls_rnd(GNUTLS_RND_KEY, cache_key, sizeof cache_key) != 0)
        abort(); /* no randomness: nothing secret can be kept */
}

static void digest_of(const char *user, const char *password, const char *hash,
                      uint8_t out[DIGEST_LEN])
{
    pthread_once(&cache_key_once, make_cache_key);
    size_t nu = strlen(user) + 1, np = strlen(password) + 1, nh = strlen(hash);
    char *msg = xmalloc(nu + np + nh);
    memcpy(msg, user, nu); /* the NULs separate the parts */
    memcpy(msg + nu, password, np);
    memcpy(msg + nu + np, hash, nh);
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, cache_key, sizeof cache_key, msg, nu + np + nh, out) !=
        0)
        memset(out, 0, DIGEST_LEN); /* all-zero never matches a slot: those are never filled */
    gnutls_memset(msg, 0, nu + np + nh);
    free(msg);
}

static struct cache_slot *slot_of(struct basic_auth *a, const uint8_t d[DIGEST_LEN])
{
    return &a->cache[(d[0] | (unsigned)d[1] << 8) % BASIC_AUTH_CACHE_SLOTS];
}

/* ---- checks --------------------------------------------------------------------------------- */

enum basic_auth_verdict basic_auth_check(struct basic_auth *a, const char *user,
                                         const char *password, uint64_t now_ms,
                                         struct basic_auth_job *job)
{
    memset(job, 0, sizeof *job);
    if (!user || !password)
        return BASIC_AUTH_DENIED;
    enum basic_auth_verdict v = BASIC_AUTH_PENDING;
    uint8_t d[DIGEST_LEN];
    pthread_mutex_lock(&a->lock);
    const struct htpasswd_entry *e = htpasswd_find(&a->users, user);
    if (!a->dummy_hash) {
        v = BASIC_AUTH_DENIED; /* nobody can log in: no secret to protect by timing */
        goto out;
    }
    if (e) {
        digest_of(user, password, e->hash, d);
        struct cache_slot *s = slot_of(a, d);
        if (s->expires_ms > now_ms && gnutls_memcmp(s->digest, d, DIGEST_LEN) == 0) {
            v = BASIC_AUTH_OK;
            goto out;
        }
    }
    job->auth = a;
    job->now_ms = now_ms;
    job->user = xstrdup(user);
    job->password = xstrdup(password);
    job->hash = e ? xstrdup(e->hash) : NULL;
    job->dummy_hash = xstrdup(a->dummy_hash);
out:
    pthread_mutex_unlock(&a->lock);
    return v;
}

bool basic_auth_run(struct basic_auth_job *job)
{
    struct crypt_data *data = xcalloc(1, sizeof *data);
    const char *setting = job->hash ? job->hash : job->dummy_hash;
    const char *out = crypt_rn(job->password, setting, data, sizeof *data);
    size_t n = strlen(setting);
    /* note: for an unknown user the same work is done against a real hash, then refused */
    bool ok = out && out[0] != '*' && strlen(out) == n && gnutls_memcmp(out, setting, n) == 0 &&
              job->hash != NULL;
    gnutls_memset(data, 0, sizeof *data);
    free(data);
    if (ok) {
        uint8_t d[DIGEST_LEN];
        digest_of(job->user, job->password, job->hash, d);
        struct basic_auth *a = job->auth;
        pthread_mutex_lock(&a->lock);
        struct cache_slot *s = slot_of(a, d);
        memcpy(s->digest, d, DIGEST_LEN);
        s->expires_ms = job->now_ms + BASIC_AUTH_CACHE_MS;
        pthread_mutex_unlock(&a->lock);
    }
    atomic_store_explicit(&job->ok, ok, memory_order_release);
    return ok;
}

bool basic_auth_job_ok(const struct basic_auth_job *job)
{
    return atomic_load_explicit(&job->ok, memory_order_acquire);
}

void basic_auth_job_dispose(struct basic_auth_job *job)
{
    if (job->password)
        gnutls_memset(job->password, 0, strlen(job->password));
    free(job->user);
    free(job->password);
    free(job->hash);
    free(job->dummy_hash);
    job->user = job->password = job->hash = job->dummy_hash = NULL;
}

/* ---- the pool ------------------------------------------------------------------------------- */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct basic_auth_job *queue_head, *queue_tail;
static unsigned queued;
static unsigned running; /* jobs a thread took and has not finished (done() included) */
static bool pool_started;
static bool pool_stopping; /* basic_auth_drain: no new job, queued ones are cancelled */
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER;

static void *pool_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&pool_lock);
        while (!queue_head)
            pthread_cond_wait(&pool_cond, &pool_lock);
        struct basic_auth_job *job = queue_head;
        queue_head = job->next;
        if (!queue_head)
            queue_tail = NULL;
        queued--;
        running++;
        bool cancel = pool_stopping;
        pthread_mutex_unlock(&pool_lock);
        if (cancel) /* the server stops: the request gets a 503, not a verdict */
            atomic_store_explicit(&job->cancelled, true, memory_order_release);
        else
            basic_auth_run(job);
        job->done(job); /* the last touch: the owner may free it from now on */
        pthread_mutex_lock(&pool_lock);
        if (--running == 0 && !queue_head)
            pthread_cond_broadcast(&pool_idle);
        pthread_mutex_unlock(&pool_lock);
    }
    return NULL;
}

/* pool_lock held. The threads live as long as the process: they only wait on the queue. */
static int start_pool(void)
{
    for (int i = 0; i < BASIC_AUTH_THREADS; i++) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, pool_main, NULL);
        pthread_attr_destroy(&at);
        if (rc != 0 && i == 0)
            return -1;
    }
    pool_started = true;
    return 0;
}

int basic_auth_submit(struct basic_auth_job *job)
{
    int rc = -1;
    pthread_mutex_lock(&pool_lock);
    if (pool_stopping || (!pool_started && start_pool() != 0))
        goto out;
    if (queued >= BASIC_AUTH_QUEUE_MAX)
        goto out;
    job->next = NULL;
    if (job->queued)
        job->queued(job);
    if (queue_tail)
        queue_tail->next = job;
    else
        queue_head = job;
    queue_tail = job;
    queued++;
    pthread_cond_signal(&pool_cond);
    rc = 0;
out:
    pthread_mutex_unlock(&pool_lock);
    return rc;
}

void basic_auth_drain(void)
{
    pthread_mutex_lock(&pool_lock);
    pool_stopping = true;
    while (queue_head || running)
        pthread_cond_wait(&pool_idle, &pool_lock);
    pthread_mutex_unlock(&pool_lock);
}

bool basic_auth_job_cancelled(const struct basic_auth_job *job)
{
    return atomic_load_explicit(&job->cancelled, memory_order_acquire);
}
