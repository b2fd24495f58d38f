// Arrow IPC files (Feather v2) in and out of datasets, against the npm apache-arrow package:
//   1. apache-arrow writes a file with every type Strata reads (nulls in each, several record
//      batches, a dictionary-encoded string column, utf8, timestamps with a time zone, dates);
//      `strata ingest` reads it (one batch per record batch) and `strata cat --format ndjson`
//      gives exactly the values apache-arrow reads back from its own file.
//   2. `strata export --format arrow` writes the dataset; apache-arrow reads Strata's file and
//      finds the same values, types and nulls.
//   3. A truncated file and a file with a type Strata does not read fail with exit 3, naming
//      the file and the column, and publish nothing.
// Usage: node tests/cli/arrow_peer.mjs STRATA WORKDIR. Exit 0 when all holds, 1 otherwise, 77
// (skipped) without apache-arrow outside CI.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const lib = resolve(here, '../../bench/node/node_modules/apache-arrow/Arrow.node.mjs');
let A;
try {
  A = await import(lib);
} catch (e) {
  console.log(`arrow_peer: apache-arrow is not at ${lib}; run scripts/deps.sh`);
  process.exit(process.env.CI ? 1 : 77);
}
const [strata, work] = process.argv.slice(2);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const env = { ...process.env, STRATA_POOL: `${work}/pool` };
const run = (...args) => spawnSync(strata, args, { env, encoding: 'utf8', maxBuffer: 1 << 30 });
let fails = 0;
const fail = (msg) => { console.log(`FAIL: ${msg}`); fails++; };
const must = (r, what) => { if (r.status !== 0) fail(`${what}: exit ${r.status}: ${r.stderr}`); return r; };
must(run('init'), 'init');

// Two record batches of N rows; nulls where i % k == r for each column.
const N = 1000;
function batch(base) {
  const col = (type, f, k) => A.vectorFromArray(
    Array.from({ length: N }, (_, i) => (i % k === 1 ? null : f(base + i))), type);
  return new A.RecordBatch({
    b: col(new A.Bool(), (i) => i % 3 === 0, 7).data[0],
    i8: col(new A.Int8(), (i) => (i % 256) - 128, 5).data[0],
    i16: col(new A.Int16(), (i) => i - 500, 11).data[0],
    i32: col(new A.Int32(), (i) => i * 7919 - 5000000, 13).data[0],
    i64: col(new A.Int64(), (i) => BigInt(i) * 1000000007n - 4000000000000n, 17).data[0],
    u8: col(new A.Uint8(), (i) => i % 256, 19).data[0],
    u16: col(new A.Uint16(), (i) => (i * 31) % 65536, 23).data[0],
    u32: col(new A.Uint32(), (i) => i * 4000001, 29).data[0],
    u64: col(new A.Uint64(), (i) => BigInt(i) * 73856093n + 9223372036854775808n, 31).data[0],
    f32: col(new A.Float32(), (i) => i / 8, 37).data[0],
    f64: col(new A.Float64(), (i) => i / 3, 41).data[0],
    s: col(new A.Utf8(), (i) => `zone ${i % 263} "é"`, 43).data[0],
    ts: col(new A.TimestampMillisecond('UTC'), (i) => 1706708700000 + i * 61, 53).data[0],
    tn: col(new A.TimestampNanosecond(), (i) => 1700000000000 + i * 1001, 59).data[0],
    day: col(new A.DateDay(), (i) => Date.UTC(2024, 0, 1) + i * 86400000, 61).data[0],
  });
}
const table = new A.Table([batch(0), batch(N)]);
const file = `${work}/js.arrow`;
writeFileSync(file, A.tableToIPC(table, 'file'));

// apache-arrow gives timestamps and dates as milliseconds (a number) or nanoseconds (a bigint).
const toNs = (v) => (typeof v === 'bigint' ? v : BigInt(Math.round(v)) * 1000000n);
// The expected values as Strata prints them in JSON.
const iso = (ns) => {
  const ms = Number(ns / 1000000n), frac = ns % 1000000000n;
  let s = new Date(ms).toISOString().slice(0, 19);
  if (frac) s += '.' + frac.toString().padStart(9, '0').replace(/(000)+$/, '');
  return s + 'Z';
};
const back = A.tableFromIPC(readFileSync(file));
// nanosecond timestamps exactly as stored (get() rounds them to milliseconds)
const rawNs = back.batches.flatMap((bt) => Array.from(bt.getChild('tn').data[0].values));
const want = [];
for (let r = 0; r < back.numRows; r++) {
  const row = back.get(r);
  const o = {};
  for (const f of back.schema.fields) {
    const v = row[f.name];
    if (v === null) { o[f.name] = null; continue; }
    switch (f.name) {
      case 'b': o[f.name] = v; break;
      case 'i64': case 'u64': o[f.name] = BigInt(v).toString(); break;
      case 'tn': o[f.name] = iso(rawNs[r]); break;
      case 'ts': case 'day': o[f.name] = iso(toNs(v)); break;
      default: o[f.name] = v;
    }
  }
  want.push(o);
}
// Strata's JSON, with 64-bit integers kept exact.
const parse = (line) => JSON.parse(line.replace(/"(i64|u64)":(-?\d+)/g, '"$1":"$2"'));
function same(ds, what) {
  const r = must(run('cat', ds, '--format', 'ndjson'), `cat ${ds}`);
  const got = r.stdout.trim().split('\n').map(parse);
  if (got.length !== want.length) return fail(`${what}: ${got.length} rows, want ${want.length}`);
  for (let i = 0; i < got.length; i++)
    for (const k of Object.keys(want[i])) {
      const g = got[i][k], w = want[i][k];
      const eq = typeof w === 'number' && typeof g === 'number' ? Math.abs(g - w) <= 1e-6 * Math.abs(w) : g === w;
      if (!eq) return fail(`${what}: row ${i} column ${k}: ${JSON.stringify(g)}, want ${JSON.stringify(w)}`);
    }
}

must(run('ingest', 'a/js', file, '--quiet'), 'ingest');
const show = JSON.parse(run('show', 'a/js', '--json').stdout);
if (show.batches.length !== 2) fail(`${show.batches.length} batches, want 2`);
const schema = show.columns.map((c) => `${c.name}:${c.dtype}`).join(' ');
const wantSchema = 'b:bool i8:i8 i16:i16 i32:i32 i64:i64 u8:u8 u16:u16 u32:u32 u64:u64 f32:f32 f64:f64 s:str ts:ts tn:ts day:ts';
if (schema !== wantSchema) fail(`schema ${schema}, want ${wantSchema}`);
same('a/js', 'apache-arrow -> strata');

// Strata writes; apache-arrow reads the same values, types and nulls.
const out = `${work}/strata.arrow`;
must(run('export', 'a/js', '--out', out), 'export');
const t2 = A.tableFromIPC(readFileSync(out));
if (t2.numRows !== 2 * N || t2.batches.length !== 2) fail(`strata's file: ${t2.numRows} rows in ${t2.batches.length} batches`);
const types = t2.schema.fields.map((f) => `${f.name}:${f.type}`).join(' ');
const wantTypes = 'b:Bool i8:Int8 i16:Int16 i32:Int32 i64:Int64 u8:Uint8 u16:Uint16 u32:Uint32 u64:Uint64 f32:Float32 f64:Float64 s:LargeUtf8 ts:Timestamp<NANOSECOND, UTC> tn:Timestamp<NANOSECOND, UTC> day:Timestamp<NANOSECOND, UTC>';
if (types !== wantTypes) fail(`strata's file types: ${types}\n  want ${wantTypes}`);
for (let r = 0; r < 2 * N; r += 37) {
  const a = t2.get(r), b = back.get(r);
  for (const f of ['b', 'i8', 'i16', 'i32', 'u8', 'u16', 'u32', 'f32', 'f64', 's']) {
    if (a[f] !== b[f]) { fail(`strata's file row ${r} ${f}: ${a[f]} want ${b[f]}`); break; }
  }
  for (const f of ['i64', 'u64']) {
    if ((a[f] === null) !== (b[f] === null) || (a[f] !== null && BigInt(a[f]) !== BigInt(b[f]))) fail(`strata's file row ${r} ${f}: ${a[f]} want ${b[f]}`);
  }
  for (const f of ['ts', 'tn', 'day'])
    if ((a[f] === null) !== (b[f] === null) || (a[f] !== null && toNs(a[f]) !== toNs(b[f]))) fail(`row ${r} ${f}: ${a[f]} want ${b[f]}`);
}
// and Strata reads its own file back to the same data
must(run('ingest', 'a/back', out, '--quiet'), 'ingest strata\'s file');
same('a/back', 'strata -> arrow -> strata');

// A dictionary-encoded string column (apache-arrow's default for strings) is decoded.
{
  const words = Array.from({ length: 50 }, (_, i) => (i % 7 === 3 ? null : ['north', 'south', 'é'][i % 3]));
  const dt = new A.Table({ d: A.vectorFromArray(words, new A.Dictionary(new A.Utf8(), new A.Int32())) });
  writeFileSync(`${work}/dict.arrow`, A.tableToIPC(dt, 'file'));
  must(run('ingest', 'a/dict', `${work}/dict.arrow`, '--quiet'), 'ingest a dictionary');
  const got = run('cat', 'a/dict', '--format', 'ndjson').stdout.trim().split('\n').map((l) => JSON.parse(l).d);
  if (JSON.stringify(got) !== JSON.stringify(words)) fail(`dictionary column: ${JSON.stringify(got.slice(0, 8))}`);
}

// Refused: a truncated file, a type Strata does not read; nothing published.
const good = readFileSync(file);
writeFileSync(`${work}/cut.arrow`, good.subarray(0, good.length - 40));
const dec = new A.Table({ x: A.vectorFromArray([[1, 2], [3]], new A.List(new A.Field('item', new A.Int32()))) });
writeFileSync(`${work}/list.arrow`, A.tableToIPC(dec, 'file'));
for (const [f, msg] of [['cut.arrow', 'cut.arrow'], ['list.arrow', "column 'x'"]]) {
  const r = run('ingest', `bad/${f.split('.')[0]}`, `${work}/${f}`);
  if (r.status !== 3 || !r.stderr.includes(msg)) fail(`${f}: exit ${r.status}: ${r.stderr} (want 3 and '${msg}')`);
  if (run('ls', 'bad').stdout.includes(f.split('.')[0])) fail(`${f}: something was published`);
}
if (run('export', 'a/js', '--out', `${work}/no/dir/x.arrow`).status === 0) fail('export into a missing directory succeeded');
if (existsSync(`${work}/no`)) fail('a failed export left something behind');
console.log(fails ? `${fails} checks failed` : 'arrow_peer: all checks passed');
process.exit(fails ? 1 : 0);
