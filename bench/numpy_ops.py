#!/usr/bin/env python3
"""numpy on bench_ops's data, in the same run: np.sort and np.argsort(kind="stable") of the N
keys; over the M rows, np.flatnonzero of the same 25 % mask, a[idx] at the selected and at random
rows, a - b and np.flatnonzero(a > c). Arguments: the *_path lines of bench_ops's output, as
key=path. Prints "key value" lines (best of 3; the sorts once)."""
import sys
import time

import numpy as np

paths = dict(a.split("=", 1) for a in sys.argv[1:])
keys = np.load(paths["keys_path"])
rows = np.load(paths["rows_path"])
mask = np.load(paths["mask_path"]).astype(bool)
ridx = np.load(paths["ridx_path"]).astype(np.int64)


def best(fn, reps):
    t = 1e30
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


t, _ = best(lambda: np.sort(keys), 1)
print(f"numpy_sort_s {t:.6f}")
t, p = best(lambda: np.argsort(keys, kind="stable"), 1)
print(f"numpy_argsort_s {t:.6f}")
n = len(keys)
print(f"numpy_argsort_check {int(sum(int(keys[p[i]]) & 1023 for i in range(0, n, n // 1000 + 1)))}")
del p
t, sel = best(lambda: np.flatnonzero(mask), 3)
print(f"numpy_filter_s {t:.6f}")
print(f"numpy_filter_selected {len(sel)}")
t, _ = best(lambda: rows[sel], 3)
print(f"numpy_gather_sel_s {t:.6f}")
t, g = best(lambda: rows[ridx], 3)
print(f"numpy_gather_rand_s {t:.6f}")
m = len(rows)
print(f"numpy_gather_check {int(sum(int(g[i]) & 1023 for i in range(0, m, m // 1000 + 1)))}")
del g
b = rows >> 3
t, _ = best(lambda: rows - b, 3)
print(f"numpy_sub_s {t:.6f}")
t, s2 = best(lambda: np.flatnonzero(rows > 4611686018427387904), 3)
print(f"numpy_expr_filter_s {t:.6f}")
print(f"numpy_expr_filter_selected {len(s2)}")
