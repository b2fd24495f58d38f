/*
 * store_int.h -- the insides of dataset, batch and snapshot handles, shared by the files of
 * src/store only; the layers above use store.h.
 *
 * On disk a dataset is a directory under its region's: POOL/data/RDIR/DDIR/. Each column of each
 * batch is TOKEN.C.npy (strings: TOKEN.C.npy holds int64 offsets, TOKEN.C.bytes.npy the bytes),
 * TOKEN being random per batch and C the column's position. DDIR/.writer is the file whose OFD
 * lock serialises writers; every open snapshot holds a shared OFD lock on DDIR/.readers.
 */
#ifndef STRATA_STORE_INT_H
#define STRATA_STORE_INT_H

#include "store/store.h"
#include "util/npy.h"

#define ST_WRITER_LOCK  ".writer"
#define ST_READERS_LOCK ".readers"

struct strata_dataset {
    strata_pool *pool;
    st_cat_dataset d;
    st_schema schema;
    char dir[ST_PATH_MAX];
    int hold; /* the writer lock (st_cat_lock) while held, else -1 */
    int lock_timeout_ms;
    int64_t base_version; /* the version when the lock was taken */
    /* committed, not yet published */
    st_cat_batch *pending;
    st_cat_bcol *pending_cols; /* npending * ncols */
    int npending, cap;
    int open_batches; /* begun, not yet committed or aborted */
    int derived;      /* a derived dataset: written by its derivation only */
};

struct strata_batch {
    strata_dataset *ds;
    char token[ST_TOKEN_LEN + 1];
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
    st_cat_bcol *bcols;              /* nbatches * ncols */
    uint64_t *row_start;             /* nbatches + 1 cumulative row counts */
    st_npy_map *maps[ST_BCOL_FILES]; /* nbatches * ncols of each file of a batch column (as
                                      * st_cat_bcol_file() orders them), mapped on first use */
    int hold;                        /* DDIR/.readers, locked shared while open */
};

#endif /* STRATA_STORE_INT_H */
