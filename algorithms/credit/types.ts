/**
 * Shapes shared by the advantage estimators.
 *
 * A batch for one step is prompts × G rollouts, flattened: rollout i belongs to group
 * `groups[i]` (its prompt) and per-token arrays are ragged, one array per rollout over its
 * response tokens.
 *
 * @module
 */

/** What an estimator reads for one step. */
export interface CreditInput {
  /** Scalar reward per rollout (length N). */
  rewards: number[];
  /** Group (prompt) id per rollout (length N). */
  groups: number[];
  /** Response length in tokens per rollout; per-token arrays must have this length. */
  lengths: number[];
  /** Planning-token mask per rollout (the Strategic-Gram mask S_i). */
  planning: boolean[][];
  /** Next-token entropy per response token. */
  entropy: number[][];
  /** Placebo mask per rollout (random spans); only the `placebo` estimator reads it. */
  random?: boolean[][];
}

/**
 * How the group baseline is scaled before any token modulation.
 * - `none`: Â = r − group mean, exactly as the paper prints it (§3).
 * - `group`: divided by the group's population std + 1e-6 (GRPO / VeRL style).
 * - `batch`: divided by the population std of all rewards of the step + 1e-6.
 */
export type StdScaling = "group" | "batch" | "none";

/** Estimator settings. */
export interface CreditOptions {
  /** HICRA's α (0.2 in every experiment of the paper). */
  alpha: number;
  /** Std scaling of the base advantage; see {@link StdScaling}. */
  stdScaling: StdScaling;
  /** Fraction of each sequence's tokens counted as high-entropy (0.3 in the paper). */
  entropyTopFrac: number;
}

/** Per-token advantages and which tokens an estimator modulated. */
export interface CreditOutput {
  /** Advantage per response token. */
  advantages: number[][];
  /** Tokens whose advantage was changed by the estimator's modulation rule. */
  amplified: boolean[][];
}

/** An advantage estimator: a pure function of one step's batch. */
export type Estimator = (
  input: CreditInput,
  opts: CreditOptions,
) => CreditOutput;

/**
 * Defaults. `stdScaling: "none"` follows the paper's printed formula
 * Â_{i,t} = R(q, o_i) − mean_j R(q, o_j) (§3), which shows no std division although the text
 * calls it "group-normalized"; `group` is what a stock GRPO/DAPO VeRL run would do. HICRA's
 * α|Â| term scales with Â, so the choice changes step sizes, not which tokens are favoured.
 */
export const DEFAULT_CREDIT_OPTIONS: Readonly<CreditOptions> = Object.freeze({
  alpha: 0.2,
  stdScaling: "none",
  entropyTopFrac: 0.3,
});
