/*
 * bench_touch.c -- the physical limit of a scan of a dataset's columns from the pool: map each
 * batch's columns (strata_snapshot_map, as `strata update` reads them) and add up every value,
 * on THREADS threads, each rep in a new snapshot (new mappings: every page faulted in again, as
 * in a new `strata` process). A group-by, filter or any other pass over the same columns cannot
 * take less.
 *
 *     bench_touch POOL REGION/NAME THREADS COLUMN...
 *
 * Prints "touch_s SECONDS" (best of 5), "touch_bytes BYTES" and "touch_sum SUM".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata.h"

#define MAXCOLS 16

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The sum of the 64-bit words of batch B's columns COLS[NC] (N rows). */
static int64_t batch_sum(strata_snapshot *s, uint64_t b, const int *cols, int nc, uint64_t n,
                         int nt)
{
    const int64_t *data[MAXCOLS];
    for (int c = 0; c < nc; c++)
        if (strata_snapshot_map(s, b, cols[c], (const void **)&data[c]) != STRATA_OK) exit(1);
    uint64_t sum = 0;
    (void)nt;
#pragma omp parallel for num_threads(nt) reduction(+ : sum) schedule(static)
    for (uint64_t r = 0; r < n; r++)
        for (int c = 0; c < nc; c++) sum += (uint64_t)data[c][r];
    return (int64_t)sum;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc - 4 > MAXCOLS) {
        fprintf(stderr, "usage: bench_touch POOL REGION/NAME THREADS COLUMN...\n");
        return 2;
    }
    char region[256], *name = strchr(argv[2], '/');
    if (name == NULL) return 2;
    snprintf(region, sizeof region, "%.*s", (int)(name - argv[2]), argv[2]);
    name++;
    int nt = atoi(argv[3]), nc = argc - 4, cols[MAXCOLS];
    strata_pool *pool;
    if (strata_pool_open(argv[1], &pool) != STRATA_OK) return 1;
    double best = 1e30;
    int64_t sum = 0;
    uint64_t bytes = 0;
    for (int rep = 0; rep < (getenv("TOUCH_REPS") ? atoi(getenv("TOUCH_REPS")) : 5); rep++) {
        double t0 = now();
        strata_snapshot *s;
        strata_dataset_desc d;
        if (strata_snapshot_open(pool, region, name, 0, &s) != STRATA_OK) {
            fprintf(stderr, "%s\n", strata_errmsg(pool));
            return 1;
        }
        for (int c = 0; c < nc; c++)
            if (strata_snapshot_column(s, argv[4 + c], &cols[c]) != STRATA_OK) {
                fprintf(stderr, "%s\n", strata_errmsg(pool));
                return 1;
            }
        strata_snapshot_info(s, &d);
        sum = 0;
        for (uint64_t b = 0; b < d.nbatches; b++) {
            strata_batch_info bi;
            if (strata_snapshot_batch(s, b, &bi) != STRATA_OK) return 1;
            sum += batch_sum(s, b, cols, nc, bi.nrows, nt);
        }
        strata_snapshot_close(s);
        double t = now() - t0;
        best = t < best ? t : best;
        bytes = d.nrows * 8 * (uint64_t)nc;
    }
    printf("touch_s %.6f\ntouch_bytes %llu\ntouch_sum %lld\n", best, (unsigned long long)bytes,
           (long long)sum);
    strata_pool_close(pool);
    return 0;
}
