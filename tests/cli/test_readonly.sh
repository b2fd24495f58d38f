#!/usr/bin/env bash
# A pool on a read-only file system can be read: ls, show, cat, log, lineage, nd read and info,
# array get, check. Writes fail with the reason and change nothing. Needs a read-only bind
# mount (root); skipped (77) where mounts are not allowed.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-ro-XXXXXX")
trap 'umount "$T/ro" 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/rw" "$T/ro"
if ! { mount --bind "$T/rw" "$T/ro" && mount -o remount,ro,bind "$T/ro"; } 2>/dev/null; then
    echo "skipped: cannot make a read-only bind mount here (needs root)"
    exit 77
fi
umount "$T/ro"
W="$S -P $T/rw/p"
$W init >/dev/null
$W demo taxi 500 "$T/h.csv" --seed 3 >/dev/null
$W ingest taxi/t "$T/h.csv" 2>/dev/null
$W derive taxi/e --from taxi/t --filter 'fare > 10000' >/dev/null
$W column taxi/e.fare --gather taxi/t.fare >/dev/null
$W update >/dev/null
$W region create sim >/dev/null
$W nd create sim/a --dtype i64 --shape 4,4 --chunks 2,2 >/dev/null
$W array create demo/a i64 3 >/dev/null
$W array put demo/a 0 7 8 9 >/dev/null
# what the writable pool answers, the read-only one must answer too
for c in "show taxi/t" "cat taxi/e" "ls" "log taxi/t" "lineage taxi/e" "nd read sim/a" \
    "nd info sim/a" "array get demo/a" "check"; do
    $W $c >"$T/want.$(echo "$c" | tr ' /' '__')" 2>&1
done
mount --bind "$T/rw" "$T/ro" && mount -o remount,ro,bind "$T/ro"
R="$S -P $T/ro/p"
for c in "show taxi/t" "cat taxi/e" "ls" "log taxi/t" "lineage taxi/e" "nd read sim/a" \
    "nd info sim/a" "array get demo/a" "check"; do
    want=$(sed "s|$T/rw|$T/ro|g" "$T/want.$(echo "$c" | tr ' /' '__')")
    expect 0 "$want" -- $R $c
done
# writes say why they cannot, and exit non-zero
expect_err 3 "Read-only file system" -- $R ingest taxi/t "$T/h.csv"
expect_err 3 "Read-only file system" -- $R update --full
expect_err 3 "read-only" -- $R array put demo/a 0 5
expect_err 3 "cannot collect garbage in pool" -- $R gc
umount "$T/ro"
expect 0 "ok: no damage found" -- $W check
finish read-only
