#!/usr/bin/env bash
# End-to-end tests of HDF5 import and export against h5py, the peer: h5py writes groups with
# every supported type (contiguous and chunked, gzip, variable- and fixed-length strings, bool,
# timestamps as int64 + strata_dtype = "ts"), `strata ingest --format hdf5` reads them and the
# CSV export equals what pandas makes of the h5py data; strata exports datasets and N-d arrays
# that h5py reads back equal (values, dtypes, chunk shape, filter, fill value, attributes); an
# N-d array goes h5py -> nd import -> nd export -> h5py unchanged; bad input (truncated file, a
# dataset where a group is wanted, a 2-D column, columns of different lengths, unsupported types,
# a damaged chunk) fails with its exact message and publishes nothing; a failed export leaves no
# file; nulls go out and come back as a bool NAME.valid beside the column. Skipped (exit 77) without h5py, except under CI=true, where that is a failure.
set -uo pipefail
S=$1
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import h5py, pandas' 2>/dev/null; then
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL: h5py or pandas is missing (apt-get install python3-h5py python3-pandas)"
        exit 1
    fi
    echo "python3-h5py or python3-pandas not installed: skipping"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-hdf5-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
source "$(dirname "$0")/lib.sh"
"$S" init >/dev/null

# ---- h5py writes the inputs ------------------------------------------------------------------
"$PY" - "$T" <<'PY' || exit 1
import sys, h5py, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(7)
n = 1000
def put(g, name, data, **kw):
    return g.create_dataset(name, data=data, **kw)
with h5py.File(f"{t}/in.h5", "w") as f:
    g = f.create_group("trips")
    put(g, "i8", rng.integers(-128, 128, n, dtype=np.int8))
    put(g, "i16", rng.integers(-2**15, 2**15, n, dtype=np.int16), chunks=(100,))
    put(g, "i32", rng.integers(-2**31, 2**31, n, dtype=np.int32), chunks=(64,), compression="gzip")
    put(g, "i64", rng.integers(-2**63, 2**63 - 1, n, dtype=np.int64))
    put(g, "u8", rng.integers(0, 256, n, dtype=np.uint8), compression="gzip", compression_opts=9)
    put(g, "u16", rng.integers(0, 2**16, n, dtype=np.uint16))
    put(g, "u32", rng.integers(0, 2**32, n, dtype=np.uint32), chunks=(999,))
    put(g, "u64", rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True))
    f32 = rng.normal(size=n).astype(np.float32)
    f32[3] = np.nan
    f32[4] = -0.0
    put(g, "f32", f32, chunks=(128,), compression="gzip", shuffle=True)
    f64 = rng.normal(scale=1e10, size=n)
    f64[5] = np.inf
    put(g, "f64", f64)
    put(g, "flag", rng.integers(0, 2, n).astype(bool), chunks=(10,))
    words = ["", "a", "héllo", 'comma, "quote"', "line\nbreak", "ümlaut ß"]
    s = np.array([words[i % len(words)] + str(i) * (i % 3) for i in range(n)], dtype=object)
    put(g, "name", s, dtype=h5py.string_dtype(), chunks=(50,), compression="gzip")
    put(g, "code", np.array([b"AB", b"c", b"", b"xyz"] * (n // 4), dtype="S3"))
    ts = rng.integers(-2 * 10**18, 2 * 10**18, n, dtype=np.int64)
    d = put(g, "when", ts, chunks=(100,))
    d.attrs["strata_dtype"] = "ts"
    # a second group of the same schema to append, and an empty one
    g2 = f.create_group("more")
    for k in g:
        d2 = g2.create_dataset(k, data=g[k][:10])
        for a, v in g[k].attrs.items():
            d2.attrs[a] = v
    # more rows than one 65536-row slab, the last slab partial
    big = f.create_group("big")
    m = 150001
    put(big, "id", np.arange(m, dtype=np.int64), chunks=(10000,), compression="gzip")
    put(big, "s", np.array([str(i) * (i % 4) for i in range(m)], dtype=object),
        dtype=h5py.string_dtype(), chunks=(7000,))
    # wide rows: 100 kB fixed-length strings, read in slabs of fewer rows
    w = f.create_group("wide")
    put(w, "s", np.array([(b"%d" % i) * (i % 7) for i in range(1000)], dtype="S100000"),
        chunks=(50,), compression="gzip")
    put(w, "i", np.arange(1000, dtype=np.int16))
    e = f.create_group("empty")
    put(e, "x", np.zeros(0, dtype=np.int32))
    # bad inputs
    b = f.create_group("bad")
    b2 = b.create_group("twod"); put(b2, "a", np.arange(3)); put(b2, "m", np.zeros((3, 2)))
    b3 = b.create_group("len"); put(b3, "a", np.arange(3)); put(b3, "b", np.arange(4))
    b4 = b.create_group("compound"); put(b4, "a", np.arange(3))
    put(b4, "c", np.zeros(3, dtype=[("x", "<i4"), ("y", "<f8")]))
    b5 = b.create_group("nested"); put(b5, "a", np.arange(3)); b5.create_group("sub")
    b6 = b.create_group("half"); put(b6, "h", np.zeros(3, dtype=np.float16))
    b7 = b.create_group("enum")
    b7.create_dataset("e", data=np.arange(3, dtype=np.int8),
                      dtype=h5py.enum_dtype({"R": 0, "G": 1, "B": 2}, basetype="i1"))
    b8 = b.create_group("ref"); b8.create_dataset("r", (2,), dtype=h5py.ref_dtype)
    b9 = b.create_group("types")
    b10 = b.create_group("names")
    for k in g:
        put(b9, k, np.arange(3, dtype=np.int16) if k == "i8" else g[k][:3])
        put(b10, "j8" if k == "i8" else k, g[k][:3])
    put(f, "flat", np.arange(3))
    # a column whose last chunk is damaged (after the first 65536-row slab is fed)
with h5py.File(f"{t}/damaged.h5", "w") as f:
    g = f.create_group("g")
    d = put(g, "v", np.arange(200000, dtype=np.int64), chunks=(50000,), compression="gzip")
    put(f, "nd", np.arange(64 * 64, dtype=np.float64).reshape(64, 64), chunks=(16, 16),
        compression="gzip")
# N-d arrays
with h5py.File(f"{t}/nd.h5", "w") as f:
    a = np.arange(7 * 9 * 5, dtype=np.float32).reshape(7, 9, 5) / 3
    d = put(f, "sim/temp", a, chunks=(3, 4, 5), compression="gzip", fillvalue=-1.5)
    d.attrs["units"] = "K"
    d.attrs["scale"] = 0.25
    d.attrs["step"] = np.int16(-3)
    d.attrs["ok"] = np.bool_(True)
    d.attrs["code"] = np.bytes_(b"abc")
    d.attrs["huge"] = np.uint64(2**64 - 1)
    d.attrs["strata_layout"] = "col"  # Strata's own metadata: not an attribute of the array
    e = put(f, "vecattr", np.arange(3))
    e.attrs["origin"] = [0.0, 1.0, 2.0]
    e.attrs["name"] = "kept"
    # 12 MB: more than one 8 MiB slab, the last one partial
    put(f, "contig", (np.arange(3000 * 2000, dtype=np.int64).reshape(3000, 2000) % 777).astype(np.int16))
    put(f, "grow", rng.integers(0, 2, (4, 3)).astype(bool), maxshape=(None, 3), chunks=(1, 3))
    put(f, "u", rng.integers(0, 2**64 - 1, 100, dtype=np.uint64, endpoint=True), chunks=(7,))
    put(f, "strs", np.array(["a", "b"], dtype=object), dtype=h5py.string_dtype())
PY
# damage one chunk of each of damaged.h5's datasets, in place
"$PY" - "$T" <<'PY' || exit 1
import sys, h5py
t = sys.argv[1]
spots = []
with h5py.File(f"{t}/damaged.h5", "r") as f:
    for name, idx in (("g/v", 3), ("nd", 9)):
        ci = f[name].id.get_chunk_info(idx)
        spots.append((ci.byte_offset, ci.size))
with open(f"{t}/damaged.h5", "r+b") as fh:
    for off, size in spots:
        fh.seek(off)
        fh.write(b"\xff" * size)
PY
head -c 6000 "$T/in.h5" >"$T/trunc.h5"
printf 'not hdf5 at all\n' >"$T/text.h5"

# ---- ingest: every type, batches, CSV equal to pandas --------------------------------------------
expect 0 '{"dataset":"t/trips","rows":1000,"batches":4,"version":1}' -- sh -c \
    "'$S' --json ingest t/trips '$T/in.h5' --format hdf5 --path /trips --batch-rows 300 | sed 's/,\"bytes\":[0-9]*,\"seconds\":[0-9.]*//'"
expect 0 "columns   code:str f32:f32 f64:f64 flag:bool i16:i16 i32:i32 i64:i64 i8:i8 name:str u16:u16 u32:u32 u64:u64 u8:u8 when:ts" -- \
    sh -c "'$S' show t/trips | grep '^columns'"
expect 0 "" -- "$S" export t/trips --format csv --out "$T/trips.csv"
expect 0 "ok" -- "$PY" - "$T" <<'PY'
import sys, io, h5py, numpy as np, pandas as pd
t = sys.argv[1]
f = h5py.File(f"{t}/in.h5", "r")
g = f["trips"]
want = {}
for k in g:
    v = g[k][()]
    if k == "name":
        v = g[k].asstr()[()]
    elif k == "code":
        v = np.array([x.decode() for x in v], dtype=object)
    elif k == "when":
        v = pd.to_datetime(v, unit="ns", utc=True)
    want[k] = v
want = pd.DataFrame(want)
got = pd.read_csv(f"{t}/trips.csv", keep_default_na=False, dtype=str)
assert list(got.columns) == sorted(want.columns), list(got.columns)
for k in got.columns:
    w, s = want[k], got[k]
    if k in ("name", "code"):
        ok = (s.values == w.values).all()
    elif k == "flag":
        ok = ((s == "true").values == w.values).all()
    elif k == "when":
        ok = all(pd.Timestamp(a) == b for a, b in zip(s, w))
    elif k.startswith("f"):
        x = np.array([float(v) if v else np.nan for v in s], dtype=w.dtype)
        ok = np.array_equal(x, w.values, equal_nan=True) and \
            np.array_equal(np.signbit(x), np.signbit(w.values))
    else:
        ok = all(int(a) == int(b) for a, b in zip(s, w))
    assert ok, k
print("ok")
PY
# appended from a group of the same schema; an empty group adds an empty batch
expect 0 "" -- "$S" ingest t/trips "$T/in.h5" --format hdf5 --path /more --quiet
expect 0 "t/trips	v2	1010 rows	5 batches" -- sh -c "'$S' ls t | cut -f1-4"
expect 0 "" -- "$S" ingest t/empty "$T/in.h5" --path /empty --quiet
expect 0 "t/empty	v1	0 rows	1 batches" -- sh -c "'$S' ls t | grep empty | cut -f1-4"

# a group bigger than one slab, in batches that do not divide it
expect 0 "" -- "$S" ingest t/big "$T/in.h5" --path /big --batch-rows 40000 --quiet
expect 0 "t/big	v1	150001 rows	4 batches" -- sh -c "'$S' ls t | grep big | cut -f1-4"
expect 0 "" -- "$S" export t/big --format hdf5 --out "$T/big.h5"
expect 0 "ok" -- "$PY" -c "
import h5py, numpy as np
a, b = h5py.File('$T/in.h5')['big'], h5py.File('$T/big.h5')
assert np.array_equal(a['id'][()], b['id'][()])
assert list(a['s'].asstr()[()]) == list(b['s'].asstr()[()])
print('ok')"

expect 0 "" -- "$S" ingest t/wide "$T/in.h5" --path /wide --quiet
expect 0 "ok" -- sh -c "'$S' export t/wide --format csv --out '$T/wide.csv' && $PY -c \"
import csv
rows = list(csv.reader(open('$T/wide.csv')))
assert rows[0] == ['i', 's'] and len(rows) == 1001
assert all(r == [str(i), str(i) * (i % 7)] for i, r in enumerate(rows[1:]))
print('ok')\""

# ---- export: h5py reads back values, dtypes, chunks, filter, attributes ----------------------------
expect 0 "" -- "$S" export t/trips --format hdf5 --out "$T/out.h5" --path /a/trips --gzip 5
expect 0 "ok" -- "$PY" - "$T" <<'PY'
import sys, h5py, numpy as np
t = sys.argv[1]
src = h5py.File(f"{t}/in.h5", "r")
out = h5py.File(f"{t}/out.h5", "r")
g = out["a/trips"]
assert g.attrs["strata_dataset"] == "t/trips" and g.attrs["strata_version"] == 2, dict(g.attrs)
assert sorted(g) == sorted(src["trips"]), sorted(g)
for k in g:
    d = g[k]
    want = np.concatenate([src["trips"][k][()], src["more"][k][()]])
    assert d.compression == "gzip" and d.compression_opts == 5, (k, d.compression)
    assert d.chunks == (1010,) and d.maxshape == (None,), (k, d.chunks)
    if k in ("name", "code"):
        assert h5py.check_string_dtype(d.dtype).encoding == "utf-8", k
        assert h5py.check_string_dtype(d.dtype).length is None, k
        got = d.asstr()[()]
        want = [x.decode() if isinstance(x, bytes) else x for x in want]
        assert list(got) == list(want), k
        continue
    assert d.dtype == want.dtype, (k, d.dtype, want.dtype)
    assert np.array_equal(d[()], want, equal_nan=k.startswith("f")), k
assert dict(g["when"].attrs) == {"strata_dtype": "ts",
                                 "units": "nanoseconds since 1970-01-01 00:00:00"}
assert g["flag"].dtype == np.bool_
print("ok")
PY
# the export reads back into an equal dataset
expect 0 "" -- "$S" ingest t/back "$T/out.h5" --path /a/trips --quiet
expect 0 "$("$S" cat t/trips)" -- "$S" cat t/back
# the default: the root group, 65536-row chunks, no filter; --columns picks columns
expect 0 "" -- "$S" export t/trips --format hdf5 --out "$T/root.h5" --columns when,flag
expect 0 "['flag', 'when'] (1010,) None" -- "$PY" -c "
import h5py; f = h5py.File('$T/root.h5'); print(sorted(f), f['when'].chunks, f['when'].compression)"

# ---- nulls: a column with nulls has a bool NAME.valid beside it (as NPY), both ways ------------------
printf 'id,fare,zone,at\n1,10,north,2024-01-01 10:00:00\n2,,,\n3,30,"",2024-01-01 12:00:00\n' >"$T/nulls.csv"
expect 0 "" -- "$S" ingest t/nulls "$T/nulls.csv" --quiet
expect 0 "" -- "$S" export t/nulls --format hdf5 --out "$T/nulls.h5" --path /n
expect 0 "['at', 'at.valid', 'fare', 'fare.valid', 'id', 'zone', 'zone.valid'] [1 0 1] bool [10  0 30] [True, False, True]" -- "$PY" -c "
import h5py, numpy as np; g = h5py.File('$T/nulls.h5')['n']
m = np.ma.masked_array(g['fare'][()], mask=~g['fare.valid'][()])
print(sorted(g), g['fare.valid'][()].astype(int), g['fare.valid'].dtype, g['fare'][()], list(~m.mask))"
expect 0 "" -- "$S" ingest t/nulls2 "$T/nulls.h5" --format hdf5 --path /n --quiet
expect 0 "$("$S" cat t/nulls)" -- "$S" cat t/nulls2 --columns id,fare,zone,at
expect 0 "columns   at:ts fare:i64 id:i64 zone:str" -- sh -c "'$S' show t/nulls2 | grep '^columns'"
# h5py writes a masked column: a NAME.valid that is not bool, or names no column, is a column
expect 0 "" -- "$PY" -c "
import h5py, numpy as np
with h5py.File('$T/masked.h5', 'w') as f:
    f['x'] = np.arange(5, dtype='f8'); f['x.valid'] = np.array([1, 0, 1, 1, 0], dtype=bool)
    f['y.valid'] = np.ones(5, dtype=bool); f['z'] = np.arange(5); f['z.valid'] = np.ones(5, dtype='i4')"
expect 0 "" -- "$S" ingest t/masked "$T/masked.h5" --format hdf5 --quiet
expect 0 'x,y.valid,z,z.valid
0,true,0,1
,true,1,1
2,true,2,1
3,true,3,1
,true,4,1' -- "$S" cat t/masked
# a column named like another's validity cannot be exported beside it
printf 'a,a.valid\n,1\n' >"$T/clash.csv"
expect 0 "" -- "$S" ingest t/clash "$T/clash.csv" --quiet
expect_err 3 "strata: $T/clash.h5:/a.valid: column 'a' has nulls, whose validity goes here, but a column of that name is exported too; leave one of them out (--columns)" -- \
    "$S" export t/clash --format hdf5 --out "$T/clash.h5"

# ---- N-d arrays: h5py -> import -> export -> h5py --------------------------------------------------
for a in sim/temp contig grow u; do
    expect 0 "" -- sh -c "'$S' nd import n/${a#sim/} '$T/nd.h5' --path /$a >/dev/null"
done
expect 0 "[3,4,5] 3 [7,9,5] chunked" -- sh -c "'$S' --json nd info n/temp | $PY -c '
import json, sys; d = json.load(sys.stdin); print(json.dumps(d[\"chunks\"], separators=(\",\",\":\")), d[\"zstd\"], json.dumps(d[\"shape\"], separators=(\",\",\":\")), d[\"layout\"])'"
expect 0 "row 0" -- sh -c "'$S' --json nd info n/contig | $PY -c '
import json, sys; d = json.load(sys.stdin); print(d[\"layout\"], d[\"zstd\"])'"
for a in temp contig grow u; do
    expect 0 "" -- sh -c "'$S' nd export n/$a --out '$T/nd_$a.h5' --path /x/$a >/dev/null"
done
expect 0 "ok" -- "$PY" - "$T" <<'PY'
import sys, h5py, numpy as np
t = sys.argv[1]
src = h5py.File(f"{t}/nd.h5", "r")
for a, p in (("temp", "sim/temp"), ("contig", "contig"), ("grow", "grow"), ("u", "u")):
    s = src[p]
    d = h5py.File(f"{t}/nd_{a}.h5", "r")["x/" + a]
    assert d.dtype == s.dtype and d.shape == s.shape, (a, d.dtype, d.shape)
    assert np.array_equal(d[()], s[()]), a
    assert d.chunks == s.chunks, (a, d.chunks, s.chunks)
    assert d.maxshape == s.maxshape, (a, d.maxshape, s.maxshape)
    assert d.fillvalue == s.fillvalue, (a, d.fillvalue, s.fillvalue)
    assert d.attrs["strata_array"] == "n/" + a
    assert d.attrs["strata_layout"] == ("row" if a == "contig" else "chunked")
    for k, v in s.attrs.items():  # the source's own attributes came through
        if not k.startswith("strata_"):
            v = v.decode() if isinstance(v, bytes) else v  # strings go out as UTF-8 str
            assert d.attrs[k] == v, (a, k, d.attrs[k], v)
# temp was gzip: strata keeps it as zstd level 3, exported as gzip (no zstd plugin here) with
# the level as an attribute
d = h5py.File(f"{t}/nd_temp.h5", "r")["x/temp"]
assert d.compression == "gzip" or "32015" in d._filters, d.compression
assert d.attrs["strata_zstd_level"] == 3
assert h5py.File(f"{t}/nd_contig.h5", "r")["x/contig"].compression is None
print("ok")
PY
# attributes: h5py's scalar attributes become the array's (int, float, text), and go back out
expect 0 '{"code":"abc","huge":1.8446744073709552e+19,"ok":1,"scale":0.25,"step":-3,"units":"K"}' -- \
    sh -c "'$S' --json nd info n/temp | $PY -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[\"attrs\"], separators=(\",\",\":\")))'"
expect 0 "" -- "$S" nd attr n/temp note="hello, world" --rm step
expect 0 'code = "abc"
huge = 1.8446744073709552e+19
note = "hello, world"
ok = 1
scale = 0.25
units = "K"' -- "$S" nd attr n/temp
expect 0 "" -- sh -c "'$S' nd export n/temp --out '$T/attrs.h5' --path /t >/dev/null"
expect 0 "{'code': 'abc', 'huge': 1.8446744073709552e+19, 'note': 'hello, world', 'ok': 1, 'scale': 0.25, 'strata_array': 'n/temp', 'strata_layout': 'chunked', 'strata_zstd_level': 3, 'units': 'K'}" -- \
    "$PY" -c "import h5py; print(dict(sorted(h5py.File('$T/attrs.h5')['t'].attrs.items())))"
expect_err 3 "strata: $T/nd.h5:/vecattr: attribute 'origin': an array of 3 values is not supported (N-d array attributes are one int, float or UTF-8 string; --skip-attrs leaves such attributes out)" -- \
    "$S" nd import n/v "$T/nd.h5" --path /vecattr
expect 0 'name = "kept"' -- sh -c "'$S' nd import n/v '$T/nd.h5' --path /vecattr --skip-attrs >/dev/null && '$S' nd attr n/v"
expect_err 3 "strata: N-d array 'n/v': attribute 'strata_x': names starting with 'strata_' are reserved" -- "$S" nd attr n/v strata_x=1
expect_err 2 "strata: N-d array 'n/v' has no attribute 'nope'" -- "$S" nd attr n/v --rm nope
expect 0 "" -- sh -c "'$S' nd rm n/v >/dev/null"

# a strata array (zstd 5, chunks not dividing the shape) out and back in
"$PY" -c "import numpy as np; np.save('$T/w.npy', np.arange(50*70, dtype='<f8').reshape(50, 70) * 0.5)"
expect 0 "" -- sh -c "'$S' nd create n/w --dtype f64 --shape 50,70 --chunks 16,32 --zstd 5 --fill 2.5 >/dev/null"
expect 0 "" -- sh -c "'$S' nd write n/w --from '$T/w.npy' --start 0,0 >/dev/null"
expect 0 "" -- sh -c "'$S' nd export n/w --out '$T/w.h5' --path /w --gzip 2 >/dev/null"
expect 0 "ok" -- "$PY" -c "
import h5py, numpy as np
d = h5py.File('$T/w.h5')['w']
assert np.array_equal(d[()], np.load('$T/w.npy')) and d.chunks == (16, 32), d.chunks
assert d.compression == 'gzip' and d.compression_opts == 2 and d.fillvalue == 2.5
assert d.attrs['strata_zstd_level'] == 5
print('ok')"
expect 0 "" -- sh -c "'$S' nd import n/w2 '$T/w.h5' --path /w >/dev/null"
expect 0 "5" -- sh -c "'$S' --json nd info n/w2 | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"zstd\"])'"
expect 0 "$("$S" nd read n/w --start 10,20 --count 3,40)" -- "$S" nd read n/w2 --start 10,20 --count 3,40
expect 0 "" -- sh -c "'$S' nd import n/w3 '$T/w.h5' --path /w --zstd none >/dev/null"
expect 0 "0" -- sh -c "'$S' --json nd info n/w3 | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"zstd\"])'"

# ---- bad input: the exact message, nothing published ------------------------------------------------
bad() { # bad STDERR -- COMMAND...: exit 3 with that message
    local want=$1
    shift 2
    expect_err 3 "$want" -- "$@"
}
bad "strata: cannot open '$T/trunc.h5' as an HDF5 file: it is damaged or truncated (hdf5: truncated file: eof = 6000" -- \
    "$S" ingest b/x "$T/trunc.h5" --path /trips
bad "strata: '$T/text.h5' is not an HDF5 file (no HDF5 signature)" -- "$S" ingest b/x "$T/text.h5"
expect_err 2 "strata: $T/in.h5:/nope: no such object ('/nope' does not exist)" -- "$S" ingest b/x "$T/in.h5" --path /nope
bad "strata: $T/in.h5:/flat is a dataset, not a group: ingest reads a group holding one 1-D dataset per column (use 'strata nd import' for an N-d array)" -- \
    "$S" ingest b/x "$T/in.h5" --path /flat
bad "strata: $T/in.h5:/bad/twod/m: a 2-D dataset; a group import reads 1-D datasets, one per column (use 'strata nd import' for an N-d array)" -- \
    "$S" ingest b/x "$T/in.h5" --path /bad/twod
bad "strata: $T/in.h5:/bad/len/b holds 4 values but $T/in.h5:/bad/len/a holds 3; columns must be equally long" -- \
    "$S" ingest b/x "$T/in.h5" --path /bad/len
bad "strata: $T/in.h5:/bad/compound/c: a compound type is not supported" -- "$S" ingest b/x "$T/in.h5" --path /bad/compound
bad "strata: $T/in.h5:/bad/nested/sub: a nested group is not supported as a column (each column must be a 1-D dataset)" -- \
    "$S" ingest b/x "$T/in.h5" --path /bad/nested
bad "strata: $T/in.h5:/bad/half/h: a float type narrower than 32 bits (float16) is not supported" -- \
    "$S" ingest b/x "$T/in.h5" --path /bad/half
bad "strata: $T/in.h5:/bad/enum/e: an enum type (only h5py's bool enum FALSE/TRUE is read) is not supported" -- \
    "$S" ingest b/x "$T/in.h5" --path /bad/enum
bad "strata: $T/in.h5:/bad/ref/r: a reference type is not supported" -- "$S" ingest b/x "$T/in.h5" --path /bad/ref
expect_err 5 "strata: $T/damaged.h5:/g/v: cannot read rows 131072 to 196608 (hdf5: " -- "$S" ingest b/x "$T/damaged.h5" --path /g --batch-rows 1000
expect 0 "" -- "$S" ls b
# into an existing dataset: the schema must match, and a failure leaves its version alone
bad "strata: $T/in.h5:/bad/types: column 'i8' holds i16 but 't/trips' has it as i8" -- \
    "$S" ingest t/trips "$T/in.h5" --path /bad/types
bad "strata: $T/in.h5:/bad/names: column 'j8' is not in dataset 't/trips'" -- "$S" ingest t/trips "$T/in.h5" --path /bad/names
bad "strata: $T/in.h5:/empty has 1 columns but dataset 't/trips' has 14" -- "$S" ingest t/trips "$T/in.h5" --path /empty
expect 0 "t/trips	v2	1010 rows	5 batches" -- sh -c "'$S' ls t | grep trips | cut -f1-4"
# N-d import
bad "strata: $T/nd.h5:/sim is a group, not a dataset: 'nd import' reads one dataset (use 'strata ingest --format hdf5' for a group of columns)" -- \
    "$S" nd import n/bad "$T/nd.h5" --path /sim
bad "strata: $T/nd.h5:/strs: a string type (N-d arrays hold numbers) is not supported" -- "$S" nd import n/bad "$T/nd.h5" --path /strs
expect_err 5 "strata: $T/damaged.h5:/nd: cannot read the block at [32,16] (hdf5: " -- "$S" nd import n/bad "$T/damaged.h5" --path /nd
expect_err 4 "strata: N-d array 'n/temp' already exists" -- "$S" nd import n/temp "$T/nd.h5" --path /sim/temp
expect 0 $'contig\ngrow\ntemp\nu\nw\nw2\nw3' -- "$S" nd ls n
expect 0 "ok: no damage found" -- "$S" check

# ---- a failed export leaves no file -----------------------------------------------------------------
printf 's\n"a\0b"\n' >"$T/nul.csv"
expect 0 "" -- "$S" ingest b/nul "$T/nul.csv" --quiet
bad "strata: $T/nul.h5:/s: row 0 holds a NUL byte, which an HDF5 string cannot hold" -- \
    "$S" export b/nul --format hdf5 --out "$T/nul.h5"
expect_err 5 "strata: cannot create '$T/nodir/x.h5.tmp-...' for '$T/nodir/x.h5'" -- \
    "$S" export t/trips --format hdf5 --out "$T/nodir/x.h5"
expect 0 "" -- sh -c "ls '$T' | grep -E '^nul\\.h5|tmp-' || true"
# a failed export keeps the previous file
cp "$T/root.h5" "$T/keep.h5"
bad "strata: $T/keep.h5:/s: row 0 holds a NUL byte" -- "$S" export b/nul --format hdf5 --out "$T/keep.h5"
expect 0 "" -- cmp "$T/root.h5" "$T/keep.h5"
expect_err 1 "strata: --path and --gzip are for --format hdf5" -- "$S" export t/trips --out "$T/x.csv" --path /a
expect_err 1 "strata: --path is for HDF5 input (--format hdf5)" -- "$S" ingest t/trips "$T/trips.csv" --path /a
expect_err 1 "strata: 'nd import' needs --path /DATASET" -- "$S" nd import n/q "$T/nd.h5"

finish hdf5
