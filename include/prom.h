/*
 * prom: the Prometheus text exposition format 0.0.4, written into a buf. Pure: no I/O, no
 * locks, no clock. The caller gathers the numbers; this module only spells them: one
 * `# HELP` and `# TYPE` line per family, then its samples, label values escaped (backslash,
 * double quote, newline), histograms as cumulative `_bucket` lines with `le`, `+Inf`, `_sum`
 * and `_count`. It does not check names (the callers use constant, valid ones) and does not
 * sort or group families: a family's samples must be written together, after its header.
 */
#ifndef WHARF_PROM_H
#define WHARF_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct prom_label {
    const char *name;
    const char *value; /* any bytes but NUL; escaped on output */
};

/** `# HELP name help` and `# TYPE name type` (type: counter, gauge, histogram, untyped). */
void prom_family(struct buf *b, const char *name, const char *type, const char *help);
/** `name{labels} value` with an integer value. */
void prom_u64(struct buf *b, const char *name, const struct prom_label *l, size_t n, uint64_t v);
/** `name{labels} value` with a floating-point value (NaN and infinities as Prometheus spells
 *  them). */
void prom_double(struct buf *b, const char *name, const struct prom_label *l, size_t n, double v);
/** A histogram's samples: counts[i] observations fell in (bounds[i-1], bounds[i]] for
 *  i < n_bounds, counts[n_bounds] above the last bound (so counts has n_bounds + 1 entries,
 *  not cumulative; bounds ascending). sum is the sum of the observations. */
void prom_histogram(struct buf *b, const char *name, const struct prom_label *l, size_t n,
                    const double *bounds, const uint64_t *counts, size_t n_bounds, double sum);
/** A label value, escaped as the format wants (\\, \", \n). */
void prom_escape_label(struct buf *b, const char *v);

#endif
