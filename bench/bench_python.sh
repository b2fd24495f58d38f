#!/usr/bin/env bash
# The Python package against numpy on the same bytes, in one run (bench/bench_python.py).
#     bash bench/bench_python.sh [BUILD_DIR] [ROWS] [INDICES]   (build/release, 100 M, 10 M)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
ROWS=${2:-100000000}
M=${3:-10000000}
. bench/lib.sh
bench_build "$BUILD" strata
if ! ls "$BUILD"/python/strata/_strata*.so >/dev/null 2>&1; then
    echo "bench: $BUILD has no Python package (apt-get install python3-dev python3-numpy)" >&2
    exit 1
fi
bench_scratch python
PYTHONPATH=$BUILD/python /usr/bin/python3 bench/bench_python.py "$D" "$ROWS" "$M"
# The same on a tmpfs with transparent huge pages (mount -o huge=always; needs root): random
# gathers are bound by TLB misses, which 2 MiB pages remove. /dev/shm's default is 4 KiB pages
# (see /sys/kernel/mm/transparent_hugepage/shmem_enabled).
if [ "$(id -u)" = 0 ] && mkdir -p "$D/huge" &&
    mount -t tmpfs -o huge=always,size=$((ROWS * 8 * 5 / 1048576 + 512))m tmpfs "$D/huge" 2>/dev/null; then
    trap 'umount "$D/huge"; rm -rf "$D"' EXIT
    echo
    echo "-- the same with the pool on a huge-page tmpfs --"
    PYTHONPATH=$BUILD/python /usr/bin/python3 bench/bench_python.py "$D/huge" "$ROWS" "$M"
fi
