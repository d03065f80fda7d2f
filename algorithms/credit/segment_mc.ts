/**
 * Segment Monte-Carlo credit (VinePPO-style; Kazemnejad et al., arXiv 2410.01679): a
 * response is cut into segments, the value of the state at each segment start is estimated
 * by K continuations of the policy from that prefix, and every token of a segment gets
 *
 *     A = V̂(next segment start) − V̂(segment start),
 *
 * with V̂ at the end of the response = its reward R (VinePPO: step reward R on the last step,
 * V(terminal) = 0; `_compute_step_advantages` in the authors' code) and V̂ of a prefix = the
 * mean reward of its K continuations (`_compute_mc_value`). γ = 1, no λ.
 *
 * Choices here (each documented where it is made):
 * - Segments are maximal runs of equal planning labels, short execution gaps between
 *   planning runs bridged (see {@link segmentStarts}), so a decision's tokens (a strategy
 *   statement, a backtrack) get the change in success probability the decision caused and
 *   an execution run gets the change its arithmetic caused. VinePPO cuts at reasoning-step
 *   delimiters (newlines) instead.
 * - V̂(prompt) is the group's mean reward: the G group samples are G continuations of the
 *   prompt, so no extra rollouts are needed, and the segment advantages of a response sum
 *   (one per segment) to R − group mean, GRPO's advantage with `std_scaling: none`. VinePPO
 *   samples K extra rollouts from the prompt.
 * - No normalisation by default (advantages in reward units, comparable to the GRPO
 *   baseline); `whiten` applies VinePPO's `masked_whiten` (mean 0, ÷ √(unbiased var + 1e-8))
 *   over all response tokens of the step. VinePPO whitens (its configs set
 *   `whiten_advantages: true`) over each training minibatch.
 * - Identical prefixes share one set of K continuations (VinePPO deduplicates value requests
 *   by query text); see {@link dedupPrefixes}.
 *
 * The continuations themselves are sampled by the `assign-credit` stage; everything here is
 * pure.
 *
 * @module
 */

import { checkInput, groupMeans } from "./baseline.ts";
import type { CreditOutput } from "./types.ts";

/** The name `assign-credit` knows this estimator by. */
export const SEGMENT_MC = "segment-mc";

/** The ε under the square root of VinePPO's `masked_whiten`. */
export const WHITEN_EPS = 1e-8;

/**
 * Start positions of the segments of one response: 0, then every t where the label changes.
 * An execution run of at most `mergeGap` tokens between two planning runs (the `then` of
 * `think of this as then work our way`, the comma of `but wait , let's backtrack`) counts as
 * planning, so a strategy statement or a string of framing phrases is one decision segment;
 * `mergeGap` 0 cuts at every switch. Empty for an empty response.
 */
export function segmentStarts(labels: readonly boolean[], mergeGap = 0): number[] {
  if (!(Number.isInteger(mergeGap) && mergeGap >= 0)) {
    throw new RangeError(`mergeGap must be a non-negative integer, got ${mergeGap}`);
  }
  const runs: { start: number; planning: boolean }[] = [];
  labels.forEach((l, t) => {
    if (t === 0 || l !== labels[t - 1]) runs.push({ start: t, planning: l });
  });
  // An execution run bridged between two planning runs joins them into one segment.
  const bridged = runs.map((run, j) =>
    !run.planning && j > 0 && j + 1 < runs.length && runs[j + 1].start - run.start <= mergeGap
  );
  return runs
    .filter((run, j) => !bridged[j] && !(run.planning && j > 0 && bridged[j - 1]))
    .map((run) => run.start);
}

/**
 * Per-token advantages of one response from its segment starts and state values:
 * `values[j]` is V̂ at `starts[j]` and `values[starts.length]` is V̂ at the end (the reward),
 * so tokens of segment j get `values[j + 1] − values[j]`.
 *
 * @throws RangeError when the shapes disagree or the starts are not 0 < … < length.
 */
export function segmentAdvantages(
  starts: readonly number[],
  values: readonly number[],
  length: number,
): number[] {
  if (values.length !== starts.length + 1) {
    throw new RangeError(
      `${starts.length} segments need ${starts.length + 1} values, got ${values.length}`,
    );
  }
  if (length === 0) {
    if (starts.length > 0) throw new RangeError("an empty response has no segments");
    return [];
  }
  if (starts[0] !== 0) throw new RangeError(`the first segment starts at ${starts[0]}, not 0`);
  for (let j = 1; j < starts.length; j++) {
    if (!(starts[j] > starts[j - 1] && starts[j] < length)) {
      throw new RangeError(`segment starts must increase inside 0..${length - 1}: ${starts}`);
    }
  }
  const adv = new Array<number>(length);
  starts.forEach((s, j) => {
    const end = j + 1 < starts.length ? starts[j + 1] : length;
    adv.fill(values[j + 1] - values[j], s, end);
  });
  return adv;
}

/** Mean reward of a prefix's continuations: its Monte-Carlo value V̂. */
export function mcValue(rewards: readonly number[]): number {
  if (rewards.length === 0) throw new RangeError("a Monte-Carlo value needs at least one rollout");
  return rewards.reduce((a, b) => a + b, 0) / rewards.length;
}

/**
 * Deduplicates prefixes (token arrays): `unique` lists each distinct prefix once, in order of
 * first appearance, and `index[i]` is the position of prefix i in `unique`.
 */
export function dedupPrefixes(
  prefixes: readonly (readonly number[])[],
): { unique: number[][]; index: number[] } {
  const seen = new Map<string, number>();
  const unique: number[][] = [];
  const index = prefixes.map((p) => {
    const key = p.join(",");
    let k = seen.get(key);
    if (k === undefined) {
      k = unique.length;
      seen.set(key, k);
      unique.push([...p]);
    }
    return k;
  });
  return { unique, index };
}

/**
 * VinePPO's `masked_whiten` over every token of the batch: (a − mean) / √(var + 1e-8) with
 * the unbiased variance (÷(n − 1)). Fewer than two tokens are returned unchanged.
 */
export function whiten(advantages: readonly (readonly number[])[]): number[][] {
  const all = advantages.flat();
  const n = all.length;
  if (n < 2) return advantages.map((a) => [...a]);
  const mean = all.reduce((a, b) => a + b, 0) / n;
  const variance = all.reduce((s, a) => s + (a - mean) ** 2, 0) / (n - 1);
  const scale = 1 / Math.sqrt(variance + WHITEN_EPS);
  return advantages.map((a) => a.map((x) => (x - mean) * scale));
}

/** One step's batch for {@link segmentMc}. */
export interface SegmentMcInput {
  /** Scalar reward per rollout (length N). */
  rewards: number[];
  /** Group (prompt) id per rollout. */
  groups: number[];
  /** Response length in tokens per rollout. */
  lengths: number[];
  /** Segment starts per rollout ({@link segmentStarts}). */
  starts: number[][];
  /**
   * V̂ at each segment start after the first, per rollout: `boundaryValues[i][j − 1]` is the
   * value at `starts[i][j]` (the first start's value is the group's mean reward).
   */
  boundaryValues: number[][];
}

/**
 * Segment Monte-Carlo advantages for a step: V̂(prompt) = group mean reward, V̂ at the
 * later segment starts from `boundaryValues`, V̂(end) = the reward; optionally whitened.
 * `amplified` is all false (no token is modulated: every token gets its segment's value
 * difference).
 *
 * @throws RangeError on inconsistent shapes or non-finite values.
 */
export function segmentMc(input: SegmentMcInput, opts: { whiten: boolean }): CreditOutput {
  const n = input.rewards.length;
  const { rewards, groups, lengths } = input;
  checkInput({ rewards, groups, lengths, planning: [], entropy: [] }, []);
  rewards.forEach((r, i) => {
    if (!Number.isFinite(r)) throw new RangeError(`reward ${i} is not finite (${r})`);
  });
  if (input.starts.length !== n || input.boundaryValues.length !== n) {
    throw new RangeError(
      `${n} rollouts but ${input.starts.length} segment lists and ` +
        `${input.boundaryValues.length} value lists`,
    );
  }
  const promptValue = groupMeans(rewards, groups);
  const raw = input.lengths.map((len, i) => {
    const inner = input.boundaryValues[i];
    inner.forEach((v, j) => {
      if (!Number.isFinite(v)) throw new RangeError(`value ${j} of rollout ${i} is ${v}`);
    });
    const values = [promptValue[i], ...inner, input.rewards[i]];
    return segmentAdvantages(input.starts[i], values, len);
  });
  return {
    advantages: opts.whiten ? whiten(raw) : raw,
    amplified: input.lengths.map((len) => new Array<boolean>(len).fill(false)),
  };
}
