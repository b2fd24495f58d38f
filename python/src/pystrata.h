/*
 * pystrata.h -- what the files of the strata._strata extension share; private to python/src.
 *
 * The extension is written against include/strata.h only. Its objects:
 *   Pool      owns a strata_pool and the lock that serialises calls on it (strata.h: "a pool
 *             handle ... may be used by one thread at a time"), taken with the GIL released;
 *   children  (Array, Dataset, Writer, Snapshot, NdArray) hold a strong reference to their Pool
 *             and count themselves in pool->children, so that the strata_pool is closed only
 *             when Pool.close() was asked for and no child handle is left open;
 *   views     numpy arrays over mapped memory (Array.numpy(), a snapshot's batches) have a
 *             Keeper as their base, which holds the child and counts in child->exports, so that
 *             memory a view reads is never unmapped under it: closing the child while views are
 *             alive defers the library close to the death of the last view.
 *
 * Thread safety (stated to users in docs/python.md): any number of Python threads may share a
 * Pool and its objects. Calls on one pool are serialised by its lock, except the data path of
 * arrays (get, put, gather, scatter, atomics), which runs concurrently as the C library allows.
 * Long calls release the GIL. A callback (progress) that calls back into the same pool raises
 * strata.Error instead of deadlocking.
 */
#ifndef STRATA_PYSTRATA_H
#define STRATA_PYSTRATA_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The numpy C API table is imported once, in module.c; the other files refer to it. */
#define PY_ARRAY_UNIQUE_SYMBOL strata_py_ARRAY_API
#ifndef STRATA_PY_MODULE_C
#define NO_IMPORT_ARRAY
#endif
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <stdint.h>
#include <stdio.h>

#include "strata.h"

#define PYST_ERRMSG_MAX 1024

/* ---- the pool ------------------------------------------------------------------------------ */

typedef struct PoolObject {
    PyObject_HEAD strata_pool *pool; /* NULL once closed for real */
    PyThread_type_lock mu;           /* one library call on POOL at a time */
    unsigned long owner; /* thread holding MU (0: none): re-entry from a callback is an error */
    Py_ssize_t children; /* child objects whose library handle is still open */
    int close_requested; /* Pool.close() was called: close when nothing is open or running */
    Py_ssize_t inflight; /* PYST_CALL_NOGIL calls running */
    PyObject *pending;   /* children whose library close waits for the lock (a list) */
    PyObject *path;      /* str */
    PyObject *weakrefs;
} PoolObject;

extern PyTypeObject PoolType;

/* Take POOL's lock, releasing the GIL while waiting. Returns -1 with an exception set when the
 * pool is closed or this thread already holds the lock (a callback calling back into its pool). */
int pyst_lock(PoolObject *p);
void pyst_unlock(PoolObject *p);

/* The status of a library call, with the pool's message copied while its lock was held. */
typedef struct pyst_status {
    int rc;
    char msg[PYST_ERRMSG_MAX];
} pyst_status;

/* Record RC (and, on failure, the pool's message) into ST. Call with the pool lock held. */
void pyst_status_take(PoolObject *p, int rc, pyst_status *st);

/* Raise the strata exception of ST (returns NULL), or of RC with MSG. */
PyObject *pyst_raise_status(const pyst_status *st);
PyObject *pyst_raise(int rc, const char *msg);
/* Raise the exception of RC with the pool's current message; call with the pool lock held. */
PyObject *pyst_raise_pool(PoolObject *p, int rc);

/*
 * Run CALL (an expression yielding a strata status) on POOL with the GIL released and the pool's
 * lock held; the status and message land in ST. Use for anything that may take long (I/O,
 * ingest, update, region reads). CALL must not touch Python objects.
 */
#define PYST_CALL_NOGIL(p, st, call)                                                               \
    do {                                                                                           \
        if (pyst_check_open(p) < 0) {                                                              \
            (st).rc = INT_MIN;                                                                     \
            break;                                                                                 \
        }                                                                                          \
        (p)->inflight++;                                                                           \
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock((p)->mu, WAIT_LOCK);                          \
        (p)->owner = PyThread_get_thread_ident();                                                  \
        if ((p)->pool != NULL)                                                                     \
            pyst_status_take((p), (call), &(st));                                                  \
        else                                                                                       \
            (st).rc = STRATA_EINVAL, snprintf((st).msg, sizeof(st).msg, "the pool is closed");     \
        (p)->owner = 0;                                                                            \
        PyThread_release_lock((p)->mu);                                                            \
        Py_END_ALLOW_THREADS pyst_call_end(p);                                                     \
    } while (0)

/* The end of a PYST_CALL_NOGIL (GIL held): run queued closes, close the pool if it waited. */
void pyst_call_end(PoolObject *p);
/* Run the library closes queued while this thread held the pool lock. */
void pyst_run_pending(PoolObject *p);

/* After PYST_CALL_NOGIL: NULL with the exception raised when the call failed (or the pool was
 * closed: rc INT_MIN, exception already set). */
#define PYST_FAILED(st) ((st).rc < 0)
PyObject *pyst_fail(const pyst_status *st);

/* 0 when the pool's library handle is open, else -1 with an exception (children work on after
 * Pool.close() until they are closed themselves). */
int pyst_check_open(PoolObject *p);
/* As pyst_check_open, and also -1 once Pool.close() was called: the start of every Pool method. */
int pyst_pool_check(PoolObject *p);
/* pyst_pool_check, then pyst_lock: the start of a short Pool method. */
int pyst_pool_lock(PoolObject *p);

/* ---- children and views -------------------------------------------------------------------- */

/* A child holds a reference to its pool and counts in pool->children while its handle is open. */
void pyst_child_attach(PoolObject *p);
/* The child's handle was closed: uncount it, closing the strata_pool if it was asked to close. */
void pyst_child_detach(PoolObject *p);

/* The fields every child object starts with, after PyObject_HEAD. */
#define PYST_CHILD_HEAD                                                                            \
    PoolObject *pool;                                                                              \
    Py_ssize_t exports;               /* views alive over this handle's memory */                  \
    int close_requested;              /* close() called while views were alive */                  \
    void (*closing)(PyObject * self); /* a queued release (see pyst_run_pending) */                \
    void (*release)(PyObject * self)  /* closes the library handle (pool lock held); NULL: closed  \
                                       */

typedef struct ChildObject {
    PyObject_HEAD PYST_CHILD_HEAD;
} ChildObject;

/* Close a child: at once when no view is alive, else when the last one dies. */
void pyst_child_close(ChildObject *c);

/* A call working on C's memory with the GIL released counts as a view meanwhile, so that a
 * close() from another thread waits for it: exports++ before, pyst_child_unbusy() after (both
 * with the GIL held). */
void pyst_child_unbusy(ChildObject *c);
/* exports++ when C is open (call it right before the library call, with no Python code in
 * between), else -1 with InvalidArgument. */
int pyst_child_busy(ChildObject *c);

/* close(), __exit__ (closes), the closed and pool properties: the same for every child type. */
PyObject *pyst_child_close_meth(PyObject *self, PyObject *noargs);
PyObject *pyst_child_exit_meth(PyObject *self, PyObject *args);
PyObject *pyst_child_get_closed(PyObject *self, void *c);
PyObject *pyst_child_get_pool(PyObject *self, void *c);

/* A numpy array of ND dims DIMS (STRIDES in bytes, NULL: C order) and numpy type TYPENUM over
 * DATA, which belongs to OWNER (a child): OWNER stays open while the array (or any view of it)
 * lives. WRITABLE 0 makes the array read-only. */
PyObject *pyst_view(ChildObject *owner, void *data, int typenum, int nd, const npy_intp *dims,
                    const npy_intp *strides, int writable);

/* ---- dtypes and names ---------------------------------------------------------------------- */

/* The numpy type number of a strata dtype (NPY_OBJECT for STRATA_STR). */
int pyst_npy_type(strata_dtype dt);
/* The strata dtype of a numpy type number; -1 with an exception when Strata has none. */
int pyst_dtype_from_npy(int typenum, strata_dtype *out);
/* The strata dtype of a Python object: a strata name ("i64"), a numpy dtype or type, or str. */
int pyst_dtype_from_obj(PyObject *obj, strata_dtype *out);
/* numpy dtype object of a strata dtype (new reference). */
PyObject *pyst_np_dtype(strata_dtype dt);

/* Split "region/name" into its two parts (each at most STRATA_NAME_MAX bytes). WHAT names the
 * argument in the error ("array name"). -1 with InvalidArgument on a malformed name. */
int pyst_split(const char *full, char *region, char *name, const char *what);
/* Split "region/name.column" into three parts. */
int pyst_split_col(const char *full, char *region, char *name, char *column, const char *what);

/* A Python str of LEN bytes of UTF-8 at S (errors: surrogateescape, so no string is unreadable). */
PyObject *pyst_str(const char *s, size_t len);

/* ---- shared helpers (array.c) --------------------------------------------------------------- */

/* OBJ as a C-contiguous numpy array of DT's type: values convert when they fit exactly (a safe
 * cast, or a same-kind cast that round-trips). New reference, or NULL with TypeMismatch naming
 * WHAT. */
PyArrayObject *pyst_values(PyObject *obj, strata_dtype dt, const char *what);
/* A strata_name_fn appending NAME (a str) to the list CTX; 1 (stop) with an exception on failure.
 */
int pyst_list_name(void *ctx, const char *name);
/* Strings (a sequence of str) packed as an int64 offsets ndarray (n+1) and a bytearray. */
int pyst_pack_strings(PyObject *data, PyObject **offsets_out, PyObject **bytes_out);
/* Create REGION when it does not exist (objects create their region on first use). */
int pyst_region_ensure(PoolObject *p, const char *region);
/* [REGION], or every region of the pool for None; call with the pool locked. */
PyObject *pyst_regions_arg(PoolObject *p, PyObject *region);

/* ---- the module's parts -------------------------------------------------------------------- */

/* Each file adds its types to the module and its methods to Pool. The Pool method table is the
 * concatenation of these arrays (each ends with a {NULL} sentinel). */
extern PyMethodDef pyst_pool_core_methods[];
extern PyMethodDef pyst_pool_array_methods[];
extern PyMethodDef pyst_pool_dataset_methods[];
extern PyMethodDef pyst_pool_derive_methods[];
extern PyMethodDef pyst_pool_nd_methods[];
extern PyMethodDef pyst_pool_mdms_methods[];

int pyst_array_init(PyObject *module);
int pyst_dataset_init(PyObject *module);
int pyst_derive_init(PyObject *module);
int pyst_nd_init(PyObject *module);
int pyst_mdms_init(PyObject *module);

/* Classes the pure-Python package registers (strata/__init__.py calls _strata._register): the C
 * code creates instances of these so that Python-level conveniences (repr, to_pandas, ...) live
 * beside the C methods. NULL: the C base type. */
PyTypeObject *pyst_class(const char *name, PyTypeObject *base);

/* Argument helpers. */
/* An optional int argument (None -> DEFAULT). */
int pyst_opt_int64(PyObject *obj, int64_t dflt, int64_t *out, const char *what);

#endif /* STRATA_PYSTRATA_H */
