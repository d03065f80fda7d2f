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

/** Names in a directory (empty when it cannot be read). */
function listDir(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
}

/**
 * A file the user probably meant when `path` is missing or is a directory:
 * `path` plus one of `exts`, a file with one of `exts` in that directory,
 * or the closest such file name in `path`'s directory or in `fallbackDirs`.
 * Undefined when nothing fits.
 */
export function suggestFile(
  path: string,
  exts: readonly string[],
  fallbackDirs: readonly string[] = [],
): string | undefined {
  const fits = (name: string) => exts.some((e) => name.endsWith(e));
  const join = (dir: string, name: string) =>
    dir === "." ? name : `${dir.replace(/\/$/, "")}/${name}`;
  for (const ext of exts) {
    try {
      if (Deno.statSync(path + ext).isFile) return path + ext;
    } catch {
      // Not there: try the next guess.
    }
  }
  // A directory: its first matching file.
  const inside = listDir(path).filter((e) => e.isFile && fits(e.name)).map((e) => e.name).sort();
  if (inside.length) return join(path, inside[0]);
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const base = path.slice(slash + 1);
  for (const d of [dir, ...fallbackDirs.filter((f) => f !== dir)]) {
    const names = listDir(d).filter((e) => e.isFile && fits(e.name)).map((e) => e.name).sort();
    const stem = (n: string) => n.replace(/\.[^.]*$/, "");
    const match = names.find((n) => n === base) ?? suggest(base, names) ??
      names.find((n) => stem(n) === stem(base)) ??
      names.find((n) => suggest(stem(base), [stem(n)]) !== undefined);
    if (match) return join(d, match);
  }
  return undefined;
}
