"""The Python snippets of `strata serve` (GET /api/codegen/REGION/NAME?lang=python): fetched over
HTTP from a server on a loopback port, run with the interpreter, and their output checked against
the data; names and the pool's path (quotes, backslashes, non-ASCII) become exact Python literals."""
import ast
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

import strata

PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(strata.__file__)))

# a region and names that need quoting (names may not hold '/' or '\'; the pool's path may)
HR = "q'\"r é"
HA = "a'b\"c d"
F = np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5 - 1
A = np.array([3, -1, 4, 1, 5, 9], dtype=np.int64)
T = np.arange(6, dtype=np.float32).reshape(2, 3) - 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A pool (made with the CLI, and the MDMS part with Python) under a directory whose name has
    quotes and a backslash, and a server on it: (url, pool path, workdir)."""
    exe = os.environ.get("STRATA_CLI")
    if not exe:
        pytest.skip("STRATA_CLI not set (run through ctest)")
    base = tmp_path_factory.mktemp("snip")
    d = base / "po'ol \\ \"dir\" é"
    d.mkdir()
    path = str(d / "pool")

    def cli(*args):
        r = subprocess.run([exe, "-P", path, *args], capture_output=True, text=True)
        assert r.returncode == 0, f"strata {args}: {r.stderr}"

    np.save(base / "f.npy", F)
    np.save(base / "a.npy", A)
    (base / "s.txt").write_text("alpha\nbeta\ngamma\n")
    (base / "trips.csv").write_text("fare,zone\n10,a\n-2.5,b\n40,c\n")
    cli("init")
    cli("array", "create", "lab/a", "--from", str(base / "a.npy"))
    cli("array", "create", "lab/s", "str", "--from", str(base / "s.txt"))
    cli("array", "create", f"{HR}/{HA}", "--from", str(base / "a.npy"))
    cli("nd", "create", "lab/f", "--dtype", "f64", "--shape", "3,4", "--chunks", "2,2")
    cli("nd", "write", "lab/f", "--from", str(base / "f.npy"), "--start", "0,0")
    cli("nd", "create", f"{HR}/{HA}-nd", "--dtype", "f64", "--shape", "3,4", "--chunks", "3,4")
    cli("nd", "write", f"{HR}/{HA}-nd", "--from", str(base / "f.npy"), "--start", "0,0")
    cli("ingest", "taxi/trips", str(base / "trips.csv"))
    with strata.Pool(path) as pool:
        pool.register_app("sim", grid=int)
        with pool.mdms("sim") as m, m.run(grid=2) as run:
            with m.create("temp", "f32", (2, 3), "(*,*)") as a:
                a.save("temp", 0, T * 10)
                a.save("temp", 4, T)
    assert run == 1
    out = base / "serve.out"
    with open(out, "w") as o:
        proc = subprocess.Popen([exe, "-P", path, "serve", "--listen", "127.0.0.1:0",
                                 "--threads", "2"], stdout=o, stderr=subprocess.STDOUT)
    try:
        url = None
        for _ in range(200):
            m = re.search(r"http://[0-9.]+:[0-9]+", out.read_text())
            if m:
                url = m.group(0)
                break
            time.sleep(0.05)
        assert url, f"the server did not start: {out.read_text()}"
        work = base / "run"
        work.mkdir()
        yield url, path, work
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def get(url, region, name, **args):
    q = urllib.parse.urlencode(args)
    u = f"{url}/api/codegen/{urllib.parse.quote(region, safe='')}/" \
        f"{urllib.parse.quote(name, safe='')}?{q}"
    with urllib.request.urlopen(u, timeout=30) as r:
        assert r.status == 200
        return json.load(r)


def snippet(served, region, name, **args):
    url, _, _ = served
    d = get(url, region, name, lang="python", **args)
    assert d["lang"] == "python" and d["region"] == region and d["name"] == name
    return d["code"]


def run(served, code, fname="snippet.py"):
    _, _, work = served
    f = work / fname
    f.write_text(code)
    env = dict(os.environ, PYTHONPATH=PKG_DIR)
    r = subprocess.run([sys.executable, str(f)], capture_output=True, text=True, env=env,
                       cwd=str(work), timeout=120)
    assert r.returncode == 0, f"the snippet failed:\n{code}\n{r.stderr}"
    return r.stdout.splitlines()


def literals(code):
    """The NAME = 'literal' assignments of a snippet, evaluated (it must parse)."""
    out = {}
    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and \
                isinstance(node.value, ast.Constant):
            out[node.targets[0].id] = node.value.value
    return out


def test_array(served):
    code = snippet(served, "lab", "a")
    assert "pool.array(ARRAY)[:]" in code and code.isascii()
    assert run(served, code) == [f"{len(A)} elements, sum {A.sum()}"]
    code = snippet(served, "lab", "a", start=2, count=3)
    assert "pool.array(ARRAY)[2:5]" in code
    assert run(served, code) == [f"3 elements, sum {A[2:5].sum()}"]


def test_string_array(served):
    assert run(served, snippet(served, "lab", "s")) == ["3 strings, first alpha"]
    assert run(served, snippet(served, "lab", "s", start=1, count=2)) == ["2 strings, first beta"]


def test_ndarray(served):
    if not hasattr(strata.Pool, "ndarray"):
        pytest.skip("strata.Pool has no ndarray() yet (the N-d arrays part of the package)")
    code = snippet(served, "lab", "f")
    assert "pool.ndarray(ARRAY)[:, :]" in code
    assert run(served, code) == [f"12 elements, shape (3, 4) first {F.flat[0]}"]
    code = snippet(served, "lab", "f", start="1,2", count="2,2")
    assert "pool.ndarray(ARRAY)[1:3, 2:4]" in code
    assert run(served, code) == [f"4 elements, shape (2, 2) first {F[1, 2]}"]


def test_mdms_iteration(served):
    code = snippet(served, "sim", "temp.r1.i4")
    lit = literals(code)
    assert (lit["APP"], lit["DATASET"]) == ("sim", "temp")
    assert "RUN, ITERATION = 1, 4" in code and "m.open(RUN, [DATASET], PATTERN)" in code
    assert lit["PATTERN"] == "(*,*)"
    out = run(served, code)
    assert out == [f"6 elements, shape (2, 3) min {T.min()} max {T.max()}",
                   f"catalog: min {float(T.min())} max {float(T.max())} mean {float(T.mean())}"]
    # a region of it is an N-d array snippet, not an MDMS load
    code = snippet(served, "sim", "temp.r1.i4", start="0,0", count="1,3")
    assert "pool.ndarray(ARRAY)[0:1, 0:3]" in code


def test_dataset_and_column(served):
    if not hasattr(strata.Pool, "dataset"):
        pytest.skip("strata.Pool has no dataset() yet (the datasets part of the package)")
    code = snippet(served, "taxi", "trips")
    assert "snap.to_pandas()" in code and literals(code)["COLUMN"] == "fare"
    assert run(served, code) == ["3 rows, sum of fare 47.5"]
    code = snippet(served, "taxi", "trips", column="fare")
    assert "snap[COLUMN]" in code
    assert run(served, code) == ["3 values, sum 47.5"]
    assert run(served, snippet(served, "taxi", "trips", column="zone")) == ["3 values, first a"]


def test_quoted_names_and_path(served):
    _, path, _ = served
    code = snippet(served, HR, HA)
    assert code.isascii()
    lit = literals(code)                       # it parses, and the literals are exact
    assert lit["POOL"] == path and lit["ARRAY"] == f"{HR}/{HA}"
    assert "\\\\" in code                      # the backslash of the path, escaped
    assert run(served, code) == [f"{len(A)} elements, sum {A.sum()}"]
    code = snippet(served, HR, HA + "-nd")
    lit = literals(code)
    assert lit["POOL"] == path and lit["ARRAY"] == f"{HR}/{HA}-nd"
    if hasattr(strata.Pool, "ndarray"):
        assert run(served, code) == [f"12 elements, shape (3, 4) first {F.flat[0]}"]
    # the comment line holds the name too, and stays one comment line
    assert all(line.startswith("#") for line in code.splitlines()[:2])


def test_errors(served):
    url, _, _ = served
    cases = [({"lang": "python", "start": "1,1", "count": "5,1"}, "lab", "f", 400,
              "region start 1 count 5 is not inside dimension 0 of length 3"),
             ({"lang": "python", "start": "1,1"}, "lab", "f", 400, "give both start= and count="),
             ({"lang": "python", "start": "x", "count": "1"}, "lab", "a", 400,
              "query argument start: need 1 whole numbers"),
             ({"lang": "python", "column": "nope"}, "taxi", "trips", 404,
              "dataset 'taxi/trips' has no column 'nope'"),
             ({"lang": "python", "column": "fare"}, "lab", "f", 400, "column= is for datasets"),
             ({"lang": "python"}, "lab", "nope", 404, "no dataset, array or N-d array 'lab/nope'"),
             ({"lang": "perl"}, "lab", "a", 400, "use c, shell or python")]
    for args, region, name, status, msg in cases:
        with pytest.raises(urllib.error.HTTPError) as e:
            get(url, region, name, **args)
        assert e.value.code == status
        body = json.load(e.value)
        assert msg in body["error"]["message"], body


def test_page_offers_python(served):
    url, _, _ = served
    with urllib.request.urlopen(url + "/static/app.js", timeout=30) as r:
        js = r.read().decode()
    assert "copy-python" in js and "'python'" in js
    # C and shell snippets of the same objects exist beside it
    for lang in ("c", "shell"):
        for region, name in (("lab", "a"), ("lab", "f"), ("sim", "temp.r1.i4")):
            assert get(url, region, name, lang=lang)["code"]
