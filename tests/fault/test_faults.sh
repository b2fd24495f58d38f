#!/usr/bin/env bash
# Fault injection on every write path (tests/fault/libfault.c, preloaded): for each command, fail
# its 1st, 2nd, 3rd, ... file-changing call (EIO, ENOSPC, or a short write then ENOSPC, in turn)
# until the command makes fewer calls than N. After every injected failure:
#   - the command exits 5 (I/O error, docs/cli.md) with one "strata: ..." message, or 0 when
#     the failed call was one it may ignore (then its result must be complete);
#   - nothing is half-published: what readers see is exactly the state before the command or
#     exactly the state after an undisturbed run;
#   - `strata check` finds no damage (orphans are allowed: gc removes them);
#   - unless it already reads as after, a rerun without faults succeeds and gives the same
#     bytes as the undisturbed run.
# Usage: test_faults.sh STRATA LIBFAULT.so [SCENARIO...]. STRATA_LONG=1 tries every error at
# every N (CI cycles them); STRATA_FAULT_MAX bounds N per scenario (default 2000).
set -uo pipefail
S=$1
LIB=$(realpath "$2")
shift 2
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-fault-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../cli/lib.sh"
W=$T/work # every trial runs on a fresh copy of the template, at this same path
MAXN=${STRATA_FAULT_MAX:-2000}
PY=/usr/bin/python3
st() { "$S" -P "$W/pool" "$@"; }

# ---- data -------------------------------------------------------------------------------------
"$S" demo taxi 900 "$T/h0.csv" --seed 1 >/dev/null
"$S" demo taxi 700 "$T/h1.csv" --seed 2 --start 1704070800 >/dev/null
"$S" demo taxi 500 "$T/h2.csv" --seed 3 --start 1704074400 >/dev/null
have_numpy=0
if $PY -c "import numpy" 2>/dev/null; then
    have_numpy=1
    $PY -c "
import numpy as np
np.save('$T/step.npy', (np.arange(24 * 20, dtype=np.float64).reshape(1, 24, 20) * 1.5))
np.save('$T/block.npy', np.full((8, 8), 7, dtype=np.int32))"
fi
have_h5py=0
if $PY -c "import h5py" 2>/dev/null; then
    have_h5py=1
    $PY -c "
import h5py, numpy as np
with h5py.File('$T/in.h5', 'w') as f:
    g = f.create_group('g')
    n = 700
    g.create_dataset('id', data=np.arange(n, dtype=np.int64), chunks=(100,), compression='gzip')
    g.create_dataset('s', data=np.array([str(i) * (i % 5) for i in range(n)], dtype=object),
                     dtype=h5py.string_dtype())
    d = f.create_dataset('nd', data=np.arange(30 * 20, dtype=np.float32).reshape(30, 20),
                         chunks=(8, 8), compression='gzip')
    d.attrs['units'] = 'K'"
fi

# Parquet and Arrow inputs, written by strata from a scratch pool (with nulls: a blank fare)
printf 'pickupzone,fare,note\n1,250,a\n2,,bb\n3,700,\n' >"$T/nulls.csv"
"$S" -P "$T/src" init >/dev/null
"$S" -P "$T/src" ingest taxi/h1 "$T/h1.csv" --batch-rows 300 --quiet
"$S" -P "$T/src" export taxi/h1 --out "$T/h1.parquet" >/dev/null
"$S" -P "$T/src" export taxi/h1 --out "$T/h1.arrow" >/dev/null

# ---- scenarios: setup (builds the pool at $W/pool), the command, what readers see -------------
setup_base() {
    st init >/dev/null
    st ingest taxi/t "$T/h0.csv" --batch-rows 300 --quiet
}
setup_derived() {
    setup_base
    st derive taxi/exp --from taxi/t --filter 'fare > 10000' >/dev/null
    st column taxi/exp.fare --gather taxi/t.fare >/dev/null
    st column taxi/exp.dur --expr 'dropofftime - pickuptime' >/dev/null 2>&1 ||
        st column taxi/exp.pt --gather taxi/t.pickuptime >/dev/null
    st derive taxi/byfare --from taxi/t --sort fare >/dev/null
    st column taxi/byfare.zone --gather taxi/t.pickupzone >/dev/null
    st derive taxi/zones --from taxi/t --groupby pickupzone --agg count,sum:fare >/dev/null
    st derive taxi/top --from taxi/t --topk fare:5 >/dev/null
    st update >/dev/null
    st ingest taxi/t "$T/h1.csv" --batch-rows 300 --quiet
}
setup_tiers() {
    setup_base
    st tier add tape "$W/pool/tape" --kind archive >/dev/null
    st region create sim >/dev/null
    st nd create sim/a --dtype f64 --shape 0,24,20 --chunks 1,8,8 >/dev/null
    if [ $have_numpy = 1 ]; then
        st nd write sim/a --from "$T/step.npy" --append >/dev/null
        st nd write sim/a --from "$T/step.npy" --append >/dev/null
        # a read leaves the array's manifest, which a write or a migration removes (and syncs
        # its directory) before committing: that sync is a call the faults reach too
        st nd read sim/a --step 1 >/dev/null
        [ -n "$(ls -A "$W/pool/catalog.db-nd" 2>/dev/null)" ] || echo "FAIL: setup made no manifest"
    fi
}
setup_staged() {
    setup_tiers
    st migrate sim/a --to tape >/dev/null
}
setup_arrays() {
    st init >/dev/null
    st array create demo/a i64 1000 >/dev/null
    st array put demo/a 0 5 6 7 8 >/dev/null
    st array backup demo/a bk1 >/dev/null
    st array put demo/a 0 1 1 1 1 >/dev/null
}
setup_big() {
    st init >/dev/null
    "$S" demo taxi 120000 "$T/big.csv" --seed 7 >/dev/null
    st ingest taxi/b "$T/big.csv" --batch-rows 20000 --quiet
    st derive taxi/bsort --from taxi/b --sort fare >/dev/null
    st column taxi/bsort.zone --gather taxi/b.pickupzone >/dev/null
}
setup_gc() {
    setup_derived
    st update >/dev/null
    st update --full >/dev/null # replaced batches: garbage for gc
    st ingest taxi/gone "$T/h2.csv" --quiet
    st drop taxi/gone >/dev/null
    touch "$W/pool/data/orphan-file"
    touch -d '2 hours ago' "$W/pool/data/orphan-file"
}

# What readers see, in units ("## NAME" then its lines): each unit is one thing that a command
# publishes atomically (a dataset's version with its rows, an array's values, a backup). A unit
# must read exactly as before the command or exactly as after an undisturbed run.
unit() { # NAME COMMAND...: a unit from a command's output
    echo "## $1"
    shift
    "$@" 2>&1
}
ds_unit() { # DATASET: its rows (versions may differ: a rerun of --full makes a new one)
    echo "## $1"
    st cat "$1" 2>&1
}
state_base() {
    ds_unit taxi/t
    ds_unit taxi/new
}
state_derived() {
    ds_unit taxi/t
    for d in exp byfare zones top; do ds_unit taxi/$d; done
}
state_big() {
    ds_unit taxi/b
    ds_unit taxi/bsort
}
state_tiers() {
    echo "## taxi/t"
    st cat taxi/t
    unit sim/a sh -c "'$S' -P '$W/pool' nd info sim/a | grep -e shape -e dtype; '$S' -P '$W/pool' nd read sim/a --step 1"
}
state_arrays() {
    unit demo/a sh -c "'$S' -P '$W/pool' array get demo/a | head -8"
    st backup ls 2>&1 | while read -r b _; do echo "## backup $b"; echo "$b"; done
}
# exports: the work directory holds the pool and, after the command, the complete output and
# nothing else (no temporary file left behind)
state_export() {
    echo "## output"
    ls -A "$W"
    for f in "$W"/out*; do
        [ -e "$f" ] || continue
        if [ -d "$f" ]; then ls -A "$f"; cat "$f"/* | md5sum; else md5sum <"$f"; fi
    done
}
setup_nulls() {
    setup_base
    st ingest taxi/n "$T/nulls.csv" --quiet
}
state_hdf5() {
    ds_unit h/n
    unit sim/h sh -c "'$S' -P '$W/pool' nd info sim/h | grep -e shape -e attrs; '$S' -P '$W/pool' nd read sim/h --start 5,5 --count 10,10"
}
state_h5export() { # the exported file: absent, or whole (as h5py reads it)
    unit out.h5 $PY -c "
import h5py, os, sys
p = '$W/out.h5'
if not os.path.exists(p): sys.exit(print('absent'))
g = h5py.File(p)['t']
print(sorted(g), [g[k].shape for k in sorted(g)], int(g['fare'][()].sum()))"
    unit leftovers sh -c "ls '$W' | grep -c tmp- || true"
}
state_ndexport() {
    unit nd.h5 $PY -c "
import h5py, os, sys
p = '$W/nd.h5'
if not os.path.exists(p): sys.exit(print('absent'))
d = h5py.File(p)['x']
print(d.shape, d.chunks, d.compression, float(d[()].sum()), dict(d.attrs))"
    unit leftovers sh -c "ls '$W' | grep -c tmp- || true"
}
setup_hdf5() {
    setup_base
    st ingest h/t "$T/h0.csv" --quiet
}
setup_ndexport() {
    setup_base
    st nd import sim/h "$T/in.h5" --path /nd >/dev/null
}
state_gc() {
    state_derived
    unit versions st log taxi/t
}

# is_mix BEFORE NOW AFTER: every unit of NOW reads as in BEFORE or as in AFTER
is_mix() {
    $PY - "$@" <<'PYEOF'
import sys
def units(path):
    u, name = {}, None
    for line in open(path, errors="replace"):
        if line.startswith("## "):
            name = line[3:].rstrip("\n"); u[name] = ""
        elif name is not None:
            u[name] += line
    return u
b, n, a = (units(p) for p in sys.argv[1:4])
bad = [k for k in set(b) | set(n) | set(a) if n.get(k, "") not in (b.get(k, ""), a.get(k, ""))]
for k in bad: print("unit %s reads neither as before nor as after" % k)
sys.exit(1 if bad else 0)
PYEOF
}

# scenario NAME SETUP STATE COMMAND...
scenario() {
    local name=$1 setup=$2 state=$3
    shift 3
    if [ $# -eq 0 ]; then return; fi
    if [ ${#ONLY[@]} -gt 0 ] && [[ ! " ${ONLY[*]} " == *" $name "* ]]; then return; fi
    rm -rf "$W" && mkdir -p "$W"
    $setup
    rm -rf "$T/tpl" && cp -a "$W" "$T/tpl"
    $state >"$T/before" 2>&1
    # the undisturbed run: the state every successful run must reach
    "$@" >/dev/null 2>"$T/err" || { echo "FAIL: $name: undisturbed run: $(cat "$T/err")"; fails=$((fails + 1)); return; }
    $state >"$T/after" 2>&1
    # how many calls the command makes, undisturbed: CI tries about STRATA_FAULT_TRIALS of them
    # (the first 20, the last 10, and evenly between), STRATA_LONG=1 every one
    rm -rf "$W" && cp -a "$T/tpl" "$W" && rm -f "$T/log"
    STRATA_FAULT_PREFIX=$W STRATA_FAULT_AT=0 STRATA_FAULT_LOG=$T/log LD_PRELOAD=$LIB "$@" \
        >/dev/null 2>&1
    local total
    total=$(sed -n 's/^calls \([0-9]*\).*/\1/p' "$T/log" 2>/dev/null)
    if [ "${total:-0}" -lt 1 ]; then
        echo "FAIL: $name: the fault shim counted no call (is $LIB preloaded?)"
        fails=$((fails + 1))
        return
    fi
    local trials=${STRATA_FAULT_TRIALS:-60} stride=1
    [ "${STRATA_LONG:-0}" != 1 ] && [ "$total" -gt "$trials" ] && stride=$(((total - 30) / (trials - 30) + 1))
    local n=1 modes=(EIO ENOSPC SHORT) injected=0 bad=0
    while [ $n -le "$MAXN" ]; do
        local tries=("${modes[$((n % 3))]}")
        [ "${STRATA_LONG:-0}" = 1 ] && tries=("${modes[@]}")
        local done_all=0
        for mode in "${tries[@]}"; do
            rm -rf "$W" && cp -a "$T/tpl" "$W"
            rm -f "$T/log"
            STRATA_FAULT_PREFIX=$W STRATA_FAULT_AT=$n STRATA_FAULT_ERR=$mode \
                STRATA_FAULT_LOG=$T/log LD_PRELOAD=$LIB "$@" >/dev/null 2>"$T/err"
            local rc=$?
            if ! grep -q injected "$T/log" 2>/dev/null; then
                done_all=1 # the command made fewer than N calls
                break
            fi
            injected=$((injected + 1))
            local where
            where="$name, call $(sed 's/.*injected //' "$T/log") ($mode)"
            $state >"$T/now" 2>&1
            local now=before
            if cmp -s "$T/now" "$T/after"; then
                now=after
            elif ! cmp -s "$T/now" "$T/before"; then
                now=mixed # some units advanced: each must be whole
                is_mix "$T/before" "$T/now" "$T/after" >"$T/mix" || now=half
            fi
            local msgs
            msgs=$(grep -c '^strata: ' "$T/err")
            if [ $rc != 5 ] && ! { [ $rc = 0 ] && [ $now = after ]; }; then
                echo "FAIL: $where: exit $rc (want 5), state $now: $(head -c 600 "$T/err")"
                bad=$((bad + 1))
            elif [ $rc = 5 ] && { [ "$msgs" -lt 1 ] || grep -qiE 'sanitizer|segmentation|abort' "$T/err"; }; then
                echo "FAIL: $where: no clear error: $(head -c 600 "$T/err")"
                bad=$((bad + 1))
            fi
            if [ $now = half ]; then
                echo "FAIL: $where: half-published: $(cat "$T/mix")"
                diff "$T/after" "$T/now" | head -6
                bad=$((bad + 1))
            fi
            if ! st check >"$T/check" 2>&1; then
                echo "FAIL: $where: check: $(grep -v '^orphan' "$T/check" | head -3)"
                bad=$((bad + 1))
            fi
            if [ $now != after ]; then
                if ! "$@" >/dev/null 2>"$T/err2"; then
                    echo "FAIL: $where: the rerun failed: $(head -c 400 "$T/err2")"
                    bad=$((bad + 1))
                else
                    $state >"$T/now" 2>&1
                    cmp -s "$T/now" "$T/after" || {
                        echo "FAIL: $where: the rerun differs:"
                        diff "$T/after" "$T/now" | head -5
                        bad=$((bad + 1))
                    }
                fi
            fi
            [ $bad -gt 20 ] && break 2
        done
        [ $done_all = 1 ] && break
        if [ $n -lt 20 ] || [ $n -ge $((total - 10)) ]; then n=$((n + 1)); else n=$((n + stride)); fi
    done
    echo "$name: $injected faults injected at $total calls (stride $stride), $bad failures"
    fails=$((fails + bad))
}

ONLY=("$@")
scenario ingest setup_base state_base st ingest taxi/t "$T/h1.csv" "$T/h2.csv" --batch-rows 200 --quiet
scenario ingest-new setup_base state_base st ingest taxi/new "$T/h1.csv" --quiet
scenario update setup_derived state_derived st update
scenario update-full setup_derived state_derived st update --full
scenario update-mem setup_big state_big st update --mem 1M
scenario migrate setup_tiers state_tiers st migrate taxi/t --to tape --batches 0-1
if [ $have_numpy = 1 ]; then
    scenario nd-write setup_tiers state_tiers st nd write sim/a --from "$T/step.npy" --append
    scenario nd-migrate setup_tiers state_tiers st migrate sim/a --to tape
    scenario stage setup_staged state_tiers st stage sim/a --start 0,0 --count 12,12
fi
scenario ingest-parquet setup_base state_base st ingest taxi/new "$T/h1.parquet" --quiet
scenario ingest-arrow setup_base state_base st ingest taxi/new "$T/h1.arrow" --quiet
scenario export-parquet setup_nulls state_export st export taxi/n --out "$W/out.parquet"
scenario export-arrow setup_nulls state_export st export taxi/n --out "$W/out.arrow"
scenario export-npy setup_nulls state_export st export taxi/n --format npy --out "$W/out"
scenario export-csv setup_nulls state_export st export taxi/n --format csv --out "$W/out.csv"
scenario export-json setup_nulls state_export st export taxi/n --format json --out "$W/out.json"
if [ $have_h5py = 1 ]; then
    scenario hdf5-ingest setup_hdf5 state_hdf5 st ingest h/n "$T/in.h5" --path /g --batch-rows 200 --quiet
    scenario nd-import setup_hdf5 state_hdf5 st nd import sim/h "$T/in.h5" --path /nd
    scenario hdf5-export setup_base state_h5export st export taxi/t --format hdf5 --out "$W/out.h5" --path /t
    scenario nd-export setup_ndexport state_ndexport st nd export sim/h --out "$W/nd.h5" --path /x
fi
scenario backup setup_arrays state_arrays st array backup demo/a bk2
scenario restore setup_arrays state_arrays st array restore bk1 demo/a
scenario gc setup_gc state_gc st gc --grace 0 --keep-versions 1
finish "fault injection"
