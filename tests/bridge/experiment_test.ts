/** experiments/real_rollouts.yaml end to end on the fixture, and its SQL summary. */
import assert from "node:assert/strict";
import { loadExperimentFile } from "../../pipeline/config.ts";
import { execute, type ExecuteOptions } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { sqlMain } from "../../pipeline/sql_cli.ts";
import { registry } from "../../stages/mod.ts";
import { runLab } from "./helpers.ts";

const YAML = new URL("../../experiments/real_rollouts.yaml", import.meta.url).pathname;
const SQL = new URL("../../experiments/sql/real_rollouts.sql", import.meta.url).pathname;

async function run(dir: string, sets: string[] = []) {
  const plan = await loadExperimentFile(YAML, registry, sets);
  const store = await ResultsStore.open(dir);
  try {
    return await execute(plan.points, {
      resultsDir: dir,
      registry,
      reporter: new SilentReporter(),
      sink: store,
      jobs: 1,
      registryModule: new URL("../../stages/mod.ts", import.meta.url).href,
    });
  } finally {
    await store.close();
  }
}

Deno.test("real_rollouts.yaml: three readers agree, HICRA favours planning tokens, SQL prints", async () => {
  const dir = Deno.makeTempDirSync();
  const summary = await run(dir);
  assert.deepEqual(summary.runs.map((r) => r.status), ["done"]);
  const store = await ResultsStore.open(dir);
  const q = async (sql: string) => (await store.query(sql)).rows;
  try {
    const per = await q(
      `SELECT step, stage, value FROM metrics WHERE name = 'pass@1' ORDER BY step, stage`,
    );
    assert.equal(per.length, 12);
    for (let s = 0; s < 4; s++) {
      const v = per.filter((r) => Number(r[0]) === s).map((r) => Number(r[2]));
      assert.equal(new Set(v).size, 1, `step ${s}: pass@1 differs across readers: ${v}`);
    }
    // Fixture: pass@1 rises with the step (the generator's first-choice accuracy does).
    const p1 = per.filter((r) => r[1] === "rollouts").map((r) => Number(r[2]));
    assert.ok(p1[3] > p1[0], `${p1}`);
    const adv = await q(
      `SELECT stage, avg(value) FROM metrics WHERE name = 'adv/planning_mean' GROUP BY stage`,
    );
    const m = new Map(adv.map((r) => [r[0], Number(r[1])]));
    assert.ok(m.get("credit-hicra")! > m.get("credit-grpo")!);
    const tokens = await q(`SELECT count(*), count(*) FILTER (WHERE planning) FROM real_tokens`);
    assert.ok(Number(tokens[0][1]) > 0 && Number(tokens[0][1]) < Number(tokens[0][0]));
    const ent = await q(
      `SELECT count(*) FROM metrics WHERE name LIKE 'perplexity/%' AND stage = 'planning'`,
    );
    assert.equal(Number(ent[0][0]), 8);
  } finally {
    await store.close();
  }
  const out: string[] = [], err: string[] = [];
  const code = await sqlMain(["--results", dir, SQL], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  assert.equal(code, 0, err.join("\n"));
  const printed = out.join("\n");
  assert.equal(printed.match(/^\| /gm)!.length >= 3 * 3, true, printed);
  assert.ok(!/\(0 rows\)/.test(printed), printed);
  // A rerun is all cache hits.
  const again = await run(dir);
  assert.equal(again.computed, 0, "a rerun recomputed something");
  assert.equal(again.cached, again.instances);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("real_rollouts.yaml with more loop steps than the dump fails with a clear message", async () => {
  const dir = Deno.makeTempDirSync();
  const summary = await run(dir, ["loop.steps=5"]);
  assert.equal(summary.runs[0].status, "failed");
  assert.match(
    String(summary.runs[0].error),
    /hicra\.jsonl: has 4 steps \(0, 1, 2, 3\); loop step 4 has none: set loop\.steps to at most 4/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("read-rollouts: the dump's bytes are in the key, its path is relative to the experiment", async () => {
  const root = Deno.makeTempDirSync();
  Deno.mkdirSync(`${root}/exp/dumps`, { recursive: true });
  const src = new URL("../fixtures/rollouts/hicra.jsonl", import.meta.url).pathname;
  const rows = Deno.readTextFileSync(src).split("\n").filter((l) => l.startsWith('{"step":0,'));
  Deno.writeTextFileSync(`${root}/exp/dumps/r.jsonl`, rows.join("\n") + "\n");
  const yaml = `${root}/exp/x.yaml`;
  Deno.writeTextFileSync(
    yaml,
    `name: x
loop:
  steps: 1
  stages:
    rollouts: { kind: read-rollouts, with: { format: hicra, path: dumps/r.jsonl, k: [1] } }
`,
  );
  const results = `${root}/results`;
  const go = (extra: Partial<ExecuteOptions> = {}) => runLab(yaml, results, extra);
  const metric = (s: Awaited<ReturnType<typeof go>>) => {
    const key = s.details[0].key!;
    const m = JSON.parse(
      Deno.readTextFileSync(`${results}/cache/entries/${key.slice(0, 2)}/${key}/metrics.json`),
    ) as { name: string; value: number }[];
    return m.find((x) => x.name === "reward/mean")!.value;
  };
  const cwd = Deno.cwd();
  let first;
  try {
    Deno.chdir(root); // not the repo, not the experiment's folder
    first = await go();
  } finally {
    Deno.chdir(cwd);
  }
  assert.equal(first.computed, 1);
  // Rewritten in place with every reward 0: a miss naming the file, and the new bytes are read.
  Deno.writeTextFileSync(
    `${root}/exp/dumps/r.jsonl`,
    rows.map((l) => l.replace(/"reward":[-0-9.e]+/, '"reward":0')).join("\n") + "\n",
  );
  const dry = await go({ dryRun: true, explain: true });
  assert.match(dry.details[0].why![0], /^file dumps\/r\.jsonl changed/);
  const second = await go();
  assert.equal(second.computed, 1);
  assert.ok(metric(first) > 0);
  assert.equal(metric(second), 0);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("real_rollouts.yaml plans from any working directory (its paths are relative to it)", async () => {
  const results = Deno.makeTempDirSync();
  const cwd = Deno.cwd();
  let s;
  try {
    Deno.chdir(results);
    s = await execute((await loadExperimentFile(YAML, registry)).points, {
      resultsDir: results,
      registry,
      reporter: new SilentReporter(),
      dryRun: true,
    });
  } finally {
    Deno.chdir(cwd);
  }
  assert.equal(s.details.filter((d) => d.status === "miss").length, 3 * 4); // the three readers
  Deno.removeSync(results, { recursive: true });
});
