import assert from "node:assert/strict";
import { Rng } from "../../algorithms/rng.ts";
import { minibatchOrder } from "../../stages/update.ts";

const order = Array.from({ length: 12 }, (_, i) => i);
const lengths = [9, 3, 7, 1, 12, 5, 5, 8, 2, 11, 4, 6];

Deno.test("minibatchOrder: a random partition; one part keeps the order", () => {
  const batches = minibatchOrder(order, 3, new Rng(1), null);
  assert.equal(batches.length, 3);
  assert.deepEqual(batches.flat().sort((a, b) => a - b), order);
  // The same cut of the same shuffle as a plain permutation sliced in order.
  assert.deepEqual(batches.flat(), new Rng(1).shuffle(order));
  assert.deepEqual(minibatchOrder(order, 1, new Rng(1), (i) => lengths[i]), [order]);
});

Deno.test("minibatchOrder with lengths: bands of similar length in random order", () => {
  const batches = minibatchOrder(order, 3, new Rng(7), (i) => lengths[i]);
  assert.deepEqual(batches.flat().sort((a, b) => a - b), order);
  // Each minibatch is one band of the sorted lengths: 1–4, 5–7 and 8–12.
  const bands = batches.map((b) => b.map((i) => lengths[i]).sort((x, y) => x - y));
  const sortedBands = [...bands].sort((x, y) => x[0] - y[0]);
  assert.deepEqual(sortedBands, [[1, 2, 3, 4], [5, 5, 6, 7], [8, 9, 11, 12]]);
  // Deterministic in the seed; another seed visits the bands in another order somewhere.
  assert.deepEqual(minibatchOrder(order, 3, new Rng(7), (i) => lengths[i]), batches);
  const firsts = new Set(
    [1, 2, 3, 4, 5, 6, 7, 8].map((s) =>
      lengths[minibatchOrder(order, 3, new Rng(s), (i) => lengths[i])[0][0]] < 5
    ),
  );
  assert.equal(firsts.size, 2);
});
