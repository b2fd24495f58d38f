"""Every exception class of the package is raised where the library reports its status, with the
library's message: the rarer ones here (damage, newer formats, read-only file systems, full or
failing disks, memory limits, timeouts); the common ones in the other files."""
import os
import resource
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import strata

HERE = os.path.dirname(__file__)
BUILD_TESTS = os.environ.get("TMPDIR", "")  # ctest's TMPDIR is the build's tests directory


def test_every_status_code_has_a_class_under_error():
    classes = [strata.NotFound, strata.Exists, strata.InvalidArgument, strata.TypeMismatch,
               strata.OutOfRange, strata.BadName, strata.Locked, strata.NoSpace,
               strata.IOFailure, strata.Corrupt, strata.OutOfMemory, strata.Conflict,
               strata.PermissionDenied, strata.Unsupported, strata.Stale, strata.Cancelled]
    assert [c.code for c in classes] == list(range(-1, -17, -1))
    for c in classes:
        assert issubclass(c, strata.Error)
        assert strata.strerror(c.code) != "unknown error"
    assert issubclass(strata.NotFound, KeyError) and issubclass(strata.OutOfRange, IndexError)
    assert issubclass(strata.InvalidArgument, ValueError)
    assert issubclass(strata.TypeMismatch, TypeError)
    assert issubclass(strata.OutOfMemory, MemoryError)


def test_damaged_array_file_is_corrupt(pool):
    a = pool.create_array("t/a", data=np.arange(100, dtype=np.int64))
    path = a.info()["path"]
    a.close()
    with open(path, "r+b") as f:
        f.truncate(200)
    with pytest.raises(strata.Corrupt) as e:
        pool.array("t/a")
    assert "t/a" in str(e.value) and e.value.errname == "STRATA_ECORRUPT"


def test_damaged_backup_is_corrupt_on_restore(pool, pool_path):
    a = pool.create_array("t/a", data=np.arange(100, dtype=np.int64))
    a.backup("b1")
    files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(pool_path, "backups"))
             for f in fs if f.endswith(".npy")]
    assert files
    with open(files[0], "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"\xff" * 8)
    with pytest.raises(strata.Corrupt) as e:
        pool.restore("b1", "t/a")
    assert "b1" in str(e.value) and "checksum" in str(e.value)
    np.testing.assert_array_equal(a[:], np.arange(100))  # nothing was restored


def test_pool_of_a_newer_format_is_unsupported(pool_path):
    strata.Pool(pool_path, create=True).close()
    marker = os.path.join(pool_path, "STRATA_POOL")
    with open(marker) as f:
        text = f.read()
    with open(marker, "w") as f:
        f.write(text.replace("format 1", "format 99"))
    with pytest.raises(strata.Unsupported) as e:
        strata.Pool(pool_path)
    assert "99" in str(e.value) and "newer" in str(e.value)


def test_stats_past_its_timeout_is_cancelled_and_caches_nothing(pool):
    ds = pool.create_dataset("t/big", {"v": "f64"})
    with ds.writer() as w:
        for _ in range(4):
            w.append(v=np.random.default_rng(0).random(1 << 21))
    with ds.snapshot() as snap:
        with pytest.raises(strata.Cancelled) as e:
            snap.stats("v", timeout=0)
        assert str(e.value).startswith("stats of column 'v' of 't/big' took longer than the "
                                       "timeout of 0 s (nothing was cached")
        full = snap.stats("v")
        assert not full["cached"]  # the cancelled call cached nothing
        assert snap.stats("v", timeout=0)["cached"]  # a cached summary needs no time


def test_tier_without_room_is_no_space(pool, tmp_path):
    nd = pool.create_ndarray("sim/a", "f64", (64, 64), chunks=(16, 16))
    nd[:, :] = np.ones((64, 64))
    pool.add_tier("small", str(tmp_path / "small"), "disk", capacity=1024)
    with pytest.raises(strata.NoSpace) as e:
        pool.migrate("sim/a", to="small")
    assert "small" in str(e.value)
    np.testing.assert_array_equal(nd[:, :], np.ones((64, 64)))


def _run_child(code, env_extra, pool_path):
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), pool_path],
                          capture_output=True, text=True, env=env, timeout=120)


FAULT_LIB = os.path.join(BUILD_TESTS, "libstrata_fault.so")


@pytest.mark.skipif(not os.path.exists(FAULT_LIB) or os.environ.get("STRATA_SANITIZED") == "1",
                    reason="the fault injector is built beside the release tests only")
@pytest.mark.parametrize("err,cls", [("EIO", "IOFailure"), ("ENOSPC", "NoSpace")])
def test_failing_disk_raises_and_publishes_nothing(pool_path, err, cls):
    strata.Pool(pool_path, create=True).close()
    code = """
        import sys, numpy as np, strata
        try:
            with strata.Pool(sys.argv[1]) as p:
                with p.create_dataset("t/d", {"v": "i64"}).writer() as w:
                    w.append(v=np.arange(1000))
        except strata.Error as e:
            print(type(e).__name__, e.errname, "|", e)
        else:
            print("no error")
    """
    # walk the fault over the counted calls until one lands in the batch's writes
    seen = set()
    for at in range(1, 40):
        r = _run_child(code, {"LD_PRELOAD": FAULT_LIB, "STRATA_FAULT_PREFIX": pool_path,
                              "STRATA_FAULT_AT": str(at), "STRATA_FAULT_ERR": err}, pool_path)
        assert r.returncode == 0, r.stderr
        seen.add(r.stdout.split()[0] if r.stdout else "")
        if r.stdout.startswith(cls):
            assert f"STRATA_{err} |" in r.stdout
            assert pool_path in r.stdout, r.stdout  # the message says where
            break
    else:
        pytest.fail(f"no {cls} in {seen}")
    with strata.Pool(pool_path) as p:  # whatever failed, nothing half-written is visible
        try:
            assert p.dataset("t/d").num_rows in (0,)
        except strata.NotFound:
            pass
        assert not p.check()


def test_memory_limit_is_out_of_memory(pool_path):
    strata.Pool(pool_path, create=True).close()
    code = """
        import resource, sys, strata
        with strata.Pool(sys.argv[1]) as p:
            a = p.create_array("t/huge", "u8", 3 << 30)   # 3 GiB, sparse on disk
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
            try:
                p.array("t/huge")                         # mapping it needs 3 GiB of address space
            except strata.OutOfMemory as e:
                print("OutOfMemory", e.errname, "|", e)
            except strata.Error as e:
                print("other", type(e).__name__, e)
    """
    if os.environ.get("STRATA_SANITIZED") == "1":
        pytest.skip("ASan reserves terabytes of address space: RLIMIT_AS cannot apply")
    r = _run_child(code, {}, pool_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OutOfMemory STRATA_ENOMEM |"), r.stdout
    assert "t/huge" in r.stdout or "map" in r.stdout


def test_read_only_file_system_is_permission_denied(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    with strata.Pool(str(rw / "p"), create=True) as p:
        p.create_array("t/a", data=np.arange(4, dtype=np.int64))
    if subprocess.run(["mount", "--bind", str(rw), str(ro)], capture_output=True).returncode:
        pytest.skip("mounts are not allowed here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)],
                          capture_output=True).returncode:
            pytest.skip("read-only remounts are not allowed here")
        with strata.Pool(str(ro / "p")) as p:
            with p.array("t/a") as a:
                np.testing.assert_array_equal(a[:], np.arange(4))  # reads work
                with pytest.raises(strata.PermissionDenied) as e:
                    a.numpy(writable=True)
                assert e.value.errname == "STRATA_EPERM"
            with pytest.raises(strata.Error) as e:
                p.create_array("t/b", "i64", 1)
            assert isinstance(e.value, (strata.PermissionDenied, strata.IOFailure))
            assert "read-only" in str(e.value).lower() or "permission" in str(e.value).lower()
        assert p.closed
    finally:
        # every file of the pool is closed now; a lazy unmount still detaches it if a test
        # failure left one open, so that no mount outlives the test
        if subprocess.run(["umount", str(ro)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(ro)], capture_output=True)
    assert str(ro) not in open("/proc/self/mounts").read()
