/*
 * access_rules: which of a site's access rules (struct access_conf, config.h) apply to a
 * request path and client address. Pure: no I/O, no locks, no clock.
 *
 * IP rules (allow_ip, deny_ip) are read in the order written, like nginx's allow/deny: among
 * the rules whose path matches, the first whose address list contains the client decides
 * (allow_ip lets it through, deny_ip refuses it). If none contains it, the client is refused
 * when an allow_ip rule matched the path (allow_ip means "only these"), else let through.
 * For limit_req and auth_basic the first rule whose path matches applies (one rate bucket
 * per rule and client; one htpasswd file).
 */
#ifndef WHARF_ACCESS_RULES_H
#define WHARF_ACCESS_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/** Whether any rule (or trusted_proxies) is set: the one check a site without rules pays. */
static inline bool access_rules_any(const struct access_conf *a)
{
    return a->n_ip || a->n_rate || a->n_auth || a->trusted_proxies.n;
}

/** Whether the IP rules let client addr (16-byte form, cidr.h) reach path. */
bool access_rules_ip_allowed(const struct access_conf *a, const char *path, const uint8_t addr[16]);

/** Index of the limit_req rule for path, or -1. */
long access_rules_rate(const struct access_conf *a, const char *path);

/** Index of the auth_basic rule for path, or -1. */
long access_rules_auth(const struct access_conf *a, const char *path);

#endif
