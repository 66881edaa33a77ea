#include <math.h>
#include <string.h>

#include "buf.h"
#include "prom.h"
#include "tap.h"

int main(void)
{
    struct buf b;
    buf_init(&b, 0);

    prom_escape_label(&b, "a\\b\"c\nd");
    is_str(b.data, "a\\\\b\\\"c\\nd", "label value: backslash, quote and newline escaped");
    buf_reset(&b);
    prom_escape_label(&b, "plain {x}=,");
    is_str(b.data, "plain {x}=,", "other bytes are kept as they are");

    buf_reset(&b);
    prom_family(&b, "wharf_x_total", "counter", "Things, with a \\ and a\nnewline.");
    is_str(b.data,
           "# HELP wharf_x_total Things, with a \\\\ and a\\nnewline.\n"
           "# TYPE wharf_x_total counter\n",
           "HELP escapes backslash and newline; TYPE line follows");

    buf_reset(&b);
    struct prom_label l[] = {{"site", "a\"b"}, {"code", "2xx"}};
    prom_u64(&b, "wharf_x_total", l, 2, 18446744073709551615ull);
    is_str(b.data, "wharf_x_total{site=\"a\\\"b\",code=\"2xx\"} 18446744073709551615\n",
           "sample with escaped labels and a full 64-bit value");
    buf_reset(&b);
    prom_u64(&b, "wharf_up", NULL, 0, 1);
    is_str(b.data, "wharf_up 1\n", "no labels: no braces");
    buf_reset(&b);
    prom_double(&b, "g", NULL, 0, 0.25);
    prom_double(&b, "g", NULL, 0, INFINITY);
    prom_double(&b, "g", NULL, 0, NAN);
    is_str(b.data, "g 0.25\ng +Inf\ng NaN\n", "floats, +Inf and NaN spelled as Prometheus does");

    buf_reset(&b);
    const double bounds[] = {0.1, 0.5, 1};
    const uint64_t counts[] = {2, 0, 3, 4}; /* 4 above the last bound */
    struct prom_label h[] = {{"site", "s"}};
    prom_histogram(&b, "wharf_d_seconds", h, 1, bounds, counts, 3, 12.5);
    is_str(b.data,
           "wharf_d_seconds_bucket{site=\"s\",le=\"0.1\"} 2\n"
           "wharf_d_seconds_bucket{site=\"s\",le=\"0.5\"} 2\n"
           "wharf_d_seconds_bucket{site=\"s\",le=\"1\"} 5\n"
           "wharf_d_seconds_bucket{site=\"s\",le=\"+Inf\"} 9\n"
           "wharf_d_seconds_sum{site=\"s\"} 12.5\n"
           "wharf_d_seconds_count{site=\"s\"} 9\n",
           "histogram: cumulative buckets, +Inf, _sum, _count = +Inf");
    buf_reset(&b);
    const uint64_t zero[] = {0, 0};
    prom_histogram(&b, "h", NULL, 0, bounds, zero, 1, 0);
    is_str(b.data, "h_bucket{le=\"0.1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n",
           "empty histogram without other labels");
    buf_dispose(&b);
    return done_testing();
}
