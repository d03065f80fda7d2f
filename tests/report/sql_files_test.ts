/** Every experiments/sql/*.sql runs against the smoke results through `sqlMain`. */
import assert from "node:assert/strict";
import { sqlMain } from "../../pipeline/sql_cli.ts";
import { smokeResults } from "../fixtures/smoke.ts";

const SQL_DIR = new URL("../../experiments/sql/", import.meta.url);
/** Files run against their own experiment's results elsewhere (tests/bridge/experiment_test.ts). */
const OWN_RESULTS = new Set(["real_rollouts.sql"]);
const EXPECTED = [
  "compare_methods",
  "entropy_vs_accuracy",
  "real_rollouts",
  "runs",
  "sg_quality",
  "two_phase",
  "two_phase_timing",
];

Deno.test("experiments/sql/*.sql print non-empty tables for the smoke run", async () => {
  const dir = await smokeResults();
  const files = [...Deno.readDirSync(SQL_DIR)].filter((e) => e.name.endsWith(".sql"))
    .map((e) => e.name).sort();
  assert.deepEqual(files.map((f) => f.replace(/\.sql$/, "")), EXPECTED);
  for (const f of files) {
    if (OWN_RESULTS.has(f)) continue;
    const text = await Deno.readTextFile(new URL(f, SQL_DIR));
    assert.match(text, /^-- /, `${f} starts with a header comment`);
    const out: string[] = [];
    const err: string[] = [];
    const code = await sqlMain(["--results", dir, new URL(f, SQL_DIR).pathname], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    assert.equal(code, 0, `${f}: ${err.join("\n")}`);
    const printed = out.join("\n");
    assert.match(printed, /^\| /m, `${f} printed no table`);
    assert.ok(!/\(0 rows\)/.test(printed), `${f} returned an empty result set:\n${printed}`);
  }
});
