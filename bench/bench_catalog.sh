#!/usr/bin/env bash
# The catalog's cost, SQLite against PostgreSQL, same run: the latency of publishing one small
# batch (100 rows, one process, median and 90th percentile of N), and the publish rate of 1
# process and of 4 processes writing datasets of their own (4 writers must not serialise:
# goal >= 3x the rate of one). The PostgreSQL server is a throw-away cluster on a loopback TCP
# port (tests/pg/pg_cluster.sh; fsync off, as the SQLite pool on tmpfs has no disk to wait for).
#     bench/bench_catalog.sh [BUILD_DIR] [N]      (defaults: build/release, 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
N=${2:-1000}
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
