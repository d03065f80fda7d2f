/**
 * Multiple-comparison adjustment of p-values.
 *
 * @module
 */

/**
 * Holm–Bonferroni adjusted p-values (Holm 1979, "A simple sequentially
 * rejective multiple test procedure", Scand. J. Statist. 6:65–70). With the
 * m p-values sorted ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted values are
 * p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1) p₍ⱼ₎), which are monotone in the
 * order of the raw p-values and control the family-wise error rate: reject
 * hypothesis i at level α when p̃ᵢ ≤ α. Returned in input order (as R's
 * `p.adjust(p, "holm")`). Ties keep their input order.
 */
export function holm(pValues: readonly number[]): number[] {
  for (const p of pValues) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`p-values must be in [0, 1] (got ${p})`);
  }
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}
