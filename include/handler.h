/*
 * handler: what answers a request once the front has routed it. The front (http_front)
 * parses, checks and routes; it then calls one handler's start function (static_file_serve,
 * static_file_options, fcgi_request_start, git_http_start), which takes the request: it sets
 * r->handler to its table and r->handler_state to its own per-request state (NULL when it
 * needs none) and answers or begins to. Every later access-handler call of MHD goes through
 * r->handler->on_request, and the end of the request through r->handler->on_completed, which
 * frees that state. The front never looks inside a handler's state, and a handler never
 * calls back into the front: it asks for a local redirect by setting r->redirect (see
 * request.h), and the front follows it after the handler returns. (h2o's on_req plus
 * generator, lighttpd's subrequest handler; docs/architecture.md, "Handlers".)
 */
#ifndef WHARF_HANDLER_H
#define WHARF_HANDLER_H

#include <microhttpd.h>
#include <stddef.h>

#include "request.h"

struct handler {
    const char *name; /* "static", "fastcgi", "git", "error": for logs and debuggers */
    /** Every access-handler call of r after the start: body pieces (*upload_data_size > 0;
     *  set it to 0 once consumed), the last call (0), calls after a resume. As MHD's access
     *  handler: MHD_NO closes the connection. */
    enum MHD_Result (*on_request)(struct MHD_Connection *c, struct request *r,
                                  const char *upload_data, size_t *upload_data_size);
    /** r is done with this handler: MHD reported it complete (toe), or the handler asked for
     *  a local redirect (MHD_REQUEST_TERMINATED_COMPLETED_OK). Frees r->handler_state and sets
     *  r->bytes when the body really sent differs from what response_queue recorded (streams).
     *  NULL = nothing to do. Runs before the access-log line is written. */
    void (*on_completed)(struct request *r, enum MHD_RequestTerminationCode toe);
};

/** on_request of a handler that answered in its start call: a body nobody reads is dropped. */
enum MHD_Result handler_discard_body(struct MHD_Connection *c, struct request *r,
                                     const char *upload_data, size_t *upload_data_size);

/** The front's own answers (error pages from dispatch, before or instead of another
 *  handler; a head refused by http_head_check): no state. */
extern const struct handler handler_error;

#endif
