#!/usr/bin/env bash
# Incremental update vs --full on the taxi pipeline, in one run on the same pool:
# BATCHES batches of ROWS rows are ingested, the pipeline is computed, then for each chain the
# time of `update --full` is compared with the time of an incremental update after one more
# batch arrives. Also the peak resident memory of a full sort with --mem.
#     bench/bench_derive.sh [BUILD_DIR] [BATCHES] [ROWS]   (defaults: build/release, 100, 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
NB=${2:-100}
ROWS=${3:-1000000}
. bench/lib.sh
bench_build "$BUILD" strata bench/bench_incremental
S=$PWD/$BUILD/strata
bench_scratch derive
export STRATA_POOL=$D/pool
"$S" init >/dev/null
"$S" demo taxi "$ROWS" "$D/h.csv" --seed 1 >/dev/null
# The same hour, NB times (ingest is not what is measured here).
for i in $(seq 1 "$NB"); do "$S" ingest taxi/trips "$D/h.csv" >/dev/null 2>&1; done
q() { "$S" "$@" >/dev/null; }
q derive taxi/expensive --from taxi/trips --filter 'fare > 10000'
q column taxi/expensive.pickuptime --gather taxi/trips.pickuptime
q column taxi/expensive.dropofftime --gather taxi/trips.dropofftime
q column taxi/expensive.fare --gather taxi/trips.fare
q column taxi/expensive.duration --expr 'dropofftime - pickuptime'
q derive taxi/runs --from taxi/expensive --sort-runs fare
q derive taxi/top --from taxi/expensive --topk fare:10 --desc
q derive taxi/byfare --from taxi/trips --sort fare
q column taxi/byfare.pickuptime --gather taxi/trips.pickuptime
q derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,mean:fare
q update
secs() { local t0 t1; t0=${EPOCHREALTIME//[.,]/}; "$@" >/dev/null; t1=${EPOCHREALTIME//[.,]/}; echo "scale=4; $((10#$t1 - 10#$t0)) / 1000000" | bc; }
declare -A full inc
for chain in top byfare zones; do full[$chain]=$(secs "$S" update --full "taxi/$chain"); done
q ingest taxi/trips "$D/h.csv"
for chain in top byfare zones; do inc[$chain]=$(secs "$S" update "taxi/$chain"); done
echo "taxi pipeline, $NB batches of $ROWS rows, then one more batch ($(nproc) threads):"
for chain in top byfare zones; do
    case $chain in
    top) what="filter+gather+expr+sort_runs+topk" target="<= 1.2 % (issue 22, goal 5)" ;;
    byfare) what="full sort + gathered column" target="<= 25 %" ;;
    zones) what="group-by (count, sum, mean)" target="(report)" ;;
    esac
    printf '  %-36s --full %8.3f s   incremental %8.3f s   %6.2f %% of full   target %s\n' \
        "$what" "${full[$chain]}" "${inc[$chain]}" "$(echo "scale=4; 100 * ${inc[$chain]} / ${full[$chain]}" | bc)" "$target"
done
# The same chain in a long-running process (strata watch, an application calling strata_update):
# no process start or catalog open per update, and the catalog's batch lists kept between
# updates; APPENDS more batches, each followed by a timed incremental update.
APPENDS=${APPENDS:-20}
if [ -x "$BUILD/bench/bench_incremental" ]; then
    out=$("$BUILD/bench/bench_incremental" "$STRATA_POOL" taxi/top taxi/trips "$D/h.csv" "$APPENDS")
    val() { awk -v k="$1" '$1 == k { print $2 }' <<<"$out"; }
    printf '  in one process, %s appends: --full %8.3f s   incremental %8.4f s (median; mean %.4f s)  %5.2f %% of full   target <= 1.2 %%\n' \
        "$APPENDS" "$(val full_s)" "$(val inc_median_s)" "$(val inc_mean_s)" "$(echo "scale=4; 100 * $(val inc_median_share)" | bc)"
fi
# Peak memory of a full sort under a budget (GNU time's maximum resident set size).
if [ -x /usr/bin/time ]; then
    bytes=$(du -sb "$STRATA_POOL" | cut -f1)
    rss=$(/usr/bin/time -f '%M' "$S" update --full taxi/byfare --mem 512M 2>&1 >/dev/null | tail -1)
    printf '  full sort of %s rows (pool %.1f GB) with --mem 512M: peak RSS %.0f MB\n' \
        "$((NB * ROWS + ROWS))" "$(echo "scale=2; $bytes / 1000000000" | bc)" "$(echo "scale=1; $rss / 1024" | bc)"
fi
