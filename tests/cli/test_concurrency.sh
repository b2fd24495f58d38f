#!/usr/bin/env bash
# Concurrency torture: for a fixed time (STRATA_TORTURE_SECONDS, default 20; 300 with
# STRATA_LONG=1), in separate processes:
#   - `strata gc --grace 0` in a loop (every orphan is "old": only the writers' locks protect
#     their unpublished files),
#   - writers ingesting 3 files at a time (many batches committed before one publish): one into
#     each of 3 datasets, or STRATA_TORTURE_WRITERS per dataset into STRATA_TORTURE_DATASETS
#     datasets (they wait for each other's writer lock),
#   - a creator racing two first ingests into each new dataset (both must succeed: the second
#     waits and appends),
#   - an N-d writer appending steps to arrays it creates, and reading them back,
#   - an update loop (STRATA_TORTURE_UPDATERS of them) over a filter, a gathered column and a
#     sort of the first dataset,
#   - 4 readers checking that every snapshot is consistent (whole commands' worth of rows; the
#     filter holds on every row; the sort is sorted and complete).
# Then: no command failed, nothing was lost (every dataset has exactly the rows of its successful
# ingests, every N-d step reads back), `strata check` finds no damage, and the derived datasets
# equal a --full recomputation.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-torture-XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export STRATA_POOL=$T/pool
SECS=${STRATA_TORTURE_SECONDS:-20}
NDS=${STRATA_TORTURE_DATASETS:-3}
WPER=${STRATA_TORTURE_WRITERS:-1}
NUPD=${STRATA_TORTURE_UPDATERS:-1}
[ "${STRATA_LONG:-0}" = 1 ] && SECS=${STRATA_TORTURE_SECONDS:-300}
ROWS=1500 # rows per file; a writer ingests 3 files per command
"$S" init >/dev/null
for i in 0 1 2; do
    "$S" demo taxi $ROWS "$T/h$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
/usr/bin/python3 -c "import numpy; numpy.save('$T/step.npy', numpy.arange(64 * 48, dtype=numpy.int64).reshape(1, 64, 48))" 2>/dev/null ||
    printf '' >"$T/no-numpy"
q() { "$S" "$@" >/dev/null 2>"$T/q.err" || { echo "FAIL: strata $*: $(cat "$T/q.err")"; fails=$((fails + 1)); }; }
q ingest taxi/d1 "$T/h0.csv" "$T/h1.csv" "$T/h2.csv" --batch-rows 200
q derive taxi/exp --from taxi/d1 --filter 'fare > 10000'
q column taxi/exp.fare --gather taxi/d1.fare
q derive taxi/byfare --from taxi/d1 --sort fare
q column taxi/byfare.fare2 --gather taxi/d1.fare
q update
q region create sim
END=$(($(date +%s) + SECS))
running() { [ "$(date +%s)" -lt "$END" ]; }

gc_loop() {
    local n=0 bad=0
    while running; do
        "$S" gc --grace 0 >/dev/null 2>"$T/gc.err" || { bad=$((bad + 1)); cat "$T/gc.err"; }
        n=$((n + 1))
    done
    echo "$n $bad"
}
writer() { # DATASET ID: ingests of 3 files, counted when they succeed
    local n=0 bad=0
    while running; do
        if "$S" ingest "taxi/$1" "$T/h0.csv" "$T/h1.csv" "$T/h2.csv" --batch-rows 100 \
            >/dev/null 2>"$T/w$2.err"; then
            n=$((n + 1))
        else
            bad=$((bad + 1)); cat "$T/w$2.err"
        fi
    done
    echo "$n $bad"
}
creator() { # two first ingests race into each new dataset
    local n=0 bad=0
    while running; do
        "$S" ingest "new/n$n" "$T/h0.csv" --batch-rows 500 >/dev/null 2>"$T/c1.err" &
        local p1=$!
        "$S" ingest "new/n$n" "$T/h1.csv" --batch-rows 500 >/dev/null 2>"$T/c2.err" || {
            bad=$((bad + 1)); cat "$T/c2.err"; }
        wait $p1 || { bad=$((bad + 1)); cat "$T/c1.err"; }
        n=$((n + 1))
    done
    echo "$n $bad"
}
nd_writer() {
    local n=0 bad=0
    [ -e "$T/no-numpy" ] && { echo "0 0"; return; }
    while running; do
        "$S" nd create "sim/f$n" --dtype i64 --shape 0,64,48 --chunks 1,16,16 >/dev/null 2>"$T/nd.err" &&
            "$S" nd write "sim/f$n" --from "$T/step.npy" --append >/dev/null 2>>"$T/nd.err" &&
            "$S" nd write "sim/f$n" --from "$T/step.npy" --append >/dev/null 2>>"$T/nd.err" &&
            "$S" nd read "sim/f$n" --step 1 --start 0,0 --count 64,48 --out "$T/back.npy" >/dev/null 2>>"$T/nd.err" &&
            cmp -s <(tail -c $((64 * 48 * 8)) "$T/back.npy") <(tail -c $((64 * 48 * 8)) "$T/step.npy") ||
            { bad=$((bad + 1)); echo "nd f$n:"; cat "$T/nd.err"; }
        n=$((n + 1))
    done
    echo "$n $bad"
}
updater() { # ID
    local n=0 bad=0
    while running; do
        "$S" update >/dev/null 2>"$T/u$1.err" || { bad=$((bad + 1)); cat "$T/u$1.err"; }
        n=$((n + 1))
    done
    echo "$n $bad"
}
reader() {
    local n=0 bad=0
    while running; do
        local rows
        rows=$("$S" cat taxi/d2 --columns fare 2>"$T/r$1.err" | tail -n +2 | wc -l)
        [ $((rows % (3 * ROWS))) -eq 0 ] || { bad=$((bad + 1)); echo "reader $1: taxi/d2 has $rows rows"; }
        "$S" cat taxi/exp --columns fare >"$T/r$1.csv" 2>"$T/r$1.err" &&
            awk -F, 'NR > 1 && $1 <= 10000 { bad = 1 } END { exit bad }' "$T/r$1.csv" ||
            { bad=$((bad + 1)); echo "reader $1: taxi/exp"; cat "$T/r$1.err"; }
        "$S" cat taxi/byfare --columns fare,fare2 >"$T/s$1.csv" 2>"$T/s$1.err" &&
            awk -F, 'NR > 2 && $1 < prev { bad = 1 } NR > 1 { prev = $1; if ($1 != $2) bad = 1 } END { exit bad }' "$T/s$1.csv" ||
            { bad=$((bad + 1)); echo "reader $1: taxi/byfare"; cat "$T/s$1.err"; }
        n=$((n + 1))
    done
    echo "$n $bad"
}
gc_loop >"$T/o.gc" &
OUTS="gc new nd r1 r2 r3 r4"
for d in $(seq 1 "$NDS"); do
    for w in $(seq 1 "$WPER"); do
        writer "d$d" "d${d}_$w" >"$T/o.d${d}_$w" &
        OUTS="$OUTS d${d}_$w"
    done
done
creator >"$T/o.new" &
nd_writer >"$T/o.nd" &
for u in $(seq 1 "$NUPD"); do
    updater "$u" >"$T/o.upd$u" &
    OUTS="$OUTS upd$u"
done
for r in 1 2 3 4; do reader $r >"$T/o.r$r" & done
wait
for o in $OUTS; do
    last=$(tail -n 1 "$T/o.$o")
    set -- $last
    if [ "${2:-x}" != 0 ]; then
        echo "FAIL: $o: $(cat "$T/o.$o")"
        fails=$((fails + 1))
    fi
    printf '%s: %s runs; ' "$o" "${1:-?}"
done
echo
# nothing lost: every dataset holds exactly the rows of its successful ingests
rows_of() { "$S" --json show "$1" | sed 's/.*"rows":\([0-9]*\).*"bytes".*/\1/'; }
ingests_of() { # DATASET: the successful ingests of its writers
    local n=0 w
    for w in $(seq 1 "$WPER"); do n=$((n + $(tail -n 1 "$T/o.${1}_$w" | cut -d' ' -f1))); done
    echo "$n"
}
n1=$(ingests_of d1)
expect 0 $(((n1 + 1) * 3 * ROWS)) -- rows_of taxi/d1
for d in $(seq 2 "$NDS"); do
    nd=$(ingests_of "d$d")
    [ "$nd" -gt 0 ] && expect 0 $((nd * 3 * ROWS)) -- rows_of "taxi/d$d"
done
nnew=$(tail -n 1 "$T/o.new" | cut -d' ' -f1)
for i in $(seq 0 $((nnew - 1))); do expect 0 $((2 * ROWS)) -- rows_of new/n$i; done
q update
"$S" gc --grace 0 >/dev/null
expect 0 "ok: no damage found" -- "$S" check
# the incremental results equal a recomputation from scratch
"$S" cat taxi/exp >"$T/exp.inc" && "$S" cat taxi/byfare >"$T/by.inc"
q update --full
"$S" cat taxi/exp >"$T/exp.full" && "$S" cat taxi/byfare >"$T/by.full"
cmp -s "$T/exp.inc" "$T/exp.full" || { echo "FAIL: taxi/exp differs from --full"; fails=$((fails + 1)); }
cmp -s "$T/by.inc" "$T/by.full" || { echo "FAIL: taxi/byfare differs from --full"; fails=$((fails + 1)); }
finish concurrency
