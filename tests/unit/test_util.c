#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "tap.h"
#include "util.h"

int main(void)
{
    char out[24];
    is_int(u64_to_dec(out, 0), 1, "u64_to_dec 0: length 1");
    is_str(out, "0", "u64_to_dec 0");
    u64_to_dec(out, 7);
    is_str(out, "7", "u64_to_dec one digit");
    u64_to_dec(out, 65535);
    is_str(out, "65535", "u64_to_dec a port");
    u64_to_dec(out, 1000000);
    is_str(out, "1000000", "u64_to_dec keeps inner zeros");
    is_int(u64_to_dec(out, UINT64_MAX), 20, "u64_to_dec UINT64_MAX: 20 digits");
    is_str(out, "18446744073709551615", "u64_to_dec UINT64_MAX");
    char want[24];
    int bad = 0;
    for (uint64_t v = 1; v < UINT64_MAX / 3; v = v * 3 + 1) {
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        u64_to_dec(out, v);
        bad += strcmp(out, want) != 0;
    }
    is_int(bad, 0, "u64_to_dec agrees with printf over 40 magnitudes");
    char j[8];
    ok(join2(j, sizeof j, "/ab", "/cd"), "join2 fits");
    is_str(j, "/ab/cd", "join2 joins");
    ok(join2(j, sizeof j, "/abc", "/de"), "join2: exactly n - 1 bytes fit");
    is_str(j, "/abc/de", "... with the NUL last");
    ok(!join2(j, sizeof j, "/abcd", "/de"), "join2: one byte too many does not fit");
    ok(!join2(j, sizeof j, "/abcdefgh", ""), "join2: a first part longer than out");
    ok(join2(j, sizeof j, "", ""), "join2 of two empty strings");
    is_str(j, "", "... is empty");

    char small[4];
    is_int(copy_str(small, sizeof small, "abcdef"), 3, "copy_str cuts to fit");
    is_str(small, "abc", "copy_str keeps room for the NUL");
    is_int(copy_str(small, sizeof small, "ab"), 2, "copy_str of a short string");
    is_str(small, "ab", "copy_str copies it whole");
    is_int(copy_str(small, 1, "xyz"), 0, "copy_str into one byte: empty");
    is_str(small, "", "copy_str into one byte leaves just the NUL");

    struct buf b;
    buf_init(&b, 100);
    is_int(buf_reserve(&b, 60), 0, "buf_reserve within max");
    ok(b.cap >= 61, "buf_reserve allocated the room at once");
    is_int(b.len, 0, "buf_reserve adds no bytes");
    is_int(buf_reserve(&b, 101), -1, "buf_reserve past max fails");
    buf_dispose(&b);
    return done_testing();
}
