"""strata.Array: numpy indexing for get/put/gather/scatter, string arrays, zero-copy views,
atomics and locks across processes, backups, and the pool's lifetime rules."""
import multiprocessing as mp
import os
import threading
import time

import numpy as np
import pytest

import strata

DTYPES = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "bool"]


def test_find_or_create_reads_naturally(pool):
    with pytest.raises(strata.NotFound) as e:
        pool.array("demo/a")
    assert str(e.value) == "region 'demo' not found"
    assert e.value.code == -1 and e.value.errname == "STRATA_ENOTFOUND"
    assert isinstance(e.value, KeyError) and isinstance(e.value, strata.Error)
    try:
        a = pool.array("demo/a")
    except strata.NotFound:
        a = pool.create_array("demo/a", "i64", 10)
    assert len(a) == 10 and a.dtype == np.dtype("int64") and a.name == "demo/a"
    assert repr(a) == "<strata.Array 'demo/a' i64[10]>"
    assert pool.arrays() == ["demo/a"] and pool.arrays("demo") == ["demo/a"]
    assert pool.regions() == ["demo"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_slices_equal_numpy_slicing(pool, dtype):
    rng = np.random.default_rng(7)
    ref = (rng.integers(0, 100, 1000) if dtype != "bool" else rng.integers(0, 2, 1000)).astype(
        np.dtype({"i8": "i1", "i16": "i2", "i32": "i4", "i64": "i8", "u8": "u1", "u16": "u2",
                  "u32": "u4", "u64": "u8", "f32": "f4", "f64": "f8", "bool": "?"}[dtype]))
    a = pool.create_array("t/" + dtype, data=ref)
    assert a.dtype == ref.dtype
    for sl in [slice(None), slice(3, 17), slice(None, None, 7), slice(-5, None),
               slice(None, None, -1), slice(900, 10, -3), slice(-1, -1000, -13), slice(5, 5),
               slice(2000, 3000), slice(10, 2, 1)]:
        np.testing.assert_array_equal(a[sl], ref[sl], err_msg=str(sl))
    assert a[-1] == ref[-1] and a[0] == ref[0]
    assert type(a[3]) is type(ref[3])


def test_slice_writes_equal_numpy_assignment(pool):
    ref = np.arange(100, dtype=np.int32)
    a = pool.create_array("t/w", data=ref)
    for sl, vals in [(slice(3, 9), np.arange(6) * 10), (slice(None, None, -7), -1),
                     (slice(90, 10, -4), np.arange(20)), (slice(1, 50, 3), np.arange(17) + 500)]:
        a[sl] = vals
        ref[sl] = vals
        np.testing.assert_array_equal(a[:], ref)
    a[-2] = 77
    ref[-2] = 77
    np.testing.assert_array_equal(a[:], ref)


def test_gather_and_scatter_with_repeated_and_negative_indices(pool):
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(5000)
    a = pool.create_array("t/g", data=ref)
    idx = rng.integers(-5000, 5000, 20000)
    np.testing.assert_array_equal(a[idx], ref[idx])
    np.testing.assert_array_equal(a[idx.astype(np.int32)], ref[idx])
    np.testing.assert_array_equal(a[[3, 3, -1]], ref[[3, 3, -1]])
    np.testing.assert_array_equal(a[np.array([], dtype=np.int64)], ref[:0])
    mask = ref > 0
    np.testing.assert_array_equal(a[mask], ref[mask])
    # scatter: the last occurrence of a repeated index wins, as in numpy
    sidx = np.array([5, 9, 5, -1, 9])
    vals = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    a[sidx] = vals
    ref[sidx] = vals
    np.testing.assert_array_equal(a[:], ref)
    assert a[5] == 3.0 and a[9] == 5.0 and a[4999] == 4.0
    a[np.arange(0, 5000, 2, dtype=np.uint64)] = 0.5
    ref[::2] = 0.5
    np.testing.assert_array_equal(a[:], ref)


def test_large_gather_runs_on_threads_and_matches(pool):
    rng = np.random.default_rng(2)
    ref = rng.integers(-(2**62), 2**62, 1 << 20)
    a = pool.create_array("t/big", data=ref)
    idx = rng.integers(0, len(ref), 1 << 18)
    np.testing.assert_array_equal(a[idx], ref[idx])
    a[idx] = idx
    ref[idx] = idx
    np.testing.assert_array_equal(a.numpy(), ref)


def test_out_of_range_changes_nothing(pool):
    a = pool.create_array("t/r", data=np.arange(10))
    with pytest.raises(strata.OutOfRange) as e:
        a[10]
    assert str(e.value) == "index 10 is out of range for array 't/r' of 10 elements"
    assert isinstance(e.value, IndexError)
    with pytest.raises(strata.OutOfRange, match=r"index -11 is out of range"):
        a[-11] = 1
    with pytest.raises(strata.OutOfRange, match=r"index 10 is out of range"):
        a[np.array([0, 1, 10])] = np.array([5, 5, 5])
    with pytest.raises(strata.OutOfRange, match=r"index -12 is out of range"):
        a[[1, -12]]
    np.testing.assert_array_equal(a[:], np.arange(10))
    with pytest.raises(strata.InvalidArgument, match="3 values given for 4 elements"):
        a[0:4] = [1, 2, 3]
    np.testing.assert_array_equal(a[:], np.arange(10))


def test_values_convert_only_when_exact(pool):
    a = pool.create_array("t/c", "i32", 4)
    a[:] = [1, 2, 3, 4]  # python ints fit i32
    np.testing.assert_array_equal(a[:], [1, 2, 3, 4])
    with pytest.raises(strata.TypeMismatch) as e:
        a[0] = 1.5
    assert str(e.value) == ("array 't/c': values of type float64 do not fit i32 exactly "
                            "(convert them first, e.g. with .astype())")
    assert isinstance(e.value, TypeError)
    with pytest.raises(strata.TypeMismatch, match="int64 do not fit i32"):
        a[1] = 2**40
    f = pool.create_array("t/f", "f32", 2)
    f[0] = 3  # an integer that a float represents exactly
    with pytest.raises(strata.TypeMismatch, match="do not fit f32"):
        f[1] = 2**24 + 1
    assert f[0] == 3.0 and f[1] == 0.0


def test_string_arrays_read_as_str_and_are_immutable(pool):
    words = ["taxi", "", "héllo wörld", "a,b\n", "x" * 1000]
    s = pool.create_array("t/s", data=words)
    assert s.dtype_name == "str" and len(s) == 5
    assert s[2] == "héllo wörld" and s[-1] == "x" * 1000
    assert s[:] == words and s[::-2] == words[::-2]
    assert s[np.array([4, 0, 0])] == [words[4], words[0], words[0]]
    assert list(s) == words and s.tolist() == words
    with pytest.raises(strata.TypeMismatch, match="string arrays are immutable"):
        s[0] = "x"
    with pytest.raises(strata.TypeMismatch, match="no flat numpy view"):
        s.numpy()
    np_words = pool.create_array("t/s2", data=np.array(words))
    assert np_words[:] == words


def test_numpy_view_is_zero_copy_and_shared(pool):
    a = pool.create_array("t/v", data=np.arange(1000, dtype=np.int64))
    v1, v2 = a.numpy(), a.numpy()
    assert np.shares_memory(v1, v2)
    assert v1.__array_interface__["data"][0] == v2.__array_interface__["data"][0]
    assert not v1.flags.writeable and not v1.flags.owndata
    with pytest.raises(ValueError):
        v1[0] = 5
    w = a.numpy(writable=True)
    w[7] = -7  # a store to the pool's mapping
    assert a[7] == -7 and v1[7] == -7
    # another handle (another mapping of the same file) sees it
    assert pool.array("t/v")[7] == -7


def test_views_outlive_close_of_array_and_pool(pool_path):
    p = strata.Pool(pool_path, create=True)
    a = p.create_array("t/a", data=np.arange(100, dtype=np.int64))
    v = a.numpy()
    a.close()
    p.close()
    assert a.closed and p.closed
    assert v[99] == 99 and v.sum() == 4950  # still mapped
    with pytest.raises(strata.InvalidArgument, match="the array is closed"):
        a[0]
    with pytest.raises(strata.InvalidArgument, match="the pool is closed"):
        p.array("t/a")
    del v


def test_objects_work_after_pool_close_until_closed_themselves(pool_path):
    p = strata.Pool(pool_path, create=True)
    a = p.create_array("t/a", "i64", 3)
    p.close()
    a[1] = 5  # the handle stays open
    assert a[1] == 5
    a.close()


def _add_many(path, n, barrier):
    with strata.Pool(path) as p:
        a = p.array("t/counter")
        f = p.array("t/fcounter")
        barrier.wait()
        for i in range(n):
            a.fetch_add(i % 4, 1)
            f.fetch_add(0, 0.5)
            a.fetch_max(4, i)
            a.fetch_or(5, 1 << (i % 60))


def test_atomics_are_exact_across_four_processes(pool, pool_path):
    a = pool.create_array("t/counter", "i64", 6)
    f = pool.create_array("t/fcounter", "f64", 1)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    n = 5000
    procs = [ctx.Process(target=_add_many, args=(pool_path, n, barrier)) for _ in range(4)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(120)
        assert pr.exitcode == 0
    np.testing.assert_array_equal(a[:4], [n, n, n, n])
    assert f[0] == 4 * n * 0.5
    assert a[4] == n - 1
    assert a[5] == (1 << 60) - 1


def test_atomic_ops_return_old_values(pool):
    a = pool.create_array("t/at", data=np.array([10, 20, 0b1100], dtype=np.uint32))
    assert a.fetch_add(0, 5) == 10 and a[0] == 15
    assert a.swap(1, 7) == 20 and a[1] == 7
    assert a.compare_swap(1, 8, 9) == 7 and a[1] == 7  # no swap
    assert a.compare_swap(1, 7, 9) == 7 and a[1] == 9
    assert a.fetch_min(0, 3) == 15 and a[0] == 3
    assert a.fetch_and(2, 0b0110) == 0b1100 and a[2] == 0b0100
    assert a.fetch_xor(2, 0b0101) == 0b0100 and a[2] == 0b0001
    b = pool.create_array("t/b", "bool", 1)
    with pytest.raises(strata.TypeMismatch):
        b.fetch_add(0, 1)
    with pytest.raises(strata.OutOfRange):
        a.fetch_add(3, 1)


def _hold_lock(path, ready, release):
    with strata.Pool(path) as p:
        a = p.array("t/l")
        with a.lock():
            ready.set()
            release.wait(60)


def test_locks_order_processes_and_die_with_their_holder(pool, pool_path):
    a = pool.create_array("t/l", "i64", 1)
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    pr = ctx.Process(target=_hold_lock, args=(pool_path, ready, release))
    pr.start()
    assert ready.wait(60)
    assert a.locked()
    t0 = time.monotonic()
    with pytest.raises(strata.Locked) as e:
        a.lock(timeout=0.2)
    assert time.monotonic() - t0 >= 0.15
    assert "lock" in str(e.value) and "t/l" in str(e.value)
    with pytest.raises(strata.Locked):
        a.lock(shared=True, timeout=0)
    release.set()
    pr.join(60)
    with a.lock(timeout=5):
        pass
    # a holder killed with its lock held releases it
    ready2, release2 = ctx.Event(), ctx.Event()
    pr = ctx.Process(target=_hold_lock, args=(pool_path, ready2, release2))
    pr.start()
    assert ready2.wait(60)
    pr.kill()
    pr.join(60)
    with a.lock(timeout=5):
        assert not a.locked()


def test_lock_wait_releases_the_gil(pool, pool_path):
    a = pool.create_array("t/l", "i64", 1)
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    pr = ctx.Process(target=_hold_lock, args=(pool_path, ready, release))
    pr.start()
    assert ready.wait(60)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    with pytest.raises(strata.Locked):
        a.lock(timeout=0.5)
    stop.set()
    t.join()
    release.set()
    pr.join(60)
    assert len(ticks) > 50  # the other thread ran while we waited


def test_backup_and_restore(pool):
    a = pool.create_array("t/a", data=np.arange(50, dtype=np.float64))
    a.backup("snap1")
    a[:] = 0
    assert pool.backups() == ["snap1"]
    with pytest.raises(strata.Exists, match="snap1"):
        a.backup("snap1")
    pool.restore("snap1", "t/a")
    np.testing.assert_array_equal(a[:], np.arange(50))
    pool.restore("snap1", "other/copy")
    np.testing.assert_array_equal(pool.array("other/copy")[:], np.arange(50))
    pool.drop_backup("snap1")
    with pytest.raises(strata.NotFound):
        pool.restore("snap1", "t/a")


def test_info_checksum_drop(pool):
    a = pool.create_array("t/i", data=np.arange(8, dtype=np.int16))
    info = a.info()
    assert info["region"] == "t" and info["name"] == "i" and info["dtype_name"] == "i16"
    assert info["length"] == 8 and info["bytes"] == 16 and os.path.exists(info["path"])
    np.testing.assert_array_equal(np.load(info["path"]), np.arange(8))
    c = a.checksum()
    assert isinstance(c, int) and c == a.checksum()
    a[0] = 1
    assert a.checksum() != c
    with pytest.raises(strata.Exists):
        pool.create_array("t/i", "i64", 1)
    a.close()
    pool.drop_array("t/i")
    with pytest.raises(strata.NotFound):
        pool.array("t/i")


def test_bad_names_and_arguments(pool):
    with pytest.raises(strata.BadName) as e:
        pool.array("noslash")
    assert str(e.value) == "array 'noslash' is not REGION/NAME (for example 'taxi/trips')"
    with pytest.raises(strata.BadName, match="bad name|name"):
        pool.create_array("t/..x", "i64", 1)
    with pytest.raises(strata.InvalidArgument, match="is not a data type"):
        pool.create_array("t/x", "complex128x", 1)
    with pytest.raises(strata.TypeMismatch, match="has no Strata type"):
        pool.create_array("t/x", np.complex128, 1)
    with pytest.raises(strata.InvalidArgument, match="needs a dtype and a length"):
        pool.create_array("t/x")
    with pytest.raises(strata.Exists):
        pool.create_region("t")


def test_drop_region_refuses_while_locked(pool):
    a = pool.create_array("r/a", "i64", 1)
    other = pool.array("r/a")
    with other.lock():
        with pytest.raises(strata.Locked) as e:
            pool.drop_region("r")
        assert "r" in str(e.value)
    pool.drop_region("r")
    assert pool.regions() == []
    with pytest.raises(strata.NotFound):
        a[0]


def test_pool_errors(tmp_path):
    with pytest.raises(strata.NotFound) as e:
        strata.Pool(str(tmp_path / "none"))
    assert "create=True" in str(e.value)
    p = strata.Pool(str(tmp_path / "p"), create=True)
    p.close()
    with pytest.raises(strata.Exists):
        strata.Pool(str(tmp_path / "p"), create=True)
    with strata.Pool(str(tmp_path / "p")) as p2:
        assert repr(p2) == f"<strata.Pool {str(tmp_path / 'p')!r}>"
    assert repr(p2).endswith("(closed)>")


@pytest.mark.skipif(os.environ.get("STRATA_SANITIZED") == "1",
                    reason="ASan's quarantine holds freed memory; the release build measures RSS")
def test_many_open_read_close_cycles_keep_memory_flat(pool_path):
    with strata.Pool(pool_path, create=True) as p:
        p.create_array("t/a", data=np.arange(1000, dtype=np.int64))
        p.create_array("t/s", data=["x", "yy"])
        with p.create_dataset("t/d", {"v": "i64", "w": "str"}).writer() as w:
            w.append(v=np.arange(10), w=[str(i) for i in range(10)])
            w.append(v=np.arange(5), w=["a"] * 5)
        nd = p.create_ndarray("t/nd", "f64", (8, 8), chunks=(4, 4))
        nd[:, :] = np.ones((8, 8))
        nd.close()

    def rss_kb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    def cycle(n):
        for _ in range(n):
            with strata.Pool(pool_path) as p:
                a = p.array("t/a")
                v = a.numpy()
                assert a[5] == 5 and v[999] == 999
                a[np.array([1, 2])]
                try:
                    p.array("t/none")
                except strata.NotFound:
                    pass
                a.close()
                assert p.array("t/s")[1] == "yy"
                with p.dataset("t/d").snapshot() as snap:  # one view, one concatenation
                    assert snap["v"].sum() == 55 and snap["w"][14] == "a"
                    assert len(snap.to_pandas()) == 15
                with p.ndarray("t/nd") as nd:
                    assert nd[1:3, ::2].sum() == 8.0

    cycle(500)  # warm up caches and allocators
    before = rss_kb()
    cycle(10000)  # every kind of object opened, read and closed
    after = rss_kb()
    assert after - before < 8 * 1024, f"RSS grew from {before} kB to {after} kB"
