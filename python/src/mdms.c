/*
 * mdms.c -- the MDMS layer from Python: applications and their run schemas, the run and
 * saved-iteration queries (runs, find), the planner's explanation, the tool table, and the
 * save/load side: strata.Mdms (one application on one communicator, its runs) and strata.Assoc
 * (datasets of one shape saved and loaded together with an access pattern).
 *
 * Lifetimes: an Mdms and an Assoc are children of their pool (pystrata.h). An Assoc holds a
 * strong reference to its Mdms, whose library handle must outlive it; Mdms.close() first closes
 * the associations still open (it keeps weak references to them), in the order they were made,
 * so that the collective closes happen in the same order on every process.
 *
 * MPI: the library takes the address of an MPI_Comm (const void *). The module needs no MPI
 * header for that: strata/_mdms.py passes mpi4py's MPI._addressof(comm) as an integer. A library
 * built without MPI refuses a communicator with Unsupported.
 */
#include "pystrata.h"

#include <limits.h>
#include <string.h>

static const char *const attr_type_names[] = {"int", "float", "text"};

/* ---- the objects ---------------------------------------------------------------------------- */

typedef struct MdmsObject {
    PyObject_HEAD PYST_CHILD_HEAD;
    strata_mdms *m;
    PyObject *app;    /* str */
    PyObject *assocs; /* list of weak references to the associations made through it */
    int rank, size;
    int64_t run; /* the open run, 0: none */
    PyObject *weakrefs;
} MdmsObject;

typedef struct AssocObject {
    PyObject_HEAD PYST_CHILD_HEAD;
    strata_assoc *as;
    MdmsObject *mdms; /* strong: its handle outlives ours */
    strata_dtype dtype;
    int ndims;
    uint64_t dims[STRATA_ND_MAXDIMS], local[STRATA_ND_MAXDIMS], elems;
    int known; /* dtype, ndims and dims are known (an opened association: once an iteration is
                  saved) */
    int mode;  /* 0 idle, 1 saving, 2 loading */
    int64_t run;
    PyObject *names;   /* tuple of str */
    PyObject *pattern; /* str */
    PyObject *weakrefs;
} AssocObject;

enum { MODE_IDLE, MODE_SAVE, MODE_LOAD };

static PyTypeObject MdmsType, AssocType;

/* ---- helpers -------------------------------------------------------------------------------- */

/* NAMES: a str or a sequence of str, as a new tuple of str (at least one). */
static PyObject *names_tuple(PyObject *names)
{
    if (PyUnicode_Check(names)) return PyTuple_Pack(1, names);
    PyObject *t = PySequence_Check(names) ? PySequence_Tuple(names) : NULL;
    if (t == NULL) {
        PyErr_Clear();
        return pyst_raise(STRATA_EINVAL, "names must be a str or a list of str");
    }
    if (PyTuple_GET_SIZE(t) == 0 || PyTuple_GET_SIZE(t) > INT_MAX) {
        Py_DECREF(t);
        return pyst_raise(STRATA_EINVAL, "names must hold at least one dataset name");
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(t, i))) {
            Py_DECREF(t);
            return pyst_raise(STRATA_EINVAL, "names must be a str or a list of str");
        }
    }
    return t;
}

/* The UTF-8 of the str of TUPLE, in a new array (NULL with an exception). */
static const char **names_utf8(PyObject *tuple)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    const char **v = PyMem_Calloc((size_t)n + 1, sizeof *v);
    if (v == NULL) return (const char **)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        v[i] = PyUnicode_AsUTF8(PyTuple_GET_ITEM(tuple, i));
        if (v[i] == NULL) {
            PyMem_Free(v);
            return NULL;
        }
    }
    return v;
}

/* A plan as a dict. WITH_SECONDS: what was done (assoc.last()), else an explanation. */
static PyObject *plan_dict(const strata_plan *p, int with_seconds)
{
    PyObject *d =
        Py_BuildValue("{s:s,s:N,s:O,s:O,s:i,s:K,s:K,s:K,s:d}", "strategy", p->strategy, "reason",
                      pyst_str(p->reason, strnlen(p->reason, sizeof p->reason)), "prefetch",
                      p->prefetch ? Py_True : Py_False, "prestage",
                      p->prestage ? Py_True : Py_False, "procs", p->procs, "requests",
                      (unsigned long long)p->requests, "bytes", (unsigned long long)p->bytes,
                      "useful", (unsigned long long)p->useful, "estimate", p->estimate);
    if (d != NULL && with_seconds) {
        PyObject *s = PyFloat_FromDouble(p->seconds);
        if (s == NULL || PyDict_SetItemString(d, "seconds", s) < 0) Py_CLEAR(d);
        Py_XDECREF(s);
    }
    return d;
}

/* A tuple of N uint64 as Python ints. */
static PyObject *u64_tuple(const uint64_t *v, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t != NULL && i < n; i++) {
        PyObject *x = PyLong_FromUnsignedLongLong(v[i]);
        if (x == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

/* ---- strata.Assoc ---------------------------------------------------------------------------- */

static void assoc_release(PyObject *self)
{
    AssocObject *a = (AssocObject *)self;
    if (a->mode == MODE_SAVE) strata_save_end(a->as);
    if (a->mode == MODE_LOAD) strata_load_end(a->as);
    a->mode = MODE_IDLE;
    strata_assoc_close(a->as);
    a->as = NULL;
}

static int assoc_check(AssocObject *a)
{
    if (a->as == NULL || a->release == NULL || a->close_requested) {
        pyst_raise(STRATA_EINVAL, "the association is closed");
        return -1;
    }
    return pyst_check_open(a->pool);
}

static PyObject *assoc_new(MdmsObject *m, strata_assoc *handle, PyObject *names, PyObject *pattern,
                           strata_dtype dtype, int ndims, const uint64_t *dims)
{
    if (m->release == NULL || m->close_requested) { /* closed by another thread meanwhile */
        strata_assoc_close(handle);
        return pyst_raise(STRATA_EINVAL, "the MDMS handle was closed while the association was "
                                         "being opened");
    }
    PyTypeObject *cls = pyst_class("Assoc", &AssocType);
    AssocObject *a = (AssocObject *)cls->tp_alloc(cls, 0);
    PyObject *ref = a != NULL ? PyWeakref_NewRef((PyObject *)a, NULL) : NULL;
    if (ref == NULL || PyList_Append(m->assocs, ref) < 0) {
        Py_XDECREF(ref);
        Py_XDECREF(a);
        strata_assoc_close(handle);
        return NULL;
    }
    Py_DECREF(ref);
    pyst_child_attach(m->pool);
    a->pool = m->pool;
    a->as = handle;
    a->release = assoc_release;
    a->mdms = (MdmsObject *)Py_NewRef(m);
    a->names = Py_NewRef(names);
    a->pattern = Py_NewRef(pattern);
    a->dtype = dtype;
    a->ndims = ndims;
    a->known = ndims > 0;
    memcpy(a->dims, dims, (size_t)ndims * sizeof *dims);
    strata_assoc_local(handle, a->local, &a->elems);
    a->run = strata_assoc_run(handle);
    return (PyObject *)a;
}

typedef struct shape_ctx {
    int found, ndims;
    strata_dtype dtype;
    uint64_t dims[STRATA_ND_MAXDIMS];
} shape_ctx;

static int shape_item(void *ctx, const strata_exec_info *e)
{
    shape_ctx *x = ctx;
    if (!x->found) {
        x->found = 1;
        x->dtype = e->dtype;
        x->ndims = e->ndims;
        memcpy(x->dims, e->dims, sizeof x->dims);
    }
    return 0;
}

/*
 * The dtype and global shape of an opened association. strata.h has no getter for them, so they
 * come from the catalog: any saved iteration of its first dataset in its run (the datasets of an
 * association share them). None saved yet: they stay unknown (load() looks again). -1 with an
 * exception on a failure of the query.
 */
static int assoc_lookup(AssocObject *a)
{
    if (a->known) return 0;
    const char *app = PyUnicode_AsUTF8(a->mdms->app);
    const char *ds = PyUnicode_AsUTF8(PyTuple_GET_ITEM(a->names, 0));
    if (app == NULL || ds == NULL) return -1;
    char where[64];
    snprintf(where, sizeof where, "run = %lld", (long long)a->run);
    shape_ctx x;
    memset(&x, 0, sizeof x);
    pyst_status st;
    PYST_CALL_NOGIL(a->pool, st, strata_find(a->pool->pool, app, ds, where, shape_item, &x));
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        return -1;
    }
    if (x.found) {
        a->dtype = x.dtype;
        a->ndims = x.ndims;
        memcpy(a->dims, x.dims, sizeof a->dims);
        strata_assoc_local(a->as, a->local, &a->elems);
        a->known = 1;
    }
    return 0;
}

static void assoc_dealloc(AssocObject *a)
{
    if (a->weakrefs != NULL) PyObject_ClearWeakRefs((PyObject *)a);
    a->exports = 0;
    pyst_child_close((ChildObject *)a);
    Py_CLEAR(a->names);
    Py_CLEAR(a->pattern);
    Py_CLEAR(a->mdms);
    Py_XDECREF(a->pool);
    Py_TYPE(a)->tp_free((PyObject *)a);
}

/* NAME must be one of A's datasets (checked here so that the message names them all). */
static int assoc_has(AssocObject *a, PyObject *name)
{
    int found = PySequence_Contains(a->names, name);
    if (found != 0) return found < 0 ? -1 : 0;
    PyObject *r = PyObject_Repr(a->names);
    char msg[PYST_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "dataset '%s' is not in this association (its datasets: %s)",
             PyUnicode_AsUTF8(name), r != NULL ? PyUnicode_AsUTF8(r) : "?");
    Py_XDECREF(r);
    pyst_raise(STRATA_ENOTFOUND, msg);
    return -1;
}

/* Put A in MODE (ending the other one first). */
static int assoc_mode(AssocObject *a, int mode)
{
    if (a->mode == mode) return 0;
    pyst_status st;
    if (a->mode == MODE_SAVE) PYST_CALL_NOGIL(a->pool, st, strata_save_end(a->as));
    if (a->mode == MODE_LOAD) PYST_CALL_NOGIL(a->pool, st, strata_load_end(a->as));
    a->mode = MODE_IDLE;
    if (mode == MODE_SAVE) PYST_CALL_NOGIL(a->pool, st, strata_save_begin(a->as));
    if (mode == MODE_LOAD) PYST_CALL_NOGIL(a->pool, st, strata_load_begin(a->as));
    if (mode != MODE_IDLE && PYST_FAILED(st)) {
        pyst_fail(&st);
        return -1;
    }
    a->mode = mode;
    return 0;
}

static int iteration_arg(PyObject *obj, int64_t *out)
{
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        pyst_raise(STRATA_EINVAL, "iteration must be an integer >= 0");
        return -1;
    }
    if (v < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "iteration %lld is negative", v);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    *out = v;
    return 0;
}

/* An opened association before any iteration of it was saved: look again, else NotFound. */
static int assoc_known(AssocObject *a, PyObject *name, int64_t it)
{
    if (assoc_lookup(a) < 0) return -1;
    if (a->known) return 0;
    char msg[PYST_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "iteration %lld of '%s' of run %lld was never saved", (long long)it,
             PyUnicode_AsUTF8(name), (long long)a->run);
    pyst_raise(STRATA_ENOTFOUND, msg);
    return -1;
}

/* The local shape as numpy dims. */
static void local_dims(AssocObject *a, npy_intp *dims)
{
    for (int d = 0; d < a->ndims; d++) dims[d] = (npy_intp)a->local[d];
}

static PyObject *assoc_save(AssocObject *a, PyObject *args)
{
    PyObject *name, *iter, *data;
    int64_t it;
    if (!PyArg_ParseTuple(args, "UOO:save", &name, &iter, &data) || assoc_check(a) < 0 ||
        assoc_has(a, name) < 0 || iteration_arg(iter, &it) < 0)
        return NULL;
    char what[STRATA_NAME_MAX + 64];
    snprintf(what, sizeof what, "save of '%s'", PyUnicode_AsUTF8(name));
    PyArrayObject *v = pyst_values(data, a->dtype, what);
    if (v == NULL) return NULL;
    npy_intp want[STRATA_ND_MAXDIMS];
    local_dims(a, want);
    int ok = PyArray_NDIM(v) == a->ndims;
    for (int d = 0; ok && d < a->ndims; d++) ok = PyArray_DIM(v, d) == want[d];
    if (!ok) {
        PyObject *got = PyObject_GetAttrString((PyObject *)v, "shape");
        PyObject *exp = u64_tuple(a->local, a->ndims);
        PyObject *gs = got ? PyObject_Str(got) : NULL, *es = exp ? PyObject_Str(exp) : NULL;
        const char *gtext = gs ? PyUnicode_AsUTF8(gs) : NULL,
                   *etext = es ? PyUnicode_AsUTF8(es) : NULL;
        PyErr_Clear();
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg,
                 "%s, iteration %lld: the data has shape %s but this process's piece is %s "
                 "(assoc.local_shape)",
                 what, (long long)it, gtext ? gtext : "?", etext ? etext : "?");
        Py_XDECREF(gs);
        Py_XDECREF(es);
        Py_XDECREF(got);
        Py_XDECREF(exp);
        Py_DECREF(v);
        return pyst_raise(STRATA_EINVAL, msg);
    }
    if (assoc_mode(a, MODE_SAVE) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    const char *n = PyUnicode_AsUTF8(name);
    const void *buf = PyArray_DATA(v);
    pyst_status st;
    PYST_CALL_NOGIL(a->pool, st, strata_save(a->as, n, it, buf));
    Py_DECREF(v);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *assoc_load(AssocObject *a, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "iteration", "out", NULL};
    PyObject *name, *iter, *out = Py_None;
    int64_t it;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UO|$O:load", kwlist, &name, &iter, &out) ||
        assoc_check(a) < 0 || assoc_has(a, name) < 0 || iteration_arg(iter, &it) < 0 ||
        assoc_known(a, name, it) < 0)
        return NULL;
    npy_intp dims[STRATA_ND_MAXDIMS];
    local_dims(a, dims);
    PyArrayObject *arr;
    if (out == Py_None) {
        arr = (PyArrayObject *)PyArray_SimpleNew(a->ndims, dims, pyst_npy_type(a->dtype));
        if (arr == NULL) return NULL;
    } else {
        int ok = PyArray_Check(out) &&
                 PyArray_TYPE((PyArrayObject *)out) == pyst_npy_type(a->dtype) &&
                 PyArray_IS_C_CONTIGUOUS((PyArrayObject *)out) &&
                 PyArray_ISWRITEABLE((PyArrayObject *)out) &&
                 PyArray_NDIM((PyArrayObject *)out) == a->ndims;
        for (int d = 0; ok && d < a->ndims; d++)
            ok = PyArray_DIM((PyArrayObject *)out, d) == dims[d];
        if (!ok) {
            PyObject *exp = u64_tuple(a->local, a->ndims);
            PyObject *es = exp ? PyObject_Str(exp) : NULL;
            char msg[256];
            snprintf(msg, sizeof msg,
                     "out must be a writable C-contiguous %s ndarray of shape %s "
                     "(assoc.local_shape)",
                     strata_dtype_name(a->dtype), es ? PyUnicode_AsUTF8(es) : "?");
            Py_XDECREF(es);
            Py_XDECREF(exp);
            return pyst_raise(STRATA_ETYPE, msg);
        }
        arr = (PyArrayObject *)Py_NewRef(out);
    }
    if (assoc_mode(a, MODE_LOAD) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    const char *n = PyUnicode_AsUTF8(name);
    void *buf = PyArray_DATA(arr);
    pyst_status st;
    PYST_CALL_NOGIL(a->pool, st, strata_load(a->as, n, it, buf));
    if (PYST_FAILED(st)) {
        Py_DECREF(arr);
        return pyst_fail(&st);
    }
    return (PyObject *)arr;
}

static PyObject *assoc_load_list(AssocObject *a, PyObject *args)
{
    PyObject *name, *iter, *index;
    int64_t it;
    if (!PyArg_ParseTuple(args, "UOO:load_list", &name, &iter, &index) || assoc_check(a) < 0 ||
        assoc_has(a, name) < 0 || iteration_arg(iter, &it) < 0 || assoc_known(a, name, it) < 0)
        return NULL;
    PyArrayObject *idx = pyst_values(index, STRATA_U64, "load_list index");
    if (idx == NULL) return NULL;
    if (PyArray_NDIM(idx) > 1) {
        Py_DECREF(idx);
        return pyst_raise(STRATA_EINVAL, "load_list: the index must be 1-D (linear C-order "
                                         "indices; np.ravel_multi_index makes them)");
    }
    npy_intp n = PyArray_SIZE(idx);
    PyArrayObject *arr = (PyArrayObject *)PyArray_SimpleNew(1, &n, pyst_npy_type(a->dtype));
    if (arr == NULL || assoc_mode(a, MODE_LOAD) < 0) {
        Py_XDECREF(arr);
        Py_DECREF(idx);
        return NULL;
    }
    const char *nm = PyUnicode_AsUTF8(name);
    const uint64_t *ip = PyArray_DATA(idx);
    void *buf = PyArray_DATA(arr);
    pyst_status st;
    PYST_CALL_NOGIL(a->pool, st, strata_load_list(a->as, nm, it, ip, (uint64_t)n, buf));
    Py_DECREF(idx);
    if (PYST_FAILED(st)) {
        Py_DECREF(arr);
        return pyst_fail(&st);
    }
    return (PyObject *)arr;
}

static PyObject *assoc_end(AssocObject *a, PyObject *noargs)
{
    (void)noargs;
    if (assoc_check(a) < 0 || assoc_mode(a, MODE_IDLE) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *assoc_last(AssocObject *a, PyObject *noargs)
{
    (void)noargs;
    if (assoc_check(a) < 0) return NULL;
    strata_plan p;
    memset(&p, 0, sizeof p);
    strata_assoc_last(a->as, &p);
    return plan_dict(&p, 1);
}

static PyObject *assoc_global_index(AssocObject *a, PyObject *args)
{
    int dim;
    if (!PyArg_ParseTuple(args, "i:global_index", &dim) || assoc_check(a) < 0) return NULL;
    if (dim < 0) dim += a->ndims;
    if (dim < 0 || dim >= a->ndims) {
        char msg[96];
        snprintf(msg, sizeof msg, "dimension %d is out of range for %d dimensions", dim, a->ndims);
        return pyst_raise(STRATA_ERANGE, msg);
    }
    npy_intp n = (npy_intp)a->local[dim];
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT64);
    if (out == NULL) return NULL;
    int64_t *v = PyArray_DATA(out);
    for (npy_intp i = 0; i < n; i++) v[i] = (int64_t)strata_assoc_global(a->as, dim, (uint64_t)i);
    return (PyObject *)out;
}

static PyObject *assoc_enter(AssocObject *a, PyObject *noargs)
{
    (void)noargs;
    if (assoc_check(a) < 0) return NULL;
    return Py_NewRef(a);
}

static PyObject *assoc_get_names(AssocObject *a, void *c)
{
    (void)c;
    return PySequence_List(a->names);
}

static PyObject *assoc_get_dtype(AssocObject *a, void *c)
{
    (void)c;
    if (!a->known && (assoc_lookup(a) < 0 || !a->known)) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    return pyst_np_dtype(a->dtype);
}

static PyObject *assoc_get_shape(AssocObject *a, void *c)
{
    (void)c;
    if (!a->known && (assoc_lookup(a) < 0 || !a->known)) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    return u64_tuple(a->dims, a->ndims);
}

static PyObject *assoc_get_local_shape(AssocObject *a, void *c)
{
    (void)c;
    if (!a->known && (assoc_lookup(a) < 0 || !a->known)) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    return u64_tuple(a->local, a->ndims);
}

static PyObject *assoc_get_run(AssocObject *a, void *c)
{
    (void)c;
    return PyLong_FromLongLong(a->run);
}

static PyObject *assoc_get_pattern(AssocObject *a, void *c)
{
    (void)c;
    return Py_NewRef(a->pattern);
}

static PyObject *assoc_get_mdms(AssocObject *a, void *c)
{
    (void)c;
    return Py_NewRef(a->mdms);
}

static PyObject *assoc_repr(AssocObject *a)
{
    PyObject *names = PySequence_List(a->names), *shape = u64_tuple(a->dims, a->ndims),
             *local = u64_tuple(a->local, a->ndims), *r = NULL;
    if (names != NULL && shape != NULL && local != NULL)
        r = PyUnicode_FromFormat("<strata.Assoc run %lld %R %s %R %R, local %R%s>",
                                 (long long)a->run, names, strata_dtype_name(a->dtype), shape,
                                 a->pattern, local,
                                 a->release == NULL || a->close_requested ? " (closed)" : "");
    Py_XDECREF(names);
    Py_XDECREF(shape);
    Py_XDECREF(local);
    return r;
}

static PyMethodDef assoc_methods[] = {
    {"save", (PyCFunction)assoc_save, METH_VARARGS,
     "save(name, iteration, data)\n--\n\n"
     "Save ITERATION (>= 0) of dataset NAME from this process's piece DATA (an ndarray of\n"
     "assoc.local_shape; values convert when they fit the dtype exactly). Collective: every\n"
     "process calls it with its own piece. Visible to readers when it returns, atomically.\n"
     "Raises Exists if that iteration is saved, InvalidArgument on a wrong shape, TypeMismatch\n"
     "when the values do not fit. The GIL is released during the I/O."},
    {"load", (PyCFunction)(void (*)(void))assoc_load, METH_VARARGS | METH_KEYWORDS,
     "load(name, iteration, *, out=None)\n--\n\n"
     "Load ITERATION of dataset NAME: this process's piece, a new ndarray of\n"
     "assoc.local_shape (or into OUT, a writable C-contiguous array of that shape and dtype).\n"
     "Collective. Raises NotFound if the iteration was never (completely) saved. With a\n"
     "'sequential' pattern the next iteration is prefetched meanwhile. The GIL is released."},
    {"load_list", (PyCFunction)assoc_load_list, METH_VARARGS,
     "load_list(name, iteration, index)\n--\n\n"
     "The elements of ITERATION of NAME at the linear (C-order) global indices INDEX (any\n"
     "order, repeats allowed), as a 1-D ndarray. Each process passes its own list. Collective.\n"
     "OutOfRange if an index is outside the dataset."},
    {"end", (PyCFunction)assoc_end, METH_NOARGS,
     "end()\n--\n\nEnd the current saves or loads (waiting for a prefetch). save() and load()\n"
     "begin them as needed; close() ends them too. Collective."},
    {"last", (PyCFunction)assoc_last, METH_NOARGS,
     "last()\n--\n\nWhat the last save or load did, as this process saw it: a dict with\n"
     "strategy, reason, prefetch, prestage, procs, requests, bytes, useful, estimate and\n"
     "seconds (the time of the I/O)."},
    {"global_index", (PyCFunction)assoc_global_index, METH_VARARGS,
     "global_index(dim)\n--\n\nThe global indices along dimension DIM of this process's local\n"
     "indices 0..local_shape[dim]-1, as an int64 ndarray: the piece is\n"
     "full[np.ix_(*(assoc.global_index(d) for d in range(len(assoc.shape))))]."},
    {"close", (PyCFunction)pyst_child_close_meth, METH_NOARGS,
     "close()\n--\n\nEnd saves or loads and close the association. Collective."},
    {"__enter__", (PyCFunction)assoc_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pyst_child_exit_meth, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef assoc_getset[] = {
    {"names", (getter)assoc_get_names, NULL, "The datasets of the association (list of str).",
     NULL},
    {"dtype", (getter)assoc_get_dtype, NULL, "The numpy dtype of its datasets.", NULL},
    {"shape", (getter)assoc_get_shape, NULL, "The global shape of its datasets (tuple).", NULL},
    {"local_shape", (getter)assoc_get_local_shape, NULL,
     "This process's piece of the datasets (tuple): what save() takes and load() returns.", NULL},
    {"run", (getter)assoc_get_run, NULL, "The run whose datasets it saves or loads.", NULL},
    {"pattern", (getter)assoc_get_pattern, NULL, "Its access pattern.", NULL},
    {"mdms", (getter)assoc_get_mdms, NULL, "The Mdms it was made through.", NULL},
    {"closed", (getter)pyst_child_get_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject AssocType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Assoc",
    .tp_basicsize = sizeof(AssocObject),
    .tp_dealloc = (destructor)assoc_dealloc,
    .tp_repr = (reprfunc)assoc_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_weaklistoffset = offsetof(AssocObject, weakrefs),
    .tp_doc = "An association: datasets of one dtype and shape that a program saves and loads\n"
              "together with one access pattern (m.create() for the current run, m.open() for an\n"
              "earlier one). Each process passes and receives only its piece (local_shape):\n\n"
              "    with m.run(grid=64) as run:\n"
              "        with m.create(['temperature'], 'f64', (64, 64), '(BLOCK,*)') as a:\n"
              "            for it in range(10):\n"
              "                a.save('temperature', it, piece)\n"
              "    with m.open('last', ['temperature'], '(*,BLOCK) sequential') as r:\n"
              "        t = r.load('temperature', 9)\n\n"
              "save, load, load_list, end and close are collective over the Mdms's communicator.",
    .tp_methods = assoc_methods,
    .tp_getset = assoc_getset,
};

/* ---- strata.Mdms ----------------------------------------------------------------------------- */

static void mdms_release(PyObject *self)
{
    MdmsObject *m = (MdmsObject *)self;
    strata_mdms_finalize(m->m);
    m->m = NULL;
    m->run = 0;
}

static int mdms_check(MdmsObject *m)
{
    if (m->m == NULL || m->release == NULL || m->close_requested) {
        pyst_raise(STRATA_EINVAL, "the Mdms is closed");
        return -1;
    }
    return pyst_check_open(m->pool);
}

static void mdms_dealloc(MdmsObject *m)
{
    if (m->weakrefs != NULL) PyObject_ClearWeakRefs((PyObject *)m);
    m->exports = 0;
    pyst_child_close((ChildObject *)m);
    Py_CLEAR(m->app);
    Py_CLEAR(m->assocs);
    Py_XDECREF(m->pool);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

/* The attribute values of KW as strata_attr (None: not given). ATTRS has room for the dict's
 * size; the strings belong to KW. -1 with an exception. */
static int attrs_from_kw(PyObject *kw, strata_attr *attrs, int *n)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    *n = 0;
    while (kw != NULL && PyDict_Next(kw, &pos, &k, &v)) {
        if (v == Py_None) continue;
        strata_attr *a = &attrs[(*n)++];
        memset(a, 0, sizeof *a);
        a->name = PyUnicode_AsUTF8(k);
        if (a->name == NULL) return -1;
        if (PyUnicode_Check(v)) {
            a->type = STRATA_ATTR_TEXT;
            if ((a->s = PyUnicode_AsUTF8(v)) == NULL) return -1;
        } else if (PyIndex_Check(v)) {
            a->type = STRATA_ATTR_INT;
            PyObject *i = PyNumber_Index(v);
            a->i = i != NULL ? PyLong_AsLongLong(i) : -1;
            Py_XDECREF(i);
            if (a->i == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                char msg[160];
                snprintf(msg, sizeof msg, "run attribute '%s': the integer does not fit 64 bits",
                         a->name);
                pyst_raise(STRATA_ERANGE, msg);
                return -1;
            }
        } else if (PyFloat_Check(v) || PyNumber_Check(v)) {
            a->type = STRATA_ATTR_FLOAT;
            a->f = PyFloat_AsDouble(v);
            if (a->f == -1.0 && PyErr_Occurred()) {
                PyErr_Clear();
                goto bad;
            }
        } else {
            goto bad;
        }
        continue;
    bad:;
        PyObject *t = PyObject_Repr((PyObject *)Py_TYPE(v));
        char msg[256];
        snprintf(msg, sizeof msg, "run attribute '%s': a value of %s is not an int, float or str",
                 a->name, t ? PyUnicode_AsUTF8(t) : "?");
        Py_XDECREF(t);
        pyst_raise(STRATA_ETYPE, msg);
        return -1;
    }
    return 0;
}

static PyObject *mdms_begin_run(MdmsObject *m, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args) != 0)
        return pyst_raise(STRATA_EINVAL, "begin_run takes the run attributes as keywords: "
                                         "begin_run(grid=64, solver='cg')");
    if (mdms_check(m) < 0) return NULL;
    Py_ssize_t nkw = kw != NULL ? PyDict_GET_SIZE(kw) : 0;
    strata_attr *attrs = PyMem_Calloc((size_t)nkw + 1, sizeof *attrs);
    if (attrs == NULL) return PyErr_NoMemory();
    int n = 0;
    if (attrs_from_kw(kw, attrs, &n) < 0) {
        PyMem_Free(attrs);
        return NULL;
    }
    int64_t run = 0;
    pyst_status st;
    PYST_CALL_NOGIL(m->pool, st, strata_run_begin(m->m, attrs, n, &run));
    PyMem_Free(attrs);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    m->run = run;
    return PyLong_FromLongLong(run);
}

static PyObject *mdms_end_run(MdmsObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ok", NULL};
    int ok = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:end_run", kwlist, &ok) || mdms_check(m) < 0)
        return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(m->pool, st, strata_run_end(m->m, ok));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    m->run = 0;
    Py_RETURN_NONE;
}

/* SHAPE: an int or a sequence of ints, each >= 1. */
static int shape_arg(PyObject *shape, uint64_t *dims, int *ndims)
{
    PyObject *t = PyIndex_Check(shape) ? PyTuple_Pack(1, shape) : PySequence_Tuple(shape);
    if (t == NULL) {
        PyErr_Clear();
        pyst_raise(STRATA_EINVAL, "shape must be an int or a sequence of ints");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(t);
    if (n < 1 || n > STRATA_ND_MAXDIMS) {
        Py_DECREF(t);
        char msg[96];
        snprintf(msg, sizeof msg, "shape has %zd dimensions (1 to %d allowed)", n,
                 STRATA_ND_MAXDIMS);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long long v = PyLong_AsLongLong(PyTuple_GET_ITEM(t, i));
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            v = -1;
        }
        if (v < 1) {
            Py_DECREF(t);
            char msg[96];
            snprintf(msg, sizeof msg, "shape: dimension %zd must be an integer >= 1", i);
            pyst_raise(STRATA_EINVAL, msg);
            return -1;
        }
        dims[i] = (uint64_t)v;
    }
    *ndims = (int)n;
    Py_DECREF(t);
    return 0;
}

static PyObject *mdms_create(MdmsObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"names", "dtype", "shape", "pattern", "storage", NULL};
    PyObject *names_obj, *dtype_obj, *shape_obj, *pattern, *storage_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOU|O:create", kwlist, &names_obj, &dtype_obj,
                                     &shape_obj, &pattern, &storage_obj) ||
        mdms_check(m) < 0)
        return NULL;
    strata_dtype dt;
    uint64_t dims[STRATA_ND_MAXDIMS];
    int ndims;
    if (pyst_dtype_from_obj(dtype_obj, &dt) < 0 || shape_arg(shape_obj, dims, &ndims) < 0)
        return NULL;
    const char *storage = NULL;
    if (storage_obj != Py_None) {
        if (!PyUnicode_Check(storage_obj))
            return pyst_raise(STRATA_EINVAL, "storage must be a str ('chunked(16,16) tier=ssd') "
                                             "or None");
        if ((storage = PyUnicode_AsUTF8(storage_obj)) == NULL) return NULL;
    }
    PyObject *names = names_tuple(names_obj);
    if (names == NULL) return NULL;
    const char **nv = names_utf8(names);
    const char *pat = PyUnicode_AsUTF8(pattern);
    if (nv == NULL || pat == NULL) {
        PyMem_Free(nv);
        Py_DECREF(names);
        return NULL;
    }
    int n = (int)PyTuple_GET_SIZE(names);
    strata_assoc *as = NULL;
    pyst_status st;
    if (pyst_child_busy((ChildObject *)m) < 0) { /* M stays open until the new one is listed */
        PyMem_Free(nv);
        Py_DECREF(names);
        return NULL;
    }
    PYST_CALL_NOGIL(m->pool, st,
                    strata_assoc_create(m->m, nv, n, dt, ndims, dims, pat, storage, &as));
    PyMem_Free(nv);
    PyObject *r =
        PYST_FAILED(st) ? pyst_fail(&st) : assoc_new(m, as, names, pattern, dt, ndims, dims);
    pyst_child_unbusy((ChildObject *)m);
    Py_DECREF(names);
    return r;
}

static PyObject *mdms_open(MdmsObject *m, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"run", "names", "pattern", NULL};
    PyObject *run_obj, *names_obj, *pattern;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOU:open", kwlist, &run_obj, &names_obj,
                                     &pattern) ||
        mdms_check(m) < 0)
        return NULL;
    PyObject *q = NULL;
    if (PyUnicode_Check(run_obj))
        q = Py_NewRef(run_obj);
    else if (PyIndex_Check(run_obj) && !PyBool_Check(run_obj))
        q = PyObject_Str(run_obj);
    else
        return pyst_raise(STRATA_EINVAL, "run must be a run id (int), 'last', or a condition on "
                                         "run attributes ('grid = 64 and iterations >= 100')");
    if (q == NULL) return NULL;
    PyObject *names = names_tuple(names_obj);
    const char **nv = names != NULL ? names_utf8(names) : NULL;
    const char *qs = PyUnicode_AsUTF8(q), *pat = PyUnicode_AsUTF8(pattern);
    if (nv == NULL || qs == NULL || pat == NULL) {
        PyMem_Free(nv);
        Py_XDECREF(names);
        Py_DECREF(q);
        return NULL;
    }
    int n = (int)PyTuple_GET_SIZE(names);
    strata_assoc *as = NULL;
    pyst_status st;
    if (pyst_child_busy((ChildObject *)m) < 0) {
        PyMem_Free(nv);
        Py_DECREF(names);
        Py_DECREF(q);
        return NULL;
    }
    PYST_CALL_NOGIL(m->pool, st, strata_assoc_get(m->m, qs, nv, n, pat, &as));
    PyMem_Free(nv);
    Py_DECREF(q);
    PyObject *r = NULL;
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
    } else {
        uint64_t dims[STRATA_ND_MAXDIMS] = {0};
        r = assoc_new(m, as, names, pattern, STRATA_F64, 0, dims);
        if (r != NULL && assoc_lookup((AssocObject *)r) < 0) Py_CLEAR(r);
    }
    pyst_child_unbusy((ChildObject *)m);
    Py_DECREF(names);
    return r;
}

static PyObject *mdms_close(MdmsObject *m, PyObject *noargs)
{
    (void)noargs;
    /* its associations first, oldest first (the same order on every process) */
    for (Py_ssize_t i = 0; m->assocs != NULL && i < PyList_GET_SIZE(m->assocs); i++) {
        PyObject *a = PyWeakref_GetObject(PyList_GET_ITEM(m->assocs, i));
        if (a != NULL && a != Py_None) {
            Py_INCREF(a);
            pyst_child_close((ChildObject *)a);
            Py_DECREF(a);
        }
    }
    if (m->assocs != NULL && PyList_SetSlice(m->assocs, 0, PY_SSIZE_T_MAX, NULL) < 0) return NULL;
    pyst_child_close((ChildObject *)m);
    Py_RETURN_NONE;
}

static PyObject *mdms_enter(MdmsObject *m, PyObject *noargs)
{
    (void)noargs;
    if (mdms_check(m) < 0) return NULL;
    return Py_NewRef(m);
}

static PyObject *mdms_exit(MdmsObject *m, PyObject *args)
{
    PyObject *type = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : Py_None;
    if (type != Py_None && m->run != 0 && mdms_check(m) == 0) {
        /* an exception leaves the block: the open run failed */
        pyst_status st;
        PYST_CALL_NOGIL(m->pool, st, strata_run_end(m->m, 0));
        if (!PYST_FAILED(st)) m->run = 0;
    }
    PyErr_Clear();
    return mdms_close(m, NULL);
}

static PyObject *mdms_get_app(MdmsObject *m, void *c)
{
    (void)c;
    return Py_NewRef(m->app);
}

static PyObject *mdms_get_rank(MdmsObject *m, void *c)
{
    (void)c;
    return PyLong_FromLong(m->rank);
}

static PyObject *mdms_get_size(MdmsObject *m, void *c)
{
    (void)c;
    return PyLong_FromLong(m->size);
}

static PyObject *mdms_get_run_id(MdmsObject *m, void *c)
{
    (void)c;
    if (m->run == 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(m->run);
}

static PyObject *mdms_get_closed(MdmsObject *m, void *c)
{
    (void)c;
    return PyBool_FromLong(m->release == NULL || m->close_requested);
}

static PyObject *mdms_get_pool(MdmsObject *m, void *c)
{
    (void)c;
    return Py_NewRef(m->pool);
}

static PyObject *mdms_repr(MdmsObject *m)
{
    int closed = m->release == NULL || m->close_requested;
    if (m->run != 0 && !closed)
        return PyUnicode_FromFormat("<strata.Mdms %R rank %d of %d, run %lld>", m->app, m->rank,
                                    m->size, (long long)m->run);
    return PyUnicode_FromFormat("<strata.Mdms %R rank %d of %d%s>", m->app, m->rank, m->size,
                                closed ? " (closed)" : ", no run open");
}

static PyMethodDef mdms_methods[] = {
    {"begin_run", (PyCFunction)(void (*)(void))mdms_begin_run, METH_VARARGS | METH_KEYWORDS,
     "begin_run(**attributes)\n--\n\n"
     "Record a new run of the application with these attribute values (int, float or str, each\n"
     "in the run schema with its type; an int converts to a float attribute; None or missing:\n"
     "NULL) and return its id (the same on every process). Collective. Prefer the context\n"
     "manager m.run(**attributes). Raises InvalidArgument for an attribute not in the schema or\n"
     "while a run is open, TypeMismatch for a value of the wrong type."},
    {"end_run", (PyCFunction)(void (*)(void))mdms_end_run, METH_VARARGS | METH_KEYWORDS,
     "end_run(ok=True)\n--\n\nEnd the open run with status 'done' (OK) or 'failed'. "
     "Collective."},
    {"create", (PyCFunction)(void (*)(void))mdms_create, METH_VARARGS | METH_KEYWORDS,
     "create(names, dtype, shape, pattern, storage=None)\n--\n\n"
     "An association of the datasets NAMES (a str or a list of str) of the open run, of DTYPE\n"
     "(numeric or bool) and global SHAPE, saved with the access PATTERN ('(BLOCK,*)',\n"
     "'(CYCLIC(4),BLOCK) grid=2x2', ...) and stored as STORAGE ('row-major' (None),\n"
     "'column-major', 'chunked(16,16)', then 'tier=NAME', 'zstd=LEVEL'). Collective. Returns an\n"
     "Assoc; save() into it. InvalidArgument for a bad pattern or with no run open."},
    {"open", (PyCFunction)(void (*)(void))mdms_open, METH_VARARGS | METH_KEYWORDS,
     "open(run, names, pattern)\n--\n\n"
     "An association reading the datasets NAMES of an earlier run: RUN is a run id, 'last' (the\n"
     "latest run that saved them) or a condition on run attributes ('grid = 64': the latest\n"
     "match). PATTERN may differ from the one they were saved with; add 'sequential' to\n"
     "prefetch the next iteration. Collective. NotFound if no run matches or it lacks a\n"
     "dataset."},
    {"close", (PyCFunction)mdms_close, METH_NOARGS,
     "close()\n--\n\nClose the associations still open, end the open run as done, and free the\n"
     "handle. Collective. A with-block does it; leaving it by an exception ends the run as\n"
     "failed."},
    {"__enter__", (PyCFunction)mdms_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)mdms_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef mdms_getset[] = {
    {"app", (getter)mdms_get_app, NULL, "The application.", NULL},
    {"rank", (getter)mdms_get_rank, NULL, "This process's rank in the communicator (0 alone).",
     NULL},
    {"size", (getter)mdms_get_size, NULL, "The number of processes of the communicator.", NULL},
    {"run_id", (getter)mdms_get_run_id, NULL, "The open run's id, or None.", NULL},
    {"closed", (getter)mdms_get_closed, NULL, "True once closed.", NULL},
    {"pool", (getter)mdms_get_pool, NULL, "The Pool it was opened through.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MdmsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Mdms",
    .tp_basicsize = sizeof(MdmsObject),
    .tp_dealloc = (destructor)mdms_dealloc,
    .tp_repr = (reprfunc)mdms_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_weaklistoffset = offsetof(MdmsObject, weakrefs),
    .tp_doc = "The MDMS of one application on one communicator (pool.mdms(app, comm=None)): its\n"
              "runs, and associations to save and load datasets by name, iteration and access\n"
              "pattern, with the I/O strategy chosen by the planner. Every call is collective\n"
              "over the communicator (mpi4py's, or one process). Use it in a with-block.",
    .tp_methods = mdms_methods,
    .tp_getset = mdms_getset,
};

/* ---- Pool methods ---------------------------------------------------------------------------- */

static PyObject *pool_mdms(PoolObject *p, PyObject *args)
{
    const char *app;
    unsigned long long comm_addr = 0;
    if (!PyArg_ParseTuple(args, "s|K:_mdms", &app, &comm_addr) || pyst_pool_check(p) < 0)
        return NULL;
    const void *comm = (const void *)(uintptr_t)comm_addr;
    strata_mdms *h = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_mdms_init(p->pool, app, comm, &h));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    PyTypeObject *cls = pyst_class("Mdms", &MdmsType);
    MdmsObject *m = (MdmsObject *)cls->tp_alloc(cls, 0);
    if (m != NULL) {
        m->app = PyUnicode_FromString(app);
        m->assocs = PyList_New(0);
    }
    if (m == NULL || m->app == NULL || m->assocs == NULL) {
        Py_XDECREF(m);
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(p->mu, WAIT_LOCK);
        strata_mdms_finalize(h);
        PyThread_release_lock(p->mu);
        Py_END_ALLOW_THREADS return NULL;
    }
    pyst_child_attach(p);
    m->pool = p;
    m->m = h;
    m->release = mdms_release;
    strata_mdms_rank(h, &m->rank, &m->size);
    return (PyObject *)m;
}

/* A type of register_app: int, float, str or 'int', 'float', 'text' ('str'). */
static int attr_type_of(PyObject *name, PyObject *t, strata_attr_type *out)
{
    if (t == (PyObject *)&PyLong_Type) {
        *out = STRATA_ATTR_INT;
        return 0;
    }
    if (t == (PyObject *)&PyFloat_Type) {
        *out = STRATA_ATTR_FLOAT;
        return 0;
    }
    if (t == (PyObject *)&PyUnicode_Type) {
        *out = STRATA_ATTR_TEXT;
        return 0;
    }
    if (PyUnicode_Check(t)) {
        const char *s = PyUnicode_AsUTF8(t);
        if (s == NULL) return -1;
        for (int k = 0; k < 3; k++)
            if (strcmp(s, attr_type_names[k]) == 0) {
                *out = (strata_attr_type)k;
                return 0;
            }
        if (strcmp(s, "str") == 0) {
            *out = STRATA_ATTR_TEXT;
            return 0;
        }
    }
    PyObject *r = PyObject_Repr(t);
    char msg[256];
    snprintf(msg, sizeof msg,
             "attribute '%s': %s is not a run attribute type (int, float, str, or 'int', "
             "'float', 'text')",
             PyUnicode_AsUTF8(name), r ? PyUnicode_AsUTF8(r) : "?");
    Py_XDECREF(r);
    pyst_raise(STRATA_EINVAL, msg);
    return -1;
}

static PyObject *pool_register_app(PoolObject *p, PyObject *args, PyObject *kw)
{
    const char *app;
    if (!PyArg_ParseTuple(args, "s:register_app", &app) || pyst_pool_check(p) < 0) return NULL;
    Py_ssize_t nkw = kw != NULL ? PyDict_GET_SIZE(kw) : 0;
    strata_attr_def *defs = PyMem_Calloc((size_t)nkw + 1, sizeof *defs);
    if (defs == NULL) return PyErr_NoMemory();
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (kw != NULL && PyDict_Next(kw, &pos, &k, &v)) {
        defs[i].name = PyUnicode_AsUTF8(k);
        if (defs[i].name == NULL || attr_type_of(k, v, &defs[i].type) < 0) {
            PyMem_Free(defs);
            return NULL;
        }
        i++;
    }
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_app_register(p->pool, app, defs, (int)nkw));
    PyMem_Free(defs);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static int schema_item(void *ctx, const strata_attr_def *d)
{
    if (ctx == NULL) return 0;
    PyObject *t = PyUnicode_FromString((unsigned)d->type <= 2 ? attr_type_names[d->type] : "?");
    int rc = t != NULL ? PyDict_SetItemString((PyObject *)ctx, d->name, t) : -1;
    Py_XDECREF(t);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_app_schema(PoolObject *p, PyObject *args)
{
    const char *app;
    if (!PyArg_ParseTuple(args, "s:app_schema", &app)) return NULL;
    PyObject *d = PyDict_New();
    if (d == NULL || pyst_pool_lock(p) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    int rc = strata_app_schema(p->pool, app, schema_item, d);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc != 0) Py_CLEAR(d);
    return d;
}

static PyObject *pool_apps(PoolObject *p, PyObject *noargs)
{
    (void)noargs;
    if (pyst_pool_lock(p) < 0) return NULL;
    PyObject *regions = pyst_regions_arg(p, Py_None), *out = regions ? PyList_New(0) : NULL;
    for (Py_ssize_t i = 0; out != NULL && i < PyList_GET_SIZE(regions); i++) {
        PyObject *r = PyList_GET_ITEM(regions, i);
        const char *s = PyUnicode_AsUTF8(r);
        int rc = s != NULL ? strata_app_schema(p->pool, s, schema_item, NULL) : 1;
        if (rc == STRATA_OK) {
            if (PyList_Append(out, r) < 0) Py_CLEAR(out);
        } else if (rc != STRATA_ENOTFOUND) {
            if (rc < 0) pyst_raise_pool(p, rc);
            Py_CLEAR(out);
        }
    }
    pyst_unlock(p);
    Py_XDECREF(regions);
    return out;
}

/* ---- queries: runs and find ------------------------------------------------------------------ */

static PyObject *attr_value(const strata_attr *a)
{
    if ((int)a->type < 0) Py_RETURN_NONE;
    if (a->type == STRATA_ATTR_INT) return PyLong_FromLongLong(a->i);
    if (a->type == STRATA_ATTR_FLOAT) return PyFloat_FromDouble(a->f);
    return a->s != NULL ? pyst_str(a->s, strlen(a->s)) : Py_NewRef(Py_None);
}

static PyObject *opt_str(const char *s)
{
    return s != NULL ? pyst_str(s, strlen(s)) : Py_NewRef(Py_None);
}

/* The keys of a run dict that an attribute name could take. */
static int run_key_taken(const char *name)
{
    static const char *const keys[] = {"id", "app", "host", "started_ns", "ended_ns"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcmp(name, keys[i]) == 0) return 1;
    return 0;
}

static PyObject *ended_value(int64_t ns)
{
    if (ns == 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(ns);
}

static int run_item(void *ctx, const strata_run_info *r)
{
    PyObject *d = Py_BuildValue(
        "{s:L,s:N,s:N,s:N,s:N,s:L,s:N,s:i}", "id", (long long)r->id, "app", opt_str(r->app), "user",
        opt_str(r->user), "host", opt_str(r->host), "status", opt_str(r->status), "started_ns",
        (long long)r->started_ns, "ended_ns", ended_value(r->ended_ns), "nprocs", r->nprocs);
    for (int i = 0; d != NULL && i < r->nattrs; i++) {
        const strata_attr *a = &r->attrs[i];
        PyObject *v = attr_value(a);
        char key[80];
        snprintf(key, sizeof key, "%s%s", run_key_taken(a->name) ? "attr_" : "", a->name);
        if (v == NULL || PyDict_SetItemString(d, key, v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    int rc = d != NULL ? PyList_Append((PyObject *)ctx, d) : -1;
    Py_XDECREF(d);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_runs(PoolObject *p, PyObject *args)
{
    const char *app, *where = NULL;
    if (!PyArg_ParseTuple(args, "s|z:runs", &app, &where)) return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL || pyst_pool_lock(p) < 0) {
        Py_XDECREF(list);
        return NULL;
    }
    int rc = strata_runs(p->pool, app, where, run_item, list);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

static int exec_item(void *ctx, const strata_exec_info *e)
{
    PyObject *hist = PyList_New(STRATA_HIST_BINS);
    for (int i = 0; hist != NULL && i < STRATA_HIST_BINS; i++) {
        PyObject *x = PyLong_FromUnsignedLongLong(e->hist[i]);
        if (x == NULL) {
            Py_CLEAR(hist);
            break;
        }
        PyList_SET_ITEM(hist, i, x);
    }
    PyObject *shape = u64_tuple(e->dims, e->ndims);
    PyObject *d = NULL;
    if (hist != NULL && shape != NULL)
        d = Py_BuildValue(
            "{s:L,s:L,s:N,s:N,s:N,s:N,s:N,s:N,s:s,s:O,s:K,s:K,s:d,s:i,s:d,s:d,s:d,s:d,s:O,s:L}",
            "run", (long long)e->run, "iteration", (long long)e->iteration, "app", opt_str(e->app),
            "dataset", opt_str(e->dataset), "array", opt_str(e->array), "tier", opt_str(e->tier),
            "strategy", opt_str(e->strategy), "layout", opt_str(e->layout), "dtype",
            strata_dtype_name(e->dtype), "shape", shape, "bytes", (unsigned long long)e->bytes,
            "files", (unsigned long long)e->files, "seconds", e->seconds, "nprocs", e->nprocs,
            "min", e->min, "max", e->max, "mean", e->mean, "std", e->std, "hist", hist,
            "created_ns", (long long)e->created_ns);
    Py_XDECREF(hist);
    Py_XDECREF(shape);
    int rc = d != NULL ? PyList_Append((PyObject *)ctx, d) : -1;
    Py_XDECREF(d);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_find(PoolObject *p, PyObject *args)
{
    const char *app, *dataset = NULL, *where = NULL;
    if (!PyArg_ParseTuple(args, "s|zz:find", &app, &dataset, &where)) return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL || pyst_pool_lock(p) < 0) {
        Py_XDECREF(list);
        return NULL;
    }
    int rc = strata_find(p->pool, app, dataset, where, exec_item, list);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

static PyObject *pool_explain(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"app", "run", "dataset", "pattern", "procs", NULL};
    const char *app, *dataset, *pattern;
    long long run;
    int procs = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sLss|i:explain", kwlist, &app, &run, &dataset,
                                     &pattern, &procs) ||
        pyst_pool_check(p) < 0)
        return NULL;
    if (procs < 1) return pyst_raise(STRATA_EINVAL, "procs must be >= 1");
    strata_plan plan;
    memset(&plan, 0, sizeof plan);
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_explain(p->pool, app, run, dataset, pattern, procs, &plan));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return plan_dict(&plan, 0);
}

static int tool_item(void *ctx, const char *name, const char *kind, const char *command)
{
    PyObject *d = Py_BuildValue("{s:N,s:N,s:N}", "name", opt_str(name), "kind", opt_str(kind),
                                "command", opt_str(command));
    int rc = d != NULL ? PyList_Append((PyObject *)ctx, d) : -1;
    Py_XDECREF(d);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_tools(PoolObject *p, PyObject *noargs)
{
    (void)noargs;
    PyObject *list = PyList_New(0);
    if (list == NULL || pyst_pool_lock(p) < 0) {
        Py_XDECREF(list);
        return NULL;
    }
    int rc = strata_tool_list(p->pool, tool_item, list);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

static PyObject *pool_register_tool(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "kind", "command", NULL};
    const char *name, *kind, *command;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sss:register_tool", kwlist, &name, &kind,
                                     &command) ||
        pyst_pool_lock(p) < 0)
        return NULL;
    int rc = strata_tool_register(p->pool, name, kind, command);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

PyMethodDef pyst_pool_mdms_methods[] = {
    {"register_app", (PyCFunction)(void (*)(void))pool_register_app, METH_VARARGS | METH_KEYWORDS,
     "register_app(app, **attribute_types)\n--\n\n"
     "Register application APP (its region is created if missing) with run attributes given\n"
     "as NAME=TYPE, TYPE being int, float, str or 'int', 'float', 'text':\n"
     "    pool.register_app('astro3d', grid=int, dt=float, solver=str)\n"
     "Registering again adds new attributes; changing one's type raises TypeMismatch. Names\n"
     "used by queries (run, dataset, iteration, min, max, ...) raise InvalidArgument."},
    {"app_schema", (PyCFunction)pool_app_schema, METH_VARARGS,
     "app_schema(app)\n--\n\nThe run attributes of APP: a dict name -> 'int' | 'float' | 'text',\n"
     "in registration order. NotFound if APP is not a registered application."},
    {"apps", (PyCFunction)pool_apps, METH_NOARGS,
     "apps()\n--\n\nThe names of the registered applications (regions with a run schema)."},
    {"_runs", (PyCFunction)pool_runs, METH_VARARGS, "Runs of an app (see runs())."},
    {"_find", (PyCFunction)pool_find, METH_VARARGS, "Saved iterations (see find())."},
    {"explain", (PyCFunction)(void (*)(void))pool_explain, METH_VARARGS | METH_KEYWORDS,
     "explain(app, run, dataset, pattern, procs=1)\n--\n\n"
     "How PROCS processes would read DATASET of run RUN of APP with access PATTERN: a dict with\n"
     "strategy (contiguous, sieve, collective, independent, chunked), reason, prefetch,\n"
     "prestage, procs, requests and bytes (all processes), useful (bytes of the pieces) and\n"
     "estimate (seconds, the cost model's). NotFound for an unknown run or dataset,\n"
     "InvalidArgument for a bad pattern."},
    {"tools", (PyCFunction)pool_tools, METH_NOARGS,
     "tools()\n--\n\nThe registered visualisation and analysis tools: a list of dicts with\n"
     "name, kind and command, in name order."},
    {"register_tool", (PyCFunction)(void (*)(void))pool_register_tool, METH_VARARGS | METH_KEYWORDS,
     "register_tool(name, kind, command)\n--\n\nRegister (or replace) tool NAME of the pool's "
     "tool table."},
    {"_mdms", (PyCFunction)pool_mdms, METH_VARARGS,
     "_mdms(app, comm_address=0) (internal: use mdms())."},
    {NULL, NULL, 0, NULL},
};

int pyst_mdms_init(PyObject *module)
{
    if (PyType_Ready(&MdmsType) < 0 || PyType_Ready(&AssocType) < 0) return -1;
    if (PyModule_AddObjectRef(module, "Mdms", (PyObject *)&MdmsType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Assoc", (PyObject *)&AssocType);
}
