/*
 * main: process lifecycle. Parse the command line, load and check the configuration (a bad one
 * never starts a server), open logs, start the HTTP front, then handle signals in this thread
 * only: every other thread inherits a mask that blocks them.
 *   SIGTERM, SIGINT  drain: stop accepting, let requests in flight finish (up to
 *                    shutdown_timeout), then stop and exit 0; a second one stops at once
 *   SIGUSR1          reopen the error log and every access log (logrotate)
 *   SIGHUP           (development mode: the terminal closed, so a stop like SIGTERM) reload:
 *                    read and check the configuration file again exactly as at
 *                    start-up (the same flags override it); on any error keep serving the
 *                    running one and log each error (FILE:LINE: message); else publish the
 *                    new sites (http_front_swap) and stop the old ones once nothing uses them
 *                    (reload_tick); listeners that stay keep their sockets, new ones are
 *                    opened, removed ones stop accepting (their idle connections are
 *                    closed, busy ones after their response); the limits and timeouts
 *                    error_log_format and shutdown_timeout take the new values
 *                    (http_front_set_limits).
 *                    Other [server] keys need a restart (a warning names each one that
 *                    changed).
 */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "basic_auth.h"
#include "admin.h"
#include "dev.h"
#include "dev_tls.h"
#include "dev_watch.h"
#include "fcgi_request.h"
#include "fpm_supervisor.h"
#include "git_worker.h"
#include "http_front.h"
#include "lifecycle.h"
#include "log.h"
#include "peers.h"
#include "mime.h"
#include "preset.h"
#include "reload.h"
#include "tls_store.h"
#include "acme.h"
#include "privileges.h"
#include "service.h"
#include "release.h"
#include "sites.h"
#include "static_file.h"
#include "util.h"
#include "worker.h"

#define MIME_TYPES_DEFAULT "/etc/mime.types"
#define MIME_TYPES_MAX (4u << 20)

static const char usage[] =
    "Usage: wharf [dev] [OPTIONS]\n"
    "Serve static files, run PHP through php-fpm, and deploy sites from git.\n"
    "\n"
    "Without --config and --root (or with 'dev'), wharf is a development server for the\n"
    "current directory: it detects the application (Laravel, Symfony, WordPress, PHP or\n"
    "static files), starts php-fpm, and listens on 127.0.0.1:8080 or the next free port.\n"
    "      --dev-explain       print what development mode detects, and why, and the\n"
    "                          values the flags given override, and exit\n"
    "      --open              open the site in the default browser (xdg-open)\n"
    "      --watch, --no-watch reload browsers when a project file changes (default: on)\n"
    "      --watch-ignore NAME never watch directories named NAME (vendor, node_modules\n"
    "                          and .git never are); repeat for several\n"
    "      --https             also serve HTTPS (127.0.0.1:8443 or the next free port) with a\n"
    "                          certificate from a local CA made once in ~/.local/share/wharf\n"
    "      --name NAME         the site is NAME.localhost (https://NAME.localhost:8443/)\n"
    "\n"
    "  -c, --config FILE       read the INI configuration FILE\n"
    "  -l, --listen ADDR       listen on ADDR (host:port, [v6]:port or :port);\n"
    "                          repeat for several; replaces [server] listen\n"
    "  -r, --root DIR          document root of the default site (default: .)\n"
    "      --browse            list directories without an index file\n"
    "      --gzip              compress text responses for clients that accept gzip\n"
    "      --access-log FILE   write an access log to FILE ('-' = standard output)\n"
    "      --access-log-format FMT\n"
    "                          its lines: timed_combined (default), combined or json\n"
    "      --php [ADDR]        run PHP through php-fpm at ADDR (host:port, [v6]:port,\n"
    "                          unix:/path) with the php preset; without ADDR, wharf\n"
    "                          starts and supervises php-fpm itself (development)\n"
    "      --preset NAME       route the default site's PHP with preset NAME (php,\n"
    "                          laravel, symfony, wordpress, mediawiki, ...)\n"
    "      --deploy SITE       deploy the git site SITE now (fetch, build, switch) and exit\n"
    "      --rollback SITE     switch the git site SITE back to its previous release and exit\n"
    "  -u, --user NAME         started as root: drop to user NAME (and its group) once the\n"
    "                          listeners and logs are open; replaces [server] user\n"
    "  -t, --test              check the configuration and exit\n"
    "  -V, --version           print the version and exit\n"
    "  -h, --help              print this help and exit\n"
    "\n"
    "Without --config, wharf serves --root on 127.0.0.1:8080. Flags override the file.\n"
    "See wharf(1) and docs/configuration.md.\n";

struct cli {
    const char *config;
    const char *root;
    const char *access_log;
    const char *access_log_format;
    const char **listen;
    size_t n_listen;
    bool browse, gzip, test;
    const char *deploy;           /* --deploy SITE */
    const char *rollback;         /* --rollback SITE */
    bool php;                     /* --php given */
    const char *php_upstream;     /* its address; NULL = spawn php-fpm */
    const char *preset;           /* --preset NAME; NULL = the file's, or php */
    const char *user;             /* --user NAME */
    bool dev;                     /* the word "dev" */
    struct dev_options dev_opt;   /* --dev-explain, --open, --watch, --https, --name, ... */
    struct dev_session *dev_mode; /* development mode's session; NULL = not in that mode */
};

enum {
    OPT_BROWSE = 256,
    OPT_GZIP,
    OPT_ACCESS_LOG,
    OPT_ACCESS_LOG_FORMAT,
    OPT_PHP,
    OPT_PRESET,
    OPT_DEPLOY,
    OPT_ROLLBACK,
    OPT_DEV_EXPLAIN,
    OPT_OPEN,
    OPT_WATCH,
    OPT_NO_WATCH,
    OPT_WATCH_IGNORE,
    OPT_HTTPS,
    OPT_NAME
};

/* The flags, for getopt_long (the short ones are in parse_cli's optstring too). */
static const struct option cli_longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"listen", required_argument, NULL, 'l'},
    {"root", required_argument, NULL, 'r'},
    {"browse", no_argument, NULL, OPT_BROWSE},
    {"gzip", no_argument, NULL, OPT_GZIP},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"access-log-format", required_argument, NULL, OPT_ACCESS_LOG_FORMAT},
    {"php", optional_argument, NULL, OPT_PHP},
    {"preset", required_argument, NULL, OPT_PRESET},
    {"deploy", required_argument, NULL, OPT_DEPLOY},
    {"rollback", required_argument, NULL, OPT_ROLLBACK},
    {"user", required_argument, NULL, 'u'},
    {"dev-explain", no_argument, NULL, OPT_DEV_EXPLAIN},
    {"open", no_argument, NULL, OPT_OPEN},
    {"watch", no_argument, NULL, OPT_WATCH},
    {"no-watch", no_argument, NULL, OPT_NO_WATCH},
    {"watch-ignore", required_argument, NULL, OPT_WATCH_IGNORE},
    {"https", no_argument, NULL, OPT_HTTPS},
    {"name", required_argument, NULL, OPT_NAME},
    {"test", no_argument, NULL, 't'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define CLI(field) offsetof(struct cli, field)

/* The flags that only store something in struct cli; parse_cli handles the others by name. */
static const struct cli_store {
    int opt;      /* getopt_long's value: the short option, or OPT_* */
    bool is_bool; /* the field is a bool set to true; else a const char * set to the value */
    size_t off;   /* of the field in struct cli */
} cli_stores[] = {
    {'c', false, CLI(config)},
    {'r', false, CLI(root)},
    {'u', false, CLI(user)},
    {OPT_ACCESS_LOG, false, CLI(access_log)},
    {OPT_ACCESS_LOG_FORMAT, false, CLI(access_log_format)},
    {OPT_DEPLOY, false, CLI(deploy)},
    {OPT_ROLLBACK, false, CLI(rollback)},
    {OPT_PRESET, false, CLI(preset)},
    {OPT_NAME, false, CLI(dev_opt.name)},
    {OPT_BROWSE, true, CLI(browse)},
    {OPT_GZIP, true, CLI(gzip)},
    {'t', true, CLI(test)},
    {OPT_DEV_EXPLAIN, true, CLI(dev_opt.explain)},
    {OPT_OPEN, true, CLI(dev_opt.open)},
    {OPT_HTTPS, true, CLI(dev_opt.https)},
};

/* Store opt's value (or true) when it is one of cli_stores; false when it is not. */
static bool store_flag(struct cli *cli, int opt, const char *value)
{
    for (size_t i = 0; i < sizeof cli_stores / sizeof *cli_stores; i++) {
        const struct cli_store *s = &cli_stores[i];
        if (s->opt != opt)
            continue;
        if (s->is_bool)
            *(bool *)((char *)cli + s->off) = true;
        else
            *(const char **)((char *)cli + s->off) = value;
        return true;
    }
    return false;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:l:r:u:tVh", cli_longopts, NULL)) != -1) {
        if (store_flag(cli, opt, optarg))
            continue;
        switch (opt) {
        case 'l':
            cli->listen = xrealloc(cli->listen, (cli->n_listen + 1) * sizeof *cli->listen);
            cli->listen[cli->n_listen++] = optarg;
            break;
        case OPT_PHP:
            cli->php = true;
            cli->php_upstream = optarg;
            /* "--php ADDR" as well as "--php=ADDR": take a following word that is not a flag */
            if (!optarg && optind < argc && argv[optind][0] != '-')
                cli->php_upstream = argv[optind++];
            break;
        case OPT_WATCH:
        case OPT_NO_WATCH:
            cli->dev_opt.watch = opt == OPT_WATCH;
            break;
        case OPT_WATCH_IGNORE: {
            struct str_list *ign = &cli->dev_opt.watch_ignore;
            ign->v = xrealloc(ign->v, (ign->n + 1) * sizeof(char *));
            ign->v[ign->n++] = optarg;
            break;
        }
        case 'V':
            printf("wharf %s\n", PACKAGE_VERSION);
            exit(0);
        case 'h':
            fputs(usage, stdout);
            exit(0);
        case ':':
            fprintf(stderr, "wharf: option '%s' needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "wharf: unknown option '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc && strcmp(argv[optind], "dev") == 0) {
        cli->dev = true; /* getopt moved the flags around it ("wharf dev --open") first */
        optind++;
    }
    if (optind < argc) {
        fprintf(stderr, "wharf: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t max, const char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = strerror(errno);
        return NULL;
    }
    char *text = xmalloc(max + 1);
    size_t n = fread(text, 1, max + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err || n > max) {
        *why = err ? "read error" : "file too large";
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* The site the command line's --root and --php apply to: the one without hosts, else the
 * first, else a new one. */
static struct site_conf *default_site(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_sites; i++)
        if (cfg->sites[i].hosts.n == 0)
            return &cfg->sites[i];
    return cfg->n_sites ? &cfg->sites[0] : config_add_site(cfg, "default");
}

/* Development mode: the detected root, preset and php-fpm, each unless a flag gave it. */
static void apply_dev(struct config *cfg, const struct cli *cli)
{
    const struct dev_session *d = cli->dev_mode;
    const struct dev_plan *p = &d->plan;
    struct site_conf *def = default_site(cfg);
    cfg->server.dev = true;
    cfg->server.dev_reload = cli->dev_opt.watch != 0;
    if (d->tls) { /* --https: beside HTTP, with the certificate dev_tls issued */
        struct server_conf *srv = &cfg->server;
        const char *why;
        srv->tls_listen = xrealloc(srv->tls_listen, sizeof *srv->tls_listen);
        if (config_parse_listen(d->tls_listen, &srv->tls_listen[0], &why) == 0)
            srv->n_tls_listen = 1;
        free(srv->tls_cert);
        free(srv->tls_key);
        srv->tls_cert = xstrdup(d->tls->cert);
        srv->tls_key = xstrdup(d->tls->key);
    }
    if (!cli->root) {
        free(def->root);
        def->root = xstrdup(p->root);
        def->root_line = 0;
    }
    struct fcgi_site_conf *f = &def->fcgi;
    if (!p->det.preset) {
        def->browse = true;                   /* static files: browse on */
        if (cli->php && !cli->php_upstream) { /* --php: the php-fpm .php-version chose */
            free(f->spawn_binary);
            f->spawn_binary = p->fpm ? xstrdup(p->fpm) : NULL;
        }
        return;
    }
    if (!cli->php) { /* --php ADDR or --php keep their upstream; else spawn the chosen one */
        f->spawn = true;
        free(f->spawn_binary);
        f->spawn_binary = p->fpm ? xstrdup(p->fpm) : NULL;
    } else if (!cli->php_upstream) {
        free(f->spawn_binary);
        f->spawn_binary = p->fpm ? xstrdup(p->fpm) : NULL;
    }
    free(f->preset_name);
    f->preset_name = xstrdup(p->det.preset);
    f->preset_line = 0;
}

/* --listen: the addresses given replace [server] listen; each bad one is an error. */
static void apply_listen(struct config *cfg, const struct cli *cli, struct errlist *errs)
{
    struct server_conf *sv = &cfg->server;
    for (size_t i = 0; i < sv->n_listen; i++) {
        free(sv->listen[i].host);
        free(sv->listen[i].text);
    }
    free(sv->listen);
    sv->listen = xcalloc(cli->n_listen, sizeof *sv->listen);
    sv->n_listen = 0;
    for (size_t i = 0; i < cli->n_listen; i++) {
        const char *why;
        if (config_parse_listen(cli->listen[i], &sv->listen[sv->n_listen], &why) != 0)
            errlist_add(errs, "--listen: expected %s, got '%s'", why, cli->listen[i]);
        else
            sv->n_listen++;
    }
}

/* --php: PHP through FastCGI for the default site, with the php preset: the upstream given
 * replaces the file's, or without one wharf spawns php-fpm. */
static void apply_php(struct config *cfg, const struct cli *cli, struct errlist *errs)
{
    struct fcgi_site_conf *f = &default_site(cfg)->fcgi;
    for (size_t i = 0; i < f->n_upstreams; i++)
        config_upstream_dispose(&f->upstreams[i]);
    f->n_upstreams = 0;
    f->spawn = !cli->php_upstream;
    if (cli->php_upstream) {
        const char *why = NULL;
        f->upstreams = xrealloc(f->upstreams, sizeof *f->upstreams);
        if (config_parse_upstream(cli->php_upstream, &f->upstreams[0], &why) != 0)
            errlist_add(errs, "--php: expected %s, got '%s'", why, cli->php_upstream);
        else
            f->n_upstreams = 1;
    }
    free(f->preset_name);
    f->preset_name = xstrdup("php");
    f->preset_line = 0;
}

/* The flags that apply to every site (--browse, --gzip, --access-log, --access-log-format),
 * once config_finish() has made the sites whole. */
static void apply_site_flags(struct config *cfg, const struct cli *cli, struct errlist *errs)
{
    enum access_log_style style = ACCESS_LOG_TIMED_COMBINED;
    const char *why = NULL;
    if (cli->access_log_format &&
        config_parse_access_log_format(cli->access_log_format, &style, &why) != 0)
        errlist_add(errs, "--access-log-format: expected %s, got '%s'", why,
                    cli->access_log_format);
    for (size_t i = 0; i < cfg->n_sites; i++) {
        struct site_conf *s = &cfg->sites[i];
        if (cli->browse)
            s->browse = true;
        if (cli->gzip)
            s->gzip = true;
        if (cli->access_log) {
            free(s->access_log);
            s->access_log = xstrdup(cli->access_log);
        }
        if (cli->access_log_format)
            s->access_log_format = style;
    }
}

/* Command-line flags win over the file: --root, --php and --preset apply to the default site,
 * the other site flags to every site. */
static int apply_cli(struct config *cfg, const struct cli *cli, struct errlist *errs)
{
    if (cli->n_listen)
        apply_listen(cfg, cli, errs);
    if (cli->user) {
        free(cfg->server.user);
        cfg->server.user = xstrdup(cli->user);
        cfg->server.user_line = 0;
    }
    if (cli->root) {
        struct site_conf *def = default_site(cfg);
        free(def->root);
        def->root = xstrdup(cli->root);
        def->root_line = 0;
    }
    if (cli->php)
        apply_php(cfg, cli, errs);
    if (cli->dev_mode) /* development mode: what it detected, under the flags given */
        apply_dev(cfg, cli);
    if (cli->preset) {
        /* checked with the others by preset_resolve_all(), which names --preset */
        struct fcgi_site_conf *f = &default_site(cfg)->fcgi;
        free(f->preset_name);
        f->preset_name = xstrdup(cli->preset);
        f->preset_line = 0;
        f->preset_from_cli = true;
    }
    config_finish(cfg, errs);
    apply_site_flags(cfg, cli, errs);
    return errs->n ? -1 : 0;
}

static struct mime_table *load_mime(const struct config *cfg)
{
    struct mime_table *m = mime_table_new();
    const char *path = cfg->server.mime_types ? cfg->server.mime_types : MIME_TYPES_DEFAULT;
    const char *why;
    char *text = read_file(path, MIME_TYPES_MAX, &why);
    if (text) {
        mime_table_load_text(m, text, strlen(text));
        free(text);
    } else if (cfg->server.mime_types) {
        log_warn("mime", 0, "mime_types '%s': %s; using the built-in table", path, why);
    }
    return m;
}

/* Relative roots are taken from the directory wharf was started in, once, so that log lines
 * and (later) DOCUMENT_ROOT name a real place. Symlinks are kept: a deploy may swap them. */
static void absolutize_roots(struct config *cfg)
{
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return;
    for (size_t i = 0; i < cfg->n_sites; i++) {
        char *root = cfg->sites[i].root;
        if (!root || root[0] == '/')
            continue;
        size_t n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
            n--;
        if (n == 1 && root[0] == '.')
            cfg->sites[i].root = xstrdup(cwd);
        else
            cfg->sites[i].root = xasprintf("%s/%.*s", strcmp(cwd, "/") ? cwd : "", (int)n, root);
        free(root);
        if (cfg->sites[i].git.shared_dir) { /* beside the releases, as the git worker sees them */
            char *state = release_state_dir(cfg->sites[i].root);
            free(cfg->sites[i].git.shared_dir);
            cfg->sites[i].git.shared_dir = xasprintf("%s/shared", state);
            free(state);
        }
    }
}

static void print_errors(const struct errlist *errs, const char *prefix)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "%s%s\n", prefix, errs->msg[i]);
}

/*
 * wharf --deploy of a site with git_check: the health gate asks a server, so this process
 * serves one for the length of the deploy, on a private loopback port (127.0.0.1, a port the
 * kernel picks: a running server's listeners are never in the way), with the configuration's
 * sites and one worker, no admin listener, no access log (the check requests are in the
 * deploy's log). The deploy runs on that server's runtime of the site, so the checks after the
 * switch see the new release live, and a failing one rolls back as in the server.
 */
static int checked_deploy(struct config *cfg, const struct site_conf *s)
{
    struct server_conf saved = cfg->server;
    char **logs = xcalloc(cfg->n_sites, sizeof *logs);
    struct listen_addr la = {.host = "127.0.0.1", .port = 0, .text = "127.0.0.1:0 (git_check)"};
    cfg->server.listen = &la;
    cfg->server.n_listen = 1;
    cfg->server.n_tls_listen = 0;
    cfg->server.n_admin_listen = 0;
    cfg->server.workers = 1;
    for (size_t i = 0; i < cfg->n_sites; i++) {
        logs[i] = cfg->sites[i].access_log;
        cfg->sites[i].access_log = NULL;
    }
    struct errlist errs = {0};
    int rc = -1;
    struct mime_table *mime = load_mime(cfg);
    static_file_init(&cfg->server, mime);
    fcgi_request_setup(&cfg->server);
    struct site_table *t = sites_start(cfg, &errs);
    if (t && http_front_start(cfg, t, &errs) == 0) {
        rc = git_worker_deploy_here(site_of(t, s)->git);
        http_front_stop();
    }
    print_errors(&errs, "wharf: ");
    if (errs.n)
        fprintf(stderr, "wharf: cannot serve the health check (git_check) of [site %s]\n", s->name);
    sites_stop(t);
    static_file_shutdown();
    mime_table_free(mime);
    for (size_t i = 0; i < cfg->n_sites; i++)
        cfg->sites[i].access_log = logs[i];
    free(logs);
    cfg->server = saved;
    errlist_dispose(&errs);
    return rc;
}

/* --deploy SITE / --rollback SITE: done in this process, under the site's deploy lock; a
 * running server serves the new release at once (it follows the root symlink per request). */
static int one_shot_deploy(struct config *cfg, const char *name, bool rollback)
{
    for (size_t i = 0; i < cfg->n_sites; i++) {
        const struct site_conf *s = &cfg->sites[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (!s->git.repo) {
            fprintf(stderr, "wharf: [site %s] has no git_repo\n", name);
            return 1;
        }
        int rc = !rollback && s->git.check ? checked_deploy(cfg, s) : git_deploy_once(s, rollback);
        fprintf(stderr, "wharf: %s of [site %s] %s\n", rollback ? "rollback" : "deploy", name,
                rc == 0 ? "done" : "failed (see above)");
        return rc == 0 ? 0 : 1;
    }
    fprintf(stderr, "wharf: no [site %s] in the configuration\n", name);
    return 1;
}

/* Read, complete and check the configuration as start-up and reload both do: the file, then
 * the flags over it, then the file system and the presets. Every pass runs even after errors,
 * so --test (and a refused reload) lists all of them at once. -1 with errs; -2 when the file
 * cannot be read (errs says why). */
static int load_config(const struct cli *cli, struct config *cfg, struct errlist *errs)
{
    config_init(cfg);
    if (cli->config) {
        const char *why;
        char *text = read_file(cli->config, 1u << 20, &why);
        if (!text) {
            errlist_add(errs, "cannot read %s: %s", cli->config, why);
            return -EIO; /* the one error: no configuration to check further */
        }
        config_parse(cfg, text, cli->config, errs);
        free(text);
    }
    apply_cli(cfg, cli, errs);
    config_read_secrets(cfg, errs);
    if (config_check_fs(cfg, errs) == 0 && errs->n == 0)
        absolutize_roots(cfg);
    preset_resolve_all(cfg, errs);
    return errs->n ? -1 : 0;
}

/* ---- reload (SIGHUP) ------------------------------------------------------------------------ */

/* A site table a reload replaced, with its configuration (NULL: the start-up one, which lives
 * until exit because the listeners and [server] settings stay its own). Stopped by
 * reload_tick once nothing can reach it. */
struct retired {
    struct site_table *sites;
    struct config *cfg;
    struct worker_epoch epoch; /* taken right after the swap, again once it looked unused */
    bool unused;               /* sites_unused() was true when epoch was taken again */
};

static struct retired *retired;
static size_t n_retired;

static void retired_free(struct retired *g)
{
    sites_stop(g->sites);
    if (g->cfg) {
        config_dispose(g->cfg);
        free(g->cfg);
    }
}

/* Once a second, and at exit (every connection closed): stop the old tables nothing uses. */
static void reload_tick(bool all)
{
    for (size_t i = 0; i < n_retired;) {
        struct retired *g = &retired[i];
        /* unused, and every worker turned since it was seen so: a worker that has just closed
         * the last connection of one of its pools is out of that code */
        if (!all && !g->unused && worker_epoch_passed(&g->epoch) && sites_unused(g->sites)) {
            g->unused = true;
            worker_epoch_take(&g->epoch);
        }
        if (!all && !(g->unused && worker_epoch_passed(&g->epoch))) {
            i++;
            continue;
        }
        retired_free(g);
        log_info("reload", 0, "the previous configuration's sites are stopped");
        retired[i] = retired[--n_retired];
    }
}

/*
 * SIGHUP. start is the start-up configuration: its [server] settings but the listeners, limits
 * and timeouts stay in force, so a change there is reported as needing a restart. *cur / *cur_cfg:
 * the running table and its configuration (NULL = start's), replaced on success.
 */
static void reload(const struct cli *cli, const struct config *start, struct site_table **cur,
                   struct config **cur_cfg)
{
    lifecycle_set(LIFECYCLE_RELOADING);
    service_notify_reloading();
    log_info("reload", 0, "SIGHUP: reloading %s", cli->config ? cli->config : "(command line)");
    struct config *cfg = xmalloc(sizeof *cfg);
    struct errlist errs = {0};
    preset_forget_loaded(); /* presets are read again, as at start-up */
    load_config(cli, cfg, &errs);
    /* new listeners first (a busy port), so that a refused reload starts no git site */
    bool listening = !errs.n && http_front_listen_prepare(cfg, &errs) == 0;
    struct site_table *t = listening ? sites_reload(cfg, *cur, &errs) : NULL;
    if (!t && listening)
        http_front_listen_abort();
    if (!t) {
        for (size_t i = 0; i < errs.n; i++)
            log_error("reload", 0, "%s", errs.msg[i]);
        log_error("reload", 0,
                  "reload refused: %zu error%s; still serving the running configuration", errs.n,
                  errs.n == 1 ? "" : "s");
        config_dispose(cfg);
        free(cfg);
    } else {
        const char *keys[32];
        size_t n = reload_server_changes(&start->server, &cfg->server, keys, 32);
        for (size_t i = 0; i < n && i < 32; i++)
            log_warn("reload", 0, "[server] %s changed: it takes effect at the next restart",
                     keys[i]);
        http_front_set_limits(&cfg->server); /* before the sites: a request sees both */
        log_set_format(cfg->server.error_log_format);
        sites_commit(t, *cur);
        struct site_table *old = http_front_swap(t);
        admin_set_sites(t); /* returns once no scrape reads the old table */
        http_front_listen_commit(&cfg->server);
        retired = xrealloc(retired, (n_retired + 1) * sizeof *retired);
        retired[n_retired] = (struct retired){old, *cur_cfg, {{0}, 0}, false};
        worker_epoch_take(&retired[n_retired].epoch);
        n_retired++;
        *cur = t;
        *cur_cfg = cfg;
        acme_start(cfg);
        if (git_worker_start() != 0) /* a first git site: its thread */
            log_error("main", 0, "cannot start the git deploy thread");
        for (size_t i = 0; i < cfg->n_sites; i++)
            log_info("reload", 0, "site %s: root %s%s", cfg->sites[i].name, cfg->sites[i].root,
                     cfg->sites[i].hosts.n ? "" : " (default)");
        log_info("reload", 0, "configuration reloaded (%zu site%s)", cfg->n_sites,
                 cfg->n_sites == 1 ? "" : "s");
    }
    errlist_dispose(&errs);
    lifecycle_set(LIFECYCLE_SERVING);
    service_notify_ready(); /* the reload is over, switched or refused */
}

/* Each message on its line of stderr, after prefix ("" for FILE:LINE messages). */
/*
 * SIGTERM: not ready any more (lifecycle, set by the caller), STOPPING=1, listeners closed,
 * idle keep-alive connections closed and busy ones closed after their response, then wait
 * until no connection is left or timeout_ms has passed, or a second SIGTERM/SIGINT comes.
 * What is still open then is cut by teardown().
 */
static void drain(const sigset_t *set, uint64_t timeout_ms, struct site_table *sites)
{
    service_notify_stopping();
    http_front_drain();
    uint64_t t0 = clock_ms();
    unsigned open = 0;
    while ((open = http_front_open_connections()) > 0) {
        uint64_t waited = clock_ms() - t0;
        if (waited >= timeout_ms) {
            log_warn("main", 0, "shutdown_timeout (%llu ms) reached: closing %u connection%s",
                     (unsigned long long)timeout_ms, open, open == 1 ? "" : "s");
            return;
        }
        uint64_t left = timeout_ms - waited;
        struct timespec tick = {0, (long)(left < 50 ? left : 50) * 1000000L};
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("main", 0, "signal %d again: stopping now (%u connection%s open)", sig, open,
                     open == 1 ? "" : "s");
            return;
        }
        fpm_supervisor_poll(sites->fpm);
    }
    log_info("main", 0, "drained in %llu ms", (unsigned long long)(clock_ms() - t0));
}

/* Every exit path after start-up goes through here: each step undoes only what was done. */
static void teardown(struct site_table *sites, struct mime_table *mime)
{
    acme_stop();       /* no uacme runs from here on */
    admin_stop();      /* no scrape reads the sites from here on */
    peers_stop();      /* no fan-out is queued to notify from here on */
    git_worker_stop(); /* no deploy runs from here on */
    dev_watch_close_streams();
    http_front_stop();     /* listeners, connections, workers, engines: no request is left */
    dev_watch_stop();      /* live reload's watcher (development mode) */
    reload_tick(true);     /* the tables reloads replaced and that still waited */
    sites_stop(sites);     /* git states, pools, php-fpm */
    access_log_shutdown(); /* flushes and closes every access log */
    static_file_shutdown();
    mime_table_free(mime);
    preset_free_all();
}

/*
 * Development mode, when a development flag asks for it or nothing names what to serve (no
 * --config, --root, --deploy, --rollback or --test): the project is looked at (dev_start) and
 * the command line filled in from it (without --listen, the free port it found). Returns -1 to
 * go on serving (cli->dev_mode is dev when in development mode), or the exit status: 2 for a
 * development flag with --config, 1 when the project cannot be served, 0 after --dev-explain
 * printed its answer.
 */
static int enter_dev_mode(struct cli *cli, struct dev_session *dev)
{
    const struct dev_options *o = &cli->dev_opt;
    bool dev_flag = cli->dev || o->explain || o->watch != -1 || o->watch_ignore.n || o->open ||
                    o->https || o->name;
    if (dev_flag && (cli->config || cli->deploy || cli->rollback)) {
        fprintf(stderr, "wharf: development mode (dev, --dev-explain, --watch, --open, --https, "
                        "--name) works without --config\n");
        return 2;
    }
    if (!dev_flag && (cli->config || cli->root || cli->deploy || cli->rollback || cli->test))
        return -1;
    struct dev_flags fl = {
        .root = cli->root,
        .preset = cli->preset,
        .php = cli->php,
        .php_upstream = cli->php_upstream,
        .listen = cli->n_listen ? cli->listen[0] : NULL,
        .browse = cli->browse,
        .gzip = cli->gzip,
        .access_log = cli->access_log,
    };
    struct errlist errs = {0};
    int rc = dev_start(dev, o, &fl, &errs) == 0 ? -1 : 1;
    print_errors(&errs, "wharf: ");
    errlist_dispose(&errs);
    if (rc < 0 && o->explain) {
        dev_plan_explain(&dev->plan, &fl, stdout);
        rc = 0;
    }
    if (rc >= 0) {
        dev_stop(dev);
        return rc;
    }
    if (dev->listen[0]) { /* as if given: --listen 127.0.0.1:PORT */
        cli->listen = xmalloc(sizeof *cli->listen);
        cli->listen[0] = dev->listen;
        cli->n_listen = 1;
    }
    cli->dev_mode = dev;
    return -1;
}

/* The error log, in the format asked for; development mode's terminal shows only warnings
 * and errors (the banner and the request lines say the rest). */
static int open_error_log(const struct cli *cli, const struct config *cfg,
                          const struct privileges *priv)
{
    const char *why;
    privileges_own_file(priv, cfg->server.error_log);
    if (log_open(cfg->server.error_log, &why) != 0) {
        fprintf(stderr, "wharf: error_log '%s': %s\n", cfg->server.error_log, why);
        return -1;
    }
    log_set_format(cfg->server.error_log_format);
    if (cli->dev_mode && !cli->config)
        log_set_level(LOG_WARN); /* the terminal shows the banner, requests and problems */
    return 0;
}

/* Block the signals we handle before any thread exists, so only sigtimedwait sees them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * Start the server in the order docs/architecture.md ("Start order") gives, up to READY=1.
 * What needs root (ports below 1024, TLS keys, log files) comes before the drop, and the drop
 * before any thread or child (php-fpm, git) exists. The running sites, with *mime; NULL after
 * printing errs, everything started already stopped again (teardown).
 */
static struct site_table *start_server(struct config *cfg, const struct privileges *priv,
                                       struct mime_table **mime, struct errlist *errs)
{
    privileges_warn_root(cfg);
    if (http_front_listen(cfg, errs) == 0) {
        for (size_t i = 0; i < cfg->n_sites; i++)
            privileges_own_file(priv, cfg->sites[i].access_log);
        privileges_drop(priv, errs);
    }
    struct site_table *sites = errs->n ? NULL : sites_start(cfg, errs);
    *mime = load_mime(cfg);
    static_file_init(&cfg->server, *mime);
    fcgi_request_setup(&cfg->server);
    if (!sites || http_front_start(cfg, sites, errs) != 0 || admin_start(cfg, sites, errs) != 0) {
        print_errors(errs, "wharf: ");
        teardown(sites, *mime);
        return NULL;
    }
    access_log_start();
    acme_start(cfg); /* never waits: a temporary certificate is served meanwhile */
    if (git_worker_start() != 0)
        log_error("main", 0, "cannot start the git deploy thread");
    for (size_t i = 0; i < cfg->n_sites; i++)
        log_info("main", 0, "site %s: root %s%s", cfg->sites[i].name, cfg->sites[i].root,
                 cfg->sites[i].hosts.n ? "" : " (default)");
    lifecycle_set(LIFECYCLE_SERVING);
    log_info("main", 0, "wharf %s ready (pid %ld)", PACKAGE_VERSION, (long)getpid());
    service_notify_ready();
    return sites;
}

/*
 * Handle signals until a stop, then drain. cfg is the start-up configuration; *sites and
 * *live_cfg (NULL = cfg) are the running table and its configuration, which reloads replace.
 */
static void serve(const sigset_t *set, const struct cli *cli, const struct config *cfg,
                  struct site_table **sites, struct config **live_cfg)
{
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(set, NULL, &tick);
        /* note: development mode runs in a terminal and has no configuration to reload, so
         * a hangup (the terminal closed, tmux killed) stops it, as it stops php -S */
        bool hangup_stops = sig == SIGHUP && cfg->server.dev;
        if (sig == SIGTERM || sig == SIGINT || hangup_stops) {
            log_info("main", 0, "signal %d: shutting down", sig);
            lifecycle_set(LIFECYCLE_DRAINING);
            dev_watch_close_streams(); /* browsers' event streams would hold the drain */
            drain(set, (*live_cfg ? *live_cfg : cfg)->server.shutdown_timeout_ms, *sites);
            return;
        }
        if (sig == SIGUSR1) {
            log_reopen();
            access_log_reopen_all();
            log_info("main", 0, "logs reopened");
        } else if (sig == SIGUSR2) {
            log_info("main", 0, "SIGUSR2: deploying every git site");
            git_worker_request_all();
        } else if (sig == SIGHUP) {
            reload(cli, cfg, sites, live_cfg);
        }
        reload_tick(false);
        if (cli->dev_mode)
            dev_tick(cli->dev_mode); /* --open's xdg-open */
        fpm_supervisor_poll((*sites)->fpm);
        http_front_tick();
        tls_store_refresh(); /* certificate files renewed or replaced: served without restart */
        basic_auth_refresh_all(clock_ms()); /* htpasswd files: read here, never by a check */
    }
}

int main(int argc, char **argv)
{
    struct cli cli = {.dev_opt.watch = -1};
    struct dev_session dev = {0};
    struct config cfg;
    struct errlist errs = {0};
    int rc = 1;

    /* wharf is also uacme's challenge hook and the namespace wrapper of acme_ca_roots */
    if (argc >= 2 && strcmp(argv[1], ACME_EXEC_FLAG) == 0)
        return acme_exec_main(argc, argv);
    if (argc == 6 && getenv(ACME_HOOK_ENV))
        return acme_hook_main(argc, argv);
    if (parse_cli(argc, argv, &cli) != 0) {
        fputs("Try 'wharf --help'.\n", stderr);
        return 2;
    }
    int dev_rc = enter_dev_mode(&cli, &dev);
    if (dev_rc >= 0)
        return dev_rc;
    if (load_config(&cli, &cfg, &errs) == -EIO) {
        fprintf(stderr, "wharf: %s\n", errs.msg[0]);
        errlist_dispose(&errs);
        config_dispose(&cfg);
        return 1;
    }
    struct privileges priv;
    privileges_resolve(&cfg, &priv, &errs);
    if (errs.n) {
        print_errors(&errs, "");
        fprintf(stderr, "wharf: %zu error%s in the configuration\n", errs.n,
                errs.n == 1 ? "" : "s");
        goto out;
    }
    if (cli.test) {
        privileges_warn_root(&cfg);
        printf("wharf: configuration %s is valid\n", cli.config ? cli.config : "(command line)");
        rc = 0;
        goto out;
    }
    if (cli.deploy || cli.rollback) {
        /* as the server would: releases made as root could not be replaced by the service */
        if (privileges_drop(&priv, &errs) != 0) {
            print_errors(&errs, "");
            goto out;
        }
        rc = one_shot_deploy(&cfg, cli.deploy ? cli.deploy : cli.rollback, cli.rollback != NULL);
        goto out;
    }

    if (open_error_log(&cli, &cfg, &priv) != 0)
        goto out;
    sigset_t set;
    block_signals(&set);
    struct mime_table *mime;
    struct site_table *sites = start_server(&cfg, &priv, &mime, &errs);
    if (!sites)
        goto out;
    if (cli.dev_mode) /* the project; with --root, that directory (already absolute) */
        dev_ready(cli.dev_mode, &cfg, cli.root ? default_site(&cfg)->root : NULL);
    struct config *live_cfg = NULL; /* the running sites' configuration after a reload */
    serve(&set, &cli, &cfg, &sites, &live_cfg);
    teardown(sites, mime);
    if (live_cfg) {
        config_dispose(live_cfg);
        free(live_cfg);
    }
    log_info("main", 0, "stopped");
    rc = 0;
out:
    errlist_dispose(&errs);
    config_dispose(&cfg);
    free(cli.listen);
    dev_stop(&dev);
    free(cli.dev_opt.watch_ignore.v);
    return rc;
}
