/**
 * `run --help` lists the registry's runtime settings (generic: a toy schema).
 */
import assert from "node:assert/strict";
import { createRegistry } from "../../pipeline/registry.ts";
import { runCli, runtimeHelp } from "../../pipeline/run_cli.ts";
import { registry as toyRegistry } from "../fixtures/toy_stages.ts";

Deno.test("run --help lists the runtime settings a registry declares", async () => {
  const registry = createRegistry([], {
    device: { type: "enum", values: ["slow", "fast"], default: "slow", doc: "where to compute" },
  });
  const help = runtimeHelp(registry);
  assert.match(help, /Runtime settings \(the file's runtime: map, or --set runtime\.KEY=V\):/);
  assert.ok(help.includes("  device: slow | fast [slow]\n      where to compute"), help);
  assert.equal(runtimeHelp(toyRegistry), "");

  const printed: string[] = [];
  const log = console.log;
  console.log = (text: string) => printed.push(text);
  try {
    assert.equal(await runCli(["--help"], { registry, registryModule: "unused" }), 0);
  } finally {
    console.log = log;
  }
  assert.ok(printed.join("\n").endsWith(help));
});
