/*
 * fcgi_sendfile: see include/fcgi_sendfile.h. Resolving the file is pure; serving it is the
 * static handler's, called with a copy of the site whose root is the allowed directory, so
 * that the same code (fs_open_beneath and the site's follow_symlinks) guards both.
 * Invariant: nothing outside an allowed directory is ever opened, and no path holding a
 * hidden segment, a "." or ".." segment or an empty segment is accepted.
 */
#include "fcgi_sendfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "path.h"
#include "response.h"
#include "static_file.h"
#include "util.h"

static const char *const kept[] = {"Content-Type", "Content-Disposition", "Set-Cookie",
                                   "Cache-Control", "Expires"};

bool fcgi_sendfile_is_header(const char *name)
{
    return (name[0] == 'X' || name[0] == 'x') &&
           (ascii_casecmp(name, "X-Sendfile") == 0 || ascii_casecmp(name, "X-Accel-Redirect") == 0);
}

bool fcgi_sendfile_keeps(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(kept); i++)
        if (ascii_casecmp(name, kept[i]) == 0)
            return true;
    return false;
}

void fcgi_sendfile_free(struct request_sendfile *sf)
{
    if (!sf)
        return;
    request_sendfile_drop_kept(sf);
    free(sf->target);
    free(sf);
}

/* An absolute path whose every segment is a plain name: no "", ".", ".." and no control
 * byte. A final '/' is refused too (a file is named, not a directory). */
static bool is_plain_abs(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *seg = p + 1;;) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f)
                return false;
        if (!seg[n])
            return true;
        seg += n + 1;
    }
}

unsigned fcgi_sendfile_resolve(char *const *dirs, size_t n_dirs, const char *root,
                               const char *value, bool accel, size_t *dir, char *rel,
                               size_t rel_cap)
{
    char full[4096];
    if (accel) {
        /* a URI: percent-decoded and normalised like a request's path, then under the root */
        struct path_target t;
        char norm[4096];
        size_t norm_len, root_len = strlen(root);
        if (path_split_target(value, strlen(value), &t) != PATH_OK || t.authority ||
            path_normalize(t.path, t.path_len, norm, sizeof norm, &norm_len) != PATH_OK)
            return 404;
        while (root_len > 1 && root[root_len - 1] == '/')
            root_len--;
        if ((size_t)snprintf(full, sizeof full, "%.*s%s", (int)root_len, root, norm) >= sizeof full)
            return 404;
        value = full;
    }
    if (!is_plain_abs(value))
        return 404;
    for (size_t i = 0; i < n_dirs; i++) {
        size_t n = strcmp(dirs[i], "/") == 0 ? 0 : strlen(dirs[i]);
        if (strncmp(value, dirs[i], n) != 0 || value[n] != '/')
            continue;
        if (path_has_hidden_segment(value + n) || strlen(value + n) >= rel_cap)
            return 404;
        copy_str(rel, rel_cap, value + n);
        *dir = i;
        return 0;
    }
    return 403;
}

enum MHD_Result fcgi_sendfile_serve(struct MHD_Connection *c, struct request *r)
{
    const struct site_conf *site = r->site;
    struct request_sendfile *sf = r->sendfile;
    char rel[4096];
    size_t dir;
    enum MHD_Result ret;
    unsigned status =
        fcgi_sendfile_resolve(site->fcgi.sendfile.v, site->fcgi.sendfile.n, site->root, sf->target,
                              sf->accel, &dir, rel, sizeof rel);
    if (status) {
        log_warn("fcgi", r->id, "%s: %s %s", sf->accel ? "X-Accel-Redirect" : "X-Sendfile",
                 sf->target,
                 status == 403 ? "is outside every fastcgi_sendfile directory" : "refused");
        fcgi_sendfile_free(sf);
        r->sendfile = NULL;
        return response_error(c, r, status, NULL, NULL, NULL);
    }
    /* the static handler, beneath the directory: a copy of the site (r pins the original
     * for as long as the copy is used: the call below answers r and keeps no state) */
    struct site_conf beneath = *site;
    beneath.root = site->fcgi.sendfile.v[dir];
    beneath.browse = false;
    beneath.index.n = 0;
    ret = static_file_serve(c, r, &beneath, rel, NULL, 0);
    fcgi_sendfile_free(sf);
    r->sendfile = NULL;
    return ret;
}
