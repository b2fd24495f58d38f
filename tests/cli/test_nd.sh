#!/usr/bin/env bash
# End-to-end tests of N-d arrays and tiers through the strata command, checked against numpy:
# region reads of every layout, growth by steps, tiers, migration, staging, check; bad input
# with its exact error, exit code, and nothing published; a reader in one process while a writer
# rewrites regions in another (every chunk of every read all old or all new).
set -u
S=$1
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-nd-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export STRATA_POOL=$T/pool
cd "$T"

$S init >/dev/null && $S region create sim >/dev/null || exit 1

# ---- every layout, with and without zstd, against numpy -------------------------------------
$PY - <<'EOF'
import numpy as np
rng = np.random.default_rng(7)
np.save("a.npy", rng.standard_normal((3, 97, 61)).astype(np.float32))
np.save("patch.npy", np.full((1, 10, 20), 42.5, dtype=np.float32))
EOF
for spec in "chunked --chunks 1,16,16" "chunked --chunks 2,40,7 --zstd 3" "row" "col"; do
    case $spec in
    *zstd*) name=a_zstd ;;
    chunked*) name=a_chunked ;;
    *) name=a_$spec ;;
    esac
    expect 0 "" -- sh -c "$S nd create sim/$name --dtype f32 --shape 0,97,61 --layout $spec >/dev/null"
    expect 0 "" -- sh -c "$S nd write sim/$name --from a.npy --append >/dev/null"
    expect 0 "" -- sh -c "$S nd write sim/$name --from patch.npy --start 1,5,30 >/dev/null"
    expect 0 "" -- sh -c "$S nd read sim/$name --start 0,3,2 --count 3,50,40 --out $name.npy >/dev/null"
    expect 0 "" -- sh -c "$S nd read sim/$name --start 0,0,0 --count 3,33,21 --stride 1,3,3 --out ${name}_s.npy >/dev/null"
    expect 0 "ok" -- $PY -c "
import numpy as np
a = np.load('a.npy'); a[1, 5:15, 30:50] = 42.5
assert (np.load('$name.npy') == a[0:3, 3:53, 2:42]).all()
assert (np.load('${name}_s.npy') == a[:, ::3, ::3]).all()
print('ok')"
done
# the command prints an f32 in the fewest digits (6 to 9, as %g) that read back as it
SHORTEST='
def shortest(v):
    for p in range(6, 10):
        if np.float32(float("%.*g" % (p, v))) == np.float32(v):
            return "%.*g" % (p, v)'
# fewer coordinates than dimensions: the last ones, at --step
expect 0 "$($PY -c "
import numpy as np; a = np.load('a.npy')
$SHORTEST
print('\n'.join(' '.join(shortest(v) for v in r) for r in a[2, 10:12, 0:3].tolist()))")" \
    -- $S nd read sim/a_row --step 2 --start 10,0 --count 2,3
expect 0 '{"shape":[1,1,2],"values":[42.5,42.5]}' -- $S --json nd read sim/a_col --step 1 --start 5,30 --count 1,2
# --step alone reads that whole step (it was ignored: the whole array came back)
for name in a_row a_chunked a_zstd; do
    expect 0 "" -- sh -c "$S nd read sim/$name --step 2 --out step2_$name.npy >/dev/null"
    expect 0 "ok" -- $PY -c "
import numpy as np
a = np.load('a.npy'); a[1, 5:15, 30:50] = 42.5
got = np.load('step2_$name.npy')
assert got.shape == (1, 97, 61), got.shape
assert (got[0] == a[2]).all()
print('ok')"
done
expect 0 "$($PY -c "
import numpy as np; a = np.load('a.npy')
$SHORTEST
print('\n'.join(' '.join(shortest(v) for v in r) for r in a[1, 0:97:48, 0:61:30].tolist()))")" \
    -- $S nd read sim/a_col --step 1 --stride 48,30
expect_err 1 "--step S is the index of the first dimension: give --start, --count and --stride for the other 2 dimension(s) only" \
    -- $S nd read sim/a_row --step 1 --start 0,0,0
expect_err 3 "outside dimension 0 of size 3" -- $S nd read sim/a_row --step 3
expect 0 "a_chunked
a_col
a_row
a_zstd" -- $S nd ls sim
out=$($S --json nd info sim/a_zstd)
case $out in
*'"shape":[3,97,61]'*'"chunks":[2,40,7]'*'"zstd":3'*'"chunks_total":54,"chunks_written":54'*) ;;
*) echo "FAIL: nd info: $out"; fails=$((fails + 1)) ;;
esac
# ---- bad input: exact errors, nothing published -------------------------------------------------
v0=$($S --json nd info sim/a_row | sed 's/.*"version":\([0-9]*\).*/\1/')
expect_err 3 "outside dimension 1 of size 97" -- $S nd read sim/a_row --start 0,90,0 --count 1,10,5
expect_err 3 "count of dimension 2 is 0" -- $S nd read sim/a_row --start 0,0,0 --count 1,1,0
expect_err 3 "outside dimension 2 of size 61" -- $S nd write sim/a_row --from patch.npy --start 0,0,50
$PY -c "import numpy as np; np.save('i.npy', np.zeros((1,2,2), dtype=np.int32))"
expect_err 3 "holds i32, but 'sim/a_row' is f32" -- $S nd write sim/a_row --from i.npy --start 0,0,0
echo "not npy" > bad.npy
expect_err 3 "'bad.npy' is truncated" -- $S nd write sim/a_row --from bad.npy --start 0,0,0
expect_err 1 "--start needs 3 numbers" -- $S nd write sim/a_row --from patch.npy --start 0,0
expect_err 2 "N-d array 'sim/nope' not found" -- $S nd read sim/nope --start 0 --count 1
expect_err 2 "tier 'tape' not found" -- $S nd create sim/x --dtype f32 --shape 4,4 --chunks 2,2 --tier tape
expect_err 1 "--chunks needs 2 numbers" -- $S nd create sim/x --dtype f32 --shape 4,4 --chunks 2
expect_err 3 "name '..x' contains '..'" -- $S nd create sim/..x --dtype f32 --shape 4,4 --chunks 2,2
expect_err 3 "chunk dimension 1 must be at least 1" -- $S nd create sim/x --dtype f32 --shape 4,4 --chunks 2,0
expect_err 4 "already exists" -- $S nd create sim/a_row --dtype f32 --shape 4,4 --layout row
v1=$($S --json nd info sim/a_row | sed 's/.*"version":\([0-9]*\).*/\1/')
[ "$v0" = "$v1" ] || { echo "FAIL: a refused write changed the version ($v0 -> $v1)"; fails=$((fails + 1)); }
expect 2 "" -- $S nd info sim/x
# chunk shapes that do not divide the shape still work: edge chunks are partial
expect 0 "" -- sh -c "$S nd create sim/odd --dtype i64 --shape 10,10 --chunks 3,7 --fill -1 >/dev/null"
$PY -c "import numpy as np; np.save('o.npy', np.arange(16, dtype=np.int64).reshape(4,4))"
expect 0 "" -- sh -c "$S nd write sim/odd --from o.npy --start 6,6 >/dev/null"
expect 0 "-1 -1 -1
-1 0 1
-1 4 5" -- $S nd read sim/odd --start 5,5 --count 3,3

# ---- tiers, migration, staging --------------------------------------------------------------
expect 0 "" -- sh -c "$S tier add tape $T/tape --kind archive --read-bw 100M --latency 1 >/dev/null"
expect 0 "" -- sh -c "$S tier add fast $T/fast --kind ssd --capacity 40K >/dev/null"
expect_err 4 "already exists" -- $S tier add fast $T/fast2 --kind ssd
expect_err 1 "--kind is memory, ssd, disk or archive" -- $S tier add x $T/x --kind floppy
expect 0 "moved 54 file(s) of sim/a_zstd to tier tape" -- \
    $S migrate sim/a_zstd --to tape
expect 0 "moved 1 file(s) of sim/a_row to tier tape" -- $S migrate sim/a_row --to tape
[ "$(find "$T/tape" -name '*.npy.zst' | wc -l)" = 55 ] || { echo "FAIL: archive files are not zstd"; fails=$((fails + 1)); }
expect_err 5 "tier 'fast' is over its capacity" -- $S migrate sim/a_col --to fast
expect_err 4 "migrate them to another tier first" -- $S tier rm tape
# a read of archive data stages on demand and says so
$S nd read sim/a_zstd --start 1,5,30 --count 1,2,2 --verbose --stage-tier fast >v.out 2>v.err
expect 0 "42.5 42.5
42.5 42.5" -- cat v.out
grep -q "staged 1 chunk(s) of 'sim/a_zstd' from the archive on demand" v.err ||
    { echo "FAIL: --verbose did not report staging: $(cat v.err)"; fails=$((fails + 1)); }
out=$($S stage sim/a_zstd --start 0,0,0 --count 2,40,14 --to fast)
case $out in "staged "*" of 2 chunk(s)"*) ;; *) echo "FAIL: stage: $out"; fails=$((fails + 1)) ;; esac
used=$($S --json tier ls | $PY -c "import json,sys; print([t for t in json.load(sys.stdin)['tiers'] if t['name']=='fast'][0]['used'])")
[ "$used" -le 40960 ] || { echo "FAIL: tier fast holds $used bytes, over its capacity"; fails=$((fails + 1)); }
expect 0 "" -- sh -c "$S nd read sim/a_row --start 0,0,0 --count 3,97,61 --out back.npy >/dev/null"
expect 0 "ok" -- $PY -c "
import numpy as np
a = np.load('a.npy'); a[1, 5:15, 30:50] = 42.5
assert (np.load('back.npy') == a).all(); print('ok')"
expect 0 "ok: no damage found" -- $S check
# damage is found: corrupted archive files (the first chunk of both arrays)
for f in $(find "$T/tape" -name 'c0.*'); do
    printf 'garbage' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
done
expect_err 5 "damaged" -- $S check
expect_err 5 "does not decompress" -- $S migrate sim/a_zstd --to default
expect 0 "deleted N-d array sim/a_zstd" -- $S nd rm sim/a_zstd
expect 0 "deleted N-d array sim/a_row" -- $S nd rm sim/a_row
expect 0 "removed tier tape" -- $S tier rm tape
expect 0 "ok: no damage found" -- $S check

# ---- a dataset's batches between tiers --------------------------------------------------------
expect 0 "added tier tape (archive) at $T/tape2" -- $S tier add tape "$T/tape2" --kind archive
printf 'id,name,x\n1,a,1.5\n2,bb,2.5\n3,c,-3\n' >d1.csv
printf 'id,name,x\n4,dddd,4.5\n5,e,5.5\n' >d2.csv
printf 'id,name,x\n6,f,6\n' >d3.csv
expect 0 "" -- sh -c "$S ingest sim/obs d1.csv d2.csv >/dev/null 2>&1"
expect 0 "" -- sh -c "$S derive sim/big --from sim/obs --filter 'x > 2' >/dev/null && $S column sim/big.name --gather sim/obs.name >/dev/null && $S update sim/big >/dev/null"
expect 0 "moved 3 file(s) of sim/obs to tier tape" -- $S migrate sim/obs --to tape --batches 1
expect 0 "moved 3 file(s) of sim/obs to tier tape" -- $S migrate sim/obs --to tape
expect 0 "moved 0 file(s) of sim/obs to tier tape" -- $S migrate sim/obs --to tape --batches 0-1
# the files are compressed on the archive and gone from the dataset directory
expect 0 "8" -- sh -c "ls $T/tape2/*/*/*.npy.zst | wc -l"
expect 0 "id,name,x
1,a,1.5
2,bb,2.5
3,c,-3
4,dddd,4.5
5,e,5.5" -- $S cat sim/obs
expect_err 4 "migrate them to another tier first" -- $S tier rm tape
# an incremental update reads the migrated source; a new batch lands on the default tier
expect 0 "" -- sh -c "$S ingest sim/obs d3.csv >/dev/null 2>&1 && $S update sim/big >/dev/null"
expect 0 "index,name
1,bb
3,dddd
4,e
5,f" -- $S cat sim/big --columns index,name
expect 0 "ok: no damage found" -- $S check
# a damaged archive batch file is found by check and named by a read
$PY -c "
import glob
f = sorted(glob.glob('$T/tape2/*/*/*.npy.zst'))[0]
open(f, 'r+b').write(b'garbage')"
expect_err 5 "damaged" -- $S check
expect 0 "" -- sh -c "$S migrate sim/obs --to default --batches 2 >/dev/null"
expect_err 1 "--chunks is for N-d arrays, --batches for datasets" -- $S migrate sim/obs --to default --chunks 0 --batches 0
expect_err 1 "--batches needs FIRST-LAST" -- $S migrate sim/obs --to default --batches x
expect_err 2 "tier 'nope' not found" -- $S migrate sim/obs --to nope
expect_err 2 "dataset 'sim/nobody' not found" -- $S migrate sim/nobody --to tape --batches 0
expect 0 "" -- sh -c "$S drop sim/big >/dev/null && $S drop sim/obs >/dev/null && $S gc --grace 0 >/dev/null"

# ---- a reader while a writer rewrites regions ------------------------------------------------
expect 0 "" -- sh -c "$S nd create sim/rw --dtype i32 --shape 64,64 --chunks 16,16 >/dev/null"
$PY -c "
import numpy as np
for k in range(1, 31): np.save('w%d.npy' % k, np.full((64, 64), k, dtype=np.int32))"
(for k in $(seq 1 30); do $S nd write sim/rw --from w$k.npy --start 0,0 >/dev/null || echo "write $k failed"; done) &
writer=$!
n=0
while kill -0 $writer 2>/dev/null; do
    $S nd read sim/rw --start 0,0 --count 64,64 --out r$n.npy >/dev/null 2>r.err || { echo "FAIL: read: $(cat r.err)"; fails=$((fails + 1)); }
    n=$((n + 1))
done
wait $writer
expect 0 "ok" -- $PY -c "
import numpy as np, glob
files = glob.glob('r*.npy')
for f in files:
    r = np.load(f)
    for y in range(0, 64, 16):
        for x in range(0, 64, 16):
            c = r[y:y+16, x:x+16]
            assert (c == c.flat[0]).all(), '%s: chunk (%d,%d) is torn' % (f, y, x)
print('ok')"
echo "($n reads during 30 writes)"

finish "N-d array"
