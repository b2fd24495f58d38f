#!/usr/bin/env bash
# A pool for the serve tests: taxi/trips (20 000 rows in 4 batches), taxi/nulls (3 rows with
# nulls), a derived filter with a
# gathered column, an N-d array sim/field (64 x 48 f64, value = row index, so a heat map is dark
# at the top and bright at the bottom), a plain array sim/counts (i64, 0 10 20 ... 90), a dataset
# stale/late whose derived column was never computed, and two astro3d runs (one process).
#     fixture.sh STRATA EXAMPLES_DIR POOL WORKDIR
# Every step's messages go to WORKDIR/fixture.log; a failing step is named there, and the log is
# printed when the fixture fails.
set -eu
S=$1 EX=$2 P=$3 W=$4
exec 3>&2 2>"$W/fixture.log"
trap 'echo "fixture.sh:$LINENO: exit $?: $BASH_COMMAND" >&2' ERR
trap 'rc=$?; [ $rc -eq 0 ] || { echo "fixture failed: its log:"; cat "$W/fixture.log"; } >&3' EXIT
"$S" demo taxi 20000 "$W/trips.csv" >/dev/null
"$S" -P "$P" init >/dev/null
"$S" -P "$P" ingest taxi/trips "$W/trips.csv" --batch-rows 5000 >/dev/null
"$S" -P "$P" derive taxi/expensive --from taxi/trips --filter 'fare > 10000' >/dev/null
"$S" -P "$P" column taxi/expensive.fare --gather taxi/trips.fare >/dev/null
"$S" -P "$P" update >/dev/null
printf 'id,fare,zone\n1,10,a\n2,,\n3,30,""\n' >"$W/nulls.csv"
"$S" -P "$P" ingest taxi/nulls "$W/nulls.csv" >/dev/null
/usr/bin/python3 - "$W/field.npy" <<'PY'
import sys, numpy as np
a = np.repeat(np.arange(64, dtype=np.float64)[:, None], 48, axis=1)
np.save(sys.argv[1], a)
PY
"$S" -P "$P" region create sim >/dev/null
"$S" -P "$P" nd create sim/field --dtype f64 --shape 64,48 --chunks 16,16 >/dev/null
"$S" -P "$P" nd write sim/field --from "$W/field.npy" --start 0,0 >/dev/null
# a 5000 x 5000 f32 array (the guide's): value = row + column / 2, for the page's previews
/usr/bin/python3 - "$W/big.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.add.outer(np.arange(5000, dtype=np.float32), np.arange(5000, dtype=np.float32) / 2))
PY
"$S" -P "$P" nd create sim/big --dtype f32 --shape 5000,5000 --chunks 500,500 >/dev/null
"$S" -P "$P" nd write sim/big --from "$W/big.npy" --start 0,0 >/dev/null
rm -f "$W/big.npy"
"$S" -P "$P" array create sim/counts i64 10 >/dev/null
"$S" -P "$P" array put sim/counts 0 0 10 20 30 40 50 60 70 80 90 >/dev/null
"$S" -P "$P" ingest stale/late "$W/nulls.csv" >/dev/null
"$S" -P "$P" column stale/late.twice --expr 'fare * 2' >/dev/null
STRATA_TEST_NO_MPI=1 "$EX/astro3d" "$P" 12 4 2 >/dev/null
STRATA_TEST_NO_MPI=1 "$EX/astro3d" "$P" 16 6 3 >/dev/null
