#!/usr/bin/env bash
# The catalog on PostgreSQL, end to end, on a cluster of its own (tests/pg/pg_cluster.sh):
#   - bad input: an unreachable server, a database that does not exist, a schema that another
#     pool's catalog holds, a catalog of a newer schema version, a marker naming a schema with
#     no catalog; each a clear error and exit code, and nothing created;
#   - several pools in one database, a schema each, that do not see each other;
#   - strata catalog migrate: SQLite to PostgreSQL and back, every dataset, derived result, run,
#     saved iteration, N-d array and attribute kept; refused while another process has the pool
#     open;
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

# ---- strata catalog migrate: SQLite -> PostgreSQL -> SQLite, everything kept ------------------------
M=$T/mv
export PYTHONPATH=$(dirname "$S")/python${PYTHONPATH:+:$PYTHONPATH} # the build's package
py() { # Debian's interpreter; in a sanitizer build with the ASan runtime preloaded
    if [ -n "${STRATA_PY_PRELOAD:-}" ]; then
        LD_PRELOAD=$STRATA_PY_PRELOAD ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 /usr/bin/python3 "$@"
    else
        /usr/bin/python3 "$@"
    fi
}
"$S" -P "$M" init --catalog sqlite >/dev/null
"$S" demo taxi 3000 "$T/m.csv" --seed 5 >/dev/null
"$S" -P "$M" ingest taxi/trips "$T/m.csv" --batch-rows 700 --quiet
"$S" -P "$M" derive taxi/byfare --from taxi/trips --sort fare >/dev/null
"$S" -P "$M" column taxi/byfare.zone --gather taxi/trips.pickupzone >/dev/null
"$S" -P "$M" derive taxi/zones --from taxi/trips --groupby pickupzone --agg count,mean:fare >/dev/null
"$S" -P "$M" update >/dev/null
py - "$M" <<'PY' || { echo "FAIL: the MDMS and N-d setup"; fails=$((fails + 1)); }
import sys, numpy as np, strata
with strata.Pool(sys.argv[1]) as pool:
    pool.register_app("sim", grid=int, dt=float, solver=str)
    with pool.mdms("sim") as m:
        with m.run(grid=64, dt=0.5, solver="cg"):
            with m.create(["temp"], "f64", (6, 8), "(BLOCK,*)") as a:
                for it in range(3):
                    a.save("temp", it, np.arange(48.0).reshape(6, 8) * (it + 1))
    nd = pool.create_ndarray("sim/field", "f32", (4, 8), chunks=(2, 4))
    nd[...] = np.arange(32, dtype="float32").reshape(4, 8)
    nd.attrs["units"] = "K"
    nd.summary()
PY
state() { # POOL: everything a user sees
    {
        for d in trips byfare zones; do "$S" -P "$1" cat "taxi/$d"; done
        "$S" -P "$1" runs sim --json
        "$S" -P "$1" find sim --json
        "$S" -P "$1" nd read sim/field --start 0,0 --count 4,8
        "$S" -P "$1" nd attr sim/field
        "$S" -P "$1" ls taxi | cut -f1-4
    } 2>&1
}
state "$M" >"$T/state0"
# (not vacuous: the state holds the run, its saves, the array and its attribute)
for want in '"attributes":{"grid":64,"dt":0.5,"solver":"cg"}' '"dataset":"temp","iteration":2' \
    '24 25 26 27 28 29 30 31' 'units = "K"' 'taxi/zones'; do
    grep -qF "$want" "$T/state0" || { echo "FAIL: the pool's state lacks $want"; fails=$((fails + 1)); }
done
expect 0 "" -- sh -c "'$S' -P '$M' catalog migrate --to '$CI_' --schema moved | grep -q '^  to   postgresql $CI_ schema moved$'"
expect 0 "catalog   postgresql $CI_ schema moved" -- sh -c "'$S' -P '$M' info | grep '^catalog'"
state "$M" >"$T/state1"
expect 0 "" -- cmp "$T/state0" "$T/state1"
expect 0 "ok: no damage found" -- "$S" -P "$M" check
[ -f "$M/catalog.db.moved" ] && [ ! -f "$M/catalog.db" ] || { echo "FAIL: the old SQLite catalog was not kept aside"; fails=$((fails + 1)); }
# it keeps working there: new batches, an update, a new dataset; ids continue after the copies
expect 0 "" -- "$S" -P "$M" ingest taxi/trips "$T/m.csv" --batch-rows 700 --quiet
expect 0 "" -- sh -c "'$S' -P '$M' update >/dev/null"
expect 0 "" -- "$S" -P "$M" ingest taxi/more "$T/m.csv" --quiet
state "$M" >"$T/state2"
# while another process has the pool open, it is refused and nothing changes
# (the holder says when it has the pool open, and holds it until told, at most 120 s)
py -c "
import os, strata, sys, time
p = strata.Pool(sys.argv[1])
open(sys.argv[2], 'w').close()
for _ in range(1200):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
" "$M" "$T/held" "$T/go" &
holder=$!
for _ in $(seq 1 600); do [ -e "$T/held" ] && break; sleep 0.1; done
[ -e "$T/held" ] || { echo "FAIL: the Python holder did not open the pool within 60 s"; fails=$((fails + 1)); }
expect_err 4 "is open in 1 other process(es) (writers, readers, a server): close them first; nothing was moved" -- \
    "$S" -P "$M" catalog migrate --to sqlite
touch "$T/go"
wait "$holder" 2>/dev/null
expect 0 "catalog   postgresql $CI_ schema moved" -- sh -c "'$S' -P '$M' info | grep '^catalog'"
# back into the pool's directory (catalog.db.moved is in the way of nothing: a new catalog.db)
expect 0 "" -- sh -c "'$S' -P '$M' catalog migrate --to sqlite | grep -q '^  to   sqlite $M/catalog.db$'"
state "$M" >"$T/state3"
expect 0 "" -- cmp "$T/state2" "$T/state3"
expect 0 "ok: no damage found" -- "$S" -P "$M" check
expect_err 3 "already has its catalog in SQLite" -- "$S" -P "$M" catalog migrate --to sqlite
expect_err 4 "schema 'moved' of $CI_ already holds a strata catalog" -- \
    "$S" -P "$M" catalog migrate --to "$CI_" --schema moved
expect 0 "catalog   sqlite $M/catalog.db" -- sh -c "'$S' -P '$M' info | grep '^catalog'"
expect_err 1 "migrate needs --to CONNINFO or --to sqlite" -- "$S" -P "$M" catalog migrate

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
    if child_alive "$pid"; then # (not a PID reused since, nor its children)
        pkill -9 -P "$pid" 2>/dev/null && killed=$((killed + 1))
        kill -9 "$pid" 2>/dev/null
    fi
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
