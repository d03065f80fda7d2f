import assert from "node:assert/strict";
import { labelEntropy, meanGroupEntropy } from "../../algorithms/metrics/mod.ts";

Deno.test("labelEntropy: uniform, constant and null labels", () => {
  assert.equal(labelEntropy(["a", "a", "a"]), 0);
  assert.ok(Math.abs(labelEntropy(["a", "b"]) - Math.log(2)) < 1e-12);
  // 2 of "a", 1 of none, 1 of "b": p = (1/2, 1/4, 1/4).
  const h = -(0.5 * Math.log(0.5) + 2 * 0.25 * Math.log(0.25));
  assert.ok(Math.abs(labelEntropy(["a", null, "a", "b"]) - h) < 1e-12);
  assert.equal(labelEntropy([]), 0);
});

Deno.test("meanGroupEntropy averages per group and skips empty groups", () => {
  const v = meanGroupEntropy([["x", "x"], ["x", "y"], []]);
  assert.ok(Math.abs(v - Math.log(2) / 2) < 1e-12);
  assert.ok(Number.isNaN(meanGroupEntropy([])));
  // Nine strategies once each: the maximum, ln 9.
  const nine = Array.from({ length: 9 }, (_, i) => `s${i}`);
  assert.ok(Math.abs(meanGroupEntropy([nine]) - Math.log(9)) < 1e-12);
});
