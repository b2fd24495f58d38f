#!/usr/bin/env bash
# Set up and run the demo on a fresh machine: install the packages, build, then drive the
# strata command and the C quickstart on a scratch pool (in /dev/shm when it exists).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
S=$PWD/build/release/strata
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
DEMO=$(mktemp -d "$base/strata-demo-XXXXXX")
trap 'rm -rf "$DEMO"' EXIT
export STRATA_POOL=$DEMO/pool

step() { printf '\n\033[1m$ strata %s\033[0m\n' "$*"; "$S" "$@"; }

echo "Strata demo: a pool of named, typed arrays shared by processes (pool: $STRATA_POOL)"
step init
step region create taxi
step array create taxi/fare i64 8
step array put taxi/fare 0 1250 -300 99000 4100 17800 560 12000 8800
step array get taxi/fare 2 3
step array add taxi/fare 1 300
step array cas taxi/fare 1 0 42
printf 'JFK\nLGA\nEWR\nMidtown\n' >"$DEMO/zones.txt"
step array create taxi/zones str --from "$DEMO/zones.txt"
step --json array get taxi/zones
step array info taxi/fare
step array backup taxi/fare fare-v1
step array put taxi/fare 0 0 0 0
step array restore fare-v1 taxi/fare
step array get taxi/fare 0 3
step array lock taxi/fare -- echo "holding the exclusive lock of taxi/fare while this runs"
step array ls
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    path=$("$S" --json array info taxi/fare | sed 's/.*"path":"\([^"]*\)".*/\1/')
    printf '\n\033[1m$ python3 -c "numpy.load(<file of taxi/fare>, mmap_mode=\"r\")"\033[0m\n'
    /usr/bin/python3 -c "import numpy; print(numpy.load('$path', mmap_mode='r'))"
fi
printf '\n\033[1m$ quickstart (the C API)\033[0m\n'
build/release/quickstart "$DEMO/pool"
echo
echo "demo done. Datasets, derived data and incremental updates come with the next issues."
