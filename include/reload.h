/*
 * reload: what a live reload (SIGHUP) may keep from the running configuration, decided from
 * the two configurations alone (no I/O). sites.c moves the parts these say are unchanged from
 * the old runtime to the new one; main logs the [server] keys that only a restart applies.
 */
#ifndef WHARF_RELOAD_H
#define WHARF_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/** The site named name in cfg; NULL = none. */
const struct site_conf *reload_find_site(const struct config *cfg, const char *name);
/** Can b (new) keep a's FastCGI pool and its kept-alive connections? Same site name, both
 *  FastCGI, the same upstreams in the same order (or both "spawn"), and the same connection
 *  settings (balancing, limits, timeouts). Request-level settings (preset, params, path) do not
 *  matter: they are read per request from the site's configuration. */
bool reload_same_upstreams(const struct site_conf *a, const struct site_conf *b);
/** Can b keep a's git deploy state (releases, live commit, schedule)? Same site name, root,
 *  repository, branch and subdir. The other git settings take b's values. */
bool reload_same_git(const struct site_conf *a, const struct site_conf *b);
/** The [server] keys whose values differ between a (start-up) and b (new) and that only a
 *  restart applies (workers, error_log, max_connections, caches, ...; a max_header_size raised
 *  above a's): their names, in the table's order, into keys (at most max). Not the listeners
 *  and TLS files (a reload opens and closes them), nor the limits and timeouts a reload
 *  applies at once (http_front_set_limits). Returns how many differ (may exceed max). */
size_t reload_server_changes(const struct server_conf *a, const struct server_conf *b,
                             const char **keys, size_t max);

#endif
