#!/usr/bin/env python3
"""numpy on the same data as bench_array: fancy-index gather a[idx] and scatter a[idx] = v.

    numpy_peer.py ARRAY.npy IDX.npy VALS.npy

The files are the pool's own array files (valid NPY); they are loaded into memory first so that
numpy works on ordinary in-RAM arrays, as a numpy user would. Prints "key value" lines."""
import sys
import time

import numpy as np

REPS = 5


def best(fn):
    t = 1e30
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


a = np.load(sys.argv[1])
idx = np.load(sys.argv[2]).astype(np.int64)  # numpy's natural index type
vals = np.load(sys.argv[3])
print(f"numpy_version {np.__version__}")
print(f"numpy_gather_s {best(lambda: a[idx]):.6f}")


def scatter():
    a[idx] = vals


print(f"numpy_scatter_s {best(scatter):.6f}")
dst = np.empty_like(a)
print(f"numpy_copy_s {best(lambda: np.copyto(dst, a)):.6f}")
