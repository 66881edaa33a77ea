/*
 * dev: development mode's side effects, around the pure decisions of dev_detect.h. It looks at
 * the project directory and PATH once at start-up (the plan), finds a free port, prints the
 * banner and --dev-explain, and starts the browser. Nothing here runs per request: the server
 * only sees the configuration the plan produced (main.c applies it like flags).
 *
 * A session's life, all on main's thread: dev_start (before the configuration: the plan, the
 * certificate of --https, the ports), dev_ready (once the server is ready: the banner, --open,
 * live reload's watcher), dev_tick (main's 1 s tick), dev_stop.
 */
#ifndef WHARF_DEV_H
#define WHARF_DEV_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "dev_detect.h"
#include "util.h"

struct dev_tls;

struct dev_plan {
    char *dir;                /* the project directory (absolute) */
    struct dev_detection det; /* what it holds */
    char *root;               /* the detected document root (absolute) */
    bool need_fpm;            /* look for php-fpm (PHP detected, no --php ADDR) */
    char *fpm;                /* the php-fpm to run; NULL = none (static, or --php ADDR) */
    char *fpm_version;        /* its -v first line ("PHP 8.4.11 (fpm-fcgi) ..."); "" = unknown */
    char php_version[16];     /* what .php-version asks for; "" = no such file */
};

/* The command-line flags that override what development mode detects (for --dev-explain). */
struct dev_flags {
    const char *root;         /* --root; NULL = not given */
    const char *preset;       /* --preset */
    bool php;                 /* --php (with or without an address) */
    const char *php_upstream; /* --php ADDR */
    const char *listen;       /* the first --listen */
    bool browse, gzip;        /* --browse, --gzip */
    const char *access_log;   /* --access-log */
};

/* Development mode's own command-line flags (main.c parses them). */
struct dev_options {
    bool explain;                 /* --dev-explain: only the plan is wanted */
    bool open;                    /* --open */
    int watch;                    /* --watch 1, --no-watch 0, neither -1 (on in development mode) */
    struct str_list watch_ignore; /* --watch-ignore NAME... */
    bool https;                   /* --https */
    const char *name;             /* --name NAME: NAME.localhost */
};

/* One development session: what dev_start decided and made, released by dev_stop. */
struct dev_session {
    const struct dev_options *opt; /* the flags it started with (the caller's) */
    struct dev_plan plan;          /* the project's decisions */
    struct dev_tls *tls;           /* --https's certificate; NULL = none */
    char tls_listen[64];           /* its address, "127.0.0.1:8443" */
    char listen[64];               /* without --listen: "127.0.0.1:8080" or the next free; "" */
    pid_t opener;                  /* --open's xdg-open until dev_tick reaps it; -1 = none */
};

/** Development mode's start-up, before the configuration: look at the current directory (the
 *  plan, under the flags fl), check --name, and unless o->explain make --https's certificate
 *  and pick its port (127.0.0.1:8443 or the next free), and without --listen (fl->listen)
 *  127.0.0.1:8080 or the next free port (d->listen). d keeps o. 0, or -1 with errors (a
 *  .php-version that cannot be met, a PHP application without php-fpm, no free port): the
 *  caller then still calls dev_stop. */
int dev_start(struct dev_session *d, const struct dev_options *o, const struct dev_flags *fl,
              struct errlist *errs);
/** The server is ready (cfg is what it serves): the banner on stderr, how to trust the CA of
 *  --https, --open's browser, and live reload's watcher of watched (NULL: the project) when
 *  cfg asks for it; what fails there is a warning in the log. */
void dev_ready(struct dev_session *d, const struct config *cfg, const char *watched);
/** main's 1 s tick: reaps --open's xdg-open once it has exited. */
void dev_tick(struct dev_session *d);
/** Release what dev_start made (the watcher stops with the server: dev_watch_stop). Safe on a
 *  zeroed session. */
void dev_stop(struct dev_session *d);

/** Look at dir (detection, .php-version, php-fpm when need_php and PHP was detected, or when
 *  force_php: --php without an address runs php-fpm even for a static project). 0, or -1 with
 *  errors (a bad .php-version, a missing php-fpm: the message lists what is installed). */
int dev_plan_make(struct dev_plan *p, const char *dir, bool need_php, bool force_php,
                  struct errlist *errs);
void dev_plan_dispose(struct dev_plan *p);
/** --dev-explain: each decision with the file that made it, then the final value under the
 *  flags fl, naming the flag that changed it (and what was detected). */
void dev_plan_explain(const struct dev_plan *p, const struct dev_flags *fl, FILE *out);
/** The first port from first to first+19 that host (an IPv4 or IPv6 literal) can listen on,
 *  else one the kernel picks; 0 if none at all. */
unsigned dev_free_port(const char *host, unsigned first);
/** The banner: what was detected (and the deciding file), the URL(s), php-fpm, how to stop.
 *  color: ANSI bold/colour (dev_use_color). */
void dev_banner(const struct dev_plan *p, const char *url, const char *https_url, bool color,
                FILE *out);
/** Colour for fd: a terminal, and NO_COLOR unset or empty (https://no-color.org). */
bool dev_use_color(int fd);
/** Start `xdg-open URL` (PATH), its output discarded. Its pid (reap with waitpid), or -1. */
pid_t dev_open_browser(const char *url);

#endif
