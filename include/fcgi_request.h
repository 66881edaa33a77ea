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
 *
 * As a handler (handler.h), its per-request state (struct fcgi_http, in fcgi_request.c) holds
 * the script, PATH_INFO, DOCUMENT_URI, the query and the fcgi_req; it does not call into the
 * front: a CGI local redirect is left in r->redirect for the front to follow.
 */
#ifndef WHARF_FCGI_REQUEST_H
#define WHARF_FCGI_REQUEST_H

#include <microhttpd.h>
#include <stdbool.h>

#include "config.h"
#include "request.h"

#define FCGI_GZIP_IN (16u * 1024) /* raw bytes compressed per content-reader call */

struct site;

/* ---- MHD side, called from http_front ---- */

/** Where request bodies beyond memory go (temp_dir, else $TMPDIR, else /tmp). Once, at start. */
void fcgi_request_setup(const struct server_conf *server);

/** Whether (the site of runtime rt, normalised path) runs a script (never for a site without a
 *  FastCGI pool); site is rt->conf, or a copy with another root (a gate check of a release,
 *  gate.h). If so fills script/path_info and returns true: one block, *path_info
 *  points into it after script's NUL, so the caller frees script only. Also answers
 *  *is_source: a path ending in the FastCGI extension that does not run (it must not be served
 *  as a static file). Touches the file system. */
bool fcgi_request_route(const struct site *rt, const struct site_conf *site, const char *path,
                        char **script_name, char **path_info, bool *is_source);

/** Start: take r (handler.h) for the script fcgi_request_route found: path is the normalised
 *  path (DOCUMENT_URI), query the raw query (query_len bytes; NULL = none); script, with
 *  path_info inside its block as fcgi_request_route makes them, is taken (freed with the
 *  request). Reads the body as it comes, then submits to the engine of r's connection; a local
 * redirect in the answer is handed back to the front through r->redirect. */
enum MHD_Result fcgi_request_start(struct MHD_Connection *c, struct request *r, const char *path,
                                   const char *query, size_t query_len, char *script,
                                   char *path_info);

#endif
