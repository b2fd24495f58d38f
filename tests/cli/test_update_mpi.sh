#!/usr/bin/env bash
# strata update shared by MPI processes: for 1, 2, 3 and 4 processes, a first update (on 2 and 4
# processes under --mem 1M; on 3 with 2 threads each), an incremental one and a refresh (--full)
# of the taxi pipeline give byte-identical `strata cat` output to a one-process update of a pool
# built alike, whose outputs numpy confirms; the pool checks clean, and the files of the batches a
# refresh replaced (removed by all the processes, each its share) are gone: as many files as the
# one-process pool's, and gc finds no orphan. With STRATA_CATALOG set, every pool's catalog is
# on PostgreSQL (test_update_mpi_pg).
#     test_update_mpi.sh STRATA MPIRUN...
set -uo pipefail
S=$1
shift
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-upd-mpi-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
for i in $(seq 1 9); do
    "$S" demo taxi $((4000 + i * 97)) "$T/h$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
run() { "$S" "$@" >/dev/null 2>"$T/run.err" || { echo "FAIL: strata $*: $(cat "$T/run.err")"; fails=$((fails + 1)); }; }
# Each pool is built alike from scratch (a copy of the directory would share its catalog when
# that is on PostgreSQL: STRATA_CATALOG, as in the _pg variant).
mkpool() {
    export STRATA_POOL=$1
    "$S" init >/dev/null
    for i in 1 2 3 4 5 6; do "$S" ingest taxi/trips "$T/h$i.csv" >/dev/null; done
    run derive taxi/expensive --from taxi/trips --filter 'fare > 10000'
    run column taxi/expensive.pickuptime --gather taxi/trips.pickuptime
    run column taxi/expensive.dropofftime --gather taxi/trips.dropofftime
    run column taxi/expensive.fare --gather taxi/trips.fare
    run column taxi/expensive.duration --expr 'dropofftime - pickuptime'
    run derive taxi/runs --from taxi/expensive --sort-runs fare
    run derive taxi/top --from taxi/expensive --topk fare:10 --desc
    run column taxi/top.fare --gather taxi/expensive.fare
    run derive taxi/byfare --from taxi/trips --sort fare,pickuptime --desc
    run column taxi/byfare.dropoffzone --gather taxi/trips.dropoffzone
    run derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,mean:fare
    run derive taxi/top3 --from taxi/trips --topk fare:3 --global
    # many ties (a few zones): the rows kept are the first ones, whatever the processes
    run derive taxi/ztop --from taxi/trips --topk pickupzone:500 --global --desc
    run column taxi/ztop.fare --gather taxi/trips.fare
    run column taxi/trips.expensive_fare --scatter taxi/expensive.fare --default -1
    # float sums added in one order whatever the processes; holistic aggregates; two keys
    run column taxi/trips.dollars --expr 'fare * 0.01'
    run derive taxi/zstats --from taxi/trips --groupby pickupzone,dropoffzone \
        --agg count,sum:dollars,std:dollars,min:dollars,max:fare,first:fare,last:dollars
    run derive taxi/zmed --from taxi/trips --groupby dropoffzone \
        --agg median:fare,count_distinct:pickupzone,sum:dollars,quantile:dollars:0.9
    # one numeric key and no nulls: the sort travels as 16-byte records (a float key, descending)
    run derive taxi/bydollars --from taxi/trips --sort dollars --desc
    run column taxi/bydollars.pickupzone --gather taxi/trips.pickupzone
}
for p in ref np1 np2 np3 np4; do mkpool "$T/$p"; done
export STRATA_POOL=$T/ref
OUTS="expensive runs top byfare bydollars zones top3 ztop zstats zmed trips"
dump() { for d in $OUTS; do STRATA_POOL=$1 "$S" cat "taxi/$d" >"$2_$d.csv" || echo "FAIL: cat taxi/$d of $1"; done; }
for round in first incremental full; do
    if [ "$round" = incremental ]; then
        for p in ref np1 np2 np3 np4; do
            for i in 7 8 9; do STRATA_POOL=$T/$p "$S" ingest taxi/trips "$T/h$i.csv" >/dev/null 2>&1; done
        done
    fi
    # output batches (and a sort's partitions) of 2048 rows: a sort is cut at whole batches
    full=""
    [ "$round" = full ] && full=--full
    "$S" update --batch-rows 2048 $full >/dev/null ||
        { echo "FAIL: the one-process update ($round)"; fails=$((fails + 1)); }
    dump "$T/ref" "$T/ref_$round"
    for np in 1 2 3 4; do
        # a small budget on 2 and 4 processes: the sort spills runs
        extra=""
        [ "$round" = first ] && [ $((np % 2)) = 0 ] && extra="--mem 1M"
        # 3 processes of 2 threads each: threads within processes change nothing either
        [ "$np" = 3 ] && extra="--threads 2"
        out=$(STRATA_POOL=$T/np$np "$@" -np $np "$S" update --mpi --batch-rows 2048 $full $extra 2>&1)
        if [ $? -ne 0 ]; then
            echo "FAIL: mpirun -np $np strata update ($round): $out"; fails=$((fails + 1)); continue
        fi
        [ "$np" -eq 1 ] || echo "$out" | grep -q "on $np processes" ||
            { echo "FAIL: np $np ($round) did not say it shared the work: $out"; fails=$((fails + 1)); }
        dump "$T/np$np" "$T/np${np}_$round"
        for d in $OUTS; do
            cmp -s "$T/ref_${round}_$d.csv" "$T/np${np}_${round}_$d.csv" ||
                { echo "FAIL: taxi/$d differs with $np processes ($round)"; fails=$((fails + 1)); }
        done
        for d in byfare bydollars; do
            STRATA_POOL=$T/np$np "$S" show taxi/$d | grep -v '^ *created' >"$T/np${np}_show.txt"
            STRATA_POOL=$T/ref "$S" show taxi/$d | grep -v '^ *created' >"$T/ref_show.txt"
            cmp -s "$T/ref_show.txt" "$T/np${np}_show.txt" ||
                { echo "FAIL: np $np ($round): the batches of taxi/$d differ: $(diff "$T/ref_show.txt" "$T/np${np}_show.txt" | head -5)"; fails=$((fails + 1)); }
        done
        STRATA_POOL=$T/np$np "$S" check >/dev/null 2>&1 ||
            { echo "FAIL: check after np $np ($round)"; fails=$((fails + 1)); }
        nref=$(find "$T/ref/data" -type f | wc -l)
        nnp=$(find "$T/np$np/data" -type f | wc -l)
        [ "$nref" = "$nnp" ] ||
            { echo "FAIL: np $np ($round) left $nnp files in its pool, one process $nref"; fails=$((fails + 1)); }
        gc=$(STRATA_POOL=$T/np$np "$S" gc 2>&1)
        case $gc in "removed 0 orphan(s)"*) ;; *)
            echo "FAIL: np $np ($round): gc found what the update left: $gc"; fails=$((fails + 1)) ;;
        esac
    done
done
# The one-process pool every process count matched, against numpy on the source rows (so each
# count's bytes are numpy's answers too): the filter, its gathered and computed columns, the full
# sort by two keys, the group-by, the global top-k.
export STRATA_POOL=$T/ref
for d in trips expensive byfare zones top3; do
    "$S" export "taxi/$d" --format npy --out "$T/n_$d" >/dev/null || echo "FAIL: export taxi/$d"
done
/usr/bin/python3 - "$T" <<'PYEOF' || { echo "FAIL: numpy disagrees with the pipeline"; fails=$((fails + 1)); }
import sys
import numpy as np
t = sys.argv[1]
def col(d, c):
    a = np.load(f"{t}/n_{d}/{c}.npy")
    return a.astype(np.int64) if a.dtype.kind in "Mm" else a
ok = True
def check(what, got, want, exact=True):
    global ok
    same = np.array_equal(got, want) if exact else np.allclose(got, want, rtol=1e-12, atol=0)
    if not same or len(got) != len(want):
        print(f"FAIL: {what}: strata {got[:6]} numpy {want[:6]}")
        ok = False
fare, pick, drop = col("trips", "fare"), col("trips", "pickuptime"), col("trips", "dropofftime")
zone, n = col("trips", "pickupzone"), len(fare)
sel = np.flatnonzero(fare > 10000)
check("filter fare > 10000", col("expensive", "index"), sel)
check("its gathered fare", col("expensive", "fare"), fare[sel])
check("its duration", col("expensive", "duration"), drop[sel] - pick[sel])
order = np.lexsort((np.arange(n), -pick, -fare))
check("sort by fare, pickuptime descending", col("byfare", "index"), order)
keys, inv = np.unique(zone, return_inverse=True)
cnt, tot = np.bincount(inv), np.bincount(inv, weights=fare)
check("group keys", col("zones", "pickupzone"), keys)
check("group counts", col("zones", "count"), cnt)
check("group sums", col("zones", "sum_fare"), tot.astype(np.int64))
check("group means", col("zones", "mean_fare"), tot / cnt, exact=False)
check("global top 3", col("top3", "index"), np.lexsort((np.arange(n), fare))[:3])
sys.exit(0 if ok else 1)
PYEOF
[ "$fails" -eq 0 ] && echo "update across MPI processes: all checks passed"
exit $((fails > 0))
