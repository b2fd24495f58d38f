"""N-d arrays and tiers from Python: reads equal numpy's basic indexing on many random
selections (ints, slices with steps incl. negative, Ellipsis, fewer indices), writes equal numpy
assignment, for chunked, row and col layouts and zstd; append and growth; summaries; tiers,
migration and staging; the errors with their messages."""
import numpy as np
import pytest

import strata

LAYOUTS = [
    dict(layout="chunked", chunks=(3, 4, 5)),
    dict(layout="chunked", chunks=(2, 9, 4), zstd=3),
    dict(layout="row"),
    dict(layout="col"),
]
LAYOUT_IDS = ["chunked", "chunked-zstd", "row", "col"]


def rand_index(rng, n):
    """One random index for a dimension of size N: an int or a slice."""
    if rng.random() < 0.25 and n > 0:
        i = int(rng.integers(0, n))
        return i - n if rng.random() < 0.5 else i

    def bound():
        r = rng.random()
        if r < 0.25:
            return None
        return int(rng.integers(-n - 2, n + 3))

    step = [None, 1, 1, 2, 3, 5, -1, -2, -3][int(rng.integers(0, 9))]
    return slice(bound(), bound(), step)


def rand_key(rng, shape):
    """A random basic index: all dimensions, fewer (the rest are whole), or some around an
    Ellipsis that stands for the dimensions in between."""
    nd = len(shape)
    used = int(rng.integers(0, nd + 1)) if rng.random() < 0.4 else nd
    if rng.random() < 0.3:
        pos = int(rng.integers(0, used + 1))
        tail = range(nd - (used - pos), nd)
        items = [rand_index(rng, shape[d]) for d in range(pos)] + [Ellipsis] + \
            [rand_index(rng, shape[d]) for d in tail]
    else:
        items = [rand_index(rng, shape[d]) for d in range(used)]
    return items[0] if len(items) == 1 and rng.random() < 0.5 else tuple(items)


def assert_same(got, exp, key):
    assert type(got) is type(exp) or (np.ndim(got) == 0 and np.ndim(exp) == 0), (key, got)
    assert np.shape(got) == np.shape(exp), key
    if isinstance(got, np.ndarray):
        assert got.dtype == exp.dtype, key
        assert got.flags.c_contiguous, key
    np.testing.assert_array_equal(got, exp, err_msg=str(key))


@pytest.mark.parametrize("opts", LAYOUTS, ids=LAYOUT_IDS)
def test_reads_equal_numpy(pool, opts):
    rng = np.random.default_rng(11)
    shape = (7, 9, 11)
    ref = rng.integers(-1000, 1000, shape).astype(np.int32)
    nd = pool.create_ndarray("s/a", "i32", shape, **opts)
    nd[...] = ref
    assert nd.shape == shape and nd.ndim == 3 and nd.dtype == np.int32
    assert nd.layout == opts["layout"] and nd.size == ref.size and len(nd) == 7
    np.testing.assert_array_equal(nd.numpy(), ref)
    np.testing.assert_array_equal(np.asarray(nd), ref)
    for _ in range(300):
        key = rand_key(rng, shape)
        assert_same(nd[key], ref[key], key)
    # the fixed cases, spelled out
    for key in [(3, slice(1, 8), slice(None, None, 2)), (Ellipsis, -1), (-7,), (slice(None),),
                (slice(None, None, -1), 0, slice(None, None, -3)), (1, Ellipsis, 2),
                (slice(5, 1, -2), slice(100, None)), (), Ellipsis, (6, 8, 10), (-1, -1, -1)]:
        assert_same(nd[key], ref[key], key)


def test_reads_of_other_shapes_and_dtypes(pool):
    rng = np.random.default_rng(12)
    cases = [("f64", (40,), (7,)), ("u8", (5, 4, 3, 6), (2, 3, 2, 4)), ("bool", (6, 6), (4, 4)),
             ("f32", (3, 50), (1, 16))]
    for i, (dt, shape, chunks) in enumerate(cases):
        npdt = {"f64": np.float64, "u8": np.uint8, "bool": np.bool_, "f32": np.float32}[dt]
        ref = (rng.random(shape) * 200).astype(npdt)
        nd = pool.create_ndarray(f"s/x{i}", dt, shape, chunks=chunks)
        nd[...] = ref
        for _ in range(150):
            key = rand_key(rng, shape)
            assert_same(nd[key], ref[key], key)


@pytest.mark.parametrize("opts", LAYOUTS, ids=LAYOUT_IDS)
def test_writes_equal_numpy_assignment(pool, opts):
    rng = np.random.default_rng(13)
    shape = (6, 7, 8)
    ref = np.full(shape, 5.0)
    nd = pool.create_ndarray("s/w", "f64", shape, fill=5.0, **opts)
    np.testing.assert_array_equal(nd[...], ref)       # never written: the fill value
    for i in range(60):
        key = rand_key(rng, shape)
        target = ref[key]
        r = rng.random()
        if r < 0.3 or np.ndim(target) == 0:
            value = float(rng.integers(-100, 100))      # a scalar, broadcast
        elif r < 0.5:
            value = rng.normal(size=np.shape(target)[-1:])  # the last dimension, broadcast
        else:
            value = rng.normal(size=np.shape(target))
        ref[key] = value
        nd[key] = value
        if i % 10 == 9:
            np.testing.assert_array_equal(nd[...], ref)
    np.testing.assert_array_equal(nd.numpy(), ref)
    # reopened: the same
    with pool.ndarray("s/w") as again:
        np.testing.assert_array_equal(again[...], ref)
    assert again.closed


def test_append_write_growth_and_fill(pool):
    nd = pool.create_ndarray("sim/t", "i64", (None, 4, 5), chunks=(1, 2, 3), fill=-1)
    assert nd.shape == (0, 4, 5) and nd.info()["unlimited"] is True
    steps = [np.arange(20).reshape(4, 5) * (i + 1) for i in range(3)]
    for i, s in enumerate(steps):
        assert nd.append(s) == i
    assert nd.append(9) == 3                              # a scalar broadcasts to a step
    ref = np.stack(steps + [np.full((4, 5), 9)])
    np.testing.assert_array_equal(nd[...], ref)
    assert [x.tolist() for x in nd] == [x.tolist() for x in ref]
    # write() past the end grows the first dimension; the gap reads as the fill value
    nd.write((6, 1, 2), np.array([[7, 8], [9, 10]]))
    assert nd.shape == (7, 4, 5)
    full = np.concatenate([ref, np.full((3, 4, 5), -1)])
    full[6, 1:3, 2:4] = [[7, 8], [9, 10]]
    np.testing.assert_array_equal(nd[...], full)
    np.testing.assert_array_equal(nd.read((1, 0, 0), (2, 2, 3), stride=(5, 3, 2)),
                                  full[1::5, ::3, ::2])
    # reopened for sequential reads (step i+1 prefetched), without a chunk cache
    with pool.ndarray("sim/t", sequential=True, cache_bytes=-1) as seq:
        for i in range(7):
            np.testing.assert_array_equal(seq[i], full[i])
    # a step of the wrong shape
    with pytest.raises(strata.InvalidArgument, match=r"values of shape \(3,\) do not broadcast "
                                                     r"to the selection's shape \(4, 5\)"):
        nd.append(np.arange(3))
    fixed = pool.create_ndarray("sim/fixed", "i64", (2, 3))
    with pytest.raises(strata.Error):
        fixed.append(np.zeros(3, np.int64))


def test_summary_equals_numpy(pool):
    rng = np.random.default_rng(14)
    ref = rng.normal(10, 3, (5, 30, 40))
    ref[1, 2, 3] = np.nan
    nd = pool.create_ndarray("s/sum", "f64", ref.shape, chunks=(1, 16, 16))
    nd[...] = ref
    for key in [None, np.s_[0], np.s_[1, 2:10, ::-1], np.s_[..., 5:9]]:
        sel = ref if key is None else ref[key]
        s = nd.summary(key)
        good = sel[~np.isnan(sel)]
        assert s["count"] == good.size and s["nan"] == sel.size - good.size
        assert s["min"] == good.min() and s["max"] == good.max()
        assert s["mean"] == pytest.approx(good.mean(), rel=1e-12)
        assert s["std"] == pytest.approx(good.std(), rel=1e-9)
        assert len(s["hist"]) == 32 and sum(s["hist"]) == good.size
    s = nd.stats(start=(0, 0, 0), count=(1, 30, 40))
    assert s["count"] == 1200 and s["max"] == ref[0].max()
    assert nd.summary(start=(0, 0, 0), count=(1, 30, 40))["cached"] is True
    with pytest.raises(strata.InvalidArgument, match="summary takes a rectangle"):
        nd.summary(np.s_[::2])


def test_info_repr_close(pool):
    nd = pool.create_ndarray("s/i", np.float32, (0, 8, 8), chunks=(1, 4, 4), zstd=5)
    nd.append(np.ones((8, 8), np.float32))
    nd[0, 1:3, 1:3]                                   # reads one chunk
    info = nd.info()
    assert info["region"] == "s" and info["name"] == "i" and info["dtype"] == "f32"
    assert info["shape"] == (1, 8, 8) and info["chunks"] == (1, 4, 4)
    assert info["layout"] == "chunked" and info["zstd"] == 5 and info["tier"] == "default"
    assert info["chunks_total"] == 4 and info["chunks_written"] == 4 and info["version"] == 1
    assert info["chunks_read"] == 1
    assert repr(nd) == ("<strata.NdArray 's/i' f32 (1, 8, 8) chunked (1, 4, 4), version 1, "
                        "unlimited, zstd, tier default>")
    assert isinstance(nd, strata.NdArray) and nd.name == "s/i" and nd.pool is pool
    assert pool.ndarrays() == ["s/i"] and pool.ndarrays("s") == ["s/i"]
    nd.close()
    nd.close()
    assert nd.closed and repr(nd) == "<strata.NdArray 's/i' f32 (closed)>"
    with pytest.raises(strata.InvalidArgument, match="the N-d array is closed"):
        nd[0]
    pool.drop_ndarray("s/i")
    assert pool.ndarrays() == []


def test_errors(pool):
    nd = pool.create_ndarray("s/e", "i32", (4, 5), chunks=(2, 2))
    with pytest.raises(strata.OutOfRange,
                       match=r"index 4 is out of range for dimension 0 of N-d array 's/e' "
                             r"\(size 4\)"):
        nd[4]
    with pytest.raises(strata.OutOfRange, match="index -6 is out of range for dimension 1"):
        nd[0, -6] = 1
    with pytest.raises(IndexError, match="too many indices for N-d array 's/e': it has 2 "
                                         "dimensions, 3 were given"):
        nd[0, 0, 0]
    with pytest.raises(strata.OutOfRange, match=r"cannot read 's/e': \[0, 7\) is outside "
                                                r"dimension 1 of size 5"):
        nd.read((0, 0), (1, 7))
    with pytest.raises(strata.InvalidArgument, match="takes basic indices"):
        nd[[0, 1]]
    with pytest.raises(strata.InvalidArgument, match="single ellipsis"):
        nd[..., ...]
    with pytest.raises(strata.InvalidArgument, match="slice step cannot be zero"):
        nd[::0]
    with pytest.raises(strata.TypeMismatch, match="N-d array 's/e': values of type float64 do "
                                                  "not fit i32 exactly"):
        nd[0] = 0.5
    with pytest.raises(strata.InvalidArgument, match=r"values of shape \(3,\) do not broadcast"):
        nd[0] = np.arange(3, dtype=np.int32)
    np.testing.assert_array_equal(nd[...], np.zeros((4, 5), np.int32))   # nothing written
    with pytest.raises(strata.Exists, match="exists"):
        pool.create_ndarray("s/e", "i32", (4, 5))
    with pytest.raises(strata.NotFound, match="s/none"):
        pool.ndarray("s/none")
    with pytest.raises(strata.InvalidArgument, match="layout is 'chunked', 'row' or 'col', "
                                                     "not 'diag'"):
        pool.create_ndarray("s/x", "i32", (4,), layout="diag")
    with pytest.raises(strata.InvalidArgument, match="chunks go with layout='chunked'"):
        pool.create_ndarray("s/x", "i32", (4,), chunks=(2,), layout="row")
    with pytest.raises(strata.InvalidArgument, match="chunks needs 2 numbers"):
        pool.create_ndarray("s/x", "i32", (4, 4), chunks=(2,))
    with pytest.raises(strata.TypeMismatch, match="N-d arrays hold numbers or bools"):
        pool.create_ndarray("s/x", "str", (4,))
    with pytest.raises(strata.TypeMismatch, match="fill: values of type float64 do not fit"):
        pool.create_ndarray("s/x", "i32", (4,), fill=0.5)
    with pytest.raises(strata.InvalidArgument, match="zstd is a level from 1 to 19"):
        pool.create_ndarray("s/x", "i32", (4,), zstd=30)
    with pytest.raises(strata.BadName, match="is not REGION/NAME"):
        pool.create_ndarray("x", "i32", (4,))
    with pytest.raises(strata.NotFound):
        pool.drop_ndarray("s/none")


def test_tiers_migrate_and_stage(pool, pool_path, cli, tmp_path, capsys):
    tiers = pool.tiers()
    assert [t["name"] for t in tiers] == ["default"] and tiers[0]["kind"] == "disk"
    pool.add_tier("fast", str(tmp_path / "fast"), "ssd", capacity="1G", read_bw=2e9)
    pool.set_tier("fast", latency=0.25)
    fast = pool.tiers()[1]
    assert (fast["name"], fast["kind"], fast["capacity"], fast["read_bw"], fast["latency"]) == \
        ("fast", "ssd", 1 << 30, 2e9, 0.25)
    assert fast["path"] == str(tmp_path / "fast") and fast["files"] == 0
    with pytest.raises(strata.Exists):
        pool.add_tier("fast", str(tmp_path / "other"), "ssd")
    with pytest.raises(strata.InvalidArgument, match="kind is 'memory', 'ssd', 'disk' or "
                                                     "'archive', not 'floppy'"):
        pool.add_tier("f2", str(tmp_path / "f2"), "floppy")
    with pytest.raises(strata.NotFound):
        pool.set_tier("nope", capacity=1)

    rng = np.random.default_rng(15)
    ref = rng.integers(0, 100, (8, 12)).astype(np.int16)
    nd = pool.create_ndarray("s/m", "i16", ref.shape, chunks=(4, 4))
    nd[...] = ref
    assert pool.migrate("s/m", to="fast") == 6
    assert nd.info()["tier"] == "fast" and pool.tiers()[1]["files"] == 6
    np.testing.assert_array_equal(nd[...], ref)
    with pytest.raises(strata.Conflict):
        pool.remove_tier("fast")
    with pytest.raises(strata.Conflict):
        pool.remove_tier("default")
    assert pool.migrate("s/m", to="default", first=0, last=1) == 2
    assert pool.tiers()[1]["files"] == 4

    # an archive tier: data is staged to a fast tier to be read
    pool.add_tier("tape", str(tmp_path / "tape"), "archive")
    assert pool.migrate("s/m", to="tape") == 6
    # reading unstaged archive data stages it on demand; verbose=True says so on stderr
    with pool.ndarray("s/m", verbose=True, stage_tier="fast") as v:  # a chunk of row block 1
        np.testing.assert_array_equal(v[4:5, 0:2], ref[4:5, 0:2])
    assert "strata: staged 1 chunk(s) of 's/m' from the archive on demand" in capsys.readouterr().err
    st = pool.stage("s/m", to="fast", start=(0, 0), count=(4, 12))
    assert (st["chunks_needed"], st["chunks_staged"], st["chunks_present"]) == (3, 3, 0)
    assert st["bytes_read"] > 0 and st["bytes_written"] > 0
    job = pool.stage("s/m", wait=False)
    assert isinstance(job, strata.Stage) and "to tier 'default'" in repr(job)
    st = job.wait()
    assert st["chunks_needed"] == 6 and st["chunks_staged"] + st["chunks_present"] == 6
    assert job.done and job.wait() == st and "(done)" in repr(job)
    np.testing.assert_array_equal(nd[...], ref)
    with pytest.raises(strata.NotFound):
        pool.stage("s/none")

    # a dataset's batch files migrate too
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    cli(pool_path, "ingest", "t/d", str(tmp_path / "d.csv"), "--quiet")
    assert pool.migrate("t/d", to="fast") == 2
    with pytest.raises(strata.NotFound, match="no N-d array or dataset 't/none' to migrate"):
        pool.migrate("t/none", to="fast")

    pool.migrate("s/m", to="default")
    pool.migrate("t/d", to="default")
    pool.remove_tier("fast")
    assert [t["name"] for t in pool.tiers()] == ["default", "tape"]


def test_children_keep_the_pool_open(pool_path):
    p = strata.Pool(pool_path, create=True)
    nd = p.create_ndarray("s/c", "i8", (3,), layout="row")
    nd[:] = [1, 2, 3]
    job = p.stage("s/c", wait=False)
    p.close()
    assert p.closed
    with pytest.raises(strata.InvalidArgument, match="the pool is closed"):
        p.ndarrays()
    np.testing.assert_array_equal(nd[::-1], np.array([3, 2, 1], np.int8))  # still open
    assert job.wait()["chunks_needed"] == 1
    nd.close()
    with pytest.raises(strata.InvalidArgument, match="closed"):
        nd[0]


# ---- HDF5 and attributes ---------------------------------------------------------------------


def test_hdf5_import_export_attrs(pool, tmp_path):
    """h5py writes a chunked gzip dataset with attributes; import_ndarray keeps shape, chunks,
    dtype, values and attributes; attrs reads and edits them as h5py's .attrs; export_hdf5
    writes what h5py reads back equal, with the chosen compression; failures raise and leave
    nothing."""
    h5py = pytest.importorskip("h5py")
    src, out = str(tmp_path / "in.h5"), str(tmp_path / "out.h5")
    data = np.random.default_rng(3).normal(size=(4, 6, 5)).astype("f4")
    with h5py.File(src, "w") as f:
        d = f.create_dataset("fields/temp", data=data, chunks=(1, 3, 5), compression="gzip",
                             maxshape=(None, 6, 5))
        d.attrs["units"] = "K"
        d.attrs["step"] = 3
        d.attrs["ratio"] = 0.25
        f.create_dataset("flags", data=np.arange(7) % 2 == 0)
    nd = pool.import_ndarray("sim/temp", src, "/fields/temp")
    assert isinstance(nd, strata.NdArray)
    assert (nd.shape, nd.chunks, nd.dtype) == ((4, 6, 5), (1, 3, 5), np.float32)
    np.testing.assert_array_equal(nd[...], data)
    assert dict(nd.attrs) == {"ratio": 0.25, "step": 3, "units": "K"}
    assert nd.info()["unlimited"] and nd.info()["zstd"] == 3
    nd.attrs["units"] = "degC"
    nd.attrs["scale"] = 2
    del nd.attrs["step"]
    assert sorted(nd.attrs) == ["ratio", "scale", "units"] and "step" not in nd.attrs
    assert nd.attrs["units"] == "degC" and nd.attrs.get("step", -1) == -1
    with pytest.raises(KeyError):
        del nd.attrs["step"]
    with pytest.raises(strata.TypeMismatch, match="an int, a float or a str, not list"):
        nd.attrs["bad"] = [1, 2]
    with pytest.raises(strata.InvalidArgument, match="names starting with 'strata_' are reserved"):
        nd.attrs["strata_x"] = 1
    nd.append(np.ones((6, 5), "f4"))
    nd.export_hdf5(out, "/a/temp", gzip=4)
    with h5py.File(out) as f:
        t = f["a/temp"]
        assert (t.shape, t.maxshape, t.chunks) == ((5, 6, 5), (None, 6, 5), (1, 3, 5))
        assert (t.compression, t.compression_opts) == ("gzip", 4)
        np.testing.assert_array_equal(t[:4], data)
        np.testing.assert_array_equal(t[4], np.ones((6, 5), "f4"))
        assert {k: t.attrs[k] for k in ("units", "scale", "ratio")} == \
            {"units": "degC", "scale": 2, "ratio": 0.25}
    nd.export_hdf5(out, "/plain", gzip=False)
    with h5py.File(out) as f:
        assert list(f) == ["plain"] and f["plain"].compression is None
    # the copy comes back equal, stored uncompressed with zstd=False
    back = pool.import_ndarray("sim/back", out, "/plain", zstd=False)
    np.testing.assert_array_equal(back[...], nd[...])
    assert back.info()["zstd"] == 0 and back.attrs["units"] == "degC"
    flags = pool.import_ndarray("sim/flags", src, "/flags")
    assert flags.dtype == np.bool_ and list(flags[...]) == [True, False] * 3 + [True]
    with pytest.raises(strata.Exists):
        pool.import_ndarray("sim/temp", src, "/fields/temp")
    with pytest.raises(strata.NotFound, match="no such object"):
        pool.import_ndarray("sim/none", src, "/fields/nope")
    with pytest.raises(strata.InvalidArgument, match="a group"):
        pool.import_ndarray("sim/none", src, "/fields")
    assert "sim/none" not in pool.ndarrays("sim")
    with pytest.raises(strata.Error):
        nd.export_hdf5(str(tmp_path / "no" / "x.h5"), "/t")
    assert not (tmp_path / "no").exists()
