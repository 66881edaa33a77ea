/*
 * git_http: the HTTP endpoints of git deploy, per site: the push webhook (git_hook) and the
 * JSON deploy status (git_status). The webhook reads the body (at most GIT_HTTP_MAX_BODY),
 * checks its signature (webhook.c, HMAC from GnuTLS, constant-time compare), and only then
 * asks the git worker for a deploy; it never waits for the deploy.
 */
#ifndef WHARF_GIT_HTTP_H
#define WHARF_GIT_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>

#include "config.h"
#include "request.h"

#define GIT_HTTP_MAX_BODY (1024u * 1024) /* push payloads are a few KiB; more is refused (413) */

/** Whether path is the site's webhook or status path. */
bool git_http_owns(const struct site_conf *site, const char *path);
/** Start: take r (handler.h) for such a path (normalised) and answer it, or begin reading
 *  the webhook's body. */
enum MHD_Result git_http_start(struct MHD_Connection *c, struct request *r, const char *path);

#endif
