/**
 * The planning-phrase inventory. Every planning phrase a trace uses is a
 * Strategic Gram of the paper's Listing 1 (Appendix A), written at word level.
 * Templates mark planning words in brackets: `[but wait] , [let's backtrack] .`
 * has planning words `but wait` and `let's backtrack`; the `,` and `.` between
 * and after them are formatting.
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
  /** Choose the first strategy; followed by the strategy and `.`. */
  open: ["[the plan is to]", "[let's]", "[we can]", "[first need to]"],
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

/** Every planning phrase (bracketed span) of the templates, as words, longest first. */
export const PLANNING_PHRASES: readonly (readonly string[])[] = (() => {
  const seen = new Map<string, string[]>();
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
 * The strategy statement `op (then op)*` starting at `words[i]`, or null.
 * Operation verbs occur nowhere else in the task's language, so a maximal run
 * is a strategy statement wherever it appears.
 */
export function matchStrategy(
  words: readonly string[],
  i: number,
): { ops: Op[]; length: number } | null {
  const isOp = (w: string | undefined) => OPS.includes(w as Op);
  if (!isOp(words[i])) return null;
  const ops: Op[] = [words[i] as Op];
  let j = i + 1;
  while (words[j] === "then" && isOp(words[j + 1])) {
    ops.push(words[j + 1] as Op);
    j += 2;
  }
  return { ops, length: j - i };
}
