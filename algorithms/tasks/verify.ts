/**
 * The verifier. A response is correct iff it has exactly one `answer` word,
 * everything after it (up to an optional trailing EOS and padding) is a
 * well-formed expression, the expression uses each given number exactly once
 * (and no other number), and it evaluates to the target. Any order of numbers
 * and any bracketing is accepted; anything malformed is incorrect.
 *
 * @module
 */

import { parseExpression } from "./expression.ts";
import type { Problem } from "./problems.ts";
import { splitWords } from "./words.ts";

/** Outcome of verifying a response. */
export interface Verdict {
  correct: boolean;
  /** The answer expression as text, or null if missing or malformed. */
  answer: string | null;
}

/** Words of a response given as text or words, without trailing EOS/padding. */
export function responseWords(response: string | readonly string[]): string[] {
  const words = typeof response === "string" ? splitWords(response) : [...response];
  while (words.length > 0 && words[words.length - 1] === "<pad>") words.pop();
  if (words[words.length - 1] === "<eos>") words.pop();
  return words;
}

/** Verifies a response (text or words) against `problem`. */
export function verify(
  problem: Problem,
  response: string | readonly string[],
): Verdict {
  const words = responseWords(response);
  const at = words.indexOf("answer");
  if (at < 0 || words.indexOf("answer", at + 1) >= 0) {
    return { correct: false, answer: null };
  }
  const segment = words.slice(at + 1);
  const parsed = parseExpression(segment);
  if (parsed === null) return { correct: false, answer: null };
  const used = [...parsed.numbers].sort((a, b) => a - b);
  const given = [...problem.numbers].sort((a, b) => a - b);
  const sameNumbers = used.length === given.length &&
    used.every((n, i) => n === given[i]);
  return {
    correct: sameNumbers && parsed.value === problem.target,
    answer: segment.join(" "),
  };
}
