/*
 * ndarray.h -- the N-d array layer's interface for the layer above it (mdms).
 *
 * The ndarray layer owns N-d arrays: their chunk files on every tier, the chunk cache, staging of
 * archive chunks (on demand during reads) and eviction of staged copies. struct strata_ndarray is
 * its own (nd_int.h); tier (which manages tiers and moves chunks between them) and mdms (which
 * writes N-d arrays of its own associations) include this header and nothing else of
 * src/ndarray. st_ndctx is here because callers hold one on their stack and point its error
 * context elsewhere. The files of src/ndarray include nd_int.h, which includes this one.
 */
#ifndef STRATA_NDARRAY_H
#define STRATA_NDARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "pool/pool.h"
#include "pool/walk.h"
#include "util/error.h"

#define ST_ARCHIVE_ZSTD 3 /* level of files on an archive tier when the array has none */
#define ST_ND_TIER_MEMO 4 /* tiers a context remembers */

/* Where an I/O path runs: the error context and catalog of the calling thread (the pool's, or a
 * background thread's own), the pool directory, and what it reports. */
typedef struct st_ndctx {
    st_err *err;
    st_catalog *cat;
    const char *pool_path;
    int64_t stage_tier;       /* where reads stage archive chunks */
    struct st_ndcache *cache; /* NULL: none */
    /* tiers already looked up (their kind and root never change while they hold data), so that
     * reading a chunk costs no catalog query for its tier */
    struct {
        int64_t id;
        int archive;
        char root[ST_PATH_MAX];
    } tiers[ST_ND_TIER_MEMO];
    int ntiers;
    int nthreads;      /* for the plain chunks of a read (the pool's threads) */
    strata_pool *pool; /* whose work function hears a read's progress (NULL: none) */
    st_fmaps *fm;      /* the pool's kept mappings, for the read under way (NULL: none) */
    /* the manifest the read under way takes its chunks and tiers from (NULL: the catalog) */
    const st_ndm *ndm;
    /* counters */
    uint64_t chunks_read, cache_hits, staged, staged_bytes, evicted;
} st_ndctx;

/* What an open array handle holds: its pool and its record as of the last call on it. Owned by
 * A, valid until it is closed. */
strata_pool *st_nd_pool(const strata_ndarray *a);
const st_cat_nd *st_nd_rec(const strata_ndarray *a);

/* A context on POOL's error and catalog (staging to the default tier, no cache). */
void st_ndctx_init(st_ndctx *x, strata_pool *pool);

/* Check the arguments of strata_ndarray_create() and fill *OUT (a fresh directory token, not
 * yet inserted). STRATA_EEXIST if REGION/NAME exists. */
int st_nd_prepare(strata_pool *pool, const char *region, const char *name, strata_dtype dtype,
                  int ndims, const uint64_t *dims, const uint64_t *chunk_dims,
                  const strata_ndarray_opts *opts, st_cat_nd *out);

/* TIER_ROOT/RDIR/ND for array REC on tier TIER_ID, created when MAKE. */
int st_nd_dir(st_ndctx *x, const st_cat_nd *rec, int64_t tier_id, int make, char out[ST_PATH_MAX]);

/* Whether tier TIER_ID is an archive (1), not (0), or a negative status. */
int st_nd_tier_is_archive(st_ndctx *x, int64_t tier_id);

/* Stage chunk C of REC (home on an archive tier) to tier TIER_ID: copy, record, then evict
 * older staged copies from the tier if it is over its capacity. STAGED_FILE (ST_CAT_FILE bytes,
 * may be NULL) receives the new copy's name. */
int st_nd_stage_chunk(st_ndctx *x, const st_cat_nd *rec, const st_cat_chunk *c, int64_t tier_id,
                      char *staged_file);

/* Write chunk IDX of REC, of extent EXT[ndims] (C order; a contiguous array's column-major file:
 * Fortran order) from DATA, as a file of DIR named with TOKEN (NULL: a fresh one), compressed at
 * LEVEL; fills *OUT with its record (file, home tier, bytes, checksum, min, max). The one chunk
 * writer: strata_ndarray_write() and the processes of an mdms save both use it. */
int st_nd_put_chunk(st_ndctx *x, const st_cat_nd *rec, const char *dir, int64_t idx,
                    const char *token, int level, const uint64_t *ext, const void *data,
                    st_cat_chunk *out);

/* A new array written by several processes (an mdms save): rank 0 prepares REC
 * (st_nd_prepare) and makes its directories (st_nd_begin_new); every process writes the chunks it
 * owns (st_nd_put_chunk) or its piece of a contiguous array's one file (created by rank 0 with
 * st_nd_file_open, sealed by rank 0 with st_nd_file_seal once all have written); rank 0 then
 * publishes REC with every chunk (st_nd_commit_new) or removes what was written
 * (st_nd_discard_new). */

/* Make REC's directories on the default tier and on its home tier; HOME receives the latter and
 * *LEVEL the zstd level of its files (the array's, else ST_ARCHIVE_ZSTD on an archive tier). */
int st_nd_begin_new(st_ndctx *x, const st_cat_nd *rec, char home[ST_PATH_MAX], int *level);

/* The one file of contiguous REC in HOME, named with TOKEN: PATH and *HDR (the data's offset)
 * receive where it is; CREATE: create it with its header, sized for the whole array. */
int st_nd_file_open(st_ndctx *x, const st_cat_nd *rec, const char *home, const char *token,
                    int create, char path[ST_PATH_MAX], uint64_t *hdr);

/* Make the file at PATH durable and fill *OUT with its record (checksum and range of its data). */
int st_nd_file_seal(st_ndctx *x, const st_cat_nd *rec, const char *home, const char *path,
                    st_cat_chunk *out);

/* Publish new array REC with its N chunks (their coordinates are derived here), its NATTRS
 * attributes ATTRS (checked by the caller with st_nd_attr_check) and, in the same transaction,
 * the execution row E of the save (NULL for an array that is no mdms save: an import). */
int st_nd_commit_new(st_ndctx *x, st_cat_nd *rec, st_cat_chunk *chunks, int n,
                     const strata_attr *attrs, int nattrs, st_cat_execrow *e);

/* Check ATTR as strata_ndarray_attr_set() does (WHERE names the array in messages). */
int st_nd_attr_check(st_err *err, const strata_attr *attr, const char *where);

/* Remove the directories of REC, which was never published (best effort: leftovers are orphans
 * that gc removes). */
void st_nd_discard_new(st_ndctx *x, const st_cat_nd *rec);

/* Catalog listing callback appending a chunk row to the st_vec CTX. */
int st_nd_push_chunk(void *ctx, const st_cat_chunk *c);

/* Byte strides of an array of extent E[N] in C order (FORTRAN: column-major). */
void st_nd_strides(int n, const uint64_t *e, int fortran, size_t esz, int64_t *st);

/* Copy the box of COUNT[N] elements of ESZ bytes from SRC (byte strides SS) to DST (byte strides
 * DS); fill a box at DST with the element FILL. */
void st_nd_copy_box(int n, const uint64_t *count, size_t esz, const char *src, const int64_t *ss,
                    char *dst, const int64_t *ds);
void st_nd_fill_box(int n, const uint64_t *count, size_t esz, const void *fill, char *dst,
                    const int64_t *ds);

/* The ndarray layer's part of a check or gc (pool/walk.h, src/check): the N-d arrays of region
 * REG (ONLY_NAME: just that one): verify their chunks (not in gc) and find the orphans in their
 * directories on every tier; their directory names go to REGION_KNOWN. */
int st_nd_walk(st_walk *w, const st_cat_region *reg, const char *only_name,
               st_nameset *region_known);
/* Add the directory names of region REGION_ID's N-d arrays to KNOWN. */
int st_nd_dirs(strata_pool *pool, int64_t region_id, st_nameset *known);

/* ---- for the tier layer: the chunk grid, staged copies, copies and moves between tiers ---- */

/* The chunk grid of REC at its current shape: per dimension the extent, the chunk extent and
 * the number of chunks. */
typedef struct st_ndgrid {
    int n;
    uint64_t dims[ST_ND_MAXDIMS], chunk[ST_ND_MAXDIMS], grid[ST_ND_MAXDIMS];
} st_ndgrid;

void st_nd_grid(const st_cat_nd *rec, st_ndgrid *g);

/* Linear index of chunk coordinates C (the first dimension slowest). */
int64_t st_nd_linear(const st_ndgrid *g, const uint64_t *c);

/* Evict least recently used staged copies from tier TIER_ID until NEED more bytes fit in its
 * capacity (or nothing more can go: STRATA_ENOSPC). A tier without a capacity takes anything. */
int st_nd_evict(st_ndctx *x, int64_t tier_id, uint64_t need);

/* Unlink the files of every staged copy on tier TIER_ID, best effort; their catalog rows stay
 * (removing a tier deletes them with it, in the caller's transaction). */
int st_nd_unlink_staged(st_ndctx *x, int64_t tier_id);

/* Copy the file FILE of REC on tier FROM to a new file NEW_NAME (PREFIX + index IDX + a fresh
 * token) on tier TO, in the format TO needs (zstd on an archive), durably. *READ_BYTES receives
 * the source's size, *STORED the copy's. No catalog row is changed. */
int st_nd_copy_chunk(st_ndctx *x, const st_cat_nd *rec, int64_t idx, int64_t from, const char *file,
                     int64_t to, char prefix, char new_name[ST_CAT_FILE], uint64_t *read_bytes,
                     uint64_t *stored);

/* Remove FILE of REC on tier TIER_ID, best effort (a leftover is an orphan that gc removes). */
void st_nd_remove_file(st_ndctx *x, const st_cat_nd *rec, int64_t tier, const char *file);

/* Take REC's writers' lock (waiting up to 30 s), so that no write replaces a chunk meanwhile.
 * Returns the hold (release it with st_cat_unlock on X's catalog), or an error. */
int st_nd_lock_writer(st_ndctx *x, const st_cat_nd *rec);

#endif /* STRATA_NDARRAY_H */
