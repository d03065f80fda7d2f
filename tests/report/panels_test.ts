/**
 * Unit tests of the report's figure logic: mean curves with clamped 95% CI
 * bands, paired per-step differences (a hand-computed case), the baseline
 * choice, the Fig. 3 grid whose rows share y ranges, and optional panels.
 */
import assert from "node:assert/strict";
import type { StepValue } from "../../report/data.ts";
import { stepKey } from "../../report/data.ts";
import { chooseBaseline, pairedDifferences, seedValues } from "../../report/paired.ts";
import {
  aggregateCurve,
  compareCharts,
  FRACTION,
  METRICS,
  PAIRED_PANELS,
  pairedCharts,
  resolveColumns,
  resolvePanels,
  TWO_PHASE_COLUMNS,
  twoPhaseFigure,
} from "../../report/panels.ts";
import { UserError } from "../../pipeline/errors.ts";

const PASS1 = { stage: "evaluate", name: "pass@1/id" };

/** A pass@1/id value of `method` / `seed` at `step` (run id: method + seed + `tag`). */
function v(method: string, seed: number, step: number, value: number, tag = ""): StepValue {
  return { method, runId: `${method}-${seed}${tag}`, seed, step, value, ...PASS1 };
}

/** Text of the tick labels of one axis of a chart. */
function ticks(svg: string, axis: "x" | "y"): string[] {
  return [...svg.matchAll(new RegExp(`<text data-tick="${axis}"[^>]*>([^<]*)</text>`, "g"))]
    .map((m) => m[1]);
}

const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-4, `${what}: ${a} vs ${b}`);

Deno.test("aggregateCurve: mean over seeds with a 95% t-CI band clamped to [0, 1]", () => {
  const values = [
    v("m", 0, 0, 0.9),
    v("m", 1, 0, 1),
    v("m", 2, 0, 1),
    v("m", 0, 1, 0.2),
    v("m", 1, 1, 0.4),
    // Two runs of seed 2 at step 1 (e.g. two experiments): averaged to one seed value, 0.3.
    v("m", 2, 1, 0.2, "a"),
    v("m", 2, 1, 0.4, "b"),
    v("other", 0, 0, 0),
  ];
  const c = aggregateCurve(values, "m", PASS1, FRACTION);
  assert.deepEqual(c.points.map((p) => p.x), [0, 1]);
  near(c.points[0].y, 29 / 30, "mean step 0");
  near(c.points[1].y, 0.3, "mean step 1");
  const b = c.band!;
  assert.equal(b[0].hi, 1, "CI clamped at 1");
  near(b[0].lo, 29 / 30 - 4.303 * Math.sqrt(1 / 300) / Math.sqrt(3), "lo step 0");
  near(b[1].lo, 0.3 - 4.303 * 0.1 / Math.sqrt(3), "lo step 1 (3 seeds, not 4 runs)");
  near(b[1].hi, 0.3 + 4.303 * 0.1 / Math.sqrt(3), "hi step 1");
  // Unclamped, the band leaves [0, 1].
  assert.ok(aggregateCurve(values, "m", PASS1).band![0].hi > 1);
  // One seed per step: no band.
  assert.equal(aggregateCurve([v("s", 0, 0, 0.5), v("s", 0, 1, 0.6)], "s", PASS1).band, undefined);
  near(seedValues(values, "m", PASS1).get(1)!.get(2)!, 0.3, "seed 2 at step 1");
});

Deno.test("pairedDifferences: per step, method − baseline matched by seed, with a t-CI", () => {
  const values = [
    // step 0: diffs 0.2, 0.1, 0.0
    v("hicra", 0, 0, 0.5),
    v("hicra", 1, 0, 0.6),
    v("hicra", 2, 0, 0.4),
    v("grpo", 0, 0, 0.3),
    v("grpo", 1, 0, 0.5),
    v("grpo", 2, 0, 0.4),
    // step 1: hicra lacks seed 2 → seeds 0, 1 only; diffs 0.2, 0.1
    v("hicra", 0, 1, 0.9),
    v("hicra", 1, 1, 1.0),
    v("grpo", 0, 1, 0.7),
    v("grpo", 1, 1, 0.9),
    v("grpo", 2, 1, 0.8),
    // step 2: diffs 1, 1, −0.9: the CI is clamped to [−1, 1]
    v("hicra", 0, 2, 1),
    v("hicra", 1, 2, 1),
    v("hicra", 2, 2, 0),
    v("grpo", 0, 2, 0),
    v("grpo", 1, 2, 0),
    v("grpo", 2, 2, 0.9),
    // step 3: grpo's seed 0 has two runs (0.2, 0.4 → 0.3); one pair: 0.5 − 0.3
    v("hicra", 0, 3, 0.5),
    v("grpo", 0, 3, 0.2, "a"),
    v("grpo", 0, 3, 0.4, "b"),
    // step 4: no baseline value → left out; other metrics and methods are ignored
    v("hicra", 0, 4, 0.5),
    { ...v("grpo", 0, 4, 0.1), name: "pass@1/ood" },
    v("placebo", 0, 0, 0.99),
  ];
  const d = pairedDifferences(values, "hicra", "grpo", PASS1, [-1, 1]);
  assert.deepEqual(d.map((s) => s.step), [0, 1, 2, 3]);
  assert.deepEqual(d.map((s) => s.n), [3, 2, 3, 1]);
  assert.deepEqual(d[1].seeds, [0, 1]);
  near(d[0].mean, 0.1, "mean 0");
  near(d[0].lo, 0.1 - 4.303 * 0.1 / Math.sqrt(3), "lo 0");
  near(d[0].hi, 0.1 + 4.303 * 0.1 / Math.sqrt(3), "hi 0");
  near(d[1].mean, 0.15, "mean 1");
  near(d[1].hi, 0.15 + 12.706 * Math.sqrt(0.005) / Math.sqrt(2), "hi 1");
  near(d[2].mean, 1.1 / 3, "mean 2");
  assert.equal(d[2].lo, -1);
  assert.equal(d[2].hi, 1);
  near(d[3].mean, 0.2, "mean 3");
  assert.equal(d[3].lo, d[3].mean);
  assert.equal(d[3].hi, d[3].mean);
  near(d[0].diffs[0], 0.2, "diff seed 0");
  // Unbounded by default.
  assert.ok(pairedDifferences(values, "hicra", "grpo", PASS1)[2].hi > 1);
});

Deno.test("chooseBaseline: --baseline NAME, else grpo, else the first method", () => {
  const methods = ["e=grpo", "e=hicra", "e=placebo"];
  assert.equal(chooseBaseline(methods), "e=grpo");
  assert.equal(chooseBaseline(methods, "hicra"), "e=hicra");
  assert.equal(chooseBaseline(methods, "e=placebo"), "e=placebo");
  assert.equal(
    chooseBaseline(["e=grpo loop.steps=5", "e=hicra loop.steps=5"]),
    "e=grpo loop.steps=5",
  );
  assert.equal(chooseBaseline(["b", "c"]), "b");
  assert.equal(chooseBaseline([]), null);
  assert.throws(() => chooseBaseline(methods, "ppo"), (e) => e instanceof UserError);
  // "grpo" must be the whole value: "e=grpo-x" is not "grpo".
  assert.throws(() => chooseBaseline(["e=grpo-x"], "grpo"), /no such method/);
});

Deno.test("two-phase figure: one row per method, rows share y ranges per column", () => {
  const key = (stage: string, name: string) => ({ stage, name });
  const values: StepValue[] = [];
  const add = (method: string, k: { stage: string; name: string }, ys: number[]) =>
    ys.forEach((value, step) => values.push({ method, runId: method, seed: 0, step, value, ...k }));
  add("grpo", key("evaluate", "pass@1/id"), [0.1, 0.2]);
  add("hicra", key("evaluate", "pass@1/id"), [0.6, 0.8]);
  add("grpo", key("evaluate", "rel_ppl/planning"), [1, 0.9]);
  add("hicra", key("evaluate", "rel_ppl/execution"), [1, 2.5]);
  add("grpo", key("evaluate", "semantic_entropy"), [1.2, 1.3]);
  add("hicra", key("evaluate", "semantic_entropy"), [0.2, 0.3]);
  add("hicra", key("evaluate", "exec/accuracy/id"), [0.3, 0.4]);
  const present = new Set(values.map(stepKey));
  const columns = resolveColumns(TWO_PHASE_COLUMNS, present);
  // exec/accuracy/id is present, strategy/first_correct/id is not.
  assert.deepEqual(
    columns.map((c) => c.slug),
    ["rel-ppl", "token-entropy", "semantic-entropy", "accuracy", "exec-accuracy"],
  );
  const names = new Map([["grpo", "grpo"], ["hicra", "hicra"]]);
  const rows = twoPhaseFigure(values, ["grpo", "hicra"], names, columns);
  assert.deepEqual(rows.map((r) => r.method), ["grpo", "hicra"]);
  for (const r of rows) assert.equal(r.charts.length, columns.length);
  for (const [ci, col] of columns.entries()) {
    const charts = rows.map((r) => r.charts[ci]);
    assert.match(charts[0], new RegExp(`data-plot="two-phase/grpo/${col.slug}"`));
    const drawn = charts.filter((c) => !c.includes('data-empty="true"'));
    // token entropy: no data in either row; exec accuracy: only hicra's.
    assert.equal(drawn.length, { "token-entropy": 0, "exec-accuracy": 1 }[col.slug] ?? 2);
    for (const c of drawn) {
      assert.ok(c.includes(`>${col.unit}</text>`), `${col.slug}: y-axis title ${col.unit}`);
      assert.deepEqual(ticks(c, "y"), ticks(drawn[0], "y"), `${col.slug}: rows share y`);
    }
  }
  const acc = ticks(rows[0].charts[3], "y").map(Number);
  assert.ok(acc[0] <= 0.1 && acc[acc.length - 1] >= 0.8, `accuracy range ${acc}`);
  const ppl = ticks(rows[0].charts[0], "y").map(Number);
  assert.ok(ppl[ppl.length - 1] >= 2.5, `rel-ppl range covers hicra: ${ppl}`);
  for (const c of rows.flatMap((r) => r.charts)) {
    assert.ok(ticks(c, "x").every((t) => Number.isInteger(Number(t))), "integer steps");
  }
});

Deno.test("paired and comparison charts: zero line, Δ axis titles, optional diversity", () => {
  const values = [
    v("grpo", 0, 0, 0.2),
    v("grpo", 1, 0, 0.3),
    v("hicra", 0, 0, 0.4),
    v("hicra", 1, 0, 0.4),
    v("grpo", 0, 1, 0.3),
    v("grpo", 1, 1, 0.3),
    v("hicra", 0, 1, 0.6),
    v("hicra", 1, 1, 0.5),
  ];
  const present = new Set(values.map(stepKey));
  const panels = resolvePanels(PAIRED_PANELS, present);
  assert.deepEqual(panels.map((p) => p.slug), ["pass1-id", "pass1-ood", "semantic-entropy"]);
  const withDiv = resolvePanels(PAIRED_PANELS, new Set([stepKey(METRICS.diversityTrain)]));
  assert.equal(withDiv[withDiv.length - 1], METRICS.diversityTrain);
  const names = new Map([["grpo", "grpo"], ["hicra", "hicra"]]);
  const colors = new Map([["grpo", "#111111"], ["hicra", "#222222"]]);
  const [chart] = pairedCharts(values, ["grpo", "hicra"], "grpo", names, colors, panels);
  assert.match(chart, /data-plot="paired\/pass1-id"/);
  assert.match(chart, /<line data-ref="0" /);
  assert.ok(chart.includes(">Δ pass@1 (fraction)</text>"));
  assert.ok(chart.includes('data-series="hicra"') && !chart.includes('data-series="grpo"'));
  assert.ok(chart.includes('data-band="hicra"'));
  const [cmp] = compareCharts(values, ["grpo", "hicra"], names, colors, [METRICS.pass1Id]);
  assert.ok(cmp.includes(">pass@1 (fraction)</text>"));
  assert.deepEqual(ticks(cmp, "x"), ["0", "1"]);
  const lone = pairedCharts(values, ["grpo"], "grpo", names, colors, panels);
  assert.match(lone[0], /data-empty="true"/);
});
