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
 *  - B. every matmul goes through `mm`, whose gradient uses explicit
 *    transposes: wasm's matMul with transposeA/B flags is ~30× slower. The
 *    attention scores are `mm(q, tT(k))`, never `matMul(q, k, false, true)`.
 *
 * Parameters are tf.Variables created from seeded JS Float32Arrays, so a seed
 * gives the same initial weights on every backend.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { Rng } from "../rng.ts";

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

/** Swaps the last two axes. */
function tT(x: tf.Tensor): tf.Tensor {
  const perm = [...Array(x.rank).keys()];
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return tf.transpose(x, perm);
}

/** matMul whose gradient uses explicit transposes (workaround B). */
const mmGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [
      tf.matMul(dy, tT(sb)),
      tf.matMul(tT(sa), dy),
    ],
  };
});

/** a × b (same batch dims, no broadcasting), wasm-friendly gradient. */
function mm(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return mmGrad(a, b);
}

/** LayerNorm over the last axis (ε = 1e-5). */
function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(normed, g), b);
}

/** Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)). */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/**
 * Additive causal mask [T, offset+T] for queries at positions offset..offset+T-1
 * over keys 0..offset+T-1 (−1e9 on future keys; finite, so no inf−inf NaNs).
 */
function causalMask(t: number, offset: number): tf.Tensor2D {
  const s = offset + t;
  const data = new Float32Array(t * s);
  for (let i = 0; i < t; i++) {
    for (let j = offset + i + 1; j < s; j++) data[i * s + j] = -1e9;
  }
  return tf.tensor2d(data, [t, s]);
}

/** [B·T, d] → [B, H, T, d/H]. */
function splitHeads(x: tf.Tensor, b: number, t: number, h: number): tf.Tensor {
  const hd = x.shape[1]! / h;
  return tf.transpose(tf.reshape(x, [b, t, h, hd]), [0, 2, 1, 3]);
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

/** Causal self-attention; appends this step's keys/values to `past`. */
function attention(
  x: tf.Tensor, // [B·T, d], already normalised
  blk: GptBlock,
  b: number,
  t: number,
  nHeads: number,
  past: { k: tf.Tensor; v: tf.Tensor; length: number } | null,
): { out: tf.Tensor; k: tf.Tensor; v: tf.Tensor } {
  const d = x.shape[1]!;
  const qkv = tf.add(mm(x, blk.wQkv), blk.bQkv);
  const [q, k, v] = tf.split(qkv, 3, 1).map((m) => splitHeads(m, b, t, nHeads));
  const kAll = past ? tf.concat([past.k, k], 2) : k;
  const vAll = past ? tf.concat([past.v, v], 2) : v;
  const offset = past ? past.length : 0;
  const qScaled = tf.mul(q, 1 / Math.sqrt(d / nHeads));
  let scores = mm(qScaled, tT(kAll)); // [B, H, T, offset+T]
  // A single new query may attend to every cached key: no mask needed.
  if (t > 1) scores = tf.add(scores, causalMask(t, offset));
  const y = mm(tf.softmax(scores), vAll); // [B, H, T, d/H]
  const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [b * t, d]);
  return { out: tf.add(mm(merged, blk.wO), blk.bO), k: kAll, v: vAll };
}

/**
 * The forward pass for tokens at positions past.length…: logits [B, T, V]
 * plus the updated per-layer keys/values. Pure tensor code, no tidy.
 */
function forward(
  model: Gpt,
  tokens: tf.Tensor2D,
  past: KvCache | null,
): { logits: tf.Tensor3D; k: tf.Tensor[]; v: tf.Tensor[] } {
  const { vocabSize, dModel: d, nHeads, contextLength } = model.config;
  const [b, t] = tokens.shape;
  const offset = past ? past.length : 0;
  if (offset + t > contextLength) {
    throw new Error(
      `Sequence of ${offset + t} tokens exceeds the context length ${contextLength}`,
    );
  }
  // Workaround A: one-hot × embedding matrix instead of tf.gather. The
  // one-hot is made as int32 and cast: wasm's OneHot with dtype "float32"
  // writes integer bit patterns (1 reads as 1.4e-45; tfjs 4.22).
  const ids = tf.reshape(tf.cast(tokens, "int32"), [b * t]);
  const oneHot = tf.cast(tf.oneHot(ids, vocabSize), "float32");
  const tok = mm(oneHot, model.tokEmb);
  const pos = tf.slice(model.posEmb, [offset, 0], [t, d]);
  let x = tf.reshape(tf.add(tf.reshape(tok, [b, t, d]), pos), [b * t, d]);
  const ks: tf.Tensor[] = [];
  const vs: tf.Tensor[] = [];
  model.blocks.forEach((blk, i) => {
    const layerPast = past ? { k: past.k[i], v: past.v[i], length: past.length } : null;
    const att = attention(
      layerNorm(x, blk.ln1G, blk.ln1B),
      blk,
      b,
      t,
      nHeads,
      layerPast,
    );
    x = tf.add(x, att.out);
    ks.push(att.k);
    vs.push(att.v);
    const hidden = gelu(
      tf.add(mm(layerNorm(x, blk.ln2G, blk.ln2B), blk.wIn), blk.bIn),
    );
    x = tf.add(x, tf.add(mm(hidden, blk.wOut), blk.bOut));
  });
  const out = mm(layerNorm(x, model.lnFG, model.lnFB), model.head);
  return { logits: tf.reshape(out, [b, t, vocabSize]), k: ks, v: vs };
}

/**
 * Next-token logits [B, T, V] for int token ids [B, T] (position t predicts
 * token t+1). Differentiable; call it inside tf.tidy / a gradient function.
 */
export function logits(model: Gpt, tokens: tf.Tensor2D): tf.Tensor3D {
  return forward(model, tokens, null).logits;
}

/**
 * Incremental forward for sampling: feeds `tokens` [B, T] after the cached
 * positions and returns their logits [B, T, V] and a new cache. Tensors are
 * managed here (no leaks); the caller disposes the returned logits and, when
 * done with them, both the old and the new cache (`disposeCache`).
 */
export function forwardCached(
  model: Gpt,
  tokens: tf.Tensor2D,
  cache: KvCache | null,
): { logits: tf.Tensor3D; cache: KvCache } {
  const length = (cache ? cache.length : 0) + tokens.shape[1];
  const out = tf.tidy(() => forward(model, tokens, cache));
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
