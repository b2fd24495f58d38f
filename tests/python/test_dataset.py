"""strata.Dataset and strata.Writer: creating, listing and dropping datasets, writing batches
(all dtypes, strings, DataFrames), publish-or-nothing, the writer lock, errors, and the CLI's view
of what Python wrote; pool.check() and pool.gc()."""
import glob
import json
import os

import numpy as np
import pandas as pd
import pytest

import strata

ALL = [("a", "i8"), ("b", "u64"), ("c", "f32"), ("d", "bool"), ("e", "str"), ("f", "f64"),
       ("g", "i16"), ("h", "u8"), ("i", "i32"), ("j", "u16"), ("k", "u32"), ("l", "i64")]


def cat_json(cli, pool_path, name, *extra):
    out = cli(pool_path, "--json", "cat", name, *extra)
    return json.loads(out)  # one document: an array of row objects


def all_types_batch(rng, n):
    return {
        "a": rng.integers(-128, 128, n).astype("i1"),
        "b": rng.integers(0, 2**63, n, dtype="u8") * 2 + 1,
        "c": rng.standard_normal(n).astype("f4"),
        "d": rng.integers(0, 2, n).astype(bool),
        "e": [f"s{i},\"q\"\n\u00fc{'x' * (i % 5)}" for i in range(n)],
        "f": rng.standard_normal(n) * 1e6,
        "g": rng.integers(-2**15, 2**15, n).astype("i2"),
        "h": rng.integers(0, 256, n).astype("u1"),
        "i": rng.integers(-2**31, 2**31, n).astype("i4"),
        "j": rng.integers(0, 2**16, n).astype("u2"),
        "k": rng.integers(0, 2**32, n).astype("u4"),
        "l": rng.integers(-2**62, 2**62, n),
    }


def test_create_open_list_drop(pool):
    with pytest.raises(strata.NotFound) as e:
        pool.dataset("taxi/trips")
    assert str(e.value) == "region 'taxi' not found"
    ds = pool.create_dataset("taxi/trips", {"fare": "f64", "zone": str, "n": np.int32})
    assert ds.name == "taxi/trips" and ds.version == 0 and ds.num_rows == 0 and len(ds) == 0
    assert ds.num_batches == 0
    assert ds.schema == {"fare": np.dtype("f8"), "zone": np.dtype("O"), "n": np.dtype("i4")}
    assert ds.schema_names == {"fare": "f64", "zone": "str", "n": "i32"}
    assert ds.columns == ["fare", "zone", "n"]
    assert repr(ds) == "<strata.Dataset 'taxi/trips' v0, 0 rows in 0 batches (fare:f64, zone:str, n:i32)>"
    pool.create_dataset("taxi/zones", [("id", "u16"), ("label", "str")])
    pool.create_dataset("other/x", "a:i64, b:bool")
    assert pool.datasets() == ["other/x", "taxi/trips", "taxi/zones"]
    assert pool.datasets("taxi") == ["taxi/trips", "taxi/zones"]
    assert pool.dataset("other/x").schema_names == {"a": "i64", "b": "bool"}
    with pytest.raises(strata.Exists) as e:
        pool.create_dataset("taxi/trips", {"a": "i64"})
    assert str(e.value) == "dataset 'taxi/trips' already exists"
    pool.drop_dataset("taxi/zones")
    assert pool.datasets("taxi") == ["taxi/trips"]
    with pytest.raises(strata.NotFound) as e:
        pool.dataset("taxi/zones")
    assert str(e.value) == "dataset 'taxi/zones' not found"
    with pytest.raises(strata.NotFound) as e:
        pool.drop_dataset("taxi/zones")
    assert str(e.value) == "dataset 'taxi/zones' not found"
    with pool.dataset("other/x") as x:
        assert not x.closed and len(x) == 0
    assert x.closed and repr(x) == "<strata.Dataset 'other/x' (closed)>"
    info = ds.info()
    assert info["region"] == "taxi" and info["name"] == "trips" and info["version"] == 0
    assert info["schema"] == {"fare": "f64", "zone": "str", "n": "i32"}
    ds.drop()
    assert ds.closed and repr(ds) == "<strata.Dataset 'taxi/trips' (closed)>"
    assert pool.datasets() == ["other/x"]
    with pytest.raises(strata.InvalidArgument) as e:
        ds.version
    assert str(e.value) == "the dataset is closed"


def test_schema_errors(pool):
    with pytest.raises(strata.BadName) as e:
        pool.create_dataset("trips", {"a": "i64"})
    assert str(e.value) == "dataset 'trips' is not REGION/NAME (for example 'taxi/trips')"
    with pytest.raises(strata.InvalidArgument) as e:
        pool.create_dataset("t/x", {})
    assert str(e.value) == "a dataset needs at least one column"
    with pytest.raises(strata.InvalidArgument) as e:
        pool.create_dataset("t/x", {"a": "int128"})
    assert "'int128' is not a data type" in str(e.value)
    with pytest.raises(strata.TypeMismatch) as e:
        pool.create_dataset("t/x", {"a": np.complex128})
    assert "numpy dtype 'complex128' has no Strata type" in str(e.value)
    with pytest.raises(strata.InvalidArgument) as e:
        pool.create_dataset("t/x", "a:i64,b")
    assert str(e.value) == "schema: 'b' is not name:dtype (for example fare:f64)"
    with pytest.raises(strata.InvalidArgument) as e:
        pool.create_dataset("t/x", [("a", "i64", 3)])
    assert str(e.value) == "schema: ('a', 'i64', 3) is not a (column, dtype) pair"
    with pytest.raises(strata.BadName) as e:
        pool.create_dataset("t/x", {"a/b": "i64"})
    assert "a/b" in str(e.value)
    assert pool.datasets() == []


def test_every_dtype_written_from_python_equals_the_cli(pool, pool_path, cli):
    rng = np.random.default_rng(1)
    ds = pool.create_dataset("t/all", ALL)
    batches = [all_types_batch(rng, n) for n in (50, 0, 33)]
    with ds.writer() as w:
        for b in batches:
            assert w.append(**b) == len(b["a"])
        assert w.pending == {"batches": 3, "rows": 83}
    assert ds.version == 1 and ds.num_rows == 83 and ds.num_batches == 3
    rows = cat_json(cli, pool_path, "t/all")
    assert len(rows) == 83
    ref = {c: np.concatenate([np.asarray(b[c]) for b in batches]) for c, _ in ALL}
    for name, dt in ALL:
        got = [r[name] for r in rows]
        if dt == "str":
            assert got == list(ref[name])
        elif dt == "f32":
            np.testing.assert_array_equal(np.array(got, dtype="f4"), ref[name])
        elif dt == "bool":
            assert got == [bool(x) for x in ref[name]]
        else:
            assert got == [x.item() for x in ref[name]], name
    show = json.loads(cli(pool_path, "--json", "show", "t/all"))
    assert show["version"] == 1 and show["rows"] == 83
    assert [b["rows"] for b in show["batches"]] == [50, 0, 33]
    assert [c["dtype"] for c in show["columns"]] == [dt for _, dt in ALL]
    assert show["batches"][0]["stats"]["l"] == [int(batches[0]["l"].min()),
                                                int(batches[0]["l"].max())]
    with ds.snapshot() as snap:
        for name, dt in ALL:
            if dt == "str":
                assert list(snap[name]) == list(ref[name])
            else:
                np.testing.assert_array_equal(snap[name], ref[name])
                assert snap[name].dtype == ref[name].dtype


def test_cli_ingest_read_from_python(pool_path, cli, tmp_path):
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, -1.25, 3e300], "z": ["a", "b c", ""]})
    path = tmp_path / "in.csv"
    df.to_csv(path, index=False)
    cli(pool_path, "init", pool_path)
    cli(pool_path, "ingest", "r/d", str(path), "--quiet")
    with strata.Pool(pool_path) as pool:
        ds = pool.dataset("r/d")
        assert ds.schema_names == {"x": "i64", "y": "f64", "z": "str"} and ds.version == 1
        # pandas writes "" as an empty field, which (as for pandas) reads back as a null
        pd.testing.assert_frame_equal(ds.to_pandas(), df.assign(z=["a", "b c", None]))


def test_log_equals_cli_log(pool, pool_path, cli):
    ds = pool.create_dataset("t/log", {"v": "i64"})
    for k in (3, 0, 5):
        with ds.writer() as w:
            for _ in range(k):
                w.append(v=np.arange(k))
    log = ds.log()
    assert [(e["version"], e["batches_added"], e["rows_added"], e["total_rows"], e["expired"])
            for e in log] == [(1, 3, 9, 9, False), (2, 5, 25, 34, False)]  # nothing: no version
    cli_log = json.loads(cli(pool_path, "--json", "log", "t/log"))["versions"]
    assert [(e["version"], e["batches_added"], e["rows_added"], e["total_rows"])
            for e in cli_log] == [(e["version"], e["batches_added"], e["rows_added"],
                                   e["total_rows"]) for e in log]
    assert all(e["created_ns"] > 1_500_000_000 * 10**9 for e in log)


def test_nothing_published_when_the_block_raises(pool, pool_path, cli):
    ds = pool.create_dataset("t/x", {"v": "i64", "s": str})
    with ds.writer() as w:
        w.append(v=[1, 2], s=["a", "b"])
    with pytest.raises(RuntimeError, match="boom"):
        with ds.writer() as w:
            w.append(v=np.arange(1000), s=["z"] * 1000)
            w.append(v=[7], s=["q"])
            raise RuntimeError("boom")
    assert w.closed
    assert ds.version == 1 and ds.num_rows == 2 and ds.num_batches == 1
    assert "v1\t2 rows\t1 batches" in cli(pool_path, "ls")
    with pytest.raises(strata.InvalidArgument) as e:
        w.append(v=[1], s=["a"])
    assert str(e.value).startswith("the writer is closed")
    # the discarded batches left no files behind: check finds nothing, not even orphans
    assert pool.check() == []
    # a writer collected without publish discards too
    w = ds.writer()
    w.append(v=[5], s=["x"])
    del w
    assert ds.version == 1 and ds.num_rows == 2


def test_publish_returns_versions_and_the_writer_goes_on(pool):
    ds = pool.create_dataset("t/p", {"v": "f64"})
    w = ds.writer()
    assert w.version is None and w.publish() is None
    w.append(v=[1.0])
    assert ds.version == 0          # not visible before publish
    assert w.publish() == 1 and ds.version == 1
    w.append(v=[2.0, 3.0])
    w.append(v=[])
    assert w.pending == {"batches": 2, "rows": 2}
    assert repr(w) == "<strata.Writer 't/p' 2 batches, 2 rows pending; published v1>"
    assert w.publish() == 2 and w.pending == {"batches": 0, "rows": 0}
    w.close()
    assert repr(w) == "<strata.Writer 't/p' 0 batches, 0 rows pending; published v2 (closed)>"
    with ds.snapshot() as s:
        np.testing.assert_array_equal(s["v"], [1.0, 2.0, 3.0])
        assert s.num_batches == 3
    # pool.writer works like ds.writer
    with pool.writer("t/p") as w2:
        w2.append({"v": np.array([9.0])})
    assert ds.version == 3 and ds.num_rows == 4


def test_append_errors(pool):
    ds = pool.create_dataset("t/e", {"n": "i32", "s": "str"})
    w = ds.writer()
    with pytest.raises(strata.InvalidArgument) as e:
        w.append(n=[1])
    assert str(e.value) == "append to 't/e' needs every column: 's' is missing (the columns: n, s)"
    with pytest.raises(strata.NotFound) as e:
        w.append(n=[1], s=["a"], extra=[2])
    assert str(e.value) == "dataset 't/e' has no column 'extra' (its columns: n, s)"
    with pytest.raises(strata.InvalidArgument) as e:
        w.append(n=[1, 2], s=["a"])
    assert str(e.value) == ("append to 't/e': every column needs the same number of rows, but "
                            "'n' has 2 and 's' has 1")
    with pytest.raises(strata.TypeMismatch) as e:
        w.append(n=[1.5], s=["a"])
    assert str(e.value) == ("column 'n' of 't/e': values of type float64 do not fit i32 exactly "
                            "(convert them first, e.g. with .astype())")
    with pytest.raises(strata.TypeMismatch) as e:
        w.append(n=[2**40], s=["a"])
    assert "do not fit i32 exactly" in str(e.value)
    with pytest.raises(strata.TypeMismatch) as e:
        w.append(n=[1, 2], s=["a", None])
    assert str(e.value) == ("column 's' of 't/e' holds strings, but value 1 is NoneType (None): "
                            "convert it first (str columns have no null; use '' for a missing "
                            "value)")
    with pytest.raises(strata.TypeMismatch) as e:
        w.append(n=[1], s="a")
    assert str(e.value) == ("column 's' of 't/e': give a sequence of str (a list or an array), "
                            "not one str")
    with pytest.raises(strata.TypeMismatch) as e:
        w.append(n=["x"], s=["a"])
    assert "column 'n' of 't/e': values of type <U1 do not fit i32 exactly" in str(e.value)
    with pytest.raises(strata.InvalidArgument) as e:
        w.append(n=np.zeros((2, 2), "i4"), s=["a", "b"])
    assert str(e.value) == "column 'n' of 't/e': values must be 1-D (got 2 dimensions)"
    with pytest.raises(strata.InvalidArgument) as e:
        w.append({"n": [1]}, n=[2], s=["a"])
    assert str(e.value) == "append to 't/e': column 'n' is given twice"
    with pytest.raises(strata.InvalidArgument) as e:
        w.append(42)
    assert str(e.value) == ("append to 't/e': give a DataFrame, a dict {column: values} or "
                            "keyword arguments, not int")
    # none of that wrote anything; exact conversions do
    assert w.pending == {"batches": 0, "rows": 0}
    w.append(n=np.array([1, 2], "i8"), s=np.array(["a", "bc"]))
    w.append(n=[True, False], s=np.array(["x", "y"], dtype=object))
    w.append(n=pd.array([5, 6], dtype="Int64"), s=pd.Series(["p", "q"]))
    assert w.publish() == 1
    with ds.snapshot() as snap:
        np.testing.assert_array_equal(snap["n"], np.array([1, 2, 1, 0, 5, 6], "i4"))
        assert list(snap["s"]) == ["a", "bc", "x", "y", "p", "q"]


def test_one_writer_at_a_time(pool):
    ds = pool.create_dataset("t/l", {"v": "i64"})
    w1 = ds.writer()
    w1.append(v=[1])
    w2 = ds.writer(lock_timeout=0)
    with pytest.raises(strata.Locked) as e:
        w2.append(v=[2])
    assert str(e.value) == "dataset 't/l' has another writer (waited 0 ms); try again later"
    assert w1.publish() == 1
    w2.append(v=[2])          # the lock is free after the publish
    assert w2.publish() == 2
    with pytest.raises(strata.InvalidArgument) as e:
        ds.writer(lock_timeout="soon")
    assert str(e.value) == "lock_timeout must be a number of seconds or None"


def test_append_dataframe_and_structured_array(pool):
    df = pd.DataFrame({"fare": [7.5, 12.25, 3.0], "zone": ["a", "b", "c"],
                       "n": np.array([1, 2, 3], "i4")})
    ds = pool.create_dataset("t/df", {"fare": "f64", "zone": str, "n": "i32"})
    rec = np.array([(1.0, 9)], dtype=[("fare", "f8"), ("n", "i4")])
    with ds.writer() as w:
        w.append(df)
        w.append(df[["n", "zone", "fare"]].iloc[::-1])      # order of columns is free
    with ds.snapshot() as snap:
        pd.testing.assert_frame_equal(snap.to_pandas(),
                                      pd.concat([df, df.iloc[::-1]], ignore_index=True))
    with pytest.raises(strata.InvalidArgument) as e:
        with ds.writer() as w:
            w.append(rec)
    assert "'zone' is missing" in str(e.value)
    assert ds.version == 1


def test_html_and_repr_escape(pool):
    ds = pool.create_dataset("t/h", {"s": str, "v": "i64"})
    with ds.writer() as w:
        w.append(s=["<b>&amp;", "x"] * 10, v=np.arange(20))
    h = ds._repr_html_()
    assert "&lt;b&gt;&amp;amp;" in h and "<b>" not in h
    assert h.count("<tr>") == 12            # header, 10 rows, the ellipsis row
    assert "version 1, 20 rows in 1 batches" in h
    with ds.snapshot() as snap:
        assert snap._repr_html_().count("<td>") == 22


def test_check_and_gc(pool, pool_path, cli):
    ds = pool.create_dataset("t/g", {"v": "i64"})
    for k in range(4):
        with ds.writer() as w:
            w.append(v=np.arange(10) + k)
    assert pool.check() == [] and pool.check("t") == [] and pool.check("t/g") == []
    # an orphan file: reported as such, removed by gc once older than the grace
    ddir = os.path.dirname(glob.glob(os.path.join(pool_path, "data", "**", "*.npy"),
                                     recursive=True)[0])
    orphan = os.path.join(ddir, "99.stray.npy")
    with open(orphan, "wb") as f:
        f.write(b"junk")
    probs = pool.check("t/g")
    assert [(p["path"], p["orphan"]) for p in probs] == [(orphan, True)]
    assert pool.gc()["orphans_removed"] == 0            # younger than the default grace
    dry = pool.gc(grace=0, dry_run=True)
    assert dry["orphans_removed"] == 1 and dry["dry_run"] and os.path.exists(orphan)
    assert pool.gc(grace=0)["orphans_removed"] == 1 and not os.path.exists(orphan)
    # expire all but the newest 2 versions
    st = pool.gc(keep_versions=2)
    assert st["versions_expired"] == 2
    assert [e["expired"] for e in ds.log()] == [True, True, False, False]
    with pytest.raises(strata.NotFound) as e:
        pool.snapshot("t/g", as_of=1)
    assert "version 1" in str(e.value)
    with pool.snapshot("t/g", as_of=3) as s:
        np.testing.assert_array_equal(s["v"], np.concatenate([np.arange(10) + k
                                                              for k in range(3)]))
    # damage: a truncated batch file is reported, not an orphan
    victim = sorted(glob.glob(os.path.join(ddir, "*.npy")))[0]
    with open(victim, "r+b") as f:
        f.truncate(10)
    probs = pool.check()
    assert len(probs) == 1 and probs[0]["path"] == victim and not probs[0]["orphan"]
    assert probs[0]["what"].startswith("t/g batch") and probs[0]["problem"]
    r = cli(pool_path, "check", check=False)
    assert r.returncode == 5
    # a dropped dataset is held while a snapshot reads it, then removed
    held = pool.create_dataset("t/held", {"v": "i64"})
    with held.writer() as w:
        w.append(v=[1, 2, 3])
    snap = held.snapshot()
    held.drop()
    st = pool.gc(grace=0)
    assert st["datasets_held"] == 1 and st["datasets_removed"] == 0
    np.testing.assert_array_equal(snap["v"], [1, 2, 3])
    snap.close()
    st = pool.gc(grace=0)
    assert st["datasets_removed"] == 1 and st["bytes_freed"] > 0
    with pytest.raises(strata.InvalidArgument) as e:
        pool.gc(grace=-1)
    assert str(e.value) == "grace must not be negative (0: no grace)"
    with pytest.raises(strata.InvalidArgument) as e:
        pool.gc(keep_versions=-1)
    assert str(e.value) == "keep_versions must not be negative (0: keep all)"


def test_children_outlive_pool_close(pool_path):
    p = strata.Pool(pool_path, create=True)
    ds = p.create_dataset("t/c", {"v": "i64"})
    w = ds.writer()
    p.close()
    with pytest.raises(strata.InvalidArgument) as e:
        p.dataset("t/c")
    assert str(e.value) == "the pool is closed"
    w.append(v=[4, 5])
    assert w.publish() == 1 and ds.version == 1
    snap = ds.snapshot()
    w.close()
    ds.close()
    view = snap["v"]
    snap.close()
    np.testing.assert_array_equal(view, [4, 5])   # the view keeps the mapping (and pool) alive
    del view
    assert snap.closed


def test_help_is_useful():
    for obj, words in [(strata.Pool.create_dataset, "schema"), (strata.Pool.ingest, "progress"),
                       (strata.Dataset.writer, "published"), (strata.Writer.append, "TypeMismatch"),
                       (strata.Snapshot.batches, "zero-copy"), (strata.Pool.gc, "grace"),
                       (strata.Pool.check, "orphan"), (strata.Snapshot.stats, "hist")]:
        assert words in obj.__doc__, obj
