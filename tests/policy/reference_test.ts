/**
 * The optimised GPT (custom gradients, split QKV weights, sampling fast
 * paths) against a straightforward reference written with plain tfjs ops and
 * autodiff, on cpu and wasm. Tolerances: logits 1e-5 abs; per-parameter
 * gradients 1e-5 × the gradient's max-abs; rlStep loss 1e-6 abs and
 * gradient norm 1e-5 relative.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../algorithms/rng.ts";
import { useBackend } from "../../algorithms/policy/backend.ts";
import {
  DEFAULT_GPT_CONFIG,
  disposeCache,
  disposeGpt,
  disposeSamplingWeights,
  forwardCached,
  type Gpt,
  initGpt,
  type KvCache,
  logits,
  namedParameters,
  samplingWeights,
} from "../../algorithms/policy/gpt.ts";
import { Adam, rlStep } from "../../algorithms/policy/train.ts";
import { maxAbsDiff, randomGpt, randomTokens, TINY } from "./helpers.ts";

const BACKENDS = ["cpu", "wasm"] as const;

/** The GPT forward pass written plainly (the unoptimised formulation). */
function referenceLogits(model: Gpt, tokens: tf.Tensor2D): tf.Tensor {
  const { vocabSize, dModel: d, nHeads: h } = model.config;
  const [b, t] = tokens.shape;
  const hd = d / h;
  const layerNorm = (x: tf.Tensor, g: tf.Tensor, beta: tf.Tensor) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), beta);
  };
  const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
  const heads = (m: tf.Tensor) => tf.transpose(tf.reshape(m, [b, t, h, hd]), [0, 2, 1, 3]);
  const maskData = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) maskData[i * t + j] = -1e9;
  const mask = tf.tensor2d(maskData, [t, t]);

  const oneHot = tf.cast(tf.oneHot(tf.reshape(tokens, [b * t]), vocabSize), "float32");
  const tok = tf.reshape(tf.matMul(oneHot, model.tokEmb), [b, t, d]);
  let x = tf.reshape(tf.add(tok, tf.slice(model.posEmb, [0, 0], [t, d])), [b * t, d]);
  for (const blk of model.blocks) {
    const qkv = tf.add(tf.matMul(layerNorm(x, blk.ln1G, blk.ln1B), blk.wQkv), blk.bQkv);
    const [q, k, v] = tf.split(qkv, 3, 1).map(heads);
    const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(hd)), mask);
    const y = tf.matMul(tf.softmax(scores), v);
    const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b * t, d]);
    x = tf.add(x, tf.add(tf.matMul(merged, blk.wO), blk.bO));
    const hidden = gelu(tf.add(tf.matMul(layerNorm(x, blk.ln2G, blk.ln2B), blk.wIn), blk.bIn));
    x = tf.add(x, tf.add(tf.matMul(hidden, blk.wOut), blk.bOut));
  }
  const out = tf.matMul(layerNorm(x, model.lnFG, model.lnFB), model.head);
  return tf.reshape(out, [b, t, vocabSize]);
}

/** Models under test: the default (GPT-2 init) and TINY with large weights. */
function models(): { name: string; model: Gpt; tokens: number[][] }[] {
  const rng = new Rng(31);
  return [
    {
      name: "default",
      model: initGpt(DEFAULT_GPT_CONFIG, 2),
      tokens: randomTokens(rng, 3, 40, DEFAULT_GPT_CONFIG.vocabSize),
    },
    { name: "tiny", model: randomGpt(TINY, 6), tokens: randomTokens(rng, 4, 12, TINY.vocabSize) },
  ];
}

Deno.test("optimised forward and KV-cache steps equal the reference forward within 1e-5 (cpu, wasm)", async () => {
  for (const backend of BACKENDS) {
    await useBackend(backend);
    for (const { name, model, tokens } of models()) {
      const x = tf.tensor2d(tokens, undefined, "int32");
      const ref = tf.tidy(() => referenceLogits(model, x).dataSync());
      const opt = tf.tidy(() => logits(model, x).dataSync());
      const diff = maxAbsDiff(ref, opt);
      assert.ok(diff < 1e-5, `${backend} ${name}: forward differs by ${diff}`);

      // The sampling path: prefill 5 tokens, then one token per step.
      const weights = samplingWeights(model);
      const [b, t] = x.shape;
      const v = model.config.vocabSize;
      let cache: KvCache | null = null;
      const steps: Float32Array[] = [];
      for (let s = 0; s < t;) {
        const n = s === 0 ? 5 : 1;
        const input = tf.tensor2d(tokens.map((r) => r.slice(s, s + n)), [b, n], "int32");
        const step = forwardCached(model, input, cache, weights);
        disposeCache(cache);
        input.dispose();
        cache = step.cache;
        steps.push(step.logits.dataSync() as Float32Array);
        step.logits.dispose();
        s += n;
      }
      disposeCache(cache);
      disposeSamplingWeights(weights);
      // Reassemble [B, T, V] from the per-step [B, n, V] pieces.
      const inc = new Float32Array(b * t * v);
      let pos = 0;
      for (const piece of steps) {
        const n = piece.length / (b * v);
        for (let r = 0; r < b; r++) {
          inc.set(piece.subarray(r * n * v, (r + 1) * n * v), (r * t + pos) * v);
        }
        pos += n;
      }
      const cachedDiff = maxAbsDiff(ref, inc);
      assert.ok(cachedDiff < 1e-5, `${backend} ${name}: KV-cache path differs by ${cachedDiff}`);
      x.dispose();
      disposeGpt(model);
    }
  }
  await useBackend("cpu");
});

Deno.test("optimised gradients equal the reference's autodiff within 1e-5 relative (cpu, wasm)", async () => {
  for (const backend of BACKENDS) {
    await useBackend(backend);
    for (const { name, model, tokens } of models()) {
      const x = tf.tensor2d(tokens, undefined, "int32");
      // A loss that weights every logit differently, so every path matters.
      const [b, t] = x.shape;
      const w = tf.tidy(() => tf.sin(tf.range(0, b * t * model.config.vocabSize)));
      const vars = namedParameters(model).map((p) => p.variable);
      const lossOf = (f: (m: Gpt, x: tf.Tensor2D) => tf.Tensor) => () =>
        tf.sum(tf.mul(tf.reshape(f(model, x), [-1]), w)) as tf.Scalar;
      const ref = tf.variableGrads(lossOf(referenceLogits), vars);
      const opt = tf.variableGrads(lossOf(logits), vars);
      namedParameters(model).forEach(({ name: param, variable }) => {
        const g = ref.grads[variable.name].dataSync();
        const scale = Math.max(...g.map(Math.abs), 1e-6);
        const diff = maxAbsDiff(g, opt.grads[variable.name].dataSync());
        assert.ok(diff < 1e-5 * scale, `${backend} ${name} ${param}: ${diff} (scale ${scale})`);
      });
      tf.dispose([x, w, ref.value, opt.value, ...Object.values(ref.grads)]);
      tf.dispose(Object.values(opt.grads));
      disposeGpt(model);
    }
  }
  await useBackend("cpu");
});

Deno.test("one rlStep's loss and gradient norm equal the reference's (loss 1e-6 abs, norm 1e-5 rel; cpu, wasm)", async () => {
  const clipLow = 0.2, clipHigh = 0.28;
  for (const backend of BACKENDS) {
    await useBackend(backend);
    const rng = new Rng(41);
    const cfg = DEFAULT_GPT_CONFIG;
    const tokens = randomTokens(rng, 5, 30, cfg.vocabSize);
    const responseStart = tokens.map((_, i) => 8 + i);
    const advantages = tokens.map((s, i) => s.slice(responseStart[i]).map(() => rng.normal()));
    const model = initGpt(cfg, 5);
    // Old log-probs near the current ones, so that some ratios are clipped.
    const oldLogprobs = tokens.map((s, i) =>
      s.slice(responseStart[i]).map((_, j) => -Math.log(cfg.vocabSize) + 0.3 * Math.sin(j))
    );

    // Reference: token-mean clipped surrogate on the plain forward.
    const t = tokens[0].length - 1;
    const pack = (f: (i: number, j: number) => number) =>
      tf.tensor2d(tokens.map((_, i) => Array.from({ length: t }, (_, j) => f(i, j))));
    const inRange = (i: number, j: number) => j + 1 >= responseStart[i];
    const count = tokens.reduce((n, s, i) => n + s.length - responseStart[i], 0);
    const inputs = tf.tensor2d(tokens.map((s) => s.slice(0, t)), undefined, "int32");
    const targets = tf.tensor2d(tokens.map((s) => s.slice(1)), undefined, "int32");
    const mask = pack((i, j) => inRange(i, j) ? 1 : 0);
    const adv = pack((i, j) => inRange(i, j) ? advantages[i][j + 1 - responseStart[i]] : 0);
    const old = pack((i, j) => inRange(i, j) ? oldLogprobs[i][j + 1 - responseStart[i]] : 0);
    const vars = namedParameters(model).map((p) => p.variable);
    const ref = tf.variableGrads(() => {
      const logpAll = tf.logSoftmax(referenceLogits(model, inputs));
      const hot = tf.cast(tf.oneHot(targets, cfg.vocabSize), "float32");
      const logp = tf.sum(tf.mul(logpAll, hot), -1);
      const ratio = tf.exp(tf.clipByValue(tf.mul(tf.sub(logp, old), mask), -20, 20));
      const pg = tf.maximum(
        tf.mul(tf.neg(adv), ratio),
        tf.mul(tf.neg(adv), tf.clipByValue(ratio, 1 - clipLow, 1 + clipHigh)),
      );
      return tf.div(tf.sum(tf.mul(pg, mask)), count) as tf.Scalar;
    }, vars);
    const refLoss = ref.value.dataSync()[0];
    const refNorm = Math.sqrt(
      Object.values(ref.grads).reduce(
        (s, g) => s + tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]),
        0,
      ),
    );
    tf.dispose([inputs, targets, mask, adv, old, ref.value, ...Object.values(ref.grads)]);

    const adam = new Adam({ lr: 1e-3 });
    const r = await rlStep(model, adam, { tokens, responseStart, advantages, oldLogprobs }, {
      clipLow,
      clipHigh,
    });
    adam.dispose();
    disposeGpt(model);
    assert.ok(r.clipLowFrac + r.clipHighFrac > 0, "no token was clipped");
    assert.ok(Math.abs(r.loss - refLoss) < 1e-6, `${backend}: loss ${r.loss} vs ${refLoss}`);
    const rel = Math.abs(r.gradNorm - refNorm) / refNorm;
    assert.ok(rel < 1e-5, `${backend}: grad norm ${r.gradNorm} vs ${refNorm} (rel ${rel})`);
  }
  await useBackend("cpu");
});
