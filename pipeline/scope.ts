/**
 * Scoping queries to one experiment's runs: a results directory may hold
 * several experiments (the main job, its ablations, a two-phase run); summary
 * SQL files and reports should see only the experiment they describe.
 *
 * @module
 */
import { type ResultsStore, sqlString } from "./store.ts";

/** The tables that `scopeToExperiment` shadows with filtered temporary views. */
const SCOPED = ["runs", "metrics", "instances"] as const;

/**
 * Restricts every later query on `store`'s connection (including the SQL
 * files) to the runs of `experiment`: temporary views named `runs`, `metrics`
 * and `instances` shadow the tables. Returns a function that drops them
 * again. Works on a read-only database (temporary objects live in memory).
 */
export async function scopeToExperiment(
  store: ResultsStore,
  experiment: string,
): Promise<() => Promise<void>> {
  const db = String((await store.query("SELECT current_database()")).rows[0][0]);
  const table = (t: string) => `"${db.replaceAll('"', '""')}".main.${t}`;
  const views: string[] = [];
  const drop = async () => {
    for (const v of views.reverse()) await store.query(`DROP VIEW IF EXISTS temp.main.${v}`);
  };
  try {
    for (const t of SCOPED) {
      const filter = t === "runs"
        ? `experiment = ${sqlString(experiment)}`
        : `run_id IN (SELECT run_id FROM ${table("runs")} WHERE experiment = ${
          sqlString(experiment)
        })`;
      await store.query(`CREATE TEMP VIEW ${t} AS SELECT * FROM ${table(t)} WHERE ${filter}`);
      views.push(t);
    }
  } catch (e) {
    await drop();
    throw e;
  }
  return drop;
}
