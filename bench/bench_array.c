/*
 * bench_array.c -- the pool's data path against its physical limit (memcpy) on the same data.
 *
 *     bench_array DIR [N] [M]
 *
 * Creates a pool in DIR (use a tmpfs such as /dev/shm), an i64 array of N elements (default
 * 100 M) and M random indices (default 10 M), and times: slice get and put against memcpy of the
 * same bytes; gather and scatter of the M indices; fetch_add throughput (one process, and two
 * processes on one element). Writes the indices and values as NPY files into DIR so that
 * bench/numpy_peer.py can time numpy on exactly the same data. Prints "key value" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strata.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != STRATA_OK) {                                                                    \
            fprintf(stderr, "%s: %s\n", #expr, strata_errmsg(pool));                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define REPS 5

/* Best of REPS runs of a statement, in seconds. */
#define BEST(var, stmt)                                                                            \
    do {                                                                                           \
        var = 1e30;                                                                                \
        for (int r_ = 0; r_ < REPS; r_++) {                                                        \
            double t0_ = now();                                                                    \
            stmt;                                                                                  \
            double dt_ = now() - t0_;                                                              \
            if (dt_ < var) var = dt_;                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_array DIR [N] [M]\n");
        return 2;
    }
    const char *dir = argv[1];
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000000ull;
    uint64_t m = argc > 3 ? strtoull(argv[3], NULL, 10) : 10000000ull;
    char path[4096];
    snprintf(path, sizeof path, "%s/pool", dir);
    strata_pool *pool;
    if (strata_pool_create(path, &pool) != STRATA_OK) {
        fprintf(stderr, "cannot create pool %s\n", path);
        return 1;
    }
    CHECK(strata_region_create(pool, "bench"));
    size_t bytes = n * sizeof(int64_t);
    int64_t *src = malloc(bytes), *dst = malloc(bytes);
    for (uint64_t i = 0; i < n; i++) src[i] = (int64_t)i;
    memset(dst, 1, bytes);
    strata_array *a;
    CHECK(strata_array_create_from(pool, "bench", "a", STRATA_I64, n, src, &a));
    strata_array_info info;
    CHECK(strata_array_stat(a, 0, &info));
    printf("array_path %s\n", info.path);
    printf("n %llu\nm %llu\n", (unsigned long long)n, (unsigned long long)m);

    /* Slices against memcpy of the same bytes between two touched buffers. */
    double t;
    BEST(t, memcpy(dst, src, bytes));
    printf("memcpy_s %.6f\n", t);
    CHECK(strata_array_get(a, 0, n, dst)); /* fault the mapping in */
    BEST(t, CHECK(strata_array_get(a, 0, n, dst)));
    printf("get_s %.6f\n", t);
    BEST(t, CHECK(strata_array_put(a, 0, n, src)));
    printf("put_s %.6f\n", t);
    CHECK(strata_pool_set_threads(pool, 1));
    BEST(t, CHECK(strata_array_get(a, 0, n, dst)));
    printf("get_1t_s %.6f\n", t);
    BEST(t, CHECK(strata_array_put(a, 0, n, src)));
    printf("put_1t_s %.6f\n", t);
    CHECK(strata_pool_set_threads(pool, 0));

    /* Random indices and values, shared with the numpy peer through NPY files in the pool. */
    uint64_t *idx = malloc(m * sizeof *idx);
    int64_t *vals = malloc(m * sizeof *vals), *out = malloc(m * sizeof *out);
    uint64_t x = 88172645463325252ull;
    for (uint64_t i = 0; i < m; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        idx[i] = x % n;
        vals[i] = -(int64_t)i;
    }
    strata_array *ia, *va;
    CHECK(strata_array_create_from(pool, "bench", "idx", STRATA_U64, m, idx, &ia));
    CHECK(strata_array_create_from(pool, "bench", "vals", STRATA_I64, m, vals, &va));
    CHECK(strata_array_stat(ia, 0, &info));
    printf("idx_path %s\n", info.path);
    CHECK(strata_array_stat(va, 0, &info));
    printf("vals_path %s\n", info.path);
    BEST(t, CHECK(strata_array_gather(a, idx, m, out)));
    printf("gather_s %.6f\n", t);
    BEST(t, CHECK(strata_array_scatter(a, idx, m, vals)));
    printf("scatter_s %.6f\n", t);
    CHECK(strata_pool_set_threads(pool, 1));
    BEST(t, CHECK(strata_array_gather(a, idx, m, out)));
    printf("gather_1t_s %.6f\n", t);
    BEST(t, CHECK(strata_array_scatter(a, idx, m, vals)));
    printf("scatter_1t_s %.6f\n", t);
    CHECK(strata_pool_set_threads(pool, 0));

    /* fetch_add: one process on spread elements, then two processes on one element. */
    const uint64_t ops = 10000000;
    double t0 = now();
    for (uint64_t i = 0; i < ops; i++) CHECK(strata_array_fetch_add_i64(a, i & 1023, 1, NULL));
    printf("fetch_add_ops_per_s %.0f\n", (double)ops / (now() - t0));
    t0 = now();
    for (int p = 0; p < 2; p++) {
        if (fork() == 0) {
            strata_pool *mine;
            strata_array *c;
            if (strata_pool_open(path, &mine) != STRATA_OK ||
                strata_array_open(mine, "bench", "a", &c) != STRATA_OK)
                _exit(1);
            for (uint64_t i = 0; i < ops / 2; i++) strata_array_fetch_add_i64(c, 7, 1, NULL);
            _exit(0);
        }
    }
    while (wait(NULL) > 0) {
    }
    printf("fetch_add_2proc_contended_ops_per_s %.0f\n", (double)ops / (now() - t0));
    free(src);
    free(dst);
    free(idx);
    free(vals);
    free(out);
    strata_pool_close(pool);
    return 0;
}
