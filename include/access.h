/*
 * access: a site's access rules at request time (allow_ip/deny_ip, limit_req, auth_basic,
 * and the real client address behind trusted_proxies), in that order: an address refused
 * by the IP rules never spends a token, and a flood that is rate-limited never reaches
 * libcrypt. The front (http_front) calls access_check() once per request, after the path
 * is normalised and the deny rules ran, only for a site that has a rule (access_rules_any):
 * a site without rules pays that one count check.
 *
 * Which rules apply is access_rules.c (pure); this module holds their state (one
 * rate_limit per limit_req rule, one basic_auth per auth_basic rule, made with the site's
 * runtime; a reload keeps an unchanged rule's buckets) and answers 403, 429 with Retry-After,
 * and 401 with WWW-Authenticate. A password check suspends the request while libcrypt runs
 * on basic_auth's threads (see basic_auth.h); the front resumes it through access_resume().
 */
#ifndef WHARF_ACCESS_H
#define WHARF_ACCESS_H

#include <microhttpd.h>
#include <stdbool.h>

#include "config.h"
#include "request.h"
#include "util.h"

struct access;

/** The state of conf's rules for site name; NULL when conf has no limit_req nor auth_basic
 *  rule (nothing to keep), or on error (added to errs, "[site NAME]: ..."). old (NULL = none)
 *  is the state of the same site before a reload, made for old_conf: a limit_req rule whose
 *  path, rate and burst did not change keeps its buckets, so a reload never hands a limited
 *  client a fresh burst. */
struct access *access_new(const struct access_conf *conf, const char *name,
                          const struct access *old, const struct access_conf *old_conf,
                          struct errlist *errs);
/** NULL is ok. No request may use a any more. */
void access_free(struct access *a);

/**
 * Run r's site's rules for path (normalised). false: r may go on. true: r is answered (403,
 * 429, 401, 503) or suspended for a password check, and *ret is for MHD. Fills r->real_ip
 * when trusted_proxies names another client. On the thread running r's connection.
 */
bool access_check(struct MHD_Connection *c, struct request *r, const char *path,
                  enum MHD_Result *ret);

/** r, suspended by access_check, was resumed. true: the password was right, route r (its
 *  access_passed is set); false: r is answered (401) and *ret is for MHD. */
bool access_resume(struct MHD_Connection *c, struct request *r, enum MHD_Result *ret);

/** Frees what access_check left in r (NULL-safe; at completion). */
void access_request_done(struct request *r);

/** For the stop, before MHD_stop_daemon: every request suspended for a password check is
 *  resumed (a queued check is cancelled: 503; a running one is finished), and no check
 *  thread touches a worker afterwards (basic_auth_drain). */
void access_stop(void);

#endif
