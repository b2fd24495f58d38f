/*
 * order.c -- the order-destroying refresh of a full sort or a global top-k.
 *
 * The rows the index has not consumed are cut into chunks; each chunk is sorted (or reduced to
 * its top k) into a table: the index, the keys, and the derived columns that can be carried (those
 * gathered from the source, and expressions over what precedes them). Without a memory budget
 * there is one chunk, kept in memory. With --mem the chunks are sized to the budget and spilled to
 * temporary files, and the merge reads every run through a small window: the memory used stays
 * within the budget however large the dataset.
 *
 * The previous output is itself a sorted run (it keeps its key columns for this). A k-way merge
 * of the runs writes the new output; on equal keys the run that holds earlier source rows wins
 * (the previous output first, then the chunks in source order), so the result is the stable sort
 * of the whole source whatever the chunking: an incremental update, a full one and one under any
 * budget give the same rows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "derive/update_int.h"
#include "expr/expr.h"
#include "ops/ops.h"
#include "util/bits.h"
#include "util/dtype.h"
#include "util/par.h"

/* ---- tables -------------------------------------------------------------------------------- */

void st_table_free(st_table *t)
{
    for (int i = 0; i < 3 * ST_TBL_MAX; i++) free(t->own[i]);
    memset(t, 0, sizeof *t);
}

static int str_cmp(const st_table *a, int ca, uint64_t i, const st_table *b, int cb, uint64_t j)
{
    const int64_t *oa = a->data[ca], *ob = b->data[cb];
    size_t la = (size_t)(oa[i + 1] - oa[i]), lb = (size_t)(ob[j + 1] - ob[j]);
    int m = memcmp(a->bytes[ca] + (oa[i] - a->boff[ca]), b->bytes[cb] + (ob[j] - b->boff[cb]),
                   la < lb ? la : lb);
    return m != 0 ? (m < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
}

/* st_key_image(), with the common 64-bit integer keys inline: the merge's inner loop. */
static inline uint64_t key_image(strata_dtype dt, const void *data, uint64_t i, int desc)
{
    uint64_t x;
    if (dt == STRATA_I64 || dt == STRATA_TS)
        x = (uint64_t)((const int64_t *)data)[i] ^ ((uint64_t)1 << 63);
    else if (dt == STRATA_U64)
        x = ((const uint64_t *)data)[i];
    else
        return st_key_image(dt, data, i, desc);
    return desc ? ~x : x;
}

/* Compare row I of A with row J of B by columns [FIRST, FIRST + NK); a null comes after every
 * value, ascending and descending, and equals another null. */
static int row_cmp(const st_table *a, uint64_t i, const st_table *b, uint64_t j, int first, int nk,
                   int desc)
{
    for (int k = first; k < first + nk; k++) {
        int c, va = st_bit(a->valid[k], i), vb = st_bit(b->valid[k], j);
        if (!va || !vb) {
            if (va != vb) return va ? -1 : 1;
            continue;
        }
        if (a->dt[k] == STRATA_STR) {
            c = str_cmp(a, k, i, b, k, j);
            if (desc) c = -c;
        } else {
            uint64_t x = key_image(a->dt[k], a->data[k], i, desc);
            uint64_t y = key_image(b->dt[k], b->data[k], j, desc);
            c = x < y ? -1 : x > y;
        }
        if (c != 0) return c;
    }
    return 0;
}

/* Move the rows of PERM (N) whose key is null in VALID after the others, keeping both orders. */
static int nulls_last(const uint8_t *valid, uint64_t n, uint64_t *perm)
{
    uint64_t *nulls = malloc((n + 1) * sizeof *nulls), k = 0, m = 0;
    if (nulls == NULL) return STRATA_ENOMEM;
    for (uint64_t j = 0; j < n; j++) {
        if (st_bit(valid, perm[j]))
            perm[k++] = perm[j];
        else
            nulls[m++] = perm[j];
    }
    memcpy(perm + k, nulls, m * sizeof *nulls);
    free(nulls);
    return STRATA_OK;
}

int st_table_argsort(st_err *err, const st_table *t, int first, int nk, uint64_t n, uint64_t *perm,
                     int desc, int nt, uint64_t *scratch)
{
    /* The last key first, then up: each pass is stable; a key with nulls then moves them last
     * (ascending and descending alike), keeping the order of the keys after it among them. */
    for (int i = first + nk - 1; i >= first; i--) {
        const uint64_t *in = i == first + nk - 1 ? NULL : perm;
        int rc = t->dt[i] == STRATA_STR
                     ? st_argsort_str(t->data[i], t->bytes[i], n, in, perm, desc)
                     : st_argsort_in(t->dt[i], t->data[i], n, in, perm, desc, nt, scratch);
        if (rc == STRATA_OK && t->valid[i] != NULL) rc = nulls_last(t->valid[i], n, perm);
        if (rc < 0)
            return st_error(err, rc, "out of memory sorting %llu rows", (unsigned long long)n);
    }
    return STRATA_OK;
}

int st_table_topk(st_upd_job *j, const st_table *t, int c, uint64_t n, const st_dspec *sp,
                  uint64_t *idx, uint64_t *count)
{
    const uint8_t *v = t->valid[c];
    uint64_t nv = n - st_bits_nulls(v, 0, n);
    if (nv == n) {
        int64_t got = st_topk(t->dt[c], t->data[c], n, sp->k, sp->desc, idx, j->nt);
        if (got < 0) return st_error(j->err, (int)got, "out of memory in topk");
        *count = (uint64_t)got;
        return STRATA_OK;
    }
    /* the valid rows' keys, compacted; their top; then nulls in row order */
    size_t esz = strata_dtype_size(t->dt[c]);
    char *keys = st_alloc_big(nv * esz + 8);
    uint64_t *rows = st_alloc_big((nv + 1) * sizeof *rows), m = 0;
    int rc = keys && rows ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory in topk");
    for (uint64_t i = 0; rc == STRATA_OK && i < n; i++)
        if (st_bit(v, i)) {
            memcpy(keys + m * esz, (const char *)t->data[c] + i * esz, esz);
            rows[m++] = i;
        }
    int64_t got = rc == STRATA_OK ? st_topk(t->dt[c], keys, nv, sp->k, sp->desc, idx, j->nt) : 0;
    if (got < 0) rc = st_error(j->err, (int)got, "out of memory in topk");
    uint64_t k = got > 0 ? (uint64_t)got : 0;
    for (uint64_t i = 0; i < k; i++) idx[i] = rows[idx[i]];
    for (uint64_t i = 0; rc == STRATA_OK && i < n && k < sp->k; i++)
        if (!st_bit(v, i)) idx[k++] = i;
    *count = k;
    free(keys);
    free(rows);
    return rc;
}

/* The rows of batch B of S from source position AT up to R1, as rows [*LO, *HI) of the batch. */
static void batch_span(const strata_snapshot *s, uint64_t b, uint64_t at, uint64_t r1, uint64_t *lo,
                       uint64_t *hi)
{
    const uint64_t *start = st_snapshot_row_start(s);
    *lo = at - start[b];
    *hi = (start[b + 1] < r1 ? start[b + 1] : r1) - start[b];
}

/* The validity of column COL over source rows [R0, R1) of S into slot C of T (owned); none when no
 * batch there has a null. */
static int valid_concat(strata_snapshot *s, uint64_t r0, uint64_t r1, int col, st_table *t, int c)
{
    size_t ncols = (size_t)st_snapshot_schema(s)->ncols;
    uint64_t nulls = 0, b0 = st_snapshot_batch_of(s, r0, 0);
    for (uint64_t b = b0; b < st_snapshot_nbatches(s) && st_snapshot_row_start(s)[b] < r1; b++)
        nulls += st_snapshot_bcols(s)[b * ncols + (size_t)col].nulls;
    t->valid[c] = NULL;
    if (nulls == 0) return STRATA_OK;
    uint8_t *v = st_alloc_big(st_bits_bytes(r1 - r0) + 1);
    if (v == NULL) return STRATA_ENOMEM;
    t->own[2 * ST_TBL_MAX + c] = v;
    t->valid[c] = v;
    int rc = STRATA_OK;
    for (uint64_t b = b0, at = r0; at < r1 && rc == STRATA_OK; b++) {
        const uint8_t *bv;
        uint64_t lo, hi;
        batch_span(s, b, at, r1, &lo, &hi);
        rc = strata_snapshot_map_valid(s, b, col, &bv);
        if (rc == STRATA_OK) st_bits_copy(v, at - r0, bv, lo, hi - lo);
        at += hi - lo;
    }
    return rc;
}

/* Column COL of source rows [R0, R1) of S, with its validity, concatenated into slot C of T
 * (owned); fixed-width values within one batch are not copied: T points into S's mapping
 * (valid while S is open). */
static int col_concat(st_upd_job *j, strata_snapshot *s, uint64_t r0, uint64_t r1, int col,
                      st_table *t, int c)
{
    strata_dtype dt = (strata_dtype)st_snapshot_schema(s)->cat[col].dtype;
    uint64_t n = r1 - r0, b0 = st_snapshot_batch_of(s, r0, 0);
    t->dt[c] = dt;
    t->boff[c] = 0;
    int rc = valid_concat(s, r0, r1, col, t, c);
    if (rc == STRATA_ENOMEM) goto nomem;
    if (rc < 0) return rc;
    if (dt != STRATA_STR) {
        size_t esz = strata_dtype_size(dt);
        uint64_t lo0, hi0;
        batch_span(s, b0, r0, r1, &lo0, &hi0);
        if (hi0 - lo0 == n) { /* one batch: its mapping */
            const void *p0;
            rc = strata_snapshot_map(s, b0, col, &p0);
            if (rc == STRATA_OK) t->data[c] = (const char *)p0 + lo0 * esz;
            return rc;
        }
        char *buf = st_alloc_big(n * esz + 1);
        if (buf == NULL) goto nomem;
        t->own[2 * c] = buf;
        t->data[c] = buf;
        for (uint64_t b = b0, at = r0; at < r1 && rc == STRATA_OK; b++) {
            const void *p;
            uint64_t lo, hi;
            batch_span(s, b, at, r1, &lo, &hi);
            rc = strata_snapshot_map(s, b, col, &p);
            if (rc == STRATA_OK)
                memcpy(buf + (at - r0) * esz, (const char *)p + lo * esz, (hi - lo) * esz);
            at += hi - lo;
        }
        return rc;
    }
    /* Strings: the offsets first (to size the bytes), then the bytes. */
    int64_t *off = st_alloc_big((n + 1) * sizeof *off);
    t->own[2 * c] = off;
    if (off == NULL) goto nomem;
    off[0] = 0;
    for (uint64_t b = b0, at = r0; at < r1 && rc == STRATA_OK; b++) {
        const int64_t *o;
        uint64_t lo, hi;
        batch_span(s, b, at, r1, &lo, &hi);
        rc = strata_snapshot_map_str(s, b, col, &o, NULL);
        for (uint64_t i = lo; i < hi && rc == STRATA_OK; i++)
            off[at - r0 + i - lo + 1] = off[at - r0 + i - lo] + (o[i + 1] - o[i]);
        at += hi - lo;
    }
    if (rc < 0) return rc;
    char *bytes = st_alloc_big((size_t)off[n] + 1);
    t->own[2 * c + 1] = bytes;
    if (bytes == NULL) goto nomem;
    for (uint64_t b = b0, at = r0; at < r1 && rc == STRATA_OK; b++) {
        const int64_t *o;
        const char *by;
        uint64_t lo, hi;
        batch_span(s, b, at, r1, &lo, &hi);
        rc = strata_snapshot_map_str(s, b, col, &o, &by);
        if (rc == STRATA_OK) memcpy(bytes + off[at - r0], by + o[lo], (size_t)(o[hi] - o[lo]));
        at += hi - lo;
    }
    t->data[c] = off;
    t->bytes[c] = bytes;
    return rc;
nomem:
    return st_error(j->err, STRATA_ENOMEM, "out of memory reading %llu rows of column '%s'",
                    (unsigned long long)n, st_snapshot_schema(s)->cat[col].name);
}

/* Slot C of DST = slot SC of SRC at rows PERM[0..M); fixed-width values into *INTO (M words,
 * then taken: NULL) when it is not NULL, else into an allocation DST owns. */
static int col_permute(st_upd_job *j, const st_table *src, int sc, const uint64_t *perm, uint64_t m,
                       st_table *dst, int c, uint64_t **into)
{
    strata_dtype dt = src->dt[sc];
    dst->dt[c] = dt;
    dst->boff[c] = 0;
    dst->valid[c] = NULL;
    if (src->valid[sc] != NULL) {
        uint8_t *v = st_alloc_big(st_bits_bytes(m) + 1);
        if (v == NULL) goto nomem;
        dst->own[2 * ST_TBL_MAX + c] = v;
        dst->valid[c] = v;
        for (uint64_t i = 0; i < m; i++) st_bit_set(v, i, st_bit(src->valid[sc], perm[i]));
    }
    if (dt != STRATA_STR) {
        size_t esz = strata_dtype_size(dt);
        int take = into != NULL && *into != NULL;
        char *out = take ? (char *)*into : st_alloc_big(m * esz + 1);
        if (out == NULL) goto nomem;
        if (take)
            *into = NULL;
        else
            dst->own[2 * c] = out;
        dst->data[c] = out;
        st_gather(esz, src->data[sc], perm, 0, NULL, m, out, j->nt);
        return STRATA_OK;
    }
    const int64_t *io = src->data[sc];
    int64_t *off = st_alloc_big((m + 1) * sizeof *off);
    dst->own[2 * c] = off;
    if (off == NULL) goto nomem;
    off[0] = 0;
    for (uint64_t i = 0; i < m; i++) off[i + 1] = off[i] + (io[perm[i] + 1] - io[perm[i]]);
    char *bytes = st_alloc_big((size_t)off[m] + 1);
    dst->own[2 * c + 1] = bytes;
    if (bytes == NULL) goto nomem;
    for (uint64_t i = 0; i < m; i++)
        memcpy(bytes + off[i], src->bytes[sc] + io[perm[i]] - src->boff[sc],
               (size_t)(off[i + 1] - off[i]));
    dst->data[c] = off;
    dst->bytes[c] = bytes;
    return STRATA_OK;
nomem:
    return st_error(j->err, STRATA_ENOMEM, "out of memory ordering %llu rows",
                    (unsigned long long)m);
}

static void col_drop(st_table *t, int c)
{
    free(t->own[2 * c]);
    free(t->own[2 * c + 1]);
    free(t->own[2 * ST_TBL_MAX + c]);
    t->own[2 * c] = t->own[2 * c + 1] = t->own[2 * ST_TBL_MAX + c] = NULL;
    t->data[c] = NULL;
    t->bytes[c] = NULL;
    t->valid[c] = NULL;
}

/* ---- the plan: which columns go through the merge ------------------------------------------ */

typedef struct plan {
    const st_dspec *sp;
    int nk;                 /* key columns: table columns 1..nk */
    int nc;                 /* table columns: index, keys, carried */
    int src[ST_TBL_MAX];    /* source column of a key or a gathered column; -1 otherwise */
    st_expr *e[ST_TBL_MAX]; /* expression columns */
    double row_bytes;       /* estimated memory per row while a chunk is sorted */
} plan;

static void plan_free(plan *p)
{
    for (int c = 0; c < ST_TBL_MAX; c++) st_expr_free(p->e[c]);
}

static const st_cat_deriv *group_object(const st_upd_job *j, const char *target)
{
    for (size_t g = 0; g < j->ngroup; g++)
        if (strcmp(j->group[g].target, target) == 0) return &j->group[g];
    return NULL;
}

/* The columns after the keys, in order, while each is gathered from S or an expression, is
 * updated in this job, and is present in every previous output batch. */
static void plan_carry(st_upd_job *j, strata_snapshot *s, size_t nold, plan *p)
{
    for (int pos = p->nc; pos < j->sch.ncols && pos < ST_TBL_MAX; pos++) {
        const st_cat_deriv *dv = group_object(j, j->sch.cat[pos].name);
        st_dspec cs;
        if (dv == NULL || st_dspec_decode(NULL, dv->op, dv->args, &cs) < 0) return;
        for (size_t b = 0; b < nold; b++)
            if (ST_UPD_WB(j, b).cols[pos].file[0] == '\0') return;
        if (cs.op == ST_OP_GATHER) {
            if (strcmp(dv->source_region, st_snapshot_rec(s)->region) != 0 ||
                strcmp(dv->source, st_snapshot_rec(s)->name) != 0)
                return;
            p->src[pos] = st_schema_find(st_snapshot_schema(s), dv->source_column);
            if (p->src[pos] < 0 ||
                st_snapshot_schema(s)->cat[p->src[pos]].dtype != j->sch.cat[pos].dtype)
                return;
        } else if (cs.op == ST_OP_EXPR) {
            if (st_expr_parse(NULL, cs.expr, j->sch.cols, pos, &p->e[pos]) < 0) return;
            p->src[pos] = -1;
        } else {
            return;
        }
        p->nc = pos + 1;
    }
}

/* Bytes per row of column COL of S over source rows [R0, R1) (strings: offsets and bytes). */
static double col_width(strata_snapshot *s, int col, uint64_t r0, uint64_t r1)
{
    strata_dtype dt = (strata_dtype)st_snapshot_schema(s)->cat[col].dtype;
    if (dt != STRATA_STR) return (double)strata_dtype_size(dt);
    uint64_t bytes = 0, rows = 0, ncols = (uint64_t)st_snapshot_schema(s)->ncols;
    const st_cat_bcol *bcols = st_snapshot_bcols(s);
    for (uint64_t b = st_snapshot_batch_of(s, r0, 0);
         b < st_snapshot_nbatches(s) && st_snapshot_row_start(s)[b] < r1; b++) {
        bytes += bcols[b * ncols + (uint64_t)col].bytes;
        rows += (uint64_t)st_snapshot_batches(s)[b].nrows;
    }
    return rows ? (double)bytes / (double)rows + 8 : 16;
}

static void plan_size(st_upd_job *j, strata_snapshot *s, uint64_t r0, uint64_t r1, plan *p)
{
    /* While sorting: the keys, the argsort's images and scratch (3 x 8), the permutation; then
     * the sorted table and one column being permuted. */
    double keys = 0, table = 8, widest = 8;
    for (int c = 1; c < p->nc; c++) {
        double w = p->src[c] >= 0 ? col_width(s, p->src[c], r0, r1)
                                  : (double)strata_dtype_size((strata_dtype)j->sch.cat[c].dtype);
        if (c <= p->nk) keys += w;
        table += w;
        if (w > widest) widest = w;
    }
    double sorting = keys + 32 + 8, ordered = table + widest + 8;
    p->row_bytes = sorting > ordered ? sorting : ordered;
}

/* ---- sorted chunks -------------------------------------------------------------------------- */

/* Source rows [R0, R1) of S, sorted (or their top k), as a table of the plan's columns. */
static int sorted_chunk(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t r0, uint64_t r1,
                        st_table *out)
{
    uint64_t n = r1 - r0, m = n;
    st_table raw;
    memset(&raw, 0, sizeof raw);
    memset(out, 0, sizeof *out);
    out->n = p->nc;
    int rc = STRATA_OK;
    /* WS: the argsort's working memory, then the index and the first two fixed-width columns;
     * after them the order PERM (memory faulted in once, in one allocation: on a VM a fresh page
     * costs more than the values written to it) */
    uint64_t *ws = st_alloc_big(4 * (n + 1) * 8), *perm = ws != NULL ? ws + 3 * (n + 1) : NULL;
    out->own[0] = ws;
    if (ws == NULL) {
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory sorting %llu rows",
                      (unsigned long long)n);
        goto done;
    }
    raw.n = p->nc;
    for (int k = 1; k <= p->nk; k++) ST_TRY(rc = col_concat(j, s, r0, r1, p->src[k], &raw, k));
    if (p->sp->op == ST_OP_SORT) {
        ST_TRY(rc = st_table_argsort(j->err, &raw, 1, p->nk, n, perm, p->sp->desc, j->nt, ws));
    } else {
        ST_TRY(rc = st_table_topk(j, &raw, 1, n, p->sp, perm, &m));
    }
    out->rows = m;
    uint64_t *idx = ws, *next[2] = {ws + n + 1, ws + 2 * (n + 1)};
    for (uint64_t i = 0; i < m; i++) idx[i] = r0 + perm[i];
    out->data[0] = idx;
    out->dt[0] = STRATA_U64;
    int used = 0; /* of NEXT: a column that takes one sets it to NULL */
    for (int k = 1; k <= p->nk; k++) {
        ST_TRY(rc = col_permute(j, &raw, k, perm, m, out, k, used < 2 ? &next[used] : NULL));
        used += used < 2 && next[used] == NULL;
        col_drop(&raw, k);
    }
    for (int c = p->nk + 1; c < p->nc; c++) {
        if (p->src[c] >= 0) {
            ST_TRY(rc = col_concat(j, s, r0, r1, p->src[c], &raw, c));
            ST_TRY(rc = col_permute(j, &raw, c, perm, m, out, c, used < 2 ? &next[used] : NULL));
            used += used < 2 && next[used] == NULL;
            col_drop(&raw, c);
            continue;
        }
        /* An expression over the columns before it, all in the table. */
        st_expr_input in[ST_TBL_MAX];
        for (int x = 0; x < c; x++)
            in[x] = (st_expr_input){out->data[x], out->bytes[x], out->valid[x]};
        strata_dtype dt = st_expr_type(p->e[c]);
        void *v = st_alloc_big(m * strata_dtype_size(dt) + 1);
        uint8_t *valid = st_alloc_big(st_bits_bytes(m) + 1);
        out->own[2 * c] = v;
        out->own[2 * ST_TBL_MAX + c] = valid;
        if (v == NULL || valid == NULL) {
            rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        out->data[c] = v;
        out->dt[c] = dt;
        uint64_t nulls = 0;
        ST_TRY(rc = st_expr_eval_nulls(j->err, p->e[c], in, m, v, valid, &nulls, j->nt));
        out->valid[c] = nulls > 0 ? valid : NULL;
    }
done:
    for (uint64_t b = st_snapshot_batch_of(s, r0, 0);
         b < st_snapshot_nbatches(s) && st_snapshot_row_start(s)[b] < r1; b++)
        st_snapshot_release(s, b);
    st_table_free(&raw);
    if (rc < 0) st_table_free(out);
    return rc;
}

/* ---- spilled runs --------------------------------------------------------------------------- */

/* A sorted chunk written to temporary files of the dataset's directory (one per column, strings
 * two), read back through a window of rows. */
typedef struct spill {
    st_colw w[ST_TBL_MAX];
    int n;
    uint64_t rows;
} spill;

static void spill_free(spill *sp)
{
    for (int c = 0; c < sp->n; c++) st_colw_abort(&sp->w[c]);
    sp->n = 0;
}

static int spill_write(st_upd_job *j, const st_table *t, spill *sp)
{
    int rc = STRATA_OK;
    sp->n = 0;
    sp->rows = t->rows;
    for (int c = 0; c < t->n && rc == STRATA_OK; c++) {
        rc = st_colw_open(j->err, &sp->w[c], st_dataset_path(j->ds), t->dt[c]);
        sp->n = c + 1;
        if (rc < 0) break;
        if (t->dt[c] == STRATA_STR)
            rc = st_colw_append_str_valid(j->err, &sp->w[c], t->data[c], t->bytes[c], t->valid[c],
                                          0, t->rows);
        else
            rc = st_colw_append_valid(j->err, &sp->w[c], t->data[c], t->valid[c], 0, t->rows);
        if (rc == STRATA_OK) rc = st_colw_sync_valid(j->err, &sp->w[c]);
    }
    return rc;
}

/* ---- runs being merged ---------------------------------------------------------------------- */

enum { RUN_MEM, RUN_DISK, RUN_SPILL };

typedef struct srun {
    int kind, id;
    const st_table *mem; /* RUN_MEM */
    size_t b, nb;        /* RUN_DISK: the next working batch, the end */
    const spill *sp;     /* RUN_SPILL: the next row, the window */
    uint64_t at, win;
    st_table cur; /* the rows in view */
    uint64_t i;   /* the next of them */
    st_npy_map maps[ST_TBL_MAX], bmaps[ST_TBL_MAX], vmaps[ST_TBL_MAX];
    void *wmap[3 * ST_TBL_MAX]; /* RUN_SPILL: windows as the table's own[] */
    size_t wlen[3 * ST_TBL_MAX];
} srun;

static void run_unmap(srun *r)
{
    for (int c = 0; c < ST_TBL_MAX; c++) {
        st_npy_unmap(&r->maps[c]);
        st_npy_unmap(&r->bmaps[c]);
        st_npy_unmap(&r->vmaps[c]);
    }
    for (int c = 0; c < 3 * ST_TBL_MAX; c++) {
        st_unmap_file(r->wmap[c], r->wlen[c]);
        r->wmap[c] = NULL;
    }
}

/* Map LEN bytes at OFFSET of the file behind FD into slot S of R. */
static int window(st_upd_job *j, srun *r, int s, int fd, uint64_t offset, uint64_t len,
                  const char **out)
{
    static const char empty[1];
    if (len == 0) {
        *out = empty;
        return STRATA_OK;
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = offset / page * page;
    size_t maplen = (size_t)(offset - start + len);
    void *m = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd, (off_t)start);
    if (m == MAP_FAILED) return st_error_errno(j->err, errno, "cannot map a sorted run");
    madvise(m, maplen, MADV_SEQUENTIAL);
    r->wmap[s] = m;
    r->wlen[s] = maplen;
    *out = (const char *)m + (offset - start);
    return STRATA_OK;
}

/* Bring the next rows of R into view: 1 if there are some, 0 at the end, or an error. */
static int run_next(st_upd_job *j, srun *r, int nc)
{
    run_unmap(r);
    r->i = 0;
    r->cur.rows = 0;
    r->cur.n = nc;
    if (r->kind == RUN_MEM) {
        if (r->mem == NULL) return 0;
        r->cur = *r->mem;
        memset(r->cur.own, 0, sizeof r->cur.own);
        r->mem = NULL;
        return r->cur.rows > 0;
    }
    if (r->kind == RUN_DISK) {
        while (r->b < r->nb && ST_UPD_WB(j, r->b).b.nrows == 0) r->b++;
        if (r->b == r->nb) return 0;
        const st_upd_wbatch *w = &ST_UPD_WB(j, r->b++);
        for (int c = 0; c < nc; c++) {
            int rc =
                st_upd_map(j, w, c, &r->maps[c], &r->bmaps[c], &r->cur.data[c], &r->cur.bytes[c]);
            if (rc == STRATA_OK) rc = st_upd_map_valid(j, w, c, &r->vmaps[c], &r->cur.valid[c]);
            if (rc < 0) return rc;
            r->cur.dt[c] = (strata_dtype)j->sch.cat[c].dtype;
            r->cur.boff[c] = 0;
        }
        r->cur.rows = (uint64_t)w->b.nrows;
        return 1;
    }
    if (r->at == r->sp->rows) return 0;
    uint64_t n = r->sp->rows - r->at < r->win ? r->sp->rows - r->at : r->win;
    for (int c = 0; c < nc; c++) {
        const st_colw *w = &r->sp->w[c];
        const char *p;
        strata_dtype dt = w->dtype;
        r->cur.dt[c] = dt;
        size_t esz = dt == STRATA_STR ? 8 : strata_dtype_size(dt);
        int rc = window(j, r, 2 * c, w->data.w.fd, ST_NPY_FIXED_HEADER + r->at * esz,
                        (n + (dt == STRATA_STR)) * esz, &p);
        if (rc < 0) return rc;
        r->cur.data[c] = p;
        if (dt == STRATA_STR) {
            const int64_t *o = (const int64_t *)(const void *)p;
            rc = window(j, r, 2 * c + 1, w->sbytes.w.fd, ST_NPY_FIXED_HEADER + (uint64_t)o[0],
                        (uint64_t)(o[n] - o[0]), &r->cur.bytes[c]);
            if (rc < 0) return rc;
            r->cur.boff[c] = o[0];
        }
        /* the window starts at a whole byte of the bitmap: R->win is a multiple of 8 */
        r->cur.valid[c] = NULL;
        if (w->valid.w.fd >= 0) {
            rc = window(j, r, 2 * ST_TBL_MAX + c, w->valid.w.fd, ST_NPY_FIXED_HEADER + r->at / 8,
                        st_bits_bytes(n), &p);
            if (rc < 0) return rc;
            r->cur.valid[c] = (const uint8_t *)p;
        }
    }
    r->cur.rows = n;
    r->at += n;
    return 1;
}

/* ---- the merge writer ----------------------------------------------------------------------- */

/* Rows are appended in blocks, buffered, and cut into output batches of j->out_rows rows; or,
 * with a SINK, appended to one sorted run spilled to temporary files. */
typedef struct mwriter {
    st_upd_job *j;
    spill *sink;
    int open, nc;
    uint64_t rows, nbuf, cap; /* rows written, buffered, and room in the buffers */
    char *buf[ST_TBL_MAX];
    uint8_t *vbuf[ST_TBL_MAX]; /* the validity of the buffered rows, if NULLS */
    int nulls[ST_TBL_MAX];     /* whether VBUF holds it (else every buffered row is valid) */
    st_vec sbytes[ST_TBL_MAX]; /* string columns: bytes of the buffered rows */
    st_vec soff[ST_TBL_MAX];   /* their offsets (n+1) */
    st_upd_outw ow;            /* last: mw_init leaves its writers to st_upd_out_begin */
} mwriter;

static int mw_flush(mwriter *m)
{
    st_upd_job *j = m->j;
    int rc = STRATA_OK;
    if (m->nbuf == 0) return rc;
    if (!m->open) {
        for (int c = 0; m->sink != NULL && c < m->nc && rc == STRATA_OK; c++) {
            rc = st_colw_open(j->err, &m->sink->w[c], st_dataset_path(j->ds),
                              (strata_dtype)j->sch.cat[c].dtype);
            m->sink->n = c + 1;
        }
        if (m->sink == NULL) rc = st_upd_out_begin(j, &m->ow, m->nc);
        if (rc < 0) return rc;
        m->open = 1;
    }
    st_colw *w = m->sink != NULL ? m->sink->w : m->ow.w;
    if (m->sink != NULL) m->sink->rows += m->nbuf;
    /* Large blocks: the columns (hashed, summarised and written each on its own) in parallel. */
    int crc[ST_TBL_MAX], nt = m->nbuf >= 16384 ? j->nt : 1;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int c = 0; c < m->nc; c++) {
        if (j->sch.cat[c].dtype == STRATA_STR)
            crc[c] = st_colw_append_str_valid(j->err, &w[c], m->soff[c].v,
                                              m->sbytes[c].v ? m->sbytes[c].v : "",
                                              m->nulls[c] ? m->vbuf[c] : NULL, 0, m->nbuf);
        else
            crc[c] = st_colw_append_valid(j->err, &w[c], m->buf[c], m->nulls[c] ? m->vbuf[c] : NULL,
                                          0, m->nbuf);
        m->nulls[c] = 0;
        m->sbytes[c].n = 0;
        m->soff[c].n = 0;
    }
    for (int c = 0; c < m->nc && rc == STRATA_OK; c++) rc = crc[c];
    m->nbuf = 0;
    return rc;
}

static int mw_cut(mwriter *m)
{
    int rc = mw_flush(m);
    for (int c = 0; m->sink != NULL && m->open && c < m->nc && rc == STRATA_OK; c++)
        rc = st_colw_sync_valid(m->j->err, &m->sink->w[c]);
    if (rc == STRATA_OK && m->open && m->sink == NULL) {
        m->open = 0;
        return st_upd_out_end(m->j, &m->ow);
    }
    return rc;
}

/* Rows the buffer takes now: up to COUNT, within the buffer and the current output batch. */
static uint64_t mw_room(const mwriter *m, uint64_t count)
{
    uint64_t room = m->cap - m->nbuf, left = m->j->out_rows - m->rows % m->j->out_rows;
    if (m->sink != NULL) left = UINT64_MAX;
    uint64_t k = count < room ? count : room;
    return k < left ? k : left;
}

/* K more rows are in the buffer: flush it when full, cut the batch when it is complete. */
static int mw_took(mwriter *m, uint64_t k)
{
    m->nbuf += k;
    m->rows += k;
    if (m->sink == NULL && m->rows % m->j->out_rows == 0) return mw_cut(m);
    return m->nbuf == m->cap ? mw_flush(m) : 0;
}

/* Append rows [FROM, FROM + COUNT) of T. */
static int mw_rows(mwriter *m, const st_table *t, uint64_t from, uint64_t count)
{
    while (count > 0) {
        uint64_t k = mw_room(m, count);
        for (int c = 0; c < m->nc; c++) {
            if (t->valid[c] != NULL && !m->nulls[c]) { /* the rows before were all valid */
                st_bits_fill(m->vbuf[c], 0, m->nbuf, 1);
                m->nulls[c] = 1;
            }
            if (m->nulls[c]) st_bits_copy(m->vbuf[c], m->nbuf, t->valid[c], from, k);
            if (t->dt[c] == STRATA_STR) {
                const int64_t *o = t->data[c];
                if (m->soff[c].n == 0) {
                    int64_t *z = st_vec_push(&m->soff[c]);
                    if (z == NULL) return STRATA_ENOMEM;
                    *z = 0;
                }
                size_t len = (size_t)(o[from + k] - o[from]);
                char *dst = len > 0 ? st_vec_grow(&m->sbytes[c], len) : NULL;
                int64_t *e = st_vec_grow(&m->soff[c], k);
                if ((len > 0 && dst == NULL) || e == NULL) return STRATA_ENOMEM;
                if (len > 0) memcpy(dst, t->bytes[c] + (o[from] - t->boff[c]), len);
                int64_t base = (int64_t)m->sbytes[c].n - (int64_t)len - o[from];
                for (uint64_t i = 0; i < k; i++) e[i] = o[from + i + 1] + base;
            } else {
                size_t esz = strata_dtype_size(t->dt[c]);
                memcpy(m->buf[c] + m->nbuf * esz, (const char *)t->data[c] + from * esz, k * esz);
            }
        }
        from += k;
        count -= k;
        int rc = mw_took(m, k);
        if (rc < 0) return rc;
    }
    return STRATA_OK;
}

static int mw_init(mwriter *m, st_upd_job *j, int nc, uint64_t cap)
{
    /* not the output's column writers: ST_TBL_MAX of them, half a megabyte to clear for every
     * delta run of an append (1 ms of 15 for 20 partitions); st_upd_out_begin sets up those used */
    memset(m, 0, offsetof(mwriter, ow));
    m->ow.n = 0;
    m->j = j;
    m->nc = nc;
    m->cap = cap;
    for (int c = 0; c < nc; c++) {
        m->buf[c] = malloc(cap * 8);
        m->vbuf[c] = malloc(cap / 8 + 1);
        m->sbytes[c] = (st_vec)ST_VEC(char);
        m->soff[c] = (st_vec)ST_VEC(int64_t);
        if (m->buf[c] == NULL || m->vbuf[c] == NULL) return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

static void mw_free(mwriter *m)
{
    if (m->open && m->sink == NULL) st_upd_out_abort(&m->ow);
    for (int c = 0; c < m->nc; c++) {
        free(m->buf[c]);
        free(m->vbuf[c]);
        st_vec_free(&m->sbytes[c]);
        st_vec_free(&m->soff[c]);
    }
}

/* ---- the k-way merge ------------------------------------------------------------------------ */

/* Whether run A's next row comes before run B's: by key, then by run. */
static int run_before(const plan *p, const srun *a, const srun *b)
{
    int c = row_cmp(&a->cur, a->i, &b->cur, b->i, 1, p->nk, p->sp->desc);
    return c != 0 ? c < 0 : a->id < b->id;
}

static void heap_down(const plan *p, srun **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < n && run_before(p, h[l], h[best])) best = l;
        if (l + 1 < n && run_before(p, h[l + 1], h[best])) best = l + 1;
        if (best == i) return;
        srun *t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

/* Merge the runs into M, at most LIMIT rows in all. */
static int merge_into(st_upd_job *j, const plan *p, srun *runs, size_t nr, uint64_t limit,
                      mwriter *m)
{
    srun **h = calloc(nr + 1, sizeof *h);
    int rc = STRATA_OK;
    if (h == NULL) {
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory merging");
        goto done;
    }
    size_t n = 0;
    for (size_t r = 0; r < nr; r++) {
        int got = run_next(j, &runs[r], p->nc);
        if (got < 0) {
            rc = got;
            goto done;
        }
        if (got) h[n++] = &runs[r];
    }
    for (size_t i = n; i-- > 0;) heap_down(p, h, n, i);
    while (n > 0 && m->rows < limit) {
        srun *w = h[0];
        /* The winner's rows that still come before every other run's next row go at once. */
        const srun *next = n == 1 ? NULL : n == 2 || run_before(p, h[1], h[2]) ? h[1] : h[2];
        uint64_t end = w->i + 1;
        if (next == NULL) {
            end = w->cur.rows;
        } else {
            int tie_ok = w->id < next->id;
            while (end < w->cur.rows) {
                int c = row_cmp(&w->cur, end, &next->cur, next->i, 1, p->nk, p->sp->desc);
                if (c > 0 || (c == 0 && !tie_ok)) break;
                end++;
            }
        }
        if (end - w->i > limit - m->rows) end = w->i + (limit - m->rows);
        if ((rc = mw_rows(m, &w->cur, w->i, end - w->i)) < 0) break;
        w->i = end;
        if (w->i == w->cur.rows) {
            int got = run_next(j, w, p->nc);
            if (got < 0) {
                rc = got;
                break;
            }
            if (!got) h[0] = h[--n];
        }
        heap_down(p, h, n, 0);
    }
    if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory merging");
done:
    for (size_t r = 0; r < nr; r++) run_unmap(&runs[r]);
    free(h);
    return rc;
}

/* Merge the runs into output batches (or, with SINK, into one spilled run), at most LIMIT
 * rows. */
static int merge_runs(st_upd_job *j, const plan *p, srun *runs, size_t nr, uint64_t limit,
                      spill *sink)
{
    mwriter m;
    int rc = mw_init(&m, j, p->nc, 4096);
    m.sink = sink;
    if (rc < 0) rc = st_error(j->err, STRATA_ENOMEM, "out of memory merging");
    if (rc == STRATA_OK) rc = merge_into(j, p, runs, nr, limit, &m);
    if (rc == STRATA_OK) rc = mw_cut(&m);
    mw_free(&m);
    return rc;
}

/* ---- a whole sort straight from the batches ---------------------------------------------------
 */

/* A single-key sort with nothing to merge (no previous output, one chunk), whose key and gathered
 * columns hold numbers and no nulls: the key's mapped batches are sorted into 16-byte records
 * (st_argsort_segs), and the output is written block by block from them -- the index from the
 * positions, the key from the images, each gathered column straight from its mapped batches,
 * each expression over the block's columns -- so that no column is ever copied whole. The rows
 * and bytes are those of the chunked path. */

#define DIRECT_BLOCK      65536
#define DIRECT_SLOT_SHIFT 16

typedef struct direct {
    const plan *p;
    const st_srec *rec;
    int desc;
    const void **seg[ST_TBL_MAX]; /* the mapped batches of the key and of each gathered column */
    const uint64_t *start;        /* the batches' first rows (NSEG + 1) */
    size_t nseg;
    uint32_t *slot; /* the batch holding row start[0] + (q << DIRECT_SLOT_SHIFT) */
    const uint64_t *carried[ST_TBL_MAX]; /* 8-byte gathered columns, sorted with the records */
    int carry_done;                      /* ... when the sort could carry them */
    /* when BLK is set, the records are two runs (RUN, their lengths RLEN, the next of each RAT)
     * merged block by block into BLK as they are written */
    const st_srec *run[2];
    uint64_t rlen[2], rat[2];
    st_srec *blk;
} direct;

static inline int rec_before(const st_srec *a, const st_srec *b)
{
    return a->img < b->img || (a->img == b->img && a->pos < b->pos);
}

/* Whether record A goes before B in a merge: comes before it, or (TIES) does not come after it. */
static inline int rec_goes(const st_srec *a, const st_srec *b, int ties)
{
    return ties ? !rec_before(b, a) : rec_before(a, b);
}

/* How many of the N records at A go before record B (rec_goes; A in order), the first eight of
 * them known to: in steps that double, then halved. */
static uint64_t rec_gallop(const st_srec *a, uint64_t n, const st_srec *b, int ties)
{
    uint64_t lo = 0, hi = n, step = 8;
    while (lo + step < n) {
        if (!rec_goes(&a[lo + step - 1], b, ties)) {
            hi = lo + step - 1;
            break;
        }
        lo += step;
        step *= 2;
    }
    while (lo < hi) { /* A[lo - 1] goes before B; A[hi] (if any) does not */
        uint64_t mid = lo + (hi - lo) / 2;
        if (rec_goes(&a[mid], b, ties))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The run of the N records at A that go before B (rec_goes), A[0] among them, copied to O: how
 * many. Eight one by one; a longer run measured (rec_gallop) and copied whole. */
static inline uint64_t rec_take(const st_srec *a, uint64_t n, const st_srec *b, int ties,
                                st_srec *o)
{
    uint64_t e = n < 8 ? n : 8, t = 0;
    do o[t] = a[t], t++;
    while (t < e && rec_goes(&a[t], b, ties));
    if (t == 8 && t < n && rec_goes(&a[t], b, ties)) {
        uint64_t r = rec_gallop(a + t, n - t, b, ties);
        memcpy(o + t, a + t, r * sizeof *o);
        t += r;
    }
    return t;
}

/* Records A (NA) and B (NB), each in order, merged into O; at most K of them, the ones taken of
 * each counted in *TA and *TB; A's first on equal ones. Each run from one side is taken whole
 * (rec_take): equal keys of two processes' runs come in runs of hundreds. 10 M + 10 M records of
 * 19 677 fares in blocks of 65 536: 47 ms taken record by record, 32 ms so; random keys 137 ms
 * either way. */
static void rec_merge2(const st_srec *a, uint64_t na, const st_srec *b, uint64_t nb, st_srec *o,
                       uint64_t k, uint64_t *ta, uint64_t *tb)
{
    uint64_t i = 0, x = 0, w = 0;
    while (w < k && i < na && x < nb) {
        uint64_t t;
        if (rec_before(&b[x], &a[i])) {
            t = rec_take(b + x, nb - x < k - w ? nb - x : k - w, &a[i], 0, o + w);
            x += t;
        } else {
            t = rec_take(a + i, na - i < k - w ? na - i : k - w, &b[x], 1, o + w);
            i += t;
        }
        w += t;
    }
    uint64_t t = na - i < k - w ? na - i : k - w;
    memcpy(o + w, a + i, t * sizeof *o);
    i += t, w += t;
    t = nb - x < k - w ? nb - x : k - w;
    memcpy(o + w, b + x, t * sizeof *o);
    x += t;
    *ta = i;
    *tb = x;
}

/* The next K records of D, which begin at record FROM. */
static const st_srec *direct_next(direct *d, uint64_t from, uint64_t k)
{
    if (d->blk == NULL) return d->rec + from;
    uint64_t ta, tb;
    rec_merge2(d->run[0] + d->rat[0], d->rlen[0] - d->rat[0], d->run[1] + d->rat[1],
               d->rlen[1] - d->rat[1], d->blk, k, &ta, &tb);
    d->rat[0] += ta;
    d->rat[1] += tb;
    return d->blk;
}

static int direct_ok(strata_snapshot *s, const plan *p, size_t nold, uint64_t consumed)
{
    if (p->sp->op != ST_OP_SORT || p->nk != 1 || nold > 0) return 0;
    const st_schema *sch = st_snapshot_schema(s);
    const st_cat_bcol *bcols = st_snapshot_bcols(s);
    for (int c = 1; c < p->nc; c++) {
        if (p->src[c] < 0) continue; /* an expression */
        if (sch->cat[p->src[c]].dtype == STRATA_STR) return 0;
        for (uint64_t b = consumed; b < st_snapshot_nbatches(s); b++)
            if (bcols[b * (uint64_t)sch->ncols + (uint64_t)p->src[c]].nulls > 0) return 0;
    }
    return 1;
}

/* Element POS (a source row) of column C. */
static inline const char *direct_at(const direct *d, int c, uint64_t pos, size_t esz)
{
    uint64_t q = (pos - d->start[0]) >> DIRECT_SLOT_SHIFT;
    size_t s = d->slot[q], e = d->slot[q + 1]; /* the batch is one of [s, e] */
    while (s < e) {                            /* many small batches: halve, not walk */
        size_t m = (s + e + 1) / 2;
        if (d->start[m] <= pos)
            s = m;
        else
            e = m - 1;
    }
    return (const char *)d->seg[c][s] + (pos - d->start[s]) * esz;
}

/* Random reads: each element's line is asked for DIRECT_AHEAD rows before it is needed. */
#define DIRECT_AHEAD 16
#define DIRECT_GATHER(T)                                                                           \
    for (uint64_t i = lo; i < hi; i++) {                                                           \
        if (i + DIRECT_AHEAD < hi)                                                                 \
            __builtin_prefetch(direct_at(d, c, rec[i + DIRECT_AHEAD].pos, sizeof(T)));             \
        ((T *)out)[i] = *(const T *)direct_at(d, c, rec[i].pos, sizeof(T));                        \
    }

/* Rows [LO, HI) of the block whose records are REC: column C into OUT. */
static void direct_fill(const direct *d, int c, strata_dtype dt, const st_srec *rec, uint64_t lo,
                        uint64_t hi, void *out)
{
    size_t esz = strata_dtype_size(dt);
    if (c == 0) {
        for (uint64_t i = lo; i < hi; i++) ((uint64_t *)out)[i] = rec[i].pos;
    } else if (c == 1 && (dt == STRATA_I64 || dt == STRATA_TS)) {
        uint64_t flip = ((uint64_t)1 << 63) ^ (d->desc ? ~(uint64_t)0 : 0);
        for (uint64_t i = lo; i < hi; i++) ((int64_t *)out)[i] = (int64_t)(rec[i].img ^ flip);
    } else if (c == 1) {
        /* a NaN's bits come from the batch: its payload and sign survive */
        for (uint64_t i = lo; i < hi; i++) {
            char *o = (char *)out + i * esz;
            if (rec[i].img == UINT64_MAX && (dt == STRATA_F32 || dt == STRATA_F64))
                memcpy(o, direct_at(d, c, rec[i].pos, esz), esz);
            else
                st_key_from_image(dt, rec[i].img, d->desc, o);
        }
    } else if (d->carried[c] != NULL && d->carry_done) {
        memcpy((uint64_t *)out + lo, d->carried[c] + (uint64_t)(rec - d->rec) + lo,
               (hi - lo) * sizeof(uint64_t));
    } else if (esz == 8) {
        DIRECT_GATHER(uint64_t);
    } else if (esz == 4) {
        DIRECT_GATHER(uint32_t);
    } else if (esz == 2) {
        DIRECT_GATHER(uint16_t);
    } else {
        DIRECT_GATHER(uint8_t);
    }
}

/* Write the output from the sorted records, in blocks of DIRECT_BLOCK rows. */
static int direct_write(st_upd_job *j, direct *d, uint64_t n)
{
    const plan *p = d->p;
    mwriter m;
    int rc = mw_init(&m, j, p->nc, DIRECT_BLOCK);
    if (rc < 0) rc = st_error(j->err, STRATA_ENOMEM, "out of memory writing the sorted rows");
    for (uint64_t from = 0; rc == STRATA_OK && from < n;) {
        uint64_t k = mw_room(&m, n - from); /* the buffer is empty: every block starts at 0 */
        const st_srec *rec = direct_next(d, from, k);
        int nt = k < (DIRECT_BLOCK >> 2) ? 1 : j->nt;
#pragma omp parallel num_threads(nt)
        {
            uint64_t lo, hi;
            st_chunk(k, st_thread_num(), st_team_size(), &lo, &hi);
            for (int c = 0; c < p->nc; c++)
                if (c <= p->nk || p->src[c] >= 0)
                    direct_fill(d, c, (strata_dtype)j->sch.cat[c].dtype, rec, lo, hi, m.buf[c]);
        }
        st_expr_input in[ST_TBL_MAX];
        for (int c = 0; c < p->nc && rc == STRATA_OK; c++) {
            if (c <= p->nk || p->src[c] >= 0) {
                in[c] = (st_expr_input){m.buf[c], NULL, NULL};
                continue;
            }
            uint64_t nulls = 0;
            rc = st_expr_eval_nulls(j->err, p->e[c], in, k, m.buf[c], m.vbuf[c], &nulls, j->nt);
            m.nulls[c] = nulls > 0;
            in[c] = (st_expr_input){m.buf[c], NULL, nulls > 0 ? m.vbuf[c] : NULL};
        }
        from += k;
        if (rc == STRATA_OK) rc = mw_took(&m, k);
        if (rc == STRATA_OK && m.nbuf > 0) rc = mw_flush(&m);
    }
    if (rc == STRATA_OK) rc = mw_cut(&m); /* every failure above has its message already */
    mw_free(&m);
    return rc;
}

/* The smallest and largest sort image of column COL in batches [B0, end) of S, from their
 * statistics into HINT; 0 when a batch has none. */
static int key_hint(strata_snapshot *s, int col, uint64_t b0, int desc, uint64_t hint[2])
{
    const st_schema *sch = st_snapshot_schema(s);
    strata_dtype dt = (strata_dtype)sch->cat[col].dtype;
    int isf = dt == STRATA_F32 || dt == STRATA_F64;
    hint[0] = UINT64_MAX;
    hint[1] = 0;
    for (uint64_t b = b0; b < st_snapshot_nbatches(s); b++) {
        const st_cat_bcol *bc = &st_snapshot_bcols(s)[b * (uint64_t)sch->ncols + (uint64_t)col];
        if (st_snapshot_batches(s)[b].nrows == 0) continue;
        if (bc->has_minmax != (isf ? 2 : 1)) return 0;
        for (int e = 0; e < 2; e++) {
            char v[8];
            if (dt == STRATA_F32) {
                float f = (float)(e ? bc->max_f : bc->min_f);
                memcpy(v, &f, 4);
            } else if (isf) {
                memcpy(v, e ? &bc->max_f : &bc->min_f, 8);
            } else { /* the low bytes of the 64-bit value: the value in the column's type */
                memcpy(v, e ? &bc->max_i : &bc->min_i, strata_dtype_size(dt));
            }
            uint64_t img = st_key_image(dt, v, 0, desc);
            hint[0] = img < hint[0] ? img : hint[0];
            hint[1] = img > hint[1] ? img : hint[1];
        }
    }
    return 1;
}

/* Map the batches from CONSUMED on of S for a direct write into *D: the key's and every gathered
 * column's, and the slots that find a row's batch. */
static int direct_open(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t consumed,
                       direct *d)
{
    uint64_t nb = st_snapshot_nbatches(s);
    const uint64_t *start = st_snapshot_row_start(s) + consumed;
    size_t nseg = (size_t)(nb - consumed);
    uint64_t n = start[nseg] - start[0], nslot = (n >> DIRECT_SLOT_SHIFT) + 2;
    *d = (direct){.p = p, .desc = p->sp->desc, .start = start, .nseg = nseg};
    d->slot = malloc(nslot * sizeof *d->slot);
    int rc = d->slot == NULL ? STRATA_ENOMEM : STRATA_OK;
    for (int c = 1; c < p->nc && rc == STRATA_OK; c++) {
        if (p->src[c] < 0) continue;
        if ((d->seg[c] = calloc(nseg + 1, sizeof *d->seg[c])) == NULL) rc = STRATA_ENOMEM;
        for (size_t b = 0; b < nseg && rc == STRATA_OK; b++)
            rc = strata_snapshot_map(s, consumed + b, p->src[c], &d->seg[c][b]);
    }
    if (rc == STRATA_ENOMEM)
        return st_error(j->err, rc, "out of memory sorting %llu rows", (unsigned long long)n);
    if (rc < 0) return rc;
    size_t b = 0;
    for (uint64_t q = 0; q < nslot; q++) {
        while (b + 1 < nseg && start[b + 1] <= start[0] + (q << DIRECT_SLOT_SHIFT)) b++;
        d->slot[q] = (uint32_t)b;
    }
    return STRATA_OK;
}

static void direct_close(strata_snapshot *s, uint64_t consumed, direct *d)
{
    for (size_t b = 0; b < d->nseg; b++) st_snapshot_release(s, consumed + b);
    for (int c = 0; c < ST_TBL_MAX; c++) free(d->seg[c]);
    free(d->slot);
}

/* The whole sort of source rows [start[consumed], end) of S (direct_ok() holds). */
static int direct_sort(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t consumed)
{
    direct d;
    st_carry cy;
    memset(&cy, 0, sizeof cy);
    int rc = direct_open(j, s, p, consumed, &d);
    uint64_t n = d.start[d.nseg] - d.start[0];
    st_srec *rec = rc == STRATA_OK ? st_alloc_big(n * sizeof *rec + 1) : NULL;
    d.rec = rec;
    if (rc == STRATA_OK && rec == NULL)
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory sorting %llu rows",
                      (unsigned long long)n);
    if (rc == STRATA_OK) {
        strata_dtype kt = (strata_dtype)st_snapshot_schema(s)->cat[p->src[1]].dtype;
        uint64_t hint[2];
        int hinted = key_hint(s, p->src[1], consumed, d.desc, hint);
        /* 8-byte gathered columns ride along with the sort: read in row order, not at random */
        for (int c = p->nk + 1; c < p->nc && rc == STRATA_OK; c++) {
            if (p->src[c] < 0 || cy.n == ST_CARRY_MAX ||
                strata_dtype_size((strata_dtype)j->sch.cat[c].dtype) != 8)
                continue;
            if ((cy.out[cy.n] = st_alloc_big(n * sizeof(uint64_t) + 1)) == NULL) {
                rc = st_error(j->err, STRATA_ENOMEM, "out of memory sorting %llu rows",
                              (unsigned long long)n);
                break;
            }
            cy.seg[cy.n] = d.seg[c];
            d.carried[c] = cy.out[cy.n++];
        }
        if (rc == STRATA_OK)
            rc = st_argsort_segs(kt, d.seg[1], d.start, d.nseg, d.desc, hinted ? hint : NULL, rec,
                                 NULL, &cy, j->nt);
        d.carry_done = cy.done;
        if (rc < 0)
            rc = st_error(j->err, rc, "out of memory sorting %llu rows", (unsigned long long)n);
    }
    if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total, n);
    if (rc == STRATA_OK) rc = direct_write(j, &d, n);
    direct_close(s, consumed, &d);
    for (int c = 0; c < cy.n; c++) st_free_big(cy.out[c]);
    st_free_big(rec);
    return rc;
}

/* ---- sorted partitions ---------------------------------------------------------------------- */

/* A sort's output is a sequence of partitions by key, each a base run and delta runs
 * (src/store/partition.c shows them to readers as one order). An incremental update sorts only
 * the new rows, cuts them at the partitions' first keys and adds each piece to its partition as a
 * delta run; a partition whose deltas grow past a share of its base is due for compaction
 * (lsm_due), and an update compacts the ones most past due within a budget of rows, and any that
 * would pass LSM_MAX_RUNS runs (lsm_pick): its runs and its new rows are merged into new bases,
 * split in two or more partitions when it grew past the output batch size. A row equal to a
 * partition's first key belongs to that partition, after the rows already there (they come from
 * earlier source rows): the rows stay those of the stable sort of the whole source. */

#define LSM_GAP      ((int64_t)1 << 32) /* between the numbers of new partitions */
#define LSM_MAX_RUNS 128 /* a partition of this many runs is compacted, whatever the budget */
#define LSM_BUDGET   8   /* an update compacts at most this many times its new rows (or one) */

typedef struct lpart {
    int64_t part, next;  /* its number, and the next partition's (or part + LSM_GAP) */
    size_t first, nruns; /* its runs: working batches ord[first .. first + nruns) */
    uint64_t base_rows, delta_rows;
    int64_t next_run;
    uint64_t lo, hi; /* the new rows it takes: rows [lo, hi) of the sorted table */
    double due;      /* lsm_due() */
    int compact;     /* chosen for compaction by this update */
} lpart;

typedef struct lrun {
    int64_t part, run;
    size_t wb;
} lrun;

static int lrun_cmp(const void *a, const void *b)
{
    const lrun *x = a, *y = b;
    if (x->part != y->part) return x->part < y->part ? -1 : 1;
    return x->run < y->run ? -1 : x->run > y->run;
}

/* The tags of a new sort's output: partitions numbered from LSM_GAP on. */
static void lsm_start(st_upd_job *j, const plan *p)
{
    j->lsm.on = p->sp->op == ST_OP_SORT;
    j->lsm.delta = 0;
    j->lsm.sort_keys = p->sp->desc ? -p->nk : p->nk;
    j->lsm.part = j->lsm.step = LSM_GAP;
}

/* Whether the previous output, working batches [0, NOLD), is partitions of P's order. */
static int lsm_ok(st_upd_job *j, const plan *p, size_t nold)
{
    if (p->sp->op != ST_OP_SORT || nold == 0) return 0;
    int keys = p->sp->desc ? -p->nk : p->nk;
    for (size_t b = 0; b < nold; b++) {
        const st_upd_wbatch *w = &ST_UPD_WB(j, b);
        if (w->retired || w->is_new || w->b.part <= 0 || w->b.sort_keys != keys) return 0;
    }
    return 1;
}

/* The partitions of working batches [0, NOLD) into *PARTS (*NP), their runs into *ORD. */
static int lsm_parts(st_upd_job *j, size_t nold, size_t **ord, lpart **parts, size_t *np)
{
    lrun *r = malloc(nold * sizeof *r);
    *ord = malloc(nold * sizeof **ord);
    *parts = calloc(nold, sizeof **parts);
    if (r == NULL || *ord == NULL || *parts == NULL) {
        free(r);
        return st_error(j->err, STRATA_ENOMEM, "out of memory");
    }
    for (size_t b = 0; b < nold; b++)
        r[b] = (lrun){ST_UPD_WB(j, b).b.part, ST_UPD_WB(j, b).b.run, b};
    qsort(r, nold, sizeof *r, lrun_cmp);
    size_t n = 0;
    for (size_t b = 0; b < nold; b++) {
        (*ord)[b] = r[b].wb;
        uint64_t rows = (uint64_t)ST_UPD_WB(j, r[b].wb).b.nrows;
        if (b == 0 || r[b].part != r[b - 1].part) {
            if (n > 0) (*parts)[n - 1].next = r[b].part;
            (*parts)[n++] = (lpart){.part = r[b].part, .next = r[b].part + LSM_GAP, .first = b};
        }
        lpart *q = &(*parts)[n - 1];
        if (q->nruns++ == 0)
            q->base_rows = rows;
        else
            q->delta_rows += rows;
        q->next_run = r[b].run + 1;
    }
    *np = n;
    free(r);
    return STRATA_OK;
}

/* Cut the sorted new rows T at the first key of each partition's base. */
static int lsm_route(st_upd_job *j, const plan *p, const st_table *t, const size_t *ord,
                     lpart *parts, size_t np)
{
    int rc = STRATA_OK;
    uint64_t at = 0;
    for (size_t q = 1; q < np && rc == STRATA_OK; q++) {
        const st_upd_wbatch *w = &ST_UPD_WB(j, ord[parts[q].first]);
        st_npy_map m[ST_TBL_MAX], mb[ST_TBL_MAX], mv[ST_TBL_MAX];
        st_table first;
        memset(&first, 0, sizeof first);
        memset(m, 0, sizeof m);
        memset(mb, 0, sizeof mb);
        memset(mv, 0, sizeof mv);
        for (int k = 1; k <= p->nk && rc == STRATA_OK; k++) {
            rc = st_upd_map(j, w, k, &m[k], &mb[k], &first.data[k], &first.bytes[k]);
            if (rc == STRATA_OK) rc = st_upd_map_valid(j, w, k, &mv[k], &first.valid[k]);
            first.dt[k] = (strata_dtype)j->sch.cat[k].dtype;
        }
        if (rc == STRATA_OK && w->b.nrows > 0) { /* the first row at or after the base's first */
            uint64_t lo = at, hi = t->rows;
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (row_cmp(t, mid, &first, 0, 1, p->nk, p->sp->desc) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            at = lo;
        }
        parts[q - 1].hi = at;
        parts[q].lo = at;
        for (int k = 1; k <= p->nk; k++) {
            st_npy_unmap(&m[k]);
            st_npy_unmap(&mb[k]);
            st_npy_unmap(&mv[k]);
        }
    }
    parts[np - 1].hi = t->rows;
    return rc;
}

/* How far partition Q, taking K new rows, is toward its compaction (1 or more: due): its deltas
 * against a share of its base. The share (1/2 to 63/64) differs by partition, so that partitions
 * filled alike do not fall due in the same update. Each compaction rewrites the base: the larger
 * the share, the fewer times a row is rewritten ((1 + share) / share), and the more rows a
 * reader merges. */
static double lsm_due(const lpart *q, uint64_t k)
{
    uint64_t h = (uint64_t)q->part * 0x9E3779B97F4A7C15ull;
    h = (h ^ h >> 29) * 0x9E3779B97F4A7C15ull;
    double share = (double)(32 + (h >> 59)) / 64;
    return (double)(q->delta_rows + k) / ((double)q->base_rows * share + 1);
}

static int due_cmp(const void *a, const void *b)
{
    const lpart *x = *(const lpart *const *)a, *y = *(const lpart *const *)b;
    if (x->due != y->due) return x->due > y->due ? -1 : 1;
    return x->part < y->part ? -1 : x->part > y->part;
}

/* Choose the partitions of PARTS[NP] that take new rows to compact: every one that would pass
 * LSM_MAX_RUNS runs, and the due ones most past due first, as long as the rows they rewrite stay
 * within LSM_BUDGET times the NEW rows (at least one). A compaction rewrites much more than the
 * update brings: bounded so, the cost is spread over the updates, with no update rewriting most
 * of the output because many partitions fell due together. A deferred partition takes a delta
 * run and is chosen by a later update. */
static int lsm_pick(st_upd_job *j, lpart *parts, size_t np, uint64_t rows)
{
    lpart **due = malloc((np ? np : 1) * sizeof *due);
    if (due == NULL) return st_error(j->err, STRATA_ENOMEM, "out of memory");
    size_t nd = 0;
    for (size_t i = 0; i < np; i++) {
        lpart *q = &parts[i];
        uint64_t k = q->hi - q->lo;
        q->compact = k > 0 && q->nruns + 1 > LSM_MAX_RUNS;
        q->due = k > 0 ? lsm_due(q, k) : 0;
        if (k > 0 && !q->compact && q->due >= 1) due[nd++] = q;
    }
    qsort(due, nd, sizeof *due, due_cmp);
    uint64_t budget = rows * LSM_BUDGET, spent = 0;
    for (size_t i = 0; i < nd; i++) {
        uint64_t cost = due[i]->base_rows + due[i]->delta_rows + (due[i]->hi - due[i]->lo);
        if (spent > 0 && spent + cost > budget) continue;
        due[i]->compact = 1;
        spent += cost;
    }
    free(due);
    return STRATA_OK;
}

/* Column C of working batch W as a run's column, mapped into M. */
static int wb_col(st_upd_job *j, const st_upd_wbatch *w, int c, st_npy_map m[3], st_pcol *out)
{
    const void *data;
    const char *bytes;
    const uint8_t *valid = NULL;
    int rc = st_upd_map(j, w, c, &m[0], &m[1], &data, &bytes);
    if (rc == STRATA_OK) rc = st_upd_map_valid(j, w, c, &m[2], &valid);
    *out = (st_pcol){data, bytes, valid};
    return rc;
}

/* Rows [LO, HI) of column C of T as a run's column; its validity copied to start at bit 0 into
 * *OWN. */
static int mem_col(st_upd_job *j, const st_table *t, int c, uint64_t lo, uint64_t hi, uint8_t **own,
                   st_pcol *out)
{
    int str = t->dt[c] == STRATA_STR;
    size_t esz = str ? 8 : strata_dtype_size(t->dt[c]);
    *out =
        (st_pcol){(const char *)t->data[c] + lo * esz, str ? t->bytes[c] - t->boff[c] : NULL, NULL};
    free(*own);
    *own = NULL;
    if (t->valid[c] == NULL) return STRATA_OK;
    if ((*own = malloc(st_bits_bytes(hi - lo) + 1)) == NULL)
        return st_error(j->err, STRATA_ENOMEM, "out of memory");
    st_bits_copy(*own, 0, t->valid[c], lo, hi - lo);
    out->valid = *own;
    return STRATA_OK;
}

/* A compaction: partition Q's runs (NR with its new rows, the last) in one order SEG. */
typedef struct lcomp {
    const lpart *q;
    const size_t *ord;
    const st_table *t;
    uint32_t nr;
    uint64_t *n;
    st_pseg *seg;
    size_t nseg;
} lcomp;

/* Column C of every run of L into COLS[r * STRIDE] (mapped into MAPS alike; the new rows'
 * validity, copied, into *VOWN). */
static int lcomp_map(st_upd_job *j, const lcomp *l, int c, size_t stride, st_npy_map (*maps)[3],
                     st_pcol *cols, uint8_t **vown)
{
    int rc = STRATA_OK;
    for (uint32_t r = 0; r < l->nr && rc == STRATA_OK; r++) {
        if (r < l->q->nruns)
            rc = wb_col(j, &ST_UPD_WB(j, l->ord[l->q->first + r]), c, maps[r * stride],
                        &cols[r * stride]);
        else
            rc = mem_col(j, l->t, c, l->q->lo, l->q->hi, vown, &cols[r * stride]);
    }
    return rc;
}

static void maps_unmap(st_npy_map (*maps)[3], size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int f = 0; f < 3; f++) st_npy_unmap(&maps[i][f]);
}

/* Rows [R0, R1) of L's merged order, from piece *G (which starts at row *POS), of a column of
 * type DT (in the runs COLS) appended to W through OUT, OB (*CAP bytes, grown) and OV, in
 * blocks of DIRECT_BLOCK rows: a block stays in the cache between the copy and the write, where
 * a buffer of the whole base would be memory touched for the first time (on a VM whose host
 * reclaims freed pages, 50 times dearer than the copy). *G and *POS move on to the piece holding
 * R1, where the next call starts looking (from piece 0 the result would be the same, slower). */
static int lcomp_rows(st_upd_job *j, const lcomp *l, strata_dtype dt, const st_pcol *cols,
                      uint64_t r0, uint64_t r1, size_t *g, uint64_t *pos, st_colw *w, char *out,
                      char **ob, uint64_t *cap, uint8_t *ov)
{
    int rc = STRATA_OK;
    for (uint64_t a = r0; a < r1 && rc == STRATA_OK; a += DIRECT_BLOCK) {
        uint64_t e = a + DIRECT_BLOCK < r1 ? a + DIRECT_BLOCK : r1;
        const st_pseg *sg = l->seg + *g;
        size_t ns = l->nseg - *g;
        uint64_t nb = dt == STRATA_STR ? st_merge_bytes(sg, ns, cols, a - *pos, e - *pos) : 0;
        if (*ob == NULL || nb + 1 > *cap) {
            free(*ob);
            *cap = nb + 1;
            if ((*ob = malloc(*cap)) == NULL) return STRATA_ENOMEM;
        }
        st_merge_copy(dt, sg, ns, cols, a - *pos, e - *pos, out, *ob, ov);
        rc = dt == STRATA_STR ? st_colw_append_str_valid(j->err, w, (const int64_t *)(void *)out,
                                                         *ob, ov, 0, e - a)
                              : st_colw_append_valid(j->err, w, out, ov, 0, e - a);
        while (*g < l->nseg && *pos + l->seg[*g].len <= e) *pos += l->seg[(*g)++].len;
    }
    return rc;
}

/* Column C of every run of L, mapped once for the tasks that copy it (lcomp_task). */
typedef struct lccol {
    st_npy_map (*maps)[3];
    st_pcol *cols;
    uint8_t *vown;
    int nulls;
} lccol;

static int lccol_map(st_upd_job *j, const lcomp *l, int c, lccol *lc)
{
    lc->maps = calloc(l->nr, sizeof *lc->maps);
    lc->cols = calloc(l->nr, sizeof *lc->cols);
    if (lc->maps == NULL || lc->cols == NULL) return STRATA_ENOMEM;
    int rc = lcomp_map(j, l, c, 1, lc->maps, lc->cols, &lc->vown);
    for (uint32_t r = 0; r < l->nr && rc == STRATA_OK; r++) lc->nulls |= lc->cols[r].valid != NULL;
    return rc;
}

static void lccol_free(const lcomp *l, lccol *lc)
{
    if (lc->maps != NULL) maps_unmap(lc->maps, l->nr);
    free(lc->maps);
    free(lc->cols);
    free(lc->vown);
}

/* Rows [R0, R1) of column C (LC) into W, one base's column, starting the search for pieces at
 * piece G (which starts at row POS). */
static int lcomp_task(st_upd_job *j, const lcomp *l, int c, const lccol *lc, uint64_t r0,
                      uint64_t r1, size_t g, uint64_t pos, st_colw *w)
{
    strata_dtype dt = (strata_dtype)j->sch.cat[c].dtype;
    size_t esz = dt == STRATA_STR ? 8 : strata_dtype_size(dt);
    char *out = malloc((DIRECT_BLOCK + 1) * esz), *ob = NULL;
    uint8_t *ov = lc->nulls ? malloc(st_bits_bytes(DIRECT_BLOCK) + 1) : NULL;
    int rc = out == NULL || (lc->nulls && ov == NULL) ? STRATA_ENOMEM : STRATA_OK;
    uint64_t cap = 0;
    if (rc == STRATA_OK)
        rc = lcomp_rows(j, l, dt, lc->cols, r0, r1, &g, &pos, w, out, &ob, &cap, ov);
    free(out);
    free(ob);
    free(ov);
    return rc;
}

/* The M new bases OW (PER rows each, TOTAL in all) from L's runs: every column mapped once, then
 * each column of each base a task of its own (3 columns in 2 bases keep 2 threads busy, where 3
 * columns alone would leave one idle for a third of the time). */
static int lcomp_columns(st_upd_job *j, const lcomp *l, int nc, st_upd_outw *ow, uint64_t m,
                         uint64_t per, uint64_t total)
{
    lccol *lc = calloc((size_t)nc, sizeof *lc);
    size_t *g0 = malloc((m ? m : 1) * sizeof *g0), ntask = (size_t)nc * m;
    uint64_t *p0 = malloc((m ? m : 1) * sizeof *p0);
    int *trc = malloc((ntask ? ntask : 1) * sizeof *trc), rc = STRATA_OK;
    if (lc == NULL || g0 == NULL || p0 == NULL || trc == NULL) rc = STRATA_ENOMEM;
    for (size_t k = 0, g = 0, pos = 0; k < m && rc == STRATA_OK; k++) {
        while (g < l->nseg && pos + l->seg[g].len <= k * per) pos += l->seg[g++].len;
        g0[k] = g;
        p0[k] = pos;
    }
    if (rc == STRATA_OK) {
#pragma omp parallel for num_threads(j->nt) schedule(dynamic, 1)
        for (int c = 0; c < nc; c++) trc[c] = lccol_map(j, l, c, &lc[c]);
        for (int c = 0; c < nc && rc == STRATA_OK; c++) rc = trc[c];
    }
    if (rc == STRATA_OK) {
#pragma omp parallel for num_threads(j->nt) schedule(dynamic, 1)
        for (size_t t = 0; t < ntask; t++) {
            int c = (int)(t / m);
            uint64_t k = t % m, r0 = k * per, r1 = r0 + per < total ? r0 + per : total;
            trc[t] = lcomp_task(j, l, c, &lc[c], r0, r1, g0[k], p0[k], &ow[k].w[c]);
        }
        for (size_t t = 0; t < ntask && rc == STRATA_OK; t++) rc = trc[t];
    }
    for (int c = 0; lc != NULL && c < nc; c++) lccol_free(l, &lc[c]);
    free(lc);
    free(g0);
    free(p0);
    free(trc);
    return rc;
}

/* The merged order of L's runs, from their keys. */
static int lcomp_order(st_upd_job *j, const plan *p, lcomp *l)
{
    size_t nk = (size_t)p->nk, n = l->nr * nk;
    st_npy_map(*maps)[3] = calloc(n, sizeof *maps);
    st_pcol *keys = calloc(n, sizeof *keys);
    uint8_t *vown[ST_TBL_MAX] = {NULL};
    strata_dtype dt[ST_TBL_MAX];
    int rc = maps == NULL || keys == NULL ? STRATA_ENOMEM : STRATA_OK;
    for (size_t k = 0; k < nk && rc == STRATA_OK; k++) {
        dt[k] = (strata_dtype)j->sch.cat[1 + k].dtype;
        rc = lcomp_map(j, l, 1 + (int)k, nk, maps + k, keys + k, &vown[k]);
    }
    if (rc == STRATA_OK)
        rc = st_merge_order(dt, p->nk, p->sp->desc, keys, l->n, l->nr, j->nt, &l->seg, &l->nseg);
    if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory compacting a partition");
    if (maps != NULL) maps_unmap(maps, n);
    free(maps);
    free(keys);
    for (size_t k = 0; k < nk; k++) free(vown[k]);
    return rc;
}

/* Merge partition Q's runs and its new rows of T into new bases. */
static int lsm_compact(st_upd_job *j, const plan *p, const lpart *q, const size_t *ord,
                       const st_table *t)
{
    lcomp l = {.q = q, .ord = ord, .t = t, .nr = (uint32_t)q->nruns + (q->hi > q->lo)};
    l.n = calloc(l.nr, sizeof *l.n);
    int rc = l.n == NULL ? st_error(j->err, STRATA_ENOMEM, "out of memory") : STRATA_OK;
    for (uint32_t r = 0; r < l.nr && rc == STRATA_OK; r++)
        l.n[r] = r < q->nruns ? (uint64_t)ST_UPD_WB(j, ord[q->first + r]).b.nrows : q->hi - q->lo;
    if (rc == STRATA_OK) rc = lcomp_order(j, p, &l);
    /* Bases of at most the output batch size, numbered between Q and the next partition. */
    uint64_t total = q->base_rows + q->delta_rows + (q->hi - q->lo);
    uint64_t m = (total + j->out_rows - 1) / j->out_rows;
    int64_t step = (q->next - q->part) / (int64_t)(m > 0 ? m : 1);
    if (step == 0) { /* no numbers left between them: one larger base */
        m = 1;
        step = q->next - q->part;
    }
    uint64_t per = (total + m - 1) / m;
    st_upd_outw *ow = calloc(m, sizeof *ow);
    if (rc == STRATA_OK && ow == NULL) rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    uint64_t open = 0;
    for (; open < m && rc == STRATA_OK; open++) rc = st_upd_out_begin(j, &ow[open], p->nc);
    /* The columns of the bases on the threads: each copied, hashed, summarised and written on
     * its own. */
    if (rc == STRATA_OK) rc = lcomp_columns(j, &l, p->nc, ow, m, per, total);
    if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory compacting a partition");
    j->lsm.delta = 0;
    j->lsm.part = q->part;
    j->lsm.step = step;
    for (uint64_t k = 0; k < open; k++) {
        if (rc == STRATA_OK)
            rc = st_upd_out_end(j, &ow[k]);
        else
            st_upd_out_abort(&ow[k]);
    }
    for (size_t r = 0; r < q->nruns; r++) ST_UPD_WB(j, ord[q->first + r]).retired = 1;
    j->st->parts_compacted++;
    free(ow);
    free(l.n);
    free(l.seg);
    return rc;
}

/* Rows [Q->lo, Q->hi) of T as delta runs of partition Q. */
static int lsm_delta(st_upd_job *j, const plan *p, const lpart *q, const st_table *t)
{
    mwriter m; /* a delta is small: a buffer of its size, not of a block */
    uint64_t n = q->hi - q->lo;
    int rc = mw_init(&m, j, p->nc, n < DIRECT_BLOCK ? n : DIRECT_BLOCK);
    j->lsm.delta = 1;
    j->lsm.part = q->part;
    j->lsm.run = q->next_run;
    if (rc == STRATA_OK) rc = mw_rows(&m, t, q->lo, q->hi - q->lo);
    if (rc == STRATA_ENOMEM) rc = st_error(j->err, rc, "out of memory writing a sorted run");
    if (rc == STRATA_OK) rc = mw_cut(&m);
    mw_free(&m);
    return rc;
}

/* The rows partition Q writes: its delta, or all its rows when compacted; none without new rows. */
static uint64_t lsm_cost(const lpart *q)
{
    uint64_t k = q->hi - q->lo;
    return k == 0 ? 0 : q->compact ? q->base_rows + q->delta_rows + k : k;
}

/* The partitions [*QA, *QB) of PARTS[NP] this process writes: spread, contiguous blocks of
 * about equal cost (a partition goes to the process its first row of cost falls to), alike on
 * every process; else all. */
static void lsm_share(const st_upd_job *j, const lpart *parts, size_t np, size_t *qa, size_t *qb)
{
    *qa = 0;
    *qb = np;
    if (!st_comm_many(j->comm)) return;
    double total = 0, at = 0, size = j->comm->size;
    for (size_t q = 0; q < np; q++) total += (double)lsm_cost(&parts[q]);
    *qa = *qb = np;
    for (size_t q = 0; q < np; q++) {
        int owner = total > 0 ? (int)(at * size / total) : 0;
        if (owner >= j->comm->size) owner = j->comm->size - 1;
        if (owner == j->comm->rank && *qa == np) *qa = q;
        if (owner <= j->comm->rank) *qb = q + 1;
        at += (double)lsm_cost(&parts[q]);
    }
    if (*qa == np) *qa = *qb = 0;
}

/* The new source rows [R0, R1) of S added to the partitions of the previous output, working
 * batches [0, NOLD) (lsm_ok() holds). Spread, every process sorts and routes all the new rows
 * (read from the shared batches: as much as the new rows, never the dataset) and writes the
 * deltas and compactions of its share of the partitions (lsm_share), in partition order, so
 * that the new batches come in the order of one process. */
static int lsm_absorb(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t r0, uint64_t r1,
                      size_t nold)
{
    st_table t;
    size_t *ord = NULL, np = 0;
    lpart *parts = NULL;
    lsm_start(j, p);
    /* Few new rows are sorted and written as deltas on one thread (st_upd_threads: about 4 ms of
     * a 200 000-row append's 20 on the 2-core VM of bench/README.md); the compactions take every
     * thread, after the deltas. */
    int nt = j->nt;
    st_upd_threads(j, r1 - r0);
    int rc = lsm_parts(j, nold, &ord, &parts, &np);
    if (rc == STRATA_OK) rc = sorted_chunk(j, s, p, r0, r1, &t);
    if (rc < 0) goto done;
    if ((rc = lsm_route(j, p, &t, ord, parts, np)) == STRATA_OK)
        rc = lsm_pick(j, parts, np, t.rows);
    /* the new rows, counted once when spread; each process's work is the rows it writes */
    uint64_t *work = j->work;
    j->work = NULL;
    if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total / 2, st_upd_root(j) ? r1 - r0 : 0);
    j->work = work;
    /* a delta on the step's threads, a compaction on all */
    int few = j->nt;
    size_t qa, qb;
    lsm_share(j, parts, np, &qa, &qb);
    for (size_t q = qa; q < qb && rc == STRATA_OK; q++) {
        if (parts[q].hi == parts[q].lo) continue;
        j->nt = parts[q].compact ? nt : few;
        rc = parts[q].compact ? lsm_compact(j, p, &parts[q], ord, &t)
                              : lsm_delta(j, p, &parts[q], &t);
        if (work != NULL && st_comm_many(j->comm)) *work += lsm_cost(&parts[q]);
    }
    j->nt = nt;
    if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total, 0);
    st_table_free(&t);
done:
    j->nt = nt;
    free(ord);
    free(parts);
    return rc;
}

/* ---- a global top-k spread over processes --------------------------------------------------- */

/* Tables travel as: rows and columns, then per column its type, whether it has a validity
 * bitmap, its values (strings: offsets from 0, then the bytes) and the bitmap; every section
 * 8-aligned, so that the next process's message stays aligned too. */
typedef struct tbuf {
    char *p;
    uint64_t n, cap;
} tbuf;

/* LEN bytes of SRC (or zeros when SRC is NULL) at the end of B, padded to 8 with zeros; the
 * offset they start at, or -1 when out of memory. */
static int64_t tbuf_put(tbuf *b, const void *src, uint64_t len)
{
    uint64_t need = b->n + (len + 7) / 8 * 8, at = b->n;
    if (need > b->cap) {
        uint64_t cap = b->cap ? b->cap : 4096;
        while (cap < need) cap *= 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) return -1;
        b->p = q;
        b->cap = cap;
    }
    memset(b->p + at, 0, need - at);
    if (src != NULL && len > 0) memcpy(b->p + at, src, len);
    b->n = need;
    return (int64_t)at;
}

/* Rows [FROM, FROM + N) of T, as a table of its first NC columns, appended to B. */
static int table_encode_range(st_upd_job *j, tbuf *b, const st_table *t, uint64_t from, uint64_t n,
                              int nc)
{
    uint64_t h[2] = {n, (uint64_t)nc};
    int64_t ok = tbuf_put(b, h, sizeof h);
    for (int c = 0; c < nc && ok >= 0; c++) {
        uint64_t ch[2] = {(uint64_t)t->dt[c], t->valid[c] != NULL};
        ok = tbuf_put(b, ch, sizeof ch);
        if (ok >= 0 && t->dt[c] == STRATA_STR) {
            const int64_t *o = (const int64_t *)t->data[c] + from;
            int64_t at = tbuf_put(b, NULL, (n + 1) * 8);
            if ((ok = at) < 0) break;
            int64_t *q = (int64_t *)(void *)(b->p + at);
            for (uint64_t i = 0; i <= n; i++) q[i] = o[i] - o[0];
            ok = tbuf_put(b, t->bytes[c] + (o[0] - t->boff[c]), (uint64_t)(o[n] - o[0]));
        } else if (ok >= 0) {
            size_t esz = strata_dtype_size(t->dt[c]);
            ok = tbuf_put(b, (const char *)t->data[c] + from * esz, n * esz);
        }
        if (ok >= 0 && t->valid[c] != NULL) {
            int64_t at = tbuf_put(b, NULL, st_bits_bytes(n));
            if ((ok = at) >= 0) st_bits_copy((uint8_t *)b->p + at, 0, t->valid[c], from, n);
        }
    }
    return ok >= 0 ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory sending rows");
}

static int table_encode(st_upd_job *j, tbuf *b, const st_table *t)
{
    return table_encode_range(j, b, t, 0, t->rows, t->n);
}

/* LEN bytes of the message at *Q (up to END), 8-aligned after, or NULL when it is short. */
static const char *take(const char **q, const char *end, uint64_t len)
{
    uint64_t padded = (len + 7) / 8 * 8;
    if (len > (uint64_t)(end - *q) || padded > (uint64_t)(end - *q)) return NULL;
    const char *at = *q;
    *q += padded;
    return at;
}

/* The table at *Q (up to END) into T, pointing into the message (T owns nothing); *Q moves past
 * it. NC: the columns it must have. */
static int table_decode(st_upd_job *j, const char **q, const char *end, int nc, st_table *t)
{
    memset(t, 0, sizeof *t);
    uint64_t h[2], ch[2];
    const char *at = take(q, end, sizeof h);
    if (at == NULL) goto bad;
    memcpy(h, at, sizeof h);
    t->rows = h[0];
    t->n = (int)h[1];
    if (h[1] != (uint64_t)nc || h[0] > (uint64_t)(end - *q)) goto bad;
    for (int c = 0; c < t->n; c++) {
        if ((at = take(q, end, sizeof ch)) == NULL) goto bad;
        memcpy(ch, at, sizeof ch);
        t->dt[c] = (strata_dtype)ch[0];
        if (t->dt[c] == STRATA_STR) {
            const int64_t *o = (const int64_t *)(const void *)take(q, end, (t->rows + 1) * 8);
            if (o == NULL || o[0] != 0 || o[t->rows] < 0) goto bad;
            t->data[c] = o;
            if ((t->bytes[c] = take(q, end, (uint64_t)o[t->rows])) == NULL) goto bad;
        } else if ((t->data[c] = take(q, end, t->rows * strata_dtype_size(t->dt[c]))) == NULL) {
            goto bad;
        }
        if (ch[1] && (t->valid[c] = (const uint8_t *)take(q, end, st_bits_bytes(t->rows))) == NULL)
            goto bad;
    }
    return STRATA_OK;
bad:
    return st_error(j->err, STRATA_ECORRUPT, "a process sent a top-k that does not parse");
}

/* The block of new batches [*LO, *HI) of S (batches from CONSUMED on) this process takes. */
static void own_batches(const st_upd_job *j, strata_snapshot *s, uint64_t consumed, uint64_t *lo,
                        uint64_t *hi)
{
    uint64_t nsb = st_snapshot_nbatches(s);
    *lo = *hi = nsb;
    for (uint64_t b = consumed; b < nsb; b++)
        if (st_upd_mine(j, b - consumed, nsb - consumed)) {
            if (*lo == nsb) *lo = b;
            *hi = b + 1;
        }
}

/* The block of new source rows [*A, *E) of S this process takes. */
static void own_rows(const st_upd_job *j, strata_snapshot *s, uint64_t consumed, uint64_t *a,
                     uint64_t *e)
{
    uint64_t lo, hi;
    own_batches(j, s, consumed, &lo, &hi);
    *a = st_snapshot_row_start(s)[lo];
    *e = st_snapshot_row_start(s)[hi];
}

/* The top k of this process's rows [A, E) of S, in chunks of CHUNK rows, encoded into B. */
static int topk_local(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t a, uint64_t e,
                      uint64_t chunk, tbuf *b)
{
    int rc = STRATA_OK;
    uint64_t nchunks = (e - a + chunk - 1) / chunk;
    for (uint64_t c = 0; c < nchunks && rc == STRATA_OK; c++) {
        uint64_t r0 = a + c * chunk, r1 = r0 + chunk < e ? r0 + chunk : e;
        st_table t;
        if ((rc = sorted_chunk(j, s, p, r0, r1, &t)) < 0) break;
        rc = table_encode(j, b, &t);
        st_table_free(&t);
        if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total * (c + 1) / nchunks, r1 - r0);
    }
    return rc;
}

/* A global top-k spread over processes: each takes the top k of its block of the new batches
 * (in chunks within the budget) and sends them to all; the root merges the previous output and
 * every chunk in row order (by process, then chunk), the order one process would have merged
 * them in, so the bytes are the same. CHUNK: rows a chunk may hold; NOLD as in st_upd_order. */
static int topk_spread(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t consumed,
                       uint64_t chunk, size_t nold)
{
    const st_comm *cm = j->comm;
    uint64_t a, e, *lens = calloc((size_t)cm->size, sizeof *lens);
    tbuf b = {0};
    char *all = NULL;
    st_table *tabs = NULL;
    srun *runs = NULL;
    size_t nt = 0;
    int rc = lens != NULL ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory");
    own_rows(j, s, consumed, &a, &e);
    if (rc == STRATA_OK) rc = topk_local(j, s, p, a, e, chunk, &b);
    rc = st_comm_agree(cm, j->err, rc);
    if (rc == STRATA_OK) rc = cm->allgather(cm->ctx, j->err, b.p, b.n, (void **)&all, lens);
    free(b.p);
    if (rc < 0 || !st_upd_root(j)) goto done;
    uint64_t total = 0, most = (uint64_t)cm->size;
    for (int r = 0; r < cm->size; r++) total += lens[r];
    most += total / 16; /* a table is at least 16 bytes */
    tabs = calloc(most + 1, sizeof *tabs);
    runs = calloc(most + 2, sizeof *runs);
    if (tabs == NULL || runs == NULL) {
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    size_t nr = 0;
    if (nold > 0) runs[nr++] = (srun){.kind = RUN_DISK, .id = 0, .b = 0, .nb = nold};
    const char *q = all;
    for (int r = 0; r < cm->size && rc == STRATA_OK; r++) {
        const char *end = q + lens[r];
        while (q < end && rc == STRATA_OK) {
            if ((rc = table_decode(j, &q, end, p->nc, &tabs[nt])) < 0) break;
            runs[nr] = (srun){.kind = RUN_MEM, .id = (int)nr, .mem = &tabs[nt]};
            nr++;
            nt++;
        }
    }
    if (rc == STRATA_OK) {
        st_upd_retire(j);
        lsm_start(j, p);
        rc = merge_runs(j, p, runs, nr, p->sp->k, NULL);
    }
    if (rc == STRATA_OK) j->carry_to = p->nc;
done:
    free(runs);
    free(tabs);
    free(all);
    free(lens);
    return rc;
}

/* ---- a full sort spread over processes ------------------------------------------------------ */

/* A sort from scratch on several processes: each sorts its block of the source rows; the sorted
 * sequence is cut at whole output batches (positions P_r, multiples of the batch size, near r N /
 * size), found exactly by a distributed selection over the local sorted blocks; one exchange
 * (alltoallv) sends each process the rows of its range from every process, which it merges
 * (ties by source row: the processes' blocks are in row order) and writes as the output batches
 * and partitions one process would have written at those positions. */

/* Whether row I of A comes before row J of B in the stable sort: by the keys, then the source
 * row (column 0), which no two rows share. */
static int elem_before(const plan *p, const st_table *a, uint64_t i, const st_table *b, uint64_t j)
{
    int c = row_cmp(a, i, b, j, 1, p->nk, p->sp->desc);
    if (c != 0) return c < 0;
    return ((const uint64_t *)a->data[0])[i] < ((const uint64_t *)b->data[0])[j];
}

/* A process's sorted rows, as a table's (T) or as records (REC), and the proposals of a round
 * of select_cut, decoded from every process's message. */
typedef struct sview {
    const plan *p;
    const st_table *t;
    const st_srec *rec;
    st_table *props;
    st_srec *rprops;
} sview;

/* Whether row I of V comes before proposal R. */
static int view_before(const sview *v, uint64_t i, int r)
{
    return v->rec != NULL ? rec_before(&v->rec[i], &v->rprops[r])
                          : elem_before(v->p, v->t, i, &v->props[r], 0);
}

/* Whether proposal X comes before proposal R. */
static int prop_before(const sview *v, int x, int r)
{
    return v->rec != NULL ? rec_before(&v->rprops[x], &v->rprops[r])
                          : elem_before(v->p, &v->props[x], 0, &v->props[r], 0);
}

/* The first row in [LO, HI) of V that does not come before proposal R. */
static uint64_t lower_bound(const sview *v, uint64_t lo, uint64_t hi, int r)
{
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (view_before(v, mid, r))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Row I of V appended to B as a proposal. */
static int prop_put(st_upd_job *j, const sview *v, uint64_t i, tbuf *b)
{
    if (v->rec == NULL) return table_encode_range(j, b, v->t, i, 1, v->p->nk + 1);
    return tbuf_put(b, &v->rec[i], sizeof v->rec[i]) < 0
               ? st_error(j->err, STRATA_ENOMEM, "out of memory")
               : STRATA_OK;
}

/* Proposal R decoded from [*Q, END). */
static int prop_get(st_upd_job *j, sview *v, const char **q, const char *end, int r)
{
    if (v->rec == NULL) return table_decode(j, q, end, v->p->nk + 1, &v->props[r]);
    if (end - *q < (ptrdiff_t)sizeof(st_srec))
        return st_error(j->err, STRATA_ECORRUPT, "a process sent a cut that does not parse");
    memcpy(&v->rprops[r], *q, sizeof(st_srec));
    return STRATA_OK;
}

/* How many rows of this process's sorted V are among the POS first of all processes' rows, into
 * *CUT; LO and HI bound it (the cuts before and after). Each round every process with rows left
 * in its window [LO, HI) proposes its window's middle row, weighted by the window's size; the
 * weighted median proposal is the pivot; the rows before it are counted everywhere; the windows
 * shrink to the side of POS the pivot is on, by a quarter of the rows left at least. */
static int select_cut(st_upd_job *j, sview *sv, uint64_t pos, uint64_t lo, uint64_t hi,
                      uint64_t *cut)
{
    const st_comm *cm = j->comm;
    int rc = STRATA_OK;
    uint64_t *lens = calloc((size_t)cm->size, sizeof *lens);
    sv->props = calloc((size_t)cm->size, sizeof *sv->props);
    sv->rprops = calloc((size_t)cm->size, sizeof *sv->rprops);
    uint64_t *weight = calloc((size_t)cm->size, sizeof *weight);
    if (lens == NULL || sv->props == NULL || sv->rprops == NULL || weight == NULL)
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    rc = st_comm_agree(cm, j->err, rc);
    while (rc == STRATA_OK) {
        uint64_t v[2] = {lo, hi - lo};
        if ((rc = cm->allreduce(cm->ctx, j->err, v, 2, ST_COMM_SUM)) < 0) break;
        if (v[0] == pos || v[1] == 0 || v[0] + v[1] == pos) {
            *cut = v[0] == pos || v[1] == 0 ? lo : hi;
            break;
        }
        /* the proposal: the window's size, then its middle row (or no row) */
        tbuf b = {0};
        uint64_t mid = lo + (hi - lo) / 2, w = hi - lo;
        rc = tbuf_put(&b, &w, 8) < 0 ? st_error(j->err, STRATA_ENOMEM, "out of memory") : 0;
        if (rc == STRATA_OK && w > 0) rc = prop_put(j, sv, mid, &b);
        char *all = NULL;
        if (rc == STRATA_OK) rc = cm->allgather(cm->ctx, j->err, b.p, b.n, (void **)&all, lens);
        free(b.p);
        int best = -1;
        const char *q = all;
        for (int r = 0; r < cm->size && rc == STRATA_OK; r++) {
            const char *end = q + lens[r];
            memcpy(&weight[r], q, 8);
            q += 8;
            if (weight[r] > 0) rc = prop_get(j, sv, &q, end, r);
            q = end;
        }
        /* the weighted median of the proposals, in the sort's order */
        uint64_t below = 0;
        for (int r = 0; r < cm->size && rc == STRATA_OK; r++) {
            if (weight[r] == 0) continue;
            uint64_t before = 0;
            for (int x = 0; x < cm->size; x++)
                if (x != r && weight[x] > 0 && prop_before(sv, x, r)) before += weight[x];
            if (before <= v[1] / 2 && (best < 0 || before > below)) best = r, below = before;
        }
        uint64_t at = 0;
        if (rc == STRATA_OK) at = best == cm->rank ? mid : lower_bound(sv, lo, hi, best);
        free(all);
        uint64_t tot = at;
        if (rc == STRATA_OK) rc = cm->allreduce(cm->ctx, j->err, &tot, 1, ST_COMM_SUM);
        if (rc < 0) break;
        if (tot > pos) { /* the pivot and what follows are past the cut */
            hi = at;
        } else if (tot == pos) {
            *cut = at;
            break;
        } else { /* what comes before the pivot, and the pivot, are within it */
            lo = best == cm->rank ? at + 1 : at;
        }
    }
    free(lens);
    free(sv->props);
    free(sv->rprops);
    free(weight);
    return rc;
}

/* The global position of process R's first row of the N sorted rows: r * (N / size), rounded
 * to the nearest whole output batch, so that every process writes the batches one process
 * would (at most N; N for R == size). Rounded down, the first process of two sorting 20 M rows
 * took 8.4 M of them in batches of 2 Mi (1.16 times the mean for the other); to the nearest,
 * 10.5 M. */
static uint64_t range_start(const st_upd_job *j, uint64_t n, int r)
{
    if (r >= j->comm->size) return n;
    uint64_t at = (uint64_t)r * (n / (uint64_t)j->comm->size);
    at = (at + j->out_rows / 2) / j->out_rows * j->out_rows;
    return at < n ? at : n;
}

/* The cuts of this process's N sorted rows V for every process (CUTS[0..size]): process r takes
 * the rows from range_start(r), its own into *FIRST. */
static int spread_cuts(st_upd_job *j, sview *v, uint64_t n, uint64_t rows, uint64_t *cuts,
                       uint64_t *first)
{
    const st_comm *cm = j->comm;
    int rc = STRATA_OK;
    cuts[0] = 0;
    cuts[cm->size] = rows;
    *first = 0;
    for (int r = 1; r < cm->size && rc == STRATA_OK; r++) {
        uint64_t pos = range_start(j, n, r);
        if (r == cm->rank) *first = pos;
        rc = select_cut(j, v, pos, cuts[r - 1], rows, &cuts[r]);
    }
    return rc;
}

/* Whether the sort of N source rows is spread: every process decides alike, from the same
 * numbers. Each holds its block three times (sorted, sent, received); an exchange is at most
 * 2^31 words. */
static int sort_spreads(const st_upd_job *j, const plan *p, uint64_t n, size_t nold)
{
    double per = (double)n / j->comm->size * 1.25 + 1024, need = 3 * per * p->row_bytes;
    return nold == 0 && (j->o->mem == 0 || need <= (double)j->o->mem / 2) &&
           per * p->row_bytes < 12e9;
}

/* This process's rows [A, E) of S sorted into *T (an empty table when it has none). */
static int sort_local(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t a, uint64_t e,
                      st_table *t)
{
    if (e > a) return sorted_chunk(j, s, p, a, e, t);
    memset(t, 0, sizeof *t);
    t->n = p->nc;
    for (int c = 0; c < p->nc; c++) t->dt[c] = STRATA_U64;
    return STRATA_OK;
}

/* One exchange: rows [LC[r * NR + T], LC[r * NR + T + 1]) of table V go to process r, and what
 * every process sends this one is decoded into TABS (pointing into *ALL, which the caller frees
 * with st_free_big) as RUNS of a merge, in rank order. RC: this process's state so far (the
 * processes agree on it before they exchange). */
static int exchange_runs(st_upd_job *j, const plan *p, const st_table *v, const uint64_t *lc,
                         uint64_t nr, uint64_t t, int rc, char **all, st_table *tabs, srun *runs)
{
    const st_comm *cm = j->comm;
    tbuf b = {0};
    uint64_t *sl = calloc((size_t)cm->size, 8), *rl = calloc((size_t)cm->size, 8);
    if (rc == STRATA_OK && (sl == NULL || rl == NULL))
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    for (int r = 0; r < cm->size && rc == STRATA_OK; r++) {
        uint64_t n0 = b.n, from = lc[(uint64_t)r * nr + t], to = lc[(uint64_t)r * nr + t + 1];
        rc = table_encode_range(j, &b, v, from, to - from, p->nc);
        sl[r] = b.n - n0;
    }
    rc = st_comm_agree(cm, j->err, rc);
    if (rc == STRATA_OK) rc = cm->alltoallv(cm->ctx, j->err, b.p, sl, (void **)all, rl);
    free(b.p);
    const char *q = *all;
    for (int r = 0; r < cm->size && rc == STRATA_OK; r++) {
        const char *end = q + rl[r];
        rc = table_decode(j, &q, end, p->nc, &tabs[r]);
        runs[r] = (srun){.kind = RUN_MEM, .id = r, .mem = &tabs[r]};
        if (j->work != NULL) *j->work += tabs[r].rows; /* the rows this process merges */
    }
    free(sl);
    free(rl);
    return rc;
}

/* Rows of T cut for each process (CUTS[0..size], from 0 to T's rows) sent, and the rows of this
 * process's range from every process received as runs and merged into the output. FIRST: the
 * global position of this process's first row. */
static int sort_exchange(st_upd_job *j, const plan *p, const st_table *t, const uint64_t *cuts,
                         uint64_t first)
{
    const st_comm *cm = j->comm;
    st_table *tabs = calloc((size_t)cm->size, sizeof *tabs);
    srun *runs = calloc((size_t)cm->size + 1, sizeof *runs);
    char *all = NULL;
    int rc = tabs && runs ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory");
    rc = exchange_runs(j, p, t, cuts, 1, 0, rc, &all, tabs, runs);
    if (rc == STRATA_OK) {
        if (st_upd_root(j)) st_upd_retire(j);
        lsm_start(j, p);
        j->lsm.part = LSM_GAP * (int64_t)(first / j->out_rows + 1);
        rc = merge_runs(j, p, runs, (size_t)cm->size, UINT64_MAX, NULL);
    }
    st_free_big(all);
    free(runs);
    free(tabs);
    return rc;
}

/* The NR runs of records at BUF (run r: LENS[r] records, consecutive) merged pairwise, round by
 * round, between BUF and TMP (room for all), until two or fewer are left; into D's runs. */
static void rec_runs(direct *d, st_srec *buf, st_srec *tmp, uint64_t *lens, int nr)
{
    while (nr > 2) {
        uint64_t at = 0, ta, tb;
        int k = 0;
        for (int r = 0; r < nr; r += 2, k++) {
            uint64_t nb = r + 1 < nr ? lens[r + 1] : 0;
            rec_merge2(buf + at, lens[r], buf + at + lens[r], nb, tmp + at, UINT64_MAX, &ta, &tb);
            at += lens[r] + nb;
            lens[k] = lens[r] + nb;
        }
        nr = k;
        st_srec *x = buf;
        buf = tmp;
        tmp = x;
    }
    d->rec = buf;
    d->run[0] = buf;
    d->rlen[0] = lens[0];
    d->run[1] = buf + lens[0];
    d->rlen[1] = nr > 1 ? lens[1] : 0;
}

/* Records per piece of swap_records: 1 MiB, so that the copy a piece is sent from stays in the
 * caches. */
#define SWAP_PIECE ((uint64_t)1 << 16)

/* Two processes swap records in place: this process's SN records at SEND go to the other, whose
 * RN records land at RECV, at or before SEND (the two ranges may overlap). Piece by piece, each
 * piece sent from a copy and received only over pieces already copied: the records land in pages
 * this process has touched already (receiving 160 MB into fresh pages took 0.08 s on the 2-core
 * VM, nearly all of it the kernel clearing and mapping them). */
static int swap_records(st_upd_job *j, const st_srec *send, uint64_t sn, st_srec *recv, uint64_t rn)
{
    const st_comm *cm = j->comm;
    int peer = 1 - cm->rank;
    uint64_t told = 0;
    int rc = cm->sendrecv(cm->ctx, j->err, peer, &sn, 8, &told, 8);
    if (rc == STRATA_OK && told != rn)
        rc = st_error(j->err, STRATA_ECORRUPT,
                      "process %d sends %llu sorted rows where this one expects %llu", peer,
                      (unsigned long long)told, (unsigned long long)rn);
    st_srec *copy = rc == STRATA_OK ? malloc(SWAP_PIECE * sizeof *copy) : NULL;
    if (rc == STRATA_OK && copy == NULL) rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    rc = st_comm_agree(cm, j->err, rc);
    for (uint64_t at = 0; rc == STRATA_OK && (at < sn || at < rn); at += SWAP_PIECE) {
        uint64_t k = at < sn ? sn - at : 0, r = at < rn ? rn - at : 0;
        k = k < SWAP_PIECE ? k : SWAP_PIECE;
        r = r < SWAP_PIECE ? r : SWAP_PIECE;
        if (k > 0) memcpy(copy, send + at, k * sizeof *copy);
        rc = cm->sendrecv(cm->ctx, j->err, peer, copy, k * sizeof *copy, r > 0 ? recv + at : recv,
                          r * sizeof *copy);
    }
    free(copy);
    return rc;
}

/* Records a process of two keeps room for around its M sorted ones at REC, so that what the
 * other sends lands beside them (swap_records): its range's OWN rows in all; process 1 before
 * its records (*FRONT), process 0 after them. */
static uint64_t two_room(const st_upd_job *j, uint64_t m, uint64_t own, uint64_t *front)
{
    *front = j->comm->rank == 1 && own > m ? own - m : 0;
    return j->comm->rank == 1 ? *front + m : m > own ? m : own;
}

/* The records of a process of two exchanged (swap_records) once CUTS[0..2] cut its M sorted ones
 * at REC for the two (FRONT records of room before REC, ROOM in all): its own range's (OWN
 * rows) into D's two runs, in the order of the processes. */
static int rec_two(st_upd_job *j, direct *d, st_srec *rec, const uint64_t *cuts, uint64_t m,
                   uint64_t own, uint64_t front, uint64_t room)
{
    int me = j->comm->rank;
    uint64_t keep = cuts[me + 1] - cuts[me], rn = own - keep, sn = m - keep;
    const st_srec *send = rec + (me == 0 ? cuts[1] : 0);
    /* process 0 receives where it sends from; process 1 ends what it receives at its own rows
     * (or starts it where it sends from, when it receives fewer than it sends) */
    st_srec *recv = me == 0 ? rec + cuts[1] : rn > cuts[1] ? rec - (rn - cuts[1]) : rec;
    if (me == 0 ? cuts[1] + rn > room : rn > cuts[1] + front)
        return st_comm_agree(j->comm, j->err,
                             st_error(j->err, STRATA_ECORRUPT,
                                      "the sort's cut leaves no room for the rows received"));
    int rc = st_comm_agree(j->comm, j->err, STRATA_OK);
    if (rc == STRATA_OK) rc = swap_records(j, send, sn, recv, rn);
    d->run[me] = rec + cuts[me];
    d->rlen[me] = keep;
    d->run[1 - me] = recv;
    d->rlen[1 - me] = rn;
    d->rec = d->run[0];
    return rc;
}

/* The sort of the new source rows of S spread over the processes when direct_ok() holds: each
 * sorts its block of batches into 16-byte records (st_argsort_segs), the processes agree on the
 * cuts, each sends every other the records of its range, merges what it receives and writes its
 * range straight from the records and the mapped batches (direct_write); N: the new rows. */
static int rec_spread(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t consumed,
                      uint64_t n)
{
    const st_comm *cm = j->comm;
    direct d;
    uint64_t lo, hi, first = 0, got = 0, front = 0;
    own_batches(j, s, consumed, &lo, &hi);
    int rc = direct_open(j, s, p, consumed, &d), two = cm->size == 2;
    size_t o = (size_t)(lo - consumed), nseg = (size_t)(hi - lo);
    uint64_t m = d.start[o + nseg] - d.start[o], room = m;
    uint64_t own = range_start(j, n, cm->rank + 1) - range_start(j, n, cm->rank);
    if (two) room = two_room(j, m, own, &front);
    st_srec *base = st_alloc_big(room * sizeof *base + 1), *all = NULL, *tmp = NULL;
    st_srec *rec = base != NULL ? base + front : NULL;
    uint64_t *cuts = calloc((size_t)cm->size + 1, sizeof *cuts);
    uint64_t *sl = calloc((size_t)cm->size, 8), *rl = calloc((size_t)cm->size, 8);
    if (rc == STRATA_OK && (base == NULL || cuts == NULL || sl == NULL || rl == NULL))
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory sorting %llu rows",
                      (unsigned long long)m);
    if (rc == STRATA_OK && nseg > 0) {
        strata_dtype kt = (strata_dtype)st_snapshot_schema(s)->cat[p->src[1]].dtype;
        uint64_t hint[2];
        int hinted = key_hint(s, p->src[1], consumed, d.desc, hint);
        rc = st_argsort_segs(kt, d.seg[1] + o, d.start + o, nseg, d.desc, hinted ? hint : NULL, rec,
                             NULL, NULL, j->nt);
        if (rc < 0)
            rc = st_error(j->err, rc, "out of memory sorting %llu rows", (unsigned long long)m);
    }
    if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total / 2, m);
    rc = st_comm_agree(cm, j->err, rc);
    sview v = {.p = p, .rec = rec};
    if (rc == STRATA_OK) rc = spread_cuts(j, &v, n, m, cuts, &first);
    if (rc == STRATA_OK && two) {
        rc = rec_two(j, &d, rec, cuts, m, own, front, room);
        got = own;
    } else if (rc == STRATA_OK) { /* more than two: the runs merged down to two first */
        for (int r = 0; r < cm->size; r++) sl[r] = (cuts[r + 1] - cuts[r]) * sizeof *rec;
        rc = cm->alltoallv(cm->ctx, j->err, rec, sl, (void **)&all, rl);
        for (int r = 0; r < cm->size && rc == STRATA_OK; r++) got += rl[r] /= sizeof *rec;
        st_free_big(base), base = NULL;
        if (rc == STRATA_OK && (tmp = st_alloc_big(got * sizeof *tmp + 1)) == NULL)
            rc = st_error(j->err, STRATA_ENOMEM, "out of memory merging %llu rows",
                          (unsigned long long)got);
        if (rc == STRATA_OK) rec_runs(&d, all, tmp, rl, cm->size);
    }
    if (rc == STRATA_OK && (d.blk = malloc(DIRECT_BLOCK * sizeof *d.blk)) == NULL)
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory merging %llu rows",
                      (unsigned long long)got);
    if (rc == STRATA_OK) {
        if (j->work != NULL) *j->work += got; /* the rows this process merges */
        if (st_upd_root(j)) st_upd_retire(j);
        lsm_start(j, p);
        j->lsm.part = LSM_GAP * (int64_t)(first / j->out_rows + 1);
        rc = direct_write(j, &d, got);
    }
    free(d.blk);
    direct_close(s, consumed, &d);
    st_free_big(base);
    st_free_big(all);
    st_free_big(tmp);
    free(cuts);
    free(sl);
    free(rl);
    return rc;
}

/* Rows per sorted chunk of N rows within the budget: half of it (the rest is for the merge). */
static uint64_t chunk_rows(const st_upd_job *j, const plan *p, uint64_t n)
{
    uint64_t chunk = n > 0 ? n : 1;
    double rows = (double)j->o->mem / 2 / p->row_bytes;
    if (j->o->mem > 0 && rows < (double)chunk) chunk = rows < 1024 ? 1024 : (uint64_t)rows;
    return chunk;
}

/* Rows per window of each of NR spilled runs merged: they share half of the budget. */
static uint64_t window_rows(const st_upd_job *j, const plan *p, size_t nr)
{
    if (j->o->mem == 0) return UINT64_MAX;
    double rows = (double)j->o->mem / 2 / (double)(nr + 1) / (p->row_bytes + 16);
    return rows < 1024 ? 1024 : (uint64_t)rows / 8 * 8;
}

/* Source rows [A, E) of S sorted into one run spilled to OUT, within the budget: chunks sorted
 * and spilled, then merged through windows. */
static int local_run(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t a, uint64_t e,
                     spill *out)
{
    uint64_t chunk = chunk_rows(j, p, e - a), nchunks = (e - a + chunk - 1) / chunk;
    if (nchunks <= 1) {
        st_table t;
        int rc = sort_local(j, s, p, a, e, &t);
        if (rc == STRATA_OK) rc = spill_write(j, &t, out);
        st_table_free(&t);
        return rc;
    }
    spill *sp = calloc(nchunks, sizeof *sp);
    srun *runs = calloc(nchunks, sizeof *runs);
    int rc = sp && runs ? STRATA_OK : st_error(j->err, STRATA_ENOMEM, "out of memory");
    uint64_t win = window_rows(j, p, nchunks);
    for (uint64_t c = 0; c < nchunks && rc == STRATA_OK; c++) {
        uint64_t r0 = a + c * chunk, r1 = r0 + chunk < e ? r0 + chunk : e;
        st_table t;
        if ((rc = sorted_chunk(j, s, p, r0, r1, &t)) < 0) break;
        rc = spill_write(j, &t, &sp[c]);
        st_table_free(&t);
        j->st->runs_spilled++;
        runs[c] = (srun){.kind = RUN_SPILL, .id = (int)c, .sp = &sp[c], .win = win};
    }
    if (rc == STRATA_OK) rc = merge_runs(j, p, runs, (size_t)nchunks, UINT64_MAX, out);
    j->st->runs_spilled += rc == STRATA_OK;
    for (uint64_t c = 0; sp != NULL && c < nchunks; c++) spill_free(&sp[c]);
    free(sp);
    free(runs);
    return rc;
}

/* The rows of this process's spilled sorted run L in view as the table *T (through R's maps:
 * run_unmap() releases them); an empty one when L has none. */
static int run_view(st_upd_job *j, strata_snapshot *s, const plan *p, const spill *l, srun *r,
                    st_table *t)
{
    memset(r, 0, sizeof *r);
    *r = (srun){.kind = RUN_SPILL, .sp = l, .win = UINT64_MAX};
    if (l->rows == 0) return sort_local(j, s, p, 0, 0, t);
    int rc = run_next(j, r, p->nc);
    *t = r->cur;
    return rc < 0 ? rc : STRATA_OK;
}

/* The global position where piece Q of NR per process starts: process q / NR's range cut in
 * pieces of ROUND rows (the last ones empty when its range is shorter). */
static uint64_t piece_start(const st_upd_job *j, uint64_t n, uint64_t q, uint64_t nr,
                            uint64_t round)
{
    int r = (int)(q / nr);
    uint64_t a = range_start(j, n, r), e = range_start(j, n, r + 1);
    uint64_t at = a + (q % nr) * round;
    return at < e ? at : e;
}

/* Round T of sort_rounds: the pieces T of every process's range cut from this process's run
 * (its rows [LC[r * NR + T], LC[r * NR + T + 1]) go to process r), sent, and the pieces this
 * process receives merged on into M. */
static int sort_round(st_upd_job *j, strata_snapshot *s, const plan *p, const spill *loc,
                      const uint64_t *lc, uint64_t nr, uint64_t t, mwriter *m)
{
    const st_comm *cm = j->comm;
    st_table *tabs = calloc((size_t)cm->size, sizeof *tabs), v;
    srun *runs = calloc((size_t)cm->size + 1, sizeof *runs), vr;
    char *all = NULL;
    memset(&vr, 0, sizeof vr);
    memset(&v, 0, sizeof v);
    int rc = tabs && runs ? run_view(j, s, p, loc, &vr, &v)
                          : st_error(j->err, STRATA_ENOMEM, "out of memory");
    rc = exchange_runs(j, p, &v, lc, nr, t, rc, &all, tabs, runs);
    run_unmap(&vr);
    st_table_free(&v);
    if (rc == STRATA_OK) rc = merge_into(j, p, runs, (size_t)cm->size, UINT64_MAX, m);
    st_free_big(all);
    free(runs);
    free(tabs);
    return rc;
}

/* A sort from scratch spread over the processes when a process's share does not fit its budget
 * (sort_spreads): each sorts its block into one run spilled to disk (local_run); the sorted
 * sequence is cut for the processes as by spread_cuts, and each process's range again into
 * pieces of ROUND rows; round t exchanges the pieces t of every range (one alltoallv of about
 * ROUND rows each way), and each process merges what it receives on into its output. */
static int sort_rounds(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t consumed,
                       uint64_t n)
{
    const st_comm *cm = j->comm;
    uint64_t a, e, nr = 1, size = (uint64_t)cm->size;
    own_rows(j, s, consumed, &a, &e);
    spill loc;
    memset(&loc, 0, sizeof loc);
    int rc = local_run(j, s, p, a, e, &loc);
    if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total / 2, e - a);
    /* a round's rows are held three times: sent, received, decoded */
    double fit = j->o->mem > 0 ? (double)j->o->mem / 2 / 3 / p->row_bytes : 4e9 / p->row_bytes;
    uint64_t round = fit < 1024 ? 1024 : (uint64_t)fit;
    for (int r = 0; r < cm->size; r++) {
        uint64_t len = range_start(j, n, r + 1) - range_start(j, n, r);
        if ((len + round - 1) / round > nr) nr = (len + round - 1) / round;
    }
    uint64_t *lc = calloc(size * nr + 1, sizeof *lc);
    if (rc == STRATA_OK && lc == NULL) rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    rc = st_comm_agree(cm, j->err, rc);
    srun vr;
    st_table v;
    memset(&vr, 0, sizeof vr);
    if (rc == STRATA_OK) rc = run_view(j, s, p, &loc, &vr, &v);
    sview sv = {.p = p, .t = &v};
    for (uint64_t q = 1; q < size * nr && rc == STRATA_OK; q++) {
        uint64_t at = piece_start(j, n, q, nr, round);
        if (at == piece_start(j, n, q - 1, nr, round))
            lc[q] = lc[q - 1];
        else
            rc = select_cut(j, &sv, at, lc[q - 1], v.rows, &lc[q]);
    }
    if (lc != NULL) lc[size * nr] = loc.rows;
    run_unmap(&vr);
    if (rc == STRATA_OK) st_table_free(&v);
    mwriter m;
    int mrc = mw_init(&m, j, p->nc, 4096);
    if (rc == STRATA_OK && mrc < 0) rc = st_error(j->err, STRATA_ENOMEM, "out of memory merging");
    if (rc == STRATA_OK) {
        if (st_upd_root(j)) st_upd_retire(j);
        lsm_start(j, p);
        j->lsm.part = LSM_GAP * (int64_t)(range_start(j, n, cm->rank) / j->out_rows + 1);
    }
    for (uint64_t t = 0; t < nr && rc == STRATA_OK; t++) {
        rc = sort_round(j, s, p, &loc, lc, nr, t, &m);
        if (rc == STRATA_OK)
            rc = st_upd_progress(j, j->ev.total / 2 + j->ev.total / 2 * (t + 1) / nr, 0);
        rc = st_comm_agree(cm, j->err, rc);
    }
    if (rc == STRATA_OK) rc = mw_cut(&m);
    if (rc == STRATA_OK) j->carry_to = p->nc;
    j->lsm.on = 0;
    mw_free(&m);
    spill_free(&loc);
    free(lc);
    return rc;
}

/* The sort of the new source rows of S (batches from CONSUMED on) spread over the processes. */
static int sort_spread(st_upd_job *j, strata_snapshot *s, const plan *p, uint64_t consumed)
{
    const st_comm *cm = j->comm;
    uint64_t a, e,
        n = st_snapshot_row_start(s)[st_snapshot_nbatches(s)] - st_snapshot_row_start(s)[consumed];
    if (direct_ok(s, p, 0, consumed)) {
        int rc = rec_spread(j, s, p, consumed, n);
        if (rc == STRATA_OK) j->carry_to = p->nc;
        j->lsm.on = 0;
        return rc;
    }
    own_rows(j, s, consumed, &a, &e);
    st_table t;
    int rc = sort_local(j, s, p, a, e, &t);
    if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total / 2, e - a);
    uint64_t *cuts = calloc((size_t)cm->size + 1, sizeof *cuts), first = 0;
    if (rc == STRATA_OK && cuts == NULL) rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    rc = st_comm_agree(cm, j->err, rc);
    sview v = {.p = p, .t = &t};
    if (rc == STRATA_OK) rc = spread_cuts(j, &v, n, t.rows, cuts, &first);
    if (rc == STRATA_OK) rc = sort_exchange(j, p, &t, cuts, first);
    if (rc == STRATA_OK) j->carry_to = p->nc;
    j->lsm.on = 0;
    st_table_free(&t);
    free(cuts);
    return rc;
}

/* ---- the refresh ---------------------------------------------------------------------------- */

int st_upd_order(st_upd_job *j, const st_dspec *sp, strata_snapshot *s, const int *keycols,
                 uint64_t consumed, size_t nold)
{
    plan p;
    memset(&p, 0, sizeof p);
    p.sp = sp;
    p.nk = sp->op == ST_OP_SORT ? sp->nkeys : 1;
    p.nc = 1 + p.nk;
    p.src[0] = -1;
    for (int k = 0; k < p.nk; k++) p.src[1 + k] = keycols[k];
    plan_carry(j, s, nold, &p);
    uint64_t r0 = st_snapshot_row_start(s)[consumed],
             r1 = st_snapshot_row_start(s)[st_snapshot_nbatches(s)], n = r1 - r0;
    plan_size(j, s, r0, r1, &p);
    int fits = j->o->mem == 0 || (double)n * p.row_bytes <= (double)j->o->mem / 2;
    int lsm = lsm_ok(j, &p, nold) && fits;
    if (st_comm_many(j->comm) && sp->op == ST_OP_SORT) { /* spread, or the root alone */
        int rc = sort_spreads(j, &p, n, nold) ? sort_spread(j, s, &p, consumed)
                 : nold == 0                  ? sort_rounds(j, s, &p, consumed, n)
                 : lsm || st_upd_root(j)      ? 1
                                              : STRATA_OK;
        if (rc != 1) {
            plan_free(&p);
            return rc;
        }
    }
    if (lsm) {
        int rc = lsm_absorb(j, s, &p, r0, r1, nold);
        if (rc == STRATA_OK) j->carry_to = p.nc;
        j->lsm.on = 0;
        plan_free(&p);
        return rc;
    }
    /* a global top-k's previous output is its K rows: few new rows make a small step */
    if (nold > 0 && sp->op != ST_OP_SORT) st_upd_threads(j, n);
    uint64_t chunk = chunk_rows(j, &p, n);
    if (st_comm_many(j->comm) && sp->op != ST_OP_SORT) {
        int rc = topk_spread(j, s, &p, consumed, chunk, nold);
        plan_free(&p);
        return rc;
    }
    st_upd_retire(j);
    lsm_start(j, &p);
    if (direct_ok(s, &p, nold, consumed) &&
        (j->o->mem == 0 || (double)n * p.row_bytes <= (double)j->o->mem / 2)) {
        int rc = direct_sort(j, s, &p, consumed);
        if (rc == STRATA_OK) j->carry_to = p.nc;
        j->lsm.on = 0;
        plan_free(&p);
        return rc;
    }
    uint64_t nchunks = (n + chunk - 1) / chunk;
    uint64_t limit = sp->op == ST_OP_SORT ? UINT64_MAX : sp->k;
    /* The previous output is one run, or when partitioned one run per partition's run, in
     * order: ties go to the partition, then the run, that came first. */
    size_t *ord = NULL, np = 0, nprev = nold > 0;
    lpart *parts = NULL;
    int rc = STRATA_OK;
    if (nold > 0 && ST_UPD_WB(j, 0).b.part > 0) {
        rc = lsm_parts(j, nold, &ord, &parts, &np);
        nprev = nold;
    }
    size_t nr = nprev + (size_t)nchunks;
    srun *runs = calloc(nr + 1, sizeof *runs);
    spill *spills = calloc(nchunks + 1, sizeof *spills);
    st_table one;
    memset(&one, 0, sizeof one);
    if (rc == STRATA_OK && (runs == NULL || spills == NULL))
        rc = st_error(j->err, STRATA_ENOMEM, "out of memory");
    size_t r = 0;
    for (size_t b = 0; rc == STRATA_OK && b < nprev; b++, r++) {
        size_t at = ord != NULL ? ord[b] : 0, end = ord != NULL ? at + 1 : nold;
        runs[r] = (srun){.kind = RUN_DISK, .id = (int)r, .b = at, .nb = end};
    }
    /* Windows of the spilled runs share the other half of the budget. */
    uint64_t win = window_rows(j, &p, nr);
    for (uint64_t c = 0; c < nchunks && rc == STRATA_OK; c++) {
        uint64_t a = r0 + c * chunk, e = a + chunk < r1 ? a + chunk : r1;
        st_table t;
        if ((rc = sorted_chunk(j, s, &p, a, e, &t)) < 0) break;
        if (nchunks == 1) {
            one = t;
            runs[r] = (srun){.kind = RUN_MEM, .id = (int)r, .mem = &one};
            r++;
        } else {
            rc = spill_write(j, &t, &spills[c]);
            j->st->runs_spilled++;
            runs[r] = (srun){.kind = RUN_SPILL, .id = (int)r, .sp = &spills[c], .win = win};
            r++;
            st_table_free(&t);
        }
        if (rc == STRATA_OK) rc = st_upd_progress(j, j->ev.total * (c + 1) / nchunks, e - a);
    }
    if (rc == STRATA_OK) rc = merge_runs(j, &p, runs, r, limit, NULL);
    if (rc == STRATA_OK) j->carry_to = p.nc;
    j->lsm.on = 0;
    for (uint64_t c = 0; spills != NULL && c < nchunks; c++) spill_free(&spills[c]);
    st_table_free(&one);
    free(spills);
    free(runs);
    free(ord);
    free(parts);
    plan_free(&p);
    return rc;
}
