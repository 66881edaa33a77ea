#include <stdio.h>
#include <string.h>

#include "range.h"
#include "tap.h"

static void check(const char *header, uint64_t size, enum range_result want, uint64_t want_start,
                  uint64_t want_len)
{
    uint64_t start = 77, len = 77;
    char shown[101] = "(null)", name[160];
    if (header) {
        /* keep the TAP line on one line */
        size_t i = 0;
        for (; header[i] && i < sizeof shown - 1; i++)
            shown[i] = (unsigned char)header[i] < 0x20 ? '?' : header[i];
        shown[i] = '\0';
    }
    snprintf(name, sizeof name, "'%s' size %llu", shown, (unsigned long long)size);
    enum range_result r = range_parse(header, size, &start, &len);
    is_int(r, want, name);
    if (want == RANGE_SINGLE) {
        /* compare as unsigned: is_int goes through long long */
        ok(start == want_start && len == want_len, "  start/len");
        if (start != want_start || len != want_len)
            printf("#   got %llu+%llu, want %llu+%llu\n", (unsigned long long)start,
                   (unsigned long long)len, (unsigned long long)want_start,
                   (unsigned long long)want_len);
    } else {
        ok(start == 0 && len == 0, "  start/len zeroed");
    }
}

#define SINGLE(h, size, s, l) check((h), (size), RANGE_SINGLE, (s), (l))
#define MULTI(h, size) check((h), (size), RANGE_MULTI, 0, 0)
#define UNSAT(h, size) check((h), (size), RANGE_UNSATISFIABLE, 0, 0)
#define NONE(h, size) check((h), (size), RANGE_NONE, 0, 0)

int main(void)
{
    /* single ranges against a 10-byte representation */
    SINGLE("bytes=0-0", 10, 0, 1);
    SINGLE("bytes=0-", 10, 0, 10);
    SINGLE("bytes=0-9", 10, 0, 10);
    SINGLE("bytes=2-5", 10, 2, 4);
    SINGLE("bytes=9-9", 10, 9, 1);
    SINGLE("bytes=9-", 10, 9, 1);
    SINGLE("bytes=-1", 10, 9, 1);
    SINGLE("bytes=-3", 10, 7, 3);
    SINGLE("bytes=-10", 10, 0, 10);
    SINGLE("bytes=-11", 10, 0, 10); /* longer suffix: the whole thing */
    SINGLE("bytes=-18446744073709551615", 10, 0, 10);
    SINGLE("bytes=5-100", 10, 5, 5); /* end beyond size: clamped */
    SINGLE("bytes=0-18446744073709551615", 10, 0, 10);
    SINGLE("bytes=0005-0007", 10, 5, 3); /* leading zeros */
    SINGLE("bytes=000000000000000000000000000001-2", 10, 1, 2);
    SINGLE("BYTES=0-0", 10, 0, 1); /* the unit is case-insensitive */
    SINGLE("Bytes=1-1", 10, 1, 1);
    SINGLE("bytes=1-1", UINT64_MAX, 1, 1);
    SINGLE("bytes=18446744073709551614-", UINT64_MAX, UINT64_MAX - 1, 1);
    SINGLE("bytes=-1", UINT64_MAX, UINT64_MAX - 1, 1);
    SINGLE("bytes=0-", UINT64_MAX, 0, UINT64_MAX);

    /* unsatisfiable */
    UNSAT("bytes=-0", 10);
    UNSAT("bytes=10-", 10);   /* start at size */
    UNSAT("bytes=11-20", 10); /* start beyond size */
    UNSAT("bytes=10-10", 10);
    UNSAT("bytes=18446744073709551615-", 10);
    UNSAT("bytes=10-, 20-30, -0", 10);
    UNSAT("bytes=-0,-0", 10);

    /* zero-length representation */
    UNSAT("bytes=0-", 0);
    UNSAT("bytes=0-0", 0);
    UNSAT("bytes=-0", 0);
    NONE("bytes=-1", 0); /* "satisfiable" by the whole empty body */
    NONE("bytes=0-0,-5", 0);
    NONE("bytes=0-5-", 0);

    /* lists: whitespace, empty elements, coalescing */
    SINGLE("bytes=0-4,5-9", 10, 0, 10); /* adjacent */
    SINGLE("bytes=5-9,0-4", 10, 0, 10); /* out of order */
    SINGLE("bytes=0-4, 3-6", 10, 0, 7); /* overlapping */
    SINGLE("bytes=0-9,2-3", 10, 0, 10); /* contained */
    SINGLE("bytes=2-3,2-3", 10, 2, 2);  /* duplicate */
    SINGLE("bytes=0-1 , 2-3", 10, 0, 4);
    SINGLE("bytes=0-1\t,\t2-3", 10, 0, 4);
    SINGLE("bytes=0-1 ,2-3 ", 10, 0, 4);
    SINGLE("bytes= 0-1", 10, 0, 2);
    SINGLE("bytes=0-1,", 10, 0, 2); /* empty elements are allowed */
    SINGLE("bytes=,0-1", 10, 0, 2);
    SINGLE("bytes=0-1,,, ,2-3", 10, 0, 4);
    SINGLE("bytes=-2,0-7", 10, 0, 10);
    SINGLE("bytes=50-60,2-3", 10, 2, 2); /* unsatisfiable element dropped */
    SINGLE("bytes=-0,4-", 10, 4, 6);
    SINGLE("bytes=8-,-5", 10, 5, 5);
    MULTI("bytes=0-0,2-2", 10);
    MULTI("bytes=0-1,3-4", 10);
    MULTI("bytes=0-0,-1", 10);
    MULTI("bytes=5-6,0-1,8-", 10);
    MULTI("bytes=0-0,2-2,1-1,4-4", 10);
    SINGLE("bytes=0-0,2-2,1-1,3-4", 10, 0, 5);

    /* exactly 100 specs is allowed, 101 is not */
    {
        static char h[2048];
        size_t n = (size_t)snprintf(h, sizeof h, "bytes=0-0");
        for (int i = 1; i < 100; i++)
            n += (size_t)snprintf(h + n, sizeof h - n, ",%d-%d", i, i);
        SINGLE(h, 1000, 0, 100);
        snprintf(h + n, sizeof h - n, ",100-100");
        NONE(h, 1000);
        n = (size_t)snprintf(h, sizeof h, "bytes=");
        for (int i = 0; i < 100; i++)
            n += (size_t)snprintf(h + n, sizeof h - n, "%d-%d,", 2 * i, 2 * i);
        MULTI(h, 1000);
        snprintf(h + n, sizeof h - n, "5000-");
        NONE(h, 1000); /* 101st, unsatisfiable, still counts */
        n = (size_t)snprintf(h, sizeof h, "bytes=0-0");
        for (int i = 1; i < 300; i++)
            n += (size_t)snprintf(h + n, sizeof h - n, ",");
        SINGLE(h, 1000, 0, 1); /* empty elements are not specs */
    }

    /* malformed or not bytes: ignore the header */
    NONE(NULL, 10);
    NONE("", 10);
    NONE("bytes", 10);
    NONE("bytes=", 10);
    NONE("bytes=,", 10);
    NONE("bytes= , ,", 10);
    NONE("bytes =0-1", 10);
    NONE("bytes:0-1", 10);
    NONE(" bytes=0-1", 10);
    NONE("byte=0-1", 10);
    NONE("bytesx=0-1", 10);
    NONE("items=0-1", 10);
    NONE("none", 10);
    NONE("bytes=5-2", 10);
    NONE("bytes=1-0", 10);
    NONE("bytes=-", 10);
    NONE("bytes=--1", 10);
    NONE("bytes=1--2", 10);
    NONE("bytes=1", 10);
    NONE("bytes=a-b", 10);
    NONE("bytes=0-b", 10);
    NONE("bytes=0x1-2", 10);
    NONE("bytes=+1-2", 10);
    NONE("bytes=1-+2", 10);
    NONE("bytes=-+2", 10);
    NONE("bytes=0 -1", 10);
    NONE("bytes=0- 1", 10);
    NONE("bytes=0-1-2", 10);
    NONE("bytes=0-1;", 10);
    NONE("bytes=0-1 2-3", 10);
    NONE("bytes=0-1;2-3", 10);
    NONE("bytes=0-1,x", 10);
    NONE("bytes=0-1,2-3,5-4", 10); /* one bad element spoils the list */
    NONE("bytes=1.5-2", 10);
    NONE("bytes=0-1\r\n", 10);
    NONE("bytes=\xff-1", 10);
    NONE("bytes=18446744073709551616-", 10); /* UINT64_MAX + 1 */
    NONE("bytes=0-18446744073709551616", 10);
    NONE("bytes=-18446744073709551616", 10);
    NONE("bytes=99999999999999999999999999-", 10);
    NONE("bytes=0-1,99999999999999999999999999-", 10);
    return done_testing();
}
