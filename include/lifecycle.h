/*
 * lifecycle: the process's phase, one atomic value that every thread may read. main sets it
 * (starting, serving, reloading, draining); the health endpoints and the request path read it
 * (a draining server is not ready, and closes keep-alive connections after their response).
 */
#ifndef WHARF_LIFECYCLE_H
#define WHARF_LIFECYCLE_H

#include <stdbool.h>

enum lifecycle_phase {
    LIFECYCLE_STARTING = 0, /* listeners may not be open yet */
    LIFECYCLE_SERVING,      /* ready */
    LIFECYCLE_RELOADING,    /* serving; a new configuration is being checked and switched to */
    LIFECYCLE_DRAINING,     /* stopping: no new connections, in-flight requests finish */
};

/** Set the phase (main thread). */
void lifecycle_set(enum lifecycle_phase phase);
/** The current phase. Any thread; never blocks. */
enum lifecycle_phase lifecycle_get(void);
/** lifecycle_get() == LIFECYCLE_DRAINING */
bool lifecycle_draining(void);

#endif
