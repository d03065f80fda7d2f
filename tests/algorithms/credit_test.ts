import assert from "node:assert/strict";
import {
  type CreditInput,
  type CreditOptions,
  DEFAULT_CREDIT_OPTIONS,
  estimatorNames,
  getEstimator,
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
    entropy: [
      [0.1, 0.9, 0.5, 0.2], // 70th pct = 0.54 → only 0.9 is high
      [0.5, 0.5, 0.5], // constant → nothing is strictly above
      [0.3, 0.4],
      [0.9, 0.1],
      [0.3, 0.1, 0.8, 0.2, 0.7], // 70th pct = 0.62 → 0.8 and 0.7 are high
      [0.2, 0.6],
    ],
  };
}

const OPTS: CreditOptions = {
  alpha: 0.2,
  stdScaling: "none",
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

Deno.test("defaults follow the paper: alpha 0.2, no std division, top 30% entropy", () => {
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

Deno.test("grpo std scaling: group (population std + 1e-6) and batch", () => {
  const groupStd = Math.sqrt(2) / 3 + 1e-6; // both groups have population std √2/3
  const g = getEstimator("grpo")(toyBatch(), { ...OPTS, stdScaling: "group" });
  assertClose(
    g.advantages.map((r) => [r[0]]),
    [[a], [b], [b], [c], [c], [d]].map((r) => [r[0] / groupStd]),
  );
  const batchStd = 0.5 + 1e-6; // rewards [1,0,0,1,1,0]: population std 0.5
  const bt = getEstimator("grpo")(toyBatch(), { ...OPTS, stdScaling: "batch" });
  assertClose(
    bt.advantages.map((r) => [r[0]]),
    [[a], [b], [b], [c], [c], [d]].map((r) => [r[0] / batchStd]),
  );
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
  assertClose(group.advantages.slice(3), [[0.5 / (0.5 + 1e-6)], [
    -0.5 / (0.5 + 1e-6),
  ]]);
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

Deno.test("hicra-code: (high entropy ∪ planning) × (1+α), only in positive, longer-than-mean responses", () => {
  const out = getEstimator("hicra-code")(toyBatch(), OPTS);
  assertClose(out.advantages, [
    [a * 1.2, a * 1.2, a, a * 1.2], // planning {0,3} ∪ entropy {1}
    [b, b, b], // negative advantage → unchanged (no dampening)
    [b, b],
    [c, c], // positive but length 2 ≤ group mean 3 → unchanged
    [c, c * 1.2, c * 1.2, c, c * 1.2], // planning {1} ∪ entropy {2, 4}
    [d, d],
  ]);
  assert.deepEqual(out.amplified, [
    [true, true, false, true],
    [false, false, false],
    [false, false],
    [false, false],
    [false, true, true, false, true],
    [false, false],
  ]);
});

Deno.test("hicra-code: length equal to the group mean does not pass the gate", () => {
  const input = { ...toyBatch(), lengths: [3, 3, 3, 2, 5, 2] };
  input.planning = [[true, true, true], [false, false, false], [
    false,
    false,
    false,
  ], ...toyBatch().planning.slice(3)];
  input.entropy = [
    [0.1, 0.2, 0.3],
    [0, 0, 0],
    [0, 0, 0],
    ...toyBatch().entropy.slice(3),
  ];
  const out = getEstimator("hicra-code")(input, OPTS);
  assertClose([out.advantages[0]], [[a, a, a]]);
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
    estimatorNames().slice(0, 5),
    ["grpo", "hicra", "hicra-code", "high-entropy", "placebo"],
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
