#!/usr/bin/env python3
"""pandas and numpy on the same files as strata: read_csv of the CSV, numpy.load of a column.

    pandas_peer.py FILE.csv COLUMN.npy

Prints "key value" lines (best of 3 for numpy.load; one read_csv, it is slow)."""
import sys
import time

import numpy as np
import pandas as pd

t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1])
print(f"pandas_csv_s {time.perf_counter() - t0:.6f}")
print(f"pandas_rows {len(df)}")
best = 1e30
for _ in range(3):
    t0 = time.perf_counter()
    a = np.load(sys.argv[2])
    best = min(best, time.perf_counter() - t0)
print(f"numpy_load_s {best:.6f}")
print(f"numpy_load_sum {int(a.sum())}")
