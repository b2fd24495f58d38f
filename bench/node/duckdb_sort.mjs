// DuckDB's ORDER BY on bench_ops's keys (an NPY file of i64), in one in-memory database with
// the thread count given: the sort (CREATE TABLE AS ... ORDER BY k) and the stable argsort (the
// row positions ORDER BY k, position). The load is not timed. Prints "key value" lines (best of
// REPS).
//     node duckdb_sort.mjs KEYS.npy [THREADS] [REPS]
import { readFileSync } from 'node:fs';
import { BIGINT, DuckDBDataChunk, DuckDBInstance } from '@duckdb/node-api';

const [file, threads, reps] = [process.argv[2], process.argv[3] || '2', Number(process.argv[4] || 3)];
const buf = readFileSync(file);
const hlen = buf.readUInt16LE(8); // NPY 1.0: magic (6), version (2), header length (2)
const start = 10 + hlen;
const n = (buf.length - start) / 8;
const keys = new BigInt64Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + start + n * 8));

const inst = await DuckDBInstance.create(':memory:', { threads });
const con = await inst.connect();
await con.run('CREATE TABLE t (i BIGINT, k BIGINT)');
const app = await con.createAppender('t');
const CH = 2048;
const chunk = DuckDBDataChunk.create([BIGINT, BIGINT], CH);
for (let at = 0; at < n; at += CH) {
  const m = Math.min(CH, n - at);
  const pos = new Array(m), vals = new Array(m);
  for (let x = 0; x < m; x++) { pos[x] = BigInt(at + x); vals[x] = keys[at + x]; }
  chunk.rowCount = m;
  chunk.setColumns([pos, vals]);
  app.appendDataChunk(chunk);
}
app.flushSync();
app.closeSync();

async function best(sql) {
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await con.run(sql);
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return t;
}
console.log(`duckdb_rows ${Number((await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0])}`);
console.log(`duckdb_sort_s ${(await best('CREATE OR REPLACE TABLE s AS SELECT k FROM t ORDER BY k')).toFixed(6)}`);
console.log(`duckdb_argsort_s ${(await best('CREATE OR REPLACE TABLE p AS SELECT i FROM t ORDER BY k, i')).toFixed(6)}`);
// the same check as bench_ops: every (n/1000+1)-th key of the sorted order, low 10 bits summed
const step = Math.floor(n / 1000) + 1;
const chk = await con.runAndReadAll(
  `SELECT sum(k & 1023) FROM (SELECT k, row_number() OVER (ORDER BY k, i) - 1 AS r FROM t) WHERE r % ${step} = 0`);
console.log(`duckdb_argsort_check ${chk.getRows()[0][0]}`);
