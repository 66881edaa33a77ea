/*
 * gate: the health check requests of a git deploy (git_check). The git worker asks wharf
 * itself, over loopback to its first listener, with the site's Host: a request that carries
 * this process's secret token (GATE_TOKEN_HEADER) and a release name (GATE_RELEASE_HEADER) is
 * served by http_front from that release instead of the live root, through the site's own
 * pipeline (static files, FastCGI with DOCUMENT_ROOT and SCRIPT_FILENAME in the release). A
 * token that does not match is ignored: the request is an ordinary one. The FastCGI stderr
 * lines of token-carrying requests are kept for the check that asked (one at a time).
 */
#ifndef WHARF_GATE_H
#define WHARF_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

#define GATE_TOKEN_HEADER "X-Wharf-Check"
#define GATE_RELEASE_HEADER "X-Wharf-Check-Release"
#define GATE_STDERR_MAX 2048 /* stderr bytes kept per check */

/** Tell the gate where to send checks: fd is wharf's first plain-HTTP listening socket
 *  (a wildcard address is reached over loopback). http_front, at start. */
void gate_set_listener(int fd);
/** Whether value is this process's token (constant time). Thread-safe. */
bool gate_token_ok(const char *value);
/** A token-carrying request's FastCGI stderr line (http_front's handlers). Thread-safe. */
void gate_note_stderr(const char *line);

/** Run site's git_check once against release (a name in releases/; NULL = the live site)
 *  within the site's git_check_timeout. true when it passed; else why gets the reason
 *  (gate_spec_describe). Blocking; one check at a time (the git worker's thread). */
bool gate_check(const struct site_conf *site, const char *release, struct buf *why);

#endif
