"""Closing is safe against other threads and against re-entry: double closes from two threads,
a close from inside a progress callback (the thread holds the pool's lock), Pool.close() while
another thread is in a long call, and views that outlive everything."""
import gc
import threading

import numpy as np
import pytest

import strata


def test_two_threads_closing_one_array_close_it_once(pool_path):
    p = strata.Pool(pool_path, create=True)
    keep = p.create_array("t/keep", data=np.arange(10, dtype=np.int64))
    for i in range(200):
        a = p.create_array(f"t/a{i}", "i64", 1 << 17)
        barrier = threading.Barrier(3)

        def close():
            barrier.wait()
            a.close()

        ts = [threading.Thread(target=close) for _ in range(2)]
        for t in ts:
            t.start()
        barrier.wait()
        try:
            a[:]  # racing the closes: either it reads or it says the array is closed
        except strata.InvalidArgument as e:
            assert "closed" in str(e)
        for t in ts:
            t.join()
        assert a.closed
    p.close()
    # the pool waited for 'keep' (a double-counted close would have closed it under 'keep')
    np.testing.assert_array_equal(keep[:], np.arange(10))
    v = keep.numpy()
    keep.close()
    assert v[9] == 9


def test_closing_a_snapshot_inside_a_progress_callback_does_not_deadlock(pool):
    with pool.create_dataset("t/d", {"v": "i64"}).writer() as w:
        for _ in range(3):
            w.append(v=np.arange(1000))
    pool.derive("t/s", "t/d", sort="v")
    snap = pool.dataset("t/d").snapshot()
    seen = []

    def progress(ev):
        if snap is not None and not snap.closed:
            snap.close()  # this thread holds the pool's lock: the close is queued
            seen.append(snap.closed)

    done = []
    t = threading.Thread(target=lambda: done.append(pool.update(progress=progress)))
    t.start()
    t.join(60)
    assert not t.is_alive(), "update deadlocked"
    assert done and seen == [True]
    assert snap.closed
    with pytest.raises(strata.InvalidArgument, match="closed"):
        snap["v"]
    assert pool.check() == []


def test_collected_snapshot_inside_a_locked_section_does_not_deadlock(pool):
    with pool.create_dataset("t/d", {"v": "i64"}).writer() as w:
        w.append(v=np.arange(10))
    for _ in range(50):
        s = pool.dataset("t/d").snapshot()
        s.cycle = s  # only the cycle collector frees it, at any allocation
        del s
        pool.regions()
        pool.datasets()
    gc.collect()
    assert pool.datasets() == ["t/d"]


def test_pool_close_during_a_long_call_waits_for_it(pool_path):
    p = strata.Pool(pool_path, create=True)
    with p.create_dataset("t/d", {"v": "f64"}).writer() as w:
        for _ in range(4):
            w.append(v=np.random.default_rng(1).random(1 << 20))
    p.derive("t/s", "t/d", sort="v")
    result = []
    t = threading.Thread(target=lambda: result.append(p.update()))
    t.start()
    p.close()  # while the update may be running
    t.join(120)
    assert result and result[0].refreshed >= 1
    with strata.Pool(pool_path) as q:
        with q.dataset("t/s").snapshot() as snap:
            assert len(snap) == 4 << 20


def test_views_of_all_kinds_outlive_their_objects_and_pool(pool_path):
    p = strata.Pool(pool_path, create=True)
    with p.create_dataset("t/d", {"v": "i64"}).writer() as w:
        w.append(v=np.arange(100))
    snap = p.dataset("t/d").snapshot()
    col = snap["v"]
    batch = next(iter(snap.batches(["v"])))["v"]
    assert np.shares_memory(col, batch)
    snap.close()
    p.close()
    gc.collect()
    assert col.sum() == 4950 and batch[99] == 99
    del col, batch
    gc.collect()


def test_pool_catalog(tmp_path):
    """Pool.catalog says where the catalog is; catalog='sqlite' forces SQLite whatever
    STRATA_CATALOG says; catalog= and schema= only go with create=True; under STRATA_CATALOG (the
    PostgreSQL suites) a new pool's catalog is there, in a schema of its own."""
    import os
    with strata.Pool(str(tmp_path / "s"), create=True, catalog="sqlite") as p:
        assert p.catalog == "sqlite " + str(tmp_path / "s" / "catalog.db")
    with pytest.raises(strata.InvalidArgument, match="are for a new pool"):
        strata.Pool(str(tmp_path / "s"), catalog="sqlite")
    pg = os.environ.get("STRATA_CATALOG")
    if not pg:
        return
    with strata.Pool(str(tmp_path / "p"), create=True, schema="py_catalog_test") as p:
        assert p.catalog == "postgresql " + pg + " schema py_catalog_test"
        p.create_array("r/a", data=[1, 2, 3])
    with strata.Pool(str(tmp_path / "p")) as p:
        assert list(p.array("r/a")[:]) == [1, 2, 3]
    with pytest.raises(strata.Exists, match="already holds a strata catalog"):
        strata.Pool(str(tmp_path / "q"), create=True, schema="py_catalog_test")
