/*
 * response: how a handler answers a request. Every response goes out through
 * response_queue(), which records the status and body size for the access log, and carries
 * the same Server header. Handlers (static_file, fcgi_request, git_http; handler.h) include
 * this header, not http_front.h, so building a response does not depend on the daemon that
 * dispatches to them.
 * Ownership follows MHD: a body handed to MHD belongs to the response only once it exists;
 * when MHD cannot create it, these functions free what they were given.
 */
#ifndef WHARF_RESPONSE_H
#define WHARF_RESPONSE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "request.h"

#define WHARF_SERVER_HEADER "wharf/" PACKAGE_VERSION

/** The longest reason phrase of an application's own that is passed on ("418 I'm a teapot");
 *  a longer one gets the standard phrase of its code. */
#define RESPONSE_REASON_MAX 64

/** Set resp's reason phrase to an application's own when it is a valid reason-phrase (RFC 9112
 *  4: HTAB, SP, VCHAR, obs-text) of at most RESPONSE_REASON_MAX bytes; otherwise, or without
 *  the bundled libmicrohttpd, the standard phrase of the code stays. reason may be NULL. */
void response_set_reason(struct MHD_Response *resp, const char *reason);

/** Whether r's responses get headers of their own (response rules: r->rule_path; X-Sendfile's
 *  kept headers; HSTS on a TLS request of a site with hsts): then a response shared between
 * requests (the file cache's) must not be queued for it, because response_queue adds those headers
 * to the response it is given. */
bool response_private_headers(const struct request *r);

/** Queue resp (the caller still destroys its own reference) and record status and body size
 *  in r (0 for HEAD and 304). Applies the site's response rules when r->rule_path is set, sends
 *  r->error_status instead of status when an error page is being shown, and adds
 *  Strict-Transport-Security on HTTPS when the site asks for it and the response has none yet
 *  (PHP's own wins). resp must be r's own when response_private_headers(r). */
enum MHD_Result response_queue(struct MHD_Connection *c, struct request *r, unsigned status,
                               struct MHD_Response *resp, uint64_t body_bytes);
/** A response over b's bytes, which it takes: b is left empty, and its memory is freed when MHD
 *  cannot create the response (then NULL). Adds Server and, when type is not NULL,
 *  Content-Type. */
struct MHD_Response *response_from_buf(struct buf *b, const char *type);
/** A response that announces a body of announced_len bytes but never sends one, for HEAD and
 *  304: note: MHD always writes a Content-Length there (but for 1xx/204), and RFC 9110 8.6
 *  allows only the length the 200 would have had. MHD_SIZE_UNKNOWN announces none (chunked
 *  on HTTP/1.1). No headers added. NULL when MHD cannot create it. */
struct MHD_Response *response_bodiless(uint64_t announced_len);
/** Send b's bytes (taken as by response_from_buf) as a status response with Content-Type type,
 *  Cache-Control cache_control (NULL = none) and one more header when hdr_name is not NULL.
 *  MHD_NO when MHD cannot create the response. */
enum MHD_Result response_send_buf(struct MHD_Connection *c, struct request *r, unsigned status,
                                  struct buf *b, const char *type, const char *cache_control,
                                  const char *hdr_name, const char *hdr_value);
/** Set name to value on resp: every line of that name (any case) goes first. */
void response_set_header(struct MHD_Response *resp, const char *name, const char *value);
/** Queue a small error page (HTML, or JSON when the client's Accept prefers it), not cached.
 *  detail may be NULL; one extra header (name, value) is added when hdr_name is not NULL.
 *  When the site has an error_page for status (and r->error_pages_ok, and no extra header:
 *  405's Allow, 416's Content-Range, 503's Retry-After keep the built-in page), queues
 *  nothing: it sets r->redirect to the page and r->error_status, and returns MHD_YES; the
 *  caller returns to the front, which follows it. An error while showing a page sends the
 *  built-in page with the first status. */
enum MHD_Result response_error(struct MHD_Connection *c, struct request *r, unsigned status,
                               const char *detail, const char *hdr_name, const char *hdr_value);

#endif
