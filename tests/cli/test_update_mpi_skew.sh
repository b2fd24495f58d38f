#!/usr/bin/env bash
# Skewed keys across MPI processes: sorts by a key that is the same in every row and by a Zipf
# key, a group-by and a global top-k of the Zipf key, a group-by of a string key, on 2, 3 and 4
# processes, and on 2 and 4 under a memory budget far below a process's share. Each gives the
# bytes of one process and numpy's answer (a stable argsort, the groups' counts and sums), and
# the work stays even: the update's imbalance (the most rows one process worked on over the
# mean) is at most 1.2.
#     test_update_mpi_skew.sh STRATA PYTHON MPIRUN...
set -uo pipefail
S=$1
PY=$2
shift 2
MPIRUN=("$@")
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-skew-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
"$PY" - "$T" <<'EOF'
import sys
import numpy as np
t = sys.argv[1]
rng = np.random.default_rng(7)
for b in range(12):
    n = 4000 + 37 * b
    z = np.minimum(rng.zipf(1.3, n), 10**6)
    v = rng.integers(0, 10**6, n)
    with open(f"{t}/b{b}.csv", "w") as f:
        f.write("same,zipf,v,tag\n")
        for i in range(n):
            f.write(f"7,{z[i]},{v[i]},t{z[i] % 53}\n")
# batches that shrink: the first process's block is larger than its range of a sort, so the
# second receives more rows than it sends
for b in range(8):
    n = 6000 - 600 * b
    with open(f"{t}/d{b}.csv", "w") as f:
        f.write("same,zipf,v\n")
        for i in range(n):
            f.write(f"7,{min(int(rng.zipf(1.3)), 10**6)},{int(rng.integers(0, 10**6))}\n")
EOF
export STRATA_POOL=$T/ref
"$S" init >/dev/null
for b in $(seq 0 11); do "$S" ingest skew/t "$T/b$b.csv" >/dev/null 2>&1; done
for b in $(seq 0 7); do "$S" ingest skew/d "$T/d$b.csv" >/dev/null 2>&1; done
q() { "$S" "$@" >/dev/null 2>"$T/q.err" || { echo "FAIL: strata $*: $(cat "$T/q.err")"; fails=$((fails + 1)); }; }
q derive skew/bysame --from skew/t --sort same
q column skew/bysame.v --gather skew/t.v
q derive skew/byzipf --from skew/t --sort zipf
q derive skew/g --from skew/t --groupby zipf --agg count,sum:v
q derive skew/top --from skew/t --topk zipf:50 --global --desc
# string keys hashed to their process by their bytes; a float mean and a holistic median
q derive skew/gs --from skew/t --groupby tag --agg count,sum:v,mean:v,median:v,first:zipf
q derive skew/dsame --from skew/d --sort same
q column skew/dsame.v --gather skew/d.v
q derive skew/dzipf --from skew/d --sort zipf --desc
OUTS="bysame byzipf g top gs dsame dzipf"
for np in 2 3 4 m2 m4; do cp -a "$T/ref" "$T/np$np"; done
q update --batch-rows 1024
for d in $OUTS; do "$S" cat "skew/$d" >"$T/ref_$d.csv"; done
# numpy: the stable argsorts, the groups, the top 50 (the first rows of the largest keys)
"$S" export skew/t --format npy --out "$T/src" >/dev/null
for d in bysame byzipf g top; do "$S" export "skew/$d" --format npy --out "$T/$d" >/dev/null; done
"$PY" - "$T" <<'EOF' || { echo "FAIL: numpy disagrees"; fails=$((fails + 1)); }
import sys
import numpy as np
t = sys.argv[1]
src = {c: np.load(f"{t}/src/{c}.npy") for c in ("same", "zipf", "v")}
ok = True
def check(what, got, want):
    global ok
    if not np.array_equal(got, want):
        print(f"FAIL: {what}: strata {got[:8]} numpy {want[:8]}")
        ok = False
check("sort by an all-equal key", np.load(f"{t}/bysame/index.npy"), np.argsort(src["same"], kind="stable"))
check("its gathered column", np.load(f"{t}/bysame/v.npy"), src["v"][np.argsort(src["same"], kind="stable")])
check("sort by a Zipf key", np.load(f"{t}/byzipf/index.npy"), np.argsort(src["zipf"], kind="stable"))
keys, inv = np.unique(src["zipf"], return_inverse=True)
check("group keys", np.load(f"{t}/g/zipf.npy"), keys)
check("group counts", np.load(f"{t}/g/count.npy"), np.bincount(inv))
check("group sums", np.load(f"{t}/g/sum_v.npy"), np.bincount(inv, weights=src["v"]).astype(np.int64))
order = np.lexsort((np.arange(len(src["zipf"])), -src["zipf"]))[:50]
check("global top 50", np.load(f"{t}/top/index.npy"), order)
sys.exit(0 if ok else 1)
EOF
# m2, m4: 2 and 4 processes under a budget far below their share: each sorts its block in
# spilled chunks, and the ranges are exchanged in rounds of a few thousand rows
for np in 2 3 4 m2 m4; do
    mem=""
    [ "${np#m}" = "$np" ] || mem="--mem 1M"
    out=$(STRATA_POOL=$T/np$np "${MPIRUN[@]}" -np ${np#m} "$S" update --mpi --batch-rows 1024 $mem --json 2>&1)
    [ $? -eq 0 ] || { echo "FAIL: np $np: $out"; fails=$((fails + 1)); continue; }
    imb=$(sed -n 's/.*"imbalance":\([0-9.]*\).*/\1/p' <<<"$out")
    ranks=$(sed -n 's/.*"ranks":\([0-9]*\).*/\1/p' <<<"$out")
    [ "$ranks" = "${np#m}" ] || { echo "FAIL: np $np: ranks $ranks"; fails=$((fails + 1)); }
    if [ -n "$mem" ]; then
        spilled=$(sed -n 's/.*"runs_spilled":\([0-9]*\).*/\1/p' <<<"$out")
        [ "${spilled:-0}" -gt "${np#m}" ] || { echo "FAIL: np $np: $spilled runs spilled"; fails=$((fails + 1)); }
    fi
    awk -v x="$imb" 'BEGIN { exit !(x != "" && x <= 1.2) }' ||
        { echo "FAIL: np $np: imbalance $imb over 1.2"; fails=$((fails + 1)); }
    echo "info: $np processes, imbalance $imb"
    for d in $OUTS; do
        STRATA_POOL=$T/np$np "$S" cat "skew/$d" | cmp -s - "$T/ref_$d.csv" ||
            { echo "FAIL: np $np: skew/$d differs from one process"; fails=$((fails + 1)); }
    done
done
finish update-mpi-skew
