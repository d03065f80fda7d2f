/**
 * The built-in advantage estimators: GRPO, HICRA (the paper's rule, and the authors' code path
 * with and without a planning mask), the high-entropy ablation and the placebo ablation.
 *
 * @module
 */

import { topFracMask } from "../metrics/top_frac.ts";
import { checkInput, groupAdvantages, groupMembers } from "./baseline.ts";
import type { CreditInput, CreditOptions, CreditOutput } from "./types.ts";

/**
 * GRPO: the sequence advantage (see {@link groupAdvantages}) broadcast to every token.
 * Nothing is modulated.
 */
export function grpo(input: CreditInput, opts: CreditOptions): CreditOutput {
  checkInput(input, []);
  const adv = groupAdvantages(
    input.rewards,
    input.groups,
    opts.stdScaling,
    opts.stdEstimator,
  );
  return {
    advantages: input.lengths.map((len, i) => new Array<number>(len).fill(adv[i])),
    amplified: input.lengths.map((len) => new Array<boolean>(len).fill(false)),
  };
}

/**
 * Paper §3 rule on a token set: Â + α|Â| on selected tokens, Â elsewhere; that is
 * Â·(1+α) when Â > 0 and Â·(1−α) when Â < 0. `amplified` marks selected tokens with Â ≠ 0
 * (where the value actually changes).
 */
export function modulate(
  input: CreditInput,
  opts: CreditOptions,
  selected: readonly (readonly boolean[])[],
): CreditOutput {
  checkAlpha(opts.alpha);
  const adv = groupAdvantages(
    input.rewards,
    input.groups,
    opts.stdScaling,
    opts.stdEstimator,
  );
  const advantages: number[][] = [];
  const amplified: boolean[][] = [];
  for (let i = 0; i < adv.length; i++) {
    const a = adv[i];
    const boosted = a + opts.alpha * Math.abs(a);
    const sel = selected[i];
    advantages.push(Array.from(sel, (s) => (s ? boosted : a)));
    amplified.push(Array.from(sel, (s) => s && a !== 0));
  }
  return { advantages, amplified };
}

/** HICRA as the paper writes it (§3): {@link modulate} on the planning tokens S_i. */
export function hicra(input: CreditInput, opts: CreditOptions): CreditOutput {
  checkInput(input, ["planning"]);
  return modulate(input, opts, input.planning);
}

/**
 * High-entropy ablation (ICLR version's "High-Entropy Advantage"): HICRA's rule on each
 * sequence's top `entropyTopFrac` entropy tokens instead of the planning tokens.
 */
export function highEntropy(
  input: CreditInput,
  opts: CreditOptions,
): CreditOutput {
  checkInput(input, ["entropy"]);
  return modulate(
    input,
    opts,
    input.entropy.map((h) => topFracMask(h, opts.entropyTopFrac)),
  );
}

/**
 * Placebo HICRA: HICRA's rule on the `random` mask (random spans, built by the planning
 * module's `placeboMask`).
 *
 * @throws Error when `input.random` is missing.
 */
export function placebo(input: CreditInput, opts: CreditOptions): CreditOutput {
  if (!input.random) {
    throw new Error(
      'advantage estimator "placebo" needs input.random (a placebo mask)',
    );
  }
  checkInput(input, ["random"]);
  return modulate(input, opts, input.random);
}

/**
 * The per-sequence high-entropy mask of the authors' code path (paper digest §2, TRL PR #4997
 * `_topk_threshold` + `modify_advantages_hicra`): with n tokens, the threshold is
 * `sorted(entropy)[int((1 − frac)·n)]`, the index clamped to n − 1 (so with frac = 0.3 the
 * 70th-percentile element, index ⌊0.7·n⌋: n = 5 → 3, n = 10 → 7, n = 20 → 14), and a token is
 * high-entropy iff its entropy is STRICTLY greater than the threshold. This is an order
 * statistic, not the interpolated percentile of {@link topFracMask}: ties at the threshold are
 * left out and a constant sequence selects nothing. (1 − frac)·n is rounded to 9 decimals
 * before flooring, so float noise (1 − 0.9 = 0.0999…) cannot drop the index by one.
 *
 * @param entropy per-token entropies of one response (all tokens are valid)
 * @param frac the top fraction, in [0, 1] (`entropyTopFrac`, 0.3)
 * @throws RangeError when `frac` is outside [0, 1]
 */
export function codeHighEntropyMask(
  entropy: readonly number[],
  frac: number,
): boolean[] {
  if (!(frac >= 0 && frac <= 1)) {
    throw new RangeError(`entropy top fraction must be in [0, 1] (got ${frac})`);
  }
  const n = entropy.length;
  if (n === 0) return [];
  const raw = Math.floor(Math.round((1 - frac) * n * 1e9) / 1e9);
  const index = Math.max(0, Math.min(raw, n - 1));
  const threshold = Float64Array.from(entropy).sort()[index];
  return entropy.map((h) => h - threshold > 0);
}

/** Which path of the authors' code {@link modifyAdvantagesHicraCode} runs. */
export interface HicraCodePath {
  /**
   * `true`: the code's planning-token branch (`is_higher_entropy | is_planning_token` gets
   * ×(1 + α·sign Â)); `false`: the default `use_planning_tokens=False` branch (only the gated
   * high-entropy tokens get ×(1 + α)).
   */
  usePlanning: boolean;
}

/**
 * The advantage modification of the authors' VeRL code as TRL transcribed it (paper digest §2,
 * "Author VeRL code as transcribed by TRL"; TRL PR #4997 `modify_advantages_hicra`), applied to
 * given sequence advantages. Per GRPO group:
 * 1. the group is skipped entirely (every advantage unchanged) unless some response has
 *    sequence advantage > 0;
 * 2. `should_amplify = (Â > 0) & (length > mean length of all members of the group)`;
 * 3. `is_higher_entropy` ({@link codeHighEntropyMask}) is cleared in responses that fail
 *    `should_amplify`; only the entropy mask is gated;
 * 4. planning path: every token in `is_higher_entropy | planning` gets Â·(1 + α·sign Â), so
 *    planning tokens of every response in the group follow the paper's rule (×(1+α) if Â > 0,
 *    ×(1−α) if Â < 0, unchanged if Â = 0) and high-entropy tokens of amplified responses get
 *    ×(1+α); entropy-only path: the gated high-entropy tokens get Â·(1 + α).
 *
 * `amplified` marks the tokens whose value actually changed. TRL (commit c5d739294) found that
 * the transcribed chained in-place update (`adv[group][mask] *= …`) works on a copy; if the VeRL
 * original has that line its modification is a no-op (open question, digest §2). This
 * implements the intended effect.
 *
 * @param seqAdvantages sequence advantage per rollout (length N)
 * @throws RangeError on shape errors or a bad α / top fraction
 */
export function modifyAdvantagesHicraCode(
  seqAdvantages: readonly number[],
  input: CreditInput,
  opts: CreditOptions,
  path: HicraCodePath,
): CreditOutput {
  checkInput(input, path.usePlanning ? ["planning", "entropy"] : ["entropy"]);
  checkAlpha(opts.alpha);
  const n = input.rewards.length;
  if (seqAdvantages.length !== n) {
    throw new RangeError(
      `credit input: ${n} rollouts but ${seqAdvantages.length} sequence advantages`,
    );
  }
  const advantages = input.lengths.map((len, i) => new Array<number>(len).fill(seqAdvantages[i]));
  const amplified = input.lengths.map((len) => new Array<boolean>(len).fill(false));
  const members = groupMembers(input.groups);
  for (const idx of members.values()) {
    if (!idx.some((i) => seqAdvantages[i] > 0)) continue; // group skipped
    let sumLen = 0;
    for (const i of idx) sumLen += input.lengths[i];
    const meanLen = sumLen / idx.length;
    for (const i of idx) {
      const a = seqAdvantages[i];
      const shouldAmplify = a > 0 && input.lengths[i] > meanLen;
      const high = shouldAmplify
        ? codeHighEntropyMask(input.entropy[i], opts.entropyTopFrac)
        : null;
      const plan = path.usePlanning ? input.planning[i] : null;
      // Entropy-only path: only Â > 0 reaches here through `high`, so 1 + α = 1 + α·sign Â.
      const scaled = a * (1 + opts.alpha * Math.sign(a));
      for (let t = 0; t < input.lengths[i]; t++) {
        if (!((high !== null && high[t]) || (plan !== null && plan[t]))) continue;
        advantages[i][t] = scaled;
        amplified[i][t] = scaled !== a;
      }
    }
  }
  return { advantages, amplified };
}

/**
 * `hicra-code`: the authors' code path with a planning mask (see
 * {@link modifyAdvantagesHicraCode}, `usePlanning: true`) on the group advantages of
 * {@link groupAdvantages}. Tokens in (gated high-entropy ∪ planning) get Â·(1 + α·sign Â);
 * the planning mask is not gated by `should_amplify`, but the no-positive-response group skip
 * applies to everything.
 */
export function hicraCode(
  input: CreditInput,
  opts: CreditOptions,
): CreditOutput {
  checkInput(input, ["planning", "entropy"]);
  return modifyAdvantagesHicraCode(
    groupAdvantages(input.rewards, input.groups, opts.stdScaling, opts.stdEstimator),
    input,
    opts,
    { usePlanning: true },
  );
}

/**
 * `hicra-code-entropy`: the authors' code path without a planning mask, TRL's default
 * (`use_planning_tokens=False`; see {@link modifyAdvantagesHicraCode}, `usePlanning: false`).
 * Only the high-entropy tokens of responses with Â > 0 and length > their group's mean length
 * get Â·(1 + α); `input.planning` is not read.
 */
export function hicraCodeEntropy(
  input: CreditInput,
  opts: CreditOptions,
): CreditOutput {
  checkInput(input, ["entropy"]);
  return modifyAdvantagesHicraCode(
    groupAdvantages(input.rewards, input.groups, opts.stdScaling, opts.stdEstimator),
    input,
    opts,
    { usePlanning: false },
  );
}

function checkAlpha(alpha: number): void {
  if (!Number.isFinite(alpha) || alpha < 0) {
    throw new RangeError(`alpha must be a finite number >= 0 (got ${alpha})`);
  }
}
