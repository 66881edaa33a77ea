/*
 * fcgi_record: FastCGI record encoding and decoding for the client side of the protocol.
 * Owns framing only (headers, padding, 65535-byte splitting, name-value lengths); what the
 * params mean and what STDOUT says belong to cgi_env and cgi_response.
 * Encoders: a record is written whole or not at all; a ceiling hit rolls out back to its
 * length on entry. Decoder: a resumable state machine (header -> content -> padding) that
 * keeps its place between calls and never waits for a whole record, so any split of the input
 * decodes alike; only the small management bodies are copied, stream content never is. Every record
 * is checked as soon as its header is complete, before any of its content is accepted.
 */
#include "fcgi_record.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(FCGI_Header) == FCGI_HEADER_LEN, "FCGI_Header is 8 bytes");
_Static_assert(sizeof(FCGI_BeginRequestBody) == 8, "FCGI_BeginRequestBody is 8 bytes");
_Static_assert(sizeof(FCGI_EndRequestBody) == 8, "FCGI_EndRequestBody is 8 bytes");
_Static_assert(sizeof(FCGI_UnknownTypeBody) == 8, "FCGI_UnknownTypeBody is 8 bytes");

#define PAIR_LEN_MAX 0x7fffffffu /* 31 bits: the top bit marks the 4-byte form */

enum dec_state { DEC_HEADER, DEC_CONTENT, DEC_PADDING, DEC_DONE, DEC_ERROR };

/* ---- encoding ---- */

/* Put back out's length on entry after a failed append (buf_append already left the failing
 * piece out); the storage may have grown, which does no harm. */
static int roll_back(struct buf *out, size_t len)
{
    out->len = len;
    if (out->data)
        out->data[len] = '\0';
    return -1;
}

static size_t padding_for(size_t content_len)
{
    return (8 - content_len % 8) % 8;
}

static int put_header(struct buf *out, uint8_t type, uint16_t id, uint16_t content_len,
                      uint8_t padding_len)
{
    FCGI_Header h = {
        .version = FCGI_VERSION_1,
        .type = type,
        .requestIdB1 = (unsigned char)(id >> 8),
        .requestIdB0 = (unsigned char)(id & 0xff),
        .contentLengthB1 = (unsigned char)(content_len >> 8),
        .contentLengthB0 = (unsigned char)(content_len & 0xff),
        .paddingLength = padding_len,
    };

    return buf_append(out, &h, sizeof(h));
}

static int put_padding(struct buf *out, size_t n)
{
    static const uint8_t zeros[8];

    return buf_append(out, zeros, n);
}

int fcgi_record_begin(struct buf *out, uint16_t id, uint16_t role, bool keep_conn)
{
    size_t len0 = out->len;
    FCGI_BeginRequestBody b = {
        .roleB1 = (unsigned char)(role >> 8),
        .roleB0 = (unsigned char)(role & 0xff),
        .flags = keep_conn ? FCGI_KEEP_CONN : 0,
    };

    if (put_header(out, FCGI_BEGIN_REQUEST, id, sizeof(b), 0) != 0 ||
        buf_append(out, &b, sizeof(b)) != 0)
        return roll_back(out, len0);
    return 0;
}

static size_t pair_len_size(size_t len)
{
    return len < 128 ? 1 : 4;
}

static int put_pair_len(struct buf *out, size_t len)
{
    uint8_t b[4];

    if (len < 128) {
        b[0] = (uint8_t)len;
        return buf_append(out, b, 1);
    }
    b[0] = (uint8_t)(len >> 24) | 0x80;
    b[1] = (uint8_t)(len >> 16);
    b[2] = (uint8_t)(len >> 8);
    b[3] = (uint8_t)len;
    return buf_append(out, b, 4);
}

int fcgi_record_pair(struct buf *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
    size_t len0 = out->len;

    if (nlen > PAIR_LEN_MAX || vlen > PAIR_LEN_MAX)
        return -1;
    if (put_pair_len(out, nlen) != 0 || put_pair_len(out, vlen) != 0 ||
        buf_append(out, name, nlen) != 0 || buf_append(out, value, vlen) != 0)
        return roll_back(out, len0);
    return 0;
}

int fcgi_record_stream(struct buf *out, uint8_t type, uint16_t id, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t len0 = out->len;

    assert(type == FCGI_PARAMS || type == FCGI_STDIN || type == FCGI_DATA);
    if (len == 0) {
        if (put_header(out, type, id, 0, 0) != 0)
            return roll_back(out, len0);
        return 0;
    }
    while (len > 0) {
        size_t chunk = len < FCGI_MAX_LENGTH ? len : FCGI_MAX_LENGTH;
        size_t pad = padding_for(chunk);

        if (put_header(out, type, id, (uint16_t)chunk, (uint8_t)pad) != 0 ||
            buf_append(out, p, chunk) != 0 || put_padding(out, pad) != 0)
            return roll_back(out, len0);
        p += chunk;
        len -= chunk;
    }
    return 0;
}

int fcgi_record_abort(struct buf *out, uint16_t id)
{
    return put_header(out, FCGI_ABORT_REQUEST, id, 0, 0);
}

int fcgi_record_get_values(struct buf *out, const char *const *names, size_t n)
{
    size_t len0 = out->len, body = 0;

    /* measured first so the header can carry the length; the body is then written straight
     * into out (note: the empty value still takes its 1-byte length) */
    for (size_t i = 0; i < n; i++) {
        size_t nlen = strlen(names[i]);

        if (nlen > FCGI_MAX_LENGTH)
            return -1;
        body += pair_len_size(nlen) + 1 + nlen;
        if (body > FCGI_MAX_LENGTH)
            return -1;
    }
    if (put_header(out, FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, (uint16_t)body,
                   (uint8_t)padding_for(body)) != 0)
        return roll_back(out, len0);
    for (size_t i = 0; i < n; i++)
        if (fcgi_record_pair(out, names[i], strlen(names[i]), "", 0) != 0)
            return roll_back(out, len0);
    if (put_padding(out, padding_for(body)) != 0)
        return roll_back(out, len0);
    return 0;
}

/* ---- decoding ---- */

static const char *type_name(uint8_t type)
{
    static const char *const names[] = {
        [FCGI_BEGIN_REQUEST] = "BEGIN_REQUEST",
        [FCGI_ABORT_REQUEST] = "ABORT_REQUEST",
        [FCGI_END_REQUEST] = "END_REQUEST",
        [FCGI_PARAMS] = "PARAMS",
        [FCGI_STDIN] = "STDIN",
        [FCGI_STDOUT] = "STDOUT",
        [FCGI_STDERR] = "STDERR",
        [FCGI_DATA] = "DATA",
        [FCGI_GET_VALUES] = "GET_VALUES",
        [FCGI_GET_VALUES_RESULT] = "GET_VALUES_RESULT",
        [FCGI_UNKNOWN_TYPE] = "UNKNOWN_TYPE",
    };

    return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

static enum fcgi_dec_status fail(struct fcgi_dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum fcgi_dec_status fail(struct fcgi_dec *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    d->state = DEC_ERROR;
    return FCGI_DEC_ERROR;
}

void fcgi_dec_init(struct fcgi_dec *d, uint16_t request_id)
{
    d->request_id = request_id;
    d->state = DEC_HEADER;
    d->hdr_len = 0;
    d->content_left = 0;
    d->body_len = 0;
    d->pad_left = 0;
    d->why[0] = '\0';
}

/* The header is complete: accept the record or say why not. */
static enum fcgi_dec_status check_header(struct fcgi_dec *d)
{
    const FCGI_Header *h = &d->hdr;
    uint16_t id = (uint16_t)(h->requestIdB1 << 8 | h->requestIdB0);
    uint16_t len = (uint16_t)(h->contentLengthB1 << 8 | h->contentLengthB0);
    const char *name = type_name(h->type);

    if (h->version != FCGI_VERSION_1)
        return fail(d, "unsupported FastCGI version %u", h->version);
    switch (h->type) {
    case FCGI_STDOUT:
    case FCGI_STDERR:
    case FCGI_END_REQUEST:
        if (id == FCGI_NULL_REQUEST_ID)
            return fail(d, "%s record with the null request id", name);
        if (id != d->request_id)
            return fail(d, "%s record for request %u, expected %u", name, id, d->request_id);
        /* note: END_REQUEST's body is fixed (spec 5.5); anything else is a broken peer */
        if (h->type == FCGI_END_REQUEST && len != sizeof(FCGI_EndRequestBody))
            return fail(d, "END_REQUEST body of %u bytes, expected 8", len);
        break;
    case FCGI_GET_VALUES_RESULT:
    case FCGI_UNKNOWN_TYPE:
        if (id != FCGI_NULL_REQUEST_ID)
            return fail(d, "%s record with request id %u, expected 0", name, id);
        if (h->type == FCGI_UNKNOWN_TYPE && len != sizeof(FCGI_UnknownTypeBody))
            return fail(d, "UNKNOWN_TYPE body of %u bytes, expected 8", len);
        if (len > FCGI_DEC_VALUES_MAX)
            return fail(d, "GET_VALUES_RESULT of %u bytes, over %u", len, FCGI_DEC_VALUES_MAX);
        break;
    default:
        if (name)
            return fail(d, "unexpected %s record", name);
        return fail(d, "unknown record type %u", h->type);
    }
    d->content_left = len;
    d->body_len = 0;
    d->pad_left = h->paddingLength;
    return FCGI_DEC_NEED_MORE;
}

static void fill_event(const struct fcgi_dec *d, struct fcgi_dec_event *ev, const uint8_t *data,
                       size_t len)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = d->hdr.type;
    ev->id = (uint16_t)(d->hdr.requestIdB1 << 8 | d->hdr.requestIdB0);
    ev->data = data;
    ev->len = len;
}

/* A management or END_REQUEST record is complete, padding included. */
static void finish_record(struct fcgi_dec *d, struct fcgi_dec_event *ev)
{
    const FCGI_EndRequestBody *e = &d->body.end;

    switch (d->hdr.type) {
    case FCGI_END_REQUEST:
        fill_event(d, ev, d->body.raw, sizeof(d->body.raw));
        ev->app_status = (uint32_t)e->appStatusB3 << 24 | (uint32_t)e->appStatusB2 << 16 |
                         (uint32_t)e->appStatusB1 << 8 | e->appStatusB0;
        ev->protocol_status = e->protocolStatus;
        d->state = DEC_DONE;
        break;
    case FCGI_UNKNOWN_TYPE:
        fill_event(d, ev, d->body.raw, sizeof(d->body.raw));
        d->state = DEC_HEADER;
        break;
    default: /* FCGI_GET_VALUES_RESULT */
        fill_event(d, ev, d->values, d->body_len);
        d->state = DEC_HEADER;
        break;
    }
}

static bool is_stream(uint8_t type)
{
    return type == FCGI_STDOUT || type == FCGI_STDERR;
}

enum fcgi_dec_status fcgi_dec_feed(struct fcgi_dec *d, const uint8_t *in, size_t n,
                                   size_t *consumed, struct fcgi_dec_event *ev)
{
    size_t i = 0;

    *consumed = 0;
    for (;;) {
        switch (d->state) {
        case DEC_HEADER:
            if (i == n)
                goto need_more;
            while (d->hdr_len < FCGI_HEADER_LEN && i < n)
                ((uint8_t *)&d->hdr)[d->hdr_len++] = in[i++];
            if (d->hdr_len < FCGI_HEADER_LEN)
                goto need_more;
            d->hdr_len = 0;
            if (check_header(d) == FCGI_DEC_ERROR) {
                *consumed = i;
                return FCGI_DEC_ERROR;
            }
            d->state = DEC_CONTENT;
            if (is_stream(d->hdr.type) && d->content_left == 0) {
                /* the empty record that ends the stream is an event of its own */
                d->state = DEC_PADDING;
                fill_event(d, ev, in + i, 0);
                *consumed = i;
                return FCGI_DEC_EVENT;
            }
            break;
        case DEC_CONTENT: {
            size_t take = n - i < d->content_left ? n - i : d->content_left;

            if (d->content_left == 0) {
                d->state = DEC_PADDING;
                break;
            }
            if (i == n)
                goto need_more;
            if (is_stream(d->hdr.type)) {
                fill_event(d, ev, in + i, take);
                d->content_left -= (uint16_t)take;
                if (d->content_left == 0)
                    d->state = DEC_PADDING;
                *consumed = i + take;
                return FCGI_DEC_EVENT;
            }
            /* check_header bounded content_left by the buffer it goes into */
            if (d->hdr.type == FCGI_GET_VALUES_RESULT)
                memcpy(d->values + d->body_len, in + i, take);
            else
                memcpy(d->body.raw + d->body_len, in + i, take);
            d->body_len += (uint16_t)take;
            d->content_left -= (uint16_t)take;
            i += take;
            break;
        }
        case DEC_PADDING:
            if (d->pad_left > 0) {
                size_t skip = n - i < d->pad_left ? n - i : d->pad_left;

                i += skip;
                d->pad_left -= (uint8_t)skip;
                if (d->pad_left > 0)
                    goto need_more;
            }
            if (is_stream(d->hdr.type)) {
                d->state = DEC_HEADER;
                break;
            }
            finish_record(d, ev);
            *consumed = i;
            return FCGI_DEC_EVENT;
        case DEC_DONE:
            if (i == n)
                goto need_more;
            *consumed = i + 1;
            return fail(d, "data after END_REQUEST");
        default: /* DEC_ERROR */
            return FCGI_DEC_ERROR;
        }
    }
need_more:
    *consumed = n;
    return FCGI_DEC_NEED_MORE;
}

const char *fcgi_dec_error(const struct fcgi_dec *d)
{
    return d->state == DEC_ERROR ? d->why : NULL;
}

/* Read one pair length at p[*i]; -1 if it runs past n. */
static int get_pair_len(const uint8_t *p, size_t n, size_t *i, size_t *len)
{
    if (*i >= n)
        return -1;
    if (p[*i] < 0x80) {
        *len = p[(*i)++];
        return 0;
    }
    if (n - *i < 4)
        return -1;
    *len =
        (size_t)(p[*i] & 0x7f) << 24 | (size_t)p[*i + 1] << 16 | (size_t)p[*i + 2] << 8 | p[*i + 3];
    *i += 4;
    return 0;
}

int fcgi_parse_pairs(const uint8_t *p, size_t n, fcgi_pair_cb cb, void *ctx)
{
    size_t i = 0;

    while (i < n) {
        size_t nlen, vlen;
        const char *name, *value;
        int rc;

        if (get_pair_len(p, n, &i, &nlen) != 0 || get_pair_len(p, n, &i, &vlen) != 0)
            return -1;
        if (nlen > n - i || vlen > n - i - nlen)
            return -1;
        name = (const char *)p + i;
        value = name + nlen;
        i += nlen + vlen;
        rc = cb(ctx, name, nlen, value, vlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}
