/**
 * Paired comparisons on a real DuckDB results store: pairing by seed, the
 * numbers against the pure `stats/` functions, Holm, the verdicts, the
 * `comparisons` table, the `compare` command, the `compare:` block of the
 * experiment file (with FILE:LINE:COL errors) and the comparison that `run`
 * prints after its summary.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  aggregateSteps,
  compareMetric,
  conditionOf,
  formatComparison,
  matchBaseline,
  NEEDS_PAIRS,
  runComparison,
  type RunValue,
  writeComparisons,
} from "../../pipeline/compare.ts";
import { compareCli } from "../../pipeline/compare_cli.ts";
import { ConfigError, loadExperimentText, type SweepPlan } from "../../pipeline/config.ts";
import { UserError } from "../../pipeline/errors.ts";
import { runCli } from "../../pipeline/run_cli.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import {
  bootstrapCI,
  holm,
  minimumDetectableEffect,
  pairedT,
  signFlipTest,
} from "../../stats/mod.ts";
import { registry } from "../fixtures/toy_stages.ts";

function near(actual: number | null, expected: number, tol = 1e-12, what = ""): void {
  assert.ok(actual !== null, `${what} is null`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual}`);
}

/** 3 conditions × 6 seeds; the stage `final-eval` records the metrics. */
const YAML = `name: cmp
stages:
  final-eval:
    kind: source
  train:
    kind: source
compare:
  metric: { stage: final-eval, name: pass@1/id }
  baseline: grpo
  aggregate: last
  alpha: 0.05
  secondary: [ { stage: final-eval, name: pass@1/ood } ]
sweep:
  ablation:
    conditions:
      grpo: {}
      hicra: { final-eval.base: 2 }
      placebo: { final-eval.base: 3 }
  seeds: [0, 1, 2, 3, 4, 5]
`;

const SEEDS = [0, 1, 2, 3, 4, 5];
/** Baseline, a clear improvement, and noise around zero. */
const GRPO = SEEDS.map((s) => 0.4 + 0.02 * s);
const HICRA = GRPO.map((v, i) => v + 0.1 + [0.01, -0.02, 0.015, 0, -0.005, 0.02][i]);
const PLACEBO = GRPO.map((v, i) => v + [0.03, -0.04, 0.01, -0.02, 0.05, -0.01][i]);
const OOD = { grpo: 0.2, hicra: 0.25, placebo: 0.19 };

/** Writes cmp.yaml and a results store with its runs and synthetic metrics into `dir`. */
async function seedStore(dir: string): Promise<SweepPlan> {
  const plan = loadExperimentText(YAML, join(dir, "cmp.yaml"), registry);
  await Deno.writeTextFile(join(dir, "cmp.yaml"), YAML);
  const store = await ResultsStore.open(dir);
  try {
    const metrics = [];
    for (const p of plan.points) {
      const condition = conditionOf(p.label, "cmp").replace("condition=", "");
      const seed = p.experiment.seed;
      await store.upsertRun({
        runId: p.runId,
        experiment: "cmp",
        label: p.label,
        params: {},
        seed,
        status: "done",
        startedAt: new Date(0),
      });
      const id = { grpo: GRPO, hicra: HICRA, placebo: PLACEBO }[condition]![seed];
      metrics.push(
        { runId: p.runId, step: null, stage: "final-eval", name: "pass@1/id", value: id },
        {
          runId: p.runId,
          step: null,
          stage: "final-eval",
          name: "pass@1/ood",
          value: OOD[condition as keyof typeof OOD] + 0.01 * seed,
        },
        // A per-step metric: value 10·step + seed, steps 0..4.
        ...[0, 1, 2, 3, 4].map((step) => ({
          runId: p.runId,
          step,
          stage: "train",
          name: "loss",
          value: 10 * step + seed,
        })),
      );
    }
    // Runs that must not take part: failed, another experiment, not in the plan.
    const extra = [
      { runId: "failed1", experiment: "cmp", label: "condition=hicra seed=0", status: "failed" },
      { runId: "other1", experiment: "other", label: "condition=hicra seed=0", status: "done" },
      { runId: "stale1", experiment: "cmp", label: "condition=hicra seed=1", status: "done" },
    ];
    for (const r of extra) {
      const seed = Number(r.label.split("seed=")[1]);
      await store.upsertRun({ ...r, params: {}, seed, startedAt: new Date(0) });
      metrics.push({
        runId: r.runId,
        step: null,
        stage: "final-eval",
        name: "pass@1/id",
        value: 99,
      });
    }
    await store.appendMetrics(metrics);
    return plan;
  } finally {
    await store.close();
  }
}

/** Runs `fn` on a seeded store in a temp dir (removed afterwards). */
async function withStore(fn: (store: ResultsStore, dir: string, plan: SweepPlan) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const plan = await seedStore(dir);
    const store = await ResultsStore.open(dir);
    try {
      await fn(store, dir, plan);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("conditionOf / matchBaseline / aggregateSteps", () => {
  assert.equal(conditionOf("condition=grpo seed=3", "x"), "condition=grpo");
  assert.equal(conditionOf("a.b=1 seed=0 c=2", "x"), "a.b=1 c=2");
  assert.equal(conditionOf("seed=4", "exp"), "exp");
  const conds = ["assign-credit.estimator=grpo", "assign-credit.estimator=hicra"];
  assert.equal(matchBaseline(conds, "grpo"), "assign-credit.estimator=grpo");
  assert.equal(
    matchBaseline(conds, "assign-credit.estimator=hicra"),
    "assign-credit.estimator=hicra",
  );
  assert.equal(matchBaseline(["condition=grpo", "grpo"], "grpo"), "grpo");
  assert.throws(() => matchBaseline(["a=1 b=grpo"], "grpo"), UserError);
  assert.throws(() => matchBaseline(["a=grpo", "b=grpo"], "grpo"), /several conditions/);
  assert.throws(() => matchBaseline(conds, "ppo"), /matches none of the conditions/);
  const rows = [{ step: 0, value: 1 }, { step: 2, value: 5 }, { step: 1, value: 3 }];
  assert.equal(aggregateSteps(rows, "last"), 5);
  assert.equal(aggregateSteps(rows, "mean"), 3);
  assert.equal(aggregateSteps([{ step: null, value: 7 }], "last"), 7);
});

Deno.test("runComparison pairs by seed and matches the pure statistics", () =>
  withStore(async (store, _dir, plan) => {
    const report = await runComparison(store, {
      experiment: "cmp",
      spec: plan.compare!,
      points: plan.points,
    });
    assert.equal(report.baseline, "condition=grpo");
    const rows = report.primary.rows;
    assert.deepEqual(rows.map((r) => r.condition), ["condition=hicra", "condition=placebo"]);
    const diffs = [HICRA, PLACEBO].map((c) => c.map((v, i) => v - GRPO[i]));
    const adjusted = holm(diffs.map((d) => pairedT(d).p));
    rows.forEach((r, k) => {
      const d = diffs[k];
      const t = pairedT(d);
      assert.equal(r.n, 6);
      assert.deepEqual(r.seeds, SEEDS);
      near(r.meanBaseline, GRPO.reduce((a, b) => a + b) / 6, 1e-12, "mean baseline");
      near(r.meanCondition! - r.meanBaseline!, r.diff!, 1e-12, "diff = difference of means");
      near(r.diff, t.mean, 1e-12, "diff");
      near(r.ciLo, t.lo, 1e-12, "ci lo");
      near(r.ciHi, t.hi, 1e-12, "ci hi");
      near(r.pT, t.p, 1e-15, "p_t");
      assert.equal(r.pPerm, signFlipTest(d).p);
      const boot = bootstrapCI(d, { samples: 10000, seed: 0 });
      assert.equal(r.bootLo, boot.lo);
      assert.equal(r.bootHi, boot.hi);
      near(r.pHolm, adjusted[k], 1e-15, "p_holm");
      near(r.mde, minimumDetectableEffect(t.sd, 6, { alpha: 0.05, power: 0.8 }), 1e-12, "mde");
    });
    // hicra: all six differences positive, exact sign-flip p = 2/64.
    assert.equal(rows[0].pPerm, 2 / 64);
    assert.equal(rows[0].significant, true);
    assert.match(rows[0].verdict, /^significant \(Holm p (< 0\.0001|= 0\.\d+)\)$/);
    assert.equal(rows[1].significant, false);
    assert.ok(rows[1].pHolm! > 0.05);
    assert.match(
      rows[1].verdict,
      /^not significant at this power; smallest detectable effect = 0\.0\d+$/,
    );
    // Holm: the larger raw p gets at least its own value, the smaller twice its own.
    near(rows[0].pHolm, Math.min(1, 2 * rows[0].pT!), 1e-15);

    const [ood] = report.secondary;
    assert.equal(ood.primary, false);
    assert.deepEqual(ood.rows.map((r) => [r.condition, r.n, r.pT, r.pHolm, r.significant]), [
      ["condition=hicra", 6, null, null, null],
      ["condition=placebo", 6, null, null, null],
    ]);
    near(ood.rows[0].diff, 0.05, 1e-12, "ood diff");
    const text = formatComparison(report);
    assert.match(
      text,
      /comparison of cmp: final-eval pass@1\/id \(value at the last step\) vs condition=grpo/,
    );
    assert.match(text, /Holm over 2 conditions at α = 0.05/);
    assert.match(text, /secondary \(descriptive, no test\): final-eval pass@1\/ood/);
    assert.match(text, /\| condition=hicra +\| +6 \|/);
  }));

Deno.test("runComparison: mean over steps, and every done run without the plan", () =>
  withStore(async (store, _dir, plan) => {
    const spec = {
      ...plan.compare!,
      metric: { stage: "train", name: "loss" },
      aggregate: "mean" as const,
      secondary: [],
    };
    const report = await runComparison(store, { experiment: "cmp", spec, points: plan.points });
    // Every run's mean over steps is 20 + seed: identical across conditions.
    for (const r of report.primary.rows) {
      assert.equal(r.meanCondition, 20 + 2.5);
      assert.equal(r.diff, 0);
      assert.equal(r.pT, 1);
      assert.equal(r.pPerm, 1);
    }
    // Without points, the stale done run of seed 1 joins condition=hicra.
    const all = await runComparison(store, { experiment: "cmp", spec: plan.compare! });
    const hicra = all.primary.rows.find((r) => r.condition === "condition=hicra")!;
    assert.ok(
      all.primary.notes.some((n) =>
        /condition=hicra: 2 runs with seed 1; their mean is used/.test(n)
      ),
      all.primary.notes.join("\n"),
    );
    assert.notEqual(hicra.diff, null);
  }));

Deno.test("compareMetric: fewer than 2 pairs print the means and need more seeds", () => {
  const metric = { stage: "s", name: "m" };
  const values: RunValue[] = [
    { runId: "a", condition: "base", seed: 0, value: 1 },
    { runId: "b", condition: "base", seed: 1, value: 3 },
    { runId: "c", condition: "x", seed: 0, value: 2 },
    { runId: "d", condition: "y", seed: 7, value: 5 },
  ];
  const r = compareMetric(values, {
    metric,
    aggregate: "last",
    baseline: "base",
    alpha: 0.05,
    primary: true,
    conditions: ["base", "z", "x", "y"],
  });
  assert.deepEqual(r.rows.map((x) => [x.condition, x.n, x.meanCondition, x.meanBaseline, x.diff]), [
    ["z", 0, null, 2, null],
    ["x", 1, 2, 1, 1],
    ["y", 0, 5, 2, null],
  ]);
  assert.equal(r.rows[0].verdict, "no done run with this metric");
  assert.equal(r.rows[1].verdict, NEEDS_PAIRS);
  assert.equal(r.rows[1].pT, null);
  assert.ok(r.notes.some((n) => n.includes("y: seed 7 without a baseline run")));
  const text = formatComparison({
    experiment: "e",
    baseline: "base",
    alpha: 0.05,
    primary: r,
    secondary: [],
  });
  assert.ok(text.includes("needs ≥ 2 paired seeds"), text);
});

Deno.test("writeComparisons fills the comparisons table and replaces earlier rows", () =>
  withStore(async (store, _dir, plan) => {
    const q = { experiment: "cmp", spec: plan.compare!, points: plan.points };
    const report = await runComparison(store, q);
    await writeComparisons(store, report);
    await writeComparisons(store, report);
    const r = await store.query(
      `SELECT metric, condition, baseline, n, diff, p_t, p_holm, significant, stage, role
       FROM comparisons WHERE experiment = 'cmp' ORDER BY role, metric, condition`,
    );
    assert.equal(r.rows.length, 4);
    const [hicra] = report.primary.rows;
    assert.deepEqual(r.rows[0].slice(0, 4), ["pass@1/id", "condition=hicra", "condition=grpo", 6]);
    near(r.rows[0][4] as number, hicra.diff!, 1e-15);
    near(r.rows[0][5] as number, hicra.pT!, 1e-15);
    assert.deepEqual(r.rows[0].slice(7), [true, "final-eval", "primary"]);
    assert.deepEqual(r.rows[2].slice(5), [null, null, null, "final-eval", "secondary"]);
    const cols = await store.query("SELECT * FROM comparisons LIMIT 0");
    assert.deepEqual(cols.columns.slice(0, 17), [
      "experiment",
      "metric",
      "condition",
      "baseline",
      "n",
      "mean_condition",
      "mean_baseline",
      "diff",
      "ci_lo",
      "ci_hi",
      "p_t",
      "p_perm",
      "boot_lo",
      "boot_hi",
      "p_holm",
      "mde",
      "significant",
    ]);
  }));

/** Runs the compare command, capturing its output. */
async function compareOut(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await compareCli(args, {
    registry,
    io: { out: (t) => out.push(t), err: (t) => err.push(t) },
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("compare command: table, CSV, help and user errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await seedStore(dir);
    const file = join(dir, "cmp.yaml");
    let r = await compareOut([file, "--results", dir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /condition=placebo .*not significant at this power/);
    r = await compareOut([file, "--results", dir, "--csv"]);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith("experiment,metric,condition,baseline,n,mean_condition"));
    assert.equal(r.out.split("\n").length, 5);
    r = await compareOut(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /Usage: deno task compare FILE\.yaml/);
    r = await compareOut([join(dir, "missing.yaml"), "--results", dir]);
    assert.equal(r.code, 2);
    assert.match(r.err, /missing\.yaml:1:1: Cannot read experiment file: file not found/);
    r = await compareOut([file, "--results", join(dir, "nowhere")]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: no results database at/);
    r = await compareOut([file, "--results", dir, "--set", "train.base=5"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: no done runs of experiment "cmp" for this file's points/);
    await Deno.writeTextFile(join(dir, "plain.yaml"), "name: p\nstages: { a: { kind: source } }\n");
    r = await compareOut([join(dir, "plain.yaml"), "--results", dir]);
    assert.equal(r.code, 2);
    assert.match(r.err, /has no compare: block/);
    r = await compareOut([file, "--bogus"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error: Unknown option '--bogus'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Loads YAML and returns the ConfigError (fails if none). */
function configProblems(text: string): string {
  try {
    loadExperimentText(text, "bad.yaml", registry);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("compare: block is parsed with defaults", () => {
  const plan = loadExperimentText(
    "name: x\nstages: { ev: { kind: source } }\n" +
      "compare: { metric: { stage: ev, name: m }, baseline: 0.1, aggregate: mean }\n",
    "x.yaml",
    registry,
  );
  assert.deepEqual(plan.compare, {
    metric: { stage: "ev", name: "m" },
    baseline: "0.1",
    aggregate: "mean",
    alpha: 0.05,
    secondary: [],
  });
  assert.equal(loadExperimentText(YAML.split("compare:")[0], "x.yaml", registry).compare, null);
});

Deno.test("a bad compare: block gives FILE:LINE:COL errors", () => {
  const head = "name: x\nstages:\n  final-eval: { kind: source }\n";
  assert.equal(
    configProblems(
      head + "compare:\n  metric: { stage: final-evl, name: pass@1/id }\n  baseline: grpo\n" +
        "  aggregate: lats\n  alpha: 2\n  secondary: { stage: final-eval }\n  power: 0.9\n",
    ),
    [
      'bad.yaml:5:20: compare.metric.stage: no stage named "final-evl"; did you mean "final-eval"? (stages: final-eval)',
      'bad.yaml:7:14: compare.aggregate: expected "last" or "mean", got "lats"; did you mean "last"?',
      "bad.yaml:8:10: compare.alpha: expected a number between 0 and 1 (e.g. 0.05), got 2",
      "bad.yaml:9:14: compare.secondary: expected a list of { stage: STAGE, name: METRIC }, got a map",
      'bad.yaml:10:3: compare: unknown key "power"; expected one of metric, baseline, aggregate, alpha, secondary',
    ].join("\n"),
  );
  assert.equal(
    configProblems(head + "compare:\n  metric: { stage: final-eval }\n"),
    [
      'bad.yaml:4:1: compare: missing required key "baseline" (the condition the others are compared with)',
      'bad.yaml:4:1: compare: missing required key "aggregate" (last (the value at the last step recorded) or mean (the mean over steps))',
      'bad.yaml:5:11: compare.metric: missing required key "name" (the metric name, e.g. "pass@1/id")',
    ].join("\n"),
  );
  assert.match(
    configProblems(head + "compare: grpo\n"),
    /^bad\.yaml:4:10: compare: expected a map/,
  );
});

Deno.test("run prints the comparison after the summary and writes the comparisons table", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "run.yaml");
  // source with mode seeded records value = base + seed % 7: hicra is +1 at every seed.
  await Deno.writeTextFile(
    file,
    `name: toy-cmp
stages:
  ev: { kind: source, with: { mode: seeded } }
compare: { metric: { stage: ev, name: value }, baseline: grpo, aggregate: last }
sweep:
  ablation:
    conditions: { grpo: {}, hicra: { ev.base: 2 } }
  seeds: [0, 1, 2]
`,
  );
  const printed: string[] = [];
  const log = console.log;
  console.log = (text: string) => printed.push(text);
  try {
    const code = await runCli([file, "--results", dir, "--jobs", "1", "--quiet"], {
      registry,
      registryModule: "unused",
    });
    assert.equal(code, 0);
  } finally {
    console.log = log;
  }
  try {
    const text = printed.join("\n");
    assert.match(
      text,
      /comparison of toy-cmp: ev value \(value at the last step\) vs condition=grpo/,
    );
    assert.match(
      text,
      /\| condition=hicra \| +3 \| +3\.0000 \| +2\.0000 \| 1\.0000 \[1\.0000, 1\.0000\] \| < 0\.0001 \| +0\.2500 \|/,
    );
    assert.match(text, /significant \(Holm p < 0\.0001\)/);
    assert.ok(text.indexOf("points: 6 done") < text.indexOf("comparison of toy-cmp"));
    assert.match(text, /note: condition=hicra: the difference is the same at every seed \(sd 0\)/);
    assert.match(
      text,
      /note: with 3 pairs the sign-flip test cannot reach p ≤ 0.05 \(its smallest p is 2\/2\^3 = 0\.2500\)/,
    );
    const store = await ResultsStore.open(dir, { readOnly: true });
    try {
      const r = await store.query("SELECT condition, n, diff, p_perm FROM comparisons");
      assert.deepEqual(r.rows, [["condition=hicra", 3, 1, 0.25]]);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
