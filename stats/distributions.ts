/**
 * The standard normal and Student t distributions: density, CDF, upper tail
 * and quantile, for any degrees of freedom ν > 0 (ν = ∞ is the normal).
 *
 * t CDF: for t ≥ 0, P(T > t) = ½ I_{ν/(ν+t²)}(ν/2, ½) (Abramowitz & Stegun
 * 26.7.1 with 26.5.27), I the regularized incomplete beta function.
 * Normal CDF: Φ(z) = ½ erfc(−z/√2) (A&S 26.2.29).
 * Quantiles: the upper tail is inverted by Newton's method on
 * tail(t) − q (derivative −f(t)), safeguarded by bisection on a bracket.
 *
 * @module
 */
import { erfc, lnGamma, regularizedIncompleteBeta } from "./special.ts";

function checkDf(df: number): void {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be > 0 (got ${df})`);
}

function checkProbability(p: number): void {
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1) (got ${p})`);
}

/** Standard normal density φ(z) = e^(−z²/2) / √(2π). */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal CDF Φ(z) = ½ erfc(−z/√2), accurate in both tails. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Student t density f(t) = Γ((ν+1)/2) / (√(νπ) Γ(ν/2)) · (1 + t²/ν)^(−(ν+1)/2). */
export function studentTPdf(t: number, df: number): number {
  checkDf(df);
  if (df === Infinity) return normalPdf(t);
  const lnC = lnGamma((df + 1) / 2) - lnGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return Math.exp(lnC - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/**
 * Upper tail P(T > t) of Student's t with `df` degrees of freedom:
 * ½ I_{ν/(ν+t²)}(ν/2, ½) for t ≥ 0 and 1 − P(T > −t) for t < 0.
 * Computed directly, so small tail probabilities keep their precision.
 */
export function studentTSurvival(t: number, df: number): number {
  checkDf(df);
  if (Number.isNaN(t)) return NaN;
  if (df === Infinity) return normalCdf(-t);
  if (t < 0) return 1 - studentTSurvival(-t, df);
  if (t === Infinity) return 0;
  const t2 = t * t;
  const x = df / (df + t2);
  const y = t2 / (df + t2);
  return 0.5 * regularizedIncompleteBeta(x, df / 2, 0.5, y);
}

/** Student t CDF P(T ≤ t) for any df > 0 (df = Infinity gives the normal). */
export function studentTCdf(t: number, df: number): number {
  if (t < 0) return studentTSurvival(-t, df);
  return 1 - studentTSurvival(t, df);
}

/**
 * Two-sided p-value of a t statistic: P(|T| ≥ |t|) = 2 P(T > |t|).
 * NaN for a NaN statistic.
 */
export function studentTTwoSidedP(t: number, df: number): number {
  return Math.min(1, 2 * studentTSurvival(Math.abs(t), df));
}

/**
 * Finds t ≥ 0 with tail(t) = q (0 < q ≤ ½) for a decreasing tail function
 * with density `pdf`: Newton steps t ← t + (tail(t) − q)/pdf(t), replaced by
 * bisection whenever a step leaves the current bracket.
 */
function invertTail(
  tail: (t: number) => number,
  pdf: (t: number) => number,
  q: number,
): number {
  if (q === 0.5) return 0;
  let lo = 0;
  let hi = 1;
  while (tail(hi) > q) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Infinity;
  }
  let t = (lo + hi) / 2;
  for (let i = 0; i < 400; i++) {
    const f = tail(t) - q;
    if (f === 0) return t;
    if (f > 0) lo = t;
    else hi = t;
    const d = pdf(t);
    let next = d > 0 ? t + f / d : NaN;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - t) <= 1e-15 * Math.max(1, Math.abs(t)) || hi - lo <= 1e-15 * hi) {
      return next;
    }
    t = next;
  }
  return t;
}

/**
 * Quantile (inverse CDF) of Student's t: the t with P(T ≤ t) = p, for
 * 0 < p < 1 and any df > 0 (df = Infinity gives the normal quantile).
 * Uses the symmetry t_p = −t_{1−p}. Accurate to about 1e-12 relative.
 */
export function studentTQuantile(p: number, df: number): number {
  checkProbability(p);
  checkDf(df);
  const q = Math.min(p, 1 - p);
  const t = invertTail(
    (x) => studentTSurvival(x, df),
    (x) => studentTPdf(x, df),
    q,
  );
  return p < 0.5 ? -t : t;
}

/** Standard normal quantile Φ⁻¹(p) for 0 < p < 1. */
export function normalQuantile(p: number): number {
  return studentTQuantile(p, Infinity);
}
