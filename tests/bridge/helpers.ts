/**
 * Shared helpers of the bridge tests: running an experiment file with the
 * lab's stages, and finding an instance's cache entry.
 *
 * @module
 */
import { Cache } from "../../pipeline/cache.ts";
import { loadExperimentFile } from "../../pipeline/config.ts";
import { execute, type ExecuteOptions, type ExecuteSummary } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { registry } from "../../stages/mod.ts";

/** Runs the experiment file `yaml` with the lab's stages into `results` (one job, silent). */
export async function runLab(
  yaml: string,
  results: string,
  extra: Partial<ExecuteOptions> = {},
): Promise<ExecuteSummary> {
  return execute((await loadExperimentFile(yaml, registry)).points, {
    resultsDir: results,
    registry,
    reporter: new SilentReporter(),
    jobs: 1,
    ...extra,
  });
}

/** The cache entry directory of the instance labelled `label` (e.g. `model@0`) in a run. */
export function entryOf(results: string, summary: ExecuteSummary, label: string): string {
  const key = summary.details.find((d) => d.label === label)!.key!;
  return new Cache(`${results}/cache`).entryDir(key);
}
