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
    int helper;       /* writes batches for another process, which holds the lock and publishes */
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

/* The mappings of a batch column's files (as st_cat_bcol_file() orders them). A snapshot holds
 * one pointer per batch column, the mappings allocated when the column is first mapped: a
 * snapshot of many batches costs a pointer per column until it is read (an st_npy_map is ~370
 * bytes: a table of them zeroed at every open was most of a small update's page faults). */
typedef st_npy_map st_bcmap[ST_BCOL_FILES];

/* The mappings of entry I of TAB, allocated if need be, into M; STRATA_ENOMEM. */
int st_bcmap_get(st_bcmap **tab, size_t i, st_npy_map *m[ST_BCOL_FILES]);
/* Unmap and free entry I of TAB (if any). */
void st_bcmap_drop(st_bcmap **tab, size_t i);

struct strata_snapshot {
    strata_pool *pool;
    st_cat_dataset d;
    st_schema schema;
    char dir[ST_PATH_MAX];
    int64_t version;
    uint64_t nbatches, nrows, bytes;
    /* the catalog's batches, read-only: shared with the catalog handle's kept list (BREF), or
     * this snapshot's own (BREF NULL) */
    const st_cat_batch *batches;
    const st_cat_bcol *bcols; /* nbatches * ncols */
    st_cat_bref *bref;
    uint64_t *row_start; /* nbatches + 1 cumulative row counts */
    st_bcmap **maps;     /* nbatches * ncols: a batch column's files, mapped on use */
    int hold;            /* DDIR/.readers, locked shared while open */
    int load_small;      /* small files are read, not mapped (st_snapshot_load_small) */
    /* A partitioned (sorted) dataset shows one batch per partition; its runs, the batches of
     * the catalog, are these (NULL otherwise: the batches above are the catalog's). */
    st_part *parts;         /* nbatches */
    uint64_t nphys;         /* the runs of every partition */
    st_cat_batch *pbatches; /* nphys, by partition then run */
    st_cat_bcol *pbcols;    /* nphys * ncols */
    st_bcmap **pmaps;       /* nphys * ncols, mapped while a partition is merged */
    int sort_keys;          /* the key columns after the index; < 0: descending */
};

/* Let go of S's batches and their columns (shared or its own); S has none after. */
void st_snapshot_drop_batches(strata_snapshot *s);

/* partition.c: the batches S collected from the catalog, regrouped when they are the runs of
 * partitions (nothing changes otherwise). */
int st_parts_open(strata_snapshot *s);
/* Map column COL of partition BATCH of S (more than one run): the merge of its runs, computed
 * into memory owned by S (s->maps, released by st_snapshot_release). */
int st_parts_map(strata_snapshot *s, uint64_t batch, int col);
void st_parts_close(strata_snapshot *s);

/* snapshot.c: map the files of column COL of catalog batch B, whose column record is BC, into
 * M[0..ST_BCOL_FILES), checked against the record (BC is updated if the files moved tier). */
int st_snapshot_map_rec(strata_snapshot *s, const st_cat_batch *b, const st_cat_bcol *bc, int col,
                        st_npy_map *m[ST_BCOL_FILES]);

#endif /* STRATA_STORE_INT_H */
