/**
 * The rival credit rules of issue 12 on hand-computed cases: GTPO's shaped token rewards and
 * advantages, the forking-token mask (TRL top_entropy_quantile) and the KL-Cov / Clip-Cov token
 * selections (verl core_algos).
 */
import assert from "node:assert/strict";
import {
  type CreditInput,
  DEFAULT_CREDIT_OPTIONS,
  estimatorNames,
  getEstimator,
  gtpoAdvantages,
  gtpoShapedRewards,
} from "../../algorithms/credit/mod.ts";
import {
  clipCovSelection,
  forkingTokenMask,
  klCovSelection,
  tokenCovariance,
  torchQuantile,
} from "../../algorithms/policy/token_selection.ts";
import { Rng } from "../../algorithms/rng.ts";

const near = (a: number, b: number, what: string, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

// ---------------------------------------------------------------------------
// GTPO

/**
 * One group: o0 and o1 succeed, o2 fails.
 * t = 0: O⁺ alive {o0, o1}, H 0.6 and 0.2 → shares 0.6/0.8·2 = 1.5 and 0.5 → r̃⁺ 1.15, 1.05;
 *        O⁻ alive {o2} → share 1 → r̃⁻ = −1 − 0.1 = −1.1.
 * t = 1: O⁺ alive {o0} → 1.1; O⁻ alive {o2} → −1.1.
 */
function gtpoGroup(): CreditInput {
  return {
    rewards: [1, 1, 0],
    groups: [4, 4, 4],
    lengths: [2, 1, 2],
    planning: [[false, false], [false], [false, false]],
    entropy: [[0.6, 0.2], [0.2], [0.5, 0.25]],
  };
}

Deno.test("gtpo: shaped rewards of eqs. 3 and 5 (d_t, h_t, H and 1/H shares)", () => {
  const g = gtpoGroup();
  const { shaped, share, success } = gtpoShapedRewards(g.rewards, g.entropy, {
    alpha1: 1,
    alpha2: 0.1,
  });
  assert.deepEqual(success, [true, true, false]);
  [[1.15, 1.1], [1.05], [-1.1, -1.1]].forEach((row, i) =>
    row.forEach((v, t) => near(shaped[i][t], v, `r̃[${i}][${t}]`, 1e-12))
  );
  [[1.5, 1], [0.5], [1, 1]].forEach((row, i) =>
    row.forEach((v, t) => near(share[i][t], v, `share[${i}][${t}]`, 1e-12))
  );
  // Failed responses weigh by 1/H: H 0.5 and 2 → 1/H 2 and 0.5 → shares 1.6, 0.4.
  const neg = gtpoShapedRewards([0, 0], [[0.5], [2]], { alpha1: 1, alpha2: 0.1 });
  near(neg.shaped[0][0], -1.16, "confident mistake", 1e-7);
  near(neg.shaped[1][0], -1.04, "uncertain mistake", 1e-7);
});

Deno.test("gtpo: with α₁ + α₂ = 1 the shaped rewards at a position sum to the outcome rewards", () => {
  const entropy = [[2, 4, 1], [3, 1], [4, 0.5, 3], [0.5, 4]];
  const rewards = [1, 1, 0, 0];
  const { shaped } = gtpoShapedRewards(rewards, entropy, { alpha1: 0.9, alpha2: 0.1 });
  for (let t = 0; t < 3; t++) {
    let pos = 0, neg = 0, d = 0, h = 0;
    entropy.forEach((row, i) => {
      if (row.length <= t) return;
      if (rewards[i] > 0) (pos += shaped[i][t], d++);
      else (neg += shaped[i][t], h++);
    });
    near(pos, d, `O⁺ sum at t=${t}`, 1e-12);
    near(neg, -h, `O⁻ sum at t=${t}`, 1e-12);
  }
});

Deno.test("gtpo-group: eq. 6 per group, zeros of the other set included", () => {
  const out = getEstimator("gtpo-group")(gtpoGroup(), DEFAULT_CREDIT_OPTIONS);
  // R̃⁺ = [1.15, 1.1, 1.05, 0, 0]: mean 0.66, Σ dev² = 0.49² + 0.44² + 0.39² + 2·0.66² = 1.457.
  const stdP = Math.sqrt(1.457 / 4) + 1e-6;
  // R̃⁻ = [0, 0, 0, −1.1, −1.1]: mean −0.44, Σ dev² = 3·0.44² + 2·0.66² = 1.452.
  const stdN = Math.sqrt(1.452 / 4) + 1e-6;
  const want = [[0.49 / stdP, 0.44 / stdP], [0.39 / stdP], [-0.66 / stdN, -0.66 / stdN]];
  want.forEach((row, i) => row.forEach((v, t) => near(out.advantages[i][t], v, `Ã[${i}][${t}]`)));
  // Weighted up: o0 at t = 0 (share 1.5); an equal share (1) is not.
  assert.deepEqual(out.amplified, [[true, false], [false], [false, false]]);
  // Population std when asked.
  const pop = gtpoAdvantages(gtpoGroup(), {
    ...DEFAULT_CREDIT_OPTIONS,
    stdEstimator: "population",
  }, { alpha1: 1, alpha2: 0.1, normalization: "group" });
  near(pop.advantages[0][0], 0.49 / (Math.sqrt(1.457 / 5) + 1e-6), "population std");
});

Deno.test("gtpo (default): eq. 6 over each set's own tokens centres both sets", () => {
  assert.ok(estimatorNames().includes("gtpo-group"));
  const out = getEstimator("gtpo")(gtpoGroup(), DEFAULT_CREDIT_OPTIONS);
  // R̃⁺ = [1.15, 1.1, 1.05]: mean 1.1, unbiased std 0.05; R̃⁻ = [−1.1, −1.1]: std 0.
  const s = 0.05 + 1e-6;
  near(out.advantages[0][0], 0.05 / s, "o0 t0", 1e-7);
  near(out.advantages[0][1], 0, "o0 t1", 1e-7);
  near(out.advantages[1][0], -0.05 / s, "o1 t0", 1e-7);
  assert.deepEqual(out.advantages[2], [0, 0]);
});

Deno.test("gtpo: one-sided groups get 0 (as GRPO), other groups are independent", () => {
  const g = gtpoGroup();
  const batch: CreditInput = {
    rewards: [...g.rewards, 1, 1],
    groups: [...g.groups, 9, 9],
    lengths: [...g.lengths, 2, 1],
    planning: [...g.planning, [false, false], [false]],
    entropy: [...g.entropy, [0.9, 0.1], [0.3]],
  };
  const out = getEstimator("gtpo")(batch, DEFAULT_CREDIT_OPTIONS);
  assert.deepEqual(out.advantages.slice(3), [[0, 0], [0]]);
  assert.deepEqual(out.amplified.slice(3), [[false, false], [false]]);
  const alone = getEstimator("gtpo")(gtpoGroup(), DEFAULT_CREDIT_OPTIONS);
  assert.deepEqual(out.advantages.slice(0, 3), alone.advantages);
  assert.throws(
    () =>
      getEstimator("gtpo")({ ...g, entropy: [[0.1], [0.2], [0.3, 0.4]] }, DEFAULT_CREDIT_OPTIONS),
    /rollout 0 has length 2 but "entropy" has 1 tokens/,
  );
  assert.throws(
    () => gtpoShapedRewards([1], [[0.5]], { alpha1: -1, alpha2: 0.1 }),
    /alpha1 must be a finite number >= 0/,
  );
});

// ---------------------------------------------------------------------------
// Forking tokens (TRL top_entropy_quantile)

Deno.test("torchQuantile: linear interpolation on the sorted values, in float32", () => {
  near(torchQuantile([3, 1, 2], 0.5), 2, "median");
  near(torchQuantile([0, 1], 0.3), Math.fround(0.3), "interpolated");
  near(torchQuantile([5, 1, 4, 2], 1), 5, "max");
  near(torchQuantile([5, 1, 4, 2], 0), 1, "min");
  assert.throws(() => torchQuantile([], 0.5), /no values/);
});

Deno.test("forkingTokenMask: TRL's own test case (padding excluded from the quantile)", () => {
  // TRL tests/test_grpo_trainer.py, test_compute_entropy_mask_0: 10 valid tokens, ρ = 0.2:
  // τ = quantile(0.1..1.0, 0.8) = 0.8 + 0.2·(0.9 − 0.8) = 0.82 → 0.9 and 1.0 kept; 1.1 and 1.2
  // are padding.
  const entropy = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2];
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
  const { keep, threshold } = forkingTokenMask(entropy, mask, 0.2);
  near(threshold, 0.82, "threshold", 1e-6);
  assert.deepEqual(Array.from(keep), [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]);
});

Deno.test("forkingTokenMask: ties at the threshold are all kept; ρ = 1 keeps all, ρ = 0 the max", () => {
  const entropy = [1, 0.5, 1, 1, 1, 9];
  const mask = [1, 1, 1, 1, 1, 0];
  // Sorted valid [0.5, 1, 1, 1, 1]: rank 0.8·4 = 3.2 → τ = 1 → four ties kept (80% > ρ).
  assert.deepEqual(Array.from(forkingTokenMask(entropy, mask, 0.2).keep), [1, 0, 1, 1, 1, 0]);
  assert.deepEqual(Array.from(forkingTokenMask(entropy, mask, 1).keep), [1, 1, 1, 1, 1, 0]);
  const top = forkingTokenMask([0.3, 0.7, 0.2, 5], [1, 1, 1, 0], 0);
  assert.deepEqual(Array.from(top.keep), [0, 1, 0, 0]);
  const none = forkingTokenMask([0.3], [0], 0.2);
  assert.deepEqual(Array.from(none.keep), [0]);
  assert.ok(Number.isNaN(none.threshold));
  assert.throws(() => forkingTokenMask([0.3], [1], 1.5), /top_entropy_quantile must be in/);
});

// ---------------------------------------------------------------------------
// KL-Cov and Clip-Cov selections

Deno.test("tokenCovariance and klCovSelection: top-k covariance, ties to the earlier token", () => {
  // Valid tokens: Â = [1, 1, −1, −1] (mean 0), log π = [−1, −3, −1, −3] (mean −2):
  // cov = [1, −1, −1, 1]. The padded 4th position would win if it counted.
  const adv = [1, 1, -1, -1, 50];
  const logp = [-1, -3, -1, -3, 40];
  const mask = [1, 1, 1, 1, 0];
  assert.deepEqual(Array.from(tokenCovariance(adv, logp, mask)), [1, -1, -1, 1, -Infinity]);
  // k = max(1, ⌊4·0.5⌋) = 2 → both tokens with cov 1.
  assert.deepEqual(Array.from(klCovSelection(adv, logp, mask, 0.5)), [1, 0, 0, 1, 0]);
  // k = max(1, ⌊4·0.0002⌋) = 1 → the tie goes to token 0.
  assert.deepEqual(Array.from(klCovSelection(adv, logp, mask, 0.0002)), [1, 0, 0, 0, 0]);
  assert.throws(() => klCovSelection(adv, logp, mask, 0), /kl_cov_ratio must be > 0/);
});

Deno.test("clipCovSelection: PPO-clipped and out-of-band tokens are never candidates", () => {
  // Â = [2, 2, −2, 1] (mean 0.75), log π = [−1, −1, −3, −2] (mean −1.75):
  // cov = [0.9375, 0.9375, 3.4375, −0.0625]. Token 1 has ρ = 1.5 > 1.28 with Â > 0: clipped.
  // Token 2 is above ub = 2, token 3 below lb = 0.5: the only candidate is token 0.
  const adv = [2, 2, -2, 1];
  const logp = [-1, -1, -3, -2];
  const ratios = [1, 1.5, 1, 1];
  const mask = [1, 1, 1, 1];
  const opts = { ratio: 0.5, lb: 0.5, ub: 2, clipLow: 0.2, clipHigh: 0.28 };
  assert.deepEqual(
    Array.from(clipCovSelection(adv, logp, ratios, mask, opts, new Rng(1))),
    [1, 0, 0, 0],
  );
  // No candidate at all: nothing detached.
  assert.deepEqual(
    Array.from(clipCovSelection(adv, logp, ratios, mask, { ...opts, lb: 5, ub: 6 }, new Rng(1))),
    [0, 0, 0, 0],
  );
});

Deno.test("clipCovSelection: clip_num = max(1, ⌊N·ratio⌋) drawn by the seeded rng", () => {
  // Â = [1, 1, −1, −1], log π = [−1, −3, −1, −3]: cov = [1, −1, −1, 1]; lb 0.5 → {0, 3}.
  const args = [[1, 1, -1, -1], [-1, -3, -1, -3], [1, 1, 1, 1], [1, 1, 1, 1]] as const;
  const opts = { ratio: 0.0002, lb: 0.5, ub: 5, clipLow: 0.2, clipHigh: 0.28 };
  const picks = new Set<string>();
  for (let seed = 0; seed < 16; seed++) {
    const sel = Array.from(clipCovSelection(...args, opts, new Rng(seed)));
    assert.equal(sel.reduce((a, v) => a + v, 0), 1);
    assert.ok(sel[0] === 1 || sel[3] === 1);
    assert.deepEqual(Array.from(clipCovSelection(...args, opts, new Rng(seed))), sel);
    picks.add(sel.join(""));
  }
  assert.equal(picks.size, 2, "both candidates get drawn across seeds");
  const all = clipCovSelection(...args, { ...opts, ratio: 1 }, new Rng(0));
  assert.deepEqual(Array.from(all), [1, 0, 0, 1]);
});
