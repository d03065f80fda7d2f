/**
 * Segment Monte-Carlo credit (algorithms/credit/segment_mc.ts) on hand-computed cases.
 */
import assert from "node:assert/strict";
import {
  dedupPrefixes,
  mcValue,
  segmentAdvantages,
  segmentMc,
  segmentStarts,
  whiten,
} from "../../algorithms/credit/segment_mc.ts";
import { grpo } from "../../algorithms/credit/mod.ts";
import { oracleLabels } from "../../algorithms/tasks/mod.ts";

const near = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

Deno.test("segmentStarts: 0 and every label switch", () => {
  const P = true, E = false;
  assert.deepEqual(segmentStarts([]), []);
  assert.deepEqual(segmentStarts([E]), [0]);
  assert.deepEqual(segmentStarts([P, P, E, E, E, P, E]), [0, 2, 5, 6]);
  assert.deepEqual(segmentStarts([E, P, P, P]), [0, 1]);
});

Deno.test("segmentStarts on oracle labels: one segment per phrase and per execution run", () => {
  const words = "think of this as then work our way . 3 * 8 = 24 . 24 + 5 = 29 . answer 3 * 8 + 5"
    .split(" ");
  const labels = oracleLabels({} as never, words);
  // "think of this as" | "then" | "work our way" | the arithmetic and the answer.
  assert.deepEqual(segmentStarts(labels), [0, 4, 5, 8]);
});

Deno.test("segmentStarts with mergeGap: short execution gaps between planning runs bridge", () => {
  const P = true, E = false;
  const labels = [P, P, E, P, E, E, P, E, E, E];
  assert.deepEqual(segmentStarts(labels, 0), [0, 2, 3, 4, 6, 7]);
  // The 1-token gap at 2 joins runs 0 and 3; the 2-token gap at 4 stays.
  assert.deepEqual(segmentStarts(labels, 1), [0, 4, 6, 7]);
  // Gap 2 also bridges 4–5; the trailing execution run is never a bridge.
  assert.deepEqual(segmentStarts(labels, 2), [0, 7]);
  // A leading execution run is not between two planning runs either.
  assert.deepEqual(segmentStarts([E, P, E, P], 1), [0, 1]);
  assert.throws(() => segmentStarts(labels, -1), /mergeGap/);
});

Deno.test("segmentStarts with mergeGap 1 on oracle labels: a strategy statement is one segment", () => {
  const words = ("the plan is to think of this as then work our way . 3 * 8 = 24 . 24 + 5 = 29 . " +
    "to verify , 29 is not 19 . but wait , let's backtrack . let's try a different angle : " +
    "think of this as then break it down . 3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5").split(" ");
  const labels = oracleLabels({} as never, words);
  const cut = (starts: number[]) =>
    starts.map((s, j) => words.slice(s, starts[j + 1] ?? words.length).join(" "));
  assert.deepEqual(cut(segmentStarts(labels, 1)), [
    "the plan is to think of this as then work our way",
    ". 3 * 8 = 24 . 24 + 5 = 29 .",
    "to verify",
    ", 29 is not 19 .",
    "but wait , let's backtrack . let's try a different angle : think of this as then break it down",
    ". 3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5",
  ]);
});

Deno.test("segmentAdvantages: each token gets V(next start) − V(its start); V(end) = R", () => {
  // Segments [0,2) [2,5) [5,6); V = 0.5 at the prompt, 0.75 and 0.25 inside, R = 1.
  assert.deepEqual(segmentAdvantages([0, 2, 5], [0.5, 0.75, 0.25, 1], 6), [
    0.25,
    0.25,
    -0.5,
    -0.5,
    -0.5,
    0.75,
  ]);
  // One segment: R − V(prompt) on every token (GRPO's advantage when V(prompt) = group mean).
  assert.deepEqual(segmentAdvantages([0], [0.25, 0], 3), [-0.25, -0.25, -0.25]);
  assert.deepEqual(segmentAdvantages([], [0.5], 0), []);
});

Deno.test("segmentAdvantages rejects inconsistent shapes", () => {
  assert.throws(() => segmentAdvantages([0, 2], [0, 1], 4), /2 segments need 3 values/);
  assert.throws(() => segmentAdvantages([1], [0, 1], 4), /starts at 1/);
  assert.throws(() => segmentAdvantages([0, 4], [0, 1, 1], 4), /must increase/);
  assert.throws(() => segmentAdvantages([0, 2, 2], [0, 1, 1, 1], 4), /must increase/);
});

Deno.test("mcValue is the mean continuation reward", () => {
  assert.equal(mcValue([1, 0, 0, 1]), 0.5);
  assert.equal(mcValue([0]), 0);
  assert.throws(() => mcValue([]), /at least one rollout/);
});

Deno.test("dedupPrefixes: identical prefixes share one entry, first appearance order", () => {
  const { unique, index } = dedupPrefixes([[1, 2], [1, 2, 3], [1, 2], [4], [1, 2, 3]]);
  assert.deepEqual(unique, [[1, 2], [1, 2, 3], [4]]);
  assert.deepEqual(index, [0, 1, 0, 2, 1]);
  // [1, 23] and [12, 3] must not collide.
  assert.equal(dedupPrefixes([[1, 23], [12, 3]]).unique.length, 2);
});

Deno.test("whiten: VinePPO's masked_whiten over all tokens (unbiased variance)", () => {
  // Tokens 1, 2, 3, 6: mean 3, unbiased var (4 + 1 + 0 + 9) / 3 = 14/3.
  const out = whiten([[1, 2], [3], [6]]);
  const s = Math.sqrt(14 / 3 + 1e-8);
  [[-2 / s, -1 / s], [0], [3 / s]].forEach((row, i) => row.forEach((v, t) => near(out[i][t], v)));
  assert.deepEqual(whiten([[5]]), [[5]]); // fewer than two tokens: unchanged
});

Deno.test("segmentMc: hand-computed batch of two groups", () => {
  const input = {
    rewards: [1, 0, 0, 0],
    groups: [0, 0, 1, 1],
    lengths: [4, 3, 2, 2],
    starts: [[0, 1, 3], [0, 2], [0], [0, 1]],
    boundaryValues: [[0.75, 1], [0.25], [], [0.5]],
  };
  const out = segmentMc(input, { whiten: false });
  // Group 0: V(prompt) = 0.5. Rollout 0: 0.75 − 0.5, 1 − 0.75, R − 1 = 0.
  assert.deepEqual(out.advantages[0], [0.25, 0.25, 0.25, 0]);
  // Rollout 1: 0.25 − 0.5, then R − 0.25.
  assert.deepEqual(out.advantages[1], [-0.25, -0.25, -0.25]);
  // Group 1: all rewards 0 (GRPO gives 0), yet the MC value 0.5 after token 0 credits it.
  assert.deepEqual(out.advantages[2], [0, 0]);
  assert.deepEqual(out.advantages[3], [0.5, -0.5]);
  assert.deepEqual(out.amplified, input.lengths.map((n) => new Array(n).fill(false)));
  const w = segmentMc(input, { whiten: true });
  assert.deepEqual(w.advantages, whiten(out.advantages));
});

Deno.test("segmentMc: the segment advantages of a response sum to GRPO's advantage", () => {
  const rewards = [1, 0, 1, 0, 0, 1];
  const groups = [0, 0, 0, 1, 1, 1];
  const lengths = [5, 6, 3, 4, 7, 2];
  const starts = [[0, 2, 4], [0, 1, 3, 5], [0], [0, 3], [0, 1, 2, 6], [0, 1]];
  const boundaryValues = [[0.25, 0.5], [1, 0.75, 0.25], [], [0.5], [0, 0.75, 0.5], [1]];
  const out = segmentMc({ rewards, groups, lengths, starts, boundaryValues }, { whiten: false });
  const base = grpo({ rewards, groups, lengths, planning: [], entropy: [] }, {
    alpha: 0,
    stdScaling: "none",
    entropyTopFrac: 0,
  });
  out.advantages.forEach((adv, i) => {
    const perSegment = starts[i].map((s) => adv[s]);
    near(perSegment.reduce((a, b) => a + b, 0), base.advantages[i][0]);
  });
});

Deno.test("segmentMc rejects inconsistent input", () => {
  const ok = {
    rewards: [1, 0],
    groups: [0, 0],
    lengths: [2, 2],
    starts: [[0, 1], [0]],
    boundaryValues: [[0.5], []],
  };
  assert.throws(
    () => segmentMc({ ...ok, starts: [[0, 1]] }, { whiten: false }),
    /2 rollouts but 1 segment lists/,
  );
  assert.throws(
    () => segmentMc({ ...ok, boundaryValues: [[], []] }, { whiten: false }),
    /2 segments need 3 values/,
  );
  assert.throws(
    () => segmentMc({ ...ok, boundaryValues: [[NaN], []] }, { whiten: false }),
    /value 0 of rollout 0 is NaN/,
  );
  assert.throws(() => segmentMc({ ...ok, rewards: [1, Infinity] }, { whiten: false }), /reward 1/);
});
