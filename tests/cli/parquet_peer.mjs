// Parquet in and out of datasets, against DuckDB (npm @duckdb/node-api):
//   1. DuckDB writes a table with every type Strata reads (nulls in each, several row groups)
//      with each codec; `strata ingest` reads it (one batch per row group); `strata export
//      --format csv` writes it out; DuckDB reads that CSV with the table's types and it must
//      equal the table row for row (EXCEPT ALL both ways, and the row count).
//   2. `strata export --format parquet` (each codec) writes it back; DuckDB reads Strata's file
//      and it must equal the table again, with the types and nullability kept.
//   3. Files Strata must refuse (DECIMAL, a nested LIST, a truncated file) fail naming the file,
//      the column and the feature or damage, and publish nothing.
// Usage: node tests/cli/parquet_peer.mjs STRATA WORKDIR. Exit 0 when all holds, 1 otherwise, 77
// (skipped) without DuckDB outside CI.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const api = process.env.DUCKDB_NODE_API ||
  resolve(here, '../../bench/node/node_modules/@duckdb/node-api/lib/index.js');
let DuckDBInstance;
try {
  ({ DuckDBInstance } = await import(api));
} catch (e) {
  console.log(`parquet_peer: DuckDB's Node package is not at ${api}; run scripts/deps.sh`);
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

const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const rows = async (sql) => (await (await con.run(sql)).getRows());
const N = 250000;
const TYPES = `b BOOLEAN, i8 TINYINT, i16 SMALLINT, i32 INTEGER, i64 BIGINT, u8 UTINYINT,
  u16 USMALLINT, u32 UINTEGER, u64 UBIGINT, f32 FLOAT, f64 DOUBLE, s VARCHAR, ts TIMESTAMP,
  tms TIMESTAMP_MS, tns TIMESTAMP_NS, d DATE`;
await con.run(`CREATE TABLE t (${TYPES})`);
await con.run(`INSERT INTO t SELECT
  CASE WHEN range % 7 = 0 THEN NULL ELSE range % 3 = 0 END,
  CASE WHEN range % 5 = 1 THEN NULL ELSE (range % 256 - 128)::TINYINT END,
  (range % 65536 - 32768)::SMALLINT,
  CASE WHEN range % 11 = 2 THEN NULL ELSE (range * 7919 % 2000003 - 1000000)::INTEGER END,
  (range * 1000000007 - 4000000000000)::BIGINT,
  (range % 256)::UTINYINT, (range % 65536)::USMALLINT, (range * 17)::UINTEGER,
  CASE WHEN range % 13 = 3 THEN NULL ELSE (range::UBIGINT * 73856093 + 9223372036854775808) END,
  CASE WHEN range % 17 = 4 THEN NULL WHEN range % 1000 = 5 THEN 'nan'::FLOAT ELSE (range / 8.0)::FLOAT END,
  CASE WHEN range % 19 = 5 THEN NULL WHEN range = 6 THEN -0.0 ELSE range / 3.0 END,
  CASE WHEN range % 23 = 6 THEN NULL WHEN range % 29 = 0 THEN '' ELSE 'zone ' || (range % 263)::VARCHAR || ', "q"' END,
  CASE WHEN range % 31 = 7 THEN NULL ELSE TIMESTAMP '2019-12-31 23:00:00' + to_microseconds(range * 1234567) END,
  TIMESTAMP_MS '2024-01-31 13:45:00' + to_milliseconds(range * 61),
  CASE WHEN range % 37 = 8 THEN NULL ELSE make_timestamp_ns(1700000000000000000 + range * 1000000001) END,
  DATE '1960-01-01' + (range % 40000)::INTEGER
  FROM range(${N})`);

// Compare table T with SQL source SRC: row counts and EXCEPT ALL both ways.
async function same(src, what, ref = 't') {
  const [[n]] = await rows(`SELECT count(*) FROM ${src}`);
  if (Number(n) !== N) return fail(`${what}: ${n} rows, want ${N}`);
  for (const [a, b] of [[ref, src], [src, ref]]) {
    const [[d]] = await rows(`SELECT count(*) FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b})`);
    if (Number(d) !== 0) {
      const ex = await rows(`SELECT * FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b}) LIMIT 2`);
      fail(`${what}: ${d} rows of ${a} are not in ${b}, e.g. ${JSON.stringify(ex, (k, v) => typeof v === 'bigint' ? v.toString() : v)}`);
    }
  }
}
// Strata's CSV as the table's types: ts printed as ISO 8601 in UTC ("...T...Z").
const tsOf = (c, ty) => `CAST(replace(replace(${c}, 'T', ' '), 'Z', '') AS ${ty})`;
const fromCsv = (f) => `(SELECT b, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, s,
  ${tsOf('ts', 'TIMESTAMP')}, ${tsOf('tms', 'TIMESTAMP_MS')}, ${tsOf('tns', 'TIMESTAMP_NS')},
  CAST(${tsOf('d', 'TIMESTAMP')} AS DATE)
  FROM read_csv('${f}', header = true, quote = '"', escape = '"', nullstr = '',
    allow_quoted_nulls = false, columns = {b: 'BOOLEAN', i8: 'TINYINT', i16: 'SMALLINT',
    i32: 'INTEGER', i64: 'BIGINT', u8: 'UTINYINT', u16: 'USMALLINT', u32: 'UINTEGER',
    u64: 'UBIGINT', f32: 'FLOAT', f64: 'DOUBLE', s: 'VARCHAR', ts: 'VARCHAR', tms: 'VARCHAR',
    tns: 'VARCHAR', d: 'VARCHAR'}))`;

for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd']) {
  const f = `${work}/duck_${codec}.parquet`;
  await con.run(`COPY t TO '${f}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 100000)`);
  const name = `in/${codec}`;
  if (must(run('ingest', name, f, '--quiet'), `ingest ${codec}`).status !== 0) continue;
  const show = JSON.parse(run('show', name, '--json').stdout);
  const [[rg]] = await rows(`SELECT count(DISTINCT row_group_id) FROM parquet_metadata('${f}')`);
  if (show.batches.length !== Number(rg)) fail(`${codec}: ${show.batches.length} batches for ${rg} row groups`);
  const dt = show.columns.map((c) => `${c.name}:${c.dtype}`).join(' ');
  const want = 'b:bool i8:i8 i16:i16 i32:i32 i64:i64 u8:u8 u16:u16 u32:u32 u64:u64 f32:f32 f64:f64 s:str ts:ts tms:ts tns:ts d:ts';
  if (dt !== want) fail(`${codec}: schema ${dt}, want ${want}`);
  const nulls = show.batches.reduce((a, b) => a + (b.nulls.i32 || 0), 0);
  const [[wantNulls]] = await rows(`SELECT count(*) - count(i32) FROM t`);
  if (nulls !== Number(wantNulls)) fail(`${codec}: ${nulls} nulls in i32, want ${wantNulls}`);
  const csv = `${work}/strata_${codec}.csv`;
  must(run('export', name, '--format', 'csv', '--out', csv), `export csv ${codec}`);
  await same(fromCsv(csv), `DuckDB ${codec} -> strata -> CSV`);
  const out = `${work}/strata_${codec}.parquet`;
  must(run('export', name, '--out', out, '--compression', codec === 'uncompressed' ? 'none' : codec), `export parquet ${codec}`);
  // Strata writes ts as TIMESTAMP(NANOS, UTC), which DuckDB reads as TIMESTAMPTZ (microseconds):
  // compared here to the microsecond; the round trip below checks the nanoseconds.
  const us = (src, d) => `(SELECT b, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, s,
    epoch_us(ts) AS ts, epoch_us(tms) AS tms, epoch_us(tns) AS tns, epoch_us(${d}) // 86400000000 AS d
    FROM ${src})`;
  await same(us(`'${out}'`, 'd'), `strata ${codec} -> DuckDB`, us('t', 'd::TIMESTAMP'));
  const back = `rt/${codec}`;
  must(run('ingest', back, out, '--quiet'), `ingest strata's ${codec}`);
  const a = run('cat', name), z = run('cat', back);
  if (a.stdout !== z.stdout || a.stdout.length < N) fail(`${codec}: strata -> parquet -> strata differs`);
  const meta = await rows(`SELECT DISTINCT compression FROM parquet_metadata('${out}')`);
  const wantCodec = codec.toUpperCase();
  if (meta.length !== 1 || meta[0][0] !== wantCodec) fail(`strata ${codec}: codecs ${meta}`);
  const st = await rows(`SELECT stats_min_value, stats_max_value, stats_null_count, row_group_num_rows
    FROM parquet_metadata('${out}') WHERE path_in_schema = 'i32' ORDER BY row_group_id LIMIT 1`);
  const [[mn, mx, nn]] = await rows(`SELECT min(i32)::VARCHAR, max(i32)::VARCHAR,
    (count(*) - count(i32)) FROM read_parquet('${out}', file_row_number = true)
    WHERE file_row_number < ${st[0][3]}`);
  if (st[0][0] !== mn || st[0][1] !== mx || Number(st[0][2]) !== Number(nn))
    fail(`strata ${codec}: i32 statistics ${st[0]} want ${[mn, mx, nn]}`);
}
// A column without nulls is REQUIRED in Strata's file; one with nulls OPTIONAL.
{
  const sch = await rows(`SELECT name, repetition_type FROM parquet_schema('${work}/strata_zstd.parquet') WHERE name IN ('i16', 'i32')`);
  const m = Object.fromEntries(sch);
  if (m.i16 !== 'REQUIRED' || m.i32 !== 'OPTIONAL') fail(`repetition: ${JSON.stringify(m)}`);
}

// Refused: a DECIMAL, a LIST, a truncated file; nothing published.
await con.run(`COPY (SELECT 1.5::DECIMAL(10,2) AS price, 1 AS id) TO '${work}/dec.parquet' (FORMAT parquet)`);
await con.run(`COPY (SELECT [1, 2] AS xs, 1 AS id) TO '${work}/list.parquet' (FORMAT parquet)`);
const good = readFileSync(`${work}/duck_zstd.parquet`);
writeFileSync(`${work}/cut.parquet`, good.subarray(0, good.length - 100));
for (const [file, want] of [['dec.parquet', "column 'price'"], ['list.parquet', "column 'xs': nested types"], ['cut.parquet', 'cut.parquet']]) {
  const r = run('ingest', `bad/${file.split('.')[0]}`, `${work}/${file}`);
  if (r.status !== 3 || !r.stderr.includes(want)) fail(`${file}: exit ${r.status} ${r.stderr} (want 3 and '${want}')`);
  const ls = run('ls', 'bad');
  if (ls.stdout.includes(file.split('.')[0])) fail(`${file}: something was published: ${ls.stdout}`);
}
// A failed export leaves nothing behind: a directory that cannot take the file.
{
  const r = run('export', 'in/zstd', '--out', `${work}/no/such/dir/x.parquet`);
  if (r.status === 0) fail('export into a missing directory succeeded');
}
console.log(fails ? `${fails} checks failed` : 'parquet_peer: all checks passed');
process.exit(fails ? 1 : 0);
