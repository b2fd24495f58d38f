/*
 * batch.c -- the batch writer and the publish.
 *
 * A batch streams each column into its own temporary file in the dataset directory: room for a
 * fixed 128-byte NPY header, then the values as they are appended, hashed (xxHash64) and
 * summarised (min/max) on the way. strata_batch_commit() writes the headers, fsyncs and renames
 * every file and fsyncs the directory: the batch is durable but invisible. strata_publish()
 * makes all committed batches visible in one catalog transaction. Memory stays bounded by what
 * the caller appends at a time, whatever the batch's size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/bits.h"
#include "util/dtype.h"

int st_dataset_lock(strata_dataset *ds)
{
    st_err *err = st_pool_err(ds->pool);
    char path[ST_PATH_MAX], what[2 * STRATA_NAME_MAX + 16];
    snprintf(what, sizeof what, "dataset '%s/%s'", ds->d.region, ds->d.name);
    int rc = st_path(err, path, "%s/%s", ds->dir, ST_WRITER_LOCK);
    if (rc < 0) return rc;
    char obj[32];
    snprintf(obj, sizeof obj, "dataset %lld", (long long)ds->d.id);
    st_cat_lockref at = {path, obj, ST_LOCK_WRITER, 1};
    st_catalog *cat = st_pool_cat(ds->pool);
    int hold = st_cat_lock(err, cat, &at, 1, 1, ds->lock_timeout_ms, what);
    if (hold == STRATA_ENOTFOUND)
        return st_error(err, STRATA_ENOTFOUND, "%s was dropped; its directory is gone", what);
    if (hold == STRATA_ELOCKED)
        return st_error(err, hold, "%s has another writer (waited %d ms); try again later", what,
                        ds->lock_timeout_ms);
    if (hold < 0) return hold;
    /* With the lock held nobody else publishes: start from the current version. */
    st_cat_dataset fresh;
    rc = st_cat_dataset_get(err, st_pool_cat(ds->pool), ds->d.region, ds->d.name, &fresh, NULL,
                            NULL);
    if (rc == STRATA_OK && fresh.id != ds->d.id)
        rc = st_error(err, STRATA_ECONFLICT, "%s was dropped and created again; open it again",
                      what);
    if (rc < 0) {
        st_cat_unlock(cat, hold);
        return rc;
    }
    ds->d = fresh;
    ds->base_version = fresh.version;
    ds->hold = hold;
    return STRATA_OK;
}

static void colfile_abort(st_colfile *cf)
{
    if (cf->hash != NULL) XXH64_freeState(cf->hash);
    cf->hash = NULL;
    st_wfile_abort(&cf->w);
}

void st_colw_abort(st_colw *w)
{
    colfile_abort(&w->data);
    colfile_abort(&w->sbytes);
    colfile_abort(&w->valid);
}

static void batch_free(strata_batch *b)
{
    int n = b->ds->schema.ncols;
    for (int c = 0; c < n; c++) st_colw_abort(&b->cols[c]);
    free(b->cols);
    b->ds->open_batches--;
    free(b);
}

static int colfile_open(st_err *err, st_colfile *cf, const char *dir)
{
    memset(cf, 0, sizeof *cf);
    cf->w.fd = -1;
    int rc = st_wfile_open(err, &cf->w, dir);
    if (rc < 0) return rc;
    if ((cf->hash = XXH64_createState()) == NULL)
        return st_error(err, STRATA_ENOMEM, "out of memory starting a batch");
    XXH64_reset(cf->hash, 0);
    return STRATA_OK;
}

int st_colw_open(st_err *err, st_colw *w, const char *dir, strata_dtype dtype)
{
    memset(w, 0, sizeof *w);
    w->data.w.fd = w->sbytes.w.fd = w->valid.w.fd = -1;
    w->dtype = dtype;
    w->dir = dir;
    int rc = colfile_open(err, &w->data, dir);
    if (rc < 0 || dtype != STRATA_STR) return rc;
    if ((rc = colfile_open(err, &w->sbytes, dir)) < 0) return rc;
    /* An offsets file starts with offset 0. */
    int64_t zero = 0;
    rc = st_pwrite_full(err, w->data.w.fd, &zero, 8, ST_NPY_FIXED_HEADER, w->data.w.tmp);
    if (rc < 0) return rc;
    XXH64_update(w->data.hash, &zero, 8);
    w->data.bytes = 8;
    return STRATA_OK;
}

int strata_batch_begin(strata_dataset *ds, strata_batch **out)
{
    if (out != NULL) *out = NULL;
    if (ds == NULL || out == NULL) return STRATA_EINVAL;
    int rc = STRATA_OK;
    if (ds->schema.ncols == 0)
        return st_error(st_pool_err(ds->pool), STRATA_EPERM,
                        "dataset '%s/%s' is derived: only 'strata update' writes its batches",
                        ds->d.region, ds->d.name);
    if (ds->hold < 0 && !ds->helper && (rc = st_dataset_lock(ds)) < 0) return rc;
    int n = ds->schema.ncols;
    strata_batch *b = calloc(1, sizeof *b);
    if (b == NULL) return st_error(st_pool_err(ds->pool), STRATA_ENOMEM, "out of memory");
    b->ds = ds;
    ds->open_batches++;
    b->cols = calloc((size_t)n, sizeof *b->cols);
    if (b->cols == NULL) {
        free(b);
        ds->open_batches--;
        return st_error(st_pool_err(ds->pool), STRATA_ENOMEM, "out of memory");
    }
    for (int c = 0; c < n; c++)
        b->cols[c].data.w.fd = b->cols[c].sbytes.w.fd = b->cols[c].valid.w.fd = -1;
    st_random_token(b->token);
    b->created_ns = st_now_ns();
    for (int c = 0; c < n && rc == STRATA_OK; c++)
        rc = st_colw_open(st_pool_err(ds->pool), &b->cols[c], ds->dir,
                          (strata_dtype)ds->schema.cat[c].dtype);
    if (rc < 0) {
        batch_free(b);
        return rc;
    }
    *out = b;
    return STRATA_OK;
}

static int check_col(strata_batch *b, int col)
{
    if (b == NULL) return STRATA_EINVAL;
    if (col < 0 || col >= b->ds->schema.ncols)
        return st_error(st_pool_err(b->ds->pool), STRATA_ERANGE,
                        "column index %d is out of range for dataset '%s/%s' of %d columns", col,
                        b->ds->d.region, b->ds->d.name, b->ds->schema.ncols);
    return STRATA_OK;
}

/* Min/max of N values of DTYPE into CF's statistics. */
#define ST_MINMAX_INT(T)                                                                           \
    do {                                                                                           \
        const T *v = values;                                                                       \
        T lo = v[0], hi = v[0];                                                                    \
        for (uint64_t i = 1; i < n; i++) {                                                         \
            lo = v[i] < lo ? v[i] : lo;                                                            \
            hi = v[i] > hi ? v[i] : hi;                                                            \
        }                                                                                          \
        if (!cf->has_minmax || (T)lo < (T)cf->min_i) cf->min_i = (int64_t)lo;                      \
        if (!cf->has_minmax || (T)hi > (T)cf->max_i) cf->max_i = (int64_t)hi;                      \
        cf->has_minmax = 1;                                                                        \
    } while (0)

static void update_stats(st_colfile *cf, strata_dtype dtype, const void *values, uint64_t n)
{
    if (n == 0) return;
    switch (dtype) {
    case STRATA_I8:
        ST_MINMAX_INT(int8_t);
        break;
    case STRATA_I16:
        ST_MINMAX_INT(int16_t);
        break;
    case STRATA_I32:
        ST_MINMAX_INT(int32_t);
        break;
    case STRATA_I64:
    case STRATA_TS:
        ST_MINMAX_INT(int64_t);
        break;
    case STRATA_U8:
    case STRATA_BOOL:
        ST_MINMAX_INT(uint8_t);
        break;
    case STRATA_U16:
        ST_MINMAX_INT(uint16_t);
        break;
    case STRATA_U32:
        ST_MINMAX_INT(uint32_t);
        break;
    case STRATA_U64:
        ST_MINMAX_INT(uint64_t);
        break;
    case STRATA_F32:
    case STRATA_F64:
        for (uint64_t i = 0; i < n; i++) {
            double x = dtype == STRATA_F32 ? (double)((const float *)values)[i]
                                           : ((const double *)values)[i];
            if (isnan(x)) continue; /* NaN takes no part in min and max */
            if (cf->has_minmax != 2 || x < cf->min_f) cf->min_f = x;
            if (cf->has_minmax != 2 || x > cf->max_f) cf->max_f = x;
            cf->has_minmax = 2;
        }
        break;
    default:
        break;
    }
}

/* Append LEN bytes at P to CF (after the header room), hashing them. */
static int colfile_write(st_err *err, st_colfile *cf, const void *p, size_t len)
{
    int rc = st_pwrite_full(err, cf->w.fd, p, len, ST_NPY_FIXED_HEADER + cf->bytes, cf->w.tmp);
    if (rc < 0) return rc;
    XXH64_update(cf->hash, p, len);
    cf->bytes += len;
    return STRATA_OK;
}

int strata_batch_append(strata_batch *b, int col, const void *values, uint64_t n)
{
    return strata_batch_append_nullable(b, col, values, NULL, n);
}

int strata_batch_append_nullable(strata_batch *b, int col, const void *values, const uint8_t *valid,
                                 uint64_t n)
{
    int rc = check_col(b, col);
    if (rc < 0) return rc;
    st_err *err = st_pool_err(b->ds->pool);
    strata_dtype dt = (strata_dtype)b->ds->schema.cat[col].dtype;
    if (dt == STRATA_STR)
        return st_error(err, STRATA_ETYPE,
                        "column '%s' holds strings; append with strata_batch_append_str",
                        b->ds->schema.cat[col].name);
    if (n == 0) return STRATA_OK;
    if (values == NULL) return st_error(err, STRATA_EINVAL, "append: no values");
    if (dt == STRATA_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (((const uint8_t *)values)[i] > 1 && st_bit(valid, i))
                return st_error(err, STRATA_EINVAL,
                                "bool column '%s': value %u at position %llu is not 0 or 1",
                                b->ds->schema.cat[col].name, ((const uint8_t *)values)[i],
                                (unsigned long long)i);
    return st_colw_append_valid(err, &b->cols[col], values, valid, 0, n);
}

int st_colw_append(st_err *err, st_colw *w, const void *values, uint64_t n)
{
    st_colfile *cf = &w->data;
    size_t esz = strata_dtype_size(w->dtype);
    /* in blocks of 256 KB: written, hashed and summarised while the block is in the cache */
    uint64_t block = ((uint64_t)256 << 10) / esz;
    for (uint64_t at = 0; at < n; at += block) {
        uint64_t k = n - at < block ? n - at : block;
        const char *p = (const char *)values + at * esz;
        int rc = colfile_write(err, cf, p, k * esz);
        if (rc < 0) return rc;
        update_stats(cf, w->dtype, p, k);
        cf->n += k;
    }
    return STRATA_OK;
}

int strata_batch_append_str(strata_batch *b, int col, const int64_t *offsets, const char *bytes,
                            uint64_t n)
{
    return strata_batch_append_str_nullable(b, col, offsets, bytes, NULL, n);
}

int strata_batch_append_str_nullable(strata_batch *b, int col, const int64_t *offsets,
                                     const char *bytes, const uint8_t *valid, uint64_t n)
{
    int rc = check_col(b, col);
    if (rc < 0) return rc;
    st_err *err = st_pool_err(b->ds->pool);
    if (b->ds->schema.cat[col].dtype != STRATA_STR)
        return st_error(err, STRATA_ETYPE, "column '%s' is %s, not str",
                        b->ds->schema.cat[col].name,
                        strata_dtype_name((strata_dtype)b->ds->schema.cat[col].dtype));
    if (n == 0) return STRATA_OK;
    if (offsets == NULL) return st_error(err, STRATA_EINVAL, "append: no offsets");
    for (uint64_t i = 0; i < n; i++)
        if (offsets[i + 1] < offsets[i])
            return st_error(err, STRATA_EINVAL, "append to '%s': offsets decrease at %llu",
                            b->ds->schema.cat[col].name, (unsigned long long)i + 1);
    uint64_t len = (uint64_t)(offsets[n] - offsets[0]);
    if (len > 0 && bytes == NULL) return st_error(err, STRATA_EINVAL, "append: no bytes");
    return st_colw_append_str_valid(err, &b->cols[col], offsets, bytes, valid, 0, n);
}

int st_colw_append_str(st_err *err, st_colw *w, const int64_t *offsets, const char *bytes,
                       uint64_t n)
{
    if (n == 0) return STRATA_OK;
    int rc = STRATA_OK;
    uint64_t len = (uint64_t)(offsets[n] - offsets[0]);
    st_colfile *of = &w->data, *bf = &w->sbytes;
    /* Offsets are stored relative to the batch's bytes file. */
    enum { CHUNK = 4096 };
    int64_t buf[CHUNK];
    int64_t base = (int64_t)bf->bytes - offsets[0];
    for (uint64_t i = 0; i < n;) {
        uint64_t k = n - i < CHUNK ? n - i : CHUNK;
        for (uint64_t j = 0; j < k; j++) buf[j] = offsets[i + j + 1] + base;
        if ((rc = colfile_write(err, of, buf, k * sizeof *buf)) < 0) return rc;
        i += k;
    }
    if (len > 0 && (rc = colfile_write(err, bf, bytes, len)) < 0) return rc;
    of->n += n;
    bf->n += len;
    return STRATA_OK;
}

/* Hash LEN bytes of FD from OFF into STATE. */
static int hash_range(st_err *err, int fd, uint64_t off, uint64_t len, XXH64_state_t *state,
                      const char *path)
{
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF);
    if (buf == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    int rc = STRATA_OK;
    while (len > 0) {
        size_t k = len < BUF ? (size_t)len : BUF;
        ST_TRY(rc = st_pread_full(err, fd, buf, k, off, path));
        XXH64_update(state, buf, k);
        off += k;
        len -= k;
    }
done:
    free(buf);
    return rc;
}

/* ---- validity ------------------------------------------------------------------------------ */

enum { VBUF = 4096 }; /* bytes of bitmap written at a time */

/* Start W's bitmap with its ROWS rows so far, all valid. */
static int valid_start(st_err *err, st_colw *w, uint64_t rows)
{
    int rc = colfile_open(err, &w->valid, w->dir);
    if (rc < 0) return rc;
    uint8_t buf[VBUF];
    memset(buf, 0xFF, sizeof buf);
    for (uint64_t left = rows >> 3; left > 0;) {
        size_t k = left < VBUF ? (size_t)left : VBUF;
        if ((rc = colfile_write(err, &w->valid, buf, k)) < 0) return rc;
        left -= k;
    }
    w->vbyte = (uint8_t)((1u << (rows & 7)) - 1);
    return STRATA_OK;
}

/* Append the validity of N rows, bits [BIT0, BIT0 + N) of VALID with NULLS clear, to W's bitmap
 * (started at the first null). Called before the rows' values, while W->data.n counts the rows
 * before them. */
static int colw_valid(st_err *err, st_colw *w, const uint8_t *valid, uint64_t bit0, uint64_t n,
                      uint64_t nulls)
{
    uint64_t row = w->data.n;
    int rc = STRATA_OK;
    if (nulls == 0 && w->valid.w.fd < 0) return STRATA_OK;
    if (w->valid.w.fd < 0 && (rc = valid_start(err, w, row)) < 0) return rc;
    uint8_t buf[VBUF];
    for (uint64_t i = 0; i < n;) {
        uint64_t at = row & 7, m = n - i < VBUF * 8 - at ? n - i : VBUF * 8 - at;
        buf[0] = w->vbyte;
        st_bits_copy(buf, at, valid, bit0 + i, m);
        uint64_t total = at + m;
        if ((rc = colfile_write(err, &w->valid, buf, (size_t)(total >> 3))) < 0) return rc;
        w->vbyte = (total & 7) ? (uint8_t)(buf[total >> 3] & ((1u << (total & 7)) - 1)) : 0;
        row += m;
        i += m;
    }
    w->nulls += nulls;
    return STRATA_OK;
}

int st_colw_sync_valid(st_err *err, st_colw *w)
{
    if (w->valid.w.fd < 0 || (w->data.n & 7) == 0) return STRATA_OK;
    return st_pwrite_full(err, w->valid.w.fd, &w->vbyte, 1, ST_NPY_FIXED_HEADER + w->valid.bytes,
                          w->valid.w.tmp);
}

int st_colw_append_valid(st_err *err, st_colw *w, const void *values, const uint8_t *valid,
                         uint64_t bit0, uint64_t n)
{
    uint64_t nulls = st_bits_nulls(valid, bit0, n);
    int rc = colw_valid(err, w, valid, bit0, n, nulls);
    if (rc < 0 || nulls == 0) return rc < 0 ? rc : st_colw_append(err, w, values, n);
    /* Null slots are stored as zero, so equal data has equal bytes, and skip the statistics. */
    size_t esz = strata_dtype_size(w->dtype);
    enum { PIECE = 4096 };
    unsigned char buf[PIECE * 8];
    for (uint64_t i = 0; i < n;) {
        uint64_t k = n - i < PIECE ? n - i : PIECE;
        memcpy(buf, (const unsigned char *)values + i * esz, (size_t)k * esz);
        for (uint64_t r = 0; r < k;) {
            uint64_t e = st_bits_run(valid, bit0 + i + r, bit0 + i + k) - bit0 - i;
            if (st_bit(valid, bit0 + i + r))
                update_stats(&w->data, w->dtype, buf + r * esz, e - r);
            else
                memset(buf + r * esz, 0, (size_t)(e - r) * esz);
            r = e;
        }
        if ((rc = colfile_write(err, &w->data, buf, (size_t)k * esz)) < 0) return rc;
        w->data.n += k;
        i += k;
    }
    return STRATA_OK;
}

int st_colw_append_str_valid(st_err *err, st_colw *w, const int64_t *offsets, const char *bytes,
                             const uint8_t *valid, uint64_t bit0, uint64_t n)
{
    uint64_t nulls = st_bits_nulls(valid, bit0, n);
    int rc = colw_valid(err, w, valid, bit0, n, nulls);
    if (rc < 0 || nulls == 0) return rc < 0 ? rc : st_colw_append_str(err, w, offsets, bytes, n);
    /* A null string is stored empty. */
    static const int64_t empty[1024];
    for (uint64_t r = 0; r < n && rc == STRATA_OK;) {
        uint64_t e = st_bits_run(valid, bit0 + r, bit0 + n) - bit0;
        if (st_bit(valid, bit0 + r)) {
            rc = st_colw_append_str(err, w, offsets + r, bytes + (offsets[r] - offsets[0]), e - r);
        } else {
            for (uint64_t i = r; i < e && rc == STRATA_OK; i += 1023) {
                uint64_t k = e - i < 1023 ? e - i : 1023;
                rc = st_colw_append_str(err, w, empty, NULL, k);
            }
        }
        r = e;
    }
    return rc;
}

/* Complete W's bitmap (its last, partial byte) and add its bytes to hash state H. */
static int valid_finish(st_err *err, st_colw *w, XXH64_state_t *h)
{
    int rc = STRATA_OK;
    if ((w->data.n & 7) && (rc = colfile_write(err, &w->valid, &w->vbyte, 1)) < 0) return rc;
    return hash_range(err, w->valid.w.fd, ST_NPY_FIXED_HEADER, w->valid.bytes, h, w->valid.w.tmp);
}

int strata_batch_column(strata_batch *b, const char *name, int *col)
{
    if (b == NULL || name == NULL || col == NULL) return STRATA_EINVAL;
    int c = st_schema_find(&b->ds->schema, name);
    if (c < 0)
        return st_error(st_pool_err(b->ds->pool), STRATA_ENOTFOUND,
                        "dataset '%s/%s' has no column '%s'", b->ds->d.region, b->ds->d.name, name);
    *col = c;
    return STRATA_OK;
}

/* Write the header of CF for COUNT elements of DESCR, make it durable and give it its name. */
static int colfile_finish(st_err *err, st_colfile *cf, const char *dir, const char *descr,
                          uint64_t count, const char *name)
{
    char hdr[ST_NPY_HEADER_MAX];
    size_t hlen = st_npy_header_fixed(hdr, descr, count);
    int rc = st_pwrite_full(err, cf->w.fd, hdr, hlen, 0, cf->w.tmp);
    if (rc < 0) return rc;
    return st_wfile_publish(err, &cf->w, dir, name);
}

/* Complete W as file TOKEN.POS.npy (strings: and TOKEN.POS.bytes.npy) in DIR, durable but for
 * the directory's fsync; BC receives its catalog record. */
static int colw_finish(st_err *err, st_colw *w, const char *dir, const char *token, int pos,
                       st_cat_bcol *bc)
{
    st_colfile *cf = &w->data, *bf = &w->sbytes;
    uint64_t nrows = cf->n;
    int rc = STRATA_OK;
    memset(bc, 0, sizeof *bc);
    snprintf(bc->file, sizeof bc->file, "%s.%d.npy", token, pos);
    bc->bytes = cf->bytes;
    bc->has_minmax = cf->has_minmax;
    bc->min_i = cf->min_i;
    bc->max_i = cf->max_i;
    bc->min_f = cf->min_f;
    bc->max_f = cf->max_f;
    /* The checksum covers the values (string offsets, then bytes), then the validity bitmap, in
     * file order. */
    XXH64_state_t *h = cf->hash;
    if (w->dtype == STRATA_STR) {
        if ((h = XXH64_createState()) == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
        XXH64_reset(h, 0);
        snprintf(bc->bytes_file, sizeof bc->bytes_file, "%s.%d.bytes.npy", token, pos);
        bc->bytes += bf->bytes;
        ST_TRY(rc = hash_range(err, cf->w.fd, ST_NPY_FIXED_HEADER, cf->bytes, h, cf->w.tmp));
        ST_TRY(rc = hash_range(err, bf->w.fd, ST_NPY_FIXED_HEADER, bf->bytes, h, bf->w.tmp));
    }
    if (w->valid.w.fd >= 0) {
        ST_TRY(rc = valid_finish(err, w, h));
        snprintf(bc->valid_file, sizeof bc->valid_file, "%s.%d.valid.npy", token, pos);
        bc->nulls = w->nulls;
        bc->bytes += w->valid.bytes;
        ST_TRY(rc = colfile_finish(err, &w->valid, dir, "|u1", w->valid.bytes, bc->valid_file));
    }
    bc->checksum = XXH64_digest(h);
    if (w->dtype == STRATA_STR) {
        ST_TRY(rc = colfile_finish(err, bf, dir, "|u1", bf->bytes, bc->bytes_file));
        rc = colfile_finish(err, cf, dir, "<i8", nrows + 1, bc->file);
    } else {
        rc = colfile_finish(err, cf, dir, st_dtype_descr(w->dtype), nrows, bc->file);
    }
done:
    if (h != cf->hash) XXH64_freeState(h);
    return rc;
}

int st_colw_finish(st_err *err, st_colw *w, const char *dir, const char *token, int pos,
                   st_cat_bcol *bc)
{
    int rc = colw_finish(err, w, dir, token, pos, bc);
    st_colw_abort(w); /* frees the hash state; removes the temporary files on failure */
    return rc;
}

/* Room for K more pending batches in DS. */
static int pending_grow(strata_dataset *ds, int k)
{
    size_t n = (size_t)ds->schema.ncols;
    if (ds->npending + k <= ds->cap) return STRATA_OK;
    int cap = ds->cap ? 2 * ds->cap : 8;
    while (cap < ds->npending + k) cap *= 2;
    st_cat_batch *g = realloc(ds->pending, (size_t)cap * sizeof *g);
    if (g != NULL) ds->pending = g;
    st_cat_bcol *gc = g ? realloc(ds->pending_cols, (size_t)cap * n * sizeof *gc) : NULL;
    if (gc == NULL)
        return st_error(st_pool_err(ds->pool), STRATA_ENOMEM, "out of memory committing a batch");
    ds->pending_cols = gc;
    ds->cap = cap;
    return STRATA_OK;
}

void st_dataset_set_helper(strata_dataset *ds)
{
    ds->helper = 1;
}

int st_dataset_pending(const strata_dataset *ds, const st_cat_batch **b, const st_cat_bcol **cols)
{
    *b = ds->pending;
    *cols = ds->pending_cols;
    return ds->npending;
}

int st_dataset_adopt(strata_dataset *ds, const st_cat_batch *b, const st_cat_bcol *cols, int n)
{
    size_t nc = (size_t)ds->schema.ncols;
    int rc = n > 0 ? pending_grow(ds, n) : STRATA_OK;
    if (rc < 0) return rc;
    memcpy(&ds->pending[ds->npending], b, (size_t)n * sizeof *b);
    memcpy(&ds->pending_cols[(size_t)ds->npending * nc], cols, (size_t)n * nc * sizeof *cols);
    ds->npending += n;
    return STRATA_OK;
}

void st_dataset_forget_pending(strata_dataset *ds)
{
    ds->npending = 0;
}

int strata_batch_commit(strata_batch *b)
{
    if (b == NULL) return STRATA_EINVAL;
    strata_dataset *ds = b->ds;
    st_err *err = st_pool_err(ds->pool);
    int n = ds->schema.ncols, rc = STRATA_OK;
    uint64_t nrows = b->cols[0].data.n;
    st_cat_bcol *cols = NULL;
    for (int c = 1; c < n; c++) {
        if (b->cols[c].data.n != nrows) {
            rc = st_error(err, STRATA_EINVAL,
                          "cannot commit a batch of '%s/%s': column '%s' has %llu rows but "
                          "column '%s' has %llu",
                          ds->d.region, ds->d.name, ds->schema.cat[0].name,
                          (unsigned long long)nrows, ds->schema.cat[c].name,
                          (unsigned long long)b->cols[c].data.n);
            goto done;
        }
    }
    ST_TRY(rc = pending_grow(ds, 1));
    cols = &ds->pending_cols[(size_t)ds->npending * (size_t)n];
    for (int c = 0; c < n; c++)
        ST_TRY(rc = colw_finish(err, &b->cols[c], ds->dir, b->token, c, &cols[c]));
    ST_TRY(rc = st_fsync_dir(err, ds->dir));
    st_cat_batch *pb = &ds->pending[ds->npending++];
    memset(pb, 0, sizeof *pb);
    pb->nrows = (int64_t)nrows;
    snprintf(pb->token, sizeof pb->token, "%s", b->token);
    pb->created_ns = b->created_ns;
done:
    if (rc < 0) {
        /* Files already renamed are removed; the rest go with the batch. */
        char path[ST_PATH_MAX];
        for (int c = 0; cols != NULL && c < n; c++) {
            const st_colfile *cf[ST_BCOL_FILES] = {&b->cols[c].data, &b->cols[c].sbytes,
                                                   &b->cols[c].valid};
            for (int f = 0; f < ST_BCOL_FILES; f++)
                if (st_cat_bcol_file(&cols[c], f)[0] && cf[f]->w.tmp[0] == '\0' &&
                    st_path(NULL, path, "%s/%s", ds->dir, st_cat_bcol_file(&cols[c], f)) == 0)
                    unlink(path);
        }
    }
    batch_free(b);
    return rc;
}

void strata_batch_abort(strata_batch *b)
{
    if (b != NULL) batch_free(b);
}

int st_dataset_apply(strata_dataset *ds, st_cat_change *ch, int64_t *new_version)
{
    int rc = st_dataset_apply_unswept(ds, ch, new_version);
    if (rc == STRATA_OK && (ch->retire_all || ch->nretire > 0)) {
        /* The replaced batches go now unless a reader holds them (then at the next gc). */
        uint64_t files, bytes;
        st_dataset_sweep(ds->pool, &ds->d, ds->dir, &files, &bytes);
    }
    return rc;
}

int st_dataset_apply_unswept(strata_dataset *ds, st_cat_change *ch, int64_t *new_version)
{
    st_err *err = st_pool_err(ds->pool);
    if (ds->hold < 0)
        return st_error(err, STRATA_EINVAL, "cannot publish to '%s/%s' without its writer lock",
                        ds->d.region, ds->d.name);
    int64_t v = 0;
    int rc;
    if ((rc = st_fsync_dir(err, ds->dir)) < 0) return rc;
    ch->hold = &ds->hold;
    if ((rc = st_cat_apply(err, st_pool_cat(ds->pool), ds->d.id, ds->base_version, ch, &v)) < 0)
        return rc;
    ds->d.version = v;
    ds->base_version = v;
    if (new_version != NULL) *new_version = v;
    return STRATA_OK;
}

int strata_publish(strata_dataset *ds, int64_t *version)
{
    if (ds == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(ds->pool);
    if (ds->open_batches > 0)
        return st_error(err, STRATA_EINVAL,
                        "cannot publish '%s/%s': %d batch(es) begun but not committed or aborted",
                        ds->d.region, ds->d.name, ds->open_batches);
    int64_t v = ds->d.version;
    if (ds->npending > 0) {
        st_cat_change ch = {.batches = ds->pending,
                            .cols = ds->pending_cols,
                            .nb = ds->npending,
                            .ncols = ds->schema.ncols};
        int rc = st_dataset_apply(ds, &ch, &v);
        if (rc == STRATA_ECONFLICT || rc == STRATA_ENOTFOUND) {
            char why[ST_ERRMSG_MAX];
            st_err_copy(err, why, sizeof why);
            st_error(err, rc, "cannot publish to '%s/%s': %s", ds->d.region, ds->d.name, why);
        }
        if (rc < 0) return rc;
        ds->npending = 0; /* the catalog owns the files now */
    }
    st_dataset_unlock(ds);
    if (version != NULL) *version = v;
    return STRATA_OK;
}
