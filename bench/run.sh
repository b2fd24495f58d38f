#!/usr/bin/env bash
# Run the array benchmark and its peers on the same data in one run, and print ratios.
#     bench/run.sh [BUILD_DIR] [N] [M]     (defaults: build/release, 100000000, 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
N=${2:-100000000}
M=${3:-10000000}
. bench/lib.sh
bench_build "$BUILD" bench/bench_array
bench_scratch bench
out=$D/results
echo "bench: $N-element i64 array, $M random indices, pool on $base, $(nproc) cores"
"$BUILD/bench/bench_array" "$D" "$N" "$M" >"$out"
get() { awk -v k="$1" '$1 == k { print $2 }' "$out"; }
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    /usr/bin/python3 bench/numpy_peer.py "$(get array_path)" "$(get idx_path)" "$(get vals_path)" >>"$out"
fi
awk '
    { v[$1] = $2 }
    function row(name, ours, peer, peername, sense) {
        if (v[peer] == "" || v[ours] == "") return
        r = v[peer] / v[ours]
        printf "  %-34s %9.1f ms   %-16s %9.1f ms   ratio %5.2fx\n", name, v[ours] * 1000, peername, v[peer] * 1000, r
    }
    END {
        mb = v["n"] * 8 / 1e6
        print "slices (" mb " MB), speed relative to the peer (>1: strata faster):"
        row("get (all threads)", "get_s", "memcpy_s", "memcpy")
        row("put (all threads)", "put_s", "memcpy_s", "memcpy")
        row("get (1 thread)", "get_1t_s", "memcpy_s", "memcpy")
        row("put (1 thread)", "put_1t_s", "memcpy_s", "memcpy")
        print "gather / scatter of " v["m"] " random indices:"
        row("gather (all threads)", "gather_s", "numpy_gather_s", "numpy a[idx]")
        row("scatter (all threads)", "scatter_s", "numpy_scatter_s", "numpy a[idx]=v")
        row("gather (1 thread)", "gather_1t_s", "numpy_gather_s", "numpy a[idx]")
        row("scatter (1 thread)", "scatter_1t_s", "numpy_scatter_s", "numpy a[idx]=v")
        row("get (all threads) vs numpy copyto", "get_s", "numpy_copy_s", "numpy copyto")
        printf "fetch_add: %.1f M ops/s (one process), %.1f M ops/s (two processes, one element)\n", v["fetch_add_ops_per_s"] / 1e6, v["fetch_add_2proc_contended_ops_per_s"] / 1e6
        print "targets: get/put >= 0.80x memcpy; gather/scatter >= 1.5x numpy"
    }' "$out"
