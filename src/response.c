/*
 * response: see include/response.h. It owns nothing between calls: each function builds,
 * queues and drops its own reference to one MHD response. Bodies that are not whole buffers
 * (files sent with sendfile, streams) are built by their handlers and queued here.
 */
#include "response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "conn_watch.h"
#include "error_page.h"
#include "handler.h"
#include "header_rule.h"
#include "http_date.h"
#include "lifecycle.h"
#include "log.h"
#include "util.h"

#define ERROR_PAGE_MAX_BYTES                                                                       \
    4096 /* a page with a long detail; without the detail it always fits                           \
          */

/* The lines of resp named name (any case), collected before any is deleted: MHD compares
 * names case-sensitively when deleting, and deleting while iterating is not allowed. */
struct named {
    const char *name;
    char *found[16][2]; /* copies of (name as stored, value) */
    size_t n;
};

static enum MHD_Result collect_named(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct named *l = cls;
    (void)kind;
    if (ascii_casecmp(key, l->name) == 0 && l->n < ARRAY_LEN(l->found)) {
        l->found[l->n][0] = xstrdup(key);
        l->found[l->n][1] = xstrdup(value ? value : "");
        l->n++;
    }
    return MHD_YES;
}

static void remove_named(struct MHD_Response *resp, const char *name)
{
    struct named l = {.name = name};
    MHD_get_response_headers(resp, collect_named, &l);
    for (size_t i = 0; i < l.n; i++) {
        MHD_del_response_header(resp, l.found[i][0], l.found[i][1]);
        free(l.found[i][0]);
        free(l.found[i][1]);
    }
}

void response_set_header(struct MHD_Response *resp, const char *name, const char *value)
{
    remove_named(resp, name);
    MHD_add_response_header(resp, name, value);
}

/*
 * The site's response rules (header_rule.h) on r's response, in their order: header rules
 * that match r->rule_path, the security defaults the response lacks (the application's own
 * win), then cache_control on the static handler's 200/206/304. resp is r's own (never a
 * shared one: see request.h, rule_path).
 */
static void apply_rules(struct request *r, unsigned status, struct MHD_Response *resp)
{
    const struct site_conf *site = r->site;
    for (size_t i = 0; i < site->headers.n; i++) {
        const struct header_rule *h = &site->headers.v[i];
        if (!path_match(&h->where, r->rule_path))
            continue;
        if (h->op != HEADER_RULE_ADD)
            remove_named(resp, h->name);
        if (h->op != HEADER_RULE_DEL)
            MHD_add_response_header(resp, h->name, h->value);
    }
    for (const struct header_default *d = header_rule_security; site->security_headers && d->name;
         d++)
        if (!MHD_get_response_header(resp, d->name))
            MHD_add_response_header(resp, d->name, d->value);
    const struct cache_rule *cr = NULL;
    if (site->cache.n &&
        (status == MHD_HTTP_OK || status == MHD_HTTP_PARTIAL_CONTENT ||
         status == MHD_HTTP_NOT_MODIFIED) &&
        r->handler && strcmp(r->handler->name, "static") == 0 && !r->error_status)
        cr = header_rule_find_cache(&site->cache, r->rule_path);
    if (cr) {
        response_set_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cr->value);
        if (cr->max_age >= 0) {
            char date[HTTP_DATE_LEN + 1];
            http_date_format(time(NULL) + (time_t)cr->max_age, date);
            response_set_header(resp, MHD_HTTP_HEADER_EXPIRES, date);
        }
    }
}

bool response_private_headers(const struct request *r)
{
    return r->rule_path || r->sendfile || (r->is_tls && r->site && r->site->tls.hsts_ms);
}

static enum MHD_Result count_line(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    size_t *n = cls;
    (void)kind;
    *n += strlen(key) + 2 + (value ? strlen(value) : 0) + 2; /* "Name: value\r\n" */
    return MHD_YES;
}

/*
 * Does resp's head fit the connection? *need and *room say how much it takes and has.
 * note: libmicrohttpd builds a response's head in what the request's head left of the
 * connection's buffer (max_header_size, which is also the request's limit), and a head that
 * does not fit makes it close the connection without any answer ("failed to create response
 * header"). Only a backend's headers can be that large. MHD_CONNECTION_INFO_REPLY_ROOM is
 * libmicrohttpd patch 0013; built against another libmicrohttpd, nothing is checked.
 */
static bool head_fits(struct MHD_Connection *c, struct MHD_Response *resp, unsigned status,
                      size_t *need, size_t *room)
{
#ifdef MHD_HAVE_REPLY_ROOM
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REPLY_ROOM);
    if (!ci)
        return true;
    /* the status line, and what MHD adds: Date, Connection, Content-Length (20 digits) or
     * Transfer-Encoding, the blank line */
    size_t reason = strlen(MHD_get_reason_phrase_for(status));
    if (reason < RESPONSE_REASON_MAX)
        reason = RESPONSE_REASON_MAX; /* an application's own may be that long */
    *need = strlen("HTTP/1.1 200 \r\n") + reason +
            strlen("Date: Sun, 06 Dec 2026 00:00:00 GMT\r\n") +
            strlen("Connection: Keep-Alive\r\n") +
            strlen("Content-Length: 18446744073709551615\r\n") + strlen("\r\n");
    MHD_get_response_headers(resp, count_line, need);
    *room = ci->header_size;
    return *need <= *room;
#else
    (void)c;
    (void)resp;
    (void)status;
    *need = *room = 0;
    return true;
#endif
}

void response_set_reason(struct MHD_Response *resp, const char *reason)
{
#ifdef MHD_HAVE_RESPONSE_REASON
    size_t n = reason ? strlen(reason) : 0;
    if (n == 0 || n > RESPONSE_REASON_MAX)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)reason[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return;
    }
    MHD_set_response_reason(resp, reason);
#else
    (void)resp;
    (void)reason;
#endif
}

/* note: RFC 6797 7.2: never over plain HTTP (a client must ignore it there anyway) */
static void add_hsts(struct MHD_Response *resp, const struct tls_site_conf *t)
{
    if (MHD_get_response_header(resp, "Strict-Transport-Security"))
        return;
    char v[96];
    snprintf(v, sizeof v, "max-age=%llu%s", (unsigned long long)(t->hsts_ms / 1000),
             t->hsts_subdomains ? "; includeSubDomains" : "");
    MHD_add_response_header(resp, "Strict-Transport-Security", v);
}

enum MHD_Result response_queue(struct MHD_Connection *c, struct request *r, unsigned status,
                               struct MHD_Response *resp, uint64_t body_bytes)
{
    if (r->error_status)
        status = r->error_status; /* an error page: the client gets the error's status */
    if (r->sendfile)              /* X-Sendfile: the application's headers that describe the file */
        for (size_t i = 0; i < r->sendfile->n_keep; i++) {
            const char *name = r->sendfile->keep[i][0], *value = r->sendfile->keep[i][1];
            if (ascii_casecmp(name, "Set-Cookie") == 0 ||
                ascii_casecmp(name, "Content-Disposition") == 0)
                MHD_add_response_header(resp, name, value); /* the file has none of its own */
            else
                response_set_header(resp, name, value);
        }
    if (r->rule_path)
        apply_rules(r, status, resp);
    if (r->is_tls && r->site && r->site->tls.hsts_ms)
        add_hsts(resp, &r->site->tls);
    size_t need, room;
    bool app_head = r->backend_head || (r->sendfile && r->sendfile->n_keep);
    if (app_head && !head_fits(c, resp, status, &need, &room)) {
        r->backend_head = false; /* the error page's head is ours */
        if (r->sendfile) /* the kept headers are what did not fit: the error page goes without */
            request_sendfile_drop_kept(r->sendfile);
        log_error("fcgi", r->id,
                  "[site %s] the response head (%zu bytes) does not fit the %zu bytes the "
                  "request left of the connection's buffer (max_header_size): 502",
                  r->site ? r->site->name : "-", need, room);
        return response_error(c, r, MHD_HTTP_BAD_GATEWAY, NULL, NULL, NULL);
    }
    r->backend_head = false;
    r->status = status;
    r->bytes = r->is_head || status == MHD_HTTP_NOT_MODIFIED ? 0 : body_bytes;
    /* note: while draining the connection must close after this response. Responses may be
     * shared between connections (the file cache's), so the mark goes on the request: MHD
     * 0.9.75 closes (and says "Connection: close") when the request has that token. So
     * does a connection whose listener a reload removed. */
    if (lifecycle_draining() || conn_watch_closing(r->watch))
        MHD_set_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION, "close");
    return MHD_queue_response(c, status, resp);
}

/* The body of a HEAD or 304 response, which MHD never reads. */
static ssize_t on_read_none(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)cls;
    (void)pos;
    (void)out;
    (void)max;
    return MHD_CONTENT_READER_END_OF_STREAM;
}

struct MHD_Response *response_bodiless(uint64_t announced_len)
{
    return MHD_create_response_from_callback(announced_len, 1024, on_read_none, NULL, NULL);
}

struct MHD_Response *response_from_buf(struct buf *b, const char *type)
{
    size_t len;
    char *data = buf_steal(b, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data); /* note: MHD takes the buffer only when it returns a response */
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, WHARF_SERVER_HEADER);
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return resp;
}

enum MHD_Result response_send_buf(struct MHD_Connection *c, struct request *r, unsigned status,
                                  struct buf *b, const char *type, const char *cache_control,
                                  const char *hdr_name, const char *hdr_value)
{
    size_t len = b->len;
    struct MHD_Response *resp = response_from_buf(b, type);
    if (!resp)
        return MHD_NO;
    if (cache_control)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    if (hdr_name)
        MHD_add_response_header(resp, hdr_name, hdr_value);
    enum MHD_Result ret = response_queue(c, r, status, resp, len);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result response_error(struct MHD_Connection *c, struct request *r, unsigned status,
                               const char *detail, const char *hdr_name, const char *hdr_value)
{
    if (r->error_status) {
        /* the error page itself failed: the built-in page, with the first error's status */
        log_warn("http", r->id, "error page for %u failed (%u): built-in page sent",
                 r->error_status, status);
        status = r->error_status;
        detail = NULL;
    } else if (r->error_pages_ok && r->site && r->site->error_pages.n && !hdr_name) {
        const char *uri = error_page_find(&r->site->error_pages, status);
        if (uri) {
            /* the front answers uri as a GET once the handler returns (follow_redirects) */
            r->error_status = status;
            r->error_target = xstrdup(r->target);
            free(r->redirect);
            r->redirect = xstrdup(uri);
            return MHD_YES;
        }
    }
    struct buf b;
    buf_init(&b, ERROR_PAGE_MAX_BYTES);
    bool json = error_page_wants_json(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
    const char *type = error_page_render(&b, status, detail, json);
    if (!type) { /* the detail did not fit: the page without it always does */
        buf_reset(&b);
        type = error_page_render(&b, status, NULL, json);
    }
    return response_send_buf(c, r, status, &b, type, "no-store", hdr_name, hdr_value);
}
