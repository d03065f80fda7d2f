/**
 * rlStep's rival loss options (issue 12) on hand-computed cases: Dr. GRPO's aggregation, GSPO's
 * sequence ratio and GSPO-token, KL-Cov, Clip-Cov and forking tokens; and the onnx backend
 * (tfjs autodiff of the loss w.r.t. the token statistics) agreeing with tfjs on cpu.
 */
import assert from "node:assert/strict";
import { Rng } from "../../algorithms/rng.ts";
import { type BackendName, useBackend } from "../../algorithms/policy/backend.ts";
import {
  DEFAULT_GPT_CONFIG,
  disposeGpt,
  type Gpt,
  gptFromArrays,
} from "../../algorithms/policy/gpt.ts";
import {
  Adam,
  type RlBatch,
  type RlOptions,
  rlStep,
  type RlStepResult,
  sequenceLogprobs,
} from "../../algorithms/policy/train.ts";
import { randomGpt, randomTokens, randomWeights, ratioBatch, TINY } from "./helpers.ts";
import { update } from "../../stages/update.ts";

/** One measuring step (lr 0: the weights stay put). */
async function measure(model: Gpt, batch: RlBatch, opts: RlOptions): Promise<RlStepResult> {
  const adam = new Adam({ lr: 0 });
  try {
    return await rlStep(model, adam, batch, opts);
  } finally {
    adam.dispose();
  }
}

const near = (a: number, b: number, what: string, tol = 1e-5) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

Deno.test("Dr. GRPO: seq-mean-token-sum-norm divides the token sum by B × the constant", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 11);
  // Â = r − group mean (std_scaling none): +0.5 on a 2-token answer, −0.5 on a 3-token one, ρ = 1.
  const batch = await ratioBatch(5, model, [
    [{ adv: 0.5, ratio: 1 }, { adv: 0.5, ratio: 1 }],
    [{ adv: -0.5, ratio: 1 }, { adv: -0.5, ratio: 1 }, { adv: -0.5, ratio: 1 }],
  ]);
  // Token losses −Â·ρ: sums −1 and +1.5.
  const drGrpo = await measure(model, batch, {
    lossAgg: "seq-mean-token-sum-norm",
    lossScaleFactor: 4,
  });
  near(drGrpo.loss, (-1 + 1.5) / (2 * 4), "Dr. GRPO (MAX_TOKENS 4)");
  // The constant, not the lengths: the same batch with 96.
  near(
    (await measure(model, batch, { lossAgg: "seq-mean-token-sum-norm", lossScaleFactor: 96 })).loss,
    0.5 / (2 * 96),
    "Dr. GRPO (MAX_TOKENS 96)",
  );
  // Against the length-normalised aggregations GRPO (per-sequence mean) and DAPO (token mean).
  near(
    (await measure(model, batch, { lossAgg: "seq-mean-token-mean" })).loss,
    (-0.5 + 0.5) / 2,
    "GRPO",
  );
  near((await measure(model, batch, {})).loss, 0.5 / 5, "DAPO token-mean");
  disposeGpt(model);
});

Deno.test("GSPO: s_i = exp(mean log ρ) with its own clip range; GSPO-token has its value", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 12);
  // Response 0: ρ = [1.2, 0.8] → s = √0.96 < 1 − 3e-4, but Â > 0, so the max keeps the
  // unclipped −Â·s. Response 1: ρ = 1.5 throughout → s = 1.5 > 1 + 4e-4 with Â > 0: clipped to
  // −(1 + 4e-4), no gradient.
  const batch = await ratioBatch(5, model, [
    [{ adv: 1, ratio: 1.2 }, { adv: 1, ratio: 0.8 }],
    [{ adv: 1, ratio: 1.5 }, { adv: 1, ratio: 1.5 }, { adv: 1, ratio: 1.5 }],
  ]);
  const gspo: RlOptions = {
    ratioLevel: "sequence",
    clipLow: 3e-4,
    clipHigh: 4e-4,
    lossAgg: "seq-mean-token-mean",
  };
  const s0 = Math.sqrt(1.2 * 0.8);
  const seq = await measure(model, batch, gspo);
  near(seq.loss, (-s0 - (1 + 4e-4)) / 2, "GSPO loss");
  near(seq.ratioMean, (2 * s0 + 3 * 1.5) / 5, "token mean of s_i");
  near(seq.clipHighFrac, 3 / 5, "response 1 clipped from above");
  const tok = await measure(model, batch, { ...gspo, ratioLevel: "sequence-token" });
  near(tok.loss, seq.loss, "GSPO-token value");
  // One advantage per response: the two gradients are the same.
  near(tok.gradNorm / seq.gradNorm, 1, "same gradient", 1e-5);
  // Only response 0 moves: with it alone the gradient is unchanged.
  const alone = await ratioBatch(5, model, [[{ adv: 1, ratio: 1.2 }, { adv: 1, ratio: 0.8 }]]);
  near(
    (await measure(model, alone, gspo)).gradNorm,
    2 * seq.gradNorm,
    "clipped response adds nothing",
  );
  // Token advantages (e.g. HICRA's): GSPO-token weighs each token by its own Â, GSPO does not.
  const mixed = await ratioBatch(5, model, [[{ adv: 2, ratio: 1.2 }, { adv: 0.1, ratio: 0.8 }]]);
  const gMixed = (await measure(model, mixed, gspo)).gradNorm;
  const tMixed = (await measure(model, mixed, { ...gspo, ratioLevel: "sequence-token" })).gradNorm;
  assert.ok(Math.abs(gMixed - tMixed) / gMixed > 1e-3, `${gMixed} vs ${tMixed}`);
  // Token-level PPO on the same batch clips nothing of response 0 at 0.2 / 0.28.
  near((await measure(model, batch, {})).ratioMean, (1.2 + 0.8 + 4.5) / 5, "token ratios");
  disposeGpt(model);
});

Deno.test("GSPO / GSPO-token: log s is clamped at 10 after the stop-gradients (verl)", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 16);
  // ρ = e^12 on both tokens → log s = 12, clamped to 10. Â = −1 < 0, so the max keeps the
  // unclipped −Â·s = e^10 (clip(s) = 1.2 is smaller); verl's torch.clamp passes no gradient.
  const batch = await ratioBatch(5, model, [[{ adv: -1, ratio: Math.exp(12) }, {
    adv: -1,
    ratio: Math.exp(12),
  }]]);
  for (const ratioLevel of ["sequence", "sequence-token"] as const) {
    const r = await measure(model, batch, { ratioLevel, lossAgg: "seq-mean-token-mean" });
    near(r.loss / Math.exp(10), 1, `${ratioLevel} loss = e^10`);
    assert.equal(r.gradNorm, 0, `${ratioLevel}: a clamped ratio has no gradient`);
  }
  // Just under the clamp (log s = 9) both levels have a gradient, GSPO-token's as large as GSPO's.
  const under = await ratioBatch(5, model, [[{ adv: -1, ratio: Math.exp(9) }, {
    adv: -1,
    ratio: Math.exp(9),
  }]]);
  const seq = await measure(model, under, {
    ratioLevel: "sequence",
    lossAgg: "seq-mean-token-mean",
  });
  const tok = await measure(model, under, {
    ratioLevel: "sequence-token",
    lossAgg: "seq-mean-token-mean",
  });
  assert.ok(seq.gradNorm > 0);
  near(tok.gradNorm / seq.gradNorm, 1, "same gradient below the clamp", 1e-4);
  disposeGpt(model);
});

Deno.test("KL-Cov: no ratio clipping, |log ρ| penalty on the selected tokens", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 13);
  const cases = [
    [{ adv: 1, ratio: 1.5 }, { adv: -1, ratio: 0.5 }],
    [{ adv: 0.5, ratio: 1 }, { adv: -2, ratio: 1.2 }],
  ];
  const batch = await ratioBatch(5, model, cases);
  const flat = cases.flat();
  // klCovRatio 1 selects every token (k = N): loss = mean(−Â·ρ + 0.1·|log ρ|).
  const all = await measure(model, batch, { policyLoss: "kl-cov", klCovRatio: 1, ppoKlCoef: 0.1 });
  const want = flat.reduce((a, x) => a - x.adv * x.ratio + 0.1 * Math.abs(Math.log(x.ratio)), 0);
  near(all.loss, want / 4, "all selected");
  near(all.covSelectedFrac, 1, "selected share");
  assert.equal(all.clipLowFrac + all.clipHighFrac, 0, "KL-Cov clips nothing");
  // k = max(1, ⌊4·0.0002⌋) = 1 token: the loss is the unclipped surrogate plus one penalty.
  const one = await measure(model, batch, { policyLoss: "kl-cov" });
  const unclipped = flat.reduce((a, x) => a - x.adv * x.ratio, 0) / 4;
  const penalties = flat.map((x) => 0.1 * Math.abs(Math.log(x.ratio)) / 4);
  assert.ok(
    penalties.some((p) => Math.abs(one.loss - unclipped - p) < 1e-5),
    `${one.loss} is the unclipped ${unclipped} plus one token's penalty`,
  );
  near(one.covSelectedFrac, 1 / 4, "one token");
  // The vanilla loss on this batch clips (ρ = 1.5 with Â > 0): a different value.
  assert.ok(Math.abs((await measure(model, batch, {})).loss - unclipped) > 0.05);
  disposeGpt(model);
});

Deno.test("Clip-Cov: the selected tokens are detached from the clipped surrogate", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 14);
  // Token 0 is PPO-clipped (Â > 0, ρ = 1.5); the others are not.
  const cases = [[{ adv: 1, ratio: 1.5 }, { adv: -1, ratio: 0.9 }, { adv: 0.5, ratio: 1.1 }]];
  const batch = await ratioBatch(5, model, cases);
  const base: RlOptions = { policyLoss: "clip-cov", rng: new Rng(3) };
  // Every unclipped token is a candidate (unbounded band) and clip_num = N: all detached, so
  // only the clipped token's −Â·clip(ρ) = −1.28 remains, and nothing has a gradient.
  const all = await measure(model, batch, { ...base, clipCovRatio: 1, clipCovLb: -Infinity });
  near(all.loss, -1.28 / 3, "only the clipped token");
  assert.equal(all.gradNorm, 0);
  near(all.covSelectedFrac, 2 / 3, "two detached");
  // An empty band detaches nothing: the vanilla loss.
  const none = await measure(model, batch, { ...base, clipCovLb: 1e9, clipCovUb: 2e9 });
  const vanilla = await measure(model, batch, {});
  near(none.loss, vanilla.loss, "no candidate = vanilla");
  near(none.gradNorm, vanilla.gradNorm, "same gradient");
  await assert.rejects(() => measure(model, batch, { policyLoss: "clip-cov" }), /needs opts.rng/);
  await assert.rejects(
    () => measure(model, batch, { policyLoss: "kl-cov", ratioLevel: "sequence" }),
    /defined on token ratios/,
  );
  disposeGpt(model);
});

Deno.test("forking tokens: only tokens at or above the entropy quantile keep their pg loss", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 15);
  const cases = [
    [{ adv: 1, ratio: 1 }, { adv: -1, ratio: 1 }, { adv: 0.5, ratio: 1 }],
    [{ adv: 2, ratio: 1 }, { adv: -0.5, ratio: 1 }],
  ];
  const batch = await ratioBatch(5, model, cases);
  const flat = cases.flat();
  const h = (await sequenceLogprobs(model, batch.tokens, batch.responseStart)).entropy.flat();
  // ρ = 0 keeps the single highest-entropy token; the token-mean keeps dividing by all 5.
  const top = h.indexOf(Math.max(...h));
  const only = await measure(model, batch, { topEntropyQuantile: 0 });
  near(only.loss, -flat[top].adv / 5, "highest-entropy token only");
  near(only.entropyKeptFrac, 1 / 5, "kept share");
  // ρ = 1 is the plain loss: every token kept.
  const all = await measure(model, batch, { topEntropyQuantile: 1 });
  near(all.loss, -flat.reduce((a, x) => a + x.adv, 0) / 5, "all tokens");
  assert.equal(all.entropyKeptFrac, 1);
  assert.equal(all.covSelectedFrac, 0);
  // ρ = 0.5: τ = torch.quantile(H, 0.5) = the median of 5 → the 3 tokens with H ≥ median.
  const median = [...h].sort((a, b) => a - b)[2];
  const kept = flat.filter((_, k) => h[k] >= median);
  const half = await measure(model, batch, { topEntropyQuantile: 0.5 });
  near(half.loss, -kept.reduce((a, x) => a + x.adv, 0) / 5, "top half");
  near(half.entropyKeptFrac, 3 / 5, "three kept");
  // The entropy bonus still sees every token.
  const bonus = await measure(model, batch, { topEntropyQuantile: 0, entropyCoef: 1 });
  near(bonus.loss, only.loss - h.reduce((a, v) => a + v, 0) / 5, "bonus over all tokens");
  disposeGpt(model);
});

/** One rlStep with the given options on a fresh model under `backend`. */
async function stepOn(backend: BackendName, opts: RlOptions): Promise<RlStepResult> {
  await useBackend(backend);
  // The default width with one layer and a short context: cpu (the reference) stays quick.
  const config = { ...DEFAULT_GPT_CONFIG, nLayers: 1, contextLength: 32 };
  const model = gptFromArrays(config, randomWeights(config, 21, 0.02));
  const rng = new Rng(22);
  const tokens = randomTokens(rng, 6, 30, config.vocabSize).map((s, i) => s.slice(0, 22 + i));
  const responseStart = tokens.map(() => 6);
  const cur = await sequenceLogprobs(model, tokens, responseStart);
  const batch: RlBatch = {
    tokens,
    responseStart,
    advantages: tokens.map((s, i) =>
      Array.from({ length: s.length - 6 }, (_, j) => ((i % 3) - 1) * (1 + 0.1 * (j % 4)))
    ),
    oldLogprobs: cur.logprobs.map((row) => row.map((x, j) => x - 0.1 * Math.sin(j + 1))),
  };
  try {
    return await measure(model, batch, opts);
  } finally {
    disposeGpt(model);
  }
}

Deno.test("onnx and cpu agree on one step with the new options", async () => {
  const cases: RlOptions[] = [
    { topEntropyQuantile: 0.2, ratioLevel: "sequence-token", lossAgg: "seq-mean-token-mean" },
    { ratioLevel: "sequence", clipLow: 3e-4, clipHigh: 4e-4 },
    { policyLoss: "kl-cov", klCovRatio: 0.05 },
    { policyLoss: "clip-cov", clipCovRatio: 0.05, clipCovLb: 0, rng: new Rng(1) },
  ];
  for (const opts of cases) {
    const what = JSON.stringify({ ...opts, rng: undefined });
    if (opts.rng) opts.rng = new Rng(1);
    const ref = await stepOn("cpu", opts);
    if (opts.rng) opts.rng = new Rng(1);
    const got = await stepOn("onnx", opts);
    for (const key of ["loss", "pgLoss", "entropy", "ratioMean"] as const) {
      near(got[key], ref[key], `${what} ${key}`);
    }
    assert.ok(ref.gradNorm > 0, what);
    near(got.gradNorm / ref.gradNorm, 1, `${what} grad norm`);
    assert.equal(got.entropyKeptFrac, ref.entropyKeptFrac, what);
    assert.equal(got.covSelectedFrac, ref.covSelectedFrac, what);
  }
  await useBackend("cpu");
});

Deno.test("update stage: the options default to off and bad combinations are load-time errors", () => {
  const defaults = Object.fromEntries(
    Object.entries(update.params).map(([k, spec]) => [k, spec.default!]),
  );
  assert.equal(defaults.top_entropy_quantile, 1);
  assert.equal(defaults.ratio, "token");
  assert.equal(defaults.policy_loss, "vanilla");
  assert.deepEqual(update.check!(defaults), []);
  assert.deepEqual(update.check!({ ...defaults, policy_loss: "kl-cov", ratio: "sequence" }), [
    'policy_loss: "kl-cov" is defined on token ratios; set ratio: token (got ratio: sequence)',
  ]);
  assert.deepEqual(update.check!({ ...defaults, policy_loss: "clip-cov", clip_cov_ratio: 0 }), [
    "clip_cov_ratio: must be > 0 with policy_loss: clip-cov",
  ]);
});
