/**
 * `deno task run FILE.yaml`: runs an experiment with the lab's stage kinds,
 * then prints the experiment's summary table and writes the HTML report.
 *
 * @module
 */
import { runCli } from "../pipeline/run_cli.ts";
import { renderReport, REPORT_FILE } from "../report/mod.ts";
import { registry } from "../stages/mod.ts";

if (import.meta.main) {
  Deno.exit(
    await runCli(Deno.args, {
      registry,
      registryModule: new URL("../stages/mod.ts", import.meta.url).href,
      async after({ store, resultsDir, print }) {
        const path = `${resultsDir}/${REPORT_FILE}`;
        await Deno.writeTextFile(path, await renderReport(store, { resultsDir }));
        print(`report: ${path}`);
      },
    }),
  );
}
