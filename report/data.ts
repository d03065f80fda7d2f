/**
 * Reads what the report plots from a results store: per-step metric values
 * of every run labelled with its method (label without "seed=N"), final
 * per-run evaluation values, the result sets of the SQL files under
 * experiments/sql/ and the `comparisons` table when there is one; and
 * restricts all of these to the runs of one experiment.
 *
 * @module
 */
import { type QueryResult, type ResultsStore, sqlString } from "../pipeline/store.ts";

/** SQL expression: a run's method, i.e. its label without the `seed=N` part. */
export const METHOD_SQL =
  `coalesce(nullif(trim(regexp_replace(label, '(^|\\s)seed=\\S+', '', 'g')), ''), experiment)`;

/** A stage name and metric name, as stored in `metrics`. */
export interface MetricKey {
  stage: string;
  name: string;
}

/** One metric value of one run at one loop step. */
export interface StepValue {
  method: string;
  runId: string;
  /** The run's seed (paired differences match runs by seed). */
  seed: number;
  step: number;
  stage: string;
  name: string;
  value: number;
}

/** One final (end-of-training) metric value of one run, or of a seed's base policy. */
export interface FinalValue {
  method: string;
  /** Run id, or `seed=N` for the warm-start policy (shared by a seed's runs). */
  unit: string;
  name: string;
  value: number;
}

/** Method name used for the warm-start policy (evaluate-base) in final values. */
export const BASE_METHOD = "base (warm start)";

/** Methods of all runs, sorted. */
export async function loadMethods(store: ResultsStore): Promise<string[]> {
  const r = await store.query(`SELECT DISTINCT ${METHOD_SQL} AS m FROM runs ORDER BY m`);
  return r.rows.map((row) => String(row[0]));
}

/** Loop-step values of the given metrics for every run (finite values only). */
export async function loadStepValues(
  store: ResultsStore,
  keys: MetricKey[],
): Promise<StepValue[]> {
  if (keys.length === 0) return [];
  const pairs = keys.map((k) => `(${sqlString(k.stage)}, ${sqlString(k.name)})`).join(", ");
  const r = await store.query(
    `SELECT ${METHOD_SQL} AS method, m.run_id, runs.seed, m.step, m.stage, m.name, m.value
     FROM metrics m JOIN runs USING (run_id)
     WHERE m.step IS NOT NULL AND isfinite(m.value) AND (m.stage, m.name) IN (${pairs})
     ORDER BY method, m.run_id, m.step`,
  );
  return r.rows.map(([method, runId, seed, step, stage, name, value]) => ({
    method: String(method),
    runId: String(runId),
    seed: Number(seed),
    step: Number(step),
    stage: String(stage),
    name: String(name),
    value: Number(value),
  }));
}

/**
 * Final evaluation values per run: the `final-eval` stage when a run has it,
 * else its last `evaluate` step; plus the warm-start policy (`evaluate-base`)
 * once per seed under `BASE_METHOD`.
 */
export async function loadFinalValues(
  store: ResultsStore,
  names: string[],
): Promise<FinalValue[]> {
  if (names.length === 0) return [];
  const list = names.map(sqlString).join(", ");
  const r = await store.query(
    `WITH last_eval AS (
       SELECT run_id,
         CASE WHEN bool_or(stage = 'final-eval') THEN 'final-eval' ELSE 'evaluate' END AS stage,
         max(step) FILTER (WHERE stage = 'evaluate') AS step
       FROM metrics WHERE stage IN ('final-eval', 'evaluate') GROUP BY run_id
     )
     SELECT ${METHOD_SQL} AS method, m.run_id AS unit, m.name, avg(m.value) AS value
     FROM metrics m JOIN last_eval e ON m.run_id = e.run_id AND m.stage = e.stage
       AND (e.stage = 'final-eval' OR m.step = e.step)
     JOIN runs r ON r.run_id = m.run_id
     WHERE m.name IN (${list}) AND isfinite(m.value)
     GROUP BY ALL
     UNION ALL
     SELECT ${sqlString(BASE_METHOD)}, 'seed=' || r.seed, m.name, avg(m.value)
     FROM metrics m JOIN runs r USING (run_id)
     WHERE m.stage = 'evaluate-base' AND m.name IN (${list}) AND isfinite(m.value)
     GROUP BY ALL
     ORDER BY 1, 2, 3`,
  );
  return r.rows.map(([method, unit, name, value]) => ({
    method: String(method),
    unit: String(unit),
    name: String(name),
    value: Number(value),
  }));
}

/** Result sets of one SQL file of experiments/sql/ (by base name, e.g. "runs"). */
export async function runSqlFile(store: ResultsStore, name: string): Promise<QueryResult[]> {
  const url = new URL(`../experiments/sql/${name}.sql`, import.meta.url);
  return await store.queryScript(await Deno.readTextFile(url));
}

/** The (stage, name) keys that have finite loop-step values, as `stage\u0000name` strings. */
export async function loadStepKeys(store: ResultsStore): Promise<Set<string>> {
  const r = await store.query(
    `SELECT DISTINCT stage, name FROM metrics WHERE step IS NOT NULL AND isfinite(value)`,
  );
  return new Set(
    r.rows.map(([stage, name]) => stepKey({ stage: String(stage), name: String(name) })),
  );
}

/** The string form of a metric key used by `loadStepKeys`. */
export function stepKey(k: MetricKey): string {
  return `${k.stage}\u0000${k.name}`;
}

/** Whether the database has a table or view called `name`. */
async function hasTable(store: ResultsStore, name: string): Promise<boolean> {
  const r = await store.query(
    `SELECT count(*)::INTEGER FROM information_schema.tables WHERE table_name = ${sqlString(name)}`,
  );
  return Number(r.rows[0][0]) > 0;
}

/**
 * The `comparisons` table (statistical comparisons of conditions against a
 * baseline), restricted to `experiment` when given and sorted by experiment,
 * metric and condition; null when the database has no such table.
 */
export async function loadComparisons(
  store: ResultsStore,
  experiment?: string,
): Promise<QueryResult | null> {
  if (!(await hasTable(store, "comparisons"))) return null;
  const cols = new Set(
    (await store.query(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'comparisons'`,
    )).rows.map((r) => String(r[0])),
  );
  const where = experiment !== undefined && cols.has("experiment")
    ? ` WHERE experiment = ${sqlString(experiment)}`
    : "";
  const order = ["experiment", "metric", "condition"].filter((c) => cols.has(c));
  return await store.query(
    `SELECT * FROM comparisons${where}${order.length ? ` ORDER BY ${order.join(", ")}` : ""}`,
  );
}

/** Experiments of all runs, sorted. */
export async function loadExperiments(store: ResultsStore): Promise<string[]> {
  const r = await store.query("SELECT DISTINCT experiment FROM runs ORDER BY 1");
  return r.rows.map((row) => String(row[0]));
}

export { scopeToExperiment } from "../pipeline/scope.ts";
