/*
 * libFuzzer target for fcgi_record. Input: byte 0 = flags (bit 0: re-init after END_REQUEST,
 * as a kept connection does), bytes 1-2 = the expected request id, byte 3 = split seed, the
 * rest = what the application sent. The stream is decoded whole, one byte at a time and in
 * seeded random chunks, each chunk in a heap block of its exact size; the event logs (stream
 * data runs merged), final status, reason and bytes consumed must be identical, and every
 * event must point inside the bytes it consumed or inside the decoder. The rest is also
 * parsed as name-value pairs (re-encoded pairs must parse the same) and encoded as a STDIN
 * stream, retyped to STDOUT, which must decode back to itself.
 * Build: clang -g -fsanitize=fuzzer,address,undefined -Iinclude src/util.c src/buf.c
 *        src/fcgi_record.c tests/fuzz/fuzz_fcgi_record.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fcgi_record.h"
#include "fuzz.h"

struct run {
    struct buf log;     /* entries: type, id(2), app_status(4), protocol_status, len(4), data */
    size_t last_len_at; /* offset of the last entry's len field, for merging stream data */
    int last_type;      /* type of the last entry if it was mergeable stream data, else -1 */
    enum fcgi_dec_status last;
    char why[sizeof(((struct fcgi_dec *)0)->why)];
    size_t consumed;
};

static void put32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {v >> 24, v >> 16, v >> 8, v};

    CHECK(buf_append(b, x, 4) == 0);
}

static void log_event(struct run *r, const struct fcgi_dec_event *ev)
{
    bool stream = (ev->type == FCGI_STDOUT || ev->type == FCGI_STDERR) && ev->len > 0;

    if (stream && r->last_type == ev->type) {
        uint8_t *p = (uint8_t *)r->log.data + r->last_len_at;
        uint32_t len = (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];

        len += (uint32_t)ev->len;
        p[0] = len >> 24, p[1] = len >> 16, p[2] = len >> 8, p[3] = (uint8_t)len;
        CHECK(buf_append(&r->log, ev->data, ev->len) == 0);
        return;
    }
    CHECK(buf_putc(&r->log, (char)ev->type) == 0);
    CHECK(buf_putc(&r->log, (char)(ev->id >> 8)) == 0 && buf_putc(&r->log, (char)ev->id) == 0);
    put32(&r->log, ev->app_status);
    CHECK(buf_putc(&r->log, (char)ev->protocol_status) == 0);
    r->last_len_at = r->log.len;
    put32(&r->log, (uint32_t)ev->len);
    CHECK(buf_append(&r->log, ev->data, ev->len) == 0);
    r->last_type = stream ? ev->type : -1;
}

static int on_pair_count(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    (*(size_t *)ctx)++;
    return 0;
}

/* What any event may say, given the bytes p[0..used) it consumed and the decoder d. */
static void check_event(const struct fcgi_dec *d, uint16_t id, const struct fcgi_dec_event *ev,
                        const uint8_t *p, size_t used)
{
    const uint8_t *lo = (const uint8_t *)d, *hi = lo + sizeof(*d);
    size_t pairs = 0;

    switch (ev->type) {
    case FCGI_STDOUT:
    case FCGI_STDERR:
        CHECK(ev->id == id && id != 0);
        CHECK(ev->len <= FCGI_MAX_LENGTH && ev->len <= used);
        CHECK(ev->data >= p && ev->data + ev->len <= p + used);
        CHECK(ev->app_status == 0 && ev->protocol_status == 0);
        break;
    case FCGI_END_REQUEST:
        CHECK(ev->id == id && id != 0);
        CHECK(ev->len == 8 && ev->data >= lo && ev->data + 8 <= hi);
        CHECK(ev->app_status == ((uint32_t)ev->data[0] << 24 | (uint32_t)ev->data[1] << 16 |
                                 (uint32_t)ev->data[2] << 8 | ev->data[3]));
        CHECK(ev->protocol_status == ev->data[4]);
        break;
    case FCGI_UNKNOWN_TYPE:
        CHECK(ev->id == 0 && ev->len == 8 && ev->data >= lo && ev->data + 8 <= hi);
        break;
    case FCGI_GET_VALUES_RESULT:
        CHECK(ev->id == 0 && ev->len <= FCGI_DEC_VALUES_MAX);
        CHECK(ev->data >= lo && ev->data + ev->len <= hi);
        (void)fcgi_parse_pairs(ev->data, ev->len, on_pair_count, &pairs);
        break;
    default:
        CHECK(0);
    }
}

static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* mode 0: whole; 1: one byte at a time; 2: random chunks from seed. */
static void decode(struct run *r, int mode, uint32_t seed, bool reinit, uint16_t id,
                   const uint8_t *in, size_t n)
{
    struct fcgi_dec d;
    size_t pos = 0;

    memset(r, 0, sizeof(*r));
    buf_init(&r->log, 0);
    r->last_type = -1;
    r->last = FCGI_DEC_NEED_MORE;
    fcgi_dec_init(&d, id);
    CHECK(fcgi_dec_error(&d) == NULL);
    while (pos < n && r->last != FCGI_DEC_ERROR) {
        size_t clen = mode == 0 ? n : mode == 1 ? 1 : 1 + next_rand(&seed) % 97;
        size_t off = 0;
        uint8_t *c;

        if (mode == 2 && next_rand(&seed) % 8 == 0)
            clen = next_rand(&seed) % 5000; /* sometimes big, sometimes empty */
        clen = clen < n - pos ? clen : n - pos;
        c = malloc(clen ? clen : 1);
        CHECK(c);
        memcpy(c, in + pos, clen);
        for (;;) {
            struct fcgi_dec_event ev;
            size_t used = (size_t)-1;

            r->last = fcgi_dec_feed(&d, c + off, clen - off, &used, &ev);
            CHECK(used <= clen - off);
            r->consumed += used;
            if (r->last == FCGI_DEC_EVENT) {
                CHECK(used > 0);
                check_event(&d, id, &ev, c + off, used);
                log_event(r, &ev);
                off += used;
                if (ev.type == FCGI_END_REQUEST && reinit)
                    fcgi_dec_init(&d, id);
                continue;
            }
            if (r->last == FCGI_DEC_NEED_MORE) {
                CHECK(used == clen - off && fcgi_dec_error(&d) == NULL);
            } else {
                const char *why = fcgi_dec_error(&d);
                struct fcgi_dec_event ev2;
                size_t used2 = 1;

                CHECK(why && why[0] && strlen(why) < sizeof(r->why));
                strcpy(r->why, why);
                CHECK(fcgi_dec_feed(&d, c, clen, &used2, &ev2) == FCGI_DEC_ERROR && used2 == 0);
            }
            break;
        }
        free(c);
        pos += clen;
    }
}

static void check_same(const struct run *a, const struct run *b)
{
    CHECK(a->log.len == b->log.len);
    CHECK(a->log.len == 0 || memcmp(a->log.data, b->log.data, a->log.len) == 0);
    CHECK(a->last == b->last && a->consumed == b->consumed && strcmp(a->why, b->why) == 0);
}

static int on_pair_encode(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    CHECK(fcgi_record_pair(ctx, name, nlen, value, vlen) == 0);
    return 0;
}

/* Pairs that parse re-encode (lengths in their shortest form) to pairs that parse alike. */
static void check_pairs(const uint8_t *p, size_t n)
{
    struct buf once, twice;

    buf_init(&once, 0);
    buf_init(&twice, 0);
    if (fcgi_parse_pairs(p, n, on_pair_encode, &once) == 0) {
        CHECK(once.len <= n);
        CHECK(fcgi_parse_pairs((const uint8_t *)once.data, once.len, on_pair_encode, &twice) == 0);
        CHECK(once.len == twice.len);
        CHECK(once.len == 0 || memcmp(once.data, twice.data, once.len) == 0);
    }
    buf_dispose(&once);
    buf_dispose(&twice);
}

/* The client-side encoder's STDIN stream, retyped to STDOUT, decodes back to the payload. */
static void check_stream_round_trip(uint16_t id, const uint8_t *p, size_t n, uint32_t seed)
{
    struct buf enc;
    struct run r;
    size_t off = 0, got = 0;
    const uint8_t *log;

    if (id == 0)
        id = 1;
    buf_init(&enc, 0);
    if (n > 0) /* n 0 would already be the end record */
        CHECK(fcgi_record_stream(&enc, FCGI_STDIN, id, p, n) == 0);
    CHECK(fcgi_record_stream(&enc, FCGI_STDIN, id, NULL, 0) == 0);
    while (off < enc.len) {
        uint8_t *h = (uint8_t *)enc.data + off;

        CHECK(enc.len - off >= 8 && h[0] == FCGI_VERSION_1 && h[1] == FCGI_STDIN);
        CHECK(h[2] == id >> 8 && h[3] == (id & 0xff) && h[7] == 0);
        CHECK(((h[4] << 8 | h[5]) + h[6]) % 8 == 0 && h[6] < 8);
        h[1] = FCGI_STDOUT;
        off += 8 + (size_t)(h[4] << 8 | h[5]) + h[6];
    }
    CHECK(off == enc.len);
    decode(&r, 2, seed, false, id, (const uint8_t *)enc.data, enc.len);
    CHECK(r.last == FCGI_DEC_NEED_MORE && r.consumed == enc.len);
    /* the log is one merged STDOUT entry (when n > 0) and the empty end-of-stream entry */
    log = (const uint8_t *)r.log.data;
    if (n > 0) {
        got = (size_t)log[8] << 24 | (size_t)log[9] << 16 | (size_t)log[10] << 8 | log[11];
        CHECK(log[0] == FCGI_STDOUT && got == n && memcmp(log + 12, p, n) == 0);
    }
    CHECK(r.log.len == (n > 0 ? 12 + n : 0) + 12);
    CHECK(log[r.log.len - 12] == FCGI_STDOUT && log[r.log.len - 1] == 0);
    buf_dispose(&r.log);
    buf_dispose(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run whole, bytes, chunks;
    bool reinit;
    uint16_t id;
    uint32_t seed;

    if (size < 4)
        return 0;
    reinit = data[0] & 1;
    id = (uint16_t)(data[1] << 8 | data[2]);
    seed = data[3];
    data += 4;
    size -= 4;

    decode(&whole, 0, seed, reinit, id, data, size);
    decode(&bytes, 1, seed, reinit, id, data, size);
    decode(&chunks, 2, seed, reinit, id, data, size);
    check_same(&whole, &bytes);
    check_same(&whole, &chunks);
    buf_dispose(&whole.log);
    buf_dispose(&bytes.log);
    buf_dispose(&chunks.log);

    check_pairs(data, size);
    check_stream_round_trip(id, data, size, seed);
    return 0;
}
