/*
 * reload: see include/reload.h. Pure comparisons of two configurations.
 */
#include "reload.h"

#include <string.h>

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

const struct site_conf *reload_find_site(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sites; i++)
        if (strcmp(cfg->sites[i].name, name) == 0)
            return &cfg->sites[i];
    return NULL;
}

bool reload_same_upstreams(const struct site_conf *a, const struct site_conf *b)
{
    const struct fcgi_site_conf *x = &a->fcgi, *y = &b->fcgi;
    if (strcmp(a->name, b->name) != 0 || x->spawn != y->spawn || x->n_upstreams != y->n_upstreams ||
        (!x->spawn && !x->n_upstreams))
        return false;
    for (size_t i = 0; i < x->n_upstreams; i++)
        if (strcmp(x->upstreams[i].text, y->upstreams[i].text) != 0)
            return false;
    return x->lb == y->lb && x->max_conns == y->max_conns && x->keep_conns == y->keep_conns &&
           x->queue_timeout_ms == y->queue_timeout_ms &&
           x->connect_timeout_ms == y->connect_timeout_ms &&
           x->read_timeout_ms == y->read_timeout_ms && x->send_timeout_ms == y->send_timeout_ms &&
           x->max_body_bytes == y->max_body_bytes && x->body_buffer_bytes == y->body_buffer_bytes;
}

bool reload_same_git(const struct site_conf *a, const struct site_conf *b)
{
    return a->git.repo && b->git.repo && strcmp(a->name, b->name) == 0 &&
           same_str(a->root, b->root) && strcmp(a->git.repo, b->git.repo) == 0 &&
           same_str(a->git.branch, b->git.branch) && same_str(a->git.subdir, b->git.subdir);
}

static bool same_addrs(const struct listen_addr *a, size_t na, const struct listen_addr *b,
                       size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].text, b[i].text) != 0)
            return false;
    return true;
}

size_t reload_server_changes(const struct server_conf *a, const struct server_conf *b,
                             const char **keys, size_t max)
{
    struct {
        const char *key;
        bool differs;
    } v[] = {
        {"workers", a->workers != b->workers},
        {"worker_accept", a->worker_accept != b->worker_accept},
        {"error_log", !same_str(a->error_log, b->error_log)},
        /* note: MHD's connection limit is per daemon, fixed when it starts */
        {"max_connections", a->max_connections != b->max_connections},
        /* lowered, it applies at once; raised, only new listeners get MHD's larger memory
         * limit (http_front_set_limits) */
        {"max_header_size", b->max_header_bytes > a->max_header_bytes},
        {"mime_types", !same_str(a->mime_types, b->mime_types)},
        {"file_cache", a->file_cache_bytes != b->file_cache_bytes},
        {"file_cache_max_file", a->file_cache_max_file != b->file_cache_max_file},
        {"gzip_cache", a->gzip_cache_bytes != b->gzip_cache_bytes},
        {"admin_listen",
         !same_addrs(a->admin_listen, a->n_admin_listen, b->admin_listen, b->n_admin_listen)},
        {"temp_dir", !same_str(a->temp_dir, b->temp_dir)},
        {"user", !same_str(a->user, b->user)},
        {"group", !same_str(a->group, b->group)},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (!v[i].differs)
            continue;
        if (n < max)
            keys[n] = v[i].key;
        n++;
    }
    return n;
}
