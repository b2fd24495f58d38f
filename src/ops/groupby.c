/*
 * groupby.c -- hash group-by with sum, count, min, max and mean, and the merge of partial
 * results that incremental group-by is built on.
 *
 * Determinism: rows are partitioned among threads by the hash of their key, and each thread
 * scans every row in order, accumulating only its own groups. Every group therefore sees its rows
 * in row order, so float sums are the same for any thread count. The groups of all threads are
 * then sorted by key.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/ops.h"
#include "util/error.h"

static uint64_t hash_keys(const int64_t *const *keys, int nk, uint64_t row)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int k = 0; k < nk; k++) {
        h ^= (uint64_t)keys[k][row] + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    return h;
}

/* Room for NEED groups in G (capacity *CAP). STRATA_ENOMEM leaves G valid, its arrays possibly
 * grown. */
static int grow_groups(st_groups *g, uint64_t *cap, uint64_t need)
{
    if (need <= *cap) return STRATA_OK;
    uint64_t c = *cap ? *cap * 2 : 1024;
    while (c < need) c *= 2;
    int64_t *k = realloc(g->keys, c * (size_t)g->nkeys * sizeof *k);
    if (k == NULL) return STRATA_ENOMEM;
    g->keys = k;
    int64_t *cnt = realloc(g->count, c * sizeof *cnt);
    if (cnt == NULL) return STRATA_ENOMEM;
    g->count = cnt;
    size_t na = (size_t)(g->naggs ? g->naggs : 1);
    int64_t *iv = realloc(g->ival, c * na * sizeof *iv);
    if (iv == NULL) return STRATA_ENOMEM;
    g->ival = iv;
    double *fv = realloc(g->fval, c * na * sizeof *fv);
    if (fv == NULL) return STRATA_ENOMEM;
    g->fval = fv;
    *cap = c;
    return STRATA_OK;
}

/* Fold row value into group slot. */
static void fold(st_groups *g, uint64_t grp, int a, const st_agg *agg, uint64_t row, int first)
{
    size_t s = grp * (size_t)g->naggs + (size_t)a;
    int op = agg->op;
    if (op == ST_AGG_COUNT) return;
    if (agg->is_float) {
        double v = ((const double *)agg->values)[row];
        if (op == ST_AGG_SUM || op == ST_AGG_MEAN) {
            g->fval[s] = first ? v : g->fval[s] + v;
        } else if (!isnan(v)) {
            double cur = g->fval[s];
            if (first || isnan(cur) || (op == ST_AGG_MIN ? v < cur : v > cur)) g->fval[s] = v;
        } else if (first) {
            g->fval[s] = NAN; /* stays NaN only while the group has no number */
        }
    } else {
        int64_t v = ((const int64_t *)agg->values)[row];
        if (op == ST_AGG_SUM || op == ST_AGG_MEAN)
            g->ival[s] = first ? v : (int64_t)((uint64_t)g->ival[s] + (uint64_t)v);
        else if (first || (op == ST_AGG_MIN ? v < g->ival[s] : v > g->ival[s]))
            g->ival[s] = v;
    }
}

/* Accumulate the rows whose hash falls in partition PART of NPART into G. */
static int accumulate(st_groups *g, const int64_t *const *keys, uint64_t n, const st_agg *aggs,
                      int part, int npart)
{
    uint64_t cap = 0, tcap = 1024, tmask = tcap - 1;
    uint64_t *table = calloc(tcap, sizeof *table); /* group index + 1; 0 is empty */
    if (table == NULL) return STRATA_ENOMEM;
    int rc = STRATA_OK, nk = g->nkeys;
    for (uint64_t r = 0; r < n; r++) {
        uint64_t h = hash_keys(keys, nk, r);
        if ((int)(h % (uint64_t)npart) != part) continue;
        uint64_t slot = (h >> 8) & tmask, grp;
        for (;;) {
            uint64_t e = table[slot];
            if (e == 0) {
                ST_TRY(rc = grow_groups(g, &cap, g->n + 1));
                grp = g->n++;
                for (int k = 0; k < nk; k++) g->keys[grp * (size_t)nk + (size_t)k] = keys[k][r];
                g->count[grp] = 0;
                /* both slots of every aggregate are defined (one of them stays unused) */
                size_t na = (size_t)(g->naggs ? g->naggs : 1);
                memset(g->ival + grp * na, 0, na * sizeof *g->ival);
                memset(g->fval + grp * na, 0, na * sizeof *g->fval);
                table[slot] = grp + 1;
                break;
            }
            grp = e - 1;
            int same = 1;
            for (int k = 0; k < nk && same; k++)
                same = g->keys[grp * (size_t)nk + (size_t)k] == keys[k][r];
            if (same) break;
            slot = (slot + 1) & tmask;
        }
        int first = g->count[grp] == 0;
        g->count[grp]++;
        for (int a = 0; a < g->naggs; a++) fold(g, grp, a, &aggs[a], r, first);
        if (g->n * 2 > tcap) { /* rehash */
            uint64_t ncap = tcap * 2;
            uint64_t *nt = calloc(ncap, sizeof *nt);
            if (nt == NULL) {
                rc = STRATA_ENOMEM;
                goto done;
            }
            for (uint64_t x = 0; x < g->n; x++) {
                uint64_t hh = 0x9E3779B97F4A7C15ull;
                for (int k = 0; k < nk; k++) {
                    hh ^= (uint64_t)g->keys[x * (size_t)nk + (size_t)k] + 0x9E3779B97F4A7C15ull +
                          (hh << 6) + (hh >> 2);
                    hh *= 0xBF58476D1CE4E5B9ull;
                    hh ^= hh >> 31;
                }
                uint64_t s = (hh >> 8) & (ncap - 1);
                while (nt[s] != 0) s = (s + 1) & (ncap - 1);
                nt[s] = x + 1;
            }
            free(table);
            table = nt;
            tcap = ncap;
            tmask = ncap - 1;
        }
    }
done:
    free(table);
    return rc;
}

static int key_cmp(const st_groups *g, uint64_t a, uint64_t b)
{
    for (int k = 0; k < g->nkeys; k++) {
        int64_t x = g->keys[a * (size_t)g->nkeys + (size_t)k];
        int64_t y = g->keys[b * (size_t)g->nkeys + (size_t)k];
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* Reorder G's groups by key (insertion into a sorted permutation via merge sort). */
static int sort_groups(st_groups *g)
{
    uint64_t n = g->n;
    if (n < 2) return STRATA_OK;
    int rc = STRATA_OK;
    int64_t *keys = NULL, *count = NULL, *iv = NULL;
    double *fv = NULL;
    uint64_t *perm = malloc(n * sizeof *perm), *tmp = malloc(n * sizeof *tmp);
    if (perm == NULL || tmp == NULL) {
        rc = STRATA_ENOMEM;
        goto done;
    }
    for (uint64_t i = 0; i < n; i++) perm[i] = i;
    for (uint64_t w = 1; w < n; w *= 2) {
        for (uint64_t lo = 0; lo < n; lo += 2 * w) {
            uint64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            uint64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = key_cmp(g, perm[i], perm[j]) <= 0 ? perm[i++] : perm[j++];
            while (i < mid) tmp[o++] = perm[i++];
            while (j < hi) tmp[o++] = perm[j++];
        }
        uint64_t *x = perm;
        perm = tmp;
        tmp = x;
    }
    st_groups s = *g;
    size_t nk = (size_t)g->nkeys, na = (size_t)(g->naggs ? g->naggs : 1);
    keys = malloc(n * nk * sizeof *keys);
    count = malloc(n * sizeof *count);
    iv = malloc(n * na * sizeof *iv);
    fv = malloc(n * na * sizeof *fv);
    if (keys == NULL || count == NULL || iv == NULL || fv == NULL) {
        free(keys);
        free(count);
        free(iv);
        free(fv);
        rc = STRATA_ENOMEM;
        goto done;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = perm[i];
        memcpy(keys + i * nk, s.keys + p * nk, nk * sizeof *keys);
        count[i] = s.count[p];
        memcpy(iv + i * na, s.ival + p * na, na * sizeof *iv);
        memcpy(fv + i * na, s.fval + p * na, na * sizeof *fv);
    }
    free(g->keys);
    free(g->count);
    free(g->ival);
    free(g->fval);
    g->keys = keys;
    g->count = count;
    g->ival = iv;
    g->fval = fv;
done:
    free(perm);
    free(tmp);
    return rc;
}

static void init_like(st_groups *g, int nkeys, const int *ops, const int *floats, int naggs)
{
    memset(g, 0, sizeof *g);
    g->nkeys = nkeys;
    g->naggs = naggs;
    for (int a = 0; a < naggs; a++) {
        g->agg_op[a] = ops[a];
        g->agg_float[a] = floats[a];
    }
}

/* Append the groups of SRC to DST (no merging of equal keys). */
static int append_groups(st_groups *dst, uint64_t *cap, const st_groups *src)
{
    if (src->n == 0) return STRATA_OK;
    int rc = grow_groups(dst, cap, dst->n + src->n);
    if (rc < 0) return rc;
    size_t nk = (size_t)dst->nkeys, na = (size_t)(dst->naggs ? dst->naggs : 1);
    memcpy(dst->keys + dst->n * nk, src->keys, src->n * nk * sizeof *dst->keys);
    memcpy(dst->count + dst->n, src->count, src->n * sizeof *dst->count);
    memcpy(dst->ival + dst->n * na, src->ival, src->n * na * sizeof *dst->ival);
    memcpy(dst->fval + dst->n * na, src->fval, src->n * na * sizeof *dst->fval);
    dst->n += src->n;
    return STRATA_OK;
}

int st_groupby(const int64_t *const *keys, int nkeys, uint64_t n, const st_agg *aggs, int naggs,
               st_groups *out, int nthreads)
{
    if (nkeys < 1 || nkeys > 8 || naggs < 0 || naggs > ST_GROUP_SLOTS) return STRATA_EINVAL;
    int ops[ST_GROUP_SLOTS], floats[ST_GROUP_SLOTS];
    for (int a = 0; a < naggs; a++) {
        ops[a] = aggs[a].op;
        floats[a] = aggs[a].is_float;
    }
    int nt = nthreads < 1 ? 1 : nthreads;
    if (n < ((uint64_t)1 << 16)) nt = 1;
    st_groups *parts = calloc((size_t)nt, sizeof *parts);
    int *rcs = calloc((size_t)nt, sizeof *rcs);
    if (parts == NULL || rcs == NULL) {
        free(parts);
        free(rcs);
        return STRATA_ENOMEM;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
        init_like(&parts[t], nkeys, ops, floats, naggs);
        rcs[t] = accumulate(&parts[t], keys, n, aggs, t, nt);
    }
    int rc = STRATA_OK;
    init_like(out, nkeys, ops, floats, naggs);
    uint64_t cap = 0;
    for (int t = 0; t < nt; t++) { /* every part is freed, whatever failed */
        if (rc == STRATA_OK) rc = rcs[t] < 0 ? rcs[t] : append_groups(out, &cap, &parts[t]);
        st_groups_free(&parts[t]);
    }
    free(parts);
    free(rcs);
    if (rc == STRATA_OK) rc = sort_groups(out);
    if (rc < 0) st_groups_free(out);
    return rc;
}

int st_groups_merge(st_groups *dst, const st_groups *src)
{
    /* Both are sorted by key: a linear merge. */
    st_groups m;
    init_like(&m, dst->nkeys, dst->agg_op, dst->agg_float, dst->naggs);
    uint64_t cap = 0, i = 0, j = 0;
    size_t nk = (size_t)dst->nkeys, na = (size_t)dst->naggs;
    while (i < dst->n || j < src->n) {
        int c;
        if (i == dst->n)
            c = 1;
        else if (j == src->n)
            c = -1;
        else {
            c = 0;
            for (size_t k = 0; k < nk && c == 0; k++) {
                int64_t x = dst->keys[i * nk + k], y = src->keys[j * nk + k];
                c = x < y ? -1 : x > y;
            }
        }
        int rc = grow_groups(&m, &cap, m.n + 1);
        if (rc < 0) {
            st_groups_free(&m);
            return rc;
        }
        uint64_t g = m.n++;
        const st_groups *from = c <= 0 ? dst : src;
        uint64_t at = c <= 0 ? i : j;
        memcpy(m.keys + g * nk, from->keys + at * nk, nk * sizeof *m.keys);
        m.count[g] = from->count[at];
        if (na) {
            memcpy(m.ival + g * na, from->ival + at * na, na * sizeof *m.ival);
            memcpy(m.fval + g * na, from->fval + at * na, na * sizeof *m.fval);
        }
        if (c == 0) { /* combine SRC's partial into DST's: DST's rows come first */
            m.count[g] += src->count[j];
            for (size_t a = 0; a < na; a++) {
                int op = dst->agg_op[a];
                size_t s = g * na + a, t = j * na + a;
                if (op == ST_AGG_COUNT) continue;
                if (dst->agg_float[a]) {
                    double x = m.fval[s], y = src->fval[t];
                    if (op == ST_AGG_SUM || op == ST_AGG_MEAN)
                        m.fval[s] = x + y;
                    else if (isnan(x) || (!isnan(y) && (op == ST_AGG_MIN ? y < x : y > x)))
                        m.fval[s] = y;
                } else {
                    int64_t x = m.ival[s], y = src->ival[t];
                    if (op == ST_AGG_SUM || op == ST_AGG_MEAN)
                        m.ival[s] = (int64_t)((uint64_t)x + (uint64_t)y);
                    else if (op == ST_AGG_MIN ? y < x : y > x)
                        m.ival[s] = y;
                }
            }
        }
        if (c <= 0) i++;
        if (c >= 0) j++;
    }
    st_groups_free(dst);
    *dst = m;
    return STRATA_OK;
}

double st_groups_value(const st_groups *g, uint64_t grp, int a)
{
    size_t s = grp * (size_t)g->naggs + (size_t)a;
    int op = g->agg_op[a];
    if (op == ST_AGG_COUNT) return (double)g->count[grp];
    double v = g->agg_float[a] ? g->fval[s] : (double)g->ival[s];
    return op == ST_AGG_MEAN ? v / (double)g->count[grp] : v;
}

void st_groups_free(st_groups *g)
{
    free(g->keys);
    free(g->count);
    free(g->ival);
    free(g->fval);
    g->keys = g->count = g->ival = NULL;
    g->fval = NULL;
    g->n = 0;
}
