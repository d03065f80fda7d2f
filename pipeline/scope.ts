/**
 * Scoping queries to one experiment's runs: a results directory may hold
 * several experiments (the main job, its ablations, a two-phase run); summary
 * SQL files and reports should see only the experiment they describe.
 *
 * @module
 */
import { type ResultsStore, sqlString } from "./store.ts";

/** The tables that `scopeToExperiment` shadows with filtered temporary views. */
const SCOPED = ["runs", "metrics", "instances", "invocations"] as const;

/**
 * Restricts every later query on `store`'s connection (including the SQL
 * files) to the runs of `experiment`: temporary views named `runs`, `metrics`
 * `instances` and `invocations` shadow the tables. With `runIds`, only those
 * runs of the experiment are seen (e.g. the points just run, leaving out runs
 * of an earlier version of the file). Returns a function that drops the views
 * again. Works on a read-only database (temporary objects live in memory).
 */
export async function scopeToExperiment(
  store: ResultsStore,
  experiment: string,
  runIds?: readonly string[],
): Promise<() => Promise<void>> {
  const db = String((await store.query("SELECT current_database()")).rows[0][0]);
  const table = (t: string) => `"${db.replaceAll('"', '""')}".main.${t}`;
  const views: string[] = [];
  const drop = async () => {
    for (const v of views.reverse()) await store.query(`DROP VIEW IF EXISTS temp.main.${v}`);
  };
  const ids = runIds
    ? ` AND run_id IN (${runIds.length ? runIds.map(sqlString).join(", ") : "NULL"})`
    : "";
  // A database written before a table existed (opened read-only) lacks it.
  const present = new Set(
    (await store.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'
       AND table_catalog = ${sqlString(db)}`,
    )).rows.map(([t]) => String(t)),
  );
  try {
    for (const t of SCOPED.filter((t) => present.has(t))) {
      const filter = t === "runs"
        ? `experiment = ${sqlString(experiment)}${ids}`
        : `run_id IN (SELECT run_id FROM ${table("runs")} WHERE experiment = ${
          sqlString(experiment)
        }${ids})`;
      await store.query(`CREATE TEMP VIEW ${t} AS SELECT * FROM ${table(t)} WHERE ${filter}`);
      views.push(t);
    }
  } catch (e) {
    await drop();
    throw e;
  }
  return drop;
}
