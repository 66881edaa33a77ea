/*
 * notify: see include/notify.h. One thread, one queue (a list ordered by queueing time), one
 * libcurl easy handle per attempt. The lock covers the queue and the thread's life; a transfer
 * runs without it. Invariants: a job is owned by the queue until the thread takes it out to
 * send it, and then by the thread until it is done or queued again.
 */
#include "notify.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "webhook.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000

struct job {
    char *url, *body, *signature, *ca_file, *event, *tag;
    size_t len;
    uint64_t queued_ms, next_ms, delay_ms;
    unsigned attempts;
    struct job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER; /* the queue emptied, none in flight */
static struct job *queue;
static size_t queued;
static bool in_flight, running, stopping, curl_ready;
static pthread_t thread;
static _Atomic bool abort_transfers; /* notify_stop: a transfer in progress ends now */

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->url);
    free(j->body);
    free(j->signature);
    free(j->ca_file);
    free(j->event);
    free(j->tag);
    free(j);
}

static int on_progress(void *user, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)user;
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return atomic_load(&abort_transfers) ? 1 : 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    (void)user;
    return size * n; /* the receiver's answer is not read */
}

/* One attempt: 0 when the receiver answered 2xx; else -1 with why. */
static int send_one(const struct job *j, char *why, size_t n)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char *sig = NULL, *ev = NULL;
    int rc = -1;
    if (!c) {
        snprintf(why, n, "curl_easy_init failed");
        return -1;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    ev = xasprintf("X-Wharf-Event: %s", j->event);
    h = curl_slist_append(h, ev);
    if (j->signature) {
        sig = xasprintf("X-Wharf-Signature-256: %s", j->signature);
        h = curl_slist_append(h, sig);
    }
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "wharf/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)NOTIFY_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threaded: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (j->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, j->ca_file);
    CURLcode res = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (res != CURLE_OK)
        snprintf(why, n, "%s", curl_easy_strerror(res));
    else if (status < 200 || status > 299)
        snprintf(why, n, "HTTP status %ld", status);
    else
        rc = 0;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(sig);
    free(ev);
    return rc;
}

/* Insert j by next_ms (under lock). */
static void enqueue(struct job *j)
{
    struct job **p = &queue;
    while (*p && (*p)->next_ms <= j->next_ms)
        p = &(*p)->next;
    j->next = *p;
    *p = j;
    queued++;
}

static void *on_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        uint64_t now = clock_ms();
        if (!queue || queue->next_ms > now) {
            if (!queue && !in_flight)
                pthread_cond_broadcast(&idle);
            uint64_t wait_ms = queue ? queue->next_ms - now : 3600000;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (time_t)(wait_ms / 1000);
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&wake, &lock, &ts);
            continue;
        }
        struct job *j = queue;
        queue = j->next;
        queued--;
        in_flight = true;
        pthread_mutex_unlock(&lock);
        char why[256];
        j->attempts++;
        int rc = send_one(j, why, sizeof why);
        now = clock_ms();
        pthread_mutex_lock(&lock);
        in_flight = false;
        if (rc == 0) {
            log_info(j->tag, 0, "notified %s (%s, attempt %u)", j->url, j->event, j->attempts);
            job_free(j);
        } else if (now + j->delay_ms > j->queued_ms + NOTIFY_RETRY_FOR_MS) {
            log_error(j->tag, 0, "notify %s: %s; giving up after %u attempts", j->url, why,
                      j->attempts);
            job_free(j);
        } else {
            log_warn(j->tag, 0, "notify %s: %s; retrying in %llu ms", j->url, why,
                     (unsigned long long)j->delay_ms);
            j->next_ms = now + j->delay_ms;
            j->delay_ms = j->delay_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : j->delay_ms * 2;
            enqueue(j);
        }
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void notify_post(const struct str_list *urls, const char *secret, const char *ca_file,
                 const char *event, const char *body, size_t len, const char *tag)
{
    if (!urls || urls->n == 0)
        return;
    char sig[WEBHOOK_SIGNATURE_LEN + 1];
    bool signed_ok = webhook_sign(secret, body, len, sig) == 0;
    pthread_mutex_lock(&lock);
    if (!curl_ready) {
        curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
        if (!curl_ready) {
            pthread_mutex_unlock(&lock);
            log_error(tag, 0, "notify: libcurl failed to initialise; events are not sent");
            return;
        }
    }
    if (!running) {
        stopping = false;
        atomic_store(&abort_transfers, false);
        running = pthread_create(&thread, NULL, on_thread, NULL) == 0;
        if (!running) {
            pthread_mutex_unlock(&lock);
            log_error(tag, 0, "notify: cannot start the delivery thread");
            return;
        }
    }
    uint64_t now = clock_ms();
    for (size_t i = 0; i < urls->n; i++) {
        while (queued >= NOTIFY_QUEUE_MAX && queue) {
            struct job *old = queue;
            queue = old->next;
            queued--;
            log_error(old->tag, 0, "notify %s: queue full, an event is dropped", old->url);
            job_free(old);
        }
        struct job *j = xcalloc(1, sizeof *j);
        j->url = xstrdup(urls->v[i]);
        j->body = xstrndup(body, len);
        j->len = len;
        j->signature = signed_ok ? xstrdup(sig) : NULL;
        j->ca_file = ca_file ? xstrdup(ca_file) : NULL;
        j->event = xstrdup(event);
        j->tag = xstrdup(tag);
        j->queued_ms = j->next_ms = now;
        j->delay_ms = BACKOFF_FIRST_MS;
        enqueue(j);
    }
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void notify_flush(uint64_t ms)
{
    uint64_t until = clock_ms() + ms;
    pthread_mutex_lock(&lock);
    while (running && (queue || in_flight)) {
        uint64_t now = clock_ms();
        if (now >= until)
            break;
        uint64_t wait_ms = until - now < 200 ? until - now : 200;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)wait_ms * 1000000L;
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&idle, &lock, &ts);
    }
    pthread_mutex_unlock(&lock);
}

void notify_stop(void)
{
    pthread_mutex_lock(&lock);
    if (!running) {
        pthread_mutex_unlock(&lock);
        return;
    }
    stopping = true;
    atomic_store(&abort_transfers, true);
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    running = false;
    while (queue) {
        struct job *j = queue;
        queue = j->next;
        log_warn(j->tag, 0, "notify %s: not delivered (stopping)", j->url);
        job_free(j);
    }
    queued = 0;
    pthread_mutex_unlock(&lock);
}
