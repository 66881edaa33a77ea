/*
 * dev_watch: development mode's live reload at run time. One thread watches the project with
 * inotify (recursively, directories created later included; vendor/, node_modules/, .git/ and
 * the names given with --watch-ignore are never entered) and, a short quiet time after a
 * change, tells every browser listening on LIVE_RELOAD_PATH (live_reload.h): "css" when only
 * stylesheets changed, else "reload". The endpoint is an EventSource stream: a content reader
 * that parks its connection (MHD_suspend_connection) until there is news, and the watcher
 * resumes the parked ones. Nothing here runs for other requests.
 */
#ifndef WHARF_DEV_WATCH_H
#define WHARF_DEV_WATCH_H

#include <microhttpd.h>

#include "config.h"
#include "request.h"

#define DEV_WATCH_QUIET_MS 40 /* events closer than this are one change (an editor's save) */

/** Watch dir (absolute) and start the thread. ignore: more directory names never entered.
 *  0, or -1 with errors (inotify unavailable, dir unreadable). */
int dev_watch_start(const char *dir, const struct str_list *ignore, struct errlist *errs);
/** End every event stream (the browsers' connections finish their response), e.g. before a
 *  drain; streams opened later end at once. Any thread. */
void dev_watch_close_streams(void);
/** Stop the thread and free the watches. Call after the front stopped. Safe if never started. */
void dev_watch_stop(void);
/** How many changes were announced so far (tests, banner). Any thread. */
unsigned long dev_watch_changes(void);
/** The handler of LIVE_RELOAD_PATH: a text/event-stream response (GET; 405 otherwise). */
enum MHD_Result dev_watch_events_start(struct MHD_Connection *c, struct request *r);

#endif
