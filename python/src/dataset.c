/*
 * dataset.c -- strata.Dataset, strata.Writer and strata.Snapshot: datasets of typed columns made
 * of immutable batches, written by a Writer (one batch per append, published as one version) and
 * read through snapshots (a version, immutable while open) as zero-copy numpy views of the
 * batches' mapped files; plus the Pool methods for datasets, CSV/NPY ingest, check and gc.
 */
#include "pystrata.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAMEBUF (STRATA_NAME_MAX + 1)

/* Snapshot reads of at least this many elements run with the GIL released. */
#define NOGIL_MIN 65536

/* ---- shared ------------------------------------------------------------------------------ */

/* A long call on child C is starting: C stays open until busy_end (a close from another thread
 * meanwhile is deferred to its end). */
static int busy_begin(ChildObject *c)
{
    return pyst_child_busy(c);
}

static void busy_end(ChildObject *c)
{
    pyst_child_unbusy(c);
}

/* The schema of DESC: a tuple of column names and a malloc'ed array of dtypes. */
static int schema_take(const strata_dataset_desc *d, PyObject **names, strata_dtype **dtypes)
{
    *names = PyTuple_New(d->ncols);
    *dtypes = malloc(sizeof **dtypes * (size_t)(d->ncols > 0 ? d->ncols : 1));
    if (*names == NULL || *dtypes == NULL) {
        Py_CLEAR(*names);
        free(*dtypes);
        *dtypes = NULL;
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < d->ncols; i++) {
        PyObject *s = pyst_str(d->columns[i].name, strlen(d->columns[i].name));
        if (s == NULL) {
            Py_CLEAR(*names);
            free(*dtypes);
            *dtypes = NULL;
            return -1;
        }
        PyTuple_SET_ITEM(*names, i, s);
        (*dtypes)[i] = d->columns[i].dtype;
    }
    return 0;
}

/* {column: numpy dtype} (NAMES=0) or {column: 'i64'} (NAMES=1). */
static PyObject *schema_dict(PyObject *columns, const strata_dtype *dtypes, int names)
{
    PyObject *d = PyDict_New();
    for (Py_ssize_t i = 0; d != NULL && i < PyTuple_GET_SIZE(columns); i++) {
        PyObject *v =
            names ? PyUnicode_FromString(strata_dtype_name(dtypes[i])) : pyst_np_dtype(dtypes[i]);
        if (v == NULL || PyDict_SetItem(d, PyTuple_GET_ITEM(columns, i), v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

/* "a:f64, b:str" for reprs. */
static PyObject *schema_text(PyObject *columns, const strata_dtype *dtypes)
{
    PyObject *parts = PyList_New(0);
    for (Py_ssize_t i = 0; parts != NULL && i < PyTuple_GET_SIZE(columns); i++) {
        PyObject *s = PyUnicode_FromFormat("%U:%s", PyTuple_GET_ITEM(columns, i),
                                           strata_dtype_name(dtypes[i]));
        if (s == NULL || PyList_Append(parts, s) < 0) Py_CLEAR(parts);
        Py_XDECREF(s);
    }
    if (parts == NULL) return NULL;
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *out = sep != NULL ? PyUnicode_Join(sep, parts) : NULL;
    Py_XDECREF(sep);
    Py_DECREF(parts);
    return out;
}

/* "a, b, c": the column names, for messages. */
static PyObject *column_list(PyObject *columns)
{
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *out = sep != NULL ? PyUnicode_Join(sep, columns) : NULL;
    Py_XDECREF(sep);
    return out;
}

/* The index of column NAME in COLUMNS, or -1 with NotFound naming the columns there are. */
static int column_index(PyObject *columns, PyObject *name, PyObject *fullname)
{
    if (!PyUnicode_Check(name)) {
        PyObject *r = PyObject_Repr(name);
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "a column is named by a str, not %s",
                 r != NULL ? PyUnicode_AsUTF8(r) : "?");
        Py_XDECREF(r);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(columns); i++) {
        int eq = PyUnicode_Compare(PyTuple_GET_ITEM(columns, i), name);
        if (eq == 0) return (int)i;
        if (eq == -1 && PyErr_Occurred()) return -1;
    }
    PyObject *list = column_list(columns);
    if (list == NULL) return -1;
    PyObject *msg = PyUnicode_FromFormat("dataset '%U' has no column '%U' (its columns: %U)",
                                         fullname, name, list);
    Py_DECREF(list);
    if (msg == NULL) return -1;
    pyst_raise(STRATA_ENOTFOUND, PyUnicode_AsUTF8(msg));
    Py_DECREF(msg);
    return -1;
}

static int split_name(PyObject *args, const char *fmt, const char **full, char *region, char *name)
{
    if (!PyArg_ParseTuple(args, fmt, full)) return -1;
    return pyst_split(*full, region, name, "dataset");
}

/* ---- Dataset ------------------------------------------------------------------------------- */

typedef struct DatasetObject {
    PyObject_HEAD PYST_CHILD_HEAD;
    strata_dataset *ds;
    PyObject *fullname; /* "region/name" */
    char region[NAMEBUF], name[NAMEBUF];
} DatasetObject;

static PyTypeObject DatasetType;

static void dataset_release(PyObject *self)
{
    DatasetObject *d = (DatasetObject *)self;
    strata_dataset_close(d->ds);
    d->ds = NULL;
}

static PyObject *dataset_new(PoolObject *pool, strata_dataset *h, const char *region,
                             const char *name)
{
    PyTypeObject *cls = pyst_class("Dataset", &DatasetType);
    DatasetObject *d = (DatasetObject *)cls->tp_alloc(cls, 0);
    if (d == NULL) {
        strata_dataset_close(h);
        return NULL;
    }
    d->fullname = PyUnicode_FromFormat("%s/%s", region, name);
    if (d->fullname == NULL) {
        strata_dataset_close(h);
        Py_DECREF(d);
        return NULL;
    }
    snprintf(d->region, sizeof d->region, "%s", region);
    snprintf(d->name, sizeof d->name, "%s", name);
    pyst_child_attach(pool);
    d->pool = pool;
    d->ds = h;
    d->release = dataset_release;
    return (PyObject *)d;
}

static void dataset_dealloc(DatasetObject *d)
{
    d->exports = 0;
    pyst_child_close((ChildObject *)d);
    Py_CLEAR(d->fullname);
    Py_XDECREF(d->pool);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

/* Take the pool lock for a short call on D; -1 with an exception when D is closed. */
static int dataset_lock(DatasetObject *d)
{
    if (d->release == NULL || d->close_requested) {
        pyst_raise(STRATA_EINVAL, "the dataset is closed");
        return -1;
    }
    if (pyst_lock(d->pool) < 0) return -1;
    if (d->ds == NULL) {
        pyst_unlock(d->pool);
        pyst_raise(STRATA_EINVAL, "the dataset is closed");
        return -1;
    }
    return 0;
}

/* The dataset's latest state (read afresh from the catalog). Fills the fields it is given. */
typedef struct ds_state {
    int64_t version, created_ns;
    uint64_t nbatches, nrows, bytes;
    PyObject *columns; /* tuple (may be NULL when not wanted) */
    strata_dtype *dtypes;
} ds_state;

static int dataset_state(DatasetObject *d, ds_state *out, int want_schema)
{
    if (dataset_lock(d) < 0) return -1;
    strata_dataset_desc desc;
    int rc = strata_dataset_info(d->ds, &desc);
    if (rc < 0) {
        pyst_raise_pool(d->pool, rc);
        pyst_unlock(d->pool);
        return -1;
    }
    out->version = desc.version;
    out->created_ns = desc.created_ns;
    out->nbatches = desc.nbatches;
    out->nrows = desc.nrows;
    out->bytes = desc.bytes;
    out->columns = NULL;
    out->dtypes = NULL;
    int ok = want_schema ? schema_take(&desc, &out->columns, &out->dtypes) : 0;
    pyst_unlock(d->pool);
    return ok;
}

static void state_free(ds_state *s)
{
    Py_CLEAR(s->columns);
    free(s->dtypes);
    s->dtypes = NULL;
}

static PyObject *dataset_get_schema_common(DatasetObject *d, int names)
{
    ds_state s;
    if (dataset_state(d, &s, 1) < 0) return NULL;
    PyObject *out = schema_dict(s.columns, s.dtypes, names);
    state_free(&s);
    return out;
}

static PyObject *dataset_get_schema(DatasetObject *d, void *c)
{
    (void)c;
    return dataset_get_schema_common(d, 0);
}

static PyObject *dataset_get_schema_names(DatasetObject *d, void *c)
{
    (void)c;
    return dataset_get_schema_common(d, 1);
}

static PyObject *dataset_get_columns(DatasetObject *d, void *c)
{
    (void)c;
    ds_state s;
    if (dataset_state(d, &s, 1) < 0) return NULL;
    PyObject *out = PySequence_List(s.columns);
    state_free(&s);
    return out;
}

#define DATASET_NUMBER(fn, field, conv)                                                            \
    static PyObject *fn(DatasetObject *d, void *c)                                                 \
    {                                                                                              \
        (void)c;                                                                                   \
        ds_state s;                                                                                \
        if (dataset_state(d, &s, 0) < 0) return NULL;                                              \
        return conv(s.field);                                                                      \
    }
DATASET_NUMBER(dataset_get_version, version, PyLong_FromLongLong)
DATASET_NUMBER(dataset_get_num_rows, nrows, PyLong_FromUnsignedLongLong)
DATASET_NUMBER(dataset_get_num_batches, nbatches, PyLong_FromUnsignedLongLong)

static PyObject *dataset_get_name(DatasetObject *d, void *c)
{
    (void)c;
    return Py_NewRef(d->fullname);
}

static Py_ssize_t dataset_len(DatasetObject *d)
{
    ds_state s;
    if (dataset_state(d, &s, 0) < 0) return -1;
    return (Py_ssize_t)s.nrows;
}

static PyObject *dataset_info(DatasetObject *d, PyObject *noargs)
{
    (void)noargs;
    ds_state s;
    if (dataset_state(d, &s, 1) < 0) return NULL;
    PyObject *schema = schema_dict(s.columns, s.dtypes, 1);
    PyObject *out =
        schema == NULL
            ? NULL
            : Py_BuildValue("{s:s,s:s,s:L,s:K,s:K,s:K,s:L,s:N}", "region", d->region, "name",
                            d->name, "version", (long long)s.version, "num_batches",
                            (unsigned long long)s.nbatches, "num_rows", (unsigned long long)s.nrows,
                            "bytes", (unsigned long long)s.bytes, "created_ns",
                            (long long)s.created_ns, "schema", schema);
    state_free(&s);
    return out;
}

static int log_entry(void *ctx, const strata_version_info *v)
{
    PyObject *e = Py_BuildValue(
        "{s:L,s:L,s:K,s:K,s:K,s:O}", "version", (long long)v->version, "created_ns",
        (long long)v->created_ns, "batches_added", (unsigned long long)v->batches_added,
        "rows_added", (unsigned long long)v->rows_added, "total_rows",
        (unsigned long long)v->total_rows, "expired", v->expired ? Py_True : Py_False);
    if (e == NULL) return 1;
    int rc = PyList_Append((PyObject *)ctx, e);
    Py_DECREF(e);
    return rc < 0 ? 1 : 0;
}

static PyObject *dataset_log(DatasetObject *d, PyObject *noargs)
{
    (void)noargs;
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    if (dataset_lock(d) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    int rc = strata_dataset_log(d->pool->pool, d->region, d->name, log_entry, list);
    if (rc < 0) pyst_raise_pool(d->pool, rc);
    pyst_unlock(d->pool);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

static PyObject *snapshot_open(PoolObject *p, const char *region, const char *name,
                               PyObject *as_of);
static PyObject *writer_open(PoolObject *p, const char *region, const char *name,
                             PyObject *lock_timeout);

static PyObject *dataset_snapshot(DatasetObject *d, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"as_of", NULL};
    PyObject *as_of = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:snapshot", kwlist, &as_of)) return NULL;
    if (d->release == NULL || d->close_requested)
        return pyst_raise(STRATA_EINVAL, "the dataset is closed");
    return snapshot_open(d->pool, d->region, d->name, as_of);
}

static PyObject *dataset_writer(DatasetObject *d, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"lock_timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:writer", kwlist, &timeout)) return NULL;
    if (d->release == NULL || d->close_requested)
        return pyst_raise(STRATA_EINVAL, "the dataset is closed");
    return writer_open(d->pool, d->region, d->name, timeout);
}

static PyObject *dataset_enter(DatasetObject *d, PyObject *noargs)
{
    (void)noargs;
    if (d->release == NULL || d->close_requested)
        return pyst_raise(STRATA_EINVAL, "the dataset is closed");
    return Py_NewRef(d);
}

static PyObject *dataset_repr(DatasetObject *d)
{
    if (d->release == NULL || d->close_requested)
        return PyUnicode_FromFormat("<strata.Dataset '%U' (closed)>", d->fullname);
    ds_state s;
    if (dataset_state(d, &s, 1) < 0) {
        PyErr_Clear();
        return PyUnicode_FromFormat("<strata.Dataset '%U' (unreadable)>", d->fullname);
    }
    PyObject *text = schema_text(s.columns, s.dtypes);
    PyObject *r = text == NULL ? NULL
                               : PyUnicode_FromFormat("<strata.Dataset '%U' v%lld, %llu rows in "
                                                      "%llu batch%s (%U)>",
                                                      d->fullname, (long long)s.version,
                                                      (unsigned long long)s.nrows,
                                                      (unsigned long long)s.nbatches,
                                                      s.nbatches == 1 ? "" : "es", text);
    Py_XDECREF(text);
    state_free(&s);
    return r;
}

static PyMethodDef dataset_methods[] = {
    {"snapshot", (PyCFunction)(void (*)(void))dataset_snapshot, METH_VARARGS | METH_KEYWORDS,
     "snapshot(as_of=None)\n--\n\nA Snapshot of the dataset at version AS_OF (None: the latest):\n"
     "an immutable view that publishes by anyone do not change while it is open. Raises\n"
     "NotFound if that version never existed or was expired by gc. Use it in a with-block:\n"
     "    with ds.snapshot() as snap:\n"
     "        fares = snap['fare']"},
    {"writer", (PyCFunction)(void (*)(void))dataset_writer, METH_VARARGS | METH_KEYWORDS,
     "writer(lock_timeout=None)\n--\n\nA Writer that appends batches and publishes them:\n"
     "    with ds.writer() as w:\n"
     "        w.append(fare=fares, zone=zones)   # one batch\n"
     "The batches of the with-block are published as one new version when it ends cleanly,\n"
     "and discarded when it raises. One writer per dataset at a time (across processes): the\n"
     "first append waits LOCK_TIMEOUT seconds (None: 10; negative: forever) for another\n"
     "writer, then raises Locked."},
    {"log", (PyCFunction)dataset_log, METH_NOARGS,
     "log()\n--\n\nEvery version, oldest first: a list of dicts with version, created_ns,\n"
     "batches_added, rows_added, total_rows and expired (dropped by gc: no longer readable)."},
    {"info", (PyCFunction)dataset_info, METH_NOARGS,
     "info()\n--\n\nA dict: region, name, version, num_batches, num_rows, bytes (of column data),\n"
     "created_ns and schema ({column: 'i64', ...})."},
    {"close", (PyCFunction)pyst_child_close_meth, METH_NOARGS,
     "close()\n--\n\nClose the handle. Snapshots and writers opened from it stay open."},
    {"__enter__", (PyCFunction)dataset_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pyst_child_exit_meth, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef dataset_getset[] = {
    {"name", (getter)dataset_get_name, NULL, "'region/name'.", NULL},
    {"schema", (getter)dataset_get_schema, NULL,
     "{column: numpy dtype} in schema order (object for str columns).", NULL},
    {"schema_names", (getter)dataset_get_schema_names, NULL,
     "{column: Strata dtype name ('i64', 'f64', 'str', ...)} in schema order.", NULL},
    {"columns", (getter)dataset_get_columns, NULL, "The column names, in schema order.", NULL},
    {"version", (getter)dataset_get_version, NULL,
     "The latest published version (the number of publishes; 0 for a new dataset).", NULL},
    {"num_rows", (getter)dataset_get_num_rows, NULL, "Rows at the latest version.", NULL},
    {"num_batches", (getter)dataset_get_num_batches, NULL, "Batches at the latest version.", NULL},
    {"closed", (getter)pyst_child_get_closed, NULL, "True once closed.", NULL},
    {"pool", (getter)pyst_child_get_pool, NULL, "The Pool it was opened through.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods dataset_sequence = {
    .sq_length = (lenfunc)dataset_len,
};

static PyTypeObject DatasetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Dataset",
    .tp_basicsize = sizeof(DatasetObject),
    .tp_dealloc = (destructor)dataset_dealloc,
    .tp_repr = (reprfunc)dataset_repr,
    .tp_as_sequence = &dataset_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A dataset of a pool (pool.dataset(), pool.create_dataset()): named, typed columns\n"
              "made of immutable batches. Every publish makes a new version; read a version\n"
              "through a Snapshot (ds.snapshot()), write batches through a Writer (ds.writer()).\n"
              "Properties (version, num_rows, schema, ...) are read afresh from the catalog, so\n"
              "they follow publishes by other processes. len(ds) is num_rows.",
    .tp_methods = dataset_methods,
    .tp_getset = dataset_getset,
};

/* ---- Writer -------------------------------------------------------------------------------- */

typedef struct WriterObject {
    PyObject_HEAD PYST_CHILD_HEAD;
    strata_dataset *ds;
    PyObject *fullname;
    PyObject *columns; /* tuple of names */
    strata_dtype *dtypes;
    int64_t version;          /* published last by this writer (0: none yet) */
    uint64_t batches, rows;   /* committed since the last publish */
    uint64_t published_total; /* batches published by this writer */
} WriterObject;

static PyTypeObject WriterType;

static void writer_release(PyObject *self)
{
    WriterObject *w = (WriterObject *)self;
    strata_dataset_close(w->ds); /* unpublished batches are discarded */
    w->ds = NULL;
}

static int timeout_ms(PyObject *timeout, int *ms)
{
    if (timeout == Py_None) {
        *ms = INT_MIN;
        return 0;
    }
    double t = PyFloat_AsDouble(timeout);
    if (t == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        pyst_raise(STRATA_EINVAL, "lock_timeout must be a number of seconds or None");
        return -1;
    }
    *ms = t < 0 ? -1 : t * 1000.0 > INT_MAX ? INT_MAX : (int)(t * 1000.0 + 0.5);
    return 0;
}

static PyObject *writer_open(PoolObject *p, const char *region, const char *name,
                             PyObject *lock_timeout)
{
    int ms;
    if (timeout_ms(lock_timeout, &ms) < 0 || pyst_check_open(p) < 0) return NULL;
    strata_dataset *h = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_dataset_open(p->pool, region, name, &h));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    strata_dataset_desc desc;
    if (pyst_lock(p) < 0) {
        strata_dataset_close(h);
        return NULL;
    }
    int rc = strata_dataset_info(h, &desc);
    if (rc == STRATA_OK && ms != INT_MIN) rc = strata_dataset_set_lock_timeout(h, ms);
    if (rc < 0) {
        pyst_raise_pool(p, rc);
        strata_dataset_close(h);
        pyst_unlock(p);
        return NULL;
    }
    PyObject *columns;
    strata_dtype *dtypes;
    if (schema_take(&desc, &columns, &dtypes) < 0) {
        strata_dataset_close(h);
        pyst_unlock(p);
        return NULL;
    }
    pyst_unlock(p);
    PyTypeObject *cls = pyst_class("Writer", &WriterType);
    WriterObject *w = (WriterObject *)cls->tp_alloc(cls, 0);
    if (w == NULL) {
        strata_dataset_close(h);
        Py_DECREF(columns);
        free(dtypes);
        return NULL;
    }
    w->columns = columns;
    w->dtypes = dtypes;
    w->fullname = PyUnicode_FromFormat("%s/%s", region, name);
    pyst_child_attach(p);
    w->pool = p;
    w->ds = h;
    w->release = writer_release;
    if (w->fullname == NULL) {
        Py_DECREF(w);
        return NULL;
    }
    return (PyObject *)w;
}

static void writer_dealloc(WriterObject *w)
{
    w->exports = 0;
    pyst_child_close((ChildObject *)w);
    Py_CLEAR(w->fullname);
    Py_CLEAR(w->columns);
    free(w->dtypes);
    Py_XDECREF(w->pool);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static int writer_check(WriterObject *w)
{
    if (w->ds == NULL || w->release == NULL || w->close_requested) {
        pyst_raise(STRATA_EINVAL, "the writer is closed (a with-block ended, or close() was "
                                  "called): open a new one with ds.writer()");
        return -1;
    }
    return pyst_check_open(w->pool);
}

/* One column of a batch being appended: numeric data, or packed strings. */
typedef struct colbuf {
    const void *data;       /* numeric */
    const int64_t *offsets; /* strings: n+1 offsets into BYTES */
    const char *bytes;
} colbuf;

/* Begin, append every column, commit: one batch. Runs with the GIL released. */
static int write_batch(strata_dataset *ds, int ncols, const colbuf *c, uint64_t n)
{
    strata_batch *b = NULL;
    int rc = strata_batch_begin(ds, &b);
    if (rc < 0) return rc;
    for (int i = 0; i < ncols && rc >= 0; i++)
        rc = c[i].offsets != NULL ? strata_batch_append_str(b, i, c[i].offsets, c[i].bytes, n)
                                  : strata_batch_append(b, i, c[i].data, n);
    if (rc < 0) {
        strata_batch_abort(b);
        return rc;
    }
    return strata_batch_commit(b);
}

/* VALUES (a sequence of str) for string column NAME: every item must be a str. */
static int check_strings(PyObject *values, PyObject *name, PyObject *fullname, PyObject **seq)
{
    if (PyUnicode_Check(values) || PyBytes_Check(values)) {
        PyObject *msg = PyUnicode_FromFormat(
            "column '%U' of '%U': give a sequence of str (a list or an array), not one str", name,
            fullname);
        if (msg != NULL) pyst_raise(STRATA_ETYPE, PyUnicode_AsUTF8(msg));
        Py_XDECREF(msg);
        return -1;
    }
    if (PyArray_Check(values) && PyArray_NDIM((PyArrayObject *)values) != 1) {
        PyObject *msg =
            PyUnicode_FromFormat("column '%U' of '%U': values must be 1-D", name, fullname);
        if (msg != NULL) pyst_raise(STRATA_EINVAL, PyUnicode_AsUTF8(msg));
        Py_XDECREF(msg);
        return -1;
    }
    *seq = PySequence_Fast(values, "");
    if (*seq == NULL) {
        PyErr_Clear();
        PyObject *msg = PyUnicode_FromFormat(
            "column '%U' of '%U' holds strings: give a sequence of str, not %s", name, fullname,
            Py_TYPE(values)->tp_name);
        if (msg != NULL) pyst_raise(STRATA_ETYPE, PyUnicode_AsUTF8(msg));
        Py_XDECREF(msg);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(*seq);
    PyObject **items = PySequence_Fast_ITEMS(*seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_Check(items[i])) {
            PyObject *msg = PyUnicode_FromFormat(
                "column '%U' of '%U' holds strings, but value %zd is %.100s (%R): convert it "
                "first (str columns have no null; use '' for a missing value)",
                name, fullname, i, Py_TYPE(items[i])->tp_name, items[i]);
            if (msg != NULL) pyst_raise(STRATA_ETYPE, PyUnicode_AsUTF8(msg));
            Py_XDECREF(msg);
            Py_CLEAR(*seq);
            return -1;
        }
    }
    return 0;
}

static PyObject *writer_append(WriterObject *w, PyObject *data)
{
    if (writer_check(w) < 0) return NULL;
    if (!PyDict_Check(data)) return pyst_raise(STRATA_EINVAL, "_append takes a dict");
    int ncols = (int)PyTuple_GET_SIZE(w->columns);
    /* every key must be a column */
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(data, &pos, &key, &value))
        if (column_index(w->columns, key, w->fullname) < 0) return NULL;
    PyObject **keep = calloc((size_t)ncols * 2 + 1, sizeof *keep);
    colbuf *cols = calloc((size_t)ncols + 1, sizeof *cols);
    PyObject *result = NULL;
    if (keep == NULL || cols == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    Py_ssize_t nrows = -1;
    PyObject *first_name = NULL;
    for (int i = 0; i < ncols; i++) {
        PyObject *name = PyTuple_GET_ITEM(w->columns, i);
        PyObject *v = PyDict_GetItemWithError(data, name);
        if (v == NULL) {
            if (PyErr_Occurred()) goto out;
            PyObject *list = column_list(w->columns);
            PyObject *msg = list == NULL
                                ? NULL
                                : PyUnicode_FromFormat("append to '%U' needs every column: '%U' is "
                                                       "missing (the columns: %U)",
                                                       w->fullname, name, list);
            Py_XDECREF(list);
            if (msg != NULL) pyst_raise(STRATA_EINVAL, PyUnicode_AsUTF8(msg));
            Py_XDECREF(msg);
            goto out;
        }
        Py_ssize_t n;
        if (w->dtypes[i] == STRATA_STR) {
            PyObject *seq, *off, *bytes;
            if (check_strings(v, name, w->fullname, &seq) < 0) goto out;
            int rc = pyst_pack_strings(seq, &off, &bytes);
            Py_DECREF(seq);
            if (rc < 0) goto out;
            keep[2 * i] = off;
            keep[2 * i + 1] = bytes;
            n = PyArray_SIZE((PyArrayObject *)off) - 1;
            cols[i].offsets = PyArray_DATA((PyArrayObject *)off);
            cols[i].bytes = PyByteArray_AS_STRING(bytes);
        } else {
            char what[3 * NAMEBUF];
            snprintf(what, sizeof what, "column '%s' of '%s'", PyUnicode_AsUTF8(name),
                     PyUnicode_AsUTF8(w->fullname));
            PyArrayObject *a = pyst_values(v, w->dtypes[i], what);
            if (a == NULL) goto out;
            keep[2 * i] = (PyObject *)a;
            if (PyArray_NDIM(a) != 1) {
                char msg[PYST_ERRMSG_MAX];
                snprintf(msg, sizeof msg, "%s: values must be 1-D (got %d dimensions)", what,
                         PyArray_NDIM(a));
                pyst_raise(STRATA_EINVAL, msg);
                goto out;
            }
            n = PyArray_DIM(a, 0);
            cols[i].data = PyArray_DATA(a);
        }
        if (nrows < 0) {
            nrows = n;
            first_name = name;
        } else if (n != nrows) {
            PyObject *msg = PyUnicode_FromFormat(
                "append to '%U': every column needs the same number of rows, but '%U' has %zd "
                "and '%U' has %zd",
                w->fullname, first_name, nrows, name, n);
            if (msg != NULL) pyst_raise(STRATA_EINVAL, PyUnicode_AsUTF8(msg));
            Py_XDECREF(msg);
            goto out;
        }
    }
    if (nrows < 0) nrows = 0;
    pyst_status st;
    if (busy_begin((ChildObject *)w) < 0) goto out;
    PYST_CALL_NOGIL(w->pool, st, write_batch(w->ds, ncols, cols, (uint64_t)nrows));
    busy_end((ChildObject *)w);
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        goto out;
    }
    w->batches++;
    w->rows += (uint64_t)nrows;
    result = PyLong_FromSsize_t(nrows);
out:
    for (int i = 0; keep != NULL && i < 2 * ncols; i++) Py_XDECREF(keep[i]);
    free(keep);
    free(cols);
    return result;
}

static PyObject *writer_publish(WriterObject *w, PyObject *noargs)
{
    (void)noargs;
    if (writer_check(w) < 0) return NULL;
    int64_t version = 0;
    pyst_status st;
    if (busy_begin((ChildObject *)w) < 0) return NULL;
    PYST_CALL_NOGIL(w->pool, st, strata_publish(w->ds, &version));
    busy_end((ChildObject *)w);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    if (w->batches > 0) w->version = version;
    w->published_total += w->batches;
    w->batches = 0;
    w->rows = 0;
    if (w->version == 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(w->version);
}

static PyObject *writer_enter(WriterObject *w, PyObject *noargs)
{
    (void)noargs;
    if (writer_check(w) < 0) return NULL;
    return Py_NewRef(w);
}

static PyObject *writer_exit(WriterObject *w, PyObject *args)
{
    PyObject *type = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : Py_None;
    if (type == Py_None && w->ds != NULL && w->release != NULL && !w->close_requested) {
        PyObject *r = writer_publish(w, NULL);
        if (r == NULL) {
            pyst_child_close_meth((PyObject *)w, NULL);
            return NULL;
        }
        Py_DECREF(r);
    }
    pyst_child_close_meth((PyObject *)w, NULL);
    Py_RETURN_FALSE;
}

static PyObject *writer_get_pending(WriterObject *w, void *c)
{
    (void)c;
    return Py_BuildValue("{s:K,s:K}", "batches", (unsigned long long)w->batches, "rows",
                         (unsigned long long)w->rows);
}

static PyObject *writer_get_version(WriterObject *w, void *c)
{
    (void)c;
    if (w->version == 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(w->version);
}

static PyObject *writer_get_name(WriterObject *w, void *c)
{
    (void)c;
    return Py_NewRef(w->fullname);
}

static PyObject *writer_get_columns(WriterObject *w, void *c)
{
    (void)c;
    return PySequence_List(w->columns);
}

static PyObject *writer_get_schema_names(WriterObject *w, void *c)
{
    (void)c;
    return schema_dict(w->columns, w->dtypes, 1);
}

static PyObject *writer_get_closed(WriterObject *w, void *c)
{
    (void)c;
    return PyBool_FromLong(w->ds == NULL || w->release == NULL || w->close_requested);
}

static PyObject *writer_repr(WriterObject *w)
{
    const char *closed =
        w->ds == NULL || w->release == NULL || w->close_requested ? " (closed)" : "";
    if (w->version > 0)
        return PyUnicode_FromFormat("<strata.Writer '%U' %llu batches, %llu rows pending; "
                                    "published v%lld%s>",
                                    w->fullname, (unsigned long long)w->batches,
                                    (unsigned long long)w->rows, (long long)w->version, closed);
    return PyUnicode_FromFormat("<strata.Writer '%U' %llu batches, %llu rows pending%s>",
                                w->fullname, (unsigned long long)w->batches,
                                (unsigned long long)w->rows, closed);
}

static PyMethodDef writer_methods[] = {
    {"_append", (PyCFunction)writer_append, METH_O,
     "_append(columns)\n--\n\nAppend one batch from a dict {column: values} (see append())."},
    {"publish", (PyCFunction)writer_publish, METH_NOARGS,
     "publish()\n--\n\nMake every batch appended since the last publish visible, atomically, as\n"
     "one new version, and release the dataset's writer lock. Returns the version this writer\n"
     "published last (None if it has published nothing). The writer stays usable: later\n"
     "appends start the next version. The end of a with-block publishes too."},
    {"close", (PyCFunction)pyst_child_close_meth, METH_NOARGS,
     "close()\n--\n\nClose the writer: batches appended but not published are discarded and the\n"
     "writer lock is released. The end of a with-block that raised does this."},
    {"__enter__", (PyCFunction)writer_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)writer_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef writer_getset[] = {
    {"name", (getter)writer_get_name, NULL, "'region/name' of the dataset written.", NULL},
    {"columns", (getter)writer_get_columns, NULL, "The column names, in schema order.", NULL},
    {"schema_names", (getter)writer_get_schema_names, NULL,
     "{column: Strata dtype name} in schema order.", NULL},
    {"version", (getter)writer_get_version, NULL,
     "The version this writer published last (None before its first publish).", NULL},
    {"pending", (getter)writer_get_pending, NULL,
     "{'batches': n, 'rows': n} appended since the last publish (not yet visible).", NULL},
    {"closed", (getter)writer_get_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Writer",
    .tp_basicsize = sizeof(WriterObject),
    .tp_dealloc = (destructor)writer_dealloc,
    .tp_repr = (reprfunc)writer_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Appends batches to a dataset and publishes them (ds.writer()).\n\n"
              "    with ds.writer() as w:\n"
              "        w.append(fare=np.array([7.5, 12.0]), zone=['a', 'b'])\n"
              "        w.append(df)                      # a DataFrame, or a dict\n"
              "Each append() is one batch and needs every column of the schema. The with-block\n"
              "publishes its batches as one version when it ends cleanly; when it raises,\n"
              "nothing is published. One writer per dataset at a time, across processes.",
    .tp_methods = writer_methods,
    .tp_getset = writer_getset,
};

/* ---- Snapshot ------------------------------------------------------------------------------ */

typedef struct SnapshotObject {
    PyObject_HEAD PYST_CHILD_HEAD;
    strata_snapshot *s;
    PyObject *fullname;
    PyObject *columns; /* tuple */
    strata_dtype *dtypes;
    int64_t version, created_ns;
    uint64_t nbatches, nrows, bytes;
    uint64_t *start; /* nbatches + 1: the snapshot row where each batch starts */
} SnapshotObject;

static PyTypeObject SnapshotType;

static void snapshot_release(PyObject *self)
{
    SnapshotObject *s = (SnapshotObject *)self;
    strata_snapshot_close(s->s);
    s->s = NULL;
}

static PyObject *snapshot_open(PoolObject *p, const char *region, const char *name,
                               PyObject *as_of_obj)
{
    int64_t as_of;
    if (pyst_opt_int64(as_of_obj, 0, &as_of, "as_of") < 0) return NULL;
    if (as_of_obj != Py_None && as_of < 1)
        return pyst_raise(STRATA_EINVAL, "as_of is a version number (1 or more); None means the "
                                         "latest version");
    if (pyst_check_open(p) < 0) return NULL;
    strata_snapshot *h = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_snapshot_open(p->pool, region, name, as_of, &h));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    PyTypeObject *cls = pyst_class("Snapshot", &SnapshotType);
    SnapshotObject *s = (SnapshotObject *)cls->tp_alloc(cls, 0);
    if (s == NULL) {
        strata_snapshot_close(h);
        return NULL;
    }
    pyst_child_attach(p);
    s->pool = p;
    s->s = h;
    s->release = snapshot_release;
    s->fullname = PyUnicode_FromFormat("%s/%s", region, name);
    if (s->fullname == NULL || pyst_lock(p) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    strata_dataset_desc d;
    int rc = strata_snapshot_info(h, &d);
    if (rc < 0) {
        pyst_raise_pool(p, rc);
        pyst_unlock(p);
        Py_DECREF(s);
        return NULL;
    }
    s->version = d.version;
    s->created_ns = d.created_ns;
    s->nbatches = d.nbatches;
    s->nrows = d.nrows;
    s->bytes = d.bytes;
    s->start = malloc(sizeof *s->start * (size_t)(d.nbatches + 1));
    if (s->start == NULL || schema_take(&d, &s->columns, &s->dtypes) < 0) {
        pyst_unlock(p);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        Py_DECREF(s);
        return NULL;
    }
    s->start[0] = 0;
    for (uint64_t b = 0; b < d.nbatches && rc >= 0; b++) {
        strata_batch_info bi;
        rc = strata_snapshot_batch(h, b, &bi);
        s->start[b + 1] = s->start[b] + (rc >= 0 ? bi.nrows : 0);
    }
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc < 0) {
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}

static void snapshot_dealloc(SnapshotObject *s)
{
    s->exports = 0;
    pyst_child_close((ChildObject *)s);
    Py_CLEAR(s->fullname);
    Py_CLEAR(s->columns);
    free(s->dtypes);
    free(s->start);
    Py_XDECREF(s->pool);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int snapshot_check(SnapshotObject *s)
{
    if (s->s == NULL || s->release == NULL || s->close_requested) {
        pyst_raise(STRATA_EINVAL, "the snapshot is closed");
        return -1;
    }
    return pyst_check_open(s->pool);
}

/* Take the pool lock for a short call on S; -1 with an exception when S is closed. */
static int snapshot_lock(SnapshotObject *s)
{
    if (snapshot_check(s) < 0 || pyst_lock(s->pool) < 0) return -1;
    if (s->s == NULL) {
        pyst_unlock(s->pool);
        pyst_raise(STRATA_EINVAL, "the snapshot is closed");
        return -1;
    }
    return 0;
}

/* The column of KEY, checked ready (derived columns may lag): its index, or -1. */
static int snapshot_column(SnapshotObject *s, PyObject *key)
{
    int col = column_index(s->columns, key, s->fullname);
    if (col < 0 || snapshot_lock(s) < 0) return -1;
    int ready = strata_snapshot_column_ready(s->s, col);
    if (ready < 0) pyst_raise_pool(s->pool, ready);
    pyst_unlock(s->pool);
    if (ready < 0) return -1;
    if (ready == 0) {
        PyObject *msg = PyUnicode_FromFormat(
            "column '%U' of '%U' is derived and not yet computed for every batch of version "
            "%lld: run pool.update('%U') first",
            key, s->fullname, (long long)s->version, s->fullname);
        if (msg != NULL) pyst_raise(STRATA_ESTALE, PyUnicode_AsUTF8(msg));
        Py_XDECREF(msg);
        return -1;
    }
    return col;
}

/* The batch holding snapshot row ROW (ROW < nrows). */
static uint64_t batch_of(SnapshotObject *s, uint64_t row)
{
    uint64_t lo = 0, hi = s->nbatches;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (s->start[mid] <= row)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Rows [ROW, ROW+COUNT) of string column COL as a numpy object array of str. */
static PyObject *read_strings(SnapshotObject *s, int col, uint64_t row, uint64_t count)
{
    npy_intp dim = (npy_intp)count;
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &dim, NPY_OBJECT);
    if (out == NULL || count == 0) return (PyObject *)out;
    PyObject **items = PyArray_DATA(out);
    uint64_t done = 0;
    /* decoding allocates (a collection may run and close S): S stays mapped meanwhile */
    if (busy_begin((ChildObject *)s) < 0) goto fail;
    for (uint64_t b = batch_of(s, row); done < count && b < s->nbatches; b++) {
        uint64_t bn = s->start[b + 1] - s->start[b];
        if (bn == 0) continue;
        const int64_t *off;
        const char *bytes;
        if (snapshot_lock(s) < 0) goto fail_busy;
        int rc = strata_snapshot_map_str(s->s, b, col, &off, &bytes);
        if (rc < 0) pyst_raise_pool(s->pool, rc);
        pyst_unlock(s->pool);
        if (rc < 0) goto fail_busy;
        uint64_t from = row + done - s->start[b];
        uint64_t k = bn - from;
        if (k > count - done) k = count - done;
        for (uint64_t i = from; i < from + k; i++) {
            PyObject *str = pyst_str(bytes + off[i], (size_t)(off[i + 1] - off[i]));
            if (str == NULL) goto fail_busy;
            PyObject *old = items[done];
            items[done++] = str;
            Py_XDECREF(old); /* None from PyArray_SimpleNew */
        }
    }
    busy_end((ChildObject *)s);
    return (PyObject *)out;
fail_busy:
    busy_end((ChildObject *)s);
fail:
    Py_DECREF(out);
    return NULL;
}

/* Rows [ROW, ROW+COUNT) of column COL: a zero-copy view when they lie in one batch (or VIEW is
 * 0: always a copy), else one copy read with the GIL released. */
static PyObject *read_rows(SnapshotObject *s, int col, uint64_t row, uint64_t count, int view)
{
    if (s->dtypes[col] == STRATA_STR) return read_strings(s, col, row, count);
    int typenum = pyst_npy_type(s->dtypes[col]);
    npy_intp dim = (npy_intp)count;
    if (count == 0) return PyArray_SimpleNew(1, &dim, typenum);
    uint64_t b = batch_of(s, row);
    if (view && row + count <= s->start[b + 1]) {
        const void *data;
        if (snapshot_lock(s) < 0) return NULL;
        int rc = strata_snapshot_map(s->s, b, col, &data);
        if (rc < 0) pyst_raise_pool(s->pool, rc);
        pyst_unlock(s->pool);
        if (rc < 0) return NULL;
        size_t esz = strata_dtype_size(s->dtypes[col]);
        return pyst_view((ChildObject *)s, (char *)data + (row - s->start[b]) * esz, typenum, 1,
                         &dim, NULL, 0);
    }
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &dim, typenum);
    if (out == NULL) return NULL;
    void *dst = PyArray_DATA(out);
    pyst_status st;
    if (count >= NOGIL_MIN) {
        if (busy_begin((ChildObject *)s) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        PYST_CALL_NOGIL(s->pool, st, strata_snapshot_read(s->s, col, row, count, dst));
        busy_end((ChildObject *)s);
    } else {
        if (snapshot_lock(s) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        pyst_status_take(s->pool, strata_snapshot_read(s->s, col, row, count, dst), &st);
        pyst_unlock(s->pool);
    }
    if (PYST_FAILED(st)) {
        Py_DECREF(out);
        return pyst_fail(&st);
    }
    return (PyObject *)out;
}

static PyObject *snapshot_getitem(SnapshotObject *s, PyObject *key)
{
    if (snapshot_check(s) < 0) return NULL;
    int col = snapshot_column(s, key);
    if (col < 0) return NULL;
    return read_rows(s, col, 0, s->nrows, 1);
}

/* Rows [START, STOP) from the optional arguments (negative: from the end), checked. */
static int rows_arg(SnapshotObject *s, PyObject *start_obj, PyObject *stop_obj, int64_t *start,
                    int64_t *stop)
{
    if (pyst_opt_int64(start_obj, 0, start, "start") < 0 ||
        pyst_opt_int64(stop_obj, (int64_t)s->nrows, stop, "stop") < 0)
        return -1;
    if (*start < 0) *start += (int64_t)s->nrows;
    if (*stop < 0) *stop += (int64_t)s->nrows;
    if (*start < 0 || *stop > (int64_t)s->nrows || *start > *stop) {
        char msg[256];
        snprintf(msg, sizeof msg, "rows [%lld, %lld) are out of range for a snapshot of %llu rows",
                 (long long)*start, (long long)*stop, (unsigned long long)s->nrows);
        pyst_raise(STRATA_ERANGE, msg);
        return -1;
    }
    return 0;
}

static PyObject *snapshot_read(SnapshotObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"column", "start", "stop", "copy", NULL};
    PyObject *key, *start_obj = Py_None, *stop_obj = Py_None;
    int copy = 0;
    int64_t start, stop;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO$p:read", kwlist, &key, &start_obj, &stop_obj,
                                     &copy) ||
        snapshot_check(s) < 0 || rows_arg(s, start_obj, stop_obj, &start, &stop) < 0)
        return NULL;
    int col = snapshot_column(s, key);
    if (col < 0) return NULL;
    return read_rows(s, col, (uint64_t)start, (uint64_t)(stop - start), !copy);
}

/* _export(path, format, columns=None, compression=None, group=None): the snapshot's COLUMNS
 * (names; None: all) written as FORMAT ('parquet', 'arrow', 'npy', 'hdf5', or as text 'csv',
 * 'tsv', 'json', 'ndjson') at PATH, with the GIL released. */
static PyObject *snapshot_export(SnapshotObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "format", "columns", "compression", "group", NULL};
    const char *path, *format, *compression = NULL, *group = NULL;
    PyObject *columns = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|Ozz:_export", kwlist, &path, &format, &columns,
                                     &compression, &group) ||
        snapshot_check(s) < 0)
        return NULL;
    int *cols = NULL, nc = 0;
    if (columns != Py_None) {
        PyObject *seq = PySequence_Fast(columns, "columns must be a list of names");
        if (seq == NULL) return NULL;
        nc = (int)PySequence_Fast_GET_SIZE(seq);
        cols = malloc((size_t)nc * sizeof *cols + 1);
        for (int i = 0; cols != NULL && i < nc; i++)
            if ((cols[i] = snapshot_column(s, PySequence_Fast_GET_ITEM(seq, i))) < 0) {
                free(cols);
                cols = NULL;
                nc = -1;
            }
        Py_DECREF(seq);
        if (cols == NULL) return nc < 0 ? NULL : PyErr_NoMemory();
    }
    strata_export_opts po = {.compression = compression};
    strata_hdf5_opts ho = {0};
    static const char *const texts[] = {[STRATA_TEXT_CSV] = "csv",
                                        [STRATA_TEXT_TSV] = "tsv",
                                        [STRATA_TEXT_JSON] = "json",
                                        [STRATA_TEXT_NDJSON] = "ndjson"};
    int text = -1;
    for (int f = 0; f < 4; f++)
        if (strcmp(format, texts[f]) == 0) text = f;
    pyst_status st;
    if (busy_begin((ChildObject *)s) < 0) {
        free(cols);
        return NULL;
    }
    if (strcmp(format, "parquet") == 0)
        PYST_CALL_NOGIL(s->pool, st, strata_export_parquet(s->s, cols, nc, path, &po));
    else if (strcmp(format, "arrow") == 0)
        PYST_CALL_NOGIL(s->pool, st, strata_export_arrow(s->s, cols, nc, path));
    else if (strcmp(format, "npy") == 0)
        PYST_CALL_NOGIL(s->pool, st, strata_export_npy(s->s, cols, nc, path));
    else if (strcmp(format, "hdf5") == 0)
        PYST_CALL_NOGIL(s->pool, st, strata_export_hdf5(s->s, cols, nc, path, group, &ho));
    else if (text >= 0)
        PYST_CALL_NOGIL(s->pool, st, strata_export_text(s->s, cols, nc, path, text));
    else
        pyst_status_take(s->pool, STRATA_EINVAL, &st);
    busy_end((ChildObject *)s);
    free(cols);
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

/* The PyCapsule of an exported stream: released unless a consumer moved it out. */
static void stream_capsule_free(PyObject *cap)
{
    struct ArrowArrayStream *st = PyCapsule_GetPointer(cap, "arrow_array_stream");
    if (st != NULL && st->release != NULL) st->release(st);
    free(st);
}

/* __arrow_c_stream__(requested_schema=None): the snapshot as an Arrow C stream in a PyCapsule
 * (the Arrow PyCapsule interface), zero-copy; REQUESTED_SCHEMA is ignored (the schema is the
 * snapshot's). */
static PyObject *snapshot_arrow_c_stream(SnapshotObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"requested_schema", NULL};
    PyObject *requested = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:__arrow_c_stream__", kwlist, &requested) ||
        snapshot_check(s) < 0)
        return NULL;
    struct ArrowArrayStream *st = calloc(1, sizeof *st);
    if (st == NULL) return PyErr_NoMemory();
    if (snapshot_lock(s) < 0) {
        free(st);
        return NULL;
    }
    int rc = strata_snapshot_arrow_stream(s->s, NULL, 0, st);
    if (rc < 0) pyst_raise_pool(s->pool, rc);
    pyst_unlock(s->pool);
    if (rc < 0) {
        free(st);
        return NULL;
    }
    PyObject *cap = PyCapsule_New(st, "arrow_array_stream", stream_capsule_free);
    if (cap == NULL) {
        st->release(st);
        free(st);
    }
    return cap;
}

/* valid(column, start=None, stop=None): None when rows [START, STOP) of COLUMN hold no null,
 * else a bool array, True where a row has a value. */
static PyObject *snapshot_valid(SnapshotObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"column", "start", "stop", NULL};
    PyObject *key, *start_obj = Py_None, *stop_obj = Py_None;
    int64_t start, stop;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:valid", kwlist, &key, &start_obj, &stop_obj) ||
        snapshot_check(s) < 0 || rows_arg(s, start_obj, stop_obj, &start, &stop) < 0)
        return NULL;
    int col = snapshot_column(s, key);
    if (col < 0) return NULL;
    PyArrayObject *out = NULL;
    for (uint64_t row = (uint64_t)start; row < (uint64_t)stop;) {
        uint64_t b = batch_of(s, row),
                 end = s->start[b + 1] < (uint64_t)stop ? s->start[b + 1] : (uint64_t)stop;
        const uint8_t *v;
        if (snapshot_lock(s) < 0) goto fail;
        int rc = strata_snapshot_map_valid(s->s, b, col, &v);
        if (rc < 0) pyst_raise_pool(s->pool, rc);
        pyst_unlock(s->pool);
        if (rc < 0) goto fail;
        if (v != NULL && out == NULL) {
            npy_intp dim = (npy_intp)(stop - start);
            if ((out = (PyArrayObject *)PyArray_SimpleNew(1, &dim, NPY_BOOL)) == NULL) goto fail;
            memset(PyArray_DATA(out), 1, (size_t)dim);
        }
        uint8_t *dst = out != NULL ? (uint8_t *)PyArray_DATA(out) : NULL;
        for (uint64_t r = row; v != NULL && r < end; r++) {
            uint64_t i = r - s->start[b];
            dst[r - (uint64_t)start] = (uint8_t)(v[i >> 3] >> (i & 7) & 1);
        }
        row = end;
    }
    if (out == NULL) Py_RETURN_NONE;
    return (PyObject *)out;
fail:
    Py_XDECREF(out);
    return NULL;
}

static Py_ssize_t snapshot_len(SnapshotObject *s)
{
    return (Py_ssize_t)s->nrows;
}

static int batch_arg(SnapshotObject *s, PyObject *obj, uint64_t *out)
{
    long long i = PyLong_AsLongLong(obj);
    if (i == -1 && PyErr_Occurred()) return -1;
    long long j = i < 0 ? i + (long long)s->nbatches : i;
    if (j < 0 || (uint64_t)j >= s->nbatches) {
        char msg[256];
        snprintf(msg, sizeof msg, "batch %lld is out of range: the snapshot has %llu batches", i,
                 (unsigned long long)s->nbatches);
        pyst_raise(STRATA_ERANGE, msg);
        return -1;
    }
    *out = (uint64_t)j;
    return 0;
}

/* batch(i, columns=None): {column: zero-copy view} of batch I. */
static PyObject *snapshot_batch(SnapshotObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"i", "columns", NULL};
    PyObject *iobj, *columns = Py_None;
    uint64_t b;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:batch", kwlist, &iobj, &columns) ||
        snapshot_check(s) < 0 || batch_arg(s, iobj, &b) < 0)
        return NULL;
    PyObject *names = columns == Py_None         ? Py_NewRef(s->columns)
                      : PyUnicode_Check(columns) ? PyTuple_Pack(1, columns)
                                                 : PySequence_Tuple(columns);
    if (names == NULL) return NULL;
    PyObject *out = PyDict_New();
    for (Py_ssize_t i = 0; out != NULL && i < PyTuple_GET_SIZE(names); i++) {
        PyObject *key = PyTuple_GET_ITEM(names, i);
        int col = snapshot_column(s, key);
        PyObject *v =
            col < 0 ? NULL : read_rows(s, col, s->start[b], s->start[b + 1] - s->start[b], 1);
        if (v == NULL || PyDict_SetItem(out, key, v) < 0) Py_CLEAR(out);
        Py_XDECREF(v);
    }
    Py_DECREF(names);
    return out;
}

static PyObject *snapshot_batch_info(SnapshotObject *s, PyObject *iobj)
{
    uint64_t b;
    if (snapshot_check(s) < 0 || batch_arg(s, iobj, &b) < 0 || snapshot_lock(s) < 0) return NULL;
    strata_batch_info bi;
    int rc = strata_snapshot_batch(s->s, b, &bi);
    if (rc < 0) pyst_raise_pool(s->pool, rc);
    pyst_unlock(s->pool);
    if (rc < 0) return NULL;
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:L}", "seq", (unsigned long long)bi.seq, "first_row",
                         (unsigned long long)bi.first_row, "start", (unsigned long long)s->start[b],
                         "rows", (unsigned long long)bi.nrows, "version", (long long)bi.version);
}

static PyObject *stat_value(strata_dtype dt, double f, int64_t i)
{
    if (dt == STRATA_F32 || dt == STRATA_F64) return PyFloat_FromDouble(f);
    if (dt == STRATA_U64) return PyLong_FromUnsignedLongLong((uint64_t)i);
    if (dt == STRATA_BOOL) return PyBool_FromLong(i != 0);
    return PyLong_FromLongLong(i);
}

static PyObject *snapshot_batch_stats(SnapshotObject *s, PyObject *args)
{
    PyObject *iobj, *key;
    uint64_t b;
    if (!PyArg_ParseTuple(args, "OO:batch_stats", &iobj, &key) || snapshot_check(s) < 0 ||
        batch_arg(s, iobj, &b) < 0)
        return NULL;
    int col = column_index(s->columns, key, s->fullname);
    if (col < 0 || snapshot_lock(s) < 0) return NULL;
    strata_column_stats cs;
    int rc = strata_snapshot_stats(s->s, b, col, &cs);
    if (rc < 0) pyst_raise_pool(s->pool, rc);
    pyst_unlock(s->pool);
    if (rc < 0) return NULL;
    PyObject *d = Py_BuildValue("{s:K,s:K}", "bytes", (unsigned long long)cs.bytes, "checksum",
                                (unsigned long long)cs.checksum);
    if (d == NULL) return NULL;
    PyObject *mn =
        cs.has_minmax ? stat_value(s->dtypes[col], cs.min, cs.min_i) : Py_NewRef(Py_None);
    PyObject *mx =
        cs.has_minmax ? stat_value(s->dtypes[col], cs.max, cs.max_i) : Py_NewRef(Py_None);
    if (mn == NULL || mx == NULL || PyDict_SetItemString(d, "min", mn) < 0 ||
        PyDict_SetItemString(d, "max", mx) < 0)
        Py_CLEAR(d);
    Py_XDECREF(mn);
    Py_XDECREF(mx);
    return d;
}

/* The exception pending in this thread, taken (NULL if none). */
static PyObject *take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* The interrupt check of a long summary: Python's signal handlers run (in the main thread), and
 * one that raises (KeyboardInterrupt) stops the computation; so does the caller's deadline. */
typedef struct summary_ctx {
    PyObject *exc;   /* what a signal handler raised */
    double deadline; /* monotonic seconds; 0: none */
} summary_ctx;

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int summary_interrupt(void *vctx)
{
    summary_ctx *ctx = vctx;
    if (ctx->deadline > 0 && monotonic_s() > ctx->deadline) return 1;
    PyGILState_STATE g = PyGILState_Ensure();
    int stop = PyErr_CheckSignals() < 0;
    if (stop) ctx->exc = take_exception();
    PyGILState_Release(g);
    return stop;
}

/* strata_snapshot_summary with the interrupt check installed; runs with the GIL released. */
static int summary_call(strata_pool *pool, strata_snapshot *snap, int col, strata_summary *out,
                        summary_ctx *ctx)
{
    strata_pool_set_interrupt(pool, summary_interrupt, ctx);
    int rc = strata_snapshot_summary(snap, col, out);
    strata_pool_set_interrupt(pool, NULL, NULL);
    return rc;
}

static PyObject *snapshot_stats(SnapshotObject *s, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"column", "timeout", NULL};
    PyObject *key, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$O:stats", kwlist, &key, &timeout)) return NULL;
    summary_ctx ctx = {NULL, 0};
    if (timeout != Py_None) {
        double t = PyFloat_AsDouble(timeout);
        if (t == -1.0 && PyErr_Occurred()) return NULL;
        ctx.deadline = monotonic_s() + (t > 0 ? t : 0);
        if (t <= 0) ctx.deadline = monotonic_s(); /* already due: only a cached summary */
    }
    if (snapshot_check(s) < 0) return NULL;
    int col = snapshot_column(s, key);
    if (col < 0) return NULL;
    if (s->dtypes[col] == STRATA_STR) {
        PyObject *msg = PyUnicode_FromFormat(
            "column '%U' of '%U' holds strings: stats() summarises numeric and bool columns", key,
            s->fullname);
        if (msg != NULL) pyst_raise(STRATA_ETYPE, PyUnicode_AsUTF8(msg));
        Py_XDECREF(msg);
        return NULL;
    }
    strata_summary sum;
    pyst_status st;
    if (busy_begin((ChildObject *)s) < 0) return NULL;
    PYST_CALL_NOGIL(s->pool, st, summary_call(s->pool->pool, s->s, col, &sum, &ctx));
    busy_end((ChildObject *)s);
    if (ctx.exc != NULL) { /* a signal handler raised (Ctrl-C): the computation stopped */
        PyErr_SetObject((PyObject *)Py_TYPE(ctx.exc), ctx.exc);
        Py_DECREF(ctx.exc);
        return NULL;
    }
    if (st.rc == STRATA_ECANCELED) {
        char msg[PYST_ERRMSG_MAX];
        snprintf(msg, sizeof msg,
                 "stats of column '%s' of '%s' took longer than the timeout of %g s (nothing was "
                 "cached; a longer timeout, or none, computes it)",
                 PyUnicode_AsUTF8(key), PyUnicode_AsUTF8(s->fullname), PyFloat_AsDouble(timeout));
        return pyst_raise(STRATA_ECANCELED, msg);
    }
    if (PYST_FAILED(st)) return pyst_fail(&st);
    npy_intp dim = STRATA_HIST_BINS;
    PyArrayObject *hist = (PyArrayObject *)PyArray_SimpleNew(1, &dim, NPY_UINT64);
    if (hist == NULL) return NULL;
    memcpy(PyArray_DATA(hist), sum.hist, sizeof sum.hist);
    return Py_BuildValue("{s:K,s:K,s:d,s:d,s:d,s:d,s:N,s:L,s:O,s:d}", "count",
                         (unsigned long long)sum.count, "nan", (unsigned long long)sum.nan, "min",
                         sum.min, "max", sum.max, "mean", sum.mean, "std", sum.std, "hist", hist,
                         "version", (long long)sum.version, "cached",
                         sum.cached ? Py_True : Py_False, "seconds", sum.seconds);
}

static PyObject *snapshot_column_ready(SnapshotObject *s, PyObject *key)
{
    int col = column_index(s->columns, key, s->fullname);
    if (col < 0 || snapshot_lock(s) < 0) return NULL;
    int ready = strata_snapshot_column_ready(s->s, col);
    if (ready < 0) pyst_raise_pool(s->pool, ready);
    pyst_unlock(s->pool);
    if (ready < 0) return NULL;
    return PyBool_FromLong(ready);
}

static PyObject *snapshot_enter(SnapshotObject *s, PyObject *noargs)
{
    (void)noargs;
    if (snapshot_check(s) < 0) return NULL;
    return Py_NewRef(s);
}

static PyObject *snapshot_get_name(SnapshotObject *s, void *c)
{
    (void)c;
    return Py_NewRef(s->fullname);
}

static PyObject *snapshot_get_version(SnapshotObject *s, void *c)
{
    (void)c;
    return PyLong_FromLongLong(s->version);
}

static PyObject *snapshot_get_num_rows(SnapshotObject *s, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(s->nrows);
}

static PyObject *snapshot_get_num_batches(SnapshotObject *s, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(s->nbatches);
}

static PyObject *snapshot_get_bytes(SnapshotObject *s, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(s->bytes);
}

static PyObject *snapshot_get_created_ns(SnapshotObject *s, void *c)
{
    (void)c;
    return PyLong_FromLongLong(s->created_ns);
}

static PyObject *snapshot_get_columns(SnapshotObject *s, void *c)
{
    (void)c;
    return PySequence_List(s->columns);
}

static PyObject *snapshot_get_schema(SnapshotObject *s, void *c)
{
    (void)c;
    return schema_dict(s->columns, s->dtypes, 0);
}

static PyObject *snapshot_get_schema_names(SnapshotObject *s, void *c)
{
    (void)c;
    return schema_dict(s->columns, s->dtypes, 1);
}

static PyObject *snapshot_repr(SnapshotObject *s)
{
    PyObject *text = schema_text(s->columns, s->dtypes);
    if (text == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat(
        "<strata.Snapshot '%U' v%lld, %llu rows in %llu batch%s (%U)%s>", s->fullname,
        (long long)s->version, (unsigned long long)s->nrows, (unsigned long long)s->nbatches,
        s->nbatches == 1 ? "" : "es", text,
        s->s == NULL || s->release == NULL || s->close_requested ? " (closed)" : "");
    Py_DECREF(text);
    return r;
}

static PyMethodDef snapshot_methods[] = {
    {"read", (PyCFunction)(void (*)(void))snapshot_read, METH_VARARGS | METH_KEYWORDS,
     "read(column, start=None, stop=None, *, copy=False)\n--\n\n"
     "Rows [START, STOP) of COLUMN (negative counts from the end) as a numpy array: a zero-copy,\n"
     "read-only view when they lie in one batch (unless COPY), else one copy. String columns\n"
     "give an object array of str. Raises NotFound for an unknown column, OutOfRange for rows\n"
     "outside the snapshot, Stale for a derived column not yet computed."},
    {"_export", (PyCFunction)(void (*)(void))snapshot_export, METH_VARARGS | METH_KEYWORDS,
     "_export(path, format, columns=None, compression=None, group=None)\n--\n\n"
     "Write the snapshot as a file (use Snapshot.export)."},
    {"__arrow_c_stream__", (PyCFunction)(void (*)(void))snapshot_arrow_c_stream,
     METH_VARARGS | METH_KEYWORDS,
     "__arrow_c_stream__(requested_schema=None)\n--\n\nThe snapshot as an Arrow C stream "
     "(a PyCapsule named\n'arrow_array_stream'): one record batch per batch, zero-copy views of "
     "the mapped\nfiles (bool columns packed into bits). pyarrow.RecordBatchReader.from_stream("
     "snap),\npolars.from_arrow and DuckDB read it. REQUESTED_SCHEMA is ignored."},
    {"valid", (PyCFunction)(void (*)(void))snapshot_valid, METH_VARARGS | METH_KEYWORDS,
     "valid(column, start=None, stop=None)\n--\n\nWhich rows [START, STOP) of COLUMN have a "
     "value:\n"
     "None when none of them is null, else a bool array (True: a value, False: null). snap[c]\n"
     "and read() give such a column as a numpy masked array; to_pandas() as pandas' nullable\n"
     "types."},
    {"batch", (PyCFunction)(void (*)(void))snapshot_batch, METH_VARARGS | METH_KEYWORDS,
     "batch(i, columns=None)\n--\n\n{column: array} of batch I (negative counts from the end):\n"
     "zero-copy, read-only numpy views of the batch's mapped files (string columns: object\n"
     "arrays of str). Each view keeps the snapshot's memory mapped while it lives."},
    {"batch_info", (PyCFunction)snapshot_batch_info, METH_O,
     "batch_info(i)\n--\n\nA dict about batch I: seq (its position in the dataset), first_row\n"
     "(global id of its first row), start (its first row in this snapshot), rows, version (the\n"
     "publish that added it)."},
    {"batch_stats", (PyCFunction)snapshot_batch_stats, METH_VARARGS,
     "batch_stats(i, column)\n--\n\nThe statistics recorded for COLUMN of batch I: bytes,\n"
     "checksum (xxHash64), min and max (None for strings and empty batches; exact for\n"
     "integers)."},
    {"stats", (PyCFunction)(void (*)(void))snapshot_stats, METH_VARARGS | METH_KEYWORDS,
     "stats(column, *, timeout=None)\n--\n\nSummary statistics of a numeric or bool COLUMN over "
     "the snapshot (GIL\n"
     "released): a dict with count (values, NaNs excluded), nan, min, max, mean, std\n"
     "(population), hist (32 equal bins over [min, max], a uint64 array), version, cached (read\n"
     "from the pool's cache, which any process fills) and seconds. Ctrl-C stops it (nothing\n"
     "is cached); so does TIMEOUT (seconds), raising Cancelled. TypeMismatch for a string\n"
     "column, Stale for a derived column not yet computed."},
    {"column_ready", (PyCFunction)snapshot_column_ready, METH_O,
     "column_ready(column)\n--\n\nTrue when COLUMN is computed for every batch (derived columns\n"
     "lag their dataset until pool.update() runs)."},
    {"close", (PyCFunction)pyst_child_close_meth, METH_NOARGS,
     "close()\n--\n\nClose the snapshot (gc may then remove versions it held). numpy views of its\n"
     "batches stay valid until they die."},
    {"__enter__", (PyCFunction)snapshot_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pyst_child_exit_meth, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef snapshot_getset[] = {
    {"name", (getter)snapshot_get_name, NULL, "'region/name' of the dataset.", NULL},
    {"version", (getter)snapshot_get_version, NULL, "The version this snapshot reads.", NULL},
    {"num_rows", (getter)snapshot_get_num_rows, NULL, "Rows at this version (also len(snap)).",
     NULL},
    {"num_batches", (getter)snapshot_get_num_batches, NULL, "Batches at this version.", NULL},
    {"bytes", (getter)snapshot_get_bytes, NULL, "Bytes of column data at this version.", NULL},
    {"created_ns", (getter)snapshot_get_created_ns, NULL, "When the dataset was created.", NULL},
    {"columns", (getter)snapshot_get_columns, NULL, "The column names, in schema order.", NULL},
    {"schema", (getter)snapshot_get_schema, NULL,
     "{column: numpy dtype} in schema order (object for str columns).", NULL},
    {"schema_names", (getter)snapshot_get_schema_names, NULL,
     "{column: Strata dtype name ('i64', 'str', ...)} in schema order.", NULL},
    {"closed", (getter)pyst_child_get_closed, NULL, "True once closed.", NULL},
    {"pool", (getter)pyst_child_get_pool, NULL, "The Pool it was opened through.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMappingMethods snapshot_mapping = {
    .mp_length = (lenfunc)snapshot_len,
    .mp_subscript = (binaryfunc)snapshot_getitem,
};

static PyTypeObject SnapshotType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Snapshot",
    .tp_basicsize = sizeof(SnapshotObject),
    .tp_dealloc = (destructor)snapshot_dealloc,
    .tp_repr = (reprfunc)snapshot_repr,
    .tp_as_mapping = &snapshot_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A consistent, immutable view of a dataset at one version (ds.snapshot(),\n"
              "pool.snapshot()): rows, batches and values never change while it is open,\n"
              "whatever writers publish meanwhile.\n\n"
              "snap['fare'] is the whole column as a numpy array: a zero-copy read-only view\n"
              "when one batch holds it, else one copy (GIL released). String columns give\n"
              "object arrays of str. snap.batches() walks the data batch by batch as zero-copy\n"
              "views (for data larger than memory). len(snap) is the number of rows.",
    .tp_methods = snapshot_methods,
    .tp_getset = snapshot_getset,
};

/* ---- Pool methods: datasets ---------------------------------------------------------------- */

static PyObject *pool_dataset(PoolObject *p, PyObject *args)
{
    const char *full;
    char region[NAMEBUF], name[NAMEBUF];
    if (split_name(args, "s:dataset", &full, region, name) < 0 || pyst_pool_check(p) < 0)
        return NULL;
    strata_dataset *h = NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_dataset_open(p->pool, region, name, &h));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return dataset_new(p, h, region, name);
}

/* _create_dataset(name, [(column, dtype), ...]) */
static PyObject *pool_create_dataset(PoolObject *p, PyObject *args)
{
    const char *full;
    PyObject *pairs;
    char region[NAMEBUF], name[NAMEBUF];
    if (!PyArg_ParseTuple(args, "sO:create_dataset", &full, &pairs) ||
        pyst_split(full, region, name, "dataset") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    PyObject *seq = PySequence_Fast(pairs, "the schema must be a dict or a list of pairs");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0 || n > STRATA_MAX_COLUMNS) {
        Py_DECREF(seq);
        return pyst_raise(STRATA_EINVAL, n == 0 ? "a dataset needs at least one column"
                                                : "too many columns (at most 4096)");
    }
    strata_column *cols = calloc((size_t)n, sizeof *cols);
    if (cols == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    PyObject *result = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(pair, 0))) {
            pyst_raise(STRATA_EINVAL, "the schema must map column names (str) to dtypes");
            goto out;
        }
        cols[i].name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(pair, 0));
        if (cols[i].name == NULL ||
            pyst_dtype_from_obj(PyTuple_GET_ITEM(pair, 1), &cols[i].dtype) < 0)
            goto out;
    }
    if (pyst_region_ensure(p, region) < 0) goto out;
    pyst_status st;
    strata_dataset *h = NULL;
    PYST_CALL_NOGIL(p, st, strata_dataset_create(p->pool, region, name, cols, (int)n));
    if (!PYST_FAILED(st)) PYST_CALL_NOGIL(p, st, strata_dataset_open(p->pool, region, name, &h));
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        goto out;
    }
    result = dataset_new(p, h, region, name);
out:
    free(cols);
    Py_DECREF(seq);
    return result;
}

static PyObject *pool_drop_dataset(PoolObject *p, PyObject *args)
{
    const char *full;
    char region[NAMEBUF], name[NAMEBUF];
    if (split_name(args, "s:drop_dataset", &full, region, name) < 0 || pyst_pool_check(p) < 0)
        return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_dataset_drop(p->pool, region, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

struct list_ctx {
    PyObject *list;
    const char *region;
};

static int list_dataset(void *vctx, const char *name)
{
    struct list_ctx *c = vctx;
    PyObject *s = PyUnicode_FromFormat("%s/%s", c->region, name);
    if (s == NULL) return 1;
    int rc = PyList_Append(c->list, s);
    Py_DECREF(s);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_datasets(PoolObject *p, PyObject *args)
{
    PyObject *region = Py_None;
    if (!PyArg_ParseTuple(args, "|O:datasets", &region) || pyst_pool_lock(p) < 0) return NULL;
    PyObject *out = PyList_New(0), *regions = out != NULL ? pyst_regions_arg(p, region) : NULL;
    for (Py_ssize_t i = 0; regions != NULL && i < PyList_GET_SIZE(regions); i++) {
        struct list_ctx c = {out, PyUnicode_AsUTF8(PyList_GET_ITEM(regions, i))};
        int rc = c.region != NULL ? strata_dataset_list(p->pool, c.region, list_dataset, &c) : 1;
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

static PyObject *pool_snapshot(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "as_of", NULL};
    const char *full;
    PyObject *as_of = Py_None;
    char region[NAMEBUF], name[NAMEBUF];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O:snapshot", kwlist, &full, &as_of) ||
        pyst_split(full, region, name, "dataset") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    return snapshot_open(p, region, name, as_of);
}

static PyObject *pool_writer(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "lock_timeout", NULL};
    const char *full;
    PyObject *timeout = Py_None;
    char region[NAMEBUF], name[NAMEBUF];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O:writer", kwlist, &full, &timeout) ||
        pyst_split(full, region, name, "dataset") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    return writer_open(p, region, name, timeout);
}

/* ---- Pool methods: ingest ------------------------------------------------------------------ */

typedef struct progress_ctx {
    PyObject *cb;  /* callable(files, rows, bytes_read, batches, version, seconds, total) */
    PyObject *exc; /* the exception the callback raised (then it is not called again) */
} progress_ctx;

static int ingest_progress(void *vctx, const strata_ingest_stats *s, uint64_t total)
{
    progress_ctx *p = vctx;
    if (p->cb == NULL || p->exc != NULL) return 0;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = PyObject_CallFunction(
        p->cb, "KKKKLdK", (unsigned long long)s->files, (unsigned long long)s->rows,
        (unsigned long long)s->bytes_read, (unsigned long long)s->batches, (long long)s->version,
        s->seconds, (unsigned long long)total);
    if (r == NULL) p->exc = take_exception();
    Py_XDECREF(r);
    PyGILState_Release(g);
    return 0;
}

/* The list of paths LIST (str or path-like) as an array of C strings; KEEP holds the bytes. */
static const char **path_list(PyObject *list, PyObject **keep, const char *what)
{
    PyObject *seq = PySequence_Fast(list, what);
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    *keep = PyList_New(0);
    const char **out = calloc((size_t)n + 1, sizeof *out);
    if (*keep == NULL || out == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = NULL;
        if (!PyUnicode_FSConverter(PySequence_Fast_GET_ITEM(seq, i), &b)) goto fail;
        int rc = PyList_Append(*keep, b);
        Py_DECREF(b);
        if (rc < 0) goto fail;
        out[i] = PyBytes_AS_STRING(b);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_CLEAR(*keep);
    free(out);
    if (!PyErr_Occurred()) PyErr_NoMemory();
    return NULL;
}

/* _ingest_arrow(name, capsule, *, batch_rows, publish_each): ingest the Arrow C stream in
 * CAPSULE (from an object's __arrow_c_stream__), which it consumes. */
static PyObject *pool_ingest_arrow(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "capsule", "batch_rows", "publish_each", NULL};
    const char *full;
    PyObject *cap, *batch_rows = Py_None;
    int publish_each = 0;
    char region[NAMEBUF], name[NAMEBUF];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|$Op:_ingest_arrow", kwlist, &full, &cap,
                                     &batch_rows, &publish_each) ||
        pyst_split(full, region, name, "dataset") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    struct ArrowArrayStream *in = PyCapsule_GetPointer(cap, "arrow_array_stream");
    if (in == NULL) return NULL;
    if (in->release == NULL) return pyst_raise(STRATA_EINVAL, "the arrow stream was consumed");
    strata_ingest_opts o;
    memset(&o, 0, sizeof o);
    int64_t v;
    if (pyst_opt_int64(batch_rows, 0, &v, "batch_rows") < 0) return NULL;
    if (v < 0 || (batch_rows != Py_None && v == 0))
        return pyst_raise(STRATA_EINVAL, "batch_rows must be a positive number of rows");
    o.batch_rows = (uint64_t)v;
    o.publish_each = publish_each;
    /* move the stream out of the capsule: the ingest releases it */
    struct ArrowArrayStream st = *in;
    in->release = NULL;
    strata_ingest_stats stats;
    memset(&stats, 0, sizeof stats);
    pyst_status status;
    PYST_CALL_NOGIL(p, status, strata_ingest_arrow_stream(p->pool, region, name, &st, &o, &stats));
    if (PYST_FAILED(status)) return pyst_fail(&status);
    return Py_BuildValue("KKKKLd", (unsigned long long)stats.files, (unsigned long long)stats.rows,
                         (unsigned long long)stats.bytes_read, (unsigned long long)stats.batches,
                         (long long)stats.version, stats.seconds);
}

/* _ingest(name, files, columns=None, *, schema, batch_rows, delimiter, null, publish_each,
 * threads, progress, format, path): CSV FILES, NPY FILES of COLUMNS, or Parquet, Arrow IPC or
 * HDF5 (FORMAT; PATH: the HDF5 group) FILES. Returns (files, rows, bytes_read, batches,
 * version, seconds). */
static PyObject *pool_ingest(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {
        "name",         "files",   "columns",  "schema", "batch_rows", "delimiter", "null",
        "publish_each", "threads", "progress", "format", "path",       NULL};
    const char *full, *schema = NULL, *delimiter = NULL, *null_marker = NULL, *format = NULL;
    const char *h5path = NULL;
    PyObject *files, *columns = Py_None, *batch_rows = Py_None, *threads = Py_None,
                     *progress = Py_None;
    int publish_each = 0;
    char region[NAMEBUF], name[NAMEBUF];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sO|O$zOzzpOOzz:_ingest", kwlist, &full, &files,
                                     &columns, &schema, &batch_rows, &delimiter, &null_marker,
                                     &publish_each, &threads, &progress, &format, &h5path) ||
        pyst_split(full, region, name, "dataset") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    strata_ingest_opts o;
    memset(&o, 0, sizeof o);
    int64_t v;
    if (pyst_opt_int64(batch_rows, 0, &v, "batch_rows") < 0) return NULL;
    if (v < 0 || (batch_rows != Py_None && v == 0))
        return pyst_raise(STRATA_EINVAL, "batch_rows must be a positive number of rows (None: one "
                                         "batch per file)");
    o.batch_rows = (uint64_t)v;
    if (pyst_opt_int64(threads, 0, &v, "threads") < 0) return NULL;
    if (v < 0 || v > 4096) return pyst_raise(STRATA_EINVAL, "threads must be 0..4096");
    o.nthreads = (int)v;
    if (delimiter != NULL) {
        if (strlen(delimiter) != 1)
            return pyst_raise(STRATA_EINVAL, "delimiter must be one character (e.g. ',' or '\\t')");
        o.delimiter = delimiter[0];
    }
    o.null_marker = null_marker;
    o.schema = schema;
    o.publish_each = publish_each;
    progress_ctx pc = {progress != Py_None ? progress : NULL, NULL};
    if (pc.cb != NULL && !PyCallable_Check(pc.cb))
        return pyst_raise(STRATA_EINVAL, "progress must be callable");
    o.progress = ingest_progress;
    o.progress_ctx = &pc;
    PyObject *keep_files = NULL, *keep_cols = NULL;
    const char **fv = path_list(files, &keep_files, "files must be a list of paths");
    if (fv == NULL) return NULL;
    int nfiles = (int)PyList_GET_SIZE(keep_files);
    const char **cv = NULL;
    PyObject *result = NULL;
    if (columns != Py_None) {
        cv = path_list(columns, &keep_cols, "columns must be a list of names");
        if (cv == NULL) goto out;
        if (PyList_GET_SIZE(keep_cols) != nfiles) {
            pyst_raise(STRATA_EINVAL, "NPY ingest needs one file per column");
            goto out;
        }
    }
    strata_ingest_stats stats;
    memset(&stats, 0, sizeof stats);
    pyst_status st;
    if (cv != NULL)
        PYST_CALL_NOGIL(p, st,
                        strata_ingest_npy(p->pool, region, name, cv, fv, nfiles, &o, &stats));
    else if (format != NULL && strcmp(format, "parquet") == 0)
        PYST_CALL_NOGIL(p, st,
                        strata_ingest_parquet(p->pool, region, name, fv, nfiles, &o, &stats));
    else if (format != NULL && strcmp(format, "arrow") == 0)
        PYST_CALL_NOGIL(p, st, strata_ingest_arrow(p->pool, region, name, fv, nfiles, &o, &stats));
    else if (format != NULL && strcmp(format, "hdf5") == 0)
        PYST_CALL_NOGIL(p, st,
                        nfiles == 1
                            ? strata_ingest_hdf5(p->pool, region, name, fv[0], h5path, &o, &stats)
                            : STRATA_EINVAL);
    else
        PYST_CALL_NOGIL(p, st, strata_ingest_csv(p->pool, region, name, fv, nfiles, &o, &stats));
    if (PYST_FAILED(st)) {
        pyst_fail(&st);
        goto out;
    }
    if (pc.exc != NULL) { /* the callback raised: the ingest ran to its end; say so */
        PyErr_SetObject((PyObject *)Py_TYPE(pc.exc), pc.exc);
        goto out;
    }
    result =
        Py_BuildValue("KKKKLd", (unsigned long long)stats.files, (unsigned long long)stats.rows,
                      (unsigned long long)stats.bytes_read, (unsigned long long)stats.batches,
                      (long long)stats.version, stats.seconds);
out:
    Py_XDECREF(pc.exc);
    free(fv);
    free(cv);
    Py_XDECREF(keep_files);
    Py_XDECREF(keep_cols);
    return result;
}

/* ---- Pool methods: check and gc ------------------------------------------------------------ */

typedef struct problem {
    char *what, *path, *problem;
    int orphan;
} problem;

typedef struct problems {
    problem *v;
    size_t n, cap;
    int oom;
} problems;

static int collect_problem(void *vctx, const char *what, const char *path, const char *text,
                           int orphan)
{
    problems *ps = vctx;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        problem *v = realloc(ps->v, cap * sizeof *v);
        if (v == NULL) {
            ps->oom = 1;
            return 0;
        }
        ps->v = v;
        ps->cap = cap;
    }
    problem *pr = &ps->v[ps->n++];
    pr->what = strdup(what != NULL ? what : "");
    pr->path = strdup(path != NULL ? path : "");
    pr->problem = strdup(text != NULL ? text : "");
    pr->orphan = orphan;
    if (pr->what == NULL || pr->path == NULL || pr->problem == NULL) ps->oom = 1;
    return 0;
}

static PyObject *pool_check(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", NULL};
    const char *full = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|z:check", kwlist, &full) || pyst_pool_check(p) < 0)
        return NULL;
    char region[NAMEBUF], name[NAMEBUF];
    const char *r = NULL, *n = NULL;
    if (full != NULL) {
        if (strchr(full, '/') != NULL) {
            if (pyst_split(full, region, name, "dataset") < 0) return NULL;
            r = region;
            n = name;
        } else {
            if (strlen(full) > STRATA_NAME_MAX) return pyst_raise(STRATA_ENAME, "name too long");
            snprintf(region, sizeof region, "%s", full);
            r = region;
        }
    }
    problems ps = {NULL, 0, 0, 0};
    uint64_t damaged = 0;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_check(p->pool, r, n, collect_problem, &ps, &damaged));
    PyObject *out = NULL;
    if (st.rc == STRATA_ECORRUPT) st.rc = STRATA_OK; /* damage is what the list reports */
    if (PYST_FAILED(st))
        pyst_fail(&st);
    else if (ps.oom)
        PyErr_NoMemory();
    else
        out = PyList_New(0);
    for (size_t i = 0; i < ps.n; i++) {
        if (out != NULL) {
            problem *pr = &ps.v[i];
            PyObject *d =
                Py_BuildValue("{s:N,s:N,s:N,s:O}", "what", pyst_str(pr->what, strlen(pr->what)),
                              "path", pyst_str(pr->path, strlen(pr->path)), "problem",
                              pyst_str(pr->problem, strlen(pr->problem)), "orphan",
                              pr->orphan ? Py_True : Py_False);
            if (d == NULL || PyList_Append(out, d) < 0) Py_CLEAR(out);
            Py_XDECREF(d);
        }
        free(ps.v[i].what);
        free(ps.v[i].path);
        free(ps.v[i].problem);
    }
    free(ps.v);
    return out;
}

static PyObject *pool_gc(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"grace", "keep_versions", "dry_run", NULL};
    PyObject *grace = Py_None, *keep = Py_None;
    int dry_run = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO$p:gc", kwlist, &grace, &keep, &dry_run) ||
        pyst_pool_check(p) < 0)
        return NULL;
    strata_gc_opts o;
    memset(&o, 0, sizeof o);
    if (grace != Py_None) {
        double g = PyFloat_AsDouble(grace);
        if (g == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return pyst_raise(STRATA_EINVAL, "grace must be a number of seconds or None");
        }
        if (g < 0) return pyst_raise(STRATA_EINVAL, "grace must not be negative (0: no grace)");
        o.grace_s = g == 0 ? -1 : (int64_t)ceil(g);
    }
    int64_t k;
    if (pyst_opt_int64(keep, 0, &k, "keep_versions") < 0) return NULL;
    if (k < 0) return pyst_raise(STRATA_EINVAL, "keep_versions must not be negative (0: keep all)");
    o.keep_versions = k;
    o.dry_run = dry_run;
    strata_gc_stats s;
    memset(&s, 0, sizeof s);
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_gc(p->pool, &o, &s));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:O}", "orphans_removed",
        (unsigned long long)s.orphans_removed, "datasets_removed",
        (unsigned long long)s.datasets_removed, "versions_expired",
        (unsigned long long)s.versions_expired, "datasets_held",
        (unsigned long long)s.datasets_held, "bytes_freed", (unsigned long long)s.bytes_freed,
        "replaced_removed", (unsigned long long)s.replaced_removed, "busy_skipped",
        (unsigned long long)s.busy_skipped, "dry_run", dry_run ? Py_True : Py_False);
}

PyMethodDef pyst_pool_dataset_methods[] = {
    {"dataset", (PyCFunction)pool_dataset, METH_VARARGS,
     "dataset(name)\n--\n\nOpen dataset 'region/name'. Raises NotFound (a KeyError) when there is\n"
     "none."},
    {"_create_dataset", (PyCFunction)pool_create_dataset, METH_VARARGS,
     "_create_dataset(name, pairs)\n--\n\nCreate a dataset from [(column, dtype), ...] "
     "(internal; see create_dataset)."},
    {"drop_dataset", (PyCFunction)pool_drop_dataset, METH_VARARGS,
     "drop_dataset(name)\n--\n\nDrop dataset 'region/name'. Open snapshots keep reading it; gc()\n"
     "removes its files once none does. Raises NotFound when there is none."},
    {"datasets", (PyCFunction)pool_datasets, METH_VARARGS,
     "datasets(region=None)\n--\n\nNames ('region/name') of the datasets of REGION, or of every "
     "region."},
    {"snapshot", (PyCFunction)(void (*)(void))pool_snapshot, METH_VARARGS | METH_KEYWORDS,
     "snapshot(name, as_of=None)\n--\n\nA Snapshot of dataset 'region/name' at version AS_OF\n"
     "(None: the latest); see Dataset.snapshot. Raises NotFound for a missing dataset or\n"
     "version."},
    {"writer", (PyCFunction)(void (*)(void))pool_writer, METH_VARARGS | METH_KEYWORDS,
     "writer(name, lock_timeout=None)\n--\n\nA Writer of dataset 'region/name'; see "
     "Dataset.writer."},
    {"_ingest_arrow", (PyCFunction)(void (*)(void))pool_ingest_arrow, METH_VARARGS | METH_KEYWORDS,
     "_ingest_arrow(name, capsule, *, batch_rows=None, publish_each=False)\n--\n\n"
     "Ingest the Arrow C stream of a PyCapsule (use Pool.ingest)."},
    {"_ingest", (PyCFunction)(void (*)(void))pool_ingest, METH_VARARGS | METH_KEYWORDS,
     "_ingest(name, files, columns=None, *, ...)\n--\n\nThe library's CSV/NPY ingest (internal; "
     "see ingest)."},
    {"check", (PyCFunction)(void (*)(void))pool_check, METH_VARARGS | METH_KEYWORDS,
     "check(name=None)\n--\n\nVerify the catalog, then every published batch file of dataset\n"
     "'region/name', of a region ('region'), or of the whole pool (None): it exists, parses as\n"
     "NPY, has the recorded size and checksum. Returns the problems found, a list of dicts\n"
     "{what, path, problem, orphan}; orphan=True marks harmless files no catalog row names\n"
     "(gc removes them). An empty list means all is well. Runs with the GIL released."},
    {"gc", (PyCFunction)(void (*)(void))pool_gc, METH_VARARGS | METH_KEYWORDS,
     "gc(grace=None, keep_versions=0, *, dry_run=False)\n--\n\n"
     "Remove orphan files older than GRACE seconds (None: 3600; 0: no grace), the files of\n"
     "dropped datasets no open snapshot reads, and expire versions beyond the newest\n"
     "KEEP_VERSIONS of each dataset (0 keeps all). A live writer's files are never touched.\n"
     "DRY_RUN reports without removing. Returns a dict of counts: orphans_removed,\n"
     "datasets_removed, versions_expired, datasets_held, bytes_freed, replaced_removed,\n"
     "busy_skipped, dry_run. Runs with the GIL released."},
    {NULL, NULL, 0, NULL},
};

int pyst_dataset_init(PyObject *module)
{
    if (PyType_Ready(&DatasetType) < 0 || PyType_Ready(&WriterType) < 0 ||
        PyType_Ready(&SnapshotType) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "Dataset", (PyObject *)&DatasetType) < 0 ||
        PyModule_AddObjectRef(module, "Writer", (PyObject *)&WriterType) < 0 ||
        PyModule_AddObjectRef(module, "Snapshot", (PyObject *)&SnapshotType) < 0)
        return -1;
    return 0;
}
