#!/usr/bin/env bash
# Crash test of N-d arrays and tiers: `strata migrate` (of an array's chunks and of a dataset's
# batches), `strata stage` and `strata nd write` killed with SIGKILL at random moments (TRIALS,
# default 36). After every kill: `strata check` finds no damage, the array reads back as exactly
# the contents before or after the interrupted operation (a write is all or nothing; migration
# and staging never change contents), and the dataset reads back unchanged. Trials go in turn to
# the three write paths, migrate (an array's chunks or a dataset's batches, either way), stage
# and nd write: STRATA_CRASH_PER_PATH each (default 50; STRATA_LONG=1: 1000).
set -u
S=$1
PER=${STRATA_CRASH_PER_PATH:-50}
[ "${STRATA_LONG:-0}" = 1 ] && PER=1000
TRIALS=${2:-$((3 * PER))}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-ndcrash-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
. "$(dirname "$0")/lib.sh" # child_alive
cd "$T"
fails=0
fail() {
    echo "FAIL (trial $1): $2"
    fails=$((fails + 1))
}

$S init >/dev/null && $S region create sim >/dev/null || exit 1
$S tier add tape "$T/tape" --kind archive --latency 1 >/dev/null || exit 1
$S tier add fast "$T/fast" --kind ssd --capacity 2M >/dev/null || exit 1
$S nd create sim/m --dtype f32 --shape 800,800 --chunks 40,40 >/dev/null || exit 1
$PY -c "
import numpy as np
np.save('cur.npy', np.arange(800 * 800, dtype=np.float32).reshape(800, 800))
for k in range(8):
    np.save('w%d.npy' % k, np.full((200, 300), k + 0.5, dtype=np.float32))"
$S nd write sim/m --from cur.npy --start 0,0 >/dev/null || exit 1
# a dataset of 60 batches with a string column, and what it must always read back as
$PY -c "
with open('t.csv', 'w') as f:
    f.write('id,name,x\\n')
    for i in range(30000): f.write('%d,n%d,%g\\n' % (i, i % 977, i * 0.25))"
$S ingest sim/t t.csv --batch-rows 500 >/dev/null 2>&1 || exit 1
$S cat sim/t >t.want || exit 1

RANDOM=4242
for trial in $(seq 1 "$TRIALS"); do
    case $((trial % 3)) in
    0) ops=(0 1 4 5) && op=${ops[$((RANDOM % 4))]} ;; # migrate
    1) op=2 ;;                                         # stage
    2) op=3 ;;                                         # nd write
    esac
    k=$((RANDOM % 8))
    y=$((RANDOM % 600))
    x=$((RANDOM % 500))
    case $op in
    0) cmd=(migrate sim/m --to tape) ;;
    1) cmd=(migrate sim/m --to default --chunks $((RANDOM % 200))-399) ;;
    2) cmd=(stage sim/m --start $y,$x --count 200,300 --to fast) ;;
    3) cmd=(nd write sim/m --from w$k.npy --start $y,$x) ;;
    4) cmd=(migrate sim/t --to tape) ;;
    5) cmd=(migrate sim/t --to default --batches $((RANDOM % 40))-) ;;
    esac
    # the contents if the operation completes
    $PY -c "
import numpy as np
a = np.load('cur.npy')
if $op == 3: a[$y:$y+200, $x:$x+300] = $k + 0.5
np.save('next.npy', a)"
    "$S" "${cmd[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % 250)))"
    child_alive "$pid" && kill -9 "$pid" 2>/dev/null # (not a PID reused since)
    wait $pid 2>/dev/null
    out=$($S check 2>&1) || fail "$trial" "check after '${cmd[*]}': $out"
    $S nd read sim/m --start 0,0 --count 800,800 --out got.npy >/dev/null 2>err ||
        fail "$trial" "read after '${cmd[*]}': $(cat err)"
    which=$($PY -c "
import numpy as np
g = np.load('got.npy')
print('next' if (g == np.load('next.npy')).all() else 'cur' if (g == np.load('cur.npy')).all() else 'neither')")
    $S cat sim/t >t.got 2>err || fail "$trial" "cat after '${cmd[*]}': $(cat err)"
    cmp -s t.got t.want || fail "$trial" "after '${cmd[*]}' the dataset reads differently"
    case $which in
    next) mv next.npy cur.npy ;;
    cur) ;;
    *) fail "$trial" "after '${cmd[*]}' the array is neither the old nor the new contents" ;;
    esac
done
# gc clears what the kills left behind, and the pool stays sound
$S gc --grace 0 >/dev/null || fail end "gc"
out=$($S check 2>&1)
case $out in *orphan*) fail end "orphans after gc: $out" ;; esac
$S check >/dev/null || fail end "check after gc"
if [ "$fails" -ne 0 ]; then
    echo "$fails N-d crash checks failed"
    exit 1
fi
echo "all $TRIALS N-d crash trials passed"
