"""The Python package against numpy on the same bytes, in the same run (best of REPEAT runs).

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py DIR [ROWS] [INDICES]

1. Reading a ROWS-row f64 column (default 100 M) from Python and summing it (so that every byte
   is touched): snap["fare"] of a dataset of 10 batches (one concatenation), of a dataset of one
   batch (a zero-copy view), and walking snap.batches() (zero-copy views per batch), against
   numpy.load(mmap_mode="r") of one NPY file of the same bytes, summed the same way.
   Goal: <= 1.1x numpy's time.
2. A gather of INDICES random indices (default 10 M) through a[idx] of a ROWS-element i64 array
   against numpy fancy indexing of the same array loaded in memory (np.load) and of its mapped
   NPY file (np.load(mmap_mode="r")). Goal: >= 1.5x faster than numpy.
Prints one line per measurement and the ratios (peer time / our time: > 1 means Strata is
faster).
"""
import os
import sys
import time

import numpy as np

import strata

REPEAT = 5


def best(fn):
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def drop_caches_of(arr):
    del arr


def main():
    d = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000_000
    m = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000_000
    path = os.path.join(d, "pool")
    rng = np.random.default_rng(42)
    fare = rng.random(rows) * 100.0
    npy = os.path.join(d, "fare.npy")
    np.save(npy, fare)
    expect = float(np.sum(fare))
    print(f"bench_python: {rows} rows, {m} random indices, {os.cpu_count()} cores, "
          f"pool in {d}")
    with strata.Pool(path, create=True) as pool:
        nb = 10
        per = rows // nb
        with pool.create_dataset("b/ten", {"fare": "f64"}).writer() as w:
            for i in range(nb):
                w.append(fare=fare[i * per:(i + 1) * per if i < nb - 1 else rows])
        with pool.create_dataset("b/one", {"fare": "f64"}).writer() as w:
            w.append(fare=fare)
        a = pool.create_array("b/a", data=np.arange(rows, dtype=np.int64) * 3)
        a_npy = a.info()["path"]
        del fare

        def numpy_mmap_sum():
            v = np.load(npy, mmap_mode="r")
            s = float(np.sum(v))
            assert abs(s - expect) <= 1e-6 * abs(expect)

        def column_sum(name):
            def run():
                with pool.dataset(name).snapshot() as snap:
                    s = float(np.sum(snap["fare"]))
                assert abs(s - expect) <= 1e-6 * abs(expect)
            return run

        def batches_sum():
            with pool.dataset("b/ten").snapshot() as snap:
                s = 0.0
                for b in snap.batches(["fare"]):
                    s += float(np.sum(b["fare"]))
            assert abs(s - expect) <= 1e-6 * abs(expect)

        t_np = best(numpy_mmap_sum)
        t_ten = best(column_sum("b/ten"))
        t_one = best(column_sum("b/one"))
        t_bat = best(batches_sum)
        print(f"column read + sum: numpy.load(mmap_mode='r') {t_np * 1e3:8.1f} ms")
        for label, t in [("snap['fare'], 10 batches (concatenated)", t_ten),
                         ("snap['fare'], 1 batch (zero copy)", t_one),
                         ("snap.batches(), 10 batches (zero copy)", t_bat)]:
            print(f"  {label:42s} {t * 1e3:8.1f} ms   time vs numpy {t / t_np:5.2f}x "
                  f"(goal <= 1.10x)")

        idx = rng.integers(0, rows, m)
        in_memory = np.load(a_npy)
        mapped = np.load(a_npy, mmap_mode="r")
        ref = in_memory[idx]
        np.testing.assert_array_equal(a[idx], ref)
        t_ours = best(lambda: a[idx])
        t_mem = best(lambda: in_memory[idx])
        t_map = best(lambda: mapped[idx])
        print(f"gather of {m} random indices: a[idx] {t_ours * 1e3:8.1f} ms")
        print(f"  numpy fancy indexing, in memory   {t_mem * 1e3:8.1f} ms   ratio "
              f"{t_mem / t_ours:5.2f}x (goal >= 1.5x)")
        print(f"  numpy fancy indexing, np.load mmap {t_map * 1e3:8.1f} ms   ratio "
              f"{t_map / t_ours:5.2f}x")
        a.close()


if __name__ == "__main__":
    main()
