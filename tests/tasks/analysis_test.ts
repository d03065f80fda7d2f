import assert from "node:assert/strict";
import { EXAMPLE_PROBLEM } from "./fixtures.ts";
import { Rng } from "../../algorithms/rng.ts";
import {
  analyseResponse,
  findFacts,
  generateProblems,
  generateTrace,
  type Problem,
  splitWords,
} from "../../algorithms/tasks/mod.ts";

const problem: Problem = EXAMPLE_PROBLEM;
const analyse = (text: string) => analyseResponse(problem, splitWords(text));

Deno.test("a right first choice with clean execution", () => {
  assert.deepEqual(
    analyse(
      "let's multiply then subtract . 3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5 <eos>",
    ),
    {
      correct: true,
      firstStrategyCorrect: true,
      nBacktracks: 0,
      execSteps: 2,
      execCorrect: 2,
      parsed: true,
    },
  );
});

Deno.test("a wrong first choice recovered after a backtrack, with a slip", () => {
  assert.deepEqual(
    analyse(
      "the plan is to multiply then add . 3 * 8 = 24 . 24 + 5 = 28 . " +
        "but wait , let's backtrack . alternatively , multiply then subtract . " +
        "3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5",
    ),
    {
      correct: true,
      firstStrategyCorrect: false,
      nBacktracks: 1,
      execSteps: 4,
      execCorrect: 3,
      parsed: true,
    },
  );
});

Deno.test("right plan, bad arithmetic, then a wrong switch", () => {
  assert.deepEqual(
    analyse(
      "we can multiply then subtract . 3 * 8 = 24 . 24 - 5 = 18 . " +
        "that can't be right . let's reconsider : add then add . " +
        "3 + 8 = 11 . 11 + 5 = 16 . answer 3 + 8 + 5",
    ),
    {
      correct: false,
      firstStrategyCorrect: true,
      nBacktracks: 1,
      execSteps: 4,
      execCorrect: 3,
      parsed: true,
    },
  );
});

Deno.test("degenerate responses", () => {
  assert.deepEqual(analyse("3 * 8 = 24 . answer 3 * 8 -"), {
    correct: false,
    firstStrategyCorrect: null,
    nBacktracks: 0,
    execSteps: 1,
    execCorrect: 1,
    parsed: false,
  });
  // A strategy with the wrong number of operations cannot work.
  assert.equal(
    analyse("let's multiply . answer 3").firstStrategyCorrect,
    false,
  );
  assert.deepEqual(analyse(""), {
    correct: false,
    firstStrategyCorrect: null,
    nBacktracks: 0,
    execSteps: 0,
    execCorrect: 0,
    parsed: false,
  });
});

Deno.test("findFacts reads every a op b = c fact", () => {
  const facts = findFacts(splitWords("3 * 8 = 24 . 24 - 5 = 18 . 2 + = 4"));
  assert.deepEqual(facts, [
    { start: 0, correct: true },
    { start: 6, correct: false },
  ]);
});

Deno.test("analysis agrees with the generator's bookkeeping", () => {
  const rng = new Rng(2);
  for (const difficulty of [1, 2]) {
    for (
      const p of generateProblems({
        seed: 2,
        count: 200,
        split: "id",
        difficulty,
      })
    ) {
      const t = generateTrace(p, rng, {
        pFirstChoiceCorrect: 0.5,
        pExecError: 0.2,
        pSwitchCorrect: 0.6,
      });
      const a = analyseResponse(p, t.words.slice(t.promptLength));
      assert.equal(a.correct, t.correct);
      assert.equal(a.firstStrategyCorrect, t.firstStrategyCorrect);
      assert.equal(a.nBacktracks, t.nBacktracks);
      assert.equal(a.execSteps - a.execCorrect, t.execErrors);
      assert.ok(a.parsed);
    }
  }
});
