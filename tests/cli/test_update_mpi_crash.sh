#!/usr/bin/env bash
# Crash across processes: `mpirun -np N strata update` (N 2 to 4) has one of its processes, picked
# at random, killed with SIGKILL at a random point of an incremental or a --full update
# (STRATA_MPI_CRASH_TRIALS trials, else STRATA_CRASH_TRIALS, default 30;
# STRATA_LONG=1: 500). The others must stop within a bounded time (mpirun ends the job), the pool
# must check clean, and a rerun (on 1 to 3 processes) must give the same bytes as an uninterrupted
# one-process update. KEEP=1 keeps the scratch directory.
#     test_update_mpi_crash.sh STRATA MPIRUN...
set -uo pipefail
S=$1
shift
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-umcrash-XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
TRIALS=${STRATA_MPI_CRASH_TRIALS:-${STRATA_CRASH_TRIALS:-30}}
[ "${STRATA_LONG:-0}" = 1 ] && TRIALS=500
ROWS=${STRATA_CRASH_ROWS:-20000}
STOP_WITHIN=${STRATA_MPI_STOP_WITHIN:-120} # seconds the others may take to stop: a hang fails
P=$T/state
export STRATA_POOL=$P
"$S" init >/dev/null
for i in 1 2 3 4 5; do
    "$S" demo taxi "$ROWS" "$T/h$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
B="--batch-rows $((ROWS / 4))"
q() { "$S" "$@" >/dev/null 2>&1 || { echo "FAIL: strata $*"; fails=$((fails + 1)); }; }
q ingest taxi/trips "$T/h1.csv" "$T/h2.csv" "$T/h3.csv" $B
q derive taxi/expensive --from taxi/trips --filter 'fare > 10000'
q column taxi/expensive.fare --gather taxi/trips.fare
q column taxi/expensive.duration --expr 'fare * 2 - 1'
q derive taxi/runs --from taxi/trips --sort-runs fare
q derive taxi/byfare --from taxi/trips --sort fare
q column taxi/byfare.pickuptime --gather taxi/trips.pickuptime
q derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,max:fare
q derive taxi/top --from taxi/trips --topk fare:100 --global --desc
q column taxi/trips.flag --scatter taxi/expensive.fare --default 0
q update $B
# New batches arrive: the state every trial starts from.
q ingest taxi/trips "$T/h4.csv" "$T/h5.csv" $B
OUTS="expensive runs byfare zones top trips"
export_all() { # POOL DIR
    mkdir -p "$2"
    for d in $OUTS; do
        STRATA_POOL=$1 "$S" export "taxi/$d" --format npy --out "$2/$d" >/dev/null 2>"$T/exp.err" ||
            { echo "FAIL: export $d: $(cat "$T/exp.err")"; fails=$((fails + 1)); }
    done
}
cp -a "$P" "$T/ref"
STRATA_POOL=$T/ref "$S" update $B >/dev/null || { echo "FAIL: the reference update"; fails=$((fails + 1)); }
export_all "$T/ref" "$T/ref_out"
# launch NP POOL ARGS...: start `mpirun -np NP strata update --mpi ARGS` in the background, as
# JOB, and wait until its processes (mpirun's children; timeout's child is mpirun) are RANKS
launch() {
    local np=$1 pool=$2
    shift 2
    STRATA_POOL=$pool timeout -k 10 "$STOP_WITHIN" "${MPIRUN[@]}" -np "$np" "$S" update --mpi "$@" \
        >"$T/run.out" 2>&1 &
    job=$!
    started=$(date +%s)
    ranks=""
    for _ in $(seq 1 3000); do
        ranks=$(pgrep -P "$(pgrep -P "$job" | head -1)" 2>/dev/null | tr '\n' ' ')
        [ "$(echo "$ranks" | wc -w)" -ge "$np" ] && break
        kill -0 "$job" 2>/dev/null || break
        sleep 0.01
    done
}
MPIRUN=("$@")
# how long an uninterrupted update on 2 processes runs once its processes have started
cp -a "$P" "$T/span"
launch 2 "$T/span" $B
t0=$(date +%s%N)
wait "$job" || { echo "FAIL: the uninterrupted update on 2 processes: $(cat "$T/run.out")"; fails=$((fails + 1)); }
t1=$(date +%s%N)
span=$(((t1 - t0) / 1000))
[ "$span" -lt 1000 ] && span=1000
rm -rf "$T/span"
echo "an uninterrupted update on 2 processes runs ${span} us once started; killing within it"
killed=0 interrupted=0 worst=0 launcher=0
for trial in $(seq 1 "$TRIALS"); do
    W=$T/w$trial
    cp -a "$P" "$W"
    np=$((2 + trial % 3))
    mode="" # every other trial from scratch: the sort spread over the processes too
    [ $((trial % 2)) = 0 ] && mode=--full
    # every fourth under a small budget: spilled chunks, the ranges exchanged in rounds
    [ $((trial % 4)) = 0 ] && mode="--full --mem 1M"
    launch "$np" "$W" $B $mode
    us=$((RANDOM * 32768 + RANDOM))
    us=$((us % (span + span / 4)))
    sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
    victim=""
    if [ -n "$ranks" ]; then
        pick=$((RANDOM % $(echo "$ranks" | wc -w) + 1))
        victim=$(echo "$ranks" | tr ' ' '\n' | sed -n "${pick}p")
        kill -9 "$victim" 2>/dev/null && killed=$((killed + 1))
    fi
    k0=$(date +%s%N)
    mpi_wait "$job" "$(pgrep -P "$job" | head -1)" "$STOP_WITHIN"
    rc=$?
    stop=$((($(date +%s%N) - k0) / 1000000))
    if [ "$rc" = 125 ]; then # every process had ended; mpirun had not (Open MPI's, not ours)
        launcher=$((launcher + 1))
        rc=1
    elif [ "$stop" -gt "$worst" ]; then
        worst=$stop
    fi
    [ "$rc" -ne 0 ] && interrupted=$((interrupted + 1))
    if [ "$rc" -eq 124 ] || [ $(($(date +%s) - started)) -ge "$STOP_WITHIN" ]; then
        echo "FAIL: trial $trial: the job did not stop within ${STOP_WITHIN} s of killing process $victim"
        fails=$((fails + 1))
    fi
    for p in $ranks; do rm -f "/dev/shm/__KMP_REGISTERED_LIB_${p}_"*; done
    STRATA_POOL=$W "$S" check >"$T/check.txt" 2>&1 ||
        { echo "FAIL: trial $trial: check after the kill: $(cat "$T/check.txt")"; fails=$((fails + 1)); }
    rerun=$((1 + RANDOM % 3))
    STRATA_POOL=$W "${MPIRUN[@]}" -np "$rerun" "$S" update --mpi >/dev/null 2>"$T/rerun.err" ||
        { echo "FAIL: trial $trial: rerun on $rerun failed: $(cat "$T/rerun.err")"; fails=$((fails + 1)); }
    export_all "$W" "$T/out$trial"
    if ! diff -r -q "$T/ref_out" "$T/out$trial" >"$T/diff.txt"; then
        echo "FAIL: trial $trial (np $np ${mode:-incremental}, killed after ${us} us, rerun on $rerun): bytes differ: $(head -3 "$T/diff.txt")"
        fails=$((fails + 1))
    fi
    STRATA_POOL=$W "$S" gc --grace 0 >/dev/null 2>&1
    STRATA_POOL=$W "$S" check >"$T/check.txt" 2>&1 ||
        { echo "FAIL: trial $trial: check after gc: $(cat "$T/check.txt")"; fails=$((fails + 1)); }
    rm -rf "$W" "$T/out$trial"
done
echo "$killed of $TRIALS jobs had a process killed; $interrupted of them were interrupted;"
echo "info: the job ended at most $worst ms after the kill"
echo "info: $launcher times every process had ended but mpirun did not return (killed)"
[ "$interrupted" -gt 0 ] || { echo "FAIL: no job was interrupted"; fails=$((fails + 1)); }
finish update-mpi-crash
