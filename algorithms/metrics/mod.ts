/**
 * Metrics of the lab: pass@k, token-class entropy and perplexity, confidence intervals and the
 * per-sequence top-entropy mask.
 *
 * @module
 */

export { meanPassAtK, passAtK, type ProblemSamples } from "./pass_at_k.ts";
export { quantile, topFracMask } from "./top_frac.ts";
export {
  perplexity,
  relativePerplexity,
  type TokenEntropyStats,
  tokenEntropyStats,
} from "./token_stats.ts";
export { type MeanCI, meanCI95, tQuantile975 } from "./ci.ts";
export { labelEntropy, meanGroupEntropy } from "./diversity.ts";
