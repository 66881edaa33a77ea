#include <string.h>

#include "acme_plan.h"
#include "tap.h"

static void renew(void)
{
    /* Let's Encrypt's 90 days: renewed with 30 left */
    is_int(acme_plan_renew_at(0, 90 * 86400), 60 * 86400, "renew: 90-day certificate at day 60");
    is_int(acme_plan_renew_at(1000, 1030), 1020, "renew: 30 s lifetime at 20 s");
    is_int(acme_plan_renew_at(1000, 1000), 1000, "renew: no lifetime: due at once");
    is_int(acme_plan_renew_at(1000, 900), 1000, "renew: inverted dates: due at once");
    is_int(acme_plan_renew_at(1700000000, 1700000001), 1700000001,
           "renew: one second lifetime rounds toward the end");
}

static void retry(void)
{
    is_int((long long)acme_plan_retry_ms(60000, 1), 60000, "retry: first failure waits the base");
    is_int((long long)acme_plan_retry_ms(60000, 2), 120000, "retry: second doubles");
    is_int((long long)acme_plan_retry_ms(60000, 5), 960000, "retry: fifth is 16x");
    is_int((long long)acme_plan_retry_ms(60000, 40), ACME_PLAN_RETRY_MAX_MS,
           "retry: capped at one day");
    is_int((long long)acme_plan_retry_ms(60000, 4000000000u), ACME_PLAN_RETRY_MAX_MS,
           "retry: a huge count does not overflow");
    is_int((long long)acme_plan_retry_ms(1000, 0), 1000, "retry: zero failures is the base");
    is_int((long long)acme_plan_retry_ms(2 * 86400000ull, 3), 2 * 86400000ll,
           "retry: a base above the cap is kept");
}

static void tokens(void)
{
    const char *tok = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    ok(acme_plan_token_ok(tok, strlen(tok)), "token: a real one");
    ok(!acme_plan_token_ok("", 0), "token: empty refused");
    ok(!acme_plan_token_ok("..", 2), "token: dots refused");
    ok(!acme_plan_token_ok("a/b", 3), "token: slash refused");
    ok(!acme_plan_token_ok("a=", 2), "token: padding refused");
    char big[ACME_PLAN_TOKEN_MAX + 2];
    memset(big, 'a', sizeof big);
    ok(acme_plan_token_ok(big, ACME_PLAN_TOKEN_MAX), "token: the maximum length");
    ok(!acme_plan_token_ok(big, ACME_PLAN_TOKEN_MAX + 1), "token: one over refused");
    is_str(acme_plan_challenge_token("/.well-known/acme-challenge/abc_-9"), "abc_-9",
           "path: the token");
    ok(acme_plan_challenge_token("/.well-known/acme-challenge/") == NULL, "path: no token");
    ok(acme_plan_challenge_token("/.well-known/acme-challenge/a/b") == NULL, "path: sub path");
    ok(acme_plan_challenge_token("/.well-known/acme-challengeX/a") == NULL, "path: other dir");
    ok(acme_plan_challenge_token("/x/.well-known/acme-challenge/a") == NULL, "path: not at root");
}

int main(void)
{
    renew();
    retry();
    tokens();
    return done_testing();
}
