/*
 * npy_out.c -- a snapshot's columns as NPY files: strata_export_npy.
 *
 * One NAME.npy per column, all batches concatenated, streamed one batch at a time (memory: one
 * batch's buffer). Strings become numpy's fixed-width unicode, '<U' + the longest string's
 * length in code points (UTF-32, zero-padded), which numpy.load maps like any other array
 * (object arrays would need pickle and cannot be mapped); a first pass finds that length. A
 * column with nulls also gets NAME.valid.npy, a bool array (True: a value), and its nulls are
 * stored as zero, NaN in float columns, NaT in timestamps and "" in strings. The files are
 * written into a new directory beside DIR, made durable, and that directory then takes DIR's
 * place (an existing DIR is replaced as a whole): a failed export leaves nothing behind and DIR
 * as it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "util/bits.h"
#include "util/dtype.h"
#include "util/fileio.h"
#include "util/npy.h"

/* One file being written. */
typedef struct {
    st_wfile w;
    uint64_t off;
    char name[STRATA_NAME_MAX + 16];
} npyfile;

static int npy_write(st_err *err, npyfile *f, const void *p, size_t len)
{
    int rc = st_pwrite_full(err, f->w.fd, p, len, f->off, f->w.tmp);
    f->off += len;
    return rc;
}

static int npy_begin(st_err *err, npyfile *f, const char *dir, const char *name, const char *suffix,
                     const char *descr, uint64_t n)
{
    char hdr[ST_NPY_HEADER_MAX];
    snprintf(f->name, sizeof f->name, "%s%s", name, suffix);
    int rc = st_wfile_open(err, &f->w, dir);
    if (rc < 0) return rc;
    return npy_write(err, f, hdr, st_npy_header(hdr, descr, n));
}

/* Code points of the UTF-8 string P[0..N). */
static uint64_t utf8_len(const char *p, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)p[i] & 0xC0) != 0x80;
    return k;
}

/* The longest string of column COL of S, in code points; whether any row is null. */
static int str_width(strata_snapshot *s, uint64_t nb, int col, uint64_t *width, int *nulls)
{
    *width = 1; /* numpy has no '<U0' */
    for (uint64_t b = 0; b < nb; b++) {
        const int64_t *off;
        const char *bytes;
        strata_batch_info bi;
        int rc = strata_snapshot_batch(s, b, &bi);
        if (rc == STRATA_OK) rc = strata_snapshot_map_str(s, b, col, &off, &bytes);
        if (rc < 0) return rc;
        for (uint64_t i = 0; i < bi.nrows; i++) {
            uint64_t k = utf8_len(bytes + off[i], (size_t)(off[i + 1] - off[i]));
            if (k > *width) *width = k;
        }
        strata_column_stats cs;
        if ((rc = strata_snapshot_stats(s, b, col, &cs)) < 0) return rc;
        *nulls |= cs.nulls > 0;
    }
    return STRATA_OK;
}

/* Decode the UTF-8 string P[0..N) into W code points at OUT (zero-padded). */
static void utf32(const char *p, size_t n, uint32_t *out, uint64_t w)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n && k < w;) {
        unsigned char c = (unsigned char)p[i];
        int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint32_t cp = len == 1 ? c : (uint32_t)(c & (0x7F >> len));
        for (int j = 1; j < len && i + (size_t)j < n; j++)
            cp = (cp << 6) | ((unsigned char)p[i + (size_t)j] & 0x3F);
        out[k++] = cp;
        i += (size_t)len;
    }
    for (; k < w; k++) out[k] = 0;
}

/* Batch B of string column COL as W-wide UTF-32 records into F (BUF: room for a batch). */
static int str_batch(st_err *err, strata_snapshot *s, uint64_t b, int col, uint64_t w, npyfile *f)
{
    const int64_t *off;
    const char *bytes;
    strata_batch_info bi;
    int rc = strata_snapshot_batch(s, b, &bi);
    if (rc == STRATA_OK) rc = strata_snapshot_map_str(s, b, col, &off, &bytes);
    if (rc < 0) return rc;
    enum { ROWS = 256 };
    uint32_t *buf = malloc(ROWS * w * 4);
    if (buf == NULL) return st_error(err, STRATA_ENOMEM, "out of memory exporting strings");
    for (uint64_t i = 0; i < bi.nrows && rc == STRATA_OK; i += ROWS) {
        uint64_t k = bi.nrows - i < ROWS ? bi.nrows - i : ROWS;
        for (uint64_t r = 0; r < k; r++)
            utf32(bytes + off[i + r], (size_t)(off[i + r + 1] - off[i + r]), buf + r * w, w);
        rc = npy_write(err, f, buf, k * w * 4);
    }
    free(buf);
    return rc;
}

/* Batch B of numeric column COL (DT) into F: floats get NaN and timestamps NaT where null. */
static int num_batch(st_err *err, strata_snapshot *s, uint64_t b, int col, strata_dtype dt,
                     npyfile *f)
{
    const void *p;
    const uint8_t *valid;
    strata_batch_info bi;
    int rc = strata_snapshot_batch(s, b, &bi);
    if (rc == STRATA_OK) rc = strata_snapshot_map(s, b, col, &p);
    if (rc == STRATA_OK) rc = strata_snapshot_map_valid(s, b, col, &valid);
    if (rc < 0) return rc;
    size_t esz = strata_dtype_size(dt);
    int fill = valid != NULL && (dt == STRATA_F32 || dt == STRATA_F64 || dt == STRATA_TS);
    if (!fill) return npy_write(err, f, p, bi.nrows * esz);
    char *buf = malloc(bi.nrows * esz + 1);
    if (buf == NULL) return st_error(err, STRATA_ENOMEM, "out of memory exporting a batch");
    memcpy(buf, p, bi.nrows * esz);
    for (uint64_t i = 0; i < bi.nrows; i++) {
        if (st_bit(valid, i)) continue;
        if (dt == STRATA_F32)
            ((float *)(void *)buf)[i] = NAN;
        else if (dt == STRATA_F64)
            ((double *)(void *)buf)[i] = NAN;
        else
            ((int64_t *)(void *)buf)[i] = INT64_MIN; /* NaT */
    }
    rc = npy_write(err, f, buf, bi.nrows * esz);
    free(buf);
    return rc;
}

/* The validity of column COL as a bool array into F. */
static int valid_batch(st_err *err, strata_snapshot *s, uint64_t b, int col, npyfile *f)
{
    const uint8_t *valid;
    strata_batch_info bi;
    int rc = strata_snapshot_batch(s, b, &bi);
    if (rc == STRATA_OK) rc = strata_snapshot_map_valid(s, b, col, &valid);
    if (rc < 0) return rc;
    uint8_t buf[4096];
    for (uint64_t i = 0; i < bi.nrows && rc == STRATA_OK; i += sizeof buf) {
        uint64_t k = bi.nrows - i < sizeof buf ? bi.nrows - i : sizeof buf;
        for (uint64_t r = 0; r < k; r++) buf[r] = (uint8_t)st_bit(valid, i + r);
        rc = npy_write(err, f, buf, k);
    }
    return rc;
}

/* Write column COL of S into DIR as F[0] (and F[1], its validity, when it has nulls). */
static int export_column(st_err *err, strata_snapshot *s, const strata_dataset_desc *d, int col,
                         const char *dir, npyfile f[2])
{
    const strata_column *c = &d->columns[col];
    uint64_t width = 0;
    int nulls = 0, rc = STRATA_OK;
    char descr[32];
    if (c->dtype == STRATA_STR) {
        ST_TRY(rc = str_width(s, d->nbatches, col, &width, &nulls));
        snprintf(descr, sizeof descr, "<U%llu", (unsigned long long)width);
    } else {
        snprintf(descr, sizeof descr, "%s", st_dtype_descr(c->dtype));
        for (uint64_t b = 0; b < d->nbatches && !nulls; b++) {
            strata_column_stats cs;
            ST_TRY(rc = strata_snapshot_stats(s, b, col, &cs));
            nulls = cs.nulls > 0;
        }
    }
    ST_TRY(rc = npy_begin(err, &f[0], dir, c->name, ".npy", descr, d->nrows));
    if (nulls) ST_TRY(rc = npy_begin(err, &f[1], dir, c->name, ".valid.npy", "|b1", d->nrows));
    for (uint64_t b = 0; b < d->nbatches && rc == STRATA_OK; b++) {
        int had = st_snapshot_mapped(s, b); /* (the caller's views of it kept) */
        rc = c->dtype == STRATA_STR ? str_batch(err, s, b, col, width, &f[0])
                                    : num_batch(err, s, b, col, c->dtype, &f[0]);
        if (rc == STRATA_OK && nulls) rc = valid_batch(err, s, b, col, &f[1]);
        if (!had) st_snapshot_release(s, b);
    }
done:
    return rc;
}

/* Put the complete directory TMP in the place of DIR: DIR, if it exists, is moved aside first
 * and removed after, or moved back if TMP cannot take its place. */
static int replace_dir(st_err *err, const char *tmp, const char *dir, const char *token)
{
    char old[ST_PATH_MAX], parent[ST_PATH_MAX];
    struct stat sb;
    int had = stat(dir, &sb) == 0, rc = STRATA_OK;
    ST_TRY(rc = st_path(err, old, "%s.old-%s", dir, token));
    ST_TRY(rc = st_path(err, parent, "%s/..", dir));
    if (had && !S_ISDIR(sb.st_mode))
        ST_TRY(rc = st_error(err, STRATA_EEXIST, "'%s' exists and is not a directory", dir));
    if (had) ST_TRY(rc = st_rename(err, dir, old));
    if ((rc = st_rename(err, tmp, dir)) < 0) {
        if (had) (void)rename(old, dir);
        goto done;
    }
    rc = st_fsync_dir(err, parent);
    if (had) (void)st_rm_tree(NULL, old); /* the new directory is in place: the old may go */
done:
    return rc;
}

int strata_export_npy(strata_snapshot *s, const int *cols, int ncols, const char *dir)
{
    if (s == NULL || dir == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(st_snapshot_pool(s));
    strata_dataset_desc d;
    int rc = strata_snapshot_info(s, &d), n = cols != NULL ? ncols : d.ncols;
    if (rc < 0) return rc;
    if (n < 1) return st_error(err, STRATA_EINVAL, "no columns to export");
    /* everything is written into a new directory beside DIR, which then takes DIR's place */
    char token[ST_TOKEN_LEN + 1], tmp[ST_PATH_MAX];
    st_random_token(token);
    if ((rc = st_path(err, tmp, "%s.tmp-%s", dir, token)) < 0) return rc;
    if (mkdir(tmp, 0755) != 0)
        return st_error_errno(err, errno, "cannot create directory '%s'", tmp);
    npyfile *f = calloc(2 * (size_t)n, sizeof *f);
    if (f == NULL) rc = st_error(err, STRATA_ENOMEM, "out of memory");
    for (int i = 0; f != NULL && i < 2 * n; i++) f[i].w.fd = -1;
    strata_pool *pool = st_snapshot_pool(s);
    for (int i = 0; i < n && rc == STRATA_OK; i++) {
        int col = cols != NULL ? cols[i] : i;
        if (col < 0 || col >= d.ncols)
            ST_TRY(rc = st_error(err, STRATA_ERANGE, "column index %d is out of range", col));
        st_pool_work(pool, "columns", (uint64_t)i, (uint64_t)n, "export %s/%s", d.region, d.name);
        rc = export_column(err, s, &d, col, tmp, &f[2 * i]);
    }
    if (rc == STRATA_OK)
        st_pool_work(pool, "columns", (uint64_t)n, (uint64_t)n, "export %s/%s", d.region, d.name);
    /* all complete: make them durable and give them their names, still out of sight */
    for (int i = 0; i < 2 * n && rc == STRATA_OK; i++)
        if (f[i].w.fd >= 0) rc = st_wfile_publish(err, &f[i].w, tmp, f[i].name);
    if (rc == STRATA_OK) rc = st_fsync_dir(err, tmp);
    if (rc == STRATA_OK) rc = replace_dir(err, tmp, dir, token);
done:
    for (int i = 0; f != NULL && i < 2 * n; i++) st_wfile_abort(&f[i].w);
    if (rc < 0) (void)st_rm_tree(NULL, tmp);
    free(f);
    return rc;
}
