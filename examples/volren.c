/*
 * volren.c -- a volume-rendering reader on the MDMS API (the volren application of the MDMS
 * paper): it loads 20 iterations of a 3-D field in sequence and computes on each (a maximum-
 * intensity projection). Its access pattern carries the sequential hint, so the planner
 * prefetches iteration i+1 while iteration i is rendered. It first saves the 20 iterations
 * itself, then reads them three ways: without prefetching (strata_pool_set_io_strategy(pool,
 * "noprefetch")), with prefetching into the caller's buffer (strata_load: one copy), and with
 * prefetching into the association's double buffer (strata_load_view: no copy), and prints the time
 * spent waiting for data and the whole loop's time each way.
 *
 *     mpirun -np 4 volren POOL [N] [COMPUTE_PASSES] [REPEATS]
 *     volren POOL 96 4 5
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

#define STEPS 20

static int rank = 0, size = 1;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(strata_pool *p, const char *what, int rc)
{
    fprintf(stderr, "volren (rank %d): %s: %s\n", rank, what,
            p ? strata_errmsg(p) : strata_strerror(rc));
#ifdef STRATA_HAVE_MPI
    MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    exit(1);
}

/* Render: a maximum-intensity projection along the last dimension, PASSES times. */
static double render(const float *v, const uint64_t *l, int passes)
{
    double acc = 0;
    for (int p = 0; p < passes; p++)
        for (uint64_t i = 0; i < l[0] * l[1]; i++) {
            float mx = v[i * l[2]];
            for (uint64_t k = 1; k < l[2]; k++)
                if (v[i * l[2] + k] > mx) mx = v[i * l[2] + k];
            acc += mx;
        }
    return acc;
}

/* Read the 20 iterations of run RUN in sequence, with strata_load_view (VIEW) or strata_load;
 * the time spent waiting for data, and in *TOTAL the loop's time. */
static double read_all(strata_mdms *m, strata_pool *pool, int64_t run, int passes, int view,
                       double *sum, double *total)
{
    const char *names[] = {"density"};
    char runs[32];
    snprintf(runs, sizeof runs, "%" PRId64, run);
    strata_assoc *as;
    int rc = strata_assoc_get(m, runs, names, 1, "(BLOCK,*,*) sequential read-only", &as);
    if (rc != STRATA_OK) die(pool, "assoc_get", rc);
    uint64_t l[3], n;
    strata_assoc_local(as, l, &n);
    float *v = malloc((n + 1) * sizeof *v);
    double io = 0, t00 = now();
    *sum = 0;
    strata_load_begin(as);
    for (int it = 0; it < STEPS; it++) {
        double t0 = now();
        const void *piece = v;
        if (view)
            rc = strata_load_view(as, "density", it, &piece);
        else
            rc = strata_load(as, "density", it, v);
        if (rc != STRATA_OK) die(pool, "load", rc);
        io += now() - t0;
        *sum += render(piece, l, passes);
    }
    strata_load_end(as);
    *total = now() - t00;
    strata_assoc_close(as);
    free(v);
#ifdef STRATA_HAVE_MPI
    MPI_Allreduce(MPI_IN_PLACE, &io, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, total, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#endif
    return io;
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
        fprintf(stderr, "usage: volren POOL [N] [COMPUTE_PASSES] [REPEATS]\n");
        return 2;
    }
    uint64_t N = argc > 2 ? strtoull(argv[2], NULL, 10) : 64;
    int passes = argc > 3 ? atoi(argv[3]) : 4;
    int repeats = argc > 4 ? atoi(argv[4]) : 1;
    if (repeats < 1) repeats = 1;
    strata_pool *pool = NULL;
    int rc;
    if (rank == 0) {
        rc = strata_pool_open(argv[1], &pool);
        if (rc == STRATA_ENOTFOUND) rc = strata_pool_create(argv[1], &pool);
        if (rc != STRATA_OK) die(NULL, "open the pool", rc);
        strata_attr_def schema[] = {{"size", STRATA_ATTR_INT}};
        if ((rc = strata_app_register(pool, "volren", schema, 1)) != STRATA_OK)
            die(pool, "register", rc);
        strata_pool_close(pool);
    }
#ifdef STRATA_HAVE_MPI
    MPI_Barrier(MPI_COMM_WORLD);
#endif
    if ((rc = strata_pool_open(argv[1], &pool)) != STRATA_OK) die(NULL, "open the pool", rc);
    strata_mdms *m;
    if ((rc = strata_mdms_init(pool, "volren", comm, &m)) != STRATA_OK) die(pool, "init", rc);
    strata_attr attrs[] = {{"size", STRATA_ATTR_INT, (int64_t)N, 0, NULL}};
    int64_t run;
    if ((rc = strata_run_begin(m, attrs, 1, &run)) != STRATA_OK) die(pool, "run_begin", rc);
    const char *names[] = {"density"};
    uint64_t dims[3] = {N, N, N};
    strata_assoc *as;
    rc = strata_assoc_create(m, names, 1, STRATA_F32, 3, dims, "(BLOCK,*,*) write-only", NULL, &as);
    if (rc != STRATA_OK) die(pool, "assoc_create", rc);
    uint64_t l[3], n;
    strata_assoc_local(as, l, &n);
    float *v = malloc((n + 1) * sizeof *v);
    strata_save_begin(as);
    for (int it = 0; it < STEPS; it++) {
        for (uint64_t i = 0; i < n; i++)
            v[i] = (float)((i * 2654435761u + (uint64_t)it * 97) % 1000) / 10.0f;
        if ((rc = strata_save(as, "density", it, v)) != STRATA_OK) die(pool, "save", rc);
    }
    strata_save_end(as);
    strata_assoc_close(as);
    free(v);
    /* the three ways in turn, REPEATS times; the best time of each */
    double s0, s1, s2, t0 = 1e30, t1 = 1e30, t2 = 1e30, without = 1e30, copy = 1e30, dbl = 1e30;
    for (int r = 0; r < repeats; r++) {
        double w, t;
        strata_pool_set_io_strategy(pool, "noprefetch");
        w = read_all(m, pool, run, passes, 0, &s0, &t);
        strata_pool_set_io_strategy(pool, NULL);
        without = w < without ? w : without;
        t0 = t < t0 ? t : t0;
        w = read_all(m, pool, run, passes, 0, &s1, &t);
        copy = w < copy ? w : copy;
        t1 = t < t1 ? t : t1;
        w = read_all(m, pool, run, passes, 1, &s2, &t);
        dbl = w < dbl ? w : dbl;
        t2 = t < t2 ? t : t2;
    }
    int same = s0 == s1 && s0 == s2;
    if (rank == 0)
        printf("volren: %d processes, %d iterations of %" PRIu64 "^3 f32: waiting for data "
               "%.4f s without prefetch, %.4f s with prefetch (strata_load), %.4f s with "
               "prefetch into a double buffer (strata_load_view); whole loop %.4f s, %.4f s, "
               "%.4f s (%.0f%% less with the double buffer; best of %d)%s\n",
               size, STEPS, N, without, copy, dbl, t0, t1, t2, t0 > 0 ? 100 * (1 - t2 / t0) : 0,
               repeats, same ? "" : " RESULTS DIFFER");
    strata_run_end(m, same);
    strata_mdms_finalize(m);
    strata_pool_close(pool);
#ifdef STRATA_HAVE_MPI
    MPI_Finalize();
#endif
    return same ? 0 : 1;
}
