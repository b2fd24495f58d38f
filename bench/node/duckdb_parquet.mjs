// DuckDB's Parquet reader and writer on the same files as strata's, with the thread count given:
//   read FILE THREADS REPS          CREATE TABLE t AS SELECT * FROM read_parquet(FILE)
//   write FILE OUT CODEC THREADS REPS  the table of FILE copied to OUT (COPY ... TO, CODEC)
//   make CSV OUT CODEC ROWGROUP      the CSV as a Parquet file (the input of both readers)
// Prints "duckdb_parquet_read_s SECONDS" / "duckdb_parquet_write_s SECONDS" (best of REPS).
import { DuckDBInstance } from '@duckdb/node-api';

const [mode, ...a] = process.argv.slice(2);
async function con(threads) {
  const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  return inst.connect();
}
if (mode === 'make') {
  const [csv, out, codec, rg] = a;
  const c = await con(2);
  await c.run(`COPY (SELECT * FROM read_csv('${csv}')) TO '${out}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE ${rg})`);
} else if (mode === 'read') {
  const [file, threads, reps] = a;
  let best = Infinity;
  for (let i = 0; i < Number(reps); i++) {
    const c = await con(threads);
    const t0 = performance.now();
    await c.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${file}')`);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  console.log(`duckdb_parquet_read_s ${best.toFixed(6)}`);
} else if (mode === 'write') {
  const [file, out, codec, threads, reps] = a;
  let best = Infinity;
  const c = await con(threads);
  await c.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${file}')`);
  for (let i = 0; i < Number(reps); i++) {
    const t0 = performance.now();
    await c.run(`COPY t TO '${out}' (FORMAT parquet, COMPRESSION ${codec})`);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  console.log(`duckdb_parquet_write_s ${best.toFixed(6)}`);
}
