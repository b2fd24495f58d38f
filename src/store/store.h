/*
 * store.h -- the store layer's interface for the layers above it.
 *
 * The store layer owns datasets: their schemas, their batches of column files, the writer lock
 * and the snapshots that read a published version. struct strata_dataset, strata_batch and
 * strata_snapshot are its own (store_int.h); the layers above (ops, expr, derive, ingest, tier,
 * mdms) include this header and reach a handle's state only through the functions below.
 * The two structs here, st_schema and st_colw, are values the callers hold themselves. The files
 * of src/store include store_int.h, which includes this one.
 */
#ifndef STRATA_STORE_H
#define STRATA_STORE_H

#include <xxhash.h>

#include "catalog/catalog.h"
#include "pool/pool.h"
#include "pool/walk.h"
#include "util/fileio.h"

/* A schema as read from the catalog, with the public view of it. */
typedef struct st_schema {
    int ncols;
    st_cat_column *cat;  /* names and dtypes */
    strata_column *cols; /* names point into cat */
} st_schema;

int st_schema_load(strata_pool *pool, const char *region, const char *name, st_cat_dataset *d,
                   st_schema *out);
void st_schema_free(st_schema *s);
int st_schema_find(const st_schema *s, const char *name);

/* Check REGION and NAME as names of a region and a dataset. */
int st_dataset_names_check(strata_pool *pool, const char *region, const char *name);

/* Prepare a new dataset NAME in region R: fill D (a new directory token) and create its
 * directory DIR durably; the caller then inserts the catalog rows (rmdir DIR if that fails). */
int st_dataset_mkdir(strata_pool *pool, const st_cat_region *r, const char *name, st_cat_dataset *d,
                     char dir[ST_PATH_MAX]);

/* Read the small files of S (st_npy_load_file) instead of mapping them: for a reader that
 * releases each batch when done with it, not one whose buffers outlive the call (exports). */
void st_snapshot_load_small(strata_snapshot *s);

/* The batch of S holding snapshot row ROW (< nrows); HINT, a guess, is tried first. */
uint64_t st_snapshot_batch_of(const strata_snapshot *s, uint64_t row, uint64_t hint);

/* "POOL/data/RDIR/DDIR" */
int st_dataset_dir(strata_pool *pool, const st_cat_dataset *d, char out[ST_PATH_MAX]);

/* The directory of dataset D on tier TIER_ID (TIER_ROOT/REGION_DIR/DATASET_DIR; the dataset's own
 * directory on the default tier), created when MAKE. */
int st_dataset_tier_dir(strata_pool *pool, const st_cat_dataset *d, int64_t tier_id, int make,
                        char out[ST_PATH_MAX]);

/* The path of FILE of dataset D (whose directory is DIR) on tier TIER_ID. */
int st_bcol_path(strata_pool *pool, const st_cat_dataset *d, const char *dir, int64_t tier_id,
                 const char *file, char out[ST_PATH_MAX]);

/* strata_dataset_open(); INTERNAL: the update engine, which writes a derived dataset's
 * intrinsic columns. */
int st_dataset_open(strata_pool *pool, const char *region, const char *name, int internal,
                    strata_dataset **out);

/* One column file being written: header room first, then the data streamed in. */
typedef struct st_colfile {
    st_wfile w;
    uint64_t n;     /* elements written */
    uint64_t bytes; /* data bytes written */
    XXH64_state_t *hash;
    int has_minmax;
    int64_t min_i, max_i;
    double min_f, max_f;
} st_colfile;

/* A column writer: one column of one batch streamed into its file (strings: two files), and its
 * validity bitmap, started at the first null (Arrow's layout: bit i of byte i / 8, LSB first,
 * set when row i has a value). */
typedef struct st_colw {
    st_colfile data;   /* values or string offsets */
    st_colfile sbytes; /* string bytes (unused for other dtypes) */
    st_colfile valid;  /* the validity bitmap, once a null was appended (fd -1 before) */
    uint64_t nulls;
    uint8_t vbyte;   /* the bits of the last, partial byte of the bitmap */
    const char *dir; /* where the files are (the caller's string, which outlives W) */
    strata_dtype dtype;
} st_colw;

/* Start a column file of DTYPE in DIR. */
int st_colw_open(st_err *err, st_colw *w, const char *dir, strata_dtype dtype);
/* Append N values (not validated: the caller's values are trusted). */
int st_colw_append(st_err *err, st_colw *w, const void *values, uint64_t n);
/* Append N strings: string i is BYTES[OFFSETS[i] - OFFSETS[0], OFFSETS[i+1] - OFFSETS[0]). */
int st_colw_append_str(st_err *err, st_colw *w, const int64_t *offsets, const char *bytes,
                       uint64_t n);
/* As st_colw_append and st_colw_append_str, with the validity of the N rows in bits [BIT0,
 * BIT0 + N) of VALID (NULL: all valid). A null row is stored as zero (an empty string) and takes
 * no part in the statistics. */
int st_colw_append_valid(st_err *err, st_colw *w, const void *values, const uint8_t *valid,
                         uint64_t bit0, uint64_t n);
int st_colw_append_str_valid(st_err *err, st_colw *w, const int64_t *offsets, const char *bytes,
                             const uint8_t *valid, uint64_t bit0, uint64_t n);
/* Write the last, partial byte of W's validity bitmap in place (nothing if it has no bitmap), so
 * that the rows appended so far can be read from its files while W stays open: spilled runs. */
int st_colw_sync_valid(st_err *err, st_colw *w);
/* Complete the file as DIR/TOKEN.POS.npy, fsynced (the caller fsyncs DIR); BC receives its
 * record. W is released, also on failure. */
int st_colw_finish(st_err *err, st_colw *w, const char *dir, const char *token, int pos,
                   st_cat_bcol *bc);
void st_colw_abort(st_colw *w);

/* Remove the garbage of dataset D (files of batches replaced by a refresh, superseded column
 * versions) if no snapshot reads it now; *files and *bytes say what was removed. */
int st_dataset_sweep(strata_pool *pool, const st_cat_dataset *d, const char *dir, uint64_t *files,
                     uint64_t *bytes);

/* A file the catalog names, with its tier. */
typedef struct st_sweep_file {
    int64_t tier_id;
    char file[ST_CAT_FILE];
} st_sweep_file;

/* st_dataset_sweep in steps, so that processes can share the removal: st_sweep_begin holds off
 * D's readers (an exclusive hold on its .readers lock: busy, it takes nothing), lists the garbage
 * into S->files (st_sweep_file) and drops its catalog rows (a crash then leaves orphans, never
 * rows without files); st_sweep_files removes files FIRST, FIRST + STEP, ... of FILES (those
 * st_sweep_begin listed, here or in another process), adding to *NFILES and *BYTES; st_sweep_end
 * lets the readers in again and frees S. */
typedef struct st_sweep {
    int hold; /* the hold on .readers; -1: none */
    st_vec files;
} st_sweep;
int st_sweep_begin(strata_pool *pool, const st_cat_dataset *d, const char *dir, st_sweep *s);
void st_sweep_files(strata_pool *pool, const st_cat_dataset *d, const char *dir,
                    const st_vec *files, size_t first, size_t step, uint64_t *nfiles,
                    uint64_t *bytes);
void st_sweep_end(strata_pool *pool, st_sweep *s);

/* Take DS's writer lock (waiting up to its lock timeout) and re-read its record under it. */
int st_dataset_lock(strata_dataset *ds);

/* Unmap the files of batch BATCH of snapshot S (they are mapped again on next use). */
void st_snapshot_release(strata_snapshot *s, uint64_t batch);

/* Whether any column of batch BATCH of S is mapped: a caller that maps a batch only to stream
 * it (an export) releases it after only when it was not (the snapshot's caller may hold views
 * of it, valid until the snapshot is closed). */
int st_snapshot_mapped(const strata_snapshot *s, uint64_t batch);

/* Make CH visible as the next version of DS, whose writer lock the caller holds: the one path by
 * which data is published, for ingest (strata_publish) and the update engine alike. DS's
 * directory is fsynced first, so every file CH names is durable before the catalog names it; the
 * change is one catalog transaction that fails with STRATA_ECONFLICT unless DS is still at the
 * version its lock was taken at; after a refresh (retire_all) the replaced batches are swept
 * unless a reader holds them. *NEW_VERSION (may be NULL) receives the new version. */
int st_dataset_apply(strata_dataset *ds, st_cat_change *ch, int64_t *new_version);
/* As st_dataset_apply without the sweep: the caller removes the replaced batches' files
 * (st_sweep_begin...), as the processes of a spread update share it. */
int st_dataset_apply_unswept(strata_dataset *ds, st_cat_change *ch, int64_t *new_version);

/* Release DS's writer lock, if held. */
void st_dataset_unlock(strata_dataset *ds);

/* An ingest spread over processes: one publishes, holding DS's writer lock; the others are its
 * helpers. A helper's DS writes and commits batches without the lock; its committed batches
 * (st_dataset_pending: N records, N * ncols column records, owned by DS) go to the publishing
 * process, which adds them to its own after them (st_dataset_adopt: their files are in DS's
 * directory already, durable); once published, each helper forgets them
 * (st_dataset_forget_pending), or else closing DS removes their files. */
void st_dataset_set_helper(strata_dataset *ds);
int st_dataset_pending(const strata_dataset *ds, const st_cat_batch **b, const st_cat_bcol **cols);
int st_dataset_adopt(strata_dataset *ds, const st_cat_batch *b, const st_cat_bcol *cols, int n);
void st_dataset_forget_pending(strata_dataset *ds);

/* What a dataset handle holds, for the update engine and the tier mover. Pointers are owned by
 * DS and valid until it is closed; the record is re-read by st_dataset_lock(). */
const st_schema *st_dataset_schema(const strata_dataset *ds);
const st_cat_dataset *st_dataset_rec(const strata_dataset *ds);
const char *st_dataset_path(const strata_dataset *ds); /* "POOL/data/RDIR/DDIR" */
strata_pool *st_dataset_pool(const strata_dataset *ds);

/* What a snapshot holds: its schema and record, its version, and its batches (NBATCHES records,
 * NBATCHES * ncols column records, NBATCHES + 1 cumulative row starts). Pointers are owned by S
 * and valid until it is closed. */
const st_schema *st_snapshot_schema(const strata_snapshot *s);
const st_cat_dataset *st_snapshot_rec(const strata_snapshot *s);
int64_t st_snapshot_version(const strata_snapshot *s);
uint64_t st_snapshot_nrows(const strata_snapshot *s);
uint64_t st_snapshot_nbatches(const strata_snapshot *s);
const st_cat_batch *st_snapshot_batches(const strata_snapshot *s);
const st_cat_bcol *st_snapshot_bcols(const strata_snapshot *s);
const uint64_t *st_snapshot_row_start(const strata_snapshot *s);
/* The pool S was opened on (whose error context records S's failures). */
strata_pool *st_snapshot_pool(const strata_snapshot *s);

/* ---- sorted runs (partition.c): the merge of a partition's runs ------------------------------ */

/* A piece of a merged order: rows [FROM, FROM + LEN) of run RUN. */
typedef struct st_pseg {
    uint64_t from, len;
    uint32_t run;
} st_pseg;

/* One column of one run: values (strings: int64 offsets, string i at BYTES + off[i]) and the
 * validity bitmap (NULL: no nulls). */
typedef struct st_pcol {
    const void *data;
    const char *bytes;
    const uint8_t *valid;
} st_pcol;

/* The stable merge of NRUNS runs, each sorted by the same NK key columns of types DT (DESC: the
 * sort was descending; a null after every value, NaN after every number): KEYS[r * NK + k] is
 * key K of run R, N[r] its rows. Run 0 should be the largest (its rows are placed by galloping;
 * every other run's row costs a heap step). Equal keys go to the earlier run. The order is
 * *SEG (*NSEG pieces, malloc'ed), the same for any NTHREADS (a large run 0 splits the merge into
 * spans of keys, one a thread). */
int st_merge_order(const strata_dtype *dt, int nk, int desc, const st_pcol *keys, const uint64_t *n,
                   uint32_t nruns, int nthreads, st_pseg **seg, size_t *nseg);

/* Rows [R0, R1) of the merged order SEG (NSEG pieces) of runs whose column of DTYPE is COLS[run]:
 * the values into OUT (strings: R1 - R0 + 1 offsets from 0, the bytes into OBYTES, which has
 * room for st_merge_bytes() of them), the validity into OVALID unless it is NULL. */
void st_merge_copy(strata_dtype dtype, const st_pseg *seg, size_t nseg, const st_pcol *cols,
                   uint64_t r0, uint64_t r1, void *out, char *obytes, uint8_t *ovalid);
/* The bytes of the strings of rows [R0, R1) of that order. */
uint64_t st_merge_bytes(const st_pseg *seg, size_t nseg, const st_pcol *cols, uint64_t r0,
                        uint64_t r1);

/* The store's part of a check or gc (pool/walk.h, src/check). */
/* Datasets of region REG (ONLY_NAME: just that one): verify their files (not in gc), sweep their
 * garbage (gc), find the orphans in their directories; their directory names go to
 * REGION_KNOWN. */
int st_store_walk(st_walk *w, const st_cat_region *reg, const char *only_name,
                  st_nameset *region_known);
/* Add the directory names of region REGION_ID's datasets to KNOWN. */
int st_store_dirs(strata_pool *pool, int64_t region_id, st_nameset *known);
/* The trash's directories (paths relative to the pool) into TRASH, sorted. */
int st_store_trash_names(strata_pool *pool, st_nameset *trash);
/* gc: remove the trashed directories that no snapshot reads. */
int st_store_gc_trash(strata_pool *pool, int dry_run, strata_gc_stats *stats);
/* gc: expire the versions of every dataset but the last KEEP_VERSIONS. */
int st_store_expire(strata_pool *pool, int64_t keep_versions, int dry_run, strata_gc_stats *stats);

#endif /* STRATA_STORE_H */
