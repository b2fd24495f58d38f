/*
 * stats.h -- summary statistics of numeric elements: count, min, max, mean, standard deviation
 * and an equal-width histogram, in two passes (the second needs the first's mean and range).
 * Used by the MDMS layer for saved datasets and by strata_snapshot_summary() and
 * strata_ndarray_summary().
 */
#ifndef STRATA_UTIL_STATS_H
#define STRATA_UTIL_STATS_H

#include <stdint.h>

#include "strata.h"

typedef struct st_stats {
    uint64_t n, nan; /* values counted; NaNs skipped */
    double min, max, sum, m2;
    uint64_t hist[STRATA_HIST_BINS];
} st_stats;

/* Pass 1 (n, nan, min, max, sum) and pass 2 (squared deviations from MEAN and the histogram over
 * [LO, HI]) over N elements of DTYPE (numeric or bool) at BUF, merged into S. */
void st_stats_pass1(strata_dtype dtype, const void *buf, uint64_t n, st_stats *s);
void st_stats_pass2(strata_dtype dtype, const void *buf, uint64_t n, double mean, double lo,
                    double hi, st_stats *s);

/* The mean of pass 1 (NaN when nothing was counted). */
double st_stats_mean(const st_stats *s);

/* OUT's statistics from pass 1 (P1) and pass 2 (P2): population standard deviation; min, max,
 * mean and std NaN when nothing was counted. Leaves OUT's other fields alone. */
void st_stats_summary(const st_stats *p1, const st_stats *p2, strata_summary *out);

#endif /* STRATA_UTIL_STATS_H */
