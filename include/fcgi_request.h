/*
 * fcgi_request: the MHD side of an HTTP request proxied to a FastCGI backend.
 *
 * It decides that a path runs a script, buffers the request body (memory, then an unlinked
 * temp file: a slow uploader never holds a php-fpm child, and chunked uploads get a
 * CONTENT_LENGTH), collects the CGI params, suspends the connection and hands the request
 * (struct fcgi_req, fcgi_req.h) to the same thread's FastCGI engine (fcgi_pool_submit). The
 * engine serving it runs the FastCGI exchange (fcgi_exchange.h) and resumes the connection
 * whenever this side waits for something, exactly once per suspend; this side then answers
 * with one buffer response or a content reader streaming the request's output.
 */
#ifndef WHARF_FCGI_REQUEST_H
#define WHARF_FCGI_REQUEST_H

#include <microhttpd.h>
#include <stdbool.h>

#include "config.h"
#include "request.h"

#define FCGI_GZIP_IN (16u * 1024) /* raw bytes compressed per content-reader call */
#define FCGI_GZIP_LEVEL 6         /* zlib level for PHP responses (as for files) */

struct site;

/* ---- MHD side, called from http_front ---- */

/** Where request bodies beyond memory go (temp_dir, else $TMPDIR, else /tmp). Once, at start. */
void fcgi_request_setup(const struct server_conf *server);

/** Whether (the site of runtime rt, normalised path) runs a script (never for a site without a
 *  FastCGI pool); if so fills script/path_info (caller frees) and returns true. Also answers
 *  *is_source: a path ending in the FastCGI extension that does not run (it must not be served
 *  as a static file). Touches the file system. */
bool fcgi_request_route(const struct site *rt, const char *path, char **script_name,
                        char **path_info, bool *is_source);

/** The access handler for a request routed to FastCGI (every call, as MHD makes them). */
enum MHD_Result fcgi_request_handle(struct MHD_Connection *c, struct request *r,
                                    const char *upload_data, size_t *upload_data_size);

/** Before the access log line: a streamed response's r->bytes becomes the body bytes really
 *  handed to MHD (0 for HEAD and 304). A no-op for other requests. */
void fcgi_request_count_bytes(struct request *r);

/** MHD reported the request complete (or aborted). */
void fcgi_request_completed(struct request *r, enum MHD_RequestTerminationCode toe);

#endif
