/*
 * hdf5_int.h -- what the HDF5 files of src/interop share (private to the folder): the guard of
 * HDF5's error printing and the failure messages made from its error stack, the mapping of
 * types, attributes, opening input files and objects, and writing an output file under a
 * temporary name. hdf5_table.c holds datasets <-> groups, hdf5_nd.c N-d arrays <-> datasets.
 */
#ifndef STRATA_INTEROP_HDF5_INT_H
#define STRATA_INTEROP_HDF5_INT_H

#include <hdf5.h>
#include <stdint.h>

#include "interop/h5lib.h"
#include "strata.h"
#include "util/error.h"
#include "util/fileio.h"

#define ST_H5_SLAB       65536u            /* rows read or written per column per step */
#define ST_H5_SLAB_BYTES ((size_t)8 << 20) /* contiguous N-d data per step */
#define ST_H5_ZSTD       32015             /* the registered id of HDF5's zstd filter plugin */
#define ST_H5_TS_UNITS   "nanoseconds since 1970-01-01 00:00:00"
#define ST_H5_WHERE      (ST_PATH_MAX + 512) /* "FILE:/HDF5/PATH" */

/* Free the variable-length data HDF5 allocated when it read BUF (H5Treclaim since 1.12, where
 * H5Dvlen_reclaim is deprecated). */
#if H5_VERSION_GE(1, 12, 0)
#define st_h5_reclaim(type, space, buf) H5Treclaim((type), (space), H5P_DEFAULT, (buf))
#else
#define st_h5_reclaim(type, space, buf) H5Dvlen_reclaim((type), (space), H5P_DEFAULT, (buf))
#endif

/* HDF5's automatic error printing of the calling thread, as it was before a call. */
typedef struct st_h5guard {
    H5E_auto2_t fn;
    void *data;
} st_h5guard;

/* Silence HDF5's automatic printing on this thread's default stack; st_h5_leave() restores it. */
void st_h5_enter(st_h5guard *g);
void st_h5_leave(const st_h5guard *g);

/* Record CODE with the message FMT..., followed by "(hdf5: ...)", the most specific entry of
 * HDF5's error stack, if any; clears the stack. Returns CODE. Call it before any other HDF5
 * call: each clears the stack. */
int st_h5_fail(st_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Close whatever kind of HDF5 object ID is, if it is one (errors ignored). */
void st_h5_close(hid_t id);

/* Close the dataset *DID of an export, checking: HDF5 writes the chunks it caches when the
 * dataset is closed, so a failure may show only here. Returns RC, or the failure. */
int st_h5_close_written(st_err *err, hid_t *did, int rc, const char *where);

/* Types. st_h5_mem_type: the in-memory (and exported) HDF5 type of DTYPE (not STRATA_STR): native
 * integers and IEEE floats, h5py's bool enum; st_h5_vstr_type: a variable-length string type;
 * both closed by the caller. st_h5_is_bool: whether enum T is h5py's bool. st_h5_dtype_of: the
 * Strata dtype of T (NULL), or the feature it uses that is not read. */
hid_t st_h5_mem_type(strata_dtype t);
hid_t st_h5_vstr_type(H5T_cset_t cset);
int st_h5_is_bool(hid_t t);
const char *st_h5_dtype_of(hid_t t, strata_dtype *out);

/* Attributes. st_h5_attr_strdup: the text of scalar string attribute NAME, malloc'ed, or NULL;
 * st_h5_attr_text: the same into BUF (1 if found); st_h5_attr_int: an integer attribute (1 if
 * found); st_h5_attr_write: A as a scalar attribute (int64, double or UTF-8 string);
 * st_h5_attr_put: the string TEXT, or (TEXT NULL) the int64 VALUE. */
char *st_h5_attr_strdup(hid_t obj, const char *name);
int st_h5_attr_text(hid_t obj, const char *name, char *buf, size_t len);
int st_h5_attr_int(hid_t obj, const char *name, int64_t *out);
int st_h5_attr_write(st_err *err, hid_t obj, const strata_attr *a, const char *where);
int st_h5_attr_put(st_err *err, hid_t obj, const char *name, const char *text, int64_t value,
                   const char *where);

/* "FILE:/a/b" (PATH NULL: "/"; NAME, if not NULL, below it) into OUT; HPATH (may be NULL)
 * receives the HDF5 path alone. */
void st_h5_where(char *out, size_t len, const char *file, const char *path, const char *name,
                 char *hpath, size_t hlen);

/* Open FILE for reading (a missing, truncated or non-HDF5 file fails naming it); open object
 * PATH of FID (STRATA_ENOTFOUND naming the missing link; *KIND: H5I_GROUP or H5I_DATASET);
 * refuse a dataset whose filters this HDF5 lacks (*COMPRESSED: it has a compressing filter). */
int st_h5_open_file(st_err *err, const char *file, hid_t *fid);
int st_h5_open_object(st_err *err, hid_t fid, const char *path, const char *where, hid_t *obj,
                      H5I_type_t *kind);
int st_h5_check_filters(st_err *err, hid_t dcpl, const char *where, int *compressed);

/* A file being written: a temporary beside FILE, renamed onto it when complete. */
typedef struct st_h5out {
    st_err *err;
    const char *file;
    char tmp[ST_PATH_MAX];
    hid_t fid, gid;
} st_h5out;

/* Create O's temporary file and the group PATH in it (NULL, "/": the root group; parents are
 * made). st_h5out_finish: close O; with RC == STRATA_OK make the file durable and rename it onto
 * o->file, else remove it; returns the final status. */
int st_h5out_create(st_h5out *o, const char *path);
int st_h5out_finish(st_h5out *o, int rc);

/* The options of a call with their defaults (IN may be NULL), or STRATA_EINVAL; first loads
 * HDF5 (st_h5_load), so every entry point calls it before anything else of HDF5. */
int st_h5_opts(st_err *err, const strata_hdf5_opts *in, strata_hdf5_opts *out);

#endif /* STRATA_INTEROP_HDF5_INT_H */
