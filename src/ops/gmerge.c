/*
 * gmerge.c -- what is done with group-by results once computed: merging two (the incremental
 * group-by folds each new batch's groups into the previous ones this way), loading groups back
 * from stored rows, and reading values and keys out.
 *
 * A merge first unites the string dictionaries of both sides and renumbers their words (the
 * renumbering keeps the order, so both stay sorted), then walks the two sorted lists once:
 * groups with equal keys combine, DST's rows counting as the earlier ones. Sums add, variances
 * combine by Chan's parallel formula from (count, mean, M2), and holistic aggregates merge their
 * sorted value lists; the result equals aggregating the union of the rows, exactly for integers
 * and holistic aggregates, up to rounding for float sums and variances (whose bits depend only on
 * the order of the merges, so a fixed order gives fixed bits).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/vec.h"

/* Combine SRC's slot T into M's slot S, both of aggregate OP over floats if ISF. */
static void combine(st_groups *m, size_t s, const st_groups *src, size_t t, int op, int isf)
{
    int64_t na = m->nval[s], nb = src->nval[t];
    if (nb == 0 || st_agg_holistic(op) || op == ST_AGG_COUNT) return;
    m->nval[s] = na + nb;
    if (na == 0) {
        m->ival[s] = src->ival[t];
        m->fval[s] = src->fval[t];
        m->m2[s] = src->m2[t];
        return;
    }
    double x = m->fval[s], y = src->fval[t];
    int64_t ix = m->ival[s], iy = src->ival[t];
    switch (op) {
    case ST_AGG_SUM:
    case ST_AGG_MEAN:
        m->fval[s] = x + y;
        m->ival[s] = (int64_t)((uint64_t)ix + (uint64_t)iy);
        break;
    case ST_AGG_MIN:
    case ST_AGG_MAX:
        if (isf && (isnan(x) || (!isnan(y) && (op == ST_AGG_MIN ? y < x : y > x)))) m->fval[s] = y;
        if (!isf && (op == ST_AGG_MIN ? iy < ix : iy > ix)) m->ival[s] = iy;
        break;
    case ST_AGG_FIRST:
        if (isf && isnan(x) && !isnan(y)) m->fval[s] = y;
        break;
    case ST_AGG_LAST:
        if (!isf || !isnan(y)) {
            m->fval[s] = y;
            m->ival[s] = iy;
        }
        break;
    case ST_AGG_VAR:
    case ST_AGG_STD: { /* Chan et al. */
        double n = (double)(na + nb), d = y - x;
        m->fval[s] = x + d * ((double)nb / n);
        m->m2[s] = m->m2[s] + src->m2[t] + d * d * ((double)na * (double)nb / n);
        break;
    }
    }
}

/* The sorted union (DISTINCT: without repeats) of X[0..NX) and Y[0..NY) appended to V. */
static int merge_values(st_vec *v, const int64_t *x, uint64_t nx, const int64_t *y, uint64_t ny,
                        int distinct)
{
    if (st_vec_grow(v, (size_t)(nx + ny)) == NULL) return STRATA_ENOMEM;
    v->n -= (size_t)(nx + ny);
    int64_t *o = v->v;
    size_t start = v->n;
    uint64_t i = 0, j = 0;
    while (i < nx || j < ny) {
        int64_t w = j == ny || (i < nx && x[i] <= y[j]) ? x[i++] : y[j++];
        if (!distinct || v->n == start || o[v->n - 1] != w) o[v->n++] = w;
    }
    return STRATA_OK;
}

/* Renumber words W (N of them, stride ST, column K; rows where SKIP says so are left) by MAP. */
static void renumber(int64_t *w, uint64_t n, size_t st, size_t k, const int64_t *map,
                     const int64_t *mask, int bit, const int64_t *nval)
{
    for (uint64_t i = 0; i < n; i++) {
        if (mask != NULL && (mask[i * st] >> bit & 1)) continue;
        if (nval != NULL && nval[i * st] == 0) continue;
        w[i * st + k] = map[w[i * st + k]];
    }
}

/* Words of SRC that a merge renumbers, copied (SRC is const). */
typedef struct srcown {
    int64_t *keys, *ival, *hval[ST_GROUP_SLOTS];
} srcown;

static int unite_key(st_groups *dst, st_groups *s, int k, srcown *own)
{
    st_gdict u;
    int64_t *ma, *mb;
    size_t st = (size_t)dst->nkeys + 1;
    int rc = st_gdict_union(&dst->kdict[k], &s->kdict[k], &u, &ma, &mb);
    if (rc < 0) return rc;
    if (own->keys == NULL) {
        own->keys = malloc((s->n * st + 1) * sizeof *own->keys);
        if (own->keys == NULL) rc = STRATA_ENOMEM;
        if (own->keys != NULL) memcpy(own->keys, s->keys, s->n * st * sizeof *own->keys);
        s->keys = own->keys;
    }
    if (rc == STRATA_OK) {
        renumber(dst->keys, dst->n, st, (size_t)k, ma, dst->keys + st - 1, k, NULL);
        renumber(s->keys, s->n, st, (size_t)k, mb, s->keys + st - 1, k, NULL);
        st_gdict_free(&dst->kdict[k]);
        dst->kdict[k] = u;
    } else {
        st_gdict_free(&u);
    }
    free(ma);
    free(mb);
    return rc;
}

static int unite_slot(st_groups *dst, st_groups *s, int a, srcown *own)
{
    st_gdict u;
    int64_t *ma, *mb;
    size_t na = (size_t)dst->naggs;
    int rc = st_gdict_union(&dst->adict[a], &s->adict[a], &u, &ma, &mb);
    if (rc < 0) return rc;
    if (st_agg_holistic(dst->agg_op[a])) {
        uint64_t nd = dst->hoff[a][dst->n], ns = s->hoff[a][s->n];
        own->hval[a] = malloc((ns + 1) * sizeof *own->hval[a]);
        if (own->hval[a] == NULL) rc = STRATA_ENOMEM;
        for (uint64_t i = 0; rc == STRATA_OK && i < ns; i++) own->hval[a][i] = mb[s->hval[a][i]];
        for (uint64_t i = 0; rc == STRATA_OK && i < nd; i++) dst->hval[a][i] = ma[dst->hval[a][i]];
        s->hval[a] = own->hval[a];
    } else {
        if (own->ival == NULL) {
            own->ival = malloc((s->n * na + 1) * sizeof *own->ival);
            if (own->ival == NULL) rc = STRATA_ENOMEM;
            if (own->ival != NULL) memcpy(own->ival, s->ival, s->n * na * sizeof *own->ival);
            s->ival = own->ival;
        }
        if (rc == STRATA_OK) {
            renumber(dst->ival, dst->n, na, (size_t)a, ma, NULL, 0, dst->nval + a);
            renumber(s->ival, s->n, na, (size_t)a, mb, NULL, 0, s->nval + a);
        }
    }
    if (rc == STRATA_OK) {
        st_gdict_free(&dst->adict[a]);
        dst->adict[a] = u;
    } else {
        st_gdict_free(&u);
    }
    free(ma);
    free(mb);
    return rc;
}

/* Group GRP of M := group AT of FROM (keys, counts, aggregates; not the holistic values). */
static void copy_group(st_groups *m, uint64_t grp, const st_groups *from, uint64_t at)
{
    size_t nk = (size_t)m->nkeys + 1, na = (size_t)(m->naggs ? m->naggs : 1);
    for (size_t k = 0; k < nk; k++) m->keys[grp * nk + k] = from->keys[at * nk + k];
    m->count[grp] = from->count[at];
    if (m->naggs == 0) return;
    for (size_t a = 0; a < na; a++) { /* a few words: no memcpy call */
        m->nval[grp * na + a] = from->nval[at * na + a];
        m->ival[grp * na + a] = from->ival[at * na + a];
        m->fval[grp * na + a] = from->fval[at * na + a];
        m->m2[grp * na + a] = from->m2[at * na + a];
    }
}

/* Holistic slot A of merged group GRP: D's group I (if DI) and S's group J (if SJ). */
static int merge_holistic(st_groups *m, st_vec *v, int a, uint64_t grp, const st_groups *d,
                          uint64_t i, int di, const st_groups *s, uint64_t j, int sj)
{
    const int64_t *x = di ? d->hval[a] + d->hoff[a][i] : NULL;
    const int64_t *y = sj ? s->hval[a] + s->hoff[a][j] : NULL;
    uint64_t nx = di ? d->hoff[a][i + 1] - d->hoff[a][i] : 0;
    uint64_t ny = sj ? s->hoff[a][j + 1] - s->hoff[a][j] : 0;
    int rc = merge_values(v, x, nx, y, ny, m->agg_op[a] == ST_AGG_COUNT_DISTINCT);
    if (rc < 0) return rc;
    m->nval[grp * (size_t)m->naggs + (size_t)a] = (int64_t)(v->n - m->hoff[a][grp]);
    m->hoff[a][grp + 1] = v->n;
    return STRATA_OK;
}

/* Room for the offsets of NEED groups in M's holistic slots (capacity *CAP). */
static int grow_hoff(st_groups *m, uint64_t *cap, uint64_t need)
{
    if (need <= *cap) return STRATA_OK;
    uint64_t c = *cap ? *cap * 2 : 1024;
    while (c < need) c *= 2;
    for (int a = 0; a < m->naggs; a++) {
        if (!st_agg_holistic(m->agg_op[a])) continue;
        uint64_t *h = realloc(m->hoff[a], (c + 1) * sizeof *h);
        if (h == NULL) return STRATA_ENOMEM;
        if (m->hoff[a] == NULL) h[0] = 0;
        m->hoff[a] = h;
    }
    *cap = c;
    return STRATA_OK;
}

/* M := the groups of D and S merged (their dictionaries already united). */
static int merge_lists(st_groups *m, const st_groups *d, const st_groups *s, st_vec *hv)
{
    uint64_t cap = 0, hcap = 0, i = 0, j = 0;
    int rc = STRATA_OK;
    ST_TRY(rc = grow_hoff(m, &hcap, 1));
    ST_TRY(rc = st_groups_grow(m, &cap, d->n + s->n + 1)); /* at most: no realloc in the loop */
    while (i < d->n || j < s->n) {
        int c;
        if (i == d->n || j == s->n) {
            c = i == d->n ? 1 : -1;
        } else if (d->nkeys == 1) { /* inline: null bit, then the word */
            int64_t nx = d->keys[2 * i + 1], ny = s->keys[2 * j + 1];
            int64_t x = d->keys[2 * i], y = s->keys[2 * j];
            c = nx != ny ? (nx ? 1 : -1) : (x > y) - (x < y);
        } else {
            c = st_groups_cmp(d, i, s, j);
        }
        ST_TRY(rc = st_groups_grow(m, &cap, m->n + 1));
        ST_TRY(rc = grow_hoff(m, &hcap, m->n + 1));
        uint64_t g = m->n++;
        copy_group(m, g, c <= 0 ? d : s, c <= 0 ? i : j);
        if (c == 0) { /* combine S's partial into D's: D's rows come first */
            m->count[g] += s->count[j];
            for (int a = 0; a < m->naggs; a++)
                combine(m, g * (size_t)m->naggs + (size_t)a, s, j * (size_t)s->naggs + (size_t)a,
                        m->agg_op[a], m->agg_dtype[a] == STRATA_F64);
        }
        for (int a = 0; a < m->naggs; a++)
            if (st_agg_holistic(m->agg_op[a]))
                ST_TRY(rc = merge_holistic(m, &hv[a], a, g, d, i, c <= 0, s, j, c >= 0));
        if (c <= 0) i++;
        if (c >= 0) j++;
    }
done:
    return rc;
}

int st_groups_merge(st_groups *dst, const st_groups *src)
{
    st_groups s = *src, m;
    srcown own;
    memset(&own, 0, sizeof own);
    st_vec hv[ST_GROUP_SLOTS];
    for (int a = 0; a < ST_GROUP_SLOTS; a++) hv[a] = (st_vec)ST_VEC(int64_t);
    st_groups_shape_like(&m, dst);
    int rc = STRATA_OK;
    for (int k = 0; k < dst->nkeys; k++)
        if (dst->key_dtype[k] == STRATA_STR) ST_TRY(rc = unite_key(dst, &s, k, &own));
    for (int a = 0; a < dst->naggs; a++)
        if (dst->agg_dtype[a] == STRATA_STR && dst->agg_op[a] != ST_AGG_COUNT_COL)
            ST_TRY(rc = unite_slot(dst, &s, a, &own));
    ST_TRY(rc = merge_lists(&m, dst, &s, hv));
    for (int a = 0; a < m.naggs; a++) {
        if (!st_agg_holistic(m.agg_op[a])) continue;
        m.hval[a] = hv[a].v != NULL ? hv[a].v : malloc(sizeof *m.hval[a]);
        hv[a].v = NULL;
        if (m.hval[a] == NULL) {
            rc = STRATA_ENOMEM;
            goto done;
        }
    }
    memcpy(m.kdict, dst->kdict, sizeof m.kdict);
    memcpy(m.adict, dst->adict, sizeof m.adict);
    memset(dst->kdict, 0, sizeof dst->kdict);
    memset(dst->adict, 0, sizeof dst->adict);
    for (int a = 0; a < m.naggs; a++) ST_TRY(rc = st_groups_prune(&m, a));
    st_groups_free(dst);
    *dst = m;
    memset(&m, 0, sizeof m);
done:
    st_groups_free(&m);
    for (int a = 0; a < ST_GROUP_SLOTS; a++) {
        st_vec_free(&hv[a]);
        free(own.hval[a]);
    }
    free(own.keys);
    free(own.ival);
    return rc;
}

int st_groups_set_keys(st_groups *g, const st_gcol *keys, uint64_t n)
{
    uint64_t cap = 0;
    int rc = STRATA_OK;
    for (int a = 0; a < g->naggs; a++)
        if (st_agg_holistic(g->agg_op[a])) return STRATA_EINVAL;
    ST_TRY(rc = st_groups_grow(g, &cap, n + 1));
    size_t st = (size_t)g->nkeys + 1;
    for (uint64_t i = 0; i < n; i++) {
        st_groups_zero(g, i);
        g->keys[i * st + st - 1] = 0;
    }
    for (int k = 0; k < g->nkeys; k++) {
        const int64_t *w;
        int64_t *own;
        st_gdict_free(&g->kdict[k]);
        ST_TRY(rc = st_gwords(&keys[k], n, &w, &own, &g->kdict[k]));
        for (uint64_t i = 0; i < n; i++) {
            g->keys[i * st + (size_t)k] = w[i];
            if (!st_gvalid(keys[k].valid, i)) g->keys[i * st + st - 1] |= (int64_t)1 << k;
        }
        free(own);
    }
    g->n = n;
done:
    return rc;
}

int st_groups_set_str(st_groups *g, int a, const st_gcol *vals)
{
    const int64_t *w;
    int64_t *own;
    st_gdict_free(&g->adict[a]);
    int rc = st_gwords(vals, g->n, &w, &own, &g->adict[a]);
    if (rc < 0) return rc;
    for (uint64_t i = 0; i < g->n; i++) g->ival[i * (size_t)g->naggs + (size_t)a] = w[i];
    free(own);
    return STRATA_OK;
}

int st_groups_null(const st_groups *g, uint64_t grp, int a)
{
    int op = g->agg_op[a];
    if (op == ST_AGG_COUNT || op == ST_AGG_COUNT_COL || op == ST_AGG_COUNT_DISTINCT) return 0;
    return g->nval[grp * (size_t)g->naggs + (size_t)a] == 0;
}

/* Holistic value I of slot A as a double. */
static double hnum(const st_groups *g, int a, uint64_t i)
{
    int64_t w = g->hval[a][i];
    return g->agg_dtype[a] == STRATA_F64 ? st_gword_to_f64(w) : (double)w;
}

double st_groups_value(const st_groups *g, uint64_t grp, int a)
{
    size_t s = grp * (size_t)g->naggs + (size_t)a;
    int op = g->agg_op[a], isf = g->agg_dtype[a] == STRATA_F64;
    int64_t n = op == ST_AGG_COUNT ? 0 : g->nval[s];
    if (op == ST_AGG_COUNT) return (double)g->count[grp];
    if (op == ST_AGG_COUNT_COL || op == ST_AGG_COUNT_DISTINCT) return (double)n;
    if (n == 0) return NAN;
    switch (op) {
    case ST_AGG_MEAN:
        return (isf ? g->fval[s] : (double)g->ival[s]) / (double)n;
    case ST_AGG_VAR:
        return n < 2 ? NAN : g->m2[s] / (double)(n - 1);
    case ST_AGG_STD:
        return n < 2 ? NAN : sqrt(g->m2[s] / (double)(n - 1));
    case ST_AGG_MEDIAN: {
        uint64_t o = g->hoff[a][grp], h = (uint64_t)n / 2;
        return n % 2 ? hnum(g, a, o + h) : (hnum(g, a, o + h - 1) + hnum(g, a, o + h)) / 2;
    }
    case ST_AGG_QUANTILE: { /* pandas: v[i] + (v[i+1] - v[i]) * frac */
        uint64_t o = g->hoff[a][grp];
        double at = g->agg_q[a] * (double)(n - 1), frac = fmod(at, 1.0);
        uint64_t i = (uint64_t)at;
        double v = hnum(g, a, o + i);
        if (frac == 0.0 || i + 1 >= (uint64_t)n) return v;
        return v + (hnum(g, a, o + i + 1) - v) * frac;
    }
    default:
        return isf ? g->fval[s] : (double)g->ival[s];
    }
}

int st_groups_key(const st_groups *g, uint64_t grp, int k, void *out, const char **s, size_t *len)
{
    size_t st = (size_t)g->nkeys + 1;
    if (g->keys[grp * st + st - 1] >> k & 1) return 1;
    int64_t w = g->keys[grp * st + (size_t)k];
    if (g->key_dtype[k] == STRATA_STR) {
        *s = g->kdict[k].bytes + g->kdict[k].off[w];
        *len = (size_t)(g->kdict[k].off[w + 1] - g->kdict[k].off[w]);
    } else {
        st_gword_put(g->key_dtype[k], w, out);
    }
    return 0;
}

void st_groups_str(const st_groups *g, uint64_t grp, int a, const char **s, size_t *len)
{
    int64_t w = g->ival[grp * (size_t)g->naggs + (size_t)a];
    const st_gdict *d = &g->adict[a];
    if (g->nval[grp * (size_t)g->naggs + (size_t)a] == 0 || (uint64_t)w >= d->n) {
        *s = "";
        *len = 0;
        return;
    }
    *s = d->bytes + d->off[w];
    *len = (size_t)(d->off[w + 1] - d->off[w]);
}

void st_groups_free(st_groups *g)
{
    if (g->block == NULL) {
        free(g->keys);
        free(g->count);
        free(g->nval);
        free(g->ival);
        free(g->fval);
        free(g->m2);
    }
    st_free_big(g->block);
    g->block = NULL;
    for (int k = 0; k < ST_GROUP_KEYS; k++) st_gdict_free(&g->kdict[k]);
    for (int a = 0; a < ST_GROUP_SLOTS; a++) {
        st_gdict_free(&g->adict[a]);
        free(g->hoff[a]);
        free(g->hval[a]);
        g->hoff[a] = NULL;
        g->hval[a] = NULL;
    }
    g->keys = g->count = g->nval = g->ival = NULL;
    g->fval = g->m2 = NULL;
    g->n = 0;
}

/* ---- groups as bytes ------------------------------------------------------------------------ */

/* Words per group of the aggregate arrays (one when there are no aggregates). */
static uint64_t na_of(const st_groups *g)
{
    return (uint64_t)(g->naggs ? g->naggs : 1);
}

/* An array: whether it is there and its bytes, then the bytes. */
static int put_arr(st_vec *v, const void *p, uint64_t len)
{
    uint64_t h[2] = {p != NULL, p != NULL ? len : 0};
    char *at = st_vec_grow(v, sizeof h + (size_t)h[1]);
    if (at == NULL) return STRATA_ENOMEM;
    memcpy(at, h, sizeof h);
    if (h[1] > 0) memcpy(at + sizeof h, p, (size_t)h[1]);
    return STRATA_OK;
}

/* The array at *Q (up to END), of LEN bytes when there, copied into *OUT (or NULL). */
static int get_arr(const char **q, const char *end, uint64_t len, void **out)
{
    uint64_t h[2];
    *out = NULL;
    if ((uint64_t)(end - *q) < sizeof h) return STRATA_ECORRUPT;
    memcpy(h, *q, sizeof h);
    *q += sizeof h;
    if (!h[0]) return h[1] == 0 ? STRATA_OK : STRATA_ECORRUPT;
    if (h[1] != len || len > (uint64_t)(end - *q)) return STRATA_ECORRUPT;
    if ((*out = malloc((size_t)len + 8)) == NULL) return STRATA_ENOMEM;
    memcpy(*out, *q, (size_t)len);
    *q += len;
    return STRATA_OK;
}

static int put_dict(st_vec *v, const st_gdict *d)
{
    int rc = put_arr(v, &d->n, sizeof d->n);
    if (rc == STRATA_OK) rc = put_arr(v, d->off, (d->n + 1) * 8);
    if (rc == STRATA_OK) rc = put_arr(v, d->bytes, d->off != NULL ? (uint64_t)d->off[d->n] : 0);
    return rc;
}

static int get_dict(const char **q, const char *end, st_gdict *d)
{
    uint64_t *n;
    int rc = get_arr(q, end, 8, (void **)&n);
    if (rc == STRATA_OK && n == NULL) rc = STRATA_ECORRUPT;
    if (rc == STRATA_OK && *n > (uint64_t)(end - *q) / 8) rc = STRATA_ECORRUPT;
    if (rc == STRATA_OK) {
        d->n = *n;
        rc = get_arr(q, end, (d->n + 1) * 8, (void **)&d->off);
    }
    free(n);
    if (rc == STRATA_OK && d->off != NULL && (d->off[0] < 0 || d->off[d->n] < d->off[0]))
        rc = STRATA_ECORRUPT;
    uint64_t nb = d->off != NULL ? (uint64_t)d->off[d->n] : 0;
    if (rc == STRATA_OK) rc = get_arr(q, end, nb, (void **)&d->bytes);
    return rc;
}

int st_groups_pack(const st_groups *g, st_vec *v)
{
    uint64_t nk = (uint64_t)g->nkeys + 1, na = na_of(g), n = g->n;
    int64_t head[3] = {g->nkeys, g->naggs, (int64_t)g->n};
    int rc = put_arr(v, head, sizeof head);
    if (rc == STRATA_OK) rc = put_arr(v, g->key_dtype, sizeof g->key_dtype);
    if (rc == STRATA_OK) rc = put_arr(v, g->agg_op, sizeof g->agg_op);
    if (rc == STRATA_OK) rc = put_arr(v, g->agg_dtype, sizeof g->agg_dtype);
    if (rc == STRATA_OK) rc = put_arr(v, g->agg_q, sizeof g->agg_q);
    if (rc == STRATA_OK) rc = put_arr(v, g->keys, n * nk * 8);
    if (rc == STRATA_OK) rc = put_arr(v, g->count, n * 8);
    if (rc == STRATA_OK) rc = put_arr(v, g->nval, n * na * 8);
    if (rc == STRATA_OK) rc = put_arr(v, g->ival, n * na * 8);
    if (rc == STRATA_OK) rc = put_arr(v, g->fval, n * na * 8);
    if (rc == STRATA_OK) rc = put_arr(v, g->m2, n * na * 8);
    for (int k = 0; k < ST_GROUP_KEYS && rc == STRATA_OK; k++) rc = put_dict(v, &g->kdict[k]);
    for (int a = 0; a < ST_GROUP_SLOTS && rc == STRATA_OK; a++) {
        rc = put_dict(v, &g->adict[a]);
        if (rc == STRATA_OK) rc = put_arr(v, g->hoff[a], (n + 1) * 8);
        if (rc == STRATA_OK)
            rc = put_arr(v, g->hval[a], g->hoff[a] != NULL ? g->hoff[a][n] * 8 : 0);
    }
    return rc;
}

/* The fixed part of the groups at *Q into G (zeroed first). */
static int unpack_head(const char **q, const char *end, st_groups *g)
{
    void *p[5] = {0};
    int64_t *head;
    int rc = get_arr(q, end, 3 * 8, &p[0]);
    if (rc == STRATA_OK) rc = get_arr(q, end, sizeof g->key_dtype, &p[1]);
    if (rc == STRATA_OK) rc = get_arr(q, end, sizeof g->agg_op, &p[2]);
    if (rc == STRATA_OK) rc = get_arr(q, end, sizeof g->agg_dtype, &p[3]);
    if (rc == STRATA_OK) rc = get_arr(q, end, sizeof g->agg_q, &p[4]);
    for (int i = 0; i < 5 && rc == STRATA_OK; i++)
        if (p[i] == NULL) rc = STRATA_ECORRUPT;
    if (rc == STRATA_OK) {
        head = p[0];
        if (head[0] < 1 || head[0] > ST_GROUP_KEYS || head[1] < 0 || head[1] > ST_GROUP_SLOTS ||
            head[2] < 0 || (uint64_t)head[2] > (uint64_t)(end - *q) / 8)
            rc = STRATA_ECORRUPT;
    }
    if (rc == STRATA_OK) {
        g->nkeys = (int)head[0];
        g->naggs = (int)head[1];
        g->n = (uint64_t)head[2];
        memcpy(g->key_dtype, p[1], sizeof g->key_dtype);
        memcpy(g->agg_op, p[2], sizeof g->agg_op);
        memcpy(g->agg_dtype, p[3], sizeof g->agg_dtype);
        memcpy(g->agg_q, p[4], sizeof g->agg_q);
    }
    for (int i = 0; i < 5; i++) free(p[i]);
    return rc;
}

int st_groups_unpack(const char **q, const char *end, st_groups *g)
{
    memset(g, 0, sizeof *g);
    int rc = unpack_head(q, end, g);
    uint64_t nk = (uint64_t)g->nkeys + 1, na = na_of(g), n = g->n;
    if (rc == STRATA_OK) rc = get_arr(q, end, n * nk * 8, (void **)&g->keys);
    if (rc == STRATA_OK) rc = get_arr(q, end, n * 8, (void **)&g->count);
    if (rc == STRATA_OK) rc = get_arr(q, end, n * na * 8, (void **)&g->nval);
    if (rc == STRATA_OK) rc = get_arr(q, end, n * na * 8, (void **)&g->ival);
    if (rc == STRATA_OK) rc = get_arr(q, end, n * na * 8, (void **)&g->fval);
    if (rc == STRATA_OK) rc = get_arr(q, end, n * na * 8, (void **)&g->m2);
    for (int k = 0; k < ST_GROUP_KEYS && rc == STRATA_OK; k++) rc = get_dict(q, end, &g->kdict[k]);
    for (int a = 0; a < ST_GROUP_SLOTS && rc == STRATA_OK; a++) {
        rc = get_dict(q, end, &g->adict[a]);
        if (rc == STRATA_OK) rc = get_arr(q, end, (n + 1) * 8, (void **)&g->hoff[a]);
        uint64_t nh = g->hoff[a] != NULL ? g->hoff[a][n] : 0;
        if (rc == STRATA_OK && nh > (uint64_t)(end - *q) / 8) rc = STRATA_ECORRUPT;
        if (rc == STRATA_OK) rc = get_arr(q, end, nh * 8, (void **)&g->hval[a]);
    }
    if (rc == STRATA_OK && n > 0 && (g->keys == NULL || g->count == NULL)) rc = STRATA_ECORRUPT;
    if (rc < 0) st_groups_free(g);
    return rc;
}

/* ---- a subset of groups --------------------------------------------------------------------- */

uint64_t st_groups_hash(const st_groups *g, uint64_t grp)
{
    size_t nk = (size_t)g->nkeys + 1;
    const int64_t *key = g->keys + grp * nk;
    uint64_t nulls = (uint64_t)key[g->nkeys], h = 0x9E3779B97F4A7C15ull ^ nulls;
    for (int k = 0; k < g->nkeys; k++) {
        uint64_t x = (uint64_t)key[k];
        if (g->key_dtype[k] == STRATA_STR && !(nulls >> k & 1)) { /* FNV-1a of the bytes */
            const st_gdict *d = &g->kdict[k];
            x = 0xCBF29CE484222325ull;
            for (int64_t i = d->off[key[k]]; i < d->off[key[k] + 1]; i++)
                x = (x ^ (uint8_t)d->bytes[i]) * 0x100000001B3ull;
        }
        h = (h ^ x) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 33;
    }
    return h;
}

static int dict_copy(st_gdict *d, const st_gdict *s)
{
    memset(d, 0, sizeof *d);
    if (s->off == NULL) return STRATA_OK;
    d->off = malloc((size_t)(s->n + 1) * sizeof *d->off);
    d->bytes = malloc((size_t)s->off[s->n] + 1);
    if (d->off == NULL || d->bytes == NULL) return STRATA_ENOMEM;
    d->n = s->n;
    memcpy(d->off, s->off, (size_t)(s->n + 1) * sizeof *d->off);
    memcpy(d->bytes, s->bytes, (size_t)s->off[s->n]);
    return STRATA_OK;
}

/* Holistic slot A of OUT: the value lists of G's groups IDS[0..M). */
static int pick_holistic(st_groups *out, const st_groups *g, int a, const uint64_t *ids, uint64_t m)
{
    uint64_t nh = 0;
    for (uint64_t i = 0; i < m; i++) nh += g->hoff[a][ids[i] + 1] - g->hoff[a][ids[i]];
    out->hoff[a] = malloc((size_t)(m + 1) * sizeof *out->hoff[a]);
    out->hval[a] = malloc((size_t)nh * sizeof *out->hval[a] + 8);
    if (out->hoff[a] == NULL || out->hval[a] == NULL) return STRATA_ENOMEM;
    out->hoff[a][0] = 0;
    for (uint64_t i = 0; i < m; i++) {
        uint64_t lo = g->hoff[a][ids[i]], len = g->hoff[a][ids[i] + 1] - lo;
        memcpy(out->hval[a] + out->hoff[a][i], g->hval[a] + lo, (size_t)len * 8);
        out->hoff[a][i + 1] = out->hoff[a][i] + len;
    }
    return STRATA_OK;
}

int st_groups_pick(const st_groups *g, const uint64_t *ids, uint64_t m, st_groups *out)
{
    st_groups_shape_like(out, g);
    uint64_t cap = 0;
    int rc = st_groups_grow(out, &cap, m + 1);
    for (uint64_t i = 0; i < m && rc == STRATA_OK; i++) copy_group(out, i, g, ids[i]);
    out->n = rc == STRATA_OK ? m : 0;
    for (int k = 0; k < g->nkeys && rc == STRATA_OK; k++)
        rc = dict_copy(&out->kdict[k], &g->kdict[k]);
    for (int a = 0; a < g->naggs && rc == STRATA_OK; a++) {
        rc = dict_copy(&out->adict[a], &g->adict[a]);
        if (rc == STRATA_OK && st_agg_holistic(g->agg_op[a]) && g->hoff[a] != NULL)
            rc = pick_holistic(out, g, a, ids, m);
        if (rc == STRATA_OK) rc = st_groups_prune(out, a);
    }
    if (rc < 0) {
        st_groups_free(out);
        st_groups_shape_like(out, g);
    }
    return rc;
}
