/*
 * astro3d.c -- an MPI 3-D stencil template on the MDMS API (the astro3d application of the MDMS
 * paper). It registers its run (grid size, iterations, dump frequency), creates an association
 * of temperature and pressure distributed (BLOCK,BLOCK,*), steps a 7-point stencil on its
 * block and saves both datasets every DUMP iterations. Then a reader with another access
 * pattern, (*,*,BLOCK), loads every saved iteration back and checks every value against the
 * writer's. Nobody names a file or an offset.
 *
 *     mpirun -np 4 astro3d POOL [GRID] [ITERATIONS] [DUMP] [STORAGE]
 *     astro3d POOL 32 20 5 'chunked(16,16,16)'          (one process, or a build without MPI)
 *
 * POOL is created when missing. Exits 0 when every loaded value matches.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#ifdef STRATA_HAVE_MPI
#include <mpi.h>
#endif

static int rank = 0, size = 1;

static void die(strata_pool *p, const char *what, int rc)
{
    fprintf(stderr, "astro3d (rank %d): %s: %s\n", rank, what,
            p ? strata_errmsg(p) : strata_strerror(rc));
#ifdef STRATA_HAVE_MPI
    MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    exit(1);
}

/* The initial field at global (i, j, k). */
static double init_t(uint64_t i, uint64_t j, uint64_t k, uint64_t n)
{
    return 1e4 * sin(3.0 * (double)i / (double)n) * cos(2.0 * (double)j / (double)n) +
           100.0 * (double)k;
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
        fprintf(stderr, "usage: astro3d POOL [GRID] [ITERATIONS] [DUMP] [STORAGE]\n");
        return 2;
    }
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 32;
    int iters = argc > 3 ? atoi(argv[3]) : 20, dump = argc > 4 ? atoi(argv[4]) : 5;
    const char *storage = argc > 5 ? argv[5] : NULL;
    if (n < 4 || iters < 1 || dump < 1) {
        fprintf(stderr, "astro3d: GRID >= 4, ITERATIONS >= 1, DUMP >= 1\n");
        return 2;
    }
    strata_pool *pool = NULL;
    int rc = STRATA_OK;
    if (rank == 0) {
        /* find or create the pool and the application */
        rc = strata_pool_open(argv[1], &pool);
        if (rc == STRATA_ENOTFOUND) rc = strata_pool_create(argv[1], &pool);
        if (rc != STRATA_OK) die(NULL, "open the pool", rc);
        strata_attr_def schema[] = {
            {"grid", STRATA_ATTR_INT}, {"iterations", STRATA_ATTR_INT}, {"dump", STRATA_ATTR_INT}};
        if ((rc = strata_app_register(pool, "astro3d", schema, 3)) != STRATA_OK)
            die(pool, "register astro3d", rc);
        strata_pool_close(pool);
    }
#ifdef STRATA_HAVE_MPI
    MPI_Barrier(MPI_COMM_WORLD);
#endif
    if ((rc = strata_pool_open(argv[1], &pool)) != STRATA_OK) die(NULL, "open the pool", rc);
    /* STRATA_IO_STRATEGY=NAME forces the planner's choice, for experiments */
    const char *io = getenv("STRATA_IO_STRATEGY");
    if (io != NULL && (rc = strata_pool_set_io_strategy(pool, io)) != STRATA_OK)
        die(pool, "STRATA_IO_STRATEGY", rc);
    strata_mdms *m;
    if ((rc = strata_mdms_init(pool, "astro3d", comm, &m)) != STRATA_OK) die(pool, "init", rc);
    strata_attr attrs[] = {{"grid", STRATA_ATTR_INT, (int64_t)n, 0, NULL},
                           {"iterations", STRATA_ATTR_INT, iters, 0, NULL},
                           {"dump", STRATA_ATTR_INT, dump, 0, NULL}};
    int64_t run;
    if ((rc = strata_run_begin(m, attrs, 3, &run)) != STRATA_OK) die(pool, "run_begin", rc);

    /* ---- the writer: (BLOCK,BLOCK,*) ---- */
    const char *names[] = {"temperature", "pressure"};
    uint64_t dims[3] = {n, n, n};
    strata_assoc *as;
    rc = strata_assoc_create(m, names, 2, STRATA_F64, 3, dims, "(BLOCK,BLOCK,*)", storage, &as);
    if (rc != STRATA_OK) die(pool, "assoc_create", rc);
    uint64_t local[3], elems;
    strata_assoc_local(as, local, &elems);
    double *t = calloc(elems + 1, sizeof *t), *t2 = calloc(elems + 1, sizeof *t2),
           *p = calloc(elems + 1, sizeof *p);
    /* the saved fields, kept to check the reader: [dump][global] on rank 0 only is too big;
     * instead every value is recomputed by the reader from the same deterministic steps */
    for (uint64_t a = 0; a < local[0]; a++)
        for (uint64_t b = 0; b < local[1]; b++)
            for (uint64_t c = 0; c < local[2]; c++)
                t[(a * local[1] + b) * local[2] + c] =
                    init_t(strata_assoc_global(as, 0, a), strata_assoc_global(as, 1, b), c, n);
    strata_save_begin(as);
    for (int it = 1; it <= iters; it++) {
        /* a 7-point stencil on the block (the template's physics; halos are left out) */
        for (uint64_t a = 0; a < local[0]; a++)
            for (uint64_t b = 0; b < local[1]; b++)
                for (uint64_t c = 0; c < local[2]; c++) {
                    uint64_t i = (a * local[1] + b) * local[2] + c;
                    double s = t[i] * 6.0, w = 6.0;
                    if (c > 0) s += t[i - 1], w += 1;
                    if (c + 1 < local[2]) s += t[i + 1], w += 1;
                    t2[i] = s / w;
                }
        memcpy(t, t2, elems * sizeof *t);
        for (uint64_t i = 0; i < elems; i++) p[i] = t[i] * 0.5 + it;
        if (it % dump == 0) {
            if ((rc = strata_save(as, "temperature", it, t)) != STRATA_OK) die(pool, "save", rc);
            if ((rc = strata_save(as, "pressure", it, p)) != STRATA_OK) die(pool, "save", rc);
        }
    }
    strata_plan last;
    strata_assoc_last(as, &last);
    strata_save_end(as);
    strata_assoc_close(as);
    if (rank == 0)
        printf("astro3d: run %" PRId64 ", %d processes, grid %" PRIu64 "^3, saved %d iterations "
               "of temperature and pressure (%s)\n",
               run, size, n, iters / dump, last.strategy);

    /* ---- the reader: (*,*,BLOCK), checks every value ---- */
    char runs[32];
    snprintf(runs, sizeof runs, "%" PRId64, run);
    if ((rc = strata_assoc_get(m, runs, names, 2, "(*,*,BLOCK)", &as)) != STRATA_OK)
        die(pool, "assoc_get", rc);
    uint64_t rl[3], relems;
    strata_assoc_local(as, rl, &relems);
    double *got = calloc(relems + 1, sizeof *got);
    /* the reference: one process recomputes the whole field step by step along k */
    double *ref = calloc(n * n * n, sizeof *ref), *ref2 = calloc(n * n * n, sizeof *ref2);
    for (uint64_t i = 0; i < n; i++)
        for (uint64_t j = 0; j < n; j++)
            for (uint64_t k = 0; k < n; k++) ref[(i * n + j) * n + k] = init_t(i, j, k, n);
    uint64_t bad = 0, checked = 0;
    strata_load_begin(as);
    for (int it = 1; it <= iters; it++) {
        for (uint64_t i = 0; i < n * n; i++)
            for (uint64_t k = 0; k < n; k++) {
                uint64_t x = i * n + k;
                double s = ref[x] * 6.0, w = 6.0;
                if (k > 0) s += ref[x - 1], w += 1;
                if (k + 1 < n) s += ref[x + 1], w += 1;
                ref2[x] = s / w;
            }
        memcpy(ref, ref2, n * n * n * sizeof *ref);
        if (it % dump != 0) continue;
        for (int d = 0; d < 2; d++) {
            if ((rc = strata_load(as, names[d], it, got)) != STRATA_OK) die(pool, "load", rc);
            for (uint64_t a = 0; a < rl[0]; a++)
                for (uint64_t b = 0; b < rl[1]; b++)
                    for (uint64_t c = 0; c < rl[2]; c++) {
                        uint64_t k = strata_assoc_global(as, 2, c);
                        double want = ref[(a * n + b) * n + k];
                        if (d == 1) want = want * 0.5 + it;
                        if (got[(a * rl[1] + b) * rl[2] + c] != want) bad++;
                        checked++;
                    }
        }
    }
    strata_load_end(as);
    strata_assoc_close(as);
#ifdef STRATA_HAVE_MPI
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &checked, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
#endif
    if (rank == 0)
        printf("astro3d: reader (*,*,BLOCK) loaded %" PRIu64 " values, %" PRIu64 " wrong\n",
               checked, bad);
    strata_run_end(m, bad == 0);
    strata_mdms_finalize(m);
    strata_pool_close(pool);
    free(t);
    free(t2);
    free(p);
    free(got);
    free(ref);
    free(ref2);
#ifdef STRATA_HAVE_MPI
    MPI_Finalize();
#endif
    return bad == 0 ? 0 : 1;
}
