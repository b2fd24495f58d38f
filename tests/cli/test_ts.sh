#!/usr/bin/env bash
# End-to-end tests of timestamps (dtype ts): CSV ingest infers them from ISO 8601, expressions
# take their hour and differences, CSV and JSON print ISO in UTC, NPY export is datetime64[ns]
# and agrees with pandas, bad values name the place and why.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-ts-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
source "$(dirname "$0")/lib.sh"

"$S" init >/dev/null
cat >"$T/trips.csv" <<'CSV'
id,pickup,dropoff
1,2024-01-31 13:45:00,2024-01-31T14:05:30.5Z
2,2024-02-29T23:59:59+01:00,2024-03-01
3,1969-12-31T23:59:59.000001,1970-01-01T00:00:00-00:30
CSV
expect 0 "" -- "$S" ingest taxi/trips "$T/trips.csv" --quiet
expect 0 "" -- sh -c "'$S' show taxi/trips | grep -q '^columns   id:i64 pickup:ts dropoff:ts$'"
expect 0 "" -- sh -c "'$S' show taxi/trips | grep -q 'pickup=1969-12-31T23:59:59.000001Z..2024-02-29T22:59:59Z'"
expect 0 "defined taxi/trips.h = expr; run 'strata update taxi/trips' to compute it" -- "$S" column taxi/trips.h --expr 'hour(pickup)'
expect 0 "" -- sh -c "'$S' column taxi/trips.dur --expr 'dropoff - pickup' >/dev/null"
expect 0 "" -- sh -c "'$S' column taxi/trips.hr --expr \"floor_to(pickup, 'hour')\" >/dev/null"
expect 0 "" -- sh -c "'$S' update >/dev/null"
expect 0 "" -- "$S" export taxi/trips --format csv --out "$T/out.csv"
expect 0 'id,pickup,dropoff,h,dur,hr
1,2024-01-31T13:45:00Z,2024-01-31T14:05:30.500Z,13,1230500000000,2024-01-31T13:00:00Z
2,2024-02-29T22:59:59Z,2024-03-01T00:00:00Z,22,3601000000000,2024-02-29T22:00:00Z
3,1969-12-31T23:59:59.000001Z,1970-01-01T00:30:00Z,23,1800999999000,1969-12-31T23:00:00Z' -- cat "$T/out.csv"
expect 0 '{"pickup":"2024-01-31T13:45:00Z","dur":1230500000000}' -- "$S" cat taxi/trips --format ndjson --columns pickup,dur --head 1
# the exported CSV reads back as the same timestamps
expect 0 "" -- "$S" ingest taxi/copy "$T/out.csv" --quiet
expect 0 "$("$S" cat taxi/trips)" -- "$S" cat taxi/copy

# a filter against a literal; misuse is a type error naming the types
expect 0 "defined taxi/leap = filter of taxi/trips; run 'strata update taxi/leap' to compute it" -- "$S" derive taxi/leap --from taxi/trips --filter "pickup >= '2024-02-01' and dow(pickup) == 3"
expect 0 "" -- sh -c "'$S' update >/dev/null"
expect 0 $'index\n1' -- "$S" cat taxi/leap
expect_err 3 "type error: '>' between ts and i64" -- "$S" column taxi/trips.x --expr 'pickup > 5'
expect_err 3 "hour() needs a timestamp, not i64" -- "$S" column taxi/trips.x --expr 'hour(id)'
expect_err 3 "'2024-13-01' is not a timestamp: month 13" -- "$S" column taxi/trips.x --expr "pickup < '2024-13-01'"

# bad values: inferred as str, refused with the place and why when the schema says ts; a bare
# integer column stays an integer
printf 'id,pickup\n1,2024-01-31\n2,2024-13-01\n' >"$T/bad.csv"
expect_err 3 "bad.csv:3:3: column 'pickup': '2024-13-01' is not a timestamp: month 13" -- "$S" ingest t/bad "$T/bad.csv" --schema id:i64,pickup:ts
expect 0 "" -- "$S" ingest t/bad2 "$T/bad.csv" --quiet
expect 0 "" -- sh -c "'$S' show t/bad2 | grep -q '^columns   id:i64 pickup:str$'"
printf 'id,n\n1,20240131\n' >"$T/int.csv"
expect 0 "" -- "$S" ingest t/int "$T/int.csv" --quiet
expect 0 "" -- sh -c "'$S' show t/int | grep -q '^columns   id:i64 n:i64$'"

# NPY: exported as datetime64[ns], equal to what pandas reads from the same text
expect 0 "" -- "$S" export taxi/trips --format npy --columns pickup,dropoff --out "$T/npy"
if /usr/bin/python3 -c 'import pandas' 2>/dev/null; then
    expect 0 "ok" -- /usr/bin/python3 - "$T" <<'PY'
import sys, numpy as np, pandas as pd
t = sys.argv[1]
csv = pd.read_csv(t + "/trips.csv", dtype=str)
for col in ("pickup", "dropoff"):
    ts = [pd.Timestamp(x) for x in csv[col]]
    want = np.array([(x.tz_localize("UTC") if x.tzinfo is None else x.tz_convert("UTC")).value for x in ts])
    got = np.load(t + "/npy/" + col + ".npy")
    assert got.dtype == np.dtype("M8[ns]"), got.dtype
    assert (got.astype("int64") == want).all(), (col, got, want)
print("ok")
PY
fi
# and datetime64 in other units ingests converted to ns
mkdir -p "$T/d"
/usr/bin/python3 -c "import numpy as np; np.save('$T/d/day.npy', np.array(['2024-02-29', '1900-03-01'], dtype='M8[D]'))"
expect 0 "" -- "$S" ingest t/days "$T/d" --quiet
expect 0 $'day\n2024-02-29T00:00:00Z\n1900-03-01T00:00:00Z' -- "$S" cat t/days

finish "ts CLI"
