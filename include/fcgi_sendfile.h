/*
 * fcgi_sendfile: X-Sendfile and X-Accel-Redirect. A PHP response carrying one of them (on a
 * site with fastcgi_sendfile = DIR ...) is not sent: the fastcgi handler leaves a struct
 * fcgi_sendfile in r->sendfile and returns, and the front calls fcgi_sendfile_serve() once
 * the handler is done (as it follows a local redirect). The file is then served by the static
 * handler (ranges, conditional requests, sendfile, the file cache) with the site's symlink
 * policy beneath the allowed directory it is in, and a few of PHP's headers kept (as nginx
 * keeps them: Content-Type, Content-Disposition, Set-Cookie, Cache-Control, Expires).
 *   X-Sendfile: /abs/path      a file path; must be under one of the directories
 *   X-Accel-Redirect: /uri     a URL path, looked up under the site's root; the file must
 *                              also be under one of the directories
 * Neither header ever reaches the client. fcgi_sendfile_resolve() is pure.
 */
#ifndef WHARF_FCGI_SENDFILE_H
#define WHARF_FCGI_SENDFILE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "request.h"

/** Whether a response header name is X-Sendfile or X-Accel-Redirect (any case). */
bool fcgi_sendfile_is_header(const char *name);
/** Whether name is one of the application's headers kept on the file's response. */
bool fcgi_sendfile_keeps(const char *name);
/** Free sf and everything it holds; NULL is fine. */
void fcgi_sendfile_free(struct request_sendfile *sf);

/**
 * Where the file named by value lives: *dir is the index of the directory of dirs holding it,
 * and rel (rel_cap bytes) its path below that directory ("/a/b.zip"). root is the site's
 * document root (for X-Accel-Redirect). 0 on success; else an HTTP status: 404 for a
 * malformed value or a hidden segment (".git", ".env"), 403 for a file outside every
 * directory. Pure.
 */
unsigned fcgi_sendfile_resolve(char *const *dirs, size_t n_dirs, const char *root,
                               const char *value, bool accel, size_t *dir, char *rel,
                               size_t rel_cap);

/** Serve r->sendfile (taken: freed, r->sendfile NULL once r is answered) for r, whose fastcgi
 *  handler is done. As a handler start function: answers r now. */
enum MHD_Result fcgi_sendfile_serve(struct MHD_Connection *c, struct request *r);

#endif
