/**
 * Semantic entropy (paper §2.2.2): "the Shannon Entropy of the frequency distribution of
 * strategic grams".
 *
 * Unstated in the paper and chosen here: natural log (nats, as TRL logs it); bins are the
 * Strategic Grams themselves; counts pool every rollout of a training step. Cluster bins are
 * available as an option (the paper's plots reach 9, above ln 249 ≈ 5.5, so its bins may have
 * been a larger set).
 *
 * What counts as one occurrence is a choice too ({@link GramCounting}):
 * - `"greedy"` (default): the greedy longest-first, non-overlapping `matches` of `matchGrams`,
 *   so each written phrase is counted once. The paper is silent; this is the neutral reading
 *   of "frequency distribution of strategic grams" (a phrase is one use of one gram).
 * - `"all-occurrences"`: the `allMatches` of `matchGrams`, every (start, gram) pair, nested
 *   grams included. This is what TRL PR #4997 (`compute_semantic_entropy`) counts: "but" inside
 *   "but wait" counts for both "but" and "but wait". Short grams that are prefixes or parts of
 *   longer ones ("but", "so", "wait") gain weight, which changes the entropy.
 *
 * Example, "but wait , but" with grams "but", "but wait": greedy counts {but wait: 1, but: 1}
 * (H = ln 2); all-occurrences counts {but: 2, but wait: 1} (H = ln 3 − (2/3) ln 2).
 *
 * @module
 */

/**
 * Shannon entropy H = −Σ p ln p of a count distribution, in nats. Zero counts are ignored and
 * an empty or all-zero distribution gives 0.
 *
 * @throws RangeError on a negative or non-finite count.
 */
export function semanticEntropy(
  counts: ReadonlyMap<string, number> | readonly number[],
): number {
  const values = Array.isArray(counts)
    ? counts as readonly number[]
    : [...(counts as ReadonlyMap<string, number>).values()];
  let total = 0;
  for (const c of values) {
    if (!(c >= 0) || !Number.isFinite(c)) {
      throw new RangeError(`count must be finite and >= 0 (got ${c})`);
    }
    total += c;
  }
  if (total === 0) return 0;
  let h = 0;
  for (const c of values) {
    if (c > 0) {
      const p = c / total;
      h -= p * Math.log(p);
    }
  }
  return h;
}

/** What the entropy bins are: single grams (paper reading) or clusters of grams. */
export type EntropyBins = "grams" | "clusters";

/**
 * Which gram occurrences are counted: `greedy` (longest-first, non-overlapping; default) or
 * `all-occurrences` (every occurrence of every gram, nested ones included, as TRL counts).
 * See the module doc.
 */
export type GramCounting = "greedy" | "all-occurrences";

/** The names of {@link GramCounting}, for parameter checks. */
export const GRAM_COUNTINGS: readonly GramCounting[] = Object.freeze([
  "greedy",
  "all-occurrences",
]);

/** What {@link countGrams} reads of a `matchGrams` result. */
export interface GramOccurrences {
  /** Greedy longest-first, non-overlapping occurrences. */
  matches: readonly { gram: string }[];
  /** Every occurrence of every gram. */
  allMatches: readonly { gram: string }[];
}

/**
 * Counts per bin from `matchGrams` results, with the occurrences chosen by `counting`: the
 * one entry point for semantic-entropy callers (stages `cluster-entropy` and `evaluate`).
 *
 * @param matchResults one `matchGrams` result per response of the pool
 * @param counting `greedy` (default) or `all-occurrences`; see the module doc
 * @param bins `grams` (default) or `clusters`
 * @param clusterOf for `clusters`: gram → cluster label; a gram without a label is its own bin
 * @throws RangeError on an unknown `counting`
 */
export function countGrams(
  matchResults: readonly GramOccurrences[],
  counting: GramCounting = "greedy",
  bins: EntropyBins = "grams",
  clusterOf?:
    | ReadonlyMap<string, string>
    | ((gram: string) => string | undefined),
): Map<string, number> {
  if (!GRAM_COUNTINGS.includes(counting)) {
    throw new RangeError(
      `counting must be one of ${GRAM_COUNTINGS.join(", ")} (got ${counting})`,
    );
  }
  return gramCounts(
    matchResults.map((m) => counting === "greedy" ? m.matches : m.allMatches),
    bins,
    clusterOf,
  );
}

/**
 * Pools gram occurrences over a step's responses into counts per bin. Each listed occurrence
 * counts once; which occurrences to list is the caller's choice (see {@link countGrams}).
 *
 * @param matchesPerResponse the `matches` (greedy) or `allMatches` (all occurrences) of
 *   `matchGrams`, one list per response
 * @param bins `grams` (default, the paper's reading) or `clusters`
 * @param clusterOf for `clusters`: gram → cluster label; a gram without a label is its own bin
 */
export function gramCounts(
  matchesPerResponse: readonly (readonly { gram: string }[])[],
  bins: EntropyBins = "grams",
  clusterOf?:
    | ReadonlyMap<string, string>
    | ((gram: string) => string | undefined),
): Map<string, number> {
  if (bins === "clusters" && !clusterOf) {
    throw new Error('gramCounts: bins "clusters" needs clusterOf');
  }
  const label = (gram: string): string => {
    if (bins === "grams" || !clusterOf) return gram;
    const c = typeof clusterOf === "function" ? clusterOf(gram) : clusterOf.get(gram);
    return c ?? gram;
  };
  const counts = new Map<string, number>();
  for (const matches of matchesPerResponse) {
    for (const m of matches) {
      const key = label(m.gram);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}
