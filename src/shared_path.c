/*
 * shared_path: see include/shared_path.h. Pure.
 */
#include "shared_path.h"

#include <string.h>

int shared_path_parse(const char *spec, struct shared_path *out)
{
    memset(out, 0, sizeof *out);
    size_t n = spec ? strlen(spec) : 0;
    if (n && spec[n - 1] == '?') {
        out->optional = true;
        n--;
    }
    bool dir = false;
    if (n && spec[n - 1] == '/') {
        dir = true;
        n--;
    }
    if (n == 0 || n > SHARED_PATH_MAX || spec[0] == '/' || spec[n - 1] == '/')
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)spec[i];
        if (c < 0x20 || c == 0x7f || c == '\\' || c == '?')
            return -1;
    }
    size_t last = 0;
    for (size_t i = 0; i < n;) {
        size_t len = 0;
        while (i + len < n && spec[i + len] != '/')
            len++;
        const char *seg = spec + i;
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && memcmp(seg, "..", 2) == 0) ||
            (len == 4 && memcmp(seg, ".git", 4) == 0))
            return -1;
        last = i;
        i += len + 1;
    }
    memcpy(out->path, spec, n);
    out->path[n] = '\0';
    out->is_file = !dir && memchr(spec + last, '.', n - last) != NULL;
    return 0;
}

unsigned shared_path_depth(const char *path)
{
    unsigned d = 0;
    for (const char *p = path; *p; p++)
        d += *p == '/';
    return d;
}
