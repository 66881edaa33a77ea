/* range: the Range request header, bytes unit only (RFC 9110 14.1-14.2). Pure. */
#ifndef WHARF_RANGE_H
#define WHARF_RANGE_H

#include <stdint.h>

enum range_result {
    RANGE_NONE = 0,      /* absent, malformed or another unit: ignore it, serve 200 */
    RANGE_SINGLE,        /* one satisfiable range: *start, *len set, serve 206 */
    RANGE_MULTI,         /* several satisfiable ranges: wharf serves the full 200 */
    RANGE_UNSATISFIABLE, /* syntactically valid, none satisfiable: 416 + bytes * /SIZE */
};

/** Parse "bytes=a-b", "bytes=a-", "bytes=-n" and lists of them against a representation
 *  of size bytes. Overlapping/adjacent multiple ranges that coalesce into one are RANGE_SINGLE.
 *  More than 100 ranges, or a list with a malformed element, is RANGE_NONE. */
enum range_result range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len);

#endif
