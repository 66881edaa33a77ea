/*
 * live_reload: the pure parts of development mode's live reload (dev_watch.h runs it).
 *   - the script injected into HTML pages, which listens on LIVE_RELOAD_PATH (EventSource) and
 *     reloads the page, or swaps the stylesheets in place when only CSS changed;
 *   - where it goes: before the last "</body>" (any case), else at the end;
 *   - the ETag of the injected representation (not the file's: the bytes differ);
 *   - the event a changed file sends ("css:/path" or "reload").
 * No I/O, no allocation except into the caller's buffer.
 */
#ifndef WHARF_LIVE_RELOAD_H
#define WHARF_LIVE_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define LIVE_RELOAD_PATH "/__wharf/livereload" /* the EventSource endpoint */

/** The script element injected (a constant; its length is strlen). */
extern const char live_reload_script[];
/** Whether a Content-Type value is HTML ("text/html", any case, parameters allowed). */
bool live_reload_is_html(const char *content_type);
/** The offset the script goes at in body: before the last "</body" (case-insensitive), else
 *  n (the end). */
size_t live_reload_insert_at(const char *body, size_t n);
/** Append body with the script inserted to out. -1 at out's cap (out as it was). */
int live_reload_inject(struct buf *out, const char *body, size_t n);
/** The injected representation's ETag: "X" -> "X-lr" inside the quotes (W/ kept), written to
 *  out (n bytes). false when etag is not a quoted entity tag or does not fit. */
bool live_reload_etag(const char *etag, char *out, size_t n);
/** The event for a changed file (path relative to the project, '/'-separated, n bytes) into
 *  out: "css" for a .css file, else "reload". */
const char *live_reload_event(const char *path, size_t n);

#endif
