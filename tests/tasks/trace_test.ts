import assert from "node:assert/strict";
import { EXAMPLE_PROBLEM } from "./fixtures.ts";
import { Rng } from "../../algorithms/rng.ts";
import {
  DIFFICULTIES,
  formatPrompt,
  generateProblems,
  generateTrace,
  oracleLabels,
  planningInventory,
  type Problem,
  splitWords,
  TEMPLATE_TEXT,
  type Trace,
  verify,
} from "../../algorithms/tasks/mod.ts";

/** Traces over every split and level with a mix of good and bad choices. */
function sampleTraces(seed: number, perCell: number): Trace[] {
  const rng = new Rng(seed);
  const out: Trace[] = [];
  for (const spec of DIFFICULTIES) {
    for (const split of ["train", "id", "ood"] as const) {
      const problems = generateProblems({
        seed,
        count: perCell,
        split,
        difficulty: spec.level,
      });
      for (const p of problems) {
        out.push(generateTrace(p, rng, {
          pFirstChoiceCorrect: 0.4,
          pExecError: 0.15,
          pSwitchCorrect: 0.7,
        }));
      }
    }
  }
  return out;
}

const traces = sampleTraces(11, 150);
const response = (t: Trace) => t.words.slice(t.promptLength);

Deno.test("generateTrace is deterministic in the rng", () => {
  const a = sampleTraces(3, 20);
  const b = sampleTraces(3, 20);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, sampleTraces(4, 20));
});

Deno.test("traces start with the prompt and verify as their bookkeeping says", () => {
  let good = 0;
  let bad = 0;
  for (const t of traces) {
    assert.deepEqual(t.words.slice(0, t.promptLength), formatPrompt(t.problem));
    const v = verify(t.problem, response(t));
    assert.equal(v.correct, t.correct, t.words.join(" "));
    assert.notEqual(v.answer, null);
    if (t.correct) good++;
    else bad++;
  }
  assert.ok(good > 100 && bad > 20, `${good} good, ${bad} bad`);
});

Deno.test("the mix holds wrong first choices, recoveries and slips", () => {
  const firstWrong = traces.filter((t) => !t.firstStrategyCorrect);
  const recovered = firstWrong.filter((t) => t.correct && t.nBacktracks === 1);
  const slipped = traces.filter((t) => t.execErrors > 0);
  assert.ok(firstWrong.length > traces.length * 0.4);
  assert.ok(recovered.length > firstWrong.length * 0.4);
  assert.ok(slipped.length > traces.length * 0.1);
  for (const t of traces) {
    assert.equal(t.nBacktracks, t.strategies.length - 1);
    assert.equal(
      t.firstStrategyCorrect,
      t.strategies[0].join() === t.problem.strategy.join(),
    );
  }
});

Deno.test("traces respect the token budget of their level", () => {
  for (const t of traces) {
    const spec = DIFFICULTIES[t.problem.difficulty - 1];
    assert.ok(t.words.length + 1 <= spec.maxLength, t.words.join(" "));
    assert.ok(t.strategies.length <= spec.maxAttempts);
  }
});

Deno.test("labels align with words and equal the oracle rule", () => {
  for (const t of traces) {
    assert.equal(t.planning.length, t.words.length);
    assert.ok(t.planning.slice(0, t.promptLength).every((x) => !x));
    assert.deepEqual(oracleLabels(t.problem, t.words), t.planning);
    assert.deepEqual(
      oracleLabels(t.problem, response(t)),
      t.planning.slice(t.promptLength),
    );
  }
});

Deno.test("labels mark exactly the planning phrases (the connective then is not one)", () => {
  const problem = traces[0].problem;
  const text =
    "the plan is to think of this as then work our way . 3 * 8 = 25 . wait , no . 3 * 8 = 24 . " +
    "24 + 5 = 29 . to verify , 29 is not 19 . but wait , let's backtrack . " +
    "let's try a different angle : think of this as then break it down . answer 3 * 8 - 5";
  const words = splitWords(text);
  const marked = words.filter((_, i) => oracleLabels(problem, words)[i]).join(
    " ",
  );
  assert.equal(
    marked,
    "the plan is to think of this as work our way wait , no to verify but wait " +
      "let's backtrack let's try a different angle think of this as break it down",
  );
  // Outside a phrase, phrase words are execution ("not" in a check, "is").
  const labels = oracleLabels(problem, splitWords("29 is not 19 . that"));
  assert.deepEqual(labels, [false, false, false, false, false, false]);
});

Deno.test("every planning phrase is a Strategic Gram of the paper", async () => {
  const paper = await Deno.readTextFile("/work/shared/docs/paper.md").catch(
    () => null,
  );
  if (paper === null) return; // the digest lives outside the repository
  const listing = paper.split("## Appendix A")[1].split("```text")[1]
    .split("```")[0].replace(/\s+/g, " ");
  const grams = new Set(
    listing.split(" | ").map((g) => splitWords(g).join(" ")),
  );
  for (const phrase of planningInventory()) {
    assert.ok(grams.has(phrase), phrase);
  }
  assert.ok(Object.values(TEMPLATE_TEXT).flat().length >= 20);
});

Deno.test("a hand-checked trace reads as designed", () => {
  const problem: Problem = EXAMPLE_PROBLEM;
  const t = generateTrace(problem, new Rng(1), {
    pFirstChoiceCorrect: 1,
    pExecError: 0,
    pCheck: 0,
  });
  const text = t.words.join(" ");
  assert.match(text, /^reach 19 with 3 8 5 : .* think of this as then break it down \. /);
  assert.ok(text.endsWith("3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5"), text);
  assert.equal(t.correct, true);
  assert.equal(t.nBacktracks, 0);
});
