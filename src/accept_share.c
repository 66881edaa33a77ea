/*
 * accept_share: see include/accept_share.h.
 */
#include "accept_share.h"

bool accept_share_busy(const struct accept_share_view *v, uint64_t now_ms)
{
    if (v->near_limit)
        return true;
    if (v->waiting_since && now_ms >= v->waiting_since + ACCEPT_SHARE_IDLE_GAP_MS)
        return false;
    return now_ms > v->idle_ms && now_ms - v->idle_ms >= ACCEPT_SHARE_BUSY_MS;
}

bool accept_share_accepts(const struct accept_share_view *views, unsigned self, uint64_t now_ms)
{
    for (unsigned j = 0; j < self; j++)
        if (!accept_share_busy(&views[j], now_ms))
            return false;
    return true;
}

bool accept_share_near_limit(unsigned conns, unsigned limit)
{
    return limit && conns >= limit - limit / 8;
}
