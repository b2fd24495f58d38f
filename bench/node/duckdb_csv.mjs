// DuckDB's CSV reader on the same file as strata ingest: read_csv into an in-memory table,
// with the thread count given. Prints "duckdb_csv_s SECONDS" (best of REPS) and the row count.
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads, reps] = [process.argv[2], process.argv[3] || '2', Number(process.argv[4] || 3)];
let best = Infinity, rows = 0;
for (let i = 0; i < reps; i++) {
  const inst = await DuckDBInstance.create(':memory:', { threads });
  const con = await inst.connect();
  const t0 = performance.now();
  await con.run(`CREATE TABLE t AS SELECT * FROM read_csv('${file}')`);
  const t = (performance.now() - t0) / 1000;
  best = Math.min(best, t);
  rows = Number((await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0]);
  con.closeSync?.();
}
console.log(`duckdb_csv_s ${best.toFixed(6)}`);
console.log(`duckdb_rows ${rows}`);
