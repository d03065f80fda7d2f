/**
 * The planning-phrase inventory. Every planning phrase a trace uses is a
 * Strategic Gram of the paper's Listing 1 (Appendix A), written at word level.
 *
 * Two kinds of phrase (testbed v2):
 * - **Decision phrases** state the strategy: each operation is named by its own
 *   Strategic Gram (`work our way` = add, `break it down` = subtract,
 *   `think of this as` = multiply), so a strategy statement reads
 *   `think of this as then break it down` and *which* phrase is written is the
 *   decision that fixes the arithmetic that follows. The planning tokens the
 *   paper's SG preset finds are therefore where the decisions are, and the
 *   Strategic-Gram frequency distribution (semantic entropy) moves with the
 *   distribution of chosen strategies.
 * - **Framing phrases** (open, switch, fail, check, fix) come from templates
 *   drawn uniformly; they mark the structure (open a plan, react to a miss,
 *   verify, catch a slip) but do not choose what is computed.
 *
 * Templates mark planning words in brackets: `[but wait] , [let's backtrack] .`
 * has planning words `but wait` and `let's backtrack`; the `,` and `.` between
 * and after them are formatting. The connective `then` between decision
 * phrases is formatting too (it is forced by the arity), so the oracle rule is
 * exactly "inside a planning phrase".
 *
 * @module
 */

import { type Op, OPS } from "./arithmetic.ts";
import { splitWords } from "./words.ts";

/** A template as words with a planning flag per word. */
export interface Template {
  words: readonly string[];
  planning: readonly boolean[];
}

/** The roles a planning phrase plays in a trace. */
export type Role = "open" | "switch" | "fail" | "check" | "fix";

/** Templates by role (a trace picks one uniformly per occurrence). */
export const TEMPLATE_TEXT: Readonly<Record<Role, readonly string[]>> = {
  /** Open the first strategy; followed by the strategy statement and `.`. */
  // ("we can" is left out: the paper's list has "we can think of this as",
  // which would fuse the opener with the multiply decision phrase.)
  open: ["[the plan is to]", "[let's]", "[first need to]"],
  /** Choose the next strategy after a failure; followed by the strategy and `.`. */
  switch: [
    "[let's try a different angle] :",
    "[alternatively] ,",
    "[let's reconsider] :",
    "[on second thought] ,",
    "[what if we try]",
  ],
  /** React to a chain that missed the target. */
  fail: [
    "[but wait] ,",
    "[that can't be right] .",
    "[wait, that's not right] .",
    "[but wait] , [let's backtrack] .",
    "[let's backtrack] .",
    "[this approach isn't working] .",
  ],
  /** Verify the chain's value; followed by `v is [not] target .`. */
  check: [
    "[to verify] ,",
    "[to confirm] ,",
    "[let's double-check] :",
    "[let me verify] :",
  ],
  /** Catch an arithmetic slip; followed by the corrected fact. */
  fix: ["[wait, no] .", "[that was a mistake] .", "[hold on] ,"],
};

/**
 * The decision phrase of each operation (a Strategic Gram of Listing 1). No
 * phrase is a prefix of another phrase that can follow it, and no framing
 * template fuses with one into a longer paper gram.
 */
export const OP_PHRASE_TEXT: Readonly<Record<Op, string>> = {
  add: "work our way",
  subtract: "break it down",
  multiply: "think of this as",
};

/** The decision phrase of each operation, as words. */
export const OP_PHRASES: Readonly<Record<Op, readonly string[]>> = Object.fromEntries(
  OPS.map((op) => [op, splitWords(OP_PHRASE_TEXT[op])]),
) as Record<Op, string[]>;

/** A strategy as words: its decision phrases joined by `then`. */
export function strategyWords(strategy: readonly Op[]): string[] {
  return strategy.flatMap((op, i) => (i === 0 ? [...OP_PHRASES[op]] : ["then", ...OP_PHRASES[op]]));
}

/** The operation whose decision phrase starts at `words[i]`, with its length, or null. */
export function matchOpPhrase(
  words: readonly string[],
  i: number,
): { op: Op; length: number } | null {
  for (const op of OPS) {
    const p = OP_PHRASES[op];
    if (p.every((w, k) => words[i + k] === w)) return { op, length: p.length };
  }
  return null;
}

/** Parses a bracketed template into words and planning flags. */
export function parseTemplate(text: string): Template {
  const words: string[] = [];
  const planning: boolean[] = [];
  for (const part of text.split(/(\[[^\]]*\])/)) {
    const inside = part.startsWith("[");
    for (const w of splitWords(inside ? part.slice(1, -1) : part)) {
      words.push(w);
      planning.push(inside);
    }
  }
  return { words, planning };
}

/** Parsed templates by role. */
export const TEMPLATES: Readonly<Record<Role, readonly Template[]>> = Object
  .fromEntries(
    Object.entries(TEMPLATE_TEXT).map(([role, texts]) => [
      role,
      texts.map(parseTemplate),
    ]),
  ) as Record<Role, Template[]>;

/**
 * Every planning phrase (bracketed spans of the templates and the decision
 * phrases), as words, longest first.
 */
export const PLANNING_PHRASES: readonly (readonly string[])[] = (() => {
  const seen = new Map<string, string[]>();
  for (const op of OPS) seen.set(OP_PHRASES[op].join(" "), [...OP_PHRASES[op]]);
  for (const text of Object.values(TEMPLATE_TEXT).flat()) {
    for (const m of text.matchAll(/\[([^\]]*)\]/g)) {
      const words = splitWords(m[1]);
      seen.set(words.join(" "), words);
    }
  }
  return [...seen.values()].sort((a, b) => b.length - a.length);
})();

/** The planning phrases as strings (word-level spelling), e.g. for SG presets. */
export function planningInventory(): string[] {
  return PLANNING_PHRASES.map((p) => p.join(" ")).sort();
}

/** Length of the longest planning phrase starting at `words[i]`, or 0. */
export function matchPlanningPhrase(
  words: readonly string[],
  i: number,
): number {
  for (const phrase of PLANNING_PHRASES) {
    if (phrase.every((w, k) => words[i + k] === w)) return phrase.length;
  }
  return 0;
}

/**
 * The strategy statement `phrase (then phrase)*` starting at `words[i]`, or
 * null. Decision phrases occur nowhere else in the task's language, so a
 * maximal run is a strategy statement wherever it appears.
 */
export function matchStrategy(
  words: readonly string[],
  i: number,
): { ops: Op[]; length: number } | null {
  const first = matchOpPhrase(words, i);
  if (!first) return null;
  const ops: Op[] = [first.op];
  let j = i + first.length;
  for (;;) {
    const next = words[j] === "then" ? matchOpPhrase(words, j + 1) : null;
    if (!next) break;
    ops.push(next.op);
    j += 1 + next.length;
  }
  return { ops, length: j - i };
}
