import assert from "node:assert/strict";
import {
  compileGrams,
  joinUnits,
  matchGrams,
  PAPER_STRATEGIC_GRAMS,
  planningMasks,
  toUnits,
} from "../../algorithms/planning/mod.ts";

const words = (s: string) => s.split(" ");
const marked = (w: string[], mask: boolean[]) => w.filter((_, i) => mask[i]);

Deno.test("paper list: 249 distinct verbatim entries", () => {
  assert.equal(PAPER_STRATEGIC_GRAMS.length, 249);
  assert.equal(new Set(PAPER_STRATEGIC_GRAMS).size, 249);
  assert.equal(PAPER_STRATEGIC_GRAMS[0], "## step");
  assert.equal(PAPER_STRATEGIC_GRAMS.at(-1), "work our way");
  for (
    const g of [
      "hmm,",
      "does this make sense?",
      "a simpler approach is", // wrapped across lines in the listing
      "step-by-step reasoning",
      "wait, that's not right",
      "i need to re-evaluate",
      "let's backtrack",
      "but",
    ]
  ) assert.ok(PAPER_STRATEGIC_GRAMS.includes(g), g);
  // Word counts as in the digest: 1→19, 2→45, 3→76, 4→85, 5→18, 6→6.
  const byLen = new Map<number, number>();
  for (const g of PAPER_STRATEGIC_GRAMS) {
    const n = g.split(" ").length;
    byLen.set(n, (byLen.get(n) ?? 0) + 1);
  }
  assert.deepEqual([...byLen].sort((x, y) => x[0] - y[0]), [
    [1, 19],
    [2, 45],
    [3, 76],
    [4, 85],
    [5, 18],
    [6, 6],
  ]);
  assert.ok(Object.isFrozen(PAPER_STRATEGIC_GRAMS));
});

Deno.test("units: lowercase, punctuation split, apostrophes and hyphens kept inside words", () => {
  assert.deepEqual(toUnits("Wait, but"), ["wait", ",", "but"]);
  assert.deepEqual(toUnits("Let’s"), ["let's"]);
  assert.deepEqual(toUnits("## step"), ["#", "#", "step"]);
  assert.deepEqual(toUnits("re-evaluate?"), ["re-evaluate", "?"]);
  assert.deepEqual(toUnits("'s"), ["'", "s"]);
  assert.deepEqual(toUnits("x^2=4."), ["x", "^", "2", "=", "4", "."]);
  assert.equal(joinUnits(["wait", ",", "but"]), "wait, but");
});

Deno.test("matching is case-insensitive and respects word boundaries", () => {
  const w = words("But the butter is BUT wait");
  const { mask, matches } = matchGrams(w, ["but", "but wait"]);
  assert.deepEqual(marked(w, mask), ["But", "BUT", "wait"]);
  assert.deepEqual(matches, [
    { gram: "but", start: 0, end: 1 },
    { gram: "but wait", start: 4, end: 6 },
  ]);
});

Deno.test("matching: let's vs lets, curly apostrophes", () => {
  const grams = ["let's backtrack"];
  assert.deepEqual(matchGrams(words("so let's backtrack"), grams).mask, [
    false,
    true,
    true,
  ]);
  assert.deepEqual(matchGrams(words("so lets backtrack"), grams).mask, [
    false,
    false,
    false,
  ]);
  assert.deepEqual(matchGrams(words("Let’s Backtrack"), grams).mask, [
    true,
    true,
  ]);
});

Deno.test("matching: punctuation as its own token or glued to a word", () => {
  const grams = ["wait, but", "hmm,", "does this make sense?", "## step"];
  const a = ["wait", ",", "but", "ok"];
  assert.deepEqual(marked(a, matchGrams(a, grams).mask), ["wait", ",", "but"]);
  const b = ["wait,", "but", "ok"];
  assert.deepEqual(matchGrams(b, grams).mask, [true, true, false]);
  const c = ["hmm", ",", "does", "this", "make", "sense", "?"];
  assert.ok(matchGrams(c, grams).mask.every((x) => x));
  assert.deepEqual(matchGrams(["hmm", "okay"], grams).mask, [false, false]); // needs the comma
  assert.deepEqual(matchGrams(["##", "Step", "1"], grams).mask, [
    true,
    true,
    false,
  ]);
  // The gram "wait" ends at a word unit, so "wait," still matches it.
  assert.deepEqual(matchGrams(["wait,"], ["wait"]).mask, [true]);
});

Deno.test("matching: overlaps are all marked; counts take the longest match and skip past it", () => {
  const grams = ["need to find", "find a way to", "a way", "let's"];
  const w = words("we need to find a way to do it");
  const { mask, matches } = matchGrams(w, grams);
  assert.deepEqual(marked(w, mask), ["need", "to", "find", "a", "way", "to"]);
  assert.deepEqual(matches.map((m) => [m.gram, m.start, m.end]), [
    ["need to find", 1, 4],
    ["a way", 4, 6], // "find a way to" starts inside the previous match, so it is not counted
  ]);
});

Deno.test("matching: allMatches lists every occurrence of every gram, nested ones included", () => {
  const grams = ["need to find", "find a way to", "a way", "let's"];
  const w = words("we need to find a way to do it");
  assert.deepEqual(matchGrams(w, grams).allMatches.map((m) => [m.gram, m.start, m.end]), [
    ["need to find", 1, 4],
    ["find a way to", 3, 7],
    ["a way", 4, 6],
  ]);
  // "but wait , but": greedy takes "but wait" then the last "but"; all occurrences add the
  // "but" nested at the start. Ordered by start, then by length.
  const r = matchGrams(["but", "wait", ",", "but"], ["but", "but wait"]);
  assert.deepEqual(r.matches.map((m) => [m.gram, m.start, m.end]), [
    ["but wait", 0, 2],
    ["but", 3, 4],
  ]);
  assert.deepEqual(r.allMatches.map((m) => [m.gram, m.start, m.end]), [
    ["but", 0, 1],
    ["but wait", 0, 2],
    ["but", 3, 4],
  ]);
  // A gram glued to punctuation in one token: two units, one token span.
  assert.deepEqual(matchGrams(["wait,", "but"], ["wait", "wait, but"]).allMatches, [
    { gram: "wait", start: 0, end: 1 },
    { gram: "wait, but", start: 0, end: 2 },
  ]);
});

Deno.test("matching: multi-token grams need every token in order", () => {
  const grams = ["let's try a different angle"];
  assert.deepEqual(
    matchGrams(words("Let's try a different angle now"), grams).mask,
    [true, true, true, true, true, false],
  );
  assert.ok(
    matchGrams(words("let's try a different approach"), grams).mask.every((x) => !x),
  );
  assert.deepEqual(matchGrams([], grams), { mask: [], matches: [], allMatches: [] });
});

Deno.test("paper grams on a sentence", () => {
  const w = [
    "But",
    "wait",
    ",",
    "let's",
    "backtrack",
    ".",
    "3",
    "+",
    "8",
    "=",
    "11",
  ];
  const { mask, matches } = matchGrams(w, PAPER_STRATEGIC_GRAMS);
  // The comma is not part of any matching gram here ("wait, but" would need a following "but").
  assert.deepEqual(marked(w, mask), ["But", "wait", "let's", "backtrack"]);
  assert.deepEqual(matches.map((m) => m.gram), ["but wait", "let's backtrack"]);
});

Deno.test("batch masks: compiled matcher and cached gram list agree with a naive scan", () => {
  const vocab = [
    "we",
    "need",
    "to",
    "find",
    "but",
    "wait",
    ",",
    "let's",
    "3",
    "+",
    "so",
    "check",
  ];
  const batch = Array.from(
    { length: 64 },
    (_, i) =>
      Array.from(
        { length: 60 },
        (_, t) => vocab[(i * 7 + t * 13) % vocab.length],
      ),
  );
  const compiled = planningMasks(batch, compileGrams(PAPER_STRATEGIC_GRAMS));
  assert.deepEqual(planningMasks(batch, PAPER_STRATEGIC_GRAMS), compiled);
  // Naive reference: every start, every gram, compare units.
  const gramUnits = PAPER_STRATEGIC_GRAMS.map(toUnits);
  batch.forEach((w, i) => {
    const units = w.map((t) => toUnits(t)[0]); // one unit per token in this vocabulary
    const ref = w.map(() => false);
    for (let s = 0; s < units.length; s++) {
      for (const g of gramUnits) {
        if (g.every((u, j) => units[s + j] === u)) {
          g.forEach((_, j) => (ref[s + j] = true));
        }
      }
    }
    assert.deepEqual(compiled[i], ref, `response ${i}`);
  });
});
