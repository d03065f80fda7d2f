/**
 * `deno task report [--results DIR] [--out FILE] [--experiment NAME]
 * [--baseline NAME]`: writes the self-contained HTML report of a results
 * directory (default `<DIR>/report.html`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UserError } from "../pipeline/errors.ts";
import { duckdbMessage, isLockError } from "../pipeline/store.ts";
import { REPORT_FILE, writeReport } from "../report/mod.ts";

/** Usage text of `report`. */
export const REPORT_USAGE = `Usage: deno task report [--results DIR] [--out FILE]
                        [--experiment NAME] [--baseline NAME]
                        [--metric NAME …] [--by PARAM]

Writes an HTML report (inline SVG charts, no scripts, no network) of the runs
in DIR/runs.duckdb: the comparisons table (when the database has one), method
comparison curves (mean over seeds, 95% t-CI band), paired differences from
the baseline method (by seed, with 95% t-CI), two-phase dynamics (paper
Fig. 3), final metrics with 95% CIs, and the run table.

Options:
  --results DIR       results directory [results]
  --out FILE          output file [DIR/${REPORT_FILE}]
  --experiment NAME   only the runs of experiment NAME [all runs]
  --baseline NAME     baseline method of the paired differences: the method
                      NAME, or the one ending with =NAME (e.g. grpo for
                      assign-credit.estimator=grpo) [grpo if present, else
                      the first method]
  --metric NAME       add a curve panel of any metric in the database
                      (metrics.name; repeatable): one chart per stage that
                      records it, mean over seeds with 95% t-CI bands
  --by PARAM          group the --metric lines by a swept or --set parameter
                      (a runs.params key, e.g. assign-credit.estimator), or
                      by seed or experiment [the run's method: its label
                      without seed=N]
  -h, --help          this text

Exit codes: 0 written, 2 bad input (no results database, unknown experiment or
baseline).`;

/** Entry point of `report`; returns the exit code. */
export async function reportMain(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        results: { type: "string", default: "results" },
        out: { type: "string" },
        experiment: { type: "string" },
        baseline: { type: "string" },
        metric: { type: "string", multiple: true, default: [] },
        by: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${REPORT_USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(REPORT_USAGE);
    return 0;
  }
  try {
    const path = await writeReport(parsed.values.results!, {
      out: parsed.values.out,
      experiment: parsed.values.experiment,
      baseline: parsed.values.baseline,
      custom: parsed.values.metric!.length
        ? { metrics: parsed.values.metric!, by: parsed.values.by }
        : undefined,
    });
    console.log(`report: ${path}`);
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      return e.exitCode;
    }
    if (isLockError(e)) {
      console.error(
        `error: ${parsed.values.results} is being written by a running experiment; ` +
          "write the report when it finishes",
      );
      return 2;
    }
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      console.error(`error: ${duckdbMessage(e)}`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await reportMain(Deno.args));
