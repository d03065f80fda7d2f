/**
 * Oracle planning labels for any word sequence. The rule, which the trace
 * generator follows by construction: a word is planning iff it lies inside an
 * occurrence of a planning phrase of the inventory (matched greedily left to
 * right, longest first): the framing phrases and the decision phrases that
 * name each operation of a strategy. Numbers, arithmetic, checks' values,
 * `answer`, the connective `then` and punctuation outside phrases are
 * execution.
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
    const n = matchPlanningPhrase(words, i);
    for (let k = 0; k < n; k++) labels[i + k] = true;
    i += Math.max(n, 1);
  }
  return labels;
}

/**
 * Strategy statements (maximal runs of decision phrases joined by `then`), in
 * order of appearance. A framing phrase is skipped whole, so its words never
 * start a statement.
 */
export function findStrategies(words: readonly string[]): StrategyMention[] {
  const out: StrategyMention[] = [];
  let i = 0;
  while (i < words.length) {
    const strategy = matchStrategy(words, i);
    if (strategy) out.push({ start: i, ops: strategy.ops });
    i += Math.max(strategy?.length ?? matchPlanningPhrase(words, i), 1);
  }
  return out;
}
