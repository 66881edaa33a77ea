/* log_limit: see include/log_limit.h. */
#include "log_limit.h"

#include <string.h>

void log_limit_init(struct log_limit *l, uint64_t window_ms, unsigned burst)
{
    memset(l, 0, sizeof *l);
    l->window_ms = window_ms ? window_ms : 1;
    l->burst = burst;
}

static struct log_limit_kind *find(struct log_limit *l, const void *key)
{
    for (size_t i = 0; i < LOG_LIMIT_KINDS; i++)
        if (l->kinds[i].key == key || !l->kinds[i].key) {
            l->kinds[i].key = key;
            return &l->kinds[i];
        }
    return &l->kinds[LOG_LIMIT_KINDS - 1]; /* full: the last slot is shared */
}

/* End k's window if it is over; report what it left out. */
static bool end_window(struct log_limit *l, struct log_limit_kind *k, uint64_t now_ms,
                       struct log_limit_summary *out)
{
    if (now_ms < k->window_start_ms || now_ms - k->window_start_ms < l->window_ms)
        return false;
    out->suppressed = k->suppressed;
    out->window_ms = l->window_ms;
    out->sample = k->sample;
    k->window_start_ms = now_ms;
    k->logged = 0;
    k->suppressed = 0;
    return out->suppressed > 0;
}

bool log_limit_admit(struct log_limit *l, const void *key, const char *msg, uint64_t now_ms,
                     struct log_limit_summary *ended)
{
    struct log_limit_kind *k = find(l, key);

    ended->suppressed = 0;
    if (k->logged == 0 && k->suppressed == 0)
        k->window_start_ms = now_ms; /* first line of a fresh window */
    else
        end_window(l, k, now_ms, ended);
    if (k->logged < l->burst) {
        k->logged++;
        return true;
    }
    k->suppressed++;
    l->total_suppressed++;
    size_t n = strlen(msg);
    if (n >= sizeof k->sample)
        n = sizeof k->sample - 1;
    memcpy(k->sample, msg, n);
    k->sample[n] = '\0';
    return false;
}

bool log_limit_flush(struct log_limit *l, uint64_t now_ms, struct log_limit_summary *out)
{
    for (size_t i = 0; i < LOG_LIMIT_KINDS; i++) {
        struct log_limit_kind *k = &l->kinds[i];
        if (k->key && k->suppressed && end_window(l, k, now_ms, out)) {
            /* the window that follows has seen nothing yet */
            k->window_start_ms = now_ms;
            return true;
        }
    }
    return false;
}
