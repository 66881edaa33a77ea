/*
 * redirect: the per-site redirect rules (`redirect = FROM TO [STATUS]`) and the www/apex host
 * redirect (`redirect_host = www|apex [STATUS]`). Pure: parsing, matching and building the
 * Location; no I/O, no clock. http_front asks redirect_find() after path normalisation and the
 * deny check, and answers the status with the Location redirect_location() wrote.
 *
 * FROM is a path pattern (path_match.h). A prefix FROM keeps the rest of the path: with
 * `redirect = /old /new`, /old/a/b?x=1 goes to /new/a/b?x=1. An exact or glob FROM sends
 * every match to TO itself. The query is kept unless TO has one of its own. TO is a path
 * ("/new") or an absolute http(s) URL. The first rule that matches, in file order, wins.
 */
#ifndef WHARF_REDIRECT_H
#define WHARF_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "path_match.h"

#define REDIRECT_DEFAULT_STATUS 302

struct redirect_rule {
    struct path_match from;
    char *to;        /* owned: "/new", "https://example.org/x" */
    unsigned status; /* 301, 302, 307 or 308 */
};

struct redirect_rules {
    struct redirect_rule *v;
    size_t n;
};

enum redirect_host_mode {
    REDIRECT_HOST_OFF = 0,
    REDIRECT_HOST_WWW,  /* example.org -> www.example.org */
    REDIRECT_HOST_APEX, /* www.example.org -> example.org */
};

struct redirect_host {
    enum redirect_host_mode mode;
    unsigned status;
    unsigned line; /* of the key; 0 = not set */
};

/** Parse "FROM TO [STATUS]" into *out. NULL on success, else a static message for the config
 *  error (*out is then zeroed). */
const char *redirect_parse(const char *text, struct redirect_rule *out);
/** Parse "www|apex|off [STATUS]". NULL on success, else a static message. */
const char *redirect_host_parse(const char *text, struct redirect_host *out);
/** Frees every rule; *rules is empty after. */
void redirect_rules_free(struct redirect_rules *rules);
/** The first rule matching the normalised path, or NULL. */
const struct redirect_rule *redirect_find(const struct redirect_rules *rules, const char *path);
/**
 * Append the Location for rule matched on path (normalised) with the raw query (NULL = none)
 * to b: the rest of the path (prefix rules) percent-encoded again. 0, or -1 when b's cap was
 * hit.
 */
int redirect_location(const struct redirect_rule *rule, const char *path, const char *query,
                      size_t query_len, struct buf *b);
/**
 * The host a request for host (a Host value: lower or upper case, maybe with ":port") is
 * redirected to under mode, written with the port into out: only when that host is one of
 * the site's hosts (never a name the client made up). false = serve the request as it is.
 */
bool redirect_host_target(enum redirect_host_mode mode, const char *host, char *const *hosts,
                          size_t n_hosts, char *out, size_t cap);
/** Whether hosts hold at least one pair NAME / www.NAME (the host redirect has work to do). */
bool redirect_host_has_pair(char *const *hosts, size_t n_hosts);

#endif
