/**
 * Unbiased pass@k (Chen et al. 2021), the estimator the paper cites for Pass@k.
 *
 * @module
 */

/**
 * Unbiased pass@k for one problem: 1 − C(n−c, k) / C(n, k), with n samples of which c are
 * correct. Computed as the product 1 − Π_{i=n−c+1}^{n} (1 − k/i), which never forms a
 * binomial coefficient and so stays exact-ish for large n.
 *
 * @throws RangeError when n, c, k are not integers with 0 ≤ c ≤ n and 1 ≤ k ≤ n.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (
    !Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k) ||
    c < 0 || c > n || k < 1 || k > n
  ) {
    throw new RangeError(
      `passAtK needs integers 0 <= c <= n and 1 <= k <= n (got n=${n}, c=${c}, k=${k})`,
    );
  }
  // Every k-subset contains a correct sample once fewer than k samples are wrong.
  if (n - c < k) return 1;
  let allWrong = 1;
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i;
  return 1 - allWrong;
}

/** One problem's sample counts for {@link meanPassAtK}. */
export interface ProblemSamples {
  /** Samples drawn. */
  n: number;
  /** Correct samples among them. */
  c: number;
}

/** Mean unbiased pass@k over problems; NaN for an empty list. */
export function meanPassAtK(
  problems: readonly ProblemSamples[],
  k: number,
): number {
  if (problems.length === 0) return NaN;
  let sum = 0;
  for (const p of problems) sum += passAtK(p.n, p.c, k);
  return sum / problems.length;
}
