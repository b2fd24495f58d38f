#!/usr/bin/env bash
# Crash: `strata gc --grace 0` killed with SIGKILL at random points beside a writer
# (STRATA_CRASH_PER_PATH trials, default 50; STRATA_LONG=1: 1000). Each trial starts from a pool
# with everything gc collects (a dropped dataset, replaced batches of a refreshed sort, old
# versions to expire, an orphan) and runs an ingest at the same time; sometimes the ingest is
# killed too. Afterwards: check finds no damage, the base dataset holds its old rows or those
# plus the ingest's (never a part), the derived datasets read as before, and a second gc and a
# rerun of the ingest complete with everything in place.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-gccrash-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
PER=${STRATA_CRASH_PER_PATH:-50}
[ "${STRATA_LONG:-0}" = 1 ] && PER=1000
ROWS=20000
P=$T/tpl
st() { "$S" -P "$W" "$@"; }
W=$P
"$S" -P "$P" init >/dev/null
for i in 1 2 3; do
    "$S" demo taxi $ROWS "$T/h$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
q() { st "$@" >/dev/null 2>"$T/q.err" || { echo "FAIL: strata $*: $(cat "$T/q.err")"; fails=$((fails + 1)); }; }
q ingest taxi/t "$T/h1.csv" --batch-rows 2000
q derive taxi/byfare --from taxi/t --sort fare
q column taxi/byfare.zone --gather taxi/t.pickupzone
q derive taxi/exp --from taxi/t --filter 'fare > 10000'
q update
q ingest taxi/t "$T/h2.csv" --batch-rows 2000
q update # the sort's old batches are garbage now
q ingest taxi/gone "$T/h3.csv"
q drop taxi/gone
touch -d '2 hours ago' "$P/data/stray"
for d in byfare exp; do st cat taxi/$d >"$T/$d.want"; done
base=$(st cat taxi/t | wc -l)
# how long an undisturbed gc takes
W=$T/ref
cp -a "$P" "$W"
t0=$(date +%s%N)
st gc --grace 0 --keep-versions 1 >/dev/null
span=$((($(date +%s%N) - t0) / 1000))
[ "$span" -lt 2000 ] && span=2000
killed=0
for trial in $(seq 1 "$PER"); do
    W=$T/w
    rm -rf "$W" && cp -a "$P" "$W"
    # the commands themselves in the background (not a shell function: kill must reach them)
    "$S" -P "$W" ingest taxi/t "$T/h3.csv" --batch-rows 1000 >/dev/null 2>"$T/ing.err" &
    ing=$!
    "$S" -P "$W" gc --grace 0 --keep-versions 1 >/dev/null 2>"$T/gc.err" &
    gcp=$!
    us=$((RANDOM * 32768 + RANDOM))
    us=$((us % (span + span / 2)))
    sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
    child_alive "$gcp" && kill -9 "$gcp" 2>/dev/null && killed=$((killed + 1)) # (not a reused PID)
    ing_killed=0
    if [ $((trial % 4)) = 0 ] && child_alive "$ing"; then kill -9 "$ing" 2>/dev/null && ing_killed=1; fi
    wait $gcp 2>/dev/null
    wait $ing 2>/dev/null
    rc=$?
    if [ $ing_killed = 0 ] && [ $rc != 0 ]; then
        echo "FAIL: trial $trial: the ingest beside gc failed: $(cat "$T/ing.err")"
        fails=$((fails + 1))
    fi
    # (the libomp entries in /dev/shm of these two processes, killed: clang builds)
    rm -f "/dev/shm/__KMP_REGISTERED_LIB_${gcp}_"* "/dev/shm/__KMP_REGISTERED_LIB_${ing}_"*
    st check >"$T/check" 2>&1 || { echo "FAIL: trial $trial: check: $(grep -v ^orphan "$T/check" | head -3)"; fails=$((fails + 1)); }
    rows=$(st cat taxi/t | wc -l)
    if [ "$rows" != "$base" ] && [ "$rows" != $((base + ROWS)) ]; then
        echo "FAIL: trial $trial: taxi/t has $((rows - 1)) rows: neither before nor after the ingest"
        fails=$((fails + 1))
    fi
    for d in byfare exp; do
        st cat taxi/$d >"$T/$d.got" 2>&1
        cmp -s "$T/$d.got" "$T/$d.want" || { echo "FAIL: trial $trial: taxi/$d changed"; fails=$((fails + 1)); }
    done
    st gc --grace 0 --keep-versions 1 >/dev/null 2>"$T/gc.err" || { echo "FAIL: trial $trial: second gc: $(cat "$T/gc.err")"; fails=$((fails + 1)); }
    if [ "$rows" = "$base" ]; then
        st ingest taxi/t "$T/h3.csv" --batch-rows 1000 >/dev/null 2>&1 || { echo "FAIL: trial $trial: the rerun of the ingest failed"; fails=$((fails + 1)); }
    fi
    expect 0 "ok: no damage found" -- st check
    now=$(st cat taxi/t | wc -l)
    [ "$now" = $((base + ROWS)) ] || { echo "FAIL: trial $trial: $((now - 1)) rows after the rerun (before: $((rows - 1)))"; fails=$((fails + 1)); }
    [ "$fails" -gt 10 ] && break
done
echo "$killed of $PER gc runs were killed while running"
finish gc-crash
