/*
 * parquet_write.c -- columns into a Parquet file: "PAR1", then per row group and column one
 * data page v1 (definition levels for optional columns as one bit-packed run, which is the
 * validity bitmap itself; PLAIN values, or ids into a dictionary page before it; compressed with
 * the chosen codec), and at the end the
 * FileMetaData with each chunk's statistics, its length and "PAR1".
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "format/parquet_int.h"

typedef struct {
    int64_t data_page_offset, total_uncompressed, total_compressed, null_count;
    int64_t dictionary_page_offset; /* -1: PLAIN */
    uint8_t min[8], max[8];         /* fixed-width types */
    uint8_t *smin, *smax;           /* BYTE_ARRAY: copies */
    size_t min_len, max_len;
    int has_minmax;
} col_meta;

typedef struct {
    int64_t num_rows, total_bytes;
    col_meta *cols;
} rg_meta;

struct st_pq_writer {
    st_err *err;
    st_pq_colspec *cols;
    int ncols;
    st_pq_write_opts opts;
    st_pq_write_fn write;
    void *ctx;
    int64_t pos;
    rg_meta *rgs;
    int nrg, rg_cap;
    int64_t num_rows;
};

int st_pq_buf_write(void *buf, const void *data, size_t len)
{
    st_pq_buf *b = buf;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (p == NULL) return STRATA_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    return STRATA_OK;
}

static int out(st_pq_writer *w, const void *p, size_t n)
{
    int rc = w->write(w->ctx, p, n);
    if (rc < 0) return st_error(w->err, rc, "cannot write parquet data: %s", strata_strerror(rc));
    w->pos += (int64_t)n;
    return STRATA_OK;
}

static int width_of(st_pq_type t)
{
    return t == ST_PQ_BOOLEAN                     ? 1
           : t == ST_PQ_INT32 || t == ST_PQ_FLOAT ? 4
           : t == ST_PQ_BYTE_ARRAY                ? 0
                                                  : 8;
}

void st_pq_writer_free(st_pq_writer *w)
{
    if (w == NULL) return;
    for (int g = 0; g < w->nrg; g++) {
        for (int c = 0; c < w->ncols; c++) {
            free(w->rgs[g].cols[c].smin);
            free(w->rgs[g].cols[c].smax);
        }
        free(w->rgs[g].cols);
    }
    free(w->rgs);
    for (int c = 0; w->cols != NULL && c < w->ncols; c++) free((char *)w->cols[c].name);
    free(w->cols);
    free(w);
}

int st_pq_writer_open(st_err *err, const st_pq_colspec *cols, int ncols,
                      const st_pq_write_opts *opts, st_pq_write_fn write, void *ctx,
                      st_pq_writer **out_w)
{
    int rc = STRATA_OK;
    *out_w = NULL;
    if (ncols < 1) return st_error(err, STRATA_EINVAL, "cannot write parquet: no columns");
    st_pq_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return st_error(err, STRATA_ENOMEM, "cannot write parquet: out of memory");
    w->err = err;
    w->write = write;
    w->ctx = ctx;
    if (opts != NULL) w->opts = *opts;
    w->cols = calloc((size_t)ncols, sizeof *w->cols);
    if (w->cols == NULL) {
        free(w);
        return st_error(err, STRATA_ENOMEM, "cannot write parquet: out of memory");
    }
    w->ncols = ncols;
    for (int c = 0; c < ncols; c++) {
        w->cols[c] = cols[c];
        w->cols[c].name = strdup(cols[c].name ? cols[c].name : "");
        if (w->cols[c].name == NULL) {
            rc = st_error(err, STRATA_ENOMEM, "cannot write parquet: out of memory");
            goto done;
        }
        st_pq_type t = cols[c].type;
        if (t == ST_PQ_INT96 || t == ST_PQ_FIXED_LEN_BYTE_ARRAY || (int)t < 0 ||
            t > ST_PQ_FIXED_LEN_BYTE_ARRAY) {
            rc = st_error(err, STRATA_EUNSUPPORTED,
                          "cannot write parquet column '%s': type %s is not supported",
                          w->cols[c].name, st_pq_type_name(t));
            goto done;
        }
    }
    st_pq_codec k = w->opts.codec;
    if (k != ST_PQ_UNCOMPRESSED && k != ST_PQ_SNAPPY && k != ST_PQ_GZIP && k != ST_PQ_ZSTD) {
        rc = st_error(err, STRATA_EUNSUPPORTED, "cannot write parquet: codec %s is not supported",
                      st_pq_codec_name(k));
        goto done;
    }
    ST_TRY(rc = out(w, "PAR1", 4));
done:
    if (rc < 0) {
        st_pq_writer_free(w);
        return rc;
    }
    *out_w = w;
    return STRATA_OK;
}

/* ---- one column chunk --------------------------------------------------------------------- */

static int is_valid(const st_pq_values *v, int64_t i)
{
    return v->validity == NULL || ((v->validity[i >> 3] >> (i & 7)) & 1);
}

/* Compare fixed-width values A and B of type T: <0, 0, >0. */
static int cmp_fixed(st_pq_type t, const void *a, const void *b)
{
    switch (t) {
    case ST_PQ_BOOLEAN:
        return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
    case ST_PQ_INT32: {
        int32_t x, y;
        memcpy(&x, a, 4), memcpy(&y, b, 4);
        return (x > y) - (x < y);
    }
    case ST_PQ_INT64: {
        int64_t x, y;
        memcpy(&x, a, 8), memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    case ST_PQ_FLOAT: {
        float x, y;
        memcpy(&x, a, 4), memcpy(&y, b, 4);
        return (x > y) - (x < y);
    }
    default: {
        double x, y;
        memcpy(&x, a, 8), memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    }
}

static int is_nan(st_pq_type t, const void *p)
{
    if (t == ST_PQ_FLOAT) {
        float x;
        memcpy(&x, p, 4);
        return isnan(x);
    }
    if (t == ST_PQ_DOUBLE) {
        double x;
        memcpy(&x, p, 8);
        return isnan(x);
    }
    return 0;
}

static int cmp_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0 || al == bl) return c;
    return al < bl ? -1 : 1;
}

/* The rows of the smallest and largest of V's N values of TYPE (none null; NaN skipped) into
 * *IMIN and *IMAX (-1 when there is none): typed loops for the common types. */
#define ST_PQ_MINMAX(T, SKIP)                                                                      \
    do {                                                                                           \
        const T *x = (const T *)v->values;                                                         \
        for (int64_t i = 0; i < v->n; i++) {                                                       \
            T y;                                                                                   \
            memcpy(&y, &x[i], sizeof y);                                                           \
            if (SKIP) continue;                                                                    \
            if (*imin < 0 || y < lo) lo = y, *imin = i;                                            \
            if (*imax < 0 || y > hi) hi = y, *imax = i;                                            \
        }                                                                                          \
    } while (0)

static int fixed_minmax(const st_pq_values *v, int64_t *imin, int64_t *imax)
{
    *imin = *imax = -1;
    if (v->validity != NULL) return 0; /* with nulls: the general loop */
    switch (v->type) {
    case ST_PQ_INT32: {
        int32_t lo = 0, hi = 0;
        ST_PQ_MINMAX(int32_t, 0);
        return 1;
    }
    case ST_PQ_INT64: {
        int64_t lo = 0, hi = 0;
        ST_PQ_MINMAX(int64_t, 0);
        return 1;
    }
    case ST_PQ_DOUBLE: {
        double lo = 0, hi = 0;
        ST_PQ_MINMAX(double, isnan(y));
        return 1;
    }
    case ST_PQ_FLOAT: {
        float lo = 0, hi = 0;
        ST_PQ_MINMAX(float, isnan(y));
        return 1;
    }
    default:
        return 0;
    }
}

/* Statistics of column V into M. */
static int column_stats(const st_pq_values *v, col_meta *m)
{
    int w = width_of(v->type);
    int64_t imin = -1, imax = -1;
    m->null_count = 0;
    int fast = fixed_minmax(v, &imin, &imax);
    for (int64_t i = 0; !fast && i < v->n; i++) {
        if (!is_valid(v, i)) {
            m->null_count++;
            continue;
        }
        if (w > 0) {
            const uint8_t *p = (const uint8_t *)v->values + i * w;
            if (is_nan(v->type, p)) continue;
            if (imin < 0 || cmp_fixed(v->type, p, (const uint8_t *)v->values + imin * w) < 0)
                imin = i;
            if (imax < 0 || cmp_fixed(v->type, p, (const uint8_t *)v->values + imax * w) > 0)
                imax = i;
        } else {
            const uint8_t *s = v->bytes + v->offsets[i];
            size_t l = (size_t)(v->offsets[i + 1] - v->offsets[i]);
            if (imin < 0 || cmp_bytes(s, l, v->bytes + v->offsets[imin],
                                      (size_t)(v->offsets[imin + 1] - v->offsets[imin])) < 0)
                imin = i;
            if (imax < 0 || cmp_bytes(s, l, v->bytes + v->offsets[imax],
                                      (size_t)(v->offsets[imax + 1] - v->offsets[imax])) > 0)
                imax = i;
        }
    }
    if (imin < 0) return STRATA_OK;
    m->has_minmax = 1;
    if (w > 0) {
        memcpy(m->min, (const uint8_t *)v->values + imin * w, (size_t)w);
        memcpy(m->max, (const uint8_t *)v->values + imax * w, (size_t)w);
        m->min_len = m->max_len = (size_t)w;
        /* a zero minimum is written as -0.0 and a zero maximum as +0.0 (parquet.thrift) */
        if (v->type == ST_PQ_DOUBLE || v->type == ST_PQ_FLOAT) {
            double lo =
                v->type == ST_PQ_DOUBLE ? *(double *)(void *)m->min : *(float *)(void *)m->min;
            double hi =
                v->type == ST_PQ_DOUBLE ? *(double *)(void *)m->max : *(float *)(void *)m->max;
            if (lo == 0.0) {
                if (v->type == ST_PQ_DOUBLE)
                    *(double *)(void *)m->min = -0.0;
                else
                    *(float *)(void *)m->min = -0.0f;
            }
            if (hi == 0.0) {
                if (v->type == ST_PQ_DOUBLE)
                    *(double *)(void *)m->max = 0.0;
                else
                    *(float *)(void *)m->max = 0.0f;
            }
        }
        return STRATA_OK;
    }
    m->min_len = (size_t)(v->offsets[imin + 1] - v->offsets[imin]);
    m->max_len = (size_t)(v->offsets[imax + 1] - v->offsets[imax]);
    m->smin = malloc(m->min_len + 1);
    m->smax = malloc(m->max_len + 1);
    if (m->smin == NULL || m->smax == NULL) return STRATA_ENOMEM;
    memcpy(m->smin, v->bytes + v->offsets[imin], m->min_len);
    memcpy(m->smax, v->bytes + v->offsets[imax], m->max_len);
    return STRATA_OK;
}

static void put_le32(st_tc_writer *b, uint32_t x)
{
    for (int k = 0; k < 4; k++) st_tc_w_byte(b, (uint8_t)(x >> (8 * k)));
}

/* The uncompressed page: definition levels (optional columns) and PLAIN values. Built in a
 * st_tc_writer, used here as a growing byte buffer. */
/* The definition levels of an optional column. */
static void page_levels(const st_pq_colspec *s, const st_pq_values *v, st_tc_writer *b)
{
    int64_t n = v->n;
    if (s->optional) {
        /* one bit-packed run of ceil(n/8) groups of width 1: the validity bitmap's layout */
        uint64_t groups = ((uint64_t)n + 7) / 8;
        st_tc_writer h = {0};
        st_tc_w_varint(&h, groups << 1 | 1);
        put_le32(b, (uint32_t)(h.len + groups));
        st_tc_w_raw(b, h.p, h.len);
        st_tc_writer_free(&h);
        for (uint64_t g = 0; g < groups; g++) {
            uint8_t x = v->validity ? v->validity[g] : 0xFF;
            if (g == groups - 1 && (n & 7)) x &= (uint8_t)((1u << (n & 7)) - 1);
            st_tc_w_byte(b, x);
        }
    }
}

/* Row I's value, PLAIN-encoded. */
static void plain_value(const st_pq_values *v, int64_t i, st_tc_writer *b)
{
    int w = width_of(v->type);
    if (w > 0) {
        st_tc_w_raw(b, (const uint8_t *)v->values + i * w, (size_t)w);
        return;
    }
    size_t l = (size_t)(v->offsets[i + 1] - v->offsets[i]);
    put_le32(b, (uint32_t)l);
    st_tc_w_raw(b, v->bytes + v->offsets[i], l);
}

/* The valid rows' values, PLAIN-encoded. */
static void page_plain(const st_pq_values *v, st_tc_writer *b)
{
    int64_t n = v->n;
    int w = width_of(v->type);
    if (v->type == ST_PQ_BOOLEAN) {
        uint8_t acc = 0;
        int nb = 0;
        for (int64_t i = 0; i < n; i++) {
            if (!is_valid(v, i)) continue;
            if (((const uint8_t *)v->values)[i]) acc |= (uint8_t)(1u << nb);
            if (++nb == 8) st_tc_w_byte(b, acc), acc = 0, nb = 0;
        }
        if (nb) st_tc_w_byte(b, acc);
    } else if (w > 0 && v->validity == NULL) {
        st_tc_w_raw(b, v->values, (size_t)n * (size_t)w);
    } else {
        for (int64_t i = 0; i < n; i++)
            if (is_valid(v, i)) plain_value(v, i, b);
    }
}

/* ---- dictionaries --------------------------------------------------------------------------- */

/* A column chunk's dictionary: its distinct values in order of first appearance (as the row
 * holding each) and the id of every valid row's value. */
typedef struct {
    int64_t *rows, ndistinct;
    uint32_t *ids;
    int64_t nids;
} dict_build;

static const void *value_at(const st_pq_values *v, int64_t i, size_t *len)
{
    int w = width_of(v->type);
    if (w > 0) {
        *len = (size_t)w;
        return (const uint8_t *)v->values + i * w;
    }
    *len = (size_t)(v->offsets[i + 1] - v->offsets[i]);
    return v->bytes + v->offsets[i];
}

static void dict_free(dict_build *d)
{
    free(d->rows);
    free(d->ids);
    memset(d, 0, sizeof *d);
}

/* The open-addressing table of a dictionary being built: slot -> distinct id, -1 when free. It
 * starts small and doubles while it is more than half full, so a chunk whose values turn out
 * mostly distinct (found after a few thousand rows) costs no table the size of the chunk. */
typedef struct {
    int64_t *slots;
    size_t cap; /* a power of two */
} dict_table;

static size_t dict_hash(const st_pq_values *v, int w, int64_t row, size_t cap)
{
    if (w == 8 || w == 4) { /* fixed width: one multiply */
        uint64_t x = 0;
        memcpy(&x, (const uint8_t *)v->values + row * w, (size_t)w);
        return (size_t)((x * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
    }
    size_t len;
    const void *p = value_at(v, row, &len);
    return (size_t)XXH3_64bits(p, len) & (cap - 1);
}

static int dict_table_init(dict_table *t, size_t cap)
{
    t->cap = cap;
    t->slots = malloc(cap * sizeof *t->slots);
    if (t->slots == NULL) return STRATA_ENOMEM;
    memset(t->slots, 0xFF, cap * sizeof *t->slots);
    return STRATA_OK;
}

/* Double T and put D's distinct values back in. */
static int dict_table_grow(dict_table *t, const st_pq_values *v, int w, const dict_build *d)
{
    dict_table n;
    if (dict_table_init(&n, 2 * t->cap) < 0) return STRATA_ENOMEM;
    for (int64_t k = 0; k < d->ndistinct; k++) {
        size_t h = dict_hash(v, w, d->rows[k], n.cap);
        while (n.slots[h] >= 0) h = (h + 1) & (n.cap - 1);
        n.slots[h] = k;
    }
    free(t->slots);
    *t = n;
    return STRATA_OK;
}

/* dict_build_of() for N fixed-width values of type T without nulls: the values hashed by one
 * multiply into table T, at most LIMIT distinct. 1 (built), 0 (not worth it), STRATA_ENOMEM. */
#define ST_PQ_DICT_FIXED(NAME, T)                                                                  \
    static int NAME(const st_pq_values *v, dict_build *d, dict_table *t, int64_t limit)            \
    {                                                                                              \
        const T *x = (const T *)v->values;                                                         \
        int64_t probe = v->n < 4096 ? v->n : 4096;                                                 \
        for (int64_t i = 0; i < v->n; i++) {                                                       \
            if (i == probe && 4 * d->ndistinct > 3 * probe) return 0; /* mostly distinct */        \
            T a;                                                                                   \
            memcpy(&a, &x[i], sizeof a);                                                           \
            size_t mask = t->cap - 1, h = (size_t)(((uint64_t)a * 0x9E3779B97F4A7C15ull) >> 32);   \
            int64_t slot;                                                                          \
            for (h &= mask;; h = (h + 1) & mask) {                                                 \
                if ((slot = t->slots[h]) < 0) break;                                               \
                T b;                                                                               \
                memcpy(&b, &x[d->rows[slot]], sizeof b);                                           \
                if (memcmp(&a, &b, sizeof a) == 0) break; /* bytes: NaNs and -0 kept apart */      \
            }                                                                                      \
            if (slot < 0) {                                                                        \
                if (d->ndistinct == limit) return 0; /* not worth it */                            \
                slot = t->slots[h] = d->ndistinct;                                                 \
                d->rows[d->ndistinct++] = i;                                                       \
                if (2 * (size_t)d->ndistinct > t->cap &&                                           \
                    dict_table_grow(t, v, (int)sizeof(T), d) < 0)                                  \
                    return STRATA_ENOMEM;                                                          \
            }                                                                                      \
            d->ids[d->nids++] = (uint32_t)slot;                                                    \
        }                                                                                          \
        return 1;                                                                                  \
    }
ST_PQ_DICT_FIXED(dict_fixed8, uint64_t)
ST_PQ_DICT_FIXED(dict_fixed4, uint32_t)

/* Build V's dictionary into D when it pays: 1 when the chunk has at most half as many distinct
 * values as valid rows (compared by their bytes), 0 when not (or for booleans), STRATA_ENOMEM. */
static int dict_build_of(const st_pq_values *v, dict_build *d)
{
    int rc = 0;
    dict_table t = {0};
    memset(d, 0, sizeof *d);
    int64_t nn = 0;
    for (int64_t i = 0; i < v->n; i++) nn += is_valid(v, i);
    int64_t limit = nn / 2;
    if (v->type == ST_PQ_BOOLEAN || limit < 1) return 0;
    d->rows = malloc((size_t)limit * sizeof *d->rows);
    d->ids = malloc((size_t)nn * sizeof *d->ids);
    if (d->rows == NULL || d->ids == NULL || dict_table_init(&t, 4096) < 0) {
        rc = STRATA_ENOMEM;
        goto done;
    }
    int w = width_of(v->type);
    if (v->validity == NULL && (w == 8 || w == 4)) {
        rc = w == 8 ? dict_fixed8(v, d, &t, limit) : dict_fixed4(v, d, &t, limit);
        goto done;
    }
    /* a chunk whose first rows are mostly distinct will not pay: stop early */
    int64_t probe = nn < 4096 ? nn : 4096;
    for (int64_t i = 0; i < v->n; i++) {
        if (!is_valid(v, i)) continue;
        if (d->nids == probe && 4 * d->ndistinct > 3 * probe) goto done; /* rc 0 */
        size_t len, olen;
        const void *p = value_at(v, i, &len);
        int64_t slot;
        for (size_t h = dict_hash(v, w, i, t.cap);; h = (h + 1) & (t.cap - 1)) {
            if ((slot = t.slots[h]) < 0) {
                if (d->ndistinct == limit) goto done; /* rc 0: not worth it */
                slot = t.slots[h] = d->ndistinct;
                d->rows[d->ndistinct++] = i;
                if (2 * (size_t)d->ndistinct > t.cap && dict_table_grow(&t, v, w, d) < 0) {
                    rc = STRATA_ENOMEM;
                    goto done;
                }
                break;
            }
            const void *q = value_at(v, d->rows[slot], &olen);
            if (olen == len && memcmp(p, q, len) == 0) break;
        }
        d->ids[d->nids++] = (uint32_t)slot;
    }
    rc = 1;
done:
    free(t.slots);
    if (rc != 1) dict_free(d);
    return rc;
}

/* The dictionary page's body: the distinct values, PLAIN. */
static void dict_page(const st_pq_values *v, const dict_build *d, st_tc_writer *b)
{
    for (int64_t k = 0; k < d->ndistinct; k++) plain_value(v, d->rows[k], b);
}

/* The data page's values: the ids' bit width, then one bit-packed run of them. */
static void page_ids(const dict_build *d, st_tc_writer *b)
{
    int bw = 1;
    while (bw < 32 && ((uint64_t)1 << bw) < (uint64_t)d->ndistinct) bw++;
    st_tc_w_byte(b, (uint8_t)bw);
    uint64_t groups = ((uint64_t)d->nids + 7) / 8;
    st_tc_w_varint(b, groups << 1 | 1);
    uint64_t acc = 0;
    int nacc = 0;
    uint8_t buf[4096];
    size_t nb = 0;
    for (uint64_t i = 0; i < groups * 8; i++) {
        acc |= (uint64_t)(i < (uint64_t)d->nids ? d->ids[i] : 0) << nacc;
        nacc += bw;
        while (nacc >= 8) {
            buf[nb++] = (uint8_t)acc;
            acc >>= 8;
            nacc -= 8;
        }
        if (nb > sizeof buf - 8) {
            st_tc_w_raw(b, buf, nb);
            nb = 0;
        }
    }
    st_tc_w_raw(b, buf, nb);
}

static int check_values(st_pq_writer *w, int c, const st_pq_values *v, int64_t n)
{
    const st_pq_colspec *s = &w->cols[c];
    const char *bad = NULL;
    if (v->type != s->type)
        bad = "its values are of another type";
    else if (v->n != n)
        bad = "its length differs from the first column's";
    else if (v->validity != NULL && !s->optional)
        bad = "it is REQUIRED but has a validity bitmap";
    else if (s->type == ST_PQ_BYTE_ARRAY &&
             (v->offsets == NULL || v->offsets[0] != 0 || (n > 0 && v->bytes == NULL)))
        bad = "its string offsets are missing";
    else if (s->type != ST_PQ_BYTE_ARRAY && v->values == NULL && n > 0)
        bad = "its values are missing";
    else if (s->type == ST_PQ_BYTE_ARRAY)
        for (int64_t i = 0; i < n && bad == NULL; i++)
            if (v->offsets[i + 1] < v->offsets[i] || v->offsets[i + 1] - v->offsets[i] > INT32_MAX)
                bad = "its string offsets are not ascending, or a string is over 2 GiB";
    if (bad != NULL)
        return st_error(w->err, STRATA_EINVAL, "cannot write parquet column '%s': %s", s->name,
                        bad);
    return STRATA_OK;
}

/* A column chunk encoded but not yet written: its pages (the dictionary's first, if any), each a
 * page header and a compressed body. Chunks are encoded in parallel and written in order. */
typedef struct {
    st_tc_writer hdr[2];
    uint8_t *z[2];
    size_t zlen[2];
    int npages, dict;
} chunk_enc;

static void chunk_free(chunk_enc *e)
{
    for (int k = 0; k < 2; k++) {
        st_tc_writer_free(&e->hdr[k]);
        free(e->z[k]);
    }
    memset(e, 0, sizeof *e);
}

/* Compress BODY and give it its page header (TYPE, NVALUES, ENCODING) as E's next page; add its
 * sizes to M. */
static int encode_page(st_pq_writer *w, const char *name, const st_tc_writer *body, int type,
                       int64_t nvalues, int encoding, col_meta *m, chunk_enc *e)
{
    int k = e->npages++;
    if (body->oom || body->len > INT32_MAX)
        return st_error(w->err, body->oom ? STRATA_ENOMEM : STRATA_ERANGE,
                        "cannot write parquet column '%s': its page is too large", name);
    int rc = st_pq_compress(w->opts.codec, w->opts.zstd_level, body->p, body->len, &e->z[k],
                            &e->zlen[k]);
    if (rc == STRATA_EUNSUPPORTED) {
        const char *missing = st_pq_codec_missing(w->opts.codec);
        return st_error(w->err, rc, "cannot write parquet column '%s': codec %s: %s", name,
                        st_pq_codec_name(w->opts.codec), missing ? missing : "not supported");
    }
    if (rc < 0 || e->zlen[k] > INT32_MAX)
        return st_error(w->err, rc < 0 ? rc : STRATA_ERANGE,
                        "cannot write parquet column '%s': cannot compress its page", name);
    st_pq_page pg = {0};
    pg.type = type;
    pg.uncompressed_size = (int32_t)body->len;
    pg.compressed_size = (int32_t)e->zlen[k];
    pg.num_values = (int32_t)nvalues;
    pg.encoding = encoding;
    st_pq_page_header_write(&e->hdr[k], &pg);
    if (e->hdr[k].oom)
        return st_error(w->err, STRATA_ENOMEM, "cannot write parquet column '%s': out of memory",
                        name);
    m->total_uncompressed += (int64_t)(e->hdr[k].len + body->len);
    m->total_compressed += (int64_t)(e->hdr[k].len + e->zlen[k]);
    return STRATA_OK;
}

/* Encode column C's values V into E: statistics into M, a dictionary when it pays. */
static int encode_chunk(st_pq_writer *w, int c, const st_pq_values *v, col_meta *m, chunk_enc *e)
{
    int rc = STRATA_OK;
    st_tc_writer body = {0}, dbody = {0};
    dict_build d = {0};
    const char *name = w->cols[c].name;
    m->dictionary_page_offset = -1;
    if (column_stats(v, m) < 0 || (w->opts.dictionary && (rc = dict_build_of(v, &d)) < 0)) {
        rc = st_error(w->err, STRATA_ENOMEM, "cannot write parquet column '%s': out of memory",
                      name);
        goto done;
    }
    e->dict = rc == 1;
    if (e->dict) {
        dict_page(v, &d, &dbody);
        ST_TRY(rc = encode_page(w, name, &dbody, ST_PQ_DICTIONARY_PAGE, d.ndistinct,
                                ST_PQ_ENC_PLAIN_DICTIONARY, m, e));
    }
    page_levels(&w->cols[c], v, &body);
    if (e->dict)
        page_ids(&d, &body);
    else
        page_plain(v, &body);
    rc = encode_page(w, name, &body, ST_PQ_DATA_PAGE, v->n,
                     e->dict ? ST_PQ_ENC_PLAIN_DICTIONARY : ST_PQ_ENC_PLAIN, m, e);
done:
    st_tc_writer_free(&body);
    st_tc_writer_free(&dbody);
    dict_free(&d);
    return rc;
}

/* Write the pages of E, recording where they start in M. */
static int emit_chunk(st_pq_writer *w, const chunk_enc *e, col_meta *m)
{
    int rc = STRATA_OK;
    for (int k = 0; k < e->npages && rc == STRATA_OK; k++) {
        if (e->dict && k == 0)
            m->dictionary_page_offset = w->pos;
        else
            m->data_page_offset = w->pos;
        rc = out(w, e->hdr[k].p, e->hdr[k].len);
        if (rc == STRATA_OK) rc = out(w, e->z[k], e->zlen[k]);
    }
    return rc;
}

/* Room for and the metadata of a new row group of N rows (kept even on failure, so that
 * st_pq_writer_free() frees its statistics). */
static int new_group(st_pq_writer *w, int64_t n, rg_meta **out)
{
    if (w->nrg == w->rg_cap) {
        int cap = w->rg_cap ? w->rg_cap * 2 : 8;
        rg_meta *g = realloc(w->rgs, (size_t)cap * sizeof *g);
        if (g == NULL)
            return st_error(w->err, STRATA_ENOMEM, "cannot write parquet: out of memory");
        w->rgs = g;
        w->rg_cap = cap;
    }
    rg_meta *g = &w->rgs[w->nrg];
    memset(g, 0, sizeof *g);
    g->cols = calloc((size_t)w->ncols, sizeof *g->cols);
    if (g->cols == NULL)
        return st_error(w->err, STRATA_ENOMEM, "cannot write parquet: out of memory");
    g->num_rows = n;
    w->nrg++;
    *out = g;
    return STRATA_OK;
}

int st_pq_writer_write(st_pq_writer *w, const st_pq_values *cols)
{
    return st_pq_writer_write_groups(w, &cols, 1);
}

int st_pq_writer_write_groups(st_pq_writer *w, const st_pq_values *const *groups, int ngroups)
{
    int rc = STRATA_OK, nc = w->ncols;
    if (ngroups < 1) return STRATA_OK;
    for (int k = 0; k < ngroups; k++) {
        int64_t n = groups[k][0].n;
        if (n < 0 || n > INT32_MAX)
            return st_error(w->err, STRATA_ERANGE, "cannot write a parquet row group of %lld rows",
                            (long long)n);
        for (int c = 0; c < nc; c++) ST_TRY(rc = check_values(w, c, &groups[k][c], n));
    }
    rg_meta **g = calloc((size_t)ngroups, sizeof *g);
    chunk_enc *enc = calloc((size_t)ngroups * (size_t)nc, sizeof *enc);
    if (g == NULL || enc == NULL) rc = st_error(w->err, STRATA_ENOMEM, "out of memory");
    for (int k = 0; k < ngroups && rc == STRATA_OK; k++) rc = new_group(w, groups[k][0].n, &g[k]);
    int nt = w->opts.nthreads > 1 ? w->opts.nthreads : 1,
        items = rc == STRATA_OK ? ngroups * nc : 0;
    /* every column chunk of every group is encoded in parallel, then all are written in order */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) reduction(min : rc)
    for (int x = 0; x < items; x++) {
        int k = x / nc, c = x % nc;
        int r = encode_chunk(w, c, &groups[k][c], &g[k]->cols[c], &enc[x]);
        if (r < rc) rc = r;
    }
    for (int x = 0; x < items && rc == STRATA_OK; x++) {
        rg_meta *gk = g[x / nc];
        rc = emit_chunk(w, &enc[x], &gk->cols[x % nc]);
        gk->total_bytes += gk->cols[x % nc].total_uncompressed;
    }
    for (int x = 0; x < items; x++) chunk_free(&enc[x]);
    for (int k = 0; rc == STRATA_OK && k < ngroups; k++) w->num_rows += groups[k][0].n;
    free(enc);
    free(g);
done:
    return rc;
}

/* ---- the footer --------------------------------------------------------------------------- */

static int converted_of(const st_pq_colspec *s)
{
    const st_pq_logical *l = &s->logical;
    switch (l->kind) {
    case ST_PQ_LT_STRING:
        return 0;
    case ST_PQ_LT_DATE:
        return 6;
    case ST_PQ_LT_TIMESTAMP:
        return l->unit == ST_PQ_MILLIS ? 9 : l->unit == ST_PQ_MICROS ? 10 : -1;
    case ST_PQ_LT_INTEGER: {
        int k = l->bit_width == 8 ? 0 : l->bit_width == 16 ? 1 : l->bit_width == 32 ? 2 : 3;
        return (l->is_signed ? 15 : 11) + k;
    }
    default:
        return -1;
    }
}

static void write_logical(st_tc_writer *t, const st_pq_logical *l)
{
    if (l->kind == ST_PQ_LT_NONE || l->kind == ST_PQ_LT_OTHER) return;
    st_tc_w_struct(t, 10);
    if (l->kind == ST_PQ_LT_STRING || l->kind == ST_PQ_LT_DATE) {
        st_tc_w_struct(t, l->kind == ST_PQ_LT_STRING ? 1 : 6);
        st_tc_w_end(t);
    } else if (l->kind == ST_PQ_LT_TIMESTAMP) {
        st_tc_w_struct(t, 8);
        st_tc_w_bool(t, 1, l->utc);
        st_tc_w_struct(t, 2);
        st_tc_w_struct(t, (int16_t)(l->unit == ST_PQ_MILLIS ? 1 : l->unit == ST_PQ_NANOS ? 3 : 2));
        st_tc_w_end(t);
        st_tc_w_end(t);
        st_tc_w_end(t);
    } else {
        st_tc_w_struct(t, 10);
        st_tc_w_field(t, 1, ST_TC_BYTE);
        st_tc_w_byte(t, (uint8_t)l->bit_width);
        st_tc_w_bool(t, 2, l->is_signed);
        st_tc_w_end(t);
    }
    st_tc_w_end(t);
}

static void write_schema(st_pq_writer *w, st_tc_writer *t)
{
    st_tc_w_list(t, 2, ST_TC_STRUCT, w->ncols + 1);
    st_tc_w_struct(t, 0);
    st_tc_w_binary(t, 4, "schema", 6);
    st_tc_w_i32(t, 5, w->ncols);
    st_tc_w_end(t);
    for (int c = 0; c < w->ncols; c++) {
        const st_pq_colspec *s = &w->cols[c];
        st_tc_w_struct(t, 0);
        st_tc_w_i32(t, 1, s->type);
        st_tc_w_i32(t, 3, s->optional ? 1 : 0);
        st_tc_w_binary(t, 4, s->name, strlen(s->name));
        int ct = converted_of(s);
        if (ct >= 0) st_tc_w_i32(t, 6, ct);
        write_logical(t, &s->logical);
        st_tc_w_end(t);
    }
}

static void write_colmeta(st_pq_writer *w, st_tc_writer *t, int c, const col_meta *m, int64_t nrows)
{
    const st_pq_colspec *s = &w->cols[c];
    st_tc_w_struct(t, 0); /* ColumnChunk */
    st_tc_w_i64(t, 2,
                m->dictionary_page_offset >= 0 ? m->dictionary_page_offset : m->data_page_offset);
    st_tc_w_struct(t, 3);
    st_tc_w_i32(t, 1, s->type);
    st_tc_w_list(t, 2, ST_TC_I32, 2);
    st_tc_w_elem_i32(t,
                     m->dictionary_page_offset >= 0 ? ST_PQ_ENC_PLAIN_DICTIONARY : ST_PQ_ENC_PLAIN);
    st_tc_w_elem_i32(t, ST_PQ_ENC_RLE);
    st_tc_w_list(t, 3, ST_TC_BINARY, 1);
    st_tc_w_elem_binary(t, s->name, strlen(s->name));
    st_tc_w_i32(t, 4, w->opts.codec);
    st_tc_w_i64(t, 5, nrows);
    st_tc_w_i64(t, 6, m->total_uncompressed);
    st_tc_w_i64(t, 7, m->total_compressed);
    st_tc_w_i64(t, 9, m->data_page_offset);
    if (m->dictionary_page_offset >= 0) st_tc_w_i64(t, 11, m->dictionary_page_offset);
    st_tc_w_struct(t, 12);
    st_tc_w_i64(t, 3, m->null_count);
    if (m->has_minmax) {
        st_tc_w_binary(t, 5, m->smax ? m->smax : m->max, m->max_len);
        st_tc_w_binary(t, 6, m->smin ? m->smin : m->min, m->min_len);
    }
    st_tc_w_end(t);
    st_tc_w_end(t);
    st_tc_w_end(t);
}

static void write_footer(st_pq_writer *w, st_tc_writer *t)
{
    st_tc_w_struct(t, 0);
    st_tc_w_i32(t, 1, 1);
    write_schema(w, t);
    st_tc_w_i64(t, 3, w->num_rows);
    st_tc_w_list(t, 4, ST_TC_STRUCT, w->nrg);
    for (int g = 0; g < w->nrg; g++) {
        rg_meta *r = &w->rgs[g];
        st_tc_w_struct(t, 0);
        st_tc_w_list(t, 1, ST_TC_STRUCT, w->ncols);
        for (int c = 0; c < w->ncols; c++) write_colmeta(w, t, c, &r->cols[c], r->num_rows);
        st_tc_w_i64(t, 2, r->total_bytes);
        st_tc_w_i64(t, 3, r->num_rows);
        st_tc_w_end(t);
    }
    st_tc_w_binary(t, 6, "strata", 6);
    st_tc_w_list(t, 7, ST_TC_STRUCT, w->ncols); /* ColumnOrder: TYPE_ORDER for every column */
    for (int c = 0; c < w->ncols; c++) {
        st_tc_w_struct(t, 0);
        st_tc_w_struct(t, 1);
        st_tc_w_end(t);
        st_tc_w_end(t);
    }
    st_tc_w_end(t);
}

int st_pq_writer_close(st_pq_writer *w)
{
    int rc = STRATA_OK;
    st_tc_writer t = {0};
    write_footer(w, &t);
    if (t.oom || t.len > UINT32_MAX) {
        rc = st_error(w->err, STRATA_ENOMEM, "cannot write parquet footer: out of memory");
        goto done;
    }
    uint8_t tail[8];
    for (int k = 0; k < 4; k++) tail[k] = (uint8_t)(t.len >> (8 * k));
    memcpy(tail + 4, "PAR1", 4);
    ST_TRY(rc = out(w, t.p, t.len));
    ST_TRY(rc = out(w, tail, 8));
done:
    st_tc_writer_free(&t);
    st_pq_writer_free(w);
    return rc;
}
