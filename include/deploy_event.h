/*
 * deploy_event: what one deploy attempt or rollback was, and its three renderings, all pure:
 * the JSON body of a git_notify delivery, one line of the site's deploy history file
 * (<state>/history, tab-separated, written by the server and by `wharf --deploy/--rollback`
 * alike) and the status JSON's "history" array read back from that file. No I/O, no clock.
 */
#ifndef WHARF_DEPLOY_EVENT_H
#define WHARF_DEPLOY_EVENT_H

#include <stdint.h>

#include "buf.h"

#define DEPLOY_HISTORY_KEEP 20 /* lines kept in the history file */

struct deploy_event {
    const char *event;       /* "deploy" or "rollback" */
    const char *site;        /* the site's name */
    const char *result;      /* "live" (switched), "failed", "rolled_back" */
    const char *trigger;     /* "start", "poll", "webhook", "signal", "cli" */
    const char *commit;      /* the commit deployed or rolled back to; NULL/"" = unknown */
    const char *previous;    /* the commit live before; NULL/"" = none */
    const char *error;       /* why it failed; NULL/"" = none */
    const char *after_error; /* git_after's failure (the release stays live); NULL/"" = none */
    const char *host;        /* this machine's name (notify only) */
    int64_t time;            /* unix seconds, when it ended */
    uint64_t duration_ms;
};

/** The notify body: one JSON object with every field above (empty strings as null). */
void deploy_event_json(const struct deploy_event *ev, struct buf *out);

/** One history line, '\n'-terminated: time, event, trigger, result, commit, previous,
 *  duration_ms, error, after_error, tab-separated ("-" for an empty field; tabs and control
 *  characters inside a field become spaces). */
void deploy_event_line(const struct deploy_event *ev, struct buf *out);

/** Parse one history line (without '\n'; split in place) into ev, whose strings then point
 *  into line. Returns 0, or -1 for a line that is not one (a truncated write, say). */
int deploy_event_parse_line(char *line, struct deploy_event *ev);

/** The last max events of a history file's text as a JSON array, newest first; lines that do
 *  not parse are skipped. text is modified (split in place). */
void deploy_history_json(char *text, unsigned max, struct buf *out);

#endif
