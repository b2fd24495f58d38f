#!/usr/bin/env bash
# Format benchmarks, each against its peer on the same data in the same run:
#   Parquet ingest of ROWS taxi rows (a zstd file DuckDB writes from strata demo taxi) vs DuckDB
#   read_parquet into a table (2 threads); Parquet export of the dataset vs DuckDB COPY ... TO
#   (snappy, DuckDB's default, both); the Arrow stream export of 1 M and 100 M rows (zero-copy:
#   the same time for both) vs memcpy of the bytes (what a copying export costs at least).
#   Pools live in STRATA_BENCH_DIR (default /dev/shm).
#     bench/bench_formats.sh [BUILD_DIR] [ROWS] [ARROW_ROWS]
#     (defaults: build/release, 10000000, 100000000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
ROWS=${2:-10000000}
AROWS=${3:-100000000}
. bench/lib.sh
bench_build "$BUILD" strata bench/bench_arrow
duckdb_ready || { echo "bench: DuckDB is needed (scripts/deps.sh)" >&2; exit 1; }
S=$PWD/$BUILD/strata
bench_scratch formats-bench
out=$D/results
echo "bench: Parquet of $ROWS taxi rows on $base, $(nproc) cores"
"$S" demo taxi "$ROWS" "$D/taxi.csv" --seed 7
(cd bench/node && node duckdb_parquet.mjs make "$D/taxi.csv" "$D/taxi.parquet" zstd 122880)
echo "parquet_bytes $(stat -c %s "$D/taxi.parquet")" >"$out"
echo "strata_parquet_read_s $(best_ingest "$D/pool" taxi/trips "$D/taxi.parquet")" >>"$out"
(cd bench/node && node duckdb_parquet.mjs read "$D/taxi.parquet" 2 3) >>"$out"
best=""
for rep in 1 2 3; do
    rm -f "$D/out.parquet"
    best=$(min "$(timed "$S" -P "$D/pool" --threads 2 export taxi/trips --out "$D/out.parquet" --compression snappy)" "$best")
done
echo "strata_parquet_write_s $best" >>"$out"
(cd bench/node && node duckdb_parquet.mjs write "$D/taxi.parquet" "$D/duck.parquet" snappy 2 3) >>"$out"
echo "bench: Arrow stream export of 1000000 and $AROWS rows (i64 + f64)"
"$BUILD/bench/bench_arrow" "$D/apool" 1000000 "$AROWS" >>"$out"
awk -v big="$AROWS" -v rows="$ROWS" '
    { v[$1] = $2 }
    function row(name, ours, peer, peername) {
        if (v[peer] == "" || v[ours] == "") return
        printf "  %-30s %8.3f s   %-24s %8.3f s   ratio %5.2fx\n", name, v[ours], peername, v[peer], v[peer] / v[ours]
    }
    END {
        printf "Parquet (%.0f MB zstd, %s rows), speed relative to the peer (>1: strata faster):\n", v["parquet_bytes"] / 1e6, rows
        row("strata ingest (2 threads)", "strata_parquet_read_s", "duckdb_parquet_read_s", "DuckDB read_parquet (2)")
        row("strata export (snappy)", "strata_parquet_write_s", "duckdb_parquet_write_s", "DuckDB COPY TO (2)")
        print "Arrow stream export (every batch, schema and arrays):"
        printf "  %-30s %8.6f s   %-24s %8.6f s\n", "1 M rows", v["arrow_1000000_s"], "memcpy of its bytes", v["memcpy_1000000_s"]
        printf "  %-30s %8.6f s   %-24s %8.6f s\n", big / 1e6 " M rows", v["arrow_" big "_s"], "memcpy of its bytes", v["memcpy_" big "_s"]
        printf "  time per batch: %.1f us (1 M rows, 1 batch) and %.1f us (%d batches)\n", v["arrow_1000000_s"] * 1e6, v["arrow_" big "_s"] * 1e6 / (big / 1048576), int((big + 1048575) / 1048576)
        print "targets: Parquet ingest >= 1.5x DuckDB; export >= 1.2x DuckDB; Arrow export independent of rows"
    }' "$out"
