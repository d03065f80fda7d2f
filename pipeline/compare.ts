/**
 * Paired comparison of an experiment's conditions against a baseline, as
 * declared by the experiment's `compare:` block (see `config.ts`).
 *
 * A run's condition is its label without the `seed=N` part (as in
 * `experiments/sql/compare_methods.sql`); runs are paired by `runs.seed`.
 * Each run's metric is one number: the value at its last recorded step
 * (`aggregate: last`; stages outside the loop record one value) or the mean
 * over its recorded steps (`aggregate: mean`).
 *
 * For the primary metric and every non-baseline condition with n ≥ 2 pairs:
 * the mean difference (condition − baseline) with its 95% t interval, the
 * paired t p-value, the exact sign-flip permutation p-value (Monte Carlo
 * beyond 20 pairs), a 95% percentile bootstrap interval, and the Holm-adjusted
 * paired t p-value over the compared conditions. The verdict is "significant"
 * when the Holm p is ≤ alpha, else it states the minimum detectable effect at
 * power 0.8 from the observed spread of the differences. Secondary metrics
 * are descriptive: the paired difference and its 95% t interval, no test.
 *
 * Results go to the DuckDB table `comparisons` (one row per experiment, metric
 * and condition; see {@linkcode COMPARISON_COLUMNS}), replacing earlier rows
 * of the same experiment and metric.
 *
 * @module
 */
import {
  bootstrapCI,
  holm,
  mean,
  minimumDetectableEffect,
  pairedT,
  signFlipTest,
} from "../stats/mod.ts";
import type { CompareAggregate, CompareSpec, MetricRef } from "./config.ts";
import { UserError } from "./errors.ts";
import { type ResultsStore, sqlString } from "./store.ts";
import { formatCsv, formatNumber, formatTable } from "./table_format.ts";
import type { Json } from "./types.ts";

/** Power the minimum detectable effect is computed for. */
export const MDE_POWER = 0.8;
/** Bootstrap resamples and Monte Carlo sign vectors (seed 0: deterministic). */
export const RESAMPLES = 10000;
/** Largest number of pairs for which the sign-flip test enumerates all 2ⁿ sign vectors. */
export const MAX_EXACT = 20;
/** The verdict when a condition has fewer than 2 pairs. */
export const NEEDS_PAIRS = "needs ≥ 2 paired seeds";

/** Columns of the `comparisons` table, in order. */
export const COMPARISON_COLUMNS = [
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
  "stage",
  "aggregate",
  "role",
] as const;

const TABLE_SQL = `CREATE TABLE IF NOT EXISTS comparisons (
  experiment VARCHAR, metric VARCHAR, condition VARCHAR, baseline VARCHAR, n INTEGER,
  mean_condition DOUBLE, mean_baseline DOUBLE, diff DOUBLE, ci_lo DOUBLE, ci_hi DOUBLE,
  p_t DOUBLE, p_perm DOUBLE, boot_lo DOUBLE, boot_hi DOUBLE, p_holm DOUBLE, mde DOUBLE,
  significant BOOLEAN, stage VARCHAR, aggregate VARCHAR, role VARCHAR)`;

/** One run's value of a metric, with the condition and seed it belongs to. */
export interface RunValue {
  runId: string;
  condition: string;
  seed: number;
  value: number;
}

/** One non-baseline condition compared with the baseline on one metric. */
export interface ConditionComparison {
  condition: string;
  /** Number of seed pairs (seeds with a value in both conditions). */
  n: number;
  /** The paired seeds, ascending. */
  seeds: number[];
  /** Mean of the condition over the paired seeds (over all its runs when n = 0). */
  meanCondition: number | null;
  /** Mean of the baseline over the paired seeds (over all its runs when n = 0). */
  meanBaseline: number | null;
  /** Mean paired difference, condition − baseline (null when n = 0). */
  diff: number | null;
  /** 95% t interval of the mean difference (n ≥ 2). */
  ciLo: number | null;
  ciHi: number | null;
  /** Two-sided paired t p-value (primary metric, n ≥ 2). */
  pT: number | null;
  /** Two-sided sign-flip permutation p-value (primary metric, n ≥ 2). */
  pPerm: number | null;
  /** 95% percentile bootstrap interval of the mean difference (primary, n ≥ 2). */
  bootLo: number | null;
  bootHi: number | null;
  /** Holm-adjusted paired t p-value over the tested conditions. */
  pHolm: number | null;
  /** Minimum detectable effect at alpha and power 0.8 (primary, n ≥ 2). */
  mde: number | null;
  /** Holm p ≤ alpha (null when not tested). */
  significant: boolean | null;
  /** One-line reading of the row. */
  verdict: string;
}

/** All conditions compared on one metric. */
export interface MetricComparison {
  metric: MetricRef;
  aggregate: CompareAggregate;
  /** True for the tested primary metric, false for a descriptive secondary one. */
  primary: boolean;
  rows: ConditionComparison[];
  /** Remarks about the data (dropped seeds, missing values). */
  notes: string[];
}

/** The comparison of an experiment: the primary metric and the secondary ones. */
export interface ComparisonReport {
  experiment: string;
  /** The baseline condition as matched (e.g. "condition=grpo"). */
  baseline: string;
  alpha: number;
  primary: MetricComparison;
  secondary: MetricComparison[];
}

/** The condition of a run: its label without the `seed=…` part (the experiment name if empty). */
export function conditionOf(label: string, experiment: string): string {
  return label.replace(/(^|\s)seed=\S+/g, "").trim() || experiment;
}

/**
 * The condition `baseline` names: a condition equal to it, else the one
 * one-part condition (`key=value`, no spaces) whose value is `baseline`.
 * Throws a {@linkcode UserError} when none or several match.
 */
export function matchBaseline(conditions: readonly string[], baseline: string): string {
  const unique = [...new Set(conditions)];
  if (unique.includes(baseline)) return baseline;
  const byValue = unique.filter((c) =>
    !/\s/.test(c) && c.includes("=") && c.slice(c.indexOf("=") + 1) === baseline
  );
  if (byValue.length === 1) return byValue[0];
  const list = unique.map((c) => JSON.stringify(c)).join(", ") || "none";
  if (byValue.length > 1) {
    throw new UserError(
      `compare.baseline "${baseline}" matches several conditions (${
        byValue.join(", ")
      }); write the condition in full`,
    );
  }
  throw new UserError(
    `compare.baseline "${baseline}" matches none of the conditions (${list}); ` +
      "write a condition in full or the value of a one-part condition",
  );
}

/**
 * One number per run from its (step, value) rows: `last` takes the value at
 * the largest step (rows without a step, from stages outside the loop, count
 * only when no row has one; several rows at that step are averaged); `mean`
 * averages all rows (the area under the curve divided by the steps recorded).
 * NaN for no rows.
 */
export function aggregateSteps(
  rows: readonly { step: number | null; value: number }[],
  aggregate: CompareAggregate,
): number {
  if (aggregate === "mean") return mean(rows.map((r) => r.value));
  let last: number | null = null;
  for (const r of rows) if (r.step !== null && (last === null || r.step > last)) last = r.step;
  return mean(rows.filter((r) => r.step === last).map((r) => r.value));
}

/** Options of {@linkcode compareMetric}. */
export interface CompareMetricOptions {
  metric: MetricRef;
  aggregate: CompareAggregate;
  /** The baseline condition, as matched by {@linkcode matchBaseline}. */
  baseline: string;
  /** Family-wise level of the Holm procedure. */
  alpha: number;
  /** Test (primary metric) or only describe (secondary). */
  primary: boolean;
  /** Conditions in display order (others follow in order of appearance). */
  conditions?: readonly string[];
}

/**
 * Compares every non-baseline condition with the baseline on one metric,
 * pairing runs by seed (pure; see the module documentation for the numbers).
 */
export function compareMetric(
  values: readonly RunValue[],
  opts: CompareMetricOptions,
): MetricComparison {
  const notes: string[] = [];
  const bySeed = new Map<string, Map<number, number[]>>();
  for (const v of values) {
    if (!Number.isFinite(v.value)) continue;
    const seeds = bySeed.get(v.condition) ?? new Map<number, number[]>();
    bySeed.set(v.condition, seeds);
    seeds.set(v.seed, [...(seeds.get(v.seed) ?? []), v.value]);
  }
  const valueOf = (condition: string) => {
    const out = new Map<number, number>();
    for (const [seed, list] of bySeed.get(condition) ?? []) {
      if (list.length > 1) {
        notes.push(`${condition}: ${list.length} runs with seed ${seed}; their mean is used`);
      }
      out.set(seed, mean(list));
    }
    return out;
  };
  const base = valueOf(opts.baseline);
  const order = [...new Set([...(opts.conditions ?? []), ...values.map((v) => v.condition)])]
    .filter((c) => c !== opts.baseline);
  if (base.size === 0) {
    notes.push(`the baseline ${opts.baseline} has no done run with this metric`);
  }
  const rows: ConditionComparison[] = order.map((condition) => {
    const own = valueOf(condition);
    const seeds = [...own.keys()].filter((s) => base.has(s)).sort((a, b) => a - b);
    const unpaired = [...own.keys()].filter((s) => !base.has(s)).sort((a, b) => a - b);
    if (unpaired.length > 0 && base.size > 0) {
      notes.push(
        `${condition}: seed${unpaired.length > 1 ? "s" : ""} ${
          unpaired.join(", ")
        } without a baseline run, left out`,
      );
    }
    const x = seeds.map((s) => own.get(s)!);
    const y = seeds.map((s) => base.get(s)!);
    const d = seeds.map((_, i) => x[i] - y[i]);
    const n = seeds.length;
    const row: ConditionComparison = {
      condition,
      n,
      seeds,
      meanCondition: n > 0 ? mean(x) : own.size > 0 ? mean([...own.values()]) : null,
      meanBaseline: n > 0 ? mean(y) : base.size > 0 ? mean([...base.values()]) : null,
      diff: n > 0 ? mean(d) : null,
      ciLo: null,
      ciHi: null,
      pT: null,
      pPerm: null,
      bootLo: null,
      bootHi: null,
      pHolm: null,
      mde: null,
      significant: null,
      verdict: own.size === 0 ? "no done run with this metric" : NEEDS_PAIRS,
    };
    if (n < 2) return row;
    const scale = Math.max(...x.map(Math.abs), ...y.map(Math.abs));
    const t = pairedT(d, { scale });
    row.ciLo = t.lo;
    row.ciHi = t.hi;
    row.verdict = "descriptive (no test)";
    if (!opts.primary) return row;
    row.pT = t.p;
    row.pPerm = signFlipTest(d, { maxExact: MAX_EXACT, samples: RESAMPLES, seed: 0 }).p;
    const boot = bootstrapCI(d, { samples: RESAMPLES, seed: 0, level: 0.95 });
    row.bootLo = boot.lo;
    row.bootHi = boot.hi;
    row.mde = minimumDetectableEffect(t.sd, n, { alpha: opts.alpha, power: MDE_POWER });
    if (t.sd === 0 && t.mean !== 0) {
      notes.push(
        `${condition}: the difference is the same at every seed (sd 0), so the t test is degenerate; read the sign-flip p`,
      );
    }
    const smallest = 2 / 2 ** n;
    if (n <= MAX_EXACT && smallest > opts.alpha) {
      notes.push(
        `with ${n} pairs the sign-flip test cannot reach p ≤ ${opts.alpha} (its smallest p is 2/2^${n} = ${
          formatNumber(smallest, true)
        }); more seeds are needed`,
      );
    }
    return row;
  });
  if (opts.primary) {
    const tested = rows.filter((r) => r.pT !== null);
    const adjusted = holm(tested.map((r) => r.pT!));
    tested.forEach((r, i) => {
      r.pHolm = adjusted[i];
      r.significant = adjusted[i] <= opts.alpha;
      r.verdict = r.significant
        ? `significant (Holm p ${adjusted[i] < 1e-4 ? "" : "= "}${formatP(adjusted[i])})`
        : `not significant at this power; smallest detectable effect = ${
          formatNumber(r.mde!, true)
        }`;
    });
  }
  return { metric: opts.metric, aggregate: opts.aggregate, primary: opts.primary, rows, notes };
}

/** A p-value for text: 4 significant digits, "< 0.0001" below that. */
export function formatP(p: number): string {
  return p < 1e-4 ? "< 0.0001" : formatNumber(p, true);
}

/** What {@linkcode runComparison} compares. */
export interface ComparisonQuery {
  /** `runs.experiment` of the runs to compare. */
  experiment: string;
  spec: CompareSpec;
  /**
   * The plan's points: only these runs take part, and their labels give the
   * conditions (in this order) even when a condition has no done run.
   * Without it, every done run of the experiment takes part.
   */
  points?: readonly { runId: string; label: string }[];
}

/** SQL DOUBLE literal (NULL for null / NaN). */
function double(v: number | null): string {
  if (v === null || Number.isNaN(v)) return "NULL";
  if (!Number.isFinite(v)) return `'${v > 0 ? "Infinity" : "-Infinity"}'::DOUBLE`;
  return `${v}::DOUBLE`;
}

/** The done runs of the query: run id, condition and seed. */
async function doneRuns(
  store: ResultsStore,
  q: ComparisonQuery,
): Promise<{ runId: string; condition: string; seed: number }[]> {
  const ids = q.points?.map((p) => sqlString(p.runId));
  const res = await store.query(
    `SELECT run_id, label, seed FROM runs WHERE experiment = ${
      sqlString(q.experiment)
    } AND status = 'done'${
      ids ? ` AND run_id IN (${ids.length ? ids.join(", ") : "NULL"})` : ""
    } ORDER BY label, seed, run_id`,
  );
  return res.rows.map(([runId, label, seed]) => ({
    runId: String(runId),
    condition: conditionOf(String(label ?? ""), q.experiment),
    seed: Number(seed),
  }));
}

/** Per run, the metric aggregated over its steps (runs without the metric are left out). */
async function metricValues(
  store: ResultsStore,
  runs: { runId: string; condition: string; seed: number }[],
  metric: MetricRef,
  aggregate: CompareAggregate,
): Promise<RunValue[]> {
  if (runs.length === 0) return [];
  const res = await store.query(
    `SELECT run_id, step, value FROM metrics WHERE stage = ${sqlString(metric.stage)} AND name = ${
      sqlString(metric.name)
    } AND run_id IN (${runs.map((r) => sqlString(r.runId)).join(", ")})`,
  );
  const byRun = new Map<string, { step: number | null; value: number }[]>();
  for (const [runId, step, value] of res.rows) {
    const list = byRun.get(String(runId)) ?? [];
    list.push({ step: step === null ? null : Number(step), value: Number(value) });
    byRun.set(String(runId), list);
  }
  return runs.filter((r) => byRun.has(r.runId)).map((r) => ({
    ...r,
    value: aggregateSteps(byRun.get(r.runId)!, aggregate),
  }));
}

/** Names a stage recorded in the given runs, for a "no such metric" hint. */
async function recordedNames(
  store: ResultsStore,
  stage: string,
  runIds: string[],
): Promise<string[]> {
  const res = await store.query(
    `SELECT DISTINCT name FROM metrics WHERE stage = ${sqlString(stage)} AND run_id IN (${
      runIds.map(sqlString).join(", ")
    }) ORDER BY name LIMIT 30`,
  );
  return res.rows.map(([n]) => String(n));
}

/**
 * Reads the runs and metrics of the query from the store and compares the
 * conditions (see the module documentation). Throws a {@linkcode UserError}
 * when there is no done run, or the baseline matches no condition or several.
 */
export async function runComparison(
  store: ResultsStore,
  q: ComparisonQuery,
): Promise<ComparisonReport> {
  const runs = await doneRuns(store, q);
  if (runs.length === 0) {
    throw new UserError(
      q.points
        ? `no done runs of experiment "${q.experiment}" for this file's points in ${store.path}` +
          " (were they run with other --set values? pass the same ones)"
        : `no done runs of experiment "${q.experiment}" in ${store.path}`,
    );
  }
  const planned = q.points?.map((p) => conditionOf(p.label, q.experiment)) ?? [];
  const conditions = [...new Set([...planned, ...runs.map((r) => r.condition)])];
  const baseline = matchBaseline(conditions, q.spec.baseline);
  const one = async (metric: MetricRef, primary: boolean) => {
    const values = await metricValues(store, runs, metric, q.spec.aggregate);
    const result = compareMetric(values, {
      metric,
      aggregate: q.spec.aggregate,
      baseline,
      alpha: q.spec.alpha,
      primary,
      conditions,
    });
    if (values.length === 0) {
      const names = await recordedNames(store, metric.stage, runs.map((r) => r.runId));
      result.notes.unshift(
        `no done run recorded ${metric.stage} ${metric.name}${
          names.length
            ? `; ${metric.stage} recorded: ${names.join(", ")}`
            : `; ${metric.stage} recorded no metrics`
        }`,
      );
    } else if (values.length < runs.length) {
      result.notes.push(
        `${runs.length - values.length} done run(s) without ${metric.stage} ${metric.name}`,
      );
    }
    return result;
  };
  const primary = await one(q.spec.metric, true);
  const secondary = [];
  for (const m of q.spec.secondary) secondary.push(await one(m, false));
  return { experiment: q.experiment, baseline, alpha: q.spec.alpha, primary, secondary };
}

/** The report's rows in {@linkcode COMPARISON_COLUMNS} order (primary, then secondary). */
export function comparisonRows(report: ComparisonReport): Json[][] {
  const out: Json[][] = [];
  for (const m of [report.primary, ...report.secondary]) {
    for (const r of m.rows) {
      out.push([
        report.experiment,
        m.metric.name,
        r.condition,
        report.baseline,
        r.n,
        r.meanCondition,
        r.meanBaseline,
        r.diff,
        r.ciLo,
        r.ciHi,
        r.pT,
        r.pPerm,
        r.bootLo,
        r.bootHi,
        r.pHolm,
        r.mde,
        r.significant,
        m.metric.stage,
        m.aggregate,
        m.primary ? "primary" : "secondary",
      ]);
    }
  }
  return out;
}

/**
 * Writes the report into the `comparisons` table (created if missing),
 * replacing the rows of the same experiment and metric (stage and name), in
 * one transaction.
 */
export async function writeComparisons(
  store: ResultsStore,
  report: ComparisonReport,
): Promise<void> {
  const metrics = [report.primary, ...report.secondary].map((m) => m.metric);
  const rows = comparisonRows(report);
  const value = (v: Json, i: number) => {
    const column = COMPARISON_COLUMNS[i];
    if (v === null) return "NULL";
    if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
    if (typeof v === "number") return column === "n" ? String(v) : double(v);
    return sqlString(String(v));
  };
  const where = metrics.map((m) =>
    `(stage = ${sqlString(m.stage)} AND metric = ${sqlString(m.name)})`
  )
    .join(" OR ");
  const statements = [
    TABLE_SQL,
    "BEGIN TRANSACTION",
    `DELETE FROM comparisons WHERE experiment = ${sqlString(report.experiment)} AND (${where})`,
    ...(rows.length
      ? [
        `INSERT INTO comparisons VALUES ${
          rows.map((r) => `(${r.map(value).join(", ")})`).join(", ")
        }`,
      ]
      : []),
    "COMMIT",
  ];
  try {
    await store.queryScript(statements.join(";\n"));
  } catch (e) {
    await store.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

/** A value and its interval: "0.1234 [0.0100, 0.2368]". */
function withInterval(v: number | null, lo: number | null, hi: number | null): Json {
  if (v === null) return null;
  const f = (x: number) => formatNumber(x, true);
  return lo === null || hi === null ? f(v) : `${f(v)} [${f(lo)}, ${f(hi)}]`;
}

function interval(lo: number | null, hi: number | null): Json {
  return lo === null || hi === null
    ? null
    : `[${formatNumber(lo, true)}, ${formatNumber(hi, true)}]`;
}

function metricTitle(m: MetricComparison): string {
  const how = m.aggregate === "last" ? "value at the last step" : "mean over steps";
  return `${m.metric.stage} ${m.metric.name} (${how})`;
}

/**
 * The report as text: a headline and table for the primary metric, one
 * table per secondary metric, then the notes.
 */
export function formatComparison(report: ComparisonReport): string {
  const p = report.primary;
  const tested = p.rows.filter((r) => r.pT !== null).length;
  const out = [
    `comparison of ${report.experiment}: ${
      metricTitle(p)
    } vs ${report.baseline}, paired by seed; ` +
    `Holm over ${tested} condition${tested === 1 ? "" : "s"} at α = ${report.alpha}`,
  ];
  out.push(formatTable(
    [
      "condition",
      "n",
      "mean",
      "baseline",
      "diff [95% t CI]",
      "p (t)",
      "p (sign-flip)",
      "bootstrap 95% CI",
      "p (Holm)",
      "verdict",
    ],
    p.rows.map((r) => [
      r.condition,
      r.n,
      r.meanCondition,
      r.meanBaseline,
      withInterval(r.diff, r.ciLo, r.ciHi),
      r.pT === null ? null : formatP(r.pT),
      r.pPerm === null ? null : formatP(r.pPerm),
      interval(r.bootLo, r.bootHi),
      r.pHolm === null ? null : formatP(r.pHolm),
      r.verdict,
    ]),
    {
      // p-values are text ("< 0.0001") but aligned as numbers.
      types: [
        "VARCHAR",
        "INTEGER",
        "DOUBLE",
        "DOUBLE",
        "VARCHAR",
        "DOUBLE",
        "DOUBLE",
        "VARCHAR",
        "DOUBLE",
      ],
      maxWidth: 80,
    },
  ));
  out.push(
    `diff = condition − baseline over paired seeds; p (t): paired t test; p (sign-flip): ` +
      `exact permutation test (Monte Carlo beyond ${MAX_EXACT} pairs); bootstrap: percentile, ` +
      `${RESAMPLES} resamples; verdict: Holm-adjusted paired t p ≤ ${report.alpha}, else the ` +
      `effect detectable with power ${MDE_POWER}`,
  );
  for (const s of report.secondary) {
    out.push("");
    out.push(`secondary (descriptive, no test): ${metricTitle(s)}`);
    out.push(formatTable(
      ["condition", "n", "mean", "baseline", "diff [95% t CI]"],
      s.rows.map((r) => [
        r.condition,
        r.n,
        r.meanCondition,
        r.meanBaseline,
        r.n >= 2
          ? withInterval(r.diff, r.ciLo, r.ciHi)
          : r.diff === null
          ? NEEDS_PAIRS
          : `${formatNumber(r.diff, true)} (${NEEDS_PAIRS})`,
      ]),
      { types: ["VARCHAR", "INTEGER", "DOUBLE", "DOUBLE"], maxWidth: 80 },
    ));
  }
  const notes = [...p.notes, ...report.secondary.flatMap((s) => s.notes)];
  for (const n of [...new Set(notes)]) out.push(`note: ${n}`);
  return out.join("\n");
}

/** The report as CSV in {@linkcode COMPARISON_COLUMNS} order. */
export function formatComparisonCsv(report: ComparisonReport): string {
  return formatCsv([...COMPARISON_COLUMNS], comparisonRows(report));
}

/**
 * After a run: compares, writes the `comparisons` table and prints the
 * report. Problems of the data (no runs, baseline not found) are printed as a
 * `compare:` line instead of failing the run.
 */
export async function reportComparison(
  store: ResultsStore,
  q: ComparisonQuery,
  print: (s: string) => void,
): Promise<void> {
  let report: ComparisonReport;
  try {
    report = await runComparison(store, q);
  } catch (e) {
    if (e instanceof UserError) {
      print(`compare: ${e.message}`);
      return;
    }
    throw e;
  }
  await writeComparisons(store, report);
  print(formatComparison(report));
}
