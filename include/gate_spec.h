/*
 * gate_spec: the health gate's pure parts: the git_check value ("PATH [STATUS]"), whether a
 * response status passes, and the one-line reason a check failed (status, the first bytes of
 * the body, the FastCGI stderr lines of that request). No I/O; gate.h does the requests.
 */
#ifndef WHARF_GATE_SPEC_H
#define WHARF_GATE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define GATE_SPEC_PATH_MAX 1024
#define GATE_SPEC_BODY_SHOWN 200 /* body bytes quoted in a failure's reason */

/** Parse "PATH [STATUS]": PATH starts with '/' (a query may follow), has no spaces or
 *  control characters and is at most GATE_SPEC_PATH_MAX - 1 bytes; STATUS is 100..599, or
 *  absent (*status = 0: any 2xx). 0, or -1 with *why set. */
int gate_spec_parse(const char *text, char *path, size_t n, unsigned *status, const char **why);

/** Whether got passes a check that expects want (0 = any 2xx). */
bool gate_spec_status_ok(unsigned want, long got);

/* What one check saw. */
struct gate_spec_result {
    long status;       /* 0 = no response */
    const char *error; /* why there was no response (connection, timeout); NULL = none */
    const char *body;  /* the first bytes of the body (may be cut, may hold NULs) */
    size_t body_len;
    const char *stderr_text; /* the FastCGI stderr lines of the request, '\n'-separated; or "" */
};

/** Append the reason a check of path failed to out, one line of printable ASCII: "GET PATH:
 *  status 500, expected 2xx; body: \"...\"; stderr: ...". At most GATE_SPEC_BODY_SHOWN body
 *  bytes are quoted; other bytes are escaped as \xHH. */
void gate_spec_describe(const char *path, unsigned want, const struct gate_spec_result *res,
                        struct buf *out);

#endif
