/*
 * bench_catalog.c -- what a catalog costs: publishes of one small batch, one process after
 * another and from several processes at once, on whatever catalog the pool has (SQLite, or
 * PostgreSQL: bench/bench_catalog.sh runs it on both, same run).
 *
 *   bench_catalog POOL latency N          N publishes of a 100-row batch, one process: prints
 *                                         "publish_us MEDIAN P90 MEAN"
 *   bench_catalog POOL throughput N P     P processes, each N/P publishes into a dataset of its
 *                                         own: prints "publishes_per_s RATE"
 *
 * POOL exists (strata init); the datasets are made here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strata.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(strata_pool *p, const char *what, int rc)
{
    fprintf(stderr, "bench_catalog: %s: %s\n", what, p ? strata_errmsg(p) : strata_strerror(rc));
    exit(1);
}

/* N publishes of a 100-row batch into dataset b/NAME; each one's seconds into T (may be NULL). */
static void publishes(const char *path, const char *name, int n, double *t)
{
    strata_pool *p;
    int rc = strata_pool_open(path, &p);
    if (rc < 0) die(NULL, "open", rc);
    strata_column cols[1] = {{"v", STRATA_I64}};
    if ((rc = strata_region_create(p, "b")) < 0 && rc != STRATA_EEXIST) die(p, "region", rc);
    if ((rc = strata_dataset_create(p, "b", name, cols, 1)) < 0) die(p, "create", rc);
    strata_dataset *ds;
    if ((rc = strata_dataset_open(p, "b", name, &ds)) < 0) die(p, "dataset", rc);
    int64_t v[100];
    for (int i = 0; i < 100; i++) v[i] = i;
    for (int i = 0; i < n; i++) {
        double t0 = now();
        strata_batch *b;
        if ((rc = strata_batch_begin(ds, &b)) < 0) die(p, "begin", rc);
        if ((rc = strata_batch_append(b, 0, v, 100)) < 0) die(p, "append", rc);
        if ((rc = strata_batch_commit(b)) < 0) die(p, "commit", rc);
        if ((rc = strata_publish(ds, NULL)) < 0) die(p, "publish", rc);
        if (t != NULL) t[i] = now() - t0;
    }
    strata_dataset_close(ds);
    strata_pool_close(p);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_catalog POOL latency N | POOL throughput N PROCS\n");
        return 1;
    }
    const char *path = argv[1];
    int n = atoi(argv[3]);
    if (n < 1) n = 1;
    if (strcmp(argv[2], "latency") == 0) {
        double *t = calloc((size_t)n, sizeof *t);
        publishes(path, "latency", n, t);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += t[i];
        qsort(t, (size_t)n, sizeof *t, cmp_double);
        printf("publish_us %.0f %.0f %.0f\n", t[n / 2] * 1e6, t[n * 9 / 10] * 1e6, sum / n * 1e6);
        free(t);
        return 0;
    }
    int procs = argc > 4 ? atoi(argv[4]) : 4;
    if (procs < 1) procs = 1;
    char name[32];
    double t0 = now();
    for (int k = 0; k < procs; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            snprintf(name, sizeof name, "w%d_of_%d", k, procs);
            publishes(path, name, n / procs, NULL);
            _exit(0);
        }
    }
    int bad = 0, st;
    while (wait(&st) > 0) bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    double dt = now() - t0;
    if (bad) return 1;
    printf("publishes_per_s %.0f\n", (double)(n / procs * procs) / dt);
    return 0;
}
