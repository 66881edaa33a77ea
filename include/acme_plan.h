/*
 * acme_plan: the decisions of automatic HTTPS that need no I/O: when a certificate is renewed
 * (a third of its lifetime left, as Let's Encrypt advises), how long to wait after failed
 * attempts (doubling, capped), and which request paths are HTTP-01 challenges with a token
 * safe to use as a file name. Times are seconds since the epoch, passed in: no clock here.
 */
#ifndef WHARF_ACME_PLAN_H
#define WHARF_ACME_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACME_PLAN_PREFIX "/.well-known/acme-challenge/"
#define ACME_PLAN_TOKEN_MAX 128          /* RFC 8555 tokens are 43 base64url characters */
#define ACME_PLAN_RETRY_MAX_MS 86400000u /* the backoff stops doubling at one day */

/** When a certificate valid from not_before to not_after should be renewed: when a third of its
 *  lifetime is left (not_after - lifetime / 3). A certificate with not_after <= not_before is
 *  due at once (returns not_before). */
int64_t acme_plan_renew_at(int64_t not_before, int64_t not_after);

/** Milliseconds to wait after `failures` consecutive failed attempts (>= 1): base_ms doubled
 *  failures - 1 times, never more than ACME_PLAN_RETRY_MAX_MS (nor less than base_ms). */
uint64_t acme_plan_retry_ms(uint64_t base_ms, unsigned failures);

/** Whether t (n bytes) is a usable token: 1..ACME_PLAN_TOKEN_MAX base64url characters
 *  (A-Z a-z 0-9 - _), so it is also a safe file name (no '/', no '.'). */
bool acme_plan_token_ok(const char *t, size_t n);

/** The token of a normalised request path "/.well-known/acme-challenge/TOKEN", or NULL when
 *  path is not a challenge or the token is not usable. Points into path. */
const char *acme_plan_challenge_token(const char *path);

#endif
