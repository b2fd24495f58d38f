/*
 * bench_ops.c -- the sort, argsort and filter kernels on N random i64 keys; the same keys are
 * written as NPY for bench/numpy_ops.py to time numpy on them in the same run.
 *
 *     bench_ops DIR [N] [RANGE]     (RANGE: keys in [0, RANGE); 0 means the full 64 bits)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr/expr.h"
#include "ops/ops.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void write_npy(const char *path, const void *data, uint64_t n)
{
    FILE *f = fopen(path, "wb");
    char hdr[256];
    int hl = strata_npy_header(STRATA_I64, n, hdr, sizeof hdr);
    fwrite(hdr, 1, (size_t)hl, f);
    fwrite(data, 8, n, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 50000000ull;
    uint64_t range = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    int64_t *k = malloc(n * 8), *v = malloc(n * 8);
    uint64_t *perm = malloc(n * 8);
    uint8_t *mask = malloc(n);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        k[i] = range ? (int64_t)(x % range) : (int64_t)x;
        mask[i] = (x >> 20) % 4 == 0; /* 25 % selected */
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/keys.npy", argv[1]);
    write_npy(path, k, n);
    printf("keys_path %s\nn %llu\n", path, (unsigned long long)n);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        memcpy(v, k, n * 8);
        double t0 = now();
        if (st_sort(STRATA_I64, v, n, 0, 2) < 0) return 1;
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("sort_s %.6f\n", best);
    best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        if (st_argsort(STRATA_I64, k, n, NULL, perm, 0, 2) < 0) return 1;
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("argsort_s %.6f\n", best);
    long long check = 0;
    for (uint64_t i = 0; i < n; i += n / 1000 + 1) check += k[perm[i]] & 1023;
    printf("argsort_check %lld\n", check);
    best = 1e30;
    uint64_t sel = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        sel = st_filter_mask(mask, n, perm, 2);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("filter_s %.6f\nfilter_selected %llu\n", best, (unsigned long long)sel);

    /* Expressions over the keys as two columns: an arithmetic column, and a filter (predicate
     * evaluated to a mask, then compacted), the way derived data computes them. */
    strata_column cols[2] = {{"a", STRATA_I64}, {"b", STRATA_I64}};
    st_expr_input in[2] = {{k, NULL}, {v, NULL}};
    memcpy(v, k, n * 8);
    for (uint64_t i = 0; i < n; i++) v[i] >>= 3;
    st_err err;
    st_err_init(&err);
    st_expr *sub, *pred;
    if (st_expr_parse(&err, "a - b", cols, 2, &sub) != 0 ||
        st_expr_parse(&err, "a > 4611686018427387904", cols, 2, &pred) != 0)
        return 1;
    int64_t *res = malloc(n * 8);
    best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        st_expr_eval(&err, sub, in, n, res, 2);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("expr_sub_s %.6f\n", best);
    best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        st_expr_filter(&err, pred, in, n, perm, &sel, 2);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    printf("expr_filter_s %.6f\nexpr_filter_selected %llu\n", best, (unsigned long long)sel);
    st_expr_free(sub);
    st_expr_free(pred);
    st_err_destroy(&err);
    free(res);
    free(k);
    free(v);
    free(perm);
    free(mask);
    return 0;
}
