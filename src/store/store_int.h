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

/* A partition of a sorted dataset, as a snapshot shows it: one batch, the merge of its runs,
 * the physical batches [RUN0, RUN0 + NRUNS) of the snapshot (sorted by partition, then run). */
typedef struct st_part {
    uint64_t run0, nruns;
    st_pseg *seg; /* the merged order (NSEG pieces), found at the first read; NULL before */
    size_t nseg;
} st_part;

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
    /* A partitioned (sorted) dataset shows one batch per partition; its runs, the batches of
     * the catalog, are these (NULL otherwise: the batches above are the catalog's). */
    st_part *parts;                   /* nbatches */
    uint64_t nphys;                   /* the runs of every partition */
    st_cat_batch *pbatches;           /* nphys, by partition then run */
    st_cat_bcol *pbcols;              /* nphys * ncols */
    st_npy_map *pmaps[ST_BCOL_FILES]; /* nphys * ncols, mapped while a partition is merged */
    int sort_keys;                    /* the key columns after the index; < 0: descending */
};

/* partition.c: the batches S collected from the catalog, regrouped when they are the runs of
 * partitions (nothing changes otherwise). */
int st_parts_open(strata_snapshot *s);
/* Map column COL of partition BATCH of S (more than one run): the merge of its runs, computed
 * into memory owned by S (s->maps, released by st_snapshot_release). */
int st_parts_map(strata_snapshot *s, uint64_t batch, int col);
void st_parts_close(strata_snapshot *s);

/* snapshot.c: map the files of column COL of catalog batch B, whose column record is BC, into
 * M[0..ST_BCOL_FILES), checked against the record (BC is updated if the files moved tier). */
int st_snapshot_map_rec(strata_snapshot *s, const st_cat_batch *b, st_cat_bcol *bc, int col,
                        st_npy_map *m[ST_BCOL_FILES]);

#endif /* STRATA_STORE_INT_H */
