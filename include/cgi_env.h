/*
 * cgi_env: one request -> the CGI/1.1 variables (RFC 3875) that php-fpm reads as FastCGI
 * params, emitted one by one through a callback (lighttpd's http_cgi style) so the caller
 * can encode them straight into FCGI_PARAMS records. Pure: no I/O, and no allocation unless
 * a string is unusually long or a request header is repeated.
 */
#ifndef WHARF_CGI_ENV_H
#define WHARF_CGI_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Receives one param; return 0 to go on, anything else to stop cgi_env_build. */
typedef int (*cgi_param_cb)(void *ctx, const char *name, size_t nlen, const char *value,
                            size_t vlen);

/* One request header as received (name in any case). */
struct cgi_header {
    const char *name;
    const char *value; /* note: a C string, so a value with an embedded NUL must be refused
                        * by the caller (MHD reports the real length) */
};

/* "NAME=VALUE" strings from the config; same layout as config.h's struct str_list. */
struct cgi_env_list {
    char *const *v;
    size_t n;
};

#define CGI_ENV_LISTS 2 /* the preset's env, then the site's */

/* Everything cgi_env_build needs. A NULL string is emitted as "" unless noted. */
struct cgi_request {
    const char *method;          /* "GET" */
    const char *request_uri;     /* raw request-target as received, with the query */
    const char *query;           /* raw, without the '?'; NULL = no query */
    const char *script_name;     /* URL path of the script: "/blog/index.php" */
    const char *path_info;       /* "/a/b"; NULL or "" = none (no PATH_INFO/PATH_TRANSLATED) */
    const char *document_root;   /* resolved real path, as the backend sees it */
    const char *script_filename; /* NULL = document_root + script_name */
    const char *document_uri;    /* decoded, normalised path */
    const char *server_name;
    const char *server_addr;
    unsigned server_port;
    const char *server_protocol; /* "HTTP/1.1" */
    const char *server_software; /* "wharf/0.1" */
    const char *remote_addr;
    unsigned remote_port;
    const char *remote_user; /* verified by auth_basic: REMOTE_USER, AUTH_TYPE=Basic; NULL = none */
    const char *content_type; /* NULL = no CONTENT_TYPE */
    uint64_t content_length;  /* bytes; used only when has_body */
    bool has_body;            /* CONTENT_LENGTH is emitted only then (php-fpm reads STDIN
                               * up to it) */
    bool https;               /* HTTPS=on, REQUEST_SCHEME=https */
    unsigned redirect_status; /* REDIRECT_STATUS (200 for php-cgi's force-redirect);
                               * 0 = omit */
    const struct cgi_header *headers;
    size_t n_headers;
    struct cgi_env_list env[CGI_ENV_LISTS]; /* lowest precedence first; see cgi_env_build */
};

/**
 * Emit r's params through cb, in this order: GATEWAY_INTERFACE, SERVER_SOFTWARE,
 * SERVER_NAME, SERVER_ADDR, SERVER_PORT, SERVER_PROTOCOL, REQUEST_SCHEME ("https" when
 * https, else "http"), REQUEST_METHOD, REQUEST_URI,
 * QUERY_STRING, DOCUMENT_URI, DOCUMENT_ROOT, SCRIPT_NAME, SCRIPT_FILENAME, [PATH_INFO,
 * PATH_TRANSLATED], REMOTE_ADDR, REMOTE_PORT, [CONTENT_TYPE], [CONTENT_LENGTH], [HTTPS],
 * [REDIRECT_STATUS], then one HTTP_<NAME> per distinct request header name (in order of
 * first appearance), then the config env.
 *
 * Headers: the name is upper-cased with '-' turned into '_'. Dropped: Proxy (httpoxy),
 * Content-Type and Content-Length (they are CONTENT_*), names that are empty, not an
 * RFC 9110 token, or contain '_' or '.' (PHP would fold them onto another, trusted name),
 * and values holding CR or LF. Repeats of one name (any case) become one value joined
 * with ", " ("; " for Cookie, as HTTP/2 and nginx do).
 *
 * Env: entries of env[0] then env[1] are emitted last. An entry is skipped if it has no
 * '=' or an empty NAME, if cgi_env_is_reserved(NAME), or if a later entry (in the same
 * or a later list) has the same NAME: the later one wins, so each NAME is sent once and
 * a site's env overrides its preset's, while nothing overrides a variable set above.
 *
 * Joining root and script/path_info drops one '/' when the root ends with one. Returns 0,
 * or -1 as soon as cb fails (nothing is leaked). Thread-safe.
 */
int cgi_env_build(const struct cgi_request *r, cgi_param_cb cb, void *ctx);

/**
 * True if an env NAME (nlen bytes) may not come from the config: any variable that
 * cgi_env_build sets itself (whether or not this request has it) and any HTTP_ name.
 * Case-sensitive, as PHP's $_SERVER is. config.c can use it to refuse such keys at load.
 */
bool cgi_env_is_reserved(const char *name, size_t nlen);

/**
 * Split a normalised URL path into script and PATH_INFO at the first occurrence of split
 * (e.g. ".php"; plain bytes, case-sensitive) that ends a path segment, i.e. is followed by
 * '/' or the end: "/index.php/a/b" -> "/index.php" + "/a/b"; "/a.php.txt" -> no match.
 * On a match sets *script_len (path_info is the rest, possibly empty) and returns true;
 * otherwise sets *script_len = path_len and returns false. An empty split never matches.
 */
bool cgi_split_script(const char *path, size_t path_len, const char *split, size_t *script_len);

#endif
