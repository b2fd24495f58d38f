/*
 * update_int.h -- what the parts of the update engine share (src/derive/update.c, order.c).
 *
 * An update of one dataset is a job: its working view (the batches it has, and the new ones
 * written so far), the changes to publish in one transaction, and the files written meanwhile.
 */
#ifndef STRATA_UPDATE_INT_H
#define STRATA_UPDATE_INT_H

#include "derive/derive.h"
#include "util/comm.h"
#include "util/npy.h"
#include "util/vec.h"

/* Columns an order-destroying merge carries: the index, the keys and derived columns. */
#define ST_TBL_MAX 40

/* A batch of the working view. */
typedef struct st_upd_wbatch {
    st_cat_batch b;
    st_cat_bcol *cols; /* one per column of the full schema */
    int is_new;
    int retired;
} st_upd_wbatch;

typedef struct st_upd_job {
    strata_pool *pool;
    st_err *err;
    const strata_update_opts *o;
    strata_update_stats *st;
    int nt, nt_all; /* threads for the object at hand (st_upd_threads), and the job's */
    uint64_t out_rows;
    strata_dataset *ds; /* holds the writer lock; its schema: the intrinsic columns */
    st_schema sch;      /* every column */
    st_vec wb;          /* st_upd_wbatch */
    int retire_all;
    st_vec fills; /* st_cat_fill */
    st_vec marks; /* st_cat_mark */
    st_vec files; /* char[ST_CAT_FILE]: files written, removed if the publish fails */
    st_vec snaps; /* strata_snapshot *: the sources read, opened once (st_upd_source) */
    int changed;
    const st_cat_deriv *group; /* the objects of this dataset being updated, in order */
    size_t ngroup;
    int carry_to; /* columns [ds->schema.ncols, carry_to) were written by an index merge */
    /* Output batches of a full sort are the runs of partitions (src/store/partition.c):
     * st_upd_out_end tags each new batch. A base (DELTA 0) takes partition number PART, and
     * PART moves on by STEP; a delta takes partition PART and run RUN, and RUN moves on. */
    struct {
        int on, delta, sort_keys;
        int64_t part, step, run;
    } lsm;
    /* progress of the current object */
    strata_update_event ev;
    double t0;
    int began; /* the current object has work (begin_object) */
    /* An update spread over processes (src/derive/spread.c): COMM, NULL for one process; what
     * the job was when the current object began (its working batches, fills, which were
     * retired); the cells this process placed into those batches since; the rows of work this
     * process did in the whole update (*WORK). */
    const st_comm *comm;
    size_t n0, nfills0;
    uint8_t *retired0;
    st_vec placed; /* st_upd_placed */
    uint64_t *work;
} st_upd_job;

/* A cell a derived column placed into working batch BI before the object began. */
typedef struct st_upd_placed {
    uint64_t bi;
    int64_t pos;
    st_cat_bcol bc;
} st_upd_placed;

#define ST_UPD_WB(j, i) (((st_upd_wbatch *)(j)->wb.v)[i])

/* An object's step over ROWS rows (new ones, or all of them when it is computed again) runs on
 * one thread when they are fewer than ST_UPD_ONE_THREAD: a second thread gains less than it costs
 * later, when it waits spinning (GNU OpenMP's default) through the serial steps and every unmap
 * must interrupt its CPU to flush its TLB (a 200 000-row append to the taxi chain of
 * bench/bench_derive.sh: 6 to 24 ms on two threads, 5.5 to 6 ms on one; its group-by 6 to 41 ms,
 * 5.2 to 6 ms; `update --full` of 10 batches of 100 000 rows, medians of 20 on a 2-vCPU VM:
 * group-by 9 -> 6 ms, filter 9 -> 7 ms, each 2-thread run's slowest 22 and 37 ms). A sort
 * computed again gains from a second thread from about 100 000 rows: sorts and global top-k
 * keep their own rules (order.c). Sets J->nt; process_group() resets it to J->nt_all before each
 * object. */
#define ST_UPD_ONE_THREAD ((uint64_t)1 << 20)
void st_upd_threads(st_upd_job *j, uint64_t rows);

/* Whether an object that read batch B of source S, of NEW batches in all, lets go of its files'
 * mappings (st_snapshot_release) at once. A few new batches without a memory budget are kept
 * until the job closes the snapshot: the next object over the same source (the columns gathered
 * from a filter's source) finds them mapped, where mapping them again cost a fault per 16 pages
 * and a second unmap (bench/README.md, goal 5). */
#define ST_UPD_KEEP_MAPS 4
void st_upd_release(const st_upd_job *j, strata_snapshot *s, uint64_t b, uint64_t new_batches);

/* The snapshot of source REGION/NAME for J: opened by the first object that reads it and shared
 * by the others (one catalog read of its batches per update, and every object of the dataset
 * computed from the same source version); closed with the job. */
int st_upd_source(st_upd_job *j, const char *region, const char *name, strata_snapshot **out);

/* Report progress of the current object: DONE of its total, ROWS more rows. */
int st_upd_progress(st_upd_job *j, uint64_t done, uint64_t rows);

/* Map column COL of working batch W: its values (strings: offsets) into M, the bytes of a string
 * column into MB; *DATA and *BYTES point at them. STRATA_ESTALE if the column is not computed. */
int st_upd_map(st_upd_job *j, const st_upd_wbatch *w, int col, st_npy_map *m, st_npy_map *mb,
               const void **data, const char **bytes);

/* The validity bitmap of column COL of working batch W into MV: *VALID, NULL when it has no
 * nulls. */
int st_upd_map_valid(st_upd_job *j, const st_upd_wbatch *w, int col, st_npy_map *mv,
                     const uint8_t **valid);

/* Retire every batch of the working view that was there before: a refresh replaces them. */
void st_upd_retire(st_upd_job *j);

/* An output batch being written: one writer per column of the dataset's intrinsic schema. */
typedef struct st_upd_outw {
    st_colw w[ST_TBL_MAX];
    int n; /* columns */
} st_upd_outw;

/* Start an output batch of the first N columns of the schema (0: the intrinsic ones). */
int st_upd_out_begin(st_upd_job *j, st_upd_outw *ow, int n);
void st_upd_out_abort(st_upd_outw *ow);
/* Complete it: a new working batch. */
int st_upd_out_end(st_upd_job *j, st_upd_outw *ow);

/* Rows of columns, row-addressable: numeric values, or string offsets (n+1) into bytes. The
 * string at row i is BYTES[OFF[i] - BOFF, OFF[i+1] - BOFF). */
typedef struct st_table {
    int n;
    uint64_t rows;
    strata_dtype dt[ST_TBL_MAX];
    const void *data[ST_TBL_MAX];
    const char *bytes[ST_TBL_MAX];
    int64_t boff[ST_TBL_MAX];
    const uint8_t *valid[ST_TBL_MAX]; /* validity bitmaps (NULL: no nulls): nulls sort last */
    void *own[3 * ST_TBL_MAX];        /* buffers the table owns: column C's values 2C, bytes 2C + 1,
                                       * validity 2 ST_TBL_MAX + C */
} st_table;

void st_table_free(st_table *t);

/* Stable multi-key argsort of the N rows of T by columns [FIRST, FIRST + NK) into PERM; SCRATCH
 * (3 N words, or NULL) as in st_argsort_in. */
int st_table_argsort(st_err *err, const st_table *t, int first, int nk, uint64_t n, uint64_t *perm,
                     int desc, int nt, uint64_t *scratch);

/* The top SP->k rows of the N rows of T by column C into IDX, *COUNT of them, in order: a null
 * key comes after every value (ascending and descending), so nulls fill in only when fewer values
 * are there. */
int st_table_topk(st_upd_job *j, const st_table *t, int c, uint64_t n, const st_dspec *sp,
                  uint64_t *idx, uint64_t *count);

/* The sort or global top-k SP of source S by columns KEYCOLS: the rows of source batches
 * [CONSUMED, nbatches) sorted (in memory, or in runs spilled to disk under --mem) and merged with
 * the previous output, working batches [0, NOLD). Derived columns of the dataset that follow its
 * keys and are gathered from S or computed by expressions are carried through the merge (see
 * st_upd_job.carry_to). The previous batches are retired, but for a sort whose
 * previous output is partitions (src/store/partition.c): the new rows go to them as delta runs,
 * and only the partitions compacted are retired. */
int st_upd_order(st_upd_job *j, const st_dspec *sp, strata_snapshot *s, const int *keycols,
                 uint64_t consumed, size_t nold);

/* ---- an update spread over processes (spread.c) ---- */

/* Whether this process is the job's root (rank 0, or the only one): it holds the writer lock,
 * computes what is not split, and publishes. */
static inline int st_upd_root(const st_upd_job *j)
{
    return j->comm == NULL || j->comm->rank == 0;
}

/* Whether item I of N (source batches, or a column's target batches, in order) is this
 * process's: the processes take contiguous blocks in rank order, so that their outputs,
 * concatenated in rank order, are in the single process's order. */
int st_upd_mine(const st_upd_job *j, uint64_t i, uint64_t n);

/* Remember the job's state as the next object begins (what st_upd_sync sends is the change). */
int st_upd_obj_begin(st_upd_job *j);

/* After an object, with this process's status RC: every process's changes to the working view
 * (new batches, cells placed, batches retired) applied on every process in rank order, so that
 * all of them continue from the same view. Returns the first failing process's status (its
 * message in J->err everywhere), else STRATA_OK. Collective. */
int st_upd_sync(st_upd_job *j, int rc);

/* The root's vector V on every process (V's element size the same everywhere). Collective. */
int st_upd_bcast_vec(st_upd_job *j, st_vec *v);

/* The version of REGION/NAME every process reads: the root's latest, broadcast (*VERSION 0 on
 * one process: the latest). Collective when spread. */
int st_upd_source_version(st_upd_job *j, const char *region, const char *name, int64_t *version);

#endif /* STRATA_UPDATE_INT_H */
