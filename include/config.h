/*
 * config: INI text -> an immutable struct config. The only code that sees strings from the
 * INI file. Keys are rows of a table (section kind, key, type, offset, default, range); adding
 * a key is adding a row. Parsing is pure (the caller reads the file); config_check_fs() is the
 * one separate pass that looks at the file system (roots exist and are directories).
 *
 * Every error is reported as "FILE:LINE: message" and parsing goes on, so --test lists all of
 * them at once. A config with any error is never used.
 */
#ifndef WHARF_CONFIG_H
#define WHARF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access_log.h"
#include "cidr.h"
#include "error_page.h"
#include "header_rule.h"
#include "log.h"
#include "path_match.h"
#include "real_ip.h"
#include "redirect.h"
#include "util.h"

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_DEFAULT_ACME_CA "https://acme-v02.api.letsencrypt.org/directory"
#define CONFIG_DEFAULT_ACME_DIR "/var/lib/wharf/acme"
#define CONFIG_DEFAULT_INDEX "index.html index.htm default.html default.htm"
/* fastcgi_max_conns when not given: requests in flight per upstream. With "fastcgi = spawn"
 * wharf writes php-fpm's pm.max_children itself and uses it; an external php-fpm's is not
 * known (FCGI_GET_VALUES does not report it), so a moderate bound that does not throttle
 * pages calling their own site, and that php-fpm's backlog absorbs when it has fewer
 * children (kept connections beyond them are released, see fcgi_pool). */
#define CONFIG_FCGI_MAX_CONNS 16
#define CONFIG_FCGI_SPAWN_CHILDREN 8

enum follow_symlinks {
    FOLLOW_INSIDE = 0, /* follow only when the target resolves inside the root (default) */
    FOLLOW_ON,         /* follow anywhere */
    FOLLOW_OFF,        /* never follow a symlink */
};

struct listen_addr {
    char *host;    /* "127.0.0.1", "::1", "localhost"; NULL = all addresses (":port") */
    uint16_t port; /* 1..65535 */
    char *text;    /* as written, for messages */
    unsigned line; /* line in the config file; 0 = command line or default */
};

struct str_list {
    char **v;
    size_t n;
};

enum fcgi_lb {
    FCGI_LB_ROUND_ROBIN = 0,
    FCGI_LB_LEAST_CONN,
    FCGI_LB_RANDOM,
    FCGI_LB_IP_HASH,
};

struct upstream_addr {
    char *text; /* as written: "127.0.0.1:9000", "[::1]:9000", "unix:/run/php.sock" */
    char *host; /* TCP host; NULL for unix sockets */
    uint16_t port;
    char *path; /* unix socket path; NULL for TCP */
};

/* A preset: presets/NAME.ini, the FastCGI routing rules of one kind of application. */
struct preset {
    char *name;
    char *ext;                     /* ".php": files with it run, and are never served as source */
    char *split;                   /* ".php": where SCRIPT_NAME ends and PATH_INFO begins */
    struct str_list index;         /* index scripts tried for a directory ("index.php") */
    char *try_script;              /* front controller for requests matching no file ("/index.php");
                                    * NULL = 404 */
    struct str_list env;           /* NAME=VALUE params added to every request */
    struct str_list deny;          /* URL path prefixes refused (403) on every site using it */
    struct str_list shared;        /* default git_shared of git sites using it */
    char *server_software_comment; /* "nginx-compatible": SERVER_SOFTWARE is
                                    * "wharf/VERSION (nginx-compatible)"; NULL = none */
};

struct fcgi_site_conf {
    struct upstream_addr *upstreams; /* empty = FastCGI off */
    size_t n_upstreams;
    bool spawn;                  /* "fastcgi = spawn": wharf runs php-fpm itself */
    char *spawn_binary;          /* the php-fpm spawn runs (dev mode's .php-version);
                                  * NULL = search PATH (fpm_supervisor.h) */
    char *preset_name;           /* "php" */
    const struct preset *preset; /* resolved by preset_resolve_all() */
    char *path;                  /* URL prefix handled by FastCGI ("/") */
    struct str_list except;      /* URL prefixes never sent to FastCGI */
    struct str_list env;         /* NAME=VALUE, after the preset's */
    char *root;                  /* document root as the backend sees it; NULL = root */
    enum fcgi_lb lb;
    unsigned max_conns;          /* connections open at once per upstream = requests in flight
                                  * (php-fpm does not multiplex); 0 until config_finish() */
    unsigned keep_conns;         /* idle connections kept open per upstream (each pins a
                                  * php-fpm child); more are closed after their request */
    uint64_t queue_timeout_ms;   /* wait for a free connection, then 503 */
    uint64_t connect_timeout_ms; /* then 502 (next upstream tried) */
    uint64_t read_timeout_ms;    /* between two reads from the backend, then 504 */
    uint64_t send_timeout_ms;    /* between two writes to the backend, then 504 */
    uint64_t max_body_bytes;     /* larger request bodies get 413 */
    uint64_t body_buffer_bytes;  /* request body kept in memory, beyond it a temp file */
    struct str_list sendfile;    /* fastcgi_sendfile: absolute directories (no final '/') an
                                  * X-Sendfile/X-Accel-Redirect file must be under; empty = off */
    unsigned sendfile_line;
    unsigned line;        /* line of the fastcgi key; 0 = command line */
    unsigned preset_line; /* line of fastcgi_preset; 0 = default/command line */
    bool preset_from_cli; /* named by --preset (errors say so) */
};

struct git_site_conf {
    char *repo;           /* https, ssh, file URL or local path; NULL = no git deploy */
    char *branch;         /* NULL = the remote's default branch */
    char *revision_file;  /* names the commit (or ref) to deploy instead of the branch's head,
                           * read at each deploy; NULL = the branch's head */
    char *key;            /* ssh private key */
    char *known_hosts;    /* a known_hosts file, or "strict" (ssh's own files, the
                           * default) or "accept-new" (trust on first use) */
    uint64_t interval_ms; /* between polls; 0 = only at start, webhooks and signals */
    char *then;           /* build command run in the new release (sh -c); NULL = none */
    uint64_t then_timeout_ms;
    uint64_t timeout_ms; /* each git command */
    char *hook;          /* URL path receiving push webhooks; NULL = none */
    char *secret;        /* webhook secret (required with hook); git_secret_file's content */
    unsigned secret_line;
    char *secret_file; /* a file holding the secret (a mounted Secret); NULL = none */
    unsigned secret_file_line;
    unsigned keep;  /* old releases kept besides the live one */
    unsigned depth; /* shallow fetch depth; 0 = full history */
    bool submodules;
    char *subdir;           /* serve this subdirectory of the checkout ("public") */
    char *status;           /* URL path of the JSON deploy status; NULL = none */
    unsigned line;          /* line of git_repo */
    struct str_list shared; /* git_shared specs (shared_path.h), linked into every release */
    unsigned shared_line;   /* line of git_shared; 0 = not given (the preset's apply) */
    char *env_file;         /* NAME=VALUE file for git_then/git_after; NULL = none */
    unsigned env_file_line;
    char *after;                /* command run after a switch (sh -c); NULL = none */
    char *check;                /* "PATH [STATUS]" (gate_spec.h): the health gate; NULL = none */
    uint64_t check_timeout_ms;  /* each check request */
    unsigned check_retries;     /* live checks after a switch; all failing = rollback */
    uint64_t check_interval_ms; /* between two live checks */
    struct str_list notify;     /* URLs POSTed a JSON event per deploy and rollback */
    char *notify_secret;        /* HMAC key; NULL = git_secret */
    char *notify_ca;            /* PEM CA bundle for https receivers; NULL = the system's */
    struct str_list peers;      /* git_peers: NAME:PORT, told of each verified push (peers.h) */
    unsigned peers_line;
    char *shared_dir; /* <state>/shared, set by config_finish() for git sites: the
                       * one place outside the root links may lead (fs.h) */
};

/* The access rules of a site (allow_ip/deny_ip, limit_req, auth_basic, trusted_proxies):
 * docs/configuration.md "Access rules". Each rule keeps the line it was given on. */
struct cidr_list {
    struct cidr *v;
    size_t n;
};

struct ip_rule {
    struct path_match path;
    bool allow;            /* allow_ip; false = deny_ip */
    struct cidr_list nets; /* at least one */
    unsigned line;
};

struct rate_rule {
    struct path_match path;
    uint64_t interval_ns; /* one request per interval: 10r/s = 100 ms */
    unsigned burst;       /* requests beyond the rate taken at once (burst=N); 0 = none */
    unsigned line;
};

struct auth_rule {
    struct path_match path;
    char *file;  /* the htpasswd file */
    char *realm; /* for WWW-Authenticate; no '"', '\\' or control characters */
    unsigned line;
};

struct access_conf {
    struct ip_rule *ip; /* allow_ip and deny_ip in the order written */
    size_t n_ip;
    struct rate_rule *rate; /* limit_req, in the order written (the first matching applies) */
    size_t n_rate;
    struct auth_rule *auth; /* auth_basic, in the order written (the first matching applies) */
    size_t n_auth;
    struct cidr_list trusted_proxies;   /* whose real_ip_header is believed; empty = none */
    enum real_ip_header real_ip_header; /* X-Forwarded-For (default) or Forwarded */
};

enum tls_mode { TLS_OFF, TLS_AUTO };

/* HTTPS of one site: its own certificate (SNI), or one obtained by ACME (acme.h). */
struct tls_site_conf {
    enum tls_mode mode;     /* tls = auto: certificates from an ACME CA via uacme */
    char *cert;             /* tls_cert: this site's PEM chain (SNI); NULL = none */
    char *key;              /* tls_key: its private key */
    unsigned cert_line;     /* line of tls_cert; 0 = not set */
    unsigned key_line;      /* line of tls_key; 0 = not set */
    unsigned line;          /* line of tls; 0 = not set */
    char *acme_email;       /* account contact; NULL = none */
    char *acme_ca;          /* the CA's directory URL (Let's Encrypt production by default) */
    char *acme_ca_roots;    /* PEM roots the CA's own HTTPS is checked with; NULL = system's */
    unsigned roots_line;    /* line of acme_ca_roots; 0 = not set */
    char *acme_dir;         /* state: account key, certificate keys, certificates */
    uint64_t acme_retry_ms; /* first retry after a failed attempt; doubles up to 1 day */
    bool https_redirect;    /* plain-HTTP requests get 308 to https (never the challenge) */
    uint64_t hsts_ms;       /* Strict-Transport-Security max-age on HTTPS; 0 = no header */
    bool hsts_subdomains;   /* "; includeSubDomains" */
};

struct site_conf {
    char *name;            /* from "[site NAME]"; "default" for the CLI-made site */
    size_t pos;            /* position in cfg->sites: the key of its runtime (site.h) */
    struct str_list hosts; /* lower-case, port stripped; empty = default site */
    char *root;            /* document root; NULL until set */
    struct str_list index; /* index file names, in order */
    bool browse;           /* directory listings */
    bool gzip;             /* on-the-fly and precompressed gzip */
    unsigned compress;     /* static files: codings served (CODING_BIT of coding.h); gzip
                            * above adds gzip (and keeps it for FastCGI output) */
    char *access_log;      /* path, "-" = stdout, NULL = off */
    /* its line format: timed_combined (default), combined or json */
    enum access_log_style access_log_format;
    enum follow_symlinks follow_symlinks;
    struct str_list deny; /* URL path prefixes never served (403), static or script */
    unsigned line;        /* line of the section header, for messages */
    unsigned root_line;   /* line of the root key; 0 = not set */
    unsigned hosts_line;  /* line of the (first) hosts key; 0 = not set */
    struct fcgi_site_conf fcgi;
    struct git_site_conf git;
    /* the batteries (redirect.h, header_rule.h, error_page.h); every one empty = no cost */
    struct redirect_rules redirects;
    struct redirect_host redirect_host;
    struct header_rules headers;
    struct cache_rules cache;
    bool security_headers;
    bool response_rules; /* headers, cache or security_headers: responses get headers of
                          * their own (set by config_finish) */
    struct error_page_rules error_pages;
    struct access_conf access;
    struct tls_site_conf tls;
};

/* [server] worker_accept: fill = worker 0 first, the next only while those before are busy;
 * spread = every worker accepts, the first to wake wins; auto = fill with 2 workers or fewer */
enum worker_accept { WORKER_ACCEPT_AUTO, WORKER_ACCEPT_FILL, WORKER_ACCEPT_SPREAD };

struct server_conf {
    struct listen_addr *listen; /* at least one after config_finish() */
    size_t n_listen;
    struct listen_addr *tls_listen; /* HTTPS listeners (a certificate in [server] or a site) */
    size_t n_tls_listen;
    struct listen_addr *admin_listen; /* /livez /readyz /metrics /status (admin.h); none = off */
    size_t n_admin_listen;
    char *tls_cert;                  /* PEM chain: the default certificate (tls_store.h) */
    char *tls_key;                   /* PEM private key */
    unsigned tls_line;               /* line of tls_cert, for messages */
    unsigned tls_key_line;           /* line of tls_key, for messages */
    unsigned workers;                /* worker threads; 0 = CPUs (CPUs/2 with FastCGI sites) */
    enum worker_accept worker_accept; /* which workers take new connections (accept_share.h) */
    char *error_log;                 /* path, NULL = stderr */
    unsigned max_connections;        /* total, all listeners */
    unsigned max_connections_per_ip; /* 0 = unlimited */
    uint64_t idle_timeout_ms;        /* keep-alive / inactivity timeout */
    uint64_t header_timeout_ms;      /* whole request head must arrive within this */
    uint64_t max_header_bytes;       /* per-connection buffer for request line + headers */
    uint64_t max_uri_bytes;          /* longer request-targets get 414 */
    uint64_t notsent_lowat;          /* TCP_NOTSENT_LOWAT of listeners; 0 = kernel */
    char *mime_types;                /* mime.types file; NULL = /etc/mime.types if present */
    uint64_t file_cache_bytes;       /* in-memory small-file cache; 0 = off */
    uint64_t file_cache_max_file;    /* largest file kept in memory */
    uint64_t gzip_cache_bytes;       /* compressed variants kept in memory */
    char *presets_dir; /* NULL = the installed presets (or ../presets of the binary) */
    char *temp_dir;    /* request bodies beyond memory; NULL = $TMPDIR or /tmp */
    unsigned temp_dir_line;
    enum log_format error_log_format; /* error_log's lines: text (default) or json */
    char *user;                       /* drop to this user after start-up (as root); NULL = stay */
    char *group;                      /* its group; NULL = the user's primary group */
    unsigned user_line;               /* line of user, for messages; 0 = command line or unset */
    unsigned group_line;              /* line of group; 0 = unset */
    uint64_t shutdown_timeout_ms;     /* SIGTERM: requests in flight get this long to finish */
    bool dev;        /* development mode (dev.h): set by the command line, never by a key */
    bool dev_reload; /* and its live reload (dev_watch.h): the script injected into HTML */
};

struct config {
    char *filename; /* NULL when built from the command line only */
    struct server_conf server;
    struct site_conf *sites;
    size_t n_sites;
};

/** Fill cfg with the built-in defaults and no sites. */
void config_init(struct config *cfg);
/**
 * Append a site named name with the built-in [site] defaults and no root (line 0 = made by the
 * command line; config_finish() gives such a site root "." if it still has none). The pointer
 * is valid until the next call; cfg owns the site.
 */
struct site_conf *config_add_site(struct config *cfg, const char *name);
/**
 * Parse INI text (filename is used in messages only). Errors are appended to errs as
 * "FILE:LINE: message"; parsing continues after an error. Returns 0 if errs stayed empty.
 * Syntax: a line whose first non-blank is ';' or '#' is a comment; inline comments start only
 * at ';' after whitespace (even inside quotes), so '#' inside a value is literal. A value may
 * be wrapped in double quotes. An indented line continues a list-valued key (hosts, index,
 * listen); a list key given again in the same section appends. Lines are at most 199 bytes.
 */
int config_parse(struct config *cfg, const char *text, const char *filename, struct errlist *errs);
/**
 * Second pass, after command-line overrides: default listen address, a default site when there
 * is none, cross-checks (duplicate hosts, a site without root, ...). Returns 0 if no errors.
 */
int config_finish(struct config *cfg, struct errlist *errs);
/** Parse the text of a preset file into p (named name). Same syntax and errors as the main file;
 *  keys: ext, split, index, try, env, deny, server_software_comment. Returns 0 if no
 *  errors. */
int config_parse_preset(struct preset *p, const char *name, const char *text, const char *filename,
                        struct errlist *errs);
void config_preset_dispose(struct preset *p);
/** Parse "host:port", "[v6]:port" or "unix:/path" into out. */
int config_parse_upstream(const char *s, struct upstream_addr *out, const char **why);
void config_upstream_dispose(struct upstream_addr *u);
/** File-system checks, errors in this order: the TLS files are readable, temp_dir is a writable
 *  directory (if a site uses FastCGI), the htpasswd files are readable, every root is a
 *  directory (a git site's: its parent is, and the root is absent or a link). 0 if no errors. */
int config_check_fs(const struct config *cfg, struct errlist *errs);

/** Read each git site's git_secret_file into its git.secret (one final newline dropped); an
 *  unreadable, empty or over-4-KiB file is an error at the key's line. I/O, like
 *  config_check_fs(): called after config_finish(), at start, --test and each reload. */
int config_read_secrets(struct config *cfg, struct errlist *errs);
void config_dispose(struct config *cfg);

/* Value parsers shared with the command line; each returns 0 or -1 with *why set to a
 * static message saying what was expected ("a port between 1 and 65535"), to be used as
 * "KEY: expected WHY, got 'VALUE'". config_parse_listen() allocates out->host and out->text
 * (freed by config_dispose() once the address is in cfg->server.listen); out->line is 0. */
int config_parse_listen(const char *s, struct listen_addr *out, const char **why);
int config_parse_bool(const char *s, bool *out, const char **why);
/** "512", "16k", "16KiB", "1m", "2G" -> bytes. */
int config_parse_size(const char *s, uint64_t *out, const char **why);
/** "30", "30s", "500ms", "2m", "1h" -> milliseconds (a bare number is seconds). */
int config_parse_duration(const char *s, uint64_t *out_ms, const char **why);
/** "timed_combined", "combined" or "json" (access_log_format). */
int config_parse_access_log_format(const char *s, enum access_log_style *out, const char **why);

/** "10r/s", "60r/m", "100r/h" (1 to 1000000 requests per unit) -> the interval between two
 *  requests, in ns. */
int config_parse_rate(const char *s, uint64_t *interval_ns, const char **why);

/** The site for a Host header value (case-insensitive, port ignored); falls back to the
 *  default site (the one without hosts, else the first). Never NULL once finished. */
const struct site_conf *config_site_for_host(const struct config *cfg, const char *host);

#endif
