/**
 * Mean with a Student-t 95% confidence interval, for seed-level aggregates.
 *
 * @module
 */

/** Two-sided 97.5% Student-t quantiles for df = 1..30. */
const T_975: readonly number[] = [
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
  2.131,
  2.12,
  2.11,
  2.101,
  2.093,
  2.086,
  2.08,
  2.074,
  2.069,
  2.064,
  2.06,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

/** Mean and 95% confidence bounds. */
export interface MeanCI {
  /** Sample mean. */
  mean: number;
  /** Lower bound, mean − t·s/√n. */
  lo: number;
  /** Upper bound, mean + t·s/√n. */
  hi: number;
  /** Number of values. */
  n: number;
  /** True when n = 1: no spread can be estimated and lo = hi = mean. */
  degenerate: boolean;
}

/** The 97.5% t quantile for `df` degrees of freedom (table to 30, then the normal 1.96). */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) {
    throw new RangeError(`df must be a positive integer (got ${df})`);
  }
  return df <= 30 ? T_975[df - 1] : 1.96;
}

/**
 * Mean ± t_{0.975, n−1} · s / √n with the sample (n − 1) standard deviation.
 *
 * @throws RangeError on an empty list.
 */
export function meanCI95(values: readonly number[]): MeanCI {
  const n = values.length;
  if (n === 0) throw new RangeError("meanCI95 needs at least one value");
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  if (n === 1) return { mean, lo: mean, hi: mean, n, degenerate: true };
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  const half = tQuantile975(n - 1) * Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
  return { mean, lo: mean - half, hi: mean + half, n, degenerate: false };
}
