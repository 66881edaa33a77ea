/*
 * reload: what a reload keeps (the pure comparisons), and sites_reload / sites_commit: an
 * unchanged upstream's pool and a kept git site are the same objects in the new table, owned
 * by it after the commit; a changed or removed one stays the old table's, and a failed reload
 * leaves the old table as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "reload.h"
#include "site.h"
#include "sites.h"
#include "tap.h"

static void load(struct config *cfg, const char *text)
{
    struct errlist errs = {0};
    config_init(cfg);
    config_parse(cfg, text, "t.ini", &errs);
    config_finish(cfg, &errs);
    is_int(errs.n, 0, "the test configuration is valid");
    for (size_t i = 0; i < errs.n; i++)
        printf("#   %s\n", errs.msg[i]);
    errlist_dispose(&errs);
}

static const char base[] = "[server]\nlisten = 127.0.0.1:8080\n"
                           "[site a]\nhosts = a.test\nroot = /tmp\nfastcgi = 127.0.0.1:9000\n"
                           "[site b]\nroot = /tmp\nfastcgi = 127.0.0.1:9001\n";

static void test_same_upstreams(void)
{
    struct config a, b;
    load(&a, base);
    load(&b, "[server]\nlisten = 127.0.0.1:8080\n"
             "[site a]\nhosts = a.test other.test\nroot = /srv\nfastcgi = 127.0.0.1:9000\n"
             "fastcgi_env = X=1\n"
             "[site b]\nroot = /tmp\nfastcgi = 127.0.0.1:9002\n"
             "[site c]\nhosts = c.test\nroot = /tmp\nfastcgi = 127.0.0.1:9001\n");
    ok(reload_same_upstreams(&a.sites[0], &b.sites[0]),
       "same name and upstream: kept, whatever the root, hosts and params");
    ok(!reload_same_upstreams(&a.sites[1], &b.sites[1]), "another upstream address: not kept");
    ok(!reload_same_upstreams(&a.sites[1], &b.sites[2]), "another site name: not kept");
    ok(reload_find_site(&b, "c") == &b.sites[2], "reload_find_site finds c");
    ok(reload_find_site(&b, "zz") == NULL, "... and nothing for an unknown name");
    config_dispose(&b);
    load(&b, "[site a]\nhosts = a.test\nroot = /tmp\nfastcgi = 127.0.0.1:9000\n"
             "fastcgi_read_timeout = 7s\n");
    ok(!reload_same_upstreams(&a.sites[0], &b.sites[0]), "another read timeout: not kept");
    config_dispose(&b);
    load(&b, "[site a]\nhosts = a.test\nroot = /tmp\n");
    ok(!reload_same_upstreams(&a.sites[0], &b.sites[0]), "FastCGI turned off: not kept");
    ok(!reload_same_upstreams(&b.sites[0], &b.sites[0]), "no FastCGI on either side: nothing");
    config_dispose(&a);
    config_dispose(&b);
}

static void test_same_git(void)
{
    struct config a, b;
    load(&a, "[site g]\nroot = /srv/g\ngit_repo = /r.git\ngit_branch = main\n");
    load(&b, "[site g]\nroot = /srv/g\ngit_repo = /r.git\ngit_branch = main\n"
             "git_interval = 5m\n"
             "[site h]\nhosts = h.test\nroot = /srv/g\ngit_repo = /r.git\ngit_branch = dev\n");
    ok(reload_same_git(&a.sites[0], &b.sites[0]), "same repo, branch and root: kept");
    ok(!reload_same_git(&a.sites[0], &b.sites[1]), "another name or branch: not kept");
    config_dispose(&b);
    load(&b, "[site g]\nroot = /srv/g2\ngit_repo = /r.git\ngit_branch = main\n");
    ok(!reload_same_git(&a.sites[0], &b.sites[0]), "another root: not kept");
    config_dispose(&a);
    config_dispose(&b);
}

static void test_server_changes(void)
{
    struct config a, b;
    const char *keys[4];
    load(&a, "[server]\nlisten = 127.0.0.1:8080\nworkers = 2\n[site d]\nroot = /tmp\n");
    load(&b, "[server]\nlisten = 127.0.0.1:8080\nworkers = 2\n[site e]\nroot = /srv\n");
    is_int(reload_server_changes(&a.server, &b.server, keys, 4), 0,
           "only sites differ: nothing needs a restart");
    config_dispose(&b);
    load(&b, "[server]\nlisten = 127.0.0.1:8081\nworkers = 3\nmax_uri_length = 1k\n"
             "max_connections_per_ip = 5\nheader_timeout = 5s\nidle_timeout = 2s\n"
             "max_header_size = 8k\nmax_connections = 50\ntcp_notsent_lowat = 64k\n"
             "[site d]\nroot = /tmp\n");
    size_t n = reload_server_changes(&a.server, &b.server, keys, 4);
    is_int(n, 2, "workers and max_connections need a restart (listen and the limits do not)");
    ok(n == 2 && strcmp(keys[0], "workers") == 0 && strcmp(keys[1], "max_connections") == 0,
       "... named as in the configuration file");
    is_int(reload_server_changes(&a.server, &b.server, keys, 1), 2,
           "the count is whole even when fewer names fit");
    config_dispose(&b);
    load(&b, "[server]\nlisten = 127.0.0.1:8080\nworkers = 2\nmax_header_size = 64k\n"
             "[site d]\nroot = /tmp\n");
    n = reload_server_changes(&a.server, &b.server, keys, 4);
    ok(n == 1 && strcmp(keys[0], "max_header_size") == 0,
       "max_header_size raised above the start-up value needs a restart (MHD's memory limit)");
    config_dispose(&b);
    load(&b, "[server]\nlisten = 127.0.0.1:8080\nworkers = 2\nadmin_listen = 127.0.0.1:9180\n"
             "shutdown_timeout = 5s\n[site d]\nroot = /tmp\n");
    n = reload_server_changes(&a.server, &b.server, keys, 4);
    ok(n == 1 && strcmp(keys[0], "admin_listen") == 0,
       "admin_listen needs a restart, shutdown_timeout does not");
    config_dispose(&a);
    config_dispose(&b);
}

static void test_sites_reload(void)
{
    struct config a, b;
    struct errlist errs = {0};
    load(&a, base);
    load(&b, "[site a]\nhosts = a.test\nroot = /srv\nfastcgi = 127.0.0.1:9000\n"
             "[site b]\nroot = /tmp\nfastcgi = 127.0.0.1:9009\n");
    struct site_table *old = sites_start(&a, &errs);
    ok(old && old->v[0].owns_pool && old->v[1].owns_pool, "start-up: each site owns its pool");
    struct site_table *t = sites_reload(&b, old, &errs);
    is_int(errs.n, 0, "the reload builds the new table");
    ok(t && t->v[0].pool == old->v[0].pool, "the unchanged upstream's pool is the same object");
    ok(t && !t->v[0].owns_pool && old->v[0].owns_pool,
       "... still the old table's before the commit");
    ok(t && t->v[1].pool && t->v[1].pool != old->v[1].pool, "the changed upstream gets a new pool");
    sites_commit(t, old);
    ok(t->v[0].owns_pool && !old->v[0].owns_pool, "after the commit the new table owns it");
    ok(old->v[1].owns_pool, "the replaced pool stays the old table's (retired)");
    ok(sites_unused(old), "nothing uses the old table: it may be stopped");
    sites_stop(old); /* frees b's old pool only */
    ok(t->v[0].pool != NULL, "the kept pool outlives the old table");
    config_dispose(&a);

    /* a failing reload (an upstream that does not resolve) leaves the running table alone */
    load(&a, "[site a]\nhosts = a.test\nroot = /srv\nfastcgi = 127.0.0.1:9000\n"
             "[site b]\nroot = /tmp\nfastcgi = no-such-host.invalid:9000\n");
    struct site_table *bad = sites_reload(&a, t, &errs);
    ok(bad == NULL && errs.n >= 1, "a reload with an unresolvable upstream fails");
    ok(t->v[0].owns_pool && t->v[0].pool, "... and the running table keeps its pool");
    errlist_dispose(&errs);
    sites_stop(t);
    config_dispose(&a);
    config_dispose(&b);
}

int main(void)
{
    test_same_upstreams();
    test_same_git();
    test_server_changes();
    test_sites_reload();
    return done_testing();
}
