#!/usr/bin/env python3
"""numpy on bench_ops's keys: np.sort, np.argsort(kind="stable"), and the filter (the positions of
a 25 % mask, made as bench_ops makes it). Prints "key value" lines (best of 3; sorts once when
slow)."""
import sys
import time

import numpy as np

k = np.load(sys.argv[1])


def best(fn, reps):
    t = 1e30
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


t, _ = best(lambda: np.sort(k), 1)
print(f"numpy_sort_s {t:.6f}")
t, p = best(lambda: np.argsort(k, kind="stable"), 1)
print(f"numpy_argsort_s {t:.6f}")
n = len(k)
print(f"numpy_argsort_check {int(sum(int(k[p[i]]) & 1023 for i in range(0, n, n // 1000 + 1)))}")
# the same mask as bench_ops: bits of the xorshift state are not available here, so time the
# filter on a mask of the same density
mask = (np.random.default_rng(1).integers(0, 4, n) == 0)
t, _ = best(lambda: np.flatnonzero(mask), 3)
print(f"numpy_filter_s {t:.6f}")
b = k >> 3
t, _ = best(lambda: k - b, 3)
print(f"numpy_sub_s {t:.6f}")
t, sel = best(lambda: np.flatnonzero(k > 4611686018427387904), 3)
print(f"numpy_expr_filter_s {t:.6f}")
print(f"numpy_expr_filter_selected {len(sel)}")
