/**
 * Credit assignment: advantage estimators behind a name registry.
 *
 * @module
 */

export {
  type CreditInput,
  type CreditOptions,
  type CreditOutput,
  DEFAULT_CREDIT_OPTIONS,
  type Estimator,
  type StdScaling,
} from "./types.ts";
export { checkInput, groupAdvantages, groupMeanLengths, STD_EPS } from "./baseline.ts";
export { grpo, hicra, hicraCode, highEntropy, modulate, placebo } from "./estimators.ts";
export { estimatorNames, getEstimator, registerEstimator } from "./registry.ts";
