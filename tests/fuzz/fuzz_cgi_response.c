/*
 * libFuzzer target for cgi_response: the first 4 bytes seed how the rest is cut into
 * chunks. The head is parsed whole, in those chunks and byte by byte; all three must give
 * the same status, body offset, head or error, and a DONE head must meet the promises of
 * cgi_response.h (token names, trimmed values without CR/LF, status range, offsets).
 * Build: clang -g -fsanitize=fuzzer,address,undefined -Iinclude src/util.c src/buf.c
 *        src/cgi_response.c tests/fuzz/fuzz_cgi_response.c
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi_response.h"
#include "fuzz.h"

/* Chunk sizes: 0..64 mostly, sometimes up to 4 KiB; 0-byte feeds must be harmless. */
static size_t next_chunk(uint32_t *rng)
{
    *rng = *rng * 1103515245u + 12345u;
    uint32_t r = *rng >> 8;
    return r % 8 == 0 ? r % 4096 : r % 65;
}

/* Feed in = [0, n): chunk sizes from rng, or all at once when rng is NULL, or one by one
 * when step1. Returns the final status; *at = body offset in the whole input on DONE. */
static enum cgi_head_status run(struct cgi_head_parser *p, const char *in, size_t n, uint32_t *rng,
                                bool step1, size_t *at)
{
    enum cgi_head_status st = CGI_HEAD_NEED_MORE;
    size_t off = 0, consumed = 0;

    cgi_head_init(p);
    *at = 0;
    do {
        size_t len = rng ? next_chunk(rng) : step1 ? 1 : n;

        if (len > n - off)
            len = n - off;
        st = cgi_head_feed(p, in + off, len, &consumed);
        CHECK(consumed <= len);
        if (st == CGI_HEAD_NEED_MORE)
            CHECK(consumed == len);
        else if (st == CGI_HEAD_ERROR)
            CHECK(consumed == 0);
        *at = off + consumed;
        off += len;
    } while (st == CGI_HEAD_NEED_MORE && off < n);
    return st;
}

static bool same_str(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void check_done(const struct cgi_head_parser *p, const char *in, size_t at)
{
    const struct cgi_head *h = &p->head;
    unsigned eff = cgi_head_effective_status(h);

    CHECK(at >= 1 && at <= CGI_RESPONSE_MAX_HEAD && in[at - 1] == '\n');
    CHECK(memchr(in, '\0', at) == NULL);
    CHECK(h->status == 0 || (h->status >= 100 && h->status <= 599));
    CHECK(eff >= 100 && eff <= 599);
    CHECK(h->status_reason == NULL || (h->status != 0 && h->status_reason[0] != '\0'));
    if (cgi_head_is_local_redirect(h))
        CHECK(h->status == 0 && h->location && h->location[0] == '/' && eff == 200);
    for (size_t i = 0; i < h->n_headers; i++) {
        const char *name = h->headers[i].name, *v = h->headers[i].value;
        size_t vl = strlen(v);

        CHECK(name[0] != '\0');
        for (const char *c = name; *c; c++)
            CHECK(is_tchar((unsigned char)*c));
        CHECK(strpbrk(v, "\r\n") == NULL);
        CHECK(vl == 0 || (v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t'));
    }
}

static void check_same(const struct cgi_head_parser *a, enum cgi_head_status sa, size_t at_a,
                       const struct cgi_head_parser *b, enum cgi_head_status sb, size_t at_b)
{
    const struct cgi_head *x = &a->head, *y = &b->head;

    CHECK(sa == sb);
    CHECK(strcmp(cgi_head_error(a), cgi_head_error(b)) == 0);
    if (sa != CGI_HEAD_DONE)
        return;
    CHECK(at_a == at_b);
    CHECK(x->status == y->status && same_str(x->status_reason, y->status_reason));
    CHECK(same_str(x->location, y->location));
    CHECK(x->has_content_length == y->has_content_length);
    CHECK(x->content_length == y->content_length);
    CHECK(x->n_headers == y->n_headers);
    for (size_t i = 0; i < x->n_headers; i++) {
        CHECK(strcmp(x->headers[i].name, y->headers[i].name) == 0);
        CHECK(strcmp(x->headers[i].value, y->headers[i].value) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cgi_head_parser whole, chunked, bytes;
    enum cgi_head_status sw, sc, sb;
    size_t at_w, at_c, at_b;
    uint32_t rng = 0;
    const char *in;

    if (size < 4)
        return 0;
    memcpy(&rng, data, 4);
    in = (const char *)data + 4;
    size -= 4;

    sw = run(&whole, in, size, NULL, false, &at_w);
    sc = run(&chunked, in, size, &rng, false, &at_c);
    sb = run(&bytes, in, size, NULL, true, &at_b);
    if (sw == CGI_HEAD_DONE)
        check_done(&whole, in, at_w);
    else if (sw == CGI_HEAD_ERROR)
        CHECK(cgi_head_error(&whole)[0] != '\0');
    else
        CHECK(size <= CGI_RESPONSE_MAX_HEAD && memchr(in, '\0', size) == NULL);
    check_same(&whole, sw, at_w, &chunked, sc, at_c);
    check_same(&whole, sw, at_w, &bytes, sb, at_b);
    cgi_head_dispose(&whole);
    cgi_head_dispose(&chunked);
    cgi_head_dispose(&bytes);
    return 0;
}
