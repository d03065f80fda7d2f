/**
 * Training steps for the GPT policy: supervised next-token learning (warm
 * start), the clipped policy-gradient step of GRPO / HICRA (DAPO clip-higher,
 * verl loss aggregation, optional k3 KL and entropy bonus), per-token
 * log-probs for evaluation, and a small Adam(W) optimizer.
 *
 * Results are read asynchronously (`await tensor.data()`), so the steps run on
 * webgpu too, whose synchronous reads fail under Deno; the few values the RL
 * loss needs while its gradient is being recorded are read synchronously where
 * that works (cpu, wasm, onnx) and taken from a forward pass before it on webgpu.
 *
 * Conventions: token sequences are lists of ids; batches are right-padded here
 * with PAD id 0 (padded positions never enter a loss because of the masks,
 * and the causal attention keeps them from influencing real positions).
 * Position t's logits predict token t+1.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type Gpt, logits, namedParameters } from "./gpt.ts";
import { onnxEngine, syncReadsWork, usingOnnx } from "./backend.ts";
import type { ScoringBatch } from "./onnx/engine.ts";
import type { Rng } from "../rng.ts";
import { clipCovSelection, forkingTokenMask, klCovSelection } from "./token_selection.ts";

/** Padding token id used to right-pad ragged batches. */
export const PAD_ID = 0;

// ---------------------------------------------------------------------------
// Optimizer

/** Adam(W) hyper-parameters. */
export interface AdamOptions {
  /** Learning rate (may be changed between steps through `adam.lr`). */
  lr: number;
  /** First-moment decay (default 0.9). */
  beta1?: number;
  /** Second-moment decay (default 0.999). */
  beta2?: number;
  /** Denominator epsilon (default 1e-8). */
  epsilon?: number;
  /** Decoupled weight decay on matrices only (rank ≥ 2; default 0). */
  weightDecay?: number;
}

/** Serialisable optimizer state (moments in `parameterSpecs` order). */
export interface AdamState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

/**
 * Adam with bias correction (Kingma & Ba), optionally AdamW's decoupled decay.
 * Written here rather than tf.train.adam so that its state (step and moments)
 * can be saved in checkpoints and a resumed run continues bit-identically.
 * One instance serves one model.
 */
export class Adam {
  /** Learning rate; may be changed between steps (schedules). */
  lr: number;
  /** First-moment decay. */
  readonly beta1: number;
  /** Second-moment decay. */
  readonly beta2: number;
  /** Denominator epsilon. */
  readonly epsilon: number;
  /** Decoupled weight decay (matrices only). */
  readonly weightDecay: number;
  /** Number of updates applied so far. */
  step = 0;
  #m: tf.Variable[] | null = null;
  #v: tf.Variable[] | null = null;

  /** Creates an optimizer; the moments are allocated on the first update. */
  constructor(opts: AdamOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.lr >= 0)) {
      throw new Error(`Adam lr must be >= 0, got ${this.lr}`);
    }
  }

  /** Applies one update: params -= lr · m̂ / (√v̂ + ε) for grads × gradScale. */
  apply(params: tf.Variable[], grads: tf.Tensor[], gradScale = 1): void {
    if (!this.#m || !this.#v) {
      // tidy frees the zeros tensors; the variables keep their data.
      this.#m = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
      this.#v = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
    }
    const [m, v] = [this.#m, this.#v];
    if (m.length !== params.length) {
      throw new Error(
        `Adam was built for ${m.length} parameters, got ${params.length}`,
      );
    }
    this.step++;
    const { beta1: b1, beta2: b2, lr, epsilon, weightDecay } = this;
    const bc1 = 1 - Math.pow(b1, this.step);
    const bc2 = 1 - Math.pow(b2, this.step);
    tf.tidy(() => {
      params.forEach((p, i) => {
        const g = gradScale === 1 ? grads[i] : tf.mul(grads[i], gradScale);
        m[i].assign(tf.add(tf.mul(m[i], b1), tf.mul(g, 1 - b1)));
        v[i].assign(tf.add(tf.mul(v[i], b2), tf.mul(tf.square(g), 1 - b2)));
        const denom = tf.add(tf.sqrt(tf.div(v[i], bc2)), epsilon);
        let update = tf.div(tf.mul(m[i], lr / bc1), denom);
        if (weightDecay > 0 && p.rank >= 2) {
          update = tf.add(update, tf.mul(p, lr * weightDecay));
        }
        p.assign(tf.sub(p, update));
      });
    });
  }

  /** A copy of the state (for checkpoints); empty moments before any update. */
  async getState(): Promise<AdamState> {
    const copy = (xs: tf.Variable[] | null) =>
      Promise.all((xs ?? []).map(async (x) => (await x.data() as Float32Array).slice()));
    return { step: this.step, m: await copy(this.#m), v: await copy(this.#v) };
  }

  /** Restores a state saved by `getState` (shapes taken from `params`). */
  setState(state: AdamState, params: tf.Variable[]): void {
    this.dispose();
    this.step = state.step;
    if (state.m.length === 0) return;
    if (state.m.length !== params.length || state.v.length !== params.length) {
      throw new Error(
        `Optimizer state has ${state.m.length} moments, the model ${params.length} parameters`,
      );
    }
    const make = (a: Float32Array, p: tf.Variable) => {
      if (a.length !== p.size) {
        throw new Error(
          `Optimizer moment of ${a.length} values for a parameter of ${p.size}`,
        );
      }
      return tf.tidy(() => tf.variable(tf.tensor(a, p.shape, "float32"), false));
    };
    this.#m = state.m.map((a, i) => make(a, params[i]));
    this.#v = state.v.map((a, i) => make(a, params[i]));
  }

  /** Frees the moment tensors. */
  dispose(): void {
    if (this.#m) tf.dispose(this.#m);
    if (this.#v) tf.dispose(this.#v);
    this.#m = this.#v = null;
  }
}

// ---------------------------------------------------------------------------
// Shared pieces

/**
 * Per-token statistics of a batch, each [B, T]: the log-prob of the target
 * token and the entropy (nats) of the distribution. Every loss here reads
 * the logits only through these, so the onnx backend computes them (and
 * their backward pass) in the graph and tfjs only sees [B, T] tensors.
 */
interface TokenStats {
  logp: tf.Tensor2D;
  entropy: tf.Tensor2D;
}

/**
 * A loss as a function of the token statistics. `linearLogp`, when set,
 * says the loss is Σ linearLogp ⊙ logp (cross-entropy is): its gradient is
 * then known before the forward pass, and the onnx backend needs one run
 * of the network instead of two.
 */
interface StatsLoss {
  (stats: TokenStats): tf.Scalar;
  linearLogp?: Float32Array;
}

/** The loss Σ coef ⊙ logp (coef [B, T]), marked linear for the onnx backend. */
function linearLogpLoss(coef: Float32Array, b: number, t: number): StatsLoss {
  const loss: StatsLoss = ({ logp }) => tf.sum(tf.mul(logp, tf.tensor2d(coef, [b, t])));
  loss.linearLogp = coef;
  return loss;
}

/** Token statistics on tfjs: differentiable through the model. */
function tfjsTokenStats(model: Gpt, batch: ScoringBatch): TokenStats {
  const { inputs, targets, b, t, temperature } = batch;
  const z = logits(model, tf.tensor2d(inputs, [b, t], "int32"));
  const logpAll = tf.logSoftmax(temperature === 1 ? z : tf.div(z, temperature));
  // One-hot as int32 then cast: wasm's float32 OneHot is broken (see gpt.ts).
  const oneHot = tf.cast(tf.oneHot(tf.tensor2d(targets, [b, t], "int32"), z.shape[2]!), "float32");
  return {
    logp: tf.sum(tf.mul(logpAll, oneHot), -1) as tf.Tensor2D,
    entropy: tf.neg(tf.sum(tf.mul(tf.exp(logpAll), logpAll), -1)) as tf.Tensor2D,
  };
}

/** Token statistics without gradient, on the active engine. */
function tokenStats(model: Gpt, batch: ScoringBatch): TokenStats {
  if (!usingOnnx()) {
    const [logp, entropy] = tf.tidy(() => {
      const s = tfjsTokenStats(model, batch);
      return [s.logp, s.entropy];
    });
    return { logp: logp as tf.Tensor2D, entropy: entropy as tf.Tensor2D };
  }
  const { logp, entropy } = onnxEngine().onnxTokenStats(model, batch);
  return {
    logp: tf.tensor2d(logp, [batch.b, batch.t]),
    entropy: tf.tensor2d(entropy, [batch.b, batch.t]),
  };
}

/**
 * A loss and its gradients for every parameter (`parameterSpecs` order).
 * tfjs: autodiff through the whole network. onnx: token statistics from
 * onnxruntime, the loss's gradient with respect to them by tfjs autodiff
 * (the same loss code), then the network's backward pass on onnxruntime.
 */
function lossAndGradients(
  model: Gpt,
  batch: ScoringBatch,
  loss: StatsLoss,
): { value: tf.Scalar; grads: tf.Tensor[] } {
  const params = namedParameters(model).map((p) => p.variable);
  if (!usingOnnx()) {
    const { value, grads } = tf.variableGrads(() => loss(tfjsTokenStats(model, batch)), params);
    return { value, grads: params.map((p) => grads[p.name]) };
  }
  const engine = onnxEngine();
  const weights = engine.weightFeeds(model);
  const toTensors = (grads: Float32Array[]) =>
    grads.map((a, i) => tf.tensor(a, params[i].shape, "float32"));
  const { b, t } = batch;
  if (loss.linearLogp) {
    const run = engine.onnxGradients(model, batch, {
      logp: loss.linearLogp,
      entropy: new Float32Array(b * t),
    }, weights);
    const value = tf.tidy(() =>
      loss({
        logp: tf.tensor2d(run.stats.logp, [b, t]),
        entropy: tf.tensor2d(run.stats.entropy, [b, t]),
      })
    );
    return { value, grads: toTensors(run.grads) };
  }
  const stats = engine.onnxTokenStats(model, batch, weights);
  // Variables, because variableGrads tolerates a statistic the loss ignores
  // (tidy frees the initial tensors; the variables keep their data).
  const [logp, entropy] = tf.tidy(() =>
    [stats.logp, stats.entropy].map((a) => tf.variable(tf.tensor2d(a, [b, t])))
  );
  let result: ReturnType<typeof tf.variableGrads> | null = null;
  try {
    result = tf.variableGrads(() => loss({ logp, entropy }), [logp, entropy]);
    const read = (v: tf.Variable) =>
      result!.grads[v.name]?.dataSync() as Float32Array ?? new Float32Array(b * t);
    const run = engine.onnxGradients(model, batch, {
      logp: read(logp),
      entropy: read(entropy),
    }, weights);
    return { value: result.value, grads: toTensors(run.grads) };
  } catch (error) {
    result?.value.dispose();
    throw error;
  } finally {
    tf.dispose([logp, entropy, ...Object.values(result?.grads ?? {})]);
  }
}

/**
 * Computes the loss and its gradients, checks both are finite, clips the
 * global gradient norm and applies the update.
 */
async function optimize(
  model: Gpt,
  optimizer: Adam,
  batch: ScoringBatch,
  loss: StatsLoss,
  maxGradNorm: number,
  what: string,
): Promise<{ loss: number; gradNorm: number }> {
  const params = namedParameters(model).map((p) => p.variable);
  const { value, grads: ordered } = lossAndGradients(model, batch, loss);
  try {
    const loss = (await value.data())[0];
    if (!Number.isFinite(loss)) throw new Error(`${what}: loss is ${loss}`);
    // Chained adds in order, not tf.addN: tfjs-webgpu 4.22's AddN sums only its first 4 inputs
    // (on cpu and wasm both round after every addition, so the result is the same).
    const normT = tf.tidy(() =>
      tf.sqrt(ordered.map((g) => tf.sum(tf.square(g))).reduce((acc, x) => tf.add(acc, x)))
    );
    let gradNorm: number;
    try {
      gradNorm = (await normT.data())[0];
    } finally {
      normT.dispose();
    }
    if (!Number.isFinite(gradNorm)) {
      throw new Error(`${what}: gradient norm is ${gradNorm}`);
    }
    const scale = maxGradNorm > 0 && gradNorm > maxGradNorm ? maxGradNorm / (gradNorm + 1e-6) : 1;
    optimizer.apply(params, ordered, scale);
    return { loss, gradNorm };
  } finally {
    value.dispose();
    tf.dispose(ordered);
  }
}

/** Validates token ids against the vocabulary and the context length. */
function checkSequences(model: Gpt, tokens: number[][], what: string): void {
  const { vocabSize, contextLength } = model.config;
  tokens.forEach((seq, i) => {
    if (seq.length > contextLength) {
      throw new Error(
        `${what}: sequence ${i} has ${seq.length} tokens, over the context length ${contextLength}`,
      );
    }
    for (const id of seq) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new Error(
          `${what}: sequence ${i} has token ${id} outside 0..${vocabSize - 1}`,
        );
      }
    }
  });
}

/**
 * Shifted, right-padded int32 [B, L-1] inputs (tokens 0..L-2) and targets
 * (tokens 1..L-1), L = longest sequence.
 */
function shiftBatch(
  tokens: number[][],
): { inputs: Int32Array; targets: Int32Array; b: number; t: number } {
  const b = tokens.length;
  const t = Math.max(...tokens.map((s) => s.length)) - 1;
  const inputs = new Int32Array(b * t).fill(PAD_ID);
  const targets = new Int32Array(b * t).fill(PAD_ID);
  tokens.forEach((seq, i) => {
    for (let j = 0; j + 1 < seq.length; j++) {
      inputs[i * t + j] = seq[j];
      targets[i * t + j] = seq[j + 1];
    }
  });
  return { inputs, targets, b, t };
}

// ---------------------------------------------------------------------------
// Supervised step

/** A supervised batch. */
export interface SupervisedBatch {
  /** Token sequences (ragged rows are right-padded with PAD_ID 0). */
  tokens: number[][];
  /**
   * Per token: true when predicting this token counts in the loss (e.g. only
   * the solution, not the prompt). Index 0 is ignored (nothing predicts it).
   */
  lossMask: boolean[][];
}

/** Outcome of one optimizer step. */
export interface StepResult {
  /** Mean next-token cross-entropy (nats) over masked tokens, before the update. */
  loss: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
}

/**
 * A supervised batch laid out for the forward pass, with its loss as a
 * function of the logits: mean next-token cross-entropy over the masked
 * tokens.
 */
function supervisedProblem(
  model: Gpt,
  batch: SupervisedBatch,
): { tokens: ScoringBatch; loss: StatsLoss } {
  const { tokens, lossMask } = batch;
  if (tokens.length === 0) throw new Error("supervisedLoss: empty batch");
  if (lossMask.length !== tokens.length) {
    throw new Error(
      `supervisedLoss: ${tokens.length} sequences but ${lossMask.length} loss masks`,
    );
  }
  checkSequences(model, tokens, "supervisedLoss");
  const { inputs, targets, b, t } = shiftBatch(tokens);
  if (t < 1) {
    throw new Error("supervisedLoss: sequences need at least 2 tokens");
  }
  const weights = new Float32Array(b * t);
  let count = 0;
  tokens.forEach((seq, i) => {
    if (lossMask[i].length !== seq.length) {
      throw new Error(
        `supervisedLoss: sequence ${i} has ${seq.length} tokens but ${
          lossMask[i].length
        } mask entries`,
      );
    }
    for (let j = 1; j < seq.length; j++) {
      if (lossMask[i][j]) {
        weights[i * t + j - 1] = 1;
        count++;
      }
    }
  });
  if (count === 0) {
    throw new Error("supervisedLoss: the loss mask selects no token");
  }
  for (let k = 0; k < weights.length; k++) weights[k] /= count;
  return {
    tokens: { inputs, targets, b, t, temperature: 1 },
    loss: linearLogpLoss(weights.map((w) => -w), b, t),
  };
}

/**
 * Mean next-token cross-entropy (nats) over the masked tokens, as a
 * differentiable scalar of the tfjs model (run it under tf.tidy or a
 * gradient function).
 */
export function supervisedLoss(model: Gpt, batch: SupervisedBatch): tf.Scalar {
  const { tokens, loss } = supervisedProblem(model, batch);
  return tf.tidy(() => loss(tfjsTokenStats(model, tokens)));
}

/**
 * One Adam step on `supervisedLoss` (mean next-token cross-entropy over the
 * masked tokens). `maxGradNorm` (default 1; 0 disables) clips the global
 * gradient norm. Throws when the loss or gradient norm is not finite.
 */
export async function supervisedStep(
  model: Gpt,
  optimizer: Adam,
  batch: SupervisedBatch,
  opts: { maxGradNorm?: number } = {},
): Promise<StepResult> {
  const { tokens, loss } = supervisedProblem(model, batch);
  return await optimize(model, optimizer, tokens, loss, opts.maxGradNorm ?? 1, "supervisedStep");
}

// ---------------------------------------------------------------------------
// RL step

/** How token losses are reduced to the batch loss (verl `loss_agg_mode`). */
export type LossAgg =
  | "token-mean"
  | "seq-mean-token-sum"
  | "seq-mean-token-mean"
  | "seq-mean-token-sum-norm";

/**
 * Where the importance ratio lives.
 * - `token`: ρ_t = π(y_t)/π_old(y_t) per token (PPO, GRPO, DAPO).
 * - `sequence`: GSPO (Zheng et al. 2025, "Group Sequence Policy Optimization",
 *   arXiv 2507.18071): s_i = exp(mean_t(log π − log π_old)) for every token of response i,
 *   the gradient flowing
 *   through all of its tokens (TRL `importance_sampling_level="sequence"`).
 * - `sequence-token`: GSPO-token (same paper): s_{i,t} = sg[s_i]·π(y_t)/sg[π(y_t)],
 *   whose value is s_i and whose gradient is s_i·∇log π(y_t) (verl `compute_policy_loss_gspo`).
 *   With one advantage per response it equals `sequence`; with token advantages (HICRA, GTPO)
 *   each token keeps its own.
 *
 * Both sequence levels clamp log s at 10 from above, as verl does.
 */
export type RatioLevel = "token" | "sequence" | "sequence-token";

/**
 * The policy-loss variant (verl `actor.policy_loss.loss_mode`; Cui et al. 2025, "The Entropy
 * Mechanism of RL for Reasoning LMs", arXiv 2505.22617, §4).
 * - `vanilla`: the clipped surrogate max(−Â·ρ, −Â·clip(ρ, 1 − ε_low, 1 + ε_high)).
 * - `kl-cov`: no ratio clipping; the k = max(1, ⌊N·kl_cov_ratio⌋) tokens of largest
 *   cov = (Â − mean Â)(log π − mean log π) get −Â·ρ + ppo_kl_coef·|log π − log π_old|, every
 *   other token −Â·ρ (`compute_policy_loss_kl_cov`).
 * - `clip-cov`: the vanilla loss, with a random max(1, ⌊N·clip_cov_ratio⌋) of the tokens that
 *   are not PPO-clipped and have clip_cov_lb < cov < clip_cov_ub detached (loss × 0)
 *   (`compute_policy_loss_clip_cov`).
 *
 * N is the number of response tokens of the minibatch; the selections are in
 * `token_selection.ts`. Both variants use ρ = exp(log π − log π_old) without verl's ±20 clamp
 * of the vanilla loss, as verl does.
 */
export type PolicyLoss = "vanilla" | "kl-cov" | "clip-cov";

/** An RL batch: whole sequences with per-response-token data. */
export interface RlBatch {
  /** Prompt + response token ids per sequence. */
  tokens: number[][];
  /** Index in `tokens[i]` of the first response token (≥ 1). */
  responseStart: number[];
  /** Per response token advantage Â (length = tokens[i].length − responseStart[i]). */
  advantages: number[][];
  /** Per response token log-prob under the sampling policy (see sampler.ts). */
  oldLogprobs: number[][];
  /** Frozen reference policy for the KL term / metric (optional). */
  refModel?: Gpt;
}

/** RL step options (defaults: DAPO clip-higher, no KL, no entropy bonus). */
export interface RlOptions {
  /** ε_low: ratios below 1 − ε_low stop pushing down (default 0.2). */
  clipLow?: number;
  /**
   * ε_high: ratios above 1 + ε_high stop pushing up (default 0.28). Pass
   * Infinity for both to drop clipping (HICRA's unclipped objective).
   */
  clipHigh?: number;
  /** Loss aggregation (default "token-mean", DAPO's token-level loss). */
  lossAgg?: LossAgg;
  /**
   * Divisor of "seq-mean-token-sum-norm" (Dr. GRPO's constant). Default: the
   * batch's longest response; pass the sampler's maxNewTokens to keep it
   * constant across steps.
   */
  lossScaleFactor?: number;
  /** β of the k3 KL penalty to `batch.refModel` (default 0). */
  klBeta?: number;
  /** Coefficient of the entropy bonus: loss −= coef × entropy (default 0). */
  entropyCoef?: number;
  /** Global gradient-norm clip (default 1; 0 disables). */
  maxGradNorm?: number;
  /** Temperature of the policy whose log-probs enter the ratio (default 1). */
  temperature?: number;
  /**
   * Forking tokens' ρ (TRL `top_entropy_quantile`): only response tokens whose entropy in this
   * forward pass is ≥ the (1 − ρ) quantile of the minibatch's response-token entropies keep
   * their policy-gradient loss (see `forkingTokenMask`); the aggregation's denominators and
   * the KL are unchanged, as in TRL. The entropy bonus also keeps every token (current TRL
   * restricts its bonus to the kept tokens; the paper has none). Default 1: every token.
   */
  topEntropyQuantile?: number;
  /** Importance-ratio level (default "token"); see {@link RatioLevel}. */
  ratioLevel?: RatioLevel;
  /** Policy-loss variant (default "vanilla"); see {@link PolicyLoss}. */
  policyLoss?: PolicyLoss;
  /** KL-Cov's share of tokens (verl default 0.0002). */
  klCovRatio?: number;
  /** KL-Cov's coefficient of |log π − log π_old| (verl default 0.1). */
  ppoKlCoef?: number;
  /** Clip-Cov's share of tokens (verl default 0.0002). */
  clipCovRatio?: number;
  /** Clip-Cov's lower covariance bound (verl default 1). */
  clipCovLb?: number;
  /** Clip-Cov's upper covariance bound (verl default 5). */
  clipCovUb?: number;
  /** Draws Clip-Cov's random token subset (required with policyLoss "clip-cov"). */
  rng?: Rng;
}

/** Metrics of one RL step (token means are over all response tokens). */
export interface RlStepResult {
  /** Total loss: policy-gradient loss − entropy bonus + β·KL. */
  loss: number;
  /** The clipped surrogate part alone (aggregated like the loss). */
  pgLoss: number;
  /** Fraction of tokens with Â < 0 and ρ < 1 − ε_low (clipped from below). */
  clipLowFrac: number;
  /** Fraction of tokens with Â > 0 and ρ > 1 + ε_high (clipped from above). */
  clipHighFrac: number;
  /** Token-mean k3 KL estimate to the reference (0 without refModel). */
  kl: number;
  /** Token-mean entropy (nats) of the current policy. */
  entropy: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** Token-mean importance ratio ρ = π/π_old. */
  ratioMean: number;
  /** Number of response tokens in the batch. */
  tokens: number;
  /** Share of response tokens that kept their pg loss (forking tokens; 1 with ρ = 1). */
  entropyKeptFrac: number;
  /** Share of response tokens the KL-Cov / Clip-Cov rule selected (0 with vanilla). */
  covSelectedFrac: number;
}

/**
 * One clipped policy-gradient step (PPO/GRPO with DAPO's clip-higher).
 *
 * Per response token: ρ = exp(log π − log π_old) (the exponent clamped to
 * ±20 as in verl), L = max(−Â·ρ, −Â·clip(ρ, 1 − ε_low, 1 + ε_high)).
 * Aggregation (verl `agg_loss`): "token-mean" = mean over all response tokens
 * of the batch; "seq-mean-token-sum" = per-sequence sum, mean over sequences;
 * "seq-mean-token-mean" = per-sequence mean, mean over sequences;
 * "seq-mean-token-sum-norm" = per-sequence sum / lossScaleFactor, mean over
 * sequences: Σ_i Σ_t L_{i,t} / (B·lossScaleFactor), which is Dr. GRPO's
 * (Liu et al. 2025, arXiv 2503.20783) `masked_sum(L) / MAX_TOKENS` averaged
 * over the batch and TRL's `loss_type="dr_grpo"` (verl's agg_loss omits the 1/B).
 * Sequence means are over all B sequences (an empty response contributes 0).
 * The entropy bonus and the KL use the same aggregation: loss = pg −
 * entropyCoef·H + klBeta·KL, KL being verl's `low_var_kl` (k3 =
 * e^(ref−logπ) − (ref−logπ) − 1, clamped to ±10).
 *
 * Options change the pg term only: `ratioLevel` (GSPO), `policyLoss` (KL-Cov,
 * Clip-Cov) and `topEntropyQuantile` (forking tokens); token selections are
 * made from this forward pass's own statistics, without gradient. With every
 * option at its default the computation is the plain clipped surrogate above.
 * Throws when the loss or the gradient norm is not finite (no update).
 */
export async function rlStep(
  model: Gpt,
  optimizer: Adam,
  batch: RlBatch,
  opts: RlOptions = {},
): Promise<RlStepResult> {
  const clipLow = opts.clipLow ?? 0.2;
  const clipHigh = opts.clipHigh ?? 0.28;
  const lossAgg = opts.lossAgg ?? "token-mean";
  const klBeta = opts.klBeta ?? 0;
  const entropyCoef = opts.entropyCoef ?? 0;
  const temperature = opts.temperature ?? 1;
  const rho = opts.topEntropyQuantile ?? 1;
  const ratioLevel = opts.ratioLevel ?? "token";
  const policyLoss = opts.policyLoss ?? "vanilla";
  if (klBeta > 0 && !batch.refModel) {
    throw new Error("rlStep: klBeta > 0 needs batch.refModel");
  }
  if (!(temperature > 0)) {
    throw new Error(`rlStep: temperature must be > 0, got ${temperature}`);
  }
  checkPolicyOptions(opts, rho, ratioLevel, policyLoss);

  const layout = responseLayout(model, batch, "rlStep");
  const { b, t, mask, count } = layout;
  const weights = aggregationWeights(layout, lossAgg, opts.lossScaleFactor);

  const tokens: ScoringBatch = {
    inputs: layout.inputs,
    targets: layout.targets,
    b,
    t,
    temperature,
  };
  const maskT = tf.tensor2d(mask, [b, t]);
  const advT = tf.tensor2d(layout.advantages, [b, t]);
  const oldT = tf.tensor2d(layout.oldLogprobs, [b, t]);
  const wT = tf.tensor2d(weights, [b, t]);
  const refStats = batch.refModel ? tokenStats(batch.refModel, tokens) : null;
  const refT = refStats?.logp ?? null;
  refStats?.entropy.dispose();
  // Copies of tensors the metrics read after the step (the loss's own get disposed).
  const held: { ratio?: tf.Tensor; pgLoss?: tf.Tensor; entropy?: tf.Tensor; k3?: tf.Tensor } = {};
  const hold = <T extends tf.Tensor>(name: keyof typeof held, v: T): T => {
    held[name] = tf.keep(tf.clone(v));
    return v;
  };
  let keptFrac = 1;
  let selectedFrac = 0;
  const fracOf = (sel: Float32Array) => sel.reduce((a, v) => a + v, 0) / count;
  try {
    const needs = {
      logp: policyLoss !== "vanilla" || ratioLevel === "sequence-token",
      entropy: rho < 1,
      ratio: policyLoss === "clip-cov",
      seqMean: ratioLevel === "sequence-token",
    };
    const pre = Object.values(needs).some(Boolean) && !syncReadsWork()
      ? await lossConstants(model, tokens, oldT, maskT, layout, needs)
      : null;
    // A value of this forward pass, as a constant: read now where sync reads work, else from `pre`.
    const read = (v: tf.Tensor, key: keyof LossConstants): Float32Array =>
      pre ? pre[key]! : v.dataSync() as Float32Array;
    const { loss, gradNorm } = await optimize(
      model,
      optimizer,
      tokens,
      ({ logp, entropy: tokenEntropy }) => {
        let pg: tf.Tensor;
        if (policyLoss === "vanilla") {
          const ratio = hold(
            "ratio",
            tf.exp(logImportance(logp, oldT, maskT, ratioLevel, layout, read)),
          );
          const negAdv = tf.neg(advT);
          pg = tf.maximum(
            tf.mul(negAdv, ratio),
            tf.mul(negAdv, tf.clipByValue(ratio, 1 - clipLow, 1 + clipHigh)),
          );
        } else {
          // verl's kl_cov / clip_cov take ρ = exp(log π − log π_old) without a clamp.
          const diff = tf.mul(tf.sub(logp, oldT), maskT);
          const ratio = hold("ratio", tf.exp(diff));
          const negAdv = tf.neg(advT);
          const lp = read(logp, "logp");
          if (policyLoss === "kl-cov") {
            const sel = klCovSelection(layout.advantages, lp, mask, opts.klCovRatio ?? 0.0002);
            selectedFrac = fracOf(sel);
            pg = tf.add(
              tf.mul(negAdv, ratio),
              tf.mul(tf.tensor2d(sel, [b, t]), tf.mul(tf.abs(diff), opts.ppoKlCoef ?? 0.1)),
            );
          } else {
            const sel = clipCovSelection(
              layout.advantages,
              lp,
              read(ratio, "ratio"),
              mask,
              {
                ratio: opts.clipCovRatio ?? 0.0002,
                lb: opts.clipCovLb ?? 1,
                ub: opts.clipCovUb ?? 5,
                clipLow,
                clipHigh,
              },
              opts.rng!,
            );
            selectedFrac = fracOf(sel);
            const corr = tf.tensor2d(sel.map((s) => 1 - s), [b, t]);
            pg = tf.mul(
              tf.maximum(
                tf.mul(negAdv, ratio),
                tf.mul(negAdv, tf.clipByValue(ratio, 1 - clipLow, 1 + clipHigh)),
              ),
              corr,
            );
          }
        }
        if (rho < 1) {
          const { keep } = forkingTokenMask(read(tokenEntropy, "entropy"), mask, rho);
          keptFrac = fracOf(keep);
          pg = tf.mul(pg, tf.tensor2d(keep, [b, t]));
        }
        const pgLoss = hold("pgLoss", tf.sum(tf.mul(pg, wT)));
        const entropy = hold("entropy", tokenEntropy);
        let total: tf.Tensor = pgLoss;
        if (entropyCoef !== 0) {
          total = tf.sub(
            total,
            tf.mul(tf.sum(tf.mul(entropy, wT)), entropyCoef),
          );
        }
        if (refT) {
          const d = tf.mul(tf.sub(refT, logp), maskT);
          const k3 = hold(
            "k3",
            tf.clipByValue(tf.sub(tf.sub(tf.exp(d), d), 1), -10, 10),
          );
          if (klBeta !== 0) {
            total = tf.add(total, tf.mul(tf.sum(tf.mul(k3, wT)), klBeta));
          }
        }
        return total as tf.Scalar;
      },
      opts.maxGradNorm ?? 1,
      "rlStep",
    );

    const ratio = await held.ratio!.data() as Float32Array;
    const entropy = await held.entropy!.data() as Float32Array;
    const k3 = await held.k3?.data() as Float32Array | undefined;
    // KL-Cov does not clip, so nothing counts as clipped.
    const clips = policyLoss !== "kl-cov";
    let ratioSum = 0, low = 0, high = 0, entSum = 0, klSum = 0;
    for (let k = 0; k < mask.length; k++) {
      if (mask[k] === 0) continue;
      const a = layout.advantages[k];
      ratioSum += ratio[k];
      entSum += entropy[k];
      if (k3) klSum += k3[k];
      if (clips && a < 0 && ratio[k] < 1 - clipLow) low++;
      if (clips && a > 0 && ratio[k] > 1 + clipHigh) high++;
    }
    return {
      loss,
      pgLoss: (await held.pgLoss!.data())[0],
      clipLowFrac: low / count,
      clipHighFrac: high / count,
      kl: klSum / count,
      entropy: entSum / count,
      gradNorm,
      ratioMean: ratioSum / count,
      tokens: count,
      entropyKeptFrac: keptFrac,
      covSelectedFrac: selectedFrac,
    };
  } finally {
    tf.dispose([maskT, advT, oldT, wT, ...Object.values(held)]);
    if (refT) refT.dispose();
  }
}

/** Validates the rival-loss options of {@link rlStep}. */
function checkPolicyOptions(
  opts: RlOptions,
  rho: number,
  ratioLevel: RatioLevel,
  policyLoss: PolicyLoss,
): void {
  if (!(rho >= 0 && rho <= 1)) {
    throw new Error(`rlStep: topEntropyQuantile must be in [0, 1], got ${rho}`);
  }
  if (!["token", "sequence", "sequence-token"].includes(ratioLevel)) {
    throw new Error(`rlStep: unknown ratioLevel "${ratioLevel}"`);
  }
  if (!["vanilla", "kl-cov", "clip-cov"].includes(policyLoss)) {
    throw new Error(`rlStep: unknown policyLoss "${policyLoss}"`);
  }
  if (policyLoss !== "vanilla" && ratioLevel !== "token") {
    throw new Error(
      `rlStep: policyLoss "${policyLoss}" is defined on token ratios (ratioLevel "token"), ` +
        `got ratioLevel "${ratioLevel}"`,
    );
  }
  if (policyLoss === "clip-cov" && !opts.rng) {
    throw new Error('rlStep: policyLoss "clip-cov" needs opts.rng (its random token subset)');
  }
  const key = policyLoss === "kl-cov" ? "klCovRatio" : "clipCovRatio";
  const v = opts[key];
  if (policyLoss !== "vanilla" && v !== undefined && !(v > 0 && v <= 1)) {
    throw new Error(`rlStep: ${key} must be in (0, 1], got ${v}`);
  }
}

/**
 * log ρ per token for a ratio level: token = clamp(log π − log π_old, ±20)
 * (verl); sequence = min(mean_t(log π − log π_old), 10) for every token of the
 * response, differentiable through the mean; sequence-token = min(log π −
 * sg[log π] + sg[mean_t(…)], 10) (value of the sequence level, gradient of
 * one token; none where clamped, as in verl). Non-response positions carry 0 (token) or their row's value;
 * their aggregation weight is 0 either way.
 */
function logImportance(
  logp: tf.Tensor2D,
  oldT: tf.Tensor,
  maskT: tf.Tensor,
  level: RatioLevel,
  layout: ResponseLayout,
  read: (v: tf.Tensor, key: keyof LossConstants) => Float32Array,
): tf.Tensor {
  const diff = tf.mul(tf.sub(logp, oldT), maskT);
  if (level === "token") return tf.clipByValue(diff, -20, 20);
  const seqMean = sequenceMeans(diff, layout);
  if (level === "sequence") return tf.mul(tf.minimum(seqMean, 10), tf.onesLike(diff));
  // Stop-gradients as constants read from this forward pass. The clamp comes after the sum,
  // as in verl, so a clamped token has no gradient (not s_i·∇log π with s_i = e^10).
  const lpConst = tf.tensor2d(read(logp, "logp"), [layout.b, layout.t]);
  const seqConst = tf.tensor2d(read(seqMean, "seqMean"), [layout.b, 1]);
  return tf.minimum(tf.add(tf.sub(logp, lpConst), seqConst), 10);
}

/** Mean over each response of a masked [B, T] tensor, as [B, 1] (an empty response gives 0). */
function sequenceMeans(masked: tf.Tensor, layout: ResponseLayout): tf.Tensor {
  const lengths = tf.tensor2d(layout.lengths.map((n) => Math.max(n, 1)), [layout.b, 1]);
  return tf.div(tf.sum(masked, 1, true), lengths);
}

/**
 * Forward-pass values the RL loss reads as constants (token selections and
 * stop-gradients), each flattened in the [B, T] (or [B, 1]) layout; only the
 * ones asked for are filled.
 */
interface LossConstants {
  logp?: Float32Array;
  entropy?: Float32Array;
  /** exp((log π − log π_old)·mask), unclamped (KL-Cov / Clip-Cov). */
  ratio?: Float32Array;
  /** mean_t((log π − log π_old)·mask) per response, [B, 1]. */
  seqMean?: Float32Array;
}

/**
 * The loss's constants from a forward pass without gradient, read
 * asynchronously: for backends whose synchronous reads fail (webgpu under
 * Deno), computed by the same ops as inside the loss.
 */
async function lossConstants(
  model: Gpt,
  tokens: ScoringBatch,
  oldT: tf.Tensor,
  maskT: tf.Tensor,
  layout: ResponseLayout,
  needs: Record<keyof LossConstants, boolean>,
): Promise<LossConstants> {
  const stats = tokenStats(model, tokens);
  const [ratio, seqMean] = tf.tidy(() => {
    const diff = tf.mul(tf.sub(stats.logp, oldT), maskT);
    return [tf.exp(diff), sequenceMeans(diff, layout)];
  });
  const all: Record<keyof LossConstants, tf.Tensor> = { ...stats, ratio, seqMean };
  try {
    const out: LossConstants = {};
    for (const key of Object.keys(needs) as (keyof LossConstants)[]) {
      if (needs[key]) out[key] = await all[key].data() as Float32Array;
    }
    return out;
  } finally {
    tf.dispose(Object.values(all));
  }
}

/** Token positions of the responses in the shifted [B, L-1] layout. */
interface ResponseLayout {
  b: number;
  t: number;
  inputs: Int32Array;
  targets: Int32Array;
  /** 1 where target (i, j) is a response token. */
  mask: Float32Array;
  advantages: Float32Array;
  oldLogprobs: Float32Array;
  /** Response tokens per sequence. */
  lengths: number[];
  /** Response tokens in the batch (≥ 1). */
  count: number;
}

/** Validates an RL-style batch and lays it out for the shifted forward pass. */
function responseLayout(
  model: Gpt,
  batch: {
    tokens: number[][];
    responseStart: number[];
    advantages?: number[][];
    oldLogprobs?: number[][];
  },
  what: string,
): ResponseLayout {
  const { tokens, responseStart } = batch;
  if (tokens.length === 0) throw new Error(`${what}: empty batch`);
  if (responseStart.length !== tokens.length) {
    throw new Error(
      `${what}: ${tokens.length} sequences but ${responseStart.length} responseStart values`,
    );
  }
  checkSequences(model, tokens, what);
  const { inputs, targets, b, t } = shiftBatch(tokens);
  const mask = new Float32Array(b * t);
  const advantages = new Float32Array(b * t);
  const oldLogprobs = new Float32Array(b * t);
  const lengths: number[] = [];
  tokens.forEach((seq, i) => {
    const start = responseStart[i];
    if (!Number.isInteger(start) || start < 1 || start > seq.length) {
      throw new Error(
        `${what}: responseStart[${i}] = ${start} is outside 1..${seq.length}`,
      );
    }
    const n = seq.length - start;
    lengths.push(n);
    for (
      const [name, rows] of [["advantages", batch.advantages], [
        "oldLogprobs",
        batch.oldLogprobs,
      ]] as const
    ) {
      if (rows && rows[i]?.length !== n) {
        throw new Error(
          `${what}: sequence ${i} has ${n} response tokens but ${rows[i]?.length} ${name}`,
        );
      }
    }
    for (let j = 0; j < n; j++) {
      const k = i * t + start - 1 + j; // the logits at position p-1 predict token p
      mask[k] = 1;
      if (batch.advantages) advantages[k] = batch.advantages[i][j];
      if (batch.oldLogprobs) oldLogprobs[k] = batch.oldLogprobs[i][j];
    }
  });
  const count = lengths.reduce((a, c) => a + c, 0);
  if (count === 0) throw new Error(`${what}: the batch has no response token`);
  for (
    const [name, arr] of [["advantages", advantages], [
      "oldLogprobs",
      oldLogprobs,
    ]] as const
  ) {
    const bad = arr.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new Error(`${what}: ${name} has a non-finite value (${arr[bad]})`);
    }
  }
  return {
    b,
    t,
    inputs,
    targets,
    mask,
    advantages,
    oldLogprobs,
    lengths,
    count,
  };
}

/** Per-token weights W such that the aggregated loss is Σ W ⊙ L (see rlStep). */
function aggregationWeights(
  layout: ResponseLayout,
  mode: LossAgg,
  scaleFactor?: number,
): Float32Array {
  const { b, t, mask, lengths, count } = layout;
  const maxLen = Math.max(...lengths);
  const norm = scaleFactor ?? maxLen;
  if (!(norm > 0)) {
    throw new Error(`rlStep: lossScaleFactor must be > 0, got ${norm}`);
  }
  const w = new Float32Array(b * t);
  for (let i = 0; i < b; i++) {
    let perToken: number;
    switch (mode) {
      case "token-mean":
        perToken = 1 / count;
        break;
      case "seq-mean-token-sum":
        perToken = 1 / b;
        break;
      case "seq-mean-token-mean":
        perToken = lengths[i] > 0 ? 1 / (b * lengths[i]) : 0;
        break;
      case "seq-mean-token-sum-norm":
        perToken = 1 / (b * norm);
        break;
      default:
        throw new Error(`rlStep: unknown lossAgg "${mode}"`);
    }
    for (let j = 0; j < t; j++) w[i * t + j] = mask[i * t + j] * perToken;
  }
  return w;
}

// ---------------------------------------------------------------------------
// Evaluation

/** Per response token log-probs and entropies. */
export interface SequenceLogprobs {
  /** log π(token | prefix) per response token. */
  logprobs: number[][];
  /** Entropy (nats) of the next-token distribution at each response token. */
  entropy: number[][];
}

/**
 * Log-probs and entropies of the response tokens `tokens[i][responseStart[i]..]`
 * under the model (no gradient), computed `batchSize` sequences at a time
 * (default 64). `temperature` scales the logits as in sampling and rlStep.
 */
export async function sequenceLogprobs(
  model: Gpt,
  tokens: number[][],
  responseStart: number[],
  opts: { temperature?: number; batchSize?: number } = {},
): Promise<SequenceLogprobs> {
  const temperature = opts.temperature ?? 1;
  const batchSize = opts.batchSize ?? 64;
  if (!(temperature > 0)) {
    throw new Error(
      `sequenceLogprobs: temperature must be > 0, got ${temperature}`,
    );
  }
  if (responseStart.length !== tokens.length) {
    throw new Error(
      `sequenceLogprobs: ${tokens.length} sequences but ${responseStart.length} responseStart values`,
    );
  }
  const out: SequenceLogprobs = { logprobs: [], entropy: [] };
  for (let s = 0; s < tokens.length; s += batchSize) {
    const chunk = tokens.slice(s, s + batchSize);
    const starts = responseStart.slice(s, s + batchSize);
    const lengths = chunk.map((seq, i) => seq.length - starts[i]);
    if (lengths.every((n) => n === 0)) {
      chunk.forEach(() => (out.logprobs.push([]), out.entropy.push([])));
      continue;
    }
    const layout = responseLayout(model, {
      tokens: chunk,
      responseStart: starts,
    }, "sequenceLogprobs");
    const { b, t } = layout;
    const stats = tokenStats(model, {
      inputs: layout.inputs,
      targets: layout.targets,
      b,
      t,
      temperature,
    });
    let lpData: Float32Array, entData: Float32Array;
    try {
      lpData = await stats.logp.data() as Float32Array;
      entData = await stats.entropy.data() as Float32Array;
    } finally {
      tf.dispose([stats.logp, stats.entropy]);
    }
    chunk.forEach((_, i) => {
      const from = i * t + starts[i] - 1;
      out.logprobs.push(Array.from(lpData.subarray(from, from + lengths[i])));
      out.entropy.push(Array.from(entData.subarray(from, from + lengths[i])));
    });
  }
  return out;
}
