/**
 * A tiny decoder-only GPT on TensorFlow.js, meant to be read in one sitting.
 *
 * Architecture (GPT-2 style): learned token and position embeddings,
 * `nLayers` pre-LayerNorm blocks (causal multi-head self-attention, then a
 * GELU MLP, each added to the residual stream), a final LayerNorm and an
 * untied linear head (no bias) to `vocabSize` logits. No dropout (RL and tiny
 * data need none, and it keeps the forward pass deterministic).
 *
 * Two workarounds make training fast and possible on the tfjs wasm backend
 * (measured in shared/docs/engine-notes.md §4):
 *  - A. token embedding = oneHot(ids) × tokEmb, because the gradient of
 *    `tf.gather` needs the `UnsortedSegmentSum` kernel, which wasm lacks;
 *  - B. 2-D matrix products never use transposeA/B flags (~30× slower on wasm): their
 *    gradients are written by hand with explicit transposes.
 * Beyond these, the 2-D ops carry hand-written gradients that avoid wasm's
 * slow kernels (see "Building blocks"), and sampling steps run plain ops on
 * q/k/v weights split once per sampling call. tests/policy/reference_test.ts
 * checks all of it against a plain reference implementation. On webgpu the
 * differentiable forward uses webgpu_ops.ts instead, whose gradients avoid
 * that backend's slow kernels (issue 13; tests/policy/webgpu_test.ts).
 *
 * Parameters are tf.Variables created from seeded JS Float32Arrays, so a seed
 * gives the same initial weights on every backend.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../rng.ts";
import { addRowOp, layerNormOp, normalise } from "./row_ops.ts";
import { WEBGPU_GRAD_OPS } from "./webgpu_ops.ts";

/** Shape of the network. */
export interface GptConfig {
  /** Number of token ids (ids are 0..vocabSize-1). */
  vocabSize: number;
  /** Maximum sequence length (number of learned positions). */
  contextLength: number;
  /** Width of the residual stream. */
  dModel: number;
  /** Number of transformer blocks. */
  nLayers: number;
  /** Attention heads per block; must divide dModel. */
  nHeads: number;
  /** MLP hidden width = mlpRatio × dModel. */
  mlpRatio: number;
}

/**
 * Default testbed policy: the engine-notes micro-benchmark model (d 128,
 * 2 layers, 4 heads, GELU MLP 4×) with a 96-token context and a 200-token
 * vocabulary: 460,288 parameters. Override vocabSize to the tokenizer's size.
 */
export const DEFAULT_GPT_CONFIG: Readonly<GptConfig> = Object.freeze({
  vocabSize: 200,
  contextLength: 96,
  dModel: 128,
  nLayers: 2,
  nHeads: 4,
  mlpRatio: 4,
});

/** One transformer block's weights (matrices are [in, out]). */
export interface GptBlock {
  ln1G: tf.Variable;
  ln1B: tf.Variable;
  wQkv: tf.Variable;
  bQkv: tf.Variable;
  wO: tf.Variable;
  bO: tf.Variable;
  ln2G: tf.Variable;
  ln2B: tf.Variable;
  wIn: tf.Variable;
  bIn: tf.Variable;
  wOut: tf.Variable;
  bOut: tf.Variable;
}

/** A GPT: its config and its weights. */
export interface Gpt {
  config: GptConfig;
  tokEmb: tf.Variable;
  posEmb: tf.Variable;
  blocks: GptBlock[];
  lnFG: tf.Variable;
  lnFB: tf.Variable;
  head: tf.Variable;
}

/** Name, shape and initialisation of one parameter. */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: "normal" | "zeros" | "ones";
  /** Standard deviation for "normal". */
  std: number;
}

const BLOCK_KEYS: { key: keyof GptBlock; name: string }[] = [
  { key: "ln1G", name: "ln1.g" },
  { key: "ln1B", name: "ln1.b" },
  { key: "wQkv", name: "attn.w_qkv" },
  { key: "bQkv", name: "attn.b_qkv" },
  { key: "wO", name: "attn.w_o" },
  { key: "bO", name: "attn.b_o" },
  { key: "ln2G", name: "ln2.g" },
  { key: "ln2B", name: "ln2.b" },
  { key: "wIn", name: "mlp.w_in" },
  { key: "bIn", name: "mlp.b_in" },
  { key: "wOut", name: "mlp.w_out" },
  { key: "bOut", name: "mlp.b_out" },
];

/** Throws when a config is not a valid GPT shape. */
export function validateConfig(config: GptConfig): void {
  for (
    const k of [
      "vocabSize",
      "contextLength",
      "dModel",
      "nLayers",
      "nHeads",
      "mlpRatio",
    ] as const
  ) {
    const v = config[k];
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(
        `Invalid GPT config: ${k} must be a positive integer, got ${v}`,
      );
    }
  }
  if (config.dModel % config.nHeads !== 0) {
    throw new Error(
      `Invalid GPT config: dModel (${config.dModel}) must be divisible by nHeads (${config.nHeads})`,
    );
  }
}

/**
 * Every parameter in the fixed order used by checkpoints and the optimizer:
 * tok_emb, pos_emb, then per block h{i}.ln1.g … h{i}.mlp.b_out, ln_f.g,
 * ln_f.b, head. GPT-2 init: N(0, 0.02), residual output projections scaled by
 * 1/√(2·nLayers), zero biases, unit LayerNorm gains.
 */
export function parameterSpecs(config: GptConfig): ParamSpec[] {
  validateConfig(config);
  const { vocabSize: v, contextLength: t, dModel: d, nLayers } = config;
  const h = d * config.mlpRatio;
  const std = 0.02;
  const residStd = std / Math.sqrt(2 * nLayers);
  const specs: ParamSpec[] = [
    { name: "tok_emb", shape: [v, d], init: "normal", std },
    { name: "pos_emb", shape: [t, d], init: "normal", std },
  ];
  for (let i = 0; i < nLayers; i++) {
    const shapes: Record<string, [number[], ParamSpec["init"], number]> = {
      "ln1.g": [[d], "ones", 0],
      "ln1.b": [[d], "zeros", 0],
      "attn.w_qkv": [[d, 3 * d], "normal", std],
      "attn.b_qkv": [[3 * d], "zeros", 0],
      "attn.w_o": [[d, d], "normal", residStd],
      "attn.b_o": [[d], "zeros", 0],
      "ln2.g": [[d], "ones", 0],
      "ln2.b": [[d], "zeros", 0],
      "mlp.w_in": [[d, h], "normal", std],
      "mlp.b_in": [[h], "zeros", 0],
      "mlp.w_out": [[h, d], "normal", residStd],
      "mlp.b_out": [[d], "zeros", 0],
    };
    for (const { name } of BLOCK_KEYS) {
      const [shape, init, s] = shapes[name];
      specs.push({ name: `h${i}.${name}`, shape, init, std: s });
    }
  }
  specs.push(
    { name: "ln_f.g", shape: [d], init: "ones", std: 0 },
    { name: "ln_f.b", shape: [d], init: "zeros", std: 0 },
    { name: "head", shape: [d, v], init: "normal", std },
  );
  return specs;
}

/** Number of trainable parameters of a config. */
export function parameterCount(config: GptConfig): number {
  return parameterSpecs(config).reduce(
    (n, s) => n + s.shape.reduce((a, b) => a * b, 1),
    0,
  );
}

/**
 * A freshly initialised GPT. Each parameter draws from its own generator
 * (seed + parameter name), so weights do not depend on creation order.
 */
export function initGpt(config: GptConfig, seed: number): Gpt {
  const arrays = parameterSpecs(config).map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (spec.init === "ones") data.fill(1);
    if (spec.init === "normal") {
      const rng = new Rng(`${seed}/${spec.name}`);
      for (let i = 0; i < n; i++) data[i] = rng.normal() * spec.std;
    }
    return data;
  });
  return gptFromArrays(config, arrays);
}

let modelCounter = 0;

/**
 * Builds a GPT from weight arrays in `parameterSpecs` order (used by
 * initialisation and checkpoint loading). Variables get a per-model name
 * prefix because tfjs variable names must be globally unique.
 */
export function gptFromArrays(config: GptConfig, arrays: Float32Array[]): Gpt {
  const specs = parameterSpecs(config);
  if (arrays.length !== specs.length) {
    throw new Error(
      `Expected ${specs.length} parameter arrays, got ${arrays.length}`,
    );
  }
  const prefix = `gpt${modelCounter++}`;
  const vars = new Map<string, tf.Variable>();
  specs.forEach((spec, i) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (arrays[i].length !== n) {
      throw new Error(
        `Parameter ${spec.name} needs ${n} values, got ${arrays[i].length}`,
      );
    }
    const value = tf.tensor(arrays[i], spec.shape, "float32");
    vars.set(spec.name, tf.variable(value, true, `${prefix}/${spec.name}`));
    value.dispose();
  });
  const get = (name: string) => vars.get(name)!;
  const blocks: GptBlock[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const block = {} as GptBlock;
    for (const { key, name } of BLOCK_KEYS) block[key] = get(`h${i}.${name}`);
    blocks.push(block);
  }
  return {
    config: { ...config },
    tokEmb: get("tok_emb"),
    posEmb: get("pos_emb"),
    blocks,
    lnFG: get("ln_f.g"),
    lnFB: get("ln_f.b"),
    head: get("head"),
  };
}

/** The model's variables with their names, in `parameterSpecs` order. */
export function namedParameters(
  model: Gpt,
): { name: string; variable: tf.Variable }[] {
  const out = [
    { name: "tok_emb", variable: model.tokEmb },
    { name: "pos_emb", variable: model.posEmb },
  ];
  model.blocks.forEach((block, i) => {
    for (const { key, name } of BLOCK_KEYS) {
      out.push({ name: `h${i}.${name}`, variable: block[key] });
    }
  });
  out.push(
    { name: "ln_f.g", variable: model.lnFG },
    { name: "ln_f.b", variable: model.lnFB },
    { name: "head", variable: model.head },
  );
  return out;
}

/** A copy of a model with its own variables (e.g. a frozen reference policy). */
export function cloneGpt(model: Gpt): Gpt {
  const arrays = namedParameters(model).map(({ variable }) => variable.dataSync() as Float32Array);
  return gptFromArrays(model.config, arrays.map((a) => a.slice()));
}

/** Frees the model's variables. */
export function disposeGpt(model: Gpt): void {
  for (const { variable } of namedParameters(model)) variable.dispose();
}

// ---------------------------------------------------------------------------
// Building blocks
//
// Measured on wasm (tfjs 4.22, B32×T64): only an unbatched, untransposed 2-D
// matMul reaches XNNPACK (~20 GFLOP/s); batched matMuls run a plain loop
// (~2.5 GFLOP/s, transpose flags or not); a reduction over a non-last axis
// (e.g. a bias gradient, `sum(dy, 0)`) transposes first (~10 ms for
// [2048, 512]); Transpose and SplitV/Slice of activations cost 2–30 ms each.
// So the 2-D ops below carry hand-written gradients built from matMuls.

/** Swaps the last two axes. */
function tT(x: tf.Tensor): tf.Tensor {
  const perm = [...Array(x.rank).keys()];
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return tf.transpose(x, perm);
}

/**
 * Column sums [k] of a [N, k] matrix as onesᵀ × x: wasm's plain loop, which
 * the transposeA flag selects, handles this vector product in ~0.3 ms, where
 * `sum(x, 0)` transposes (~2.5 ms) and XNNPACK first packs x (~0.8 ms).
 */
function sumRows(x: tf.Tensor): tf.Tensor {
  const [n, k] = x.shape;
  return tf.reshape(tf.matMul(tf.ones([n, 1]), x, true, false), [k]);
}

/**
 * Transposes of forward inputs, so that ops reading the same input
 * (attention's q, k, v projections) transpose it once in the backward pass.
 * Keyed by the forward-time tensor (saved copies are distinct tensors);
 * customGrad computes gradients eagerly inside the backward pass's tidy, so
 * an entry is used, then disposed, within that pass.
 */
const transposes = new WeakMap<tf.Tensor, tf.Tensor>();

/**
 * aᵀ·dy for a [N, m], dy [N, k] (a weight gradient): transposes the smaller
 * of the two activations (workaround B: no transposeA/B flags). `key` is
 * the forward-time tensor of which `a` is the saved copy.
 */
function weightGrad(a: tf.Tensor, dy: tf.Tensor, key: tf.Tensor = a): tf.Tensor {
  if (a.shape[1]! > dy.shape[1]!) return tT(tf.matMul(tT(dy), a));
  let aT = transposes.get(key);
  if (!aT || aT.isDisposed) transposes.set(key, aT = tT(a));
  return tf.matMul(aT, dy);
}

/** x·w + b for x [N, m], w [m, k], b [k] (2-D, fused bias; wasm-friendly gradient). */
const linear = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
      tf.matMul(dy, tT(sw)),
      weightGrad(sx, dy, x),
      sumRows(dy),
    ],
  };
}) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x·w without bias (2-D; wasm-friendly gradient). */
const matmul2d = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
      tf.matMul(dy, tT(sw)),
      weightGrad(sx, dy),
    ],
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;

/** LayerNorm with its closed-form gradient (row_ops.ts); gain / bias gradients via sumRows. */
const layerNormGrad = layerNormOp(sumRows);

/** x + row for x [N, k], row [k] (a broadcast add whose row gradient is sumRows). */
const addRow = addRowOp(sumRows);

/**
 * Workaround A: the one-hot [N, V] of int32 ids, for embedding as
 * oneHot × table (tf.gather's gradient needs UnsortedSegmentSum, which wasm
 * lacks; wasm's GatherV2 is also ~2× slower than this matmul). Made as int32
 * and cast: wasm's OneHot with dtype "float32" writes integer bit patterns
 * (1 reads as 1.4e-45; tfjs 4.22).
 */
function oneHot(ids: tf.Tensor1D, depth: number): tf.Tensor {
  return tf.cast(tf.oneHot(ids, depth), "float32");
}

/** oneHot(ids) × table; the gradient skips the one-hot's (unused) one. */
function embed(ids: tf.Tensor1D, table: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [tbl, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const hot = oneHot(ids, tbl.shape[0]!);
    save([hot]);
    return {
      value: tf.matMul(hot, tbl),
      gradFunc: (dy: tf.Tensor, [savedHot]: tf.Tensor[]) => [weightGrad(savedHot, dy)],
    };
  }) as (tbl: tf.Tensor) => tf.Tensor;
  return op(table);
}

/**
 * The 2-D ops of the forward pass, in two implementations with the same
 * values: with the wasm-friendly gradients above (training, evaluation), and
 * plain (sampling steps, whose tiny tensors make per-op overhead dominate).
 */
export interface Ops {
  linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor;
  matmul(x: tf.Tensor, w: tf.Tensor): tf.Tensor;
  layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor;
  addRow(x: tf.Tensor, row: tf.Tensor): tf.Tensor;
  embed(ids: tf.Tensor1D, table: tf.Tensor): tf.Tensor;
  /** Attention scores q·kᵀ for q [B, H, Tq, hd], k [B, H, Tk, hd]. */
  scores(q: tf.Tensor, k: tf.Tensor): tf.Tensor;
  /** Attention output p·v for p [B, H, Tq, Tk], v [B, H, Tk, hd]. */
  mix(p: tf.Tensor, v: tf.Tensor): tf.Tensor;
}

/** Batched products: wasm's loop takes transpose flags for free (see attention). */
const scores = (q: tf.Tensor, k: tf.Tensor) => tf.matMul(q, k, false, true);
const mix = (p: tf.Tensor, v: tf.Tensor) => tf.matMul(p, v);

const GRAD_OPS: Ops = {
  linear,
  matmul: matmul2d,
  layerNorm: layerNormGrad,
  addRow,
  embed,
  scores,
  mix,
};

const PLAIN_OPS: Ops = {
  linear: (x, w, b) => tf.fused.matMul({ a: x, b: w, bias: b }),
  matmul: (x, w) => tf.matMul(x, w),
  layerNorm: (x, g, b) => tf.add(tf.mul(normalise(x).xHat, g), b),
  addRow: (x, row) => tf.add(x, row),
  embed: (ids, table) => tf.matMul(oneHot(ids, table.shape[0]!), table),
  scores,
  mix,
};

/** Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** Additive mask value for keys a query must not see (finite: no inf − inf NaNs). */
export const MASKED = -1e9;

/**
 * Additive causal mask values [T, offset+T] for queries at positions
 * offset..offset+T-1 over keys 0..offset+T-1 (MASKED on future keys).
 */
export function causalMaskData(t: number, offset = 0): Float32Array {
  const s = offset + t;
  const data = new Float32Array(t * s);
  for (let i = 0; i < t; i++) data.fill(MASKED, i * s + offset + i + 1, (i + 1) * s);
  return data;
}

const maskCache = new Map<string, tf.Tensor2D>();

/** `causalMaskData` as a tensor, built once per shape and backend, then reused (kept out of tidy). */
function causalMask(t: number, offset: number): tf.Tensor2D {
  const key = `${tf.getBackend()}/${t}/${offset}`;
  let mask = maskCache.get(key);
  if (!mask || mask.isDisposed) {
    mask = tf.keep(tf.tensor2d(causalMaskData(t, offset), [t, offset + t]));
    maskCache.set(key, mask);
  }
  return mask;
}

/** [B·T, d] → [B, H, T, d/H] (a plain reshape for T = 1, as in sampling steps). */
function splitHeads(x: tf.Tensor, b: number, t: number, h: number): tf.Tensor {
  const hd = x.shape[1]! / h;
  if (t === 1) return tf.reshape(x, [b, h, 1, hd]);
  return tf.transpose(tf.reshape(x, [b, t, h, hd]), [0, 2, 1, 3]);
}

/** [B, H, T, d/H] → [B·T, d], the inverse of splitHeads. */
function mergeHeads(y: tf.Tensor, b: number, t: number, d: number): tf.Tensor {
  return tf.reshape(t === 1 ? y : tf.transpose(y, [0, 2, 1, 3]), [b * t, d]);
}

/** Per-layer attention keys and values of the tokens seen so far. */
export interface KvCache {
  /** [B, H, length, dModel/H] per layer. */
  k: tf.Tensor[];
  /** [B, H, length, dModel/H] per layer. */
  v: tf.Tensor[];
  /** Number of cached positions. */
  length: number;
}

/**
 * One block's [d, 3d] QKV weight and [3d] bias as q, k, v parts. Splitting
 * the [B·T, 3d] activation instead costs ~30 ms at B·T = 2048 on wasm (and
 * ~0.3 ms even at 32 rows); the weights are small.
 */
type QkvParts = { w: tf.Tensor[]; b: tf.Tensor[] };

function qkvParts(blk: GptBlock): QkvParts {
  const d = blk.wO.shape[0];
  return {
    w: tf.unstack(tf.transpose(tf.reshape(blk.wQkv, [d, 3, d]), [1, 0, 2])),
    // Slices, not unstack: wasm's fused matMul wants a bias with its own rank-1 buffer.
    b: [0, 1, 2].map((i) => tf.slice(blk.bQkv, [i * d], [d])),
  };
}

/**
 * Weights derived once for many small forwards (sampling): each block's
 * q/k/v parts. Reusing the same tensors also lets wasm reuse its XNNPACK
 * operators, which it caches per weight tensor. Free with
 * `disposeSamplingWeights`; stale once the model is updated.
 */
export interface SamplingWeights {
  qkv: QkvParts[];
}

/** Makes a model's `SamplingWeights`. */
export function samplingWeights(model: Gpt): SamplingWeights {
  return { qkv: tf.tidy(() => model.blocks.map(qkvParts)) };
}

/** Frees `SamplingWeights`. */
export function disposeSamplingWeights(weights: SamplingWeights): void {
  for (const { w, b } of weights.qkv) tf.dispose([...w, ...b]);
}

/**
 * Causal self-attention; appends this step's keys/values to `past`. The
 * per-head products are batched matMuls, which wasm runs in a plain loop
 * where transpose flags cost nothing (unlike 2-D products, workaround B), so
 * `matMul(q, k, false, true)` needs no explicit transpose.
 */
function attention(
  ops: Ops,
  x: tf.Tensor, // [B·T, d], already normalised
  blk: GptBlock,
  qkv: QkvParts,
  b: number,
  t: number,
  nHeads: number,
  past: { k: tf.Tensor; v: tf.Tensor; length: number } | null,
): { out: tf.Tensor; k: tf.Tensor; v: tf.Tensor } {
  const d = x.shape[1]!;
  const [q, k, v] = [0, 1, 2].map((i) =>
    splitHeads(ops.linear(x, qkv.w[i], qkv.b[i]), b, t, nHeads)
  );
  const kAll = past ? tf.concat([past.k, k], 2) : k;
  const vAll = past ? tf.concat([past.v, v], 2) : v;
  const offset = past ? past.length : 0;
  const qScaled = tf.mul(q, 1 / Math.sqrt(d / nHeads));
  let scores = ops.scores(qScaled, kAll); // [B, H, T, offset+T]
  // A single new query may attend to every cached key: no mask needed.
  if (t > 1) scores = tf.add(scores, causalMask(t, offset));
  const y = ops.mix(tf.softmax(scores), vAll); // [B, H, T, d/H]
  return { out: ops.linear(mergeHeads(y, b, t, d), blk.wO, blk.bO), k: kAll, v: vAll };
}

/**
 * The forward pass for tokens at positions past.length…: logits [B, T, V]
 * plus the updated per-layer keys/values. Pure tensor code, no tidy.
 */
function forward(
  ops: Ops,
  model: Gpt,
  tokens: tf.Tensor2D,
  past: KvCache | null,
  weights?: SamplingWeights,
): { logits: tf.Tensor3D; k: tf.Tensor[]; v: tf.Tensor[] } {
  const { vocabSize, dModel: d, nHeads, contextLength } = model.config;
  const [b, t] = tokens.shape;
  const offset = past ? past.length : 0;
  if (offset + t > contextLength) {
    throw new Error(
      `Sequence of ${offset + t} tokens exceeds the context length ${contextLength}`,
    );
  }
  const ids = tokens.dtype === "int32" ? tokens : tf.cast(tokens, "int32");
  const tok = ops.embed(tf.reshape(ids, [b * t]), model.tokEmb);
  const pos = tf.reshape(tf.slice(model.posEmb, [offset, 0], [t, d]), [t * d]);
  let x = tf.reshape(ops.addRow(tf.reshape(tok, [b, t * d]), pos), [b * t, d]);
  const ks: tf.Tensor[] = [];
  const vs: tf.Tensor[] = [];
  model.blocks.forEach((blk, i) => {
    const layerPast = past ? { k: past.k[i], v: past.v[i], length: past.length } : null;
    const att = attention(
      ops,
      ops.layerNorm(x, blk.ln1G, blk.ln1B),
      blk,
      weights?.qkv[i] ?? qkvParts(blk),
      b,
      t,
      nHeads,
      layerPast,
    );
    x = tf.add(x, att.out);
    ks.push(att.k);
    vs.push(att.v);
    const hidden = gelu(ops.linear(ops.layerNorm(x, blk.ln2G, blk.ln2B), blk.wIn, blk.bIn));
    x = tf.add(x, ops.linear(hidden, blk.wOut, blk.bOut));
  });
  const out = ops.matmul(ops.layerNorm(x, model.lnFG, model.lnFB), model.head);
  return { logits: tf.reshape(out, [b, t, vocabSize]), k: ks, v: vs };
}

let webGpuOps = true;

/**
 * Whether `logits` uses the webgpu ops (webgpu_ops.ts) on the webgpu backend
 * (default true); false runs the wasm-oriented ops there too, so that
 * bench/webgpu_profile.ts can show the difference.
 */
export function setWebGpuOps(enabled: boolean): void {
  webGpuOps = enabled;
}

/**
 * Next-token logits [B, T, V] for int token ids [B, T] (position t predicts
 * token t+1). Differentiable; call it inside tf.tidy / a gradient function.
 */
export function logits(model: Gpt, tokens: tf.Tensor2D): tf.Tensor3D {
  // webgpu has its own slow kernels to avoid (webgpu_ops.ts, issue 13).
  const ops = webGpuOps && tf.getBackend() === "webgpu" ? WEBGPU_GRAD_OPS : GRAD_OPS;
  return forward(ops, model, tokens, null).logits;
}

/**
 * Incremental forward for sampling (no gradient): feeds `tokens` [B, T]
 * after the cached positions and returns their logits [B, T, V] and a new
 * cache. Tensors are managed here (no leaks); the caller disposes the
 * returned logits and, when done with them, both the old and the new cache
 * (`disposeCache`). Pass `samplingWeights(model)` when stepping many times.
 */
export function forwardCached(
  model: Gpt,
  tokens: tf.Tensor2D,
  cache: KvCache | null,
  weights?: SamplingWeights,
): { logits: tf.Tensor3D; cache: KvCache } {
  const length = (cache ? cache.length : 0) + tokens.shape[1];
  const out = tf.tidy(() => forward(PLAIN_OPS, model, tokens, cache, weights));
  return { logits: out.logits, cache: { k: out.k, v: out.v, length } };
}

/** Keeps only the given batch rows of a cache (the old cache is disposed). */
export function selectCacheRows(cache: KvCache, rows: number[]): KvCache {
  const idx = tf.tensor1d(rows, "int32");
  const pick = (x: tf.Tensor) => {
    const y = tf.gather(x, idx, 0);
    x.dispose();
    return y;
  };
  const out = {
    k: cache.k.map(pick),
    v: cache.v.map(pick),
    length: cache.length,
  };
  idx.dispose();
  return out;
}

/** Frees a cache's tensors. */
export function disposeCache(cache: KvCache | null): void {
  if (cache) tf.dispose([...cache.k, ...cache.v]);
}
