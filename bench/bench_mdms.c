/*
 * bench_mdms.c -- the MDMS paper's Tables 5-7, scaled to this machine: P processes read a 2-D
 * f64 array stored row-major, each its (BLOCK,BLOCK) piece, the naive way (one independent
 * request per row piece: STRATA_IO_STRATEGY=independent) and as the planner chooses
 * (collective two-phase MPI-IO); then the unstructured read (each process an irregular list of
 * indices), naive (one request per element run) and planned. Prints best-of-R times and the
 * ratios naive / planned. Run under mpirun (bench/run_mdms.sh).
 *
 *     mpirun -np 4 bench_mdms POOL [N] [REPEATS]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata.h"
#ifdef STRATA_HAVE_MPI
#include <mpi.h>
#endif

static int rank = 0, size = 1;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sync_all(void)
{
#ifdef STRATA_HAVE_MPI
    MPI_Barrier(MPI_COMM_WORLD);
#endif
}

static double maxall(double v)
{
#ifdef STRATA_HAVE_MPI
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#endif
    return v;
}

static void die(strata_pool *p, const char *what)
{
    fprintf(stderr, "bench_mdms (rank %d): %s: %s\n", rank, what, p ? strata_errmsg(p) : "");
#ifdef STRATA_HAVE_MPI
    MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    exit(1);
}

/* Best time of REPEATS loads of "a" by pattern PAT with strategy FORCE ("" for the planner). */
static double time_block(strata_mdms *m, strata_pool *pool, const char *pat, const char *force,
                         int repeats, char *strategy)
{
    strata_pool_set_io_strategy(pool, force); /* "": the planner's choice */
    const char *names[] = {"a"};
    strata_assoc *as;
    if (strata_assoc_get(m, "last", names, 1, pat, &as) != STRATA_OK) die(pool, "assoc_get");
    uint64_t n;
    strata_assoc_local(as, NULL, &n);
    double *buf = malloc((n + 1) * sizeof *buf), best = 1e30;
    strata_load_begin(as);
    for (int r = 0; r < repeats; r++) {
        sync_all();
        double t0 = now();
        if (strata_load(as, "a", 0, buf) != STRATA_OK) die(pool, "load");
        double t = maxall(now() - t0);
        if (t < best) best = t;
    }
    strata_plan pl;
    strata_assoc_last(as, &pl);
    snprintf(strategy, 16, "%s", pl.strategy);
    strata_load_end(as);
    strata_assoc_close(as);
    free(buf);
    return best;
}

static double time_list(strata_mdms *m, strata_pool *pool, uint64_t total, uint64_t k,
                        const char *force, int repeats, char *strategy)
{
    strata_pool_set_io_strategy(pool, force); /* "": the planner's choice */
    const char *names[] = {"a"};
    strata_assoc *as;
    if (strata_assoc_get(m, "last", names, 1, "(BLOCK,*)", &as) != STRATA_OK)
        die(pool, "assoc_get");
    /* an irregular mesh's neighbour list: clustered but unordered indices, different per rank */
    uint64_t *idx = malloc(k * sizeof *idx), x = 12345 + (uint64_t)rank * 7919;
    for (uint64_t i = 0; i < k; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        idx[i] = ((i * 97) % total + (x >> 33) % 4096) % total;
    }
    double *buf = malloc(k * sizeof *buf), best = 1e30;
    strata_load_begin(as);
    for (int r = 0; r < repeats; r++) {
        sync_all();
        double t0 = now();
        if (strata_load_list(as, "a", 0, idx, k, buf) != STRATA_OK) die(pool, "load_list");
        double t = maxall(now() - t0);
        if (t < best) best = t;
    }
    strata_plan pl;
    strata_assoc_last(as, &pl);
    snprintf(strategy, 16, "%s", pl.strategy);
    strata_load_end(as);
    strata_assoc_close(as);
    free(buf);
    free(idx);
    return best;
}

int main(int argc, char **argv)
{
#ifdef STRATA_HAVE_MPI
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm world = MPI_COMM_WORLD;
    const void *comm = &world;
#else
    const void *comm = NULL;
#endif
    if (argc < 2) {
        fprintf(stderr, "usage: bench_mdms POOL [N] [REPEATS]\n");
        return 2;
    }
    uint64_t N = argc > 2 ? strtoull(argv[2], NULL, 10) : 4096;
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    strata_pool *pool;
    if (rank == 0) {
        if (strata_pool_create(argv[1], &pool) != STRATA_OK) die(NULL, "create the pool");
        strata_attr_def schema[] = {{"n", STRATA_ATTR_INT}};
        if (strata_app_register(pool, "astro2d", schema, 1) != STRATA_OK) die(pool, "register");
        strata_pool_close(pool);
    }
    sync_all();
    if (strata_pool_open(argv[1], &pool) != STRATA_OK) die(NULL, "open the pool");
    strata_mdms *m;
    if (strata_mdms_init(pool, "astro2d", comm, &m) != STRATA_OK) die(pool, "init");
    strata_attr attrs[] = {{"n", STRATA_ATTR_INT, (int64_t)N, 0, NULL}};
    if (strata_run_begin(m, attrs, 1, NULL) != STRATA_OK) die(pool, "run");
    const char *names[] = {"a"};
    uint64_t dims[2] = {N, N};
    strata_assoc *as;
    if (strata_assoc_create(m, names, 1, STRATA_F64, 2, dims, "(BLOCK,*)", NULL, &as) != STRATA_OK)
        die(pool, "assoc_create");
    uint64_t n;
    strata_assoc_local(as, NULL, &n);
    double *buf = malloc((n + 1) * sizeof *buf);
    for (uint64_t i = 0; i < n; i++) buf[i] = (double)i;
    strata_save_begin(as);
    if (strata_save(as, "a", 0, buf) != STRATA_OK) die(pool, "save");
    strata_save_end(as);
    strata_assoc_close(as);
    free(buf);
    /* naive per-row reads, the planner's choice, and each other strategy for reference (the
     * planner is right when its choice is the fastest) */
    char s1[16], s2[16], s3[16];
    double naive = time_block(m, pool, "(BLOCK,BLOCK)", "independent", repeats, s1);
    double plan = time_block(m, pool, "(BLOCK,BLOCK)", "", repeats, s2);
    double sieve = time_block(m, pool, "(BLOCK,BLOCK)", "sieve", repeats, s3);
    double coll = size > 1 ? time_block(m, pool, "(BLOCK,BLOCK)", "collective", repeats, s3) : 0;
    if (rank == 0)
        printf("table5 astro2d %" PRIu64 "x%" PRIu64 " f64 row-major, %d procs (BLOCK,BLOCK): "
               "naive %s %.4f s, planner %s %.4f s, ratio %.2fx (sieve %.4f s, collective "
               "%.4f s)\n",
               N, N, size, s1, naive, s2, plan, naive / plan, sieve, coll);
    uint64_t k = N * N / (uint64_t)size / 8;
    naive = time_list(m, pool, N * N, k, "independent", repeats, s1);
    plan = time_list(m, pool, N * N, k, "", repeats, s2);
    coll = size > 1 ? time_list(m, pool, N * N, k, "collective", repeats, s3) : 0;
    if (rank == 0)
        printf("table7 unstructured: %" PRIu64 " irregular indices per proc: naive %s %.4f s, "
               "planner %s %.4f s, ratio %.2fx (collective %.4f s)\n",
               k, s1, naive, s2, plan, naive / plan, coll);
    strata_run_end(m, 1);
    strata_mdms_finalize(m);
    strata_pool_close(pool);
#ifdef STRATA_HAVE_MPI
    MPI_Finalize();
#endif
    return 0;
}
