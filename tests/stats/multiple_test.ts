/**
 * Holm–Bonferroni adjustment against hand-computed and R `p.adjust` values.
 *
 * @module
 */
import assert from "node:assert/strict";
import { holm } from "../../stats/mod.ts";

function nearAll(actual: number[], expected: number[], tol = 1e-15): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) =>
    assert.ok(Math.abs(a - expected[i]) <= tol, `[${i}] expected ${expected[i]}, got ${a}`)
  );
}

Deno.test("holm: textbook example, in input order and monotone", () => {
  // Sorted 0.005, 0.01, 0.03, 0.04 with m = 4: 4·0.005 = 0.02, 3·0.01 = 0.03,
  // 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06.
  nearAll(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02]);
});

Deno.test("holm: R p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), 'holm')", () => {
  nearAll(holm([0.01, 0.02, 0.03, 0.04, 0.05]), [0.05, 0.08, 0.09, 0.09, 0.09]);
});

Deno.test("holm: capped at 1, ties, a single p and an empty list", () => {
  nearAll(holm([0.5, 0.4, 0.9]), [1, 1, 1]);
  nearAll(holm([0.02, 0.02]), [0.04, 0.04]);
  assert.deepEqual(holm([0.3]), [0.3]);
  assert.deepEqual(holm([]), []);
  assert.throws(() => holm([0.1, NaN]), RangeError);
  assert.throws(() => holm([1.2]), RangeError);
});

Deno.test("holm: rejects at α exactly the hypotheses Holm's step-down rejects", () => {
  const p = [0.001, 0.011, 0.02, 0.04, 0.3];
  const adj = holm(p);
  // Step-down at α = 0.05: 0.001 ≤ 0.05/5, 0.011 ≤ 0.05/4, 0.02 > 0.05/3: stop.
  assert.deepEqual(adj.map((a) => a <= 0.05), [true, true, false, false, false]);
  for (let i = 1; i < p.length; i++) assert.ok(adj[i] >= adj[i - 1]);
});
