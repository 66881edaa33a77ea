/*
 * shared_path: the pure rules for git_shared paths (state kept across releases, see
 * git_worker.h). A spec is PATH, optionally followed by '/' (a directory) and then '?' (only
 * shared when the commit does not have PATH, and never created empty). PATH is relative to the
 * release: no leading '/', no empty, '.' or '..' segment, no ".git" segment, no control
 * characters, no '\\' or '?'. Whether a path without a trailing '/' names a file or a
 * directory: a last segment with a '.' in it (".env", ".env.local", "wp-config.php") names a
 * file, anything else ("storage", "var", "wp-content/uploads") a directory; a trailing '/'
 * always means a directory. No I/O.
 */
#ifndef WHARF_SHARED_PATH_H
#define WHARF_SHARED_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define SHARED_PATH_MAX 1024 /* bytes of a spec */

struct shared_path {
    char path[SHARED_PATH_MAX + 1]; /* without the trailing '/' and '?' */
    bool is_file;                   /* what to create when neither shared nor the commit has it */
    bool optional;                  /* '?': the commit's own copy wins; nothing is created */
};

/** Parse spec into *out. Returns 0, or -1 when spec is not a valid shared path (see above). */
int shared_path_parse(const char *spec, struct shared_path *out);

/** The number of directory levels above PATH inside the release ("a/b/c" -> 2). */
unsigned shared_path_depth(const char *path);

#endif
