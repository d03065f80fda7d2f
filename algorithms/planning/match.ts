/**
 * Strategic-Gram matching: which response tokens are planning tokens (paper §2.1: "a token
 * is ... a strategic planning token if it is part of a Strategic Gram in the current context").
 *
 * Rule (the paper gives none; digest §6.3): grams and tokens are compared as normalised units
 * (see `normalize.ts`: case-insensitive, punctuation as separate units, apostrophes and hyphens
 * kept inside words), so matches respect whole-word boundaries ("but" never matches inside
 * "butter"; "let's" does not match "lets"). A token is marked when any of its units lies in any
 * occurrence of any gram, overlaps included. Boundaries are unit boundaries, so a subword
 * tokeniser must be detokenised into words first.
 *
 * Two occurrence lists serve Strategic-Gram counts and semantic entropy:
 * - `matches` (counting `"greedy"`, the default): at each position take the longest gram that
 *   matches, record it and continue after it, else move one unit on. Each written phrase is
 *   counted once ("but wait , but" with grams "but", "but wait" counts "but wait" once and
 *   "but" once).
 * - `allMatches` (counting `"all-occurrences"`, TRL PR #4997 `compute_semantic_entropy`):
 *   every (start, gram) pair whose units match, nested and overlapping grams included (the
 *   same text counts "but wait" once and "but" twice).
 *
 * @module
 */

import { tokensToUnits, toUnits } from "./normalize.ts";

/** One counted occurrence of a gram, over token indices [start, end). */
export interface GramMatch {
  /** The gram as given in the gram list. */
  gram: string;
  /** First token of the occurrence. */
  start: number;
  /** One past the last token of the occurrence. */
  end: number;
}

/** Result of {@link matchGrams}. */
export interface MatchResult {
  /** Planning mask over the response tokens (union of all occurrences). */
  mask: boolean[];
  /** Greedy longest-first, non-overlapping occurrences (counting `"greedy"`). */
  matches: GramMatch[];
  /**
   * Every occurrence of every gram, nested and overlapping ones included (counting
   * `"all-occurrences"`), ordered by start, then by length.
   */
  allMatches: GramMatch[];
}

/** A node of the unit trie built by {@link compileGrams}. */
export interface TrieNode {
  /** Children by next unit. */
  next: Map<string, TrieNode>;
  /** Gram ending here, if any. */
  gram?: string;
}

/** A compiled gram set: a trie over normalised units. */
export interface GramMatcher {
  /** The trie root. */
  readonly root: TrieNode;
  /** Number of distinct normalised grams. */
  readonly size: number;
}

const compiled = new WeakMap<readonly string[], GramMatcher>();

/**
 * Compiles grams into a unit trie. Grams that normalise to the same units keep the first
 * spelling; grams with no units (empty or blank) are ignored.
 */
export function compileGrams(grams: readonly string[]): GramMatcher {
  const root: TrieNode = { next: new Map() };
  let size = 0;
  for (const gram of grams) {
    const units = toUnits(gram);
    if (units.length === 0) continue;
    let node = root;
    for (const u of units) {
      let child = node.next.get(u);
      if (!child) {
        child = { next: new Map() };
        node.next.set(u, child);
      }
      node = child;
    }
    if (node.gram === undefined) {
      node.gram = gram;
      size++;
    }
  }
  return { root, size };
}

/** {@link compileGrams} cached per gram array (by identity). */
function matcherFor(grams: readonly string[] | GramMatcher): GramMatcher {
  if (!Array.isArray(grams)) return grams as GramMatcher;
  const list = grams as readonly string[];
  let m = compiled.get(list);
  if (!m) {
    m = compileGrams(list);
    compiled.set(list, m);
  }
  return m;
}

/**
 * Matches Strategic Grams against one response's tokens (see the module doc for the rule).
 *
 * @param words the response's tokens as strings (word-level; punctuation may be separate)
 * @param grams the gram list (compiled once per array and cached) or a {@link GramMatcher}
 */
export function matchGrams(
  words: readonly string[],
  grams: readonly string[] | GramMatcher,
): MatchResult {
  const { root } = matcherFor(grams);
  const { units, tokenOf } = tokensToUnits(words);
  const mask = new Array<boolean>(words.length).fill(false);
  const matches: GramMatch[] = [];
  const allMatches: GramMatch[] = [];
  let nextFree = 0; // greedy scan resumes here
  for (let s = 0; s < units.length; s++) {
    let node: TrieNode | undefined = root;
    let longestEnd = -1;
    let longestGram = "";
    for (let e = s; e < units.length; e++) {
      node = node.next.get(units[e]);
      if (!node) break;
      if (node.gram !== undefined) {
        longestEnd = e;
        longestGram = node.gram;
        allMatches.push({ gram: node.gram, start: tokenOf[s], end: tokenOf[e] + 1 });
      }
    }
    if (longestEnd < 0) continue;
    // Shorter grams at this start are inside the longest, so marking it covers them.
    for (let t = tokenOf[s]; t <= tokenOf[longestEnd]; t++) mask[t] = true;
    if (s >= nextFree) {
      matches.push({
        gram: longestGram,
        start: tokenOf[s],
        end: tokenOf[longestEnd] + 1,
      });
      nextFree = longestEnd + 1;
    }
  }
  return { mask, matches, allMatches };
}

/** Planning masks for a batch of responses. */
export function planningMasks(
  responses: readonly (readonly string[])[],
  grams: readonly string[] | GramMatcher,
): boolean[][] {
  const m = matcherFor(grams);
  return responses.map((w) => matchGrams(w, m).mask);
}
