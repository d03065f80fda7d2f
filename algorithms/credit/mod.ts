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
  type StdEstimator,
  type StdScaling,
} from "./types.ts";
export { checkInput, groupAdvantages, groupMeans, STD_EPS } from "./baseline.ts";
export {
  codeHighEntropyMask,
  grpo,
  hicra,
  hicraCode,
  hicraCodeEntropy,
  type HicraCodePath,
  highEntropy,
  modifyAdvantagesHicraCode,
  modulate,
  placebo,
} from "./estimators.ts";
export {
  gtpo,
  GTPO_DEFAULTS,
  gtpoAdvantages,
  gtpoGroup,
  type GtpoNormalization,
  type GtpoOptions,
  type GtpoShaped,
  gtpoShapedRewards,
} from "./gtpo.ts";
export { estimatorNames, getEstimator, registerEstimator } from "./registry.ts";
export {
  dedupPrefixes,
  mcValue,
  SEGMENT_MC,
  segmentAdvantages,
  segmentMc,
  type SegmentMcInput,
  segmentStarts,
  whiten,
} from "./segment_mc.ts";
