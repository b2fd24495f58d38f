/*
 * hdf5.c -- HDF5 files in and out: a dataset <-> a group of 1-D HDF5 datasets (one per column),
 * an N-d array <-> one chunked HDF5 dataset. docs/formats.md ("HDF5") is the mapping's manual.
 *
 * Ingest reads a group's columns in slabs of ST_H5_SLAB rows and feeds them to the ingest layer
 * (ingest/ingest.h), which batches and publishes them, or nothing. N-d import reads the HDF5
 * dataset chunk by chunk (a contiguous one in slabs of at most ST_H5_SLAB_BYTES) and writes each
 * through the ndarray writer into a new array that is published, whole, at the end (as an mdms
 * save is). Exports write a temporary file beside the target, renamed into place when complete.
 *
 * HDF5's error stack: each public call here turns off HDF5's automatic error printing for its
 * own thread's default stack while it runs (H5Eget_auto2 / H5Eset_auto2, restored at the end)
 * and turns the stack into the message of the failure (H5Ewalk2). Debian's HDF5 is built
 * thread-safe: error stacks and their printing settings are per thread and every HDF5 call
 * holds HDF5's global lock, so these functions may run on several threads at once (they
 * serialise inside HDF5). With an HDF5 built without thread safety, callers must not run them
 * (or any other HDF5 code of the process) on two threads at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ndarray/ndarray.h"
#include "store/store.h"
#include "util/dtype.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/parse.h"

#define ST_H5_SLAB       65536u            /* rows read or written per column per step */
#define ST_H5_SLAB_BYTES ((size_t)8 << 20) /* contiguous N-d data per step */
#define ST_H5_ZSTD       32015             /* the registered id of HDF5's zstd filter plugin */
#define ST_H5_TS_UNITS   "nanoseconds since 1970-01-01 00:00:00"
#define ST_H5_WHERE      (ST_PATH_MAX + 512)

/* ---- HDF5's error stack and printing ----------------------------------------------------- */

typedef struct h5guard {
    H5E_auto2_t fn;
    void *data;
} h5guard;

/* Silence HDF5's automatic printing on this thread's default stack; h5_leave() restores it. */
static void h5_enter(h5guard *g)
{
    g->fn = NULL;
    g->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &g->fn, &g->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Eclear2(H5E_DEFAULT);
}

static void h5_leave(const h5guard *g)
{
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, g->fn, g->data);
}

/* H5Ewalk2 callback: keep the description of the most specific entry (the first, walking
 * upward from where the error was detected). */
static herr_t h5_walk(unsigned n, const H5E_error2_t *e, void *ctx)
{
    char *buf = ctx;
    if (n == 0 && e->desc != NULL) snprintf(buf, 256, "%s", e->desc);
    return 0;
}

/* Record CODE with the message FMT..., followed by what HDF5's error stack says, if anything;
 * clears the stack. Returns CODE. */
static int h5_fail(st_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int h5_fail(st_err *err, int code, const char *fmt, ...)
{
    char msg[ST_ERRMSG_MAX], detail[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk, detail);
    H5Eclear2(H5E_DEFAULT);
    if (detail[0] != '\0') return st_error(err, code, "%s (hdf5: %s)", msg, detail);
    return st_error(err, code, "%s", msg);
}

/* Close whatever kind of HDF5 object ID is, if it is one. */
static void h5_close(hid_t id)
{
    if (id < 0) return;
    switch (H5Iget_type(id)) {
    case H5I_FILE:
        H5Fclose(id);
        break;
    case H5I_GROUP:
        H5Gclose(id);
        break;
    case H5I_DATASET:
        H5Dclose(id);
        break;
    case H5I_DATASPACE:
        H5Sclose(id);
        break;
    case H5I_DATATYPE:
        H5Tclose(id);
        break;
    case H5I_ATTR:
        H5Aclose(id);
        break;
    case H5I_GENPROP_LST:
        H5Pclose(id);
        break;
    default:
        break;
    }
}

/* Close the dataset *DID of an export, checking: HDF5 writes the chunks it caches when the
 * dataset is closed, so a failure may show only here. */
static int h5_close_written(st_err *err, hid_t *did, int rc, const char *where)
{
    if (*did < 0) return rc;
    herr_t r = H5Dclose(*did);
    *did = H5I_INVALID_HID;
    if (r < 0 && rc == STRATA_OK) return h5_fail(err, STRATA_EIO, "%s: cannot complete", where);
    return rc;
}

/* ---- types --------------------------------------------------------------------------------- */

/* h5py's bool: an enum over a signed 8-bit integer with FALSE = 0 and TRUE = 1. */
static hid_t h5_bool_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v = 0;
    if (t >= 0 && H5Tenum_insert(t, "FALSE", &v) >= 0) {
        v = 1;
        if (H5Tenum_insert(t, "TRUE", &v) >= 0) return t;
    }
    h5_close(t);
    return H5I_INVALID_HID;
}

static int h5_is_bool(hid_t t)
{
    hid_t super = H5Tget_super(t);
    int ok = super >= 0 && H5Tget_size(super) == 1 && H5Tget_nmembers(t) == 2;
    for (unsigned i = 0; ok && i < 2; i++) {
        char *nm = H5Tget_member_name(t, i);
        int8_t v = -1;
        ok = nm != NULL && H5Tget_member_value(t, i, &v) >= 0 &&
             ((strcmp(nm, "FALSE") == 0 && v == 0) || (strcmp(nm, "TRUE") == 0 && v == 1));
        H5free_memory(nm);
    }
    h5_close(super);
    return ok;
}

/* The in-memory HDF5 type of a value of DTYPE (not STRATA_STR); the caller closes it. Also the
 * file type of exports: native little-endian integers and IEEE floats, h5py's bool enum. */
static hid_t h5_mem_type(strata_dtype t)
{
    hid_t base;
    switch (t) {
    case STRATA_I8:
        base = H5T_NATIVE_INT8;
        break;
    case STRATA_I16:
        base = H5T_NATIVE_INT16;
        break;
    case STRATA_I32:
        base = H5T_NATIVE_INT32;
        break;
    case STRATA_I64:
    case STRATA_TS:
        base = H5T_NATIVE_INT64;
        break;
    case STRATA_U8:
        base = H5T_NATIVE_UINT8;
        break;
    case STRATA_U16:
        base = H5T_NATIVE_UINT16;
        break;
    case STRATA_U32:
        base = H5T_NATIVE_UINT32;
        break;
    case STRATA_U64:
        base = H5T_NATIVE_UINT64;
        break;
    case STRATA_F32:
        base = H5T_NATIVE_FLOAT;
        break;
    case STRATA_F64:
        base = H5T_NATIVE_DOUBLE;
        break;
    case STRATA_BOOL:
        return h5_bool_type();
    default:
        return H5I_INVALID_HID;
    }
    return H5Tcopy(base);
}

/* A variable-length string type (UTF-8 unless CSET says otherwise); the caller closes it. */
static hid_t h5_vstr_type(H5T_cset_t cset)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, cset) < 0)) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

static int h5_int_dtype(hid_t t, strata_dtype *out)
{
    int sign = H5Tget_sign(t) == H5T_SGN_2;
    switch (H5Tget_size(t)) {
    case 1:
        *out = sign ? STRATA_I8 : STRATA_U8;
        return 1;
    case 2:
        *out = sign ? STRATA_I16 : STRATA_U16;
        return 1;
    case 4:
        *out = sign ? STRATA_I32 : STRATA_U32;
        return 1;
    case 8:
        *out = sign ? STRATA_I64 : STRATA_U64;
        return 1;
    default:
        return 0;
    }
}

/* The Strata dtype of HDF5 type T, or NULL; else the feature it uses that is not read. */
static const char *h5_dtype_of(hid_t t, strata_dtype *out)
{
    size_t sz = H5Tget_size(t);
    switch (H5Tget_class(t)) {
    case H5T_INTEGER:
        return h5_int_dtype(t, out) ? NULL : "an integer type wider than 64 bits";
    case H5T_FLOAT:
        if (sz == 4 || sz == 8) {
            *out = sz == 4 ? STRATA_F32 : STRATA_F64;
            return NULL;
        }
        return sz < 4 ? "a float type narrower than 32 bits (float16)"
                      : "a float type wider than 64 bits";
    case H5T_ENUM:
        if (!h5_is_bool(t)) return "an enum type (only h5py's bool enum FALSE/TRUE is read)";
        *out = STRATA_BOOL;
        return NULL;
    case H5T_STRING:
        *out = STRATA_STR;
        return NULL;
    case H5T_COMPOUND:
        return "a compound type";
    case H5T_REFERENCE:
        return "a reference type";
    case H5T_ARRAY:
        return "an array type";
    case H5T_VLEN:
        return "a variable-length sequence type";
    case H5T_OPAQUE:
        return "an opaque type";
    case H5T_BITFIELD:
        return "a bitfield type";
    case H5T_TIME:
        return "a time type";
    default:
        return "an unknown type";
    }
}

/* ---- attributes ---------------------------------------------------------------------------- */

/* The text of the scalar string attribute NAME of OBJ, malloc'ed (the caller frees it), or NULL
 * when there is none, it is no scalar string, or memory is short. */
static char *h5_attr_strdup(hid_t obj, const char *name)
{
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    hid_t sp = H5I_INVALID_HID;
    char *out = NULL;
    if (H5Aexists(obj, name) <= 0) goto done;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0) goto done;
    if ((ft = H5Aget_type(a)) < 0 || H5Tget_class(ft) != H5T_STRING) goto done;
    if ((sp = H5Aget_space(a)) < 0 || H5Sget_simple_extent_npoints(sp) != 1) goto done;
    if (H5Tis_variable_str(ft) > 0) {
        char *p = NULL;
        if ((mt = h5_vstr_type(H5Tget_cset(ft))) < 0 || H5Aread(a, mt, &p) < 0) goto done;
        out = strdup(p ? p : "");
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, &p);
    } else {
        size_t sz = H5Tget_size(ft);
        out = calloc(1, sz + 1);
        if (out != NULL && ((mt = H5Tcopy(ft)) < 0 || H5Aread(a, mt, out) < 0)) {
            free(out);
            out = NULL;
        }
    }
done:
    h5_close(mt);
    h5_close(sp);
    h5_close(ft);
    h5_close(a);
    H5Eclear2(H5E_DEFAULT);
    return out;
}

/* As h5_attr_strdup(), into BUF (truncated to LEN): 1 when there is such an attribute, else 0. */
static int h5_attr_text(hid_t obj, const char *name, char *buf, size_t len)
{
    char *t = h5_attr_strdup(obj, name);
    snprintf(buf, len, "%s", t ? t : "");
    free(t);
    return t != NULL;
}

/* Integer attribute NAME of OBJ into *OUT: 1 when there is one, else 0. */
static int h5_attr_int(hid_t obj, const char *name, int64_t *out)
{
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    int ok = ft >= 0 && H5Tget_class(ft) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_INT64, out) >= 0;
    h5_close(ft);
    h5_close(a);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

/* Write scalar attribute NAME of OBJ of type T (a STRATA_ATTR_*): the string A->s (variable-
 * length UTF-8, as h5py writes a str), the int64 A->i or the double A->f. */
static int h5_attr_write(st_err *err, hid_t obj, const strata_attr *a, const char *where)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t t = a->type == STRATA_ATTR_TEXT  ? h5_vstr_type(H5T_CSET_UTF8)
              : a->type == STRATA_ATTR_INT ? H5Tcopy(H5T_NATIVE_INT64)
                                           : H5Tcopy(H5T_NATIVE_DOUBLE);
    hid_t h = H5I_INVALID_HID;
    const void *v = a->type == STRATA_ATTR_TEXT  ? (const void *)&a->s
                    : a->type == STRATA_ATTR_INT ? (const void *)&a->i
                                                 : (const void *)&a->f;
    int rc = STRATA_OK;
    if (sp < 0 || t < 0 || (h = H5Acreate2(obj, a->name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(h, t, v) < 0)
        rc = h5_fail(err, STRATA_EIO, "%s: cannot write attribute '%s'", where, a->name);
    h5_close(h);
    h5_close(t);
    h5_close(sp);
    return rc;
}

/* Write the string (TEXT) or int64 (TEXT NULL: VALUE) attribute NAME of OBJ. */
static int h5_attr_put(st_err *err, hid_t obj, const char *name, const char *text, int64_t value,
                       const char *where)
{
    strata_attr a = {.name = name, .type = text ? STRATA_ATTR_TEXT : STRATA_ATTR_INT};
    a.s = text;
    a.i = value;
    return h5_attr_write(err, obj, &a, where);
}

/* "FILE:/a/b" for messages: WHERE of PATH (NULL: "/") in FILE, with NAME below it (may be
 * NULL); OUT receives the HDF5 path alone when HPATH is not NULL. */
static void h5_where(char *out, size_t len, const char *file, const char *path, const char *name,
                     char *hpath, size_t hlen)
{
    char p[ST_PATH_MAX];
    if (path == NULL || path[0] == '\0') path = "/";
    if (name == NULL)
        snprintf(p, sizeof p, "%s", path);
    else
        snprintf(p, sizeof p, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", name);
    snprintf(out, len, "%s:%s", file, p);
    if (hpath != NULL) snprintf(hpath, hlen, "%s", p);
}

/* ---- opening an input file ------------------------------------------------------------------ */

/* Open FILE for reading; a file that is missing, truncated or not HDF5 fails with its name. */
static int h5_open_file(st_err *err, const char *file, hid_t *fid)
{
    struct stat st;
    if (stat(file, &st) != 0) return st_error_errno(err, errno, "cannot open '%s'", file);
#if H5_VERSION_GE(1, 12, 0)
    htri_t is = H5Fis_accessible(file, H5P_DEFAULT);
#else
    htri_t is = H5Fis_hdf5(file);
#endif
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return st_error(err, STRATA_EINVAL, "'%s' is not an HDF5 file (no HDF5 signature)", file);
    }
    *fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*fid < 0)
        return h5_fail(err, STRATA_EINVAL,
                       "cannot open '%s' as an HDF5 file: it is damaged or truncated", file);
    return STRATA_OK;
}

/* Open object PATH of FID (WHERE names it): STRATA_ENOTFOUND when a link of the path is missing;
 * *KIND receives H5I_GROUP or H5I_DATASET (another kind fails). */
static int h5_open_object(st_err *err, hid_t fid, const char *path, const char *where, hid_t *obj,
                          H5I_type_t *kind)
{
    char part[ST_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof part) return st_error(err, STRATA_EINVAL, "%s: path too long", where);
    /* each prefix must exist, else H5Oopen fails with a message naming no path */
    for (size_t i = 1; i <= n; i++) {
        if (i < n && path[i] != '/') continue;
        memcpy(part, path, i);
        part[i] = '\0';
        if (strcmp(part, "/") == 0 || (i > 0 && part[i - 1] == '/')) continue;
        htri_t ex = H5Lexists(fid, part, H5P_DEFAULT);
        if (ex <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return st_error(err, STRATA_ENOTFOUND, "%s: no such object ('%s' does not exist)",
                            where, part);
        }
    }
    if ((*obj = H5Oopen(fid, path, H5P_DEFAULT)) < 0)
        return h5_fail(err, STRATA_EINVAL, "%s: cannot open the object", where);
    *kind = H5Iget_type(*obj);
    if (*kind != H5I_GROUP && *kind != H5I_DATASET)
        return st_error(err, STRATA_EINVAL, "%s: a named datatype, neither a group nor a dataset",
                        where);
    return STRATA_OK;
}

/* Refuse a dataset whose filters this HDF5 library cannot decode (a plugin not installed);
 * *COMPRESSED is set when it has any filter that compresses. */
static int h5_check_filters(st_err *err, hid_t dcpl, const char *where, int *compressed)
{
    int n = H5Pget_nfilters(dcpl);
    *compressed = 0;
    for (int i = 0; i < n; i++) {
        unsigned flags, cfg;
        size_t nelm = 0;
        char name[64] = "";
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelm, NULL, sizeof name, name, &cfg);
        if (id < 0) return h5_fail(err, STRATA_EIO, "%s: cannot read its filters", where);
        if (H5Zfilter_avail(id) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return st_error(err, STRATA_EUNSUPPORTED,
                            "%s: compressed with HDF5 filter %d (%s), which this HDF5 library "
                            "lacks; install its HDF5 plugin (HDF5_PLUGIN_PATH) or rewrite the "
                            "file with gzip",
                            where, (int)id, name[0] ? name : "unnamed");
        }
        if (id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32) *compressed = 1;
    }
    return STRATA_OK;
}

/* ---- ingest: a group of 1-D datasets into a dataset ----------------------------------------- */

/* One column of the group being read. */
typedef struct h5col {
    char *name;
    hid_t did, mtype; /* the dataset, and the memory type it is read as */
    strata_dtype dtype;
    int vlen;     /* strings: variable-length (else fixed, FSIZE bytes each) */
    size_t fsize; /* fixed-length strings: bytes per value */
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
        h5_close(in->cols[i].mtype);
        h5_close(in->cols[i].did);
        free(in->cols[i].name);
    }
    free(in->cols);
    in->cols = NULL;
    h5_close(in->gid);
    h5_close(in->fid);
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
    h5_where(in->where, sizeof in->where, in->file, in->path, NULL, NULL, 0);
    ST_TRY(rc = h5_open_file(err, in->file, &in->fid));
    if (stat(in->file, &st) == 0) in->file_bytes = (uint64_t)st.st_size;
    ST_TRY(rc = h5_open_object(err, in->fid, in->path, in->where, &obj, &kind));
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
    h5_close(obj);
    return rc;
}

/* The memory type and string kind of column C (dtype known). */
static int h5col_types(h5in *in, h5col *c, hid_t ft)
{
    if (c->dtype != STRATA_STR) {
        c->mtype = h5_mem_type(c->dtype);
    } else if (H5Tis_variable_str(ft) > 0) {
        c->vlen = 1;
        c->mtype = h5_vstr_type(H5Tget_cset(ft));
    } else {
        c->fsize = H5Tget_size(ft);
        c->mtype = H5Tcopy(ft);
        if (c->mtype >= 0 && H5Tset_strpad(c->mtype, H5T_STR_NULLPAD) < 0) {
            h5_close(c->mtype);
            c->mtype = H5I_INVALID_HID;
        }
    }
    if (c->mtype < 0)
        return h5_fail(in->err, STRATA_EIO, "%s: cannot make its memory type", c->where);
    /* an int64 column with strata_dtype = "ts" holds timestamps (as strata exports them) */
    char tag[16];
    if (c->dtype == STRATA_I64 && h5_attr_text(c->did, "strata_dtype", tag, sizeof tag) &&
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
        rc = h5_fail(err, STRATA_EIO, "%s: cannot open the dataset", c->where);
        goto done;
    }
    sp = H5Dget_space(c->did);
    ft = H5Dget_type(c->did);
    dcpl = H5Dget_create_plist(c->did);
    if (sp < 0 || ft < 0 || dcpl < 0) {
        rc = h5_fail(err, STRATA_EIO, "%s: cannot read its description", c->where);
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
    const char *why = h5_dtype_of(ft, &c->dtype);
    if (why != NULL) {
        rc = st_error(err, STRATA_EUNSUPPORTED, "%s: %s is not supported", c->where, why);
        goto done;
    }
    ST_TRY(rc = h5_check_filters(err, dcpl, c->where, &compressed));
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
    h5_close(dcpl);
    h5_close(ft);
    h5_close(sp);
    return rc;
}

/* Find the group's columns: its links in name order; each must be a 1-D dataset. */
static int h5in_scan(h5in *in)
{
    st_err *err = in->err;
    H5G_info_t gi;
    int rc = STRATA_OK;
    if (H5Gget_info(in->gid, &gi) < 0)
        return h5_fail(err, STRATA_EIO, "%s: cannot list the group", in->where);
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
            return h5_fail(err, STRATA_EINVAL, "%s: member %llu has no usable name", in->where,
                           (unsigned long long)i);
        c->name = strdup(name);
        h5_where(c->where, sizeof c->where, in->file, in->path, name, NULL, 0);
        if (c->name == NULL) return st_error(err, STRATA_ENOMEM, "out of memory");
        hid_t obj = H5Oopen(in->gid, name, H5P_DEFAULT);
        H5I_type_t kind = obj >= 0 ? H5Iget_type(obj) : H5I_BADID;
        h5_close(obj);
        if (obj < 0)
            return h5_fail(err, STRATA_EINVAL, "%s: a dangling or external link", c->where);
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
        rc = h5_fail(in->err, STRATA_EIO, "%s: cannot read rows %llu to %llu", c->where,
                     (unsigned long long)r0, (unsigned long long)(r0 + k));
    h5_close(ms);
    h5_close(fs);
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
        rc = h5_fail(in->err, STRATA_EIO, "%s: cannot read rows %llu to %llu", c->where,
                     (unsigned long long)r0, (unsigned long long)(r0 + k));
        goto done;
    }
    got = 1;
    rc = pack_strings(in, c, b, c->vlen ? (char **)(void *)raw : NULL, c->vlen ? NULL : raw, r0, k);
done:
    if (got && c->vlen) H5Dvlen_reclaim(c->mtype, ms, H5P_DEFAULT, raw);
    h5_close(ms);
    h5_close(fs);
    free(raw);
    return rc;
}

/* Read every row of the group, a slab of rows at a time (ST_H5_SLAB, or about 64 MiB of wide
 * rows), into the ingest G (ORDER: the schema position of each column). A validity bitmap, when
 * nulls come, is one more read per column. */
static int h5in_copy(h5in *in, st_ingest *g, const int *order)
{
    st_colbuf *bufs = calloc((size_t)in->n, sizeof *bufs);
    int rc = STRATA_OK;
    if (bufs == NULL) return st_error(in->err, STRATA_ENOMEM, "out of memory");
    /* rows per slab: ST_H5_SLAB, fewer when rows are wide (long fixed-length strings) */
    uint64_t row_bytes = 0, slab;
    for (int i = 0; i < in->n; i++) {
        const h5col *c = &in->cols[i];
        bufs[order[i]].dtype = c->dtype;
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
            st_colbuf *b = &bufs[order[i]];
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
    for (int i = 0; i < in->n; i++) st_colbuf_free(&bufs[i]);
    free(bufs);
    return rc;
}

int strata_ingest_hdf5(strata_pool *pool, const char *region, const char *name, const char *file,
                       const char *h5path, const strata_ingest_opts *opts,
                       strata_ingest_stats *stats)
{
    if (pool == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(pool);
    if (file == NULL) return st_error(err, STRATA_EINVAL, "no HDF5 file to ingest");
    st_ingest *g = NULL;
    h5in in = {.err = err, .file = file, .path = h5path ? h5path : "/"};
    in.fid = in.gid = H5I_INVALID_HID;
    strata_column *cols = NULL;
    int *order = NULL;
    h5guard gd;
    int rc = st_ingest_begin(pool, region, name, opts, stats, &g);
    if (rc < 0) return rc;
    h5_enter(&gd);
    ST_TRY(rc = h5in_open(&in));
    ST_TRY(rc = h5in_scan(&in));
    cols = calloc((size_t)in.n, sizeof *cols);
    order = calloc((size_t)in.n, sizeof *order);
    if (cols == NULL || order == NULL) {
        rc = st_error(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < in.n; i++) {
        cols[i].name = in.cols[i].name;
        cols[i].dtype = in.cols[i].dtype;
    }
    ST_TRY(rc = st_ingest_bind(g, cols, in.n, in.where, order));
    ST_TRY(rc = h5in_copy(&in, g, order));
    st_ingest_files(g, 1);
done:
    h5in_close(&in);
    h5_leave(&gd);
    free(cols);
    free(order);
    return st_ingest_end(g, rc);
}

/* ---- export: the output file ----------------------------------------------------------------- */

/* A file being written: a temporary beside FILE, renamed onto it when complete. */
typedef struct h5out {
    st_err *err;
    const char *file;
    char tmp[ST_PATH_MAX];
    hid_t fid, gid;
} h5out;

/* Create the temporary file of O and the group PATH in it (NULL, "/": the root group); with
 * DATASET set, PATH names a dataset to be made: its parent groups are made instead. */
static int h5out_create(h5out *o, const char *path)
{
    char tok[ST_TOKEN_LEN + 1];
    st_random_token(tok);
    int rc = st_path(o->err, o->tmp, "%s.tmp-%s", o->file, tok);
    if (rc < 0) return rc;
    o->fid = H5Fcreate(o->tmp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (o->fid < 0) {
        rc = h5_fail(o->err, STRATA_EIO, "cannot create '%s.tmp-...' for '%s'", o->file, o->file);
        /* a failure after the file was made (writing its superblock) leaves it: the fresh name
         * is ours alone */
        unlink(o->tmp);
        o->tmp[0] = '\0';
        return rc;
    }
    if (path == NULL || strcmp(path, "/") == 0) {
        o->gid = H5Gopen2(o->fid, "/", H5P_DEFAULT);
    } else {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        o->gid = H5Gcreate2(o->fid, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        h5_close(lcpl);
    }
    if (o->gid < 0)
        return h5_fail(o->err, STRATA_EINVAL, "%s:%s: cannot create the group", o->file, path);
    return STRATA_OK;
}

/* Close O; with RC == STRATA_OK make the file durable and rename it onto o->file, else remove
 * it. Returns the final status. */
static int h5out_finish(h5out *o, int rc)
{
    h5_close(o->gid);
    if (o->fid >= 0 && H5Fclose(o->fid) < 0 && rc == STRATA_OK)
        rc = h5_fail(o->err, STRATA_EIO, "cannot complete '%s'", o->tmp);
    o->gid = o->fid = H5I_INVALID_HID;
    if (o->tmp[0] == '\0') return rc;
    if (rc == STRATA_OK) {
        int fd = open(o->tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            rc = st_error_errno(o->err, errno, "cannot open '%s'", o->tmp);
        else
            rc = st_fsync_fd(o->err, fd, o->tmp);
        if (fd >= 0) close(fd);
    }
    if (rc == STRATA_OK) rc = st_rename(o->err, o->tmp, o->file);
    if (rc == STRATA_OK) {
        char dir[ST_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", o->file);
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            snprintf(dir, sizeof dir, ".");
        else
            slash == dir ? (void)(slash[1] = '\0') : (void)(*slash = '\0');
        rc = st_fsync_dir(o->err, dir);
    }
    if (rc < 0) unlink(o->tmp);
    return rc;
}

/* A 1-D dataset NAME of N rows of file type FT, chunked by CHUNK rows, deflated at GZIP (0:
 * not), extensible (h5py users may append). */
static hid_t h5_create_1d(h5out *o, const char *name, hid_t ft, uint64_t n, uint64_t chunk,
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
    if (did < 0) h5_fail(o->err, STRATA_EIO, "%s: cannot create the dataset", where);
    h5_close(dcpl);
    h5_close(sp);
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
        rc = h5_fail(err, STRATA_EIO, "%s: cannot write rows %llu to %llu", where,
                     (unsigned long long)r0, (unsigned long long)(r0 + k));
    h5_close(ms);
    h5_close(fs);
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

/* Write column COL of S as dataset NAME of O's group. */
static int export_column(h5out *o, strata_snapshot *s, int col, const strata_column *c,
                         const strata_hdf5_opts *opts, const char *gpath)
{
    strata_dataset_desc d;
    char where[ST_H5_WHERE];
    h5_where(where, sizeof where, o->file, gpath, c->name, NULL, 0);
    hid_t mt = c->dtype == STRATA_STR ? h5_vstr_type(H5T_CSET_UTF8) : h5_mem_type(c->dtype);
    hid_t did = H5I_INVALID_HID;
    int rc = strata_snapshot_info(s, &d);
    if (rc < 0) goto done;
    if (mt < 0) {
        rc = h5_fail(o->err, STRATA_EIO, "%s: cannot make its type", where);
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
        ST_TRY(rc = h5_attr_put(o->err, did, "strata_dtype", "ts", 0, where));
        ST_TRY(rc = h5_attr_put(o->err, did, "units", ST_H5_TS_UNITS, 0, where));
    }
done:
    rc = h5_close_written(o->err, &did, rc, where);
    h5_close(mt);
    return rc;
}

/* The options of an export with their defaults filled in (or STRATA_EINVAL). */
static int h5_opts(st_err *err, const strata_hdf5_opts *in, strata_hdf5_opts *out)
{
    memset(out, 0, sizeof *out);
    if (in != NULL) *out = *in;
    if (out->gzip_level < -1 || out->gzip_level > 9)
        return st_error(err, STRATA_EINVAL, "gzip level %d (0 to 9 allowed, -1: none)",
                        out->gzip_level);
    return STRATA_OK;
}

int strata_export_hdf5(strata_snapshot *s, const int *cols, int ncols, const char *file,
                       const char *h5path, const strata_hdf5_opts *opts)
{
    if (s == NULL) return STRATA_EINVAL;
    st_err *err = st_pool_err(st_snapshot_pool(s));
    strata_dataset_desc d;
    strata_hdf5_opts o;
    h5out out = {.err = err, .file = file, .fid = H5I_INVALID_HID, .gid = H5I_INVALID_HID};
    h5guard gd;
    int rc = strata_snapshot_info(s, &d);
    if (rc < 0) return rc;
    if (file == NULL) return st_error(err, STRATA_EINVAL, "no HDF5 file to write");
    if ((rc = h5_opts(err, opts, &o)) < 0) return rc;
    if (o.gzip_level < 0) o.gzip_level = 0;
    if (cols == NULL) ncols = d.ncols;
    for (int i = 0; i < ncols; i++)
        if (cols != NULL && (cols[i] < 0 || cols[i] >= d.ncols))
            return st_error(err, STRATA_ERANGE, "'%s/%s' has no column %d", d.region, d.name,
                            cols[i]);
    const char *gpath = h5path ? h5path : "/";
    h5_enter(&gd);
    ST_TRY(rc = h5out_create(&out, gpath));
    char where[ST_H5_WHERE], ds[2 * STRATA_NAME_MAX + 2];
    h5_where(where, sizeof where, file, gpath, NULL, NULL, 0);
    snprintf(ds, sizeof ds, "%s/%s", d.region, d.name);
    ST_TRY(rc = h5_attr_put(err, out.gid, "strata_dataset", ds, 0, where));
    ST_TRY(rc = h5_attr_put(err, out.gid, "strata_version", NULL, d.version, where));
    for (int i = 0; i < ncols; i++) {
        int col = cols ? cols[i] : i;
        ST_TRY(rc = export_column(&out, s, col, &d.columns[col], &o, gpath));
    }
done:
    rc = h5out_finish(&out, rc);
    h5_leave(&gd);
    return rc;
}

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
        rc = h5_fail(err, STRATA_EIO, "%s: cannot %s the block at [%s]", where,
                     write ? "write" : "read", at);
    }
    h5_close(ms);
    h5_close(fs);
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
    h5_close(h->mtype);
    h5_close(h->did);
    h5_close(h->fid);
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
        return h5_fail(h->err, STRATA_EIO, "%s: cannot read its chunk shape", h->where);
    for (int d = 0; d < n; d++) {
        h->dims[d] = dims[d];
        h->chunk[d] = h->chunked ? ch[d] : dims[d];
        if (d > 0 && maxd[d] == H5S_UNLIMITED && dims[d] == 0)
            return st_error(h->err, STRATA_EUNSUPPORTED,
                            "%s: dimension %d is empty; only the first may be", h->where, d);
    }
    h->unlimited = maxd[0] == H5S_UNLIMITED;
    int rc = h5_check_filters(h->err, dcpl, h->where, &h->compressed);
    if (rc < 0) return rc;
    H5D_fill_value_t fv;
    if (H5Pfill_value_defined(dcpl, &fv) >= 0 && fv == H5D_FILL_VALUE_USER_DEFINED &&
        H5Pget_fill_value(dcpl, h->mtype, h->fill) >= 0)
        h->has_fill = 1;
    H5Eclear2(H5E_DEFAULT);
    if (!h5_attr_int(h->did, "strata_zstd_level", &h->zstd_attr)) h->zstd_attr = 0;
    return STRATA_OK;
}

/* Open FILE's dataset PATH as H: a numeric or bool dataset of 1 to 8 dimensions. */
static int h5nd_open(h5nd *h, const char *file, const char *path)
{
    hid_t obj = H5I_INVALID_HID, sp = H5I_INVALID_HID, ft = H5I_INVALID_HID;
    hid_t dcpl = H5I_INVALID_HID;
    H5I_type_t kind;
    int rc;
    h5_where(h->where, sizeof h->where, file, path, NULL, NULL, 0);
    ST_TRY(rc = h5_open_file(h->err, file, &h->fid));
    ST_TRY(rc = h5_open_object(h->err, h->fid, path, h->where, &obj, &kind));
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
        rc = h5_fail(h->err, STRATA_EIO, "%s: cannot read its description", h->where);
        goto done;
    }
    const char *why = h5_dtype_of(ft, &h->dtype);
    if (why == NULL && h->dtype == STRATA_STR) why = "a string type (N-d arrays hold numbers)";
    if (why != NULL) {
        rc = st_error(h->err, STRATA_EUNSUPPORTED, "%s: %s is not supported", h->where, why);
        goto done;
    }
    if ((h->mtype = h5_mem_type(h->dtype)) < 0) {
        rc = h5_fail(h->err, STRATA_EIO, "%s: cannot make its memory type", h->where);
        goto done;
    }
    rc = h5nd_describe(h, sp, dcpl);
done:
    h5_close(dcpl);
    h5_close(sp);
    h5_close(ft);
    h5_close(obj);
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
        a->s = h5_attr_strdup(obj, name); /* owned by the list from here */
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
    if (c == H5T_INTEGER || (c == H5T_ENUM && h5_is_bool(ft))) {
        a->type = STRATA_ATTR_INT;
        return H5Aread(h, H5T_NATIVE_INT64, &a->i) < 0 ? "an unreadable integer" : NULL;
    }
    if (c == H5T_FLOAT) {
        a->type = STRATA_ATTR_FLOAT;
        return H5Aread(h, H5T_NATIVE_DOUBLE, &a->f) < 0 ? "an unreadable float" : NULL;
    }
    strata_dtype unused;
    const char *why = h5_dtype_of(ft, &unused);
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
    h5_close(sp);
    h5_close(ft);
    h5_close(h);
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
        l->rc = h5_fail(h->err, STRATA_EIO, "%s: cannot list its attributes", h->where);
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
    if (hold >= 0) st_pool_create_end(hold);
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
    h5guard gd;
    int rc = h5_opts(err, opts, &o);
    if (rc < 0) return rc;
    if (file == NULL || h5path == NULL)
        return st_error(err, STRATA_EINVAL, "an N-d import needs an HDF5 file and dataset path");
    if (o.zstd_level < -1 || o.zstd_level > 19)
        return st_error(err, STRATA_EINVAL, "zstd level %d (0 to 19 allowed, -1: none)",
                        o.zstd_level);
    if ((rc = st_name_check(err, "region", region)) < 0) return rc;
    if ((rc = st_name_check(err, "N-d array", name)) < 0) return rc;
    h5_enter(&gd);
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
    h5_leave(&gd);
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
        h5_close(dcpl);
        h5_fail(err, STRATA_EIO, "cannot set up the HDF5 dataset of '%s/%s'", d->region, d->name);
        return H5I_INVALID_HID;
    }
    H5Eclear2(H5E_DEFAULT);
    return dcpl;
}

/* Create the dataset LEAF in O's group for array D, chunked by BOX when CHUNKED. */
static hid_t export_create(h5out *o, const strata_ndarray_desc *d, const st_cat_nd *rec,
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
    if (dcpl >= 0 && did < 0) h5_fail(o->err, STRATA_EIO, "%s: cannot create the dataset", where);
    h5_close(sp);
    h5_close(dcpl);
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
    return h5_attr_write(o->err, o->did, a, o->where);
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
    h5out out = {.err = err, .file = file, .fid = H5I_INVALID_HID, .gid = H5I_INVALID_HID};
    char group[ST_PATH_MAX], where[ST_H5_WHERE], an[2 * STRATA_NAME_MAX + 2];
    const char *leaf;
    hid_t mt = H5I_INVALID_HID, did = H5I_INVALID_HID;
    h5guard gd;
    int rc = strata_ndarray_info(a, &d);
    if (rc < 0) return rc;
    if ((rc = h5_opts(err, opts, &o)) < 0) return rc;
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
    h5_where(where, sizeof where, file, h5path, NULL, NULL, 0);
    snprintf(an, sizeof an, "%s/%s", d.region, d.name);
    h5_enter(&gd);
    ST_TRY(rc = h5out_create(&out, group));
    if ((mt = h5_mem_type(d.dtype)) < 0) {
        rc = h5_fail(err, STRATA_EIO, "%s: cannot make its type", where);
        goto done;
    }
    did = export_create(&out, &d, rec, box, h5chunked, &o, mt, leaf, where);
    if (did < 0) {
        rc = STRATA_EIO;
        goto done;
    }
    ST_TRY(rc = export_boxes(err, a, &d, box, did, mt, where));
    ST_TRY(rc = h5_attr_put(err, did, "strata_array", an, 0, where));
    ST_TRY(rc = h5_attr_put(err, did, "strata_layout",
                            chunked                         ? "chunked"
                            : d.layout == STRATA_LAYOUT_COL ? "col"
                                                            : "row",
                            0, where));
    if (d.zstd_level > 0)
        ST_TRY(rc = h5_attr_put(err, did, "strata_zstd_level", NULL, d.zstd_level, where));
    ST_TRY(rc = export_attrs(err, a, did, where));
done:
    rc = h5_close_written(err, &did, rc, where);
    h5_close(mt);
    rc = h5out_finish(&out, rc);
    h5_leave(&gd);
    return rc;
}
