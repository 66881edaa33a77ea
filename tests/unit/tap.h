/*
 * tap.h: a minimal TAP producer for wharf's unit tests (automake's tap-driver.sh reads it).
 * Every check prints one "ok N - name" or "not ok N - name" line with the mismatch as a
 * diagnostic, so a failure says what was expected and what came out.
 */
#ifndef WHARF_TAP_H
#define WHARF_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_report(int pass, const char *name)
{
    printf("%sok %d - %s\n", pass ? "" : "not ", ++tap_n, name);
    if (!pass)
        tap_failed++;
    return pass;
}

#define ok(cond, name) tap_report(!!(cond), name)

#define is_int(got, want, name)                                                                    \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!tap_report(g_ == w_, name))                                                           \
            printf("#   got %lld, want %lld\n", g_, w_);                                           \
    } while (0)

#define is_str(got, want, name)                                                                    \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        int p_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;                                      \
        if (!tap_report(p_, name))                                                                 \
            printf("#   got  '%s'\n#   want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");      \
    } while (0)

#define is_mem(got, got_len, want, want_len, name)                                                 \
    do {                                                                                           \
        size_t gl_ = (size_t)(got_len), wl_ = (size_t)(want_len);                                  \
        int p_ = gl_ == wl_ && memcmp((got), (want), gl_) == 0;                                    \
        if (!tap_report(p_, name))                                                                 \
            printf("#   got %zu bytes, want %zu bytes (or contents differ)\n", gl_, wl_);          \
    } while (0)

/** Print the plan and return the exit status for main(). */
static inline int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
