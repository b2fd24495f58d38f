/*
 * bench_nd.c -- the MDMS paper's Tables 3 and 4, scaled by 1/10, and the prefetch of steps.
 *
 *     bench_nd DIR [REPS]
 *
 * A 5000 x 5000 f32 array (the paper's 50000 x 50000 / 10) stored by Strata chunked 200 x 200
 * ("small chunks"), chunked 400 x 400 ("large") and contiguous row-major, and by HDF5 the same
 * three ways. Access patterns A-H of Table 3 with coordinates / 10; the paper's first
 * coordinate varies fastest, so (x0,y0)-(x1,y1) is rows y0..y1, columns x0..x1.
 *
 * 1. Fast tier, page cache warm: every read includes opening and closing (Strata: pool and
 *    array; HDF5: file and dataset); the best of REPS. Prints our time / HDF5's per pattern.
 * 2. Archive tier: naive = the contiguous file on the archive, staged whole, then read;
 *    subfiled = the chunked array on the archive, only the chunks the region needs staged.
 *    Measured time and bytes staged on this machine, and the time a tape with the tier's
 *    declared characteristics would take (latency per file + bytes / bandwidth), as the paper's
 *    gain % table.
 * 3. Prefetch: 20 steps of 2000 x 2000 f32 (zstd), each read then computed on, with and without
 *    STRATA_ND_SEQUENTIAL: the read time hidden.
 */
#define _GNU_SOURCE
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata.h"

#define N        5000
#define TAPE_LAT 1.0    /* s per file: a tape/HPSS request */
#define TAPE_BW  12.5e6 /* bytes/s: the paper's naive rate (10 GB in about 800 s) */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(strata_pool *p, const char *what, int rc)
{
    fprintf(stderr, "bench_nd: %s: %s (%s)\n", what, strata_strerror(rc),
            p ? strata_errmsg(p) : "");
    exit(1);
}
#define OK(p, x)                                                                                   \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_ != STRATA_OK) die(p, #x, rc_);                                                     \
    } while (0)

typedef struct {
    const char *name;
    uint64_t y, x, ny, nx;
} pattern;

/* Table 3 / 10: (x0,y0)-(x1,y1) -> rows y0..y1, columns x0..x1 */
static const pattern pats[] = {
    {"A", 0, 0, 100, 100}, {"B", 0, 0, 100, 400}, {"C", 0, 0, 100, 2400}, {"D", 500, 500, 100, 100},
    {"E", 0, 0, 8, 5000},  {"F", 0, 0, 5000, 8},  {"G", 0, 0, 400, 100},  {"H", 600, 600, 200, 200},
};
#define NPAT (sizeof pats / sizeof pats[0])

static char pool_path[4096], h5_path[3][4200];
static const char *layouts[3] = {"small", "large", "contig"};

/* One read by Strata: with OPEN_POOL the pool is opened and closed too (a new process's first
 * read); else only the array, on the open pool SHARED (a process that keeps its pool open). */
static double read_ours(int which, const pattern *p, float *buf, strata_pool *shared)
{
    static const char *names[3] = {"small", "large", "contig"};
    double t0 = now();
    strata_pool *pool = shared;
    strata_ndarray *a;
    if (shared == NULL) OK(NULL, strata_pool_open(pool_path, &pool));
    OK(pool, strata_ndarray_open(pool, "bench", names[which], NULL, &a));
    uint64_t s[2] = {p->y, p->x}, c[2] = {p->ny, p->nx};
    OK(pool, strata_ndarray_read(a, s, c, buf));
    strata_ndarray_close(a);
    if (shared == NULL) strata_pool_close(pool);
    return now() - t0;
}

static double read_h5(int which, const pattern *p, float *buf)
{
    double t0 = now();
    hid_t f = H5Fopen(h5_path[which], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "a", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t s[2] = {p->y, p->x}, c[2] = {p->ny, p->nx};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, s, NULL, c, NULL);
    hid_t ms = H5Screate_simple(2, c, NULL);
    if (H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf) < 0) {
        fprintf(stderr, "bench_nd: HDF5 read failed\n");
        exit(1);
    }
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
    return now() - t0;
}

static void check(const pattern *p, const float *buf)
{
    for (uint64_t i = 0; i < p->ny; i += p->ny / 3 + 1)
        for (uint64_t j = 0; j < p->nx; j += p->nx / 3 + 1) {
            float want = (float)((p->y + i) * N + p->x + j);
            if (buf[i * p->nx + j] != want) {
                fprintf(stderr, "bench_nd: pattern %s: wrong value at (%llu, %llu)\n", p->name,
                        (unsigned long long)i, (unsigned long long)j);
                exit(1);
            }
        }
}

static void make_h5(int which, const float *data)
{
    hsize_t dims[2] = {N, N};
    hid_t f = H5Fcreate(h5_path[which], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (which < 2) {
        hsize_t ch[2] = {which == 0 ? 200 : 400, which == 0 ? 200 : 400};
        H5Pset_chunk(dcpl, 2, ch);
    }
    hid_t d = H5Dcreate2(f, "a", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_nd DIR [REPS]\n");
        return 1;
    }
    const char *dir = argv[1];
    int reps = argc > 2 ? atoi(argv[2]) : 15;
    snprintf(pool_path, sizeof pool_path, "%s/pool", dir);
    for (int i = 0; i < 3; i++)
        snprintf(h5_path[i], sizeof h5_path[i], "%s/%s.h5", dir, layouts[i]);
    float *data = malloc((size_t)N * N * sizeof *data);
    float *buf = malloc((size_t)N * N * sizeof *buf);
    for (size_t i = 0; i < (size_t)N * N; i++) data[i] = (float)i;

    strata_pool *pool;
    OK(NULL, strata_pool_create(pool_path, &pool));
    OK(pool, strata_region_create(pool, "bench"));
    uint64_t dims[2] = {N, N}, s0[2] = {0, 0}, small[2] = {200, 200}, large[2] = {400, 400};
    strata_ndarray *a;
    strata_ndarray_opts chunked = {.layout = STRATA_LAYOUT_CHUNKED};
    strata_ndarray_opts row = {.layout = STRATA_LAYOUT_ROW};
    OK(pool,
       strata_ndarray_create(pool, "bench", "small", STRATA_F32, 2, dims, small, &chunked, &a));
    OK(pool, strata_ndarray_write(a, s0, dims, data));
    strata_ndarray_close(a);
    OK(pool,
       strata_ndarray_create(pool, "bench", "large", STRATA_F32, 2, dims, large, &chunked, &a));
    OK(pool, strata_ndarray_write(a, s0, dims, data));
    strata_ndarray_close(a);
    OK(pool, strata_ndarray_create(pool, "bench", "contig", STRATA_F32, 2, dims, NULL, &row, &a));
    OK(pool, strata_ndarray_write(a, s0, dims, data));
    strata_ndarray_close(a);
    for (int i = 0; i < 3; i++) make_h5(i, data);

    /* ---- 1. fast tier vs HDF5 ---- */
    printf("\n1. Region reads on a fast tier (page cache warm); best of %d.\n"
           "   h5: H5Fopen + H5Dopen + H5Dread + closes. ours: strata_ndarray_open + read + close\n"
           "   on an open pool; ratio = ours / h5 (target <= 1.0). pool+: ours also opening and\n"
           "   closing the pool (its SQLite catalog) around every read.\n\n",
           reps);
    printf("%-3s %8s |", "pat", "elements");
    for (int w = 0; w < 3; w++)
        printf(" %8s %8s %8s %5s %6s |", "h5", "ours", "pool+", "ratio",
               w == 0   ? "(200)"
               : w == 1 ? "(400)"
                        : "(cont)");
    printf("\n");
    double worst = 0, worst_pool = 0;
    for (size_t k = 0; k < NPAT; k++) {
        const pattern *p = &pats[k];
        printf("%-3s %8llu |", p->name, (unsigned long long)(p->ny * p->nx));
        for (int w = 0; w < 3; w++) {
            double bo = 1e9, bp = 1e9, bh = 1e9;
            for (int r = 0; r < reps; r++) {
                double t = read_ours(w, p, buf, pool);
                if (r == 0) check(p, buf);
                if (t < bo) bo = t;
                t = read_ours(w, p, buf, NULL);
                if (t < bp) bp = t;
                t = read_h5(w, p, buf);
                if (r == 0) check(p, buf);
                if (t < bh) bh = t;
            }
            printf(" %6.3fms %6.3fms %6.3fms %5.2f %6s |", bh * 1e3, bo * 1e3, bp * 1e3, bo / bh,
                   "");
            if (bo / bh > worst) worst = bo / bh;
            if (bp / bh > worst_pool) worst_pool = bp / bh;
        }
        printf("\n");
    }
    printf("\nworst ratio %.2f (with the pool opened per read: %.2f)\n", worst, worst_pool);

    /* ---- 2. archive: naive vs subfiled ---- */
    char tape[4200];
    snprintf(tape, sizeof tape, "%s/tape", dir);
    OK(pool, strata_tier_add(pool, "tape", tape, STRATA_TIER_ARCHIVE, 0, TAPE_BW, TAPE_LAT));
    uint64_t moved;
    for (int w = 0; w < 3; w++)
        OK(pool, strata_ndarray_migrate(pool, "bench", layouts[w], "tape", 0, UINT64_MAX, &moved));
    printf(
        "\n2. Reads from an archive tier: naive = stage the whole contiguous file, then read;\n"
        "   subfiled = stage only the chunks the region needs, then read. Measured here, and\n"
        "   modeled for a tape of %.1f s per file and %.1f MB/s (the tier's declared\n"
        "   characteristics): files x latency + bytes / bandwidth. gain = 1 - subfiled/naive.\n\n",
        TAPE_LAT, TAPE_BW / 1e6);
    printf("%-4s | %10s %8s %8s | %10s %7s %7s %7s | %10s %7s %7s %7s\n", "pat", "naive MB",
           "meas s", "tape s", "small MB", "files", "meas %", "tape %", "large MB", "files",
           "meas %", "tape %");
    for (size_t k = 0; k < NPAT; k++) {
        const pattern *p = &pats[k];
        double tm[3], tt[3];
        uint64_t bytes[3], files[3];
        for (int w = 2; w >= 0; w--) {
            char tname[32], tdir[4300];
            snprintf(tname, sizeof tname, "st%zu_%d", k, w);
            snprintf(tdir, sizeof tdir, "%s/%s", dir, tname);
            OK(pool, strata_tier_add(pool, tname, tdir, STRATA_TIER_SSD, 0, 0, 0));
            uint64_t s[2] = {p->y, p->x}, c[2] = {p->ny, p->nx};
            double t0 = now();
            strata_stage *st;
            strata_stage_stats ss;
            /* naive: the whole contiguous file; subfiled: the region's chunks */
            OK(pool, strata_stage_start(pool, "bench", layouts[w], w == 2 ? NULL : s,
                                        w == 2 ? NULL : c, tname, &st));
            OK(pool, strata_stage_wait(st, &ss, NULL, 0));
            strata_ndarray_open_opts oo = {.stage_tier = tname};
            OK(pool, strata_ndarray_open(pool, "bench", layouts[w], &oo, &a));
            OK(pool, strata_ndarray_read(a, s, c, buf));
            strata_ndarray_close(a);
            tm[w] = now() - t0;
            check(p, buf);
            bytes[w] = ss.bytes_read;
            files[w] = ss.chunks_staged;
            tt[w] = (double)files[w] * TAPE_LAT + (double)bytes[w] / TAPE_BW;
            OK(pool, strata_tier_remove(pool, tname));
        }
        printf("%-4s | %10.1f %8.3f %8.2f |", p->name, bytes[2] / 1e6, tm[2], tt[2]);
        for (int w = 0; w < 2; w++)
            printf(" %10.2f %7llu %6.1f%% %6.1f%% |", bytes[w] / 1e6, (unsigned long long)files[w],
                   100.0 * (1 - tm[w] / tm[2]), 100.0 * (1 - tt[w] / tt[2]));
        printf("\n");
    }

    /* ---- 3. prefetch ---- */
    uint64_t sd[3] = {0, 2000, 2000}, sc[3] = {1, 500, 500};
    strata_ndarray_opts z = {.layout = STRATA_LAYOUT_CHUNKED, .zstd_level = 1};
    OK(pool, strata_ndarray_create(pool, "bench", "steps", STRATA_F32, 3, sd, sc, &z, &a));
    for (int s = 0; s < 20; s++) {
        for (size_t i = 0; i < 2000 * 2000; i++) data[i] = (float)(s + i % 977);
        OK(pool, strata_ndarray_append_step(a, data, NULL));
    }
    strata_ndarray_close(a);
    double read_only = 0, plain = 0, seq = 0, sink = 0;
    for (int mode = 0; mode < 3; mode++) {
        strata_ndarray_open_opts oo = {.hints = mode == 2 ? STRATA_ND_SEQUENTIAL : 0};
        OK(pool, strata_ndarray_open(pool, "bench", "steps", &oo, &a));
        double t0 = now();
        for (uint64_t s = 0; s < 20; s++) {
            uint64_t st[3] = {s, 0, 0}, c[3] = {1, 2000, 2000};
            OK(pool, strata_ndarray_read(a, st, c, buf));
            if (mode == 0) continue;
            /* the computation on a step: a few passes of arithmetic */
            for (int pass = 0; pass < 6; pass++)
                for (size_t i = 0; i < 2000 * 2000; i++) sink += sqrt(fabs(buf[i]) + pass);
        }
        double t = now() - t0;
        strata_ndarray_close(a);
        if (mode == 0) read_only = t;
        if (mode == 1) plain = t;
        if (mode == 2) seq = t;
    }
    printf("\n3. Prefetch: 20 steps of 2000 x 2000 f32 (zstd), read then computed on\n\n"
           "   reads alone            %7.3f s\n"
           "   read + compute         %7.3f s (no hint)\n"
           "   read + compute         %7.3f s (STRATA_ND_SEQUENTIAL)\n"
           "   read time hidden       %6.1f %%   (%.0f)\n",
           read_only, plain, seq, 100.0 * (plain - seq) / read_only, sink * 0);
    strata_pool_close(pool);
    free(data);
    free(buf);
    return 0;
}
