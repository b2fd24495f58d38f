#!/usr/bin/env bash
# End-to-end tests of group-by on every key type: generated CSV batches (float keys with NaN,
# -0.0 and 0.0, string keys with UTF-8, ISO timestamp keys, duplicates, an empty batch) are
# ingested one by one, group-bys with every aggregate are updated incrementally after each, and
# the result must equal (a) `strata update --full` byte for byte and (b) pandas'
# df.groupby(keys, dropna=False) on the same CSV (order too: ascending, NaN and nulls last).
# Without pandas the pandas half is skipped, except under CI=true, where that is a failure.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-groupby-XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

"$S" init >/dev/null
# Four batches of generated rows and an empty one (third).
$PY - "$T" <<'PY'
import sys, random
t = sys.argv[1]
rng = random.Random(20)
fks = ["1.5", "-0.0", "0.0", "nan", "nan", "-3", "2.25", "1e300"]  # nulls: tests/cli/test_nulls.sh (pandas would merge them with NaN)
sks = ["apple", "banana", "b a", "Zed", "\u00e9clair", "cherry", "apple pie"]
tks = ["2024-01-31T13:45:00Z", "2024-01-31T13:45:00.5Z", "1969-12-31T23:59:59Z",
       "2024-03-01T00:00:00Z"]
names = ["amy", "bob", "cy", "dee", "\u00e5sa", "ed"]
rows = {0: 700, 1: 500, 2: 0, 3: 900, 4: 300}
for b, n in rows.items():
    with open(f"{t}/b{b}.csv", "w", encoding="utf-8") as f:
        f.write("fk,sk,tk,v,x,name\n")
        for _ in range(n):
            f.write(",".join([rng.choice(fks), rng.choice(sks), rng.choice(tks),
                              str(rng.randint(-1000, 1000)),
                              repr(round(rng.gauss(0, 100), rng.choice([0, 1, 3]))),
                              rng.choice(names)]) + "\n")
PY
SCHEMA=fk:f64,sk:str,tk:ts,v:i64,x:f64,name:str
declare -A AGG=(
    [byf]="fk|count,count:v,sum:v,sum:x,mean:x,min:x,max:v,var:x,std:v,first:name,last:x,min:name,max:name"
    [bys]="sk|count,first:v,last:name,var:v,std:x,min:tk,max:tk,first:tk"
    [byt]="tk|count,median:x,median:v,quantile:v:0.25,quantile:x:0.9,count_distinct:v,count_distinct:x,count_distinct:name"
    [bym]="sk,fk,tk|count,sum:v,mean:x,first:x,last:v,max:name,var:x"
    [byv]="v|count,sum:v,mean:x,sum:x,min:v,max:v,count:x"
    [bysk]="sk|count,sum:v,mean:x,max:v"
    [bytk]="tk|count,sum:v,mean:x,count:x"
)
# byv, bysk and bytk: one integer key over a small range, one string key and one timestamp key
# spread over decades, which a full refresh folds batch by batch into arrays indexed by the key
# or its id in a dictionary (st_gfold) while the incremental update merges each batch's groups
NAMES="byf bys byt bym byv bysk bytk"
for b in 0 1 2 3 4; do
    expect 0 "" -- "$S" ingest t/src "$T/b$b.csv" --schema "$SCHEMA" --quiet
    if [ "$b" = 0 ]; then
        for g in $NAMES; do
            spec=${AGG[$g]}
            expect 0 "" -- sh -c "'$S' derive t/$g --from t/src --groupby '${spec%%|*}' --agg '${spec#*|}' >/dev/null"
        done
    fi
    expect 0 "" -- sh -c "'$S' update >'$T/upd.txt' 2>&1"
done
# the last update merged only the new batch into byf, bys and bym, and recomputed byt (holistic
# aggregates: median, quantile, count_distinct) from every batch
expect 0 "" -- grep -q "t/byf index: refreshed, 1 source batch(es) read" "$T/upd.txt"
expect 0 "" -- grep -q "t/bys index: refreshed, 1 source batch(es) read" "$T/upd.txt"
expect 0 "" -- grep -q "t/byt index: refreshed, 5 source batch(es) read" "$T/upd.txt"
expect 0 "" -- grep -q "t/bym index: refreshed, 1 source batch(es) read" "$T/upd.txt"
expect 0 "" -- sh -c "'$S' show t/src | grep -q '^batches   5$'"
for g in $NAMES; do expect 0 "" -- "$S" export "t/$g" --format csv --out "$T/$g.inc.csv"; done
expect 0 "" -- sh -c "'$S' update --full >/dev/null"
for g in $NAMES; do
    expect 0 "" -- "$S" export "t/$g" --format csv --out "$T/$g.full.csv"
    expect 0 "" -- cmp "$T/$g.inc.csv" "$T/$g.full.csv"
done
# key columns keep their dtype; var/std keep their merge state
expect 0 "" -- sh -c "'$S' show t/bym | grep -q '^columns   index:u64 sk:str fk:f64 tk:ts count:i64 sum_v:i64 sum_x:f64 mean_x:f64 first_x:f64 last_v:i64 max_name:str wmean_x:f64 m2_x:f64 var_x:f64$'"
expect 0 "" -- sh -c "'$S' show t/bys | grep -q 'wmean_v:f64 m2_v:f64 var_v:f64 wmean_x:f64 m2_x:f64 std_x:f64'"

# many groups: under --mem 1M the output is cut into batches of 16384 rows, which the next
# update reads back (string keys and string values from several batches) before it merges
$PY - "$T" <<'PY'
import sys
t = sys.argv[1]
for b, (lo, hi) in enumerate([(0, 30000), (15000, 45000)]):
    with open(f"{t}/m{b}.csv", "w") as f:
        f.write("id,n,x,name\n")
        for i in range(lo, hi):
            f.write(f"k{i * 7919 % 45000},{i % 3},{i / 7},n{i % 11}\n")
PY
for b in 0 1; do
    expect 0 "" -- "$S" ingest t/many "$T/m$b.csv" --schema id:str,n:i8,x:f64,name:str --quiet
    [ "$b" = 0 ] && expect 0 "" -- sh -c "'$S' derive t/bymany --from t/many --groupby id,n --agg count,var:x,last:name,min:name,sum:n >/dev/null"
    expect 0 "" -- sh -c "'$S' update t/bymany --mem 1M >/dev/null"
done
expect 0 "" -- sh -c "'$S' show t/bymany | grep -q '^batches   3$'"
expect 0 "" -- "$S" export t/bymany --format csv --out "$T/many.inc.csv"
expect 0 "" -- sh -c "'$S' update t/bymany --full >/dev/null"
expect 0 "" -- "$S" export t/bymany --format csv --out "$T/many.full.csv"
expect 0 "" -- cmp "$T/many.inc.csv" "$T/many.full.csv"
expect 0 "45000" -- sh -c "tail -n +2 '$T/many.inc.csv' | wc -l"

# many hashed keys: some 14 700 distinct strings (6 to 30 bytes) and integers spread over 2^50, which
# a full refresh folds by partitions of their hash (src/ops/gpart.c) while the incremental update
# merges each batch's groups: the same bytes, and pandas' answers below. t/byhk and t/bywk have two
# float sums of one column and a first value, which the fold leaves to the batch-by-batch merge;
# t/onehk and t/onewk neither, so the partitions fold them (the integers, spread evenly by the first
# batch, partitioned by range, negative keys among them)
$PY - "$T" <<'PY'
import sys, random
t = sys.argv[1]
rng = random.Random(21)
for b in range(3):
    with open(f"{t}/h{b}.csv", "w") as f:
        f.write("hk,wk,v,x\n")
        for _ in range(20000):
            k = rng.randrange(15000)
            f.write(f"k{k:05d}{'x' * (k % 25)},{k * (1 << 36) - (1 << 49)},"
                    f"{rng.randint(-1000, 1000)},{rng.gauss(0, 100)!r}\n")
PY
for b in 0 1 2; do
    expect 0 "" -- "$S" ingest t/hashed "$T/h$b.csv" --schema hk:str,wk:i64,v:i64,x:f64 --quiet
    if [ "$b" = 0 ]; then
        for k in hk wk; do
            expect 0 "" -- sh -c "'$S' derive t/by$k --from t/hashed --groupby $k --agg count,sum:v,mean:x,min:v,max:v,first:v,sum:x >/dev/null"
            expect 0 "" -- sh -c "'$S' derive t/one$k --from t/hashed --groupby $k --agg count,sum:v,mean:x,min:v,max:v >/dev/null"
        done
    fi
    expect 0 "" -- sh -c "'$S' update >/dev/null"
done
for k in byhk bywk onehk onewk; do
    expect 0 "" -- "$S" export "t/$k" --format csv --out "$T/$k.inc.csv"
    expect 0 "" -- sh -c "'$S' update t/$k --full >/dev/null"
    expect 0 "" -- "$S" export "t/$k" --format csv --out "$T/$k.full.csv"
    expect 0 "" -- cmp "$T/$k.inc.csv" "$T/$k.full.csv"
done

if ! $PY -c 'import pandas' 2>/dev/null; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL: pandas is missing (apt-get install python3-pandas); CI=true makes that a failure"
        fails=$((fails + 1))
    else
        echo "skipped the pandas comparison: no pandas for $PY"
    fi
    finish "group-by CLI"
fi

for g in $NAMES; do
    spec=${AGG[$g]}
    expect 0 "ok" -- $PY - "$T" "$g" "${spec%%|*}" <<'PY'
import sys, numpy as np, pandas as pd
t, name, keys = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
rd = dict(float_precision="round_trip", dtype={"sk": str, "name": str}, keep_default_na=False,
          na_values={"fk": ["", "nan"]})
parts = [pd.read_csv(f"{t}/b{b}.csv", **rd) for b in range(5)]
df = pd.concat([p for p in parts if len(p)], ignore_index=True)  # the empty one has no dtypes
df["tk"] = pd.to_datetime(df["tk"], utc=True)
df["_row"] = np.arange(len(df))
got = pd.read_csv(f"{t}/{name}.inc.csv", **rd)
for c in got.columns:
    if c == "tk" or c.endswith("_tk"):
        got[c] = pd.to_datetime(got[c], utc=True)
g = df.groupby(keys, dropna=False, sort=True)
want = pd.DataFrame({"index": g["_row"].min(), "count": g.size()})
ops = {"count": "count", "sum": "sum", "mean": "mean", "min": "min", "max": "max", "var": "var",
       "std": "std", "first": "first", "last": "last", "count_distinct": "nunique",
       "median": "median"}
for c in got.columns:
    if c in keys or c in ("index", "count") or c.startswith(("wmean_", "m2_")):
        continue
    op, col = c.rsplit("_", 1)
    if op.startswith("q"):
        want[c] = g[col].quantile(float(op[1:].replace("_", ".")))
    else:
        want[c] = g[col].agg(ops[op])
want = want.reset_index().sort_values(keys, na_position="last", kind="stable")
want = want.reset_index(drop=True)
assert len(got) == len(want), (len(got), len(want))
for c in got.columns:
    if c.startswith(("wmean_", "m2_")):
        continue
    a, b = got[c], want[c]
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        a, b = a.to_numpy(float), b.to_numpy(float)
        ok = np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    else:
        ok = (a.to_numpy() == b.to_numpy()).all()
    assert ok, (name, c, got[c].head(8).tolist(), want[c].head(8).tolist())
print("ok")
PY
done

expect 0 "ok" -- $PY - "$T" <<'PY'
import sys, numpy as np, pandas as pd
t = sys.argv[1]
df = pd.concat([pd.read_csv(f"{t}/h{b}.csv", dtype={"hk": str}, float_precision="round_trip")
                for b in range(3)], ignore_index=True)
for k, pre in (("hk", "by"), ("wk", "by"), ("hk", "one"), ("wk", "one")):
    got = pd.read_csv(f"{t}/{pre}{k}.full.csv", dtype={"hk": str}, float_precision="round_trip")
    g = df.groupby(k, sort=True)
    want = pd.DataFrame({"count": g.size(), "sum_v": g["v"].sum(), "mean_x": g["x"].mean(),
                         "min_v": g["v"].min(), "max_v": g["v"].max(), "first_v": g["v"].first(),
                         "sum_x": g["x"].sum()}).reset_index()
    assert len(got) == len(want) > 14000, (k, len(got), len(want))
    assert (got[k].to_numpy() == want[k].to_numpy()).all(), k
    for c in ("count", "sum_v", "min_v", "max_v") + (("first_v",) if pre == "by" else ()):
        assert (got[c].to_numpy() == want[c].to_numpy()).all(), (k, c)
    for c in ("mean_x", "sum_x") if pre == "by" else ("mean_x",):
        assert np.allclose(got[c], want[c], rtol=1e-9, atol=1e-9), (k, c)
print("ok")
PY

# errors name the column and what to do
expect_err 3 "cannot median column 'name' of 't/src': it holds strings" -- "$S" derive t/bad --from t/src --groupby fk --agg median:name
expect_err 3 "strings take count:COL, min, max, first, last and count_distinct" -- "$S" derive t/bad --from t/src --groupby fk --agg sum:name
expect_err 3 "needs a quantile: quantile:COL:Q" -- "$S" derive t/bad --from t/src --groupby fk --agg quantile:x
expect_err 3 "quantile '1.5' in 'quantile:x:1.5' is not a number in [0, 1]" -- "$S" derive t/bad --from t/src --groupby fk --agg quantile:x:1.5
expect_err 3 "aggregate 'var:x:2' in 'var:x:2' takes one column" -- "$S" derive t/bad --from t/src --groupby fk --agg var:x:2
expect_err 3 "group-by column 'var_x' is asked twice" -- "$S" derive t/bad --from t/src --groupby fk --agg var:x,var:x
printf 'sum_v,v\n1,2\n' >"$T/clash.csv"
expect 0 "" -- "$S" ingest t/clash "$T/clash.csv" --quiet
expect_err 3 "group-by column 'sum_v' is asked twice (or a key has its name)" -- "$S" derive t/bad --from t/clash --groupby sum_v --agg mean:v

finish "group-by CLI"
