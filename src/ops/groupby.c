/*
 * groupby.c -- hash group-by over keys of any dtype (normalised to 64-bit words by gkey.c) with
 * count, sum, min, max, mean, var, std, first, last and the holistic count_distinct, median and
 * quantile, and the merge of partial results that incremental group-by is built on.
 *
 * Determinism: the keys are normalised first, on one thread (string dictionaries). Rows are then
 * split among threads by the hash of their key words (stably: each thread's rows in row order),
 * and each thread accumulates its own rows' groups. Every group therefore sees its rows in row
 * order, so float sums and variances are the same for any thread count. The groups of all threads
 * are then sorted by key, and the values a holistic aggregate keeps are sorted within each group.
 *
 * Nulls: a null key is word 0 plus its bit in the group's null mask (the word after the keys),
 * so it is one group of its own, sorted after every value of its column; a null input is skipped
 * by every aggregate but COUNT.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/ops_int.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/par.h"
#include "util/vec.h"

typedef st_gin gin;

/* A value a holistic aggregate keeps, for group GRP of one thread's part. */
typedef struct hpair {
    uint64_t grp;
    int64_t w;
} hpair;

/* One thread's groups and the values its holistic aggregates collected. */
typedef struct gpart {
    st_groups g;
    st_vec h[ST_GROUP_SLOTS];
} gpart;

static inline uint64_t mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

static uint64_t hash_row(const int64_t *const *w, int nw, uint64_t row)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int k = 0; k < nw; k++) h = mix(h, (uint64_t)w[k][row]);
    return h;
}

static uint64_t hash_stored(const int64_t *k, int nw)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < nw; i++) h = mix(h, (uint64_t)k[i]);
    return h;
}

static size_t na_of(const st_groups *g)
{
    return (size_t)(g->naggs ? g->naggs : 1);
}

/* The words per group of G's six arrays (keys, count, nval, ival, fval, m2), into W. */
static void widths_of(const st_groups *g, size_t w[6])
{
    w[0] = (size_t)g->nkeys + 1;
    w[1] = 1;
    w[2] = w[3] = w[4] = w[5] = na_of(g);
}

/* Where G's six arrays' pointers are (ARR), and their words per group (W). */
static void arrays_of(st_groups *g, void **arr[6], size_t w[6])
{
    arr[0] = (void **)&g->keys;
    arr[1] = (void **)&g->count;
    arr[2] = (void **)&g->nval;
    arr[3] = (void **)&g->ival;
    arr[4] = (void **)&g->fval;
    arr[5] = (void **)&g->m2;
    widths_of(g, w);
}

size_t st_groups_carve_bytes(const st_groups *g, uint64_t cap)
{
    size_t w[6], o = 0;
    widths_of(g, w);
    for (int k = 0; k < 6; k++) o += (cap * w[k] * 8 + 63) / 64 * 64;
    return o;
}

void st_groups_carve(st_groups *g, void *block, uint64_t cap)
{
    void **arr[6];
    size_t w[6], o = 0;
    arrays_of(g, arr, w);
    for (int k = 0; k < 6; k++) { /* each 64-byte aligned */
        *arr[k] = (char *)block + o;
        o += (cap * w[k] * 8 + 63) / 64 * 64;
    }
    g->block = block;
}

/* G's arrays, when one block holds them (st_groups_carve()), copied out to their own, of room
 * for CAP groups (at least G's). */
static int groups_own(st_groups *g, uint64_t cap)
{
    if (g->block == NULL) return STRATA_OK;
    void **arr[6], *own[6] = {0};
    size_t w[6], n = g->n;
    arrays_of(g, arr, w);
    cap = cap > n ? cap : n;
    int k = 0;
    for (; k < 6 && (own[k] = malloc(cap * w[k] * 8 + 8)) != NULL; k++)
        if (n > 0) memcpy(own[k], *arr[k], n * w[k] * 8);
    if (k < 6) {
        while (k > 0) free(own[--k]);
        return STRATA_ENOMEM;
    }
    for (k = 0; k < 6; k++) *arr[k] = own[k];
    st_free_big(g->block);
    g->block = NULL;
    return STRATA_OK;
}

/* Room for NEED groups in G (capacity *CAP). STRATA_ENOMEM leaves G valid. */
int st_groups_grow(st_groups *g, uint64_t *cap, uint64_t need)
{
    if (groups_own(g, *cap) < 0) return STRATA_ENOMEM;
    if (need <= *cap) return STRATA_OK;
    uint64_t c = *cap ? *cap * 2 : 1024;
    while (c < need) c *= 2;
    void **arr[6];
    size_t w[6];
    arrays_of(g, arr, w);
    for (int k = 0; k < 6; k++) { /* (each kept as it grows: G valid on a failure) */
        void *p = realloc(*arr[k], c * w[k] * 8);
        if (p == NULL) return STRATA_ENOMEM;
        *arr[k] = p;
    }
    *cap = c;
    return STRATA_OK;
}

/* Group GRP's aggregates, zeroed. */
void st_groups_zero(st_groups *g, uint64_t grp)
{
    size_t na = na_of(g);
    g->count[grp] = 0;
    memset(g->nval + grp * na, 0, na * sizeof *g->nval);
    memset(g->ival + grp * na, 0, na * sizeof *g->ival);
    memset(g->fval + grp * na, 0, na * sizeof *g->fval);
    memset(g->m2 + grp * na, 0, na * sizeof *g->m2);
}

static inline void fold_f(double *x, int op, double v, int first)
{
    switch (op) {
    case ST_AGG_SUM:
    case ST_AGG_MEAN:
        *x = first ? v : *x + v;
        break;
    case ST_AGG_MIN:
    case ST_AGG_MAX: /* NaN stays only while the group has no number */
        if (first || (!isnan(v) && (isnan(*x) || (op == ST_AGG_MIN ? v < *x : v > *x)))) *x = v;
        break;
    case ST_AGG_FIRST:
        if (first || (isnan(*x) && !isnan(v))) *x = v;
        break;
    case ST_AGG_LAST:
        if (first || !isnan(v)) *x = v;
        break;
    }
}

static inline void fold_i(int64_t *x, int op, int64_t v, int first)
{
    switch (op) {
    case ST_AGG_SUM:
    case ST_AGG_MEAN:
        *x = first ? v : (int64_t)((uint64_t)*x + (uint64_t)v);
        break;
    case ST_AGG_MIN:
        if (first || v < *x) *x = v;
        break;
    case ST_AGG_MAX:
        if (first || v > *x) *x = v;
        break;
    case ST_AGG_FIRST:
        if (first) *x = v;
        break;
    case ST_AGG_LAST:
        *x = v;
        break;
    }
}

/* Fold row R's input of aggregate A into group GRP. */
static inline int fold(gpart *p, uint64_t grp, int a, const gin *in, uint64_t r)
{
    st_groups *g = &p->g;
    int op = in->op;
    if (op == ST_AGG_COUNT || !st_gvalid(in->valid, r)) return STRATA_OK;
    size_t s = grp * (size_t)g->naggs + (size_t)a;
    int64_t nv = g->nval[s];
    if (st_agg_holistic(op)) {
        if (in->isf && isnan(in->fv[r])) return STRATA_OK;
        int64_t w = in->isf ? st_gword_f64(in->fv[r]) : in->iv[r];
        hpair *h = st_vec_push(&p->h[a]);
        if (h == NULL) return STRATA_ENOMEM;
        *h = (hpair){grp, w};
    } else if (op == ST_AGG_VAR || op == ST_AGG_STD) { /* Welford */
        double v = in->isf ? in->fv[r] : (double)in->iv[r];
        double d = v - g->fval[s];
        g->fval[s] += d / (double)(nv + 1);
        g->m2[s] += d * (v - g->fval[s]);
    } else if (in->isf) {
        fold_f(g->fval + s, op, in->fv[r], nv == 0);
    } else {
        fold_i(g->ival + s, op, in->iv[r], nv == 0);
    }
    g->nval[s] = nv + 1;
    return STRATA_OK;
}

/* The hash table of one thread's groups: group index + 1 per slot, 0 for empty. */
typedef struct gtable {
    uint64_t *slot;
    uint64_t cap, mask;
    uint64_t gcap; /* groups allocated */
} gtable;

/* A new group for row R (NW words W, hash slot SLOT): stored with stride nkeys + 1, the null
 * mask 0 when there is none; the table grows at half full. */
static int new_group(gpart *p, gtable *t, const int64_t *const *w, int nw, uint64_t r,
                     uint64_t slot, uint64_t *out)
{
    st_groups *g = &p->g;
    size_t st = (size_t)g->nkeys + 1;
    int rc = st_groups_grow(g, &t->gcap, g->n + 1);
    if (rc < 0) return rc;
    uint64_t grp = g->n++;
    for (int i = 0; i < nw; i++) g->keys[grp * st + (size_t)i] = w[i][r];
    if (nw < (int)st) g->keys[grp * st + st - 1] = 0;
    st_groups_zero(g, grp);
    t->slot[slot] = grp + 1;
    *out = grp;
    if (g->n * 2 <= t->cap) return STRATA_OK;
    uint64_t ncap = t->cap * 2; /* rehash */
    uint64_t *nt = calloc(ncap, sizeof *nt);
    if (nt == NULL) return STRATA_ENOMEM;
    for (uint64_t x = 0; x < g->n; x++) {
        uint64_t s = (hash_stored(g->keys + x * st, nw) >> 8) & (ncap - 1);
        while (nt[s] != 0) s = (s + 1) & (ncap - 1);
        nt[s] = x + 1;
    }
    free(t->slot);
    t->slot = nt;
    t->cap = ncap;
    t->mask = ncap - 1;
    return STRATA_OK;
}

/* Accumulate rows ROWS[0..M) into P: the hot loop. ROWS NULL: rows [0, M). */
static int accumulate(gpart *p, const int64_t *const *w, int nw, const uint32_t *rows, uint64_t m,
                      const gin *in)
{
    gtable t = {calloc(1024, sizeof(uint64_t)), 1024, 1023, 0};
    if (t.slot == NULL) return STRATA_ENOMEM;
    int rc = STRATA_OK, na = p->g.naggs;
    size_t st = (size_t)p->g.nkeys + 1;
    for (uint64_t i = 0; i < m; i++) {
        uint64_t r = rows != NULL ? rows[i] : i, h = hash_row(w, nw, r), grp;
        uint64_t slot = (h >> 8) & t.mask;
        for (;;) {
            uint64_t e = t.slot[slot];
            if (e == 0) {
                ST_TRY(rc = new_group(p, &t, w, nw, r, slot, &grp));
                break;
            }
            const int64_t *k = p->g.keys + (e - 1) * st;
            int same = 1;
            for (int x = 0; x < nw && same; x++) same = k[x] == w[x][r];
            if (same) {
                grp = e - 1;
                break;
            }
            slot = (slot + 1) & t.mask;
        }
        p->g.count[grp]++;
        for (int a = 0; a < na; a++) ST_TRY(rc = fold(p, grp, a, &in[a], r));
    }
done:
    free(t.slot);
    return rc;
}

/* The N rows (fewer than 2^32) split by the hash of their key words W (NW) among NT parts, each
 * part's rows in row order: ROWS (N) the rows of part t from START[t] (NT + 1). Counted on the
 * threads, each taking a contiguous range of rows; then each thread's rows placed after those
 * of the threads before (the hashes computed again: cheaper than kept). */
static void split_rows(const int64_t *const *w, int nw, uint64_t n, int nt, uint32_t *rows,
                       uint64_t *start)
{
    uint64_t cnt[64 * 64];
#pragma omp parallel num_threads(nt)
    {
        int t = st_thread_num(), team = st_team_size();
        uint64_t a, b, *c = cnt + (size_t)t * (size_t)nt;
        st_chunk(n, t, team, &a, &b);
        memset(c, 0, (size_t)nt * sizeof *c);
        for (uint64_t r = a; r < b; r++) c[hash_row(w, nw, r) % (uint64_t)nt]++;
#pragma omp barrier
#pragma omp single
        st_digit_offsets(cnt, (uint64_t)nt, team, start);
        for (uint64_t r = a; r < b; r++) rows[c[hash_row(w, nw, r) % (uint64_t)nt]++] = (uint32_t)r;
    }
}

/* -1, 0 or 1 as group A of G orders before, with or after group B of H: key by key, a null key
 * after every value. */
int st_groups_cmp(const st_groups *g, uint64_t a, const st_groups *h, uint64_t b)
{
    size_t st = (size_t)g->nkeys + 1;
    const int64_t *x = g->keys + a * st, *y = h->keys + b * st;
    uint64_t mx = (uint64_t)x[st - 1], my = (uint64_t)y[st - 1];
    for (int k = 0; k < g->nkeys; k++) {
        int nx = (int)(mx >> k & 1), ny = (int)(my >> k & 1);
        if (nx != ny) return nx ? 1 : -1;
        if (x[k] != y[k]) return x[k] < y[k] ? -1 : 1;
    }
    return 0;
}

/* ARR (N rows of W 8-byte words) reordered by PERM. */
static int permute(void **arr, uint64_t n, size_t w, const uint64_t *perm)
{
    uint64_t *out = malloc(n * w * 8 + 8), *in = *arr;
    if (out == NULL) return STRATA_ENOMEM;
    if (w == 1)
        for (uint64_t i = 0; i < n; i++) out[i] = in[perm[i]];
    else
        for (uint64_t i = 0; i < n; i++)
            for (size_t x = 0; x < w; x++) out[i * w + x] = in[perm[i] * w + x];
    free(*arr);
    *arr = out;
    return STRATA_OK;
}

/* Reorder G's groups by key: stable radix argsorts chained from the last key to the first,
 * each key by its word and then by its null bit (nulls last); *PERMP (malloc'd) gets the old
 * position of each new one. */
static int sort_groups(st_groups *g, uint64_t **permp)
{
    uint64_t n = g->n;
    size_t st = (size_t)g->nkeys + 1;
    int rc = STRATA_OK, first = 1;
    uint64_t *perm = malloc((n + 1) * sizeof *perm);
    int64_t *col = malloc((n + 1) * sizeof *col);
    if (perm == NULL || col == NULL) {
        rc = STRATA_ENOMEM;
        goto done;
    }
    for (uint64_t i = 0; i < n; i++) perm[i] = i;
    for (int k = g->nkeys - 1; k >= 0 && n > 1; k--) {
        for (uint64_t i = 0; i < n; i++) col[i] = g->keys[i * st + (size_t)k];
        ST_TRY(rc = st_argsort(STRATA_I64, col, n, first ? NULL : perm, perm, 0, 1));
        first = 0;
        int64_t nulls = 0;
        for (uint64_t i = 0; i < n; i++) nulls |= col[i] = g->keys[i * st + st - 1] >> k & 1;
        if (nulls) ST_TRY(rc = st_argsort(STRATA_I64, col, n, perm, perm, 0, 1));
    }
    size_t na = na_of(g);
    ST_TRY(rc = groups_own(g, n));
    ST_TRY(rc = permute((void **)&g->keys, n, st, perm));
    ST_TRY(rc = permute((void **)&g->count, n, 1, perm));
    ST_TRY(rc = permute((void **)&g->nval, n, na, perm));
    ST_TRY(rc = permute((void **)&g->ival, n, na, perm));
    ST_TRY(rc = permute((void **)&g->fval, n, na, perm));
    ST_TRY(rc = permute((void **)&g->m2, n, na, perm));
    *permp = perm;
    perm = NULL;
done:
    free(perm);
    free(col);
    return rc;
}

void st_groups_shape_like(st_groups *g, const st_groups *like)
{
    memset(g, 0, sizeof *g);
    g->nkeys = like->nkeys;
    g->naggs = like->naggs;
    memcpy(g->key_dtype, like->key_dtype, sizeof g->key_dtype);
    memcpy(g->agg_op, like->agg_op, sizeof g->agg_op);
    memcpy(g->agg_dtype, like->agg_dtype, sizeof g->agg_dtype);
    memcpy(g->agg_q, like->agg_q, sizeof g->agg_q);
}

void st_groups_init(st_groups *g, int nkeys, const strata_dtype *kdt, int naggs, const int *ops,
                    const strata_dtype *adt, const double *q)
{
    memset(g, 0, sizeof *g);
    g->nkeys = nkeys;
    g->naggs = naggs;
    for (int k = 0; k < nkeys && k < ST_GROUP_KEYS; k++) g->key_dtype[k] = kdt[k];
    for (int a = 0; a < naggs && a < ST_GROUP_SLOTS; a++) {
        g->agg_op[a] = ops[a];
        g->agg_dtype[a] = adt[a];
        g->agg_q[a] = q != NULL ? q[a] : 0;
    }
}

/* Append the groups of SRC to DST (no merging of equal keys). */
static int append_groups(st_groups *dst, uint64_t *cap, const st_groups *src)
{
    if (src->n == 0) return STRATA_OK;
    int rc = st_groups_grow(dst, cap, dst->n + src->n);
    if (rc < 0) return rc;
    size_t nk = (size_t)dst->nkeys + 1, na = na_of(dst), n = src->n;
    memcpy(dst->keys + dst->n * nk, src->keys, n * nk * sizeof *dst->keys);
    memcpy(dst->count + dst->n, src->count, n * sizeof *dst->count);
    memcpy(dst->nval + dst->n * na, src->nval, n * na * sizeof *dst->nval);
    memcpy(dst->ival + dst->n * na, src->ival, n * na * sizeof *dst->ival);
    memcpy(dst->fval + dst->n * na, src->fval, n * na * sizeof *dst->fval);
    memcpy(dst->m2 + dst->n * na, src->m2, n * na * sizeof *dst->m2);
    dst->n += n;
    return STRATA_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Holistic slot A of G from the values the parts collected (groups numbered as appended: part t
 * from BASE[t]); INV maps those numbers to sorted positions. */
static int build_holistic(st_groups *g, int a, gpart *parts, int nt, const uint64_t *base,
                          const uint64_t *inv)
{
    uint64_t total = 0, n = g->n;
    for (int t = 0; t < nt; t++) total += parts[t].h[a].n;
    uint64_t *off = calloc(n + 2, sizeof *off);
    int64_t *val = malloc((total + 1) * sizeof *val);
    if (off == NULL || val == NULL) {
        free(off);
        free(val);
        return STRATA_ENOMEM;
    }
    for (int t = 0; t < nt; t++)
        for (size_t i = 0; i < parts[t].h[a].n; i++)
            off[inv[base[t] + ((hpair *)parts[t].h[a].v)[i].grp] + 2]++;
    for (uint64_t i = 0; i < n; i++) off[i + 2] += off[i + 1];
    for (int t = 0; t < nt; t++)
        for (size_t i = 0; i < parts[t].h[a].n; i++) {
            const hpair *h = (hpair *)parts[t].h[a].v + i;
            val[off[inv[base[t] + h->grp] + 1]++] = h->w;
        }
    /* off[i] is now group i's start */
    uint64_t o = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t s = off[i], e = off[i + 1];
        qsort(val + s, e - s, sizeof *val, cmp_i64);
        off[i] = o;
        for (uint64_t x = s; x < e; x++)
            if (g->agg_op[a] != ST_AGG_COUNT_DISTINCT || x == s || val[x] != val[x - 1])
                val[o++] = val[x];
        g->nval[i * (size_t)g->naggs + (size_t)a] = (int64_t)(o - off[i]);
    }
    off[n] = o;
    g->hoff[a] = off;
    g->hval[a] = val;
    return STRATA_OK;
}

/* Drop the strings of string slot A's dictionary that no group's value uses any more. */
int st_groups_prune(st_groups *g, int a)
{
    int op = g->agg_op[a];
    st_gdict *d = &g->adict[a];
    if (g->agg_dtype[a] != STRATA_STR || st_agg_holistic(op) || op == ST_AGG_COUNT_COL)
        return STRATA_OK;
    uint8_t *used = calloc(d->n + 1, 1);
    int64_t *map = malloc((d->n + 1) * sizeof *map);
    int rc = used && map ? STRATA_OK : STRATA_ENOMEM;
    size_t na = (size_t)g->naggs;
    for (uint64_t i = 0; i < g->n && rc == STRATA_OK; i++)
        if (g->nval[i * na + (size_t)a] > 0) used[g->ival[i * na + (size_t)a]] = 1;
    if (rc == STRATA_OK) rc = st_gdict_prune(d, used, map);
    for (uint64_t i = 0; i < g->n && rc == STRATA_OK; i++)
        if (g->nval[i * na + (size_t)a] > 0)
            g->ival[i * na + (size_t)a] = map[g->ival[i * na + (size_t)a]];
    free(used);
    free(map);
    return rc;
}

/* Inputs of the group-by: key words W (NW of them, the null mask last if any key has nulls) and
 * aggregate inputs IN; OWN collects what was allocated. */
typedef struct ginputs {
    const int64_t *w[ST_GROUP_KEYS + 1];
    int nw;
    gin in[ST_GROUP_SLOTS];
    int64_t *own[ST_GROUP_KEYS + 1 + ST_GROUP_SLOTS];
    int nown;
} ginputs;

static int check_agg(const st_agg *ag)
{
    int op = ag->op;
    strata_dtype dt = ag->in.dtype;
    if (op < 0 || op >= ST_AGG_NOPS) return STRATA_EINVAL;
    if (op == ST_AGG_COUNT) return STRATA_OK;
    if (dt != STRATA_I64 && dt != STRATA_F64 && dt != STRATA_STR) return STRATA_EINVAL;
    if (dt == STRATA_STR && op != ST_AGG_COUNT_COL && op != ST_AGG_MIN && op != ST_AGG_MAX &&
        op != ST_AGG_FIRST && op != ST_AGG_LAST && op != ST_AGG_COUNT_DISTINCT)
        return STRATA_EINVAL;
    if (op == ST_AGG_QUANTILE && !(ag->q >= 0 && ag->q <= 1)) return STRATA_EINVAL;
    return STRATA_OK;
}

static int prepare(st_groups *out, const st_gcol *keys, int nkeys, uint64_t n, const st_agg *aggs,
                   int naggs, ginputs *gi)
{
    int rc = STRATA_OK, anynull = 0;
    memset(gi, 0, sizeof *gi);
    for (int k = 0; k < nkeys; k++) {
        ST_TRY(rc = st_gwords(&keys[k], n, &gi->w[k], &gi->own[gi->nown], &out->kdict[k]));
        gi->nown++;
        anynull |= keys[k].valid != NULL;
    }
    gi->nw = nkeys;
    if (anynull) {
        int64_t *mask = calloc(n + 1, sizeof *mask);
        if (mask == NULL) return STRATA_ENOMEM;
        gi->own[gi->nown++] = mask;
        for (int k = 0; k < nkeys; k++)
            for (uint64_t r = 0; keys[k].valid && r < n; r++)
                if (!st_gvalid(keys[k].valid, r)) mask[r] |= (int64_t)1 << k;
        gi->w[gi->nw++] = mask;
    }
    for (int a = 0; a < naggs; a++) {
        gin *in = &gi->in[a];
        in->op = aggs[a].op;
        in->valid = aggs[a].in.valid;
        in->isf = aggs[a].in.dtype == STRATA_F64;
        if (in->op == ST_AGG_COUNT) continue;
        if (aggs[a].rowid) {
            in->rowid = 1;
            in->row0 = aggs[a].first_row;
        } else if (in->isf)
            in->fv = aggs[a].in.data;
        else if (aggs[a].in.dtype == STRATA_I64)
            in->iv = aggs[a].in.data;
        else {
            ST_TRY(rc = st_gwords(&aggs[a].in, n, &in->iv, &gi->own[gi->nown], &out->adict[a]));
            gi->nown++;
        }
    }
done:
    return rc;
}

/* The hash path reads row ids from memory. */
static int rowids(ginputs *gi, uint64_t n)
{
    for (int a = 0; a < ST_GROUP_SLOTS; a++) {
        gin *in = &gi->in[a];
        if (!in->rowid) continue;
        int64_t *ids = malloc(n * sizeof *ids + 8);
        if (ids == NULL) return STRATA_ENOMEM;
        gi->own[gi->nown++] = ids;
        for (uint64_t i = 0; i < n; i++) ids[i] = in->row0 + (int64_t)i;
        in->iv = ids;
        in->rowid = 0;
    }
    return STRATA_OK;
}

/* OUT := the parts' groups, sorted, with their holistic values and pruned dictionaries. */
static int collect(st_groups *out, gpart *parts, int nt)
{
    uint64_t cap = 0, base[64], *perm = NULL, *inv = NULL;
    int rc = STRATA_OK;
    for (int t = 0; t < nt; t++) {
        base[t] = out->n;
        ST_TRY(rc = append_groups(out, &cap, &parts[t].g));
    }
    ST_TRY(rc = sort_groups(out, &perm));
    inv = malloc((out->n + 1) * sizeof *inv);
    if (inv == NULL) {
        rc = STRATA_ENOMEM;
        goto done;
    }
    for (uint64_t i = 0; i < out->n; i++) inv[perm[i]] = i;
    for (int a = 0; a < out->naggs; a++) {
        if (st_agg_holistic(out->agg_op[a]))
            ST_TRY(rc = build_holistic(out, a, parts, nt, base, inv));
        ST_TRY(rc = st_groups_prune(out, a));
    }
done:
    free(perm);
    free(inv);
    return rc;
}

int st_groupby(const st_gcol *keys, int nkeys, uint64_t n, const st_agg *aggs, int naggs,
               st_groups *out, int nthreads)
{
    return st_groupby_range(keys, nkeys, n, aggs, naggs, NULL, out, nthreads);
}

int st_groupby_range(const st_gcol *keys, int nkeys, uint64_t n, const st_agg *aggs, int naggs,
                     const int64_t *range, st_groups *out, int nthreads)
{
    if (nkeys < 1 || nkeys > ST_GROUP_KEYS || naggs < 0 || naggs > ST_GROUP_SLOTS)
        return STRATA_EINVAL;
    int ops[ST_GROUP_SLOTS], rc = STRATA_OK;
    strata_dtype kdt[ST_GROUP_KEYS], adt[ST_GROUP_SLOTS];
    double q[ST_GROUP_SLOTS];
    for (int k = 0; k < nkeys; k++) kdt[k] = keys[k].dtype;
    for (int a = 0; a < naggs; a++) {
        if (check_agg(&aggs[a]) < 0) return STRATA_EINVAL;
        ops[a] = aggs[a].op;
        adt[a] = aggs[a].op == ST_AGG_COUNT ? STRATA_I64 : aggs[a].in.dtype;
        q[a] = aggs[a].q;
    }
    st_groups_init(out, nkeys, kdt, naggs, ops, adt, q);
    int nt = nthreads < 1 ? 1 : nthreads > 64 ? 64 : nthreads;
    if (n < ((uint64_t)1 << 16)) nt = 1;
    ginputs gi;
    memset(&gi, 0, sizeof gi);
    uint64_t start[65];
    uint32_t *rows = NULL;
    gpart *parts = calloc((size_t)nt, sizeof *parts);
    int *rcs = calloc((size_t)nt, sizeof *rcs);
    if (parts == NULL || rcs == NULL) {
        rc = STRATA_ENOMEM;
        goto done;
    }
    ST_TRY(rc = prepare(out, keys, nkeys, n, aggs, naggs, &gi));
    /* one key over a small range: direct indexing (gdense.c) */
    ST_TRY(rc = st_gdense(gi.w, gi.nw, nkeys, n, gi.in, naggs, range, out, nt));
    if (rc == 1) {
        rc = STRATA_OK;
        goto done;
    }
    ST_TRY(rc = rowids(&gi, n));
    /* rows split among the threads by the hash of their keys, each reading only its own */
    if (nt > 1 && n < UINT32_MAX) {
        if ((rows = st_alloc_big((n + 1) * sizeof *rows)) == NULL) {
            rc = STRATA_ENOMEM;
            goto done;
        }
        split_rows(gi.w, gi.nw, n, nt, rows, start);
    } else { /* one part (or too many rows for 32-bit positions): every row on one thread */
        nt = 1;
        start[0] = 0;
        start[1] = n;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        st_groups_init(&parts[t].g, nkeys, kdt, naggs, ops, adt, q);
        for (int a = 0; a < ST_GROUP_SLOTS; a++) parts[t].h[a] = (st_vec)ST_VEC(hpair);
        rcs[t] = accumulate(&parts[t], gi.w, gi.nw, rows ? rows + start[t] : NULL,
                            start[t + 1] - start[t], gi.in);
    }
    for (int t = 0; t < nt; t++)
        if (rcs[t] < 0) rc = rcs[t];
    if (rc == STRATA_OK) rc = collect(out, parts, nt);
done:
    for (int t = 0; parts != NULL && t < nt; t++) {
        st_groups_free(&parts[t].g);
        for (int a = 0; a < ST_GROUP_SLOTS; a++) st_vec_free(&parts[t].h[a]);
    }
    for (int i = 0; parts != NULL && i < gi.nown; i++) free(gi.own[i]);
    st_free_big(rows);
    free(parts);
    free(rcs);
    if (rc < 0) st_groups_free(out);
    return rc;
}
