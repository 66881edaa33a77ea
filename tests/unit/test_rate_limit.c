/* rate_limit: GCRA token buckets with a fake clock; burst, refill, other clients, the cap. */
#include <pthread.h>
#include <string.h>

#include "rate_limit.h"
#include "tap.h"

#define MS UINT64_C(1000000)

static void addr_of(unsigned i, uint8_t a[16])
{
    memset(a, 0, 16);
    a[10] = a[11] = 0xff;
    a[12] = 10;
    a[13] = (uint8_t)(i >> 16);
    a[14] = (uint8_t)(i >> 8);
    a[15] = (uint8_t)i;
}

struct flood {
    struct rate_limit *rl;
    unsigned admitted;
};

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    uint8_t a[16];
    addr_of(1, a);
    for (int i = 0; i < 10000; i++)
        if (rate_limit_take(f->rl, a, 1000 * MS) == 0)
            f->admitted++;
    return NULL;
}

int main(void)
{
    uint8_t a[16], b[16];
    addr_of(1, a);
    addr_of(2, b);
    uint64_t t = 1000 * MS;

    /* 10r/s burst=2: three at once, then one per 100 ms */
    struct rate_limit *rl = rate_limit_new(100 * MS, 2, 1024);
    is_int(rate_limit_take(rl, a, t), 0, "1st admitted");
    is_int(rate_limit_take(rl, a, t), 0, "2nd admitted (burst)");
    is_int(rate_limit_take(rl, a, t), 0, "3rd admitted (burst)");
    uint64_t wait = rate_limit_take(rl, a, t);
    is_int(wait, 100 * MS, "4th refused: 100 ms until the next token");
    is_int(rate_limit_take(rl, b, t), 0, "another client has its own bucket");
    is_int(rate_limit_take(rl, a, t + 99 * MS), 1 * MS, "1 ms early: still refused");
    is_int(rate_limit_take(rl, a, t + 100 * MS), 0, "a token after 100 ms");
    is_int(rate_limit_take(rl, a, t + 100 * MS) != 0, 1, "... only one");
    is_int(rate_limit_take(rl, a, t + 10000 * MS), 0, "idle: full again");
    is_int(rate_limit_take(rl, a, t + 10000 * MS), 0, "... with its burst");
    is_int(rate_limit_take(rl, a, t + 10000 * MS), 0, "... all of it");
    ok(rate_limit_take(rl, a, t + 10000 * MS) != 0, "... and no more");
    rate_limit_free(rl);

    /* refused requests take nothing: a client hammering at 1 kHz still gets the rate */
    rl = rate_limit_new(100 * MS, 0, 1024);
    unsigned admitted = 0;
    for (uint64_t ms = 0; ms < 1000; ms++)
        admitted += rate_limit_take(rl, a, t + ms * MS) == 0;
    is_int(admitted, 10, "10r/s over one second of hammering: exactly 10");
    rate_limit_free(rl);

    /* exact across threads: 4 threads, one client, one instant, burst 99 -> 100 */
    rl = rate_limit_new(100 * MS, 99, 1024);
    struct flood f[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        f[i] = (struct flood){rl, 0};
        pthread_create(&th[i], NULL, flood_main, &f[i]);
    }
    unsigned total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += f[i].admitted;
    }
    is_int(total, 100, "4 threads, 40000 tries: burst+1 admitted, not one more");
    rate_limit_free(rl);

    /* references: a reload's new runtime shares the buckets of an unchanged rule */
    rl = rate_limit_new(100 * MS, 0, 1024);
    ok(rate_limit_ref(rl) == rl, "ref returns the same buckets");
    is_int(rate_limit_take(rl, a, t), 0, "taken through one reference");
    rate_limit_free(rl); /* the old runtime's */
    ok(rate_limit_take(rl, a, t) != 0, "... still counted through the other");
    rate_limit_free(rl); /* the last: freed (ASan/valgrind would see a leak otherwise) */

    /* bounded: 16 shards x 4 = 64 clients at most; full buckets are dropped first */
    rl = rate_limit_new(1000 * MS, 0, 64);
    for (unsigned i = 0; i < 10000; i++) {
        uint8_t x[16];
        addr_of(100 + i, x);
        rate_limit_take(rl, x, t);
    }
    ok(rate_limit_clients(rl) <= 64, "10000 clients, at most 64 buckets kept");
    uint8_t x[16];
    addr_of(100 + 9999, x);
    ok(rate_limit_take(rl, x, t) != 0, "the latest client is still limited");
    for (unsigned i = 0; i < 100; i++) {
        addr_of(50000 + i, x);
        rate_limit_take(rl, x, t + 5000 * MS);
    }
    ok(rate_limit_clients(rl) <= 64, "expired buckets make room");
    rate_limit_free(rl);
    return done_testing();
}
