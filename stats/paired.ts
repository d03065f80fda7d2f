/**
 * Inference on paired differences d_i = x_i − y_i (one per matched pair, e.g.
 * the same seed under two conditions): the paired t test and its confidence
 * interval, an exact (or Monte Carlo) sign-flip permutation test, a
 * percentile bootstrap interval of the mean difference, and the minimum
 * detectable effect of the paired t design.
 *
 * All functions are pure; the resampling ones take a seed and return the same
 * result for the same input and seed.
 *
 * @module
 */
import { studentTQuantile, studentTTwoSidedP } from "./distributions.ts";
import { seededRandom } from "./random.ts";

function checkFinite(values: readonly number[], what: string): void {
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`${what}: every value must be finite (got ${v})`);
  }
}

function checkLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1) (got ${level})`);
}

/** Arithmetic mean x̄ = Σxᵢ / n (NaN for an empty list). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Sample standard deviation s = √(Σ(xᵢ − x̄)² / (n − 1)) (Bessel's
 * correction; two-pass for accuracy). NaN when n < 2.
 */
export function sampleSd(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return NaN;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (n - 1));
}

/**
 * Quantile of sorted values by linear interpolation between order statistics
 * (Hyndman & Fan 1996, type 7, R's default): h = (n − 1)p,
 * Q = x_⌊h⌋ + (h − ⌊h⌋)(x_⌊h⌋₊₁ − x_⌊h⌋) (0-based order statistics).
 */
export function quantileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be in [0, 1] (got ${p})`);
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Result of {@linkcode pairedT}. */
export interface PairedTResult {
  /** Number of differences. */
  n: number;
  /** Mean difference d̄. */
  mean: number;
  /** Sample standard deviation of the differences s_d. */
  sd: number;
  /** Standard error s_d / √n. */
  se: number;
  /** Degrees of freedom n − 1. */
  df: number;
  /** t = d̄ / (s_d/√n); ±Infinity when s_d = 0 ≠ d̄, 0 when s_d = d̄ = 0. */
  t: number;
  /** Two-sided p-value 2 P(T_{n−1} > |t|). */
  p: number;
  /** Confidence level of the interval (e.g. 0.95). */
  level: number;
  /** Lower bound d̄ − t_{(1+level)/2, n−1} · s_d/√n. */
  lo: number;
  /** Upper bound d̄ + t_{(1+level)/2, n−1} · s_d/√n. */
  hi: number;
}

/**
 * Paired (one-sample) t test of H₀: E[d] = 0 on the differences, with the
 * t-based confidence interval d̄ ± t_{(1+level)/2, n−1} · s_d/√n
 * (Student 1908; e.g. Rice, *Mathematical Statistics*, §11.3).
 * Needs n ≥ 2 finite differences. `opts.level` is the interval's level
 * (default 0.95); `opts.scale` is the magnitude of the values the differences
 * were taken from (default 0). When all differences are equal (s_d = 0, or
 * below 1e-12 · max(scale, |dᵢ|), i.e. rounding noise),
 * t is ±Infinity with p = 0 (or 0 with p = 1 when they are all 0) and the
 * interval collapses to d̄: the sign-flip test is then the safer read.
 */
export function pairedT(
  diffs: readonly number[],
  opts: { level?: number; scale?: number } = {},
): PairedTResult {
  const level = opts.level ?? 0.95;
  checkLevel(level);
  checkFinite(diffs, "pairedT");
  const n = diffs.length;
  if (n < 2) throw new RangeError(`pairedT needs at least 2 differences (got ${n})`);
  const m = mean(diffs);
  // Equal differences up to rounding (e.g. 0.2 three times) have s_d = 0.
  const raw = sampleSd(diffs);
  const sd = raw <= 1e-12 * Math.max(opts.scale ?? 0, ...diffs.map(Math.abs)) ? 0 : raw;
  const se = sd / Math.sqrt(n);
  const df = n - 1;
  const t = se > 0 ? m / se : m === 0 ? 0 : m > 0 ? Infinity : -Infinity;
  const p = studentTTwoSidedP(t, df);
  const half = studentTQuantile((1 + level) / 2, df) * se;
  return { n, mean: m, sd, se, df, t, p, level, lo: m - half, hi: m + half };
}

/** Options of {@linkcode signFlipTest}. */
export interface SignFlipOptions {
  /** Enumerate all 2ⁿ sign vectors when n ≤ maxExact (default 20, at most 30). */
  maxExact?: number;
  /** Monte Carlo sign vectors drawn when n > maxExact (default 10000). */
  samples?: number;
  /** Seed of the Monte Carlo draws (default 0). */
  seed?: number;
}

/** Result of {@linkcode signFlipTest}. */
export interface SignFlipResult {
  /** Two-sided p-value. */
  p: number;
  /** True when all 2ⁿ sign vectors were enumerated. */
  exact: boolean;
  /** Sign vectors evaluated (2ⁿ, or the Monte Carlo sample size). */
  samples: number;
  /** Number of differences. */
  n: number;
}

/**
 * Sign-flip permutation test of H₀: the differences are symmetric about 0
 * (Fisher 1935; Good, *Permutation Tests*, 2nd ed., §3.2), two-sided on
 * |mean|. Under H₀ every sign vector s ∈ {±1}ⁿ is equally likely, so
 * p = #{s : |Σ sᵢ|dᵢ|| ≥ |Σ dᵢ|} / 2ⁿ, counted exactly when n ≤ maxExact.
 * Otherwise B random sign vectors give the Monte Carlo p-value
 * (1 + #{b : |S_b| ≥ |S|}) / (B + 1), which counts the observed vector and is
 * never 0 (Phipson & Smyth 2010). Ties are compared with a relative tolerance
 * of 1e-12 so that floating-point noise does not break them.
 * The smallest exact p is 2/2ⁿ (e.g. 0.25 for n = 3).
 */
export function signFlipTest(
  diffs: readonly number[],
  opts: SignFlipOptions = {},
): SignFlipResult {
  const maxExact = opts.maxExact ?? 20;
  const samples = opts.samples ?? 10000;
  checkFinite(diffs, "signFlipTest");
  const n = diffs.length;
  if (n < 1) throw new RangeError("signFlipTest needs at least 1 difference");
  if (!Number.isInteger(maxExact) || maxExact < 0 || maxExact > 30) {
    throw new RangeError(`maxExact must be an integer in [0, 30] (got ${maxExact})`);
  }
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`samples must be a positive integer (got ${samples})`);
  }
  const abs = diffs.map(Math.abs);
  let scale = 0;
  for (const a of abs) scale += a;
  const observed = Math.abs(diffs.reduce((s, d) => s + d, 0));
  if (scale === 0) {
    // All differences are 0: every sign vector ties with the observed one.
    return n <= maxExact
      ? { p: 1, exact: true, samples: 2 ** n, n }
      : { p: 1, exact: false, samples, n };
  }
  const threshold = observed - 1e-12 * scale;
  if (n <= maxExact) {
    // Meet in the middle: subset sums of each half are computed directly (no
    // drift), and every sign vector's sum is one addition of two of them.
    const h = Math.floor(n / 2);
    const sums = (part: number[]) => {
      const out = new Float64Array(1 << part.length);
      for (let mask = 0; mask < out.length; mask++) {
        let s = 0;
        for (let i = 0; i < part.length; i++) s += mask & (1 << i) ? -part[i] : part[i];
        out[mask] = s;
      }
      return out;
    };
    const low = sums(abs.slice(0, h));
    const high = sums(abs.slice(h));
    let count = 0;
    for (let j = 0; j < high.length; j++) {
      const sh = high[j];
      for (let i = 0; i < low.length; i++) {
        if (Math.abs(low[i] + sh) >= threshold) count++;
      }
    }
    const total = low.length * high.length;
    return { p: count / total, exact: true, samples: total, n };
  }
  const rng = seededRandom(opts.seed ?? 0);
  let count = 0;
  for (let b = 0; b < samples; b++) {
    let s = 0;
    let bits = 0;
    for (let i = 0; i < n; i++) {
      if (i % 32 === 0) bits = rng.uint32();
      s += bits & 1 ? -abs[i] : abs[i];
      bits >>>= 1;
    }
    if (Math.abs(s) >= threshold) count++;
  }
  return { p: (1 + count) / (samples + 1), exact: false, samples, n };
}

/** Options of {@linkcode bootstrapCI}. */
export interface BootstrapOptions {
  /** Bootstrap resamples (default 10000). */
  samples?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/** Result of {@linkcode bootstrapCI}. */
export interface BootstrapResult {
  /** The sample mean (the point estimate). */
  mean: number;
  /** Lower percentile bound. */
  lo: number;
  /** Upper percentile bound. */
  hi: number;
  /** Confidence level. */
  level: number;
  /** Resamples drawn. */
  samples: number;
}

/**
 * Percentile bootstrap confidence interval of the mean (Efron & Tibshirani,
 * *An Introduction to the Bootstrap*, 1993, §13.3): draw B resamples of size n
 * with replacement, take their means θ*_b, and report the (1−level)/2 and
 * (1+level)/2 quantiles of θ* (type-7 interpolation, see
 * {@linkcode quantileSorted}). Seeded and deterministic. With few pairs the
 * percentile interval is too narrow (it ignores the n−1 vs n and t vs z
 * corrections); read it next to the t interval.
 */
export function bootstrapCI(
  values: readonly number[],
  opts: BootstrapOptions = {},
): BootstrapResult {
  const samples = opts.samples ?? 10000;
  const level = opts.level ?? 0.95;
  checkLevel(level);
  checkFinite(values, "bootstrapCI");
  const n = values.length;
  if (n < 1) throw new RangeError("bootstrapCI needs at least 1 value");
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`samples must be a positive integer (got ${samples})`);
  }
  const rng = seededRandom(opts.seed ?? 0);
  const means = new Float64Array(samples);
  for (let b = 0; b < samples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[rng.below(n)];
    means[b] = s / n;
  }
  means.sort();
  const sorted = Array.from(means);
  return {
    mean: mean(values),
    lo: quantileSorted(sorted, (1 - level) / 2),
    hi: quantileSorted(sorted, (1 + level) / 2),
    level,
    samples,
  };
}

/** Options of {@linkcode minimumDetectableEffect}. */
export interface MdeOptions {
  /** Two-sided significance level (default 0.05). */
  alpha?: number;
  /** Target power (default 0.8). */
  power?: number;
}

/**
 * Minimum detectable effect of a two-sided paired t test with n pairs whose
 * differences have standard deviation `sd`:
 * MDE = (t_{1−α/2, n−1} + t_{power, n−1}) · sd / √n.
 * This is the usual approximation (e.g. Cohen 1988, ch. 2; Bloom 1995): it
 * replaces the noncentral t distribution of the statistic under the
 * alternative with a shifted central t and ignores the far rejection tail,
 * so it slightly overstates the MDE for very small n. Needs n ≥ 2.
 */
export function minimumDetectableEffect(
  sd: number,
  n: number,
  opts: MdeOptions = {},
): number {
  const alpha = opts.alpha ?? 0.05;
  const power = opts.power ?? 0.8;
  if (!(sd >= 0) || !Number.isFinite(sd)) {
    throw new RangeError(`sd must be finite and ≥ 0 (got ${sd})`);
  }
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer ≥ 2 (got ${n})`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1) (got ${alpha})`);
  if (!(power > 0 && power < 1)) throw new RangeError(`power must be in (0, 1) (got ${power})`);
  const df = n - 1;
  return (studentTQuantile(1 - alpha / 2, df) + studentTQuantile(power, df)) * sd / Math.sqrt(n);
}
