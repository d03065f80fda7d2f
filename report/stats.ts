/**
 * Small statistics helpers for the report: mean, min–max and a 95%
 * confidence interval over seeds with Student's t quantile, and that CI as a
 * band clamped to a metric's valid range.
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

/** The valid range of a metric, e.g. `[0, 1]` for a probability, `[0, Infinity]` for an entropy. */
export type Bounds = readonly [number, number];

/** No restriction. */
export const UNBOUNDED: Bounds = [-Infinity, Infinity];

/** A mean with its 95% t-CI `[lo, hi]`, clamped to the metric's valid range. */
export interface MeanCI {
  n: number;
  mean: number;
  lo: number;
  hi: number;
}

/**
 * Mean and 95% t-CI (mean ± t_{0.975, n−1} · sd / √n) of the finite values,
 * with the interval clamped to `bounds` (a probability's CI never leaves
 * [0, 1]); a single value gives lo = hi = mean. Null when there are no values.
 */
export function meanCI(values: number[], bounds: Bounds = UNBOUNDED): MeanCI | null {
  const s = summarize(values);
  if (!s) return null;
  return {
    n: s.n,
    mean: s.mean,
    lo: clamp(s.mean - s.ci, bounds),
    hi: clamp(s.mean + s.ci, bounds),
  };
}

/** `v` limited to `[bounds[0], bounds[1]]`. */
export function clamp(v: number, bounds: Bounds): number {
  return Math.min(bounds[1], Math.max(bounds[0], v));
}

/**
 * The valid range of a difference of two values in `bounds`: `[lo − hi, hi − lo]`
 * (e.g. [−1, 1] for probabilities; unbounded for a half-open range).
 */
export function differenceBounds(bounds: Bounds): Bounds {
  const w = bounds[1] - bounds[0];
  return [-w, w];
}
