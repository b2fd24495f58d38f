#!/usr/bin/env bash
# The kernels of derived data against their peers on the same data, in one run: sort and stable
# argsort of N random i64 keys (numpy; DuckDB ORDER BY with 2 threads; Highway's vqsort on one
# thread and ips4o on 2, from bench/peers/sort_peers.cc when libhwy-dev and libips4o-dev are
# installed); filter compaction, gathers and expressions over M rows (numpy).
#     bench/bench_ops.sh [BUILD_DIR] [N] [RANGE] [M]
#     (defaults: build/release, 50000000, full 64 bits, 2 N)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
N=${2:-50000000}
RANGE=${3:-0}
M=${4:-$((2 * N))}
. bench/lib.sh
bench_build "$BUILD" bench/bench_ops
bench_scratch ops
out=$D/results
"$BUILD/bench/bench_ops" "$D" "$N" "$RANGE" "$M" >"$out"
/usr/bin/python3 bench/numpy_ops.py $(awk '$1 ~ /_path$/ { print $1 "=" $2 }' "$out") >>"$out"
if [ -x "$BUILD/bench/sort_peers" ]; then
    "$BUILD/bench/sort_peers" "$(awk '$1 == "keys_path" { print $2 }' "$out")" 2 3 >>"$out"
fi
if duckdb_ready; then
    node bench/node/duckdb_sort.mjs "$(awk '$1 == "keys_path" { print $2 }' "$out")" 2 3 >>"$out"
fi
awk -v range="$RANGE" '
    { v[$1] = $2 }
    function row(name, ours, peer, peername) {
        if (v[peer] == "") return
        printf "  %-28s %9.3f s   %-26s %9.3f s   ratio %6.2fx\n", name, v[ours], peername, v[peer], v[peer] / v[ours]
    }
    END {
        printf "sort: %d i64 keys (%s), 2 threads:\n", v["n"], range == 0 ? "full 64-bit range" : "in [0, " range ")"
        row("st_sort", "sort_s", "numpy_sort_s", "np.sort")
        row("st_sort", "sort_s", "duckdb_sort_s", "DuckDB ORDER BY (2 thr)")
        row("st_argsort (stable)", "argsort_s", "numpy_argsort_s", "np.argsort(kind=stable)")
        row("st_argsort (stable)", "argsort_s", "duckdb_argsort_s", "DuckDB ORDER BY k, pos")
        row("st_sort", "sort_s", "vqsort_sort_s", "vqsort (1 thread)")
        row("st_sort", "sort_s", "ips4o_sort_s", "ips4o (2 threads)")
        row("st_sort_to (into new array)", "sort_to_s", "numpy_sort_s", "np.sort")
        row("st_sort_to (into new array)", "sort_to_s", "vqsort_sort_s", "vqsort (1 thread)")
        row("st_sort_to (into new array)", "sort_to_s", "ips4o_sort_s", "ips4o (2 threads)")
        row("st_argsort (stable)", "argsort_s", "vqsort_argsort_s", "vqsort (key,pos) 128-bit")
        row("st_argsort (stable)", "argsort_s", "ips4o_argsort_s", "ips4o (key,pos) pairs")
        printf "structured inputs (goal: >= 5x faster than random keys), ours (the st_sort times include\n"
        printf "the copy of the keys, %.3f s; in brackets: the sort alone, the copy taken out of both):\n", v["sort_copy_s"]
        split("sorted reversed few", sh, " ")
        c = v["sort_copy_s"]
        for (i = 1; i <= 3; i++)
            printf "  %-9s st_sort %7.3f s (%5.1fx faster [%5.1fx])   st_sort_to %7.3f s (%5.1fx faster)   st_argsort %7.3f s (%5.1fx faster)\n", sh[i] == "few" ? "1000 keys" : sh[i], v["sort_" sh[i] "_s"], v["sort_s"] / v["sort_" sh[i] "_s"], (v["sort_s"] - c) / (v["sort_" sh[i] "_s"] - c), v["sort_to_" sh[i] "_s"], v["sort_to_s"] / v["sort_to_" sh[i] "_s"], v["argsort_" sh[i] "_s"], v["argsort_s"] / v["argsort_" sh[i] "_s"]
        if (v["sort_to_differs"] != "") print "  WARNING: st_sort_to differs from st_sort"
        printf "rows: %d, 2 threads (memcpy of the %d MB column: %.3f s, the bandwidth bound):\n", v["m"], v["m"] * 8 / 1e6, v["memcpy_s"]
        row("st_filter_mask (25%)", "filter_s", "numpy_filter_s", "np.flatnonzero")
        row("st_gather at the 25% rows", "gather_sel_s", "numpy_gather_sel_s", "a[idx]")
        row("st_gather at random rows", "gather_rand_s", "numpy_gather_rand_s", "a[idx]")
        row("expr a - b", "expr_sub_s", "numpy_sub_s", "numpy a - b")
        row("filter a > c (expr+compact)", "expr_filter_s", "numpy_expr_filter_s", "np.flatnonzero(a > c)")
        if (v["filter_selected"] != v["numpy_filter_selected"]) print "  WARNING: filter counts differ"
        if (v["expr_filter_selected"] != v["numpy_expr_filter_selected"]) print "  WARNING: filter counts differ"
        if (v["argsort_check"] != v["numpy_argsort_check"]) print "  WARNING: argsort results differ"
        if (v["duckdb_argsort_check"] != "" && v["argsort_check"] != v["duckdb_argsort_check"]) print "  WARNING: DuckDB argsort differs"
        if (v["vqsort_argsort_check"] != "" && v["argsort_check"] != v["vqsort_argsort_check"]) print "  WARNING: vqsort argsort differs"
        if (v["gather_check"] != v["numpy_gather_check"]) print "  WARNING: gather results differ"
        print "targets: sort/argsort >= 10x numpy and >= 5x DuckDB; filter, gather, expr >= 2x numpy"
    }' "$out"
