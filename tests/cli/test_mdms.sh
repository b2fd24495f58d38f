#!/usr/bin/env bash
# End-to-end test of the MDMS layer: the astro3d and volren examples (under mpirun -np 4 when
# MPIRUN is given, else one process), the strata app/runs/find/explain/tool commands with exact
# outputs and exit codes, bad input, and a writer killed with kill -9 in the middle of its saves:
# every published iteration verifies, the interrupted one is invisible, gc removes its files.
#     test_mdms.sh STRATA EXAMPLES_DIR [MPIRUN...]
set -u
S=$1
EX=$2
shift 2
RUN=("$@")
T=$(mktemp -d "${TMPDIR:-/tmp}/mdms.XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export STRATA_POOL=$T/pool
NP=1
[ ${#RUN[@]} -gt 0 ] && NP=4

# ---- the examples -------------------------------------------------------------------------
out=$("${RUN[@]}" "$EX/astro3d" "$T/pool" 24 10 5 2>&1)
echo "$out"
grep -q "saved 2 iterations of temperature and pressure" <<<"$out" || { echo "FAIL: astro3d save"; fails=$((fails + 1)); }
grep -q "loaded 55296 values, 0 wrong" <<<"$out" || { echo "FAIL: astro3d reader"; fails=$((fails + 1)); }
out=$("${RUN[@]}" "$EX/astro3d" "$T/pool" 16 6 3 'chunked(8,8,8) zstd=1' 2>&1)
echo "$out"
grep -q "(chunked)" <<<"$out" && grep -q "loaded 16384 values, 0 wrong" <<<"$out" || { echo "FAIL: astro3d chunked"; fails=$((fails + 1)); }
out=$("${RUN[@]}" "$EX/volren" "$T/vpool" 32 1 2>&1)
echo "$out"
grep -q "20 iterations of 32^3 f32" <<<"$out" || { echo "FAIL: volren"; fails=$((fails + 1)); }
[ "$("$S" -P "$T/vpool" find volren --json | grep -o '"iteration"' | wc -l)" = 20 ] || { echo "FAIL: volren executions"; fails=$((fails + 1)); }

# ---- queries --------------------------------------------------------------------------------
expect 0 "1
2" -- bash -c "'$S' runs astro3d --json | grep -o '\"run\":[0-9]*' | cut -d: -f2 | sort"
expect 0 "2" -- bash -c "'$S' runs astro3d --where 'grid = 16 and dump >= 3' --json | grep -o '\"run\":[0-9]*' | cut -d: -f2"
expect 0 "1 temperature 10
2 temperature 6" -- bash -c "'$S' find astro3d --dataset temperature --where 'iteration >= 6 and max > 1000' | awk 'NR > 1 {print \$1, \$2, \$3}'"
expect 0 "4" -- bash -c "'$S' find astro3d --where 'run = 1' --json | grep -o '\"dataset\"' | wc -l"
# statistics agree with the data: histogram counts add up to the elements
expect 0 "13824" -- bash -c "'$S' find astro3d --dataset pressure --where 'run = 1 and iteration = 5' --json | grep -o '\"histogram\":\[[0-9,]*\]' | tr -dc '0-9,' | tr ',' '\n' | awk '{s += \$1} END {print s}'"
expect 0 "no runs of astro3d match" -- "$S" runs astro3d --where "grid > 1000"
expect_err 3 "unknown name 'gird'" -- "$S" runs astro3d --where "gird = 3"
expect_err 3 "at column 8: expected a comparison" -- "$S" runs astro3d --where "grid   3"
expect_err 3 "unterminated string" -- "$S" find astro3d --where "dataset = 'temp"
# nesting and length limits: 'not not ...' recursed without limit (SQLite's parser overflowed,
# or the stack), and a long 'or' chain failed in SQLite as an I/O error (exit 5)
expect_err 3 "at column 257: condition nested deeper than 64 ('not' and parentheses each add a level)" -- \
    "$S" runs astro3d --where "$(printf 'not %.0s' $(seq 30000))grid = 16"
expect_err 3 "at column 65: condition nested deeper than 64" -- \
    "$S" find astro3d --where "$(printf '(%.0s' $(seq 70))run = 1$(printf ')%.0s' $(seq 70))"
expect 0 "2" -- bash -c "'$S' runs astro3d --where '$(printf '(%.0s' $(seq 40))grid = 16$(printf ')%.0s' $(seq 40))' --json | grep -o '\"run\":[0-9]*' | cut -d: -f2"
expect_err 3 "condition has more than 256 comparisons; shorten it" -- \
    "$S" runs astro3d --where "$(printf 'grid = 1 or %.0s' $(seq 1200))grid = 16"
expect_err 2 "application 'nosuch' not found" -- "$S" runs nosuch
expect_err 1 "give one APP" -- "$S" find

# ---- explain --------------------------------------------------------------------------------
# the cost model: on the page-cached default tier a process reads its own small span (sieve) and
# the collective exchange does not pay; a declared latency keeps requests few; a slow bandwidth
# too makes collective I/O win, which reads each byte once
strat() { "$S" explain astro3d/1/temperature --pattern "$1" --procs "$2" --json | grep -o '"strategy":"[a-z]*"' | cut -d'"' -f4; }
expect 0 "sieve" -- strat '(BLOCK,BLOCK,*)' 16
expect 0 "sieve" -- strat '(BLOCK,BLOCK,*)' 4
expect 0 "tier default: capacity 0, read bandwidth 0 B/s, latency 0.005 s" -- "$S" tier set default --latency 0.005
expect 0 "sieve" -- strat '(BLOCK,BLOCK,*)' 16
expect 0 "tier default: capacity 0, read bandwidth 1.04858e+06 B/s, latency 0.005 s" -- "$S" tier set default --read-bw 1M
expect 0 "collective" -- strat '(BLOCK,BLOCK,*)' 16
expect 0 "estimated sieve" -- bash -c "'$S' explain astro3d/1/temperature --pattern '(BLOCK,BLOCK,*)' --procs 16 | grep -o 'estimated sieve'"
expect_err 1 "--latency needs seconds such as 0.5" -- "$S" tier set default --latency -1
expect_err 1 "a tier's --kind cannot change" -- "$S" tier set default --kind ssd
expect_err 2 "tier 'slow' not found" -- "$S" tier set slow --latency 1
expect 0 "tier default: capacity 0, read bandwidth 0 B/s, latency 0 s" -- "$S" tier set default --latency 0 --read-bw 0
expect 0 "contiguous" -- bash -c "'$S' explain astro3d/1/temperature --pattern '(BLOCK,*,*)' --procs 4 --json | grep -o '\"strategy\":\"[a-z]*\"' | cut -d'\"' -f4"
expect 0 "sieve" -- bash -c "STRATA_IO_STRATEGY=sieve '$S' explain astro3d/1/temperature --pattern '(*,BLOCK,*)' --procs 1 --json | grep -o '\"strategy\":\"[a-z]*\"' | cut -d'\"' -f4"
expect 0 "chunked" -- bash -c "'$S' explain astro3d/2/temperature --pattern '(*,*,BLOCK)' --procs 8 --json | grep -o '\"strategy\":\"[a-z]*\"' | cut -d'\"' -f4"
expect 0 "independent" -- bash -c "STRATA_IO_STRATEGY=independent '$S' explain astro3d/1/temperature --pattern '(BLOCK,BLOCK,*)' --procs 4 --json | grep -o '\"strategy\":\"[a-z]*\"' | cut -d'\"' -f4"
expect 0 "true" -- bash -c "'$S' explain astro3d/1/temperature --pattern '(BLOCK,*,*) sequential' --procs 4 --json | grep -o '\"prefetch\":[a-z]*' | cut -d: -f2"
expect_err 3 "grid of 6 processes, but there are 4" -- "$S" explain astro3d/1/temperature --pattern "(BLOCK,BLOCK,*) grid=2x3x1" --procs 4
expect_err 3 "at column 9: expected BLOCK, CYCLIC, CYCLIC(k) or *" -- "$S" explain astro3d/1/temperature --pattern "(BLOCK, BLOK,*)"
expect_err 3 "2 dimensions given, the dataset has 3" -- "$S" explain astro3d/1/temperature --pattern "(BLOCK,*)"
expect_err 3 "STRATA_IO_STRATEGY=chunked needs a chunked dataset" -- env STRATA_IO_STRATEGY=chunked "$S" explain astro3d/1/temperature --pattern "(BLOCK,*,*)"
expect_err 3 "unknown strategy 'fast'" -- env STRATA_IO_STRATEGY=fast "$S" explain astro3d/1/temperature --pattern "(BLOCK,*,*)"
expect_err 2 "run 9 of 'astro3d' not found" -- "$S" explain astro3d/9/temperature --pattern "(BLOCK,*,*)"
expect_err 2 "has no dataset 'density'" -- "$S" explain astro3d/1/density --pattern "(BLOCK,*,*)"
expect_err 1 "is not APP/RUN/DATASET" -- "$S" explain astro3d/temperature --pattern "(BLOCK,*,*)"

# ---- applications and tools -----------------------------------------------------------------
expect 0 "registered application lab (2 attributes)" -- "$S" app register lab beam:float sample:text
expect 0 "beam                     float
sample                   text" -- "$S" app schema lab
expect_err 3 "run attribute 'beam' is registered as REAL, not TEXT" -- "$S" app register lab beam:text
expect_err 3 "is reserved" -- "$S" app register lab max:float
expect_err 3 "bad run attribute name '2x'" -- "$S" app register lab 2x:int
expect_err 1 "unknown type 'long'" -- "$S" app register lab n:long
# run attributes are SQL columns, whose names ignore case: a clash is refused, not an I/O error
expect_err 4 "run attribute 'Beam' differs from the registered 'beam' only in case" -- "$S" app register lab Beam:float
expect_err 4 "run attribute 'N' is given twice (names ignore case)" -- "$S" app register lab n:int N:int
expect 0 "registered tool paraview" -- "$S" tool add paraview --kind visualisation --command "paraview --data=%s"
expect 0 "paraview         visualisation  paraview --data=%s" -- "$S" tool ls

# ---- a writer killed in the middle of its saves ---------------------------------------------
expect 0 "" -- bash -c "'$S' check >/dev/null"
PER=${STRATA_CRASH_PER_PATH:-50}
[ "${STRATA_LONG:-0}" = 1 ] && PER=1000
for trial in $(seq 1 "$PER"); do
    "${RUN[@]}" "$EX/astro3d" "$T/pool" 64 400 1 >"$T/kill.out" 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 6 + 4))"
    # kill -9 one process of the writer (with mpirun: a rank; mpirun then aborts the others)
    victim=$(pgrep -f "$EX/astro3d $T/pool 64" | grep -v "^$pid\$" | tail -1)
    [ -n "$victim" ] || victim=$pid
    kill -9 "$victim" 2>/dev/null
    # Open MPI's mpirun now and then never notices the killed rank (the others exit and stay
    # zombies under it): bound the wait at 30 s, then kill what is left
    for _ in $(seq 300); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || break
        { [ -z "$state" ] || [ "$state" = Z ]; } && break
        sleep 0.1
    done
    child_alive "$pid" && kill -9 "$pid" 2>/dev/null # (not a PID reused since)
    wait $pid 2>/dev/null
    pkill -9 -f "$EX/astro3d $T/pool 64" 2>/dev/null
    run=$("$S" runs astro3d --json | grep -o '"run":[0-9]*' | head -1 | cut -d: -f2)
    saved=$("$S" find astro3d --where "run = $run" --json | grep -o '"iteration"' | wc -l)
    arrays=$("$S" nd ls astro3d | grep -c "\.r$run\.")
    echo "trial $trial: run $run was killed after $saved published saves ($arrays arrays)"
    [ "$saved" = "$arrays" ] || { echo "FAIL: $arrays arrays for $saved executions"; fails=$((fails + 1)); }
    # every published iteration is whole: check verifies each file's checksum
    expect 0 "" -- bash -c "'$S' check astro3d >/dev/null"
    # and it reads back
    if [ "$saved" -gt 0 ]; then
        it=$("$S" find astro3d --where "run = $run" --json | grep -o '"iteration":[0-9]*' | tail -1 | cut -d: -f2)
        row=$("$S" find astro3d --where "run = $run and iteration = $it" --json)
        ds=$(grep -o '"array":"[^"]*"' <<<"$row" | head -1 | cut -d'"' -f4)
        shape=$(grep -o '"shape":\[[0-9,]*\]' <<<"$row" | head -1 | tr -dc '0-9,')
        expect 0 "" -- bash -c "'$S' nd read astro3d/$ds --start 0,0,0 --count $shape --out '$T/it.npy' >/dev/null"
    fi
done
expect 0 "" -- bash -c "'$S' gc --grace 0 >/dev/null"
expect 0 "" -- bash -c "'$S' check >/dev/null"
finish mdms
