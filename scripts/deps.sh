#!/usr/bin/env bash
# Install the Debian packages Strata's build, tests and benchmarks need, when they are missing.
# Idempotent: prints what it installs, and nothing else to do when all are present.
set -euo pipefail

PACKAGES=(
    gcc libc6-dev make cmake pkgconf  # build
    libopenmpi-dev openmpi-bin      # MPI: collective I/O of the MDMS layer and its tests
    libsqlite3-dev                  # the catalog
    libpq-dev postgresql            # the catalog on PostgreSQL, and the server its tests start
    libxxhash-dev                   # checksums
    libzstd-dev                     # compressed chunks and archive tiers
    libsnappy-dev zlib1g-dev        # Parquet pages (src/format): SNAPPY and GZIP codecs
    libhdf5-dev                     # HDF5 import and export (src/interop)
    libmicrohttpd-dev libjansson-dev  # strata serve: HTTP and JSON
    curl                            # the strata serve API tests
    chromium                        # the strata serve browser tests (headless, via playwright-core)
    libcmocka-dev                   # unit tests
    python3-numpy                   # numpy interoperability test and benchmark peer
    python3-dev                     # the Python package strata (a C extension)
    python3-pandas python3-pytest   # its tests (results compared with pandas)
    python3-h5py                    # the HDF5 tests' peer (tests/cli/test_hdf5.sh)
    python3-mpi4py                  # its MPI test (MDMS saves from Python under mpirun)
    clang-format                    # formatting check
    clang libomp-dev                # the suite is also built with clang (and its OpenMP)
    procps                          # pkill, used by the CLI tests
    zsh                             # the zsh completion's test (completions/_strata)
    g++ libhwy-dev libips4o-dev     # the sorting peers of bench/bench_ops.sh (vqsort, ips4o)
)

# Node.js and npm drive the browser tests (and DuckDB, a benchmark peer). A machine may already
# have them from another source (NodeSource's nodejs ships npm and conflicts with Debian's npm).
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

# The benchmark peers: HDF5 is installed above (the library links it); DuckDB comes from npm.

# npm packages pinned by tests/web/package-lock.json (playwright-core, without its own browser).
web_modules() {
    local web
    web="$(dirname "$0")/../tests/web"
    [ -d "$web/node_modules/playwright-core" ] && return 0
    echo "deps: npm ci in tests/web"
    (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}

# DuckDB's Node package, pinned by bench/node/package-lock.json: the benchmarks' peer and the
# Parquet tests' (tests/format/duckdb_parquet.mjs).
duckdb_modules() {
    local node
    node="$(dirname "$0")/../bench/node"
    [ -d "$node/node_modules/@duckdb/node-api" ] && return 0
    echo "deps: npm ci in bench/node"
    (cd "$node" && npm ci --no-audit --no-fund --loglevel=error)
}

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#PACKAGES[@]} packages present"
    web_modules
    duckdb_modules
    exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
fi
# apt-get, waiting (up to 10 minutes) while another apt or dpkg holds its locks: on a fresh
# machine unattended-upgrades often runs for the first minutes
apt_wait() {
    local err i
    err=$(mktemp)
    for i in $(seq 1 120); do
        if $SUDO apt-get -o DPkg::Lock::Timeout=600 "$@" 2>"$err"; then
            rm -f "$err"
            return 0
        fi
        if grep -q 'Could not get lock\|Unable to acquire\|Unable to lock\|another process' "$err"; then
            [ "$i" = 1 ] && echo "deps: another apt or dpkg is running; waiting for it" >&2
            sleep 5
            continue
        fi
        cat "$err" >&2
        rm -f "$err"
        return 1
    done
    cat "$err" >&2
    rm -f "$err"
    return 1
}
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_wait update -qq
apt_wait install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}"
web_modules
duckdb_modules
