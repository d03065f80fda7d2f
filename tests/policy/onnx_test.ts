/**
 * The "onnx" backend (the GPT on onnxruntime, algorithms/policy/onnx/)
 * against the tfjs implementation on the cpu reference backend. Tolerances:
 * logits 1e-5 abs; per-parameter gradients 1e-5 × the gradient's max-abs;
 * step losses 1e-5 abs, gradient norms 1e-5 relative, weights after two
 * Adam steps within 1e-6 for all but 0.1% of entries (Adam's normalised
 * step amplifies rounding in near-zero gradient entries); sampling: the same tokens, log-probs and entropies within 1e-4.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../algorithms/rng.ts";
import { type BackendName, useBackend } from "../../algorithms/policy/backend.ts";
import {
  DEFAULT_GPT_CONFIG,
  disposeGpt,
  type Gpt,
  type GptConfig,
  gptFromArrays,
  logits,
  namedParameters,
  parameterSpecs,
} from "../../algorithms/policy/gpt.ts";
import {
  OnnxDecoder,
  onnxGradients,
  onnxLogits,
  onnxTokenStats,
} from "../../algorithms/policy/onnx/engine.ts";
import { ortThreads, setOrtThreads } from "../../algorithms/policy/onnx/threads.ts";
import {
  Adam,
  rlStep,
  type RlStepResult,
  sequenceLogprobs,
  supervisedStep,
} from "../../algorithms/policy/train.ts";
import { sample } from "../../algorithms/policy/sampler.ts";
import { maxAbsDiff, randomTokens, randomWeights, TINY } from "./helpers.ts";

/** Weight arrays: small (0.02, GPT-2-like) for the default config, large (0.3) for TINY. */
const weights = randomWeights;

const CASES: { name: string; config: GptConfig; std: number; b: number; t: number }[] = [
  { name: "default", config: DEFAULT_GPT_CONFIG, std: 0.02, b: 3, t: 40 },
  { name: "tiny", config: TINY, std: 0.3, b: 4, t: 12 },
];

/** Runs `f` on a fresh model with the given weights under `backend`. */
async function withModel<T>(
  backend: BackendName,
  config: GptConfig,
  arrays: Float32Array[],
  f: (model: Gpt) => T | Promise<T>,
): Promise<T> {
  await useBackend(backend);
  const model = gptFromArrays(config, arrays.map((a) => a.slice()));
  try {
    return await f(model);
  } finally {
    disposeGpt(model);
  }
}

Deno.test("onnx logits and ragged KV-cache decoding equal tfjs within 1e-5", async () => {
  for (const { name, config, std, b, t } of CASES) {
    const arrays = weights(config, 3, std);
    const tokens = randomTokens(new Rng(5), b, t, config.vocabSize);
    const flat = Int32Array.from(tokens.flat());
    const v = config.vocabSize;
    const ref = await withModel(
      "cpu",
      config,
      arrays,
      (m) =>
        tf.tidy(() => logits(m, tf.tensor2d(tokens, [b, t], "int32")).dataSync() as Float32Array),
    );
    await withModel("onnx", config, arrays, (m) => {
      const diff = maxAbsDiff(ref, onnxLogits(m, flat, b, t));
      assert.ok(diff < 1e-5, `${name}: onnx logits differ by ${diff}`);

      // Row r's prompt is its first 2 + r tokens; then one token per step, with
      // one row dropped half way, as the sampler does.
      const decoder = new OnnxDecoder(m);
      const at = (row: number, pos: number) =>
        ref.subarray((row * t + pos) * v, (row * t + pos + 1) * v);
      let rows = tokens.map((_, r) => r);
      let pos = rows.map((r) => 2 + r);
      let out = decoder.start(rows.map((r) => tokens[r].slice(0, pos[r])));
      for (let step = 0;; step++) {
        rows.forEach((r, i) => {
          const d = maxAbsDiff(at(r, pos[i] - 1), out.subarray(i * v, (i + 1) * v));
          assert.ok(d < 1e-5, `${name}: decode row ${r} position ${pos[i] - 1} differs by ${d}`);
        });
        if (step === 3 && rows.length > 1) {
          const keep = rows.map((_, i) => i).filter((i) => i !== 1);
          decoder.keep(keep);
          rows = keep.map((i) => rows[i]);
          pos = keep.map((i) => pos[i]);
        }
        const live = rows.map((r, i) => [r, i]).filter(([_, i]) => pos[i] < t);
        if (live.length < rows.length) {
          if (live.length === 0) break;
          decoder.keep(live.map(([_, i]) => i));
          pos = live.map(([_, i]) => pos[i]);
          rows = live.map(([r]) => r);
        }
        out = decoder.step(rows.map((r, i) => tokens[r][pos[i]]));
        pos = pos.map((p) => p + 1);
      }
    });
  }
  await useBackend("cpu");
});

Deno.test("onnx parameter gradients equal tfjs autodiff within 1e-5 relative", async () => {
  for (const { name, config, std, b, t } of CASES) {
    const arrays = weights(config, 4, std);
    const rng = new Rng(6);
    const tokens = randomTokens(rng, b, t + 1, config.vocabSize);
    const inputs = tokens.map((r) => r.slice(0, t));
    const targets = tokens.map((r) => r.slice(1));
    const temperature = 0.8;
    // A loss weighting every token's log-prob and entropy differently.
    const a = Float32Array.from({ length: b * t }, (_, i) => Math.sin(i));
    const c = Float32Array.from({ length: b * t }, (_, i) => Math.cos(3 * i));
    const ref = await withModel("cpu", config, arrays, (m) => {
      const vars = namedParameters(m).map((p) => p.variable);
      const { value, grads } = tf.variableGrads(() => {
        const z = tf.div(logits(m, tf.tensor2d(inputs, [b, t], "int32")), temperature);
        const logpAll = tf.logSoftmax(z);
        const hot = tf.cast(
          tf.oneHot(tf.tensor2d(targets, [b, t], "int32"), config.vocabSize),
          "float32",
        );
        const logp = tf.sum(tf.mul(logpAll, hot), -1);
        const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logpAll), logpAll), -1));
        const weigh = (x: tf.Tensor, w: Float32Array) =>
          tf.sum(tf.mul(tf.reshape(x, [-1]), tf.tensor1d(w)));
        return tf.add(weigh(logp, a), weigh(entropy, c)) as tf.Scalar;
      }, vars);
      const out = vars.map((x) => grads[x.name].dataSync() as Float32Array);
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    });
    const got = await withModel("onnx", config, arrays, (m) =>
      onnxGradients(m, {
        inputs: Int32Array.from(inputs.flat()),
        targets: Int32Array.from(targets.flat()),
        b,
        t,
        temperature,
      }, { logp: a, entropy: c }).grads);
    parameterSpecs(config).forEach((spec, i) => {
      const scale = Math.max(...ref[i].map(Math.abs), 1e-6);
      const diff = maxAbsDiff(ref[i], got[i]);
      assert.ok(diff < 1e-5 * scale, `${name} ${spec.name}: ${diff} (scale ${scale})`);
    });
  }
  await useBackend("cpu");
});

/** One rlStep (KL to a reference, entropy bonus, per-sequence aggregation) + a supervised step. */
async function trainOnce(backend: BackendName, arrays: Float32Array[]) {
  const cfg = DEFAULT_GPT_CONFIG;
  const rng = new Rng(41);
  const tokens = Array.from(
    { length: 6 },
    (_, i) => randomTokens(rng, 1, 24 + i, cfg.vocabSize)[0],
  );
  const responseStart = tokens.map((_, i) => 6 + i);
  const advantages = tokens.map((s, i) => s.slice(responseStart[i]).map(() => rng.normal()));
  const oldLogprobs = tokens.map((s, i) =>
    s.slice(responseStart[i]).map((_, j) => -Math.log(cfg.vocabSize) + 0.3 * Math.sin(j))
  );
  return await withModel(backend, cfg, arrays, async (model) => {
    const refModel = gptFromArrays(cfg, arrays.map((a) => a.map((x) => x * 0.9)));
    const adam = new Adam({ lr: 1e-3 });
    const rl = await rlStep(model, adam, {
      tokens,
      responseStart,
      advantages,
      oldLogprobs,
      refModel,
    }, {
      klBeta: 0.1,
      entropyCoef: 0.01,
      lossAgg: "seq-mean-token-mean",
    });
    const sup = await supervisedStep(model, adam, {
      tokens,
      lossMask: tokens.map((s) => s.map((_, j) => j >= 3)),
    });
    const lp = await sequenceLogprobs(model, tokens, responseStart, { temperature: 0.8 });
    const after = namedParameters(model).map((p) => p.variable.dataSync() as Float32Array);
    adam.dispose();
    disposeGpt(refModel);
    const samples = await sample(model, tokens.map((s, i) => s.slice(0, 3 + (i % 3))), {
      maxNewTokens: 12,
      temperature: 0.9,
      topP: 0.95,
      eosId: 7,
      seed: 3,
    });
    return { rl, sup, lp, after, samples };
  });
}

Deno.test("onnx rlStep, supervisedStep, sequenceLogprobs and sampling equal tfjs (cpu)", async () => {
  const arrays = weights(DEFAULT_GPT_CONFIG, 8, 0.02);
  const ref = await trainOnce("cpu", arrays);
  const got = await trainOnce("onnx", arrays);
  await useBackend("cpu");

  for (const key of ["loss", "pgLoss", "kl", "entropy", "ratioMean"] as (keyof RlStepResult)[]) {
    const d = Math.abs(ref.rl[key] - got.rl[key]);
    assert.ok(d < 1e-5, `rlStep ${key}: ${got.rl[key]} vs ${ref.rl[key]}`);
  }
  assert.ok(ref.rl.kl > 0, "the KL term is exercised");
  assert.ok(
    Math.abs(ref.rl.gradNorm - got.rl.gradNorm) / ref.rl.gradNorm < 1e-5,
    "rlStep grad norm",
  );
  assert.equal(got.rl.tokens, ref.rl.tokens);
  assert.ok(
    Math.abs(ref.sup.loss - got.sup.loss) < 1e-5,
    `supervised loss ${got.sup.loss} vs ${ref.sup.loss}`,
  );
  assert.ok(
    Math.abs(ref.sup.gradNorm - got.sup.gradNorm) / ref.sup.gradNorm < 1e-5,
    "supervised grad norm",
  );
  // Adam's first steps move every weight by ≈ ±lr whatever the gradient's size,
  // so a near-zero gradient entry whose sign differs by rounding moves the other
  // way: count such entries instead of bounding the largest difference.
  let moved = 0, total = 0;
  ref.after.forEach((w, i) => {
    total += w.length;
    for (let k = 0; k < w.length; k++) if (Math.abs(w[k] - got.after[i][k]) > 1e-6) moved++;
  });
  assert.ok(moved / total < 1e-3, `${moved} of ${total} weights differ by > 1e-6 after two steps`);
  ref.lp.logprobs.forEach((row, i) => {
    assert.ok(maxAbsDiff(row, got.lp.logprobs[i]) < 1e-5, `sequenceLogprobs row ${i}`);
    assert.ok(maxAbsDiff(ref.lp.entropy[i], got.lp.entropy[i]) < 1e-5, `entropy row ${i}`);
  });
  // Ragged prompts share one onnx batch; tfjs batches them by length.
  ref.samples.forEach((s, i) => {
    const o = got.samples[i];
    assert.deepEqual(o.tokens, s.tokens, `sample ${i} tokens`);
    assert.equal(o.stopReason, s.stopReason);
    assert.ok(maxAbsDiff(o.logprobs, s.logprobs) < 1e-4, `sample ${i} log-probs`);
    assert.ok(maxAbsDiff(o.entropy, s.entropy) < 1e-4, `sample ${i} entropies`);
  });
  assert.ok(
    ref.samples.some((s) => s.stopReason === "eos") ||
      ref.samples.some((s) => s.tokens.length === 12),
  );
});

Deno.test("onnx scoring and gradients do not depend on the thread count (bitwise)", async () => {
  const config = DEFAULT_GPT_CONFIG;
  const arrays = weights(config, 9, 0.02);
  const rng = new Rng(10);
  const [b, t] = [8, 48];
  const tokens = randomTokens(rng, b, t + 1, config.vocabSize);
  const batch = {
    inputs: Int32Array.from(tokens.flatMap((r) => r.slice(0, t))),
    targets: Int32Array.from(tokens.flatMap((r) => r.slice(1))),
    b,
    t,
    temperature: 1,
  };
  const grads = {
    logp: Float32Array.from({ length: b * t }, () => rng.normal()),
    entropy: Float32Array.from({ length: b * t }, () => rng.normal()),
  };
  const before = ortThreads();
  const runWith = (threads: number) =>
    withModel("onnx", config, arrays, (m) => {
      setOrtThreads(threads);
      const stats = onnxTokenStats(m, batch);
      const run = onnxGradients(m, batch, grads);
      // The gradient run's own statistics are the scoring run's, bit for bit.
      assert.deepEqual(run.stats, stats);
      return [stats.logp, stats.entropy, ...run.grads];
    });
  try {
    const one = await runWith(1);
    const two = await runWith(2);
    one.forEach((a, i) =>
      assert.deepEqual(new Uint8Array(two[i].buffer), new Uint8Array(a.buffer))
    );
  } finally {
    setOrtThreads(before);
    await useBackend("cpu");
  }
});

Deno.test("OnnxDecoder rejects empty prompts and unordered keep() rows", async () => {
  await withModel("onnx", TINY, weights(TINY, 11, 0.3), (m) => {
    const decoder = new OnnxDecoder(m);
    assert.throws(() => decoder.start([[1, 2], []]), /prompt 1 is empty/);
    assert.throws(() => decoder.start([]), /no prompts/);
    decoder.start([[1, 2], [3], [4, 5, 6]]);
    assert.throws(
      () => decoder.keep([1, 0]),
      /ascending indices into the 3 live rows, got \[1,0\]/,
    );
    assert.throws(() => decoder.keep([0, 3]), /ascending/);
    decoder.keep([0, 2]);
    assert.throws(() => decoder.step([1, 2, 3]), /3 tokens for 2 rows/);
    assert.equal(decoder.step([7, 8]).length, 2 * TINY.vocabSize);
  });
  await useBackend("cpu");
});
