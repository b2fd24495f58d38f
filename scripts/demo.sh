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
# STRATA_DEMO_KEEP=1 leaves the pool for exploring (its path is printed at the end)
[ "${STRATA_DEMO_KEEP:-0}" = 1 ] || trap 'rm -rf "$DEMO"' EXIT
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
echo "-- derived data: the taxi pipeline, kept up to date incrementally --"
step derive taxi/expensive --from taxi/trips --filter 'fare > 10000 and pickupzone != dropoffzone'
step column taxi/expensive.pickuptime --gather taxi/trips.pickuptime
step column taxi/expensive.dropofftime --gather taxi/trips.dropofftime
step column taxi/expensive.fare --gather taxi/trips.fare
step column taxi/expensive.duration --expr 'dropofftime - pickuptime'
step derive taxi/expensive_runs --from taxi/expensive --sort-runs fare
step derive taxi/top10 --from taxi/expensive --topk fare:10 --desc
step column taxi/top10.fare --gather taxi/expensive.fare
step derive taxi/by_fare --from taxi/trips --sort fare --desc
step column taxi/by_fare.pickupzone --gather taxi/trips.pickupzone
step derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,mean:fare,max:fare
step update
step cat taxi/expensive --head 5
step cat taxi/top10 --head 3
step cat taxi/zones --head 3
echo
echo "-- a fourth hour arrives: only the new batch is read by the order-preserving chain;"
echo "   the sort and the group-by merge it into their previous results --"
"$S" demo taxi 120000 "$DEMO/hour4.csv" --seed 4 --start 1704078000
step ingest taxi/trips "$DEMO/hour4.csv"
step lineage taxi/expensive
step update
step show taxi/expensive
step lineage taxi/by_fare --dot
printf '\n\033[1m$ strata update --full   # recompute everything: the same bytes\033[0m\n'
"$S" cat taxi/by_fare >"$DEMO/inc.csv"
"$S" update --full
"$S" cat taxi/by_fare >"$DEMO/full.csv"
cmp "$DEMO/inc.csv" "$DEMO/full.csv" && echo "incremental and full results are identical"
step check

if ls build/release/python/strata/_strata*.so >/dev/null 2>&1; then
    echo
    echo "-- the same pool from Python: the taxi pipeline with the strata package (examples/taxi.py) --"
    printf '\n\033[1m$ PYTHONPATH=build/release/python python3 examples/taxi.py $STRATA_POOL hour1.csv hour2.csv\033[0m\n'
    PYTHONPATH=build/release/python /usr/bin/python3 examples/taxi.py "$STRATA_POOL" "$DEMO/hour1.csv" "$DEMO/hour2.csv"
    printf '\n\033[1m$ python3 - <<EOF   # what the CLI derived, read from Python without a copy\033[0m\n'
    PYTHONPATH=build/release/python /usr/bin/python3 - "$STRATA_POOL" <<'PY'
import sys, numpy as np, strata
with strata.Pool(sys.argv[1]) as pool:
    print(pool.dataset("taxi/trips"))
    with pool.dataset("taxi/trips").snapshot() as snap:
        views = [b["fare"] for b in snap.batches(["fare"])]   # zero-copy numpy views, per batch
        print(len(views), "batches of fares, total", sum(int(v.sum()) for v in views), "cents")
    with pool.dataset("taxi/zones").snapshot() as snap:
        print(snap.to_pandas().nlargest(3, "count")[["pickupzone", "count", "mean_fare"]].to_string(index=False))
PY
fi

echo
echo "-- an N-d array for the page's heat map: 8 steps of a 256 x 256 field, in 64 x 64 chunks --"
step region create sim
step nd create sim/field --dtype f64 --shape 0,256,256 --chunks 1,64,64
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    for t in 0 1 2 3 4 5 6 7; do
        /usr/bin/python3 - "$DEMO/step.npy" "$t" <<'PY'
import sys, numpy as np
t = int(sys.argv[2])
y, x = np.mgrid[0:256, 0:256] / 256.0
f = np.sin(6 * x + t / 2) * np.cos(4 * y - t / 3) + np.exp(-((x - 0.5) ** 2 + (y - 0.5 - t / 20) ** 2) * 20)
np.save(sys.argv[1], f[None].astype(np.float64))
PY
        "$S" nd write sim/field --from "$DEMO/step.npy" --append >/dev/null
    done
fi
step nd info sim/field

echo
echo "-- strata serve: the web page and its JSON API over this pool --"
# STRATA_DEMO_SERVE=1 keeps the server on 127.0.0.1:8470 until Ctrl-C, to open it in a browser;
# by default it listens on a free port for a few requests, then stops.
if [ "${STRATA_DEMO_SERVE:-0}" = 1 ]; then
    echo "open http://127.0.0.1:8470/; Ctrl-C stops (the token for changes is written to $STRATA_POOL/serve.token)"
    "$S" serve --listen 127.0.0.1:8470
else
    "$S" serve --listen 127.0.0.1:0 >"$DEMO/serve.out" 2>&1 &
    server=$!
    for _ in $(seq 100); do grep -q listening "$DEMO/serve.out" && break; sleep 0.05; done
    U=$(grep -o 'http://127.0.0.1:[0-9]*' "$DEMO/serve.out")
    printf '
[1m$ strata serve --listen 127.0.0.1:0 &[0m
'
    cat "$DEMO/serve.out"
    printf '
[1m$ curl %s/api/regions[0m
' "$U"
    curl -s "$U/api/regions"
    echo
    printf '
[1m$ curl %s/api/datasets/taxi/trips/columns/fare/stats   # computed in C, cached in the catalog[0m
' "$U"
    curl -s "$U/api/datasets/taxi/trips/columns/fare/stats" | head -c 400
    echo
    printf '
[1m$ curl "%s/api/arrays/sim/field/region?start=7,128,128&count=1,2,3"[0m
' "$U"
    curl -s "$U/api/arrays/sim/field/region?start=7,128,128&count=1,2,3"
    echo
    kill "$server"
    wait "$server" 2>/dev/null || true
    echo
    echo "To browse this pool in a web browser: STRATA_DEMO_SERVE=1 bash scripts/demo.sh, then open"
    echo "http://127.0.0.1:8470/ (datasets, rows, histograms, the heat map of sim/field, lineage)."
fi
echo
echo "demo done."
if [ "${STRATA_DEMO_KEEP:-0}" = 1 ]; then
    echo
    echo "The pool stays at $STRATA_POOL (remove it with: rm -rf $DEMO). Next, try:"
    echo "  export STRATA_POOL=$STRATA_POOL PATH=$PWD/build/release:\$PATH"
else
    echo
    echo "The demo's pool was removed. To keep it for exploring: STRATA_DEMO_KEEP=1 bash scripts/demo.sh"
    echo "(it prints where the pool is). Then, with STRATA_POOL set to it and build/release on PATH:"
fi
echo "  1. strata cat taxi/trips --where 'fare > 15000' --tail 5    # rows by a condition"
echo "  2. strata show taxi/zones --columns; strata lineage          # what is derived from what"
echo "  3. strata serve   # then open http://127.0.0.1:8470/ : datasets, heat maps, lineage"
