/*
 * test_mdms_mpi.c -- the MDMS save/load path under any number of processes: every combination
 * of write and read patterns (BLOCK, CYCLIC, CYCLIC(k), * per dimension; 2-D and 3-D; uneven
 * extents) over every storage pattern returns the values saved; the catalog rows are right; a
 * run query finds the run; bad input fails with the expected status on every process.
 *
 *     test_mdms_mpi POOL_DIR                 (one process; built without MPI too)
 *     mpirun -np 4 test_mdms_mpi POOL_DIR    (built with MPI)
 *
 * Rank 0 creates the pool; each process opens it. Exits 0 when every check passes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"
#ifdef STRATA_HAVE_MPI
#include <mpi.h>
#endif

static int rank, size, failures;
static int use_mpi; /* STRATA_TEST_NO_MPI set: one process, no MPI_Init, comm NULL (leak-checked) */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void barrier(void)
{
#ifdef STRATA_HAVE_MPI
    if (use_mpi) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

/* The value of global element G (C-linear) of dataset D at iteration IT. */
static double value(uint64_t g, int d, int64_t it)
{
    return (double)g * 0.5 + d * 1000003.0 + (double)it * 7.0;
}

/* The global row-major index of element I of this process's piece (of LOCAL extents) of AS. */
static uint64_t global_of(strata_assoc *as, int ndims, const uint64_t *dims, const uint64_t *local,
                          uint64_t i)
{
    uint64_t r = i, g = 0, l[8];
    for (int k = ndims - 1; k >= 0; k--) {
        l[k] = r % local[k];
        r /= local[k];
    }
    for (int k = 0; k < ndims; k++) g = g * dims[k] + strata_assoc_global(as, k, l[k]);
    return g;
}

/* Fill this process's piece of AS with the values of (D, IT). */
static void fill(strata_assoc *as, int ndims, const uint64_t *dims, double *buf, int d, int64_t it)
{
    uint64_t local[8], n;
    strata_assoc_local(as, local, &n);
    for (uint64_t i = 0; i < n; i++) buf[i] = value(global_of(as, ndims, dims, local, i), d, it);
}

static uint64_t verify(strata_assoc *as, int ndims, const uint64_t *dims, const double *buf, int d,
                       int64_t it)
{
    uint64_t local[8], n, bad = 0;
    strata_assoc_local(as, local, &n);
    for (uint64_t i = 0; i < n; i++)
        if (buf[i] != value(global_of(as, ndims, dims, local, i), d, it)) bad++;
    return bad;
}

static const void *comm_arg(void)
{
#ifdef STRATA_HAVE_MPI
    static MPI_Comm world = MPI_COMM_WORLD;
    return use_mpi ? &world : NULL;
#else
    return NULL;
#endif
}

int main(int argc, char **argv)
{
    rank = 0;
    size = 1;
#ifdef STRATA_HAVE_MPI
    use_mpi = getenv("STRATA_TEST_NO_MPI") == NULL;
    if (use_mpi) {
        int provided;
        MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    }
#endif
    if (argc != 2) {
        fprintf(stderr, "usage: test_mdms_mpi POOL_DIR\n");
        return 2;
    }
    strata_pool *pool = NULL;
    int rc = STRATA_OK;
    if (rank == 0) {
        rc = strata_pool_create(argv[1], &pool);
        if (rc == STRATA_OK) {
            strata_attr_def schema[] = {
                {"grid", STRATA_ATTR_INT}, {"label", STRATA_ATTR_TEXT}, {"dt", STRATA_ATTR_FLOAT}};
            rc = strata_app_register(pool, "sim", schema, 3);
            if (rc == STRATA_OK)
                rc = strata_tier_add(pool, "tape", "tape.dir", STRATA_TIER_ARCHIVE, 0, 0, 0);
            if (rc != STRATA_OK) fprintf(stderr, "setup: %s\n", strata_errmsg(pool));
            strata_pool_close(pool);
            pool = NULL;
        }
    }
    barrier();
    if (rc == STRATA_OK) rc = strata_pool_open(argv[1], &pool);
    if (rc != STRATA_OK) {
        fprintf(stderr, "rank %d: cannot open the pool: %s\n", rank, strata_strerror(rc));
        return 1;
    }
    strata_mdms *m = NULL;
    rc = strata_mdms_init(pool, "sim", comm_arg(), &m);
    CHECK(rc == STRATA_OK, "init: %s", strata_errmsg(pool));

    /* bad input first: an unknown attribute, a type mismatch (every process sees the error) */
    strata_attr bad1[] = {{"gird", STRATA_ATTR_INT, 5, 0, NULL}};
    rc = strata_run_begin(m, bad1, 1, NULL);
    CHECK(rc == STRATA_EINVAL && strstr(strata_errmsg(pool), "'gird' is not in the run schema"),
          "unknown attribute: %d %s", rc, strata_errmsg(pool));
    strata_attr bad2[] = {{"grid", STRATA_ATTR_TEXT, 0, 0, "big"}};
    rc = strata_run_begin(m, bad2, 1, NULL);
    CHECK(rc == STRATA_ETYPE && strstr(strata_errmsg(pool), "is int in the run schema"),
          "type mismatch: %d %s", rc, strata_errmsg(pool));

    char label[32];
    snprintf(label, sizeof label, "np%d", size);
    strata_attr attrs[] = {{"grid", STRATA_ATTR_INT, 30, 0, NULL},
                           {"label", STRATA_ATTR_TEXT, 0, 0, label},
                           {"dt", STRATA_ATTR_INT, 2, 0, NULL}}; /* int given for a float */
    int64_t run = 0;
    rc = strata_run_begin(m, attrs, 3, &run);
    CHECK(rc == STRATA_OK && run > 0, "run_begin: %s", strata_errmsg(pool));

    /* a pattern that needs a different process count */
    if (size > 1) {
        strata_assoc *x = NULL;
        const char *nm[] = {"x"};
        uint64_t d2[] = {10, 10};
        char pat[64];
        snprintf(pat, sizeof pat, "(BLOCK,BLOCK) grid=%dx1", size + 1);
        rc = strata_assoc_create(m, nm, 1, STRATA_F64, 2, d2, pat, NULL, &x);
        CHECK(rc == STRATA_EINVAL && strstr(strata_errmsg(pool), "processes, but there are"),
              "grid mismatch: %d %s", rc, strata_errmsg(pool));
    }

    static const char *const pats2[] = {"(BLOCK,*)",        "(*,BLOCK)",         "(BLOCK,BLOCK)",
                                        "(CYCLIC,*)",       "(CYCLIC(3),BLOCK)", "(*,*)",
                                        "(BLOCK,CYCLIC(2))"};
    static const char *const pats3[] = {"(BLOCK,BLOCK,*)", "(*,*,BLOCK)", "(CYCLIC(2),*,BLOCK)",
                                        "(BLOCK,CYCLIC,CYCLIC)"};
    static const char *const stores[] = {NULL, "column-major", "chunked(4,5)",
                                         "chunked(3,4,5) tier=tape", "chunked(7,3) zstd=3"};
    int combos = 0;
    for (int nd = 2; nd <= 3; nd++) {
        uint64_t dims[3] = {13, 11, 7}; /* uneven everywhere */
        const char *const *pats = nd == 2 ? pats2 : pats3;
        int np = nd == 2 ? 7 : 4;
        for (int st = 0; st < 5; st++) {
            const char *store = stores[st];
            if (store && strstr(store, "chunked(3,4,5)") && nd != 3) continue;
            if (store && (strstr(store, "chunked(4,5)") || strstr(store, "chunked(7,3)")) &&
                nd != 2)
                continue;
            for (int w = 0; w < np; w++) {
                char nm0[64], nm1[64];
                snprintf(nm0, sizeof nm0, "t%dd%ds%dw%d", nd, nd, st, w);
                snprintf(nm1, sizeof nm1, "p%dd%ds%dw%d", nd, nd, st, w);
                const char *names[] = {nm0, nm1};
                strata_assoc *as = NULL;
                rc = strata_assoc_create(m, names, 2, STRATA_F64, nd, dims, pats[w], store, &as);
                CHECK(rc == STRATA_OK, "create %s %s: %s", pats[w], store ? store : "row",
                      strata_errmsg(pool));
                if (rc != STRATA_OK) continue;
                uint64_t n;
                strata_assoc_local(as, NULL, &n);
                double *buf = malloc((n + 1) * sizeof *buf);
                rc = strata_save_begin(as);
                for (int64_t it = 0; it < 2 && rc == STRATA_OK; it++)
                    for (int d = 0; d < 2; d++) {
                        fill(as, nd, dims, buf, d, it);
                        rc = strata_save(as, names[d], it * 10, buf);
                        CHECK(rc == STRATA_OK, "save %s %s: %s", pats[w], store ? store : "row",
                              strata_errmsg(pool));
                    }
                /* saving an iteration twice */
                rc = strata_save(as, names[0], 0, buf);
                CHECK(rc == STRATA_EEXIST, "double save: %d", rc);
                strata_save_end(as);
                strata_assoc_close(as);
                free(buf);
                /* read back with every pattern */
                for (int r = 0; r < np; r++) {
                    char pat[96];
                    snprintf(pat, sizeof pat, "%s%s", pats[r], r % 2 ? " sequential" : "");
                    char runs[32];
                    snprintf(runs, sizeof runs, "%" PRId64, run);
                    rc = strata_assoc_get(m, runs, names, 2, pat, &as);
                    CHECK(rc == STRATA_OK, "get: %s", strata_errmsg(pool));
                    if (rc != STRATA_OK) continue;
                    strata_assoc_local(as, NULL, &n);
                    buf = malloc((n + 1) * sizeof *buf);
                    strata_load_begin(as);
                    for (int d = 0; d < 2; d++)
                        for (int64_t it = 0; it < 2; it++) {
                            memset(buf, 0, (n + 1) * sizeof *buf);
                            rc = strata_load(as, names[d], it * 10, buf);
                            CHECK(rc == STRATA_OK, "load: %s", strata_errmsg(pool));
                            uint64_t bad = verify(as, nd, dims, buf, d, it);
                            CHECK(bad == 0,
                                  "write %s read %s store %s dataset %d it %d: %" PRIu64
                                  " of %" PRIu64 " wrong",
                                  pats[w], pat, store ? store : "row-major", d, (int)it, bad, n);
                        }
                    /* the same through the association's double buffer: the two iterations
                     * come in the two buffers, each intact */
                    for (int d = 0; d < 2; d++) {
                        const void *seen[2] = {NULL, NULL};
                        for (int64_t it = 0; it < 2; it++) {
                            rc = strata_load_view(as, names[d], it * 10, &seen[it]);
                            CHECK(rc == STRATA_OK && (seen[it] != NULL || n == 0), "view: %s",
                                  strata_errmsg(pool));
                            if (rc != STRATA_OK || seen[it] == NULL) continue;
                            uint64_t bad = verify(as, nd, dims, seen[it], d, it);
                            CHECK(bad == 0, "view %s store %s dataset %d it %d: %" PRIu64 " wrong",
                                  pat, store ? store : "row-major", d, (int)it, bad);
                        }
                        CHECK(n == 0 || seen[0] != seen[1], "view: one buffer for two iterations");
                    }
                    /* an iteration never saved */
                    rc = strata_load(as, names[0], 5, buf);
                    CHECK(rc == STRATA_ENOTFOUND && strstr(strata_errmsg(pool), "never saved"),
                          "missing iteration: %d %s", rc, strata_errmsg(pool));
                    /* an irregular list of indices, different on each process */
                    uint64_t total = dims[0] * dims[1] * (nd == 3 ? dims[2] : 1), k = 17;
                    uint64_t idx[17];
                    double got[17];
                    for (uint64_t i = 0; i < k; i++)
                        idx[i] = (i * 37 + (uint64_t)rank * 11 + i * i) % total;
                    rc = strata_load_list(as, names[1], 10, idx, k, got);
                    CHECK(rc == STRATA_OK, "load_list: %s", strata_errmsg(pool));
                    for (uint64_t i = 0; rc == STRATA_OK && i < k; i++)
                        CHECK(got[i] == value(idx[i], 1, 1), "list %s: [%" PRIu64 "]", pat, i);
                    strata_load_end(as);
                    strata_assoc_close(as);
                    free(buf);
                    combos++;
                }
            }
        }
    }
    /* queries: the run and its executions */
    if (rank == 0) {
        int found = 0;
        char where[128];
        snprintf(where, sizeof where, "grid = 30 and label = '%s' and dt >= 2", label);
        int cb_run(void *ctx, const strata_run_info *r);
        rc = strata_runs(pool, "sim", where, cb_run, &found);
        CHECK(rc == STRATA_OK && found == 1, "runs: %d found, %s", found, strata_errmsg(pool));
        found = 0;
        int cb_exec(void *ctx, const strata_exec_info *e);
        rc = strata_find(pool, "sim", "t2d2s0w0", "iteration >= 10 and max > 0", cb_exec, &found);
        CHECK(rc == STRATA_OK && found == 1, "find: %d found, %s", found, strata_errmsg(pool));
        rc = strata_runs(pool, "sim", "gird = 3", cb_run, &found);
        CHECK(rc == STRATA_EINVAL && strstr(strata_errmsg(pool), "unknown name 'gird'"),
              "bad where: %s", strata_errmsg(pool));
    }
    rc = strata_run_end(m, 1);
    CHECK(rc == STRATA_OK, "run_end: %s", strata_errmsg(pool));
    strata_mdms_finalize(m);
    strata_pool_close(pool);
    if (rank == 0)
        printf("mdms: %d processes, %d pattern combinations, %d failures\n", size, combos,
               failures);
#ifdef STRATA_HAVE_MPI
    if (use_mpi) {
        int all = 0;
        MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        failures = all;
        MPI_Finalize();
    }
#endif
    return failures ? 1 : 0;
}

int cb_run(void *ctx, const strata_run_info *r)
{
    (void)r;
    (*(int *)ctx)++;
    return 0;
}

int cb_exec(void *ctx, const strata_exec_info *e)
{
    CHECK(e->iteration == 10 && e->max > e->min && e->nprocs == size && e->files >= 1,
          "exec row: it %d max %g min %g nprocs %d", (int)e->iteration, e->max, e->min, e->nprocs);
    uint64_t h = 0;
    for (int i = 0; i < STRATA_HIST_BINS; i++) h += e->hist[i];
    CHECK(h == 13 * 11, "histogram counts %" PRIu64, h);
    (*(int *)ctx)++;
    return 0;
}
