/*
 * range: the bytes Range header (RFC 9110 14.1-14.2). The whole header is validated before
 * any answer is given: one bad element, a number past UINT64_MAX, or more than
 * RANGE_MAX_SPECS specs make it RANGE_NONE (serve 200), never a partial interpretation.
 * Unsatisfiable specs inside a list are dropped; satisfiable ones are sorted and merged
 * when they overlap or touch. OWS is accepted around every list element.
 * A zero-length file has no byte to send: int-ranges on it are unsatisfiable (416, as the
 * RFC says), while a non-zero suffix-range is "satisfiable" by the whole empty body, which
 * only a 200 can carry, so that gives RANGE_NONE.
 */
#include "range.h"

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define RANGE_MAX_SPECS 100 /* more is a DoS probe (CVE-2011-3192), not a real client */

struct span {
    uint64_t first, last; /* inclusive */
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* 1*DIGIT; false on no digits or overflow */
static bool parse_num(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return true;
}

enum range_result range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len)
{
    struct span sp[RANGE_MAX_SPECS];
    size_t n_specs = 0, n_sat = 0;
    bool empty_suffix = false; /* a non-zero suffix-range against size 0 */

    *start = 0;
    *len = 0;
    if (!header || ascii_ncasecmp(header, "bytes=", 6) != 0)
        return RANGE_NONE;

    const char *p = header + 6;
    for (;;) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (++n_specs > RANGE_MAX_SPECS)
            return RANGE_NONE;

        uint64_t first, last;
        if (*p == '-') {
            p++;
            if (!parse_num(&p, &last))
                return RANGE_NONE;
            if (last > 0 && size == 0) {
                empty_suffix = true;
            } else if (last > 0) {
                sp[n_sat].first = size - (last < size ? last : size);
                sp[n_sat].last = size - 1;
                n_sat++;
            }
        } else {
            if (!parse_num(&p, &first) || *p++ != '-')
                return RANGE_NONE;
            last = UINT64_MAX;
            if (*p >= '0' && *p <= '9' && !parse_num(&p, &last))
                return RANGE_NONE;
            if (last < first)
                return RANGE_NONE;
            if (first < size) {
                sp[n_sat].first = first;
                sp[n_sat].last = last < size - 1 ? last : size - 1;
                n_sat++;
            }
        }
        while (is_ows(*p))
            p++;
        if (*p != ',' && *p != '\0')
            return RANGE_NONE;
    }

    if (n_specs == 0 || empty_suffix)
        return RANGE_NONE;
    if (n_sat == 0)
        return RANGE_UNSATISFIABLE;

    /* insertion sort: at most 100 elements, usually 1 */
    for (size_t i = 1; i < n_sat; i++) {
        struct span s = sp[i];
        size_t j = i;
        for (; j > 0 && sp[j - 1].first > s.first; j--)
            sp[j] = sp[j - 1];
        sp[j] = s;
    }
    struct span merged = sp[0];
    for (size_t i = 1; i < n_sat; i++) {
        /* note: last <= size - 1 < UINT64_MAX, so last + 1 cannot wrap */
        if (sp[i].first > merged.last + 1)
            return RANGE_MULTI;
        if (sp[i].last > merged.last)
            merged.last = sp[i].last;
    }
    *start = merged.first;
    *len = merged.last - merged.first + 1;
    return RANGE_SINGLE;
}
