/*
 * gdense.c -- the group-by of one key whose values span a small range: the group of a row is its
 * key minus the smallest key, an index into plain arrays; no hash, no probing.
 *
 * Rows go in fixed-size blocks (ST_GDENSE_BLOCK, or larger for many groups and float sums, as a
 * function of the rows, the range and the float sums only). Threads take contiguous runs of
 * blocks. Within a block, the group index of a chunk of rows is computed once, then each
 * aggregate runs its own tight loop over the chunk. Counts, integer sums (wrapping, as
 * everywhere), minima and maxima are exact in any order: each thread keeps its own, combined in
 * thread order (so that among equal minima the earliest row's wins, as in row order). A float
 * sum is not associative: each block keeps its partial sums, started at -0.0 (the identity of
 * addition, signed zeros included), and the blocks are added in block order, so the bits are
 * the same for any thread count. Key nulls are one more group, after every value.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/ops_int.h"

#define CHUNK 4096

/* Whether the dense path takes aggregate IN. */
static int takes(const st_gin *in)
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
        return in->isf ? in->fv != NULL : in->iv != NULL;
    default:
        return 0;
    }
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
 * integer sum or float minimum/maximum; float sums go to the block partials. */
typedef struct dpart {
    int bad;                         /* a key outside the range it was told */
    uint64_t firsts[ST_GROUP_SLOTS]; /* groups whose first row is known (row id slots) */
    int64_t *cnt;                    /* G */
    int64_t *nval[ST_GROUP_SLOTS];   /* G each, for inputs with nulls */
    int64_t *ival[ST_GROUP_SLOTS];   /* G each, for integer sums and extrema */
    double *fval[ST_GROUP_SLOTS];    /* G each, for float extrema */
} dpart;

typedef struct dplan {
    const int64_t *w, *mask;
    const st_gin *in;
    int naggs;
    int64_t lo;
    int told; /* the range came from the caller: check every key against it */
    uint64_t n, g, block, nblocks;
    int fslot[ST_GROUP_SLOTS]; /* the block-partial index of a float sum, else -1 */
    int same[ST_GROUP_SLOTS];  /* an earlier slot computing the same thing, else -1 */
    int nfs;
    double *fblk; /* nblocks * nfs * g partial float sums */
} dplan;

static int is_sum(int op)
{
    return op == ST_AGG_SUM || op == ST_AGG_MEAN;
}

static void plan_slots(dplan *p)
{
    p->nfs = 0;
    for (int a = 0; a < p->naggs; a++) {
        const st_gin *x = &p->in[a];
        p->same[a] = -1;
        for (int b = 0; b < a && p->same[a] < 0; b++) {
            const st_gin *y = &p->in[b];
            if (x->op != ST_AGG_COUNT && y->iv == x->iv && y->fv == x->fv && y->rowid == x->rowid &&
                y->row0 == x->row0 && y->valid == x->valid &&
                (y->op == x->op || (is_sum(y->op) && is_sum(x->op))))
                p->same[a] = b;
        }
        p->fslot[a] = p->same[a] < 0 && x->isf && is_sum(x->op) ? p->nfs++ : -1;
    }
}

/* Fold rows [R0, R1) (their group indices IDX) of aggregate A into part P / block partial FB. */
static void fold_chunk(const dplan *p, const dpart *t, int a, const uint32_t *idx, uint64_t r0,
                       uint64_t r1, double *fb)
{
    const st_gin *in = &p->in[a];
    int64_t *nv = t->nval[a], *iv = t->ival[a];
    double *fv = t->fval[a];
    const uint8_t *valid = in->valid;
    for (uint64_t r = r0; r < r1; r++) {
        uint32_t x = idx[r - r0];
        if (valid != NULL && !st_gvalid(valid, r)) continue;
        if (valid != NULL) nv[x]++;
        switch (in->op) {
        case ST_AGG_SUM:
        case ST_AGG_MEAN:
            if (in->isf)
                fb[x] += in->fv[r];
            else
                iv[x] = (int64_t)((uint64_t)iv[x] + (uint64_t)in->iv[r]);
            break;
        case ST_AGG_MIN:
            if (in->isf) {
                double v = in->fv[r];
                if (!isnan(v) && (isnan(fv[x]) || v < fv[x])) fv[x] = v;
            } else if (in->iv[r] < iv[x]) {
                iv[x] = in->iv[r];
            }
            break;
        case ST_AGG_MAX:
            if (in->isf) {
                double v = in->fv[r];
                if (!isnan(v) && (isnan(fv[x]) || v > fv[x])) fv[x] = v;
            } else if (in->iv[r] > iv[x]) {
                iv[x] = in->iv[r];
            }
            break;
        }
    }
}

/* The smallest row id of each group: its first row (rows go in order within a thread). Once
 * every group of the range has one, the rest of the thread's rows change nothing. */
static void fold_first_row(const dplan *p, dpart *t, int a, const uint32_t *idx, uint64_t r0,
                           uint64_t r1)
{
    if (t->firsts[a] == p->g) return;
    const st_gin *in = &p->in[a];
    int64_t *iv = t->ival[a];
    uint64_t found = 0;
    for (uint64_t r = r0; r < r1; r++) {
        uint32_t x = idx[r - r0];
        if (iv[x] == INT64_MAX) {
            iv[x] = in->row0 + (int64_t)r;
            found++;
        }
    }
    t->firsts[a] += found;
}

/* The common case without nulls, as loops the compiler keeps tight. */
static void fold_chunk_fast(const dplan *p, const dpart *t, int a, const uint32_t *idx, uint64_t r0,
                            uint64_t r1, double *fb)
{
    const st_gin *in = &p->in[a];
    int64_t *iv = t->ival[a];
    uint64_t m = r1 - r0;
    if (is_sum(in->op) && in->isf) {
        const double *v = in->fv + r0;
        for (uint64_t i = 0; i < m; i++) fb[idx[i]] += v[i];
    } else if (is_sum(in->op)) {
        const int64_t *v = in->iv + r0;
        uint64_t *s = (uint64_t *)iv;
        for (uint64_t i = 0; i < m; i++) s[idx[i]] += (uint64_t)v[i];
    } else if (in->op != ST_AGG_COUNT_COL) {
        fold_chunk(p, t, a, idx, r0, r1, fb);
    }
}

static void fold_block(const dplan *p, dpart *t, uint64_t b, uint32_t *idx)
{
    uint64_t end = (b + 1) * p->block < p->n ? (b + 1) * p->block : p->n;
    double *fbb = p->fblk + b * (uint64_t)p->nfs * p->g;
    for (uint64_t i = 0; i < (uint64_t)p->nfs * p->g; i++) fbb[i] = -0.0;
    for (uint64_t r0 = b * p->block; r0 < end; r0 += CHUNK) {
        uint64_t r1 = r0 + CHUNK < end ? r0 + CHUNK : end, m = r1 - r0;
        const int64_t *w = p->w + r0;
        if (p->told) {
            uint64_t out = 0, top = p->g - 1;
            for (uint64_t i = 0; i < m; i++) {
                uint64_t d = (uint64_t)w[i] - (uint64_t)p->lo;
                out |= d > top;
                idx[i] = (uint32_t)d;
            }
            if (out) {
                t->bad = 1;
                return;
            }
        } else {
            for (uint64_t i = 0; i < m; i++) idx[i] = (uint32_t)((uint64_t)w[i] - (uint64_t)p->lo);
        }
        if (p->mask != NULL)
            for (uint64_t i = 0; i < m; i++)
                if (p->mask[r0 + i] != 0) idx[i] = (uint32_t)(p->g - 1);
        for (uint64_t i = 0; i < m; i++) t->cnt[idx[i]]++;
        for (int a = 0; a < p->naggs; a++) {
            if (p->same[a] >= 0 || p->in[a].op == ST_AGG_COUNT) continue;
            double *fb = p->fslot[a] >= 0 ? fbb + (uint64_t)p->fslot[a] * p->g : NULL;
            if (p->in[a].rowid)
                fold_first_row(p, t, a, idx, r0, r1);
            else if (p->in[a].valid == NULL)
                fold_chunk_fast(p, t, a, idx, r0, r1, fb);
            else
                fold_chunk(p, t, a, idx, r0, r1, fb);
        }
    }
}

static int part_alloc(dpart *t, const dplan *p)
{
    size_t g = p->g;
    if ((t->cnt = calloc(g, sizeof *t->cnt)) == NULL) return STRATA_ENOMEM;
    for (int a = 0; a < p->naggs; a++) {
        const st_gin *in = &p->in[a];
        int op = in->op;
        if (p->same[a] >= 0 || op == ST_AGG_COUNT) continue;
        if (in->valid != NULL && (t->nval[a] = calloc(g, sizeof *t->nval[a])) == NULL)
            return STRATA_ENOMEM;
        if (op == ST_AGG_COUNT_COL || p->fslot[a] >= 0) continue;
        if (in->isf) {
            if ((t->fval[a] = malloc(g * sizeof *t->fval[a])) == NULL) return STRATA_ENOMEM;
            for (size_t x = 0; x < g; x++) t->fval[a][x] = NAN;
        } else {
            int64_t i0 = op == ST_AGG_MIN ? INT64_MAX : op == ST_AGG_MAX ? INT64_MIN : 0;
            if ((t->ival[a] = malloc(g * sizeof *t->ival[a])) == NULL) return STRATA_ENOMEM;
            for (size_t x = 0; x < g; x++) t->ival[a][x] = i0;
        }
    }
    return STRATA_OK;
}

static void part_free(dpart *t)
{
    free(t->cnt);
    for (int a = 0; a < ST_GROUP_SLOTS; a++) {
        free(t->nval[a]);
        free(t->ival[a]);
        free(t->fval[a]);
    }
}

/* Slot A of group index X, over the parts in thread order, into output group O. */
static void combine_slot(const dplan *p, const dpart *parts, int nt, uint64_t x, int a,
                         st_groups *out, uint64_t o)
{
    int s = p->same[a] >= 0 ? p->same[a] : a, op = p->in[s].op;
    size_t g = p->g, at = o * (size_t)out->naggs + (size_t)a;
    int64_t nv = 0, iv = 0;
    double fv = NAN;
    int seen = 0;
    for (int t = 0; t < nt; t++) {
        int64_t tn = p->in[s].valid != NULL ? parts[t].nval[s][x] : parts[t].cnt[x];
        if (tn == 0) continue;
        nv += tn;
        int64_t ti = parts[t].ival[s] != NULL ? parts[t].ival[s][x] : 0;
        double tf = parts[t].fval[s] != NULL ? parts[t].fval[s][x] : NAN;
        if (op == ST_AGG_SUM || op == ST_AGG_MEAN) {
            iv = (int64_t)((uint64_t)iv + (uint64_t)ti);
        } else if (op == ST_AGG_MIN || op == ST_AGG_MAX) {
            if (!seen || (op == ST_AGG_MIN ? ti < iv : ti > iv)) iv = ti;
            if (!isnan(tf) && (isnan(fv) || (op == ST_AGG_MIN ? tf < fv : tf > fv))) fv = tf;
        }
        seen = 1;
    }
    if (p->fslot[s] >= 0) { /* the blocks in order */
        fv = -0.0;
        for (uint64_t b = 0; b < p->nblocks; b++)
            fv += p->fblk[(b * (uint64_t)p->nfs + (uint64_t)p->fslot[s]) * g + x];
    }
    if (op == ST_AGG_COUNT) nv = 0; /* COUNT keeps no input count (fold() in groupby.c) */
    out->nval[at] = nv;
    out->ival[at] = nv > 0 && !p->in[s].isf ? iv : 0;
    out->fval[at] = nv > 0 && p->in[s].isf ? fv : 0;
    out->m2[at] = 0;
}

/* OUT := the groups with rows, in key order (the null group last). */
static int collect(const dplan *p, const dpart *parts, int nt, st_groups *out)
{
    uint64_t ng = 0, cap = 0, g = p->g;
    uint64_t *pos = malloc((g + 1) * sizeof *pos); /* output position + 1, 0: no rows */
    if (pos == NULL) return STRATA_ENOMEM;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t x = 0; x < g; x++) {
        int64_t c = 0;
        for (int t = 0; t < nt; t++) c += parts[t].cnt[x];
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
        for (int t = 0; t < nt; t++) c += parts[t].cnt[x];
        int null = p->mask != NULL && x == g - 1;
        out->keys[o * st] = null ? 0 : (int64_t)((uint64_t)p->lo + x);
        out->keys[o * st + 1] = null;
        out->count[o] = c;
        for (int a = 0; a < p->naggs; a++) combine_slot(p, parts, nt, x, a, out, o);
    }
    out->n = ng;
    free(pos);
    for (int a = 0; a < out->naggs; a++)
        if ((rc = st_groups_prune(out, a)) < 0) return rc;
    return STRATA_OK;
}

/* Group with plan P (its range set): 1 done, 0 a key was outside a range the caller told, or
 * STRATA_ENOMEM. */
static int run(dplan *p, int nt, st_groups *out)
{
    plan_slots(p);
    /* blocks: the float partials stay within ST_GDENSE_PARTIALS doubles */
    p->block = ST_GDENSE_BLOCK;
    uint64_t per = (uint64_t)p->nfs * p->g, n = p->n;
    if (per > 0 && (n / p->block + 1) * per > ST_GDENSE_PARTIALS)
        p->block = (n / (ST_GDENSE_PARTIALS / per) + 1 + CHUNK - 1) / CHUNK * CHUNK;
    p->nblocks = (n + p->block - 1) / p->block;
    int rc = STRATA_OK, bad = 0;
    dpart *parts = calloc((size_t)nt, sizeof *parts);
    p->fblk = malloc((p->nblocks * per + 1) * sizeof *p->fblk);
    uint32_t *idx = malloc((size_t)nt * CHUNK * sizeof *idx);
    if (parts == NULL || p->fblk == NULL || idx == NULL) rc = STRATA_ENOMEM;
    if (rc == STRATA_OK) {
        int arc[64] = {0}; /* each thread makes (and first touches) its own arrays */
#pragma omp parallel num_threads(nt)
        {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            arc[t] = part_alloc(&parts[t], p);
            parts[t].bad |= arc[t] < 0;
#pragma omp barrier
#pragma omp for schedule(static)
            for (uint64_t b = 0; b < p->nblocks; b++)
                if (!parts[t].bad) fold_block(p, &parts[t], b, idx + (size_t)t * CHUNK);
        }
        for (int t = 0; t < nt; t++) {
            bad |= parts[t].bad;
            if (arc[t] < 0) rc = arc[t];
            /* a thread the runtime did not start (a thread limit): empty arrays */
            if (rc == STRATA_OK && parts[t].cnt == NULL) rc = part_alloc(&parts[t], p);
        }
        if (!bad) rc = collect(p, parts, nt, out);
    }
    for (int t = 0; parts != NULL && t < nt; t++) part_free(&parts[t]);
    free(parts);
    free(p->fblk);
    free(idx);
    return rc < 0 ? rc : !bad;
}

int st_gdense(const int64_t *const *w, int nw, int nkeys, uint64_t n, const st_gin *in, int naggs,
              const int64_t *range_hint, st_groups *out, int nt)
{
    if (nkeys != 1 || n == 0) return 0;
    for (int a = 0; a < naggs; a++)
        if (!takes(&in[a])) return 0;
    dplan p = {.w = w[0], .mask = nw > 1 ? w[1] : NULL, .in = in, .naggs = naggs, .n = n};
    for (int pass = 0; pass < 2; pass++) {
        int64_t hi;
        p.told = pass == 0 && range_hint != NULL && p.mask == NULL;
        if (p.told) {
            p.lo = range_hint[0];
            hi = range_hint[1];
        } else if (!key_range(p.w, p.mask, n, nt, &p.lo, &hi)) {
            p.lo = hi = 0; /* only nulls */
        }
        /* a small range, or one no wider than twice the rows (arrays of the groups' size, as a
         * hash table's would be, but no hashing or probing) */
        uint64_t range = (uint64_t)hi - (uint64_t)p.lo;
        if (hi < p.lo || (range >= ST_GDENSE_MAX && (range >= 2 * n || range >= ST_GDENSE_LARGE))) {
            if (p.told) continue; /* a wrong hint: the keys themselves say */
            return 0;
        }
        p.g = range + 1 + (p.mask != NULL);
        int rc = run(&p, nt, out);
        if (rc != 0) return rc;
    }
    return 0;
}
