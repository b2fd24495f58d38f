# Helpers shared by the benchmark scripts (sourced from the repository's root).

# Install DuckDB's Node.js package into bench/node if it is missing; true when it is there.
duckdb_ready() {
    if [ ! -d bench/node/node_modules/@duckdb/node-api ]; then
        (cd bench/node && npm install --no-audit --no-fund --silent >/dev/null 2>&1) ||
            echo "bench: npm install of @duckdb/node-api failed; DuckDB is skipped" >&2
    fi
    [ -d bench/node/node_modules/@duckdb/node-api ]
}
