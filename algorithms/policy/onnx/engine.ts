/**
 * The GPT's compute on onnxruntime (the "onnx" backend): logits, per-token
 * log-probs and entropies (`onnxTokenStats`), parameter gradients of a loss
 * on those (`onnxGradients`) and KV-cached decoding (`OnnxDecoder`), with
 * the weights read from the tfjs
 * model's variables on every call (so the model, its optimizer and its
 * checkpoints stay in tfjs). Sessions are built once per model shape and
 * thread, from the graphs in gpt_graphs.ts.
 *
 * Why: tfjs-wasm runs batched matmuls (all of attention) in a scalar loop
 * and reaches ~5% of this CPU's peak; onnxruntime's MLAS kernels run the
 * same network 5–10× faster (README, "Performance").
 *
 * @module
 */

import {
  causalMaskData,
  type Gpt,
  type GptConfig,
  MASKED,
  namedParameters,
  parameterSpecs,
} from "../gpt.ts";
import { gradientGraph, gradName, inferenceGraph, scoringGraph } from "./gpt_graphs.ts";
import { OrtSession, type OrtTensor } from "./runtime.ts";
import { ortThreads } from "./threads.ts";

interface Sessions {
  infer?: OrtSession;
  decode?: OrtSession;
  score?: OrtSession;
  grad?: OrtSession;
}

/** Sessions per model shape and thread count, most recently used last. */
const sessions = new Map<string, Sessions>();

/** Shapes × thread counts whose sessions stay loaded (each holds ~100 MB of arenas). */
const MAX_SESSION_SETS = 2;

/** The sessions of a model shape at the current thread setting. */
function sessionsFor(config: GptConfig): Sessions {
  const { vocabSize, contextLength, dModel, nLayers, nHeads, mlpRatio } = config;
  const key = [ortThreads(), vocabSize, contextLength, dModel, nLayers, nHeads, mlpRatio].join("/");
  let s = sessions.get(key);
  if (s) sessions.delete(key); // re-inserted below as the most recent
  s ??= {};
  sessions.set(key, s);
  for (const [old, set] of sessions) {
    if (sessions.size <= MAX_SESSION_SETS) break;
    for (const session of Object.values(set)) session?.dispose();
    sessions.delete(old);
  }
  return s;
}

function inferSession(config: GptConfig): OrtSession {
  const s = sessionsFor(config);
  return s.infer ??= new OrtSession(inferenceGraph(config, false), 1);
}

function decodeSession(config: GptConfig): OrtSession {
  const s = sessionsFor(config);
  // One thread: decoding steps are too small to gain (measured ~30% slower with 2).
  return s.decode ??= new OrtSession(inferenceGraph(config, true), 1);
}

function scoreSession(config: GptConfig): OrtSession {
  const s = sessionsFor(config);
  return s.score ??= new OrtSession(scoringGraph(config));
}

function gradSession(config: GptConfig): OrtSession {
  const s = sessionsFor(config);
  return s.grad ??= new OrtSession(gradientGraph(config));
}

/** A model's weights as session feeds (a snapshot: re-read after an update). */
export type WeightFeeds = Record<string, OrtTensor>;

/** Snapshots the model's weights for `onnxLogits` / `onnxGradients` / `OnnxDecoder`. */
export function weightFeeds(model: Gpt): WeightFeeds {
  const feeds: WeightFeeds = {};
  for (const { name, variable } of namedParameters(model)) {
    feeds[name] = { data: variable.dataSync() as Float32Array, dims: variable.shape };
  }
  return feeds;
}

const causalMasks = new Map<number, OrtTensor>();

/** The [1, 1, T, T] causal mask and [1, T] positions 0..T-1 of a fresh sequence. */
function freshSequence(t: number): { mask: OrtTensor; positions: OrtTensor } {
  let mask = causalMasks.get(t);
  if (!mask) causalMasks.set(t, mask = { data: causalMaskData(t), dims: [1, 1, t, t] });
  const positions = { data: Int32Array.from({ length: t }, (_, i) => i), dims: [1, t] };
  return { mask, positions };
}

function checkContext(config: GptConfig, t: number): void {
  if (t > config.contextLength) {
    throw new Error(`Sequence of ${t} tokens exceeds the context length ${config.contextLength}`);
  }
}

/** Next-token logits [B, T, V] (flat) of int token ids [B, T] (flat, row-major). */
export function onnxLogits(
  model: Gpt,
  tokens: Int32Array,
  b: number,
  t: number,
  weights: WeightFeeds = weightFeeds(model),
): Float32Array {
  checkContext(model.config, t);
  const feeds = { ...weights, ...freshSequence(t), tokens: { data: tokens, dims: [b, t] } };
  return inferSession(model.config).run(feeds, ["logits"]).logits.data as Float32Array;
}

/** A batch to score: int32 inputs and targets [B, T] (flat, row-major). */
export interface ScoringBatch {
  inputs: Int32Array;
  targets: Int32Array;
  b: number;
  t: number;
  /** Softmax temperature of the log-probs and entropies (> 0). */
  temperature: number;
}

/** Per-token log-probs of the targets and entropies, each [B, T] (flat). */
export interface TokenStatsArrays {
  logp: Float32Array;
  entropy: Float32Array;
}

function scoringFeeds(
  model: Gpt,
  batch: ScoringBatch,
  weights: WeightFeeds,
): Record<string, OrtTensor> {
  const { inputs, targets, b, t, temperature } = batch;
  checkContext(model.config, t);
  return {
    ...weights,
    ...freshSequence(t),
    tokens: { data: inputs, dims: [b, t] },
    targets: { data: targets, dims: [b, t] },
    inv_temperature: { data: Float32Array.of(1 / temperature), dims: [] },
  };
}

/** log π(target) and the entropy (nats) at every position of a batch. */
export function onnxTokenStats(
  model: Gpt,
  batch: ScoringBatch,
  weights: WeightFeeds = weightFeeds(model),
): TokenStatsArrays {
  const out = scoreSession(model.config).run(scoringFeeds(model, batch, weights), [
    "logp",
    "entropy",
  ]);
  return { logp: out.logp.data as Float32Array, entropy: out.entropy.data as Float32Array };
}

/**
 * Gradients of a loss with respect to every parameter (`parameterSpecs`
 * order), given the loss's gradients with respect to the batch's token
 * log-probs and entropies, each [B, T]; also returns those statistics as
 * this run computed them (so a loss whose gradient is known beforehand
 * needs no separate `onnxTokenStats` run).
 */
export function onnxGradients(
  model: Gpt,
  batch: ScoringBatch,
  grads: TokenStatsArrays,
  weights: WeightFeeds = weightFeeds(model),
): { grads: Float32Array[]; stats: TokenStatsArrays } {
  const { config } = model;
  const { b, t } = batch;
  const names = parameterSpecs(config).map((s) => s.name);
  const out = gradSession(config).run({
    ...scoringFeeds(model, batch, weights),
    dlogp: { data: grads.logp, dims: [b, t] },
    dentropy: { data: grads.entropy, dims: [b, t] },
  }, [...names.map(gradName), "logp", "entropy"]);
  return {
    grads: names.map((name) => {
      const g = out[gradName(name)].data as Float32Array;
      if (name !== "pos_emb") return g;
      const padded = new Float32Array(config.contextLength * config.dModel); // unused positions: 0
      padded.set(g);
      return padded;
    }),
    stats: { logp: out.logp.data as Float32Array, entropy: out.entropy.data as Float32Array },
  };
}

/** Positions added to the KV cache's capacity when a row reaches it. */
const CACHE_GROWTH = 16;

/**
 * Incremental decoding with a KV cache kept in JS buffers [slots, H, cap,
 * d/H] per layer. Each step feeds the whole cache with a per-row mask and
 * gets back only the new keys/values, which is far cheaper than exporting
 * the grown cache every step. Rows may have prompts of different lengths:
 * each row has its own position. The capacity starts at the longest prompt
 * + 16 and grows by 16 (up to the context length) as rows reach it, so
 * attention spans about the positions in use (attention over the whole
 * context was ~40% of a decoding step at batch 32).
 *
 * Finished rows are dropped lazily: their slots keep computing (on a
 * dummy token) until fewer than 3/4 of the slots are live, then the cache is
 * compacted in place — moving the cache on every drop cost more than the
 * forward pass itself at batch 256.
 */
export class OnnxDecoder {
  readonly #config: GptConfig;
  readonly #weights: WeightFeeds;
  /** Physical rows (slots) of the cache buffers. */
  #slots = 0;
  /** Live row i's slot. */
  #live: number[] = [];
  #cache: Float32Array[] = []; // k0, v0, k1, v1, … over #slots rows
  /** Positions each slot's cache holds. */
  #cap = 0;
  /** Next position per slot. */
  #pos = new Int32Array(0);

  /** A decoder over a snapshot of the model's weights. */
  constructor(model: Gpt, weights: WeightFeeds = weightFeeds(model)) {
    this.#config = model.config;
    this.#weights = weights;
  }

  /**
   * Feeds the prompts (any lengths ≥ 1, right-padded internally) and returns
   * each row's next-token logits [rows, V] (flat).
   */
  start(prompts: number[][]): Float32Array {
    const { vocabSize: v, nLayers, nHeads: h, dModel: d, contextLength: c } = this.#config;
    const hd = d / h;
    const b = prompts.length;
    if (b === 0) throw new Error("OnnxDecoder.start: no prompts");
    const empty = prompts.findIndex((p) => p.length === 0);
    if (empty >= 0) throw new Error(`OnnxDecoder.start: prompt ${empty} is empty`);
    const t = Math.max(...prompts.map((p) => p.length));
    checkContext(this.#config, t);
    const tokens = new Int32Array(b * t);
    prompts.forEach((p, i) => tokens.set(p, i * t));
    const feeds: Record<string, OrtTensor> = {
      ...this.#weights,
      ...freshSequence(t),
      tokens: { data: tokens, dims: [b, t] },
    };
    const noPast = { data: new Float32Array(0), dims: [b, h, 0, hd] };
    for (let l = 0; l < nLayers; l++) feeds[`past_k${l}`] = feeds[`past_v${l}`] = noPast;
    const out = decodeSession(this.#config).run(feeds);
    this.#slots = b;
    this.#live = prompts.map((_, i) => i);
    this.#cap = Math.min(c, t + CACHE_GROWTH);
    this.#cache = [];
    for (let l = 0; l < nLayers; l++) {
      for (const kind of ["k", "v"]) {
        const buf = new Float32Array(b * h * this.#cap * hd);
        const src = out[`new_${kind}${l}`].data as Float32Array;
        writeRows(buf, src, b * h, t, this.#cap, hd, null);
        this.#cache.push(buf);
      }
    }
    this.#pos = Int32Array.from(prompts, (p) => p.length);
    const logits = out.logits.data as Float32Array;
    const last = new Float32Array(b * v);
    prompts.forEach((p, i) =>
      last.set(logits.subarray((i * t + p.length - 1) * v, (i * t + p.length) * v), i * v)
    );
    return last;
  }

  /** Feeds one token per live row and returns their next-token logits [rows, V]. */
  step(next: number[]): Float32Array {
    const { vocabSize: v, nLayers, nHeads: h, dModel: d } = this.#config;
    const hd = d / h;
    const b = this.#slots;
    if (next.length !== this.#live.length) {
      throw new Error(`OnnxDecoder.step: ${next.length} tokens for ${this.#live.length} rows`);
    }
    const tokens = new Int32Array(b); // dead slots: token 0 at their old position
    this.#live.forEach((slot, i) => {
      checkContext(this.#config, this.#pos[slot] + 1);
      if (this.#pos[slot] >= this.#cap) this.#grow();
      tokens[slot] = next[i];
    });
    // Keys: the cache's cap slots (row i's first pos[i] are real), then the new token.
    const cap = this.#cap;
    const mask = new Float32Array(b * (cap + 1));
    for (let i = 0; i < b; i++) {
      mask.fill(MASKED, i * (cap + 1) + Math.min(this.#pos[i], cap), i * (cap + 1) + cap);
    }
    const positions = this.#pos.map((p) => Math.min(p, cap - 1)); // dead slots stay in bounds
    const feeds: Record<string, OrtTensor> = {
      ...this.#weights,
      tokens: { data: tokens, dims: [b, 1] },
      positions: { data: positions, dims: [b, 1] },
      mask: { data: mask, dims: [b, 1, 1, cap + 1] },
    };
    for (let l = 0; l < nLayers; l++) {
      feeds[`past_k${l}`] = { data: this.#cache[2 * l], dims: [b, h, cap, hd] };
      feeds[`past_v${l}`] = { data: this.#cache[2 * l + 1], dims: [b, h, cap, hd] };
    }
    const out = decodeSession(this.#config).run(feeds);
    for (let l = 0; l < nLayers; l++) {
      for (const [j, kind] of [[0, "k"], [1, "v"]] as const) {
        const src = out[`new_${kind}${l}`].data as Float32Array;
        writeRows(this.#cache[2 * l + j], src, b * h, 1, cap, hd, positions, h);
      }
    }
    for (const slot of this.#live) this.#pos[slot]++;
    const logits = out.logits.data as Float32Array;
    if (this.#live.length === b) return logits;
    const live = new Float32Array(this.#live.length * v);
    this.#live.forEach((slot, i) => live.set(logits.subarray(slot * v, (slot + 1) * v), i * v));
    return live;
  }

  /** Keeps only the given rows (indices into the current live rows, ascending). */
  keep(rows: number[]): void {
    rows.forEach((r, i) => {
      if (!Number.isInteger(r) || r < 0 || r >= this.#live.length || (i > 0 && r <= rows[i - 1])) {
        throw new Error(
          `OnnxDecoder.keep: rows must be ascending indices into the ${this.#live.length} live rows, got [${rows}]`,
        );
      }
    });
    this.#live = rows.map((r) => this.#live[r]);
    if (this.#live.length >= 0.75 * this.#slots) return;
    const rowSize = this.#cap * this.#config.dModel; // H × cap × d/H
    // Slots are ascending and slot ≥ i: moving each row down is safe in place.
    this.#live.forEach((slot, i) => {
      if (slot === i) return;
      for (const buf of this.#cache) {
        buf.copyWithin(i * rowSize, slot * rowSize, (slot + 1) * rowSize);
      }
      this.#pos[i] = this.#pos[slot];
    });
    this.#slots = this.#live.length;
    this.#cache = this.#cache.map((buf) => buf.subarray(0, this.#slots * rowSize));
    this.#pos = this.#pos.slice(0, this.#slots);
    this.#live = this.#live.map((_, i) => i);
  }

  /** Adds CACHE_GROWTH positions (at most up to the context length) to every slot's cache. */
  #grow(): void {
    const { nHeads: h, dModel: d, contextLength: c } = this.#config;
    const hd = d / h;
    const cap = Math.min(c, this.#cap + CACHE_GROWTH);
    const rows = this.#slots * h;
    this.#cache = this.#cache.map((old) => {
      const buf = new Float32Array(rows * cap * hd);
      for (let r = 0; r < rows; r++) {
        buf.set(old.subarray(r * this.#cap * hd, (r + 1) * this.#cap * hd), r * cap * hd);
      }
      return buf;
    });
    this.#cap = cap;
  }
}

/**
 * Copies new keys/values [B·H, T, hd] into a cache [B·H, C, hd]: at positions
 * 0..T-1, or (T = 1) at each row's position `pos[row]` (row = index / heads).
 */
function writeRows(
  cache: Float32Array,
  src: Float32Array,
  bh: number,
  t: number,
  c: number,
  hd: number,
  pos: Int32Array | null,
  heads = 1,
): void {
  const n = t * hd;
  for (let r = 0; r < bh; r++) {
    const at = pos ? pos[Math.floor(r / heads)] : 0;
    // A plain loop: subarray + set per 32-float row cost ~3× more.
    const from = r * n;
    const to = (r * c + at) * hd;
    for (let k = 0; k < n; k++) cache[to + k] = src[from + k];
  }
}
