/*
 * libFuzzer target for http_head: any byte string is split the way libmicrohttpd 0.9.75 does
 * it (tests/unit/mhd_sim.h) and checked. Never reads outside the buffer (ASan), answers only
 * 0/400/501/505 with a reason for every refusal, and, the real oracle, a head it accepts is
 * well-formed in its ORIGINAL bytes: no NUL (but the documented NULs at the very end of a
 * field line next to bare LFs), no bare CR, no folded line, no whitespace before a colon, exactly
 * two spaces in the request line. That is what the layout evidence has to guarantee. Build: make
 * fuzz, then tests/fuzz/fuzz_http_head -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/mhd_sim.h"
#include "fuzz.h"
#include "http_head.h"

#define MAX_LINES 512

/* The original bytes of an accepted head, line by line. */
static void check_original(const char *p, size_t n)
{
    size_t start[MAX_LINES], len[MAX_LINES], n_lines = 0, i = 0, first = 0;
    bool crlf[MAX_LINES];

    while (i < n && n_lines < MAX_LINES) {
        const char *nl = memchr(p + i, '\n', n - i);
        CHECK(nl != NULL); /* the head ends with a line end */
        size_t end = (size_t)(nl - p);
        start[n_lines] = i;
        len[n_lines] = end - i;
        crlf[n_lines] = len[n_lines] > 0 && p[end - 1] == '\r';
        if (crlf[n_lines])
            len[n_lines]--;
        n_lines++;
        i = end + 1;
    }
    if (n_lines == MAX_LINES)
        return;
    while (first < n_lines && len[first] == 0) /* empty lines before the request line */
        first++;
    CHECK(first + 1 < n_lines && len[n_lines - 1] == 0); /* request line ... empty line */
    for (size_t k = first; k < n_lines - 1; k++) {
        const char *l = p + start[k];
        size_t m = len[k];
        CHECK(m > 0); /* no empty line inside the head */
        bool last = k == n_lines - 2, final_lf = !crlf[n_lines - 1];
        for (size_t j = 0; j < m; j++) {
            CHECK(l[j] != '\r');
            if (l[j] != '\0')
                continue;
            /* note (http_head.c): MHD writes NULs over CR and LF, so NULs at the very end of
             * a field line look like a line end when bare LFs are involved: one before this
             * line's bare LF, or one or two before the end of the head when its last line
             * ends are bare LFs. Nothing else may hide a NUL. */
            size_t tail = m - j;
            bool all_nul = true;
            for (size_t t = j; t < m; t++)
                all_nul = all_nul && l[t] == '\0';
            CHECK(k > first && all_nul);
            CHECK((tail == 1 && (!crlf[k] || (last && final_lf))) ||
                  (tail == 2 && last && !crlf[k] && final_lf));
            break;
        }
        if (k == first) {
            size_t spaces = 0;
            for (size_t j = 0; j < m; j++)
                spaces += l[j] == ' ';
            CHECK(spaces == 2);
            CHECK(memchr(l, '\t', m) == NULL);
        } else {
            CHECK(l[0] != ' ' && l[0] != '\t'); /* no obs-fold */
            const char *colon = memchr(l, ':', m);
            CHECK(colon && colon > l);
            for (const char *c = l; c < colon; c++)
                CHECK(*c != ' ' && *c != '\t');
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *orig = malloc(size + 1);
    struct mhd_sim s;
    const char *why = NULL;

    CHECK(buf && orig);
    memcpy(buf, data, size);
    memcpy(orig, data, size);
    buf[size] = orig[size] = '\0';
    if (mhd_sim_split(buf, size, &s) == 0) {
        unsigned st = http_head_check(&s.h, &why);
        CHECK(st == 0 || st == 400 || st == 501 || st == 505);
        CHECK((st == 0) == (why == NULL));
        if (st == 0) {
            size_t off = (size_t)(s.h.raw - buf);
            check_original(orig + off, s.h.raw_len);
        }
        /* without evidence the strings alone are checked: never stricter */
        s.h.raw = NULL;
        s.h.target_at = NULL;
        unsigned loose = http_head_check(&s.h, &why);
        CHECK(st != 0 || loose == 0);
    }
    mhd_sim_free(&s);
    free(buf);
    free(orig);
    return 0;
}
