/*
 * deploy_event: see include/deploy_event.h. Pure.
 */
#include "deploy_event.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIELDS 9

static void json_str(struct buf *out, const char *key, const char *v)
{
    buf_printf(out, ",\"%s\":", key);
    if (!v || !*v) {
        buf_puts(out, "null");
        return;
    }
    buf_putc(out, '"');
    buf_append_json(out, v, strlen(v));
    buf_putc(out, '"');
}

static void json_time(struct buf *out, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    buf_printf(out, "\"time\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void event_fields(const struct deploy_event *ev, bool with_site, struct buf *out)
{
    json_time(out, ev->time);
    json_str(out, "event", ev->event);
    if (with_site)
        json_str(out, "site", ev->site);
    json_str(out, "result", ev->result);
    json_str(out, "trigger", ev->trigger);
    json_str(out, "commit", ev->commit);
    json_str(out, "previous_commit", ev->previous);
    buf_printf(out, ",\"duration_ms\":%" PRIu64, ev->duration_ms);
    json_str(out, "error", ev->error);
    json_str(out, "after_error", ev->after_error);
}

void deploy_event_json(const struct deploy_event *ev, struct buf *out)
{
    buf_putc(out, '{');
    event_fields(ev, true, out);
    json_str(out, "host", ev->host);
    buf_putc(out, '}');
}

static void field(struct buf *out, const char *v, bool last)
{
    if (!v || !*v) {
        buf_putc(out, '-');
    } else {
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
            buf_putc(out, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
    }
    buf_putc(out, last ? '\n' : '\t');
}

void deploy_event_line(const struct deploy_event *ev, struct buf *out)
{
    buf_printf(out, "%" PRId64 "\t", ev->time);
    field(out, ev->event, false);
    field(out, ev->trigger, false);
    field(out, ev->result, false);
    field(out, ev->commit, false);
    field(out, ev->previous, false);
    buf_printf(out, "%" PRIu64 "\t", ev->duration_ms);
    field(out, ev->error, false);
    field(out, ev->after_error, true);
}

static bool all_digits(const char *s)
{
    if (!*s || strlen(s) > 19)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int deploy_event_parse_line(char *line, struct deploy_event *ev)
{
    char *f[FIELDS];
    size_t n = 0;
    for (char *p = line;;) {
        if (n == FIELDS)
            return -1; /* more fields than an event has */
        f[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    if (n != FIELDS || !all_digits(f[0]) || !all_digits(f[6]))
        return -1;
    for (size_t i = 0; i < FIELDS; i++)
        if (strcmp(f[i], "-") == 0)
            f[i] = "";
    memset(ev, 0, sizeof *ev);
    ev->time = (int64_t)strtoll(f[0], NULL, 10);
    ev->event = f[1];
    ev->trigger = f[2];
    ev->result = f[3];
    ev->commit = f[4];
    ev->previous = f[5];
    ev->duration_ms = strtoull(f[6], NULL, 10);
    ev->error = f[7];
    ev->after_error = f[8];
    return ev->event[0] && ev->result[0] ? 0 : -1;
}

void deploy_history_json(char *text, unsigned max, struct buf *out)
{
    /* lines, newest (last) first */
    char *lines[DEPLOY_HISTORY_KEEP * 4];
    size_t n = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break; /* a line still being written, or cut: not an event */
        *nl = '\0';
        if (n == sizeof lines / sizeof *lines) {
            memmove(lines, lines + 1, (n - 1) * sizeof *lines);
            n--;
        }
        lines[n++] = p;
        p = nl + 1;
    }
    buf_putc(out, '[');
    unsigned shown = 0;
    for (size_t i = n; i-- > 0 && shown < max;) {
        struct deploy_event ev;
        if (deploy_event_parse_line(lines[i], &ev) != 0)
            continue;
        buf_puts(out, shown ? ",{" : "{");
        event_fields(&ev, false, out);
        buf_putc(out, '}');
        shown++;
    }
    buf_putc(out, ']');
}
