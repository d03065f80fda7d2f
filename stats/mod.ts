/**
 * Statistics for comparing experimental conditions paired by a blocking
 * factor (e.g. a seed): Student t and normal distributions, the paired t test,
 * the sign-flip permutation test, the percentile bootstrap, Holm's
 * adjustment and the minimum detectable effect. Pure functions with no
 * dependencies on the rest of the repository.
 *
 * @module
 */
export {
  normalCdf,
  normalPdf,
  normalQuantile,
  studentTCdf,
  studentTPdf,
  studentTQuantile,
  studentTSurvival,
  studentTTwoSidedP,
} from "./distributions.ts";
export {
  erfc,
  lnBeta,
  lnGamma,
  regularizedGammaP,
  regularizedGammaQ,
  regularizedIncompleteBeta,
} from "./special.ts";
export {
  bootstrapCI,
  type BootstrapOptions,
  type BootstrapResult,
  type MdeOptions,
  mean,
  minimumDetectableEffect,
  pairedT,
  type PairedTResult,
  quantileSorted,
  sampleSd,
  type SignFlipOptions,
  type SignFlipResult,
  signFlipTest,
} from "./paired.ts";
export { holm } from "./multiple.ts";
export { type RandomSource, seededRandom } from "./random.ts";
