#!/usr/bin/env bash
# A full sort with a gathered column end to end (`strata update --full`: the key read from the
# pool's batches, sorted, the index, the sorted key and the gathered column written as new
# batches), against the numpy pipeline on the same rows (np.load of the two columns, a stable
# argsort, two gathers, np.save of the index and the two columns), best of REPS, same run:
#   - taxi: 20 M trips (20 batches of 1 M), by fare (about 20 000 distinct values), pickup time
#     gathered;
#   - random: 20 M full-range random i64 keys (20 batches of 1 M), an i64 column gathered.
# Ours is the wall time of the whole command (process start and catalog included); numpy's, the
# pipeline in one running interpreter.
#     bench/bench_sort_e2e.sh [BUILD_DIR] [REPS] [ROWS]   (defaults: build/release, 5, 20000000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
REPS=${2:-5}
ROWS=${3:-20000000}
. bench/lib.sh
bench_build "$BUILD" strata
S=$PWD/$BUILD/strata
bench_scratch sorte2e
export STRATA_POOL=$D/pool
"$S" init >/dev/null
NB=$(((ROWS + 999999) / 1000000))
"$S" demo taxi $((ROWS / NB)) "$D/taxi.csv" --seed 1 >/dev/null
for i in $(seq 1 "$NB"); do "$S" ingest taxi/trips "$D/taxi.csv" >/dev/null 2>&1; done
/usr/bin/python3 - "$D/rnd" "$ROWS" <<'PY'
import os, sys
import numpy as np
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
r = np.random.default_rng(3)
np.save(f"{d}/k.npy", r.integers(-2**63, 2**63 - 1, n, dtype=np.int64, endpoint=True))
np.save(f"{d}/v.npy", r.integers(0, 1 << 40, n, dtype=np.int64))
PY
"$S" ingest rnd/x "$D/rnd" --batch-rows $((ROWS / NB)) >/dev/null 2>&1
rm -rf "$D/rnd"
"$S" derive taxi/byfare --from taxi/trips --sort fare >/dev/null
"$S" column taxi/byfare.pickuptime --gather taxi/trips.pickuptime >/dev/null
"$S" derive rnd/byk --from rnd/x --sort k >/dev/null
"$S" column rnd/byk.v --gather rnd/x.v >/dev/null
"$S" --threads 2 update >/dev/null
"$S" export taxi/trips --format npy --columns fare,pickuptime --out "$D/np_taxi" >/dev/null
"$S" export rnd/x --format npy --columns k,v --out "$D/np_rnd" >/dev/null
best() { # DATASET: the best of REPS wall times of `update --full`
    local b="" t
    for _ in $(seq 1 "$REPS"); do
        t=$(timed "$S" --threads 2 update --full "$1")
        b=$(min "$t" "$b")
    done
    echo "$b"
}
peer() { # DIR KEY COL: numpy's best of REPS
    /usr/bin/python3 - "$@" "$REPS" "$D/np_out" <<'PY'
import os, sys, time
import numpy as np
d, key, col, reps, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
os.makedirs(out, exist_ok=True)
best = 1e30
for _ in range(reps):
    t0 = time.perf_counter()
    k = np.load(f"{d}/{key}.npy")
    c = np.load(f"{d}/{col}.npy")
    idx = np.argsort(k, kind="stable")
    np.save(f"{out}/index.npy", idx)
    np.save(f"{out}/{key}.npy", k[idx])
    np.save(f"{out}/{col}.npy", c[idx])
    best = min(best, time.perf_counter() - t0)
    del k, c, idx
print(f"{best:.6f}")
PY
}
echo "bench: full sort + gathered column end to end ($ROWS rows, $NB batches), strata update --full (2 threads) vs numpy, best of $REPS"
for case in "taxi taxi/byfare np_taxi fare pickuptime" "random rnd/byk np_rnd k v"; do
    set -- $case
    ours=$(best "$2")
    theirs=$(peer "$D/$3" "$4" "$5")
    printf '  %-7s strata %8.3f s   numpy %8.3f s   numpy / strata %5.2fx   (goal >= 6x)\n' \
        "$1" "$ours" "$theirs" "$(awk -v a="$theirs" -v b="$ours" 'BEGIN { print a / b }')"
done
