/**
 * `deno task run FILE.yaml`: runs an experiment with the lab's stage kinds.
 *
 * @module
 */
import { runCli } from "../pipeline/run_cli.ts";
import { registry } from "../stages/mod.ts";

if (import.meta.main) {
  Deno.exit(
    await runCli(Deno.args, {
      registry,
      registryModule: new URL("../stages/mod.ts", import.meta.url).href,
    }),
  );
}
