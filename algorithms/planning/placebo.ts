/**
 * Placebo planning masks for the "Placebo HICRA" ablation (ICLR version: random n-grams
 * instead of Strategic Grams).
 *
 * Chosen approach: {@link placeboMask} moves the real mask's spans to random places in the same
 * response. It keeps, per response, the exact number of marked tokens and the span lengths, so
 * the placebo modulates the same token budget as HICRA and differs only in *which* tokens.
 * {@link randomGrams} (random n-gram strings) is kept for a literal reading, but a random gram
 * set matched back onto responses marks a very different number of tokens.
 *
 * @module
 */

import type { Rng } from "../rng.ts";
import { joinUnits, tokensToUnits } from "./normalize.ts";

/**
 * Per response, re-places each run of consecutive marked tokens of `realMask` at a uniformly
 * random gap layout (runs in shuffled order, gaps a random composition of the unmarked count).
 * Runs may end up adjacent, and may overlap real planning tokens.
 *
 * @param realMask the real (Strategic-Gram) planning mask
 * @param words the responses' tokens; only checked for shape
 * @throws RangeError when the shapes differ.
 */
export function placeboMask(
  realMask: readonly (readonly boolean[])[],
  words: readonly (readonly string[])[],
  rng: Rng,
): boolean[][] {
  if (realMask.length !== words.length) {
    throw new RangeError(
      `placeboMask: ${realMask.length} masks but ${words.length} responses`,
    );
  }
  return realMask.map((mask, i) => {
    if (mask.length !== words[i].length) {
      throw new RangeError(
        `placeboMask: response ${i} has ${words[i].length} tokens but mask has ${mask.length}`,
      );
    }
    const runs = rng.shuffle(runLengths(mask));
    const marked = runs.reduce((a, b) => a + b, 0);
    const free = mask.length - marked;
    const cuts = runs.map(() => rng.int(0, free)).sort((a, b) => a - b);
    const out = new Array<boolean>(mask.length).fill(false);
    let pos = 0;
    let prevCut = 0;
    runs.forEach((len, j) => {
      pos += cuts[j] - prevCut;
      prevCut = cuts[j];
      for (let t = 0; t < len; t++) out[pos + t] = true;
      pos += len;
    });
    return out;
  });
}

/** Lengths of the runs of `true` in a mask. */
function runLengths(mask: readonly boolean[]): number[] {
  const runs: number[] = [];
  let len = 0;
  for (const m of mask) {
    if (m) len++;
    else if (len > 0) {
      runs.push(len);
      len = 0;
    }
  }
  if (len > 0) runs.push(len);
  return runs;
}

/**
 * Draws up to `budget.nGrams` distinct random unit n-grams (n uniform in [nMin, nMax],
 * default [3, 5]) from the responses: response, n and start uniform. Gives up after
 * 50 × nGrams draws, so fewer may come back from a small corpus.
 */
export function randomGrams(
  responses: readonly (readonly string[])[],
  budget: { nGrams: number; nMin?: number; nMax?: number },
  rng: Rng,
): string[] {
  const nMin = budget.nMin ?? 3;
  const nMax = budget.nMax ?? 5;
  const streams = responses.map((w) => tokensToUnits(w).units).filter((u) => u.length >= nMin);
  const out = new Set<string>();
  if (streams.length === 0) return [];
  for (
    let tries = 0;
    out.size < budget.nGrams && tries < 50 * budget.nGrams;
    tries++
  ) {
    const units = rng.pick(streams);
    const n = Math.min(rng.int(nMin, nMax), units.length);
    const s = rng.int(0, units.length - n);
    out.add(joinUnits(units.slice(s, s + n)));
  }
  return [...out];
}
