#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fcgi_record.h"
#include "tap.h"
#include "util.h"

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})
/* is_mem against a byte list (B cannot be used inside a macro's arguments) */
#define is_bytes(got, got_len, name, ...)                                                          \
    is_mem(got, got_len, ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__}), \
           name)

/* ---- test-only encoder for the records an application sends ---- */

/* Padding is filled with 'P' so that a decoder leaking it into the output shows. */
static void app_record(struct buf *b, uint8_t type, uint16_t id, const void *data, size_t len,
                       uint8_t pad)
{
    uint8_t h[8] = {FCGI_VERSION_1, type, id >> 8, id & 0xff, len >> 8, len & 0xff, pad, 0};
    uint8_t padding[255];

    memset(padding, 'P', sizeof(padding));
    buf_append(b, h, sizeof(h));
    buf_append(b, data, len);
    buf_append(b, padding, pad);
}

/* The padding php-fpm uses (main/fastcgi.c pads every record to a multiple of 8). */
static void app_stream(struct buf *b, uint8_t type, uint16_t id, const char *s)
{
    size_t len = strlen(s);

    app_record(b, type, id, s, len, (uint8_t)((8 - len % 8) % 8));
}

static void app_end(struct buf *b, uint16_t id, uint32_t app_status, uint8_t protocol_status,
                    uint8_t pad)
{
    uint8_t body[8] = {
        app_status >> 24, app_status >> 16, app_status >> 8, app_status, protocol_status, 0, 0, 0};

    app_record(b, FCGI_END_REQUEST, id, body, sizeof(body), pad);
}

/* ---- decoding driver ---- */

struct result {
    struct buf out, err, values; /* concatenated STDOUT, STDERR, GET_VALUES_RESULT */
    struct buf trace;            /* one letter per event, runs of stream data merged: o/e data,
                                    O/E end of stream, X END_REQUEST, V values, U unknown type */
    int ends;
    uint32_t app_status;
    uint8_t protocol_status;
    uint8_t unknown_type;
    enum fcgi_dec_status last;
    char why[96];
    size_t consumed; /* total over all calls */
    bool zero_copy;  /* every stream event pointed inside the bytes it consumed */
    bool progress;   /* EVENT consumed >0, NEED_MORE consumed all, used <= n */
};

static void result_init(struct result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->out, 0);
    buf_init(&r->err, 0);
    buf_init(&r->values, 0);
    buf_init(&r->trace, 0);
    r->zero_copy = r->progress = true;
}

static void result_dispose(struct result *r)
{
    buf_dispose(&r->out);
    buf_dispose(&r->err);
    buf_dispose(&r->values);
    buf_dispose(&r->trace);
}

static void trace(struct result *r, char c, bool merge)
{
    if (merge && r->trace.len && r->trace.data[r->trace.len - 1] == c)
        return;
    buf_putc(&r->trace, c);
}

static void record_event(struct result *r, const struct fcgi_dec_event *ev)
{
    switch (ev->type) {
    case FCGI_STDOUT:
        trace(r, ev->len ? 'o' : 'O', ev->len > 0);
        buf_append(&r->out, ev->data, ev->len);
        break;
    case FCGI_STDERR:
        trace(r, ev->len ? 'e' : 'E', ev->len > 0);
        buf_append(&r->err, ev->data, ev->len);
        break;
    case FCGI_END_REQUEST:
        trace(r, 'X', false);
        r->ends++;
        r->app_status = ev->app_status;
        r->protocol_status = ev->protocol_status;
        break;
    case FCGI_GET_VALUES_RESULT:
        trace(r, 'V', false);
        buf_append(&r->values, ev->data, ev->len);
        break;
    case FCGI_UNKNOWN_TYPE:
        trace(r, 'U', false);
        r->unknown_type = ev->data[0];
        break;
    default:
        trace(r, '?', false);
    }
}

/*
 * Feed p[0..n) in chunks of sizes[0], sizes[1], ... (the last size repeats), each chunk copied
 * to a heap block of its exact size so that ASan sees any read outside it. reinit_id != 0
 * restarts the decoder for that id after each END_REQUEST, as a kept connection would.
 */
static void decode(struct result *r, uint16_t request_id, uint16_t reinit_id, const uint8_t *p,
                   size_t n, const size_t *sizes, size_t nsizes)
{
    struct fcgi_dec d;
    size_t pos = 0, j = 0;

    result_init(r);
    fcgi_dec_init(&d, request_id);
    r->last = FCGI_DEC_NEED_MORE;
    while (pos < n || j == 0) {
        size_t clen = sizes[j < nsizes ? j : nsizes - 1], off = 0;
        uint8_t *c;

        j++;
        if (clen > n - pos)
            clen = n - pos;
        c = xmalloc(clen ? clen : 1);
        memcpy(c, p + pos, clen);
        for (;;) {
            struct fcgi_dec_event ev;
            size_t used = 12345;

            r->last = fcgi_dec_feed(&d, c + off, clen - off, &used, &ev);
            if (used > clen - off)
                r->progress = false;
            r->consumed += used;
            if (r->last == FCGI_DEC_EVENT) {
                if ((ev.type == FCGI_STDOUT || ev.type == FCGI_STDERR) &&
                    (ev.data < c + off || ev.data + ev.len > c + off + used))
                    r->zero_copy = false;
                if (used == 0)
                    r->progress = false;
                record_event(r, &ev);
                off += used;
                if (ev.type == FCGI_END_REQUEST && reinit_id)
                    fcgi_dec_init(&d, reinit_id);
                continue;
            }
            if (r->last == FCGI_DEC_NEED_MORE && used != clen - off)
                r->progress = false;
            break;
        }
        free(c);
        pos += clen;
        if (r->last == FCGI_DEC_ERROR) {
            snprintf(r->why, sizeof(r->why), "%s", fcgi_dec_error(&d));
            break;
        }
    }
}

static bool same_buf(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && (a->len == 0 || !memcmp(a->data, b->data, a->len));
}

static bool same_result(const struct result *a, const struct result *b)
{
    return same_buf(&a->out, &b->out) && same_buf(&a->err, &b->err) &&
           same_buf(&a->values, &b->values) && same_buf(&a->trace, &b->trace) &&
           a->ends == b->ends && a->app_status == b->app_status &&
           a->protocol_status == b->protocol_status && a->last == b->last &&
           !strcmp(a->why, b->why) && a->consumed == b->consumed && b->zero_copy && b->progress;
}

static const char *str(const struct buf *b)
{
    return b->data ? b->data : "";
}

/* ---- encoders ---- */

static void test_begin(void)
{
    struct buf b;

    buf_init(&b, 0);
    is_int(fcgi_record_begin(&b, 1, FCGI_RESPONDER, true), 0, "begin keep_conn");
    is_bytes(b.data, b.len, "begin keep_conn bytes", 1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0,
             0);
    buf_reset(&b);
    is_int(fcgi_record_begin(&b, 1, FCGI_RESPONDER, false), 0, "begin close");
    is_bytes(b.data, b.len, "begin close bytes", 1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0);
    buf_reset(&b);
    is_int(fcgi_record_begin(&b, 0x1234, FCGI_AUTHORIZER, true), 0, "begin id 0x1234");
    is_bytes(b.data, b.len, "begin big-endian id and role", 1, 1, 0x12, 0x34, 0, 8, 0, 0, 0, 2, 1,
             0, 0, 0, 0, 0);
    buf_dispose(&b);

    buf_init(&b, 18);
    buf_puts(&b, "abc");
    is_int(fcgi_record_begin(&b, 1, FCGI_RESPONDER, true), -1, "begin over the cap");
    is_mem(b.data, b.len + 1, "abc", 4, "begin over the cap leaves out unchanged");
    buf_dispose(&b);
    buf_init(&b, 19);
    buf_puts(&b, "abc");
    is_int(fcgi_record_begin(&b, 1, FCGI_RESPONDER, true), 0, "begin exactly at the cap");
    is_int(b.len, 19, "begin exactly at the cap: length");
    buf_dispose(&b);
}

static void test_pair(void)
{
    struct buf b;
    char n127[127], v128[128], *big = xmalloc(0x12345);

    memset(n127, 'n', sizeof(n127));
    memset(v128, 'v', sizeof(v128));
    memset(big, 'x', 0x12345);
    buf_init(&b, 0);

    is_int(fcgi_record_pair(&b, "SCRIPT_NAME", 11, "/i.php", 6), 0, "pair short");
    is_mem(b.data, b.len, "\x0b\x06SCRIPT_NAME/i.php", 19, "pair short bytes");

    buf_reset(&b);
    is_int(fcgi_record_pair(&b, "HTTPS", 5, "", 0), 0, "pair empty value");
    is_mem(b.data, b.len, "\x05\x00HTTPS", 7, "pair empty value bytes");

    buf_reset(&b);
    is_int(fcgi_record_pair(&b, n127, 127, v128, 128), 0, "pair 127/128");
    is_mem(b.data, 5, "\x7f\x80\x00\x00\x80", 5,
           "pair 127 takes 1 byte, 128 takes 4 with high bit");
    is_int(b.len, 5 + 127 + 128, "pair 127/128 length");
    ok(!memcmp(b.data + 5, n127, 127) && !memcmp(b.data + 132, v128, 128),
       "pair 127/128 name and value follow the lengths");

    buf_reset(&b);
    is_int(fcgi_record_pair(&b, v128, 128, n127, 127), 0, "pair 128/127");
    is_mem(b.data, 5, "\x80\x00\x00\x80\x7f", 5, "pair 128/127 lengths");

    buf_reset(&b);
    is_int(fcgi_record_pair(&b, "Q", 1, big, 0x12345), 0, "pair 0x12345-byte value");
    is_mem(b.data, 6, "\x01\x80\x01\x23\x45Q", 6, "pair 4-byte length is big-endian");
    is_int(b.len, 6 + 0x12345, "pair 0x12345 length");

    buf_reset(&b);
    buf_puts(&b, "abc");
    is_int(fcgi_record_pair(&b, "x", 0x80000000u, "", 0), -1, "pair name over 31 bits");
    is_int(fcgi_record_pair(&b, "x", 1, "y", 0x80000000u), -1, "pair value over 31 bits");
    is_mem(b.data, b.len + 1, "abc", 4, "pair over 31 bits leaves out unchanged");
    buf_dispose(&b);

    buf_init(&b, 3 + 2 + 11 + 5);
    buf_puts(&b, "abc");
    is_int(fcgi_record_pair(&b, "SCRIPT_NAME", 11, "/i.php", 6), -1, "pair over the cap");
    is_mem(b.data, b.len + 1, "abc", 4, "pair over the cap leaves out unchanged");
    buf_dispose(&b);
    free(big);
}

/* Check one record header at off and that the content is src and the padding is zero. */
static bool record_at(const struct buf *b, size_t off, const uint8_t want_hdr[8],
                      const uint8_t *src, size_t clen, size_t pad)
{
    static const uint8_t zeros[8];

    return off + 8 + clen + pad <= b->len && !memcmp(b->data + off, want_hdr, 8) &&
           !memcmp(b->data + off + 8, src, clen) && !memcmp(b->data + off + 8 + clen, zeros, pad);
}

static void test_stream(void)
{
    struct buf b;
    uint8_t *src = xmalloc(200000);

    for (size_t i = 0; i < 200000; i++)
        src[i] = (uint8_t)(i * 7 + i / 251);
    buf_init(&b, 0);

    is_int(fcgi_record_stream(&b, FCGI_STDIN, 1, NULL, 0), 0, "stream 0");
    is_bytes(b.data, b.len, "stream 0: the empty end record", 1, 5, 0, 1, 0, 0, 0, 0);

    buf_reset(&b);
    is_int(fcgi_record_stream(&b, FCGI_PARAMS, 1, "x", 1), 0, "stream 1");
    is_bytes(b.data, b.len, "stream 1: one record, 7 padding bytes", 1, 4, 0, 1, 0, 1, 7, 0, 'x', 0,
             0, 0, 0, 0, 0, 0);

    buf_reset(&b);
    is_int(fcgi_record_stream(&b, FCGI_DATA, 0x0102, "abcdefgh", 8), 0, "stream 8");
    is_bytes(b.data, b.len, "stream 8: no padding, no end record", 1, 8, 1, 2, 0, 8, 0, 0, 'a', 'b',
             'c', 'd', 'e', 'f', 'g', 'h');

    buf_reset(&b);
    is_int(fcgi_record_stream(&b, FCGI_STDIN, 1, src, 65535), 0, "stream 65535");
    is_int(b.len, 65544, "stream 65535: one record of 8 + 65535 + 1");
    ok(record_at(&b, 0, (const uint8_t[]){1, 5, 0, 1, 0xff, 0xff, 1, 0}, src, 65535, 1),
       "stream 65535: header, content, 1 padding byte");

    buf_reset(&b);
    is_int(fcgi_record_stream(&b, FCGI_STDIN, 1, src, 65536), 0, "stream 65536");
    is_int(b.len, 65544 + 16, "stream 65536: two records");
    ok(record_at(&b, 0, (const uint8_t[]){1, 5, 0, 1, 0xff, 0xff, 1, 0}, src, 65535, 1),
       "stream 65536: first record full");
    ok(record_at(&b, 65544, (const uint8_t[]){1, 5, 0, 1, 0, 1, 7, 0}, src + 65535, 1, 7),
       "stream 65536: second record 1 byte + 7 padding");

    /* 200000 = 3 * 65535 + 3395, and 3395 % 8 = 3 */
    buf_reset(&b);
    is_int(fcgi_record_stream(&b, FCGI_STDIN, 7, src, 200000), 0, "stream 200000");
    is_int(b.len, 3 * 65544 + 8 + 3395 + 5, "stream 200000: length");
    ok(record_at(&b, 0, (const uint8_t[]){1, 5, 0, 7, 0xff, 0xff, 1, 0}, src, 65535, 1) &&
           record_at(&b, 65544, (const uint8_t[]){1, 5, 0, 7, 0xff, 0xff, 1, 0}, src + 65535, 65535,
                     1) &&
           record_at(&b, 131088, (const uint8_t[]){1, 5, 0, 7, 0xff, 0xff, 1, 0}, src + 131070,
                     65535, 1),
       "stream 200000: three full records");
    ok(record_at(&b, 196632, (const uint8_t[]){1, 5, 0, 7, 0x0d, 0x43, 5, 0}, src + 196605, 3395,
                 5),
       "stream 200000: last record 3395 bytes + 5 padding");
    buf_dispose(&b);

    buf_init(&b, 3 + 200039);
    buf_puts(&b, "abc");
    is_int(fcgi_record_stream(&b, FCGI_STDIN, 7, src, 200000), -1, "stream one byte over the cap");
    is_mem(b.data, b.len + 1, "abc", 4, "stream over the cap leaves out unchanged");
    buf_dispose(&b);
    buf_init(&b, 3 + 200040);
    buf_puts(&b, "abc");
    is_int(fcgi_record_stream(&b, FCGI_STDIN, 7, src, 200000), 0, "stream exactly at the cap");
    buf_dispose(&b);
    buf_init(&b, 7);
    is_int(fcgi_record_stream(&b, FCGI_STDIN, 1, NULL, 0), -1, "stream end record over the cap");
    is_int(b.len, 0, "stream end record over the cap: nothing written");
    buf_dispose(&b);
    free(src);
}

static void test_abort_get_values(void)
{
    static const char *const all[] = {FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS};
    struct buf b;
    char **many = xmalloc(300 * sizeof(*many));
    char long_name[300];

    buf_init(&b, 0);
    is_int(fcgi_record_abort(&b, 0x0203), 0, "abort");
    is_bytes(b.data, b.len, "abort bytes", 1, 2, 2, 3, 0, 0, 0, 0);

    buf_reset(&b);
    is_int(fcgi_record_get_values(&b, all, 3), 0, "get_values 3 names");
    is_mem(b.data, b.len,
           "\x01\x09\x00\x00\x00\x30\x00\x00"
           "\016\000FCGI_MAX_CONNS"
           "\015\000FCGI_MAX_REQS"
           "\017\000FCGI_MPXS_CONNS",
           8 + 48, "get_values 3 names: 48-byte body, no padding");

    buf_reset(&b);
    is_int(fcgi_record_get_values(&b, all + 2, 1), 0, "get_values 1 name");
    is_mem(b.data, b.len, "\x01\x09\x00\x00\x00\x11\x07\x00\017\000FCGI_MPXS_CONNS\0\0\0\0\0\0\0",
           8 + 17 + 7, "get_values 1 name: 17 bytes + 7 padding");

    buf_reset(&b);
    is_int(fcgi_record_get_values(&b, NULL, 0), 0, "get_values no names");
    is_bytes(b.data, b.len, "get_values no names: empty record", 1, 9, 0, 0, 0, 0, 0, 0);

    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    buf_reset(&b);
    is_int(fcgi_record_get_values(&b, (const char *const[]){long_name}, 1), 0,
           "get_values long name");
    is_mem(b.data, 13, "\x01\x09\x00\x00\x01\x30\x00\x00\x80\x00\x01\x2b\x00", 13,
           "get_values long name: 4-byte length, 304-byte body");

    /* the 1-/4-byte length boundary in the measured body: 129 + 133 = 262 bytes */
    {
        char n127[128], n128[129];

        memset(n127, 'a', 127);
        n127[127] = '\0';
        memset(n128, 'b', 128);
        n128[128] = '\0';
        buf_reset(&b);
        is_int(fcgi_record_get_values(&b, (const char *const[]){n127, n128}, 2), 0,
               "get_values 127- and 128-byte names");
        is_int(b.len, 8 + 262 + 2, "get_values 127/128: length");
        is_mem(b.data, 10, "\x01\x09\x00\x00\x01\x06\x02\x00\x7f\x00", 10,
               "get_values 127/128: header and first lengths");
        is_mem(b.data + 8 + 129, 5, "\x80\x00\x00\x80\x00", 5,
               "get_values 127/128: second lengths");
    }

    /* 219 names of 299 bytes = 219 * 304 = 66576 > 65535 */
    for (int i = 0; i < 219; i++)
        many[i] = long_name;
    buf_reset(&b);
    buf_puts(&b, "abc");
    is_int(fcgi_record_get_values(&b, (const char *const *)many, 219), -1,
           "get_values body over one record");
    is_mem(b.data, b.len + 1, "abc", 4, "get_values too big leaves out unchanged");
    is_int(fcgi_record_get_values(&b, (const char *const *)many, 215), 0,
           "get_values 65360-byte body fits");
    is_mem(b.data + 3, 8, "\x01\x09\x00\x00\xff\x50\x00\x00", 8, "get_values 65360 header");
    buf_dispose(&b);

    buf_init(&b, 8 + 48 - 1);
    is_int(fcgi_record_get_values(&b, all, 3), -1, "get_values over the cap in the body");
    is_int(b.len, 0, "get_values over the cap in the body: nothing written");
    buf_dispose(&b);
    buf_init(&b, 8 + 17);
    is_int(fcgi_record_get_values(&b, all + 2, 1), -1, "get_values no room for the padding");
    is_int(b.len, 0, "get_values no room for the padding: nothing written");
    buf_dispose(&b);
    buf_init(&b, 7);
    is_int(fcgi_record_get_values(&b, NULL, 0), -1, "get_values no room for the header");
    buf_dispose(&b);
    {
        char *huge = xmalloc(65537);

        memset(huge, 'h', 65536);
        huge[65536] = '\0';
        buf_init(&b, 0);
        is_int(fcgi_record_get_values(&b, (const char *const[]){huge}, 1), -1,
               "get_values 65536-byte name");
        is_int(b.len, 0, "get_values 65536-byte name: nothing written");
        buf_dispose(&b);
        free(huge);
    }
    free(many);
}

/* ---- decoder ---- */

static const char php_head[] = "X-Powered-By: PHP/8.2.36\r\n"
                               "Content-type: text/html; charset=UTF-8\r\n\r\n";
static const char php_body1[] = "<!DOCTYPE html>\n<title>hi</title>\n<p>Hello, world</p>\n";
static const char php_body2[] = "<p>more</p>\n";
static const char php_warn[] = "PHP message: PHP Warning:  Undefined variable $x in "
                               "/srv/www/index.php on line 3";

/* What php-fpm 8.2 writes for a script that warns once and prints a page. */
static void php_reply(struct buf *b)
{
    char *first = xasprintf("%s%s", php_head, php_body1);

    app_stream(b, FCGI_STDERR, 1, php_warn);
    app_stream(b, FCGI_STDOUT, 1, first);
    app_record(b, FCGI_STDOUT, 1, php_body2, strlen(php_body2), 0);
    app_stream(b, FCGI_STDOUT, 1, "");
    app_end(b, 1, 0, FCGI_REQUEST_COMPLETE, 0);
    free(first);
}

static void test_php_reply(void)
{
    struct buf in;
    struct result whole, r;
    char *want_out = xasprintf("%s%s%s", php_head, php_body1, php_body2);
    bool same = true;

    buf_init(&in, 0);
    php_reply(&in);

    decode(&whole, 1, 0, (uint8_t *)in.data, in.len, (size_t[]){in.len}, 1);
    is_int(whole.last, FCGI_DEC_NEED_MORE, "php reply whole: needs more at the end");
    is_str(str(&whole.out), want_out, "php reply whole: STDOUT");
    is_str(str(&whole.err), php_warn, "php reply whole: STDERR");
    is_str(str(&whole.trace), "eoOX", "php reply whole: events");
    is_int(whole.ends, 1, "php reply whole: one END_REQUEST");
    is_int(whole.app_status, 0, "php reply whole: app_status");
    is_int(whole.protocol_status, FCGI_REQUEST_COMPLETE, "php reply whole: protocol_status");
    is_int(whole.consumed, in.len, "php reply whole: all consumed");
    ok(whole.zero_copy && whole.progress, "php reply whole: zero-copy, always progressing");

    decode(&r, 1, 0, (uint8_t *)in.data, in.len, (size_t[]){1}, 1);
    ok(same_result(&whole, &r), "php reply one byte at a time");
    result_dispose(&r);

    for (size_t s = 0; s <= in.len; s++) {
        decode(&r, 1, 0, (uint8_t *)in.data, in.len, (size_t[]){s, in.len}, 2);
        if (!same_result(&whole, &r)) {
            printf("# split at %zu differs\n", s);
            same = false;
        }
        result_dispose(&r);
    }
    ok(same, "php reply split at every point");

    same = true;
    for (size_t a = 0; a <= in.len; a += 3)
        for (size_t c = a; c <= in.len; c += 5) {
            decode(&r, 1, 0, (uint8_t *)in.data, in.len, (size_t[]){a, c - a, in.len}, 3);
            same = same && same_result(&whole, &r);
            result_dispose(&r);
        }
    ok(same, "php reply split at pairs of points");

    same = true;
    for (size_t k = 2; k <= 17; k++) {
        decode(&r, 1, 0, (uint8_t *)in.data, in.len, (size_t[]){k}, 1);
        same = same && same_result(&whole, &r);
        result_dispose(&r);
    }
    ok(same, "php reply in chunks of 2..17 bytes");

    result_dispose(&whole);
    buf_dispose(&in);
    free(want_out);
}

static void test_decoder_events(void)
{
    struct fcgi_dec d;
    struct fcgi_dec_event ev, untouched;
    struct buf in;
    struct result r;
    size_t used;
    const uint8_t *p;
    uint8_t values[FCGI_DEC_VALUES_MAX];

    /* zero-copy: the event points at the content in the caller's bytes */
    buf_init(&in, 0);
    app_record(&in, FCGI_STDOUT, 1, "0123456789abcdefghij", 20, 4);
    fcgi_dec_init(&d, 1);
    p = (const uint8_t *)in.data;
    is_int(fcgi_dec_feed(&d, p, in.len, &used, &ev), FCGI_DEC_EVENT, "stdout event");
    ok(ev.type == FCGI_STDOUT && ev.id == 1 && ev.data == p + 8 && ev.len == 20 &&
           ev.app_status == 0 && ev.protocol_status == 0,
       "stdout event points into the input, padding excluded");
    is_int(used, 28, "stdout event consumed header and content");
    memset(&untouched, 0x5a, sizeof(untouched));
    ev = untouched;
    is_int(fcgi_dec_feed(&d, p + 28, 4, &used, &ev), FCGI_DEC_NEED_MORE, "padding: need more");
    is_int(used, 4, "padding consumed");
    ok(!memcmp(&ev, &untouched, sizeof(ev)), "ev untouched on NEED_MORE");
    is_int(fcgi_dec_feed(&d, NULL, 0, &used, &ev), FCGI_DEC_NEED_MORE, "empty feed");
    is_int(used, 0, "empty feed consumes nothing");
    is_str(fcgi_dec_error(&d), NULL, "no error reason while healthy");

    /* a header split over calls, content over three calls */
    {
        static const uint8_t part1[] = {1, 6, 0, 1, 0}, part2[] = {3, 0, 0, 'a'},
                             part3[] = {'b', 'c', 1, 6};

        is_int(fcgi_dec_feed(&d, part1, sizeof(part1), &used, &ev), FCGI_DEC_NEED_MORE,
               "half header");
        is_int(used, 5, "half header consumed");
        is_int(fcgi_dec_feed(&d, part2, sizeof(part2), &used, &ev), FCGI_DEC_EVENT,
               "rest of header + 1");
        ok(ev.len == 1 && ev.data == part2 + 3 && used == 4, "first content byte");
        is_int(fcgi_dec_feed(&d, part3, sizeof(part3), &used, &ev), FCGI_DEC_EVENT,
               "rest of content");
        ok(ev.len == 2 && ev.data == part3 && used == 2, "content event stops at the record end");
    }
    buf_dispose(&in);

    /* END_REQUEST: app_status byte order, protocol status, emitted after its padding */
    buf_init(&in, 0);
    app_end(&in, 1, 0x01020304, FCGI_OVERLOADED, 8);
    app_record(&in, FCGI_STDOUT, 1, "late", 4, 4);
    fcgi_dec_init(&d, 1);
    p = (const uint8_t *)in.data;
    is_int(fcgi_dec_feed(&d, p, in.len, &used, &ev), FCGI_DEC_EVENT, "end_request event");
    ok(ev.type == FCGI_END_REQUEST && ev.id == 1 && ev.len == 8 && ev.app_status == 0x01020304 &&
           ev.protocol_status == FCGI_OVERLOADED,
       "end_request app_status and protocol_status");
    is_int(used, 24, "end_request consumed with its padding");
    is_int(fcgi_dec_feed(&d, p + 24, in.len - 24, &used, &ev), FCGI_DEC_ERROR,
           "record after END_REQUEST");
    is_str(fcgi_dec_error(&d), "data after END_REQUEST", "record after END_REQUEST: why");
    is_int(used, 1, "record after END_REQUEST: consumed the offending byte");
    is_int(fcgi_dec_feed(&d, p, in.len, &used, &ev), FCGI_DEC_ERROR, "error is sticky");
    is_int(used, 0, "sticky error consumes nothing");
    fcgi_dec_init(&d, 1);
    is_str(fcgi_dec_error(&d), NULL, "init clears the error");
    buf_dispose(&in);

    /* a kept connection: END_REQUEST, re-init, the next request's records */
    buf_init(&in, 0);
    app_stream(&in, FCGI_STDOUT, 1, "one");
    app_stream(&in, FCGI_STDOUT, 1, "");
    app_end(&in, 1, 0, 0, 0);
    app_stream(&in, FCGI_STDOUT, 1, "two");
    app_stream(&in, FCGI_STDOUT, 1, "");
    app_end(&in, 1, 3, 0, 0);
    decode(&r, 1, 1, (uint8_t *)in.data, in.len, (size_t[]){1}, 1);
    ok(r.last == FCGI_DEC_NEED_MORE && !strcmp(str(&r.out), "onetwo") &&
           !strcmp(str(&r.trace), "oOXoOX") && r.app_status == 3,
       "two requests on a kept connection");
    result_dispose(&r);
    buf_dispose(&in);

    /* 255 padding bytes, skipped at any split */
    buf_init(&in, 0);
    app_record(&in, FCGI_STDOUT, 1, "abc", 3, 255);
    app_record(&in, FCGI_STDERR, 1, "", 0, 255);
    app_record(&in, FCGI_STDOUT, 1, "def", 3, 255);
    app_end(&in, 1, 0, 0, 255);
    {
        bool same = true;
        struct result whole;

        decode(&whole, 1, 0, (uint8_t *)in.data, in.len, (size_t[]){in.len}, 1);
        ok(!strcmp(str(&whole.out), "abcdef") && !strcmp(str(&whole.trace), "oEoX") &&
               whole.last == FCGI_DEC_NEED_MORE && whole.consumed == in.len,
           "255-byte padding skipped");
        for (size_t s = 0; s <= in.len; s++) {
            decode(&r, 1, 0, (uint8_t *)in.data, in.len, (size_t[]){s, in.len}, 2);
            same = same && same_result(&whole, &r);
            result_dispose(&r);
        }
        ok(same, "255-byte padding skipped at every split point");
        result_dispose(&whole);
    }
    buf_dispose(&in);

    /* GET_VALUES_RESULT as php-fpm 8.2 sends it, on a management-only decoder */
    buf_init(&in, 0);
    app_record(&in, FCGI_GET_VALUES_RESULT, 0, "\017\001FCGI_MPXS_CONNS0", 18, 6);
    fcgi_dec_init(&d, 0);
    p = (const uint8_t *)in.data;
    is_int(fcgi_dec_feed(&d, p, in.len, &used, &ev), FCGI_DEC_EVENT, "get_values_result event");
    ok(ev.type == FCGI_GET_VALUES_RESULT && ev.id == 0 && used == 32,
       "get_values_result whole record consumed");
    is_mem(ev.data, ev.len, "\017\001FCGI_MPXS_CONNS0", 18, "get_values_result body");
    ok(ev.data < p || ev.data >= p + in.len, "get_values_result is buffered, not in the input");
    buf_dispose(&in);

    /* a 4096-byte GET_VALUES_RESULT one byte at a time, then an empty one, then a request */
    for (size_t i = 0; i < sizeof(values); i++)
        values[i] = (uint8_t)(i * 13);
    buf_init(&in, 0);
    app_record(&in, FCGI_GET_VALUES_RESULT, 0, values, sizeof(values), 3);
    app_record(&in, FCGI_GET_VALUES_RESULT, 0, "", 0, 1);
    app_stream(&in, FCGI_STDOUT, 9, "ok");
    decode(&r, 9, 0, (uint8_t *)in.data, in.len, (size_t[]){1}, 1);
    ok(r.last == FCGI_DEC_NEED_MORE && !strcmp(str(&r.trace), "VVo") &&
           r.values.len == sizeof(values) && !memcmp(r.values.data, values, sizeof(values)) &&
           !strcmp(str(&r.out), "ok"),
       "4096-byte and empty GET_VALUES_RESULT byte by byte, then a request");
    result_dispose(&r);
    buf_dispose(&in);

    /* UNKNOWN_TYPE names the type the application did not understand */
    fcgi_dec_init(&d, 1);
    {
        static const uint8_t unknown[] = {1, 11, 0, 0, 0, 8, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0};

        is_int(fcgi_dec_feed(&d, unknown, sizeof(unknown), &used, &ev), FCGI_DEC_EVENT,
               "unknown_type event");
    }
    ok(ev.type == FCGI_UNKNOWN_TYPE && ev.id == 0 && ev.len == 8 && ev.data[0] == FCGI_GET_VALUES &&
           used == 16,
       "unknown_type carries the type byte");
}

static const struct {
    const char *name;
    uint16_t request_id;
    const uint8_t *in;
    size_t len;
    const char *why;
    size_t consumed;
    const char *trace;
} error_cases[] = {
#define E(name, id, why, consumed, trace, ...)                                                     \
    {                                                                                              \
        name, id, B(__VA_ARGS__), why, consumed, trace                                             \
    }
    E("version 0", 1, "unsupported FastCGI version 0", 8, "", 0, 6, 0, 1, 0, 0, 0, 0),
    E("version 2", 1, "unsupported FastCGI version 2", 8, "", 2, 6, 0, 1, 0, 0, 0, 0),
    E("BEGIN_REQUEST", 1, "unexpected BEGIN_REQUEST record", 8, "", 1, 1, 0, 1, 0, 8, 0, 0),
    E("ABORT_REQUEST", 1, "unexpected ABORT_REQUEST record", 8, "", 1, 2, 0, 1, 0, 0, 0, 0),
    E("PARAMS", 1, "unexpected PARAMS record", 8, "", 1, 4, 0, 1, 0, 0, 0, 0),
    E("STDIN", 1, "unexpected STDIN record", 8, "", 1, 5, 0, 1, 0, 0, 0, 0),
    E("DATA", 1, "unexpected DATA record", 8, "", 1, 8, 0, 1, 0, 0, 0, 0),
    E("GET_VALUES", 1, "unexpected GET_VALUES record", 8, "", 1, 9, 0, 0, 0, 0, 0, 0),
    E("type 0", 1, "unknown record type 0", 8, "", 1, 0, 0, 1, 0, 0, 0, 0),
    E("type 12", 1, "unknown record type 12", 8, "", 1, 12, 0, 1, 0, 0, 0, 0),
    E("type 255", 1, "unknown record type 255", 8, "", 1, 255, 0, 0, 0, 0, 0, 0),
    E("STDOUT other id", 1, "STDOUT record for request 2, expected 1", 8, "", 1, 6, 0, 2, 0, 1, 7,
      0, 'x'),
    E("STDOUT id 0", 1, "STDOUT record with the null request id", 8, "", 1, 6, 0, 0, 0, 1, 7, 0,
      'x'),
    E("STDERR id 0", 1, "STDERR record with the null request id", 8, "", 1, 7, 0, 0, 0, 0, 0, 0),
    E("STDOUT, no request", 0, "STDOUT record for request 1, expected 0", 8, "", 1, 6, 0, 1, 0, 0,
      0, 0),
    E("END_REQUEST other id", 1, "END_REQUEST record for request 257, expected 1", 8, "", 1, 3, 1,
      1, 0, 8, 0, 0),
    E("END_REQUEST len 0", 1, "END_REQUEST body of 0 bytes, expected 8", 8, "", 1, 3, 0, 1, 0, 0, 0,
      0),
    E("END_REQUEST len 7", 1, "END_REQUEST body of 7 bytes, expected 8", 8, "", 1, 3, 0, 1, 0, 7, 1,
      0),
    E("END_REQUEST len 9", 1, "END_REQUEST body of 9 bytes, expected 8", 8, "", 1, 3, 0, 1, 0, 9, 7,
      0),
    E("GET_VALUES_RESULT id 1", 1, "GET_VALUES_RESULT record with request id 1, expected 0", 8, "",
      1, 10, 0, 1, 0, 0, 0, 0),
    E("UNKNOWN_TYPE id 1", 1, "UNKNOWN_TYPE record with request id 1, expected 0", 8, "", 1, 11, 0,
      1, 0, 8, 0, 0),
    E("UNKNOWN_TYPE len 0", 1, "UNKNOWN_TYPE body of 0 bytes, expected 8", 8, "", 1, 11, 0, 0, 0, 0,
      0, 0),
    E("UNKNOWN_TYPE len 16", 1, "UNKNOWN_TYPE body of 16 bytes, expected 8", 8, "", 1, 11, 0, 0, 0,
      16, 0, 0),
    E("GET_VALUES_RESULT 4097", 1, "GET_VALUES_RESULT of 4097 bytes, over 4096", 8, "", 1, 10, 0, 0,
      0x10, 0x01, 0, 0),
    E("GET_VALUES_RESULT 65535", 0, "GET_VALUES_RESULT of 65535 bytes, over 4096", 8, "", 1, 10, 0,
      0, 0xff, 0xff, 0, 0),
    E("bad header after content", 1, "unexpected STDIN record", 24, "o", 1, 6, 0, 1, 0, 3, 5, 0,
      'a', 'b', 'c', 0, 0, 0, 0, 0, 1, 5, 0, 1, 0, 0, 0, 0),
    E("bytes after END_REQUEST", 1, "data after END_REQUEST", 25, "OX", 1, 6, 0, 1, 0, 0, 0, 0, 1,
      3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
#undef E
};

static void test_decoder_errors(void)
{
    for (size_t i = 0; i < ARRAY_LEN(error_cases); i++) {
        struct result whole, bytes;
        char name[128];

        decode(&whole, error_cases[i].request_id, 0, error_cases[i].in, error_cases[i].len,
               (size_t[]){error_cases[i].len}, 1);
        snprintf(name, sizeof(name), "error %s: why", error_cases[i].name);
        is_str(whole.last == FCGI_DEC_ERROR ? whole.why : "(no error)", error_cases[i].why, name);
        snprintf(name, sizeof(name), "error %s: consumed and events", error_cases[i].name);
        ok(whole.consumed == error_cases[i].consumed &&
               !strcmp(str(&whole.trace), error_cases[i].trace),
           name);
        decode(&bytes, error_cases[i].request_id, 0, error_cases[i].in, error_cases[i].len,
               (size_t[]){1}, 1);
        snprintf(name, sizeof(name), "error %s: same one byte at a time", error_cases[i].name);
        ok(same_result(&whole, &bytes), name);
        result_dispose(&whole);
        result_dispose(&bytes);
    }
}

/* ---- name-value pairs ---- */

struct pairs {
    struct buf flat; /* "name=value;" per pair */
    int calls, stop_at;
};

static int on_pair(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct pairs *ps = ctx;

    buf_append(&ps->flat, name, nlen);
    buf_putc(&ps->flat, '=');
    buf_append(&ps->flat, value, vlen);
    buf_putc(&ps->flat, ';');
    return ++ps->calls == ps->stop_at ? 7 : 0;
}

static int parse(struct pairs *ps, const void *p, size_t n, int stop_at)
{
    buf_reset(&ps->flat);
    ps->calls = 0;
    ps->stop_at = stop_at;
    return fcgi_parse_pairs(p, n, on_pair, ps);
}

static void test_parse_pairs(void)
{
    struct pairs ps;
    struct buf b;
    char n127[128], v128[129];
    char *want;

    memset(n127, 'n', 127);
    n127[127] = '\0';
    memset(v128, 'v', 128);
    v128[128] = '\0';
    buf_init(&ps.flat, 0);
    buf_init(&b, 0);

    is_int(parse(&ps, "\017\001FCGI_MPXS_CONNS0", 18, 0), 0, "pairs: php-fpm's reply");
    is_str(str(&ps.flat), "FCGI_MPXS_CONNS=0;", "pairs: php-fpm's reply content");

    fcgi_record_pair(&b, "a", 1, "b", 1);
    fcgi_record_pair(&b, n127, 127, v128, 128);
    fcgi_record_pair(&b, "", 0, "", 0);
    fcgi_record_pair(&b, v128, 128, n127, 127);
    want = xasprintf("a=b;%s=%s;=;%s=%s;", n127, v128, v128, n127);
    is_int(parse(&ps, b.data, b.len, 0), 0, "pairs: round trip of encoded pairs");
    is_str(str(&ps.flat), want, "pairs: round trip content");
    free(want);

    is_int(parse(&ps, NULL, 0, 0), 0, "pairs: empty body");
    is_int(ps.calls, 0, "pairs: empty body, no callback");
    is_int(parse(&ps, "\200\000\000\005\000abcde", 10, 0), 0,
           "pairs: 4-byte form of a short length");
    is_str(str(&ps.flat), "abcde=;", "pairs: 4-byte form content");
    is_int(parse(&ps, "\001\001ab\001\001cd", 8, 1), 7, "pairs: callback stops the walk");
    is_int(ps.calls, 1, "pairs: no callback after the stop");

    is_int(parse(&ps, "\x01", 1, 0), -1, "pairs: value length missing");
    is_int(parse(&ps, "\x80\x00\x00", 3, 0), -1, "pairs: 4-byte name length truncated");
    is_int(parse(&ps, "\x01\x80\x00\x00", 4, 0), -1, "pairs: 4-byte value length truncated");
    is_int(parse(&ps, "\005\000abcd", 6, 0), -1, "pairs: name runs past the end");
    is_int(parse(&ps, "\001\002ab", 4, 0), -1, "pairs: value runs past the end");
    is_int(parse(&ps, "\377\377\377\377\377\377\377\377ab", 10, 0), -1, "pairs: 2 GiB lengths");
    is_int(parse(&ps, "\001\001ab\001", 5, 0), -1, "pairs: truncated second pair");
    is_str(str(&ps.flat), "a=b;", "pairs: pairs before the fault were delivered");

    buf_dispose(&b);
    buf_dispose(&ps.flat);
}

/* ---- random round trip ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t random_len(void)
{
    switch (rng() % 4) {
    case 0:
        return 1 + rng() % 20;
    case 1:
        return 65530 + rng() % 12;
    case 2:
        return 1 + rng() % 150000;
    default:
        return 1 + rng() % 3000;
    }
}

/* Turn the client-side stream types the encoder writes into the application's. */
static bool switch_types(struct buf *b)
{
    size_t off = 0;

    while (off + 8 <= b->len) {
        uint8_t *h = (uint8_t *)b->data + off;

        if (h[1] == FCGI_STDIN)
            h[1] = FCGI_STDOUT;
        else if (h[1] == FCGI_DATA)
            h[1] = FCGI_STDERR;
        else
            return false;
        off += 8 + (size_t)(h[4] << 8 | h[5]) + h[6];
    }
    return off == b->len;
}

static void test_random_round_trip(void)
{
    int bad = 0;

    for (int round = 0; round < 40; round++) {
        uint16_t id = (uint16_t)(1 + rng() % 65535);
        uint32_t app_status = (uint32_t)rng();
        int pieces = 1 + (int)(rng() % 6);
        struct buf in, want_out, want_err;
        struct result r;
        size_t *sizes;
        size_t nsizes = 0;

        buf_init(&in, 0);
        buf_init(&want_out, 0);
        buf_init(&want_err, 0);
        for (int i = 0; i < pieces; i++) {
            bool to_err = rng() % 3 == 0;
            size_t len = random_len();
            uint8_t *data = xmalloc(len);

            for (size_t k = 0; k < len; k++)
                data[k] = (uint8_t)rng();
            fcgi_record_stream(&in, to_err ? FCGI_DATA : FCGI_STDIN, id, data, len);
            buf_append(to_err ? &want_err : &want_out, data, len);
            free(data);
        }
        fcgi_record_stream(&in, FCGI_DATA, id, NULL, 0);
        fcgi_record_stream(&in, FCGI_STDIN, id, NULL, 0);
        if (!switch_types(&in))
            bad++;
        app_end(&in, id, app_status, FCGI_REQUEST_COMPLETE, (uint8_t)(rng() % 8));

        sizes = xmalloc((in.len + 1) * sizeof(*sizes));
        for (size_t left = in.len; left > 0;) {
            size_t s = rng() % 3 ? 1 + rng() % 64 : 1 + rng() % 100000;

            s = s < left ? s : left;
            sizes[nsizes++] = s;
            left -= s;
        }
        if (nsizes == 0)
            sizes[nsizes++] = 0;
        decode(&r, id, 0, (uint8_t *)in.data, in.len, sizes, nsizes);
        if (r.last != FCGI_DEC_NEED_MORE || r.consumed != in.len || r.out.len != want_out.len ||
            memcmp(str(&r.out), str(&want_out), want_out.len) != 0 || r.err.len != want_err.len ||
            memcmp(str(&r.err), str(&want_err), want_err.len) != 0 || r.ends != 1 ||
            r.app_status != app_status || !r.zero_copy || !r.progress || r.trace.len < 3 ||
            memcmp(r.trace.data + r.trace.len - 3, "EOX", 3) != 0) {
            printf("# round %d failed: %s\n", round, r.why);
            bad++;
        }
        result_dispose(&r);
        free(sizes);
        buf_dispose(&in);
        buf_dispose(&want_out);
        buf_dispose(&want_err);
    }
    is_int(bad, 0, "random round trip: 40 streams encoded, retyped, decoded at random splits");
}

int main(void)
{
    test_begin();
    test_pair();
    test_stream();
    test_abort_get_values();
    test_php_reply();
    test_decoder_events();
    test_decoder_errors();
    test_parse_pairs();
    test_random_round_trip();
    return done_testing();
}
