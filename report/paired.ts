/**
 * Paired per-step differences between a method and the baseline method:
 * runs are matched by seed (same seed, same loop step), so the shared
 * warm start and evaluation problems cancel out; the mean difference over
 * seeds comes with its 95% t-CI. Also picks the baseline method.
 *
 * @module
 */
import { matchBaseline } from "../pipeline/compare.ts";
import { UserError } from "../pipeline/errors.ts";
import type { MetricKey, StepValue } from "./data.ts";
import { type Bounds, meanCI, UNBOUNDED } from "./stats.ts";

/** The paired difference (method − baseline) at one loop step. */
export interface PairedStep {
  step: number;
  /** Number of seeds that both methods have at this step. */
  n: number;
  /** Mean over seeds of the per-seed differences. */
  mean: number;
  /** 95% t-CI of that mean (clamped to the given bounds); lo = hi = mean for one seed. */
  lo: number;
  hi: number;
  /** The seeds paired, ascending, and their differences in the same order. */
  seeds: number[];
  diffs: number[];
}

/**
 * Per step and seed, the value of one metric of one method (the mean when
 * several runs of the method share a seed, e.g. from two experiments).
 */
export function seedValues(
  values: StepValue[],
  method: string,
  key: MetricKey,
): Map<number, Map<number, number>> {
  const acc = new Map<number, Map<number, { sum: number; n: number }>>();
  for (const v of values) {
    if (v.method !== method || v.stage !== key.stage || v.name !== key.name) continue;
    if (!Number.isFinite(v.value)) continue;
    const bySeed = acc.get(v.step) ?? new Map<number, { sum: number; n: number }>();
    const a = bySeed.get(v.seed) ?? { sum: 0, n: 0 };
    a.sum += v.value;
    a.n++;
    bySeed.set(v.seed, a);
    acc.set(v.step, bySeed);
  }
  return new Map(
    [...acc].map(([step, bySeed]) => [
      step,
      new Map([...bySeed].map(([seed, a]) => [seed, a.sum / a.n])),
    ]),
  );
}

/**
 * Paired differences `method − baseline` of one metric, step by step (steps
 * ascending): at each step, the seeds both methods have; steps without a
 * common seed are left out. The CI is clamped to `bounds` (for a metric in
 * [0, 1], pass [−1, 1]).
 */
export function pairedDifferences(
  values: StepValue[],
  method: string,
  baseline: string,
  key: MetricKey,
  bounds: Bounds = UNBOUNDED,
): PairedStep[] {
  const m = seedValues(values, method, key);
  const b = seedValues(values, baseline, key);
  const out: PairedStep[] = [];
  for (const step of [...m.keys()].sort((x, y) => x - y)) {
    const mv = m.get(step)!;
    const bv = b.get(step);
    if (!bv) continue;
    const seeds = [...mv.keys()].filter((s) => bv.has(s)).sort((x, y) => x - y);
    if (seeds.length === 0) continue;
    const diffs = seeds.map((s) => mv.get(s)! - bv.get(s)!);
    const ci = meanCI(diffs, bounds)!;
    out.push({ step, n: ci.n, mean: ci.mean, lo: ci.lo, hi: ci.hi, seeds, diffs });
  }
  return out;
}

/** Whether `method` is called `name`: equal to it, or ending with `=name` (e.g. `estimator=grpo`). */
function isNamed(method: string, name: string): boolean {
  return method === name || method.endsWith(`=${name}`);
}

/**
 * The baseline method among `methods` (sorted): the one `requested` names, by the same rule as
 * an experiment's `compare.baseline` (`matchBaseline`: the whole method, or the value of a
 * one-part `key=value` method), so the report pairs against the condition the run compared
 * with; by default the first named `grpo`, else the first containing "grpo", else the first
 * method. A `requested` name that matches no method (or several) is a `UserError`; null when
 * there are no methods.
 */
export function chooseBaseline(methods: string[], requested?: string): string | null {
  if (requested !== undefined) {
    try {
      return matchBaseline(methods, requested);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      throw new UserError(
        `--baseline ${requested}: no such method (methods: ${methods.join(", ") || "none"})`,
      );
    }
  }
  return methods.find((m) => isNamed(m, "grpo")) ??
    methods.find((m) => /grpo/i.test(m)) ??
    methods[0] ?? null;
}
