/*
 * module.c -- the strata._strata module: exceptions, the Pool object, children and views, the
 * helpers every other file uses (see pystrata.h).
 */
#define STRATA_PY_MODULE_C
#include "pystrata.h"

#include <limits.h>
#include <string.h>

/* ---- exceptions ---------------------------------------------------------------------------- */

/* One class per status code; the Python name, the builtin it also derives from, its doc. */
#define PYST_ERRORS(X)                                                                             \
    X(ENOTFOUND, "NotFound", PyExc_KeyError, "a region, array, dataset, column or run is missing") \
    X(EEXIST, "Exists", NULL, "the name is taken")                                                 \
    X(EINVAL, "InvalidArgument", PyExc_ValueError, "an argument or the input is not valid")        \
    X(ETYPE, "TypeMismatch", PyExc_TypeError, "the data type does not fit")                        \
    X(ERANGE, "OutOfRange", PyExc_IndexError, "an index or range is out of bounds")                \
    X(ENAME, "BadName", PyExc_ValueError, "a name is not valid")                                   \
    X(ELOCKED, "Locked", NULL, "another holder has the lock")                                      \
    X(ENOSPC, "NoSpace", NULL, "no space left on the device or tier")                              \
    X(EIO, "IOFailure", NULL, "a read or write failed")                                            \
    X(ECORRUPT, "Corrupt", NULL, "data or catalog damaged")                                        \
    X(ENOMEM, "OutOfMemory", PyExc_MemoryError, "out of memory")                                   \
    X(ECONFLICT, "Conflict", NULL, "a conflicting change")                                         \
    X(EPERM, "PermissionDenied", NULL, "permission denied (read-only pool or file)")               \
    X(EUNSUPPORTED, "Unsupported", NULL, "not supported (by this build or this pool)")             \
    X(ESTALE, "Stale", NULL, "derived data not yet computed: run pool.update()")                   \
    X(ECANCELED, "Cancelled", NULL, "cancelled")

enum {
#define PYST_ERR_IDX(code, pyname, base, doc) PYST_IDX_##code,
    PYST_ERRORS(PYST_ERR_IDX)
#undef PYST_ERR_IDX
        PYST_NERRORS
};

static PyObject *error_base; /* strata.Error */
static PyObject *error_classes[PYST_NERRORS];
static const int error_codes[PYST_NERRORS] = {
#define PYST_ERR_CODE(code, pyname, base, doc) STRATA_##code,
    PYST_ERRORS(PYST_ERR_CODE)
#undef PYST_ERR_CODE
};

static PyObject *error_class(int rc)
{
    for (int i = 0; i < PYST_NERRORS; i++)
        if (error_codes[i] == rc) return error_classes[i];
    return error_base;
}

PyObject *pyst_raise(int rc, const char *msg)
{
    PyObject *cls = error_class(rc);
    if (msg == NULL || msg[0] == '\0') msg = strata_strerror(rc);
    PyObject *text = pyst_str(msg, strlen(msg));
    if (text == NULL) return NULL;
    PyObject *exc = PyObject_CallOneArg(cls, text);
    Py_DECREF(text);
    if (exc == NULL) return NULL;
    PyObject *code = PyLong_FromLong(rc);
    PyObject *name = PyUnicode_FromString(strata_errname(rc));
    if (code == NULL || name == NULL || PyObject_SetAttrString(exc, "code", code) < 0 ||
        PyObject_SetAttrString(exc, "errname", name) < 0) {
        Py_XDECREF(code);
        Py_XDECREF(name);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code);
    Py_DECREF(name);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *pyst_raise_status(const pyst_status *st)
{
    return pyst_raise(st->rc, st->msg);
}

PyObject *pyst_fail(const pyst_status *st)
{
    if (st->rc == INT_MIN) return NULL; /* the exception is already set */
    return pyst_raise_status(st);
}

PyObject *pyst_raise_pool(PoolObject *p, int rc)
{
    return pyst_raise(rc, p->pool != NULL ? strata_errmsg(p->pool) : NULL);
}

void pyst_status_take(PoolObject *p, int rc, pyst_status *st)
{
    st->rc = rc;
    st->msg[0] = '\0';
    if (rc < 0 && p->pool != NULL) {
        const char *m = strata_errmsg(p->pool);
        size_t n = strlen(m);
        if (n >= sizeof st->msg) n = sizeof st->msg - 1;
        memcpy(st->msg, m, n);
        st->msg[n] = '\0';
    }
}

static int errors_init(PyObject *module)
{
    error_base = PyErr_NewExceptionWithDoc(
        "strata.Error",
        "Base class of every error Strata raises. .code is the library's status code (negative),\n"
        ".errname its symbolic name ('STRATA_ENOTFOUND'), str(e) the library's message, which\n"
        "names what failed and where.",
        NULL, NULL);
    if (error_base == NULL || PyModule_AddObjectRef(module, "Error", error_base) < 0) return -1;
    /* KeyError quotes its message in str(); a strata message reads better as it is */
    PyObject *plain_str = PyObject_GetAttrString(PyExc_Exception, "__str__");
    if (plain_str == NULL) return -1;
    const char *names[] = {
#define PYST_ERR_NAME(code, pyname, base, doc) pyname,
        PYST_ERRORS(PYST_ERR_NAME)
#undef PYST_ERR_NAME
    };
    const char *docs[] = {
#define PYST_ERR_DOC(code, pyname, base, doc) doc,
        PYST_ERRORS(PYST_ERR_DOC)
#undef PYST_ERR_DOC
    };
    PyObject *builtins[] = {
#define PYST_ERR_BASE(code, pyname, base, doc) base,
        PYST_ERRORS(PYST_ERR_BASE)
#undef PYST_ERR_BASE
    };
    int rc = 0;
    for (int i = 0; i < PYST_NERRORS && rc == 0; i++) {
        char full[64];
        snprintf(full, sizeof full, "strata.%s", names[i]);
        PyObject *bases = builtins[i] != NULL ? PyTuple_Pack(2, error_base, builtins[i])
                                              : PyTuple_Pack(1, error_base);
        PyObject *dict = Py_BuildValue("{s:O,s:i}", "__str__", plain_str, "code", error_codes[i]);
        char doc[256];
        snprintf(doc, sizeof doc, "%s (%s).", docs[i], strata_errname(error_codes[i]));
        if (bases == NULL || dict == NULL) rc = -1;
        if (rc == 0) {
            error_classes[i] = PyErr_NewExceptionWithDoc(full, doc, bases, dict);
            if (error_classes[i] == NULL ||
                PyModule_AddObjectRef(module, names[i], error_classes[i]) < 0)
                rc = -1;
        }
        Py_XDECREF(bases);
        Py_XDECREF(dict);
    }
    Py_DECREF(plain_str);
    return rc;
}

/* ---- the pool lock ------------------------------------------------------------------------- */

int pyst_pool_check(PoolObject *p)
{
    if (p->close_requested) {
        pyst_raise(STRATA_EINVAL, "the pool is closed");
        return -1;
    }
    return pyst_check_open(p);
}

int pyst_check_open(PoolObject *p)
{
    if (p->pool == NULL) {
        pyst_raise(STRATA_EINVAL, "the pool is closed");
        return -1;
    }
    if (p->owner == PyThread_get_thread_ident()) {
        pyst_raise(STRATA_EINVAL, "a callback may not call back into the pool that runs it");
        return -1;
    }
    return 0;
}

int pyst_lock(PoolObject *p)
{
    if (pyst_check_open(p) < 0) return -1;
    if (!PyThread_acquire_lock(p->mu, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(p->mu, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    if (p->pool == NULL) { /* closed while we waited */
        PyThread_release_lock(p->mu);
        pyst_raise(STRATA_EINVAL, "the pool is closed");
        return -1;
    }
    p->owner = PyThread_get_thread_ident();
    return 0;
}

int pyst_pool_lock(PoolObject *p)
{
    return pyst_pool_check(p) < 0 ? -1 : pyst_lock(p);
}

void pyst_unlock(PoolObject *p)
{
    p->owner = 0;
    PyThread_release_lock(p->mu);
    if (p->pending != NULL && PyList_GET_SIZE(p->pending) > 0) pyst_run_pending(p);
}

/* ---- children ------------------------------------------------------------------------------ */

/*
 * Closing, safely against other threads and against re-entry:
 *   - a child is marked closed (release = NULL) with the GIL held before anything else happens,
 *     so every later check sees it closed; a call that is already working on its memory with
 *     the GIL released counts in exports, and the close waits for the last one to end;
 *   - the library close runs under the pool lock; when the closing thread already holds that
 *     lock (a progress callback, or a collection while a locked section builds Python objects),
 *     the close is queued on the pool and runs as soon as the lock is released;
 *   - the strata_pool closes when close() was asked for, no child is open and no call is in
 *     flight: at close(), at the last child's close, after the last call in flight (a pending
 *     call, once the method that ran it has returned and attached what it opened), or when the
 *     Pool object dies.
 */
static int pool_may_close(PoolObject *p)
{
    return p->close_requested && p->children == 0 && p->inflight == 0 && p->pool != NULL &&
           p->owner != PyThread_get_thread_ident();
}

static void pool_close_now(PoolObject *p)
{
    if (!pool_may_close(p)) return;
    Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(p->mu, WAIT_LOCK);
    strata_pool *pool = p->pool; /* read under the lock: one closer only */
    p->pool = NULL;
    strata_pool_close(pool);
    PyThread_release_lock(p->mu);
    Py_END_ALLOW_THREADS
}

static int pool_close_pending(void *arg)
{
    PoolObject *p = arg;
    pool_close_now(p);
    Py_DECREF(p);
    return 0;
}

void pyst_call_end(PoolObject *p)
{
    p->inflight--;
    if (p->pending != NULL && PyList_GET_SIZE(p->pending) > 0) pyst_run_pending(p);
    if (pool_may_close(p)) {
        Py_INCREF(p);
        if (Py_AddPendingCall(pool_close_pending, p) < 0) Py_DECREF(p); /* dealloc closes */
    }
}

void pyst_child_attach(PoolObject *p)
{
    Py_INCREF(p);
    p->children++;
}

void pyst_child_detach(PoolObject *p)
{
    p->children--;
    pool_close_now(p);
}

/* Run the library close FN of C under the pool lock, then uncount C. */
static void child_finish(ChildObject *c, void (*fn)(PyObject *))
{
    PoolObject *p = c->pool;
    if (p->pool != NULL) {
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(p->mu, WAIT_LOCK);
        fn((PyObject *)c);
        PyThread_release_lock(p->mu);
        Py_END_ALLOW_THREADS
    }
    pyst_child_detach(p);
}

void pyst_run_pending(PoolObject *p)
{
    if (p->owner == PyThread_get_thread_ident()) return;
    while (p->pending != NULL && PyList_GET_SIZE(p->pending) > 0) {
        ChildObject *c = (ChildObject *)Py_NewRef(PyList_GET_ITEM(p->pending, 0));
        PySequence_DelItem(p->pending, 0);
        void (*fn)(PyObject *) = c->closing;
        c->closing = NULL;
        if (fn != NULL) child_finish(c, fn);
        Py_DECREF(c); /* ours: the list's went with the deletion */
    }
}

/* Close C's library handle (no view is alive). */
static void child_release(ChildObject *c)
{
    void (*fn)(PyObject *) = c->release;
    if (fn == NULL || c->pool == NULL) return;
    c->release = NULL; /* closed for everyone from now on */
    c->close_requested = 1;
    PoolObject *p = c->pool;
    if (p->owner == PyThread_get_thread_ident()) { /* this thread holds the lock: queue it */
        if (p->pending == NULL) p->pending = PyList_New(0);
        if (p->pending != NULL && PyList_Append(p->pending, (PyObject *)c) == 0) {
            c->closing = fn;
            return;
        }
        PyErr_Clear();
        /* no memory to queue it: leave the handle to strata_pool_close */
        pyst_child_detach(p);
        return;
    }
    child_finish(c, fn);
}

void pyst_child_close(ChildObject *c)
{
    if (c->release == NULL) return;
    if (c->exports > 0) {
        c->close_requested = 1;
        return;
    }
    child_release(c);
}

int pyst_child_busy(ChildObject *c)
{
    if (c->release == NULL || c->close_requested) {
        pyst_raise(STRATA_EINVAL, "the handle is closed");
        return -1;
    }
    c->exports++;
    return 0;
}

/* The methods and properties every child type shares (its struct starts with PYST_CHILD_HEAD). */
PyObject *pyst_child_close_meth(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    pyst_child_close((ChildObject *)self);
    Py_RETURN_NONE;
}

PyObject *pyst_child_exit_meth(PyObject *self, PyObject *args)
{
    (void)args;
    return pyst_child_close_meth(self, NULL);
}

PyObject *pyst_child_get_closed(PyObject *self, void *c)
{
    (void)c;
    ChildObject *o = (ChildObject *)self;
    return PyBool_FromLong(o->release == NULL || o->close_requested);
}

PyObject *pyst_child_get_pool(PyObject *self, void *c)
{
    (void)c;
    return Py_NewRef(((ChildObject *)self)->pool);
}

/* ---- views: numpy arrays over mapped memory ------------------------------------------------ */

typedef struct KeeperObject {
    PyObject_HEAD ChildObject *owner;
} KeeperObject;

void pyst_child_unbusy(ChildObject *c)
{
    c->exports--;
    if (c->exports == 0 && c->close_requested) child_release(c);
}

static void keeper_dealloc(KeeperObject *k)
{
    ChildObject *c = k->owner;
    if (c != NULL) {
        pyst_child_unbusy(c);
        Py_DECREF(c);
    }
    Py_TYPE(k)->tp_free((PyObject *)k);
}

static PyTypeObject KeeperType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata._Keeper",
    .tp_basicsize = sizeof(KeeperObject),
    .tp_dealloc = (destructor)keeper_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Keeps the memory of a Strata handle mapped while a numpy view of it lives.",
};

PyObject *pyst_view(ChildObject *owner, void *data, int typenum, int nd, const npy_intp *dims,
                    const npy_intp *strides, int writable)
{
    /* counted before anything that may run Python code (a collection) and close OWNER */
    if (pyst_child_busy(owner) < 0) return NULL;
    KeeperObject *k = PyObject_New(KeeperObject, &KeeperType);
    if (k == NULL) {
        pyst_child_unbusy(owner);
        return NULL;
    }
    Py_INCREF(owner);
    k->owner = owner; /* the keeper now holds the export */
    int flags = NPY_ARRAY_ALIGNED | (writable ? NPY_ARRAY_WRITEABLE : 0);
    if (strides == NULL) flags |= NPY_ARRAY_C_CONTIGUOUS;
    static char empty[16] __attribute__((aligned(16)));
    PyObject *arr = PyArray_New(&PyArray_Type, nd, (npy_intp *)dims, typenum, (npy_intp *)strides,
                                data != NULL ? data : empty, 0, flags, NULL);
    if (arr == NULL) {
        Py_DECREF(k);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)arr, (PyObject *)k) < 0) { /* steals K */
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

/* ---- dtypes -------------------------------------------------------------------------------- */

int pyst_npy_type(strata_dtype dt)
{
    switch (dt) {
    case STRATA_I8:
        return NPY_INT8;
    case STRATA_I16:
        return NPY_INT16;
    case STRATA_I32:
        return NPY_INT32;
    case STRATA_I64:
    case STRATA_TS: /* int64 nanoseconds: .view('M8[ns]') gives datetime64 */
        return NPY_INT64;
    case STRATA_U8:
        return NPY_UINT8;
    case STRATA_U16:
        return NPY_UINT16;
    case STRATA_U32:
        return NPY_UINT32;
    case STRATA_U64:
        return NPY_UINT64;
    case STRATA_F32:
        return NPY_FLOAT32;
    case STRATA_F64:
        return NPY_FLOAT64;
    case STRATA_BOOL:
        return NPY_BOOL;
    case STRATA_STR:
        return NPY_OBJECT;
    }
    return NPY_NOTYPE;
}

int pyst_dtype_from_npy(int typenum, strata_dtype *out)
{
    for (int d = STRATA_I8; d <= STRATA_BOOL; d++) {
        if (PyArray_EquivTypenums(typenum, pyst_npy_type((strata_dtype)d))) {
            *out = (strata_dtype)d;
            return 0;
        }
    }
    if (typenum == NPY_UNICODE || typenum == NPY_STRING || typenum == NPY_OBJECT) {
        *out = STRATA_STR;
        return 0;
    }
    PyArray_Descr *d = PyArray_DescrFromType(typenum);
    PyObject *s = d != NULL ? PyObject_Str((PyObject *)d) : NULL;
    Py_XDECREF(d);
    char msg[256];
    snprintf(msg, sizeof msg,
             "numpy dtype '%s' has no Strata type (Strata stores i8..i64, u8..u64, f32, f64, "
             "bool, str)",
             s != NULL ? PyUnicode_AsUTF8(s) : "?");
    Py_XDECREF(s);
    pyst_raise(STRATA_ETYPE, msg);
    return -1;
}

int pyst_dtype_from_obj(PyObject *obj, strata_dtype *out)
{
    if (obj == (PyObject *)&PyUnicode_Type) {
        *out = STRATA_STR;
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        const char *s = PyUnicode_AsUTF8(obj);
        if (s == NULL) return -1;
        if (strata_dtype_parse(s, out) == STRATA_OK) return 0;
    }
    PyArray_Descr *d = NULL;
    if (!PyArray_DescrConverter2(obj, &d) || d == NULL) {
        PyErr_Clear();
        PyObject *r = PyObject_Repr(obj);
        char msg[256];
        snprintf(msg, sizeof msg,
                 "%s is not a data type: use a Strata name (i8..i64, u8..u64, f32, f64, bool, "
                 "str) or a numpy dtype",
                 r != NULL ? PyUnicode_AsUTF8(r) : "?");
        Py_XDECREF(r);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    int rc = pyst_dtype_from_npy(d->type_num, out);
    Py_DECREF(d);
    return rc;
}

PyObject *pyst_np_dtype(strata_dtype dt)
{
    return (PyObject *)PyArray_DescrFromType(pyst_npy_type(dt));
}

/* ---- names --------------------------------------------------------------------------------- */

static int bad_name(const char *full, const char *what, const char *why)
{
    char msg[PYST_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s '%.300s' %s", what, full, why);
    pyst_raise(STRATA_ENAME, msg);
    return -1;
}

int pyst_split(const char *full, char *region, char *name, const char *what)
{
    const char *slash = strchr(full, '/');
    if (slash == NULL) return bad_name(full, what, "is not REGION/NAME (for example 'taxi/trips')");
    size_t rl = (size_t)(slash - full), nl = strlen(slash + 1);
    if (rl == 0 || nl == 0)
        return bad_name(full, what, "is not REGION/NAME (for example 'taxi/trips')");
    if (rl > STRATA_NAME_MAX || nl > STRATA_NAME_MAX)
        return bad_name(full, what, "is too long (255 bytes per part)");
    memcpy(region, full, rl);
    region[rl] = '\0';
    memcpy(name, slash + 1, nl + 1);
    return 0;
}

int pyst_split_col(const char *full, char *region, char *name, char *column, const char *what)
{
    const char *slash = strchr(full, '/');
    const char *dot = slash != NULL ? strrchr(slash + 1, '.') : NULL;
    if (slash == NULL || slash == full || dot == NULL || dot == slash + 1 || dot[1] == '\0')
        return bad_name(full, what, "is not REGION/DATASET.COLUMN (for example 'taxi/trips.fare')");
    size_t rl = (size_t)(slash - full), nl = (size_t)(dot - slash - 1), cl = strlen(dot + 1);
    if (rl > STRATA_NAME_MAX || nl > STRATA_NAME_MAX || cl > STRATA_NAME_MAX)
        return bad_name(full, what, "is too long (255 bytes per part)");
    memcpy(region, full, rl);
    region[rl] = '\0';
    memcpy(name, slash + 1, nl);
    name[nl] = '\0';
    memcpy(column, dot + 1, cl + 1);
    return 0;
}

PyObject *pyst_str(const char *s, size_t len)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogateescape");
}

int pyst_opt_int64(PyObject *obj, int64_t dflt, int64_t *out, const char *what)
{
    if (obj == NULL || obj == Py_None) {
        *out = dflt;
        return 0;
    }
    long long v = PyLong_AsLongLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be an integer", what);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- registered Python subclasses ---------------------------------------------------------- */

static PyObject *registered; /* dict: class name -> Python subclass */

PyTypeObject *pyst_class(const char *name, PyTypeObject *base)
{
    PyObject *cls = registered != NULL ? PyDict_GetItemString(registered, name) : NULL;
    return cls != NULL ? (PyTypeObject *)cls : base;
}

static PyObject *mod_register(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    if (PyTuple_GET_SIZE(args) != 0 || kw == NULL)
        return PyErr_Format(PyExc_TypeError, "_register takes keyword arguments Name=class");
    if (PyDict_Update(registered, kw) < 0) return NULL;
    Py_RETURN_NONE;
}

/* ---- Pool ---------------------------------------------------------------------------------- */

static int pool_init(PoolObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path",    "create", "threads", "busy_timeout",
                             "catalog", "schema", NULL};
    PyObject *path_obj;
    int create = 0, threads = -1, busy = -1;
    const char *catalog = NULL, *schema = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|$piizz:Pool", kwlist, PyUnicode_FSDecoder,
                                     &path_obj, &create, &threads, &busy, &catalog, &schema))
        return -1;
    if ((catalog != NULL || schema != NULL) && !create) {
        Py_DECREF(path_obj);
        pyst_raise(STRATA_EINVAL, "catalog= and schema= are for a new pool (create=True); an "
                                  "existing pool's marker names its catalog");
        return -1;
    }
    if (self->mu != NULL) {
        Py_DECREF(path_obj);
        PyErr_SetString(PyExc_RuntimeError, "Pool.__init__ called twice: open a new Pool");
        return -1;
    }
    PyObject *bytes = PyUnicode_EncodeFSDefault(path_obj);
    if (bytes == NULL) {
        Py_DECREF(path_obj);
        return -1;
    }
    const char *path = PyBytes_AS_STRING(bytes);
    char errbuf[PYST_ERRMSG_MAX] = "";
    strata_pool *pool = NULL;
    int rc;
    strata_pool_opts po = {.catalog = catalog, .schema = schema};
    Py_BEGIN_ALLOW_THREADS rc =
        create ? strata_pool_create_with(path, &po, &pool, errbuf, sizeof errbuf)
               : strata_pool_open_err(path, &pool, errbuf, sizeof errbuf);
    Py_END_ALLOW_THREADS Py_DECREF(bytes);
    if (rc == STRATA_ENOTFOUND && !create) {
        size_t n = strlen(errbuf);
        snprintf(errbuf + n, sizeof errbuf - n, " (Pool(path, create=True) makes a new pool)");
    }
    if (rc < 0) {
        Py_DECREF(path_obj);
        pyst_raise(rc, errbuf);
        return -1;
    }
    self->mu = PyThread_allocate_lock();
    if (self->mu == NULL) {
        strata_pool_close(pool);
        Py_DECREF(path_obj);
        PyErr_NoMemory();
        return -1;
    }
    self->pool = pool;
    self->path = path_obj;
    if (threads >= 0) strata_pool_set_threads(pool, threads);
    if (busy >= 0) strata_pool_set_busy_timeout(pool, busy);
    return 0;
}

static void pool_dealloc(PoolObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    /* every child holds a reference, so none is left: close for real */
    if (self->pool != NULL) {
        strata_pool_close(self->pool);
        self->pool = NULL;
    }
    if (self->mu != NULL) PyThread_free_lock(self->mu);
    Py_CLEAR(self->pending);
    Py_CLEAR(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int pool_traverse(PoolObject *self, visitproc visit, void *arg)
{
    (void)self;
    (void)visit;
    (void)arg;
    return 0;
}

static PyObject *pool_close(PoolObject *self, PyObject *noargs)
{
    (void)noargs;
    if (self->pool == NULL || self->close_requested) Py_RETURN_NONE;
    if (self->owner == PyThread_get_thread_ident())
        return pyst_raise(STRATA_EINVAL, "a callback may not close the pool that runs it");
    self->close_requested = 1;
    pool_close_now(self);
    Py_RETURN_NONE;
}

static PyObject *pool_enter(PoolObject *self, PyObject *noargs)
{
    (void)noargs;
    if (pyst_pool_check(self) < 0) return NULL;
    return Py_NewRef(self);
}

static PyObject *pool_exit(PoolObject *self, PyObject *args)
{
    (void)args;
    return pool_close(self, NULL);
}

static PyObject *pool_get_path(PoolObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->path);
}

static PyObject *pool_get_closed(PoolObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->pool == NULL || self->close_requested);
}

int pyst_list_name(void *ctx, const char *name)
{
    PyObject *s = pyst_str(name, strlen(name));
    if (s == NULL) return 1;
    int rc = PyList_Append((PyObject *)ctx, s);
    Py_DECREF(s);
    return rc < 0 ? 1 : 0;
}

static PyObject *pool_regions(PoolObject *self, PyObject *noargs)
{
    (void)noargs;
    PyObject *list = PyList_New(0);
    if (list == NULL || pyst_pool_lock(self) < 0) {
        Py_XDECREF(list);
        return NULL;
    }
    int rc = strata_region_list(self->pool, pyst_list_name, list);
    if (rc < 0) pyst_raise_pool(self, rc);
    pyst_unlock(self);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

static PyObject *pool_create_region(PoolObject *self, PyObject *args)
{
    const char *region;
    if (!PyArg_ParseTuple(args, "s:create_region", &region)) return NULL;
    if (pyst_pool_lock(self) < 0) return NULL;
    int rc = strata_region_create(self->pool, region);
    if (rc < 0) pyst_raise_pool(self, rc);
    pyst_unlock(self);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *pool_drop_region(PoolObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "force", NULL};
    const char *region;
    int force = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|p:drop_region", kwlist, &region, &force))
        return NULL;
    pyst_status st;
    if (pyst_pool_check(self) < 0) return NULL;
    PYST_CALL_NOGIL(self, st, strata_region_delete(self->pool, region, force ? STRATA_FORCE : 0));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *pool_set_threads(PoolObject *self, PyObject *args)
{
    int n;
    if (!PyArg_ParseTuple(args, "i:set_threads", &n)) return NULL;
    if (pyst_pool_lock(self) < 0) return NULL;
    int rc = strata_pool_set_threads(self->pool, n);
    if (rc < 0) pyst_raise_pool(self, rc);
    pyst_unlock(self);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *pool_set_io_strategy(PoolObject *self, PyObject *args)
{
    const char *spec = NULL;
    if (!PyArg_ParseTuple(args, "z:set_io_strategy", &spec)) return NULL;
    if (pyst_pool_lock(self) < 0) return NULL;
    int rc = strata_pool_set_io_strategy(self->pool, spec);
    if (rc < 0) pyst_raise_pool(self, rc);
    pyst_unlock(self);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *pool_repr(PoolObject *self)
{
    const char *state = self->pool == NULL || self->close_requested ? " (closed)" : "";
    return PyUnicode_FromFormat("<strata.Pool %R%s>", self->path, state);
}

PyMethodDef pyst_pool_core_methods[] = {
    {"close", (PyCFunction)pool_close, METH_NOARGS,
     "close()\n--\n\nClose the pool. Objects opened through it (arrays, snapshots, ...) and numpy\n"
     "views of their memory stay valid until they are closed or collected; the pool's files\n"
     "are released after the last one. Calling it again does nothing."},
    {"__enter__", (PyCFunction)pool_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pool_exit, METH_VARARGS, NULL},
    {"regions", (PyCFunction)pool_regions, METH_NOARGS,
     "regions()\n--\n\nThe names of the pool's regions, sorted."},
    {"create_region", (PyCFunction)pool_create_region, METH_VARARGS,
     "create_region(name)\n--\n\nCreate region NAME. Raises Exists if it exists. (Creating an\n"
     "array, dataset or N-d array creates its region on first use too.)"},
    {"drop_region", (PyCFunction)(void (*)(void))pool_drop_region, METH_VARARGS | METH_KEYWORDS,
     "drop_region(name, force=False)\n--\n\nDelete region NAME with all its arrays. Raises Locked\n"
     "while any of its arrays is locked by anyone, unless FORCE."},
    {"set_threads", (PyCFunction)pool_set_threads, METH_VARARGS,
     "set_threads(n)\n--\n\nThreads of the data-path kernels (gather, scatter, sort ...): 0 is\n"
     "OpenMP's default, 1 turns parallelism off."},
    {"set_io_strategy", (PyCFunction)pool_set_io_strategy, METH_VARARGS,
     "set_io_strategy(spec)\n--\n\nForce the MDMS planner's I/O strategy for saves, loads and\n"
     "explain() through this pool, for experiments: 'contiguous', 'sieve', 'collective',\n"
     "'independent', 'chunked' or 'auto', and/or 'noprefetch' (comma-separated). None restores\n"
     "the planner's choice. InvalidArgument names a bad word."},
    {NULL, NULL, 0, NULL},
};

static PyObject *pool_get_catalog(PoolObject *p, void *c)
{
    (void)c;
    char where[2048];
    if (pyst_pool_lock(p) < 0) return NULL;
    int rc = strata_pool_catalog(p->pool, where, sizeof where);
    pyst_unlock(p);
    if (rc < 0) return pyst_raise(rc, "cannot describe the catalog");
    return PyUnicode_FromString(where);
}

static PyGetSetDef pool_getset[] = {
    {"path", (getter)pool_get_path, NULL, "The pool's directory.", NULL},
    {"catalog", (getter)pool_get_catalog, NULL,
     "Where the catalog is: 'sqlite POOL/catalog.db' or 'postgresql CONNINFO schema S'.", NULL},
    {"closed", (getter)pool_get_closed, NULL, "True once close() was called.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject PoolType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._strata.Pool",
    .tp_basicsize = sizeof(PoolObject),
    .tp_dealloc = (destructor)pool_dealloc,
    .tp_repr = (reprfunc)pool_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Pool(path, create=False, *, threads=None, busy_timeout=None, catalog=None,\n"
              "     schema=None)\n--\n\n"
              "A Strata pool: a directory of data files and a catalog, shared by every process\n"
              "that opens it. create=True makes a new pool (the directory must not exist or be\n"
              "empty); otherwise NotFound when PATH holds no pool. CATALOG (new pools): a\n"
              "PostgreSQL connection string (postgresql://user@host/db, or host=... dbname=...)\n"
              "for a pool many nodes share, SCHEMA its schema there; default $STRATA_CATALOG,\n"
              "else SQLite inside the pool. A context manager: the pool\n"
              "closes at the end of the with-block. THREADS sets the data-path threads (see\n"
              "set_threads); BUSY_TIMEOUT the milliseconds a catalog writer waits for another\n"
              "process before raising Locked.",
    .tp_traverse = (traverseproc)pool_traverse,
    .tp_weaklistoffset = offsetof(PoolObject, weakrefs),
    .tp_getset = pool_getset,
    .tp_init = (initproc)pool_init,
    .tp_new = PyType_GenericNew,
};

/* The Pool method table: the concatenation of every file's part. */
static PyMethodDef *pool_method_table(void)
{
    static PyMethodDef table[160];
    PyMethodDef *parts[] = {pyst_pool_core_methods,    pyst_pool_array_methods,
                            pyst_pool_dataset_methods, pyst_pool_derive_methods,
                            pyst_pool_nd_methods,      pyst_pool_mdms_methods};
    size_t n = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        for (PyMethodDef *m = parts[i]; m->ml_name != NULL; m++) {
            if (n + 1 >= sizeof table / sizeof table[0]) return NULL;
            table[n++] = *m;
        }
    table[n] = (PyMethodDef){NULL, NULL, 0, NULL};
    return table;
}

/* ---- module -------------------------------------------------------------------------------- */

static PyObject *mod_strerror(PyObject *self, PyObject *args)
{
    (void)self;
    int code;
    if (!PyArg_ParseTuple(args, "i:strerror", &code)) return NULL;
    return PyUnicode_FromString(strata_strerror(code));
}

static PyMethodDef module_methods[] = {
    {"_register", (PyCFunction)(void (*)(void))mod_register, METH_VARARGS | METH_KEYWORDS,
     "Register the package's Python subclasses of the C types (internal)."},
    {"strerror", mod_strerror, METH_VARARGS,
     "strerror(code)\n--\n\nThe library's description of status CODE."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "strata._strata",
    .m_doc = "The compiled core of the strata package (use 'import strata').",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__strata(void)
{
    import_array();
    PoolType.tp_methods = pool_method_table();
    if (PoolType.tp_methods == NULL) {
        PyErr_SetString(PyExc_SystemError, "strata: the Pool method table is too small");
        return NULL;
    }
    if (PyType_Ready(&PoolType) < 0 || PyType_Ready(&KeeperType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    registered = PyDict_New();
    if (registered == NULL || errors_init(m) < 0 ||
        PyModule_AddObjectRef(m, "Pool", (PyObject *)&PoolType) < 0 ||
        PyModule_AddStringConstant(m, "__version__", STRATA_VERSION_STRING) < 0 ||
        pyst_array_init(m) < 0 || pyst_dataset_init(m) < 0 || pyst_derive_init(m) < 0 ||
        pyst_nd_init(m) < 0 || pyst_mdms_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
