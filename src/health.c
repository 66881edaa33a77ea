/*
 * health: see include/health.h.
 */
#include "health.h"

#include <string.h>

const char *health_phase_name(enum lifecycle_phase phase)
{
    switch (phase) {
    case LIFECYCLE_STARTING:
        return "starting";
    case LIFECYCLE_SERVING:
        return "serving";
    case LIFECYCLE_RELOADING:
        return "reloading";
    case LIFECYCLE_DRAINING:
        return "draining";
    }
    return "unknown";
}

static void json_str(struct buf *out, const char *s)
{
    buf_putc(out, '"');
    buf_append_json(out, s, strlen(s));
    buf_putc(out, '"');
}

bool health_ready(enum lifecycle_phase phase, const struct health_check *c, size_t n,
                  struct buf *out)
{
    /* reloading keeps serving the old configuration: still ready */
    bool ready = phase == LIFECYCLE_SERVING || phase == LIFECYCLE_RELOADING;
    bool first = true;
    struct buf items;
    buf_init(&items, out->max);
    if (!ready) {
        buf_puts(&items, "{\"check\":\"lifecycle\",\"site\":null,\"detail\":");
        json_str(&items, health_phase_name(phase));
        buf_putc(&items, '}');
        first = false;
    }
    for (size_t i = 0; i < n; i++) {
        if (c[i].ok)
            continue;
        ready = false;
        buf_puts(&items, first ? "{\"check\":" : ",{\"check\":");
        first = false;
        json_str(&items, c[i].check);
        buf_puts(&items, ",\"site\":");
        if (c[i].site)
            json_str(&items, c[i].site);
        else
            buf_puts(&items, "null");
        buf_puts(&items, ",\"detail\":");
        if (c[i].detail)
            json_str(&items, c[i].detail);
        else
            buf_puts(&items, "null");
        buf_putc(&items, '}');
    }
    buf_printf(out, "{\"ready\":%s,\"phase\":", ready ? "true" : "false");
    json_str(out, health_phase_name(phase));
    buf_puts(out, ",\"not_ready\":[");
    buf_append(out, items.data, items.len);
    buf_puts(out, "]}\n");
    buf_dispose(&items);
    return ready;
}
