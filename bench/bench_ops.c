/*
 * bench_ops.c -- the kernels of derived data on random i64 keys: sort and stable argsort of N
 * keys; filter compaction, gathers and expressions over M rows. The same data is written as NPY
 * for bench/numpy_ops.py and bench/node/duckdb_sort.mjs to time their peers on it in the same run.
 *
 *     bench_ops DIR [N] [RANGE] [M]   (RANGE: keys in [0, RANGE), 0 for the full 64 bits;
 *                                      M defaults to 2 N)
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

static void write_npy(const char *dir, const char *name, strata_dtype dt, const void *data,
                      uint64_t n)
{
    char path[4096], hdr[256];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    FILE *f = fopen(path, "wb");
    int hl = strata_npy_header(dt, n, hdr, sizeof hdr);
    fwrite(hdr, 1, (size_t)hl, f);
    fwrite(data, strata_dtype_size(dt), n, f);
    fclose(f);
    printf("%s_path %s\n", name, path);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Best of REPS runs of STMT, printed as NAME. */
#define TIME(name, reps, stmt)                                                                     \
    do {                                                                                           \
        double best_ = 1e30;                                                                       \
        for (int r_ = 0; r_ < (reps); r_++) {                                                      \
            double t0_ = now();                                                                    \
            stmt;                                                                                  \
            double t_ = now() - t0_;                                                               \
            best_ = t_ < best_ ? t_ : best_;                                                       \
        }                                                                                          \
        printf("%s %.6f\n", name, best_);                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 50000000ull;
    uint64_t range = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    uint64_t m = argc > 4 ? strtoull(argv[4], NULL, 10) : 2 * n;
    uint64_t big = n > m ? n : m, x = 0x9E3779B97F4A7C15ull;
    int64_t *k = malloc(big * 8), *v = malloc(big * 8), *res = malloc(big * 8);
    uint64_t *perm = malloc(big * 8), *ridx = malloc(m * 8);
    uint8_t *mask = malloc(m);
    for (uint64_t i = 0; i < big; i++) {
        uint64_t r = xorshift(&x);
        k[i] = range ? (int64_t)(r % range) : (int64_t)r;
        if (i < m) mask[i] = (r >> 20) % 4 == 0; /* 25 % selected */
    }
    for (uint64_t i = 0; i < m; i++) ridx[i] = xorshift(&x) % m;
    printf("n %llu\nm %llu\n", (unsigned long long)n, (unsigned long long)m);
    write_npy(argv[1], "keys", STRATA_I64, k, n);
    write_npy(argv[1], "rows", STRATA_I64, k, m);
    write_npy(argv[1], "mask", STRATA_BOOL, mask, m);
    write_npy(argv[1], "ridx", STRATA_U64, ridx, m);

    TIME("sort_s", 3, memcpy(v, k, n * 8); if (st_sort(STRATA_I64, v, n, 0, 2) < 0) return 1);
    TIME("sort_copy_s", 3, memcpy(v, k, n * 8)); /* the copy each value sort is timed with */
    /* the sort into another array (as np.sort, DuckDB's CREATE TABLE AS ... ORDER BY, and the
     * copy-then-sort the in-place peers are timed with, give one): the same values */
    TIME("sort_to_s", 3, if (st_sort_to(STRATA_I64, k, res, n, 0, 2) < 0) return 1);
    memcpy(v, k, n * 8);
    if (st_sort(STRATA_I64, v, n, 0, 2) < 0) return 1;
    if (memcmp(res, v, n * 8) != 0) printf("sort_to_differs 1\n");
    TIME("argsort_s", 3, if (st_argsort(STRATA_I64, k, n, NULL, perm, 0, 2) < 0) return 1);
    long long check = 0;
    for (uint64_t i = 0; i < n; i += n / 1000 + 1) check += k[perm[i]] & 1023;
    printf("argsort_check %lld\n", check);
    /* Inputs with structure: already sorted, sorted in reverse, and 1000 distinct keys. The
     * random keys are saved in RES and put back after. */
    memcpy(res, k, n * 8);
    memcpy(v, k, n * 8);
    if (st_sort(STRATA_I64, v, n, 0, 2) < 0) return 1;
    static const char *shape[] = {"sorted", "reversed", "few"};
    for (int sh = 0; sh < 3; sh++) {
        for (uint64_t i = 0; i < n; i++)
            k[i] = sh == 0 ? v[i] : sh == 1 ? v[n - 1 - i] : (int64_t)((uint64_t)res[i] % 1000);
        char name[64];
        snprintf(name, sizeof name, "sort_%s_s", shape[sh]);
        TIME(name, 3, memcpy(perm, k, n * 8);
             if (st_sort(STRATA_I64, (int64_t *)perm, n, 0, 2) < 0) return 1);
        snprintf(name, sizeof name, "sort_to_%s_s", shape[sh]);
        TIME(name, 3, if (st_sort_to(STRATA_I64, k, perm, n, 0, 2) < 0) return 1);
        snprintf(name, sizeof name, "argsort_%s_s", shape[sh]);
        TIME(name, 3, if (st_argsort(STRATA_I64, k, n, NULL, perm, 0, 2) < 0) return 1);
    }
    memcpy(k, res, n * 8);

    /* The physical limit of a pass over the M rows: a copy (read 8 bytes, write 8 bytes). */
    TIME("memcpy_s", 3, memcpy(res, k, m * 8));
    /* Over M rows: the positions of a 25 % mask, then gathers at them and at random rows. */
    uint64_t sel = 0;
    TIME("filter_s", 3, sel = st_filter_mask(mask, m, perm, 2));
    printf("filter_selected %llu\n", (unsigned long long)sel);
    TIME("gather_sel_s", 3, st_gather(8, k, perm, 0, NULL, sel, res, 2));
    TIME("gather_rand_s", 3, st_gather(8, k, ridx, 0, NULL, m, res, 2));
    long long gsum = 0;
    for (uint64_t i = 0; i < m; i += m / 1000 + 1) gsum += res[i] & 1023;
    printf("gather_check %lld\n", gsum);

    /* Expressions over the rows as two columns: an arithmetic column, and a filter (predicate
     * evaluated to a mask, then compacted), the way derived data computes them. */
    strata_column cols[2] = {{"a", STRATA_I64}, {"b", STRATA_I64}};
    st_expr_input in[2] = {{k, NULL, NULL}, {v, NULL, NULL}};
    for (uint64_t i = 0; i < m; i++) v[i] = k[i] >> 3;
    st_err err;
    st_err_init(&err);
    st_expr *sub, *pred;
    if (st_expr_parse(&err, "a - b", cols, 2, &sub) != 0 ||
        st_expr_parse(&err, "a > 4611686018427387904", cols, 2, &pred) != 0)
        return 1;
    TIME("expr_sub_s", 3, st_expr_eval(&err, sub, in, m, res, 2));
    TIME("expr_filter_s", 3, st_expr_filter(&err, pred, in, m, perm, &sel, 2));
    printf("expr_filter_selected %llu\n", (unsigned long long)sel);
    st_expr_free(sub);
    st_expr_free(pred);
    st_err_destroy(&err);
    free(res);
    free(k);
    free(v);
    free(perm);
    free(ridx);
    free(mask);
    return 0;
}
