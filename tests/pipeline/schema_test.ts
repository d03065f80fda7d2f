/**
 * `sql --schema` (issue 15): the descriptions match real databases (a toy run
 * for the engine's tables and views, a one-step lab smoke run for the row
 * tables), the views answer the common joins, undocumented tables are listed,
 * and docs/results-schema.md is the command's output.
 */
import assert from "node:assert/strict";
import { LAB_TABLE_DOCS } from "../../cli/table_docs.ts";
import { formatSchema, liveSchema, schemaDocs, UNDOCUMENTED } from "../../pipeline/schema.ts";
import { sqlMain } from "../../pipeline/sql_cli.ts";
import { ResultsStore, STORE_DOCS } from "../../pipeline/store.ts";
import { toyResults } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function sql(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await sqlMain(args, { out: (t) => out.push(t), err: (t) => err.push(t) }, {
    tables: LAB_TABLE_DOCS,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("the store's descriptions are exactly its tables, views, columns and types", async () => {
  const dir = await toyResults();
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const live = await liveSchema(store);
    // Row tables (toy stages may write some) are the lab's to describe; views are the store's.
    assert.ok(live.filter((t) => t.view).every((t) => STORE_DOCS.some((d) => d.name === t.name)));
    const fixed = live.filter((t) => STORE_DOCS.some((d) => d.name === t.name)).map((t) => ({
      name: t.name,
      kind: t.view ? "view" : "table",
      columns: t.columns,
    })).sort((a, b) => a.name.localeCompare(b.name));
    const docs = STORE_DOCS.map((t) => ({
      name: t.name,
      kind: t.kind,
      columns: t.columns.map(({ name, type }) => ({ name, type })),
    })).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(fixed, docs);
    for (const t of STORE_DOCS) {
      assert.ok(t.doc.length > 10 && t.columns.every((c) => c.doc.length > 3), t.name);
    }
    // The views answer the joins they describe.
    const count = async (q: string) => Number((await store.query(q)).rows[0][0]);
    assert.equal(
      await count("SELECT count(*) FROM metric_curves"),
      await count("SELECT count(*) FROM metrics"),
    );
    assert.equal(
      await count("SELECT count(*) FROM metric_curves WHERE label IS NULL OR experiment <> 'toy'"),
      0,
    );
    const last = await store.query(
      "SELECT step, value FROM final_metrics WHERE stage = 'acc' AND name = 'value'",
    );
    assert.deepEqual(last.rows, [[5, 22]]);
    assert.equal(await count("SELECT count(*) FROM instance_times WHERE experiment = 'toy'"), 10);
  } finally {
    await store.close();
  }
  // A row table may not take a view's name.
  const w = await ResultsStore.open(dir);
  try {
    await assert.rejects(
      () =>
        w.appendRowFiles("metric_curves", [{
          file: "x",
          extra: { run_id: "r", step: null, stage: "s" },
        }]),
      /reserved/,
    );
  } finally {
    await w.close();
  }
});

Deno.test("sql --schema on a lab run: every column described, nothing left over; extras are listed", async () => {
  const dir = Deno.makeTempDirSync();
  const run = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}cli/run.ts`,
      `${ROOT}experiments/smoke.yaml`,
      "--results",
      dir,
      "--quiet",
      "--set",
      "runtime.backend=onnx",
      "--set",
      "loop.steps=1",
      "--set",
      "assign-credit.estimator=hicra",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
  const r = await sql(["--schema", "--results", dir]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, formatSchema(schemaDocs(LAB_TABLE_DOCS)));
  assert.ok(!r.out.includes(UNDOCUMENTED));
  // Every described row table was written, with exactly the described columns.
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const live = await liveSchema(store);
    for (const t of LAB_TABLE_DOCS) {
      const got = live.find((l) => l.name === t.name);
      assert.ok(got, `${t.name} was not written`);
      assert.deepEqual(got.columns.map((c) => c.name), t.columns.map((c) => c.name), t.name);
    }
  } finally {
    await store.close();
  }
  // A table nobody described shows up after the descriptions.
  const w = await ResultsStore.open(dir);
  await w.query("CREATE TABLE my_notes (run_id VARCHAR, note VARCHAR)");
  await w.close();
  const extra = await sql(["--schema", "--results", dir]);
  assert.match(
    extra.out,
    /\n\nAlso in .*runs\.duckdb, not described above:\n\nmy_notes \(table\): \(no description\)\n {2}run_id +VARCHAR +\(no description\)\n {2}note +VARCHAR +\(no description\)$/,
  );
});

Deno.test("sql --schema works without a database, and --help lists it", async () => {
  const r = await sql(["--schema", "--results", `${Deno.makeTempDirSync()}/none`]);
  assert.equal(r.code, 0);
  assert.equal(r.out, formatSchema(schemaDocs(LAB_TABLE_DOCS)));
  assert.match(r.out, /^runs \(table\): /);
  assert.match((await sql(["--help"])).out, /--schema/);
});

Deno.test("docs/results-schema.md holds the output of deno task sql --schema", () => {
  const page = Deno.readTextFileSync(`${ROOT}docs/results-schema.md`);
  const text = formatSchema(schemaDocs(LAB_TABLE_DOCS));
  assert.ok(
    page.includes("```text\n" + text + "\n```"),
    "docs/results-schema.md differs from `deno task sql --schema`; paste it again " +
      "(deno task sql --schema --results /tmp/none-schema)",
  );
  // The README links the page rather than holding a copy that could go stale.
  assert.ok(Deno.readTextFileSync(`${ROOT}README.md`).includes("docs/results-schema.md"));
});
