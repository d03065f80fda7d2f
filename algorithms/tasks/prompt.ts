/**
 * Prompt format: `reach <target> with <n1> ... <nk> :`. Every number is one
 * token, so all prompts of a difficulty level have the same length.
 *
 * @module
 */

import { difficultySpec } from "./problems.ts";
import type { Problem } from "./problems.ts";

/** The prompt words of a problem; the policy continues after them. */
export function formatPrompt(problem: Problem): string[] {
  return [
    "reach",
    String(problem.target),
    "with",
    ...problem.numbers.map(String),
    ":",
  ];
}

/** Prompt length (in words, without BOS) of a difficulty level. */
export function promptLength(difficulty: number): number {
  return difficultySpec(difficulty).nNumbers + 4;
}
