#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "release.h"
#include "tap.h"

#define A "000001-20261122T194500Z-aaaaaaaaaaaa"
#define B "000002-20261122T194501Z-bbbbbbbbbbbb"
#define B2 "000003-20261122T194502Z-bbbbbbbbbbbb" /* the same commit deployed again */
#define C "000004-20261122T194503Z-cccccccccccc"
#define D "000005-20261122T194504Z-dddddddddddd"

static void names(void)
{
    ok(release_name_valid(A), "valid: a release name");
    ok(release_name_valid("999999-00000000T000000Z-0123456789ab"), "valid: digits and hex");
    ok(!release_name_valid(A ".tmp"), "invalid: NAME.tmp (a build in progress)");
    ok(!release_name_valid(A ".tmp.index"), "invalid: NAME.tmp.index (a checkout's index)");
    ok(!release_name_valid(A ".del"), "invalid: NAME.del (being removed)");
    ok(!release_name_valid(A "/"), "invalid: a trailing slash");
    ok(!release_name_valid("000001-20261122T194500Z-aaaaaaaaaaa"), "invalid: 11 hex digits");
    ok(!release_name_valid("000001-20261122T194500Z-AAAAAAAAAAAA"), "invalid: uppercase hex");
    ok(!release_name_valid("000001-20261122T194500Z-aaaaaaaaaaag"), "invalid: not hex");
    ok(!release_name_valid("00001-20261122T194500Z-aaaaaaaaaaaa"), "invalid: a 5-digit number");
    ok(!release_name_valid("000001-20261122X194500Z-aaaaaaaaaaaa"), "invalid: no T");
    ok(!release_name_valid("000001_20261122T194500Z-aaaaaaaaaaaa"), "invalid: _ for -");
    ok(!release_name_valid(""), "invalid: empty");
    ok(!release_name_valid(".wharf-release"), "invalid: a dot file");

    char out[64];
    is_int(release_name_make(out, sizeof out, 42, 1795376700, "1a2b3c4d5e6f7890abcd"), 0,
           "make: ok");
    is_str(out, "000042-20261122T194500Z-1a2b3c4d5e6f", "make: number, UTC time, 12 hex digits");
    ok(release_name_valid(out), "make: the name made is valid");
    is_int(release_name_make(out, sizeof out, 0, 0, "1a2b3c4d5e6f"), -1, "make: number 0 refused");
    is_str(out, "", "make: out is empty on failure");
    is_int(release_name_make(out, sizeof out, RELEASE_SEQ_MAX + 1, 0, "1a2b3c4d5e6f"), -1,
           "make: a number over RELEASE_SEQ_MAX refused");
    is_int(release_name_make(out, sizeof out, 1, 0, "1a2b3c4d5e6"), -1,
           "make: 11 hex digits refused");
    is_int(release_name_make(out, sizeof out, 1, 0, "1A2B3C4D5E6F"), -1, "make: uppercase refused");
    is_int(release_name_make(out, RELEASE_NAME_LEN, 1, 0, "1a2b3c4d5e6f"), -1,
           "make: no room for the NUL refused");
    is_int(release_name_make(out, RELEASE_NAME_LEN + 1, 1, 0, "1a2b3c4d5e6f"), 0,
           "make: exactly enough room");

    is_int(release_name_seq(A), 1, "seq: of a release");
    is_int(release_name_seq("000007-x.tmp.index"), 7,
           "seq: of a leftover (counted for the next number)");
    is_int(release_name_seq("123"), 0, "seq: digits without '-' are none");
    is_int(release_name_seq("-1"), 0, "seq: no digits is none");
    is_int(release_name_seq("99999999999999999999-x"), 0, "seq: an overlong number is none");
    is_str(release_name_commit(A), "aaaaaaaaaaaa", "commit: the 12 hex digits");
    ok(release_name_commit(A ".tmp.index") == NULL, "commit: NULL for a non-release");
}

static void rollback(void)
{
    char *v[] = {A, B, C, D};
    is_int(release_rollback_target(v, 4, D), 2, "rollback: the release before the live one");
    is_int(release_rollback_target(v, 4, B), 0,
           "rollback: from an older live one, the one before it");
    is_int(release_rollback_target(v, 4, A), 4, "rollback: nothing older than the oldest");
    is_int(release_rollback_target(v, 4, ""), 3, "rollback: nothing live: the newest");
    is_int(release_rollback_target(v, 4, NULL), 3, "rollback: NULL live: the newest");
    is_int(release_rollback_target(v, 4, B ".tmp.index"), 3,
           "rollback: the root on a non-release: the newest release (never the leftover)");
    is_int(release_rollback_target(v, 0, D), 0, "rollback: no releases: none (n)");
    char *w[] = {A, B, B2};
    is_int(release_rollback_target(w, 3, B2), 0,
           "rollback: a release of the same commit as the live one is skipped");
    char *x[] = {A, C};
    is_int(release_rollback_target(x, 2, B), 0,
           "rollback: a live release missing from the list: the newest older one");
}

static void prune(void)
{
    char *v[] = {A, B, C, D};
    bool drop[4];
    release_prune_plan(v, 4, D, 0, drop);
    ok(!drop[3] && !drop[2] && drop[1] && drop[0], "prune keep 0: the live one and the one before");
    release_prune_plan(v, 4, D, 1, drop);
    ok(!drop[3] && !drop[2] && drop[1] && drop[0], "prune keep 1: the live one and one more");
    release_prune_plan(v, 4, D, 2, drop);
    ok(!drop[3] && !drop[2] && !drop[1] && drop[0], "prune keep 2: the live one and two more");
    release_prune_plan(v, 4, D, 10, drop);
    ok(!drop[0] && !drop[1] && !drop[2] && !drop[3], "prune keep 10: nothing dropped");
    release_prune_plan(v, 4, B, 0, drop);
    ok(!drop[1] && !drop[0] && drop[2] && drop[3],
       "prune keep 0 after a rollback to B: B and the one before it stay");
    release_prune_plan(v, 4, B, 1, drop);
    ok(!drop[1] && !drop[3] && !drop[0] && drop[2],
       "prune keep 1 with B live: B, the newest other and the rollback target stay");
    char *w[] = {A, B, B2};
    bool d3[3];
    release_prune_plan(w, 3, B2, 0, d3);
    ok(!d3[2] && !d3[0] && d3[1],
       "prune keep 0: the same commit deployed twice: the release of another commit is kept");
    release_prune_plan(v, 4, "", 0, drop);
    ok(!drop[3] && drop[2] && drop[1] && drop[0],
       "prune keep 0 with nothing live: the newest (the rollback target) stays");
}

static void pins(void)
{
    char out[RELEASE_PIN_MAX + 1];
    const char *why = NULL;
    ok(release_pin_parse("0123456789abcdef0123456789abcdef01234567\n", out, &why) ==
               RELEASE_PIN_COMMIT &&
           strcmp(out, "0123456789abcdef0123456789abcdef01234567") == 0,
       "pin: a full commit id with a newline");
    ok(release_pin_parse("  ABCDEF1 ", out, &why) == RELEASE_PIN_COMMIT &&
           strcmp(out, "abcdef1") == 0,
       "pin: 7 hex digits, upper case lowered, spaces trimmed");
    ok(release_pin_parse("abcdef", out, &why) == RELEASE_PIN_REF && strcmp(out, "abcdef") == 0,
       "pin: 6 hex digits are a ref name");
    ok(release_pin_parse("0123456789abcdef0123456789abcdef012345678", out, &why) == RELEASE_PIN_REF,
       "pin: 41 hex digits are not a commit id");
    ok(release_pin_parse("v1.2\n", out, &why) == RELEASE_PIN_REF && strcmp(out, "v1.2") == 0,
       "pin: a tag");
    ok(release_pin_parse("refs/heads/release-2", out, &why) == RELEASE_PIN_REF, "pin: a full ref");
    ok(release_pin_parse("", out, &why) == RELEASE_PIN_BAD && strcmp(why, "empty") == 0,
       "pin: empty");
    ok(release_pin_parse(" \n\n", out, &why) == RELEASE_PIN_BAD, "pin: only white space");
    ok(release_pin_parse("abc1234\ndef5678", out, &why) == RELEASE_PIN_BAD &&
           strcmp(why, "more than one line") == 0,
       "pin: two lines");
    ok(release_pin_parse("-upload-pack=x", out, &why) == RELEASE_PIN_BAD, "pin: a leading dash");
    ok(release_pin_parse("a..b", out, &why) == RELEASE_PIN_BAD, "pin: ..");
    ok(release_pin_parse("main@{1}", out, &why) == RELEASE_PIN_BAD, "pin: @{");
    ok(release_pin_parse("x.lock", out, &why) == RELEASE_PIN_BAD, "pin: .lock");
    ok(release_pin_parse("a b", out, &why) == RELEASE_PIN_BAD, "pin: a space inside");
    ok(release_pin_parse("refs/heads/", out, &why) == RELEASE_PIN_BAD, "pin: a trailing slash");
    char big[RELEASE_PIN_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ok(release_pin_parse(big, out, &why) == RELEASE_PIN_BAD, "pin: too long");
}

int main(void)
{
    names();
    rollback();
    prune();
    pins();
    /* the release as a FastCGI backend that sees the root elsewhere (fastcgi_root) sees it */
    char *b = release_backend_dir("/var/www/blog", "/srv/blog", A, NULL);
    is_str(b, "/var/www/.blog.wharf/releases/" A, "backend dir: beside fastcgi_root");
    free(b);
    b = release_backend_dir("/var/www/blog/", "/srv/blog//", A, "public");
    is_str(b, "/var/www/.blog.wharf/releases/" A "/public",
           "backend dir: trailing slashes, subdir");
    free(b);
    b = release_backend_dir("/code/app", "/srv/blog", A, NULL);
    is_str(b, "/code/.blog.wharf/releases/" A, "backend dir: the state keeps root's name");
    free(b);
    b = release_backend_dir("/blog", "/srv/blog", A, NULL);
    is_str(b, "/.blog.wharf/releases/" A, "backend dir: a backend root under /");
    free(b);
    b = release_backend_dir("blog", "site", A, "web");
    is_str(b, ".site.wharf/releases/" A "/web", "backend dir: relative");
    free(b);
    b = release_backend_path("/var/www/blog", ".blog.wharf/releases/" A "/public");
    is_str(b, "/var/www/.blog.wharf/releases/" A "/public", "backend path: a root link's target");
    free(b);
    b = release_backend_path("/var/www/blog//", "x");
    is_str(b, "/var/www/x", "backend path: trailing slashes");
    free(b);
    return done_testing();
}
