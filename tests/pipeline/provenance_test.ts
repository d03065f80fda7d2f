/**
 * Provenance: full resolved configs per run, labels of edited experiments,
 * run history (invocations), params a kind ignores (keyParams), point tags in
 * progress lines and the per-stage --explain summary.
 */
import assert from "node:assert/strict";
import { loadExperimentFile, loadExperimentText } from "../../pipeline/config.ts";
import { execute, type ExecuteOptions } from "../../pipeline/executor.ts";
import { summarizeExplain } from "../../pipeline/explain.ts";
import { ignoreParams } from "../../pipeline/key_params.ts";
import { buildPlan } from "../../pipeline/plan.ts";
import { PlainReporter, SilentReporter } from "../../pipeline/progress.ts";
import {
  configDiff,
  configHash,
  flattenConfig,
  pointTag,
  runConfig,
  variantLabel,
} from "../../pipeline/provenance.ts";
import { createRegistry } from "../../pipeline/registry.ts";
import { scopeToExperiment } from "../../pipeline/scope.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import type { StageKind } from "../../pipeline/types.ts";
import { registry as toy, source } from "../fixtures/toy_stages.ts";

const TOY = Deno.readTextFileSync(new URL("../fixtures/toy_loop.yaml", import.meta.url));

function opts(dir: string, sink: ResultsStore | null, extra: Partial<ExecuteOptions> = {}) {
  return { resultsDir: dir, registry: toy, reporter: new SilentReporter(), sink, ...extra };
}

Deno.test("flattenConfig / configDiff: stage params as STAGE.PARAM, other paths as written", () => {
  const a = {
    name: "x",
    seed: 1,
    loop: { steps: 3 },
    stages: { update: { kind: "update", params: { lr: 1, clip: [1, 2] } } },
  };
  const b = {
    name: "x",
    seed: 1,
    loop: { steps: 5 },
    stages: { update: { kind: "update", params: { lr: 3, clip: [1, 2] } } },
  };
  assert.deepEqual([...flattenConfig(a).keys()].sort(), [
    "loop.steps",
    "name",
    "seed",
    "update.clip",
    "update.kind",
    "update.lr",
  ]);
  assert.deepEqual(configDiff(a, b), [
    { path: "loop.steps", a: 3, b: 5 },
    { path: "update.lr", a: 1, b: 3 },
  ]);
  assert.equal(variantLabel("seed=0", a, b), "seed=0 [loop.steps=3 update.lr=1]");
  assert.equal(variantLabel("seed=0", a, a), "seed=0");
  const many = { ...b, seed: 2, name: "y" };
  assert.equal(variantLabel("", a, many), "[loop.steps=3 name=x seed=1 +1]");
});

Deno.test("pointTag: short point labels for progress lines", () => {
  assert.equal(pointTag("condition=hicra seed=3"), "hicra s3");
  assert.equal(pointTag("assign-credit.alpha=0.1 seed=0"), "alpha=0.1 s0");
  assert.equal(pointTag(""), "");
});

Deno.test("an edited YAML param gives a new run, labelled apart from the old one's; history is kept", async () => {
  const dir = Deno.makeTempDirSync();
  const store = await ResultsStore.open(dir);
  try {
    const old = loadExperimentText(TOY, "toy.yaml", toy);
    const s1 = await execute(old.points, opts(dir, store));
    assert.equal(s1.runs[0].status, "done");
    // The file edited (not --set): acc's delta 2 → 3.
    const edited = loadExperimentText(
      TOY.replace("with: { delta: 2 }", "with: { delta: 3 }"),
      "toy.yaml",
      toy,
    );
    assert.notEqual(edited.points[0].runId, old.points[0].runId);
    assert.equal(edited.points[0].label, old.points[0].label); // the sweep label alone is equal
    await execute(edited.points, opts(dir, store));
    const runs = await store.query(
      "SELECT run_id, label, config_hash, config FROM runs ORDER BY started_at",
    );
    assert.equal(runs.rows.length, 2);
    const [[oldId, oldLabel, oldHash, oldConfig], [newId, newLabel, newHash]] = runs.rows;
    assert.equal(oldId, old.points[0].runId);
    assert.equal(newId, edited.points[0].runId);
    assert.equal(oldLabel, "seed=3 [acc.delta=2]");
    assert.equal(newLabel, "seed=3");
    assert.equal(oldHash, configHash(runConfig(old.points[0].experiment)));
    assert.equal(String(oldHash).slice(0, 12), oldId); // the run id is the config hash's prefix
    assert.notEqual(oldHash, newHash);
    assert.deepEqual(
      (oldConfig as { stages: { acc: { params: { delta: number } } } }).stages.acc.params.delta,
      2,
    );

    // Rerun the old config: first start kept, a second invocation with 0 computed
    // after the first one's real count; its label is plain again, the edit's is marked.
    const firstStart = (await store.query(
      `SELECT started_at FROM runs WHERE run_id = '${oldId}'`,
    )).rows[0][0];
    await new Promise((r) => setTimeout(r, 5));
    await execute(old.points, opts(dir, store));
    const after = await store.query(
      `SELECT started_at, label FROM runs WHERE run_id = '${oldId}'`,
    );
    assert.deepEqual(after.rows[0], [firstStart, "seed=3"]);
    assert.equal(
      (await store.query(`SELECT label FROM runs WHERE run_id = '${newId}'`)).rows[0][0],
      "seed=3 [acc.delta=3]",
    );
    const inv = await store.query(
      `SELECT status, computed, cached FROM invocations WHERE run_id = '${oldId}'
       ORDER BY started_at`,
    );
    assert.deepEqual(inv.rows, [["done", s1.computed, 0], ["done", 0, s1.computed]]);

    // The summary scope of one invocation sees only its own points.
    const unscope = await scopeToExperiment(store, "toy", [newId as string]);
    try {
      const seen = await store.query("SELECT run_id FROM runs");
      assert.deepEqual(seen.rows, [[newId]]);
      const metrics = await store.query("SELECT DISTINCT run_id FROM metrics");
      assert.deepEqual(metrics.rows, [[newId]]);
    } finally {
      await unscope();
    }
  } finally {
    await store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

/** A kind whose `value` is param `a` or `b` as `which` says; it ignores the other. */
const pick: StageKind = {
  name: "pick",
  version: 1,
  doc: "Emits param a or b",
  params: {
    which: { type: "enum", values: ["a", "b"], default: "a", doc: "Which param to emit" },
    a: { type: "number", default: 1, doc: "Value a" },
    b: { type: "number", default: 2, doc: "Value b" },
  },
  inputs: {},
  keyParams(p) {
    return ignoreParams(pick.params, p, [p.which === "a" ? "b" : "a"]);
  },
  run(ctx) {
    const v = ctx.params[ctx.params.which as string] as number;
    Deno.writeTextFileSync(`${ctx.outDir}/value.json`, JSON.stringify({ value: v }));
    ctx.metric("value", v);
    return Promise.resolve();
  },
};
const PICK = `name: pick
stages:
  p:
    kind: pick
    seed: 0
    with: { which: a, a: 5 }
`;

Deno.test("keyParams: points that differ only in an ignored param share one instance", async () => {
  const registry = createRegistry([pick, source]);
  const dir = Deno.makeTempDirSync();
  try {
    const sweep = loadExperimentText(PICK, "pick.yaml", registry, ["p.b=7,8,9"]);
    assert.equal(sweep.points.length, 3);
    const plan = buildPlan(sweep.points, registry);
    assert.equal(plan.nodes.length, 1); // merged: b is ignored when which = a
    assert.equal(plan.nodes[0].params.b, 2); // ... and reset to its default
    const s = await execute(sweep.points, { ...opts(dir, null), registry });
    assert.equal(s.computed, 1);
    assert.ok(s.runs.every((r) => r.status === "done"));
    // The default-valued config keeps its key: normalisation only writes defaults.
    const plain = loadExperimentText(PICK, "pick.yaml", registry);
    const again = await execute(plain.points, { ...opts(dir, null), registry });
    assert.equal(again.cached, 1);
    // A param that matters still splits: which = b over two values of b.
    const b = loadExperimentText(PICK, "pick.yaml", registry, ["p.which=b", "p.b=7,8"]);
    assert.equal(buildPlan(b.points, registry).nodes.length, 2);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("assign-credit: grpo points that differ only in alpha share instances; hicra's do not", async () => {
  const { registry } = await import("../../stages/mod.ts");
  const smoke = new URL("../../experiments/smoke.yaml", import.meta.url).pathname;
  const credit = (sets: string[]) =>
    loadExperimentFile(smoke, registry, sets).then((s) =>
      buildPlan(s.points, registry).nodes.filter((n) => n.kind.name === "assign-credit")
    );
  const grpo = await credit(["assign-credit.estimator=grpo", "assign-credit.alpha=0.1,0.5"]);
  const hicra = await credit(["assign-credit.estimator=hicra", "assign-credit.alpha=0.1,0.5"]);
  // One instance per loop step for grpo (alpha ignored), two for hicra.
  assert.equal(hicra.length, 2 * grpo.length);
  assert.ok(grpo.every((n) => n.params.alpha === 0.2));
  // The defaults stay as they are (the main job's keys do not move).
  const plain = await credit(["assign-credit.estimator=grpo"]);
  assert.equal(plain.length, grpo.length);
  assert.deepEqual(plain[0].params, grpo[0].params);
});

Deno.test("progress lines name the point; --explain summarises per stage", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const lines: string[] = [];
    const sweep = loadExperimentText(TOY, "toy.yaml", toy, ["acc.delta=2,4"]);
    await execute(
      sweep.points,
      opts(dir, null, { reporter: new PlainReporter((l) => lines.push(l)) }),
    );
    assert.ok(lines.some((l) => /\] \[delta=4 s3\] acc@5 ran/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /\] \[all\] init ran/.test(l)), lines.join("\n"));
    const changed = loadExperimentText(TOY, "toy.yaml", toy, ["acc.delta=2,5"]);
    const dry = await execute(changed.points, opts(dir, null, { dryRun: true, explain: true }));
    assert.deepEqual(summarizeExplain(dry.details), [
      "init: 1 cached, 0 to run",
      "acc: 6 cached, 6 to run (params changed: delta ×1; after upstream ×5)",
      "final: 1 cached, 1 to run (after upstream)",
      "probe: 2 cached, 2 to run (after upstream)",
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("summarizeExplain groups reasons by kind, with counts where not every miss has them", () => {
  const miss = (stage: string, why: string[]) => ({ stage, status: "miss", why });
  assert.deepEqual(
    summarizeExplain([
      { stage: "update", status: "hit" },
      miss("update", ["params.lr: 0.1 → 0.2", "input policy changed (aa → bb)"]),
      miss("update", ["params.lr: 0.1 → 0.3", "params.clip: 1 → 2"]),
      miss("update", ["waits for sample@3, which will run"]),
      miss("sample", ["input policy changed (aa → bb)"]),
      { stage: "sample", status: "skipped" },
    ]),
    [
      "update: 1 cached, 3 to run (params changed: lr ×2, clip ×1; after upstream ×1)",
      "sample: 0 cached, 1 to run (input changed: policy)",
    ],
  );
});
