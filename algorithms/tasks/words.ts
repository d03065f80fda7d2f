/**
 * The word-level text scheme shared by the tokenizer, the Strategic-Gram
 * matcher and the task family.
 *
 * Text is lower-cased and split into words: a run of letters with internal
 * apostrophes or hyphens is one word ("let's", "can't", "double-check"), a
 * run of digits is one word (a number is a single token), and every other
 * non-space character is its own word (`,` `.` `:` `?` `(` `)` `+` `-` `*`
 * `=`), except that a special token such as `<eos>` stays one word. So the paper's "wait, but" becomes `wait , but` and matches at word
 * level. Words are joined back with single spaces, which is the canonical
 * spelling of every text the task family produces.
 *
 * @module
 */

const WORD = /<[a-z]+>|[a-z]+(?:['-][a-z]+)*|[0-9]+|[^\sa-z0-9]/g;

/** Splits text into words (see the module doc for the scheme). */
export function splitWords(text: string): string[] {
  const normal = text.toLowerCase().replace(/[\u2018\u2019]/g, "'");
  return normal.match(WORD) ?? [];
}

/** Joins words with single spaces: the inverse of `splitWords` on canonical text. */
export function joinWords(words: readonly string[]): string {
  return words.join(" ");
}
