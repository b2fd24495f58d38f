#!/usr/bin/env bash
# The taxi pipeline end to end: 20 batches are ingested one at a time; after each, an incremental
# update must give the same bytes as `update --full`, and (every few batches and at the end) the
# same values as an independent numpy computation over the same CSV files. Then bad input: every
# definition error is caught when defined, with its message, and nothing is created.
set -uo pipefail
S=$1
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-derive-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export STRATA_POOL=$T/pool
"$S" init >/dev/null
have_numpy=0
[ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null && have_numpy=1

NB=${STRATA_TEST_BATCHES:-20}
for i in $(seq 1 "$NB"); do
    "$S" demo taxi $((1500 + i * 97)) "$T/h$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
"$S" ingest taxi/trips "$T/h1.csv" >/dev/null 2>&1

# The pipeline of the issue, plus a full sort with a gathered column and a group-by.
run() { "$S" "$@" >/dev/null 2>"$T/run.err" || { echo "FAIL: strata $*: $(cat "$T/run.err")"; fails=$((fails + 1)); }; }
run derive taxi/expensive --from taxi/trips --filter 'fare > 10000'
run column taxi/expensive.pickuptime --gather taxi/trips.pickuptime
run column taxi/expensive.dropofftime --gather taxi/trips.dropofftime
run column taxi/expensive.fare --gather taxi/trips.fare
run column taxi/expensive.duration --expr 'dropofftime - pickuptime'
run derive taxi/runs --from taxi/expensive --sort-runs fare
run derive taxi/top --from taxi/expensive --topk fare:10 --desc
run column taxi/top.fare --gather taxi/expensive.fare
run derive taxi/byfare --from taxi/trips --sort fare,pickuptime --desc
run column taxi/byfare.dropoffzone --gather taxi/trips.dropoffzone
run column taxi/byfare.fare2 --expr 'fare * 2 + dropoffzone'
run derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare,mean:fare,min:fare,max:fare
run derive taxi/top3 --from taxi/trips --topk fare:3 --global
run column taxi/trips.expensive_fare --scatter taxi/expensive.fare --default -1

OUTS="expensive runs top byfare zones top3 trips"
dump() { for d in $OUTS; do "$S" cat "taxi/$d" >"$T/$1_$d.csv" 2>/dev/null; done; }

numpy_check() {
    cat "$T"/h[0-9]*.csv >/dev/null
    "$PY" - "$T" "$1" <<'PY' || { echo "FAIL: numpy disagrees after batch $1"; fails=$((fails + 1)); }
import sys, numpy as np
t, nb = sys.argv[1], int(sys.argv[2])
batches = [np.loadtxt(f"{t}/h{i}.csv", delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
           for i in range(1, nb + 1)]
sizes = [len(b) for b in batches]
d = np.concatenate(batches)
pz, dz, pt, dt, fare = d.T
def load(name):
    a = np.genfromtxt(f"{t}/inc_{name}.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    return np.atleast_1d(a)
ok = True
def same(what, got, want):
    global ok
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or not np.array_equal(got, want):
        print(f"  {what}: got {got[:8]} ... ({got.shape}) want {want[:8]} ... ({want.shape})")
        ok = False
exp = np.flatnonzero(fare > 10000)
e = load("expensive")
same("expensive.index", e["index"], exp)
same("expensive.fare", e["fare"], fare[exp])
same("expensive.duration", e["duration"], dt[exp] - pt[exp])
# per run (batch of trips) sort and top 10, on the expensive rows of each run
starts = np.cumsum([0] + sizes)
runs, tops = [], []
for b in range(nb):
    sel = exp[(exp >= starts[b]) & (exp < starts[b + 1])]
    f = fare[sel]
    runs.append(sel[np.argsort(f, kind="stable")])
    order = np.argsort(-f, kind="stable")[:10]
    tops.append(sel[order])
# sort_runs and topk index into expensive: map positions back
r = load("runs"); tp = load("top")
same("runs (as trips rows)", e["index"][r["index"]], np.concatenate(runs))
same("top (as trips rows)", e["index"][tp["index"]], np.concatenate(tops))
same("top.fare", tp["fare"], fare[np.concatenate(tops)])
# full sort by (fare, pickuptime) descending, stable
order = np.lexsort((-pt, -fare))
bf = load("byfare")
same("byfare.index", bf["index"], order)
same("byfare.dropoffzone", bf["dropoffzone"], dz[order])
zones = np.unique(pz)
z = load("zones")
same("zones.keys", z["pickupzone"], zones)
same("zones.count", z["count"], [np.sum(pz == k) for k in zones])
same("zones.sum", z["sum_fare"], [fare[pz == k].sum() for k in zones])
same("zones.min", z["min_fare"], [fare[pz == k].min() for k in zones])
same("zones.index", z["index"], [np.flatnonzero(pz == k)[0] for k in zones])
same("zones.mean", np.round(z["mean_fare"], 6), np.round([fare[pz == k].mean() for k in zones], 6))
t3 = load("top3")
same("top3", t3["index"], np.argsort(fare, kind="stable")[:3])
tr = load("trips")
want = np.full(len(fare), -1); want[exp] = fare[exp]
same("trips.expensive_fare (scatter)", tr["expensive_fare"], want)
sys.exit(0 if ok else 1)
PY
}

for i in $(seq 1 "$NB"); do
    [ "$i" -gt 1 ] && run ingest taxi/trips "$T/h$i.csv"
    "$S" update >"$T/upd.txt" || { echo "FAIL: update after batch $i"; fails=$((fails + 1)); }
    dump inc
    "$S" update --full >/dev/null || { echo "FAIL: update --full after batch $i"; fails=$((fails + 1)); }
    dump full
    for d in $OUTS; do
        cmp -s "$T/inc_$d.csv" "$T/full_$d.csv" ||
            { echo "FAIL: batch $i: incremental $d differs from --full"; fails=$((fails + 1)); }
    done
    if [ "$have_numpy" = 1 ] && { [ $((i % 5)) = 0 ] || [ "$i" = 1 ] || [ "$i" = "$NB" ]; }; then
        numpy_check "$i"
    fi
done
# Under a budget far below the sort's size, the sort spills sorted runs and merges them: the
# same rows as in memory.
"$S" --json update --full --mem 1M >"$T/mem.json"
grep -q '"runs_spilled":[1-9]' "$T/mem.json" ||
    { echo "FAIL: a sort under --mem 1M spilled no runs: $(cat "$T/mem.json")"; fails=$((fails + 1)); }
dump mem
for d in $OUTS; do
    cmp -s "$T/mem_$d.csv" "$T/full_$d.csv" ||
        { echo "FAIL: $d under --mem 1M differs from the update in memory"; fails=$((fails + 1)); }
done
# An incremental update after one more batch touches only that batch on the order-preserving
# chain: expensive reads 1 source batch.
"$S" demo taxi 1000 "$T/extra.csv" --seed 99 --start 1800000000 >/dev/null
run ingest taxi/trips "$T/extra.csv"
"$S" --json update taxi/expensive >"$T/one.json"
# expensive, runs and top each read the one new batch of their source
grep -q '"batches_read":3,' "$T/one.json" ||
    { echo "FAIL: updating expensive after one batch read more: $(cat "$T/one.json")"; fails=$((fails + 1)); }
expect 0 "updated: 0 incremental, 0 refreshed, 9 fresh; read 0 batches (0 rows), wrote 0 batches (0 rows) in" -- \
    sh -c "'$S' update taxi/expensive | sed 's/ in [0-9.]* s\$/ in/'"
# The new rows merged into the sort under a budget (spilled) equal a full in-memory sort.
"$S" update taxi/byfare --mem 1M >/dev/null
"$S" cat taxi/byfare >"$T/mem_byfare.csv"
"$S" update --full taxi/byfare >/dev/null
"$S" cat taxi/byfare >"$T/full_byfare.csv"
cmp -s "$T/mem_byfare.csv" "$T/full_byfare.csv" ||
    { echo "FAIL: incremental sort under --mem differs from --full"; fails=$((fails + 1)); }
grep -q '"fresh":true' <<<"$("$S" --json lineage taxi/expensive)" || { echo "FAIL: lineage json"; fails=$((fails + 1)); }
grep -q 'digraph' <<<"$("$S" lineage taxi/byfare --dot)" || { echo "FAIL: lineage --dot"; fails=$((fails + 1)); }
expect 0 "ok: no damage found" -- "$S" check

# ---- strings: a sort by a string key with a gathered string column, in memory and spilled ----
awk 'BEGIN { srand(3); print "word,note,n"
    for (i = 0; i < 30000; i++) {
        w = ""; l = 1 + int(rand() * 6)
        for (k = 0; k < l; k++) w = w sprintf("%c", 97 + int(rand() * 5))
        printf "%s,%s%d,%d\n", w, (rand() < 0.5 ? "x" : "yy"), i % 7, int(rand() * 1000) - 500 } }' >"$T/w.csv"
run ingest words/w "$T/w.csv"
run derive words/s --from words/w --sort word,n --desc
run column words/s.note --gather words/w.note
run column words/s.n2 --expr 'n * 3'
run update words/s
"$S" cat words/s >"$T/words_mem.csv"
grep -q "spilled [1-9][0-9]* sorted run(s)" <<<"$("$S" update --full words/s --mem 1M)" ||
    { echo "FAIL: the string sort under --mem 1M spilled no runs"; fails=$((fails + 1)); }
"$S" cat words/s >"$T/words_spill.csv"
cmp -s "$T/words_mem.csv" "$T/words_spill.csv" ||
    { echo "FAIL: the spilled string sort differs from the in-memory one"; fails=$((fails + 1)); }
if [ "$have_numpy" = 1 ]; then
    "$PY" - "$T" <<'PY' || { echo "FAIL: python disagrees with the string sort"; fails=$((fails + 1)); }
import csv, sys
t = sys.argv[1]
rows = list(csv.reader(open(f"{t}/w.csv")))[1:]
# descending and stable: sort ascending on the negated position after the reversed keys
order = sorted(range(len(rows)), key=lambda i: (rows[i][0].encode(), int(rows[i][2])), reverse=True)
# Python's reverse=True keeps equal keys in input order, as a stable descending sort does.
out = list(csv.reader(open(f"{t}/words_spill.csv")))[1:]
bad = [k for k, (o, i) in enumerate(zip(out, order))
       if (int(o[0]), o[1], int(o[2]), o[3], int(o[4])) != (i, rows[i][0], int(rows[i][2]), rows[i][1], 3 * int(rows[i][2]))]
if len(out) != len(order) or bad:
    print("  first mismatch at row", bad[:1], "of", len(out))
    sys.exit(1)
PY
fi

# ---- a column added to a sorted dataset that has rows: each run's rows gathered by indices in
# any order (the sort's index), numbers and strings, checked row by row against the source ----
run column taxi/byfare.later_pt --gather taxi/trips.pickuptime
run column taxi/byfare.later_fare --gather taxi/trips.fare
run update taxi/byfare
"$S" cat taxi/trips --columns pickuptime,fare >"$T/later_src.csv"
"$S" cat taxi/byfare --columns index,later_pt,later_fare >"$T/later_got.csv"
awk -F, 'NR == FNR { if (FNR > 1) { pt[FNR - 2] = $1; fa[FNR - 2] = $2 }; next }
    FNR > 1 { n++; if (!($1 in pt) || pt[$1] != $2 || fa[$1] != $3) bad++ }
    END { if (bad > 0 || n < 1000) { printf "  %d of %d rows differ\n", bad, n; exit 1 } }' \
    "$T/later_src.csv" "$T/later_got.csv" ||
    { echo "FAIL: columns gathered after the sort differ from the source rows"; fails=$((fails + 1)); }

# ---- bad input: clear errors at definition time, nothing created ----------------------------
expect_err 3 "unknown column 'nope' at 1:1" -- "$S" derive taxi/b1 --from taxi/trips --filter 'nope > 1'
expect_err 3 "expected" -- "$S" derive taxi/b2 --from taxi/trips --filter 'fare >'
expect_err 3 "a filter needs a bool expression" -- "$S" derive taxi/b3 --from taxi/trips --filter 'fare + 1'
expect_err 3 "invalid K 0" -- "$S" derive taxi/b4 --from taxi/trips --topk fare:0
expect_err 1 "--topk takes COL:K" -- "$S" derive taxi/b5 --from taxi/trips --topk fare
expect_err 2 "parent 'taxi/gone' does not exist" -- "$S" derive taxi/b6 --from taxi/gone --sort fare
expect_err 3 "cycle" -- "$S" derive taxi/trips --from taxi/trips --sort fare
expect_err 4 "already exists" -- "$S" derive taxi/expensive --from taxi/trips --sort fare
expect_err 2 "has no column 'x'" -- "$S" derive taxi/b7 --from taxi/trips --sort x
expect_err 3 "unknown aggregate 'mode'" -- "$S" derive taxi/b8 --from taxi/trips --groupby pickupzone --agg mode:fare
expect_err 3 "is not derived from that dataset" -- "$S" column taxi/expensive.z --gather taxi/byfare.fare
expect_err 3 "is not a derived dataset" -- "$S" column taxi/trips.z --gather taxi/expensive.fare
expect_err 3 "--default '1e99' is not a i64 number" -- "$S" column taxi/trips.z --scatter taxi/expensive.fare --default 1e99
expect_err 3 "is out of range for i64" -- "$S" column taxi/trips.z --scatter taxi/expensive.fare --default 99999999999999999999
expect_err 3 "unknown column 'zz' at 1:1" -- "$S" column taxi/expensive.d2 --expr 'zz * 2'
expect_err 3 "type error: 'and' between i64 and i64 at 1:6" -- "$S" column taxi/expensive.d2 --expr 'fare and 1'
expect_err 4 "already has a column 'fare'" -- "$S" column taxi/expensive.fare --expr 'fare * 2'
expect_err 3 "below the minimum" -- "$S" update --mem 10K
expect_err 4 "taxi/expensive' is derived from it" -- "$S" drop taxi/trips
expect_err 3 "is derived: only 'strata update' writes" -- "$S" ingest taxi/expensive "$T/h1.csv"
for b in b1 b2 b3 b4 b5 b6 b7 b8; do
    expect_err 2 "not found" -- "$S" show "taxi/$b"
done
expect 0 "ok: no damage found" -- "$S" check

# String columns gathered across batches: each string comes from its own row of its own batch,
# through a filter and through a full sort.
printf 'id,name\n1,a\n2,bb\n3,ccc\n' >"$T/s1.csv"
printf 'id,name\n4,dddd\n5,e\n' >"$T/s2.csv"
run ingest strs/w "$T/s1.csv" "$T/s2.csv"
run derive strs/odd --from strs/w --filter 'id % 2 == 0'
run column strs/odd.name --gather strs/w.name
run derive strs/desc --from strs/w --sort id --desc
run column strs/desc.name --gather strs/w.name
run update strs
expect 0 "index,name
1,bb
3,dddd" -- "$S" cat strs/odd
expect 0 "index,id,name
4,5,e
3,4,dddd
2,3,ccc
1,2,bb
0,1,a" -- "$S" cat strs/desc
# Long operator chains: the evaluator's scratch used to be sized from the nesting, so
# a+b+a+b+a+b (one level) overflowed it, killed `strata update` (and a server evaluating it).
printf 'a,b,f\n1,10,0.5\n2,20,1.5\n-3,30,2.5\n' >"$T/ch.csv"
run ingest chain/t "$T/ch.csv"
run derive chain/all --from chain/t --filter 'a > -9 and b > 0 and a < 9 and b < 99 and f > 0 and f < 9'
for c in a b f; do run column "chain/all.$c" --gather "chain/t.$c"; done
run column chain/all.s --expr 'a + b + a + b + a + b'
run column chain/all.m --expr 'a * f - b + a * f - b + a * f - b'
run update chain
expect 0 "index,s,m
0,33,-28.5
1,66,-51
2,81,-112.5" -- "$S" cat chain/all --columns index,s,m
expect_err 3 "expression nested deeper than 64" -- "$S" derive chain/bad --from chain/t \
    --filter "$(printf 'not %.0s' $(seq 100))a > 0"
expect_err 3 "expression too long: more than 1024 operators and operands" -- \
    "$S" column chain/all.z --expr "a$(printf '+a%.0s' $(seq 600))"
expect_err 2 "not found" -- "$S" show chain/bad
# ---- a whole single-key sort, straight from the batches -----------------------------------------
# f64 keys with NaNs of two payloads and both signs, -0.0 and +0.0, infinities and duplicates, in
# batches of uneven size (one empty), with a gathered i32 column and an expression: ascending and
# descending, the key's bytes (NaN payloads too) and order as numpy's stable argsort with NaN
# last; the same bytes incrementally, under --mem, and for 1 thread.
if [ "$have_numpy" = 1 ]; then
    "$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(5)
for b, n in enumerate([70000, 0, 1, 90000, 40000]):
    k = rng.integers(-50, 50, n).astype(np.float64) / 4
    u = k.view(np.uint64)
    sel = rng.random(n)
    u[sel < 0.01] = 0x7FF8000000000001
    u[(sel >= 0.01) & (sel < 0.02)] = 0xFFF0000000000123
    k[(sel >= 0.02) & (sel < 0.03)] = -0.0
    k[(sel >= 0.03) & (sel < 0.04)] = np.inf
    k[(sel >= 0.04) & (sel < 0.05)] = -np.inf
    if b == 3:
        k[: n // 2] = rng.random(n // 2) * 1e9  # a wide range: the MSD path
    np.save(f"{t}/k{b}.npy", k)
    np.save(f"{t}/v{b}.npy", rng.integers(-1000, 1000, n).astype(np.int32))
PY
    for b in 0 1 2 3; do run ingest fl/t --column k="$T/k$b.npy" --column v="$T/v$b.npy"; done
    for d in asc desc; do
        flag=; [ "$d" = desc ] && flag=--desc
        run derive "fl/$d" --from fl/t --sort k $flag
        run column "fl/$d.v" --gather fl/t.v
        run column "fl/$d.w" --expr 'v * 2'
    done
    # by a small-range key, the f64 column carried along the counting sort (its NaN bits too)
    run derive fl/byv --from fl/t --sort v
    run column fl/byv.k --gather fl/t.k
    run update fl
    run ingest fl/t --column k="$T/k4.npy" --column v="$T/v4.npy"
    run update fl
    for d in asc desc byv; do run export "fl/$d" --format npy --out "$T/fl_inc_$d"; done
    run update --full fl
    for d in asc desc byv; do run export "fl/$d" --format npy --out "$T/fl_full_$d"; done
    "$S" --threads 1 update --full fl --mem 1M >/dev/null
    for d in asc desc byv; do run export "fl/$d" --format npy --out "$T/fl_mem_$d"; done
    "$S" --threads 1 update --full fl >/dev/null
    for d in asc desc byv; do run export "fl/$d" --format npy --out "$T/fl_one_$d"; done
    for d in asc desc byv; do
        for c in index k v w; do
            [ "$d" = byv ] && [ "$c" = w ] && continue
            for how in inc mem one; do
                cmp -s "$T/fl_${how}_$d/$c.npy" "$T/fl_full_$d/$c.npy" ||
                    { echo "FAIL: fl/$d.$c: $how differs from --full"; fails=$((fails + 1)); }
            done
        done
    done
    "$PY" - "$T" <<'PY' || { echo "FAIL: numpy disagrees with the single-key f64 sort"; fails=$((fails + 1)); }
import sys, numpy as np
t = sys.argv[1]
k = np.concatenate([np.load(f"{t}/k{b}.npy") for b in range(5)])
v = np.concatenate([np.load(f"{t}/v{b}.npy") for b in range(5)])
nan = np.isnan(k)
# totalOrder: -0.0 before +0.0; numpy's sort treats them as equal, so sort by (value, sign) and
# put NaN last in both directions, stably
key = np.where(nan, 0, k) + 0.0
neg0 = (k == 0) & np.signbit(k)
ok = True
for d in ("asc", "desc"):
    s = -1 if d == "desc" else 1
    order = np.lexsort((np.where(neg0, -1, 0) * s, key * s, nan))
    got = {c: np.load(f"{t}/fl_full_{d}/{c}.npy") for c in ("index", "k", "v", "w")}
    if not np.array_equal(got["index"], order):
        bad = np.flatnonzero(got["index"] != order)[:5]
        print(f"  {d}: order differs at {bad}: got {got['index'][bad]} want {order[bad]}")
        ok = False
    ok &= np.array_equal(got["k"].view(np.uint64), k[order].view(np.uint64))
    ok &= np.array_equal(got["v"], v[order]) and np.array_equal(got["w"], v[order].astype(np.int64) * 2)
order = np.argsort(v, kind="stable")
got = {c: np.load(f"{t}/fl_full_byv/{c}.npy") for c in ("index", "v", "k")}
ok &= np.array_equal(got["index"], order) and np.array_equal(got["v"], v[order])
ok &= np.array_equal(got["k"].view(np.uint64), k[order].view(np.uint64))
sys.exit(0 if ok else 1)
PY
fi

finish derive
