/*
 * partition.c -- a sorted dataset stored as key-range partitions, read as one total order.
 *
 * A full sort's output (src/derive/order.c) can be a sequence of partitions ordered by key:
 * partition P holds the rows whose key is at or after its first key and before the next
 * partition's first key. Each partition is a base run and the delta runs that later updates
 * added, each sorted by the key columns (the SORT_KEYS columns after the index), every row of a
 * later run coming from later source rows than those of earlier runs. In the catalog every run is
 * a batch (part, run); a snapshot shows each partition as one batch: the stable merge of its
 * runs, ties going to the earlier run, so the rows are those of one stable sort of the whole
 * source. A partition of one run is read straight from its files. For more, the merge is found
 * at the first read of the partition, as pieces of runs (the base's rows between the insertion
 * points of the deltas' rows, which are few), and each column read is copied piece by piece into
 * memory the snapshot owns until the batch is released.
 *
 * The batch a snapshot shows for partition P has the sequence number MAXSEQ + P, MAXSEQ being
 * the largest of the version: it changes whenever a batch is added anywhere, so a dataset
 * derived from this one (whose rows moved) sees a new first batch and is refreshed.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/bits.h"
#include "util/dtype.h"

/* ---- regrouping the catalog's batches ------------------------------------------------------ */

typedef struct pkey {
    int64_t part, run, seq;
    uint64_t at;
} pkey;

static int pkey_cmp(const void *a, const void *b)
{
    const pkey *x = a, *y = b;
    if (x->part != y->part) return x->part < y->part ? -1 : 1;
    if (x->run != y->run) return x->run < y->run ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The record of a partition's column: the sums and bounds of its runs' IN (one per run, STRIDE
 * apart); no file unless every run has the column. */
static void merge_bcol(strata_dtype dt, const st_cat_bcol *in, size_t stride, uint64_t nruns,
                       st_cat_bcol *out)
{
    *out = in[0];
    out->checksum = 0; /* it names no file of its own */
    for (uint64_t r = 1; r < nruns; r++) {
        const st_cat_bcol *c = &in[r * stride];
        if (c->file[0] == '\0') out->file[0] = '\0';
        if (out->valid_file[0] == '\0') memcpy(out->valid_file, c->valid_file, ST_CAT_FILE);
        out->bytes += c->bytes;
        out->nulls += c->nulls;
        if (c->version > out->version) out->version = c->version;
        if (c->has_minmax != out->has_minmax) {
            out->has_minmax = 0;
        } else if (c->has_minmax == 2) {
            out->min_f = c->min_f < out->min_f ? c->min_f : out->min_f;
            out->max_f = c->max_f > out->max_f ? c->max_f : out->max_f;
        } else if (c->has_minmax == 1 && dt == STRATA_U64) {
            if ((uint64_t)c->min_i < (uint64_t)out->min_i) out->min_i = c->min_i;
            if ((uint64_t)c->max_i > (uint64_t)out->max_i) out->max_i = c->max_i;
        } else if (c->has_minmax == 1) {
            out->min_i = c->min_i < out->min_i ? c->min_i : out->min_i;
            out->max_i = c->max_i > out->max_i ? c->max_i : out->max_i;
        }
    }
}

/* The catalog's batches of S, sorted into KEYS; the number of partitions, or an error. */
static int64_t sort_runs(strata_snapshot *s, pkey *keys)
{
    st_err *err = st_pool_err(s->pool);
    int64_t np = 0;
    for (uint64_t b = 0; b < s->nbatches; b++) {
        const st_cat_batch *cb = &s->batches[b];
        if (cb->part <= 0 || cb->sort_keys == 0 || cb->sort_keys != s->batches[0].sort_keys ||
            abs(cb->sort_keys) >= s->schema.ncols || abs(cb->sort_keys) > ST_CAT_SORT_KEYS)
            return st_error(err, STRATA_ECORRUPT,
                            "batch %lld of '%s/%s' (version %lld) is not a run of the dataset's "
                            "sorted partitions; run 'strata update --full %s/%s'",
                            (long long)cb->seq, s->d.region, s->d.name, (long long)s->version,
                            s->d.region, s->d.name);
        keys[b] = (pkey){cb->part, cb->run, cb->seq, b};
    }
    qsort(keys, s->nbatches, sizeof *keys, pkey_cmp);
    for (uint64_t b = 0; b < s->nbatches; b++) np += b == 0 || keys[b].part != keys[b - 1].part;
    return np;
}

int st_parts_open(strata_snapshot *s)
{
    uint64_t n = s->nbatches;
    size_t nc = (size_t)s->schema.ncols;
    int any = 0;
    for (uint64_t b = 0; b < n; b++) any |= s->batches[b].part > 0;
    if (!any) return STRATA_OK;
    st_err *err = st_pool_err(s->pool);
    pkey *keys = malloc(n * sizeof *keys);
    if (keys == NULL) return st_error(err, STRATA_ENOMEM, "out of memory opening a snapshot");
    int64_t np = sort_runs(s, keys);
    if (np < 0) {
        free(keys);
        return (int)np;
    }
    s->nphys = n;
    s->pbatches = malloc(n * sizeof *s->pbatches);
    s->pbcols = malloc(n * nc * sizeof *s->pbcols);
    s->parts = calloc((size_t)np, sizeof *s->parts);
    st_cat_batch *lb = calloc((size_t)np, sizeof *lb);
    st_cat_bcol *lc = calloc((size_t)np * nc + 1, sizeof *lc);
    int nomem =
        s->pbatches == NULL || s->pbcols == NULL || s->parts == NULL || lb == NULL || lc == NULL;
    s->pmaps = calloc(n * nc + 1, sizeof *s->pmaps);
    nomem |= s->pmaps == NULL;
    if (nomem) {
        free(keys);
        free(lb);
        free(lc);
        return st_error(err, STRATA_ENOMEM, "out of memory opening a snapshot");
    }
    int64_t maxseq = 0;
    for (uint64_t b = 0; b < n; b++) {
        s->pbatches[b] = s->batches[keys[b].at];
        memcpy(&s->pbcols[b * nc], &s->bcols[keys[b].at * nc], nc * sizeof *s->pbcols);
        if (s->pbatches[b].seq > maxseq) maxseq = s->pbatches[b].seq;
    }
    free(keys);
    int64_t p = -1, first_row = 0;
    for (uint64_t b = 0; b < n; b++) {
        const st_cat_batch *pb = &s->pbatches[b];
        if (p < 0 || pb->part != lb[p].part) {
            p++;
            s->parts[p].run0 = b;
            lb[p] = *pb;
            lb[p].seq = maxseq + 1 + p;
            lb[p].first_row = first_row;
            lb[p].nrows = 0;
            lb[p].run = 0;
        }
        s->parts[p].nruns++;
        lb[p].nrows += pb->nrows;
        lb[p].run = s->parts[p].nruns - 1; /* its delta runs */
        if (pb->version > lb[p].version) lb[p].version = pb->version;
        if (pb->created_ns > lb[p].created_ns) lb[p].created_ns = pb->created_ns;
        first_row += pb->nrows;
    }
    for (int64_t q = 0; q < np; q++)
        for (size_t c = 0; c < nc; c++)
            merge_bcol((strata_dtype)s->schema.cat[c].dtype, &s->pbcols[s->parts[q].run0 * nc + c],
                       nc, s->parts[q].nruns, &lc[(size_t)q * nc + c]);
    st_snapshot_drop_batches(s);
    s->batches = lb;
    s->bcols = lc;
    s->nbatches = (uint64_t)np;
    s->sort_keys = s->pbatches[0].sort_keys;
    return STRATA_OK;
}

static void unmap_run_col(strata_snapshot *s, uint64_t pb, int col)
{
    size_t i = pb * (size_t)s->schema.ncols + (size_t)col;
    st_bcmap_drop(s->pmaps, i);
}

void st_parts_close(strata_snapshot *s)
{
    if (s->parts == NULL) return;
    for (uint64_t pb = 0; pb < s->nphys; pb++)
        for (int c = 0; c < s->schema.ncols; c++) unmap_run_col(s, pb, c);
    for (uint64_t p = 0; p < s->nbatches; p++) free(s->parts[p].seg);
    free(s->pmaps);
    free(s->parts);
    free(s->pbatches);
    free(s->pbcols);
    s->parts = NULL;
}

/* Map column COL of run PB (a catalog batch of S). */
static int map_run_col(strata_snapshot *s, uint64_t pb, int col)
{
    size_t i = pb * (size_t)s->schema.ncols + (size_t)col;
    st_npy_map *m[ST_BCOL_FILES];
    if (st_bcmap_get(s->pmaps, i, m) < 0)
        return st_error(st_pool_err(s->pool), STRATA_ENOMEM, "out of memory");
    return st_snapshot_map_rec(s, &s->pbatches[pb], &s->pbcols[i], col, m);
}

/* Column COL of run PB, mapped. */
static st_pcol run_col(const strata_snapshot *s, uint64_t pb, int col)
{
    size_t i = pb * (size_t)s->schema.ncols + (size_t)col;
    const st_npy_map *m = *s->pmaps[i];
    return (st_pcol){m[0].data, m[1].data,
                     s->pbcols[i].valid_file[0] ? (const uint8_t *)m[2].data : NULL};
}

/* ---- the merge ----------------------------------------------------------------------------- */

typedef struct kmerge {
    const strata_dtype *dt; /* of key k: dt[k] */
    int nk, desc;
    const st_pcol *keys; /* run r's key k: keys[r * nk + k] */
    const uint64_t *n;   /* rows of run r */
    uint64_t *at;        /* the next row of run r to place */
    st_pseg *seg;
    size_t nseg, cap;
} kmerge;

/* Compare row I of run A with row J of run B by the keys; a null comes after every value,
 * ascending and descending, and equals another null (the order the sort wrote). */
static int key_cmp(const kmerge *m, uint32_t a, uint64_t i, uint32_t b, uint64_t j)
{
    const st_pcol *ka = &m->keys[(size_t)a * (size_t)m->nk],
                  *kb = &m->keys[(size_t)b * (size_t)m->nk];
    for (int k = 0; k < m->nk; k++) {
        int va = st_bit(ka[k].valid, i), vb = st_bit(kb[k].valid, j), c;
        if (!va || !vb) {
            if (va != vb) return va ? -1 : 1;
            continue;
        }
        if (m->dt[k] == STRATA_STR) {
            const int64_t *oa = ka[k].data, *ob = kb[k].data;
            size_t la = (size_t)(oa[i + 1] - oa[i]), lb = (size_t)(ob[j + 1] - ob[j]);
            int x = memcmp(ka[k].bytes + oa[i], kb[k].bytes + ob[j], la < lb ? la : lb);
            c = x != 0 ? (x < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
            if (m->desc) c = -c;
        } else {
            uint64_t x = st_sort_image(m->dt[k], ka[k].data, i, m->desc);
            uint64_t y = st_sort_image(m->dt[k], kb[k].data, j, m->desc);
            c = x < y ? -1 : x > y;
        }
        if (c != 0) return c;
    }
    return 0;
}

/* Whether run A's next row comes before run B's (by key, then by run). */
static int run_before(const kmerge *m, uint32_t a, uint32_t b)
{
    int c = key_cmp(m, a, m->at[a], b, m->at[b]);
    return c != 0 ? c < 0 : a < b;
}

static void heap_down(const kmerge *m, uint32_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < n && run_before(m, h[l], h[best])) best = l;
        if (l + 1 < n && run_before(m, h[l + 1], h[best])) best = l + 1;
        if (best == i) return;
        uint32_t t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

/* Rows [FROM, FROM + LEN) of run R come next. */
static int emit(kmerge *m, uint32_t r, uint64_t from, uint64_t len)
{
    if (len == 0) return STRATA_OK;
    st_pseg *last = m->nseg ? &m->seg[m->nseg - 1] : NULL;
    if (last != NULL && last->run == r && last->from + last->len == from) {
        last->len += len;
        return STRATA_OK;
    }
    if (m->nseg == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        st_pseg *g = realloc(m->seg, cap * sizeof *g);
        if (g == NULL) return STRATA_ENOMEM;
        m->seg = g;
        m->cap = cap;
    }
    m->seg[m->nseg++] = (st_pseg){from, len, r};
    return STRATA_OK;
}

/* The first row of run 0 at or after its next one whose key is after row I of run D
 * (galloping: the other runs' rows are few and sorted, so most answers are near). */
static uint64_t base_after(const kmerge *m, uint32_t d, uint64_t i)
{
    uint64_t lo = m->at[0], hi = lo, step = 1, n = m->n[0];
    while (hi < n && key_cmp(m, 0, hi, d, i) <= 0) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > n) hi = n;
    while (lo < hi) { /* the answer is in [lo, hi] */
        uint64_t mid = lo + (hi - lo) / 2;
        if (key_cmp(m, 0, mid, d, i) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- the merge by images: one fixed-width key without nulls -------------------------------- */

/* A run's next row in the heap of merge_images: its key's image, then its run. */
typedef struct ihead {
    uint64_t img;
    uint32_t run;
} ihead;

static inline int ihead_before(ihead a, ihead b)
{
    return a.img != b.img ? a.img < b.img : a.run < b.run;
}

static void ihead_down(ihead *h, size_t n, size_t i)
{
    ihead x = h[i];
    for (;;) {
        size_t l = 2 * i + 1, best = l;
        if (l >= n) break;
        if (l + 1 < n && ihead_before(h[l + 1], h[l])) best = l + 1;
        if (!ihead_before(h[best], x)) break;
        h[i] = h[best];
        i = best;
    }
    h[i] = x;
}

static inline uint64_t image_of(const kmerge *m, uint32_t r, uint64_t i)
{
    return st_sort_image(m->dt[0], m->keys[r].data, i, m->desc);
}

/* The first row of run 0 at or after its next one whose image is after X (galloping). */
static uint64_t base_after_image(const kmerge *m, uint64_t x)
{
    uint64_t lo = m->at[0], hi = lo, step = 1, n = m->n[0];
    while (hi < n && image_of(m, 0, hi) <= x) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > n) hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (image_of(m, 0, mid) <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The merge of st_merge_order when its one key is fixed-width and has no nulls: the heap holds
 * each run's next image, so that a step compares two integers, not two rows. The order is the
 * same: by image (the sort's), then by run. */
static int merge_images(kmerge *m, uint32_t nruns, ihead *h)
{
    size_t nh = 0;
    for (uint32_t r = 1; r < nruns; r++)
        if (m->at[r] < m->n[r]) h[nh++] = (ihead){image_of(m, r, m->at[r]), r};
    for (size_t i = nh; i-- > 0;) ihead_down(h, nh, i);
    int rc = STRATA_OK;
    while (nh > 0 && rc == STRATA_OK) {
        uint32_t d = h[0].run;
        uint64_t e = base_after_image(m, h[0].img);
        rc = emit(m, 0, m->at[0], e - m->at[0]);
        m->at[0] = e;
        if (rc == STRATA_OK) rc = emit(m, d, m->at[d], 1);
        if (++m->at[d] == m->n[d])
            h[0] = h[--nh];
        else
            h[0].img = image_of(m, d, m->at[d]);
        if (nh > 0) ihead_down(h, nh, 0);
    }
    return rc;
}

/* The merge of the general case: a heap of runs compared row against row by key_cmp(). */
static int merge_rows(kmerge *m, uint32_t nruns, uint32_t *h)
{
    size_t nh = 0;
    for (uint32_t r = 1; r < nruns; r++)
        if (m->at[r] < m->n[r]) h[nh++] = r;
    for (size_t i = nh; i-- > 0;) heap_down(m, h, nh, i);
    int rc = STRATA_OK;
    while (nh > 0 && rc == STRATA_OK) {
        uint32_t d = h[0];
        uint64_t e = base_after(m, d, m->at[d]);
        rc = emit(m, 0, m->at[0], e - m->at[0]);
        m->at[0] = e;
        if (rc == STRATA_OK) rc = emit(m, d, m->at[d], 1);
        if (++m->at[d] == m->n[d]) h[0] = h[--nh];
        heap_down(m, h, nh, 0);
    }
    return rc;
}

/* The rows of M's runs from AT[r] up to N[r], merged into M's pieces. */
static int merge_span(kmerge *m, uint32_t nruns, int images)
{
    void *h = malloc((nruns + 1) * (images ? sizeof(ihead) : sizeof(uint32_t)));
    if (h == NULL) return STRATA_ENOMEM;
    int rc = images ? merge_images(m, nruns, h) : merge_rows(m, nruns, h);
    if (rc == STRATA_OK && nruns > 0) rc = emit(m, 0, m->at[0], m->n[0] - m->at[0]);
    free(h);
    return rc;
}

/* The first row of run R in [LO, HI) whose key comes after row S of run 0 (HI if none). */
static uint64_t run_upper(const kmerge *m, int images, uint32_t r, uint64_t lo, uint64_t hi,
                          uint64_t s)
{
    uint64_t x = images ? image_of(m, 0, s) : 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (images ? image_of(m, r, mid) <= x : key_cmp(m, r, mid, 0, s) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* From this many rows of run 0 on, st_merge_order splits the merge over its threads. */
#define ST_MERGE_SPLIT ((uint64_t)1 << 16)

/* The pieces of PARTS[NP], in order, as one list in *SEG (*NSEG); a piece continuing the one
 * before it is joined to it. */
static int merge_join(kmerge *parts, int np, st_pseg **seg, size_t *nseg)
{
    size_t total = 0, at = 0;
    for (int k = 0; k < np; k++) total += parts[k].nseg;
    st_pseg *all = malloc((total ? total : 1) * sizeof *all);
    if (all == NULL) return STRATA_ENOMEM;
    for (int k = 0; k < np; k++) {
        const st_pseg *p = parts[k].seg;
        size_t m = parts[k].nseg;
        if (m > 0 && at > 0 && all[at - 1].run == p[0].run &&
            all[at - 1].from + all[at - 1].len == p[0].from) {
            all[at - 1].len += p[0].len;
            p++;
            m--;
        }
        if (m > 0) memcpy(all + at, p, m * sizeof *p);
        at += m;
    }
    *seg = all;
    *nseg = at;
    return STRATA_OK;
}

int st_merge_order(const strata_dtype *dt, int nk, int desc, const st_pcol *keys, const uint64_t *n,
                   uint32_t nruns, int nthreads, st_pseg **seg, size_t *nseg)
{
    int images = nk == 1 && dt[0] != STRATA_STR;
    for (uint32_t r = 0; r < nruns && images; r++) images = keys[r].valid == NULL;
    /* NP spans of keys, cut at rows of run 0 (every row of every run up to and including its
     * key, the next span after): merged each on its own, one after the other they are the
     * whole merge, the same for any NP. */
    int np = nruns > 1 && nthreads > 1 && n[0] >= ST_MERGE_SPLIT ? nthreads : 1;
    if (np > 8) np = 8;
    kmerge *parts = calloc((size_t)np, sizeof *parts);
    size_t w = nruns + 1; /* cut[k * w + r]: where span k starts in run r; AT: a copy, moved on */
    uint64_t *cut = calloc(((size_t)np + 1) * w, sizeof *cut), *at = calloc((size_t)np * w, 8);
    int rc = parts == NULL || cut == NULL || at == NULL ? STRATA_ENOMEM : STRATA_OK, prc[8] = {0};
    for (int k = 0; k < np && rc == STRATA_OK; k++) {
        parts[k] = (kmerge){.dt = dt, .nk = nk, .desc = desc, .keys = keys};
        parts[k].at = at + (size_t)k * w;
        parts[k].n = cut + (size_t)(k + 1) * w;
    }
    for (uint32_t r = 0; r < nruns && rc == STRATA_OK; r++) {
        cut[(size_t)np * w + r] = n[r];
        for (int k = 1; k < np; k++)
            cut[(size_t)k * w + r] = run_upper(&parts[0], images, r, cut[(size_t)(k - 1) * w + r],
                                               n[r], n[0] / (uint64_t)np * (uint64_t)k);
        for (int k = 0; k < np; k++) at[(size_t)k * w + r] = cut[(size_t)k * w + r];
    }
    if (rc == STRATA_OK) {
#pragma omp parallel for num_threads(np) schedule(static, 1)
        for (int k = 0; k < np; k++) prc[k] = merge_span(&parts[k], nruns, images);
        for (int k = 0; k < np && rc == STRATA_OK; k++) rc = prc[k];
    }
    if (rc == STRATA_OK && np == 1) {
        *seg = parts[0].seg;
        *nseg = parts[0].nseg;
        parts[0].seg = NULL;
    } else {
        rc = rc == STRATA_OK ? merge_join(parts, np, seg, nseg) : rc;
    }
    for (int k = 0; parts != NULL && k < np; k++) free(parts[k].seg);
    free(parts);
    free(cut);
    free(at);
    if (rc < 0) {
        *seg = NULL;
        *nseg = 0;
    }
    return rc;
}

/* Run BODY for each piece of rows [R0, R1) of the order SEG: rows [FROM, FROM + LEN) of run RUN,
 * which go to AT_ rows after R0. */
#define FOR_PIECES(seg, nseg, r0, r1, body)                                                        \
    do {                                                                                           \
        uint64_t pos_ = 0, at_ = 0;                                                                \
        for (size_t g_ = 0; g_ < (nseg) && pos_ < (r1); g_++) {                                    \
            const st_pseg *sg_ = &(seg)[g_];                                                       \
            uint64_t lo_ = pos_ > (r0) ? pos_ : (r0);                                              \
            uint64_t hi_ = pos_ + sg_->len < (r1) ? pos_ + sg_->len : (r1);                        \
            pos_ += sg_->len;                                                                      \
            if (lo_ >= hi_) continue;                                                              \
            uint32_t run = sg_->run;                                                               \
            uint64_t from = sg_->from + (lo_ - (pos_ - sg_->len)), len = hi_ - lo_;                \
            body;                                                                                  \
            at_ += len;                                                                            \
        }                                                                                          \
        (void)at_;                                                                                 \
    } while (0)

uint64_t st_merge_bytes(const st_pseg *seg, size_t nseg, const st_pcol *cols, uint64_t r0,
                        uint64_t r1)
{
    uint64_t total = 0;
    FOR_PIECES(seg, nseg, r0, r1, {
        const int64_t *o = cols[run].data;
        total += (uint64_t)(o[from + len] - o[from]);
    });
    return total;
}

/* LEN values of ESZ bytes from SRC to DST: a merge's pieces are mostly one value long. */
static inline void copy_values(char *dst, const char *src, uint64_t len, size_t esz)
{
    if (len == 1 && esz == 8)
        memcpy(dst, src, 8);
    else if (len == 1 && esz == 4)
        memcpy(dst, src, 4);
    else
        memcpy(dst, src, len * esz);
}

void st_merge_copy(strata_dtype dtype, const st_pseg *seg, size_t nseg, const st_pcol *cols,
                   uint64_t r0, uint64_t r1, void *out, char *obytes, uint8_t *ovalid)
{
    int str = dtype == STRATA_STR;
    size_t esz = str ? 8 : strata_dtype_size(dtype);
    uint64_t bat = 0;
    if (str) ((int64_t *)out)[0] = 0;
    FOR_PIECES(seg, nseg, r0, r1, {
        const st_pcol *c = &cols[run];
        if (str) {
            const int64_t *o = c->data;
            int64_t *oo = (int64_t *)out + at_;
            uint64_t blen = (uint64_t)(o[from + len] - o[from]);
            if (blen > 0) memcpy(obytes + bat, c->bytes + o[from], blen);
            for (uint64_t k = 1; k <= len; k++) oo[k] = (int64_t)bat + (o[from + k] - o[from]);
            bat += blen;
        } else {
            copy_values((char *)out + at_ * esz, (const char *)c->data + from * esz, len, esz);
        }
        if (ovalid != NULL) st_bits_copy(ovalid, at_, c->valid, from, len);
    });
}

/* Find the merged order of partition P of S. */
static int part_order(strata_snapshot *s, uint64_t p)
{
    st_part *pt = &s->parts[p];
    int nk = abs(s->sort_keys);
    strata_dtype dt[ST_CAT_SORT_KEYS];
    for (int k = 0; k < nk; k++) dt[k] = (strata_dtype)s->schema.cat[1 + k].dtype;
    st_pcol *keys = calloc(pt->nruns * (size_t)nk + 1, sizeof *keys);
    uint64_t *n = calloc(pt->nruns + 1, sizeof *n);
    int rc = keys == NULL || n == NULL ? STRATA_ENOMEM : STRATA_OK;
    for (uint64_t r = 0; r < pt->nruns && rc == STRATA_OK; r++) {
        uint64_t pb = pt->run0 + r;
        n[r] = (uint64_t)s->pbatches[pb].nrows;
        for (int k = 0; k < nk && rc == STRATA_OK; k++) {
            if ((rc = map_run_col(s, pb, 1 + k)) < 0) break;
            keys[r * (size_t)nk + (size_t)k] = run_col(s, pb, 1 + k);
        }
    }
    if (rc == STRATA_OK)
        rc = st_merge_order(dt, nk, s->sort_keys < 0, keys, n, (uint32_t)pt->nruns,
                            st_pool_threads(s->pool), &pt->seg, &pt->nseg);
    if (rc == STRATA_ENOMEM) rc = st_error(st_pool_err(s->pool), rc, "out of memory merging");
    free(keys);
    free(n);
    return rc;
}

/* A heap map of BYTES bytes (at least one) into M, holding COUNT elements of DTYPE. */
static void *heap_map(st_npy_map *m, size_t bytes, strata_dtype dtype, uint64_t count)
{
    memset(m, 0, sizeof *m);
    void *p = malloc(bytes + 1);
    if (p == NULL) return NULL;
    m->map = p;
    m->len = bytes + 1;
    m->heap = 1;
    m->data = p;
    m->info.dtype = dtype;
    m->info.count = count;
    return p;
}

/* Copy partition PT's column COL (its runs' files mapped) into MAPS. */
static int copy_pieces(strata_snapshot *s, const st_part *pt, int col, uint64_t n, int nulls,
                       st_npy_map *maps[ST_BCOL_FILES])
{
    strata_dtype dt = (strata_dtype)s->schema.cat[col].dtype;
    int str = dt == STRATA_STR;
    size_t esz = str ? 8 : strata_dtype_size(dt);
    st_pcol *cols = calloc(pt->nruns + 1, sizeof *cols);
    if (cols == NULL) return STRATA_ENOMEM;
    for (uint64_t r = 0; r < pt->nruns; r++) cols[r] = run_col(s, pt->run0 + r, col);
    uint64_t nbytes = str ? st_merge_bytes(pt->seg, pt->nseg, cols, 0, n) : 0;
    char *out = heap_map(maps[0], (n + (uint64_t)str) * esz, str ? STRATA_I64 : dt, n + str);
    char *ob = str ? heap_map(maps[1], nbytes, STRATA_U8, nbytes) : NULL;
    uint8_t *ov = nulls ? heap_map(maps[2], st_bits_bytes(n), STRATA_U8, st_bits_bytes(n)) : NULL;
    int rc = out == NULL || (str && ob == NULL) || (nulls && ov == NULL) ? STRATA_ENOMEM : 0;
    if (rc == STRATA_OK) st_merge_copy(dt, pt->seg, pt->nseg, cols, 0, n, out, ob, ov);
    free(cols);
    return rc;
}

int st_parts_map(strata_snapshot *s, uint64_t batch, int col)
{
    st_part *pt = &s->parts[batch];
    size_t nc = (size_t)s->schema.ncols, i = batch * nc + (size_t)col;
    st_err *err = st_pool_err(s->pool);
    int rc = STRATA_OK;
    if (s->bcols[i].file[0] == '\0') /* not computed for every run: the error names the first */
        for (uint64_t r = 0; r < pt->nruns && rc == STRATA_OK; r++)
            rc = map_run_col(s, pt->run0 + r, col);
    if (rc == STRATA_OK && pt->seg == NULL) rc = part_order(s, batch);
    for (uint64_t r = 0; r < pt->nruns && rc == STRATA_OK; r++)
        rc = map_run_col(s, pt->run0 + r, col);
    st_npy_map *maps[ST_BCOL_FILES];
    if (rc == STRATA_OK && st_bcmap_get(s->maps, i, maps) < 0)
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
    if (rc == STRATA_OK) {
        rc = copy_pieces(s, pt, col, (uint64_t)s->batches[batch].nrows,
                         s->bcols[i].valid_file[0] != '\0', maps);
        if (rc == STRATA_ENOMEM)
            rc = st_error(err, rc, "out of memory reading partition %llu of '%s/%s'",
                          (unsigned long long)batch, s->d.region, s->d.name);
        if (rc < 0)
            for (int f = 0; f < ST_BCOL_FILES; f++) st_npy_unmap(maps[f]);
    }
    /* the copy is all a reader needs: the runs' files go (the keys too, once ordered) */
    for (uint64_t r = 0; r < pt->nruns; r++) {
        unmap_run_col(s, pt->run0 + r, col);
        for (int k = 1; k <= abs(s->sort_keys); k++) unmap_run_col(s, pt->run0 + r, k);
    }
    return rc;
}
