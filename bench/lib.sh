# Helpers shared by the benchmark scripts (sourced from the repository's root).

# Install DuckDB's Node.js package into bench/node if it is missing; true when it is there.
duckdb_ready() {
    if [ ! -d bench/node/node_modules/@duckdb/node-api ]; then
        (cd bench/node && npm install --no-audit --no-fund --silent >/dev/null 2>&1) ||
            echo "bench: npm install of @duckdb/node-api failed; DuckDB is skipped" >&2
    fi
    [ -d bench/node/node_modules/@duckdb/node-api ]
}

# bench_build BUILD PROGRAM...: configure and build BUILD (Release) unless every PROGRAM (a path
# under BUILD) is there already.
bench_build() {
    local build=$1 p
    shift
    for p in "$@"; do
        if [ ! -x "$build/$p" ]; then
            cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
            cmake --build "$build" -j "$(nproc)" >/dev/null
            return
        fi
    done
}

# bench_scratch NAME: sets D, a new directory in STRATA_BENCH_DIR (default /dev/shm; TMPDIR when
# that is not writable) removed when the script exits, and base, the directory it is in.
bench_scratch() {
    base=${STRATA_BENCH_DIR:-/dev/shm}
    [ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
    D=$(mktemp -d "$base/strata-$1-XXXXXX")
    trap 'rm -rf "$D"' EXIT
}

# timed COMMAND...: run it (output dropped); print its wall time in seconds (no bc needed), read
# from bash's clock: no process started (`date` would add its own start, about 1.5 ms, to every
# time taken).
# min A B: the smaller, B empty meaning none yet.
timed() {
    local t0 t1
    t0=${EPOCHREALTIME//[.,]/}
    "$@" >/dev/null
    t1=${EPOCHREALTIME//[.,]/}
    awk -v us=$((10#$t1 - 10#$t0)) 'BEGIN { printf "%.6f", us / 1e6 }'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }

# best_ingest POOL DATASET FILE: the best of 3 `strata --threads 2 ingest` of FILE into a new
# pool at POOL each time (the pool left behind), in seconds; S is the strata command.
best_ingest() {
    local best="" rep
    for rep in 1 2 3; do
        rm -rf "$1"
        "$S" -P "$1" init >/dev/null
        best=$(min "$(timed "$S" -P "$1" --threads 2 ingest "$2" "$3" --quiet)" "$best")
    done
    echo "$best"
}
