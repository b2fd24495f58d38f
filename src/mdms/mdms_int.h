/*
 * mdms_int.h -- what the files of src/mdms share: access patterns and the pieces they give each
 * process, the walk over a piece's runs in a contiguous file, the planner, and the handles.
 */
#ifndef STRATA_MDMS_INT_H
#define STRATA_MDMS_INT_H

#include <pthread.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "util/stats.h"
#include "pool/pool.h"
#include "util/error.h"
#include "util/vec.h"

enum { ST_DIST_BLOCK, ST_DIST_CYCLIC, ST_DIST_NONE };
enum { ST_MODE_RW, ST_MODE_RO, ST_MODE_WO };
enum {
    ST_IO_AUTO = -1,
    ST_IO_CONTIGUOUS,
    ST_IO_SIEVE,
    ST_IO_COLLECTIVE,
    ST_IO_INDEPENDENT,
    ST_IO_CHUNKED,
    ST_IO_NSTRATEGIES
};

/* A parsed access pattern for one process count. */
typedef struct st_pattern {
    int ndims;
    int kind[ST_ND_MAXDIMS]; /* ST_DIST_* */
    uint64_t k[ST_ND_MAXDIMS];
    int grid[ST_ND_MAXDIMS]; /* processes along each dimension (1 for '*') */
    int nprocs;
    int replicated; /* no distributed dimension and several processes: each has everything */
    int sequential, mode, repeated;
    uint64_t request;
} st_pattern;

/* A run of indices of one dimension: global G, local L, position P in a packed list. */
typedef struct st_seg {
    uint64_t g, l, p, len;
} st_seg;

/* Parse TEXT for NDIMS dimensions and NPROCS processes. */
int st_pattern_parse(st_err *err, const char *text, int ndims, int nprocs, st_pattern *out);

/* The pattern as recorded in the catalog. */
void st_pattern_record(const st_pattern *p, st_cat_access *out);

/* Grid coordinates of RANK (row-major over the grid). */
void st_pattern_coords(const st_pattern *p, int rank, int *coords);

/* The runs of dimension D (extent N) that coordinate C holds, clipped to [LO, HI), with packed
 * positions from 0, into OUT (a vector of st_seg; cleared first). Returns the element count. */
uint64_t st_dim_segs(const st_pattern *p, int d, uint64_t n, int c, uint64_t lo, uint64_t hi,
                     st_vec *out);

/* The coordinate of dimension D holding global index G. */
int st_dim_owner(const st_pattern *p, int d, uint64_t n, uint64_t g);

/* Local extents (LOCAL[ndims]) of RANK's piece; returns its element count. */
uint64_t st_piece_dims(const st_pattern *p, const uint64_t *dims, int rank, uint64_t *local);

/* Called for each run of a piece in a contiguous file, in file order: N elements from file
 * element FOFF, to buffer element BOFF onwards with buffer stride BSTRIDE (elements). */
typedef int (*st_run_fn)(void *ctx, uint64_t foff, uint64_t boff, uint64_t n, uint64_t bstride);

/* Walk RANK's piece of an array of DIMS stored contiguously (FORTRAN: column-major), merging
 * runs adjacent in the file and in the buffer. */
int st_piece_walk(st_err *err, const st_pattern *p, const uint64_t *dims, int fortran, int rank,
                  st_run_fn fn, void *ctx);

/* Counts of a walk: requests, elements, and the first and last file element touched. */
typedef struct st_walk_count {
    uint64_t runs, elems, first, last;
} st_walk_count;
int st_walk_count_fn(void *ctx, uint64_t foff, uint64_t boff, uint64_t n, uint64_t bstride);

/* The strategy name of ST_IO_*; the number of NAME (-1 if none). */
const char *st_io_name(int s);
int st_io_parse(const char *name);

/* The sieve buffer: the largest covering read. */
#define ST_SIEVE_MAX ((uint64_t)8 << 20)

/* What the planner knows about a dataset. */
typedef struct st_plan_in {
    int ndims;
    uint64_t dims[ST_ND_MAXDIMS];
    size_t esz;
    int layout; /* strata_layout */
    uint64_t chunk[ST_ND_MAXDIMS];
    int archive; /* data on an archive tier */
    int mpi;     /* collective MPI-IO is available */
    int load;    /* reading (else writing) */
    int forced;  /* ST_IO_AUTO or a strategy from STRATA_IO_STRATEGY */
    int no_prefetch;
    double latency; /* the tier's declared seconds per request (0: local) */
    double bw;      /* the tier's declared bytes/s (0: unknown, memory speed) */
} st_plan_in;

/* The planner's cost model. A request costs the tier's latency plus a system call; bytes move at
 * the tier's bandwidth, or at memory speed when it declares none (page-cached local storage). A
 * collective adds a setup per process, the exchange of every piece between processes and the
 * flattening of each run of the file view. The constants were calibrated with bench_mdms on
 * page-cached local storage; on a tier with a declared latency the requests dominate. */
#define ST_COST_SYSCALL    2e-6 /* seconds per request, on top of the tier's latency */
#define ST_COST_MEM_BW     4e9  /* bytes/s of a copy, and of a tier declaring no bandwidth */
#define ST_COST_XCHG_BW    2e9  /* bytes/s a process exchanges with the others */
#define ST_COST_RUN        1e-6 /* seconds per run of a flattened collective view */
#define ST_COST_COLL_SETUP 2e-3 /* seconds per doubling of processes: open, view, hints, sync */

/* Estimated seconds of REQUESTS requests moving BYTES on a tier of LATENCY and BW. */
double st_cost_io(double requests, double bytes, double latency, double bw);
/* Estimated seconds of the collective part (setup, exchange, view flattening) of moving USEFUL
 * bytes in RUNS runs by PROCS processes, per process. */
double st_cost_collective(double useful, double runs, int procs);

/* Choose how to move P's pieces of the dataset IN describes; fills OUT (estimates for all
 * processes). */
int st_plan(st_err *err, const st_pattern *p, const st_plan_in *in, strata_plan *out);

/* The strategy forced by STRATA_IO_STRATEGY (ST_IO_AUTO if unset), and whether it turns
 * prefetching off. STRATA_EINVAL for an unknown name. */
int st_io_forced(st_err *err, const char *spec, int *strategy, int *no_prefetch);

/* ---- handles -------------------------------------------------------------------------------- */

#ifdef STRATA_HAVE_MPI
#include <mpi.h>

#include "mdms/mpilib.h"
#endif

enum { ST_MDMS_LIVE = 0x4d444d53, ST_ASSOC_LIVE = 0x4153534f };

struct strata_mdms {
    uint32_t magic;
    strata_pool *pool;
    char app[STRATA_NAME_MAX + 1];
    int64_t region_id;
    int rank, size;
#ifdef STRATA_HAVE_MPI
    MPI_Comm comm; /* a duplicate of the caller's (dup set); MPI is bound only then */
    int dup;
#endif
    int64_t run;   /* the current run (0: none) */
    st_vec schema; /* st_cat_attr_def */
    st_vec events; /* rank 0: st_cat_ioev of loads not yet recorded */
};

/* Record an I/O event (rank 0). Saves are recorded at once; loads are kept and recorded
 * together at strata_load_end(), at the end of the run or every ST_EVENTS_MAX loads, so that
 * a load in a loop does not wait for a catalog commit. */
#define ST_EVENTS_MAX 256
void st_mdms_event(strata_mdms *m, int64_t run, const char *dataset, int64_t iteration,
                   const char *op, const char *strategy, uint64_t requests, uint64_t bytes,
                   double seconds);
/* Record the kept events. */
void st_mdms_events_flush(strata_mdms *m);

/* The files of one saved (dataset, iteration), resolved by rank 0 and sent to all. */
typedef struct st_source {
    st_cat_nd rec;
    size_t data_offset; /* contiguous layouts: where the elements start */
    int nfiles;
    int64_t *idx; /* chunk index of each file */
    char **paths; /* full paths (into blob) */
    char *blob;
    size_t bloblen;
    int staged;         /* files prestaged from an archive tier */
    double latency, bw; /* the tier read from: declared seconds per request, bytes/s */
} st_source;

/* A prefetched iteration: this process's piece (contiguous layouts) or its chunks (chunked). */
typedef struct st_prefetch {
    pthread_t thread;
    int running;
    char name[STRATA_NAME_MAX + 1];
    int64_t iteration;
    st_source src;
    void *piece; /* contiguous: the local piece, in the association's buffer SLOT */
    int slot;
    int sieve;     /* read by sieving (else run by run) */
    void **chunks; /* chunked: owned chunk data, C order, by position in src */
    int rc;
    st_err err;
    strata_assoc *as;
} st_prefetch;

struct strata_assoc {
    uint32_t magic;
    strata_mdms *m;
    int64_t run, assoc_id;
    int n;
    char (*names)[STRATA_NAME_MAX + 1];
    strata_dtype dtype;
    size_t esz;
    int ndims;
    uint64_t dims[ST_ND_MAXDIMS];
    uint64_t local[ST_ND_MAXDIMS], local_elems;
    st_pattern pat;
    st_cat_storage sp;            /* saves: where and how new data goes */
    double tier_latency, tier_bw; /* sp's tier: declared seconds per request, bytes/s */
    int saving, loading;
    int forced, no_prefetch;
    strata_plan last;
    st_prefetch *pf;
    void *bufs[2]; /* owned piece buffers: strata_load_view() and prefetching (double buffering) */
    int shown;     /* the buffer strata_load_view() handed out last, -1 for none */
};

/* Collective helpers (no-ops with one process). */
int st_mdms_bcast(strata_mdms *m, void *buf, size_t n);
/* Every process's RC combined: the most severe (lowest) status, with the message of the process
 * that had it copied into everyone's pool error. */
int st_mdms_agree(strata_mdms *m, int rc);
double st_mdms_max(strata_mdms *m, double v);
uint64_t st_mdms_sum(strata_mdms *m, uint64_t v);

/* The data movement (mdms_io.c). */
int st_mdms_save(strata_assoc *as, const char *name, int64_t iteration, const void *buf);
/* Load into BUF, or (BUF NULL) into an owned buffer whose address goes to *VIEW. */
int st_mdms_load(strata_assoc *as, const char *name, int64_t iteration, void *buf,
                 const void **view);
/* Free the owned piece buffers. */
void st_mdms_views_free(strata_assoc *as);
int st_mdms_load_list(strata_assoc *as, const char *name, int64_t iteration, const uint64_t *index,
                      uint64_t n, void *buf);
void st_mdms_prefetch_stop(strata_assoc *as);

/* The N-d array name of (DATASET, RUN, ITERATION). */
void st_mdms_array_name(char *out, size_t cap, const char *dataset, int64_t run, int64_t iteration);

#endif /* STRATA_MDMS_INT_H */
