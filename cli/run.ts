/**
 * `deno task run FILE.yaml`: runs an experiment with the lab's stage kinds,
 * then prints the experiment's summary table and writes the HTML report of
 * that experiment's runs (paired differences against its `compare:` baseline).
 *
 * @module
 */
import { runCli } from "../pipeline/run_cli.ts";
import { renderReport, REPORT_FILE } from "../report/mod.ts";
import { registry } from "../stages/mod.ts";
import { executors } from "../scaleout/mod.ts";

if (import.meta.main) {
  Deno.exit(
    await runCli(Deno.args, {
      registry,
      registryModule: new URL("../stages/mod.ts", import.meta.url).href,
      executors,
      async after({ store, resultsDir, print, experiment, baseline }) {
        const path = `${resultsDir}/${REPORT_FILE}`;
        // A --set run may leave the compare: baseline out; then the report picks its default.
        const report = await renderReport(store, {
          resultsDir,
          experiment,
          baseline: baseline ?? undefined,
        }).catch(() => renderReport(store, { resultsDir, experiment }));
        await Deno.writeTextFile(path, report);
        print(`report: ${path}`);
      },
    }),
  );
}
