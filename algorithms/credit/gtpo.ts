/**
 * GTPO: entropy-weighted token rewards (Tan et al. 2025, "GTPO and GRPO-S: Token and
 * Sequence-Level Reward Shaping with Policy Entropy", arXiv 2508.04349, §2.1, eqs. 3, 5, 6, 7),
 * the token-level algorithm (not GRPO-S).
 *
 * Per GRPO group (one prompt's responses), split into successful O⁺ (reward > 0) and failed
 * O⁻ responses, with t a response position (0-based), d_t / h_t the numbers of O⁺ / O⁻
 * responses longer than t, and H the sampling policy's token entropies:
 * - eq. 3, O⁺: r̃⁺_{i,t} = α₁·r_i + α₂·(H_{i,t} / Σ_{k∈O⁺, |o_k|>t} H_{k,t})·d_t;
 * - eq. 5, O⁻: r̃⁻_{j,t} = −α₁ − α₂·((1/H_{j,t}) / Σ_{k∈O⁻, |o_k|>t} 1/H_{k,t})·h_t, so a
 *   confident (low-entropy) token of a failed response is penalised most;
 * - eq. 6: Ã⁺ = (r̃⁺ − mean R̃⁺) / std R̃⁺ for O⁺ tokens and Ã⁻ = (r̃⁻ − mean R̃⁻) / std R̃⁻
 *   for O⁻ tokens; eq. 7 then uses Ã⁺ on O⁺ tokens and Ã⁻ on O⁻ tokens in the clipped
 *   surrogate (the `update` stage).
 * With α₁ + α₂ = 1 the shaped rewards at a position sum to the outcome rewards (the paper's
 * conservation property); the paper's runs use α₁ = 1, α₂ = 0.1, the defaults here.
 *
 * Choices where the text leaves room (the default follows the peer re-implementations):
 * - Normalisation sets (eq. 6). Default `within-set`, as both re-implementations read it
 *   (textpolicy's `normalize_gtpo_advantages` per group; a verl fork's
 *   `compute_gtpo_advantage` whitens each set over the batch): mean / std over the set's own
 *   tokens only, which removes α₁ and centres each set at 0, so low-entropy tokens of a
 *   successful response get negative advantages. `group` (estimator `gtpo-group`): r̃⁺ is 0
 *   on O⁻ tokens and r̃⁻ is 0 on O⁺ tokens, and each mean / std is over every response token
 *   of the group, as GRPO's mean includes the zero rewards of failures; successful tokens
 *   then stay positive and failed ones negative.
 * - Groups whose responses all succeed or all fail get advantage 0, as under GRPO (the paper's
 *   DAPO runs drop such groups by dynamic sampling).
 * - std is `opts.stdEstimator`'s (unbiased by default) + 1e-6, as the group baseline's;
 *   `std_scaling` is not read (eq. 6 always divides). 1/H uses H + 1e-8; a position whose O⁺
 *   entropies are all 0 shares the bonus equally.
 * - `amplified` marks the tokens whose entropy share exceeds an equal share at their
 *   position (share·d_t > 1 or share·h_t > 1): the tokens GTPO weights up.
 *
 * The text of the paper was not at hand: the equations above are as arXiv 2508.04349's
 * abstract (the weight H_{i,t}/Σ_k H_{k,t}) and an equation-by-equation re-implementation
 * (textpolicy's `compute_gtpo_shaped_rewards`, citing eqs. 3, 5, 6, 7) state them.
 *
 * @module
 */

import { checkInput, groupMembers, meanOf, STD_EPS, stdOf } from "./baseline.ts";
import type { CreditInput, CreditOptions, CreditOutput } from "./types.ts";

/** Which tokens eq. 6's mean and std run over; see the module doc. */
export type GtpoNormalization = "group" | "within-set";

/** GTPO's constants. */
export interface GtpoOptions {
  /** Weight of the outcome reward (1 in the paper's runs). */
  alpha1: number;
  /** Weight of the entropy-shaped term (0.1 in the paper's runs). */
  alpha2: number;
  /** Eq. 6's normalisation sets. */
  normalization: GtpoNormalization;
}

/** The paper's constants and the re-implementations' reading of eq. 6. */
export const GTPO_DEFAULTS: Readonly<GtpoOptions> = Object.freeze({
  alpha1: 1,
  alpha2: 0.1,
  normalization: "within-set",
});

/** ε added to H before inverting it (eq. 5). */
export const GTPO_INV_EPS = 1e-8;

/** Shaped token rewards r̃ (eqs. 3 and 5) of one group, and which responses succeeded. */
export interface GtpoShaped {
  /** r̃⁺ on O⁺ responses, r̃⁻ on O⁻ responses, per token. */
  shaped: number[][];
  /** Entropy share × responses alive at the position (> 1: weighted up). */
  share: number[][];
  /** Per response: in O⁺. */
  success: boolean[];
}

/**
 * Eqs. 3 and 5 for one group (a list of responses with rewards and per-token entropies).
 *
 * @throws RangeError on α's that are not finite and ≥ 0
 */
export function gtpoShapedRewards(
  rewards: readonly number[],
  entropy: readonly (readonly number[])[],
  opts: Pick<GtpoOptions, "alpha1" | "alpha2">,
): GtpoShaped {
  for (const key of ["alpha1", "alpha2"] as const) {
    if (!(Number.isFinite(opts[key]) && opts[key] >= 0)) {
      throw new RangeError(`GTPO ${key} must be a finite number >= 0 (got ${opts[key]})`);
    }
  }
  const success = rewards.map((r) => r > 0);
  const shaped = entropy.map((h) => new Array<number>(h.length).fill(0));
  const share = entropy.map((h) => new Array<number>(h.length).fill(0));
  const maxLen = Math.max(0, ...entropy.map((h) => h.length));
  for (let t = 0; t < maxLen; t++) {
    for (const positive of [true, false]) {
      const alive: number[] = [];
      entropy.forEach((h, i) => {
        if (success[i] === positive && h.length > t) alive.push(i);
      });
      if (alive.length === 0) continue;
      // O⁺ weighs by H, O⁻ by 1/H (confident mistakes get the larger penalty).
      const w = alive.map((i) => positive ? entropy[i][t] : 1 / (entropy[i][t] + GTPO_INV_EPS));
      const total = w.reduce((a, v) => a + v, 0);
      alive.forEach((i, k) => {
        const s = total > 0 ? (w[k] / total) * alive.length : 1;
        share[i][t] = s;
        shaped[i][t] = positive
          ? opts.alpha1 * rewards[i] + opts.alpha2 * s
          : -opts.alpha1 - opts.alpha2 * s;
      });
    }
  }
  return { shaped, share, success };
}

/**
 * GTPO advantages for a whole batch (eq. 6 per group on the shaped rewards of
 * {@link gtpoShapedRewards}); see the module doc for the choices.
 *
 * @throws RangeError on shape errors or bad constants
 */
export function gtpoAdvantages(
  input: CreditInput,
  opts: CreditOptions,
  gtpo: GtpoOptions,
): CreditOutput {
  checkInput(input, ["entropy"]);
  if (gtpo.normalization !== "group" && gtpo.normalization !== "within-set") {
    throw new RangeError(`GTPO normalization must be group or within-set`);
  }
  const advantages = input.lengths.map((n) => new Array<number>(n).fill(0));
  const amplified = input.lengths.map((n) => new Array<boolean>(n).fill(false));
  const members = groupMembers(input.groups);
  for (const idx of members.values()) {
    const rewards = idx.map((i) => input.rewards[i]);
    const { shaped, share, success } = gtpoShapedRewards(
      rewards,
      idx.map((i) => input.entropy[i]),
      gtpo,
    );
    if (success.every((s) => s === success[0])) continue; // one-sided group: 0, as GRPO
    for (const positive of [true, false]) {
      // The set's values; with "group" the other set's tokens count as zeros.
      const values: number[] = [];
      idx.forEach((_, k) => {
        if (success[k] === positive) values.push(...shaped[k]);
        else if (gtpo.normalization === "group") {
          for (let t = 0; t < shaped[k].length; t++) values.push(0);
        }
      });
      if (values.length === 0) continue;
      const mean = meanOf(values);
      const unbiased = (opts.stdEstimator ?? "unbiased") === "unbiased";
      const scale = stdOf(values, mean, unbiased) + STD_EPS;
      idx.forEach((i, k) => {
        if (success[k] !== positive) return;
        shaped[k].forEach((r, t) => {
          advantages[i][t] = (r - mean) / scale;
          amplified[i][t] = share[k][t] > 1;
        });
      });
    }
  }
  return { advantages, amplified };
}

/**
 * `gtpo`: the paper's constants (α₁ = 1, α₂ = 0.1), eq. 6 over each set's own tokens
 * (as both re-implementations read it).
 */
export function gtpo(input: CreditInput, opts: CreditOptions): CreditOutput {
  return gtpoAdvantages(input, opts, GTPO_DEFAULTS);
}

/** `gtpo-group`: as {@link gtpo}, eq. 6 over every token of the group (the other set's as 0). */
export function gtpoGroup(input: CreditInput, opts: CreditOptions): CreditOutput {
  return gtpoAdvantages(input, opts, { ...GTPO_DEFAULTS, normalization: "group" });
}
