/*
 * test_fcgi_exchange: one FastCGI exchange byte for byte, without php-fpm. What is written
 * (BEGIN_REQUEST + PARAMS + STDIN pieces, from memory and from a file) is compared with
 * records built here by hand; what is read is fed split at every byte boundary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi_exchange.h"
#include "tap.h"

/* ---- records built by hand (not with fcgi_record: the exchange's output is checked) ---- */

static uint8_t rid = 1; /* the request id the records carry: the exchange's current one */

static void rec(struct buf *b, uint8_t type, const void *data, size_t len)
{
    uint8_t pad = (uint8_t)((8 - len % 8) % 8);
    uint8_t h[8] = {1, type, 0, rid, (uint8_t)(len >> 8), (uint8_t)(len & 0xff), pad, 0};
    buf_append(b, h, 8);
    if (len)
        buf_append(b, data, len);
    static const uint8_t zero[8];
    buf_append(b, zero, pad);
}

static void rec_end(struct buf *b, uint8_t protocol_status)
{
    uint8_t body[8] = {0, 0, 0, 0, protocol_status, 0, 0, 0};
    rec(b, FCGI_END_REQUEST, body, 8);
}

/* BEGIN_REQUEST (responder, keep-conn) + PARAMS "A"="b" + the empty PARAMS */
static const uint8_t head_records[] = {
    1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1,   0,   0, 0, 0, 0,                         /* BEGIN_REQUEST */
    1, 4, 0, 1, 0, 4, 4, 0, 1, 1, 'A', 'b', 0, 0, 0, 0, 1, 4, 0, 1, 0, 0, 0, 0, /* PARAMS */
};
static const uint8_t params[] = {1, 1, 'A', 'b'};
static const uint8_t empty_stdin[] = {1, 5, 0, 1, 0, 0, 0, 0};

/* ---- a sink that keeps everything ---- */

struct got {
    struct buf body;
    char lines[700][FCGI_EXCHANGE_STDERR_LINE_MAX + 1];
    size_t line_len[700]; /* as passed (lines[] may cut a longer one) */
    size_t n_lines;
    size_t line_bytes;
};

static void on_body(void *ctx, const uint8_t *data, size_t len)
{
    struct got *g = ctx;
    buf_append(&g->body, data, len);
}

static void on_line(void *ctx, const char *line)
{
    struct got *g = ctx;
    g->line_bytes += strlen(line);
    if (g->n_lines < 700) {
        snprintf(g->lines[g->n_lines], sizeof g->lines[0], "%s", line);
        g->line_len[g->n_lines] = strlen(line);
    }
    g->n_lines++;
}

static const struct fcgi_exchange_sink sink = {.body = on_body, .stderr_line = on_line};
static uint8_t scratch[FCGI_EXCHANGE_STDIN_CHUNK];
static struct got G;
static struct cgi_head_parser H;

static void begin(struct fcgi_exchange *x, const void *body, int fd, uint64_t body_len,
                  bool is_head)
{
    buf_dispose(&G.body);
    buf_init(&G.body, 0);
    G.n_lines = G.line_bytes = 0;
    cgi_head_dispose(&H);
    cgi_head_init(&H);
    struct fcgi_exchange_input in = {
        .params = params,
        .params_len = sizeof params,
        .body_mem = body,
        .body_fd = fd,
        .body_len = body_len,
        .is_head = is_head,
        .head = &H,
        .sink = &sink,
        .ctx = &G,
    };
    fcgi_exchange_start(x, &in);
    rid = (uint8_t)fcgi_exchange_request_id(x);
}

/* The exchange of a new connection (its next request has id 1). */
static void restart(struct fcgi_exchange *x)
{
    fcgi_exchange_dispose(x);
    fcgi_exchange_init(x, scratch);
}

/* Write everything, at most step bytes per write; the offered piece lengths go to lens. */
static int drain(struct fcgi_exchange *x, struct buf *out, size_t step, size_t *lens, size_t *n)
{
    *n = 0;
    for (;;) {
        const uint8_t *data;
        size_t len;
        if (fcgi_exchange_to_send(x, &data, &len) != 0)
            return -1;
        if (!len)
            return 0;
        if (lens && *n < 16)
            lens[*n] = len;
        (*n)++;
        size_t k = len < step ? len : step;
        buf_append(out, data, k);
        fcgi_exchange_sent(x, k);
    }
}

/* ---- sending ---------------------------------------------------------------------------- */

static void test_get(void)
{
    struct buf pairs;
    buf_init(&pairs, 6);
    is_int(fcgi_exchange_param(&pairs, "A", 1, "b", 1), 0, "a param is collected");
    is_mem(pairs.data, pairs.len, params, sizeof params, "a param is a FastCGI name-value pair");
    is_int(fcgi_exchange_param(&pairs, "A", 1, "b", 1), -1, "past the ceiling: -1");
    buf_dispose(&pairs);

    struct fcgi_exchange x;
    fcgi_exchange_init(&x, scratch);
    begin(&x, NULL, -1, 0, false);
    struct buf out, want;
    buf_init(&out, 0);
    buf_init(&want, 0);
    size_t lens[16], n;
    is_int(drain(&x, &out, SIZE_MAX, lens, &n), 0, "GET: all written");
    buf_append(&want, head_records, sizeof head_records);
    buf_append(&want, empty_stdin, sizeof empty_stdin);
    is_mem(out.data, out.len, want.data, want.len,
           "GET: BEGIN_REQUEST + PARAMS + empty PARAMS + empty STDIN, byte for byte");
    is_int(n, 1, "GET: offered as one write");

    /* the same connection, the next request: the same bytes again, under the next id */
    fcgi_exchange_finish(&x);
    begin(&x, NULL, -1, 0, false);
    is_int(fcgi_exchange_request_id(&x), 2, "kept connection, second request: request id 2");
    buf_reset(&out);
    drain(&x, &out, 3, NULL, &n);
    const uint8_t *w = (const uint8_t *)want.data;
    for (size_t at = 0; at < want.len; at += 8 + (size_t)(w[at + 4] << 8 | w[at + 5]) + w[at + 6])
        want.data[at + 3] = 2; /* requestIdB0 of each record */
    is_mem(out.data, out.len, want.data, want.len,
           "kept connection, second request, written 3 bytes at a time: same bytes, id 2");
    buf_dispose(&out);
    buf_dispose(&want);
    fcgi_exchange_finish(&x);
    fcgi_exchange_dispose(&x);

    /* ids wrap from 65535 to 1 (0 is the null request id) */
    fcgi_exchange_init(&x, scratch);
    unsigned wrong = 0;
    for (unsigned i = 1; i <= 65536; i++) {
        begin(&x, NULL, -1, 0, false);
        wrong += fcgi_exchange_request_id(&x) != (i <= 65535 ? i : 1);
        fcgi_exchange_finish(&x);
    }
    is_int(wrong, 0, "request ids 1..65535 on one connection, then 1 again");
    fcgi_exchange_dispose(&x);
}

static void body_case(const char *name, size_t body_len, bool from_file, size_t step,
                      const size_t *want_lens, size_t want_n)
{
    uint8_t *body = malloc(body_len + 1);
    for (size_t i = 0; i < body_len; i++)
        body[i] = (uint8_t)(i * 7 + 3);
    int fd = -1;
    if (from_file) {
        FILE *f = tmpfile();
        fwrite(body, 1, body_len, f);
        fflush(f);
        fd = dup(fileno(f));
        fclose(f);
    }
    struct fcgi_exchange x;
    fcgi_exchange_init(&x, scratch);
    begin(&x, from_file ? NULL : body, fd, body_len, false);
    struct buf out, want;
    buf_init(&out, 0);
    buf_init(&want, 0);
    buf_append(&want, head_records, sizeof head_records);
    for (size_t off = 0; off < body_len; off += FCGI_EXCHANGE_STDIN_CHUNK) {
        size_t k =
            body_len - off < FCGI_EXCHANGE_STDIN_CHUNK ? body_len - off : FCGI_EXCHANGE_STDIN_CHUNK;
        rec(&want, FCGI_STDIN, body + off, k);
    }
    buf_append(&want, empty_stdin, sizeof empty_stdin);
    size_t lens[16], n;
    char what[160];
    snprintf(what, sizeof what, "%s: written completely", name);
    is_int(drain(&x, &out, step, lens, &n), 0, what);
    snprintf(what, sizeof what, "%s: head records, STDIN pieces, empty STDIN, byte for byte", name);
    is_mem(out.data, out.len, want.data, want.len, what);
    if (want_lens && step == SIZE_MAX) {
        snprintf(what, sizeof what, "%s: one record batch offered at a time", name);
        is_mem(lens, n * sizeof *lens, want_lens, want_n * sizeof *lens, what);
    }
    fcgi_exchange_finish(&x);
    fcgi_exchange_dispose(&x);
    buf_dispose(&out);
    buf_dispose(&want);
    if (fd >= 0)
        close(fd);
    free(body);
}

static void test_bodies(void)
{
    static const size_t small[] = {sizeof head_records, 8 + 5 + 3, 8};
    static const size_t large[] = {sizeof head_records, 8 + 32768, 8 + 32768, 8 + 100 + 4, 8};
    size_t big = 2 * FCGI_EXCHANGE_STDIN_CHUNK + 100;
    body_case("5-byte body in memory", 5, false, SIZE_MAX, small, 3);
    body_case("5-byte body in a file", 5, true, SIZE_MAX, small, 3);
    body_case("2 chunks + 100 bytes in memory", big, false, SIZE_MAX, large, 5);
    body_case("2 chunks + 100 bytes in a file", big, true, SIZE_MAX, large, 5);
    body_case("2 chunks + 100 bytes in a file, written 1000 bytes at a time", big, true, 1000, NULL,
              0);
    body_case("exactly one chunk in memory, written 7 bytes at a time", FCGI_EXCHANGE_STDIN_CHUNK,
              false, 7, NULL, 0);

    /* a body file shorter than the body it should hold */
    FILE *f = tmpfile();
    fwrite("0123456789", 1, 10, f);
    fflush(f);
    struct fcgi_exchange x;
    fcgi_exchange_init(&x, scratch);
    begin(&x, NULL, fileno(f), 100, false);
    struct buf out;
    buf_init(&out, 0);
    size_t n;
    is_int(drain(&x, &out, SIZE_MAX, NULL, &n), -1, "body file shorter than body_len: -1");
    fcgi_exchange_finish(&x);
    fcgi_exchange_dispose(&x);
    buf_dispose(&out);
    fclose(f);
}

/* ---- receiving --------------------------------------------------------------------------- */

struct outcome {
    enum fcgi_exchange_status st;
    bool head_now;
    bool body_before_head; /* body bytes reached the sink before head_now was set */
};

/* Feed r in two pieces cut at k (k == SIZE_MAX: one byte at a time). */
static struct outcome feed(struct fcgi_exchange *x, const struct buf *r, size_t k)
{
    struct outcome o = {FCGI_EXCHANGE_MORE, false, false};
    size_t cuts[2] = {k, r->len};
    size_t from = 0;
    for (size_t i = 0; from < r->len;) {
        size_t to = k == SIZE_MAX ? from + 1 : cuts[i++];
        o.st = fcgi_exchange_recv(x, (const uint8_t *)r->data + from, to - from, &o.head_now);
        if (!o.head_now && G.body.len)
            o.body_before_head = true;
        from = to;
    }
    return o;
}

static void response(struct buf *r)
{
    buf_init(r, 0);
    const char *a = "Status: 201 Created\r\nX-A: 1\r\n\r\nhello ";
    rec(r, FCGI_STDOUT, a, strlen(a));
    rec(r, FCGI_STDERR, "warn one\npart", 13);
    rec(r, FCGI_STDOUT, "world", 5);
    rec(r, FCGI_STDERR, "ial\n", 4);
    rec(r, FCGI_STDOUT, NULL, 0);
    rec(r, FCGI_STDERR, NULL, 0);
    rec_end(r, FCGI_REQUEST_COMPLETE);
}

static bool same_result(const struct outcome *o)
{
    return o->st == FCGI_EXCHANGE_END && o->head_now && !o->body_before_head &&
           H.head.status == 201 && H.head.n_headers == 1 &&
           strcmp(H.head.headers[0].name, "X-A") == 0 && G.body.len == 11 &&
           memcmp(G.body.data, "hello world", 11) == 0 && G.n_lines == 2 &&
           strcmp(G.lines[0], "warn one") == 0 && strcmp(G.lines[1], "partial") == 0;
}

static void test_splits(void)
{
    struct buf r;
    response(&r);
    struct fcgi_exchange x;
    fcgi_exchange_init(&x, scratch);
    size_t bad = 0, first_bad = 0;
    for (size_t k = 0; k <= r.len; k++) {
        restart(&x); /* a fresh connection: id 1, as response() made it */
        begin(&x, NULL, -1, 0, false);
        struct outcome o = feed(&x, &r, k);
        if (!same_result(&o) && bad++ == 0)
            first_bad = k;
        fcgi_exchange_finish(&x);
    }
    if (!ok(bad == 0, "response split at every byte boundary: same head, body, stderr, END"))
        printf("#   %zu of %zu splits differ, first at %zu\n", bad, r.len + 1, first_bad);
    restart(&x); /* a fresh connection: id 1, as response() made it */
    begin(&x, NULL, -1, 0, false);
    struct outcome o = feed(&x, &r, SIZE_MAX);
    ok(same_result(&o), "response fed one byte at a time: same head, body, stderr, END");
    is_int(fcgi_exchange_recv(&x, (const uint8_t *)"x", 1, &o.head_now), FCGI_EXCHANGE_END,
           "bytes after END_REQUEST: still END (sticky)");
    is_int(G.body.len, 11, "bytes after END_REQUEST: not passed on");
    ok(fcgi_exchange_trailing(&x), "bytes after END_REQUEST: noted (the connection is not reused)");
    fcgi_exchange_finish(&x);

    /* the whole response and more in one read */
    restart(&x); /* a fresh connection: id 1, as response() made it */
    begin(&x, NULL, -1, 0, false);
    struct buf more;
    buf_init(&more, 0);
    buf_append(&more, r.data, r.len);
    ok(!fcgi_exchange_trailing(&x), "a new request: nothing trailing yet");
    rec(&more, FCGI_STDOUT, "late", 4);
    o = feed(&x, &more, more.len);
    ok(o.st == FCGI_EXCHANGE_END && fcgi_exchange_trailing(&x),
       "a record after END_REQUEST in the same read: END, noted as trailing");
    fcgi_exchange_finish(&x);
    /* the late record read as the next request's answer: another request's, refused */
    uint8_t late_id = rid;
    begin(&x, NULL, -1, 0, false);
    ok(rid == (uint8_t)(late_id + 1), "the next request on the connection takes the next id");
    buf_reset(&more);
    uint8_t stale[8] = {1, FCGI_STDOUT, 0, late_id, 0, 4, 4, 0};
    buf_append(&more, stale, 8);
    buf_append(&more, "late\0\0\0\0", 8);
    is_int(fcgi_exchange_recv(&x, (const uint8_t *)more.data, more.len, &o.head_now),
           FCGI_EXCHANGE_BROKEN, "a late record of the previous request: broken, not this answer");
    is_int(G.body.len, 0, "a late record of the previous request: nothing passed on");
    fcgi_exchange_finish(&x);
    buf_dispose(&more);

    /* HEAD: the same stream, no body bytes */
    restart(&x); /* a fresh connection: id 1, as response() made it */
    begin(&x, NULL, -1, 0, true);
    o = feed(&x, &r, r.len / 2);
    is_int(o.st, FCGI_EXCHANGE_END, "HEAD: END");
    ok(o.head_now && H.head.status == 201, "HEAD: head parsed");
    is_int(G.body.len, 0, "HEAD: no body bytes passed on");
    fcgi_exchange_finish(&x);
    fcgi_exchange_dispose(&x);
    buf_dispose(&r);
}

static void test_stderr(void)
{
    struct fcgi_exchange x;
    fcgi_exchange_init(&x, scratch);
    begin(&x, NULL, -1, 0, false);
    /* 1000 lines of 100 bytes (newline included) in records of 4000 bytes */
    struct buf r, lines;
    buf_init(&r, 0);
    buf_init(&lines, 0);
    for (int i = 0; i < 1000; i++)
        buf_printf(&lines, "%03d%096d\n", i % 1000, 0);
    for (size_t off = 0; off < lines.len; off += 4000)
        rec(&r, FCGI_STDERR, lines.data + off, lines.len - off < 4000 ? lines.len - off : 4000);
    bool head_now = false;
    is_int(fcgi_exchange_recv(&x, (const uint8_t *)r.data, r.len, &head_now), FCGI_EXCHANGE_MORE,
           "100 KB of STDERR: the exchange goes on");
    /* a line is passed while fewer than 64 KiB were passed or skipped before it */
    is_int(G.n_lines, (FCGI_EXCHANGE_STDERR_LOG_MAX + 99) / 100,
           "STDERR capped: lines stop after 64 KiB");
    char want[100];
    memcpy(want, lines.data, 99);
    want[99] = '\0';
    is_str(G.lines[0], want, "the first STDERR line is passed whole, without its newline");
    memcpy(want, lines.data + 655 * 100, 99);
    is_str(G.lines[655], want, "the last line passed is the one that began below the cap");
    fcgi_exchange_finish(&x);

    begin(&x, NULL, -1, 0, false);
    buf_reset(&r);
    char *longline = malloc(5000);
    memset(longline, 'L', 5000);
    rec(&r, FCGI_STDERR, longline, 5000);
    rec(&r, FCGI_STDERR, "\n\n\nlast words", 13);
    fcgi_exchange_recv(&x, (const uint8_t *)r.data, r.len, &head_now);
    is_int(G.n_lines, 1, "a 5000-byte line is one line; empty lines are not passed");
    is_int(G.line_len[0], FCGI_EXCHANGE_STDERR_LINE_MAX, "a long line is cut at 2000 bytes");
    fcgi_exchange_finish(&x);
    is_int(G.n_lines, 2, "finish passes the last line that had no newline");
    is_str(G.lines[1], "last words", "the last line, as sent");
    fcgi_exchange_dispose(&x);
    free(longline);
    buf_dispose(&r);
    buf_dispose(&lines);
}

static enum fcgi_exchange_status run(const struct buf *r, const char **why)
{
    struct fcgi_exchange x;
    fcgi_exchange_init(&x, scratch);
    begin(&x, NULL, -1, 0, false);
    bool head_now = false;
    enum fcgi_exchange_status st =
        fcgi_exchange_recv(&x, (const uint8_t *)r->data, r->len, &head_now);
    if (st == FCGI_EXCHANGE_MORE)
        st = fcgi_exchange_eof(&x);
    static char saved[128];
    snprintf(saved, sizeof saved, "%s", fcgi_exchange_error(&x) ? fcgi_exchange_error(&x) : "");
    *why = saved;
    fcgi_exchange_finish(&x);
    fcgi_exchange_dispose(&x);
    return st;
}

static void test_endings(void)
{
    struct buf r;
    const char *why;
    const char *head = "Content-Type: text/html\r\n\r\nbody";
    buf_init(&r, 0);
    rid = 1; /* run() answers the first request of a fresh connection */

    rec_end(&r, FCGI_OVERLOADED);
    is_int(run(&r, &why), FCGI_EXCHANGE_OVERLOADED, "END_REQUEST FCGI_OVERLOADED: overloaded");
    is_str(why, "upstream overloaded", "overloaded: the reason");

    buf_reset(&r);
    rec(&r, FCGI_STDOUT, head, strlen(head));
    rec_end(&r, FCGI_UNKNOWN_ROLE);
    is_int(run(&r, &why), FCGI_EXCHANGE_BROKEN, "END_REQUEST FCGI_UNKNOWN_ROLE: broken");
    is_str(why, "upstream refused the request", "unknown role: the reason");

    buf_reset(&r);
    rec(&r, FCGI_STDOUT, "X-A: 1\r\n", 8);
    rec_end(&r, FCGI_REQUEST_COMPLETE);
    is_int(run(&r, &why), FCGI_EXCHANGE_BROKEN, "END_REQUEST before the head is complete: broken");
    is_str(why, "response ended before its header was complete", "early END: the reason");

    buf_reset(&r);
    rec(&r, FCGI_STDOUT, head, strlen(head));
    is_int(run(&r, &why), FCGI_EXCHANGE_BROKEN, "connection closed after a body, no END: broken");
    is_str(why, "upstream closed the connection", "truncated: the reason");
    ok(G.body.len == 4, "truncated: the body bytes that came were passed on");

    buf_reset(&r);
    rec(&r, FCGI_STDOUT, head, strlen(head));
    r.len -= 5; /* cut inside the record */
    is_int(run(&r, &why), FCGI_EXCHANGE_BROKEN, "connection closed inside a record: broken");

    buf_reset(&r);
    struct buf big;
    buf_init(&big, 0);
    while (big.len <= CGI_RESPONSE_MAX_HEAD)
        buf_puts(&big, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    rec(&r, FCGI_STDOUT, big.data, 60000);
    rec(&r, FCGI_STDOUT, big.data + 60000, big.len - 60000);
    is_int(run(&r, &why), FCGI_EXCHANGE_BROKEN, "a head over 64 KiB: broken");
    ok(strstr(why, "closed") == NULL, "a head over 64 KiB: broken at once, not at the EOF");
    is_int(G.body.len, 0, "a head over 64 KiB: no body passed on");
    buf_dispose(&big);

    buf_reset(&r);
    uint8_t bad[8] = {2, FCGI_STDOUT, 0, 1, 0, 0, 0, 0};
    buf_append(&r, bad, 8);
    is_int(run(&r, &why), FCGI_EXCHANGE_BROKEN, "a record of FastCGI version 2: broken");
    ok(why[0] != '\0', "a bad record: the decoder's reason is given");
    buf_dispose(&r);
}

int main(void)
{
    buf_init(&G.body, 0);
    cgi_head_init(&H);
    test_get();
    test_bodies();
    test_splits();
    test_stderr();
    test_endings();
    cgi_head_dispose(&H);
    buf_dispose(&G.body);
    return done_testing();
}
