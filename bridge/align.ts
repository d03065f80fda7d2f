/**
 * Token ↔ text alignment for byte-level BPE, and Strategic-Gram planning masks on real tokens.
 *
 * 1. `tokenSpans`: ids → their bytes → the decoded text, with each token's byte span and
 *    character span (Unicode code points, as Python indexes a `str`). A multi-byte character
 *    whose bytes are split across tokens (an emoji as 2 tokens) belongs to every token holding
 *    one of its bytes, so those spans overlap by that character. Invalid UTF-8 (a response cut
 *    inside a character) decodes one byte at a time to U+FFFD.
 * 2. `unitSpans`: the text cut into the normalised units of `algorithms/planning/normalize.ts`
 *    (words with inner `'`/`-`, each punctuation mark alone), each with its character span.
 *    Concatenating `toUnits` of every unit gives `toUnits` of the text (tested).
 * 3. `planningMask`: `matchGrams` over those units (so matching is the lab's rule:
 *    case-insensitive, whole units), then every token overlapping a matched unit is marked.
 *    Added tokens (`<think>`, `<|im_end|>`) are markup: their characters count as whitespace, so
 *    they are never marked and never join two words.
 *
 * @module
 */
import { type GramMatch, type GramMatcher, matchGrams } from "../algorithms/planning/mod.ts";
import type { ByteTokenizer } from "./tokenizer.ts";

/** Decoded text of a token sequence with per-token spans. */
export interface TokenSpans {
  /** The decoded text. */
  text: string;
  /** Per token: first byte and one past the last byte in the UTF-8 of `text`. */
  byteStart: number[];
  byteEnd: number[];
  /** Per token: first character and one past the last (code points; split characters shared). */
  charStart: number[];
  charEnd: number[];
  /** Per token: an added token (markup), see `ByteTokenizer.isAdded`. */
  added: boolean[];
}

/** Byte length of the UTF-8 sequence led by `b`, or 0 when `b` cannot lead one. */
function leadLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/**
 * Splits bytes into characters: returns the text and, per byte, the index of its character.
 * A malformed sequence yields U+FFFD per offending byte.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string; charOf: Int32Array } {
  const dec = new TextDecoder("utf-8", { fatal: true });
  const charOf = new Int32Array(bytes.length);
  let text = "";
  let nChars = 0;
  for (let i = 0; i < bytes.length;) {
    let n = leadLength(bytes[i]);
    let ch = "\uFFFD";
    if (n > 0 && i + n <= bytes.length) {
      try {
        ch = dec.decode(bytes.subarray(i, i + n));
      } catch {
        n = 0;
      }
    } else n = 0;
    if (n === 0) {
      n = 1;
      ch = "\uFFFD";
    }
    for (let k = 0; k < n; k++) charOf[i + k] = nChars;
    text += ch;
    nChars++;
    i += n;
  }
  return { text, charOf };
}

/** Decodes ids and computes every token's byte and character span. */
export function tokenSpans(ids: readonly number[], tok: ByteTokenizer): TokenSpans {
  const parts = ids.map((id) => tok.tokenBytes(id));
  const total = parts.reduce((s, p) => s + p.length, 0);
  const bytes = new Uint8Array(total);
  const byteStart: number[] = [], byteEnd: number[] = [];
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    byteStart.push(at);
    at += p.length;
    byteEnd.push(at);
  }
  const { text, charOf } = decodeUtf8(bytes);
  const nChars = [...text].length;
  const charStart = byteStart.map((b, i) =>
    byteEnd[i] > b ? charOf[b] : (b < total ? charOf[b] : nChars)
  );
  const charEnd = byteEnd.map((e, i) => e > byteStart[i] ? charOf[e - 1] + 1 : charStart[i]);
  return { text, byteStart, byteEnd, charStart, charEnd, added: ids.map((id) => tok.isAdded(id)) };
}

/** One normalised unit of a text with its character span (code points). */
export interface UnitSpan {
  /** The unit as written (not lowercased; `toUnits` of it gives the one normalised unit). */
  unit: string;
  start: number;
  end: number;
}

const WORD = /[\p{L}\p{N}\p{M}]/u;
const SPACE = /\s/u;
const APOSTROPHES = new Set(["'", "\u2018", "\u2019", "\u02bc", "-"]);

/**
 * Cuts text into the units of `toUnits` (see `algorithms/planning/normalize.ts`), keeping each
 * unit's character span. Characters flagged in `blank` count as whitespace.
 */
export function unitSpans(text: string, blank?: (charIndex: number) => boolean): UnitSpan[] {
  const chars = [...text];
  const isBlank = (i: number) => SPACE.test(chars[i]) || (blank?.(i) ?? false);
  const isWord = (i: number) => !isBlank(i) && WORD.test(chars[i]);
  const out: UnitSpan[] = [];
  let start = -1;
  const close = (end: number) => {
    if (start >= 0) out.push({ unit: chars.slice(start, end).join(""), start, end });
    start = -1;
  };
  for (let i = 0; i < chars.length; i++) {
    if (isWord(i)) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && APOSTROPHES.has(chars[i]) && i + 1 < chars.length && isWord(i + 1)) continue;
    close(i);
    if (!isBlank(i)) out.push({ unit: chars[i], start: i, end: i + 1 });
  }
  close(chars.length);
  return out;
}

/** A planning mask over real tokens. */
export interface TokenPlanning {
  /** Per token: inside an occurrence of a gram. */
  mask: boolean[];
  /** Greedy occurrences, over token indices [start, end). */
  matches: GramMatch[];
  /** Every occurrence (nested ones too), over token indices. */
  allMatches: GramMatch[];
  /** The alignment it was computed on. */
  spans: TokenSpans;
}

/**
 * Strategic-Gram planning mask of a token sequence: grams are matched on the decoded text's
 * units (the lab's rule), and every token overlapping a matched unit is marked.
 */
export function planningMask(
  ids: readonly number[],
  tok: ByteTokenizer,
  grams: readonly string[] | GramMatcher,
): TokenPlanning {
  const spans = tokenSpans(ids, tok);
  const nChars = [...spans.text].length;
  // Per character: first and last token covering it (split characters have two or more).
  const first = new Int32Array(nChars).fill(-1), last = new Int32Array(nChars).fill(-1);
  const markup = new Uint8Array(nChars);
  for (let t = 0; t < ids.length; t++) {
    for (let c = spans.charStart[t]; c < spans.charEnd[t]; c++) {
      if (first[c] < 0) first[c] = t;
      last[c] = t;
      if (spans.added[t]) markup[c] = 1;
    }
  }
  const units = unitSpans(spans.text, (c) => markup[c] === 1);
  const r = matchGrams(units.map((u) => u.unit), grams);
  const mask = new Array<boolean>(ids.length).fill(false);
  units.forEach((u, i) => {
    if (!r.mask[i]) return;
    for (let t = first[u.start]; t <= last[u.end - 1]; t++) mask[t] = true;
  });
  const toTokens = (m: GramMatch): GramMatch => ({
    gram: m.gram,
    start: first[units[m.start].start],
    end: last[units[m.end - 1].end - 1] + 1,
  });
  return { mask, matches: r.matches.map(toTokens), allMatches: r.allMatches.map(toTokens), spans };
}
