#!/usr/bin/env bash
# Crash: `strata update` is killed with SIGKILL at random points (STRATA_CRASH_PER_PATH trials,
# default 50, of each of incremental, --full, and --mem 1M, where sorts spill runs to disk;
# STRATA_LONG=1: 1000 of each); a rerun must give the same bytes as an uninterrupted update, and
# check must pass. The full sort is stored as partitions of 30000 rows; the new rows (two thirds
# of the old) make the incremental update compact some of them and add delta runs to the others.
# KEEP=1 keeps the scratch directory.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-ucrash-XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
PER=${STRATA_CRASH_PER_PATH:-50}
[ "${STRATA_LONG:-0}" = 1 ] && PER=1000
TRIALS=${STRATA_CRASH_TRIALS:-$((3 * PER))}
ROWS=${STRATA_CRASH_ROWS:-60000}
P=$T/state
export STRATA_POOL=$P
"$S" init >/dev/null
for i in 1 2 3 4 5; do
    "$S" demo taxi "$ROWS" "$T/h$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
q() { "$S" "$@" >/dev/null 2>&1 || { echo "FAIL: strata $*"; fails=$((fails + 1)); }; }
q ingest taxi/trips "$T/h1.csv" "$T/h2.csv" "$T/h3.csv" --batch-rows $((ROWS / 2))
q derive taxi/expensive --from taxi/trips --filter 'fare > 10000'
q column taxi/expensive.fare --gather taxi/trips.fare
q column taxi/expensive.duration --expr 'fare * 2 - 1'
q derive taxi/runs --from taxi/trips --sort-runs fare
q derive taxi/byfare --from taxi/trips --sort fare
q column taxi/byfare.pickuptime --gather taxi/trips.pickuptime
q derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,max:fare
q derive taxi/top --from taxi/trips --topk fare:100 --global --desc
q column taxi/trips.flag --scatter taxi/expensive.fare --default 0
B="--batch-rows $((ROWS / 2))"
q update $B
# New batches arrive: the state every trial starts from.
q ingest taxi/trips "$T/h4.csv" "$T/h5.csv" --batch-rows $((ROWS / 2))
OUTS="expensive runs byfare zones top trips"
export_all() { # POOL DIR
    mkdir -p "$2"
    for d in $OUTS; do
        STRATA_POOL=$1 "$S" export "taxi/$d" --format npy --out "$2/$d" >/dev/null 2>"$T/exp.err" ||
            { echo "FAIL: export $d: $(cat "$T/exp.err")"; fails=$((fails + 1)); }
    done
}
cp -a "$P" "$T/ref"
t0=$(date +%s%N)
STRATA_POOL=$T/ref "$S" update $B --json >"$T/ref.json"
grep -q '"parts_compacted":[1-9]' "$T/ref.json" || { echo "FAIL: no partition compacted: $(cat "$T/ref.json")"; fails=$((fails + 1)); }
t1=$(date +%s%N)
export_all "$T/ref" "$T/ref_out"
span=$(((t1 - t0) / 1000)) # microseconds an uninterrupted update takes
[ "$span" -lt 1000 ] && span=1000
echo "an uninterrupted update takes ${span} us; killing at random points within it"
killed=0
for trial in $(seq 1 "$TRIALS"); do
    W=$T/w$trial
    cp -a "$P" "$W"
    mode=""
    [ $((trial % 3)) = 0 ] && mode=--full
    # under a small budget the sorts spill runs to temporary files: killed among them too
    [ $((trial % 3)) = 1 ] && mode="--mem 1M"
    STRATA_POOL=$W "$S" update $B $mode >/dev/null 2>&1 &
    pid=$!
    us=$((RANDOM * 32768 + RANDOM))
    us=$((us % (span + span / 4)))
    sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
    if child_alive "$pid" && kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    wait "$pid" 2>/dev/null
    # the LLVM OpenMP runtime (clang builds) registers each process in /dev/shm; a killed one
    # cannot remove its entry
    rm -f "/dev/shm/__KMP_REGISTERED_LIB_${pid}_"* # (_PID_UID: the name never matched before)
    STRATA_POOL=$W "$S" update >/dev/null 2>"$T/rerun.err" ||
        { echo "FAIL: trial $trial: rerun failed: $(cat "$T/rerun.err")"; fails=$((fails + 1)); }
    export_all "$W" "$T/out$trial"
    if ! diff -r -q "$T/ref_out" "$T/out$trial" >"$T/diff.txt"; then
        echo "FAIL: trial $trial (killed after ${us} us, ${mode:-incremental}): bytes differ: $(head -3 "$T/diff.txt")"
        fails=$((fails + 1))
    fi
    STRATA_POOL=$W "$S" check >"$T/check.txt" 2>&1 ||
        { echo "FAIL: trial $trial: check: $(cat "$T/check.txt")"; fails=$((fails + 1)); }
    STRATA_POOL=$W "$S" gc --grace 0 >/dev/null 2>&1
    STRATA_POOL=$W "$S" check >"$T/check.txt" 2>&1 ||
        { echo "FAIL: trial $trial: check after gc: $(cat "$T/check.txt")"; fails=$((fails + 1)); }
    rm -rf "$W" "$T/out$trial"
done
echo "$killed of $TRIALS updates were killed while running"
finish update-crash
