import assert from "node:assert/strict";
import {
  codeHighEntropyMask,
  type CreditInput,
  type CreditOptions,
  DEFAULT_CREDIT_OPTIONS,
  estimatorNames,
  getEstimator,
  groupAdvantages,
  modifyAdvantagesHicraCode,
  registerEstimator,
} from "../../algorithms/credit/mod.ts";

/** Two groups (ids 7 and 3) of three rollouts each; see the hand computations below. */
function toyBatch(): CreditInput {
  return {
    // Group 7: mean 1/3 → Â = [2/3, −1/3, −1/3]; group 3: mean 2/3 → Â = [1/3, 1/3, −2/3].
    rewards: [1, 0, 0, 1, 1, 0],
    groups: [7, 7, 7, 3, 3, 3],
    // Mean length is 3 in both groups: rollout 0 (4) and 4 (5) are longer, rollout 3 (2) is not.
    lengths: [4, 3, 2, 2, 5, 2],
    planning: [
      [true, false, false, true],
      [false, true, false],
      [false, false],
      [true, false],
      [false, true, false, false, false],
      [true, true],
    ],
    // Interpolated 70th pct (high-entropy) vs the code's sorted[⌊0.7n⌋] (hicra-code):
    entropy: [
      [0.1, 0.9, 0.5, 0.2], // 0.54 → {0.9}; sorted[2] = 0.5 → {0.9}
      [0.5, 0.5, 0.5], // constant → nothing is strictly above
      [0.3, 0.4],
      [0.9, 0.1],
      [0.3, 0.1, 0.8, 0.2, 0.7], // 0.62 → {0.8, 0.7}; sorted[3] = 0.7 → {0.8}
      [0.2, 0.6],
    ],
  };
}

const OPTS: CreditOptions = {
  alpha: 0.2,
  stdScaling: "none",
  stdEstimator: "unbiased",
  entropyTopFrac: 0.3,
};
const a = 2 / 3, b = -1 / 3, c = 1 / 3, d = -2 / 3;

function assertClose(
  actual: number[][],
  expected: number[][],
  tol = 1e-12,
): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) => {
    assert.equal(row.length, expected[i].length, `row ${i} length`);
    row.forEach((v, t) =>
      assert.ok(
        Math.abs(v - expected[i][t]) <= tol,
        `[${i}][${t}]: ${v} != ${expected[i][t]}`,
      )
    );
  });
}

Deno.test("defaults follow the paper: alpha 0.2, no std division, top 30% entropy; unbiased std", () => {
  assert.deepEqual({ ...DEFAULT_CREDIT_OPTIONS }, OPTS);
});

Deno.test("grpo broadcasts r − group mean to every token", () => {
  const out = getEstimator("grpo")(toyBatch(), OPTS);
  assertClose(out.advantages, [[a, a, a, a], [b, b, b], [b, b], [c, c], [
    c,
    c,
    c,
    c,
    c,
  ], [d, d]]);
  assert.ok(out.amplified.flat().every((x) => !x));
});

Deno.test("grpo std scaling: group and batch, unbiased (default) and population std", () => {
  const first = (out: { advantages: number[][] }) => out.advantages.map((r) => [r[0]]);
  const base = [[a], [b], [b], [c], [c], [d]];
  // Each group [1,0,0] / [1,1,0]: Σ(r − mean)² = 4/9 + 1/9 + 1/9 = 2/3.
  const groupUnbiased = Math.sqrt((2 / 3) / 2) + 1e-6; // 1/√3
  const groupPop = Math.sqrt((2 / 3) / 3) + 1e-6; // √2/3
  assertClose(
    first(getEstimator("grpo")(toyBatch(), { ...OPTS, stdScaling: "group" })),
    base.map((r) => [r[0] / groupUnbiased]),
  );
  const { stdEstimator: _, ...noEstimator } = OPTS; // absent → unbiased
  assertClose(
    first(getEstimator("grpo")(toyBatch(), { ...noEstimator, stdScaling: "group" })),
    base.map((r) => [r[0] / groupUnbiased]),
  );
  assertClose(
    first(
      getEstimator("grpo")(toyBatch(), {
        ...OPTS,
        stdScaling: "group",
        stdEstimator: "population",
      }),
    ),
    base.map((r) => [r[0] / groupPop]),
  );
  // Batch rewards [1,0,0,1,1,0]: mean 0.5, Σ(r − mean)² = 1.5.
  const batchUnbiased = Math.sqrt(1.5 / 5) + 1e-6;
  const batchPop = 0.5 + 1e-6;
  assertClose(
    first(getEstimator("grpo")(toyBatch(), { ...OPTS, stdScaling: "batch" })),
    base.map((r) => [r[0] / batchUnbiased]),
  );
  assertClose(
    first(
      getEstimator("grpo")(toyBatch(), {
        ...OPTS,
        stdScaling: "batch",
        stdEstimator: "population",
      }),
    ),
    base.map((r) => [r[0] / batchPop]),
  );
  // groupAdvantages directly: rewards [3, 1] → mean 2, unbiased std √2, population std 1.
  assertClose(
    [groupAdvantages([3, 1], [0, 0], "group")],
    [[1 / (Math.SQRT2 + 1e-6), -1 / (Math.SQRT2 + 1e-6)]],
  );
  assertClose(
    [groupAdvantages([3, 1], [0, 0], "group", "population")],
    [[1 / (1 + 1e-6), -1 / (1 + 1e-6)]],
  );
  assert.throws(
    () => groupAdvantages([1], [0], "group", "sample" as "unbiased"),
    /stdEstimator/,
  );
});

Deno.test("grpo: a group of one gets 0 under every scaling and std estimator", () => {
  for (const stdScaling of ["none", "group", "batch"] as const) {
    for (const stdEstimator of ["unbiased", "population"] as const) {
      assert.deepEqual(groupAdvantages([0.7], [4], stdScaling, stdEstimator), [0]);
      // Beside a two-member group: the singleton stays 0, the pair is ±0.5 before scaling.
      const adv = groupAdvantages([0.7, 1, 0], [4, 5, 5], stdScaling, stdEstimator);
      assert.equal(adv[0], 0, `${stdScaling}/${stdEstimator}`);
      assert.ok(adv[1] > 0 && adv[2] < 0);
    }
  }
});

Deno.test("grpo: a zero-std group gives exactly 0 under every scaling", () => {
  const input: CreditInput = {
    rewards: [0.1, 0.1, 0.1, 1, 0],
    groups: [0, 0, 0, 1, 1],
    lengths: [1, 1, 1, 1, 1],
    planning: [[false], [false], [false], [false], [false]],
    entropy: [[0], [0], [0], [0], [0]],
  };
  for (const stdScaling of ["none", "group", "batch"] as const) {
    const out = getEstimator("grpo")(input, { ...OPTS, stdScaling });
    assert.deepEqual(out.advantages.slice(0, 3), [[0], [0], [0]], stdScaling);
    assert.ok(out.advantages[3][0] > 0 && out.advantages[4][0] < 0);
  }
  const group = getEstimator("grpo")(input, { ...OPTS, stdScaling: "group" });
  const s2 = Math.sqrt(0.5) + 1e-6; // [1, 0]: unbiased std √(0.5 / 1)
  assertClose(group.advantages.slice(3), [[0.5 / s2], [-0.5 / s2]]);
  const constant = getEstimator("grpo")(
    { ...input, rewards: [1, 1, 1, 1, 1] },
    { ...OPTS, stdScaling: "batch" },
  );
  assert.ok(constant.advantages.flat().every((x) => x === 0));
});

Deno.test("hicra: ×(1+α) on planning tokens when Â>0, ×(1−α) when Â<0, unchanged elsewhere", () => {
  const out = getEstimator("hicra")(toyBatch(), OPTS);
  assertClose(out.advantages, [
    [a * 1.2, a, a, a * 1.2],
    [b, b * 0.8, b],
    [b, b],
    [c * 1.2, c],
    [c, c * 1.2, c, c, c],
    [d * 0.8, d * 0.8],
  ]);
  assert.deepEqual(out.amplified, toyBatch().planning);
});

Deno.test("hicra: zero advantage stays zero and is not reported as amplified", () => {
  const input = { ...toyBatch(), rewards: [1, 1, 1, 0, 0, 0] };
  const out = getEstimator("hicra")(input, OPTS);
  assert.ok(out.advantages.flat().every((x) => x === 0));
  assert.ok(out.amplified.flat().every((x) => !x));
});

Deno.test("codeHighEntropyMask: sorted[⌊0.7n⌋] threshold, strict >, at n = 5, 10, 20", () => {
  const on = (mask: boolean[]) => mask.flatMap((m, t) => (m ? [t] : []));
  // n = 5: index 3 → sorted [.1,.2,.3,.4,.5][3] = 0.4 → only 0.5 (interpolated: 0.38 → 0.4 too).
  assert.deepEqual(codeHighEntropyMask([0.5, 0.4, 0.3, 0.2, 0.1], 0.3), [
    true,
    false,
    false,
    false,
    false,
  ]);
  // n = 10: index 7 → threshold 7 → {8, 9}.
  const ten = [3, 9, 0, 7, 1, 8, 2, 6, 4, 5];
  assert.deepEqual(on(codeHighEntropyMask(ten, 0.3)), [1, 5]);
  // Ties: sorted[7] = 2 equals the top values → nothing is strictly above.
  assert.deepEqual(on(codeHighEntropyMask([1, 1, 1, 1, 1, 1, 1, 2, 2, 2], 0.3)), []);
  assert.deepEqual(on(codeHighEntropyMask([1, 1, 1, 1, 1, 1, 1, 1, 2, 2], 0.3)), [8, 9]);
  // n = 20: index 14 → values 1..20 give threshold 15 → 16..20 (interpolated 14.3 would add 15).
  const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.deepEqual(on(codeHighEntropyMask(twenty, 0.3)), [15, 16, 17, 18, 19]);
  // Float-robust index: (1 − 0.9)·10 = 0.999… must give index 1, not 0.
  assert.deepEqual(on(codeHighEntropyMask(ten, 0.9)), [0, 1, 3, 5, 6, 7, 8, 9]);
  // Edges: frac 0 clamps to n − 1 (nothing), frac 1 is index 0 (all but the minimum),
  // one token is never above itself, empty stays empty.
  assert.deepEqual(on(codeHighEntropyMask(ten, 0)), []);
  assert.deepEqual(on(codeHighEntropyMask(ten, 1)), [0, 1, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(codeHighEntropyMask([2.5], 0.3), [false]);
  assert.deepEqual(codeHighEntropyMask([], 0.3), []);
  assert.throws(() => codeHighEntropyMask([1], 1.5), RangeError);
});

Deno.test("hicra-code: (gated high entropy ∪ ungated planning) × (1 + α·sign Â)", () => {
  const out = getEstimator("hicra-code")(toyBatch(), OPTS);
  assertClose(out.advantages, [
    [a * 1.2, a * 1.2, a, a * 1.2], // amplified: planning {0,3} ∪ entropy {1}
    [b, b * 0.8, b], // negative: planning dampened ×0.8
    [b, b],
    [c * 1.2, c], // positive but length 2 ≤ group mean 3: planning only
    [c, c * 1.2, c * 1.2, c, c], // planning {1} ∪ entropy {2} (threshold sorted[3] = 0.7)
    [d * 0.8, d * 0.8],
  ]);
  assert.deepEqual(out.amplified, [
    [true, true, false, true],
    [false, true, false],
    [false, false],
    [true, false],
    [false, true, true, false, false],
    [true, true],
  ]);
});

/** One group: a short positive, a long positive and a negative response (mean length 6). */
function gateBatch(): CreditInput {
  return {
    rewards: [1, 1, 0], // Â = [1/3, 1/3, −2/3]
    groups: [0, 0, 0],
    lengths: [4, 8, 6],
    planning: [
      [false, false, true, false],
      [false, true, false, false, false, false, false, false],
      [false, false, false, false, true, true],
    ],
    entropy: [
      [0.1, 0.9, 0.2, 0.3], // sorted[2] = 0.3 → {1} would be high, but length 4 ≤ 6
      [0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], // sorted[5] = 0.6 → {0, 7}
      [0.9, 0.8, 0.1, 0.1, 0.1, 0.1], // negative: never gated in
    ],
  };
}

Deno.test("hicra-code: a positive response shorter than the mean gets planning, not entropy", () => {
  const out = getEstimator("hicra-code")(gateBatch(), OPTS);
  assertClose(out.advantages, [
    [c, c, c * 1.2, c],
    [c * 1.2, c * 1.2, c, c, c, c, c, c * 1.2],
    [d, d, d, d, d * 0.8, d * 0.8],
  ]);
  assert.deepEqual(out.amplified, [
    [false, false, true, false],
    [true, true, false, false, false, false, false, true],
    [false, false, false, false, true, true],
  ]);
});

Deno.test("hicra-code-entropy: TRL's default path, only gated high-entropy tokens × (1+α)", () => {
  const out = getEstimator("hicra-code-entropy")(gateBatch(), OPTS);
  assertClose(out.advantages, [
    [c, c, c, c],
    [c * 1.2, c, c, c, c, c, c, c * 1.2],
    [d, d, d, d, d, d],
  ]);
  assert.deepEqual(out.amplified, [
    [false, false, false, false],
    [true, false, false, false, false, false, false, true],
    [false, false, false, false, false, false],
  ]);
  const toy = getEstimator("hicra-code-entropy")(toyBatch(), OPTS);
  assertClose(toy.advantages, [
    [a, a * 1.2, a, a],
    [b, b, b],
    [b, b],
    [c, c],
    [c, c, c * 1.2, c, c],
    [d, d],
  ]);
  // The planning mask is not read.
  const noPlan = { ...gateBatch(), planning: [] };
  assertClose(getEstimator("hicra-code-entropy")(noPlan, OPTS).advantages, out.advantages);
  assert.throws(() => getEstimator("hicra-code")(noPlan, OPTS), /planning/);
});

Deno.test("hicra-code: a group with no positive response is skipped entirely", () => {
  // Given sequence advantages (as TRL's modify_advantages_hicra receives them): group 0 has
  // none > 0, so its negative response's planning token is NOT dampened; group 1 has one.
  const input: CreditInput = {
    rewards: [0, 0, 0, 0],
    groups: [0, 0, 1, 1],
    lengths: [2, 2, 2, 2],
    planning: [[true, false], [false, true], [true, false], [false, true]],
    entropy: [[0, 1], [0, 1], [0, 1], [0, 1]],
  };
  const seq = [-1, -0.5, 0.5, -0.5];
  for (const usePlanning of [true, false]) {
    const out = modifyAdvantagesHicraCode(seq, input, OPTS, { usePlanning });
    assertClose(
      out.advantages,
      usePlanning ? [[-1, -1], [-0.5, -0.5], [0.6, 0.5], [-0.5, -0.4]] : [
        [-1, -1],
        [
          -0.5,
          -0.5,
        ],
        [0.5, 0.5],
        [-0.5, -0.5],
      ],
    );
  }
  // Through the estimator: an all-equal group has Â = 0 everywhere and stays 0.
  const flat = getEstimator("hicra-code")({ ...toyBatch(), rewards: [1, 1, 1, 0, 0, 0] }, OPTS);
  assert.ok(flat.advantages.flat().every((x) => x === 0));
  assert.ok(flat.amplified.flat().every((x) => !x));
  assert.throws(
    () => modifyAdvantagesHicraCode([1], input, OPTS, { usePlanning: true }),
    /4 rollouts but 1 sequence advantages/,
  );
});

Deno.test("hicra-code: zero advantage stays, α = 0 changes nothing, equal-to-mean length fails the gate", () => {
  const input: CreditInput = {
    rewards: [1, 0.5, 0], // Â = [0.5, 0, −0.5]
    groups: [0, 0, 0],
    lengths: [1, 1, 1],
    planning: [[true], [true], [true]],
    entropy: [[0], [0], [0]],
  };
  const out = getEstimator("hicra-code")(input, OPTS);
  assertClose(out.advantages, [[0.6], [0], [-0.4]]);
  assert.deepEqual(out.amplified, [[true], [false], [true]]);
  const still = getEstimator("hicra-code")(input, { ...OPTS, alpha: 0 });
  assertClose(still.advantages, [[0.5], [0], [-0.5]]);
  assert.ok(still.amplified.flat().every((x) => !x));

  // Lengths [4, 4, 4]: rollout 0 (Â > 0) is not longer than the mean, so its entropy peak
  // (sorted[2] = 0.3 → {1}) is not amplified.
  const eq: CreditInput = {
    rewards: [1, 0, 0],
    groups: [0, 0, 0],
    lengths: [4, 4, 4],
    planning: [[false, false, false, false], [false, false, false, false], [
      false,
      false,
      false,
      false,
    ]],
    entropy: [[0.1, 0.9, 0.2, 0.3], [0, 0, 0, 0], [0, 0, 0, 0]],
  };
  for (const name of ["hicra-code", "hicra-code-entropy"]) {
    const o = getEstimator(name)(eq, OPTS);
    assertClose([o.advantages[0]], [[a, a, a, a]]);
  }
});

Deno.test("high-entropy: HICRA's rule on each sequence's top-30% entropy tokens", () => {
  const out = getEstimator("high-entropy")(toyBatch(), OPTS);
  assertClose(out.advantages, [
    [a, a * 1.2, a, a],
    [b, b, b], // constant entropy: nothing strictly above the threshold
    [b, b * 0.8], // two tokens: 70th pct = 0.37, 0.4 is above
    [c * 1.2, c],
    [c, c, c * 1.2, c, c * 1.2],
    [d, d * 0.8],
  ]);
});

Deno.test("placebo: HICRA's rule on the random mask; missing mask is an error", () => {
  const input = toyBatch();
  input.random = input.lengths.map((len) => Array.from({ length: len }, (_, t) => t === len - 1));
  const out = getEstimator("placebo")(input, OPTS);
  assertClose(out.advantages, [
    [a, a, a, a * 1.2],
    [b, b, b * 0.8],
    [b, b * 0.8],
    [c, c * 1.2],
    [c, c, c, c, c * 1.2],
    [d, d * 0.8],
  ]);
  assert.throws(
    () => getEstimator("placebo")(toyBatch(), OPTS),
    /needs input.random/,
  );
});

Deno.test("estimators check shapes", () => {
  const input = toyBatch();
  input.planning[2] = [false];
  assert.throws(
    () => getEstimator("hicra")(input, OPTS),
    /rollout 2 has length 2 but "planning" has 1/,
  );
  assert.throws(
    () => getEstimator("grpo")({ ...toyBatch(), groups: [0] }, OPTS),
    /6 rewards, 1 group ids/,
  );
  assert.throws(
    () => getEstimator("hicra")(toyBatch(), { ...OPTS, alpha: -1 }),
    /alpha/,
  );
});

Deno.test("registry: built-ins, duplicate and unknown names", () => {
  assert.deepEqual(
    estimatorNames().slice(0, 6),
    ["grpo", "hicra", "hicra-code", "high-entropy", "placebo", "hicra-code-entropy"],
  );
  assert.throws(
    () => registerEstimator("grpo", getEstimator("grpo")),
    { message: 'advantage estimator "grpo" is already registered' },
  );
  assert.throws(
    () => getEstimator("nope"),
    /unknown advantage estimator "nope" \(known: grpo, hicra, .*placebo/,
  );
  registerEstimator("test-zero", (inp) => ({
    advantages: inp.lengths.map((l) => new Array(l).fill(0)),
    amplified: inp.lengths.map((l) => new Array(l).fill(false)),
  }));
  assert.ok(estimatorNames().includes("test-zero"));
  assert.deepEqual(getEstimator("test-zero")(toyBatch(), OPTS).advantages[2], [
    0,
    0,
  ]);
});
