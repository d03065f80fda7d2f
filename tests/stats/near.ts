import assert from "node:assert/strict";

/** Asserts |actual − expected| ≤ tol, naming `what` in the message. */
export function near(actual: number, expected: number, tol: number, what = ""): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what} expected ${expected} ± ${tol}, got ${actual}`,
  );
}
