// The DuckDB peer test of the Parquet codec (src/format), both ways:
//   1. DuckDB writes Parquet files (each codec, dictionary on and off, page v1 and v2, nulls,
//      INTEGER/BIGINT/DOUBLE/FLOAT/BOOLEAN/VARCHAR/TIMESTAMP) and reads them back in a canonical
//      text; pq_dump reads them with our reader; the two texts must be equal.
//   2. pq_dump --write writes a file with each codec; DuckDB reads it; DuckDB's text and our
//      reader's must be equal, and the statistics DuckDB reads from its footer must be right.
// Usage: node tests/format/duckdb_parquet.mjs PQ_DUMP [WORKDIR]
//   PQ_DUMP: build/tests/pq_dump. DuckDB's Node package comes from bench/node (bench/lib.sh
//   installs it) or DUCKDB_NODE_API (the path of its lib/index.js).
// Exit status: 0 when every case matches; 1 when one differs or fails; 77 (skipped) without
// DuckDB. Cases our reader refuses
// (exit 3 of pq_dump: an encoding we do not implement) are reported as "refused" and do not fail.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const api = process.env.DUCKDB_NODE_API ||
  resolve(here, '../../bench/node/node_modules/@duckdb/node-api/lib/index.js');
let DuckDBInstance;
try {
  ({ DuckDBInstance } = await import(api));
} catch (e) {
  // In CI the peer must be there (scripts/deps.sh installs it): a missing peer is a failure.
  console.log(`duckdb_parquet: DuckDB's Node package is not at ${api}; run scripts/deps.sh`);
  process.exit(process.env.CI ? 1 : 77);
}
const pqDump = process.argv[2];
const work = process.argv[3] || '/tmp/strata-duckdb-parquet';
if (!pqDump) {
  console.error('usage: node duckdb_parquet.mjs PQ_DUMP [WORKDIR]');
  process.exit(2);
}
mkdirSync(work, { recursive: true });

const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();

const N = 5000;
await con.run(`CREATE TABLE t AS SELECT
    CASE WHEN range % 5 = 0 THEN NULL ELSE (range * 7919 % 2003 - 1000)::INTEGER END AS i32,
    (range * 1000000007)::BIGINT AS i64,
    CASE WHEN range % 4 = 1 THEN NULL ELSE range / 3.0 END::DOUBLE AS f64,
    (range / 4.0)::FLOAT AS f32,
    CASE WHEN range % 7 = 0 THEN NULL ELSE range % 3 = 0 END AS b,
    CASE WHEN range % 11 = 0 THEN NULL ELSE 's' || (range % 50)::VARCHAR END AS s,
    CASE WHEN range % 13 = 0 THEN NULL
         ELSE TIMESTAMP '2020-01-01' + to_seconds(range::BIGINT) END AS ts,
    (range % 10)::INTEGER AS k32,
    CASE WHEN range % 9 = 0 THEN NULL ELSE (range % 7) * 1000000000000 END::BIGINT AS k64,
    ((range % 6) / 2.0)::DOUBLE AS kf64,
    ('prefix_shared_' || (range // 3)::VARCHAR) AS sp,
    -range::BIGINT * 3 AS neg
  FROM range(${N})`);

// The canonical text of a Parquet file as DuckDB reads it (pq_dump's format).
function f32hex(x) {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x, true);
  return b.getUint32(0, true).toString(16).padStart(8, '0');
}
function f64hex(x) {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x, true);
  return b.getBigUint64(0, true).toString(16).padStart(16, '0');
}
async function duckText(file) {
  const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRows();
  const exprs = desc.map(([name, type]) =>
    type.startsWith('TIMESTAMP') ? `epoch_us("${name}") AS "${name}"` : `"${name}"`);
  const types = desc.map(([, type]) => type);
  const rows = (await con.runAndReadAll(
    `SELECT ${exprs.join(', ')} FROM read_parquet('${file}')`)).getRows();
  return rows.map((r) => r.map((v, k) => {
    if (v === null) return 'N';
    switch (types[k]) {
      case 'BOOLEAN': return v ? '1' : '0';
      case 'FLOAT': return f32hex(v);
      case 'DOUBLE': return f64hex(v);
      case 'VARCHAR': return Buffer.from(v, 'utf8').toString('hex');
      default: return String(v);
    }
  }).join('\t')).join('\n') + (rows.length ? '\n' : '');
}

function ourText(file) {
  try {
    return { text: execFileSync(pqDump, [file], { encoding: 'utf8', maxBuffer: 1 << 28,
                                                 stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    return { status: e.status, err: String(e.stderr).trim() };
  }
}

let failures = 0;
function report(name, ours, theirs) {
  if (ours.text === undefined) {
    const refused = ours.status === 3;
    if (!refused) failures++;
    console.log(`${refused ? 'refused' : 'FAIL'}  ${name}: ${ours.err}`);
    return;
  }
  if (ours.text === theirs) {
    console.log(`ok       ${name} (${theirs.split('\n').length - 1} rows)`);
    return;
  }
  failures++;
  const a = ours.text.split('\n'), b = theirs.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  console.log(`FAIL     ${name}: row ${i} differs:\n  ours:   ${a[i]}\n  duckdb: ${b[i]}`);
}

// 1. DuckDB writes, we read.
const codecs = ['uncompressed', 'snappy', 'gzip', 'zstd'];
for (const version of ['v1', 'v2']) {
  for (const codec of codecs) {
    for (const dict of [true, false]) {
      const name = `duckdb_${version}_${codec}_${dict ? 'dict' : 'plain'}`;
      const file = `${work}/${name}.parquet`;
      // DICTIONARY_SIZE_LIMIT 0 leaves every column PLAIN
      const opts = [`FORMAT parquet`, `COMPRESSION ${codec}`, `ROW_GROUP_SIZE 2048`,
                    `PARQUET_VERSION ${version}`];
      if (!dict) opts.push('DICTIONARY_SIZE_LIMIT 0');
      try {
        await con.run(`COPY t TO '${file}' (${opts.join(', ')})`);
      } catch (e) {
        console.log(`skip     ${name}: DuckDB cannot write it (${e.message.split('\n')[0]})`);
        continue;
      }
      report(name, ourText(file), await duckText(file));
    }
  }
}

// 2. We write, DuckDB reads.
for (const codec of codecs.flatMap((c) => [c, `${c}+dict`])) {
  const name = `strata_${codec.replace('+', '_')}`;
  const file = `${work}/${name}.parquet`;
  try {
    execFileSync(pqDump, ['--write', file, codec], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    failures++;
    console.log(`FAIL     ${name}: pq_dump --write: ${String(e.stderr).trim()}`);
    continue;
  }
  let theirs;
  try {
    theirs = await duckText(file);
  } catch (e) {
    failures++;
    console.log(`FAIL     ${name}: DuckDB cannot read it: ${e.message.split('\n')[0]}`);
    continue;
  }
  report(name, ourText(file), theirs);
  // the statistics we wrote, as DuckDB reads them: each of our two row groups holds the same rows
  const meta = (await con.runAndReadAll(`SELECT path_in_schema, stats_min_value, stats_max_value,
      stats_null_count FROM parquet_metadata('${file}') WHERE row_group_id = 0`)).getRows();
  for (const [col, lo, hi, nulls] of meta) {
    const [want] = (await con.runAndReadAll(`SELECT min("${col}")::VARCHAR, max("${col}")::VARCHAR,
        (count(*) - count("${col}")) // 2 FROM read_parquet('${file}')`)).getRows();
    const numeric = ['i32', 'i64', 's'].includes(col);
    if (Number(nulls) !== Number(want[2]) || (numeric && (lo !== want[0] || hi !== want[1]))) {
      failures++;
      console.log(`FAIL     ${name}: statistics of ${col}: min ${lo} max ${hi} nulls ${nulls}, ` +
                  `expected ${want[0]} ${want[1]} ${want[2]}`);
    }
  }
}
writeFileSync(`${work}/done`, failures ? 'FAIL\n' : 'ok\n');
console.log(failures ? `duckdb_parquet: ${failures} failure(s)` : 'duckdb_parquet: all cases agree');
process.exit(failures ? 1 : 0);
