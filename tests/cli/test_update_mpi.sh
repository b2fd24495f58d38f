#!/usr/bin/env bash
# strata update shared by MPI processes: for 1, 2, 3 and 4 processes, a first update (on 2 and 4
# processes under --mem 1M; on 3 with 2 threads each) and an incremental one of the taxi pipeline give byte-identical
# `strata cat` output to a one-process update of a pool built alike; the pool checks clean. With
# STRATA_CATALOG set, every pool's catalog is on PostgreSQL (test_update_mpi_pg).
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
for round in first incremental; do
    if [ "$round" = incremental ]; then
        for p in ref np1 np2 np3 np4; do
            for i in 7 8 9; do STRATA_POOL=$T/$p "$S" ingest taxi/trips "$T/h$i.csv" >/dev/null 2>&1; done
        done
    fi
    # output batches (and a sort's partitions) of 2048 rows: a sort is cut at whole batches
    "$S" update --batch-rows 2048 >/dev/null || { echo "FAIL: the one-process update ($round)"; fails=$((fails + 1)); }
    dump "$T/ref" "$T/ref_$round"
    for np in 1 2 3 4; do
        # a small budget on 2 and 4 processes: the sort spills runs
        extra=""
        [ "$round" = first ] && [ $((np % 2)) = 0 ] && extra="--mem 1M"
        # 3 processes of 2 threads each: threads within processes change nothing either
        [ "$np" = 3 ] && extra="--threads 2"
        out=$(STRATA_POOL=$T/np$np "$@" -np $np "$S" update --mpi --batch-rows 2048 $extra 2>&1)
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
    done
done
[ "$fails" -eq 0 ] && echo "update across MPI processes: all checks passed"
exit $((fails > 0))
