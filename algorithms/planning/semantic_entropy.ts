/**
 * Semantic entropy (paper §2.2.2): "the Shannon Entropy of the frequency distribution of
 * strategic grams".
 *
 * Unstated in the paper and chosen here: natural log (nats, as TRL logs it); bins are the
 * Strategic Grams themselves; counts pool every rollout of a training step; occurrences are the
 * greedy longest-first matches of `matchGrams`. Cluster bins are available as an option (the
 * paper's plots reach 9, above ln 249 ≈ 5.5, so its bins may have been a larger set).
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
 * Pools gram occurrences over a step's responses into counts per bin.
 *
 * @param matchesPerResponse the `matches` of `matchGrams`, one list per response
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
