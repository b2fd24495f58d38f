#!/usr/bin/env bash
# A sorted dataset absorbing new batches: the cost of `strata update` after one more batch, as a
# share of `update --full`, with every later compaction counted: BATCHES batches of ROWS rows
# (random fares), a full sort by fare with a gathered column, then APPENDS more batches, one
# update after each. Printed: the full refresh, the first append, and the mean, median and largest
# of the appends (the mean is the amortised cost: it includes the compactions), each as a share
# of the full refresh measured in the same run, and the rows rewritten by compactions.
#     bench/bench_lsm.sh [BUILD_DIR] [BATCHES] [ROWS] [APPENDS]   (defaults: build, 100, 200000, 100)
# VERBOSE=1 prints each append's time and statistics to stderr. WARM=MB writes and deletes MB
# megabytes of scratch before each timed command (untimed), for a VM whose host takes back the
# memory a guest frees: there memory touched for the first time after a pause costs ~50 us a page
# (bench/README.md), which a refresh run right after another one does not pay and an append
# after an ingest does.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
NB=${2:-100}
ROWS=${3:-200000}
NA=${4:-100}
. bench/lib.sh
bench_build "$BUILD" strata
S=$PWD/$BUILD/strata
bench_scratch lsm
export STRATA_POOL=$D/pool
"$S" init >/dev/null
# Eight hours of random trips, ingested in turn (each batch a different hour).
for h in 1 2 3 4 5 6 7 8; do
    "$S" demo taxi "$ROWS" "$D/h$h.csv" --seed "$h" >/dev/null
    "$S" ingest taxi/h$h "$D/h$h.csv" >/dev/null
    "$S" export taxi/h$h --format npy --out "$D/n$h" >/dev/null
done
add() { "$S" ingest taxi/trips "$D/n$((($1 % 8) + 1))" >/dev/null 2>&1; }
for i in $(seq 1 "$NB"); do add "$i"; done
"$S" derive taxi/byfare --from taxi/trips --sort fare >/dev/null
"$S" column taxi/byfare.pickuptime --gather taxi/trips.pickuptime >/dev/null
"$S" update taxi/byfare >/dev/null
warm() { [ -z "${WARM:-}" ] || { head -c "${WARM}M" /dev/zero >"$D/warm" && rm -f "$D/warm"; }; }
ns() { local t0 t1; warm; t0=${EPOCHREALTIME//[.,]/}; "$@" >/dev/null; t1=${EPOCHREALTIME//[.,]/}; echo $(((10#$t1 - 10#$t0) * 1000)); }
full=$(ns "$S" update --full taxi/byfare)
full2=$(ns "$S" update --full taxi/byfare)
[ "$full2" -lt "$full" ] && full=$full2
: >"$D/times"
compacted=0
for i in $(seq 1 "$NA"); do
    add $((NB + i))
    warm
    t0=${EPOCHREALTIME//[.,]/}
    out=$("$S" --json update taxi/byfare)
    t1=${EPOCHREALTIME//[.,]/}
    echo $(((10#$t1 - 10#$t0) * 1000)) >>"$D/times"
    [ -z "${VERBOSE:-}" ] || echo "append $i: $(((10#$t1 - 10#$t0) / 1000)) ms: $out" >&2
    c=$(sed -n 's/.*"parts_compacted":\([0-9]*\).*/\1/p' <<<"$out")
    compacted=$((compacted + ${c:-0}))
done
/usr/bin/python3 - "$D/times" "$full" "$NB" "$ROWS" "$NA" "$compacted" <<'EOF'
import statistics, sys
t = [int(x) / 1e9 for x in open(sys.argv[1])]
full, nb, rows, na, comp = int(sys.argv[2]) / 1e9, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
pct = lambda x: 100 * x / full
print(f"full sort + gathered column of {nb} x {rows} rows, then {na} appends of one batch ({len(t)} updates):")
print(f"  update --full (best of 2)       {full:8.3f} s")
print(f"  first append                    {t[0]:8.3f} s   {pct(t[0]):6.2f} % of full")
print(f"  mean of the appends (amortised) {statistics.mean(t):8.3f} s   {pct(statistics.mean(t)):6.2f} % of full   goal <= 5 %")
print(f"  median append                   {statistics.median(t):8.3f} s   {pct(statistics.median(t)):6.2f} % of full")
print(f"  largest append                  {max(t):8.3f} s   {pct(max(t)):6.2f} % of full")
print(f"  partitions compacted            {comp}")
EOF
