/* http_token: the small lexical pieces of RFC 9110 that several parsers share. Pure. */
#ifndef WHARF_HTTP_TOKEN_H
#define WHARF_HTTP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/** RFC 9110 5.6.2 tchar: a character allowed in a token (header names, methods, codings). */
bool http_is_tchar(int c);
/** RFC 9110 12.4.2 qvalue of exactly s[0..n): "0", "0.5", "1.000" ... in thousandths (0..1000);
 *  -1 if it is not a valid qvalue. */
int http_parse_qvalue(const char *s, size_t n);

#endif
