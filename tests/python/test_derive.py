"""Derived data from Python: derive, column, update, auto, lineage, drop. Every result is compared
with the same computation done independently in numpy/pandas over all rows, also after batches
are appended and the update runs incrementally."""
import threading
import time

import numpy as np
import pandas as pd
import pytest

import strata

BATCH = 97  # rows per batch: batches do not line up with anything


def make_frame(rng, n, start=0):
    return pd.DataFrame({
        "k": rng.integers(0, 7, n),               # group keys with many ties
        "v": rng.integers(-50, 50, n),            # sort keys with many ties
        "f": np.round(rng.normal(0, 100, n), 3),  # floats
    }, index=np.arange(start, start + n))


def ingest(cli, pool_path, tmp_path, df, name="t/base"):
    path = tmp_path / f"in{df.index[0]}.csv"
    df.to_csv(path, index=False)
    cli(pool_path, "ingest", name, str(path), "--batch-rows", str(BATCH),
        "--schema", "k:i64,v:i64,f:f64", "--quiet")


def col(pool, name):
    return pool._read_column(name)


def batches_of(sizes):
    """The row ranges of the batches of ingests of SIZES rows each (a batch never spans two)."""
    out, at = [], 0
    for n in sizes:
        out += [(at + s, at + min(s + BATCH, n)) for s in range(0, n, BATCH)]
        at += n
    return out


def stable_order(keys, desc=False):
    """Row order of a stable multi-key sort (keys: list of int arrays, first key first)."""
    ks = [(-k if desc else k) for k in keys]
    return np.lexsort(tuple(reversed(ks)))


def define_all(pool):
    pool.derive("t/filt", "t/base", filter="v > 10 and k != 3")
    pool.column("t/filt.v", gather="t/base.v")
    pool.column("t/filt.f", gather="t/base.f")
    pool.column("t/filt.w", expr="v * 2 + 1")
    pool.derive("t/sorted", "t/base", sort=["k", "v"])
    pool.derive("t/sdesc", "t/base", sort="v", desc=True)
    pool.derive("t/runs", "t/base", sort_runs="v")
    pool.derive("t/top", "t/base", topk="v", k=3, desc=True)
    pool.derive("t/gtop", "t/base", topk=("f", 5), global_=True)
    pool.derive("t/groups", "t/base", groupby="k",
                agg={"count": None, "v": ["sum", "max"], "f": ["mean", "min"]})
    pool.column("t/base.back", scatter="t/filt.w", default=-1)


def check_all(pool, df, sizes):
    k, v, f = df.k.to_numpy(), df.v.to_numpy(), df.f.to_numpy()
    # filter, gather, expr
    mask = (v > 10) & (k != 3)
    idx = np.flatnonzero(mask)
    np.testing.assert_array_equal(col(pool, "t/filt.index"), idx)
    np.testing.assert_array_equal(col(pool, "t/filt.v"), v[idx])
    np.testing.assert_array_equal(col(pool, "t/filt.f"), f[idx])
    np.testing.assert_array_equal(col(pool, "t/filt.w"), v[idx] * 2 + 1)
    # scatter back onto the base: the child's w at its parent rows, -1 elsewhere
    np.testing.assert_array_equal(col(pool, "t/base.back"), np.where(mask, v * 2 + 1, -1))
    # sort: stable, multi-key; and descending (ties keep their order)
    order = stable_order([k, v])
    np.testing.assert_array_equal(col(pool, "t/sorted.index"), order)
    np.testing.assert_array_equal(col(pool, "t/sorted.k"), k[order])
    np.testing.assert_array_equal(col(pool, "t/sorted.v"), v[order])
    np.testing.assert_array_equal(col(pool, "t/sdesc.index"), stable_order([v], desc=True))
    pd_order = df.sort_values(["k", "v"], kind="stable").index.to_numpy()
    np.testing.assert_array_equal(col(pool, "t/sorted.index"), pd_order)
    # sort_runs and per-batch topk: batch by batch
    runs, top = [], []
    for a, b in batches_of(sizes):
        o = a + np.argsort(v[a:b], kind="stable")
        runs.append(o)
        top.append(a + stable_order([v[a:b]], desc=True)[:3])
    np.testing.assert_array_equal(col(pool, "t/runs.index"), np.concatenate(runs))
    np.testing.assert_array_equal(col(pool, "t/top.index"), np.concatenate(top))
    # global topk: the 5 smallest f over everything
    np.testing.assert_array_equal(col(pool, "t/gtop.index"),
                                  np.argsort(f, kind="stable")[:5])
    # groupby, against pandas
    g = df.groupby("k", sort=True)
    exp = pd.DataFrame({"index": g.apply(lambda x: x.index.min()) - df.index[0],
                        "count": g.size(), "sum_v": g.v.sum(), "max_v": g.v.max(),
                        "sum_f": g.f.sum(), "mean_f": g.f.mean(), "min_f": g.f.min()})
    np.testing.assert_array_equal(col(pool, "t/groups.k"), exp.index.to_numpy())
    for c in ("index", "count", "sum_v", "max_v", "min_f"):
        np.testing.assert_array_equal(col(pool, f"t/groups.{c}"), exp[c].to_numpy(), err_msg=c)
    # float sums are folded batch by batch: equal to pandas' up to rounding
    np.testing.assert_allclose(col(pool, "t/groups.sum_f"), exp.sum_f, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(col(pool, "t/groups.mean_f"), exp.mean_f, rtol=1e-12, atol=1e-9)


def test_derived_results_equal_pandas_and_stay_equal_incrementally(pool, pool_path, cli,
                                                                    tmp_path):
    rng = np.random.default_rng(7)
    df = make_frame(rng, 1000)
    ingest(cli, pool_path, tmp_path, df)
    define_all(pool)
    pool.update()
    check_all(pool, df, [1000])
    # append batches (another process), update incrementally: equal to pandas over all rows
    more = make_frame(rng, 450, start=1000)
    ingest(cli, pool_path, tmp_path, more)
    s = pool.update()
    assert s.incremental >= 6 and s.refreshed >= 4, s
    assert s.batches_read > 0 and s.rows_written > 0
    both = pd.concat([df, more])
    check_all(pool, both, [1000, 450])
    before = {n: col(pool, n) for n in ("t/sorted.index", "t/groups.sum_f", "t/filt.w")}
    # a full recomputation gives the same bytes
    pool.update(full=True)
    for n, a in before.items():
        assert col(pool, n).tobytes() == a.tobytes(), n
    # nothing left to do
    s = pool.update()
    assert (s.incremental, s.refreshed, s.batches_written) == (0, 0, 0)
    assert s.fresh == 11


def test_update_stats_fields(pool, pool_path, cli, tmp_path):
    rng = np.random.default_rng(1)
    df = make_frame(rng, 3 * BATCH)
    ingest(cli, pool_path, tmp_path, df)
    pool.derive("t/f", "t/base", filter="v >= 0")
    pool.column("t/f.v", gather="t/base.v")
    s = pool.update("t/f")
    assert isinstance(s, strata.UpdateStats)
    assert (s.refreshed + s.incremental, s.fresh) == (2, 0)
    assert s.batches_read >= 3 and s.rows_read >= len(df)
    assert s.rows_written >= int((df.v >= 0).sum())
    assert s.runs_spilled == 0 and s.seconds >= 0
    assert repr(s).startswith("<strata.UpdateStats ") and "incremental" in repr(s)
    assert set(s.as_dict()) == set(strata.UpdateStats.__slots__)
    more = make_frame(rng, 2 * BATCH, start=len(df))
    ingest(cli, pool_path, tmp_path, more)
    s = pool.update("t")                     # a region
    assert (s.incremental, s.refreshed, s.fresh) == (2, 0, 0)
    assert s.batches_read == 2 and s.rows_read == 2 * BATCH
    assert s.batches_written == 2            # the index's new batches (columns not counted)
    assert s.rows_written == int((more.v >= 0).sum())
    s = pool.update(threads=1, lock_timeout=5)   # the whole pool
    assert s == strata.UpdateStats(fresh=2)
    with pytest.raises(strata.InvalidArgument, match="threads must be 0"):
        pool.update(threads=-1)
    # a memory budget: spilled sorted runs, the same result
    pool.derive("t/big", "t/base", sort="f")
    with pytest.raises(strata.InvalidArgument, match="below the minimum of 1 MiB"):
        pool.update(mem=1000)
    s = pool.update(mem="1M")
    np.testing.assert_array_equal(col(pool, "t/big.index"),
                                  np.argsort(pd.concat([df, more]).f.to_numpy(), kind="stable"))


def test_progress_events_cancel_and_errors(pool, pool_path, cli, tmp_path):
    df = make_frame(np.random.default_rng(2), 4 * BATCH)
    ingest(cli, pool_path, tmp_path, df)
    pool.derive("t/f", "t/base", filter="v > 0")
    events = []
    pool.update(progress=events.append)
    assert events and all(e["dataset"] == "t/f" and e["object"] == "index" for e in events)
    assert set(events[0]) == {"dataset", "object", "mode", "done", "total", "rows", "seconds"}
    assert events[-1]["done"] == events[-1]["total"] == 4
    assert events[-1]["rows"] == len(df)
    # an exception in the callback stops the update and propagates; nothing is published
    pool.derive("t/g", "t/base", sort="v")

    def boom(ev):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        pool.update("t/g", progress=boom)
    assert len(col(pool, "t/g.index")) == 0
    # returning False cancels
    with pytest.raises(strata.Conflict, match="update cancelled"):
        pool.update("t/g", progress=lambda ev: False)
    # a callback may not call back into the pool
    with pytest.raises(strata.InvalidArgument, match="may not call back into the pool"):
        pool.update("t/g", progress=lambda ev: pool.regions())
    with pytest.raises(strata.InvalidArgument, match="progress must be a callable"):
        pool.update(progress=3)
    pool.update("t/g")
    assert len(col(pool, "t/g.index")) == len(df)


def test_update_releases_the_gil(pool, pool_path, cli, tmp_path):
    n = 3_000_000
    rng = np.random.default_rng(3)
    np.save(tmp_path / "x.npy", rng.integers(0, 1 << 40, n))
    cli(pool_path, "ingest", "t/big", "--format", "npy", "--column",
        f"x={tmp_path / 'x.npy'}", "--quiet")
    pool.derive("t/sorted", "t/big", sort="x")
    ticks, stop = [], threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    th = threading.Thread(target=ticker)
    th.start()
    time.sleep(0.02)
    t0 = time.perf_counter()
    pool.update()
    t1 = time.perf_counter()
    stop.set()
    th.join()
    inside = [t for t in ticks if t0 < t < t1]
    # a thread that holds the GIL for the whole update would leave no tick inside it
    assert t1 - t0 > 0.05, "the update was too fast to tell"
    assert len(inside) >= 10, (len(inside), t1 - t0)
    assert len(col(pool, "t/sorted.index")) == n


def test_lineage_graph_auto_and_fresh(pool, pool_path, cli, tmp_path):
    df = make_frame(np.random.default_rng(4), 2 * BATCH)
    ingest(cli, pool_path, tmp_path, df)
    pool.derive("t/f", "t/base", filter="v > 0")
    pool.column("t/f.v", gather="t/base.v")
    pool.column("t/f.w", expr="v + 1")
    pool.derive("t/s", "t/f", sort="v")
    pool.column("t/base.back", scatter="t/f.w", default=0)
    g = pool.lineage()
    assert set(g["nodes"]) == {"t/base", "t/f", "t/f.v", "t/f.w", "t/s", "t/base.back"}
    assert sorted(g["edges"]) == sorted([
        ("t/base", "t/f"), ("t/base", "t/f.v"), ("t/f", "t/f.v"), ("t/f", "t/f.w"),
        ("t/f", "t/s"), ("t/f.w", "t/base.back"), ("t/base", "t/base.back")])
    base, f, fv, s = (g["nodes"][n] for n in ("t/base", "t/f", "t/f.v", "t/s"))
    assert base["kind"] == "base" and base["op"] is None
    assert f == {"kind": "dataset", "dataset": "t/f", "column": None, "op": "filter",
                 "args": "'v > 0'", "source": "t/base", "source_column": None,
                 "destroys_order": False, "auto": False, "consumed": 0, "source_batches": 2,
                 "fresh": False, "computed": False}
    # a column of a dataset never computed: never computed either, so not fresh
    assert fv["computed"] is False and fv["fresh"] is False
    assert base["computed"] is True
    assert fv["kind"] == "column" and fv["op"] == "gather" and fv["source_column"] == "v"
    assert s["destroys_order"] is True and s["source"] == "t/f"
    # oldest first: a node comes after what it reads
    order = list(g["nodes"])
    for a, b in g["edges"]:
        assert order.index(a) < order.index(b), (a, b)
    pool.auto("t/s")
    pool.update(auto=True)
    g = pool.lineage("t/s")
    assert g["nodes"]["t/s"]["auto"] and g["nodes"]["t/f"]["auto"]   # with its ancestors
    assert g["nodes"]["t/s"]["fresh"] and g["nodes"]["t/f"]["consumed"] == 2
    assert all(n["computed"] for n in g["nodes"].values())
    pool.auto("t/s", on=False)
    assert not pool.lineage("t/s")["nodes"]["t/s"]["auto"]
    with pytest.raises(strata.NotFound, match="region 'nowhere' not found"):
        pool.lineage("nowhere")


def test_drop(pool, pool_path, cli, tmp_path):
    df = make_frame(np.random.default_rng(5), BATCH)
    ingest(cli, pool_path, tmp_path, df)
    pool.derive("t/f", "t/base", filter="v > 0")
    pool.update()
    with pytest.raises(strata.Conflict, match="cannot drop 't/base': 't/f' is derived from it"):
        pool.drop("t/base")
    pool.drop("t/f")
    with pytest.raises(strata.NotFound):
        col(pool, "t/f.index")
    assert pool.lineage() == {"nodes": {}, "edges": []}
    pool.drop("t/base")
    with pytest.raises(strata.NotFound, match="not found"):
        pool.drop("t/base")


def test_definition_errors(pool, pool_path, cli, tmp_path):
    df = make_frame(np.random.default_rng(6), BATCH)
    ingest(cli, pool_path, tmp_path, df)
    cases = [
        (dict(), strata.InvalidArgument, "exactly one of filter=, sort="),
        (dict(sort="v", topk="v"), strata.InvalidArgument, r"\(got sort, topk\)"),
        (dict(sort="v", agg="count"), strata.InvalidArgument, "agg= goes with groupby="),
        (dict(topk="v"), strata.InvalidArgument, "topk needs k="),
        (dict(topk="v", k=0), strata.InvalidArgument, "k must be an integer >= 1"),
        (dict(sort=3), strata.InvalidArgument, "sort takes column names"),
        (dict(groupby="k"), strata.InvalidArgument, "groupby needs agg="),
        (dict(filter="nope > 1"), strata.InvalidArgument, "unknown column 'nope' at 1:1"),
        (dict(filter="v + 1"), strata.TypeMismatch, "a filter needs a bool expression"),
        (dict(groupby="f", agg="quantile:v:2"), strata.InvalidArgument,
         r"quantile '2' in 'quantile:v:2' is not a number in \[0, 1\]"),
        (dict(groupby="k", agg="avg:v"), strata.InvalidArgument, "unknown aggregate 'avg'"),
        (dict(sort="nope"), strata.NotFound, "nope"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            pool.derive("t/bad", "t/base", **kw)
    with pytest.raises(strata.NotFound, match="its parent 't/nope' does not exist"):
        pool.derive("t/x", "t/nope", sort="v")
    with pytest.raises(strata.BadName, match="is not REGION/NAME"):
        pool.derive("nope", "t/base", sort="v")
    pool.derive("t/s", "t/base", sort="v")
    with pytest.raises(strata.Exists, match="dataset 't/s' already exists"):
        pool.derive("t/s", "t/base", sort="v")
    pool.derive("t/f", "t/base", filter="v > 0")
    with pytest.raises(strata.InvalidArgument, match="it is not derived from that dataset"):
        pool.column("t/f.y", gather="t/s.v")
    with pytest.raises(strata.InvalidArgument, match="unexpected end of expression at 1:9"):
        pool.column("t/f.y", expr="index + ")
    with pytest.raises(strata.InvalidArgument, match="scatter needs default="):
        pool.column("t/base.y", scatter="t/f.v")
    with pytest.raises(strata.InvalidArgument, match="exactly one of gather=, expr=, scatter="):
        pool.column("t/f.y")
    pool.column("t/f.v", gather="t/base.v")
    with pytest.raises(strata.Exists, match="already has a column 'v'"):
        pool.column("t/f.v", expr="index")
    pool.update("t/f")
    pool.column("t/base.z", expr="v + 1")
    with pytest.raises(strata.Stale, match="column 'z' of 't/base' is derived and not yet"):
        col(pool, "t/base.z")
    with pytest.raises(strata.NotFound, match="dataset 't/nope' not found"):
        pool.update("t/nope")
    with pytest.raises(strata.NotFound, match="dataset 't/nope' not found"):
        pool.auto("t/nope")
    with pytest.raises(strata.InvalidArgument, match="mem takes bytes"):
        pool.update(mem="lots")


def test_agg_forms_are_equivalent(pool, pool_path, cli, tmp_path):
    df = make_frame(np.random.default_rng(8), 2 * BATCH)
    ingest(cli, pool_path, tmp_path, df)
    pool.derive("t/a", "t/base", groupby=["k"], agg="count,sum:v,min:f,quantile:f:0.9,median:v")
    pool.derive("t/b", "t/base", groupby="k",
                agg=["count", ("sum", "v"), "min:f", ("quantile:0.9", "f"), ("median", "v")])
    pool.derive("t/c", "t/base", groupby=("k",),
                agg={"count": None, "v": "sum", "f": ["min", "quantile:0.9"]})
    pool.derive("t/d", "t/base", groupby="f", agg={"v": ["median", "std"]})  # a float key
    pool.update()
    for c in ("index", "k", "count", "sum_v", "min_f", "q0_9_f"):
        a = col(pool, f"t/a.{c}")
        assert col(pool, f"t/b.{c}").tobytes() == a.tobytes()
        assert col(pool, f"t/c.{c}").tobytes() == a.tobytes()
    np.testing.assert_array_equal(col(pool, "t/a.sum_v"), df.groupby("k").v.sum().to_numpy())
    np.testing.assert_array_equal(col(pool, "t/a.q0_9_f"),
                                  df.groupby("k").f.quantile(0.9).to_numpy())
    np.testing.assert_array_equal(col(pool, "t/b.median_v"), df.groupby("k").v.median().to_numpy())
    g = df.groupby("f", sort=True)
    np.testing.assert_array_equal(col(pool, "t/d.f"), g.size().index.to_numpy())
    np.testing.assert_array_equal(col(pool, "t/d.median_v"), g.v.median().to_numpy())
    np.testing.assert_allclose(col(pool, "t/d.std_v"), g.v.std().to_numpy(), rtol=1e-12)
