/**
 * Strict parser of answer expressions: numbers, `+ - *` and parentheses, with
 * the usual precedence and no unary minus. Anything else is malformed.
 *
 * @module
 */

import { applyOp, type Op, symbolOp } from "./arithmetic.ts";

/** A parsed expression: its value and the numbers it uses, in order. */
export interface ParsedExpression {
  value: number;
  numbers: number[];
}

const NUMBER = /^(0|[1-9][0-9]*)$/;

/** Parses `words` as one complete expression, or returns null if malformed. */
export function parseExpression(
  words: readonly string[],
): ParsedExpression | null {
  let pos = 0;
  const numbers: number[] = [];

  // expr := term (("+" | "-") term)* ; term := factor ("*" factor)*
  // factor := NUMBER | "(" expr ")"
  function factor(): number | null {
    const w = words[pos];
    if (w === "(") {
      pos++;
      const v = expr();
      if (v === null || words[pos] !== ")") return null;
      pos++;
      return v;
    }
    if (w === undefined || !NUMBER.test(w)) return null;
    pos++;
    numbers.push(Number(w));
    return Number(w);
  }
  function binary(ops: readonly Op[], next: () => number | null) {
    let acc = next();
    while (acc !== null && pos < words.length) {
      const op = symbolOp(words[pos]);
      if (op === undefined || !ops.includes(op)) break;
      pos++;
      const rhs = next();
      acc = rhs === null ? null : applyOp(op, acc, rhs);
    }
    return acc;
  }
  function term(): number | null {
    return binary(["multiply"], factor);
  }
  function expr(): number | null {
    return binary(["add", "subtract"], term);
  }

  const value = expr();
  if (value === null || pos !== words.length) return null;
  return { value, numbers };
}
