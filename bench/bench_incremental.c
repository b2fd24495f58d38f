/*
 * bench_incremental.c -- the incremental update of a derived dataset in a long-running process
 * (what `strata watch` and an application calling strata_update() pay), against its full refresh
 * in the same process.
 *
 *     bench_incremental POOL REGION/TARGET REGION/PARENT CSV APPENDS
 *
 * TARGET must be up to date. Times strata_update() of TARGET with opts.full (best of 3), then
 * APPENDS times: ingest CSV into PARENT as one batch (not timed) and time the incremental
 * strata_update() of TARGET. Prints "full_s", "inc_median_s", "inc_mean_s", "inc_min_s" and
 * "inc_max_s" (wall time), "inc_cpu_mean_s" (CPU time of all threads) and the median and the mean
 * as a share of the full refresh. With BENCH_INC_ONLY set in the environment the full refresh is
 * skipped (to profile the increments alone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct timespec t;
    clock_gettime(getenv("BENCH_THREAD_CPU") ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID,
                  &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Split "REGION/NAME" into REGION (at most LEN bytes) and a pointer to NAME; NULL if no '/'. */
static const char *split(const char *arg, char *region, size_t len)
{
    const char *slash = strchr(arg, '/');
    if (slash == NULL) return NULL;
    snprintf(region, len, "%.*s", (int)(slash - arg), arg);
    return slash + 1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_incremental POOL REGION/TARGET REGION/PARENT CSV APPENDS\n");
        return 2;
    }
    char treg[256], preg[256];
    const char *tname = split(argv[2], treg, sizeof treg);
    const char *pname = split(argv[3], preg, sizeof preg);
    int n = atoi(argv[5]);
    if (tname == NULL || pname == NULL || n < 1) return 2;
    strata_pool *pool;
    if (strata_pool_open(argv[1], &pool) != STRATA_OK) return 1;
    strata_update_opts full = {0};
    full.full = 1;
    double best = 1e30;
    int reps = getenv("BENCH_INC_ONLY") ? 0 : 3;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now();
        if (strata_update(pool, treg, tname, &full, NULL) != STRATA_OK) goto fail;
        double t = now() - t0;
        if (t < best) best = t;
    }
    double *inc = malloc((size_t)n * sizeof *inc), sum = 0, cpusum = 0;
    if (inc == NULL) return 1;
    const char *files[1] = {argv[4]};
    for (int i = 0; i < n; i++) {
        if (strata_ingest_csv(pool, preg, pname, files, 1, NULL, NULL) != STRATA_OK) goto fail;
        double t0 = now(), c0 = cpu();
        if (strata_update(pool, treg, tname, NULL, NULL) != STRATA_OK) goto fail;
        inc[i] = now() - t0;
        cpusum += cpu() - c0;
        sum += inc[i];
    }
    qsort(inc, (size_t)n, sizeof *inc, cmp_double);
    double med = inc[n / 2], mean = sum / n;
    printf("full_s %.6f\ninc_median_s %.6f\ninc_mean_s %.6f\ninc_min_s %.6f\ninc_max_s %.6f\n",
           best, med, mean, inc[0], inc[n - 1]);
    printf("inc_cpu_mean_s %.6f\n", cpusum / n);
    printf("inc_median_share %.4f\ninc_mean_share %.4f\n", med / best, mean / best);
    free(inc);
    strata_pool_close(pool);
    return 0;
fail:
    fprintf(stderr, "bench_incremental: %s\n", strata_errmsg(pool));
    strata_pool_close(pool);
    return 1;
}
