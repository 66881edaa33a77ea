/* error_page: the small, consistent body of an error response, HTML or JSON. Pure. No server
 * paths, no internals: only the status, its reason phrase, and an optional short detail. */
#ifndef WHARF_ERROR_PAGE_H
#define WHARF_ERROR_PAGE_H

#include <stdbool.h>

#include "buf.h"

/* error_page = STATUS... URI: wharf's own error responses of these statuses show URI (a
 * static file or a script) instead, with the original status. */
struct error_page_rule {
    unsigned status; /* 400..599 */
    char *uri;       /* owned; a normalised URL path */
    unsigned line;   /* of the key, for "given twice" */
};

struct error_page_rules {
    struct error_page_rule *v;
    size_t n;
};

/** Reason phrase for a status ("Not Found"); "Error" for unknown codes. */
const char *error_page_reason(unsigned status);
/** Whether an Accept header prefers JSON (application/json listed with q > 0 and ranked at
 *  least as high as text/html). */
bool error_page_wants_json(const char *accept);
/** Append the body: HTML page or {"status":404,"error":"Not Found","detail":"..."}. detail may
 *  be NULL; it is escaped. Returns the Content-Type to send, or NULL (b unchanged) if b's cap
 *  was hit. */
const char *error_page_render(struct buf *b, unsigned status, const char *detail, bool json);

/** Parse "STATUS... URI" and append a rule per status to rules (line recorded). NULL on success,
 *  else a static message for the config error (rules unchanged); *dup_line is set to the line
 *  of an earlier rule for one of the statuses (then the message says so). */
const char *error_page_parse(const char *text, unsigned line, struct error_page_rules *rules,
                             unsigned *dup_line);
/** The URI for status, or NULL. */
const char *error_page_find(const struct error_page_rules *rules, unsigned status);
void error_page_rules_free(struct error_page_rules *rules);

#endif
