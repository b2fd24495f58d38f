"""The Arrow PyCapsule interface: snap.__arrow_c_stream__() hands a consumer the C stream; here
the consumer is ctypes walking the C structs as the Arrow specification lays them out (pyarrow is
not in Debian 12), checking the schema, the zero-copy buffers and the nulls."""
import ctypes
import os

import numpy as np
import pytest

import strata


class ArrowSchema(ctypes.Structure):
    pass


ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p), ("name", ctypes.c_char_p), ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))),
    ("dictionary", ctypes.POINTER(ArrowSchema)),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowSchema))),
    ("private_data", ctypes.c_void_p)]


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
    ("dictionary", ctypes.POINTER(ArrowArray)),
    ("release", ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArray))),
    ("private_data", ctypes.c_void_p)]


class ArrowArrayStream(ctypes.Structure):
    _fields_ = [
        ("get_schema", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ArrowSchema))),
        ("get_next", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ArrowArray))),
        ("get_last_error", ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p)),
        ("release", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ("private_data", ctypes.c_void_p)]


def stream_of(capsule):
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return ctypes.cast(get(capsule, b"arrow_array_stream"), ctypes.POINTER(ArrowArrayStream))


def test_arrow_c_stream_is_the_snapshot(pool):
    ds = pool.create_dataset("t/a", {"x": "i64", "y": "f64", "z": "str"})
    with ds.writer() as w:
        w.append(x=np.arange(5), y=np.linspace(0, 1, 5), z=["a", "bb", "", "ccc", "d"])
        w.append(x=np.arange(3) + 10, y=np.ones(3), z=["x", "y", "z"])
    with pool.snapshot("t/a") as snap:
        cap = snap.__arrow_c_stream__()
        st = stream_of(cap)
        sp = ctypes.cast(st, ctypes.c_void_p)
        sc = ArrowSchema()
        assert st.contents.get_schema(sp, ctypes.byref(sc)) == 0
        assert sc.format == b"+s" and sc.n_children == 3
        kids = [sc.children[i].contents for i in range(3)]
        assert [(k.name, k.format) for k in kids] == [(b"x", b"l"), (b"y", b"g"), (b"z", b"U")]
        sc.release(ctypes.byref(sc))
        got = {"x": [], "y": [], "z": []}
        while True:
            a = ArrowArray()
            assert st.contents.get_next(sp, ctypes.byref(a)) == 0
            if not a.release:
                break
            n = a.length
            cx, cy, cz = (a.children[i].contents for i in range(3))
            got["x"] += list((ctypes.c_int64 * n).from_address(cx.buffers[1]))
            got["y"] += list((ctypes.c_double * n).from_address(cy.buffers[1]))
            off = (ctypes.c_int64 * (n + 1)).from_address(cz.buffers[1])
            data = ctypes.string_at(cz.buffers[2], off[n]) if off[n] else b""
            got["z"] += [data[off[i]:off[i + 1]].decode() for i in range(n)]
            a.release(ctypes.byref(a))
        assert got["x"] == list(snap["x"]) and got["y"] == list(snap["y"])
        assert got["z"] == list(snap["z"])
        del cap   # the capsule releases the stream


def test_nulls_travel_as_validity_bitmaps(pool, tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("a,b\n1,x\n,y\n3,\n")
    pool.ingest("t/n", path)
    with pool.snapshot("t/n") as snap:
        cap = snap.__arrow_c_stream__()   # the capsule owns the stream: keep it alive
        st = stream_of(cap)
        sp = ctypes.cast(st, ctypes.c_void_p)
        a = ArrowArray()
        assert st.contents.get_next(sp, ctypes.byref(a)) == 0
        ca, cb = a.children[0].contents, a.children[1].contents
        assert (ca.null_count, cb.null_count) == (1, 1)
        assert ctypes.c_uint8.from_address(ca.buffers[0]).value & 7 == 0b101
        assert ctypes.c_uint8.from_address(cb.buffers[0]).value & 7 == 0b011
        a.release(ctypes.byref(a))
        st.contents.release(sp)   # a consumer that moved the stream out releases it itself
        del cap                   # and the capsule then only frees the struct


def test_formats_and_arrow_producers_ingest(pool, tmp_path):
    """Parquet and Arrow IPC files by extension, and any __arrow_c_stream__ producer (here a
    snapshot: a zero-copy round trip through the capsule), land as the same data."""
    path = tmp_path / "n.csv"
    path.write_text("a,b,t\n1,x,2024-01-01\n,y,\n3,,2024-01-03T12:00:00Z\n")
    pool.ingest("t/src", path)
    with pool.snapshot("t/src") as snap:
        want = snap.to_pandas()
        st = pool.ingest("t/copy", snap)          # through __arrow_c_stream__
        assert (st.rows, st.batches) == (3, 1)
    with pool.snapshot("t/copy") as c:
        assert c.schema_names == {"a": "i64", "b": "str", "t": "ts"}
        assert c.to_pandas().equals(want)
        assert c["t"].dtype == np.dtype("M8[ns]") and c["t"].mask.tolist() == [False, True, False]


def test_parquet_and_arrow_files_by_extension(pool, pool_path, cli, tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("a,b\n1,x\n,y\n3,\n")
    cli(pool_path, "ingest", "t/src", str(path), "--quiet")
    for ext in ("parquet", "arrow"):
        out = tmp_path / f"n.{ext}"
        cli(pool_path, "export", "t/src", "--out", str(out))
        st = pool.ingest(f"t/{ext}", out)
        assert (st.files, st.rows) == (1, 3)
        with pool.snapshot(f"t/{ext}") as s:
            assert s["a"].tolist() == [1, None, 3] and s["b"].tolist() == ["x", "y", None]


def test_snapshot_exports_text_that_pandas_and_json_read_back(pool, tmp_path):
    import json

    import pandas as pd

    path = tmp_path / "n.csv"
    path.write_text('a,b,t,x\n1,"x, ""y""",2024-01-01,0.1\n,y,,\n3,,2024-01-03T12:00:00Z,1e+300\n')
    pool.ingest("t/src", path)
    with pool.snapshot("t/src") as snap:
        want = snap.to_pandas()
        snap.export(tmp_path / "o.csv")  # the format from the extension
        snap.export(tmp_path / "o.tsv")
        snap.export(tmp_path / "o.jsonl", columns=["a", "b", "x"])
        snap.export(tmp_path / "o.json", format="json", columns=["b"])
        with pytest.raises(strata.InvalidArgument, match="'ndjson', not 'xml'"):
            snap.export(tmp_path / "o.xml", format="xml")
    assert not (tmp_path / "o.xml").exists()
    assert (tmp_path / "o.csv").read_text() == path.read_text().replace(
        "2024-01-01", "2024-01-01T00:00:00Z")
    for f, sep in (("o.csv", ","), ("o.tsv", "\t")):
        got = pd.read_csv(tmp_path / f, sep=sep, dtype={"b": "string"}, parse_dates=["t"])
        assert got["a"].tolist()[::2] == [1, 3] and pd.isna(got["a"][1]), f
        assert got["b"].tolist()[:2] == ['x, "y"', "y"] and pd.isna(got["b"][2]), f
        assert got["x"].tolist()[::2] == [0.1, 1e300], f
        assert (got["t"].dt.tz_localize(None) == want["t"]).tolist() == [True, False, True], f
    rows = [json.loads(line) for line in open(tmp_path / "o.jsonl")]
    assert rows == [{"a": 1, "b": 'x, "y"', "x": 0.1}, {"a": None, "b": "y", "x": None},
                    {"a": 3, "b": None, "x": 1e300}]
    assert json.load(open(tmp_path / "o.json")) == [{"b": 'x, "y"'}, {"b": "y"}, {"b": None}]


def test_views_outlive_exports_of_their_snapshot(pool, tmp_path):
    # the exports map each batch to stream it and let go of it after, but not of one the caller
    # holds views of: those stay valid until the snapshot is closed
    d = tmp_path / "v"
    d.mkdir()
    np.save(d / "x.npy", np.arange(1_000_000, dtype=np.float64))
    np.save(d / "k.npy", np.arange(1_000_000, dtype=np.int64) % 7)
    pool.ingest("t/v", d, batch_rows=500_000)
    with pool.snapshot("t/v") as snap:
        views = snap.batch(1)
        for name in ("v.csv", "v.parquet", "v.npy"):
            snap.export(tmp_path / name, format=name.split(".")[1])
        assert views["x"].sum() == sum(range(500_000, 1_000_000))
        assert views["k"][:8].tolist() == [(500_000 + i) % 7 for i in range(8)]


def test_snapshot_export_round_trips(pool, tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("a,b,t\n1,x,2024-01-01\n,y,\n3,,2024-01-03T12:00:00Z\n")
    pool.ingest("t/src", path)
    with pool.snapshot("t/src") as snap:
        want = snap.to_pandas()
        for name in ("n.parquet", "n.arrow", "n.h5"):
            snap.export(tmp_path / name)
            pool.ingest(f"t/{name.replace('.', '_')}", tmp_path / name)
        snap.export(tmp_path / "npy", columns=["a", "b"])
        assert sorted(os.listdir(tmp_path / "npy")) == ["a.npy", "a.valid.npy", "b.npy", "b.valid.npy"]
        assert np.load(tmp_path / "npy" / "b.npy").tolist() == ["x", "y", ""]
        with pytest.raises(strata.InvalidArgument):
            snap.export(tmp_path / "x.parquet", compression="lz77")
    for name in ("n_parquet", "n_arrow"):
        with pool.snapshot(f"t/{name}") as c:
            assert c.to_pandas().equals(want), name
