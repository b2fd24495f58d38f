/*
 * summary.h -- summary statistics computed once and cached in the catalog: what
 * strata_snapshot_summary() and strata_ndarray_summary() share.
 */
#ifndef STRATA_STORE_SUMMARY_H
#define STRATA_STORE_SUMMARY_H

#include <stdint.h>

#include "strata.h"
#include "util/stats.h"

/* One pass over the elements: P1 NULL for pass 1 (merge n, nan, min, max, sum into ACC), else
 * pass 2 with P1's mean and range (merge the squared deviations and the histogram). */
typedef int (*st_summary_pass)(void *ctx, const st_stats *p1, st_stats *acc);

/* The summary of KIND (ST_SUMMARY_COLUMN or ST_SUMMARY_REGION) of object OBJECT_ID, part PART,
 * whose content is FINGERPRINT, at VERSION: from POOL's catalog when cached there, else computed
 * by two calls of PASS and then cached (a failure to cache is not an error: the catalog may be
 * busy or read-only). */
int st_summary(strata_pool *pool, int kind, int64_t object_id, const char *part,
               uint64_t fingerprint, int64_t version, st_summary_pass pass, void *ctx,
               strata_summary *out);

/* Before each unit of a summary's work: STRATA_ECANCELED (with a message naming WHAT) when
 * POOL's interrupt check (strata_pool_set_interrupt) asks to stop, else STRATA_OK. */
int st_summary_interrupted(strata_pool *pool, const char *what);

#endif /* STRATA_STORE_SUMMARY_H */
