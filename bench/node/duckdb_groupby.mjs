// DuckDB's GROUP BY on the rows Strata groups, loaded once into an in-memory table (the load is
// not timed): the taxi trips (a CSV read COPIES times) or the H2O-style columns (a Parquet file),
// with the thread count given. Each query runs as CREATE TABLE AS (the groups materialised, as
// Strata writes them); prints "duckdb_groupby_s NAME SECONDS" per query, best of REPS.
//
// With DUCKDB_FILE=PATH as well, the rows are also stored in a DuckDB database file at PATH
// (checkpointed), and each query is timed again as Strata's `update --full` runs, reading its rows
// from storage: on a new instance of the file each time (its buffers empty, the file's pages in
// the OS cache as the pool's are), the groups written to the file's table and committed; the
// instance's open and close not timed. Prints "duckdb_groupby_db_s NAME SECONDS GROUPS", best of
// REPS.
//     node duckdb_groupby.mjs FILE COPIES THREADS REPS NAME=SQL...   (SQL reads table t)
import { DuckDBInstance } from '@duckdb/node-api';

const [file, copies, threads, reps] = [process.argv[2], Number(process.argv[3]), process.argv[4], Number(process.argv[5])];
const queries = process.argv.slice(6).map((q) => [q.slice(0, q.indexOf('=')), q.slice(q.indexOf('=') + 1)]);
const db = process.env.DUCKDB_FILE;
const quote = (p) => `'${p.replaceAll("'", "''")}'`; // (an SQL string literal)
const inst = await DuckDBInstance.create(':memory:', { threads });
const con = await inst.connect();
const src = `${file.endsWith('.parquet') ? 'read_parquet' : 'read_csv'}(${quote(file)})`;
await con.run(`CREATE TABLE t AS SELECT * FROM ${src}`);
for (let c = 1; c < copies; c++) await con.run(`INSERT INTO t SELECT * FROM ${src}`);
console.log(`duckdb_rows ${Number((await con.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0])}`);
for (const [name, sql] of queries) {
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await con.run(`CREATE OR REPLACE TABLE g AS ${sql}`);
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  const groups = Number((await con.runAndReadAll('SELECT count(*) FROM g')).getRows()[0][0]);
  console.log(`duckdb_groupby_s ${name} ${t.toFixed(6)} ${groups}`);
}
if (db) {
  await con.run(`ATTACH ${quote(db)} AS f`);
  await con.run('CREATE OR REPLACE TABLE f.t AS SELECT * FROM t');
  await con.run('DETACH f');
  con.closeSync();
  inst.closeSync();
  for (const [name, sql] of queries) {
    let t = Infinity, groups = 0;
    for (let r = 0; r < reps; r++) {
      const fi = await DuckDBInstance.create(db, { threads });
      const fc = await fi.connect();
      const t0 = performance.now();
      await fc.run(`CREATE OR REPLACE TABLE g AS ${sql}`);
      t = Math.min(t, (performance.now() - t0) / 1000);
      if (r === reps - 1)
        groups = Number((await fc.runAndReadAll('SELECT count(*) FROM g')).getRows()[0][0]);
      fc.closeSync();
      fi.closeSync();
    }
    console.log(`duckdb_groupby_db_s ${name} ${t.toFixed(6)} ${groups}`);
  }
}
