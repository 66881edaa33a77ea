/* access: a site's access rules at request time. See access.h. */
#include "access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_rules.h"
#include "basic_auth.h"
#include "cidr.h"
#include "fcgi_pool.h"
#include "log.h"
#include "metrics.h"
#include "rate_limit.h"
#include "real_ip.h"
#include "response.h"
#include "site.h"

struct access {
    struct rate_limit **rate; /* one per limit_req rule */
    size_t n_rate;
    struct basic_auth **auth; /* one per auth_basic rule */
    size_t n_auth;
};

/* A request suspended while its password is checked. */
struct access_wait {
    struct basic_auth_job job;
    struct MHD_Connection *c;
    struct fcgi_engine *engine; /* the worker to wake once resumed */
    long rule;
};

static bool same_rate_rule(const struct rate_rule *a, const struct rate_rule *b)
{
    return a->path.kind == b->path.kind && strcmp(a->path.pattern, b->path.pattern) == 0 &&
           a->interval_ns == b->interval_ns && a->burst == b->burst;
}

/* The buckets old keeps for a rule like r, or NULL. */
static struct rate_limit *old_buckets(const struct rate_rule *r, const struct access *old,
                                      const struct access_conf *old_conf)
{
    for (size_t j = 0; old && old_conf && j < old->n_rate && j < old_conf->n_rate; j++)
        if (same_rate_rule(r, &old_conf->rate[j]))
            return old->rate[j];
    return NULL;
}

struct access *access_new(const struct access_conf *conf, const char *name,
                          const struct access *old, const struct access_conf *old_conf,
                          struct errlist *errs)
{
    if (!conf->n_rate && !conf->n_auth)
        return NULL;
    struct access *a = xcalloc(1, sizeof *a);
    a->rate = xcalloc(conf->n_rate ? conf->n_rate : 1, sizeof *a->rate);
    a->auth = xcalloc(conf->n_auth ? conf->n_auth : 1, sizeof *a->auth);
    for (; a->n_rate < conf->n_rate; a->n_rate++) {
        const struct rate_rule *r = &conf->rate[a->n_rate];
        struct rate_limit *kept = old_buckets(r, old, old_conf);
        a->rate[a->n_rate] = kept
                                 ? rate_limit_ref(kept)
                                 : rate_limit_new(r->interval_ns, r->burst, RATE_LIMIT_MAX_CLIENTS);
    }
    for (; a->n_auth < conf->n_auth; a->n_auth++) {
        const char *why;
        a->auth[a->n_auth] = basic_auth_new(conf->auth[a->n_auth].file, &why);
        if (!a->auth[a->n_auth]) {
            errlist_add(errs, "[site %s]: auth_basic: htpasswd file '%s': %s", name,
                        conf->auth[a->n_auth].file, why);
            access_free(a);
            return NULL;
        }
    }
    return a;
}

void access_free(struct access *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_rate; i++)
        rate_limit_free(a->rate[i]);
    for (size_t i = 0; i < a->n_auth; i++)
        basic_auth_free(a->auth[i]);
    free(a->rate);
    free(a->auth);
    free(a);
}

/* ---- the client's address ----------------------------------------------------------------- */

struct joined {
    const char *name;
    char *v; /* the field lines of name joined with ',' */
    size_t n, cap;
};

static enum MHD_Result join_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct joined *j = cls;
    if (strlen(j->name) != key_size || ascii_casecmp(key, j->name) != 0 || !value)
        return MHD_YES;
    size_t need = j->n + (j->n ? 1 : 0) + value_size;
    if (need + 1 > j->cap) {
        j->cap = need + 64;
        j->v = xrealloc(j->v, j->cap);
    }
    if (j->n)
        j->v[j->n++] = ',';
    memcpy(j->v + j->n, value, value_size);
    j->n += value_size;
    j->v[j->n] = '\0';
    return MHD_YES;
}

/* The client's address into addr; r->real_ip when a trusted proxy named another one. false
 * when the socket's address is unknown (not IP). */
static bool client_addr(struct MHD_Connection *c, struct request *r, uint8_t addr[16])
{
    const struct access_conf *a = &r->site->access;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    uint8_t peer[16];
    if (!ci || !cidr_addr_of(ci->client_addr, peer))
        return false;
    memcpy(addr, peer, 16);
    if (!a->trusted_proxies.n || !cidr_any(a->trusted_proxies.v, a->trusted_proxies.n, peer))
        return true;
    struct joined j = {.name = a->real_ip_header == REAL_IP_FORWARDED ? "Forwarded"
                                                                      : "X-Forwarded-For"};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, join_field, &j);
    if (real_ip_resolve(a->real_ip_header, j.v, j.n, a->trusted_proxies.v, a->trusted_proxies.n,
                        peer, addr))
        cidr_format_addr(addr, r->real_ip, sizeof r->real_ip);
    free(j.v);
    return true;
}

/* ---- the rules ---------------------------------------------------------------------------- */

static void count(struct request *r, enum metrics_access k)
{
    if (r->conn && r->rt)
        metrics_access_refused(r->rt->stats, r->conn->worker, k);
}

static enum MHD_Result unauthorized(struct MHD_Connection *c, struct request *r, long rule)
{
    char challenge[256];
    snprintf(challenge, sizeof challenge, "Basic realm=\"%s\", charset=\"UTF-8\"",
             r->site->access.auth[rule].realm);
    count(r, METRICS_ACCESS_AUTH);
    return response_error(c, r, MHD_HTTP_UNAUTHORIZED, "Authentication required.",
                          MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
}

/* Runs on a basic_auth thread: the last touch of w by that thread. */
static void on_checked(struct basic_auth_job *job)
{
    struct access_wait *w = job->ctx;
    struct MHD_Connection *c = w->c;
    struct fcgi_engine *e = w->engine;
    /* note: from MHD_resume_connection on, the worker may run and free w */
    MHD_resume_connection(c);
    if (e)
        fcgi_engine_wake(e);
}

/* Under basic_auth's queue lock, before a thread can take the job (and resume c). */
static void on_queued(struct basic_auth_job *job)
{
    MHD_suspend_connection(((struct access_wait *)job->ctx)->c);
}

static bool check_auth(struct MHD_Connection *c, struct request *r, const char *path,
                       enum MHD_Result *ret)
{
    long rule = access_rules_auth(&r->site->access, path);
    if (rule < 0)
        return false;
    struct basic_auth *auth = r->rt->access->auth[rule];
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &password);
    struct access_wait *w = xcalloc(1, sizeof *w);
    enum basic_auth_verdict v = basic_auth_check(auth, user, password, clock_ms(), &w->job);
    if (password) {
        memset(password, 0, strlen(password));
        MHD_free(password);
    }
    if (v != BASIC_AUTH_PENDING) {
        free(w);
        if (v == BASIC_AUTH_OK) {
            free(r->remote_user);
            r->remote_user = xstrdup(user);
            MHD_free(user);
            return false;
        }
        if (user)
            MHD_free(user);
        *ret = unauthorized(c, r, rule);
        return true;
    }
    w->c = c;
    w->engine = r->conn ? r->conn->engine : NULL;
    w->rule = rule;
    w->job.done = on_checked;
    w->job.queued = on_queued;
    w->job.ctx = w;
    r->access_wait = w;
    if (basic_auth_submit(&w->job) != 0) {
        access_request_done(r);
        log_warn("auth", r->id, "password checks queue full (%d waiting)", BASIC_AUTH_QUEUE_MAX);
        *ret = response_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "Too many logins at once.",
                              MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return true;
    }
    *ret = MHD_YES;
    return true;
}

bool access_check(struct MHD_Connection *c, struct request *r, const char *path,
                  enum MHD_Result *ret)
{
    const struct access_conf *a = &r->site->access;
    uint8_t addr[16];
    if (r->access_passed)
        return false;
    if (!client_addr(c, r, addr))
        memset(addr, 0, sizeof addr); /* not IP: "::", which allow_ip rules refuse */
    if (a->n_ip && !access_rules_ip_allowed(a, path, addr)) {
        count(r, METRICS_ACCESS_IP);
        *ret = response_error(c, r, MHD_HTTP_FORBIDDEN, NULL, NULL, NULL);
        return true;
    }
    long rule = a->n_rate ? access_rules_rate(a, path) : -1;
    if (rule >= 0) {
        uint64_t wait_ns = rate_limit_take(r->rt->access->rate[rule], addr, clock_us() * 1000);
        if (wait_ns) {
            char secs[24];
            snprintf(secs, sizeof secs, "%llu",
                     (unsigned long long)((wait_ns + 999999999u) / 1000000000u));
            count(r, METRICS_ACCESS_RATE);
            *ret = response_error(c, r, MHD_HTTP_TOO_MANY_REQUESTS, "Too many requests.",
                                  MHD_HTTP_HEADER_RETRY_AFTER, secs);
            return true;
        }
    }
    if (a->n_auth && check_auth(c, r, path, ret))
        return true;
    r->access_passed = true;
    return false;
}

bool access_resume(struct MHD_Connection *c, struct request *r, enum MHD_Result *ret)
{
    struct access_wait *w = r->access_wait;
    bool ok = basic_auth_job_ok(&w->job);
    long rule = w->rule;
    if (basic_auth_job_cancelled(&w->job)) {
        access_request_done(r);
        *ret = response_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "The server is stopping.",
                              MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return false;
    }
    if (ok) {
        free(r->remote_user);
        r->remote_user = xstrdup(w->job.user);
    }
    access_request_done(r);
    if (!ok) {
        *ret = unauthorized(c, r, rule);
        return false;
    }
    r->access_passed = true;
    return true;
}

void access_request_done(struct request *r)
{
    if (!r->access_wait)
        return;
    basic_auth_job_dispose(&r->access_wait->job);
    free(r->access_wait);
    r->access_wait = NULL;
}

void access_stop(void)
{
    basic_auth_drain();
}
