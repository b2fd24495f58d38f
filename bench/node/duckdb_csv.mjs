// DuckDB's CSV reader on the same file as strata ingest: read_csv into an in-memory table,
// with the thread count given. Prints "duckdb_csv_s SECONDS" (best of REPS) and the row count.
// With OUT, also its CSV writer: COPY of that table TO OUT with a header line, as strata export
// writes it ("duckdb_csvout_s SECONDS", best of REPS).
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads, reps, outFile] = [process.argv[2], process.argv[3] || '2', Number(process.argv[4] || 3), process.argv[5]];
let best = Infinity, bestOut = Infinity, rows = 0;
for (let i = 0; i < reps; i++) {
  const inst = await DuckDBInstance.create(':memory:', { threads });
  const con = await inst.connect();
  const t0 = performance.now();
  await con.run(`CREATE TABLE t AS SELECT * FROM read_csv('${file}')`);
  const t = (performance.now() - t0) / 1000;
  best = Math.min(best, t);
  rows = Number((await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0]);
  if (outFile) {
    const t1 = performance.now();
    await con.run(`COPY t TO '${outFile}' (HEADER)`);
    bestOut = Math.min(bestOut, (performance.now() - t1) / 1000);
  }
  con.closeSync?.();
}
console.log(`duckdb_csv_s ${best.toFixed(6)}`);
console.log(`duckdb_rows ${rows}`);
if (outFile) console.log(`duckdb_csvout_s ${bestOut.toFixed(6)}`);
