/*
 * hdf5.c -- what the HDF5 import and export share (hdf5_int.h): HDF5's error stack turned into
 * messages, types and attributes mapped, input files and objects opened, output files written
 * under a temporary name. docs/formats.md ("HDF5") is the mapping's manual; hdf5_table.c holds
 * datasets <-> groups of 1-D HDF5 datasets, hdf5_nd.c N-d arrays <-> HDF5 datasets.
 *
 * HDF5's error stack: each public call turns off HDF5's automatic error printing for its own
 * thread's default stack while it runs (H5Eget_auto2 / H5Eset_auto2 in st_h5_enter and
 * st_h5_leave) and turns the stack into the message of the failure (H5Ewalk2). Debian's HDF5 is
 * built thread-safe: error stacks and their printing settings are per thread and every HDF5 call
 * holds HDF5's global lock, so the calls may run on several threads at once (they serialise
 * inside HDF5). With an HDF5 built without thread safety, callers must not run them (or any
 * other HDF5 code of the process) on two threads at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interop/hdf5_int.h"

/* ---- HDF5's error stack and printing ----------------------------------------------------- */

/* Silence HDF5's automatic printing on this thread's default stack; st_h5_leave() restores it. */
void st_h5_enter(st_h5guard *g)
{
    g->fn = NULL;
    g->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &g->fn, &g->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5Eclear2(H5E_DEFAULT);
}

void st_h5_leave(const st_h5guard *g)
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
int st_h5_fail(st_err *err, int code, const char *fmt, ...)
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
void st_h5_close(hid_t id)
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
int st_h5_close_written(st_err *err, hid_t *did, int rc, const char *where)
{
    if (*did < 0) return rc;
    herr_t r = H5Dclose(*did);
    *did = H5I_INVALID_HID;
    if (r < 0 && rc == STRATA_OK) return st_h5_fail(err, STRATA_EIO, "%s: cannot complete", where);
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
    st_h5_close(t);
    return H5I_INVALID_HID;
}

int st_h5_is_bool(hid_t t)
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
    st_h5_close(super);
    return ok;
}

/* The in-memory HDF5 type of a value of DTYPE (not STRATA_STR); the caller closes it. Also the
 * file type of exports: native little-endian integers and IEEE floats, h5py's bool enum. */
hid_t st_h5_mem_type(strata_dtype t)
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
hid_t st_h5_vstr_type(H5T_cset_t cset)
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
const char *st_h5_dtype_of(hid_t t, strata_dtype *out)
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
        if (!st_h5_is_bool(t)) return "an enum type (only h5py's bool enum FALSE/TRUE is read)";
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
char *st_h5_attr_strdup(hid_t obj, const char *name)
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
        if ((mt = st_h5_vstr_type(H5Tget_cset(ft))) < 0 || H5Aread(a, mt, &p) < 0) goto done;
        out = strdup(p ? p : "");
        st_h5_reclaim(mt, sp, &p);
    } else {
        size_t sz = H5Tget_size(ft);
        out = calloc(1, sz + 1);
        if (out != NULL && ((mt = H5Tcopy(ft)) < 0 || H5Aread(a, mt, out) < 0)) {
            free(out);
            out = NULL;
        }
    }
done:
    st_h5_close(mt);
    st_h5_close(sp);
    st_h5_close(ft);
    st_h5_close(a);
    H5Eclear2(H5E_DEFAULT);
    return out;
}

/* As st_h5_attr_strdup(), into BUF (truncated to LEN): 1 when there is such an attribute, else 0.
 */
int st_h5_attr_text(hid_t obj, const char *name, char *buf, size_t len)
{
    char *t = st_h5_attr_strdup(obj, name);
    snprintf(buf, len, "%s", t ? t : "");
    free(t);
    return t != NULL;
}

/* Integer attribute NAME of OBJ into *OUT: 1 when there is one, else 0. */
int st_h5_attr_int(hid_t obj, const char *name, int64_t *out)
{
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    int ok = ft >= 0 && H5Tget_class(ft) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_INT64, out) >= 0;
    st_h5_close(ft);
    st_h5_close(a);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

/* Write scalar attribute NAME of OBJ of type T (a STRATA_ATTR_*): the string A->s (variable-
 * length UTF-8, as h5py writes a str), the int64 A->i or the double A->f. */
int st_h5_attr_write(st_err *err, hid_t obj, const strata_attr *a, const char *where)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t t = a->type == STRATA_ATTR_TEXT  ? st_h5_vstr_type(H5T_CSET_UTF8)
              : a->type == STRATA_ATTR_INT ? H5Tcopy(H5T_NATIVE_INT64)
                                           : H5Tcopy(H5T_NATIVE_DOUBLE);
    hid_t h = H5I_INVALID_HID;
    const void *v = a->type == STRATA_ATTR_TEXT  ? (const void *)&a->s
                    : a->type == STRATA_ATTR_INT ? (const void *)&a->i
                                                 : (const void *)&a->f;
    int rc = STRATA_OK;
    if (sp < 0 || t < 0 || (h = H5Acreate2(obj, a->name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(h, t, v) < 0)
        rc = st_h5_fail(err, STRATA_EIO, "%s: cannot write attribute '%s'", where, a->name);
    st_h5_close(h);
    st_h5_close(t);
    st_h5_close(sp);
    return rc;
}

/* Write the string (TEXT) or int64 (TEXT NULL: VALUE) attribute NAME of OBJ. */
int st_h5_attr_put(st_err *err, hid_t obj, const char *name, const char *text, int64_t value,
                   const char *where)
{
    strata_attr a = {.name = name, .type = text ? STRATA_ATTR_TEXT : STRATA_ATTR_INT};
    a.s = text;
    a.i = value;
    return st_h5_attr_write(err, obj, &a, where);
}

/* "FILE:/a/b" for messages: WHERE of PATH (NULL: "/") in FILE, with NAME below it (may be
 * NULL); OUT receives the HDF5 path alone when HPATH is not NULL. */
void st_h5_where(char *out, size_t len, const char *file, const char *path, const char *name,
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
int st_h5_open_file(st_err *err, const char *file, hid_t *fid)
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
        return st_h5_fail(err, STRATA_EINVAL,
                          "cannot open '%s' as an HDF5 file: it is damaged or truncated", file);
    return STRATA_OK;
}

/* Open object PATH of FID (WHERE names it): STRATA_ENOTFOUND when a link of the path is missing;
 * *KIND receives H5I_GROUP or H5I_DATASET (another kind fails). */
int st_h5_open_object(st_err *err, hid_t fid, const char *path, const char *where, hid_t *obj,
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
        return st_h5_fail(err, STRATA_EINVAL, "%s: cannot open the object", where);
    *kind = H5Iget_type(*obj);
    if (*kind != H5I_GROUP && *kind != H5I_DATASET)
        return st_error(err, STRATA_EINVAL, "%s: a named datatype, neither a group nor a dataset",
                        where);
    return STRATA_OK;
}

/* Refuse a dataset whose filters this HDF5 library cannot decode (a plugin not installed);
 * *COMPRESSED is set when it has any filter that compresses. */
int st_h5_check_filters(st_err *err, hid_t dcpl, const char *where, int *compressed)
{
    int n = H5Pget_nfilters(dcpl);
    *compressed = 0;
    for (int i = 0; i < n; i++) {
        unsigned flags, cfg;
        size_t nelm = 0;
        char name[64] = "";
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelm, NULL, sizeof name, name, &cfg);
        if (id < 0) return st_h5_fail(err, STRATA_EIO, "%s: cannot read its filters", where);
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

/* ---- export: the output file ----------------------------------------------------------------- */

/* Create the temporary file of O and the group PATH in it (NULL, "/": the root group); with
 * DATASET set, PATH names a dataset to be made: its parent groups are made instead. */
int st_h5out_create(st_h5out *o, const char *path)
{
    char tok[ST_TOKEN_LEN + 1];
    st_random_token(tok);
    int rc = st_path(o->err, o->tmp, "%s.tmp-%s", o->file, tok);
    if (rc < 0) return rc;
    o->fid = H5Fcreate(o->tmp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (o->fid < 0) {
        rc =
            st_h5_fail(o->err, STRATA_EIO, "cannot create '%s.tmp-...' for '%s'", o->file, o->file);
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
        st_h5_close(lcpl);
    }
    if (o->gid < 0)
        return st_h5_fail(o->err, STRATA_EINVAL, "%s:%s: cannot create the group", o->file, path);
    return STRATA_OK;
}

/* Close O; with RC == STRATA_OK make the file durable and rename it onto o->file, else remove
 * it. Returns the final status. */
int st_h5out_finish(st_h5out *o, int rc)
{
    st_h5_close(o->gid);
    if (o->fid >= 0 && H5Fclose(o->fid) < 0 && rc == STRATA_OK)
        rc = st_h5_fail(o->err, STRATA_EIO, "cannot complete '%s'", o->tmp);
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
int st_h5_opts(st_err *err, const strata_hdf5_opts *in, strata_hdf5_opts *out)
{
    memset(out, 0, sizeof *out);
    int rc = st_h5_load(err);
    if (rc < 0) return rc;
    if (in != NULL) *out = *in;
    if (out->gzip_level < -1 || out->gzip_level > 9)
        return st_error(err, STRATA_EINVAL, "gzip level %d (0 to 9 allowed, -1: none)",
                        out->gzip_level);
    return STRATA_OK;
}
