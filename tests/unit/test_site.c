/*
 * site and sites: the runtime table (one runtime per configured site, found from a host or a
 * site_conf in O(1)), pins, the resolved-root cache following a switched symlink, and the
 * lifecycle (sites_start makes each part a site's configuration asks for, reports a failing
 * one with its site and undoes the rest; sites_stop takes everything apart).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access_log.h"
#include "config.h"
#include "git_worker.h"
#include "site.h"
#include "sites.h"
#include "tap.h"

static char dir[] = "/tmp/wharf-test-site-XXXXXX";

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

static void test_table(void)
{
    struct config cfg;
    char text[1024];
    snprintf(text, sizeof text,
             "[site a]\nhosts = a.test www.a.test\nroot = %s\n"
             "[site fallback]\nroot = %s\n"
             "[site b]\nhosts = b.test\nroot = %s\n",
             dir, dir, dir);
    load(&cfg, text);
    struct site_table *t = site_table_new(&cfg);
    is_int(t->n, 3, "one runtime per site");
    for (size_t i = 0; i < cfg.n_sites; i++) {
        ok(site_of(t, &cfg.sites[i]) == &t->v[i], "site_of finds the runtime of its conf");
        ok(t->v[i].conf == &cfg.sites[i], "the runtime points at its conf");
    }
    is_str(site_for_host(t, "a.test")->conf->name, "a", "exact host");
    is_str(site_for_host(t, "WWW.A.TEST:8080")->conf->name, "a", "host with case and port");
    is_str(site_for_host(t, "b.test")->conf->name, "b", "a later site");
    is_str(site_for_host(t, "other.test")->conf->name, "fallback", "unknown host: default site");
    is_str(site_for_host(t, NULL)->conf->name, "fallback", "no host: default site");
    ok(!t->v[0].log && !t->v[0].pool && !t->v[0].git, "a bare runtime has no parts");

    struct site *a = site_for_host(t, "a.test"), *b = site_for_host(t, "b.test");
    is_int(site_table_pins(t), 0, "no pins at first");
    site_pin(a);
    site_pin(a);
    site_pin(b);
    is_int(atomic_load(&a->pins), 2, "pins count per site");
    is_int(site_table_pins(t), 3, "the table sums its sites' pins");
    site_unpin(a);
    site_unpin(b);
    is_int(site_table_pins(t), 1, "unpin drops one");
    site_unpin(a);
    is_int(site_table_pins(t), 0, "all pins dropped: the table may go");
    site_pin(NULL);
    site_unpin(NULL);
    is_int(site_table_pins(t), 0, "NULL is ignored");
    site_table_free(t);
    site_table_free(NULL);
    config_dispose(&cfg);
}

static void test_resolved_root(void)
{
    char r1[PATH_MAX], r2[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX], plain[PATH_MAX];
    snprintf(r1, sizeof r1, "%s/release1", dir);
    snprintf(r2, sizeof r2, "%s/release2", dir);
    snprintf(plain, sizeof plain, "%s/plain", dir);
    snprintf(link, sizeof link, "%s/current", dir);
    snprintf(tmp, sizeof tmp, "%s/current.tmp", dir);
    mkdir(r1, 0700);
    mkdir(r2, 0700);
    mkdir(plain, 0700);
    ok(symlink("release1", link) == 0, "root symlink made");

    struct config cfg;
    char text[1024];
    snprintf(text, sizeof text, "[site s]\nroot = %s\n[site p]\nhosts = p.test\nroot = %s/.\n",
             link, plain);
    load(&cfg, text);
    struct site_table *t = site_table_new(&cfg);
    char out[PATH_MAX];
    site_resolved_root(&t->v[0], out, sizeof out);
    is_str(out, r1, "the symlinked root resolves to its target");
    site_resolved_root(&t->v[0], out, sizeof out);
    is_str(out, r1, "again (cached)");
    ok(symlink("release2", tmp) == 0 && rename(tmp, link) == 0, "root switched (deploy)");
    site_resolved_root(&t->v[0], out, sizeof out);
    is_str(out, r2, "a switched symlink is seen at once");
    site_resolved_root(&t->v[1], out, sizeof out);
    is_str(out, plain, "a plain root resolves to its real path");
    site_table_free(t);
    config_dispose(&cfg);
    unlink(link);
    rmdir(r1);
    rmdir(r2);
    rmdir(plain);
}

static void test_lifecycle(void)
{
    struct config cfg;
    char text[2048];
    struct errlist errs = {0};

    /* a log that cannot be opened: the error names the site, nothing is left made */
    snprintf(text, sizeof text,
             "[site ok]\nroot = %s\naccess_log = %s/ok.log\n"
             "[site bad]\nhosts = bad.test\nroot = %s\naccess_log = %s/no/such/dir.log\n",
             dir, dir, dir, dir);
    load(&cfg, text);
    struct site_table *t = sites_start(&cfg, &errs);
    ok(t == NULL, "sites_start fails on an access log it cannot open");
    is_int(errs.n, 1, "one error");
    char want[512];
    snprintf(want, sizeof want,
             "[site bad]: access_log '%s/no/such/dir.log': No such file or directory", dir);
    is_str(errs.n ? errs.msg[0] : NULL, want, "the error names the site and the file");
    errlist_dispose(&errs);
    config_dispose(&cfg);
    access_log_shutdown();

    /* every part a configuration asks for */
    char sock[PATH_MAX];
    snprintf(sock, sizeof sock, "%s/fpm.sock", dir);
    snprintf(text, sizeof text,
             "[site static]\nroot = %s\naccess_log = %s/static.log\n"
             "[site php]\nhosts = php.test\nroot = %s\nfastcgi = unix:%s\n"
             "access_log = %s/static.log\n"
             "[site git]\nhosts = git.test\nroot = %s/gitroot\ngit_repo = %s/repo.git\n"
             "git_interval = 0\n",
             dir, dir, dir, sock, dir, dir, dir);
    load(&cfg, text);
    errs = (struct errlist){0};
    t = sites_start(&cfg, &errs);
    ok(t != NULL, "sites_start builds every runtime");
    is_int(errs.n, 0, "without errors");
    if (t) {
        struct site *st = site_for_host(t, NULL), *php = site_for_host(t, "php.test"),
                    *git = site_for_host(t, "git.test");
        ok(st->log && !st->pool && !st->git, "static site: a log, no pool, no git");
        ok(php->pool && !php->git, "FastCGI site: a pool");
        ok(php->log == st->log, "two sites naming one log file share it");
        ok(git->git && !git->pool && !git->log, "git site: deploy state only");
        ok(!git_worker_is_live(git->git), "a git site without a release is not live");
        ok(git_worker_is_live(st->git), "a site without git is always live");
        ok(t->fpm == NULL, "no php-fpm without fastcgi = spawn");
        site_pin(php);
        is_int(site_table_pins(t), 1, "a request pins its site");
        site_unpin(php);
        sites_stop(t);
        ok(1, "sites_stop takes it apart");
    }
    errlist_dispose(&errs);
    sites_stop(NULL);
    config_dispose(&cfg);
    access_log_shutdown();
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/static.log", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/ok.log", dir);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 99;
    }
    test_table();
    test_resolved_root();
    test_lifecycle();
    rmdir(dir);
    return done_testing();
}
