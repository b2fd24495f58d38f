"""strata.Snapshot: zero-copy views of batches, concatenated columns, row ranges, strings,
versions (as_of) and isolation from concurrent publishes by another process, statistics, derived
columns not yet computed (Stale), pandas/numpy conversion, lifetimes."""
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import strata


def make(pool, name, batches, schema=None):
    """A dataset whose batches are BATCHES (dicts of columns), published as one version."""
    ds = pool.create_dataset(name, schema or {c: (str if isinstance(v, list) else v.dtype)
                                              for c, v in batches[0].items()})
    with ds.writer() as w:
        for b in batches:
            w.append(b)
    return ds


def test_one_batch_is_zero_copy(pool):
    ref = np.random.default_rng(3).standard_normal(100_000)
    ds = make(pool, "t/z", [{"fare": ref}])
    with ds.snapshot() as snap:
        a, b = snap["fare"], snap["fare"]
        np.testing.assert_array_equal(a, ref)
        assert np.shares_memory(a, b)
        assert a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError):
            a[0] = 1.0
        # a row range inside the batch is a view into the same mapping
        part = snap.read("fare", 10, 20)
        assert np.shares_memory(part, a)
        assert part.__array_interface__["data"][0] == a.__array_interface__["data"][0] + 80
        np.testing.assert_array_equal(part, ref[10:20])
        # ... unless asked for a copy
        cp = snap.read("fare", 10, 20, copy=True)
        assert not np.shares_memory(cp, a) and cp.flags.writeable
        # batch views are the same memory
        (bv,) = [b["fare"] for b in snap.batches()]
        assert np.shares_memory(bv, a)
    # the views outlive the with-block
    assert snap.closed
    np.testing.assert_array_equal(a, ref)
    with pytest.raises(strata.InvalidArgument) as e:
        snap["fare"]
    assert str(e.value) == "the snapshot is closed"


def test_many_batches_concatenate_once(pool):
    rng = np.random.default_rng(5)
    parts = [rng.integers(-1000, 1000, n).astype("i4") for n in (5, 0, 70_000, 1, 33)]
    ds = make(pool, "t/m", [{"v": p, "w": p.astype("f8") / 3} for p in parts])
    ref = np.concatenate(parts)
    with ds.snapshot() as snap:
        assert len(snap) == ref.size and snap.num_batches == 5
        v = snap["v"]
        assert v.dtype == np.int32 and v.flags.owndata and v.flags.writeable
        np.testing.assert_array_equal(v, ref)
        np.testing.assert_array_equal(snap["w"], ref.astype("f8") / 3)
        assert not np.shares_memory(v, snap["v"])
        for i, b in enumerate(snap.batches(["v"])):
            assert list(b) == ["v"]
            np.testing.assert_array_equal(b["v"], parts[i])
        # two views of the same batch share memory
        assert np.shares_memory(snap.batch(2)["v"], snap.batch(-3)["v"])
        starts = np.cumsum([0] + [p.size for p in parts])
        for i, p in enumerate(parts):
            info = snap.batch_info(i)
            assert info == {"seq": i, "first_row": int(starts[i]), "start": int(starts[i]),
                            "rows": p.size, "version": 1}
            st = snap.batch_stats(i, "v")
            assert st["bytes"] == p.nbytes
            if p.size:
                assert (st["min"], st["max"]) == (int(p.min()), int(p.max()))
            else:
                assert st["min"] is None and st["max"] is None
        # row ranges across batches equal numpy slicing
        for a, b in [(0, None), (3, 8), (4, 70_010), (-40, None), (-40, -2), (7, 7)]:
            np.testing.assert_array_equal(snap.read("v", a, b), ref[a:b])
        with pytest.raises(strata.OutOfRange) as e:
            snap.read("v", 0, ref.size + 1)
        assert str(e.value) == (f"rows [0, {ref.size + 1}) are out of range for a snapshot of "
                                f"{ref.size} rows")
        with pytest.raises(strata.OutOfRange) as e:
            snap.batch(5)
        assert str(e.value) == "batch 5 is out of range: the snapshot has 5 batches"


def test_string_columns(pool):
    parts = [["", "a,b", "\u00fc\u00df \"q\"", "line\nbreak"], [], ["x" * 1000]]
    ds = make(pool, "t/s", [{"s": p, "n": np.arange(len(p))} for p in parts],
              schema={"s": str, "n": "i64"})
    ref = sum(parts, [])
    with ds.snapshot() as snap:
        s = snap["s"]
        assert s.dtype == object and list(s) == ref
        assert all(type(x) is str for x in s)
        assert list(snap.read("s", 2, 5)) == ref[2:5]
        assert [list(b["s"]) for b in snap.batches()] == parts
        assert snap.to_numpy().keys() == {"s", "n"}         # str columns: a dict
        with pytest.raises(strata.TypeMismatch) as e:
            snap.stats("s")
        assert str(e.value) == ("column 's' of 't/s' holds strings: stats() summarises numeric "
                                "and bool columns")


def test_unknown_column_lists_the_columns(pool):
    ds = make(pool, "t/u", [{"fare": np.zeros(3), "zone": ["a", "b", "c"]}])
    with ds.snapshot() as snap:
        with pytest.raises(strata.NotFound) as e:
            snap["far"]
        assert str(e.value) == "dataset 't/u' has no column 'far' (its columns: fare, zone)"
        assert isinstance(e.value, KeyError)
        with pytest.raises(strata.InvalidArgument) as e:
            snap[0]
        assert str(e.value) == "a column is named by a str, not 0"
        assert list(snap) == ["fare", "zone"] and "zone" in snap and "x" not in snap
        assert repr(snap) == "<strata.Snapshot 't/u' v1, 3 rows in 1 batch (fare:f64, zone:str)>"


def test_versions_and_isolation(pool):
    ds = pool.create_dataset("t/v", {"v": "i64"})
    for k in range(1, 4):
        with ds.writer() as w:
            w.append(v=np.full(k, k))
    old = ds.snapshot(as_of=1)
    latest = pool.snapshot("t/v")
    assert (old.version, len(old), latest.version, len(latest)) == (1, 1, 3, 6)
    view = latest["v"]
    with ds.writer() as w:
        w.append(v=np.arange(100))
    assert ds.version == 4 and ds.num_rows == 106
    assert latest.version == 3 and len(latest) == 6 and latest.num_batches == 3
    np.testing.assert_array_equal(latest["v"], [1, 2, 2, 3, 3, 3])
    np.testing.assert_array_equal(view, [1, 2, 2, 3, 3, 3])
    np.testing.assert_array_equal(old["v"], [1])
    with ds.snapshot() as new:
        assert new.version == 4 and len(new) == 106
    with pytest.raises(strata.NotFound) as e:
        ds.snapshot(as_of=9)
    assert str(e.value) == "dataset 't/v' has no version 9 (its latest is 4)"
    with pytest.raises(strata.InvalidArgument) as e:
        ds.snapshot(as_of=0)
    assert str(e.value) == "as_of is a version number (1 or more); None means the latest version"
    with pytest.raises(strata.NotFound) as e:
        pool.snapshot("t/nope")
    assert str(e.value) == "dataset 't/nope' not found"
    old.close()
    latest.close()


PUBLISHER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import strata
    path, n = sys.argv[1], int(sys.argv[2])
    with strata.Pool(path) as pool:
        ds = pool.dataset("t/live")
        for i in range(1, n + 1):
            with ds.writer(lock_timeout=-1) as w:
                w.append(v=np.full(i % 7 + 1, i, dtype="i8"), s=[str(i)] * (i % 7 + 1))
        print("done", flush=True)
""")


def expected(nbatches):
    return np.concatenate([np.full(i % 7 + 1, i) for i in range(1, nbatches + 1)] or
                          [np.zeros(0, "i8")])


def test_snapshots_stay_consistent_during_concurrent_publishes(pool, pool_path):
    pool.create_dataset("t/live", {"v": "i64", "s": str})
    n = 300
    proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, pool_path, str(n)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = set()
    try:
        while proc.poll() is None or not seen or max(seen) < n:
            with pool.snapshot("t/live") as snap:
                version, rows = snap.version, len(snap)
                assert snap.num_batches == version          # one batch per publish
                v1 = snap["v"]
                time.sleep(0.002)                             # the publisher goes on meanwhile
                v2 = snap["v"]
                s = snap["s"]
                assert snap.version == version and len(snap) == rows
                np.testing.assert_array_equal(v1, expected(version))
                np.testing.assert_array_equal(v2, v1)
                assert list(s) == [str(x) for x in v1]
                assert sum(snap.batch_info(i)["rows"] for i in range(snap.num_batches)) == rows
                seen.add(version)
            if proc.poll() is not None and max(seen) == n:
                break
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == "done"
    assert len(seen) > 3, seen          # snapshots saw the dataset at several versions
    with pool.snapshot("t/live") as snap:
        assert snap.version == n
        np.testing.assert_array_equal(snap["v"], expected(n))


def test_stats_equal_numpy(pool):
    rng = np.random.default_rng(11)
    parts = [rng.standard_normal(n) * 10 for n in (1000, 3, 5000)]
    parts[1][1] = np.nan
    ints = [rng.integers(-50, 50, p.size).astype("i2") for p in parts]
    ds = make(pool, "t/st", [{"x": p, "k": k} for p, k in zip(parts, ints)])
    x = np.concatenate(parts)
    k = np.concatenate(ints)
    with ds.snapshot() as snap:
        st = snap.stats("x")
        fin = x[~np.isnan(x)]
        assert st["count"] == fin.size and st["nan"] == 1
        assert st["min"] == fin.min() and st["max"] == fin.max()
        assert st["mean"] == pytest.approx(fin.mean(), rel=1e-12)
        assert st["std"] == pytest.approx(fin.std(), rel=1e-12)
        assert st["hist"].dtype == np.uint64 and st["hist"].sum() == fin.size
        assert st["version"] == 1 and not st["cached"] and st["seconds"] >= 0
        sk = snap.stats("k")
        assert (sk["count"], sk["min"], sk["max"]) == (k.size, k.min(), k.max())
        assert sk["mean"] == pytest.approx(k.mean(), rel=1e-12)
        hist, _ = np.histogram(k, bins=32, range=(k.min(), k.max()))
        np.testing.assert_array_equal(sk["hist"], hist)
        assert snap.stats("x")["cached"]          # the second call reads the cache
    with pool.snapshot("t/st") as again:
        assert again.stats("k")["cached"]


def test_derived_column_not_ready_is_stale(pool, pool_path, cli):
    ds = make(pool, "t/d", [{"fare": np.array([1.0, 2.0, 3.5])}])
    cli(pool_path, "column", "t/d.double", "--expr", "fare * 2")
    with ds.snapshot() as snap:
        assert snap.columns == ["fare", "double"]
        assert not snap.column_ready("double") and snap.column_ready("fare")
        with pytest.raises(strata.Stale) as e:
            snap["double"]
        assert str(e.value) == ("column 'double' of 't/d' is derived and not yet computed for "
                                "every batch of version 1: run pool.update('t/d') first")
        with pytest.raises(strata.Stale):
            snap.stats("double")
        assert "(not computed)" in snap._repr_html_()
        np.testing.assert_array_equal(snap["fare"], [1.0, 2.0, 3.5])
    cli(pool_path, "update", "t/d")
    with ds.snapshot() as snap:
        np.testing.assert_array_equal(snap["double"], [2.0, 4.0, 7.0])


def test_pandas_and_numpy(pool):
    df = pd.DataFrame({"a": np.arange(6, dtype="u2"), "b": np.linspace(0, 1, 6),
                       "c": [True, False] * 3})
    ds = make(pool, "t/p", [df.iloc[:2], df.iloc[2:]],
              schema={"a": "u16", "b": "f64", "c": "bool"})
    with ds.snapshot() as snap:
        pd.testing.assert_frame_equal(snap.to_pandas(), df)
        pd.testing.assert_frame_equal(snap.to_pandas(["c", "a"]), df[["c", "a"]])
        rec = snap.to_numpy()
        assert rec.dtype.names == ("a", "b", "c") and rec.dtype["a"] == np.uint16
        for c in df.columns:
            np.testing.assert_array_equal(rec[c], df[c].to_numpy())
        assert {k: list(v) for k, v in snap.head(3).items()} == {
            "a": [0, 1, 2], "b": list(df.b[:3]), "c": [True, False, True]}
        assert snap.schema == {"a": np.dtype("u2"), "b": np.dtype("f8"), "c": np.dtype("?")}
        assert snap.schema_names == {"a": "u16", "b": "f64", "c": "bool"}
    pd.testing.assert_frame_equal(ds.to_pandas(as_of=1), df)


def test_batch_stats_equal_cli_show(pool, pool_path, cli):
    rng = np.random.default_rng(2)
    parts = [rng.integers(-10**12, 10**12, n) for n in (10, 20)]
    ds = make(pool, "t/show", [{"v": p} for p in parts])
    show = json.loads(cli(pool_path, "--json", "show", "t/show"))
    with ds.snapshot() as snap:
        for i, b in enumerate(show["batches"]):
            st = snap.batch_stats(i, "v")
            assert [st["min"], st["max"]] == b["stats"]["v"]
            assert snap.batch_info(i)["rows"] == b["rows"]


def test_a_close_waits_for_views(pool):
    ds = make(pool, "t/c", [{"v": np.arange(10)}])
    snap = ds.snapshot()
    views = [b["v"] for b in snap.batches()]
    snap.close()
    assert snap.closed and "(closed)" in repr(snap)
    # the mapping stays valid for the views; gc does not free what a view reads
    ds.drop()
    pool.gc(grace=0)
    np.testing.assert_array_equal(views[0], np.arange(10))
    del views
    assert pool.gc(grace=0)["datasets_removed"] == 1


def test_a_signal_handler_interrupts_a_long_stats(pool):
    import signal
    import threading
    x = np.random.default_rng(0).standard_normal(20_000_000)
    pool.ingest("t/big", {"x": x}, batch_rows=1_000_000)
    del x

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop("interrupted")
    old = signal.signal(signal.SIGUSR1, handler)
    try:
        with pool.snapshot("t/big") as snap:
            go = threading.Event()  # the signal only once the call is about to begin: not in
                                    # t.start(), which a loaded machine can make slow

            def kick():
                go.wait()
                time.sleep(0.01)
                os.kill(os.getpid(), signal.SIGUSR1)
            t = threading.Thread(target=kick)
            t.start()
            with pytest.raises(Stop):             # raised from inside the computation
                go.set()
                snap.stats("x")
            t.join()
            st = snap.stats("x")
            assert not st["cached"] and st["count"] == 20_000_000   # nothing was cached
    finally:
        signal.signal(signal.SIGUSR1, old)
