/*
 * notify: see include/notify.h. One thread drives one libcurl multi handle: every due delivery
 * runs at once (up to NOTIFY_ACTIVE_MAX), so a receiver that hangs until the timeout never holds
 * back the others. The queue (waiting deliveries, ordered by when they are due) is under the
 * lock; the multi handle and the deliveries in flight belong to the thread alone, which sleeps
 * in curl_multi_poll() and is woken by curl_multi_wakeup() (thread-safe) when something is
 * queued or on stop. A delivery is owned by the queue until the thread starts it, then by the
 * thread until it is done, given up, or queued again.
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
#define NOTIFY_ACTIVE_MAX 16 /* deliveries in flight at once */
#define POLL_MAX_MS 1000     /* the thread looks at the clock at least this often */

struct job {
    char *url, *body, *signature, *ca_file, *event, *tag;
    size_t len;
    uint64_t queued_ms, next_ms, delay_ms, retry_for_ms;
    unsigned attempts;
    CURL *easy; /* while in flight */
    struct curl_slist *headers;
    struct job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* everything below but multi's use */
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;   /* nothing queued, nothing in flight */
static struct job *queue;
static size_t queued;
static unsigned active; /* in flight */
static bool running, stopping, curl_ready;
static CURLM *multi; /* made and freed under lock; used by the thread (and wakeup) */
static pthread_t thread;
static _Atomic bool abort_transfers; /* notify_stop: transfers in progress end now */

static void job_free(struct job *j)
{
    if (!j)
        return;
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
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

/* An easy handle for one attempt of j, or NULL. */
static CURL *make_easy(struct job *j)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_slist_free_all(j->headers);
    j->headers = NULL;
    char *ev = xasprintf("X-Wharf-Event: %s", j->event);
    j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
    j->headers = curl_slist_append(j->headers, ev);
    free(ev);
    if (j->signature) {
        char *sig = xasprintf("X-Wharf-Signature-256: %s", j->signature);
        j->headers = curl_slist_append(j->headers, sig);
        free(sig);
    }
    j->headers = curl_slist_append(j->headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "wharf/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)NOTIFY_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threaded: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_PRIVATE, j);
    if (j->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, j->ca_file);
    return c;
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

/* An attempt of j ended with res (under lock): done, given up, or queued again. */
static void finish(struct job *j, CURLcode res)
{
    long status = 0;
    char why[256];
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
    active--;
    uint64_t now = clock_ms();
    if (res == CURLE_OK && status >= 200 && status <= 299) {
        log_info(j->tag, 0, "notified %s (%s, attempt %u)", j->url, j->event, j->attempts);
        job_free(j);
        return;
    }
    if (res != CURLE_OK)
        snprintf(why, sizeof why, "%s", curl_easy_strerror(res));
    else
        snprintf(why, sizeof why, "HTTP status %ld", status);
    if (stopping || now + j->delay_ms > j->queued_ms + j->retry_for_ms) {
        log_error(j->tag, 0, "notify %s: %s; giving up after %u attempts", j->url, why,
                  j->attempts);
        job_free(j);
        return;
    }
    log_warn(j->tag, 0, "notify %s: %s; retrying in %llu ms", j->url, why,
             (unsigned long long)j->delay_ms);
    j->next_ms = now + j->delay_ms;
    j->delay_ms = j->delay_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : j->delay_ms * 2;
    enqueue(j);
}

static void *on_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping || active) {
        uint64_t now = clock_ms();
        while (!stopping && queue && queue->next_ms <= now && active < NOTIFY_ACTIVE_MAX) {
            struct job *j = queue;
            queue = j->next;
            queued--;
            j->easy = make_easy(j);
            j->attempts++;
            if (!j->easy || curl_multi_add_handle(multi, j->easy) != CURLM_OK) {
                log_error(j->tag, 0, "notify %s: cannot start a transfer", j->url);
                job_free(j);
                continue;
            }
            active++;
        }
        if (!queue && !active)
            pthread_cond_broadcast(&idle);
        uint64_t wait_ms = POLL_MAX_MS;
        if (queue && active < NOTIFY_ACTIVE_MAX)
            wait_ms = queue->next_ms > now ? queue->next_ms - now : 0;
        if (wait_ms > POLL_MAX_MS)
            wait_ms = POLL_MAX_MS;
        pthread_mutex_unlock(&lock);
        int still;
        curl_multi_perform(multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct job *j = NULL;
            CURLcode res = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            pthread_mutex_lock(&lock);
            finish(j, res);
            pthread_mutex_unlock(&lock);
        }
        if (still || wait_ms)
            curl_multi_poll(multi, NULL, 0, (int)(still && wait_ms > 100 ? 100 : wait_ms), NULL);
        pthread_mutex_lock(&lock);
    }
    pthread_cond_broadcast(&idle);
    pthread_mutex_unlock(&lock);
    return NULL;
}

void notify_post(const struct str_list *urls, const char *secret, const char *ca_file,
                 const char *event, const char *body, size_t len, uint64_t retry_for_ms,
                 const char *tag)
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
        multi = curl_multi_init();
        running = multi && pthread_create(&thread, NULL, on_thread, NULL) == 0;
        if (!running) {
            if (multi)
                curl_multi_cleanup(multi);
            multi = NULL;
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
        j->retry_for_ms =
            retry_for_ms && retry_for_ms < NOTIFY_RETRY_FOR_MS ? retry_for_ms : NOTIFY_RETRY_FOR_MS;
        enqueue(j);
    }
    curl_multi_wakeup(multi);
    pthread_mutex_unlock(&lock);
}

void notify_flush(uint64_t ms)
{
    uint64_t until = clock_ms() + ms;
    pthread_mutex_lock(&lock);
    while (running && (queue || active)) {
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
    atomic_store(&abort_transfers, true); /* transfers in flight end at their next progress call */
    curl_multi_wakeup(multi);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    running = false;
    curl_multi_cleanup(multi);
    multi = NULL;
    while (queue) {
        struct job *j = queue;
        queue = j->next;
        log_warn(j->tag, 0, "notify %s: not delivered (stopping)", j->url);
        job_free(j);
    }
    queued = 0;
    pthread_mutex_unlock(&lock);
}
