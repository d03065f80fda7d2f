import assert from "node:assert/strict";
import {
  countGrams,
  GRAM_COUNTINGS,
  gramCounts,
  matchGrams,
  semanticEntropy,
} from "../../algorithms/planning/mod.ts";

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

Deno.test('countGrams: greedy vs all-occurrences on "but wait , but"', () => {
  const grams = ["but", "but wait"];
  const results = [matchGrams(["but", "wait", ",", "but"], grams)];
  assert.deepEqual(GRAM_COUNTINGS, ["greedy", "all-occurrences"]);
  // Greedy (default): "but wait" once, the trailing "but" once → H = ln 2.
  const greedy = countGrams(results);
  assert.deepEqual(Object.fromEntries(greedy), { "but": 1, "but wait": 1 });
  assert.deepEqual(countGrams(results, "greedy"), greedy);
  close(semanticEntropy(greedy), Math.log(2));
  // All occurrences (TRL): "but" twice (once nested in "but wait"), "but wait" once
  // → p = (2/3, 1/3), H = ln 3 − (2/3) ln 2.
  const all = countGrams(results, "all-occurrences");
  assert.deepEqual(Object.fromEntries(all), { "but": 2, "but wait": 1 });
  close(semanticEntropy(all), Math.log(3) - (2 / 3) * Math.log(2));
  close(semanticEntropy(all), -((2 / 3) * Math.log(2 / 3) + (1 / 3) * Math.log(1 / 3)));
  assert.throws(() => countGrams(results, "every" as "greedy"), /counting must be one of/);
});

Deno.test("countGrams pools responses and supports cluster bins in both modes", () => {
  const grams = ["let's", "let's check", "let's verify", "wait"];
  const results = [
    "wait , let's check".split(" "),
    "let's verify and let's check".split(" "),
    "let's go".split(" "),
  ].map((w) => matchGrams(w, grams));
  // Greedy: wait 1, let's check 2, let's verify 1, let's 1 (only in "let's go") → p = .2/.4/.2/.2.
  const greedy = countGrams(results, "greedy");
  assert.deepEqual(Object.fromEntries(greedy), {
    "let's": 1,
    "let's check": 2,
    "let's verify": 1,
    "wait": 1,
  });
  close(semanticEntropy(greedy), -(3 * 0.2 * Math.log(0.2) + 0.4 * Math.log(0.4)));
  // All occurrences: "let's" also counted inside each of the three longer grams → 4 of 8.
  const all = countGrams(results, "all-occurrences");
  assert.deepEqual(Object.fromEntries(all), {
    "let's": 4,
    "let's check": 2,
    "let's verify": 1,
    "wait": 1,
  });
  close(
    semanticEntropy(all),
    -(0.5 * Math.log(0.5) + 0.25 * Math.log(0.25) + 2 * 0.125 * Math.log(0.125)),
  );
  const clusterOf = new Map([["let's check", "verify"], ["let's verify", "verify"]]);
  assert.deepEqual(
    Object.fromEntries(countGrams(results, "greedy", "clusters", clusterOf)),
    { "let's": 1, "verify": 3, "wait": 1 },
  );
  assert.deepEqual(
    Object.fromEntries(countGrams(results, "all-occurrences", "clusters", clusterOf)),
    { "let's": 4, "verify": 3, "wait": 1 },
  );
  assert.throws(() => countGrams(results, "greedy", "clusters"), /needs clusterOf/);
});
