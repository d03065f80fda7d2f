/**
 * `deno task compare FILE.yaml [--results DIR] [--csv]`: prints the paired
 * comparison of an experiment's conditions (its `compare:` block) from an
 * existing results directory, with the lab's stage kinds.
 *
 * @module
 */
import { compareCli } from "../pipeline/compare_cli.ts";
import { registry } from "../stages/mod.ts";

if (import.meta.main) Deno.exit(await compareCli(Deno.args, { registry }));
