#!/usr/bin/env bash
# End-to-end tests of the dataset commands: ingest, ls, show, cat, export, log, drop, check, gc,
# demo taxi — outputs, exit codes, messages, and that bad input publishes nothing.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-dcli-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
source "$(dirname "$0")/lib.sh"

"$S" init >/dev/null
printf 'zone,fare,dist\n"JFK, T4",1250,12.5\nLGA,-300,3\nEWR,99000,\n' >"$T/a.csv"
printf 'zone,fare,dist\nMidtown,4100,1.25\n' >"$T/b.csv"
expect 0 "" -- "$S" ingest taxi/trips "$T/a.csv" --quiet
expect 0 $'zone,fare,dist\n"JFK, T4",1250,12.5\nLGA,-300,3\nEWR,99000,' -- "$S" cat taxi/trips
expect 0 '{"zone":"JFK, T4","fare":1250,"dist":12.5}
{"zone":"LGA","fare":-300,"dist":3}' -- "$S" cat taxi/trips --format ndjson --head 2
expect 0 $'fare\n1250\n-300\n99000' -- "$S" cat taxi/trips --columns fare
expect 0 "" -- "$S" ingest taxi/trips "$T/b.csv" "$T/b.csv" --quiet
expect 0 "taxi/trips	v2	5 rows	3 batches	172 B" -- "$S" ls
expect 0 "" -- sh -c "'$S' log taxi/trips | grep -q '^v2 .* +2 batch(es), +2 rows, 5 rows in all$'"
expect 0 "" -- sh -c "'$S' show taxi/trips | grep -q '^columns   zone:str fare:i64 dist:f64$'"
expect 0 "" -- sh -c "'$S' show taxi/trips | grep -q 'fare=-300..99000 dist=3..12.5'"
expect 0 "4" -- sh -c "'$S' cat taxi/trips --as-of 1 | wc -l"
expect_err 2 "dataset 'taxi/trips' has no version 3 (its latest is 2)" -- "$S" cat taxi/trips --as-of 3
expect_err 2 "dataset 'taxi/nope' not found" -- "$S" show taxi/nope
expect_err 2 "has no column 'tip'" -- "$S" cat taxi/trips --columns tip

# bad input: exit 3, the place named, nothing published
printf 'zone,fare,dist\nQueens,12x,1\n' >"$T/bad.csv"
expect_err 3 "bad.csv:2:8: column 'fare': cannot parse '12x' as i64" -- "$S" ingest taxi/trips "$T/b.csv" "$T/bad.csv"
expect 0 "taxi/trips	v2	5 rows	3 batches	172 B" -- "$S" ls taxi
printf 'zone,fare\nX,1\n' >"$T/short.csv"
expect_err 3 "the header lacks column 'dist'" -- "$S" ingest taxi/trips "$T/short.csv"
expect_err 3 "the file is empty" -- sh -c ": > '$T/empty.csv'; '$S' ingest taxi/new '$T/empty.csv'"
expect_err 2 "dataset 'taxi/new' not found" -- "$S" show taxi/new
expect_err 1 "--batch-rows takes a positive number" -- "$S" ingest taxi/x "$T/a.csv" --batch-rows 0
expect_err 3 "schema: column 'a' has unknown dtype 'int7'" -- "$S" ingest taxi/x "$T/a.csv" --schema a:int7

# schema given; delimiter; null marker
printf 'id;score\n1;2.5\n2;NA\n' >"$T/semi.csv"
expect 0 "" -- "$S" ingest t/semi "$T/semi.csv" --delimiter ';' --null NA --schema id:i32,score:f32 --quiet
expect 0 $'id,score\n1,2.5\n2,' -- "$S" cat t/semi

# export: csv round-trips, npy reads in numpy
expect 0 "" -- "$S" export taxi/trips --format csv --out "$T/out.csv"
expect 0 "" -- "$S" ingest taxi/copy "$T/out.csv" --quiet
expect 0 "$("$S" cat taxi/trips)" -- "$S" cat taxi/copy
expect 0 "" -- "$S" export taxi/trips --format npy --columns fare,dist --out "$T/npy"
expect 0 $'dist.npy\ndist.valid.npy\nfare.npy' -- ls "$T/npy"
# strings as fixed-width unicode, nulls in NAME.valid.npy (and NaN in floats); a failed export
# leaves nothing
expect 0 "" -- "$S" export taxi/trips --format npy --out "$T/npy2"
expect 0 $'dist.npy\ndist.valid.npy\nfare.npy\nzone.npy' -- ls "$T/npy2"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    expect 0 "<U7 ['JFK, T4', 'LGA', 'EWR', 'Midtown', 'Midtown'] [True, True, False, True, True] nan" -- /usr/bin/python3 -c "
import numpy as np
z = np.load('$T/npy2/zone.npy', mmap_mode='r'); v = np.load('$T/npy2/dist.valid.npy')
print(z.dtype, z.tolist(), v.tolist(), np.load('$T/npy2/dist.npy')[2])"
fi
expect_err 2 "not found" -- "$S" export taxi/nope --format npy --out "$T/npy3"
expect 1 "" -- test -e "$T/npy3"
expect 0 "" -- "$S" ingest taxi/fromnpy "$T/npy" --quiet
expect 0 $'dist,fare\n12.5,1250\n3,-300\n,99000\n1.25,4100\n1.25,4100' -- "$S" cat taxi/fromnpy

# text exports on two threads (300 000 rows: many pieces) are the bytes of one thread's, and
# pandas and Python's json read back exactly the values ingested (floats of every magnitude,
# strings that need quoting, bools)
if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
    /usr/bin/python3 - "$T/peer" <<'PY'
import os, sys
import numpy as np
d = sys.argv[1]
os.makedirs(d)
r = np.random.default_rng(11)
n = 300_000
np.save(f"{d}/id.npy", r.integers(-2**62, 2**62, n))
x = r.standard_normal(n) * 10.0 ** r.integers(-300, 300, n)
x[:4] = [0.1, -0.0, 1e300, 5e-324]
np.save(f"{d}/x.npy", x)
np.save(f"{d}/p.npy", np.round(r.uniform(-1e4, 1e4, n), 2))
w = np.array(['plain', 'a,b', 'say "hi"', 'two\nlines', 'tab\tx', 'caf\u00e9'])
np.save(f"{d}/s.npy", w[r.integers(0, len(w), n)])
np.save(f"{d}/ok.npy", r.integers(0, 2, n).astype(bool))
PY
    expect 0 "" -- "$S" ingest t/peer "$T/peer" --batch-rows 100000 --quiet
    for f in csv tsv ndjson json; do
        expect 0 "" -- "$S" --threads 2 export t/peer --format $f --out "$T/peer2.$f"
        expect 0 "" -- "$S" --threads 1 export t/peer --format $f --out "$T/peer1.$f"
        expect 0 "" -- cmp "$T/peer1.$f" "$T/peer2.$f"
    done
    expect 0 "same" -- /usr/bin/python3 - "$T" <<'PY'
import json, sys
import numpy as np
import pandas as pd
t = sys.argv[1]
want = {c: np.load(f"{t}/peer/{c}.npy") for c in ("id", "x", "p", "s", "ok")}
def same(got, how, sign=True):  # (json reads -0 as the integer 0: the sign not compared there)
    for c, v in want.items():
        g = np.asarray(got[c])
        f = c in ("x", "p") and sign
        if not np.array_equal(g, v) or f and not np.array_equal(np.signbit(g), np.signbit(v)):
            sys.exit(f"{how}: column {c} differs")
for sep, f in ((",", "csv"), ("\t", "tsv")):
    same(pd.read_csv(f"{t}/peer2.{f}", sep=sep, dtype={"s": str}, float_precision="round_trip"), f)
rows = [json.loads(l) for l in open(f"{t}/peer2.ndjson")]
same({c: [row[c] for row in rows] for c in want}, "ndjson", False)
same(pd.DataFrame(json.load(open(f"{t}/peer2.json"))), "json", False)
print("same")
PY
fi

# demo taxi is deterministic
expect 0 "" -- "$S" demo taxi 1000 "$T/t1.csv" --seed 5
expect 0 "" -- "$S" demo taxi 1000 "$T/t2.csv" --seed 5
expect 0 "" -- cmp "$T/t1.csv" "$T/t2.csv"
expect 0 "pickupzone,dropoffzone,pickuptime,dropofftime,fare" -- head -1 "$T/t1.csv"

# check: clean, then damage and orphans
expect 0 "ok: no damage found" -- "$S" check
f=$(ls "$T"/pool/data/*/*/*.1.npy | head -1)
printf 'X' | dd of="$f" bs=1 seek=130 conv=notrunc 2>/dev/null
expect_err 5 "1 damaged item(s)" -- "$S" check
expect 0 "" -- sh -c "'$S' check | grep -q '^DAMAGED: .* batch [0-9]* column .*: checksum [0-9a-f]* does not match'"
touch "$(dirname "$f")/stray.npy"
expect 0 "" -- sh -c "'$S' check | grep -q '^orphan: orphan: file not named by the catalog'"
expect 0 "" -- sh -c "'$S' gc --grace 0 | grep -q '^removed 1 orphan'"

# drop and gc
expect 0 "dropped taxi/copy" -- "$S" drop taxi/copy
expect_err 2 "dataset 'taxi/copy' not found" -- "$S" cat taxi/copy
expect 0 "" -- sh -c "'$S' gc --grace 0 | grep -q '1 dropped dataset'"
expect 0 "" -- sh -c "'$S' --json gc --keep-versions 1 | grep -q '\"versions_expired\":1'"
expect_err 2 "was garbage-collected" -- "$S" cat taxi/trips --as-of 1

# check verifies the catalog first: garbage in its pages is damage, named, with what to do
C="$S -P $T/cpool"
$C init --catalog sqlite >/dev/null # SQLite's own file is what gets damaged
for i in 1 2 3 4 5 6; do $C ingest "taxi/t$i" "$T/t1.csv" --batch-rows 50 --quiet 2>/dev/null; done
expect 0 "ok: no damage found" -- $C check
# (every other page but the schema's, without which SQLite cannot even open the file)
/usr/bin/python3 -c "
import os, sqlite3, sys
p = sys.argv[1]
db = sqlite3.connect(p)
schema = {r[0] for r in db.execute(\"SELECT pageno FROM dbstat WHERE name = 'sqlite_schema'\")}
db.close()
f = open(p, 'r+b')
for pg in range(3, os.path.getsize(p) // 4096, 2):
    if pg + 1 in schema: continue
    f.seek(pg * 4096 + 100); f.write(bytes((i * 37 + pg) % 256 for i in range(200)))
" "$T/cpool/catalog.db"
expect_err 5 "1 damaged item(s)" -- $C check
expect 0 "" -- sh -c "$C check | grep -q '^DAMAGED: catalog: catalog .* is damaged (SQLite.s integrity check: .*the data files are not affected: restore catalog.db and catalog.db-nd/ from a copy'"

# ---- bytes kept exactly: a byte order mark, quoted CRLF, NUL -------------------------------
# A UTF-8 byte order mark (Excel's "CSV UTF-8") is not part of the first column's name.
printf '\xef\xbb\xbfname,v\r\nx,1\r\n' >"$T/bom.csv"
expect 0 "" -- "$S" ingest enc/bom "$T/bom.csv" --quiet
expect 0 $'name,v\nx,1' -- "$S" cat enc/bom
# A NUL in the header would cut the name short: refused at its place, nothing published.
printf 'id,na\0me\n1,2\n' >"$T/nul.csv"
expect_err 3 "nul.csv:1:6: a NUL byte in the header; column names are text" -- "$S" ingest enc/nul "$T/nul.csv"
expect_err 2 "dataset 'enc/nul' not found" -- "$S" show enc/nul
# The bytes between quotes come back exactly, through cat and export, CRLF included, with a
# file of LF lines and of CRLF lines; NUL in data stays data (\u0000 in JSON, not a cut).
printf 'id,s\n1,"a\r\nb"\n2,"\r\n"\n3,"x""\r"\n4,"\n\r\n\r"\n5,p\0q\n' >"$T/crlf.csv"
expect 0 "" -- "$S" ingest enc/crlf "$T/crlf.csv" --quiet --schema id:i64,s:str
"$S" cat enc/crlf >"$T/crlf.out"
cmp -s "$T/crlf.csv" "$T/crlf.out" || { echo "FAIL: cat changed the quoted bytes: $(od -c "$T/crlf.out" | head)"; fails=$((fails + 1)); }
"$S" export enc/crlf --format csv --out "$T/crlf.exp" >/dev/null
cmp -s "$T/crlf.csv" "$T/crlf.exp" || { echo "FAIL: export changed the quoted bytes"; fails=$((fails + 1)); }
printf 'id,s\r\n1,"a\r\nb"\r\n2,"\r\n"\r\n' >"$T/crlf2.csv"
expect 0 "" -- "$S" ingest enc/crlf2 "$T/crlf2.csv" --quiet --threads 2
expect 0 '{"id":1,"s":"a\r\nb"}
{"id":2,"s":"\r\n"}' -- "$S" cat enc/crlf2 --format ndjson
expect 0 '{"id":5,"s":"p\u0000q"}' -- sh -c "'$S' cat enc/crlf --format ndjson | tail -1"
printf 'a\0b\nc\n' >"$T/lines.txt"
expect 0 "created array enc/lines (str, 2 elements)" -- "$S" array create enc/lines str --from "$T/lines.txt"
expect 0 '{"array":"enc/lines","dtype":"str","start":0,"values":["a\u0000b","c"]}' -- "$S" --json array get enc/lines

finish "dataset CLI"
