/* access_rules: which access rules apply. See access_rules.h. */
#include "access_rules.h"

bool access_rules_ip_allowed(const struct access_conf *a, const char *path, const uint8_t addr[16])
{
    bool allow_matched = false;
    for (size_t i = 0; i < a->n_ip; i++) {
        const struct ip_rule *r = &a->ip[i];
        if (!path_match(&r->path, path))
            continue;
        if (cidr_any(r->nets.v, r->nets.n, addr))
            return r->allow;
        allow_matched |= r->allow;
    }
    return !allow_matched;
}

long access_rules_rate(const struct access_conf *a, const char *path)
{
    for (size_t i = 0; i < a->n_rate; i++)
        if (path_match(&a->rate[i].path, path))
            return (long)i;
    return -1;
}

long access_rules_auth(const struct access_conf *a, const char *path)
{
    for (size_t i = 0; i < a->n_auth; i++)
        if (path_match(&a->auth[i].path, path))
            return (long)i;
    return -1;
}
