/**
 * Arithmetic of the task family: operations, strategies (an ordered chain of
 * operations applied left to right to the given numbers) and their rendering
 * as a minimally parenthesised expression.
 *
 * @module
 */

/** An operation, named by the verb that traces use to state a strategy. */
export type Op = "add" | "subtract" | "multiply";

/** All operations, in their fixed order. */
export const OPS: readonly Op[] = ["add", "subtract", "multiply"];

/** A strategy: the operations applied in order, `((n1 op1 n2) op2 n3) ...`. */
export type Strategy = readonly Op[];

/** Arithmetic symbol of each operation. */
export const OP_SYMBOL: Readonly<Record<Op, string>> = {
  add: "+",
  subtract: "-",
  multiply: "*",
};

/** Largest number that has a token; every value a trace writes is in [0, MAX_VALUE]. */
export const MAX_VALUE = 100;

/** The operation written as `symbol`, or undefined. */
export function symbolOp(symbol: string): Op | undefined {
  return OPS.find((op) => OP_SYMBOL[op] === symbol);
}

/** Result of `a op b`. */
export function applyOp(op: Op, a: number, b: number): number {
  if (op === "add") return a + b;
  if (op === "subtract") return a - b;
  return a * b;
}

/** Values after each operation of `strategy` on `numbers` (left to right). */
export function chainValues(
  numbers: readonly number[],
  strategy: Strategy,
): number[] {
  if (strategy.length !== numbers.length - 1) {
    throw new Error(
      `Cannot apply a ${strategy.length}-operation strategy to ${numbers.length} numbers`,
    );
  }
  const values: number[] = [];
  let acc = numbers[0];
  strategy.forEach((op, i) => {
    acc = applyOp(op, acc, numbers[i + 1]);
    values.push(acc);
  });
  return values;
}

/** True when `v` is a value traces can write (an integer in [0, MAX_VALUE]). */
export function inRange(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= MAX_VALUE;
}

/** True when every intermediate value of the strategy is writable. */
export function isFeasible(
  numbers: readonly number[],
  strategy: Strategy,
): boolean {
  return chainValues(numbers, strategy).every(inRange);
}

/** Every strategy with `nOps` operations, in a fixed (lexicographic) order. */
export function allStrategies(nOps: number): Op[][] {
  let out: Op[][] = [[]];
  for (let i = 0; i < nOps; i++) {
    out = out.flatMap((prefix) => OPS.map((op) => [...prefix, op]));
  }
  return out;
}

/**
 * The strategy as an expression in words, parenthesised only where precedence
 * needs it: `3 * 8 - 5`, `( 3 + 8 ) * 5`.
 */
export function renderExpression(
  numbers: readonly number[],
  strategy: Strategy,
): string[] {
  let words = [String(numbers[0])];
  let lowTop = false; // does the expression so far end in a top-level + or -?
  strategy.forEach((op, i) => {
    if (op === "multiply" && lowTop) words = ["(", ...words, ")"];
    words = [...words, OP_SYMBOL[op], String(numbers[i + 1])];
    lowTop = op !== "multiply";
  });
  return words;
}
