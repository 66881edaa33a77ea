#include "log_limit.h"
#include "tap.h"

int main(void)
{
    struct log_limit l;
    struct log_limit_summary s;
    static const char fmt_a[] = "a %s", fmt_b[] = "b %s";
    unsigned passed = 0;

    log_limit_init(&l, 10000, 3);
    for (int i = 0; i < 100; i++)
        passed += log_limit_admit(&l, fmt_a, "closed: reset", 1000 + (uint64_t)i, &s);
    is_int(passed, 3, "a burst of 100 lines of one kind: 3 are logged");
    is_int(l.total_suppressed, 97, "... 97 are counted");
    ok(log_limit_admit(&l, fmt_b, "other", 1100, &s), "another kind has its own budget");
    ok(!log_limit_flush(&l, 5000, &s), "nothing to report before the window is over");
    ok(log_limit_flush(&l, 11000, &s), "after the window: a summary");
    is_int(s.suppressed, 97, "... counting every line left out");
    is_str(s.sample, "closed: reset", "... with a sample of the text");
    ok(!log_limit_flush(&l, 11001, &s), "... reported once");
    ok(log_limit_admit(&l, fmt_a, "x", 11002, &s) && s.suppressed == 0,
       "the next window starts with a fresh budget");

    log_limit_init(&l, 10000, 1);
    ok(log_limit_admit(&l, fmt_a, "1", 0, &s), "burst 1: first line logged");
    ok(!log_limit_admit(&l, fmt_a, "2", 1, &s), "second left out");
    ok(log_limit_admit(&l, fmt_a, "3", 20000, &s), "a line after the window is logged");
    is_int(s.suppressed, 1, "... and hands back the summary of the window it ends");
    is_int(l.total_suppressed, 1, "the life-long counter keeps counting");

    static const char keys[LOG_LIMIT_KINDS + 10] = {0};
    log_limit_init(&l, 1000, 1);
    for (int i = 0; i < LOG_LIMIT_KINDS + 5; i++)
        (void)log_limit_admit(&l, &keys[i], "k", 0, &s);
    ok(!log_limit_admit(&l, &keys[LOG_LIMIT_KINDS + 9], "k", 0, &s),
       "more kinds than slots share the last one (bounded memory)");
    log_limit_init(&l, 1000, 1);
    ok(log_limit_admit(&l, fmt_a, "t", 5000, &s), "clock at 5000: logged");
    ok(!log_limit_admit(&l, fmt_a, "t", 100, &s) && s.suppressed == 0,
       "a clock that goes back neither ends the window nor reports");
    return done_testing();
}
