/** `run` over the toy stage kinds with the scale-out executors (a real subprocess in tests). */
import { runCli } from "../../pipeline/run_cli.ts";
import { executors } from "../../scaleout/mod.ts";
import { registry } from "../fixtures/toy_stages.ts";

Deno.exit(
  await runCli(Deno.args, {
    registry,
    registryModule: new URL("../fixtures/toy_stages.ts", import.meta.url).href,
    executors,
  }),
);
