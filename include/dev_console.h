/*
 * dev_console: what development mode shows a person, formatted. Pure: the caller writes it.
 *   - one human line per request: time, method, path, status, duration, and the PHP time of a
 *     FastCGI request, coloured by status class when the terminal takes colour;
 *   - the PHP stderr lines of that request under it, the "FILE:LINE" / "in FILE on line N"
 *     part highlighted;
 *   - the error page that replaces an empty 500 from PHP, with that stderr.
 * Every byte that came from a client or from PHP is escaped: a control byte in a path or a
 * message must not move the cursor or change colours in the developer's terminal (\xHH), and
 * the page escapes HTML.
 */
#ifndef WHARF_DEV_CONSOLE_H
#define WHARF_DEV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct dev_console_entry {
    int64_t time_ms;         /* wall clock at the request's start (local time is shown) */
    const char *method;      /* "GET" */
    const char *target;      /* the raw request-target */
    unsigned status;         /* 499 = the client left */
    uint64_t duration_us;    /* the whole request */
    uint64_t php_us;         /* php-fpm's share; 0 = not a FastCGI request */
    const char *stderr_text; /* the request's PHP stderr lines, '\n'-separated; NULL = none */
    size_t stderr_len;
};

/** Append the request line and its stderr lines (each ending in '\n') to b. -1 at b's cap
 *  (b as it was). */
int dev_console_format(struct buf *b, const struct dev_console_entry *e, bool color);
/** Where the file and line are in one stderr line: [*at, *at + *len) covers
 *  "/x/a.php:12" or "/x/a.php on line 12". false when the line names none. */
bool dev_console_find_location(const char *line, size_t n, size_t *at, size_t *len);
/** Append the development error page (HTML) for an empty 500 with this stderr. -1 at the cap. */
int dev_console_error_page(struct buf *b, const char *method, const char *target,
                           const char *stderr_text, size_t stderr_len);

#endif
