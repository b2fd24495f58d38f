/*
 * bench_read.c -- read a whole column of a dataset into memory (strata_snapshot_read), the
 * peer of numpy.load on the same column exported as one NPY file.
 *
 *     bench_read POOL REGION/NAME COLUMN
 *
 * Prints "read_s SECONDS" (best of 3) and "read_sum SUM" (to check both read the same data).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_read POOL REGION/NAME COLUMN\n");
        return 2;
    }
    char region[256], *name = strchr(argv[2], '/');
    if (name == NULL) return 2;
    snprintf(region, sizeof region, "%.*s", (int)(name - argv[2]), argv[2]);
    name++;
    strata_pool *pool;
    if (strata_pool_open(argv[1], &pool) != STRATA_OK) return 1;
    double best = 1e30;
    long long sum = 0;
    for (int rep = 0; rep < 3; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        strata_snapshot *s;
        int col;
        strata_dataset_desc d;
        if (strata_snapshot_open(pool, region, name, 0, &s) != STRATA_OK ||
            strata_snapshot_column(s, argv[3], &col) != STRATA_OK) {
            fprintf(stderr, "%s\n", strata_errmsg(pool));
            return 1;
        }
        strata_snapshot_info(s, &d);
        int64_t *buf = malloc(d.nrows * sizeof *buf);
        if (buf == NULL || strata_snapshot_read(s, col, 0, d.nrows, buf) != STRATA_OK) return 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double t = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (t < best) best = t;
        sum = 0;
        for (uint64_t i = 0; i < d.nrows; i++) sum += buf[i];
        free(buf);
        strata_snapshot_close(s);
    }
    printf("read_s %.6f\nread_sum %lld\n", best, sum);
    strata_pool_close(pool);
    return 0;
}
