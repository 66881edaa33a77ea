/*
 * dev: see include/dev.h. Runs before any thread exists (the plan, the port) or from main's
 * thread only (the banner, the browser). php-fpm's version comes from running `php-fpm -v`
 * once: its binary name says only MAJOR.MINOR, and a plain "php-fpm" says nothing.
 */
#include "dev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dev_tls.h"
#include "dev_watch.h"
#include "fpm_supervisor.h"
#include "log.h"

extern char **environ;

static bool exists(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    struct stat st;
    bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

/* The first line of `binary -v` (at most 2 s), or "". */
static char *fpm_version(const char *binary)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return xstrdup("");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)binary, "-v", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, binary, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char buf[256];
    size_t n = 0;
    if (rc == 0) {
        uint64_t t0 = clock_ms();
        while (n < sizeof buf - 1 && clock_ms() - t0 < 2000) {
            struct pollfd pfd = {fds[0], POLLIN, 0};
            if (poll(&pfd, 1, 100) <= 0)
                continue;
            ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
        kill(pid, SIGKILL); /* it has printed all we read; a stuck one must not hold us */
        waitpid(pid, NULL, 0);
    }
    close(fds[0]);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    char *built = strstr(buf, " (built:"); /* "PHP 8.2.7 (fpm-fcgi) (built: ...)" */
    if (built)
        *built = '\0';
    return xstrdup(buf);
}

static int read_php_version(struct dev_plan *p, struct errlist *errs)
{
    char *path = xasprintf("%s/.php-version", p->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (fd >= 0) {
        char text[256];
        ssize_t n = read(fd, text, sizeof text);
        const char *why = "cannot be read";
        if (n < 0 || dev_php_version_parse(text, (size_t)n, p->php_version, &why) != 0)
            rc = errlist_add(errs, "%s: %s", path, why);
        close(fd);
    }
    free(path);
    return rc;
}

int dev_plan_make(struct dev_plan *p, const char *dir, bool need_php, bool force_php,
                  struct errlist *errs)
{
    memset(p, 0, sizeof *p);
    p->dir = xstrdup(dir);
    struct dev_facts f = {
        .artisan = exists(dir, "artisan"),
        .bin_console = exists(dir, "bin/console"),
        .public_index_php = exists(dir, "public/index.php"),
        .wp_load = exists(dir, "wp-load.php"),
        .wp_config = exists(dir, "wp-config.php"),
        .index_php = exists(dir, "index.php"),
    };
    dev_detect(&f, &p->det);
    p->root = strcmp(p->det.root, ".") == 0 ? xstrdup(dir) : xasprintf("%s/%s", dir, p->det.root);
    p->need_fpm = need_php && (p->det.preset || force_php);
    if (read_php_version(p, errs) != 0 || !p->need_fpm)
        return errs->n ? -1 : 0;
    char *name = p->php_version[0] ? xasprintf("php-fpm%s", p->php_version) : NULL;
    p->fpm = fpm_supervisor_find(name);
    if (!p->fpm) {
        char *have = fpm_supervisor_installed();
        if (name)
            errlist_add(errs,
                        "%s/.php-version asks for PHP %s, but %s is not installed (not in PATH, "
                        "/usr/sbin or /usr/local/sbin); installed: %s",
                        dir, p->php_version, name, have[0] ? have : "no php-fpm at all");
        else
            errlist_add(errs,
                        "%s detected (%s), but php-fpm is not installed: install php-fpm, or "
                        "give --php ADDRESS of a running one",
                        dev_kind_name(p->det.kind), p->det.decided_by);
        free(have);
    } else {
        p->fpm_version = fpm_version(p->fpm);
    }
    free(name);
    return errs->n ? -1 : 0;
}

void dev_plan_dispose(struct dev_plan *p)
{
    free(p->dir);
    free(p->root);
    free(p->fpm);
    free(p->fpm_version);
    memset(p, 0, sizeof *p);
}

void dev_plan_explain(const struct dev_plan *p, const struct dev_flags *fl, FILE *out)
{
    const char *det_preset = p->det.preset ? p->det.preset : "none";
    fprintf(out, "project:  %s\n", p->dir);
    if (p->det.decided_by)
        fprintf(out, "app:      %s (decided by %s)\n", dev_kind_name(p->det.kind),
                p->det.decided_by);
    else
        fprintf(out, "app:      static files (no artisan, bin/console, wp-load.php, "
                     "wp-config.php or index.php)\n");
    /* each value as the server will use it (main.c: apply_cli, apply_dev), and its flag */
    if (fl->root)
        fprintf(out, "root:     %s (--root; detected %s)\n", fl->root, p->root);
    else
        fprintf(out, "root:     %s\n", p->root);
    if (fl->preset)
        fprintf(out, "preset:   %s (--preset; detected %s)\n", fl->preset, det_preset);
    else if (!p->det.preset && fl->php)
        fprintf(out, "preset:   php (--php; detected none)\n");
    else
        fprintf(out, "preset:   %s\n",
                p->det.preset ? p->det.preset : "none (directory listings on)");
    if (p->det.preset && fl->browse)
        fprintf(out, "listings: on (--browse)\n");
    const char *forced = !p->det.preset && fl->php ? "; --php" : "";
    if (!p->det.preset && !fl->php)
        ; /* no PHP: a .php-version alone starts nothing */
    else if (fl->php_upstream)
        fprintf(out, "php:      %s (--php: a running php-fpm; none is started)\n",
                fl->php_upstream);
    else if (p->php_version[0])
        fprintf(out, "php:      %s (.php-version asks for %s%s)\n", p->fpm ? p->fpm : "-",
                p->php_version, forced);
    else if (p->fpm)
        fprintf(out, "php:      %s (no .php-version: the default php-fpm%s)\n", p->fpm, forced);
    if (p->fpm && !fl->php_upstream && p->fpm_version && p->fpm_version[0])
        fprintf(out, "version:  %s\n", p->fpm_version);
    if (fl->listen)
        fprintf(out, "listen:   %s (--listen)\n", fl->listen);
    else
        fprintf(out, "listen:   127.0.0.1:8080, else the next free port\n");
    if (fl->gzip)
        fprintf(out, "gzip:     on (--gzip)\n");
    if (fl->access_log)
        fprintf(out, "log:      %s (--access-log)\n", fl->access_log);
}

unsigned dev_free_port(const char *host, unsigned first)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        len = sizeof *a6;
    } else {
        a4->sin_family = AF_INET;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a4;
    }
    for (unsigned i = 0; i <= 20; i++) {
        unsigned port = i < 20 ? first + i : 0; /* then any port */
        if (port > 65535)
            continue;
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return 0;
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on); /* as the listener will */
        if (ss.ss_family == AF_INET6)
            a6->sin6_port = htons((uint16_t)port);
        else
            a4->sin_port = htons((uint16_t)port);
        if (bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 1) == 0) {
            struct sockaddr_storage got;
            socklen_t glen = sizeof got;
            if (port == 0 && getsockname(fd, (struct sockaddr *)&got, &glen) == 0)
                port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                       : ((struct sockaddr_in *)&got)->sin_port);
            close(fd);
            return port;
        }
        close(fd);
    }
    return 0;
}

bool dev_use_color(int fd)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fd) && !(no && no[0]);
}

void dev_banner(const struct dev_plan *p, const char *url, const char *https_url, bool color,
                FILE *out)
{
    const char *b = color ? "\033[1m" : "", *g = color ? "\033[1;32m" : "",
               *d = color ? "\033[2m" : "", *r = color ? "\033[0m" : "";
    fprintf(out, "\n %swharf %s%s  development server\n\n", b, PACKAGE_VERSION, r);
    if (p->det.decided_by)
        fprintf(out, "   detected  %s%s%s %s(%s)%s\n", b, dev_kind_name(p->det.kind), r, d,
                p->det.decided_by, r);
    else
        fprintf(out, "   detected  %sstatic files%s %s(no PHP entry point; listings on)%s\n", b, r,
                d, r);
    fprintf(out, "   root      %s\n", p->root);
    if (p->fpm)
        fprintf(out, "   php       %s %s(%s%s%s)%s\n",
                p->fpm_version && p->fpm_version[0] ? p->fpm_version : p->fpm, d, p->fpm,
                p->php_version[0] ? ", .php-version " : "", p->php_version, r);
    fprintf(out, "   url       %s%s%s\n", g, url, r);
    if (https_url)
        fprintf(out, "   https     %s%s%s\n", g, https_url, r);
    fprintf(out, "   stop      %sCtrl+C%s\n\n", b, r);
    fflush(out);
}

pid_t dev_open_browser(const char *url)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none); /* wharf blocks its signals; the browser not */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"xdg-open", (char *)url, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "xdg-open", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? pid : -1;
}

/* ---- a session: start-up, ready, tick, stop ------------------------------------------------ */

/* --https (not for --dev-explain): the certificate, and 127.0.0.1:8443 or the next free port. */
static int start_tls(struct dev_session *d, struct errlist *errs)
{
    d->tls = xcalloc(1, sizeof *d->tls);
    if (dev_tls_prepare(d->tls, d->opt->name, errs) != 0)
        return -1;
    unsigned port = dev_free_port("127.0.0.1", 8443);
    if (!port)
        return errlist_add(errs, "no free port on 127.0.0.1 for --https");
    snprintf(d->tls_listen, sizeof d->tls_listen, "127.0.0.1:%u", port);
    return 0;
}

int dev_start(struct dev_session *d, const struct dev_options *o, const struct dev_flags *fl,
              struct errlist *errs)
{
    char cwd[4096];
    d->opt = o;
    d->opener = -1;
    if (!getcwd(cwd, sizeof cwd))
        return errlist_add(errs, "the current directory: %s", strerror(errno));
    if (dev_plan_make(&d->plan, cwd, !fl->php_upstream, fl->php && !fl->php_upstream, errs) != 0)
        return -1;
    if (o->name && !dev_tls_name_ok(o->name))
        return errlist_add(errs, "--name: expected a DNS label (a-z, 0-9, '-'), got '%s'", o->name);
    if (o->https && !o->explain && start_tls(d, errs) != 0)
        return -1;
    if (!fl->listen && !o->explain) {
        unsigned port = dev_free_port("127.0.0.1", 8080);
        if (!port)
            return errlist_add(errs, "no free port on 127.0.0.1");
        snprintf(d->listen, sizeof d->listen, "127.0.0.1:%u", port);
    }
    return 0;
}

/* The URL of the first listener (la: listen or tls_listen), for the banner and --open:
 * NAME.localhost with --name (any loopback name reaches 127.0.0.1 in browsers). */
static char *site_url(const struct listen_addr *la, const char *scheme, const char *name)
{
    const char *h = la->host ? la->host : "127.0.0.1";
    bool v6 = strchr(h, ':') != NULL;
    if (name)
        return xasprintf("%s://%s.localhost:%u/", scheme, name, la->port);
    return xasprintf("%s://%s%s%s:%u/", scheme, v6 ? "[" : "", h, v6 ? "]" : "", la->port);
}

void dev_ready(struct dev_session *d, const struct config *cfg, const char *watched)
{
    const char *name = d->opt->name;
    char *url = site_url(&cfg->server.listen[0], "http", name);
    char *https = d->tls && cfg->server.n_tls_listen
                      ? site_url(&cfg->server.tls_listen[0], "https", name)
                      : NULL;
    dev_banner(&d->plan, url, https, dev_use_color(2), stderr);
    if (d->tls && d->tls->ca_new)
        dev_tls_trust_help(d->tls, stderr);
    else if (d->tls)
        fprintf(stderr, "   (the CA to trust is %s: see docs/dev.md)\n\n", d->tls->ca_cert);
    free(https);
    if (d->opt->open && (d->opener = dev_open_browser(url)) < 0)
        log_warn("dev", 0, "--open: cannot run xdg-open: %s", strerror(errno));
    free(url);
    struct errlist errs = {0};
    if (cfg->server.dev_reload &&
        dev_watch_start(watched ? watched : d->plan.dir, &d->opt->watch_ignore, &errs) != 0)
        for (size_t i = 0; i < errs.n; i++)
            log_warn("dev", 0, "%s (live reload is off)", errs.msg[i]);
    errlist_dispose(&errs);
}

void dev_tick(struct dev_session *d)
{
    if (d->opener > 0 && waitpid(d->opener, NULL, WNOHANG) == d->opener)
        d->opener = -1;
}

void dev_stop(struct dev_session *d)
{
    dev_plan_dispose(&d->plan);
    if (d->tls)
        dev_tls_dispose(d->tls);
    free(d->tls);
    d->tls = NULL;
}
