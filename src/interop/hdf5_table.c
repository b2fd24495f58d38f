/*
 * hdf5_table.c -- datasets in and out of HDF5: a group holding one 1-D HDF5 dataset per column.
 *
 * Ingest reads the group's columns a slab of rows at a time and feeds them to the ingest layer
 * (ingest/ingest.h), which batches and publishes them, or nothing. Export writes every batch of
 * a snapshot, column by column, from the mapped batch files, into a new file (hdf5.c).
 *
 * Nulls travel as in NPY files: a column NAME with nulls has a bool dataset NAME.valid beside it,
 * true where a row has a value. On ingest such a dataset is the validity of NAME, not a column.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest/ingest.h"
#include "interop/hdf5_int.h"
#include "store/store.h"
#include "util/bits.h"
#include "util/name.h"
#include "util/parse.h"

/* ---- ingest: a group of 1-D datasets into a dataset ----------------------------------------- */

/* One column of the group being read. */
typedef struct h5col {
    char *name;
    hid_t did, mtype; /* the dataset, and the memory type it is read as */
    strata_dtype dtype;
    int vlen;     /* strings: variable-length (else fixed, FSIZE bytes each) */
    size_t fsize; /* fixed-length strings: bytes per value */
    int vcol;     /* the column holding this one's validity (NAME.valid), or -1 */
    int valid_of; /* the column whose validity this one is, or -1 */
    char where[ST_H5_WHERE];
} h5col;

typedef struct h5in {
    st_err *err;
    const char *file, *path;
    char where[ST_H5_WHERE];
    hid_t fid, gid;
    int n;
    h5col *cols;
    uint64_t nrows;
    uint64_t file_bytes;
} h5in;

static void h5in_close(h5in *in)
{
    for (int i = 0; in->cols != NULL && i < in->n; i++) {
        st_h5_close(in->cols[i].mtype);
        st_h5_close(in->cols[i].did);
        free(in->cols[i].name);
    }
    free(in->cols);
    in->cols = NULL;
    st_h5_close(in->gid);
    st_h5_close(in->fid);
    in->gid = in->fid = H5I_INVALID_HID;
}

/* Open the file and the group of IN. */
static int h5in_open(h5in *in)
{
    st_err *err = in->err;
    hid_t obj = H5I_INVALID_HID;
    H5I_type_t kind;
    struct stat st;
    int rc;
    st_h5_where(in->where, sizeof in->where, in->file, in->path, NULL, NULL, 0);
    ST_TRY(rc = st_h5_open_file(err, in->file, &in->fid));
    if (stat(in->file, &st) == 0) in->file_bytes = (uint64_t)st.st_size;
    ST_TRY(rc = st_h5_open_object(err, in->fid, in->path, in->where, &obj, &kind));
    if (kind != H5I_GROUP) {
        rc = st_error(err, STRATA_EINVAL,
                      "%s is a dataset, not a group: ingest reads a group holding one 1-D dataset "
                      "per column (use 'strata nd import' for an N-d array)",
                      in->where);
        goto done;
    }
    in->gid = obj;
    obj = H5I_INVALID_HID;
done:
    st_h5_close(obj);
    return rc;
}

/* The memory type and string kind of column C (dtype known). */
static int h5col_types(h5in *in, h5col *c, hid_t ft)
{
    if (c->dtype != STRATA_STR) {
        c->mtype = st_h5_mem_type(c->dtype);
    } else if (H5Tis_variable_str(ft) > 0) {
        c->vlen = 1;
        c->mtype = st_h5_vstr_type(H5Tget_cset(ft));
    } else {
        c->fsize = H5Tget_size(ft);
        c->mtype = H5Tcopy(ft);
        if (c->mtype >= 0 && H5Tset_strpad(c->mtype, H5T_STR_NULLPAD) < 0) {
            st_h5_close(c->mtype);
            c->mtype = H5I_INVALID_HID;
        }
    }
    if (c->mtype < 0)
        return st_h5_fail(in->err, STRATA_EIO, "%s: cannot make its memory type", c->where);
    /* an int64 column with strata_dtype = "ts" holds timestamps (as strata exports them) */
    char tag[16];
    if (c->dtype == STRATA_I64 && st_h5_attr_text(c->did, "strata_dtype", tag, sizeof tag) &&
        strcmp(tag, "ts") == 0)
        c->dtype = STRATA_TS;
    return STRATA_OK;
}

/* Open dataset NAME of the group as column C: 1-D, of a type we read, as long as the others. */
static int h5col_open(h5in *in, h5col *c, const char *name, int first)
{
    st_err *err = in->err;
    hid_t sp = H5I_INVALID_HID, ft = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    int rc, compressed;
    if ((rc = st_name_check(err, "column", name)) < 0) {
        char why[ST_ERRMSG_MAX];
        st_err_copy(err, why, sizeof why);
        rc = st_error(err, rc, "%s: %s", c->where, why);
        goto done;
    }
    if ((c->did = H5Dopen2(in->gid, name, H5P_DEFAULT)) < 0) {
        rc = st_h5_fail(err, STRATA_EIO, "%s: cannot open the dataset", c->where);
        goto done;
    }
    sp = H5Dget_space(c->did);
    ft = H5Dget_type(c->did);
    dcpl = H5Dget_create_plist(c->did);
    if (sp < 0 || ft < 0 || dcpl < 0) {
        rc = st_h5_fail(err, STRATA_EIO, "%s: cannot read its description", c->where);
        goto done;
    }
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd != 1) {
        rc = st_error(err, STRATA_EINVAL,
                      "%s: a %d-D dataset; a group import reads 1-D datasets, one per column (use "
                      "'strata nd import' for an N-d array)",
                      c->where, nd);
        goto done;
    }
    hsize_t len;
    H5Sget_simple_extent_dims(sp, &len, NULL);
    c->vcol = c->valid_of = -1;
    const char *why = st_h5_dtype_of(ft, &c->dtype);
    if (why != NULL) {
        rc = st_error(err, STRATA_EUNSUPPORTED, "%s: %s is not supported", c->where, why);
        goto done;
    }
    ST_TRY(rc = st_h5_check_filters(err, dcpl, c->where, &compressed));
    if (first) in->nrows = len;
    if (len != in->nrows) {
        rc = st_error(err, STRATA_EINVAL,
                      "%s holds %llu values but %s holds %llu; columns must be equally long",
                      c->where, (unsigned long long)len, in->cols[0].where,
                      (unsigned long long)in->nrows);
        goto done;
    }
    rc = h5col_types(in, c, ft);
done:
    st_h5_close(dcpl);
    st_h5_close(ft);
    st_h5_close(sp);
    return rc;
}

/* A bool dataset NAME.valid beside a dataset NAME is NAME's validity (as NPY's NAME.valid.npy). */
static void pair_validity(h5in *in)
{
    for (int v = 0; v < in->n; v++) {
        h5col *c = &in->cols[v];
        size_t len = strlen(c->name);
        if (c->dtype != STRATA_BOOL || len <= 6 || strcmp(c->name + len - 6, ".valid") != 0)
            continue;
        for (int i = 0; i < in->n; i++)
            if (i != v && strlen(in->cols[i].name) == len - 6 &&
                memcmp(in->cols[i].name, c->name, len - 6) == 0 && in->cols[i].valid_of < 0) {
                in->cols[i].vcol = v;
                c->valid_of = i;
            }
    }
}

/* Find the group's columns: its links in name order; each must be a 1-D dataset. */
static int h5in_scan(h5in *in)
{
    st_err *err = in->err;
    H5G_info_t gi;
    int rc = STRATA_OK;
    if (H5Gget_info(in->gid, &gi) < 0)
        return st_h5_fail(err, STRATA_EIO, "%s: cannot list the group", in->where);
    if (gi.nlinks == 0)
        return st_error(err, STRATA_EINVAL, "%s: the group holds no datasets", in->where);
    if (gi.nlinks > STRATA_MAX_COLUMNS)
        return st_error(err, STRATA_EINVAL, "%s: %llu members, more than %d columns", in->where,
                        (unsigned long long)gi.nlinks, STRATA_MAX_COLUMNS);
    in->cols = calloc(gi.nlinks, sizeof *in->cols);
    if (in->cols == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
    for (hsize_t i = 0; i < gi.nlinks; i++) {
        h5col *c = &in->cols[i];
        c->did = c->mtype = H5I_INVALID_HID;
        in->n++;
        char name[STRATA_NAME_MAX + 2];
        ssize_t k = H5Lget_name_by_idx(in->gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                                       sizeof name, H5P_DEFAULT);
        if (k < 0 || (size_t)k >= sizeof name)
            return st_h5_fail(err, STRATA_EINVAL, "%s: member %llu has no usable name", in->where,
                              (unsigned long long)i);
        c->name = strdup(name);
        st_h5_where(c->where, sizeof c->where, in->file, in->path, name, NULL, 0);
        if (c->name == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
        hid_t obj = H5Oopen(in->gid, name, H5P_DEFAULT);
        H5I_type_t kind = obj >= 0 ? H5Iget_type(obj) : H5I_BADID;
        st_h5_close(obj);
        if (obj < 0)
            return st_h5_fail(err, STRATA_EINVAL, "%s: a dangling or external link", c->where);
        if (kind == H5I_GROUP)
            return st_error(err, STRATA_EUNSUPPORTED,
                            "%s: a nested group is not supported as a column (each column must "
                            "be a 1-D dataset)",
                            c->where);
        if (kind != H5I_DATASET)
            return st_error(err, STRATA_EUNSUPPORTED,
                            "%s: a named datatype is not supported as a column", c->where);
        ST_TRY(rc = h5col_open(in, c, name, i == 0));
    }
    pair_validity(in);
done:
    return rc;
}

/* Grow B's value buffer to N bytes and, when NB is not 0, its string bytes to NB. */
static int colbuf_room(st_err *err, st_colbuf *b, uint64_t n, uint64_t nb)
{
    if (n > b->cap) {
        char *v = realloc(b->v, n);
        if (v == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
        b->v = v;
        b->cap = n;
    }
    if (nb > b->bcap) {
        char *p = realloc(b->bytes, nb);
        if (p == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
        b->bytes = p;
        b->bcap = nb;
    }
    return STRATA_OK;
}

/* Read rows [R0, R0+K) of C in its memory type into BUF. */
static int h5col_read(h5in *in, h5col *c, uint64_t r0, uint64_t k, void *buf)
{
    hsize_t off = r0, cnt = k;
    hid_t fs = H5Dget_space(c->did), ms = H5Screate_simple(1, &cnt, NULL);
    int rc = STRATA_OK;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL) < 0 ||
        H5Dread(c->did, c->mtype, ms, fs, H5P_DEFAULT, buf) < 0)
        rc = st_h5_fail(in->err, STRATA_EIO, "%s: cannot read rows %llu to %llu", c->where,
                        (unsigned long long)r0, (unsigned long long)(r0 + k));
    st_h5_close(ms);
    st_h5_close(fs);
    return rc;
}

/* Pack K strings (PTRS: NUL-terminated, NULL for empty; or FIXED: K values of FSIZE bytes,
 * NUL-padded) into B as offsets and bytes; invalid UTF-8 fails naming the row. */
static int pack_strings(h5in *in, h5col *c, st_colbuf *b, char **ptrs, const char *fixed,
                        uint64_t r0, uint64_t k)
{
    uint64_t total = 0;
    for (uint64_t i = 0; i < k; i++)
        total += ptrs ? (ptrs[i] ? strlen(ptrs[i]) : 0) : strnlen(fixed + i * c->fsize, c->fsize);
    int rc = colbuf_room(in->err, b, (k + 1) * sizeof(int64_t), total + 1);
    if (rc < 0) return rc;
    int64_t *off = (int64_t *)(void *)b->v;
    uint64_t at = 0;
    off[0] = 0;
    for (uint64_t i = 0; i < k; i++) {
        const char *s = ptrs ? (ptrs[i] ? ptrs[i] : "") : fixed + i * c->fsize;
        size_t n = ptrs ? strlen(s) : strnlen(s, c->fsize);
        if (st_utf8_valid_prefix(s, n) != n)
            return st_error(in->err, STRATA_EINVAL, "%s: row %llu is not valid UTF-8", c->where,
                            (unsigned long long)(r0 + i));
        memcpy(b->bytes + at, s, n);
        at += n;
        off[i + 1] = (int64_t)at;
    }
    b->n = k;
    b->nb = at;
    return STRATA_OK;
}

/* Read rows [R0, R0+K) of string column C into B. */
static int h5col_read_str(h5in *in, h5col *c, st_colbuf *b, uint64_t r0, uint64_t k)
{
    size_t each = c->vlen ? sizeof(char *) : c->fsize;
    char *raw = calloc(k ? k : 1, each);
    if (raw == NULL) return st_error(in->err, STRATA_ENOMEM, "out of memory");
    hsize_t off = r0, cnt = k;
    hid_t fs = H5Dget_space(c->did), ms = H5Screate_simple(1, &cnt, NULL);
    int rc = STRATA_OK, got = 0;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL) < 0 ||
        H5Dread(c->did, c->mtype, ms, fs, H5P_DEFAULT, raw) < 0) {
        rc = st_h5_fail(in->err, STRATA_EIO, "%s: cannot read rows %llu to %llu", c->where,
                        (unsigned long long)r0, (unsigned long long)(r0 + k));
        goto done;
    }
    got = 1;
    rc = pack_strings(in, c, b, c->vlen ? (char **)(void *)raw : NULL, c->vlen ? NULL : raw, r0, k);
done:
    if (got && c->vlen) st_h5_reclaim(c->mtype, ms, raw);
    st_h5_close(ms);
    st_h5_close(fs);
    free(raw);
    return rc;
}

/* Read rows [R0, R0+K) of the bool column V (a validity) into BITS (room for K bits), using BYTES
 * (room for K) to read into. */
static int h5col_read_valid(h5in *in, h5col *v, uint64_t r0, uint64_t k, uint8_t *bytes,
                            uint8_t *bits)
{
    int rc = h5col_read(in, v, r0, k, bytes);
    for (uint64_t i = 0; rc == STRATA_OK && i < k; i++) st_bit_set(bits, i, bytes[i] != 0);
    return rc;
}

/* Read every row of the group, a slab of rows at a time (ST_H5_SLAB, or about 64 MiB of wide
 * rows), into the ingest G (ORDER: the schema position of each column, -1 for a validity). */
static int h5in_copy(h5in *in, st_ingest *g, const int *order)
{
    st_colbuf *bufs = calloc((size_t)in->n, sizeof *bufs);
    uint8_t *vbytes = malloc(ST_H5_SLAB), **vbits = calloc((size_t)in->n, sizeof *vbits);
    int rc = STRATA_OK;
    if (bufs == NULL || vbytes == NULL || vbits == NULL) {
        rc = st_error(in->err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    /* rows per slab: ST_H5_SLAB, fewer when rows are wide (long fixed-length strings) */
    uint64_t row_bytes = 0, slab;
    for (int i = 0; i < in->n; i++) {
        const h5col *c = &in->cols[i];
        if (order[i] < 0) continue;
        bufs[order[i]].dtype = c->dtype;
        if (c->vcol >= 0 && (vbits[i] = malloc(st_bits_bytes(ST_H5_SLAB))) == NULL) {
            rc = st_error(in->err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        row_bytes += c->dtype != STRATA_STR ? strata_dtype_size(c->dtype)
                     : c->vlen              ? 2 * sizeof(char *)
                                            : 2 * c->fsize + sizeof(int64_t);
    }
    slab = ST_H5_SLAB_BYTES * 8 / (row_bytes ? row_bytes : 1);
    slab = slab < 1 ? 1 : slab > ST_H5_SLAB ? ST_H5_SLAB : slab;
    for (uint64_t r0 = 0; r0 < in->nrows; r0 += slab) {
        uint64_t k = in->nrows - r0 < slab ? in->nrows - r0 : slab;
        for (int i = 0; i < in->n; i++) {
            h5col *c = &in->cols[i];
            if (order[i] < 0) continue;
            st_colbuf *b = &bufs[order[i]];
            if (c->vcol >= 0) {
                ST_TRY(rc = h5col_read_valid(in, &in->cols[c->vcol], r0, k, vbytes, vbits[i]));
                b->valid = vbits[i];
            }
            if (c->dtype == STRATA_STR) {
                ST_TRY(rc = h5col_read_str(in, c, b, r0, k));
            } else {
                ST_TRY(rc = colbuf_room(in->err, b, k * strata_dtype_size(c->dtype), 0));
                ST_TRY(rc = h5col_read(in, c, r0, k, b->v));
                b->n = k;
            }
        }
        uint64_t done_bytes = in->file_bytes * (r0 + k) / in->nrows;
        ST_TRY(rc = st_ingest_feed(g, bufs, k, done_bytes));
    }
done:
    for (int i = 0; bufs != NULL && i < in->n; i++) {
        bufs[i].valid = NULL;
        st_colbuf_free(&bufs[i]);
        free(vbits != NULL ? vbits[i] : NULL);
    }
    free(bufs);
    free(vbits);
    free(vbytes);
    return rc;
}

int strata_ingest_hdf5(strata_pool *pool, const char *region, const char *name, const char *file,
                       const char *h5path, const strata_ingest_opts *opts,
                       strata_ingest_stats *stats)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    if (file == NULL) return st_error(err, STRATA_EINVAL, "no HDF5 file to ingest");
    int rc = st_h5_load(err);
    if (rc < 0) return rc;
    st_ingest *g = NULL;
    h5in in = {.err = err, .file = file, .path = h5path ? h5path : "/"};
    in.fid = in.gid = H5I_INVALID_HID;
    strata_column *cols = NULL;
    int *order = NULL;
    st_h5guard gd;
    rc = st_ingest_begin(pool, region, name, opts, stats, &g);
    if (rc < 0) return rc;
    st_h5_enter(&gd);
    ST_TRY(rc = h5in_open(&in));
    ST_TRY(rc = h5in_scan(&in));
    size_t nmem = in.n > 0 ? (size_t)in.n : 1; /* h5in_scan() found one or more */
    cols = calloc(nmem, sizeof *cols);
    order = calloc(nmem, sizeof *order);
    if (cols == NULL || order == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    int ncols = 0;
    for (int i = 0; i < in.n; i++) {
        if (in.cols[i].valid_of >= 0) continue;
        cols[ncols].name = in.cols[i].name;
        cols[ncols++].dtype = in.cols[i].dtype;
    }
    ST_TRY(rc = st_ingest_bind(g, cols, ncols, in.where, order));
    /* ORDER by the group's members: a validity takes no place in the schema */
    for (int i = in.n - 1, k = ncols - 1; i >= 0; i--)
        order[i] = in.cols[i].valid_of >= 0 ? -1 : order[k--];
    ST_TRY(rc = h5in_copy(&in, g, order));
    st_ingest_files(g, 1);
done:
    h5in_close(&in);
    st_h5_leave(&gd);
    free(cols);
    free(order);
    return st_ingest_end(g, rc);
}

static hid_t h5_create_1d(st_h5out *o, const char *name, hid_t ft, uint64_t n, uint64_t chunk,
                          int gzip, const char *where)
{
    hsize_t dims = n, maxd = H5S_UNLIMITED, ch = chunk;
    if (ch > n) ch = n;
    if (ch == 0) ch = 1;
    hid_t sp = H5Screate_simple(1, &dims, &maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t did = H5I_INVALID_HID;
    if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &ch) >= 0 &&
        (gzip == 0 || H5Pset_deflate(dcpl, (unsigned)gzip) >= 0))
        did = H5Dcreate2(o->gid, name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (did < 0) st_h5_fail(o->err, STRATA_EIO, "%s: cannot create the dataset", where);
    st_h5_close(dcpl);
    st_h5_close(sp);
    return did;
}

/* Write the K values at BUF (memory type MT) to rows [R0, R0+K) of DID. */
static int h5_write_rows(st_err *err, hid_t did, hid_t mt, uint64_t r0, uint64_t k, const void *buf,
                         const char *where)
{
    hsize_t off = r0, cnt = k;
    hid_t fs = H5Dget_space(did), ms = H5Screate_simple(1, &cnt, NULL);
    int rc = STRATA_OK;
    if (fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL) < 0 ||
        H5Dwrite(did, mt, ms, fs, H5P_DEFAULT, buf) < 0)
        rc = st_h5_fail(err, STRATA_EIO, "%s: cannot write rows %llu to %llu", where,
                        (unsigned long long)r0, (unsigned long long)(r0 + k));
    st_h5_close(ms);
    st_h5_close(fs);
    return rc;
}

/* Write K strings (OFF[0..K], BYTES) as rows [R0, R0+K): each is copied NUL-terminated; a
 * string holding a NUL byte cannot be an HDF5 string and fails. */
static int h5_write_strs(st_err *err, hid_t did, hid_t mt, uint64_t r0, uint64_t k,
                         const int64_t *off, const char *bytes, const char *where)
{
    uint64_t nb = (uint64_t)(off[k] - off[0]);
    char *copy = malloc(nb + k + 1);
    char **ptrs = calloc(k ? k : 1, sizeof *ptrs);
    int rc = STRATA_OK;
    if (copy == NULL || ptrs == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    char *at = copy;
    for (uint64_t i = 0; i < k; i++) {
        size_t n = (size_t)(off[i + 1] - off[i]);
        const char *s = bytes + (off[i] - off[0]);
        if (memchr(s, '\0', n) != NULL) {
            rc = st_error(err, STRATA_EINVAL,
                          "%s: row %llu holds a NUL byte, which an HDF5 string cannot hold", where,
                          (unsigned long long)(r0 + i));
            goto done;
        }
        memcpy(at, s, n);
        at[n] = '\0';
        ptrs[i] = at;
        at += n + 1;
    }
    rc = h5_write_rows(err, did, mt, r0, k, ptrs, where);
done:
    free(copy);
    free(ptrs);
    return rc;
}

/* ---- export: a snapshot into a group ----------------------------------------------------------
 */

/* Write batch B's rows of column COL (of dtype T) of S, starting at row R0 of DID, in slabs. */
static int export_batch(st_err *err, strata_snapshot *s, uint64_t b, int col, strata_dtype t,
                        hid_t did, hid_t mt, uint64_t r0, const char *where)
{
    strata_batch_info bi;
    int rc = strata_snapshot_batch(s, b, &bi);
    if (rc < 0 || bi.nrows == 0) return rc;
    const void *data = NULL;
    const int64_t *off = NULL;
    const char *bytes = NULL;
    if (t == STRATA_STR)
        rc = strata_snapshot_map_str(s, b, col, &off, &bytes);
    else
        rc = strata_snapshot_map(s, b, col, &data);
    if (rc < 0) return rc;
    size_t esz = t == STRATA_STR ? 0 : strata_dtype_size(t);
    for (uint64_t i = 0; i < bi.nrows && rc == STRATA_OK; i += ST_H5_SLAB) {
        uint64_t k = bi.nrows - i < ST_H5_SLAB ? bi.nrows - i : ST_H5_SLAB;
        if (t == STRATA_STR)
            rc = h5_write_strs(err, did, mt, r0 + i, k, off + i, bytes + (off[i] - off[0]), where);
        else
            rc = h5_write_rows(err, did, mt, r0 + i, k, (const char *)data + i * esz, where);
    }
    return rc;
}

/* Whether column COL of S holds a null in one of its NBATCHES batches: 1, 0, or an error. */
static int has_nulls(strata_snapshot *s, int col, uint64_t nbatches)
{
    for (uint64_t b = 0; b < nbatches; b++) {
        strata_batch_info bi;
        const uint8_t *v = NULL;
        int rc = strata_snapshot_batch(s, b, &bi);
        if (rc == STRATA_OK && bi.nrows > 0) rc = strata_snapshot_map_valid(s, b, col, &v);
        if (rc < 0) return rc;
        if (v != NULL && st_bits_nulls(v, 0, bi.nrows) > 0) return 1;
    }
    return 0;
}

/* STRATA_EINVAL when one of the NCOLS columns COLS of S to export is named X.valid and column X,
 * also exported, has nulls: its validity would go there. */
static int validity_clash(st_err *err, strata_snapshot *s, const strata_dataset_desc *d,
                          const int *cols, int ncols, const char *file, const char *gpath)
{
    for (int i = 0; i < ncols; i++)
        for (int k = 0; k < ncols; k++) {
            const char *a = d->columns[cols ? cols[i] : i].name;
            const char *v = d->columns[cols ? cols[k] : k].name;
            size_t la = strlen(a);
            if (strncmp(v, a, la) != 0 || strcmp(v + la, ".valid") != 0) continue;
            int rc = has_nulls(s, cols ? cols[i] : i, d->nbatches);
            if (rc < 0) return rc;
            char where[ST_H5_WHERE];
            st_h5_where(where, sizeof where, file, gpath, v, NULL, 0);
            if (rc > 0)
                return st_error(err, STRATA_EINVAL,
                                "%s: column '%s' has nulls, whose validity goes here, but a column "
                                "of that name is exported too; leave one of them out (--columns)",
                                where, a);
        }
    return STRATA_OK;
}

/* Write the validity of column COL of S (which has nulls) as bool dataset NAME.valid of O's group,
 * true where a row has a value. */
static int export_validity(st_h5out *o, strata_snapshot *s, int col, const char *name,
                           uint64_t nrows, uint64_t nbatches, const strata_hdf5_opts *opts,
                           const char *gpath)
{
    char vname[STRATA_NAME_MAX + 8], where[ST_H5_WHERE];
    snprintf(vname, sizeof vname, "%s.valid", name);
    st_h5_where(where, sizeof where, o->file, gpath, vname, NULL, 0);
    hid_t mt = st_h5_mem_type(STRATA_BOOL), did = H5I_INVALID_HID;
    uint8_t *buf = malloc(ST_H5_SLAB);
    int rc = STRATA_OK;
    if (mt < 0 || buf == NULL) {
        rc = mt < 0 ? st_h5_fail(o->err, STRATA_EIO, "%s: cannot make its type", where)
                    : st_error(o->err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    uint64_t chunk = opts->chunk_rows ? opts->chunk_rows : ST_H5_SLAB;
    did = h5_create_1d(o, vname, mt, nrows, chunk, opts->gzip_level, where);
    if (did < 0) {
        rc = STRATA_EIO;
        goto done;
    }
    for (uint64_t b = 0, r0 = 0; b < nbatches; b++) {
        strata_batch_info bi;
        const uint8_t *v;
        ST_TRY(rc = strata_snapshot_batch(s, b, &bi));
        ST_TRY(rc = bi.nrows ? strata_snapshot_map_valid(s, b, col, &v) : STRATA_OK);
        for (uint64_t i = 0; i < bi.nrows && rc == STRATA_OK; i += ST_H5_SLAB) {
            uint64_t k = bi.nrows - i < ST_H5_SLAB ? bi.nrows - i : ST_H5_SLAB;
            for (uint64_t x = 0; x < k; x++) buf[x] = (uint8_t)st_bit(v, i + x);
            rc = h5_write_rows(o->err, did, mt, r0 + i, k, buf, where);
        }
        r0 += bi.nrows;
    }
done:
    rc = st_h5_close_written(o->err, &did, rc, where);
    st_h5_close(mt);
    free(buf);
    return rc;
}

/* Write column COL of S as dataset NAME of O's group (and its validity when it has nulls). */
static int export_column(st_h5out *o, strata_snapshot *s, int col, const strata_column *c,
                         const strata_hdf5_opts *opts, const char *gpath)
{
    strata_dataset_desc d;
    char where[ST_H5_WHERE];
    st_h5_where(where, sizeof where, o->file, gpath, c->name, NULL, 0);
    hid_t mt = c->dtype == STRATA_STR ? st_h5_vstr_type(H5T_CSET_UTF8) : st_h5_mem_type(c->dtype);
    hid_t did = H5I_INVALID_HID;
    int rc = strata_snapshot_info(s, &d);
    if (rc < 0) goto done;
    if (mt < 0) {
        rc = st_h5_fail(o->err, STRATA_EIO, "%s: cannot make its type", where);
        goto done;
    }
    uint64_t chunk = opts->chunk_rows ? opts->chunk_rows : ST_H5_SLAB;
    did = h5_create_1d(o, c->name, mt, d.nrows, chunk, opts->gzip_level, where);
    if (did < 0) {
        rc = STRATA_EIO;
        goto done;
    }
    uint64_t r0 = 0;
    for (uint64_t b = 0; b < d.nbatches; b++) {
        strata_batch_info bi;
        ST_TRY(rc = strata_snapshot_batch(s, b, &bi));
        ST_TRY(rc = export_batch(o->err, s, b, col, c->dtype, did, mt, r0, where));
        r0 += bi.nrows;
    }
    if (c->dtype == STRATA_TS) {
        ST_TRY(rc = st_h5_attr_put(o->err, did, "strata_dtype", "ts", 0, where));
        ST_TRY(rc = st_h5_attr_put(o->err, did, "units", ST_H5_TS_UNITS, 0, where));
    }
    ST_TRY(rc = has_nulls(s, col, d.nbatches));
    if (rc > 0) rc = export_validity(o, s, col, c->name, d.nrows, d.nbatches, opts, gpath);
done:
    rc = st_h5_close_written(o->err, &did, rc, where);
    st_h5_close(mt);
    return rc;
}

/* The options of an export with their defaults filled in (or STRATA_EINVAL). */
int strata_export_hdf5(strata_snapshot *s, const int *cols, int ncols, const char *file,
                       const char *h5path, const strata_hdf5_opts *opts)
{
    if (s == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(st_snapshot_pool(s));
    strata_dataset_desc d;
    strata_hdf5_opts o;
    st_h5out out = {.err = err, .file = file, .fid = H5I_INVALID_HID, .gid = H5I_INVALID_HID};
    st_h5guard gd;
    int rc = strata_snapshot_info(s, &d);
    if (rc < 0) return rc;
    if (file == NULL) return st_error(err, STRATA_EINVAL, "no HDF5 file to write");
    if ((rc = st_h5_opts(err, opts, &o)) < 0) return rc;
    if (o.gzip_level < 0) o.gzip_level = 0;
    if (cols == NULL) ncols = d.ncols;
    for (int i = 0; i < ncols; i++)
        if (cols != NULL && (cols[i] < 0 || cols[i] >= d.ncols))
            return st_error(err, STRATA_ERANGE, "'%s/%s' has no column %d", d.region, d.name,
                            cols[i]);
    const char *gpath = h5path ? h5path : "/";
    if ((rc = validity_clash(err, s, &d, cols, ncols, file, gpath)) < 0) return rc;
    st_h5_enter(&gd);
    ST_TRY(rc = st_h5out_create(&out, gpath));
    char where[ST_H5_WHERE], ds[2 * STRATA_NAME_MAX + 2];
    st_h5_where(where, sizeof where, file, gpath, NULL, NULL, 0);
    snprintf(ds, sizeof ds, "%s/%s", d.region, d.name);
    ST_TRY(rc = st_h5_attr_put(err, out.gid, "strata_dataset", ds, 0, where));
    ST_TRY(rc = st_h5_attr_put(err, out.gid, "strata_version", NULL, d.version, where));
    for (int i = 0; i < ncols; i++) {
        int col = cols ? cols[i] : i;
        st_pool_work(st_snapshot_pool(s), "columns", (uint64_t)i, (uint64_t)ncols, "export %s", ds);
        ST_TRY(rc = export_column(&out, s, col, &d.columns[col], &o, gpath));
    }
    st_pool_work(st_snapshot_pool(s), "columns", (uint64_t)ncols, (uint64_t)ncols, "export %s", ds);
done:
    rc = st_h5out_finish(&out, rc);
    st_h5_leave(&gd);
    return rc;
}
