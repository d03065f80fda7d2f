/**
 * Runs as first-class objects: the queries behind `deno task runs` (list
 * runs with wall time, computed instances and a primary metric; compare runs
 * by the config paths and final metrics that differ).
 *
 * @module
 */
import { canonicalJson } from "./hash.ts";
import { flattenConfig } from "./provenance.ts";
import { type ResultsStore, sqlString } from "./store.ts";
import type { Json, JsonObject } from "./types.ts";

/** One row of `deno task runs`. */
export interface RunSummary {
  /** Run id. */
  runId: string;
  /** Experiment name. */
  experiment: string;
  /** Label (variants of an edited experiment carry `[PATH=VALUE …]`). */
  label: string;
  /** running, done, failed or pending. */
  status: string;
  /** First start (ISO 8601). */
  startedAt: string | null;
  /** Wall seconds summed over the run's invocations. */
  seconds: number | null;
  /** How many times the run was executed. */
  invocations: number;
  /** Instances computed, summed over invocations (cache hits not counted). */
  computed: number;
  /** Its tags. */
  tags: string[];
  /** The primary metric's name (`STAGE NAME`) and last value, when known. */
  metric: string | null;
  /** The primary metric's value (see `listRuns`). */
  value: number | null;
}

/** Filters of {@linkcode listRuns}. */
export interface RunFilter {
  /** Only runs of this experiment. */
  experiment?: string;
  /** Only runs with this tag. */
  tag?: string;
  /** Run ids or unique prefixes of them. */
  ids?: string[];
}

/**
 * The runs of a results database, newest first, with their wall time and
 * computed instances over all invocations and the value of their primary
 * metric (`runs.primary_metric`, the experiment's `compare:` metric,
 * aggregated as it says: `last` or `mean` over steps).
 */
export async function listRuns(
  store: ResultsStore,
  filter: RunFilter = {},
): Promise<RunSummary[]> {
  const where: string[] = [];
  if (filter.experiment) where.push(`r.experiment = ${sqlString(filter.experiment)}`);
  if (filter.tag) {
    where.push(`list_contains(coalesce(r.tags, '[]')::VARCHAR[], ${sqlString(filter.tag)})`);
  }
  if (filter.ids?.length) {
    where.push(
      `(${filter.ids.map((id) => `starts_with(r.run_id, ${sqlString(id)})`).join(" OR ")})`,
    );
  }
  const res = await store.query(
    `SELECT r.run_id, r.experiment, r.label, r.status, r.started_at,
       i.seconds, coalesce(i.n, 0)::INTEGER, coalesce(i.computed, 0)::INTEGER,
       coalesce(r.tags, '[]'), r.primary_metric
     FROM runs r LEFT JOIN (
       SELECT run_id, sum(seconds) AS seconds, count(*) AS n, sum(computed) AS computed
       FROM invocations GROUP BY run_id) i USING (run_id)
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY r.started_at DESC NULLS LAST, r.experiment, r.label, r.run_id`,
  );
  const out: RunSummary[] = res.rows.map((row) => ({
    runId: String(row[0]),
    experiment: String(row[1] ?? ""),
    label: String(row[2] ?? ""),
    status: String(row[3] ?? ""),
    startedAt: row[4] === null ? null : String(row[4]),
    seconds: row[5] === null ? null : Number(row[5]),
    invocations: Number(row[6]),
    computed: Number(row[7]),
    tags: Array.isArray(row[8]) ? row[8].map(String) : [],
    metric: null,
    value: null,
  }));
  for (const [i, row] of res.rows.entries()) {
    const m = row[9] as { stage?: string; name?: string; aggregate?: string } | null;
    if (m && typeof m.stage === "string" && typeof m.name === "string") {
      out[i].metric = `${m.stage} ${m.name}${m.aggregate === "mean" ? " (mean)" : ""}`;
      out[i].value = await metricValue(store, out[i].runId, m.stage, m.name, m.aggregate);
    }
  }
  return out;
}

/**
 * A run's value of a metric: at its largest step (rows without a step count
 * only when none has one; several rows there are averaged), or the mean over
 * all rows with `aggregate: "mean"`. Null when the run recorded none.
 */
async function metricValue(
  store: ResultsStore,
  runId: string,
  stage: string,
  name: string,
  aggregate = "last",
): Promise<number | null> {
  const where = `run_id = ${sqlString(runId)} AND stage = ${sqlString(stage)} AND name = ${
    sqlString(name)
  }`;
  const r = await store.query(
    aggregate === "mean"
      ? `SELECT avg(value) FROM metrics WHERE ${where}`
      : `SELECT avg(value) FROM metrics WHERE ${where}
         AND step IS NOT DISTINCT FROM (SELECT max(step) FROM metrics WHERE ${where})`,
  );
  const v = r.rows[0]?.[0];
  return v === null || v === undefined ? null : Number(v);
}

/** What `deno task runs compare` shows. */
export interface RunComparison {
  /** The runs compared, in the order asked. */
  runs: RunSummary[];
  /** Config paths whose values differ between the runs; `values[i]` belongs to `runs[i]`. */
  params: { path: string; values: (Json | undefined)[] }[];
  /**
   * Final metric values (value at each run's last step, per stage and name)
   * that differ between the runs; `delta[i]` is `values[i] - values[0]`.
   */
  metrics: { stage: string; name: string; values: (number | null)[]; delta: (number | null)[] }[];
}

/**
 * Resolves run ids or unique prefixes to full ids, in the order given.
 * Unknown or ambiguous ones are listed in the returned `problems`.
 */
export async function resolveRunIds(
  store: ResultsStore,
  prefixes: string[],
): Promise<{ ids: string[]; problems: string[] }> {
  const ids: string[] = [];
  const problems: string[] = [];
  for (const p of prefixes) {
    const r = await store.query(
      `SELECT run_id FROM runs WHERE starts_with(run_id, ${sqlString(p)}) ORDER BY 1`,
    );
    if (r.rows.length === 1) ids.push(String(r.rows[0][0]));
    else if (r.rows.length === 0) problems.push(`no run with id ${p}`);
    else {
      problems.push(
        `run id ${p} is ambiguous (${r.rows.map((x) => x[0]).join(", ")}); give more characters`,
      );
    }
  }
  return { ids, problems };
}

/**
 * Compares runs side by side: the config paths that differ (from the stored
 * full configs) and every final metric that differs, with deltas against the
 * first run.
 */
export async function compareRuns(store: ResultsStore, ids: string[]): Promise<RunComparison> {
  const summaries = await listRuns(store, { ids });
  const runs = ids.map((id) => summaries.find((s) => s.runId === id)!).filter((r) => r);
  const cfg = await store.query(
    `SELECT run_id, config FROM runs WHERE run_id IN (${ids.map(sqlString).join(", ")})`,
  );
  const configs = new Map(cfg.rows.map(([id, c]) => [String(id), (c ?? {}) as JsonObject]));
  const flat = runs.map((r) => flattenConfig(configs.get(r.runId) ?? {}));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort();
  const params = paths
    .map((path) => ({ path, values: flat.map((f) => f.get(path)) }))
    .filter((p) => new Set(p.values.map((v) => canonicalJson(v ?? null))).size > 1);
  const m = await store.query(
    `SELECT run_id, stage, name, avg(value) FROM metrics m
     WHERE run_id IN (${ids.map(sqlString).join(", ")}) AND step IS NOT DISTINCT FROM (
       SELECT max(step) FROM metrics x
       WHERE x.run_id = m.run_id AND x.stage = m.stage AND x.name = m.name)
     GROUP BY ALL ORDER BY stage, name`,
  );
  const byMetric = new Map<string, Map<string, number>>();
  for (const [id, stage, name, value] of m.rows) {
    const key = `${stage}\u0000${name}`;
    const map = byMetric.get(key) ?? new Map<string, number>();
    map.set(String(id), Number(value));
    byMetric.set(key, map);
  }
  const metrics: RunComparison["metrics"] = [];
  for (const [key, map] of byMetric) {
    const [stage, name] = key.split("\u0000");
    const values = runs.map((r) => map.get(r.runId) ?? null);
    if (new Set(values).size <= 1) continue;
    const delta = values.map((v) => v === null || values[0] === null ? null : v - values[0]);
    metrics.push({ stage, name, values, delta });
  }
  return { runs, params, metrics };
}
