/*
 * path: turn a raw HTTP request-target into a safe, normalised path below the site root.
 * Pure: no I/O. The only place that decodes percent-escapes (exactly once).
 *
 * Invariants of a PATH_OK result: starts with '/', contains no NUL, no "." or ".." segment,
 * no empty segment ("//"), is valid UTF-8, and so can be appended to a root directory
 * without ever leaving it. "/.." at the top is clamped to "/" (as Go's path.Clean does).
 */
#ifndef WHARF_PATH_H
#define WHARF_PATH_H

#include <stdbool.h>
#include <stddef.h>

enum path_status {
    PATH_OK = 0,
    PATH_BAD_REQUEST, /* 400: NUL, bad %-escape, invalid/overlong UTF-8, not origin-form */
    PATH_TOO_LONG,    /* 414: the decoded path does not fit out_cap */
};

struct path_target {
    const char *path; /* raw path part (points into the input; a static "/" for "http://h") */
    size_t path_len;
    const char *query; /* after '?', without it; NULL when absent */
    size_t query_len;
    const char *authority; /* host[:port] from an absolute-form target; NULL otherwise */
    size_t authority_len;
};

/**
 * Split a raw request-target (origin-form "/a/b?q" or absolute-form "http://h/a?q") into
 * path, query and authority. A fragment ('#...') is dropped. The scheme (http or https) is
 * case-insensitive; an empty authority or one with userinfo ('@') is refused. "?" with
 * nothing after it gives a non-NULL query of length 0. Bytes are not judged here; that is
 * path_normalize's job. Returns PATH_BAD_REQUEST for anything else ("*", relative paths,
 * empty); *t is then zeroed.
 */
enum path_status path_split_target(const char *raw, size_t raw_len, struct path_target *t);

/**
 * Percent-decode and normalise a raw path (as split above). Writes a NUL-terminated result
 * to out (out_cap bytes including the terminator) and its length to *out_len.
 * A trailing slash on the input is kept (it tells a directory request apart), and a
 * trailing "." or ".." also yields one ("/a/b/.." gives "/a/"). The raw path must start
 * with '/'. %2F decodes to a separator; backslash is an ordinary byte. PATH_TOO_LONG means
 * exactly that the normalised result does not fit; PATH_BAD_REQUEST wins over it. On any
 * error out is "" (when out_cap > 0) and *out_len is 0. Thread-safe (no state).
 */
enum path_status path_normalize(const char *raw, size_t raw_len, char *out, size_t out_cap,
                                size_t *out_len);

/** True if any segment of a normalised path starts with '.' (dotfiles, .git/, .env ...). */
bool path_has_hidden_segment(const char *norm);

/**
 * Extension of the last segment including the dot (".html"), pointing into norm, or NULL if
 * none. Leading dots of the segment never start an extension ("/.hidden" and "/..gz" give
 * NULL), nor does a final dot ("/a." gives NULL); "/x.tar.gz" gives ".gz".
 */
const char *path_extension(const char *norm);

/** Whether a normalised path is prefix itself or below it, segment-wise: "/app" covers "/app"
 *  and "/app/x" but not "/apple"; a trailing slash on prefix is ignored. */
bool path_has_prefix(const char *path, const char *prefix);

#endif
