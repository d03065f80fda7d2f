import assert from "node:assert/strict";
import { Rng } from "../../algorithms/rng.ts";
import {
  EMBED_DIM,
  hashEmbed,
  kmeans,
  matchGrams,
  mineStrategicGrams,
  planningMasks,
  scoreMask,
} from "../../algorithms/planning/mod.ts";

const PLANTED = [
  "let's try a different approach",
  "we need to check the answer",
  "wait , that is too big",
];
const RARE = ["the sum of all", "multiply both sides by"];

/**
 * Toy corpus: random filler words, planted planning phrases in ~70% of responses and rare
 * distractor phrases in ~10%; the oracle marks planted-phrase tokens.
 */
function toyCorpus(
  seed: number,
  n = 60,
): { words: string[][]; oracle: boolean[][] } {
  const rng = new Rng(seed);
  const filler = Array.from({ length: 300 }, (_, i) => `w${i}`);
  const phrases = [
    ...PLANTED.map((text) => ({ text, p: 0.7, planted: true })),
    ...RARE.map((text) => ({ text, p: 0.1, planted: false })),
  ];
  const words: string[][] = [], oracle: boolean[][] = [];
  for (let i = 0; i < n; i++) {
    const w: string[] = [], o: boolean[] = [];
    for (const { text, p, planted } of phrases) {
      for (let j = 0; j < 4; j++) {
        w.push(rng.pick(filler));
        o.push(false);
      }
      if (!rng.bernoulli(p)) continue;
      for (const t of text.split(" ")) {
        w.push(t);
        o.push(planted);
      }
    }
    words.push(w);
    oracle.push(o);
  }
  return { words, oracle };
}

Deno.test("hashEmbed is deterministic, unit-norm and lexically smooth", () => {
  const a = hashEmbed("let's try a different approach");
  assert.equal(a.length, EMBED_DIM);
  assert.deepEqual(a, hashEmbed("Let's try a different approach"));
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-6);
  const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
  assert.ok(
    dot(a, hashEmbed("let's try a different angle")) >
      dot(a, hashEmbed("3 + 8 = 11")),
  );
});

Deno.test("kmeans: same seed → same clusters; separates obvious blobs", () => {
  const rng = new Rng(5);
  const pts: number[] = [];
  for (let i = 0; i < 90; i++) {
    const centre = [[0, 0], [10, 0], [0, 10]][i % 3];
    pts.push(centre[0] + rng.normal() * 0.5, centre[1] + rng.normal() * 0.5);
  }
  const data = Float64Array.from(pts);
  const r1 = kmeans(data, 2, 3, new Rng(1));
  const r2 = kmeans(data, 2, 3, new Rng(1));
  assert.deepEqual(r1.assignments, r2.assignments);
  assert.deepEqual(r1.centroids, r2.centroids);
  for (let i = 3; i < 90; i++) {
    assert.equal(r1.assignments[i], r1.assignments[i % 3]);
  }
  assert.equal(new Set(r1.assignments).size, 3);
  // Fewer distinct points than k: only as many clusters as points.
  assert.equal(kmeans(Float64Array.from([1, 1, 1, 1]), 2, 5, new Rng(0)).k, 1);
});

Deno.test("mining is deterministic for a seed and may differ across seeds", () => {
  const { words } = toyCorpus(1);
  const opts = { clusters: 20, seed: 3, minDf: 2 };
  assert.deepEqual(
    mineStrategicGrams(words, opts),
    mineStrategicGrams(words, opts),
  );
  const other = mineStrategicGrams(words, { ...opts, seed: 4 });
  assert.ok(other.clusters.length > 0); // may or may not equal seed 3's clustering
});

Deno.test("mining recovers planted planning phrases (scored against the oracle)", () => {
  let recallSum = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const { words, oracle } = toyCorpus(seed);
    const { grams, clusters } = mineStrategicGrams(words, {
      clusters: 5,
      seed,
      minDf: 3,
      topFrac: 0.6,
    });
    assert.equal(clusters.filter((c) => c.selected).length, 3); // ceil(0.6 · 5)
    for (let i = 1; i < clusters.length; i++) {
      assert.ok(clusters[i - 1].df >= clusters[i].df);
    }
    const score = scoreMask(planningMasks(words, grams), oracle);
    assert.ok(
      score.precision >= 0.9,
      `seed ${seed}: precision ${score.precision}`,
    );
    assert.ok(score.recall >= 0.6, `seed ${seed}: recall ${score.recall}`);
    recallSum += score.recall;
  }
  assert.ok(recallSum / 10 >= 0.85, `mean recall ${recallSum / 10}`);
  // One seed in full: each planted phrase is a selected cluster, the rare phrases are not.
  const { words } = toyCorpus(4);
  const { grams } = mineStrategicGrams(words, {
    clusters: 5,
    seed: 4,
    minDf: 3,
    topFrac: 0.6,
  });
  for (const phrase of PLANTED) {
    const w = ["x", ...phrase.split(" "), "y"];
    assert.deepEqual(
      matchGrams(w, grams).mask,
      w.map((_, i) => i > 0 && i < w.length - 1),
      phrase,
    );
  }
  for (const phrase of RARE) {
    assert.ok(
      matchGrams(phrase.split(" "), grams).mask.every((m) => !m),
      phrase,
    );
  }
});

Deno.test("mining: n-gram cap, custom embedding and empty input", () => {
  const { words } = toyCorpus(3, 20);
  const capped = mineStrategicGrams(words, {
    clusters: 5,
    maxNgrams: 10,
    seed: 1,
  });
  assert.equal(capped.clusters.reduce((s, c) => s + c.members.length, 0), 10);
  const constant = mineStrategicGrams(words, {
    clusters: 5,
    maxNgrams: 30,
    embed: () => new Float32Array([1, 0]),
  });
  assert.equal(constant.clusters.length, 1); // identical embeddings collapse to one cluster
  assert.deepEqual(mineStrategicGrams([], {}), { grams: [], clusters: [] });
});
