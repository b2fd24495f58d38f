/*
 * update.c -- the update engine: brings derived datasets and columns up to date.
 *
 * Objects (a derived dataset's index, or a derived column) are processed in creation order, which
 * is an order of dependencies: an object can only name objects that existed when it was defined.
 * The objects of one dataset that are ready together form a group; a group is computed into new
 * files (invisible orphans until published) and published through the store (st_dataset_apply()):
 * new batches, columns of existing batches, the consumed marks and the version, in one transaction.
 * The dataset's writer lock is held meanwhile, and the marks are read again under it, so two
 * updaters never duplicate work: the second finds the first's marks.
 *
 * Order-preserving indexes (filter, sort_runs, per-run topk) map source batch i to output batch
 * i and only process the source batches after their mark. Order-destroying ones merge: a sort
 * merges the sorted run of the new rows into its previous output (its key columns are kept for
 * that), a global top-k merges the new rows' top-k with the previous k, a group-by merges the
 * new batches' partial aggregates, batch by batch, into the previous groups. A full recompute
 * folds over the same batches in the same order, so its bytes equal the incremental result. A
 * group-by with a holistic aggregate (count_distinct, median, quantile) has no output to merge
 * into (its groups' values are not stored): every update recomputes it from all batches, merging
 * their partial groups in a binary counter's order.
 * When a source was refreshed (its batches replaced), its dependents recompute from scratch.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "derive/update_int.h"
#include "expr/expr.h"
#include "ops/ops.h"
#include "util/bits.h"
#include "util/chunkfile.h"
#include "util/dtype.h"
#include "util/name.h"
#include "util/vec.h"
#include "util/fileio.h"

/* Rows per output batch of an order-destroying operation, and per partition of a sorted dataset
 * (fewer under a small --mem). An incremental update of a sorted dataset writes a delta run into
 * every partition its new rows fall in (with random keys: all), each run a file per column and
 * a catalog row per file, and every later update reads them all back from the catalog: 2 Mi
 * rows halve what 1 Mi cost per update (bench/bench_lsm.sh: a 200 000-row append 14 ms against
 * 16-17 ms) for the same rows rewritten by compactions, which merge a partition when its deltas
 * pass a share of its base whatever its size. */
#define ST_OUT_ROWS ((uint64_t)1 << 21)

int st_upd_progress(st_upd_job *j, uint64_t done, uint64_t rows)
{
    j->ev.done = done;
    j->ev.rows += rows;
    if (j->work != NULL) *j->work += rows;
    j->ev.seconds = st_mono_s() - j->t0;
    /* spread, an object's last event comes after the sync, with everyone's rows (spread.c) */
    if (st_comm_many(j->comm) && done >= j->ev.total) return STRATA_OK;
    if (j->o->progress != NULL && j->o->progress(j->o->progress_ctx, &j->ev) != 0)
        return st_error(j->err, STRATA_ECONFLICT, "update cancelled");
    return STRATA_OK;
}

static void begin_object(st_upd_job *j, const char *object, const char *mode, uint64_t total)
{
    j->ev.object = object;
    j->ev.mode = mode;
    j->ev.total = total;
    j->ev.done = j->ev.rows = 0;
    j->t0 = st_mono_s();
    j->began = 1;
}

static int load_batch(void *vctx, const st_cat_batch *b, const st_cat_bcol *cols)
{
    st_upd_job *j = vctx;
    st_upd_wbatch *w = st_vec_push(&j->wb);
    if (w == NULL) return STRATA_ENOMEM;
    memset(w, 0, sizeof *w);
    w->b = *b;
    w->cols = malloc((size_t)j->sch.ncols * sizeof *w->cols);
    if (w->cols == NULL) {
        j->wb.n--;
        return STRATA_ENOMEM;
    }
    memcpy(w->cols, cols, (size_t)j->sch.ncols * sizeof *cols);
    return 0;
}

static int remember_file(st_upd_job *j, const st_cat_bcol *bc)
{
    for (int k = 0; k < ST_BCOL_FILES; k++) {
        const char *f = st_cat_bcol_file(bc, k);
        if (f[0] == '\0') continue;
        char(*slot)[ST_CAT_FILE] = st_vec_push(&j->files);
        if (slot == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
        snprintf(*slot, ST_CAT_FILE, "%s", f);
    }
    return STRATA_OK;
}

void st_upd_release(const st_upd_job *j, strata_snapshot *s, uint64_t b, uint64_t new_batches)
{
    if (j->o->mem > 0 || new_batches > ST_UPD_KEEP_MAPS) st_snapshot_release(s, b);
}

int st_upd_map(st_upd_job *j, const st_upd_wbatch *w, int col, st_npy_map *m, st_npy_map *mb,
               const void **data, const char **bytes)
{
    const st_cat_bcol *bc = &w->cols[col];
    memset(m, 0, sizeof *m);
    memset(mb, 0, sizeof *mb);
    *data = NULL;
    *bytes = NULL;
    if (bc->file[0] == '\0')
        return st_error(j->err, STRATA_ESTALE,
                        "column '%s' of '%s/%s' batch %lld is not computed yet (it is derived "
                        "later than what needs it)",
                        j->sch.cat[col].name, st_dataset_rec(j->ds)->region,
                        st_dataset_rec(j->ds)->name, (long long)w->b.seq);
    char path[ST_PATH_MAX];
    strata_pool *pool = st_dataset_pool(j->ds);
    int rc = st_bcol_path(pool, st_dataset_rec(j->ds), st_dataset_path(j->ds), bc->tier_id,
                          bc->file, path);
    ST_TRY(rc);
    ST_TRY(rc = st_npy_load_any(j->err, path, m));
    *data = m->data;
    if (bc->bytes_file[0] == '\0') return STRATA_OK;
    ST_TRY(rc = st_bcol_path(pool, st_dataset_rec(j->ds), st_dataset_path(j->ds), bc->tier_id,
                             bc->bytes_file, path));
    ST_TRY(rc = st_npy_load_any(j->err, path, mb));
    *bytes = mb->data;
done:
    return rc;
}

int st_upd_map_valid(st_upd_job *j, const st_upd_wbatch *w, int col, st_npy_map *mv,
                     const uint8_t **valid)
{
    const st_cat_bcol *bc = &w->cols[col];
    memset(mv, 0, sizeof *mv);
    *valid = NULL;
    if (bc->valid_file[0] == '\0') return STRATA_OK;
    char path[ST_PATH_MAX];
    int rc = st_bcol_path(st_dataset_pool(j->ds), st_dataset_rec(j->ds), st_dataset_path(j->ds),
                          bc->tier_id, bc->valid_file, path);
    if (rc == STRATA_OK) rc = st_npy_load_any(j->err, path, mv);
    if (rc == STRATA_OK) *valid = (const uint8_t *)mv->data;
    return rc;
}

/* ---- output batches ----------------------------------------------------------------------- */

int st_upd_out_begin(st_upd_job *j, st_upd_outw *ow, int n)
{
    ow->n = n > 0 ? n : st_dataset_schema(j->ds)->ncols;
    int rc = STRATA_OK;
    for (int c = 0; c < ow->n; c++) ow->w[c].data.w.fd = ow->w[c].sbytes.w.fd = -1;
    for (int c = 0; c < ow->n && rc == STRATA_OK; c++)
        rc = st_colw_open(j->err, &ow->w[c], st_dataset_path(j->ds),
                          (strata_dtype)j->sch.cat[c].dtype);
    return rc;
}

void st_upd_out_abort(st_upd_outw *ow)
{
    for (int c = 0; c < ow->n; c++) st_colw_abort(&ow->w[c]);
}

/* Complete the batch being written: a new working batch. */
int st_upd_out_end(st_upd_job *j, st_upd_outw *ow)
{
    st_upd_wbatch w;
    memset(&w, 0, sizeof w);
    w.is_new = 1;
    w.cols = calloc((size_t)j->sch.ncols, sizeof *w.cols);
    if (w.cols == NULL) {
        st_upd_out_abort(ow);
        return st_error(j->err, STRATA_ENOMEM, "out of memory");
    }
    st_random_token(w.b.token);
    w.b.created_ns = st_now_ns();
    w.b.nrows = (int64_t)ow->w[0].data.n;
    if (j->lsm.on) {
        w.b.part = j->lsm.part;
        w.b.run = j->lsm.delta ? j->lsm.run++ : 0;
        w.b.sort_keys = j->lsm.sort_keys;
        if (!j->lsm.delta) j->lsm.part += j->lsm.step;
    }
    int rc = STRATA_OK;
    const char *dir = st_dataset_path(j->ds);
    for (int c = 0; c < ow->n; c++) {
        if (rc == STRATA_OK) {
            rc = st_colw_finish(j->err, &ow->w[c], dir, w.b.token, c, &w.cols[c]);
            if (rc == STRATA_OK) rc = remember_file(j, &w.cols[c]);
        } else {
            st_colw_abort(&ow->w[c]);
        }
    }
    st_upd_wbatch *slot = rc == STRATA_OK ? st_vec_push(&j->wb) : NULL;
    if (slot == NULL) {
        free(w.cols);
        return rc < 0 ? rc : st_error(j->err, STRATA_ENOMEM, "out of memory");
    }
    *slot = w;
    j->changed = 1;
    j->st->batches_written++;
    j->st->rows_written += (uint64_t)w.b.nrows;
    return STRATA_OK;
}

/* One output batch holding only the index IDX[0..N). */
static int out_index(st_upd_job *j, const uint64_t *idx, uint64_t n)
{
    st_upd_outw ow;
    int rc = st_upd_out_begin(j, &ow, 0);
    if (rc == STRATA_OK) rc = st_colw_append(j->err, &ow.w[0], idx, n);
    if (rc < 0) {
        st_upd_out_abort(&ow);
        return rc;
    }
    return st_upd_out_end(j, &ow);
}

/* ---- group-by ------------------------------------------------------------------------------ */

/* The aggregate slots of a group-by (slot 0 is the first row of each group: the index) and what
 * each output column holds (st_derive_columns). */
typedef struct gplan {
    int nslots;
    int op[ST_GROUP_SLOTS];
    strata_dtype in[ST_GROUP_SLOTS]; /* what the slot reads: STRATA_I64, STRATA_F64, STRATA_STR */
    int col[ST_GROUP_SLOTS];         /* source column (-1: the row ids) */
    double q[ST_GROUP_SLOTS];
    int keycol[ST_MAX_KEYS];
    strata_dtype kdt[ST_MAX_KEYS];
    int ncols;
    st_gout role[ST_DERIVE_MAX_COLS];
    int slot[ST_DERIVE_MAX_COLS];
    int holistic; /* some slot keeps every value: updates recompute from every batch */
} gplan;

/* The slot aggregate OP of a column is computed from. */
static int slot_op(int op)
{
    return op == ST_AGG_MEAN ? ST_AGG_SUM : op == ST_AGG_STD ? ST_AGG_VAR : op;
}

/* The slot of output column C (an aggregate value or state), added if new. */
static int gplan_slot(st_upd_job *j, const st_dspec *sp, const st_schema *src, gplan *g, int c)
{
    const st_gout *r = &g->role[c];
    int op = slot_op(r->what == ST_GOUT_VALUE ? r->op : ST_AGG_VAR);
    int col = st_schema_find(src, sp->agg_col[r->arg]);
    double q = op == ST_AGG_QUANTILE ? sp->agg_q[r->arg] : 0;
    if (col < 0)
        return st_error(j->err, STRATA_ENOTFOUND, "the parent lost column '%s'",
                        sp->agg_col[r->arg]);
    for (int s = 1; s < g->nslots; s++)
        if (g->op[s] == op && g->col[s] == col && g->q[s] == q) return g->slot[c] = s;
    if (g->nslots == ST_GROUP_SLOTS)
        return st_error(j->err, STRATA_ECORRUPT, "group-by needs more than %d aggregate slots",
                        ST_GROUP_SLOTS);
    int s = g->nslots++;
    strata_dtype dt = (strata_dtype)src->cat[col].dtype;
    g->op[s] = op;
    g->col[s] = col;
    g->q[s] = q;
    g->in[s] = dt == STRATA_STR                       ? STRATA_STR
               : dt == STRATA_F32 || dt == STRATA_F64 ? STRATA_F64
                                                      : STRATA_I64;
    g->holistic |= st_agg_holistic(op);
    return g->slot[c] = s;
}

static int gplan_build(st_upd_job *j, const st_dspec *sp, const st_schema *src, gplan *g)
{
    memset(g, 0, sizeof *g);
    g->op[0] = ST_AGG_MIN;
    g->in[0] = STRATA_I64;
    g->col[0] = -1;
    g->nslots = 1;
    for (int k = 0; k < sp->nkeys; k++) {
        g->keycol[k] = st_schema_find(src, sp->key[k]);
        g->kdt[k] = (strata_dtype)src->cat[g->keycol[k]].dtype;
    }
    st_cat_column *cols = calloc(ST_DERIVE_MAX_COLS, sizeof *cols);
    if (cols == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    int rc = g->ncols = st_derive_columns(j->err, sp, src, NULL, cols, g->role);
    if (rc >= 0 && g->ncols != st_dataset_schema(j->ds)->ncols) rc = STRATA_ECORRUPT;
    for (int c = 0; rc >= 0 && c < g->ncols; c++)
        if (strcmp(cols[c].name, j->sch.cat[c].name) != 0 || cols[c].dtype != j->sch.cat[c].dtype)
            rc = STRATA_ECORRUPT;
    if (rc == STRATA_ECORRUPT)
        rc = st_error(j->err, rc, "the group-by's columns no longer match its parent's types");
    for (int c = 0; rc >= 0 && c < g->ncols; c++)
        if (g->role[c].what >= ST_GOUT_VALUE) rc = gplan_slot(j, sp, src, g, c);
    free(cols);
    return rc < 0 ? rc : STRATA_OK;
}

/* Input of slot A from source batch B (N rows from FIRST) into AG; *OWN what was allocated. */
static int slot_input(strata_snapshot *s, uint64_t b, uint64_t n, uint64_t first, const gplan *g,
                      int a, st_agg *ag, void **own)
{
    memset(ag, 0, sizeof *ag);
    ag->op = g->op[a];
    ag->q = g->q[a];
    ag->in.dtype = g->in[a];
    if (g->col[a] < 0 || g->in[a] == STRATA_STR) {
        if (g->col[a] >= 0)
            return strata_snapshot_map_str(s, b, g->col[a], (const int64_t **)&ag->in.data,
                                           &ag->in.bytes);
        ag->rowid = 1; /* the group's first row */
        ag->first_row = (int64_t)first;
        return STRATA_OK;
    }
    strata_dtype dt = st_dtype_phys((strata_dtype)st_snapshot_schema(s)->cat[g->col[a]].dtype);
    const void *p;
    int rc = strata_snapshot_map(s, b, g->col[a], &p);
    if (rc < 0 || dt == g->in[a]) {
        ag->in.data = p;
        return rc;
    }
    if ((*own = malloc(n * 8 + 8)) == NULL) return STRATA_ENOMEM;
    st_convert(*own, g->in[a], p, dt, n);
    ag->in.data = *own;
    return STRATA_OK;
}

/* Partial groups of source batch B. */
static int groups_of_batch(st_upd_job *j, strata_snapshot *s, uint64_t b, const st_dspec *sp,
                           const gplan *g, st_groups *out)
{
    uint64_t n = (uint64_t)st_snapshot_batches(s)[b].nrows, first = st_snapshot_row_start(s)[b];
    st_gcol keys[ST_MAX_KEYS];
    void *own[ST_GROUP_SLOTS] = {0};
    st_agg aggs[ST_GROUP_SLOTS];
    int rc = STRATA_OK;
    memset(keys, 0, sizeof keys);
    for (int k = 0; k < sp->nkeys; k++) {
        keys[k].dtype = g->kdt[k];
        ST_TRY(rc = strata_snapshot_map_valid(s, b, g->keycol[k], &keys[k].valid));
        if (g->kdt[k] == STRATA_STR)
            ST_TRY(rc = strata_snapshot_map_str(s, b, g->keycol[k], (const int64_t **)&keys[k].data,
                                                &keys[k].bytes));
        else
            ST_TRY(rc = strata_snapshot_map(s, b, g->keycol[k], &keys[k].data));
    }
    for (int a = 0; a < g->nslots; a++) {
        ST_TRY(rc = slot_input(s, b, n, first, g, a, &aggs[a], &own[a]));
        if (g->col[a] >= 0)
            ST_TRY(rc = strata_snapshot_map_valid(s, b, g->col[a], &aggs[a].in.valid));
    }
    /* one integer key without nulls: its range is in the batch's statistics */
    const st_cat_bcol *kc =
        st_snapshot_bcols(s) + b * (uint64_t)st_snapshot_schema(s)->ncols + (uint64_t)g->keycol[0];
    int64_t range[2] = {kc->min_i, kc->max_i};
    int told = sp->nkeys == 1 && (g->kdt[0] == STRATA_I64 || g->kdt[0] == STRATA_TS) &&
               keys[0].valid == NULL && kc->has_minmax && kc->nulls == 0;
    rc = st_groupby_range(keys, sp->nkeys, n, aggs, g->nslots, told ? range : NULL, out, j->nt);
done:
    for (int a = 0; a < ST_GROUP_SLOTS; a++) free(own[a]);
    if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory grouping a batch");
    if (rc == STRATA_EINVAL) rc = st_error(j->err, rc, "group-by cannot aggregate these inputs");
    return rc;
}

/* The smallest and largest key of every source batch into RANGE (1; string keys: 1, RANGE
 * unused), or 0 when some batch has no statistics for it, a null key, or a null in an aggregated
 * column. *DENSE: whether every batch's own keys would be grouped by direct indexing. */
static int batches_range(strata_snapshot *s, const gplan *g, int64_t range[2], int *dense)
{
    int str = g->kdt[0] == STRATA_STR;
    *dense = 1;
    const st_schema *sch = st_snapshot_schema(s);
    const st_cat_batch *batches = st_snapshot_batches(s);
    range[0] = INT64_MAX;
    range[1] = INT64_MIN;
    for (uint64_t b = 0; b < st_snapshot_nbatches(s); b++) {
        const st_cat_bcol *bc = st_snapshot_bcols(s) + b * (uint64_t)sch->ncols;
        const st_cat_bcol *kc = &bc[g->keycol[0]];
        if (batches[b].nrows == 0) continue;
        if ((!str && !kc->has_minmax) || kc->nulls > 0) return 0;
        for (int a = 0; a < g->nslots; a++)
            if (g->col[a] >= 0 && bc[g->col[a]].nulls > 0) return 0;
        range[0] = kc->min_i < range[0] ? kc->min_i : range[0];
        range[1] = kc->max_i > range[1] ? kc->max_i : range[1];
        int64_t own[2] = {kc->min_i, kc->max_i};
        *dense &= str || st_gfold_dense(own, (uint64_t)batches[b].nrows);
    }
    return str || range[0] <= range[1];
}

/* Fold source batch B into F (1), or 0 when it cannot be (st_gfold_add()). */
static int fold_batch(st_upd_job *j, strata_snapshot *s, uint64_t b, const gplan *g, st_gfold *f)
{
    uint64_t n = (uint64_t)st_snapshot_batches(s)[b].nrows, first = st_snapshot_row_start(s)[b];
    const st_cat_bcol *kc =
        st_snapshot_bcols(s) + b * (uint64_t)st_snapshot_schema(s)->ncols + (uint64_t)g->keycol[0];
    int64_t range[2] = {kc->min_i, kc->max_i};
    st_gcol key = {g->kdt[0], NULL, NULL, NULL};
    void *own[ST_GROUP_SLOTS] = {0};
    st_agg aggs[ST_GROUP_SLOTS];
    int rc =
        n == 0 ? 1
        : g->kdt[0] == STRATA_STR
            ? strata_snapshot_map_str(s, b, g->keycol[0], (const int64_t **)&key.data, &key.bytes)
            : strata_snapshot_map(s, b, g->keycol[0], &key.data);
    for (int a = 0; a < g->nslots && rc >= 0 && n > 0; a++)
        rc = slot_input(s, b, n, first, g, a, &aggs[a], &own[a]);
    if (rc >= 0 && n > 0) rc = st_gfold_add(f, &key, n, aggs, range);
    for (int a = 0; a < ST_GROUP_SLOTS; a++) free(own[a]);
    if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory grouping a batch");
    return rc;
}

/* A source batch whose mappings are let go of while the next one is folded. */
typedef struct gdone {
    strata_snapshot *s;
    uint64_t b;
} gdone;

static void release_batch(void *arg)
{
    const gdone *d = arg;
    st_snapshot_release(d->s, d->b);
}

/* The groups of source batches [B0, B1) of a group-by of one integer or string key without
 * nulls, folded into arrays indexed by the key or its id in a dictionary (st_gfold) rather than
 * grouped batch by batch and merged: ACC (1), or 0 when this does not apply (ACC untouched).
 * Each batch's mappings are let go of on one of the fold's threads while the next batch is
 * folded (st_gfold_side()): unmapped between the calls, the other threads would wait. */
static int groups_folded(st_upd_job *j, strata_snapshot *s, const st_dspec *sp, const gplan *g,
                         uint64_t b0, uint64_t b1, st_groups *acc)
{
    const st_cat_batch *batches = st_snapshot_batches(s);
    int64_t range[2];
    int dense, fsum = 0;
    uint64_t rows0 = j->ev.rows;
    if (sp->nkeys != 1 || !batches_range(s, g, range, &dense)) return 0;
    st_agg shape[ST_GROUP_SLOTS];
    for (int a = 0; a < g->nslots; a++) {
        memset(&shape[a], 0, sizeof shape[a]);
        shape[a].op = g->op[a];
        shape[a].in.dtype = g->in[a];
        shape[a].rowid = g->col[a] < 0;
        fsum |= g->op[a] == ST_AGG_SUM && g->in[a] == STRATA_F64;
    }
    /* float sums are added as each batch alone would add them: a batch too sparse for direct
     * indexing would stop a fold by the key's range, so such a fold goes through the dictionary */
    st_gfold *f;
    uint64_t rows = st_snapshot_row_start(s)[b1] - st_snapshot_row_start(s)[b0];
    int rc = st_gfold_begin(&f, g->kdt[0], range, fsum && !dense, rows, shape, g->nslots, j->nt);
    if (rc == STRATA_ENOMEM) return st_error(j->err, rc, "out of memory grouping");
    gdone prev = {s, 0};
    for (uint64_t b = b0; b < b1 && rc == 1; b++) {
        if (b > b0) {
            prev.b = b - 1;
            st_gfold_side(f, release_batch, &prev);
        }
        rc = fold_batch(j, s, b, g, f);
        if (rc == 1) {
            int prc = st_upd_progress(j, b - b0 + 1, (uint64_t)batches[b].nrows);
            rc = prc < 0 ? prc : rc;
        }
    }
    if (f != NULL) st_gfold_side(f, NULL, NULL); /* (a call that did not come: see below) */
    for (uint64_t b = b0; b < b1; b++) st_snapshot_release(s, b); /* (those still mapped) */
    if (rc == 1) {
        rc = st_gfold_end(f, acc);
        if (rc != 1) st_groups_free(acc);
        if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory collecting groups");
    }
    if (rc == 0) j->ev.rows = rows0; /* the batches are grouped again, one by one */
    st_gfold_free(f);
    return rc;
}

/* Stored column C (mapped at DATA, BYTES; M rows) into groups OUT. */
static int load_col(st_groups *out, const gplan *g, int c, const void *data, const char *bytes,
                    uint64_t m)
{
    const int64_t *iv = data;
    const double *fv = data;
    size_t na = (size_t)g->nslots;
    int s = g->slot[c], what = g->role[c].what, op = g->role[c].op;
    if (what == ST_GOUT_INDEX || what == ST_GOUT_COUNT) {
        for (uint64_t i = 0; i < m; i++) {
            if (what == ST_GOUT_INDEX)
                out->ival[i * na] = iv[i];
            else
                out->count[i] = iv[i];
        }
        return STRATA_OK;
    }
    if (what == ST_GOUT_KEY || (what == ST_GOUT_VALUE && slot_op(op) != op)) return STRATA_OK;
    if (what == ST_GOUT_VALUE && (op == ST_AGG_COUNT_COL || op == ST_AGG_VAR)) return STRATA_OK;
    if (g->in[s] == STRATA_STR)
        return st_groups_set_str(out, s, &(st_gcol){STRATA_STR, data, bytes, NULL});
    for (uint64_t i = 0; i < m; i++) {
        size_t x = i * na + (size_t)s;
        if (what == ST_GOUT_M2)
            out->m2[x] = fv[i];
        else if (what == ST_GOUT_WMEAN || g->in[s] == STRATA_F64)
            out->fval[x] = fv[i];
        else
            out->ival[x] = iv[i];
    }
    return STRATA_OK;
}

/* Working batch B of the previous output as groups. */
static int groups_of_obatch(st_upd_job *j, size_t b, const st_dspec *sp, const gplan *g,
                            st_groups *out)
{
    const st_upd_wbatch *w = &ST_UPD_WB(j, b);
    uint64_t m = (uint64_t)w->b.nrows;
    st_npy_map mp[ST_DERIVE_MAX_COLS], mb[ST_DERIVE_MAX_COLS], mv[ST_MAX_KEYS];
    const void *data[ST_DERIVE_MAX_COLS];
    const char *bytes[ST_DERIVE_MAX_COLS];
    st_gcol keys[ST_MAX_KEYS];
    int rc = STRATA_OK, c = 0, nv = 0;
    st_groups_init(out, sp->nkeys, g->kdt, g->nslots, g->op, g->in, g->q);
    for (; c < g->ncols; c++) ST_TRY(rc = st_upd_map(j, w, c, &mp[c], &mb[c], &data[c], &bytes[c]));
    for (int x = 0; x < g->ncols; x++)
        if (g->role[x].what == ST_GOUT_KEY) { /* the null group's key is null */
            st_gcol *k = &keys[g->role[x].arg];
            *k = (st_gcol){g->kdt[g->role[x].arg], data[x], bytes[x], NULL};
            ST_TRY(rc = st_upd_map_valid(j, w, x, &mv[nv++], &k->valid));
        }
    ST_TRY(rc = st_groups_set_keys(out, keys, m));
    for (int x = 0; x < g->ncols; x++) ST_TRY(rc = load_col(out, g, x, data[x], bytes[x], m));
    /* aggregated columns have no nulls here (groupby_recomputes()): every input counted */
    for (uint64_t i = 0; i < m; i++)
        for (int a = 0; a < g->nslots; a++)
            out->nval[i * (size_t)g->nslots + (size_t)a] = out->count[i];
done:
    if (rc == STRATA_ENOMEM || rc == STRATA_EINVAL)
        rc = st_error(j->err, rc, "cannot read %llu groups back", (unsigned long long)m);
    if (rc < 0) st_groups_free(out);
    for (int x = 0; x < c; x++) {
        st_npy_unmap(&mp[x]);
        st_npy_unmap(&mb[x]);
    }
    for (int x = 0; x < nv; x++) st_npy_unmap(&mv[x]);
    return rc;
}

/* Groups merged in a binary counter's order: a part pushed merges with the part before it while
 * both hold as many pushes, so each group is copied about log2(pushes) times, and parts stay in
 * push order (earlier rows first). */
typedef struct gstack {
    st_groups g[64];
    int level[64];
    int n;
} gstack;

static int gstack_merge_top(st_upd_job *j, gstack *k)
{
    int rc = st_groups_merge(&k->g[k->n - 2], &k->g[k->n - 1]);
    st_groups_free(&k->g[--k->n]);
    k->level[k->n - 1]++;
    return rc < 0 ? st_error(j->err, rc, "out of memory merging groups") : STRATA_OK;
}

/* Push PART (K owns it from here, also on failure). */
static int gstack_push(st_upd_job *j, gstack *k, st_groups *part)
{
    int rc = STRATA_OK;
    k->g[k->n] = *part;
    k->level[k->n++] = 0;
    while (rc == STRATA_OK && k->n >= 2 && k->level[k->n - 1] == k->level[k->n - 2])
        rc = gstack_merge_top(j, k);
    return rc;
}

/* Merge what is left into *ACC (*HAVE: it holds groups); K is empty after. */
static int gstack_finish(st_upd_job *j, gstack *k, st_groups *acc, int *have)
{
    int rc = STRATA_OK;
    while (rc == STRATA_OK && k->n >= 2) rc = gstack_merge_top(j, k);
    if (rc == STRATA_OK && k->n == 1) {
        *acc = k->g[0];
        *have = 1;
        k->n = 0;
    }
    while (k->n > 0) st_groups_free(&k->g[--k->n]);
    return rc;
}

/* The previous output (working batches [0, NOLD)) as groups, pushed on K: each batch holds a
 * sorted run of groups disjoint from the others', so these merges do no arithmetic. */
static int groups_of_output(st_upd_job *j, size_t nold, const st_dspec *sp, const gplan *g,
                            gstack *k)
{
    int rc = STRATA_OK;
    for (size_t b = 0; b < nold && rc == STRATA_OK; b++) {
        st_groups part;
        rc = groups_of_obatch(j, b, sp, g, &part);
        if (rc == STRATA_OK) rc = gstack_push(j, k, &part);
    }
    return rc;
}

/* Output column C of groups [S, E) of GR into BUF when it is one of the common ones -- the index,
 * an i64 or ts key, the counts, a sum, extremum or mean of numbers -- each in a loop of its own
 * (1), else 0: out_numbers()'s loop asks what each row is, and calls out for the key and the value
 * (a million groups of count, a sum and a mean: half the time of the output's columns). */
static int out_common(const st_groups *gr, const gplan *g, int c, strata_dtype dt, uint64_t s,
                      uint64_t e, char *buf)
{
    size_t na = (size_t)gr->naggs, st = (size_t)gr->nkeys + 1;
    int a = g->slot[c], what = g->role[c].what, op = g->role[c].op, k = g->role[c].arg;
    int isf = what == ST_GOUT_VALUE && gr->agg_dtype[a] == STRATA_F64;
    if (strata_dtype_size(dt) != 8 || dt == STRATA_STR) return 0;
    if (what == ST_GOUT_KEY && (gr->key_dtype[k] == STRATA_I64 || gr->key_dtype[k] == STRATA_TS)) {
        for (uint64_t x = s; x < e; x++) /* (a null key's row is stored as 0 when written) */
            memcpy(buf + (x - s) * 8, &gr->keys[x * st + (size_t)k], 8);
    } else if (what == ST_GOUT_COUNT) {
        memcpy(buf, gr->count + s, (e - s) * 8);
    } else if (what == ST_GOUT_INDEX) { /* (the first row's id: slot 0's word) */
        for (uint64_t x = s; x < e; x++) memcpy(buf + (x - s) * 8, &gr->ival[x * na], 8);
    } else if (what == ST_GOUT_VALUE &&
               (op == ST_AGG_SUM || op == ST_AGG_MIN || op == ST_AGG_MAX)) {
        for (uint64_t x = s; x < e; x++) /* (each word as it is, as the loop below copies it) */
            memcpy(buf + (x - s) * 8,
                   isf ? (const void *)&gr->fval[x * na + (size_t)a]
                       : (const void *)&gr->ival[x * na + (size_t)a],
                   8);
    } else if (what == ST_GOUT_VALUE && op == ST_AGG_MEAN) { /* of the sum: st_groups_value() */
        for (uint64_t x = s; x < e; x++) {
            size_t i = x * na + (size_t)a;
            int64_t n = gr->nval[i];
            double v = n == 0 ? NAN : isf ? gr->fval[i] : (double)gr->ival[i];
            v /= (double)n;
            memcpy(buf + (x - s) * 8, &v, 8);
        }
    } else {
        return 0;
    }
    return 1;
}

/* Output column C of groups [S, E) of GR as numbers of the column's dtype into BUF. */
static void out_numbers(const st_groups *gr, const gplan *g, int c, strata_dtype dt, uint64_t s,
                        uint64_t e, char *buf)
{
    size_t na = (size_t)gr->naggs, esz = strata_dtype_size(dt);
    int a = g->slot[c], what = g->role[c].what, op = g->role[c].op;
    if (out_common(gr, g, c, dt, s, e, buf)) return;
    for (uint64_t x = s; x < e; x++) {
        char *o = buf + (x - s) * esz;
        size_t i = x * na + (size_t)a;
        int64_t iv = 0;
        double fv = 0;
        int isf = 0;
        switch (what) {
        case ST_GOUT_INDEX:
            iv = gr->ival[x * na];
            break;
        case ST_GOUT_KEY:
            if (st_groups_key(gr, x, g->role[c].arg, o, NULL, NULL)) memset(o, 0, esz);
            continue;
        case ST_GOUT_COUNT:
            iv = gr->count[x];
            break;
        case ST_GOUT_WMEAN:
            fv = gr->fval[i], isf = 1;
            break;
        case ST_GOUT_M2:
            fv = gr->m2[i], isf = 1;
            break;
        default:
            if (op == ST_AGG_COUNT_COL || op == ST_AGG_COUNT_DISTINCT)
                iv = gr->nval[i];
            else if (op != ST_AGG_SUM && op != ST_AGG_MIN && op != ST_AGG_MAX &&
                     op != ST_AGG_FIRST && op != ST_AGG_LAST)
                fv = st_groups_value(gr, x, a), isf = 1; /* of the slot: sum, var, ... */
            else if (gr->agg_dtype[a] == STRATA_F64)
                fv = gr->fval[i], isf = 1;
            else
                iv = gr->ival[i];
        }
        if (what == ST_GOUT_VALUE && op == ST_AGG_MEAN) fv /= (double)gr->nval[i]; /* of sum */
        if (what == ST_GOUT_VALUE && op == ST_AGG_STD) fv = sqrt(fv);              /* of var */
        if (isf)
            memcpy(o, &fv, 8);
        else
            memcpy(o, &iv, 8);
    }
}

/* The validity of output column C of groups [S, E) of GR into BITS, or NULL when none of them
 * is null: a null key, or an aggregate with no non-null input. */
static const uint8_t *out_valid(const st_groups *gr, const gplan *g, int c, uint64_t s, uint64_t e,
                                uint8_t *bits)
{
    int what = g->role[c].what, nulls = 0, a = g->slot[c], k = g->role[c].arg;
    size_t na = (size_t)gr->naggs, st = (size_t)gr->nkeys + 1;
    if (what != ST_GOUT_KEY && what != ST_GOUT_VALUE) return NULL;
    /* most columns have no null: looked for in a loop first (st_groups_key(), _null()) */
    if (what == ST_GOUT_KEY)
        for (uint64_t x = s; x < e; x++) nulls |= (int)(gr->keys[x * st + st - 1] >> k & 1);
    else if (gr->agg_op[a] != ST_AGG_COUNT && gr->agg_op[a] != ST_AGG_COUNT_COL &&
             gr->agg_op[a] != ST_AGG_COUNT_DISTINCT)
        for (uint64_t x = s; x < e; x++) nulls |= gr->nval[x * na + (size_t)a] == 0;
    if (!nulls) return NULL;
    for (uint64_t x = s; x < e; x++) {
        int64_t v;
        const char *str;
        size_t len;
        int null = what == ST_GOUT_KEY ? st_groups_key(gr, x, g->role[c].arg, &v, &str, &len)
                                       : st_groups_null(gr, x, g->slot[c]);
        st_bit_set(bits, x - s, !null);
        nulls += null;
    }
    return nulls ? bits : NULL;
}

/* Output column C of groups [S, E) of GR (validity VALID) as strings appended to W. */
static int out_strings(st_upd_job *j, const st_groups *gr, const gplan *g, int c, uint64_t s,
                       uint64_t e, const uint8_t *valid, st_colw *w)
{
    if (g->role[c].what == ST_GOUT_KEY && valid == NULL) { /* the dictionary's own strings */
        size_t st = (size_t)gr->nkeys + 1, k = (size_t)g->role[c].arg;
        const st_gdict *d = &gr->kdict[k];
        int64_t w0 = gr->keys[s * st + k], run = 1;
        for (uint64_t x = s + 1; x < e; x++) run &= gr->keys[x * st + k] == w0 + (int64_t)(x - s);
        if (run && w0 >= 0 && (uint64_t)w0 + (e - s) <= d->n) /* (as the folds leave them) */
            return st_colw_append_str_valid(j->err, w, d->off + w0, d->bytes + d->off[w0], NULL, 0,
                                            e - s);
    }
    int64_t *off = malloc((e - s + 1) * sizeof *off);
    st_vec bytes = ST_VEC(char);
    int rc = off ? STRATA_OK : STRATA_ENOMEM;
    if (off != NULL) off[0] = 0;
    for (uint64_t x = s; x < e && rc == STRATA_OK; x++) {
        const char *p = "";
        size_t len = 0;
        if (g->role[c].what == ST_GOUT_KEY)
            st_groups_key(gr, x, g->role[c].arg, NULL, &p, &len);
        else
            st_groups_str(gr, x, g->slot[c], &p, &len);
        char *at = st_vec_grow(&bytes, len);
        if (at == NULL && len > 0) rc = STRATA_ENOMEM;
        if (at != NULL) memcpy(at, p, len);
        off[x - s + 1] = (int64_t)bytes.n;
    }
    if (rc == STRATA_OK)
        rc = st_colw_append_str_valid(j->err, w, off, bytes.v ? bytes.v : "", valid, 0, e - s);
    else
        rc = st_error(j->err, rc, "out of memory");
    free(off);
    st_vec_free(&bytes);
    return rc;
}

/* Rows [START, END) of output column C of groups GR into W, a piece at a time. */
static int column_out(st_upd_job *j, const st_groups *gr, const gplan *g, int c, uint64_t start,
                      uint64_t end, st_colw *w)
{
    enum { CH = 4096 };
    char *buf = malloc(CH * 8);
    int rc = buf != NULL ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory");
    uint8_t bits[CH / 8];
    strata_dtype dt = (strata_dtype)j->sch.cat[c].dtype;
    for (uint64_t s = start; s < end && rc == STRATA_OK; s += CH) {
        uint64_t e = s + CH < end ? s + CH : end;
        const uint8_t *valid = out_valid(gr, g, c, s, e, bits);
        if (dt == STRATA_STR) {
            rc = out_strings(j, gr, g, c, s, e, valid, w);
        } else {
            out_numbers(gr, g, c, dt, s, e, buf);
            rc = st_colw_append_valid(j->err, w, buf, valid, 0, e - s);
        }
    }
    free(buf);
    return rc;
}

/* The groups GR as output batches, their columns written on the job's threads. */
static int groups_out(st_upd_job *j, const st_groups *gr, const gplan *g)
{
    int rc = STRATA_OK;
    for (uint64_t start = 0; start < gr->n && rc == STRATA_OK; start += j->out_rows) {
        uint64_t end = start + j->out_rows < gr->n ? start + j->out_rows : gr->n;
        st_upd_outw ow;
        if ((rc = st_upd_out_begin(j, &ow, 0)) < 0) break;
        int nt = end - start >= 16384 ? j->nt : 1; /* (each column its own files) */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) reduction(min : rc)
        for (int c = 0; c < ow.n; c++) {
            int r = column_out(j, gr, g, c, start, end, &ow.w[c]);
            rc = r < rc ? r : rc;
        }
        if (rc == STRATA_OK)
            rc = st_upd_out_end(j, &ow);
        else
            st_upd_out_abort(&ow);
    }
    return rc;
}

/* ---- the index of a derived dataset -------------------------------------------------------- */

/* Positions of the rows of source batch B that an order-preserving op keeps, in its order. */
static int index_of_batch(st_upd_job *j, strata_snapshot *s, uint64_t b, const st_dspec *sp,
                          const st_expr *e, const int *keycols, uint64_t **out, uint64_t *count)
{
    uint64_t n = (uint64_t)st_snapshot_batches(s)[b].nrows, first = st_snapshot_row_start(s)[b];
    uint64_t *idx = malloc((n + 1) * sizeof *idx);
    if (idx == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    int rc = STRATA_OK;
    *count = 0;
    if (sp->op == ST_OP_FILTER) {
        rc = st_filter_batch(j->err, s, b, e, idx, count, j->nt);
    } else {
        st_table k;
        memset(&k, 0, sizeof k);
        k.n = sp->op == ST_OP_SORT_RUNS ? sp->nkeys : 1;
        for (int i = 0; i < k.n && rc == STRATA_OK; i++) {
            k.dt[i] = (strata_dtype)st_snapshot_schema(s)->cat[keycols[i]].dtype;
            if (k.dt[i] == STRATA_STR)
                rc = strata_snapshot_map_str(s, b, keycols[i], (const int64_t **)&k.data[i],
                                             &k.bytes[i]);
            else
                rc = strata_snapshot_map(s, b, keycols[i], &k.data[i]);
            if (rc == STRATA_OK) rc = strata_snapshot_map_valid(s, b, keycols[i], &k.valid[i]);
        }
        if (rc == STRATA_OK && sp->op == ST_OP_SORT_RUNS) {
            rc = st_table_argsort(j->err, &k, 0, k.n, n, idx, sp->desc, j->nt, NULL);
            *count = n;
        } else if (rc == STRATA_OK) {
            rc = st_table_topk(j, &k, 0, n, sp, idx, count);
        }
    }
    for (uint64_t i = 0; i < *count; i++) idx[i] += first;
    if (rc < 0) {
        free(idx);
        return rc;
    }
    *out = idx;
    return STRATA_OK;
}

void st_upd_retire(st_upd_job *j)
{
    for (size_t i = 0; i < j->wb.n; i++)
        if (!ST_UPD_WB(j, i).is_new) ST_UPD_WB(j, i).retired = 1;
    j->retire_all = 1;
}

static int push_mark(st_upd_job *j, int64_t id, int64_t consumed, int64_t seq, int64_t version)
{
    st_cat_mark *m = st_vec_push(&j->marks);
    if (m == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    *m = (st_cat_mark){id, consumed, seq, version};
    return STRATA_OK;
}

/* Whether merging the groups of G gives the same bits however the merges are grouped: no float
 * sum or mean, no variance (integer sums wrap alike in any order; extrema, first, last and the
 * holistic aggregates are exact). */
static int groups_exact(const gplan *g)
{
    for (int a = 0; a < g->nslots; a++) {
        if (g->op[a] == ST_AGG_VAR || g->op[a] == ST_AGG_STD) return 0;
        if ((g->op[a] == ST_AGG_SUM || g->op[a] == ST_AGG_MEAN) && g->in[a] == STRATA_F64) return 0;
    }
    return 1;
}

/* The indexes of G's groups in order of the process their key hashes to, ascending within each:
 * process r's are IDS[OFF[r] .. OFF[r + 1]) (IDS: 2 * G->n words, the second half scratch; OFF:
 * size + 1). */
static void groups_by_dest(const st_comm *cm, const st_groups *g, uint64_t *ids, uint64_t *off)
{
    uint64_t *dest = ids + g->n;
    memset(off, 0, ((size_t)cm->size + 1) * sizeof *off);
    for (uint64_t i = 0; i < g->n; i++) {
        dest[i] = st_groups_hash(g, i) % (uint64_t)cm->size;
        off[dest[i] + 1]++;
    }
    for (int r = 0; r < cm->size; r++) off[r + 1] += off[r];
    for (uint64_t i = 0; i < g->n; i++) ids[off[dest[i]]++] = i;
    for (int r = cm->size; r > 0; r--) off[r] = off[r - 1]; /* back to the starts */
    off[0] = 0;
}

/* The groups of PART sent on: those whose key hashes to process r packed into OUT[r] (after the
 * ones already there: batch order). */
static int groups_scatter(st_upd_job *j, const st_groups *part, st_vec *out)
{
    const st_comm *cm = j->comm;
    uint64_t *ids = malloc((2 * part->n + 1) * sizeof *ids);
    uint64_t *off = malloc((size_t)(cm->size + 1) * 8);
    int rc = ids != NULL && off != NULL ? STRATA_OK : STRATA_ENOMEM;
    if (rc == STRATA_OK) groups_by_dest(cm, part, ids, off);
    for (int r = 0; r < cm->size && rc == STRATA_OK; r++) {
        st_groups sub;
        rc = st_groups_pick(part, ids + off[r], off[r + 1] - off[r], &sub);
        if (rc == STRATA_OK) rc = st_groups_pack(&sub, &out[r]);
        st_groups_free(&sub);
    }
    free(ids);
    free(off);
    return rc < 0 ? st_error(j->err, rc, "out of memory sending groups") : rc;
}

/* The groups of G whose key hashes to this process, into G. */
static int groups_mine(st_upd_job *j, st_groups *g)
{
    const st_comm *cm = j->comm;
    uint64_t *ids = malloc((2 * g->n + 1) * sizeof *ids), *off = malloc((size_t)(cm->size + 1) * 8);
    st_groups sub;
    int rc = ids != NULL && off != NULL ? STRATA_OK : STRATA_ENOMEM;
    if (rc == STRATA_OK) {
        groups_by_dest(cm, g, ids, off);
        rc = st_groups_pick(g, ids + off[cm->rank], off[cm->rank + 1] - off[cm->rank], &sub);
    }
    free(ids);
    free(off);
    if (rc < 0) return st_error(j->err, rc, "out of memory");
    st_groups_free(g);
    *g = sub;
    return STRATA_OK;
}

/* The groups packed in the messages ALL (LENS[r] bytes from process r: its length, then its
 * packed groups, padded to 8) folded into *ACC in order (*HAVE: whether it holds groups), as
 * one process folds batches; a holistic one's pushed on K instead, unless K is NULL. */
static int groups_fold(st_upd_job *j, const gplan *g, gstack *k, const char *all,
                       const uint64_t *lens, st_groups *acc, int *have)
{
    int rc = STRATA_OK;
    for (int r = 0; r < j->comm->size && rc == STRATA_OK; all += lens[r++]) {
        uint64_t len;
        if (lens[r] < 8 || (memcpy(&len, all, 8), len > lens[r] - 8))
            return st_error(j->err, STRATA_ECORRUPT, "process %d sent groups that do not parse", r);
        for (const char *q = all + 8, *end = q + len; q < end && rc == STRATA_OK;) {
            st_groups part;
            if ((rc = st_groups_unpack(&q, end, &part)) < 0) {
                rc = st_error(j->err, rc, "process %d sent groups that do not parse", r);
            } else if (k != NULL && g->holistic) {
                rc = gstack_push(j, k, &part);
            } else if (!*have) {
                *acc = part;
                *have = 1;
            } else {
                rc = st_groups_merge(acc, &part);
                if (rc < 0) rc = st_error(j->err, rc, "out of memory merging groups");
                st_groups_free(&part);
            }
        }
    }
    return rc;
}

/* A message of an exchange: its length (set by frame_close), then its bytes, padded to 8. */
static int frame_open(st_vec *v)
{
    return st_vec_grow(v, 8) != NULL ? STRATA_OK : STRATA_ENOMEM;
}

static int frame_close(st_vec *v)
{
    uint64_t len = v->n - 8, pad = (8 - len % 8) % 8;
    char *p = pad > 0 ? st_vec_grow(v, (size_t)pad) : NULL;
    if (pad > 0 && p == NULL) return STRATA_ENOMEM;
    if (pad > 0) memset(p, 0, (size_t)pad);
    memcpy(v->v, &len, 8);
    return STRATA_OK;
}

/* Group-by SP of source S spread over processes: each groups its block of the new batches, one
 * part per batch (or, when the merges are exact, one for its whole block), and sends each group
 * to the process its key hashes to (one MPI_Alltoallv);
 * each folds the groups it receives into its share of the previous groups, in batch order, as
 * one process folds every batch, so the float sums are added in the same order and the bytes
 * are the same; the root unites the processes' disjoint groups (no arithmetic) and writes them.
 * K: update_groupby()'s stack. */
static int groupby_spread(st_upd_job *j, const st_dspec *sp, strata_snapshot *s, uint64_t consumed,
                          size_t nold, const gplan *g, gstack *k)
{
    const st_comm *cm = j->comm;
    size_t np = (size_t)cm->size;
    st_vec *out = calloc(np, sizeof *out), send = ST_VEC(char), mine = ST_VEC(char);
    uint64_t nsb = st_snapshot_nbatches(s), done_n = 0, *sl = calloc(np, 8), *rl = calloc(np, 8);
    int rc = out && sl && rl ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory");
    int have = 0;
    st_groups acc;
    char *all = NULL;
    for (size_t r = 0; r < np && out != NULL; r++) out[r] = (st_vec)ST_VEC(char);
    for (size_t r = 0; r < np && rc == STRATA_OK; r++)
        if (frame_open(&out[r]) < 0) rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    uint64_t b0 = nsb, b1 = nsb;
    for (uint64_t b = consumed; b < nsb; b++)
        if (st_upd_mine(j, b - consumed, nsb - consumed)) b0 = b0 < b ? b0 : b, b1 = b + 1;
    /* exact merges: the block's groups folded into one part (by the key where it allows) */
    st_groups blk;
    int hblk = 0, exact = groups_exact(g), folded = 0;
    if (rc == STRATA_OK && exact && consumed == 0 && b0 < b1) {
        rc = groups_folded(j, s, sp, g, b0, b1, &blk);
        hblk = folded = rc == 1;
        rc = rc == 1 ? STRATA_OK : rc;
    }
    for (uint64_t b = b0; b < b1 && !folded && rc == STRATA_OK; b++) {
        st_groups part;
        rc = groups_of_batch(j, s, b, sp, g, &part);
        if (rc == STRATA_OK && exact && !hblk) {
            blk = part;
            hblk = 1;
            memset(&part, 0, sizeof part);
        } else if (rc == STRATA_OK && exact) {
            if ((rc = st_groups_merge(&blk, &part)) < 0)
                rc = st_error(j->err, rc, "out of memory merging groups");
        } else if (rc == STRATA_OK) {
            rc = groups_scatter(j, &part, out);
        }
        if (rc == STRATA_OK || rc == STRATA_ENOMEM) st_groups_free(&part);
        st_snapshot_release(s, b);
        if (rc == STRATA_OK)
            rc = st_upd_progress(j, ++done_n, (uint64_t)st_snapshot_batches(s)[b].nrows);
    }
    if (hblk) { /* (after a failed merge it is only freed) */
        if (rc == STRATA_OK) rc = groups_scatter(j, &blk, out);
        st_groups_free(&blk);
    }
    for (size_t r = 0; r < np && rc == STRATA_OK; r++) {
        if (frame_close(&out[r]) < 0 || st_vec_grow(&send, out[r].n) == NULL) {
            rc = st_error(j->err, STRATA_ENOMEM, "out of memory sending groups");
            break;
        }
        memcpy((char *)send.v + send.n - out[r].n, out[r].v, out[r].n);
        sl[r] = out[r].n;
    }
    rc = st_comm_agree(cm, j->err, rc);
    if (rc == STRATA_OK) rc = cm->alltoallv(cm->ctx, j->err, send.v, sl, (void **)&all, rl);
    st_vec_free(&send);
    /* this process's share of the previous groups, then the new ones, in batch order */
    if (rc == STRATA_OK && consumed > 0) {
        rc = groups_of_output(j, nold, sp, g, k);
        if (rc == STRATA_OK) rc = gstack_finish(j, k, &acc, &have);
        if (rc == STRATA_OK && have) rc = groups_mine(j, &acc);
    }
    if (rc == STRATA_OK) rc = groups_fold(j, g, k, all, rl, &acc, &have);
    st_free_big(all);
    all = NULL;
    if (rc == STRATA_OK && g->holistic) rc = gstack_finish(j, k, &acc, &have);
    if (rc == STRATA_OK && !have) {
        st_groups_init(&acc, sp->nkeys, g->kdt, g->nslots, g->op, g->in, g->q);
        have = 1;
    }
    /* the root unites every process's groups, disjoint, in rank order */
    if (rc == STRATA_OK &&
        (frame_open(&mine) < 0 || st_groups_pack(&acc, &mine) < 0 || frame_close(&mine) < 0))
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory sending groups");
    rc = st_comm_agree(cm, j->err, rc);
    if (rc == STRATA_OK) rc = cm->allgather(cm->ctx, j->err, mine.v, mine.n, (void **)&all, rl);
    if (rc == STRATA_OK && st_upd_root(j)) {
        st_groups_free(&acc);
        have = 0;
        rc = groups_fold(j, g, NULL, all, rl, &acc, &have);
    }
    if (rc == STRATA_OK && st_upd_root(j)) {
        st_upd_retire(j);
        rc = groups_out(j, &acc, g);
    }
    if (have) st_groups_free(&acc);
    for (size_t r = 0; r < np && out != NULL; r++) st_vec_free(&out[r]);
    st_vec_free(&mine);
    free(out);
    free(all);
    free(sl);
    free(rl);
    return rc;
}

/* Group-by SP of source S: the groups of source batches [CONSUMED, nbatches), merged batch by
 * batch into the previous output (working batches [0, NOLD)) when CONSUMED > 0. A full
 * recompute folds the same batches in the same order from the first, so both give the same
 * bytes. A holistic one always starts from the first batch (CONSUMED 0) and merges in the
 * binary counter's order (each group copied log2(batches) times, not once per batch). */
static int update_groupby(st_upd_job *j, const st_dspec *sp, strata_snapshot *s, uint64_t consumed,
                          size_t nold)
{
    gplan g;
    st_groups acc;
    gstack *k = calloc(1, sizeof *k);
    int have = 0, rc = k != NULL ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory");
    uint64_t nsb = st_snapshot_nbatches(s);
    const st_cat_batch *batches = st_snapshot_batches(s);
    ST_TRY(rc);
    ST_TRY(rc = gplan_build(j, sp, st_snapshot_schema(s), &g));
    if (st_comm_many(j->comm)) {
        rc = groupby_spread(j, sp, s, consumed, nold, &g, k);
        goto done;
    }
    if (consumed > 0) { /* the previous groups, then the new batches' folded in one by one */
        ST_TRY(rc = groups_of_output(j, nold, sp, &g, k));
        ST_TRY(rc = gstack_finish(j, k, &acc, &have));
    } else if (!g.holistic) { /* every batch: folded by key when the key allows */
        ST_TRY(rc = groups_folded(j, s, sp, &g, 0, nsb, &acc));
        have = rc == 1;
        rc = STRATA_OK;
    }
    for (uint64_t b = have && consumed == 0 ? nsb : consumed; b < nsb && rc == STRATA_OK; b++) {
        st_groups part;
        rc = groups_of_batch(j, s, b, sp, &g, &part);
        if (rc == STRATA_OK && g.holistic) { /* recomputed whole: any fixed order will do */
            rc = gstack_push(j, k, &part);
        } else if (rc == STRATA_OK && !have) {
            acc = part;
            have = 1;
        } else if (rc == STRATA_OK) {
            rc = st_groups_merge(&acc, &part);
            if (rc < 0) rc = st_error(j->err, rc, "out of memory merging groups");
            st_groups_free(&part);
        }
        st_snapshot_release(s, b);
        if (rc == STRATA_OK) rc = st_upd_progress(j, b - consumed + 1, (uint64_t)batches[b].nrows);
    }
    if (rc == STRATA_OK && g.holistic) rc = gstack_finish(j, k, &acc, &have);
    if (rc == STRATA_OK) {
        st_upd_retire(j);
        rc = groups_out(j, &acc, &g);
    }
done:
    while (k != NULL && k->n > 0) st_groups_free(&k->g[--k->n]); /* after a failure */
    if (have) st_groups_free(&acc);
    free(k);
    j->st->refreshed++;
    return rc;
}

/* Whether group-by SP of S recomputes from every batch: it has a holistic aggregate, or an
 * aggregated column has a null in some batch (its output keeps no per-aggregate count of the
 * non-null inputs to merge with). Null keys merge: the null group is a group as any other. */
static int groupby_recomputes(const st_dspec *sp, strata_snapshot *s)
{
    if (sp->op != ST_OP_GROUPBY) return 0;
    for (int a = 0; a < sp->naggs; a++)
        if (st_agg_holistic(sp->agg_op[a])) return 1;
    const st_schema *sch = st_snapshot_schema(s);
    int ncols = sch->ncols;
    uint8_t *used = calloc((size_t)ncols + 1, 1);
    if (used == NULL) return 1; /* recomputing is always right */
    for (int a = 0; a < sp->naggs; a++) {
        int c = sp->agg_col[a][0] ? st_schema_find(sch, sp->agg_col[a]) : -1;
        if (c >= 0) used[c] = 1;
    }
    int nulls = 0;
    for (uint64_t b = 0; b < st_snapshot_nbatches(s) && !nulls; b++)
        for (int c = 0; c < ncols && !nulls; c++)
            nulls = used[c] && st_snapshot_bcols(s)[b * (size_t)ncols + (size_t)c].nulls > 0;
    free(used);
    return nulls;
}

static int update_index(st_upd_job *j, const st_cat_deriv *dv)
{
    st_dspec sp;
    int rc = st_dspec_decode(j->err, dv->op, dv->args, &sp);
    if (rc < 0) return rc;
    strata_snapshot *s = NULL;
    rc = st_upd_source(j, dv->source_region, dv->source, &s);
    if (rc < 0) return rc;
    st_expr *e = NULL;
    int keycols[ST_MAX_KEYS];
    for (int k = 0; k < sp.nkeys; k++) {
        keycols[k] = st_schema_find(st_snapshot_schema(s), sp.key[k]);
        if (keycols[k] < 0) {
            rc = st_error(j->err, STRATA_ENOTFOUND, "'%s/%s' has no column '%s' any more",
                          dv->source_region, dv->source, sp.key[k]);
            goto done;
        }
    }
    if (sp.op == ST_OP_FILTER)
        ST_TRY(rc = st_expr_parse(j->err, sp.expr, st_snapshot_schema(s)->cols,
                                  st_snapshot_schema(s)->ncols, &e));
    uint64_t nsb = st_snapshot_nbatches(s);
    const st_cat_batch *batches = st_snapshot_batches(s);
    int64_t first_seq = nsb ? batches[0].seq : 0;
    uint64_t consumed = (uint64_t)dv->consumed;
    int valid = !j->o->full && consumed <= nsb && (consumed == 0 || dv->source_seq == first_seq);
    size_t nold = j->wb.n;
    if (valid && consumed == nsb) { /* nothing new */
        j->st->fresh++;
        goto done;
    }
    if (!valid || groupby_recomputes(&sp, s)) consumed = 0;
    int destroys = st_op_destroys_order(sp.op);
    const char *mode = j->o->full ? "full" : destroys || consumed == 0 ? "refresh" : "incremental";
    begin_object(j, "index", mode, nsb - consumed);
    uint64_t rows = st_snapshot_row_start(s)[nsb] - st_snapshot_row_start(s)[consumed];
    j->st->batches_read += nsb - consumed;
    j->st->rows_read += rows;
    if (!destroys || sp.op == ST_OP_GROUPBY) /* (new rows or all; sorts, top-k: order.c) */
        st_upd_threads(j, rows);
    if (!destroys) {
        if (consumed == 0 && nold > 0) st_upd_retire(j);
        for (uint64_t b = consumed, done_n = 0; b < nsb && rc == STRATA_OK; b++) {
            if (!st_upd_mine(j, b - consumed, nsb - consumed)) continue;
            uint64_t *idx = NULL, n = 0;
            rc = index_of_batch(j, s, b, &sp, e, keycols, &idx, &n);
            if (rc == STRATA_OK) rc = out_index(j, idx, n);
            free(idx);
            st_upd_release(j, s, b, nsb - consumed);
            if (rc == STRATA_OK) rc = st_upd_progress(j, ++done_n, (uint64_t)batches[b].nrows);
        }
        if (consumed == 0)
            j->st->refreshed++;
        else
            j->st->incremental++;
    } else if (sp.op == ST_OP_GROUPBY) {
        ST_TRY(rc = update_groupby(j, &sp, s, consumed, nold));
    } else {
        /* sort and global topk: the new rows' sorted runs, merged into the previous output, or
         * a sort's new rows added to its partitions */
        rc = st_upd_order(j, &sp, s, keycols, consumed, consumed > 0 ? nold : 0);
        j->st->refreshed++;
    }
    ST_TRY(rc);
    ST_TRY(rc = push_mark(j, dv->id, (int64_t)nsb, first_seq, st_snapshot_version(s)));
    j->changed = 1;
done:
    st_expr_free(e);
    return rc;
}

/* ---- derived columns ----------------------------------------------------------------------- */

/* Index IDX[I] must name a row of parent P. */
static int check_index(st_upd_job *j, const strata_snapshot *p, const uint64_t *idx, uint64_t i)
{
    if (idx[i] < st_snapshot_nrows(p)) return STRATA_OK;
    return st_error(j->err, STRATA_ECORRUPT,
                    "index %llu at row %llu is past the %llu rows of the parent '%s/%s'",
                    (unsigned long long)idx[i], (unsigned long long)i,
                    (unsigned long long)st_snapshot_nrows(p), st_snapshot_rec(p)->region,
                    st_snapshot_rec(p)->name);
}

/* The validity of the output positions [FROM, TO) of a gather (ORD: their order, or NULL for
 * FROM..TO) from rows IDX - FIRST of a parent batch whose bitmap is V, into *VALID (N bits,
 * allocated all valid at the first null). */
static int gather_valid(st_upd_job *j, const uint8_t *v, const uint64_t *idx, uint64_t first,
                        const uint64_t *ord, uint64_t from, uint64_t to, uint64_t n,
                        uint8_t **valid)
{
    for (uint64_t k = from; k < to; k++) {
        uint64_t i = ord != NULL ? ord[k] : k;
        if (st_bit(v, idx[i] - first)) continue;
        if (*valid == NULL) {
            if ((*valid = malloc(st_bits_bytes(n) + 1)) == NULL)
                return st_error(j->err, STRATA_ENOMEM, "out of memory");
            memset(*valid, 0xFF, st_bits_bytes(n) + 1);
        }
        st_bit_set(*valid, i, 0);
    }
    return STRATA_OK;
}

/* Gather column PC of parent P at the N positions IDX into W. The index is bucketed by parent
 * batch, and the parent is read one batch at a time. */
static int gather_into(st_upd_job *j, strata_snapshot *p, int pc, const uint64_t *idx, uint64_t n,
                       st_colw *w)
{
    strata_dtype dt = (strata_dtype)st_snapshot_schema(p)->cat[pc].dtype;
    if (dt == STRATA_STR) {
        int rc = STRATA_OK;
        uint64_t at = 0;
        for (uint64_t i = 0; i < n && rc == STRATA_OK; i++) {
            if ((rc = check_index(j, p, idx, i)) < 0) break;
            at = st_snapshot_batch_of(p, idx[i], at);
            const int64_t *o;
            const char *by;
            const uint8_t *v;
            rc = strata_snapshot_map_str(p, at, pc, &o, &by);
            if (rc == STRATA_OK) rc = strata_snapshot_map_valid(p, at, pc, &v);
            uint64_t r = idx[i] - st_snapshot_row_start(p)[at];
            uint8_t one = (uint8_t)st_bit(v, r);
            /* string r is by[o[r], o[r + 1]); the writer takes bytes from its first offset */
            if (rc == STRATA_OK)
                rc = st_colw_append_str_valid(j->err, w, o + r, by + o[r], &one, 0, 1);
        }
        return rc;
    }
    size_t esz = strata_dtype_size(dt);
    char *out = malloc(n * esz + 1);
    uint32_t *pb = malloc((n + 1) * sizeof *pb);
    uint64_t *start = calloc(st_snapshot_nbatches(p) + 2, sizeof *start);
    uint64_t *ord = NULL;
    uint8_t *valid = NULL; /* the output's validity, once a null is gathered */
    int rc = STRATA_OK, sorted = 1;
    if (out == NULL || pb == NULL || start == NULL)
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory gathering %llu values",
                      (unsigned long long)n);
    /* by runs of indices in one batch (a filter's output is ascending: one run a batch), so
     * that an index costs a compare and a store, not two calls and a counter's increment */
    const uint64_t *rs = st_snapshot_row_start(p);
    uint64_t at = 0, nrows = st_snapshot_nrows(p);
    for (uint64_t i = 0, e; i < n && rc == STRATA_OK; i = e) {
        if (idx[i] >= nrows) {
            rc = check_index(j, p, idx, i);
            break;
        }
        at = st_snapshot_batch_of(p, idx[i], at);
        for (e = i; e < n && idx[e] >= rs[at] && idx[e] < rs[at + 1]; e++) pb[e] = (uint32_t)at;
        sorted &= i == 0 || at >= pb[i - 1];
        start[at + 1] += e - i;
    }
    for (uint64_t b = 0; b < st_snapshot_nbatches(p) && rc == STRATA_OK; b++)
        start[b + 1] += start[b];
    /* In index order the buckets are contiguous already; otherwise they list their rows. */
    if (rc == STRATA_OK && !sorted) {
        ord = malloc((n + 1) * sizeof *ord);
        if (ord == NULL)
            rc = st_error(j->err, STRATA_ENOMEM, "out of memory gathering %llu values",
                          (unsigned long long)n);
        for (uint64_t i = 0; i < n && rc == STRATA_OK; i++) ord[start[pb[i]]++] = i;
        /* start[b] is now the end of bucket b: shift back to the beginnings */
        for (uint64_t b = st_snapshot_nbatches(p); b > 0 && rc == STRATA_OK; b--)
            start[b] = start[b - 1];
        if (rc == STRATA_OK) start[0] = 0;
    }
    for (uint64_t b = 0; b < st_snapshot_nbatches(p) && rc == STRATA_OK; b++) {
        uint64_t from = start[b], to = start[b + 1];
        if (to == from) continue;
        const void *data;
        const uint8_t *v;
        rc = strata_snapshot_map(p, b, pc, &data);
        if (rc == STRATA_OK) rc = strata_snapshot_map_valid(p, b, pc, &v);
        if (rc == STRATA_OK && v != NULL)
            rc = gather_valid(j, v, idx, st_snapshot_row_start(p)[b], ord, from, to, n, &valid);
        if (rc < 0) break;
        if (ord == NULL)
            st_gather(esz, data, idx + from, st_snapshot_row_start(p)[b], NULL, to - from,
                      out + from * esz, j->nt);
        else
            st_gather(esz, data, idx, st_snapshot_row_start(p)[b], ord + from, to - from, out,
                      j->nt);
        if (j->o->mem > 0) st_snapshot_release(p, b);
    }
    if (rc == STRATA_OK) rc = st_colw_append_valid(j->err, w, out, valid, 0, n);
    free(out);
    free(pb);
    free(start);
    free(ord);
    free(valid);
    return rc;
}

/* Scatter child C's column CC onto rows [FIRST, FIRST+N) of the parent: DEF elsewhere. */
static int scatter_into(st_upd_job *j, strata_snapshot *c, int cc, uint64_t first, uint64_t n,
                        const void *def, st_colw *w)
{
    strata_dtype dt = (strata_dtype)st_snapshot_schema(c)->cat[cc].dtype;
    size_t esz = strata_dtype_size(dt);
    char *out = malloc(n * esz + 1);
    uint8_t *valid = NULL; /* once a child column has nulls */
    if (out == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++) memcpy(out + i * esz, def, esz);
    int rc = STRATA_OK;
    for (uint64_t b = 0; b < st_snapshot_nbatches(c) && rc == STRATA_OK; b++) {
        strata_column_stats st;
        rc = strata_snapshot_stats(c, b, 0, &st);
        if (rc < 0 || !st.has_minmax) continue;
        uint64_t lo = (uint64_t)st.min_i, hi = (uint64_t)st.max_i;
        if (hi < first || lo >= first + n) continue; /* no row of this child batch lands here */
        const void *ip, *vp;
        const uint8_t *cv;
        rc = strata_snapshot_map(c, b, 0, &ip);
        if (rc == STRATA_OK) rc = strata_snapshot_map(c, b, cc, &vp);
        if (rc == STRATA_OK) rc = strata_snapshot_map_valid(c, b, cc, &cv);
        if (rc == STRATA_OK && cv != NULL && valid == NULL) {
            if ((valid = malloc(st_bits_bytes(n) + 1)) == NULL)
                rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
            else
                memset(valid, 0xFF, st_bits_bytes(n) + 1);
        }
        if (rc < 0) break;
        const uint64_t *idx = ip;
        const char *val = vp;
        uint64_t m = (uint64_t)st_snapshot_batches(c)[b].nrows;
        for (uint64_t r = 0; r < m; r++) {
            uint64_t off = idx[r] - first;
            if (off >= n) continue;
            memcpy(out + off * esz, val + r * esz, esz);
            if (valid != NULL) st_bit_set(valid, off, st_bit(cv, r));
        }
    }
    if (rc == STRATA_OK) rc = st_colw_append_valid(j->err, w, out, valid, 0, n);
    free(out);
    free(valid);
    return rc;
}

/* The working batch BI gets column POS from W: a new batch holds it directly, an existing one
 * gets a fill. */
static int place_column(st_upd_job *j, size_t bi, int pos, st_colw *w)
{
    char token[ST_TOKEN_LEN + 1];
    st_random_token(token);
    st_cat_bcol bc;
    int rc = st_colw_finish(j->err, w, st_dataset_path(j->ds), token, pos, &bc);
    if (rc == STRATA_OK) rc = remember_file(j, &bc);
    if (rc < 0) return rc;
    st_upd_wbatch *wb = &ST_UPD_WB(j, bi);
    if (st_comm_many(j->comm)) { /* sent to the others after the object (spread.c) */
        st_upd_placed *pl = st_vec_push(&j->placed);
        if (pl == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
        *pl = (st_upd_placed){.bi = bi, .pos = pos, .bc = bc};
    }
    if (wb->is_new) {
        wb->cols[pos] = bc;
    } else {
        st_cat_fill *f = st_vec_push(&j->fills);
        if (f == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
        f->seq = wb->b.seq;
        f->position = pos;
        f->col = bc;
        wb->cols[pos] = bc;
    }
    j->changed = 1;
    return STRATA_OK;
}

/* What one derived column is computed from. */
typedef struct colsrc {
    st_dspec sp;
    int pos;              /* the column's position */
    strata_snapshot *src; /* gather, scatter: the source dataset */
    int sc;               /* its column */
    st_expr *e;           /* expr: over the columns before POS */
    double def[2];        /* scatter: the default value */
} colsrc;

/* A scatter column: the parent batches the child has consumed (later ones would get defaults):
 * *COVERED; and a child that destroys order is recomputed whole when it changed. */
static int scatter_coverage(st_upd_job *j, const st_cat_deriv *dv, colsrc *cs, uint64_t *covered,
                            int *recompute_all)
{
    char why[64];
    strata_dtype dt = (strata_dtype)st_snapshot_schema(cs->src)->cat[cs->sc].dtype;
    if (strata_value_parse(dt, cs->sp.defval, cs->def, why) < 0)
        return st_error(j->err, STRATA_ECORRUPT, "scatter default '%s' %s", cs->sp.defval, why);
    st_index_of fi;
    int rc = st_derive_index_of(j->pool, st_snapshot_rec(cs->src)->id, &fi);
    if (rc < 0) return rc;
    size_t first_live = j->wb.n;
    for (size_t i = 0; i < j->wb.n && first_live == j->wb.n; i++)
        if (!ST_UPD_WB(j, i).retired) first_live = i;
    int64_t fseq = first_live < j->wb.n ? ST_UPD_WB(j, first_live).b.seq : 0;
    *covered = fi.found && (fi.dv.consumed == 0 || fi.dv.source_seq == fseq)
                   ? first_live + (size_t)fi.dv.consumed
                   : 0;
    if (*covered > j->wb.n) *covered = j->wb.n;
    if (fi.dv.destroys_order || st_op_destroys_order((st_op)st_op_parse(fi.dv.op)))
        *recompute_all |= dv->source_version != st_snapshot_version(cs->src);
    return STRATA_OK;
}

/* Open what the column is computed from: the source's snapshot and column, or the expression. */
static int colsrc_open(st_upd_job *j, const st_cat_deriv *dv, colsrc *cs)
{
    int rc = st_dspec_decode(j->err, dv->op, dv->args, &cs->sp);
    if (rc < 0) return rc;
    cs->pos = st_schema_find(&j->sch, dv->target);
    if (cs->pos < 0)
        return st_error(j->err, STRATA_ECORRUPT, "derived column '%s' has no schema entry",
                        dv->target);
    /* The columns before this one: what it was defined over. */
    if (cs->sp.op == ST_OP_EXPR)
        return st_expr_parse(j->err, cs->sp.expr, j->sch.cols, cs->pos, &cs->e);
    rc = st_upd_source(j, dv->source_region, dv->source, &cs->src);
    if (rc < 0) return rc;
    cs->sc = st_schema_find(st_snapshot_schema(cs->src), dv->source_column);
    if (cs->sc < 0)
        return st_error(j->err, STRATA_ENOTFOUND, "'%s/%s' has no column '%s' any more",
                        dv->source_region, dv->source, dv->source_column);
    return STRATA_OK;
}

/* Evaluate the expression of CS over working batch WB's N rows into W. */
static int expr_into(st_upd_job *j, st_upd_wbatch *wb, const colsrc *cs, uint64_t n, st_colw *w)
{
    int pos = cs->pos;
    st_expr_input *in = calloc((size_t)pos + 1, sizeof *in);
    st_npy_map *maps = calloc(3 * (size_t)pos + 3, sizeof *maps);
    void *out = malloc(n * strata_dtype_size(st_expr_type(cs->e)) + 1);
    uint8_t *valid = malloc(st_bits_bytes(n) + 1);
    uint64_t nulls = 0;
    int rc = STRATA_OK;
    if (in == NULL || maps == NULL || out == NULL || valid == NULL) {
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    for (int c = 0; c < pos; c++) {
        if (!st_expr_uses(cs->e, c)) continue;
        ST_TRY(rc =
                   st_upd_map(j, wb, c, &maps[3 * c], &maps[3 * c + 1], &in[c].data, &in[c].bytes));
        ST_TRY(rc = st_upd_map_valid(j, wb, c, &maps[3 * c + 2], &in[c].valid));
    }
    ST_TRY(rc = st_expr_eval_nulls(j->err, cs->e, in, n, out, valid, &nulls, j->nt));
    rc = st_colw_append_valid(j->err, w, out, nulls > 0 ? valid : NULL, 0, n);
done:
    for (int c = 0; maps != NULL && c < 3 * pos + 3; c++) st_npy_unmap(&maps[c]);
    free(in);
    free(maps);
    free(out);
    free(valid);
    return rc;
}

/* Compute the column of CS for working batch BI and place it. */
static int column_batch(st_upd_job *j, size_t bi, const colsrc *cs)
{
    st_upd_wbatch *wb = &ST_UPD_WB(j, bi);
    uint64_t n = (uint64_t)wb->b.nrows;
    st_colw w;
    int rc =
        st_colw_open(j->err, &w, st_dataset_path(j->ds), (strata_dtype)j->sch.cat[cs->pos].dtype);
    if (rc < 0) return rc;
    if (cs->sp.op == ST_OP_GATHER) {
        st_npy_map m, mb;
        const void *idx;
        const char *unused;
        rc = st_upd_map(j, wb, 0, &m, &mb, &idx, &unused);
        if (rc == STRATA_OK) rc = gather_into(j, cs->src, cs->sc, idx, n, &w);
        st_npy_unmap(&m);
        st_npy_unmap(&mb);
    } else if (cs->sp.op == ST_OP_SCATTER) {
        rc = scatter_into(j, cs->src, cs->sc, (uint64_t)wb->b.first_row, n, cs->def, &w);
    } else {
        rc = expr_into(j, wb, cs, n, &w);
    }
    if (rc < 0) {
        st_colw_abort(&w);
        return rc;
    }
    return place_column(j, bi, cs->pos, &w);
}

/* A column the merge of the index wrote with the new batches: count it, mark it consumed. */
static int column_merged(st_upd_job *j, const st_cat_deriv *dv, const colsrc *cs, uint64_t covered)
{
    uint64_t nb = 0, rows = 0;
    for (size_t i = 0; i < j->wb.n; i++)
        if (ST_UPD_WB(j, i).is_new && !ST_UPD_WB(j, i).retired) {
            nb++;
            rows += (uint64_t)ST_UPD_WB(j, i).b.nrows;
        }
    begin_object(j, dv->target, "merged", nb);
    /* shown as the object's rows (counted once, spread), but no work: the merge did it */
    uint64_t *work = j->work;
    j->work = NULL;
    int rc = st_upd_progress(j, nb, st_upd_root(j) ? rows : 0);
    j->work = work;
    if (rc < 0) return rc;
    j->st->refreshed++;
    return push_mark(j, dv->id, (int64_t)covered, 0,
                     cs->src != NULL ? st_snapshot_version(cs->src) : 0);
}

static int update_column(st_upd_job *j, const st_cat_deriv *dv)
{
    colsrc cs = {.sc = -1};
    uint64_t covered = j->wb.n; /* working batches (in order) the column can be computed for */
    int recompute_all = j->o->full;
    int rc = colsrc_open(j, dv, &cs);
    ST_TRY(rc);
    if (cs.sp.op == ST_OP_SCATTER)
        ST_TRY(rc = scatter_coverage(j, dv, &cs, &covered, &recompute_all));
    if (cs.pos >= st_dataset_schema(j->ds)->ncols && cs.pos < j->carry_to) {
        rc = column_merged(j, dv, &cs, covered);
        goto done;
    }
    /* The targets: live batches without the column (all of them when recomputing). */
    uint64_t total = 0, rows = 0;
    for (size_t i = 0; i < covered; i++)
        if (!ST_UPD_WB(j, i).retired &&
            (recompute_all || ST_UPD_WB(j, i).cols[cs.pos].file[0] == '\0')) {
            total++;
            rows += (uint64_t)ST_UPD_WB(j, i).b.nrows;
        }
    st_upd_threads(j, rows);
    if (total == 0) {
        j->st->fresh++;
        goto done;
    }
    begin_object(j, dv->target,
                 recompute_all   ? "full"
                 : j->retire_all ? "refresh"
                                 : "incremental",
                 total);
    uint64_t done_n = 0, t = 0;
    for (size_t i = 0; i < covered; i++) {
        st_upd_wbatch *wb = &ST_UPD_WB(j, i);
        if (wb->retired || (!recompute_all && wb->cols[cs.pos].file[0] != '\0')) continue;
        if (!st_upd_mine(j, t++, total)) continue;
        ST_TRY(rc = column_batch(j, i, &cs));
        ST_TRY(rc = st_upd_progress(j, ++done_n, (uint64_t)wb->b.nrows));
    }
    if (recompute_all || j->retire_all)
        j->st->refreshed++;
    else
        j->st->incremental++;
    rc =
        push_mark(j, dv->id, (int64_t)covered, 0, cs.src != NULL ? st_snapshot_version(cs.src) : 0);
done:
    st_expr_free(cs.e);
    return rc;
}

/* ---- one dataset's group of objects ------------------------------------------------------- */

void st_upd_threads(st_upd_job *j, uint64_t rows)
{
    if (rows < ST_UPD_ONE_THREAD) j->nt = 1;
}

int st_upd_source(st_upd_job *j, const char *region, const char *name, strata_snapshot **out)
{
    for (size_t i = 0; i < j->snaps.n; i++) {
        strata_snapshot *s = ((strata_snapshot **)j->snaps.v)[i];
        const st_cat_dataset *d = st_snapshot_rec(s);
        if (strcmp(d->region, region) == 0 && strcmp(d->name, name) == 0) {
            *out = s;
            return STRATA_OK;
        }
    }
    int64_t version; /* spread: the root's, so that every process reads the same batches */
    int rc = st_upd_source_version(j, region, name, &version);
    if (rc < 0) return rc;
    strata_snapshot **slot = st_vec_push(&j->snaps);
    if (slot == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    rc = strata_snapshot_open(j->pool, region, name, version, slot);
    if (rc < 0) {
        j->snaps.n--;
        return rc;
    }
    st_snapshot_load_small(*slot); /* its maps are released when each batch is done */
    *out = *slot;
    return STRATA_OK;
}

static void job_free(st_upd_job *j)
{
    for (size_t i = 0; i < j->snaps.n; i++)
        strata_snapshot_close(((strata_snapshot **)j->snaps.v)[i]);
    st_vec_free(&j->snaps);
    for (size_t i = 0; i < j->wb.n; i++) free(ST_UPD_WB(j, i).cols);
    st_vec_free(&j->wb);
    st_vec_free(&j->fills);
    st_vec_free(&j->marks);
    st_vec_free(&j->files);
    st_vec_free(&j->placed);
    free(j->retired0);
    st_schema_free(&j->sch);
    strata_dataset_close(j->ds);
}

static void remove_files(st_upd_job *j)
{
    char path[ST_PATH_MAX];
    for (size_t i = 0; i < j->files.n; i++)
        if (st_path(NULL, path, "%s/%s", st_dataset_path(j->ds),
                    ((char(*)[ST_CAT_FILE])j->files.v)[i]) == 0)
            unlink(path);
}

static int collect_deriv(void *vctx, const st_cat_deriv *dv)
{
    st_vec *v = vctx;
    st_cat_deriv *slot = st_vec_push(v);
    if (slot == NULL) return STRATA_ENOMEM;
    *slot = *dv;
    return 0;
}

static int publish(st_upd_job *j)
{
    st_vec nb = ST_VEC(st_cat_batch);
    size_t ncols = (size_t)j->sch.ncols, count = 0, nretire = 0;
    for (size_t i = 0; i < j->wb.n; i++) count += ST_UPD_WB(j, i).is_new;
    st_cat_bcol *cols = calloc(count * ncols + 1, sizeof *cols);
    int64_t *retire = malloc((j->wb.n + 1) * sizeof *retire); /* batches of compacted partitions */
    int rc = cols == NULL || retire == NULL ? STRATA_ENOMEM : STRATA_OK;
    for (size_t i = 0; i < j->wb.n && rc == STRATA_OK && !j->retire_all; i++)
        if (ST_UPD_WB(j, i).retired && !ST_UPD_WB(j, i).is_new)
            retire[nretire++] = ST_UPD_WB(j, i).b.seq;
    for (size_t i = 0; i < j->wb.n && rc == STRATA_OK; i++) {
        if (!ST_UPD_WB(j, i).is_new || ST_UPD_WB(j, i).retired) continue;
        st_cat_batch *b = st_vec_push(&nb);
        if (b == NULL) {
            rc = STRATA_ENOMEM;
            break;
        }
        *b = ST_UPD_WB(j, i).b;
        memcpy(&cols[(nb.n - 1) * ncols], ST_UPD_WB(j, i).cols, ncols * sizeof *cols);
    }
    if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory publishing");
    if (rc == STRATA_OK) {
        st_cat_change ch = {.retire_all = j->retire_all,
                            .retire = retire,
                            .nretire = (int)nretire,
                            .batches = nb.v,
                            .cols = cols,
                            .nb = (int)nb.n,
                            .ncols = (int)ncols,
                            .fills = j->fills.v,
                            .nfills = (int)j->fills.n,
                            .marks = j->marks.v,
                            .nmarks = (int)j->marks.n};
        /* spread, the processes share the sweep after (job_publish) */
        rc = st_comm_many(j->comm) ? st_dataset_apply_unswept(j->ds, &ch, NULL)
                                   : st_dataset_apply(j->ds, &ch, NULL);
    }
    free(cols);
    free(retire);
    st_vec_free(&nb);
    return rc;
}

/* The job's starting state: the writer lock, the schema, the derivations' marks as they are under
 * the lock (another updater may have done the work) and the batches. Spread, the root locks and
 * reads; the others take its derivations and read the batches of the version it read. */
static int job_load(st_upd_job *j, const char *region, const char *name, st_vec *fresh)
{
    strata_pool *pool = j->pool;
    st_cat_dataset d2;
    int64_t head[3] = {0, 0, 0}; /* the version, the schema's columns and intrinsic columns */
    int rc = STRATA_OK;
    if (st_upd_root(j)) {
        int ms = j->o->lock_timeout_ms;
        strata_dataset_set_lock_timeout(j->ds, ms == 0 ? 60000 : ms);
        rc = st_dataset_lock(j->ds);
        if (rc == STRATA_OK) rc = st_schema_load(pool, region, name, &d2, &j->sch);
        if (rc == STRATA_OK)
            rc = st_cat_derivs(j->err, st_pool_cat(pool), st_dataset_rec(j->ds)->id, collect_deriv,
                               fresh);
        head[0] = st_dataset_rec(j->ds)->version;
        head[1] = j->sch.ncols;
        head[2] = st_dataset_schema(j->ds)->ncols;
    }
    if (st_comm_many(j->comm)) {
        ST_TRY(rc = st_comm_agree(j->comm, j->err, rc));
        ST_TRY(rc = j->comm->bcast(j->comm->ctx, j->err, head, sizeof head, 0));
        ST_TRY(rc = st_upd_bcast_vec(j, fresh));
        if (!st_upd_root(j)) {
            rc = st_schema_load(pool, region, name, &d2, &j->sch);
            if (rc == STRATA_OK &&
                (head[1] != j->sch.ncols || head[2] != st_dataset_schema(j->ds)->ncols))
                rc = st_error(j->err, STRATA_ECONFLICT,
                              "the columns of '%s/%s' changed while the update began; run it "
                              "again",
                              region, name);
        }
        ST_TRY(rc = st_comm_agree(j->comm, j->err, rc));
    }
    ST_TRY(rc);
    if (head[0] > 0) {
        rc = st_cat_batches(j->err, st_pool_cat(pool), st_dataset_rec(j->ds)->id, head[0],
                            j->sch.ncols, load_batch, j);
        if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory");
    }
    rc = st_comm_agree(j->comm, j->err, rc);
done:
    return rc;
}

/* The replaced batches' files removed by every process, each its share, after the root published
 * (the files of a refresh take as long to free as to write); the root holds the readers off until
 * all are done. Best effort, as a sweep is: what stays is removed by the next gc. */
static void spread_sweep(st_upd_job *j)
{
    int any = j->retire_all;
    for (size_t i = 0; i < j->wb.n && !any; i++)
        any = ST_UPD_WB(j, i).retired && !ST_UPD_WB(j, i).is_new;
    if (!any) return; /* the same view everywhere: all return */
    const st_comm *c = j->comm;
    const st_cat_dataset *d = st_dataset_rec(j->ds);
    const char *dir = st_dataset_path(j->ds);
    st_sweep s = {.hold = -1, .files = ST_VEC(st_sweep_file)};
    if (st_upd_root(j)) st_sweep_begin(j->pool, d, dir, &s);
    uint64_t files = 0, bytes = 0;
    if (st_upd_bcast_vec(j, &s.files) == STRATA_OK)
        st_sweep_files(j->pool, d, dir, &s.files, (size_t)c->rank, (size_t)c->size, &files, &bytes);
    st_comm_agree(c, j->err, STRATA_OK);
    st_sweep_end(j->pool, &s);
}

/* Publish the job (the root), and everyone learns how it went. */
static int job_publish(st_upd_job *j, int rc)
{
    int published = rc == STRATA_OK && j->changed;
    if (published && st_upd_root(j)) rc = publish(j);
    rc = st_comm_agree(j->comm, j->err, rc);
    if (rc < 0) remove_files(j);
    if (rc == STRATA_OK && published && st_comm_many(j->comm)) spread_sweep(j);
    return rc;
}

static int process_group(strata_pool *pool, const strata_update_opts *o, strata_update_stats *st,
                         const st_comm *comm, uint64_t *work, const st_cat_deriv *group,
                         size_t ngroup)
{
    st_upd_job j;
    memset(&j, 0, sizeof j);
    j.pool = pool;
    j.err = st_pool_err(pool);
    j.o = o;
    j.st = st;
    j.comm = comm;
    j.work = work;
    j.nt = j.nt_all = o->nthreads > 0 ? o->nthreads : st_pool_threads(pool);
    j.out_rows = o->batch_rows >= 1024 ? o->batch_rows : o->batch_rows > 0 ? 1024 : ST_OUT_ROWS;
    if (o->mem > 0 && o->mem / 64 < j.out_rows)
        j.out_rows = o->mem / 64 > 1024 ? o->mem / 64 : 1024;
    j.wb = (st_vec)ST_VEC(st_upd_wbatch);
    j.fills = (st_vec)ST_VEC(st_cat_fill);
    j.marks = (st_vec)ST_VEC(st_cat_mark);
    j.files = (st_vec)ST_VEC(char[ST_CAT_FILE]);
    j.snaps = (st_vec)ST_VEC(strata_snapshot *);
    j.placed = (st_vec)ST_VEC(st_upd_placed);
    j.group = group;
    j.ngroup = ngroup;
    const char *region = group[0].region, *name = group[0].dataset;
    j.ev.region = region;
    j.ev.name = name;
    st_vec fresh = ST_VEC(st_cat_deriv);
    int rc = st_comm_agree(comm, j.err, st_dataset_open(pool, region, name, 1, &j.ds));
    if (rc < 0) {
        strata_dataset_close(j.ds);
        return rc;
    }
    ST_TRY(rc = job_load(&j, region, name, &fresh));
    for (size_t g = 0; g < ngroup && rc == STRATA_OK; g++) {
        const st_cat_deriv *dv = NULL;
        for (size_t f = 0; f < fresh.n; f++)
            if (((st_cat_deriv *)fresh.v)[f].id == group[g].id) dv = (st_cat_deriv *)fresh.v + f;
        if (dv == NULL) continue; /* dropped meanwhile */
        j.ev.object = dv->target[0] ? dv->target : "index";
        j.nt = j.nt_all;
        rc = st_upd_obj_begin(&j);
        if (rc == STRATA_OK) rc = dv->target[0] ? update_column(&j, dv) : update_index(&j, dv);
        if (rc < 0) {
            char why[ST_ERRMSG_MAX];
            st_err_copy(j.err, why, sizeof why);
            st_error(j.err, rc, "cannot update %s of '%s/%s': %s",
                     dv->target[0] ? dv->target : "the index", region, name, why);
        }
        rc = st_upd_sync(&j, rc);
    }
    rc = job_publish(&j, rc);
done:
    st_vec_free(&fresh);
    job_free(&j);
    return rc;
}

/* ---- the walk ------------------------------------------------------------------------------ */

typedef struct node {
    st_cat_deriv dv;
    int in_scope, done;
} node;

#define NODE(gr, i) (((node *)(gr)->v)[i])

/* Whether derived object N of graph G has been computed by an update: an index that consumed a
 * batch or recorded its source's version; a column that computed a batch, or whose dataset has
 * none to compute since its own index (if derived) was computed. */
static int ever_computed(const st_vec *g, const node *n)
{
    const st_cat_deriv *d = &n->dv;
    if (d->consumed > 0) return 1;
    if (d->target[0] == '\0') return d->source_version > 0;
    for (size_t i = 0; i < g->n; i++) {
        const node *o = &NODE(g, i);
        if (o->dv.target[0] == '\0' && strcmp(o->dv.region, d->region) == 0 &&
            strcmp(o->dv.dataset, d->dataset) == 0)
            return ever_computed(g, o);
    }
    return 1; /* a column of a base dataset (strata_lineage() looks at its batches) */
}

static int collect_node(void *vctx, const st_cat_deriv *dv)
{
    st_vec *v = vctx;
    node *n = st_vec_push(v);
    if (n == NULL) return STRATA_ENOMEM;
    memset(n, 0, sizeof *n);
    n->dv = *dv;
    return 0;
}

static int load_graph(strata_pool *pool, st_vec *g)
{
    *g = (st_vec)ST_VEC(node);
    int rc = st_cat_derivs(st_pool_err(pool), st_pool_cat(pool), 0, collect_node, g);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(pool), rc, "out of memory");
    return rc;
}

/* Mark every object that writes dataset ID, and (recursively) those its sources need. */
static void mark_ancestors(st_vec *g, int64_t id, int depth)
{
    if (depth > 10000) return;
    for (size_t i = 0; i < g->n; i++) {
        node *n = &NODE(g, i);
        if (n->dv.dataset_id != id || n->in_scope) continue;
        n->in_scope = 1;
        if (n->dv.source_id != id) mark_ancestors(g, n->dv.source_id, depth + 1);
    }
}

/* Select the objects of datasets in TARGETS, their descendants, and all their ancestors. A
 * derived column whose source is in the set (a scatter onto a parent) is a descendant too, but
 * its dataset's other descendants are not. */
static void select_scope(st_vec *g, const int64_t *targets, size_t nt, int descendants)
{
    st_vec set = ST_VEC(int64_t);
    for (size_t i = 0; i < nt; i++) {
        int64_t *s = st_vec_push(&set);
        if (s) *s = targets[i];
    }
    for (size_t grow = 1; descendants && grow;) {
        grow = 0;
        for (size_t i = 0; i < g->n; i++) {
            node *n = &NODE(g, i);
            int src_in = 0, dst_in = 0;
            for (size_t k = 0; k < set.n; k++) {
                src_in |= ((int64_t *)set.v)[k] == n->dv.source_id;
                dst_in |= ((int64_t *)set.v)[k] == n->dv.dataset_id;
            }
            if (!src_in || dst_in) continue;
            if (n->dv.target[0] != '\0') {
                if (!n->in_scope) {
                    n->in_scope = 1;
                    mark_ancestors(g, n->dv.source_id, 0);
                }
                continue;
            }
            int64_t *s = st_vec_push(&set);
            if (s) *s = n->dv.dataset_id;
            grow = 1;
        }
    }
    for (size_t k = 0; k < set.n; k++) mark_ancestors(g, ((int64_t *)set.v)[k], 0);
    st_vec_free(&set);
}

static int collect_id(void *vctx, const st_cat_dataset *d)
{
    st_vec *v = vctx;
    int64_t *s = st_vec_push(v);
    if (s == NULL) return STRATA_ENOMEM;
    *s = d->id;
    return 0;
}

/* The datasets REGION/NAME names: one, a region's, or all (NULL: no restriction). */
static int scope_of(strata_pool *pool, const char *region, const char *name, st_vec *g,
                    int descendants)
{
    if (region == NULL) {
        for (size_t i = 0; i < g->n; i++) NODE(g, i).in_scope = 1;
        return STRATA_OK;
    }
    st_err *err = st_pool_err(pool);
    int rc = name != NULL ? st_dataset_names_check(pool, region, name)
                          : st_name_check(err, "region", region);
    if (rc < 0) return rc;
    st_vec ids = ST_VEC(int64_t);
    if (name != NULL) {
        st_cat_dataset d;
        if ((rc = st_cat_dataset_get(err, st_pool_cat(pool), region, name, &d, NULL, NULL)) < 0)
            return rc;
        rc = collect_id(&ids, &d);
    } else {
        st_cat_region r;
        if ((rc = st_cat_region_get(err, st_pool_cat(pool), region, &r)) < 0) return rc;
        rc = st_cat_dataset_list(err, st_pool_cat(pool), r.id, collect_id, &ids);
    }
    if (rc == STRATA_OK) select_scope(g, ids.v, ids.n, descendants);
    st_vec_free(&ids);
    return rc == STRATA_ENOMEM ? st_error(err, rc, "out of memory") : rc;
}

/* The objects to update, in order: the root's, everywhere. */
static int update_graph(strata_pool *pool, const char *region, const char *name,
                        const strata_update_opts *o, const st_comm *comm, st_vec *g)
{
    int rc = STRATA_OK;
    *g = (st_vec)ST_VEC(node);
    if (comm == NULL || comm->rank == 0) {
        rc = load_graph(pool, g);
        if (rc == STRATA_OK) rc = scope_of(pool, region, name, g, 1);
        for (size_t i = 0; o->auto_only && i < g->n; i++)
            if (!NODE(g, i).dv.auto_update) NODE(g, i).in_scope = 0;
    }
    rc = st_comm_agree(comm, st_pool_err(pool), rc);
    if (rc == STRATA_OK && st_comm_many(comm)) {
        st_upd_job j = {.pool = pool, .err = st_pool_err(pool), .comm = comm};
        rc = st_upd_bcast_vec(&j, g);
    }
    return rc;
}

/* Spread: the work counters summed over the processes, the rest the root's; how unevenly the
 * work was shared (the most rows one process worked on over the mean). */
static int update_totals(const st_comm *comm, st_err *err, strata_update_stats *st, uint64_t work)
{
    st->ranks = comm != NULL ? comm->size : 1;
    st->imbalance = 1.0;
    if (!st_comm_many(comm)) return STRATA_OK;
    uint64_t sum[5] = {st->batches_written, st->rows_written, st->runs_spilled, st->parts_compacted,
                       work};
    uint64_t most = work;
    int rc = comm->allreduce(comm->ctx, err, sum, 5, ST_COMM_SUM);
    if (rc == STRATA_OK) rc = comm->allreduce(comm->ctx, err, &most, 1, ST_COMM_MAX);
    if (rc < 0) return rc;
    st->batches_written = sum[0];
    st->rows_written = sum[1];
    st->runs_spilled = sum[2];
    st->parts_compacted = sum[3];
    st->imbalance = sum[4] > 0 ? (double)most * comm->size / (double)sum[4] : 1.0;
    return STRATA_OK;
}

int st_update_run(strata_pool *pool, const char *region, const char *name,
                  const strata_update_opts *opts, strata_update_stats *stats, const st_comm *comm)
{
    if (pool == NULL) return STRATA_EINVAL;
    strata_update_opts o = {0};
    if (opts != NULL) o = *opts;
    strata_update_stats local;
    if (stats == NULL) stats = &local;
    memset(stats, 0, sizeof *stats);
    double t0 = st_mono_s();
    uint64_t work = 0;
    st_vec g;
    int rc = update_graph(pool, region, name, &o, comm, &g);
    st_vec group = ST_VEC(st_cat_deriv);
    for (;;) {
        if (rc < 0) break;
        int left = 0, progressed = 0;
        for (size_t i = 0; i < g.n && rc == STRATA_OK; i++) {
            node *n = &NODE(&g, i);
            if (!n->in_scope || n->done) continue;
            left = 1;
            int64_t x = n->dv.dataset_id;
            group.n = 0;
            /* X's objects in order while each one's dependencies (earlier objects of X and of its
             * source) are done or in the group. */
            for (size_t k = i; k < g.n; k++) {
                node *m = &NODE(&g, k);
                if (!m->in_scope || m->done || m->dv.dataset_id != x) continue;
                int ready = 1;
                for (size_t q = 0; q < k && ready; q++) {
                    node *d = &NODE(&g, q);
                    if (!d->in_scope || d->done || d->dv.dataset_id == x) continue;
                    if (d->dv.dataset_id == m->dv.source_id) ready = 0;
                }
                if (!ready) break;
                st_cat_deriv *slot = st_vec_push(&group);
                if (slot == NULL) {
                    rc = st_error(st_pool_err(pool), STRATA_ENOMEM, "out of memory");
                    break;
                }
                *slot = m->dv;
            }
            if (rc < 0 || group.n == 0) continue;
            rc = process_group(pool, &o, stats, comm, &work, group.v, group.n);
            for (size_t k = 0; k < g.n; k++)
                for (size_t q = 0; q < group.n; q++)
                    if (NODE(&g, k).dv.id == ((st_cat_deriv *)group.v)[q].id) NODE(&g, k).done = 1;
            progressed = 1;
        }
        if (!left || rc < 0) break;
        if (!progressed) {
            rc = st_error(st_pool_err(pool), STRATA_ECORRUPT, "the derivations form a cycle");
            break;
        }
    }
    st_vec_free(&group);
    st_vec_free(&g);
    if (rc == STRATA_OK) rc = update_totals(comm, st_pool_err(pool), stats, work);
    stats->seconds = st_mono_s() - t0;
    return rc;
}

int strata_update(strata_pool *pool, const char *region, const char *name,
                  const strata_update_opts *opts, strata_update_stats *stats)
{
    return st_update_run(pool, region, name, opts, stats, NULL);
}

/* ---- automatic update and lineage ---------------------------------------------------------- */

int strata_auto(strata_pool *pool, const char *region, const char *name, int on)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    st_vec g;
    int rc = load_graph(pool, &g), any = 0, began = 0;
    ST_TRY(rc);
    ST_TRY(rc = scope_of(pool, region, name, &g, 0));
    for (size_t i = 0; i < g.n; i++) any |= NODE(&g, i).in_scope;
    if (!any) {
        rc = st_error(err, STRATA_EINVAL,
                      "'%s/%s' is not derived: register a derived dataset (its ancestors come "
                      "with it)",
                      region, name ? name : "*");
        goto done;
    }
    ST_TRY(rc = st_cat_begin(err, st_pool_cat(pool)));
    began = 1;
    for (size_t i = 0; i < g.n; i++)
        if (NODE(&g, i).in_scope)
            ST_TRY(rc = st_cat_deriv_set_auto(err, st_pool_cat(pool), NODE(&g, i).dv.id, on));
    rc = st_cat_commit(err, st_pool_cat(pool));
    began = rc < 0;
done:
    if (began) st_cat_rollback(st_pool_cat(pool));
    st_vec_free(&g);
    return rc;
}

int strata_lineage(strata_pool *pool, const char *region, const char *name, strata_lineage_fn fn,
                   void *ctx)
{
    if (pool == NULL || fn == NULL) return STRATA_EINVAL;
    st_vec g;
    int rc = load_graph(pool, &g);
    if (rc == STRATA_OK) rc = scope_of(pool, region, name, &g, 1);
    for (size_t i = 0; i < g.n && rc == STRATA_OK; i++) {
        node *n = &NODE(&g, i);
        if (!n->in_scope) continue;
        st_dspec sp;
        char args[ST_CAT_ARGS + 256];
        if ((rc = st_dspec_decode(st_pool_err(pool), n->dv.op, n->dv.args, &sp)) < 0) break;
        st_dspec_describe(&sp, &n->dv, args, sizeof args);
        strata_lineage_info li;
        memset(&li, 0, sizeof li);
        li.region = n->dv.region;
        li.name = n->dv.dataset;
        li.column = n->dv.target[0] ? n->dv.target : NULL;
        li.op = sp.op == ST_OP_TOPK_GLOBAL ? "topk" : n->dv.op;
        li.args = args;
        li.src_region = n->dv.source_region;
        li.src_name = n->dv.source;
        li.src_column = n->dv.source_column[0] ? n->dv.source_column : NULL;
        li.destroys_order = n->dv.destroys_order;
        li.auto_update = n->dv.auto_update;
        li.consumed = (uint64_t)n->dv.consumed;
        li.computed = ever_computed(&g, n);
        /* Fresh: the index has consumed every source batch (and the source was not refreshed
         * since); a column is computed for every batch of its dataset. */
        strata_snapshot *s = NULL;
        const char *r = li.column ? n->dv.region : n->dv.source_region;
        const char *d = li.column ? n->dv.dataset : n->dv.source;
        if ((rc = strata_snapshot_open(pool, r, d, 0, &s)) < 0) break;
        if (li.column == NULL) {
            li.source_batches = st_snapshot_nbatches(s);
            int64_t fs = st_snapshot_nbatches(s) ? st_snapshot_batches(s)[0].seq : 0;
            li.fresh = li.consumed == st_snapshot_nbatches(s) &&
                       (li.consumed == 0 || n->dv.source_seq == fs);
        } else {
            int c = st_schema_find(st_snapshot_schema(s), li.column);
            li.source_batches = st_snapshot_nbatches(s);
            li.fresh = c >= 0 && strata_snapshot_column_ready(s, c) == 1;
        }
        strata_snapshot_close(s);
        /* a column that computed nothing of a dataset that has batches: never computed */
        if (li.column != NULL && li.consumed == 0 && li.source_batches > 0) li.computed = 0;
        li.fresh &= li.computed; /* nothing to do only once it was done */
        if ((rc = fn(ctx, &li)) != 0) break;
    }
    st_vec_free(&g);
    return rc;
}
