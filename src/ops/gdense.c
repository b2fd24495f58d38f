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
#include "util/par.h"
#include "util/vec.h"

#define CHUNK      4096
#define AHEAD      512 /* rows a column is fetched ahead (a fault-around maps 16 pages) */
#define GF_THREADS 64  /* most threads a fold takes */
/* The first rows of a string call that tell whether it holds many strings (many_strings()), and
 * that seed an empty dictionary (seed_keys()). */
#define GF_SAMPLE 65536

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

int st_gfold_dense(const int64_t range[2], uint64_t rows)
{
    return range[1] >= range[0] && dense_range((uint64_t)range[1] - (uint64_t)range[0], rows);
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
    int self;                        /* the part's thread */
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
    uint64_t g;   /* groups */
    uint64_t cap; /* groups the arrays hold (string keys: more as they come) */
    dpart *parts;
    double *facc;    /* nfs * g float sums, in call order */
    double *fblk;    /* one call's block partials */
    uint64_t fblk_n; /* doubles FBLK holds */
    uint32_t *idx;   /* nt * CHUNK group indices */
    uint32_t *pidx;  /* nt * CHUNK partial indices, when a call's differ (dplan.lw) */
} st_gacc;

#define GF_NONE UINT64_MAX /* no id */

/* Work for one of a call's threads (st_gfold_side()); FN NULL: none, or done. */
typedef struct gside {
    void (*fn)(void *);
    void *arg;
} gside;

/* A key of 8 bytes or fewer in the table of short keys: its bytes as a word (zero-padded), its
 * length + 1 (0: an empty slot) and its id. */
typedef struct gshort {
    uint64_t w;
    uint32_t len1, id;
} gshort;

/* Most keys the table of short keys takes (its slots, four per key, stay in the L2 cache). */
#define SK_MAX 2048

/* The LEN bytes (8 or fewer) at S as a word, zero-padded; ROOM: 8 bytes can be read at S. */
static inline uint64_t short_word(const char *s, size_t len, int room)
{
    uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (room) {
        memcpy(&w, s, 8);
        return len > 0 ? w & ~(uint64_t)0 >> (64 - 8 * len) : 0;
    }
#endif
    (void)room;
    if (len > 0) memcpy(&w, s, len); /* (S may be NULL when LEN is 0) */
    return w;
}

/* The first slot of short key W in a table of CAP (keys that differ in trailing NUL bytes only
 * share it: their lengths tell them apart). */
static inline uint64_t short_slot(uint64_t w, uint64_t cap)
{
    return (w * 0x9E3779B97F4A7C15ull >> 32) & (cap - 1);
}

/* The id of the short key W of LEN bytes in table SK of CAP slots, or GF_NONE. */
static inline uint64_t short_find(const gshort *sk, uint64_t cap, uint64_t w, size_t len)
{
    uint64_t sl = short_slot(w, cap);
    for (;;) {
        const gshort *e = &sk[sl];
        if (e->len1 == 0) return GF_NONE;
        if (e->w == w && e->len1 == len + 1) return e->id;
        sl = (sl + 1) & (cap - 1);
    }
}

/* The id of row R of string offsets OFF into BYTES (END past the call's last byte) in table SK of
 * CAP slots, or GF_NONE (also for a key longer than 8 bytes). */
static inline uint64_t short_row(const gshort *sk, uint64_t cap, const int64_t *off,
                                 const char *bytes, uint64_t r, int64_t end)
{
    int64_t o = off[r];
    size_t len = (size_t)(off[r + 1] - o);
    return len <= 8 ? short_find(sk, cap, short_word(bytes + o, len, o + 8 <= end), len) : GF_NONE;
}

/* Key ID, the LEN bytes (8 or fewer) at S, into table SK of CAP slots. */
static void short_put(gshort *sk, uint64_t cap, const char *s, size_t len, uint64_t id)
{
    uint64_t w = short_word(s, len, 0), sl = short_slot(w, cap);
    while (sk[sl].len1 != 0) sl = (sl + 1) & (cap - 1);
    sk[sl] = (gshort){w, (uint32_t)len + 1, (uint32_t)id};
}

/* One call: its rows, and the window of the accumulator its keys span. */
typedef struct dplan {
    const st_gacc *acc;
    const int64_t *w, *mask;
    const st_gin *in;
    int64_t lo;   /* the call's smallest key: index 0 of its window */
    uint64_t off; /* the window's first group in the accumulator */
    int told;     /* the range came from the caller: check every key against it */
    uint64_t n, g, block, nblocks;
    uint64_t gblk; /* the groups the block size is a function of (G unless the call says) */
    /* string keys: each row's index among the call's own strings (LW), which the float
     * partials use, and the group of each (LMAP); NULL: the partials use the group index */
    const uint32_t *lw, *lmap;
    uint64_t nloc; /* the call's own keys (LW's range) */
    /* threads take groups, not blocks: each reads every row, folding its own groups' (the group
     * index modulo the threads), all in one block: each group's rows in row order */
    int bygroup;
    int team;     /* the threads folding (bygroup: the modulus) */
    double *fblk; /* nblocks * nfs * g partial float sums */
    /* string keys (W their offsets into SBYTES, SEND past the call's last byte) looked up in the
     * table of short keys SK of SK_CAP slots as they are folded (fold_short()) */
    const gshort *sk;
    uint64_t sk_cap;
    const char *sbytes;
    int64_t send;
    gside *side; /* work for one thread before it takes blocks (NULL: none; FN NULL once done) */
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

/* The groups a block's float partials of call P hold: the call's own strings, or its window. */
static inline uint64_t part_groups(const dplan *p)
{
    return p->lw != NULL ? p->nloc : p->g;
}

/* Fold rows [R0, R1) (their group indices IDX, partial indices PIDX) of aggregate A into view V
 * / block partial FB. */
static void fold_chunk(const dplan *p, const dview *v, int a, const uint32_t *idx,
                       const uint32_t *pidx, uint64_t r0, uint64_t r1, double *fb)
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
                fb[pidx[r - r0]] += in->fv[r];
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
static void fold_chunk_fast(const dplan *p, const dview *v, int a, const uint32_t *idx,
                            const uint32_t *pidx, uint64_t r0, uint64_t r1, double *fb)
{
    const st_gin *in = &p->in[a];
    uint64_t m = r1 - r0;
    if (is_sum(in->op) && in->isf) {
        const double *d = in->fv + r0;
        for (uint64_t i = 0; i < m; i++) fb[pidx[i]] += d[i];
    } else if (is_sum(in->op)) {
        const int64_t *d = in->iv + r0;
        uint64_t *s = (uint64_t *)v->ival[a], sw = p->acc->words;
        for (uint64_t i = 0; i < m; i++) s[idx[i] * sw] += (uint64_t)d[i];
    } else if (in->op != ST_AGG_COUNT_COL) {
        fold_chunk(p, v, a, idx, pidx, r0, r1, fb);
    }
}

/* The group indices of rows [R0, R0 + M) into IDX; 0 when a key is outside a told range. */
static int chunk_index(const dplan *p, uint64_t r0, uint64_t m, uint32_t *idx, uint32_t *pidx)
{
    if (p->lw != NULL) memcpy(pidx, p->lw + r0, m * sizeof *pidx);
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

/* fold_fused()'s commonest case for string keys looked up in the table of short keys: rows [R0,
 * R0 + M) counted and summed (int sum word W0 of I0, float sum F0 into partials B0, each may be
 * none) by the id of their key, and when FIRST, the first row's id (ROW0 + the row's place) put
 * in word RW of the groups that have none yet (*FOUND: how many); 0 when a key is not in the
 * table (the call is then folded again the long way: the keys' ids first). */
static inline __attribute__((always_inline)) int
fold_short(const dplan *p, const dview *v, uint64_t r0, uint64_t m, uint64_t w0, const int64_t *i0,
           const double *f0, double *b0, int first, uint64_t rw, int64_t row0, uint64_t *found)
{
    const int64_t *off = p->w + r0;
    const char *bytes = p->sbytes;
    uint64_t sw = p->acc->words, miss = 0, nf = 0;
    int64_t *cnt = v->cnt;
    for (uint64_t i = 0; i < m; i++) {
        if ((i & 7) == 0) __builtin_prefetch(off + i + AHEAD);
        if ((i & 7) == 0 && i0) __builtin_prefetch(i0 + i + AHEAD);
        if ((i & 7) == 0 && f0) __builtin_prefetch(f0 + i + AHEAD);
        uint64_t x = short_row(p->sk, p->sk_cap, off, bytes, i, p->send);
        miss |= x == GF_NONE;
        x = x == GF_NONE ? 0 : x;
        int64_t *rec = cnt + x * sw;
        rec[0]++;
        if (i0) rec[w0] = (int64_t)((uint64_t)rec[w0] + (uint64_t)i0[i]);
        if (f0) b0[x] += f0[i];
        if (first && rec[rw] == INT64_MAX) {
            rec[rw] = row0 + (int64_t)i;
            nf++;
        }
    }
    *found = nf;
    return !miss;
}

/* The common case in one pass over rows [R0, R0 + M) (every slot a count, a sum without nulls
 * or the first row): a row's words are one cache line, fetched ahead when many. The group
 * indices go through IDX (some shapes compute them inline). 0: a key outside the told range. */
static int fold_fused(const dplan *p, dpart *t, const dview *v, uint32_t *idx, uint32_t *pidx,
                      uint64_t r0, uint64_t m, double *fbb)
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
            fb[nf] = fbb + (uint64_t)acc->fslot[a] * part_groups(p);
            fv[nf++] = in->fv + r0;
        } else if (!in->rowid) {
            iw[ni] = acc->ival_w[a];
            iv[ni++] = in->iv + r0;
        }
    }
    uint64_t found[ST_GROUP_SLOTS] = {0};
    int64_t *cnt = v->cnt;
    int shape = ni <= 1 && nf <= 1 && !acc->big && p->mask == NULL && p->lw == NULL && !p->bygroup,
        commonest = shape && nr == 0;
    if (p->sk != NULL) { /* (a first row's slot not filled for every group: one at most) */
        uint64_t w0 = ni ? iw[0] : 0, fd = 0;
        const int64_t *i0 = ni ? iv[0] : NULL;
        const double *f0 = nf ? fv[0] : NULL;
        double *b0 = nf ? fb[0] : NULL;
        int ok = shape && nr <= 1 &&
                 (nr ? fold_short(p, v, r0, m, w0, i0, f0, b0, 1, rw[0], row0[0], &fd)
                     : fold_short(p, v, r0, m, w0, i0, f0, b0, 0, 0, 0, &fd));
        if (nr) t->firsts[ra[0]] += fd;
        return ok;
    }
    if (commonest) {
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
    if (!chunk_index(p, r0, m, idx, pidx)) return 0;
    for (uint64_t i = 0; i < m; i++) {
        if (acc->big && i + 16 < m) {
            __builtin_prefetch(cnt + idx[i + 16] * sw, 1);
            for (int k = 0; k < nf; k++) __builtin_prefetch(&fb[k][pidx[i + 16]], 1);
        }
        for (int k = 0; (i & 7) == 0 && k < ni; k++) __builtin_prefetch(iv[k] + i + AHEAD);
        for (int k = 0; (i & 7) == 0 && k < nf; k++) __builtin_prefetch(fv[k] + i + AHEAD);
        uint32_t x = idx[i];
        if (p->bygroup && (int)(x % (uint32_t)p->team) != t->self) continue;
        int64_t *rec = cnt + x * sw;
        rec[0]++;
        for (int k = 0; k < ni; k++)
            rec[iw[k]] = (int64_t)((uint64_t)rec[iw[k]] + (uint64_t)iv[k][i]);
        for (int k = 0; k < nr; k++)
            if (rec[rw[k]] == INT64_MAX) {
                rec[rw[k]] = row0[k] + (int64_t)i;
                found[k]++;
            }
        for (int k = 0; k < nf; k++) fb[k][pidx[i]] += fv[k][i];
    }
    for (int k = 0; k < nr; k++) t->firsts[ra[k]] += found[k];
    return 1;
}

/* D[0, N) := -0.0, the sum of no values: eight stored, then copied in doubling runs (a loop
 * of one store each is not vectorised at -O2, and a block's partials over 1 M groups are 8 MB). */
static void fill_neg_zero(double *d, uint64_t n)
{
    uint64_t k = n < 8 ? n : 8;
    for (uint64_t i = 0; i < k; i++) d[i] = -0.0;
    for (; k < n; k *= 2) memcpy(d + k, d, (n - k < k ? n - k : k) * sizeof *d);
}

static void fold_block(const dplan *p, dpart *t, uint64_t b, uint32_t *idx, uint32_t *pidx)
{
    const st_gacc *acc = p->acc;
    uint64_t end = (b + 1) * p->block < p->n ? (b + 1) * p->block : p->n, gp = part_groups(p);
    double *fbb = p->fblk + b * (uint64_t)acc->nfs * gp;
    if (p->lw == NULL) pidx = idx; /* the partials use the group index */
    uint64_t sw = acc->words, ow = p->off * sw;
    dview v = {.cnt = t->cnt + ow};
    for (int a = 0; a < acc->naggs; a++) {
        v.nval[a] = t->nval[a] ? t->nval[a] + ow : NULL;
        v.ival[a] = t->ival[a] ? t->ival[a] + ow : NULL;
        v.fval[a] = t->fval[a] ? t->fval[a] + p->off : NULL;
    }
    if (!p->bygroup) fill_neg_zero(fbb, (uint64_t)acc->nfs * gp);
    for (uint64_t r0 = b * p->block; r0 < end; r0 += CHUNK) {
        uint64_t r1 = r0 + CHUNK < end ? r0 + CHUNK : end, m = r1 - r0;
        if (acc->fused ? !fold_fused(p, t, &v, idx, pidx, r0, m, fbb)
                       : !chunk_index(p, r0, m, idx, pidx)) {
            t->bad = 1;
            return;
        }
        if (acc->fused) continue;
        for (uint64_t i = 0; i < m; i++) v.cnt[idx[i] * sw]++;
        for (int a = 0; a < acc->naggs; a++) {
            if (acc->same[a] >= 0 || p->in[a].op == ST_AGG_COUNT) continue;
            double *fb = acc->fslot[a] >= 0 ? fbb + (uint64_t)acc->fslot[a] * gp : NULL;
            if (p->in[a].rowid)
                fold_first_row(p, t, &v, a, idx, r0, r1);
            else if (p->in[a].valid == NULL)
                fold_chunk_fast(p, &v, a, idx, pidx, r0, r1, fb);
            else
                fold_chunk(p, &v, a, idx, pidx, r0, r1, fb);
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
    /* groups too many for the caches: a group's words within one cache line (the arrays are
     * then 64-byte aligned), 3 of them padded to 4, 5 to 7 to 8 (a 24-byte record of a count, a
     * first row and a sum straddled two lines one time in three: 1 M groups' fold a quarter
     * slower); fewer groups keep the fewer lines */
    while (acc->cap * w * sizeof(int64_t) > ((size_t)256 << 10) && (w == 3 || (w > 4 && w < 8)))
        acc->init[w++] = 0;
    acc->words = w;
    /* groups whose words do not stay in the caches: fetched ahead */
    acc->big = acc->cap * w * sizeof(int64_t) > ((size_t)256 << 10);
    acc->fused = 1;
    for (int a = 0; a < acc->naggs; a++) {
        const st_gin *in = &acc->in[a];
        acc->fused &= acc->same[a] >= 0 || in->op == ST_AGG_COUNT || in->rowid ||
                      (in->valid == NULL && (is_sum(in->op) || in->op == ST_AGG_COUNT_COL));
    }
}

static int part_alloc(dpart *t, const st_gacc *acc)
{
    size_t g = acc->cap, sw = acc->words;
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
    free(acc->pidx);
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
    acc->g = acc->cap = g;
    memcpy(acc->in, in, (size_t)naggs * sizeof *in);
    plan_slots(acc, many);
    plan_words(acc);
    acc->parts = calloc((size_t)nt, sizeof *acc->parts);
    acc->facc = st_alloc_big(((uint64_t)acc->nfs * g + 1) * sizeof *acc->facc);
    acc->idx = malloc((size_t)nt * CHUNK * sizeof *acc->idx);
    acc->pidx = malloc((size_t)nt * CHUNK * sizeof *acc->pidx);
    if (acc->parts == NULL || acc->facc == NULL || acc->idx == NULL || acc->pidx == NULL)
        return STRATA_ENOMEM;
    fill_neg_zero(acc->facc, (uint64_t)acc->nfs * g);
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
        acc->parts[t].self = t;
        if (arc[t] < 0) return arc[t];
        /* a thread the runtime did not start (a thread limit): its arrays made here */
        if (acc->parts[t].cnt == NULL && part_alloc(&acc->parts[t], acc) < 0) return STRATA_ENOMEM;
    }
    return STRATA_OK;
}

/* Room for G groups in the accumulator (string keys: the new ones zeroed as at the start). */
static int acc_grow(st_gacc *acc, uint64_t g)
{
    if (g > acc->cap) {
        uint64_t cap = acc->cap * 2 > g ? acc->cap * 2 : g, sw = acc->words,
                 nfs = (uint64_t)acc->nfs;
        for (int t = 0; t < acc->nt; t++) {
            dpart *pt = &acc->parts[t];
            int64_t *c = st_alloc_big(cap * sw * sizeof *c);
            if (c == NULL) return STRATA_ENOMEM;
            memcpy(c, pt->cnt, acc->cap * sw * sizeof *c);
            for (uint64_t x = acc->cap; x < cap; x++) memcpy(c + x * sw, acc->init, sw * sizeof *c);
            st_free_big(pt->cnt);
            pt->cnt = c;
            for (int a = 0; a < acc->naggs; a++) {
                if (pt->nval[a] != NULL) pt->nval[a] = c + acc->nval_w[a];
                if (pt->ival[a] != NULL) pt->ival[a] = c + acc->ival_w[a];
                if (pt->fval[a] != NULL) return STRATA_ENOMEM; /* float extrema: one call only */
            }
        }
        double *fa = st_alloc_big((nfs * cap + 1) * sizeof *fa);
        if (fa == NULL) return STRATA_ENOMEM;
        for (uint64_t f = 0; f < nfs; f++) {
            memcpy(fa + f * cap, acc->facc + f * acc->cap, acc->cap * sizeof *fa);
            fill_neg_zero(fa + f * cap + acc->cap, cap - acc->cap);
        }
        st_free_big(acc->facc);
        acc->facc = fa;
        acc->cap = cap;
        acc->big = cap * sw * sizeof(int64_t) > ((size_t)256 << 10);
    }
    acc->g = g;
    return STRATA_OK;
}

/* Add the block partials of call P to the accumulator's float sums, block by block in order. */
static void add_partials(const dplan *p)
{
    const st_gacc *acc = p->acc;
    uint64_t nfs = (uint64_t)acc->nfs, g = part_groups(p);
    if (nfs == 0) return;
#pragma omp parallel for num_threads(acc->nt) schedule(static)
    for (uint64_t x = 0; x < g; x++)
        for (uint64_t f = 0; f < nfs; f++) {
            double s = -0.0;
            for (uint64_t b = 0; b < p->nblocks; b++) s += p->fblk[(b * nfs + f) * g + x];
            acc->facc[f * acc->cap + (p->lw != NULL ? p->lmap[x] : p->off + x)] += s;
        }
}

/* st_gdense_block: ops_int.h. */
uint64_t st_gdense_block(uint64_t n, uint64_t per)
{
    uint64_t block = ST_GDENSE_BLOCK;
    if (per > 0 && (n / block + 1) * per > ST_GDENSE_PARTIALS) {
        uint64_t fit = ST_GDENSE_PARTIALS / per; /* blocks that fit; none: one block */
        block = ((fit > 0 ? n / fit + 1 : n) + CHUNK - 1) / CHUNK * CHUNK;
    }
    return block;
}

/* Fold call P (its rows, window and told flag set) into the accumulator: 1 done, 0 a key was
 * outside a range the caller told (the accumulator is then unusable), or STRATA_ENOMEM. */
static int acc_fold(st_gacc *acc, dplan *p)
{
    p->acc = acc;
    uint64_t gb = p->gblk ? p->gblk : p->g, n = p->n;
    p->block = p->bygroup ? p->n : st_gdense_block(n, (uint64_t)acc->nfs * gb);
    p->nblocks = (n + p->block - 1) / p->block;
    uint64_t need = p->nblocks * (uint64_t)acc->nfs * part_groups(p) + 1;
    if (need > acc->fblk_n) { /* grown by half at least: fresh pages cost their zeroing */
        st_free_big(acc->fblk);
        need = need > acc->fblk_n + acc->fblk_n / 2 ? need : acc->fblk_n + acc->fblk_n / 2;
        if ((acc->fblk = st_alloc_big(need * sizeof *acc->fblk)) == NULL) {
            acc->fblk_n = 0;
            return STRATA_ENOMEM;
        }
        acc->fblk_n = need;
    }
    p->fblk = acc->fblk;
    p->team = 1;
    int bad = 0;
    if (p->bygroup) /* one block, its partials shared by the threads */
        fill_neg_zero(p->fblk, (uint64_t)acc->nfs * part_groups(p));
    gside *side = p->side != NULL && p->side->fn != NULL && !p->bygroup ? p->side : NULL;
#pragma omp parallel num_threads(acc->nt)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#pragma omp single
        p->team = omp_get_num_threads();
#endif
        uint32_t *idx = acc->idx + (size_t)t * CHUNK, *pidx = acc->pidx + (size_t)t * CHUNK;
        if (p->bygroup) {
            fold_block(p, &acc->parts[t], 0, idx, pidx);
        } else if (side != NULL) {
            /* the last thread does the side work first, then takes blocks as the others do:
             * each thread's blocks in order (monotonic), as its first rows need */
            if (t == st_team_size() - 1) side->fn(side->arg);
#pragma omp for schedule(monotonic : dynamic, 1)
            for (uint64_t b = 0; b < p->nblocks; b++)
                if (!acc->parts[t].bad) fold_block(p, &acc->parts[t], b, idx, pidx);
        } else {
#pragma omp for schedule(static)
            for (uint64_t b = 0; b < p->nblocks; b++)
                if (!acc->parts[t].bad) fold_block(p, &acc->parts[t], b, idx, pidx);
        }
    }
    if (side != NULL) side->fn = NULL;
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
    if (acc->fslot[s] >= 0) fv = acc->facc[(uint64_t)acc->fslot[s] * acc->cap + x];
    if (op == ST_AGG_COUNT) nv = 0; /* COUNT keeps no input count (fold() in groupby.c) */
    out->nval[at] = nv;
    out->ival[at] = nv > 0 && !acc->in[s].isf ? iv : 0;
    out->fval[at] = nv > 0 && acc->in[s].isf && op != ST_AGG_COUNT_COL ? fv : 0; /* as fold() */
    out->m2[at] = 0;
}

/* OUT := the groups with rows, in key order (the null group last), their key words the key's.
 * AT (may be NULL): the position of each group, every one of which has rows; KW its key word. */
static int collect(const st_gacc *acc, st_groups *out, const uint64_t *at, const int64_t *kw)
{
    uint64_t ng = 0, cap = 0, g = acc->g;
    int nt = acc->nt;
    uint64_t *pos = malloc((g + 1) * sizeof *pos); /* output position + 1, 0: no rows */
    if (pos == NULL) return STRATA_ENOMEM;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (uint64_t x = 0; x < g; x++) {
        int64_t c = 0;
        for (int t = 0; t < nt && at == NULL; t++) c += acc->parts[t].cnt[x * acc->words];
        pos[x] = at != NULL ? at[x] + 1 : c > 0;
    }
    for (uint64_t x = 0; x < g && at == NULL; x++)
        if (pos[x]) pos[x] = ++ng;
    if (at != NULL) ng = g;
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
        out->keys[o * st] = null ? 0 : kw != NULL ? kw[x] : (int64_t)((uint64_t)acc->lo + x);
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
        if (rc == 1) rc = collect(acc, out, NULL, NULL) < 0 ? STRATA_ENOMEM : 1;
        acc_free(acc);
        if (rc != 0) return rc;
    }
    return 0;
}

/* ---- st_gfold: the dense group-by of several calls ----------------------------------------- */

enum { GF_HASHES, GF_FIRST, GF_IDS, GF_LW, GF_LMAP, GF_SNAP, GF_SCR };

struct st_gfold {
    st_gacc *acc;
    int naggs;
    strata_dtype kdt, adt[ST_GROUP_SLOTS];
    int ops[ST_GROUP_SLOTS];
    double q[ST_GROUP_SLOTS];
    int bad;    /* a call was not folded: the result would not be st_groupby()'s */
    int hashed; /* the keys go through the dictionary (strings, or integers spread wide) */
    /* many hashed keys (integers spread wide; strings many of which the first call holds):
     * folded by partitions instead (gpart.c), the dictionary below unused */
    st_gpf *pf;
    int decided;   /* whether the partitions fold the strings, decided at the first call */
    uint64_t rows; /* in all the calls */
    /* string keys: the distinct strings in order of first appearance (their id), a hash table
     * of id + 1 (0: empty) */
    st_vec bytes;
    int64_t *off;   /* G + 1 */
    uint64_t *tab;  /* tab_entry()s */
    uint32_t *loc;  /* the id's index among the keys of the call that saw it */
    uint64_t *hash; /* of each id's string */
    int64_t *vals;  /* integer keys spread too wide for a range: each id's key */
    uint64_t ng, tcap, ocap;
    /* a small dictionary of short strings (none longer than 8 bytes): each key's bytes as a word
     * beside its length and id in a table of its own, looked up without hashing the row's bytes
     * (rebuilt at a call when keys were added since) */
    gshort *sk;
    uint64_t sk_cap, sk_ng; /* SK_CAP slots (0: no table), built over SK_NG keys */
    int sk_long;            /* the dictionary holds a key longer than 8 bytes */
    gside side;             /* for the next call (st_gfold_side()) */
    /* a call's scratch, kept for the next: fresh pages cost their zeroing */
    void *scr[GF_SCR];
    size_t scr_n[GF_SCR];
};

/* Scratch SLOT of F with room for BYTES (its contents undefined), or NULL. */
static void *gf_scratch(st_gfold *f, int slot, size_t bytes)
{
    return st_groom(&f->scr[slot], &f->scr_n[slot], bytes) ? f->scr[slot] : NULL;
}

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

int st_gfold_begin(st_gfold **fp, strata_dtype kdt, const int64_t range[2], int hash, uint64_t rows,
                   const st_agg *aggs, int naggs, int nthreads)
{
    *fp = NULL;
    int str = kdt == STRATA_STR;
    if ((kdt != STRATA_I64 && kdt != STRATA_TS && !str) || naggs < 0 || naggs > ST_GROUP_SLOTS)
        return 0;
    /* keys spread wider than a range of arrays: through a dictionary, as strings are */
    int hashed = str || hash || range[1] < range[0] ||
                 !dense_range((uint64_t)range[1] - (uint64_t)range[0], rows);
    st_gin in[ST_GROUP_SLOTS];
    for (int a = 0; a < naggs; a++)
        if (!fold_input(&aggs[a], &in[a])) return 0;
    st_gfold *f = calloc(1, sizeof *f);
    if (f == NULL) return STRATA_ENOMEM;
    f->naggs = naggs;
    f->kdt = kdt;
    f->hashed = hashed;
    f->bytes = (st_vec)ST_VEC(char);
    for (int a = 0; a < naggs; a++) {
        f->ops[a] = aggs[a].op;
        f->adt[a] = aggs[a].op == ST_AGG_COUNT ? STRATA_I64 : aggs[a].in.dtype;
        f->q[a] = aggs[a].q;
    }
    int nt = nthreads < 1 ? 1 : nthreads > GF_THREADS ? GF_THREADS : nthreads;
    uint64_t g = hashed ? 1024 : (uint64_t)range[1] - (uint64_t)range[0] + 1;
    int rc = acc_new(&f->acc, in, naggs, hashed ? 0 : range[0], g, 0, 1, nt);
    f->rows = rows;
    if (rc == STRATA_OK && hashed && !str) rc = st_gpf_new(&f->pf, 0, in, naggs, rows, range, nt);
    if (rc == STRATA_OK && hashed) {
        f->acc->g = 0; /* none yet: the keys come call by call */
        f->tcap = f->ocap = 1024;
        f->tab = calloc(f->tcap, sizeof *f->tab);
        f->hash = malloc(f->ocap * sizeof *f->hash);
        f->loc = calloc(f->ocap, sizeof *f->loc);
        f->vals = calloc(f->ocap, sizeof *f->vals);
        f->off = calloc(f->ocap + 1, sizeof *f->off);
        if (f->tab == NULL || f->hash == NULL || f->loc == NULL || f->vals == NULL ||
            f->off == NULL)
            rc = STRATA_ENOMEM;
    }
    if (rc < 0) {
        st_gfold_free(f);
        return rc;
    }
    *fp = f;
    return 1;
}

/* The table entry of string id ID whose hash is H: the hash's high half beside id + 1. */
static inline uint64_t tab_entry(uint64_t h, uint64_t id)
{
    return (h >> 32 << 32) | (id + 1);
}

/* Room for one more string id in F's dictionary (its hash table at most half full). */
static int dict_room(st_gfold *f)
{
    if (f->ng + 1 > f->ocap) {
        uint64_t cap = f->ocap * 2;
        uint64_t *h = realloc(f->hash, cap * sizeof *h);
        if (h != NULL) f->hash = h;
        uint32_t *lc = realloc(f->loc, cap * sizeof *lc);
        if (lc != NULL) f->loc = lc;
        int64_t *vs = realloc(f->vals, cap * sizeof *vs);
        if (vs != NULL) f->vals = vs;
        int64_t *o = realloc(f->off, (cap + 1) * sizeof *o);
        if (o != NULL) f->off = o;
        if (h == NULL || lc == NULL || vs == NULL || o == NULL) return STRATA_ENOMEM;
        f->ocap = cap;
    }
    if ((f->ng + 1) * 2 > f->tcap) {
        uint64_t cap = f->tcap * 2;
        uint64_t *t = calloc(cap, sizeof *t);
        if (t == NULL) return STRATA_ENOMEM;
        for (uint64_t id = 0; id < f->ng; id++) {
            uint64_t sl = f->hash[id] & (cap - 1);
            while (t[sl] != 0) sl = (sl + 1) & (cap - 1);
            t[sl] = tab_entry(f->hash[id], id);
        }
        free(f->tab);
        f->tab = t;
        f->tcap = cap;
    }
    return STRATA_OK;
}

/* Make F's table of short keys hold its dictionary's keys, when it has few and none longer
 * than 8 bytes (else no table: SK_CAP 0). STRATA_OK or STRATA_ENOMEM. */
static int short_table(st_gfold *f)
{
    if (f->sk_long || f->ng > SK_MAX) {
        f->sk_cap = 0;
        return STRATA_OK;
    }
    if (f->sk_cap > 0 && f->sk_ng == f->ng) return STRATA_OK;
    uint64_t cap = 64;
    while (cap < 4 * f->ng) cap *= 2;
    free(f->sk);
    if ((f->sk = calloc(cap, sizeof *f->sk)) == NULL) {
        f->sk_cap = 0;
        return STRATA_ENOMEM;
    }
    const char *dict = f->bytes.v ? (const char *)f->bytes.v : "";
    for (uint64_t id = 0; id < f->ng; id++)
        short_put(f->sk, cap, dict + f->off[id], (size_t)(f->off[id + 1] - f->off[id]), id);
    f->sk_cap = cap;
    f->sk_ng = f->ng;
    return STRATA_OK;
}

/* Key ID (the LEN bytes at STR) just added to F's dictionary into its table of short keys, when
 * that held every key before it (grown, or dropped past SK_MAX keys or for a long key). */
static void short_keep(st_gfold *f, const char *str, size_t len, uint64_t id)
{
    if (f->sk_cap == 0 || f->sk_ng != id) return;
    if (len > 8 || f->ng > SK_MAX || 4 * f->ng > f->sk_cap) {
        (void)short_table(f); /* no memory: no table, which only saves time */
        return;
    }
    short_put(f->sk, f->sk_cap, str, len, id);
    f->sk_ng = f->ng;
}

/* The id of the LEN bytes at STR (hash H) in F's dictionary, or GF_NONE when it holds none. */
static inline uint64_t find_id(const st_gfold *f, const char *str, size_t len, uint64_t h)
{
    const char *dict = f->bytes.v ? (const char *)f->bytes.v : "";
    uint64_t sl = h & (f->tcap - 1), tag = h >> 32 << 32;
    for (;;) {
        uint64_t e = f->tab[sl];
        if (e == 0) return GF_NONE;
        uint64_t id = (e & 0xffffffffu) - 1;
        if ((e & ~(uint64_t)0xffffffffu) == tag && (size_t)(f->off[id + 1] - f->off[id]) == len &&
            st_gstr_same(dict + f->off[id], str, len))
            return id;
        sl = (sl + 1) & (f->tcap - 1);
    }
}

/* The id of the LEN bytes at STR (hash H), added to F's dictionary if new; GF_NONE: out of
 * memory, or 2^32 - 2 strings. */
static uint64_t add_id(st_gfold *f, const char *str, size_t len, uint64_t h)
{
    uint64_t id = find_id(f, str, len, h);
    if (id != GF_NONE) return id;
    if (f->ng >= UINT32_MAX - 1 || dict_room(f) < 0) return GF_NONE;
    char *at = st_vec_grow(&f->bytes, len);
    if (at == NULL && len > 0) return GF_NONE;
    if (len > 0) memcpy(at, str, len);
    f->sk_long |= len > 8;
    id = f->ng++;
    f->hash[id] = h;
    f->off[id + 1] = (int64_t)f->bytes.n;
    uint64_t sl = h & (f->tcap - 1);
    while (f->tab[sl] != 0) sl = (sl + 1) & (f->tcap - 1);
    f->tab[sl] = tab_entry(h, id);
    short_keep(f, str, len, id);
    return id;
}

/* The id of integer V (hash H) in F's dictionary, or GF_NONE. */
static inline uint64_t find_int(const st_gfold *f, int64_t v, uint64_t h)
{
    uint64_t sl = h & (f->tcap - 1), tag = h >> 32 << 32;
    for (;;) {
        uint64_t e = f->tab[sl];
        if (e == 0) return GF_NONE;
        uint64_t id = (e & 0xffffffffu) - 1;
        if ((e & ~(uint64_t)0xffffffffu) == tag && f->vals[id] == v) return id;
        sl = (sl + 1) & (f->tcap - 1);
    }
}

/* Row R of KEY: its hash; its id in F's dictionary (GF_NONE: none); its id, added if new
 * (GF_NONE: out of memory or 2^32 - 2 keys). */
static inline uint64_t row_hash(const st_gcol *key, uint64_t r)
{
    const int64_t *v = key->data;
    if (key->dtype != STRATA_STR) return st_gint_hash(v[r]);
    return st_gstr_hash(key->bytes + v[r], (size_t)(v[r + 1] - v[r]));
}

static inline uint64_t row_find(const st_gfold *f, const st_gcol *key, uint64_t r, uint64_t h)
{
    const int64_t *v = key->data;
    if (key->dtype != STRATA_STR) return find_int(f, v[r], h);
    return find_id(f, key->bytes + v[r], (size_t)(v[r + 1] - v[r]), h);
}

static uint64_t row_add(st_gfold *f, const st_gcol *key, uint64_t r, uint64_t h)
{
    const int64_t *v = key->data;
    if (key->dtype == STRATA_STR) return add_id(f, key->bytes + v[r], (size_t)(v[r + 1] - v[r]), h);
    uint64_t id = find_int(f, v[r], h);
    if (id != GF_NONE) return id;
    if (f->ng >= UINT32_MAX - 1 || dict_room(f) < 0) return GF_NONE;
    id = f->ng++;
    f->hash[id] = h;
    f->vals[id] = v[r];
    uint64_t sl = h & (f->tcap - 1);
    while (f->tab[sl] != 0) sl = (sl + 1) & (f->tcap - 1);
    f->tab[sl] = tab_entry(h, id);
    return id;
}

/* find_rows() through F's table of short keys, which holds every key of the dictionary: a row's
 * key not in it is new (its hash then computed). END: the offset past the call's last byte. */
static uint64_t find_short(const st_gfold *f, const st_gcol *key, uint64_t r0, uint64_t r1,
                           int64_t *ids, uint64_t *hs, uint64_t *bits, int64_t end)
{
    const int64_t *off = key->data;
    uint64_t missed = 0;
    for (uint64_t r = r0; r < r1; r++) {
        uint64_t id = short_row(f->sk, f->sk_cap, off, key->bytes, r, end);
        ids[r] = (int64_t)id;
        if (id == GF_NONE) {
            hs[r] = st_gstr_hash(key->bytes + off[r], (size_t)(off[r + 1] - off[r]));
            missed++;
            continue;
        }
        uint64_t bit = (uint64_t)1 << (id & 63);
        if (bits != NULL && !(bits[id >> 6] & bit)) bits[id >> 6] |= bit;
    }
    return missed;
}

/* Look rows [R0, R1) of KEY up in F's dictionary (read only): IDS their ids (GF_NONE when new),
 * HS their hashes, the bit of each id found set in BITS (when not NULL); returns how many rows
 * are new. Rows go in chunks whose table slots, then candidate strings, are fetched ahead (a
 * large dictionary misses the caches at every step). */
static uint64_t find_rows(const st_gfold *f, const st_gcol *key, uint64_t r0, uint64_t r1,
                          int64_t *ids, uint64_t *hs, uint64_t *bits, int64_t end)
{
    if (f->sk_cap > 0) return find_short(f, key, r0, r1, ids, hs, bits, end);
    uint64_t missed = 0;
    enum { CH = 32 };
    int str = key->dtype == STRATA_STR;
    uint64_t cand[CH];
    int ahead = f->tcap > 4096 || f->bytes.n > 65536; /* else in the first caches already */
    for (; r0 < r1; r0 += CH) {
        uint64_t m = r1 - r0 < CH ? r1 - r0 : CH, *h = hs + r0;
        for (uint64_t i = 0; i < m; i++) {
            h[i] = row_hash(key, r0 + i);
            if (ahead) __builtin_prefetch(&f->tab[h[i] & (f->tcap - 1)]);
        }
        for (uint64_t i = 0; i < m && ahead; i++) {
            uint64_t e = f->tab[h[i] & (f->tcap - 1)];
            cand[i] = e != 0 && (e >> 32) == (h[i] >> 32) ? (e & 0xffffffffu) - 1 : GF_NONE;
            if (cand[i] != GF_NONE)
                __builtin_prefetch(str ? (const void *)&f->off[cand[i]] : &f->vals[cand[i]]);
        }
        for (uint64_t i = 0; i < m && str && ahead; i++)
            if (cand[i] != GF_NONE) __builtin_prefetch((const char *)f->bytes.v + f->off[cand[i]]);
        for (uint64_t i = 0; i < m; i++) {
            uint64_t id = row_find(f, key, r0 + i, h[i]);
            ids[r0 + i] = (int64_t)id;
            missed += id == GF_NONE;
            uint64_t bit = (uint64_t)1 << (id & 63);
            if (bits != NULL && id != GF_NONE && !(bits[id >> 6] & bit)) bits[id >> 6] |= bit;
        }
    }
    return missed;
}

/* The ids of the rows of KEY not found (IDS GF_NONE, HS their hashes; ALL: every row, none
 * looked up), new keys added to F's dictionary in row order; short strings looked up in the
 * table of short keys first, which add_id() keeps. STRATA_OK, STRATA_ENOMEM, or STRATA_ERANGE
 * past 2^32 - 2 distinct keys. */
static int add_new(st_gfold *f, const st_gcol *key, uint64_t n, int64_t *ids, const uint64_t *hs,
                   int all)
{
    const int64_t *off = key->data;
    int str = key->dtype == STRATA_STR;
    int64_t end = str ? off[n] : 0;
    for (uint64_t r = 0; r < n; r++) {
        if (!all && ids[r] != (int64_t)GF_NONE) continue;
        uint64_t id =
            str && f->sk_cap > 0 ? short_row(f->sk, f->sk_cap, off, key->bytes, r, end) : GF_NONE;
        if (id == GF_NONE) id = row_add(f, key, r, all ? row_hash(key, r) : hs[r]);
        if (id == GF_NONE) return f->ng >= UINT32_MAX - 1 ? STRATA_ERANGE : STRATA_ENOMEM;
        ids[r] = (int64_t)id;
    }
    return STRATA_OK;
}

/* Whether the float partials of a call holding ND of the NG keys of a dictionary use the call's
 * own keys (LW): when the dictionary is large, or much larger than the call's keys (block
 * partials of all of it would be filled and added for nothing). */
static int local_index(uint64_t ng, uint64_t nd)
{
    return ng > ST_GDENSE_MAX || (ng > 4096 && ng > 4 * nd);
}

/* The ids of the N keys of KEY into IDS (new keys added to F's dictionary), and into *ND how
 * many distinct keys they hold; when *LOCAL (local_index()), LW: each row's
 * index among them, LMAP: the id of each.
 * The rows are looked up on NT threads (the dictionary read only), then the new strings added in
 * row order. STRATA_OK, STRATA_ENOMEM, or STRATA_ERANGE past 2^32 - 2 distinct strings. */
static int intern_call(st_gfold *f, const st_gcol *key, uint64_t n, int64_t *ids, uint32_t *lw,
                       uint32_t *lmap, uint64_t *nd, int *local, int nt)
{
    /* few keys: which the call holds from a bitmap per thread, set as the rows are looked up
     * (those added by the call are new to it, hence distinct); many: numbered (LW) below */
    uint64_t ng0 = f->ng, words = (ng0 + 511) / 512 * 8; /* whole cache lines per thread */
    *local = ng0 > ST_GDENSE_MAX;
    uint64_t *hs = gf_scratch(f, GF_HASHES, (n + 1) * sizeof *hs);
    uint64_t *bits = *local ? NULL : calloc((size_t)nt * words + 1, sizeof *bits);
    if (hs == NULL || (!*local && bits == NULL)) {
        free(bits);
        return STRATA_ENOMEM;
    }
    uint64_t per = (n + (uint64_t)nt - 1) / (uint64_t)nt, missed = 0;
    int64_t end = key->dtype == STRATA_STR ? ((const int64_t *)key->data)[n] : 0;
    int all = ng0 == 0; /* an empty dictionary: every row new, no pass to find them */
#pragma omp parallel for num_threads(nt) schedule(static, 1) reduction(+ : missed) if (!all)
    for (int t = 0; t < nt; t++) {
        uint64_t a = (uint64_t)t * per, b = a + per < n ? a + per : n;
        if (a < b && !all)
            missed += find_rows(f, key, a, b, ids, hs, bits ? bits + (size_t)t * words : NULL, end);
    }
    uint64_t distinct = 0;
    int rc = all || missed > 0 ? add_new(f, key, n, ids, hs, all) : STRATA_OK;
    if (rc == STRATA_OK && !*local) {
        for (uint64_t w = 0; w < words; w++) {
            uint64_t x = 0;
            for (int t = 0; t < nt; t++) x |= bits[(size_t)t * words + w];
            distinct += (uint64_t)__builtin_popcountll(x);
        }
        *nd = distinct + (f->ng - ng0);
        *local = local_index(f->ng, *nd); /* few of many: numbered below after all */
        distinct = 0;
    }
    free(bits);
    if (rc < 0 || !*local) return rc;
    /* the call's own ids, numbered in id order (only the partials' layout depends on it): each
     * thread marks its rows' ids in a bitmap of its own (no atomics; a million ids take 128 KB),
     * the bitmaps are united, and each thread numbers the marked ids of its share of the words
     * from the count of those before it */
    uint64_t nw = (f->ng + 63) / 64;
    uint64_t *marks = gf_scratch(f, GF_FIRST, ((uint64_t)nt * nw + 1) * sizeof *marks);
    uint64_t cnt[64] = {0}, base[64];
    if (marks == NULL) return STRATA_ENOMEM;
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num(), team = st_team_size();
        uint64_t *mine = marks + (uint64_t)t * nw, a, b;
        memset(mine, 0, nw * sizeof *mine);
        st_chunk(n, t, team, &a, &b);
        for (uint64_t r = a; r < b; r++) {
            uint64_t id = (uint64_t)ids[r];
            mine[id >> 6] |= (uint64_t)1 << (id & 63);
        }
#pragma omp barrier
        uint64_t w0, w1, k = 0;
        st_chunk(nw, t, team, &w0, &w1);
        for (uint64_t w = w0; w < w1; w++) { /* united into the first thread's bitmap */
            uint64_t x = 0;
            for (int u = 0; u < team; u++) x |= marks[(uint64_t)u * nw + w];
            marks[w] = x;
            k += (uint64_t)__builtin_popcountll(x);
        }
        cnt[t] = k;
#pragma omp barrier
#pragma omp single
        for (int u = 0; u < team; u++) base[u] = u == 0 ? 0 : base[u - 1] + cnt[u - 1];
        k = base[t];
        for (uint64_t w = w0; w < w1; w++)
            for (uint64_t x = marks[w]; x != 0; x &= x - 1) {
                uint64_t id = w * 64 + (uint64_t)__builtin_ctzll(x);
                f->loc[id] = (uint32_t)k;
                lmap[k++] = (uint32_t)id;
            }
#pragma omp barrier
#pragma omp for schedule(static)
        for (uint64_t r = 0; r < n; r++) lw[r] = f->loc[ids[r]];
    }
    for (int u = 0; u < 64; u++) distinct += cnt[u];
    *nd = distinct;
    return STRATA_OK;
}

/* Whether ACC's next call folds in fold_fused()'s commonest way: counts, one integer sum and one
 * float sum at most, one first row's slot at most not yet filled for every group (by every
 * thread), no nulls, groups that stay in the caches. */
static int one_pass(const st_gacc *acc)
{
    int ni = 0, nf = 0, nr = 0;
    if (!acc->fused || acc->big || acc->mask) return 0;
    for (int a = 0; a < acc->naggs; a++) {
        const st_gin *in = &acc->in[a];
        if (acc->same[a] >= 0 || (!is_sum(in->op) && !in->rowid)) continue;
        int open = 0; /* a first row's slot some thread has not filled for every group */
        for (int t = 0; in->rowid && t < acc->nt; t++) open |= acc->parts[t].firsts[a] < acc->g;
        nr += open;
        if (in->rowid) continue;
        ni += !in->isf;
        nf += in->isf;
    }
    return ni <= 1 && nf <= 1 && nr <= 1;
}

/* Fold the N rows of string KEY in one pass, each row's id looked up in F's table of short keys
 * as it is folded, where that gives the bits of the way below (the ids first): every key already
 * in the dictionary (else 0, the accumulator left as it was), a one-pass shape, and blocks of a
 * size that does not depend on how many keys the call holds. 1 folded, 0 not, STRATA_ENOMEM. */
static int fold_known(st_gfold *f, const st_gcol *key, uint64_t n, const st_gin *in)
{
    st_gacc *acc = f->acc;
    uint64_t words = acc->g * acc->words, nt = (uint64_t)acc->nt;
    if (f->sk_cap == 0 || f->ng == 0 || acc->g != f->ng || !one_pass(acc) ||
        st_gdense_block(n, (uint64_t)acc->nfs * f->ng) != ST_GDENSE_BLOCK)
        return 0;
    int64_t *snap = gf_scratch(f, GF_SNAP, (nt * words + 1) * sizeof *snap);
    uint64_t firsts[GF_THREADS][ST_GROUP_SLOTS]; /* (each thread's groups with a first row) */
    if (snap == NULL) return STRATA_ENOMEM;
    for (uint64_t t = 0; t < nt; t++) {
        memcpy(snap + t * words, acc->parts[t].cnt, words * sizeof *snap);
        memcpy(firsts[t], acc->parts[t].firsts, sizeof firsts[t]);
    }
    const int64_t *off = key->data;
    dplan p = {.w = off, .in = in, .n = n, .g = acc->g, .gblk = acc->g, .sk = f->sk};
    p.side = &f->side;
    p.sk_cap = f->sk_cap;
    p.sbytes = key->bytes;
    p.send = off[n];
    int rc = acc_fold(acc, &p);
    if (rc != 0) return rc;
    for (uint64_t t = 0; t < nt; t++) { /* a new key: as it was */
        memcpy(acc->parts[t].cnt, snap + t * words, words * sizeof *snap);
        memcpy(acc->parts[t].firsts, firsts[t], sizeof firsts[t]);
        acc->parts[t].bad = 0;
    }
    return 0;
}

/* The keys of the first GF_SAMPLE rows of the N of string KEY put in F's empty dictionary (the
 * first call), in row order as intern_call() adds them, and F's accumulator grown to them: the
 * call's rows are then looked up on every thread (intern_call(): through the table of short keys
 * when the keys are 2 048 or fewer, of 8 bytes or fewer, else through the dictionary's hash
 * table), or folded in one pass when its aggregates allow (fold_known()), where with an empty
 * dictionary one thread interned every row (10 batches of 1 M rows, 100 keys: the first batch's
 * fold 9-17 ms, now 4.6-6 ms; the others' 3.5 ms). A key first met past these rows is added after
 * them, in row order: the same ids either way. STRATA_ENOMEM. */
static int seed_keys(st_gfold *f, const st_gcol *key, uint64_t n)
{
    uint64_t m = n < GF_SAMPLE ? n : GF_SAMPLE;
    int64_t *ids = gf_scratch(f, GF_IDS, (m + 1) * sizeof *ids);
    int rc = ids != NULL ? add_new(f, key, m, ids, NULL, 1) : STRATA_ENOMEM;
    return rc == STRATA_OK ? acc_grow(f->acc, f->ng) : rc; /* (ERANGE: never, so few keys) */
}

/* Fold N rows of KEY through F's dictionary (strings, or integers spread wide whose smallest
 * and largest are RANGE): each row's key's id, then folded by id in the way st_groupby_range()
 * folds these rows alone -- in blocks when it would group them by direct indexing (strings: by
 * their rank among the call's own), else each group's rows in row order (its hash path), the
 * threads taking groups. */
static int add_hashed(st_gfold *f, const st_gcol *key, uint64_t n, const st_gin *in,
                      const int64_t range[2])
{
    st_gacc *acc = f->acc;
    uint64_t nd = 0, gb;
    int str = f->kdt == STRATA_STR, dense, local = 0;
    if ((key->dtype == STRATA_STR) != str || key->valid != NULL) return 0;
    if (str) {
        int rc = short_table(f);
        if (rc == STRATA_OK && f->ng == 0) rc = seed_keys(f, key, n);
        if (rc == STRATA_OK) rc = fold_known(f, key, n, in);
        if (rc != 0) return rc;
    }
    int64_t *ids = gf_scratch(f, GF_IDS, (n + 1) * sizeof *ids);
    uint32_t *lw = gf_scratch(f, GF_LW, (n + 1) * sizeof *lw);
    uint32_t *lmap = gf_scratch(f, GF_LMAP, (n + 1) * sizeof *lmap);
    int rc = ids && lw && lmap ? intern_call(f, key, n, ids, lw, lmap, &nd, &local, acc->nt)
                               : STRATA_ENOMEM;
    int take = rc != STRATA_ERANGE; /* ids past 32 bits: grouped call by call */
    if (rc == STRATA_ERANGE) rc = STRATA_OK;
    if (str) {
        dense = dense_range(nd - 1, n);
        gb = nd;
    } else {
        dense = range[1] >= range[0] && dense_range((uint64_t)range[1] - (uint64_t)range[0], n);
        gb = (uint64_t)range[1] - (uint64_t)range[0] + 1;
    }
    /* each group's rows in row order, the threads taking groups: fold_fused() only */
    take &= acc->nfs == 0 || dense || acc->fused;
    if (rc == STRATA_OK && take) rc = acc_grow(acc, f->ng);
    if (rc == STRATA_OK && !take) rc = 0;
    if (rc == STRATA_OK && take) {
        dplan p = {.w = ids, .in = in, .n = n, .g = acc->g, .gblk = gb, .nloc = nd};
        p.side = &f->side;
        p.bygroup = acc->nfs > 0 && !dense;
        if (local) { /* partials of the call's own keys only */
            p.lw = lw;
            p.lmap = lmap;
        }
        rc = acc_fold(acc, &p);
    }
    return rc;
}

/* Whether the first rows of the N of string column KEY hold many distinct strings: more than
 * the dictionary's fold takes well, whose threads would each read every row (add_hashed()). */
static int many_strings(const st_gcol *key, uint64_t n)
{
    enum { TBITS = 17, MANY = 4096 };
    uint64_t m = n < GF_SAMPLE ? n : GF_SAMPLE, mask = ((uint64_t)1 << TBITS) - 1, d = 0;
    uint64_t *t = calloc(mask + 1, sizeof *t); /* hashes, 1 set in each: 0 is empty */
    const int64_t *off = key->data;
    if (t == NULL) return 0;
    for (uint64_t r = 0; r < m && d <= MANY; r++) {
        uint64_t h = st_gstr_hash(key->bytes + off[r], (size_t)(off[r + 1] - off[r])) | 1;
        uint64_t s = h & mask;
        while (t[s] != 0 && t[s] != h) s = (s + 1) & mask;
        d += t[s] == 0;
        t[s] = h;
    }
    free(t);
    return d > MANY;
}

uint64_t st_gfold_redos(const st_gfold *f)
{
    return f->pf != NULL ? st_gpf_redos(f->pf) : 0;
}

int st_gfold_ordered(const st_gfold *f)
{
    return f->pf != NULL ? st_gpf_ordered(f->pf) : -1;
}

static int gfold_add(st_gfold *f, const st_gcol *key, uint64_t n, const st_agg *aggs,
                     const int64_t range[2])
{
    st_gacc *acc = f->acc;
    st_gin in[ST_GROUP_SLOTS];
    if (f->bad) return 0;
    if (n == 0) return 1;
    f->bad = 1; /* until folded */
    for (int a = 0; a < f->naggs; a++)
        if (!fold_input(&aggs[a], &in[a]) || in[a].isf != acc->in[a].isf) return 0;
    /* two float sums of one input: the per-call path shares their partials, which sizes its
     * blocks differently */
    for (int a = 0; a < f->naggs; a++)
        for (int b = 0; b < a; b++)
            if (acc->fslot[a] >= 0 && acc->fslot[b] >= 0 && in[a].fv == in[b].fv) return 0;
    if (f->hashed && f->kdt == STRATA_STR && !f->decided) {
        const int64_t none[2] = {1, 0};
        f->decided = 1;
        int rc = key->dtype == STRATA_STR && many_strings(key, n)
                     ? st_gpf_new(&f->pf, 1, acc->in, f->naggs, f->rows, none, acc->nt)
                     : STRATA_OK;
        if (rc < 0) {
            st_gpf_free(f->pf);
            f->pf = NULL;
            return rc;
        }
    }
    if (f->pf != NULL) {
        int rc = st_gpf_add(f->pf, key, n, in, range);
        if (rc == 1) f->bad = 0;
        return rc;
    }
    if (f->hashed) {
        int rc = add_hashed(f, key, n, in, range);
        if (rc == 1) f->bad = 0;
        return rc;
    }
    if ((key->dtype != STRATA_I64 && key->dtype != STRATA_TS) || key->valid != NULL ||
        range[1] < range[0] || range[0] < acc->lo ||
        (uint64_t)range[1] - (uint64_t)acc->lo >= acc->g)
        return 0;
    /* float sums take the blocks st_groupby_range() takes for these rows alone, which it folds
     * densely only over a range such as this */
    uint64_t range_n = (uint64_t)range[1] - (uint64_t)range[0];
    if (acc->nfs > 0 && !dense_range(range_n, n)) return 0;
    dplan p = {.w = key->data, .in = in, .n = n, .lo = range[0], .told = 1, .side = &f->side};
    p.off = (uint64_t)range[0] - (uint64_t)acc->lo;
    p.g = range_n + 1;
    int rc = acc_fold(acc, &p);
    if (rc == 1) f->bad = 0;
    return rc;
}

int st_gfold_add(st_gfold *f, const st_gcol *key, uint64_t n, const st_agg *aggs,
                 const int64_t range[2])
{
    int rc = gfold_add(f, key, n, aggs, range);
    if (f->side.fn != NULL) { /* no parallel fold took it: done here */
        f->side.fn(f->side.arg);
        f->side.fn = NULL;
    }
    return rc;
}

void st_gfold_side(st_gfold *f, void (*fn)(void *), void *arg)
{
    f->side.fn = fn;
    f->side.arg = arg;
}

/* OUT := the groups of F's dictionary in the order of their keys: integers by value (their key
 * words), strings bytewise (their words the strings' ranks in OUT's key dictionary). */
static int collect_keys(st_gfold *f, st_groups *out)
{
    uint64_t n = f->ng, *perm = malloc((n + 1) * sizeof *perm), *at = NULL;
    int64_t *kw = NULL;
    int str = f->kdt == STRATA_STR, rc = perm != NULL ? STRATA_OK : STRATA_ENOMEM;
    const char *bytes = f->bytes.v ? f->bytes.v : "";
    st_gdict *d = &out->kdict[0];
    if (rc == STRATA_OK)
        rc = str ? st_argsort_str(f->off, bytes, n, NULL, perm, 0)
                 : st_argsort(STRATA_I64, f->vals, n, NULL, perm, 0, f->acc->nt);
    at = malloc((n + 1) * sizeof *at);
    kw = malloc((n + 1) * sizeof *kw);
    if (at == NULL || kw == NULL) rc = STRATA_ENOMEM;
    if (rc == STRATA_OK && str) {
        d->off = malloc((n + 1) * sizeof *d->off);
        d->bytes = malloc(f->bytes.n + 1);
        if (d->off == NULL || d->bytes == NULL) rc = STRATA_ENOMEM;
        if (rc == STRATA_OK) d->off[0] = 0;
        d->n = rc == STRATA_OK ? n : 0;
    }
    for (uint64_t k = 0; k < n && rc == STRATA_OK; k++) {
        uint64_t id = perm[k];
        at[id] = k;
        kw[id] = str ? (int64_t)k : f->vals[id];
        if (str) {
            size_t len = (size_t)(f->off[id + 1] - f->off[id]);
            memcpy(d->bytes + d->off[k], bytes + f->off[id], len);
            d->off[k + 1] = d->off[k] + (int64_t)len;
        }
    }
    if (rc == STRATA_OK) rc = collect(f->acc, out, at, kw);
    free(perm);
    free(at);
    free(kw);
    return rc;
}

int st_gfold_end(st_gfold *f, st_groups *out)
{
    st_groups_init(out, 1, &f->kdt, f->naggs, f->ops, f->adt, f->q);
    if (f->bad) return 0;
    int rc = f->pf != NULL ? st_gpf_end(f->pf, out)
             : f->hashed   ? collect_keys(f, out)
                           : collect(f->acc, out, NULL, NULL);
    return rc < 0 ? rc : 1;
}

void st_gfold_free(st_gfold *f)
{
    if (f == NULL) return;
    acc_free(f->acc);
    st_gpf_free(f->pf);
    st_vec_free(&f->bytes);
    free(f->off);
    free(f->tab);
    free(f->hash);
    free(f->loc);
    free(f->vals);
    free(f->sk);
    for (int k = 0; k < GF_SCR; k++) st_free_big(f->scr[k]);
    free(f);
}
