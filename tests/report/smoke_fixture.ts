/**
 * Test helper: runs experiments/smoke.yaml in-process into a fresh temporary
 * results directory (once per test process) and returns that directory.
 *
 * @module
 */
import { loadExperimentFile } from "../../pipeline/config.ts";
import { execute } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { registry } from "../../stages/mod.ts";

const SMOKE = new URL("../../experiments/smoke.yaml", import.meta.url).pathname;

let pending: Promise<string> | null = null;

/** Runs the smoke experiment; every run must finish with status "done". */
async function runSmoke(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "report_smoke_" });
  const plan = await loadExperimentFile(SMOKE, registry);
  const store = await ResultsStore.open(dir);
  try {
    const summary = await execute(plan.points, {
      resultsDir: dir,
      registry,
      reporter: new SilentReporter(),
      sink: store,
    });
    const bad = summary.runs.filter((r) => r.status !== "done");
    if (bad.length > 0) {
      throw new Error(`smoke runs failed: ${bad.map((r) => `${r.label}: ${r.error}`).join("; ")}`);
    }
  } finally {
    await store.close();
  }
  return dir;
}

/** The results directory of a finished smoke run (shared within one test process). */
export function smokeResults(): Promise<string> {
  pending ??= runSmoke();
  return pending;
}
