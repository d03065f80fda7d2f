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
 * - `group`: divided by the group's std + 1e-6 (GRPO / VeRL style).
 * - `batch`: divided by the std of all rewards of the step + 1e-6.
 *
 * Which std is set by {@link StdEstimator}.
 */
export type StdScaling = "group" | "batch" | "none";

/**
 * Which std `group` / `batch` scaling divides by.
 * - `unbiased` (default): Bessel-corrected, Σ(r − mean)² / (n − 1), as `torch.std` computes it
 *   in VeRL's `compute_grpo_outcome_advantage` and TRL's `GRPOTrainer`.
 * - `population`: Σ(r − mean)² / n.
 *
 * A group (or batch) whose rewards are all equal, a group of one included, gets advantage 0
 * under either choice. (`torch.std` of one value is NaN; VeRL special-cases a group of one as
 * mean 0, std 1. Here it is 0 like every other all-equal group.)
 */
export type StdEstimator = "unbiased" | "population";

/** Estimator settings. */
export interface CreditOptions {
  /** HICRA's α (0.2 in every experiment of the paper). */
  alpha: number;
  /** Std scaling of the base advantage; see {@link StdScaling}. */
  stdScaling: StdScaling;
  /**
   * Std used by `group` / `batch` scaling; see {@link StdEstimator}. Absent means
   * `"unbiased"`.
   */
  stdEstimator?: StdEstimator;
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
 * calls it "group-normalized"; `group` (with the `unbiased` std) is what a stock GRPO/DAPO
 * VeRL run would do. HICRA's α|Â| term scales with Â, so the choice changes step sizes, not
 * which tokens are favoured.
 */
export const DEFAULT_CREDIT_OPTIONS: Readonly<CreditOptions> = Object.freeze({
  alpha: 0.2,
  stdScaling: "none",
  stdEstimator: "unbiased",
  entropyTopFrac: 0.3,
});
