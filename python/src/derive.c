/*
 * derive.c -- derived data from Python: the Pool methods that define derived datasets and
 * columns (strata_derive, strata_column_derive), bring them up to date (strata_update, GIL
 * released, progress callback), register them for automatic update, report their lineage and
 * drop datasets. The user-facing argument forms (lists, dicts, topk=("fare", 10)) are turned
 * into the library's strings by strata/_derive.py; the methods here take those strings.
 */
#include "pystrata.h"

#include <limits.h>
#include <string.h>

/* An optional str argument: NULL for None, else its UTF-8 (-1 with TypeError otherwise). */
static int opt_str(PyObject *obj, const char **out, const char *what)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None) return 0;
    if (!PyUnicode_Check(obj)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be a str", what);
        pyst_raise(STRATA_EINVAL, msg);
        return -1;
    }
    *out = PyUnicode_AsUTF8(obj);
    return *out == NULL ? -1 : 0;
}

/* ---- derive and column ---------------------------------------------------------------------- */

static PyObject *pool_derive_spec(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "source", "op",   "expr",    "keys",
                             "aggs", "k",      "desc", "global_", NULL};
    const char *full, *source, *op;
    PyObject *expr_o = Py_None, *keys_o = Py_None, *aggs_o = Py_None;
    unsigned long long k = 0;
    int desc = 0, global = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sss|$OOOKpp:_derive", kwlist, &full, &source, &op,
                                     &expr_o, &keys_o, &aggs_o, &k, &desc, &global))
        return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    char sregion[STRATA_NAME_MAX + 1], sname[STRATA_NAME_MAX + 1];
    strata_derive_spec spec = {0};
    if (pyst_split(full, region, name, "derived dataset") < 0 ||
        pyst_split(source, sregion, sname, "source dataset") < 0 ||
        opt_str(expr_o, &spec.expr, "filter") < 0 || opt_str(keys_o, &spec.keys, "keys") < 0 ||
        opt_str(aggs_o, &spec.aggs, "agg") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    spec.op = op;
    spec.k = k;
    spec.desc = desc;
    spec.global = global;
    if (pyst_region_ensure(p, region) < 0) return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_derive(p->pool, region, name, sregion, sname, &spec));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *pool_column_spec(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "op", "source", "expr", "default", NULL};
    const char *full, *op;
    PyObject *src_o = Py_None, *expr_o = Py_None, *def_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|$OOO:_column", kwlist, &full, &op, &src_o,
                                     &expr_o, &def_o))
        return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1], column[STRATA_NAME_MAX + 1];
    char sregion[STRATA_NAME_MAX + 1], sname[STRATA_NAME_MAX + 1], scol[STRATA_NAME_MAX + 1];
    const char *src = NULL;
    strata_column_spec spec = {0};
    if (pyst_split_col(full, region, name, column, "derived column") < 0 ||
        opt_str(src_o, &src, op) < 0 || opt_str(expr_o, &spec.expr, "expr") < 0 ||
        opt_str(def_o, &spec.default_value, "default") < 0)
        return NULL;
    if (src != NULL) {
        if (pyst_split_col(src, sregion, sname, scol, op) < 0) return NULL;
        spec.src_region = sregion;
        spec.src_name = sname;
        spec.src_column = scol;
    }
    spec.op = op;
    if (pyst_pool_check(p) < 0) return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_column_derive(p->pool, region, name, column, &spec));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

/* ---- update -------------------------------------------------------------------------------- */

typedef struct progress_ctx {
    PyObject *fn;             /* the callable */
    PyObject *exc, *val, *tb; /* the exception it raised (stops the update) */
} progress_ctx;

/* Called by strata_update in this thread, with the GIL released and the pool lock held. */
static int update_progress(void *vctx, const strata_update_event *ev)
{
    progress_ctx *pc = vctx;
    PyGILState_STATE g = PyGILState_Ensure();
    int stop = 0;
    PyObject *d = Py_BuildValue("{s:N,s:s,s:s,s:K,s:K,s:K,s:d}", "dataset",
                                PyUnicode_FromFormat("%s/%s", ev->region, ev->name), "object",
                                ev->object, "mode", ev->mode, "done", (unsigned long long)ev->done,
                                "total", (unsigned long long)ev->total, "rows",
                                (unsigned long long)ev->rows, "seconds", ev->seconds);
    PyObject *r = d != NULL ? PyObject_CallOneArg(pc->fn, d) : NULL;
    Py_XDECREF(d);
    if (r == NULL) {
        /* keep the first exception; the update stops and it is raised to the caller */
        if (pc->exc == NULL)
            PyErr_Fetch(&pc->exc, &pc->val, &pc->tb);
        else
            PyErr_Clear();
        stop = 1;
    } else if (r == Py_False) {
        stop = 1; /* returning False cancels the update */
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
    return stop;
}

/* The scope NAME_O of an update or a lineage: None (the pool), 'region' or 'region/dataset'
 * into *R and *N (NULL when not given), using REGION and NAME as storage. */
static int scope_arg(PyObject *name_o, char *region, char *name, const char **r, const char **n)
{
    *r = *n = NULL;
    if (name_o == Py_None) return 0;
    const char *s;
    if (opt_str(name_o, &s, "name") < 0) return -1;
    if (strchr(s, '/') != NULL) {
        if (pyst_split(s, region, name, "dataset") < 0) return -1;
        *r = region;
        *n = name;
        return 0;
    }
    if (s[0] == '\0' || strlen(s) > STRATA_NAME_MAX) {
        pyst_raise(STRATA_ENAME, "name is not 'region' or 'region/dataset'");
        return -1;
    }
    *r = s;
    return 0;
}

static PyObject *pool_update(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name",    "full",     "auto",         "mem",
                             "threads", "progress", "lock_timeout", NULL};
    PyObject *name_o = Py_None, *mem_o = Py_None, *thr_o = Py_None, *prog = Py_None,
             *lt_o = Py_None;
    int full = 0, autoo = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$ppOOOO:_update", kwlist, &name_o, &full, &autoo,
                                     &mem_o, &thr_o, &prog, &lt_o))
        return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    const char *r = NULL, *n = NULL;
    if (scope_arg(name_o, region, name, &r, &n) < 0) return NULL;
    strata_update_opts o = {0};
    o.full = full;
    o.auto_only = autoo;
    int64_t mem, threads;
    if (pyst_opt_int64(mem_o, 0, &mem, "mem") < 0 ||
        pyst_opt_int64(thr_o, 0, &threads, "threads") < 0)
        return NULL;
    if (mem < 0) return pyst_raise(STRATA_EINVAL, "mem must not be negative");
    if (mem > 0 && mem < (1 << 20))
        return pyst_raise(STRATA_EINVAL, "mem is below the minimum of 1 MiB (1048576 bytes): an "
                                         "update needs at least 1 MiB for its buffers");
    if (threads < 0 || threads > 4096)
        return pyst_raise(STRATA_EINVAL, "threads must be 0 (the pool's setting) to 4096");
    o.mem = (uint64_t)mem;
    o.nthreads = (int)threads;
    if (lt_o != Py_None) {
        double secs = PyFloat_AsDouble(lt_o);
        if (secs == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return pyst_raise(STRATA_EINVAL, "lock_timeout must be seconds (a number) or None");
        }
        /* < 0: forever; 0 would mean the library's default, so round a tiny wait up to 1 ms */
        o.lock_timeout_ms = secs < 0                ? -1
                            : secs * 1000 > INT_MAX ? INT_MAX
                            : secs * 1000 < 1       ? 1
                                                    : (int)(secs * 1000);
    }
    progress_ctx pc = {NULL, NULL, NULL, NULL};
    if (prog != Py_None) {
        if (!PyCallable_Check(prog))
            return pyst_raise(STRATA_EINVAL, "progress must be a callable taking one dict");
        pc.fn = prog;
        o.progress = update_progress;
        o.progress_ctx = &pc;
    }
    if (pyst_pool_check(p) < 0) return NULL;
    strata_update_stats s;
    memset(&s, 0, sizeof s);
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_update(p->pool, r, n, &o, &s));
    if (pc.exc != NULL) {
        PyErr_Restore(pc.exc, pc.val, pc.tb);
        return NULL;
    }
    if (PYST_FAILED(st)) return pyst_fail(&st);
    return Py_BuildValue(
        "{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:d}", "incremental", (unsigned long long)s.incremental,
        "refreshed", (unsigned long long)s.refreshed, "fresh", (unsigned long long)s.fresh,
        "batches_read", (unsigned long long)s.batches_read, "batches_written",
        (unsigned long long)s.batches_written, "rows_read", (unsigned long long)s.rows_read,
        "rows_written", (unsigned long long)s.rows_written, "runs_spilled",
        (unsigned long long)s.runs_spilled, "seconds", s.seconds);
}

/* ---- auto, lineage, drop ------------------------------------------------------------------- */

static PyObject *pool_auto(PoolObject *p, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"name", "on", NULL};
    const char *full;
    int on = 1;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|p:auto", kwlist, &full, &on) ||
        pyst_split(full, region, name, "derived dataset") < 0 || pyst_pool_check(p) < 0)
        return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_auto(p->pool, region, name, on));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

static PyObject *opt_pystr(const char *s)
{
    if (s == NULL) Py_RETURN_NONE;
    return pyst_str(s, strlen(s));
}

static int lineage_row(void *ctx, const strata_lineage_info *li)
{
    PyObject *list = ctx;
    PyObject *src_col = opt_pystr(li->src_column), *col = opt_pystr(li->column);
    PyObject *d = NULL;
    if (src_col != NULL && col != NULL)
        d = Py_BuildValue(
            "{s:N,s:O,s:s,s:s,s:N,s:O,s:O,s:O,s:K,s:K,s:O,s:O}", "dataset",
            PyUnicode_FromFormat("%s/%s", li->region, li->name), "column", col, "op", li->op,
            "args", li->args, "source", PyUnicode_FromFormat("%s/%s", li->src_region, li->src_name),
            "source_column", src_col, "destroys_order", li->destroys_order ? Py_True : Py_False,
            "auto", li->auto_update ? Py_True : Py_False, "consumed",
            (unsigned long long)li->consumed, "source_batches",
            (unsigned long long)li->source_batches, "fresh", li->fresh ? Py_True : Py_False,
            "computed", li->computed ? Py_True : Py_False);
    Py_XDECREF(src_col);
    Py_XDECREF(col);
    if (d == NULL) return 1;
    int rc = PyList_Append(list, d);
    Py_DECREF(d);
    return rc < 0 ? 1 : 0;
}

/* The raw rows of strata_lineage (strata/_derive.py builds the graph). */
static PyObject *pool_lineage_rows(PoolObject *p, PyObject *args)
{
    PyObject *name_o = Py_None;
    if (!PyArg_ParseTuple(args, "|O:_lineage", &name_o)) return NULL;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    const char *r = NULL, *n = NULL;
    if (scope_arg(name_o, region, name, &r, &n) < 0) return NULL;
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    if (pyst_pool_lock(p) < 0) {
        Py_DECREF(list);
        return NULL;
    }
    int rc = strata_lineage(p->pool, r, n, lineage_row, list);
    if (rc < 0) pyst_raise_pool(p, rc);
    pyst_unlock(p);
    if (rc != 0) Py_CLEAR(list);
    return list;
}

static PyObject *pool_drop(PoolObject *p, PyObject *args)
{
    const char *full;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTuple(args, "s:drop", &full) || pyst_split(full, region, name, "dataset") < 0 ||
        pyst_pool_check(p) < 0)
        return NULL;
    pyst_status st;
    PYST_CALL_NOGIL(p, st, strata_dataset_drop(p->pool, region, name));
    if (PYST_FAILED(st)) return pyst_fail(&st);
    Py_RETURN_NONE;
}

/* ---- a private reader for the tests (until datasets land): a numeric column, all rows ------- */

static PyObject *pool_read_column(PoolObject *p, PyObject *args)
{
    const char *full;
    long long as_of = 0;
    char region[STRATA_NAME_MAX + 1], name[STRATA_NAME_MAX + 1], column[STRATA_NAME_MAX + 1];
    if (!PyArg_ParseTuple(args, "s|L:_read_column", &full, &as_of) ||
        pyst_split_col(full, region, name, column, "column") < 0 || pyst_pool_lock(p) < 0)
        return NULL;
    strata_snapshot *s = NULL;
    strata_dataset_desc d;
    int col = -1;
    int rc = strata_snapshot_open(p->pool, region, name, as_of, &s);
    if (rc == STRATA_OK) rc = strata_snapshot_info(s, &d);
    if (rc == STRATA_OK) rc = strata_snapshot_column(s, column, &col);
    PyArrayObject *out = NULL;
    if (rc == STRATA_OK) {
        npy_intp dim = (npy_intp)d.nrows;
        out = (PyArrayObject *)PyArray_SimpleNew(1, &dim, pyst_npy_type(d.columns[col].dtype));
        if (out != NULL && d.nrows > 0) {
            Py_BEGIN_ALLOW_THREADS rc = strata_snapshot_read(s, col, 0, d.nrows, PyArray_DATA(out));
            Py_END_ALLOW_THREADS
        }
    }
    if (rc < 0) {
        Py_CLEAR(out);
        pyst_raise_pool(p, rc);
    }
    strata_snapshot_close(s);
    pyst_unlock(p);
    return (PyObject *)out;
}

PyMethodDef pyst_pool_derive_methods[] = {
    {"_derive", (PyCFunction)(void (*)(void))pool_derive_spec, METH_VARARGS | METH_KEYWORDS,
     "_derive(name, source, op, *, expr=None, keys=None, aggs=None, k=0, desc=False,\n"
     "        global_=False)\n--\n\n"
     "strata_derive with the library's spec strings (use derive())."},
    {"_column", (PyCFunction)(void (*)(void))pool_column_spec, METH_VARARGS | METH_KEYWORDS,
     "_column(name, op, *, source=None, expr=None, default=None)\n--\n\n"
     "strata_column_derive with the library's spec strings (use column())."},
    {"_update", (PyCFunction)(void (*)(void))pool_update, METH_VARARGS | METH_KEYWORDS,
     "_update(name=None, *, full=False, auto=False, mem=None, threads=None, progress=None,\n"
     "        lock_timeout=None)\n--\n\n"
     "strata_update; returns its statistics as a dict (use update())."},
    {"auto", (PyCFunction)(void (*)(void))pool_auto, METH_VARARGS | METH_KEYWORDS,
     "auto(name, on=True)\n--\n\n"
     "Register derived dataset 'region/name' (with its derived columns and all its ancestors)\n"
     "for automatic update: pool.update(auto=True) and 'strata watch' update only what is\n"
     "registered. on=False unregisters it. Raises NotFound when it is not a derived dataset."},
    {"_lineage", (PyCFunction)pool_lineage_rows, METH_VARARGS,
     "_lineage(name=None)\n--\n\n"
     "The rows of strata_lineage as dicts, oldest first (use lineage())."},
    {"drop", (PyCFunction)pool_drop, METH_VARARGS,
     "drop(name)\n--\n\n"
     "Drop dataset 'region/name', base or derived. Its files are removed by gc once no open\n"
     "snapshot reads them. Raises NotFound when there is none, and Conflict while another\n"
     "dataset is still derived from it (drop that first)."},
    {"_read_column", (PyCFunction)pool_read_column, METH_VARARGS,
     "_read_column(name, as_of=0)\n--\n\n"
     "Every row of numeric column 'region/dataset.column' as a new ndarray (internal: the\n"
     "tests' reader; snapshots are the public way)."},
    {NULL, NULL, 0, NULL},
};

int pyst_derive_init(PyObject *module)
{
    (void)module;
    return 0;
}
