/* http_date: IMF-fixdate formatting and parsing of all three HTTP date forms (RFC 9110 5.6.7).
 * Pure: no clock, no locale. */
#ifndef WHARF_HTTP_DATE_H
#define WHARF_HTTP_DATE_H

#include <stdbool.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/** Write t as IMF-fixdate into out (HTTP_DATE_LEN + 1 bytes). */
void http_date_format(time_t t, char out[HTTP_DATE_LEN + 1]);
/** Parse IMF-fixdate, RFC 850 or asctime form; false if none matches exactly. */
bool http_date_parse(const char *s, time_t *out);

#endif
