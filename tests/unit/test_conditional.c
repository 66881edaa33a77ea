#include <stdio.h>
#include <string.h>

#include "conditional.h"
#include "tap.h"

#define ETAG "\"5f3a1b2c-1a4\""
#define MTIME ((time_t)784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */
#define D_SAME "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER "Sun, 06 Nov 1994 08:49:38 GMT"

static void test_etag_make(void)
{
    char out[ETAG_MAX];
    is_int(etag_make(out, 0x5f3a1b2c, 0, 0x1a4, NULL), 14, "length");
    is_str(out, ETAG, "seconds and size in hex");
    is_int(etag_make(out, 0x5f3a1b2c, 0, 0x1a4, ""), 14, "empty suffix");
    is_str(out, ETAG, "empty suffix = none");
    is_int(etag_make(out, 0x5f3a1b2c, 0, 0x1a4, "-gz"), 17, "suffix length");
    is_str(out, "\"5f3a1b2c-1a4-gz\"", "gzip variant suffix");
    is_int(etag_make(out, 1700000000, 123456789, 1024, NULL), 22, "with nanoseconds");
    is_str(out, "\"6553f100.75bcd15-400\"", "nanoseconds appended after a dot");
    is_int(etag_make(out, 0, 0, 0, NULL), 5, "zero");
    is_str(out, "\"0-0\"", "epoch, empty file");
    is_int(etag_make(out, 1, -5, 1, NULL), 5, "negative nsec ignored");
    is_str(out, "\"1-1\"", "negative nsec ignored (value)");
    is_int(etag_make(out, 1, 1000000000, 1, NULL), 5, "nsec >= 1e9 ignored");
    is_int(etag_make(out, -1, 0, UINT64_MAX, NULL), 35, "extremes");
    is_str(out, "\"ffffffffffffffff-ffffffffffffffff\"", "pre-1970 mtime as two's complement");
    is_int(etag_make(out, -1, 999999999, UINT64_MAX, "-0123456789abcdef"), 61, "longest that fits");
    is_str(out, "\"ffffffffffffffff.3b9ac9ff-ffffffffffffffff-0123456789abcdef\"",
           "longest that fits (value)");
    is_int(etag_make(out, -1, 999999999, UINT64_MAX, "-0123456789abcdefgh"), 63,
           "ETAG_MAX - 1 fits");
    is_int(etag_make(out, -1, 999999999, UINT64_MAX, "-0123456789abcdefghi"), -1, "too long");
    is_str(out, "", "too long leaves an empty string");
    is_int(etag_make(out, 1, 0, 1, "\""), -1, "quote in suffix");
    is_int(etag_make(out, 1, 0, 1, "a b"), -1, "space in suffix");
    is_int(etag_make(out, 1, 0, 1, "\r\n"), -1, "CRLF in suffix");
    is_str(out, "", "bad suffix leaves an empty string");

    /* what etag_make produces is what cond_* accept */
    etag_make(out, 1700000000, 5, 99, "-gz");
    struct cond_headers h = {.if_none_match = out};
    is_int(cond_evaluate(&h, out, 0, true), COND_NOT_MODIFIED, "own etag round-trips");
    ok(cond_if_range(out, out, 0), "own etag is strong for If-Range");
}

struct case_ {
    const char *im, *inm, *ims, *ius;
    const char *etag;
    bool get;
    enum cond_result want;
    const char *name;
};

static void test_evaluate(void)
{
    static const struct case_ cases[] = {
        {NULL, NULL, NULL, NULL, ETAG, true, COND_PROCEED, "no conditionals"},
        /* If-None-Match: weak comparison */
        {NULL, ETAG, NULL, NULL, ETAG, true, COND_NOT_MODIFIED, "INM exact"},
        {NULL, "W/" ETAG, NULL, NULL, ETAG, true, COND_NOT_MODIFIED, "INM weak matches weakly"},
        {NULL, ETAG, NULL, NULL, "W/" ETAG, true, COND_NOT_MODIFIED, "INM own weak etag"},
        {NULL, "\"other\"", NULL, NULL, ETAG, true, COND_PROCEED, "INM other"},
        {NULL, "\"a\", " ETAG, NULL, NULL, ETAG, true, COND_NOT_MODIFIED, "INM list"},
        {NULL, "\"a\",W/\"b\" ,\t" ETAG "  ", NULL, NULL, ETAG, true, COND_NOT_MODIFIED,
         "INM list, OWS"},
        {NULL, " , ," ETAG ",,", NULL, NULL, ETAG, true, COND_NOT_MODIFIED,
         "INM empty list elements"},
        {NULL, "\"a\", \"b\"", NULL, NULL, ETAG, true, COND_PROCEED, "INM list no match"},
        {NULL, "*", NULL, NULL, ETAG, true, COND_NOT_MODIFIED, "INM *"},
        {NULL, " * ", NULL, NULL, ETAG, true, COND_NOT_MODIFIED, "INM * with OWS"},
        {NULL, "*", NULL, NULL, NULL, true, COND_NOT_MODIFIED, "INM * without an etag"},
        {NULL, ETAG, NULL, NULL, NULL, true, COND_PROCEED, "INM without an own etag"},
        {NULL, ETAG, NULL, NULL, ETAG, false, COND_PRECONDITION_FAILED, "INM match on POST"},
        {NULL, "*", NULL, NULL, ETAG, false, COND_PRECONDITION_FAILED, "INM * on PUT"},
        {NULL, "\"other\"", NULL, NULL, ETAG, false, COND_PROCEED, "INM no match on POST"},
        {NULL, "\"5F3A1B2C-1A4\"", NULL, NULL, ETAG, true, COND_PROCEED, "INM is case-sensitive"},
        {NULL, "\"5f3a1b2c-1a4", NULL, NULL, ETAG, true, COND_PROCEED, "INM unterminated"},
        /* malformed If-None-Match never matches (full response) */
        {NULL, "5f3a1b2c-1a4", NULL, NULL, ETAG, true, COND_PROCEED, "INM unquoted"},
        {NULL, "w/" ETAG, NULL, NULL, ETAG, true, COND_PROCEED, "INM lower-case w/"},
        {NULL, "W/ " ETAG, NULL, NULL, ETAG, true, COND_PROCEED, "INM space after W/"},
        {NULL, ETAG " junk", NULL, NULL, ETAG, true, COND_PROCEED, "INM trailing junk"},
        {NULL, ETAG ETAG, NULL, NULL, ETAG, true, COND_PROCEED, "INM two tags, no comma"},
        {NULL, ETAG ", garbage", NULL, NULL, ETAG, true, COND_PROCEED, "INM match then garbage"},
        {NULL, "*, " ETAG, NULL, NULL, ETAG, true, COND_PROCEED, "INM * in a list"},
        {NULL, "**", NULL, NULL, ETAG, true, COND_PROCEED, "INM **"},
        {NULL, "", NULL, NULL, ETAG, true, COND_PROCEED, "INM empty"},
        {NULL, " , ", NULL, NULL, ETAG, true, COND_PROCEED, "INM only commas"},
        {NULL, "\"a\x01\"", NULL, NULL, "\"a\x01\"", true, COND_PROCEED, "INM control char in tag"},
        {NULL, "\"a b\"", NULL, NULL, "\"a b\"", true, COND_PROCEED, "INM space in tag"},
        {NULL, "\"\"", NULL, NULL, "\"\"", true, COND_NOT_MODIFIED, "INM empty opaque tag"},
        {NULL, "\"\xc3\xa9\"", NULL, NULL, "\"\xc3\xa9\"", true, COND_NOT_MODIFIED, "INM obs-text"},
        {NULL, ETAG, NULL, NULL, "garbage", true, COND_PROCEED, "INM, own etag malformed"},
        /* If-Match: strong comparison */
        {ETAG, NULL, NULL, NULL, ETAG, false, COND_PROCEED, "IM exact"},
        {ETAG, NULL, NULL, NULL, ETAG, true, COND_PROCEED, "IM exact on GET"},
        {"W/" ETAG, NULL, NULL, NULL, ETAG, false, COND_PRECONDITION_FAILED,
         "IM weak never matches"},
        {ETAG, NULL, NULL, NULL, "W/" ETAG, false, COND_PRECONDITION_FAILED,
         "IM own weak etag never matches"},
        {"\"x\", " ETAG, NULL, NULL, NULL, ETAG, false, COND_PROCEED, "IM list"},
        {"\"x\"", NULL, NULL, NULL, ETAG, false, COND_PRECONDITION_FAILED, "IM mismatch"},
        {"\"x\"", NULL, NULL, NULL, ETAG, true, COND_PRECONDITION_FAILED, "IM mismatch GET"},
        {"*", NULL, NULL, NULL, ETAG, false, COND_PROCEED, "IM *"},
        {"*", NULL, NULL, NULL, NULL, false, COND_PROCEED, "IM * without etag"},
        {ETAG, NULL, NULL, NULL, NULL, false, COND_PRECONDITION_FAILED, "IM, no own etag"},
        {"garbage", NULL, NULL, NULL, ETAG, false, COND_PRECONDITION_FAILED, "IM garbage"},
        {ETAG ", garbage", NULL, NULL, NULL, ETAG, false, COND_PRECONDITION_FAILED,
         "IM match then garbage"},
        {"", NULL, NULL, NULL, ETAG, false, COND_PRECONDITION_FAILED, "IM empty"},
        /* If-Match overrides If-Unmodified-Since */
        {ETAG, NULL, NULL, D_BEFORE, ETAG, false, COND_PROCEED, "IM match ignores IUS"},
        /* If-Unmodified-Since */
        {NULL, NULL, NULL, D_SAME, ETAG, false, COND_PROCEED, "IUS same second"},
        {NULL, NULL, NULL, D_AFTER, ETAG, false, COND_PROCEED, "IUS later"},
        {NULL, NULL, NULL, D_BEFORE, ETAG, false, COND_PRECONDITION_FAILED, "IUS earlier"},
        {NULL, NULL, NULL, D_BEFORE, ETAG, true, COND_PRECONDITION_FAILED, "IUS earlier GET"},
        {NULL, NULL, NULL, "yesterday", ETAG, false, COND_PROCEED, "IUS unparsable ignored"},
        {NULL, NULL, NULL, D_BEFORE ", " D_SAME, ETAG, false, COND_PROCEED, "IUS list ignored"},
        {NULL, NULL, NULL, "Sunday, 06-Nov-94 08:49:36 GMT", ETAG, false, COND_PRECONDITION_FAILED,
         "IUS RFC 850"},
        /* If-Modified-Since */
        {NULL, NULL, D_SAME, NULL, ETAG, true, COND_NOT_MODIFIED, "IMS same second"},
        {NULL, NULL, D_AFTER, NULL, ETAG, true, COND_NOT_MODIFIED, "IMS later"},
        {NULL, NULL, D_BEFORE, NULL, ETAG, true, COND_PROCEED, "IMS earlier"},
        {NULL, NULL, "Sun Nov  6 08:49:37 1994", NULL, ETAG, true, COND_NOT_MODIFIED,
         "IMS asctime"},
        {NULL, NULL, D_SAME, NULL, ETAG, false, COND_PROCEED, "IMS ignored on POST"},
        {NULL, NULL, "not a date", NULL, ETAG, true, COND_PROCEED, "IMS unparsable ignored"},
        {NULL, NULL, D_SAME "; length=12", NULL, ETAG, true, COND_PROCEED,
         "IMS with old IE suffix ignored"},
        {NULL, NULL, "", NULL, ETAG, true, COND_PROCEED, "IMS empty ignored"},
        /* If-None-Match present: If-Modified-Since ignored */
        {NULL, "\"other\"", D_SAME, NULL, ETAG, true, COND_PROCEED, "INM mismatch beats IMS match"},
        {NULL, ETAG, D_BEFORE, NULL, ETAG, true, COND_NOT_MODIFIED, "INM match beats IMS mismatch"},
        {NULL, "garbage", D_SAME, NULL, ETAG, true, COND_PROCEED,
         "malformed INM still disables IMS"},
        /* ordering: If-Match / IUS first */
        {"\"x\"", ETAG, NULL, NULL, ETAG, true, COND_PRECONDITION_FAILED, "IM failure before INM"},
        {ETAG, ETAG, NULL, NULL, ETAG, true, COND_NOT_MODIFIED, "IM pass, then INM"},
        {NULL, ETAG, NULL, D_BEFORE, ETAG, true, COND_PRECONDITION_FAILED,
         "IUS failure before INM"},
        {NULL, NULL, D_SAME, D_BEFORE, ETAG, true, COND_PRECONDITION_FAILED,
         "IUS failure before IMS"},
        {NULL, NULL, D_SAME, D_SAME, ETAG, true, COND_NOT_MODIFIED, "IUS pass, then IMS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct case_ *c = &cases[i];
        struct cond_headers h = {
            .if_match = c->im,
            .if_none_match = c->inm,
            .if_modified_since = c->ims,
            .if_unmodified_since = c->ius,
        };
        is_int(cond_evaluate(&h, c->etag, MTIME, c->get), c->want, c->name);
    }
}

static void test_if_range(void)
{
    static const struct {
        const char *if_range, *etag;
        bool want;
        const char *name;
    } cases[] = {
        {NULL, ETAG, true, "absent"},
        {NULL, NULL, true, "absent, no etag"},
        {ETAG, ETAG, true, "strong match"},
        {"\"other\"", ETAG, false, "mismatch"},
        {"W/" ETAG, ETAG, false, "weak never matches"},
        {ETAG, "W/" ETAG, false, "own weak etag never matches"},
        {ETAG, NULL, false, "no own etag"},
        {ETAG, "garbage", false, "own etag malformed"},
        {D_SAME, ETAG, true, "date equal to mtime"},
        {"Sunday, 06-Nov-94 08:49:37 GMT", ETAG, true, "RFC 850 date equal"},
        {"Sun Nov  6 08:49:37 1994", ETAG, true, "asctime date equal"},
        {D_AFTER, ETAG, false, "later date is not a match"},
        {D_BEFORE, ETAG, false, "earlier date"},
        {"*", ETAG, false, "* is not allowed"},
        {ETAG ", \"x\"", ETAG, false, "list is not allowed"},
        {" " ETAG, ETAG, false, "leading space"},
        {ETAG " ", ETAG, false, "trailing space"},
        {"5f3a1b2c-1a4", ETAG, false, "unquoted"},
        {"\"5f3a1b2c-1a4", ETAG, false, "unterminated"},
        {"W/", ETAG, false, "bare W/"},
        {"W", ETAG, false, "bare W"},
        {"", ETAG, false, "empty"},
        {"garbage", ETAG, false, "garbage"},
        {"Sun, 31 Nov 1994 08:49:37 GMT", ETAG, false, "invalid date"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_int(cond_if_range(cases[i].if_range, cases[i].etag, MTIME), cases[i].want,
               cases[i].name);
}

int main(void)
{
    test_etag_make();
    test_evaluate();
    test_if_range();
    return done_testing();
}
