/**
 * Per-response analysis that separates the two phases: was the first stated
 * strategy one that works (planning), and how many written arithmetic facts
 * are right (execution). Also the `strict` reward's execution condition.
 *
 * @module
 */

import { applyOp, chainValues, symbolOp } from "./arithmetic.ts";
import { findStrategies } from "./labels.ts";
import type { Problem } from "./problems.ts";
import { responseWords, verify } from "./verify.ts";

/** What `analyseResponse` reports. */
export interface ResponseAnalysis {
  correct: boolean;
  /** Whether the first stated strategy reaches the target; null if none is stated. */
  firstStrategyCorrect: boolean | null;
  /** Strategy statements after the first (each is a switch). */
  nBacktracks: number;
  /** Facts `a op b = c` written. */
  execSteps: number;
  /** Facts that are arithmetically right. */
  execCorrect: number;
  /** Whether the `answer` segment parsed as an expression. */
  parsed: boolean;
  /** The first stated strategy as `op op …` (e.g. `multiply subtract`), or null. */
  firstStrategy: string | null;
  /** Whether every written fact is right and the last one states the target. */
  executionSound: boolean;
}

/** An arithmetic fact `a op b = c` found in a response. */
export interface Fact {
  /** Index of its first word. */
  start: number;
  correct: boolean;
  /** The written result `c`. */
  value: number;
}

const NUMBER = /^[0-9]+$/;

/** All `a op b = c` facts in `words` (overlapping chains count each fact). */
export function findFacts(words: readonly string[]): Fact[] {
  const out: Fact[] = [];
  for (let i = 0; i + 4 < words.length; i++) {
    const [a, sym, b, eq, c] = words.slice(i, i + 5);
    const op = symbolOp(sym);
    if (
      op === undefined || eq !== "=" || !NUMBER.test(a) || !NUMBER.test(b) ||
      !NUMBER.test(c)
    ) continue;
    out.push({
      start: i,
      correct: applyOp(op, Number(a), Number(b)) === Number(c),
      value: Number(c),
    });
  }
  return out;
}

/** Analyses one response (words after the prompt; a trailing EOS is ignored). */
export function analyseResponse(
  problem: Problem,
  response: readonly string[],
): ResponseAnalysis {
  const words = responseWords(response);
  const verdict = verify(problem, words);
  const strategies = findStrategies(words);
  const first = strategies[0];
  const facts = findFacts(words);
  const beforeAnswer = facts.filter((f) => f.start < Math.max(0, words.indexOf("answer")));
  return {
    correct: verdict.correct,
    firstStrategyCorrect: first === undefined ? null : (
      first.ops.length === problem.numbers.length - 1 &&
      chainValues(problem.numbers, first.ops).at(-1) === problem.target
    ),
    nBacktracks: Math.max(0, strategies.length - 1),
    execSteps: facts.length,
    execCorrect: facts.filter((f) => f.correct).length,
    parsed: verdict.answer !== null,
    firstStrategy: first === undefined ? null : first.ops.join(" "),
    executionSound: facts.length > 0 && facts.every((f) => f.correct) &&
      beforeAnswer.at(-1)?.value === problem.target,
  };
}

/**
 * What earns reward 1:
 * - `answer`: the final answer expression verifies (`verify`); arithmetic in the trace does not
 *   matter, so execution barely affects reward.
 * - `strict`: the answer verifies AND the trace is execution-sound: every written fact
 *   `a op b = c` is right (a slip counts even when it is caught and rewritten) and the last fact
 *   before `answer` states the target. Execution matters here, which lets the paper's phase ①
 *   (procedural consolidation) show.
 */
export type RewardMode = "answer" | "strict";

/** The reward modes, for parameter schemas. */
export const REWARD_MODES: readonly RewardMode[] = ["answer", "strict"];

/** Whether an analysed response earns reward 1 under `mode` (see {@link RewardMode}). */
export function earnsReward(analysis: ResponseAnalysis, mode: RewardMode): boolean {
  return analysis.correct && (mode === "answer" || analysis.executionSound);
}

/** Whether `response` earns reward 1 under `mode`. */
export function rewardOf(
  problem: Problem,
  response: readonly string[],
  mode: RewardMode,
): boolean {
  return earnsReward(analyseResponse(problem, response), mode);
}
