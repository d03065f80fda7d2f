/**
 * Paired t test, sign-flip permutation test, percentile bootstrap and minimum
 * detectable effect on hand cases (reference values from SciPy 1.17).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  bootstrapCI,
  mean,
  minimumDetectableEffect,
  pairedT,
  quantileSorted,
  sampleSd,
  seededRandom,
  signFlipTest,
} from "../../stats/mod.ts";
import { near } from "./near.ts";

Deno.test("mean, sampleSd and type-7 quantiles on a hand case", () => {
  assert.equal(mean([1, 2, 3, 4, 5]), 3);
  near(sampleSd([1, 2, 3, 4, 5]), Math.sqrt(2.5), 1e-15);
  assert.ok(Number.isNaN(sampleSd([1])));
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 0), 1);
  assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
  near(quantileSorted([10, 20, 30], 0.25), 15, 1e-12);
});

Deno.test("pairedT on 1..5: t = 3/(√2.5/√5), df 4, p and CI by hand", () => {
  const r = pairedT([1, 2, 3, 4, 5]);
  assert.equal(r.n, 5);
  assert.equal(r.df, 4);
  assert.equal(r.mean, 3);
  near(r.sd, Math.sqrt(2.5), 1e-15);
  near(r.se, Math.sqrt(0.5), 1e-15);
  near(r.t, 4.242640687119285, 1e-12);
  near(r.p, 0.01323559956368269, 1e-12);
  near(r.lo, 3 - 2.776445105197793 * Math.sqrt(0.5), 1e-9);
  near(r.hi, 3 + 2.776445105197793 * Math.sqrt(0.5), 1e-9);
  assert.equal(r.level, 0.95);
});

Deno.test("pairedT matches SciPy ttest_1samp on a mixed-sign case", () => {
  const r = pairedT([0.12, -0.03, 0.08, 0.05, 0.10, 0.02]);
  near(r.t, 2.506513254633251, 1e-12);
  near(r.p, 0.05405785419864792, 1e-12);
  near(r.lo, -0.0014484475263778912, 1e-12);
  near(r.hi, 0.11478178085971122, 1e-12);
});

Deno.test("pairedT: degenerate spreads and invalid input", () => {
  const same = pairedT([0.2, 0.2, 0.2]);
  assert.equal(same.t, Infinity);
  assert.equal(same.p, 0);
  near(same.lo, 0.2, 1e-15);
  const zero = pairedT([0, 0]);
  assert.equal(zero.t, 0);
  assert.equal(zero.p, 1);
  assert.throws(() => pairedT([1]), RangeError);
  assert.throws(() => pairedT([1, NaN]), RangeError);
});

Deno.test("signFlipTest exact: hand cases", () => {
  // n = 3, all positive: only all-plus and all-minus reach |sum| = 6: 2/8.
  assert.deepEqual(signFlipTest([1, 2, 3]), { p: 0.25, exact: true, samples: 8, n: 3 });
  // ±3 ±1 ±2 has sums ±6, ±4, ±2, 0; |sum| ≥ |3 − 1 + 2| = 4 for 4 of 8.
  assert.equal(signFlipTest([3, -1, 2]).p, 0.5);
  // Opposite differences: the observed mean is 0, every vector ties.
  assert.equal(signFlipTest([1, -1]).p, 1);
  assert.equal(signFlipTest([0, 0, 0]).p, 1);
  // Floating-point ties still count: 0.1 + 0.2 vs 0.3.
  assert.equal(signFlipTest([0.1, 0.2, -0.3]).p, 1);
  assert.equal(signFlipTest([0.1, 0.2, 0.3]).p, 0.25);
  // n = 10 all positive: 2 / 1024.
  assert.equal(signFlipTest(Array.from({ length: 10 }, (_, i) => i + 1)).p, 2 / 1024);
});

Deno.test("signFlipTest Monte Carlo: +1 correction, seeded, close to the exact p", () => {
  const all = Array.from({ length: 25 }, (_, i) => 1 + i / 10);
  const mc = signFlipTest(all, { samples: 999 });
  assert.equal(mc.exact, false);
  assert.equal(mc.p, 1 / 1000);
  const rng = seededRandom(5);
  const d = Array.from({ length: 14 }, () => rng.float() - 0.35);
  const exact = signFlipTest(d);
  assert.equal(exact.exact, true);
  const a = signFlipTest(d, { maxExact: 0, samples: 20000, seed: 1 });
  const b = signFlipTest(d, { maxExact: 0, samples: 20000, seed: 1 });
  assert.deepEqual(a, b);
  near(a.p, exact.p, 0.01, "MC vs exact");
  assert.notEqual(signFlipTest(d, { maxExact: 0, samples: 20000, seed: 2 }).p, a.p);
});

Deno.test("bootstrapCI: deterministic per seed, constant data, brackets the mean", () => {
  const d = [0.3, -0.1, 0.4, 0.2, 0.05, 0.25];
  const a = bootstrapCI(d, { seed: 3 });
  assert.deepEqual(a, bootstrapCI(d, { seed: 3 }));
  assert.notDeepEqual(a, bootstrapCI(d, { seed: 4 }));
  assert.equal(a.samples, 10000);
  assert.equal(a.level, 0.95);
  near(a.mean, mean(d), 1e-15);
  assert.ok(a.lo < a.mean && a.mean < a.hi);
  assert.ok(a.lo >= Math.min(...d) && a.hi <= Math.max(...d));
  // The percentile interval is narrower than the t interval with few pairs.
  const t = pairedT(d);
  assert.ok(a.hi - a.lo < t.hi - t.lo);
  assert.deepEqual(bootstrapCI([2, 2, 2], { samples: 50 }), {
    mean: 2,
    lo: 2,
    hi: 2,
    level: 0.95,
    samples: 50,
  });
});

Deno.test("bootstrapCI coverage sanity: about 95% of intervals cover the true mean", () => {
  const rng = seededRandom(11);
  const gauss = () =>
    Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
  let covered = 0;
  const trials = 200;
  for (let k = 0; k < trials; k++) {
    const x = Array.from({ length: 30 }, () => 1 + 2 * gauss());
    const ci = bootstrapCI(x, { samples: 1000, seed: k });
    if (ci.lo <= 1 && 1 <= ci.hi) covered++;
  }
  // Binomial(200, ~0.94): 0.88..0.99 holds with overwhelming probability.
  assert.ok(covered / trials >= 0.88 && covered / trials <= 0.99, `coverage ${covered / trials}`);
});

Deno.test("minimumDetectableEffect = (t_.975,7 + t_.8,7) sd / √8 for n = 8", () => {
  near(minimumDetectableEffect(1, 8), 1.152815240448928, 1e-9);
  near(minimumDetectableEffect(0.5, 8), 0.576407620224464, 1e-9);
  near(
    minimumDetectableEffect(2, 20, { alpha: 0.01, power: 0.9 }),
    2 * (2.860934606 + 1.327728209) / Math.sqrt(20),
    1e-7,
  );
  assert.equal(minimumDetectableEffect(0, 5), 0);
  assert.throws(() => minimumDetectableEffect(1, 1), RangeError);
});
