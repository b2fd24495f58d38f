"""The MDMS layer from Python: applications, runs, saving and loading by name, iteration and
access pattern, the catalog queries (runs, find, explain), tools, and MPI through mpi4py."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import strata


def field(it, shape=(6, 8)):
    """The data of iteration IT: distinct values per iteration, negative ones included."""
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float64).reshape(shape) - 7.5) * (it + 1) + 0.25 * it


@pytest.fixture
def app(pool):
    pool.register_app("sim", grid=int, dt=float, solver=str)
    return pool


def save_run(pool, iterations=3, pattern="(BLOCK,*)", storage=None, **attrs):
    """One run of 'sim' saving 'temp' (f64 6x8) and 'pres' (f64 6x8); returns its id."""
    with pool.mdms("sim") as m:
        with m.run(**attrs) as run:
            with m.create(["temp", "pres"], "f64", (6, 8), pattern, storage) as a:
                for it in range(iterations):
                    a.save("temp", it, field(it))
                    a.save("pres", it, -field(it))
    return run


# ---- applications --------------------------------------------------------------------------------

def test_register_schema_apps(pool):
    pool.register_app("sim", grid=int, dt="float", solver="text", tag=str)
    assert pool.app_schema("sim") == {"grid": "int", "dt": "float", "solver": "text",
                                      "tag": "text"}
    assert list(pool.app_schema("sim")) == ["grid", "dt", "solver", "tag"]
    pool.register_app("sim", steps=int)               # again: adds an attribute
    assert list(pool.app_schema("sim")) == ["grid", "dt", "solver", "tag", "steps"]
    pool.register_app("bare")
    assert pool.app_schema("bare") == {}
    pool.create_array("plain/a", "i64", 3)            # a region that is no application
    assert sorted(pool.apps()) == ["bare", "sim"]


def test_register_errors(pool):
    pool.register_app("sim", grid=int)
    with pytest.raises(strata.TypeMismatch, match="'grid' is registered as INTEGER"):
        pool.register_app("sim", grid=float)
    assert pool.app_schema("sim") == {"grid": "int"}
    with pytest.raises(strata.InvalidArgument, match="attribute 'x': <class 'list'> is not a run "
                                                     "attribute type"):
        pool.register_app("sim", x=list)
    with pytest.raises(strata.BadName, match="'min' is reserved"):
        pool.register_app("sim", min=int)
    with pytest.raises(strata.NotFound, match="application 'nope' not found"):
        pool.app_schema("nope")
    pool.create_array("plain/a", "i64", 3)
    with pytest.raises(strata.NotFound, match="'plain' is a region but not a registered"):
        pool.app_schema("plain")


# ---- saving, querying, loading ---------------------------------------------------------------------

def test_save_find_load(app, cli, pool_path):
    run = save_run(app, grid=64, dt=0.5, solver="cg")
    runs = app.runs("sim")
    assert len(runs) == 1
    r = runs[0]
    assert r["id"] == run and r["app"] == "sim" and r["status"] == "done" and r["nprocs"] == 1
    assert (r["grid"], r["dt"], r["solver"]) == (64, 0.5, "cg")
    assert r["ended_ns"] >= r["started_ns"] > 0
    assert r["user"] and r["host"]

    rows = app.find("sim")
    assert [(e["run"], e["dataset"], e["iteration"]) for e in rows] == \
        [(run, ds, it) for ds in ("pres", "temp") for it in range(3)]
    for e in rows:
        x = field(e["iteration"]) * (1 if e["dataset"] == "temp" else -1)
        assert e["shape"] == (6, 8) and e["dtype"] == "f64" and e["app"] == "sim"
        assert e["min"] == x.min() and e["max"] == x.max()
        assert e["mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert e["std"] == pytest.approx(x.std(), rel=1e-12)
        hist, _ = np.histogram(x, bins=32, range=(x.min(), x.max()))
        assert e["hist"] == hist.tolist()
        assert x.nbytes < e["bytes"] <= x.nbytes + 4096      # the NPY file, with its header
        assert e["layout"] == "row-major" and e["tier"] == "default"
        assert e["array"] == f"{e['dataset']}.r{run}.i{e['iteration']}"
        assert e["strategy"] == "contiguous" and e["nprocs"] == 1 and e["created_ns"] > 0
    # the same rows as the CLI's
    out = json.loads(cli(pool_path, "--json", "find", "sim"))["datasets"]
    assert [(d["run"], d["dataset"], d["iteration"], d["min"], d["max"]) for d in out] == \
        [(e["run"], e["dataset"], e["iteration"], e["min"], e["max"]) for e in rows]

    with app.mdms("sim") as m:
        with m.open(run, ["temp", "pres"], "(*,BLOCK)") as a:
            assert a.shape == (6, 8) and a.local_shape == (6, 8) and a.run == run
            assert a.dtype == np.float64 and a.names == ["temp", "pres"]
            for it in range(3):
                got = a.load("temp", it)
                assert got.dtype == np.float64 and got.shape == (6, 8)
                np.testing.assert_array_equal(got, field(it))
                np.testing.assert_array_equal(a.load("pres", it), -field(it))
            out = np.empty((6, 8))
            assert a.load("temp", 2, out=out) is out
            np.testing.assert_array_equal(out, field(2))
            idx = np.array([47, 0, 9, 9], dtype=np.int64)
            np.testing.assert_array_equal(a.load_list("temp", 1, idx), field(1).ravel()[idx])
            plan = a.last()
            assert plan["procs"] == 1 and plan["seconds"] >= 0
            assert set(plan) == {"strategy", "reason", "prefetch", "prestage", "procs",
                                 "requests", "bytes", "useful", "estimate", "seconds"}


def test_runs_where_and_frames(app):
    r1 = save_run(app, iterations=1, grid=32, dt=0.1, solver="cg")
    r2 = save_run(app, iterations=2, grid=64, dt=0.2, solver="gmres")
    r3 = save_run(app, iterations=1, grid=64)              # dt, solver not given: None
    assert [r["id"] for r in app.runs("sim")] == [r3, r2, r1]          # newest first
    assert [r["id"] for r in app.runs("sim", where="grid = 64")] == [r3, r2]
    assert [r["id"] for r in app.runs("sim", where="solver = 'cg' or dt > 0.15")] == [r2, r1]
    assert app.runs("sim", where="grid > 1000") == []
    third = app.runs("sim", where=f"run = {r3}")[0]
    assert third["dt"] is None and third["solver"] is None

    df = app.runs("sim", as_frame=True)
    assert list(df["id"]) == [r3, r2, r1] and list(df["grid"]) == [64, 64, 32]
    assert {"id", "app", "user", "host", "status", "started_ns", "ended_ns", "nprocs", "grid",
            "dt", "solver"} <= set(df.columns)
    empty = app.runs("sim", where="grid > 1000", as_frame=True)
    assert len(empty) == 0 and "solver" in empty.columns

    # find: the iterations whose data passes a condition, checked against numpy
    want = [(r, it) for r, n in ((r1, 1), (r2, 2), (r3, 1)) for it in range(n)
            if field(it).max() > 50]
    got = app.find("sim", dataset="temp", where="max > 50")
    assert [(e["run"], e["iteration"]) for e in got] == want and want
    got = app.find("sim", dataset="temp", where="grid = 64 and iteration >= 1")
    assert [(e["run"], e["iteration"]) for e in got] == [(r2, 1)]
    df = app.find("sim", where="dataset = 'pres'", as_frame=True)
    assert list(df["dataset"].unique()) == ["pres"] and len(df) == 4
    np.testing.assert_allclose(df["min"], [(-field(it)).min() for it in (0, 0, 1, 0)])
    assert len(app.find("sim", where="min > 1e9", as_frame=True).columns) == 20


def test_open_by_query_and_last(app):
    r1 = save_run(app, iterations=1, grid=32)
    r2 = save_run(app, iterations=2, grid=64)
    with app.mdms("sim") as m:
        with m.open("grid = 32", "temp", "(*,*)") as a:
            assert a.run == r1
        with m.open("last", "pres", "(*,*) sequential") as a:
            assert a.run == r2
            np.testing.assert_array_equal(a.load("pres", 0), -field(0))
            np.testing.assert_array_equal(a.load("pres", 1), -field(1))
        with pytest.raises(strata.NotFound, match="run 999 of 'sim' not found"):
            m.open(999, "temp", "(*,*)")
        with pytest.raises(strata.NotFound, match=f"run {r2} of 'sim' has no dataset 'wind'"):
            m.open(r2, "wind", "(*,*)")


def test_patterns_and_storage(app):
    # column-major and chunked storage, a cyclic pattern: the data comes back the same
    for storage in ("column-major", "chunked(4,3)"):
        run = save_run(app, iterations=2, pattern="(CYCLIC(2),*)", storage=storage, grid=1)
        with app.mdms("sim") as m, m.open(run, "temp", "(BLOCK,CYCLIC)") as a:
            np.testing.assert_array_equal(a.load("temp", 1), field(1))
        layouts = {e["layout"] for e in app.find("sim", where=f"run = {run}")}
        assert layouts == {storage.split("(")[0]}


def test_integer_dtype_and_global_index(app):
    with app.mdms("sim") as m:
        with m.run(grid=3) as run:
            with m.create("count", np.int32, [5, 4, 3], "(*,BLOCK,*)") as a:
                assert a.dtype == np.int32 and a.shape == (5, 4, 3)
                full = np.arange(60, dtype=np.int32).reshape(5, 4, 3)
                # one process: the piece is the whole array, global == local
                for d in range(3):
                    np.testing.assert_array_equal(a.global_index(d), np.arange(a.shape[d]))
                assert [s.tolist() for s in a.global_slices()] == [list(range(n)) for n in
                                                                   (5, 4, 3)]
                a.save("count", 0, full.tolist())          # a list converts exactly
                with pytest.raises(strata.OutOfRange, match="dimension 3 is out of range"):
                    a.global_index(3)
        with m.open(run, "count", "(*,*,*)") as a:
            got = a.load("count", 0)
            assert got.dtype == np.int32
            np.testing.assert_array_equal(got, full)
    e = app.find("sim", dataset="count")[0]
    assert e["dtype"] == "i32" and (e["min"], e["max"]) == (0, 59)
    assert e["mean"] == pytest.approx(29.5)


def test_save_errors(app):
    with app.mdms("sim") as m:
        with pytest.raises(strata.InvalidArgument, match="no run of 'sim' is open"):
            m.create("temp", "f64", (6, 8), "(*,*)")
        with m.run(grid=1):
            with pytest.raises(strata.InvalidArgument, match="still open"):
                m.begin_run(grid=2)
            with pytest.raises(strata.InvalidArgument,
                               match=r"bad access pattern '\(FOO,\*\)' at column 2"):
                m.create("temp", "f64", (6, 8), "(FOO,*)")
            with pytest.raises(strata.InvalidArgument, match="shape: dimension 1 must be"):
                m.create("temp", "f64", (6, 0), "(*,*)")
            with pytest.raises(strata.InvalidArgument, match="not a data type"):
                m.create("temp", "float128x", (6, 8), "(*,*)")
            with m.create("temp", "f64", (6, 8), "(*,*)") as a:
                with pytest.raises(strata.InvalidArgument,
                                   match=r"the data has shape \(8, 6\) but this process's "
                                         r"piece is \(6, 8\)"):
                    a.save("temp", 0, np.zeros((8, 6)))
                with pytest.raises(strata.TypeMismatch, match="values of type complex128 do "
                                                              "not fit f64"):
                    a.save("temp", 0, np.zeros((6, 8), complex))
                with pytest.raises(strata.InvalidArgument, match="iteration -1 is negative"):
                    a.save("temp", -1, field(0))
                with pytest.raises(strata.NotFound, match="dataset 'wind' is not in this "
                                                          r"association \(its datasets: "):
                    a.save("wind", 0, field(0))
                a.save("temp", 0, field(0))
                with pytest.raises(strata.Exists):
                    a.save("temp", 0, field(0))
                with pytest.raises(strata.NotFound, match="iteration 5"):
                    a.load("temp", 5)
                np.testing.assert_array_equal(a.load("temp", 0), field(0))   # read back
            assert a.closed
            with pytest.raises(strata.InvalidArgument, match="the association is closed"):
                a.save("temp", 1, field(1))


def test_run_attribute_errors(app):
    with app.mdms("sim") as m:
        with pytest.raises(strata.TypeMismatch, match="'grid' of 'sim' is int in the run "
                                                      "schema, the value given is text"):
            m.begin_run(grid="big")
        with pytest.raises(strata.InvalidArgument, match="'wind' is not in the run schema of "
                                                         "'sim'"):
            m.begin_run(wind=3)
        with pytest.raises(strata.TypeMismatch, match="a value of <class 'list'> is not"):
            m.begin_run(grid=[1])
        with pytest.raises(strata.InvalidArgument, match="as keywords"):
            m.begin_run(3)
        run = m.begin_run(grid=np.int64(7), dt=1)           # an int converts to a float attr
        assert m.run_id == run
        m.end_run()
        assert m.run_id is None
    r = app.runs("sim")[0]
    assert (r["grid"], r["dt"]) == (7, 1.0) and isinstance(r["dt"], float)


def test_failed_run_and_close(app):
    with pytest.raises(RuntimeError):
        with app.mdms("sim") as m:
            with m.run(grid=1) as run:
                raise RuntimeError("solver diverged")
    assert app.runs("sim", where=f"run = {run}")[0]["status"] == "failed"
    assert m.closed and "closed" in repr(m)
    with pytest.raises(strata.InvalidArgument, match="the Mdms is closed"):
        m.begin_run(grid=1)
    # close() closes open associations first; the run ends as done
    m = app.mdms("sim")
    run = m.begin_run(grid=2)
    a = m.create("temp", "f64", (6, 8), "(*,*)")
    a.save("temp", 0, field(0))
    assert repr(m) == f"<strata.Mdms 'sim' rank 0 of 1, run {run}>"
    assert repr(a) == (f"<strata.Assoc run {run} ['temp'] f64 (6, 8) '(*,*)', local (6, 8)>")
    m.close()
    assert a.closed and m.closed
    assert app.runs("sim", where=f"run = {run}")[0]["status"] == "done"
    with pytest.raises(strata.NotFound, match="application 'nope' not found"):
        app.mdms("nope")


def test_explain(app):
    run = save_run(app, iterations=1, grid=1)
    plan = app.explain("sim", run, "temp", "(BLOCK,*)", procs=2)
    assert plan["strategy"] == "contiguous" and plan["procs"] == 2
    assert plan["useful"] == 6 * 8 * 8 and plan["bytes"] == plan["useful"]
    assert plan["requests"] == 2 and plan["estimate"] > 0
    assert "contiguous" in plan["reason"]
    assert plan["prefetch"] is False and plan["prestage"] is False
    plan = app.explain("sim", run, "temp", "(*,BLOCK) sequential", procs=4)
    assert plan["strategy"] in ("sieve", "independent", "collective") and plan["prefetch"]
    assert plan["useful"] == 6 * 8 * 8
    with pytest.raises(strata.InvalidArgument, match=r"bad access pattern '\(FOO\)' at column 2"):
        app.explain("sim", run, "temp", "(FOO)")
    # the planner's choice forced for experiments (the strata command: STRATA_IO_STRATEGY)
    app.set_io_strategy("independent,noprefetch")
    plan = app.explain("sim", run, "temp", "(*,BLOCK) sequential", procs=4)
    assert plan["strategy"] == "independent" and not plan["prefetch"]
    assert "(forced by STRATA_IO_STRATEGY)" in plan["reason"]
    with pytest.raises(strata.InvalidArgument, match="unknown strategy 'fast'"):
        app.set_io_strategy("independent,fast")
    assert app.explain("sim", run, "temp", "(*,BLOCK) sequential", procs=4)["strategy"] == \
        "independent"  # a refused setting changes nothing
    app.set_io_strategy(None)
    assert app.explain("sim", run, "temp", "(*,BLOCK) sequential", procs=4)["prefetch"]
    with pytest.raises(strata.NotFound, match="run 999 of 'sim' not found"):
        app.explain("sim", 999, "temp", "(*,*)")
    with pytest.raises(strata.InvalidArgument, match="procs must be >= 1"):
        app.explain("sim", run, "temp", "(*,*)", procs=0)


def test_query_errors(app):
    with pytest.raises(strata.InvalidArgument,
                       match="bad condition 'grid = = 3' at column 8: expected a number"):
        app.runs("sim", where="grid = = 3")
    with pytest.raises(strata.InvalidArgument, match="bad condition 'max >' at column 6"):
        app.find("sim", where="max >")
    with pytest.raises(strata.NotFound, match="application 'nope' not found"):
        app.runs("nope")
    with pytest.raises(strata.NotFound, match="application 'nope' not found"):
        app.find("nope", as_frame=True)


def test_tools(pool, cli, pool_path):
    assert pool.tools() == []
    pool.register_tool("viz", "image", "viewer --file {file}")
    pool.register_tool("avg", "analysis", "python3 avg.py")
    pool.register_tool("viz", "image", "viewer2 {file}")               # replaced
    assert pool.tools() == [{"name": "avg", "kind": "analysis", "command": "python3 avg.py"},
                            {"name": "viz", "kind": "image", "command": "viewer2 {file}"}]
    assert json.loads(cli(pool_path, "--json", "tool", "ls"))["tools"] == pool.tools()


def test_threads_share_an_mdms_pool(app):
    """Saves (GIL released) while other threads query the same pool."""
    run = save_run(app, iterations=1, grid=1)
    errors = []

    def query():
        try:
            for _ in range(50):
                assert app.find("sim", dataset="temp", where=f"run = {run}")[0]["iteration"] == 0
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=query) for _ in range(3)]
    for t in threads:
        t.start()
    with app.mdms("sim") as m, m.run(grid=2) as run2, \
            m.create("big", "f64", (256, 256), "(*,*)") as a:
        for it in range(5):
            a.save("big", it, np.full((256, 256), float(it)))
    for t in threads:
        t.join()
    assert errors == []
    assert [e["max"] for e in app.find("sim", dataset="big", where=f"run = {run2}")] == \
        [0.0, 1.0, 2.0, 3.0, 4.0]


def test_help_and_comm_argument(pool):
    for obj in (strata.Mdms, strata.Assoc, strata.Pool.mdms, strata.Pool.runs,
                strata.Pool.find, strata.Pool.explain, strata.Pool.register_app,
                strata.Assoc.save, strata.Assoc.load, strata.Mdms.run):
        assert obj.__doc__ and len(obj.__doc__) > 40, obj
    pool.register_app("sim")
    with pytest.raises(strata.InvalidArgument, match="comm must be an mpi4py communicator"):
        pool.mdms("sim", comm=42)


# ---- several processes: mpi4py under mpirun -----------------------------------------------------

MPI_PROGRAM = textwrap.dedent("""
    import os
    import sys
    import numpy as np
    from mpi4py import MPI
    import strata

    comm = MPI.COMM_WORLD
    path = sys.argv[1]
    full = np.arange(8 * 6, dtype=np.float64).reshape(8, 6) * 1.5 - 10
    with strata.Pool(path) as pool, pool.mdms("sim", comm=comm) as m:
        assert (m.rank, m.size) == (comm.rank, comm.size), (m.rank, m.size)
        with m.run(grid=8) as run:
            with m.create("temp", "f64", (8, 6), "(BLOCK,*)") as a:
                assert a.local_shape == (4, 6), a.local_shape
                for it in range(2):
                    a.save("temp", it, full[np.ix_(*a.global_slices())] * (it + 1))
        with m.open(run, "temp", "(*,CYCLIC)") as r:
            assert r.local_shape == (8, 3), r.local_shape
            got = r.load("temp", 1)
            want = (full * 2)[np.ix_(*r.global_slices())]
            assert (got == want).all()
            assert r.global_slices()[1].tolist() == list(range(comm.rank, 6, 2))
        # one file per rank: the ranks' stdout lines interleave under mpirun
        with open(os.path.join(sys.argv[2], "rank%d" % comm.rank), "w") as f:
            f.write("rank %d run %d ok" % (comm.rank, run))
""")


def test_mpi_two_processes(app, pool_path, tmp_path):
    if os.environ.get("STRATA_SANITIZED"):
        pytest.skip("the sanitizer build preloads ASan, which mpirun's daemons do not take")
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("mpirun not found (apt-get install openmpi-bin)")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py not installed (apt-get install python3-mpi4py)")
    # a clean environment: no Open MPI singleton variables of this process (if it ran MPI)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMIX_", "PRTE_", "OPAL_"))}
    # does this libstrata have MPI? a communicator is refused with Unsupported otherwise
    probe = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from mpi4py import MPI
        import strata
        with strata.Pool({pool_path!r}) as p:
            try:
                p.mdms("sim", comm=MPI.COMM_SELF).close()
            except strata.Unsupported:
                print("no-mpi")
        """)], capture_output=True, text=True, timeout=120, env=env)
    assert probe.returncode == 0, probe.stderr
    if "no-mpi" in probe.stdout:
        pytest.skip("libstrata was built without MPI")
    prog = tmp_path / "mdms_mpi.py"
    prog.write_text(MPI_PROGRAM)
    r = subprocess.run([mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2",
                        sys.executable, str(prog), pool_path, str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = sorted((tmp_path / f"rank{i}").read_text() for i in range(2))
    assert [line.split()[::2] for line in lines] == [["rank", "run", "ok"]] * 2, r.stdout
    runs = app.runs("sim")
    assert runs[0]["nprocs"] == 2 and runs[0]["status"] == "done"
    rows = app.find("sim", dataset="temp")
    full = np.arange(8 * 6, dtype=np.float64).reshape(8, 6) * 1.5 - 10
    assert [(e["min"], e["max"]) for e in rows] == [(full.min(), full.max()),
                                                    (2 * full.min(), 2 * full.max())]
    assert all(e["nprocs"] == 2 for e in rows)
    # the parent process reads the whole array the two processes saved
    with app.mdms("sim") as m, m.open(runs[0]["id"], "temp", "(*,*)") as a:
        np.testing.assert_array_equal(a.load("temp", 0), full)
