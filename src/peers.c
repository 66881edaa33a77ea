/*
 * peers: see include/peers.h. A queue of fan-outs under a lock, one thread that resolves each
 * and hands the URLs to notify_post().
 */
#include "peers.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "notify.h"
#include "util.h"

struct job {
    struct str_list peers; /* NAME:PORT */
    char *hook;            /* URL path on the peers */
    char *secret;
    char *body; /* webhook_peer_body(): dated when the push was accepted */
    char tag[96];
};

static void push(struct str_list *l, char *s)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = s;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job *queue[PEERS_QUEUE_MAX];
static size_t n_queued;
static pthread_t thread;
static bool running, stopping;

static void job_free(struct job *j)
{
    for (size_t i = 0; i < j->peers.n; i++)
        free(j->peers.v[i]);
    free(j->peers.v);
    free(j->hook);
    free(j->secret);
    free(j->body);
    free(j);
}

/* Whether sa is one of this host's own addresses (a pod's IP is on its interface). */
static bool is_own(const struct sockaddr *sa, struct ifaddrs *ifs)
{
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
            continue;
        if (sa->sa_family == AF_INET &&
            ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
                ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr)
            return true;
        if (sa->sa_family == AF_INET6 &&
            memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
                   &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16) == 0)
            return true;
    }
    return false;
}

static void run(struct job *j)
{
    struct str_list urls = {0};
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        ifs = NULL;
    for (size_t p = 0; p < j->peers.n; p++) {
        struct upstream_addr a = {0};
        const char *why = NULL;
        if (config_parse_upstream(j->peers.v[p], &a, &why) != 0 || !a.host) {
            config_upstream_dispose(&a);
            continue; /* the config checked it */
        }
        char port[8];
        snprintf(port, sizeof port, "%u", a.port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
        int rc = getaddrinfo(a.host, port, &hints, &res);
        if (rc != 0) {
            log_warn(j->tag, 0, "git_peers %s: %s", j->peers.v[p], gai_strerror(rc));
            config_upstream_dispose(&a);
            continue;
        }
        for (struct addrinfo *r = res; r; r = r->ai_next) {
            char host[INET6_ADDRSTRLEN];
            const void *in = r->ai_family == AF_INET6
                                 ? (const void *)&((struct sockaddr_in6 *)r->ai_addr)->sin6_addr
                                 : (const void *)&((struct sockaddr_in *)r->ai_addr)->sin_addr;
            if (is_own(r->ai_addr, ifs) || !inet_ntop(r->ai_family, in, host, sizeof host))
                continue;
            char *url = r->ai_family == AF_INET6
                            ? xasprintf("http://[%s]:%s%s", host, port, j->hook)
                            : xasprintf("http://%s:%s%s", host, port, j->hook);
            bool dup = false;
            for (size_t u = 0; u < urls.n && !dup; u++)
                dup = strcmp(urls.v[u], url) == 0;
            if (dup)
                free(url);
            else
                push(&urls, url);
        }
        freeaddrinfo(res);
        config_upstream_dispose(&a);
    }
    if (ifs)
        freeifaddrs(ifs);
    if (urls.n) {
        log_info(j->tag, 0, "telling %zu peer(s) of the push", urls.n);
        notify_post(&urls, j->secret, NULL, "peer", j->body, strlen(j->body), PEERS_RETRY_FOR_MS,
                    j->tag);
    }
    for (size_t u = 0; u < urls.n; u++)
        free(urls.v[u]);
    free(urls.v);
}

static void *on_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!stopping && n_queued == 0)
            pthread_cond_wait(&wake, &lock);
        if (stopping)
            break;
        struct job *j = queue[0];
        memmove(queue, queue + 1, --n_queued * sizeof *queue);
        pthread_mutex_unlock(&lock);
        run(j);
        job_free(j);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void peers_notify(const struct site_conf *site, const char *ref)
{
    const struct git_site_conf *c = &site->git;
    if (!c->peers.n || !c->hook || !c->secret)
        return;
    struct job *j = xmalloc(sizeof *j);
    memset(j, 0, sizeof *j);
    for (size_t i = 0; i < c->peers.n; i++)
        push(&j->peers, xstrdup(c->peers.v[i]));
    j->hook = xstrdup(c->hook);
    j->secret = xstrdup(c->secret);
    snprintf(j->tag, sizeof j->tag, "git [site %s]", site->name);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    struct buf b;
    buf_init(&b, 0);
    webhook_peer_body(ref, host, (int64_t)time(NULL), &b);
    j->body = xstrdup(b.data);
    buf_dispose(&b);
    pthread_mutex_lock(&lock);
    if (!running && pthread_create(&thread, NULL, on_thread, NULL) == 0) {
        running = true;
        stopping = false;
    }
    if (!running) {
        pthread_mutex_unlock(&lock);
        log_error(j->tag, 0, "cannot start the git_peers thread");
        job_free(j);
        return;
    }
    if (n_queued == PEERS_QUEUE_MAX) {
        job_free(queue[0]);
        memmove(queue, queue + 1, --n_queued * sizeof *queue);
    }
    queue[n_queued++] = j;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

void peers_stop(void)
{
    pthread_mutex_lock(&lock);
    if (!running) {
        pthread_mutex_unlock(&lock);
        return;
    }
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    running = false;
    stopping = false;
    while (n_queued)
        job_free(queue[--n_queued]);
    pthread_mutex_unlock(&lock);
}
