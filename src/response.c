/*
 * response: see include/response.h. It owns nothing between calls: each function builds,
 * queues and drops its own reference to one MHD response. Bodies that are not whole buffers
 * (files sent with sendfile, streams) are built by their handlers and queued here.
 */
#include "response.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "conn_watch.h"
#include "error_page.h"
#include "lifecycle.h"

#define ERROR_PAGE_MAX_BYTES                                                                       \
    4096 /* a page with a long detail; without the detail it always fits                           \
          */

bool response_private_headers(const struct request *r)
{
    return r->is_tls && r->site && r->site->tls.hsts_ms;
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
    if (response_private_headers(r))
        add_hsts(resp, &r->site->tls);
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
