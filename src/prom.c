/*
 * prom: see include/prom.h.
 */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void prom_escape_label(struct buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            buf_puts(b, "\\\\");
        else if (*p == '"')
            buf_puts(b, "\\\"");
        else if (*p == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *p);
    }
}

/* HELP text escapes backslash and newline only. */
static void escape_help(struct buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            buf_puts(b, "\\\\");
        else if (*p == '\n')
            buf_puts(b, "\\n");
        else
            buf_putc(b, *p);
    }
}

void prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s ", name);
    escape_help(b, help);
    buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{a="x",b="y"} or name; extra (le) is appended as one more label when not NULL. */
static void series(struct buf *b, const char *name, const char *suffix, const struct prom_label *l,
                   size_t n, const char *extra_name, const char *extra_value)
{
    buf_puts(b, name);
    if (suffix)
        buf_puts(b, suffix);
    if (n == 0 && !extra_name)
        return;
    buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        buf_printf(b, "%s%s=\"", i ? "," : "", l[i].name);
        prom_escape_label(b, l[i].value ? l[i].value : "");
        buf_putc(b, '"');
    }
    if (extra_name)
        buf_printf(b, "%s%s=\"%s\"", n ? "," : "", extra_name, extra_value);
    buf_putc(b, '}');
}

static void format_double(char *out, size_t size, double v)
{
    if (isnan(v))
        snprintf(out, size, "NaN");
    else if (isinf(v))
        snprintf(out, size, "%s", v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, size, "%.10g", v);
}

void prom_u64(struct buf *b, const char *name, const struct prom_label *l, size_t n, uint64_t v)
{
    series(b, name, NULL, l, n, NULL, NULL);
    buf_printf(b, " %llu\n", (unsigned long long)v);
}

void prom_double(struct buf *b, const char *name, const struct prom_label *l, size_t n, double v)
{
    char text[64];
    format_double(text, sizeof text, v);
    series(b, name, NULL, l, n, NULL, NULL);
    buf_printf(b, " %s\n", text);
}

void prom_histogram(struct buf *b, const char *name, const struct prom_label *l, size_t n,
                    const double *bounds, const uint64_t *counts, size_t n_bounds, double sum)
{
    uint64_t cum = 0;
    char le[64];
    for (size_t i = 0; i <= n_bounds; i++) {
        cum += counts[i];
        if (i < n_bounds)
            format_double(le, sizeof le, bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        series(b, name, "_bucket", l, n, "le", le);
        buf_printf(b, " %llu\n", (unsigned long long)cum);
    }
    char text[64];
    format_double(text, sizeof text, sum);
    series(b, name, "_sum", l, n, NULL, NULL);
    buf_printf(b, " %s\n", text);
    series(b, name, "_count", l, n, NULL, NULL);
    buf_printf(b, " %llu\n", (unsigned long long)cum);
}
