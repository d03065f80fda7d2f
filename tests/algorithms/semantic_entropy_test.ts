import assert from "node:assert/strict";
import { gramCounts, matchGrams, semanticEntropy } from "../../algorithms/planning/mod.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

Deno.test("semantic entropy of known distributions (nats)", () => {
  close(semanticEntropy([5, 5, 5, 5]), Math.log(4));
  close(semanticEntropy([7]), 0);
  close(semanticEntropy([3, 0, 0]), 0);
  close(semanticEntropy([]), 0);
  close(
    semanticEntropy([1, 1, 0, 2]),
    -(0.25 * Math.log(0.25) * 2 + 0.5 * Math.log(0.5)),
  );
  close(semanticEntropy(new Map([["a", 2], ["b", 2]])), Math.log(2));
  assert.throws(() => semanticEntropy([1, -1]), RangeError);
});

Deno.test("gramCounts pools a step's responses, by gram or by cluster", () => {
  const grams = ["but wait", "let's check", "let's verify"];
  const responses = [
    "but wait , let's check".split(" "),
    "let's verify and let's check".split(" "),
    "no grams here".split(" "),
  ];
  const matches = responses.map((w) => matchGrams(w, grams).matches);
  const byGram = gramCounts(matches);
  assert.deepEqual([...byGram].sort(), [["but wait", 1], ["let's check", 2], [
    "let's verify",
    1,
  ]]);
  close(
    semanticEntropy(byGram),
    -(2 * 0.25 * Math.log(0.25) + 0.5 * Math.log(0.5)),
  );
  const clusterOf = new Map([["let's check", "verify"], [
    "let's verify",
    "verify",
  ]]);
  const byCluster = gramCounts(matches, "clusters", clusterOf);
  assert.deepEqual([...byCluster].sort(), [["but wait", 1], ["verify", 3]]); // unlabeled gram = own bin
  assert.throws(() => gramCounts(matches, "clusters"), /needs clusterOf/);
});
