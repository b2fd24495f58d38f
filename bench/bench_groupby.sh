#!/usr/bin/env bash
# Group-by end to end (`strata update --full` of a group-by: the batches read from the pool, the
# groups computed, merged batch by batch and written) against DuckDB's GROUP BY over the same
# rows already in memory (its load not timed), 2 threads each, best of REPS, same run:
#   - taxi: 20 M trips (20 batches of 1 M), 265 pickup zones: count, sum and mean of the fare;
#   - H2O-style, 10 M rows (10 batches): int keys of 100, 10 000 and 1 000 000 values, count,
#     sum of an i64 and mean of an f64 column;
#   - the same with string keys (H2O's id1, 100 values "id001"..., and id3, 1 M values
#     "id0000000001"...), with 1 M int keys spread over 2^40 (no small range: hashed), and with
#     1 M date-time strings of 16 bytes ("2023-01-01 00:00", one a minute: the end packs their
#     bytes apart, 4 bits a digit).
# Also printed: the floor, bench_touch's time to map the same columns from the pool and add up
# every value (pages faulted in as in a new process): no pass over these columns takes less; and
# DuckDB's time when it too reads its rows from storage and writes the groups there, as Strata's
# update does (duckdb_groupby.mjs with DUCKDB_FILE: a database file in the same folder as the
# pool, each query on a new instance of it, its open not timed).
#     bench/bench_groupby.sh [BUILD_DIR] [REPS]   (defaults: build/release, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
REPS=${2:-5}
. bench/lib.sh
bench_build "$BUILD" strata bench/bench_touch
S=$PWD/$BUILD/strata
bench_scratch groupby
export STRATA_POOL=$D/pool
"$S" init >/dev/null
"$S" demo taxi 1000000 "$D/taxi.csv" --seed 1 >/dev/null
for _ in $(seq 1 20); do "$S" ingest taxi/trips "$D/taxi.csv" >/dev/null 2>&1; done
/usr/bin/python3 - "$D/h2o" <<'PY'
import os, sys
import numpy as np
d = sys.argv[1]
os.makedirs(d)
r = np.random.default_rng(7)
n = 10_000_000
np.save(f"{d}/k100.npy", r.integers(1, 101, n, dtype=np.int64))
np.save(f"{d}/k10k.npy", r.integers(1, 10_001, n, dtype=np.int64))
np.save(f"{d}/k1m.npy", r.integers(1, 1_000_001, n, dtype=np.int64))
np.save(f"{d}/v.npy", r.integers(1, 6, n, dtype=np.int64))
np.save(f"{d}/f.npy", np.round(r.uniform(0, 100, n), 6))
y = d + "y"
os.makedirs(y)
r = np.random.default_rng(8)
ids = np.array([f"id{i:03d}" for i in range(1, 101)], dtype="S5")
np.save(f"{y}/id1.npy", ids[r.integers(0, 100, n)])
i3 = r.integers(1, 1_000_001, n)
np.save(f"{y}/id3.npy", np.char.add(b"id", np.char.zfill(i3.astype("S10"), 10)))
wide = r.choice(2**40, 1_000_000, replace=False).astype(np.int64)
np.save(f"{y}/kw.npy", wide[r.integers(0, 1_000_000, n)])
np.save(f"{y}/v.npy", r.integers(1, 6, n, dtype=np.int64))
np.save(f"{y}/f.npy", np.round(r.uniform(0, 100, n), 6))
mins = np.datetime64("2023-01-01T00:00") + r.integers(0, 1_000_000, n).astype("timedelta64[m]")
dt = np.datetime_as_string(mins).astype("S16")
dt.view("u1").reshape(-1, 16)[:, 10] = ord(" ")
np.save(f"{y}/dt.npy", dt)
PY
"$S" ingest h2o/x "$D/h2o" --batch-rows 1000000 >/dev/null
"$S" ingest h2o/y "$D/h2oy" --batch-rows 1000000 >/dev/null
"$S" export h2o/x --format parquet --out "$D/h2o.parquet" >/dev/null
"$S" export h2o/y --format parquet --out "$D/h2oy.parquet" >/dev/null
"$S" derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,mean:fare >/dev/null
for k in k100 k10k k1m; do
    "$S" derive "h2o/g_$k" --from h2o/x --groupby "$k" --agg count,sum:v,mean:f >/dev/null
done
for k in id1 id3 kw dt; do
    "$S" derive "h2o/g_$k" --from h2o/y --groupby "$k" --agg count,sum:v,mean:f >/dev/null
done
"$S" --threads 2 update >/dev/null
best() { # NAME: the best of REPS `update --full` times (the command's own timing, seconds)
    local b="" t
    for _ in $(seq 1 "$REPS"); do
        t=$("$S" --threads 2 update --full "$1" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')
        b=$(min "$t" "$b")
    done
    echo "$b"
}
declare -A ours floor
declare -A cols=([taxi/zones]="taxi/trips pickupzone fare" [h2o/g_k100]="h2o/x k100 v f"
    [h2o/g_k10k]="h2o/x k10k v f" [h2o/g_k1m]="h2o/x k1m v f" [h2o/g_id1]="h2o/y v f"
    [h2o/g_id3]="h2o/y v f" [h2o/g_kw]="h2o/y kw v f" [h2o/g_dt]="h2o/y v f")
for ds in taxi/zones h2o/g_k100 h2o/g_k10k h2o/g_k1m h2o/g_id1 h2o/g_id3 h2o/g_kw h2o/g_dt; do
    ours[$ds]=$(best "$ds")
    # shellcheck disable=SC2086 # the dataset and its columns, split
    floor[$ds]=$("$BUILD/bench/bench_touch" "$D/pool" ${cols[$ds]%% *} 2 ${cols[$ds]#* } |
        sed -n 's/^touch_s //p')
done
# duck SOURCE COPIES NAME=SQL...: DuckDB's times of the queries over SOURCE read COPIES times, in
# memory and from its own file (removed after)
duck() {
    local src=$1 copies=$2 rc=0
    shift 2
    DUCKDB_FILE=$D/duck.duckdb node bench/node/duckdb_groupby.mjs "$src" "$copies" 2 "$REPS" "$@" ||
        rc=$?
    rm -f "$D/duck.duckdb" "$D/duck.duckdb.wal"
    return "$rc"
}
h2o() { # KEY...: the H2O-style query of each key, one a line
    local k
    for k in "$@"; do echo "h2o/g_$k=SELECT $k, count(*), sum(v), avg(f) FROM t GROUP BY $k"; done
}
out=$(duck "$D/taxi.csv" 20 \
    "taxi/zones=SELECT pickupzone, count(*), sum(fare), avg(fare) FROM t GROUP BY pickupzone")
mapfile -t qs < <(h2o k100 k10k k1m)
out+=$'\n'$(duck "$D/h2o.parquet" 1 "${qs[@]}")
mapfile -t qs < <(h2o id1 id3 kw dt)
out+=$'\n'$(duck "$D/h2oy.parquet" 1 "${qs[@]}")
echo "bench: group-by end to end (strata update --full) vs DuckDB GROUP BY in memory, 2 threads, best of $REPS"
declare -A fromdb dbgroups
while read -r tag name secs groups; do
    [ "$tag" = duckdb_groupby_db_s ] || continue
    fromdb[$name]=$secs
    dbgroups[$name]=$groups
done <<<"$out"
while read -r tag name secs groups; do
    [ "$tag" = duckdb_groupby_s ] || continue
    [ "${dbgroups[$name]}" = "$groups" ] ||
        echo "  $name: DuckDB made ${dbgroups[$name]} groups from its file, $groups in memory" >&2
    printf '  %-12s %8s groups  strata %8.4f s  duckdb %8.4f s  ratio %5.2fx  (floor %.4f s: %5.2fx)' \
        "$name" "$groups" "${ours[$name]}" "$secs" \
        "$(awk -v a="$secs" -v b="${ours[$name]}" 'BEGIN { print a / b }')" "${floor[$name]}" \
        "$(awk -v a="$secs" -v b="${floor[$name]}" 'BEGIN { print a / b }')"
    printf '  duckdb from its file %8.4f s: %5.2fx\n' "${fromdb[$name]}" \
        "$(awk -v a="${fromdb[$name]}" -v b="${ours[$name]}" 'BEGIN { print a / b }')"
done <<<"$out"
echo "goal: >= 1.5x DuckDB (ratio = DuckDB's time / Strata's, its rows in memory); floor: the bare"
echo "scan of the same columns from the pool, and DuckDB's time over it (the best ratio any pass"
echo "could reach); from its file: DuckDB reading its rows from its database file and writing the"
echo "groups there, as the update reads the pool and writes to it"
