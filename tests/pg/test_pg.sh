#!/usr/bin/env bash
# The catalog on PostgreSQL, end to end, on a cluster of its own (tests/pg/pg_cluster.sh):
#   - bad input: an unreachable server, a database that does not exist, a schema that another
#     pool's catalog holds, a catalog of a newer schema version, a marker naming a schema with
#     no catalog; each a clear error and exit code, and nothing created;
#   - several pools in one database, a schema each, that do not see each other;
#   - kill -9 of writers (ingest, update) at random points: check clean after gc, a rerun gives
#     the bytes of an uninterrupted run;
#   - kill -9 of the PostgreSQL server itself (pg_ctl stop -m immediate) during ingest and update:
#     the command fails naming the catalog, and after a restart check is clean and a rerun gives
#     the same bytes.
# STRATA_PG_TRIALS sets the kill trials (default 8; STRATA_LONG=1: 100).
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-pg-XXXXXX")
chmod 755 "$T"
HERE=$(dirname "$0")
PGDIR=$T/pg
cleanup() {
    bash "$HERE/pg_cluster.sh" stop "$PGDIR" >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
source "$HERE/../cli/lib.sh"
TRIALS=${STRATA_PG_TRIALS:-8}
[ "${STRATA_LONG:-0}" = 1 ] && TRIALS=100
CI_=$(bash "$HERE/pg_cluster.sh" start "$PGDIR") || { echo "FAIL: cannot start PostgreSQL"; exit 1; }
export STRATA_CATALOG=$CI_
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
psql_() { "$bin/psql" "$CI_" -X -q -t -A -c "$1"; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
server_stop() { as_owner "$bin/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1; }
server_start() {
    as_owner "$bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
        -o "-k $PGDIR -p 5432 -c listen_addresses='' -c fsync=off" start >/dev/null
}
gone() { [ ! -e "$1/STRATA_POOL" ] || { echo "FAIL: $1 was created"; fails=$((fails + 1)); }; }

# ---- bad input ----------------------------------------------------------------------------------
expect_err 5 "strata: cannot reach the catalog at host=127.0.0.1 port=1 dbname=strata connect_timeout=3:" -- \
    "$S" init "$T/a" --catalog "host=127.0.0.1 port=1 dbname=strata connect_timeout=3"
expect_err 5 "is PostgreSQL running there, and does the database exist?" -- \
    "$S" init "$T/a" --catalog "host=127.0.0.1 port=1 dbname=strata connect_timeout=3"
gone "$T/a"
expect_err 5 'database "nosuch" does not exist' -- \
    "$S" init "$T/a" --catalog "host=$PGDIR port=5432 dbname=nosuch user=strata"
gone "$T/a"
expect_err 3 "schema 'Bad-Name': use lowercase letters, digits and _ only" -- \
    "$S" init "$T/a" --schema Bad-Name
gone "$T/a"
expect_err 1 "--schema goes with --catalog" -- env -u STRATA_CATALOG "$S" init "$T/a" --schema x
expect 0 "" -- sh -c "'$S' init '$T/p1' --schema pool_one >/dev/null"
expect_err 4 "schema 'pool_one' of $CI_ already holds a strata catalog (another pool's?); choose another schema" -- \
    "$S" init "$T/p2" --schema pool_one
gone "$T/p2"
expect 0 "" -- sh -c "'$S' init '$T/p2' --schema pool_two >/dev/null"
expect 0 "catalog   postgresql $CI_ schema pool_two" -- sh -c "'$S' -P '$T/p2' info | grep '^catalog'"
expect 0 '{"pool":"'"$T/p2"'","catalog":"postgresql '"$CI_"' schema pool_two","regions":0,"datasets":0,"ndarrays":0}' -- \
    "$S" -P "$T/p2" --json info

# two pools, one database: each sees its own
printf 'a,b\n1,x\n2,y\n' >"$T/t.csv"
expect 0 "" -- "$S" -P "$T/p1" ingest r/t "$T/t.csv" --quiet
expect 0 "r/t	v1	2 rows	1 batches" -- sh -c "'$S' -P '$T/p1' ls r | cut -f1-4"
expect_err 2 "region 'r' not found" -- "$S" -P "$T/p2" ls r
expect 0 "2" -- psql_ "SELECT COUNT(*) FROM pool_one.batch_column"
expect 0 "0" -- psql_ "SELECT COUNT(*) FROM pool_two.batch_column"

# a catalog of a newer schema version; a marker naming a schema that holds no catalog
psql_ "UPDATE pool_two.schema_version SET version = 99" >/dev/null
expect_err 3 "has schema version 99, newer than this strata knows" -- "$S" -P "$T/p2" info
cp "$T/p2/STRATA_POOL" "$T/marker"
sed 's/^schema pool_two$/schema pool_none/' "$T/marker" >"$T/p2/STRATA_POOL"
expect_err 5 "is not a strata catalog (no schema_version table)" -- "$S" -P "$T/p2" info
sed 's/^catalog postgresql$/catalog oracle/' "$T/marker" >"$T/p2/STRATA_POOL"
expect_err 5 "its catalog lines are not 'catalog postgresql'" -- "$S" -P "$T/p2" info

# ---- kill -9 of writers --------------------------------------------------------------------------
"$S" demo taxi 40000 "$T/h1.csv" --seed 1 >/dev/null
"$S" demo taxi 40000 "$T/h2.csv" --seed 2 >/dev/null
setup() { # POOL: the state every trial starts from
    "$S" -P "$1" init >/dev/null &&
        "$S" -P "$1" ingest taxi/trips "$T/h1.csv" --batch-rows 10000 --quiet &&
        "$S" -P "$1" derive taxi/byfare --from taxi/trips --sort fare >/dev/null &&
        "$S" -P "$1" column taxi/byfare.pickuptime --gather taxi/trips.pickuptime >/dev/null &&
        "$S" -P "$1" derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,sum:fare >/dev/null &&
        "$S" -P "$1" update >/dev/null
}
work() { # POOL: what gets killed
    "$S" -P "$1" ingest taxi/trips "$T/h2.csv" --batch-rows 10000 --quiet && "$S" -P "$1" update >/dev/null
}
outputs() { # POOL DIR
    mkdir -p "$2"
    for d in trips byfare zones; do "$S" -P "$1" export "taxi/$d" --out "$2/$d.csv" >/dev/null 2>&1; done
}
verify() { # POOL WHAT: check clean after gc, a rerun gives the reference bytes
    "$S" -P "$1" gc --grace 0 >/dev/null 2>&1
    "$S" -P "$1" check >"$T/check.txt" 2>&1 || { echo "FAIL: $2: check: $(head -5 "$T/check.txt")"; fails=$((fails + 1)); }
    # finish the work: an ingest that was published is not repeated
    if [ "$("$S" -P "$1" --json show taxi/trips | grep -o '"rows":[0-9]*' | head -1)" != '"rows":80000' ]; then
        "$S" -P "$1" ingest taxi/trips "$T/h2.csv" --batch-rows 10000 --quiet
    fi
    "$S" -P "$1" update >/dev/null 2>&1 || { echo "FAIL: $2: the rerun failed"; fails=$((fails + 1)); }
    rm -rf "$T/out"
    outputs "$1" "$T/out"
    for d in trips byfare zones; do
        cmp -s "$T/ref/$d.csv" "$T/out/$d.csv" || { echo "FAIL: $2: taxi/$d differs after the rerun"; fails=$((fails + 1)); }
    done
}
setup "$T/ref_pool" && work "$T/ref_pool" || { echo "FAIL: the reference run"; fails=$((fails + 1)); }
outputs "$T/ref_pool" "$T/ref"
t0=$(date +%s%N)
setup "$T/span" >/dev/null 2>&1
t1=$(date +%s%N)
work "$T/span"
t2=$(date +%s%N)
span=$(((t2 - t1) / 1000))
echo "ingest + update take ${span} us; killing writers, then the server, at random points within"
killed=0
for trial in $(seq 1 "$TRIALS"); do
    P=$T/w$trial
    setup "$P" || { echo "FAIL: trial $trial: setup"; fails=$((fails + 1)); continue; }
    (work "$P" >/dev/null 2>&1) &
    pid=$!
    sleep "$(awk -v s="$span" -v r="$RANDOM" 'BEGIN { printf "%.6f", s * (r / 32768) / 1e6 }')"
    pkill -9 -P "$pid" 2>/dev/null && killed=$((killed + 1))
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    verify "$P" "writer trial $trial"
    rm -rf "$P"
done
echo "$killed of $TRIALS writers were killed while running"
[ "$killed" -gt 0 ] || { echo "FAIL: no writer was killed while running"; fails=$((fails + 1)); }
# the server itself dies mid-work: the command fails saying so; after a restart all is whole
for trial in $(seq 1 $((TRIALS / 2 + 1))); do
    P=$T/s$trial
    setup "$P" || { echo "FAIL: server trial $trial: setup"; fails=$((fails + 1)); continue; }
    (work "$P" 2>"$T/work.err" >/dev/null; echo $? >"$T/work.rc") &
    pid=$!
    sleep "$(awk -v s="$span" -v r="$RANDOM" 'BEGIN { printf "%.6f", s * (r / 32768) / 1e6 }')"
    server_stop
    wait "$pid" 2>/dev/null
    if [ "$(cat "$T/work.rc")" != 0 ] && ! grep -q "catalog" "$T/work.err"; then
        echo "FAIL: server trial $trial: the failure does not name the catalog: $(cat "$T/work.err")"
        fails=$((fails + 1))
    fi
    expect_err 5 "cannot reach the catalog at $CI_" -- "$S" -P "$P" info
    server_start || { echo "FAIL: the server does not restart"; cat "$PGDIR/server.log"; exit 1; }
    verify "$P" "server trial $trial"
    rm -rf "$P"
done
finish pg
