#!/usr/bin/env bash
# Column statistics: strata_snapshot_summary (count, min, max, mean, std, 32-bin histogram; two
# passes over the mapped batches) computed, and read from the catalog's cache, against numpy on
# the same column (np.load with mmap, then min, max, mean, std and np.histogram), same run.
#     bench/bench_summary.sh [BUILD_DIR] [N]      (defaults: build/release, 20000000 f64 values)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
N=${2:-20000000}
. bench/lib.sh
bench_build "$BUILD" strata bench/bench_summary
S=$PWD/$BUILD/strata
bench_scratch summary-bench
mkdir "$D/cols"
/usr/bin/python3 - "$D/cols/x.npy" "$N" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.random.default_rng(1).normal(100.0, 15.0, int(sys.argv[2])))
PY
"$S" -P "$D/pool" init >/dev/null
# three datasets of the same column, each in batches of 1 M rows: three uncached summaries
for k in 1 2 3; do
    "$S" -P "$D/pool" ingest bench/s$k "$D/cols" --batch-rows 1000000 >/dev/null 2>&1
done
"$BUILD/bench/bench_summary" "$D/pool" bench x s1 s2 s3 >"$D/ours"
/usr/bin/python3 - "$D/cols/x.npy" >"$D/numpy" <<'PY'
import sys, time, numpy as np
best = 1e30
for _ in range(3):
    t0 = time.perf_counter()
    a = np.load(sys.argv[1], mmap_mode="r")
    lo, hi, mean, std = a.min(), a.max(), a.mean(), a.std()
    hist, _ = np.histogram(a, bins=32, range=(lo, hi))
    best = min(best, time.perf_counter() - t0)
print("numpy_s %.6f" % best)
print("count %d\nmin %.17g\nmax %.17g\nmean %.17g\nstd %.17g" % (len(a), lo, hi, mean, std))
print("hist " + " ".join(str(int(h)) for h in hist))
PY
get() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
ours=$(get computed_s "$D/ours") cached=$(get cached_s "$D/ours") np=$(get numpy_s "$D/numpy")
echo "column statistics of $N f64 values (count, min, max, mean, std, 32-bin histogram):"
printf '  strata_snapshot_summary, computed  %9.4f s\n' "$ours"
printf '  strata_snapshot_summary, cached    %9.6f s\n' "$cached"
printf '  numpy (mmap load + 5 reductions)   %9.4f s\n' "$np"
awk -v a="$np" -v b="$ours" -v c="$cached" 'BEGIN { printf "  ratio numpy/strata: computed %.2fx, cached %.0fx\n", a / b, a / (c > 0 ? c : 1e-6) }'
# the same answers: count, min and max exactly, mean and std to 1e-9, the histogram within the
# bins' edge rounding (numpy computes its edges another way)
/usr/bin/python3 - "$D/ours" "$D/numpy" <<'PY'
import sys
def read(p):
    d = {}
    for line in open(p):
        k, *v = line.split()
        d[k] = v
    return d
a, b = read(sys.argv[1]), read(sys.argv[2])
f = lambda d, k: float(d[k][0])
assert a["count"] == b["count"] and f(a, "min") == f(b, "min") and f(a, "max") == f(b, "max")
for k in ("mean", "std"):
    assert abs(f(a, k) - f(b, k)) <= 1e-9 * abs(f(b, k)), (k, a[k], b[k])
diff = sum(abs(int(x) - int(y)) for x, y in zip(a["hist"], b["hist"]))
assert diff <= 64, ("histograms differ by", diff)
print("  same statistics as numpy (histograms differ by %d of %s values at bin edges)" % (diff, a["count"][0]))
PY
