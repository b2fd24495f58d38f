/*
 * gkey.c -- the keys of a group-by as 64-bit words. Every key dtype is normalised, once per
 * call, to words whose signed order is the key's order, so that the hash table, the sort and
 * the merge of groupby.c only ever see int64 words: integers are their value (u64 with the sign
 * bit flipped), floats their IEEE order image (-0 as +0, every NaN one word, last), strings their
 * rank in a dictionary of the column's distinct strings, sorted bytewise. Merging two results
 * unites their dictionaries and renumbers both sides; the renumbering is monotone, so sorted
 * groups stay sorted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_int.h"
#include "util/error.h"

#define SIGN ((uint64_t)1 << 63)

int64_t st_gword_f64(double v)
{
    if (isnan(v)) return INT64_MAX;
    if (v == 0) v = 0.0; /* -0 joins +0 */
    uint64_t u;
    memcpy(&u, &v, 8);
    uint64_t img = u & SIGN ? ~u : u | SIGN;
    return (int64_t)(img ^ SIGN);
}

double st_gword_to_f64(int64_t w)
{
    if (w == INT64_MAX) return NAN;
    uint64_t img = (uint64_t)w ^ SIGN;
    uint64_t u = img & SIGN ? img & ~SIGN : ~img;
    double v;
    memcpy(&v, &u, 8);
    return v;
}

void st_gword_put(strata_dtype dtype, int64_t w, void *out)
{
    switch (dtype) {
    case STRATA_I8:
        *(int8_t *)out = (int8_t)w;
        break;
    case STRATA_I16:
        *(int16_t *)out = (int16_t)w;
        break;
    case STRATA_I32:
        *(int32_t *)out = (int32_t)w;
        break;
    case STRATA_U8:
    case STRATA_BOOL:
        *(uint8_t *)out = (uint8_t)w;
        break;
    case STRATA_U16:
        *(uint16_t *)out = (uint16_t)w;
        break;
    case STRATA_U32:
        *(uint32_t *)out = (uint32_t)w;
        break;
    case STRATA_U64:
        *(uint64_t *)out = (uint64_t)w ^ SIGN;
        break;
    case STRATA_F32:
        *(float *)out = (float)st_gword_to_f64(w);
        break;
    case STRATA_F64:
        *(double *)out = st_gword_to_f64(w);
        break;
    default:
        *(int64_t *)out = w;
        break; /* i64, ts */
    }
}

#define WORDS(T, expr)                                                                             \
    do {                                                                                           \
        const T *v = c->data;                                                                      \
        for (uint64_t i = 0; i < n; i++) out[i] = (expr);                                          \
    } while (0)

/* Numeric words of C into OUT (nulls not yet cleared). */
static void num_words(const st_gcol *c, uint64_t n, int64_t *out)
{
    switch (c->dtype) {
    case STRATA_I8:
        WORDS(int8_t, v[i]);
        break;
    case STRATA_I16:
        WORDS(int16_t, v[i]);
        break;
    case STRATA_I32:
        WORDS(int32_t, v[i]);
        break;
    case STRATA_U8:
    case STRATA_BOOL:
        WORDS(uint8_t, v[i]);
        break;
    case STRATA_U16:
        WORDS(uint16_t, v[i]);
        break;
    case STRATA_U32:
        WORDS(uint32_t, v[i]);
        break;
    case STRATA_U64:
        WORDS(uint64_t, (int64_t)(v[i] ^ SIGN));
        break;
    case STRATA_F32:
        WORDS(float, st_gword_f64((double)v[i]));
        break;
    case STRATA_F64:
        WORDS(double, st_gword_f64(v[i]));
        break;
    default:
        memcpy(out, c->data, n * sizeof *out);
        break;
    }
}

/* The strings of rows REP[0..m) of (OFF, BYTES) packed into D. */
static int dict_pack(const int64_t *off, const char *bytes, const uint64_t *rep, uint64_t m,
                     st_gdict *d)
{
    size_t total = 0;
    for (uint64_t i = 0; i < m; i++) total += (size_t)(off[rep[i] + 1] - off[rep[i]]);
    d->off = malloc((m + 1) * sizeof *d->off);
    d->bytes = malloc(total + 1);
    if (d->off == NULL || d->bytes == NULL) return STRATA_ENOMEM;
    d->n = m;
    d->off[0] = 0;
    for (uint64_t i = 0; i < m; i++) {
        size_t len = (size_t)(off[rep[i] + 1] - off[rep[i]]);
        memcpy(d->bytes + d->off[i], bytes + off[rep[i]], len);
        d->off[i + 1] = d->off[i] + (int64_t)len;
    }
    return STRATA_OK;
}

/* Intern the strings of C: OUT[i] = the id of row i's string in order of first appearance (0 for
 * nulls); REP (room for N) the first row of each id; returns how many ids, or STRATA_ENOMEM. */
static int64_t intern(const st_gcol *c, uint64_t n, int64_t *out, uint64_t *rep)
{
    const int64_t *off = c->data;
    uint64_t cap = 1024, m = 0;
    uint64_t *tab = calloc(cap, sizeof *tab); /* id + 1; 0 is empty */
    if (tab == NULL) return STRATA_ENOMEM;
    for (uint64_t r = 0; r < n; r++) {
        out[r] = 0;
        if (!st_gvalid(c->valid, r)) continue;
        const char *s = c->bytes + off[r];
        size_t len = (size_t)(off[r + 1] - off[r]);
        uint64_t slot = st_gstr_hash(s, len) & (cap - 1);
        while (tab[slot] != 0) {
            uint64_t q = rep[tab[slot] - 1];
            if ((size_t)(off[q + 1] - off[q]) == len && st_gstr_same(c->bytes + off[q], s, len))
                break;
            slot = (slot + 1) & (cap - 1);
        }
        if (tab[slot] == 0) {
            rep[m] = r;
            tab[slot] = ++m;
            if (m * 2 > cap) { /* rehash */
                uint64_t *nt = calloc(cap * 2, sizeof *nt);
                if (nt == NULL) {
                    free(tab);
                    return STRATA_ENOMEM;
                }
                cap *= 2;
                for (uint64_t id = 0; id < m; id++) {
                    uint64_t q = rep[id], sl;
                    sl = st_gstr_hash(c->bytes + off[q], (size_t)(off[q + 1] - off[q])) & (cap - 1);
                    while (nt[sl] != 0) sl = (sl + 1) & (cap - 1);
                    nt[sl] = id + 1;
                }
                free(tab);
                tab = nt;
            }
            out[r] = (int64_t)m - 1;
        } else {
            out[r] = (int64_t)tab[slot] - 1;
        }
    }
    free(tab);
    return (int64_t)m;
}

/* Words of string column C: ranks in DICT, built here. */
static int str_words(const st_gcol *c, uint64_t n, int64_t *out, st_gdict *dict)
{
    int rc = STRATA_OK;
    uint64_t *rep = malloc((n + 1) * sizeof *rep), *perm = NULL;
    int64_t *rank = NULL;
    st_gdict first = {0};
    if (rep == NULL) return STRATA_ENOMEM;
    int64_t m = intern(c, n, out, rep);
    if (m < 0) {
        rc = (int)m;
        goto done;
    }
    /* sort the distinct strings: perm[rank] = id */
    perm = malloc(((uint64_t)m + 1) * sizeof *perm);
    rank = malloc(((uint64_t)m + 1) * sizeof *rank);
    if (perm == NULL || rank == NULL) {
        rc = STRATA_ENOMEM;
        goto done;
    }
    ST_TRY(rc = dict_pack(c->data, c->bytes, rep, (uint64_t)m, &first));
    ST_TRY(rc = st_argsort_str(first.off, first.bytes, (uint64_t)m, NULL, perm, 0));
    for (int64_t k = 0; k < m; k++) {
        rank[perm[k]] = k;
        perm[k] = rep[perm[k]]; /* the row of rank k */
    }
    ST_TRY(rc = dict_pack(c->data, c->bytes, perm, (uint64_t)m, dict));
    for (uint64_t r = 0; r < n; r++)
        if (st_gvalid(c->valid, r)) out[r] = rank[out[r]];
done:
    st_gdict_free(&first);
    free(rep);
    free(perm);
    free(rank);
    return rc;
}

int st_gwords(const st_gcol *c, uint64_t n, const int64_t **w, int64_t **own, st_gdict *dict)
{
    *own = NULL;
    if ((c->dtype == STRATA_I64 || c->dtype == STRATA_TS) && c->valid == NULL) {
        *w = c->data;
        return STRATA_OK;
    }
    int64_t *out = malloc((n + 1) * sizeof *out);
    if (out == NULL) return STRATA_ENOMEM;
    if (c->dtype == STRATA_STR) {
        int rc = str_words(c, n, out, dict);
        if (rc < 0) {
            free(out);
            return rc;
        }
    } else {
        num_words(c, n, out);
        if (c->valid != NULL)
            for (uint64_t r = 0; r < n; r++)
                if (!st_gvalid(c->valid, r)) out[r] = 0;
    }
    *w = *own = out;
    return STRATA_OK;
}

static int str_cmp2(const st_gdict *a, uint64_t i, const st_gdict *b, uint64_t j)
{
    size_t la = (size_t)(a->off[i + 1] - a->off[i]), lb = (size_t)(b->off[j + 1] - b->off[j]);
    int c = memcmp(a->bytes + a->off[i], b->bytes + b->off[j], la < lb ? la : lb);
    return c != 0 ? c : (la > lb) - (la < lb);
}

/* Append string I of S to D (room reserved by the caller). */
static void dict_add(st_gdict *d, const st_gdict *s, uint64_t i)
{
    size_t len = (size_t)(s->off[i + 1] - s->off[i]);
    memcpy(d->bytes + d->off[d->n], s->bytes + s->off[i], len);
    d->off[d->n + 1] = d->off[d->n] + (int64_t)len;
    d->n++;
}

int st_gdict_union(const st_gdict *a, const st_gdict *b, st_gdict *u, int64_t **ma, int64_t **mb)
{
    memset(u, 0, sizeof *u);
    size_t bytes = (size_t)(a->n ? a->off[a->n] : 0) + (size_t)(b->n ? b->off[b->n] : 0);
    u->off = malloc((a->n + b->n + 1) * sizeof *u->off);
    u->bytes = malloc(bytes + 1);
    *ma = malloc((a->n + 1) * sizeof **ma);
    *mb = malloc((b->n + 1) * sizeof **mb);
    if (u->off == NULL || u->bytes == NULL || *ma == NULL || *mb == NULL) {
        st_gdict_free(u);
        free(*ma);
        free(*mb);
        *ma = *mb = NULL;
        return STRATA_ENOMEM;
    }
    u->off[0] = 0;
    uint64_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : str_cmp2(a, i, b, j);
        if (c <= 0) (*ma)[i] = (int64_t)u->n;
        if (c >= 0) (*mb)[j] = (int64_t)u->n;
        dict_add(u, c <= 0 ? a : b, c <= 0 ? i : j);
        if (c <= 0) i++;
        if (c >= 0) j++;
    }
    return STRATA_OK;
}

int st_gdict_prune(st_gdict *d, const uint8_t *used, int64_t *map)
{
    st_gdict p = {0};
    size_t bytes = (size_t)(d->n ? d->off[d->n] : 0);
    p.off = malloc((d->n + 1) * sizeof *p.off);
    p.bytes = malloc(bytes + 1);
    if (p.off == NULL || p.bytes == NULL) {
        st_gdict_free(&p);
        return STRATA_ENOMEM;
    }
    p.off[0] = 0;
    for (uint64_t i = 0; i < d->n; i++) {
        map[i] = (int64_t)p.n;
        if (used[i]) dict_add(&p, d, i);
    }
    st_gdict_free(d);
    *d = p;
    return STRATA_OK;
}

void st_gdict_free(st_gdict *d)
{
    free(d->off);
    free(d->bytes);
    d->off = NULL;
    d->bytes = NULL;
    d->n = 0;
}
