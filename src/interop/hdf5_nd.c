/*
 * hdf5_nd.c -- N-d arrays in and out of HDF5: one (chunked) HDF5 dataset.
 *
 * Import reads the HDF5 dataset chunk by chunk (a contiguous one in slabs of at most
 * ST_H5_SLAB_BYTES) and writes each through the ndarray writer into a new array that is
 * published, whole, with its attributes, at the end (as an mdms save is). Export reads the array
 * a chunk (or slab) at a time through the public API into a new file (hdf5.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interop/hdf5_int.h"
#include "ndarray/ndarray.h"
#include "util/name.h"

/* ---- N-d arrays: boxes ------------------------------------------------------------------------
 */

/* A tiling of an N-d extent DIMS by boxes of BOX (chunks, or slabs of a contiguous array), in C
 * order: box i's first element comes after box i-1's last when only the first box dimension
 * that is not 1 is partial (the slabs of slab_shape()). */
typedef struct boxgrid {
    int n;
    uint64_t dims[STRATA_ND_MAXDIMS], box[STRATA_ND_MAXDIMS], grid[STRATA_ND_MAXDIMS];
    uint64_t total; /* boxes */
} boxgrid;

static void boxgrid_init(boxgrid *g, int n, const uint64_t *dims, const uint64_t *box)
{
    g->n = n;
    g->total = 1;
    for (int d = 0; d < n; d++) {
        g->dims[d] = dims[d];
        g->box[d] = box[d] ? box[d] : 1;
        g->grid[d] = (dims[d] + g->box[d] - 1) / g->box[d];
        g->total *= g->grid[d];
    }
}

/* Box IDX (the last dimension fastest): its first element LO and extent EXT; returns its
 * element count. */
static uint64_t boxgrid_at(const boxgrid *g, uint64_t idx, uint64_t *lo, uint64_t *ext)
{
    uint64_t elems = 1;
    for (int d = g->n - 1; d >= 0; d--) {
        uint64_t c = idx % g->grid[d];
        idx /= g->grid[d];
        lo[d] = c * g->box[d];
        ext[d] = g->dims[d] - lo[d] < g->box[d] ? g->dims[d] - lo[d] : g->box[d];
        elems *= ext[d];
    }
    return elems;
}

/* Slabs of a C-order extent of at most ST_H5_SLAB_BYTES (at least one element of the first
 * dimensions): the last dimensions whole, one partial, the rest 1. */
static void slab_shape(int n, const uint64_t *dims, size_t esz, uint64_t *box)
{
    uint64_t inner = esz;
    int d = n - 1;
    for (; d >= 0 && inner * (dims[d] ? dims[d] : 1) <= ST_H5_SLAB_BYTES; d--) {
        box[d] = dims[d] ? dims[d] : 1;
        inner *= box[d];
    }
    if (d >= 0) {
        box[d] = ST_H5_SLAB_BYTES / inner ? ST_H5_SLAB_BYTES / inner : 1;
        for (int k = d - 1; k >= 0; k--) box[k] = 1;
    }
}

/* Select box LO + EXT of dataset DID's space; *FS and *MS receive the file and memory spaces. */
static int h5_select_box(hid_t did, int n, const uint64_t *lo, const uint64_t *ext, hid_t *fs,
                         hid_t *ms)
{
    hsize_t off[STRATA_ND_MAXDIMS], cnt[STRATA_ND_MAXDIMS];
    for (int d = 0; d < n; d++) {
        off[d] = lo[d];
        cnt[d] = ext[d];
    }
    *fs = H5Dget_space(did);
    *ms = H5Screate_simple(n, cnt, NULL);
    if (*fs < 0 || *ms < 0) return -1;
    return H5Sselect_hyperslab(*fs, H5S_SELECT_SET, off, NULL, cnt, NULL) < 0 ? -1 : 0;
}

/* Read (WRITE 0) or write box LO + EXT of DID from or to BUF in memory type MT. */
static int h5_box_io(st_err *err, hid_t did, hid_t mt, int n, const uint64_t *lo,
                     const uint64_t *ext, void *buf, int write, const char *where)
{
    hid_t fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    int rc = STRATA_OK;
    if (h5_select_box(did, n, lo, ext, &fs, &ms) < 0 ||
        (write ? H5Dwrite(did, mt, ms, fs, H5P_DEFAULT, buf)
               : H5Dread(did, mt, ms, fs, H5P_DEFAULT, buf)) < 0) {
        /* before any other HDF5 call, which would clear the error stack */
        char at[24 * STRATA_ND_MAXDIMS] = "";
        for (int d = 0; d < n; d++)
            snprintf(at + strlen(at), sizeof at - strlen(at), "%s%llu", d ? "," : "",
                     (unsigned long long)lo[d]);
        rc = st_h5_fail(err, STRATA_EIO, "%s: cannot %s the block at [%s]", where,
                        write ? "write" : "read", at);
    }
    st_h5_close(ms);
    st_h5_close(fs);
    return rc;
}

/* ---- N-d import: an HDF5 dataset into a new array -------------------------------------------- */

/* An HDF5 dataset being imported, and what it becomes. */
typedef struct h5nd {
    st_err *err;
    char where[ST_H5_WHERE];
    hid_t fid, did, mtype;
    strata_dtype dtype;
    int n, chunked, unlimited, compressed, has_fill;
    uint64_t dims[STRATA_ND_MAXDIMS], chunk[STRATA_ND_MAXDIMS];
    unsigned char fill[8];
    int64_t zstd_attr; /* strata_zstd_level, as strata writes it; 0: none */
} h5nd;

static void h5nd_close(h5nd *h)
{
    st_h5_close(h->mtype);
    st_h5_close(h->did);
    st_h5_close(h->fid);
    h->mtype = h->did = h->fid = H5I_INVALID_HID;
}

/* Shape, chunks, filters and fill value of H's dataset (space SP, creation list DCPL). */
static int h5nd_describe(h5nd *h, hid_t sp, hid_t dcpl)
{
    hsize_t dims[H5S_MAX_RANK], maxd[H5S_MAX_RANK], ch[H5S_MAX_RANK];
    int n = H5Sget_simple_extent_ndims(sp);
    if (n < 1 || n > STRATA_ND_MAXDIMS)
        return st_error(h->err, STRATA_EUNSUPPORTED,
                        "%s: a dataset of %d dimensions is not supported (1 to %d)", h->where, n,
                        STRATA_ND_MAXDIMS);
    h->n = n;
    H5Sget_simple_extent_dims(sp, dims, maxd);
    h->chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
    if (h->chunked && H5Pget_chunk(dcpl, n, ch) != n)
        return st_h5_fail(h->err, STRATA_EIO, "%s: cannot read its chunk shape", h->where);
    for (int d = 0; d < n; d++) {
        h->dims[d] = dims[d];
        h->chunk[d] = h->chunked ? ch[d] : dims[d];
        if (d > 0 && maxd[d] == H5S_UNLIMITED && dims[d] == 0)
            return st_error(h->err, STRATA_EUNSUPPORTED,
                            "%s: dimension %d is empty; only the first may be", h->where, d);
    }
    h->unlimited = maxd[0] == H5S_UNLIMITED;
    int rc = st_h5_check_filters(h->err, dcpl, h->where, &h->compressed);
    if (rc < 0) return rc;
    H5D_fill_value_t fv;
    if (H5Pfill_value_defined(dcpl, &fv) >= 0 && fv == H5D_FILL_VALUE_USER_DEFINED &&
        H5Pget_fill_value(dcpl, h->mtype, h->fill) >= 0)
        h->has_fill = 1;
    H5Eclear2(H5E_DEFAULT);
    if (!st_h5_attr_int(h->did, "strata_zstd_level", &h->zstd_attr)) h->zstd_attr = 0;
    return STRATA_OK;
}

/* Open FILE's dataset PATH as H: a numeric or bool dataset of 1 to 8 dimensions. */
static int h5nd_open(h5nd *h, const char *file, const char *path)
{
    hid_t obj = H5I_INVALID_HID, sp = H5I_INVALID_HID, ft = H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID;
    H5I_type_t kind;
    int rc;
    st_h5_where(h->where, sizeof h->where, file, path, NULL, NULL, 0);
    ST_TRY(rc = st_h5_open_file(h->err, file, &h->fid));
    ST_TRY(rc = st_h5_open_object(h->err, h->fid, path, h->where, &obj, &kind));
    if (kind != H5I_DATASET) {
        rc = st_error(h->err, STRATA_EINVAL,
                      "%s is a group, not a dataset: 'nd import' reads one dataset (use 'strata "
                      "ingest --format hdf5' for a group of columns)",
                      h->where);
        goto done;
    }
    h->did = obj;
    obj = H5I_INVALID_HID;
    ft = H5Dget_type(h->did);
    sp = H5Dget_space(h->did);
    dcpl = H5Dget_create_plist(h->did);
    if (ft < 0 || sp < 0 || dcpl < 0) {
        rc = st_h5_fail(h->err, STRATA_EIO, "%s: cannot read its description", h->where);
        goto done;
    }
    const char *why = st_h5_dtype_of(ft, &h->dtype);
    if (why == NULL && h->dtype == STRATA_STR) why = "a string type (N-d arrays hold numbers)";
    if (why != NULL) {
        rc = st_error(h->err, STRATA_EUNSUPPORTED, "%s: %s is not supported", h->where, why);
        goto done;
    }
    if ((h->mtype = st_h5_mem_type(h->dtype)) < 0) {
        rc = st_h5_fail(h->err, STRATA_EIO, "%s: cannot make its memory type", h->where);
        goto done;
    }
    rc = h5nd_describe(h, sp, dcpl);
done:
    st_h5_close(dcpl);
    st_h5_close(sp);
    st_h5_close(ft);
    st_h5_close(obj);
    return rc;
}

/* The attributes of an imported dataset, as N-d array attributes (names and texts owned). */
typedef struct h5attrs {
    st_err *err;
    const char *where;
    int skip; /* leave out what is not carried, rather than fail */
    int rc;
    strata_attr *v;
    int n, cap;
} h5attrs;

static void h5attrs_free(h5attrs *l)
{
    for (int i = 0; i < l->n; i++) {
        free((char *)(uintptr_t)l->v[i].name);
        free((char *)(uintptr_t)l->v[i].s);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* The value of attribute H (type FT, one element) into A, or the feature it uses. */
static const char *h5attr_value(hid_t obj, const char *name, hid_t h, hid_t ft, strata_attr *a)
{
    H5T_class_t c = H5Tget_class(ft);
    if (c == H5T_STRING) {
        a->type = STRATA_ATTR_TEXT;
        a->s = st_h5_attr_strdup(obj, name); /* owned by the list from here */
        return a->s ? NULL : "an unreadable string";
    }
    if (c == H5T_INTEGER && H5Tget_size(ft) == 8 && H5Tget_sign(ft) == H5T_SGN_NONE) {
        uint64_t u;
        if (H5Aread(h, H5T_NATIVE_UINT64, &u) < 0) return "an unreadable integer";
        a->type = u > INT64_MAX ? STRATA_ATTR_FLOAT : STRATA_ATTR_INT; /* docs/formats.md */
        a->i = (int64_t)u;
        a->f = (double)u;
        return NULL;
    }
    if (c == H5T_INTEGER || (c == H5T_ENUM && st_h5_is_bool(ft))) {
        a->type = STRATA_ATTR_INT;
        return H5Aread(h, H5T_NATIVE_INT64, &a->i) < 0 ? "an unreadable integer" : NULL;
    }
    if (c == H5T_FLOAT) {
        a->type = STRATA_ATTR_FLOAT;
        return H5Aread(h, H5T_NATIVE_DOUBLE, &a->f) < 0 ? "an unreadable float" : NULL;
    }
    strata_dtype unused;
    const char *why = st_h5_dtype_of(ft, &unused);
    return why ? why : "a type that is not carried";
}

/* H5Aiterate2 callback: attribute NAME of LOC into the list CTX (Strata's own strata_*
 * attributes are metadata, read elsewhere). Returns -1 to stop on a failure (l->rc). */
static herr_t h5attr_visit(hid_t loc, const char *name, const H5A_info_t *info, void *ctx)
{
    h5attrs *l = ctx;
    (void)info;
    if (strncmp(name, "strata_", 7) == 0) return 0;
    hid_t h = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = h >= 0 ? H5Aget_type(h) : H5I_INVALID_HID;
    hid_t sp = h >= 0 ? H5Aget_space(h) : H5I_INVALID_HID;
    strata_attr a = {.name = name};
    char why[64] = "";
    const char *bad = NULL;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (ft < 0 || np < 0) {
        bad = "an unreadable attribute";
    } else if (np != 1) {
        snprintf(why, sizeof why, "an array of %lld values", (long long)np);
        bad = why;
    } else {
        bad = h5attr_value(loc, name, h, ft, &a);
    }
    st_h5_close(sp);
    st_h5_close(ft);
    st_h5_close(h);
    H5Eclear2(H5E_DEFAULT);
    char msg[ST_ERRMSG_MAX];
    if (bad == NULL && st_nd_attr_check(NULL, &a, l->where) < 0)
        bad = "a name or text Strata refuses";
    if (bad != NULL) {
        free((char *)(uintptr_t)a.s);
        if (l->skip) return 0;
        snprintf(msg, sizeof msg, "%s", bad);
        l->rc = st_error(l->err, STRATA_EUNSUPPORTED,
                         "%s: attribute '%s': %s is not supported (N-d array attributes are one "
                         "int, float or UTF-8 string; --skip-attrs leaves such attributes out)",
                         l->where, name, msg);
        return -1;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        strata_attr *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (v == NULL) {
            free((char *)(uintptr_t)a.s);
            l->rc = st_error(l->err, STRATA_ENOMEM, "out of memory");
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    a.name = strdup(name);
    l->v[l->n++] = a;
    if (a.name == NULL || (a.type == STRATA_ATTR_TEXT && a.s == NULL)) {
        l->rc = st_error(l->err, STRATA_ENOMEM, "out of memory");
        return -1;
    }
    return 0;
}

/* Read the attributes of H's dataset into L. */
static int h5nd_attrs(h5nd *h, h5attrs *l)
{
    hsize_t idx = 0;
    l->err = h->err;
    l->where = h->where;
    if (H5Aiterate2(h->did, H5_INDEX_NAME, H5_ITER_INC, &idx, h5attr_visit, l) < 0 &&
        l->rc == STRATA_OK)
        l->rc = st_h5_fail(h->err, STRATA_EIO, "%s: cannot list its attributes", h->where);
    return l->rc;
}

/* Copy H chunk by chunk into the chunk files of REC in HOME; *CHUNKS receives their records. */
static int import_chunks(h5nd *h, st_ndctx *x, const st_cat_nd *rec, const char *home, int level,
                         st_cat_chunk **chunks, int *nchunks)
{
    boxgrid g;
    boxgrid_init(&g, rec->ndims, rec->dims, rec->chunk);
    size_t esz = strata_dtype_size(h->dtype);
    uint64_t elems = 1, lo[STRATA_ND_MAXDIMS], ext[STRATA_ND_MAXDIMS];
    for (int d = 0; d < rec->ndims; d++) elems *= rec->chunk[d];
    char tok[ST_TOKEN_LEN + 1];
    st_random_token(tok);
    void *buf = st_alloc_big(elems * esz + 1);
    *chunks = calloc(g.total + 1, sizeof **chunks);
    int rc = STRATA_OK;
    if (buf == NULL || *chunks == NULL || g.total > INT32_MAX) {
        rc = st_error(h->err, STRATA_ENOMEM, "%s: out of memory for %llu chunks", h->where,
                      (unsigned long long)g.total);
        goto done;
    }
    for (uint64_t i = 0; i < g.total; i++) {
        boxgrid_at(&g, i, lo, ext);
        ST_TRY(rc = h5_box_io(h->err, h->did, h->mtype, rec->ndims, lo, ext, buf, 0, h->where));
        ST_TRY(rc = st_nd_put_chunk(x, rec, home, (int64_t)i, tok, level, ext, buf, &(*chunks)[i]));
        *nchunks = (int)i + 1;
    }
done:
    st_free_big(buf);
    return rc;
}

/* Copy contiguous H in slabs into the one file of row-major REC in HOME; *CHUNK receives its
 * record. */
static int import_contiguous(h5nd *h, st_ndctx *x, const st_cat_nd *rec, const char *home,
                             st_cat_chunk *chunk)
{
    size_t esz = strata_dtype_size(h->dtype);
    uint64_t box[STRATA_ND_MAXDIMS], lo[STRATA_ND_MAXDIMS], ext[STRATA_ND_MAXDIMS], hdr;
    slab_shape(rec->ndims, rec->dims, esz, box);
    boxgrid g;
    boxgrid_init(&g, rec->ndims, rec->dims, box);
    char tok[ST_TOKEN_LEN + 1], path[ST_PATH_MAX];
    st_random_token(tok);
    int fd = -1, rc;
    void *buf = NULL;
    ST_TRY(rc = st_nd_file_open(x, rec, home, tok, 1, path, &hdr));
    uint64_t elems = 1;
    for (int d = 0; d < rec->ndims; d++) elems *= box[d];
    buf = st_alloc_big(elems * esz + 1);
    if (buf == NULL || (fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
        rc = buf ? st_error_errno(h->err, errno, "cannot open '%s'", path)
                 : st_error(h->err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < g.total; i++) {
        uint64_t k = boxgrid_at(&g, i, lo, ext), lin = 0;
        for (int d = 0; d < rec->ndims; d++) lin = lin * rec->dims[d] + lo[d];
        ST_TRY(rc = h5_box_io(h->err, h->did, h->mtype, rec->ndims, lo, ext, buf, 0, h->where));
        ST_TRY(rc = st_pwrite_full(h->err, fd, buf, k * esz, hdr + lin * esz, path));
    }
    close(fd);
    fd = -1;
    rc = st_nd_file_seal(x, rec, home, path, chunk);
done:
    if (fd >= 0) close(fd);
    st_free_big(buf);
    return rc;
}

/* The options of the array an import of H creates. */
static strata_ndarray_opts import_opts(const h5nd *h, const strata_hdf5_opts *o)
{
    strata_ndarray_opts no = {0};
    no.layout = h->chunked ? STRATA_LAYOUT_CHUNKED : STRATA_LAYOUT_ROW;
    no.fill = h->has_fill ? h->fill : NULL;
    no.tier = o->tier;
    no.unlimited = h->unlimited;
    if (o->zstd_level > 0)
        no.zstd_level = o->zstd_level;
    else if (o->zstd_level == 0 && h->chunked)
        no.zstd_level = h->zstd_attr > 0 && h->zstd_attr <= 19 ? (int)h->zstd_attr
                        : h->compressed                        ? ST_ARCHIVE_ZSTD
                                                               : 0;
    return no;
}

/* Create REC from H and write its data into new files; publish it, with the attributes L, in
 * one transaction. */
static int import_publish(strata_pool *pool, h5nd *h, const char *region, const char *name,
                          const strata_hdf5_opts *o, const h5attrs *l)
{
    strata_ndarray_opts no = import_opts(h, o);
    st_cat_nd rec;
    st_ndctx x;
    st_ndctx_init(&x, pool);
    st_cat_chunk *chunks = NULL;
    int nchunks = 0, level = 0, prepared = 0;
    char home[ST_PATH_MAX];
    /* the pool's creation lock from the new directories to the publication: no gc takes them
     * for orphans meanwhile */
    int hold = st_pool_create_begin(pool);
    int rc = hold < 0 ? hold : STRATA_OK;
    ST_TRY(rc);
    ST_TRY(rc = st_nd_prepare(pool, region, name, h->dtype, h->n, h->dims,
                              h->chunked ? h->chunk : NULL, &no, &rec));
    prepared = 1;
    ST_TRY(rc = st_nd_begin_new(&x, &rec, home, &level));
    if (rec.layout == STRATA_LAYOUT_CHUNKED) {
        ST_TRY(rc = import_chunks(h, &x, &rec, home, level, &chunks, &nchunks));
    } else {
        chunks = calloc(1, sizeof *chunks);
        if (chunks == NULL) {
            rc = st_error(h->err, STRATA_ENOMEM, "out of memory");
            goto done;
        }
        ST_TRY(rc = import_contiguous(h, &x, &rec, home, chunks));
        nchunks = 1;
    }
    ST_TRY(rc = st_fsync_dir(h->err, home));
    rc = st_nd_commit_new(&x, &rec, chunks, nchunks, l->v, l->n, NULL);
done:
    if (rc < 0 && prepared) st_nd_discard_new(&x, &rec);
    st_pool_create_end(pool, hold);
    free(chunks);
    return rc;
}

int strata_ndarray_import_hdf5(strata_pool *pool, const char *region, const char *name,
                               const char *file, const char *h5path, const strata_hdf5_opts *opts)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    strata_hdf5_opts o;
    h5nd h = {.err = err, .fid = H5I_INVALID_HID, .did = H5I_INVALID_HID};
    h.mtype = H5I_INVALID_HID;
    h5attrs attrs = {.skip = opts != NULL && opts->skip_attrs};
    st_h5guard gd;
    int rc = st_h5_opts(err, opts, &o);
    if (rc < 0) return rc;
    if (file == NULL || h5path == NULL)
        return st_error(err, STRATA_EINVAL, "an N-d import needs an HDF5 file and dataset path");
    if (o.zstd_level < -1 || o.zstd_level > 19)
        return st_error(err, STRATA_EINVAL, "zstd level %d (0 to 19 allowed, -1: none)",
                        o.zstd_level);
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "N-d array", name)) < 0) return rc;
    st_h5_enter(&gd);
    ST_TRY(rc = h5nd_open(&h, file, h5path));
    ST_TRY(rc = h5nd_attrs(&h, &attrs));
    rc = strata_region_exists(pool, region);
    if (rc == STRATA_ENOTFOUND) rc = strata_region_create(pool, region);
    if (rc == STRATA_EEXIST) rc = STRATA_OK;
    ST_TRY(rc);
    rc = import_publish(pool, &h, region, name, &o, &attrs);
done:
    h5attrs_free(&attrs);
    h5nd_close(&h);
    st_h5_leave(&gd);
    return rc;
}

/* ---- N-d export: an array into an HDF5 dataset ----------------------------------------------- */

/* The creation list of the exported dataset: chunks (BOX), compression and fill value. */
static hid_t export_dcpl(st_err *err, const strata_ndarray_desc *d, const st_cat_nd *rec,
                         const uint64_t *box, int chunked, const strata_hdf5_opts *o, hid_t mt)
{
    hsize_t ch[STRATA_ND_MAXDIMS];
    for (int i = 0; i < d->ndims; i++) ch[i] = box[i];
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int ok = dcpl >= 0 && H5Pset_fill_value(dcpl, mt, rec->fill) >= 0;
    if (ok && chunked) ok = H5Pset_chunk(dcpl, d->ndims, ch) >= 0;
    if (ok && chunked && o->gzip_level > 0) {
        ok = H5Pset_deflate(dcpl, (unsigned)o->gzip_level) >= 0;
    } else if (ok && chunked && o->gzip_level == 0 && d->zstd_level > 0) {
        unsigned level = (unsigned)d->zstd_level;
        /* zstd through its HDF5 plugin when installed, else gzip at level 6 (docs/formats.md) */
        if (H5Zfilter_avail(ST_H5_ZSTD) > 0)
            ok = H5Pset_filter(dcpl, ST_H5_ZSTD, H5Z_FLAG_MANDATORY, 1, &level) >= 0;
        else
            ok = H5Pset_deflate(dcpl, 6) >= 0;
    }
    if (!ok) {
        st_h5_close(dcpl);
        st_h5_fail(err, STRATA_EIO, "cannot set up the HDF5 dataset of '%s/%s'", d->region,
                   d->name);
        return H5I_INVALID_HID;
    }
    H5Eclear2(H5E_DEFAULT);
    return dcpl;
}

/* Create the dataset LEAF in O's group for array D, chunked by BOX when CHUNKED. */
static hid_t export_create(st_h5out *o, const strata_ndarray_desc *d, const st_cat_nd *rec,
                           const uint64_t *box, int chunked, const strata_hdf5_opts *opts, hid_t mt,
                           const char *leaf, const char *where)
{
    hsize_t dims[STRATA_ND_MAXDIMS], maxd[STRATA_ND_MAXDIMS];
    for (int i = 0; i < d->ndims; i++) {
        dims[i] = d->dims[i];
        /* a chunk may exceed a fixed dimension in Strata; HDF5 wants room for it */
        maxd[i] = chunked && box[i] > d->dims[i] ? box[i] : d->dims[i];
    }
    if (d->unlimited) maxd[0] = H5S_UNLIMITED;
    hid_t dcpl = export_dcpl(o->err, d, rec, box, chunked, opts, mt);
    hid_t sp = H5Screate_simple(d->ndims, dims, maxd), did = H5I_INVALID_HID;
    if (dcpl >= 0 && sp >= 0)
        did = H5Dcreate2(o->gid, leaf, mt, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0 && did < 0)
        st_h5_fail(o->err, STRATA_EIO, "%s: cannot create the dataset", where);
    st_h5_close(sp);
    st_h5_close(dcpl);
    return did;
}

/* Copy A box by box (its chunks, or slabs) into DID. */
static int export_boxes(st_err *err, strata_ndarray *a, const strata_ndarray_desc *d,
                        const uint64_t *box, hid_t did, hid_t mt, const char *where)
{
    boxgrid g;
    boxgrid_init(&g, d->ndims, d->dims, box);
    uint64_t elems = 1, lo[STRATA_ND_MAXDIMS], ext[STRATA_ND_MAXDIMS];
    for (int i = 0; i < d->ndims; i++) elems *= box[i];
    void *buf = st_alloc_big(elems * strata_dtype_size(d->dtype) + 1);
    int rc = buf ? STRATA_OK : st_error(err, STRATA_ENOMEM, "out of memory");
    for (uint64_t i = 0; rc == STRATA_OK && i < g.total; i++) {
        boxgrid_at(&g, i, lo, ext);
        rc = strata_ndarray_read(a, lo, ext, buf);
        if (rc == STRATA_OK) rc = h5_box_io(err, did, mt, d->ndims, lo, ext, buf, 1, where);
    }
    st_free_big(buf);
    return rc;
}

typedef struct attr_out {
    st_err *err;
    hid_t did;
    const char *where;
} attr_out;

static int attr_out_one(void *ctx, const strata_attr *a)
{
    const attr_out *o = ctx;
    return st_h5_attr_write(o->err, o->did, a, o->where);
}

/* A's attributes as scalar HDF5 attributes of DID: int64, double or variable-length UTF-8. */
static int export_attrs(st_err *err, strata_ndarray *a, hid_t did, const char *where)
{
    attr_out o = {err, did, where};
    return strata_ndarray_attr_list(a, attr_out_one, &o);
}

/* Split "/a/b/leaf" into the group "/a/b" and the leaf. */
static int split_path(st_err *err, const char *path, char *group, size_t glen, const char **leaf)
{
    const char *slash = strrchr(path, '/');
    *leaf = slash ? slash + 1 : path;
    if (**leaf == '\0') return st_error(err, STRATA_EINVAL, "'%s' names no HDF5 dataset", path);
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0 || n >= glen) n = 0;
    snprintf(group, glen, "%.*s", (int)n, path);
    if (n == 0) snprintf(group, glen, "/");
    return STRATA_OK;
}

int strata_ndarray_export_hdf5(strata_ndarray *a, const char *file, const char *h5path,
                               const strata_hdf5_opts *opts)
{
    if (a == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(st_nd_pool(a));
    strata_ndarray_desc d;
    strata_hdf5_opts o;
    st_h5out out = {.err = err, .file = file, .fid = H5I_INVALID_HID, .gid = H5I_INVALID_HID};
    char group[ST_PATH_MAX], where[ST_H5_WHERE], an[2 * STRATA_NAME_MAX + 2];
    const char *leaf;
    hid_t mt = H5I_INVALID_HID, did = H5I_INVALID_HID;
    st_h5guard gd;
    int rc = strata_ndarray_info(a, &d);
    if (rc < 0) return rc;
    if ((rc = st_h5_opts(err, opts, &o)) < 0) return rc;
    if (file == NULL || h5path == NULL)
        return st_error(err, STRATA_EINVAL, "an N-d export needs an HDF5 file and dataset path");
    if ((rc = split_path(err, h5path, group, sizeof group, &leaf)) < 0) return rc;
    const st_cat_nd *rec = st_nd_rec(a);
    uint64_t box[STRATA_ND_MAXDIMS];
    int chunked = d.layout == STRATA_LAYOUT_CHUNKED;
    if (chunked)
        memcpy(box, d.chunk, sizeof box);
    else
        slab_shape(d.ndims, d.dims, strata_dtype_size(d.dtype), box);
    /* HDF5 needs chunks to compress or to grow */
    int h5chunked =
        chunked || d.unlimited || o.gzip_level > 0 || (o.gzip_level == 0 && d.zstd_level > 0);
    st_h5_where(where, sizeof where, file, h5path, NULL, NULL, 0);
    snprintf(an, sizeof an, "%s/%s", d.region, d.name);
    st_h5_enter(&gd);
    ST_TRY(rc = st_h5out_create(&out, group));
    if ((mt = st_h5_mem_type(d.dtype)) < 0) {
        rc = st_h5_fail(err, STRATA_EIO, "%s: cannot make its type", where);
        goto done;
    }
    did = export_create(&out, &d, rec, box, h5chunked, &o, mt, leaf, where);
    if (did < 0) {
        rc = STRATA_EIO;
        goto done;
    }
    ST_TRY(rc = export_boxes(err, a, &d, box, did, mt, where));
    ST_TRY(rc = st_h5_attr_put(err, did, "strata_array", an, 0, where));
    ST_TRY(rc = st_h5_attr_put(err, did, "strata_layout",
                               chunked                         ? "chunked"
                               : d.layout == STRATA_LAYOUT_COL ? "col"
                                                               : "row",
                               0, where));
    if (d.zstd_level > 0)
        ST_TRY(rc = st_h5_attr_put(err, did, "strata_zstd_level", NULL, d.zstd_level, where));
    ST_TRY(rc = export_attrs(err, a, did, where));
done:
    rc = st_h5_close_written(err, &did, rc, where);
    st_h5_close(mt);
    rc = st_h5out_finish(&out, rc);
    st_h5_leave(&gd);
    return rc;
}
