/*
 * ndarray.c -- strata.NdArray, an N-d array of a pool (chunked, row-major or column-major, an
 * optionally unlimited first dimension, zstd, tiers) with numpy's basic indexing for reads and
 * writes; and the Pool methods of N-d arrays, storage tiers, migration and staging
 * (strata.Stage, a staging job running in the background).
 *
 * A selection nd[k0, k1, ...] (ints, slices with any step, Ellipsis, fewer keys than dims) is a
 * strided rectangle of the array: per dimension the first element, the count and the stride,
 * all ascending. It is read with strata_ndarray_read(_strided) into a C-order buffer of the
 * counts; then "the post key" -- 0 for a dimension indexed by an int, ::-1 for a slice with a
 * negative step, : otherwise -- turns the buffer into the array numpy's indexing would give.
 * A write runs the other way: the values are assigned through the post key into such a buffer
 * (numpy broadcasting) and the buffer is written. Every N-d call holds the pool's lock with the
 * GIL released (the library's N-d handles are not thread-safe data paths).
 */
#include "pystrata.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXD STRATA_ND_MAXDIMS

typedef struct NdObject {
    PyObject_HEAD PYST_CHILD_HEAD;
    strata_ndarray *a;
    strata_dtype dtype;
    int ndims;
    int verbose;        /* report staging on demand on sys.stderr (the library never prints) */
    PyObject *fullname; /* "region/name" */
} NdObject;

static PyTypeObject NdType;

static const char *layout_name(strata_layout l)
{
    return l == STRATA_LAYOUT_ROW ? "row" : l == STRATA_LAYOUT_COL ? "col" : "chunked";
}

static void nd_release(PyObject *self)
{
    NdObject *nd = (NdObject *)self;
    strata_ndarray_close(nd->a);
    nd->a = NULL;
}

static int nd_check(NdObject *nd)
{
    if (nd->a == NULL || nd->release == NULL || nd->close_requested) {
        pyst_raise(STRATA_EINVAL, "the N-d array is closed");
        return -1;
    }
    return pyst_check_open(nd->pool);
}

static const char *nd_name(NdObject *nd)
{
    return PyUnicode_AsUTF8(nd->fullname);
}

static PyObject *nd_new(PoolObject *pool, strata_ndarray *h, const char *region, const char *name)
{
    PyTypeObject *cls = pyst_class("NdArray", &NdType);
    NdObject *nd = (NdObject *)cls->tp_alloc(cls, 0);
    if (nd == NULL) {
        strata_ndarray_close(h);
        return NULL;
    }
    nd->fullname = PyUnicode_FromFormat("%s/%s", region, name);
    if (nd->fullname == NULL) {
        strata_ndarray_close(h);
        Py_DECREF(nd);
        return NULL;
    }
    pyst_child_attach(pool);
    nd->pool = pool;
    nd->a = h;
    nd->release = nd_release;
    /* dtype and rank never change: read them once */
    strata_ndarray_desc d;
    pyst_status st;
    PYST_CALL_NOGIL(pool, st, strata_ndarray_info(h, &d));
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        Py_DECREF(nd);
        return NULL;
    }
    nd->dtype = d.dtype;
    nd->ndims = d.ndims;
    return (PyObject *)nd;
}

static void nd_dealloc(NdObject *nd)
{
    nd->exports = 0;
    pyst_child_close((ChildObject *)nd);
    Py_CLEAR(nd->fullname);
    Py_XDECREF(nd->pool);
    Py_TYPE(nd)->tp_free((PyObject *)nd);
}

/* The array's description as of now (the shape grows with appends, by any process). */
static int nd_desc(NdObject *nd, strata_ndarray_desc *d)
{
    if (nd_check(nd) < 0) return -1;
    pyst_status st;
    PYST_CALL_NOGIL(nd->pool, st, strata_ndarray_info(nd->a, d));
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        return -1;
    }
    return 0;
}

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

/* ---- selections ---------------------------------------------------------------------------- */

typedef struct nd_sel {
    int ndims;
    uint64_t start[MAXD], count[MAXD], stride[MAXD];
    int reversed[MAXD], drop[MAXD];
    int any_post, unit, empty;
} nd_sel;

static int sel_range_error(NdObject *nd, long long i, int dim, uint64_t size)
{
    char msg[PYST_ERRMSG_MAX];
    snprintf(msg, sizeof msg,
             "index %lld is out of range for dimension %d of N-d array '%s' (size %llu)", i, dim,
             nd_name(nd), (unsigned long long)size);
    pyst_raise(STRATA_ERANGE, msg);
    return -1;
}

/* Count the keys of ITEMS that name a dimension into *USED (all but one '...'), refusing a
 * second ellipsis and more keys than the N-d array ND has dimensions. */
static int sel_count_keys(NdObject *nd, PyObject *items, Py_ssize_t *used)
{
    Py_ssize_t nk = PyTuple_GET_SIZE(items), ell = -1;
    int n = nd->ndims;
    *used = 0;
    for (Py_ssize_t i = 0; i < nk; i++) {
        if (PyTuple_GET_ITEM(items, i) != Py_Ellipsis) {
            (*used)++;
        } else if (ell >= 0) {
            pyst_raise(STRATA_EINVAL, "an index can only have a single ellipsis ('...')");
            return -1;
        } else {
            ell = i;
        }
    }
    if (*used > n) {
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg,
                 "too many indices for N-d array '%s': it has %d dimension%s, %zd were given",
                 nd_name(nd), n, n == 1 ? "" : "s", *used);
        pyst_raise(STRATA_ERANGE, msg);
        return -1;
    }
    return 0;
}

/* Slice K (NULL: the whole dimension) of dimension DIM, of size SIZE, into S. */
static int sel_slice(PyObject *k, uint64_t size, int dim, nd_sel *s)
{
    Py_ssize_t start = 0, stop = (Py_ssize_t)size, step = 1, len = stop;
    if (k != NULL) {
        if (PySlice_Unpack(k, &start, &stop, &step) < 0) {
            if (PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear();
                pyst_raise(STRATA_EINVAL, "slice step cannot be zero");
            }
            return -1;
        }
        len = PySlice_AdjustIndices((Py_ssize_t)size, &start, &stop, step);
    }
    s->count[dim] = (uint64_t)len;
    s->reversed[dim] = step < 0;
    s->stride[dim] = (uint64_t)(step < 0 ? -step : step);
    s->start[dim] = len == 0 ? 0 : (uint64_t)(step < 0 ? start + (len - 1) * step : start);
    if (step < 0 && len > 1) s->any_post = 1;
    if (s->stride[dim] != 1 && len > 1) s->unit = 0;
    if (len <= 1) s->stride[dim] = 1;
    return 0;
}

/* Integer K (negative: from the end) of dimension DIM, of size SIZE, into S: the dimension is
 * dropped from the result. */
static int sel_int(NdObject *nd, PyObject *k, uint64_t size, int dim, nd_sel *s)
{
    long long v = PyLong_AsLongLong(k);
    if (v == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
        PyErr_Clear();
        return sel_range_error(nd, LLONG_MAX, dim, size);
    }
    long long j = v < 0 ? v + (long long)size : v;
    if (j < 0 || (uint64_t)j >= size) return sel_range_error(nd, v, dim, size);
    s->start[dim] = (uint64_t)j;
    s->count[dim] = 1;
    s->stride[dim] = 1;
    s->drop[dim] = 1;
    s->any_post = 1;
    return 0;
}

/* Refuse K, which is no basic index. */
static int sel_bad_key(NdObject *nd, PyObject *k)
{
    PyObject *r = PyObject_Repr(k);
    char msg[PYST_ERRMSG_MAX];
    snprintf(msg, sizeof msg,
             "N-d array '%s' takes basic indices (ints, slices, '...'), not %.200s: read "
             "a rectangle, then index the ndarray",
             nd_name(nd), r != NULL ? PyUnicode_AsUTF8(r) : "?");
    Py_XDECREF(r);
    PyErr_Clear();
    pyst_raise(STRATA_EINVAL, msg);
    return -1;
}

/* KEY (numpy basic indexing) against DIMS into S. */
static int sel_parse(NdObject *nd, PyObject *key, const uint64_t *dims, nd_sel *s)
{
    int n = nd->ndims, rc = -1;
    memset(s, 0, sizeof *s);
    s->ndims = n;
    PyObject *items = PyTuple_Check(key) ? Py_NewRef(key) : PyTuple_Pack(1, key);
    if (items == NULL) return -1;
    Py_ssize_t nk = PyTuple_GET_SIZE(items), used;
    if (sel_count_keys(nd, items, &used) < 0) goto done;
    s->unit = 1;
    int dim = 0;
    for (Py_ssize_t i = 0; i < nk || dim < n; i++) {
        PyObject *k = i < nk ? PyTuple_GET_ITEM(items, i) : NULL;
        if (k == Py_Ellipsis) {
            /* full slices for the dimensions no key names */
            for (Py_ssize_t j = 0; j < n - used; j++, dim++) {
                s->start[dim] = 0;
                s->count[dim] = dims[dim];
                s->stride[dim] = 1;
            }
        } else if (k == NULL || PySlice_Check(k)) {
            if (sel_slice(k, dims[dim], dim, s) < 0) goto done;
            dim++;
        } else if (PyIndex_Check(k) && !PyBool_Check(k) && !PyArray_Check(k)) {
            if (sel_int(nd, k, dims[dim], dim, s) < 0) goto done;
            dim++;
        } else {
            sel_bad_key(nd, k);
            goto done;
        }
    }
    for (int d = 0; d < n; d++)
        if (s->count[d] == 0) s->empty = 1;
    rc = 0;
done:
    Py_DECREF(items);
    return rc;
}

/* The key that turns a buffer of the counts into numpy's result (see the top). */
static PyObject *post_key(const nd_sel *s)
{
    PyObject *t = PyTuple_New(s->ndims);
    for (int d = 0; t != NULL && d < s->ndims; d++) {
        PyObject *k;
        if (s->drop[d])
            k = PyLong_FromLong(0);
        else if (s->reversed[d]) {
            PyObject *m1 = PyLong_FromLong(-1);
            k = m1 != NULL ? PySlice_New(NULL, NULL, m1) : NULL;
            Py_XDECREF(m1);
        } else
            k = PySlice_New(NULL, NULL, NULL);
        if (k == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, d, k);
    }
    return t;
}

static PyArrayObject *new_buffer(const nd_sel *s, int typenum)
{
    npy_intp dims[MAXD];
    for (int d = 0; d < s->ndims; d++) dims[d] = (npy_intp)s->count[d];
    return (PyArrayObject *)PyArray_SimpleNew(s->ndims, dims, typenum);
}

/* Read selection S into a new buffer of its counts. */
static PyArrayObject *sel_read(NdObject *nd, const nd_sel *s)
{
    PyArrayObject *buf = new_buffer(s, pyst_npy_type(nd->dtype));
    if (buf == NULL || s->empty) return buf;
    pyst_status st;
    void *dst = PyArray_DATA(buf);
    strata_ndarray_desc before, after;
    before.staged_on_demand = after.staged_on_demand = 0;
    if (nd->verbose) PYST_CALL_NOGIL(nd->pool, st, strata_ndarray_info(nd->a, &before));
    PYST_CALL_NOGIL(nd->pool, st,
                    s->unit
                        ? strata_ndarray_read(nd->a, s->start, s->count, dst)
                        : strata_ndarray_read_strided(nd->a, s->start, s->count, s->stride, dst));
    if (PYST_FAILED(st)) {
        Py_DECREF(buf);
        return (PyArrayObject *)pyst_fail(&st);
    }
    if (nd->verbose) {
        pyst_status st2;
        PYST_CALL_NOGIL(nd->pool, st2, strata_ndarray_info(nd->a, &after));
        if (st2.rc >= 0 && after.staged_on_demand > before.staged_on_demand)
            PySys_FormatStderr(
                "strata: staged %llu chunk(s) of '%U' from the archive on demand\n",
                (unsigned long long)(after.staged_on_demand - before.staged_on_demand),
                nd->fullname);
        else if (st2.rc == INT_MIN)
            PyErr_Clear();
    }
    return buf;
}

/* BUF (the counts of S) as numpy's result of the selection. */
static PyObject *sel_result(const nd_sel *s, PyArrayObject *buf)
{
    if (!s->any_post) return (PyObject *)buf;
    PyObject *key = post_key(s);
    PyObject *r = key != NULL ? PyObject_GetItem((PyObject *)buf, key) : NULL;
    Py_XDECREF(key);
    Py_DECREF(buf);
    if (r != NULL && PyArray_Check(r) && !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)r)) {
        PyObject *c = PyArray_NewCopy((PyArrayObject *)r, NPY_CORDER);
        Py_DECREF(r);
        r = c;
    }
    return r;
}

static PyObject *nd_getitem(NdObject *nd, PyObject *key)
{
    strata_ndarray_desc d;
    nd_sel s;
    if (nd_desc(nd, &d) < 0 || sel_parse(nd, key, d.dims, &s) < 0) return NULL;
    PyArrayObject *buf = sel_read(nd, &s);
    if (buf == NULL) return NULL;
    return sel_result(&s, buf);
}

/* VALUE converted to the dtype and assigned through S's post key into a new buffer of S's
 * counts (numpy broadcasting). */
static PyArrayObject *values_buffer(NdObject *nd, const nd_sel *s, PyObject *value)
{
    char what[2 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "N-d array '%s'", nd_name(nd));
    PyArrayObject *v = pyst_values(value, nd->dtype, what);
    if (v == NULL) return NULL;
    PyArrayObject *buf = new_buffer(s, pyst_npy_type(nd->dtype));
    PyObject *key = buf != NULL ? post_key(s) : NULL;
    int rc = key != NULL ? PyObject_SetItem((PyObject *)buf, key, (PyObject *)v) : -1;
    if (rc < 0 && key != NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        PyObject *vs = PyObject_GetAttrString((PyObject *)v, "shape");
        PyObject *target = PyObject_GetItem((PyObject *)buf, key);
        PyObject *ts = target != NULL ? PyObject_GetAttrString(target, "shape") : NULL;
        PyObject *vr = vs != NULL ? PyObject_Repr(vs) : NULL;
        PyObject *tr = ts != NULL ? PyObject_Repr(ts) : NULL;
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg,
                 "%s: values of shape %s do not broadcast to the selection's shape %s", what,
                 vr != NULL ? PyUnicode_AsUTF8(vr) : "?", tr != NULL ? PyUnicode_AsUTF8(tr) : "?");
        Py_XDECREF(vs);
        Py_XDECREF(target);
        Py_XDECREF(ts);
        Py_XDECREF(vr);
        Py_XDECREF(tr);
        PyErr_Clear();
        pyst_raise(STRATA_EINVAL, msg);
    }
    Py_XDECREF(key);
    Py_DECREF(v);
    if (rc < 0) Py_CLEAR(buf);
    return buf;
}

static int sel_write(NdObject *nd, const nd_sel *s, PyArrayObject *buf)
{
    pyst_status st;
    const void *src = PyArray_DATA(buf);
    PYST_CALL_NOGIL(nd->pool, st,
                    s->unit
                        ? strata_ndarray_write(nd->a, s->start, s->count, src)
                        : strata_ndarray_write_strided(nd->a, s->start, s->count, s->stride, src));
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        return -1;
    }
    return 0;
}

static int nd_setitem(NdObject *nd, PyObject *key, PyObject *value)
{
    if (value == NULL) {
        pyst_raise(STRATA_EINVAL, "elements of an N-d array cannot be deleted");
        return -1;
    }
    strata_ndarray_desc d;
    nd_sel s;
    if (nd_desc(nd, &d) < 0 || sel_parse(nd, key, d.dims, &s) < 0) return -1;
    PyArrayObject *buf = values_buffer(nd, &s, value);
    if (buf == NULL) return -1;
    int rc = s.empty ? 0 : sel_write(nd, &s, buf);
    Py_DECREF(buf);
    return rc;
}

static Py_ssize_t nd_len(NdObject *nd)
{
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return -1;
    return (Py_ssize_t)d.dims[0];
}

/* ---- rectangles given as start/count ------------------------------------------------------- */

/* A sequence of NDIMS non-negative ints (WHAT names it) into OUT; MIN the least value. */
static int u64_list(NdObject *nd, PyObject *obj, uint64_t *out, const char *what, uint64_t min)
{
    PyObject *seq = PySequence_Fast(obj, "");
    if (seq == NULL || PySequence_Fast_GET_SIZE(seq) != nd->ndims) {
        Py_XDECREF(seq);
        PyErr_Clear();
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg,
                 "%s must be a sequence of %d integers (one per dimension of '%s')", what,
                 nd->ndims, nd_name(nd));
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    for (int i = 0; i < nd->ndims; i++) {
        long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if ((v == -1 && PyErr_Occurred()) || v < (long long)min) {
            PyErr_Clear();
            Py_DECREF(seq);
            char msg[PYST_ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s[%d] must be an integer >= %llu", what, i,
                     (unsigned long long)min);
            pyst_raise(STRATA_EINVAL, msg);
            return -1;
        }
        out[i] = (uint64_t)v;
    }
    Py_DECREF(seq);
    return 0;
}

/* An explicit selection of ND (read/write with start, count, stride): unit strides unless UNIT
 * is 0, the rest filled by the caller. */
static void sel_init(NdObject *nd, nd_sel *s, int unit)
{
    memset(s, 0, sizeof *s);
    s->ndims = nd->ndims;
    s->unit = unit;
    for (int i = 0; i < nd->ndims; i++) s->stride[i] = 1;
}

static PyObject *nd_read(NdObject *nd, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"start", "count", "stride", NULL};
    PyObject *start_o, *count_o, *stride_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:read", kwlist, &start_o, &count_o, &stride_o))
        return NULL;
    if (nd_check(nd) < 0) return NULL;
    nd_sel s;
    sel_init(nd, &s, stride_o == Py_None);
    if (u64_list(nd, start_o, s.start, "start", 0) < 0 ||
        u64_list(nd, count_o, s.count, "count", 1) < 0 ||
        (stride_o != Py_None && u64_list(nd, stride_o, s.stride, "stride", 1) < 0))
        return NULL;
    return (PyObject *)sel_read(nd, &s);
}

static PyObject *nd_write(NdObject *nd, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"start", "values", "stride", NULL};
    PyObject *start_o, *values, *stride_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:write", kwlist, &start_o, &values, &stride_o))
        return NULL;
    if (nd_check(nd) < 0) return NULL;
    nd_sel s;
    sel_init(nd, &s, stride_o == Py_None);
    if (u64_list(nd, start_o, s.start, "start", 0) < 0 ||
        (stride_o != Py_None && u64_list(nd, stride_o, s.stride, "stride", 1) < 0))
        return NULL;
    char what[2 * STRATA_NAME_MAX + 32];
    snprintf(what, sizeof what, "N-d array '%s'", nd_name(nd));
    PyArrayObject *v = pyst_values(values, nd->dtype, what);
    if (v == NULL) return NULL;
    int vn = PyArray_NDIM(v);
    if (vn > nd->ndims) {
        Py_DECREF(v);
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s: values have %d dimensions, the array %d", what, vn,
                 nd->ndims);
        return pyst_raise(STRATA_EINVAL, msg);
    }
    /* fewer dimensions than the array: the leading counts are 1 */
    for (int i = 0; i < nd->ndims; i++)
        s.count[i] = i < nd->ndims - vn ? 1 : (uint64_t)PyArray_DIM(v, i - (nd->ndims - vn));
    int rc = 0;
    if (PyArray_SIZE(v) > 0) rc = sel_write(nd, &s, v);
    Py_DECREF(v);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *nd_append(NdObject *nd, PyObject *value)
{
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    nd_sel s;
    memset(&s, 0, sizeof s);
    s.ndims = nd->ndims;
    s.count[0] = 1;
    s.drop[0] = 1;
    s.any_post = 1;
    for (int i = 1; i < nd->ndims; i++) s.count[i] = d.dims[i];
    PyArrayObject *buf = values_buffer(nd, &s, value);
    if (buf == NULL) return NULL;
    uint64_t step = 0;
    pyst_status st;
    PYST_CALL_NOGIL(nd->pool, st, strata_ndarray_append_step(nd->a, PyArray_DATA(buf), &step));
    Py_DECREF(buf);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return PyLong_FromUnsignedLongLong(step);
}

static PyObject *nd_numpy(NdObject *nd, PyObject *noargs)
{
    (void)noargs;
    return nd_getitem(nd, Py_Ellipsis);
}

static PyObject *nd_array(NdObject *nd, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"dtype", "copy", NULL};
    PyObject *dtype = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:__array__", kwlist, &dtype, &copy)) return NULL;
    PyObject *a = nd_numpy(nd, NULL);
    if (a == NULL || dtype == Py_None) return a;
    PyObject *r = PyObject_CallMethod(a, "astype", "O", dtype);
    Py_DECREF(a);
    return r;
}

/* ---- summary and info ---------------------------------------------------------------------- */

static PyObject *summary_dict(const strata_summary *sm)
{
    PyObject *hist = PyList_New(STRATA_HIST_BINS);
    for (int i = 0; hist != NULL && i < STRATA_HIST_BINS; i++) {
        PyObject *x = PyLong_FromUnsignedLongLong(sm->hist[i]);
        if (x == NULL) {
            Py_CLEAR(hist);
            break;
        }
        PyList_SET_ITEM(hist, i, x);
    }
    if (hist == NULL) return NULL;
    return Py_BuildValue("{s:K,s:K,s:d,s:d,s:d,s:d,s:N,s:L,s:d,s:O}", "count",
                         (unsigned long long)sm->count, "nan", (unsigned long long)sm->nan, "min",
                         sm->min, "max", sm->max, "mean", sm->mean, "std", sm->std, "hist", hist,
                         "version", (long long)sm->version, "seconds", sm->seconds, "cached",
                         sm->cached ? Py_True : Py_False);
}

static PyObject *nd_summary(NdObject *nd, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"key", "start", "count", NULL};
    PyObject *key = Py_None, *start_o = Py_None, *count_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OO:summary", kwlist, &key, &start_o, &count_o))
        return NULL;
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    nd_sel s;
    if ((start_o != Py_None || count_o != Py_None) && key != Py_None)
        return pyst_raise(STRATA_EINVAL, "summary takes a key or start=/count=, not both");
    if (start_o != Py_None || count_o != Py_None) {
        memset(&s, 0, sizeof s);
        s.ndims = nd->ndims;
        if (start_o == Py_None || count_o == Py_None)
            return pyst_raise(STRATA_EINVAL, "summary needs both start= and count=");
        if (u64_list(nd, start_o, s.start, "start", 0) < 0 ||
            u64_list(nd, count_o, s.count, "count", 1) < 0)
            return NULL;
    } else {
        if (sel_parse(nd, key == Py_None ? Py_Ellipsis : key, d.dims, &s) < 0) return NULL;
        if (!s.unit)
            return pyst_raise(STRATA_EINVAL,
                              "summary takes a rectangle: slices with a step of 1 or -1");
        if (s.empty) return pyst_raise(STRATA_ERANGE, "summary of an empty selection");
    }
    strata_summary sm;
    pyst_status st;
    PYST_CALL_NOGIL(nd->pool, st, strata_ndarray_summary(nd->a, s.start, s.count, &sm));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return summary_dict(&sm);
}

static PyObject *nd_info(NdObject *nd, PyObject *noargs)
{
    (void)noargs;
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    return Py_BuildValue(
        "{s:s,s:s,s:s,s:i,s:N,s:N,s:s,s:O,s:i,s:s,s:K,s:K,s:K,s:L,s:K,s:K,s:K,s:K,s:K,s:K}",
        "region", d.region, "name", d.name, "dtype", strata_dtype_name(d.dtype), "ndim", d.ndims,
        "shape", u64_tuple(d.dims, d.ndims), "chunks", u64_tuple(d.chunk, d.ndims), "layout",
        layout_name(d.layout), "unlimited", d.unlimited ? Py_True : Py_False, "zstd", d.zstd_level,
        "tier", d.tier != NULL ? d.tier : "default", "chunks_total",
        (unsigned long long)d.chunks_total, "chunks_written", (unsigned long long)d.chunks_written,
        "bytes", (unsigned long long)d.bytes, "version", (long long)d.version, "reads",
        (unsigned long long)d.reads, "chunks_read", (unsigned long long)d.chunks_read, "cache_hits",
        (unsigned long long)d.cache_hits, "staged_on_demand",
        (unsigned long long)d.staged_on_demand, "staged_bytes", (unsigned long long)d.staged_bytes,
        "prefetched", (unsigned long long)d.prefetched);
}

/* Attributes copied out of the library's walk (which runs without the GIL). */
typedef struct attr_copy {
    strata_attr *v;
    size_t n, cap;
    int nomem;
} attr_copy;

static int attr_collect(void *ctx, const strata_attr *a)
{
    attr_copy *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        strata_attr *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) return c->nomem = 1;
        c->v = v;
        c->cap = cap;
    }
    strata_attr *d = &c->v[c->n];
    *d = *a;
    d->name = strdup(a->name);
    d->s = a->type == STRATA_ATTR_TEXT ? strdup(a->s) : NULL;
    if (d->name == NULL || (a->type == STRATA_ATTR_TEXT && d->s == NULL)) {
        free((char *)d->name);
        free((char *)d->s);
        return c->nomem = 1;
    }
    c->n++;
    return 0;
}

static PyObject *nd_attrs_dict(NdObject *nd, PyObject *noargs)
{
    (void)noargs;
    if (nd_check(nd) < 0) return NULL;
    attr_copy c = {0};
    pyst_status st;
    PYST_CALL_NOGIL(nd->pool, st, strata_ndarray_attr_list(nd->a, attr_collect, &c));
    PyObject *out = NULL;
    if (c.nomem)
        PyErr_NoMemory();
    else if (PYST_FAILED(st))
        pyst_fail(&st);
    else
        out = PyDict_New();
    for (size_t i = 0; i < c.n; i++) {
        const strata_attr *a = &c.v[i];
        PyObject *v = NULL;
        if (out != NULL)
            v = a->type == STRATA_ATTR_INT     ? PyLong_FromLongLong(a->i)
                : a->type == STRATA_ATTR_FLOAT ? PyFloat_FromDouble(a->f)
                                               : PyUnicode_FromString(a->s);
        if (v == NULL || PyDict_SetItemString(out, a->name, v) < 0) Py_CLEAR(out);
        Py_XDECREF(v);
        free((char *)a->name);
        free((char *)a->s);
    }
    free(c.v);
    return out;
}

static PyObject *nd_attr_set(NdObject *nd, PyObject *args)
{
    const char *name;
    PyObject *value;
    if (!PyArg_ParseTuple(args, "sO:_attr_set", &name, &value) || nd_check(nd) < 0) return NULL;
    strata_attr a = {.name = name};
    if (PyBool_Check(value) || PyLong_Check(value)) {
        a.type = STRATA_ATTR_INT;
        a.i = PyLong_AsLongLong(value);
    } else if (PyFloat_Check(value)) {
        a.type = STRATA_ATTR_FLOAT;
        a.f = PyFloat_AsDouble(value);
    } else if (PyUnicode_Check(value)) {
        a.type = STRATA_ATTR_TEXT;
        a.s = PyUnicode_AsUTF8(value);
    } else {
        char msg[STRATA_NAME_MAX + 128];
        snprintf(msg, sizeof msg, "attribute '%.*s': an int, a float or a str, not %.40s",
                 STRATA_NAME_MAX, name, Py_TYPE(value)->tp_name);
        return pyst_raise(STRATA_ETYPE, msg);
    }
    if (PyErr_Occurred()) return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(nd->pool, st, strata_ndarray_attr_set(nd->a, &a));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *nd_attr_delete(NdObject *nd, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s:_attr_delete", &name) || nd_check(nd) < 0) return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(nd->pool, st, strata_ndarray_attr_delete(nd->a, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

/* gzip=None: as the array is; False or 0: uncompressed; 1..9: deflate at that level. */
static PyObject *nd_export_hdf5(NdObject *nd, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "path", "gzip", NULL};
    PyObject *file_o, *gzip_o = Py_None;
    const char *path;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&s|$O:export_hdf5", kwlist, PyUnicode_FSConverter,
                                     &file_o, &path, &gzip_o))
        return NULL;
    strata_hdf5_opts o = {0};
    int64_t level = 0;
    if (gzip_o == Py_False)
        o.gzip_level = -1;
    else if (pyst_opt_int64(gzip_o, 0, &level, "gzip") < 0)
        goto fail;
    else if (gzip_o != Py_None)
        o.gzip_level = level == 0 ? -1 : (int)(level > 9 || level < 0 ? 99 : level);
    if (nd_check(nd) < 0) goto fail;
    pyst_status st;
    PYST_CALL_NOGIL(nd->pool, st,
                    strata_ndarray_export_hdf5(nd->a, PyBytes_AS_STRING(file_o), path, &o));
    Py_DECREF(file_o);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
fail:
    Py_DECREF(file_o);
    return NULL;
}

static PyObject *nd_enter(NdObject *nd, PyObject *noargs)
{
    (void)noargs;
    if (nd_check(nd) < 0) return NULL;
    return Py_NewRef(nd);
}

/* ---- attributes ---------------------------------------------------------------------------- */

static PyObject *nd_get_shape(NdObject *nd, void *c)
{
    (void)c;
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    return u64_tuple(d.dims, d.ndims);
}

static PyObject *nd_get_chunks(NdObject *nd, void *c)
{
    (void)c;
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    return u64_tuple(d.chunk, d.ndims);
}

static PyObject *nd_get_layout(NdObject *nd, void *c)
{
    (void)c;
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    return PyUnicode_FromString(layout_name(d.layout));
}

static PyObject *nd_get_size(NdObject *nd, void *c)
{
    (void)c;
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    PyObject *n = PyLong_FromLong(1); /* Python ints: no overflow */
    for (int i = 0; i < d.ndims && n != NULL; i++) {
        PyObject *dim = PyLong_FromUnsignedLongLong(d.dims[i]);
        PyObject *prod = dim != NULL ? PyNumber_Multiply(n, dim) : NULL;
        Py_XDECREF(dim);
        Py_SETREF(n, prod);
    }
    return n;
}

static PyObject *nd_get_dtype(NdObject *nd, void *c)
{
    (void)c;
    return pyst_np_dtype(nd->dtype);
}

static PyObject *nd_get_dtype_name(NdObject *nd, void *c)
{
    (void)c;
    return PyUnicode_FromString(strata_dtype_name(nd->dtype));
}

static PyObject *nd_get_ndim(NdObject *nd, void *c)
{
    (void)c;
    return PyLong_FromLong(nd->ndims);
}

static PyObject *nd_get_name(NdObject *nd, void *c)
{
    (void)c;
    return Py_NewRef(nd->fullname);
}

static PyObject *nd_repr(NdObject *nd)
{
    if (nd->release == NULL || nd->close_requested || nd->pool->pool == NULL)
        return PyUnicode_FromFormat("<strata.NdArray '%U' %s (closed)>", nd->fullname,
                                    strata_dtype_name(nd->dtype));
    strata_ndarray_desc d;
    if (nd_desc(nd, &d) < 0) return NULL;
    char shape[256] = "", chunks[256] = "";
    size_t ls = 0, lc = 0;
    for (int i = 0; i < d.ndims; i++) {
        ls += (size_t)snprintf(shape + ls, sizeof shape - ls, "%s%llu", i ? ", " : "",
                               (unsigned long long)d.dims[i]);
        lc += (size_t)snprintf(chunks + lc, sizeof chunks - lc, "%s%llu", i ? ", " : "",
                               (unsigned long long)d.chunk[i]);
    }
    char extra[128];
    snprintf(extra, sizeof extra, "%s%s%s", d.unlimited ? ", unlimited" : "",
             d.zstd_level ? ", zstd" : "", "");
    return PyUnicode_FromFormat("<strata.NdArray '%U' %s (%s%s) %s%s%s%s, version %lld%s, tier %s>",
                                nd->fullname, strata_dtype_name(d.dtype), shape,
                                d.ndims == 1 ? "," : "", layout_name(d.layout),
                                d.layout == STRATA_LAYOUT_CHUNKED ? " (" : "",
                                d.layout == STRATA_LAYOUT_CHUNKED ? chunks : "",
                                d.layout == STRATA_LAYOUT_CHUNKED ? ")" : "", (long long)d.version,
                                extra, d.tier != NULL ? d.tier : "default");
}

static PyMethodDef nd_methods[] = {
    {"read", (PyCFunction)(void (*)(void))nd_read, METH_VARARGS | METH_KEYWORDS,
     "read(start, count, stride=None)\n--\n\n"
     "The rectangle START + COUNT (one int per dimension; with STRIDE, the elements\n"
     "start + k*stride) as a new ndarray of shape COUNT. OutOfRange if it is not inside the\n"
     "array. nd[...] indexing is the usual way; this is the library's call as it is."},
    {"write", (PyCFunction)(void (*)(void))nd_write, METH_VARARGS | METH_KEYWORDS,
     "write(start, values, stride=None)\n--\n\n"
     "Write VALUES (an ndarray; with fewer dimensions than the array the leading counts are\n"
     "1) at START. Unlike nd[...] = v, a write past the end of an unlimited first dimension\n"
     "grows it (the gap reads as the fill value). Copy-on-write: readers see each chunk all\n"
     "old or all new."},
    {"append", (PyCFunction)nd_append, METH_O,
     "append(step)\n--\n\n"
     "Append one step (an ndarray of shape shape[1:], or anything that broadcasts to it)\n"
     "after the last along the unlimited first dimension; return its index."},
    {"numpy", (PyCFunction)nd_numpy, METH_NOARGS,
     "numpy()\n--\n\nThe whole array, read into a new ndarray (nd[...])."},
    {"__array__", (PyCFunction)(void (*)(void))nd_array, METH_VARARGS | METH_KEYWORDS,
     "numpy.asarray(nd) reads the whole array."},
    {"summary", (PyCFunction)(void (*)(void))nd_summary, METH_VARARGS | METH_KEYWORDS,
     "summary(key=None, *, start=None, count=None)\n--\n\n"
     "Statistics of the whole array, of the rectangle KEY (a basic index such as\n"
     "numpy.s_[0, 10:20] with steps of 1), or of START + COUNT: a dict with count (NaNs are\n"
     "not counted), nan, min, max, mean, std (population), hist (32 equal bins over\n"
     "[min, max]), version, seconds, cached (read from the catalog's cache). GIL released."},
    {"stats", (PyCFunction)(void (*)(void))nd_summary, METH_VARARGS | METH_KEYWORDS,
     "stats(key=None, *, start=None, count=None)\n--\n\nThe same as summary()."},
    {"info", (PyCFunction)nd_info, METH_NOARGS,
     "info()\n--\n\n"
     "A dict: region, name, dtype, ndim, shape, chunks, layout, unlimited, zstd, tier,\n"
     "chunks_total, chunks_written, bytes (stored), version (writes committed), and this\n"
     "handle's counters: reads, chunks_read, cache_hits, staged_on_demand, staged_bytes,\n"
     "prefetched."},
    {"export_hdf5", (PyCFunction)(void (*)(void))nd_export_hdf5, METH_VARARGS | METH_KEYWORDS,
     "export_hdf5(file, path, *, gzip=None)\n--\n\n"
     "Write the array into a new HDF5 FILE as dataset PATH ('/group/name'; groups are made):\n"
     "shape (an unlimited first dimension stays extensible), dtype, fill value, chunk shape,\n"
     "attributes. GZIP: None keeps the compression the array has (zstd through HDF5's zstd\n"
     "plugin when installed, else gzip), False or 0 writes it uncompressed, 1..9 deflates.\n"
     "The file appears whole or not at all. h5py reads it."},
    {"_attrs", (PyCFunction)nd_attrs_dict, METH_NOARGS, "The attributes as a dict (nd.attrs)."},
    {"_attr_set", (PyCFunction)nd_attr_set, METH_VARARGS, "nd.attrs[name] = value."},
    {"_attr_delete", (PyCFunction)nd_attr_delete, METH_VARARGS, "del nd.attrs[name]."},
    {"close", (PyCFunction)pyst_child_close_meth, METH_NOARGS,
     "close()\n--\n\nClose the handle (waiting for its prefetch). Calling it again does nothing."},
    {"__enter__", (PyCFunction)nd_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pyst_child_exit_meth, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef nd_getset[] = {
    {"shape", (getter)nd_get_shape, NULL,
     "The shape as of now (an unlimited first dimension grows).", NULL},
    {"chunks", (getter)nd_get_chunks, NULL,
     "The chunk shape (contiguous layouts: the whole array).", NULL},
    {"layout", (getter)nd_get_layout, NULL, "'chunked', 'row' or 'col'.", NULL},
    {"size", (getter)nd_get_size, NULL, "The number of elements.", NULL},
    {"dtype", (getter)nd_get_dtype, NULL, "The numpy dtype.", NULL},
    {"dtype_name", (getter)nd_get_dtype_name, NULL, "Strata's dtype name ('f32').", NULL},
    {"ndim", (getter)nd_get_ndim, NULL, "The number of dimensions.", NULL},
    {"name", (getter)nd_get_name, NULL, "'region/name'.", NULL},
    {"closed", (getter)pyst_child_get_closed, NULL, "True once closed.", NULL},
    {"pool", (getter)pyst_child_get_pool, NULL, "The Pool it was opened through.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods nd_mapping = {
    .mp_length = (lenfunc)nd_len,
    .mp_subscript = (binaryfunc)nd_getitem,
    .mp_ass_subscript = (objobjargproc)nd_setitem,
};

static PyTypeObject NdType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.NdArray",
    .tp_basicsize = sizeof(NdObject),
    .tp_dealloc = (destructor)nd_dealloc,
    .tp_repr = (reprfunc)nd_repr,
    .tp_as_mapping = &nd_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "An N-d array of a pool (pool.create_ndarray(), pool.ndarray()): up to 8 dimensions of\n"
        "a numeric or bool dtype, chunked (one file per chunk) or contiguous (row or col),\n"
        "with an optionally unlimited first dimension (the steps).\n\n"
        "nd[3, 1000:1100, ::2] reads like numpy's basic indexing (ints, slices with any step,\n"
        "'...', fewer indices than dimensions) into a new ndarray of numpy's shape; only the\n"
        "chunks the selection touches are read. nd[...] = value writes (numpy broadcasting;\n"
        "values convert only when exact, else TypeMismatch). An int out of bounds raises\n"
        "OutOfRange naming the dimension; slices clip as in numpy. Writes are copy-on-write\n"
        "and atomic per chunk. A context manager (closes at the end of the with-block).",
    .tp_methods = nd_methods,
    .tp_getset = nd_getset,
};

/* ---- Pool: N-d arrays ---------------------------------------------------------------------- */

/* A default chunk shape: the whole array, the largest dimensions halved until a chunk holds at
 * most 1 MiB; an unlimited first dimension gets 1. */
static void default_chunks(const uint64_t *dims, int n, size_t esize, uint64_t *chunk)
{
    for (int i = 0; i < n; i++) chunk[i] = dims[i] > 0 ? dims[i] : 1;
    for (;;) {
        uint64_t bytes = esize;
        int big = 0;
        for (int i = 0; i < n; i++) {
            bytes = __builtin_mul_overflow(bytes, chunk[i], &bytes) ? UINT64_MAX : bytes;
            if (chunk[i] > chunk[big]) big = i;
        }
        if (bytes <= (1u << 20) || chunk[big] == 1) break;
        chunk[big] = (chunk[big] + 1) / 2;
    }
}

static int dims_arg(PyObject *obj, uint64_t *out, int *n, const char *what, int allow_none0)
{
    PyObject *seq = PyLong_Check(obj) ? PyTuple_Pack(1, obj) : PySequence_Fast(obj, "");
    char msg[256];
    if (seq == NULL || PySequence_Fast_GET_SIZE(seq) < 1 || PySequence_Fast_GET_SIZE(seq) > MAXD) {
        Py_XDECREF(seq);
        PyErr_Clear();
        snprintf(msg, sizeof msg, "%s must be 1 to %d integers", what, MAXD);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    *n = (int)PySequence_Fast_GET_SIZE(seq);
    for (int i = 0; i < *n; i++) {
        PyObject *x = PySequence_Fast_GET_ITEM(seq, i);
        if (x == Py_None && i == 0 && allow_none0) {
            out[i] = 0;
            continue;
        }
        long long v = PyLong_AsLongLong(x);
        if ((v == -1 && PyErr_Occurred()) || v < 0) {
            PyErr_Clear();
            Py_DECREF(seq);
            snprintf(msg, sizeof msg, "%s[%d] must be a non-negative integer%s", what, i,
                     i == 0 && allow_none0 ? " (or None: unlimited)" : "");
            pyst_raise(STRATA_EINVAL, msg);
            return -1;
        }
        out[i] = (uint64_t)v;
    }
    Py_DECREF(seq);
    return 0;
}

static PyObject *pool_create_ndarray(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "dtype", "shape", "chunks",    "layout",
                             "zstd", "tier",  "fill",  "unlimited", NULL};
    const char *full, *layout = "chunked", *tier = NULL;
    PyObject *dtype_o, *shape_o, *chunks_o = Py_None, *zstd_o = Py_None, *fill_o = Py_None;
    int unlimited = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sOO|O$sOzOp:create_ndarray", kwlist, &full,
                                     &dtype_o, &shape_o, &chunks_o, &layout, &zstd_o, &tier,
                                     &fill_o, &unlimited))
        return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (pyst_split(full, region, name, "N-d array") < 0 || pyst_pool_check(p) < 0) return NULL;
    strata_dtype dt;
    if (pyst_dtype_from_obj(dtype_o, &dt) < 0) return NULL;
    if (dt == STRATA_STR)
        return pyst_raise(STRATA_ETYPE, "N-d arrays hold numbers or bools, not strings");
    uint64_t dims[MAXD], chunk[MAXD];
    int n, nc;
    if (dims_arg(shape_o, dims, &n, "shape", 1) < 0) return NULL;
    strata_ndarray_opts o = {0};
    o.unlimited = unlimited || dims[0] == 0;
    o.tier = tier;
    if (strcmp(layout, "chunked") == 0)
        o.layout = STRATA_LAYOUT_CHUNKED;
    else if (strcmp(layout, "row") == 0)
        o.layout = STRATA_LAYOUT_ROW;
    else if (strcmp(layout, "col") == 0)
        o.layout = STRATA_LAYOUT_COL;
    else {
        char msg[128];
        snprintf(msg, sizeof msg, "layout is 'chunked', 'row' or 'col', not '%.40s'", layout);
        return pyst_raise(STRATA_EINVAL, msg);
    }
    if (o.layout == STRATA_LAYOUT_CHUNKED) {
        if (chunks_o == Py_None)
            default_chunks(dims, n, strata_dtype_size(dt), chunk);
        else {
            if (dims_arg(chunks_o, chunk, &nc, "chunks", 0) < 0) return NULL;
            if (nc != n) {
                char msg[128];
                snprintf(msg, sizeof msg, "chunks needs %d numbers, one per dimension (got %d)", n,
                         nc);
                return pyst_raise(STRATA_EINVAL, msg);
            }
        }
    } else if (chunks_o != Py_None) {
        return pyst_raise(STRATA_EINVAL, "chunks go with layout='chunked' (row and col arrays "
                                         "are one file)");
    }
    int64_t z;
    if (pyst_opt_int64(zstd_o, 0, &z, "zstd") < 0) return NULL;
    if (z < 0 || z > 19) return pyst_raise(STRATA_EINVAL, "zstd is a level from 1 to 19 (or 0)");
    o.zstd_level = (int)z;
    PyArrayObject *fill = NULL;
    if (fill_o != Py_None) {
        fill = pyst_values(fill_o, dt, "fill");
        if (fill == NULL) return NULL;
        if (PyArray_SIZE(fill) != 1) {
            Py_DECREF(fill);
            return pyst_raise(STRATA_EINVAL, "fill is one value");
        }
        o.fill = PyArray_DATA(fill);
    }
    strata_ndarray *h = NULL;
    pyst_status st;
    if (pyst_region_ensure(p, region) < 0) {
        Py_XDECREF(fill);
        return NULL;
    }
    PYST_CALL_NOGIL(p, st,
                    strata_ndarray_create(p->pool, region, name, dt, n, dims,
                                          o.layout == STRATA_LAYOUT_CHUNKED ? chunk : NULL, &o,
                                          &h));
    Py_XDECREF(fill);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return nd_new(p, h, region, name);
}

static PyObject *pool_ndarray(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "cache_bytes", "sequential", "stage_tier", "verbose", NULL};
    const char *full, *stage_tier = NULL;
    PyObject *cache_o = Py_None;
    int sequential = 0, verbose = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O$pzp:ndarray", kwlist, &full, &cache_o,
                                     &sequential, &stage_tier, &verbose))
        return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (pyst_split(full, region, name, "N-d array") < 0 || pyst_pool_check(p) < 0) return NULL;
    int64_t cache;
    if (pyst_opt_int64(cache_o, 0, &cache, "cache_bytes") < 0) return NULL;
    strata_ndarray_open_opts o = {0};
    o.cache_bytes = cache < 0 ? SIZE_MAX : (size_t)cache;
    o.hints = (sequential ? STRATA_ND_SEQUENTIAL : 0u) | (verbose ? STRATA_ND_VERBOSE : 0u);
    o.stage_tier = stage_tier;
    strata_ndarray *h = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_ndarray_open(p->pool, region, name, &o, &h));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    PyObject *nd = nd_new(p, h, region, name);
    if (nd != NULL) ((NdObject *)nd)->verbose = verbose;
    return nd;
}

static PyObject *pool_import_ndarray(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "file", "path", "tier", "zstd", "skip_attrs", NULL};
    const char *full, *path, *tier = NULL;
    PyObject *file_o, *zstd_o = Py_None;
    int skip = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO&s|$zOp:import_ndarray", kwlist, &full,
                                     PyUnicode_FSConverter, &file_o, &path, &tier, &zstd_o, &skip))
        return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    strata_hdf5_opts o = {.tier = tier, .skip_attrs = skip};
    int64_t level = 0;
    PyObject *out = NULL;
    if (pyst_split(full, region, name, "N-d array") < 0 || pyst_pool_check(p) < 0) goto done;
    if (zstd_o == Py_False)
        o.zstd_level = -1;
    else if (pyst_opt_int64(zstd_o, 0, &level, "zstd") < 0)
        goto done;
    else if (zstd_o != Py_None)
        o.zstd_level = level == 0 ? -1 : (int)(level > 22 || level < 0 ? 99 : level);
    if (pyst_region_ensure(p, region) < 0) goto done;
    pyst_status st;
    strata_ndarray *h = NULL;
    PYST_CALL_NOGIL(
        p, st,
        strata_ndarray_import_hdf5(p->pool, region, name, PyBytes_AS_STRING(file_o), path, &o));
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        goto done;
    }
    PYST_CALL_NOGIL(p, st, strata_ndarray_open(p->pool, region, name, NULL, &h));
    out = PYST_FAILED(st) ? pyst_fail(&st) : nd_new(p, h, region, name);
done:
    Py_DECREF(file_o);
    return out;
}

static int list_in_region(void *ctx, const char *name)
{
    PyObject **c = ctx; /* {list, region str} */
    PyObject *s = PyUnicode_FromFormat("%U/%s", c[1], name);
    if (s == NULL) return 1;
    int rc = PyList_Append(c[0], s);
    Py_DECREF(s);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_ndarrays(PoolObject *p, PyObject *args)
{
    PyObject *region = Py_None;
    if (!PyArg_ParseTuple(args, "|O:ndarrays", &region) || pyst_pool_lock(p) < 0) return NULL;
    PyObject *out = PyList_New(0), *regions = out != NULL ? pyst_regions_arg(p, region) : NULL;
    for (Py_ssize_t i = 0; regions != NULL && i < PyList_GET_SIZE(regions); i++) {
        PyObject *ctx[2] = {out, PyList_GET_ITEM(regions, i)};
        const char *r = PyUnicode_AsUTF8(ctx[1]);
        int rc = r != NULL ? strata_ndarray_list(p->pool, r, list_in_region, ctx) : 1;
        if (rc != 0) {
            if (rc < 0) pyst_raise_pool(p, rc);
            Py_CLEAR(out);
            break;
        }
    }
    pyst_unlock(p);
    if (regions == NULL) Py_CLEAR(out);
    Py_XDECREF(regions);
    return out;
}

static PyObject *pool_drop_ndarray(PoolObject *p, PyObject *args)
{
    const char *full;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTuple(args, "s:drop_ndarray", &full) ||
        pyst_split(full, region, name, "N-d array") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_ndarray_delete(p->pool, region, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

/* ---- Pool: tiers --------------------------------------------------------------------------- */

static PyObject *tier_dict(const strata_tier_info *t)
{
    return Py_BuildValue("{s:s,s:s,s:s,s:K,s:d,s:d,s:K,s:K,s:K}", "name", t->name, "path", t->path,
                         "kind", strata_tier_kind_name(t->kind), "capacity",
                         (unsigned long long)t->capacity, "read_bw", t->read_bw, "latency",
                         t->latency, "used", (unsigned long long)t->used, "staged",
                         (unsigned long long)t->staged, "files", (unsigned long long)t->files);
}

static int list_tier(void *ctx, const strata_tier_info *t)
{
    PyObject *d = tier_dict(t);
    if (d == NULL) return 1;
    int rc = PyList_Append((PyObject *)ctx, d);
    Py_DECREF(d);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_tiers(PoolObject *p, PyObject *noargs)
{
    (void)noargs;
    PyObject *list = PyList_New(0);
    if (list == NULL || pyst_pool_lock(p) < 0) {
        Py_XDECREF(list);
        return NULL;
    }
    int rc = strata_tier_list(p->pool, list_tier, list);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

/* A size in bytes: an int, or a str with a K/M/G/T suffix. */
static int bytes_arg(PyObject *obj, uint64_t *out, const char *what)
{
    if (obj == Py_None) {
        *out = 0;
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        const char *s = PyUnicode_AsUTF8(obj);
        char *end;
        double v = s != NULL ? strtod(s, &end) : -1;
        if (s != NULL && end != s && v >= 0) {
            double m = 1;
            switch (*end) {
            case 'k':
            case 'K':
                m = 1024.0, end++;
                break;
            case 'm':
            case 'M':
                m = 1048576.0, end++;
                break;
            case 'g':
            case 'G':
                m = 1073741824.0, end++;
                break;
            case 't':
            case 'T':
                m = 1099511627776.0, end++;
                break;
            }
            if (*end == 'i') end++;
            if (*end == 'B' || *end == 'b') end++;
            if (*end == '\0' && v * m < 18446744073709551615.0) { /* fits a uint64 */
                *out = (uint64_t)(v * m);
                return 0;
            }
        }
    } else {
        long long v = PyLong_AsLongLong(obj);
        if (!(v == -1 && PyErr_Occurred()) && v >= 0) {
            *out = (uint64_t)v;
            return 0;
        }
        PyErr_Clear();
    }
    char msg[128];
    snprintf(msg, sizeof msg, "%s takes bytes: an int >= 0 or a str such as '10G'", what);
    pyst_raise(STRATA_EINVAL, msg);
    return -1;
}

static int double_arg(PyObject *obj, double *out, const char *what)
{
    if (obj == Py_None) {
        *out = 0;
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        uint64_t b;
        if (bytes_arg(obj, &b, what) < 0) return -1;
        *out = (double)b;
        return 0;
    }
    double v = PyFloat_AsDouble(obj);
    if ((v == -1.0 && PyErr_Occurred()) || !(v >= 0) || isinf(v)) {
        PyErr_Clear();
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be a finite number >= 0", what);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    *out = v;
    return 0;
}

static PyObject *pool_add_tier(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "path", "kind", "capacity", "read_bw", "latency", NULL};
    const char *name, *kind_s;
    PyObject *path_o, *cap_o = Py_None, *bw_o = Py_None, *lat_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO&s|OOO:add_tier", kwlist, &name,
                                     PyUnicode_FSConverter, &path_o, &kind_s, &cap_o, &bw_o,
                                     &lat_o))
        return NULL;
    strata_tier_kind kind;
    uint64_t cap;
    double bw, lat;
    PyObject *res = NULL;
    if (strata_tier_kind_parse(kind_s, &kind) != STRATA_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "kind is 'memory', 'ssd', 'disk' or 'archive', not '%.40s'",
                 kind_s);
        pyst_raise(STRATA_EINVAL, msg);
    } else if (bytes_arg(cap_o, &cap, "capacity") == 0 && double_arg(bw_o, &bw, "read_bw") == 0 &&
               double_arg(lat_o, &lat, "latency") == 0 && pyst_pool_check(p) == 0) {
        pyst_status st;
        const char *path = PyBytes_AS_STRING(path_o);
        PYST_CALL_NOGIL(p, st, strata_tier_add(p->pool, name, path, kind, cap, bw, lat));
        if (PYST_FAILED(st))
            pyst_fail(&st);
        else
            res = Py_NewRef(Py_None);
    }
    Py_DECREF(path_o);
    return res;
}

static PyObject *pool_set_tier(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "capacity", "read_bw", "latency", NULL};
    const char *name;
    PyObject *cap_o = Py_None, *bw_o = Py_None, *lat_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$OOO:set_tier", kwlist, &name, &cap_o, &bw_o,
                                     &lat_o))
        return NULL;
    uint64_t cap;
    double bw, lat;
    if (bytes_arg(cap_o, &cap, "capacity") < 0 || double_arg(bw_o, &bw, "read_bw") < 0 ||
        double_arg(lat_o, &lat, "latency") < 0 || pyst_pool_lock(p) < 0)
        return NULL;
    /* what is not given keeps its value */
    strata_tier_info t;
    int rc = strata_tier_get(p->pool, name, &t);
    if (rc == STRATA_OK)
        rc = strata_tier_set(p->pool, name, cap_o != Py_None ? cap : t.capacity,
                             bw_o != Py_None ? bw : t.read_bw, lat_o != Py_None ? lat : t.latency);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *pool_remove_tier(PoolObject *p, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s:remove_tier", &name) || pyst_pool_check(p) < 0) return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_tier_remove(p->pool, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *pool_migrate(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "to", "first", "last", NULL};
    const char *full, *to = NULL;
    PyObject *first_o = Py_None, *last_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$zOO:migrate", kwlist, &full, &to, &first_o,
                                     &last_o))
        return NULL;
    if (to == NULL) return pyst_raise(STRATA_EINVAL, "migrate needs to= (the tier)");
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    int64_t first, last;
    if (pyst_split(full, region, name, "name") < 0 ||
        pyst_opt_int64(first_o, 0, &first, "first") < 0 ||
        pyst_opt_int64(last_o, -1, &last, "last") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    if (first < 0 || (last_o != Py_None && last < first))
        return pyst_raise(STRATA_EINVAL, "first and last are chunk (or batch) numbers with "
                                         "0 <= first <= last");
    uint64_t lastu = last_o == Py_None ? UINT64_MAX : (uint64_t)last, moved = 0;
    /* an N-d array of that name, else a dataset */
    strata_ndarray *a = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_ndarray_open(p->pool, region, name, NULL, &a));
    if (st.rc == STRATA_OK) {
        PYST_CALL_NOGIL(p, st, (strata_ndarray_close(a), STRATA_OK));
        PYST_CALL_NOGIL(
            p, st,
            strata_ndarray_migrate(p->pool, region, name, to, (uint64_t)first, lastu, &moved));
    } else if (st.rc == STRATA_ENOTFOUND) {
        PYST_CALL_NOGIL(
            p, st,
            strata_dataset_migrate(p->pool, region, name, to, (uint64_t)first, lastu, &moved));
        if (st.rc == STRATA_ENOTFOUND && strstr(st.msg, "tier") == NULL)
            snprintf(st.msg, sizeof st.msg, "no N-d array or dataset '%s/%s' to migrate", region,
                     name);
    }
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return PyLong_FromUnsignedLongLong(moved);
}

/* ---- Stage: a staging job ------------------------------------------------------------------ */

typedef struct StageObject {
    PyObject_HEAD PoolObject *pool; /* counted as a child until the job is waited for */
    strata_stage *job;
    PyObject *fullname, *tier;
    PyObject *result; /* the stats dict once waited for */
    int waiting;      /* a thread is in stage_finish with the GIL released */
} StageObject;

static PyTypeObject StageType;

static PyObject *stage_stats_dict(const strata_stage_stats *s)
{
    return Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:d}", "chunks_needed", (unsigned long long)s->chunks_needed,
        "chunks_staged", (unsigned long long)s->chunks_staged, "chunks_present",
        (unsigned long long)s->chunks_present, "bytes_read", (unsigned long long)s->bytes_read,
        "bytes_written", (unsigned long long)s->bytes_written, "evicted",
        (unsigned long long)s->evicted, "seconds", s->seconds);
}

/* Wait for the job (GIL released); -1 with the exception of its failure. */
static int stage_finish(StageObject *s)
{
    if (s->job == NULL) return 0;
    strata_stage_stats stats;
    memset(&stats, 0, sizeof stats);
    char err[PYST_ERRMSG_MAX] = "";
    int rc;
    strata_stage *job = s->job;
    s->job = NULL;
    s->waiting = 1;
    Py_BEGIN_ALLOW_THREADS rc = strata_stage_wait(job, &stats, err, sizeof err);
    Py_END_ALLOW_THREADS s->waiting = 0;
    pyst_child_detach(s->pool);
    if (rc < 0) {
        pyst_raise(rc, err);
        s->result = NULL;
        return -1;
    }
    s->result = stage_stats_dict(&stats);
    return s->result == NULL ? -1 : 0;
}

static PyObject *stage_wait(StageObject *s, PyObject *noargs)
{
    (void)noargs;
    if (s->waiting)
        return pyst_raise(STRATA_EINVAL, "another thread is waiting for this staging job: wait "
                                         "for that thread instead");
    if (s->job == NULL && s->result == NULL)
        return pyst_raise(STRATA_EINVAL, "the staging job failed (its error was raised by the "
                                         "first wait())");
    if (stage_finish(s) < 0) return NULL;
    return Py_NewRef(s->result);
}

static void stage_dealloc(StageObject *s)
{
    if (s->job != NULL) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        if (stage_finish(s) < 0) PyErr_Clear();
        PyErr_Restore(t, v, tb);
    }
    Py_CLEAR(s->result);
    Py_CLEAR(s->fullname);
    Py_CLEAR(s->tier);
    Py_XDECREF(s->pool);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *stage_get_done(StageObject *s, void *c)
{
    (void)c;
    return PyBool_FromLong(s->job == NULL && !s->waiting);
}

static PyObject *stage_repr(StageObject *s)
{
    return PyUnicode_FromFormat("<strata.Stage '%U' to tier '%U' (%s)>", s->fullname, s->tier,
                                s->job != NULL      ? "running"
                                : s->result != NULL ? "done"
                                                    : "failed");
}

static PyObject *stage_enter(StageObject *s, PyObject *noargs)
{
    (void)noargs;
    return Py_NewRef(s);
}

static PyObject *stage_exit(StageObject *s, PyObject *args)
{
    (void)args;
    if (stage_finish(s) < 0) return NULL;
    Py_RETURN_FALSE;
}

static PyMethodDef stage_methods[] = {
    {"wait", (PyCFunction)stage_wait, METH_NOARGS,
     "wait()\n--\n\n"
     "Wait for the staging job (GIL released) and return its statistics: a dict with\n"
     "chunks_needed, chunks_staged, chunks_present, bytes_read, bytes_written, evicted,\n"
     "seconds. Raises the job's error (NoSpace, NotFound, ...). Calling it again returns the\n"
     "same dict."},
    {"__enter__", (PyCFunction)stage_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)stage_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef stage_getset[] = {
    {"done", (getter)stage_get_done, NULL, "True once wait() returned (or raised).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject StageType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Stage",
    .tp_basicsize = sizeof(StageObject),
    .tp_dealloc = (destructor)stage_dealloc,
    .tp_repr = (reprfunc)stage_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A staging job running in the background (pool.stage(..., wait=False)): wait()\n"
              "returns its statistics. The pool stays open until it is waited for; dropping the\n"
              "object waits too. A context manager: the with-block's end waits.",
    .tp_methods = stage_methods,
    .tp_getset = stage_getset,
};

static PyObject *pool_stage(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "to", "start", "count", "wait", NULL};
    const char *full, *to = NULL;
    PyObject *start_o = Py_None, *count_o = Py_None;
    int wait = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$zOOp:stage", kwlist, &full, &to, &start_o,
                                     &count_o, &wait))
        return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (pyst_split(full, region, name, "N-d array") < 0 || pyst_pool_check(p) < 0) return NULL;
    uint64_t start[MAXD], count[MAXD];
    int have = start_o != Py_None || count_o != Py_None;
    if (have) {
        if (start_o == Py_None || count_o == Py_None)
            return pyst_raise(STRATA_EINVAL, "stage needs both start= and count= (or neither: "
                                             "the whole array)");
        int ns, nc;
        if (dims_arg(start_o, start, &ns, "start", 0) < 0 ||
            dims_arg(count_o, count, &nc, "count", 0) < 0)
            return NULL;
        if (ns != nc) return pyst_raise(STRATA_EINVAL, "start and count differ in length");
    }
    PyTypeObject *cls = pyst_class("Stage", &StageType);
    StageObject *s = (StageObject *)cls->tp_alloc(cls, 0);
    if (s == NULL) return NULL;
    s->fullname = PyUnicode_FromFormat("%s/%s", region, name);
    s->tier = PyUnicode_FromString(to != NULL ? to : "default");
    if (s->fullname == NULL || s->tier == NULL) {
        Py_DECREF(s);
        return NULL;
    }
    strata_stage *job = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st,
                    strata_stage_start(p->pool, region, name, have ? start : NULL,
                                       have ? count : NULL, to, &job));
    if (PYST_FAILED(st)) {
        Py_DECREF(s);
        return pyst_fail(&st);
    }
    pyst_child_attach(p);
    s->pool = p;
    s->job = job;
    if (!wait) return (PyObject *)s;
    PyObject *r = stage_wait(s, NULL);
    Py_DECREF(s);
    return r;
}

PyMethodDef pyst_pool_nd_methods[] = {
    {"create_ndarray", (PyCFunction)(void (*)(void))pool_create_ndarray,
     METH_VARARGS | METH_KEYWORDS,
     "create_ndarray(name, dtype, shape, chunks=None, *, layout='chunked', zstd=None,\n"
     "               tier=None, fill=None, unlimited=False)\n--\n\n"
     "Create N-d array 'region/name' (and its region on first use) and return it open: DTYPE\n"
     "numeric or bool ('f32', numpy.float32 ...), SHAPE 1 to 8 ints. A first dimension of 0\n"
     "or None (or unlimited=True) is unlimited: the steps, grown by append(). LAYOUT\n"
     "'chunked' (one file per chunk: CHUNKS, default about 1 MiB chunks, 1 step deep), 'row'\n"
     "or 'col' (one file, C or Fortran order; no CHUNKS). ZSTD a level 1..19 compresses every\n"
     "chunk; TIER where the data goes; FILL what never-written elements read as (default 0).\n"
     "Raises Exists, InvalidArgument, TypeMismatch (a str dtype, a fill that does not fit),\n"
     "NotFound (an unknown tier)."},
    {"ndarray", (PyCFunction)(void (*)(void))pool_ndarray, METH_VARARGS | METH_KEYWORDS,
     "ndarray(name, cache_bytes=None, *, sequential=False, stage_tier=None, verbose=False)\n"
     "--\n\n"
     "Open N-d array 'region/name' (a context manager). CACHE_BYTES: the cache of decoded\n"
     "zstd chunks (None: 64 MiB; -1: none). SEQUENTIAL: reads go step after step, so step\n"
     "i+1 is prefetched while i is used. STAGE_TIER: where reads stage archive data\n"
     "(default 'default'); VERBOSE reports on-demand staging on stderr. NotFound if missing."},
    {"import_ndarray", (PyCFunction)(void (*)(void))pool_import_ndarray,
     METH_VARARGS | METH_KEYWORDS,
     "import_ndarray(name, file, path, *, tier=None, zstd=None, skip_attrs=False)\n--\n\n"
     "Create N-d array 'region/name' from the numeric or bool HDF5 dataset PATH of FILE (as\n"
     "written by h5py: contiguous or chunked, gzip ...) and return it open: shape, dtype, chunk\n"
     "shape (contiguous: row-major), fill value, an unlimited first dimension, attributes\n"
     "(scalar int, float or str; any other raises Unsupported unless SKIP_ATTRS). ZSTD: None\n"
     "takes the file's (compressed data becomes zstd level 3), False or 0 stores it\n"
     "uncompressed, 1..19 that level. TIER: where the data goes. Nothing is left on failure."},
    {"ndarrays", (PyCFunction)pool_ndarrays, METH_VARARGS,
     "ndarrays(region=None)\n--\n\nNames ('region/name') of the N-d arrays of REGION, or of\n"
     "every region."},
    {"drop_ndarray", (PyCFunction)pool_drop_ndarray, METH_VARARGS,
     "drop_ndarray(name)\n--\n\nDelete N-d array 'region/name' and its files on every tier."},
    {"tiers", (PyCFunction)pool_tiers, METH_NOARGS,
     "tiers()\n--\n\n"
     "The storage tiers, 'default' first: dicts with name, path, kind ('memory', 'ssd',\n"
     "'disk', 'archive'), capacity (bytes, 0: unlimited), read_bw (bytes/s), latency (s),\n"
     "used, staged (evictable staged copies), files."},
    {"add_tier", (PyCFunction)(void (*)(void))pool_add_tier, METH_VARARGS | METH_KEYWORDS,
     "add_tier(name, path, kind, capacity=0, read_bw=0, latency=0)\n--\n\n"
     "Add tier NAME on directory PATH (created if missing) of KIND 'memory', 'ssd', 'disk' or\n"
     "'archive' (kept zstd-compressed; staged to a faster tier to be read). CAPACITY in bytes\n"
     "(an int or '10G'; 0: unlimited), READ_BW bytes/s, LATENCY seconds per file. Raises\n"
     "Exists (the name or the directory is taken), InvalidArgument."},
    {"set_tier", (PyCFunction)(void (*)(void))pool_set_tier, METH_VARARGS | METH_KEYWORDS,
     "set_tier(name, *, capacity=None, read_bw=None, latency=None)\n--\n\n"
     "Declare tier NAME's characteristics ('default' too); what is not given is kept. The\n"
     "MDMS planner's cost model reads them. NotFound for an unknown tier."},
    {"remove_tier", (PyCFunction)pool_remove_tier, METH_VARARGS,
     "remove_tier(name)\n--\n\n"
     "Remove tier NAME (its staged copies first). Raises Conflict while data lives on it and\n"
     "for 'default', NotFound for an unknown tier."},
    {"migrate", (PyCFunction)(void (*)(void))pool_migrate, METH_VARARGS | METH_KEYWORDS,
     "migrate(name, *, to, first=None, last=None)\n--\n\n"
     "Move the files of N-d array 'region/name' (all chunks, or those of linear index FIRST to\n"
     "LAST) -- or, when there is no such array, of dataset 'region/name' (batches FIRST to\n"
     "LAST) -- to tier TO: copy, make durable, switch the catalog, remove the source. Moving a\n"
     "whole array also makes TO where its new data goes. Returns the number of files moved.\n"
     "Raises NotFound, NoSpace (TO lacks the capacity)."},
    {"stage", (PyCFunction)(void (*)(void))pool_stage, METH_VARARGS | METH_KEYWORDS,
     "stage(name, *, to=None, start=None, count=None, wait=True)\n--\n\n"
     "Stage the archive files that the rectangle START + COUNT of N-d array 'region/name'\n"
     "(default: all of it) needs onto tier TO (default 'default'), in a background thread,\n"
     "so that later reads find them there. wait=True waits (GIL released) and returns the\n"
     "statistics dict (chunks_needed, chunks_staged, chunks_present, bytes_read,\n"
     "bytes_written, evicted, seconds); wait=False returns a Stage whose wait() does."},
    {NULL, NULL, 0, NULL},
};

int pyst_nd_init(PyObject *module)
{
    if (PyType_Ready(&NdType) < 0 || PyType_Ready(&StageType) < 0) return -1;
    if (PyModule_AddObjectRef(module, "NdArray", (PyObject *)&NdType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Stage", (PyObject *)&StageType);
}
