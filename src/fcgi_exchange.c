/*
 * fcgi_exchange: see include/fcgi_exchange.h.
 *
 * Notes:
 * - `out` belongs to the connection and keeps its storage between requests: the head records
 *   of one request and the STDIN pieces of the next reuse it, so a request costs no
 *   allocation here once a connection has served one.
 * - The STDIN pieces are encoded one at a time, when the previous one is all written: the
 *   socket buffer, not ours, holds what is in flight.
 */
#include "fcgi_exchange.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* note: one request per connection at a time (php-fpm does not multiplex), but not always id 1:
 * each request on a connection takes the next id, so records a broken backend sends after an
 * END_REQUEST (late output of the previous request) are refused as another request's instead
 * of being read as the next request's answer */
#define REQUEST_ID_MAX 0xffff

void fcgi_exchange_init(struct fcgi_exchange *x, uint8_t *stdin_buf)
{
    memset(&x->in, 0, sizeof x->in);
    x->active = false;
    x->request_id = 0;
    x->trailing = false;
    x->stdin_buf = stdin_buf;
    buf_init(&x->out, 0);
    x->out_off = 0;
    buf_init(&x->stderr_line, 0);
    x->status = FCGI_EXCHANGE_MORE;
    x->why = NULL;
}

void fcgi_exchange_dispose(struct fcgi_exchange *x)
{
    buf_dispose(&x->out);
    buf_dispose(&x->stderr_line);
    x->active = false;
}

/* ---- sending ------------------------------------------------------------------------------ */

int fcgi_exchange_param(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    return fcgi_record_pair(ctx, name, nlen, value, vlen);
}

void fcgi_exchange_start(struct fcgi_exchange *x, const struct fcgi_exchange_input *in)
{
    x->in = *in;
    x->active = true;
    x->request_id = x->request_id >= REQUEST_ID_MAX ? 1 : x->request_id + 1;
    x->trailing = false;
    x->body_off = 0;
    x->head_done = false;
    x->status = FCGI_EXCHANGE_MORE;
    x->why = NULL;
    x->stderr_logged = 0;
    buf_reset(&x->stderr_line);
    fcgi_dec_init(&x->dec, x->request_id);
    /* out has no ceiling: these cannot fail (out of memory aborts) */
    buf_reset(&x->out);
    x->out_off = 0;
    buf_reserve(&x->out, in->params_len + 64);
    fcgi_record_begin(&x->out, x->request_id, FCGI_RESPONDER, true);
    fcgi_record_stream(&x->out, FCGI_PARAMS, x->request_id, in->params, in->params_len);
    fcgi_record_stream(&x->out, FCGI_PARAMS, x->request_id, NULL, 0);
    x->stdin_done = in->body_len == 0;
    if (x->stdin_done)
        fcgi_record_stream(&x->out, FCGI_STDIN, x->request_id, NULL, 0);
}

/* Encode the next piece of request body (or the end of STDIN) into out, which is all
 * written. */
static int refill(struct fcgi_exchange *x)
{
    buf_reset(&x->out);
    x->out_off = 0;
    uint64_t left = x->in.body_len - x->body_off;
    if (left == 0) {
        x->stdin_done = true;
        fcgi_record_stream(&x->out, FCGI_STDIN, x->request_id, NULL, 0);
        return 0;
    }
    size_t n = left < FCGI_EXCHANGE_STDIN_CHUNK ? (size_t)left : FCGI_EXCHANGE_STDIN_CHUNK;
    const void *src;
    if (x->in.body_fd >= 0) {
        ssize_t got = pread(x->in.body_fd, x->stdin_buf, n, (off_t)x->body_off);
        if (got <= 0) {
            if (got == 0)
                errno = EIO; /* the file is shorter than the body it holds */
            return -1;
        }
        n = (size_t)got;
        src = x->stdin_buf;
    } else {
        src = (const uint8_t *)x->in.body_mem + x->body_off;
    }
    x->body_off += n;
    fcgi_record_stream(&x->out, FCGI_STDIN, x->request_id, src, n);
    return 0;
}

int fcgi_exchange_to_send(struct fcgi_exchange *x, const uint8_t **data, size_t *len)
{
    while (x->out_off == x->out.len && !x->stdin_done) {
        if (refill(x) != 0) {
            *len = 0;
            return -1;
        }
    }
    *data = (const uint8_t *)x->out.data + x->out_off;
    *len = x->out.len - x->out_off;
    return 0;
}

void fcgi_exchange_sent(struct fcgi_exchange *x, size_t n)
{
    x->out_off += n;
}

/* ---- receiving ---------------------------------------------------------------------------- */

static enum fcgi_exchange_status end_as(struct fcgi_exchange *x, enum fcgi_exchange_status st,
                                        const char *why)
{
    x->status = st;
    x->why = why;
    return st;
}

/* STDOUT bytes: first the CGI head, then the body. */
static void on_stdout(struct fcgi_exchange *x, const uint8_t *data, size_t len, bool *head_now)
{
    if (!x->head_done) {
        size_t used = 0;
        switch (cgi_head_feed(x->in.head, (const char *)data, len, &used)) {
        case CGI_HEAD_NEED_MORE:
            return;
        case CGI_HEAD_ERROR:
            end_as(x, FCGI_EXCHANGE_BROKEN, cgi_head_error(x->in.head));
            return;
        case CGI_HEAD_DONE:
            x->head_done = true;
            *head_now = true;
            data += used;
            len -= used;
            break;
        }
    }
    if (len && !x->in.is_head)
        x->in.sink->body(x->in.ctx, data, len);
}

/* The line collected so far is complete: pass it on while under the cap. */
static void stderr_eol(struct fcgi_exchange *x)
{
    if (x->stderr_logged < FCGI_EXCHANGE_STDERR_LOG_MAX && x->stderr_line.len)
        x->in.sink->stderr_line(x->in.ctx, x->stderr_line.data);
    x->stderr_logged += x->stderr_line.len + 1;
    buf_reset(&x->stderr_line);
}

static void on_stderr(struct fcgi_exchange *x, const uint8_t *data, size_t len)
{
    while (len) {
        const uint8_t *nl = memchr(data, '\n', len);
        size_t piece = nl ? (size_t)(nl - data) : len;
        size_t room = FCGI_EXCHANGE_STDERR_LINE_MAX - x->stderr_line.len;
        buf_append(&x->stderr_line, data, piece < room ? piece : room);
        if (!nl)
            return;
        stderr_eol(x);
        data += piece + 1;
        len -= piece + 1;
    }
}

static void on_end(struct fcgi_exchange *x, const struct fcgi_dec_event *ev)
{
    if (ev->protocol_status == FCGI_OVERLOADED)
        end_as(x, FCGI_EXCHANGE_OVERLOADED, "upstream overloaded");
    else if (ev->protocol_status != FCGI_REQUEST_COMPLETE)
        end_as(x, FCGI_EXCHANGE_BROKEN, "upstream refused the request");
    else if (!x->head_done)
        end_as(x, FCGI_EXCHANGE_BROKEN, "response ended before its header was complete");
    else
        end_as(x, FCGI_EXCHANGE_END, NULL);
}

enum fcgi_exchange_status fcgi_exchange_recv(struct fcgi_exchange *x, const uint8_t *data, size_t n,
                                             bool *head_now)
{
    size_t off = 0;
    while (off < n && x->status == FCGI_EXCHANGE_MORE) {
        struct fcgi_dec_event ev;
        size_t used = 0;
        enum fcgi_dec_status st = fcgi_dec_feed(&x->dec, data + off, n - off, &used, &ev);
        off += used;
        if (st == FCGI_DEC_NEED_MORE)
            break;
        if (st == FCGI_DEC_ERROR)
            return end_as(x, FCGI_EXCHANGE_BROKEN, fcgi_dec_error(&x->dec));
        switch (ev.type) {
        case FCGI_STDOUT:
            on_stdout(x, ev.data, ev.len, head_now);
            break;
        case FCGI_STDERR:
            on_stderr(x, ev.data, ev.len);
            break;
        case FCGI_END_REQUEST:
            on_end(x, &ev);
            break;
        default:
            break; /* management records: nothing to do */
        }
    }
    if (x->status != FCGI_EXCHANGE_MORE && off < n)
        x->trailing = true;
    return x->status;
}

enum fcgi_exchange_status fcgi_exchange_eof(struct fcgi_exchange *x)
{
    if (x->status == FCGI_EXCHANGE_MORE)
        end_as(x, FCGI_EXCHANGE_BROKEN, "upstream closed the connection");
    return x->status;
}

uint16_t fcgi_exchange_request_id(const struct fcgi_exchange *x)
{
    return x->request_id;
}

bool fcgi_exchange_trailing(const struct fcgi_exchange *x)
{
    return x->trailing;
}

const char *fcgi_exchange_error(const struct fcgi_exchange *x)
{
    return x->why;
}

void fcgi_exchange_finish(struct fcgi_exchange *x)
{
    if (!x->active)
        return;
    if (x->stderr_line.len)
        stderr_eol(x); /* a last line without its newline */
    buf_reset(&x->out);
    x->out_off = 0;
    memset(&x->in, 0, sizeof x->in);
    x->active = false;
}
