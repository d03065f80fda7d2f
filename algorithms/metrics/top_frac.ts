/**
 * Per-sequence "high-entropy token" selection, shared by the estimators and the analyses
 * (paper §4.2.4: "high-entropy" means the top 30% of a sequence's tokens).
 *
 * @module
 */

/**
 * Linear-interpolation quantile of `values` (numpy/torch default), q ∈ [0, 1].
 * NaN for an empty list.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Marks the tokens of one sequence whose entropy is strictly above the (1 − frac) quantile.
 *
 * This mirrors the authors' code as transcribed by TRL (`topk_threshold(..., k=0.3)` then
 * `entropy − threshold > 0`): the threshold is the linearly interpolated 70th percentile and the
 * comparison is strict, so ties at the threshold are left out and a constant-entropy sequence
 * selects nothing. With distinct values the mask holds about ⌊frac·n⌋ tokens.
 *
 * @param entropy per-token entropies of one response
 * @param frac fraction to keep, in [0, 1] (0.3 in the paper)
 */
export function topFracMask(
  entropy: readonly number[],
  frac: number,
): boolean[] {
  if (!(frac >= 0 && frac <= 1)) {
    throw new RangeError(`topFracMask frac must be in [0, 1] (got ${frac})`);
  }
  if (entropy.length === 0 || frac === 0) return entropy.map(() => false);
  const threshold = quantile(entropy, 1 - frac);
  return entropy.map((h) => h - threshold > 0);
}
