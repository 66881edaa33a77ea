/*
 * lifecycle: see include/lifecycle.h.
 */
#include "lifecycle.h"

#include <stdatomic.h>
#include <stdbool.h>

static _Atomic int phase = LIFECYCLE_STARTING;

void lifecycle_set(enum lifecycle_phase p)
{
    atomic_store_explicit(&phase, (int)p, memory_order_release);
}

enum lifecycle_phase lifecycle_get(void)
{
    return (enum lifecycle_phase)atomic_load_explicit(&phase, memory_order_acquire);
}

bool lifecycle_draining(void)
{
    return lifecycle_get() == LIFECYCLE_DRAINING;
}
