/*
 * bench_arrow.c -- the Arrow stream export is zero-copy: exporting every batch of a dataset of
 * N rows costs the same for any N. Builds datasets of N1 and N2 rows (i64 and f64 columns, 1 M
 * rows per batch) in POOL, then times the export of every batch through the C Stream Interface
 * (schema, get_next and release of every array, touching no data) and, as the physical limit of
 * an export that copies, memcpy of the same bytes.
 *     bench_arrow POOL N1 N2     prints "arrow_N_s", "memcpy_N_s" and "bytes_N" per size
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
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int make(strata_pool *p, const char *name, uint64_t n)
{
    static const strata_column cols[] = {{"k", STRATA_I64}, {"v", STRATA_F64}};
    enum { BATCH = 1 << 20 };
    int64_t *k = malloc(BATCH * 8);
    double *v = malloc(BATCH * 8);
    strata_dataset *ds;
    int rc = strata_dataset_create(p, "b", name, cols, 2);
    if (rc == STRATA_OK) rc = strata_dataset_open(p, "b", name, &ds);
    for (uint64_t at = 0; rc == STRATA_OK && at < n; at += BATCH) {
        uint64_t m = n - at < BATCH ? n - at : BATCH;
        for (uint64_t i = 0; i < m; i++) {
            k[i] = (int64_t)((at + i) * 2654435761u);
            v[i] = (double)(at + i) * 0.5;
        }
        strata_batch *b;
        rc = strata_batch_begin(ds, &b);
        if (rc == STRATA_OK) rc = strata_batch_append(b, 0, k, m);
        if (rc == STRATA_OK) rc = strata_batch_append(b, 1, v, m);
        if (rc == STRATA_OK) rc = strata_batch_commit(b);
    }
    if (rc == STRATA_OK) rc = strata_publish(ds, NULL);
    strata_dataset_close(ds);
    free(k);
    free(v);
    return rc;
}

/* Export every batch of NAME as an Arrow stream; the best of 5 runs. */
static double export_all(strata_pool *p, const char *name, uint64_t *bytes)
{
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        strata_snapshot *s;
        if (strata_snapshot_open(p, "b", name, 0, &s) != STRATA_OK) return -1;
        double t0 = now();
        struct ArrowArrayStream st;
        struct ArrowSchema sc;
        if (strata_snapshot_arrow_stream(s, NULL, 0, &st) != STRATA_OK) return -1;
        st.get_schema(&st, &sc);
        *bytes = 0;
        for (;;) {
            struct ArrowArray a;
            if (st.get_next(&st, &a) != 0) return -1;
            if (a.release == NULL) break;
            *bytes += (uint64_t)a.length * 16;
            a.release(&a);
        }
        sc.release(&sc);
        st.release(&st);
        double t = now() - t0;
        if (t < best) best = t;
        strata_snapshot_close(s);
    }
    return best;
}

static double memcpy_all(uint64_t bytes)
{
    char *a = malloc(bytes), *b = malloc(bytes);
    if (a == NULL || b == NULL) return -1;
    memset(a, 1, bytes);
    memset(b, 2, bytes); /* both faulted in: memcpy at its best */
    double t0 = now();
    memcpy(b, a, bytes);
    double t = now() - t0;
    volatile char sink = b[bytes / 2];
    (void)sink;
    free(a);
    free(b);
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_arrow POOL N1 N2\n");
        return 2;
    }
    strata_pool *p;
    if (strata_pool_create(argv[1], &p) != STRATA_OK || strata_region_create(p, "b") != STRATA_OK)
        return 1;
    for (int i = 2; i <= 3; i++) {
        uint64_t n = strtoull(argv[i], NULL, 10), bytes = 0;
        char name[32];
        snprintf(name, sizeof name, "d%d", i);
        if (make(p, name, n) != STRATA_OK) {
            fprintf(stderr, "bench_arrow: %s\n", strata_errmsg(p));
            return 1;
        }
        double t = export_all(p, name, &bytes);
        printf("arrow_%llu_s %.9f\nbytes_%llu %llu\nmemcpy_%llu_s %.6f\n", (unsigned long long)n, t,
               (unsigned long long)n, (unsigned long long)bytes, (unsigned long long)n,
               memcpy_all(bytes));
    }
    strata_pool_close(p);
    return 0;
}
