/**
 * Planning-token identification: the paper's Strategic Grams, matching, semantic entropy,
 * mining, placebo masks and mask scoring.
 *
 * @module
 */

export { PAPER_STRATEGIC_GRAMS } from "./paper_grams.ts";
export { isPunctuation, joinUnits, tokensToUnits, toUnits, type UnitStream } from "./normalize.ts";
export {
  compileGrams,
  type GramMatch,
  type GramMatcher,
  matchGrams,
  type MatchResult,
  planningMasks,
  type TrieNode,
} from "./match.ts";
export {
  countGrams,
  type EntropyBins,
  GRAM_COUNTINGS,
  type GramCounting,
  gramCounts,
  type GramOccurrences,
  semanticEntropy,
} from "./semantic_entropy.ts";
export { EMBED_DIM, hashEmbed } from "./embed.ts";
export { kmeans, type KMeansOptions, type KMeansResult } from "./kmeans.ts";
export {
  DEFAULT_MINE_OPTIONS,
  type MinedCluster,
  type MineOptions,
  type MineResult,
  mineStrategicGrams,
} from "./mine.ts";
export { placeboMask, randomGrams } from "./placebo.ts";
export type { Rng } from "../rng.ts";
export { type MaskScore, scoreMask } from "./score.ts";
