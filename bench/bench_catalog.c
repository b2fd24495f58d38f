/*
 * bench_catalog.c -- what a catalog costs: publishes of one small batch, one process after
 * another and from several processes at once, on whatever catalog the pool has (SQLite, or
 * PostgreSQL: bench/bench_catalog.sh runs it on both, same run).
 *
 *   bench_catalog POOL latency N          N publishes of a 100-row batch, one process: prints
 *                                         "publish_us MEDIAN P90 MEAN"
 *   bench_catalog POOL throughput N P     P processes, each N/P publishes into a dataset of its
 *                                         own: prints "publishes_per_s RATE"
 *   bench_catalog POOL populate N RUNS    application "sim" (attribute grid), RUNS runs that save
 *                                         N iterations in all of a 16-value dataset "t": prints
 *                                         "saves_per_s RATE"
 *   bench_catalog POOL find N PER_RUN     catalog-heavy reads, best of N: strata_find over every
 *                                         saved iteration, over one run's (a condition on an
 *                                         attribute), and over the last 10 iterations of each
 *                                         run: prints "find_ms ALL ONE_RUN LAST10 ROWS"
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

/* RUNS runs of "sim", N saves of dataset "t" in all. */
static void populate(const char *path, int n, int runs)
{
    strata_pool *p;
    int rc = strata_pool_open(path, &p);
    if (rc < 0) die(NULL, "open", rc);
    strata_attr_def schema[] = {{"grid", STRATA_ATTR_INT}};
    if ((rc = strata_app_register(p, "sim", schema, 1)) < 0) die(p, "register", rc);
    strata_mdms *m;
    if ((rc = strata_mdms_init(p, "sim", NULL, &m)) < 0) die(p, "mdms", rc);
    double buf[16] = {0};
    uint64_t dims[1] = {16};
    const char *names[] = {"t"};
    double t0 = now();
    for (int r = 0; r < runs; r++) {
        strata_attr a = {.name = "grid", .type = STRATA_ATTR_INT, .i = r};
        strata_assoc *as;
        if ((rc = strata_run_begin(m, &a, 1, NULL)) < 0) die(p, "run", rc);
        if ((rc = strata_assoc_create(m, names, 1, STRATA_F64, 1, dims, "(block)", NULL, &as)) <
                0 ||
            (rc = strata_save_begin(as)) < 0)
            die(p, "assoc", rc);
        for (int i = 0; i < n / runs; i++) {
            buf[0] = i;
            if ((rc = strata_save(as, "t", i, buf)) < 0) die(p, "save", rc);
        }
        if ((rc = strata_save_end(as)) < 0) die(p, "save end", rc);
        strata_assoc_close(as);
        if ((rc = strata_run_end(m, 1)) < 0) die(p, "run end", rc);
    }
    printf("saves_per_s %.0f\n", (double)(n / runs * runs) / (now() - t0));
    strata_mdms_finalize(m);
    strata_pool_close(p);
}

static int count_row(void *ctx, const strata_exec_info *e)
{
    (void)e;
    ++*(long *)ctx;
    return 0;
}

/* The best of N strata_find calls with WHERE; its rows into *ROWS. */
static double find_ms(strata_pool *p, const char *where, int n, long *rows)
{
    double best = 1e30;
    for (int i = 0; i < n; i++) {
        long k = 0;
        double t0 = now();
        int rc = strata_find(p, "sim", "t", where, count_row, &k);
        if (rc < 0) die(p, "find", rc);
        double t = now() - t0;
        if (t < best) best = t;
        *rows = k;
    }
    return best * 1e3;
}

static void finds(const char *path, int n, int per_run)
{
    strata_pool *p;
    int rc = strata_pool_open(path, &p);
    if (rc < 0) die(NULL, "open", rc);
    long all, one, last;
    double a = find_ms(p, NULL, n, &all);
    double o = find_ms(p, "grid = 7", n, &one);
    char cond[64];
    snprintf(cond, sizeof cond, "iteration >= %d", per_run - 10);
    double l = find_ms(p, cond, n, &last);
    printf("find_ms %.2f %.2f %.2f %ld %ld %ld\n", a, o, l, all, one, last);
    strata_pool_close(p);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_catalog POOL latency N | POOL throughput N PROCS | "
                        "POOL populate N RUNS | POOL find N PER_RUN\n");
        return 1;
    }
    const char *path = argv[1];
    int n = atoi(argv[3]);
    if (n < 1) n = 1;
    if (strcmp(argv[2], "populate") == 0) {
        populate(path, n, argc > 4 && atoi(argv[4]) > 0 ? atoi(argv[4]) : 100);
        return 0;
    }
    if (strcmp(argv[2], "find") == 0) {
        finds(path, n, argc > 4 ? atoi(argv[4]) : 1000);
        return 0;
    }
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
