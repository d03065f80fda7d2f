import assert from "node:assert/strict";
import {
  meanCI95,
  meanPassAtK,
  passAtK,
  perplexity,
  quantile,
  relativePerplexity,
  tokenEntropyStats,
  topFracMask,
  tQuantile975,
} from "../../algorithms/metrics/mod.ts";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

/** Fraction of k-subsets of n samples (c correct) that contain a correct one. */
function bruteForcePassAtK(n: number, c: number, k: number): number {
  let hit = 0, total = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let i = 0; i < n; i++) bits += (mask >> i) & 1;
    if (bits !== k) continue;
    total++;
    // Samples 0..c−1 are the correct ones.
    if ((mask & ((1 << c) - 1)) !== 0) hit++;
  }
  return hit / total;
}

Deno.test("passAtK matches brute-force enumeration for n ≤ 8", () => {
  for (let n = 1; n <= 8; n++) {
    for (let c = 0; c <= n; c++) {
      for (let k = 1; k <= n; k++) {
        close(passAtK(n, c, k), bruteForcePassAtK(n, c, k), 1e-12);
      }
    }
  }
});

Deno.test("passAtK: edge cases, large n and mean over problems", () => {
  close(passAtK(10, 3, 1), 0.3);
  assert.equal(passAtK(5, 0, 3), 0);
  assert.equal(passAtK(5, 3, 3), 1);
  const big = passAtK(1000, 1, 8);
  close(big, 8 / 1000, 1e-12);
  assert.ok(Number.isFinite(passAtK(10_000, 5000, 100)));
  assert.throws(() => passAtK(4, 5, 1), RangeError);
  assert.throws(() => passAtK(4, 1, 0), RangeError);
  close(
    meanPassAtK([{ n: 4, c: 0 }, { n: 4, c: 4 }, { n: 4, c: 1 }], 1),
    (0 + 1 + 0.25) / 3,
  );
  assert.ok(Number.isNaN(meanPassAtK([], 1)));
});

Deno.test("topFracMask: strict > the linear 70th percentile", () => {
  close(quantile([0.1, 0.2, 0.5, 0.9], 0.7), 0.54);
  assert.deepEqual(topFracMask([0.1, 0.9, 0.5, 0.2], 0.3), [
    false,
    true,
    false,
    false,
  ]);
  const ten = [5, 1, 9, 3, 7, 2, 8, 4, 6, 0];
  assert.deepEqual(topFracMask(ten, 0.3), ten.map((x) => x >= 7)); // exactly 30% with distinct values
  assert.deepEqual(topFracMask([1, 1, 1], 0.3), [false, false, false]);
  assert.deepEqual(topFracMask([], 0.3), []);
  assert.deepEqual(topFracMask([3, 1], 0), [false, false]);
  assert.throws(() => topFracMask([1], 1.5), RangeError);
});

Deno.test("tokenEntropyStats splits planning and execution tokens, null when empty", () => {
  const s = tokenEntropyStats([[1, 2, 3], [4]], [[true, false, false], [true]]);
  assert.deepEqual(s, {
    planning: 2.5,
    execution: 2.5,
    nPlanning: 2,
    nExecution: 2,
  });
  assert.deepEqual(tokenEntropyStats([[1, 2]], [[false, false]]), {
    planning: null,
    execution: 1.5,
    nPlanning: 0,
    nExecution: 2,
  });
  assert.equal(tokenEntropyStats([], []).execution, null);
  assert.throws(() => tokenEntropyStats([[1]], [[true, false]]), RangeError);
});

Deno.test("perplexity = exp(mean NLL) over selected tokens; relative to initial", () => {
  const lp = [[Math.log(0.5), Math.log(0.25)], [Math.log(0.5)]];
  close(perplexity(lp)!, Math.exp((Math.log(2) * 2 + Math.log(4)) / 3));
  close(perplexity(lp, [[true, false], [true]])!, 2);
  assert.equal(perplexity(lp, [[false, false], [false]]), null);
  assert.equal(perplexity([]), null);
  close(relativePerplexity(3, 2)!, 1.5);
  assert.equal(relativePerplexity(null, 2), null);
  assert.equal(relativePerplexity(3, 0), null);
});

Deno.test("meanCI95 uses Student-t quantiles", () => {
  assert.equal(tQuantile975(1), 12.706);
  assert.equal(tQuantile975(4), 2.776);
  assert.equal(tQuantile975(30), 2.042);
  assert.equal(tQuantile975(31), 1.96);
  // n = 5, mean 3, sample sd √2.5 → half-width 2.776 · √2.5 / √5.
  const ci = meanCI95([1, 2, 3, 4, 5]);
  const half = 2.776 * Math.sqrt(2.5) / Math.sqrt(5);
  close(ci.mean, 3);
  close(ci.lo, 3 - half);
  close(ci.hi, 3 + half);
  assert.equal(ci.degenerate, false);
  // n = 2: t = 12.706, sd = √2 → half = 12.706.
  const two = meanCI95([0, 2]);
  close(two.hi - two.mean, 12.706);
  assert.deepEqual(meanCI95([4]), {
    mean: 4,
    lo: 4,
    hi: 4,
    n: 1,
    degenerate: true,
  });
  // Large n uses 1.96.
  const many = Array.from({ length: 100 }, (_, i) => i % 2);
  const sd = Math.sqrt(25 / 99);
  close(meanCI95(many).hi, 0.5 + 1.96 * sd / 10);
  assert.throws(() => meanCI95([]), RangeError);
});
