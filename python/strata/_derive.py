"""Derived data: Pool.derive, column, update, auto, lineage and drop (the compiled methods take
the library's spec strings; the forms users write -- lists, dicts, topk=("fare", 10) -- are turned
into them here).

    pool.derive("taxi/expensive", "taxi/trips", filter="fare > 10000")
    pool.column("taxi/expensive.fare", gather="taxi/trips.fare")
    pool.derive("taxi/zones", "taxi/trips", groupby="pickupzone", agg={"fare": ["sum", "mean"]})
    stats = pool.update()            # computes everything that is stale, GIL released
    pool.lineage()["edges"]          # [('taxi/trips', 'taxi/expensive'), ...]
"""
import numbers
import re

from . import _strata

_AGG_OPS = ("sum", "count", "mean", "min", "max", "var", "std", "first", "last",
            "count_distinct", "median", "quantile:Q")


def _error(cls, errname, msg):
    e = cls(msg)
    e.errname = errname
    return e


def _invalid(msg):
    return _error(_strata.InvalidArgument, "STRATA_EINVAL", msg)


def _keys(value, what):
    """'a,b', ['a', 'b'] or ('a', 'b') -> 'a,b'."""
    if isinstance(value, str):
        keys = [k.strip() for k in value.split(",")]
    elif isinstance(value, (list, tuple)) and all(isinstance(k, str) for k in value):
        keys = [k.strip() for k in value]
    else:
        raise _invalid(f"{what} takes column names: a str 'a,b' or a list of str, not "
                       f"{value!r}")
    if not keys or any(not k for k in keys):
        raise _invalid(f"{what} {value!r} names an empty column")
    return ",".join(keys)


def _agg_item(op, col):
    """(op, column) as text: 'mean:fare', 'quantile:fare:0.9' for ('quantile:0.9', 'fare')."""
    if op == "count":
        return "count"
    if op.startswith("quantile:"):
        return f"quantile:{col}:{op[len('quantile:'):]}"
    return f"{op}:{col}"


def _aggs(agg):
    """'sum:fare,count', ['sum:fare', ('mean', 'fare'), 'count'] or {'fare': ['sum', 'mean',
    'quantile:0.9'], 'count': None} -> 'sum:fare,mean:fare,quantile:fare:0.9,count'."""
    if isinstance(agg, str):
        return agg
    items = []
    if isinstance(agg, dict):
        for col, ops in agg.items():
            if col == "count" and ops in (None, True, "count"):
                items.append("count")
                continue
            for op in [ops] if isinstance(ops, str) else list(ops or ()):
                if not isinstance(op, str):
                    raise _invalid(f"agg: the aggregates of column {col!r} must be names "
                                   f"({', '.join(_AGG_OPS)}), not {op!r}")
                items.append(_agg_item(op, col))
    elif isinstance(agg, (list, tuple)):
        for a in agg:
            if isinstance(a, str):
                items.append(a)
            elif isinstance(a, (list, tuple)) and len(a) == 2 and all(
                    isinstance(x, str) for x in a):
                items.append(_agg_item(a[0], a[1]))
            else:
                raise _invalid(f"agg: {a!r} is not 'op:column', 'count' or (op, column)")
    else:
        raise _invalid(f"agg takes 'sum:fare,count', a list or a dict, not {agg!r}")
    if not items:
        raise _invalid("agg names no aggregate")
    return ",".join(items)


def _value_text(v):
    """A scatter default as the library parses it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, str):
        return v
    raise _invalid(f"default must be a number or a bool, not {v!r}")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*$")


def _bytes(mem):
    if mem is None or isinstance(mem, numbers.Integral):
        return mem
    if isinstance(mem, str):
        m = _SIZE.match(mem)
        if m:
            mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
            return int(float(m.group(1)) * mult[m.group(2).lower()])
    raise _invalid(f"mem takes bytes: an int or a str such as '512M' or '4G', not {mem!r}")


class UpdateStats:
    """What pool.update() did.

    incremental      objects updated with only what was new (order-preserving operations and
                     derived columns)
    refreshed        objects recomputed or merged whole (sort, global topk, groupby; full=True)
    fresh            objects that had nothing to do
    batches_read, batches_written, rows_read, rows_written
    runs_spilled     sorted runs written to disk to stay within mem=
    seconds          wall time of the update
    """

    __slots__ = ("incremental", "refreshed", "fresh", "batches_read", "batches_written",
                 "rows_read", "rows_written", "runs_spilled", "seconds")

    def __init__(self, **fields):
        for k in self.__slots__:
            setattr(self, k, fields.get(k, 0))

    def as_dict(self):
        """The fields as a dict."""
        return {k: getattr(self, k) for k in self.__slots__}

    def __eq__(self, other):
        if not isinstance(other, UpdateStats):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k)
                   for k in self.__slots__ if k != "seconds")

    def __repr__(self):
        s = (f"<strata.UpdateStats {self.incremental} incremental, {self.refreshed} refreshed, "
             f"{self.fresh} fresh; read {_n(self.batches_read, 'batch')} ({self.rows_read} rows), "
             f"wrote {_n(self.batches_written, 'batch')} ({self.rows_written} rows)")
        if self.runs_spilled:
            s += f", spilled {self.runs_spilled} runs"
        return s + f" in {self.seconds:.3f} s>"


def _n(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}es"


class DerivePoolMixin:
    """Pool methods of derived data."""

    def derive(self, name, source, *, filter=None, sort=None, sort_runs=None, topk=None,
               groupby=None, agg=None, k=None, desc=False, global_=False):
        """Define dataset NAME ('region/new') derived from SOURCE ('region/parent') by exactly one
        operation; nothing is computed until update(). The new dataset's 'index' column (u64)
        holds the positions of SOURCE's rows, in the operation's order:

            filter='fare > 10000 and pickupzone != dropoffzone'   rows where it holds
            sort='fare,pickuptime' (or a list), desc=False       full stable sort; keeps the keys
            sort_runs='fare'                                      each batch sorted on its own
            topk='fare', k=10 (or topk=('fare', 10))              the first K of fare's order per
                                                                  batch (desc: the K largest);
                                                                  global_=True: over everything
            groupby='zone' (or a list), agg=...                   groups and aggregates

        agg is 'sum:fare,count,mean:fare,median:fare,quantile:fare:0.9', a list of such items or
        of (op, column) pairs, or a dict {column: op or [ops]} (the key 'count' counts rows; the
        op 'quantile:0.9' names its Q). Ops: count, sum, mean, min, max, var, std (ddof 1),
        first, last, count_distinct, median, quantile. Keys may be of any dtype. The group-by
        output has 'index' (each group's first row), the keys (in their dtypes), 'count', then
        the aggregates' columns (sum_X, mean_X, q0_9_X, ...), in ascending key order, NaN last. filter, sort_runs and per-batch
        topk preserve the order of batches and update incrementally; sort, global topk and
        groupby merge what is new into their previous output.

        Raises InvalidArgument (no or several operations, a bad spec), NotFound (SOURCE or a
        column), TypeMismatch (expression or key types), Exists (NAME taken).
        """
        given = [op for op, v in (("filter", filter), ("sort", sort), ("sort_runs", sort_runs),
                                  ("topk", topk), ("groupby", groupby)) if v is not None]
        if len(given) != 1:
            raise _invalid("derive takes exactly one of filter=, sort=, sort_runs=, topk=, "
                           "groupby=" + (f" (got {', '.join(given)})" if given else ""))
        op = given[0]
        if agg is not None and op != "groupby":
            raise _invalid("agg= goes with groupby=")
        if k is not None and op != "topk":
            raise _invalid("k= goes with topk=")
        if global_ and op != "topk":
            raise _invalid("global_= goes with topk=")
        spec = {}
        if op == "filter":
            if not isinstance(filter, str):
                raise _invalid(f"filter takes an expression (a str), not {filter!r}")
            spec["expr"] = filter
        elif op in ("sort", "sort_runs"):
            spec["keys"] = _keys(sort if op == "sort" else sort_runs, op)
        elif op == "topk":
            col = topk
            if isinstance(topk, (tuple, list)):
                if len(topk) != 2 or k is not None:
                    raise _invalid("topk takes a column with k=, or a pair (column, k)")
                col, k = topk
            elif isinstance(topk, str) and ":" in topk and k is None:
                col, _, kk = topk.rpartition(":")
                k = int(kk) if kk.isdigit() else kk
            if not isinstance(col, str):
                raise _invalid(f"topk takes one column name, not {col!r}")
            if k is None:
                raise _invalid("topk needs k= (how many rows)")
            if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
                raise _invalid(f"topk: k must be an integer >= 1, not {k!r}")
            spec["keys"] = col
            spec["k"] = int(k)
        else:
            spec["keys"] = _keys(groupby, "groupby")
            if agg is None:
                raise _invalid("groupby needs agg= (for example 'count' or 'sum:fare,count')")
            spec["aggs"] = _aggs(agg)
        self._derive(name, source, op, desc=bool(desc), global_=bool(global_), **spec)

    def column(self, name, *, gather=None, expr=None, scatter=None, default=None):
        """Define derived column NAME ('region/dataset.column'), computed by update() for every
        batch of its dataset, by exactly one of

            gather='region/parent.col'    the parent's column at the dataset's index (the
                                          parent must be the dataset's source)
            expr='dropofftime - pickuptime'   an expression over the dataset's columns
            scatter='region/child.col', default=-1   on a parent: the child's column at the
                                          parent positions it holds, DEFAULT elsewhere

        Raises InvalidArgument (no or several operations, scatter without default), NotFound,
        TypeMismatch (expression types), Exists (the column exists), BadName.
        """
        given = [op for op, v in (("gather", gather), ("expr", expr), ("scatter", scatter))
                 if v is not None]
        if len(given) != 1:
            raise _invalid("column takes exactly one of gather=, expr=, scatter=" +
                           (f" (got {', '.join(given)})" if given else ""))
        op = given[0]
        if op == "scatter" and default is None:
            raise _invalid("scatter needs default= (the value where the child has no row)")
        if op != "scatter" and default is not None:
            raise _invalid("default= goes with scatter=")
        if op == "expr":
            if not isinstance(expr, str):
                raise _invalid(f"expr takes an expression (a str), not {expr!r}")
            self._column(name, "expr", expr=expr)
        else:
            src = gather if op == "gather" else scatter
            if not isinstance(src, str):
                raise _invalid(f"{op} takes 'region/dataset.column', not {src!r}")
            self._column(name, op, source=src,
                         default=None if default is None else _value_text(default))

    def update(self, name=None, *, full=False, auto=False, mem=None, threads=None,
               progress=None, lock_timeout=None):
        """Bring derived datasets and columns up to date, with their ancestors, oldest first:
        NAME None = the whole pool, 'region' = a region, 'region/name' = one dataset. Returns
        an UpdateStats. The GIL is released meanwhile (other Python threads run).

            full=True        recompute from scratch (the same bytes as incremental)
            auto=True        only what auto() registered
            mem=512 << 20    memory budget of sorts ('512M' too; at least 1 MiB): larger sorts
                             spill sorted runs to disk and merge them
            threads=N        kernel threads (None: the pool's setting)
            progress=fn      fn(dict) per event: dataset, object ('index' or the column),
                             mode ('incremental', 'refresh', 'full', 'merged'), done, total
                             (source batches), rows, seconds. Returning False cancels the
                             update (Conflict 'update cancelled'); an exception it raises stops
                             the update and propagates. It must not call back into this pool.
            lock_timeout=s   seconds to wait for another updater of a dataset (None: 60;
                             negative: forever), else Locked

        Each dataset's new output is published in one transaction: an update that fails or is
        cancelled leaves the previous state. Raises NotFound, Locked, InvalidArgument.
        """
        d = self._update(name, full=bool(full), auto=bool(auto), mem=_bytes(mem),
                         threads=threads, progress=progress, lock_timeout=lock_timeout)
        return UpdateStats(**d)

    def lineage(self, name=None):
        """The derivation graph around NAME ('region/name'; 'region'; None: the whole pool), as

            {"nodes": {node: {...}}, "edges": [(src, dst), ...]}

        A node is a derived dataset ('region/name', its index), a derived column
        ('region/name.column') or a base dataset that something is derived from. Each node is
        a dict:
            kind            'dataset', 'column' or 'base'
            dataset         'region/name' the node belongs to; column: its name or None
            op, args        'filter', 'sort', 'sort_runs', 'topk', 'groupby', 'gather',
                            'scatter', 'expr' and its arguments as the CLI writes them (None
                            for a base dataset)
            source          the dataset it reads ('region/name'); source_column for gather and
                            scatter
            destroys_order  it or an ancestor destroys the order of rows
            auto            registered with auto()
            consumed, source_batches   source batches consumed / there now
            fresh           nothing to do for it (False: run update())
            computed        False: defined, never computed yet (no update has run it)
        Nodes iterate oldest first. Edges go from what a node reads to the node: source ->
        derived dataset; gathered or scattered column (or its dataset) -> derived column; and a
        derived column's own dataset -> the column.
        """
        rows = self._lineage(name)
        nodes, edges = {}, []

        def base(ds):
            if ds not in nodes:
                nodes[ds] = {"kind": "base", "dataset": ds, "column": None, "op": None,
                             "args": None, "source": None, "source_column": None,
                             "destroys_order": False, "auto": False, "consumed": None,
                             "source_batches": None, "fresh": True, "computed": True}

        def edge(a, b):
            if (a, b) not in edges:
                edges.append((a, b))

        derived = {r["dataset"] for r in rows if r["column"] is None}
        for r in rows:
            for ds in (r["source"], r["dataset"]):
                if ds not in derived:
                    base(ds)
        for r in rows:
            key = r["dataset"] if r["column"] is None else f"{r['dataset']}.{r['column']}"
            node = dict(r)
            node["kind"] = "dataset" if r["column"] is None else "column"
            if node["kind"] == "dataset" and key in nodes:
                nodes[key].update(node)
            else:
                nodes[key] = node
        for r in rows:
            key = r["dataset"] if r["column"] is None else f"{r['dataset']}.{r['column']}"
            if r["column"] is None:
                edge(r["source"], key)
                continue
            if r["op"] != "expr":
                src = r["source"]
                if r["source_column"] is not None and \
                        f"{src}.{r['source_column']}" in nodes:
                    src = f"{src}.{r['source_column']}"
                edge(src, key)
            edge(r["dataset"], key)
        return {"nodes": nodes, "edges": edges}


DERIVE_CLASSES = {"UpdateStats": UpdateStats}
