#!/usr/bin/env bash
# Build and run the libFuzzer harnesses, one per tests/fuzz/fuzz_*.c (see docs/testing.md).
#
#   scripts/fuzz.sh HARNESS SECONDS   run HARNESS (fuzz_csv, or just csv) for SECONDS
#   scripts/fuzz.sh all SECONDS       run every harness, SECONDS each, FUZZ_JOBS (the cores) at once
#   scripts/fuzz.sh list              the harnesses
#
# The first run configures build/fuzz with clang, -DSTRATA_FUZZ=ON and the sanitizers (ASan,
# UBSan; the library is instrumented for coverage). Each run starts from a copy of the committed
# seed corpus tests/fuzz/corpus/HARNESS (or corpus/NAME for fuzz_NAME; the committed one is never
# changed) with the dictionary tests/fuzz/HARNESS.dict (or NAME.dict) when there is one, on one
# core. The exit status is non-zero when a
# harness finds anything: the input that triggers it is kept in build/fuzz/runs/HARNESS/ (rerun
# it with build/fuzz/tests/HARNESS FILE). The executions of each run are printed at the end.
# FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-max_len=2048). With `all`, a harness that does
# not build is reported (exit status 2 unless another had a finding: 1) and the others still run;
# an interrupt (Ctrl-C) stops every fuzzer still running. A harness's scratch files go to
# build/fuzz/runs/HARNESS/tmp (TMPDIR).
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/fuzz

harnesses() {
    local f
    for f in tests/fuzz/fuzz_*.c; do
        [ -e "$f" ] && basename "$f" .c
    done
}

usage() {
    echo "usage: scripts/fuzz.sh HARNESS|all SECONDS; scripts/fuzz.sh list" >&2
    echo "harnesses: $(harnesses | tr '\n' ' ')" >&2
    exit 2
}

configure() {
    if [ -f "$B/CMakeCache.txt" ] && grep -q '^STRATA_FUZZ:BOOL=ON' "$B/CMakeCache.txt"; then
        # regenerate: a harness added since (another branch's) becomes a target
        cmake -S . -B "$B" >"$B.configure.log" 2>&1 || { cat "$B.configure.log" >&2; exit 2; }
        return
    fi
    command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 2; }
    cmake -S . -B "$B" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DSTRATA_FUZZ=ON -DSTRATA_SANITIZE=ON \
        -DSTRATA_MPI=OFF -DSTRATA_BENCH=OFF >"$B.configure.log" 2>&1 ||
        { cat "$B.configure.log" >&2; exit 2; }
}

# build HARNESS...: their executables (one build: the instrumented library is shared).
build() {
    cmake --build "$B" -j2 --target "$@" >"$B/build.log" 2>&1 ||
        { cat "$B/build.log" >&2; echo "fuzz.sh: build of $* failed" >&2; return 2; }
}

# run HARNESS SECONDS (built): prints one summary line; returns 1 on a finding.
run() {
    local h=$1 secs=$2 dir="$B/runs/$1"
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/tmp"
    # the seeds and dictionary of fuzz_NAME: corpus/fuzz_NAME or corpus/NAME, and likewise .dict
    local c
    for c in "tests/fuzz/corpus/$h" "tests/fuzz/corpus/${h#fuzz_}"; do
        if [ -d "$c" ]; then cp -R "$c/." "$dir/corpus/"; fi
    done
    local args=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
                -artifact_prefix="$dir/")
    for c in "tests/fuzz/$h.dict" "tests/fuzz/${h#fuzz_}.dict"; do
        if [ -f "$c" ]; then args+=(-dict="$c") && break; fi
    done
    # shellcheck disable=SC2206
    [ -n "${FUZZ_ARGS:-}" ] && args+=($FUZZ_ARGS)
    local rc=0
    # (its scratch files in the run's folder: a run ended by a signal leaves them there)
    TMPDIR=$PWD/$dir/tmp ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
        "$B/tests/$h" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    if [ "$rc" -ne 0 ]; then
        tail -40 "$dir/log" >&2
        echo "$h: FINDING after ${execs:-?} executions (exit $rc); input and log in $dir" >&2
        return 1
    fi
    echo "$h: ${execs:-?} executions in ${secs} s, no findings ($(ls "$dir/corpus" | wc -l) corpus entries)"
}

[ $# -ge 1 ] || usage
if [ "$1" = list ]; then
    harnesses
    exit 0
fi
[ $# -eq 2 ] || usage
what=$1 secs=$2
case $secs in '' | *[!0-9]*) usage ;; esac
configure
if [ "$what" = all ]; then
    # every harness built first, then FUZZ_JOBS of them (the cores) at a time, each on one core;
    # their summaries printed in order once all have ended
    jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
    case $jobs in '' | *[!0-9]*) jobs=0 ;; esac
    [ "$((10#$jobs))" -ge 1 ] || { echo "fuzz.sh: FUZZ_JOBS must be 1 or more" >&2; exit 2; }
    jobs=$((10#$jobs))
    mapfile -t all < <(harnesses)
    found=0 broken=0 running=0
    if ! build "${all[@]}" 2>/dev/null; then # (each alone: the ones that build still run)
        built=()
        for h in "${all[@]}"; do
            if build "$h"; then built+=("$h"); else broken=1; fi
        done
        all=(${built[@]+"${built[@]}"})
    fi
    mkdir -p "$B/runs"
    stop_runs() { # an interrupt stops the runs still going (each fuzzer is its run's child)
        local p
        for p in $(jobs -pr); do
            pkill -P "$p" 2>/dev/null || true
            kill "$p" 2>/dev/null || true
        done
        exit "$1"
    }
    trap 'stop_runs 130' INT
    trap 'stop_runs 143' TERM
    for h in ${all[@]+"${all[@]}"}; do
        if [ "$running" -ge "$jobs" ]; then
            wait -n || found=1
            running=$((running - 1))
        fi
        run "$h" "$secs" >"$B/runs/$h.summary" 2>&1 &
        running=$((running + 1))
    done
    while [ "$running" -gt 0 ]; do
        wait -n || found=1
        running=$((running - 1))
    done
    for h in ${all[@]+"${all[@]}"}; do cat "$B/runs/$h.summary"; done
    # a finding: 1 (before a harness that did not build: 2)
    [ "$found" = 0 ] || exit 1
    exit $((broken * 2))
fi
case $what in fuzz_*) ;; *) what=fuzz_$what ;; esac
[ -f "tests/fuzz/$what.c" ] || { echo "fuzz.sh: no harness tests/fuzz/$what.c" >&2; usage; }
build "$what" || exit 2
run "$what" "$secs"
