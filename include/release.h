/*
 * release: the names of a git site's releases and the choices made from a list of them
 * (which one a rollback goes to, which ones a prune drops). Pure: no I/O, no clock, no locks;
 * git_worker does the file-system side and decides what is complete.
 *
 * A release name is exactly "NNNNNN-YYYYMMDDTHHMMSSZ-hhhhhhhhhhhh": a 6-digit deploy sequence
 * number (names sort in deploy order, whatever the clock or the commit ids), the UTC time of
 * the deploy and the first 12 hex digits of the commit. Anything else in releases/ (NAME.tmp,
 * NAME.tmp.index, NAME.del, ...) is never a release.
 */
#ifndef WHARF_RELEASE_H
#define WHARF_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELEASE_NAME_LEN 36   /* 6 + 1 + 16 + 1 + 12, without the NUL */
#define RELEASE_COMMIT_LEN 12 /* hex digits of the commit id in a name */
#define RELEASE_SEQ_MAX 999999

/** The state directory of a git site whose root is root: "/srv/site" -> "/srv/.site.wharf"
 *  (trailing slashes ignored; "site" -> ".site.wharf"). Caller frees. */
char *release_state_dir(const char *root);

/** rel (a path relative to the directory holding the root, such as the root symlink's
 *  target) as a FastCGI backend sees it when it sees the root at backend_root: backend_root's
 *  directory joined with rel. ("/var/www/blog", ".blog.wharf/releases/NAME") ->
 *  "/var/www/.blog.wharf/releases/NAME". Caller frees. */
char *release_backend_path(const char *backend_root, const char *rel);

/** Release name (plus subdir, or NULL) as a FastCGI backend sees it when it sees the root at
 *  backend_root (fastcgi_root) instead of root: the state directory is taken to sit beside
 *  backend_root as it sits beside root, and to keep root's name (the directory holding root is
 *  mounted whole at backend_root's directory). ("/var/www/blog", "/srv/blog", NAME, "public")
 *  -> "/var/www/.blog.wharf/releases/NAME/public". Caller frees. */
char *release_backend_dir(const char *backend_root, const char *root, const char *name,
                          const char *subdir);

/** Whether name has exactly the release form (lowercase hex commit, no suffix). */
bool release_name_valid(const char *name);

/** Write the name for deploy number seq (1..RELEASE_SEQ_MAX) at unix time t of commit (at
 *  least RELEASE_COMMIT_LEN lowercase hex digits) into out (n > RELEASE_NAME_LEN). 0, or -1
 *  when an argument is out of range (out is then ""). */
int release_name_make(char *out, size_t n, unsigned seq, int64_t t, const char *commit);

/** The sequence number a directory entry claims (its leading digits before a '-'), for any
 *  entry, release or leftover; 0 if it has none. New releases get one more than the highest. */
unsigned release_name_seq(const char *name);

/** The RELEASE_COMMIT_LEN hex digits of a valid name (not NUL-terminated there: the end of the
 *  name), or NULL for an invalid one. */
const char *release_name_commit(const char *name);

/** The release a rollback from live goes to. names: complete releases sorted by name
 *  (oldest first). When live is a release name: the newest one older than live whose commit
 *  differs from live's (a commit deployed twice is skipped). Otherwise (nothing live, or the
 *  root points at something that is not a release): the newest one. Returns its index, or n
 *  when there is none. */
size_t release_rollback_target(char *const *names, size_t n, const char *live);

/** Which releases a prune removes: names as for release_rollback_target; drop[i] is set for
 *  each one to remove. Kept: live, the rollback target from live, and the newest keep others. */
void release_prune_plan(char *const *names, size_t n, const char *live, unsigned keep, bool *drop);

enum release_pin { RELEASE_PIN_BAD = -1, RELEASE_PIN_COMMIT, RELEASE_PIN_REF };

#define RELEASE_PIN_MAX 200 /* longest pin accepted (a ref name), without the NUL */

/** Parse the text of a git_revision_file: one commit id or ref name on a line, surrounding
 *  white space ignored. 7 to 40 hex digits are a commit id (out gets them in lowercase);
 *  else a ref name ("v1.2", "main", "refs/tags/v1.2": letters, digits, '.', '_', '-', '/',
 *  no "..", "//", "@{", leading '-', '/' or '.', trailing '/', '.' or ".lock") is a ref (out
 *  gets it as is). out must hold RELEASE_PIN_MAX + 1. RELEASE_PIN_BAD when the text is
 *  empty, several lines or neither; *why then says which. */
enum release_pin release_pin_parse(const char *text, char *out, const char **why);

#endif
