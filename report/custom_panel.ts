/**
 * Curve panels of any metric in the database (`deno task report --metric NAME
 * [--by PARAM]`), beside the built-in panels: one chart per stage that
 * records the metric, one line per group of runs (by default the run's method,
 * i.e. its label without `seed=N`; with `--by` the value of a swept or `--set`
 * parameter, or `seed`, or `experiment`), mean over seeds with a 95% t-CI
 * band. A metric recorded only outside the loop (no step) gets bars with 95%
 * CI whiskers instead.
 *
 * @module
 */
import { UserError } from "../pipeline/errors.ts";
import { type ResultsStore, sqlString } from "../pipeline/store.ts";
import { didYouMean } from "../pipeline/suggest.ts";
import { METHOD_SQL, type StepValue } from "./data.ts";
import { grid, note, section } from "./html.ts";
import { aggregateCurve, methodColors } from "./panels.ts";
import { meanCI } from "./stats.ts";
import { barChart, lineChart } from "./svg.ts";

/** What `--metric` / `--by` ask for. */
export interface CustomPanelOptions {
  /** Metric names (`metrics.name`). */
  metrics: string[];
  /** Group runs by this `runs.params` key, `seed` or `experiment` (default: method). */
  by?: string;
}

/** SQL expression of a run's group for `by` (a column of `runs`). */
async function groupSql(store: ResultsStore, by: string | undefined): Promise<string> {
  if (by === undefined) return METHOD_SQL;
  if (by === "seed" || by === "experiment") return `${by}::VARCHAR`;
  const keys = (await store.query(
    `SELECT DISTINCT unnest(json_keys(params)) AS k FROM runs ORDER BY k`,
  )).rows.map(([k]) => String(k));
  if (!keys.includes(by)) {
    throw new UserError(
      `--by ${by}: no run sets that parameter${didYouMean(by, keys)} (choose one of: ${
        [...keys, "seed", "experiment"].join(", ")
      })`,
    );
  }
  const path = sqlString(`$."${by.replaceAll('"', '\\"')}"`);
  return `coalesce(json_extract_string(params, ${path}), '(unset)')`;
}

/** The stages recording `name`, or a UserError naming the metrics there are. */
async function stagesOf(store: ResultsStore, name: string): Promise<string[]> {
  const stages = (await store.query(
    `SELECT DISTINCT stage FROM metrics WHERE name = ${sqlString(name)} ORDER BY 1`,
  )).rows.map(([s]) => String(s));
  if (stages.length) return stages;
  const names = (await store.query(`SELECT DISTINCT name FROM metrics ORDER BY 1`)).rows
    .map(([n]) => String(n));
  throw new UserError(
    `--metric ${name}: no such metric in the database${didYouMean(name, names)} ` +
      `(deno task sql "select distinct stage, name from metrics" lists them)`,
  );
}

/** The values behind one custom chart: a metric as one stage records it. */
export interface CustomData {
  name: string;
  stage: string;
  /** Sorted group names. */
  groups: string[];
  rows: { group: string; runId: string; seed: number; step: number | null; value: number }[];
}

/**
 * The values of every (metric, stage) that `opts` asks for, each run labelled
 * with its group.
 *
 * @throws UserError for a metric the database lacks or an unknown `by`.
 */
export async function loadCustomData(
  store: ResultsStore,
  opts: CustomPanelOptions,
): Promise<CustomData[]> {
  const group = await groupSql(store, opts.by);
  const out: CustomData[] = [];
  for (const name of opts.metrics) {
    for (const stage of await stagesOf(store, name)) {
      const r = await store.query(
        `SELECT ${group} AS g, m.run_id, runs.seed, m.step, m.value
         FROM metrics m JOIN runs USING (run_id)
         WHERE m.name = ${sqlString(name)} AND m.stage = ${sqlString(stage)} AND isfinite(m.value)
         ORDER BY g, m.run_id, m.step`,
      );
      const rows = r.rows.map(([g, runId, seed, step, value]) => ({
        group: String(g),
        runId: String(runId),
        seed: Number(seed),
        step: step === null ? null : Number(step),
        value: Number(value),
      }));
      out.push({ name, stage, groups: [...new Set(rows.map((x) => x.group))].sort(), rows });
    }
  }
  return out;
}

/** One chart: curves over steps, or bars when the metric has no loop steps. */
export function customChart(d: CustomData): string {
  const colors = methodColors(d.groups);
  const id = `custom/${d.stage}/${d.name}`;
  const title = `${d.name} (${d.stage})`;
  const stepped = d.rows.filter((x) => x.step !== null);
  if (stepped.length) {
    const values: StepValue[] = stepped.map((x) => ({
      method: x.group,
      runId: x.runId,
      seed: x.seed,
      step: x.step!,
      stage: d.stage,
      name: d.name,
      value: x.value,
    }));
    return lineChart(
      d.groups.map((g) => ({
        name: g,
        color: colors.get(g),
        ...aggregateCurve(values, g, { stage: d.stage, name: d.name }),
      })).filter((s) => s.points.length),
      { id, title, xLabel: "step", yLabel: d.name, integerX: true, width: 360, plotHeight: 170 },
    );
  }
  return barChart(
    d.groups.flatMap((g) => {
      const ci = meanCI(d.rows.filter((x) => x.group === g).map((x) => x.value));
      return ci
        ? [{
          label: g,
          value: ci.mean,
          lo: ci.lo,
          hi: ci.hi,
          color: colors.get(g),
          note: `n=${ci.n}`,
        }]
        : [];
    }),
    { id, title, yLabel: d.name, width: 360, plotHeight: 170 },
  );
}

/**
 * The "Custom panels" section for `opts`: one chart per (metric, stage).
 *
 * @throws UserError for a metric the database lacks or an unknown `by`.
 */
export async function customPanels(
  store: ResultsStore,
  opts: CustomPanelOptions,
): Promise<string> {
  const data = await loadCustomData(store, opts);
  const groups = new Set(data.flatMap((d) => d.groups)).size;
  const by = opts.by === undefined ? "method (label without seed=N)" : opts.by;
  return section("custom", "Custom panels", [
    note(
      `Asked for with report --metric: one chart per stage that records the metric; one ` +
        `line per ${by} (${groups} group${groups === 1 ? "" : "s"}): ` +
        "mean over runs at each step (runs of one seed averaged first), shaded 95% t-CI band " +
        "over seeds. Metrics without loop steps: bars with 95% CI whiskers.",
    ),
    grid(data.map(customChart)),
  ]);
}
