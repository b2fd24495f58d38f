#!/usr/bin/env bash
# Small inputs, whole commands: a second thread costs more than it gains on little work (it is
# woken, and GNU OpenMP's idle threads spin through the serial steps, which on a VM can stall
# the process for milliseconds), so ingest, Parquet export and the update run small inputs on one
# thread whatever --threads says. Each case runs REPS times alternating `--threads 1`,
# `--threads 2` and, when OTHER_BUILD is given (an older build, say), that build's strata with
# `--threads 2`; printed: the median and the slowest time of each, in milliseconds.
#   - ingest of 20 000 taxi rows: CSV (0.7 MB), NPY (three columns), Parquet, Arrow;
#   - Parquet export of those rows;
#   - update --full of a group-by and of a filter over 10 batches of 1 000 and of 100 000 rows.
#     bench/bench_small.sh [BUILD_DIR] [REPS] [OTHER_BUILD]   (defaults: build/release, 15;
#     OTHER_BUILD: a folder holding a strata command, built or copied with its library)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
REPS=${2:-15}
OTHER=${3:-}
. bench/lib.sh
bench_build "$BUILD" strata
S=$PWD/$BUILD/strata
O=${OTHER:+$(cd "$OTHER" && pwd)/strata}
bench_scratch small
export STRATA_POOL=$D/pool
"$S" init >/dev/null
"$S" demo taxi 20000 "$D/t.csv" --seed 1 >/dev/null
"$S" ingest t/src "$D/t.csv" --quiet
"$S" export t/src --format parquet --out "$D/t.parquet" >/dev/null
"$S" export t/src --format arrow --out "$D/t.arrow" >/dev/null
for r in 1000 20000 100000; do
    /usr/bin/python3 - "$D/n$r" "$r" <<'PY'
import os, sys
import numpy as np
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
r = np.random.default_rng(1)
np.save(f"{d}/k.npy", r.integers(0, 100, n))
np.save(f"{d}/v.npy", r.integers(0, 1000, n))
np.save(f"{d}/f.npy", r.uniform(0, 1, n))
PY
    [ "$r" = 20000 ] && continue
    for _ in $(seq 10); do "$S" ingest "s/x$r" "$D/n$r" --quiet; done
    "$S" derive "s/g$r" --from "s/x$r" --groupby k --agg count,sum:v,mean:f >/dev/null
    "$S" derive "s/f$r" --from "s/x$r" --filter "v < 500" >/dev/null
done
"$S" update >/dev/null
k=0
# case NAME ARGS...: the command ARGS (@ replaced by a new dataset name each run) timed as above
case_() {
    local name=$1 a
    shift
    local -a t1=() t2=() to=()
    for _ in $(seq 1 "$REPS"); do
        for a in 1 2 o; do
            [ "$a" = o ] && [ -z "$O" ] && continue
            k=$((k + 1))
            local -a cmd=()
            for w in "$@"; do cmd+=("${w//@/t/n$k}"); done
            if [ "$a" = o ]; then
                to+=("$(timed "$O" --threads 2 "${cmd[@]}")")
            elif [ "$a" = 1 ]; then
                t1+=("$(timed "$S" --threads 1 "${cmd[@]}")")
            else
                t2+=("$(timed "$S" --threads 2 "${cmd[@]}")")
            fi
        done
    done
    mid() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1 * 1000} END {
        printf "%6.1f ms (slowest %6.1f)", a[int((NR + 1) / 2)], a[NR] }'; }
    printf '  %-34s 1 thread %s  2 threads %s' "$name" "$(mid "${t1[@]}")" "$(mid "${t2[@]}")"
    [ -n "$O" ] && printf '  other build, 2 threads %s' "$(mid "${to[@]}")"
    echo
}
echo "bench: small inputs, medians of $REPS alternated runs (one thread, two threads${O:+, $OTHER})"
case_ "ingest CSV 20 000 rows" ingest @ "$D/t.csv" --quiet
case_ "ingest NPY 20 000 rows" ingest @ "$D/n20000" --quiet
case_ "ingest Parquet 20 000 rows" ingest @ "$D/t.parquet" --quiet
case_ "ingest Arrow 20 000 rows" ingest @ "$D/t.arrow" --quiet
case_ "export Parquet 20 000 rows" export t/src --format parquet --out "$D/o.parquet"
for r in 1000 100000; do
    case_ "update --full group-by 10x$r" update --full "s/g$r"
    case_ "update --full filter 10x$r" update --full "s/f$r"
done
