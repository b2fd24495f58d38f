#!/usr/bin/env bash
# `strata update` spread over MPI processes (issue 23): strong scaling (the same dataset) and weak
# scaling (batches per process fixed) from 1 to 2 processes, and 4 oversubscribed processes on
# this machine's cores, for each chain of the taxi pipeline rebuilt with --full; one thread per
# process, so that the processes are what scales. Against the peer, a plain distributed LSD radix
# sort (bench/radix_mpi.c) of the same keys with their rows on 2 processes. Also an incremental
# sort (one new batch into the partitions) and the ingest of one large CSV file, 1 and 2 processes.
# Times are the update's own ("in N s" of its summary: from the pool open to the publish, MPI
# start excluded) and, in brackets, mpirun's wall time.
#     bench/bench_update_mpi.sh [BUILD_DIR] [BATCHES] [ROWS]   (defaults: build/release, 40, 500000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
NB=${2:-40}
ROWS=${3:-500000}
. bench/lib.sh
bench_build "$BUILD" strata bench/radix_mpi
S=$PWD/$BUILD/strata
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
bench_scratch update-mpi
export STRATA_POOL=$D/pool
"$S" init >/dev/null
"$S" demo taxi "$ROWS" "$D/h.csv" --seed 1 >/dev/null
for i in $(seq 1 "$NB"); do "$S" ingest taxi/trips "$D/h.csv" >/dev/null 2>&1; done
q() { "$S" "$@" >/dev/null; }
q derive taxi/expensive --from taxi/trips --filter 'fare > 5000'
q column taxi/expensive.pickuptime --gather taxi/trips.pickuptime
q column taxi/expensive.dropofftime --gather taxi/trips.dropofftime
q column taxi/expensive.fare --gather taxi/trips.fare
q column taxi/expensive.duration --expr 'dropofftime - pickuptime'
q derive taxi/runs --from taxi/expensive --sort-runs fare
q derive taxi/top --from taxi/expensive --topk fare:10 --desc
q derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,mean:fare,max:fare
q derive taxi/top100 --from taxi/trips --topk fare:100 --global --desc
q derive taxi/byfare --from taxi/trips --sort fare
q derive taxi/bytime --from taxi/trips --groupby pickuptime --agg count,sum:fare
q update
CHAINS="expensive zones bytime top100 byfare"
# run NP CHAIN: "update-seconds wall-seconds" of `update --full taxi/CHAIN` on NP processes (0:
# no mpirun), one thread each; the best of REPS (default 3) runs
REPS=${REPS:-3}
run() {
    local best="" bw="" i own w
    for i in $(seq 1 "$REPS"); do
        read -r own w <<<"$(run1 "$@")"
        if [ -z "$best" ] || [ "$(echo "$own < $best" | bc)" = 1 ]; then best=$own bw=$w; fi
    done
    echo "$best $bw"
}
run1() {
    local np=$1 chain=$2 out t0 t1
    t0=${EPOCHREALTIME//[.,]/}
    if [ "$np" = 0 ]; then
        out=$("$S" update --full "taxi/$chain" --threads 1 2>&1)
    else
        out=$("${MPIRUN[@]}" -np "$np" "$S" update --mpi --full "taxi/$chain" --threads 1 2>&1)
    fi
    t1=${EPOCHREALTIME//[.,]/}
    local own
    own=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' <<<"$out" | tail -1)
    echo "$own $(echo "scale=3; $((10#$t1 - 10#$t0)) / 1000000" | bc)"
}
what() {
    case $1 in
    expensive) echo "filter+3 gathers+expr+sort_runs+topk" ;;
    zones) echo "group-by (count, sum, mean, max)" ;;
    top100) echo "global top-100" ;;
    byfare) echo "full sort (one key: records)" ;;
    bytime) echo "group-by, a group per second" ;;
    esac
}
rows=$((NB * ROWS))
echo "taxi pipeline, $NB batches of $ROWS rows ($rows rows), update --full, 1 thread per process:"
declare -A t1s
for chain in $CHAINS; do
    read -r a aw <<<"$(run 0 "$chain")"
    read -r b bw <<<"$(run 1 "$chain")"
    read -r c cw <<<"$(run 2 "$chain")"
    read -r e ew <<<"$(run 4 "$chain")"
    t1s[$chain]=$b
    printf '  %-38s no MPI %6.3f s | np 1 %6.3f s [%5.2f] | np 2 %6.3f s [%5.2f] | np 4 %6.3f s [%5.2f] | strong 1->2: %4.2fx\n' \
        "$(what "$chain")" "$a" "$b" "$bw" "$c" "$cw" "$e" "$ew" "$(echo "scale=3; $b / $c" | bc)"
done
# An incremental sort: one new batch into the partitions of taxi/byfare, on copies of the pool
# (the best of 3 appends each; 1 thread per process).
for p in one two; do cp -a "$D/pool" "$D/$p"; done
inc_one="" inc_two=""
for i in 1 2 3; do
    for p in one two; do STRATA_POOL=$D/$p "$S" ingest taxi/trips "$D/h.csv" >/dev/null 2>&1; done
    a=$(STRATA_POOL=$D/one "$S" update taxi/byfare --threads 1 2>&1 | sed -n 's/.* in \([0-9.]*\) s$/\1/p' | tail -1)
    b=$(STRATA_POOL=$D/two "${MPIRUN[@]}" -np 2 "$S" update --mpi taxi/byfare --threads 1 2>&1 |
        sed -n 's/.* in \([0-9.]*\) s$/\1/p' | tail -1)
    inc_one=$(min "$a" "$inc_one")
    inc_two=$(min "$b" "$inc_two")
done
rm -rf "$D/one" "$D/two"
printf '  %-38s one process %6.3f s | np 2 %6.3f s | 1->2: %4.2fx\n' "sort, 1 new batch (deltas+compactions)" \
    "$inc_one" "$inc_two" "$(echo "scale=3; $inc_one / $inc_two" | bc)"
# Weak scaling: twice the batches on twice the processes.
for i in $(seq 1 "$NB"); do "$S" ingest taxi/trips "$D/h.csv" >/dev/null 2>&1; done
echo "weak scaling: $((2 * NB)) batches on 2 processes against $NB on 1 (throughput ratio, ideal 2):"
for chain in $CHAINS; do
    read -r c cw <<<"$(run 2 "$chain")"
    printf '  %-38s np 2 on %d batches %6.3f s [%5.2f]   np 1 on %d %6.3f s   throughput 1->2: %4.2fx\n' \
        "$(what "$chain")" $((2 * NB)) "$c" "$cw" "$NB" "${t1s[$chain]}" "$(echo "scale=3; 2 * ${t1s[$chain]} / $c" | bc)"
done
# The sort against the peer, on the same keys (the fare of every row).
"$S" export taxi/trips --columns fare --format npy --out "$D/keys" >/dev/null
keys=$(ls "$D"/keys/*fare*.npy | head -1)
n=$(/usr/bin/python3 -c "import numpy as np; print(len(np.load('$keys', mmap_mode='r')))" 2>/dev/null || echo "?")
peer=$(for i in $(seq 1 "$REPS"); do
    "${MPIRUN[@]}" -np 2 "$BUILD/bench/radix_mpi" "$keys" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p'
done | sort -n | head -1)
read -r s1 _ <<<"$(run 0 byfare)"
s1t=$(for i in $(seq 1 "$REPS"); do
    "$S" update --full taxi/byfare 2>&1 | sed -n 's/.* in \([0-9.]*\) s$/\1/p' | tail -1
done | sort -n | head -1)
read -r s2 _ <<<"$(run 2 byfare)"
echo "full sort of $n (key, row) pairs: the peer (distributed LSD radix, 2 processes) $peer s;"
printf '  strata update --full: 1 thread %6.3f s (%4.2fx the peer), 2 threads %6.3f s (%4.2fx), np 2 %6.3f s (%4.2fx)   target >= 2x\n' \
    "$s1" "$(echo "scale=3; $peer / $s1" | bc)" "$s1t" "$(echo "scale=3; $peer / $s1t" | bc)" \
    "$s2" "$(echo "scale=3; $peer / $s2" | bc)"
# One large CSV file cut over the processes (ingest --mpi), 1 thread each, into a new dataset;
# the ingest's own time (its summary: the pool open to the publish, MPI start excluded).
"$S" demo taxi $((ROWS * 16)) "$D/big.csv" --seed 2 >/dev/null
big=$(du -m "$D/big.csv" | cut -f1)
own() { sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' | tail -1; }
i1="" i2=""
for i in $(seq 1 "$REPS"); do
    "$S" drop taxi/big >/dev/null 2>&1 || true
    i1=$(min "$("$S" ingest taxi/big "$D/big.csv" --threads 1 2>&1 | own)" "$i1")
    "$S" drop taxi/big >/dev/null 2>&1 || true
    i2=$(min "$("${MPIRUN[@]}" -np 2 "$S" ingest taxi/big "$D/big.csv" --threads 1 --mpi 2>&1 | own)" "$i2")
done
printf 'ingest of one %d MB CSV file (%d rows), 1 thread per process:\n' "$big" $((ROWS * 16))
printf '  one process %6.3f s | np 2 %6.3f s | 1->2: %4.2fx\n' "$i1" "$i2" "$(echo "scale=3; $i1 / $i2" | bc)"
# The full sort under a budget far below a process's share (--mem 64M: each process sorts its
# block in spilled chunks, the ranges are exchanged in rounds) against no budget, 2 processes, on
# the dataset as it is now (twice the batches): the update's time and the larger peak RSS of the
# two processes (getrusage of each process's child, read by a Python wrapper).
# (each process writes its peak to a file of its own: the processes' output lines, forwarded by
# mpirun, may interleave)
PEAK='import os, resource, subprocess, sys
rc = subprocess.run(sys.argv[2:]).returncode
with open(sys.argv[1] + "." + os.environ.get("OMPI_COMM_WORLD_RANK", "0"), "w") as f:
    f.write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)'
echo "full sort of $((2 * NB * ROWS)) rows on 2 processes, with and without a budget:"
for mem in "" "--mem 64M"; do
    rm -f "$D"/peak.*
    out=$("${MPIRUN[@]}" -np 2 /usr/bin/python3 -c "$PEAK" "$D/peak" "$S" update --mpi --full \
        taxi/byfare --threads 1 $mem 2>&1)
    t=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' <<<"$out" | tail -1)
    kb=$(cat "$D"/peak.* | sort -n | tail -1)
    spilled=$(sed -n 's/.*spilled \([0-9]*\) sorted.*/\1/p' <<<"$out" | tail -1)
    printf '  %-12s %6.3f s, peak RSS per process %5d MB, %s runs spilled\n' "${mem:-no budget}" \
        "$t" $((kb / 1024)) "${spilled:-0}"
done
