/**
 * Small statistics helpers for the report: mean, min–max and a 95%
 * confidence interval over seeds with Student's t quantile.
 *
 * @module
 */

/** t_{0.975} for 1..30 degrees of freedom (index = df − 1). */
const T_975 = [
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

/** The 0.975 quantile of Student's t with `df` degrees of freedom (1.96 beyond 30). */
export function t975(df: number): number {
  return df >= 1 && df <= 30 ? T_975[Math.floor(df) - 1] : 1.96;
}

/** Summary of a sample: size, mean, extremes and the 95% CI half-width. */
export interface Summary {
  n: number;
  mean: number;
  min: number;
  max: number;
  /** t_{0.975, n−1} · sd / √n; 0 for a single value. */
  ci: number;
}

/** Summarizes the finite values of `values`; null when there are none. */
export function summarize(values: number[]): Summary | null {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (n === 0) return null;
  const mean = v.reduce((a, b) => a + b, 0) / n;
  let ci = 0;
  if (n > 1) {
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
    ci = t975(n - 1) * Math.sqrt(variance) / Math.sqrt(n);
  }
  return { n, mean, min: Math.min(...v), max: Math.max(...v), ci };
}
