/*
 * acme_plan: see include/acme_plan.h. Kept apart from acme.c (which runs uacme and reads
 * certificates) so the timing rules are unit-tested without a CA or a clock.
 */
#include "acme_plan.h"

#include <string.h>

int64_t acme_plan_renew_at(int64_t not_before, int64_t not_after)
{
    if (not_after <= not_before)
        return not_before;
    return not_after - (not_after - not_before) / 3;
}

uint64_t acme_plan_retry_ms(uint64_t base_ms, unsigned failures)
{
    uint64_t d = base_ms ? base_ms : 1;
    for (unsigned i = 1; i < failures && d < ACME_PLAN_RETRY_MAX_MS; i++)
        d *= 2;
    if (d > ACME_PLAN_RETRY_MAX_MS)
        d = ACME_PLAN_RETRY_MAX_MS > base_ms ? ACME_PLAN_RETRY_MAX_MS : base_ms;
    return d;
}

bool acme_plan_token_ok(const char *t, size_t n)
{
    if (n == 0 || n > ACME_PLAN_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

const char *acme_plan_challenge_token(const char *path)
{
    size_t n = sizeof ACME_PLAN_PREFIX - 1;
    if (strncmp(path, ACME_PLAN_PREFIX, n) != 0)
        return NULL;
    const char *t = path + n;
    return acme_plan_token_ok(t, strlen(t)) ? t : NULL;
}
