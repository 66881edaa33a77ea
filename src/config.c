/*
 * config: INI text -> struct config. Owns the key table (one row per key) and the type table
 * (one parser per value type); adding a key is one row, adding a type is one parser function.
 * inih splits lines, but Debian's build gives the handler no line numbers and cuts lines at
 * 200 bytes, so our reader feeds inih one line at a time, counts lines, rejects long lines and
 * classifies each line exactly as inih will (comment, continuation, section, key, syntax
 * error): that is how every syntax error and every section header gets its line number.
 * Invariants: errors are appended in line order; a section that failed to open swallows its
 * keys silently (one error per cause); nothing here does I/O except config_check_fs() and
 * config_read_secrets().
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "coding.h"
#include "gate_spec.h"
#include "release.h"
#include "shared_path.h"

/* inih's line buffer is 200 bytes including the NUL and we hand it lines without '\n'. */
#define CONFIG_LINE_MAX 199

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define SEC UINT64_C(1000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

enum section_kind {
    SEC_NONE, /* before the first section header */
    SEC_SERVER,
    SEC_SITE,
    SEC_SKIP,   /* a header that failed (already reported): ignore its keys */
    SEC_PRESET, /* a presets/NAME.ini file: keys without a section */
};

enum key_type {
    T_STRING,
    T_PATH,
    T_BOOL,
    T_UNSIGNED,
    T_SIZE,
    T_DURATION,
    T_LISTEN,
    T_WORDS,
    T_HOSTS,
    T_ENUM,
    T_UPSTREAMS,
    T_URLPATH,
    T_RELPATH,
    T_PREFIXES,
    T_ENV,
    T_COMMENT,
    T_SHARED,
    T_URLS,
    T_PEERS,
    T_CHECK,
    T_REDIRECT,
    T_REDIRECT_HOST,
    T_HEADER,
    T_CACHE,
    T_ERROR_PAGE,
    T_DIRS,
    T_IP_RULE,
    T_CIDRS,
    T_LIMIT_REQ,
    T_AUTH_BASIC,
    T_CODINGS,
    T_URL,
};

struct config_key {
    enum section_kind section;
    const char *name;
    enum key_type type;
    size_t off;               /* slot in struct server_conf / struct site_conf */
    const char *def;          /* default, parsed like a value from the file; NULL = none */
    uint64_t min, max;        /* numeric types; ms for durations, bytes for sizes */
    const char *const *words; /* T_ENUM: names by value; T_PATH: words that mean NULL */
    size_t line_off;          /* unsigned that receives the key's line; 0 = none (offset 0
                               * of both section structs is never a line field) */
};

static const char *const follow_names[] = {"inside", "on", "off", NULL};
static const char *const stderr_words[] = {"-", "stderr", NULL};
static const char *const off_words[] = {"off", NULL};
static const char *const lb_names[] = {"round_robin", "least_conn", "random", "ip_hash", NULL};
static const char *const access_log_formats[] = {"timed_combined", "combined", "json", NULL};
static const char *const error_log_formats[] = {"text", "json", NULL};
static const char *const real_ip_headers[] = {"X-Forwarded-For", "Forwarded", NULL};
static const char *const tls_modes[] = {"off", "auto", NULL};
static const char *const worker_accept_names[] = {"auto", "fill", "spread", NULL};

#define SRV(field) offsetof(struct server_conf, field)
#define SITE(field) offsetof(struct site_conf, field)
#define PRESET(field) offsetof(struct preset, field)

static const struct config_key keys[] = {
    /* listen has no default here: config_finish() adds it only if neither the file nor the
     * command line gave one, so the first listen line does not have to replace anything. */
    {SEC_SERVER, "listen", T_LISTEN, SRV(listen), NULL, 0, 0, NULL, 0},
    {SEC_SERVER, "workers", T_UNSIGNED, SRV(workers), "0", 0, 64, NULL, 0},
    {SEC_SERVER, "worker_accept", T_ENUM, SRV(worker_accept), "auto", 0, 0, worker_accept_names, 0},
    {SEC_SERVER, "error_log", T_PATH, SRV(error_log), NULL, 0, 0, stderr_words, 0},
    {SEC_SERVER, "error_log_format", T_ENUM, SRV(error_log_format), "text", 0, 0, error_log_formats,
     0},
    {SEC_SERVER, "max_connections", T_UNSIGNED, SRV(max_connections), "10000", 1, 1000000, NULL, 0},
    {SEC_SERVER, "max_connections_per_ip", T_UNSIGNED, SRV(max_connections_per_ip), "0", 0, 1000000,
     NULL, 0},
    {SEC_SERVER, "idle_timeout", T_DURATION, SRV(idle_timeout_ms), "60s", 1 * SEC, 1 * HOUR, NULL,
     0},
    {SEC_SERVER, "header_timeout", T_DURATION, SRV(header_timeout_ms), "30s", 1 * SEC, 10 * MIN,
     NULL, 0},
    {SEC_SERVER, "max_header_size", T_SIZE, SRV(max_header_bytes), "16k", 4 * KIB, 1 * MIB, NULL,
     0},
    {SEC_SERVER, "max_uri_length", T_SIZE, SRV(max_uri_bytes), "8k", 256, 64 * KIB, NULL, 0},
    {SEC_SERVER, "tcp_notsent_lowat", T_SIZE, SRV(notsent_lowat), "16k", 0, 16 * MIB, NULL, 0},
    {SEC_SERVER, "mime_types", T_PATH, SRV(mime_types), NULL, 0, 0, NULL, 0},
    {SEC_SERVER, "file_cache", T_SIZE, SRV(file_cache_bytes), "64m", 0, 16 * GIB, NULL, 0},
    {SEC_SERVER, "file_cache_max_file", T_SIZE, SRV(file_cache_max_file), "256k", 0, 16 * MIB, NULL,
     0},
    {SEC_SERVER, "gzip_cache", T_SIZE, SRV(gzip_cache_bytes), "32m", 0, 16 * GIB, NULL, 0},

    {SEC_SITE, "hosts", T_HOSTS, SITE(hosts), NULL, 0, 0, NULL, SITE(hosts_line)},
    {SEC_SITE, "root", T_PATH, SITE(root), NULL, 0, 0, NULL, SITE(root_line)},
    {SEC_SITE, "index", T_WORDS, SITE(index), CONFIG_DEFAULT_INDEX, 0, 0, NULL, 0},
    {SEC_SITE, "browse", T_BOOL, SITE(browse), "off", 0, 0, NULL, 0},
    {SEC_SITE, "gzip", T_BOOL, SITE(gzip), "off", 0, 0, NULL, 0},
    {SEC_SITE, "compress", T_CODINGS, SITE(compress), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "access_log", T_PATH, SITE(access_log), "off", 0, 0, off_words, 0},
    {SEC_SITE, "access_log_format", T_ENUM, SITE(access_log_format), "timed_combined", 0, 0,
     access_log_formats, 0},
    {SEC_SITE, "follow_symlinks", T_ENUM, SITE(follow_symlinks), "inside", 0, 0, follow_names, 0},
    {SEC_SITE, "deny", T_PREFIXES, SITE(deny), NULL, 0, 0, NULL, 0},
    {SEC_SERVER, "tls_listen", T_LISTEN, SRV(tls_listen), NULL, 0, 0, NULL, 0},
    {SEC_SERVER, "admin_listen", T_LISTEN, SRV(admin_listen), NULL, 0, 0, NULL, 0},
    {SEC_SERVER, "tls_cert", T_PATH, SRV(tls_cert), NULL, 0, 0, NULL, SRV(tls_line)},
    {SEC_SERVER, "tls_key", T_PATH, SRV(tls_key), NULL, 0, 0, NULL, SRV(tls_key_line)},
    {SEC_SERVER, "presets_dir", T_PATH, SRV(presets_dir), NULL, 0, 0, NULL, 0},
    {SEC_SERVER, "temp_dir", T_PATH, SRV(temp_dir), NULL, 0, 0, NULL, SRV(temp_dir_line)},
    {SEC_SERVER, "user", T_STRING, SRV(user), NULL, 0, 0, NULL, SRV(user_line)},
    {SEC_SERVER, "group", T_STRING, SRV(group), NULL, 0, 0, NULL, SRV(group_line)},
    {SEC_SERVER, "shutdown_timeout", T_DURATION, SRV(shutdown_timeout_ms), "30s", 0, 1 * HOUR, NULL,
     0},

    {SEC_SITE, "fastcgi", T_UPSTREAMS, SITE(fcgi), NULL, 0, 0, NULL, SITE(fcgi.line)},
    {SEC_SITE, "fastcgi_preset", T_STRING, SITE(fcgi.preset_name), "php", 0, 0, NULL,
     SITE(fcgi.preset_line)},
    {SEC_SITE, "fastcgi_path", T_URLPATH, SITE(fcgi.path), "/", 0, 0, NULL, 0},
    {SEC_SITE, "fastcgi_except", T_PREFIXES, SITE(fcgi.except), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "fastcgi_env", T_ENV, SITE(fcgi.env), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "fastcgi_root", T_PATH, SITE(fcgi.root), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "fastcgi_lb", T_ENUM, SITE(fcgi.lb), "round_robin", 0, 0, lb_names, 0},
    /* 0 = automatic, resolved by config_finish(): spawn's pm.max_children, else
     * CONFIG_FCGI_MAX_CONNS */
    {SEC_SITE, "fastcgi_max_conns", T_UNSIGNED, SITE(fcgi.max_conns), "0", 0, 1024, NULL, 0},
    {SEC_SITE, "fastcgi_keep_conns", T_UNSIGNED, SITE(fcgi.keep_conns), "4", 0, 1024, NULL, 0},
    {SEC_SITE, "fastcgi_queue_timeout", T_DURATION, SITE(fcgi.queue_timeout_ms), "30s", 1, 10 * MIN,
     NULL, 0},
    {SEC_SITE, "fastcgi_connect_timeout", T_DURATION, SITE(fcgi.connect_timeout_ms), "5s", 1,
     10 * MIN, NULL, 0},
    {SEC_SITE, "fastcgi_read_timeout", T_DURATION, SITE(fcgi.read_timeout_ms), "60s", 1, 1 * HOUR,
     NULL, 0},
    {SEC_SITE, "fastcgi_send_timeout", T_DURATION, SITE(fcgi.send_timeout_ms), "60s", 1, 1 * HOUR,
     NULL, 0},
    {SEC_SITE, "fastcgi_max_body", T_SIZE, SITE(fcgi.max_body_bytes), "64m", 0, 64 * GIB, NULL, 0},
    {SEC_SITE, "fastcgi_body_buffer", T_SIZE, SITE(fcgi.body_buffer_bytes), "16k", 0, 64 * MIB,
     NULL, 0},
    {SEC_SITE, "fastcgi_sendfile", T_DIRS, SITE(fcgi.sendfile), NULL, 0, 0, NULL,
     SITE(fcgi.sendfile_line)},

    {SEC_SITE, "redirect", T_REDIRECT, SITE(redirects), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "redirect_host", T_REDIRECT_HOST, SITE(redirect_host), "off", 0, 0, NULL,
     SITE(redirect_host.line)},
    {SEC_SITE, "header", T_HEADER, SITE(headers), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "cache_control", T_CACHE, SITE(cache), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "security_headers", T_BOOL, SITE(security_headers), "off", 0, 0, NULL, 0},
    {SEC_SITE, "error_page", T_ERROR_PAGE, SITE(error_pages), NULL, 0, 0, NULL, 0},

    {SEC_SITE, "git_repo", T_STRING, SITE(git.repo), NULL, 0, 0, NULL, SITE(git.line)},
    {SEC_SITE, "git_branch", T_STRING, SITE(git.branch), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_revision_file", T_PATH, SITE(git.revision_file), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_key", T_PATH, SITE(git.key), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_known_hosts", T_PATH, SITE(git.known_hosts), "strict", 0, 0, NULL, 0},
    {SEC_SITE, "git_interval", T_DURATION, SITE(git.interval_ms), "60s", 0, 7 * 24 * HOUR, NULL, 0},
    {SEC_SITE, "git_then", T_STRING, SITE(git.then), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_then_timeout", T_DURATION, SITE(git.then_timeout_ms), "10m", 1 * SEC, 24 * HOUR,
     NULL, 0},
    {SEC_SITE, "git_timeout", T_DURATION, SITE(git.timeout_ms), "5m", 1 * SEC, 24 * HOUR, NULL, 0},
    {SEC_SITE, "git_hook", T_URLPATH, SITE(git.hook), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_secret", T_STRING, SITE(git.secret), NULL, 0, 0, NULL, SITE(git.secret_line)},
    {SEC_SITE, "git_secret_file", T_PATH, SITE(git.secret_file), NULL, 0, 0, NULL,
     SITE(git.secret_file_line)},
    {SEC_SITE, "git_keep", T_UNSIGNED, SITE(git.keep), "3", 0, 1000, NULL, 0},
    {SEC_SITE, "git_depth", T_UNSIGNED, SITE(git.depth), "0", 0, 1000000, NULL, 0},
    {SEC_SITE, "git_submodules", T_BOOL, SITE(git.submodules), "off", 0, 0, NULL, 0},
    {SEC_SITE, "git_subdir", T_RELPATH, SITE(git.subdir), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_status", T_URLPATH, SITE(git.status), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_shared", T_SHARED, SITE(git.shared), NULL, 0, 0, NULL, SITE(git.shared_line)},
    {SEC_SITE, "git_env_file", T_PATH, SITE(git.env_file), NULL, 0, 0, NULL,
     SITE(git.env_file_line)},
    {SEC_SITE, "git_after", T_STRING, SITE(git.after), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_check", T_CHECK, SITE(git.check), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_check_timeout", T_DURATION, SITE(git.check_timeout_ms), "10s", 100, 10 * MIN,
     NULL, 0},
    {SEC_SITE, "git_check_retries", T_UNSIGNED, SITE(git.check_retries), "3", 0, 100, NULL, 0},
    {SEC_SITE, "git_check_interval", T_DURATION, SITE(git.check_interval_ms), "2s", 0, 10 * MIN,
     NULL, 0},
    {SEC_SITE, "git_notify", T_URLS, SITE(git.notify), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_peers", T_PEERS, SITE(git.peers), NULL, 0, 0, NULL, SITE(git.peers_line)},
    {SEC_SITE, "git_notify_secret", T_STRING, SITE(git.notify_secret), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "git_notify_ca", T_PATH, SITE(git.notify_ca), NULL, 0, 0, NULL, 0},

    /* access rules (docs/configuration.md "Access rules"); min = 1 marks allow_ip */
    {SEC_SITE, "allow_ip", T_IP_RULE, SITE(access), NULL, 1, 0, NULL, 0},
    {SEC_SITE, "deny_ip", T_IP_RULE, SITE(access), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "trusted_proxies", T_CIDRS, SITE(access.trusted_proxies), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "real_ip_header", T_ENUM, SITE(access.real_ip_header), "X-Forwarded-For", 0, 0,
     real_ip_headers, 0},
    {SEC_SITE, "limit_req", T_LIMIT_REQ, SITE(access), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "auth_basic", T_AUTH_BASIC, SITE(access), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "tls", T_ENUM, SITE(tls.mode), "off", 0, 0, tls_modes, SITE(tls.line)},
    {SEC_SITE, "tls_cert", T_PATH, SITE(tls.cert), NULL, 0, 0, NULL, SITE(tls.cert_line)},
    {SEC_SITE, "tls_key", T_PATH, SITE(tls.key), NULL, 0, 0, NULL, SITE(tls.key_line)},
    {SEC_SITE, "acme_email", T_STRING, SITE(tls.acme_email), NULL, 0, 0, NULL, 0},
    {SEC_SITE, "acme_ca", T_URL, SITE(tls.acme_ca), CONFIG_DEFAULT_ACME_CA, 0, 0, NULL, 0},
    {SEC_SITE, "acme_ca_roots", T_PATH, SITE(tls.acme_ca_roots), NULL, 0, 0, NULL,
     SITE(tls.roots_line)},
    {SEC_SITE, "acme_dir", T_PATH, SITE(tls.acme_dir), CONFIG_DEFAULT_ACME_DIR, 0, 0, NULL, 0},
    {SEC_SITE, "acme_retry", T_DURATION, SITE(tls.acme_retry_ms), "1m", 1 * SEC, 24 * HOUR, NULL,
     0},
    {SEC_SITE, "https_redirect", T_BOOL, SITE(tls.https_redirect), "off", 0, 0, NULL, 0},
    {SEC_SITE, "hsts", T_DURATION, SITE(tls.hsts_ms), "0", 0, 2 * 366 * 24 * HOUR, NULL, 0},
    {SEC_SITE, "hsts_subdomains", T_BOOL, SITE(tls.hsts_subdomains), "off", 0, 0, NULL, 0},

    {SEC_PRESET, "ext", T_STRING, PRESET(ext), NULL, 0, 0, NULL, 0},
    {SEC_PRESET, "split", T_STRING, PRESET(split), NULL, 0, 0, NULL, 0},
    {SEC_PRESET, "index", T_WORDS, PRESET(index), NULL, 0, 0, NULL, 0},
    {SEC_PRESET, "try", T_URLPATH, PRESET(try_script), NULL, 0, 0, NULL, 0},
    {SEC_PRESET, "env", T_ENV, PRESET(env), NULL, 0, 0, NULL, 0},
    {SEC_PRESET, "deny", T_PREFIXES, PRESET(deny), NULL, 0, 0, NULL, 0},
    {SEC_PRESET, "shared", T_SHARED, PRESET(shared), NULL, 0, 0, NULL, 0},
    {SEC_PRESET, "server_software_comment", T_COMMENT, PRESET(server_software_comment), NULL, 0, 0,
     NULL, 0},
};

_Static_assert(sizeof(enum follow_symlinks) == sizeof(int), "T_ENUM slots are int-sized");
_Static_assert(sizeof(enum worker_accept) == sizeof(int), "T_ENUM slots are int-sized");
_Static_assert(sizeof(enum real_ip_header) == sizeof(int), "T_ENUM slots are int-sized");
_Static_assert(sizeof(enum access_log_style) == sizeof(int) &&
                   sizeof(enum log_format) == sizeof(int),
               "T_ENUM slots are int-sized");

enum line_kind {
    LK_OTHER, /* comment, blank, section header, too long or syntax error: no handler call */
    LK_KEY,   /* "name = value": inih calls the handler with it */
    LK_CONT,  /* indented line after a key: inih calls the handler with the previous name */
};

struct load {
    struct config *cfg;
    const char *filename;
    struct errlist *errs;
    const char *p;       /* next unread byte of the text */
    unsigned line;       /* line last handed to inih, i.e. the one being handled */
    enum line_kind kind; /* of that line */
    bool has_prev_key;   /* mirrors inih's prev_name: an indented line continues */
    enum section_kind sec;
    size_t site;                  /* index in cfg->sites when sec == SEC_SITE */
    struct preset *preset;        /* the preset being parsed when sec == SEC_PRESET */
    unsigned server_line;         /* line of [server]; 0 = not seen */
    const struct config_key *key; /* accepted key of the last key line; NULL = drop continuations */
    unsigned seen[ARRAY_LEN(keys)]; /* line each key was first given in this section; 0 = not */
};

struct type_def {
    bool is_list; /* continuation lines and repeated keys append */
    /* Parse one line's value into the key's slot in base (a section struct). Reports its own
     * errors (usually through bad_value()); returns 0 or -1. val is a scratch copy. */
    int (*parse)(struct load *ld, const struct config_key *k, void *base, char *val);
    /* What a valid value looks like, for "expected ..." (range included). */
    void (*expect)(const struct config_key *k, char *buf, size_t n);
    void (*dispose)(const struct config_key *k, void *base);
};

static void expect_of(const struct config_key *k, char *buf, size_t n);

/* ---- small helpers ------------------------------------------------------------------------ */

static bool is_ws(char c)
{
    /* the C-locale isspace() set inih uses */
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static void *slot_of(void *base, const struct config_key *k)
{
    return (char *)base + k->off;
}

static const char *fname(const struct load *ld)
{
    return ld->filename ? ld->filename : "(config)";
}

static int bad_value(struct load *ld, const struct config_key *k, const char *got, const char *why)
{
    char buf[160];
    if (!why) {
        expect_of(k, buf, sizeof buf);
        why = buf;
    }
    return errlist_add(ld->errs, "%s:%u: %s: expected %s, got '%s'", fname(ld), ld->line, k->name,
                       why, got);
}

/* Next space-separated token of *s (NUL-terminated in place), or NULL at the end. */
static char *next_word(char **s)
{
    char *p = *s;
    while (*p && is_ws(*p))
        p++;
    if (!*p)
        return NULL;
    char *w = p;
    while (*p && !is_ws(*p))
        p++;
    if (*p)
        *p++ = '\0';
    *s = p;
    return w;
}

static void str_list_push(struct str_list *l, char *s)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = s;
}

static bool str_list_has(const struct str_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static void str_list_clear(struct str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- numbers with units ------------------------------------------------------------------- */

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit size_units[] = {
    {"", 1}, {"k", KIB}, {"kib", KIB}, {"m", MIB}, {"mib", MIB}, {"g", GIB}, {"gib", GIB},
};

/* a bare number is seconds, as in nginx */
static const struct unit duration_units[] = {
    {"", SEC}, {"ms", 1}, {"s", SEC}, {"m", MIN}, {"h", HOUR},
};

/* Digits then an optional unit (case-insensitive); no sign, no space, no overflow. */
static int parse_with_unit(const char *s, const struct unit *u, size_t n_units, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!is_digit(*p))
        return -1;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    for (size_t i = 0; i < n_units; i++) {
        if (ascii_casecmp(p, u[i].name) != 0)
            continue;
        if (v > UINT64_MAX / u[i].mult)
            return -1;
        *out = v * u[i].mult;
        return 0;
    }
    return -1;
}

int config_parse_size(const char *s, uint64_t *out, const char **why)
{
    if (parse_with_unit(s, size_units, ARRAY_LEN(size_units), out) != 0) {
        *why = "a size such as 512, 16k or 1m";
        return -1;
    }
    return 0;
}

int config_parse_duration(const char *s, uint64_t *out_ms, const char **why)
{
    if (parse_with_unit(s, duration_units, ARRAY_LEN(duration_units), out_ms) != 0) {
        *why = "a duration such as 30s, 500ms, 2m or 1h";
        return -1;
    }
    return 0;
}

int config_parse_bool(const char *s, bool *out, const char **why)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
        if (ascii_casecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (ascii_casecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    *why = "on or off";
    return -1;
}

/* Largest unit that divides v exactly, for range messages ("between 1s and 1h"). */
static void fmt_with_unit(uint64_t v, const struct unit *u, size_t n_units, char *buf, size_t n)
{
    const struct unit *best = NULL;
    for (size_t i = 0; i < n_units; i++)
        if (u[i].name[0] && v % u[i].mult == 0 && (!best || u[i].mult > best->mult))
            best = &u[i];
    if (v == 0 || !best)
        snprintf(buf, n, "%llu", (unsigned long long)v);
    else
        snprintf(buf, n, "%llu%s", (unsigned long long)(v / best->mult), best->name);
}

/* ---- host names and addresses ------------------------------------------------------------- */

static bool is_ipv4(const char *s, size_t n)
{
    char tmp[INET_ADDRSTRLEN];
    struct in_addr a;
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET, tmp, &a) == 1;
}

static bool is_ipv6(const char *s, size_t n)
{
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a;
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* A DNS name (labels of letters, digits, '-', '_'; '_' for internal names) or an IPv4
 * literal. A name whose last label is all digits is a mistyped address, not a name. */
static bool is_host(const char *s, size_t n)
{
    if (is_ipv4(s, n))
        return true;
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    bool digits_only = true;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? s[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
                return false;
            if (i < n) {
                label = 0;
                digits_only = true;
            }
            continue;
        }
        if (!is_digit(c) && !(lower(c) >= 'a' && lower(c) <= 'z') && c != '-' && c != '_')
            return false;
        if (!is_digit(c))
            digits_only = false;
        label++;
    }
    return !digits_only;
}

static int parse_port(const char *s, size_t n, uint16_t *out)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int config_parse_listen(const char *s, struct listen_addr *out, const char **why)
{
    static const char form[] = "host:port, [v6]:port or :port";
    const char *host, *port;
    size_t host_len;

    memset(out, 0, sizeof *out);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            *why = form;
            return -1;
        }
        host = s + 1;
        host_len = (size_t)(close - host);
        port = close + 2;
        if (!is_ipv6(host, host_len)) {
            *why = "an IPv6 address in [v6]:port";
            return -1;
        }
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon) {
            *why = form;
            return -1;
        }
        host = s;
        host_len = (size_t)(colon - s);
        port = colon + 1;
        if (memchr(host, ':', host_len)) {
            *why = "[v6]:port for an IPv6 address";
            return -1;
        }
        if (host_len > 0 && !is_host(host, host_len)) {
            *why = "a host name or IP address before the port";
            return -1;
        }
    }
    if (!*port) {
        *why = form;
        return -1;
    }
    if (parse_port(port, strlen(port), &out->port) != 0) {
        *why = "a port between 1 and 65535";
        return -1;
    }
    out->host = host_len ? xstrndup(host, host_len) : NULL;
    out->text = xstrdup(s);
    return 0;
}

/* "Example.COM.:8080" -> "example.com", "[::1]:80" and "::1" -> "[::1]"; NULL if invalid. */
static char *normalize_host(const char *s)
{
    const char *h = s, *rest;
    size_t n;
    bool v6 = false;
    uint16_t port;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || !is_ipv6(s + 1, (size_t)(close - s - 1)))
            return NULL;
        n = (size_t)(close - s) + 1;
        rest = close + 1;
        v6 = true;
    } else if (strchr(s, ':') && strchr(s, ':') != strrchr(s, ':')) {
        if (!is_ipv6(s, strlen(s)))
            return NULL;
        char *r = xasprintf("[%s]", s);
        for (char *p = r; *p; p++)
            *p = lower(*p);
        return r;
    } else {
        const char *colon = strchr(s, ':');
        n = colon ? (size_t)(colon - s) : strlen(s);
        rest = s + n;
    }
    if (*rest && (*rest != ':' || parse_port(rest + 1, strlen(rest + 1), &port) != 0))
        return NULL;
    if (!v6 && n > 1 && h[n - 1] == '.')
        n--;
    if (!v6 && !is_host(h, n))
        return NULL;
    char *r = xstrndup(h, n);
    for (char *p = r; *p; p++)
        *p = lower(*p);
    return r;
}

/* ---- the value types ---------------------------------------------------------------------- */

static void expect_text(const char *text, char *buf, size_t n)
{
    snprintf(buf, n, "%s", text);
}

static int parse_string(struct load *ld, const struct config_key *k, void *base, char *val)
{
    char **slot = slot_of(base, k);
    if (!*val)
        return bad_value(ld, k, val, NULL);
    free(*slot);
    *slot = xstrdup(val);
    return 0;
}

static void expect_string(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a non-empty string", buf, n);
}

static void dispose_string(const struct config_key *k, void *base)
{
    char **slot = slot_of(base, k);
    free(*slot);
    *slot = NULL;
}

static int parse_path(struct load *ld, const struct config_key *k, void *base, char *val)
{
    char **slot = slot_of(base, k);
    for (size_t i = 0; k->words && k->words[i]; i++) {
        if (ascii_casecmp(val, k->words[i]) == 0) {
            free(*slot);
            *slot = NULL;
            return 0;
        }
    }
    return parse_string(ld, k, base, val);
}

static void expect_path(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a path", buf, n);
}

static int parse_bool(struct load *ld, const struct config_key *k, void *base, char *val)
{
    const char *why;
    return config_parse_bool(val, slot_of(base, k), &why) == 0 ? 0 : bad_value(ld, k, val, NULL);
}

static void expect_bool(const struct config_key *k, char *buf, size_t n)
{
    expect_text("on or off", buf, n);
}

static void dispose_nothing(const struct config_key *k, void *base)
{
}

static int parse_unsigned(struct load *ld, const struct config_key *k, void *base, char *val)
{
    static const struct unit none[] = {{"", 1}};
    uint64_t v;
    if (parse_with_unit(val, none, 1, &v) != 0 || v < k->min || v > k->max)
        return bad_value(ld, k, val, NULL);
    *(unsigned *)slot_of(base, k) = (unsigned)v;
    return 0;
}

static void expect_unsigned(const struct config_key *k, char *buf, size_t n)
{
    snprintf(buf, n, "an integer between %llu and %llu", (unsigned long long)k->min,
             (unsigned long long)k->max);
}

static int parse_size(struct load *ld, const struct config_key *k, void *base, char *val)
{
    uint64_t v;
    const char *why;
    if (config_parse_size(val, &v, &why) != 0 || v < k->min || v > k->max)
        return bad_value(ld, k, val, NULL);
    *(uint64_t *)slot_of(base, k) = v;
    return 0;
}

static void expect_size(const struct config_key *k, char *buf, size_t n)
{
    char lo[32], hi[32];
    fmt_with_unit(k->min, size_units, ARRAY_LEN(size_units), lo, sizeof lo);
    fmt_with_unit(k->max, size_units, ARRAY_LEN(size_units), hi, sizeof hi);
    snprintf(buf, n, "a size between %s and %s", lo, hi);
}

static int parse_duration(struct load *ld, const struct config_key *k, void *base, char *val)
{
    uint64_t v;
    const char *why;
    if (config_parse_duration(val, &v, &why) != 0 || v < k->min || v > k->max)
        return bad_value(ld, k, val, NULL);
    *(uint64_t *)slot_of(base, k) = v;
    return 0;
}

static void expect_duration(const struct config_key *k, char *buf, size_t n)
{
    char lo[32], hi[32];
    fmt_with_unit(k->min, duration_units, ARRAY_LEN(duration_units), lo, sizeof lo);
    fmt_with_unit(k->max, duration_units, ARRAY_LEN(duration_units), hi, sizeof hi);
    snprintf(buf, n, "a duration between %s and %s", lo, hi);
}

/* The listen list is a (pointer, count) pair, so this type is bound to struct server_conf. */
/* A listen list is a (pointer, count) pair: the count is the field right after the pointer. */
_Static_assert(offsetof(struct server_conf, n_listen) ==
                   offsetof(struct server_conf, listen) + sizeof(struct listen_addr *),
               "n_listen follows listen");
_Static_assert(offsetof(struct server_conf, n_tls_listen) ==
                   offsetof(struct server_conf, tls_listen) + sizeof(struct listen_addr *),
               "n_tls_listen follows tls_listen");
_Static_assert(offsetof(struct server_conf, n_admin_listen) ==
                   offsetof(struct server_conf, admin_listen) + sizeof(struct listen_addr *),
               "n_admin_listen follows admin_listen");

static struct listen_addr **listen_list(void *base, const struct config_key *k, size_t **n)
{
    struct listen_addr **v = slot_of(base, k);
    *n = (size_t *)(v + 1);
    return v;
}

static int parse_listen(struct load *ld, const struct config_key *k, void *base, char *val)
{
    size_t *n;
    struct listen_addr **v = listen_list(base, k, &n);
    int rc = 0;
    char *w;

    if (!*val)
        return bad_value(ld, k, val, "host:port, [v6]:port or :port");
    while ((w = next_word(&val)) != NULL) {
        struct listen_addr a;
        const char *why;
        if (config_parse_listen(w, &a, &why) != 0) {
            rc = bad_value(ld, k, w, why);
            continue;
        }
        a.line = ld->line;
        *v = xrealloc(*v, (*n + 1) * sizeof **v);
        (*v)[(*n)++] = a;
    }
    return rc;
}

static void expect_listen(const struct config_key *k, char *buf, size_t n)
{
    expect_text("host:port, [v6]:port or :port", buf, n);
}

static void dispose_listen(const struct config_key *k, void *base)
{
    size_t *n;
    struct listen_addr **v = listen_list(base, k, &n);
    for (size_t i = 0; i < *n; i++) {
        free((*v)[i].host);
        free((*v)[i].text);
    }
    free(*v);
    *v = NULL;
    *n = 0;
}

/* A list of words, each checked by valid(): a bad one is an error naming it, the good ones are
 * kept. With off_clears, the word "off" empties the list (a preset's defaults too). */
static int parse_word_list(struct load *ld, const struct config_key *k, void *base, char *val,
                           bool (*valid)(const char *w), bool off_clears)
{
    struct str_list *l = slot_of(base, k);
    int rc = 0;
    char *w;

    if (!*val)
        return bad_value(ld, k, val, NULL);
    while ((w = next_word(&val)) != NULL) {
        if (off_clears && ascii_casecmp(w, "off") == 0)
            str_list_clear(l);
        else if (!valid(w))
            rc = bad_value(ld, k, w, NULL);
        else
            str_list_push(l, xstrdup(w));
    }
    return rc;
}

/* Index file names: looked up inside a directory, so no '/' and no dot names. */
static bool is_file_name(const char *w)
{
    return !strchr(w, '/') && strcmp(w, ".") != 0 && strcmp(w, "..") != 0;
}

static int parse_words(struct load *ld, const struct config_key *k, void *base, char *val)
{
    return parse_word_list(ld, k, base, val, is_file_name, false);
}

static void expect_words(const struct config_key *k, char *buf, size_t n)
{
    expect_text("file names without '/'", buf, n);
}

static void dispose_str_list(const struct config_key *k, void *base)
{
    str_list_clear(slot_of(base, k));
}

static int parse_hosts(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct str_list *l = slot_of(base, k);
    int rc = 0;
    char *w;

    if (!*val)
        return bad_value(ld, k, val, NULL);
    while ((w = next_word(&val)) != NULL) {
        char *h = normalize_host(w);
        if (!h) {
            rc = bad_value(ld, k, w, NULL);
        } else if (str_list_has(l, h)) {
            rc = errlist_add(ld->errs, "%s:%u: %s: '%s' is listed twice", fname(ld), ld->line,
                             k->name, h);
            free(h);
        } else {
            str_list_push(l, h);
        }
    }
    return rc;
}

static void expect_hosts(const struct config_key *k, char *buf, size_t n)
{
    expect_text("host names or IP addresses", buf, n);
}

static int parse_enum(struct load *ld, const struct config_key *k, void *base, char *val)
{
    for (int i = 0; k->words[i]; i++) {
        if (ascii_casecmp(val, k->words[i]) == 0) {
            *(int *)slot_of(base, k) = i;
            return 0;
        }
    }
    return bad_value(ld, k, val, NULL);
}

/* "inside, on or off" */
static void expect_enum(const struct config_key *k, char *buf, size_t n)
{
    size_t len = 0, count = 0;
    while (k->words[count])
        count++;
    buf[0] = '\0';
    for (size_t i = 0; i < count && len < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == count ? " or " : ", ";
        int w = snprintf(buf + len, n - len, "%s%s", sep, k->words[i]);
        len += w > 0 ? (size_t)w : 0;
    }
}

int config_parse_access_log_format(const char *s, enum access_log_style *out, const char **why)
{
    for (int i = 0; access_log_formats[i]; i++) {
        if (ascii_casecmp(s, access_log_formats[i]) == 0) {
            *out = (enum access_log_style)i;
            return 0;
        }
    }
    *why = "timed_combined, combined or json";
    return -1;
}

/* ---- FastCGI value types ------------------------------------------------------------------ */

int config_parse_upstream(const char *s, struct upstream_addr *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (strncmp(s, "unix:", 5) == 0) {
        if (s[5] != '/' || strlen(s) > 107) {
            *why = "unix:/absolute/path (at most 107 bytes)";
            return -1;
        }
        out->path = xstrdup(s + 5);
        out->text = xstrdup(s);
        return 0;
    }
    struct listen_addr a;
    int rc = config_parse_listen(s, &a, why);
    if (rc != 0 || !a.host) {
        if (rc == 0)
            free(a.text); /* ":port" is a listen form, not an upstream */
        *why = "host:port, [v6]:port or unix:/path";
        return -1;
    }
    out->host = a.host;
    out->port = a.port;
    out->text = a.text;
    return 0;
}

void config_upstream_dispose(struct upstream_addr *u)
{
    free(u->text);
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof *u);
}

/* "fastcgi = ADDR ..." or "fastcgi = spawn"; bound to struct fcgi_site_conf. */
static int parse_upstreams(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct fcgi_site_conf *f = slot_of(base, k);
    int rc = 0;
    char *w;

    if (!*val)
        return bad_value(ld, k, val, NULL);
    while ((w = next_word(&val)) != NULL) {
        struct upstream_addr u;
        const char *why = NULL;
        if (ascii_casecmp(w, "spawn") == 0) {
            f->spawn = true;
            continue;
        }
        if (config_parse_upstream(w, &u, &why) != 0) {
            rc = bad_value(ld, k, w, NULL);
            continue;
        }
        f->upstreams = xrealloc(f->upstreams, (f->n_upstreams + 1) * sizeof *f->upstreams);
        f->upstreams[f->n_upstreams++] = u;
    }
    if (f->spawn && f->n_upstreams)
        rc = errlist_add(ld->errs, "%s:%u: %s: 'spawn' cannot be combined with addresses",
                         fname(ld), ld->line, k->name);
    return rc;
}

static void expect_upstreams(const struct config_key *k, char *buf, size_t n)
{
    expect_text("host:port, [v6]:port, unix:/path or spawn", buf, n);
}

static void dispose_upstreams(const struct config_key *k, void *base)
{
    struct fcgi_site_conf *f = slot_of(base, k);
    for (size_t i = 0; i < f->n_upstreams; i++)
        config_upstream_dispose(&f->upstreams[i]);
    free(f->upstreams);
    f->upstreams = NULL;
    f->n_upstreams = 0;
    f->spawn = false;
}

static bool is_url_path(const char *s)
{
    if (s[0] != '/')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f || *s == '?' || *s == '#' || *s == '%')
            return false;
    return true;
}

static int parse_urlpath(struct load *ld, const struct config_key *k, void *base, char *val)
{
    char **slot = slot_of(base, k);
    if (!is_url_path(val))
        return bad_value(ld, k, val, NULL);
    free(*slot);
    *slot = xstrdup(val);
    return 0;
}

static void expect_urlpath(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a URL path starting with '/'", buf, n);
}

/* A path inside a tree: relative, no "..", no empty or dot segments. */
static int parse_relpath(struct load *ld, const struct config_key *k, void *base, char *val)
{
    char **slot = slot_of(base, k);
    bool ok = val[0] && val[0] != '/';
    for (const char *seg = val; ok && *seg;) {
        size_t n = strcspn(seg, "/");
        ok = n > 0 && seg[0] != '.';
        seg += n;
        if (*seg == '/')
            seg++;
    }
    if (!ok)
        return bad_value(ld, k, val, NULL);
    free(*slot);
    *slot = xstrdup(val);
    return 0;
}

static void expect_relpath(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a relative path without '.' or '..' segments", buf, n);
}

static int parse_prefixes(struct load *ld, const struct config_key *k, void *base, char *val)
{
    return parse_word_list(ld, k, base, val, is_url_path, false);
}

static void expect_prefixes(const struct config_key *k, char *buf, size_t n)
{
    expect_text("URL paths starting with '/'", buf, n);
}

/* One NAME=VALUE per line; the value may hold spaces. */
static int parse_env(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct str_list *l = slot_of(base, k);
    const char *eq = strchr(val, '=');
    if (!eq || eq == val)
        return bad_value(ld, k, val, NULL);
    for (const char *c = val; c < eq; c++)
        if (!(is_digit(*c) || (lower(*c) >= 'a' && lower(*c) <= 'z') || *c == '_'))
            return bad_value(ld, k, val, NULL);
    str_list_push(l, xstrdup(val));
    return 0;
}

static void expect_env(const struct config_key *k, char *buf, size_t n)
{
    expect_text("NAME=VALUE (NAME: letters, digits, '_')", buf, n);
}

#define COMMENT_MAX 64

/* An RFC 9110 comment's text without the parentheses: printable ASCII, no '(', ')' or '\\'. */
static int parse_comment(struct load *ld, const struct config_key *k, void *base, char *val)
{
    char **slot = slot_of(base, k);
    size_t n = strlen(val);
    if (n == 0 || n > COMMENT_MAX)
        return bad_value(ld, k, val, NULL);
    for (const char *c = val; *c; c++)
        if (*c < 0x20 || *c > 0x7e || *c == '(' || *c == ')' || *c == '\\')
            return bad_value(ld, k, val, NULL);
    free(*slot);
    *slot = xstrdup(val);
    return 0;
}

static void expect_comment(const struct config_key *k, char *buf, size_t n)
{
    snprintf(buf, n, "1-%d printable ASCII characters without '(', ')' or '\\'", COMMENT_MAX);
}

/* git_shared: paths kept across releases (shared_path.h); "off" = none (a preset's too). */
static bool is_shared_path(const char *w)
{
    struct shared_path sp;
    return shared_path_parse(w, &sp) == 0;
}

static int parse_shared(struct load *ld, const struct config_key *k, void *base, char *val)
{
    return parse_word_list(ld, k, base, val, is_shared_path, true);
}

static void expect_shared(const struct config_key *k, char *buf, size_t n)
{
    expect_text("paths inside the release (no '..', not absolute, no .git), or off", buf, n);
}

/* git_notify: http:// or https:// URLs (libcurl parses them when sending). */
static bool is_http_url(const char *w)
{
    bool ok = (ascii_ncasecmp(w, "http://", 7) == 0 && w[7]) ||
              (ascii_ncasecmp(w, "https://", 8) == 0 && w[8]);
    for (const char *c = w; ok && *c; c++)
        ok = (unsigned char)*c > 0x20 && *c != 0x7f;
    return ok;
}

static int parse_urls(struct load *ld, const struct config_key *k, void *base, char *val)
{
    return parse_word_list(ld, k, base, val, is_http_url, false);
}

static void expect_urls(const struct config_key *k, char *buf, size_t n)
{
    expect_text("http:// or https:// URLs", buf, n);
}

/* acme_ca: one http:// or https:// URL. */
static int parse_url(struct load *ld, const struct config_key *k, void *base, char *val)
{
    if (!is_http_url(val))
        return bad_value(ld, k, val, NULL);
    return parse_string(ld, k, base, val);
}

static void expect_url(const struct config_key *k, char *buf, size_t n)
{
    expect_text("an http:// or https:// URL", buf, n);
}

/* git_peers: NAME:PORT words (a DNS name, resolved at each use, or an address) */
static bool is_peer(const char *w)
{
    struct upstream_addr a = {0};
    const char *why = NULL;
    bool ok = config_parse_upstream(w, &a, &why) == 0 && a.host;
    config_upstream_dispose(&a);
    return ok;
}

static int parse_peers(struct load *ld, const struct config_key *k, void *base, char *val)
{
    return parse_word_list(ld, k, base, val, is_peer, false);
}

static void expect_peers(const struct config_key *k, char *buf, size_t n)
{
    expect_text("NAME:PORT words (a DNS name or an address, and the peers' port)", buf, n);
}

/* git_check: "PATH [STATUS]" (gate_spec.h), kept as written. */
static int parse_check(struct load *ld, const struct config_key *k, void *base, char *val)
{
    char path[GATE_SPEC_PATH_MAX];
    unsigned status;
    const char *why;
    if (gate_spec_parse(val, path, sizeof path, &status, &why) != 0)
        return bad_value(ld, k, val, why);
    return parse_string(ld, k, base, val);
}

static void expect_check(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a URL path and an optional HTTP status (\"/health 204\")", buf, n);
}

/* redirect: "FROM TO [STATUS]" (redirect.h), one rule per line */
static int parse_redirect(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct redirect_rules *l = slot_of(base, k);
    struct redirect_rule rule;
    const char *why = redirect_parse(val, &rule);
    if (why)
        return bad_value(ld, k, val, why);
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = rule;
    return 0;
}

static void expect_redirect(const struct config_key *k, char *buf, size_t n)
{
    expect_text("FROM TO [301|302|307|308]", buf, n);
}

static void dispose_redirect(const struct config_key *k, void *base)
{
    redirect_rules_free(slot_of(base, k));
}

static int parse_redirect_host(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct redirect_host *h = slot_of(base, k);
    unsigned line = h->line;
    const char *why = redirect_host_parse(val, h);
    h->line = line;
    return why ? bad_value(ld, k, val, why) : 0;
}

static void expect_redirect_host(const struct config_key *k, char *buf, size_t n)
{
    expect_text("www, apex or off, and an optional status (301, 302, 307, 308)", buf, n);
}

/* header: "PATH [=|-]Name[: value]" (header_rule.h), one rule per line */
static int parse_header(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct header_rules *l = slot_of(base, k);
    struct header_rule rule;
    const char *why = header_rule_parse(val, &rule);
    if (why)
        return bad_value(ld, k, val, why);
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = rule;
    return 0;
}

static void expect_header(const struct config_key *k, char *buf, size_t n)
{
    expect_text("PATH Name: value, PATH =Name: value or PATH -Name", buf, n);
}

static void dispose_header(const struct config_key *k, void *base)
{
    header_rules_free(slot_of(base, k));
}

static int parse_cache(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct cache_rules *l = slot_of(base, k);
    struct cache_rule rule;
    const char *why = header_rule_parse_cache(val, &rule);
    if (why)
        return bad_value(ld, k, val, why);
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = rule;
    return 0;
}

static void expect_cache(const struct config_key *k, char *buf, size_t n)
{
    expect_text("PATH and Cache-Control directives (max-age=3600, public)", buf, n);
}

static void dispose_cache(const struct config_key *k, void *base)
{
    cache_rules_free(slot_of(base, k));
}

static int parse_error_page(struct load *ld, const struct config_key *k, void *base, char *val)
{
    unsigned dup;
    const char *why = error_page_parse(val, ld->line, slot_of(base, k), &dup);
    if (why && dup)
        return errlist_add(ld->errs, "%s:%u: %s: %s (line %u): '%s'", fname(ld), ld->line, k->name,
                           why, dup, val);
    return why ? bad_value(ld, k, val, why) : 0;
}

static void expect_error_page(const struct config_key *k, char *buf, size_t n)
{
    expect_text("STATUS... URI (404 /errors/404.html)", buf, n);
}

static void dispose_error_page(const struct config_key *k, void *base)
{
    error_page_rules_free(slot_of(base, k));
}

/* fastcgi_sendfile: absolute, normalised directories; kept without a final '/' */
static bool is_abs_dir(const char *w)
{
    size_t n = strlen(w);
    if (w[0] != '/' || n >= PATH_MAX)
        return false;
    for (const char *seg = w + 1; *seg;) {
        size_t len = strcspn(seg, "/");
        if ((len == 0 && seg[len]) || (len == 1 && seg[0] == '.') ||
            (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        seg += len;
        if (*seg == '/')
            seg++;
    }
    return true;
}

static int parse_dirs(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct str_list *l = slot_of(base, k);
    size_t before = l->n;
    int rc = parse_word_list(ld, k, base, val, is_abs_dir, false);
    for (size_t i = before; i < l->n; i++) {
        size_t n = strlen(l->v[i]);
        while (n > 1 && l->v[i][n - 1] == '/')
            l->v[i][--n] = '\0';
    }
    return rc;
}

static void expect_dirs(const struct config_key *k, char *buf, size_t n)
{
    expect_text("absolute directories without '.' or '..' segments", buf, n);
}

/* ---- access rules ------------------------------------------------------------------------- */

/* Their storage is struct access_conf, freed as a whole by dispose_access() (a list key's
 * first line in a section must not clear what the other access keys added). */

/* The PATH word of a rule into *m; reports and returns -1 when it is not a pattern. */
static int rule_path(struct load *ld, const struct config_key *k, const char *w,
                     struct path_match *m)
{
    const char *why = w ? path_match_parse(w, strlen(w), m) : "a URL path pattern first";
    if (why)
        return bad_value(ld, k, w ? w : "", why);
    return 0;
}

static int parse_cidr_words(struct load *ld, const struct config_key *k, char **val,
                            struct cidr_list *l)
{
    int rc = 0;
    char *w;
    while ((w = next_word(val)) != NULL) {
        struct cidr c;
        const char *why = cidr_parse(w, strlen(w), &c);
        if (why) {
            rc = bad_value(ld, k, w, why);
            continue;
        }
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = c;
    }
    return rc;
}

static int parse_ip_rule(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct access_conf *a = slot_of(base, k);
    struct ip_rule r = {.allow = k->min == 1, .line = ld->line};
    if (rule_path(ld, k, next_word(&val), &r.path) != 0)
        return -1;
    int rc = parse_cidr_words(ld, k, &val, &r.nets);
    if (rc != 0 || r.nets.n == 0) {
        if (rc == 0) /* a bad address was reported already */
            bad_value(ld, k, "", "a URL path pattern and at least one address or CIDR block");
        path_match_free(&r.path);
        free(r.nets.v);
        return -1;
    }
    a->ip = xrealloc(a->ip, (a->n_ip + 1) * sizeof *a->ip);
    a->ip[a->n_ip++] = r;
    return 0;
}

static void expect_ip_rule(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a URL path pattern and addresses or CIDR blocks (\"/admin 10.0.0.0/8 ::1\")", buf,
                n);
}

static int parse_cidrs(struct load *ld, const struct config_key *k, void *base, char *val)
{
    if (!*val)
        return bad_value(ld, k, val, NULL);
    return parse_cidr_words(ld, k, &val, slot_of(base, k));
}

static void expect_cidrs(const struct config_key *k, char *buf, size_t n)
{
    expect_text("addresses or CIDR blocks (\"10.0.0.0/8 ::1\")", buf, n);
}

int config_parse_rate(const char *s, uint64_t *interval_ns, const char **why)
{
    static const struct {
        const char *suffix;
        uint64_t ns;
    } units[] = {{"r/s", UINT64_C(1000000000)},
                 {"r/m", UINT64_C(60000000000)},
                 {"r/h", UINT64_C(3600000000000)}};
    *why = "a rate like 10r/s, 60r/m or 100r/h (1 to 1000000 requests per unit)";
    uint64_t count = 0;
    const char *p = s;
    while (is_digit(*p) && count <= 1000000)
        count = count * 10 + (uint64_t)(*p++ - '0');
    if (p == s || count < 1 || count > 1000000)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(units); i++)
        if (strcmp(p, units[i].suffix) == 0) {
            *interval_ns = units[i].ns / count;
            return 0;
        }
    return -1;
}

static int parse_limit_req(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct access_conf *a = slot_of(base, k);
    struct rate_rule r = {.line = ld->line};
    const char *why;
    if (rule_path(ld, k, next_word(&val), &r.path) != 0)
        return -1;
    char *rate = next_word(&val), *w;
    int rc = 0;
    if (!rate || config_parse_rate(rate, &r.interval_ns, &why) != 0)
        rc =
            bad_value(ld, k, rate ? rate : "", "a rate like 10r/s, 60r/m or 100r/h after the path");
    while (rc == 0 && (w = next_word(&val)) != NULL) {
        uint64_t burst = 0;
        const char *p = w + 6;
        if (strncmp(w, "burst=", 6) != 0 || !*p) {
            rc = bad_value(ld, k, w, "burst=N (0 to 100000) after the rate");
            break;
        }
        for (; is_digit(*p) && burst <= 100000; p++)
            burst = burst * 10 + (uint64_t)(*p - '0');
        if (*p || burst > 100000)
            rc = bad_value(ld, k, w, "burst=N (0 to 100000) after the rate");
        r.burst = (unsigned)burst;
    }
    if (rc != 0) {
        path_match_free(&r.path);
        return -1;
    }
    a->rate = xrealloc(a->rate, (a->n_rate + 1) * sizeof *a->rate);
    a->rate[a->n_rate++] = r;
    return 0;
}

static void expect_limit_req(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a URL path pattern, a rate and an optional burst (\"=/wp-login.php 10r/m "
                "burst=5\")",
                buf, n);
}

static bool is_realm(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
            return false;
    return true;
}

static int parse_auth_basic(struct load *ld, const struct config_key *k, void *base, char *val)
{
    struct access_conf *a = slot_of(base, k);
    struct auth_rule r = {.line = ld->line};
    if (rule_path(ld, k, next_word(&val), &r.path) != 0)
        return -1;
    char *file = next_word(&val);
    while (*val && is_ws(*val))
        val++;
    size_t realm_len = strlen(val);
    if (realm_len >= 2 && val[0] == '"' && val[realm_len - 1] == '"') { /* "Admin area" */
        val[realm_len - 1] = '\0';
        val++;
    }
    const char *realm = *val ? val : "Restricted";
    if (!file) {
        path_match_free(&r.path);
        return bad_value(ld, k, "", "an htpasswd file after the path");
    }
    if (!is_realm(realm)) {
        path_match_free(&r.path);
        return bad_value(ld, k, realm, "a realm without '\"', '\\\\' or control characters");
    }
    r.file = xstrdup(file);
    r.realm = xstrdup(realm);
    a->auth = xrealloc(a->auth, (a->n_auth + 1) * sizeof *a->auth);
    a->auth[a->n_auth++] = r;
    return 0;
}

static void expect_auth_basic(const struct config_key *k, char *buf, size_t n)
{
    expect_text("a URL path pattern, an htpasswd file and an optional realm", buf, n);
}

static void dispose_access(struct access_conf *a)
{
    for (size_t i = 0; i < a->n_ip; i++) {
        path_match_free(&a->ip[i].path);
        free(a->ip[i].nets.v);
    }
    for (size_t i = 0; i < a->n_rate; i++)
        path_match_free(&a->rate[i].path);
    for (size_t i = 0; i < a->n_auth; i++) {
        path_match_free(&a->auth[i].path);
        free(a->auth[i].file);
        free(a->auth[i].realm);
    }
    free(a->ip);
    free(a->rate);
    free(a->auth);
    free(a->trusted_proxies.v);
    memset(a, 0, sizeof *a);
}

/* compress: words of coding.h ("zstd br gzip"); "off" clears. The order does not matter: the
 * client's weights, then zstd > br > gzip, choose (coding.h). */
static int parse_codings(struct load *ld, const struct config_key *k, void *base, char *val)
{
    unsigned *mask = slot_of(base, k);
    int rc = 0;
    char *w;
    if (!*val)
        return bad_value(ld, k, val, NULL);
    while ((w = next_word(&val)) != NULL) {
        enum coding c = coding_of(w, strlen(w));
        if (ascii_casecmp(w, "off") == 0)
            *mask = 0;
        else if (c == CODING_N || ascii_casecmp(w, "x-gzip") == 0)
            rc = bad_value(ld, k, w, NULL);
        else
            *mask |= CODING_BIT(c);
    }
    return rc;
}

static void expect_codings(const struct config_key *k, char *buf, size_t n)
{
    expect_text("content codings: zstd, br, gzip (or off)", buf, n);
}

/* A new value type is an enum key_type value, its three functions and one row here. */
static const struct type_def types[] = {
    [T_STRING] = {false, parse_string, expect_string, dispose_string},
    [T_PATH] = {false, parse_path, expect_path, dispose_string},
    [T_BOOL] = {false, parse_bool, expect_bool, dispose_nothing},
    [T_UNSIGNED] = {false, parse_unsigned, expect_unsigned, dispose_nothing},
    [T_SIZE] = {false, parse_size, expect_size, dispose_nothing},
    [T_DURATION] = {false, parse_duration, expect_duration, dispose_nothing},
    [T_LISTEN] = {true, parse_listen, expect_listen, dispose_listen},
    [T_WORDS] = {true, parse_words, expect_words, dispose_str_list},
    [T_HOSTS] = {true, parse_hosts, expect_hosts, dispose_str_list},
    [T_ENUM] = {false, parse_enum, expect_enum, dispose_nothing},
    [T_UPSTREAMS] = {true, parse_upstreams, expect_upstreams, dispose_upstreams},
    [T_URLPATH] = {false, parse_urlpath, expect_urlpath, dispose_string},
    [T_RELPATH] = {false, parse_relpath, expect_relpath, dispose_string},
    [T_PREFIXES] = {true, parse_prefixes, expect_prefixes, dispose_str_list},
    [T_ENV] = {true, parse_env, expect_env, dispose_str_list},
    [T_COMMENT] = {false, parse_comment, expect_comment, dispose_string},
    [T_SHARED] = {true, parse_shared, expect_shared, dispose_str_list},
    [T_URLS] = {true, parse_urls, expect_urls, dispose_str_list},
    [T_PEERS] = {true, parse_peers, expect_peers, dispose_str_list},
    [T_CHECK] = {false, parse_check, expect_check, dispose_string},
    [T_REDIRECT] = {true, parse_redirect, expect_redirect, dispose_redirect},
    [T_REDIRECT_HOST] = {false, parse_redirect_host, expect_redirect_host, dispose_nothing},
    [T_HEADER] = {true, parse_header, expect_header, dispose_header},
    [T_CACHE] = {true, parse_cache, expect_cache, dispose_cache},
    [T_ERROR_PAGE] = {true, parse_error_page, expect_error_page, dispose_error_page},
    [T_DIRS] = {true, parse_dirs, expect_dirs, dispose_str_list},
    [T_IP_RULE] = {true, parse_ip_rule, expect_ip_rule, dispose_nothing},
    [T_CIDRS] = {true, parse_cidrs, expect_cidrs, dispose_nothing},
    [T_LIMIT_REQ] = {true, parse_limit_req, expect_limit_req, dispose_nothing},
    [T_AUTH_BASIC] = {true, parse_auth_basic, expect_auth_basic, dispose_nothing},
    [T_CODINGS] = {true, parse_codings, expect_codings, dispose_nothing},
    [T_URL] = {false, parse_url, expect_url, dispose_string},
};

static void expect_of(const struct config_key *k, char *buf, size_t n)
{
    types[k->type].expect(k, buf, n);
}

/* ---- defaults and lifetime ---------------------------------------------------------------- */

static void apply_defaults(enum section_kind sec, void *base)
{
    struct errlist errs = {0};
    struct load ld = {.errs = &errs, .filename = "(defaults)"};

    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        if (keys[i].section != sec || !keys[i].def)
            continue;
        char *v = xstrdup(keys[i].def);
        types[keys[i].type].parse(&ld, &keys[i], base, v);
        free(v);
    }
    assert(errs.n == 0); /* a bad default is a bug in the table */
    errlist_dispose(&errs);
}

static void dispose_section(enum section_kind sec, void *base)
{
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (keys[i].section == sec)
            types[keys[i].type].dispose(&keys[i], base);
}

void config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    apply_defaults(SEC_SERVER, &cfg->server);
}

struct site_conf *config_add_site(struct config *cfg, const char *name)
{
    cfg->sites = xrealloc(cfg->sites, (cfg->n_sites + 1) * sizeof *cfg->sites);
    struct site_conf *s = &cfg->sites[cfg->n_sites++];
    memset(s, 0, sizeof *s);
    s->pos = cfg->n_sites - 1;
    s->name = xstrdup(name);
    apply_defaults(SEC_SITE, s);
    return s;
}

void config_dispose(struct config *cfg)
{
    dispose_section(SEC_SERVER, &cfg->server);
    for (size_t i = 0; i < cfg->n_sites; i++) {
        dispose_section(SEC_SITE, &cfg->sites[i]);
        dispose_access(&cfg->sites[i].access);
        free(cfg->sites[i].git.shared_dir);
        free(cfg->sites[i].fcgi.spawn_binary);
        free(cfg->sites[i].name);
    }
    free(cfg->sites);
    free(cfg->filename);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- sections ----------------------------------------------------------------------------- */

static bool is_site_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_digit(*s) && !(lower(*s) >= 'a' && lower(*s) <= 'z') && !strchr("._-", *s))
            return false;
    return true;
}

/* name: the text between '[' and ']', trimmed. */
static void open_section(struct load *ld, const char *name)
{
    struct config *cfg = ld->cfg;

    memset(ld->seen, 0, sizeof ld->seen);
    if (ld->preset) {
        errlist_add(ld->errs, "%s:%u: a preset has no sections, only keys", fname(ld), ld->line);
        ld->sec = SEC_SKIP;
        return;
    }
    ld->sec = SEC_SKIP;
    if (strcmp(name, "server") == 0) {
        if (ld->server_line) {
            errlist_add(ld->errs, "%s:%u: duplicate section [server] (first at line %u)", fname(ld),
                        ld->line, ld->server_line);
            return;
        }
        ld->server_line = ld->line;
        ld->sec = SEC_SERVER;
        return;
    }
    if (strncmp(name, "site", 4) != 0 || (name[4] && !is_ws(name[4]))) {
        errlist_add(ld->errs, "%s:%u: unknown section [%s]", fname(ld), ld->line, name);
        return;
    }
    const char *site = name + 4;
    while (is_ws(*site))
        site++;
    if (!*site) {
        errlist_add(ld->errs, "%s:%u: [site] needs a name, as in [site blog]", fname(ld), ld->line);
        return;
    }
    if (!is_site_name(site)) {
        errlist_add(ld->errs, "%s:%u: bad site name '%s' (letters, digits, '.', '_', '-')",
                    fname(ld), ld->line, site);
        return;
    }
    for (size_t i = 0; i < cfg->n_sites; i++) {
        if (strcmp(cfg->sites[i].name, site) == 0) {
            errlist_add(ld->errs, "%s:%u: duplicate section [site %s] (first at line %u)",
                        fname(ld), ld->line, site, cfg->sites[i].line);
            return;
        }
    }
    config_add_site(cfg, site)->line = ld->line;
    ld->site = cfg->n_sites - 1;
    ld->sec = SEC_SITE;
}

static void *section_base(struct load *ld)
{
    if (ld->sec == SEC_PRESET)
        return ld->preset;
    return ld->sec == SEC_SERVER ? (void *)&ld->cfg->server : (void *)&ld->cfg->sites[ld->site];
}

static const char *section_label(struct load *ld, char *buf, size_t n)
{
    if (ld->sec == SEC_SERVER)
        return "[server]";
    if (ld->sec == SEC_PRESET)
        snprintf(buf, n, "preset '%s'", ld->preset->name);
    else
        snprintf(buf, n, "[site %s]", ld->cfg->sites[ld->site].name);
    return buf;
}

/* ---- the reader: line numbers and everything inih reports only by return value ------------ */

/* inih's find_chars_or_comment(): the first char of chars, or an inline ';' after
 * whitespace, or the end. */
static const char *find_or_comment(const char *s, const char *chars)
{
    bool was_space = false;
    while (*s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = is_ws(*s);
        s++;
    }
    return s;
}

static void syntax_error(struct load *ld)
{
    errlist_add(ld->errs, "%s:%u: syntax error", fname(ld), ld->line);
}

/* Mirror inih's per-line decision exactly, so that the handler knows what it is called for. */
static void classify(struct load *ld, char *line)
{
    char *start = line, *end = line + strlen(line);

    ld->kind = LK_OTHER;
    while (end > start && is_ws(end[-1]))
        end--;
    *end = '\0';
    while (is_ws(*start))
        start++;
    if (!*start || *start == ';' || *start == '#')
        return;
    if (ld->has_prev_key && start > line) {
        ld->kind = LK_CONT;
        return;
    }
    if (*start == '[') {
        const char *close = find_or_comment(start + 1, "]");
        ld->key = NULL;
        if (*close != ']') {
            /* inih keeps the old section; its keys must not land there by accident */
            ld->sec = SEC_SKIP;
            syntax_error(ld);
            return;
        }
        ld->has_prev_key = false;
        /* inih ignores text after ']'; we allow only a comment there */
        const char *after = close + 1;
        while (is_ws(*after))
            after++;
        if (*after && *after != ';' && *after != '#') {
            ld->sec = SEC_SKIP;
            syntax_error(ld);
            return;
        }
        const char *a = start + 1, *b = close;
        while (a < b && is_ws(*a))
            a++;
        while (b > a && is_ws(b[-1]))
            b--;
        char *name = xstrndup(a, (size_t)(b - a));
        open_section(ld, name);
        free(name);
        return;
    }
    const char *sep = find_or_comment(start, "=:");
    if (*sep != '=' && *sep != ':') {
        syntax_error(ld);
        return;
    }
    /* inih remembers the name even when it is empty, which turns continuations off */
    ld->has_prev_key = sep > start;
    if (sep == start) {
        syntax_error(ld);
        return;
    }
    ld->kind = LK_KEY;
}

static char *read_line(char *str, int num, void *stream)
{
    struct load *ld = stream;
    const char *p = ld->p, *nl;
    size_t len;

    if (!*p)
        return NULL;
    nl = strchr(p, '\n');
    len = nl ? (size_t)(nl - p) : strlen(p);
    ld->p = nl ? nl + 1 : p + len;
    ld->line++;
    if (ld->line == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        len -= 3;
    }
    if (len > 0 && p[len - 1] == '\r')
        len--;
    if (len > CONFIG_LINE_MAX || len + 1 > (size_t)num) {
        errlist_add(ld->errs,
                    "%s:%u: line too long (max %d bytes); continue a list on an indented next "
                    "line",
                    fname(ld), ld->line, CONFIG_LINE_MAX);
        /* inih gets a blank line: keeps its count in step and, like inih, keeps prev_name */
        ld->kind = LK_OTHER;
        str[0] = '\0';
        return str;
    }
    memcpy(str, p, len);
    str[len] = '\0';
    /* classify a copy: inih needs the original bytes */
    char *copy = xstrndup(str, len);
    classify(ld, copy);
    free(copy);
    return str;
}

/* ---- the handler -------------------------------------------------------------------------- */

static const struct config_key *find_key(enum section_kind sec, const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        if (keys[i].section == sec && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static void apply_value(struct load *ld, const struct config_key *k, const char *value)
{
    size_t n = strlen(value);
    bool opens = n > 0 && value[0] == '"', closes = n > 1 && value[n - 1] == '"';
    char *v;

    if (opens && !closes) {
        bad_value(ld, k, value, "a closing '\"'");
        return;
    }
    if (opens)
        v = xstrndup(value + 1, n - 2);
    else
        v = xstrdup(value);
    types[k->type].parse(ld, k, section_base(ld), v);
    free(v);
}

static void on_key(struct load *ld, const char *name, const char *value)
{
    char label[96];
    const struct config_key *k;
    size_t i;

    if (ld->kind == LK_CONT) {
        if (!ld->key)
            return; /* continuing a key that was already reported */
        if (!types[ld->key->type].is_list) {
            errlist_add(ld->errs,
                        "%s:%u: %s: takes one value; only lists continue on an indented line",
                        fname(ld), ld->line, ld->key->name);
            return;
        }
        /* inih 55 cuts inline comments from key lines only; do the same for continuations */
        char *v = xstrndup(value, (size_t)(find_or_comment(value, NULL) - value));
        for (size_t n = strlen(v); n > 0 && is_ws(v[n - 1]); n--)
            v[n - 1] = '\0';
        apply_value(ld, ld->key, v);
        free(v);
        return;
    }
    if (ld->kind != LK_KEY)
        return;
    ld->key = NULL;
    if (ld->sec == SEC_SKIP)
        return;
    if (ld->sec == SEC_NONE) {
        errlist_add(ld->errs,
                    "%s:%u: key '%s' outside a section; start with [server] or "
                    "[site NAME]",
                    fname(ld), ld->line, name);
        return;
    }
    k = find_key(ld->sec, name);
    if (!k) {
        errlist_add(ld->errs, "%s:%u: unknown key '%s' in %s", fname(ld), ld->line, name,
                    section_label(ld, label, sizeof label));
        return;
    }
    i = (size_t)(k - keys);
    if (ld->seen[i] && !types[k->type].is_list) {
        errlist_add(ld->errs, "%s:%u: duplicate key '%s' in %s (first at line %u)", fname(ld),
                    ld->line, name, section_label(ld, label, sizeof label), ld->seen[i]);
        return;
    }
    if (!ld->seen[i]) {
        ld->seen[i] = ld->line;
        if (types[k->type].is_list) /* the file's list replaces the default one */
            types[k->type].dispose(k, section_base(ld));
        if (k->line_off)
            *(unsigned *)((char *)section_base(ld) + k->line_off) = ld->line;
    }
    ld->key = k;
    apply_value(ld, k, value);
}

#if INI_HANDLER_LINENO
static int on_ini(void *user, const char *section, const char *name, const char *value, int lineno)
#else
static int on_ini(void *user, const char *section, const char *name, const char *value)
#endif
{
    /* section is ignored: inih truncates it, and open_section() tracks its own */
    on_key(user, name, value ? value : "");
    return 1;
}

int config_parse(struct config *cfg, const char *text, const char *filename, struct errlist *errs)
{
    size_t before = errs->n;
    struct load ld = {
        .cfg = cfg,
        .filename = filename,
        .errs = errs,
        .p = text,
        .sec = SEC_NONE,
    };

    free(cfg->filename);
    cfg->filename = filename ? xstrdup(filename) : NULL;
    int rc = ini_parse_stream(read_line, &ld, on_ini, &ld);
    /* the reader should have seen every error inih sees; never let one pass silently */
    if (rc != 0 && errs->n == before)
        errlist_add(errs, "%s:%d: syntax error", fname(&ld), rc);
    return errs->n == before ? 0 : -1;
}

int config_parse_preset(struct preset *p, const char *name, const char *text, const char *filename,
                        struct errlist *errs)
{
    size_t before = errs->n;
    memset(p, 0, sizeof *p);
    p->name = xstrdup(name);
    struct load ld = {
        .filename = filename,
        .errs = errs,
        .p = text,
        .sec = SEC_PRESET,
        .preset = p,
    };
    int rc = ini_parse_stream(read_line, &ld, on_ini, &ld);
    if (rc != 0 && errs->n == before)
        errlist_add(errs, "%s:%d: syntax error", fname(&ld), rc);
    if (errs->n == before && p->split && !p->ext)
        errlist_add(errs, "%s: 'split' needs 'ext' (the extension of the scripts that run)",
                    fname(&ld));
    if (errs->n == before && !p->ext)
        errlist_add(errs, "%s: 'ext' is required (e.g. ext = .php)", fname(&ld));
    return errs->n == before ? 0 : -1;
}

void config_preset_dispose(struct preset *p)
{
    dispose_section(SEC_PRESET, p);
    free(p->name);
    p->name = NULL;
}

/* ---- second pass -------------------------------------------------------------------------- */

/* Whether path is dir or below it, textually ("/srv/site/.env" under "/srv/site/"). */
static bool path_is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* "FILE:LINE" for things from the file, "command line" for the rest. */
static const char *where(const struct config *cfg, unsigned line, char *buf, size_t n)
{
    if (line == 0)
        return "command line";
    snprintf(buf, n, "%s:%u", cfg->filename ? cfg->filename : "(config)", line);
    return buf;
}

static bool same_listen(const struct listen_addr *a, const struct listen_addr *b)
{
    if (a->port != b->port || !a->host != !b->host)
        return false;
    return !a->host || ascii_casecmp(a->host, b->host) == 0;
}

/* HTTPS cross-checks: who has a certificate, and what tls = auto needs (a plain listener for
 * the HTTP-01 challenge, a TLS one to serve what it gets, names to ask for). */
static void finish_tls(const struct config *cfg, struct errlist *errs)
{
    const struct server_conf *srv = &cfg->server;
    char at[320];
    bool any_cert = srv->tls_cert && srv->tls_key;
    for (size_t i = 0; i < cfg->n_sites; i++) {
        const struct site_conf *s = &cfg->sites[i];
        const struct tls_site_conf *t = &s->tls;
        const char *w = where(cfg, t->cert_line ? t->cert_line : s->line, at, sizeof at);
        if (!t->cert != !t->key)
            errlist_add(errs, "%s: [site %s]: tls_cert and tls_key go together", w, s->name);
        if (t->mode == TLS_AUTO) {
            w = where(cfg, t->line, at, sizeof at);
            if (t->cert)
                errlist_add(errs, "%s: [site %s]: tls = auto and tls_cert: give one", w, s->name);
            if (!s->hosts.n)
                errlist_add(errs, "%s: [site %s]: tls = auto needs hosts (the names to certify)", w,
                            s->name);
            if (!srv->n_listen)
                errlist_add(errs,
                            "%s: [site %s]: tls = auto needs a plain listen address (the "
                            "HTTP-01 challenge)",
                            w, s->name);
        }
        bool has = t->mode == TLS_AUTO || (t->cert && t->key);
        any_cert |= has;
        if ((has || t->https_redirect || t->hsts_ms) && !srv->n_tls_listen)
            errlist_add(errs,
                        "%s: [site %s]: tls, tls_cert, https_redirect and hsts need a "
                        "tls_listen address in [server]",
                        where(cfg, s->line, at, sizeof at), s->name);
    }
    if (srv->n_tls_listen && !any_cert)
        errlist_add(errs,
                    "%s: tls_listen needs tls_cert and tls_key (in [server] or a site), or a "
                    "site with tls = auto",
                    where(cfg, srv->tls_listen[0].line, at, sizeof at));
}

/* The admin endpoints are never served on a public listener (nor twice). */
static void check_admin_listen(const struct config *cfg, struct errlist *errs)
{
    char at[320];
    const struct server_conf *srv = &cfg->server;
    for (size_t j = 0; j < srv->n_admin_listen; j++) {
        const struct listen_addr *a = &srv->admin_listen[j];
        bool clash = false;
        if (a->port == 0)
            continue; /* ":0" binds a new port each time (tests) */
        for (size_t i = 0; i < srv->n_listen && !clash; i++)
            clash = same_listen(&srv->listen[i], a);
        for (size_t i = 0; i < srv->n_tls_listen && !clash; i++)
            clash = same_listen(&srv->tls_listen[i], a);
        for (size_t i = 0; i < j && !clash; i++)
            clash = same_listen(&srv->admin_listen[i], a);
        if (clash)
            errlist_add(errs,
                        "%s: admin_listen: '%s' is also a listen or tls_listen address "
                        "(or given twice)",
                        where(cfg, a->line, at, sizeof at), a->text);
    }
}

/* Pass 1, [server]: the default listen address when none is given (not in the key table: a
 * --listen or a tls_listen alone replaces it), then each listener against the others. */
static void finish_server(struct config *cfg, struct errlist *errs)
{
    char at[320];
    struct server_conf *srv = &cfg->server;
    if (srv->n_listen == 0 && srv->n_tls_listen == 0) {
        struct listen_addr a;
        const char *why;
        int rc = config_parse_listen(CONFIG_DEFAULT_LISTEN, &a, &why);
        assert(rc == 0);
        (void)rc;
        free(srv->listen); /* an empty array (every --listen refused) is still ours */
        srv->listen = xmalloc(sizeof *srv->listen);
        srv->listen[0] = a;
        srv->n_listen = 1;
    }
    for (size_t j = 1; j < srv->n_listen; j++) {
        for (size_t i = 0; i < j; i++) {
            if (same_listen(&srv->listen[i], &srv->listen[j])) {
                errlist_add(errs, "%s: listen: '%s' is given twice",
                            where(cfg, srv->listen[j].line, at, sizeof at), srv->listen[j].text);
                break;
            }
        }
    }
    if (!srv->tls_cert != !srv->tls_key)
        errlist_add(errs, "%s: tls_cert and tls_key go together",
                    where(cfg, srv->tls_line, at, sizeof at));
    for (size_t j = 0; j < srv->n_tls_listen; j++) {
        for (size_t i = 0; i < srv->n_listen; i++) {
            if (same_listen(&srv->listen[i], &srv->tls_listen[j])) {
                errlist_add(errs, "%s: tls_listen: '%s' is also in listen",
                            where(cfg, srv->tls_listen[j].line, at, sizeof at),
                            srv->tls_listen[j].text);
                break;
            }
        }
    }
    check_admin_listen(cfg, errs);
}

/* Pass 2a, a site's defaults that depend on other keys (never an error): root "." for the
 * command line's site, the FastCGI connection limits, whether response rules apply, and a git
 * site's shared directory beside its releases. */
static void site_defaults(struct site_conf *s)
{
    if (!s->root && s->line == 0)
        s->root = xstrdup(".");
    if (s->fcgi.max_conns == 0)
        s->fcgi.max_conns = s->fcgi.spawn ? CONFIG_FCGI_SPAWN_CHILDREN : CONFIG_FCGI_MAX_CONNS;
    if (s->fcgi.keep_conns > s->fcgi.max_conns)
        s->fcgi.keep_conns = s->fcgi.max_conns; /* never more idle than open */
    s->response_rules = s->headers.n || s->cache.n || s->security_headers;
    if (s->git.repo && s->root && !s->git.shared_dir) {
        char *state = release_state_dir(s->root);
        s->git.shared_dir = xasprintf("%s/shared", state);
        free(state);
    }
}

/* Pass 2b, a site's keys that need one another (after site_defaults), each error once. */
static void check_site(const struct config *cfg, const struct site_conf *s, struct errlist *errs)
{
    char at[320];
    const struct git_site_conf *g = &s->git;
    if (!s->root)
        errlist_add(errs, "%s: [site %s]: root is required", where(cfg, s->line, at, sizeof at),
                    s->name);
    if (!g->repo &&
        (g->hook || g->then || g->subdir || g->status || g->shared_line || g->env_file ||
         g->after || g->notify.n || g->revision_file || g->secret_file || g->check))
        errlist_add(errs, "%s: [site %s]: git_* keys need git_repo",
                    where(cfg, s->line, at, sizeof at), s->name);
    if (s->redirect_host.mode != REDIRECT_HOST_OFF &&
        !redirect_host_has_pair(s->hosts.v, s->hosts.n))
        errlist_add(errs,
                    "%s: [site %s]: redirect_host needs a name and its www. form in hosts "
                    "(example.org www.example.org)",
                    where(cfg, s->redirect_host.line, at, sizeof at), s->name);
    if (s->fcgi.sendfile.n && !s->fcgi.n_upstreams && !s->fcgi.spawn)
        errlist_add(errs, "%s: [site %s]: fastcgi_sendfile needs fastcgi",
                    where(cfg, s->fcgi.sendfile_line, at, sizeof at), s->name);
    if (g->peers.n && !g->hook)
        errlist_add(errs, "%s: [site %s]: git_peers needs git_hook (the peers' path)",
                    where(cfg, g->peers_line, at, sizeof at), s->name);
    if (g->secret_file && g->secret)
        errlist_add(errs, "%s: [site %s]: git_secret and git_secret_file: give one",
                    where(cfg, g->secret_file_line, at, sizeof at), s->name);
    if (g->hook && !g->secret_file && (!g->secret || !*g->secret))
        errlist_add(errs, "%s: [site %s]: git_hook needs git_secret",
                    where(cfg, s->line, at, sizeof at), s->name);
    if (g->notify.n && !g->notify_secret && !g->secret && !g->secret_file)
        errlist_add(errs, "%s: [site %s]: git_notify needs git_notify_secret (or git_secret)",
                    where(cfg, s->line, at, sizeof at), s->name);
    if (g->env_file && s->root && path_is_under(g->env_file, s->root))
        errlist_add(errs,
                    "%s: git_env_file '%s' is inside the root '%s': it would be served; "
                    "keep it outside",
                    where(cfg, g->env_file_line, at, sizeof at), g->env_file, s->root);
}

/* Pass 4, across sites: a host name belongs to one site only. */
static void check_hosts_unique(const struct config *cfg, struct errlist *errs)
{
    char at[320];
    for (size_t j = 1; j < cfg->n_sites; j++) {
        const struct site_conf *b = &cfg->sites[j];
        for (size_t h = 0; h < b->hosts.n; h++) {
            for (size_t i = 0; i < j; i++) {
                const struct site_conf *a = &cfg->sites[i];
                if (str_list_has(&a->hosts, b->hosts.v[h])) {
                    errlist_add(errs, "%s: hosts: '%s' is in both [site %s] and [site %s]",
                                where(cfg, b->hosts_line, at, sizeof at), b->hosts.v[h], a->name,
                                b->name);
                    break;
                }
            }
        }
    }
}

/* The passes in the order of their messages: [server] (finish_server), each site (defaults,
 * checks, at most one site without hosts), HTTPS across sites (finish_tls), hosts across
 * sites. */
int config_finish(struct config *cfg, struct errlist *errs)
{
    size_t before = errs->n;
    char at[320];
    const struct site_conf *catchall = NULL;

    finish_server(cfg, errs);
    if (cfg->n_sites == 0)
        config_add_site(cfg, "default");
    for (size_t i = 0; i < cfg->n_sites; i++) {
        struct site_conf *s = &cfg->sites[i];
        site_defaults(s);
        check_site(cfg, s, errs);
        if (s->hosts.n == 0) {
            if (catchall)
                errlist_add(errs,
                            "%s: [site %s]: no hosts, but [site %s] is already the "
                            "default site",
                            where(cfg, s->line, at, sizeof at), s->name, catchall->name);
            else
                catchall = s;
        }
    }
    finish_tls(cfg, errs); /* pass 3 */
    check_hosts_unique(cfg, errs);
    return errs->n == before ? 0 : -1;
}

#define SECRET_FILE_MAX 4096

int config_read_secrets(struct config *cfg, struct errlist *errs)
{
    size_t before = errs->n;
    char at[320];
    for (size_t i = 0; i < cfg->n_sites; i++) {
        struct site_conf *s = &cfg->sites[i];
        const char *file = s->git.secret_file;
        if (!file || s->git.secret)
            continue; /* none, or both (config_finish() reported it) */
        char text[SECRET_FILE_MAX + 1];
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, text, sizeof text) : -1;
        int err = errno;
        if (fd >= 0)
            close(fd);
        const char *why = got < 0                           ? strerror(err)
                          : got > SECRET_FILE_MAX           ? "longer than 4096 bytes"
                          : memchr(text, '\0', (size_t)got) ? "contains a NUL byte"
                                                            : NULL;
        size_t n = got > 0 ? (size_t)got : 0;
        if (!why) {
            /* one final newline (an editor's, echo's) is not part of the secret */
            if (n && text[n - 1] == '\n')
                n--;
            if (n && text[n - 1] == '\r')
                n--;
            if (n == 0)
                why = "empty";
        }
        if (why) {
            errlist_add(errs, "%s: git_secret_file '%s': %s",
                        where(cfg, s->git.secret_file_line, at, sizeof at), file, why);
            continue;
        }
        s->git.secret = xmalloc(n + 1);
        memcpy(s->git.secret, text, n);
        s->git.secret[n] = '\0';
    }
    return errs->n == before ? 0 : -1;
}

/* The certificate, key and ACME roots files wharf will read: the server's, then each site's. */
static void check_tls_files(const struct config *cfg, struct errlist *errs)
{
    char at[320];
    const char *tls_files[] = {cfg->server.tls_cert, cfg->server.tls_key};
    const unsigned tls_lines[] = {cfg->server.tls_line, cfg->server.tls_key_line};
    for (size_t i = 0; i < 2 && cfg->server.n_tls_listen; i++)
        if (tls_files[i] && access(tls_files[i], R_OK) != 0)
            errlist_add(errs, "%s: %s '%s': %s", where(cfg, tls_lines[i], at, sizeof at),
                        i ? "tls_key" : "tls_cert", tls_files[i], strerror(errno));
    for (size_t s = 0; s < cfg->n_sites; s++) {
        const struct tls_site_conf *t = &cfg->sites[s].tls;
        const char *files[] = {t->cert, t->key, t->mode == TLS_AUTO ? t->acme_ca_roots : NULL};
        const char *names[] = {"tls_cert", "tls_key", "acme_ca_roots"};
        const unsigned lines[] = {t->cert_line, t->key_line, t->roots_line};
        for (size_t i = 0; i < 3; i++) /* each at its own line (the [site] one if it has none) */
            if (files[i] && access(files[i], R_OK) != 0)
                errlist_add(errs, "%s: [site %s]: %s '%s': %s",
                            where(cfg, lines[i] ? lines[i] : cfg->sites[s].line, at, sizeof at),
                            cfg->sites[s].name, names[i], files[i], strerror(errno));
    }
}

/* Request bodies of FastCGI sites go to temp_dir: a bad directory would fail every large POST,
 * so it is checked when some site uses FastCGI. */
static void check_temp_dir(const struct config *cfg, struct errlist *errs)
{
    char at[320];
    const char *tmp = cfg->server.temp_dir;
    bool uses_fcgi = false;
    for (size_t i = 0; i < cfg->n_sites; i++)
        uses_fcgi |= cfg->sites[i].fcgi.n_upstreams > 0 || cfg->sites[i].fcgi.spawn;
    if (!tmp || !uses_fcgi)
        return;
    struct stat st;
    if (stat(tmp, &st) != 0)
        errlist_add(errs, "%s: temp_dir '%s': %s",
                    where(cfg, cfg->server.temp_dir_line, at, sizeof at), tmp, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        errlist_add(errs, "%s: temp_dir '%s': %s",
                    where(cfg, cfg->server.temp_dir_line, at, sizeof at), tmp, strerror(ENOTDIR));
    else if (access(tmp, W_OK | X_OK) != 0)
        errlist_add(errs, "%s: temp_dir '%s': not writable: %s",
                    where(cfg, cfg->server.temp_dir_line, at, sizeof at), tmp, strerror(errno));
}

/* Every site's htpasswd files (auth_basic). */
static void check_auth_files(const struct config *cfg, struct errlist *errs)
{
    char at[320];
    for (size_t i = 0; i < cfg->n_sites; i++) {
        const struct access_conf *a = &cfg->sites[i].access;
        for (size_t j = 0; j < a->n_auth; j++)
            if (access(a->auth[j].file, R_OK) != 0)
                errlist_add(errs, "%s: auth_basic: htpasswd file '%s': %s",
                            where(cfg, a->auth[j].line, at, sizeof at), a->auth[j].file,
                            strerror(errno));
    }
}

/* wharf owns a git site's root: it may not exist yet, its parent must, and if it exists it is
 * the link wharf made. */
static void check_git_root(const struct config *cfg, const struct site_conf *s,
                           struct errlist *errs)
{
    char at[320];
    struct stat st;
    char *parent = xstrdup(s->root);
    for (size_t n = strlen(parent); n > 1 && parent[n - 1] == '/'; n--)
        parent[n - 1] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash)
        *(slash == parent ? slash + 1 : slash) = '\0';
    else
        strcpy(parent, ".");
    if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode))
        errlist_add(errs, "%s: root '%s': its directory '%s' does not exist",
                    where(cfg, s->root_line, at, sizeof at), s->root, parent);
    else if (lstat(s->root, &st) == 0 && !S_ISLNK(st.st_mode))
        errlist_add(errs,
                    "%s: root '%s' exists and is not a link made by wharf; with "
                    "git_repo wharf owns the root: move it away or name a new path",
                    where(cfg, s->root_line, at, sizeof at), s->root);
    free(parent);
}

/* A site's root: a directory, or for a git site a place wharf can make its link. */
static void check_root(const struct config *cfg, const struct site_conf *s, struct errlist *errs)
{
    char at[320];
    struct stat st;
    if (!s->root)
        return; /* config_finish() reported it */
    if (s->git.repo) {
        check_git_root(cfg, s, errs);
        return;
    }
    if (stat(s->root, &st) != 0)
        errlist_add(errs, "%s: root '%s': %s", where(cfg, s->root_line, at, sizeof at), s->root,
                    strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        errlist_add(errs, "%s: root '%s': %s", where(cfg, s->root_line, at, sizeof at), s->root,
                    strerror(ENOTDIR));
}

int config_check_fs(const struct config *cfg, struct errlist *errs)
{
    size_t before = errs->n;
    check_tls_files(cfg, errs);
    check_temp_dir(cfg, errs);
    check_auth_files(cfg, errs);
    for (size_t i = 0; i < cfg->n_sites; i++)
        check_root(cfg, &cfg->sites[i], errs);
    return errs->n == before ? 0 : -1;
}

/* ---- per-request lookup ------------------------------------------------------------------- */

const struct site_conf *config_site_for_host(const struct config *cfg, const char *host)
{
    const struct site_conf *fallback = NULL;
    size_t n = 0;

    if (cfg->n_sites == 0)
        return NULL;
    if (host) {
        if (host[0] == '[') {
            const char *close = strchr(host, ']');
            n = close ? (size_t)(close - host) + 1 : strlen(host);
        } else {
            n = strcspn(host, ":");
            if (n > 1 && host[n - 1] == '.')
                n--;
        }
    }
    for (size_t i = 0; i < cfg->n_sites; i++) {
        const struct site_conf *s = &cfg->sites[i];
        if (s->hosts.n == 0 && !fallback)
            fallback = s;
        for (size_t h = 0; n > 0 && h < s->hosts.n; h++)
            if (strlen(s->hosts.v[h]) == n && ascii_ncasecmp(s->hosts.v[h], host, n) == 0)
                return s;
    }
    return fallback ? fallback : &cfg->sites[0];
}
