/**
 * Word-unit normalisation shared by Strategic-Gram matching and mining.
 *
 * The paper leaves the matching rule open (digest §6.3). Grams and response tokens are both
 * reduced to the same "units" so that tokenisation details do not matter:
 * - lowercase; curly apostrophes become `'`; a leading BPE marker (`Ġ`, `▁`) is dropped;
 * - a unit is a run of letters/digits, where `'` and `-` stay inside a word when they sit
 *   between two letters/digits ("let's", "re-evaluate", "step-by-step" are one unit each);
 * - every other non-space character is a unit of its own ("," "?" "#"), so "wait, but" and
 *   the tokens ["wait", ",", "but"] or ["wait,", "but"] give the same units;
 * - whitespace only separates.
 *
 * @module
 */

const WORD = /[\p{L}\p{N}\p{M}]/u;
const SPACE = /\s/u;

/** Word character test with an ASCII fast path (the regex is only for non-ASCII). */
function isWordChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c < 128) {
    return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) ||
      (c >= 65 && c <= 90);
  }
  return WORD.test(ch);
}

/** Splits one string (a token or a whole gram) into normalised units. */
export function toUnits(text: string): string[] {
  const s = text.replace(/^[\u0120\u2581]/u, "").toLowerCase().replace(
    /[\u2018\u2019\u02bc]/gu,
    "'",
  );
  const chars = [...s];
  const units: string[] = [];
  let word = "";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (isWordChar(ch)) {
      word += ch;
      continue;
    }
    const joiner = (ch === "'" || ch === "-") && word !== "" &&
      i + 1 < chars.length &&
      isWordChar(chars[i + 1]);
    if (joiner) {
      word += ch;
      continue;
    }
    if (word) units.push(word);
    word = "";
    if (!SPACE.test(ch)) units.push(ch);
  }
  if (word) units.push(word);
  return units;
}

/** Token → units memo: vocabularies are small and responses repeat tokens a lot. */
const unitCache = new Map<string, readonly string[]>();
const UNIT_CACHE_MAX = 100_000;

/** {@link toUnits} memoised per token string (bounded; cleared when full). */
function tokenUnits(token: string): readonly string[] {
  let u = unitCache.get(token);
  if (!u) {
    if (unitCache.size >= UNIT_CACHE_MAX) unitCache.clear();
    u = Object.freeze(toUnits(token));
    unitCache.set(token, u);
  }
  return u;
}

/** Units of a token sequence plus, for each unit, the index of the token it came from. */
export interface UnitStream {
  /** Normalised units, in order. */
  units: string[];
  /** Token index of each unit. */
  tokenOf: number[];
}

/** Normalises a response's tokens into one unit stream. */
export function tokensToUnits(words: readonly string[]): UnitStream {
  const units: string[] = [];
  const tokenOf: number[] = [];
  for (let t = 0; t < words.length; t++) {
    for (const u of tokenUnits(words[t])) {
      units.push(u);
      tokenOf.push(t);
    }
  }
  return { units, tokenOf };
}

/** True when a unit is a punctuation mark rather than a word. */
export function isPunctuation(unit: string): boolean {
  return !isWordChar(unit);
}

/**
 * Joins units back into readable text: spaces between words, none before closing
 * punctuation (`wait , but` → `wait, but`). {@link toUnits} of the result gives the units back.
 */
export function joinUnits(units: readonly string[]): string {
  let out = "";
  for (const u of units) {
    if (out === "" || /^[,.;:!?)\]}%]$/u.test(u)) out += u;
    else out += " " + u;
  }
  return out;
}
