/**
 * `assign-credit` with `estimator: segment-mc` on a real (small, briefly warm-started) policy
 * and its own rollouts: the Monte-Carlo values come from the policy, the advantages obey the
 * estimator's structure, the same seed gives the same bytes, and misuse fails with a message.
 */
import assert from "node:assert/strict";
import { segmentStarts } from "../../algorithms/credit/mod.ts";
import type { JsonObject, StageContext, StageKind } from "../../pipeline/types.ts";
import type { CreditFile, MaskFile, RolloutsFile } from "../../stages/artifacts.ts";
import { assignCredit, clusterEntropy, sampleStage, warmstart } from "../../stages/mod.ts";

const RUNTIME = { backend: "onnx" };

/** Runs a stage kind directly (defaults applied) into a fresh directory. */
async function runStage(
  kind: StageKind,
  params: JsonObject,
  inputs: Record<string, string> = {},
  seed = 0,
): Promise<{ dir: string; metrics: Record<string, number> }> {
  const full: JsonObject = {};
  for (const [name, spec] of Object.entries(kind.params)) {
    if (spec.default !== undefined) full[name] = structuredClone(spec.default);
  }
  Object.assign(full, params);
  const problems = kind.check?.(full) ?? [];
  if (problems.length > 0) throw new Error(problems.join("; "));
  const dir = Deno.makeTempDirSync({ prefix: `seg_${kind.name}_` });
  const metrics: Record<string, number> = {};
  const ctx: StageContext = {
    stage: kind.name,
    step: 0,
    params: full,
    seed,
    runtime: RUNTIME,
    inputs: Object.fromEntries(
      Object.entries(inputs).map(([k, d]) => [k, { dir: d, hash: d, stage: k, step: 0 }]),
    ),
    outDir: dir,
    threads: 1,
    metric: (name, value) => metrics[name] = value,
    rows: () => {},
    progress: () => {},
    log: () => {},
  };
  await kind.run(ctx);
  return { dir, metrics };
}

const read = <T>(dir: string, file: string): T =>
  JSON.parse(Deno.readTextFileSync(`${dir}/${file}`)) as T;

/** A policy that solves some problems under the `answer` reward, its rollouts and masks. */
const setup = (async () => {
  const policy = await runStage(warmstart, {
    d_model: 48,
    layers: 1,
    heads: 2,
    steps: 250,
    batch: 32,
  });
  const sample = await runStage(sampleStage, { prompts: 6, group_size: 4 }, {
    policy: policy.dir,
  }, 3);
  const oracle = await runStage(clusterEntropy, { method: "oracle" }, { rollouts: sample.dir });
  return { policy: policy.dir, rollouts: sample.dir, mask: oracle.dir };
})();

const credit = async (params: JsonObject, seed = 5, withPolicy = true) => {
  const s = await setup;
  const inputs: Record<string, string> = { rollouts: s.rollouts, mask: s.mask };
  if (withPolicy) inputs.policy = s.policy;
  const out = await runStage(assignCredit, { estimator: "segment-mc", ...params }, inputs, seed);
  return {
    ...out,
    bytes: Deno.readTextFileSync(`${out.dir}/credit.json`),
    file: read<CreditFile>(out.dir, "credit.json"),
  };
};

Deno.test("segment-mc: advantages are differences of K-rollout values along the segments", async () => {
  const s = await setup;
  const data = read<RolloutsFile>(s.rollouts, "rollouts.json");
  const mask = read<MaskFile>(s.mask, "mask.json");
  const rewards = data.rollouts.map((r) => r.reward);
  // The fixture must be informative: some rollouts earn reward, some do not.
  assert.ok(rewards.includes(1) && rewards.includes(0), `rewards ${rewards}`);

  const K = 3;
  const { file, metrics } = await credit({ mc_rollouts: K });
  assert.equal(file.estimator, "segment-mc");
  let nonzeroInner = 0;
  data.rollouts.forEach((r, i) => {
    const adv = file.advantages[i];
    assert.equal(adv.length, r.response.length);
    const starts = segmentStarts(mask.planning[i], 1);
    // One advantage per segment, constant inside it.
    starts.forEach((st, j) => {
      const end = starts[j + 1] ?? adv.length;
      for (let t = st; t < end; t++) assert.equal(adv[t], adv[st]);
    });
    // Rebuild the values: V(prompt) = group mean, then cumulative sums; V(end) must be R,
    // and every inner value a multiple of 1/K in [0, 1].
    const group = data.rollouts.filter((q) => q.problem === r.problem).map((q) => q.reward);
    let v = group.reduce((a, b) => a + b, 0) / group.length;
    starts.forEach((st, j) => {
      v += adv[st];
      if (j + 1 < starts.length) {
        assert.ok(v > -1e-9 && v < 1 + 1e-9, `value ${v}`);
        assert.ok(Math.abs(v * K - Math.round(v * K)) < 1e-9, `value ${v} is not k/${K}`);
        if (adv[st] !== 0) nonzeroInner++;
      }
    });
    assert.ok(Math.abs(v - r.reward) < 1e-9, `rollout ${i}: V(end) ${v} vs R ${r.reward}`);
  });
  // The continuations found value somewhere inside the responses.
  assert.ok(nonzeroInner > 0);
  assert.ok(metrics["mc/unique_prefixes"] <= metrics["mc/prefixes"]);
  assert.ok(metrics["mc/prefixes"] > 0 && metrics["mc/sampled_tokens"] > 0);
});

Deno.test("segment-mc: the same seed gives the same bytes; another seed other values", async () => {
  const a = await credit({ mc_rollouts: 2 }, 11);
  const b = await credit({ mc_rollouts: 2 }, 11);
  assert.equal(a.bytes, b.bytes);
  const others = await Promise.all([12, 13, 14].map((seed) => credit({ mc_rollouts: 2 }, seed)));
  assert.ok(others.some((o) => o.bytes !== a.bytes));
});

Deno.test("segment-mc: mc_whiten gives mean 0 and unit unbiased std over the tokens", async () => {
  const { file } = await credit({ mc_rollouts: 2, mc_whiten: true });
  const all = file.advantages.flat();
  const mean = all.reduce((x, y) => x + y, 0) / all.length;
  const variance = all.reduce((s, x) => s + (x - mean) ** 2, 0) / (all.length - 1);
  assert.ok(Math.abs(mean) < 1e-9);
  assert.ok(Math.abs(variance - 1) < 1e-6, `variance ${variance}`);
});

Deno.test("segment-mc: clear errors for a missing policy, a reward mismatch and std scaling", async () => {
  const s = await setup;
  await assert.rejects(() => credit({}, 5, false), /needs: \{ policy: prev\.update \}/);
  // Rollouts whose recorded reward the given mc_reward does not reproduce.
  const data = read<RolloutsFile>(s.rollouts, "rollouts.json");
  data.rollouts[2].reward = 1 - data.rollouts[2].reward;
  const dir = Deno.makeTempDirSync({ prefix: "seg_flipped_" });
  Deno.writeTextFileSync(`${dir}/rollouts.json`, JSON.stringify(data));
  await assert.rejects(
    () =>
      runStage(assignCredit, { estimator: "segment-mc" }, {
        rollouts: dir,
        mask: s.mask,
        policy: s.policy,
      }),
    /mc_reward is "answer" but rollout 2 earned .*set assign-credit\.mc_reward to sample's/,
  );
  const p = (over: JsonObject) => assignCredit.check!({ ...defaults(), ...over });
  assert.deepEqual(p({ estimator: "segment-mc" }), []);
  assert.match(p({ estimator: "segment-mc", std_scaling: "group" }).join(), /takes "none"/);
  assert.match(p({ estimator: "segment-mcc" }).join(), /unknown .*segment-mc/);
});

function defaults(): JsonObject {
  return Object.fromEntries(
    Object.entries(assignCredit.params).map(([k, s]) => [k, s.default as JsonObject[string]]),
  );
}
