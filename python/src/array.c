/*
 * array.c -- strata.Array, the paper's famarray: a named, typed 1-D array of a pool with numpy
 * indexing (a[i], a[i:j:k], a[index_array]) for get, put, gather and scatter, atomics, locks
 * between processes, backups, and a zero-copy numpy view of its mapping.
 */
#include "pystrata.h"

#include <limits.h>
#include <string.h>

/* Requests of at least this many elements run with the GIL released. */
#define NOGIL_MIN 65536

typedef struct ArrayObject {
    PyObject_HEAD PYST_CHILD_HEAD;
    strata_array *a;
    strata_dtype dtype;
    uint64_t n;
    PyObject *fullname; /* "region/name" */
} ArrayObject;

static PyTypeObject ArrayType;

static void array_release(PyObject *self)
{
    ArrayObject *a = (ArrayObject *)self;
    strata_array_close(a->a);
    a->a = NULL;
}

/* 0 when A is usable, else -1 with an exception. */
static int array_check(ArrayObject *a)
{
    if (a->a == NULL || a->release == NULL || a->close_requested) {
        pyst_raise(STRATA_EINVAL, "the array is closed");
        return -1;
    }
    return pyst_check_open(a->pool);
}

/* A data-path failure: the message is read under the pool lock (other threads may be failing
 * too); NULL. */
static PyObject *array_fail(ArrayObject *a, int rc)
{
    if (rc == INT_MIN) return NULL; /* the exception is set */
    if (pyst_lock(a->pool) < 0) return NULL;
    pyst_raise_pool(a->pool, rc);
    pyst_unlock(a->pool);
    return NULL;
}

static PyObject *array_new(PoolObject *pool, strata_array *handle, const char *region,
                           const char *name)
{
    PyTypeObject *cls = pyst_class("Array", &ArrayType);
    ArrayObject *a = (ArrayObject *)cls->tp_alloc(cls, 0);
    if (a == NULL) {
        strata_array_close(handle);
        return NULL;
    }
    a->fullname = PyUnicode_FromFormat("%s/%s", region, name);
    if (a->fullname == NULL) {
        strata_array_close(handle);
        Py_DECREF(a);
        return NULL;
    }
    pyst_child_attach(pool);
    a->pool = pool;
    a->a = handle;
    a->dtype = strata_array_dtype(handle);
    a->n = strata_array_length(handle);
    a->release = array_release;
    return (PyObject *)a;
}

static void array_dealloc(ArrayObject *a)
{
    /* views hold a reference, so none is alive: close at once */
    a->exports = 0;
    pyst_child_close((ChildObject *)a);
    Py_CLEAR(a->fullname);
    Py_XDECREF(a->pool);
    Py_TYPE(a)->tp_free((PyObject *)a);
}

/* ---- values in --------------------------------------------------------------------------- */

/*
 * OBJ as a C-contiguous numpy array of DT's type. Values convert when they fit exactly: a safe
 * cast, or a same-kind cast that round-trips (so [1, 2, 3] fills an i32 array, but 3.5 refuses
 * to become an integer and 2**40 refuses to become an i32). New reference, or NULL with
 * TypeMismatch naming WHAT.
 */
PyArrayObject *pyst_values(PyObject *obj, strata_dtype dt, const char *what)
{
    int typenum = pyst_npy_type(dt);
    PyArrayObject *src = (PyArrayObject *)PyArray_FROM_OF(obj, NPY_ARRAY_CARRAY_RO);
    if (src == NULL) return NULL;
    if (PyArray_TYPE(src) == typenum) return src;
    PyArray_Descr *to = PyArray_DescrFromType(typenum);
    if (to == NULL) {
        Py_DECREF(src);
        return NULL;
    }
    if (PyArray_CanCastArrayTo(src, to, NPY_SAFE_CASTING)) {
        PyArrayObject *out =
            (PyArrayObject *)PyArray_FromArray(src, to, NPY_ARRAY_CARRAY_RO | NPY_ARRAY_FORCECAST);
        Py_DECREF(src);
        return out;
    }
    PyArrayObject *out = NULL;
    if (PyArray_CanCastArrayTo(src, to, NPY_SAME_KIND_CASTING) ||
        (PyArray_ISINTEGER(src) && PyTypeNum_ISNUMBER(typenum)) ||
        (PyArray_ISBOOL(src) && PyTypeNum_ISNUMBER(typenum))) {
        Py_INCREF(to);
        out =
            (PyArrayObject *)PyArray_FromArray(src, to, NPY_ARRAY_CARRAY_RO | NPY_ARRAY_FORCECAST);
        if (out != NULL) {
            /* exact when casting back gives the same values */
            PyObject *eq = PyObject_RichCompare((PyObject *)out, (PyObject *)src, Py_EQ);
            int all = -1;
            if (eq != NULL) {
                PyObject *r = PyObject_CallMethod(eq, "all", NULL);
                all = r != NULL ? PyObject_IsTrue(r) : -1;
                Py_XDECREF(r);
                Py_DECREF(eq);
            }
            if (all != 1) Py_CLEAR(out);
            if (all < 0) PyErr_Clear();
        }
    }
    if (out == NULL) {
        PyObject *from = PyObject_Str((PyObject *)PyArray_DESCR(src));
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg,
                 "%s: values of type %s do not fit %s exactly (convert them first, e.g. with "
                 ".astype())",
                 what, from != NULL ? PyUnicode_AsUTF8(from) : "?", strata_dtype_name(dt));
        Py_XDECREF(from);
        PyErr_Clear();
        pyst_raise(STRATA_ETYPE, msg);
    }
    Py_DECREF(to);
    Py_DECREF(src);
    return out;
}

/* ---- indices ------------------------------------------------------------------------------- */

static PyObject *range_error(ArrayObject *a, long long i)
{
    char msg[PYST_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "index %lld is out of range for array '%s' of %llu elements", i,
             PyUnicode_AsUTF8(a->fullname), (unsigned long long)a->n);
    return pyst_raise(STRATA_ERANGE, msg);
}

/* Python's index I (negative counts from the end) as a position of A; -1 with OutOfRange. */
static int index_of(ArrayObject *a, PyObject *key, uint64_t *out)
{
    long long i = PyLong_AsLongLong(key);
    if (i == -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            range_error(a, LLONG_MAX);
        }
        return -1;
    }
    long long j = i < 0 ? i + (long long)a->n : i;
    if (j < 0 || (uint64_t)j >= a->n) {
        range_error(a, i);
        return -1;
    }
    *out = (uint64_t)j;
    return 0;
}

/* An index array (integers of any width, negative from the end, or a bool mask of len(a)) as
 * a new uint64 array of positions. */
static PyArrayObject *positions(ArrayObject *a, PyObject *key)
{
    PyArrayObject *idx = (PyArrayObject *)PyArray_FROM_OF(key, NPY_ARRAY_CARRAY_RO);
    if (idx == NULL) return NULL;
    if (PyArray_NDIM(idx) != 1) {
        Py_DECREF(idx);
        return (PyArrayObject *)pyst_raise(STRATA_EINVAL, "an index array must be 1-D");
    }
    if (PyArray_ISBOOL(idx)) {
        if ((uint64_t)PyArray_DIM(idx, 0) != a->n) {
            Py_DECREF(idx);
            return (PyArrayObject *)pyst_raise(STRATA_ERANGE,
                                               "a boolean mask must have one entry per element");
        }
        PyObject *nz = PyArray_Nonzero(idx);
        Py_DECREF(idx);
        if (nz == NULL) return NULL;
        idx = (PyArrayObject *)PyArray_FROM_OTF(PyTuple_GET_ITEM(nz, 0), NPY_UINT64,
                                                NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST);
        Py_DECREF(nz);
        return idx;
    }
    if (PyArray_SIZE(idx) == 0) {
        Py_DECREF(idx);
        npy_intp zero = 0;
        return (PyArrayObject *)PyArray_SimpleNew(1, &zero, NPY_UINT64);
    }
    if (!PyArray_ISINTEGER(idx)) {
        Py_DECREF(idx);
        return (PyArrayObject *)pyst_raise(STRATA_ETYPE,
                                           "an index array must hold integers (or be a bool mask)");
    }
    if (PyArray_ISUNSIGNED(idx)) {
        PyArrayObject *u =
            (PyArrayObject *)PyArray_FROM_OTF((PyObject *)idx, NPY_UINT64, NPY_ARRAY_CARRAY_RO);
        Py_DECREF(idx);
        return u;
    }
    PyArrayObject *s =
        (PyArrayObject *)PyArray_FROM_OTF((PyObject *)idx, NPY_INT64, NPY_ARRAY_CARRAY_RO);
    Py_DECREF(idx);
    if (s == NULL) return NULL;
    const int64_t *v = PyArray_DATA(s);
    npy_intp n = PyArray_SIZE(s), neg = -1;
    for (npy_intp i = 0; i < n; i++)
        if (v[i] < 0) {
            neg = i;
            break;
        }
    if (neg < 0) { /* reinterpret as uint64 without copying */
        PyArray_Descr *u64 = PyArray_DescrFromType(NPY_UINT64);
        PyObject *u = PyArray_View(s, u64, NULL);
        Py_DECREF(s);
        return (PyArrayObject *)u;
    }
    PyArrayObject *u = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_UINT64);
    if (u == NULL) {
        Py_DECREF(s);
        return NULL;
    }
    uint64_t *o = PyArray_DATA(u);
    for (npy_intp i = 0; i < n; i++) {
        int64_t j = v[i] < 0 ? v[i] + (int64_t)a->n : v[i];
        if (j < 0) {
            long long bad = v[i];
            Py_DECREF(s);
            Py_DECREF(u);
            return (PyArrayObject *)range_error(a, bad);
        }
        o[i] = (uint64_t)j;
    }
    Py_DECREF(s);
    return u;
}

/* The check the library would make, done first so that its message names Python's index. */
static int positions_check(ArrayObject *a, PyArrayObject *pos)
{
    const uint64_t *p = PyArray_DATA(pos);
    npy_intp n = PyArray_SIZE(pos);
    for (npy_intp i = 0; i < n; i++)
        if (p[i] >= a->n) {
            range_error(a, (long long)p[i]);
            return -1;
        }
    return 0;
}

/* A slice as (first, stride, count, reversed): the elements are first + k*stride ascending;
 * REVERSED when the slice walks them backwards. */
typedef struct span {
    uint64_t first, stride, count;
    int reversed;
} span;

static int span_of(ArrayObject *a, PyObject *key, span *s)
{
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key, &start, &stop, &step) < 0) return -1;
    Py_ssize_t len = PySlice_AdjustIndices((Py_ssize_t)a->n, &start, &stop, step);
    s->count = (uint64_t)len;
    s->reversed = step < 0;
    s->stride = (uint64_t)(step < 0 ? -step : step);
    s->first = len == 0 ? 0 : (uint64_t)(step < 0 ? start + (len - 1) * step : start);
    return 0;
}

static void reverse_bytes(char *p, uint64_t count, size_t size)
{
    char tmp[16];
    for (uint64_t i = 0, j = count ? count - 1 : 0; i < j; i++, j--) {
        memcpy(tmp, p + i * size, size);
        memcpy(p + i * size, p + j * size, size);
        memcpy(p + j * size, tmp, size);
    }
}

/* ---- reads --------------------------------------------------------------------------------- */

static PyObject *str_at(ArrayObject *a, uint64_t i)
{
    const char *s;
    size_t len;
    if (pyst_child_busy((ChildObject *)a) < 0) return NULL; /* the decode may run Python code */
    int rc = strata_array_get_str(a->a, i, &s, &len);
    PyObject *v = rc < 0 ? NULL : pyst_str(s, len);
    pyst_child_unbusy((ChildObject *)a);
    return rc < 0 ? array_fail(a, rc) : v;
}

static PyObject *str_list(ArrayObject *a, const uint64_t *pos, uint64_t first, uint64_t stride,
                          uint64_t count, int reversed)
{
    PyObject *list = PyList_New((Py_ssize_t)count);
    for (uint64_t k = 0; list != NULL && k < count; k++) {
        uint64_t kk = reversed ? count - 1 - k : k;
        uint64_t i = pos != NULL ? pos[k] : first + kk * stride;
        PyObject *s = str_at(a, i);
        if (s == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)k, s);
    }
    return list;
}

/* Run a data-path call, with the GIL released when it is large, A counted busy meanwhile so that
 * a close() (from another thread, or from Python code a conversion ran) waits for it. RC is
 * INT_MIN with an exception set when A was closed. */
#define DATA_CALL(a, count, rc, call)                                                              \
    do {                                                                                           \
        if (pyst_child_busy((ChildObject *)(a)) < 0) {                                             \
            (rc) = INT_MIN;                                                                        \
            break;                                                                                 \
        }                                                                                          \
        if ((count) >= NOGIL_MIN) {                                                                \
            Py_BEGIN_ALLOW_THREADS(rc) = (call);                                                   \
            Py_END_ALLOW_THREADS                                                                   \
        } else {                                                                                   \
            (rc) = (call);                                                                         \
        }                                                                                          \
        pyst_child_unbusy((ChildObject *)(a));                                                     \
    } while (0)

static PyObject *array_getitem(ArrayObject *a, PyObject *key)
{
    if (array_check(a) < 0) return NULL;
    int typenum = pyst_npy_type(a->dtype);
    if (PyIndex_Check(key) && !PyArray_Check(key)) {
        uint64_t i;
        if (index_of(a, key, &i) < 0) return NULL;
        if (a->dtype == STRATA_STR) return str_at(a, i);
        char buf[16];
        int rc;
        DATA_CALL(a, 1, rc, strata_array_get(a->a, i, 1, buf));
        if (rc < 0) return array_fail(a, rc);
        PyArray_Descr *d = PyArray_DescrFromType(typenum);
        PyObject *v = PyArray_Scalar(buf, d, NULL);
        Py_DECREF(d);
        return v;
    }
    if (PySlice_Check(key)) {
        span s;
        if (span_of(a, key, &s) < 0) return NULL;
        if (a->dtype == STRATA_STR)
            return str_list(a, NULL, s.first, s.stride, s.count, s.reversed);
        npy_intp dim = (npy_intp)s.count;
        PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &dim, typenum);
        if (out == NULL || s.count == 0) return (PyObject *)out;
        int rc;
        DATA_CALL(a, s.count, rc,
                  s.stride == 1 ? strata_array_get(a->a, s.first, s.count, PyArray_DATA(out))
                                : strata_array_get_strided(a->a, s.first, s.stride, s.count,
                                                           PyArray_DATA(out)));
        if (rc < 0) {
            Py_DECREF(out);
            return array_fail(a, rc);
        }
        if (s.reversed) reverse_bytes(PyArray_DATA(out), s.count, PyArray_ITEMSIZE(out));
        return (PyObject *)out;
    }
    PyArrayObject *pos = positions(a, key);
    if (pos == NULL) return NULL;
    uint64_t n = (uint64_t)PyArray_SIZE(pos);
    if (a->dtype == STRATA_STR && positions_check(a, pos) < 0) {
        Py_DECREF(pos);
        return NULL;
    }
    if (a->dtype == STRATA_STR) {
        PyObject *list = str_list(a, PyArray_DATA(pos), 0, 0, n, 0);
        Py_DECREF(pos);
        return list;
    }
    npy_intp dim = (npy_intp)n;
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &dim, typenum);
    int rc = 0;
    if (out != NULL && n > 0)
        DATA_CALL(a, n, rc, strata_array_gather(a->a, PyArray_DATA(pos), n, PyArray_DATA(out)));
    /* the library checked the indices (in parallel); on failure name Python's index */
    int named = rc == STRATA_ERANGE && positions_check(a, pos) < 0;
    Py_DECREF(pos);
    if (rc < 0) {
        Py_XDECREF(out);
        return named ? NULL : array_fail(a, rc);
    }
    return (PyObject *)out;
}

/* ---- writes -------------------------------------------------------------------------------- */

/* VALUE as exactly COUNT elements of A's dtype (a scalar is repeated). */
static PyArrayObject *values_for(ArrayObject *a, PyObject *value, uint64_t count)
{
    char what[STRATA_NAME_MAX * 2 + 16];
    snprintf(what, sizeof what, "array '%s'", PyUnicode_AsUTF8(a->fullname));
    PyArrayObject *v = pyst_values(value, a->dtype, what);
    if (v == NULL) return NULL;
    if (PyArray_NDIM(v) == 0 || (PyArray_NDIM(v) == 1 && PyArray_DIM(v, 0) == 1 && count != 1)) {
        npy_intp dim = (npy_intp)count;
        PyArrayObject *full = (PyArrayObject *)PyArray_SimpleNew(1, &dim, PyArray_TYPE(v));
        if (full != NULL && PyArray_CopyInto(full, v) < 0) Py_CLEAR(full);
        Py_DECREF(v);
        return full;
    }
    if (PyArray_NDIM(v) != 1 || (uint64_t)PyArray_DIM(v, 0) != count) {
        char msg[256];
        snprintf(msg, sizeof msg, "%lld values given for %llu elements", (long long)PyArray_SIZE(v),
                 (unsigned long long)count);
        Py_DECREF(v);
        return (PyArrayObject *)pyst_raise(STRATA_EINVAL, msg);
    }
    return v;
}

static int array_setitem(ArrayObject *a, PyObject *key, PyObject *value)
{
    if (value == NULL) {
        pyst_raise(STRATA_EINVAL, "elements of an array cannot be deleted");
        return -1;
    }
    if (array_check(a) < 0) return -1;
    if (a->dtype == STRATA_STR) {
        pyst_raise(STRATA_ETYPE, "string arrays are immutable once created");
        return -1;
    }
    uint64_t first = 0, stride = 1, count;
    PyArrayObject *pos = NULL;
    int reversed = 0;
    if (PyIndex_Check(key) && !PyArray_Check(key)) {
        if (index_of(a, key, &first) < 0) return -1;
        count = 1;
    } else if (PySlice_Check(key)) {
        span s;
        if (span_of(a, key, &s) < 0) return -1;
        first = s.first, stride = s.stride, count = s.count, reversed = s.reversed;
    } else {
        pos = positions(a, key);
        if (pos == NULL) return -1;
        count = (uint64_t)PyArray_SIZE(pos);
    }
    PyArrayObject *v = values_for(a, value, count);
    if (v == NULL) {
        Py_XDECREF(pos);
        return -1;
    }
    if (reversed) { /* write ascending positions: the values backwards */
        PyArrayObject *copy = (PyArrayObject *)PyArray_NewCopy(v, NPY_CORDER);
        Py_DECREF(v);
        if (copy == NULL) return -1;
        v = copy;
        reverse_bytes(PyArray_DATA(v), count, PyArray_ITEMSIZE(v));
    }
    int rc = 0;
    if (count > 0) {
        const void *src = PyArray_DATA(v);
        if (pos != NULL)
            DATA_CALL(a, count, rc, strata_array_scatter(a->a, PyArray_DATA(pos), count, src));
        else if (stride == 1)
            DATA_CALL(a, count, rc, strata_array_put(a->a, first, count, src));
        else
            DATA_CALL(a, count, rc, strata_array_put_strided(a->a, first, stride, count, src));
    }
    Py_DECREF(v);
    /* the library checked the indices before writing anything; on failure name Python's index */
    int named = pos != NULL && rc == STRATA_ERANGE && positions_check(a, pos) < 0;
    Py_XDECREF(pos);
    if (rc < 0) {
        if (!named) array_fail(a, rc);
        return -1;
    }
    return 0;
}

static Py_ssize_t array_len(ArrayObject *a)
{
    return (Py_ssize_t)a->n;
}

/* ---- zero copy ----------------------------------------------------------------------------- */

static PyObject *array_numpy(ArrayObject *a, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"writable", NULL};
    int writable = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:numpy", kwlist, &writable)) return NULL;
    if (array_check(a) < 0) return NULL;
    if (a->dtype == STRATA_STR)
        return pyst_raise(STRATA_ETYPE, "a string array has no flat numpy view: use a[:] for a "
                                        "list of str");
    void *ptr = NULL;
    int rc = strata_array_map(a->a, writable ? STRATA_MAP_READ | STRATA_MAP_WRITE : STRATA_MAP_READ,
                              &ptr);
    if (rc < 0) return array_fail(a, rc);
    npy_intp dim = (npy_intp)a->n;
    return pyst_view((ChildObject *)a, ptr, pyst_npy_type(a->dtype), 1, &dim, NULL, writable);
}

/* ---- atomics ------------------------------------------------------------------------------- */

static PyObject *atomic(ArrayObject *a, strata_atomic_op op, PyObject *args, const char *fmt)
{
    PyObject *idx, *operand = NULL, *expected = NULL;
    int ok = op == STRATA_ATOMIC_COMPARE_SWAP
                 ? PyArg_ParseTuple(args, fmt, &idx, &expected, &operand)
                 : PyArg_ParseTuple(args, fmt, &idx, &operand);
    if (!ok || array_check(a) < 0) return NULL;
    uint64_t i;
    if (index_of(a, idx, &i) < 0) return NULL;
    if (a->dtype == STRATA_STR) return pyst_raise(STRATA_ETYPE, "string arrays have no atomics");
    char obuf[16], ebuf[16], old[16];
    char what[STRATA_NAME_MAX * 2 + 16];
    snprintf(what, sizeof what, "array '%s'", PyUnicode_AsUTF8(a->fullname));
    PyArrayObject *ov = pyst_values(operand, a->dtype, what);
    if (ov == NULL) return NULL;
    if (PyArray_SIZE(ov) != 1) {
        Py_DECREF(ov);
        return pyst_raise(STRATA_EINVAL, "an atomic takes one value");
    }
    memcpy(obuf, PyArray_DATA(ov), PyArray_ITEMSIZE(ov));
    Py_DECREF(ov);
    if (expected != NULL) {
        PyArrayObject *ev = pyst_values(expected, a->dtype, what);
        if (ev == NULL) return NULL;
        if (PyArray_SIZE(ev) != 1) {
            Py_DECREF(ev);
            return pyst_raise(STRATA_EINVAL, "compare_swap takes one expected value");
        }
        memcpy(ebuf, PyArray_DATA(ev), PyArray_ITEMSIZE(ev));
        Py_DECREF(ev);
    }
    int rc;
    DATA_CALL(a, 1, rc,
              strata_array_atomic(a->a, op, i, obuf, expected != NULL ? ebuf : NULL, old));
    if (rc < 0) return array_fail(a, rc);
    PyArray_Descr *d = PyArray_DescrFromType(pyst_npy_type(a->dtype));
    PyObject *v = PyArray_Scalar(old, d, NULL);
    Py_DECREF(d);
    return v;
}

#define ATOMIC_METHOD(fn, op, fmt)                                                                 \
    static PyObject *fn(ArrayObject *a, PyObject *args)                                            \
    {                                                                                              \
        return atomic(a, op, args, fmt);                                                           \
    }
ATOMIC_METHOD(array_fetch_add, STRATA_ATOMIC_FETCH_ADD, "OO:fetch_add")
ATOMIC_METHOD(array_swap, STRATA_ATOMIC_SWAP, "OO:swap")
ATOMIC_METHOD(array_compare_swap, STRATA_ATOMIC_COMPARE_SWAP, "OOO:compare_swap")
ATOMIC_METHOD(array_fetch_min, STRATA_ATOMIC_FETCH_MIN, "OO:fetch_min")
ATOMIC_METHOD(array_fetch_max, STRATA_ATOMIC_FETCH_MAX, "OO:fetch_max")
ATOMIC_METHOD(array_fetch_and, STRATA_ATOMIC_FETCH_AND, "OO:fetch_and")
ATOMIC_METHOD(array_fetch_or, STRATA_ATOMIC_FETCH_OR, "OO:fetch_or")
ATOMIC_METHOD(array_fetch_xor, STRATA_ATOMIC_FETCH_XOR, "OO:fetch_xor")

/* ---- locks, backup, info ------------------------------------------------------------------- */

static PyObject *array_lock_take(ArrayObject *a, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"shared", "timeout", NULL};
    int shared = 0;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|pO:_lock", kwlist, &shared, &timeout)) return NULL;
    if (array_check(a) < 0) return NULL;
    int ms = -1;
    if (timeout != Py_None) {
        double t = PyFloat_AsDouble(timeout);
        if (t == -1.0 && PyErr_Occurred()) return NULL;
        ms = t <= 0 ? 0 : t * 1000.0 > INT_MAX ? INT_MAX : (int)(t * 1000.0 + 0.5);
    }
    int rc;
    DATA_CALL(a, NOGIL_MIN, rc,
              strata_array_lock(a->a, shared ? STRATA_LOCK_SHARED : STRATA_LOCK_EXCLUSIVE, ms));
    if (rc < 0) return array_fail(a, rc);
    Py_RETURN_NONE;
}

static PyObject *array_unlock(ArrayObject *a, PyObject *noargs)
{
    (void)noargs;
    if (array_check(a) < 0) return NULL;
    int rc = strata_array_unlock(a->a);
    if (rc < 0) return array_fail(a, rc);
    Py_RETURN_NONE;
}

static PyObject *array_locked(ArrayObject *a, PyObject *noargs)
{
    (void)noargs;
    if (array_check(a) < 0) return NULL;
    int rc = strata_array_lock_test(a->a);
    if (rc < 0 && rc != STRATA_ELOCKED) return array_fail(a, rc);
    return PyBool_FromLong(rc == STRATA_ELOCKED);
}

static PyObject *array_backup(ArrayObject *a, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s:backup", &name) || array_check(a) < 0) return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(a->pool, st, strata_array_backup(a->a, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *array_flush(ArrayObject *a, PyObject *noargs)
{
    (void)noargs;
    if (array_check(a) < 0) return NULL;
    int rc;
    DATA_CALL(a, NOGIL_MIN, rc, strata_array_flush(a->a));
    if (rc < 0) return array_fail(a, rc);
    Py_RETURN_NONE;
}

static PyObject *info_dict(const strata_array_info *in)
{
    PyObject *dt = pyst_np_dtype(in->dtype);
    PyObject *d = Py_BuildValue(
        "{s:s,s:s,s:s,s:N,s:K,s:K,s:L,s:s,s:z}", "region", in->region, "name", in->name,
        "dtype_name", strata_dtype_name(in->dtype), "dtype", dt, "length",
        (unsigned long long)in->length, "bytes", (unsigned long long)in->bytes, "created_ns",
        (long long)in->created_ns, "path", in->path, "bytes_path", in->bytes_path);
    if (d != NULL && in->has_checksum) {
        PyObject *c = PyLong_FromUnsignedLongLong(in->checksum);
        if (c == NULL || PyDict_SetItemString(d, "checksum", c) < 0) Py_CLEAR(d);
        Py_XDECREF(c);
    }
    return d;
}

static PyObject *array_stat(ArrayObject *a, unsigned flags)
{
    if (array_check(a) < 0) return NULL;
    strata_array_info info;
    pyst_status st;
    PYST_CALL_NOGIL(a->pool, st, strata_array_stat(a->a, flags, &info));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return info_dict(&info);
}

static PyObject *array_info(ArrayObject *a, PyObject *noargs)
{
    (void)noargs;
    return array_stat(a, 0);
}

static PyObject *array_checksum(ArrayObject *a, PyObject *noargs)
{
    (void)noargs;
    PyObject *d = array_stat(a, STRATA_STAT_CHECKSUM);
    if (d == NULL) return NULL;
    PyObject *c = PyDict_GetItemString(d, "checksum");
    Py_XINCREF(c);
    Py_DECREF(d);
    return c;
}

static PyObject *array_enter(ArrayObject *a, PyObject *noargs)
{
    (void)noargs;
    if (array_check(a) < 0) return NULL;
    return Py_NewRef(a);
}

static PyObject *array_get_dtype(ArrayObject *a, void *c)
{
    (void)c;
    return pyst_np_dtype(a->dtype);
}

static PyObject *array_get_dtype_name(ArrayObject *a, void *c)
{
    (void)c;
    return PyUnicode_FromString(strata_dtype_name(a->dtype));
}

static PyObject *array_get_name(ArrayObject *a, void *c)
{
    (void)c;
    return Py_NewRef(a->fullname);
}

static PyObject *array_repr(ArrayObject *a)
{
    return PyUnicode_FromFormat("<strata.Array '%U' %s[%llu]%s>", a->fullname,
                                strata_dtype_name(a->dtype), (unsigned long long)a->n,
                                a->release == NULL || a->close_requested ? " (closed)" : "");
}

static PyMethodDef array_methods[] = {
    {"numpy", (PyCFunction)(void (*)(void))array_numpy, METH_VARARGS | METH_KEYWORDS,
     "numpy(writable=False)\n--\n\nA numpy array over the array's shared mapping: no copy. Stores\n"
     "through a writable view are stores to the pool, seen by every process at once. The view\n"
     "keeps the array's memory mapped as long as it lives, even after close()."},
    {"fetch_add", (PyCFunction)array_fetch_add, METH_VARARGS,
     "fetch_add(i, v)\n--\n\nAdd V to a[i] atomically (across processes); return the old value."},
    {"swap", (PyCFunction)array_swap, METH_VARARGS,
     "swap(i, v)\n--\n\nStore V in a[i] atomically; return the old value."},
    {"compare_swap", (PyCFunction)array_compare_swap, METH_VARARGS,
     "compare_swap(i, expected, new)\n--\n\nStore NEW in a[i] if it holds EXPECTED, atomically;\n"
     "return the old value (equal to EXPECTED when the swap happened)."},
    {"fetch_min", (PyCFunction)array_fetch_min, METH_VARARGS,
     "fetch_min(i, v)\n--\n\na[i] = min(a[i], v) atomically; return the old value (integers)."},
    {"fetch_max", (PyCFunction)array_fetch_max, METH_VARARGS,
     "fetch_max(i, v)\n--\n\na[i] = max(a[i], v) atomically; return the old value (integers)."},
    {"fetch_and", (PyCFunction)array_fetch_and, METH_VARARGS,
     "fetch_and(i, v)\n--\n\na[i] &= v atomically; return the old value (integers)."},
    {"fetch_or", (PyCFunction)array_fetch_or, METH_VARARGS,
     "fetch_or(i, v)\n--\n\na[i] |= v atomically; return the old value (integers)."},
    {"fetch_xor", (PyCFunction)array_fetch_xor, METH_VARARGS,
     "fetch_xor(i, v)\n--\n\na[i] ^= v atomically; return the old value (integers)."},
    {"_lock", (PyCFunction)(void (*)(void))array_lock_take, METH_VARARGS | METH_KEYWORDS,
     "Take the lock (see lock())."},
    {"unlock", (PyCFunction)array_unlock, METH_NOARGS,
     "unlock()\n--\n\nRelease the lock this handle holds (nothing if none)."},
    {"locked", (PyCFunction)array_locked, METH_NOARGS,
     "locked()\n--\n\nTrue when another handle (of any process) holds the array's lock."},
    {"backup", (PyCFunction)array_backup, METH_VARARGS,
     "backup(name)\n--\n\nCopy the array durably into a new backup NAME (pool-wide names);\n"
     "pool.restore(name, 'region/array') brings it back. Exists if the backup exists."},
    {"flush", (PyCFunction)array_flush, METH_NOARGS,
     "flush()\n--\n\nMake every store durable (msync and fsync)."},
    {"info", (PyCFunction)array_info, METH_NOARGS,
     "info()\n--\n\nA dict: region, name, dtype, dtype_name, length, bytes, created_ns, path\n"
     "(the NPY file), bytes_path (string arrays)."},
    {"checksum", (PyCFunction)array_checksum, METH_NOARGS,
     "checksum()\n--\n\nxxHash64 of the data (reads every byte)."},
    {"close", (PyCFunction)pyst_child_close_meth, METH_NOARGS,
     "close()\n--\n\nClose the handle (releasing its lock). numpy views stay valid until they "
     "die."},
    {"__enter__", (PyCFunction)array_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pyst_child_exit_meth, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef array_getset[] = {
    {"dtype", (getter)array_get_dtype, NULL, "The numpy dtype (object for str arrays).", NULL},
    {"dtype_name", (getter)array_get_dtype_name, NULL, "Strata's dtype name ('i64', 'str').", NULL},
    {"name", (getter)array_get_name, NULL, "'region/name'.", NULL},
    {"closed", (getter)pyst_child_get_closed, NULL, "True once closed.", NULL},
    {"pool", (getter)pyst_child_get_pool, NULL, "The Pool it was opened through.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods array_mapping = {
    .mp_length = (lenfunc)array_len,
    .mp_subscript = (binaryfunc)array_getitem,
    .mp_ass_subscript = (objobjargproc)array_setitem,
};

static PyTypeObject ArrayType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Array",
    .tp_basicsize = sizeof(ArrayObject),
    .tp_dealloc = (destructor)array_dealloc,
    .tp_repr = (reprfunc)array_repr,
    .tp_as_mapping = &array_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A named, typed 1-D array of a pool (pool.array(), pool.create_array()).\n\n"
              "a[i], a[i:j:k] and a[index_array] read (gather); the same on the left of '='\n"
              "write (scatter; a repeated index keeps its last value). Indices are checked first:\n"
              "OutOfRange and nothing changes. Stores are seen by every process at once; flush()\n"
              "makes them durable. String arrays read as str and lists of str and are immutable.",
    .tp_methods = array_methods,
    .tp_getset = array_getset,
};

/* ---- Pool methods -------------------------------------------------------------------------- */

static PyObject *pool_array(PoolObject *p, PyObject *args)
{
    const char *full;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTuple(args, "s:array", &full) || pyst_split(full, region, name, "array") < 0)
        return NULL;
    if (pyst_pool_check(p) < 0) return NULL;
    strata_array *h = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_array_open(p->pool, region, name, &h));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return array_new(p, h, region, name);
}

/* Strings (a list of str, or a numpy array of str or object) packed as offsets + bytes. */
int pyst_pack_strings(PyObject *data, PyObject **offsets_out, PyObject **bytes_out)
{
    PyObject *seq = PySequence_Fast(data, "string data must be a sequence of str");
    if (seq == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    npy_intp dim = n + 1;
    PyArrayObject *off = (PyArrayObject *)PyArray_SimpleNew(1, &dim, NPY_INT64);
    PyObject *buf = PyByteArray_FromStringAndSize(NULL, 0);
    if (off == NULL || buf == NULL) goto fail;
    int64_t *o = PyArray_DATA(off);
    o[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *s = PyObject_Str(item);
        if (s == NULL) goto fail;
        Py_ssize_t len;
        const char *u = PyUnicode_AsUTF8AndSize(s, &len);
        if (u == NULL) {
            Py_DECREF(s);
            goto fail;
        }
        Py_ssize_t at = PyByteArray_GET_SIZE(buf);
        if (PyByteArray_Resize(buf, at + len) < 0) {
            Py_DECREF(s);
            goto fail;
        }
        memcpy(PyByteArray_AS_STRING(buf) + at, u, (size_t)len);
        Py_DECREF(s);
        o[i + 1] = o[i] + len;
    }
    Py_DECREF(seq);
    *offsets_out = (PyObject *)off;
    *bytes_out = buf;
    return 0;
fail:
    Py_DECREF(seq);
    Py_XDECREF(off);
    Py_XDECREF(buf);
    return -1;
}

static PyObject *pool_create_array(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "dtype", "n", "data", NULL};
    const char *full;
    PyObject *dtype_obj = Py_None, *n_obj = Py_None, *data = Py_None;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|OO$O:create_array", kwlist, &full, &dtype_obj,
                                     &n_obj, &data) ||
        pyst_split(full, region, name, "array") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    if (data == Py_None && (dtype_obj == Py_None || n_obj == Py_None))
        return pyst_raise(STRATA_EINVAL,
                          "create_array needs a dtype and a length, or data= (an ndarray or a "
                          "list of str)");
    strata_dtype dt = STRATA_I64;
    if (dtype_obj != Py_None && pyst_dtype_from_obj(dtype_obj, &dt) < 0) return NULL;
    strata_array *h = NULL;
    pyst_status st;
    if (data == Py_None) {
        int64_t n;
        if (pyst_opt_int64(n_obj, 0, &n, "n") < 0) return NULL;
        if (n < 0) return pyst_raise(STRATA_EINVAL, "n must not be negative");
        if (pyst_region_ensure(p, region) < 0) return NULL;
        PYST_CALL_NOGIL(p, st, strata_array_create(p->pool, region, name, dt, (uint64_t)n, &h));
    } else {
        int is_str = dtype_obj != Py_None ? dt == STRATA_STR : 0;
        PyArrayObject *probe = NULL;
        if (dtype_obj == Py_None) {
            probe = (PyArrayObject *)PyArray_FROM_OF(data, NPY_ARRAY_CARRAY_RO);
            if (probe == NULL) return NULL;
            int t = PyArray_TYPE(probe);
            if (t == NPY_UNICODE || t == NPY_STRING || t == NPY_OBJECT)
                is_str = 1;
            else if (pyst_dtype_from_npy(t, &dt) < 0) {
                Py_DECREF(probe);
                return NULL;
            }
        }
        if (is_str) {
            Py_XDECREF(probe);
            PyObject *off, *bytes;
            if (pyst_pack_strings(data, &off, &bytes) < 0) return NULL;
            uint64_t n = (uint64_t)PyArray_SIZE((PyArrayObject *)off) - 1;
            const int64_t *o = PyArray_DATA((PyArrayObject *)off);
            const char *b = PyByteArray_AS_STRING(bytes);
            if (pyst_region_ensure(p, region) >= 0)
                PYST_CALL_NOGIL(p, st, strata_array_create_str(p->pool, region, name, n, o, b, &h));
            else
                st.rc = INT_MIN;
            Py_DECREF(off);
            Py_DECREF(bytes);
        } else {
            PyArrayObject *v = pyst_values(probe != NULL ? (PyObject *)probe : data, dt, full);
            Py_XDECREF(probe);
            if (v == NULL) return NULL;
            if (PyArray_NDIM(v) > 1) {
                Py_DECREF(v);
                return pyst_raise(STRATA_EINVAL, "arrays are 1-D: flatten the data (or use "
                                                 "create_ndarray)");
            }
            uint64_t n = (uint64_t)PyArray_SIZE(v);
            const void *src = PyArray_DATA(v);
            if (pyst_region_ensure(p, region) >= 0)
                PYST_CALL_NOGIL(p, st,
                                strata_array_create_from(p->pool, region, name, dt, n, src, &h));
            else
                st.rc = INT_MIN;
            Py_DECREF(v);
        }
    }
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return array_new(p, h, region, name);
}

/* Create REGION when it does not exist (creating an object creates its region, as the CLI
 * does). */
int pyst_region_ensure(PoolObject *p, const char *region)
{
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_region_exists(p->pool, region));
    if (st.rc == STRATA_ENOTFOUND) {
        PYST_CALL_NOGIL(p, st, strata_region_create(p->pool, region));
        if (st.rc == STRATA_EEXIST) st.rc = STRATA_OK; /* a racing creator */
    }
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        return -1;
    }
    return 0;
}

static PyObject *pool_drop_array(PoolObject *p, PyObject *args)
{
    const char *full;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTuple(args, "s:drop_array", &full) ||
        pyst_split(full, region, name, "array") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_array_delete(p->pool, region, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static int list_array(void *ctx, const strata_array_info *info)
{
    PyObject *s = PyUnicode_FromFormat("%s/%s", info->region, info->name);
    if (s == NULL) return 1;
    int rc = PyList_Append((PyObject *)ctx, s);
    Py_DECREF(s);
    return rc < 0 ? 1 : 0;
}

/* The regions to list: [REGION] or, for None, every region. New list or NULL; pool locked. */
PyObject *pyst_regions_arg(PoolObject *p, PyObject *region)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    if (region != Py_None) {
        if (!PyUnicode_Check(region)) {
            Py_DECREF(list);
            return pyst_raise(STRATA_EINVAL, "region must be a str or None");
        }
        if (PyList_Append(list, region) < 0) Py_CLEAR(list);
        return list;
    }
    int rc = strata_region_list(p->pool, pyst_list_name, list);
    if (rc != 0) {
        if (rc < 0) pyst_raise_pool(p, rc);
        Py_CLEAR(list);
    }
    return list;
}

static PyObject *pool_arrays(PoolObject *p, PyObject *args)
{
    PyObject *region = Py_None;
    if (!PyArg_ParseTuple(args, "|O:arrays", &region) || pyst_pool_lock(p) < 0) return NULL;
    PyObject *out = PyList_New(0), *regions = out != NULL ? pyst_regions_arg(p, region) : NULL;
    for (Py_ssize_t i = 0; regions != NULL && i < PyList_GET_SIZE(regions); i++) {
        const char *r = PyUnicode_AsUTF8(PyList_GET_ITEM(regions, i));
        int rc = r != NULL ? strata_array_list(p->pool, r, list_array, out) : 1;
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

static PyObject *pool_restore(PoolObject *p, PyObject *args)
{
    const char *backup, *full;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTuple(args, "ss:restore", &backup, &full) ||
        pyst_split(full, region, name, "array") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_backup_restore(p->pool, backup, region, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *pool_backups(PoolObject *p, PyObject *noargs)
{
    (void)noargs;
    PyObject *list = PyList_New(0);
    if (list == NULL || pyst_pool_lock(p) < 0) {
        Py_XDECREF(list);
        return NULL;
    }
    int rc = strata_backup_list(p->pool, pyst_list_name, list);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

static PyObject *pool_drop_backup(PoolObject *p, PyObject *args)
{
    const char *backup;
    if (!PyArg_ParseTuple(args, "s:drop_backup", &backup) || pyst_pool_lock(p) < 0) return NULL;
    int rc = strata_backup_delete(p->pool, backup);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

PyMethodDef pyst_pool_array_methods[] = {
    {"array", (PyCFunction)pool_array, METH_VARARGS,
     "array(name)\n--\n\nOpen array 'region/name'. Raises NotFound (a KeyError) when there is\n"
     "none, so find-or-create reads:\n"
     "    try: a = pool.array('demo/a')\n"
     "    except strata.NotFound: a = pool.create_array('demo/a', 'i64', 10)"},
    {"create_array", (PyCFunction)(void (*)(void))pool_create_array, METH_VARARGS | METH_KEYWORDS,
     "create_array(name, dtype=None, n=None, *, data=None)\n--\n\n"
     "Create array 'region/name' (and its region on first use): N zeroed elements of DTYPE (a\n"
     "Strata name such as 'i64', or a numpy dtype), or with the values of DATA (an ndarray, or\n"
     "a list of str for a string array), durably and atomically. Raises Exists if the name is\n"
     "taken."},
    {"drop_array", (PyCFunction)pool_drop_array, METH_VARARGS,
     "drop_array(name)\n--\n\nDelete array 'region/name'. Raises Locked while anyone holds its "
     "lock."},
    {"arrays", (PyCFunction)pool_arrays, METH_VARARGS,
     "arrays(region=None)\n--\n\nNames ('region/name') of the arrays of REGION, or of every "
     "region."},
    {"restore", (PyCFunction)pool_restore, METH_VARARGS,
     "restore(backup, name)\n--\n\nRestore BACKUP into array 'region/name' (created if missing;\n"
     "else it must have the backup's dtype and length). Corrupt if the backup's checksum fails."},
    {"backups", (PyCFunction)pool_backups, METH_NOARGS,
     "backups()\n--\n\nThe names of the pool's backups."},
    {"drop_backup", (PyCFunction)pool_drop_backup, METH_VARARGS,
     "drop_backup(name)\n--\n\nDelete backup NAME."},
    {NULL, NULL, 0, NULL},
};

int pyst_array_init(PyObject *module)
{
    if (PyType_Ready(&ArrayType) < 0) return -1;
    return PyModule_AddObjectRef(module, "Array", (PyObject *)&ArrayType);
}
