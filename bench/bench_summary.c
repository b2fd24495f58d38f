/*
 * bench_summary.c -- column statistics (strata_snapshot_summary): count, min, max, mean, std and
 * a 32-bin histogram, computed (no cache entry yet) and read back from the catalog's cache.
 *
 *     bench_summary POOL REGION COLUMN NAME...
 *
 * Each NAME is a dataset of the same content: the first summary of each is computed (its cache
 * key names the dataset); then the first dataset's is asked 5 more times (cached). Prints
 * "computed_s", "cached_s" (best of each) and the statistics, to compare with the peer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "strata.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The summary of REGION/NAME.COLUMN and the time it took (snapshot open included). */
static int summarise(strata_pool *pool, const char *region, const char *name, const char *column,
                     strata_summary *out, double *secs)
{
    double t0 = now();
    strata_snapshot *s;
    int col, rc = strata_snapshot_open(pool, region, name, 0, &s);
    if (rc == STRATA_OK) {
        rc = strata_snapshot_column(s, column, &col);
        if (rc == STRATA_OK) rc = strata_snapshot_summary(s, col, out);
        strata_snapshot_close(s);
    }
    *secs = now() - t0;
    if (rc < 0) fprintf(stderr, "bench_summary: %s\n", strata_errmsg(pool));
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_summary POOL REGION COLUMN NAME...\n");
        return 2;
    }
    strata_pool *pool;
    if (strata_pool_open(argv[1], &pool) != STRATA_OK) return 1;
    strata_summary sum;
    double computed = 1e30, cached = 1e30, t;
    for (int i = 4; i < argc; i++) {
        if (summarise(pool, argv[2], argv[i], argv[3], &sum, &t) < 0) return 1;
        if (sum.cached) {
            fprintf(stderr, "bench_summary: %s was already summarised: use a fresh pool\n",
                    argv[i]);
            return 1;
        }
        if (t < computed) computed = t;
    }
    for (int rep = 0; rep < 5; rep++) {
        if (summarise(pool, argv[2], argv[4], argv[3], &sum, &t) < 0) return 1;
        if (t < cached) cached = t;
    }
    printf("computed_s %.6f\ncached_s %.6f\n", computed, cached);
    printf("count %llu\nmin %.17g\nmax %.17g\nmean %.17g\nstd %.17g\nhist",
           (unsigned long long)sum.count, sum.min, sum.max, sum.mean, sum.std);
    for (int b = 0; b < STRATA_HIST_BINS; b++) printf(" %llu", (unsigned long long)sum.hist[b]);
    printf("\n");
    strata_pool_close(pool);
    return 0;
}
