/**
 * Word-level tokenizer with a fixed vocabulary. Ids 0–3 are the special
 * tokens PAD, BOS, EOS and UNK; the testbed vocabulary is built
 * deterministically from the task family (formatting, prompt and answer
 * words, the decision-phrase words, the framing-phrase words, numbers 0..MAX_VALUE).
 * Text is split with `splitWords`, so `encode` → `decode` reproduces any
 * canonical (single-spaced) text the task family writes.
 *
 * @module
 */

import { MAX_VALUE, OPS } from "./arithmetic.ts";
import { OP_PHRASES, TEMPLATES } from "./phrases.ts";
import { joinWords, splitWords } from "./words.ts";

/** Padding id. */
export const PAD = 0;
/** Beginning-of-sequence id. */
export const BOS = 1;
/** End-of-sequence id (a response ends with it). */
export const EOS = 2;
/** Unknown-word id. */
export const UNK = 3;

/** Spellings of the special tokens, at ids 0..3. */
export const SPECIAL_TOKENS: readonly string[] = [
  "<pad>",
  "<bos>",
  "<eos>",
  "<unk>",
];

/** Serialised form of a tokenizer (stored in checkpoints). */
export interface WordTokenizerJson {
  kind: "word";
  vocab: string[];
}

/**
 * The testbed vocabulary: special tokens, formatting symbols, fixed words,
 * decision-phrase words, framing-phrase words in template order, then the
 * numbers 0..MAX_VALUE.
 */
export function testbedVocabulary(): string[] {
  const words = [
    ...SPECIAL_TOKENS,
    ...[".", ",", ":", "?", "(", ")", "+", "-", "*", "="],
    ...["reach", "with", "answer", "is", "not", "then"],
    ...OPS.flatMap((op) => OP_PHRASES[op]),
    ...Object.values(TEMPLATES).flat().flatMap((t) => t.words),
    ...Array.from({ length: MAX_VALUE + 1 }, (_, i) => String(i)),
  ];
  return [...new Set(words)];
}

/** Maps words to ids and back over a fixed vocabulary. */
export class WordTokenizer {
  readonly #vocab: readonly string[];
  readonly #ids: ReadonlyMap<string, number>;

  /** Builds a tokenizer; `vocab` must start with SPECIAL_TOKENS and have no duplicates. */
  constructor(vocab: readonly string[]) {
    SPECIAL_TOKENS.forEach((s, i) => {
      if (vocab[i] !== s) {
        throw new Error(
          `Cannot build tokenizer: vocab[${i}] must be "${s}", got "${vocab[i]}"`,
        );
      }
    });
    const ids = new Map<string, number>();
    vocab.forEach((w, i) => {
      if (ids.has(w)) {
        throw new Error(`Cannot build tokenizer: duplicate word "${w}"`);
      }
      ids.set(w, i);
    });
    this.#vocab = [...vocab];
    this.#ids = ids;
  }

  /** The tokenizer over `testbedVocabulary()`. */
  static testbed(): WordTokenizer {
    return new WordTokenizer(testbedVocabulary());
  }

  /** Restores a tokenizer saved with `toJSON`. */
  static fromJSON(json: WordTokenizerJson): WordTokenizer {
    if (json?.kind !== "word" || !Array.isArray(json.vocab)) {
      throw new Error('Cannot load tokenizer: expected {kind: "word", vocab}');
    }
    return new WordTokenizer(json.vocab);
  }

  /** Vocabulary size. */
  get size(): number {
    return this.#vocab.length;
  }

  /** The vocabulary, indexed by id. */
  get vocab(): readonly string[] {
    return this.#vocab;
  }

  /** Id of a word (UNK if unknown). */
  id(word: string): number {
    return this.#ids.get(word) ?? UNK;
  }

  /** Ids of text (split with `splitWords`) or of words, optionally framed by BOS/EOS. */
  encode(
    input: string | readonly string[],
    opts: { bos?: boolean; eos?: boolean } = {},
  ): number[] {
    const words = typeof input === "string" ? splitWords(input) : input;
    const ids = words.map((w) => this.id(w));
    if (opts.bos) ids.unshift(BOS);
    if (opts.eos) ids.push(EOS);
    return ids;
  }

  /** The word of each id (specials spelled `<eos>` etc.), aligned with `ids`. */
  tokens(ids: readonly number[]): string[] {
    return ids.map((id) => this.#vocab[id] ?? "<unk>");
  }

  /** Text of ids; PAD, BOS and EOS are dropped unless `keepSpecial`. */
  decode(ids: readonly number[], opts: { keepSpecial?: boolean } = {}): string {
    const kept = opts.keepSpecial
      ? ids
      : ids.filter((id) => id !== PAD && id !== BOS && id !== EOS);
    return joinWords(this.tokens(kept));
  }

  /** Serialisable form for checkpoints. */
  toJSON(): WordTokenizerJson {
    return { kind: "word", vocab: [...this.#vocab] };
  }
}
