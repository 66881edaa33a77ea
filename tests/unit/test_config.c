/*
 * test_config: value parsers at their boundaries, inline INI texts (errors in order with
 * their lines, continuations, comments, quotes, long lines), config_finish() cross-checks,
 * config_check_fs(), config_site_for_host(), and every fixture in tests/fixtures/config:
 * good/NAME.ini must load cleanly, bad/NAME.ini must give exactly the lines of bad/NAME.err.
 * Fixture directory: argv[1], else $WHARF_SRCDIR/tests/fixtures/config, else the relative path.
 * Also: preset_resolve_all() errors (a named preset is checked even in a site without
 * fastcgi), and config_finish() not leaking an empty listen array (blocks counted by the
 * malloc family defined below, over glibc's own; not under ASan, whose leak check covers it).
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "config.h"
#include "preset.h"
#include "tap.h"

static char joined[8192];

/* The messages of errs, one per line, as the .err files hold them. */
static const char *join(const struct errlist *errs)
{
    size_t len = 0;
    joined[0] = '\0';
    for (size_t i = 0; i < errs->n && len < sizeof joined; i++)
        len += (size_t)snprintf(joined + len, sizeof joined - len, "%s\n", errs->msg[i]);
    return joined;
}

/* Parse then finish (what --test does: all errors at once); returns the joined messages. */
static const char *load(struct config *cfg, const char *text)
{
    struct errlist errs = {0};
    config_init(cfg);
    config_parse(cfg, text, "t.ini", &errs);
    config_finish(cfg, &errs);
    join(&errs);
    errlist_dispose(&errs);
    return joined;
}

static const char *errors_of(const char *text)
{
    struct config cfg;
    load(&cfg, text);
    config_dispose(&cfg);
    return joined;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (cap - len < 4096) {
            cap = cap * 2 + 4096;
            s = realloc(s, cap + 1);
        }
        n = fread(s + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    s[len] = '\0';
    return s;
}

static void test_listen(void)
{
    struct listen_addr a;
    const char *why = NULL;

    is_int(config_parse_listen("127.0.0.1:8080", &a, &why), 0, "listen ipv4:port");
    is_str(a.host, "127.0.0.1", "listen host");
    is_int(a.port, 8080, "listen port");
    is_str(a.text, "127.0.0.1:8080", "listen text as written");
    free(a.host);
    free(a.text);
    is_int(config_parse_listen("[::1]:1", &a, &why), 0, "listen [v6]:1 (lowest port)");
    is_str(a.host, "::1", "listen v6 host without brackets");
    is_int(a.port, 1, "listen port 1");
    free(a.host);
    free(a.text);
    is_int(config_parse_listen(":65535", &a, &why), 0, "listen :65535 (highest port)");
    ok(a.host == NULL, "listen :port means all addresses");
    is_int(a.port, 65535, "listen port 65535");
    free(a.text);
    is_int(config_parse_listen("localhost:8080", &a, &why), 0, "listen localhost:8080");
    free(a.host);
    free(a.text);

    static const struct {
        const char *in, *why;
    } bad[] = {
        {"8080", "host:port, [v6]:port or :port"},
        {"host:", "host:port, [v6]:port or :port"},
        {"[::1]", "host:port, [v6]:port or :port"},
        {"", "host:port, [v6]:port or :port"},
        {"1.2.3.4:99999", "a port between 1 and 65535"},
        {"1.2.3.4:65536", "a port between 1 and 65535"},
        {":0", "a port between 1 and 65535"},
        {":80x", "a port between 1 and 65535"},
        {":-80", "a port between 1 and 65535"},
        {"::1:80", "[v6]:port for an IPv6 address"},
        {"[1.2.3.4]:80", "an IPv6 address in [v6]:port"},
        {"[::1]x:80", "host:port, [v6]:port or :port"},
        {"ex ample:80", "a host name or IP address before the port"},
        {"garbage!:80", "a host name or IP address before the port"},
        {"1.2.3.256:80", "a host name or IP address before the port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[80];
        why = NULL;
        snprintf(name, sizeof name, "listen rejects '%s'", bad[i].in);
        is_int(config_parse_listen(bad[i].in, &a, &why), -1, name);
        is_str(why, bad[i].why, "  ... and says why");
    }
}

static void test_bool(void)
{
    static const char *const yes[] = {"on", "ON", "yes", "Yes", "true", "TRUE", "1"};
    static const char *const no[] = {"off", "Off", "no", "NO", "false", "False", "0"};
    bool b;
    const char *why = NULL;
    int good = 1;

    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        b = false;
        good &= config_parse_bool(yes[i], &b, &why) == 0 && b;
        b = true;
        good &= config_parse_bool(no[i], &b, &why) == 0 && !b;
    }
    ok(good, "bool accepts on/off yes/no true/false 1/0 in any case");
    is_int(config_parse_bool("2", &b, &why), -1, "bool rejects 2");
    is_int(config_parse_bool("", &b, &why), -1, "bool rejects empty");
    is_int(config_parse_bool("onn", &b, &why), -1, "bool rejects onn");
    is_str(why, "on or off", "bool why");
}

static void test_size(void)
{
    static const struct {
        const char *in;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"512", 512},
        {"16k", 16384},
        {"16K", 16384},
        {"16KiB", 16384},
        {"1m", 1048576},
        {"1MiB", 1048576},
        {"2G", UINT64_C(2147483648)},
        {"16gib", UINT64_C(17179869184)},
        {"18446744073709551615", UINT64_MAX},
    };
    static const char *const bad[] = {
        "",
        "k",
        "-1",
        "+1",
        "1.5m",
        "16 k",
        "16kb",
        "16t",
        "1x",
        "18446744073709551616",
        "17179869184g",
    };
    uint64_t v;
    const char *why = NULL;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char name[80];
        v = 1;
        snprintf(name, sizeof name, "size '%s'", good[i].in);
        ok(config_parse_size(good[i].in, &v, &why) == 0 && v == good[i].want, name);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[80];
        snprintf(name, sizeof name, "size rejects '%s'", bad[i]);
        is_int(config_parse_size(bad[i], &v, &why), -1, name);
    }
    is_str(why, "a size such as 512, 16k or 1m", "size why");
}

static void test_duration(void)
{
    static const struct {
        const char *in;
        uint64_t want;
    } good[] = {
        {"0", 0},       {"30", 30000},   {"500ms", 500},  {"30s", 30000},
        {"2m", 120000}, {"1h", 3600000}, {"1H", 3600000}, {"0ms", 0},
    };
    static const char *const bad[] = {
        "", "s", "1.5s", "-1s", "10 s", "1d", "1hour", "5000000000000000h",
    };
    uint64_t v;
    const char *why = NULL;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char name[80];
        v = 1;
        snprintf(name, sizeof name, "duration '%s'", good[i].in);
        ok(config_parse_duration(good[i].in, &v, &why) == 0 && v == good[i].want, name);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[80];
        snprintf(name, sizeof name, "duration rejects '%s'", bad[i]);
        is_int(config_parse_duration(bad[i], &v, &why), -1, name);
    }
    is_str(why, "a duration such as 30s, 500ms, 2m or 1h", "duration why");
}

static void test_defaults(void)
{
    struct config cfg;
    struct errlist errs = {0};

    config_init(&cfg);
    is_int(cfg.server.n_listen, 0, "init: no listen before finish");
    is_int(cfg.server.workers, 0, "default workers");
    ok(cfg.server.error_log == NULL, "default error_log is stderr");
    is_int(cfg.server.max_connections, 10000, "default max_connections");
    is_int(cfg.server.max_connections_per_ip, 0, "default max_connections_per_ip");
    is_int(cfg.server.idle_timeout_ms, 60000, "default idle_timeout");
    is_int(cfg.server.header_timeout_ms, 30000, "default header_timeout");
    is_int(cfg.server.max_header_bytes, 16384, "default max_header_size");
    is_int(cfg.server.max_uri_bytes, 8192, "default max_uri_length");
    is_int(cfg.server.notsent_lowat, 16384, "default tcp_notsent_lowat");
    ok(cfg.server.mime_types == NULL, "default mime_types");
    is_int(cfg.server.file_cache_bytes, 64 << 20, "default file_cache");
    is_int(cfg.server.file_cache_max_file, 256 << 10, "default file_cache_max_file");
    is_int(cfg.server.gzip_cache_bytes, 32 << 20, "default gzip_cache");
    is_int(cfg.n_sites, 0, "init: no sites");

    is_int(config_finish(&cfg, &errs), 0, "finish on an empty config");
    is_int(cfg.server.n_listen, 1, "finish adds the default listener");
    is_str(cfg.server.listen[0].text, CONFIG_DEFAULT_LISTEN, "default listener");
    is_int(cfg.n_sites, 1, "finish adds a default site");
    is_str(cfg.sites[0].name, "default", "default site name");
    is_str(cfg.sites[0].root, ".", "default site root");
    is_int(cfg.sites[0].index.n, 4, "default index list");
    is_str(cfg.sites[0].index.v[3], "default.htm", "default index order");
    ok(!cfg.sites[0].browse && !cfg.sites[0].gzip, "default browse and gzip off");
    ok(cfg.sites[0].access_log == NULL, "default access_log off");
    is_int(cfg.sites[0].follow_symlinks, FOLLOW_INSIDE, "default follow_symlinks");
    config_dispose(&cfg);

    /* the command line makes the default site itself and sets its root */
    config_init(&cfg);
    config_add_site(&cfg, "default")->root = strdup("/cli/root");
    is_int(config_finish(&cfg, &errs), 0, "finish keeps a command-line site");
    is_int(cfg.n_sites, 1, "no second default site");
    is_str(cfg.sites[0].root, "/cli/root", "command-line root kept");
    config_dispose(&cfg);
    errlist_dispose(&errs);
}

static void test_parse_values(void)
{
    struct config cfg;
    const char *e;

    e = load(&cfg, "\xEF\xBB\xBF[server]\n"
                   "listen = :8080\n"
                   "listen = [::1]:8081 localhost:8082\n"
                   "    127.0.0.1:8083\n"
                   "\n"
                   "    ; a comment between continuation lines\n"
                   "    10.0.0.1:8084 ; inline comment\n"
                   "workers = 64\n"
                   "error_log = -\n"
                   "max_connections = 1000000\n"
                   "idle_timeout = 1h\n"
                   "header_timeout = 1s\n"
                   "max_header_size = 1m\n"
                   "max_uri_length = 256\n"
                   "file_cache = 16g\n"
                   "file_cache_max_file = 16m\n"
                   "[site s]\n"
                   "root = \"/srv/with space\"   \n"
                   "index = a.php\n"
                   "hosts = \"Example.org\"\n"
                   "access_log = \"/log/#not a comment\" ;comment\n"
                   "follow_symlinks = OFF\n");
    is_str(e, "", "value text: no errors");
    if (!ok(cfg.server.n_listen == 5 && cfg.n_sites == 1 && cfg.sites[0].hosts.n == 1,
            "listen: repeated key and continuations append")) {
        config_dispose(&cfg);
        return;
    }
    is_str(cfg.server.listen[1].host, "::1", "listen[1]");
    is_str(cfg.server.listen[2].host, "localhost", "listen[2]");
    is_str(cfg.server.listen[4].text, "10.0.0.1:8084", "inline comment cut from a continuation");
    is_int(cfg.server.listen[3].line, 4, "continuation line number kept");
    is_int(cfg.server.listen[4].line, 7, "line number after a blank and a comment");
    is_int(cfg.server.workers, 64, "workers upper bound");
    ok(cfg.server.error_log == NULL, "error_log '-' is stderr");
    is_int(cfg.server.max_connections, 1000000, "max_connections upper bound");
    is_int(cfg.server.idle_timeout_ms, 3600000, "idle_timeout upper bound");
    is_int(cfg.server.header_timeout_ms, 1000, "header_timeout lower bound");
    is_int(cfg.server.max_header_bytes, 1 << 20, "max_header_size upper bound");
    is_int(cfg.server.max_uri_bytes, 256, "max_uri_length lower bound");
    is_int(cfg.server.file_cache_bytes, UINT64_C(16) << 30, "file_cache upper bound");
    is_int(cfg.server.file_cache_max_file, 16 << 20, "file_cache_max_file upper bound");
    is_str(cfg.sites[0].root, "/srv/with space", "quotes removed, inner space kept");
    is_int(cfg.sites[0].root_line, 18, "root_line");
    is_int(cfg.sites[0].index.n, 1, "index from the file replaces the default");
    is_str(cfg.sites[0].hosts.v[0], "example.org", "quoted host lower-cased");
    is_str(cfg.sites[0].access_log, "/log/#not a comment", "'#' inside a value is literal");
    is_int(cfg.sites[0].follow_symlinks, FOLLOW_OFF, "follow_symlinks OFF");
    config_dispose(&cfg);

    is_str(errors_of("[server]\nworkers = 0\nworkers: 1\n"),
           "t.ini:3: duplicate key 'workers' in [server] (first at line 2)\n",
           "':' separates too; duplicate key");
    is_str(errors_of("[server]\nworkers = 65\nmax_connections_per_ip = 1000001\n"
                     "idle_timeout = 999ms\nheader_timeout = 601s\nmax_header_size = 4095\n"
                     "max_uri_length = 255\nfile_cache = 17179869185\n"),
           "t.ini:2: workers: expected an integer between 0 and 64, got '65'\n"
           "t.ini:3: max_connections_per_ip: expected an integer between 0 and 1000000, got "
           "'1000001'\n"
           "t.ini:4: idle_timeout: expected a duration between 1s and 1h, got '999ms'\n"
           "t.ini:5: header_timeout: expected a duration between 1s and 10m, got '601s'\n"
           "t.ini:6: max_header_size: expected a size between 4k and 1m, got '4095'\n"
           "t.ini:7: max_uri_length: expected a size between 256 and 64k, got '255'\n"
           "t.ini:8: file_cache: expected a size between 0 and 16g, got '17179869185'\n",
           "one past every bound, each on its own line");
    is_str(errors_of("[server]\nworkers = 99999999999999999999999\n"),
           "t.ini:2: workers: expected an integer between 0 and 64, got "
           "'99999999999999999999999'\n",
           "unsigned overflow");
    is_str(errors_of("[server]\nworkers = \"\"\"\n"),
           "t.ini:2: workers: expected an integer "
           "between 0 and 64, got '\"'\n",
           "only one pair of quotes is removed");
    is_str(errors_of("[server]\nworkers = \"\n"),
           "t.ini:2: workers: expected a closing '\"', got '\"'\n", "a lone quote");
    is_str(errors_of("[site a]\nroot = \"/x ;y\"\n"),
           "t.ini:2: root: expected a closing '\"', got '\"/x'\n"
           "t.ini:1: [site a]: root is required\n",
           "inline ';' comment cuts inside quotes too");
    is_str(errors_of("[site a]\nroot = /x;y\n"), "", "';' without space before is literal");
    is_str(errors_of("  [site a]\n  root = /x\n    # indented comment\n"), "",
           "indented lines before any key are not continuations");
    is_str(errors_of("[site a]\nroot = /x\n  [site b]\n"),
           "t.ini:3: root: takes one value; only lists continue on an indented line\n",
           "an indented header continues the previous key, like inih");
    is_str(errors_of("[site a]\nroot=/x\nhosts=a.example\n[site b]\nroot=/y\nhosts=B.example\n"
                     "[site c]\nroot=/z\n"),
           "", "three sites, one default");
    is_str(errors_of("[site a]\nroot=/x\nhosts=\n"),
           "t.ini:3: hosts: expected host names or IP addresses, got ''\n", "empty host list");
    is_str(errors_of("[site a]\nroot=/x\nindex = . ..\n"),
           "t.ini:3: index: expected file names without '/', got '.'\n"
           "t.ini:3: index: expected file names without '/', got '..'\n",
           "dot names are not index files");
    is_str(errors_of("[server]\nlisten =\n"),
           "t.ini:2: listen: expected host:port, [v6]:port or :port, got ''\n", "empty listen");
    is_str(errors_of("[server]\nlisten = :80 LOCALHOST:80\n   localhost:80\n"),
           "t.ini:3: listen: 'localhost:80' is given twice\n", "duplicate listen (any case)");
}

static void test_lines(void)
{
    char text[1024], line[256];

    /* 199 bytes is the longest line; 200 is too long and keeps the count in step */
    memset(line, 'a', sizeof line);
    snprintf(text, sizeof text, "[site a]\nroot = /%.*s\nindex = %.*s\nbrowse = x\n", 191, line,
             192, line);
    is_str(errors_of(text),
           "t.ini:3: line too long (max 199 bytes); continue a list on an indented next line\n"
           "t.ini:4: browse: expected on or off, got 'x'\n",
           "199 bytes pass, 200 bytes are too long");
    snprintf(text, sizeof text, "[site a]\nroot = /%.*s\r\nbrowse = x\r\n", 191, line);
    is_str(errors_of(text), "t.ini:3: browse: expected on or off, got 'x'\n",
           "CRLF is not counted");
    snprintf(text, sizeof text,
             "[site a]\nroot = /x\nhosts = a.example\n  %.*s.example\n"
             "  b.example\nbrowse = x",
             200, line);
    is_str(errors_of(text),
           "t.ini:4: line too long (max 199 bytes); continue a list on an indented next line\n"
           "t.ini:6: browse: expected on or off, got 'x'\n",
           "a long continuation line; no final newline");

    is_str(errors_of("[server\nworkers = 99\n[site a]\nroot = /x\nbare words\n;ok\n#ok\n"
                     "= v\nkey ; = v\n[site b] x\nroot = /y\n"),
           "t.ini:1: syntax error\n"
           "t.ini:5: syntax error\n"
           "t.ini:8: syntax error\n"
           "t.ini:9: syntax error\n"
           "t.ini:10: syntax error\n",
           "every syntax error, with its line; keys after a broken header are dropped");
    is_str(errors_of("[site a]\nroot = /x\n[site a ;b]\n"), "t.ini:3: syntax error\n",
           "a comment before ']' leaves the header unterminated");
    is_str(errors_of("[site a] ; comment\nroot = /x\n"), "", "a comment after ']'");
    is_str(errors_of("[site a]\n= x\n  y\nroot = /x\n"),
           "t.ini:2: syntax error\nt.ini:3: syntax error\n",
           "no continuation after an empty name (inih forgets the key)");
    is_str(errors_of(""), "", "empty text");
    is_str(errors_of("[site x.y_z-9]\nroot = /x\n[Server]\n[site]\n[site a b]\n"),
           "t.ini:3: unknown section [Server]\n"
           "t.ini:4: [site] needs a name, as in [site blog]\n"
           "t.ini:5: bad site name 'a b' (letters, digits, '.', '_', '-')\n",
           "section names");
    is_str(errors_of("[site a]\nroot = /x\nRoot = /y\n"),
           "t.ini:3: unknown key 'Root' in [site a]\n", "keys are case-sensitive");
}

static void test_log_formats(void)
{
    struct config cfg;
    enum access_log_style style = ACCESS_LOG_JSON;
    const char *why = NULL;

    is_str(load(&cfg, "[server]\nerror_log_format = JSON\n[site a]\nroot = /x\n"
                      "access_log_format = combined\n[site b]\nroot = /y\nhosts = b\n"
                      "access_log_format = json\n[site c]\nroot = /z\nhosts = c\n"),
           "", "log formats: no errors");
    is_int(cfg.server.error_log_format, LOG_FORMAT_JSON, "error_log_format json (any case)");
    is_int(cfg.sites[0].access_log_format, ACCESS_LOG_COMBINED, "access_log_format combined");
    is_int(cfg.sites[1].access_log_format, ACCESS_LOG_JSON, "access_log_format json");
    is_int(cfg.sites[2].access_log_format, ACCESS_LOG_TIMED_COMBINED,
           "access_log_format defaults to timed_combined");
    config_dispose(&cfg);
    load(&cfg, "");
    is_int(cfg.server.error_log_format, LOG_FORMAT_TEXT, "error_log_format defaults to text");
    config_dispose(&cfg);
    is_str(errors_of("[server]\nerror_log_format = yaml\n[site a]\nroot = /x\n"
                     "access_log_format = common\n"),
           "t.ini:2: error_log_format: expected text or json, got 'yaml'\n"
           "t.ini:5: access_log_format: expected timed_combined, combined or json, got 'common'\n",
           "bad log formats, with their lines");
    is_int(config_parse_access_log_format("Combined", &style, &why), 0, "--access-log-format");
    is_int(style, ACCESS_LOG_COMBINED, "--access-log-format value");
    is_int(config_parse_access_log_format("clf", &style, &why), -1, "--access-log-format bad");
    is_str(why, "timed_combined, combined or json", "--access-log-format: what is expected");
}

static void test_hosts(void)
{
    struct config cfg;
    const struct site_conf *s;

    is_str(load(&cfg, "[site a]\nroot = /a\nhosts = www.Example.com example.com:8080\n"
                      "  [::1]:8080 127.0.0.1 FE80::1\n"
                      "[site b]\nroot = /b\nhosts = b.example.\n"
                      "[site c]\nroot = /c\n"),
           "", "hosts load");
    if (!ok(cfg.n_sites == 3 && cfg.sites[0].hosts.n == 5 && cfg.sites[1].hosts.n == 1,
            "five hosts and one")) {
        config_dispose(&cfg);
        return;
    }
    is_str(cfg.sites[0].hosts.v[1], "example.com", "port stripped");
    is_str(cfg.sites[0].hosts.v[2], "[::1]", "v6 literal kept in brackets");
    is_str(cfg.sites[0].hosts.v[4], "[fe80::1]", "bare v6 gets brackets and lower case");
    is_str(cfg.sites[1].hosts.v[0], "b.example", "trailing dot stripped");
    is_int(cfg.sites[0].hosts_line, 3, "hosts_line");

    s = config_site_for_host(&cfg, "WWW.EXAMPLE.COM");
    is_str(s ? s->name : NULL, "a", "host lookup ignores case");
    s = config_site_for_host(&cfg, "example.com:443");
    is_str(s ? s->name : NULL, "a", "host lookup ignores the port");
    s = config_site_for_host(&cfg, "example.com.");
    is_str(s ? s->name : NULL, "a", "host lookup ignores a trailing dot");
    s = config_site_for_host(&cfg, "[::1]:8080");
    is_str(s ? s->name : NULL, "a", "v6 literal with port");
    s = config_site_for_host(&cfg, "[::1]");
    is_str(s ? s->name : NULL, "a", "v6 literal");
    s = config_site_for_host(&cfg, "b.example:80");
    is_str(s ? s->name : NULL, "b", "second site");
    s = config_site_for_host(&cfg, "example.co");
    is_str(s ? s->name : NULL, "c", "a prefix is no match: the site without hosts");
    s = config_site_for_host(&cfg, "xexample.com");
    is_str(s ? s->name : NULL, "c", "unknown host: the site without hosts");
    s = config_site_for_host(&cfg, NULL);
    is_str(s ? s->name : NULL, "c", "no Host header: the site without hosts");
    s = config_site_for_host(&cfg, "");
    is_str(s ? s->name : NULL, "c", "empty Host: the site without hosts");
    config_dispose(&cfg);

    load(&cfg, "[site a]\nroot = /a\nhosts = a.example\n[site b]\nroot = /b\nhosts = b.example\n");
    s = config_site_for_host(&cfg, "other.example");
    is_str(s ? s->name : NULL, "a", "every site has hosts: the first site");
    config_dispose(&cfg);
}

static void test_check_fs(void)
{
    struct config cfg;
    struct errlist errs = {0};

    is_str(load(&cfg, "[site a]\nroot = /\n[site b]\nhosts = b.example\n"
                      "root = /nonexistent/wharf/x\n[site c]\nhosts = c.example\n"
                      "root = /dev/null\n"),
           "", "check_fs config loads");
    is_int(config_check_fs(&cfg, &errs), -1, "check_fs fails");
    is_str(join(&errs),
           "t.ini:5: root '/nonexistent/wharf/x': No such file or directory\n"
           "t.ini:8: root '/dev/null': Not a directory\n",
           "check_fs names the root line and the reason");
    errlist_dispose(&errs);
    config_dispose(&cfg);

    config_init(&cfg);
    config_finish(&cfg, &errs);
    is_int(config_check_fs(&cfg, &errs), 0, "default root '.' exists");
    config_dispose(&cfg);
    errlist_dispose(&errs);
}

/* Parse + finish + resolve presets from presets_dir; returns the joined messages. */
static const char *load_presets(struct config *cfg, const char *text, const char *presets_dir)
{
    struct errlist errs = {0};
    config_init(cfg);
    config_parse(cfg, text, "t.ini", &errs);
    config_finish(cfg, &errs);
    free(cfg->server.presets_dir);
    cfg->server.presets_dir = xstrdup(presets_dir);
    preset_resolve_all(cfg, &errs);
    join(&errs);
    errlist_dispose(&errs);
    return joined;
}

static void test_presets(void)
{
    struct config cfg;
    char *want;
    const char *dir = WHARF_SRC_PRESETS;

    want = xasprintf("t.ini:3: fastcgi_preset: unknown preset 'nosuch' (no %s/nosuch.ini)\n", dir);
    is_str(load_presets(&cfg, "[site a]\nroot = /\nfastcgi_preset = nosuch\n", dir), want,
           "unknown fastcgi_preset in a site without fastcgi: error at its line");
    config_dispose(&cfg);
    free(want);
    want = xasprintf("t.ini:4: fastcgi_preset: unknown preset 'nosuch' (no %s/nosuch.ini)\n", dir);
    is_str(load_presets(&cfg,
                        "[site a]\nroot = /\nfastcgi = 127.0.0.1:9000\nfastcgi_preset = nosuch\n",
                        dir),
           want, "unknown fastcgi_preset in a site with fastcgi: error at its line");
    config_dispose(&cfg);
    free(want);
    is_str(load_presets(&cfg, "[site a]\nroot = /\nfastcgi_preset = wordpress\n", dir), "",
           "a known preset in a site without fastcgi is fine");
    ok(cfg.sites[0].fcgi.preset == NULL, "  and is not attached: nothing runs PHP there");
    config_dispose(&cfg);
    is_str(load_presets(&cfg, "[site a]\nroot = /\n", "/nonexistent/wharf/presets"), "",
           "the default preset of a site without fastcgi is not looked up");
    config_dispose(&cfg);
    is_str(load_presets(&cfg, "[site a]\nroot = /\nfastcgi = 127.0.0.1:9000\n", dir), "",
           "the default preset (php) of a fastcgi site loads");
    ok(cfg.sites[0].fcgi.preset && strcmp(cfg.sites[0].fcgi.preset->name, "php") == 0,
       "  and is attached");
    config_dispose(&cfg);
    preset_free_all();
}

static void test_preset_keys(void)
{
    struct preset p;
    struct errlist errs = {0};

    is_int(config_parse_preset(&p, "wp",
                               "ext = .php\ntry = /index.php\n"
                               "server_software_comment = nginx-compatible\n",
                               "wp.ini", &errs),
           0, "preset: server_software_comment accepted");
    is_str(p.server_software_comment, "nginx-compatible", "preset: server_software_comment kept");
    config_preset_dispose(&p);
    is_int(config_parse_preset(&p, "mw", "ext = .php\ndeny = /cache /includes\n    /vendor\n",
                               "mw.ini", &errs),
           0, "preset: deny accepted, continued on an indented line");
    is_int(p.deny.n, 3, "preset: three deny prefixes");
    is_str(p.deny.n == 3 ? p.deny.v[2] : NULL, "/vendor", "preset: deny in order");
    config_preset_dispose(&p);
    is_int(config_parse_preset(&p, "plain", "ext = .php\n", "plain.ini", &errs), 0,
           "preset: without server_software_comment");
    ok(p.server_software_comment == NULL, "preset: no comment by default");
    config_preset_dispose(&p);
    is_int(config_parse_preset(&p, "bad", "ext = .php\nserver_software_comment = a (b)\n",
                               "bad.ini", &errs),
           -1, "preset: a comment with parentheses is refused");
    config_preset_dispose(&p);
    is_int(config_parse_preset(&p, "bad2", "ext = .php\n\nserver_software_comment = \"\"\n",
                               "bad2.ini", &errs),
           -1, "preset: an empty comment is refused");
    is_str(join(&errs),
           "bad.ini:2: server_software_comment: expected 1-64 printable ASCII characters without "
           "'(', ')' or '\\', got 'a (b)'\n"
           "bad2.ini:3: server_software_comment: expected 1-64 printable ASCII characters without "
           "'(', ')' or '\\', got ''\n",
           "preset: bad comments are errors at their lines");
    config_preset_dispose(&p);
    errlist_dispose(&errs);
}

static void test_git_shared(void)
{
    struct config cfg;
    is_str(load(&cfg, "[site a]\nroot = /tmp/wharf-t/site\ngit_repo = /r.git\n"
                      "git_shared = storage .env\n  wp-content/uploads wp-config.php?\n"
                      "git_env_file = /etc/wharf/a.env\ngit_after = true\n"
                      "git_notify = http://127.0.0.1:9/x https://hooks.example/y\n"
                      "git_notify_secret = s\n"),
           "", "git_shared & co: accepted");
    const struct site_conf *s = &cfg.sites[0];
    is_int(s->git.shared.n, 4, "git_shared: four paths over two lines");
    is_int(s->git.shared_line, 4, "git_shared: its line");
    is_int(s->git.notify.n, 2, "git_notify: two URLs");
    is_str(s->git.shared_dir, "/tmp/wharf-t/.site.wharf/shared", "shared_dir beside the releases");
    config_dispose(&cfg);
    is_str(load(&cfg, "[site a]\nroot = /srv/a\ngit_repo = /r.git\ngit_shared = off\n"), "",
           "git_shared = off: accepted");
    ok(cfg.sites[0].git.shared.n == 0 && cfg.sites[0].git.shared_line == 4,
       "git_shared = off: no paths, but given (the preset's do not apply)");
    config_dispose(&cfg);
    is_str(errors_of("[site a]\nroot = /srv/a\ngit_repo = /r.git\n"
                     "git_shared = storage ../etc\ngit_shared = /etc/passwd\n"
                     "git_shared = .git/hooks a/../../b\n"),
           "t.ini:4: git_shared: expected paths inside the release (no '..', not absolute, no "
           ".git), or off, got '../etc'\n"
           "t.ini:5: git_shared: expected paths inside the release (no '..', not absolute, no "
           ".git), or off, got '/etc/passwd'\n"
           "t.ini:6: git_shared: expected paths inside the release (no '..', not absolute, no "
           ".git), or off, got '.git/hooks'\n"
           "t.ini:6: git_shared: expected paths inside the release (no '..', not absolute, no "
           ".git), or off, got 'a/../../b'\n",
           "git_shared: escapes are errors at their lines");
    is_str(errors_of("[site a]\nroot = /srv/a\ngit_repo = /r.git\n"
                     "git_notify = ftp://x/ http://\n"),
           "t.ini:4: git_notify: expected http:// or https:// URLs, got 'ftp://x/'\n"
           "t.ini:4: git_notify: expected http:// or https:// URLs, got 'http://'\n",
           "git_notify: only http and https URLs");
    is_str(errors_of("[site a]\nroot = /srv/a\ngit_repo = /r.git\ngit_notify = http://h/\n"),
           "t.ini:1: [site a]: git_notify needs git_notify_secret (or git_secret)\n",
           "git_notify: needs a secret");
    is_str(errors_of("[site a]\nroot = /srv/a\ngit_repo = /r.git\ngit_env_file = /srv/a/.env\n"),
           "t.ini:4: git_env_file '/srv/a/.env' is inside the root '/srv/a': it would be served; "
           "keep it outside\n",
           "git_env_file: inside the root is an error");
    is_str(errors_of("[site a]\nroot = /srv/a\ngit_shared = storage\n"),
           "t.ini:1: [site a]: git_* keys need git_repo\n", "git_shared: needs git_repo");
    is_str(errors_of("[site a]\nroot = /srv/a\ngit_repo = /r.git\ngit_check = health\n"
                     "git_check_timeout = 50ms\ngit_check_retries = 101\n"
                     "[site b]\nhosts = b\nroot = /srv/b\ngit_repo = /r.git\ngit_check = /h 20\n"
                     "[site c]\nhosts = c\nroot = /srv/c\ngit_repo = /r.git\n"
                     "git_check = /h 200 x\n"),
           "t.ini:4: git_check: expected a URL path starting with '/', got 'health'\n"
           "t.ini:5: git_check_timeout: expected a duration between 100ms and 10m, got '50ms'\n"
           "t.ini:6: git_check_retries: expected an integer between 0 and 100, got '101'\n"
           "t.ini:11: git_check: expected an HTTP status 100..599 after the path, got '/h 20'\n"
           "t.ini:16: git_check: expected an HTTP status 100..599 after the path, got '/h 200 x'\n",
           "git_check: bad values are errors at their lines");
    is_str(errors_of("[site a]\nroot = /srv/a\ngit_check = /health\n"),
           "t.ini:1: [site a]: git_* keys need git_repo\n", "git_check: needs git_repo");
    struct preset p;
    struct errlist errs = {0};
    is_int(config_parse_preset(&p, "lv", "ext = .php\nshared = storage .env\n", "lv.ini", &errs), 0,
           "preset: shared accepted");
    is_int(p.shared.n, 2, "preset: two shared paths");
    config_preset_dispose(&p);
    is_int(config_parse_preset(&p, "bad", "ext = .php\nshared = /abs\n", "bad.ini", &errs), -1,
           "preset: an absolute shared path is refused");
    config_preset_dispose(&p);
    errlist_dispose(&errs);
}

/* ---- counting live heap blocks (glibc; ASan brings its own leak check instead, and TSan
 * must own malloc from before main) ------------------------------------------------------ */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define COUNT_BLOCKS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
static bool counting;
static long live_blocks;

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    live_blocks += counting && p;
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    live_blocks += counting && p;
    return p;
}

void *realloc(void *old, size_t n)
{
    void *p = __libc_realloc(old, n);
    if (counting && !old && p)
        live_blocks++;
    else if (counting && old && n == 0)
        live_blocks--;
    return p;
}

void free(void *p)
{
    live_blocks -= counting && p;
    __libc_free(p);
}
#endif

/* config_finish() replaced an empty listen array (every --listen refused) without freeing it. */
static void test_finish_empty_listen(void)
{
#ifdef COUNT_BLOCKS
    struct config cfg;
    struct errlist errs = {0};

    live_blocks = 0;
    counting = true;
    config_init(&cfg);
    cfg.server.listen = xcalloc(2, sizeof *cfg.server.listen);
    cfg.server.n_listen = 0;
    config_finish(&cfg, &errs);
    size_t n_listen = cfg.server.n_listen;
    config_dispose(&cfg);
    errlist_dispose(&errs);
    counting = false;
    is_int((long long)n_listen, 1, "an empty listen array gets the default address");
    is_int(live_blocks, 0, "and no heap block stays allocated after dispose");
#endif
}

/* The batteries: redirect, redirect_host, header, cache_control, security_headers, error_page
 * and fastcgi_sendfile are parsed into the site, and every rule is freed by dispose. */
static void test_batteries(void)
{
    struct config cfg;
    const char *text = "[site a]\nhosts = example.org www.example.org\nroot = /srv/a\n"
                       "fastcgi = unix:/s\nfastcgi_sendfile = /srv/files/ /srv/b\n"
                       "redirect = /old /new\nredirect = =/a https://x.example/ 308\n"
                       "redirect_host = apex 301\nheader = / -Server\n"
                       "header = *.php =X-A: b\ncache_control = /assets max-age=60\n"
                       "security_headers = on\nerror_page = 404 /e/404.html\n"
                       "error_page = 502 503 /e/5xx.php\n"
                       "[site b]\nhosts = b\nroot = /srv/b\n";
#ifdef COUNT_BLOCKS
    live_blocks = 0;
    counting = true;
#endif
    is_str(load(&cfg, text), "", "batteries: accepted");
    const struct site_conf *a = &cfg.sites[0], *b = &cfg.sites[1];
    ok(a->redirects.n == 2 && a->redirects.v[1].status == 308 &&
           strcmp(a->redirects.v[0].to, "/new") == 0,
       "batteries: two redirects in order");
    ok(a->redirect_host.mode == REDIRECT_HOST_APEX && a->redirect_host.status == 301 &&
           a->redirect_host.line == 8,
       "batteries: redirect_host, its status and line");
    ok(a->headers.n == 2 && a->headers.v[0].op == HEADER_RULE_DEL && a->cache.n == 1 &&
           a->cache.v[0].max_age == 60 && a->security_headers,
       "batteries: header, cache_control, security_headers");
    ok(a->error_pages.n == 3 && strcmp(error_page_find(&a->error_pages, 503), "/e/5xx.php") == 0,
       "batteries: error_page");
    ok(a->fcgi.sendfile.n == 2 && strcmp(a->fcgi.sendfile.v[0], "/srv/files") == 0 &&
           a->fcgi.sendfile_line == 5,
       "batteries: fastcgi_sendfile without the final '/'");
    ok(a->response_rules && !b->response_rules, "batteries: response_rules only where rules are");
    ok(!b->redirects.n && b->redirect_host.mode == REDIRECT_HOST_OFF && !b->error_pages.n &&
           !b->fcgi.sendfile.n,
       "batteries: a site without them has none");
    config_dispose(&cfg);
#ifdef COUNT_BLOCKS
    counting = false;
    is_int(live_blocks, 0, "batteries: no heap block stays allocated after dispose");
#endif
}

static void test_fcgi_bounds(void)
{
    struct config cfg;
    struct errlist errs = {0};

    is_str(load(&cfg, "[site a]\nroot = /\nfastcgi = unix:/s\n"
                      "[site b]\nhosts = b\nroot = /\nfastcgi = spawn\n"
                      "[site c]\nhosts = c\nroot = /\nfastcgi = unix:/s\n"
                      "fastcgi_max_conns = 2\nfastcgi_body_buffer = 4k\n"
                      "[site d]\nhosts = d\nroot = /\nfastcgi = unix:/s\nfastcgi_keep_conns = 0\n"),
           "", "FastCGI bounds load");
    is_int(cfg.sites[0].fcgi.max_conns, CONFIG_FCGI_MAX_CONNS,
           "fastcgi_max_conns defaults to CONFIG_FCGI_MAX_CONNS for an external upstream");
    is_int(cfg.sites[0].fcgi.keep_conns, 4, "fastcgi_keep_conns defaults to 4");
    is_int(cfg.sites[0].fcgi.body_buffer_bytes, 16 * 1024, "fastcgi_body_buffer defaults to 16k");
    is_int(cfg.sites[1].fcgi.max_conns, CONFIG_FCGI_SPAWN_CHILDREN,
           "spawn: fastcgi_max_conns defaults to the pm.max_children wharf writes");
    is_int(cfg.sites[2].fcgi.max_conns, 2, "an explicit fastcgi_max_conns is kept");
    is_int(cfg.sites[2].fcgi.keep_conns, 2, "fastcgi_keep_conns is never above fastcgi_max_conns");
    is_int(cfg.sites[2].fcgi.body_buffer_bytes, 4096, "fastcgi_body_buffer = 4k");
    is_int(cfg.sites[3].fcgi.keep_conns, 0, "fastcgi_keep_conns = 0: no connection is kept");
    config_dispose(&cfg);
    is_str(errors_of("[site a]\nroot = /\nfastcgi_body_buffer = 65m\n"),
           "t.ini:3: fastcgi_body_buffer: expected a size between 0 and 64m, got '65m'\n",
           "fastcgi_body_buffer has a ceiling");

    is_str(load(&cfg, "[server]\ntemp_dir = /nonexistent/wharf\n[site a]\nroot = /\n"
                      "fastcgi = unix:/s\n"),
           "", "temp_dir config loads");
    is_int(config_check_fs(&cfg, &errs), -1, "check_fs: a missing temp_dir fails");
    is_str(join(&errs), "t.ini:2: temp_dir '/nonexistent/wharf': No such file or directory\n",
           "check_fs names the temp_dir line and the reason");
    errlist_dispose(&errs);
    config_dispose(&cfg);
    load(&cfg, "[server]\ntemp_dir = /dev/null\n[site a]\nroot = /\nfastcgi = spawn\n");
    config_check_fs(&cfg, &errs);
    is_str(join(&errs), "t.ini:2: temp_dir '/dev/null': Not a directory\n",
           "check_fs: a temp_dir that is a file fails");
    errlist_dispose(&errs);
    config_dispose(&cfg);
    load(&cfg, "[server]\ntemp_dir = /dev/null\n[site a]\nroot = /\n");
    is_int(config_check_fs(&cfg, &errs), 0, "check_fs: temp_dir is not checked without FastCGI");
    errlist_dispose(&errs);
    config_dispose(&cfg);
}

static int select_ini(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && strcmp(d->d_name + n - 4, ".ini") == 0;
}

/* Runs every fixture in dir/sub; returns how many there were. */
static int run_fixtures(const char *dir, const char *sub, bool good)
{
    char *path = xasprintf("%s/%s", dir, sub);
    struct dirent **names;
    int n;

    n = scandir(path, &names, select_ini, alphasort);
    if (n < 0) {
        ok(0, "fixture directory readable");
        printf("#   %s\n", path);
        free(path);
        return 0;
    }
    free(path);
    for (int i = 0; i < n; i++) {
        const char *ini = names[i]->d_name;
        int stem = (int)strlen(ini) - 4;
        char *name, *text, *want = NULL;
        struct config cfg;
        struct errlist errs = {0};
        int rc;

        path = xasprintf("%s/%s/%s", dir, sub, ini);
        text = read_all(path);
        free(path);
        if (good) {
            name = xasprintf("good/%s loads without errors", ini);
        } else {
            path = xasprintf("%s/%s/%.*s.err", dir, sub, stem, ini);
            want = read_all(path);
            free(path);
            name = xasprintf("bad/%s gives exactly bad/%.*s.err", ini, stem, ini);
        }
        config_init(&cfg);
        rc = config_parse(&cfg, text ? text : "", ini, &errs);
        rc |= config_finish(&cfg, &errs);
        if (good) {
            is_str(join(&errs), "", name);
        } else {
            ok(want != NULL, "  .err file present");
            is_str(join(&errs), want ? want : "", name);
            is_int(rc, -1, "  parse or finish reports failure");
        }
        config_dispose(&cfg);
        errlist_dispose(&errs);
        free(name);
        free(text);
        free(want);
        free(names[i]);
    }
    free(names);
    return n;
}

static void test_full_fixture(const char *dir)
{
    char *path = xasprintf("%s/good/full.ini", dir);
    struct config cfg;
    struct errlist errs = {0};
    char *text = read_all(path);

    if (!ok(text != NULL, "full.ini readable")) {
        printf("#   %s\n", path);
        free(path);
        return;
    }
    free(path);
    config_init(&cfg);
    config_parse(&cfg, text, "full.ini", &errs);
    config_finish(&cfg, &errs);
    is_str(join(&errs), "", "full.ini: no errors");
    if (!ok(cfg.server.n_listen == 2 && cfg.n_sites == 2 && cfg.sites[0].hosts.n == 3 &&
                cfg.sites[0].index.n == 2,
            "full: two listeners, two sites, three hosts, two index files"))
        goto out;
    is_str(cfg.server.listen[0].text, "127.0.0.1:8080", "full: first listener");
    is_str(cfg.server.listen[1].host, "::1", "full: v6 listener on a continuation line");
    is_int(cfg.server.listen[1].port, 8443, "full: v6 port");
    is_int(cfg.server.workers, 4, "full: workers");
    is_str(cfg.server.error_log, "/var/log/wharf/error.log", "full: error_log");
    is_int(cfg.server.max_connections_per_ip, 64, "full: max_connections_per_ip");
    is_int(cfg.server.idle_timeout_ms, 120000, "full: idle_timeout 2m");
    is_int(cfg.server.header_timeout_ms, 10000, "full: header_timeout 10s");
    is_int(cfg.server.max_header_bytes, 32768, "full: max_header_size 32KiB");
    is_int(cfg.server.max_uri_bytes, 4096, "full: max_uri_length");
    is_int(cfg.server.notsent_lowat, 0, "full: tcp_notsent_lowat 0 (the kernel's)");
    is_str(cfg.server.mime_types, "/etc/mime.types", "full: quoted mime_types");
    is_int(cfg.server.file_cache_bytes, 1 << 30, "full: file_cache 1G");
    is_int(cfg.server.gzip_cache_bytes, 0, "full: gzip_cache off");
    is_str(cfg.sites[0].name, "blog", "full: site 1 name");
    is_int(cfg.sites[0].line, 21, "full: site 1 header line");
    is_str(cfg.sites[0].hosts.v[0], "blog.example.com", "full: host lower-cased");
    is_str(cfg.sites[0].hosts.v[1], "www.blog.example.com", "full: port stripped");
    is_str(cfg.sites[0].hosts.v[2], "static.example.com", "full: trailing dot stripped");
    is_str(cfg.sites[0].root, "/srv/blog/current", "full: quoted root");
    is_str(cfg.sites[0].index.v[1], "index.php", "full: second index");
    ok(cfg.sites[0].browse && cfg.sites[0].gzip, "full: browse yes, gzip ON");
    is_str(cfg.sites[0].access_log, "-", "full: access_log to stdout");
    is_int(cfg.sites[0].follow_symlinks, FOLLOW_ON, "full: follow_symlinks on");
    is_str(cfg.sites[1].name, "files", "full: site name trimmed");
    is_str(cfg.sites[1].root, "/srv/files#1", "full: '#' in a value");
    is_int(cfg.sites[1].root_line, 33, "full: root_line");
    is_int(cfg.sites[1].index.n, 4, "full: default index");
    is_str(cfg.sites[1].access_log, "/var/log/wharf/files.log", "full: access_log path");
    is_int(cfg.sites[1].follow_symlinks, FOLLOW_OFF, "full: follow_symlinks off");
    const struct site_conf *s = config_site_for_host(&cfg, "STATIC.example.com:8080");
    is_str(s ? s->name : NULL, "blog", "full: lookup");
    s = config_site_for_host(&cfg, "unknown.example.com");
    is_str(s ? s->name : NULL, "files", "full: fallback");
out:
    config_dispose(&cfg);
    errlist_dispose(&errs);
    free(text);
}

/* [server] user, group, shutdown_timeout (the service keys of issue 10) */
static void test_service_keys(void)
{
    struct config cfg;
    is_str(load(&cfg, "[server]\nuser = www-data\ngroup = adm\nshutdown_timeout = 0\n"), "",
           "user, group and shutdown_timeout = 0 are accepted");
    is_str(cfg.server.user, "www-data", "user");
    is_int(cfg.server.user_line, 2, "user's line, for messages");
    is_str(cfg.server.group, "adm", "group");
    is_int(cfg.server.group_line, 3, "group's line");
    is_int(cfg.server.shutdown_timeout_ms, 0, "shutdown_timeout 0: do not wait");
    config_dispose(&cfg);
    load(&cfg, "");
    ok(cfg.server.user == NULL && cfg.server.group == NULL, "no user or group by default");
    is_int(cfg.server.shutdown_timeout_ms, 30000, "default shutdown_timeout 30s");
    config_dispose(&cfg);
    is_str(errors_of("[server]\nshutdown_timeout = 61m\nuser = \"\"\n"),
           "t.ini:2: shutdown_timeout: expected a duration between 0 and 1h, got '61m'\n"
           "t.ini:3: user: expected a non-empty string, got ''\n",
           "shutdown_timeout beyond 1h and an empty user are errors at their line");
}

/* access rules and compress: parsed into struct access_conf in the order written, errors
 * with their lines */
static bool access_rules_any_conf(const struct access_conf *a)
{
    return a->n_ip || a->n_rate || a->n_auth || a->trusted_proxies.n;
}

static void test_access_keys(void)
{
    struct config cfg;
    is_str(load(&cfg, "[site a]\nroot = .\n"
                      "deny_ip = /admin 10.0.0.13\n"
                      "allow_ip = /admin 10.0.0.0/8 2001:db8::/32\n"
                      "trusted_proxies = 127.0.0.1 ::1\n"
                      "real_ip_header = forwarded\n"
                      "limit_req = =/wp-login.php 10r/m burst=5\n"
                      "limit_req = /api 100r/s\n"
                      "auth_basic = /admin /etc/htpasswd \"Admin area\"\n"
                      "auth_basic = *.bak /etc/htpasswd\n"
                      "compress = zstd br\n"),
           "", "every access key and compress are accepted");
    const struct access_conf *a = &cfg.sites[0].access;
    is_int(a->n_ip, 2, "two IP rules");
    ok(a->n_ip == 2 && !a->ip[0].allow && a->ip[1].allow, "in the order written");
    ok(a->n_ip == 2 && a->ip[1].nets.n == 2 && a->ip[1].nets.v[0].bits == 104 &&
           a->ip[1].nets.v[1].bits == 32,
       "both blocks of the allow rule (IPv4 /8 = /104)");
    is_int(a->ip[0].line, 3, "a rule keeps its line");
    is_int(a->trusted_proxies.n, 2, "trusted_proxies: two addresses");
    is_int(a->real_ip_header, REAL_IP_FORWARDED, "real_ip_header (case-insensitive)");
    is_int(a->n_rate, 2, "two limit_req rules");
    ok(a->n_rate == 2 && a->rate[0].interval_ns == 6000000000ull && a->rate[0].burst == 5,
       "10r/m burst=5: one per 6 s, 5 more at once");
    ok(a->n_rate == 2 && a->rate[1].interval_ns == 10000000ull && a->rate[1].burst == 0,
       "100r/s: one per 10 ms, no burst");
    ok(a->n_auth == 2 && strcmp(a->auth[0].realm, "Admin area") == 0 &&
           strcmp(a->auth[0].file, "/etc/htpasswd") == 0,
       "auth_basic: file and quoted realm");
    ok(a->n_auth == 2 && strcmp(a->auth[1].realm, "Restricted") == 0, "the default realm");
    is_int(cfg.sites[0].compress, CODING_BIT(CODING_ZSTD) | CODING_BIT(CODING_BR),
           "compress = zstd br");
    config_dispose(&cfg);
    load(&cfg, "[site a]\nroot = .\n");
    ok(!access_rules_any_conf(&cfg.sites[0].access) && cfg.sites[0].compress == 0,
       "no access rules, no compress by default");
    is_int(cfg.sites[0].access.real_ip_header, REAL_IP_X_FORWARDED_FOR,
           "real_ip_header defaults to X-Forwarded-For");
    config_dispose(&cfg);
    is_str(errors_of("[site a]\nroot = .\n"
                     "allow_ip = /a 300.0.0.1\n"
                     "limit_req = /a 10r/s burst=100001\n"
                     "limit_req = /a 1000001r/s\n"
                     "compress = gzip off deflate\n"),
           "t.ini:3: allow_ip: expected an IPv4 or IPv6 address or CIDR block (\"10.0.0.0/8\", "
           "\"2001:db8::/32\"), got '300.0.0.1'\n"
           "t.ini:4: limit_req: expected burst=N (0 to 100000) after the rate, got 'burst=100001'\n"
           "t.ini:5: limit_req: expected a rate like 10r/s, 60r/m or 100r/h after the path, got "
           "'1000001r/s'\n"
           "t.ini:6: compress: expected content codings: zstd, br, gzip (or off), got 'deflate'\n",
           "bad access values are errors at their lines");
}

int main(int argc, char **argv)
{
    const char *src = getenv("WHARF_SRCDIR");
    char *dir;

    if (argc > 1)
        dir = xstrdup(argv[1]);
    else if (src && *src)
        dir = xasprintf("%s/tests/fixtures/config", src);
    else
        dir = xstrdup("tests/fixtures/config");

    test_listen();
    test_service_keys();
    test_access_keys();
    test_bool();
    test_size();
    test_duration();
    test_defaults();
    test_parse_values();
    test_lines();
    test_log_formats();
    test_hosts();
    test_check_fs();
    test_presets();
    test_preset_keys();
    test_git_shared();
    test_batteries();
    test_finish_empty_listen();
    test_fcgi_bounds();
    test_full_fixture(dir);
    ok(run_fixtures(dir, "good", true) >= 2, "at least 2 good fixtures");
    ok(run_fixtures(dir, "bad", false) >= 8, "at least 8 bad fixtures");
    free(dir);
    return done_testing();
}
