/*
 * gdense.c -- the group-by of one key whose values span a small range: the group of a row is its
 * key minus the smallest key, an index into plain arrays; no hash, no probing.
 *
 * The arrays are an accumulator (st_gacc) that rows are folded into call by call: one call for
 * st_gdense() (one batch), one per batch for st_gfold (a group-by over every batch of a
 * dataset, without the groups of each batch being made and merged). A call's keys span a window
 * of the accumulator's range.
 *
 * Rows go in fixed-size blocks (ST_GDENSE_BLOCK, or larger for many groups and float sums, as a
 * function of the call's rows, its range and the float sums only). Threads take contiguous runs
 * of blocks. Within a block, the group index of a chunk of rows is computed once, then each
 * aggregate runs its own tight loop over the chunk. Counts, integer sums (wrapping, as
 * everywhere), minima and maxima are exact in any order: each thread keeps its own, across
 * calls, combined in thread order at the end (so that among equal minima of one call the
 * earliest row's wins, as in row order; float extrema therefore take one call only). A float
 * sum is not associative: each block keeps its partial sums, started at -0.0 (the identity of
 * addition, signed zeros included), the blocks are added in block order, and each call's sums
 * are added to the accumulator's in call order: the bits are those of st_groups_merge() of the
 * calls' groups, for any thread count. Key nulls are one more group, after every value.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/ops_int.h"
#include "util/fileio.h"

#define CHUNK 4096
#define AHEAD 512 /* rows a column is fetched ahead (a fault-around maps 16 pages) */

/* Whether the dense path takes aggregate IN (MANY: over several calls, inputs not yet known). */
static int takes(const st_gin *in, int many)
{
    switch (in->op) {
    case ST_AGG_COUNT:
        return 1;
    case ST_AGG_COUNT_COL:
    case ST_AGG_SUM:
    case ST_AGG_MEAN:
    case ST_AGG_MIN:
    case ST_AGG_MAX:
        if (in->rowid) return in->op == ST_AGG_MIN && in->valid == NULL;
        if (many) return !in->isf || (in->op != ST_AGG_MIN && in->op != ST_AGG_MAX);
        return in->isf ? in->fv != NULL : in->iv != NULL;
    default:
        return 0;
    }
}

/* Whether keys spanning RANGE + 1 values over N rows go dense: a small range, or one no wider
 * than twice the rows (arrays of the groups' size, as a hash table's would be, but no hashing or
 * probing). */
static int dense_range(uint64_t range, uint64_t n)
{
    return range < ST_GDENSE_MAX || (range < 2 * n && range < ST_GDENSE_LARGE);
}

/* The smallest and largest key word of the non-null rows; 0 if there is none. */
static int key_range(const int64_t *w, const int64_t *mask, uint64_t n, int nt, int64_t *lo,
                     int64_t *hi)
{
    int64_t a = INT64_MAX, b = INT64_MIN;
#pragma omp parallel for num_threads(nt) reduction(min : a) reduction(max : b) schedule(static)
    for (uint64_t r = 0; r < n; r++) {
        if (mask != NULL && mask[r] != 0) continue;
        a = w[r] < a ? w[r] : a;
        b = w[r] > b ? w[r] : b;
    }
    *lo = a;
    *hi = b;
    return a <= b;
}

/* What one thread accumulates: per group, its count, and per aggregate its non-null inputs and
 * integer sum or extremum (the words of a group side by side, WORDS apart from the next group's:
 * a row's updates touch one cache line), and float extrema; float sums go to block partials. */
typedef struct dpart {
    int bad;                         /* a key outside the range it was told */
    uint64_t firsts[ST_GROUP_SLOTS]; /* groups whose first row is known (row id slots) */
    int64_t *cnt;                    /* G * WORDS, the array of all the words */
    int64_t *nval[ST_GROUP_SLOTS];   /* within CNT, for inputs with nulls */
    int64_t *ival[ST_GROUP_SLOTS];   /* within CNT, for integer sums and extrema */
    double *fval[ST_GROUP_SLOTS];    /* G each, for float extrema */
} dpart;

/* The accumulator: G groups from key LO (the last one the null key's when MASK), per thread. */
typedef struct st_gacc {
    int nt, naggs, mask, nfs;
    int fused;      /* every slot one fold_fused() takes */
    int big;        /* the groups' words do not stay in the caches */
    uint64_t words; /* a group's words in a part (plan_words()) */
    int64_t init[2 * ST_GROUP_SLOTS + 1];
    uint64_t nval_w[ST_GROUP_SLOTS], ival_w[ST_GROUP_SLOTS];
    st_gin in[ST_GROUP_SLOTS]; /* what the slots are (their ops, float or not, nulls or not) */
    int fslot[ST_GROUP_SLOTS]; /* the float-sum index of a slot, else -1 */
    int same[ST_GROUP_SLOTS];  /* an earlier slot computing the same thing, else -1 */
    int64_t lo;
    uint64_t g;
    dpart *parts;
    double *facc;    /* nfs * g float sums, in call order */
    double *fblk;    /* one call's block partials */
    uint64_t fblk_n; /* doubles FBLK holds */
    uint32_t *idx;   /* nt * CHUNK group indices */
} st_gacc;

/* One call: its rows, and the window of the accumulator its keys span. */
typedef struct dplan {
    const st_gacc *acc;
    const int64_t *w, *mask;
    const st_gin *in;
    int64_t lo;   /* the call's smallest key: index 0 of its window */
    uint64_t off; /* the window's first group in the accumulator */
    int told;     /* the range came from the caller: check every key against it */
    uint64_t n, g, block, nblocks;
    double *fblk; /* nblocks * nfs * g partial float sums */
} dplan;

/* The arrays of part T as seen from a call's window. */
typedef struct dview {
    int64_t *cnt, *nval[ST_GROUP_SLOTS], *ival[ST_GROUP_SLOTS];
    double *fval[ST_GROUP_SLOTS];
} dview;

static int is_sum(int op)
{
    return op == ST_AGG_SUM || op == ST_AGG_MEAN;
}

/* SAME and FSLOT of the accumulator; slots share work only when they read the same inputs
 * (known in one call only: MANY keeps every slot its own). */
static void plan_slots(st_gacc *a, int many)
{
    a->nfs = 0;
    for (int s = 0; s < a->naggs; s++) {
        const st_gin *x = &a->in[s];
        a->same[s] = -1;
        for (int b = 0; b < s && a->same[s] < 0 && !many; b++) {
            const st_gin *y = &a->in[b];
            if (x->op != ST_AGG_COUNT && y->iv == x->iv && y->fv == x->fv && y->rowid == x->rowid &&
                y->row0 == x->row0 && y->valid == x->valid &&
                (y->op == x->op || (is_sum(y->op) && is_sum(x->op))))
                a->same[s] = b;
        }
        a->fslot[s] = a->same[s] < 0 && x->isf && is_sum(x->op) ? a->nfs++ : -1;
    }
}

/* Fold rows [R0, R1) (their group indices IDX) of aggregate A into view V / block partial FB. */
static void fold_chunk(const dplan *p, const dview *v, int a, const uint32_t *idx, uint64_t r0,
                       uint64_t r1, double *fb)
{
    const st_gin *in = &p->in[a];
    int64_t *nv = v->nval[a], *iv = v->ival[a];
    double *fv = v->fval[a];
    const uint8_t *valid = in->valid;
    uint64_t sw = p->acc->words;
    for (uint64_t r = r0; r < r1; r++) {
        uint32_t x = idx[r - r0];
        uint64_t xw = x * sw;
        if (valid != NULL && !st_gvalid(valid, r)) continue;
        if (valid != NULL) nv[xw]++;
        switch (in->op) {
        case ST_AGG_SUM:
        case ST_AGG_MEAN:
            if (in->isf)
                fb[x] += in->fv[r];
            else
                iv[xw] = (int64_t)((uint64_t)iv[xw] + (uint64_t)in->iv[r]);
            break;
        case ST_AGG_MIN:
            if (in->isf) {
                double d = in->fv[r];
                if (!isnan(d) && (isnan(fv[x]) || d < fv[x])) fv[x] = d;
            } else if (in->iv[r] < iv[xw]) {
                iv[xw] = in->iv[r];
            }
            break;
        case ST_AGG_MAX:
            if (in->isf) {
                double d = in->fv[r];
                if (!isnan(d) && (isnan(fv[x]) || d > fv[x])) fv[x] = d;
            } else if (in->iv[r] > iv[xw]) {
                iv[xw] = in->iv[r];
            }
            break;
        }
    }
}

/* The smallest row id of each group: its first row (rows go in order within a thread, and calls
 * in order). Once every group of the accumulator has one, the rest of the thread's rows change
 * nothing. */
static void fold_first_row(const dplan *p, dpart *t, const dview *v, int a, const uint32_t *idx,
                           uint64_t r0, uint64_t r1)
{
    if (t->firsts[a] == p->acc->g) return;
    const st_gin *in = &p->in[a];
    int64_t *iv = v->ival[a];
    uint64_t found = 0, sw = p->acc->words;
    for (uint64_t r = r0; r < r1; r++) {
        uint64_t xw = idx[r - r0] * sw;
        if (iv[xw] == INT64_MAX) {
            iv[xw] = in->row0 + (int64_t)r;
            found++;
        }
    }
    t->firsts[a] += found;
}

/* The common case without nulls, as loops the compiler keeps tight. */
static void fold_chunk_fast(const dplan *p, const dview *v, int a, const uint32_t *idx, uint64_t r0,
                            uint64_t r1, double *fb)
{
    const st_gin *in = &p->in[a];
    uint64_t m = r1 - r0;
    if (is_sum(in->op) && in->isf) {
        const double *d = in->fv + r0;
        for (uint64_t i = 0; i < m; i++) fb[idx[i]] += d[i];
    } else if (is_sum(in->op)) {
        const int64_t *d = in->iv + r0;
        uint64_t *s = (uint64_t *)v->ival[a], sw = p->acc->words;
        for (uint64_t i = 0; i < m; i++) s[idx[i] * sw] += (uint64_t)d[i];
    } else if (in->op != ST_AGG_COUNT_COL) {
        fold_chunk(p, v, a, idx, r0, r1, fb);
    }
}

/* The group indices of rows [R0, R0 + M) into IDX; 0 when a key is outside a told range. */
static int chunk_index(const dplan *p, uint64_t r0, uint64_t m, uint32_t *idx)
{
    const int64_t *w = p->w + r0;
    if (p->told) {
        uint64_t out = 0, top = p->g - 1;
        for (uint64_t i = 0; i < m; i++) {
            if ((i & 7) == 0) __builtin_prefetch(w + i + AHEAD);
            uint64_t d = (uint64_t)w[i] - (uint64_t)p->lo;
            out |= d > top;
            idx[i] = (uint32_t)d;
        }
        if (out) return 0;
    } else {
        for (uint64_t i = 0; i < m; i++) idx[i] = (uint32_t)((uint64_t)w[i] - (uint64_t)p->lo);
    }
    if (p->mask != NULL)
        for (uint64_t i = 0; i < m; i++)
            if (p->mask[r0 + i] != 0) idx[i] = (uint32_t)(p->g - 1);
    return 1;
}

/* The common case in one pass over rows [R0, R0 + M) (every slot a count, a sum without nulls
 * or the first row): a row's words are one cache line, fetched ahead when many. The group
 * indices go through IDX (some shapes compute them inline). 0: a key outside the told range. */
static int fold_fused(const dplan *p, dpart *t, const dview *v, uint32_t *idx, uint64_t r0,
                      uint64_t m, double *fbb)
{
    const st_gacc *acc = p->acc;
    uint64_t sw = acc->words, rw[ST_GROUP_SLOTS], iw[ST_GROUP_SLOTS];
    const int64_t *iv[ST_GROUP_SLOTS];
    const double *fv[ST_GROUP_SLOTS];
    double *fb[ST_GROUP_SLOTS];
    int64_t row0[ST_GROUP_SLOTS];
    int ni = 0, nf = 0, nr = 0, ra[ST_GROUP_SLOTS];
    for (int a = 0; a < acc->naggs; a++) {
        const st_gin *in = &p->in[a];
        if (acc->same[a] >= 0 || (!is_sum(in->op) && !in->rowid)) continue;
        if (in->rowid && t->firsts[a] < acc->g) {
            ra[nr] = a;
            row0[nr] = in->row0 + (int64_t)r0;
            rw[nr++] = acc->ival_w[a];
        } else if (!in->rowid && in->isf) {
            fb[nf] = fbb + (uint64_t)acc->fslot[a] * p->g;
            fv[nf++] = in->fv + r0;
        } else if (!in->rowid) {
            iw[ni] = acc->ival_w[a];
            iv[ni++] = in->iv + r0;
        }
    }
    uint64_t found[ST_GROUP_SLOTS] = {0};
    int64_t *cnt = v->cnt;
    if (ni <= 1 && nr == 0 && nf <= 1 && !acc->big && p->mask == NULL) {
        /* the commonest: one pass, the group index of each row computed in it; loops
         * unswitched. A key outside the range counts in group 0 before it is found out. */
        const int64_t *i0 = ni ? iv[0] : NULL, *w = p->w + r0;
        const double *f0 = nf ? fv[0] : NULL;
        double *b0 = nf ? fb[0] : NULL;
        uint64_t w0 = ni ? iw[0] : 0, top = p->g - 1, out = 0, lo = (uint64_t)p->lo;
        for (uint64_t i = 0; i < m; i++) {
            if ((i & 7) == 0) __builtin_prefetch(w + i + AHEAD);
            if ((i & 7) == 0 && ni) __builtin_prefetch(i0 + i + AHEAD);
            if ((i & 7) == 0 && nf) __builtin_prefetch(f0 + i + AHEAD);
            uint64_t x = (uint64_t)w[i] - lo;
            out |= x > top;
            x = x > top ? 0 : x;
            int64_t *rec = cnt + x * sw;
            rec[0]++;
            if (ni) rec[w0] = (int64_t)((uint64_t)rec[w0] + (uint64_t)i0[i]);
            if (nf) b0[x] += f0[i];
        }
        return !out;
    }
    if (!chunk_index(p, r0, m, idx)) return 0;
    for (uint64_t i = 0; i < m; i++) {
        if (acc->big && i + 16 < m) __builtin_prefetch(cnt + idx[i + 16] * sw, 1);
        for (int k = 0; (i & 7) == 0 && k < ni; k++) __builtin_prefetch(iv[k] + i + AHEAD);
        for (int k = 0; (i & 7) == 0 && k < nf; k++) __builtin_prefetch(fv[k] + i + AHEAD);
        uint32_t x = idx[i];
        int64_t *rec = cnt + x * sw;
        rec[0]++;
        for (int k = 0; k < ni; k++)
            rec[iw[k]] = (int64_t)((uint64_t)rec[iw[k]] + (uint64_t)iv[k][i]);
        for (int k = 0; k < nr; k++)
            if (rec[rw[k]] == INT64_MAX) {
                rec[rw[k]] = row0[k] + (int64_t)i;
                found[k]++;
            }
        for (int k = 0; k < nf; k++) fb[k][x] += fv[k][i];
    }
    for (int k = 0; k < nr; k++) t->firsts[ra[k]] += found[k];
    return 1;
}

static void fold_block(const dplan *p, dpart *t, uint64_t b, uint32_t *idx)
{
    const st_gacc *acc = p->acc;
    uint64_t end = (b + 1) * p->block < p->n ? (b + 1) * p->block : p->n;
    double *fbb = p->fblk + b * (uint64_t)acc->nfs * p->g;
    uint64_t sw = acc->words, ow = p->off * sw;
    dview v = {.cnt = t->cnt + ow};
    for (int a = 0; a < acc->naggs; a++) {
        v.nval[a] = t->nval[a] ? t->nval[a] + ow : NULL;
        v.ival[a] = t->ival[a] ? t->ival[a] + ow : NULL;
        v.fval[a] = t->fval[a] ? t->fval[a] + p->off : NULL;
    }
    for (uint64_t i = 0; i < (uint64_t)acc->nfs * p->g; i++) fbb[i] = -0.0;
    for (uint64_t r0 = b * p->block; r0 < end; r0 += CHUNK) {
        uint64_t r1 = r0 + CHUNK < end ? r0 + CHUNK : end, m = r1 - r0;
        if (acc->fused ? !fold_fused(p, t, &v, idx, r0, m, fbb) : !chunk_index(p, r0, m, idx)) {
            t->bad = 1;
            return;
        }
        if (acc->fused) continue;
        for (uint64_t i = 0; i < m; i++) v.cnt[idx[i] * sw]++;
        for (int a = 0; a < acc->naggs; a++) {
            if (acc->same[a] >= 0 || p->in[a].op == ST_AGG_COUNT) continue;
            double *fb = acc->fslot[a] >= 0 ? fbb + (uint64_t)acc->fslot[a] * p->g : NULL;
            if (p->in[a].rowid)
                fold_first_row(p, t, &v, a, idx, r0, r1);
            else if (p->in[a].valid == NULL)
                fold_chunk_fast(p, &v, a, idx, r0, r1, fb);
            else
                fold_chunk(p, &v, a, idx, r0, r1, fb);
        }
    }
}

/* The words of a group in a part: its count, then per slot its non-null inputs (when it has
 * nulls) and its integer value (when it keeps one); their offsets and first values. */
static void plan_words(st_gacc *acc)
{
    uint64_t w = 1;
    acc->init[0] = 0;
    for (int a = 0; a < acc->naggs; a++) {
        const st_gin *in = &acc->in[a];
        int op = in->op;
        if (acc->same[a] >= 0 || op == ST_AGG_COUNT) continue;
        if (in->valid != NULL) {
            acc->init[w] = 0;
            acc->nval_w[a] = w++;
        }
        if (op == ST_AGG_COUNT_COL || acc->fslot[a] >= 0 || in->isf) continue;
        acc->init[w] = op == ST_AGG_MIN ? INT64_MAX : op == ST_AGG_MAX ? INT64_MIN : 0;
        acc->ival_w[a] = w++;
    }
    acc->words = w;
    /* groups whose words do not stay in the caches: fetched ahead */
    acc->big = acc->g * w * sizeof(int64_t) > ((size_t)256 << 10);
    acc->fused = 1;
    for (int a = 0; a < acc->naggs; a++) {
        const st_gin *in = &acc->in[a];
        acc->fused &= acc->same[a] >= 0 || in->op == ST_AGG_COUNT || in->rowid ||
                      (in->valid == NULL && (is_sum(in->op) || in->op == ST_AGG_COUNT_COL));
    }
}

static int part_alloc(dpart *t, const st_gacc *acc)
{
    size_t g = acc->g, sw = acc->words;
    if ((t->cnt = st_alloc_big(g * sw * sizeof *t->cnt)) == NULL) return STRATA_ENOMEM;
    for (size_t x = 0; x < g; x++) memcpy(t->cnt + x * sw, acc->init, sw * sizeof *acc->init);
    for (int a = 0; a < acc->naggs; a++) {
        const st_gin *in = &acc->in[a];
        int op = in->op;
        if (acc->same[a] >= 0 || op == ST_AGG_COUNT) continue;
        if (in->valid != NULL) t->nval[a] = t->cnt + acc->nval_w[a];
        if (op == ST_AGG_COUNT_COL || acc->fslot[a] >= 0) continue;
        if (in->isf) {
            if ((t->fval[a] = st_alloc_big(g * sizeof *t->fval[a])) == NULL) return STRATA_ENOMEM;
            for (size_t x = 0; x < g; x++) t->fval[a][x] = NAN;
        } else {
            t->ival[a] = t->cnt + acc->ival_w[a];
        }
    }
    return STRATA_OK;
}

static void part_free(dpart *t)
{
    st_free_big(t->cnt);
    for (int a = 0; a < ST_GROUP_SLOTS; a++) st_free_big(t->fval[a]);
}

static void acc_free(st_gacc *acc)
{
    if (acc == NULL) return;
    for (int t = 0; acc->parts != NULL && t < acc->nt; t++) part_free(&acc->parts[t]);
    free(acc->parts);
    st_free_big(acc->facc);
    st_free_big(acc->fblk);
    free(acc->idx);
    free(acc);
}

/* *ACCP := an accumulator of G groups from key LO for aggregates IN[NAGGS] (MASK: the last group
 * is the null key's; MANY: for several calls), NT threads. STRATA_OK or STRATA_ENOMEM. */
static int acc_new(st_gacc **accp, const st_gin *in, int naggs, int64_t lo, uint64_t g, int mask,
                   int many, int nt)
{
    st_gacc *acc = calloc(1, sizeof *acc);
    *accp = acc;
    if (acc == NULL) return STRATA_ENOMEM;
    acc->nt = nt;
    acc->naggs = naggs;
    acc->mask = mask;
    acc->lo = lo;
    acc->g = g;
    memcpy(acc->in, in, (size_t)naggs * sizeof *in);
    plan_slots(acc, many);
    plan_words(acc);
    acc->parts = calloc((size_t)nt, sizeof *acc->parts);
    acc->facc = st_alloc_big(((uint64_t)acc->nfs * g + 1) * sizeof *acc->facc);
    acc->idx = malloc((size_t)nt * CHUNK * sizeof *acc->idx);
    if (acc->parts == NULL || acc->facc == NULL || acc->idx == NULL) return STRATA_ENOMEM;
    for (uint64_t i = 0; i < (uint64_t)acc->nfs * g; i++) acc->facc[i] = -0.0;
    int arc[64] = {0}; /* each thread makes (and first touches) its own arrays */
#pragma omp parallel num_threads(nt)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        arc[t] = part_alloc(&acc->parts[t], acc);
    }
    for (int t = 0; t < nt; t++) {
        if (arc[t] < 0) return arc[t];
        /* a thread the runtime did not start (a thread limit): its arrays made here */
        if (acc->parts[t].cnt == NULL && part_alloc(&acc->parts[t], acc) < 0) return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

/* Add the block partials of call P to the accumulator's float sums, block by block in order. */
static void add_partials(const dplan *p)
{
    const st_gacc *acc = p->acc;
    uint64_t nfs = (uint64_t)acc->nfs, g = p->g;
    if (nfs == 0) return;
#pragma omp parallel for num_threads(acc->nt) schedule(static)
    for (uint64_t x = 0; x < g; x++)
        for (uint64_t f = 0; f < nfs; f++) {
            double s = -0.0;
            for (uint64_t b = 0; b < p->nblocks; b++) s += p->fblk[(b * nfs + f) * g + x];
            acc->facc[f * acc->g + p->off + x] += s;
        }
}

/* Fold call P (its rows, window and told flag set) into the accumulator: 1 done, 0 a key was
 * outside a range the caller told (the accumulator is then unusable), or STRATA_ENOMEM. */
static int acc_fold(st_gacc *acc, dplan *p)
{
    /* blocks: the float partials stay within ST_GDENSE_PARTIALS doubles */
    p->acc = acc;
    p->block = ST_GDENSE_BLOCK;
    uint64_t per = (uint64_t)acc->nfs * p->g, n = p->n;
    if (per > 0 && (n / p->block + 1) * per > ST_GDENSE_PARTIALS)
        p->block = (n / (ST_GDENSE_PARTIALS / per) + 1 + CHUNK - 1) / CHUNK * CHUNK;
    p->nblocks = (n + p->block - 1) / p->block;
    uint64_t need = p->nblocks * per + 1;
    if (need > acc->fblk_n) {
        st_free_big(acc->fblk);
        if ((acc->fblk = st_alloc_big(need * sizeof *acc->fblk)) == NULL) {
            acc->fblk_n = 0;
            return STRATA_ENOMEM;
        }
        acc->fblk_n = need;
    }
    p->fblk = acc->fblk;
    int bad = 0;
#pragma omp parallel num_threads(acc->nt)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
#pragma omp for schedule(static)
        for (uint64_t b = 0; b < p->nblocks; b++)
            if (!acc->parts[t].bad) fold_block(p, &acc->parts[t], b, acc->idx + (size_t)t * CHUNK);
    }
    for (int t = 0; t < acc->nt; t++) bad |= acc->parts[t].bad;
    if (bad) return 0;
    add_partials(p);
    return 1;
}

/* Slot A of group index X, over the parts in thread order, into output group O. */
static void combine_slot(const st_gacc *acc, uint64_t x, int a, st_groups *out, uint64_t o)
{
    int s = acc->same[a] >= 0 ? acc->same[a] : a, op = acc->in[s].op;
    size_t at = o * (size_t)out->naggs + (size_t)a;
    int64_t nv = 0, iv = 0;
    double fv = NAN;
    int seen = 0;
    for (int t = 0; t < acc->nt; t++) {
        const dpart *pt = &acc->parts[t];
        uint64_t xw = x * acc->words;
        int64_t tn = acc->in[s].valid != NULL ? pt->nval[s][xw] : pt->cnt[xw];
        if (tn == 0) continue;
        nv += tn;
        int64_t ti = pt->ival[s] != NULL ? pt->ival[s][xw] : 0;
        double tf = pt->fval[s] != NULL ? pt->fval[s][x] : NAN;
        if (op == ST_AGG_SUM || op == ST_AGG_MEAN) {
            iv = (int64_t)((uint64_t)iv + (uint64_t)ti);
        } else if (op == ST_AGG_MIN || op == ST_AGG_MAX) {
            if (!seen || (op == ST_AGG_MIN ? ti < iv : ti > iv)) iv = ti;
            if (!isnan(tf) && (isnan(fv) || (op == ST_AGG_MIN ? tf < fv : tf > fv))) fv = tf;
        }
        seen = 1;
    }
    if (acc->fslot[s] >= 0) fv = acc->facc[(uint64_t)acc->fslot[s] * acc->g + x];
    if (op == ST_AGG_COUNT) nv = 0; /* COUNT keeps no input count (fold() in groupby.c) */
    out->nval[at] = nv;
    out->ival[at] = nv > 0 && !acc->in[s].isf ? iv : 0;
    out->fval[at] = nv > 0 && acc->in[s].isf ? fv : 0;
    out->m2[at] = 0;
}

/* OUT := the groups with rows, in key order (the null group last). */
static int collect(const st_gacc *acc, st_groups *out)
{
    uint64_t ng = 0, cap = 0, g = acc->g;
    int nt = acc->nt;
    uint64_t *pos = malloc((g + 1) * sizeof *pos); /* output position + 1, 0: no rows */
    if (pos == NULL) return STRATA_ENOMEM;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t x = 0; x < g; x++) {
        int64_t c = 0;
        for (int t = 0; t < nt; t++) c += acc->parts[t].cnt[x * acc->words];
        pos[x] = c > 0;
    }
    for (uint64_t x = 0; x < g; x++)
        if (pos[x]) pos[x] = ++ng;
    int rc = st_groups_grow(out, &cap, ng ? ng : 1);
    if (rc < 0) {
        free(pos);
        return rc;
    }
    size_t st = (size_t)out->nkeys + 1;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t x = 0; x < g; x++) {
        if (pos[x] == 0) continue;
        uint64_t o = pos[x] - 1;
        int64_t c = 0;
        for (int t = 0; t < nt; t++) c += acc->parts[t].cnt[x * acc->words];
        int null = acc->mask && x == g - 1;
        out->keys[o * st] = null ? 0 : (int64_t)((uint64_t)acc->lo + x);
        out->keys[o * st + 1] = null;
        out->count[o] = c;
        for (int a = 0; a < acc->naggs; a++) combine_slot(acc, x, a, out, o);
    }
    out->n = ng;
    free(pos);
    for (int a = 0; a < out->naggs; a++)
        if ((rc = st_groups_prune(out, a)) < 0) return rc;
    return STRATA_OK;
}

int st_gdense(const int64_t *const *w, int nw, int nkeys, uint64_t n, const st_gin *in, int naggs,
              const int64_t *range_hint, st_groups *out, int nt)
{
    if (nkeys != 1 || n == 0) return 0;
    for (int a = 0; a < naggs; a++)
        if (!takes(&in[a], 0)) return 0;
    dplan p = {.w = w[0], .mask = nw > 1 ? w[1] : NULL, .in = in, .n = n};
    for (int pass = 0; pass < 2; pass++) {
        int64_t hi;
        p.told = pass == 0 && range_hint != NULL && p.mask == NULL;
        if (p.told) {
            p.lo = range_hint[0];
            hi = range_hint[1];
        } else if (!key_range(p.w, p.mask, n, nt, &p.lo, &hi)) {
            p.lo = hi = 0; /* only nulls */
        }
        if (hi < p.lo || !dense_range((uint64_t)hi - (uint64_t)p.lo, n)) {
            if (p.told) continue; /* a wrong hint: the keys themselves say */
            return 0;
        }
        p.g = (uint64_t)hi - (uint64_t)p.lo + 1 + (p.mask != NULL);
        st_gacc *acc;
        int rc = acc_new(&acc, in, naggs, p.lo, p.g, p.mask != NULL, 0, nt);
        if (rc == STRATA_OK) rc = acc_fold(acc, &p);
        if (rc == 1) rc = collect(acc, out) < 0 ? STRATA_ENOMEM : 1;
        acc_free(acc);
        if (rc != 0) return rc;
    }
    return 0;
}

/* ---- st_gfold: the dense group-by of several calls ----------------------------------------- */

struct st_gfold {
    st_gacc *acc;
    int naggs;
    strata_dtype kdt, adt[ST_GROUP_SLOTS];
    int ops[ST_GROUP_SLOTS];
    double q[ST_GROUP_SLOTS];
    int bad; /* a call was not folded: the result would not be st_groupby()'s */
};

/* The input of aggregate AG for the hot loop; 0 if the dense fold of several calls cannot take it.
 */
static int fold_input(const st_agg *ag, st_gin *in)
{
    memset(in, 0, sizeof *in);
    in->op = ag->op;
    in->isf = ag->in.dtype == STRATA_F64;
    in->valid = ag->in.valid;
    if (ag->op == ST_AGG_COUNT) return 1;
    if (ag->in.valid != NULL) return 0;
    if (ag->rowid) {
        in->rowid = 1;
        in->row0 = ag->first_row;
    } else if (ag->in.dtype == STRATA_F64) {
        in->fv = ag->in.data;
    } else if (ag->in.dtype == STRATA_I64) {
        in->iv = ag->in.data;
    } else {
        return 0;
    }
    return takes(in, 1);
}

int st_gfold_begin(st_gfold **fp, strata_dtype kdt, const int64_t range[2], uint64_t rows,
                   const st_agg *aggs, int naggs, int nthreads)
{
    *fp = NULL;
    if ((kdt != STRATA_I64 && kdt != STRATA_TS) || naggs < 0 || naggs > ST_GROUP_SLOTS ||
        range[1] < range[0] || !dense_range((uint64_t)range[1] - (uint64_t)range[0], rows))
        return 0;
    st_gin in[ST_GROUP_SLOTS];
    for (int a = 0; a < naggs; a++)
        if (!fold_input(&aggs[a], &in[a])) return 0;
    st_gfold *f = calloc(1, sizeof *f);
    if (f == NULL) return STRATA_ENOMEM;
    f->naggs = naggs;
    f->kdt = kdt;
    for (int a = 0; a < naggs; a++) {
        f->ops[a] = aggs[a].op;
        f->adt[a] = aggs[a].op == ST_AGG_COUNT ? STRATA_I64 : aggs[a].in.dtype;
        f->q[a] = aggs[a].q;
    }
    int nt = nthreads < 1 ? 1 : nthreads > 64 ? 64 : nthreads;
    uint64_t g = (uint64_t)range[1] - (uint64_t)range[0] + 1;
    int rc = acc_new(&f->acc, in, naggs, range[0], g, 0, 1, nt);
    if (rc < 0) {
        st_gfold_free(f);
        return rc;
    }
    *fp = f;
    return 1;
}

int st_gfold_add(st_gfold *f, const st_gcol *key, uint64_t n, const st_agg *aggs,
                 const int64_t range[2])
{
    st_gacc *acc = f->acc;
    st_gin in[ST_GROUP_SLOTS];
    if (f->bad) return 0;
    if (n == 0) return 1;
    f->bad = 1; /* until folded */
    if ((key->dtype != STRATA_I64 && key->dtype != STRATA_TS) || key->valid != NULL ||
        range[1] < range[0] || range[0] < acc->lo ||
        (uint64_t)range[1] - (uint64_t)acc->lo >= acc->g)
        return 0;
    for (int a = 0; a < f->naggs; a++)
        if (!fold_input(&aggs[a], &in[a]) || in[a].isf != acc->in[a].isf) return 0;
    /* float sums take the blocks st_groupby_range() takes for these rows alone, which it folds
     * densely only over a range such as this */
    uint64_t range_n = (uint64_t)range[1] - (uint64_t)range[0];
    if (acc->nfs > 0 && !dense_range(range_n, n)) return 0;
    dplan p = {.w = key->data, .in = in, .n = n, .lo = range[0], .told = 1};
    p.off = (uint64_t)range[0] - (uint64_t)acc->lo;
    p.g = range_n + 1;
    int rc = acc_fold(acc, &p);
    if (rc == 1) f->bad = 0;
    return rc;
}

int st_gfold_end(st_gfold *f, st_groups *out)
{
    st_groups_init(out, 1, &f->kdt, f->naggs, f->ops, f->adt, f->q);
    if (f->bad) return 0;
    int rc = collect(f->acc, out);
    return rc < 0 ? rc : 1;
}

void st_gfold_free(st_gfold *f)
{
    if (f == NULL) return;
    acc_free(f->acc);
    free(f);
}
