/**
 * Choice diversity: how spread out a policy's choices are within each prompt. Used for the
 * strategy-diversity metric (entropy of the first strategy chosen per problem), which sits next
 * to semantic entropy: semantic entropy counts Strategic Grams, this counts decisions.
 *
 * @module
 */

/**
 * Shannon entropy (nats) of the empirical distribution of `labels` (null counts as its own
 * label "none"). An empty list gives 0.
 */
export function labelEntropy(labels: readonly (string | null)[]): number {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l ?? "\u0000none", (counts.get(l ?? "\u0000none") ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / labels.length;
    h -= p * Math.log(p);
  }
  return h;
}

/**
 * Mean over groups of {@link labelEntropy}: e.g. the labels are the first strategies of the n
 * samples of one problem, and the result is the mean per-problem strategy entropy (0 when every
 * problem gets one strategy every time; ln 9 ≈ 2.197 at most for 9 strategies and n ≥ 9).
 * Empty groups are skipped; no group gives NaN.
 */
export function meanGroupEntropy(groups: readonly (readonly (string | null)[])[]): number {
  const used = groups.filter((g) => g.length > 0);
  if (used.length === 0) return NaN;
  return used.reduce((s, g) => s + labelEntropy(g), 0) / used.length;
}
