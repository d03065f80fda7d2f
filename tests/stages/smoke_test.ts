/**
 * The whole RL pipeline at toy size (experiments/smoke.yaml) through the real
 * executor, tfjs-wasm and DuckDB: every documented metric lands in the
 * `metrics` table, the row tables exist, and two runs into separate results
 * directories produce byte-identical artifacts (same config + seed + backend
 * → same results).
 */
import assert from "node:assert/strict";
import { Cache } from "../../pipeline/cache.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { runSmokeInto } from "../fixtures/smoke.ts";

/** The metric names issue #3 promises. */
const REQUIRED = [
  "reward/mean",
  "reward/std",
  "frac_zero_std",
  "length/mean",
  "token_entropy/all",
  "token_entropy/planning",
  "token_entropy/execution",
  "rel_ppl/planning",
  "rel_ppl/execution",
  "semantic_entropy",
  "planning_ratio",
  "mask/precision",
  "mask/recall",
  "adv/mean",
  "adv/planning_mean",
  "loss",
  "clip/low",
  "clip/high",
  "kl",
  "grad_norm",
  "pass@1/id",
  "pass@1/ood",
  "pass@8/id",
  "pass@8/ood",
];

function outputs(dir: string): string[] {
  return [...new Cache(`${dir}/cache`).manifests()].map((m) => `${m.key} ${m.outputHash}`).sort();
}

Deno.test({
  name: "smoke experiment: all metrics and tables land in DuckDB, and reruns are byte-identical",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dirA = Deno.makeTempDirSync({ prefix: "smoke-a-" });
    const dirB = Deno.makeTempDirSync({ prefix: "smoke-b-" });
    await runSmokeInto(dirA);
    const store = await ResultsStore.open(dirA, { readOnly: true });
    try {
      const names = (await store.query("select distinct name from metrics")).rows.map((r) =>
        r[0] as string
      );
      const missing = REQUIRED.filter((n) => !names.includes(n));
      assert.deepEqual(missing, [], `missing metrics: ${missing.join(", ")}`);
      for (const table of ["rollouts", "tokens", "evaluations", "warmstart_loss"]) {
        const n = (await store.query(`select count(*) from ${table}`)).rows[0][0] as number;
        assert.ok(n > 0, `table ${table} is empty`);
      }
      // Each rollout's token rows are as long as its response.
      const mismatch = await store.query(
        `select count(*) from rollouts r
         join (select run_id, step, rollout, count(*) n from tokens group by all) t
         using (run_id, step, rollout) where r.length <> t.n`,
      );
      assert.deepEqual(mismatch.rows, [[0]]);
    } finally {
      await store.close();
    }
    await runSmokeInto(dirB);
    assert.ok(outputs(dirA).length >= 20);
    assert.deepEqual(outputs(dirB), outputs(dirA));
  },
});

Deno.test({
  name:
    "smoke experiment on the onnx backend: in-process and on 2 workers byte-identical, no cache entry shared with wasm",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const sets = ["runtime.backend=onnx"];
    const dirA = Deno.makeTempDirSync({ prefix: "smoke-onnx-a-" });
    const dirB = Deno.makeTempDirSync({ prefix: "smoke-onnx-b-" });
    await runSmokeInto(dirA, sets);
    await runSmokeInto(dirB, sets, 2); // worker threads load the engine themselves
    assert.ok(outputs(dirA).length >= 20);
    assert.deepEqual(outputs(dirB), outputs(dirA));
    // The backend is part of every key: no entry is shared with a wasm run.
    const wasm = Deno.makeTempDirSync({ prefix: "smoke-wasm-" });
    await runSmokeInto(wasm);
    const keys = new Set(outputs(wasm).map((line) => line.split(" ")[0]));
    assert.ok(outputs(dirA).every((line) => !keys.has(line.split(" ")[0])));
  },
});
