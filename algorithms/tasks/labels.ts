/**
 * Oracle planning labels for any word sequence. The rule, which the trace
 * generator follows by construction: a word is planning iff it lies inside an
 * occurrence of a planning phrase of the inventory (matched greedily left to
 * right, longest first) or inside a strategy statement (`multiply then add`).
 * Numbers, arithmetic, checks' values, `answer` and punctuation outside
 * phrases are execution.
 *
 * @module
 */

import type { Op } from "./arithmetic.ts";
import { matchPlanningPhrase, matchStrategy } from "./phrases.ts";
import type { Problem } from "./problems.ts";

/** A strategy statement found in a response. */
export interface StrategyMention {
  /** Index of its first word. */
  start: number;
  ops: Op[];
}

/** Planning flags aligned with `words` (the problem does not change the rule). */
export function oracleLabels(
  _problem: Problem,
  words: readonly string[],
): boolean[] {
  const labels = new Array<boolean>(words.length).fill(false);
  let i = 0;
  while (i < words.length) {
    const n = matchPlanningPhrase(words, i) ||
      (matchStrategy(words, i)?.length ?? 0);
    for (let k = 0; k < n; k++) labels[i + k] = true;
    i += Math.max(n, 1);
  }
  return labels;
}

/** Strategy statements outside planning phrases, in order of appearance. */
export function findStrategies(words: readonly string[]): StrategyMention[] {
  const out: StrategyMention[] = [];
  let i = 0;
  while (i < words.length) {
    const phrase = matchPlanningPhrase(words, i);
    const strategy = phrase ? null : matchStrategy(words, i);
    if (strategy) out.push({ start: i, ops: strategy.ops });
    i += Math.max(phrase || (strategy?.length ?? 0), 1);
  }
  return out;
}
