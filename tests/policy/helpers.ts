/**
 * Shared fixtures for the policy tests: a tiny config, a model with large
 * random weights (so attention, LayerNorm and GELU are far from linear) and
 * a fixed token batch.
 *
 * @module
 */

import { Rng } from "../../algorithms/rng.ts";
import {
  type Gpt,
  type GptConfig,
  gptFromArrays,
  parameterSpecs,
} from "../../algorithms/policy/gpt.ts";
import { type RlBatch, sequenceLogprobs } from "../../algorithms/policy/train.ts";

/** A config small enough for finite differences on the cpu backend. */
export const TINY: GptConfig = {
  vocabSize: 11,
  contextLength: 12,
  dModel: 8,
  nLayers: 2,
  nHeads: 2,
  mlpRatio: 2,
};

/** Weight arrays (`parameterSpecs` order) drawn N(0, std²) (LayerNorm gains around 1). */
export function randomWeights(config: GptConfig, seed: number, std = 0.3): Float32Array[] {
  const rng = new Rng(seed);
  return parameterSpecs(config).map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    const base = spec.init === "ones" ? 1 : 0;
    for (let i = 0; i < n; i++) a[i] = base + std * rng.normal();
    return a;
  });
}

/** A model whose weights are N(0, std²) (LayerNorm gains around 1). */
export function randomGpt(config: GptConfig, seed: number, std = 0.3): Gpt {
  return gptFromArrays(config, randomWeights(config, seed, std));
}

/** Random token sequences with ids in 1..vocabSize-1. */
export function randomTokens(
  rng: Rng,
  count: number,
  length: number,
  vocabSize: number,
): number[][] {
  return Array.from(
    { length: count },
    () => Array.from({ length }, () => rng.int(1, vocabSize - 1)),
  );
}

/**
 * A batch whose importance ratios are set by construction: old log-probs =
 * current log-probs − log ρ. One sequence per case (random prompt of 3 tokens
 * drawn from `seed`, one response token per entry), advantages as given.
 */
export async function ratioBatch(
  seed: number,
  model: Gpt,
  cases: { adv: number; ratio: number }[][],
): Promise<RlBatch> {
  const rng = new Rng(seed);
  const tokens = cases.map((c) => randomTokens(rng, 1, 3 + c.length, TINY.vocabSize)[0]);
  const responseStart = tokens.map(() => 3);
  const cur = await sequenceLogprobs(model, tokens, responseStart);
  return {
    tokens,
    responseStart,
    advantages: cases.map((c) => c.map((x) => x.adv)),
    oldLogprobs: cases.map((c, i) => c.map((x, j) => cur.logprobs[i][j] - Math.log(x.ratio))),
  };
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): number {
  if (a.length !== b.length) {
    throw new Error(`length ${a.length} vs ${b.length}`);
  }
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
