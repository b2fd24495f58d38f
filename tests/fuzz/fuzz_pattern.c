/*
 * fuzz_pattern.c -- libFuzzer harness for access-pattern strings ('(BLOCK,CYCLIC(4),*) grid=2x2
 * read-only', src/mdms/pattern.c) and what is computed from them. For an accepted pattern over
 * a small array (at most 4096 elements, 1 to 8 dimensions, 1 to 16 processes):
 *   - the process grid multiplies to the process count (or is all ones: replicated);
 *   - the pieces partition the array: every element belongs to exactly one process (each to
 *     every process when replicated), and each process's walk over the file visits exactly its
 *     piece, each buffer position once, in increasing file order;
 *   - the pattern records as text that parses back to the same distribution;
 *   - the planner answers without failing for row-, column-major and chunked layouts.
 *
 * Input: byte 0 the dimensions, byte 1 the processes, bytes 2..9 the extents, then the text.
 *     scripts/fuzz.sh fuzz_pattern 60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdms/mdms_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) __builtin_trap();                                                                \
    } while (0)

typedef struct walk {
    uint8_t *file;  /* times each file element was visited, over all processes */
    uint8_t *buf;   /* times each buffer position of this process was filled */
    uint64_t total; /* file elements */
    uint64_t local; /* this process's elements */
    uint64_t last;  /* the next file element a run may start at */
    uint64_t seen;
} walk;

static int visit(void *ctx, uint64_t foff, uint64_t boff, uint64_t n, uint64_t bstride)
{
    walk *w = ctx;
    CHECK(n > 0 && foff >= w->last && foff + n <= w->total && bstride >= 1);
    w->last = foff + n;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t b = boff + k * bstride;
        CHECK(b < w->local);
        CHECK(w->buf[b] == 0);
        w->buf[b] = 1;
        w->file[foff + k]++;
    }
    w->seen += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 10) return 0;
    int ndims = 1 + data[0] % ST_ND_MAXDIMS;
    int nprocs = 1 + data[1] % 16;
    uint64_t dims[ST_ND_MAXDIMS], total = 1;
    for (int d = 0; d < ndims; d++) {
        dims[d] = 1 + data[2 + d] % 9;
        if (total * dims[d] > 4096) dims[d] = 1;
        total *= dims[d];
    }
    char *text = malloc(size - 9);
    CHECK(text != NULL);
    memcpy(text, data + 10, size - 10);
    text[size - 10] = '\0';

    st_err err;
    st_err_init(&err);
    st_pattern p;
    int rc = st_pattern_parse(&err, text, ndims, nprocs, &p);
    if (rc != STRATA_OK) {
        CHECK(rc == STRATA_EINVAL && err.msg[0] != '\0');
        goto done;
    }
    int ndist = 0;
    long prod = 1;
    for (int d = 0; d < ndims; d++) {
        CHECK(p.grid[d] >= 1 && p.grid[d] <= nprocs);
        ndist += p.kind[d] != ST_DIST_NONE;
        if (p.kind[d] == ST_DIST_NONE) CHECK(p.grid[d] == 1);
        prod *= p.grid[d];
    }
    CHECK(ndist == 0 ? prod == 1 : prod == nprocs);
    CHECK(p.replicated == (ndist == 0 && nprocs > 1));

    /* pieces: their extents, and their sum (each element in one piece) */
    uint64_t sum = 0;
    for (int rank = 0; rank < nprocs; rank++) {
        uint64_t local[ST_ND_MAXDIMS];
        uint64_t elems = st_piece_dims(&p, dims, rank, local);
        uint64_t prodl = 1;
        for (int d = 0; d < ndims; d++) prodl *= local[d];
        CHECK(prodl == elems && elems <= total);
        if (p.replicated) CHECK(elems == total);
        sum += elems;
    }
    CHECK(p.replicated ? sum == total * (uint64_t)nprocs : sum == total);
    /* walks, in C and in Fortran order: each process fills each of its buffer positions once,
     * and all processes together visit each file element once (a replicated pattern: each
     * process the whole file, so one walk covers it) */
    walk w = {calloc(total, 1), NULL, total, 0, 0, 0};
    CHECK(w.file != NULL);
    for (int fortran = 0; fortran <= 1; fortran++) {
        memset(w.file, 0, total);
        for (int rank = 0; rank < (p.replicated ? 1 : nprocs); rank++) {
            w.local = st_piece_dims(&p, dims, rank, NULL);
            w.buf = calloc(w.local + 1, 1);
            CHECK(w.buf != NULL);
            w.last = 0;
            w.seen = 0;
            CHECK(st_piece_walk(&err, &p, dims, fortran, rank, visit, &w) == STRATA_OK);
            CHECK(w.seen == w.local);
            free(w.buf);
        }
        for (uint64_t i = 0; i < total; i++) CHECK(w.file[i] == 1);
    }
    free(w.file);

    /* the recorded text parses back to the same distribution */
    st_cat_access rec;
    st_pattern_record(&p, &rec);
    st_pattern q;
    CHECK(st_pattern_parse(&err, rec.dist, ndims, nprocs, &q) == STRATA_OK);
    for (int d = 0; d < ndims; d++) {
        CHECK(q.kind[d] == p.kind[d]);
        if (p.kind[d] == ST_DIST_CYCLIC) CHECK(q.k[d] == p.k[d]);
    }

    /* the planner */
    for (int layout = 0; layout < 3; layout++) {
        st_plan_in in;
        memset(&in, 0, sizeof in);
        in.ndims = ndims;
        in.esz = 8;
        in.layout = layout;
        for (int d = 0; d < ndims; d++) {
            in.dims[d] = dims[d];
            in.chunk[d] = 1 + (dims[d] - 1) / 2;
        }
        in.load = layout != 1;
        in.forced = ST_IO_AUTO;
        in.mpi = nprocs > 1;
        strata_plan plan;
        CHECK(st_plan(&err, &p, &in, &plan) == STRATA_OK);
        CHECK(plan.strategy[0] != '\0' && plan.procs == nprocs);
    }
done:
    st_err_destroy(&err);
    free(text);
    return 0;
}
