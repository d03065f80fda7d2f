/**
 * Token-class statistics of paper §2.2.1: mean token entropy and perplexity, split between
 * planning (masked) and execution (unmasked) tokens.
 *
 * @module
 */

/** Mean entropy over planning (masked) and execution (unmasked) tokens. */
export interface TokenEntropyStats {
  /** Mean over masked tokens; null when there are none. */
  planning: number | null;
  /** Mean over unmasked tokens; null when there are none. */
  execution: number | null;
  /** Number of masked tokens. */
  nPlanning: number;
  /** Number of unmasked tokens. */
  nExecution: number;
}

/**
 * Mean token entropy H(π(·|x<t)) over masked and over unmasked tokens, pooled over all
 * responses (token-weighted, not response-weighted). Empty classes give null, not NaN.
 */
export function tokenEntropyStats(
  entropy: readonly (readonly number[])[],
  mask: readonly (readonly boolean[])[],
): TokenEntropyStats {
  checkRagged(entropy, mask, "tokenEntropyStats");
  let sumP = 0, nP = 0, sumE = 0, nE = 0;
  for (let i = 0; i < entropy.length; i++) {
    const h = entropy[i], m = mask[i];
    for (let t = 0; t < h.length; t++) {
      if (m[t]) {
        sumP += h[t];
        nP++;
      } else {
        sumE += h[t];
        nE++;
      }
    }
  }
  return {
    planning: nP > 0 ? sumP / nP : null,
    execution: nE > 0 ? sumE / nE : null,
    nPlanning: nP,
    nExecution: nE,
  };
}

/**
 * Perplexity exp(mean NLL) over the selected tokens (all tokens when `mask` is omitted),
 * pooled over responses; null when no token is selected.
 *
 * @param logprobs per-token log-probabilities (natural log) of the sampled tokens
 * @param mask tokens to include, e.g. the planning mask or its complement
 */
export function perplexity(
  logprobs: readonly (readonly number[])[],
  mask?: readonly (readonly boolean[])[],
): number | null {
  if (mask) checkRagged(logprobs, mask, "perplexity");
  let nll = 0, n = 0;
  for (let i = 0; i < logprobs.length; i++) {
    const lp = logprobs[i];
    for (let t = 0; t < lp.length; t++) {
      if (mask && !mask[i][t]) continue;
      nll -= lp[t];
      n++;
    }
  }
  return n > 0 ? Math.exp(nll / n) : null;
}

/**
 * Relative perplexity (paper §2.2.1: perplexity "normalized by its initial value");
 * null when either side is missing or the initial value is not positive.
 */
export function relativePerplexity(
  ppl: number | null,
  initial: number | null,
): number | null {
  if (ppl === null || initial === null || !(initial > 0)) return null;
  return ppl / initial;
}

/** Throws unless both ragged arrays have the same shape. */
function checkRagged(
  a: readonly (readonly unknown[])[],
  b: readonly (readonly unknown[])[],
  where: string,
): void {
  if (a.length !== b.length) {
    throw new RangeError(
      `${where}: ${a.length} responses but mask has ${b.length}`,
    );
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i].length !== b[i].length) {
      throw new RangeError(
        `${where}: response ${i} has ${a[i].length} tokens but mask has ${b[i].length}`,
      );
    }
  }
}
