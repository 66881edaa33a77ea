/*
 * response: a buffer body belongs to the MHD response only once MHD has created it. MHD's
 * create is wrapped (-Wl,--wrap, see Makefile.am) so a test can make it fail as it does when
 * out of memory; the body handed over must then be freed, not leaked.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "response.h"
#include "tap.h"

struct MHD_Response *__real_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);
struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode);

static bool fail_create; /* the next create returns NULL, as MHD does out of memory */

struct MHD_Response *__wrap_MHD_create_response_from_buffer(size_t size, void *buffer,
                                                            enum MHD_ResponseMemoryMode mode)
{
    if (fail_create) {
        fail_create = false;
        return NULL;
    }
    return __real_MHD_create_response_from_buffer(size, buffer, mode);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void fill(struct buf *b, size_t n)
{
    buf_init(b, 0);
    for (size_t i = 0; i < n; i++)
        buf_putc(b, (char)('a' + i % 26));
}

static void test_headers(void)
{
    struct buf b;
    fill(&b, 100);
    struct MHD_Response *resp = response_from_buf(&b, "text/plain");
    ok(resp != NULL, "from_buf: a response");
    ok(b.data == NULL && b.len == 0, "from_buf: the buffer is taken (left empty)");
    if (!resp)
        return;
    is_str(MHD_get_response_header(resp, MHD_HTTP_HEADER_SERVER), WHARF_SERVER_HEADER,
           "from_buf: the Server header");
    is_str(MHD_get_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE), "text/plain",
           "from_buf: the Content-Type");
    MHD_destroy_response(resp);

    buf_init(&b, 0);
    resp = response_from_buf(&b, NULL);
    ok(resp != NULL, "from_buf: an empty body is a response too");
    if (resp) {
        is_str(MHD_get_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE), NULL,
               "from_buf: no type, no Content-Type");
        MHD_destroy_response(resp);
    }
}

static void test_create_fails(void)
{
    /* 64 KiB bodies, a hundred times: a leak would be megabytes; freed, the heap is as before */
    ok(1, "the heap is measured from here (stdout's buffer is allocated)");
    size_t before = heap_in_use();
    int nulls = 0, taken = 0;
    for (int i = 0; i < 100; i++) {
        struct buf b;
        fill(&b, 64 * 1024);
        fail_create = true;
        if (!response_from_buf(&b, "text/plain"))
            nulls++;
        if (!b.data && b.len == 0)
            taken++;
    }
    is_int(nulls, 100, "create fails: NULL every time");
    is_int(taken, 100, "create fails: the buffer is still taken (left empty)");
    size_t after = heap_in_use();
    if (!ok(after < before + 64 * 1024, "create fails: the body is freed (heap in use unchanged)"))
        printf("#   heap in use %zu before, %zu after\n", before, after);
}

int main(void)
{
    test_headers();
    test_create_fails();
    return done_testing();
}
