/* basic_auth: libcrypt hashes (bcrypt, sha512-crypt, yescrypt), unknown users, the cache of
 * verified credentials, reloading a changed file, and the thread pool. */
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic_auth.h"
#include "tap.h"

static char *hash_of(const char *prefix, unsigned long cost, const char *password)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data d;
    memset(&d, 0, sizeof d);
    if (!crypt_gensalt_rn(prefix, cost, NULL, 0, salt, sizeof salt))
        return NULL;
    const char *h = crypt_rn(password, salt, &d, sizeof d);
    return h && h[0] != '*' ? strdup(h) : NULL;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* check, then run synchronously when a crypt is needed */
static int verify(struct basic_auth *a, const char *user, const char *pw, uint64_t now)
{
    struct basic_auth_job job;
    enum basic_auth_verdict v = basic_auth_check(a, user, pw, now, &job);
    if (v != BASIC_AUTH_PENDING)
        return v == BASIC_AUTH_OK ? 2 : 0; /* 2: without crypt */
    bool ok = basic_auth_run(&job);
    basic_auth_job_dispose(&job);
    return ok ? 1 : 0;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int n_done, n_queued;

static void on_done(struct basic_auth_job *job)
{
    (void)job;
    pthread_mutex_lock(&lock);
    n_done++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static void on_queued(struct basic_auth_job *job)
{
    (void)job;
    n_queued++;
}

int main(void)
{
    char dir[] = "/tmp/wharf-test-auth-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/htpasswd", dir);
    char *bcrypt = hash_of("$2y$", 4, "secret");
    char *sha512 = hash_of("$6$", 0, "hunter2");
    char *yes = hash_of("$y$", 0, "correct horse");
    ok(bcrypt && sha512 && yes, "libcrypt makes bcrypt, sha512-crypt and yescrypt hashes");
    char text[1024];
    snprintf(text, sizeof text, "alice:%s\nbob:%s\ncarol:%s\nmallory:$apr1$xyz$abc\n", bcrypt,
             sha512, yes);
    write_file(path, text);

    const char *why;
    ok(!basic_auth_new("/nonexistent/htpasswd", &why) && why, "a missing file: an error");
    struct basic_auth *a = basic_auth_new(path, &why);
    ok(a != NULL, "file read");
    uint64_t now = 1000000;
    is_int(verify(a, "alice", "secret", now), 1, "bcrypt: right password");
    is_int(verify(a, "alice", "Secret", now), 0, "bcrypt: wrong password");
    is_int(verify(a, "bob", "hunter2", now), 1, "sha512-crypt: right password");
    is_int(verify(a, "bob", "hunter3", now), 0, "sha512-crypt: wrong password");
    is_int(verify(a, "carol", "correct horse", now), 1, "yescrypt: right password");
    is_int(verify(a, "carol", "", now), 0, "yescrypt: empty password");
    is_int(verify(a, "dave", "secret", now), 0, "unknown user: refused after a dummy check");
    is_int(verify(a, "mallory", "x", now), 0, "an $apr1$ line is skipped: unknown user");
    is_int(verify(a, NULL, NULL, now), 0, "no credentials");
    is_int(verify(a, "alice", "secret", now + 1), 2, "verified once: remembered, no crypt");
    is_int(verify(a, "alice", "Secret", now + 1), 0, "a wrong password is not remembered");
    is_int(verify(a, "alice", "secret", now + BASIC_AUTH_CACHE_MS + 10), 1,
           "the memory expires: crypt again");

    /* unknown users cost a crypt too */
    struct basic_auth_job job;
    is_int(basic_auth_check(a, "nobody", "pw", now, &job), BASIC_AUTH_PENDING,
           "an unknown user is checked by the pool, like a known one");
    ok(job.hash == NULL && job.dummy_hash && strcmp(job.dummy_hash, bcrypt) == 0,
       "... against the file's first usable hash");
    basic_auth_job_dispose(&job);

    /* the file changes: alice's password is new, the old one stops working at once */
    char *bcrypt2 = hash_of("$2y$", 4, "new secret");
    snprintf(text, sizeof text, "alice:%s\n", bcrypt2);
    usleep(20000); /* a different mtime */
    write_file(path, text);
    is_int(verify(a, "alice", "secret", now + 2000), 2,
           "a check never reads the file: the old copy until a refresh");
    basic_auth_refresh_all(now + 2000);
    is_int(verify(a, "alice", "secret", now + 2000), 0,
           "after the refresh: the old password fails");
    is_int(verify(a, "alice", "new secret", now + 2000), 1, "... and the new one works");
    is_int(verify(a, "bob", "hunter2", now + 2000), 0, "bob is gone");

    /* the pool: jobs run on its threads and call done; a remembered password needs no job */
    struct basic_auth_job jobs[4];
    int pending = 0;
    for (int i = 0; i < 4; i++) {
        const char *pw = i == 3 ? "new secret" : i == 1 ? "newsecret" : "nope";
        enum basic_auth_verdict v = basic_auth_check(a, "alice", pw, now + 2000, &jobs[i]);
        if (i == 3) {
            is_int(v, BASIC_AUTH_OK, "the remembered password: no job");
            continue;
        }
        is_int(v, BASIC_AUTH_PENDING, "a wrong password: a job");
        jobs[i].done = on_done;
        jobs[i].queued = on_queued;
        is_int(basic_auth_submit(&jobs[i]), 0, "submitted");
        pending++;
    }
    pthread_mutex_lock(&lock);
    while (n_done < pending)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    is_int(n_queued, 3, "queued called for each");
    ok(!basic_auth_job_ok(&jobs[0]) && !basic_auth_job_ok(&jobs[1]) && !basic_auth_job_ok(&jobs[2]),
       "wrong passwords come back refused");
    for (int i = 0; i < 4; i++)
        basic_auth_job_dispose(&jobs[i]);

    /* the pool gives the right answer too */
    basic_auth_check(a, "alice", "new secret", now + 2000 + BASIC_AUTH_CACHE_MS + 1, &jobs[0]);
    jobs[0].done = on_done;
    n_done = 0;
    is_int(basic_auth_submit(&jobs[0]), 0, "submitted");
    pthread_mutex_lock(&lock);
    while (n_done < 1)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    ok(basic_auth_job_ok(&jobs[0]), "the right password comes back accepted");
    basic_auth_job_dispose(&jobs[0]);

    basic_auth_free(a);
    unlink(path);
    rmdir(dir);
    free(bcrypt);
    free(bcrypt2);
    free(sha512);
    free(yes);
    return done_testing();
}
