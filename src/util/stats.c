/*
 * stats.c -- summary statistics in two passes over blocks converted to doubles.
 */
#include "util/stats.h"

#include <math.h>

#include "util/dtype.h"

#define STAT_BLOCK 4096

void st_stats_pass1(strata_dtype dtype, const void *buf, uint64_t n, st_stats *s)
{
    double v[STAT_BLOCK];
    size_t esz = strata_dtype_size(dtype);
    for (uint64_t i = 0; i < n; i += STAT_BLOCK) {
        uint64_t m = n - i < STAT_BLOCK ? n - i : STAT_BLOCK;
        st_convert(v, STRATA_F64, (const char *)buf + i * esz, dtype, m);
        for (uint64_t j = 0; j < m; j++) {
            if (isnan(v[j])) {
                s->nan++;
                continue;
            }
            if (s->n == 0 || v[j] < s->min) s->min = v[j];
            if (s->n == 0 || v[j] > s->max) s->max = v[j];
            s->sum += v[j];
            s->n++;
        }
    }
}

void st_stats_pass2(strata_dtype dtype, const void *buf, uint64_t n, double mean, double lo,
                    double hi, st_stats *s)
{
    double v[STAT_BLOCK];
    size_t esz = strata_dtype_size(dtype);
    double width = hi > lo ? (hi - lo) / STRATA_HIST_BINS : 0;
    for (uint64_t i = 0; i < n; i += STAT_BLOCK) {
        uint64_t m = n - i < STAT_BLOCK ? n - i : STAT_BLOCK;
        st_convert(v, STRATA_F64, (const char *)buf + i * esz, dtype, m);
        for (uint64_t j = 0; j < m; j++) {
            if (isnan(v[j])) continue;
            double dv = v[j] - mean;
            s->m2 += dv * dv;
            int b = width > 0 ? (int)((v[j] - lo) / width) : 0;
            if (b >= STRATA_HIST_BINS) b = STRATA_HIST_BINS - 1;
            if (b < 0) b = 0;
            s->hist[b]++;
        }
    }
}

double st_stats_mean(const st_stats *s)
{
    return s->n ? s->sum / (double)s->n : NAN;
}

void st_stats_summary(const st_stats *p1, const st_stats *p2, strata_summary *out)
{
    out->count = p1->n;
    out->nan = p1->nan;
    out->min = p1->n ? p1->min : NAN;
    out->max = p1->n ? p1->max : NAN;
    out->mean = st_stats_mean(p1);
    out->std = p1->n ? sqrt(p2->m2 / (double)p1->n) : NAN;
    for (int b = 0; b < STRATA_HIST_BINS; b++) out->hist[b] = p2->hist[b];
}
