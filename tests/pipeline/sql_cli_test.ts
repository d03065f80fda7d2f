import assert from "node:assert/strict";
import { join } from "node:path";
import { sqlMain } from "../../pipeline/sql_cli.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { formatCsv, formatTable } from "../../pipeline/table_format.ts";

/** A temp results dir with a few metrics and one run. */
async function fixture(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const store = await ResultsStore.open(dir);
  await store.upsertRun({
    runId: "r1",
    experiment: "exp",
    label: "lr=0.1",
    params: { lr: 0.1 },
    seed: 1,
    status: "done",
    startedAt: new Date("2025-01-01T00:00:00Z"),
  });
  await store.appendMetrics([
    { runId: "r1", step: 0, stage: "train", name: "loss", value: 2.5 },
    { runId: "r1", step: 1, stage: "train", name: "loss", value: 1.123456 },
    { runId: "r1", step: null, stage: "eval", name: "acc", value: 0.75 },
  ]);
  await store.close();
  return dir;
}

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await sqlMain(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("sql: table, csv and json output", async () => {
  const dir = await fixture();
  try {
    const q = "SELECT name, step, value FROM metrics ORDER BY stage DESC, step";
    const t = await run(["--results", dir, q]);
    assert.equal(t.code, 0, t.err);
    assert.equal(
      t.out,
      [
        "| name | step |  value |",
        "|------|-----:|-------:|",
        "| loss |    0 | 2.5000 |",
        "| loss |    1 | 1.1235 |",
        "| acc  |      | 0.7500 |",
        "(3 rows)",
      ].join("\n"),
    );
    const c = await run(["--results", dir, "--csv", q]);
    assert.equal(
      c.out,
      "name,step,value\nloss,0,2.5\nloss,1,1.123456\nacc,,0.75",
    );
    const j = await run([`--results=${dir}`, "--json", q + " LIMIT 1"]);
    assert.deepEqual(JSON.parse(j.out), [{
      name: "loss",
      step: 0,
      value: 2.5,
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sql: a multi-statement file prints each result set", async () => {
  const dir = await fixture();
  try {
    const file = join(dir, "q.sql");
    await Deno.writeTextFile(
      file,
      `-- a comment; with a semicolon
       SET threads = 1;
       SELECT 'a;b' AS s;
       CREATE TEMP VIEW v AS SELECT count(*) AS n FROM metrics;
       SELECT n FROM v;  -- trailing comment`,
    );
    const r = await run(["--results", dir, "--csv", file]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "s\na;b\n\nn\n3");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sql: errors are one line with exit code 2", async () => {
  const dir = await fixture();
  try {
    const syntax = await run(["--results", dir, "SELEC 1"]);
    assert.equal(syntax.code, 2);
    assert.equal(syntax.out, "");
    assert.equal(
      syntax.err,
      'error: Parser Error: syntax error at or near "SELEC"',
    );
    const missing = await run(["--results", join(dir, "nope"), "SELECT 1"]);
    assert.equal(missing.code, 2);
    assert.equal(
      missing.err,
      `error: no results database at ${join(dir, "nope", "runs.duckdb")}; run an experiment first`,
    );
    assert.equal(
      (await run(["--results", dir, "x.sql"])).err,
      "error: no such SQL file: x.sql",
    );
    assert.equal((await run(["--results", dir])).code, 2);
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, /^usage: deno task sql/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sql: a database held by a writer gives a clear error", async () => {
  const dir = await fixture();
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `
      import { ResultsStore } from "${new URL(
        "../../pipeline/store.ts",
        import.meta.url,
      )}";
      const s = await ResultsStore.open(${JSON.stringify(dir)});
      console.log("open");
      await new Promise((r) => setTimeout(r, 60000));`,
    ],
    stdout: "piped",
  }).spawn();
  try {
    const reader = writer.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    assert.equal((await reader.read()).value?.trim(), "open");
    reader.releaseLock();
    const r = await run(["--results", dir, "SELECT 1"]);
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      `error: ${
        join(dir, "runs.duckdb")
      } is being written by a running experiment (PID ${writer.pid}); query it when the run finishes`,
    );
  } finally {
    writer.kill("SIGKILL");
    await writer.status;
    await writer.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatTable: truncation, NULL, nested values; csv quoting", () => {
  const long = "x".repeat(70);
  const t = formatTable(["a", "b"], [[long, null], ["l\nm", [1, { k: "v" }]]]);
  const lines = t.split("\n");
  assert.equal(lines[0], `| a${" ".repeat(59)} | b${" ".repeat(12)} |`);
  assert.equal(lines[2], `| ${"x".repeat(59)}… | ${" ".repeat(13)} |`);
  assert.equal(lines[3], `| l⏎m${" ".repeat(57)} | [1,{"k":"v"}] |`);
  assert.equal(
    formatCsv(["a", "b"], [['say "hi", ok', null], ["x\ny", 1]]),
    'a,b\n"say ""hi"", ok",\n"x\ny",1',
  );
});
