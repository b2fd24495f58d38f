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

echo "Strata demo: datasets made of batches, and the pool of typed arrays beneath them"
echo "(pool: $STRATA_POOL)"
step init
# An hour of taxi trips arrives as a CSV file; then two more hours.
"$S" demo taxi 200000 "$DEMO/hour1.csv" --seed 1 --start 1704067200
"$S" demo taxi 150000 "$DEMO/hour2.csv" --seed 2 --start 1704070800
"$S" demo taxi 180000 "$DEMO/hour3.csv" --seed 3 --start 1704074400
printf '\n\033[1m$ head -3 hour1.csv\033[0m\n'
head -3 "$DEMO/hour1.csv"
step ingest taxi/trips "$DEMO/hour1.csv"
step ingest taxi/trips "$DEMO/hour2.csv" "$DEMO/hour3.csv" --batch-rows 100000
step ls
step show taxi/trips
step log taxi/trips
step cat taxi/trips --head 5 --columns pickupzone,dropoffzone,fare
step cat taxi/trips --as-of 1 --format json --head 2
printf 'pickupzone,dropoffzone,pickuptime,dropofftime,fare\n7,8,1704078000,1704078600,12x0\n' >"$DEMO/bad.csv"
printf '\n\033[1m$ strata ingest taxi/trips bad.csv   # bad input: nothing is published\033[0m\n'
"$S" ingest taxi/trips "$DEMO/bad.csv" || echo "(exit $?)"
step export taxi/trips --format npy --out "$DEMO/export" --columns fare,pickuptime
step check
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    printf '\n\033[1m$ python3: numpy.load(export/fare.npy)\033[0m\n'
    /usr/bin/python3 -c "import numpy; f = numpy.load('$DEMO/export/fare.npy'); print(len(f), 'fares, mean', round(f.mean()), 'cents;', (f > 10000).sum(), 'over \$100')"
fi

echo
echo "-- the pool of typed arrays beneath datasets --"
step array create taxi/counter i64 4
step array add taxi/counter 0 5
step array put taxi/counter 1 -8 5
step array get taxi/counter
step array backup taxi/counter counter-v1
step array lock taxi/counter -- echo "holding the exclusive lock of taxi/counter while this runs"
printf '\n\033[1m$ quickstart (the C API)\033[0m\n'
build/release/quickstart "$DEMO/pool"
echo
echo "demo done. Derived datasets and incremental updates come with the next issue."
