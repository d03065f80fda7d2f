/**
 * Small statistics helpers for the report: mean, min–max and a 95%
 * confidence interval over seeds with Student's t quantile.
 *
 * @module
 */
import { tQuantile975 } from "../algorithms/metrics/mod.ts";

/** The 0.975 quantile of Student's t with `df` degrees of freedom (1.96 beyond 30). */
export function t975(df: number): number {
  return tQuantile975(df);
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
