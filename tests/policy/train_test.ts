import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../algorithms/rng.ts";
import { useBackend } from "../../algorithms/policy/backend.ts";
import { sample } from "../../algorithms/policy/sampler.ts";
import {
  cloneGpt,
  DEFAULT_GPT_CONFIG,
  disposeGpt,
  initGpt,
  logits,
  namedParameters,
} from "../../algorithms/policy/gpt.ts";
import {
  Adam,
  type LossAgg,
  rlStep,
  sequenceLogprobs,
  supervisedLoss,
  supervisedStep,
} from "../../algorithms/policy/train.ts";
import { maxAbsDiff, randomGpt, randomTokens, ratioBatch, TINY } from "./helpers.ts";

const CASES = [
  [{ adv: -1, ratio: 0.5 }, { adv: -1, ratio: 0.9 }, { adv: 1, ratio: 1.5 }],
  [{ adv: 1, ratio: 1.1 }, { adv: 1, ratio: 0.5 }],
  [{ adv: -0.5, ratio: 1.5 }, { adv: 2, ratio: 1 }, { adv: -2, ratio: 0.7 }, {
    adv: 0.3,
    ratio: 1.3,
  }],
];

/** The clipped-surrogate token loss, in JS. */
function tokenLoss(adv: number, ratio: number): number {
  const clipped = Math.min(Math.max(ratio, 0.8), 1.28);
  return Math.max(-adv * ratio, -adv * clipped);
}

Deno.test("rlStep: clip fractions, ratio mean and loss aggregations", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 1);
  const batch = await ratioBatch(3, model, CASES);
  const flat = CASES.flat();
  const n = flat.length;
  const losses = CASES.map((c) => c.map((x) => tokenLoss(x.adv, x.ratio)));
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const expected: Record<LossAgg, number> = {
    "token-mean": sum(losses.flat()) / n,
    "seq-mean-token-sum": sum(losses.map(sum)) / 3,
    "seq-mean-token-mean": sum(losses.map((l) => sum(l) / l.length)) / 3,
    // Default divisor: the longest response (4 tokens).
    "seq-mean-token-sum-norm": sum(losses.map((l) => sum(l) / 4)) / 3,
  };
  for (const lossAgg of Object.keys(expected) as LossAgg[]) {
    const adam = new Adam({ lr: 0 }); // measure only
    const r = await rlStep(model, adam, batch, { lossAgg });
    assert.ok(Math.abs(r.loss - expected[lossAgg]) < 1e-5, lossAgg);
    assert.equal(r.pgLoss, r.loss);
    // Â<0 & ρ<0.8: (-1, 0.5), (-2, 0.7). Â>0 & ρ>1.28: (1, 1.5), (0.3, 1.3).
    assert.ok(Math.abs(r.clipLowFrac - 2 / n) < 1e-12);
    assert.ok(Math.abs(r.clipHighFrac - 2 / n) < 1e-12);
    assert.ok(Math.abs(r.ratioMean - sum(flat.map((x) => x.ratio)) / n) < 1e-5);
    assert.equal(r.tokens, n);
    assert.equal(r.kl, 0);
    adam.dispose();
  }
  const adam = new Adam({ lr: 0 });
  const norm = await rlStep(model, adam, batch, {
    lossAgg: "seq-mean-token-sum-norm",
    lossScaleFactor: 10,
  });
  assert.ok(
    Math.abs(norm.loss - sum(losses.map((l) => sum(l) / 10)) / 3) < 1e-5,
  );
  adam.dispose();
  disposeGpt(model);
});

Deno.test("rlStep: clipped tokens give no gradient", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 2);
  const clippedOnly = await ratioBatch(3, model, [[{ adv: -1, ratio: 0.5 }, {
    adv: 1,
    ratio: 1.5,
  }]]);
  const adam = new Adam({ lr: 0 });
  assert.equal((await rlStep(model, adam, clippedOnly)).gradNorm, 0);
  const live = await ratioBatch(3, model, [[{ adv: -1, ratio: 0.9 }]]);
  assert.ok((await rlStep(model, adam, live)).gradNorm > 0);
  adam.dispose();
  disposeGpt(model);
});

Deno.test("rlStep: entropy bonus and k3 KL to a reference", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 3);
  const batch = await ratioBatch(3, model, CASES);
  const adam = new Adam({ lr: 0 });
  // Same policy as the reference: KL 0.
  const same = cloneGpt(model);
  const r0 = await rlStep(model, adam, { ...batch, refModel: same }, { klBeta: 0.5 });
  assert.ok(Math.abs(r0.kl) < 1e-6);
  // A different reference: k3 token mean from the two models' log-probs.
  const ref = randomGpt(TINY, 4);
  const starts = batch.responseStart;
  const lp = await sequenceLogprobs(model, batch.tokens, starts);
  const lpRef = await sequenceLogprobs(ref, batch.tokens, starts);
  const k3 = lp.logprobs.flat().map((l, i) => {
    const d = lpRef.logprobs.flat()[i] - l;
    return Math.exp(d) - d - 1;
  });
  const klMean = k3.reduce((a, b) => a + b, 0) / k3.length;
  const entMean = lp.entropy.flat().reduce((a, b) => a + b, 0) / k3.length;
  const r = await rlStep(model, adam, { ...batch, refModel: ref }, {
    klBeta: 0.5,
    entropyCoef: 0.1,
  });
  assert.ok(Math.abs(r.kl - klMean) < 1e-5, `${r.kl} vs ${klMean}`);
  assert.ok(Math.abs(r.entropy - entMean) < 1e-5);
  assert.ok(
    Math.abs(r.loss - (r.pgLoss - 0.1 * entMean + 0.5 * klMean)) < 1e-5,
  );
  await assert.rejects(() => rlStep(model, adam, batch, { klBeta: 0.1 }), /refModel/);
  adam.dispose();
  [model, same, ref].forEach(disposeGpt);
});

Deno.test("NaN / Inf in the loss or gradient norm throws and skips the update", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 5);
  const batch = await ratioBatch(3, model, CASES);
  const adam = new Adam({ lr: 0.1 });
  // Huge advantages: finite loss, but the squared gradients overflow.
  const huge = {
    ...batch,
    advantages: batch.advantages.map((a) => a.map(() => 3e38)),
  };
  const before = namedParameters(model).map((p) => p.variable.dataSync().slice());
  await assert.rejects(
    () => rlStep(model, adam, huge),
    /rlStep: (gradient norm|loss) is (Infinity|-Infinity|NaN)/,
  );
  const head = namedParameters(model).at(-1)!.variable;
  head.assign(tf.fill(head.shape, NaN));
  await assert.rejects(() => rlStep(model, adam, batch), /rlStep: loss is NaN/);
  const sup = {
    tokens: batch.tokens,
    lossMask: batch.tokens.map((s) => s.map(() => true)),
  };
  await assert.rejects(
    () => supervisedStep(model, adam, sup),
    /supervisedStep: loss is NaN/,
  );
  namedParameters(model).slice(0, -1).forEach((p, i) =>
    assert.deepEqual(p.variable.dataSync(), before[i])
  );
  assert.equal(adam.step, 0);
  await assert.rejects(
    () =>
      rlStep(model, adam, {
        ...batch,
        advantages: [[NaN, 0, 0], [0, 0], [0, 0, 0, 0]],
      }),
    /advantages has a non-finite value/,
  );
  adam.dispose();
  disposeGpt(model);
});

Deno.test("supervisedStep reduces the loss on a fixed batch in 30 steps", async () => {
  await useBackend("cpu");
  const model = initGpt(TINY, 1);
  const rng = new Rng(8);
  const tokens = randomTokens(rng, 4, 10, TINY.vocabSize);
  tokens[3] = tokens[3].slice(0, 6); // ragged: padded with PAD 0
  const lossMask = tokens.map((s) => s.map((_, j) => j >= 2));
  const adam = new Adam({ lr: 1e-2 });
  const first = (await supervisedStep(model, adam, { tokens, lossMask })).loss;
  let last = first;
  for (let i = 0; i < 29; i++) {
    last = (await supervisedStep(model, adam, { tokens, lossMask })).loss;
  }
  const after = tf.tidy(() => supervisedLoss(model, { tokens, lossMask }).dataSync()[0]);
  assert.ok(
    Math.abs(first - Math.log(TINY.vocabSize)) < 0.1,
    `initial loss ${first}`,
  );
  assert.ok(after < 0.5 * first, `loss ${first} → ${after}`);
  assert.ok(last < first);
  assert.equal(adam.step, 30);
  adam.dispose();
  disposeGpt(model);
});

Deno.test("Adam matches the reference update (with AdamW decay)", async () => {
  await useBackend("cpu");
  const p = tf.variable(tf.tensor2d([[1, -2], [0.5, 3]]));
  const adam = new Adam({
    lr: 0.1,
    beta1: 0.8,
    beta2: 0.9,
    epsilon: 1e-6,
    weightDecay: 0.01,
  });
  const theta = [1, -2, 0.5, 3];
  const m = [0, 0, 0, 0], v = [0, 0, 0, 0];
  for (let step = 1; step <= 3; step++) {
    const g = theta.map((x) => 2 * x + step); // any gradient
    adam.apply([p], [tf.tensor2d(g, [2, 2])]);
    for (let i = 0; i < 4; i++) {
      m[i] = 0.8 * m[i] + 0.2 * g[i];
      v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i];
      const mh = m[i] / (1 - 0.8 ** step), vh = v[i] / (1 - 0.9 ** step);
      theta[i] -= 0.1 * mh / (Math.sqrt(vh) + 1e-6) + 0.1 * 0.01 * theta[i];
    }
  }
  assert.ok(maxAbsDiff(p.dataSync(), theta) < 1e-5);
  adam.dispose();
  p.dispose();
});

Deno.test("cpu and wasm agree on one rlStep (loss 1e-6 abs, grad norm 1e-4 rel, logits after 1e-4 abs)", async () => {
  const rng = new Rng(21);
  const cfg = DEFAULT_GPT_CONFIG;
  const tokens = randomTokens(rng, 6, 40, cfg.vocabSize);
  const responseStart = tokens.map((_, i) => 10 + i);
  const advantages = tokens.map((s, i) => s.slice(responseStart[i]).map(() => rng.normal()));
  const run = async (backend: "cpu" | "wasm") => {
    await useBackend(backend);
    const model = initGpt(cfg, 3);
    const old = await sequenceLogprobs(model, tokens, responseStart);
    // Perturb old log-probs so that some ratios are clipped.
    const oldLogprobs = old.logprobs.map((l) => l.map((x, j) => x + 0.3 * Math.sin(j)));
    const adam = new Adam({ lr: 1e-3 });
    const r = await rlStep(model, adam, {
      tokens,
      responseStart,
      advantages,
      oldLogprobs,
    });
    const after = tf.tidy(() => logits(model, tf.tensor2d(tokens, undefined, "int32")).dataSync());
    adam.dispose();
    disposeGpt(model);
    return { r, after };
  };
  const cpu = await run("cpu");
  const wasm = await run("wasm");
  await useBackend("cpu");
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), 1e-6);
  assert.ok(
    Math.abs(cpu.r.loss - wasm.r.loss) < 1e-6,
    `${cpu.r.loss} vs ${wasm.r.loss}`,
  );
  assert.ok(rel(cpu.r.gradNorm, wasm.r.gradNorm) < 1e-4);
  assert.equal(cpu.r.clipLowFrac, wasm.r.clipLowFrac);
  assert.equal(cpu.r.clipHighFrac, wasm.r.clipHighFrac);
  assert.ok(cpu.r.clipLowFrac + cpu.r.clipHighFrac > 0);
  assert.ok(
    maxAbsDiff(cpu.after, wasm.after) < 1e-4,
    `${maxAbsDiff(cpu.after, wasm.after)}`,
  );
});

Deno.test("train functions validate their batches", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 1);
  const adam = new Adam({ lr: 0 });
  const base = {
    tokens: [[1, 2, 3]],
    responseStart: [1],
    advantages: [[1, 1]],
    oldLogprobs: [[0, 0]],
  };
  await assert.rejects(
    () => rlStep(model, adam, { ...base, responseStart: [0] }),
    /responseStart\[0\] = 0/,
  );
  await assert.rejects(
    () => rlStep(model, adam, { ...base, advantages: [[1]] }),
    /2 response tokens but 1 advantages/,
  );
  await assert.rejects(
    () => rlStep(model, adam, { ...base, tokens: [[1, 2, 30]] }),
    /token 30 outside/,
  );
  await assert.rejects(
    () =>
      supervisedStep(model, adam, {
        tokens: [[1, 2]],
        lossMask: [[true, false]],
      }),
    /selects no token/,
  );
  const lp = await sequenceLogprobs(model, [[1, 2, 3], [4, 5]], [3, 1]);
  assert.deepEqual(lp.logprobs[0], []);
  assert.equal(lp.logprobs[1].length, 1);
  adam.dispose();
  disposeGpt(model);
});

Deno.test("training steps and sampling leak no tensors (cpu, onnx)", async () => {
  for (const backend of ["cpu", "onnx"] as const) await leakCheck(backend);
  await useBackend("cpu");
});

async function leakCheck(backend: "cpu" | "onnx") {
  await useBackend(backend);
  const model = randomGpt(TINY, 1);
  const ref = cloneGpt(model);
  const batch = { ...(await ratioBatch(3, model, CASES)), refModel: ref };
  const sup = { tokens: batch.tokens, lossMask: batch.tokens.map((s) => s.map(() => true)) };
  const adam = new Adam({ lr: 1e-3 });
  const prompts = batch.tokens.map((s) => s.slice(0, 3));
  const round = async () => {
    await rlStep(model, adam, batch, { klBeta: 0.1, entropyCoef: 0.01 });
    await rlStep(model, adam, batch); // entropy unused by the loss
    await supervisedStep(model, adam, sup);
    await sequenceLogprobs(model, batch.tokens, batch.responseStart);
    await sample(model, prompts, { maxNewTokens: 4, temperature: 1, topP: 1, eosId: -1, seed: 0 });
  };
  await round(); // allocates the optimizer moments
  const before = tf.memory().numTensors;
  await round();
  assert.equal(tf.memory().numTensors, before, `${backend} leaks tensors`);
  adam.dispose();
  disposeGpt(model);
  disposeGpt(ref);
}

Deno.test("rlStep without clipping (ε = Infinity) is the plain ratio-weighted loss", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 1);
  const batch = await ratioBatch(3, model, CASES);
  const flat = CASES.flat();
  const adam = new Adam({ lr: 0 });
  const r = await rlStep(model, adam, batch, { clipLow: Infinity, clipHigh: Infinity });
  const expected = flat.reduce((a, x) => a - x.adv * x.ratio, 0) / flat.length;
  assert.ok(Math.abs(r.loss - expected) < 1e-5);
  assert.equal(r.clipLowFrac + r.clipHighFrac, 0);
  adam.dispose();
  disposeGpt(model);
});
