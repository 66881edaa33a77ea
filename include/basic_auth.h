/*
 * basic_auth: one auth_basic rule's htpasswd file and the checks of its passwords.
 *
 * The file is read when the rule's runtime is made and read again when it changes: the main
 * thread's 1 s tick calls basic_auth_refresh_all (a stat() per file at most once a second,
 * the read only when it changed), so a request's check never does file I/O on a worker
 * thread; a file that became unreadable or empty keeps the last good copy and is logged. Hashes are
 * checked by libcrypt's crypt_rn (bcrypt $2y$/$2b$, sha512-crypt $6$, sha256-crypt $5$, yescrypt
 * $y$, ...): a line whose hash libcrypt does not accept (crypt_checksalt; Apache's $apr1$ MD5 among
 * them) is logged and skipped.
 *
 * Where the hashing runs: bcrypt at cost 10 takes ~50-100 ms of CPU, yescrypt similar. Done
 * on a worker thread it would stall every other connection of that worker for as long, so
 * it never is: a check that needs libcrypt is a job for a small pool of threads
 * (BASIC_AUTH_THREADS) behind a bounded queue; the caller suspends its request meanwhile
 * and the job's done callback resumes it. A password verified once is remembered for
 * BASIC_AUTH_CACHE_MS as a keyed hash (HMAC-SHA256 under a per-process random key, over
 * user, password and the stored hash), so a browser sending the same credentials with each
 * of a page's requests costs one crypt, and a changed or removed entry stops matching at
 * once. Failures are never cached.
 *
 * Equal time: an unknown user is checked against a real hash from the same file (its first
 * usable line), so a wrong user and a wrong password cost the same crypt, and the result
 * string is compared with gnutls_memcmp.
 */
#ifndef WHARF_BASIC_AUTH_H
#define WHARF_BASIC_AUTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define BASIC_AUTH_THREADS 2
#define BASIC_AUTH_QUEUE_MAX 256         /* jobs waiting; more get 503 */
#define BASIC_AUTH_CACHE_SLOTS 1024      /* verified credentials remembered per rule */
#define BASIC_AUTH_CACHE_MS (10 * 60000) /* ... for this long */

struct basic_auth;

/* One check waiting for libcrypt. The caller owns it (it may live in its request); fields
 * above the line are the caller's, the rest basic_auth's. */
struct basic_auth_job {
    /* called on a pool thread once the result is in; the last touch of the job by the pool,
     * so it may hand the job back to its owner (resume the request) */
    void (*done)(struct basic_auth_job *job);
    /* called by basic_auth_submit once the job has a place in the queue, before any thread
     * can take it (the caller suspends its request there); NULL = none */
    void (*queued)(struct basic_auth_job *job);
    void *ctx;
    /* ---- */
    struct basic_auth *auth;
    char *user, *password, *hash; /* copies; hash NULL = the user is unknown (dummy check) */
    char *dummy_hash;
    uint64_t now_ms; /* of the check: the clock the cache runs on */
    _Atomic bool ok;
    _Atomic bool cancelled; /* not checked: the server is stopping (basic_auth_drain) */
    struct basic_auth_job *next;
};

enum basic_auth_verdict {
    BASIC_AUTH_OK,      /* verified (from the cache) */
    BASIC_AUTH_DENIED,  /* no credentials, or a file without any usable user */
    BASIC_AUTH_PENDING, /* job filled: hand it to basic_auth_submit() */
};

/** The runtime of an auth_basic rule for file. Reads it now; NULL with *why set (static or
 *  errno text) when it cannot be read. */
struct basic_auth *basic_auth_new(const char *file, const char **why);
/** NULL is ok. No job of a may be pending. */
void basic_auth_free(struct basic_auth *a);

/** Every rule's file: stat() it if its last look is a second old or more (now_ms, the
 *  clock_ms clock), and read it again when it changed. The checks only see the copy swapped
 *  in (under a short lock); the I/O runs with no lock a check takes. Main thread (its tick);
 *  thread-safe against basic_auth_new/free and the checks. */
void basic_auth_refresh_all(uint64_t now_ms);

/**
 * First step of a check of user:password (either NULL = no credentials sent). Uses the copy
 * of the file last read (no I/O). PENDING fills job (the caller then sets job->done and ctx,
 * suspends its request and calls basic_auth_submit). Thread-safe.
 */
enum basic_auth_verdict basic_auth_check(struct basic_auth *a, const char *user,
                                         const char *password, uint64_t now_ms,
                                         struct basic_auth_job *job);

/** Queue job for the pool: job->queued, then later job->done are called. 0, or -1 when the
 *  queue is full (neither is called; the job is the caller's again). Thread-safe. */
int basic_auth_submit(struct basic_auth_job *job);

/** The result of a job whose done has been called. */
bool basic_auth_job_ok(const struct basic_auth_job *job);
/** Frees the job's copies (the password is wiped). */
void basic_auth_job_dispose(struct basic_auth_job *job);

/** The job was not checked because the server is stopping (done was still called). */
bool basic_auth_job_cancelled(const struct basic_auth_job *job);

/**
 * For the stop, before the daemons are stopped: refuses new jobs, cancels the queued ones and
 * waits for the running ones, so that every suspended request has been resumed (done called,
 * MHD_resume_connection) and no pool thread touches a worker afterwards. A running hash is
 * finished (bcrypt at a high cost can take a second). Then basic_auth_submit fails.
 */
void basic_auth_drain(void);

/** Runs a check synchronously (the pool's work; for tests). Returns the result. */
bool basic_auth_run(struct basic_auth_job *job);

#endif
