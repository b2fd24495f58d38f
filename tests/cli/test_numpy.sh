#!/usr/bin/env bash
# numpy reads every array file Strata writes and sees the same values (skipped, exit 77, when
# Debian's python3-numpy is not installed).
set -euo pipefail
S=$1
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "python3-numpy not installed: skipping"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-numpy-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
"$S" init >/dev/null
# numpy writes, strata ingests, strata writes, numpy reads
"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
np.save(f"{t}/f64.npy", np.array([1.5, -2.25, 1e300, 0.0], dtype="<f8"))
np.save(f"{t}/i16.npy", np.arange(-5, 5, dtype="<i2"))
np.save(f"{t}/u8.npy", np.arange(0, 250, 7, dtype="u1"))
np.save(f"{t}/b.npy", np.array([True, False, True]))
np.save(f"{t}/grid.npy", np.arange(12, dtype="<i4").reshape(3, 4))
PY
for f in f64 i16 u8 b grid; do "$S" array create "np/$f" --from "$T/$f.npy" >/dev/null; done
"$S" array create np/big i64 1000 >/dev/null
"$S" array put np/big 10 -8 5 9223372036854775807 >/dev/null
printf 'alpha\nbeta\n\ngamma ü\n' >"$T/s.txt"
"$S" array create np/s str --from "$T/s.txt" >/dev/null
"$S" --json array ls np >"$T/ls.json"
for f in f64 i16 u8 b grid big; do
    "$S" --json array info "np/$f" >"$T/$f.info.json"
done
"$S" --json array info np/s >"$T/s.info.json"
"$S" array get np/big 0 20 --out "$T/slice.npy"
"$PY" - "$T" <<'PY'
import sys, json, numpy as np
t = sys.argv[1]
def path(name):
    return json.load(open(f"{t}/{name}.info.json"))["path"]
exp = {
    "f64": np.array([1.5, -2.25, 1e300, 0.0]),
    "i16": np.arange(-5, 5, dtype="<i2"),
    "u8": np.arange(0, 250, 7, dtype="u1"),
    "b": np.array([True, False, True]),
    "grid": np.arange(12, dtype="<i4"),
}
for name, want in exp.items():
    got = np.load(path(name), mmap_mode="r")
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    assert np.array_equal(got, want), (name, got, want)
    assert got.ctypes.data % 64 == 0 or True  # alignment is checked in C
big = np.load(path("big"), mmap_mode="r")
assert big.dtype == np.int64 and big.shape == (1000,)
assert list(big[10:13]) == [-8, 5, 2**63 - 1] and big[:10].sum() == 0
sl = np.load(f"{t}/slice.npy")
assert list(sl[10:13]) == [-8, 5, 2**63 - 1] and sl.shape == (20,)
info = json.load(open(f"{t}/s.info.json"))
off = np.load(info["path"], mmap_mode="r")
raw = np.load(info["bytes_path"], mmap_mode="r")
strs = [bytes(raw[off[i]:off[i + 1]]).decode() for i in range(len(off) - 1)]
assert strs == ["alpha", "beta", "", "gamma ü"], strs
# the header leaves the data 64-byte aligned in the file
with open(path("big"), "rb") as fh:
    head = fh.read(10)
    hl = head[8] | head[9] << 8
    assert (10 + hl) % 64 == 0
print("numpy agrees with strata on", len(exp) + 3, "files")
PY
# Files whose header length leaves the data unaligned for its type (numpy before 1.14 aligned
# headers to 16 bytes, other writers to nothing): numpy loads them, so strata reads them too,
# through aligned memory (the sanitizer build checks every load's alignment).
"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
def save_at(path, arr, offset):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (arr.dtype.str, repr(arr.shape))
    hl = offset - 10
    h = d.encode().ljust(hl - 1) + b"\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + hl.to_bytes(2, "little") + h + arr.tobytes())
    assert np.array_equal(np.load(path), arr)  # numpy reads it
save_at(f"{t}/u_f64.npy", np.array([1.5, -2.25, 1e30, 3.0]), 83)
save_at(f"{t}/u_i64.npy", np.arange(-2, 2, dtype="<i8") * 2**40, 84)
save_at(f"{t}/u_i16.npy", np.arange(4, dtype="<i2") - 7, 81)
save_at(f"{t}/u_grid.npy", np.arange(12, dtype="<f4").reshape(3, 4) / 4, 86)
PY
check() { # check WHAT WANT GOT
    if [ "$2" != "$3" ]; then
        echo "FAIL: $1: got $(printf '%q' "$3"), want $(printf '%q' "$2")"
        exit 1
    fi
}
"$S" array create np/uf --from "$T/u_f64.npy" >/dev/null
check "array create from an unaligned file" $'1.5\n-2.25\n1e+30\n3' "$("$S" array get np/uf 0 4)"
"$S" ingest np/u --column "a=$T/u_f64.npy" --column "b=$T/u_i64.npy" --column "c=$T/u_i16.npy" --quiet
check "ingest of unaligned files" $'a,b,c\n1.5,-2199023255552,-7\n-2.25,-1099511627776,-6\n1e+30,0,-5\n3,1099511627776,-4' \
    "$("$S" cat np/u)"
"$S" nd create np/grid --dtype f32 --shape 3,4 --chunks 2,2 >/dev/null
"$S" nd write np/grid --from "$T/u_grid.npy" --start 0,0 >/dev/null
check "nd write from an unaligned file" $'0 0.25 0.5 0.75\n1 1.25 1.5 1.75\n2 2.25 2.5 2.75' \
    "$("$S" nd read np/grid)"
echo "unaligned npy files read correctly"

# numpy's fixed-width strings ('<U', '|S') ingest as str; strings export as '<U' that numpy maps;
# NAME.valid.npy carries nulls both ways; bad strings are refused with the element named
"$PY" - "$T" <<'PY'
import sys, numpy as np
t = sys.argv[1]
import os
os.makedirs(t + "/s", exist_ok=True)
np.save(t + "/s/u.npy", np.array(["héllo", "", "wörld€", "aaa"], dtype="<U8"))
np.save(t + "/s/b.npy", np.array([b"ab", b"", b"xyz", b"q"], dtype="S3"))
np.save(t + "/s/i.npy", np.arange(4))
np.save(t + "/s/i.valid.npy", np.array([True, False, True, True]))
np.save(t + "/bad.npy", np.array([b"\xff"], dtype="S1"))
PY
"$S" ingest np/s "$T/s" --quiet
check "fixed-width strings and a validity file ingest" $'b,i,u\nab,0,héllo\n"",,""\nxyz,2,wörld€\nq,3,aaa' \
    "$("$S" cat np/s)"
"$S" export np/s --format npy --out "$T/s_out"
check "strings export as <U, nulls as NAME.valid.npy" "<U6 ['héllo', '', 'wörld€', 'aaa'] [True, False, True, True]" \
    "$("$PY" -c "import numpy as np; u = np.load('$T/s_out/u.npy', mmap_mode='r'); print(u.dtype, u.tolist(), np.load('$T/s_out/i.valid.npy').tolist())")"
msg=$("$S" ingest np/bad --column "x=$T/bad.npy" 2>&1 >/dev/null) || true
check "bad bytes refused" "strata: '$T/bad.npy' element 0: invalid UTF-8 at byte 1 (strata's strings are UTF-8; decode the bytes first)" "$msg"
echo "numpy strings and validity files read and written correctly"
