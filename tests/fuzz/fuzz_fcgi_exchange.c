/*
 * libFuzzer target for fcgi_exchange's receiving side. Input: byte 0 = flags (bit 0: HEAD
 * request, bit 1: report EOF at the end), byte 1 = split seed, the rest = what the
 * application sent. The bytes are fed whole, one at a time and in seeded chunks, each chunk
 * in a heap block of its exact size; the status, the reason, the head (status, header count),
 * the body bytes and the STDERR lines must come out the same every time. Body bytes may only
 * come after the head, never for HEAD; STDERR lines are never longer than the line cap and
 * never pass the per-request cap by more than one line.
 * Build: make fuzz (see Makefile.am), then tests/fuzz/fuzz_fcgi_exchange -max_total_time=60.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_exchange.h"
#include "fuzz.h"

struct run {
    struct buf body;
    struct buf lines; /* each line, then a NUL */
    size_t line_bytes;
    bool head_seen; /* head_now was set before the body came */
    bool is_head;
    enum fcgi_exchange_status st;
    char why[128];
    unsigned status;
    size_t n_headers;
};

static void on_body(void *ctx, const uint8_t *data, size_t len)
{
    struct run *r = ctx;
    CHECK(len > 0 && r->head_seen && !r->is_head);
    CHECK(buf_append(&r->body, data, len) == 0);
}

static void on_line(void *ctx, const char *line)
{
    struct run *r = ctx;
    size_t n = strlen(line);
    CHECK(n <= FCGI_EXCHANGE_STDERR_LINE_MAX); /* n may be 0: a line of NULs */
    CHECK(r->line_bytes < FCGI_EXCHANGE_STDERR_LOG_MAX);
    r->line_bytes += n + 1;
    CHECK(buf_append(&r->lines, line, n + 1) == 0);
}

static const struct fcgi_exchange_sink sink = {.body = on_body, .stderr_line = on_line};

/* mode 0: whole; 1: one byte at a time; 2: chunks from the seed */
static void run(struct run *r, const uint8_t *data, size_t n, uint8_t flags, uint8_t seed, int mode)
{
    static uint8_t scratch[FCGI_EXCHANGE_STDIN_CHUNK];
    struct fcgi_exchange x;
    struct cgi_head_parser head;
    memset(r, 0, sizeof *r);
    buf_init(&r->body, 0);
    buf_init(&r->lines, 0);
    r->is_head = flags & 1;
    cgi_head_init(&head);
    fcgi_exchange_init(&x, scratch);
    struct fcgi_exchange_input in = {
        .params = "",
        .body_fd = -1,
        .is_head = r->is_head,
        .head = &head,
        .sink = &sink,
        .ctx = r,
    };
    fcgi_exchange_start(&x, &in);
    uint32_t rnd = seed * 2654435761u + 1;
    size_t off = 0;
    r->st = FCGI_EXCHANGE_MORE;
    while (off < n) {
        size_t k = n - off;
        if (mode == 1) {
            k = 1;
        } else if (mode == 2) {
            rnd = rnd * 1103515245u + 12345u;
            k = 1 + (rnd >> 16) % (k < 97 ? k : 97);
        }
        uint8_t *piece = malloc(k);
        memcpy(piece, data + off, k);
        r->st = fcgi_exchange_recv(&x, piece, k, &r->head_seen);
        free(piece);
        off += k;
    }
    if (flags & 2)
        r->st = fcgi_exchange_eof(&x);
    CHECK((r->st == FCGI_EXCHANGE_MORE || r->st == FCGI_EXCHANGE_END) ==
          (fcgi_exchange_error(&x) == NULL));
    if (fcgi_exchange_error(&x))
        strncpy(r->why, fcgi_exchange_error(&x), sizeof r->why - 1);
    fcgi_exchange_finish(&x);
    if (r->head_seen) {
        r->status = head.head.status;
        r->n_headers = head.head.n_headers;
    }
    fcgi_exchange_dispose(&x);
    cgi_head_dispose(&head);
}

static bool same(const struct run *a, const struct run *b)
{
    return a->st == b->st && strcmp(a->why, b->why) == 0 && a->head_seen == b->head_seen &&
           a->status == b->status && a->n_headers == b->n_headers && a->body.len == b->body.len &&
           memcmp(a->body.data, b->body.data, a->body.len) == 0 && a->lines.len == b->lines.len &&
           memcmp(a->lines.data, b->lines.data, a->lines.len) == 0;
}

static void dispose(struct run *r)
{
    buf_dispose(&r->body);
    buf_dispose(&r->lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct run a, b, c;
    run(&a, data + 2, size - 2, data[0], data[1], 0);
    run(&b, data + 2, size - 2, data[0], data[1], 1);
    run(&c, data + 2, size - 2, data[0], data[1], 2);
    CHECK(same(&a, &b));
    CHECK(same(&a, &c));
    dispose(&a);
    dispose(&b);
    dispose(&c);
    return 0;
}
