/*
 * store_int.h -- the insides of dataset, batch and snapshot handles (src/store).
 *
 * On disk a dataset is a directory under its region's: POOL/data/RDIR/DDIR/. Each column of each
 * batch is TOKEN.C.npy (strings: TOKEN.C.npy holds int64 offsets, TOKEN.C.bytes.npy the bytes),
 * TOKEN being random per batch and C the column's position. DDIR/.writer is the file whose OFD
 * lock serialises writers; every open snapshot holds a shared OFD lock on DDIR/.readers.
 */
#ifndef STRATA_STORE_INT_H
#define STRATA_STORE_INT_H

#include <xxhash.h>

#include "catalog/catalog.h"
#include "pool/pool.h"
#include "util/npy.h"

#define ST_WRITER_LOCK  ".writer"
#define ST_READERS_LOCK ".readers"

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

struct strata_dataset {
    strata_pool *pool;
    st_cat_dataset d;
    st_schema schema;
    char dir[ST_PATH_MAX];
    int lock_fd; /* the .writer file while the writer lock is held, else -1 */
    int lock_timeout_ms;
    int64_t base_version; /* the version when the lock was taken */
    /* committed, not yet published */
    st_cat_batch *pending;
    st_cat_bcol *pending_cols; /* npending * ncols */
    int npending, cap;
    int open_batches; /* begun, not yet committed or aborted */
    int derived;      /* a derived dataset: written by its derivation only */
};

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

/* A column writer: one column of one batch streamed into its file (strings: two files). */
typedef struct st_colw {
    st_colfile data;   /* values or string offsets */
    st_colfile sbytes; /* string bytes (unused for other dtypes) */
    strata_dtype dtype;
} st_colw;

/* Start a column file of DTYPE in DIR. */
int st_colw_open(st_err *err, st_colw *w, const char *dir, strata_dtype dtype);
/* Append N values (not validated: the caller's values are trusted). */
int st_colw_append(st_err *err, st_colw *w, const void *values, uint64_t n);
/* Append N strings: string i is BYTES[OFFSETS[i] - OFFSETS[0], OFFSETS[i+1] - OFFSETS[0]). */
int st_colw_append_str(st_err *err, st_colw *w, const int64_t *offsets, const char *bytes,
                       uint64_t n);
/* Complete the file as DIR/TOKEN.POS.npy, fsynced (the caller fsyncs DIR); BC receives its
 * record. W is released, also on failure. */
int st_colw_finish(st_err *err, st_colw *w, const char *dir, const char *token, int pos,
                   st_cat_bcol *bc);
void st_colw_abort(st_colw *w);

struct strata_batch {
    strata_dataset *ds;
    char token[17];
    st_colw *cols; /* per column */
    int64_t created_ns;
};

struct strata_snapshot {
    strata_pool *pool;
    st_cat_dataset d;
    st_schema schema;
    char dir[ST_PATH_MAX];
    int64_t version;
    uint64_t nbatches, nrows, bytes;
    st_cat_batch *batches;
    st_cat_bcol *bcols;  /* nbatches * ncols */
    uint64_t *row_start; /* nbatches + 1 cumulative row counts */
    st_npy_map *maps;    /* nbatches * ncols, mapped on first use */
    st_npy_map *bmaps;   /* string bytes */
    int lock_fd;         /* DDIR/.readers, locked shared while open */
};

/* Remove the garbage of dataset D (files of batches replaced by a refresh, superseded column
 * versions) if no snapshot reads it now; *files and *bytes say what was removed. */
int st_dataset_sweep(strata_pool *pool, const st_cat_dataset *d, const char *dir, uint64_t *files,
                     uint64_t *bytes);

/* Take DS's writer lock (waiting up to its lock timeout) and re-read its record under it. */
int st_dataset_lock(strata_dataset *ds);

/* Unmap the files of batch BATCH of snapshot S (they are mapped again on next use). */
void st_snapshot_release(strata_snapshot *s, uint64_t batch);

/* Release DS's writer lock, if held. */
void st_dataset_unlock(strata_dataset *ds);

/* The dataset description of snapshot S. */
int st_snapshot_describe(strata_snapshot *s, strata_dataset_desc *out);

#endif /* STRATA_STORE_INT_H */
