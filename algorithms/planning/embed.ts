/**
 * A deterministic, download-free n-gram embedding standing in for the paper's sentence
 * transformer (§2.1 names none; TRL uses all-MiniLM-L6-v2, which this lab cannot fetch).
 *
 * @module
 */

import { hashString } from "../rng.ts";
import { isPunctuation, toUnits } from "./normalize.ts";

/**
 * An n-gram embedding for Strategic-Gram mining (`MineOptions.embed`): text → vector, the same
 * width for every n-gram. {@link hashEmbed} is the default; the real-LLM bridge can plug in a
 * local sentence-embedding model (bridge/embedding.ts).
 */
export type NgramEmbedder = (ngram: string) => Float32Array;

/** Embedding width of {@link hashEmbed}. */
export const EMBED_DIM = 128;

/** Weight of one character trigram relative to one whole word. */
const TRIGRAM_WEIGHT = 0.3;

/**
 * Feature-hashed bag of words plus character trigrams (of "#word#"), signed hashing to keep
 * collisions unbiased, L2-normalised, {@link EMBED_DIM} wide. Lexically close n-grams
 * ("let's try another", "let's try a") land close; the result depends only on the text.
 * An n-gram with no units gives the zero vector.
 */
export function hashEmbed(ngram: string): Float32Array {
  const v = new Float64Array(EMBED_DIM);
  const add = (feature: string, w: number) => {
    const h = hashString(feature);
    v[h % EMBED_DIM] += (h & 0x80000000) ? -w : w;
  };
  for (const unit of toUnits(ngram)) {
    add(`w:${unit}`, 1);
    if (isPunctuation(unit)) continue;
    const padded = `#${unit}#`;
    for (let i = 0; i + 3 <= padded.length; i++) {
      add(`c:${padded.slice(i, i + 3)}`, TRIGRAM_WEIGHT);
    }
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return Float32Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}
