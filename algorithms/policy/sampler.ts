/**
 * Batched autoregressive sampling from a GPT with a KV cache.
 *
 * The network runs in tfjs, or on onnxruntime with the "onnx" backend; the
 * token choice runs in JS from the logits with one seeded generator per
 * sequence, so the same model, prompts, options and backend give the same
 * samples. A sequence's draws do not depend on how the prompts are batched
 * (on tfjs bitwise; on onnx its log-probs may move at ~1e-7 with the batch).
 *
 * Log-probabilities: `logprobs[t]` is log π(token_t | prefix) under the
 * temperature-scaled distribution softmax(logits / temperature), *before*
 * top-p truncation. That is the distribution `rlStep` (with the same
 * `temperature`) uses for the PPO ratio, as in verl, so these are the "old"
 * log-probs of an on-policy update. `entropy[t]` is the entropy (nats) of the
 * same full distribution. With temperature 0 (greedy) both are taken at
 * temperature 1.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../rng.ts";
import {
  disposeCache,
  disposeSamplingWeights,
  forwardCached,
  type Gpt,
  type KvCache,
  samplingWeights,
  selectCacheRows,
} from "./gpt.ts";
import { onnxEngine, usingOnnx } from "./backend.ts";

/** Sampling options. */
export interface SampleOptions {
  /** Maximum number of generated tokens per sequence. */
  maxNewTokens: number;
  /** Softmax temperature; 0 means greedy (argmax). */
  temperature: number;
  /** Nucleus sampling mass in (0, 1]; 1 disables truncation. */
  topP: number;
  /** Token id that ends a sequence (it is included in the response). */
  eosId: number;
  /** Seed; sequence i draws from `new Rng(`${seed}/${i}`)`. */
  seed: number;
  /** Most sequences stepped together (default: all prompts of one length; on onnx, all prompts). */
  batchSize?: number;
}

/** Why a sequence stopped. */
export type StopReason = "eos" | "length" | "context";

/** One sampled response. */
export interface SampledSequence {
  /** The response tokens only (the EOS token included when sampled). */
  tokens: number[];
  /** log π of each sampled token (temperature-scaled, before top-p). */
  logprobs: number[];
  /** Entropy (nats) of each position's full next-token distribution. */
  entropy: number[];
  /** "eos", "length" (maxNewTokens) or "context" (contextLength reached). */
  stopReason: StopReason;
}

/**
 * Samples one response per prompt. On tfjs backends, prompts of equal
 * length are batched together (no padding, so no attention masks beyond the
 * causal one); on "onnx", prompts of any lengths share a batch (per-row
 * masks). All sequences of a batch step together, and finished ones are
 * dropped from the batch and its KV cache. A sequence stops at EOS, after
 * `maxNewTokens`, or when prompt + response fills the context. Results are
 * in prompt order.
 */
export async function sample(
  model: Gpt,
  prompts: number[][],
  opts: SampleOptions,
): Promise<SampledSequence[]> {
  validateOptions(opts);
  const { vocabSize, contextLength } = model.config;
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`Prompt ${i} is empty`);
    if (p.length >= contextLength) {
      throw new Error(
        `Prompt ${i} has ${p.length} tokens: no room left in the context of ${contextLength}`,
      );
    }
    for (const id of p) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new Error(
          `Prompt ${i} has token ${id} outside 0..${vocabSize - 1}`,
        );
      }
    }
  });

  const results: SampledSequence[] = new Array(prompts.length);
  const onnx = usingOnnx();
  const groups = new Map<number, number[]>();
  prompts.forEach((p, i) => {
    const key = onnx ? 0 : p.length;
    const group = groups.get(key) ?? [];
    group.push(i);
    groups.set(key, group);
  });
  const maxBatch = opts.batchSize ?? Infinity;
  for (const group of groups.values()) {
    for (let s = 0; s < group.length; s += maxBatch) {
      const ids = group.slice(s, s + maxBatch);
      const batch = ids.map((i) => prompts[i]);
      const stepper = onnx ? onnxStepper(model) : tfjsStepper(model);
      try {
        const out = await sampleBatch(stepper, model, batch, ids, opts);
        ids.forEach((id, j) => results[id] = out[j]);
      } finally {
        stepper.dispose();
      }
    }
  }
  return results;
}

/**
 * One batch's network, stepped by `sampleBatch`: `start` feeds the prompts,
 * `step` one token per active row; both return each row's next-token logits
 * [rows, V]; `keep` drops finished rows.
 */
interface Stepper {
  start(prompts: number[][]): Promise<Float32Array>;
  step(tokens: number[]): Promise<Float32Array>;
  keep(rows: number[]): void;
  dispose(): void;
}

/** The tfjs network with a tensor KV cache (equal-length prompts only). */
function tfjsStepper(model: Gpt): Stepper {
  const { vocabSize } = model.config;
  const weights = samplingWeights(model);
  let cache: KvCache | null = null;
  const run = async (input: tf.Tensor2D): Promise<Float32Array> => {
    const step = forwardCached(model, input, cache, weights);
    disposeCache(cache);
    input.dispose();
    cache = step.cache;
    const [b, t] = step.logits.shape;
    const last = tf.tidy(() =>
      tf.reshape(tf.slice(step.logits, [0, t - 1, 0], [b, 1, vocabSize]), [b, vocabSize])
    );
    step.logits.dispose();
    const data = await last.data() as Float32Array;
    last.dispose();
    return data;
  };
  return {
    start: (prompts) => run(tf.tensor2d(prompts, [prompts.length, prompts[0].length], "int32")),
    step: (tokens) => run(tf.tensor2d(tokens, [tokens.length, 1], "int32")),
    keep: (rows) => cache = selectCacheRows(cache!, rows),
    dispose: () => {
      disposeCache(cache);
      disposeSamplingWeights(weights);
    },
  };
}

/** The onnxruntime network (backend "onnx"; prompts of any lengths). */
function onnxStepper(model: Gpt): Stepper {
  const decoder = new (onnxEngine().OnnxDecoder)(model);
  return {
    start: (prompts) => Promise.resolve(decoder.start(prompts)),
    step: (tokens) => Promise.resolve(decoder.step(tokens)),
    keep: (rows) => decoder.keep(rows),
    dispose: () => {},
  };
}

function validateOptions(opts: SampleOptions): void {
  const { maxNewTokens, temperature, topP } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new Error(
      `maxNewTokens must be a non-negative integer, got ${maxNewTokens}`,
    );
  }
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new Error(`temperature must be >= 0, got ${temperature}`);
  }
  if (!(topP > 0 && topP <= 1)) {
    throw new Error(`topP must be in (0, 1], got ${topP}`);
  }
  if (opts.batchSize !== undefined && !(opts.batchSize >= 1)) {
    throw new Error(`batchSize must be >= 1, got ${opts.batchSize}`);
  }
}

/** Samples a batch of prompts, stepping them together. */
async function sampleBatch(
  stepper: Stepper,
  model: Gpt,
  prompts: number[][],
  seqIds: number[],
  opts: SampleOptions,
): Promise<SampledSequence[]> {
  const { vocabSize, contextLength } = model.config;
  const out: SampledSequence[] = prompts.map(() => ({
    tokens: [],
    logprobs: [],
    entropy: [],
    stopReason: "length",
  }));
  if (opts.maxNewTokens === 0) return out;
  const rngs = seqIds.map((i) => new Rng(`${opts.seed}/${i}`));
  const probs = new Float64Array(vocabSize);

  let active = prompts.map((_, i) => i); // rows of the batch still sampling
  let data = await stepper.start(prompts);
  while (true) {
    const next: number[] = [];
    const stillActive: number[] = [];
    const keepRows: number[] = [];
    active.forEach((row, r) => {
      const seq = out[row];
      const pick = chooseToken(
        data.subarray(r * vocabSize, (r + 1) * vocabSize),
        opts,
        rngs[row],
        probs,
      );
      seq.tokens.push(pick.token);
      seq.logprobs.push(pick.logprob);
      seq.entropy.push(pick.entropy);
      if (pick.token === opts.eosId) seq.stopReason = "eos";
      else if (prompts[row].length + seq.tokens.length >= contextLength) {
        seq.stopReason = "context";
      } else if (seq.tokens.length >= opts.maxNewTokens) {
        seq.stopReason = "length";
      } else {
        stillActive.push(row);
        keepRows.push(r);
        next.push(pick.token);
      }
    });
    if (stillActive.length === 0) break;
    if (stillActive.length < active.length) stepper.keep(keepRows);
    active = stillActive;
    data = await stepper.step(next);
  }
  return out;
}

/**
 * Picks the next token from one row of logits and returns its log-prob and
 * the distribution's entropy (float64 math on the float32 logits).
 */
function chooseToken(
  logits: Float32Array,
  opts: SampleOptions,
  rng: Rng,
  probs: Float64Array,
): { token: number; logprob: number; entropy: number } {
  const v = logits.length;
  const greedy = opts.temperature === 0;
  const invT = greedy ? 1 : 1 / opts.temperature;
  let max = -Infinity;
  let argmax = 0;
  for (let j = 0; j < v; j++) {
    const z = logits[j] * invT;
    if (z > max) [max, argmax] = [z, j];
  }
  let sum = 0;
  for (let j = 0; j < v; j++) {
    sum += probs[j] = Math.exp(logits[j] * invT - max);
  }
  const logZ = max + Math.log(sum);
  let entropy = 0;
  for (let j = 0; j < v; j++) {
    probs[j] /= sum;
    if (probs[j] > 0) entropy -= probs[j] * (logits[j] * invT - logZ);
  }

  let token = argmax;
  if (!greedy) {
    const u = rng.float();
    token = opts.topP < 1 ? pickTopP(probs, opts.topP, u) : pickCdf(probs, u);
  }
  return { token, logprob: logits[token] * invT - logZ, entropy };
}

/** Inverse-CDF draw over all tokens. */
function pickCdf(probs: Float64Array, u: number): number {
  let acc = 0;
  let lastNonZero = 0;
  for (let j = 0; j < probs.length; j++) {
    if (probs[j] <= 0) continue;
    acc += probs[j];
    lastNonZero = j;
    if (u < acc) return j;
  }
  return lastNonZero; // u ≥ acc only through rounding
}

/**
 * Nucleus draw: the smallest set of most likely tokens (ties by id) whose mass
 * reaches topP, renormalised.
 */
function pickTopP(probs: Float64Array, topP: number, u: number): number {
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  let kept = 0;
  let n = 0;
  while (n < order.length && kept < topP) kept += probs[order[n++]];
  const target = u * kept;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += probs[order[i]];
    if (target < acc) return order[i];
  }
  return order[n - 1];
}
