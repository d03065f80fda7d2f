/**
 * `export` (issue 15): tables, views and queries of a real toy run's database
 * go to Parquet and CSV through DuckDB COPY, and read back (with DuckDB's own
 * readers) to the same rows; bad input is one `error:` line.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { exportMain } from "../../cli/export.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { toyResults } from "./helpers.ts";

/** A results directory with two toy runs (seeds 3 and 4). */
async function readBack(sql: string): Promise<unknown[][]> {
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowsJson() as unknown[][];
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

async function expected(dir: string, sql: string): Promise<unknown[][]> {
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    return (await store.query(sql)).rows;
  } finally {
    await store.close();
  }
}

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const error = console.error;
  console.error = (s: string) => void err.push(s);
  try {
    return {
      code: await exportMain(args, (s) => void out.push(s)),
      out: out.join("\n"),
      err: err.join("\n"),
    };
  } finally {
    console.error = error;
  }
}

Deno.test("export --table to parquet and csv reads back to the same rows", async () => {
  const dir = await toyResults(["seed=3,4"]);
  const order = "ORDER BY run_id, stage, step, name";
  const want = await expected(dir, `SELECT run_id, step, stage, name, value FROM metrics ${order}`);
  assert.ok(want.length >= 20);
  const pq = `${dir}/out/metrics.parquet`;
  const r = await run(["--results", dir, "--table", "metrics", "--out", pq]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${pq}: ${want.length} rows (parquet)`);
  const got = await readBack(
    `SELECT run_id, step, stage, name, value FROM read_parquet('${pq}') ${order}`,
  );
  assert.deepEqual(got, want);
  const types = await readBack(
    `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '${pq}')`,
  );
  assert.deepEqual(Object.fromEntries(types as [string, string][]).value, "DOUBLE");

  const csv = `${dir}/metrics.csv`;
  assert.equal(
    (await run(["--results", dir, "--format", "csv", "--table", "metrics", "--out", csv])).code,
    0,
  );
  assert.equal(Deno.readTextFileSync(csv).split("\n")[0], "run_id,step,stage,name,value");
  const gotCsv = await readBack(
    `SELECT run_id, step::INTEGER, stage, name, value FROM read_csv('${csv}') ${order}`,
  );
  assert.deepEqual(gotCsv, want);
});

Deno.test("export --query and --file write a query's result", async () => {
  const dir = await toyResults(["seed=3,4"]);
  const sql =
    "SELECT r.seed::INTEGER AS seed, max(m.value) AS best FROM metrics m JOIN runs r USING (run_id) " +
    "WHERE m.stage = 'final' GROUP BY 1 ORDER BY 1";
  const want = await expected(dir, sql);
  assert.equal(want.length, 2);
  const pq = `${dir}/q.parquet`;
  assert.equal((await run(["--results", dir, "--query", sql, "--out", pq])).code, 0);
  assert.deepEqual(await readBack(`SELECT * FROM '${pq}'`), want);
  Deno.writeTextFileSync(`${dir}/q.sql`, `-- best value per seed\n${sql};\n`);
  const csv = `${dir}/q.csv`;
  const r = await run([
    "--results",
    dir,
    "--format",
    "csv",
    "--file",
    `${dir}/q.sql`,
    "--out",
    csv,
  ]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(
    await readBack(`SELECT seed::INTEGER, best FROM read_csv('${csv}') ORDER BY 1`),
    want,
  );
});

Deno.test("export: bad input is one error line with exit code 2", async () => {
  const dir = await toyResults(["seed=3,4"]);
  const cases: [string[], RegExp][] = [
    [
      ["--table", "metric", "--out", "x.parquet"],
      /no such table or view; did you mean "metrics"\?/,
    ],
    [["--table", "metrics", "--query", "select 1", "--out", "x"], /exactly one of --table/],
    [["--table", "metrics"], /--out PATH is required/],
    [
      ["--format", "xlsx", "--table", "metrics", "--out", "x"],
      /--format xlsx: expected parquet or csv/,
    ],
    [["--query", "select nope from metrics", "--out", `${dir}/x.csv`], /nope/],
  ];
  for (const [args, re] of cases) {
    const r = await run(["--results", dir, ...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.err.split("\n").length, 1, r.err);
    assert.match(r.err, /^error: /);
    assert.match(r.err, re);
  }
  const help = await run(["--help"]);
  for (const o of ["--format", "--table", "--query", "--file", "--out", "--results"]) {
    assert.ok(help.out.includes(o), o);
  }
});
