/**
 * The GRPO group baseline: per-rollout advantages from rewards and group ids.
 *
 * @module
 */

import type { CreditInput, StdEstimator, StdScaling } from "./types.ts";

/** The ε added to the std before dividing (VeRL's GRPO uses 1e-6). */
export const STD_EPS = 1e-6;

/** Rollout indices per group id, groups in order of first appearance. */
export function groupMembers(groups: readonly number[]): Map<number, number[]> {
  const members = new Map<number, number[]>();
  groups.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  return members;
}

/**
 * Sequence-level advantage per rollout: r − group mean, then scaled by `stdScaling`.
 * Stds are unbiased (÷(n − 1), as `torch.std` in VeRL and TRL) unless `stdEstimator` is
 * `"population"` (÷n). A group whose rewards are all equal (a group of one included) gets
 * exactly 0 (not a rounding residue divided by ε), and so does every rollout when all rewards
 * of the batch are equal.
 *
 * @throws RangeError when `rewards` and `groups` differ in length or a reward is not finite.
 */
export function groupAdvantages(
  rewards: readonly number[],
  groups: readonly number[],
  stdScaling: StdScaling,
  stdEstimator: StdEstimator = "unbiased",
): number[] {
  if (stdEstimator !== "unbiased" && stdEstimator !== "population") {
    throw new RangeError(
      `stdEstimator must be "unbiased" or "population" (got ${stdEstimator})`,
    );
  }
  const std = (vals: readonly number[], mean: number): number =>
    stdOf(vals, mean, stdEstimator === "unbiased");
  if (rewards.length !== groups.length) {
    throw new RangeError(
      `${rewards.length} rewards but ${groups.length} group ids`,
    );
  }
  rewards.forEach((r, i) => {
    if (!Number.isFinite(r)) {
      throw new RangeError(`reward ${i} is not finite (${r})`);
    }
  });
  const members = groupMembers(groups);
  const adv = new Array<number>(rewards.length).fill(0);
  for (const idx of members.values()) {
    const vals = idx.map((i) => rewards[i]);
    if (vals.every((v) => v === vals[0])) continue; // zero-std group → 0
    const mean = meanOf(vals);
    const scale = stdScaling === "group" ? std(vals, mean) + STD_EPS : 1;
    for (const i of idx) adv[i] = (rewards[i] - mean) / scale;
  }
  if (stdScaling === "batch") {
    if (rewards.every((v) => v === rewards[0])) return adv.fill(0);
    const batchStd = std(rewards, meanOf(rewards)) + STD_EPS;
    for (let i = 0; i < adv.length; i++) adv[i] /= batchStd;
  }
  return adv;
}

/** Group mean of a per-rollout value, indexed like the rollouts (segment-mc's V̂(prompt)). */
export function groupMeans(
  values: readonly number[],
  groups: readonly number[],
): number[] {
  const sum = new Map<number, number>();
  const count = new Map<number, number>();
  groups.forEach((g, i) => {
    sum.set(g, (sum.get(g) ?? 0) + values[i]);
    count.set(g, (count.get(g) ?? 0) + 1);
  });
  return groups.map((g) => sum.get(g)! / count.get(g)!);
}

/** Checks the batch shape and that each per-token array has its rollout's length. */
export function checkInput(
  input: CreditInput,
  perToken: readonly (keyof CreditInput)[],
): void {
  const n = input.rewards.length;
  if (input.groups.length !== n || input.lengths.length !== n) {
    throw new RangeError(
      `credit input: ${n} rewards, ${input.groups.length} group ids, ${input.lengths.length} lengths`,
    );
  }
  for (const key of perToken) {
    const arr = input[key] as unknown[][] | undefined;
    if (!arr) {
      throw new Error(`credit input: "${key}" is required by this estimator`);
    }
    if (arr.length !== n) {
      throw new RangeError(
        `credit input: ${n} rollouts but "${key}" has ${arr.length}`,
      );
    }
    for (let i = 0; i < n; i++) {
      if (arr[i].length !== input.lengths[i]) {
        throw new RangeError(
          `credit input: rollout ${i} has length ${input.lengths[i]} but "${key}" has ${
            arr[i].length
          } tokens`,
        );
      }
    }
  }
}

/** Mean of a non-empty list, summed in order. */
export function meanOf(vals: readonly number[]): number {
  let s = 0;
  for (const v of vals) s += v;
  return s / vals.length;
}

/** Std of a list about `mean`; 0 when the estimator's denominator is not positive. */
export function stdOf(vals: readonly number[], mean: number, unbiased: boolean): number {
  const denom = unbiased ? vals.length - 1 : vals.length;
  if (denom <= 0) return 0;
  let ss = 0;
  for (const v of vals) ss += (v - mean) ** 2;
  return Math.sqrt(ss / denom);
}
