#!/usr/bin/env bash
# The catalog's cost, SQLite against PostgreSQL, same run: the latency of publishing one small
# batch (100 rows, one process, median and 90th percentile of N), and the publish rate of 1
# process and of 4 processes writing datasets of their own (4 writers must not serialise:
# goal >= 3x the rate of one). The PostgreSQL server is a throw-away cluster on a loopback TCP
# port (tests/pg/pg_cluster.sh; fsync off, as the SQLite pool on tmpfs has no disk to wait for).
# Then catalog-heavy reads: `strata find` over ITERS saved iterations (100 runs of one dataset),
# every one of them, one run's (a condition on a run attribute), and the last 10 of each run;
# the SQLite pool is filled by MDMS saves, and a copy of it moved to PostgreSQL with
# `strata catalog migrate` (the same rows); the save rate of each catalog is measured on ITERS/50.
#     bench/bench_catalog.sh [BUILD_DIR] [N] [ITERS]   (defaults: build/release, 1000, 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
N=${2:-1000}
ITERS=${3:-100000}
. bench/lib.sh
bench_build "$BUILD" strata bench/bench_catalog
B=$PWD/$BUILD/bench/bench_catalog
S=$PWD/$BUILD/strata
bench_scratch catalog-bench
PGD=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-pg-XXXXXX")
chmod 755 "$PGD"
trap 'bash tests/pg/pg_cluster.sh stop "$PGD/pg" >/dev/null 2>&1; rm -rf "$D" "$PGD"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash tests/pg/pg_cluster.sh start "$PGD/pg" "$port" >/dev/null
PG="host=127.0.0.1 port=$port dbname=strata user=strata"
echo "bench: catalog publishes, $N each, pools in $base, PostgreSQL on 127.0.0.1:$port, $(nproc) cores"
for cat in sqlite pg; do
    ci=sqlite
    [ "$cat" = pg ] && ci=$PG
    rm -rf "$D/lat" "$D/one" "$D/four"
    "$S" init "$D/lat" --catalog "$ci" >/dev/null
    "$S" init "$D/one" --catalog "$ci" >/dev/null
    "$S" init "$D/four" --catalog "$ci" >/dev/null
    read -r _ med p90 mean < <("$B" "$D/lat" latency "$N")
    read -r _ one < <("$B" "$D/one" throughput "$N" 1)
    read -r _ four < <("$B" "$D/four" throughput "$N" 4)
    printf '  %-7s publish %5s us median, %5s p90, %5s mean;  %6s publishes/s from 1 process, %6s from 4 (%.2fx)\n' \
        "$cat" "$med" "$p90" "$mean" "$one" "$four" "$(awk -v a="$four" -v b="$one" 'BEGIN { print a / b }')"
done
echo "goals: a publish on PostgreSQL <= 3 ms on loopback; 4 writers >= 3x the rate of one"

echo "bench: strata find over $ITERS saved iterations (100 runs), best of 5"
rm -rf "$D/find" "$D/findpg" "$D/save"
"$S" init "$D/find" --catalog sqlite >/dev/null
read -r _ fill < <("$B" "$D/find" populate "$ITERS" 100)
cp -a "$D/find" "$D/findpg"
STRATA_POOL="$D/findpg" "$S" catalog migrate --to "$PG" >/dev/null
declare -A saves found
for cat in sqlite pg; do
    ci=sqlite
    [ "$cat" = pg ] && ci=$PG
    rm -rf "$D/save"
    "$S" init "$D/save" --catalog "$ci" >/dev/null
    read -r _ saves[$cat] < <("$B" "$D/save" populate $((ITERS / 50)) 2)
done
# SQLite's planner statistics come from a connection's close (PRAGMA optimize): one warm-up each
"$B" "$D/find" find 1 $((ITERS / 100)) >/dev/null
"$B" "$D/findpg" find 1 $((ITERS / 100)) >/dev/null
read -r _ a1 o1 l1 rows one last < <("$B" "$D/find" find 5 $((ITERS / 100)))
read -r _ a2 o2 l2 _ _ _ < <("$B" "$D/findpg" find 5 $((ITERS / 100)))
printf '  %-7s find all %8s ms, one run %7s ms, last 10 per run %7s ms;  %5s saves/s\n' \
    sqlite "$a1" "$o1" "$l1" "${saves[sqlite]}" pg "$a2" "$o2" "$l2" "${saves[pg]}"
awk -v a1="$a1" -v a2="$a2" -v o1="$o1" -v o2="$o2" -v l1="$l1" -v l2="$l2" \
    'BEGIN { printf "  pg / sqlite: find all %.2fx, one run %.2fx, last 10 per run %.2fx\n", a2 / a1, o2 / o1, l2 / l1 }'
echo "  ($rows, $one and $last rows; the SQLite pool filled at $fill saves/s)"
