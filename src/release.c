/*
 * release: see include/release.h. The name is checked character by character against its one
 * form, so a leftover whose name only starts like a release (NAME.tmp.index) is never taken
 * for one.
 */
#include "release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* "NNNNNN-YYYYMMDDTHHMMSSZ-hhhhhhhhhhhh": d = digit, h = lowercase hex, others literal */
static const char name_form[] = "dddddd-ddddddddTddddddZ-hhhhhhhhhhhh";

bool release_name_valid(const char *name)
{
    size_t i;
    for (i = 0; name_form[i]; i++) {
        char c = name[i], f = name_form[i];
        bool digit = c >= '0' && c <= '9';
        if (f == 'd' ? !digit : f == 'h' ? !(digit || (c >= 'a' && c <= 'f')) : c != f)
            return false;
    }
    return name[i] == '\0';
}

int release_name_make(char *out, size_t n, unsigned seq, int64_t t, const char *commit)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (n)
        out[0] = '\0';
    if (n <= RELEASE_NAME_LEN || seq == 0 || seq > RELEASE_SEQ_MAX || !gmtime_r(&tt, &tm) ||
        tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return -1;
    for (size_t i = 0; i < RELEASE_COMMIT_LEN; i++)
        if (!((commit[i] >= '0' && commit[i] <= '9') || (commit[i] >= 'a' && commit[i] <= 'f')))
            return -1;
    snprintf(out, n, "%06u-%04d%02d%02dT%02d%02d%02dZ-%.12s", seq, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, commit);
    return 0;
}

unsigned release_name_seq(const char *name)
{
    unsigned v = 0;
    size_t i;
    for (i = 0; name[i] >= '0' && name[i] <= '9'; i++) {
        if (v > RELEASE_SEQ_MAX)
            return 0;
        v = v * 10 + (unsigned)(name[i] - '0');
    }
    return i && name[i] == '-' && v <= RELEASE_SEQ_MAX ? v : 0;
}

const char *release_name_commit(const char *name)
{
    return release_name_valid(name) ? name + RELEASE_NAME_LEN - RELEASE_COMMIT_LEN : NULL;
}

size_t release_rollback_target(char *const *names, size_t n, const char *live)
{
    const char *live_commit = live ? release_name_commit(live) : NULL;
    if (!live_commit)
        return n ? n - 1 : 0;
    for (size_t i = n; i-- > 0;) {
        if (strcmp(names[i], live) < 0 &&
            memcmp(release_name_commit(names[i]), live_commit, RELEASE_COMMIT_LEN) != 0)
            return i;
    }
    return n;
}

void release_prune_plan(char *const *names, size_t n, const char *live, unsigned keep, bool *drop)
{
    size_t target = release_rollback_target(names, n, live);
    unsigned kept = 0;
    for (size_t i = n; i-- > 0;) {
        bool is_live = live && strcmp(names[i], live) == 0;
        drop[i] = false;
        if (is_live)
            continue;
        if (kept < keep)
            kept++; /* the rollback target counts here when it is among the newest */
        else
            drop[i] = i != target;
    }
}

char *release_state_dir(const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    const char *slash = NULL;
    for (size_t i = 0; i < n; i++)
        if (root[i] == '/')
            slash = root + i;
    if (!slash)
        return xasprintf(".%.*s.wharf", (int)n, root);
    size_t dir = (size_t)(slash - root);
    return xasprintf("%.*s/.%.*s.wharf", (int)dir, root, (int)(n - dir - 1), slash + 1);
}

char *release_backend_path(const char *backend_root, const char *rel)
{
    size_t dir = strlen(backend_root); /* its directory with the '/': "/var/www/", "/", "" */
    while (dir > 1 && backend_root[dir - 1] == '/')
        dir--;
    while (dir > 0 && backend_root[dir - 1] != '/')
        dir--;
    return xasprintf("%.*s%s", (int)dir, backend_root, rel);
}

char *release_backend_dir(const char *backend_root, const char *root, const char *name,
                          const char *subdir)
{
    char *state = release_state_dir(root);
    const char *slash = strrchr(state, '/');
    char *rel = xasprintf("%s/releases/%s%s%s", slash ? slash + 1 : state, name, subdir ? "/" : "",
                          subdir ? subdir : "");
    char *out = release_backend_path(backend_root, rel);
    free(rel);
    free(state);
    return out;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_ref_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '_' || c == '-' || c == '/';
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    return n >= t && memcmp(s + n - t, tail, t) == 0;
}

enum release_pin release_pin_parse(const char *text, char *out, const char **why)
{
    out[0] = '\0';
    while (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')
        text++;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r' ||
                     text[n - 1] == '\n'))
        n--;
    if (n == 0) {
        *why = "empty";
        return RELEASE_PIN_BAD;
    }
    if (n > RELEASE_PIN_MAX || memchr(text, '\n', n)) {
        *why = n > RELEASE_PIN_MAX ? "too long" : "more than one line";
        return RELEASE_PIN_BAD;
    }
    size_t hex = 0;
    while (hex < n && is_hex(text[hex]))
        hex++;
    if (hex == n && n >= 7 && n <= 40) {
        for (size_t i = 0; i < n; i++)
            out[i] = text[i] >= 'A' && text[i] <= 'F' ? (char)(text[i] - 'A' + 'a') : text[i];
        out[n] = '\0';
        return RELEASE_PIN_COMMIT;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_ref_char(text[i])) {
            *why = "not a commit id or a ref name";
            return RELEASE_PIN_BAD;
        }
    const char *s = text;
    bool bad = s[0] == '-' || s[0] == '/' || s[0] == '.' || s[n - 1] == '/' || s[n - 1] == '.' ||
               ends_with(s, n, ".lock");
    for (size_t i = 0; !bad && i + 1 < n; i++)
        bad = (s[i] == '.' && s[i + 1] == '.') || (s[i] == '/' && s[i + 1] == '/') ||
              (s[i] == '/' && s[i + 1] == '.');
    if (bad) {
        *why = "not a valid ref name";
        return RELEASE_PIN_BAD;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return RELEASE_PIN_REF;
}
