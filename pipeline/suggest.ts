/**
 * "Did you mean" suggestions for misspelled names (keys, stage names, kinds,
 * override paths), based on the Damerau–Levenshtein distance.
 *
 * @module
 */

/**
 * Edit distance between two strings counting insertions, deletions,
 * substitutions and transpositions of adjacent characters (optimal string
 * alignment variant of Damerau–Levenshtein).
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = [];
  for (let i = 0; i < rows; i++) {
    d.push(new Array<number>(cols).fill(0));
    d[i][0] = i;
  }
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2][j - 2] + 1);
      }
      d[i][j] = best;
    }
  }
  return d[rows - 1][cols - 1];
}

/**
 * Largest distance accepted for a word: 1 for words of up to 3 characters,
 * otherwise 2 or a third of the length, whichever is larger.
 */
function maxDistance(word: string): number {
  if (word.length <= 3) return 1;
  return Math.max(2, Math.floor(word.length / 3));
}

/**
 * The candidate closest to `word`, or undefined when none is close enough.
 * A case-insensitive exact match wins; ties go to the earlier candidate.
 */
export function suggest(
  word: string,
  candidates: Iterable<string>,
): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = maxDistance(word);
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    if (candidate === word) continue;
    if (candidate.toLowerCase() === lower) return candidate;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `; did you mean "x"?` for the best match, or an empty string. */
export function didYouMean(
  word: string,
  candidates: Iterable<string>,
): string {
  const match = suggest(word, candidates);
  return match === undefined ? "" : `; did you mean "${match}"?`;
}
