#!/usr/bin/env bash
# strata ingest shared by MPI processes: CSV files split over 1 to 4 processes give the batches
# (and `strata cat` bytes) of a one-process ingest, in one version; more processes than files;
# one large file cut in pieces where records start (quoted line ends across the cuts);
# an append to an existing dataset; a bad line in a file another process parses fails every
# process with its file:line:column, publishes nothing and leaves no batch file; Parquet files
# cut by row group; input other than CSV and Parquet is refused under MPI; a process killed
# mid-ingest publishes nothing or everything, and the pool checks clean (STRATA_CRASH_TRIALS, default 10; STRATA_LONG=1: 100).
#     test_ingest_mpi.sh STRATA MPIRUN...
set -uo pipefail
S=$1
shift
MPIRUN=("$@")
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-ing-mpi-XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
TRIALS=${STRATA_CRASH_TRIALS:-10}
STOP_WITHIN=${STRATA_MPI_STOP_WITHIN:-120} # seconds the others may take to stop: a hang fails
[ "${STRATA_LONG:-0}" = 1 ] && TRIALS=100
for i in 1 2 3 4 5; do
    "$S" demo taxi $((3000 + i * 1001)) "$T/f$i.csv" --seed "$i" --start $((1704067200 + i * 3600)) >/dev/null
done
FILES="$T/f1.csv $T/f2.csv $T/f3.csv $T/f4.csv $T/f5.csv"
fresh() { rm -rf "$1" && STRATA_POOL=$1 "$S" init >/dev/null; }
fresh "$T/ref"
STRATA_POOL=$T/ref "$S" ingest taxi/trips $FILES --batch-rows 1500 2>/dev/null
STRATA_POOL=$T/ref "$S" cat taxi/trips >"$T/ref.csv"
STRATA_POOL=$T/ref "$S" ls >"$T/ref.ls"
files_of() { find "$1/data" -type f -name '*.npy' | wc -l; }
for np in 1 2 3 4; do
    P=$T/np$np
    fresh "$P"
    out=$(STRATA_POOL=$P "${MPIRUN[@]}" -np $np "$S" ingest taxi/trips $FILES --batch-rows 1500 --mpi 2>&1)
    [ $? -eq 0 ] || { echo "FAIL: ingest on $np processes: $out"; fails=$((fails + 1)); continue; }
    [ "$(grep -c '^ingested' <<<"$out")" = 1 ] || { echo "FAIL: np $np: not one summary: $out"; fails=$((fails + 1)); }
    grep -q 'from 5 file(s).*at version 1$' <<<"$out" || { echo "FAIL: np $np: summary: $out"; fails=$((fails + 1)); }
    STRATA_POOL=$P "$S" cat taxi/trips | cmp -s - "$T/ref.csv" || { echo "FAIL: np $np: rows differ"; fails=$((fails + 1)); }
    STRATA_POOL=$P "$S" ls | cmp -s - "$T/ref.ls" || { echo "FAIL: np $np: batches differ: $(STRATA_POOL=$P "$S" ls)"; fails=$((fails + 1)); }
    STRATA_POOL=$P "$S" check >/dev/null 2>&1 || { echo "FAIL: np $np: check"; fails=$((fails + 1)); }
done
# more processes than files, and an append: the new files' batches after the old, version 2
P=$T/np4
STRATA_POOL=$T/ref "$S" ingest taxi/trips "$T/f1.csv" "$T/f2.csv" 2>/dev/null
STRATA_POOL=$P "${MPIRUN[@]}" -np 4 "$S" ingest taxi/trips "$T/f1.csv" "$T/f2.csv" --mpi 2>/dev/null ||
    { echo "FAIL: an append of 2 files on 4 processes"; fails=$((fails + 1)); }
STRATA_POOL=$P "$S" cat taxi/trips | cmp -s - <(STRATA_POOL=$T/ref "$S" cat taxi/trips) ||
    { echo "FAIL: the append differs"; fails=$((fails + 1)); }
expect 0 "$(STRATA_POOL=$T/ref "$S" ls)" -- env STRATA_POOL="$P" "$S" ls
# a bad line in the last file (parsed by the last process): everyone fails, nothing published
cp "$T/f4.csv" "$T/bad.csv"
sed -i '100s/.*/51,75,abc,1704070764,9361/' "$T/bad.csv"
before=$(files_of "$P")
expect_err 3 "bad.csv:100:" -- env STRATA_POOL="$P" "${MPIRUN[@]}" -np 3 "$S" ingest taxi/trips \
    "$T/f1.csv" "$T/f2.csv" "$T/bad.csv" --mpi
grep -q "column 'pickuptime': cannot parse 'abc' as i64" "$T/stderr" || { echo "FAIL: the error: $(cat "$T/stderr")"; fails=$((fails + 1)); }
expect 0 "$(STRATA_POOL=$T/ref "$S" ls)" -- env STRATA_POOL="$P" "$S" ls
[ "$(files_of "$P")" = "$before" ] || { echo "FAIL: a failed ingest left batch files"; fails=$((fails + 1)); }
STRATA_POOL=$P "$S" check >/dev/null 2>&1 || { echo "FAIL: check after the failed ingest"; fails=$((fails + 1)); }
# a new dataset whose ingest fails is not created
expect_err 3 "bad.csv:100:" -- env STRATA_POOL="$P" "${MPIRUN[@]}" -np 2 "$S" ingest taxi/other \
    "$T/f1.csv" "$T/bad.csv" --mpi
expect_err 2 "dataset 'taxi/other' not found" -- env STRATA_POOL="$P" "$S" cat taxi/other
# one large file (9 MB: 9 blocks) cut in pieces where records start, quoted fields with commas,
# quotes and line ends across the cuts: the rows of one process, one batch per process
/usr/bin/python3 - "$T/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w", newline="") as f:
    f.write("id,name,v\n")
    for i in range(320000):
        name = f'"line {i}\nwith ""quotes"", commas\nand ends"' if i % 7 == 0 else f"n{i * 31 % 1000}"
        f.write(f"{i},{name},{i * 0.25}\n")
PY
fresh "$T/bigref"
STRATA_POOL=$T/bigref "$S" ingest t/big "$T/big.csv" --schema id:i64,name:str,v:f64 >/dev/null 2>&1
STRATA_POOL=$T/bigref "$S" cat t/big >"$T/bigref.csv"
for np in 2 3 4; do
    P=$T/big$np
    fresh "$P"
    out=$(STRATA_POOL=$P "${MPIRUN[@]}" -np $np "$S" ingest t/big "$T/big.csv" --schema id:i64,name:str,v:f64 --mpi 2>&1)
    [ $? -eq 0 ] || { echo "FAIL: one file on $np processes: $out"; fails=$((fails + 1)); continue; }
    grep -q '^ingested 320000 rows in '"$np"' batch(es) from 1 file(s) .*at version 1$' <<<"$out" ||
        { echo "FAIL: one file on $np processes: summary: $out"; fails=$((fails + 1)); }
    STRATA_POOL=$P "$S" cat t/big | cmp -s - "$T/bigref.csv" ||
        { echo "FAIL: one file on $np processes: rows differ"; fails=$((fails + 1)); }
done
# a bad field in the last process's piece: its line, counted from the file's start; nothing
cp "$T/big.csv" "$T/bigbad.csv"
bl=$(grep -n '^299990,' "$T/bigbad.csv" | cut -d: -f1) # a line number past the quoted line ends
sed -i "${bl}s/,[^,]*\$/,notanumber/" "$T/bigbad.csv"
P=$T/big4
expect_err 3 "bigbad.csv:$bl:13:" -- env STRATA_POOL="$P" "${MPIRUN[@]}" -np 4 "$S" ingest t/big \
    "$T/bigbad.csv" --mpi
grep -q "column 'v': cannot parse 'notanumber' as f64" "$T/stderr" || { echo "FAIL: the error: $(cat "$T/stderr")"; fails=$((fails + 1)); }
STRATA_POOL=$P "$S" cat t/big | cmp -s - "$T/bigref.csv" || { echo "FAIL: a failed ingest changed t/big"; fails=$((fails + 1)); }
# Parquet: the row groups of all files (a row group per batch exported) cut over the processes:
# the batches, rows and bytes of one process; a missing file fails everyone, nothing published
STRATA_POOL=$T/np4 "$S" export taxi/trips --format parquet --out "$T/t.parquet" >/dev/null 2>&1
STRATA_POOL=$T/ref "$S" export taxi/trips --format parquet --out "$T/u.parquet" >/dev/null 2>&1
fresh "$T/pqref"
STRATA_POOL=$T/pqref "$S" ingest t/pq "$T/t.parquet" "$T/u.parquet" >/dev/null 2>&1
STRATA_POOL=$T/pqref "$S" cat t/pq >"$T/pqref.csv"
STRATA_POOL=$T/pqref "$S" ls >"$T/pqref.ls"
for np in 2 3 4; do
    Q=$T/pq$np
    fresh "$Q"
    out=$(STRATA_POOL=$Q "${MPIRUN[@]}" -np $np "$S" ingest t/pq "$T/t.parquet" "$T/u.parquet" --mpi 2>&1)
    [ $? -eq 0 ] || { echo "FAIL: Parquet on $np processes: $out"; fails=$((fails + 1)); continue; }
    grep -q 'from 2 file(s).*at version 1$' <<<"$out" || { echo "FAIL: Parquet np $np: summary: $out"; fails=$((fails + 1)); }
    STRATA_POOL=$Q "$S" cat t/pq | cmp -s - "$T/pqref.csv" || { echo "FAIL: Parquet np $np: rows differ"; fails=$((fails + 1)); }
    STRATA_POOL=$Q "$S" ls | cmp -s - "$T/pqref.ls" || { echo "FAIL: Parquet np $np: batches differ: $(STRATA_POOL=$Q "$S" ls)"; fails=$((fails + 1)); }
    STRATA_POOL=$Q "$S" check >/dev/null 2>&1 || { echo "FAIL: Parquet np $np: check"; fails=$((fails + 1)); }
done
expect_err 2 "nothere.parquet' not found" -- env STRATA_POOL="$T/pq4" "${MPIRUN[@]}" -np 3 "$S" ingest t/pq \
    "$T/t.parquet" "$T/nothere.parquet" --mpi
expect 0 "$(cat "$T/pqref.ls")" -- env STRATA_POOL="$T/pq4" "$S" ls
# other formats are not split
STRATA_POOL=$T/np4 "$S" export taxi/trips --format arrow --out "$T/t.arrow" >/dev/null 2>&1
expect_err 3 "ingest across MPI processes takes CSV or Parquet files" -- env STRATA_POOL="$P" \
    "${MPIRUN[@]}" -np 2 "$S" ingest taxi/ar "$T/t.arrow" --mpi
# a process killed mid-ingest: all or nothing, and a clean pool
total=$(STRATA_POOL=$T/np1 "$S" ls | awk '{print $3}')
nothing=0 launcher=0
fresh "$T/w"
t0=$(date +%s%N)
STRATA_POOL=$T/w "${MPIRUN[@]}" -np 3 "$S" ingest taxi/trips $FILES --batch-rows 1500 --mpi >/dev/null 2>&1
span=$((($(date +%s%N) - t0) / 1000)) # microseconds, with mpirun's start
for trial in $(seq 1 "$TRIALS"); do
    W=$T/w
    fresh "$W"
    np=$((2 + trial % 3))
    STRATA_POOL=$W "${MPIRUN[@]}" -np $np "$S" ingest taxi/trips $FILES --batch-rows 1500 --mpi \
        >/dev/null 2>&1 &
    job=$!
    us=$(((RANDOM * 32768 + RANDOM) % (span + span / 4)))
    sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
    ranks=$(pgrep -P "$job" | tr '\n' ' ')
    if [ -n "$ranks" ]; then
        pick=$((RANDOM % $(wc -w <<<"$ranks") + 1))
        kill -9 "$(tr ' ' '\n' <<<"$ranks" | sed -n "${pick}p")" 2>/dev/null
    fi
    mpi_wait "$job" "$job" "$STOP_WITHIN"
    case $? in
    124) echo "FAIL: trial $trial: the processes did not stop within ${STOP_WITHIN} s"; fails=$((fails + 1)) ;;
    125) launcher=$((launcher + 1)) ;;
    esac
    rows=$(STRATA_POOL=$W "$S" ls 2>/dev/null | awk '{print $3}')
    case "${rows:-0}" in
    0) nothing=$((nothing + 1)) ;;
    "$total") ;;
    *) echo "FAIL: trial $trial: a killed ingest published $rows rows"; fails=$((fails + 1)) ;;
    esac
    STRATA_POOL=$W "$S" check >"$T/check.txt" 2>&1 ||
        { echo "FAIL: trial $trial: check: $(cat "$T/check.txt")"; fails=$((fails + 1)); }
done
echo "info: $nothing of $TRIALS killed ingests published nothing, the others everything"
echo "info: $launcher times every process had ended but mpirun did not return (killed)"
finish ingest-mpi
