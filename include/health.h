/*
 * health: the readiness decision and its JSON, from facts the admin listener gathered. Pure:
 * no I/O, no locks, no clock. wharf is ready when it is serving (not starting, not draining)
 * and every check passed; the answer lists what is not ready, so an operator reading a 503
 * sees why.
 */
#ifndef WHARF_HEALTH_H
#define WHARF_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "lifecycle.h"

struct health_check {
    const char *check; /* "listeners", "git", "fastcgi" */
    const char *site;  /* NULL = the whole server */
    bool ok;
    const char *detail; /* why not (NULL = none) */
};

/** Whether wharf is ready in phase with these checks; out gets
 *  {"ready":B,"phase":"serving","not_ready":[{"check":..,"site":..,"detail":..}...]}. */
bool health_ready(enum lifecycle_phase phase, const struct health_check *c, size_t n,
                  struct buf *out);
/** The phase's name: "starting", "serving", "reloading", "draining". */
const char *health_phase_name(enum lifecycle_phase phase);

#endif
