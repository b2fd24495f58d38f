#!/usr/bin/env bash
# Sort, argsort and filter kernels vs numpy on the same N random i64 keys, in one run.
#     bench/bench_ops.sh [BUILD_DIR] [N] [RANGE]   (defaults: build/release, 50000000, full 64 bits)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
N=${2:-50000000}
RANGE=${3:-0}
if [ ! -x "$BUILD/bench/bench_ops" ]; then
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j "$(nproc)" --target bench_ops >/dev/null
fi
base=${STRATA_BENCH_DIR:-/dev/shm}
D=$(mktemp -d "$base/strata-ops-XXXXXX")
trap 'rm -rf "$D"' EXIT
out=$D/results
"$BUILD/bench/bench_ops" "$D" "$N" "$RANGE" >"$out"
/usr/bin/python3 bench/numpy_ops.py "$(awk '$1 == "keys_path" { print $2 }' "$out")" >>"$out"
awk -v range="$RANGE" '
    { v[$1] = $2 }
    function row(name, ours, peer, peername) {
        printf "  %-22s %9.3f s   %-30s %9.3f s   ratio %6.2fx\n", name, v[ours], peername, v[peer], v[peer] / v[ours]
    }
    END {
        printf "%d i64 keys (%s), 2 threads:\n", v["n"], range == 0 ? "full 64-bit range" : "in [0, " range ")"
        row("st_sort", "sort_s", "numpy_sort_s", "np.sort")
        row("st_argsort (stable)", "argsort_s", "numpy_argsort_s", "np.argsort(kind=stable)")
        row("st_filter_mask (25%)", "filter_s", "numpy_filter_s", "np.flatnonzero")
        row("expr a - b", "expr_sub_s", "numpy_sub_s", "numpy a - b")
        row("filter a > c (expr+compact)", "expr_filter_s", "numpy_expr_filter_s", "np.flatnonzero(a > c)")
        if (v["expr_filter_selected"] != v["numpy_expr_filter_selected"]) print "  WARNING: filter counts differ"
        if (v["argsort_check"] != v["numpy_argsort_check"]) print "  WARNING: argsort results differ"
        print "targets: sort/argsort >= 10x numpy; filter, gather, expr >= 2x numpy"
    }' "$out"
