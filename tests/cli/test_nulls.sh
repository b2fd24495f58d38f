#!/usr/bin/env bash
# End-to-end tests of nullable columns: CSV blanks are nulls in every type (integers stay
# integers), show and cat report them, expressions propagate them (Kleene logic for and/or),
# filters leave them out, gathers and scatters carry them, incremental update equals --full,
# sorts and top-k put nulls last, and every result agrees with pandas.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-nulls-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
source "$(dirname "$0")/lib.sh"

"$S" init >/dev/null
cat >"$T/a.csv" <<'CSV'
id,fare,tip,zone,paid,at
1,10,1.5,north,true,2024-01-01 10:00:00
2,,2.5,south,false,2024-01-01 11:00:00
3,30,,"",true,
4,40,4.5,,,2024-01-01 13:00:00
5,,,east,false,2024-01-01 14:00:00
CSV
cat >"$T/b.csv" <<'CSV'
id,fare,tip,zone,paid,at
6,60,6.5,west,true,2024-01-02 10:00:00
7,70,,north,,2024-01-02 11:00:00
CSV
expect 0 "" -- "$S" ingest taxi/t "$T/a.csv" --quiet
expect 0 "" -- sh -c "'$S' show taxi/t | grep -q '^columns   id:i64 fare:i64 tip:f64 zone:str paid:bool at:ts$'"
expect 0 "" -- sh -c "'$S' show taxi/t | grep -q 'nulls fare:2 tip:2 zone:1 paid:1 at:1$'"
expect 0 'id,fare,tip,zone,paid,at
1,10,1.5,north,true,2024-01-01T10:00:00Z
2,,2.5,south,false,2024-01-01T11:00:00Z
3,30,,"",true,
4,40,4.5,,,2024-01-01T13:00:00Z
5,,,east,false,2024-01-01T14:00:00Z' -- "$S" cat taxi/t
expect 0 '{"id":2,"fare":null,"tip":2.5,"zone":"south","paid":false,"at":"2024-01-01T11:00:00Z"}
{"id":3,"fare":30,"tip":null,"zone":"","paid":true,"at":null}' -- sh -c "'$S' cat taxi/t --format ndjson --head 3 | tail -2"
# --null: another marker; the empty field is then an empty string
printf 'id,s\n1,NA\n2,\n' >"$T/na.csv"
expect 0 "" -- "$S" ingest taxi/na "$T/na.csv" --null NA --schema id:i64,s:str --quiet
expect 0 '{"id":1,"s":null}
{"id":2,"s":""}' -- "$S" cat taxi/na --format ndjson

# derived data: a filter keeps only true rows (null or false is null: row 1 goes); expressions
# propagate nulls; gathers and scatters carry them
run() { "$S" "$@" >/dev/null 2>"$T/stderr" || { echo "FAIL: $*: $(cat "$T/stderr")"; fails=$((fails + 1)); }; }
run derive taxi/cheap --from taxi/t --filter 'fare < 50 or paid'
run column taxi/cheap.fare --gather taxi/t.fare
run column taxi/cheap.tip --gather taxi/t.tip
run column taxi/cheap.zone --gather taxi/t.zone
run column taxi/cheap.total --expr 'fare + tip'
run column taxi/cheap.big --expr 'fare > 20 and tip > 2'
run derive taxi/nofare --from taxi/t --filter 'is_null(fare)'
run column taxi/t.tip2 --scatter taxi/cheap.tip --default -1
run update
"$S" ingest taxi/t "$T/b.csv" --quiet
run update
expect 0 'index,fare,tip,zone,total,big
0,10,1.5,north,11.5,false
2,30,,"",,
3,40,4.5,,44.5,true
5,60,6.5,west,66.5,true' -- "$S" cat taxi/cheap
expect 0 $'index\n1\n4' -- "$S" cat taxi/nofare
expect 0 'tip2
1.5
-1

4.5
-1
6.5
-1' -- "$S" cat taxi/t --columns tip2
# an incremental update gives what a full one does
"$S" cat taxi/cheap >"$T/inc.csv"
run update --full
expect 0 "$(cat "$T/inc.csv")" -- "$S" cat taxi/cheap

# the same with pandas (nullable Int64, Kleene logic)
if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
    "$S" export taxi/cheap --format csv --out "$T/cheap.csv"
    expect 0 "ok" -- /usr/bin/python3 - "$T" <<'PY'
import sys, pandas as pd
t = sys.argv[1]
df = pd.concat([pd.read_csv(t + "/a.csv", keep_default_na=False, na_values=[""]),
                pd.read_csv(t + "/b.csv", keep_default_na=False, na_values=[""])], ignore_index=True)
fare = df.fare.astype("Int64"); tip = df.tip.astype("Float64")
paid = df.paid.map({"true": True, "false": False, True: True, False: False}).astype("boolean")
keep = ((fare < 50) | paid).fillna(False)
want = pd.DataFrame({"index": df.index[keep], "fare": fare[keep], "tip": tip[keep],
                     "total": (fare + tip)[keep], "big": ((fare > 20) & (tip > 2))[keep]})
got = pd.read_csv(t + "/cheap.csv", keep_default_na=False, na_values=[""])
for c in ["index", "fare", "tip", "total"]:
    a = want[c].astype("Float64").reset_index(drop=True); b = got[c].astype("Float64")
    assert a.equals(b), (c, list(a), list(b))
b = got.big.map(lambda v: {"true": True, "false": False}.get(v, v) if isinstance(v, str) else v).astype("boolean")
assert want.big.reset_index(drop=True).equals(b), (list(want.big), list(b))
print("ok")
PY
elif [ -n "${CI:-}" ]; then
    echo "FAIL: pandas is missing (scripts/deps.sh installs python3-pandas)"
    fails=$((fails + 1))
fi

# sort_runs and per-run top-k put nulls last, ascending and descending (as pandas'
# sort_values(na_position='last', kind='stable')); a top-k takes nulls only when values run out
run derive taxi/runs --from taxi/t --sort-runs fare
run derive taxi/runsd --from taxi/t --sort-runs fare --desc
run derive taxi/top5 --from taxi/t --topk fare:5
run derive taxi/top5d --from taxi/t --topk fare:5 --desc
run update
expect 0 $'index\n0\n2\n3\n1\n4\n5\n6' -- "$S" cat taxi/runs
expect 0 $'index\n3\n2\n0\n1\n4\n6\n5' -- "$S" cat taxi/runsd
expect 0 $'index\n0\n2\n3\n1\n4\n5\n6' -- "$S" cat taxi/top5
expect 0 $'index\n3\n2\n0\n1\n4\n6\n5' -- "$S" cat taxi/top5d

# a full sort and a global top-k put nulls last too (a null key equals another null, and the
# next key orders them); gathered columns and expressions carry their nulls through the merge
run derive taxi/s --from taxi/t --sort fare
run column taxi/s.tip --gather taxi/t.tip
run column taxi/s.total --expr 'fare + tip'
run derive taxi/sd --from taxi/t --sort fare --desc
run derive taxi/s2 --from taxi/t --sort tip,fare
run derive taxi/k3 --from taxi/t --topk fare:3 --global
run derive taxi/k6 --from taxi/t --topk fare:6 --global
run derive taxi/k6d --from taxi/t --topk fare:6 --global --desc
run update
expect 0 'index,fare,tip,total
0,10,1.5,11.5
2,30,,
3,40,4.5,44.5
5,60,6.5,66.5
6,70,,
1,,2.5,
4,,,' -- "$S" cat taxi/s
expect 0 $'index\n6\n5\n3\n2\n0\n1\n4' -- sh -c "'$S' cat taxi/sd --columns index"
expect 0 $'index\n0\n1\n3\n5\n2\n6\n4' -- sh -c "'$S' cat taxi/s2 --columns index"
expect 0 $'index\n0\n2\n3' -- sh -c "'$S' cat taxi/k3 --columns index"
expect 0 $'index\n0\n2\n3\n5\n6\n1' -- sh -c "'$S' cat taxi/k6 --columns index"
expect 0 $'index\n6\n5\n3\n2\n0\n1' -- sh -c "'$S' cat taxi/k6d --columns index"

# the same through incremental merges with the previous output, and with spilled runs under
# --mem, as pandas' stable sort with na_position='last'
awk 'BEGIN { srand(7); print "k,s,v";
       for (i = 0; i < 60000; i++) {
         k = (i % 7 == 3) ? "" : int(rand() * 500) - 250;
         s = (i % 11 == 5) ? "" : "w" int(rand() * 50);
         v = (i % 5 == 1) ? "" : i;
         print k "," s "," v } }' >"$T/big.csv"
head -20001 "$T/big.csv" >"$T/big1.csv"
{ head -1 "$T/big.csv"; tail -n +20002 "$T/big.csv"; } >"$T/big2.csv"
run ingest big/t "$T/big1.csv"
run derive big/s --from big/t --sort k,s
run column big/s.v --gather big/t.v
run column big/s.w --expr 'v * 2 + k'
run derive big/d --from big/t --sort s --desc
run column big/d.k --gather big/t.k
run derive big/top --from big/t --topk k:30000 --global --desc
run update
run ingest big/t "$T/big2.csv"
run update
for d in s d top; do "$S" cat "big/$d" >"$T/inc_$d.csv"; done
expect 0 "" -- sh -c "'$S' update --full --mem 1M big | grep -q 'spilled [1-9][0-9]* sorted run(s)'"
for d in s d top; do
    "$S" cat "big/$d" >"$T/mem_$d.csv"
    cmp -s "$T/inc_$d.csv" "$T/mem_$d.csv" ||
        { echo "FAIL: big/$d incremental differs from --full --mem 1M"; fails=$((fails + 1)); }
done
if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
    expect 0 "ok" -- /usr/bin/python3 - "$T" <<'PY'
import sys, pandas as pd
t = sys.argv[1]
kw = dict(keep_default_na=False, na_values=[""])
df = pd.read_csv(t + "/big.csv", dtype={"k": "Int64", "s": "string", "v": "Int64"}, **kw)
def check(name, want, cols):
    got = pd.read_csv(t + "/mem_" + name + ".csv", dtype="string", **kw)
    assert list(got["index"].astype(int)) == list(want.index), name
    for c in cols:
        a = want[c].astype("string").reset_index(drop=True)
        assert a.equals(got[c]), (name, c)
s = df.sort_values(["k", "s"], na_position="last", kind="stable")
s = s.assign(w=s.v * 2 + s.k)
check("s", s, ["k", "s", "v", "w"])
check("d", df.sort_values("s", ascending=False, na_position="last", kind="stable"), ["s", "k"])
top = df.sort_values("k", ascending=False, na_position="last", kind="stable").head(30000)
got = pd.read_csv(t + "/mem_top.csv", **kw)
assert sorted(got["index"]) == sorted(top.index), "top-k rows"
assert list(got["k"].astype("Int64")) == list(top.k), "top-k keys"
print("ok")
PY
fi

# group-by: one null group (last), aggregates skip nulls (null when a group has none), count
# counts rows and count:col values; the same after an incremental update and --full, and as
# pandas' groupby(dropna=False)
expect 0 "" -- sh -c "'$S' derive taxi/g --from taxi/t --groupby zone --agg count,count:fare,sum:fare,mean:tip,min:fare,max:tip,first:fare >/dev/null"
expect 0 "" -- sh -c "'$S' update taxi/g >/dev/null"
expect 0 'index,zone,count,count_fare,sum_fare,sum_tip,mean_tip,min_fare,max_tip,first_fare
2,"",1,1,30,,,30,,30
4,east,1,0,,,,,,
0,north,2,2,80,1.5,1.5,10,1.5,10
1,south,1,0,,2.5,2.5,,2.5,
5,west,1,1,60,6.5,6.5,60,6.5,60
3,,1,1,40,4.5,4.5,40,4.5,40' -- "$S" cat taxi/g
"$S" cat taxi/g >"$T/g_inc.csv"
expect 0 "" -- sh -c "'$S' update taxi/g --full >/dev/null"
expect 0 "$(cat "$T/g_inc.csv")" -- "$S" cat taxi/g
# null keys merge incrementally (the null group is a group as any other): only the new batch
# is read; aggregates of a column with nulls recompute from every batch
run ingest keys/t "$T/a.csv"
run derive keys/g --from keys/t --groupby zone,paid --agg count,sum:id,min:id,last:id
run derive keys/f --from keys/t --groupby zone --agg sum:fare
run update
run ingest keys/t "$T/b.csv"
expect 0 "" -- sh -c "'$S' update >'$T/upd.txt' 2>&1"
expect 0 "" -- grep -q "keys/g index: refreshed, 1 source batch(es) read" "$T/upd.txt"
expect 0 "" -- grep -q "keys/f index: refreshed, 2 source batch(es) read" "$T/upd.txt"
expect 0 'index,zone,paid,count,sum_id,min_id,last_id
2,"",true,1,3,3,3
4,east,false,1,5,5,5
0,north,true,1,1,1,1
6,north,,1,7,7,7
1,south,false,1,2,2,2
5,west,true,1,6,6,6
3,,,1,4,4,4' -- "$S" cat keys/g
"$S" cat keys/g >"$T/keys_inc.csv"
run update keys/g --full
expect 0 "$(cat "$T/keys_inc.csv")" -- "$S" cat keys/g

if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
    "$S" export taxi/g --format csv --out "$T/g.csv"
    expect 0 "ok" -- /usr/bin/python3 - "$T" <<'PY'
import sys, pandas as pd
t = sys.argv[1]
kw = dict(keep_default_na=False, na_values=[""])
df = pd.concat([pd.read_csv(t + "/a.csv", **kw), pd.read_csv(t + "/b.csv", **kw)],
               ignore_index=True)
raw = [l.split(",")[3] for l in open(t + "/a.csv").read().split("\n")[1:] if l] + \
      [l.split(",")[3] for l in open(t + "/b.csv").read().split("\n")[1:] if l]
df["zone"] = [None if z == "" else ("" if z == '""' else z) for z in raw]
g = df.groupby("zone", dropna=False, sort=True)
want = pd.DataFrame({"count": g.size(), "count_fare": g.fare.count(),
                     "sum_fare": g.fare.sum(min_count=1), "mean_tip": g.tip.mean(),
                     "min_fare": g.fare.min(), "max_tip": g.tip.max(), "first_fare": g.fare.first()})
got = pd.read_csv(t + "/g.csv", keep_default_na=False, na_values=[""])
# the keys as strata wrote them ('""' an empty string, nothing a null): pandas sorts the same
keys = [l.split(",")[1] for l in open(t + "/g.csv").read().split("\n")[1:] if l]
keys = [None if k == "" else ("" if k == '""' else k) for k in keys]
wkeys = [None if k != k else k for k in want.index]
assert keys == wkeys, (keys, wkeys)
for c in want.columns:
    a, b = want[c].astype("Float64").reset_index(drop=True), got[c].astype("Float64").reset_index(drop=True)
    assert a.equals(b), (c, list(a), list(b))
print("ok")
PY
fi

# check verifies the bitmaps; they survive a migration to another tier and back
expect 0 "" -- sh -c "'$S' check >/dev/null"
finish nulls
