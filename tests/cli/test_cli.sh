#!/usr/bin/env bash
# End-to-end tests of the strata command: outputs, exit codes, error messages, and that a
# failed command publishes nothing.
set -uo pipefail
S=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
source "$(dirname "$0")/lib.sh"

# --- help and usage
expect 0 "" -- sh -c "'$S' --help >/dev/null"
expect_err 1 "'frobnicate' is not a strata command" -- "$S" frobnicate
expect_err 1 "usage:" -- "$S"
expect 0 "" -- sh -c "'$S' array --help | grep -q 'array lock'"
expect 0 "" -- sh -c "'$S' region --help | grep -q 'region rm'"

# --- pools
expect_err 2 "not found; create it with 'strata init" -- "$S" region ls
expect 0 "" -- sh -c "'$S' init | grep -q '^created pool $T/pool'"
expect_err 4 "already a strata pool" -- "$S" init
mkdir "$T/plain"
expect_err 2 "is not a strata pool" -- "$S" -P "$T/plain" region ls
expect 0 "" -- sh -c "'$S' -P '$T/other' init | grep -q '^created pool $T/other'"
expect 0 "" -- sh -c "'$S' init '$T/third' | grep -q '^created pool $T/third'"

# --- regions
expect 0 "created region taxi" -- "$S" region create taxi
expect_err 4 "region 'taxi' already exists" -- "$S" region create taxi
expect_err 3 "region name '../x' contains '..'" -- "$S" region create ../x
expect_err 3 "contains '..'" -- "$S" region create a..b
expect 0 "taxi" -- "$S" region ls
expect 0 '{"regions":["taxi"]}' -- "$S" --json region ls

# --- arrays: create, put, get (negative numbers are values)
expect 0 "created array demo/a (i64, 5 elements)" -- "$S" array create demo/a i64 5
expect 0 $'demo\ntaxi' -- "$S" region ls
expect 0 "" -- "$S" array put demo/a 0 -8 5
expect 0 $'-8\n5\n0\n0\n0' -- "$S" array get demo/a
expect 0 $'5\n0' -- "$S" array get demo/a 1 2
expect 0 '{"array":"demo/a","dtype":"i64","start":0,"values":[-8,5]}' -- "$S" --json array get demo/a 0 2
expect 0 '{"array":"demo/a","dtype":"i64","start":3,"values":[0]}' -- "$S" array get demo/a 3 1 --json
expect_err 3 "cannot get elements [3, 9) of array 'demo/a': its length is 5" -- "$S" array get demo/a 3 6
expect_err 3 "cannot put elements [4, 6) of array 'demo/a': its length is 5" -- "$S" array put demo/a 4 1 2
expect 0 $'-8\n5\n0\n0\n0' -- "$S" array get demo/a
expect_err 3 "value 'x1' (value 2) is not a i64 number" -- "$S" array put demo/a 0 1 x1
expect_err 1 "START 'abc' is not a non-negative integer" -- "$S" array put demo/a abc 1
expect_err 2 "array 'demo/nope' not found" -- "$S" array get demo/nope
expect_err 2 "region 'nowhere' not found" -- "$S" array get nowhere/a
expect_err 4 "array 'demo/a' already exists" -- "$S" array create demo/a i64 3
expect_err 1 "unknown dtype 'i128'" -- "$S" array create demo/b i128 3
expect_err 1 "'demo' is not REGION/NAME" -- "$S" array create demo i64 3
expect_err 3 "array name '..' contains '..'" -- "$S" array create demo/.. i64 3
expect_err 3 "contains control character" -- "$S" array create "demo/a$(printf '\001')" i64 3
long=$(printf 'n%.0s' $(seq 300))
expect_err 3 "longer than 255 bytes" -- "$S" array create "demo/$long" i64 3

# --- dtypes and value ranges
expect 0 "created array demo/u (u8, 3 elements)" -- "$S" array create demo/u u8 3
expect_err 3 "value '256' (value 1) is out of range for u8" -- "$S" array put demo/u 0 256
expect_err 3 "value '-1' (value 1) is out of range for u8" -- "$S" array put demo/u 0 -1
expect 0 "" -- "$S" array put demo/u 0 255 0 7
expect 0 $'255\n0\n7' -- "$S" array get demo/u
expect 0 "created array demo/f (f32, 2 elements)" -- "$S" array create demo/f f32 2
expect 0 "" -- "$S" array put demo/f 0 -1.5 3.25
expect 0 $'-1.5\n3.25' -- "$S" array get demo/f
expect_err 3 "out of range for f32" -- "$S" array put demo/f 0 1e39
expect 0 "created array demo/b (bool, 3 elements)" -- "$S" array create demo/b bool 3
expect 0 "" -- "$S" array put demo/b 1 true 1
expect 0 $'false\ntrue\ntrue' -- "$S" array get demo/b
expect_err 3 "is not a bool" -- "$S" array put demo/b 0 2

# --- atomics
expect 0 "5" -- "$S" array add demo/a 1 10
expect 0 "15" -- "$S" array add demo/a 1 -3
expect 0 "12" -- "$S" array cas demo/a 1 12 99
expect 4 "99" -- "$S" array cas demo/a 1 12 7
expect 0 '{"old":99,"swapped":true}' -- "$S" --json array cas demo/a 1 99 -1
expect_err 3 "index 5 is out of range for array 'demo/a' of length 5" -- "$S" array add demo/a 5 1
expect_err 3 "not supported on u8" -- "$S" array add demo/u 0 1
expect 0 "created array demo/d (f64, 1 elements)" -- "$S" array create demo/d f64 1
expect 0 "0" -- "$S" array add demo/d 0 0.5
expect 0 "0.5" -- "$S" array add demo/d 0 0.25

# --- info, ls, rm
expect 0 "" -- sh -c "'$S' array info demo/a | grep -q '^checksum  xxh64:[0-9a-f]\{16\}$'"
expect 0 "" -- sh -c "'$S' array info demo/a | grep -q '^path      $T/pool/data/.*\\.npy$'"
expect 0 "" -- sh -c "'$S' --json array info demo/a | grep -q '\"dtype\":\"i64\",\"length\":5,\"bytes\":40'"
expect 0 $'demo/a\ti64\t5\ndemo/b\tbool\t3\ndemo/d\tf64\t1\ndemo/f\tf32\t2\ndemo/u\tu8\t3' -- "$S" array ls demo
expect 0 "deleted array demo/f" -- "$S" array rm demo/f
expect_err 2 "array 'demo/f' not found" -- "$S" array rm demo/f
expect_err 2 "region 'nope' not found" -- "$S" array ls nope

# --- npy in and out
"$S" array get demo/a --out "$T/a.npy"
expect 0 "created array demo/a2 (i64, 5 elements)" -- "$S" array create demo/a2 --from "$T/a.npy"
expect 0 $'-8\n-1\n0\n0\n0' -- "$S" array get demo/a2
expect_err 3 "cannot put elements [2, 7)" -- "$S" array put demo/a2 2 --from "$T/a.npy"
expect_err 3 "holds i64" -- "$S" array put demo/u 0 --from "$T/a.npy"
printf 'not an npy file at all' >"$T/junk.npy"
expect_err 3 "is not an npy file" -- "$S" array create demo/j --from "$T/junk.npy"
expect_err 2 "array 'demo/j' not found" -- "$S" array get demo/j
expect_err 2 "not found" -- "$S" array create demo/j --from "$T/missing.npy"

# --- strings
printf 'alpha\nbeta\n\ngamma\n' >"$T/s.txt"
expect 0 "created array demo/s (str, 4 elements)" -- "$S" array create demo/s str --from "$T/s.txt"
expect 0 $'alpha\nbeta\n\ngamma' -- "$S" array get demo/s
expect 0 '{"array":"demo/s","dtype":"str","start":1,"values":["beta",""]}' -- "$S" --json array get demo/s 1 2
expect_err 3 "string array" -- "$S" array put demo/s 0 x

# --- locks
expect 0 "inside" -- "$S" array lock demo/a -- echo inside
expect 3 "" -- "$S" array lock demo/a -- sh -c 'exit 3'
# (the holder says it holds the lock, and holds it until told, at most 120 s)
"$S" array lock demo/a -- sh -c ": >'$T/held'; i=0
    while [ ! -e '$T/go' ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i + 1)); done" &
holder=$!
for _ in $(seq 1 600); do [ -e "$T/held" ] && break; sleep 0.1; done
[ -e "$T/held" ] || { echo "FAIL: the lock holder did not start within 60 s"; fails=$((fails + 1)); }
expect_err 4 "array 'demo/a' is locked by another holder" -- "$S" array lock demo/a --timeout 100 -- true
expect_err 4 "region 'demo' is not empty: it holds" -- "$S" region rm demo
expect_err 4 "is locked" -- "$S" array rm demo/a
touch "$T/go"
wait $holder
expect 0 "ok" -- "$S" array lock demo/a --shared --timeout 0 -- echo ok
# a holder killed with SIGKILL releases the lock
rm -f "$T/held"
"$S" array lock demo/a -- sh -c ": >'$T/held'; exec sleep 30" &
holder=$!
for _ in $(seq 1 600); do [ -e "$T/held" ] && break; sleep 0.1; done
[ -e "$T/held" ] || { echo "FAIL: the lock holder did not start within 60 s"; fails=$((fails + 1)); }
pkill -KILL -P $holder 2>/dev/null # (its child, sh or the sleep it became)
kill -KILL $holder 2>/dev/null
wait $holder 2>/dev/null
expect 0 "free" -- "$S" array lock demo/a --timeout 2000 -- echo free

# --- backups
expect 0 "backed up demo/a as bk" -- "$S" array backup demo/a bk
expect 0 "" -- "$S" array put demo/a 0 1 1 1 1 1
expect 0 "restored demo/a from bk" -- "$S" array restore bk demo/a
expect 0 $'-8\n-1\n0\n0\n0' -- "$S" array get demo/a
expect 0 "restored copy/a from bk" -- "$S" array restore bk copy/a
expect 0 $'-8\n-1\n0\n0\n0' -- "$S" array get copy/a
expect_err 4 "backup 'bk' already exists" -- "$S" array backup demo/a bk
expect 0 "bk" -- "$S" backup ls
expect 0 "deleted backup bk" -- "$S" backup rm bk
expect_err 2 "backup 'bk' not found" -- "$S" array restore bk demo/a

# --- region rm: a region that holds anything only with --force (golden/region_rm.sh has more)
expect_err 4 "region 'copy' is not empty: it holds 1 array(s) (copy/a)" -- "$S" region rm copy
expect 0 "deleted region copy" -- "$S" region rm copy --force
expect_err 2 "region 'copy' not found" -- "$S" region rm copy
expect 0 "deleted region demo" -- "$S" region rm demo --force
expect 0 "taxi" -- "$S" region ls

# --- libraries loaded when first needed (docs/architecture.md): on a SQLite catalog a command
# loads neither libpq nor HDF5, snappy, Open MPI or libmicrohttpd (each is opened by the first
# call needing it)
LD_DEBUG=files "$S" region ls 2>"$T/loaded" >/dev/null
expect 0 "calling init: " -- sh -c "grep -o 'calling init: [^ ]*' '$T/loaded' | head -1 | cut -c1-14"
if [ -z "${STRATA_CATALOG:-}" ]; then
    expect 0 "" -- sh -c "! grep -qE 'file=[^ ]*(libpq|libhdf5|libsnappy|libmpi|libmicrohttpd)' '$T/loaded'"
fi

finish "CLI"
