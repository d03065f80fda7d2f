/**
 * Token selections of the rival policy losses, as pure functions of a batch's token statistics
 * (no tensors, no gradient): the forking-token entropy mask (TRL `top_entropy_quantile`) and the
 * covariance selections of KL-Cov and Clip-Cov (verl `core_algos.py`). `rlStep` calls them on the
 * data of its training forward pass and turns the result into constant [B, T] masks.
 *
 * Every array is a flattened [B, T] batch in row-major order; `mask` is 1 at response tokens
 * and 0 elsewhere (prompt and padding positions never count). Row-major order over the valid
 * tokens is the order of verl's flattened `[batch, response_length]` tensors, which fixes how
 * ties are broken below.
 *
 * @module
 */

import type { Rng } from "../rng.ts";

const f32 = Math.fround;

/**
 * `torch.quantile(values, q)` with its default linear interpolation, emulated in float32 as
 * torch computes it for a float32 tensor: rank = q·(n − 1), lo = ⌊rank⌋, w = rank − lo,
 * result = lerp(v[lo], v[lo + 1], w) on the ascending sort, with torch's lerp
 * (`w < 0.5 ? a + w·(b − a) : b − (b − a)·(1 − w)`).
 *
 * @throws RangeError when `values` is empty or q is outside [0, 1]
 */
export function torchQuantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError("quantile of no values");
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1] (got ${q})`);
  const sorted = Float32Array.from(values).sort();
  const rank = f32(f32(q) * (sorted.length - 1));
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const w = f32(rank - lo);
  const [a, b] = [sorted[lo], sorted[hi]];
  return w < 0.5 ? f32(a + f32(w * f32(b - a))) : f32(b - f32(f32(b - a) * f32(1 - w)));
}

/** A forking-token mask and the entropy threshold that made it. */
export interface EntropyMask {
  /** 1 where a response token's entropy is ≥ the threshold, else 0. */
  keep: Float32Array;
  /** The threshold (NaN when the batch has no response token). */
  threshold: number;
}

/**
 * Forking tokens (Wang et al. 2025, "Beyond the 80/20 Rule", arXiv 2506.01939), exactly as TRL's
 * `GRPOTrainer.get_high_entropy_mask(entropies, mask, 1 − top_entropy_quantile)`:
 * τ = torch.quantile({H_k : mask_k = 1}, 1 − ρ) over every response token of the forward pass
 * (padding and prompt positions excluded), and a response token keeps its policy-gradient loss
 * iff H ≥ τ. So ρ = 1 keeps every token (TRL's "off"), ties at τ are all kept (the kept share
 * can exceed ρ), and ρ = 0 keeps only the tokens equal to the maximum.
 *
 * @param entropy per-token entropies of the training forward pass (no gradient)
 * @param mask 1 at response tokens
 * @param rho the kept top fraction ρ in [0, 1] (TRL `top_entropy_quantile`; the paper uses 0.2)
 * @throws RangeError on a ρ outside [0, 1] or arrays of different lengths
 */
export function forkingTokenMask(
  entropy: ArrayLike<number>,
  mask: ArrayLike<number>,
  rho: number,
): EntropyMask {
  if (!(rho >= 0 && rho <= 1)) {
    throw new RangeError(`top_entropy_quantile must be in [0, 1] (got ${rho})`);
  }
  checkLengths(entropy, mask);
  const valid: number[] = [];
  for (let k = 0; k < mask.length; k++) if (mask[k] !== 0) valid.push(entropy[k]);
  const keep = new Float32Array(mask.length);
  if (valid.length === 0) return { keep, threshold: NaN };
  // 1 − ρ in float64 first, as Python computes it before torch sees it.
  const threshold = torchQuantile(valid, 1 - rho);
  for (let k = 0; k < mask.length; k++) {
    keep[k] = mask[k] !== 0 && f32(entropy[k]) >= threshold ? 1 : 0;
  }
  return { keep, threshold };
}

/**
 * The centred covariance term of KL-Cov and Clip-Cov (Cui et al. 2025, "The Entropy Mechanism
 * of RL for Reasoning LMs", arXiv 2505.22617; verl `compute_policy_loss_kl_cov` /
 * `compute_policy_loss_clip_cov`): cov_k = (A_k − mean A)·(log π_k − mean log π), the means
 * over the response tokens of the batch, log π detached. Non-response positions get −∞.
 */
export function tokenCovariance(
  advantages: ArrayLike<number>,
  logp: ArrayLike<number>,
  mask: ArrayLike<number>,
): Float64Array {
  checkLengths(advantages, mask);
  checkLengths(logp, mask);
  let n = 0, sumA = 0, sumL = 0;
  for (let k = 0; k < mask.length; k++) {
    if (mask[k] === 0) continue;
    n++;
    sumA += advantages[k];
    sumL += logp[k];
  }
  const cov = new Float64Array(mask.length).fill(-Infinity);
  if (n === 0) return cov;
  const [meanA, meanL] = [sumA / n, sumL / n];
  for (let k = 0; k < mask.length; k++) {
    if (mask[k] !== 0) cov[k] = (advantages[k] - meanA) * (logp[k] - meanL);
  }
  return cov;
}

/**
 * KL-Cov's token selection (verl `compute_policy_loss_kl_cov`): the
 * k = max(1, ⌊N·kl_cov_ratio⌋) response tokens of largest covariance (see
 * {@link tokenCovariance}), N = response tokens in the batch. These tokens get the loss
 * −A·ρ + ppo_kl_coef·|log π − log π_old|; all others −A·ρ (no ratio clipping in KL-Cov).
 * torch.topk leaves the order of ties unspecified; here equal covariances go to the earlier
 * token in row-major order.
 *
 * @returns 1 at the selected tokens, 0 elsewhere
 * @throws RangeError when klCovRatio is not > 0
 */
export function klCovSelection(
  advantages: ArrayLike<number>,
  logp: ArrayLike<number>,
  mask: ArrayLike<number>,
  klCovRatio: number,
): Float32Array {
  if (!(klCovRatio > 0)) {
    throw new RangeError(`kl_cov_ratio must be > 0 (got ${klCovRatio})`);
  }
  const cov = tokenCovariance(advantages, logp, mask);
  const valid: number[] = [];
  for (let k = 0; k < mask.length; k++) if (mask[k] !== 0) valid.push(k);
  const selected = new Float32Array(mask.length);
  if (valid.length === 0) return selected;
  const count = Math.max(1, Math.floor(valid.length * klCovRatio));
  const order = [...valid].sort((a, b) => cov[b] - cov[a] || a - b);
  for (const k of order.slice(0, count)) selected[k] = 1;
  return selected;
}

/** Clip-Cov's settings (verl `policy_loss` config; defaults there 0.0002, 1, 5). */
export interface ClipCovOptions {
  /** Share of response tokens to detach: clip_num = max(1, ⌊N·ratio⌋). */
  ratio: number;
  /** Only tokens with lb < cov < ub are candidates. */
  lb: number;
  /** Upper covariance bound. */
  ub: number;
  /** PPO's ε_low and ε_high: tokens the ordinary clip already clips are no candidates. */
  clipLow: number;
  clipHigh: number;
}

/**
 * Clip-Cov's token selection (verl `compute_policy_loss_clip_cov`): among the response tokens
 * that the PPO clip does not already clip (−A·clip(ρ) > −A·ρ is "clipped by origin") and whose
 * covariance lies strictly between lb and ub, a random subset of
 * min(max(1, ⌊N·ratio⌋), #candidates) tokens; those tokens' loss is multiplied by 0 (no
 * gradient). verl draws the subset with `torch.randperm`; here the candidates (row-major order)
 * are shuffled by the seeded `rng`, so a run is reproducible but does not repeat torch's draw.
 *
 * @param ratios importance ratios ρ = exp(log π − log π_old) per token
 * @returns 1 at the detached tokens, 0 elsewhere
 * @throws RangeError when ratio is not > 0
 */
export function clipCovSelection(
  advantages: ArrayLike<number>,
  logp: ArrayLike<number>,
  ratios: ArrayLike<number>,
  mask: ArrayLike<number>,
  opts: ClipCovOptions,
  rng: Rng,
): Float32Array {
  if (!(opts.ratio > 0)) throw new RangeError(`clip_cov_ratio must be > 0 (got ${opts.ratio})`);
  checkLengths(ratios, mask);
  const cov = tokenCovariance(advantages, logp, mask);
  let n = 0;
  const candidates: number[] = [];
  for (let k = 0; k < mask.length; k++) {
    if (mask[k] === 0) continue;
    n++;
    const a = advantages[k];
    const r = ratios[k];
    const clipped = Math.min(Math.max(r, 1 - opts.clipLow), 1 + opts.clipHigh);
    if (-a * clipped > -a * r) continue; // clipped by origin
    if (cov[k] > opts.lb && cov[k] < opts.ub) candidates.push(k);
  }
  const selected = new Float32Array(mask.length);
  if (candidates.length === 0) return selected;
  const count = Math.min(Math.max(1, Math.floor(n * opts.ratio)), candidates.length);
  for (const k of rng.shuffle(candidates).slice(0, count)) selected[k] = 1;
  return selected;
}

function checkLengths(a: ArrayLike<number>, mask: ArrayLike<number>): void {
  if (a.length !== mask.length) {
    throw new RangeError(`token arrays of ${a.length} and ${mask.length} values`);
  }
}
