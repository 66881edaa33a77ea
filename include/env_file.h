/*
 * env_file: the pure parser of a git_env_file (the environment of git_then and git_after).
 * One NAME=VALUE a line; NAME is a letter or '_' then letters, digits or '_', optionally after
 * "export "; VALUE is the rest of the line as is, except that one pair of matching quotes
 * around all of it ('...' or "...") is removed (no escapes, no expansion). Blank lines and lines
 * whose first non-blank character is '#' are skipped; a trailing '\r' is dropped. Anything else
 * (no '=', a bad name, a NUL byte, an unterminated quote) is an error naming FILE:LINE. No I/O.
 */
#ifndef WHARF_ENV_FILE_H
#define WHARF_ENV_FILE_H

#include <stddef.h>

#include "config.h"

#define ENV_FILE_MAX_BYTES (1024 * 1024) /* a larger file is refused by the caller */

/** Parse len bytes of text (from filename, for messages) and append each "NAME=VALUE" to out
 *  (xstrdup'ed; a later NAME replaces an earlier one). Every error goes to errs as
 *  "FILE:LINE: why". Returns 0, or -1 when there was an error (out then holds the good lines). */
int env_file_parse(const char *text, size_t len, const char *filename, struct str_list *out,
                   struct errlist *errs);
/** Free the strings of l and empty it. */
void env_file_clear(struct str_list *l);

#endif
