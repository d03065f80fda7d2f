import assert from "node:assert/strict";
import { Rng } from "../../algorithms/rng.ts";
import {
  matchGrams,
  PAPER_STRATEGIC_GRAMS,
  placeboMask,
  randomGrams,
  scoreMask,
} from "../../algorithms/planning/mod.ts";

const count = (m: boolean[]) => m.filter((x) => x).length;
const runs = (m: boolean[]) => {
  const out: number[] = [];
  let n = 0;
  for (const x of [...m, false]) {
    if (x) n++;
    else if (n) {
      out.push(n);
      n = 0;
    }
  }
  return out;
};

Deno.test("placeboMask covers the same number of tokens per response", () => {
  const words = [
    "but wait , let's backtrack . 3 + 8 = 11 . so the answer is 11".split(" "),
    "3 + 4 = 7 .".split(" "),
    "let's verify : 7 - 4 = 3 . we can use that".split(" "),
    [],
  ];
  const real = words.map((w) => matchGrams(w, PAPER_STRATEGIC_GRAMS).mask);
  for (let seed = 0; seed < 20; seed++) {
    const placebo = placeboMask(real, words, new Rng(seed));
    placebo.forEach((p, i) => {
      assert.equal(p.length, words[i].length);
      assert.equal(count(p), count(real[i]));
      // Runs are kept unless two of them land next to each other and merge.
      const total = runs(p).reduce((s, x) => s + x, 0);
      assert.equal(total, count(real[i]));
      assert.ok(runs(p).length <= runs(real[i]).length);
    });
  }
  assert.deepEqual(
    placeboMask(real, words, new Rng(1)),
    placeboMask(real, words, new Rng(1)),
  );
  assert.throws(
    () => placeboMask(real, words.slice(1), new Rng(0)),
    RangeError,
  );
});

Deno.test("placeboMask moves spans around", () => {
  const words = [Array.from({ length: 40 }, (_, i) => `t${i}`)];
  const real = [words[0].map((_, i) => i < 3)];
  const seen = new Set<string>();
  for (let seed = 0; seed < 10; seed++) {
    seen.add(JSON.stringify(placeboMask(real, words, new Rng(seed))));
  }
  assert.ok(seen.size > 5);
});

Deno.test("randomGrams draws distinct 3–5 unit n-grams from the responses", () => {
  const responses = [
    "a b c d e f g h i j".split(" "),
    "k l m n o p".split(" "),
  ];
  const grams = randomGrams(responses, { nGrams: 8 }, new Rng(0));
  assert.equal(grams.length, 8);
  assert.equal(new Set(grams).size, 8);
  const texts = responses.map((r) => r.join(" "));
  for (const g of grams) {
    const n = g.split(" ").length;
    assert.ok(n >= 3 && n <= 5);
    assert.ok(texts.some((t) => t.includes(g)));
  }
  assert.deepEqual(randomGrams(responses, { nGrams: 8 }, new Rng(0)), grams);
});

Deno.test("scoreMask: micro-averaged precision/recall/F1 with 0/0 = 0", () => {
  const pred = [[true, true, false, false], [true, false]];
  const oracle = [[true, false, true, false], [true, false]];
  // TP 2, predicted 3, oracle 3, tokens 6.
  const s = scoreMask(pred, oracle);
  assert.ok(Math.abs(s.precision - 2 / 3) < 1e-12);
  assert.ok(Math.abs(s.recall - 2 / 3) < 1e-12);
  assert.ok(Math.abs(s.f1 - 2 / 3) < 1e-12);
  assert.equal(s.predictedRatio, 0.5);
  assert.equal(s.oracleRatio, 0.5);
  assert.deepEqual(scoreMask([[false]], [[false]]), {
    precision: 0,
    recall: 0,
    f1: 0,
    predictedRatio: 0,
    oracleRatio: 0,
  });
  assert.deepEqual(scoreMask([], []).f1, 0);
  assert.throws(() => scoreMask([[true]], [[true, false]]), RangeError);
});
