#!/usr/bin/env bash
# Concurrency: `strata watch` keeps registered datasets up to date while another process ingests
# batches and readers read the derived datasets. Every read must be a consistent snapshot (the
# filter holds on every row, every gathered column is complete, the sort is sorted); at the end
# the watched results equal a --full recomputation, and watch stops cleanly on SIGTERM.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-watch-XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export STRATA_POOL=$T/pool
"$S" init >/dev/null
NB=${STRATA_WATCH_BATCHES:-10}
for i in $(seq 0 "$NB"); do
    "$S" demo taxi 5000 "$T/h$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
q() { "$S" "$@" >/dev/null 2>&1 || { echo "FAIL: strata $*"; fails=$((fails + 1)); }; }
q ingest taxi/trips "$T/h0.csv"
q derive taxi/expensive --from taxi/trips --filter 'fare > 10000'
q column taxi/expensive.fare --gather taxi/trips.fare
q derive taxi/byfare --from taxi/trips --sort fare
q column taxi/byfare.fare2 --gather taxi/trips.fare
q derive taxi/zones --from taxi/trips --groupby pickupzone --agg count
q auto taxi/expensive
q auto taxi/byfare
expect_err 3 "is not derived" -- "$S" auto taxi/trips

"$S" watch --interval 1 >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
# The writer: one batch at a time, in its own process.
(
    for i in $(seq 1 "$NB"); do
        "$S" ingest taxi/trips "$T/h$i.csv" >/dev/null 2>&1 || echo "ingest $i failed"
        sleep 0.2
    done
) >"$T/writer.out" &
writer=$!
# Readers: consistent snapshots only.
reader() {
    local n=0 bad=0
    while kill -0 "$writer" 2>/dev/null || [ $n -lt 5 ]; do
        if "$S" cat taxi/expensive --columns fare >"$T/r$1.csv" 2>"$T/r$1.err"; then
            awk -F, 'NR > 1 && $1 <= 10000 { bad = 1 } END { exit bad }' "$T/r$1.csv" || bad=$((bad + 1))
        else
            bad=$((bad + 1)); cat "$T/r$1.err"
        fi
        if "$S" cat taxi/byfare --columns fare,fare2 >"$T/s$1.csv" 2>"$T/s$1.err"; then
            awk -F, 'NR > 2 && $1 < prev { bad = 1 } NR > 1 { prev = $1; if ($1 != $2) bad = 1 } END { exit bad }' \
                "$T/s$1.csv" || bad=$((bad + 1))
        else
            bad=$((bad + 1)); cat "$T/s$1.err"
        fi
        n=$((n + 1))
    done
    echo "$n $bad"
}
reader 1 >"$T/reader1" &
r1=$!
reader 2 >"$T/reader2" &
r2=$!
wait "$writer"
wait "$r1" "$r2"
for r in 1 2; do
    read -r n bad <"$T/reader$r"
    [ "$bad" = 0 ] || { echo "FAIL: reader $r saw $bad inconsistent snapshots of $n"; fails=$((fails + 1)); }
done
[ -s "$T/writer.out" ] && { echo "FAIL: writer: $(cat "$T/writer.out")"; fails=$((fails + 1)); }
# watch catches up: the registered datasets become fresh (both: an update reads each one's
# source when it comes to it, so the last batch can land between the two, and the next round,
# --interval 1 later, takes it); zones is not registered.
fresh() { # (its lineage read, every step of it fresh)
    local o
    o=$("$S" --json lineage "taxi/$1") && [[ $o == *'"fresh":true'* && $o != *'"fresh":false'* ]]
}
for _ in $(seq 1 600); do
    fresh byfare && fresh expensive && break
    sleep 0.1
done
if ! { fresh byfare && fresh expensive; }; then
    echo "FAIL: watch left registered datasets stale for 60 s"
    "$S" lineage
    fails=$((fails + 1))
fi
"$S" --json lineage taxi/zones | grep -q '"consumed":0,' ||
    { echo "FAIL: watch updated zones, which is not registered"; fails=$((fails + 1)); }
kill -TERM "$wpid"
wait "$wpid"
rc=$?
[ "$rc" = 0 ] || { echo "FAIL: watch exited $rc: $(cat "$T/watch.err")"; fails=$((fails + 1)); }
grep -q "watch stopped" "$T/watch.err" || { echo "FAIL: watch did not stop cleanly"; fails=$((fails + 1)); }
for d in expensive byfare; do "$S" cat "taxi/$d" >"$T/w_$d.csv"; done
q update --full
for d in expensive byfare; do
    "$S" cat "taxi/$d" >"$T/f_$d.csv"
    cmp -s "$T/w_$d.csv" "$T/f_$d.csv" || { echo "FAIL: watched $d differs from --full"; fails=$((fails + 1)); }
done
expect 0 "ok: no damage found" -- "$S" check
finish watch
