/* error_page: the small, consistent body of an error response, HTML or JSON. Pure. No server
 * paths, no internals: only the status, its reason phrase, and an optional short detail. */
#ifndef WHARF_ERROR_PAGE_H
#define WHARF_ERROR_PAGE_H

#include <stdbool.h>

#include "buf.h"

/** Reason phrase for a status ("Not Found"); "Error" for unknown codes. */
const char *error_page_reason(unsigned status);
/** Whether an Accept header prefers JSON (application/json listed with q > 0 and ranked at
 *  least as high as text/html). */
bool error_page_wants_json(const char *accept);
/** Append the body: HTML page or {"status":404,"error":"Not Found","detail":"..."}. detail may
 *  be NULL; it is escaped. Returns the Content-Type to send, or NULL (b unchanged) if b's cap
 *  was hit. */
const char *error_page_render(struct buf *b, unsigned status, const char *detail, bool json);

#endif
