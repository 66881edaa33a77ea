/*
 * git_http: see include/git_http.h. Answers: 202 a deploy was queued; 200 acknowledged and
 * ignored (a ping, another branch, an event that is not a push); 403 a missing, malformed or
 * wrong signature (nothing runs); 405 not a POST; 413 a body over GIT_HTTP_MAX_BODY.
 * As a handler (handler.h): the status and every refusal are answered in the start call with
 * no state; a webhook POST keeps its body in a struct git_hook until on_completed.
 */
#include "git_http.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "git_worker.h"
#include "handler.h"
#include "log.h"
#include "peers.h"
#include "response.h"
#include "site.h"
#include "util.h"
#include "webhook.h"

/* A webhook POST's state (r->handler_state); status requests and refusals have none. */
struct git_hook {
    struct buf body; /* capped at GIT_HTTP_MAX_BODY */
    bool too_large;  /* the body went past the cap: 413 once it is read */
    bool answered;   /* the response is queued: later calls drop the body */
};

bool git_http_owns(const struct site_conf *site, const char *path)
{
    return (site->git.hook && strcmp(path, site->git.hook) == 0) ||
           (site->git.status && strcmp(path, site->git.status) == 0);
}

static enum MHD_Result json_reply(struct MHD_Connection *c, struct request *r, unsigned status,
                                  struct buf *b)
{
    return response_send_buf(c, r, status, b, "application/json", "no-store", NULL, NULL);
}

static enum MHD_Result message(struct MHD_Connection *c, struct request *r, unsigned status,
                               const char *text)
{
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "{\"status\":%u,\"message\":\"", status);
    buf_append_json(&b, text, strlen(text));
    buf_puts(&b, "\"}\n");
    return json_reply(c, r, status, &b);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* The whole body is in: check it and act. */
static enum MHD_Result finish_hook(struct MHD_Connection *c, struct request *r,
                                   struct git_hook *hook)
{
    const struct site_conf *site = r->site;
    const struct buf *body = &hook->body;
    if (hook->too_large)
        return message(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
    const char *wharf_event = header(c, "X-Wharf-Event");
    if (wharf_event) {
        /* a peer's fan-out (peers.h): signed by wharf, dated, deployed, never passed on */
        struct webhook_headers ph = {.hub_signature_256 = header(c, "X-Wharf-Signature-256")};
        enum webhook_verdict pv =
            webhook_verify(&ph, body->data ? body->data : "", body->len, site->git.secret);
        const char *why = pv != WEBHOOK_OK ? webhook_verdict_text(pv) : NULL;
        char ref[256];
        if (!why && strcmp(wharf_event, "peer") != 0)
            why = "unknown event";
        if (!why) {
            enum webhook_peer_verdict e = webhook_peer_check(
                body->data ? body->data : "", body->len, (int64_t)time(NULL), ref, sizeof ref);
            if (e != WEBHOOK_PEER_OK)
                why = webhook_peer_verdict_text(e);
        }
        if (why) {
            log_warn("webhook", r->id, "[site %s] refused a wharf event: %s", site->name, why);
            return message(c, r, MHD_HTTP_FORBIDDEN, why);
        }
        log_info("webhook", r->id, "[site %s] a peer was pushed to (%s): deploy queued", site->name,
                 ref);
        git_worker_request(r->rt->git);
        return message(c, r, MHD_HTTP_ACCEPTED, "deploy queued");
    }
    struct webhook_headers h = {
        .hub_signature_256 = header(c, "X-Hub-Signature-256"),
        .gitea_signature = header(c, "X-Gitea-Signature") ? header(c, "X-Gitea-Signature")
                                                          : header(c, "X-Forgejo-Signature"),
        .gitlab_token = header(c, "X-Gitlab-Token"),
        .hub_signature = header(c, "X-Hub-Signature"),
    };
    enum webhook_verdict v =
        webhook_verify(&h, body->data ? body->data : "", body->len, site->git.secret);
    if (v != WEBHOOK_OK) {
        log_warn("webhook", r->id, "[site %s] refused: %s", site->name, webhook_verdict_text(v));
        return message(c, r, MHD_HTTP_FORBIDDEN, webhook_verdict_text(v));
    }
    const char *gh = header(c, "X-GitHub-Event"), *gt = header(c, "X-Gitea-Event"),
               *gl = header(c, "X-Gitlab-Event");
    if (webhook_is_ping(gh, gt, gl))
        return message(c, r, MHD_HTTP_OK, "pong");
    if (!webhook_is_push(gh, gt, gl))
        return message(c, r, MHD_HTTP_OK, "not a push event: ignored");
    char ref[256], branch[256];
    if (webhook_push_ref(header(c, MHD_HTTP_HEADER_CONTENT_TYPE), body->data ? body->data : "",
                         body->len, ref, sizeof ref) != 0)
        return message(c, r, MHD_HTTP_BAD_REQUEST, "no \"ref\" in the push payload");
    git_worker_branch(r->rt->git, branch, sizeof branch);
    /* before the branch is known (first fetch pending) every push may be the one: deploy */
    if (branch[0] && !webhook_ref_is_branch(ref, branch)) {
        log_info("webhook", r->id, "[site %s] push to %s ignored (deploying %s)", site->name, ref,
                 branch);
        return message(c, r, MHD_HTTP_OK, "push to another branch: ignored");
    }
    log_info("webhook", r->id, "[site %s] push to %s: deploy queued", site->name, ref);
    git_worker_request(r->rt->git);
    peers_notify(site, ref);
    return message(c, r, MHD_HTTP_ACCEPTED, "deploy queued");
}

static enum MHD_Result on_request(struct MHD_Connection *c, struct request *r,
                                  const char *upload_data, size_t *upload_data_size)
{
    struct git_hook *h = r->handler_state;
    if (!h || h->answered)
        return handler_discard_body(c, r, upload_data, upload_data_size);
    if (*upload_data_size) {
        if (buf_append(&h->body, upload_data, *upload_data_size) != 0)
            h->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    h->answered = true;
    return finish_hook(c, r, h);
}

static void on_completed(struct request *r, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct git_hook *h = r->handler_state;
    if (h) {
        buf_dispose(&h->body);
        free(h);
    }
}

static const struct handler git_http_handler = {"git", on_request, on_completed};

enum MHD_Result git_http_start(struct MHD_Connection *c, struct request *r, const char *path)
{
    const struct site_conf *site = r->site;
    r->handler = &git_http_handler;
    if (site->git.status && strcmp(path, site->git.status) == 0) {
        if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
            return response_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, MHD_HTTP_HEADER_ALLOW,
                                  "GET, HEAD");
        struct buf b;
        buf_init(&b, 0);
        git_worker_status_json(r->rt->git, &b);
        buf_putc(&b, '\n');
        return json_reply(c, r, MHD_HTTP_OK, &b);
    }
    if (strcmp(r->method, "POST") != 0)
        return response_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, MHD_HTTP_HEADER_ALLOW,
                              "POST");
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > GIT_HTTP_MAX_BODY)
        return message(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "payload too large");
    struct git_hook *h = xcalloc(1, sizeof *h);
    buf_init(&h->body, GIT_HTTP_MAX_BODY);
    r->handler_state = h;
    if (r->has_body)
        return MHD_YES; /* the body follows */
    h->answered = true;
    return finish_hook(c, r, h);
}
